#!/usr/bin/env python3
"""Planted-slice settings: generation, manipulated training, the model, the evaluated table.

Used by run_benchmark.py (bench venv: numpy, pandas, pyarrow, scikit-learn).  Run alone it lists the
candidate settings (`python bench/planted/make_data.py --list`) or builds and selects them
(`python bench/planted/make_data.py [--quick]`).

Candidates are generated per (dataset, slice type) from the master seed and tried in order; a
candidate is kept when every planted slice is a real failure of the trained model (error rate
>= 0.30 and >= 1.5x the error rate outside the slice, >= 25 rows: `is_valid`), until the group
has its number of settings (GROUPS).  Each candidate is built from its own seed, deterministically, into
bench/.cache/planted/settings/<id>/:
  data.parquet   the evaluated rows: row, label, pred (superclass / sentiment names), label_id,
                 pred_id, error, plus display/metadata columns (fine class, patch flag / text)
                 that are NOT passed to either tool
  act.npy        float32 n x 64: the trained model's last hidden layer (ReLU) on those rows
  fm.npy         float32 n x d: the foundation-model view (EfficientNet-Lite0 1280-d or
                 all-MiniLM-L6-v2 384-d, precomputed by embed.py) of the same rows
  y.npy, probs.npy  int labels and the model's predicted probabilities (n x classes) for Domino
  truth.npz      one boolean mask per planted slice (keys s0, s1, ...)
  meta.json      the setting, the planted slices (description, size, error rate in and out of
                 the slice), the model's overall error, build time
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SETTINGS_VERSION = "v3"  # bump to invalidate cached settings when the construction changes

# ------------------------------------------------------------------ parameters (fixed a priori)
FASHION_TRAIN_N = 12_000      # training rows drawn from the 60k train split per setting
FASHION_EVAL_N = 5_000        # evaluated rows drawn from the 10k test split
FASHION_SLICE_CAP = 200       # at most this many rows of each planted slice in the evaluated rows
RARE_KEEP = 0.01              # rare: fraction of the subgroup's training rows that is kept
CORR_P_TARGET = 0.9           # correlation: P(patch | y = a) in training
CORR_P_OTHER = 0.0            # correlation: P(patch | y != a) in training
CORR_P_TEST = 0.10            # correlation: P(patch) for every test image (independent of y)
NOISE_LEVELS = (0.6, 0.7, 0.8, 0.9)  # noisy label: flip probability, drawn per setting
TEXT_TRAIN_N = 8_000          # Rotten Tomatoes: training snippets; the other 4,752 are evaluated
TEXT_CORR_DROP = 0.95         # correlation: fraction of (attribute on, y != a) training rows dropped
MIN_CELL = 120                # text: a subgroup needs >= this many snippets in the whole corpus

# real subgroups of the Rotten Tomatoes snippets (lower-cased regular expressions)
TOPICS = {
    "comedy": r"\b(comedy|comedies|comic|comedic|funny|jokes?|laughs?|humou?r|hilarious)\b",
    "horror_thriller": r"\b(horror|thriller|thrillers|scary|suspense|creepy|scares?)\b",
    "documentary": r"\b(documentary|documentaries)\b",
    "family_kids": r"\b(family|families|kids?|children|child)\b",
    "romance": r"\b(romantic|romance|love)\b",
    "action": r"\b(action|explosions?|effects|chase|stunts?)\b",
    "acting": r"\b(performances?|actors?|actress|acting|cast)\b",
    "script": r"\b(script|screenplay|dialogue|writing|written)\b",
    "director": r"\b(director|directed|direction|filmmaker|filmmakers)\b",
}
STYLES = {  # attributes of form rather than topic, used as spurious attributes
    "negation": r"\b(not|no|never|nothing|nor|none)\b|n't",
    "question": r"\?",
    "first_person": r"\b(i|me|my|i'm|i've|we|us|our)\b",
    "number": r"\d",
    "dash": r"--| - ",
    "colon": r"[:;]",
}
SENTIMENT = ["rotten", "fresh"]


# ------------------------------------------------------------------ the settings
GROUPS = [  # (dataset, type, settings wanted); candidates are tried in order until that many are valid
    ("fashion", "rare", 7), ("fashion", "correlation", 8), ("fashion", "noisy_label", 7), ("fashion", "multi", 6),
    ("rt", "rare", 6), ("rt", "correlation", 6), ("rt", "noisy_label", 6), ("rt", "multi", 6),
]
VALID_MIN_ERR = 0.30    # a planted slice is a real failure when its error rate is >= 0.30
VALID_MIN_LIFT = 1.5    # ... and >= 1.5x the error rate of the evaluated rows outside it
VALID_MIN_ROWS = 25     # ... and it has >= 25 evaluated rows


def candidate_settings(master_seed: int = 0) -> dict:
    """{(dataset, type): [candidate settings in the order they are tried]}.

    Each candidate is {id, dataset, type, seed, slices:[{kind, ...}]}; ids are stable (candidate index
    within its group).  Fully determined by master_seed; no knowledge of any slicer is used.
    Master seed 0 is the benchmark's; another master seed draws held-out settings, whose ids start
    with `m<seed>-` so that they are cached apart (e.g. `m1-rt-rare-00`)."""
    out: dict = {}
    prefix = f"m{master_seed}-" if master_seed else ""

    def group(dataset, typ, gi):
        rng = np.random.default_rng([master_seed, gi])
        lst: list = []
        out[(dataset, typ)] = lst

        def add(slices):
            lst.append({"id": f"{prefix}{dataset}-{typ}-{len(lst):02d}", "dataset": dataset, "type": typ,
                        "seed": int(rng.integers(0, 2**31 - 1)), "slices": slices})
        return rng, add

    others = lambda f: [s for s in range(5) if s != common.FINE_TO_SUPER[f]]  # noqa: E731
    # ---- Fashion-MNIST, coarse 5-way task; every fine class is a candidate subgroup
    rng, add = group("fashion", "rare", 0)
    for rep in range(4):
        for f in rng.permutation(10):
            add([{"kind": "rare", "fine": int(f)}])
    rng, add = group("fashion", "correlation", 1)
    for rep in range(4):
        for a in rng.permutation(5):
            add([{"kind": "correlation", "target": int(a)}])
    rng, add = group("fashion", "noisy_label", 2)
    for rep in range(3):
        for f in rng.permutation(10):
            add([{"kind": "noisy_label", "fine": int(f), "to": int(rng.choice(others(f))),
                  "p": float(rng.choice(NOISE_LEVELS))}])
    rng, add = group("fashion", "multi", 3)
    for i in range(60):
        k = int(rng.integers(2, 4))
        kinds = list(rng.choice(["rare", "noisy_label", "correlation"], size=k, replace=True))
        if kinds.count("correlation") > 1:  # one patch artifact per setting
            kinds = ["correlation"] + [x for x in kinds if x != "correlation"]
            kinds += list(rng.choice(["rare", "noisy_label"], size=k - len(kinds)))
        fines = list(rng.choice(10, size=k, replace=False))
        slices = []
        for kind, f in zip(kinds, fines):
            if kind == "rare":
                slices.append({"kind": "rare", "fine": int(f)})
            elif kind == "noisy_label":
                slices.append({"kind": "noisy_label", "fine": int(f), "to": int(rng.choice(others(f))),
                               "p": float(rng.choice(NOISE_LEVELS))})
            else:
                slices.append({"kind": "correlation", "target": int(rng.integers(0, 5))})
        add(slices)

    # ---- Rotten Tomatoes, binary sentiment
    texts, y = common.load_rotten_tomatoes()
    topic_m = {k: text_mask(texts, v) for k, v in TOPICS.items()}
    style_m = {k: text_mask(texts, v) for k, v in STYLES.items()}
    cells = [(g, c) for g in TOPICS for c in (0, 1) if (topic_m[g] & (y == c)).sum() >= MIN_CELL]
    corr_cells = [(s, a) for s in STYLES for a in (0, 1) if (style_m[s] & (y != a)).sum() >= MIN_CELL]
    rng, add = group("rt", "rare", 4)
    for rep in range(2):
        for i in rng.permutation(len(cells)):
            g, c = cells[i]
            add([{"kind": "rare", "topic": g, "cls": int(c)}])
    rng, add = group("rt", "correlation", 5)
    for rep in range(2):
        for i in rng.permutation(len(corr_cells)):
            s, a = corr_cells[i]
            add([{"kind": "correlation", "style": s, "target": int(a)}])
    rng, add = group("rt", "noisy_label", 6)
    for rep in range(2):
        for i in rng.permutation(len(cells)):
            g, c = cells[i]
            add([{"kind": "noisy_label", "topic": g, "cls": int(c), "p": float(rng.choice(NOISE_LEVELS))}])
    rng, add = group("rt", "multi", 7)
    for i in range(40):
        k = int(rng.integers(2, 4))
        kinds = list(rng.choice(["rare", "noisy_label", "correlation"], size=k, replace=True))
        used_topics: set = set()
        used_styles: set = set()
        slices = []
        for kind in kinds:
            if kind == "correlation":
                cand = [c for c in corr_cells if c[0] not in used_styles]
                s, a = cand[int(rng.integers(len(cand)))]
                used_styles.add(s)
                slices.append({"kind": "correlation", "style": s, "target": int(a)})
            else:
                cand = [c for c in cells if c[0] not in used_topics]
                g, c = cand[int(rng.integers(len(cand)))]
                used_topics.add(g)
                sl = {"kind": kind, "topic": g, "cls": int(c)}
                if kind == "noisy_label":
                    sl["p"] = float(rng.choice(NOISE_LEVELS))
                slices.append(sl)
        add(slices)
    return out


def is_valid(meta: dict) -> bool:
    """Every planted slice of the setting is a real failure of the trained model."""
    return all(s["size"] >= VALID_MIN_ROWS and s["error_rate"] is not None
               and s["error_rate"] >= VALID_MIN_ERR
               and s["error_rate"] >= VALID_MIN_LIFT * s["error_rate_outside"] for s in meta["slices"])


def select_settings(quick: bool = False, master_seed: int = 0, log=print,
                    groups: list | None = None) -> tuple[list, list]:
    """Build candidates in order (cached) and keep the first valid ones of each group.

    `groups` limits the run to those (dataset, type) pairs (default: all of GROUPS).
    Returns (selected [(spec, dir, meta)], rejected [(spec id, reason)])."""
    selected, rejected = [], []
    cands = candidate_settings(master_seed)
    for dataset, typ, want in GROUPS:
        if groups is not None and (dataset, typ) not in groups:
            continue
        want = 1 if quick else want
        got = 0
        for spec in cands[(dataset, typ)]:
            if got >= want:
                break
            d = build(spec)
            meta = json.loads((d / "meta.json").read_text())
            summary = " | ".join(f"{x['size']} rows err {x['error_rate']:.2f} (outside {x['error_rate_outside']:.2f})"
                                 for x in meta["slices"])
            if is_valid(meta):
                got += 1
                selected.append((spec, d, meta))
                log(f"setting {spec['id']}: model err {meta['error_rate']:.3f}; planted {summary}")
            else:
                rejected.append({"id": spec["id"], "slices": meta["slices"], "build_seconds": meta["build_seconds"]})
                log(f"setting {spec['id']}: REJECTED, a planted slice is no real failure: {summary}")
        if got < want:
            log(f"WARNING: only {got} valid settings for {dataset}/{typ} (wanted {want})")
    return selected, rejected


def describe_slice(dataset: str, sl: dict) -> str:
    k = sl["kind"]
    if dataset == "fashion":
        if k == "rare":
            return f"rare: fine class {common.FINE_NAMES[sl['fine']]} kept at {RARE_KEEP:.0%} in training"
        if k == "noisy_label":
            return (f"noisy label: {common.FINE_NAMES[sl['fine']]} labelled "
                    f"{common.SUPER_NAMES[sl['to']]} with p={sl['p']} in training")
        return (f"correlation: patch on {CORR_P_TARGET:.0%} of {common.SUPER_NAMES[sl['target']]} and "
                f"{CORR_P_OTHER:.0%} of the rest in training, {CORR_P_TEST:.0%} of all test images; "
                f"slice = patched, label != {common.SUPER_NAMES[sl['target']]}")
    if k == "rare":
        return (f"rare: {SENTIMENT[sl['cls']]} snippets about {sl['topic']} kept at "
                f"{RARE_KEEP:.0%} in training")
    if k == "noisy_label":
        return (f"noisy label: {SENTIMENT[sl['cls']]} snippets about {sl['topic']} flipped "
                f"with p={sl['p']} in training")
    return (f"correlation: {sl['style']} snippets labelled != {SENTIMENT[sl['target']]} dropped at "
            f"{TEXT_CORR_DROP:.0%} in training; slice = {sl['style']}, label != "
            f"{SENTIMENT[sl['target']]}")


def text_mask(texts, pattern: str) -> np.ndarray:
    rx = re.compile(pattern)
    return np.array([rx.search(t.lower()) is not None for t in texts])


# ------------------------------------------------------------------ the model
def train_mlp(X, y, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden_layer_sizes=(64,), max_iter=25, early_stopping=True,
                             random_state=seed % (2**31)).fit(X, y)


def hidden_activations(model, X) -> np.ndarray:
    """The last (only) hidden layer's ReLU activations."""
    h = X @ model.coefs_[0] + model.intercepts_[0]
    return np.maximum(h, 0).astype(np.float32)


