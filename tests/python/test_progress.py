"""Progress of a scan on stderr: shown with progress=True, never with
progress=False, and by default only on a terminal or in a Jupyter kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import to_arrow

import slicescope
from slicescope import _scan


def run(table: dict[str, Any], progress: bool | None) -> slicescope.ScanResult:
    return slicescope.scan(
        to_arrow(table), label="label", pred="pred",
        attributes=["device", "region", "age"], progress=progress,
    )


def test_progress_true_writes_a_line_to_stderr(
    table: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    result = run(table, True)
    out, err = capfd.readouterr()
    assert out == ""
    assert "slicescope: " in err and "\r" in err
    # The line is cleared at the end: nothing is left on it.
    assert err.endswith("\r") and err.rsplit("\r", 2)[-2].strip() == ""
    assert len(result) > 0


def test_progress_shows_the_lattice_levels(capfd: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    n = 20_000
    cols: dict[str, Any] = {f"a{i}": rng.integers(0, 8, size=n) for i in range(6)}
    cols["y"] = rng.integers(0, 2, size=n)
    cols["p"] = np.where(rng.random(n) < 0.2, 1 - cols["y"], cols["y"])
    slicescope.scan(cols, label="y", pred="p", attributes="all", progress=True,
                    config={"lattice": {"max_level": 2}})
    err = capfd.readouterr().err
    assert "slicescope: reading and preparing" in err
    assert "lattice level" in err, err[-500:]


def test_progress_shows_the_bootstrap_resamples(capfd: pytest.CaptureFixture[str]) -> None:
    # A planted failure in an 8-d view: it is listed, so its stability is
    # measured over the resamples.
    rng = np.random.default_rng(3)
    n = 4_000
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    hot = np.arange(n) % 10 == 0
    emb[hot] += 4.0
    y = rng.integers(0, 2, size=n)
    wrong = rng.random(n) < np.where(hot, 0.6, 0.1)
    cols: dict[str, Any] = {"y": y, "p": np.where(wrong, 1 - y, y)}
    result = slicescope.scan(cols, label="y", pred="p", views={"emb": emb},
                             slicers=["spotlight"], resamples=20, progress=True)
    err = capfd.readouterr().err
    assert len(result) > 0 and result[0].stability is not None
    assert "bootstrap stability: " in err, err[-500:]
    assert "/20 resamples" in err


def test_progress_false_writes_nothing(
    table: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    run(table, False)
    assert capfd.readouterr() == ("", "")


def test_progress_by_default_only_on_a_terminal(
    table: dict[str, Any], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(table, None)  # pytest's captured stderr is not a terminal
    assert capfd.readouterr() == ("", "")
    assert _scan._show_progress() is False

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert _scan._show_progress() is True
