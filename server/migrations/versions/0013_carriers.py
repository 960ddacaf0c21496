"""carriers: per-carrier number counters of the local carrier adapter; warehouses get a postal
address (the sender on shipping labels)

Revision ID: 0013_carriers
Revises: 0012
Create Date: 2026-12-03 12:55:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013_carriers'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('carrier_counters',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('last_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_carrier_counters'))
    )
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=500), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_column('address')
    op.drop_table('carrier_counters')
