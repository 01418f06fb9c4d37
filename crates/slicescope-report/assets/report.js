/* slicescope report: builds the page from the JSON in #slicescope-data.
 * Hand-written, no framework, no network. Every text that comes from the data is inserted with
 * textContent or setAttribute, never parsed as HTML. The only global is window.slicescopeReport. */
(function () {
  'use strict';

  // ------------------------------------------------------------------ constants

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const COLOR = {
    err: '#d55e00',      // Okabe–Ito vermillion
    ok: '#4b8ec6',       // sky blue
    overall: '#3f4a5a',
    ink: '#1c2330',
    line: '#e2e6ec',
    mapBg: '#fcfdfe',
  };
  // Sequential ramp for continuous per-row losses: luminance falls monotonically, so it reads
  // the same with any colour vision.
  const RAMP = ['#cfe0ef', '#e6b14a', '#d55e00', '#8c2d04', '#3d0f02'];
  const RAMP_STEPS = 24;
  const FLAG_NAMES = { label_noise: 'label noise', shortcut: 'shortcut', under_covered: 'under-covered' };
  const FLAG_KEYS = ['label_noise', 'shortcut', 'under_covered'];
  const SORT_FIRST_DIR = {
    rank: 'asc', q_value: 'asc', size: 'desc', error_rate: 'desc', lift: 'desc',
    excess_errors: 'desc', stability: 'desc', flags: 'desc',
  };
  const WEAK_RULE_F1 = 0.5; // below this the summary sentence does not state the rule (docs/describe.md)
  const NF0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

  // ------------------------------------------------------------------ DOM helpers

  /** Create an element. props: text (textContent), class, or any attribute; children: nodes or strings. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) setProps(node, props);
    if (children) appendAll(node, children);
    return node;
  }

  function svg(tag, props, children) {
    const node = document.createElementNS(SVG_NS, tag);
    if (props) setProps(node, props);
    if (children) appendAll(node, children);
    return node;
  }

  function setProps(node, props) {
    for (const key of Object.keys(props)) {
      const value = props[key];
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.setAttribute('class', value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }

  function appendAll(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }

  function byId(id) {
    return document.getElementById(id);
  }

  // ------------------------------------------------------------------ formatting

  function isNum(v) {
    return typeof v === 'number' && Number.isFinite(v);
  }

  function fmtInt(v) {
    return isNum(v) ? NF0.format(Math.round(v)) : '—';
  }

  /** About `sig` significant digits, thousands separators, no trailing zeros. */
  function fmtNum(v, sig) {
    if (!isNum(v)) return '—';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1000) return NF0.format(Math.round(v));
    const digits = Math.min(8, Math.max(0, (sig || 3) - 1 - Math.floor(Math.log10(a))));
    return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(v);
  }

  function fmtPct(v) {
    if (!isNum(v)) return '—';
    const p = v * 100;
    const a = Math.abs(p);
    if (a === 0) return '0%';
    if (a === 100) return '100%';
    if (a >= 1) return p.toFixed(1) + '%';
    if (a >= 0.1) return p.toFixed(2) + '%';
    if (a >= 0.01) return p.toFixed(3) + '%';
    return (p < 0 ? '>−' : '<') + '0.01%';
  }

  function superscript(text) {
    return String(text).split('').map((c) => SUPERSCRIPT[c] || c).join('');
  }

  /** p- and q-values: scientific notation below 0.001. */
  function fmtP(v) {
    if (!isNum(v)) return '—';
    if (v === 0) return '<\u200910' + superscript(-300);
    if (v >= 0.1) return v.toFixed(2);
    if (v >= 0.001) return v.toPrecision(2);
    let exp = Math.floor(Math.log10(v));
    let mant = v / Math.pow(10, exp);
    if (Number(mant.toFixed(1)) >= 10) { mant /= 10; exp += 1; }
    return mant.toFixed(1) + '\u2009×\u200910' + superscript(exp);
  }

  function fmtLift(v) {
    if (!isNum(v)) return '—';
    return (v >= 10 ? v.toFixed(1) : v.toFixed(2)) + '×';
  }

  function fmtSigned(v, binary) {
    if (!isNum(v)) return '—';
    const text = binary && Math.abs(v) >= 10 ? fmtInt(Math.abs(v)) : fmtNum(Math.abs(v), 3);
    return (v < 0 ? '−' : '+') + text;
  }

  function fmtSeconds(s) {
    if (!isNum(s)) return '—';
    if (s < 1) return Math.max(1, Math.round(s * 1000)) + ' ms';
    if (s < 60) return s.toFixed(1) + ' s';
    return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
  }

  function fmtDate(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso || '—');
    return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  function capitalize(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  function basename(path) {
    return String(path).split(/[\\/]/).pop();
  }

  function plural(n, one, many) {
    return fmtInt(n) + ' ' + (n === 1 ? one : (many || one + 's'));
  }

  // ------------------------------------------------------------------ statistics helpers

  /** Wilson 95% interval of e errors in n rows. */
  function wilson(e, n) {
    if (!(n > 0)) return [null, null];
    const z = 1.959964;
    const p = e / n;
    const z2 = z * z;
    const den = 1 + z2 / n;
    const centre = (p + z2 / (2 * n)) / den;
    const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
    return [Math.max(0, centre - half), Math.min(1, centre + half)];
  }

  /** Round tick step (1, 2, 2.5, 5 × 10^k) for about `count` ticks up to max. */
  function niceStep(max, count) {
    const raw = max / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
    return nice * mag;
  }

  function niceTicks(max, count) {
    if (!(max > 0)) return [0];
    const step = niceStep(max, count);
    const ticks = [];
    for (let t = 0; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
    return ticks;
  }

  // ------------------------------------------------------------------ model

  function readData() {
    const node = byId('slicescope-data');
    if (!node) return null;
    try {
      const data = JSON.parse(node.textContent);
      return data && data.result && Array.isArray(data.result.slices) ? data : null;
    } catch (e) {
      return null;
    }
  }

  function flagsOf(s) {
    const f = s.flags || {};
    return {
      label_noise: !!(f.label_noise && f.label_noise.flagged),
      shortcut: !!(f.shortcuts && f.shortcuts.length),
      under_covered: !!(f.under_covered && f.under_covered.flagged),
    };
  }

  function searchTextOf(s, flags) {
    const parts = [s.id, s.summary, s.description, s.slicer, s.view];
    if (s.rule) parts.push(s.rule.text);
    if (s.attribute_rule) parts.push(s.attribute_rule.text);
    for (const f of s.found_by || []) parts.push(f.slicer, f.view);
    for (const e of s.enriched || []) parts.push(e.text);
    for (const key of FLAG_KEYS) if (flags[key]) parts.push(FLAG_NAMES[key]);
    return parts.filter(Boolean).join(' \u0001 ').toLowerCase();
  }

  function sliceModel(s, index, fdr) {
    const st = s.stats;
    const flags = flagsOf(s);
    return {
      s: s,
      id: s.id,
      index: index,
      rank: s.rank,
      flags: flags,
      significant: !(st.q_value >= fdr),
      visible: true,
      values: {
        rank: s.rank,
        size: st.size,
        error_rate: st.error_rate,
        lift: st.lift,
        excess_errors: st.excess_errors,
        q_value: st.q_value,
        stability: s.stability,
        flags: FLAG_KEYS.filter((k) => flags[k]).length,
      },
      search: searchTextOf(s, flags),
      tr: null,
      card: null,
    };
  }

  function buildModel(data) {
    const result = data.result;
    const testing = (result.parameters && result.parameters.testing) || {};
    const fdr = isNum(testing.fdr) ? testing.fdr : 0.05;
    const slices = result.slices.map((s, i) => sliceModel(s, i, fdr));
    const byRank = slices.slice().sort((a, b) => a.rank - b.rank);
    return {
      data: data,
      result: result,
      meta: data.meta || {},
      binary: !!result.task.binary_errors,
      fdr: fdr,
      slices: slices,
      byRank: byRank,
      byId: new Map(slices.map((m) => [m.id, m])),
      maps: Array.isArray(data.maps) ? data.maps : [],
      examples: data.examples || {},
    };
  }

  /** The error (or loss) rate of the task: percent for 0/1 errors, a plain number otherwise. */
  function fmtRate(v) {
    return model.binary ? fmtPct(v) : fmtNum(v, 3);
  }

  function fmtInterval(lo, hi) {
    if (!isNum(lo) || !isNum(hi)) return '—';
    if (model.binary) return fmtPct(lo).replace('%', '') + '–' + fmtPct(hi);
    return fmtNum(lo, 3) + '–' + fmtNum(hi, 3);
  }

  function errorWord() {
    return model.binary ? 'errors' : 'loss';
  }

  // ------------------------------------------------------------------ state

  let model = null;
  const state = {
    selected: null,
    hovered: null,
    sortKey: 'rank',
    sortDir: 'asc',
    filterText: '',
    flagFilter: new Set(),
  };
  const mapViews = [];

  // ------------------------------------------------------------------ header

  function renderHeader() {
    const r = model.result;
    const meta = model.meta;
    const title = meta.title || (r.input.path ? basename(r.input.path) : 'slicescope report');
    document.title = title + ' · slicescope report';
    byId('report-title').textContent = title;
    renderSubtitle();
    renderFigures();
    renderNotes();
    renderRunDetails();
    renderFooter();
  }

  function renderSubtitle() {
    const r = model.result;
    const parts = [];
    if (model.meta.run_name) parts.push(el('span', null, ['Run ', el('strong', { text: model.meta.run_name })]));
    if (r.input.path) parts.push(el('code', { text: r.input.path, title: 'Dataset' }));
    parts.push(el('span', { text: plural(r.input.n_rows, 'row') }));
    parts.push(el('span', { text: r.task.task + ' · ' + r.task.metric }));
    const node = byId('report-subtitle');
    parts.forEach((p, i) => {
      if (i) node.appendChild(el('span', { class: 'sep', 'aria-hidden': 'true', text: '·' }));
      node.appendChild(p);
    });
  }

  function figure(key, value, small, sub) {
    return el('div', { class: 'figure' }, [
      el('div', { class: 'k', text: key }),
      el('div', { class: 'v' }, [value, small ? el('small', { text: small }) : null]),
      sub ? el('div', { class: 's', text: sub }) : null,
    ]);
  }

  function renderFigures() {
    const r = model.result;
    const o = r.overall;
    const node = byId('key-figures');
    const overallSub = model.binary
      ? fmtInt(o.errors) + ' errors in ' + plural(o.size, 'row')
      : 'mean over ' + plural(o.size, 'row');
    node.appendChild(figure('Overall ' + r.task.metric, fmtRate(o.error_rate),
      '95% interval ' + fmtInterval(o.ci_low, o.ci_high), overallSub));
    node.appendChild(slicesFigure());
    node.appendChild(coverageFigure());
    node.appendChild(flagsFigure());
  }

  function slicesFigure() {
    const r = model.result;
    const testing = r.parameters.testing || {};
    const significant = model.slices.filter((m) => m.significant).length;
    let sub = 'q < ' + fmtNum(model.fdr, 2) + ' after Benjamini–Hochberg over ' + plural(r.search.hypotheses, 'hypothesis', 'hypotheses');
    if (testing.show_all) sub = fmtInt(significant) + ' of them with q < ' + fmtNum(model.fdr, 2) + ' (all candidates listed)';
    return figure('Slices listed', fmtInt(model.slices.length), null, sub);
  }

  /**
   * How much of the error the listed slices hold. Exact (errors in the union of the members) when
   * every member is listed and a map draws every row with its 0/1 error; otherwise the honest
   * fallback: the top slice's excess errors and their sum over the listed slices (which overlap).
   */
  function coverage() {
    const r = model.result;
    const n = r.input.n_rows;
    const complete = model.slices.length > 0 &&
      model.slices.every((m) => Array.isArray(m.s.members) && !m.s.members_truncated);
    const out = { rows: null, errors: null, excessSum: 0, top: null };
    for (const m of model.slices) {
      if (m.s.equivalent_to) continue;
      out.excessSum += m.s.stats.excess_errors || 0;
      if (!out.top || m.s.stats.excess_errors > out.top.s.stats.excess_errors) out.top = m;
    }
    if (!complete || !(n > 0)) return out;
    const inUnion = new Uint8Array(n);
    let rows = 0;
    for (const m of model.slices) {
      for (const row of m.s.members) {
        if (row < n && !inUnion[row]) { inUnion[row] = 1; rows++; }
      }
    }
    out.rows = rows;
    const full = model.maps.find((mp) => mp.row && mp.row.length === n && mp.n_total === n);
    if (full && model.binary && !r.task.weighted) {
      let errors = 0;
      for (let i = 0; i < full.row.length; i++) if (inUnion[full.row[i]] && full.error[i] > 0.5) errors++;
      out.errors = errors;
    }
    return out;
  }

  function coverageFigure() {
    const r = model.result;
    const c = coverage();
    const total = r.overall.errors;
    if (c.errors !== null && total > 0 && c.errors <= total) {
      return figure('Errors inside listed slices', fmtPct(c.errors / total), 'of all errors',
        fmtInt(c.errors) + ' of ' + fmtInt(total) + ' errors fall in at least one listed slice, which together hold ' +
        fmtPct(c.rows / r.input.n_rows) + ' of the rows.');
    }
    if (!c.top) return figure('Excess ' + errorWord(), '—', null, 'No slice is listed.');
    const share = model.binary && total > 0 ? ' (' + fmtPct(c.top.s.stats.excess_errors / total) + ' of all errors)' : '';
    const above = model.binary ? 'errors above the overall rate' : 'loss above the overall mean';
    let sub = 'Top slice ' + c.top.id + ': ' + above + share + '. ';
    if (model.slices.length > 1) {
      sub += 'Summed over the listed slices: ' + fmtSigned(c.excessSum, model.binary) + '; slices overlap, so rows count more than once.';
    }
    if (c.rows !== null) sub += ' Together they hold ' + fmtPct(c.rows / r.input.n_rows) + ' of the rows.';
    return figure('Excess ' + errorWord(), fmtSigned(c.top.s.stats.excess_errors, model.binary), 'in the top slice', sub);
  }

  function flagsFigure() {
    const counts = FLAG_KEYS.map((k) => [k, model.slices.filter((m) => m.flags[k]).length]);
    const raised = counts.filter((c) => c[1] > 0);
    const value = raised.length ? fmtInt(model.slices.filter((m) => FLAG_KEYS.some((k) => m.flags[k])).length) : 'None';
    const sub = raised.length
      ? raised.map((c) => fmtInt(c[1]) + ' ' + FLAG_NAMES[c[0]]).join(' · ')
      : 'No slice is flagged for label noise, a shortcut or too few rows.';
    return figure('Flagged slices', value, raised.length ? 'with a diagnosis' : null, sub);
  }

  function renderNotes() {
    const notes = model.result.notes || [];
    if (!notes.length) return;
    const node = byId('report-notes');
    node.appendChild(el('h2', { text: 'Notes from the scan' }));
    node.appendChild(el('ul', null, notes.map((n) => el('li', { text: n }))));
    node.hidden = false;
  }

  function dl(items) {
    const list = el('dl');
    for (const item of items) {
      if (!item) continue;
      list.appendChild(el('dt', { text: item[0] }));
      list.appendChild(el('dd', null, [item[1]]));
    }
    return list;
  }

  function renderRunDetails() {
    const r = model.result;
    const p = r.parameters;
    const body = byId('run-body');
    body.appendChild(dl(dataItems(r)));
    body.appendChild(dl(searchItems(r, p)));
    body.appendChild(dl(runItems(r)));
    body.appendChild(el('div', { class: 'wide' }, [
      el('h4', { text: 'Multiple testing' }),
      el('p', { text: r.search.multiple_testing }),
    ]));
    if (model.meta.command) {
      body.appendChild(el('div', { class: 'wide' }, [
        el('h4', { text: 'Command' }),
        el('pre', { class: 'command' }, [el('code', { text: model.meta.command })]),
      ]));
    }
  }

  function dataItems(r) {
    const t = r.task;
    const attrs = (r.attributes || []).map((a) => a.name + ' (' + a.levels + ')').join(', ');
    const views = (r.views || []).map((v) => {
      let text = v.name + ': ' + v.dim + '-d';
      if (v.reduced_dim) text += ', PCA to ' + v.reduced_dim;
      if (isNum(v.explained_ratio)) text += ' (' + fmtPct(v.explained_ratio) + ' of variance)';
      if (v.normalized) text += ', L2-normalised';
      return text;
    }).join('; ');
    let classes = null;
    if (Array.isArray(t.classes)) {
      classes = t.classes.length <= 12 ? t.classes.join(', ') : plural(t.classes.length, 'class', 'classes');
    }
    return [
      ['Dataset', r.input.path || '—'],
      ['Rows', fmtInt(r.input.n_rows) + (t.weighted ? ' (weighted)' : '')],
      ['Task', t.task + ' · ' + t.metric],
      ['Error', t.derivation],
      classes ? ['Classes', classes] : null,
      ['Attributes', attrs || 'none'],
      ['Views', views || 'none'],
    ];
  }

  function searchItems(r, p) {
    const items = [['Slicers', (p.slicers || []).join(', ') || '—']];
    if ((p.slicers || []).indexOf('lattice') >= 0 && p.lattice) {
      const l = p.lattice;
      items.push(['Lattice', 'k ' + l.k + ', α ' + l.alpha + ', up to ' + l.max_level + ' predicates, min. size ' +
        (isNum(p.min_support_resolved) ? fmtNum(p.min_support_resolved, 4) + ' rows' : '—')]);
      if (p.binning) items.push(['Binning', p.binning.bins + ' quantile bins per numeric column']);
    }
    const testing = p.testing || {};
    let tests = 'false-discovery rate ' + fmtPct(testing.fdr);
    if (r.views && r.views.length) tests += '; embedding slices tested ' + (testing.embedding === 'held-out' ? 'on held-out rows' : 'on the rows they were found on');
    items.push(['Testing', tests]);
    items.push(['Stability', testing.resamples > 0 ? testing.resamples + ' bootstrap resamples' : 'not estimated (no resampling)']);
    items.push(['Ranking', 'by ' + String(p.rank_by).replace('-', ' ') + '; slices overlapping ≥ ' + fmtPct(p.merge_jaccard) + ' merged; seed ' + p.seed]);
    return items;
  }

  function runItems(r) {
    const t = r.timing || {};
    const timing = 'load ' + fmtSeconds(t.load_seconds) + ' · prepare ' + fmtSeconds(t.prepare_seconds) +
      ' · search ' + fmtSeconds(t.search_seconds) + ' · statistics ' + fmtSeconds(t.stats_seconds) +
      ' · total ' + fmtSeconds(t.total_seconds);
    return [
      ['Tool', r.tool.name + ' ' + r.tool.version + ' (result schema ' + r.schema_version + ')'],
      ['Generated', fmtDate(model.meta.generated_at)],
      ['Scan timing', timing],
      isNum(model.meta.duration_seconds) ? ['Whole run', fmtSeconds(model.meta.duration_seconds)] : null,
    ];
  }

  function renderFooter() {
    const r = model.result;
    const parts = ['Made by ' + r.tool.name + ' ' + r.tool.version];
    if (model.meta.generated_at) parts.push('generated ' + fmtDate(model.meta.generated_at));
    parts.push('report format ' + model.data.report_version);
    byId('report-footer').textContent = parts.join(' · ');
  }

  // ------------------------------------------------------------------ slice table

  function renderTable() {
    const tbody = document.querySelector('#slice-table tbody');
    const scale = rateScale();
    const frag = document.createDocumentFragment();
    for (const m of model.slices) {
      m.tr = tableRow(m, scale);
      frag.appendChild(m.tr);
    }
    tbody.appendChild(frag);
    byId('error-header').textContent = model.binary ? 'Error rate' : capitalize(model.result.task.metric);
    byId('excess-header').textContent = 'Excess ' + errorWord();
    if (!model.slices.length) {
      document.querySelector('#slices .toolbar').hidden = true;
      byId('table-wrap').hidden = true;
    }
    byId('slices-lede').textContent = tableLede();
    wireTable(tbody);
    sortRows(state.sortKey, state.sortDir);
    applyFilter();
  }

  function tableLede() {
    const n = model.slices.length;
    if (!n) return 'No slice passed the tests.';
    return 'Groups of rows where the model errs more than overall, ranked by ' +
      String(model.result.parameters.rank_by).replace('-', ' ') + '.';
  }

  /** Shared x scale of the inline interval bars: 0 to the highest upper bound. */
  function rateScale() {
    let max = model.result.overall.error_rate || 0;
    for (const m of model.slices) {
      const hi = isNum(m.s.stats.ci_high) ? m.s.stats.ci_high : m.s.stats.error_rate;
      if (isNum(hi) && hi > max) max = hi;
    }
    if (model.binary) max = Math.min(1, max * 1.04);
    return max > 0 ? max : 1;
  }

  function td(cls, value, children) {
    const cell = el('td', { class: cls, 'data-value': isNum(value) ? value : null }, children);
    if (value === null || value === undefined) cell.setAttribute('data-value', '');
    return cell;
  }

  function tableRow(m, scale) {
    const s = m.s;
    const st = s.stats;
    const tr = el('tr', { 'data-slice': m.id, tabindex: '0', class: m.significant ? null : 'not-significant' });
    tr.appendChild(td('num rank', s.rank, [String(s.rank)]));
    tr.appendChild(el('td', { class: 'summary' }, [
      el('div', { class: 'summary-text', title: s.summary }, [el('span', { class: 'sid', text: s.id }), s.summary]),
    ]));
    tr.appendChild(td('num', st.size, [fmtInt(st.size), el('span', { class: 'sub', text: fmtPct(st.support) })]));
    tr.appendChild(td('error', st.error_rate, [
      el('span', { class: 'rate', text: fmtRate(st.error_rate) }),
      el('span', { class: 'sub', text: fmtInterval(st.ci_low, st.ci_high) }),
      ciBar(st, scale),
    ]));
    tr.appendChild(td('num', st.lift, [fmtLift(st.lift)]));
    tr.appendChild(td('num', st.excess_errors, [fmtSigned(st.excess_errors, model.binary)]));
    tr.appendChild(td('num nowrap', st.q_value, [fmtP(st.q_value)]));
    tr.appendChild(td('num stability', s.stability, [isNum(s.stability) ? fmtPct(s.stability) : '—']));
    tr.appendChild(el('td', { class: 'found' }, [foundByList(s, 2)]));
    tr.appendChild(td('flags', m.values.flags, [flagBadges(m)]));
    return tr;
  }

  /** Inline interval bar: the slice's interval and rate against the overall rate (dashed). */
  function ciBar(st, scale) {
    const w = 104;
    const h = 12;
    const pad = 3;
    const x = (v) => pad + (Math.max(0, Math.min(v, scale)) / scale) * (w - 2 * pad);
    const overall = model.result.overall.error_rate;
    const node = svg('svg', { class: 'ci-bar', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, 'aria-hidden': 'true', focusable: 'false' });
    node.appendChild(svg('line', { x1: x(0), x2: x(scale), y1: 6, y2: 6, stroke: COLOR.line, 'stroke-width': 2 }));
    if (isNum(st.ci_low) && isNum(st.ci_high)) {
      node.appendChild(svg('rect', { x: x(st.ci_low), y: 3, width: Math.max(1.5, x(st.ci_high) - x(st.ci_low)), height: 6, rx: 2, fill: COLOR.err, 'fill-opacity': 0.35 }));
    }
    if (isNum(overall)) {
      node.appendChild(svg('line', { x1: x(overall), x2: x(overall), y1: 0, y2: h, stroke: COLOR.overall, 'stroke-width': 1.2, 'stroke-dasharray': '2 1.5' }));
    }
    if (isNum(st.error_rate)) node.appendChild(svg('circle', { cx: x(st.error_rate), cy: 6, r: 3.2, fill: COLOR.err }));
    return node;
  }

  function slicerBadge(label, slicer) {
    return el('span', { class: 'badge slicer-' + slicer }, [el('span', { class: 'dot', 'aria-hidden': 'true' }), label]);
  }

  /** Compact found-by list for the table: a slicer dot and name, the view below it. */
  function foundByList(s, max) {
    const wrap = el('div', { class: 'fb-list' });
    const seen = new Map();
    for (const f of s.found_by || [{ slicer: s.slicer, view: s.view }]) {
      const key = f.slicer + '\u0001' + (f.view || '');
      if (!seen.has(key)) seen.set(key, f);
    }
    const all = Array.from(seen.values());
    for (const f of all.slice(0, max)) {
      wrap.appendChild(el('div', { class: 'fb slicer-' + f.slicer }, [
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        f.slicer,
        f.view ? el('span', { class: 'fb-view', text: 'view ' + f.view }) : null,
      ]));
    }
    if (all.length > max) {
      const rest = all.slice(max).map((f) => (f.view ? f.slicer + ' · ' + f.view : f.slicer));
      wrap.appendChild(el('div', { class: 'fb-more', text: '+' + rest.length + ' more', title: rest.join(', ') }));
    }
    return wrap;
  }

  function flagBadges(m) {
    const wrap = el('div', { class: 'badges' });
    for (const key of FLAG_KEYS) {
      if (m.flags[key]) wrap.appendChild(el('span', { class: 'badge flag-' + key, text: FLAG_NAMES[key] }));
    }
    if (!m.significant) wrap.appendChild(el('span', { class: 'badge ns', text: 'not significant', title: 'q ≥ ' + model.fdr }));
    if (m.s.equivalent_to) {
      wrap.appendChild(el('span', { class: 'badge same', text: '= ' + m.s.equivalent_to, title: 'Exactly the same rows as ' + m.s.equivalent_to }));
    }
    return wrap;
  }

  function wireTable(tbody) {
    for (const th of document.querySelectorAll('#slice-table th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => onSortClick(th.getAttribute('data-sort')));
    }
    tbody.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr[data-slice]');
      if (tr) select(tr.getAttribute('data-slice'), { scrollCard: true });
    });
    tbody.addEventListener('keydown', onTableKey);
    tbody.addEventListener('mouseover', (ev) => {
      const tr = ev.target.closest('tr[data-slice]');
      if (tr) setHovered(tr.getAttribute('data-slice'), 'table');
    });
    tbody.addEventListener('mouseleave', () => setHovered(null, 'table'));
    tbody.addEventListener('focusin', (ev) => {
      const tr = ev.target.closest('tr[data-slice]');
      if (tr) setHovered(tr.getAttribute('data-slice'), 'table');
    });
    tbody.addEventListener('focusout', () => setHovered(null, 'table'));
    byId('filter-text').addEventListener('input', (ev) => {
      state.filterText = ev.target.value;
      applyFilter();
    });
    for (const box of document.querySelectorAll('#flag-filter input[type=checkbox]')) {
      box.addEventListener('change', () => {
        if (box.checked) state.flagFilter.add(box.value);
        else state.flagFilter.delete(box.value);
        applyFilter();
      });
    }
  }

  function onSortClick(key) {
    const dir = state.sortKey === key ? (state.sortDir === 'asc' ? 'desc' : 'asc') : SORT_FIRST_DIR[key] || 'asc';
    sortRows(key, dir);
  }

  /** Reorder the rows (one fragment append); missing values always last, ties by rank. */
  function sortRows(key, dir) {
    state.sortKey = key;
    state.sortDir = dir;
    const sign = dir === 'asc' ? 1 : -1;
    const rows = model.slices.slice().sort((a, b) => {
      const va = a.values[key];
      const vb = b.values[key];
      const na = !isNum(va);
      const nb = !isNum(vb);
      if (na !== nb) return na ? 1 : -1;
      if (!na && va !== vb) return (va < vb ? -1 : 1) * sign;
      return a.rank - b.rank;
    });
    const frag = document.createDocumentFragment();
    for (const m of rows) frag.appendChild(m.tr);
    document.querySelector('#slice-table tbody').appendChild(frag);
    for (const th of document.querySelectorAll('#slice-table th[data-sort]')) {
      if (th.getAttribute('data-sort') === key) th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  function matchesFilter(m, tokens, flags) {
    for (const t of tokens) if (m.search.indexOf(t) < 0) return false;
    if (!flags.length) return true;
    return flags.some((f) => m.flags[f]);
  }

  function applyFilter() {
    const tokens = state.filterText.toLowerCase().split(/\s+/).filter(Boolean);
    const flags = Array.from(state.flagFilter);
    let shown = 0;
    for (const m of model.slices) {
      m.visible = matchesFilter(m, tokens, flags);
      m.tr.hidden = !m.visible;
      if (m.visible) shown++;
    }
    const total = model.slices.length;
    byId('filter-count').textContent = shown === total ? plural(total, 'slice') : fmtInt(shown) + ' of ' + plural(total, 'slice');
    byId('table-empty').hidden = shown > 0 || total === 0;
  }

  function visibleRows() {
    return Array.from(document.querySelectorAll('#slice-table tbody tr[data-slice]')).filter((tr) => !tr.hidden);
  }

  function onTableKey(ev) {
    const tr = ev.target.closest('tr[data-slice]');
    if (!tr || ev.target !== tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      // Enter opens the card and scrolls to it; Space selects and stays in the table.
      select(tr.getAttribute('data-slice'), { scrollCard: ev.key === 'Enter' });
      return;
    }
    const rows = visibleRows();
    const i = rows.indexOf(tr);
    let next = null;
    if (ev.key === 'ArrowDown') next = rows[i + 1];
    else if (ev.key === 'ArrowUp') next = rows[i - 1];
    else if (ev.key === 'Home') next = rows[0];
    else if (ev.key === 'End') next = rows[rows.length - 1];
    else return;
    ev.preventDefault();
    if (next) next.focus();
  }

  // ------------------------------------------------------------------ selection and highlight

  function highlightedId() {
    return state.hovered || state.selected;
  }

  function setHovered(id, source) {
    if (state.hovered === id) return;
    const prev = state.hovered && model.byId.get(state.hovered);
    if (prev) prev.tr.classList.remove('is-hover');
    state.hovered = id;
    const cur = id && model.byId.get(id);
    // A row hovered in the table is already shown by :hover; a slice hovered from a map is marked.
    if (cur && source === 'map') cur.tr.classList.add('is-hover');
    refreshHighlight();
  }

  function refreshHighlight() {
    const id = highlightedId();
    for (const mv of mapViews) mv.setHighlight(id);
  }

  /** Select a slice: mark its row, open its card, outline its points. */
  function select(id, opts) {
    const m = model.byId.get(id);
    if (!m) return;
    const options = opts || {};
    const prev = state.selected && model.byId.get(state.selected);
    if (prev && prev !== m) {
      prev.tr.removeAttribute('aria-current');
      if (prev.card) prev.card.hidden = true;
    }
    state.selected = id;
    m.tr.setAttribute('aria-current', 'true');
    showCard(m);
    refreshHighlight();
    if (options.scrollRow) m.tr.scrollIntoView({ block: 'nearest' });
    if (options.scrollCard) m.card.scrollIntoView({ block: 'start', behavior: reducedMotion() ? 'auto' : 'smooth' });
    if (options.updateHash !== false) rememberInHash(id);
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  function rememberInHash(id) {
    try {
      history.replaceState(null, '', '#' + id);
    } catch (e) {
      // Some browsers refuse history changes on file: pages; the hash is only a convenience.
    }
  }

  /** The best-ranked slice that contains drawn point i of a map, preferring slices not filtered out. */
  function bestSliceForPoint(map, i) {
    let fallback = null;
    for (const m of model.byRank) {
      const idx = map.slices && map.slices[m.id];
      if (!idx || idx.indexOf(i) < 0) continue;
      if (m.visible) return m.id;
      if (!fallback) fallback = m.id;
    }
    return fallback;
  }

  // ------------------------------------------------------------------ cards

  function ensureCard(m) {
    if (!m.card) {
      m.card = buildCard(m);
      m.card.hidden = true;
      byId('cards').appendChild(m.card);
    }
    return m.card;
  }

  function showCard(m) {
    ensureCard(m).hidden = false;
    byId('detail-empty').hidden = true;
  }

  /** For print: every card, in rank order. */
  function buildAllCards() {
    const cards = byId('cards');
    for (const m of model.byRank) cards.appendChild(ensureCard(m));
  }

  function buildCard(m) {
    const card = el('article', { class: 'card', 'data-card': m.id, 'aria-labelledby': 'card-title-' + m.id });
    appendAll(card, [
      cardHead(m),
      statsSection(m),
      whoSection(m),
      outcomeSection(m),
      phrasesSection(m),
      diagnosisSection(m),
      examplesSection(m),
      foundSection(m),
    ]);
    return card;
  }

  function section(title, children, cls) {
    return el('section', { class: 'card-section' + (cls ? ' ' + cls : '') }, [el('h3', { text: title })].concat(children));
  }

  function cardHead(m) {
    const s = m.s;
    const nav = el('div', { class: 'card-nav' }, [
      navButton('← Previous', m, -1),
      navButton('Next →', m, 1),
    ]);
    let origin = 'Rank ' + s.rank + ' · found by ' + s.slicer + (s.view ? ' on view ' + s.view : '');
    if (s.equivalent_to) origin += ' · the same rows as ' + s.equivalent_to;
    return el('header', null, [
      el('div', { class: 'card-head' }, [
        el('div', { class: 'card-title' }, [
          el('span', { class: 'sid', text: s.id }),
          el('h2', { id: 'card-title-' + m.id, text: s.description }),
        ]),
        nav,
      ]),
      el('p', { class: 'card-desc', text: origin }),
      el('p', { class: 'card-summary', text: s.summary }),
      flagBadges(m),
    ]);
  }

  /** Previous / next slice in the table's current order, among the rows shown. */
  function navButton(label, m, step) {
    const button = el('button', { type: 'button', text: label });
    button.addEventListener('click', () => {
      const rows = visibleRows();
      const i = rows.indexOf(m.tr);
      const target = rows[(i < 0 ? 0 : i + step)];
      if (target) select(target.getAttribute('data-slice'), { scrollCard: true, scrollRow: true });
    });
    return button;
  }

  // --- statistics

  function statsSection(m) {
    const s = m.s;
    const st = s.stats;
    const r = model.result;
    const items = [
      ['Rows', fmtInt(st.size) + ' (' + fmtPct(st.support) + ' of all)' + (r.task.weighted ? ', weight ' + fmtNum(st.weight, 4) : '')],
      [model.binary ? 'Errors' : 'Loss (sum)', model.binary ? fmtInt(st.errors) : fmtNum(st.errors, 4)],
      [capitalize(r.task.metric), fmtRate(st.error_rate) + ' (95% interval ' + fmtInterval(st.ci_low, st.ci_high) + ')'],
      ['Rest of the data', fmtRate(st.rest_error_rate)],
      ['Lift', fmtLift(st.lift) + ' the overall rate'],
      ['Excess ' + errorWord(), fmtSigned(st.excess_errors, model.binary) + ' above the overall rate'],
      ['p-value', fmtP(st.p_value) + ' (' + (st.test === 'fisher-exact' ? 'Fisher’s exact test' : 'Welch’s t-test') + ')'],
      ['q-value', fmtP(st.q_value) + (m.significant ? ' (significant at ' + fmtPct(model.fdr) + ' FDR)' : ' (not significant at ' + fmtPct(model.fdr) + ' FDR)')],
      ['Stability', isNum(s.stability) ? fmtPct(s.stability) + ' of bootstrap resamples' : '— (not estimated)'],
      isNum(s.score) ? ['Slicer score', fmtNum(s.score, 4)] : null,
      s.members_truncated && s.members ? ['Members in report', fmtInt(s.members.length) + ' of ' + fmtInt(st.size) + ' (the first ones, most typical first)'] : null,
    ];
    const chartBox = el('div', null, [
      el('h4', { text: 'Error in the slice, the rest and overall' }),
      rateChart(m),
      el('p', { class: 'card-note', text: model.binary ? 'Dots: rates; bars: 95% intervals; dashed: the overall rate.' : 'Dots: means; bars: 95% intervals where known; dashed: the overall mean.' }),
    ]);
    const statsBox = el('div', null, [el('h4', { text: 'Statistics' }), dl(items)]);
    statsBox.lastChild.className = 'stats';
    return section('How bad it is', [el('div', { class: 'card-grid' }, [chartBox, statsBox])]);
  }

  function restInterval(st) {
    const o = model.result.overall;
    if (!model.binary) return [null, null];
    return wilson(o.errors - st.errors, o.weight - st.weight);
  }

  /** Dot-and-interval chart: slice, rest, overall. */
  function rateChart(m) {
    const st = m.s.stats;
    const o = model.result.overall;
    const rest = restInterval(st);
    const rows = [
      { label: 'This slice', v: st.error_rate, lo: st.ci_low, hi: st.ci_high, color: COLOR.err },
      { label: 'Rest of the data', v: st.rest_error_rate, lo: rest[0], hi: rest[1], color: COLOR.ok },
      { label: 'Overall', v: o.error_rate, lo: o.ci_low, hi: o.ci_high, color: COLOR.overall },
    ];
    let max = 0;
    for (const row of rows) for (const v of [row.v, row.hi]) if (isNum(v) && v > max) max = v;
    max = max > 0 ? max * 1.08 : 1;
    if (model.binary) max = Math.min(1, max);
    const ticks = niceTicks(max, 4);
    const top = ticks[ticks.length - 1] >= max * 0.98 ? ticks[ticks.length - 1] : max;
    const W = 440;
    const L = 138;
    const R = 16;
    const x = (v) => L + (Math.max(0, Math.min(v, top)) / top) * (W - L - R);
    const label = rows.map((row) => row.label + ' ' + fmtRate(row.v) + (isNum(row.lo) ? ' (' + fmtInterval(row.lo, row.hi) + ')' : '')).join('; ');
    const node = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' 132', role: 'img', 'aria-label': label });
    for (const t of ticks) {
      node.appendChild(svg('line', { x1: x(t), x2: x(t), y1: 8, y2: 104, stroke: COLOR.line, 'stroke-width': 1 }));
      node.appendChild(svg('text', { x: x(t), y: 122, 'text-anchor': 'middle', 'font-size': 11, text: fmtRate(t) }));
    }
    if (isNum(o.error_rate)) {
      node.appendChild(svg('line', { x1: x(o.error_rate), x2: x(o.error_rate), y1: 4, y2: 108, stroke: COLOR.overall, 'stroke-width': 1.2, 'stroke-dasharray': '4 3' }));
    }
    rows.forEach((row, i) => appendChartRow(node, row, 26 + i * 34, x));
    return node;
  }

  function appendChartRow(node, row, y, x) {
    node.appendChild(svg('text', { x: 0, y: y - 3, 'font-size': 12.5, 'font-weight': 600, fill: COLOR.ink, text: row.label }));
    const sub = fmtRate(row.v) + (isNum(row.lo) ? '  [' + fmtInterval(row.lo, row.hi) + ']' : '');
    node.appendChild(svg('text', { x: 0, y: y + 12, 'font-size': 11, text: sub }));
    if (isNum(row.lo) && isNum(row.hi)) {
      node.appendChild(svg('line', { x1: x(row.lo), x2: x(row.hi), y1: y, y2: y, stroke: row.color, 'stroke-width': 6, 'stroke-opacity': 0.35, 'stroke-linecap': 'round' }));
    }
    if (isNum(row.v)) node.appendChild(svg('circle', { cx: x(row.v), cy: y, r: 5.5, fill: row.color, stroke: '#fff', 'stroke-width': 1.5 }));
  }

  // --- who is in it

  function whoSection(m) {
    return section('Who is in it', [el('div', { class: 'card-grid' }, [ruleBlock(m), enrichedBlock(m)])]);
  }

  function ruleChips(text) {
    const wrap = el('div', { class: 'rule' });
    String(text).split(' ∧ ').forEach((part, i) => {
      if (i) wrap.appendChild(el('span', { class: 'and', text: 'and' }));
      wrap.appendChild(el('span', { class: 'pred', text: part }));
    });
    return wrap;
  }

  function meterRow(label, v) {
    const bar = el('div', { class: 'meter', 'aria-hidden': 'true' }, [el('span')]);
    bar.firstChild.style.width = Math.max(0, Math.min(1, v || 0)) * 100 + '%';
    return [el('span', { text: label }), bar, el('span', { class: 'num', text: isNum(v) ? v.toFixed(2) : '—' })];
  }

  function ruleBlock(m) {
    const rule = m.s.attribute_rule;
    const box = el('div', null, [el('h4', { text: 'Attribute rule' })]);
    if (!rule) {
      const why = (model.result.attributes || []).length ? '' : ' (no attribute columns were given)';
      box.appendChild(el('p', { class: 'verdict weak', text: 'No attribute rule explains this slice' + why + '.' }));
      return box;
    }
    const weak = !(rule.f1 >= WEAK_RULE_F1);
    box.appendChild(el('p', {
      class: 'verdict' + (weak ? ' weak' : ''),
      text: weak ? 'No attribute rule explains this slice well; the closest is' : 'The members are described by',
    }));
    box.appendChild(ruleChips(rule.text));
    const meters = el('div', { class: 'meters' });
    appendAll(meters, meterRow('Precision', rule.precision));
    appendAll(meters, meterRow('Recall', rule.recall));
    appendAll(meters, meterRow('F1', rule.f1));
    box.appendChild(meters);
    box.appendChild(el('p', {
      class: 'card-note',
      text: 'The rule selects ' + plural(rule.size, 'row') + ', ' + fmtInt(rule.matched) + ' of them in the slice.',
    }));
    return box;
  }

  /** Paired bars: share in the slice (vermillion) over share overall (blue). */
  function shareBars(inSlice, overall) {
    const wrap = el('div', { class: 'shares' });
    for (const [cls, v, title] of [['slice', inSlice, 'in the slice'], ['overall', overall, 'overall']]) {
      const bar = el('div', { class: 'share-bar ' + cls, title: fmtPct(v) + ' ' + title }, [el('span')]);
      bar.firstChild.style.width = Math.max(0, Math.min(1, v || 0)) * 100 + '%';
      wrap.appendChild(bar);
      wrap.appendChild(el('span', { class: 'n', text: fmtPct(v) }));
    }
    return wrap;
  }

  function enrichedBlock(m) {
    const rows = m.s.enriched || [];
    const box = el('div', null, [el('h4', { text: 'Over-represented values' })]);
    if (!rows.length) {
      box.appendChild(el('p', { class: 'verdict weak', text: 'No attribute value is notably over-represented.' }));
      return box;
    }
    const table = el('table', { class: 'mini' }, [
      el('thead', null, [el('tr', null, [
        el('th', { scope: 'col', text: 'Value' }),
        el('th', { scope: 'col', text: 'Share: slice / overall' }),
        el('th', { scope: 'col', class: 'num', text: 'Lift' }),
        el('th', { scope: 'col', class: 'num', text: 'Members' }),
      ])]),
    ]);
    const body = el('tbody');
    for (const e of rows) {
      body.appendChild(el('tr', null, [
        el('td', { class: 'value', text: e.text }),
        el('td', null, [shareBars(e.share_in_slice, e.share_overall)]),
        el('td', { class: 'num', text: fmtLift(e.lift) }),
        el('td', { class: 'num', text: fmtInt(e.count) }),
      ]));
    }
    table.appendChild(body);
    box.appendChild(table);
    return box;
  }

  // --- outcome

  function outcomeSection(m) {
    const o = m.s.outcome;
    if (!o) return null;
    if (o.kind === 'confusion') return section('What goes wrong', confusionBlock(o));
    return section('What goes wrong', distributionBlock(o));
  }

  function pairTable(pairs, showMark) {
    const table = el('table', { class: 'mini' }, [
      el('thead', null, [el('tr', null, [
        el('th', { scope: 'col', text: 'Label → predicted' }),
        el('th', { scope: 'col', text: 'Share: slice / overall' }),
        el('th', { scope: 'col', class: 'num', text: 'Rows' }),
      ])]),
    ]);
    const body = el('tbody');
    for (const p of pairs) {
      const mark = showMark ? el('span', { class: p.error ? 'err-mark' : 'muted', text: p.error ? ' ✕' : ' ✓', title: p.error ? 'error' : 'correct' }) : null;
      body.appendChild(el('tr', null, [
        el('td', { class: 'value' }, [p.label, ' ', el('span', { class: 'arrow', text: '→' }), ' ', p.predicted, mark]),
        el('td', null, [shareBars(p.share_in_slice, p.share_overall)]),
        el('td', { class: 'num', text: fmtInt(p.count) }),
      ]));
    }
    table.appendChild(body);
    return table;
  }

  function confusionBlock(o) {
    const out = [];
    const errors = o.error_pairs || [];
    if (errors.length) {
      out.push(el('h4', { text: 'The most frequent errors in the slice' }));
      out.push(pairTable(errors, false));
    } else {
      out.push(el('p', { class: 'verdict weak', text: 'No errors in this slice.' }));
    }
    if (o.pairs && o.pairs.length) {
      const details = el('details', { class: 'found' }, [
        el('summary', { text: 'All label → prediction pairs, correct ones included' }),
        pairTable(o.pairs, true),
      ]);
      out.push(details);
    }
    return out;
  }

  /** Regression and per-row losses: the error distribution in the slice, the rest and overall. */
  function distributionBlock(o) {
    const rows = [['This slice', o.slice, COLOR.err], ['Rest of the data', o.rest, COLOR.ok], ['Overall', o.overall, COLOR.overall]]
      .filter((r) => r[1]);
    if (!rows.length) return [el('p', { class: 'verdict weak', text: 'No error distribution is available.' })];
    let max = 0;
    for (const r of rows) max = Math.max(max, r[1].q90, r[1].mean);
    const top = niceTicks(max * 1.05 || 1, 4).pop() || 1;
    const W = 440;
    const L = 138;
    const x = (v) => L + (Math.max(0, Math.min(v, top)) / top) * (W - L - 16);
    const node = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + (rows.length * 34 + 30), role: 'img',
      'aria-label': rows.map((r) => r[0] + ': mean ' + fmtNum(r[1].mean) + ', median ' + fmtNum(r[1].q50) + ', 10th–90th percentile ' + fmtNum(r[1].q10) + '–' + fmtNum(r[1].q90)).join('; ') });
    const axisY = rows.length * 34 + 4;
    for (const t of niceTicks(top, 4)) {
      node.appendChild(svg('line', { x1: x(t), x2: x(t), y1: 6, y2: axisY, stroke: COLOR.line }));
      node.appendChild(svg('text', { x: x(t), y: axisY + 16, 'text-anchor': 'middle', 'font-size': 11, text: fmtNum(t) }));
    }
    rows.forEach((r, i) => {
      const y = 22 + i * 34;
      const d = r[1];
      node.appendChild(svg('text', { x: 0, y: y - 3, 'font-size': 12.5, 'font-weight': 600, fill: COLOR.ink, text: r[0] }));
      node.appendChild(svg('text', { x: 0, y: y + 12, 'font-size': 11, text: 'mean ' + fmtNum(d.mean) + ' · median ' + fmtNum(d.q50) }));
      node.appendChild(svg('line', { x1: x(d.q10), x2: x(d.q90), y1: y, y2: y, stroke: r[2], 'stroke-width': 6, 'stroke-opacity': 0.35, 'stroke-linecap': 'round' }));
      node.appendChild(svg('line', { x1: x(d.q50), x2: x(d.q50), y1: y - 7, y2: y + 7, stroke: r[2], 'stroke-width': 2 }));
      node.appendChild(svg('circle', { cx: x(d.mean), cy: y, r: 5, fill: r[2], stroke: '#fff', 'stroke-width': 1.5 }));
    });
    return [
      el('h4', { text: 'Distribution of the per-row ' + (o.binary ? 'error' : 'loss') }),
      node,
      el('p', { class: 'card-note', text: 'Bars: 10th to 90th percentile; tick: median; dot: mean.' }),
    ];
  }

  // --- phrases

  function phrasesSection(m) {
    const p = m.s.phrases;
    if (!p || !p.top || !p.top.length) return null;
    const chips = el('div', { class: 'phrases' }, p.top.map((t) => el('span', { class: 'phrase', title: 'score ' + fmtNum(t.score) }, [
      t.phrase, el('span', { class: 'score', text: fmtNum(t.score, 2) }),
    ])));
    return section('Phrases that set it apart', [
      chips,
      el('p', { class: 'card-note', text: 'In view ' + p.view + ', compared with ' + p.reference + '.' }),
    ]);
  }

  // --- diagnosis

  function diagItem(key, title, raised, stateText, children) {
    return el('div', { class: 'diag-item ' + key + (raised ? ' raised' : '') }, [
      el('div', { class: 'head' }, [
        raised ? el('span', { class: 'badge flag-' + key, text: FLAG_NAMES[key] }) : null,
        el('span', { text: title }),
        el('span', { class: 'state', text: stateText }),
      ]),
    ].concat(children));
  }

  function diagnosisSection(m) {
    const f = m.s.flags || {};
    return section('Diagnosis', [el('div', { class: 'diag' }, [
      labelNoiseItem(f.label_noise),
      shortcutItem(f.shortcuts || []),
      coverageItem(f.under_covered),
    ])]);
  }

  function labelNoiseItem(ln) {
    if (!ln) {
      return diagItem('label_noise', 'Label noise', false, 'not checked',
        [el('p', { class: 'evidence', text: 'Checked for classification tasks with an embedding view.' })]);
    }
    const children = [el('p', { class: 'evidence', text: ln.evidence })];
    const rows = ln.suspect_rows || [];
    if (rows.length) children.push(suspectsBlock(rows, ln));
    return diagItem('label_noise', 'Label noise', ln.flagged, ln.flagged ? 'likely' : 'no clear sign', children);
  }

  /** Suspect rows: thumbnails when the report carries them, row numbers otherwise. */
  function suspectsBlock(rows, ln) {
    const details = el('details', { class: 'suspects' });
    details.open = !!ln.flagged;
    details.appendChild(el('summary', {
      text: (ln.flagged ? 'Rows to check: ' : 'Rows whose neighbours agree with the model: ') + fmtInt(rows.length) +
        (ln.suspects > rows.length ? ' of ' + fmtInt(ln.suspects) : ''),
    }));
    const withMedia = rows.filter((r) => hasMedia(model.examples[r]));
    if (withMedia.length) {
      const gallery = el('div', { class: 'gallery' });
      for (const r of withMedia.slice(0, 48)) gallery.appendChild(exampleFigure({ row: r, error: 1, score: null, values: {} }));
      details.appendChild(gallery);
    }
    const rest = rows.filter((r) => !hasMedia(model.examples[r]));
    if (rest.length) details.appendChild(el('div', { class: 'row-list' }, rest.map((r) => el('span', { class: 'row-chip', text: String(r) }))));
    return details;
  }

  function shortcutItem(shortcuts) {
    if (!shortcuts.length) {
      const checked = model.result.task.task !== 'regression' && model.result.task.task !== 'metric' && (model.result.attributes || []).length;
      return diagItem('shortcut', 'Shortcut', false, checked ? 'none found' : 'not checked', [el('p', {
        class: 'evidence',
        text: checked ? 'No attribute moves the predictions here more than it moves the labels.' : 'Checked for classification tasks with attribute columns.',
      })]);
    }
    const children = shortcuts.map((sc) => el('p', { class: 'evidence' }, [
      el('strong', { text: sc.level_text + ' → ' + sc['class'] + ': ' }),
      sc.evidence,
    ]));
    return diagItem('shortcut', 'Shortcut', true, shortcuts.length > 1 ? plural(shortcuts.length, 'attribute') : 'likely', children);
  }

  function coverageItem(uc) {
    if (!uc) return null;
    return diagItem('under_covered', 'Coverage', uc.flagged, uc.flagged ? 'too few rows' : 'enough rows',
      [el('p', { class: 'evidence', text: uc.evidence })]);
  }

  // --- examples

  function hasMedia(ex) {
    return !!ex && (isDataImage(ex.image) || !!ex.text);
  }

  function isDataImage(src) {
    return typeof src === 'string' && src.slice(0, 11) === 'data:image/';
  }

  function examplesSection(m) {
    const list = m.s.examples || [];
    if (!list.length) return null;
    const embedding = !m.s.rule;
    const groups = [
      ['typical', 'Typical', embedding ? 'the members with the highest membership score' : 'a random sample of the members'],
      ['borderline', 'Borderline', 'members just inside the slice’s boundary'],
    ];
    const out = [];
    for (const [kind, title, hint] of groups) {
      const items = list.filter((e) => e.kind === kind);
      if (!items.length) continue;
      const gallery = el('div', { class: 'gallery ' + galleryKind(items) }, items.map(exampleFigure));
      out.push(el('div', { class: 'gallery-group' }, [
        el('h4', null, [title, el('span', { class: 'hint muted', text: hint })]),
        gallery,
      ]));
    }
    return section('Examples', out);
  }

  function hasLabelPred(ex) {
    return !!ex && ex.label !== null && ex.label !== undefined && ex.pred !== null && ex.pred !== undefined;
  }

  /** "label → pred", or nothing when the report carries neither. */
  /** Layout of a gallery: "text" (snippets only), "bare" (no media at all) or "images". */
  function galleryKind(items) {
    const media = items.map((e) => model.examples[e.row]).filter(hasMedia);
    if (!media.length) return 'bare';
    return media.every((ex) => ex.text && !isDataImage(ex.image)) ? 'text' : 'images';
  }

  function labelPredLine(ex) {
    if (!hasLabelPred(ex)) return null;
    return el('div', { class: 'lp' }, [ex.label, ' ', el('span', { class: 'arrow', text: '→' }), ' ', ex.pred]);
  }

  /** "✕ error" / "✓ correct" (0/1 errors) or "loss 1.2", then "row 12 · score 0.3". */
  function statusLines(example) {
    const out = [];
    const error = isNum(example.error) ? example.error : null;
    if (model.binary && error !== null) {
      out.push(el('span', { class: 'kv status' }, [
        el('span', { class: error > 0 ? 'err-mark' : 'ok', text: error > 0 ? '✕ error' : '✓ correct' }),
      ]));
    } else if (error !== null) {
      out.push(el('span', { class: 'kv status', text: 'loss ' + fmtNum(error) }));
    }
    out.push(el('span', { class: 'kv', text: 'row ' + example.row + (isNum(example.score) ? ' · score ' + fmtNum(example.score) : '') }));
    return out;
  }

  function thumbnail(src, alt) {
    const img = el('img', { class: 'thumb', alt: alt, decoding: 'async' });
    img.addEventListener('load', () => {
      // Tiny images (e.g. 28 px) are scaled up by an integer factor with crisp pixels.
      const w = img.naturalWidth;
      const h = img.naturalHeight;
      if (w > 0 && w <= 48 && h <= 48) {
        const k = Math.max(1, Math.floor(96 / Math.max(w, h)));
        img.width = w * k;
        img.height = h * k;
        img.classList.add('pixelated');
      }
    });
    img.src = src;
    return img;
  }

  function exampleFigure(example) {
    const ex = model.examples[example.row] || null;
    const error = model.binary ? example.error > 0 : false;
    const fig = el('figure', { class: 'example' + (error ? ' is-error' : '') });
    const alt = 'Row ' + example.row + (hasLabelPred(ex) ? ': label ' + ex.label + ', predicted ' + ex.pred : '');
    if (ex && isDataImage(ex.image)) fig.appendChild(el('div', { class: 'thumb-box' }, [thumbnail(ex.image, alt)]));
    else if (ex && ex.text) fig.appendChild(el('blockquote', { class: 'snippet', text: ex.text }));
    const caption = el('figcaption', null, [labelPredLine(ex)].concat(statusLines(example)));
    const display = Object.assign({}, example.values || {}, (ex && ex.display) || {});
    for (const key of Object.keys(display)) {
      const value = display[key];
      if (value === null || value === undefined || value === '') continue;
      if (key === 'row' && String(value) === String(example.row)) continue;
      if (ex && ex.text && String(value) === ex.text) continue;
      caption.appendChild(el('span', { class: 'kv', text: key + ': ' + value }));
    }
    fig.appendChild(caption);
    return fig;
  }

  // --- found by

  function foundSection(m) {
    const s = m.s;
    const list = s.found_by || [];
    const out = [];
    if (list.length) {
      const table = el('table', { class: 'mini' }, [el('thead', null, [el('tr', null, [
        el('th', { scope: 'col', text: 'Slicer' }),
        el('th', { scope: 'col', text: 'Description' }),
        el('th', { scope: 'col', class: 'num', text: 'Overlap' }),
        el('th', { scope: 'col', class: 'num', text: 'Rows' }),
        el('th', { scope: 'col', class: 'num', text: 'Excess' }),
      ])])]);
      const body = el('tbody');
      for (const f of list) {
        body.appendChild(el('tr', null, [
          el('td', null, [slicerBadge(f.view ? f.slicer + ' · ' + f.view : f.slicer, f.slicer)]),
          el('td', { class: 'value', text: f.description }),
          el('td', { class: 'num', text: fmtPct(f.jaccard), title: 'Jaccard overlap of the members' }),
          el('td', { class: 'num', text: fmtInt(f.size) }),
          el('td', { class: 'num', text: fmtSigned(f.excess_errors, model.binary) }),
        ]));
      }
      table.appendChild(body);
      out.push(table);
    }
    const conc = s.concentration || {};
    const keys = Object.keys(conc);
    if (keys.length) {
      out.push(el('div', { class: 'conc' }, [el('span', { class: 'muted', text: 'Concentration in each view (0.5: spread out, 1: a tight cluster):' })]
        .concat(keys.map((k) => el('span', null, [el('strong', { text: k }), ' ' + (isNum(conc[k]) ? conc[k].toFixed(2) : '—')])))));
    }
    return out.length ? section('Found by', out) : null;
  }

  // ------------------------------------------------------------------ maps

  function renderMaps() {
    const aside = byId('maps');
    const layout = byId('layout');
    if (!model.maps.length) {
      layout.classList.add('no-maps');
      return;
    }
    aside.hidden = false;
    const list = byId('map-list');
    for (const map of model.maps) {
      const mv = createMapView(map);
      mapViews.push(mv);
      list.appendChild(mv.element);
    }
    for (const mv of mapViews) mv.layout();
    if (typeof ResizeObserver === 'function') {
      const ro = new ResizeObserver((entries) => {
        for (const entry of entries) {
          const mv = mapViews.find((v) => v.wrap === entry.target);
          if (mv) mv.scheduleLayout();
        }
      });
      for (const mv of mapViews) ro.observe(mv.wrap);
    }
  }

  /** Robust bounds of the points: the 0.2 and 99.8 percentiles, padded, so an outlier does not squash the map. */
  function robustRange(values) {
    const n = values.length;
    if (!n) return [0, 1];
    const sorted = Float32Array.from(values).sort();
    const lo = sorted[Math.floor(n * 0.002)];
    const hi = sorted[Math.min(n - 1, Math.ceil(n * 0.998) - 1)];
    const pad = (hi - lo) * 0.04 || 1;
    return [lo - pad, hi + pad];
  }

  function hexToRgb(hex) {
    const v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  function rampColor(t) {
    const pos = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(pos));
    const a = hexToRgb(RAMP[i]);
    const b = hexToRgb(RAMP[i + 1]);
    const f = pos - i;
    const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
    return 'rgb(' + c.join(',') + ')';
  }

  /** Colour index of every point and the palette: 0/1 errors, or a ramp over the loss quantiles. */
  function pointColors(map, binaryErrors) {
    const n = map.error.length;
    const idx = new Uint8Array(n);
    if (binaryErrors) {
      for (let i = 0; i < n; i++) idx[i] = map.error[i] > 0.5 ? 1 : 0;
      return { idx: idx, palette: [COLOR.ok, COLOR.err], alpha: [0.55, 0.92], lo: 0, hi: 1 };
    }
    const sorted = Float32Array.from(map.error).sort();
    const lo = sorted[Math.floor(n * 0.02)] || 0;
    const hi = sorted[Math.max(0, Math.ceil(n * 0.98) - 1)] || 1;
    const span = hi - lo || 1;
    for (let i = 0; i < n; i++) idx[i] = Math.round(Math.max(0, Math.min(1, (map.error[i] - lo) / span)) * (RAMP_STEPS - 1));
    const palette = [];
    const alpha = [];
    for (let k = 0; k < RAMP_STEPS; k++) { palette.push(rampColor(k / (RAMP_STEPS - 1))); alpha.push(0.8); }
    return { idx: idx, palette: palette, alpha: alpha, lo: lo, hi: hi };
  }

  /** Draw order: ascending colour index (errors, high losses on top). Counting sort, O(n). */
  function drawOrder(colorIdx, levels) {
    const counts = new Uint32Array(levels + 1);
    for (let i = 0; i < colorIdx.length; i++) counts[colorIdx[i] + 1]++;
    for (let k = 1; k <= levels; k++) counts[k] += counts[k - 1];
    const order = new Uint32Array(colorIdx.length);
    for (let i = 0; i < colorIdx.length; i++) order[counts[colorIdx[i]]++] = i;
    return order;
  }

  function mapLegend(colors, binaryErrors) {
    const legend = el('div', { class: 'legend' });
    if (binaryErrors) {
      for (const [c, t] of [[COLOR.ok, 'correct'], [COLOR.err, 'error']]) {
        const sw = el('span', { class: 'sw', 'aria-hidden': 'true' });
        sw.style.background = c;
        legend.appendChild(el('span', null, [sw, t]));
      }
    } else {
      const ramp = el('span', { class: 'ramp', 'aria-hidden': 'true' });
      ramp.style.background = 'linear-gradient(90deg,' + RAMP.join(',') + ')';
      legend.appendChild(el('span', null, ['loss ' + fmtNum(colors.lo), ramp, fmtNum(colors.hi)]));
    }
    legend.appendChild(el('span', null, [el('span', { class: 'sw ring', 'aria-hidden': 'true' }), 'outlined: the slice']));
    return legend;
  }

  function createMapView(map) {
    const n = Math.min(map.x.length, map.y.length);
    const binaryErrors = model.binary;
    const colors = pointColors(map, binaryErrors);
    const order = drawOrder(colors.idx, colors.palette.length);
    const rank = new Uint32Array(n); // position of each point in the draw order
    for (let k = 0; k < n; k++) rank[order[k]] = k;
    const xr = robustRange(map.x);
    const yr = robustRange(map.y);
    const memberCount = new Uint16Array(n);
    const bestIndex = new Int32Array(n).fill(-1);
    model.byRank.forEach((m, k) => {
      for (const i of (map.slices && map.slices[m.id]) || []) {
        if (i >= n) continue;
        memberCount[i]++;
        if (bestIndex[i] < 0) bestIndex[i] = k;
      }
    });

    const shown = fmtInt(n) + (map.n_total > n ? ' of ' + fmtInt(map.n_total) : '') + ' rows';
    const explained = Array.isArray(map.explained) ? map.explained : [];
    const canvas = el('canvas', {
      'data-view': map.view,
      role: 'img',
      'aria-label': 'Map of view ' + map.view + ': ' + shown + ', coloured by error. Use the table to select slices.',
    });
    const tip = el('div', { class: 'map-tip', hidden: true, role: 'status' });
    const wrap = el('div', { class: 'map-canvas-wrap' }, [canvas, tip]);
    const element = el('figure', { class: 'map-card' }, [
      el('figcaption', null, [el('strong', { text: map.view }), ' ' + String(map.method || 'pca').toUpperCase() + ' · ' + shown]),
      wrap,
      el('div', { class: 'map-axes', text: 'Axes: components 1 (' + fmtPct(explained[0]) + ' of variance) and 2 (' + fmtPct(explained[1]) + ')' }),
      mapLegend(colors, binaryErrors),
    ]);

    const ctx = canvas.getContext('2d');
    const base = document.createElement('canvas');
    const bctx = base.getContext('2d');
    const sx = new Float32Array(n);
    const sy = new Float32Array(n);
    const sortedCache = new Map();
    let cssW = 0;
    let cssH = 0;
    let dpr = 1;
    let size = 2;
    let grid = null;
    let highlight = null;
    let hoverPoint = -1;
    let layoutPending = false;
    let lastDrawMs = 0;

    function layout() {
      const rect = canvas.getBoundingClientRect(); // the content box of the frame, borders excluded
      const w = Math.max(1, Math.round(rect.width));
      const h = Math.max(1, Math.round(rect.height));
      const ratio = window.devicePixelRatio || 1;
      if (w === cssW && h === cssH && ratio === dpr && grid) return;
      cssW = w;
      cssH = h;
      dpr = ratio;
      for (const c of [canvas, base]) {
        c.width = Math.round(cssW * dpr);
        c.height = Math.round(cssH * dpr);
      }
      size = Math.max(1.6, Math.min(4.5, Math.sqrt((cssW * cssH) / Math.max(1, n)) * 0.5));
      project();
      grid = buildGrid();
      drawBase();
      draw();
    }

    function scheduleLayout() {
      if (layoutPending) return;
      layoutPending = true;
      requestAnimationFrame(() => {
        layoutPending = false;
        layout();
      });
    }

    /** Data coordinates to CSS pixels (y up), clamped to the frame. */
    function project() {
      const m = 8;
      const kx = (cssW - 2 * m) / (xr[1] - xr[0]);
      const ky = (cssH - 2 * m) / (yr[1] - yr[0]);
      for (let i = 0; i < n; i++) {
        sx[i] = Math.max(m, Math.min(cssW - m, m + (map.x[i] - xr[0]) * kx));
        sy[i] = Math.max(m, Math.min(cssH - m, cssH - m - (map.y[i] - yr[0]) * ky));
      }
    }

    /** Uniform grid over the canvas for nearest-point lookup; points kept in draw order. */
    function buildGrid() {
      const cell = 12;
      const cols = Math.ceil(cssW / cell) + 1;
      const rows = Math.ceil(cssH / cell) + 1;
      const start = new Uint32Array(cols * rows + 1);
      const cellOf = new Uint32Array(n);
      for (let k = 0; k < n; k++) {
        const i = order[k];
        const c = Math.floor(sy[i] / cell) * cols + Math.floor(sx[i] / cell);
        cellOf[k] = c;
        start[c + 1]++;
      }
      for (let c = 1; c < start.length; c++) start[c] += start[c - 1];
      const fill = start.slice(0, -1);
      const items = new Uint32Array(n);
      for (let k = 0; k < n; k++) items[fill[cellOf[k]]++] = order[k];
      return { cell: cell, cols: cols, rows: rows, start: start, items: items };
    }

    function nearest(px, py, radius) {
      if (!grid) return -1;
      const g = grid;
      const c0 = Math.max(0, Math.floor((px - radius) / g.cell));
      const c1 = Math.min(g.cols - 1, Math.floor((px + radius) / g.cell));
      const r0 = Math.max(0, Math.floor((py - radius) / g.cell));
      const r1 = Math.min(g.rows - 1, Math.floor((py + radius) / g.cell));
      let best = -1;
      let bestD = radius * radius;
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const cell = r * g.cols + c;
          for (let k = g.start[cell]; k < g.start[cell + 1]; k++) {
            const i = g.items[k];
            const dx = sx[i] - px;
            const dy = sy[i] - py;
            const d = dx * dx + dy * dy;
            // <= prefers points drawn later (on top), as the items are in draw order within a cell.
            if (d <= bestD && (best < 0 || d < bestD || rank[i] > rank[best])) { best = i; bestD = d; }
          }
        }
      }
      return best;
    }

    /** All points, once per size change, into an offscreen layer; hover redraws only blit it. */
    function drawBase() {
      bctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      bctx.fillStyle = COLOR.mapBg;
      bctx.fillRect(0, 0, cssW, cssH);
      let current = -1;
      for (let k = 0; k < n; k++) {
        const i = order[k];
        const c = colors.idx[i];
        if (c !== current) {
          current = c;
          bctx.fillStyle = colors.palette[c];
          bctx.globalAlpha = colors.alpha[c];
        }
        const s = c > 0 && binaryErrors ? size + 0.6 : size;
        bctx.fillRect(sx[i] - s / 2, sy[i] - s / 2, s, s);
      }
      bctx.globalAlpha = 1;
    }

    function sliceIndices(id) {
      if (!id || !map.slices || !map.slices[id]) return null;
      if (!sortedCache.has(id)) {
        const idx = Uint32Array.from(map.slices[id].filter((i) => i < n));
        idx.sort((a, b) => rank[a] - rank[b]);
        sortedCache.set(id, idx);
      }
      return sortedCache.get(id);
    }

    function draw() {
      const t0 = performance.now();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      const idx = sliceIndices(highlight);
      if (idx) {
        ctx.fillStyle = COLOR.mapBg;
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.globalAlpha = 0.4;
        ctx.drawImage(base, 0, 0);
        ctx.globalAlpha = 1;
      } else {
        ctx.drawImage(base, 0, 0);
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      if (idx) drawHighlighted(idx);
      if (hoverPoint >= 0) drawHoverRing(hoverPoint);
      lastDrawMs = performance.now() - t0;
    }

    /** The slice's points over the dimmed map: an ink outline, then the point's own colour. */
    function drawHighlighted(idx) {
      const s = size + 1.4;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k];
        const c = colors.idx[i];
        ctx.fillStyle = COLOR.ink;
        ctx.fillRect(sx[i] - s / 2 - 1, sy[i] - s / 2 - 1, s + 2, s + 2);
        ctx.fillStyle = colors.palette[c];
        ctx.fillRect(sx[i] - s / 2, sy[i] - s / 2, s, s);
      }
    }

    function drawHoverRing(i) {
      ctx.beginPath();
      ctx.arc(sx[i], sy[i], size + 4, 0, Math.PI * 2);
      ctx.lineWidth = 2;
      ctx.strokeStyle = COLOR.ink;
      ctx.stroke();
    }

    function setHighlight(id) {
      if (id === highlight) return;
      highlight = id;
      draw();
    }

    function pointAt(ev) {
      const rect = canvas.getBoundingClientRect();
      return nearest(ev.clientX - rect.left, ev.clientY - rect.top, 8);
    }

    function showTip(i) {
      tip.textContent = '';
      const row = map.row ? map.row[i] : i;
      const ex = model.examples[row];
      tip.appendChild(el('div', { class: 't', text: 'Row ' + fmtInt(row) }));
      const lp = pointLabelPred(map, i, ex);
      if (lp) tip.appendChild(el('div', { text: lp }));
      const e = map.error[i];
      tip.appendChild(el('div', { text: binaryErrors ? (e > 0.5 ? 'error' : 'correct') : 'loss ' + fmtNum(e) }));
      const count = memberCount[i];
      const best = bestIndex[i] >= 0 ? model.byRank[bestIndex[i]].id : null;
      tip.appendChild(el('div', { text: best ? 'In ' + best + (count > 1 ? ' and ' + plural(count - 1, 'more slice') : '') : 'In no listed slice' }));
      if (ex && isDataImage(ex.image)) tip.appendChild(el('img', { src: ex.image, alt: '', width: 48, height: 48 }));
      tip.hidden = false;
      const tw = tip.offsetWidth;
      const th = tip.offsetHeight;
      let left = sx[i] + 12;
      let top = sy[i] + 12;
      if (left + tw > cssW - 4) left = sx[i] - tw - 12;
      if (top + th > cssH - 4) top = sy[i] - th - 12;
      tip.style.left = Math.max(4, left) + 'px';
      tip.style.top = Math.max(4, top) + 'px';
    }

    function onMove(ev) {
      const i = pointAt(ev);
      if (i === hoverPoint) return;
      hoverPoint = i;
      if (i < 0) {
        tip.hidden = true;
        setHovered(null, 'map');
        draw();
        return;
      }
      showTip(i);
      const best = bestIndex[i] >= 0 ? model.byRank[bestIndex[i]].id : null;
      if (best !== state.hovered) setHovered(best, 'map');
      draw();
    }

    function onLeave() {
      hoverPoint = -1;
      tip.hidden = true;
      setHovered(null, 'map');
      draw();
    }

    function onClick(ev) {
      const i = pointAt(ev);
      if (i < 0) return;
      const id = bestSliceForPoint(map, i);
      if (id) {
        setHovered(null, 'map');
        select(id, { scrollCard: true, scrollRow: true });
      }
    }

    canvas.addEventListener('mousemove', onMove);
    canvas.addEventListener('mouseleave', onLeave);
    canvas.addEventListener('click', onClick);

    return {
      view: map.view,
      element: element,
      wrap: wrap,
      layout: layout,
      scheduleLayout: scheduleLayout,
      setHighlight: setHighlight,
      highlightedCount: () => {
        const idx = sliceIndices(highlight);
        return idx ? idx.length : 0;
      },
      clientPosition: (i) => {
        const rect = canvas.getBoundingClientRect();
        return i >= 0 && i < n ? { x: rect.left + sx[i], y: rect.top + sy[i] } : null;
      },
      drawMs: () => lastDrawMs,
      redrawBase: () => {
        const t0 = performance.now();
        drawBase();
        draw();
        return performance.now() - t0;
      },
    };
  }

  /** "label → pred" of a drawn point, from optional per-point arrays or the example rows. */
  function pointLabelPred(map, i, ex) {
    const classes = model.result.task.classes || [];
    if (Array.isArray(map.label) && Array.isArray(map.pred)) {
      const name = (v) => (typeof v === 'number' && classes[v] !== undefined ? classes[v] : String(v));
      return name(map.label[i]) + ' → ' + name(map.pred[i]);
    }
    if (hasLabelPred(ex)) return ex.label + ' → ' + ex.pred;
    return null;
  }

  // ------------------------------------------------------------------ print

  function wirePrint() {
    let openedDetails = [];
    const before = () => {
      buildAllCards();
      // The run's details print open; the cards' optional tables stay as the reader left them.
      openedDetails = Array.from(document.querySelectorAll('details.run-details:not([open])'));
      for (const d of openedDetails) d.open = true;
    };
    const after = () => {
      for (const d of openedDetails) d.open = false;
      openedDetails = [];
    };
    window.addEventListener('beforeprint', before);
    window.addEventListener('afterprint', after);
    if (window.matchMedia) {
      const mq = window.matchMedia('print');
      const onChange = (ev) => (ev.matches ? before() : after());
      if (mq.addEventListener) mq.addEventListener('change', onChange);
    }
  }

  // ------------------------------------------------------------------ start

  /** The slice id in the address's #fragment, if it names one. */
  function sliceInHash() {
    let hash = '';
    try {
      hash = decodeURIComponent((location.hash || '').slice(1));
    } catch (e) {
      return null; // a malformed fragment names no slice
    }
    return model.byId.has(hash) ? hash : null;
  }

  function initialSelection() {
    const fromHash = sliceInHash();
    if (fromHash) return { id: fromHash, scroll: true };
    return model.byRank.length ? { id: model.byRank[0].id, scroll: false } : null;
  }

  function showLoadError() {
    const main = byId('layout');
    if (main) main.hidden = true;
    const box = el('p', { class: 'load-error', role: 'alert', text: 'This report carries no readable data. It is a template: slicescope scan --report fills it in.' });
    document.body.insertBefore(box, document.body.firstChild);
  }

  function exposeHook(readyMs) {
    const hook = {
      ready: true,
      readyMs: readyMs,
      get selected() { return state.selected; },
      get highlighted() { return highlightedId(); },
      get hovered() { return state.hovered; },
      highlightedPoints: (view) => {
        const mv = mapViews.find((v) => v.view === view);
        return mv ? mv.highlightedCount() : 0;
      },
      views: () => mapViews.map((v) => v.view),
      visibleSlices: () => visibleRows().map((tr) => tr.getAttribute('data-slice')),
      select: (id) => { select(id, { scrollCard: true }); return state.selected; },
      pointPosition: (view, i) => {
        const mv = mapViews.find((v) => v.view === view);
        return mv ? mv.clientPosition(i) : null;
      },
      drawMs: (view) => {
        const mv = mapViews.find((v) => v.view === view);
        return mv ? mv.redrawBase() : null;
      },
      buildAllCards: buildAllCards,
    };
    Object.defineProperty(window, 'slicescopeReport', { value: Object.freeze(hook), enumerable: true, configurable: false });
  }

  function start() {
    const data = readData();
    if (!data) {
      showLoadError();
      window.slicescopeReport = { ready: false, error: 'no report data' };
      return;
    }
    model = buildModel(data);
    renderHeader();
    renderTable();
    renderMaps();
    wirePrint();
    window.addEventListener('hashchange', () => {
      const id = sliceInHash();
      if (id && id !== state.selected) select(id, { scrollCard: true, scrollRow: true, updateHash: false });
    });
    const first = initialSelection();
    if (first) select(first.id, { scrollCard: first.scroll, updateHash: false });
    else byId('detail-empty').textContent = 'No slice to show.';
    exposeHook(performance.now());
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
