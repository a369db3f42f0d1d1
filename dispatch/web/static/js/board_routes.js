// The board's route cards (one per courier, with its stops and a "Move to" control per stop)
// and the list of parcels the planner left out.
import { fmtKm, fmtRange, fmtTime, h, statusWords } from "/static/js/api.js";
import { ROUTE_COLOURS } from "/static/js/map.js";

/** Stop statuses after which nothing more happens at a stop. */
const CLOSED_STOPS = new Set(["done", "failed", "skipped", "cancelled"]);

export function routeColour(index) {
  return ROUTE_COLOURS[index % ROUTE_COLOURS.length];
}

export function isClosedStop(stop) {
  return CLOSED_STOPS.has(stop.status);
}

/** A route's stops over all its trips, numbered 1… as on the map. */
export function routeStops(route) {
  const out = [];
  for (const trip of route.trips) {
    for (const stop of trip.stops) out.push({ stop, trip, number: out.length + 1 });
  }
  return out;
}

function routeState(stops) {
  if (stops.length && stops.every(({ stop }) => isClosedStop(stop))) return "done";
  if (stops.some(({ stop }) => stop.status !== "planned")) return "running";
  return "planned";
}

const STATE_WORDS = { done: "Route done", running: "On the road", planned: "Planned" };

/**
 * Route cards into `container`. `targets` are the couriers a stop can move to
 * ([{shift_id, name}]); `onMove(stop, shiftId, {button, message})` moves one.
 */
export function renderRoutes(container, plan, { targets, canMove, onMove }) {
  container.replaceChildren(
    ...plan.routes.map((route, index) => routeCard(route, index, { targets, canMove, onMove })),
  );
}

/** Whether each route's stop list is open (kept across redraws); wide screens open them. */
const openLists = new Map();

function routeCard(route, index, { targets, canMove, onMove }) {
  const stops = routeStops(route);
  const state = routeState(stops);
  const closed = stops.filter(({ stop }) => isClosedStop(stop)).length;
  const failed = stops.filter(({ stop }) => stop.status === "failed").length;
  const name = route.courier_name || `Shift ${route.shift_id}`;
  const headingId = `route-${route.id}-name`;
  const others = targets.filter((target) => target.shift_id !== route.shift_id);

  const trips = route.trips.map((trip) => h("li", { class: "board-trip" },
    h("p", { class: "small muted" },
      `Trip ${trip.number}: leaves the hub ${fmtTime(trip.departs_at)}, back ${fmtTime(trip.returns_at)}`),
    h("ol", { class: "list board-stops" },
      stops.filter((item) => item.trip === trip).map((item) => stopRow(item, others, canMove, onMove))),
  ));
  const open = openLists.has(route.id) ? openLists.get(route.id) : window.matchMedia("(min-width: 1000px)").matches;
  const details = h("details", { class: "board-stop-list", open },
    h("summary", {}, `${stops.length} ${stops.length === 1 ? "stop" : "stops"} in ${route.trips.length} `
      + `${route.trips.length === 1 ? "trip" : "trips"}`),
    h("ul", { class: "list board-trips" }, trips));
  details.addEventListener("toggle", () => openLists.set(route.id, details.open));

  return h("article", {
    class: "card board-route",
    "aria-labelledby": headingId,
    dataset: { routeId: String(route.id), shiftId: String(route.shift_id), routeState: state },
  },
  h("div", { class: "spread" },
    h("h3", { id: headingId, class: "row nowrap" },
      h("span", { class: "swatch", style: `background:${routeColour(index)}`, "aria-hidden": "true" }),
      name),
    h("span", { class: "badge", dataset: { status: state } }, STATE_WORDS[state])),
  h("p", { class: "small board-route-facts" },
    `${fmtRange(route.starts_at, route.ends_at)} · ${fmtKm(route.distance_m)} · `,
    h("strong", { class: "route-progress" }, `${closed}/${stops.length} stops done`),
    failed ? ` (${failed} failed)` : ""),
  details);
}

function stopRow({ stop, number }, others, canMove, onMove) {
  const kind = stop.kind === "pickup" ? "Pickup" : "Delivery";
  const what = stop.order_id ? `${kind}, order ${stop.order_id}` : kind;
  const row = h("li", { class: "board-stop", dataset: { stopId: String(stop.id), status: stop.status } },
    h("div", { class: "board-stop-line" },
      h("span", { class: "stop-number", "aria-hidden": "true" }, number),
      h("span", { class: "board-stop-what" },
        h("strong", {}, fmtTime(stop.planned_arrival)), ` ${what}`,
        stop.done_at ? h("span", { class: "muted small" }, ` · at ${fmtTime(stop.done_at)}`) : ""),
      h("span", { class: "badge", dataset: { status: stop.status } }, statusWords(stop.status))),
    stop.failure_reason ? h("p", { class: "small muted" }, `Failed: ${stop.failure_reason}`) : "");
  if (canMove && stop.status === "planned" && others.length) row.append(moveControl(stop, number, others, onMove));
  return row;
}

function moveControl(stop, number, others, onMove) {
  const id = `move-${stop.id}`;
  const select = h("select", { id, name: "shift_id" },
    others.map((target) => h("option", { value: String(target.shift_id) }, target.name)));
  const button = h("button", { type: "submit" }, "Move");
  const message = h("p", { class: "board-message small", role: "status", hidden: true });
  const form = h("form", { class: "board-move", novalidate: true },
    h("div", { class: "board-move-row" },
      h("label", { for: id, class: "small" }, `Move stop ${number} to`), select, button),
    message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onMove(stop, Number(select.value), { button, message });
  });
  return form;
}

export function renderUnassigned(list, empty, plan) {
  empty.hidden = plan.unassigned.length > 0;
  list.replaceChildren(...plan.unassigned.map((item) => h("li", {},
    h("strong", {}, item.parcel_id ? `Parcel ${item.parcel_id}` : "A parcel"), `: ${item.reason}`)));
}
