// History charts: the farm's past from GET /admin/history, drawn with uPlot (vendor/, loaded on
// first use so the pages that draw no chart never fetch it). Time axes carry dates, each chart
// says its unit, hovering shows the values under the cursor, and a chart takes the width it is
// given (390 px phones included).
import { api, esc, fmt } from "./util.js";

const RANGES = ["1h", "24h", "7d", "30d"];
const COLORS = ["#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777"];
const STATE_COLORS = { serving: "#059669", mining: "#d97706", idle: "#94a3b8", lost: "#dc2626" };

let loading = null;
function loadUPlot() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = "/console/assets/vendor/uPlot.min.css";
      document.head.append(css);
      const script = document.createElement("script");
      script.src = "/console/assets/vendor/uPlot.iife.min.js";
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => reject(new Error("could not load the chart library"));
      document.head.append(script);
    });
  }
  return loading;
}

// A number short enough for an axis on a phone.
function short(v) {
  if (v == null) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return fmt.num(v / 1e6, 1) + "M";
  if (a >= 1e4) return fmt.num(v / 1e3, 1) + "k";
  if (a >= 100) return fmt.int(v);
  if (a >= 1) return Number(v.toFixed(1)).toString();
  return a === 0 ? "0" : Number(v.toPrecision(2)).toString();
}

// Values with their unit: the legend's (hover) values, and the axis ticks, where the units that
// fit (W, $, %, °C, s) stay on the number and the others are in the chart's title.
function format(unit, { tick = false } = {}) {
  if (unit === "W") return (v) => (v != null && Math.abs(v) >= 1000 ? short(v / 1000) + " kW" : short(v) + " W");
  if (unit.startsWith("USD")) return (v) => (v == null ? "–" : "$" + short(v) + (tick ? "" : unit.slice(3)));
  if (unit === "%") return (v) => short(v) + "%";
  if (unit === "°C" || unit === "s") return (v) => `${short(v)} ${unit}`;
  return tick ? short : (v) => `${short(v)} ${unit}`;
}

// Room for the longest tick label (uPlot's default is fixed and clips "0.045").
function axisSize(u, values) {
  const longest = Math.max(3, ...(values || []).map((v) => String(v).length));
  return Math.ceil(longest * 7.4) + 20;
}

// One x axis for several series: every timestamp any of them has, null where one has none.
function align(lines) {
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const y = new Array(xs.length).fill(null);
    for (const [x, v] of l.points) y[index.get(x)] = v;
    return y;
  });
  return [xs, ...ys];
}

function widthOf(el) {
  return Math.max(260, Math.floor(el.getBoundingClientRect().width || el.parentElement?.clientWidth || 320));
}

// A line chart in `el` of `lines` ([{label, points, color?}]) in `unit`; redrawn in place.
export async function lineChart(el, lines, { unit, from, to, height = window.innerWidth < 720 ? 170 : 200 } = {}) {
  const total = lines.reduce((n, l) => n + l.points.length, 0);
  el.dataset.points = String(total);
  el.dataset.unit = unit;
  if (!total) {
    el.chart?.destroy();
    el.chart = null;
    el.innerHTML = `<p class="muted small empty">No history yet for this range: points appear as agents report and requests are served.</p>`;
    return;
  }
  const uPlot = await loadUPlot();
  const data = align(lines);
  el.dataset.last = String(data[1].filter((v) => v != null).at(-1) ?? "");
  const value = format(unit);
  el.window = [from, to]; // the whole range asked for, however few points it has so far
  const keep = el.chart && el.chart.series.length === lines.length + 1 && el.chart.unit === unit;
  if (keep) {
    el.chart.setData(data);
    el.chart.setLegend({ idx: data[0].length - 1 });
    return;
  }
  el.chart?.destroy();
  el.innerHTML = "";
  const tick = format(unit, { tick: true });
  // Without the cursor on it, the legend shows the latest values.
  const latest = (u) => {
    if (u.cursor.idx == null) u.setLegend({ idx: u.data[0].length - 1 });
  };
  el.chart = new uPlot(
    {
      title: `in ${unit}`,
      width: widthOf(el),
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true, range: () => el.window } },
      hooks: { setCursor: [latest], ready: [latest] },
      axes: [
        { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e3e6eb" }, space: 70 },
        { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e3e6eb" }, size: axisSize, values: (u, vals) => vals.map(tick) },
      ],
      series: [
        { value: (u, ts) => (ts == null ? "–" : new Date(ts * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })) },
        ...lines.map((l, i) => ({ label: l.label, stroke: l.color || COLORS[i % COLORS.length], width: 2, spanGaps: false, value: (u, v) => value(v), points: { size: 4 } })),
      ],
    },
    data,
    el,
  );
  el.chart.unit = unit;
}

