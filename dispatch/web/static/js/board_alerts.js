// The board's alerts panel and live ETAs: what needs the dispatcher now (late, parcel not
// ready, off route, not moving, GPS silent) from /api/board/alerts, and each open stop's ETA
// from /api/board/windows/<id>/etas written next to the stop on the route cards (when a card
// marks its stops with data-stop-id). The panel is made on first use, above the route cards.
import { api, fmtTime, h } from "/static/js/api.js";

const KIND_WORDS = {
  late: "Running late",
  not_ready: "Parcel not ready",
  off_route: "Off route",
  not_moving: "Not moving",
  gps_silent: "GPS silent",
};

function panel() {
  let card = document.getElementById("alerts-card");
  if (card) return card;
  card = h("section", { id: "alerts-card", class: "card board-alerts", "aria-labelledby": "alerts-heading" },
    h("h2", { id: "alerts-heading" }, "Alerts"),
    h("p", { id: "alerts-status", class: "muted", role: "status" }, "No alerts."),
    h("ul", { id: "alerts", class: "list", "aria-labelledby": "alerts-heading" }));
  const routes = document.getElementById("routes");
  if (routes && routes.parentNode) routes.parentNode.insertBefore(card, routes);
  else document.body.append(card);
  return card;
}

function renderAlerts(alerts) {
  panel();
  document.getElementById("alerts-status").hidden = alerts.length > 0;
  document.getElementById("alerts").replaceChildren(...alerts.map((alert) =>
    h("li", { class: "board-alert", dataset: { kind: alert.kind, courierId: String(alert.courier_id) } },
      h("strong", {}, KIND_WORDS[alert.kind] || alert.kind),
      " ", h("span", {}, alert.message),
      " ", h("time", { class: "small muted", datetime: alert.since }, `since ${fmtTime(alert.since)}`))));
}

function renderEtas(routes) {
  for (const route of routes) {
    for (const stop of route.stops) {
      const row = document.querySelector(`[data-stop-id="${stop.stop_id}"]`);
      if (!row) continue;
      let label = row.querySelector(".stop-eta");
      if (!label) {
        label = h("span", { class: "stop-eta small muted" });
        row.append(" ", label);
      }
      const late = Math.round(stop.minutes_late);
      const drift = late > 0 ? ` (${late} min late)` : late < 0 ? ` (${-late} min early)` : "";
      label.textContent = `ETA ${fmtTime(stop.eta)}${drift}`;
      label.dataset.late = String(late > 0);
    }
  }
}

/** Refresh the alerts (of `windowId`, or the whole day without one) and the stops' ETAs. */
export async function refreshAlerts(windowId) {
  const query = windowId ? `?window_id=${encodeURIComponent(windowId)}` : "";
  const [alerts, etas] = await Promise.all([
    api(`/api/board/alerts${query}`),
    windowId ? api(`/api/board/windows/${encodeURIComponent(windowId)}/etas`) : Promise.resolve([]),
  ]);
  renderAlerts(alerts);
  renderEtas(etas);
}
