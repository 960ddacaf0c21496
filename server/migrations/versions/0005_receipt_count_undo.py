"""receipt counts: cancels_count_id (an undo names the count it cancels, once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("receipt_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancels_count_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_receipt_counts_cancels_count_id"), ["cancels_count_id"])
        batch_op.create_foreign_key(batch_op.f("fk_receipt_counts_cancels_count_id_receipt_counts"), "receipt_counts",
                                    ["cancels_count_id"], ["id"], ondelete="CASCADE")


def downgrade():
    with op.batch_alter_table("receipt_counts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_receipt_counts_cancels_count_id_receipt_counts"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_receipt_counts_cancels_count_id"), type_="unique")
        batch_op.drop_column("cancels_count_id")
