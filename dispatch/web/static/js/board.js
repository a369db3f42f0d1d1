// The dispatcher's live board: a day's delivery windows, the chosen window's plan on a map and
// as route cards, planning and re-planning, moving stops between couriers, the couriers' GPS
// fixes and the recent events. Everything polls every few seconds (`?poll=` in ms changes it);
// `?day=YYYY-MM-DD&window=ID` opens a day and window (the page keeps them in its address).
import {
  api, ApiError, capitalise, errorText, fmtDay, fmtKg, fmtKm, fmtRange, fmtTime, h, showAlert, statusWords, timeZone,
} from "/static/js/api.js";
import { refreshAlerts } from "/static/js/board_alerts.js";
import { renderEvents } from "/static/js/board_events.js";
import { BoardMap } from "/static/js/board_map.js";
import { renderRoutes, renderUnassigned, routeColour, routeStops } from "/static/js/board_routes.js";
import { liveUpdates } from "/static/js/live.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);
const POLL_MS = Math.min(Math.max(Number(params.get("poll")) || 5000, 500), 600000);
/** Shifts in these statuses still ride: a stop can move to them. */
const RIDING_SHIFTS = new Set(["scheduled", "on_duty"]);
/** Windows that can be planned (or re-planned) from the board. */
const PLANNABLE = new Set(["open", "closed", "planned"]);

const state = {
  day: params.get("day") || todayInTown(),
  windowId: Number(params.get("window")) || null,
  windows: [],
  windowsLoaded: false,
  plan: null,
  planKey: "",
  targets: [],
  couriers: null,
  busy: false,
  // Refusals shown on their stop; kept across redraws (a push may redraw the list at once).
  stopNotes: new Map(),
};
const boardMap = new BoardMap($("map"));
const mapReady = boardMap.init().catch((error) => showAlert(`The map could not load: ${errorText(error)}`));

// ── days and windows ───────────────────────────────────────────────────────────────────────

function todayInTown() {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timeZone(), year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date());
  return parts.slice(0, 10);
}

function addDays(day, n) {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + n);
  return date.toISOString().slice(0, 10);
}

function syncUrl() {
  const next = new URLSearchParams(window.location.search);
  next.set("day", state.day);
  if (state.windowId) next.set("window", String(state.windowId));
  else next.delete("window");
  window.history.replaceState(null, "", `${window.location.pathname}?${next}`);
}

function selected() {
  return state.windows.find((w) => w.id === state.windowId) || null;
}

/** Show `day`; `remember` puts the day and window in the address (not on first load). */
async function loadDay(day, { remember = true } = {}) {
  state.day = day;
  $("day").value = day;
  state.windows = [];
  state.windowsLoaded = false;
  state.targets = [];
  renderWindows();
  await refreshWindows();
  const keep = selected();
  const pick = keep || state.windows.find((w) => w.planned) || state.windows[0] || null;
  await selectWindow(pick ? pick.id : null, { remember });
}

async function refreshWindows() {
  try {
    state.windows = await api(`/api/board/windows?day=${encodeURIComponent(state.day)}`);
    state.windowsLoaded = true;
    renderWindows();
  } catch (error) {
    $("windows-status").textContent = errorText(error);
    $("windows-status").hidden = false;
    throw error;
  }
}

function renderWindows() {
  const status = $("windows-status");
  if (!state.windowsLoaded) {
    status.textContent = "Loading windows…";
    status.hidden = false;
  } else {
    status.textContent = "No delivery windows on this day.";
    status.hidden = state.windows.length > 0;
  }
  const now = Date.now();
  $("windows").replaceChildren(...state.windows.map((win) => {
    const cutoffPassed = new Date(win.cutoff_at).getTime() <= now;
    return h("li", {},
      h("button", {
        type: "button",
        class: "board-window",
        "aria-pressed": String(win.id === state.windowId),
        dataset: { windowId: String(win.id), status: win.status, planned: String(win.planned) },
        onclick: () => selectWindow(win.id),
      },
      h("span", { class: "spread" },
        h("strong", {}, fmtRange(win.starts_at, win.ends_at)),
        h("span", { class: "badge", dataset: { status: win.status } }, statusWords(win.status))),
      h("span", { class: "small muted" }, `Cutoff ${fmtTime(win.cutoff_at)}${cutoffPassed ? " (passed)" : ""}`),
      h("span", { class: "small" },
        `${win.orders} orders · ${win.parcels} parcels · ${fmtKg(win.weight_g)}`),
      h("span", { class: `small ${win.planned ? "" : "muted"}` }, win.planned ? "Plan ready" : "Not planned yet")));
  }));
}

