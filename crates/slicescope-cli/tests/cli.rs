//! End-to-end tests of the `slicescope` binary: real runs on the bundled
//! example and on small tables written here, every exit code, and the JSON
//! output checked against the checked-in JSON Schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn adult() -> String {
    root()
        .join("examples/adult/adult_test.parquet")
        .display()
        .to_string()
}

fn adult_config() -> String {
    root()
        .join("examples/adult/slicescope.toml")
        .display()
        .to_string()
}

/// A small classification table: 400 rows, errors planted on
/// (color = red ∧ size = L) at 80%, elsewhere 1 in 10.
fn write_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("id,color,size,weight_kg,label,pred,score,loss\n");
    for i in 0..400u32 {
        let color = ["red", "green", "blue"][(i % 3) as usize];
        let size = ["S", "M", "L", "XL"][((i / 3) % 4) as usize];
        let w = (i * 37 % 100) as f64 / 10.0;
        let planted = color == "red" && size == "L";
        let wrong = if planted { i % 5 != 0 } else { i % 10 == 0 };
        let label = if i % 2 == 0 { "cat" } else { "dog" };
        let pred = if wrong {
            if label == "cat" {
                "dog"
            } else {
                "cat"
            }
        } else {
            label
        };
        let score = if pred == "dog" { 0.8 } else { 0.2 };
        let loss = if wrong { 2.0 } else { 0.1 };
        s.push_str(&format!(
            "{i},{color},{size},{w},{label},{pred},{score},{loss}\n"
        ));
    }
    let p = dir.join("table.csv");
    std::fs::write(&p, s).unwrap();
    p
}

// ---------------------------------------------------------------------------
// The JSON Schema validator shared with the apply and compare tests.
include!("support/schema.rs");

fn assert_valid(doc: &Value) {
    assert_schema_valid("slicescope-result.schema.json", doc);
}

#[test]
fn validator_rejects_bad_documents() {
    // The schema check itself must be able to fail.
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"schema_version": 1}),
    ] {
        assert_schema_rejects("slicescope-result.schema.json", &bad);
    }
}

// ---------------------------------------------------------------------------

