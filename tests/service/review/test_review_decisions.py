"""Decisions through the review API: the queue's order and filters, each decision recorded, refused when
impossible or stale, undone, in bulk, never over another reviewer's."""

import io
import threading

import pytest
from PIL import Image
from review_support import (
    BLURRED,
    CLEAN,
    DARK,
    GRAY,
    HEADERS,
    MIRRORED,
    SUSPICION_ORDER,
    _decide,
    _decisions,
    _image,
    _queue,
    _signed_in,
    _stored,
)


def test_the_queue_is_sorted_by_suspicion_with_the_progress(reviewer):
    _name, client = reviewer
    queue = _queue(client)
    assert [i["name"] for i in queue["images"]] == SUSPICION_ORDER
    assert (queue["reviewed"], queue["total"], queue["matching"]) == (0, 6, 6)
    assert all("path" not in image for image in queue["images"])  # the server's paths stay on the server
    assert [i["name"] for i in _queue(client, offset=1, limit=2)["images"]] == SUSPICION_ORDER[1:3]


def test_the_detail_shows_labels_every_flag_and_the_thumbnail(reviewer, ids):
    _name, client = reviewer
    image = _image(client, ids[DARK])
    assert (image["age"], image["gender"], image["race"], image["status"]) == (8, 0, 1, "pending")
    assert [(f["name"], f["score"], f["details"]) for f in image["flags"]] == [
        ("underexposed", 2.0, {"brightness": 40.0}),
        ("age_label_outlier", 1.5, {"estimated_age": 31.0}),
    ]
    assert image["decisions"] == []
    thumbnail = client.get(f"/review/api/images/{ids[DARK]}/thumbnail.jpg")
    assert thumbnail.mimetype == "image/jpeg" and Image.open(io.BytesIO(thumbnail.data)).size == (128, 128)
    assert client.get("/review/api/images/999999").status_code == 404


def test_filters_by_flag_age_race_status_and_reviewer(app, database, reviewer, ids):
    name, client = reviewer
    version = _image(client, ids[CLEAN])["version"]
    assert _decide(client, ids[CLEAN], version, "accept").status_code == 200
    assert _decide(client, ids[GRAY], 0, "correct", age=70).status_code == 200

    def names(**filters):
        return {i["name"] for i in _queue(client, **filters)["images"]}

    assert names(flag="underexposed") == {DARK}
    assert names(min_age=40, max_age=65) == {BLURRED}  # GRAY was 45 but is corrected to 70
    assert names(min_age=66) == {GRAY}
    assert names(race=0) == {CLEAN, MIRRORED}
    assert names(status="accepted") == {CLEAN}
    assert names(reviewer=name) == {CLEAN, GRAY}
    assert names(reviewer="someone else") == set()
    in_race_zero = _queue(client, race=0, status="pending")
    assert (in_race_zero["matching"], in_race_zero["reviewed"], in_race_zero["total"]) == (1, 1, 2)
    bad = client.get("/review/api/images", query_string={"status": "maybe"})
    assert bad.status_code == 400 and "status" in bad.get_json()["error"]["message"]
    assert client.get("/review/api/images", query_string={"min_age": "old"}).status_code == 400
    facets = client.get("/review/api/facets").get_json()
    assert {"blurred", "malformed_name", "underexposed"} <= {f["name"] for f in facets["flags"]}
    assert facets["reviewers"] == [name] and facets["races"] == [0, 1, 2, 3]


# --- Decisions ------------------------------------------------------------------------------------------------


