// Set-up, "Shops and accounts": shops (add with a position on the map, deactivate, a new API
// token shown once) and accounts (create for a shop, courier, dispatcher or operator; deactivate).
import { api, h } from "/static/js/api.js";
import { labelledMarker, townMap } from "/static/js/map.js";
import { busy, data, fillSelect, load, onSubmit } from "/static/js/setup_common.js";
import { pickPosition } from "/static/js/setup_hubs.js";

const shopForm = document.getElementById("shop-form");
const shopList = document.getElementById("shop-list");
const accountForm = document.getElementById("account-form");
const accountList = document.getElementById("account-list");
const tokenBox = document.getElementById("token-box");
const tokenValue = document.getElementById("token-value");
const ROLE_WORDS = { operator: "operator", dispatcher: "dispatcher", shop: "shop", courier: "courier", customer: "customer" };

let map = null;
let newMarker = null;

function showToken(shop, token) {
  document.getElementById("token-title").textContent = `The API token of ${shop.name}:`;
  tokenValue.value = token;
  tokenBox.hidden = false;
  tokenValue.focus();
  tokenValue.select();
}

function renderShops() {
  const rows = data.shops.map((shop) => h("li", { class: "stack", dataset: { shopId: shop.id } },
    h("div", { class: "spread" },
      h("span", {}, h("strong", {}, shop.name), " ", h("span", { class: "muted small" }, [shop.kind, shop.address].filter(Boolean).join(" · "))),
      shop.active ? null : h("span", { class: "badge", dataset: { status: "cancelled" } }, "inactive")),
    shop.active ? h("div", { class: "row" },
      h("button", {
        type: "button", "aria-label": `${shop.has_api_token ? "Replace" : "Create"} API token for ${shop.name}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          const answer = await api(`/api/shops/${shop.id}/api-token`, { method: "POST" });
          showToken(shop, answer.token);
          await load("shops");
          return shop.has_api_token ? `New token for ${shop.name}: the old one no longer works.` : null;
        }),
      }, shop.has_api_token ? "Replace API token" : "Create API token"),
      h("button", {
        type: "button", class: "danger", "aria-label": `Deactivate ${shop.name}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          await api(`/api/shops/${shop.id}`, { method: "DELETE" });
          await load("shops");
          return `${shop.name} is deactivated.`;
        }),
      }, "Deactivate")) : null));
  shopList.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "No shops yet.")]));
  fillSelect(accountForm.shop_id, data.shops.filter((s) => s.active).map((s) => ({ value: s.id, text: s.name })), { empty: "Add a shop first" });
}

function forWhom(account) {
  if (account.shop_id) return data.shops.find((s) => s.id === account.shop_id)?.name || `shop ${account.shop_id}`;
  if (account.courier_id) return data.couriers.find((c) => c.id === account.courier_id)?.name || `courier ${account.courier_id}`;
  return account.name;
}

function renderAccounts() {
  const rows = data.accounts.map((account) => h("tr", { dataset: { accountId: account.id } },
    h("td", {}, account.email),
    h("td", {}, ROLE_WORDS[account.role] || account.role),
    h("td", {}, forWhom(account)),
    h("td", {}, account.active
      ? h("button", {
        type: "button", class: "danger", "aria-label": `Deactivate ${account.email}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          await api(`/api/accounts/${account.id}/deactivate`, { method: "POST" });
          await load("accounts");
          return `${account.email} can no longer log in.`;
        }),
      }, "Deactivate")
      : h("span", { class: "badge", dataset: { status: "cancelled" } }, "inactive"))));
  accountList.replaceChildren(...(rows.length ? rows
    : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No accounts."))]));
}

function showRoleFields() {
  const role = accountForm.role.value;
  document.getElementById("account-shop-field").hidden = role !== "shop";
  document.getElementById("account-courier-field").hidden = role !== "courier";
}

export async function initShops() {
  document.addEventListener("setup:shops", () => { renderShops(); renderAccounts(); });
  document.addEventListener("setup:couriers", () => {
    fillSelect(accountForm.courier_id, data.couriers.filter((c) => c.active).map((c) => ({ value: c.id, text: c.name })), { empty: "Add a courier first" });
    renderAccounts();
  });
  document.addEventListener("setup:accounts", renderAccounts);
  document.dispatchEvent(new CustomEvent("setup:couriers"));
  accountForm.role.addEventListener("change", showRoleFields);
  showRoleFields();
  document.getElementById("token-copy").addEventListener("click", async (event) => {
    tokenValue.select();
    try {
      await navigator.clipboard.writeText(tokenValue.value);
      event.currentTarget.textContent = "Copied";
    } catch {
      document.execCommand("copy");
    }
  });
  await Promise.all([load("shops"), load("accounts")]);
  map = await townMap(document.getElementById("shop-map"));
  pickPosition(map, shopForm, (latlng) => {
    if (newMarker) newMarker.setLatLng(latlng);
    else newMarker = labelledMarker(latlng, "+", { colour: "#d62728", title: "New shop" }).addTo(map);
  });

  onSubmit(shopForm, async () => {
    const shop = await api("/api/shops", {
      method: "POST",
      body: {
        name: shopForm.name.value.trim(),
        kind: shopForm.kind.value.trim(),
        address: shopForm.address.value.trim(),
        lat: shopForm.lat.value === "" ? null : Number(shopForm.lat.value),
        lon: shopForm.lon.value === "" ? null : Number(shopForm.lon.value),
        opening_hours: shopForm.opening_hours.value.trim(),
      },
    });
    shopForm.reset();
    if (newMarker) newMarker.remove();
    newMarker = null;
    await load("shops");
    return `Shop "${shop.name}" added. Create an account for it below.`;
  });

  onSubmit(accountForm, async () => {
    const role = accountForm.role.value;
    const idOf = (select) => (select.value ? Number(select.value) : null);
    const account = await api("/api/accounts", {
      method: "POST",
      body: {
        role,
        email: accountForm.email.value.trim(),
        name: accountForm.name.value.trim(),
        password: accountForm.password.value,
        shop_id: role === "shop" ? idOf(accountForm.shop_id) : null,
        courier_id: role === "courier" ? idOf(accountForm.courier_id) : null,
      },
    });
    accountForm.reset();
    showRoleFields();
    await load("accounts");
    return `Account ${account.email} created: it can log in now.`;
  });
}
