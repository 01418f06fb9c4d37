"""End-to-end tests of the self-contained HTML report (docs/report.md) in headless Chromium.

Run: SLICESCOPE_REPORTS=a.html:b.html python -m pytest tests/browser
(pip install -r scripts/requirements-test.txt; the browser is the system Chromium, never
downloaded). Without SLICESCOPE_REPORTS the browser tests skip and only the static checks of the
template run.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import wait_until

ASSETS = Path(__file__).resolve().parents[2] / 'crates' / 'slicescope-report' / 'assets'
READY_BUDGET_SECONDS = 2.0
FLAG_KEYS = ('label_noise', 'shortcut', 'under_covered')
ROWS = '#slice-table tbody tr[data-slice]'
VISIBLE_ROWS = ROWS + ':not([hidden])'


# ---------------------------------------------------------------- helpers

def slice_flags(s):
    f = s['flags']
    return {
        'label_noise': bool(f.get('label_noise') and f['label_noise'].get('flagged')),
        'shortcut': bool(f.get('shortcuts')),
        'under_covered': bool(f.get('under_covered') and f['under_covered'].get('flagged')),
    }


def visible_ids(page):
    return page.eval_on_selector_all(VISIBLE_ROWS, 'rows => rows.map(r => r.dataset.slice)')


def column_values(page, key):
    """The data-value of the column sorted by `key`, top to bottom (None where missing)."""
    index = page.eval_on_selector(
        f'#slice-table th[data-sort="{key}"]', 'th => Array.from(th.parentNode.children).indexOf(th)')
    raw = page.eval_on_selector_all(
        VISIBLE_ROWS, '(rows, k) => rows.map(r => r.children[k].getAttribute("data-value"))', index)
    return [float(v) if v not in (None, '') else None for v in raw]


def assert_ordered(values, direction, key):
    present = [v for v in values if v is not None]
    missing_at = [i for i, v in enumerate(values) if v is None]
    assert missing_at == list(range(len(present), len(values))), f'{key}: missing values not last: {values}'
    expected = sorted(present, reverse=(direction == 'descending'))
    assert present == expected, f'{key} not {direction}: {values}'


def image_rows(report):
    ex = report.data.get('examples') or {}
    return {int(r) for r, e in ex.items() if isinstance(e.get('image'), str) and e['image'].startswith('data:image/')}


def same_file(url_a, url_b):
    a, b = urlsplit(url_a), urlsplit(url_b)
    return a.scheme == b.scheme == 'file' and unquote(a.path) == unquote(b.path)


def select_row(page, slice_id):
    page.click(f'{ROWS}[data-slice="{slice_id}"] td.summary')


def card_visible(page, slice_id):
    return page.is_visible(f'[data-card="{slice_id}"]')


# ---------------------------------------------------------------- loading, offline, budget

def test_loads_without_console_errors(report):
    errors = [text for kind, text in report.console if kind == 'error']
    assert not errors, f'console errors: {errors}'
    assert not report.page_errors, f'uncaught page errors: {report.page_errors}'


def test_makes_no_network_request(report):
    report.page.wait_for_timeout(300)  # let late image decodes or timers fire
    foreign = [u for u in report.requests if not (u.startswith('data:') or u.startswith('file:'))]
    assert not foreign, f'requests leaving the file: {foreign}'
    other_files = [u for u in report.requests if u.startswith('file:') and not same_file(u, report.url)]
    assert not other_files, f'file: requests other than the report: {other_files}'


def test_ready_within_budget(report):
    ready_ms = report.hook('readyMs')
    assert isinstance(ready_ms, (int, float)) and ready_ms > 0
    seconds = ready_ms / 1000
    assert seconds < READY_BUDGET_SECONDS, (
        f'ready {seconds:.2f} s after navigation (wall {report.ready_wall_seconds:.2f} s), budget {READY_BUDGET_SECONDS} s')


def test_no_global_leaks(report, browser, tmp_path):
    # The baseline is an empty page of the same kind (file:), which exposes the same browser APIs.
    empty = tmp_path / 'empty.html'
    empty.write_text('<!DOCTYPE html><title>empty</title>', encoding='utf-8')
    blank = browser.new_page()
    try:
        blank.goto(empty.as_uri())
        baseline = set(blank.evaluate('Object.getOwnPropertyNames(window)'))
    finally:
        blank.close()
    names = set(report.page.evaluate('Object.getOwnPropertyNames(window)'))
    assert names - baseline == {'slicescopeReport'}


def test_structure_matches_data(report):
    page = report.page
    slices = report.slices
    assert page.locator(ROWS).count() == len(slices)
    assert set(page.eval_on_selector_all(ROWS, 'rows => rows.map(r => r.dataset.slice)')) == {s['id'] for s in slices}
    for key in ('rank', 'size', 'error_rate', 'lift', 'excess_errors', 'q_value', 'stability'):
        assert page.locator(f'#slice-table th[data-sort="{key}"]').count() == 1, key
    canvases = page.eval_on_selector_all('canvas[data-view]', 'cs => cs.map(c => c.dataset.view)')
    assert canvases == [m['view'] for m in report.maps]
    if not report.maps:
        assert page.is_hidden('#maps')
    assert sorted(report.hook('views()')) == sorted(m['view'] for m in report.maps)


def test_data_text_is_not_parsed_as_html(report):
    """Titles, notes and summaries are text: a '<b>' in the data shows as '<b>', creates no element."""
    page = report.page
    meta = report.data.get('meta') or {}
    title = page.eval_on_selector('#report-title', 'h => ({text: h.textContent, kids: h.children.length})')
    assert title['kids'] == 0
    if meta.get('title'):
        assert title['text'] == meta['title']
    notes = report.data['result'].get('notes') or []
    shown = page.eval_on_selector_all('#report-notes li', 'ls => ls.map(l => [l.textContent, l.children.length])')
    assert shown == [[n, 0] for n in notes]
    assert page.locator('body script:not([id="slicescope-data"])').count() == 1


# ---------------------------------------------------------------- table: sort and filter

@pytest.mark.parametrize('key', ['excess_errors', 'size', 'q_value'])
def test_sorting_by_numeric_header(report, key):
    if len(report.slices) < 2:
        pytest.skip('fewer than two slices: nothing to sort')
    page = report.page
    header = f'#slice-table th[data-sort="{key}"]'
    seen = []
    for _ in range(2):
        page.click(f'{header} button')
        direction = page.get_attribute(header, 'aria-sort')
        assert direction in ('ascending', 'descending')
        assert_ordered(column_values(page, key), direction, key)
        assert page.locator('#slice-table th[aria-sort]').count() == 1
        seen.append(direction)
    assert seen[0] != seen[1], 'a second click must reverse the order'


def test_sorting_by_rank_restores_order(report):
    if len(report.slices) < 2:
        pytest.skip('fewer than two slices: nothing to sort')
    page = report.page
    page.click('#slice-table th[data-sort="lift"] button')
    page.click('#slice-table th[data-sort="rank"] button')
    if page.get_attribute('#slice-table th[data-sort="rank"]', 'aria-sort') != 'ascending':
        page.click('#slice-table th[data-sort="rank"] button')
    by_rank = [s['id'] for s in sorted(report.slices, key=lambda s: s['rank'])]
    assert visible_ids(page) == by_rank


def test_text_filter(report):
    if not report.slices:
        pytest.skip('no slice listed')
    page = report.page
    target = report.slices[-1]
    page.fill('#filter-text', target['summary'])
    shown = visible_ids(page)
    assert target['id'] in shown and len(shown) <= len(report.slices)
    page.fill('#filter-text', 'zq-no-slice-has-this-qz')
    assert visible_ids(page) == []
    assert page.is_visible('#table-empty')
    assert re.search(r'\b0 of', page.text_content('#filter-count'))
    page.fill('#filter-text', '')
    assert len(visible_ids(page)) == len(report.slices)
    assert page.is_hidden('#table-empty')


@pytest.mark.parametrize('flag', FLAG_KEYS)
def test_flag_filter(report, flag):
    if not report.slices:
        assert report.page.is_hidden('#slices .toolbar')
        pytest.skip('no slice listed: the filters are hidden')
    page = report.page
    expected = {s['id'] for s in report.slices if slice_flags(s)[flag]}
    box = f'#flag-filter input[value="{flag}"]'
    page.check(box)
    assert set(visible_ids(page)) == expected
    for sid in expected:
        assert page.locator(f'{ROWS}[data-slice="{sid}"] .badge.flag-{flag}').count() == 1
    page.uncheck(box)
    assert len(visible_ids(page)) == len(report.slices)


# ---------------------------------------------------------------- selection, cards, maps

def pick_slice(report):
    """A slice other than the initially selected one, with map points when there are maps."""
    initial = report.hook('selected')
    candidates = [s for s in report.slices if s['id'] != initial] or list(report.slices)
    for s in reversed(candidates):
        if all(m['slices'].get(s['id']) for m in report.maps):
            return s
    return candidates[-1]


def test_selecting_a_slice_opens_its_card(report):
    if not report.slices:
        assert report.hook('selected') is None
        pytest.skip('no slice listed')
    page = report.page
    s = pick_slice(report)
    select_row(page, s['id'])
    assert report.hook('selected') == s['id']
    assert page.get_attribute(f'{ROWS}[data-slice="{s["id"]}"]', 'aria-current') == 'true'
    assert card_visible(page, s['id'])
    assert page.locator('[data-card]:visible').count() == 1
    assert s['summary'] in page.text_content(f'[data-card="{s["id"]}"]')
    for m in report.maps:
        expected = len(m['slices'].get(s['id']) or [])
        count = report.hook(f'highlightedPoints({m["view"]!r})')
        assert count == expected
        if expected:
            assert count > 0


def test_keyboard_selects_a_row(report):
    if len(report.slices) < 2:
        pytest.skip('fewer than two slices')
    page = report.page
    rows = visible_ids(page)
    page.focus(f'{ROWS}[data-slice="{rows[0]}"]')
    page.keyboard.press('ArrowDown')
    focused = page.evaluate('document.activeElement.dataset.slice')
    assert focused == rows[1]
    page.keyboard.press('Enter')
    assert report.hook('selected') == rows[1]
    assert card_visible(page, rows[1])


def test_card_images_decode(report):
    images = image_rows(report)
    with_images = [s for s in report.slices if any(e['row'] in images for e in s['examples'])]
    if not with_images:
        pytest.skip('the report carries no image examples')
    page = report.page
    s = with_images[-1]
    select_row(page, s['id'])
    card = f'[data-card="{s["id"]}"]'
    wait_until(page, 'sel => Array.from(document.querySelectorAll(sel + " img.thumb")).every(i => i.complete)', card)
    widths = page.eval_on_selector_all(f'{card} img.thumb', 'imgs => imgs.map(i => i.naturalWidth)')
    expected = sum(1 for e in s['examples'] if e['row'] in images)
    assert len(widths) >= expected > 0
    assert all(w > 0 for w in widths), widths


def test_hovering_a_row_highlights_its_points(report):
    if not report.maps:
        pytest.skip('the report has no maps')
    page = report.page
    s = pick_slice(report)
    page.hover(f'{ROWS}[data-slice="{s["id"]}"] td.summary')
    assert report.hook('highlighted') == s['id']
    for m in report.maps:
        assert report.hook(f'highlightedPoints({m["view"]!r})') == len(m['slices'].get(s['id']) or [])


def test_clicking_a_point_selects_a_slice_containing_it(report):
    if not report.maps:
        pytest.skip('the report has no maps')
    page = report.page
    m = report.maps[0]
    # The worst-ranked slice with drawn points: clicking one of them must select a slice that
    # contains the point under the cursor (the best-ranked one).
    ranked = sorted(report.slices, key=lambda s: s['rank'])
    target = next((s for s in reversed(ranked) if m['slices'].get(s['id'])), None)
    if target is None:
        pytest.skip('no slice has drawn points')
    canvas = f'canvas[data-view="{m["view"]}"]'
    page.locator(canvas).scroll_into_view_if_needed()
    pos = report.hook(f'pointPosition({m["view"]!r}, {m["slices"][target["id"]][0]})')
    page.mouse.move(pos['x'], pos['y'])
    assert page.is_visible('.map-tip')
    assert 'Row' in page.text_content('.map-tip:not([hidden])')
    page.mouse.click(pos['x'], pos['y'])
    selected = report.hook('selected')
    assert selected is not None
    assert card_visible(page, selected)
    assert report.hook(f'highlightedPoints({m["view"]!r})') == len(m['slices'].get(selected) or [])


def test_map_draws_fast(report):
    if not report.maps:
        pytest.skip('the report has no maps')
    for m in report.maps:
        ms = report.hook(f'drawMs({m["view"]!r})')
        assert ms is not None and ms < 100, f'{m["view"]}: {len(m["x"])} points drawn in {ms:.0f} ms'


def test_canvas_uses_device_pixels(report, browser):
    """On a 2× screen the canvases carry twice as many pixels as CSS pixels (crisp points)."""
    if not report.maps:
        pytest.skip('the report has no maps')
    context = browser.new_context(viewport={'width': 1366, 'height': 900}, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(report.url)
        wait_until(page, '!!(window.slicescopeReport && window.slicescopeReport.ready)')
        sizes = page.eval_on_selector_all(
            'canvas[data-view]', 'cs => cs.map(c => [c.width, c.clientWidth, c.height, c.clientHeight])')
        for w, cw, h, ch in sizes:
            assert cw > 0 and ch > 0
            assert abs(w - 2 * cw) <= 2 and abs(h - 2 * ch) <= 2, sizes
    finally:
        context.close()


def test_print_shows_every_card_without_chrome(report):
    page = report.page
    page.emulate_media(media='print')
    wait_until(page, 'n => document.querySelectorAll("[data-card]").length === n', len(report.slices))
    assert page.locator('[data-card]:visible').count() == len(report.slices)
    assert page.is_hidden('.toolbar')
    assert page.is_hidden('#maps')


# ---------------------------------------------------------------- the template itself (no browser)

def read_asset(name):
    return (ASSETS / name).read_text(encoding='utf-8')


def test_template_placeholders():
    html = read_asset('report.html')
    for ph in ('/*@CSS@*/', '/*@JS@*/', '@DATA@'):
        assert html.count(ph) == 1, ph
    assert re.search(r'<style>\s*/\*@CSS@\*/\s*</style>', html)
    assert re.search(r'<script>\s*/\*@JS@\*/\s*</script>', html)
    assert '<script id="slicescope-data" type="application/json">@DATA@</script>' in html
    for name in ('report.css', 'report.js'):
        text = read_asset(name)
        for ph in ('@CSS@', '@JS@', '@DATA@'):
            assert ph not in text, f'{name} contains the placeholder {ph}'


def test_assets_reference_nothing_outside():
    svg_ns = 'http://www.w3.org/2000/svg'
    for name in ('report.html', 'report.css', 'report.js'):
        text = read_asset(name).replace(svg_ns, '')
        assert not re.search(r'https?://|//[a-z0-9.-]+\.[a-z]{2,}/', text, re.I), f'{name}: a URL'
        assert not re.search(r'@import|<link\b|<iframe\b|<object\b|<embed\b', text, re.I), name
        assert not re.search(r'url\(\s*(?![\'"]?data:)', text, re.I), f'{name}: url() that is not data:'
        assert not re.search(r'\b(fetch|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts)\b', text), name


def test_script_and_style_are_safe_inline():
    js = read_asset('report.js')
    css = read_asset('report.css')
    assert "'use strict'" in js
    assert not re.search(r'</script|<script|<!--', js, re.I)
    assert not re.search(r'</style', css, re.I)
    for sink in ('innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function'):
        assert sink not in js, f'report.js uses {sink}'


def test_the_reports_together_exercise_every_conditional_check():
    """The per-report checks skip what a report lacks (maps, image examples, a second slice); with
    SLICESCOPE_REPORTS set, at least one of the reports must have each, so that no check is
    skipped for all of them."""
    from conftest import embedded_data, report_paths

    paths = report_paths()
    if not paths:
        pytest.skip('SLICESCOPE_REPORTS is not set')
    data = [embedded_data(p) for p in paths]
    names = [p.name for p in paths]
    assert any(len(d['result']['slices']) >= 2 for d in data), f'no report lists two slices: {names}'
    assert any(d.get('maps') for d in data), f'no report has a map: {names}'
    assert any(any(m['slices'].get(s['id']) for m in d.get('maps') or [] for s in d['result']['slices'])
               for d in data), f'no report draws a slice member: {names}'
    assert any(any(isinstance(e.get('image'), str) and e['image'].startswith('data:image/')
                   for e in (d.get('examples') or {}).values()) for d in data), \
        f'no report carries an image example: {names}'
