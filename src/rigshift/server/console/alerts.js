// Alerts: what the server's rules find now (GET /admin/alerts evaluates them), their history,
// and acknowledgement (who and when are stored with the alert). Used by the Overview's panel and
// the Operations page.
import { api, esc, fmt } from "./util.js";

export const RULES = {
  rig_lost: "rig lost",
  telemetry_stale: "telemetry stale",
  replica_restarting: "replica restarting",
  hot_gpu: "GPU hot",
  error_rate: "error rate",
  slo_breach: "SLO breach",
  price_above_ceiling: "price above ceiling",
};

export async function fetchAlerts(state = "active", limit = 200) {
  return (await api(`/admin/alerts?state=${state}&limit=${limit}`)).data;
}

function since(a) {
  const resolved = a.resolved_at ? ` · resolved ${fmt.when(a.resolved_at)}` : "";
  return `since ${fmt.when(a.fired_at)}${resolved}`;
}

function ackPart(a) {
  if (a.acked_by) return `<span class="muted small acked">acknowledged by ${esc(a.acked_by)}, ${esc(fmt.when(a.acked_at))}</span>`;
  return a.resolved_at ? "" : `<button type="button" class="secondary small" data-ack="${esc(a.id)}">Acknowledge</button>`;
}

// A list of alerts: severity by colour, the rule, the message, when, and who acknowledged it.
export function alertList(alerts, { empty = "No alert firing." } = {}) {
  if (!alerts.length) return `<p class="muted" id="no-alerts">${esc(empty)}</p>`;
  return `<ul class="alerts">${alerts
    .map(
      (a) => `<li class="${esc(a.severity)}${a.resolved_at ? " resolved" : ""}" data-kind="${esc(a.rule)}" data-id="${esc(a.id)}">
<b>${esc(RULES[a.rule] || a.rule)}</b> ${esc(a.message)}
<div class="alert-meta"><span class="muted small">${esc(since(a))}</span> ${ackPart(a)}</div></li>`,
    )
    .join("")}</ul>`;
}

// Acknowledge buttons inside `el` post the acknowledgement, then call `after` (a refresh).
export function wireAcks(el, after, onError) {
  el.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-ack]");
    if (!b) return;
    b.disabled = true;
    try {
      await api(`/admin/alerts/${encodeURIComponent(b.dataset.ack)}/ack`, { method: "POST" });
      await after();
    } catch (error) {
      b.disabled = false;
      onError(error);
    }
  });
}

// The Overview's panel: the alerts firing now.
export async function showActiveAlerts(el) {
  if (!el.dataset.wired) {
    el.dataset.wired = "1";
    wireAcks(el, () => showActiveAlerts(el), (error) => el.insertAdjacentHTML("afterbegin", `<p class="error">${esc(error.message)}</p>`));
  }
  const alerts = await fetchAlerts("active");
  el.innerHTML = alertList(alerts, { empty: "No alert firing: no rig lost or stale, no replica restarting, no GPU hot, errors and latency within their limits." }) + `<p class="small"><a href="#ops">History and actions</a></p>`;
}
