// Small hand-drawn SVG charts: horizontal bars, stacked bars and columns. No library: the console
// needs three shapes, and drawing them is fewer lines than vendoring and pinning a chart package.
import { esc } from "./util.js";

// Charts are drawn 1 SVG unit = 1 CSS px where they can be, so their text stays readable on a
// phone instead of shrinking with the viewBox.
export function chartWidth() {
  return window.innerWidth < 720 ? Math.max(280, window.innerWidth - 50) : 560;
}

const PALETTE = ["#2563eb", "#059669", "#d97706", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777"];

function clip(label, room) {
  const chars = Math.max(4, Math.floor(room / 6.3));
  const text = String(label);
  return text.length > chars ? text.slice(0, chars - 1) + "…" : text;
}

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

// Money by sign: a gain is green, a loss red, whatever else the bar stands for.
export const GAIN = "#059669";
export const LOSS = "#dc2626";
export const signFill = (d) => (d.value < 0 ? LOSS : GAIN);

// items: [{label, value}], value ≥ 0 (negative values draw to the left of a zero line);
// fill(d, i) picks a bar's colour (signFill for money); each bar carries data-sign.
export function bars(items, { format = String, width = chartWidth(), labelWidth = Math.min(150, width * 0.3), fill } = {}) {
  if (!items.length) return `<p class="muted">No data yet.</p>`;
  const row = 22;
  const height = items.length * row + 6;
  const min = Math.min(0, ...items.map((d) => d.value));
  const max = Math.max(0, ...items.map((d) => d.value)) || 1;
  const plot = width - labelWidth - 90;
  const x = (v) => labelWidth + ((v - min) / (max - min || 1)) * plot;
  const body = items
    .map((d, i) => {
      const y = i * row + 3;
      const x0 = x(Math.min(0, d.value));
      const w = Math.max(1, Math.abs(x(d.value) - x(0)));
      const f = fill ? fill(d, i) : color(0);
      return `<text x="${labelWidth - 6}" y="${y + 14}" text-anchor="end">${esc(clip(d.label, labelWidth - 8))}</text>
<rect x="${x0}" y="${y + 2}" width="${w}" height="${row - 8}" fill="${f}" rx="2" data-sign="${d.value < 0 ? "negative" : "positive"}" data-label="${esc(d.label)}"><title>${esc(d.label)}: ${esc(format(d.value))}</title></rect>
<text x="${x0 + w + 4}" y="${y + 14}">${esc(format(d.value))}</text>`;
    })
    .join("");
  return `<div class="chart"><svg viewBox="0 0 ${width} ${height}" role="img">${body}<line class="axis" x1="${x(0)}" x2="${x(0)}" y1="0" y2="${height}"/></svg></div>`;
}

// The decision's funnel: one bar per step, its length the share of all GPUs, beside the published
// share (band: [low, high] as fractions) drawn as a shaded range across every row.
// steps: [{step, label, count}], the first the whole fleet.
export function funnel(steps, { band = null, width = chartWidth(), labelWidth = Math.min(170, width * 0.38) } = {}) {
  if (!steps.length) return `<p class="muted">No fleet.</p>`;
  const row = 26;
  const top = band ? 18 : 4;
  const height = top + steps.length * row + 4;
  const total = steps[0].count || 1;
  const plot = width - labelWidth - 110;
  const x = (share) => labelWidth + share * plot;
  const shade = band
    ? `<rect class="band" x="${x(band[0])}" y="${top - 4}" width="${x(band[1]) - x(band[0])}" height="${height - top + 4}"><title>published: ${Math.round(band[0] * 100)}-${Math.round(band[1] * 100)}% of mining GPUs</title></rect>
<text class="band-label" x="${x(band[1]) + 3}" y="12">published ${Math.round(band[0] * 100)}-${Math.round(band[1] * 100)}%</text>`
    : "";
  const body = steps
    .map((d, i) => {
      const y = top + i * row;
      const share = d.count / total;
      const inside = band && share >= band[0] && share <= band[1];
      return `<g data-step="${esc(d.step)}" data-count="${d.count}"><text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${esc(clip(d.label, labelWidth - 8))}</text>
<rect class="step${inside ? " inside" : ""}" x="${labelWidth}" y="${y + 3}" width="${Math.max(1, share * plot)}" height="${row - 9}" rx="2"><title>${esc(d.label)}: ${d.count.toLocaleString("en-US")} GPUs</title></rect>
<text class="count" x="${labelWidth + Math.max(1, share * plot) + 4}" y="${y + 15}">${d.count.toLocaleString("en-US")} · ${(share * 100).toFixed(1)}%</text></g>`;
    })
    .join("");
  return `<div class="chart funnel"><svg viewBox="0 0 ${width} ${height}" role="img" aria-label="GPUs left after each step">${shade}${body}</svg></div>`;
}

// items: [{label, parts: {name: value}}]; keys: the part names in drawing order
export function stacked(items, keys, { format = String, width = chartWidth(), labelWidth = Math.min(110, width * 0.25), colors = {} } = {}) {
  if (!items.length) return `<p class="muted">No data yet.</p>`;
  const row = 26;
  const height = items.length * row + 6;
  const totals = items.map((d) => keys.reduce((s, k) => s + (d.parts[k] || 0), 0));
  const max = Math.max(...totals) || 1;
  const plot = width - labelWidth - 70;
  const body = items
    .map((d, i) => {
      const y = i * row + 3;
      let at = labelWidth;
      const rects = keys
        .map((k, j) => {
          const v = d.parts[k] || 0;
          if (!v) return "";
          const w = (v / max) * plot;
          const r = `<rect x="${at}" y="${y + 2}" width="${Math.max(w, 1)}" height="${row - 9}" fill="${colors[k] || color(j)}"><title>${esc(d.label)} · ${esc(k)}: ${esc(format(v))}</title></rect>`;
          at += w;
          return r;
        })
        .join("");
      return `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${esc(clip(d.label, labelWidth - 8))}</text>${rects}<text x="${at + 4}" y="${y + 15}">${esc(format(totals[i]))}</text>`;
    })
    .join("");
  const legend = keys
    .map((k, j) => `<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${colors[k] || color(j)}"/></svg> ${esc(k)}</span>`)
    .join("");
  return `<div class="chart"><svg viewBox="0 0 ${width} ${height}" role="img">${body}</svg><div class="legend">${legend}</div></div>`;
}

// items: [{label, value}] in order (e.g. days)
export function columns(items, { format = String, width = chartWidth(), height = 180 } = {}) {
  if (!items.length) return `<p class="muted">No data yet.</p>`;
  const max = Math.max(...items.map((d) => d.value)) || 1;
  const top = 16;
  const bottom = 22;
  const plot = height - top - bottom;
  const step = width / items.length;
  const w = Math.max(2, Math.min(48, step * 0.7));
  const body = items
    .map((d, i) => {
      const h = (d.value / max) * plot;
      const cx = i * step + step / 2;
      return `<rect class="bar" x="${cx - w / 2}" y="${top + plot - h}" width="${w}" height="${Math.max(h, 1)}"><title>${esc(d.label)}: ${esc(format(d.value))}</title></rect>
<text x="${cx}" y="${height - 6}" text-anchor="middle">${esc(d.label)}</text>
<text x="${cx}" y="${top + plot - h - 3}" text-anchor="middle">${esc(format(d.value))}</text>`;
    })
    .join("");
  return `<div class="chart"><svg viewBox="0 0 ${width} ${height}" role="img"><line class="axis" x1="0" x2="${width}" y1="${top + plot}" y2="${top + plot}"/>${body}</svg></div>`;
}
