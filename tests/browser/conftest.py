"""Fixtures for the end-to-end tests of the HTML report in a real browser.

The reports to check come from SLICESCOPE_REPORTS (HTML paths separated by os.pathsep); the browser
is the system Chromium (SLICESCOPE_CHROMIUM, default /usr/bin/chromium), driven by Playwright.
Playwright is imported only when there is a report to check, so the static tests of the template
run without it.
"""

from contextlib import contextmanager
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPORTS_ENV = 'SLICESCOPE_REPORTS'
CHROMIUM = os.environ.get('SLICESCOPE_CHROMIUM', '/usr/bin/chromium')
VIEWPORT = {'width': 1366, 'height': 900}
READY_TIMEOUT_MS = 15_000
SKIP_REASON = (f'{REPORTS_ENV} is not set: it lists the HTML reports to check (paths separated by '
               f'{os.pathsep!r}), e.g. made with `slicescope scan ... --report OUT.html`')


def report_paths():
    raw = os.environ.get(REPORTS_ENV, '')
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


COMPARE_ENV = 'SLICESCOPE_COMPARE_REPORTS'
COMPARE_SKIP_REASON = (f'{COMPARE_ENV} is not set: it lists the comparison reports to check (paths separated by '
                       f'{os.pathsep!r}), e.g. made with `slicescope compare ... --report OUT.html`')


def compare_paths():
    raw = os.environ.get(COMPARE_ENV, '')
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def pytest_generate_tests(metafunc):
    if 'compare_path' in metafunc.fixturenames:
        paths = compare_paths()
        if not paths:
            metafunc.parametrize('compare_path', [pytest.param(None, marks=pytest.mark.skip(reason=COMPARE_SKIP_REASON))],
                                 ids=['no-compare-reports'])
        else:
            metafunc.parametrize('compare_path', paths, ids=[p.name for p in paths])
    if 'report_path' not in metafunc.fixturenames:
        return
    paths = report_paths()
    if not paths:
        metafunc.parametrize('report_path', [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))],
                             ids=['no-reports'])
        return
    metafunc.parametrize('report_path', paths, ids=[p.name for p in paths])


@pytest.fixture(scope='session')
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


def embedded_data(path):
    """The report data as the page sees it: the JSON inside #slicescope-data."""
    html = Path(path).read_text(encoding='utf-8')
    m = re.search(r'<script id="slicescope-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, f'{path}: no <script id="slicescope-data" type="application/json"> element'
    return json.loads(m.group(1))


def wait_until(page, expression, arg=None, timeout_ms=5_000, interval_s=0.01):
    """Poll a JavaScript expression (or function of arg) until it is truthy.

    Playwright's wait_for_function evaluates its predicate with eval inside the page, which the
    report's Content-Security-Policy (no 'unsafe-eval') forbids; page.evaluate goes through the
    DevTools protocol and is not subject to it.
    """
    deadline = time.perf_counter() + timeout_ms / 1000
    while True:
        try:
            value = page.evaluate(expression, arg)
        except Exception as e:  # the page may still be navigating
            if 'navigat' not in str(e) and 'context was destroyed' not in str(e):
                raise
            value = None
        if value:
            return value
        if time.perf_counter() > deadline:
            raise TimeoutError(f'waited {timeout_ms} ms for: {expression}')
        time.sleep(interval_s)


@dataclass
class LoadedReport:
    path: Path
    url: str
    page: object
    data: dict
    ready_wall_seconds: float
    console: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def hook(self, expr):
        return self.page.evaluate(f'window.slicescopeReport.{expr}')

    @property
    def slices(self):
        return self.data['result']['slices']

    @property
    def maps(self):
        return self.data.get('maps') or []


@contextmanager
def loaded_page(browser, report_path):
    """A fresh page with the report at `report_path` loaded and ready, with console, errors and
    requests recorded."""
    path = Path(report_path).resolve()
    assert path.is_file(), f'{path} does not exist'
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    loaded = LoadedReport(path=path, url=path.as_uri(), page=page, data=embedded_data(path),
                          ready_wall_seconds=float('nan'))
    page.on('console', lambda m: loaded.console.append((m.type, m.text)))
    page.on('pageerror', lambda e: loaded.page_errors.append(str(e)))
    page.on('request', lambda r: loaded.requests.append(r.url))
    t0 = time.perf_counter()
    page.goto(loaded.url, wait_until='commit')
    wait_until(page, '!!(window.slicescopeReport && window.slicescopeReport.ready === true)',
               timeout_ms=READY_TIMEOUT_MS)
    loaded.ready_wall_seconds = time.perf_counter() - t0
    try:
        yield loaded
    finally:
        context.close()


@pytest.fixture
def report(browser, report_path):
    """A scan report, loaded and ready (see loaded_page)."""
    with loaded_page(browser, report_path) as loaded:
        yield loaded


@pytest.fixture
def compare_report(browser, compare_path):
    """A comparison report, loaded and ready (see loaded_page)."""
    with loaded_page(browser, compare_path) as loaded:
        yield loaded
