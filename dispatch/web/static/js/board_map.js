// The board's map: the window's ride paths and numbered stops per route, the hubs, and the
// couriers' latest GPS fixes (moved in place on every poll, so the map does not flicker).
/* global L */
import { fmtTime, statusWords } from "/static/js/api.js";
import { hubMarker, labelledMarker, townInfo, townMap } from "/static/js/map.js";
import { isClosedStop, routeColour, routeStops } from "/static/js/board_routes.js";

const FIX_AGE_STALE_S = 5 * 60;

export class BoardMap {
  constructor(element) {
    this.element = element;
    this.map = null;
    this.planLayer = null;
    this.couriers = new Map(); // courier_id → marker
    this.framedWindow = null;
  }

  async init() {
    this.map = await townMap(this.element);
    this.map.options.zoomSnap = 0.25; // frame a window's stops closely, not by whole zoom steps
    const town = await townInfo();
    for (const [lat, lon] of town.hubs || []) {
      hubMarker([lat, lon], "Hub: couriers load parcels here").addTo(this.map);
    }
    this.planLayer = L.layerGroup().addTo(this.map);
  }

  /** Draw a plan (or nothing, with `plan` null): paths first, then the stops above them. */
  showPlan(plan, paths, windowId) {
    if (!this.map) return;
    this.planLayer.clearLayers();
    if (!plan) return;
    const colourOf = new Map(plan.routes.map((route, index) => [route.id, routeColour(index)]));
    for (const item of paths || []) {
      if (item.path.length < 2) continue;
      L.polyline(item.path, {
        color: colourOf.get(item.route_id) || "#555",
        weight: 4,
        opacity: 0.75,
        interactive: false,
      }).addTo(this.planLayer);
    }
    const bounds = [];
    plan.routes.forEach((route, index) => {
      for (const { stop, number } of routeStops(route)) {
        const closed = isClosedStop(stop);
        const title = `Stop ${number} of ${route.courier_name || "an unnamed courier"}: `
          + `${stop.kind} at ${fmtTime(stop.planned_arrival)}, ${statusWords(stop.status)}`;
        const marker = labelledMarker([stop.lat, stop.lon], number, {
          colour: routeColour(index),
          className: `pin-stop${closed ? " pin-done" : ""}`,
          title,
        });
        marker.bindTooltip(title);
        marker.addTo(this.planLayer);
        bounds.push([stop.lat, stop.lon]);
      }
    });
    if (bounds.length && this.framedWindow !== windowId) {
      this.framedWindow = windowId;
      this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
    }
  }

  /** Couriers' latest fixes; `colourOf(courier_id)` gives their route's colour, if any. */
  showPositions(positions, colourOf) {
    if (!this.map) return;
    const seen = new Set();
    for (const fix of positions) {
      seen.add(fix.courier_id);
      const tip = `${fix.courier_name}: ${fixAge(fix.at)} (±${Math.round(fix.accuracy_m)} m)`;
      const colour = colourOf(fix.courier_id) || "#1d2327";
      const stale = (Date.now() - new Date(fix.at).getTime()) / 1000 > FIX_AGE_STALE_S;
      let marker = this.couriers.get(fix.courier_id);
      if (marker && marker.options.colour !== colour) {
        marker.remove();
        marker = null;
      }
      if (!marker) {
        marker = labelledMarker([fix.lat, fix.lon], initials(fix.courier_name), {
          colour,
          className: "pin-courier",
          title: fix.courier_name,
        });
        marker.options.colour = colour;
        marker.bindTooltip(tip);
        marker.addTo(this.map);
        this.couriers.set(fix.courier_id, marker);
      } else {
        marker.setLatLng([fix.lat, fix.lon]);
        marker.setTooltipContent(tip);
      }
      marker.setZIndexOffset(1000);
      const icon = marker.getElement();
      if (icon) {
        icon.dataset.courierId = String(fix.courier_id);
        icon.classList.toggle("pin-stale", stale);
      }
    }
    for (const [id, marker] of this.couriers) {
      if (!seen.has(id)) {
        marker.remove();
        this.couriers.delete(id);
      }
    }
  }
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((part) => part[0].toUpperCase()).join("") || "?";
}

/** "fix 40 s ago", "fix 3 min ago", "fix at 09:12" (older than an hour). */
export function fixAge(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `fix ${seconds} s ago`;
  if (seconds < 3600) return `fix ${Math.floor(seconds / 60)} min ago`;
  return `fix at ${fmtTime(iso)}`;
}
