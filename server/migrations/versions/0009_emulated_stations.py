"""emulated stations: stations driven by emulators and a script (the demo's), kept out of people's
KPIs; putaway tasks remember the station and the input they were confirmed by (empty for tasks
done before)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("emulated", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("putaway_tasks") as batch:
        batch.add_column(sa.Column("done_station_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("done_event_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(op.f("fk_putaway_tasks_done_station_id_stations"), "stations",
                                 ["done_station_id"], ["id"])


def downgrade():
    with op.batch_alter_table("putaway_tasks") as batch:
        batch.drop_constraint(op.f("fk_putaway_tasks_done_station_id_stations"), type_="foreignkey")
        batch.drop_column("done_event_id")
        batch.drop_column("done_station_id")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("emulated")
