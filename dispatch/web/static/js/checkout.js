// Checkout: the cart grouped by shop, who and where, the windows that still have room, and
// POST /api/orders with a fresh Idempotency-Key per attempt (a double click orders once).
import { ApiError, api, capitalise, errorText, fmtDay, fmtMoney, fmtRange, h, hideAlert, markFieldErrors, showAlert } from "/static/js/api.js";
import { labelledMarker, townMap } from "/static/js/map.js";
import {
  MAX_QUANTITY, cartCount, cartLines, cartTotal, clearCart, linesByShop, onCartChange, saveLines,
  setQuantity, watchCartLinks,
} from "/static/js/shopfront.js";

const form = document.getElementById("checkout-form");
const cartBox = document.getElementById("cart");
const cartStatus = document.getElementById("cart-status");
const addressInput = document.getElementById("address");
const optionsBox = document.getElementById("address-options");
const addressNote = document.getElementById("address-note");
const mapBox = document.getElementById("address-map");
const windowStatus = document.getElementById("window-status");
const windowOptions = document.getElementById("window-options");
const errorBox = document.getElementById("checkout-error");
const placeButton = document.getElementById("place-order");

let shops = new Map(); // id → shop from /api/shops
let unavailable = new Set(); // product ids now out of stock
let place = null; // the chosen address: {label, lat, lon, in_zone}
let map = null;
let pin = null;
let windowsAbort = null;
let attempt = { body: null, key: null };

watchCartLinks();

const fulfilment = () => form.querySelector("input[name=fulfilment]:checked").value;
// A window past its cutoff whose couriers are already out takes the order as a late one.
const windowLabel = (w) => `${fmtDay(w.starts_at)}, ${fmtRange(w.starts_at, w.ends_at)}`
  + (w.status === "open" ? "" : " · late order: joins the routes already out");

// ── the cart ────────────────────────────────────────────────────────────────────────────

function cartLine(line) {
  const id = `qty-${line.product_id}`;
  return h("li", { class: "cart-line", dataset: { productId: String(line.product_id) } },
    h("div", { class: "spread" },
      h("span", {}, line.name, unavailable.has(line.product_id) ? h("span", { class: "field-error block" }, "Out of stock now: remove it to order.") : null),
      h("strong", {}, fmtMoney(line.price_cents * line.quantity))),
    h("div", { class: "row" },
      h("label", { for: id, class: "inline-label" }, "Quantity", h("span", { class: "visually-hidden" }, ` of ${line.name}`)),
      h("input", {
        id, type: "number", min: "1", max: String(MAX_QUANTITY), inputmode: "numeric", class: "qty", value: String(line.quantity),
        onchange: (event) => setQuantity(line.product_id, Math.max(1, Number(event.target.value) || 1)),
      }),
      h("span", { class: "muted small" }, `× ${fmtMoney(line.price_cents)}`),
      h("button", { type: "button", class: "link remove", "aria-label": `Remove ${line.name}`, onclick: () => setQuantity(line.product_id, 0) }, "Remove")));
}

function renderCart() {
  const lines = cartLines();
  cartStatus.hidden = lines.length > 0;
  cartStatus.replaceChildren(lines.length ? "" : h("span", {}, "Your cart is empty. ", h("a", { href: "/" }, "Find something in the shops"), "."));
  form.hidden = lines.length === 0;
  cartBox.replaceChildren(...linesByShop(lines).map((group) => h("section", { class: "cart-shop" },
    h("h3", {}, group.shop_name),
    h("ul", { class: "list" }, group.lines.map(cartLine)),
    h("p", { class: "spread small muted" }, h("span", {}, "From this shop"), h("span", {}, fmtMoney(cartTotal(group.lines)))))));
  if (lines.length) {
    cartBox.append(h("p", { class: "spread order-total" }, h("span", {}, `Total, ${cartCount(lines)} ${cartCount(lines) === 1 ? "item" : "items"}`), h("strong", { id: "cart-total" }, fmtMoney(cartTotal(lines)))));
  }
  document.getElementById("order-total").replaceChildren(h("span", {}, "Total"), h("strong", {}, fmtMoney(cartTotal(lines))));
  renderCollectShops();
}

