"""ScanResult and Slice: tables, JSON, report, summary, members, contains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ADULT, FASHION, ROOT, cli_binary, have, to_arrow

import slicescope
from slicescope import _core
from slicescope._result import TABLE_COLUMNS

ADULT_DATA = "examples/adult/adult_test.parquet"
ADULT_CONFIG = "examples/adult/slicescope.toml"


@pytest.fixture(scope="module")
def adult() -> slicescope.ScanResult:
    return slicescope.scan(ADULT_DATA, config=ADULT_CONFIG)


@pytest.fixture(scope="module")
def fashion() -> tuple[slicescope.ScanResult, pa.Table, dict[str, np.ndarray]]:
    table = pq.read_table(FASHION / "fashion_eval.parquet")
    views = {"act": np.load(FASHION / "act.npy"), "effnet": np.load(FASHION / "effnet.npy")}
    result = slicescope.scan(table, config="examples/fashion/slicescope.toml", views=views)
    return result, table, views


def test_slices_and_their_attributes(adult: slicescope.ScanResult) -> None:
    doc = adult.to_dict()
    assert len(adult) == len(doc["slices"]) == 10
    for s, d in zip(adult, doc["slices"]):
        assert s.id == d["id"] and adult[s.id] is s and adult[s.rank - 1] is s
        assert s.rule == d["rule"]["text"] == s.description
        assert s.size == d["stats"]["size"] == len(s.members)
        assert s.ci == (d["stats"]["ci_low"], d["stats"]["ci_high"])
        assert s.q_value == d["stats"]["q_value"]
        assert s.summary == d["summary"]
        assert s.members.tolist() == d["members"]
        assert s.members.dtype == np.uint32
        assert s.to_dict() == d
        assert s.definition is None and s.view is None
        assert isinstance(s.flags, list)
    assert adult.n_rows == 16281
    assert "slices" not in adult.info and adult.info["task"]["task"] == "classification"
    with pytest.raises(KeyError):
        adult["S99"]


def test_json_round_trip(adult: slicescope.ScanResult, tmp_path: Path) -> None:
    text = adult.to_json()
    assert isinstance(text, str) and text.startswith("{\n  ")
    assert json.loads(text) == adult.to_dict()
    assert adult.to_json(tmp_path / "r.json") is None
    assert json.loads((tmp_path / "r.json").read_text()) == adult.to_dict()
    light = json.loads(adult.to_json(members=False) or "")
    assert all(s["members"] is None for s in light["slices"])


def test_members_left_out_of_the_json_when_configured() -> None:
    cfg = {"columns": {"label": "label", "pred": "pred", "attributes": ["age", "sex"]},
           "output": {"members": False}}
    r = slicescope.scan(ADULT_DATA, config=cfg)
    assert all(s["members"] is None for s in r.to_dict()["slices"])
    assert len(r.slices[0].members) == r.slices[0].size  # still at hand


def test_tables(adult: slicescope.ScanResult) -> None:
    names = [n for n, _ in TABLE_COLUMNS]
    t = adult.to_arrow()
    assert t.column_names == names and t.num_rows == len(adult)
    assert t.schema.field("flags").type == pa.list_(pa.string())
    df = adult.to_pandas()
    assert list(df.columns) == names and len(df) == len(adult)
    assert df["id"].tolist() == [s.id for s in adult]
    assert df["excess_errors"].tolist() == [s.excess_errors for s in adult]
    assert df["rule"].tolist() == t.column("rule").to_pylist()
    # Round trip through Arrow.
    back = t.to_pandas()
    assert back.drop(columns=["flags"]).equals(df.drop(columns=["flags"]))
    if have("polars"):
        import polars as pl

        p = adult.to_polars()
        assert p.columns == names and p.height == len(adult)
        assert p["size"].to_list() == df["size"].tolist()
        assert pl.from_arrow(t).equals(p)


def test_empty_result_tables() -> None:
    t = pa.table({"y": [0, 1] * 100, "p": [0, 1] * 100, "g": ["a", "b"] * 100})
    r = slicescope.scan(t, label="y", pred="p", attributes=["g"])
    assert len(r) == 0
    assert r.to_arrow().num_rows == 0 and r.to_arrow().column_names == [n for n, _ in TABLE_COLUMNS]
    assert len(r.to_pandas()) == 0
    if have("polars"):
        assert r.to_polars().height == 0
    assert "No slice" in r._repr_html_()
    assert "no errors" in r.summary()


def test_summary_is_the_cli_output(adult: slicescope.ScanResult) -> None:
    proc = subprocess.run(
        [str(cli_binary()), "scan", ADULT_DATA, "--config", ADULT_CONFIG, "--quiet"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    cli = proc.stdout.splitlines()
    ours = adult.summary().splitlines()
    # The first line ends with the run's time.
    assert ours[0].rsplit(" · ", 1)[0] == cli[0].rsplit(" · ", 1)[0]
    assert ours[1:] == cli[1:]
    assert str(adult) == adult.summary()
    assert len(adult.summary(top=3).splitlines()) < len(ours)


def test_repr_html(adult: slicescope.ScanResult) -> None:
    page = adult._repr_html_()
    assert page.count("<tr>") == 1 + sum(1 for s in adult if s.equivalent_to is None)
    assert "Married-civ-spouse" in page and "adult_test.parquet" in page
    assert repr(adult).startswith("<slicescope.ScanResult: 10 slices over 16,281 rows")
    assert repr(adult.slices[0]).startswith("<Slice S1: 6,086 rows")


def test_report_and_markdown(adult: slicescope.ScanResult, tmp_path: Path) -> None:
    page = adult.report()
    assert isinstance(page, str) and page.lstrip().lower().startswith("<!doctype html")
    assert adult.report(tmp_path / "r.html", title="Adult", run_name="gbm") is None
    text = (tmp_path / "r.html").read_text()
    meta = report_data(text)["meta"]
    assert (meta["title"], meta["run_name"]) == ("Adult", "gbm")
    assert meta["command"].startswith("slicescope.scan('examples/adult/adult_test.parquet'")
    assert report_data(page)["meta"]["title"] == "adult_test.parquet"
    adult.report(tmp_path / "r.html")  # replaces it
    md = adult.markdown(top=3)
    assert "Married-civ-spouse" in md
    with pytest.raises(slicescope.FileError):
        adult.report(tmp_path / "missing-dir" / "r.html")


def report_data(page: str) -> dict[str, Any]:
    """The report's inlined data (docs/report.md)."""
    start = page.index('type="application/json">') + len('type="application/json">')
    end = page.index("</script>", start)
    loaded: dict[str, Any] = json.loads(page[start:end])
    return loaded


