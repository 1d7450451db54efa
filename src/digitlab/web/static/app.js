// digitlab's single page: draw or drop a digit, see the prediction; browse runs.
// Plain DOM code, no build step, no network beyond this server. Text from the server is always
// inserted with textContent (never innerHTML), so run names cannot inject markup.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const pct = (p) => (100 * p).toFixed(1) + "%";
let currentRun = null;
let collecting = false;  // the server saves corrections (serve --collect)
let shown = null;  // {body, run} of the prediction on screen: what a correction sends again

// ---- API ---------------------------------------------------------------------------------------
async function api(path, options) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { /* empty body */ }
  if (!res.ok) throw new Error((body && body.detail) || res.statusText);
  return body;
}
const predictUrl = () => "/api/predict" + (currentRun ? "?run=" + encodeURIComponent(currentRun) : "");

// ---- drawing -----------------------------------------------------------------------------------
const pad = $("#pad");
const ctx = pad.getContext("2d");
let drawing = false, dirty = false, inFlight = false, hasInk = false, last = null;
// Predictions are numbered; an answer is shown only if nothing newer was shown (or cleared) first.
let asked = 0, answered = 0;

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  answered = asked;  // answers still on their way are for a drawing that is gone
  showEmpty("draw a digit");
}

function point(ev) {
  const r = pad.getBoundingClientRect();
  return { x: (ev.clientX - r.left) * pad.width / r.width, y: (ev.clientY - r.top) * pad.height / r.height };
}

function stroke(a, b) {
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 20;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  hasInk = true;
}

pad.addEventListener("pointerdown", (ev) => {
  drawing = true;
  pad.setPointerCapture(ev.pointerId);
  last = point(ev);
  stroke(last, last);
  schedule();
});
pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  const p = point(ev);
  stroke(last, p);
  last = p;
  schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (drawing) { drawing = false; schedule(); } });
}

// Live prediction: at most one request in flight; the newest drawing is sent when it returns.
// The result card is aria-busy while any prediction is asked for and not yet shown, so a screen
// reader (or a test) reads the settled answer, not each stroke's.
let pending = 0;
function busy(delta) {
  pending += delta;
  $("#result").setAttribute("aria-busy", String(pending > 0));
}

function schedule() {
  dirty = true;
  if (!inFlight) sendCanvas();
}

function sendCanvas() {
  if (!dirty || !hasInk) return;
  dirty = false;
  inFlight = true;
  busy(+1);
  pad.toBlob(async (blob) => {
    try {
      await predict(blob);
    } finally {
      inFlight = false;
      if (dirty) sendCanvas();  // stays busy: the newer drawing is counted before this one leaves
      busy(-1);
    }
  }, "image/png");
}

async function predict(body) {
  // always an image/* or octet-stream type: the server refuses bodies any other site could post
  // (no type, text/plain, forms), and a dropped file's type can be empty
  const type = body.type && body.type.startsWith("image/") ? body.type : "application/octet-stream";
  const n = ++asked;
  let r, error = null;
  try {
    r = await api(predictUrl(), { method: "POST", body, headers: { "content-type": type } });
  } catch (err) {
    error = err;
  }
  if (n <= answered) return;
  answered = n;
  if (error) {
    showEmpty(error.message, true);
    return;
  }
  show(r);
  shown = { body, type, run: r.run, size: r.size };
  showCorrect();
}

// ---- upload & drag-and-drop --------------------------------------------------------------------
function useFile(file) {
  if (!file) return;
  clearPad();  // before asking: the upload's answer must be newer than the clearing
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {  // show the upload on the pad, scaled to fit
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    ctx.drawImage(img, (pad.width - img.width * s) / 2, (pad.height - img.height * s) / 2, img.width * s, img.height * s);
    URL.revokeObjectURL(url);
  };
  img.onerror = () => URL.revokeObjectURL(url);
  img.src = url;
  busy(+1);
  predict(file).finally(() => busy(-1));  // the original bytes, not the canvas copy
}
$("#file").addEventListener("change", (ev) => { useFile(ev.target.files[0]); ev.target.value = ""; });
const drop = $("#drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  useFile(ev.dataTransfer.files[0]);
});
$("#clear").addEventListener("click", clearPad);

