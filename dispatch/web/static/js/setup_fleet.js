// Set-up, "Fleet": the bike types (what each carries and how many bikes there are).
import { api, fmtKg, h } from "/static/js/api.js";
import { data, load, numberOf, onSubmit } from "/static/js/setup_common.js";

const form = document.getElementById("bike-form");
const list = document.getElementById("bike-list");

function render() {
  const rows = data.bikeTypes.map((bike) => h("tr", {},
    h("td", {}, h("strong", {}, bike.name), h("div", { class: "muted small" },
      [bike.profile === "e_cargo_bike" ? "electric" : "pedal", bike.cooled && "cooled", bike.trailer && "trailer"].filter(Boolean).join(" · "))),
    h("td", {}, `${fmtKg(bike.capacity_g)}, ${(bike.capacity_ml / 1000).toFixed(0)} L, ${bike.capacity_parcels} parcels`),
    h("td", {}, String(bike.count))));
  list.replaceChildren(...(rows.length ? rows
    : [h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No bike types yet: add the first one."))]));
}

const scaled = (input, factor) => {
  const value = numberOf(input);
  return value === null ? null : Math.round(value * factor);
};

export async function initFleet() {
  document.addEventListener("setup:bikeTypes", render);
  await load("bikeTypes");
  onSubmit(form, async () => {
    const bike = await api("/api/bike-types", {
      method: "POST",
      body: {
        name: form.name.value.trim(),
        capacity_g: scaled(form.capacity_g, 1000),
        capacity_ml: scaled(form.capacity_ml, 1000),
        capacity_parcels: numberOf(form.capacity_parcels),
        count: numberOf(form.count),
        profile: form.profile.value,
        cooled: form.cooled.checked,
        trailer: form.trailer.checked,
      },
    });
    form.reset();
    await load("bikeTypes");
    return `Bike type "${bike.name}" added.`;
  });
}
