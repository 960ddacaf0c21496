"""sku_images: one checked picture per SKU (JPEG, PNG or WebP under MEDIA_DIR/skus)

Revision ID: 0014_sku_images
Revises: 0013_carriers
Create Date: 2026-12-03 14:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_sku_images'
down_revision = '0013_carriers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sku_images',
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=120), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size > 0 AND width > 0 AND height > 0', name=op.f('ck_sku_images_image_nonempty')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_sku_images_sku_id_skus'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_sku_images_uploaded_by_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('sku_id', name=op.f('pk_sku_images'))
    )
    with op.batch_alter_table('sku_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sku_images_sha256'), ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('sku_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sku_images_sha256'))
    op.drop_table('sku_images')
