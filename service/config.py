"""One configuration object for the web app, the workers and the CLI, read from the environment.

Every setting is a `FACEAGE_*` variable; unset ones take the embedded defaults, which need no server: SQLite
and a broker kept in a SQLite file (kombu's SQLAlchemy transport) under `FACEAGE_DATA_DIR`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from aging_model.renderers import DEFAULT_RENDERER, RENDERER_NAMES

_PREFIX = "FACEAGE_"


@dataclass(frozen=True)
class Settings:
    data_dir: str = "faceage-data"  # embedded database and broker live here
    database_url: str = ""  # default: sqlite:///{data_dir}/faceage.sqlite
    broker_url: str = ""  # default: sqla+sqlite:///{data_dir}/broker.sqlite
    model_path: str = ""  # default: the shipped model
    estimator_path: str = ""  # default: the shipped estimator
    renderer: str = DEFAULT_RENDERER  # how aged faces are made: one of aging_model.renderers.RENDERER_NAMES
    device: str = "auto"
    max_upload_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 120_000_000  # a photo's declared size
    max_decoded_pixels: int = 50_000_000  # decoded at once (JPEGs decode at a reduced scale, other formats whole)
    max_concurrent_decodes: int = 2  # uploads decoded at the same time by one web process
    max_batch_files: int = 500
    max_batch_bytes: int = 1024 * 1024 * 1024  # a whole batch request, or a zip's unpacked size
    max_faces: int = 10
    jobs_per_model_call: int = 0  # queued jobs a worker ages together; 0: 8 on a GPU, 1 on a CPU
    rate_limit: str = "60/minute"  # new jobs and batches per API key (per address without a key)
    # Faces the explorer renders per key or address, all its routes together (sample?n=32 counts 32): at least 32
    explore_rate_limit: str = "600/minute"
    rate_limit_storage: str = ""  # default: the broker's Redis when it is Redis, else this process's memory
    retention_hours: float = 24.0  # uploads and results are deleted this long after the job was created
    task_time_limit_s: int = 600
    worker_heartbeat_s: float = 10.0  # how often workers report that they are alive (/healthz, `faceage serve`)
    requeue_queued_after_s: int = 600  # a job queued this long without a worker starting it is sent again
    default_ages: tuple[float, ...] = field(default=(5.0, 20.0, 40.0, 60.0, 80.0))
    # Signs the review page's session cookie. Default: one generated on first use and kept in
    # {data_dir}/secret_key, which every web process of one machine shares; set it where several hosts serve.
    secret_key: str = field(default="", repr=False)
    # The review page's session cookie is marked Secure whenever the request came over HTTPS; set this where a
    # proxy ends TLS in front of the app (the app then sees plain HTTP) to mark it Secure always.
    secure_cookies: bool = False

    def __post_init__(self):
        if self.renderer not in RENDERER_NAMES:
            raise ValueError(f"{_PREFIX}RENDERER must be one of {', '.join(RENDERER_NAMES)}, not {self.renderer!r}")
        data = Path(self.data_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{(data / 'faceage.sqlite').resolve()}")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", f"sqla+sqlite:///{(data / 'broker.sqlite').resolve()}")
        if not self.rate_limit_storage:
            redis = self.broker_url.startswith(("redis://", "rediss://"))
            object.__setattr__(self, "rate_limit_storage", self.broker_url if redis else "memory://")

    @property
    def embedded(self) -> bool:
        """True when the database is SQLite (one machine, no servers)."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Settings from `FACEAGE_*` variables (e.g. FACEAGE_DATABASE_URL), then `overrides`."""
        environ = os.environ if environ is None else environ
        values = {}
        for spec in fields(cls):
            raw = environ.get(_PREFIX + spec.name.upper())
            if raw is None or raw == "":
                continue
            values[spec.name] = _parse(raw, spec.type, spec.name)
        values.update(overrides)
        return cls(**values)

    def documented(self) -> dict[str, str]:
        return {_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


def _parse(raw: str, kind, name: str):
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            return {
                "1": True,
                "true": True,
                "yes": True,
                "on": True,
                "0": False,
                "false": False,
                "no": False,
                "off": False,
            }[raw.strip().lower()]
        if "tuple" in str(kind):
            return tuple(float(part) for part in raw.split(",") if part.strip())
    except (ValueError, KeyError):
        raise ValueError(f"{_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
