// Printable parcel labels: /shop/labels?parcels=1,2,3 → one label per parcel, one per page.
import { ApiError, api, errorText, fmtDay, fmtRange, h } from "/static/js/api.js";

const box = document.getElementById("labels");
const printButton = document.getElementById("print");

function parcelIds() {
  const raw = new URLSearchParams(window.location.search).get("parcels") || "";
  const ids = raw.split(",").map((part) => part.trim()).filter((part) => /^\d+$/.test(part)).map(Number);
  return [...new Set(ids)];
}

function label(data) {
  const code = data.label_code;
  const when = data.window ? `${fmtDay(data.window.starts_at)} ${fmtRange(data.window.starts_at, data.window.ends_at)}` : "";
  const pieces = data.count === 1 ? "1 piece" : `${data.count} pieces`;
  return h("article", { class: "parcel-label", dataset: { parcelId: data.parcel_id } },
    h("div", { class: "parcel-label-top" },
      h("img", { class: "parcel-label-qr", src: `/api/shop/parcels/${data.parcel_id}/label.svg`, alt: `QR code of label ${code}`, width: 160, height: 160 }),
      h("div", {},
        h("p", { class: "parcel-label-code" }, code),
        h("p", { class: "parcel-label-pieces" }, pieces),
        h("p", { class: "small" }, `Order ${data.order_id}`))),
    h("dl", { class: "parcel-label-details" },
      h("dt", {}, "To"),
      h("dd", { class: "parcel-label-customer" }, data.customer_name || "Customer"),
      h("dd", { class: "parcel-label-address" }, data.fulfilment === "collect" ? "Click & collect" : data.address),
      when ? h("dt", {}, data.fulfilment === "collect" ? "Collect" : "Delivery") : null,
      when ? h("dd", { class: "parcel-label-window" }, when) : null,
      h("dt", {}, "From"),
      h("dd", { class: "parcel-label-shop" }, data.shop_name),
      h("dd", { class: "small" }, data.shop_address)));
}

function missing(id, error) {
  const words = error instanceof ApiError && error.status === 404 ? `Parcel ${id} not found` : `Parcel ${id}: ${errorText(error)}`;
  return h("p", { class: "card form-error no-print parcel-label-missing", dataset: { parcelId: id } }, words);
}

async function load() {
  const ids = parcelIds();
  if (ids.length === 0) {
    box.setAttribute("aria-busy", "false");
    box.replaceChildren(h("p", { class: "card muted" }, "No parcels chosen. ", h("a", { href: "/shop" }, "Pick parcels to print"), "."));
    return;
  }
  const results = await Promise.all(ids.map((id) =>
    api(`/api/shop/parcels/${id}/label`).then((data) => label(data), (error) => missing(id, error))));
  // Notices first: the last printed page is a label, with no blank page after it.
  const isLabel = (node) => node.classList.contains("parcel-label");
  box.replaceChildren(...results.filter((node) => !isLabel(node)), ...results.filter(isLabel));
  box.setAttribute("aria-busy", "false");
  const printable = results.filter(isLabel).length;
  printButton.disabled = printable === 0;
  printButton.textContent = printable > 1 ? `Print ${printable} labels` : "Print";
}

printButton.addEventListener("click", () => window.print());
load();