async function series(name, range, params = {}) {
  const q = new URLSearchParams({ series: name, range, ...params });
  return api(`/admin/history?${q}`);
}

function chartCard(id, title, note = "", span = "span-6") {
  return `<div class="card ${span} history-card"><h2>${esc(title)}</h2>${note ? `<p class="muted small">${esc(note)}</p>` : ""}<div class="history-chart" id="${id}" data-chart></div></div>`;
}

// [{label, name, params, color}] fetched and drawn as one chart.
async function draw(el, range, specs) {
  const answers = await Promise.all(specs.map((s) => series(s.name, range, s.params)));
  await lineChart(
    el,
    answers.map((a, i) => ({ label: specs[i].label, points: a.points, color: specs[i].color })),
    { unit: answers[0].unit, from: answers[0].from, to: answers[0].to },
  );
  el.dataset.series = specs.map((s) => s.name).join(",");
}

const states = (prefix, params = {}) =>
  Object.entries(STATE_COLORS).map(([state, color]) => ({ label: state, name: `${prefix}.gpus_${state}`, params, color }));

// --- The Overview's charts: the farm's power and the tokens served, last 24 h ---------------------
const OVERVIEW_EVERY_MS = 30000;
let overviewDrawn = 0;

export function overviewCharts(el, { force = false } = {}) {
  if (!force && Date.now() - overviewDrawn < OVERVIEW_EVERY_MS && el.dataset.drawn) return Promise.resolve();
  overviewDrawn = Date.now();
  if (!el.dataset.drawn) {
    el.innerHTML = `<div class="grid">${chartCard("ov-power-chart", "Farm power, last 24 h", "", "span-6")}${chartCard("ov-tokens-chart", "Tokens served per second, last 24 h", "", "span-6")}</div>`;
    el.dataset.drawn = "1";
  }
  return Promise.all([
    draw(el.querySelector("#ov-power-chart"), "24h", [{ label: "power", name: "site.power_w" }]),
    draw(el.querySelector("#ov-tokens-chart"), "24h", [{ label: "tokens/s", name: "model.tokens_per_s" }]),
  ]);
}

