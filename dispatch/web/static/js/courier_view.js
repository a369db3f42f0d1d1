// The courier app's route list: trips in order, a "Load at the hub" step at the top of each
// hub-mode trip, and one <li data-stop-id> per stop with its actions. Pure DOM building: what
// happens on a click is the controller's (courier.js) `on` callbacks.
import { h, fmtKg, fmtRange, fmtTime, statusWords } from "/static/js/api.js";

export const OPEN = new Set(["planned", "arrived"]);
const LOADED = new Set(["picked_up", "delivered", "failed", "returned"]);
export const FAIL_REASONS = [
  "Nobody home",
  "Could not get in (door code, gate)",
  "Address not found",
  "Recipient refused the parcel",
  "Parcel damaged",
  "Other (write below)",
];

/**
 * Where "Navigate" goes. One approach, chosen by platform: Android phones get a `geo:` URI,
 * which opens the map app the courier chose (Google Maps, OsmAnd, Organic Maps...); every
 * other phone and desktop gets OpenStreetMap's directions page, which works in any browser.
 */
export function navigateHref(lat, lon) {
  if (/Android/i.test(navigator.userAgent)) return `geo:${lat},${lon}?q=${lat},${lon}`;
  return `https://www.openstreetmap.org/directions?to=${lat},${lon}`;
}

/** Whether a stop's parcel is on the bike (after optimistic updates). */
export function isLoaded(view) {
  return LOADED.has(view.parcelStatus);
}

function parcelWords(parcel) {
  const items = parcel.count === 1 ? "1 item" : `${parcel.count} items`;
  return `${items}, ${fmtKg(parcel.weight_g)} · label …${parcel.label_hint}`;
}

function badge(view) {
  const words = view.queued ? `${statusWords(view.status)} · waiting to send` : statusWords(view.status);
  return h("span", { class: "badge", dataset: { status: view.status } }, words);
}

function errorBox(text) {
  return h("p", { class: "form-error", role: "alert", hidden: !text }, text || "");
}

