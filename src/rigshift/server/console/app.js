// The console: login, a hash router over its pages (Operations in actions.js), and polling for live figures.
// Everything comes from the server's JSON API (the one the CLI uses); nothing is computed here
// beyond sums and formatting.
import { confirmAction, opsPage } from "./actions.js";
import { showActiveAlerts } from "./alerts.js";
import { bars, columns, funnel, signFill, stacked } from "./charts.js";
import { energyPage } from "./energy.js";
import { historyPage, overviewCharts } from "./history.js";
import { ApiError, api, esc, fmt, setCsrf, table } from "./util.js";

const POLL_MS = { overview: 5000, fleet: 10000, serving: 5000, energy: 15000, ops: 10000, history: 30000 };
const STATE_COLORS = { mining: "#d97706", serving: "#059669", idle: "#94a3b8", lost: "#dc2626" };
const USE_COLORS = { mine: "#d97706", rent: "#7c3aed", infer: "#059669", off: "#94a3b8", sell: "#dc2626" };
const $ = (sel) => document.querySelector(sel);

let session = null;
let timer = null;
let page = null; // the current page's {refresh} (polled)
let routed = 0; // counts renders, so a slow first load cannot mark a newer render as loaded

function stateBadge(s) {
  return `<span class="state ${esc(s)}">${esc(s)}</span>`;
}

function kpi(label, value, sub = "") {
  return `<div class="kpi"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div>${sub ? `<div class="s">${esc(sub)}</div>` : ""}</div>`;
}

function problem(error) {
  return `<div class="card error" role="alert">${esc(error.message)}</div>`;
}

// --- The decision (docs/decision.md): read from the server, never recomputed here ---------------
const STEPS = [
  ["gpus", "GPUs", "every GPU of the fleet"],
  ["capable", "capable", "the card serves the headline class on its own VRAM"],
  ["hostable", "hostable now", "its rig runs a replica today (host RAM, cores, disk, no miner's VRAM)"],
  ["viable", "viable", "meets the service level"],
  ["converted", "worth converting", "converting it pays at this demand and these prices"],
  ["placed", "placed", "the planner gives it a replica for the demand"],
];

function funnelChart(decision) {
  const f = decision.funnel;
  return funnel(STEPS.map(([step, label]) => ({ step, label, count: f[step] })), { band: [decision.published.low, decision.published.high] });
}

function signed(value, text) {
  return `<span class="${value < 0 ? "neg" : "pos"}">${esc(text)}</span>`;
}

// What "now" rests on, in the server's words (decision/now.py): the agents' live states where
// they report, else the model (every card at its best use today).
function nowBasis(money) {
  return money ? money.now.text : "";
}

function liveText(live) {
  return `The inventory shows ${esc(live)} right now.`;
}

