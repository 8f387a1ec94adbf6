// The Energy page: per site, the price the loop decided on and the hours it gave each role
// (GET /admin/energy: the latest decision and `history`, one point per policy step), the
// decisions now, and the demand-response events. When the server runs no energy loop it says so.
// Every number from the server is checked before it is drawn: a stored value that is not a
// finite number in a plausible range shows as "–" (and is left out of a chart), never as NaN,
// an exception or a chart squashed flat by one absurd point.
import { chartWidth } from "./charts.js";
import { api, esc, table } from "./util.js";

const $ = (sel) => document.querySelector(sel);
const ROLES = [
  ["interactive", "#059669"],
  ["batch", "#2563eb"],
  ["mining", "#d97706"],
  ["off", "#94a3b8"],
];
const BANDS = [
  [100, "band-100", "≥ $100/MWh"],
  [1000, "band-1000", "≥ $1,000/MWh"],
];
// Drawn with attributes, not classes: the page's look stays in this file.
const LOOK = {
  "band-100": 'fill="#fde68a" fill-opacity="0.6"',
  "band-1000": 'fill="#fca5a5" fill-opacity="0.8"',
  grid: 'stroke="#e5e7eb"',
  line: 'fill="none" stroke="#111827" stroke-width="1.5"',
};
const MAX_PRICE = 1e5; // $/MWh: ERCOT's cap is $5,000; beyond this a stored price is not a price
const MAX_KW = 1e7;
const MAX_CARDS = 1e7;
const MIN_TIME = 946684800; // 2000-01-01: earlier "times" are not times
const MAX_TIME = 4102444800; // 2100-01-01

// A finite number within [lo, hi], else null.
export function num(v, lo = -Infinity, hi = Infinity) {
  return typeof v === "number" && Number.isFinite(v) && v >= lo && v <= hi ? v : null;
}
const when = (t) => (num(t, MIN_TIME, MAX_TIME) == null ? "–" : new Date(t * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC");
const n1 = (v, d = 1) => (v == null ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: d }));
const price = (v) => (num(v, -MAX_PRICE, MAX_PRICE) == null ? "–" : `${v < 0 ? "−" : ""}$${n1(Math.abs(v))}/MWh`);
const kw = (v) => (num(v, 0, MAX_KW) == null ? "–" : `${n1(v)} kW`);
const text = (v) => (typeof v === "string" ? v : v == null ? "" : typeof v === "number" || typeof v === "boolean" ? String(v) : "");

function notConfigured(detail, events) {
  return `<div class="card notice" id="energy-not-configured" role="status"><h2>Energy is not configured on this server</h2>
<p>No energy loop runs here, so there are no prices, decisions or hours to show${detail ? `: ${esc(detail)}` : ""}.</p>
<p class="small">Start the server with an energy config: <code>rigshift server --energy examples/energy.yaml</code> (prices per site, the farm; docs/energy.md). To see what the policy would have done over a year of prices: <code>rigshift energy simulate --demo --prices examples/prices/ercot_hb_north_dam_2024.yaml --html energy.html</code>.</p></div>
${events.length ? `<div class="card"><h2>Demand-response events (stored)</h2>${eventsTable(events)}</div>` : ""}`;
}

// The history's columns as rows, each value checked; rows without a time are dropped.
export function points(history) {
  const h = history && typeof history === "object" ? history : {};
  const col = (k) => (Array.isArray(h[k]) ? h[k] : []);
  const at = col("at");
  const out = [];
  for (let i = 0; i < Math.min(at.length, 100000); i++) {
    const t = num(at[i], MIN_TIME, MAX_TIME);
    if (t == null) continue;
    const p = { t, price: num(col("price_usd_mwh")[i], -MAX_PRICE, MAX_PRICE), kw: num(col("power_kw")[i], 0, MAX_KW) };
    for (const [role] of ROLES) p[role] = num(col(role)[i], 0, MAX_CARDS);
    out.push(p);
  }
  out.sort((a, b) => a.t - b.t);
  return out;
}

// A signed log scale beyond ±$10/MWh: a $2,000 hour and a $20 night both read.
const symlog = (v) => Math.sign(v) * Math.log10(1 + Math.abs(v) / 10);

