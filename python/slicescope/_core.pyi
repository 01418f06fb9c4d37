# Stubs of the extension module slicescope._core (crates/slicescope-py).
# Checked against the module by tests/python/test_stubs.py (mypy.stubtest).
import os
from collections.abc import Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "__version__",
    "ColumnNotFoundError",
    "FileError",
    "FormatError",
    "InvalidInputError",
    "InvalidParameterError",
    "NoDataError",
    "ScanResult",
    "ShapeError",
    "SlicescopeError",
    "config_from_toml",
    "default_config",
    "scan",
]

class SlicescopeError(Exception): ...
class ColumnNotFoundError(SlicescopeError): ...
class ShapeError(SlicescopeError): ...
class InvalidInputError(SlicescopeError): ...
class InvalidParameterError(SlicescopeError): ...
class NoDataError(SlicescopeError): ...
class FileError(SlicescopeError): ...
class FormatError(SlicescopeError): ...

def scan(
    data: Any,
    config_json: str,
    views: Sequence[tuple[str, Any]],
    *,
    name: str,
    command: str,
    progress: bool = False,
) -> ScanResult: ...
def config_from_toml(path: str) -> str: ...
def default_config() -> str: ...
@final
class ScanResult:
    def to_json(self, members: bool | None = None, indent: bool = True) -> str: ...
    def summary(self, top: int | None = None) -> str: ...
    def markdown(
        self, top: int | None = None, title: str | None = None, run_name: str | None = None
    ) -> str: ...
    def raised_flags(self) -> list[list[str]]: ...
    def members(self, index: int) -> npt.NDArray[np.uint32]: ...
    def membership(self) -> npt.NDArray[np.float32]: ...
    def row_errors(self) -> npt.NDArray[np.float32]: ...
    def contains(
        self,
        index: int,
        data: Any | None,
        name: str,
        views: Sequence[tuple[str, Any]],
    ) -> npt.NDArray[np.bool_]: ...
    def report(
        self,
        path: str | os.PathLike[str] | None = None,
        title: str | None = None,
        run_name: str | None = None,
    ) -> str | None: ...
