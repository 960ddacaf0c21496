"""picking: the count list (cells a picker found short or empty); cells get an index of their
place in the walking geometry

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('count_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_count_requests_batch_id_batches')),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_count_requests_cell_id_cells')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_count_requests_sku_id_skus')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_count_requests_user_id_users')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_count_requests_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_count_requests'))
    )
    with op.batch_alter_table('count_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_count_requests_cell_id'), ['cell_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_count_requests_warehouse_id'), ['warehouse_id'], unique=False)
    with op.batch_alter_table('cells', schema=None) as batch_op:
        batch_op.create_index('ix_cells_place', ['warehouse_id', 'aisle', 'block', 'slot'], unique=False)


def downgrade():
    with op.batch_alter_table('cells', schema=None) as batch_op:
        batch_op.drop_index('ix_cells_place')
    with op.batch_alter_table('count_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_count_requests_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_count_requests_cell_id'))
    op.drop_table('count_requests')