/** Refresh names, prices and stock from the shops; drop products they no longer sell. */
async function refreshCart() {
  const lines = cartLines();
  const shopIds = [...new Set(lines.map((l) => l.shop_id))];
  try {
    // A shop gone from the town answers 404 (its products are no longer sold); any other
    // failure leaves that shop's lines unjudged.
    const [shopList, ...catalogues] = await Promise.all([api("/api/shops"), ...shopIds.map((id) => api(`/api/shops/${id}/products`)
      .catch((error) => (error instanceof ApiError && error.status === 404 ? [] : null)))]);
    shops = new Map(shopList.map((s) => [s.id, s]));
    const products = new Map(catalogues.filter(Boolean).flat().map((p) => [p.id, p]));
    unavailable = new Set([...products.values()].filter((p) => !p.in_stock).map((p) => p.id));
    // The cart may have changed while the shops answered (another tab): judge only the lines
    // of the shops asked about, and keep the rest as they are now.
    const checked = new Set(shopIds.filter((_, i) => catalogues[i] !== null));
    const current = cartLines();
    const kept = current.filter((l) => !checked.has(l.shop_id) || (products.has(l.product_id) && shops.has(l.shop_id))).map((l) => {
      const p = products.get(l.product_id);
      if (!p || !shops.has(l.shop_id)) return l;
      return { ...l, name: p.name, price_cents: p.price_cents, weight_g: p.weight_g, volume_ml: p.volume_ml, shop_name: shops.get(l.shop_id).name };
    });
    if (kept.length < current.length) showAlert("Some products are no longer sold and were taken out of your cart.", "info");
    saveLines(kept);
  } catch (error) {
    showAlert(`Your cart could not be checked with the shops: ${errorText(error)}`);
    renderCart();
  }
}

function renderCollectShops() {
  const list = document.getElementById("collect-shops");
  list.replaceChildren(...linesByShop().map((group) => {
    const shop = shops.get(group.shop_id);
    return h("li", {}, h("strong", {}, group.shop_name), h("br"),
      h("span", { class: "small" }, shop && shop.address ? shop.address : "Address not listed"),
      shop && shop.opening_hours ? h("span", { class: "small muted block" }, `Opening hours: ${shop.opening_hours}`) : null);
  }));
}

// ── delivery: the address and the map ───────────────────────────────────────────────────

async function ensureMap() {
  if (map) { map.invalidateSize(); return; }
  try {
    map = await townMap(mapBox);
    if (place) showPin();
  } catch (error) {
    mapBox.replaceChildren(h("p", { class: "muted map-message" }, `The map can't be shown: ${errorText(error)}`));
  }
}

function showPin() {
  if (!map) return;
  if (pin) pin.remove();
  pin = null;
  if (!place) return;
  pin = labelledMarker([place.lat, place.lon], "⌂", { title: place.label, colour: place.in_zone ? "#1b6b4a" : "#b3261e" }).addTo(map);
  map.setView([place.lat, place.lon], Math.max(map.getZoom(), 16));
}

let suggestions = [];
let active = -1;
let suggestAbort = null;
let suggestTimer = null;

function closeOptions() {
  optionsBox.hidden = true;
  addressInput.setAttribute("aria-expanded", "false");
  addressInput.removeAttribute("aria-activedescendant");
  active = -1;
}

function renderOptions() {
  optionsBox.replaceChildren(...suggestions.map((s, i) => h("li", {
    id: `address-option-${i}`, role: "option", "aria-selected": String(i === active), dataset: { label: s.label },
    onmousedown: (event) => event.preventDefault(), // keep focus in the field
    onclick: () => choose(s),
  }, s.label, s.in_zone ? null : h("span", { class: "muted small" }, " · outside the delivery zone"))));
  optionsBox.hidden = suggestions.length === 0;
  addressInput.setAttribute("aria-expanded", String(!optionsBox.hidden));
  if (active >= 0) {
    addressInput.setAttribute("aria-activedescendant", `address-option-${active}`);
    document.getElementById(`address-option-${active}`).scrollIntoView({ block: "nearest" });
  } else addressInput.removeAttribute("aria-activedescendant");
}

async function suggest(text) {
  suggestAbort?.abort();
  if (text.trim().length < 2) { suggestions = []; closeOptions(); return; }
  suggestAbort = new AbortController();
  try {
    suggestions = await api(`/api/town/addresses?${new URLSearchParams({ q: text, limit: "8" })}`, { signal: suggestAbort.signal });
    active = -1;
    renderOptions();
    addressNote.textContent = suggestions.length ? "Pick your address from the list." : "No address matches: check the street name and house number.";
  } catch (error) {
    if (error.name === "AbortError") return;
    addressNote.textContent = `Addresses can't be suggested: ${errorText(error)}`;
  }
}

