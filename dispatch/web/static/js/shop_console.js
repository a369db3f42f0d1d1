// The shop console: my parcels per delivery window, marking them ready, printing labels.
import { ApiError, api, errorText, fmtDay, fmtKg, fmtRange, fmtTime, h, showAlert, hideAlert, statusWords } from "/static/js/api.js";

const REFRESH_MS = 30_000;
const list = document.getElementById("parcels");
const updated = document.getElementById("updated");
const refreshButton = document.getElementById("refresh");
const filterBox = document.getElementById("filter");

const state = { parcels: [], pickups: [], windows: new Map(), filter: "waiting", loaded: false };

// ── loading ────────────────────────────────────────────────────────────────────────────────

async function load() {
  refreshButton.disabled = true;
  list.setAttribute("aria-busy", "true");
  try {
    const [parcels, pickups] = await Promise.all([api("/api/shop/orders"), api("/api/shop/pickups")]);
    await learnWindows(parcels);
    Object.assign(state, { parcels, pickups, loaded: true });
    hideAlert();
    updated.textContent = `Updated ${fmtTime(new Date().toISOString())}`;
    render();
  } catch (error) {
    showAlert(`Could not load your parcels. ${errorText(error)}`);
    if (!state.loaded) list.replaceChildren(h("p", { class: "form-error" }, errorText(error)));
  } finally {
    refreshButton.disabled = false;
    list.setAttribute("aria-busy", "false");
  }
}

/** The shop API names windows by id; one parcel's label tells each window's times. */
async function learnWindows(parcels) {
  const unknown = new Map();
  for (const p of parcels) {
    if (p.window_id !== null && !state.windows.has(p.window_id) && !unknown.has(p.window_id)) unknown.set(p.window_id, p.id);
  }
  await Promise.all([...unknown.values()].map(async (parcelId) => {
    const label = await api(`/api/shop/parcels/${parcelId}/label`);
    if (label.window) state.windows.set(label.window.id, label.window);
  }));
}

// ── what to show ───────────────────────────────────────────────────────────────────────────

function windowWords(windowId) {
  const w = state.windows.get(windowId);
  return w ? `${fmtDay(w.starts_at)} ${fmtRange(w.starts_at, w.ends_at)}` : "Window";
}

function handOverWords(pickup) {
  return pickup.kind === "hub_handover"
    ? `Hand over at the hub by ${fmtTime(pickup.at)}`
    : `Courier picks up at ${fmtTime(pickup.at)}`;
}

function pickupOf(parcelId) {
  return state.pickups.find((p) => p.parcel_ids.includes(parcelId));
}

function visible(parcel) {
  return state.filter === "all" || parcel.status === "awaiting";
}

function render() {
  const delivery = new Map();
  const collect = [];
  for (const parcel of state.parcels) {
    if (parcel.fulfilment === "collect") collect.push(parcel);
    else {
      if (!delivery.has(parcel.window_id)) delivery.set(parcel.window_id, []);
      delivery.get(parcel.window_id).push(parcel);
    }
  }
  const start = (id) => state.windows.get(id)?.starts_at || "";
  const sections = [...delivery.keys()]
    .sort((a, b) => start(a).localeCompare(start(b)))
    .map((id) => windowSection(id, delivery.get(id)))
    .filter(Boolean);
  const collecting = groupSection("Click & collect", collect, [
    h("p", { class: "muted small" }, "The customer picks these up at the shop."),
  ]);
  if (collecting) sections.push(collecting);
  if (sections.length === 0) {
    const words = state.filter === "all" ? "Your shop has no parcels yet." : "Nothing is waiting to be packed. Well done!";
    list.replaceChildren(h("p", { class: "card muted", id: "empty" }, words));
    return;
  }
  list.replaceChildren(...sections);
}

function windowSection(windowId, parcels) {
  const pickups = state.pickups
    .filter((p) => p.window_id === windowId)
    .sort((a, b) => a.at.localeCompare(b.at));
  const when = pickups.length
    ? h("p", { class: "shop-handover" },
        handOverWords(pickups[0]), " ",
        h("span", { class: "badge", dataset: { status: pickups[0].planned ? "planned" : "awaiting" } },
          pickups[0].planned ? "planned" : "not planned yet"))
    : h("p", { class: "muted small" }, "All of this window's parcels have left the shop.");
  return groupSection(windowWords(windowId), parcels, [when], windowId);
}

function groupSection(title, parcels, intro, windowId = null) {
  const shown = parcels.filter(visible);
  if (shown.length === 0) return null;
  const ids = parcels.map((p) => p.id).join(",");
  return h("section", { class: "card shop-window", dataset: windowId === null ? { collect: "" } : { windowId } },
    h("div", { class: "spread" },
      h("h2", {}, title),
      h("a", { class: "button", href: `/shop/labels?parcels=${ids}` }, "Print all labels")),
    ...intro,
    h("ul", { class: "list" }, shown.map(parcelRow)));
}

