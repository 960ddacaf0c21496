"""flow states: each flow's typed state per (session, flow), instead of one state per session

Open sessions' old free-form states are not carried over: a worker scans the delivery or task
again (counts and tasks are rows of their own and stay).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "flow_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_key", sa.String(length=40), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_states")),
        sa.UniqueConstraint("session_key", "flow", name="uq_flow_states_session_flow"),
    )
    for table in ("station_sessions", "handheld_sessions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("state")
            batch_op.drop_column("scenario")


def downgrade():
    for table in ("station_sessions", "handheld_sessions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("scenario", sa.String(length=32), nullable=False, server_default=""))
            batch_op.add_column(sa.Column("state", sa.JSON(), nullable=False, server_default="{}"))
    op.drop_table("flow_states")
