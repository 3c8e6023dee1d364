// The chestxai page: upload -> POST /api/v1/analyze -> probabilities, heatmap + box, similar cases.
// Plain JavaScript, no build step. Text from the server is always set with textContent (never as HTML).
"use strict";

const API = "/api/v1";
const NAMES = {
  gradcam: "Grad-CAM", gradcampp: "Grad-CAM++", gradient_x_input: "Gradient × input",
  occlusion: "Occlusion (slow)", silhouette: "Silhouette (baseline)", lrp: "LRP",
};
const state = { health: null, file: null, result: null, methods: [], finding: null };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(p) { return Number(p).toFixed(2); }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  document.body.dataset.state = "error";
}

function setBusy(busy) {
  $("busy").hidden = !busy;
  for (const id of ["finding", "method", "file"]) $(id).disabled = busy;
  if (busy) document.body.dataset.state = "busy";
}

async function readJSON(resp) {
  try { return await resp.json(); } catch { return { error: `the server answered ${resp.status}` }; }
}

async function loadHealth() {
  try {
    const resp = await fetch(`${API}/health`);
    const body = await readJSON(resp);
    if (!resp.ok) throw new Error(body.error);
    state.health = body;
    state.methods = [...body.default_methods];
    const cases = body.catalogue_size
      ? `${body.catalogue_size} cases for similar-case search`
      : "case catalogue empty: no similar cases";
    $("server-info").textContent = `model ${body.model} · ${cases} · v${body.version}`;
    renderModelScope(body.card);
    fillSelect($("method"), body.methods, (m) => NAMES[m] || m);
    fillSelect($("finding"), body.findings, (f) => f);
  } catch (err) {
    showError(`The server could not be reached (${err.message}). Reload the page when it is running.`);
  }
}

// The served model's scope and held-out AUCs, small, beside the probabilities, with a link to its model card.
function renderModelScope(card) {
  const box = $("model-scope");
  box.hidden = !card;
  if (!card) return;
  const aucs = Object.entries(card.test_auc).map(([f, a]) =>
    `${f} ${a.toFixed(3)}${card.qualifiers[f] ? " (within one source)" : ""}`).join(", ");
  const link = el("a", "", "model card");
  link.href = card.url;
  link.target = "_blank";
  link.rel = "noopener";
  box.replaceChildren(`${card.name}: ${card.title}. Held-out AUC: ${aucs}. `, link);
}

function fillSelect(select, values, label) {
  select.replaceChildren(...values.map((v) => { const o = el("option", "", label(v)); o.value = v; return o; }));
}

async function analyse(file) {
  if (!file || !state.health) return;
  state.file = file;
  $("error").hidden = true;
  setBusy(true);
  const form = new FormData();
  form.append("file", file);
  form.append("methods", state.methods.join(","));
  form.append("k", String(state.health.k));
  if (state.finding) form.append("finding", state.finding);
  try {
    const resp = await fetch(`${API}/analyze`, { method: "POST", body: form });
    const body = await readJSON(resp);
    if (!resp.ok) throw new Error(body.error || `the server answered ${resp.status}`);
    state.result = body;
    render(body);
    document.body.dataset.state = "done";
  } catch (err) {
    let why = err instanceof TypeError ? "the server could not be reached" : err.message;
    if (why.startsWith(`${file.name}: `)) why = why.slice(file.name.length + 2);  // the server names the file too
    clearResults();
    showError(`Could not analyse ${file.name}: ${why}`);
  } finally {
    setBusy(false);
  }
}

// After a failed upload nothing of the previous image may stay on screen under the error.
function clearResults() {
  state.result = null;
  $("controls").hidden = true;
  $("stage").hidden = true;
  $("negative").hidden = true;
  renderScope(null);
  $("probs").replaceChildren(el("p", "muted", "Upload an image to see the model's probabilities."));
  $("similar").replaceChildren(el("p", "muted", "The most similar confirmed cases appear here."));
}

function newFile(file) {
  state.finding = null;
  state.methods = [...state.health.default_methods];
  analyse(file);
}

function render(result) {
  $("controls").hidden = false;
  $("stage").hidden = false;
  $("frame").style.setProperty("--ar", String(result.image.width / result.image.height));
  $("xray").src = result.image.url;
  $("finding").value = result.finding;
  const method = $("method").value in result.explanations ? $("method").value : Object.keys(result.explanations)[0];
  $("method").value = method;
  renderScope(result.scope);
  renderProbabilities(result);
  showMethod();
  renderSimilar(result);
}

// The scope check's judgement, above the probabilities: a warning when the image is outside the model's population.
function renderScope(scope) {
  const box = $("scope");
  box.hidden = !scope || scope.scope === "in_scope";
  box.className = scope ? scope.scope : "";
  if (box.hidden) { box.replaceChildren(); return; }
  const title = scope.scope === "outside_population"
    ? "Outside the model's population: read these numbers with care."
    : "Not a chest radiograph: the model does not answer.";
  box.replaceChildren(el("strong", "", title), el("span", "", ` ${scope.reason}.`));
}

