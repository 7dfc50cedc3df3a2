"""The pages as a person meets them, in a real browser at desktop and phone size: nothing to scroll sideways, a
photo chosen from the gallery by default, names for every control, and no dead ends. The app runs without a
worker: these pages answer by themselves (jobs that need a state are put in the database directly)."""

import pytest

PHONE = {"width": 390, "height": 844}  # the phone size of conftest's sized_page


@pytest.mark.parametrize("path", ["/", "/morph", "/explore", "/jobs/0123456789abcdef0123456789abcdef"])
def test_no_page_scrolls_sideways_on_a_phone(browser, url, path):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(url + path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_choosing_a_photo_is_the_default_and_taking_one_is_offered_apart(sized_page, url, astronaut_jpeg, tmp_path):
    sized_page.goto(url + "/")
    assert sized_page.get_attribute("#photo", "capture") is None  # a phone opens its gallery, not the camera
    assert sized_page.get_attribute("#camera", "capture") == "user"
    assert sized_page.is_visible("text=Take a photo")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(astronaut_jpeg)
    sized_page.set_input_files("#camera", str(photo))  # what the camera hands back
    assert sized_page.is_enabled("#submit")
    assert sized_page.text_content("#chosen").startswith("me.jpg")


def test_every_page_has_an_icon_and_favicon_ico_is_served(page, url):
    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    page.goto(url + "/")
    page.wait_for_load_state("networkidle")
    icon = page.request.get(url + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert page.request.get(url + page.get_attribute("link[type='image/svg+xml']", "href")).ok
    assert failed == []


def test_every_control_has_a_name_and_the_job_page_announces_its_status(page, url):
    page.goto(url + "/")
    assert page.text_content("h1")
    assert page.locator("header nav a", has_text="Explore").get_attribute("href") == "/explore"
    page.goto(url + "/jobs/0123456789abcdef0123456789abcdef")
    assert page.get_attribute("#status", "aria-live") == "polite"
    assert page.get_by_role("progressbar", name="Progress", exact=True, include_hidden=True).count() == 1
    assert page.get_by_role("progressbar", name="Progress of the film", include_hidden=True).count() == 1
    assert page.get_by_role("slider", name="age", include_hidden=True).count() == 1  # shown with the result
    page.goto(url + "/explore")
    assert page.get_by_role("slider", name="Age", exact=True).count() == 1
    assert page.get_by_label("Your photo").get_attribute("type") == "file"


@pytest.mark.parametrize(
    "path, current",
    [
        ("/", "Age a photo"),
        ("/morph", "Morph two faces"),
        ("/explore", "Explore the model"),
        ("/jobs/0123456789abcdef0123456789abcdef", None),
        ("/review/login", None),
    ],
)
def test_every_page_links_to_explore_in_its_header_and_marks_the_page_you_are_on(sized_page, url, path, current):
    sized_page.goto(url + path)
    nav = sized_page.get_by_role("navigation", name="Faceage")
    explore = nav.get_by_role("link", name="Explore the model")
    assert explore.get_attribute("href") == "/explore" and explore.is_visible()
    assert nav.locator("a[aria-current=page]").all_text_contents() == ([current] if current else [])


@pytest.mark.parametrize("path", ["/", "/morph", "/explore", "/jobs/0123456789abcdef0123456789abcdef", "/review/login"])
def test_no_page_has_a_serious_accessibility_violation(sized_page, url, path, serious_violations):
    sized_page.goto(url + path)
    sized_page.wait_for_load_state("networkidle")
    assert serious_violations(sized_page) == []


def _new_job(page, url, astronaut_jpeg) -> tuple[str, str]:
    """A job of the astronaut, left in the queue (no worker here): its id and its page's address, token included."""
    reply = page.request.post(
        url + "/api/v1/jobs",
        multipart={"photo": {"name": "me.jpg", "mimeType": "image/jpeg", "buffer": astronaut_jpeg}},
    ).json()
    return reply["id"], url + reply["urls"]["page"]


def test_a_job_link_without_its_token_says_so_plainly_and_to_keep_the_link(sized_page, url):
    sized_page.goto(url + "/jobs/0123456789abcdef0123456789abcdef")
    assert "missing its end" in sized_page.text_content("#status")
    assert "Keep that link" in sized_page.text_content("#reason")
    assert "X-Job-Token" not in sized_page.text_content("main")
    assert sized_page.is_visible("#again a[href='/']") and sized_page.is_hidden("#result")


def test_a_waiting_job_says_so_in_plain_words_and_asks_to_keep_its_link(page, url, astronaut_jpeg):
    _job_id, address = _new_job(page, url, astronaut_jpeg)
    page.goto(address)
    page.wait_for_selector("#status:has-text('In the queue')")
    assert "worker" not in page.text_content("#status")
    assert page.is_visible("#keep-link")


def test_a_failed_job_says_sorry_and_offers_another_photo(sized_page, site, astronaut_jpeg):
    from service import jobs

    url, _settings, database = site
    job_id, address = _new_job(sized_page, url, astronaut_jpeg)
    jobs.mark_failed(database, job_id, "no_face", "no face was found in this photo")
    sized_page.goto(address)
    sized_page.wait_for_selector("#status:has-text('Sorry, this photo could not be aged.')")
    assert sized_page.text_content("#reason") == "no face was found in this photo"
    sized_page.click("#again a")
    sized_page.wait_for_url(url + "/")


def test_delete_now_asks_first(page, url, astronaut_jpeg):
    job_id, address = _new_job(page, url, astronaut_jpeg)
    page.goto(address)
    page.evaluate("document.getElementById('result').hidden = false")  # the button shows with a result
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#delete")
    assert "cannot be undone" in asked[0]
    token = address.split("#", 1)[1]
    assert page.request.get(f"{url}/api/v1/jobs/{job_id}", headers={"X-Job-Token": token}).status == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    # The page's own words once the DELETE has answered ("text=Deleted" alone also matched the footer's "deleted
    # automatically after a day", so the check below could run before the deletion).
    page.wait_for_selector("text=Deleted: the photo and every result are gone")
    assert page.request.get(f"{url}/api/v1/jobs/{job_id}", headers={"X-Job-Token": token}).status == 404


def test_the_film_is_not_made_unless_asked_for(page, url):
    """The film costs the worker several times the stills' time, so it is a choice; it comes after the photos, which
    never wait for it, and the label says so."""
    page.goto(url + "/")
    assert not page.is_checked("#animate")
    assert "after the photos" in page.text_content("label.check")
