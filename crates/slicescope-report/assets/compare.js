/* slicescope comparison report: builds the page from the JSON in #slicescope-data (the
 * `compare --json` document under "compare"). Hand-written, no framework, no network. Every text
 * from the data is inserted with textContent or setAttribute, never parsed as HTML. The only global
 * is window.slicescopeReport. */
(function () {
  'use strict';

  const NF0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const STATUS_ORDER = { worse: 0, new: 1, better: 2, unchanged: 3, vanished: 4 };
  const COLUMNS = [
    { key: 'id', label: 'Id', num: false },
    { key: 'description', label: 'Slice', num: false },
    { key: 'size', label: 'Size', num: true, first: 'desc' },
    { key: 'rate_a', label: 'A', num: true, first: 'desc' },
    { key: 'rate_b', label: 'B', num: true, first: 'desc' },
    { key: 'diff', label: 'Δ B − A [95% CI]', num: true, first: 'desc' },
    { key: 'q', label: 'q / p', num: true, first: 'asc' },
    { key: 'status', label: 'Status', num: false, first: 'asc' },
  ];

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const v = props[key];
        if (v === null || v === undefined || v === false) continue;
        if (key === 'text') node.textContent = String(v);
        else node.setAttribute(key, v === true ? '' : String(v));
      }
    }
    for (const c of children || []) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function isNum(v) {
    return typeof v === 'number' && Number.isFinite(v);
  }

  function readData() {
    const node = byId('slicescope-data');
    return JSON.parse(node ? node.textContent : '{}');
  }

  const data = readData();
  const doc = data.compare || {};
  const binary = !!doc.binary_errors;

  function fmtRate(v) {
    if (!isNum(v)) return '—';
    if (binary) return (100 * v).toFixed(1) + '%';
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }

  function fmtDelta(v) {
    if (!isNum(v)) return '—';
    const x = binary ? 100 * v : v;
    const s = binary ? x.toFixed(1) : x.toPrecision(3);
    return (x >= 0 ? '+' : '') + s;
  }

  function fmtInterval(lo, hi) {
    return isNum(lo) && isNum(hi) ? '[' + fmtDelta(lo) + ', ' + fmtDelta(hi) + ']' : '';
  }

  function fmtP(v) {
    if (!isNum(v)) return '—';
    if (v === 0) return '< 1e-300';
    if (v < 1e-3) return v.toExponential(1);
    return v.toFixed(3);
  }

  function fmtInt(v) {
    return isNum(v) ? NF0.format(Math.round(v)) : '—';
  }

  function rowModel(c) {
    const q = isNum(c.q_value) ? c.q_value : c.p_value;
    return {
      raw: c,
      id: c.id,
      description: c.description,
      size: c.size,
      rate_a: c.a ? c.a.rate : null,
      rate_b: c.b ? c.b.rate : null,
      diff: c.diff,
      q: isNum(q) ? q : null,
      status: c.status,
    };
  }

  // ---------------------------------------------------------------- header

  function figure(k, v, sub) {
    return el('div', { class: 'figure' }, [
      el('div', { class: 'k', text: k }),
      el('div', { class: 'v', text: v }),
      sub ? el('div', { class: 's', text: sub }) : null,
    ]);
  }

  function renderHeader() {
    const meta = data.meta || {};
    const title = 'Comparison: ' + (doc.a ? doc.a.name : 'A') + ' → ' + (doc.b ? doc.b.name : 'B');
    byId('report-title').textContent = title;
    document.title = title + ' · slicescope';
    const o = doc.overall || {};
    const parts = [
      (meta.title || ''),
      fmtInt(o.size) + ' rows',
      doc.metric || '',
      doc.mode === 'unpaired'
        ? 'unpaired: two saved runs (per-row errors are not saved, so slices are compared with an unpaired test)'
        : 'paired: both models on the same rows',
    ];
    byId('report-subtitle').textContent = parts.filter(Boolean).join(' · ');
    const figs = byId('key-figures');
    figs.appendChild(figure('A · ' + (doc.a ? doc.a.name : ''), fmtRate(o.rate_a),
      o.ci_a ? '95% CI [' + fmtRate(o.ci_a[0]) + ', ' + fmtRate(o.ci_a[1]) + ']' : ''));
    figs.appendChild(figure('B · ' + (doc.b ? doc.b.name : ''), fmtRate(o.rate_b),
      o.ci_b ? '95% CI [' + fmtRate(o.ci_b[0]) + ', ' + fmtRate(o.ci_b[1]) + ']' : ''));
    figs.appendChild(figure('Difference B − A', fmtDelta(o.diff) + (binary ? ' points' : ''),
      (o.diff_ci ? fmtInterval(o.diff_ci[0], o.diff_ci[1]) + ' · ' : '') + (o.test || '') + ' p = ' + fmtP(o.p_value)));
    const net = doc.net_excess_change;
    figs.appendChild(figure('Net change in excess errors', isNum(net) ? (net >= 0 ? '+' : '') + net.toFixed(1) : '—',
      'over the known slices (B − A); slices overlap'));
    const gates = doc.gates || [];
    if (gates.length) {
      const failed = gates.filter(function (g) { return !g.passed; }).length;
      figs.appendChild(figure('Gates', failed ? failed + ' failed' : 'all passed', gates.length + ' gate(s)'));
      const list = byId('gate-list');
      for (const g of gates) {
        const reasons = el('ul', null, (g.reasons || []).map(function (r) { return el('li', { text: r }); }));
        list.appendChild(el('li', { 'data-gate': g.gate, 'data-passed': String(!!g.passed) }, [
          el('span', { class: g.passed ? 'gate-passed' : 'gate-failed', text: g.passed ? 'passed' : 'FAILED' }),
          ' ',
          el('code', { text: '--fail-on ' + g.gate }),
          (g.reasons || []).length ? reasons : null,
        ]));
      }
      byId('gates').hidden = false;
    }
    const notes = doc.notes || [];
    if (notes.length) {
      const box = byId('report-notes');
      box.appendChild(el('h2', { text: 'Notes' }));
      box.appendChild(el('ul', null, notes.map(function (n) { return el('li', { text: n }); })));
      box.hidden = false;
    }
    const items = [
      ['Command', meta.command],
      ['Generated', meta.generated_at],
      ['Model A', doc.a ? doc.a.name + (doc.a.column ? ' (' + doc.a.column + ')' : '') : ''],
      ['Model B', doc.b ? doc.b.name + (doc.b.column ? ' (' + doc.b.column + ')' : '') : ''],
      ['Data', doc.data ? [doc.data.path, doc.data.path_b].filter(Boolean).join(' and ') : ''],
      ['Rows paired by', doc.data ? doc.data.paired_by : ''],
      ['Known slices from', doc.known_from],
      ['FDR level', doc.fdr],
    ];
    const dl = el('dl');
    for (const [k, v] of items) {
      if (v === null || v === undefined || v === '') continue;
      dl.appendChild(el('dt', { text: k }));
      dl.appendChild(el('dd', { text: String(v) }));
    }
    byId('run-body').appendChild(dl);
    byId('report-footer').textContent = 'slicescope comparison report' + (meta.generated_at ? ' · ' + meta.generated_at : '');
  }

  // ---------------------------------------------------------------- tables

  const tables = {};

  function cell(col, m) {
    const c = m.raw;
    const v = m[col.key];
    const td = el('td', { class: (col.num ? 'num ' : '') + 'col-' + col.key });
    if (col.num) td.setAttribute('data-value', isNum(v) ? String(v) : '');
    else if (col.key === 'status') td.setAttribute('data-value', String(STATUS_ORDER[v] !== undefined ? STATUS_ORDER[v] : 9));
    else td.setAttribute('data-value', v === null || v === undefined ? '' : String(v));
    if (col.key === 'size') td.textContent = fmtInt(v);
    else if (col.key === 'rate_a' || col.key === 'rate_b') {
      const side = col.key === 'rate_a' ? c.a : c.b;
      td.appendChild(el('span', { class: 'rate', text: fmtRate(v) }));
      if (side && isNum(side.ci_low)) {
        td.appendChild(el('span', { class: 'sub', text: '[' + fmtRate(side.ci_low) + ', ' + fmtRate(side.ci_high) + ']' }));
      }
    } else if (col.key === 'diff') {
      td.appendChild(el('span', { class: 'rate', text: fmtDelta(v) }));
      const ci = fmtInterval(c.diff_ci_low, c.diff_ci_high);
      if (ci) td.appendChild(el('span', { class: 'sub', text: ci }));
    } else if (col.key === 'q') {
      td.appendChild(document.createTextNode(fmtP(v)));
      td.appendChild(el('span', { class: 'sub', text: isNum(c.q_value) ? (c.test || '') : (c.test ? 'p, ' + c.test : '') }));
    } else if (col.key === 'status') {
      td.appendChild(el('span', { class: 'status status-' + v, text: v }));
    } else if (col.key === 'description') {
      td.appendChild(el('span', { text: v }));
      const extra = [];
      if (c.best_match && c.best_match.id) {
        extra.push('best match ' + c.best_match.id + (isNum(c.best_match.jaccard) ? ' (Jaccard ' + c.best_match.jaccard.toFixed(2) + ')' : ''));
      }
      if (c.also && c.also.length) extra.push('also ' + c.also.join(', '));
      if (extra.length) td.appendChild(el('span', { class: 'sub', text: extra.join(' · ') }));
    } else td.textContent = v === null || v === undefined ? '—' : String(v);
    return td;
  }

  function renderTable(id, rows) {
    const table = byId(id);
    const head = table.querySelector('thead tr');
    for (const col of COLUMNS) {
      const th = el('th', { scope: 'col', class: col.num ? 'num' : null, 'data-sort': col.key }, [
        el('button', { type: 'button', text: col.label }),
      ]);
      th.querySelector('button').addEventListener('click', function () { onSort(id, col.key); });
      head.appendChild(th);
    }
    const body = table.querySelector('tbody');
    rows.forEach(function (m, i) {
      const tr = el('tr', { 'data-slice': m.id, 'data-index': String(i) });
      for (const col of COLUMNS) tr.appendChild(cell(col, m));
      body.appendChild(tr);
    });
    tables[id] = { key: null, dir: null };
  }

  function sortTable(id, key, dir) {
    const table = byId(id);
    const body = table.querySelector('tbody');
    const index = COLUMNS.findIndex(function (c) { return c.key === key; });
    if (index < 0) return;
    const col = COLUMNS[index];
    const rows = Array.from(body.children);
    rows.sort(function (x, y) {
      const a = x.children[index].getAttribute('data-value');
      const b = y.children[index].getAttribute('data-value');
      const am = a === null || a === '';
      const bm = b === null || b === '';
      if (am || bm) return am === bm ? 0 : am ? 1 : -1; // missing values last
      let c;
      if (col.num || col.key === 'status') c = parseFloat(a) - parseFloat(b);
      else c = a.localeCompare(b);
      if (c === 0) c = parseInt(x.getAttribute('data-index'), 10) - parseInt(y.getAttribute('data-index'), 10);
      return dir === 'desc' ? -c : c;
    });
    for (const r of rows) body.appendChild(r);
    for (const th of table.querySelectorAll('thead th')) {
      if (th.getAttribute('data-sort') === key) th.setAttribute('aria-sort', dir === 'desc' ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
    tables[id] = { key: key, dir: dir };
  }

  function onSort(id, key) {
    const col = COLUMNS.find(function (c) { return c.key === key; });
    const now = tables[id] || {};
    const dir = now.key === key ? (now.dir === 'asc' ? 'desc' : 'asc') : (col.first || 'asc');
    sortTable(id, key, dir);
  }

  function renderSections() {
    const known = (doc.known || []).map(rowModel);
    const count = function (s) { return known.filter(function (m) { return m.status === s; }).length; };
    byId('known-lede').textContent = known.length + ' slice(s) ' +
      (doc.known_from === 'slice-file' ? 'from the slice file' : doc.known_from === 'run-a' ? "of A's run" : 'found in A') +
      ': ' + count('worse') + ' worse, ' + count('better') + ' better, ' + count('unchanged') + ' unchanged' +
      (count('vanished') ? ', ' + count('vanished') + ' vanished' : '') + ' in B (q < ' + doc.fdr + ').';
    renderTable('known-table', known);
    const fresh = (doc.new_in_b || []).map(rowModel);
    if (doc.scanned_b) {
      byId('new-lede').textContent = fresh.length + ' slice(s) that B\'s slices hold and no known slice matches' +
        (doc.mode === 'unpaired' ? '.' : ' (Jaccard < 0.5); their p-values are descriptive (the slices were selected on B).');
    } else {
      byId('new-lede').textContent = 'B was not scanned: new slices are not known.';
    }
    renderTable('new-table', fresh);
    const list = byId('vanished-list');
    const vanished = doc.vanished || [];
    byId('vanished-lede').textContent = doc.scanned_b
      ? vanished.length + ' known slice(s) B no longer has.'
      : 'B was not scanned: vanished slices are not known.';
    for (const id of vanished) {
      const k = (doc.known || []).find(function (c) { return c.id === id; });
      list.appendChild(el('li', { 'data-slice': id }, [el('code', { text: id }), ' ', k ? k.description : '']));
    }
  }

  function init() {
    renderHeader();
    renderSections();
    window.slicescopeReport = {
      ready: true,
      kind: 'compare',
      sort: function (table, key, dir) { sortTable(table, key, dir); },
      sortState: function (table) { return tables[table] || null; },
    };
  }

  try {
    init();
  } catch (e) {
    window.slicescopeReport = { ready: true, error: String(e) };
    throw e;
  }
})();
