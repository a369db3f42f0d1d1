// The operator's set-up page: each section loads and saves on its own, so one failing
// (say, a missing town) does not keep the others from working.
import { errorText, h } from "/static/js/api.js";
import { initCouriers } from "/static/js/setup_couriers.js";
import { initFleet } from "/static/js/setup_fleet.js";
import { initHubs } from "/static/js/setup_hubs.js";
import { initShops } from "/static/js/setup_shops.js";
import { initTown } from "/static/js/setup_town.js";
import { initWindows } from "/static/js/setup_windows.js";

const SECTIONS = [
  ["town", initTown],
  ["hubs", initHubs],
  ["windows", initWindows],
  ["fleet", initFleet],
  ["couriers", initCouriers],
  ["shops", initShops],
];

async function start() {
  // In order: later sections list what earlier ones load (hubs and bike types for shifts).
  for (const [id, init] of SECTIONS) {
    const section = document.getElementById(id);
    section.setAttribute("aria-busy", "true");
    try {
      await init();
    } catch (error) {
      section.append(h("p", { class: "form-error", role: "alert" }, `This section could not load: ${errorText(error)}`));
    } finally {
      section.setAttribute("aria-busy", "false");
    }
  }
  document.body.dataset.ready = "true";
}

start();