#[test]
fn adult_example_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let o = run(&[
        "scan",
        &adult(),
        "--config",
        &adult_config(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("16,281 rows · classification · error rate 12.9%"),
        "{out}"
    );
    assert!(out.contains("ranked by excess errors"), "{out}");
    assert!(out.contains("marital_status = Married-civ-spouse"), "{out}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_valid(&doc);
    let slices = doc["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 10);
    assert_eq!(doc["overall"]["size"], 16281);
    let mut prev_excess = f64::INFINITY;
    for s in slices {
        let st = &s["stats"];
        let size = st["size"].as_u64().unwrap();
        let members = s["members"].as_array().unwrap();
        assert_eq!(members.len() as u64, size);
        assert!(members.windows(2).all(|w| w[0].as_u64() < w[1].as_u64()));
        assert!(size as f64 >= doc["parameters"]["min_support_resolved"].as_f64().unwrap());
        let ex = st["excess_errors"].as_f64().unwrap();
        assert!(ex <= prev_excess);
        prev_excess = ex;
        assert!(st["q_value"].as_f64().unwrap() >= st["p_value"].as_f64().unwrap());
        assert!(st["ci_low"].as_f64().unwrap() <= st["error_rate"].as_f64().unwrap());
        assert!(s["score"].as_f64().unwrap() > 0.0);
    }
    // Existing output is not overwritten without --force.
    let o = run(&[
        "scan",
        &adult(),
        "--config",
        &adult_config(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already exists; pass --force"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "scan",
        &adult(),
        "--config",
        &adult_config(),
        "--json",
        json.to_str().unwrap(),
        "--force",
        "--quiet",
    ]);
    assert!(o.status.success());
    assert!(
        stdout(&o).is_empty(),
        "--quiet with --json prints nothing: {}",
        stdout(&o)
    );
}

#[test]
fn members_and_statistics_are_exact_on_a_planted_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let json = dir.path().join("o.json");
    let o = run(&[
        "scan",
        csv.to_str().unwrap(),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "color,size,weight_kg",
        "--lattice-k",
        "3",
        "--lattice-min-support",
        "10",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_valid(&doc);
    let top = &doc["slices"][0];
    assert_eq!(
        top["rule"]["text"],
        "color = red ∧ size = L",
        "{}",
        stdout(&o)
    );
    // Rows with i % 3 == 0 (red) and (i / 3) % 4 == 2 (L).
    let expected: Vec<u64> = (0..400u64)
        .filter(|i| i % 3 == 0 && (i / 3) % 4 == 2)
        .collect();
    let members: Vec<u64> = top["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect();
    assert_eq!(members, expected);
    let errors = expected.iter().filter(|&&i| i % 5 != 0).count() as f64;
    assert_eq!(top["stats"]["errors"].as_f64().unwrap(), errors);
    assert_eq!(top["stats"]["test"], "fisher-exact");
    assert_eq!(
        top["rule"]["predicates"][0],
        serde_json::json!({"op": "eq", "column": "color", "value": "red"})
    );
}

#[test]
fn other_tasks_run() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let c = csv.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["--label", "label", "--score", "score", "--positive", "dog"],
        &[
            "--label",
            "label",
            "--score",
            "score",
            "--positive",
            "dog",
            "--signal",
            "loss",
        ],
        &["--loss", "loss"],
        &[
            "--label",
            "weight_kg",
            "--pred",
            "score",
            "--task",
            "regression",
        ],
        &[
            "--label",
            "weight_kg",
            "--pred",
            "score",
            "--task",
            "regression",
            "--tolerance",
            "3",
        ],
        &[
            "--label",
            "label",
            "--pred",
            "pred",
            "--weight",
            "weight_kg",
        ],
    ];
    for extra in cases {
        let mut args = vec![
            "scan",
            c,
            "--attributes",
            "color,size",
            "--lattice-min-support",
            "10",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("400 rows"), "{extra:?}: {}", stdout(&o));
    }
}

#[test]
fn attributes_all_excludes_outcome_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let json = dir.path().join("o.json");
    let o = run(&[
        "scan",
        csv.to_str().unwrap(),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes-all",
        "--json",
        json.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = doc["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["id", "color", "size", "weight_kg", "score", "loss"]
    );
}

fn expect_input_error(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: expected exit 2, stdout {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "{args:?}: stderr does not contain {needle:?}:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gives_clear_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let c = csv.to_str().unwrap();
    // Misnamed columns, with near matches.
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "lable",
            "--pred",
            "pred",
            "--attributes",
            "color",
        ],
        "label column 'lable' not found; did you mean 'label'?",
    );
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "colour",
        ],
        "attribute column 'colour' not found; did you mean 'color'?",
    );
    // No outcome.
    expect_input_error(
        &["scan", c, "--label", "label", "--attributes", "color"],
        "one of --pred COL, --probs COL, --score COL or --loss COL",
    );
    // Binary with string labels needs --positive.
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--score",
            "score",
            "--attributes",
            "color",
        ],
        "--positive",
    );
    // Bad parameter values.
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
            "--lattice-alpha",
            "0",
        ],
        "invalid parameter 'alpha'",
    );
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
            "--slicers",
            "latice",
        ],
        "did you mean 'lattice'",
    );
    // Missing file, garbage file, truncated Parquet.
    expect_input_error(
        &[
            "scan",
            "/nonexistent/x.parquet",
            "--label",
            "a",
            "--pred",
            "b",
        ],
        "/nonexistent/x.parquet",
    );
    let garbage = dir.path().join("g.parquet");
    std::fs::write(&garbage, b"this is not a parquet file at all").unwrap();
    expect_input_error(
        &[
            "scan",
            garbage.to_str().unwrap(),
            "--label",
            "a",
            "--pred",
            "b",
        ],
        "g.parquet",
    );
    let bytes = std::fs::read(adult()).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    expect_input_error(
        &["scan", cut.to_str().unwrap(), "--config", &adult_config()],
        "cut.parquet",
    );
    // Empty table.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "label,pred,color\n").unwrap();
    expect_input_error(
        &[
            "scan",
            empty.to_str().unwrap(),
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
        ],
        "no rows",
    );
    // A single class.
    let one = dir.path().join("one.csv");
    std::fs::write(&one, "label,pred,color\na,a,x\na,b,y\na,a,x\n").unwrap();
    expect_input_error(
        &[
            "scan",
            one.to_str().unwrap(),
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
        ],
        "single class",
    );
    // NaN in labels of a regression, named with the rows.
    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, "y,p,color\n1.0,1.5,x\nNaN,2.0,y\n3.0,2.0,x\n").unwrap();
    expect_input_error(
        &[
            "scan",
            nan.to_str().unwrap(),
            "--label",
            "y",
            "--pred",
            "p",
            "--task",
            "regression",
            "--attributes",
            "color",
        ],
        "(row 1)",
    );
    // Label values that never appear among predictions.
    let disjoint = dir.path().join("disjoint.csv");
    std::fs::write(&disjoint, "label,pred,color\n0,no,x\n1,yes,y\n").unwrap();
    expect_input_error(
        &[
            "scan",
            disjoint.to_str().unwrap(),
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
        ],
        "ever appears in prediction column",
    );
    // A view whose row count differs from the table.
    let npy = dir.path().join("emb.npy");
    std::fs::write(&npy, npy_f32(&[0.0; 6], 3, 2)).unwrap();
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
            "--view",
            &format!("e={}", npy.display()),
        ],
        "has 3 rows but the table has 400",
    );
    // A view with NaN values.
    let nan_npy = dir.path().join("nan.npy");
    let mut vals = vec![0.5f32; 800];
    vals[7] = f32::NAN;
    std::fs::write(&nan_npy, npy_f32(&vals, 400, 2)).unwrap();
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
            "--view",
            &format!("e={}", nan_npy.display()),
        ],
        "NaN or infinite values in 1 row (row 3)",
    );
    // Config file with an unknown key.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[lattice]\nmax_levle = 2\n").unwrap();
    expect_input_error(
        &["scan", c, "--config", cfg.to_str().unwrap()],
        "did you mean `max_level`?",
    );
    // The output directory must exist.
    expect_input_error(
        &[
            "scan",
            c,
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color",
            "--json",
            "/nonexistent-dir/o.json",
        ],
        "does not exist",
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["scan"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["scan", "x.csv", "--attributes", "a", "--attributes-all"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--version"]);
    assert!(o.status.success());
}

#[test]
fn flags_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("o.json");
    let o = run(&[
        "scan",
        &adult(),
        "--config",
        &adult_config(),
        "--lattice-k",
        "3",
        "--lattice-max-level",
        "1",
        "--json",
        json.to_str().unwrap(),
        "--no-members",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["slices"].as_array().unwrap().len(), 3);
    assert_eq!(doc["parameters"]["lattice"]["max_level"], 1);
    assert_eq!(doc["parameters"]["lattice"]["alpha"], 0.95);
    for s in doc["slices"].as_array().unwrap() {
        assert_eq!(s["rule"]["predicates"].as_array().unwrap().len(), 1);
        assert!(s["members"].is_null());
    }
}

#[test]
fn output_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = Vec::new();
    for i in 0..2 {
        let json = dir.path().join(format!("o{i}.json"));
        let o = run(&[
            "scan",
            &adult(),
            "--config",
            &adult_config(),
            "--json",
            json.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success());
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        doc["timing"] = Value::Null;
        docs.push(doc);
    }
    assert_eq!(docs[0], docs[1]);
}

mod support {
    include!("support/npy.rs");
}
use support::npy_f32;