@pytest.mark.slow
def test_report_from_a_path_has_images_and_maps(tmp_path: Path) -> None:
    r = slicescope.scan("examples/fashion/fashion_eval.parquet", config="examples/fashion/slicescope.toml")
    page = r.report() or ""
    data = report_data(page)
    assert [m["view"] for m in data["maps"]] == ["act", "effnet"]
    images = [e["image"] for e in data["examples"].values()]
    assert images and all(i and i.startswith("data:image/png;base64,") for i in images)


@pytest.mark.slow
def test_report_with_numpy_views(fashion: Any) -> None:
    result, _, _ = fashion
    data = report_data(result.report() or "")
    assert len(data["maps"]) == 2
    assert data["meta"]["command"].startswith("slicescope.scan(<pyarrow Table>")


@pytest.mark.slow
def test_report_from_memory_has_the_images(fashion: Any) -> None:
    """In-memory data (a pyarrow table, numpy views) with a binary image
    column: the report shows the examples' thumbnails as the CLI's does for
    the file, also when the image column is given as a keyword."""
    result, table, views = fashion
    data = report_data(result.report() or "")
    images = [e["image"] for e in data["examples"].values()]
    assert images and all(i and i.startswith("data:image/png;base64,") for i in images)
    from_file = report_data(
        slicescope.scan("examples/fashion/fashion_eval.parquet",
                        config="examples/fashion/slicescope.toml").report() or ""
    )
    assert data["examples"] == from_file["examples"]
    cfg = json.loads(_core.config_from_toml("examples/fashion/slicescope.toml"))
    cfg["columns"].pop("image")
    cfg["columns"].pop("display")
    plain = slicescope.scan(table, config=cfg, views=views, slicers=["spotlight"])
    assert all(e.get("image") is None for e in report_data(plain.report() or "")["examples"].values())
    keyword = slicescope.scan(table, config=cfg, views=views, slicers=["spotlight"], image="image")
    images = [e["image"] for e in report_data(keyword.report() or "")["examples"].values()]
    assert images and all(i and i.startswith("data:image/png;base64,") for i in images)