// Calendar ticks (UTC) in [t0, t1]: hours for a day or two, days beyond.
export function timeTicks(t0, t1, width) {
  const span = t1 - t0;
  const room = Math.max(2, Math.floor(width / 70)); // a label needs ~70 px
  const steps = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];
  const step = steps.find((s) => span / s <= room) || steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 && ticks.length < 50; t += step) {
    const d = new Date(t * 1000);
    const date = d.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
    const hour = `${String(d.getUTCHours()).padStart(2, "0")}:00`;
    ticks.push({ t, label: step >= 86400 ? date : d.getUTCHours() === 0 || !ticks.length ? `${date} ${hour}` : hour });
  }
  return ticks;
}

const LEFT = 52; // px for the y labels
const BOTTOM = 20; // px for the time labels
const least = (xs, floor) => xs.reduce((m, v) => (v < m ? v : m), floor);
const most = (xs, floor) => xs.reduce((m, v) => (v > m ? v : m), floor);

// The time axis of a chart over `rows` (one per policy step): x(t) in px, the dated ticks, the step.
function frame(rows, width, height) {
  const gaps = rows.slice(1).map((p, i) => p.t - rows[i].t).filter((g) => g > 0);
  const step = gaps.length ? Math.max(60, least(gaps, Infinity)) : 300;
  const t0 = rows[0].t;
  const t1 = rows[rows.length - 1].t + step;
  const plot = width - LEFT - 8;
  const x = (t) => LEFT + ((t - t0) / (t1 - t0 || 1)) * plot;
  const axis = timeTicks(t0, t1, plot)
    .map((k) => `<line class="grid" ${LOOK.grid} x1="${x(k.t)}" x2="${x(k.t)}" y1="4" y2="${height - BOTTOM}"/><text class="tick" x="${x(k.t)}" y="${height - BOTTOM + 14}" text-anchor="middle" data-t="${k.t}">${esc(k.label)}</text>`)
    .join("");
  return { x, axis, step };
}

// The price the loop decided on, step by step, with the bands shaded.
export function priceChart(rows, { width = chartWidth(), height = 170 } = {}) {
  const pts = rows.filter((p) => p.price != null);
  if (!pts.length) return `<p class="muted">No price recorded yet: the chart fills as the loop decides (one point per step).</p>`;
  const { x, axis, step } = frame(rows, width, height);
  const [left, bottom] = [LEFT, BOTTOM];
  const lo = least(pts.map((p) => p.price), 0);
  const hi = most(pts.map((p) => p.price), 100);
  const y0 = symlog(lo);
  const y1 = symlog(hi) * 1.05;
  const y = (v) => 6 + (1 - (symlog(v) - y0) / (y1 - y0 || 1)) * (height - bottom - 10);
  const bands = BANDS.map(([at, cls, label]) =>
    pts
      .filter((p) => p.price >= at)
      .map((p) => `<rect class="${cls}" ${LOOK[cls]} x="${x(p.t)}" y="4" width="${Math.max(1.5, x(p.t + step) - x(p.t))}" height="${height - bottom - 4}"><title>${esc(when(p.t))}: ${esc(price(p.price))} (${label})</title></rect>`)
      .join(""),
  ).join("");
  const path = pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.price).toFixed(1)}H${x(p.t + step).toFixed(1)}`).join("");
  const yTicks = [-100, -10, 0, 10, 100, 1000, 10000].filter((v) => (v >= lo && v <= hi) || v === 0);
  const yAxis = yTicks.map((v) => `<text class="ylabel" x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v < 0 ? "−" : ""}$${Math.abs(v).toLocaleString("en-US")}</text><line class="grid" ${LOOK.grid} x1="${left}" x2="${width - 8}" y1="${y(v)}" y2="${y(v)}"/>`).join("");
  return `<div class="chart energy-price"><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Price per step, $/MWh">${bands}${yAxis}${axis}<path class="price-line" ${LOOK.line} d="${path}"/></svg>
