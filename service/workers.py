"""Which workers are alive and ready, from the heartbeats they write, and the service's health from that.

The web app and the workers share only the database and the broker, so the database is where a worker says
it is there: `faceage serve` waits on it before it gives its address, and /healthz reports it. Knows nothing
of Flask or Celery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from service import jobs
from service.database import Database
from service.models import Job, JobStatus, WorkerHeartbeat, utcnow

# A worker that missed this many heartbeats in a row is taken for dead.
MISSED_HEARTBEATS = 3


def beat(db: Database, name: str, ready: bool = False) -> None:
    """Record that the worker `name` is alive now (and, with `ready`, that a process of it can age photos)."""
    for _attempt in range(2):  # a pool process and the main process may create the row at the same moment
        try:
            with db.session() as session:
                row = session.get(WorkerHeartbeat, name)
                now = utcnow()
                if row is None:
                    row = WorkerHeartbeat(name=name, started_at=now)
                    session.add(row)
                row.seen_at = now
                if ready:
                    row.ready_at = now
            return
        except IntegrityError:
            continue


def forget(db: Database, name: str) -> None:
    """A worker that stops cleanly takes itself off the list at once."""
    with db.session() as session:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == name))


def requeue_orphans(db: Database, heartbeat_s: float, now: datetime | None = None) -> list[str]:
    """Hand back to the queue every running job whose worker has missed MISSED_HEARTBEATS beats (killed outright:
    its heartbeat went stale) or is gone from the list; returns their ids, for the caller to send again.

    With Redis a killed worker's message comes back only after the visibility timeout (longer than any job may
    run), so without this its job would wait that long. Jobs of workers heard from recently are left alone, and
    rows another worker is handing back at the same moment are skipped (PostgreSQL), so a job goes back once."""
    now = now or datetime.now(UTC)
    fresh_after = now - timedelta(seconds=heartbeat_s * MISSED_HEARTBEATS)
    alive = select(WorkerHeartbeat.name).where(WorkerHeartbeat.seen_at >= fresh_after)
    with db.session() as session:
        query = (
            select(Job)
            .where(Job.status == JobStatus.running, Job.worker.is_not(None), Job.worker.not_in(alive))
            .with_for_update(skip_locked=True)
        )
        orphans = list(session.scalars(query))
        for job in orphans:
            jobs.hand_back(job)
        return [job.id for job in orphans]


def ready_since(db: Database, moment: datetime) -> bool:
    """Whether a worker has loaded its models after `moment` (a worker started then is ready)."""
    with db.session() as session:
        latest = session.scalar(select(func.max(WorkerHeartbeat.ready_at)))
    return latest is not None and _aware(latest) >= moment


@dataclass(frozen=True)
class Health:
    status: str  # ok, starting (workers alive, none has loaded its models yet), no_worker, database_unreachable
    workers_alive: int = 0
    workers_ready: int = 0
    last_heartbeat_s: float | None = None  # seconds since any worker was last heard from
    queued_jobs: int = 0
    oldest_queued_s: float | None = None  # how long the longest-waiting queued job has waited

    @property
    def healthy(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        return asdict(self)


def health(db: Database, heartbeat_s: float, now: datetime | None = None) -> Health:
    """The service as a load balancer or an operator should see it: healthy only when the database answers
    and at least one worker with its models loaded has been heard from within MISSED_HEARTBEATS beats."""
    now = now or datetime.now(UTC)
    fresh_after = now - timedelta(seconds=heartbeat_s * MISSED_HEARTBEATS)
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
            beats = list(session.scalars(select(WorkerHeartbeat)))
            queued, oldest = session.execute(
                select(func.count(Job.id), func.min(Job.created_at)).where(Job.status == JobStatus.queued)
            ).one()
    except SQLAlchemyError:
        return Health(status="database_unreachable")
    alive = [b for b in beats if _aware(b.seen_at) >= fresh_after]
    ready = [b for b in alive if b.ready_at is not None]
    last = max((_aware(b.seen_at) for b in beats), default=None)
    status = "ok" if ready else "starting" if alive else "no_worker"
    return Health(
        status=status,
        workers_alive=len(alive),
        workers_ready=len(ready),
        last_heartbeat_s=_seconds(now, last),
        queued_jobs=queued,
        oldest_queued_s=_seconds(now, oldest),
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else round(max(0.0, (now - _aware(moment)).total_seconds()), 1)
