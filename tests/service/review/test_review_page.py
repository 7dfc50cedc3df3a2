"""The review page in a real browser, by keyboard only."""

from review_support import BLURRED, DARK, HOSTILE_NAME, _decide, _decisions, _open_review, _signed_in, _stored

from service.auth import create_reviewer


def test_a_reviewer_signs_in_and_reviews_by_keyboard_only(page, live_review, database, ids, tmp_path):
    password = create_reviewer(database, "ada")
    page.goto(live_review + "/review/")
    assert page.url.endswith("/review/login")
    page.wait_for_selector("#name:focus")  # autofocus lands once the page has settled; keys before it are lost
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.tile[aria-current=true][data-id="{ids[HOSTILE_NAME]}"]')
    page.wait_for_selector(f'#detail[data-id="{ids[HOSTILE_NAME]}"]')
    assert page.text_content("#detail-name") == HOSTILE_NAME  # shown as text, not run
    assert page.evaluate("window.pwned") is None
    assert page.text_content("#progress") == "reviewed 0 of 6"
    assert "undo your last decision" in page.text_content(".shortcuts")

    page.keyboard.press("a")  # accept the first, move to the second
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=accepted]')
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("r")  # reject the second, move to the third
    page.wait_for_selector(f'.tile[data-id="{ids[BLURRED]}"][data-status=rejected]')
    page.wait_for_selector(f'#detail[data-id="{ids[DARK]}"]')
    page.wait_for_selector("#progress:has-text('reviewed 2 of 6')")

    page.keyboard.press("e")  # fix the third's age
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail-age:has-text('42 (corrected from 8)')")
    assert _stored(database, ids[DARK]).corrected_age == 42

    page.keyboard.press("u")  # and think better of it
    page.wait_for_selector("#message:has-text('Undone')")
    page.wait_for_selector("#detail-age:text-is('8')")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

    statuses = {name: _stored(database, ids[name]) for name in (HOSTILE_NAME, BLURRED, DARK)}
    assert statuses[HOSTILE_NAME].status.value == "accepted" and statuses[BLURRED].status.value == "rejected"
    assert statuses[DARK].status.value == "pending" and statuses[DARK].corrected_age is None
    correct, undo = _decisions(database, ids[DARK])
    assert (correct.action, correct.after["corrected_age"], correct.undone_at is not None) == ("correct", 42, True)
    assert (undo.action, undo.reviewer, undo.after["corrected_age"]) == ("undo", "ada", None)
    assert [d.action for d in _decisions(database, ids[HOSTILE_NAME])] == ["accept"]


def test_the_page_shows_a_stale_write_reloads_the_image_and_decides_on_a_selection(
    page, live_review, app, database, ids
):
    password = create_reviewer(database, "ada")
    _bob, bob_client = _signed_in(app, database, "bob")
    page.goto(live_review + "/review/login")
    page.fill("#name", "ada")
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#detail[data-id="{ids[HOSTILE_NAME]}"]')

    assert _decide(bob_client, ids[HOSTILE_NAME], 0, "reject").status_code == 200  # while ada looks at it
    page.keyboard.press("a")
    page.wait_for_selector("#message:has-text('changed by bob (reject)')")
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=rejected]')  # reloaded, still here
    assert page.get_attribute("#detail", "data-id") == str(ids[HOSTILE_NAME])
    assert _stored(database, ids[HOSTILE_NAME]).status.value == "rejected"

    page.keyboard.press("j")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("g")  # BLURRED is labelled female
    page.wait_for_selector("#detail-gender:has-text('male (corrected from female)')")
    page.keyboard.press("x")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    page.keyboard.press("Shift+A")
    page.wait_for_selector("#message:has-text('Accepted 2 image(s)')")
    assert {_stored(database, ids[name]).status.value for name in (BLURRED, DARK)} == {"accepted"}
    assert _stored(database, ids[BLURRED]).corrected_gender == 0
    assert page.locator(".tile.selected").count() == 0


def test_in_a_filter_the_shortcut_keys_neither_decide_nor_change_it(page, live_review, database, ids):
    _open_review(page, live_review, database)
    page.focus("#filter-status")
    page.keyboard.press("a")  # a select's own type-ahead would pick "accepted"
    page.keyboard.press("r")
    assert page.input_value("#filter-status") == ""
    assert page.locator(".tile[data-status=accepted], .tile[data-status=rejected]").count() == 0
    assert "Esc" in page.text_content("#message")
    page.keyboard.press("Escape")  # back to the images, where the keys work
    page.wait_for_function("document.activeElement.classList.contains('tile')")
    page.keyboard.press("a")
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=accepted]')

    page.click("#filter-status")  # picked with the pointer: the focus goes back to the images
    page.select_option("#filter-status", "pending")
    page.wait_for_function("document.activeElement.classList.contains('tile')")
    page.keyboard.press("r")
    page.wait_for_selector(f'.tile[data-id="{ids[BLURRED]}"][data-status=rejected]')
    assert page.input_value("#filter-status") == "pending"


def test_tiles_are_reached_with_tab_and_the_detail_stays_in_view(page, live_review, database, ids):
    page.set_viewport_size({"width": 1280, "height": 700})
    _open_review(page, live_review, database)
    page.focus("#filter-reviewer")
    page.keyboard.press("Tab")  # the last filter, then the current tile
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[HOSTILE_NAME])
    page.keyboard.press("j")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[BLURRED])  # the focus moves along

    page.add_style_tag(content="#grid { min-height: 4000px; }")  # a long queue
    page.evaluate("window.scrollTo(0, 3000)")
    top, bottom = page.eval_on_selector(
        "#detail-image", "e => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom]"
    )
    assert top >= 0 and bottom <= 700


def test_success_is_not_shown_in_red_and_the_page_passes_axe(page, live_review, database, ids):
    from axe_playwright_python.sync_playwright import Axe

    _open_review(page, live_review, database)
    page.keyboard.press("a")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("r")
    page.wait_for_selector(f'#detail[data-id="{ids[DARK]}"]')
    page.keyboard.press("u")
    page.wait_for_selector("#message:has-text('Undone')")
    assert page.eval_on_selector("#message", "e => getComputedStyle(e).color") == "rgb(27, 110, 46)"
    page.keyboard.press("r")  # the undone image rejected again: tiles on green and on red, for the contrast check
    page.wait_for_selector(".tile[data-status=rejected]")
    violations = Axe().run(page).response["violations"]
    assert [(v["id"], v["nodes"][0]["target"]) for v in violations if v["impact"] in ("serious", "critical")] == []


# --- More like this ------------------------------------------------------------------------------------------------
