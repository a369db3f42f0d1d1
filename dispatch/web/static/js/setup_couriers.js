// Set-up, "Couriers and shifts": couriers (add, deactivate) and one day's shifts (add, cancel).
import { api, fmtRange, h } from "/static/js/api.js";
import { busy, data, fillSelect, load, localToIso, onSubmit, todayLocal } from "/static/js/setup_common.js";

const courierForm = document.getElementById("courier-form");
const courierList = document.getElementById("courier-list");
const shiftForm = document.getElementById("shift-form");
const shiftList = document.getElementById("shift-list");
const dayInput = document.getElementById("shift-day");

const SHIFT_WORDS = { scheduled: "scheduled", on_duty: "on duty", off_duty: "finished", dropped_out: "dropped out", cancelled: "cancelled" };

function renderCouriers() {
  const bikes = new Map(data.bikeTypes.map((b) => [b.id, b.name]));
  const rows = data.couriers.map((courier) => h("li", { class: "spread" },
    h("span", {}, h("strong", {}, courier.name), " ",
      h("span", { class: "muted small" }, [bikes.get(courier.bike_type_id), courier.phone].filter(Boolean).join(" · "))),
    courier.active
      ? h("button", {
        type: "button", class: "danger", "aria-label": `Deactivate ${courier.name}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          await api(`/api/couriers/${courier.id}`, { method: "DELETE" });
          await load("couriers");
          return `${courier.name} is deactivated: no new shifts.`;
        }),
      }, "Deactivate")
      : h("span", { class: "badge", dataset: { status: "cancelled" } }, "inactive")));
  courierList.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "No couriers yet.")]));
  fillSelect(shiftForm.courier_id, data.couriers.filter((c) => c.active).map((c) => ({ value: c.id, text: c.name })),
    { empty: "Add a courier first" });
}

function renderBikeChoices() {
  fillSelect(courierForm.bike_type_id, data.bikeTypes.map((b) => ({ value: b.id, text: b.name })),
    { empty: "Add a bike type first" });
  renderCouriers();
}

function renderHubChoices() {
  fillSelect(shiftForm.hub_id, data.hubs.map((hub) => ({ value: hub.id, text: hub.name })), { empty: "Add a hub first" });
}

async function renderShifts() {
  const shifts = await api(`/api/shifts?day=${encodeURIComponent(dayInput.value)}`);
  const couriers = new Map(data.couriers.map((c) => [c.id, c.name]));
  const hubs = new Map(data.hubs.map((hub) => [hub.id, hub.name]));
  const rows = shifts.map((shift) => h("li", { class: "spread", dataset: { shiftId: shift.id } },
    h("span", {}, h("strong", {}, couriers.get(shift.courier_id) || `Courier ${shift.courier_id}`), " ",
      h("span", {}, fmtRange(shift.starts_at, shift.ends_at)), " ",
      h("span", { class: "muted small" }, hubs.get(shift.hub_id) || ""), " ",
      h("span", { class: "badge", dataset: { status: shift.status } }, SHIFT_WORDS[shift.status] || shift.status)),
    shift.status === "scheduled"
      ? h("button", {
        type: "button", class: "danger", "aria-label": `Cancel the shift of ${couriers.get(shift.courier_id)} ${fmtRange(shift.starts_at, shift.ends_at)}`,
        onclick: (event) => busy(event.currentTarget, async () => {
          await api(`/api/shifts/${shift.id}`, { method: "DELETE" });
          await renderShifts();
          return "Shift cancelled.";
        }),
      }, "Cancel")
      : null));
  shiftList.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "No shifts on this day.")]));
}

export async function initCouriers() {
  document.addEventListener("setup:bikeTypes", renderBikeChoices);
  document.addEventListener("setup:couriers", () => { renderCouriers(); renderShifts(); });
  document.addEventListener("setup:hubs", renderHubChoices);
  dayInput.value = todayLocal();
  dayInput.addEventListener("change", () => { if (dayInput.value) renderShifts(); });
  await load("couriers");
  renderBikeChoices();
  renderHubChoices();

  onSubmit(courierForm, async () => {
    const courier = await api("/api/couriers", {
      method: "POST",
      body: {
        name: courierForm.name.value.trim(),
        phone: courierForm.phone.value.trim(),
        bike_type_id: courierForm.bike_type_id.value ? Number(courierForm.bike_type_id.value) : null,
      },
    });
    courierForm.reset();
    await load("couriers");
    return `Courier ${courier.name} added.`;
  });

  onSubmit(shiftForm, async () => {
    const day = dayInput.value;
    const body = {
      courier_id: shiftForm.courier_id.value ? Number(shiftForm.courier_id.value) : null,
      hub_id: shiftForm.hub_id.value ? Number(shiftForm.hub_id.value) : null,
      starts_at: shiftForm.starts_at.value ? localToIso(day, shiftForm.starts_at.value) : null,
      ends_at: shiftForm.ends_at.value ? localToIso(day, shiftForm.ends_at.value) : null,
    };
    const shift = await api("/api/shifts", { method: "POST", body });
    await renderShifts();
    return `Shift ${fmtRange(shift.starts_at, shift.ends_at)} added.`;
  });
}