function renderProbabilities(result) {
  const rows = Object.entries(result.probabilities).map(([finding, p]) => {
    const threshold = result.thresholds[finding];
    const row = el("button", `prob${p >= threshold ? " positive" : ""}${finding === result.finding ? " explained" : ""}`);
    row.type = "button";
    row.title = `explain ${finding} (decision threshold ${fmt(threshold)})`;
    row.dataset.finding = finding;
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    const tick = el("span", "tick");
    tick.style.left = `${(threshold * 100).toFixed(1)}%`;
    track.append(fill, tick);
    row.append(el("span", "name", finding), track, el("span", "value", fmt(p)));
    row.addEventListener("click", () => chooseFinding(finding));
    return row;
  });
  $("probs").replaceChildren(...rows);
}

function chooseFinding(finding) {
  if (!state.result || finding === state.result.finding) return;
  state.finding = finding;
  analyse(state.file);
}

function showMethod() {
  const result = state.result;
  if (!result) return;
  const method = $("method").value;
  const ex = result.explanations[method];
  if (!ex) {  // not computed for this upload yet: ask the server for it too
    state.methods = [...new Set([...state.methods, method])];
    analyse(state.file);
    return;
  }
  const threshold = result.thresholds[ex.finding];
  const shown = ex.positive || $("force").checked;
  const note = $("negative");
  note.hidden = ex.positive;
  const why = `Predicted negative for ${ex.finding} (p = ${fmt(ex.probability)}, below the threshold ${fmt(threshold)})`;
  note.textContent = ex.positive ? "" : shown
    ? `${why}: heatmap shown only because "show heatmap anyway" is ticked; do not read it as evidence.`
    : `${why}: no heatmap shown. Tick "show heatmap anyway" to see where the model looked.`;
  const heat = $("heat");
  heat.hidden = !shown;
  if (shown && heat.getAttribute("src") !== ex.heatmap_url) heat.src = ex.heatmap_url;
  heat.style.opacity = String($("opacity").value / 100);
  placeBox(shown ? ex.box : null, result.image);
  $("overlay-link").href = ex.overlay_url;
  $("caption").textContent = `${NAMES[method] || method} for ${ex.finding}, p = ${fmt(ex.probability)}` +
    (ex.box && shown ? "; the box frames the strongest region (saliency ≥ 0.5)." : ".") +
    (ex.note && shown ? ` Note: ${ex.note}.` : "");
}

function placeBox(box, image) {
  const node = $("box");
  node.hidden = !box;
  if (!box) return;
  node.style.left = `${(100 * box.x / image.width).toFixed(2)}%`;
  node.style.top = `${(100 * box.y / image.height).toFixed(2)}%`;
  node.style.width = `${(100 * box.w / image.width).toFixed(2)}%`;
  node.style.height = `${(100 * box.h / image.height).toFixed(2)}%`;
}

function labelText(labels) {
  const positive = Object.entries(labels).filter(([, v]) => v === 1).map(([k]) => k);
  return positive.length ? positive.join(", ") : "no finding labelled";
}

function renderSimilar(result) {
  const grid = $("similar");
  if (!state.health.catalogue_size) {
    grid.replaceChildren(el("p", "muted", "The case catalogue is empty on this server, so there are no similar cases."));
    return;
  }
  if (!result.similar.length) {
    grid.replaceChildren(el("p", "muted", "No similar cases were found."));
    return;
  }
  grid.replaceChildren(...result.similar.map((c) => {
    const card = el("button", "case");
    card.type = "button";
    card.title = `case ${c.id}: open with its own heatmap`;
    const img = el("img");
    img.src = c.thumbnail_url;
    img.alt = `case ${c.id}`;
    card.append(img, el("span", "score", `similarity ${c.score.toFixed(3)}`), el("span", "labels", labelText(c.labels)));
    card.addEventListener("click", () => openCase(c));
    return card;
  }));
}

function openCase(c) {
  const result = state.result;
  const params = new URLSearchParams({ method: $("method").value, finding: result.finding });
  if (!$("force").checked) params.set("positive_only", String(result.thresholds[result.finding]));
  $("case-title").textContent = `Case ${c.id} · similarity ${c.score.toFixed(3)}`;
  $("case-overlay").src = `${API}/cases/${c.id}/overlay?${params}`;
  $("case-labels").textContent = "Labels: " + Object.entries(c.labels)
    .map(([k, v]) => `${k} ${v === null ? "unknown" : v ? "yes" : "no"}`).join(" · ");
  $("case-view").showModal();
}

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) newFile(e.target.files[0]); });
  for (const type of ["dragover", "drop"]) document.addEventListener(type, (e) => e.preventDefault());
  drop.addEventListener("dragover", () => drop.classList.add("over"));
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) newFile(e.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
  $("method").addEventListener("change", showMethod);
  $("force").addEventListener("change", showMethod);
  $("opacity").addEventListener("input", () => { $("heat").style.opacity = String($("opacity").value / 100); });
  $("finding").addEventListener("change", () => chooseFinding($("finding").value));
  $("case-view").addEventListener("click", (e) => { if (e.target === $("case-view")) $("case-view").close(); });
}

wire();
loadHealth();
