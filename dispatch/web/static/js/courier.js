// The courier's phone app: my shift, my route (trips, hub loading, stops), the map, GPS while
// on duty, an offline queue for stop actions, and a banner when the route is re-planned.
// The service worker (/courier/sw.js) keeps the shell; the last route is kept here.
/* global L */
import { api, errorText, fmtDay, fmtRange, fmtKm, showAlert, statusWords } from "/static/js/api.js";
import { townMap, labelledMarker, hubMarker, ROUTE_COLOURS } from "/static/js/map.js";
import { Gps } from "/static/js/courier_gps.js";
import * as queue from "/static/js/courier_queue.js";
import { OPEN, routeItems, lastLoadedWords } from "/static/js/courier_view.js";

const ROUTE_KEY = "velocal.courier.route";
const MAX_PHOTO = 2 * 1024 * 1024;
const $ = (id) => document.getElementById(id);
const els = {
  info: $("shift-info"), status: $("shift-status"), button: $("shift-button"), queue: $("queue-status"),
  banner: $("route-banner"), state: $("route-state"), stops: $("stops"), map: $("map"), mapNote: $("map-note"),
};
const asked = new URLSearchParams(window.location.search).get("shift");
const gps = new Gps($("gps-status"));
const errors = new Map(); // "stop-12" / "load-12" → words, shown under that form
let shifts = [];
let shift = null; // ShiftPublic of the route's shift
let route = null; // RoutePublic, as the API last answered (plus answers to my actions)
let signature = null;
let shownNext = null;
let lastPoll = Date.now();
let missing = null; // the API's words when ?shift= has no route to show

// ── what the list shows: the API's state with the waiting actions applied on top ──────────

function view(stop) {
  let status = stop.status;
  let parcelStatus = stop.parcel.status;
  let queued = null;
  for (const action of queue.pending()) {
    if (action.stopId !== stop.id) continue;
    queued = action.kind;
    if (action.kind === "load") parcelStatus = "picked_up";
    if (action.kind === "pickup") [status, parcelStatus] = ["done", "picked_up"];
    if (action.kind === "deliver") [status, parcelStatus] = ["done", "delivered"];
    if (action.kind === "fail") [status, parcelStatus] = ["failed", "failed"];
  }
  return { status, parcelStatus, queued };
}

function allStops() {
  return route ? route.trips.flatMap((trip) => trip.stops) : [];
}

/** Delivery stops of `trip` whose parcel is not picked up at a shop on this route (hub mode). */
function hubLoads(trip) {
  const pickedAtShops = new Set(allStops().filter((s) => s.kind === "pickup").map((s) => s.parcel.id));
  return trip.stops.filter((s) => s.kind === "delivery" && !pickedAtShops.has(s.parcel.id)
    && s.status !== "cancelled");
}

/** What makes a route "changed" for the courier: another plan, other stops, other times. */
function routeSignature(r) {
  if (!r) return "none";
  return JSON.stringify([r.plan_id, r.trips.map((t) => t.stops.map((s) => [s.id, s.planned_arrival, s.status === "cancelled"]))]);
}

// ── drawing ───────────────────────────────────────────────────────────────────────────────

function keepTyped(render) {
  const typed = new Map();
  els.stops.querySelectorAll("input:not([type=file]), select").forEach((node) => typed.set(node.id, node.value));
  const openFail = [...els.stops.querySelectorAll(".courier-fail:not([hidden])")].map((n) => n.closest("li").dataset.stopId);
  render();
  for (const [id, value] of typed) { const node = document.getElementById(id); if (node && value) node.value = value; }
  for (const id of openFail) els.stops.querySelector(`li[data-stop-id="${id}"] .courier-fail-toggle`)?.click();
}

