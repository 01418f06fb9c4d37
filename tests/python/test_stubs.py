"""The type stubs match the extension module, the package type-checks
strictly, and the docstrings' examples run."""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys
import tempfile

import pytest
import slicescope
from slicescope import _inputs, _result, _scan, errors


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """Run mypy (or stubtest) on the installed package, from a temporary
    folder (its cache stays out of the work tree)."""
    pytest.importorskip("mypy")
    with tempfile.TemporaryDirectory() as tmp:
        return subprocess.run(
            [sys.executable, "-m", *args], cwd=tmp, capture_output=True, text=True
        )


def test_stubs_match_the_extension_module() -> None:
    proc = mypy("mypy.stubtest", "slicescope._core")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_type_checks_strictly() -> None:
    # pandas and pyarrow ship no type information (pandas-stubs would
    # be one more dependency): their imports are not checked.
    proc = mypy(
        "mypy", "--strict", "--no-incremental", "--disable-error-code", "import-untyped",
        "-p", "slicescope",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_public_api_is_documented() -> None:
    for name in slicescope.__all__:
        obj = getattr(slicescope, name)
        if name == "__version__":
            assert isinstance(obj, str)
            continue
        assert inspect.getdoc(obj), name
    for cls in (slicescope.ScanResult, slicescope.Slice):
        for attr, value in vars(cls).items():
            if not attr.startswith("_"):
                assert inspect.getdoc(value), f"{cls.__name__}.{attr}"


@pytest.mark.parametrize("module", [slicescope, errors, _scan, _result, _inputs])
def test_doctests(module: object) -> None:
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert failures == 0