function choose(suggestion) {
  place = suggestion;
  addressInput.value = suggestion.label;
  addressInput.removeAttribute("aria-invalid");
  closeOptions();
  addressNote.textContent = suggestion.in_zone
    ? `Delivering to ${suggestion.label}.`
    : `${suggestion.label} is outside the delivery zone: our bikes can't deliver there. Choose another address, or Click & collect.`;
  addressNote.classList.toggle("form-error", !suggestion.in_zone);
  showPin();
  loadWindows();
}

addressInput.addEventListener("input", () => {
  if (place && addressInput.value !== place.label) {
    place = null;
    showPin();
    addressNote.classList.remove("form-error");
    loadWindows();
  }
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(() => suggest(addressInput.value), 200);
});

addressInput.addEventListener("keydown", (event) => {
  const open = !optionsBox.hidden && suggestions.length > 0;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (!open) return;
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    active = (active + step + suggestions.length) % suggestions.length;
    renderOptions();
  } else if (event.key === "Enter" && open) {
    event.preventDefault(); // choosing an address does not place the order
    choose(suggestions[active >= 0 ? active : 0]);
  } else if (event.key === "Escape" && open) {
    closeOptions();
  }
});
addressInput.addEventListener("blur", () => setTimeout(closeOptions, 100));

// ── delivery windows ────────────────────────────────────────────────────────────────────

function chosenWindow() {
  const input = form.querySelector("input[name=window_id]:checked");
  return input ? Number(input.value) : null;
}

function windowMessage(text, isError = false) {
  windowOptions.replaceChildren();
  windowStatus.textContent = text;
  windowStatus.classList.toggle("form-error", isError);
  windowStatus.hidden = false;
}

async function loadWindows() {
  windowsAbort?.abort();
  const lines = cartLines();
  if (fulfilment() !== "delivery" || !lines.length) return;
  if (!place) { windowMessage("Choose your address to see the delivery windows."); return; }
  if (!place.in_zone) { windowMessage("No delivery windows: the address is outside the delivery zone."); return; }
  const before = chosenWindow();
  const query = new URLSearchParams({
    lat: String(place.lat), lon: String(place.lon),
    weight_g: String(lines.reduce((s, l) => s + l.weight_g * l.quantity, 0)),
    volume_ml: String(lines.reduce((s, l) => s + l.volume_ml * l.quantity, 0)),
    count: String(linesByShop(lines).length),
  });
  windowsAbort = new AbortController();
  windowMessage("Finding the windows with room for your order…");
  let windows;
  try {
    windows = await api(`/api/windows/available?${query}`, { signal: windowsAbort.signal });
  } catch (error) {
    if (error.name !== "AbortError") windowMessage(errorText(error), true);
    return;
  }
  if (!windows.length) {
    windowMessage("Every upcoming delivery window is full or closed for orders to this address. Try Click & collect, or come back later.");
    return;
  }
  windowStatus.hidden = true;
  windowOptions.replaceChildren(...windows.map((w) => h("label", { class: "choice", for: `window-${w.id}` },
    h("input", { type: "radio", id: `window-${w.id}`, name: "window_id", value: String(w.id), checked: w.id === before }),
    windowLabel(w))));
}

// ── how: delivery or collect ────────────────────────────────────────────────────────────

function showFulfilment() {
  const delivery = fulfilment() === "delivery";
  document.getElementById("delivery-part").hidden = !delivery;
  document.getElementById("collect-part").hidden = delivery;
  if (delivery) { ensureMap(); loadWindows(); }
}
form.querySelectorAll("input[name=fulfilment]").forEach((radio) => radio.addEventListener("change", showFulfilment));

// ── placing the order ───────────────────────────────────────────────────────────────────

/** Client-side checks, as the API would word them: [{field, message}]. */
function problems(body) {
  const found = [];
  if (!body.customer.name) found.push({ field: "name", message: "is required" });
  if (!body.customer.email && !body.customer.phone) found.push({ field: "email", message: "or a phone number is required" });
  if (body.fulfilment === "delivery") {
    if (!place) found.push({ field: "address", message: "must be picked from the suggestions" });
    else if (!place.in_zone) found.push({ field: "address", message: "is outside the delivery zone" });
    else if (body.window_id === null) found.push({ field: "window_id", message: "must be chosen" });
  }
  return found;
}

/** The API's field names (customer.email, lat, items[0].product_id) as this form's fields. */
function formField(field) {
  if (field.startsWith("customer.")) return field.slice("customer.".length);
  if (field === "customer") return "name";
  if (field === "lat" || field === "lon") return "address";
  return field;
}

