// Set-up, "Hubs": the list, and a new hub placed by clicking the map.
import { api, h } from "/static/js/api.js";
import { hubMarker, labelledMarker, townMap } from "/static/js/map.js";
import { busy, data, load, onSubmit } from "/static/js/setup_common.js";

const form = document.getElementById("hub-form");
const list = document.getElementById("hub-list");
let map = null;
let markers = [];
let newMarker = null;

/** Clicking `map` fills the form's lat/lon and moves a "new" marker there. */
export function pickPosition(leafletMap, theForm, onPick = () => {}) {
  leafletMap.on("click", (event) => {
    theForm.lat.value = event.latlng.lat.toFixed(6);
    theForm.lon.value = event.latlng.lng.toFixed(6);
    onPick([event.latlng.lat, event.latlng.lng]);
  });
}

function render() {
  const rows = data.hubs.map((hub) => h("li", { class: "spread" },
    h("span", {}, h("strong", {}, hub.name), " ",
      h("span", { class: "muted small" }, `open ${hub.opens}–${hub.closes} · ${hub.lat.toFixed(5)}, ${hub.lon.toFixed(5)}`)),
    h("button", {
      type: "button", class: "danger",
      "aria-label": `Remove hub ${hub.name}`,
      onclick: (event) => busy(event.currentTarget, async () => {
        await api(`/api/hubs/${hub.id}`, { method: "DELETE" });
        await load("hubs");
        return `Hub "${hub.name}" removed.`;
      }),
    }, "Remove")));
  list.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "No hubs yet: add the first one below.")]));
  if (!map) return;
  markers.forEach((m) => m.remove());
  markers = data.hubs.map((hub) => hubMarker([hub.lat, hub.lon], hub.name).addTo(map));
}

export async function initHubs() {
  document.addEventListener("setup:hubs", render);
  await load("hubs");
  map = await townMap(document.getElementById("hub-map"));
  render();
  pickPosition(map, form, (latlng) => {
    if (newMarker) newMarker.setLatLng(latlng);
    else newMarker = labelledMarker(latlng, "+", { colour: "#d62728", title: "New hub" }).addTo(map);
  });
  onSubmit(form, async () => {
    const hub = await api("/api/hubs", {
      method: "POST",
      body: {
        name: form.name.value.trim(),
        lat: form.lat.value === "" ? null : Number(form.lat.value),
        lon: form.lon.value === "" ? null : Number(form.lon.value),
        opens: form.opens.value,
        closes: form.closes.value,
      },
    });
    form.reset();
    if (newMarker) newMarker.remove();
    newMarker = null;
    await load("hubs");
    return `Hub "${hub.name}" added.`;
  });
}