def pool_pixels(images: np.ndarray) -> np.ndarray:
    """28x28 uint8 -> 196 floats in [0, 1] (2x2 average pooling): the Fashion model's input."""
    return images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(images), 196) / 255.0


# ------------------------------------------------------------------ builders
_FASHION = None
_TEXT = None


def _fashion():
    global _FASHION
    if _FASHION is None:
        _FASHION = common.load_fashion()
    return _FASHION


def build_fashion(spec: dict):
    tr_x, tr_fine, te_x, te_fine = _fashion()
    rng = np.random.default_rng(spec["seed"])
    idx = rng.choice(len(tr_x), FASHION_TRAIN_N, replace=False)
    x, fine = tr_x[idx].copy(), tr_fine[idx]
    ytrain = common.FINE_TO_SUPER[fine].copy()
    keep = np.ones(len(idx), bool)
    corr = [s for s in spec["slices"] if s["kind"] == "correlation"]
    for sl in spec["slices"]:
        if sl["kind"] == "rare":
            m = fine == sl["fine"]
            keep &= ~(m & (rng.random(len(m)) >= RARE_KEEP))
        elif sl["kind"] == "noisy_label":
            m = (fine == sl["fine"]) & (rng.random(len(fine)) < sl["p"])
            ytrain[m] = sl["to"]
    if corr:
        a = corr[0]["target"]
        p = np.where(common.FINE_TO_SUPER[fine] == a, CORR_P_TARGET, CORR_P_OTHER)
        patched = rng.random(len(fine)) < p
        x[patched] = common.add_patch(x[patched])
    model = train_mlp(pool_pixels(x[keep]), ytrain[keep], spec["seed"])

    # test pool: optional patch, then the planted slices on the whole pool
    te_patch = (rng.random(len(te_x)) < CORR_P_TEST) if corr else np.zeros(len(te_x), bool)
    te_super = common.FINE_TO_SUPER[te_fine]
    masks = []
    for sl in spec["slices"]:
        if sl["kind"] in ("rare", "noisy_label"):
            masks.append(te_fine == sl["fine"])
        else:
            masks.append(te_patch & (te_super != sl["target"]))
    # evaluated rows: up to FASHION_SLICE_CAP rows of each planted slice (all included), the rest
    # drawn at random from the rows outside every planted slice
    chosen = set()
    in_any = np.zeros(len(te_x), bool)
    for m in masks:
        in_any |= m
        rows = np.flatnonzero(m)
        chosen.update(rng.choice(rows, min(FASHION_SLICE_CAP, len(rows)), replace=False).tolist())
    rest = np.flatnonzero(~in_any)
    fill = rng.choice(rest, FASHION_EVAL_N - len(chosen), replace=False)
    ev = np.sort(np.concatenate([np.array(sorted(chosen), dtype=np.int64), fill]))

    imgs = te_x[ev].copy()
    imgs[te_patch[ev]] = common.add_patch(imgs[te_patch[ev]])
    X = pool_pixels(imgs)
    probs = model.predict_proba(X).astype(np.float32)
    # predict_proba columns follow model.classes_; make them 0..4 even if a class went missing
    full = np.zeros((len(ev), 5), np.float32)
    full[:, model.classes_] = probs
    act = hidden_activations(model, X)
    clean = np.load(common.CACHE / "emb" / "fashion_effnet_clean.npy", mmap_mode="r")
    patch = np.load(common.CACHE / "emb" / "fashion_effnet_patch.npy", mmap_mode="r")
    fm = np.where(te_patch[ev][:, None], patch[ev], clean[ev]).astype(np.float32)
    y = te_super[ev]
    meta_cols = {"fine": np.array(common.FINE_NAMES, dtype=object)[te_fine[ev]],
                 "patch": te_patch[ev], "test_index": ev}
    return dict(y=y, probs=full, act=act, fm=fm, masks=[m[ev] for m in masks],
                class_names=common.SUPER_NAMES, meta_cols=meta_cols)