// ---- result display ----------------------------------------------------------------------------
function buildBars(classes) {
  const bars = $("#bars");
  bars.replaceChildren();
  for (const c of classes) {
    const bar = el("div", "bar");
    bar.append(el("div"));
    bars.append(el("span", "cls", c), bar, el("span", "pct", ""));
  }
}

function show(r) {
  const bars = $("#bars");
  if (bars.children.length !== 3 * r.classes.length) buildBars(r.classes);
  const best = r.classes.indexOf(r.prediction);
  r.probabilities.forEach((p, i) => {
    const bar = bars.children[3 * i + 1];
    bar.classList.toggle("best", i === best);
    bar.firstChild.style.width = (100 * p).toFixed(1) + "%";
    bars.children[3 * i + 2].textContent = pct(p);
  });
  $("#digit").textContent = r.prediction;
  $("#confidence").textContent = pct(r.probability) + (r.top.length > 1 ? " · runner-up " + r.top[1].class + " (" + pct(r.top[1].probability) + ")" : "");
  // which run answered and why (the server's default is `best` unless a run was named)
  $("#answered-by").textContent = "run " + r.run + (r.run_reason ? " · " + r.run_reason : "");
  $("#seen").src = r.input;
  $("#seen-size").textContent = r.size + "×" + r.size + " px";
  const notes = [...r.notes];
  if (r.scores !== "probability") notes.push("scores are a " + r.scores);
  setStatus(notes.join(" · "));
}

function showEmpty(message, isError) {
  shown = null;
  showCorrect();
  $("#digit").textContent = "–";
  $("#confidence").textContent = isError ? "" : message;
  $("#seen").removeAttribute("src");
  $("#seen-size").textContent = "";
  for (const b of document.querySelectorAll(".bar > div")) b.style.width = "0";
  for (const p of document.querySelectorAll(".bars .pct")) p.textContent = "";
  setStatus(isError ? message : "", isError);
}

function setStatus(text, isError) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("error", !!isError);
}

// ---- "that's wrong, it's a 4" -----------------------------------------------------------------
async function loadCollect() {
  let st = { enabled: false };
  try { st = await api("/api/collect"); } catch (err) { /* an older server: no corrections */ }
  collecting = !!st.enabled;
  const box = $("#correct-buttons");
  box.replaceChildren();
  for (const c of st.classes || []) {
    const b = el("button", "", c);
    b.type = "button";
    b.title = "save this drawing as a " + c + " (for `digitlab train --add`)";
    b.addEventListener("click", () => correct(c, b));
    box.append(b);
  }
  showCorrect();
}

function showCorrect() {
  // only for a prediction on screen, by a model taking the collection's 28x28 digits
  $("#correct").classList.toggle("hidden", !(collecting && shown && shown.size === 28));
  for (const b of document.querySelectorAll("#correct-buttons button")) b.classList.remove("saved");
}

async function correct(label, button) {
  if (!shown) return;
  const url = "/api/collect?label=" + encodeURIComponent(label) + "&run=" + encodeURIComponent(shown.run);
  try {
    const r = await api(url, { method: "POST", body: shown.body, headers: { "content-type": shown.type } });
    for (const b of document.querySelectorAll("#correct-buttons button")) b.classList.remove("saved");
    button.classList.add("saved");
    const what = r.status === "duplicate" ? "already saved as " + r.label
      : r.status === "relabelled" ? "moved from " + r.previous + " to " + r.label : "saved as " + r.label;
    setStatus(what + " · " + r.samples + " collected");
  } catch (err) {
    setStatus(err.message, true);
  }
}