def test_each_decision_is_recorded_with_who_when_before_and_after(reviewer, database, ids):
    name, client = reviewer
    accepted = _decide(client, ids[BLURRED], 0, "accept")
    assert accepted.status_code == 200
    image = accepted.get_json()["image"]
    assert (image["status"], image["version"]) == ("accepted", 1)
    corrected = _decide(client, ids[BLURRED], 1, "correct", age=58, gender=0).get_json()["image"]
    assert (corrected["effective_age"], corrected["effective_gender"], corrected["version"]) == (58, 0, 2)

    first, second = _decisions(database, ids[BLURRED])
    assert (first.reviewer, first.action, second.action) == (name, "accept", "correct")
    assert first.decided_at is not None and first.decided_at <= second.decided_at
    assert first.before == {"status": "pending", "corrected_age": None, "corrected_gender": None}
    assert first.after == {"status": "accepted", "corrected_age": None, "corrected_gender": None}
    assert second.before == first.after
    assert second.after == {"status": "accepted", "corrected_age": 58, "corrected_gender": 0}
    history = _image(client, ids[BLURRED])["decisions"]
    assert [(d["reviewer"], d["action"], d["undone"]) for d in history] == [
        (name, "accept", False),
        (name, "correct", False),
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"action": "accept"}, "version"),
        ({"action": "approve", "version": 0}, "unknown review action"),
        ({"action": "correct", "version": 0}, "an age or a gender"),
        ({"action": "correct", "version": 0, "age": 300}, "0 to 120"),
        ({"action": "correct", "version": 0, "age": "forty"}, "whole number"),
        ({"action": "correct", "version": 0, "gender": 2}, "gender"),
    ],
)
def test_an_impossible_decision_is_refused_and_changes_nothing(reviewer, database, ids, body, message):
    _name, client = reviewer
    refused = client.post(f"/review/api/images/{ids[DARK]}/decision", json=body, headers=HEADERS)
    assert refused.status_code == 400 and message in refused.get_json()["error"]["message"]
    assert _decisions(database, ids[DARK]) == [] and _stored(database, ids[DARK]).review_version == 0


HUGE = 2**70


@pytest.mark.parametrize(
    "method, url, body, named",
    [
        ("get", "/review/api/images?offset=99999999999999999999999", None, "offset"),
        ("get", "/review/api/images?limit=99999999999999999999999", None, "limit"),
        ("get", f"/review/api/images?race={HUGE}", None, "race"),
        ("get", f"/review/api/images?min_age={HUGE}", None, "min_age"),
        ("get", f"/review/api/images?max_age=-{HUGE}", None, "max_age"),
        ("get", f"/review/api/images/{HUGE}", None, "image id"),
        ("get", f"/review/api/images/{HUGE}/thumbnail.jpg", None, "image id"),
        ("post", f"/review/api/images/{HUGE}/decision", {"action": "accept", "version": 0}, "image id"),
        ("post", "/review/api/images/1/decision", {"action": "accept", "version": HUGE}, "version"),
        ("post", "/review/api/images/1/decision", {"action": "accept", "version": -HUGE}, "version"),
        ("post", "/review/api/decisions", {"action": "accept", "images": [{"id": HUGE, "version": 0}]}, "image id"),
        ("post", "/review/api/decisions", {"action": "accept", "images": [{"id": 1, "version": HUGE}]}, "version"),
    ],
)
def test_an_integer_out_of_range_is_refused_with_400_naming_it(reviewer, method, url, body, named):
    _name, client = reviewer
    refused = getattr(client, method)(url, json=body, headers=HEADERS)
    assert refused.status_code == 400, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid" and named in error["message"] and "from" in error["message"]


def test_undo_takes_back_the_last_decision_then_the_one_before(reviewer, database, ids):
    _name, client = reviewer
    _decide(client, ids[BLURRED], 0, "reject")
    _decide(client, ids[DARK], 0, "correct", age=30)
    undone = client.post("/review/api/undo", headers=HEADERS)
    assert undone.status_code == 200
    assert [(i["id"], i["corrected_age"]) for i in undone.get_json()["images"]] == [(ids[DARK], None)]
    assert _stored(database, ids[BLURRED]).status.value == "rejected"  # the earlier decision stands
    client.post("/review/api/undo", headers=HEADERS)
    assert _stored(database, ids[BLURRED]).status.value == "pending"
    nothing = client.post("/review/api/undo", headers=HEADERS)
    assert nothing.status_code == 404 and "no decision left" in nothing.get_json()["error"]["message"]

    reject, undo = _decisions(database, ids[BLURRED])
    assert (reject.action, undo.action) == ("reject", "undo") and reject.undone_at is not None
    assert (undo.before, undo.after) == (reject.after, reject.before)  # an undo is a decision too


