// The Operations page: alerts (now and history), the operator's actions and the audit log.
// Every action goes through `confirmAction`: a dialog that says what will happen, in words, before
// anything is sent. The server writes each one to the audit log with the admin key's name; the
// `rigshift ops …` commands do the same through the same API.
import { alertList, fetchAlerts, wireAcks } from "./alerts.js";
import { api, esc, fmt, table } from "./util.js";

const $ = (sel) => document.querySelector(sel);

// A modal <dialog>: title, what will happen (a list), Confirm / Cancel. Resolves true on Confirm.
export function confirmAction({ title, lines, confirm = "Confirm", danger = false }) {
  let dialog = $("#confirm-dialog");
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = "confirm-dialog";
    document.body.append(dialog);
  }
  dialog.innerHTML = `<form method="dialog"><h2>${esc(title)}</h2><p class="muted small">What will happen:</p>
<ul id="confirm-what">${lines.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>
<div class="toolbar"><button value="ok" id="confirm-ok" class="${danger ? "danger-solid" : ""}">${esc(confirm)}</button>
<button value="cancel" id="confirm-cancel" class="secondary">Cancel</button></div></form>`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("#confirm-cancel").focus();
  });
}

function shortList(items, max = 6) {
  return items.length > max ? `${items.slice(0, max).join(", ")} and ${items.length - max} more` : items.join(", ");
}

const DEMAND_EXAMPLE = `deployments:
  - name: chat
    model: qwen2.5-1.5b
    context: 4096
    replicas: {min: 1, max: 4}
    value: {usd_per_mtok: 0.1}
`;