// ---- runs --------------------------------------------------------------------------------------
async function loadRuns() {
  let runs = [];
  try { runs = await api("/api/runs"); } catch (err) { setStatus(err.message, true); }
  const select = $("#run-select");
  select.replaceChildren();
  if (!runs.length) {
    select.append(el("option", "", "no runs — train one with `digitlab train`"));
    return;
  }
  for (const r of runs) {
    const acc = r.accuracy == null ? "" : " · " + pct(r.accuracy);
    const o = el("option", "", r.id + (r.invalid ? " · invalid" : acc));
    o.value = r.id;
    o.disabled = !!r.invalid;
    select.append(o);
  }
  const usable = runs.filter((r) => !r.invalid);
  if (!usable.length) return;
  if (!usable.some((r) => r.id === currentRun)) currentRun = (usable.find((r) => r.default) || usable[0]).id;
  select.value = currentRun;
  buildBars(runs.find((r) => r.id === currentRun).classes);
  fillRunsTable(runs);
}

$("#run-select").addEventListener("change", (ev) => {
  currentRun = ev.target.value;
  schedule();  // re-predict the current drawing with the new model (after any answer in flight)
});

function fmt(v, digits) { return v == null ? "–" : Number(v).toFixed(digits); }

function fillRunsTable(runs) {
  const tbody = $("#runs-table tbody");
  tbody.replaceChildren();
  for (const r of runs) {
    const tr = el("tr");
    tr.dataset.id = r.id;
    if (r.invalid) {  // listed so the user sees it, but it cannot be opened
      tr.className = "invalid";
      tr.append(el("td", "", r.id), el("td", "", "invalid run.json: " + r.invalid));
      tr.lastChild.colSpan = 7;
      tbody.append(tr);
      continue;
    }
    tr.append(el("td", "", r.id), el("td", "", r.dataset || ""), el("td", "", r.model || ""), el("td", "", r.task),
      el("td", "num", fmt(r.accuracy, 4)), el("td", "num", fmt(r.f1, 4)), el("td", "num", fmt(r.fit_seconds, 1)),
      el("td", "", r.evaluated ? "yes" : "not evaluated"));
    tr.addEventListener("click", () => openRun(r.id));
    tbody.append(tr);
  }
}

let detail = null;

async function openRun(id) {
  for (const tr of document.querySelectorAll("#runs-table tbody tr")) tr.classList.toggle("selected", tr.dataset.id === id);
  try { detail = await api("/api/runs/" + encodeURIComponent(id)); } catch (err) { setStatus(err.message, true); return; }
  $("#run-detail").classList.remove("hidden");
  $("#detail-title").textContent = detail.id;
  const params = Object.entries(detail.params).map(([k, v]) => k + "=" + v).join(", ") || "default parameters";
  $("#detail-meta").textContent = [detail.model, detail.dataset, detail.task, params,
    detail.split.n_train + " train / " + detail.split.n_test + " test images"].join(" · ");
  $("#not-evaluated").classList.toggle("hidden", !!detail.confusion);
  $("#gallery").replaceChildren();
  $("#gallery-title").textContent = "click a cell to see those test digits";
  const det = $("#detector");
  det.classList.toggle("hidden", !detail.detector);
  if (detail.detector) {
    const s = detail.detector.y_score;
    const slider = $("#threshold");
    slider.min = Math.min(...s); slider.max = Math.max(...s);
    slider.value = detail.detector.threshold;
    updateThreshold();
  } else if (detail.confusion) {
    drawMatrix(detail.confusion.matrix, detail.confusion.labels);
  } else {
    $("#cm").replaceChildren();
  }
  drawRobustness(detail.robustness);
}

