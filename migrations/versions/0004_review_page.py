"""the review page: reviewer accounts, a review version on each dataset image, decision groups and undo

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reviewers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_review_decisions_group'), ['group'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_group'))
        batch_op.drop_column('undone_at')
        batch_op.drop_column('group')
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.drop_column('review_version')
    op.drop_table('reviewers')
