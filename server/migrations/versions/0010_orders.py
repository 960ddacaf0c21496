"""orders: the order card (contact, carrier, cutoff, why it waits), order lines, reservations,
order events, order sources (signed intake), webhook subscriptions and their delivery outbox,
waves, batches, their orders and pick lines; totes carry an order; warehouses get a reservation
rule and a cart's capacity

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:12:10

"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('order_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('needs_confirmation', sa.Boolean(), nullable=False),
    sa.Column('partial_allowed', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_order_sources_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_sources')),
    sa.UniqueConstraint('code', name=op.f('uq_order_sources_code'))
    )
    op.create_table('waves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('released_by_user_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('totes_per_cart', sa.Integer(), nullable=False),
    sa.Column('tote_volume_l', sa.Double(), nullable=False),
    sa.Column('tote_max_kg', sa.Double(), nullable=False),
    sa.Column('planned_walk_m', sa.Double(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['released_by_user_id'], ['users.id'], name=op.f('fk_waves_released_by_user_id_users')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_waves_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waves'))
    )
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waves_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_webhook_subscriptions_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_events_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_order_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_events_order_id'), ['order_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('picked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_order_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'line_no', name='uq_order_lines_order_line_no')
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_lines_sku_id'), ['sku_id'], unique=False)

    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('picker_user_id', sa.Integer(), nullable=True),
    sa.Column('cart', sa.String(length=64), nullable=False),
    sa.Column('planned_walk_m', sa.Double(), nullable=False),
    sa.Column('walked_m', sa.Double(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('picked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dropped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('drop_cell_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drop_cell_id'], ['cells.id'], name=op.f('fk_batches_drop_cell_id_cells')),
    sa.ForeignKeyConstraint(['picker_user_id'], ['users.id'], name=op.f('fk_batches_picker_user_id_users')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_batches_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_batches_wave_id_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batches_warehouse_id'), ['warehouse_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batches_wave_id'), ['wave_id'], unique=False)

    op.create_table('order_reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('lot', sa.String(length=64), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('picked', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_order_reservations_cell_id_cells')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_reservations_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_order_reservations_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_order_reservations_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_reservations'))
    )
    with op.batch_alter_table('order_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_reservations_cell_id'), ['cell_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_reservations_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_reservations_order_line_id'), ['order_line_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('order_event_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_event_id'], ['order_events.id'], name=op.f('fk_webhook_deliveries_order_event_id_order_events'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('batch_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('tote_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_orders_batch_id_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_batch_orders_order_id_orders')),
    sa.ForeignKeyConstraint(['tote_id'], ['totes.id'], name=op.f('fk_batch_orders_tote_id_totes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_orders')),
    sa.UniqueConstraint('batch_id', 'slot', name='uq_batch_orders_batch_slot')
    )
    with op.batch_alter_table('batch_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_orders_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_orders_order_id'), ['order_id'], unique=False)

    op.create_table('pick_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('lot', sa.String(length=64), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('picked', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('picker_user_id', sa.Integer(), nullable=True),
    sa.Column('picked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_pick_lines_batch_id_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cell_id'], ['cells.id'], name=op.f('fk_pick_lines_cell_id_cells')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pick_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_pick_lines_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['picker_user_id'], ['users.id'], name=op.f('fk_pick_lines_picker_user_id_users')),
    sa.ForeignKeyConstraint(['reservation_id'], ['order_reservations.id'], name=op.f('fk_pick_lines_reservation_id_order_reservations')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_pick_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pick_lines'))
    )
    with op.batch_alter_table('pick_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pick_lines_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pick_lines_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_phone', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('delivery_address', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('carrier', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('carrier_service', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('cutoff_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cod_amount', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('comment', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=False, server_default='api'))
        batch_op.add_column(sa.Column('needs_confirmation', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('partial_allowed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('postponed_reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('created_by_user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_carrier'), ['carrier'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_cutoff_at'), ['cutoff_at'], unique=False)
        batch_op.create_index('ix_orders_status_retry', ['status', 'retry_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_created_by_user_id_users'), 'users', ['created_by_user_id'], ['id'])

    with op.batch_alter_table('totes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cell_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_totes_order_id'), ['order_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_totes_order_id_orders'), 'orders', ['order_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_totes_cell_id_cells'), 'cells', ['cell_id'], ['id'])

    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reservation_rule', sa.String(length=8), nullable=False, server_default='fefo'))
        batch_op.add_column(sa.Column('totes_per_cart', sa.Integer(), nullable=False, server_default='8'))
        batch_op.add_column(sa.Column('tote_volume_l', sa.Double(), nullable=False, server_default='40'))
        batch_op.add_column(sa.Column('tote_max_kg', sa.Double(), nullable=False, server_default='15'))



def downgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_column('tote_max_kg')
        batch_op.drop_column('tote_volume_l')
        batch_op.drop_column('totes_per_cart')
        batch_op.drop_column('reservation_rule')

    with op.batch_alter_table('totes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_totes_cell_id_cells'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_totes_order_id_orders'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_totes_order_id'))
        batch_op.drop_column('cell_id')
        batch_op.drop_column('order_id')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_created_by_user_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_orders_status_retry')
        batch_op.drop_index(batch_op.f('ix_orders_cutoff_at'))
        batch_op.drop_index(batch_op.f('ix_orders_carrier'))
        batch_op.drop_column('created_by_user_id')
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('postponed_reason')
        batch_op.drop_column('partial_allowed')
        batch_op.drop_column('needs_confirmation')
        batch_op.drop_column('source')
        batch_op.drop_column('comment')
        batch_op.drop_column('cod_amount')
        batch_op.drop_column('cutoff_at')
        batch_op.drop_column('priority')
        batch_op.drop_column('carrier_service')
        batch_op.drop_column('carrier')
        batch_op.drop_column('delivery_address')
        batch_op.drop_column('customer_phone')

    with op.batch_alter_table('pick_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pick_lines_order_id'))
        batch_op.drop_index(batch_op.f('ix_pick_lines_batch_id'))

    op.drop_table('pick_lines')
    with op.batch_alter_table('batch_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_orders_order_id'))
        batch_op.drop_index(batch_op.f('ix_batch_orders_batch_id'))

    op.drop_table('batch_orders')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_subscription_id'))
        batch_op.drop_index('ix_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('order_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_reservations_order_line_id'))
        batch_op.drop_index(batch_op.f('ix_order_reservations_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_reservations_cell_id'))

    op.drop_table('order_reservations')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batches_wave_id'))
        batch_op.drop_index(batch_op.f('ix_batches_warehouse_id'))

    op.drop_table('batches')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_sku_id'))
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_events_order_id'))

    op.drop_table('order_events')
    op.drop_table('webhook_subscriptions')
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waves_warehouse_id'))

    op.drop_table('waves')
    op.drop_table('order_sources')
