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

// items: [{label, value}], value ≥ 0 (negative values draw to the left of a zero line)
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
<rect x="${x0}" y="${y + 2}" width="${w}" height="${row - 8}" fill="${f}" rx="2"><title>${esc(d.label)}: ${esc(format(d.value))}</title></rect>
<text x="${x0 + w + 4}" y="${y + 14}">${esc(format(d.value))}</text>`;
    })
    .join("");
  return `<div class="chart"><svg viewBox="0 0 ${width} ${height}" role="img">${body}<line class="axis" x1="${x(0)}" x2="${x(0)}" y1="0" y2="${height}"/></svg></div>`;
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