def _text():
    global _TEXT
    if _TEXT is None:
        texts, y = common.load_rotten_tomatoes()
        _TEXT = (texts, y, {k: text_mask(texts, v) for k, v in {**TOPICS, **STYLES}.items()})
    return _TEXT


def build_rt(spec: dict):
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, y_all, attr = _text()
    rng = np.random.default_rng(spec["seed"])
    perm = rng.permutation(len(texts))
    tr, ev = np.sort(perm[:TEXT_TRAIN_N]), np.sort(perm[TEXT_TRAIN_N:])
    ytrain = y_all[tr].copy()
    keep = np.ones(len(tr), bool)
    masks = []
    for sl in spec["slices"]:
        if sl["kind"] in ("rare", "noisy_label"):
            g = attr[sl["topic"]] & (y_all == sl["cls"])
            if sl["kind"] == "rare":
                keep &= ~(g[tr] & (rng.random(len(tr)) >= RARE_KEEP))
            else:
                ytrain[g[tr] & (rng.random(len(tr)) < sl["p"])] = 1 - sl["cls"]
        else:
            g = attr[sl["style"]] & (y_all != sl["target"])
            keep &= ~(g[tr] & (rng.random(len(tr)) < TEXT_CORR_DROP))
        masks.append(g[ev])
    vec = TfidfVectorizer(min_df=2, max_features=5000, sublinear_tf=True,
                          token_pattern=r"(?u)\b\w+\b|[!?;:\-]")
    Xtr = vec.fit_transform([texts[i] for i in tr[keep]])
    model = train_mlp(Xtr, ytrain[keep], spec["seed"])
    X = vec.transform([texts[i] for i in ev])
    probs = np.zeros((len(ev), 2), np.float32)
    probs[:, model.classes_] = model.predict_proba(X)
    act = hidden_activations(model, X)
    act = np.asarray(act, dtype=np.float32)
    fm = np.load(common.CACHE / "emb" / "rt_minilm.npy", mmap_mode="r")[ev].astype(np.float32)
    meta_cols = {"text": np.array([texts[i] for i in ev], dtype=object), "corpus_index": ev}
    return dict(y=y_all[ev], probs=probs, act=act, fm=fm, masks=masks,
                class_names=SENTIMENT, meta_cols=meta_cols)