def test_bulk_decisions_apply_to_every_selected_image_and_undo_as_one(reviewer, database, ids):
    _name, client = reviewer
    chosen = [ids[CLEAN], ids[MIRRORED], ids[GRAY]]
    done = client.post(
        "/review/api/decisions",
        headers=HEADERS,
        json={"action": "reject", "images": [{"id": i, "version": 0} for i in chosen]},
    )
    assert done.status_code == 200
    assert [(i["id"], i["status"]) for i in done.get_json()["images"]] == [(i, "rejected") for i in chosen]
    assert _queue(client)["reviewed"] == 3
    undone = client.post("/review/api/undo", headers=HEADERS).get_json()["images"]
    assert sorted(i["id"] for i in undone) == sorted(chosen)
    assert all(_stored(database, i).status.value == "pending" for i in chosen)


def test_a_bulk_decision_with_one_stale_image_changes_none_of_them(reviewer, database, ids):
    _name, client = reviewer
    _decide(client, ids[GRAY], 0, "accept")
    stale = client.post(
        "/review/api/decisions",
        headers=HEADERS,
        json={"action": "reject", "images": [{"id": ids[CLEAN], "version": 0}, {"id": ids[GRAY], "version": 0}]},
    )
    assert stale.status_code == 409 and stale.get_json()["error"]["image_ids"] == [ids[GRAY]]
    assert (
        _stored(database, ids[CLEAN]).status.value == "pending"
        and _stored(database, ids[GRAY]).status.value == "accepted"
    )


# --- Several reviewers at once ----------------------------------------------------------------------------------


def test_a_stale_write_is_refused_with_409_and_nothing_is_lost(app, database, ids):
    ada, ada_client = _signed_in(app, database, "ada")
    bob, bob_client = _signed_in(app, database, "bob")
    seen_by_ada = _image(ada_client, ids[BLURRED])["version"]
    seen_by_bob = _image(bob_client, ids[BLURRED])["version"]

    assert _decide(ada_client, ids[BLURRED], seen_by_ada, "accept").status_code == 200
    stale = _decide(bob_client, ids[BLURRED], seen_by_bob, "reject")
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "stale" and error["image_ids"] == [ids[BLURRED]]
    assert "changed by ada (accept)" in error["message"] and "decide again" in error["message"]
    assert _stored(database, ids[BLURRED]).status.value == "accepted"

    reloaded = _image(bob_client, ids[BLURRED])  # what the page does on a 409
    assert reloaded["status"] == "accepted"
    assert _decide(bob_client, ids[BLURRED], reloaded["version"], "reject").status_code == 200
    assert [(d.reviewer, d.action) for d in _decisions(database, ids[BLURRED])] == [(ada, "accept"), (bob, "reject")]


def test_undo_never_erases_another_reviewers_later_decision(app, database, ids):
    _ada, ada_client = _signed_in(app, database, "ada")
    _bob, bob_client = _signed_in(app, database, "bob")
    _decide(ada_client, ids[DARK], 0, "accept")
    _decide(bob_client, ids[DARK], 1, "reject")
    refused = ada_client.post("/review/api/undo", headers=HEADERS)
    assert refused.status_code == 409 and "changed by bob (reject)" in refused.get_json()["error"]["message"]
    assert _stored(database, ids[DARK]).status.value == "rejected"
    assert bob_client.post("/review/api/undo", headers=HEADERS).status_code == 200  # bob's own: back to accepted
    assert _stored(database, ids[DARK]).status.value == "accepted"


def test_reviewers_deciding_at_the_same_moment_one_wins_the_others_get_409(app, database, ids):
    clients = [_signed_in(app, database, f"reviewer-{n}")[1] for n in range(4)]
    start, answers = threading.Barrier(len(clients)), []

    def decide(client, action):
        start.wait()
        answers.append(_decide(client, ids[MIRRORED], 0, action).status_code)

    threads = [threading.Thread(target=decide, args=(c, a)) for c, a in zip(clients, ["accept", "reject"] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409, 409, 409]
    [decision] = _decisions(database, ids[MIRRORED])
    assert _stored(database, ids[MIRRORED]).status.value == decision.after["status"]
    assert _stored(database, ids[MIRRORED]).review_version == 1


# --- The session's secret ---------------------------------------------------------------------------------------
