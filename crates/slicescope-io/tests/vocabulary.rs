//! Phrase vocabularies from Parquet and `.npz` (fixtures made by
//! `tests/fixtures/vocab/make.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use slicescope_core::Error;
use slicescope_io::read_vocabulary;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vocab")
        .join(name)
}

fn expected() -> (Vec<String>, Vec<f32>) {
    let phrases = ["long sleeves", "plaid", "café scene"]
        .map(String::from)
        .to_vec();
    let emb = (0..12).map(|i| (i as f32) / 10.0).collect();
    (phrases, emb)
}

#[test]
fn parquet_and_npz_give_the_same_vocabulary() {
    let (phrases, emb) = expected();
    for name in ["tiny.parquet", "tiny.npz"] {
        let v = read_vocabulary(&fixture(name)).unwrap();
        assert_eq!(v.phrases, phrases, "{name}");
        assert_eq!(v.dim, 4, "{name}");
        assert_eq!(v.embeddings.len(), 12);
        for (a, b) in v.embeddings.iter().zip(&emb) {
            assert!((a - b).abs() < 1e-6, "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn mismatched_lengths_and_missing_columns_are_errors() {
    let err = read_vocabulary(&fixture("mismatch.npz")).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
    assert!(
        err.to_string().contains("2 phrases but 3 embedding rows"),
        "{err}"
    );
    // A table without the vocabulary's columns names them.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("v.csv");
    std::fs::write(&csv, "text,x\na,1\n").unwrap();
    let err = read_vocabulary(&csv).unwrap_err();
    assert!(err.to_string().contains("phrase"), "{err}");
}