<div class="legend"><span><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" ${LOOK["band-100"]}/></svg> ≥ $100/MWh</span><span><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" ${LOOK["band-1000"]}/></svg> ≥ $1,000/MWh</span><span class="muted">log scale beyond ±$10</span></div></div>`;
}

// The policy's hours: cards per role, stacked, step by step.
export function hoursChart(rows, { width = chartWidth(), height = 150 } = {}) {
  const pts = rows.filter((p) => ROLES.some(([r]) => p[r] != null));
  if (!pts.length) return "";
  const { x, axis, step } = frame(rows, width, height);
  const [left, bottom] = [LEFT, BOTTOM];
  const total = most(pts.map((p) => ROLES.reduce((s, [r]) => s + (p[r] || 0), 0)), 1);
  const h = height - bottom - 6;
  const rects = pts
    .map((p) => {
      let base = 0;
      return ROLES.map(([r, c]) => {
        const v = p[r] || 0;
        if (!v) return "";
        const top = base + v;
        const rect = `<rect data-role="${r}" x="${x(p.t)}" y="${6 + h - (top / total) * h}" width="${Math.max(1, x(p.t + step) - x(p.t))}" height="${(v / total) * h}" fill="${c}"><title>${esc(when(p.t))}: ${v.toLocaleString("en-US")} ${r}</title></rect>`;
        base = top;
        return rect;
      }).join("");
    })
    .join("");
  const yAxis = `<text class="ylabel" x="${left - 6}" y="${10}" text-anchor="end">${total.toLocaleString("en-US")}</text><text class="ylabel" x="${left - 6}" y="${6 + h}" text-anchor="end">0</text>`;
  const legend = ROLES.map(([r, c]) => `<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${c}"/></svg> ${r}</span>`).join("");
  return `<div class="chart energy-hours"><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Cards per role, step by step">${axis}${rects}${yAxis}</svg><div class="legend">${legend}</div></div>`;
}

// Card-hours per role over the history, and the hours the site was fully off.
export function hoursSummary(rows) {
  if (rows.length < 2) return "";
  const hours = { interactive: 0, batch: 0, mining: 0, off: 0 };
  let siteOff = 0;
  for (let i = 0; i < rows.length - 1; i++) {
    const dt = (rows[i + 1].t - rows[i].t) / 3600;
    if (!(dt > 0 && dt <= 6)) continue; // a gap (the server was down) counts nothing
    for (const [r] of ROLES) hours[r] += (rows[i][r] || 0) * dt;
    if (!rows[i].interactive && !rows[i].batch && !rows[i].mining && rows[i].off) siteOff += dt;
  }
  const span = (rows[rows.length - 1].t - rows[0].t) / 3600;
  const parts = ROLES.map(([r]) => `${Math.round(hours[r]).toLocaleString("en-US")} ${r}`).join(" · ");
  return `<p class="small" data-hours>Over the last ${n1(span)} h: card-hours ${esc(parts)}; site fully off ${n1(siteOff)} h.</p>`;
}

function eventsTable(events) {
  const rows = events
    .filter((e) => e && typeof e === "object")
    .slice(0, 200)
    .map((e) => {
      const shed = num(e.shed_kw, 0, MAX_KW);
      const target = num(e.target_kw, 0, MAX_KW);
      return `<tr><td>${esc(text(e.id))}</td><td>${esc(text(e.site))}</td><td>${shed != null ? `shed ${esc(n1(shed))} kW` : target != null ? `≤ ${esc(n1(target))} kW` : "–"}</td><td class="hide-phone">${esc(when(e.start))}</td><td>${esc(when(e.end))}</td><td class="num hide-phone">${esc(kw(e.max_kw_shed))}</td></tr>`;
    })
    .join("");
  return rows ? `<div class="table-wrap"><table id="energy-events"><thead><tr><th>id</th><th>site</th><th>asked</th><th class="hide-phone">start</th><th>end</th><th class="num hide-phone">max shed</th></tr></thead><tbody>${rows}</tbody></table></div>` : `<p class="muted">None.</p>`;
}

