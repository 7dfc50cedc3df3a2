"""The embedded broker (kombu's SQLAlchemy transport over a SQLite file), made to wake the worker promptly.

kombu's virtual transports poll their queue, by default once a second: a photo that arrives just after a
poll waits up to a second before a worker sees it. The documented knob, the `polling_interval` transport
option, cannot be used with this transport: its channel hands every transport option to
`sqlalchemy.create_engine`, which refuses the unknown argument ("Invalid argument(s) 'polling_interval'
sent to create_engine()", kombu 5.x; see tests/worker/test_broker.py). So the interval is set on a subclass
of the transport instead, and `faceage+` URLs select it.

The transport never deletes a message: one handed to a worker is only marked `visible = False` (its `timestamp`
set to that moment, local time), so the file would grow by every job ever sent. `delete_consumed_messages`,
run by beat, removes those rows once they are older than any job may run.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqlalchemy

ALIAS = "faceage-sqla"
EMBEDDED_PREFIXES = ("sqla+", "sqlalchemy+")
POLLING_INTERVAL_S = 0.05  # an idle worker runs 20 small SELECTs a second on the SQLite file: cheap


class Channel(kombu_sqlalchemy.Channel):
    """kombu's channel, its one SQLAlchemy session used by one thread at a time.

    A worker uses its channel from two threads when a pool process dies: the consumer polls the queue while the
    pool's result handler puts the lost task back (reject with requeue). kombu's session is not thread-safe, and
    the two at once broke it ("IllegalStateChangeError: Method 'commit()' can't be called here"): the worker
    exited, and `faceage serve` had to start it again (tests/worker/test_broker_threads.py)."""

    def __init__(self, *args, **kwargs):
        self._session_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def _get(self, queue):
        with self._session_lock:
            return super()._get(queue)

    def _put(self, queue, payload, **kwargs):
        with self._session_lock:
            return super()._put(queue, payload, **kwargs)

    def _new_queue(self, queue, **kwargs):
        with self._session_lock:
            return super()._new_queue(queue, **kwargs)

    def _purge(self, queue):
        with self._session_lock:
            return super()._purge(queue)

    def _size(self, queue):
        with self._session_lock:
            return super()._size(queue)


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel
    polling_interval = POLLING_INTERVAL_S


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")


def prompt_broker_url(url: str) -> str:
    """The URL that selects the prompt transport for an embedded (SQLAlchemy) broker; others unchanged."""
    for prefix in EMBEDDED_PREFIXES:
        if url.startswith(prefix):
            return f"{ALIAS}+{url[len(prefix) :]}"
    return url


_MESSAGES = sa.table("kombu_message", sa.column("visible", sa.Boolean), sa.column("timestamp", sa.DateTime))


def embedded_database_url(broker_url: str) -> str | None:
    """The SQLAlchemy URL of an embedded broker's database; None for another broker (Redis...)."""
    for prefix in (*EMBEDDED_PREFIXES, f"{ALIAS}+"):
        if broker_url.startswith(prefix):
            return broker_url[len(prefix) :]
    return None


def delete_consumed_messages(broker_url: str, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete the embedded broker's messages handed out more than `older_than` ago; returns how many.

    A message handed out is never handed out again by this transport (`faceage serve` queues again the jobs of a
    worker that died, and the stalled-job sweep finds any other lost work), so its row only takes space. Other
    brokers delete what is acknowledged themselves: 0.
    """
    url = embedded_database_url(broker_url)
    if url is None:
        return 0
    engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    try:
        if not sa.inspect(engine).has_table("kombu_message"):
            return 0  # no message sent yet: kombu makes its tables on first use
        cutoff = (now or datetime.now()) - older_than  # naive local time, as kombu writes it
        with engine.begin() as connection:
            consumed = _MESSAGES.c.visible.is_(False) & (_MESSAGES.c.timestamp < cutoff)
            return connection.execute(sa.delete(_MESSAGES).where(consumed)).rowcount
    finally:
        engine.dispose()
