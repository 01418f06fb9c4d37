//! End-to-end tests of `slicescope compare`: known slices measured with
//! both models (paired tests), new and vanished slices, every gate, and
//! each exit code (0 pass, 1 gate failed, 2 input error).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slicescope"))
        .args(args)
        .output()
        .expect("run slicescope")
}

fn out(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

struct XorShift(u64);
impl XorShift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 4,000 rows. Model A errs 60% on color = red ∧ size = L and 30% on
/// color = green ∧ size = S, 6% elsewhere. Model `fixed` (B) fixes the
/// red–L slice, gets worse on green–S (45%) and fails a new region
/// (color = blue ∧ region = south, 50%). Model `same` is A with 1 row in
/// 400 flipped. Losses follow the errors.
fn fixture(dir: &Path) -> PathBuf {
    let mut rng = XorShift(17);
    let mut csv = String::from("color,size,region,label,pred,pred_b,pred_same,loss_a,loss_b\n");
    for i in 0..4000u32 {
        let color = ["red", "green", "blue"][(i % 3) as usize];
        let size = ["S", "M", "L", "XL"][((i / 3) % 4) as usize];
        let region = ["north", "south"][((i / 12) % 2) as usize];
        let label = if rng.uniform() < 0.5 { "cat" } else { "dog" };
        let other = if label == "cat" { "dog" } else { "cat" };
        let (mut pa, mut pb) = (0.06, 0.06);
        if color == "red" && size == "L" {
            pa = 0.6;
        }
        if color == "green" && size == "S" {
            pa = 0.3;
            pb = 0.45;
        }
        if color == "blue" && region == "south" {
            pb = 0.5;
        }
        let wa = rng.uniform() < pa;
        let wb = rng.uniform() < pb;
        // A few rows (1 in 400) flipped either way: no real change.
        let ws = if i % 400 == 0 { !wa } else { wa };
        let p = |w: bool| if w { other } else { label };
        let la = if wa { 2.0 } else { 0.1 } + 0.01 * (i % 7) as f64;
        let lb = if wb { 2.0 } else { 0.1 } + 0.01 * (i % 5) as f64;
        csv.push_str(&format!(
            "{color},{size},{region},{label},{},{},{},{la},{lb}\n",
            p(wa),
            p(wb),
            p(ws)
        ));
    }
    let path = dir.join("eval.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

const ATTRS: &str = "color,size,region";

#[test]
fn regression_new_and_vanished_slices() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let report = dir.path().join("cmp.json");
    let o = run(&[
        "compare",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--pred-b",
        "pred_b",
        "--attributes",
        ATTRS,
        "--fail-on",
        "regression",
        "--json",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("gate FAILED: --fail-on 'regression'"),
        "{text}"
    );
    assert!(
        text.contains("significantly worse in B: S") && text.contains("color = green ∧ size = S"),
        "{text}"
    );
    let d = json(&report);
    assert_eq!(d["kind"], "slicescope-compare");
    assert_eq!(d["known_from"], "scan-a");
    assert_eq!(d["passed"], false);
    assert_eq!(d["a"]["column"], "pred");
    assert_eq!(d["b"]["column"], "pred_b");
    let known = d["known"].as_array().unwrap();
    let find = |desc: &str| {
        known
            .iter()
            .find(|c| c["description"] == desc)
            .unwrap_or_else(|| panic!("no known slice '{desc}' in {known:?}"))
    };
    let red = find("color = red ∧ size = L");
    assert_eq!(red["status"], "better");
    assert_eq!(red["vanished"], true);
    assert_eq!(red["test"], "mcnemar-exact");
    assert!(red["diff"].as_f64().unwrap() < -0.4);
    let green = find("color = green ∧ size = S");
    assert_eq!(green["status"], "worse");
    assert!(green["q_value"].as_f64().unwrap() < 0.05);
    // McNemar on the slice's rows: the counts are the discordant rows.
    let (fixed, broken) = (
        green["fixed"].as_f64().unwrap(),
        green["broken"].as_f64().unwrap(),
    );
    let size = green["size"].as_f64().unwrap();
    let (ra, rb) = (
        green["a"]["rate"].as_f64().unwrap(),
        green["b"]["rate"].as_f64().unwrap(),
    );
    assert!(((rb - ra) * size - (broken - fixed)).abs() < 1e-6);
    // The new failure region is new in B.
    let new = d["new_in_b"].as_array().unwrap();
    assert!(
        new.iter()
            .any(|c| c["description"] == "color = blue ∧ region = south" && c["status"] == "new"),
        "{new:?}"
    );
    assert!(d["vanished"]
        .as_array()
        .unwrap()
        .contains(&red["id"].clone()));
    // Overall: B errs more (the new region outweighs the fix).
    assert!(d["overall"]["diff"].as_f64().unwrap() > 0.0);
    let net: f64 = known
        .iter()
        .map(|c| {
            c["b"]["excess_errors"].as_f64().unwrap() - c["a"]["excess_errors"].as_f64().unwrap()
        })
        .sum();
    assert!((net - d["net_excess_change"].as_f64().unwrap()).abs() < 1e-6);

    // Each gate on its own.
    let gate = |g: &str, b: &str| {
        run(&[
            "compare",
            s(&data),
            "--label",
            "label",
            "--pred",
            "pred",
            "--pred-b",
            b,
            "--attributes",
            ATTRS,
            "--fail-on",
            g,
            "--quiet",
        ])
    };
    let o = gate("new-slices>0", "pred_b");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("new slice(s) in B"), "{}", out(&o));
    let o = gate("new-slices>20", "pred_b");
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = gate("error-rate>0.4:size>=300", "pred_b");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("color = blue ∧ region = south"),
        "{}",
        out(&o)
    );
    let o = gate("error-rate>0.9", "pred_b");
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = gate("regression:size>=1000", "pred_b");
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A model that changes almost nothing passes every gate.
    for g in ["regression", "new-slices>0", "delta>0.05:size>=100"] {
        let o = gate(g, "pred_same");
        assert_eq!(o.status.code(), Some(0), "{g}: {}", out(&o));
        assert!(
            out(&o).contains(&format!("gate passed: --fail-on '{g}'")),
            "{}",
            out(&o)
        );
    }
}

#[test]
fn saved_slices_losses_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let slices = dir.path().join("slices.json");
    let o = run(&[
        "scan",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        ATTRS,
        "--save-slices",
        s(&slices),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    // The saved slices are the known ones; without attributes B is not
    // scanned (a note says so) and the gate still works.
    let report = dir.path().join("cmp.json");
    let o = run(&[
        "compare",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--pred-b",
        "pred_b",
        "--slices",
        s(&slices),
        "--fail-on",
        "regression",
        "--json",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("B was not scanned"), "{}", out(&o));
    let d = json(&report);
    assert_eq!(d["known_from"], "slice-file");
    assert_eq!(d["scanned_b"], false);
    let file = json(&slices);
    assert_eq!(d["slices_file"]["content_hash"], file["content_hash"]);
    assert_eq!(
        d["known"].as_array().unwrap().len(),
        file["slices"].as_array().unwrap().len()
    );
    // With attributes too: B is scanned.
    let o = run(&[
        "compare",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--pred-b",
        "pred_b",
        "--slices",
        s(&slices),
        "--attributes",
        ATTRS,
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("new in B ("), "{}", out(&o));

    // Losses: a paired t-test.
    let o = run(&[
        "compare",
        s(&data),
        "--loss",
        "loss_a",
        "--loss-b",
        "loss_b",
        "--attributes",
        ATTRS,
        "--json",
        s(&dir.path().join("loss.json")),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let d = json(&dir.path().join("loss.json"));
    assert_eq!(d["overall"]["test"], "paired-t");
    assert_eq!(d["binary_errors"], false);

    // Input errors exit 2 with a message.
    let bad = |args: &[&str], needle: &str| {
        let mut all = vec!["compare", s(&data), "--label", "label", "--pred", "pred"];
        all.extend_from_slice(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(out(&o).contains(needle), "expected '{needle}': {}", out(&o));
    };
    bad(&["--attributes", ATTRS], "--pred-b COL");
    bad(
        &[
            "--pred-b",
            "pred_b",
            "--loss-b",
            "loss_b",
            "--attributes",
            ATTRS,
        ],
        "exactly one of",
    );
    bad(
        &["--pred-b", "pred_c", "--attributes", ATTRS],
        "'pred_c' not found",
    );
    bad(&["--pred-b", "pred_b"], "compare needs known slices");
    bad(
        &[
            "--pred-b",
            "pred_b",
            "--attributes",
            ATTRS,
            "--fail-on",
            "eror-rate>0.3",
        ],
        "did you mean 'error-rate'",
    );
    bad(
        &[
            "--pred-b",
            "pred_b",
            "--attributes",
            ATTRS,
            "--fail-on",
            "new-slices",
        ],
        "expected new-slices>K",
    );
    bad(
        &[
            "--pred-b",
            "pred_b",
            "--attributes",
            ATTRS,
            "--report",
            "r.html",
        ],
        "compare writes --json",
    );
    bad(
        &["--pred-b", "pred", "--attributes", ATTRS],
        "the same column",
    );
}

fn adult(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/adult")
        .join(name)
}

/// The bundled model versions (examples/adult/make_versions.py): v1 fixes
/// v0's known slices, v2 regresses on v1's.
#[test]
fn adult_versions_fix_and_regress() {
    let dir = tempfile::tempdir().unwrap();
    let data = adult("adult_versions.parquet");
    let config = adult("slicescope.toml");
    // v0's slices, saved; v1 against them: better, the gate passes.
    let v0 = dir.path().join("v0-slices.json");
    let o = run(&[
        "scan",
        s(&data),
        "--config",
        s(&config),
        "--pred",
        "pred_v0",
        "--save-slices",
        s(&v0),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    let fix = dir.path().join("fix.json");
    let o = run(&[
        "compare",
        s(&data),
        "--config",
        s(&config),
        "--pred",
        "pred_v0",
        "--pred-b",
        "pred",
        "--slices",
        s(&v0),
        "--fail-on",
        "regression",
        "--fail-on",
        "new-slices>0",
        "--json",
        s(&fix),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let d = json(&fix);
    let known = d["known"].as_array().unwrap();
    assert!(!known.is_empty());
    assert_eq!(known[0]["status"], "better", "{}", known[0]);
    assert!(known.iter().all(|c| c["status"] != "worse"));
    assert!(d["net_excess_change"].as_f64().unwrap() < 0.0);
    // v2 against v1's slices (found by the scan of A): worse, exit 1.
    let o = run(&[
        "compare",
        s(&data),
        "--config",
        s(&config),
        "--pred-b",
        "pred_v2",
        "--fail-on",
        "regression",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("gate FAILED: --fail-on 'regression'"),
        "{text}"
    );
    assert!(
        text.contains("marital_status = Married-civ-spouse"),
        "{text}"
    );
}
