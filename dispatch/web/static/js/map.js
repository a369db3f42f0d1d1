// Leaflet maps of the town. OpenStreetMap tiles when they load; when they cannot (no internet,
// no tile server) the map draws the town's own bike network from velocal instead, so it stays
// useful offline. The OpenStreetMap attribution is always shown.
/* global L */
import { api } from "/static/js/api.js";

const TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
const ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
/** Distinct colours for routes, in order (readable on both base maps). */
export const ROUTE_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"];

let townPromise = null;
/** The town's frame (centre, bounds, zone, hubs), fetched once per page. */
export function townInfo() {
  townPromise = townPromise || api("/api/town/map");
  return townPromise;
}

let networkPromise = null;
function networkGeojson() {
  networkPromise = networkPromise || api("/api/town/network.geojson");
  return networkPromise;
}

/**
 * A map in `element`, framed on the town. Returns the Leaflet map; `element.dataset.base`
 * says which base map shows ("tiles" or "network").
 */
export async function townMap(element, { zoom = null, showZone = true } = {}) {
  const town = await townInfo();
  const [west, south, east, north] = town.bounds;
  const map = L.map(element, { zoomControl: true, attributionControl: true });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (zoom) map.setView(town.centre, zoom);
  else map.fitBounds([[south, west], [north, east]], { padding: [8, 8] });

  const offline = L.layerGroup();
  offline.getAttribution = () => ATTRIBUTION; // the network is OpenStreetMap data too
  const tiles = L.tileLayer(TILE_URL, { maxZoom: 19, attribution: ATTRIBUTION, crossOrigin: true });
  let fellBack = false;
  let loadedTiles = 0;
  element.dataset.base = "tiles";

  async function fallBack() {
    if (fellBack) return;
    fellBack = true;
    map.removeLayer(tiles);
    element.dataset.base = "network";
    element.classList.add("map-offline");
    try {
      const geojson = await networkGeojson();
      L.geoJSON(geojson, {
        interactive: false,
        style: (feature) => feature.properties.kind === "bike_path"
          ? { color: "#2e8b57", weight: 2, opacity: 0.9 }
          : { color: "#8a8f98", weight: 1.5, opacity: 0.8 },
      }).addTo(offline);
      element.dataset.network = "drawn";
    } catch (error) {
      element.dataset.network = "failed";
    }
    offline.addTo(map);
    offline.bringToBack?.();
  }

  tiles.on("tileload", () => { loadedTiles += 1; });
  tiles.on("tileerror", () => { if (loadedTiles === 0) fallBack(); });
  if (navigator.onLine === false) fallBack();
  else tiles.addTo(map);
  window.addEventListener("offline", () => fallBack());

  if (showZone && town.zone) {
    L.polygon(town.zone.map((ring) => ring.map(([lon, lat]) => [lat, lon])), {
      color: "#1b6b4a", weight: 2, fill: false, dashArray: "6 4", interactive: false,
    }).addTo(map);
  }
  return map;
}

/** A round marker with a label inside (stop numbers, courier initials). */
export function labelledMarker(latlng, text, { colour = "#1b6b4a", className = "", title = "" } = {}) {
  const icon = L.divIcon({
    className: `pin ${className}`,
    html: `<span style="background:${colour}">${escapeHtml(String(text))}</span>`,
    iconSize: [26, 26],
    iconAnchor: [13, 13],
  });
  return L.marker(latlng, { icon, title, alt: title || String(text), keyboard: true });
}

export function hubMarker(latlng, title = "Hub") {
  const icon = L.divIcon({ className: "pin pin-hub", html: "<span>H</span>", iconSize: [28, 28], iconAnchor: [14, 14] });
  return L.marker(latlng, { icon, title, alt: title });
}

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