function showErrors(error) {
  const fields = error instanceof ApiError ? error.fields.map((f) => ({ ...f, field: formField(f.field) })) : [];
  markFieldErrors(form, new ApiError(422, error.message, fields.filter((f) => f.field !== "window_id")));
  const windowProblem = fields.find((f) => f.field === "window_id");
  if (windowProblem) {
    windowStatus.textContent = capitalise(windowProblem.message);
    windowStatus.classList.add("form-error");
    windowStatus.hidden = false;
  }
  errorBox.textContent = errorText(error);
  errorBox.hidden = false;
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  hideAlert();
  const lines = cartLines();
  const delivery = fulfilment() === "delivery";
  const body = {
    items: lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity })),
    fulfilment: fulfilment(),
    customer: { name: form.name.value.trim(), email: form.email.value.trim(), phone: form.phone.value.trim() },
    address: delivery && place ? place.label : "",
    lat: delivery && place ? place.lat : null,
    lon: delivery && place ? place.lon : null,
    window_id: delivery ? chosenWindow() : null,
    note: delivery ? form.note.value.trim() : "",
  };
  const stale = lines.filter((l) => unavailable.has(l.product_id));
  if (stale.length) {
    showErrors(new Error(`${stale.map((l) => l.name).join(", ")} ${stale.length > 1 ? "are" : "is"} out of stock: remove ${stale.length > 1 ? "them" : "it"} from your cart.`));
    return;
  }
  const found = problems(body);
  if (found.length) {
    showErrors(new ApiError(422, "Some details are missing: see the marked fields.", found));
    form.querySelector("[aria-invalid=true]")?.focus();
    return;
  }
  markFieldErrors(form, null);
  // The same order sent again (a retry after a lost answer) reuses its key; a changed one gets a new key.
  const json = JSON.stringify(body);
  if (attempt.body !== json) attempt = { body: json, key: newKey() };
  placeButton.disabled = true;
  placeButton.textContent = "Placing your order…";
  try {
    const order = await api("/api/orders", { method: "POST", body, headers: { "Idempotency-Key": attempt.key } });
    showConfirmation(order, lines, body);
  } catch (error) {
    showErrors(error);
  } finally {
    placeButton.disabled = false;
    placeButton.textContent = "Place order";
  }
});

// ── the confirmation ────────────────────────────────────────────────────────────────────

function showConfirmation(order, lines, body) {
  const chosen = form.querySelector("input[name=window_id]:checked");
  const windowText = chosen ? chosen.closest("label").textContent.trim() : "";
  clearCart();
  document.getElementById("checkout-page").hidden = true;
  const section = document.getElementById("confirmation");
  document.getElementById("order-number").textContent = String(order.id);
  const url = new URL(`/t/${order.tracking_token}`, window.location.origin).href;
  document.getElementById("tracking-link").href = `/t/${order.tracking_token}`;
  document.getElementById("tracking-url").value = url;
  document.getElementById("confirmation-details").replaceChildren(
    h("h2", {}, "What you ordered"),
    ...linesByShop(lines).map((group) => h("div", { class: "stack" },
      h("h3", {}, group.shop_name),
      h("ul", {}, group.lines.map((l) => h("li", {}, `${l.quantity} × ${l.name}`))))),
    h("p", { class: "spread order-total" }, h("span", {}, "Total"), h("strong", {}, fmtMoney(order.total_cents))),
    body.fulfilment === "delivery"
      ? h("p", {}, "Delivered to ", h("strong", {}, order.address), " in the window ", h("strong", { id: "confirmed-window" }, windowText), ".")
      : h("p", {}, "Click & collect: the shops tell you on the tracking page when your items are ready to collect."));
  section.hidden = false;
  section.focus();
  window.scrollTo(0, 0);
}

document.getElementById("copy-link").addEventListener("click", async () => {
  const field = document.getElementById("tracking-url");
  try {
    await navigator.clipboard.writeText(field.value);
    showAlert("Tracking link copied.", "success");
  } catch {
    field.select(); // no clipboard access: selected, ready to copy by hand
    showAlert("Select the link and copy it by hand.", "info");
  }
});

// ── start ───────────────────────────────────────────────────────────────────────────────

async function prefill() {
  if (document.body.dataset.role !== "customer") return;
  try {
    const me = await api("/api/me");
    if (!form.name.value) form.name.value = me.name || "";
    if (!form.email.value) form.email.value = me.email || "";
  } catch {
    // not prefilled: the customer types their details
  }
}

let refreshTimer = null;
onCartChange(() => {
  renderCart();
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadWindows, 300); // the order's size changed: windows with room may too
});
renderCart();
showFulfilment();
prefill();
refreshCart();
