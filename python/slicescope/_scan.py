"""``slicescope.scan``: coerce the inputs, hand them to the Rust core."""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from slicescope import _core
from slicescope._inputs import DataLike, ViewLike, array_of, coerce_data
from slicescope._result import ScanResult

_OUTCOMES = ("pred", "probs", "score", "loss")


def scan(
    data: DataLike,
    *,
    label: str | None = None,
    pred: str | None = None,
    probs: str | None = None,
    score: str | None = None,
    loss: str | None = None,
    task: Literal["classification", "binary", "regression", "metric"] | None = None,
    threshold: float | None = None,
    positive: str | None = None,
    classes: Sequence[str] | None = None,
    signal: Literal["error", "loss"] | None = None,
    higher_is_better: bool | None = None,
    weight: str | None = None,
    attributes: Sequence[str] | Literal["all"] | None = None,
    views: Mapping[str, ViewLike] | None = None,
    normalize: Sequence[str] | None = None,
    slicers: Sequence[str] | None = None,
    display: Sequence[str] | None = None,
    image: str | None = None,
    text: str | None = None,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    seed: int | None = None,
    fdr: float | None = None,
    show_all: bool | None = None,
    resamples: int | None = None,
    top: int | None = None,
    progress: bool | None = None,
) -> ScanResult:
    """Find the slices of ``data`` where the model errs far more than overall.

    The Python face of ``slicescope scan``: the same scan, the same result
    and the same messages. The work runs in Rust without the GIL; Ctrl-C
    stops it (``KeyboardInterrupt``).

    Parameters
    ----------
    data
        The evaluation table: a pandas or polars DataFrame, a pyarrow Table
        or RecordBatchReader, any object with ``__arrow_c_stream__``, a dict
        of columns (through pyarrow), or the path of a Parquet, Arrow IPC or
        CSV file (read as the command-line tool reads it). Only the columns
        the scan needs are converted.
    label, pred, probs, score, loss
        Column names: the true label, and one model output: the predicted
        class or value (``pred``), a probability-vector column (``probs``),
        a binary score (``score``) or a per-sample loss or metric (``loss``).
        Given here, they replace the outcome of ``config``.
    task
        ``"classification"``, ``"binary"``, ``"regression"`` or ``"metric"``;
        inferred from the outcome when absent.
    threshold, positive
        Binary scores: predict positive when score >= threshold (0.5), and
        the positive label value (needed for string labels).
    classes
        Probabilities: the class names in the vector's order.
    signal
        ``"error"`` (0/1 errors, the default) or ``"loss"`` (cross-entropy,
        log loss) for ``probs`` and ``score``.
    higher_is_better
        ``loss``: True for a metric where higher is better (IoU, accuracy).
    weight
        A column of frequency weights.
    attributes
        Metadata columns to slice on, or ``"all"`` for every column not
        used otherwise.
    views
        Embedding views by name: a list column of ``data``, the path of a
        ``.npy``/``.npz`` file, or a 2-D float32/float64 array (C- or
        F-ordered) aligned with the rows of ``data``.
    normalize
        Views to L2-normalise (cosine geometry: CLIP, sentence embeddings).
    slicers
        Any of ``"lattice"``, ``"mixture"``, ``"spotlight"``,
        ``"direction"``; default: lattice with attributes, the other three
        with views.
    display
        Columns shown with each slice's example rows.
    image
        The report's example images: a binary column of PNG/JPEG bytes, or
        a string column of image paths (as ``[columns] image``). In-memory
        data keeps the column's Arrow arrays (no copy) for the example rows.
    text
        The report's example texts: a text column (as ``[columns] text``).
    config
        A ``slicescope.toml`` path, or a dict shaped like it (``{"columns":
        {...}, "lattice": {"k": 10}, ...}``); the keyword arguments above
        override it. Output file paths in ``[output]`` are ignored: use
        :meth:`ScanResult.to_json` and :meth:`ScanResult.report`.
    seed
        Seed for every randomised step.
    fdr
        False-discovery threshold on the q-values (0.05).
    show_all
        List every slice, also those that fail ``fdr`` or are unstable.
    resamples
        Bootstrap resamples for each slice's stability (default 10; 0: none,
        and no slice is hidden as unstable).
    top
        Slices shown by :meth:`ScanResult.summary` (10).
    progress
        Show the scan's progress (stage, lattice level and candidates,
        elapsed time) as one line on ``sys.stderr``, rewritten in place and
        cleared at the end. ``None`` (the default): shown when stderr is a
        terminal or in a Jupyter kernel, hidden otherwise.

    Returns
    -------
    ScanResult
        The ranked slices with their statistics, descriptions and flags.

    Raises
    ------
    SlicescopeError
        Or a subclass: :class:`ColumnNotFoundError` for a missing column,
        :class:`ShapeError` for a view whose rows do not match the table,
        :class:`InvalidParameterError` for a bad parameter or config key...
    TypeError
        For data or views of an unsupported type.
    KeyboardInterrupt
        When interrupted with Ctrl-C.

    Examples
    --------
    A classifier that errs on two thirds of the phones and never on
    desktops:

    >>> import pandas as pd
    >>> import slicescope
    >>> n = 2000
    >>> df = pd.DataFrame({
    ...     "device": ["phone" if i % 4 == 0 else "desktop" for i in range(n)],
    ...     "label": [i % 2 for i in range(n)],
    ... })
    >>> wrong = [i % 4 == 0 and i % 3 != 0 for i in range(n)]
    >>> df["pred"] = [1 - y if w else y for y, w in zip(df["label"], wrong)]
    >>> result = slicescope.scan(df, label="label", pred="pred", attributes=["device"])
    >>> [s.rule for s in result.slices]
    ['device = phone']
    >>> s = result.slices[0]
    >>> s.size, round(s.error_rate, 3), round(s.excess_errors, 1)
    (500, 0.666, 249.8)
    >>> s.contains(df.head(8)).tolist()
    [True, False, False, False, True, False, False, False]
    """
    cfg = _config_dict(config)
    columns: dict[str, Any] = cfg.setdefault("columns", {})
    if not isinstance(columns, dict):
        raise TypeError("config['columns'] must be a dict")
    outcome = {"pred": pred, "probs": probs, "score": score, "loss": loss}
    if any(v is not None for v in outcome.values()):
        # An outcome given here replaces the config's, as a CLI flag does.
        for key in _OUTCOMES:
            columns.pop(key, None)
    _set(columns, "label", label)
    for key, value in outcome.items():
        _set(columns, key, value)
    _set(columns, "task", task)
    _set(columns, "threshold", threshold)
    _set(columns, "positive", positive)
    _set(columns, "classes", None if classes is None else _names(classes, "classes"))
    _set(columns, "signal", signal)
    _set(columns, "weight", weight)
    if higher_is_better is not None:
        columns["higher_is_worse"] = not higher_is_better
    if isinstance(attributes, str):
        if attributes != "all":
            raise TypeError(
                f"attributes must be a list of column names or 'all', got {attributes!r}"
            )
        columns["attributes_all"] = True
        columns["attributes"] = []
    elif attributes is not None:
        columns["attributes"] = _names(attributes, "attributes")
        columns["attributes_all"] = False
    _set(columns, "display", None if display is None else _names(display, "display"))
    _set(columns, "image", image)
    _set(columns, "text", text)
    arrays: list[tuple[str, Any]] = []
    if views is not None:
        if not isinstance(views, Mapping):
            raise TypeError("views must be a dict of name -> column name, file path or array")
        config_views: dict[str, Any] = columns.setdefault("views", {})
        for name, view in views.items():
            if not isinstance(name, str):
                raise TypeError(f"view names must be strings, got {name!r}")
            if isinstance(view, (str, os.PathLike)):
                config_views[name] = os.fspath(view)
            else:
                config_views.pop(name, None)
                arrays.append((name, array_of(name, view)))
    if normalize is not None:
        cfg.setdefault("views", {})["normalize"] = _names(normalize, "normalize")
    if slicers is not None:
        cfg["slicers"] = _names(slicers, "slicers")
    _set(cfg, "seed", seed)
    testing = cfg.setdefault("testing", {})
    _set(testing, "fdr", fdr)
    _set(testing, "show_all", show_all)
    _set(testing, "resamples", resamples)
    _set(cfg.setdefault("output", {}), "top", top)
    source, name = coerce_data(data)
    command = _command(
        data,
        name,
        label=label,
        pred=pred,
        probs=probs,
        score=score,
        loss=loss,
        task=task,
        threshold=threshold,
        positive=positive,
        classes=classes,
        signal=signal,
        higher_is_better=higher_is_better,
        weight=weight,
        attributes=attributes,
        views=views,
        normalize=normalize,
        slicers=slicers,
        display=display,
        image=image,
        text=text,
        config=config,
        seed=seed,
        fdr=fdr,
        show_all=show_all,
        resamples=resamples,
        top=top,
    )
    inner = _core.scan(
        source,
        json.dumps(_without_none(cfg), default=_json_default),
        arrays,
        name=name,
        command=command,
        progress=_show_progress() if progress is None else bool(progress),
    )
    return ScanResult(inner)


