// What the set-up page's sections share: the lists they all read (hubs, couriers, ...), a
// form helper that shows the API's errors on the fields, and local times in the town's zone.
import { api, ApiError, capitalise, errorText, markFieldErrors, showAlert, timeZone } from "/static/js/api.js";

const PATHS = {
  hubs: "/api/hubs",
  bikeTypes: "/api/bike-types",
  couriers: "/api/couriers",
  shops: "/api/setup/shops",
  accounts: "/api/accounts",
};

/** The latest list of each kind, filled by load(). */
export const data = { hubs: [], bikeTypes: [], couriers: [], shops: [], accounts: [] };

/** Fetch one kind again and tell every section ("setup:<kind>" on document). */
export async function load(kind) {
  data[kind] = await api(PATHS[kind]);
  document.dispatchEvent(new CustomEvent(`setup:${kind}`));
  return data[kind];
}

/** Run `action` when `form` is submitted: busy button, field errors, a success message. */
export function onSubmit(form, action, { onError = () => {} } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    markFieldErrors(form, null);
    try {
      const message = await action();
      if (message) showAlert(message, "success");
    } catch (error) {
      markErrors(form, error);
      onError(error);
      showAlert(error instanceof ApiError && error.fields.length
        ? "Some fields need fixing: see the notes under them."
        : errorText(error));
    } finally {
      button.disabled = false;
    }
  });
}

/** markFieldErrors, plus errors of fields shown as a group (an element with data-field). */
export function markErrors(form, error) {
  markFieldErrors(form, error);
  if (!(error instanceof ApiError)) return;
  for (const { field, message } of error.fields) {
    const name = field.split(/[.[]/)[0];
    if (form.querySelector(`[name="${CSS.escape(name)}"]`)) continue;
    const group = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!group) continue;
    group.setAttribute("aria-invalid", "true");
    addNote(group, capitalise(message), "beforeend");
  }
}

/** A field-error note next to `node` (the next markFieldErrors removes it). */
export function addNote(node, text, where = "afterend") {
  const note = document.createElement("p");
  note.className = "field-error";
  note.textContent = text;
  node.insertAdjacentElement(where, note);
  return note;
}

/** Run a button's action with the button busy; errors go to the alert bar. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    const message = await action();
    if (message) showAlert(message, "success");
  } catch (error) {
    showAlert(errorText(error));
  } finally {
    button.disabled = false;
  }
}

/** The number in an input, or null when it is empty. */
export function numberOf(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

function zoneOffsetMs(utcMs, zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return asUtc - utcMs;
}

/** "2024-05-02" + "09:30" in the town's time zone → an ISO instant (UTC). */
export function localToIso(day, hhmm, zone = timeZone()) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = hhmm.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let utc = wall - zoneOffsetMs(wall, zone);
  utc = wall - zoneOffsetMs(utc, zone); // again, in case the offset changes in between (DST)
  return new Date(utc).toISOString();
}

/** Today's date ("YYYY-MM-DD") in the town's time zone. */
export function todayLocal(zone = timeZone()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

/** Replace a <select>'s options: [{value, text}], keeping the chosen value if it is still there. */
export function fillSelect(select, options, { empty = "" } = {}) {
  const chosen = select.value;
  select.replaceChildren(...options.map(({ value, text }) => new Option(text, value)));
  if (!options.length && empty) select.append(new Option(empty, ""));
  if (options.some((o) => String(o.value) === chosen)) select.value = chosen;
}