function drawRobustness(rob) {
  $("#robustness").classList.toggle("hidden", !rob);
  const table = $("#rob-table");
  table.replaceChildren();
  if (!rob) return;
  $("#rob-title").textContent = "Accuracy under corruption (" + rob.n_test + " test images): clean " +
    pct(rob.clean) + ", mean over corruptions " + (rob.mean == null ? "–" : pct(rob.mean));
  const head = el("tr");
  head.append(el("th", "", "corruption"), ...rob.severities.map((s) => el("th", "", "severity " + s)));
  table.append(head);
  for (const [name, accs] of Object.entries(rob.accuracy)) {
    const tr = el("tr");
    tr.append(el("td", "", name), ...accs.map((a) => el("td", "", pct(a))));
    table.append(tr);
  }
}

function counts(thr) {
  const { y_true, y_score } = detail.detector;
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < y_true.length; i++) {
    const pos = y_score[i] >= thr;
    if (y_true[i]) pos ? tp++ : fn++; else pos ? fp++ : tn++;
  }
  return { tp, fp, fn, tn };
}

function updateThreshold() {
  const thr = Number($("#threshold").value);
  const c = counts(thr);
  $("#thr-value").textContent = thr.toFixed(3);
  $("#precision").textContent = c.tp + c.fp ? (c.tp / (c.tp + c.fp)).toFixed(3) : "–";
  $("#recall").textContent = c.tp + c.fn ? (c.tp / (c.tp + c.fn)).toFixed(3) : "–";
  for (const k of ["tp", "fp", "fn", "tn"]) $("#" + k).textContent = c[k];
  // rows = true class index (0 = negative), columns = predicted
  drawMatrix([[c.tn, c.fp], [c.fn, c.tp]], detail.confusion.labels, thr);
}
$("#threshold").addEventListener("input", updateThreshold);

function drawMatrix(m, labels, thr) {
  const table = $("#cm");
  table.replaceChildren();
  const max = Math.max(1, ...m.flat());
  const head = el("tr");
  head.append(el("th", "axis", "true ↓ pred →"));
  for (const l of labels) head.append(el("th", "", l));
  table.append(head);
  m.forEach((row, t) => {
    const tr = el("tr");
    tr.append(el("th", "", labels[t]));
    row.forEach((v, p) => {
      const td = el("td", "", String(v));
      const a = Math.sqrt(v / max);
      td.style.background = t === p ? `rgba(47,111,222,${0.08 + 0.85 * a})` : `rgba(192,57,43,${v ? 0.08 + 0.8 * a : 0.02})`;
      td.style.color = a > 0.55 ? "#fff" : "";
      td.title = `true ${labels[t]}, predicted ${labels[p]}: ${v}`;
      td.addEventListener("click", () => showCell(t, p, thr, td));
      tr.append(td);
    });
    table.append(tr);
  });
}

async function showCell(t, p, thr, td) {
  for (const c of document.querySelectorAll("#cm td")) c.classList.remove("sel");
  td.classList.add("sel");
  let q = `/api/runs/${encodeURIComponent(detail.id)}/errors?true=${t}&pred=${p}`;
  if (thr !== undefined) q += "&threshold=" + thr;
  const gallery = $("#gallery");
  try {
    const r = await api(q);
    $("#gallery-title").textContent = `true ${r.true_class}, predicted ${r.pred_class}: ${r.count} test digits` +
      (r.count > r.images.length ? ` (first ${r.images.length})` : "");
    gallery.replaceChildren(...r.images.map((im) => {
      const img = el("img");
      img.src = im.png;
      img.alt = "test digit #" + im.index;
      img.title = "#" + im.index;
      return img;
    }));
  } catch (err) {
    $("#gallery-title").textContent = err.message;
    gallery.replaceChildren();
  }
}

// ---- tabs & start ------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    for (const name of ["draw", "runs"]) $("#tab-" + name).classList.toggle("hidden", tab.dataset.tab !== name);
    if (tab.dataset.tab === "runs") loadRuns();
  });
}
clearPad();
loadRuns();
loadCollect();