function parcelRow(parcel) {
  const pickup = parcel.fulfilment === "delivery" ? pickupOf(parcel.id) : null;
  const windowPickup = state.pickups.filter((p) => p.window_id === parcel.window_id).sort((a, b) => a.at.localeCompare(b.at))[0];
  const ownTime = pickup && windowPickup && pickup.at !== windowPickup.at ? h("p", { class: "small" }, handOverWords(pickup)) : null;
  const collectWindow = parcel.fulfilment === "collect" && parcel.window_id !== null
    ? h("p", { class: "small" }, `Collecting ${windowWords(parcel.window_id)}`) : null;
  const row = h("li", { class: "shop-parcel", dataset: { parcelId: parcel.id } },
    h("div", { class: "spread" },
      h("strong", {}, `Order ${parcel.order_id} · ${parcel.customer_first_name || "Customer"}`),
      h("span", { class: "badge", dataset: { status: parcel.status } }, statusWords(parcel.status))),
    h("ul", { class: "shop-items" }, parcel.items.map((i) => h("li", {}, `${i.quantity} × ${i.product_name}`))),
    h("p", { class: "muted small" },
      `Label ${parcel.label_code} · ${pieces(parcel.count)} · ${fmtKg(parcel.weight_g)} · ${litres(parcel.volume_ml)} l`,
      parcel.status === "awaiting" ? " (estimate)" : ""),
    ownTime, collectWindow,
    h("div", { class: "row no-print" },
      parcel.status === "awaiting"
        ? h("button", { type: "button", class: "primary", onclick: (event) => openForm(row, parcel, event.currentTarget) }, "Mark ready")
        : null,
      h("a", { class: "button", href: `/shop/labels?parcels=${parcel.id}` }, "Print label")));
  return row;
}

function pieces(n) {
  return n === 1 ? "1 piece" : `${n} pieces`;
}

function litres(ml) {
  return String(Math.round(ml / 100) / 10);
}

// ── marking a parcel ready ─────────────────────────────────────────────────────────────────

const FIELDS = { count: "Pieces", weight_g: "Weight (kg)", volume_ml: "Volume (litres)" };

function field(parcelId, name, value, attrs) {
  const id = `ready-${name}-${parcelId}`;
  return [h("label", { for: id }, FIELDS[name]), h("input", { id, name, type: "number", required: true, value, ...attrs })];
}

function openForm(row, parcel, markButton) {
  if (row.querySelector("form")) return;
  markButton.hidden = true;
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const form = h("form", { class: "shop-ready", novalidate: true },
    h("div", { class: "shop-ready-fields" },
      h("div", {}, ...field(parcel.id, "count", parcel.count, { min: 1, max: 100, step: 1, inputmode: "numeric" })),
      h("div", {}, ...field(parcel.id, "weight_g", parcel.weight_g / 1000, { min: 0.001, step: 0.001, inputmode: "decimal" })),
      h("div", {}, ...field(parcel.id, "volume_ml", parcel.volume_ml / 1000, { min: 0.001, step: 0.001, inputmode: "decimal" }))),
    error,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Confirm ready"),
      h("button", { type: "button", onclick: () => { form.remove(); markButton.hidden = false; markButton.focus(); } }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitReady(form, error, row, parcel);
  });
  row.querySelector(".row.no-print").before(form);
  form.querySelector("input").focus();
}

function readForm(form) {
  const count = Number(form.count.value);
  const kg = Number(form.weight_g.value);
  const l = Number(form.volume_ml.value);
  const problems = [];
  if (!Number.isInteger(count) || count < 1) problems.push({ field: "count", message: "must be a whole number, at least 1" });
  if (!(kg > 0)) problems.push({ field: "weight_g", message: "must be more than 0" });
  if (!(l > 0)) problems.push({ field: "volume_ml", message: "must be more than 0" });
  if (problems.length) throw new ApiError(422, "Some fields need fixing.", problems);
  return { count, weight_g: Math.max(1, Math.round(kg * 1000)), volume_ml: Math.max(1, Math.round(l * 1000)) };
}

async function submitReady(form, error, row, parcel) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  error.hidden = true;
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  try {
    const body = readForm(form);
    const done = await api(`/api/shop/parcels/${parcel.id}/ready`, { method: "POST", body });
    state.parcels = state.parcels.map((p) => (p.id === done.id ? done : p));
    const fresh = parcelRow(done);
    row.replaceWith(fresh);
    fresh.querySelector("a.button").focus();
    showAlert(`Parcel ${done.label_code} is ready.`, "success");
  } catch (err) {
    error.textContent = formErrorText(form, err);
    error.hidden = false;
    button.disabled = false;
  }
}

/** The API counts grams and millilitres; the form speaks kilograms and litres. */
function inFormUnits(name, message) {
  const kg = (g) => `${Number(g) / 1000} kg`;
  const l = (ml) => `${Number(ml) / 1000} litres`;
  let words = message.replace(/(\d+) g\b/g, (_, g) => kg(g)).replace(/(\d+) ml\b/g, (_, ml) => l(ml));
  if (name === "weight_g") words = words.replace(/(at (?:most|least)) (\d+)$/, (_, at, g) => `${at} ${kg(g)}`);
  if (name === "volume_ml") words = words.replace(/(at (?:most|least)) (\d+)$/, (_, at, ml) => `${at} ${l(ml)}`);
  return words;
}

/** "Weight (kg) is more than the largest bike carries (250 kg)": the API's words, the form's units. */
function formErrorText(form, err) {
  if (!(err instanceof ApiError) || !err.fields.length) return errorText(err);
  return err.fields.map(({ field: name, message }) => {
    const input = form.elements.namedItem(name);
    if (input) input.setAttribute("aria-invalid", "true");
    return `${FIELDS[name] || name} ${inFormUnits(name, message)}.`;
  }).join(" ");
}

// ── controls ───────────────────────────────────────────────────────────────────────────────

filterBox.addEventListener("change", (event) => {
  state.filter = event.target.value;
  if (state.loaded) render();
});
refreshButton.addEventListener("click", load);
setInterval(() => {
  // Never pull the list from under a shopkeeper typing into a form.
  if (!document.hidden && !list.querySelector("form")) load();
}, REFRESH_MS);

load();
