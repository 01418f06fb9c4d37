//! End-to-end tests of `scan --save-slices` and `slicescope apply`: the
//! saved definitions reproduce the scan's members on the scanned rows
//! (exactly for attribute rules and, on these inputs, for every embedding
//! definition; docs/workflow.md gives the tolerance), tag unlabelled rows,
//! write the tags file, and fail with clear messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slicescope"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run slicescope")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

/// A JSON file; `apply --json` documents are checked against
/// docs/slicescope-apply.schema.json on the way (every field the code writes must be in
/// the schema: it has additionalProperties false throughout).
fn json(p: &Path) -> Value {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    if doc["kind"] == "slicescope-apply" {
        assert_schema_valid("slicescope-apply.schema.json", &doc);
    }
    doc
}

include!("support/schema.rs");

#[test]
fn apply_schema_rejects_bad_documents() {
    assert_schema_rejects("slicescope-apply.schema.json", &serde_json::json!({}));
    assert_schema_rejects(
        "slicescope-apply.schema.json",
        &serde_json::json!({"kind": "slicescope-apply"}),
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Members per slice id: the scan's (sorted) and apply's.
fn members(doc: &Value) -> BTreeMap<String, Vec<u64>> {
    doc["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sl| {
            let mut m: Vec<u64> = sl["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            m.sort_unstable();
            (sl["id"].as_str().unwrap().to_string(), m)
        })
        .collect()
}

#[test]
fn adult_rules_reproduce_the_scan_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("examples/adult/adult_test.parquet");
    let config = root().join("examples/adult/slicescope.toml");
    let (scan_json, slices, apply_json) = (
        dir.path().join("scan.json"),
        dir.path().join("slices.json"),
        dir.path().join("apply.json"),
    );
    let o = run(&[
        "scan",
        s(&data),
        "--config",
        s(&config),
        "--json",
        s(&scan_json),
        "--save-slices",
        s(&slices),
        "--quiet",
    ]);
    ok(&o);
    let file = json(&slices);
    assert_eq!(file["format"], "slicescope-slices");
    assert_eq!(file["format_version"], "1.1");
    assert!(file["content_hash"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    assert_eq!(file["outcome"]["columns"]["label"], "label");
    assert_eq!(file["outcome"]["columns"]["pred"], "pred");
    assert_eq!(
        file["outcome"]["classes"],
        serde_json::json!(["<=50K", ">50K"])
    );
    // The same scan writes the same bytes.
    let again = dir.path().join("again.json");
    ok(&run(&[
        "scan",
        s(&data),
        "--config",
        s(&config),
        "--save-slices",
        s(&again),
        "--quiet",
    ]));
    assert_eq!(
        std::fs::read(&slices).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let o = run(&[
        "apply",
        s(&slices),
        s(&data),
        "--json",
        s(&apply_json),
        "--members",
    ]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("error rate 12.9%"), "{out}");
    assert!(out.contains("marital_status = Married-civ-spouse"), "{out}");
    let scan = json(&scan_json);
    let applied = json(&apply_json);
    let mut extra = applied.clone();
    extra["slices"][0]["stats"]["surprise"] = Value::from(1);
    assert_schema_rejects("slicescope-apply.schema.json", &extra);
    assert_eq!(applied["kind"], "slicescope-apply");
    assert_eq!(applied["slices_file"]["content_hash"], file["content_hash"]);
    let (want, got) = (members(&scan), members(&applied));
    assert_eq!(want.len(), 10);
    assert_eq!(want, got, "apply must select exactly the scan's members");
    // Same rows, same outcome: the same statistics (the q-values differ:
    // the scan adjusts over every hypothesis it tested).
    for (a, b) in scan["slices"]
        .as_array()
        .unwrap()
        .iter()
        .zip(applied["slices"].as_array().unwrap())
    {
        for k in [
            "size",
            "errors",
            "error_rate",
            "ci_low",
            "ci_high",
            "excess_errors",
            "p_value",
        ] {
            let (x, y) = (
                a["stats"][k].as_f64().unwrap(),
                b["stats"][k].as_f64().unwrap(),
            );
            assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{k}: {x} vs {y}");
        }
        assert_eq!(b["scan"]["error_rate"], a["stats"]["error_rate"]);
    }
}

/// Tiny deterministic generator for the embedding fixture.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// 2,400 rows, a 12-d embedding; rows 0..150 (a blob) err 70% of the
/// time, rows of zone z3 25%, the rest 6%. Writes the labelled table, an
/// unlabelled copy (id, group and zone only) and the view.
fn fixture(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (n, d) = (2400usize, 12usize);
    let mut rng = XorShift(99);
    let mut emb = Vec::with_capacity(n * d);
    let mut csv = String::from("id,label,pred,group,zone\n");
    let mut bare = String::from("id,group,zone\n");
    for i in 0..n {
        let blob = i < 150;
        for j in 0..d {
            let shift = if blob && j < 3 { 4.0 } else { 0.0 };
            emb.push((rng.normal() + shift) as f32);
        }
        let label = i % 3;
        let zone = (i / 7) % 4;
        let rate = if blob {
            0.7
        } else if zone == 3 {
            0.25
        } else {
            0.06
        };
        let wrong = rng.uniform() < rate;
        let pred = if wrong { (label + 1) % 3 } else { label };
        let group = if i % 2 == 0 { "x" } else { "y" };
        csv.push_str(&format!("{i},c{label},c{pred},{group},z{zone}\n"));
        bare.push_str(&format!("{i},{group},z{zone}\n"));
    }
    let (table, unlabelled, view) = (dir.join("t.csv"), dir.join("new.csv"), dir.join("emb.npy"));
    std::fs::write(&table, csv).unwrap();
    std::fs::write(&unlabelled, bare).unwrap();
    std::fs::write(&view, npy_f32(&emb, n, d)).unwrap();
    (table, unlabelled, view)
}

#[test]
fn embedding_definitions_reproduce_the_scan_and_tag_unlabelled_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (table, unlabelled, view) = fixture(dir.path());
    let (scan_json, slices, apply_json) = (
        dir.path().join("scan.json"),
        dir.path().join("slices.json"),
        dir.path().join("apply.json"),
    );
    let view_flag = format!("emb={}", view.display());
    ok(&run(&[
        "scan",
        s(&table),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "group,zone",
        "--view",
        &view_flag,
        "--show-all",
        // Keep near-duplicates from different slicers apart, so that every
        // kind of definition is listed.
        "--merge-jaccard",
        "1",
        "--json",
        s(&scan_json),
        "--save-slices",
        s(&slices),
        "--quiet",
    ]));
    let file = json(&slices);
    let v = &file["views"][0];
    assert_eq!(v["name"], "emb");
    assert_eq!(v["dim_in"], 12);
    assert_eq!(v["mean"].as_array().unwrap().len(), 12);
    assert_eq!(
        v["axes"].as_array().unwrap().len(),
        12 * v["dim"].as_u64().unwrap() as usize
    );
    let kinds: Vec<&str> = file["slices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|sl| sl["definition"]["kind"].as_str())
        .collect();
    for k in ["kernel", "halfspace", "gaussian"] {
        assert!(kinds.contains(&k), "no {k} slice in {kinds:?}");
    }

    ok(&run(&[
        "apply",
        s(&slices),
        s(&table),
        "--view",
        &view_flag,
        "--json",
        s(&apply_json),
        "--members",
        "--quiet",
    ]));
    let scan = json(&scan_json);
    let applied = json(&apply_json);
    let (want, got) = (members(&scan), members(&applied));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for sl in scan["slices"].as_array().unwrap() {
        let id = sl["id"].as_str().unwrap();
        let (a, b) = (&want[id], &got[id]);
        match sl["definition"]["kind"].as_str() {
            // Gaussian posteriors are recomputed from single-precision
            // parameters (docs/workflow.md): rows at the threshold may move.
            Some("gaussian") => {
                let inter = a.iter().filter(|r| b.binary_search(r).is_ok()).count();
                let j = inter as f64 / (a.len() + b.len() - inter) as f64;
                assert!(j >= 0.99, "{id}: Jaccard {j}");
            }
            _ => assert_eq!(a, b, "{id} ({})", sl["description"]),
        }
    }

    // Unlabelled rows (the same rows without label and prediction): counts
    // only; slices defined with the label are skipped and say why.
    let tags_csv = dir.path().join("tags.csv");
    let tags_pq = dir.path().join("tags.parquet");
    let new_json = dir.path().join("new.json");
    let o = run(&[
        "apply",
        s(&slices),
        s(&unlabelled),
        "--view",
        &view_flag,
        "--json",
        s(&new_json),
        "--members",
        "--tags",
        s(&tags_csv),
        "--keep",
        "id",
    ]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("counts only"), "{out}");
    let doc = json(&new_json);
    assert!(doc["outcome"].is_null());
    let needs: Vec<&str> = file["slices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|sl| sl["needs_labels"] == true)
        .map(|sl| sl["id"].as_str().unwrap())
        .collect();
    let skipped: Vec<&str> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(needs, skipped);
    let tagged = members(&doc);
    for (id, m) in &tagged {
        assert_eq!(m, &got[id], "{id}: the same rows without labels");
    }
    // The CSV tags: one line per row, the ids of its slices.
    let text = std::fs::read_to_string(&tags_csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], &["row", "id", "slices"]);
    assert_eq!(header.len(), 3 + tagged.len());
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2400);
    for (r, line) in rows.iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], r.to_string());
        assert_eq!(f[1], r.to_string());
        let ids: Vec<&str> = if f[2].is_empty() {
            Vec::new()
        } else {
            f[2].split(';').collect()
        };
        for (k, id) in header[3..].iter().enumerate() {
            let inside = tagged[*id].binary_search(&(r as u64)).is_ok();
            assert_eq!(f[3 + k] == "1", inside, "row {r} {id}");
            assert_eq!(ids.contains(id), inside, "row {r} {id}");
        }
    }
    // The Parquet tags hold the same.
    ok(&run(&[
        "apply",
        s(&slices),
        s(&unlabelled),
        "--view",
        &view_flag,
        "--tags",
        s(&tags_pq),
        "--quiet",
    ]));
    let f = std::fs::File::open(&tags_pq).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let mut seen = 0usize;
    for batch in reader {
        let batch = batch.unwrap();
        let (id, set) = tagged.iter().next().unwrap();
        let col = batch
            .column_by_name(id)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .unwrap()
            .clone();
        for i in 0..batch.num_rows() {
            let r = (seen + i) as u64;
            assert_eq!(col.value(i), set.binary_search(&r).is_ok());
        }
        seen += batch.num_rows();
    }
    assert_eq!(seen, 2400);
    // --only a slice that needs labels, on unlabelled rows: an error.
    if let Some(id) = needs.first() {
        let o = run(&[
            "apply",
            s(&slices),
            s(&unlabelled),
            "--view",
            &view_flag,
            "--only",
            id,
        ]);
        fails(&o, 2, "needs the label column");
    }
}

