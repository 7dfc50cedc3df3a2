"""film after stills: the lifespan film is made after the job's stills, with its own state and progress

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('film_status', sa.Enum('pending', 'running', 'done', 'failed', name='filmstatus', native_enum=False, length=16), nullable=True))
        batch_op.add_column(sa.Column('film_progress', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('film_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('film_error', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_film_status'), ['film_status'], unique=False)
    # Jobs that asked for the film before: a finished one has it already (stills and film were made together);
    # one still waiting gets it after its stills, as new jobs do.
    jobs = sa.table('jobs', sa.column('id', sa.String), sa.column('status', sa.String), sa.column('options', sa.JSON),
                    sa.column('film_status', sa.String), sa.column('film_progress', sa.Float))
    connection = op.get_bind()
    rows = connection.execute(sa.select(jobs.c.id, jobs.c.status, jobs.c.options).where(jobs.c.options.is_not(None)))
    for job_id, status, options in list(rows):
        if not (options or {}).get('animate'):
            continue
        film = {'done': ('done', 1.0), 'failed': ('failed', 0.0)}.get(status, ('pending', 0.0))
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(film_status=film[0], film_progress=film[1])
        )


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_film_status'))
        batch_op.drop_column('film_error')
        batch_op.drop_column('film_attempts')
        batch_op.drop_column('film_progress')
        batch_op.drop_column('film_status')