/** The "Load at the hub" step of a trip: one row per parcel with its label code field. */
function loadStep(trip, stops, ctx) {
  const loaded = stops.filter((s) => isLoaded(ctx.view(s))).length;
  const rows = stops.map((stop) => {
    const view = ctx.view(stop);
    const key = `load-${stop.id}`;
    const head = h("p", {}, h("strong", {}, `Stop ${ctx.number(stop)}`), ` · ${parcelWords(stop.parcel)}`);
    if (isLoaded(view)) {
      const note = view.queued === "load" ? "Loaded · waiting to send" : "Loaded";
      return h("li", { class: "courier-load-item done", dataset: { parcelFor: stop.id } }, head,
        h("span", { class: "badge", dataset: { status: "picked_up" } }, note));
    }
    const id = `load-code-${stop.id}`;
    const form = h("form", { class: "courier-inline", novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      ctx.on.load(stop, form.label_code.value.trim(), form);
    } },
    h("label", { for: id }, "Label code"),
    h("div", { class: "row courier-code" },
      h("input", { id, name: "label_code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "32", required: true }),
      h("button", { type: "submit", class: "primary" }, "Confirm loaded")),
    errorBox(ctx.errors.get(key)));
    return h("li", { class: "courier-load-item", dataset: { parcelFor: stop.id } }, head, form);
  });
  const done = loaded === stops.length;
  return h("li", { class: `courier-load${done ? " done" : ""}`, dataset: { trip: trip.number } },
    h("div", { class: "spread" }, h("h3", {}, "Load at the hub"), h("span", { class: "muted small" }, `${loaded} of ${stops.length} loaded`)),
    done ? null : h("p", { class: "muted small" }, "Type the code printed on each parcel's label as you put it on the bike."),
    h("ul", { class: "list" }, rows));
}

function pickupForm(stop, ctx) {
  const id = `pickup-code-${stop.id}`;
  const form = h("form", { class: "courier-actions", novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    ctx.on.pickup(stop, form.label_code.value.trim(), form);
  } },
  h("label", { for: id }, "Label code"),
  h("input", { id, name: "label_code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "32", required: true }),
  errorBox(ctx.errors.get(`stop-${stop.id}`)),
  h("button", { type: "submit", class: "primary big" }, "Confirm pickup"));
  return form;
}

function deliveryForm(stop, view, ctx) {
  const ids = { recipient: `recipient-${stop.id}`, photo: `photo-${stop.id}`, reason: `reason-${stop.id}`, details: `reason-details-${stop.id}` };
  const failBox = h("div", { class: "courier-fail", hidden: true },
    h("label", { for: ids.reason }, "Reason"),
    h("select", { id: ids.reason, name: "reason" }, FAIL_REASONS.map((r) => h("option", { value: r }, r))),
    h("label", { for: ids.details }, "Details (optional)"),
    h("input", { id: ids.details, name: "reason_details", autocomplete: "off", maxlength: "400" }),
    h("button", { type: "button", class: "danger big", onclick: () => ctx.on.fail(stop, form) }, "Report failure"));
  const form = h("form", { class: "courier-actions", novalidate: true, onsubmit: (event) => {
    event.preventDefault();
    ctx.on.deliver(stop, form);
  } },
  h("label", { for: ids.recipient }, "Recipient's name"),
  h("input", { id: ids.recipient, name: "recipient", autocomplete: "off", maxlength: "200", required: true }),
  h("label", { for: ids.photo }, "Photo (optional)"),
  h("input", { id: ids.photo, name: "photo", type: "file", accept: "image/*", capture: "environment" }),
  errorBox(ctx.errors.get(`stop-${stop.id}`)),
  h("button", { type: "submit", class: "primary big" }, "Confirm delivery"),
  h("button", { type: "button", class: "link courier-fail-toggle", "aria-expanded": "false", onclick: (event) => {
    failBox.hidden = !failBox.hidden;
    event.currentTarget.setAttribute("aria-expanded", String(!failBox.hidden));
    if (!failBox.hidden) failBox.querySelector("select").focus();
  } }, "Could not deliver"),
  failBox);
  if (!isLoaded(view)) {
    // Not on the bike yet: nothing to confirm here until it is loaded.
    return h("p", { class: "courier-note" }, `Load this parcel at the hub first (label …${stop.parcel.label_hint}).`);
  }
  return form;
}

function stopItem(stop, ctx) {
  const view = ctx.view(stop);
  const open = OPEN.has(view.status);
  const number = h("span", { class: "courier-num", "aria-hidden": "true" }, ctx.number(stop));
  const title = h("h3", {}, number, ` ${stop.kind === "pickup" ? "Pickup" : "Delivery"} · ${stop.name}`);
  const details = [
    h("p", { class: "courier-address" }, stop.address || "(no address)"),
    h("p", { class: "muted small" }, `Planned ${fmtRange(stop.planned_arrival, stop.planned_departure)} · ${parcelWords(stop.parcel)}`),
  ];
  const attrs = {
    class: `courier-stop${ctx.nextId === stop.id ? " next" : ""}${open ? "" : " closed"}`,
    dataset: { stopId: stop.id, status: view.status, kind: stop.kind },
    "aria-current": ctx.nextId === stop.id ? "step" : null,
  };
  if (!open) {
    // Done stops collapse: the summary line, the rest on a tap.
    return h("li", attrs, h("details", {},
      h("summary", { class: "spread" }, h("span", {}, number, ` ${stop.name}`), badge(view)),
      ...details, errorBox(ctx.errors.get(`stop-${stop.id}`))));
  }
  return h("li", attrs,
    h("div", { class: "spread" }, title, badge(view)),
    ...details,
    ctx.nextId === stop.id ? h("p", { class: "courier-next-label" }, "Next stop") : null,
    h("a", { class: "button", href: navigateHref(stop.lat, stop.lon), target: "_blank", rel: "noopener" }, "Navigate"),
    stop.kind === "pickup" ? pickupForm(stop, ctx) : deliveryForm(stop, view, ctx));
}

/**
 * The list items of a route. `ctx`: view(stop) → {status, parcelStatus, queued},
 * number(stop), nextId, errors (Map key → words), hubLoads(trip) → stops loaded at the hub,
 * on: {load, pickup, deliver, fail}.
 */
export function routeItems(route, ctx) {
  const items = [];
  for (const trip of route.trips) {
    items.push(h("li", { class: "courier-trip" },
      h("h2", {}, `Trip ${trip.number}`),
      h("span", { class: "muted small" }, `${fmtRange(trip.departs_at, trip.returns_at)} · from ${route.hub.name}`)));
    const loads = ctx.hubLoads(trip);
    if (loads.length) items.push(loadStep(trip, loads, ctx));
    for (const stop of trip.stops) items.push(stopItem(stop, ctx));
  }
  return items;
}

export function lastLoadedWords(savedAt) {
  return `You are offline: this is your route as loaded at ${fmtTime(savedAt)}.`;
}
