"""slicescope: find where a machine-learning model fails systematically.

Scan an evaluation table (labels, predictions or losses, metadata columns,
embeddings) for the *error slices*: groups of samples where the model errs
far more than overall, ranked by what fixing them is worth, with honest
statistics. The work is done by slicescope's Rust core; this package is a
thin layer over it.

>>> import slicescope
>>> result = slicescope.scan("examples/adult/adult_test.parquet",
...                          config="examples/adult/slicescope.toml")  # doctest: +SKIP
>>> result.slices[0].rule  # doctest: +SKIP
'marital_status = Married-civ-spouse ∧ capital_gain < 114 ∧ capital_loss < 213'

See :func:`scan`, :class:`ScanResult`, :class:`Slice` and ``docs/python.md``.
"""

from slicescope._core import __version__
from slicescope._result import ScanResult, Slice
from slicescope._scan import default_config, scan
from slicescope.errors import (
    ColumnNotFoundError,
    FileError,
    FormatError,
    InvalidInputError,
    InvalidParameterError,
    NoDataError,
    ShapeError,
    SlicescopeError,
)

__all__ = [
    "__version__",
    "scan",
    "default_config",
    "ScanResult",
    "Slice",
    "SlicescopeError",
    "ColumnNotFoundError",
    "ShapeError",
    "InvalidInputError",
    "InvalidParameterError",
    "NoDataError",
    "FileError",
    "FormatError",
]
