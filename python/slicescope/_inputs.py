"""Input coercion shared by ``scan`` and ``Slice.contains``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

#: What ``scan`` and ``Slice.contains`` accept as data: a path, a pandas or
#: polars DataFrame, a pyarrow Table or RecordBatchReader, any object with
#: ``__arrow_c_stream__``, or a dict of columns.
DataLike = Union[str, "os.PathLike[str]", Any]

#: A view: a column of the data, a ``.npy``/``.npz`` file, or a 2-D array.
ViewLike = Union[str, "os.PathLike[str]", "np.ndarray[Any, Any]", Any]


def coerce_data(data: DataLike) -> tuple[Any, str]:
    """``data`` as the core takes it (a path, or an Arrow stream) and its name.

    pandas goes through ``pyarrow.Table.from_pandas`` (without the index);
    polars, pyarrow and any object with ``__arrow_c_stream__`` cross by the
    Arrow C stream interface.
    """
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not isinstance(path, str):
            raise TypeError("a path to the data must be a str or os.PathLike[str]")
        return path, path
    module = type(data).__module__.split(".")[0]
    kind = type(data).__name__
    if module == "pandas" and kind == "DataFrame":
        return _from_pandas(data), "pandas DataFrame"
    if module == "polars":
        if kind == "LazyFrame":
            raise TypeError("data is a polars LazyFrame: collect() it first")
        if kind == "DataFrame" and not hasattr(data, "__arrow_c_stream__"):
            return data.to_arrow(), "polars DataFrame"
    if hasattr(data, "__arrow_c_stream__"):
        return data, f"{module} {kind}"
    if module == "pyarrow" and kind in ("RecordBatchReader", "Table", "RecordBatch"):
        # Older pyarrow without the PyCapsule protocol.
        reader = data if kind == "RecordBatchReader" else data.to_reader()
        return reader, f"pyarrow {kind}"
    if isinstance(data, Mapping):
        pa = _pyarrow("a dict of columns")
        return _converted(lambda: pa.table(dict(data)), pa, "dict of columns"), "dict of columns"
    raise TypeError(
        "data must be a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, "
        "an object with __arrow_c_stream__, a dict of columns, or a path to a Parquet, "
        f"Arrow or CSV file; got {type(data).__module__}.{kind}"
    )


def coerce_views(views: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """Arrays of ``views`` (for ``Slice.contains``) as (name, array) pairs."""
    if views is None:
        return []
    if not isinstance(views, Mapping):
        raise TypeError("views must be a dict of name -> array")
    return [(name, array_of(name, v)) for name, v in views.items()]


def _from_pandas(df: Any) -> Any:
    """A pandas DataFrame as a pyarrow Table, or an ``InvalidInputError``
    naming the column that cannot be converted."""
    from slicescope.errors import InvalidInputError

    pa = _pyarrow("a pandas DataFrame")
    names = [str(c) for c in df.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        listed = ", ".join(f"'{n}'" for n in twice)
        raise InvalidInputError(
            f"the pandas DataFrame has more than one column named {listed}; rename the "
            "duplicates so that each name means one column"
        )
    return _converted(
        lambda: pa.Table.from_pandas(df, preserve_index=False), pa, "pandas DataFrame"
    )


def _converted(convert: Any, pa: Any, what: str) -> Any:
    """``convert()``, with pyarrow's conversion errors as ``InvalidInputError``."""
    from slicescope.errors import InvalidInputError

    try:
        return convert()
    except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        # The three ways a conversion fails, each tested: a column mixing
        # types (ArrowTypeError), a value not of the column's inferred type
        # (ArrowInvalid), a dtype Arrow has no type for, such as complex
        # (ArrowNotImplementedError). pyarrow's message names the column;
        # this says what to do about it. Any other error propagates as is.
        raise InvalidInputError(
            f"the {what} cannot be converted to Arrow: {e}; give each column one type of "
            "numbers, strings or booleans (e.g. df[col].astype(str) for a column of mixed "
            "strings and numbers)"
        ) from e


def _pyarrow(what: str) -> Any:
    try:
        import pyarrow
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"reading {what} needs pyarrow: pip install 'slicescope[pandas]' or pip install pyarrow"
        ) from e
    return pyarrow


def array_of(name: str, value: Any) -> Any:
    """A view's values as a numpy array (no copy for a numpy array)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(
        f"view '{name}' must be a column name, a .npy/.npz path or a 2-D array, "
        f"got {type(value).__module__}.{type(value).__name__}"
    )


