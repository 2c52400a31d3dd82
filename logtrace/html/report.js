'use strict';
// Draws the report from its embedded JSON. Log text only ever enters the page as text
// (createTextNode, textContent, SVG <title>): never as markup, an attribute name, a URL
// or an event handler.
(function () {
  const DATA = JSON.parse(document.getElementById('report-data').textContent);
  const A = DATA.analysis;
  const SVGNS = 'http://www.w3.org/2000/svg';
  const COLOURS = ['#3b73c4', '#8e5bb5', '#2e8b6a', '#c7862b', '#4aa3b5', '#b5487a', '#6b7f2e',
    '#5a6fd8'];
  // C0/C1 controls, DEL and bidi/format characters: shown as escapes, never acted on.
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;
  const SAFE_ANCHOR = /^[A-Za-z0-9_.-]{1,128}$/;
  // as the terminal's Sources table (render/tables.py): rows, and sources told in full
  const MANY_SOURCES = 20;
  const TOLD_SOURCES = 5;

  function clean(value) {
    if (value === null || value === undefined) return '-';
    return String(value).replace(HIDDEN, function (c) {
      const code = c.charCodeAt(0);
      return code < 0x100 ? '\\x' + code.toString(16).toUpperCase().padStart(2, '0')
        : '\\u' + code.toString(16).toUpperCase().padStart(4, '0');
    });
  }

  // An element with attributes (never a style or on* attribute) and children: strings
  // become text nodes.
  function build(ns, tag, attrs, children) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const key in attrs || {}) {
      const value = attrs[key];
      if (value === null || value === undefined || value === false) continue;
      if (/^on|^style$/i.test(key)) throw new Error('refused attribute ' + key);
      node.setAttribute(key, String(value));
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(clean(child)));
    }
    return node;
  }
  function el(tag, attrs) { return build(null, tag, attrs, Array.prototype.slice.call(arguments, 2)); }
  function sv(tag, attrs) { return build(SVGNS, tag, attrs, Array.prototype.slice.call(arguments, 2)); }

  // ---- numbers, as the terminal report writes them --------------------------------
  function dur(s) {
    if (s === null || s === undefined) return '-';
    if (s < 0) return '-' + dur(-s);
    if (s < 0.0095) {
      const ms = Math.round(s * 1e9) / 1e6;
      return (ms % 1 ? ms.toFixed(1) : ms.toFixed(0)) + ' ms';
    }
    if (s < 1) return (s * 1000).toFixed(0) + ' ms';
    if (s < 10) return s.toFixed(2) + ' s';
    if (s < 120) return s.toFixed(1) + ' s';
    let m = Math.floor(Math.round(s) / 60);
    const sec = Math.round(s) % 60;
    if (m < 120) return m + 'm' + String(sec).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    m = m % 60;
    return h + 'h' + String(m).padStart(2, '0') + 'm';
  }
  function count(n) { return n === null || n === undefined ? '-' : n.toLocaleString('en-US'); }
  function pct(x, digits) {
    if (x === null || x === undefined) return '-';
    return (100 * x).toFixed(digits === undefined ? 2 : digits) + '%';
  }
  function signedMs(s) { return (s >= 0 ? '+' : '\u2212') + Math.abs(s * 1000).toFixed(1) + ' ms'; }
  // ISO 8601 in UTC to milliseconds: 2026-11-26 12:37:13.953 UTC
  function when(iso) {
    if (!iso) return '-';
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(iso);
    return m ? m[1] + ' ' + m[2] + (m[3] || '') + ' UTC' : clean(iso);
  }
  function clock(iso) { return iso ? clean(iso).slice(11, 19) : '-'; }
  function statusClass(status) {
    return status >= 500 ? 'status5' : status >= 400 ? 'status4' : null;
  }
  // A cell that holds a number: the raw value (data-value) sorts and is what tests read.
  function num(value, text, extra) {
    return el('td', { class: 'num' + (extra ? ' ' + extra : ''), 'data-value': value === null || value === undefined ? '' : value }, text);
  }

  // ---- links between sections -------------------------------------------------------
  const TRACES = DATA.traces || [];
  const anchorOf = new Map();
  TRACES.forEach(function (t, i) {
    anchorOf.set(t.request_id, 'trace-' + (SAFE_ANCHOR.test(t.request_id) ? t.request_id : 'n' + i));
  });
  function ridLink(rid) {
    if (rid === null || rid === undefined) return el('span', { class: 'muted' }, '-');
    const anchor = anchorOf.get(rid);
    if (!anchor) return el('span', { class: 'mono', title: 'logtrace trace ' + clean(rid) }, rid);
    return el('a', { class: 'rid', href: '#' + anchor, title: 'open its waterfall' }, rid);
  }

  // ---- tables -----------------------------------------------------------------------
  // columns: [{label, num, sort: row -> value, cell: row -> td, title}]
  function table(columns, rows, options) {
    options = options || {};
    const head = el('tr', {});
    const body = el('tbody', {});
    const tableEl = el('table', { id: options.id || null }, el('thead', {}, head), body);
    let order = { index: options.sortIndex === undefined ? -1 : options.sortIndex, dir: options.sortDir || -1 };
    let filter = '';
    function draw() {
      let shown = rows.slice();
      if (filter && options.filterKey) {
        const needle = filter.toLowerCase();
        shown = shown.filter(function (r) { return String(options.filterKey(r) || '').toLowerCase().indexOf(needle) >= 0; });
      }
      if (order.index >= 0) {
        const key = columns[order.index].sort;
        shown.sort(function (a, b) {
          const x = key(a); const y = key(b);
          if (x === y) return 0;
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          return (x < y ? -1 : 1) * order.dir;
        });
      }
      body.replaceChildren();
      for (const row of shown) {
        body.appendChild(el('tr', {}, ...columns.map(function (c) { return c.cell(row); })));
      }
      if (options.onDraw) options.onDraw(shown.length, rows.length);
      columns.forEach(function (c, i) {
        const th = head.children[i];
        if (i === order.index) th.setAttribute('aria-sort', order.dir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      });
    }
    columns.forEach(function (c, i) {
      const th = el('th', { class: (c.num ? 'num ' : '') + (c.sort ? 'sortable' : ''), title: c.title || null, scope: 'col' }, c.label);
      if (c.sort) {
        const sortBy = function () {
          order = order.index === i ? { index: i, dir: -order.dir } : { index: i, dir: c.num ? -1 : 1 };
          draw();
        };
        th.setAttribute('tabindex', '0');
        th.addEventListener('click', sortBy);
        th.addEventListener('keydown', function (event) {
          if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sortBy(); }
        });
      }
      head.appendChild(th);
    });
    draw();
    return {
      element: el('div', { class: 'tablebox' + (options.tall ? ' tall' : '') }, tableEl),
      setFilter: function (text) { filter = text; draw(); },
    };
  }
  function section(id, title) {
    const s = el('section', { class: 'block', id: id }, el('h2', {}, title));
    return s;
  }
  function note(text, cls) { return el('p', { class: cls || 'note' }, text); }

  // ---- overview ---------------------------------------------------------------------
  function card(label, value, text, opts) {
    opts = opts || {};
    return el('div', { class: 'card' + (opts.wide ? ' wide' : '') },
      el('div', { class: 'label' }, label),
      el('div', { class: 'value' + (opts.bad ? ' bad' : '') + (opts.small ? ' small' : ''), 'data-key': opts.key || null, 'data-value': value === null || value === undefined ? '' : value }, text));
  }
  function overview() {
    const s = section('overview', 'Overview');
    const lat = A.latency || {};
    const up = A.upstream_latency;
    const range = A.time_range;
    const cards = el('div', { class: 'cards' },
      card('Requests', A.requests, count(A.requests), { key: 'requests' }),
      card('5xx rate', A.error_rate, pct(A.error_rate), { key: 'error_rate', bad: A.error_rate > 0 }),
      card('4xx rate', A.client_error_rate, pct(A.client_error_rate), { key: 'client_error_rate' }),
      card('p50', lat.p50_s, dur(lat.p50_s), { key: 'p50_s' }),
      card('p90', lat.p90_s, dur(lat.p90_s), { key: 'p90_s' }),
      card('p95', lat.p95_s, dur(lat.p95_s), { key: 'p95_s' }),
      card('p99', lat.p99_s, dur(lat.p99_s), { key: 'p99_s' }),
      card('max', lat.max_s, dur(lat.max_s), { key: 'max_s' }),
      card('mean', lat.mean_s, dur(lat.mean_s), { key: 'mean_s' }),
      up ? card('upstream p99', up.p99_s, dur(up.p99_s), { key: 'upstream_p99_s' }) : null,
      card('Lines read', A.lines.total, count(A.lines.total), { key: 'lines_total' }),
      card('Rejected lines', A.lines.rejected, count(A.lines.rejected), { key: 'lines_rejected', bad: A.lines.rejected > 0 }),
      A.traces !== undefined ? card('Traces', A.traces, count(A.traces), { key: 'traces' }) : null,
      card('Time range (UTC)', range ? range.start : null,
        range ? clean(range.start).slice(0, 19).replace('T', ' ') + ' \u2192 ' + clock(range.end) : '-',
        { wide: true, small: true, key: 'time_range' }));
    s.appendChild(cards);
    for (const text of A.partial || []) s.appendChild(note(text, 'warn'));
    if (A.filters) {
      const f = A.filters;
      const parts = [];
      for (const k of ['since', 'until', 'route', 'path']) if (f[k]) parts.push(k + ' ' + f[k]);
      if (f.status && f.status.length) parts.push('status ' + f.status.map(function (r) { return r[0] === r[1] ? r[0] : r[0] + '-' + r[1]; }).join(','));
      s.appendChild(note('Filtered (' + parts.join(', ') + '): ' + count(A.requests) + ' of ' + count(f.requests_before) + ' requests.'));
    }
    const b = A.breakdown;
    if (b && b.total_s > 0) {
      s.appendChild(note('Where the time goes: upstream ' + pct(b.upstream_s / b.total_s, 1) + ' (' + dur(b.upstream_s) + '), nginx-side ' + pct(b.nginx_s / b.total_s, 1) + ' (' + dur(b.nginx_s) + ') of ' + dur(b.total_s) + ' total request time; ' + count(b.proxied) + ' requests went upstream' + (b.retried ? '; ' + count(b.retried) + ' needed ' + count(b.extra_attempts) + ' extra upstream attempts' : '') + '.'));
    }
    s.appendChild(el('h3', {}, 'Sources'));
    const srcCols = [
      { label: 'source', sort: function (r) { return r.path; }, cell: function (r) { return el('td', { class: 'mono' }, r.path); } },
      { label: 'host', sort: function (r) { return r.host; }, cell: function (r) { return el('td', {}, r.host); } },
      { label: 'service', sort: function (r) { return r.service; }, cell: function (r) { return el('td', {}, r.service); } },
      { label: 'kind', cell: function (r) { return el('td', {}, r.kind); } },
      { label: 'format', cell: function (r) { return el('td', {}, (r.format || '-') + (r.envelope ? ' in ' + r.envelope + ' lines' : '') + (r.format_detected ? ' (detected)' : '')); } },
      { label: 'lines', num: true, sort: function (r) { return r.lines_total; }, cell: function (r) { return num(r.lines_total, count(r.lines_total)); } },
      { label: 'parsed', num: true, sort: function (r) { return r.lines_parsed; }, cell: function (r) { return num(r.lines_parsed, count(r.lines_parsed)); } },
      { label: 'rejected', num: true, sort: function (r) { return r.lines_rejected; }, cell: function (r) { return num(r.lines_rejected, count(r.lines_rejected), r.lines_rejected ? 'bad' : null); } },
    ];
    // Past MANY_SOURCES (rotated logs, a folder per host), the table scrolls and filters,
    // and the warnings and rejected lines of all but the first few sources fold away.
    const many = A.sources.length > MANY_SOURCES;
    const counter = el('span', { class: 'note' });
    const t = table(srcCols, A.sources, {
      id: 'sources-table', tall: many,
      filterKey: function (r) { return [r.path, r.host, r.service, r.format].join(' '); },
      onDraw: function (shown, n) { counter.textContent = shown === n ? count(n) + ' sources' : count(shown) + ' of ' + count(n) + ' sources'; },
    });
    if (many) {
      const input = el('input', { type: 'search', id: 'sources-filter', placeholder: 'filter sources', 'aria-label': 'filter sources' });
      input.addEventListener('input', function () { t.setFilter(input.value); });
      s.appendChild(el('div', { class: 'toolbar' }, input, counter));
    }
    s.appendChild(t.element);
    const warned = A.sources.filter(function (src) { return (src.warnings || []).length; });
    const warnings = function (src) { return (src.warnings || []).map(function (w) { return note(w, 'warn'); }); };
    for (const src of warned.slice(0, TOLD_SOURCES)) s.append(...warnings(src));
    if (warned.length > TOLD_SOURCES) {
      const rest = warned.slice(TOLD_SOURCES);
      s.appendChild(el('details', { class: 'sub', id: 'more-source-warnings' },
        el('summary', {}, 'Warnings of ' + count(rest.length) + ' more sources'), ...rest.flatMap(warnings)));
    }
    const rejected = A.sources.filter(function (src) { return src.lines_rejected; });
    const rejects = function (src) {
      const reasons = Object.keys(src.rejected_reasons || {}).map(function (k) { return k + ': ' + count(src.rejected_reasons[k]); }).join('; ');
      const box = el('details', { class: 'sub' }, el('summary', {}, 'Rejected lines of ' + clean(src.path) + ' (' + count(src.lines_rejected) + '): ' + reasons));
      const rows = (src.rejected_samples || []).map(function (r) {
        return el('tr', {}, num(r.line_no, count(r.line_no)), el('td', {}, r.reason), el('td', { class: 'mono wrap' }, r.line));
      });
      box.appendChild(el('div', { class: 'tablebox' }, el('table', {}, el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'line'), el('th', {}, 'reason'), el('th', {}, 'text'))), el('tbody', {}, ...rows))));
      return box;
    };
    for (const src of rejected.slice(0, TOLD_SOURCES)) s.appendChild(rejects(src));
    if (rejected.length > TOLD_SOURCES) {
      const rest = rejected.slice(TOLD_SOURCES);
      const lines = rest.reduce(function (n, src) { return n + src.lines_rejected; }, 0);
      s.appendChild(el('details', { class: 'sub', id: 'more-source-rejects' },
        el('summary', {}, 'Rejected lines of ' + count(rest.length) + ' more sources (' + count(lines) + ')'), ...rest.map(rejects)));
    }
    return s;
  }

  // ---- charts -------------------------------------------------------------------------
  function niceStep(span, target) {
    const raw = span / Math.max(target, 1);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  // series: [{label, colour, values, kind: 'line'|'bar'}]; fmt: axis label of a value
  function chart(title, times, series, fmt, opts) {
    opts = opts || {};
    const W = 600; const H = 210; const L = 52; const R = 10; const T = 10; const B = 24;
    const all = [];
    for (const s of series) for (const v of s.values) if (v !== null && v !== undefined) all.push(v);
    const top = Math.max(opts.min || 0, ...all, 0) || 1;
    const n = times.length;
    const bw = (W - L - R) / Math.max(n, 1);
    const x = function (i) { return L + bw * (i + 0.5); };
    let y; let gridlines = [];
    if (opts.log) {
      // latencies span orders of magnitude (a 60 s timeout next to 20 ms medians): one
      // decade per grid line keeps both readable
      const positive = all.filter(function (v) { return v > 0; });
      const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...positive, top))));
      const hi = Math.pow(10, Math.ceil(Math.log10(top * 1.0001)));
      const span = Math.log10(hi) - Math.log10(lo) || 1;
      y = function (v) { return T + (H - T - B) * (1 - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span); };
      for (let v = lo; v <= hi * 1.0001; v *= 10) gridlines.push(v);
    } else {
      const step = niceStep(top, 4);
      const ymax = Math.ceil(top / step) * step;
      y = function (v) { return T + (H - T - B) * (1 - v / ymax); };
      for (let v = 0; v <= ymax + 1e-12; v += step) gridlines.push(v);
    }
    const svg = sv('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
    for (const v of gridlines) {
      svg.appendChild(sv('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(sv('text', { class: 'axis', x: L - 5, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v)));
    }
    const every = Math.max(1, Math.ceil(n / 6));
    for (let i = 0; i < n; i += every) {
      svg.appendChild(sv('text', { class: 'axis', x: x(i), y: H - 8, 'text-anchor': 'middle' }, clock(times[i])));
    }
    svg.appendChild(sv('rect', { class: 'frame', x: L, y: T, width: W - L - R, height: H - T - B }));
    for (const s of series) {
      if (s.kind === 'bar') {
        s.values.forEach(function (v, i) {
          if (v === null || v === undefined) return;
          svg.appendChild(sv('rect', { x: L + bw * i + bw * 0.12, y: y(v), width: Math.max(bw * 0.76, 0.5), height: Math.max(H - B - y(v), 0), fill: s.colour },
            sv('title', {}, clock(times[i]) + '  ' + s.label + ' ' + fmt(v, true))));
        });
      } else {
        let d = '';
        s.values.forEach(function (v, i) {
          if (v === null || v === undefined) return;
          d += (d ? ' L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
        });
        svg.appendChild(sv('path', { d: d, fill: 'none', stroke: s.colour, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
        s.values.forEach(function (v, i) {
          if (v === null || v === undefined) return;
          svg.appendChild(sv('circle', { cx: x(i), cy: y(v), r: n > 80 ? 0 : 2, fill: s.colour },
            sv('title', {}, clock(times[i]) + '  ' + s.label + ' ' + fmt(v, true))));
        });
      }
    }
    const legend = el('div', { class: 'legend' }, ...series.map(function (s) {
      return el('span', {}, svgSwatch(s.colour), s.label);
    }));
    return el('div', { class: 'chartbox' }, el('div', { class: 'title' }, title), legend, svg);
  }
  function svgSwatch(colour) {
    return sv('svg', { width: 10, height: 10, class: 'swatch' }, sv('rect', { width: 10, height: 10, rx: 2, fill: colour }));
  }
  function overTime() {
    const s = section('over-time', 'Over time');
    const buckets = A.buckets;
    if (!buckets || !buckets.length) {
      s.appendChild(note(A.requests ? 'No time buckets: the requests have no time.' : 'No request to show.'));
      return s;
    }
    const times = buckets.map(function (b) { return b.start; });
    const size = A.bucket_size_s;
    s.appendChild(note('Buckets of ' + dur(size) + (A.bucket_size_auto ? ' (auto)' : '') + ', by logged time: when each request ended (UTC).' + (A.bucket_untimed_requests ? ' ' + count(A.bucket_untimed_requests) + ' requests without a time are left out.' : '')));
    const pick = function (k) { return buckets.map(function (b) { return b[k]; }); };
    const durAxis = function (v) { return dur(v); };
    s.appendChild(el('div', { class: 'charts' },
      chart('Latency (log scale)', times, [
        { label: 'p50', colour: '#6fa8dc', values: pick('p50_s') },
        { label: 'p95', colour: '#e69138', values: pick('p95_s') },
        { label: 'p99', colour: '#c0392b', values: pick('p99_s') },
      ], durAxis, { log: true }),
      chart('Request rate', times, [
        { label: 'req/s', colour: '#7f9cc9', values: pick('req_per_s'), kind: 'bar' },
      ], function (v) { return v >= 100 ? v.toFixed(0) : String(Math.round(v * 100) / 100); })));
    const cols = [
      { label: 'start (UTC)', sort: function (r) { return r.start; }, cell: function (r) { return el('td', {}, clock(r.start)); } },
      { label: 'requests', num: true, sort: function (r) { return r.requests; }, cell: function (r) { return num(r.requests, count(r.requests)); } },
      { label: 'req/s', num: true, sort: function (r) { return r.req_per_s; }, cell: function (r) { return num(r.req_per_s, r.req_per_s === null ? '-' : r.req_per_s.toFixed(1)); } },
      { label: '4xx', num: true, sort: function (r) { return r.rate_4xx; }, cell: function (r) { return num(r.rate_4xx, pct(r.rate_4xx, 1)); } },
      { label: '5xx', num: true, sort: function (r) { return r.rate_5xx; }, cell: function (r) { return num(r.rate_5xx, pct(r.rate_5xx, 1), r.rate_5xx > 0 ? 'bad' : null); } },
    ];
    for (const k of ['p50_s', 'p95_s', 'p99_s', 'max_s', 'upstream_p99_s']) {
      if (!(k in buckets[0])) continue;
      cols.push({ label: k.replace('upstream_', 'upstr ').replace('_s', ''), num: true, sort: function (r) { return r[k]; }, cell: function (r) { return num(r[k], dur(r[k])); } });
    }
    const box = el('details', { class: 'sub' }, el('summary', {}, 'Bucket table (' + count(buckets.length) + ' buckets)'));
    box.appendChild(table(cols, buckets, { id: 'buckets-table', tall: true }).element);
    s.appendChild(box);
    return s;
  }

  // ---- routes -------------------------------------------------------------------------
  function routes() {
    const s = section('routes', 'Routes');
    const all = A.routes || [];
    const total = all.reduce(function (a, r) { return a + (r.total_s || 0); }, 0);
    const shareOf = function (r) { return total ? r.total_s / total : null; };
    const numCol = function (label, key, fmt, title) {
      return { label: label, num: true, title: title || null, sort: function (r) { return r[key]; }, cell: function (r) { return num(r[key], fmt(r[key]), key === '5xx' && r[key] ? 'bad' : null); } };
    };
    const cols = [
      { label: 'route', sort: function (r) { return r.route; }, cell: function (r) { return el('td', { class: 'mono wrap' }, r.route); } },
      numCol('requests', 'count', count),
      { label: 'share', num: true, title: 'share of all request time', sort: shareOf, cell: function (r) { return num(shareOf(r), pct(shareOf(r), 1)); } },
      numCol('p50', 'p50_s', dur), numCol('p90', 'p90_s', dur), numCol('p95', 'p95_s', dur),
      numCol('p99', 'p99_s', dur), numCol('max', 'max_s', dur),
      numCol('upstr p50', 'upstream_p50_s', dur, 'upstream time p50'),
      numCol('retried', 'retried', count, 'requests that needed more than one upstream attempt'),
      numCol('4xx', '4xx', count), numCol('5xx', '5xx', count),
    ];
    const counter = el('span', { class: 'note' });
    const t = table(cols, all, {
      id: 'routes-table', tall: true, sortIndex: 2, sortDir: -1,
      filterKey: function (r) { return r.route; },
      onDraw: function (shown, n) { counter.textContent = shown === n ? count(n) + ' routes' : count(shown) + ' of ' + count(n) + ' routes'; },
    });
    const input = el('input', { type: 'search', id: 'routes-filter', placeholder: 'filter routes', 'aria-label': 'filter routes' });
    input.addEventListener('input', function () { t.setFilter(input.value); });
    s.appendChild(el('div', { class: 'toolbar' }, input, counter));
    s.appendChild(t.element);
    if ((A.collapsed_routes || []).length) {
      s.appendChild(note('Path segments with many values were collapsed to {id}: ' + A.collapsed_routes.map(function (c) { return clean(c.route) + ' (' + count(c.distinct_values) + ' values)'; }).join(', ') + '.'));
    }
    return s;
  }

  // ---- where the time goes ------------------------------------------------------------
  function shareBar(share, colour) {
    const w = 80;
    return sv('svg', { width: w, height: 9, class: 'bar' },
      sv('rect', { width: w, height: 9, fill: '#edf0f4', rx: 1 }),
      sv('rect', { width: Math.max(0, Math.min(1, share || 0)) * w, height: 9, fill: colour || '#3b73c4', rx: 1 }));
  }
  function services() {
    if (!A.services) return null;
    const s = section('services', 'Where the time goes, per service');
    s.appendChild(note('Self time excludes waiting for the calls a span made. "serving": spans of requests a service received; "calling": its calls to others.'));
    const cols = [
      { label: 'service', sort: function (r) { return r.service; }, cell: function (r) { return el('td', {}, r.service); } },
      { label: 'as', sort: function (r) { return r.kind; }, cell: function (r) { return el('td', {}, r.kind === 'SERVER' ? 'serving' : r.kind === 'CLIENT' ? 'calling' : r.kind); } },
      { label: 'spans', num: true, sort: function (r) { return r.spans; }, cell: function (r) { return num(r.spans, count(r.spans)); } },
      { label: 'requests', num: true, sort: function (r) { return r.requests; }, cell: function (r) { return num(r.requests, count(r.requests)); } },
      { label: 'total', num: true, sort: function (r) { return r.total_s; }, cell: function (r) { return num(r.total_s, dur(r.total_s)); } },
      { label: 'self', num: true, sort: function (r) { return r.self_s; }, cell: function (r) { return num(r.self_s, dur(r.self_s)); } },
      { label: 'self share', num: true, sort: function (r) { return r.self_share; }, cell: function (r) { return el('td', { class: 'num', 'data-value': r.self_share }, shareBar(r.self_share), ' ', pct(r.self_share, 1)); } },
      { label: 'p50', num: true, sort: function (r) { return r.p50_s; }, cell: function (r) { return num(r.p50_s, dur(r.p50_s)); } },
      { label: 'p99', num: true, sort: function (r) { return r.p99_s; }, cell: function (r) { return num(r.p99_s, dur(r.p99_s)); } },
      { label: '5xx', num: true, sort: function (r) { return r.errors; }, cell: function (r) { return num(r.errors, count(r.errors), r.errors ? 'bad' : null); } },
      { label: 'hosts', cell: function (r) { return el('td', { class: 'wrap' }, r.hosts); } },
    ];
    s.appendChild(table(cols, A.services, { id: 'services-table', sortIndex: 5, sortDir: -1 }).element);
    if (A.hosts && A.hosts.length) {
      s.appendChild(el('h3', {}, 'Hosts and clock offsets'));
      const offsets = new Map((A.clock_offsets || []).map(function (o) { return [o.host, o]; }));
      const hostCols = [
        { label: 'host', sort: function (r) { return r.host; }, cell: function (r) { return el('td', {}, r.host); } },
        { label: 'services', cell: function (r) { return el('td', {}, r.services); } },
        { label: 'spans', num: true, sort: function (r) { return r.spans; }, cell: function (r) { return num(r.spans, count(r.spans)); } },
        { label: 'requests', num: true, sort: function (r) { return r.requests; }, cell: function (r) { return num(r.requests, count(r.requests)); } },
        { label: 'clock offset', num: true, sort: function (r) { const o = offsets.get(r.host); return o ? o.offset_s : null; }, cell: function (r) {
          const o = offsets.get(r.host);
          return o ? num(o.offset_s, signedMs(o.offset_s) + ' \u00b1' + (o.spread_s * 1000).toFixed(1) + ' ms') : el('td', { class: 'num muted' }, 'reference');
        } },
        { label: 'corrected spans', num: true, sort: function (r) { return r.corrected_spans; }, cell: function (r) { return num(r.corrected_spans, count(r.corrected_spans)); } },
      ];
      s.appendChild(table(hostCols, A.hosts, { id: 'hosts-table' }).element);
      if (A.corrected_requests) s.appendChild(note('Clock offsets were applied in ' + count(A.corrected_requests) + ' requests, where spans did not nest as logged (raw times are kept).'));
    }
    return s;
  }

  // ---- insights -------------------------------------------------------------------------
  const PATTERN_NAMES = { n_plus_one: 'N+1 calls', sequential: 'sequential calls', repeated: 'repeated calls', retry: 'retries', abandoned: 'abandoned work', slow_client: 'slow client', swallowed_error: 'swallowed error' };
  function patternName(p) { return Object.prototype.hasOwnProperty.call(PATTERN_NAMES, p) ? PATTERN_NAMES[p] : clean(p); }
  function insights() {
    const I = DATA.insights;
    if (!I) return null;
    const s = section('insights', 'Insights: what to fix');
    if (!I.findings.length) {
      s.appendChild(note('No pattern found in ' + count(I.requests) + ' requests.'));
      return s;
    }
    s.appendChild(note('Ranked by the time a fix would save, of ' + count(I.requests) + ' requests and ' + dur(I.total_s) + ' in all.'));
    const rows = I.findings.map(function (f, i) {
      const examples = el('td', { class: 'wrap' });
      (f.examples || []).forEach(function (rid, k) {
        if (k) examples.appendChild(document.createTextNode(' '));
        examples.appendChild(ridLink(rid));
      });
      return el('tr', {},
        num(i + 1, String(i + 1)),
        el('td', { title: clean(f.pattern) }, patternName(f.pattern)),
        el('td', { class: 'mono wrap route' }, f.route),
        num(f.requests, count(f.requests)),
        num(f.share, pct(f.share, 1)),
        num(f.saving_p50_s, dur(f.saving_p50_s)),
        num(f.saving_total_s, dur(f.saving_total_s)),
        el('td', { class: 'wrap' }, f.detail, el('div', { class: 'muted' }, '\u2192 ' + clean(f.advice))),
        examples);
    });
    const head = el('tr', {}, ...['#', 'pattern', 'route', 'requests', 'share', 'p50 save', 'total save', 'detail', 'examples'].map(function (h, i) {
      return el('th', { class: [0, 3, 4, 5, 6].indexOf(i) >= 0 ? 'num' : null }, h);
    }));
    s.appendChild(el('div', { class: 'tablebox' }, el('table', { id: 'insights-table' }, el('thead', {}, head), el('tbody', {}, ...rows))));
    if (I.findings_total > I.findings.length) s.appendChild(note('\u2026 and ' + count(I.findings_total - I.findings.length) + ' more (logtrace insights --json lists them all).'));
    if (I.hot_targets.length) {
      s.appendChild(el('h3', {}, 'Hot targets (the same GET in many requests: cache candidates)'));
      const hot = I.hot_targets.map(function (h) {
        return el('tr', {}, el('td', { class: 'mono wrap' }, (h.method || 'GET') + ' ' + clean(h.target)), el('td', {}, h.callee), num(h.requests, count(h.requests)), num(h.total_s, dur(h.total_s)));
      });
      s.appendChild(el('div', { class: 'tablebox' }, el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'target'), el('th', {}, 'service'), el('th', { class: 'num' }, 'requests'), el('th', { class: 'num' }, 'total'))), el('tbody', {}, ...hot))));
    }
    return s;
  }

  // ---- slowest requests ---------------------------------------------------------------
  function slowest() {
    const s = section('slowest', 'Slowest requests');
    const rows = A.slowest || [];
    const paths = new Map((A.slow_paths || []).map(function (p) { return [p.request_id, p]; }));
    const cols = [
      { label: 'time (UTC)', sort: function (r) { return r.time; }, cell: function (r) { return el('td', {}, clock(r.time)); } },
      { label: 'request id', sort: function (r) { return r.request_id; }, cell: function (r) { return el('td', {}, ridLink(r.request_id)); } },
      { label: 'request', sort: function (r) { return r.route; }, cell: function (r) { return el('td', { class: 'mono wrap', title: clean(r.path) }, (r.method || '') + ' ' + clean(r.route || r.path)); } },
      { label: 'status', num: true, sort: function (r) { return r.status; }, cell: function (r) { return num(r.status, r.status === null ? '-' : String(r.status), statusClass(r.status)); } },
      { label: 'total', num: true, sort: function (r) { return r.request_time_s; }, cell: function (r) { return num(r.request_time_s, dur(r.request_time_s)); } },
      { label: 'upstream', num: true, sort: function (r) { return r.upstream_time_s; }, cell: function (r) { return num(r.upstream_time_s, dur(r.upstream_time_s)); } },
      { label: 'nginx', num: true, sort: function (r) { return r.nginx_time_s; }, cell: function (r) { return num(r.nginx_time_s, dur(r.nginx_time_s)); } },
      { label: 'tries', num: true, sort: function (r) { return r.upstream_attempts; }, cell: function (r) { return num(r.upstream_attempts, count(r.upstream_attempts)); } },
    ];
    if (paths.size) {
      cols.push({ label: 'most time on the critical path', cell: function (r) {
        const p = paths.get(r.request_id);
        if (!p || !p.top.length) return el('td', { class: 'muted' }, '-');
        const t = p.top[0];
        return el('td', { class: 'wrap' }, clean(t.service) + ' ' + clean(t.operation) + ' ' + dur(t.seconds));
      } });
    }
    s.appendChild(table(cols, rows, { id: 'slowest-table' }).element);
    return s;
  }

  // ---- waterfalls -----------------------------------------------------------------------
  function ticks(total, width) {
    if (!(total > 0)) return [0];
    const step = niceStep(total, Math.max(2, Math.floor(width / 90)));
    const out = [];
    for (let v = 0; v <= total + 1e-9; v += step) out.push(v);
    return out;
  }
  function shorten(text, n) { text = clean(text); return text.length > n ? text.slice(0, n - 1) + '\u2026' : text; }
  function waterfall(t) {
    const spans = t.spans;
    const total = t.duration_s || Math.max(...spans.map(function (s) { return (s.start_s || 0) + (s.duration_s || 0); }), 0);
    const W = 1140; const LABEL = 390; const RIGHT = 220; const ROW = 18; const TOPPAD = 22;
    const barW = W - LABEL - RIGHT;
    const H = TOPPAD + ROW * spans.length + 6;
    const x = function (sec) { return LABEL + (total > 0 ? (sec / total) * barW : 0); };
    const svg = sv('svg', { class: 'chart waterfall', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'waterfall' });
    const colour = new Map();
    for (const sp of spans) if (!colour.has(sp.service)) colour.set(sp.service, COLOURS[colour.size % COLOURS.length]);
    const sections = new Map();
    for (const c of t.critical_path) {
      if (!sections.has(c.span_id)) sections.set(c.span_id, []);
      sections.get(c.span_id).push(c);
    }
    spans.forEach(function (sp, i) { if (i % 2) svg.appendChild(sv('rect', { class: 'rowband', x: 0, y: TOPPAD + ROW * i, width: W, height: ROW })); });
    for (const v of ticks(total, barW)) {
      svg.appendChild(sv('line', { class: 'grid', x1: x(v), x2: x(v), y1: TOPPAD - 4, y2: H }));
      svg.appendChild(sv('text', { class: 'axis', x: x(v), y: 12, 'text-anchor': v === 0 ? 'start' : 'middle' }, v === 0 ? '0' : dur(v)));
    }
    spans.forEach(function (sp, i) {
      const y = TOPPAD + ROW * i;
      const c = sp.error ? '#c0392b' : colour.get(sp.service);
      const depth = Math.min(sp.depth || 0, 14);
      const who = clean(sp.service) + '@' + clean(sp.host);
      const label = (sp.parent_guessed ? '? ' : '') + shorten(who, 22) + '  ' + shorten(sp.name, 40 - depth);
      svg.appendChild(sv('text', { class: 'wlabel' + (sp.error ? ' err' : ''), x: 6 + depth * 10, y: y + 13 },
        label, sv('title', {}, who + ' ' + clean(sp.kind) + ' ' + clean(sp.name))));
      const x0 = x(sp.start_s || 0);
      const w = Math.max(x(Math.min((sp.start_s || 0) + (sp.duration_s || 0), total)) - x0, 1.5);
      const attrs = { x: x0, y: y + 4, width: w, height: ROW - 8, fill: c, 'fill-opacity': 0.28, rx: 1.5 };
      if (sp.parent_guessed) { attrs.stroke = '#b7791f'; attrs['stroke-dasharray'] = '3 2'; }
      else if (sp.error) { attrs.stroke = '#c0392b'; }
      svg.appendChild(sv('rect', attrs, sv('title', {}, who + ' ' + clean(sp.name) + '\n' + dur(sp.duration_s) + ' from +' + dur(sp.start_s) + (sp.status !== null ? '\nstatus ' + sp.status : ''))));
      for (const sec of sections.get(sp.span_id) || []) {
        const a = x(sec.start_s); const b = x(sec.end_s);
        svg.appendChild(sv('rect', { x: a, y: y + 4, width: Math.max(b - a, 1.5), height: ROW - 8, fill: c, rx: 1.5 },
          sv('title', {}, 'on the critical path: ' + dur(sec.end_s - sec.start_s))));
      }
      const marks = [];
      if (sp.attempt && sp.attempt > 1) marks.push('retry ' + sp.attempt);
      if (sp.parent_guessed) marks.push('parent?');
      if (sp.skew_s && Math.abs(sp.skew_s) >= 0.001) marks.push('clock ' + signedMs(sp.skew_s));
      if (sp.precision_s >= 1) marks.push('\u2248 1 s');
      const status = sp.status === null || sp.status === undefined ? '' : ' ' + sp.status;
      svg.appendChild(sv('text', { class: 'wdur', x: W - RIGHT + 6, y: y + 13 }, dur(sp.duration_s) + status));
      if (marks.length) svg.appendChild(sv('text', { class: 'wmark', x: W - RIGHT + 76, y: y + 13 }, marks.join(' ')));
    });
    return svg;
  }
  function callList(t) {
    const crit = new Map();
    for (const c of t.critical_path) crit.set(c.span_id, (crit.get(c.span_id) || 0) + (c.end_s - c.start_s));
    const rows = t.spans.map(function (sp, i) {
      const tags = [];
      if (crit.has(sp.span_id)) tags.push(el('span', { class: 'tag crit' }, 'critical ' + dur(crit.get(sp.span_id))));
      if (sp.attempt && sp.attempt > 1) tags.push(el('span', { class: 'tag warn' }, 'retry ' + sp.attempt));
      if (sp.parent_guessed) tags.push(el('span', { class: 'tag warn' }, 'parent guessed'));
      if (sp.skew_s && Math.abs(sp.skew_s) >= 0.001) tags.push(el('span', { class: 'tag' }, 'clock ' + signedMs(sp.skew_s)));
      if (sp.error) tags.push(el('span', { class: 'tag err' }, 'error'));
      return el('tr', {},
        num(i + 1, String(i + 1)),
        el('td', {}, '\u00a0'.repeat(2 * Math.min(sp.depth || 0, 14)) + clean(sp.service) + '@' + clean(sp.host)),
        el('td', {}, sp.kind),
        el('td', { class: 'mono wrap' }, sp.name),
        num(sp.start_s, '+' + dur(sp.start_s)),
        num(sp.duration_s, dur(sp.duration_s)),
        num(sp.status, sp.status === null ? '-' : String(sp.status), statusClass(sp.status)),
        el('td', {}, ...tags),
        el('td', { class: 'mono muted' }, clean(sp.source) + ':' + sp.line_no));
    });
    const head = el('tr', {}, ...['#', 'service@host', 'kind', 'operation', 'start', 'duration', 'status', '', 'log line'].map(function (h, i) {
      return el('th', { class: [0, 4, 5, 6].indexOf(i) >= 0 ? 'num' : null }, h);
    }));
    return el('div', { class: 'tablebox' }, el('table', { class: 'calls' }, el('thead', {}, head), el('tbody', {}, ...rows)));
  }
  function traceBody(t) {
    const body = el('div', { class: 'body' });
    for (const n of t.notes) body.appendChild(note('note: ' + clean(n), 'warn'));
    const offsets = Object.keys(t.clock_offsets_s);
    if (offsets.length) body.appendChild(note('Clock offsets applied: ' + offsets.map(function (h) { return clean(h) + ' ' + signedMs(t.clock_offsets_s[h]); }).join(', ')));
    if (t.spans_total > t.spans.length) body.appendChild(note('Showing the first ' + count(t.spans.length) + ' of ' + count(t.spans_total) + ' spans (logtrace trace shows them all).', 'warn'));
    body.appendChild(el('div', { class: 'legend' },
      el('span', {}, svgSwatch('#3b73c4'), 'on the critical path'),
      el('span', {}, sv('svg', { width: 10, height: 10, class: 'swatch' }, sv('rect', { width: 10, height: 10, fill: '#3b73c4', 'fill-opacity': 0.28 })), 'off it'),
      el('span', {}, svgSwatch('#c0392b'), 'error'),
      el('span', {}, '? parent guessed from timing (dashed)'),
      el('span', {}, 'retry N: upstream attempt N'),
      el('span', {}, 'clock \u00b1: host clock corrected'),
      el('span', {}, '\u2248 1 s: whole-second timestamps')));
    body.appendChild(waterfall(t));
    body.appendChild(el('h3', {}, 'Calls'));
    body.appendChild(callList(t));
    body.appendChild(el('p', { class: 'note' }, el('a', { href: '#slowest' }, '\u2191 slowest requests'), '  \u00b7  ', DATA.insights ? el('a', { href: '#insights' }, '\u2191 insights') : null, DATA.insights ? '  \u00b7  ' : null, 'logtrace trace ' + clean(t.request_id) + ' shows it in a terminal.'));
    return body;
  }
  function traces() {
    const s = section('traces', 'Waterfalls: the slowest requests and examples of the insights');
    for (const n of DATA.trace_notes || []) s.appendChild(note(n));
    if (!TRACES.length) {
      s.appendChild(note('No waterfall in this report.'));
      return s;
    }
    const slow = new Map((A.slowest || []).map(function (r, i) { return [r.request_id, i + 1]; }));
    const example = new Map();
    for (const f of (DATA.insights || { findings: [] }).findings) {
      if (f.examples && f.examples.length && !example.has(f.examples[0])) example.set(f.examples[0], f);
    }
    for (const t of TRACES) {
      const root = t.spans[0] || {};
      const why = slow.has(t.request_id) ? el('span', { class: 'tag' }, 'slowest #' + slow.get(t.request_id))
        : example.has(t.request_id) ? el('span', { class: 'tag warn' }, patternName(example.get(t.request_id).pattern) + ' example')
          : null;
      const summary = el('summary', {},
        why, ' ', el('span', { class: 'mono' }, t.request_id), '  ',
        el('strong', {}, shorten(root.name || '', 80)), '  ',
        el('span', { class: statusClass(root.status) }, root.status === null || root.status === undefined ? '' : String(root.status)),
        ' in ' + dur(t.duration_s) + ' \u00b7 ' + count(t.spans_total) + ' spans \u00b7 started ' + when(t.start));
      const box = el('details', { class: 'trace', id: anchorOf.get(t.request_id) }, summary);
      let drawn = false;
      box.addEventListener('toggle', function () {
        if (box.open && !drawn) { drawn = true; box.appendChild(traceBody(t)); }
      });
      s.appendChild(box);
    }
    return s;
  }

  // ---- the page -------------------------------------------------------------------------
  function header() {
    const range = A.time_range;
    const sub = count(A.requests) + ' requests' + (range ? ' \u00b7 ' + when(range.start) + ' \u2192 ' + clock(range.end) : '') + ' \u00b7 ' + (DATA.inputs || []).map(clean).join(' ');
    const links = [['overview', 'Overview'], ['over-time', 'Over time'], ['routes', 'Routes'], ['services', 'Services'], ['insights', 'Insights'], ['slowest', 'Slowest'], ['traces', 'Waterfalls']];
    const nav = el('nav', {}, ...links.filter(function (l) { return document.getElementById(l[0]); }).map(function (l) { return el('a', { href: '#' + l[0] }, l[1]); }));
    return el('header', { class: 'top' }, el('h1', {}, 'logtrace report'), el('span', { class: 'sub' }, sub), nav);
  }
  function openTarget() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    const target = document.getElementById(id);
    if (target && target.tagName === 'DETAILS' && !target.open) {
      target.open = true;
      target.dispatchEvent(new Event('toggle'));
    }
    if (target) target.scrollIntoView();
  }

  const app = document.getElementById('app');
  const main = el('main', {});
  for (const part of [overview, overTime, routes, services, insights, slowest, traces]) {
    const s = part();
    if (s) main.appendChild(s);
  }
  main.appendChild(el('footer', {}, 'logtrace ' + clean(DATA.version) + ' \u00b7 ' + clean(A.schema) + ' \u00b7 self-contained: this file loads nothing from anywhere.'));
  app.appendChild(main);
  app.insertBefore(header(), main);
  window.addEventListener('hashchange', openTarget);
  openTarget();
  document.body.setAttribute('data-ready', '1');
}());