def setting_dir(spec: dict) -> Path:
    return common.CACHE / "settings" / SETTINGS_VERSION / spec["id"]


def build(spec: dict, force: bool = False) -> Path:
    """Build one setting into its cache folder (skipped when meta.json matches the spec)."""
    import pandas as pd

    d = setting_dir(spec)
    meta_path = d / "meta.json"
    if meta_path.exists() and not force:
        old = json.loads(meta_path.read_text())
        if old.get("spec") == spec:
            return d
    t0 = time.time()
    res = build_fashion(spec) if spec["dataset"] == "fashion" else build_rt(spec)
    if d.exists():  # a changed spec: drop the old setting and every tool output derived from it
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    y, probs = res["y"], res["probs"]
    pred = probs.argmax(1)
    names = np.array(res["class_names"], dtype=object)
    err = pred != y
    table = {"row": np.arange(len(y)), "label": names[y], "pred": names[pred],
             "label_id": y.astype(np.int64), "pred_id": pred.astype(np.int64), "error": err}
    table.update(res["meta_cols"])
    pd.DataFrame(table).to_parquet(d / "data.parquet", index=False)
    np.save(d / "act.npy", res["act"])
    np.save(d / "fm.npy", res["fm"])
    np.save(d / "y.npy", y.astype(np.int64))
    np.save(d / "probs.npy", probs)
    np.savez(d / "truth.npz", **{f"s{i}": m for i, m in enumerate(res["masks"])})
    slices = []
    for sl, m in zip(spec["slices"], res["masks"]):
        slices.append({**sl, "description": describe_slice(spec["dataset"], sl), "size": int(m.sum()),
                       "error_rate": float(err[m].mean()) if m.any() else None,
                       "error_rate_outside": float(err[~m].mean())})
    meta = {"spec": spec, "n": int(len(y)), "error_rate": float(err.mean()), "slices": slices,
            "views": {"act": list(res["act"].shape), "fm": list(res["fm"].shape)},
            "build_seconds": round(time.time() - t0, 2)}
    meta_path.write_text(json.dumps(meta, indent=1))
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one valid setting per dataset x type")
    ap.add_argument("--list", action="store_true", help="list the candidate settings (nothing is built)")
    ap.add_argument("--master-seed", type=int, default=0,
                    help="0: the benchmark's settings; another value draws held-out ones (ids m<seed>-...)")
    args = ap.parse_args()
    if args.list:
        for (ds, typ), lst in candidate_settings(args.master_seed).items():
            for s in lst:
                print(s["id"], s["seed"], "; ".join(describe_slice(ds, x) for x in s["slices"]))
        return 0
    selected, rejected = select_settings(args.quick, args.master_seed)
    print(f"{len(selected)} settings selected, {len(rejected)} candidates rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
