// One shop's products: add them to the cart, change how many, and see the cart so far.
import { api, errorText, fmtKg, fmtMoney, h } from "/static/js/api.js";
import {
  MAX_QUANTITY, addToCart, cartCount, cartLines, cartTotal, kindWords, linesByShop, onCartChange,
  quantityOf, setQuantity, watchCartLinks,
} from "/static/js/shopfront.js";

const shopId = Number(document.getElementById("shop-page").dataset.shopId);
const nameBox = document.getElementById("shop-name");
const details = document.getElementById("shop-details");
const list = document.getElementById("product-list");
const status = document.getElementById("products-status");
const summary = document.getElementById("cart-summary");

let shop = null;
let products = [];

watchCartLinks();

function quantityControl(product) {
  const id = `qty-${product.id}`;
  const input = h("input", {
    id, type: "number", min: "0", max: String(MAX_QUANTITY), inputmode: "numeric", class: "qty",
    value: String(quantityOf(product.id)),
    onchange: (event) => setQuantity(product.id, event.target.value),
  });
  return h("div", { class: "row qty-row" },
    h("label", { for: id }, "In cart", h("span", { class: "visually-hidden" }, ` (${product.name})`)),
    h("button", { type: "button", "aria-label": `One fewer ${product.name}`, onclick: () => setQuantity(product.id, quantityOf(product.id) - 1) }, "−"),
    input,
    h("button", { type: "button", "aria-label": `One more ${product.name}`, onclick: () => setQuantity(product.id, quantityOf(product.id) + 1) }, "+"));
}

function productCard(product) {
  const inCart = quantityOf(product.id);
  const button = h("button", {
    type: "button", class: "primary", "aria-label": `Add ${product.name} to cart`, disabled: !product.in_stock,
    onclick: () => addToCart(product, shop),
  }, product.in_stock ? "Add to cart" : "Out of stock");
  return h("li", { class: "card product-card", dataset: { productId: String(product.id), inStock: String(product.in_stock) } },
    h("h3", {}, product.name),
    h("p", { class: "spread" },
      h("strong", { class: "price" }, fmtMoney(product.price_cents)),
      h("span", { class: "muted small" }, `Size ${product.size_class} · ${fmtKg(product.weight_g)}`)),
    product.in_stock ? null : h("p", { class: "badge", dataset: { status: "failed" } }, "Out of stock"),
    button,
    inCart > 0 ? quantityControl(product) : null);
}

function renderProducts() {
  if (!products.length) {
    status.textContent = "This shop has no products on sale right now.";
    status.hidden = false;
    list.hidden = true;
    return;
  }
  status.hidden = true;
  const focused = document.activeElement && document.activeElement.id;
  list.replaceChildren(...products.map(productCard));
  list.hidden = false;
  if (focused) document.getElementById(focused)?.focus();
}

function renderSummary() {
  const lines = cartLines();
  if (!lines.length) {
    summary.replaceChildren(h("p", { class: "muted" }, "Your cart is empty. Add something from this shop or another."));
    return;
  }
  const groups = linesByShop(lines).map((group) => h("li", {},
    h("strong", {}, group.shop_name),
    h("ul", { class: "small" }, group.lines.map((line) => h("li", {}, `${line.quantity} × ${line.name}`)))));
  summary.replaceChildren(
    h("ul", { class: "list cart-summary-list" }, groups),
    h("p", { class: "spread" }, h("span", {}, `${cartCount(lines)} items`), h("strong", {}, fmtMoney(cartTotal(lines)))),
    h("a", { class: "button primary big", href: "/checkout" }, "Go to checkout"));
}

function notFound(reason) {
  nameBox.textContent = "Shop not found";
  details.textContent = `${reason.replace(/\.$/, "")}. Pick another shop from the list of all shops.`;
  status.hidden = true;
}

async function load() {
  try {
    const [shops, found] = await Promise.all([api("/api/shops"), api(`/api/shops/${shopId}/products`)]);
    shop = shops.find((s) => s.id === shopId) || null;
    products = found;
  } catch (error) {
    notFound(errorText(error));
    return;
  }
  if (!shop) {
    notFound("This shop is not taking orders.");
    return;
  }
  document.title = `${shop.name} · velocal`;
  nameBox.textContent = shop.name;
  details.replaceChildren(
    h("span", { class: "shop-kind" }, kindWords(shop.kind)), " · ", shop.address || "Address not listed",
    shop.opening_hours ? h("span", { class: "block" }, "Opening hours: ", shop.opening_hours) : null);
  renderProducts();
}

renderSummary();
onCartChange(() => { renderSummary(); if (shop) renderProducts(); });
load();
