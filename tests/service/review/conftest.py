"""Fixtures of the review tests: a dataset imported with known flags, the app, a signed-in reviewer, the app on
a real port for the browser, and the stored features "more like this" reads."""

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from review_support import BLURRED, CLEAN, DARK, FLAGS, GRAY, HOSTILE_NAME, MIRRORED, _jpeg, _signed_in
from sqlalchemy import select

from service import dataset
from service.app import create_app
from service.config import Settings
from service.database import Database
from service.models import DatasetImage


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut) -> Path:
    """Six dataset images made from the astronaut, named like UTKFace chips (age_gender_race_date)."""
    chip = np.ascontiguousarray(astronaut[25:225, 122:322])
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    root = tmp_path_factory.mktemp("review-dataset")
    for name, pixels in {
        CLEAN: chip,
        MIRRORED: chip[:, ::-1],
        BLURRED: cv2.GaussianBlur(chip, (0, 0), 3),
        DARK: (chip * 0.4).astype(np.uint8),
        GRAY: np.repeat(gray[..., None], 3, axis=2),
        HOSTILE_NAME: cv2.resize(chip, (180, 180)),
    }.items():
        (root / name).write_bytes(_jpeg(pixels))
    return root


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), rate_limit="1000/minute")


@pytest.fixture
def database(settings, folder, fresh_database) -> Database:
    """A fresh database holding the folder's images, imported as `faceage dataset import` does, and flagged."""
    db = fresh_database(settings.database_url)
    dataset.import_files(db, dataset.dataset_files(folder))
    with db.session() as session:
        for image in session.scalars(select(DatasetImage)):
            dataset.replace_flags(session, image, FLAGS.get(Path(image.source_path).name, []), [])
    yield db
    db.dispose()


@pytest.fixture
def app(settings, database):
    return create_app(settings, enqueue=lambda job_id: None)


@pytest.fixture
def ids(database) -> dict[str, int]:
    with database.session() as session:
        return {Path(i.source_path).name: i.id for i in session.scalars(select(DatasetImage))}


@pytest.fixture
def reviewer(app, database):
    """A signed-in reviewer's client: (name, test client)."""
    return _signed_in(app, database, "ada")


@pytest.fixture
def live_review(app):
    """The app on a real port, in a thread of the test process."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def features(database, folder, ids):
    """The features the per-image pass would store: perceptual hashes of every image's pixels, and embeddings in
    which the hostile name's picture (a smaller copy) and CLEAN are one person; BLURRED has no face embedding."""
    from curation.images import perceptual_hash

    rng = np.random.default_rng(0)
    strangers = {name: rng.normal(0, 0.04, 128).astype(np.float32) for name in ids}
    strangers[CLEAN] = strangers[HOSTILE_NAME] + 0.002
    with database.session() as session:
        for name, image_id in ids.items():
            image = session.get(DatasetImage, image_id)
            image.perceptual_hash = perceptual_hash(np.asarray(Image.open(folder / name).convert("RGB")))
            image.embedding = None if name == BLURRED else strangers[name].tobytes()
    return ids
