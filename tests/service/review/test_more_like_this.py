"""More like this: the nearest faces by identity and by appearance, one key away, and bulk fixes on them."""

import numpy as np
from review_support import BLURRED, CLEAN, DARK, GRAY, HEADERS, HOSTILE_NAME, MIRRORED, _open_review, _stored

from service.models import DatasetImage


def test_more_like_this_lists_the_nearest_faces_by_identity_and_by_appearance_with_their_labels(reviewer, features):
    _, client = reviewer
    found = client.get(f"/review/api/images/{features[HOSTILE_NAME]}/similar").get_json()
    nearest = found["identity"][0]
    assert nearest["id"] == features[CLEAN] and nearest["distance"] < 0.05
    assert (nearest["effective_age"], nearest["effective_gender"], nearest["status"]) == (34, 1, "pending")
    assert features[BLURRED] not in [n["id"] for n in found["identity"]]  # no embedding, never a neighbour
    assert len(found["identity"]) == 4 and len(found["appearance"]) == 5
    assert features[HOSTILE_NAME] not in [n["id"] for n in found["identity"] + found["appearance"]]
    bits = [n["bits"] for n in found["appearance"]]
    assert bits == sorted(bits)
    assert client.get(f"/review/api/images/{features[BLURRED]}/similar").get_json()["identity"] == []


def test_more_like_this_of_an_unknown_image_is_404(reviewer, features):
    _, client = reviewer
    response = client.get("/review/api/images/999999/similar")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_pressing_m_shows_the_faces_like_this_one_with_their_labels_and_they_follow_the_reviewer(
    page, live_review, database, features
):
    _open_review(page, live_review, database)  # on the hostile name's image, the first in the queue
    page.keyboard.press("m")
    first = page.locator("#similar-identity .neighbour").first
    first.wait_for()
    assert first.get_attribute("data-id") == str(features[CLEAN])
    assert first.text_content() == "34 · female · pending"
    assert page.locator("#similar-appearance .neighbour").count() == 5
    page.keyboard.press("j")  # BLURRED has no face embedding: said so, and its look-alikes are still shown
    page.wait_for_selector("#similar-identity li:not(.neighbour)")
    assert "no face to compare" in page.text_content("#similar-identity")
    assert page.locator("#similar-appearance .neighbour").count() == 5
    page.keyboard.press("m")
    page.wait_for_selector("#similar", state="hidden")


def test_faces_picked_among_more_like_this_are_decided_on_with_the_selection(page, live_review, database, features):
    _open_review(page, live_review, database)
    page.keyboard.press("x")  # the hostile name's image, and CLEAN shown as its same person: one run of copies
    page.keyboard.press("m")
    page.click(f'#similar-identity .neighbour[data-id="{features[CLEAN]}"]')
    page.wait_for_selector(f'#similar-identity .neighbour.selected[data-id="{features[CLEAN]}"]')
    page.keyboard.press("Shift+R")
    page.wait_for_selector(f'.tile[data-id="{features[CLEAN]}"][data-status=rejected]')
    assert _stored(database, features[CLEAN]).status.value == "rejected"
    assert _stored(database, features[HOSTILE_NAME]).status.value == "rejected"
    assert "Rejected 2 image(s)" in page.text_content("#message")
    page.wait_for_function(  # shown again with the labels the decision left
        "document.querySelector('#similar-identity .neighbour').textContent === '34 · female · rejected'"
    )
    assert page.locator("#similar .neighbour.selected").count() == 0


def test_more_like_this_sees_an_image_analysed_after_it_was_first_asked(reviewer, features, database):
    from service.models import utcnow

    _, client = reviewer
    before = client.get(f"/review/api/images/{features[GRAY]}/similar").get_json()["identity"]
    assert all(n["distance"] > 0 for n in before)
    with database.session() as session:
        image = session.get(DatasetImage, features[DARK])
        image.embedding = np.frombuffer(session.get(DatasetImage, features[GRAY]).embedding, np.float32).tobytes()
        image.analysed_at = utcnow()
    after = client.get(f"/review/api/images/{features[GRAY]}/similar").get_json()["identity"]
    assert after[0]["id"] == features[DARK] and after[0]["distance"] == 0


def test_a_bulk_correction_gives_every_selected_image_the_age_and_undoes_as_one(reviewer, database, ids):
    _, client = reviewer
    chosen = [{"id": ids[CLEAN], "version": 0}, {"id": ids[MIRRORED], "version": 0}]
    response = client.post(
        "/review/api/decisions", json={"action": "correct", "age": 40, "images": chosen}, headers=HEADERS
    )
    assert response.status_code == 200, response.get_json()
    assert [i["effective_age"] for i in response.get_json()["images"]] == [40, 40]
    assert (
        client.post("/review/api/decisions", json={"action": "correct", "images": chosen}, headers=HEADERS).status_code
        == 400
    )
    client.post("/review/api/undo", headers=HEADERS)
    assert (
        _stored(database, ids[CLEAN]).corrected_age is None and _stored(database, ids[MIRRORED]).corrected_age is None
    )


def test_shift_e_fixes_the_age_of_faces_picked_among_more_like_this(page, live_review, database, features):
    _open_review(page, live_review, database)
    page.keyboard.press("x")
    page.keyboard.press("m")
    page.click(f'#similar-identity .neighbour[data-id="{features[CLEAN]}"]')
    page.wait_for_selector(f'#similar-identity .neighbour.selected[data-id="{features[CLEAN]}"]')
    page.keyboard.press("Shift+E")
    page.keyboard.press("Control+a")
    page.keyboard.type("41")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#similar-identity .neighbour').textContent === '41* · female · pending'"
    )
    assert _stored(database, features[CLEAN]).corrected_age == 41
    assert _stored(database, features[HOSTILE_NAME]).corrected_age == 41
    assert "Corrected 2 image(s)" in page.text_content("#message")
