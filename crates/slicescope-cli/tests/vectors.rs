//! End-to-end runs on Parquet tables with list columns: a probability
//! vector as the outcome and an embedding column as a view.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Float32Type;
use parquet::arrow::ArrowWriter;
use serde_json::Value;

/// 300 rows, 3 classes; the model confuses class 2 on region = "north".
fn write_table(path: &Path, nan_row: Option<usize>, bad_sum_row: Option<usize>) {
    let n = 300usize;
    let mut probs: Vec<Option<Vec<Option<f32>>>> = Vec::new();
    let mut labels = Vec::new();
    let mut regions = Vec::new();
    let mut emb: Vec<Option<Vec<Option<f32>>>> = Vec::new();
    for i in 0..n {
        let label = (i % 3) as i64;
        let region = if i % 4 == 0 { "north" } else { "south" };
        let confused = label == 2 && region == "north";
        let mut p = [0.1f32, 0.1, 0.1];
        p[if confused { 0 } else { label as usize }] = 0.8;
        if bad_sum_row == Some(i) {
            p[1] = 0.5;
        }
        probs.push(Some(p.iter().map(|&x| Some(x)).collect()));
        labels.push(label);
        regions.push(region);
        let mut e = vec![Some(i as f32 / n as f32), Some(1.0), Some(-1.0), Some(0.5)];
        if nan_row == Some(i) {
            e[2] = Some(f32::NAN);
        }
        emb.push(Some(e));
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
        ("region", Arc::new(StringArray::from(regions)) as ArrayRef),
        (
            "probs",
            Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(probs, 3))
                as ArrayRef,
        ),
        (
            "emb",
            Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(emb, 4))
                as ArrayRef,
        ),
    ])
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn scan(path: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "scan",
        path.to_str().unwrap(),
        "--label",
        "label",
        "--probs",
        "probs",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_slicescope"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn probability_vectors_and_embedding_views() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_table(&p, None, None);
    let json = dir.path().join("o.json");
    let o = scan(
        &p,
        &[
            "--attributes-all",
            "--view",
            "e=emb",
            "--lattice-min-support",
            "5",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // The view and probability columns are not attributes.
    let attrs: Vec<&str> = doc["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(attrs, vec!["region"]);
    assert_eq!(doc["views"][0]["name"], "e");
    assert_eq!(doc["views"][0]["dim"], 4);
    assert_eq!(doc["task"]["classes"], serde_json::json!(["0", "1", "2"]));
    // 25 rows of label 2 in the north, all wrong.
    assert_eq!(doc["overall"]["errors"], 25.0);
    assert_eq!(doc["slices"][0]["rule"]["text"], "region = north");

    // Cross-entropy as the signal: a mean loss, Welch's test.
    let o = scan(
        &p,
        &[
            "--attributes",
            "region",
            "--signal",
            "loss",
            "--lattice-min-support",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("mean cross-entropy"), "{out}");
}

#[test]
fn bad_vectors_are_reported_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.parquet");
    write_table(&p, Some(17), None);
    let o = scan(&p, &["--attributes", "region", "--view", "e=emb"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("view 'e' (emb) has NaN or infinite values in 1 row (row 17)"),
        "{err}"
    );

    let p = dir.path().join("sum.parquet");
    write_table(&p, None, Some(42));
    let o = scan(&p, &["--attributes", "region"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("do not sum to 1") && err.contains("(row 42;"),
        "{err}"
    );

    // A view naming a non-vector column.
    let o = scan(&p, &["--attributes", "region", "--view", "e=region"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a list-of-floats column"));
}

/// A vocabulary Parquet file: `phrase` strings and `dim`-float embeddings.
fn write_vocab(path: &Path, phrases: &[&str], emb: &[Vec<f32>]) {
    let dim = emb[0].len() as i32;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "phrase",
            Arc::new(StringArray::from(phrases.to_vec())) as ArrayRef,
        ),
        (
            "embedding",
            Arc::new(
                FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
                    emb.iter()
                        .map(|e| Some(e.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
                    dim,
                ),
            ) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn vocabulary_phrases_display_columns_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_table(&p, None, None);
    let vocab = dir.path().join("v.parquet");
    // The view varies along its first coordinate only (row order).
    write_vocab(
        &vocab,
        &["late rows", "early rows", "constant"],
        &[
            vec![1.0, 1.0, -1.0, 0.5],
            vec![-1.0, 1.0, -1.0, 0.5],
            vec![0.0, 1.0, -1.0, 0.5],
        ],
    );
    let json = dir.path().join("o.json");
    let o = scan(
        &p,
        &[
            "--attributes",
            "region",
            "--view",
            "e=emb",
            "--vocab",
            &format!("e={}", vocab.display()),
            "--display",
            "region,label",
            "--lattice-min-support",
            "5",
            "--show-all",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        doc["parameters"]["views"]["vocab"]["e"],
        vocab.display().to_string()
    );
    let slices = doc["slices"].as_array().unwrap();
    assert!(!slices.is_empty());
    for s in slices {
        let ph = &s["phrases"];
        assert_eq!(ph["view"], "e", "{ph}");
        let top = ph["top"].as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 3);
        // Phrases are ordered by score.
        let scores: Vec<f64> = top.iter().map(|t| t["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        // Every example shows the display columns of its row.
        for e in s["examples"].as_array().unwrap() {
            let row = e["row"].as_u64().unwrap() as usize;
            let region = if row % 4 == 0 { "north" } else { "south" };
            assert_eq!(e["values"]["region"], region);
            assert_eq!(e["values"]["label"], (row % 3).to_string());
        }
    }
    // The lattice slice region = north is described by its own rule and
    // dominated by one confusion (label 2 predicted as 0).
    let north = slices
        .iter()
        .find(|s| s["rule"]["text"] == "region = north")
        .unwrap();
    assert_eq!(north["attribute_rule"]["text"], "region = north");
    let summary = north["summary"].as_str().unwrap();
    assert!(summary.contains("mostly 2 predicted as 0"), "{summary}");

    // A vocabulary for a view that does not exist.
    let o = scan(
        &p,
        &[
            "--attributes",
            "region",
            "--view",
            "e=emb",
            "--vocab",
            &format!("x={}", vocab.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("view 'x'") && err.contains("not one of the views"),
        "{err}"
    );
    // A vocabulary of another dimension than the view.
    let wrong = dir.path().join("w.parquet");
    write_vocab(&wrong, &["a", "b"], &[vec![1.0, 0.0], vec![0.0, 1.0]]);
    let o = scan(
        &p,
        &[
            "--attributes",
            "region",
            "--view",
            "e=emb",
            "--vocab",
            &format!("e={}", wrong.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("'e'") && err.contains('2') && err.contains('4'),
        "{err}"
    );
    // A display column that does not exist names it.
    let o = scan(&p, &["--attributes", "region", "--display", "regoin"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("regoin") && err.contains("region"), "{err}");
}