function siteCard(s, i) {
  const rows = points(s.history);
  const name = text(s.site) || `site ${i + 1}`;
  return `<div class="card energy-site" data-site="${esc(name)}"><h2>${esc(name)}</h2>
<h3>Price the policy decided on</h3>${priceChart(rows)}
<h3>The policy's hours: cards per role</h3>${hoursChart(rows) || `<p class="muted">No decision recorded yet.</p>`}${hoursSummary(rows)}</div>`;
}

export const energyPage = {
  render(el) {
    el.innerHTML = `<h1>Energy</h1><div id="en-body"></div>`;
  },
  async refresh() {
    let d;
    try {
      d = await api("/admin/energy");
    } catch (error) {
      // 404: this server has no energy routes; 409/503: it has them but energy is not set up.
      if ([404, 409, 503].includes(error.status)) {
        $("#en-body").innerHTML = notConfigured(error.status === 404 ? "" : error.message, []);
        return;
      }
      throw error;
    }
    const sites = d && Array.isArray(d.sites) ? d.sites.filter((s) => s && typeof s === "object") : [];
    const events = d && Array.isArray(d.events) ? d.events : [];
    if (!d || d.running === false || !sites.length) {
      $("#en-body").innerHTML = notConfigured("", events);
      return;
    }
    const decision = (x) => (x.decision && typeof x.decision === "object" ? x.decision : null);
    const rows = sites.map((x) => {
      const dd = decision(x);
      const cards = dd && dd.cards && typeof dd.cards === "object" ? dd.cards : {};
      const event = x.event && typeof x.event === "object" ? x.event : null;
      return {
        site: text(x.site),
        price: num(x.price_usd_mwh, -MAX_PRICE, MAX_PRICE),
        planned_kw: num(x.planned_kw, 0, MAX_KW),
        limit_kw: num(x.limit_kw, 0, MAX_KW),
        measured_kw: num(x.measured_kw, 0, MAX_KW),
        batch: x.batch_paused ? "paused" : x.batch_allowed ? "on" : "off",
        mining: dd ? (dd.mining_on ? "on" : "off") : "–",
        cards: ROLES.map(([r]) => [num(cards[r], 0, MAX_CARDS), r]).filter(([v]) => v != null).map(([v, r]) => `${v.toLocaleString("en-US")} ${r}`).join(" · ") || "–",
        event: event ? `${num(event.shed_kw, 0, MAX_KW) != null ? `shed ${n1(event.shed_kw)} kW` : `≤ ${n1(num(event.target_kw, 0, MAX_KW))} kW`} until ${when(event.end)}` : "",
        notes: dd && Array.isArray(dd.notes) ? dd.notes.map(text).join("; ") : x.price_missing ? "no price" : "",
      };
    });
    const kpis = rows.map((r) => `<div class="kpi"><div class="v">${esc(price(r.price))}</div><div class="l">${esc(r.site)}: price now</div><div class="s">${r.planned_kw == null ? "" : `plan ${esc(kw(r.planned_kw))}`}</div></div>`).join("");
    $("#en-body").innerHTML = `<div class="kpis">${kpis}</div>${sites.map(siteCard).join("")}
<div class="card"><h2>Decisions per site</h2><div id="en-sites"></div></div>
<div class="card"><h2>Demand-response events</h2><div id="en-events">${eventsTable(events)}</div></div>`;
    table($("#en-sites"), [
      { key: "site", label: "site" },
      { key: "price", label: "$/MWh", num: true, render: (r) => esc(r.price == null ? "–" : n1(r.price)) },
      { key: "planned_kw", label: "plan kW", num: true, render: (r) => esc(r.planned_kw == null ? "–" : n1(r.planned_kw)) },
      { key: "limit_kw", label: "limit kW", num: true, hidePhone: true, render: (r) => esc(r.limit_kw == null ? "–" : n1(r.limit_kw)) },
      { key: "measured_kw", label: "measured kW", num: true, hidePhone: true, render: (r) => esc(r.measured_kw == null ? "–" : n1(r.measured_kw)) },
      { key: "cards", label: "cards", hidePhone: true },
      { key: "batch", label: "batch" },
      { key: "mining", label: "mining" },
      { key: "event", label: "event", wrap: true },
      { key: "notes", label: "why", hidePhone: true, wrap: true },
    ], rows, { filter: false, id: "energy-sites" });
  },
};