def test_membership_and_row_errors(adult: slicescope.ScanResult) -> None:
    m = adult.membership()
    assert m.shape == (adult.n_rows, len(adult)) and m.dtype == np.float32
    e = adult.row_errors()
    assert e.shape == (adult.n_rows,)
    assert abs(float(e.mean(dtype=np.float64)) - adult.error_rate) < 1e-9


def test_rule_slices_contain_their_members(adult: slicescope.ScanResult) -> None:
    import pandas as pd

    df = pd.read_parquet(ADULT / "adult_test.parquet")
    for s in adult:
        expected = np.sort(s.members)
        assert np.array_equal(np.flatnonzero(s.contains(df)), expected)
        assert np.array_equal(np.flatnonzero(s.contains(ADULT_DATA)), expected)
    # New rows: only the columns the rule tests are needed.
    s = adult.slices[0]
    cols = sorted({p["column"] for p in s.data["rule"]["predicates"]})
    part = df[cols].iloc[100:200]
    assert np.array_equal(s.contains(part), s.contains(df)[100:200])
    with pytest.raises(slicescope.ColumnNotFoundError, match="did you mean"):
        s.contains(df.rename(columns={cols[0]: cols[0] + "_"}))
    with pytest.raises(slicescope.InvalidParameterError, match="pass the new rows as data"):
        s.contains()


def test_predicates_on_other_types(table: dict[str, Any]) -> None:
    r = slicescope.scan(to_arrow(table), label="label", pred="pred", attributes=["device", "region", "age"])
    s = r.slices[0]
    # The same values as another type: categorical strings, large strings.
    t = to_arrow(table)
    other = pa.table({
        "device": t.column("device").dictionary_encode(),
        "region": t.column("region").cast(pa.large_string()),
        "age": t.column("age"),
    })
    assert np.array_equal(np.flatnonzero(s.contains(other)), np.sort(s.members))
    # Missing values match no equality predicate.
    nulls = pa.table({"device": pa.array([None, "phone"]), "region": pa.array(["north", None])})
    assert s.contains(nulls).tolist() == [False, False]


@pytest.mark.slow
def test_embedding_slices_contain_their_members(fashion: Any) -> None:
    result, table, views = fashion
    kinds = set()
    for s in result:
        mask = s.contains(table, views=views)
        assert np.array_equal(np.flatnonzero(mask), np.sort(s.members)), s.id
        if s.definition:
            kinds.add((s.definition["kind"], s.definition.get("class") is not None))
    assert {("kernel", False), ("halfspace", True), ("gaussian", False)} <= kinds


@pytest.mark.slow
def test_embedding_slices_on_new_rows(fashion: Any) -> None:
    result, table, views = fashion
    s = next(s for s in result if s.slicer == "spotlight")
    rows = np.arange(4000, 5000)
    part = {name: v[rows] for name, v in views.items()}
    mask = s.contains(views=part)  # a kernel needs only the embeddings
    assert np.array_equal(mask, s.contains(table, views=views)[rows])
    labelled = next(s for s in result if s.definition and s.definition.get("class"))
    with pytest.raises(slicescope.InvalidParameterError, match="needs column.s. label.*pass them"):
        labelled.contains(views=part)
    with pytest.raises(slicescope.InvalidParameterError, match="views=\\{'act': array\\}|views="):
        next(s for s in result if s.view == "act").contains(table)
    with pytest.raises(slicescope.ShapeError, match="dimensions"):
        s.contains(views={s.view or "": np.zeros((3, 5), dtype=np.float32)})


def test_embedding_slice_from_a_list_column(table: dict[str, Any]) -> None:
    t = to_arrow(table)
    r = slicescope.scan(t, label="label", pred="pred", views={"emb": "emb"},
                        slicers=["spotlight"], normalize=["emb"])
    assert len(r) > 0
    for s in r:
        assert np.array_equal(np.flatnonzero(s.contains(t)), np.sort(s.members))
