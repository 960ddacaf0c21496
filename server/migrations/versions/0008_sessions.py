"""sessions: a per-user session version, bumped at sign-out so earlier session cookies stop working;
stream leases: each user's open live streams, counted by every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "stream_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_stream_leases_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_leases")),
    )
    op.create_index("ix_stream_leases_user_id_expires_at", "stream_leases", ["user_id", "expires_at"], unique=False)


def downgrade():
    op.drop_index("ix_stream_leases_user_id_expires_at", table_name="stream_leases")
    op.drop_table("stream_leases")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
