"""The explorer's API: faces by URL, byte for byte; best of N; photos as codes; bad input answered in JSON."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from aging_model.explore.latent import sample_codes
from service.app import create_app
from service.config import Settings

CODE = sample_codes(1, seed=21)[0]


def _client(tmp_path, rate_limit="1000/minute"):
    settings = Settings(data_dir=str(tmp_path), explore_rate_limit=rate_limit)
    return create_app(settings, enqueue=lambda job_id: None).test_client()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return _client(tmp_path_factory.mktemp("explore"))


def test_the_same_face_url_gives_the_same_png_bytes_in_one_app_and_in_another(client, tmp_path):
    url = f"/api/v1/explore/face.png?code={CODE}&age=40&gender=female"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert Image.open(io.BytesIO(first.data)).size == (256, 256)
    assert client.get(url).data == first.data
    assert _client(tmp_path).get(url).data == first.data
    assert client.get(url.replace("age=40", "age=70")).data != first.data


def test_another_web_process_answers_the_same_bytes(client, tmp_path):
    import hashlib

    url = f"/api/v1/explore/face.png?code={CODE}&age=63.5&gender=male"
    probe = (
        "import hashlib; from service.app import create_app; from service.config import Settings; "
        f"client = create_app(Settings(data_dir={str(tmp_path)!r}), enqueue=lambda job_id: None).test_client(); "
        f"print(hashlib.sha256(client.get({url!r}).data).hexdigest())"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == hashlib.sha256(client.get(url).data).hexdigest()


def test_a_face_can_be_revalidated_by_its_etag(client):
    url = f"/api/v1/explore/face.png?code={CODE}&age=25&gender=male"
    first = client.get(url)
    assert "max-age" in first.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "bad_code"),
        ("code=", "bad_code"),
        (f"code={CODE[:-1]}", "bad_code"),
        (f"code={CODE}0", "bad_code"),
        (f"code={CODE[:-1]}g", "bad_code"),
        (f"code={CODE}&age=-1", "bad_age"),
        (f"code={CODE}&age=100.5", "bad_age"),
        (f"code={CODE}&age=forty", "bad_age"),
        (f"code={CODE}&age=nan", "bad_age"),
        (f"code={CODE}&age=inf", "bad_age"),
        (f"code={CODE}&age=", "bad_age"),
        (f"code={CODE}&gender=auto", "bad_gender"),
        (f"code={CODE}&gender=Female", "bad_gender"),
        (f"code={CODE}&gender=", "bad_gender"),
    ],
)
def test_a_bad_code_age_or_gender_is_a_400_with_its_error_code(client, query, error):
    reply = client.get(f"/api/v1/explore/face.png?{query}")
    assert reply.status_code == 400
    assert reply.get_json()["error"]["code"] == error and reply.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("n=0", "bad_n"),
        ("n=33", "bad_n"),
        ("n=-1", "bad_n"),
        ("n=2.5", "bad_n"),
        ("n=eight", "bad_n"),
        ("n=2&age=101", "bad_age"),
        ("n=2&gender=x", "bad_gender"),
        ("n=2&seed=-3", "bad_seed"),
        ("n=2&seed=4294967296", "bad_seed"),
        ("n=2&seed=abc", "bad_seed"),
    ],
)
def test_a_bad_sample_request_is_a_400_with_its_error_code(client, query, error):
    reply = client.get(f"/api/v1/explore/sample?{query}")
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == error


@pytest.mark.parametrize("count", [1, 32])
def test_best_of_n_takes_1_to_32_faces(client, count):
    faces = client.get(f"/api/v1/explore/sample?n={count}&age=50&gender=male&seed=1").get_json()["faces"]
    assert len(faces) == count


def test_best_of_n_answers_the_faces_best_first_and_a_seed_draws_them_again(client):
    reply = client.get("/api/v1/explore/sample?n=8&age=40&gender=female&seed=12")
    assert reply.status_code == 200
    body = reply.get_json()
    scores = [face["score"] for face in body["faces"]]
    assert body["seed"] == 12 and len(scores) == 8 and scores == sorted(scores, reverse=True)
    assert sorted(face["code"] for face in body["faces"]) == sorted(sample_codes(8, seed=12))
    assert client.get("/api/v1/explore/sample?n=8&age=40&gender=female&seed=12").get_json() == body
    best = body["faces"][0]
    assert best["thumbnail"].startswith("data:image/png;base64,")
    assert client.get(best["url"]).status_code == 200
    assert client.get("/api/v1/explore/sample?n=2").get_json()["seed"] != body["seed"]  # random without a seed


def test_directions_are_named_and_steering_moves_the_code_along_one(client):
    named = client.get(f"/api/v1/explore/directions?code={CODE}").get_json()
    assert named["code"] == CODE and len(named["directions"]) == 8
    assert {"name", "lower", "higher", "score", "index"} <= set(named["directions"][0])
    steered = client.get(f"/api/v1/explore/steer?code={CODE}&direction=1&score=1.5").get_json()
    assert steered["code"] != CODE and steered["directions"][1]["score"] == pytest.approx(1.5, abs=0.15)
    for query, error in (("direction=8&score=1", "bad_direction"), ("direction=1&score=9", "bad_score")):
        reply = client.get(f"/api/v1/explore/steer?code={CODE}&{query}")
        assert reply.status_code == 400 and reply.get_json()["error"]["code"] == error


def test_every_direction_has_a_name_that_says_what_it_changes_and_how_sure_that_is(client):
    """No slider is called a bare "direction 3": one no measure names is "unnamed direction 3 (weakly like head
    turn)", after the measure it goes with most in the correlations stored with the basis."""
    from aging_model.explore.directions import MIN_CORRELATION, load_directions

    shipped = load_directions()
    directions = client.get(f"/api/v1/explore/directions?code={CODE}").get_json()["directions"]
    for d, stored in zip(directions, shipped.directions):
        assert not d["name"].startswith("direction") and "direction" not in d["lower"] + d["higher"]
        assert d["about"] and d["lower"] != d["higher"]
        if stored.measure is not None:
            assert d["named"] and d["name"] == stored.name and d["correlation"] >= MIN_CORRELATION
        else:
            r = shipped.card["correlations"][d["named_after"]][d["index"]]
            assert not d["named"] and d["name"].startswith(f"unnamed direction {d['index'] + 1} (weakly like ")
            assert d["correlation"] == pytest.approx(abs(r), abs=1e-3) and d["correlation"] < MIN_CORRELATION
            assert d["lower"].endswith(", weakly") and d["higher"].endswith(", weakly")
    assert [d["named"] for d in directions].count(False) == sum(d.measure is None for d in shipped.directions)