export const opsPage = {
  render(el) {
    el.innerHTML = `<h1>Operations</h1>
<div id="op-result" role="status"></div>
<div class="card"><h2>Alerts</h2><div class="toolbar"><label>Show <select id="al-state"><option value="active">firing now</option><option value="history">history</option></select></label></div><div id="al-list"></div></div>
<div class="grid">
<div class="card span-6"><h2>Rigs: drain, undrain, bench</h2>
<form class="inline" id="rig-form"><label>rig<input id="rig-name" list="rig-names" required maxlength="200" autocomplete="off"></label><datalist id="rig-names"></datalist>
<label>reason<input id="rig-reason" maxlength="500" placeholder="optional"></label>
<button type="submit" id="drain-button">Drain…</button><button type="button" class="secondary" id="bench-button">Bench…</button></form>
<h3 class="small muted">Drained rigs</h3><p class="muted small" id="drains-none">None: every rig takes requests.</p><div id="drains"></div></div>
<div class="card span-6"><h2>Demand-response events</h2>
<form class="inline" id="event-form"><label>site<input id="ev-site" list="site-names" required maxlength="200" autocomplete="off"></label><datalist id="site-names"></datalist>
<label>shed kW<input id="ev-shed" type="number" min="0.1" step="any" required></label>
<label>minutes<input id="ev-minutes" type="number" min="1" max="1440" value="60" required></label>
<button type="submit">Start event…</button></form><p class="muted small" id="events-none">No event yet.</p><div id="events"></div></div></div>
<div class="card"><h2>Demand</h2><p class="muted small">A demand file's YAML (docs/planner.md), planned on the server's fleet; drained rigs are left out. A dry run changes nothing.</p>
<textarea id="demand-text" spellcheck="false" aria-label="Demand YAML">${esc(DEMAND_EXAMPLE)}</textarea>
<div class="toolbar"><button type="button" id="demand-dry" class="secondary">Dry run</button><button type="button" id="demand-apply">Apply…</button></div><div id="demand-result"></div></div>
<div class="card"><h2>Audit log</h2><div id="audit"></div></div>`;
    this.tables = {};
    this.rigs = [];
    this.named = false;
    $("#al-state").addEventListener("change", () => this.refresh());
    wireAcks($("#al-list"), () => this.refresh(), (error) => this.say(error.message, true));
    $("#rig-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.drain();
    });
    $("#bench-button").addEventListener("click", () => this.bench());
    $("#drains").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-undrain]");
      if (b) this.undrain(b.dataset.undrain);
    });
    $("#event-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.startEvent();
    });
    $("#events").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-end]");
      if (b) this.endEvent(b.dataset.end, b.dataset.site);
    });
    $("#demand-dry").addEventListener("click", () => this.demand(false));
    $("#demand-apply").addEventListener("click", () => this.demand(true));
  },

  async refresh() {
    const state = $("#al-state").value;
    const [alerts, drains, events, audit] = await Promise.all([
      fetchAlerts(state),
      api("/admin/drains"),
      api("/admin/energy/events?limit=20").catch(() => ({ data: [] })),
      api("/admin/audit?limit=200"),
    ]);
    $("#al-list").innerHTML = alertList(alerts, { empty: state === "active" ? "No alert firing." : "No alert yet." });
    if (!this.named) await this.loadNames();
    this.drainsShown = drains.data;
    this.show("drains", $("#drains"), [
      { key: "rig", label: "rig" },
      { key: "undrain", label: "", render: (d) => `<button type="button" class="secondary small" data-undrain="${esc(d.rig)}">Undrain…</button>` },
      { key: "drained_at", label: "by, since", render: (d) => `${esc(d.drained_by)}<div class="muted small">${esc(fmt.when(d.drained_at))}</div>` },
      { key: "reason", label: "reason", hidePhone: true },
    ], drains.data, { filter: false, id: "drains-table" });
    $("#drains-none").hidden = drains.data.length > 0;
    $("#drains").hidden = !drains.data.length;
    const now = Date.now() / 1000;
    this.show("events", $("#events"), [
      { key: "site", label: "site" },
      { key: "shed_kw", label: "shed kW", num: true, render: (e) => (e.shed_kw == null ? `≤ ${fmt.num(e.target_kw)}` : fmt.num(e.shed_kw)) },
      { key: "start_at", label: "from", hidePhone: true, render: (e) => fmt.when(e.start_at) },
      { key: "end_at", label: "until", render: (e) => fmt.when(e.cancelled_at || e.end_at) },
      { key: "state", label: "", render: (e) => (e.cancelled_at ? "ended early" : e.end_at <= now ? "over" : `<button type="button" class="danger" data-end="${esc(e.id)}" data-site="${esc(e.site)}">End…</button>`) },
    ], events.data, { filter: false, id: "events-table" });
    $("#events-none").hidden = events.data.length > 0;
    $("#events").hidden = !events.data.length;
    this.show("audit", $("#audit"), [
      { key: "at", label: "when", render: (e) => fmt.when(e.at) },
      { key: "actor", label: "who" },
      { key: "action", label: "action" },
      { key: "target", label: "target" },
      { key: "outcome", label: "outcome" },
      { key: "detail", label: "detail", hidePhone: true, wrap: true, render: (e) => esc(detailText(e.detail)) },
    ], audit.data, { id: "audit-table", limit: 200 });
  },

  show(name, el, cols, rows, options) {
    if (this.tables[name]) this.tables[name].update(rows);
    else this.tables[name] = table(el, cols, rows, options);
  },

  async loadNames() {
    const fleet = await api("/admin/fleet").catch(() => ({ rigs: [] }));
    this.rigs = fleet.rigs;
    this.named = true;
    $("#rig-names").innerHTML = fleet.rigs.map((r) => `<option value="${esc(r.name)}">`).join("");
    const sites = [...new Set(fleet.rigs.map((r) => r.site))];
    $("#site-names").innerHTML = sites.map((s) => `<option value="${esc(s)}">`).join("");
  },

  say(message, error = false) {
    $("#op-result").innerHTML = `<div class="card ${error ? "error" : "notice"}" ${error ? 'role="alert"' : ""}>${esc(message)}</div>`;
  },

  // Confirm, send, report, refresh: every action the same way.
  async act(question, send, done) {
    if (!(await confirmAction(question))) return;
    try {
      const answer = await send();
      this.say(done(answer));
      await this.refresh();
    } catch (error) {
      this.say(error.message, true);
    }
  },

  rigNamed(name) {
    return this.rigs.find((r) => r.name === name);
  },

  async drain() {
    const rig = $("#rig-name").value.trim();
    const reason = $("#rig-reason").value.trim();
    const replicas = this.rigNamed(rig)?.replicas || [];
    await this.act(
      {
        title: `Drain rig ${rig}?`,
        lines: [
          `The gateway sends no new request to ${rig}${replicas.length ? ` (${replicas.length} replica(s): ${shortList(replicas)})` : " (no replica runs there now)"}; requests in flight finish.`,
          "No plan may start a new replica there until it is undrained; replicas running there keep running.",
          `Logged in the audit log as you${reason ? `, with the reason "${reason}"` : ""}.`,
        ],
        confirm: "Drain",
        danger: true,
      },
      () => api(`/admin/rigs/${encodeURIComponent(rig)}/drain`, { method: "POST", body: { reason } }),
      (d) => `Rig ${d.rig} drained by ${d.drained_by}.`,
    );
  },

  async undrain(rig) {
    await this.act(
      { title: `Undrain rig ${rig}?`, lines: [`${rig} takes requests and new replicas again.`], confirm: "Undrain" },
      () => api(`/admin/rigs/${encodeURIComponent(rig)}/undrain`, { method: "POST" }),
      () => `Rig ${rig} undrained.`,
    );
  },

  async bench() {
    const rig = $("#rig-name").value.trim();
    if (!rig) return $("#rig-name").reportValidity();
    const gpus = this.rigNamed(rig)?.gpus;
    await this.act(
      {
        title: `Bench rig ${rig}?`,
        lines: [
          `The agent on ${rig} runs llama-bench on its ${gpus ? `${gpus} GPU(s)` : "GPUs"} for several minutes; replicas there may answer slower meanwhile.`,
          "Its rows are stored as measurements and correct the estimates (the farm decision is recomputed).",
          "The audit log says started, then ok or failed.",
        ],
        confirm: "Start bench",
      },
      () => api(`/admin/rigs/${encodeURIComponent(rig)}/bench`, { method: "POST", body: {} }),
      (entry) => `Bench on ${entry.target} started (audit entry ${entry.id}).`,
    );
  },

  async startEvent() {
    const site = $("#ev-site").value.trim();
    const shed = Number($("#ev-shed").value);
    const minutes = Number($("#ev-minutes").value);
    const end = Date.now() / 1000 + minutes * 60;
    await this.act(
      {
        title: `Start a demand-response event at ${site}?`,
        lines: [
          `${site} sheds ${fmt.num(shed)} kW below its draw from now until ${fmt.when(end)}.`,
          "Batch work and mining pause first, interactive replicas last; the energy loop acts at once.",
        ],
        confirm: "Start event",
        danger: true,
      },
      () => api("/admin/energy/events", { method: "POST", body: { site, shed_kw: shed, end } }),
      (ev) => `Event ${ev.id} at ${ev.site} started.`,
    );
  },

  async endEvent(id, site) {
    await this.act(
      { title: `End event ${id} now?`, lines: [`${site} leaves the event now; work resumes at the next decision.`], confirm: "End event" },
      () => api(`/admin/energy/events/${encodeURIComponent(id)}`, { method: "DELETE" }),
      (ev) => `Event ${ev.id} ended.`,
    );
  },

  async demand(apply) {
    const text = $("#demand-text").value;
    const out = $("#demand-result");
    let dry;
    try {
      dry = await api("/admin/demand", { method: "POST", body: { demand: text, dry_run: true } });
    } catch (error) {
      out.innerHTML = `<div class="card error" role="alert">${esc(error.message)}</div>`;
      return;
    }
    out.innerHTML = demandSummary(dry);
    await this.refresh();
    if (!apply) return;
    const current = (await api("/admin/deployments")).data;
    const rigs = [...new Set(dry.replicas.map((r) => r.rig))];
    await this.act(
      {
        title: "Apply this demand?",
        lines: [
          `The plan now running (${current.length} replica(s)) is replaced by ${dry.replicas.length} replica(s) on ${rigs.length} rig(s): ${shortList(rigs)}.`,
          ...(dry.unplaced.length ? [`Not placed, and refused unless allowed: ${dry.unplaced.join("; ")}.`] : []),
          ...(dry.drained_rigs.length ? [`Drained rigs left out: ${shortList(dry.drained_rigs)}.`] : []),
          "The reconciler starts, stops and moves replicas until the running ones equal the plan.",
        ],
        confirm: "Apply",
        danger: true,
      },
      () => api("/admin/demand", { method: "POST", body: { demand: text, dry_run: false } }),
      (r) => `Applied: ${r.replicas.length} replica(s).`,
    );
  },
};

function detailText(detail) {
  return Object.entries(detail || {})
    .filter(([, v]) => v != null && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`)
    .join(" · ");
}

function demandSummary(d) {
  const rows = d.replicas
    .map((r) => `<tr><td>${esc(r.replica_id)}</td><td>${esc(r.model)}</td><td>${esc(r.rig)}</td><td>${esc((r.gpu_indices || []).join(",") || "cpu")}</td></tr>`)
    .join("");
  const unplaced = d.unplaced.length ? `<ul class="error small">${d.unplaced.map((u) => `<li>${esc(u)}</li>`).join("")}</ul>` : "";
  return `<p id="demand-summary"><b>${d.applied ? "Applied" : "Dry run"}:</b> ${d.replicas.length} replica(s)${d.drained_rigs.length ? `; drained rigs left out: ${esc(d.drained_rigs.join(", "))}` : ""}.</p>${unplaced}
<div class="table-wrap"><table><thead><tr><th>replica</th><th>model</th><th>rig</th><th>GPUs</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}
