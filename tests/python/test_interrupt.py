"""Ctrl-C stops a long scan: the GIL is released while it runs, and
KeyboardInterrupt is raised soon after the signal."""

from __future__ import annotations

import _thread
import signal
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

import slicescope


@pytest.fixture(autouse=True)
def sigint_raises_keyboard_interrupt():
    """Python turns SIGINT into KeyboardInterrupt only when SIGINT was not
    ignored when it started, and a background job of a non-interactive
    shell (`cmd &` in a script) starts with SIGINT ignored. Install the
    handler an interactive session has, so that these tests measure the
    scan, not how the test run was started."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def long_scan_table(n: int = 60_000, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {f"a{i}": rng.integers(0, 8, size=n) for i in range(8)}
    label = rng.integers(0, 2, size=n)
    wrong = rng.random(n) < np.where(cols["a0"] == 3, 0.4, 0.1)
    cols["y"] = label
    cols["p"] = np.where(wrong, 1 - label, label)
    return pa.table(cols)


def long_scan(t: pa.Table) -> slicescope.ScanResult:
    # Every bootstrap resample reruns the whole discovery: minutes in all.
    return slicescope.scan(
        t,
        label="y",
        pred="p",
        attributes=[f"a{i}" for i in range(8)],
        config={"testing": {"resamples": 2000, "resample_rows": 0}, "lattice": {"max_level": 0}},
    )


@pytest.mark.slow
def test_ctrl_c_interrupts_a_long_scan() -> None:
    t = long_scan_table()
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        long_scan(t)
    elapsed = time.perf_counter() - t0
    timer.cancel()
    assert elapsed < 10.0, f"the scan stopped {elapsed - 1:.1f} s after Ctrl-C"


@pytest.mark.slow
def test_the_gil_is_released_during_a_scan() -> None:
    t = long_scan_table(n=20_000)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            long_scan(t)
    finally:
        stop.set()
        counter.join()
        timer.cancel()
    # A thread holding the GIL for 1.5 s would leave the counter at ~0.
    assert ticks > 200


@pytest.mark.slow
def test_sigint_to_a_process_stops_its_scan() -> None:
    """What a terminal's Ctrl-C does: SIGINT to a process in a long scan."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import signal
        import sys
        # As in an interactive session, whatever SIGINT was at start.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {here!r})
        from test_interrupt import long_scan, long_scan_table
        t = long_scan_table()
        print("scanning", flush=True)
        long_scan(t)
        """
    ).format(here=str(__import__("pathlib").Path(__file__).parent))
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "scanning"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    t0 = time.perf_counter()
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.perf_counter() - t0 < 10
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
