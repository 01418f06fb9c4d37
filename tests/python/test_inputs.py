"""Every kind of input gives the same result: pandas, polars, pyarrow (table,
record batch reader, C stream), dicts, files, and views as list columns,
.npy files or numpy arrays in every layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import comparable, have, to_arrow

import slicescope

ATTRS = ["device", "region", "age"]


def scan_attrs(data: Any, **kw: Any) -> slicescope.ScanResult:
    return slicescope.scan(data, label="label", pred="pred", attributes=ATTRS, **kw)


@pytest.fixture(scope="module")
def reference(table: dict[str, Any]) -> dict[str, Any]:
    return comparable(scan_attrs(to_arrow(table)).to_dict())


def test_pyarrow_table(table: dict[str, Any], reference: dict[str, Any]) -> None:
    result = scan_attrs(to_arrow(table))
    assert len(result) > 0
    assert result.slices[0].rule == "device = phone ∧ region = north"
    assert comparable(result.to_dict()) == reference


def test_pyarrow_record_batch_reader_in_small_batches(
    table: dict[str, Any], reference: dict[str, Any]
) -> None:
    t = to_arrow(table)
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=97))
    assert comparable(scan_attrs(reader).to_dict()) == reference


def test_python_generator_batches(table: dict[str, Any], reference: dict[str, Any]) -> None:
    # A reader backed by Python code: the stream is read without the GIL,
    # pyarrow takes it back for each batch.
    t = to_arrow(table)

    def batches() -> Any:
        yield from t.to_batches(max_chunksize=500)

    reader = pa.RecordBatchReader.from_batches(t.schema, batches())
    assert comparable(scan_attrs(reader).to_dict()) == reference


def test_c_stream_capsule_object(table: dict[str, Any], reference: dict[str, Any]) -> None:
    class Stream:
        """Any object with __arrow_c_stream__."""

        def __init__(self, t: pa.Table):
            self.t = t

        def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
            return self.t.__arrow_c_stream__(requested_schema)

    assert comparable(scan_attrs(Stream(to_arrow(table))).to_dict()) == reference


def test_pandas(table: dict[str, Any], reference: dict[str, Any]) -> None:
    import pandas as pd

    df = pd.DataFrame({k: v for k, v in table.items() if k != "emb"})
    df.index = df.index * 7  # the index is not a column
    result = scan_attrs(df)
    assert comparable(result.to_dict()) == reference
    assert "pandas DataFrame" in result.summary()


def test_pandas_categorical_and_nullable(table: dict[str, Any], reference: dict[str, Any]) -> None:
    import pandas as pd

    df = pd.DataFrame({k: v for k, v in table.items() if k != "emb"})
    df["device"] = df["device"].astype("category")
    df["region"] = df["region"].astype("string")
    df["label"] = df["label"].astype("Int64")
    assert comparable(scan_attrs(df).to_dict()) == reference


@pytest.mark.skipif(not have("polars"), reason="polars is not installed")
def test_polars(table: dict[str, Any], reference: dict[str, Any]) -> None:
    import polars as pl

    df = pl.DataFrame({k: v for k, v in table.items() if k != "emb"})
    assert comparable(scan_attrs(df).to_dict()) == reference
    df = df.with_columns(pl.col("device").cast(pl.Categorical))
    assert comparable(scan_attrs(df).to_dict()) == reference
    with pytest.raises(TypeError, match="LazyFrame"):
        scan_attrs(df.lazy())


def test_dict_of_columns(table: dict[str, Any], reference: dict[str, Any]) -> None:
    cols = {k: v for k, v in table.items() if k != "emb"}
    assert comparable(scan_attrs(cols).to_dict()) == reference


@pytest.mark.parametrize("kind", ["parquet", "csv", "feather"])
def test_paths(
    table: dict[str, Any], reference: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    t = to_arrow(table).drop(["emb"])
    path = tmp_path / f"t.{kind}"
    if kind == "parquet":
        pq.write_table(t, path)
    elif kind == "csv":
        import pyarrow.csv

        pyarrow.csv.write_csv(t, path)
    else:
        import pyarrow.feather

        pyarrow.feather.write_feather(t, path)
    result = scan_attrs(path)
    assert result.info["input"]["path"] == str(path)
    assert comparable(result.to_dict()) == reference
    assert comparable(scan_attrs(str(path)).to_dict()) == reference


def test_unsupported_data() -> None:
    with pytest.raises(TypeError, match="data must be"):
        slicescope.scan(42, label="y", pred="p", attributes=["a"])
    with pytest.raises(TypeError, match="data must be"):
        slicescope.scan(np.zeros((3, 2)), label="y", pred="p", attributes=["a"])


# -- views ---------------------------------------------------------------------


def scan_view(data: Any, view: Any, **kw: Any) -> slicescope.ScanResult:
    return slicescope.scan(
        data,
        label="label",
        pred="pred",
        views={"emb": view},
        slicers=["spotlight", "direction"],
        **kw,
    )


@pytest.fixture(scope="module")
def view_reference(table: dict[str, Any]) -> dict[str, Any]:
    return comparable(scan_view(to_arrow(table), "emb").to_dict(), drop_view_sources=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_numpy_views(
    table: dict[str, Any], view_reference: dict[str, Any], dtype: Any, order: str
) -> None:
    emb = np.asarray(table["emb"], dtype=dtype, order=order)
    assert emb.flags.c_contiguous == (order == "C")
    data = to_arrow(table).drop(["emb"])
    result = scan_view(data, emb)
    assert comparable(result.to_dict(), drop_view_sources=True) == view_reference
    assert result.info["views"][0]["source"].startswith("numpy array")


def test_strided_numpy_view(table: dict[str, Any], view_reference: dict[str, Any]) -> None:
    wide = np.repeat(table["emb"], 2, axis=1)  # every column twice
    view = wide[:, ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    result = scan_view(to_arrow(table).drop(["emb"]), view)
    assert comparable(result.to_dict(), drop_view_sources=True) == view_reference


def test_array_likes_as_views(table: dict[str, Any], view_reference: dict[str, Any]) -> None:
    class Tensor:
        """An array-like with __array__, as a CPU torch tensor."""

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return np.asarray(table["emb"])

    result = scan_view(to_arrow(table).drop(["emb"]), Tensor())
    assert comparable(result.to_dict(), drop_view_sources=True) == view_reference


def test_npy_file_view(
    table: dict[str, Any], view_reference: dict[str, Any], tmp_path: Path
) -> None:
    np.save(tmp_path / "emb.npy", table["emb"])
    result = scan_view(to_arrow(table).drop(["emb"]), tmp_path / "emb.npy")
    assert comparable(result.to_dict(), drop_view_sources=True) == view_reference
    assert result.info["views"][0]["source"] == str(tmp_path / "emb.npy")


def test_list_column_view_from_pandas(
    table: dict[str, Any], view_reference: dict[str, Any]
) -> None:
    import pandas as pd

    df = pd.DataFrame({k: v for k, v in table.items() if k != "emb"})
    df["emb"] = list(table["emb"])
    result = scan_view(df, "emb")
    assert comparable(result.to_dict(), drop_view_sources=True) == view_reference


def test_numpy_view_replaces_the_configs_view(table: dict[str, Any]) -> None:
    result = slicescope.scan(
        to_arrow(table).drop(["emb"]),
        config={"columns": {"label": "label", "pred": "pred", "views": {"emb": "missing.npy"}}},
        views={"emb": table["emb"]},
        slicers=["direction"],
    )
    assert result.info["views"][0]["source"].startswith("numpy array")


def test_view_values_are_not_mutated(table: dict[str, Any]) -> None:
    emb = np.array(table["emb"], order="F")
    before = emb.copy()
    scan_view(to_arrow(table).drop(["emb"]), emb, normalize=["emb"])
    np.testing.assert_array_equal(emb, before)


def test_bad_views(table: dict[str, Any]) -> None:
    data = to_arrow(table).drop(["emb"])
    with pytest.raises(slicescope.ShapeError, match="2-D"):
        scan_view(data, np.zeros(len(table["label"]), dtype=np.float32))
    with pytest.raises(slicescope.ShapeError, match="has 10 rows but the table has 3000"):
        scan_view(data, np.zeros((10, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        scan_view(data, np.zeros((3000, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="view 'emb' must be"):
        scan_view(data, object())
    bad = np.array(table["emb"])
    bad[5, 1] = np.nan
    with pytest.raises(slicescope.InvalidInputError, match=r"NaN or infinite values in 1 row \(row 5\)"):
        scan_view(data, bad)


def test_float32_view_is_borrowed_read_only_during_the_scan(table: dict[str, Any]) -> None:
    """A float32 C-ordered view is the scan's view itself (no copy): it is
    read-only while the scan runs without the GIL, and writeable again
    after; an already read-only array stays so."""
    import threading

    rng = np.random.default_rng(1)
    n = 60_000
    emb = rng.normal(size=(n, 32)).astype(np.float32)
    data = {"label": rng.integers(0, 2, n), "pred": rng.integers(0, 2, n)}
    blocked: list[str] = []
    wrote: list[bool] = []
    done = threading.Event()

    def run() -> None:
        try:
            slicescope.scan(
                data, label="label", pred="pred", views={"emb": emb},
                slicers=["mixture", "spotlight", "direction"],
            )
        finally:
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        try:
            emb[0, 0] = emb[0, 0]
            wrote.append(True)
        except ValueError as e:
            blocked.append(str(e))
        done.wait(0.005)
    worker.join()
    assert blocked and "read-only" in blocked[0], (len(blocked), len(wrote))
    assert emb.flags.writeable
    frozen = np.array(table["emb"], dtype=np.float32)
    frozen.flags.writeable = False
    scan_view(to_arrow(table).drop(["emb"]), frozen)
    assert not frozen.flags.writeable
