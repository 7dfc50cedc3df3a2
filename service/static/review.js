// The review page: a keyboard-first walk through the dataset's images, most suspicious first.
// Every text from the data is set with textContent (never innerHTML), so file names and flag details cannot
// inject markup. Every write sends the image's version back; a 409 means someone else decided first.
"use strict";

(() => {
  const root = document.getElementById("review");
  const api = root.dataset.api;
  const $ = (id) => document.getElementById(id);
  const GENDERS = { 0: "male", 1: "female" };
  const RACES = { 0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Other" };
  const PAGE = 120;

  // `similar`: "more like this" is open, and follows the reviewer from image to image until `m` closes it.
  // `neighbours`: the images "more like this" showed, by id, so they can be selected and decided on too.
  const state = { images: [], current: -1, selected: new Set(), matching: 0, similar: false, neighbours: new Map() };
  // Requests run one after another, in the order of the keys pressed: a decision always sends the version
  // that the previous one returned.
  let pending = Promise.resolve();
  let detailToken = 0;

  function later(task) {
    pending = pending.then(task).catch(showError);
    return pending;
  }

  async function call(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { "X-Requested-With": "faceage-review", Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(api + path, options);
    if (response.status === 401) {
      location.assign(root.dataset.login);
      throw new Error("signed out");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || `the server answered ${response.status}`);
      error.status = response.status;
      error.imageIds = (data.error && data.error.image_ids) || [];
      throw error;
    }
    return data;
  }

  // `done`: a success, shown apart from the errors' red.
  function say(text, done = false) {
    $("message").textContent = text;
    $("message").classList.toggle("done", done);
  }

  async function showError(error) {
    say(error.message);
    // Someone else changed these images: show them as they are now, so the reviewer can decide again.
    for (const id of error.imageIds || []) await reloadImage(id);
  }

  // --- The queue and its filters ---------------------------------------------------------------------

  function filterQuery() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData($("filters"))) if (String(value).trim()) params.set(name, value);
    return params;
  }

  async function loadQueue(append) {
    const params = filterQuery();
    params.set("offset", append ? state.images.length : 0);
    params.set("limit", PAGE);
    const data = await call("GET", "images?" + params);
    if (!append) {
      state.images = [];
      state.selected.clear();
      $("grid").replaceChildren();
    }
    state.images.push(...data.images);
    data.images.forEach((image) => $("grid").append(tile(image)));
    state.matching = data.matching;
    showProgress(data);
    $("empty").hidden = state.images.length > 0;
    $("more").hidden = state.images.length >= state.matching;
    if (!append) await moveTo(state.images.length ? 0 : -1);
  }

  async function refreshProgress() {
    const params = filterQuery();
    params.set("limit", 0);
    showProgress(await call("GET", "images?" + params));
  }

  function showProgress(data) {
    $("progress").textContent = `reviewed ${data.reviewed} of ${data.total}`;
  }

  async function loadFacets() {
    const facets = await call("GET", "facets");
    fill($("filter-flag"), facets.flags.map((f) => [f.name, `${f.name} (${f.count})`]));
    fill($("filter-race"), facets.races.map((r) => [r, RACES[r] || String(r)]));
    fill($("filter-reviewer"), facets.reviewers.map((name) => [name, name]));
  }

  function fill(select, choices) {
    for (const [value, text] of choices) select.append(new Option(text, value));
  }

  // --- Drawing -----------------------------------------------------------------------------------------

  function tile(image) {
    const item = document.createElement("li");
    item.className = "tile";
    item.dataset.id = image.id;
    item.tabIndex = -1; // one tile at a time is in the Tab order: the current one (see moveTo)
    item.addEventListener("click", () => later(() => moveTo(state.images.findIndex((i) => i.id === image.id))));
    drawTile(item, image);
    return item;
  }

  function drawTile(item, image) {
    const picture = image.has_thumbnail ? document.createElement("img") : document.createElement("span");
    if (image.has_thumbnail) {
      picture.src = `${api}images/${image.id}/thumbnail.jpg?v=${image.version}`;
      picture.alt = image.name;
      picture.loading = "lazy";
    } else {
      picture.className = "no-thumbnail";
      picture.textContent = "no image";
    }
    const caption = document.createElement("span");
    caption.className = "caption";
    const strongest = image.flags[0];
    caption.textContent = `${ageText(image)} · ${strongest ? `${strongest.name} ${strongest.score.toFixed(1)}` : "no flag"}`;
    item.replaceChildren(picture, caption);
    item.dataset.status = image.status;
    item.dataset.version = image.version;
    item.title = image.name;
  }

  function tileOf(id) {
    return $("grid").querySelector(`.tile[data-id="${Number(id)}"]`);
  }

  function ageText(image) {
    const age = image.effective_age === null ? "?" : String(image.effective_age);
    return image.corrected_age === null ? age : `${age}*`;
  }

  function currentImage() {
    return state.images[state.current];
  }

  async function moveTo(index) {
    if (index >= state.images.length && state.images.length < state.matching) await loadQueue(true);
    if (index < 0 || index >= state.images.length) {
      if (state.images.length === 0) $("detail").hidden = true;
      return;
    }
    const before = tileOf(currentImage() && currentImage().id);
    const hadFocus = before !== null && document.activeElement === before;
    if (before) {
      before.removeAttribute("aria-current");
      before.tabIndex = -1;
    }
    state.current = index;
    const now = tileOf(currentImage().id);
    now.setAttribute("aria-current", "true");
    now.tabIndex = 0;
    now.scrollIntoView({ block: "nearest" });
    if (hadFocus) now.focus({ preventScroll: true });
    closeAgeField();
    await showDetail();
  }

  async function showDetail() {
    const token = ++detailToken;
    const detail = await call("GET", `images/${currentImage().id}`);
    if (token !== detailToken) return; // the reviewer moved on meanwhile
    replaceImage(detail);
    drawDetail(detail);
    if (state.similar) await showSimilar(token);
  }

  // --- More like this: the nearest images by identity and by appearance, with their labels ----------------

  async function toggleSimilar() {
    if (!currentImage()) return;
    state.similar = !state.similar;
    if (state.similar) await showSimilar(detailToken);
    else $("similar").hidden = true;
  }

  async function showSimilar(token) {
    const found = await call("GET", `images/${currentImage().id}/similar`);
    if (token !== detailToken) return;
    $("similar-identity").replaceChildren(...neighbourItems(found.identity, (n) => `distance ${n.distance.toFixed(2)}`, "no face to compare (none found, or a young child)"));
    $("similar-appearance").replaceChildren(...neighbourItems(found.appearance, (n) => `${n.bits} bits apart`, "not analysed yet"));
    $("similar").hidden = false;
  }

  function neighbourItems(images, measure, none) {
    if (!images.length) return [textItem(none)];
    return images.map((image) => {
      const item = document.createElement("li");
      item.className = "neighbour";
      item.dataset.id = image.id;
      item.classList.toggle("selected", state.selected.has(image.id));
      state.neighbours.set(image.id, image);
      item.title = `${image.name} (${measure(image)})`;
      const picture = image.has_thumbnail ? document.createElement("img") : document.createElement("span");
      if (image.has_thumbnail) {
        picture.src = `${api}images/${image.id}/thumbnail.jpg?v=${image.version}`;
        picture.alt = image.name;
      }
      const labels = document.createElement("span");
      labels.className = "labels";
      const gender = image.effective_gender === null ? "?" : GENDERS[image.effective_gender] || String(image.effective_gender);
      labels.textContent = `${ageText(image)} · ${gender} · ${image.status}`;
      item.replaceChildren(picture, labels);
      // A click selects it, queued or not: Shift+A / Shift+R then decide on a whole run of copies at once.
      item.addEventListener("click", () => later(() => toggleSelection(image.id)));
      return item;
    });
  }

  function drawDetail(image) {
    $("detail").hidden = false;
    $("detail").dataset.id = image.id;
    $("detail").dataset.version = image.version;
    const picture = $("detail-image");
    picture.hidden = !image.has_thumbnail;
    if (image.has_thumbnail) picture.src = `${api}images/${image.id}/thumbnail.jpg?v=${image.version}`;
    picture.alt = image.name;
    $("detail-name").textContent = image.name;
    $("detail-status").textContent = image.status;
    $("detail-age").textContent = labelText(image.age, image.corrected_age, String);
    $("detail-gender").textContent = labelText(image.gender, image.corrected_gender, (g) => GENDERS[g] || String(g));
    $("detail-race").textContent = image.race === null ? "unknown" : RACES[image.race] || String(image.race);
    $("detail-size").textContent = image.width ? `${image.width} × ${image.height}` : image.malformed_reason || "not decodable";
    $("detail-copies").textContent = String(image.copies);
    $("detail-flags").replaceChildren(...image.flags.map(flagItem));
    if (!image.flags.length) $("detail-flags").append(textItem("none"));
    $("detail-history").replaceChildren(...image.decisions.map(historyItem));
    if (!image.decisions.length) $("detail-history").append(textItem("no decision yet"));
  }

  function labelText(label, correction, show) {
    const imported = label === null ? "unknown" : show(label);
    return correction === null ? imported : `${show(correction)} (corrected from ${imported})`;
  }

  function flagItem(flag) {
    const item = textItem(`${flag.name} — score ${flag.score.toFixed(2)}`);
    const details = Object.entries(flag.details || {});
    if (details.length) {
      const list = document.createElement("ul");
      list.append(...details.map(([key, value]) => textItem(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)));
      item.append(list);
    }
    return item;
  }

  function historyItem(decision) {
    const when = new Date(decision.decided_at).toLocaleString();
    const changes = Object.keys(decision.after)
      .filter((key) => decision.before[key] !== decision.after[key])
      .map((key) => `${key} ${decision.before[key] ?? "—"} → ${decision.after[key] ?? "—"}`);
    const undone = decision.undone ? " (undone)" : "";
    return textItem(`${when}: ${decision.reviewer} ${decision.action}${undone}${changes.length ? ": " + changes.join(", ") : ""}`);
  }

  function textItem(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  function replaceImage(image) {
    if (state.neighbours.has(image.id)) state.neighbours.set(image.id, image);
    const index = state.images.findIndex((i) => i.id === image.id);
    if (index < 0) return;
    state.images[index] = image;
    const item = tileOf(image.id);
    if (item) drawTile(item, image);
  }

  async function reloadImage(id) {
    const image = await call("GET", `images/${id}`);
    replaceImage(image);
    if (currentImage() && currentImage().id === image.id) drawDetail(image);
  }

  // --- Decisions -----------------------------------------------------------------------------------------

  async function decide(action, labels, advance, imageId) {
    const image = imageId === undefined ? currentImage() : state.images.find((i) => i.id === imageId);
    if (!image) return;
    const data = await call("POST", `images/${image.id}/decision`, { action, version: image.version, ...labels });
    replaceImage(data.image);
    say("");
    await refreshProgress();
    if (advance && state.current + 1 < Math.max(state.images.length, state.matching)) await moveTo(state.current + 1);
    else await showDetail();
  }

  async function decideSelection(action, labels = {}) {
    const chosen = [...state.selected].map((id) => state.images.find((i) => i.id === id) || state.neighbours.get(id)).filter(Boolean);
    if (!chosen.length) {
      say("Select images with x first.");
      return;
    }
    const data = await call("POST", "decisions", { action, ...labels, images: chosen.map((i) => ({ id: i.id, version: i.version })) });
    data.images.forEach(replaceImage);
    clearSelection();
    const done = { accept: "Accepted", reject: "Rejected", correct: "Corrected" }[action];
    say(`${done} ${data.images.length} image(s).`, true);
    await refreshProgress();
    await showDetail();
  }

  async function undo() {
    const data = await call("POST", "undo");
    data.images.forEach(replaceImage);
    say(`Undone: your last decision on ${data.images.length} image(s).`, true);
    await refreshProgress();
    const index = state.images.findIndex((i) => i.id === data.images[0].id);
    await moveTo(index >= 0 ? index : state.current);
  }

  function toggleSelection(id = currentImage() && currentImage().id) {
    if (id === undefined) return;
    if (state.selected.has(id)) state.selected.delete(id);
    else state.selected.add(id);
    for (const item of selectable(id)) {
      item.classList.toggle("selected", state.selected.has(id));
      item.setAttribute("aria-selected", String(state.selected.has(id)));
    }
  }

  // The image's tile in the queue and its place among the neighbours shown, where they are.
  function selectable(id) {
    return [tileOf(id), ...$("similar").querySelectorAll(`.neighbour[data-id="${Number(id)}"]`)].filter(Boolean);
  }

  function clearSelection() {
    for (const id of state.selected) {
      for (const item of selectable(id)) {
        item.classList.remove("selected");
        item.setAttribute("aria-selected", "false");
      }
    }
    state.selected.clear();
  }

  function toggledGender() {
    const gender = currentImage().effective_gender;
    return gender === 1 ? 0 : 1;
  }

  // --- The age field -------------------------------------------------------------------------------------

  // `forSelection`: the age goes to every selected image (Shift+E), not to the one shown.
  function openAgeField(firstDigit, forSelection = false) {
    const image = currentImage();
    if (!image) return;
    if (forSelection && !state.selected.size) {
      say("Select images with x first.");
      return;
    }
    $("age-form").dataset.selection = forSelection ? "yes" : "";
    $("age-form").hidden = false;
    $("age-form").dataset.id = image.id; // the image the reviewer saw when opening it, even if they move on
    const input = $("age-input");
    input.value = firstDigit !== undefined ? firstDigit : image.effective_age ?? "";
    input.focus();
    if (firstDigit === undefined) input.select();
  }

  function closeAgeField() {
    $("age-form").hidden = true;
    if (document.activeElement === $("age-input")) $("age-input").blur();
  }

  $("age-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const age = Number($("age-input").value);
    const imageId = Number($("age-form").dataset.id);
    const forSelection = $("age-form").dataset.selection === "yes";
    closeAgeField();
    if (!Number.isInteger(age) || age < 0 || age > 120) {
      say("An age is a whole number from 0 to 120.");
      return;
    }
    if (forSelection) later(() => decideSelection("correct", { age }));
    else later(() => decide("correct", { age }, false, imageId));
  });

  // --- Keys ----------------------------------------------------------------------------------------------

  const KEYS = {
    a: () => later(() => decide("accept", {}, true)),
    r: () => later(() => decide("reject", {}, true)),
    A: () => later(() => decideSelection("accept")),
    R: () => later(() => decideSelection("reject")),
    j: () => later(() => moveTo(state.current + 1)),
    ArrowRight: () => later(() => moveTo(state.current + 1)),
    ArrowDown: () => later(() => moveTo(state.current + 1)),
    k: () => later(() => moveTo(state.current - 1)),
    ArrowLeft: () => later(() => moveTo(state.current - 1)),
    ArrowUp: () => later(() => moveTo(state.current - 1)),
    e: () => openAgeField(), // at once, not queued: the keys typed next must land in the field
    E: () => openAgeField(undefined, true),
    g: () => later(() => currentImage() && decide("correct", { gender: toggledGender() }, false)),
    u: () => later(undo),
    x: () => later(() => toggleSelection()),
    m: () => later(toggleSimilar),
  };

  document.addEventListener("keydown", (event) => {
    if (event.target === $("age-input")) {
      if (event.key === "Escape") closeAgeField();
      return; // Enter submits the age form
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("#filters")) {
      keyInFilter(event);
      return;
    }
    if (event.target.closest("input, select, textarea, button")) return;
    const action = /^[0-9]$/.test(event.key) ? () => openAgeField(event.key) : KEYS[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  // In a filter, the shortcut letters would pick an option by its first letter ("a": accepted): they do nothing
  // there, and Esc goes back to the images, where they work again.
  function keyInFilter(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      backToImages();
    } else if (event.target.tagName === "SELECT" && event.key.length === 1 && (event.key in KEYS || /^[0-9]$/.test(event.key))) {
      event.preventDefault();
      say("Shortcuts work on the images: press Esc to leave the filter first.");
    }
  }

  function backToImages() {
    const current = currentImage() && tileOf(currentImage().id);
    if (current) current.focus();
    else document.activeElement.blur();
  }

  // A filter picked with the pointer, the images it picks are where the reviewer goes next; one picked with the
  // arrow keys keeps the focus, so the next arrow goes on through the options.
  let pickedByKeyboard = false;
  $("filters").addEventListener("keydown", () => (pickedByKeyboard = true));
  $("filters").addEventListener("pointerdown", () => (pickedByKeyboard = false));
  $("filters").addEventListener("change", (event) =>
    later(async () => {
      await loadQueue(false);
      if (event.target.tagName === "SELECT" && !pickedByKeyboard) backToImages();
    }),
  );
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    later(() => loadQueue(false));
  });
  $("more").addEventListener("click", () => later(() => loadQueue(true)));

  later(async () => {
    await loadFacets();
    await loadQueue(false);
  });
})();
