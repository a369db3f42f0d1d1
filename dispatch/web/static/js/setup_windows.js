// Set-up, "Delivery windows": a weekly schedule rolled out into windows, and the upcoming
// windows with a button to close one early.
import { api, ApiError, capitalise, fmtDay, fmtDayTime, fmtRange, h } from "/static/js/api.js";
import { addNote, busy, numberOf, onSubmit } from "/static/js/setup_common.js";

const form = document.getElementById("schedule-form");
const slots = document.getElementById("schedule-slots");
const list = document.getElementById("window-list");
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
let slotCount = 0;

const STATUS_WORDS = { open: "open", closed: "closed", planned: "planned", running: "running", finished: "finished", cancelled: "cancelled" };

function addSlot(start = "", end = "") {
  slotCount += 1;
  const n = slotCount;
  const row = h("div", { class: "row setup-slot" },
    h("div", {}, h("label", { for: `slot-start-${n}` }, "Start"), h("input", { id: `slot-start-${n}`, type: "time", value: start, required: true, class: "slot-start" })),
    h("div", {}, h("label", { for: `slot-end-${n}` }, "End"), h("input", { id: `slot-end-${n}`, type: "time", value: end, required: true, class: "slot-end" })),
    h("button", { type: "button", class: "link", onclick: () => { if (slots.children.length > 1) row.remove(); } }, "Remove"));
  slots.append(row);
}

/** A slot's error names it by its index ("slot 1 ends at ..."): mark that row's end field. */
function markSlotError(error) {
  if (!(error instanceof ApiError)) return;
  for (const { field, message } of error.fields) {
    const match = field === "slots" && /^slot (\d+)/.exec(message);
    const end = match && slots.querySelectorAll(".slot-end")[Number(match[1])];
    if (!end) continue;
    form.querySelector('[data-field="slots"] > .field-error')?.remove();
    end.setAttribute("aria-invalid", "true");
    addNote(end, capitalise(message.replace(/^slot (\d+)/, (_, i) => `slot ${Number(i) + 1}`)));
  }
}

async function renderWindows() {
  const now = Date.now();
  const windows = (await api("/api/windows")).filter((w) => new Date(w.ends_at).getTime() > now);
  const rows = windows.map((w) => h("tr", { dataset: { windowId: w.id } },
    h("td", {}, fmtDay(w.starts_at)),
    h("td", {}, fmtRange(w.starts_at, w.ends_at)),
    h("td", { class: "small" }, fmtDayTime(w.day_before_cutoff_at || w.cutoff_at)),
    h("td", {}, h("span", { class: "badge", dataset: { status: w.status } }, STATUS_WORDS[w.status] || w.status)),
    h("td", {}, w.status === "open"
      ? h("button", {
        type: "button",
        "aria-label": `Close the window ${fmtDay(w.starts_at)} ${fmtRange(w.starts_at, w.ends_at)}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          await api(`/api/windows/${w.id}/close`, { method: "POST" });
          await renderWindows();
          return `Window ${fmtDay(w.starts_at)} ${fmtRange(w.starts_at, w.ends_at)} closed: it takes no more orders.`;
        }),
      }, "Close")
      : "")));
  list.replaceChildren(...(rows.length ? rows
    : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No upcoming windows: create some with the schedule."))]));
}

export async function initWindows() {
  document.getElementById("schedule-days").append(...DAYS.map((day, i) =>
    h("label", { class: "choice", for: `day-${i}` },
      h("input", { type: "checkbox", id: `day-${i}`, name: "weekdays", value: i, checked: i < 5 }), day)));
  addSlot("10:00", "12:00");
  document.getElementById("slot-add").addEventListener("click", () => addSlot());
  await renderWindows();

  onSubmit(form, async () => {
    const weight = numberOf(form.max_weight_g);
    const body = {
      weekdays: [...form.querySelectorAll("[name=weekdays]:checked")].map((box) => Number(box.value)),
      slots: [...slots.children].map((row) => [row.querySelector(".slot-start").value, row.querySelector(".slot-end").value]),
      same_day_cutoff_minutes: Math.round((numberOf(form.same_day_cutoff_minutes) ?? 0) * Number(form.cutoff_unit.value)),
      day_before_cutoff: form.day_before_cutoff.value || null,
      max_orders: numberOf(form.max_orders),
      max_weight_g: weight === null ? null : Math.round(weight * 1000),
      days: numberOf(form.days),
      start_day: form.start_day.value || null,
    };
    const result = await api("/api/windows/schedule", { method: "POST", body });
    await renderWindows();
    const notes = [];
    if (result.existing) notes.push(`${result.existing} already existed`);
    if (result.past) notes.push(`${result.past} had already started`);
    return `${result.created.length} window${result.created.length === 1 ? "" : "s"} created${notes.length ? ` (${notes.join(", ")})` : ""}.`;
  }, { onError: markSlotError });
}
