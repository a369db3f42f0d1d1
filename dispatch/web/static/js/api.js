// Calls to velocal's JSON API from the pages, and the helpers every page shares.
// Errors come back as ApiError with a message in words (the API's own "detail"), never a code.

export class ApiError extends Error {
  constructor(status, message, fields = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields; // [{field, message}] for 422 answers
  }
}

const STATUS_WORDS = {
  400: "The request was not understood",
  401: "Please log in again",
  403: "You are not allowed to do this",
  404: "Not found",
  409: "That can't be done now",
  413: "That is too large",
  422: "Some fields need fixing",
  429: "Too many requests: wait a moment",
  500: "Something went wrong on the server",
  502: "The server is not reachable",
  503: "The service is unavailable for a moment",
};

/** fetch() an API path with the session cookie; JSON in, JSON out; ApiError on failure. */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Can't reach velocal: check your connection and try again.");
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : null;
    const words = STATUS_WORDS[response.status] || "Something went wrong";
    throw new ApiError(response.status, detail ? capitalise(detail) : `${words}.`, (data && data.errors) || []);
  }
  return data;
}

export function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The message to show for any error thrown by api() or by the page itself. */
export function errorText(error) {
  if (error instanceof ApiError) return error.message;
  return `Something went wrong: ${error && error.message ? error.message : error}`;
}

let alertTimer = null;
/** Show a message in the page's alert bar (kind: "error", "info" or "success"). */
export function showAlert(message, kind = "error", { sticky = kind === "error" } = {}) {
  const box = document.getElementById("alert");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(alertTimer);
  if (!sticky) alertTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function hideAlert() {
  const box = document.getElementById("alert");
  if (box) box.hidden = true;
}

/** Mark a form's fields from a 422 answer (aria-invalid + a message under each field). */
export function markFieldErrors(form, error) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  if (!(error instanceof ApiError)) return;
  for (const { field, message } of error.fields) {
    const name = field.split(/[.[]/)[0];
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const note = document.createElement("p");
    note.className = "field-error";
    note.textContent = `${labelOf(input)} ${message}`;
    input.insertAdjacentElement("afterend", note);
  }
}

function labelOf(input) {
  const label = input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`);
  return label ? label.textContent.trim() : input.name;
}

/** Create an element: h("li", {class: "x", onclick: f}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The town's time zone (set on <body> by the server). */
export function timeZone() {
  return document.body.dataset.timeZone || undefined;
}

export function fmtTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: timeZone() }).format(new Date(iso));
}

export function fmtDay(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: timeZone() }).format(new Date(iso));
}

export function fmtDayTime(iso) {
  return iso ? `${fmtDay(iso)} ${fmtTime(iso)}` : "";
}

export function fmtRange(fromIso, toIso) {
  return `${fmtTime(fromIso)}–${fmtTime(toIso)}`;
}

export function fmtMoney(cents) {
  return new Intl.NumberFormat("en-GB", { style: "currency", currency: "EUR" }).format(cents / 100);
}

export function fmtKg(grams) {
  return grams >= 1000 ? `${(grams / 1000).toFixed(1)} kg` : `${grams} g`;
}

export function fmtKm(metres) {
  return `${(metres / 1000).toFixed(1)} km`;
}

/** Words for a status value: "out_for_delivery" → "out for delivery". */
export function statusWords(status) {
  return String(status || "").replaceAll("_", " ");
}