function draw() {
  drawShift();
  drawQueue();
  keepTyped(() => {
    els.stops.replaceChildren();
    if (!route) return;
    const numbers = new Map(allStops().map((s, i) => [s.id, i + 1]));
    const next = allStops().find((s) => OPEN.has(view(s).status));
    const nextId = next ? next.id : null;
    els.stops.append(...routeItems(route, {
      view, number: (s) => numbers.get(s.id), nextId, errors, hubLoads,
      on: { load: onLoad, pickup: onPickup, deliver: onDeliver, fail: onFail },
    }));
    if (nextId !== shownNext) {
      shownNext = nextId;
      els.stops.querySelector(`li[data-stop-id="${nextId}"]`)?.scrollIntoView({ block: "center", behavior: "smooth" });
    }
  });
  if (route) {
    const left = allStops().filter((s) => OPEN.has(view(s).status)).length;
    els.state.textContent = left ? `${left} of ${allStops().length} stops to go` : "All stops are done. Ride back to the hub.";
  }
  drawMap();
}

function drawShift() {
  const status = route ? route.shift_status : shift ? shift.status : null;
  if (shift) {
    const hub = route ? ` · ${route.hub.name}` : "";
    const km = route ? ` · ${fmtKm(route.distance_m)}` : "";
    els.info.textContent = `${fmtDay(shift.starts_at)}, ${fmtRange(shift.starts_at, shift.ends_at)}${hub}${km}`;
  }
  els.status.hidden = !status;
  if (status) {
    els.status.textContent = statusWords(status);
    els.status.dataset.status = status;
  }
  els.button.hidden = !(status === "scheduled" || status === "on_duty");
  els.button.textContent = status === "on_duty" ? "End shift" : "Start shift";
  els.button.className = status === "on_duty" ? "danger big" : "primary big";
  if (status === "on_duty" && !gps.running) gps.start();
  else if (status !== "on_duty" && gps.running) gps.stop();
}

function drawQueue() {
  const waiting = queue.pending().length;
  els.queue.hidden = waiting === 0;
  els.queue.dataset.count = waiting;
  els.queue.textContent = `Waiting to send (${waiting})${navigator.onLine === false ? " · offline" : ""}`;
}

let mapReady = null;
let framed = false;
async function drawMap() {
  if (!route) return;
  mapReady = mapReady || townMap(els.map, { showZone: false }).then((map) => ({ map, layer: L.layerGroup().addTo(map) }));
  let map, layer;
  try {
    ({ map, layer } = await mapReady);
  } catch (error) {
    mapReady = null; // try again on the next drawing
    els.map.hidden = true;
    els.mapNote.hidden = false;
    els.mapNote.textContent = `The map is not available: ${errorText(error)} The stops are listed here.`;
    return;
  }
  els.map.hidden = false;
  els.mapNote.hidden = true;
  layer.clearLayers();
  const hub = [route.hub.lat, route.hub.lon];
  const bounds = L.latLngBounds([hub]);
  let n = 0;
  route.trips.forEach((trip, i) => {
    const colour = ROUTE_COLOURS[i % ROUTE_COLOURS.length];
    if (trip.path.length > 1) L.polyline(trip.path, { color: colour, weight: 4, opacity: 0.8, className: "courier-path" }).addTo(layer);
    for (const stop of trip.stops) {
      n += 1;
      const done = !OPEN.has(view(stop).status);
      labelledMarker([stop.lat, stop.lon], n, { colour, className: done ? "pin-done" : "", title: `${n}. ${stop.name}, ${stop.address}` }).addTo(layer);
      bounds.extend([stop.lat, stop.lon]);
    }
  });
  hubMarker(hub, route.hub.name).addTo(layer);
  if (!framed) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    framed = true;
  }
}

// ── loading the shift and its route ───────────────────────────────────────────────────────

function remember(r) {
  try {
    localStorage.setItem(ROUTE_KEY, JSON.stringify({ savedAt: new Date().toISOString(), route: r }));
  } catch { /* a full phone keeps working without the copy */ }
}

function remembered() {
  try {
    const kept = JSON.parse(localStorage.getItem(ROUTE_KEY) || "null");
    if (kept && (!asked || String(kept.route.shift_id) === asked)) return kept;
  } catch { /* nothing kept */ }
  return null;
}

