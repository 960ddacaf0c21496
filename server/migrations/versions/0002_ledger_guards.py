"""Ledger guards: one quant per (cell, SKU, lot, expiry), and an append-only movements table.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# Frozen copies of server.models.stock.IMMUTABLE_LEDGER_DDL as of this revision.
LEDGER_DDL = {
    "sqlite": [
        "CREATE TRIGGER movements_no_update BEFORE UPDATE ON movements "
        "BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END",
        "CREATE TRIGGER movements_no_delete BEFORE DELETE ON movements "
        "BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION movements_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'movements are immutable'; END $$",
        "CREATE TRIGGER movements_no_change BEFORE UPDATE OR DELETE ON movements "
        "FOR EACH ROW EXECUTE FUNCTION movements_immutable()",
    ],
}


def upgrade():
    op.execute("CREATE UNIQUE INDEX uq_quants_key ON quants (cell_id, sku_id, lot, coalesce(expiry, '9999-12-31'))")
    for statement in LEDGER_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER movements_no_change ON movements")
        op.execute("DROP FUNCTION movements_immutable()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER movements_no_update")
        op.execute("DROP TRIGGER movements_no_delete")
    op.execute("DROP INDEX uq_quants_key")
