"""`faceage batch`: age every photo of a folder through a Faceage server's API.

- Resumable: a state file in the output folder maps each photo's content hash to its job; running again
  skips what is done and picks up what was submitted but not collected (and the server recognises a photo it
  already has from the same key).
- The output tree mirrors the input tree: photos/trip/a.jpg -> OUT/trip/a/{photo-age-020.jpg, face-1/..., result.json}.
- Several photos are in flight at once; a progress bar counts finished photos; failures are summed up with
  their reasons at the end (and make the exit code 1).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from service.batches import clean_name

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp"}
STATE_FILE = ".faceage-batch.json"


@dataclass
class Outcome:
    path: str
    status: str  # done, failed, skipped
    message: str = ""


class BatchClient:
    def __init__(
        self,
        server: str,
        api_key: str,
        out: Path,
        ages: str | None = None,
        gender: str = "auto",
        poll_seconds: float = 1.0,
        timeout_seconds: float = 1800,
    ):
        self.server, self.out, self.ages, self.gender = server.rstrip("/"), out, ages, gender
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        # Connection trouble and 502/503/504 are retried with backoff; 4xx answers are final.
        retry = Retry(total=6, backoff_factor=0.5, status_forcelist=(502, 503, 504), allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
        self._state_lock = threading.Lock()
        self.state_path = out / STATE_FILE
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    def photos(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)

    def run(self, folder: Path, concurrency: int = 4, progress=None) -> list[Outcome]:
        self.out.mkdir(parents=True, exist_ok=True)
        photos = self.photos(folder)
        outcomes = []
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [pool.submit(self.age_one, folder, photo) for photo in photos]
            for future in as_completed(futures):
                outcomes.append(future.result())
                if progress:
                    progress(outcomes[-1])
        return sorted(outcomes, key=lambda o: o.path)

    def age_one(self, folder: Path, photo: Path) -> Outcome:
        relative = photo.relative_to(folder).as_posix()
        try:
            content = photo.read_bytes()
        except OSError as error:
            return Outcome(relative, "failed", f"cannot read the file: {error.strerror}")
        digest = hashlib.sha256(content).hexdigest()
        target = self.out / (clean_name(relative) or "photo").rsplit(".", 1)[0]
        known = self.state.get(digest, {})
        if known.get("status") == "done" and (target / "result.json").exists():
            return Outcome(relative, "skipped", "done in an earlier run")
        try:
            job_id = known.get("job") or self._submit(photo.name, content)
            self._remember(digest, {"path": relative, "job": job_id, "status": "submitted"})
            job = self._wait(job_id)
            if job["status"] == "failed":
                self._remember(digest, {"path": relative, "job": job_id, "status": "failed", "error": job["error"]})
                return Outcome(relative, "failed", job["error"]["message"])
            self._collect(job_id, target)
        except _Refused as refusal:
            self._remember(digest, {"path": relative, "status": "failed", "error": refusal.error})
            return Outcome(relative, "failed", refusal.error.get("message", "refused"))
        except requests.RequestException as error:
            return Outcome(relative, "failed", f"the server could not be reached: {error.__class__.__name__}")
        self._remember(digest, {"path": relative, "job": job_id, "status": "done"})
        return Outcome(relative, "done")

    def _submit(self, name: str, content: bytes) -> str:
        data = {"gender": self.gender, **({"ages": self.ages} if self.ages else {})}
        reply = self.session.post(
            f"{self.server}/api/v1/jobs", files={"photo": (name, content)}, data=data, timeout=120
        )
        if reply.status_code in (200, 202):
            return reply.json()["id"]
        raise _Refused(_error_of(reply))

    def _wait(self, job_id: str) -> dict:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            reply = self.session.get(f"{self.server}/api/v1/jobs/{job_id}", timeout=60)
            if reply.status_code != 200:
                raise _Refused(_error_of(reply))
            job = reply.json()
            if job["status"] in ("done", "failed"):
                return job
            if time.monotonic() > deadline:
                raise _Refused(
                    {"code": "timeout", "message": f"the job was not done after {self.timeout_seconds:.0f} s"}
                )
            time.sleep(self.poll_seconds)

    def _collect(self, job_id: str, target: Path) -> None:
        reply = self.session.get(f"{self.server}/api/v1/jobs/{job_id}/results.zip", timeout=300)
        if reply.status_code != 200:
            raise _Refused(_error_of(reply))
        with zipfile.ZipFile(io.BytesIO(reply.content)) as archive:
            for member in archive.infolist():
                name = clean_name(member.filename)
                if name is None:
                    continue
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(member))

    def _remember(self, digest: str, entry: dict) -> None:
        with self._state_lock:
            self.state[digest] = entry
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state, indent=2))
            tmp.replace(self.state_path)


class _Refused(Exception):
    def __init__(self, error: dict):
        super().__init__(error.get("message"))
        self.error = error


def _error_of(reply: requests.Response) -> dict:
    try:
        return reply.json()["error"]
    except (ValueError, KeyError, TypeError):
        return {"code": f"http_{reply.status_code}", "message": f"the server answered {reply.status_code}"}