def test_an_unnamed_directions_ends_follow_the_sign_of_its_correlation_and_none_is_made_up():
    from aging_model.explore.directions import Direction
    from service.explore import describe_direction

    unnamed = Direction("direction 2", "direction 2 -", "direction 2 +", 0.7, 0.03)
    described = describe_direction(1, unnamed, {"yaw": [0.5, -0.26], "face_width": [0.1, 0.2], "other": [0, 0.9]})
    assert described["name"] == "unnamed direction 2 (weakly like head turn)"
    assert (described["lower"], described["higher"]) == ("nose to image right, weakly", "nose to image left, weakly")
    assert described["named_after"] == "yaw" and described["correlation"] == 0.26
    assert "face width (r = 0.2)" in described["about"]
    for correlations in ({}, {"yaw": [0.0, 0.1]}):
        nothing = describe_direction(1, unnamed, correlations)
        assert nothing["name"] == "unnamed direction 2 (goes with nothing measured)"
        assert nothing["named_after"] is None and nothing["correlation"] is None


def test_an_uploaded_photo_comes_back_as_its_faces_code(client, astronaut_jpeg):
    from aging_model.explore.explorer import FaceExplorer
    from preprocessing.alignment import align_face
    from preprocessing.loading import load_photo
    from service.jobs import normalise_photo

    reply = client.post("/api/v1/explore/codes", data={"photo": (io.BytesIO(astronaut_jpeg), "me.jpg")})
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert len(body["code"]) == 50 and body["gender"] == "female" and 20 < body["age"] < 60
    # Its rendering is close to the encoder's own reconstruction of the face (the code only rounds it), from the
    # photo as the service keeps it while it reads it (decoded within the upload limits, re-encoded).
    explorer = FaceExplorer.load()
    photo = load_photo(normalise_photo(astronaut_jpeg, Settings(data_dir=".")).content).pixels
    aligned = align_face(photo, explorer.photo_detector.detect(photo)[0].landmarks, 64).pixels
    reconstruction = explorer.model.age_faces(aligned[None], [body["age"]], [1.0])[0, 0].astype(int)
    assert np.abs(explorer.render(body["code"], body["age"], "female").astype(int) - reconstruction).mean() < 5
    assert client.get(body["url"]).status_code == 200


def test_uploads_without_a_usable_face_are_refused_in_json(client):
    wall = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 100, np.uint8)).save(wall, "PNG")
    cases = [
        ({"photo": (io.BytesIO(wall.getvalue()), "wall.png")}, "no_face"),
        ({"photo": (io.BytesIO(b"these are notes"), "notes.jpg")}, "not_an_image"),
        ({}, "missing_photo"),
    ]
    for data, error in cases:
        reply = client.post("/api/v1/explore/codes", data=data)
        assert reply.status_code == 400 and reply.get_json()["error"]["code"] == error


def test_the_explorer_needs_no_api_key_and_its_limit_counts_faces_across_its_routes(tmp_path):
    limited = _client(tmp_path, rate_limit="10/minute")
    assert limited.get("/api/v1/explore/sample?n=6&seed=0").status_code == 200  # 6 faces of 10
    face = f"/api/v1/explore/face.png?code={CODE}&age=30&gender=male"
    assert [limited.get(face).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    refused = limited.get("/api/v1/explore/sample?n=1&seed=0")  # one budget for every route
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_requests"
    assert limited.get("/explore").status_code == 200  # the page itself is not limited


def test_a_sample_of_n_faces_counts_n_against_the_limit(tmp_path):
    limited = _client(tmp_path, rate_limit="10/minute")
    assert limited.get("/api/v1/explore/sample?n=8&seed=0").status_code == 200
    assert limited.get("/api/v1/explore/sample?n=8&seed=1").status_code == 429  # 16 faces are more than 10


def test_a_photo_read_as_a_code_counts_as_eight_faces(tmp_path, astronaut_jpeg):
    limited = _client(tmp_path, rate_limit="10/minute")
    photo = {"photo": (io.BytesIO(astronaut_jpeg), "me.jpg")}
    assert limited.post("/api/v1/explore/codes", data=photo).status_code == 200
    face = f"/api/v1/explore/face.png?code={CODE}&age=30&gender=male"
    assert [limited.get(face).status_code for _ in range(3)] == [200, 200, 429]


def test_the_page_and_refusing_a_bad_code_need_no_pytorch(tmp_path):
    """The model loads on the first request that renders; the web process starts without it."""
    probe = (
        "import sys; from service.app import create_app; from service.config import Settings; "
        f"client = create_app(Settings(data_dir={str(tmp_path)!r}), enqueue=lambda job_id: None).test_client(); "
        "assert client.get('/explore').status_code == 200; "
        "assert client.get('/api/v1/explore/face.png?code=xyz').status_code == 400; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
