// The customer's cart, shared by the shop pages and checkout. It lives in localStorage
// ("velocal.cart"), spans several shops, and keeps a copy of each product's name, price and
// size so checkout can show it at once (checkout refreshes them from the API).

const KEY = "velocal.cart";
const CHANGED = "velocal:cart";
export const MAX_QUANTITY = 99;

/** Shop types (OSM shop=*) in words; anything else is the tag with spaces. */
const KINDS = {
  bakery: "Bakery", books: "Bookshop", boutique: "Boutique", chemist: "Chemist", clothes: "Clothes shop",
  confectionery: "Sweet shop", convenience: "Corner shop", cosmetics: "Cosmetics", deli: "Delicatessen",
  florist: "Florist", gift: "Gift shop", houseware: "Kitchen & houseware", jewelry: "Jeweller",
  pharmacy: "Pharmacy", shoes: "Shoe shop", sports: "Sports shop", supermarket: "Supermarket",
  tea: "Tea shop", toys: "Toy shop", bicycle: "Bike shop", antiques: "Antiques", art: "Art shop",
  interior_decoration: "Interior design", musical_instrument: "Music shop", mobile_phone: "Phone shop",
  baby_goods: "Baby shop", outdoor: "Outdoor shop", craft: "Craft shop", variety_store: "Variety store",
};

export function kindWords(kind) {
  if (KINDS[kind]) return KINDS[kind];
  const words = String(kind || "shop").replaceAll("_", " ");
  return words[0].toUpperCase() + words.slice(1);
}

/** The cart's lines: [{product_id, shop_id, shop_name, name, price_cents, weight_g, volume_ml, quantity}]. */
export function cartLines() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY) || "null");
    const lines = data && Array.isArray(data.lines) ? data.lines : [];
    return lines.filter((line) => Number.isInteger(line.product_id) && line.quantity > 0);
  } catch {
    return []; // a damaged cart is an empty one
  }
}

export function saveLines(lines) {
  localStorage.setItem(KEY, JSON.stringify({ lines: lines.filter((line) => line.quantity > 0) }));
  window.dispatchEvent(new CustomEvent(CHANGED));
}

/** How many items are in the cart (quantities added up). */
export function cartCount(lines = cartLines()) {
  return lines.reduce((sum, line) => sum + line.quantity, 0);
}

export function cartTotal(lines = cartLines()) {
  return lines.reduce((sum, line) => sum + line.price_cents * line.quantity, 0);
}

export function quantityOf(productId) {
  const line = cartLines().find((l) => l.product_id === productId);
  return line ? line.quantity : 0;
}

/** Add one of `product` (from /api/shops/{id}/products) of `shop` to the cart. */
export function addToCart(product, shop) {
  const lines = cartLines();
  const line = lines.find((l) => l.product_id === product.id);
  if (line) line.quantity = Math.min(MAX_QUANTITY, line.quantity + 1);
  else {
    lines.push({
      product_id: product.id, shop_id: shop.id, shop_name: shop.name, name: product.name,
      price_cents: product.price_cents, weight_g: product.weight_g, volume_ml: product.volume_ml, quantity: 1,
    });
  }
  saveLines(lines);
}

/** Set a product's quantity (0 removes it). */
export function setQuantity(productId, quantity) {
  const q = Math.max(0, Math.min(MAX_QUANTITY, Math.floor(Number(quantity) || 0)));
  saveLines(cartLines().map((l) => (l.product_id === productId ? { ...l, quantity: q } : l)));
}

export function clearCart() {
  saveLines([]);
}

/** Call `listener` whenever the cart changes, in this tab or another. */
export function onCartChange(listener) {
  window.addEventListener(CHANGED, listener);
  window.addEventListener("storage", (event) => { if (event.key === KEY || event.key === null) listener(); });
}

/** The lines grouped by shop, in the order the shops were first added: [{shop_id, shop_name, lines}]. */
export function linesByShop(lines = cartLines()) {
  const groups = new Map();
  for (const line of lines) {
    if (!groups.has(line.shop_id)) groups.set(line.shop_id, { shop_id: line.shop_id, shop_name: line.shop_name, lines: [] });
    groups.get(line.shop_id).lines.push(line);
  }
  return [...groups.values()];
}

/** Keep every "Cart (N)" link (class cart-link) up to date. */
export function watchCartLinks() {
  const update = () => {
    const n = cartCount();
    document.querySelectorAll(".cart-link").forEach((link) => {
      link.textContent = `Cart (${n})`;
      link.dataset.count = String(n);
    });
  };
  update();
  onCartChange(update);
}
