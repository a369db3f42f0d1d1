// The customer's tracking page: one order's status, window, planned arrival, timeline,
// parcels and (only while this delivery is the courier's next stop) the courier on a map.
// Everything comes from /api/track/<token>; the page refreshes itself every 15 s.
/* global L */
import { api, errorText, fmtDay, fmtDayTime, fmtRange, fmtTime, h, showAlert, hideAlert, ApiError } from "/static/js/api.js";
import { labelledMarker, townMap } from "/static/js/map.js";
import { liveUpdates } from "/static/js/live.js";

const root = document.getElementById("tracking");
const token = root.dataset.token;
const pollMs = Number(new URLSearchParams(window.location.search).get("poll")) || 15000;
const $ = (id) => document.getElementById(id);

/** The headline and a customer sentence for each order status (dispatch/lifecycle.py). */
const ORDER_WORDS = {
  placed: ["Being packed", "The shops are packing your order."],
  ready: ["Packed", "Everything is packed and waiting for the courier."],
  out_for_delivery: ["On its way", "A courier is bringing your order."],
  delivered: ["Delivered", "Your order has been delivered. Enjoy!"],
  partly_delivered: ["Partly delivered", "Part of your order has been delivered; the shops will be in touch about the rest."],
  failed: ["Delivery failed", "We could not deliver your order. The shop will contact you."],
  collected: ["Collected", "You have collected your order."],
  cancelled: ["Cancelled", "This order has been cancelled."],
};
const COLLECT_WORDS = { ready: ["Ready to collect", "Your order is packed and waiting for you at the shop."] };

const PARCEL_WORDS = {
  awaiting: "Being packed",
  ready: "Packed",
  picked_up: "With the courier",
  delivered: "Delivered",
  failed: "Could not be delivered",
  returned: "Returned to the shop",
  collected: "Collected",
  cancelled: "Cancelled",
};

/** Timeline entries in words, by the event's action (and its new status as a fallback). */
const ACTION_WORDS = {
  place: "Order placed",
  mark_ready: "All parcels packed",
  send_out: "Out for delivery",
  deliver: "Delivered",
  deliver_partly: "Partly delivered",
  fail: "Delivery failed",
  collect: "Collected",
  cancel: "Order cancelled",
};

let map = null;
let destinationMarker = null;
let courierMarker = null;
let framed = false;
let stopped = false;

function words(order) {
  const table = order.fulfilment === "collect" ? { ...ORDER_WORDS, ...COLLECT_WORDS } : ORDER_WORDS;
  return table[order.status] || [order.status.replaceAll("_", " "), ""];
}

function renderHead(order) {
  const [title, sentence] = words(order);
  $("track-status").textContent = title;
  $("track-status").dataset.status = order.status;
  $("track-sentence").textContent = sentence;
  $("track-kicker").textContent = order.fulfilment === "collect" ? "Your click & collect order" : "Your delivery";
  $("track-window").textContent = order.window
    ? `${fmtDay(order.window.starts_at)}, ${fmtRange(order.window.starts_at, order.window.ends_at)}`
    : "No window";
  $("track-placed").textContent = fmtDayTime(order.placed_at);
  const planned = order.planned;
  const showPlanned = Boolean(planned) && !["delivered", "cancelled", "collected", "failed"].includes(order.status);
  $("track-planned-row").hidden = !showPlanned;
  if (showPlanned) {
    const from = fmtTime(planned.arrival_from);
    const to = fmtTime(planned.arrival_to);
    const when = from === to ? `Arriving at about ${from}` : `Arriving between ${from} and ${to}`;
    $("track-planned").textContent = planned.courier_first_name
      ? `${when} — ${planned.courier_first_name} is bringing it`
      : when;
  }
  $("track-facts").hidden = false;
  renderEta(order);
}

/** "Expected at 14:12" from the live ETA, and a notice when the courier is close. */
function renderEta(order) {
  let line = $("track-eta");
  if (!line) {
    line = h("p", { id: "track-eta", class: "track-eta", "aria-live": "polite" });
    $("track-sentence").after(line);
  }
  const open = order.eta && !["delivered", "cancelled", "collected", "failed"].includes(order.status);
  line.hidden = !open;
  line.dataset.close = String(Boolean(open && order.courier_close));
  line.textContent = !open ? "" : order.courier_close
    ? `Your courier is close — expected at ${fmtTime(order.eta)}.`
    : `Expected at ${fmtTime(order.eta)}`;
}

function renderTimeline(order) {
  const items = order.timeline.map((step) =>
    h("li", { dataset: { status: step.status } },
      h("strong", {}, ACTION_WORDS[step.action] || step.status.replaceAll("_", " ")),
      " ",
      h("time", { class: "muted small", datetime: step.at }, fmtDayTime(step.at))));
  $("track-timeline").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "Nothing yet.")]));
}

function renderParcels(order) {
  const items = order.parcels.map((parcel) =>
    h("li", { class: "spread" },
      h("span", {}, parcel.shop_name),
      h("span", { class: "badge", dataset: { status: parcel.status } }, PARCEL_WORDS[parcel.status] || parcel.status)));
  $("track-parcels").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "No parcels.")]));
}

async function renderMap(order) {
  const card = $("track-map-card");
  if (!order.destination && !order.courier) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  if (!map) map = await townMap($("track-map"));
  if (order.destination && !destinationMarker) {
    destinationMarker = labelledMarker(order.destination, "★", { colour: "#1b6b4a", title: "Your address" }).addTo(map);
  }
  const note = $("track-courier-note");
  if (order.courier) {
    const at = [order.courier.lat, order.courier.lon];
    if (!courierMarker) {
      courierMarker = labelledMarker(at, (order.planned?.courier_first_name || "C")[0], { colour: "#1f5fa8", className: "pin-courier", title: "Your courier" }).addTo(map);
    } else {
      courierMarker.setLatLng(at);
    }
    note.textContent = `Your courier is on the way to you: position updated ${fmtTime(order.courier.at)}.`;
  } else {
    if (courierMarker) courierMarker.remove();
    courierMarker = null;
    note.textContent = order.status === "out_for_delivery"
      ? "The courier shows here when you are their next stop."
      : "";
  }
  if (!framed) {
    const points = [order.destination, order.courier && [order.courier.lat, order.courier.lon]].filter(Boolean);
    if (points.length === 1) map.setView(points[0], 15);
    else map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 16 });
    framed = true;
  }
}

function showNotFound(error) {
  stopped = true;
  $("track-status").textContent = "We can't find this order";
  $("track-sentence").textContent = errorText(error);
  $("track-facts").hidden = true;
  $("track-details").hidden = true;
  $("track-refreshed").textContent = "";
}

async function refresh() {
  try {
    const order = await api(`/api/track/${encodeURIComponent(token)}`);
    renderHead(order);
    renderTimeline(order);
    renderParcels(order);
    $("track-details").hidden = false;
    await renderMap(order);
    hideAlert();
    $("track-refreshed").textContent = `Last refreshed ${fmtTime(new Date().toISOString())}; this page updates itself.`;
    root.dataset.refreshedAt = String(Date.now());
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) showNotFound(error);
    else showAlert(`${errorText(error)} We will try again shortly.`);
  } finally {
    root.setAttribute("aria-busy", "false");
    if (!stopped) live.schedulePoll(pollMs);
  }
}

// Pushed over SSE; the poll runs only while the stream is down (live.js).
const live = liveUpdates(`/api/live/track/${encodeURIComponent(token)}`, { poll: refresh, pollMs });
live.start();
