"""The embedded broker (kombu's SQLAlchemy transport over a SQLite file), made to wake the worker promptly.

kombu's virtual transports poll their queue, by default once a second: a photo that arrives just after a
poll waits up to a second before a worker sees it. The documented knob, the `polling_interval` transport
option, cannot be used with this transport: its channel hands every transport option to
`sqlalchemy.create_engine`, which refuses the unknown argument ("Invalid argument(s) 'polling_interval'
sent to create_engine()", kombu 5.x; see tests/worker/test_broker.py). So the interval is set on a subclass
of the transport instead, and `faceage+` URLs select it.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqlalchemy

ALIAS = "faceage-sqla"
EMBEDDED_PREFIXES = ("sqla+", "sqlalchemy+")
POLLING_INTERVAL_S = 0.05  # an idle worker runs 20 small SELECTs a second on the SQLite file: cheap


class Transport(kombu_sqlalchemy.Transport):
    polling_interval = POLLING_INTERVAL_S


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")


def prompt_broker_url(url: str) -> str:
    """The URL that selects the prompt transport for an embedded (SQLAlchemy) broker; others unchanged."""
    for prefix in EMBEDDED_PREFIXES:
        if url.startswith(prefix):
            return f"{ALIAS}+{url[len(prefix) :]}"
    return url