#[test]
fn per_class_spotlights_apply_within_their_class() {
    let dir = tempfile::tempdir().unwrap();
    let (table, unlabelled, view) = fixture(dir.path());
    let config = dir.path().join("per_class.toml");
    std::fs::write(&config, "[spotlight]\nper_class = true\nn_spotlights = 2\n").unwrap();
    let (scan_json, slices, apply_json, new_json) = (
        dir.path().join("scan.json"),
        dir.path().join("slices.json"),
        dir.path().join("apply.json"),
        dir.path().join("new.json"),
    );
    let view_flag = format!("emb={}", view.display());
    ok(&run(&[
        "scan",
        s(&table),
        "--label",
        "label",
        "--pred",
        "pred",
        "--view",
        &view_flag,
        "--slicers",
        "spotlight",
        "--config",
        s(&config),
        "--show-all",
        "--json",
        s(&scan_json),
        "--save-slices",
        s(&slices),
        "--quiet",
    ]));
    let scan = json(&scan_json);
    assert_schema_valid("slicescope-result.schema.json", &scan);
    let listed = scan["slices"].as_array().unwrap();
    assert!(!listed.is_empty());
    let label_of: Vec<String> = std::fs::read_to_string(&table)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    for sl in listed {
        // Every spotlight is restricted to one label class, and its rows
        // all have that label.
        let class = sl["definition"]["class"].as_str().unwrap();
        assert!(sl["description"]
            .as_str()
            .unwrap()
            .contains(&format!("class '{class}'")));
        for r in sl["members"].as_array().unwrap() {
            assert_eq!(label_of[r.as_u64().unwrap() as usize], class);
        }
    }
    let file = json(&slices);
    assert!(file["slices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|sl| sl["needs_labels"] == true));
    // Applied to the same rows: the same members.
    ok(&run(&[
        "apply",
        s(&slices),
        s(&table),
        "--view",
        &view_flag,
        "--json",
        s(&apply_json),
        "--members",
        "--quiet",
    ]));
    assert_eq!(members(&scan), members(&json(&apply_json)));
    // Unlabelled rows: every slice is skipped, as it needs the labels.
    ok(&run(&[
        "apply",
        s(&slices),
        s(&unlabelled),
        "--view",
        &view_flag,
        "--json",
        s(&new_json),
        "--quiet",
    ]));
    let doc = json(&new_json);
    assert_eq!(doc["skipped"].as_array().unwrap().len(), listed.len());
}

#[test]
fn apply_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (table, unlabelled, view) = fixture(dir.path());
    let slices = dir.path().join("slices.json");
    let view_flag = format!("emb={}", view.display());
    ok(&run(&[
        "scan",
        s(&table),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "group,zone",
        "--view",
        &view_flag,
        "--slicers",
        "lattice,spotlight",
        "--show-all",
        "--save-slices",
        s(&slices),
        "--quiet",
    ]));
    // Never overwritten without --force.
    let o = run(&[
        "scan",
        s(&table),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "group",
        "--save-slices",
        s(&slices),
        "--quiet",
    ]);
    fails(&o, 2, "already exists; pass --force");
    let text = std::fs::read_to_string(&slices).unwrap();
    let edit = |from: &str, to: &str, name: &str| -> PathBuf {
        assert!(text.contains(from), "{from}");
        let p = dir.path().join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        p
    };
    // A future format version.
    let p = edit(
        "\"format_version\": \"1.1\"",
        "\"format_version\": \"2.0\"",
        "v2.json",
    );
    fails(
        &run(&["apply", s(&p), s(&table), "--view", &view_flag]),
        2,
        "unknown format version 2.0",
    );
    // An edited file: the hash says so, --no-verify reads it anyway.
    let p = edit(
        "\"description\": \"",
        "\"description\": \"edited ",
        "edited.json",
    );
    fails(
        &run(&["apply", s(&p), s(&table), "--view", &view_flag]),
        2,
        "content hash mismatch",
    );
    ok(&run(&[
        "apply",
        s(&p),
        s(&table),
        "--view",
        &view_flag,
        "--no-verify",
        "--quiet",
    ]));
    // A scan result is not a slice file.
    let scan_json = dir.path().join("scan.json");
    ok(&run(&[
        "scan",
        s(&table),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "group",
        "--json",
        s(&scan_json),
        "--quiet",
    ]));
    fails(
        &run(&["apply", s(&scan_json), s(&table)]),
        2,
        "--save-slices",
    );
    // The view is missing, of another dimension, or of another length.
    fails(
        &run(&["apply", s(&slices), s(&table)]),
        2,
        "needs view 'emb' (12-dimensional vectors",
    );
    let narrow = dir.path().join("narrow.npy");
    std::fs::write(&narrow, npy_f32(&vec![0.5; 2400 * 8], 2400, 8)).unwrap();
    fails(
        &run(&[
            "apply",
            s(&slices),
            s(&table),
            "--view",
            &format!("emb={}", narrow.display()),
        ]),
        2,
        "8-dimensional vectors, but the slices were defined on 12-dimensional",
    );
    let short = dir.path().join("short.npy");
    std::fs::write(&short, npy_f32(&vec![0.5; 100 * 12], 100, 12)).unwrap();
    fails(
        &run(&[
            "apply",
            s(&slices),
            s(&table),
            "--view",
            &format!("emb={}", short.display()),
        ]),
        2,
        "has 100 rows but the table has 2400",
    );
    fails(
        &run(&["apply", s(&slices), s(&table), "--view", "clip=x.npy"]),
        2,
        "no slice of the file lives in a view named 'clip'",
    );
    // A rule's column is missing: named, with the slice.
    let renamed = dir.path().join("renamed.csv");
    std::fs::write(
        &renamed,
        std::fs::read_to_string(&unlabelled).unwrap().replacen(
            "id,group,zone",
            "id,group,zones",
            1,
        ),
    )
    .unwrap();
    let file = json(&slices);
    let rule_ids: Vec<&str> = file["slices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|sl| !sl["rule"].is_null())
        .map(|sl| sl["id"].as_str().unwrap())
        .collect();
    assert!(!rule_ids.is_empty());
    let o = run(&["apply", s(&slices), s(&renamed), "--view", &view_flag]);
    fails(&o, 2, "column 'zone' not found; did you mean 'zones'?");
    fails(&o, 2, &format!("slice {}", rule_ids[0]));
    // Unknown ids, outputs that exist.
    fails(
        &run(&["apply", s(&slices), s(&table), "--only", "S99"]),
        2,
        "no slice 'S99'",
    );
    let out = dir.path().join("out.json");
    std::fs::write(&out, "{}").unwrap();
    fails(
        &run(&[
            "apply",
            s(&slices),
            s(&table),
            "--view",
            &view_flag,
            "--json",
            s(&out),
        ]),
        2,
        "already exists",
    );
    fails(
        &run(&["apply", s(&slices), s(&table), "--tags", "tags.txt"]),
        2,
        "must end in .parquet or .csv",
    );
}

mod support {
    include!("support/npy.rs");
}
use support::npy_f32;
