// Escaping, number formats, the API client and a sortable, filterable table.

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export const fmt = {
  int: (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US")),
  num: (v, d = 1) => (v == null ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })),
  // Money that may be tiny (a demo's metered revenue): two significant digits below a cent.
  usdAny: (v) => (v == null ? "–" : Math.abs(v) >= 0.01 || v === 0 ? fmt.usd(v, 2) : (v < 0 ? "−$" : "$") + Math.abs(v).toPrecision(2)),
  usd: (v, d = 2) => (v == null ? "–" : (v < 0 ? "−$" : "$") + Math.abs(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })),
  kw: (w) => (w == null ? "–" : (w / 1000).toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) + " kW"),
  pct: (v) => (v == null ? "–" : Math.round(v * 100) + "%"),
  ms: (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US") + " ms"),
  when: (ts) => (ts == null ? "–" : new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC"),
};

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The session's CSRF token, echoed on every change (the cookie alone is not enough).
let csrfToken = null;
export function setCsrf(token) {
  csrfToken = token;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(response.status, error.message || `HTTP ${response.status}`, error.code);
  }
  return data;
}

// columns: [{key, label, num?, render?(row), hidePhone?}]; sorting and filtering stay in the element
export function table(el, columns, rows, { filter = true, limit = 300, id = "" } = {}) {
  let sortKey = null;
  let sortDir = 1;
  let query = "";
  const draw = () => {
    let shown = rows;
    if (query) {
      const q = query.toLowerCase();
      shown = rows.filter((r) => columns.some((c) => String(r[c.key] ?? "").toLowerCase().includes(q)));
    }
    if (sortKey) {
      shown = [...shown].sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        if (x == null) return 1;
        if (y == null) return -1;
        return (x > y ? 1 : x < y ? -1 : 0) * sortDir;
      });
    }
    const head = columns
      .map((c) => {
        const cls = ["sortable", c.num ? "num" : "", c.hidePhone ? "hide-phone" : "", sortKey === c.key ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : ""].join(" ");
        return `<th class="${cls}" data-key="${esc(c.key)}">${esc(c.label)}</th>`;
      })
      .join("");
    const body = shown
      .slice(0, limit)
      .map(
        (r) =>
          `<tr>${columns
            .map((c) => `<td class="${c.num ? "num" : ""} ${c.hidePhone ? "hide-phone" : ""} ${c.wrap ? "wrap" : ""}">${c.render ? c.render(r) : esc(r[c.key] ?? "–")}</td>`)
            .join("")}</tr>`,
      )
      .join("");
    const more = shown.length > limit ? `<p class="muted small">Showing ${limit} of ${shown.length} rows; filter or sort to see others.</p>` : "";
    el.querySelector(".table-wrap").innerHTML = `<table ${id ? `id="${esc(id)}"` : ""}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}`;
    el.querySelector(".count").textContent = `${shown.length} of ${rows.length}`;
  };
  el.innerHTML = `${filter ? `<div class="toolbar"><input type="search" placeholder="Filter…" aria-label="Filter"><span class="muted small count"></span></div>` : `<span class="count" hidden></span>`}<div class="table-wrap"></div>`;
  if (filter) {
    el.querySelector("input").addEventListener("input", (e) => {
      query = e.target.value;
      draw();
    });
  }
  el.addEventListener("click", (e) => {
    const th = e.target.closest("th.sortable");
    if (!th) return;
    const key = th.dataset.key;
    sortDir = sortKey === key ? -sortDir : columns.find((c) => c.key === key)?.num ? -1 : 1;
    sortKey = key;
    draw();
  });
  draw();
  return {
    update(next) {
      rows = next;
      draw();
    },
  };
}
