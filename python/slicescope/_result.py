"""``ScanResult`` and ``Slice``: thin wrappers over the Rust result."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from slicescope import _core
from slicescope._inputs import DataLike, coerce_data, coerce_views

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars
    import pyarrow

#: The columns of :meth:`ScanResult.to_arrow` and its siblings, one row per slice.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("rank", "int64"),
    ("slicer", "string"),
    ("view", "string"),
    ("size", "int64"),
    ("support", "float64"),
    ("errors", "float64"),
    ("error_rate", "float64"),
    ("ci_low", "float64"),
    ("ci_high", "float64"),
    ("rest_error_rate", "float64"),
    ("lift", "float64"),
    ("excess_errors", "float64"),
    ("p_value", "float64"),
    ("q_value", "float64"),
    ("score", "float64"),
    ("stability", "float64"),
    ("equivalent_to", "string"),
    ("rule", "string"),
    ("attribute_rule", "string"),
    ("description", "string"),
    ("summary", "string"),
    ("flags", "list<string>"),
)


class Slice:
    """One slice of a :class:`ScanResult`: statistics, description, flags, members.

    The attributes mirror the slice's entry in the JSON result (see
    ``docs/slicescope-result.schema.json``); :attr:`data` holds that entry
    without its members.

    Examples
    --------
    >>> import slicescope
    >>> table = {"g": ["a"] * 300 + ["b"] * 300,
    ...          "y": [0, 1] * 300,
    ...          "p": [0, 1] * 150 + [1, 1, 0, 0, 0, 1] * 50}
    >>> s = slicescope.scan(table, label="y", pred="p", attributes=["g"]).slices[0]
    >>> s.id, s.rule, s.size, s.error_rate
    ('S1', 'g = b', 300, 0.3333333333333333)
    >>> s.members[:3].tolist()
    [300, 301, 302]
    >>> s.contains({"g": ["b", "a", None]}).tolist()
    [True, False, False]
    """

    __slots__ = ("_result", "_index", "_data", "_flags")

    def __init__(self, result: ScanResult, index: int, data: dict[str, Any], flags: list[str]):
        self._result = result
        self._index = index
        self._data = data
        self._flags = flags

    # -- identity -----------------------------------------------------------

    @property
    def id(self) -> str:
        """Stable id within the result: ``"S1"``, ``"S2"``... in rank order."""
        return str(self._data["id"])

    @property
    def rank(self) -> int:
        """1-based rank."""
        return int(self._data["rank"])

    @property
    def slicer(self) -> str:
        """The slicer that found it: lattice, mixture, spotlight or direction."""
        return str(self._data["slicer"])

    @property
    def view(self) -> str | None:
        """The embedding view it was found in (None for attribute slices)."""
        v = self._data.get("view")
        return None if v is None else str(v)

    @property
    def description(self) -> str:
        """One line saying what the slice is (the rule, or the slicer's account)."""
        return str(self._data["description"])

    @property
    def summary(self) -> str:
        """One readable sentence: size, error against the rest, rule, outcome."""
        s = self._data.get("summary")
        return self.description if s is None else str(s)

    @property
    def rule(self) -> str | None:
        """The attribute rule that defines the slice (lattice slices), e.g.
        ``"sex = Male ∧ age ≥ 40"``; None for embedding slices."""
        r = self._data.get("rule")
        return None if r is None else str(r["text"])

    @property
    def attribute_rule(self) -> str | None:
        """The shortest attribute rule that best matches the members (any
        slice, when the scan had attributes); see :attr:`data` for its
        precision and recall."""
        r = self._data.get("attribute_rule")
        return None if r is None else str(r["text"])

    @property
    def definition(self) -> dict[str, Any] | None:
        """The embedding definition (kernel, halfspace or gaussian, in the
        view's reduced space) of an embedding slice."""
        d = self._data.get("definition")
        return None if d is None else dict(d)

    @property
    def found_by(self) -> list[dict[str, Any]]:
        """Every slicer and view that found this slice or a near-duplicate."""
        return list(self._data.get("found_by") or [])

    @property
    def equivalent_to(self) -> str | None:
        """The id of a higher-ranked slice with exactly the same rows, if any."""
        e = self._data.get("equivalent_to")
        return None if e is None else str(e)

    # -- statistics ---------------------------------------------------------

    @property
    def stats(self) -> dict[str, Any]:
        """Every statistic (size, errors, rates, interval, lift, p/q-values, test)."""
        return dict(self._data["stats"])

    @property
    def size(self) -> int:
        """Rows in the slice."""
        return int(self._data["stats"]["size"])

    @property
    def support(self) -> float:
        """Share of all rows (by weight) in the slice."""
        return float(self._data["stats"]["support"])

    @property
    def errors(self) -> float:
        """Error count (0/1 errors) or loss sum in the slice."""
        return float(self._data["stats"]["errors"])

    @property
    def error_rate(self) -> float:
        """Error rate (or mean loss) in the slice."""
        return float(self._data["stats"]["error_rate"])

    @property
    def ci(self) -> tuple[float, float]:
        """The 95% interval of :attr:`error_rate` (Wilson, or t for losses)."""
        st = self._data["stats"]
        return (float(st["ci_low"]), float(st["ci_high"]))

    @property
    def rest_error_rate(self) -> float | None:
        """Error rate of the rows outside the slice (None when it is everything)."""
        r = self._data["stats"].get("rest_error_rate")
        return None if r is None else float(r)

    @property
    def lift(self) -> float:
        """Error rate in the slice over the overall error rate."""
        return float(self._data["stats"]["lift"])

    @property
    def excess_errors(self) -> float:
        """Errors above the overall rate: what fixing the slice is worth."""
        return float(self._data["stats"]["excess_errors"])

    @property
    def p_value(self) -> float:
        """One-sided p-value: the slice is worse than the rest."""
        return float(self._data["stats"]["p_value"])

    @property
    def q_value(self) -> float:
        """Benjamini–Hochberg q-value over every hypothesis the scan tested."""
        return float(self._data["stats"]["q_value"])

    @property
    def score(self) -> float | None:
        """The slicer's own score (the SliceLine score for lattice slices)."""
        s = self._data.get("score")
        return None if s is None else float(s)

    @property
    def stability(self) -> float | None:
        """Share of bootstrap resamples where the slice reappears (None
        with ``resamples=0``)."""
        s = self._data.get("stability")
        return None if s is None else float(s)

    # -- diagnosis ----------------------------------------------------------

    @property
    def flags(self) -> list[str]:
        """Raised diagnosis flags: ``"label-noise"``, ``"shortcut"``,
        ``"under-covered"``; their evidence is in ``data["flags"]``."""
        return list(self._flags)

    @property
    def data(self) -> dict[str, Any]:
        """The slice's JSON entry (without members): outcome, enriched
        values, examples, phrases, flags with their evidence..."""
        return self._data

    # -- rows -----------------------------------------------------------------

    @property
    def members(self) -> npt.NDArray[np.uint32]:
        """The 0-based rows of the scanned data in the slice, most typical first
        (ascending for rule slices)."""
        return self._result._inner.members(self._index)

    def contains(
        self,
        data: DataLike | None = None,
        *,
        views: Mapping[str, Any] | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Which rows of new data belong to the slice.

        A rule slice tests its predicates on the columns of ``data``. An
        embedding slice projects the rows of its view with the scan's
        preprocessing (normalisation, centring, PCA) and applies its
        definition; the view comes from ``views`` (a 2-D array) or from the
        view's column in ``data``. Definitions tied to a label class also
        read the label column of ``data``.

        Parameters
        ----------
        data
            New rows, of any kind :func:`slicescope.scan` accepts.
        views
            Arrays of the new rows' embeddings, by view name.

        Returns
        -------
        numpy.ndarray
            A boolean mask, one entry per row.

        Raises
        ------
        ColumnNotFoundError
            When ``data`` lacks a column the slice tests.
        InvalidParameterError
            When neither ``data`` nor ``views`` gives what the slice needs.
        """
        if data is None:
            source, name = None, "data"
        else:
            source, name = coerce_data(data)
        return self._result._inner.contains(self._index, source, name, coerce_views(views))

    def to_dict(self) -> dict[str, Any]:
        """The slice's JSON entry, members included."""
        d = dict(self._data)
        d["members"] = self.members.tolist()
        return d

    def _row(self) -> dict[str, Any]:
        st = self._data["stats"]
        return {
            "id": self.id,
            "rank": self.rank,
            "slicer": self.slicer,
            "view": self.view,
            "size": int(st["size"]),
            "support": st["support"],
            "errors": st["errors"],
            "error_rate": st["error_rate"],
            "ci_low": st["ci_low"],
            "ci_high": st["ci_high"],
            "rest_error_rate": st.get("rest_error_rate"),
            "lift": st["lift"],
            "excess_errors": st["excess_errors"],
            "p_value": st["p_value"],
            "q_value": st["q_value"],
            "score": self.score,
            "stability": self.stability,
            "equivalent_to": self.equivalent_to,
            "rule": self.rule,
            "attribute_rule": self.attribute_rule,
            "description": self.description,
            "summary": self.summary,
            "flags": self.flags,
        }

    def __repr__(self) -> str:
        return (
            f"<Slice {self.id}: {self.size:,} rows, error {self.error_rate:.3g} "
            f"(lift {self.lift:.2f}, {self.excess_errors:+.1f} excess) · {self.description}>"
        )


class ScanResult:
    """The result of :func:`slicescope.scan`: ranked slices and the run's context.

    Iterating, ``len()`` and indexing (by position or id) go over
    :attr:`slices`. :attr:`info` is the JSON document without the slices.

    Examples
    --------
    >>> import slicescope
    >>> table = {"g": ["a"] * 300 + ["b"] * 300,
    ...          "y": [0, 1] * 300,
    ...          "p": [0, 1] * 150 + [1, 1, 0, 0, 0, 1] * 50}
    >>> result = slicescope.scan(table, label="y", pred="p", attributes=["g"])
    >>> len(result), result["S1"].rule, result.n_rows
    (1, 'g = b', 600)
    >>> result.to_pandas()[["id", "size", "lift"]]
       id  size  lift
    0  S1   300   2.0
    >>> print(result.summary().splitlines()[-1])
      1  50% of samples (n = 300), error 33% vs 0% elsewhere (+50 errors): mostly 0 predicted as 1; g = b (precision 1.00, recall 1.00)
    """

    __slots__ = ("_inner", "_doc", "_slices")

    def __init__(self, inner: _core.ScanResult):
        self._inner = inner
        self._doc: dict[str, Any] = json.loads(inner.to_json(members=False, indent=False))
        flags = inner.raised_flags()
        self._slices = [
            Slice(self, i, d, f) for i, (d, f) in enumerate(zip(self._doc["slices"], flags))
        ]

    # -- slices -------------------------------------------------------------

    @property
    def slices(self) -> list[Slice]:
        """The reported slices, best first."""
        return list(self._slices)

    def __len__(self) -> int:
        return len(self._slices)

    def __iter__(self) -> Iterator[Slice]:
        return iter(self._slices)

    @overload
    def __getitem__(self, key: int) -> Slice: ...
    @overload
    def __getitem__(self, key: str) -> Slice: ...
    def __getitem__(self, key: int | str) -> Slice:
        if isinstance(key, str):
            for s in self._slices:
                if s.id == key:
                    return s
            raise KeyError(key)
        return self._slices[key]

    # -- context --------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """The JSON document without ``slices``: input, task, overall error,
        attributes, views, parameters, search, notes, timing."""
        return {k: v for k, v in self._doc.items() if k != "slices"}

    @property
    def n_rows(self) -> int:
        """Rows scanned."""
        return int(self._doc["input"]["n_rows"])

    @property
    def error_rate(self) -> float:
        """The overall error rate (or mean loss)."""
        return float(self._doc["overall"]["error_rate"])

    @property
    def notes(self) -> list[str]:
        """Notes for the user (capped attributes, constant columns...)."""
        return list(self._doc["notes"])

    # -- outputs --------------------------------------------------------------

    def summary(self, top: int | None = None) -> str:
        """The text ``slicescope scan`` prints: the overview, the ranked table and
        the slices in words (``top`` slices; ``output.top`` of the config, 10,
        by default)."""
        return self._inner.summary(top)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<slicescope.ScanResult: {len(self)} slices over {self.n_rows:,} rows, "
            f"overall {self._doc['task']['metric']} {self.error_rate:.3g}>"
        )

    def to_json(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        members: bool | None = None,
    ) -> str | None:
        """The JSON document ``slicescope scan --json`` writes (schema
        ``docs/slicescope-result.schema.json``).

        Returned as a string, or written to ``path`` (then None is returned).
        ``members`` includes each slice's member rows (default: the config's
        ``output.members``, true).
        """
        text = self._inner.to_json(members=members, indent=True)
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return None

    def to_dict(self, *, members: bool | None = None) -> dict[str, Any]:
        """The JSON document as a dict."""
        loaded: dict[str, Any] = json.loads(self._inner.to_json(members=members, indent=False))
        return loaded

    def report(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        title: str | None = None,
        run_name: str | None = None,
    ) -> str | None:
        """The self-contained HTML report (as ``slicescope scan --report``).

        Written to ``path`` (atomically, replacing it) or returned as a
        string when ``path`` is None. ``title`` defaults to the data's file
        name; ``run_name`` names the model or run.
        """
        return self._inner.report(path, title=title, run_name=run_name)

    def markdown(self, top: int | None = None) -> str:
        """The Markdown summary of the top slices (``slicescope scan --markdown``)."""
        return self._inner.markdown(top)

    def membership(self) -> npt.NDArray[np.float32]:
        """Per-row membership scores, rows × slices in rank order (as
        ``--membership``): 1/0 for rule slices, the slicer's score otherwise."""
        return self._inner.membership()

    def row_errors(self) -> npt.NDArray[np.float32]:
        """Each row's error as the scan derived it (0/1, or the loss)."""
        return self._inner.row_errors()

    def _columns(self) -> dict[str, list[Any]]:
        rows = [s._row() for s in self._slices]
        return {name: [r[name] for r in rows] for name, _ in TABLE_COLUMNS}

    def to_arrow(self) -> pyarrow.Table:
        """One row per slice as a ``pyarrow.Table`` (columns: :data:`TABLE_COLUMNS`)."""
        import pyarrow as pa

        types = {
            "string": pa.string(),
            "int64": pa.int64(),
            "float64": pa.float64(),
            "list<string>": pa.list_(pa.string()),
        }
        schema = pa.schema([pa.field(name, types[t]) for name, t in TABLE_COLUMNS])
        return pa.table(self._columns(), schema=schema)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per slice as a ``pandas.DataFrame``."""
        import pandas as pd

        cols = self._columns()
        dtypes: dict[str, Any] = {
            "string": object,
            "int64": "int64",
            "float64": "float64",
            "list<string>": object,
        }
        return pd.DataFrame(
            {name: pd.Series(cols[name], dtype=dtypes[t]) for name, t in TABLE_COLUMNS}
        )

    def to_polars(self) -> polars.DataFrame:
        """One row per slice as a ``polars.DataFrame``."""
        import polars as pl

        types: dict[str, Any] = {
            "string": pl.String,
            "int64": pl.Int64,
            "float64": pl.Float64,
            "list<string>": pl.List(pl.String),
        }
        return pl.DataFrame(
            self._columns(), schema={name: types[t] for name, t in TABLE_COLUMNS}
        )

    def _repr_html_(self) -> str:
        """A compact table for Jupyter."""
        d = self._doc
        binary = bool(d["task"]["binary_errors"])

        def rate(x: float | None) -> str:
            if x is None:
                return "–"
            return f"{100 * x:.1f}%" if binary else f"{x:.3g}"

        def q(x: float) -> str:
            return "&lt;1e-99" if x < 1e-99 else (f"{x:.0e}" if x < 0.001 else f"{x:.3f}")

        overall = d["overall"]
        source = d["input"].get("path") or "data"
        head = (
            f"<p><b>slicescope</b> · {html.escape(str(source))} · {self.n_rows:,} rows · "
            f"{html.escape(d['task']['task'])} · {html.escape(d['task']['metric'])} "
            f"{rate(overall['error_rate'])} [{rate(overall['ci_low'])}, {rate(overall['ci_high'])}]"
            f" · {len(self)} slices</p>"
        )
        top = 10
        rows = []
        for s in self._slices[:top]:
            if s.equivalent_to is not None:
                continue
            flags = "".join(
                f' <span style="color:#b45309">[{html.escape(f)}]</span>' for f in s.flags
            )
            lo, hi = s.ci
            rows.append(
                "<tr>"
                f"<td>{s.rank}</td><td>{s.size:,}</td><td>{100 * s.support:.1f}%</td>"
                f"<td>{rate(s.error_rate)}</td><td>[{rate(lo)}, {rate(hi)}]</td>"
                f"<td>{rate(s.rest_error_rate)}</td><td>{s.lift:.2f}</td>"
                f"<td>{s.excess_errors:+.1f}</td><td>{q(s.q_value)}</td>"
                f'<td style="text-align:left">{html.escape(s.summary)}{flags}</td>'
                "</tr>"
            )
        if not rows:
            return head + "<p>No slice found.</p>"
        header = "".join(
            f"<th>{h}</th>"
            for h in ("#", "size", "share", "error" if binary else "mean", "95% CI", "rest",
                      "lift", "excess", "q", "slice")
        )
        more = (
            f"<p>{len(self) - top} more: <code>result.slices</code>, "
            "<code>result.to_pandas()</code></p>"
            if len(self) > top
            else ""
        )
        return (
            f"{head}<table><thead><tr>{header}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{more}"
        )