// The verdict card: net now → after, what to do, the funnel beside the published share, and the
// step that removes the most cards with what would move them.
function decisionCard(decision, money, { live = null } = {}) {
  const m = { ...decision.monthly_net_usd, ...(money ? { now: money.now.monthly_net_usd } : {}) };
  const change = money ? money.now.after_minus_now_usd : m.after - m.now;
  const drop = decision.largest_drop;
  const liveNote = live ? ` <span class="live-note">${liveText(live)}</span>` : "";
  return `<div class="decision"><div class="verdict">
<div class="money"><div><div class="l">net / month now</div><div class="v">${signed(m.now, fmt.usd(m.now, 0))}</div><div class="s">${esc(nowBasis(money))}</div></div>
<div class="arrow" aria-hidden="true">→</div>
<div><div class="l">after the plan</div><div class="v">${signed(m.after, fmt.usd(m.after, 0))}</div><div class="s">${signed(change, `${change >= 0 ? "+" : ""}${fmt.usd(change, 0)}/month`)}</div></div></div>
<p class="what" id="verdict-text"><b>What to do:</b> ${esc(decision.verdict)}.</p>
<p class="muted small">Service level: ${esc(decision.service_level)}. ${fmt.int(decision.batch_only_gpus)} hostable GPUs are batch-only.${liveNote}</p>
${drop ? `<details class="drop" open><summary>Largest drop: <b>${esc(drop.step)}</b> removes ${fmt.int(drop.gpus_removed)} GPUs: ${esc(drop.why)}. What would move them:</summary><ul class="small">${drop.actions.map((a) => `<li>${esc(a)}</li>`).join("")}</ul></details>` : ""}
${decision.notes.length ? `<ul class="muted small">${decision.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}</div>
<div class="funnel-box"><h3>From ${fmt.int(decision.funnel.gpus)} GPUs to ${fmt.int(decision.funnel.placed)} placed</h3>
${funnelChart(decision)}
<dl class="steps small muted">${STEPS.slice(1).map(([, label, what]) => `<dt>${esc(label)}</dt><dd>${esc(what)}</dd>`).join("")}</dl>
<p class="muted small">Published: ${esc(decision.published.text)} (<a href="${esc(decision.published.source)}" rel="noreferrer">source</a>, ${esc(decision.published.as_of)}).</p></div></div>`;
}

function placementTable(el, rows, id) {
  if (!rows.length) {
    el.innerHTML = `<p class="muted">No replica placed.</p>`;
    return;
  }
  table(el, [
    { key: "rig", label: "rig" },
    { key: "site", label: "site", hidePhone: true },
    { key: "gpu_count", label: "GPUs", num: true, render: (r) => `${r.gpu_count}<span class="hide-phone"> × ${esc(r.gpu_models.join(", "))}</span>` },
    { key: "model", label: "model", render: (r) => `${esc(r.model)}<span class="muted small hide-phone"> ${esc(r.quant)}</span>` },
    { key: "tokens_per_s", label: "tok/s", num: true, render: (r) => fmt.num(r.tokens_per_s, 0) },
    { key: "revenue_usd_day", label: "revenue $/day", num: true, hidePhone: true, render: (r) => fmt.usd(r.revenue_usd_day) },
    { key: "power_usd_day", label: "power $/day", num: true, hidePhone: true, render: (r) => fmt.usd(r.power_usd_day) },
    { key: "net_usd_day", label: "net $/day", num: true, render: (r) => signed(r.net_usd_day, fmt.usd(r.net_usd_day)) },
  ], rows.map((r) => ({ ...r, gpu_count: r.gpus.length })), { filter: rows.length > 12, limit: 200, id });
}

// --- Overview ----------------------------------------------------------------------------------
const overviewPage = {
  render(el) {
    this.sites = null;
    this.digest = null;
    el.innerHTML = `<h1>Overview</h1>
<div class="card" id="ov-decision"><h2>The decision</h2><p class="muted">Computing the farm decision…</p></div>
<h2 class="section">Right now</h2><div id="ov-kpis" class="kpis"></div>
<div id="ov-history"></div>
<div class="grid"><div class="card span-8"><h2>GPUs by state and site</h2><div id="ov-sites"></div></div>
<div class="card span-4"><h2>Alerts</h2><div id="ov-alerts"></div></div>
<div class="card span-12"><h2>Sites: power and its cost now</h2><div id="ov-site-table"></div></div></div>
<p class="muted small" id="ov-source"></p>`;
  },
  async refresh() {
    const d = await api("/admin/overview");
    const s = d.gpu_states;
    const live = `${fmt.int(s.mining)} mining · ${fmt.int(s.serving)} serving · ${fmt.int(s.idle)} idle · ${fmt.int(s.lost)} lost`;
    if (!d.decision) {
      $("#ov-decision").innerHTML = `<h2>The decision</h2><p class="muted">No fleet: start the server with <code>rigshift server --fleet FILE</code> for the farm decision.</p>`;
    } else if (d.decision.inputs_digest + nowBasis(d.decision_money) !== this.digest) {
      this.digest = d.decision.inputs_digest + nowBasis(d.decision_money); // a new decision, or a new "now"
      $("#ov-decision").innerHTML = `<h2>The decision</h2>${decisionCard(d.decision, d.decision_money, { live })}`;
    } else {
      $("#ov-decision .live-note").innerHTML = liveText(live); // the live states move; the decision did not
    }
    const sub = d.power_sources.live ? `${d.power_sources.live} GPUs live, ${d.power_sources.inventory} from inventory` : "from the inventory snapshot (no agent reporting)";
    $("#ov-kpis").innerHTML = [
      kpi("sites", d.sites.length),
      kpi("rigs", fmt.int(d.rigs), d.rigs_lost ? `${d.rigs_lost} lost` : ""),
      kpi("GPUs", fmt.int(d.gpus), `${live} (inventory and agents)`),
      kpi("power now", fmt.kw(d.power_w), sub),
      kpi("power cost", fmt.usd(d.power_cost_usd_per_h) + "/h", d.power_price_sources.includes("default") ? "site prices, else the econ default price" : "at each site's price and PUE"),
      kpi("token revenue", fmt.usdAny(d.revenue_usd_per_h) + "/h", "metered, last hour"),
      kpi("tokens/s", fmt.num(d.tokens_per_s, 1), "all replicas, last minute"),
      kpi("replicas", Object.values(d.replicas).reduce((a, b) => a + b, 0), Object.entries(d.replicas).map(([k, v]) => `${v} ${k}`).join(" · ")),
    ].join("");
    $("#ov-sites").innerHTML = stacked(
      d.sites.map((x) => ({ label: x.name, parts: { mining: x.mining, serving: x.serving, idle: x.idle, lost: x.lost } })),
      ["mining", "serving", "idle", "lost"],
      { format: fmt.int, colors: STATE_COLORS },
    );
    const sitesTable = this.sites;
    const siteRows = d.sites.map((x) => ({ ...x, kw: x.power_w / 1000 }));
    if (sitesTable) sitesTable.update(siteRows);
    else
      this.sites = table($("#ov-site-table"), [
        { key: "name", label: "site" },
        { key: "rigs", label: "rigs", num: true },
        { key: "gpus", label: "GPUs", num: true },
        { key: "serving", label: "serving", num: true, hidePhone: true },
        { key: "mining", label: "mining", num: true, hidePhone: true },
        { key: "kw", label: "power kW", num: true, render: (x) => fmt.num(x.kw) },
        { key: "usd_per_kwh", label: "$/kWh", num: true, hidePhone: true, render: (x) => fmt.usd(x.usd_per_kwh, 3) },
        { key: "power_cost_usd_per_h", label: "$/h", num: true, render: (x) => fmt.usd(x.power_cost_usd_per_h) },
      ], siteRows, { filter: false, id: "sites-table" });
    // The server's alert rules, evaluated now (alerts.js); not awaited: the figures above paint first.
    showActiveAlerts($("#ov-alerts")).catch((error) => ($("#ov-alerts").innerHTML = problem(error)));
    await overviewCharts($("#ov-history")); // the last 24 h (history.js), redrawn every 30 s
    $("#ov-source").textContent = `Fleet: ${d.fleet_source || "none configured (rigshift server --fleet FILE)"} · updated ${new Date(d.generated_at * 1000).toLocaleTimeString()}`;
  },
};

// --- Fleet -------------------------------------------------------------------------------------
const fleetPage = {
  rigs: null,
  gpus: null,
  render(el) {
    el.innerHTML = `<h1>Fleet</h1>
<div class="card"><h2>Rigs</h2><div id="fl-rigs"></div></div>
<div class="card"><h2>GPUs</h2><p class="muted small">Source <b>live</b>: an agent's report; <b>inventory</b>: the fleet file's snapshot (not now).</p><div id="fl-gpus"></div></div>
<div class="grid"><div class="card span-6"><h2>Assessment</h2><div id="fl-assess"></div></div>
<div class="card span-6"><h2>What would unlock more</h2><div id="fl-unlocks"></div></div></div>
<div class="card"><h2>GPU profiles</h2><div id="fl-profiles"></div></div>`;
    this.rigs = null;
    this.gpus = null;
    this.assessed = false;
  },
  async refresh() {
    const d = await api("/admin/fleet");
    const rigRows = d.rigs.map((r) => ({ ...r, state: r.lost ? "lost" : Object.entries(r.states).sort((a, b) => b[1] - a[1])[0]?.[0] || "idle", age: r.telemetry_age_s }));
    if (!this.rigs) {
      this.rigs = table($("#fl-rigs"), [
        { key: "name", label: "rig" },
        { key: "site", label: "site", hidePhone: true },
        { key: "state", label: "state", render: (r) => stateBadge(r.state) },
        { key: "gpus", label: "GPUs", num: true },
        { key: "power_w", label: "power W", num: true, render: (r) => fmt.int(r.power_w) },
        { key: "link", label: "link", hidePhone: true },
        { key: "best_tier", label: "best tier", hidePhone: true },
        { key: "ready_gpus", label: "AI-ready", num: true, hidePhone: true },
        { key: "age", label: "telemetry age", num: true, hidePhone: true, render: (r) => (r.age == null ? "none" : `${fmt.int(r.age)} s`) },
        { key: "cpu", label: "CPU", hidePhone: true },
        { key: "ram_gib", label: "RAM GiB", num: true, hidePhone: true },
      ], rigRows, { limit: 100, id: "rigs-table" });
      this.gpus = table($("#fl-gpus"), [
        { key: "rig", label: "rig" },
        { key: "index", label: "#", num: true },
        { key: "model", label: "model", hidePhone: true },
        { key: "state", label: "state", render: (g) => stateBadge(g.state) },
        { key: "temperature_c", label: "temp °C", num: true, render: (g) => fmt.int(g.temperature_c) },
        { key: "power_w", label: "power W", num: true, render: (g) => fmt.int(g.power_w) },
        { key: "memory_used_gib", label: "VRAM used GiB", num: true, hidePhone: true, render: (g) => (g.memory_used_gib == null ? "–" : `${fmt.num(g.memory_used_gib)} / ${fmt.num(g.vram_gib)}`) },
        { key: "link", label: "link", hidePhone: true },
        { key: "source", label: "source", hidePhone: true },
        { key: "tier", label: "tier", hidePhone: true },
        { key: "reason", label: "what holds it back", hidePhone: true, wrap: true },
      ], d.gpus, { limit: 200, id: "gpus-table" });
    } else {
      this.rigs.update(rigRows);
      this.gpus.update(d.gpus);
    }
    if (!this.assessed) {
      this.assessed = true;
      const a = await api("/admin/assess?view=summary");
      const s = a.summary;
      $("#fl-assess").innerHTML = `<p><b>${esc(s.headline)}</b></p><p class="muted small">${esc(s.criteria)}</p>
<p class="muted small">Confidence: ${esc(a.provenance)}.</p>
${bars(s.tiers.map((t) => ({ label: `≥ ${t.tier}`, value: t.gpus })), { format: fmt.int })}
<h2>Why not more</h2>${bars(s.by_reason.filter((r) => r.gpus_limited).map((r) => ({ label: r.text.slice(0, 40), value: r.gpus_limited })), { format: fmt.int, labelWidth: Math.min(230, window.innerWidth * 0.4) })}`;
      $("#fl-unlocks").innerHTML = s.unlocks.length
        ? `<div class="table-wrap"><table><thead><tr><th>action</th><th class="num">GPUs tier up</th><th class="num">newly ready</th><th class="hide-phone">effect</th></tr></thead><tbody>${s.unlocks
            .map((u) => `<tr><td class="wrap">${esc(u.text)}</td><td class="num">${fmt.int(u.gpus_tier_up)}</td><td class="num">${fmt.int(u.gpus_newly_ready)}</td><td class="hide-phone wrap">${esc(u.effect)}</td></tr>`)
            .join("")}</tbody></table></div>`
        : `<p class="muted">No fix would change a verdict.</p>`;
      table($("#fl-profiles"), [
        { key: "gpu_name", label: "card" },
        { key: "gpus", label: "GPUs", num: true },
        { key: "link", label: "link" },
        { key: "tier", label: "tier" },
        { key: "primary_reason", label: "reason", hidePhone: true, wrap: true },
        { key: "recommendation_text", label: "recommendation", hidePhone: true, wrap: true },
      ], a.profiles, { limit: 60 });
    }
  },
};

// --- Economics and plan --------------------------------------------------------------------------
// One row per replica of a `rigshift plan --json` answer, as the decision's placement rows are
// (the plan states $/h; a day is 24 of them).
function planRows(plan) {
  return plan.replicas.map((r) => ({
    replica: r.id,
    site: r.site,
    rig: r.rig,
    gpus: r.gpus.map((g) => `${g.rig}/${g.index}`),
    gpu_models: [...new Set(r.gpus.map((g) => g.model))].sort(),
    model: r.model,
    quant: r.quant,
    tokens_per_s: r.tokens_per_s,
    revenue_usd_day: r.revenue_usd_per_h * 24,
    power_usd_day: r.power_cost_usd_per_h * 24,
    net_usd_day: (r.revenue_usd_per_h - r.power_cost_usd_per_h) * 24,
  }));
}

const econPage = {
  render(el) {
    el.innerHTML = `<h1>Economics and plan</h1>
<div class="card" id="ec-decision"><h2>The decision</h2><p class="muted">Computing…</p></div>
<div id="ec-kpis" class="kpis"></div>
<div class="grid">
<div class="card span-6"><h2>Net per day by use (GPUs that can take it)</h2><p class="muted small"><span class="pos">green: earns</span> · <span class="neg">red: loses</span>, each use priced on every card that could take it</p><div id="ec-uses"></div></div>
<div class="card span-6"><h2>Conversion plan: GPUs before → after</h2><div id="ec-plan"></div></div>
<div class="card span-12"><h2>The decision's placement</h2><p class="muted small">The planner's replicas for the demand the plan serves, on the converted cards with their miners stopped; revenue at the demand's price and the stated utilisation.</p><div id="ec-placement"></div></div>
<div class="card span-12"><h2>What if?</h2><p class="muted small">The server recomputes the same decision on the changed inputs (<code>GET /admin/decision</code>).</p>
<form class="inline" id="whatif"><label>power price × <span class="range"><input type="range" id="wf-power" min="0.25" max="3" step="0.25" value="1"><output id="wf-power-v">1</output></span></label>
<label>token price × <span class="range"><input type="range" id="wf-token" min="0.25" max="3" step="0.25" value="1"><output id="wf-token-v">1</output></span></label>
<label>demand × <span class="range"><input type="range" id="wf-demand" min="0.5" max="10" step="0.5" value="1"><output id="wf-demand-v">1</output></span></label>
<label>first token within (s)<input type="number" id="wf-ttft" min="0.1" max="60" step="0.1" value="2"></label>
<button type="submit">Compute</button></form><div id="ec-whatif"></div>
<h2 class="section">Sensitivity (monthly net after the plan, $)</h2><div id="ec-sens"></div></div>
<div class="card span-12"><h2>Steps</h2><div id="ec-steps"></div></div>
<div class="card span-6"><h2>Deployed replicas (desired plan)</h2><div id="ec-desired"></div></div>
<div class="card span-6"><h2>Place a demand</h2><p class="muted small">The placement planner (<code>rigshift plan</code>) on this fleet, every usable GPU.</p>
<form id="plan-form"><textarea id="plan-demand" aria-label="demand YAML">deployments:
  - name: chat-8b
    model: llama-3.1-8b
    quant: Q4_K_M
    context: 8192
    replicas: {min: 4, max: 40}
    value: {usd_per_mtok: 0.20}</textarea><button type="submit">Plan</button></form><div id="plan-out"></div></div>
<div class="card span-12"><h2>Defaults used</h2><div id="ec-defaults" class="small"></div></div></div>`;
    for (const k of ["power", "token", "demand"]) {
      $(`#wf-${k}`).addEventListener("input", (e) => ($(`#wf-${k}-v`).textContent = e.target.value));
    }
    // A slider let go (or the bound changed) asks the server again; Compute does the same.
    for (const id of ["#wf-power", "#wf-token", "#wf-demand", "#wf-ttft"]) $(id).addEventListener("change", () => this.whatIf());
    this.asked = 0;
    $("#whatif").addEventListener("submit", (e) => {
      e.preventDefault();
      this.whatIf();
    });
    $("#plan-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.place();
    });
    this.loaded = false;
  },
  async refresh() {
    if (this.loaded) return;
    this.loaded = true;
    const [e, made, desired] = await Promise.all([api("/admin/econ"), api("/admin/decision"), api("/admin/deployments")]);
    const p = e.plan;
    const money = made.money;
    $("#ec-decision").innerHTML = `<h2>The decision</h2>${decisionCard(made.decision, money)}`;
    $("#ec-kpis").innerHTML = [
      kpi("capex", fmt.usd(money.capex_usd, 0), "spent on the plan's steps"),
      kpi("sale proceeds", fmt.usd(money.sale_proceeds_usd, 0), "cards the plan sells (one-off)"),
      kpi("best net / day", fmt.usd(e.totals.best_net_usd_day, 0), "each card in its own best use"),
      kpi("placed", `${fmt.int(made.decision.funnel.placed)} GPUs`, made.decision.placement ? `${made.decision.placement.replicas} replicas` : "no replica"),
    ].join("");
    $("#ec-uses").innerHTML = bars(e.totals.by_use.map((u) => ({ label: `${u.use} (${fmt.int(u.gpus)})`, value: u.net_usd_day, use: u.use })), { format: (v) => fmt.usd(v, 0), fill: signFill });
    const count = (allocs) => allocs.reduce((acc, a) => ((acc[a.bought ? "bought" : a.use] = (acc[a.bought ? "bought" : a.use] || 0) + a.count), acc), {});
    $("#ec-plan").innerHTML = stacked(
      [{ label: "before", parts: count(p.before) }, { label: "after", parts: count(p.after) }],
      ["mine", "rent", "infer", "off", "sell", "bought"],
      { format: fmt.int, colors: { ...USE_COLORS, bought: "#2563eb" } },
    );
    placementTable($("#ec-placement"), made.placement, "placement-table");
    if (e.sensitivity) {
      const s = e.sensitivity;
      $("#ec-sens").innerHTML = `<div class="table-wrap"><table id="sens-table"><thead><tr><th>token × \\ power ×</th>${s.power_factors.map((f) => `<th class="num">${f}</th>`).join("")}</tr></thead><tbody>${s.token_factors
        .map((tf) => `<tr><th>${tf}</th>${s.power_factors.map((pf) => {
          const c = s.cells.find((x) => x.power_factor === pf && x.token_factor === tf);
          return `<td class="num ${c.monthly_net_usd < 0 ? "neg" : c.monthly_net_usd > 0 ? "pos" : ""}" title="${esc(c.plan_summary)}">${fmt.usd(c.monthly_net_usd, 0)}</td>`;
        }).join("")}</tr>`)
        .join("")}</tbody></table></div>`;
    }
    $("#ec-steps").innerHTML = "";
    table($("#ec-steps"), [
      { key: "action", label: "action" },
      { key: "site", label: "site" },
      { key: "description", label: "what", hidePhone: true, wrap: true },
      { key: "gpus", label: "GPUs", num: true },
      // A step's capex_usd is spend minus sale proceeds (negative: the step raises cash): shown apart.
      { key: "capex_usd", label: "capex", num: true, render: (r) => (r.capex_usd > 0 ? fmt.usd(r.capex_usd, 0) : "–") },
      { key: "proceeds", label: "sale proceeds", num: true, render: (r) => (r.capex_usd < 0 ? fmt.usd(-r.capex_usd, 0) : "–") },
      { key: "monthly_gain_usd", label: "gain / month", num: true, render: (r) => signed(r.monthly_gain_usd, fmt.usd(r.monthly_gain_usd, 0)) },
      { key: "payback_months", label: "payback (months)", num: true, render: (r) => (r.payback_months == null ? "never" : fmt.num(r.payback_months)) },
    ], p.steps.map((r) => ({ ...r, proceeds: Math.max(0, -r.capex_usd) })), { filter: false, id: "steps-table" });
    table($("#ec-desired"), [
      { key: "replica_id", label: "replica" },
      { key: "model", label: "model" },
      { key: "rig", label: "rig" },
      { key: "runtime", label: "runtime", hidePhone: true },
    ], desired.data, { filter: false });
    $("#ec-defaults").innerHTML = e.defaults_used.length
      ? `<ul>${e.defaults_used.map((d) => `<li>${esc(d.what)}: ${esc(d.source)}${d.as_of ? ` (as of ${esc(d.as_of)})` : ""}</li>`).join("")}</ul>`
      : "none";
  },
  async whatIf() {
    const q = { power_factor: $("#wf-power").value, token_factor: $("#wf-token").value, demand_factor: $("#wf-demand").value, max_ttft_s: $("#wf-ttft").value };
    const out = $("#ec-whatif");
    const asked = ++this.asked; // only the latest question's answer is drawn
    out.innerHTML = `<p class="muted">Computing the decision…</p>`;
    try {
      const made = await api(`/admin/decision?${new URLSearchParams(q)}`);
      if (asked !== this.asked) return;
      const w = made.what_if;
      out.innerHTML = `<p id="whatif-result" class="small">At power × ${esc(w.power_factor)}, token prices × ${esc(w.token_factor)}, demand × ${esc(w.demand_factor)} and a first token within ${esc(w.max_ttft_s)} s:</p>
<div id="whatif-decision">${decisionCard(made.decision, made.money)}</div>
<h2>Placement</h2><div id="whatif-placement"></div>`;
      placementTable($("#whatif-placement"), made.placement, "whatif-placement-table");
    } catch (error) {
      if (asked === this.asked) out.innerHTML = problem(error);
    }
  },
  async place() {
    const out = $("#plan-out");
    out.textContent = "Planning…";
    try {
      const plan = await api("/admin/plan", { method: "POST", body: { demand: $("#plan-demand").value } });
      const rows = planRows(plan);
      const gpus = rows.reduce((n, r) => n + r.gpus.length, 0);
      out.innerHTML = `<p id="plan-summary">${fmt.int(rows.length)} replicas on ${fmt.int(gpus)} GPUs · revenue ${fmt.usd(plan.revenue_usd_per_h * 24)}/day · power ${fmt.usd(plan.power_cost_usd_per_h * 24)}/day</p>
${plan.unplaced.length ? `<p class="small">Not placed: ${plan.unplaced.map((u) => `${esc(u.deployment)}: ${fmt.int(u.replicas)} replicas${u.tokens_per_s_short ? `, ${fmt.num(u.tokens_per_s_short, 0)} tok/s short` : ""}`).join("; ")}</p>` : ""}
<div id="plan-table"></div>${plan.notes.length ? `<ul class="muted small">${plan.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}`;
      placementTable($("#plan-table"), rows, "plan-placement-table");
    } catch (error) {
      out.innerHTML = problem(error);
    }
  },
};

// --- Serving -----------------------------------------------------------------------------------
const servingPage = {
  render(el) {
    const admin = session.admin;
    el.innerHTML = `<h1>Serving</h1>
${admin ? `<div class="card"><h2>Replicas</h2><div id="sv-replicas"></div></div>` : `<p class="muted">Usage of key <b>${esc(session.name)}</b> only.</p>`}
<div class="toolbar"><label>Window <select id="sv-since"><option value="24h">24 h</option><option value="7d" selected>7 days</option><option value="30d">30 days</option></select></label></div>
<div id="sv-kpis" class="kpis"></div>
<div class="grid">
<div class="card span-6"><h2>Revenue by day</h2><div id="sv-day"></div></div>
<div class="card span-6"><h2>Tokens by model</h2><div id="sv-model"></div></div>
${admin ? `<div class="card span-6"><h2>Revenue by tenant</h2><div id="sv-tenant"></div></div><div class="card span-6"><h2>Revenue by GPU</h2><div id="sv-gpu"></div></div>` : ""}
<div class="card span-12"><h2>Usage by key</h2><div id="sv-keys-usage"></div></div></div>
${admin ? `<div class="card"><h2>API keys</h2>
<form class="inline" id="key-form"><label>name / tenant<input id="key-name" required maxlength="200"></label>
<label>models (comma-separated, * = all)<input id="key-models" value="*"></label>
<label>token quota<input id="key-quota" type="number" min="1" placeholder="none"></label>
<label>period<select id="key-period"><option>month</option><option>day</option></select></label>
<label>requests/min<input id="key-rpm" type="number" min="1" placeholder="none"></label>
<button type="submit">Create key</button></form><div id="key-created"></div><div id="sv-keys"></div></div>` : ""}`;
    $("#sv-since").addEventListener("change", () => this.refresh());
    if (admin) {
      $("#key-form").addEventListener("submit", (e) => {
        e.preventDefault();
        this.createKey();
      });
      $("#sv-keys").addEventListener("click", (e) => {
        const b = e.target.closest("button[data-revoke]");
        if (b) this.revoke(b.dataset.revoke, b.dataset.name);
      });
    }
    this.tables = {};
  },
  async refresh() {
    const admin = session.admin;
    const since = $("#sv-since").value;
    const [u, reps, keys] = await Promise.all([
      api(`/v1/usage/report?since=${since}`),
      admin ? api("/admin/replicas") : null,
      admin ? api("/admin/keys") : null,
    ]);
    const t = u.total;
    $("#sv-kpis").innerHTML = [
      kpi("requests", fmt.int(t.requests), t.errors ? `${t.errors} errors` : ""),
      kpi("tokens", fmt.int(t.prompt_tokens + t.completion_tokens), `${fmt.int(t.prompt_tokens)} prompt · ${fmt.int(t.completion_tokens)} completion`),
      kpi("revenue", fmt.usdAny(t.revenue_usd), `at $${u.prices.prompt_usd_per_mtok}/$${u.prices.completion_usd_per_mtok} per M tokens`),
      kpi("tokens/s now", fmt.num(u.tokens_per_s, 1)),
      kpi("latency p50 / p95", `${fmt.ms(t.latency_ms.p50)} / ${fmt.ms(t.latency_ms.p95)}`),
    ].join("");
    $("#sv-day").innerHTML = columns(u.day.map((r) => ({ label: r.group.slice(5), value: r.revenue_usd })), { format: fmt.usdAny });
    $("#sv-model").innerHTML = bars(u.model.map((r) => ({ label: r.group, value: r.prompt_tokens + r.completion_tokens })), { format: fmt.int });
    if (admin) {
      $("#sv-tenant").innerHTML = bars(u.tenant.map((r) => ({ label: r.group, value: r.revenue_usd })), { format: fmt.usdAny });
      $("#sv-gpu").innerHTML = bars(u.gpu.map((r) => ({ label: r.group, value: r.revenue_usd })), { format: fmt.usdAny });
    }
    const names = Object.fromEntries((keys?.data || []).map((k) => [k.id, k.name]));
    const usageRows = u.key.map((r) => ({ ...r, name: names[r.group] || (admin ? "" : session.name), tokens: r.prompt_tokens + r.completion_tokens, p95: r.latency_ms.p95 }));
    this.show("usage", $("#sv-keys-usage"), [
      { key: "group", label: "key" },
      { key: "name", label: "tenant" },
      { key: "requests", label: "requests", num: true },
      { key: "tokens", label: "tokens", num: true, render: (r) => fmt.int(r.tokens) },
      { key: "revenue_usd", label: "revenue", num: true, render: (r) => fmt.usdAny(r.revenue_usd) },
      { key: "p95", label: "p95 latency", num: true, hidePhone: true, render: (r) => fmt.ms(r.p95) },
    ], usageRows, { id: "usage-table" });
    if (!admin) return;
    const byReplica = Object.fromEntries(u.replica.map((r) => [r.group, r]));
    const repRows = reps.data.map((r) => {
      const m = byReplica[r.replica_id];
      return { ...r, restarts: Number(r.labels?.restarts || 0), tps: m ? m.tokens_per_s : 0, p50: m?.latency_ms.p50, p95: m?.latency_ms.p95, p99: m?.latency_ms.p99, requests: m ? m.requests : 0 };
    });
    this.show("replicas", $("#sv-replicas"), [
      { key: "replica_id", label: "replica" },
      { key: "deployment", label: "deployment", hidePhone: true },
      { key: "model", label: "model" },
      { key: "rig", label: "rig" },
      { key: "gpus", label: "GPUs", hidePhone: true, render: (r) => esc((r.gpus || []).join(", ") || "CPU") },
      { key: "state", label: "state", render: (r) => stateBadge(r.state) },
      { key: "restarts", label: "restarts", num: true },
      { key: "outstanding", label: "in flight", num: true, hidePhone: true },
      { key: "tps", label: "tokens/s", num: true, render: (r) => fmt.num(r.tps, 1) },
      { key: "requests", label: "requests", num: true, hidePhone: true },
      { key: "p50", label: "p50", num: true, hidePhone: true, render: (r) => fmt.ms(r.p50) },
      { key: "p95", label: "p95", num: true, render: (r) => fmt.ms(r.p95) },
      { key: "p99", label: "p99", num: true, hidePhone: true, render: (r) => fmt.ms(r.p99) },
    ], repRows, { filter: false, id: "replicas-table" });
    this.show("keys", $("#sv-keys"), [
      { key: "id", label: "id" },
      { key: "name", label: "name" },
      { key: "admin", label: "admin", render: (k) => (k.admin ? "yes" : "") },
      { key: "models", label: "models", hidePhone: true },
      { key: "quota", label: "quota" },
      { key: "rate_limit_rpm", label: "rpm", num: true, hidePhone: true },
      { key: "created_at", label: "created", hidePhone: true, render: (k) => fmt.when(k.created_at) },
      { key: "revoked_at", label: "status", render: (k) => (k.revoked_at ? `revoked ${fmt.when(k.revoked_at)}` : `<button type="button" class="danger" data-revoke="${esc(k.id)}" data-name="${esc(k.name)}">Revoke</button>`) },
    ], keys.data.map((k) => ({ ...k, models: k.allowed_models.join(","), quota: k.token_quota == null ? "none" : `${fmt.int(k.token_quota)}/${k.quota_period}` })), { id: "keys-table" });
  },
  show(name, el, cols, rows, options) {
    if (this.tables[name]) this.tables[name].update(rows);
    else this.tables[name] = table(el, cols, rows, options);
  },
  async createKey() {
    const quota = $("#key-quota").value;
    const rpm = $("#key-rpm").value;
    const body = {
      name: $("#key-name").value.trim(),
      allowed_models: $("#key-models").value.split(",").map((s) => s.trim()).filter(Boolean),
      token_quota: quota ? Number(quota) : null,
      quota_period: $("#key-period").value,
      rate_limit_rpm: rpm ? Number(rpm) : null,
    };
    const out = $("#key-created");
    try {
      const k = await api("/admin/keys", { method: "POST", body });
      out.innerHTML = `<p>Key <b>${esc(k.name)}</b> (${esc(k.id)}) created. Copy it now: it is not shown again.</p><p class="secret" id="new-key">${esc(k.key)}</p>`;
      $("#key-form").reset();
      await this.refresh();
    } catch (error) {
      out.innerHTML = problem(error);
    }
  },
  async revoke(id, name) {
    const question = {
      title: `Revoke key ${name}?`,
      lines: [`Requests with key ${name} (${id}) fail from now on, and its console sessions end.`, "A revoked key cannot be restored: the tenant needs a new key."],
      confirm: "Revoke",
      danger: true,
    };
    if (!(await confirmAction(question))) return;
    try {
      await api(`/admin/keys/${encodeURIComponent(id)}`, { method: "DELETE" });
      $("#key-created").innerHTML = `<p>Key ${esc(name)} (${esc(id)}) revoked.</p>`;
      await this.refresh();
    } catch (error) {
      $("#key-created").innerHTML = problem(error);
    }
  },
};

// --- Energy: energy.js -------------------------------------------------------------------------

// --- Shell: login, routing, polling -------------------------------------------------------------
const PAGES = { overview: overviewPage, fleet: fleetPage, econ: econPage, serving: servingPage, energy: energyPage, ops: opsPage, history: historyPage };
const ADMIN_ONLY = new Set(["overview", "fleet", "econ", "energy", "ops", "history"]);

function showLogin(message = "") {
  session = null;
  setCsrf(null);
  clearInterval(timer);
  $("#nav").hidden = true;
  $("#who").hidden = true;
  $("#page").innerHTML = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#login-key").focus();
}

function signedIn(s) {
  session = s;
  setCsrf(s.csrf_token);
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#who").hidden = false;
  $("#who-name").textContent = `${s.name}${s.admin ? " (admin)" : ""}`;
  for (const a of document.querySelectorAll("nav a[data-admin]")) a.hidden = !s.admin;
  route();
}

async function tick() {
  const current = page;
  try {
    await current.refresh();
  } catch (error) {
    if (current !== page) return; // the user moved on while this page's request was in flight
    if (error instanceof ApiError && error.status === 401) return showLogin("Your session ended; log in again.");
    $("#page").insertAdjacentHTML("afterbegin", problem(error));
  }
}

function route() {
  if (!session) return;
  let name = location.hash.slice(1) || (session.admin ? "overview" : "serving");
  if (!PAGES[name] || (ADMIN_ONLY.has(name) && !session.admin)) name = session.admin ? "overview" : "serving";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${name}`);
  clearInterval(timer);
  page = PAGES[name];
  const generation = ++routed;
  document.title = `rigshift · ${name}`;
  delete $("#page").dataset.loaded; // set again once this render has its data
  page.render($("#page"));
  $("#page").dataset.page = name;
  tick().then(() => {
    if (generation !== routed) return; // re-routed meanwhile: that render reports for itself
    $("#page").dataset.loaded = name;
    // The first page with its data on screen: bench/console_paint.py reads this mark.
    if (!performance.getEntriesByName("rigshift:useful-paint").length) {
      requestAnimationFrame(() => performance.mark("rigshift:useful-paint"));
    }
  });
  if (POLL_MS[name]) timer = setInterval(tick, POLL_MS[name]);
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const s = await api("/console/login", { method: "POST", body: { key: $("#login-key").value } });
    $("#login-key").value = "";
    signedIn(s);
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
});

$("#logout").addEventListener("click", async () => {
  await api("/console/logout", { method: "POST" }).catch(() => null);
  location.hash = "";
  showLogin();
});

window.addEventListener("hashchange", route);

api("/console/session")
  .then(signedIn)
  .catch(() => showLogin());