async function selectWindow(id, { remember = true } = {}) {
  const changed = id !== state.windowId;
  state.windowId = id;
  if (changed) state.stopNotes.clear();
  if (remember) syncUrl();
  renderWindows();
  if (changed) {
    state.plan = null;
    state.planKey = "";
    $("plan-message").hidden = true;
    $("routes").replaceChildren();
    $("unassigned-card").hidden = true;
  }
  renderHeader();
  await Promise.all([refreshPlan({ force: true }), loadTargets()]);
}

// ── the plan ───────────────────────────────────────────────────────────────────────────────

function renderHeader() {
  const win = selected();
  const button = $("plan-button");
  if (!win) {
    $("plan-heading").textContent = state.windows.length ? "Choose a window" : "No window to show";
    $("plan-summary").textContent = "";
    button.hidden = true;
    setPlanStatus(state.windows.length ? "Choose a delivery window to see its plan." : "");
    return;
  }
  $("plan-heading").textContent = `Window ${fmtDay(win.starts_at)} ${fmtRange(win.starts_at, win.ends_at)}`;
  const plan = state.plan;
  const bits = [capitalise(statusWords(win.status))];
  if (plan) {
    const stops = plan.routes.reduce((n, route) => n + routeStops(route).length, 0);
    bits.push(`${plan.routes.length} ${plan.routes.length === 1 ? "route" : "routes"}`,
      `${stops} stops`, `${plan.unassigned.length} unassigned`, fmtKm(plan.distance_m),
      `solved in ${plan.solve_s.toFixed(1)} s`, `planned at ${fmtTime(plan.created_at)}`);
  } else {
    bits.push(`${win.orders} orders`, `cutoff ${fmtTime(win.cutoff_at)}`);
  }
  $("plan-summary").textContent = bits.join(" · ");
  if (!state.busy) {
    button.textContent = win.planned ? "Re-plan" : "Plan now";
    button.disabled = false;
  }
  button.hidden = !PLANNABLE.has(win.status);
}

function setPlanStatus(text) {
  $("plan-status").textContent = text;
  $("plan-status").hidden = !text;
}

