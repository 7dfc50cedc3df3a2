"""dataset curation: the training set's images, their flags, and the curator's review decisions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:44:54.072049
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dataset_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('copies', sa.JSON(), nullable=False),
    sa.Column('age', sa.Integer(), nullable=True),
    sa.Column('gender', sa.Integer(), nullable=True),
    sa.Column('race', sa.Integer(), nullable=True),
    sa.Column('label_source', sa.String(length=16), nullable=True),
    sa.Column('malformed_reason', sa.Text(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'accepted', 'rejected', name='datasetimagestatus', native_enum=False, length=16), nullable=False),
    sa.Column('corrected_age', sa.Integer(), nullable=True),
    sa.Column('corrected_gender', sa.Integer(), nullable=True),
    sa.Column('perceptual_hash', sa.String(length=64), nullable=True),
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.Column('measures', sa.JSON(), nullable=True),
    sa.Column('analysed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspicion', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_images_analysed_at'), ['analysed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_images_sha256'), ['sha256'], unique=True)
        batch_op.create_index(batch_op.f('ix_dataset_images_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_images_suspicion'), ['suspicion'], unique=False)

    op.create_table('dataset_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['dataset_images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'name', name='uq_dataset_flags_image_name')
    )
    with op.batch_alter_table('dataset_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_flags_image_id'), ['image_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_flags_name'), ['name'], unique=False)

    op.create_table('review_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['dataset_images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decisions_image_id'), ['image_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_image_id'))

    op.drop_table('review_decisions')
    with op.batch_alter_table('dataset_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_flags_name'))
        batch_op.drop_index(batch_op.f('ix_dataset_flags_image_id'))

    op.drop_table('dataset_flags')
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_images_suspicion'))
        batch_op.drop_index(batch_op.f('ix_dataset_images_status'))
        batch_op.drop_index(batch_op.f('ix_dataset_images_sha256'))
        batch_op.drop_index(batch_op.f('ix_dataset_images_analysed_at'))

    op.drop_table('dataset_images')
