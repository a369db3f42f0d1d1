// The town's shops: a card per shop (linking to its products) and a map with a numbered pin each.
import { api, errorText, h } from "/static/js/api.js";
import { labelledMarker, townMap } from "/static/js/map.js";
import { kindWords, watchCartLinks } from "/static/js/shopfront.js";

const list = document.getElementById("shop-list");
const status = document.getElementById("shops-status");
const mapBox = document.getElementById("shops-map");

watchCartLinks();

function shopCard(shop, number) {
  return h("li", { class: "card shop-card", dataset: { shopId: String(shop.id) } },
    h("div", { class: "spread" },
      h("h3", {}, h("a", { href: `/shops/${shop.id}` }, shop.name)),
      h("span", { class: "shop-number", "aria-hidden": "true" }, number)),
    h("p", { class: "shop-kind" }, kindWords(shop.kind)),
    h("p", { class: "small" }, shop.address || "Address not listed"),
    h("p", { class: "small muted" },
      shop.opening_hours ? h("span", {}, "Opening hours: ", h("span", { class: "hours" }, shop.opening_hours)) : "Opening hours not listed"));
}

async function showMap(shops) {
  try {
    const map = await townMap(mapBox);
    const points = [];
    shops.forEach((shop, i) => {
      const marker = labelledMarker([shop.lat, shop.lon], i + 1, { title: shop.name }).addTo(map);
      marker.bindPopup(() => h("a", { href: `/shops/${shop.id}` }, shop.name));
      points.push([shop.lat, shop.lon]);
    });
    if (points.length) map.fitBounds(points, { padding: [24, 24], maxZoom: 16 });
  } catch (error) {
    mapBox.replaceChildren(h("p", { class: "muted map-message" }, `The map can't be shown: ${errorText(error)}`));
  }
}

async function load() {
  let shops;
  try {
    shops = await api("/api/shops");
  } catch (error) {
    status.textContent = `The shops can't be shown: ${errorText(error)}`;
    status.classList.add("form-error");
    return;
  }
  if (!shops.length) {
    status.textContent = "No shops take orders yet. Come back soon.";
    mapBox.closest("aside").hidden = true;
    return;
  }
  status.hidden = true;
  list.replaceChildren(...shops.map((shop, i) => shopCard(shop, i + 1)));
  list.hidden = false;
  showMap(shops);
}

load();
