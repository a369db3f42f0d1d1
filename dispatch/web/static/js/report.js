// The day-end report: a day's totals as big figures, plots drawn here as inline SVG (no chart
// library), per-window, per-courier and per-courier-per-window tables, and the CSV download.
// `?day=YYYY-MM-DD` opens a day (the page keeps it in its address).
import { api, errorText, fmtRange, h, showAlert, timeZone } from "/static/js/api.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const params = new URLSearchParams(window.location.search);

function todayInTown() {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: timeZone(), year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date()).slice(0, 10);
}

function addDays(day, n) {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + n);
  return date.toISOString().slice(0, 10);
}

const km = (metres) => (metres === null || metres === undefined ? "—" : `${(metres / 1000).toFixed(1)} km`);
const kg = (value) => `${value.toFixed(2)} kg`;
const pct = (rate) => (rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)} %`);

// ── SVG bar charts ─────────────────────────────────────────────────────────────────────────

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Horizontal bars into `target` (an <svg>): one group per item, one bar per series, stacked
 * (`stack`) or side by side. items: [{label, values: [number|null]}]; series: [{name, cls}].
 */
function barChart(target, items, series, { stack = false, max = null, format = String, empty = "Nothing to show" } = {}) {
  target.replaceChildren();
  // Drawn at the size it is shown, so its text stays readable on a phone.
  const width = Math.max(300, Math.round(target.getBoundingClientRect().width) || 560);
  const labelW = Math.min(150, Math.round(width * 0.36));
  const valueW = 70;
  const barH = stack ? 22 : 14;
  const groupH = stack ? barH + 10 : series.length * (barH + 3) + 9;
  const height = Math.max(items.length, 1) * groupH + 12;
  target.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (!items.length) {
    target.append(svg("text", { x: 8, y: 22, class: "empty" }, empty));
    return;
  }
  const totals = items.map((item) => (stack
    ? item.values.reduce((a, b) => a + (b || 0), 0)
    : Math.max(0, ...item.values.map((v) => v || 0))));
  const top = max ?? Math.max(...totals, 1e-9);
  const scale = (width - labelW - valueW) / top;
  target.append(svg("line", { class: "axis", x1: labelW, y1: 4, x2: labelW, y2: height - 6 }));
  items.forEach((item, i) => {
    const y0 = 6 + i * groupH;
    const group = svg("g", { "data-label": item.label });
    group.append(svg("text", { x: labelW - 6, y: y0 + (stack ? barH : groupH - 9) / 2 + 4, "text-anchor": "end" }, item.label));
    let x = labelW;
    item.values.forEach((value, s) => {
      if (value === null || value === undefined) {
        if (!stack) group.append(svg("text", { x: labelW + 4, y: y0 + s * (barH + 3) + barH - 3, class: "none" }, "—"));
        return;
      }
      const w = Math.max(value * scale, value > 0 ? 1 : 0);
      const y = stack ? y0 : y0 + s * (barH + 3);
      const bar = svg("rect", {
        class: `bar ${series[s].cls}`, x: stack ? x : labelW, y, width: w.toFixed(1), height: barH,
        "data-series": series[s].name, "data-value": value,
      });
      bar.append(svg("title", {}, `${item.label}, ${series[s].name}: ${format(value)}`));
      group.append(bar);
      if (!stack) group.append(svg("text", { x: labelW + w + 4, y: y + barH - 3 }, format(value)));
      if (stack) x += w;
    });
    if (stack) group.append(svg("text", { x: x + 4, y: y0 + barH - 6 }, format(totals[i])));
    target.append(group);
  });
}

// ── the page ───────────────────────────────────────────────────────────────────────────────

function figure(label, value, note = "") {
  return h("div", { class: "report-figure" }, h("dt", {}, label), h("dd", {}, value, note ? h("small", {}, note) : null));
}

function renderFigures(report) {
  const t = report.totals;
  $("figures").replaceChildren(
    figure("On time", pct(t.on_time_rate), `${t.on_time} of ${t.due} due`),
    figure("Deliveries done", String(t.done), `${t.failed} failed · ${t.skipped} skipped · ${t.open} open`),
    figure("Parcels delivered", String(t.parcels)),
    figure("Km ridden (planned path)", km(t.ridden_m)),
    figure("Km ridden (GPS)", km(t.gps_m), t.gps_m === null ? "no GPS fixes" : ""),
    figure("CO₂ saved vs a diesel van", kg(t.van_kg_co2e), `over ${km(t.van_m)} of van driving (approx.)`),
  );
}

const COLUMNS = [
  ["Deliveries", (f) => f.deliveries],
  ["Done", (f) => f.done],
  ["Failed", (f) => f.failed],
  ["Skipped", (f) => f.skipped],
  ["Open", (f) => f.open],
  ["On time", (f) => `${f.on_time}/${f.due}`],
  ["On-time rate", (f) => pct(f.on_time_rate)],
  ["Parcels", (f) => f.parcels],
  ["Km (planned path)", (f) => km(f.ridden_m)],
  ["Km (GPS)", (f) => km(f.gps_m)],
  ["Van CO₂", (f) => kg(f.van_kg_co2e)],
];

function table(target, firstHeads, rows, total) {
  const head = h("thead", {}, h("tr", {}, ...firstHeads.map((x) => h("th", { scope: "col", class: "text" }, x)), ...COLUMNS.map(([name]) => h("th", { scope: "col" }, name))));
  const line = (cells, f) => h("tr", {}, ...cells.map((c) => h("td", { class: "text" }, c)), ...COLUMNS.map(([, get]) => h("td", {}, String(get(f)))));
  const body = h("tbody", {}, ...rows.map(([cells, f]) => line(cells, f)));
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: firstHeads.length + COLUMNS.length, class: "muted" }, "Nothing planned this day.")));
  const foot = total ? h("tfoot", {}, line(["Day total", ...Array(firstHeads.length - 1).fill("")], total)) : "";
  target.replaceChildren(head, body, foot);
}

function windowName(w) {
  return fmtRange(w.starts_at ?? w.window_starts_at, w.ends_at ?? w.window_ends_at);
}

function render(report) {
  renderFigures(report);
  const couriers = report.couriers;
  barChart($("plot-ontime"), couriers.map((c) => ({ label: c.courier_name, values: [c.on_time_rate] })),
    [{ name: "on-time rate", cls: "bar-ontime" }], { max: 1, format: pct, empty: "No deliveries due" });
  barChart($("plot-windows"), report.windows.map((w) => ({ label: windowName(w), values: [w.done, w.failed + w.skipped, w.open] })),
    [{ name: "done", cls: "bar-done" }, { name: "failed or skipped", cls: "bar-failed" }, { name: "open", cls: "bar-open" }],
    { stack: true, empty: "No windows this day" });
  barChart($("plot-km"), couriers.map((c) => ({ label: c.courier_name, values: [c.ridden_m / 1000, c.gps_m === null ? null : c.gps_m / 1000, c.van_m / 1000] })),
    [{ name: "bike, planned path", cls: "bar-bike" }, { name: "bike, GPS", cls: "bar-gps" }, { name: "van (approx.)", cls: "bar-van" }],
    { format: (v) => `${v.toFixed(1)} km`, empty: "Nothing ridden" });
  barChart($("plot-co2"), couriers.map((c) => ({ label: c.courier_name, values: [c.van_kg_co2e] })),
    [{ name: "kg CO₂e saved", cls: "bar-co2" }], { format: kg, empty: "Nothing ridden" });

  table($("windows-table"), ["Window"], report.windows.map((w) => [[windowName(w)], w]), report.totals);
  table($("couriers-table"), ["Courier"], couriers.map((c) => [[c.courier_name], c]), report.totals);
  table($("rows-table"), ["Window", "Courier"], report.rows.map((r) => [[windowName(r), r.courier_name], r]), null);

  $("factor-value").textContent = String(report.van.kg_co2e_per_km);
  $("factor-year").textContent = String(report.van.factor_year);
  const planned = report.windows.filter((w) => w.planned).length;
  $("report-status").textContent = report.rows.length
    ? `${report.windows.length} windows (${planned} planned), ${couriers.length} couriers.`
    : report.notes[report.notes.length - 1];
}

let loading = null;
async function load(day) {
  $("day").value = day;
  $("csv-link").href = `/api/report/day.csv?day=${encodeURIComponent(day)}`;
  const next = new URLSearchParams(window.location.search);
  next.set("day", day);
  window.history.replaceState(null, "", `${window.location.pathname}?${next}`);
  $("report-status").textContent = "Loading the report…";
  if (loading) loading.abort();
  loading = new AbortController();
  try {
    const report = await api(`/api/report/day?day=${encodeURIComponent(day)}`, { signal: loading.signal });
    render(report);
    document.body.dataset.reportDay = report.day;
  } catch (error) {
    if (error.name === "AbortError") return;
    $("report-status").textContent = "The report could not load.";
    showAlert(errorText(error));
  }
}

$("day-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if ($("day").value) load($("day").value);
});
$("day").addEventListener("change", () => { if ($("day").value) load($("day").value); });
$("day-prev").addEventListener("click", () => load(addDays($("day").value || todayInTown(), -1)));
$("day-next").addEventListener("click", () => load(addDays($("day").value || todayInTown(), 1)));

load(/^\d{4}-\d{2}-\d{2}$/.test(params.get("day") || "") ? params.get("day") : todayInTown());