// --- The History page -----------------------------------------------------------------------------
export const historyPage = {
  render(el) {
    this.range = this.range || "24h";
    this.rig = null;
    this.model = null;
    el.innerHTML = `<h1>History</h1>
<div class="toolbar" id="hi-ranges" role="group" aria-label="range">${RANGES.map((r) => `<button type="button" class="secondary" data-range="${r}" aria-pressed="${r === this.range}">${r}</button>`).join("")}
<span class="muted small">1 h: 1-minute points · 24 h: 15-minute · 7 d and 30 d: hourly</span></div>
<h2 class="section">Farm</h2>
<div class="grid">${chartCard("hi-power", "Power")}${chartCard("hi-cost", "Power cost", "at each site's price and PUE")}
${chartCard("hi-states", "GPUs by state")}${chartCard("hi-price", "Power price")}</div>
<h2 class="section">Serving</h2>
<div class="toolbar"><label class="small muted" for="hi-model">model</label><select id="hi-model"><option value="">all models</option></select></div>
<div class="grid">${chartCard("hi-tokens", "Tokens per second")}${chartCard("hi-requests", "Requests and errors per minute")}
${chartCard("hi-latency", "Latency", "p50 and p95, request start to last byte")}${chartCard("hi-ttft", "Time to first token", "p50 and p95")}</div>
<h2 class="section">Revenue</h2>
<div class="grid">${chartCard("hi-revenue", "Token revenue", "metered, at the price list's token prices")}${chartCard("hi-classes", "Revenue by card class", "site / GPU model; the five largest")}</div>
<h2 class="section">Rig</h2>
<div class="toolbar"><label class="small muted" for="hi-rig">rig</label><select id="hi-rig"></select></div>
<div class="grid">${chartCard("hi-rig-power", "Rig power")}${chartCard("hi-rig-temp", "Hottest GPU")}
${chartCard("hi-rig-util", "Utilisation", "mean of the rig's GPUs")}${chartCard("hi-rig-vram", "VRAM in use")}</div>`;
    el.querySelector("#hi-ranges").addEventListener("click", (e) => {
      const r = e.target.closest("button")?.dataset.range;
      if (!r) return;
      this.range = r;
      for (const b of el.querySelectorAll("#hi-ranges button")) b.setAttribute("aria-pressed", String(b.dataset.range === r));
      this.refresh().catch(() => null);
    });
    el.querySelector("#hi-model").addEventListener("change", (e) => {
      this.model = e.target.value || null;
      this.serving().catch(() => null);
    });
    el.querySelector("#hi-rig").addEventListener("change", (e) => {
      this.rig = e.target.value || null;
      this.rigCharts().catch(() => null);
    });
  },
  async pickers() {
    const [rigs, models] = await Promise.all([
      api("/admin/history/subjects?series=rig.power_w"),
      api("/admin/history/subjects?series=model.requests_per_min"),
    ]);
    const rigSelect = document.querySelector("#hi-rig");
    if (rigSelect && rigSelect.options.length !== rigs.data.length) {
      if (!this.rig) this.rig = rigs.data[0] || null;
      rigSelect.innerHTML = rigs.data.map((r) => `<option${r === this.rig ? " selected" : ""}>${esc(r)}</option>`).join("");
    }
    const modelSelect = document.querySelector("#hi-model");
    const named = models.data.filter((m) => m !== "*");
    if (modelSelect && modelSelect.options.length !== named.length + 1) {
      modelSelect.innerHTML = `<option value="">all models</option>${named.map((m) => `<option${m === this.model ? " selected" : ""}>${esc(m)}</option>`).join("")}`;
    }
  },
  async serving() {
    const r = this.range;
    const params = this.model ? { model: this.model } : {};
    const $ = (id) => document.querySelector(id);
    await Promise.all([
      draw($("#hi-tokens"), r, [{ label: "tokens/s", name: "model.tokens_per_s", params }]),
      draw($("#hi-requests"), r, [
        { label: "requests", name: "model.requests_per_min", params },
        { label: "errors", name: "model.errors_per_min", params, color: "#dc2626" },
      ]),
      draw($("#hi-latency"), r, [
        { label: "p50", name: "model.latency_p50_s", params },
        { label: "p95", name: "model.latency_p95_s", params, color: "#d97706" },
      ]),
      draw($("#hi-ttft"), r, [
        { label: "p50", name: "model.ttft_p50_s", params },
        { label: "p95", name: "model.ttft_p95_s", params, color: "#d97706" },
      ]),
    ]);
  },
  async rigCharts() {
    if (!this.rig) {
      // No rig has reported yet: each chart says so instead of staying blank.
      for (const id of ["#hi-rig-power", "#hi-rig-temp", "#hi-rig-util", "#hi-rig-vram"]) await lineChart(document.querySelector(id), [], { unit: "" });
      return;
    }
    const r = this.range;
    const params = { rig: this.rig };
    const $ = (id) => document.querySelector(id);
    await Promise.all([
      draw($("#hi-rig-power"), r, [{ label: "power", name: "rig.power_w", params }]),
      draw($("#hi-rig-temp"), r, [{ label: "hottest GPU", name: "rig.temperature_c", params, color: "#dc2626" }]),
      draw($("#hi-rig-util"), r, [{ label: "utilisation", name: "rig.utilization_pct", params }]),
      draw($("#hi-rig-vram"), r, [{ label: "VRAM", name: "rig.vram_used_gib", params }]),
    ]);
  },
  async refresh() {
    const r = this.range;
    const $ = (id) => document.querySelector(id);
    await this.pickers();
    const classes = (await api("/admin/history/subjects?series=card_class.revenue_usd_per_h")).data.filter((c) => c !== "*");
    const sites = (await api("/admin/history/subjects?series=site.price_usd_per_kwh")).data;
    await Promise.all([
      draw($("#hi-power"), r, [{ label: "farm", name: "site.power_w" }]),
      draw($("#hi-cost"), r, [{ label: "farm", name: "site.cost_usd_per_h" }]),
      draw($("#hi-states"), r, states("site")),
      sites.length
        ? draw($("#hi-price"), r, sites.slice(0, 8).map((site) => ({ label: site, name: "site.price_usd_per_kwh", params: { site } })))
        : lineChart($("#hi-price"), [], { unit: "USD/kWh" }),
      draw($("#hi-revenue"), r, [{ label: "all tenants", name: "tenant.revenue_usd_per_h" }]),
      classes.length
        ? draw($("#hi-classes"), r, classes.slice(0, 5).map((c) => ({ label: c, name: "card_class.revenue_usd_per_h", params: { card_class: c } })))
        : lineChart($("#hi-classes"), [], { unit: "USD/h" }),
      this.serving(),
      this.rigCharts(),
    ]);
  },
};

// Charts follow the window's width (a phone turned, a laptop window resized).
let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    for (const el of document.querySelectorAll("[data-chart]")) if (el.chart) el.chart.setSize({ width: widthOf(el), height: el.chart.height });
  }, 150);
});
