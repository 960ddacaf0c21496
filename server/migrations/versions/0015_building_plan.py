"""building plan: a warehouse's compiled walkable graph (halls, corridors, points) with where
pickers start and drop; zones and waves may name their own start and drop points

Revision ID: 0015_building_plan
Revises: 0014_sku_images
Create Date: 2026-12-04 19:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015_building_plan'
down_revision = '0014_sku_images'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('warehouses') as batch:
        batch.add_column(sa.Column('plan_json', sa.Text(), nullable=True))
        batch.add_column(sa.Column('plan_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('point_names', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('start_point', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('drop_point', sa.String(length=32), nullable=True))
    for table in ('zones', 'waves'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('start_point', sa.String(length=32), nullable=True))
            batch.add_column(sa.Column('drop_point', sa.String(length=32), nullable=True))


def downgrade():
    for table in ('waves', 'zones'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('drop_point')
            batch.drop_column('start_point')
    with op.batch_alter_table('warehouses') as batch:
        for column in ('drop_point', 'start_point', 'point_names', 'plan_hash', 'plan_json'):
            batch.drop_column(column)
