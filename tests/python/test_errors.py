"""Every exception class, with the CLI's messages."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ADULT, ROOT, cli_binary, to_arrow

import slicescope
from slicescope import (
    ColumnNotFoundError,
    FileError,
    FormatError,
    InvalidInputError,
    InvalidParameterError,
    NoDataError,
    ShapeError,
    SlicescopeError,
)

DATA = str(ADULT / "adult_test.parquet")


def cli_error(*args: str) -> str:
    """The message `slicescope scan ARGS` prints (without "error: ")."""
    proc = subprocess.run(
        [str(cli_binary()), "scan", *args, "--quiet"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stdout
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: ")
    return first[len("error: ") :]


def test_hierarchy() -> None:
    for cls in (
        ColumnNotFoundError,
        ShapeError,
        InvalidInputError,
        InvalidParameterError,
        NoDataError,
        FileError,
        FormatError,
    ):
        assert issubclass(cls, SlicescopeError)
        assert cls.__module__ == "slicescope"
        assert cls.__doc__
    assert issubclass(SlicescopeError, Exception)


def test_column_not_found_as_the_cli() -> None:
    with pytest.raises(ColumnNotFoundError) as e:
        slicescope.scan(DATA, label="lable", pred="pred", attributes=["age"])
    assert str(e.value) == "label column 'lable' not found; did you mean 'label'?"
    assert str(e.value) == cli_error(DATA, "--label", "lable", "--pred", "pred", "--attributes", "age")


def test_attribute_not_found() -> None:
    with pytest.raises(ColumnNotFoundError, match="attribute column 'agee' not found; did you mean 'age'"):
        slicescope.scan(DATA, label="label", pred="pred", attributes=["agee"])


def test_column_not_found_in_memory(table: dict[str, Any]) -> None:
    with pytest.raises(ColumnNotFoundError, match="prediction|pred"):
        slicescope.scan(to_arrow(table), label="label", pred="prd", attributes=["age"])


def test_unconvertible_pandas_columns_are_named() -> None:
    pd = pytest.importorskip("pandas")
    n = 200
    df = pd.DataFrame({"label": [0, 1] * (n // 2), "pred": [0, 0] * (n // 2), "a": ["x"] * n})
    mixed = df.assign(a=["x"] * (n - 1) + [5])
    with pytest.raises(InvalidInputError, match=r"column a .*astype\(str\)"):
        slicescope.scan(mixed, label="label", pred="pred", attributes=["a"])
    twice = pd.concat([df, df[["a"]]], axis=1)
    with pytest.raises(InvalidInputError, match="more than one column named 'a'"):
        slicescope.scan(twice, label="label", pred="pred", attributes=["a"])
    with pytest.raises(InvalidInputError, match="dict of columns cannot be converted"):
        slicescope.scan({"label": [0, 1], "pred": [0, "x"]}, label="label", pred="pred")
    # A dtype Arrow has no type for.
    with pytest.raises(InvalidInputError, match="column a with type complex128"):
        slicescope.scan(df.assign(a=1j), label="label", pred="pred", attributes=["a"])
    # The same frame with the type fixed scans.
    fixed = mixed.assign(a=mixed["a"].astype(str))
    assert slicescope.scan(fixed, label="label", pred="pred", attributes=["a"]).slices is not None


def test_shape_error_as_the_cli(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((10, 3), dtype=np.float32))
    args = ["--label", "label", "--pred", "pred", "--view", f"v={tmp_path / 'v.npy'}"]
    with pytest.raises(ShapeError) as e:
        slicescope.scan(DATA, label="label", pred="pred", views={"v": tmp_path / "v.npy"})
    assert str(e.value) == cli_error(DATA, *args)
    with pytest.raises(ShapeError, match="view 'v' .* has 10 rows but the table has 16281"):
        slicescope.scan(DATA, label="label", pred="pred", views={"v": np.zeros((10, 3))})


def test_invalid_input(tmp_path: Path) -> None:
    import pyarrow as pa

    t = pa.table({"y": [0, 1] * 50, "p": [0, 0] * 50, "x": [1.0] * 99 + [float("inf")]})
    with pytest.raises(InvalidInputError, match="infinite value at row 99"):
        slicescope.scan(t, label="y", pred="p", attributes=["x"])
    t = pa.table({"y": [0, 1], "p": [0, 0], "d": pa.array([1, 2], pa.date32())})
    with pytest.raises(InvalidInputError, match="column 'd' has type Date32"):
        slicescope.scan(t, label="y", pred="p", attributes=["d"])


def test_invalid_parameter_as_the_cli() -> None:
    with pytest.raises(InvalidParameterError) as e:
        slicescope.scan(DATA, label="label", pred="pred", attributes=["age"], fdr=2.0)
    assert str(e.value) == cli_error(
        DATA, "--label", "label", "--pred", "pred", "--attributes", "age", "--fdr", "2"
    )
    with pytest.raises(InvalidParameterError, match="give exactly one of pred, probs, score or loss"):
        slicescope.scan(
            DATA,
            config={"columns": {"label": "label", "pred": "pred", "score": "x"}},
            attributes=["age"],
        )
    with pytest.raises(InvalidParameterError, match="unknown slicer 'latice'.*did you mean 'lattice'"):
        slicescope.scan(DATA, label="label", pred="pred", attributes=["age"], slicers=["latice"])


def test_unknown_config_keys_suggest_the_closest() -> None:
    with pytest.raises(InvalidParameterError) as e:
        slicescope.scan(DATA, config={"columns": {"lable": "label", "pred": "pred"}})
    msg = str(e.value)
    assert msg.startswith("invalid parameter 'config['columns']': unknown field `lable`")
    assert msg.endswith("did you mean `label`?")
    with pytest.raises(InvalidParameterError, match="unknown field `latice`.*did you mean `lattice`"):
        slicescope.scan(DATA, label="label", pred="pred", config={"latice": {"k": 3}})
    with pytest.raises(InvalidParameterError, match=r"config\['lattice'\].*invalid type"):
        slicescope.scan(DATA, label="label", pred="pred", config={"lattice": {"k": "ten"}})


def test_config_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nlable = "label"\n')
    with pytest.raises(InvalidInputError, match="line 2: unknown field `lable`.*did you mean `label`"):
        slicescope.scan(DATA, config=bad)
    with pytest.raises(FileError, match="cannot read the config file"):
        slicescope.scan(DATA, config=tmp_path / "missing.toml")


def test_no_data() -> None:
    import pyarrow as pa

    t = pa.table({"y": [0, 1, 1], "p": [0, 1, 0]})
    with pytest.raises(NoDataError, match="--attributes-all found no column"):
        slicescope.scan(t, label="y", pred="p", attributes="all")


def test_file_error_as_the_cli(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.parquet")
    with pytest.raises(FileError) as e:
        slicescope.scan(missing, label="label", pred="pred", attributes=["age"])
    assert str(e.value) == f"{missing}: file not found"
    assert str(e.value) == cli_error(missing, "--label", "label", "--pred", "pred", "--attributes", "age")


def test_format_error(tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("not a parquet file at all\n")
    with pytest.raises(FormatError, match="cannot read as Parquet"):
        slicescope.scan(fake, label="label", pred="pred", attributes=["age"])


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="attributes must be a list of column names or 'all'"):
        slicescope.scan(DATA, label="label", pred="pred", attributes="everything")
    with pytest.raises(TypeError, match="config must be a dict"):
        slicescope.scan(DATA, label="label", pred="pred", config=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="views must be a dict"):
        slicescope.scan(DATA, label="label", pred="pred", views=["v"])  # type: ignore[arg-type]


def test_default_config_round_trips() -> None:
    cfg = slicescope.default_config()
    cfg["columns"].update(label="label", pred="pred", attributes=["age", "sex"])
    cfg["lattice"]["k"] = 3
    result = slicescope.scan(DATA, config=cfg)
    assert result.info["parameters"]["lattice"]["k"] == 3
    assert len(result) <= 3