function showMessage(text, kind) {
  const box = $("plan-message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

/** Fetch the selected window's plan; redraw only when it changed (or with `force`). */
async function refreshPlan({ force = false } = {}) {
  const win = selected();
  if (!win) {
    await showPlan(null, force);
    return;
  }
  if (!win.planned) {
    await showPlan(null, force);
    return;
  }
  if (force && !state.plan) setPlanStatus("Loading the plan…");
  try {
    const plan = await api(`/api/board/windows/${win.id}/plan`);
    if (win.id === state.windowId) await showPlan(plan, force);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) await showPlan(null, force);
    else throw error;
  }
}

async function showPlan(plan, force) {
  const key = plan ? JSON.stringify(plan) : `none:${state.windowId}`;
  if (key === state.planKey && !force) return;
  // Someone is choosing where to move a stop: redraw on the next poll instead.
  if (!force && $("routes").contains(document.activeElement) && document.activeElement.tagName === "SELECT") return;
  const windowId = state.windowId;
  const paths = plan ? await api(`/api/board/windows/${plan.window_id}/paths`) : [];
  if (windowId !== state.windowId) return;
  state.plan = plan;
  state.planKey = key;
  renderHeader();
  const win = selected();
  if (!plan) {
    $("routes").replaceChildren();
    $("unassigned-card").hidden = true;
    setPlanStatus(win ? notPlannedText(win) : "");
  } else {
    setPlanStatus(plan.routes.length ? "" : "The plan has no routes: no parcel could be placed on a courier.");
    const chosen = chosenTargets();
    renderRoutes($("routes"), plan, {
      targets: moveTargets(),
      canMove: plan.window_status === "planned",
      onMove: moveStop,
    });
    import("/static/js/board_dropout.js").then(({ addDropOutButtons }) => addDropOutButtons($("routes"), plan, {
      onDone: () => refreshPlan({ force: true }), showMessage,
    }));
    restoreTargets(chosen);
    applyStopNotes();
    renderUnassigned($("unassigned"), $("unassigned-empty"), plan);
    $("unassigned-card").hidden = false;
  }
  await mapReady;
  boardMap.showPlan(plan, paths, windowId);
}

function notPlannedText(win) {
  if (win.status === "open") {
    return new Date(win.cutoff_at) > new Date()
      ? `Not planned yet: the window takes orders until ${fmtTime(win.cutoff_at)}. Plan now closes it early.`
      : "Not planned yet: the cutoff has passed, so it can be planned now.";
  }
  if (PLANNABLE.has(win.status)) return "Not planned yet.";
  return `This window is ${statusWords(win.status)} and has no plan.`;
}

async function planNow() {
  const win = selected();
  if (!win || state.busy) return;
  let force = false;
  if (win.status === "open" && new Date(win.cutoff_at) > new Date()) {
    if (!(await confirmClose(win))) return;
    force = true;
  }
  const button = $("plan-button");
  state.busy = true;
  button.disabled = true;
  button.textContent = "Planning…";
  showMessage("Planning… this takes a few seconds.", "info");
  try {
    const plan = await api(`/api/board/windows/${win.id}/plan${force ? "?force=true" : ""}`, { method: "POST" });
    await refreshWindows();
    await showPlan(plan, true);
    showMessage(`Planned: ${plan.routes.length} ${plan.routes.length === 1 ? "route" : "routes"}, `
      + `${plan.unassigned.length} ${plan.unassigned.length === 1 ? "parcel" : "parcels"} unassigned, `
      + `solved in ${plan.solve_s.toFixed(1)} s.`, "success");
  } catch (error) {
    showMessage(`Not planned: ${errorText(error)}`, "error");
  } finally {
    state.busy = false;
    renderHeader();
  }
}

function confirmClose(win) {
  const dialog = $("close-dialog");
  $("close-dialog-text").textContent = `The window ${fmtRange(win.starts_at, win.ends_at)} takes orders `
    + `until ${fmtTime(win.cutoff_at)}. Planning it now closes it: customers can no longer order for it.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

// ── moving stops ───────────────────────────────────────────────────────────────────────────

async function loadTargets() {
  const win = selected();
  state.targets = [];
  if (!win) return;
  try {
    state.couriers = state.couriers || await api("/api/couriers");
    const shifts = await api(`/api/shifts?day=${encodeURIComponent(win.day)}`);
    const names = new Map(state.couriers.map((c) => [c.id, c.name]));
    state.targets = shifts
      .filter((s) => RIDING_SHIFTS.has(s.status) && s.starts_at < win.ends_at && s.ends_at > win.starts_at)
      .map((s) => ({ shift_id: s.id, name: names.get(s.courier_id) || `Shift ${s.id}` }));
  } catch (error) {
    showAlert(`Couriers on shift could not load: ${errorText(error)}`);
  }
  if (state.plan && win.id === state.windowId) await showPlan(state.plan, true);
}

/** Where a stop can go: the plan's other routes first, then couriers on shift without one. */
function moveTargets() {
  const routes = (state.plan ? state.plan.routes : []).map((route) => ({
    shift_id: route.shift_id, name: route.courier_name || `Shift ${route.shift_id}`,
  }));
  const inPlan = new Set(routes.map((r) => r.shift_id));
  const spare = state.targets.filter((t) => !inPlan.has(t.shift_id))
    .map((t) => ({ ...t, name: `${t.name} (no route yet)` }));
  return [...routes, ...spare];
}

async function moveStop(stop, shiftId, { button, message }) {
  if (state.busy) return;
  const target = moveTargets().find((t) => t.shift_id === shiftId);
  const name = target ? target.name : `shift ${shiftId}`;
  state.busy = true;
  button.disabled = true;
  button.textContent = "Moving…";
  message.hidden = true;
  try {
    const plan = await api(`/api/board/stops/${stop.id}/move`, { method: "POST", body: { shift_id: shiftId } });
    state.stopNotes.clear();
    await showPlan(plan, true);
    showMessage(`Moved the ${stop.kind} for order ${stop.order_id} to ${name}.`, "success");
  } catch (error) {
    const words = errorText(error);
    message.textContent = `Not moved: ${words}`;
    message.dataset.kind = "error";
    message.hidden = false;
    state.stopNotes.set(stop.id, message.textContent);
    applyStopNotes(); // the list may have been drawn again while the move was asked for
    showMessage(`The ${stop.kind} for order ${stop.order_id} was not moved to ${name}: ${words}`, "error");
    button.disabled = false;
    button.textContent = "Move";
  } finally {
    state.busy = false;
  }
}

/** The courier chosen in each stop's "Move to" list, so a live redraw does not undo a choice. */
function chosenTargets() {
  return new Map([...$("routes").querySelectorAll(".board-stop[data-stop-id] select")]
    .map((select) => [select.closest(".board-stop").dataset.stopId, select.value]));
}

function restoreTargets(chosen) {
  for (const [stopId, value] of chosen) {
    const select = $("routes").querySelector(`.board-stop[data-stop-id="${stopId}"] select`);
    if (select && [...select.options].some((option) => option.value === value)) select.value = value;
  }
}

/** Put the kept refusals back on their stops after the list was drawn again. */
function applyStopNotes() {
  for (const [stopId, text] of state.stopNotes) {
    const row = document.querySelector(`.board-stop[data-stop-id="${stopId}"]`);
    if (!row) continue;
    let note = row.querySelector(".board-message");
    if (!note) {
      note = document.createElement("p");
      note.className = "board-message small";
      note.setAttribute("role", "status");
      row.append(note);
    }
    note.textContent = text;
    note.dataset.kind = "error";
    note.hidden = false;
  }
}

// ── live updates ───────────────────────────────────────────────────────────────────────────

async function refreshPositions() {
  const positions = await api("/api/board/positions");
  const colours = new Map();
  (state.plan ? state.plan.routes : []).forEach((route, index) => {
    if (route.courier_id !== null) colours.set(route.courier_id, routeColour(index));
  });
  await mapReady;
  boardMap.showPositions(positions, (courierId) => colours.get(courierId));
}

async function refreshEvents() {
  renderEvents($("events"), $("events-status"), await api("/api/board/events?limit=20"));
}

async function poll() {
  // A board in a background tab does not poll; it catches up on the next turn once shown.
  if (!state.busy && !document.hidden) {
    const results = await Promise.allSettled([
      refreshWindows().then(() => (state.busy ? null : refreshPlan())),
      refreshPositions(),
      refreshEvents(),
      refreshAlerts(state.windowId),
    ]);
    const failed = results.find((r) => r.status === "rejected");
    $("live").textContent = failed
      ? `Updates failed (${errorText(failed.reason)}); retrying`
      : `Live · updated ${fmtTime(new Date().toISOString())}`;
  }
  live.schedulePoll(POLL_MS);
}

// ── start ──────────────────────────────────────────────────────────────────────────────────

// Pushed over SSE; the poll runs only while the stream is down (dispatch/web/static/js/live.js).
const live = liveUpdates("/api/live/board", { poll, position: refreshPositions, pollMs: POLL_MS });

$("plan-button").addEventListener("click", planNow);
$("day").addEventListener("change", () => { if ($("day").value) loadDay($("day").value); });
$("day-prev").addEventListener("click", () => loadDay(addDays(state.day, -1)));
$("day-next").addEventListener("click", () => loadDay(addDays(state.day, 1)));
$("day-today").addEventListener("click", () => loadDay(todayInTown()));
$("day-form").addEventListener("submit", (event) => event.preventDefault());

loadDay(state.day, { remember: false })
  .catch((error) => showAlert(errorText(error)))
  .finally(() => { live.start(); });
