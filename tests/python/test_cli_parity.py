"""The Python path gives the CLI's result on the bundled examples: the same
JSON document (but for timings) from a path, and the same slices from
in-memory data and numpy views."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ADULT, FASHION, comparable, have, run_cli

import slicescope

ADULT_DATA = "examples/adult/adult_test.parquet"
ADULT_CONFIG = "examples/adult/slicescope.toml"
FASHION_DATA = "examples/fashion/fashion_eval.parquet"
FASHION_CONFIG = "examples/fashion/slicescope.toml"


@pytest.fixture(scope="module")
def adult_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_cli(tmp_path_factory.mktemp("adult"), ADULT_DATA, "--config", ADULT_CONFIG)


@pytest.fixture(scope="module")
def fashion_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_cli(tmp_path_factory.mktemp("fashion"), FASHION_DATA, "--config", FASHION_CONFIG)


def without_timing(doc: dict[str, Any]) -> dict[str, Any]:
    d = json.loads(json.dumps(doc))
    d.pop("timing")
    return d


def test_adult_path_equals_the_cli_json(adult_cli: dict[str, Any]) -> None:
    result = slicescope.scan(ADULT_DATA, config=ADULT_CONFIG)
    py = json.loads(result.to_json() or "")
    assert without_timing(py) == without_timing(adult_cli)
    assert [s.id for s in result.slices] == [s["id"] for s in adult_cli["slices"]]


def test_adult_pandas_equals_the_cli(adult_cli: dict[str, Any]) -> None:
    import pandas as pd

    df = pd.read_parquet(ADULT / "adult_test.parquet")
    result = slicescope.scan(df, config=ADULT_CONFIG)
    assert comparable(result.to_dict()) == comparable(adult_cli)
    assert result.info["input"]["path"] is None


@pytest.mark.skipif(not have("polars"), reason="polars is not installed")
def test_adult_polars_equals_the_cli(adult_cli: dict[str, Any]) -> None:
    import polars as pl

    df = pl.read_parquet(ADULT / "adult_test.parquet")
    assert comparable(slicescope.scan(df, config=ADULT_CONFIG).to_dict()) == comparable(adult_cli)


@pytest.mark.slow
def test_fashion_path_equals_the_cli_json(fashion_cli: dict[str, Any]) -> None:
    result = slicescope.scan(FASHION_DATA, config=FASHION_CONFIG)
    assert without_timing(json.loads(result.to_json() or "")) == without_timing(fashion_cli)


@pytest.mark.slow
def test_fashion_numpy_views_equal_the_cli(fashion_cli: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(FASHION / "fashion_eval.parquet")
    act = np.load(FASHION / "act.npy")
    effnet = np.asfortranarray(np.load(FASHION / "effnet.npy"), dtype=np.float64)
    result = slicescope.scan(
        table, config=FASHION_CONFIG, views={"act": act, "effnet": effnet}
    )
    got = comparable(result.to_dict(), drop_view_sources=True)
    assert got == comparable(fashion_cli, drop_view_sources=True)
    # Every slice's statistics, one by one (a clearer failure than the above).
    for s, c in zip(result.slices, fashion_cli["slices"]):
        assert (s.id, s.slicer, s.view, s.stats) == (c["id"], c["slicer"], c["view"], c["stats"])
        assert s.members.tolist() == c["members"]


def test_keyword_arguments_are_the_cli_flags(tmp_path: Path) -> None:
    cli = run_cli(
        tmp_path,
        ADULT_DATA,
        "--label", "label", "--pred", "pred",
        "--attributes", "age,sex,race,education",
        "--lattice-k", "5", "--bins", "4", "--seed", "3", "--fdr", "0.01",
    )
    result = slicescope.scan(
        ADULT_DATA,
        label="label",
        pred="pred",
        attributes=["age", "sex", "race", "education"],
        config={"lattice": {"k": 5}, "binning": {"bins": 4}},
        seed=3,
        fdr=0.01,
    )
    assert without_timing(json.loads(result.to_json() or "")) == without_timing(cli)