def _show_progress() -> bool:
    """Progress by default: when stderr is a terminal, or in a Jupyter kernel."""
    err = sys.stderr
    try:
        if err is not None and err.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or unusual stream
        pass
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def default_config() -> dict[str, Any]:
    """The default configuration: every section and key of ``slicescope.toml``.

    A starting point for the ``config`` argument of :func:`scan`.

    Examples
    --------
    >>> import slicescope
    >>> cfg = slicescope.default_config()
    >>> cfg["lattice"]["k"], cfg["binning"]["bins"], cfg["testing"]["fdr"]
    (10, 10, 0.05)
    """
    loaded: dict[str, Any] = json.loads(_core.default_config())
    return loaded


def _set(section: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        section[key] = value


def _names(values: Sequence[str] | str, what: str) -> list[str]:
    if isinstance(values, str):
        # "a,b" as on the command line.
        return [v.strip() for v in values.split(",") if v.strip()]
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{what} must be a list of strings, got {v!r} in it")
    return out


def _config_dict(config: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)):
        loaded: dict[str, Any] = json.loads(_core.config_from_toml(os.fspath(config)))
        return loaded
    if isinstance(config, Mapping):
        plain: dict[str, Any] = _plain(copy.deepcopy(dict(config)))
        return plain
    raise TypeError(
        f"config must be a dict or the path of a slicescope.toml, got {type(config).__name__}"
    )


def _plain(value: Any) -> Any:
    """Nested mappings as dicts (so that keyword arguments can be set in them)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _without_none(value: Any) -> Any:
    """Drop None values: an unset key takes its default."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"config values must be plain data, got {type(value).__name__}: {value!r}")


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        shape = "×".join(str(d) for d in value.shape)
        return f"<array {shape} {value.dtype}>"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (str, os.PathLike, int, float, bool, list, tuple)):
        return repr(os.fspath(value) if isinstance(value, os.PathLike) else value)
    return f"<{type(value).__name__}>"


def _command(data: Any, name: str, **kwargs: Any) -> str:
    """The call, for the report's "command" line."""
    first = repr(data) if isinstance(data, str) else f"<{name}>"
    args = [first] + [f"{k}={_short(v)}" for k, v in kwargs.items() if v is not None]
    return f"slicescope.scan({', '.join(args)})"
