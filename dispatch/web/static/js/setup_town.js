// Set-up, "Town": name, time zone, mode and the delivery zone, drawn on the map point by
// point or imported from GeoJSON (a Polygon or MultiPolygon; the first polygon is taken).
/* global L */
import { api } from "/static/js/api.js";
import { townMap } from "/static/js/map.js";
import { onSubmit } from "/static/js/setup_common.js";

const form = document.getElementById("town-form");
const mapBox = document.getElementById("zone-map");
const statusLine = document.getElementById("zone-status");
const drawButton = document.getElementById("zone-draw");
const finishButton = document.getElementById("zone-finish");

let map = null;
let zone = null; // GeoJSON rings [[[lon, lat], ...]] or null
let draft = null; // [[lat, lon], ...] while drawing
let zoneLayer = null;
const draftLayer = L.layerGroup();

function pointsWord(n) {
  return `${n} point${n === 1 ? "" : "s"}`;
}

function drawZone() {
  if (zoneLayer) zoneLayer.remove();
  zoneLayer = null;
  draftLayer.clearLayers();
  if (draft) {
    if (draft.length) L.polygon(draft, { color: "#d62728", weight: 2, dashArray: "4 4", interactive: false }).addTo(draftLayer);
    draft.forEach((point) => L.circleMarker(point, { radius: 5, color: "#d62728", interactive: false }).addTo(draftLayer));
    statusLine.textContent = `Drawing: ${pointsWord(draft.length)}. Click the map to add points, then "Finish zone".`;
  } else if (zone) {
    zoneLayer = L.polygon(zone.map((ring) => ring.map(([lon, lat]) => [lat, lon])), {
      color: "#1b6b4a", weight: 2, fillOpacity: 0.12, interactive: false,
    }).addTo(map);
    statusLine.textContent = `Zone of ${pointsWord(zone[0].length - 1)}${zone.length > 1 ? ` and ${zone.length - 1} hole(s)` : ""}. Save the town to keep it.`;
  } else {
    statusLine.textContent = "No delivery zone: every address the bikes can reach is delivered to.";
  }
  mapBox.dataset.zonePoints = zone ? String(zone[0].length - 1) : "0";
  finishButton.disabled = !draft || draft.length < 3;
  drawButton.disabled = Boolean(draft);
}

function setZone(rings) {
  zone = rings;
  draft = null;
  drawZone();
  if (zone && zoneLayer) map.fitBounds(zoneLayer.getBounds(), { padding: [16, 16] });
}

/** The first polygon of GeoJSON text (Feature, FeatureCollection, Polygon, MultiPolygon). */
export function polygonOf(geojson) {
  let geometry = geojson;
  if (geometry && geometry.type === "FeatureCollection") {
    geometry = (geometry.features || []).map((f) => f.geometry)
      .find((g) => g && ["Polygon", "MultiPolygon"].includes(g.type));
  } else if (geometry && geometry.type === "Feature") {
    geometry = geometry.geometry;
  }
  if (!geometry || !["Polygon", "MultiPolygon"].includes(geometry.type)) {
    throw new Error("the GeoJSON holds no Polygon or MultiPolygon");
  }
  const rings = geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates[0];
  if (!Array.isArray(rings) || !rings.length) throw new Error("the polygon has no points");
  return rings.map((ring, index) => {
    const points = ring.map((p) => {
      if (!Array.isArray(p) || p.length < 2 || !p.slice(0, 2).every(Number.isFinite)) {
        throw new Error(`ring ${index + 1} has a point that is not [longitude, latitude]`);
      }
      return [p[0], p[1]];
    });
    const [first, last] = [points[0], points[points.length - 1]];
    if (first[0] !== last[0] || first[1] !== last[1]) points.push([...first]);
    if (points.length < 4) throw new Error(`ring ${index + 1} needs at least 3 different points`);
    return points;
  });
}

function importText(text, where) {
  try {
    setZone(polygonOf(JSON.parse(text)));
    statusLine.textContent = `Imported from ${where}: ${statusLine.textContent}`;
  } catch (error) {
    statusLine.textContent = error instanceof SyntaxError
      ? `The ${where} is not valid JSON.`
      : `Could not use the ${where}: ${error.message}.`;
  }
}

function fill(town) {
  form.name.value = town.name;
  form.time_zone.value = town.time_zone;
  form.mode.value = town.mode;
  form.profile.value = town.profile;
  form.extract.value = town.extract;
  setZone(town.zone ? town.zone.coordinates : null);
}

export async function initTown() {
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  document.getElementById("time-zones").replaceChildren(...zones.map((z) => new Option(z)));
  const town = await api("/api/town");
  document.getElementById("town-loading").hidden = true;
  form.hidden = false;
  map = await townMap(mapBox, { showZone: false });
  map.options.zoomSnap = 0.25; // frame the zone closely
  draftLayer.addTo(map);
  fill(town);

  map.on("click", (event) => {
    if (!draft) return;
    draft.push([event.latlng.lat, event.latlng.lng]);
    drawZone();
  });
  drawButton.addEventListener("click", () => { draft = []; drawZone(); });
  finishButton.addEventListener("click", () => {
    const ring = draft.map(([lat, lon]) => [lon, lat]);
    ring.push([...ring[0]]);
    setZone([ring]);
  });
  document.getElementById("zone-clear").addEventListener("click", () => setZone(null));
  document.getElementById("zone-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) importText(await file.text(), "file");
  });
  document.getElementById("zone-import").addEventListener("click", () => {
    importText(document.getElementById("zone-paste").value, "pasted text");
  });

  onSubmit(form, async () => {
    if (draft) throw new Error('finish the zone you are drawing ("Finish zone") or clear it first');
    const saved = await api("/api/town", {
      method: "PUT",
      body: {
        name: form.name.value.trim(),
        time_zone: form.time_zone.value.trim(),
        mode: form.mode.value,
        profile: form.profile.value,
        extract: form.extract.value.trim(),
        zone: zone ? { type: "Polygon", coordinates: zone } : null,
      },
    });
    fill(saved);
    document.querySelector(".topbar .brand").lastChild.textContent = ` ${saved.name}`;
    return `Town "${saved.name}" saved.`;
  });
}
