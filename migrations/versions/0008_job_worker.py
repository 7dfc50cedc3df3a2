"""jobs.worker: the worker (its heartbeat's name) whose process runs a job, so that the jobs of a worker killed
outright can be handed to the others once its heartbeat is gone, without touching those of workers alive

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('worker')