/** My route: of ?shift=, else of the shift on duty, else of my next shift that has one. */
async function fetchRoute() {
  missing = null;
  if (asked) {
    try {
      return await api(`/api/courier/route?shift_id=${encodeURIComponent(asked)}`);
    } catch (error) {
      if (error.status !== 404) throw error;
      missing = error.message; // "Shift 7 not found": the API's words, never anyone's stops
      shift = shifts.find((s) => String(s.id) === asked) || null;
      return null;
    }
  }
  const now = Date.now();
  const candidates = [
    ...shifts.filter((s) => s.status === "on_duty"),
    ...shifts.filter((s) => s.status !== "on_duty" && Date.parse(s.ends_at) > now),
  ];
  if (route) candidates.unshift({ id: route.shift_id });
  for (const candidate of candidates.slice(0, 4)) {
    try {
      return await api(`/api/courier/route?shift_id=${candidate.id}`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
  }
  shift = candidates[0] && candidates[0].starts_at ? candidates[0] : shift;
  return null;
}

function takeRoute(fresh, { announce }) {
  const changed = routeSignature(fresh) !== signature;
  if (announce && changed && signature !== null) els.banner.hidden = false;
  signature = routeSignature(fresh);
  route = fresh;
  if (route) {
    shift = shifts.find((s) => s.id === route.shift_id) || shift;
    remember(route);
  } else {
    if (!shift) els.info.textContent = asked ? "No shift to show." : "No shift today.";
    els.state.textContent = missing || (shift
      ? "Your route for this shift is not planned yet. It appears here as soon as it is."
      : "You have no shifts from today on.");
  }
  draw();
}

async function load() {
  try {
    shifts = await api("/api/courier/shifts");
    takeRoute(await fetchRoute(), { announce: false });
  } catch (error) {
    const kept = queue.isOffline(error) ? remembered() : null;
    if (kept) {
      route = kept.route;
      signature = routeSignature(route);
      shift = shift || { id: route.shift_id, starts_at: route.starts_at, ends_at: route.ends_at, status: route.shift_status };
      draw();
      showAlert(lastLoadedWords(kept.savedAt), "info");
    } else {
      els.state.textContent = errorText(error); // e.g. "Shift 7 not found": never anyone else's stops
      els.info.textContent = asked ? "This shift cannot be shown." : "";
    }
  }
  document.body.dataset.courierReady = "true";
}

async function poll() {
  lastPoll = Date.now();
  if (navigator.onLine === false) return;
  try {
    if (!asked) shifts = await api("/api/courier/shifts");
    takeRoute(await fetchRoute(), { announce: true });
  } catch (error) {
    if (!queue.isOffline(error)) showAlert(errorText(error));
  }
}

// ── actions ───────────────────────────────────────────────────────────────────────────────

function applyAnswer(action, answer) {
  const stop = allStops().find((s) => s.id === action.stopId);
  if (!stop || !answer) return;
  stop.status = answer.status;
  stop.parcel.status = answer.parcel_status;
  remember(route);
}

const DONE_WORDS = { load: "Loaded", pickup: "Picked up", deliver: "Delivered", fail: "Failure reported" };

/** Send an action now, or queue it when there is no connection. */
async function act(action, key, form) {
  errors.delete(key);
  const buttons = form ? [...form.querySelectorAll("button")] : [];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (navigator.onLine === false) throw new queue.OfflineError();
    applyAnswer(action, await queue.send(action));
    showAlert(`${DONE_WORDS[action.kind]}.`, "success");
  } catch (error) {
    if (queue.isOffline(error)) {
      try {
        queue.enqueue(action);
        showAlert("No connection: it is kept on this phone and sent when you are back online.", "info");
      } catch (full) {
        errors.set(key, full.message);
      }
    } else {
      errors.set(key, errorText(error));
    }
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  draw();
}

function onLoad(stop, code, form) {
  if (!code) return fieldError(form, `load-${stop.id}`, "Type the code on the parcel's label.");
  return act({ kind: "load", stopId: stop.id, body: { label_code: code } }, `load-${stop.id}`, form);
}

function onPickup(stop, code, form) {
  if (!code) return fieldError(form, `stop-${stop.id}`, "Type the code on the parcel's label.");
  return act({ kind: "pickup", stopId: stop.id, body: { label_code: code } }, `stop-${stop.id}`, form);
}

async function onDeliver(stop, form) {
  const key = `stop-${stop.id}`;
  const recipient = form.recipient.value.trim();
  if (!recipient) return fieldError(form, key, "Write the name of the person who took the parcel.");
  const body = { recipient };
  const file = form.photo.files[0];
  if (file) {
    try {
      body.photo = await photoBase64(file);
    } catch (error) {
      return fieldError(form, key, error.message);
    }
  }
  return act({ kind: "deliver", stopId: stop.id, body }, key, form);
}

function onFail(stop, form) {
  const choice = form.reason.value;
  const details = form.reason_details.value.trim();
  const other = choice.startsWith("Other");
  if (other && !details) return fieldError(form, `stop-${stop.id}`, "Write what happened in Details.");
  const reason = other ? details : details ? `${choice}: ${details}` : choice;
  return act({ kind: "fail", stopId: stop.id, body: { reason } }, `stop-${stop.id}`, form);
}

function fieldError(form, key, words) {
  const box = form.querySelector(".form-error");
  errors.set(key, words);
  box.textContent = words;
  box.hidden = false;
}

/** The photo as base64, made smaller (JPEG, at most 1600 px) when it is over 2 MB. */
async function photoBase64(file) {
  let blob = file;
  if (file.size > MAX_PHOTO) {
    const image = await createImageBitmap(file).catch(() => { throw new Error("The photo could not be read: take it again."); });
    const scale = Math.min(1, 1600 / Math.max(image.width, image.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(image.width * scale);
    canvas.height = Math.round(image.height * scale);
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.8));
    if (!blob || blob.size > MAX_PHOTO) throw new Error("The photo is too large (over 2 MB): take a smaller one.");
  }
  const dataUrl = await new Promise((done, fail) => {
    const reader = new FileReader();
    reader.onload = () => done(reader.result);
    reader.onerror = () => fail(new Error("The photo could not be read: take it again."));
    reader.readAsDataURL(blob);
  });
  return String(dataUrl).split(",", 2)[1];
}

async function sendWaiting() {
  if (!queue.pending().length) return;
  const sent = await queue.flush({
    onSent: (action, answer) => applyAnswer(action, answer),
    onRefused: (action, error) => {
      const key = action.kind === "load" ? `load-${action.stopId}` : `stop-${action.stopId}`;
      errors.set(key, `Not sent: ${errorText(error)}`);
      showAlert(`An action kept offline was refused: ${errorText(error)}`);
    },
  });
  if (sent) showAlert(`Back online: ${sent === 1 ? "1 action" : `${sent} actions`} sent.`, "success");
  draw();
  poll();
}

async function shiftAction() {
  const id = route ? route.shift_id : shift && shift.id;
  const status = route ? route.shift_status : shift && shift.status;
  if (!id) return;
  els.button.disabled = true;
  try {
    const answer = await api(`/api/courier/shifts/${id}/${status === "on_duty" ? "end" : "start"}`, { method: "POST" });
    shift = { ...shift, ...answer };
    if (route) route.shift_status = answer.status;
    if (answer.status === "on_duty") gps.start(); // sending again after a 409
    showAlert(answer.status === "on_duty" ? "Your shift has started. Ride safe!" : "Your shift has ended.", "success");
    draw();
  } catch (error) {
    showAlert(queue.isOffline(error) ? "No connection: start or end your shift when you are back online." : errorText(error));
  } finally {
    els.button.disabled = false;
  }
}

// ── wiring ────────────────────────────────────────────────────────────────────────────────

els.button.addEventListener("click", shiftAction);
$("route-banner-close").addEventListener("click", () => { els.banner.hidden = true; });
window.addEventListener("online", () => { drawQueue(); gps.send(); sendWaiting(); });
window.addEventListener("offline", () => { drawQueue(); gps.show(); });
setInterval(() => {
  if (Date.now() - lastPoll >= (window.velocalPollMs || 20000)) poll();
}, 1000);
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/courier/sw.js", { scope: "/courier/" }).catch(() => {
    /* the app works without it, only not offline from a cold start */
  });
}
load().then(sendWaiting);
