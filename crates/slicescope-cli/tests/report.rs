//! End-to-end: `--report` and `--markdown` on a table with an embedding
//! view, an image column (PNG bytes, one corrupt), a path column and texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, FixedSizeListArray, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::Float32Type;
use parquet::arrow::ArrowWriter;
use serde_json::Value;

const N: usize = 400;

/// Rows in a planted cluster (every 5th row) are wrong 80% of the time.
fn planted(i: usize) -> bool {
    i % 5 == 0
}

fn png(shade: u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 28, 28);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[shade; 28 * 28]).unwrap();
        w.finish().unwrap();
    }
    out
}

fn write_table(dir: &Path) -> std::path::PathBuf {
    let mut labels = Vec::new();
    let mut preds = Vec::new();
    let mut images: Vec<Option<Vec<u8>>> = Vec::new();
    let mut paths = Vec::new();
    let mut texts = Vec::new();
    let mut emb: Vec<Option<Vec<Option<f32>>>> = Vec::new();
    std::fs::write(dir.join("one.png"), png(200)).unwrap();
    for i in 0..N {
        let label = (i % 2) as i64;
        let wrong = if planted(i) { i % 25 != 0 } else { i % 37 == 0 };
        labels.push(label);
        preds.push(if wrong { 1 - label } else { label });
        // Row 0 (a member of the planted slice) has a corrupt image.
        images.push(Some(if i == 0 {
            b"\x89PNG broken".to_vec()
        } else {
            png((i % 250) as u8)
        }));
        paths.push("one.png".to_string());
        texts.push(format!("row {i} <script>alert(1)</script>"));
        let c = if planted(i) { 4.0 } else { 0.0 };
        let t = i as f32 / N as f32;
        emb.push(Some(vec![
            Some(c + t),
            Some(c - t),
            Some(t * t),
            Some(1.0 - t),
        ]));
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
        ("pred", Arc::new(Int64Array::from(preds)) as ArrayRef),
        ("img", Arc::new(BinaryArray::from_iter(images)) as ArrayRef),
        ("path", Arc::new(StringArray::from(paths)) as ArrayRef),
        ("text", Arc::new(StringArray::from(texts)) as ArrayRef),
        (
            "emb",
            Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(emb, 4))
                as ArrayRef,
        ),
    ])
    .unwrap();
    let p = dir.join("t.parquet");
    let mut w = ArrowWriter::try_new(File::create(&p).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    p
}

fn scan(table: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "scan",
        table.to_str().unwrap(),
        "--label",
        "label",
        "--pred",
        "pred",
        "--view",
        "e=emb",
        "--slicers",
        "mixture,direction",
        "--quiet",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_slicescope"))
        .args(&args)
        .output()
        .unwrap()
}

/// The report data inside the page.
fn data_of(page: &str) -> Value {
    let start = page
        .find(r#"<script id="slicescope-data" type="application/json">"#)
        .expect("data script");
    let rest = &page[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(body).unwrap()
}

#[test]
fn the_report_holds_the_result_maps_and_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let table = write_table(dir.path());
    let html = dir.path().join("r.html");
    let md = dir.path().join("r.md");
    let json = dir.path().join("r.json");
    let out = scan(
        &table,
        &[
            "--report",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--no-members",
            "--image-column",
            "img",
            "--text-column",
            "text",
            "--title",
            "Planted test",
            "--run-name",
            "model-v2",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no script or style comes from elsewhere, and text
    // from the data cannot close the data's script element.
    assert!(!page.contains("<script src"));
    assert!(!page.contains("<link"));
    assert!(!page.contains("<script>alert(1)"));
    let data = data_of(&page);
    assert_eq!(data["report_version"], 1);
    assert_eq!(data["meta"]["title"], "Planted test");
    assert_eq!(data["meta"]["run_name"], "model-v2");
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let slices = data["result"]["slices"].as_array().unwrap();
    assert!(!slices.is_empty());
    assert_eq!(slices.len(), result["slices"].as_array().unwrap().len());
    // The JSON left members out as asked; the report kept them.
    assert!(result["slices"][0]["members"].is_null());
    let members: Vec<u64> = slices[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let planted_share =
        members.iter().filter(|&&r| planted(r as usize)).count() as f64 / members.len() as f64;
    assert!(
        planted_share > 0.8,
        "top slice is the planted cluster: {planted_share}"
    );
    // One map, all rows drawn, the slice's members highlighted exactly.
    let map = &data["maps"][0];
    assert_eq!(map["view"], "e");
    assert_eq!(map["x"].as_array().unwrap().len(), N);
    assert_eq!(map["row"].as_array().unwrap().len(), N);
    let idx = map["slices"][slices[0]["id"].as_str().unwrap()]
        .as_array()
        .unwrap();
    assert_eq!(idx.len(), members.len());
    let errors = map["error"].as_array().unwrap();
    let wrong = errors.iter().filter(|e| e.as_f64().unwrap() > 0.5).count() as f64;
    assert!((wrong / N as f64 - result["overall"]["error_rate"].as_f64().unwrap()).abs() < 1e-9);
    // Every example row has its label, prediction, text and a thumbnail,
    // except row 0 whose image is corrupt: it is named in the warnings.
    let examples = data["examples"].as_object().unwrap();
    assert!(!examples.is_empty());
    for (row, ex) in examples {
        assert!(ex["label"].is_string() && ex["pred"].is_string());
        assert!(ex["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("row {row} ")));
        if row == "0" {
            assert!(ex["image"].is_null());
        } else {
            assert!(ex["image"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,"));
        }
    }
    let warnings = data["meta"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), usize::from(examples.contains_key("0")));
    // The Markdown summary.
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.starts_with("### slicescope: Planted test — model-v2"),
        "{md}"
    );
    assert!(md.contains("| # | slice | size | error [95% CI] |"), "{md}");
    assert!(md.contains("\n| 1 | "), "{md}");
}

#[test]
fn image_paths_resolve_against_the_data_folder_and_outputs_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let table = write_table(dir.path());
    let html = dir.path().join("r.html");
    let args = ["--report", html.to_str().unwrap(), "--image-column", "path"];
    let out = scan(&table, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = data_of(&std::fs::read_to_string(&html).unwrap());
    for ex in data["examples"].as_object().unwrap().values() {
        assert!(ex["image"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,"));
    }
    let before = std::fs::read(&html).unwrap();
    let again = scan(&table, &args);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&html).unwrap(), before);
}

#[test]
fn a_misnamed_image_column_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let table = write_table(dir.path());
    let html = dir.path().join("r.html");
    let out = scan(
        &table,
        &["--report", html.to_str().unwrap(), "--image-column", "imgs"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'imgs'") && err.contains("img"), "{err}");
    assert!(!html.exists());
}
