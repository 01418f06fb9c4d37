"""End-to-end tests of the comparison report (`slicescope compare ... --report OUT.html`) in headless
Chromium.

Run: SLICESCOPE_COMPARE_REPORTS=compare.html python -m pytest tests/browser (scripts/test.sh makes one
from examples/adult/adult_versions.parquet: v1 against v2, which regresses on v1's slices, with a
failing gate). Without SLICESCOPE_COMPARE_REPORTS these tests skip and only the static checks run.
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

ASSETS = Path(__file__).resolve().parents[2] / 'crates' / 'slicescope-report' / 'assets'


def doc(report):
    return report.data['compare']


def row_ids(page, table):
    return page.eval_on_selector_all(f'#{table} tbody tr', 'rows => rows.map(r => r.dataset.slice)')


def column_values(page, table, key):
    index = page.eval_on_selector(
        f'#{table} th[data-sort="{key}"]', 'th => Array.from(th.parentNode.children).indexOf(th)')
    raw = page.eval_on_selector_all(
        f'#{table} tbody tr', '(rows, k) => rows.map(r => r.children[k].getAttribute("data-value"))', index)
    return [float(v) if v not in (None, '') else None for v in raw]


def assert_ordered(values, descending, what):
    present = [v for v in values if v is not None]
    missing_at = [i for i, v in enumerate(values) if v is None]
    assert missing_at == list(range(len(present), len(values))), f'{what}: missing values not last: {values}'
    assert present == sorted(present, reverse=descending), f'{what} not sorted: {values}'


# ---------------------------------------------------------------- static checks (no browser)

def test_template_is_self_contained():
    html = (ASSETS / 'compare.html').read_text(encoding='utf-8')
    js = (ASSETS / 'compare.js').read_text(encoding='utf-8')
    assert "default-src 'none'" in html
    for mark in ('/*@CSS@*/', '/*@JS@*/', '@DATA@'):
        assert html.count(mark) == 1, mark
    for bad in ('http://', 'https://', 'fetch(', 'XMLHttpRequest', 'innerHTML', 'eval('):
        assert bad not in js, bad
    assert '</script' not in js


# ---------------------------------------------------------------- in the browser

def test_loads_without_errors_or_requests(compare_report):
    errors = [text for kind, text in compare_report.console if kind == 'error']
    assert not errors, f'console errors: {errors}'
    assert not compare_report.page_errors, f'uncaught page errors: {compare_report.page_errors}'
    assert compare_report.hook('kind') == 'compare'
    assert compare_report.hook('error') is None
    page_path = unquote(urlsplit(compare_report.url).path)
    others = [u for u in compare_report.requests if unquote(urlsplit(u).path) != page_path]
    assert not others, f'the report fetched {others}'


def test_header_names_models_rates_and_gates(compare_report):
    page, d = compare_report.page, doc(compare_report)
    title = page.text_content('#report-title')
    assert d['a']['name'] in title and d['b']['name'] in title
    figures = page.text_content('#key-figures')
    assert 'Net change in excess errors' in figures
    assert 'Difference B − A' in figures
    assert d['overall']['test'] in figures
    gates = page.eval_on_selector_all('#gate-list > li', 'lis => lis.map(l => [l.dataset.gate, l.dataset.passed])')
    assert gates == [[g['gate'], 'true' if g['passed'] else 'false'] for g in d['gates']]
    for g in d['gates']:
        shown = page.eval_on_selector_all(
            f'#gate-list > li[data-gate="{g["gate"]}"] li', 'lis => lis.map(l => l.textContent)')
        assert shown == g['reasons']


def test_tables_hold_the_known_new_and_vanished_slices(compare_report):
    page, d = compare_report.page, doc(compare_report)
    assert d['known'], 'the example comparison should have known slices'
    assert row_ids(page, 'known-table') == [c['id'] for c in d['known']]
    assert row_ids(page, 'new-table') == [c['id'] for c in d['new_in_b']]
    vanished = page.eval_on_selector_all('#vanished-list li', 'lis => lis.map(l => l.dataset.slice)')
    assert vanished == d['vanished']
    # Each known row shows its status and B's rate.
    statuses = page.eval_on_selector_all('#known-table tbody tr .status', 'els => els.map(e => e.textContent)')
    assert statuses == [c['status'] for c in d['known']]
    worse = [c for c in d['known'] if c['status'] == 'worse']
    assert worse, 'v2 regresses on v1\'s slices: some known slice should be worse'


def test_sorting_by_each_numeric_column(compare_report):
    page = compare_report.page
    for key, first_desc in (('size', True), ('diff', True), ('q', False), ('rate_b', True)):
        page.click(f'#known-table th[data-sort="{key}"] button')
        assert_ordered(column_values(page, 'known-table', key), first_desc, key)
        assert page.get_attribute(f'#known-table th[data-sort="{key}"]', 'aria-sort') == (
            'descending' if first_desc else 'ascending')
        page.click(f'#known-table th[data-sort="{key}"] button')
        assert_ordered(column_values(page, 'known-table', key), not first_desc, key)
    # Sorting reorders rows, never drops them.
    assert sorted(row_ids(page, 'known-table')) == sorted(c['id'] for c in doc(compare_report)['known'])
