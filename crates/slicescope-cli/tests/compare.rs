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

/// A JSON file; `compare --json` documents are checked against
/// docs/slicescope-compare.schema.json on the way (every field the code writes must be in
/// the schema: it has additionalProperties false throughout).
fn json(p: &Path) -> Value {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    if doc["kind"] == "slicescope-compare" {
        assert_schema_valid("slicescope-compare.schema.json", &doc);
    }
    doc
}

include!("support/schema.rs");

#[test]
fn compare_schema_rejects_bad_documents() {
    assert_schema_rejects("slicescope-compare.schema.json", &serde_json::json!({}));
    assert_schema_rejects(
        "slicescope-compare.schema.json",
        &serde_json::json!({"kind": "slicescope-compare"}),
    );
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

/// `slicescope scan DATA --label label --pred PRED --attributes ATTRS
/// --quiet EXTRA...`, which must succeed.
fn scan_ok(data: &Path, pred: &str, extra: &[&str]) {
    let mut args = vec![
        "scan",
        s(data),
        "--label",
        "label",
        "--pred",
        pred,
        "--attributes",
        ATTRS,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", out(&o));
}

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
    // The schema refuses a field it does not list, at the top and inside.
    let mut extra = d.clone();
    extra["surprise"] = Value::from(1);
    assert_schema_rejects("slicescope-compare.schema.json", &extra);
    let mut extra = d.clone();
    extra["known"][0]["a"]["surprise"] = Value::from(1);
    assert_schema_rejects("slicescope-compare.schema.json", &extra);
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
    scan_ok(&data, "pred", &["--save-slices", s(&slices)]);
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
            "--membership",
            "m.npy",
        ],
        "is a scan output",
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

/// Model A's outputs in one file, B's in another: the fixture split in two,
/// B's file shuffled (paired by --id) or in the same order (by position).
fn split_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let text = std::fs::read_to_string(fixture(dir)).unwrap();
    let mut lines = text.lines();
    lines.next();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // color,size,region,label,pred,pred_b,...
    let mut a = String::from("row_id,color,size,region,label,pred\n");
    let mut b_same = String::from("label,pred\n");
    for (i, r) in rows.iter().enumerate() {
        a.push_str(&format!(
            "r{i},{},{},{},{},{}\n",
            r[0], r[1], r[2], r[3], r[4]
        ));
        b_same.push_str(&format!("{},{}\n", r[3], r[5]));
    }
    // Shuffled: B's rows in a different order, its column named otherwise.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = XorShift(5);
    for i in (1..order.len()).rev() {
        let j = (rng.uniform() * (i + 1) as f64) as usize;
        order.swap(i, j);
    }
    let mut b_shuf = String::from("row_id,label,model_out\n");
    for &i in &order {
        b_shuf.push_str(&format!("r{i},{},{}\n", rows[i][3], rows[i][5]));
    }
    let (pa, pb, ps) = (
        dir.join("a.csv"),
        dir.join("b.csv"),
        dir.join("b_shuffled.csv"),
    );
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b_same).unwrap();
    std::fs::write(&ps, b_shuf).unwrap();
    (pa, pb, ps)
}

#[test]
fn two_files_paired_by_position_or_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let (fa, fb, fs) = split_files(dir.path());
    // The one-table comparison is the reference.
    let one = dir.path().join("one.json");
    let base = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "compare",
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            ATTRS,
            "--json",
            s(out),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let o = base(&[s(&data), "--pred-b", "pred_b"], &one);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let one = json(&one);
    // By position: B's file has the same column name.
    let pos = dir.path().join("pos.json");
    let o = base(&[s(&fa), s(&fb)], &pos);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let pos = json(&pos);
    assert_eq!(pos["data"]["paired_by"], "position");
    assert_eq!(pos["data"]["path_b"], s(&fb));
    assert_eq!(pos["b"]["name"], "b.csv:pred");
    // By id, shuffled, B's column named with --pred-b.
    let byid = dir.path().join("id.json");
    let o = base(
        &[s(&fa), s(&fs), "--id", "row_id", "--pred-b", "model_out"],
        &byid,
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let byid = json(&byid);
    assert_eq!(byid["data"]["paired_by"], "id:row_id");
    // The history records B's file with its fingerprint, and the pairing.
    let store = fa.parent().unwrap().join(".slicescope/history.db");
    let conn = rusqlite::Connection::open(&store).unwrap();
    let (inputs, params): (String, String) = conn
        .query_row(
            "SELECT inputs, parameters FROM runs WHERE kind = 'compare' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let inputs: Value = serde_json::from_str(&inputs).unwrap();
    let params: Value = serde_json::from_str(&params).unwrap();
    assert_eq!(inputs["data_b"]["path"], s(&fs));
    assert!(inputs["data_b"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    assert_eq!(params["paired_by"], "id:row_id");
    assert_eq!(byid["b"]["column"], "model_out");
    for d in [&pos, &byid] {
        for k in [
            "overall",
            "known",
            "new_in_b",
            "vanished",
            "net_excess_change",
        ] {
            assert_eq!(d[k], one[k], "{k} differs from the one-table comparison");
        }
    }

    // Errors (exit 2), each naming the problem.
    let bad = |args: &[&str], needle: &str| {
        let mut all = vec![
            "compare",
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            ATTRS,
        ];
        all.extend_from_slice(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(out(&o).contains(needle), "expected '{needle}': {}", out(&o));
    };
    // Shuffled rows by position: the labels disagree.
    bad(
        &[s(&fa), s(&fs), "--pred-b", "model_out"],
        "differs between",
    );
    bad(&[s(&fa), s(&fs), "--pred-b", "model_out"], "--id COL");
    // B's column named wrongly.
    bad(
        &[s(&fa), s(&fs), "--id", "row_id"],
        "model B's output column 'pred' not found",
    );
    // Id column missing from B.
    bad(
        &[s(&fa), s(&fb), "--id", "row_id"],
        "id column 'row_id' not found",
    );
    // Missing and duplicate ids are counted.
    let text = std::fs::read_to_string(&fs).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.truncate(lines.len() - 3);
    let dup = lines[1].to_string();
    lines.push(&dup);
    let holes = dir.path().join("holes.csv");
    std::fs::write(&holes, lines.join("\n") + "\n").unwrap();
    bad(
        &[s(&fa), s(&holes), "--id", "row_id", "--pred-b", "model_out"],
        "1 duplicate id(s) in",
    );
    bad(
        &[s(&fa), s(&holes), "--id", "row_id", "--pred-b", "model_out"],
        "3 id(s) of",
    );
    // Row counts differ, by position.
    bad(
        &[s(&fa), s(&holes), "--pred-b", "model_out"],
        "pass --id COL",
    );
    // --id without a second file.
    bad(
        &[s(&data), "--pred-b", "pred_b", "--id", "color"],
        "give model B's file",
    );
}

/// Two saved runs: scan results (--json) and history runs (run:ID). Per-row
/// errors are not saved, so slices are matched (key, else Jaccard) and
/// compared with an unpaired two-proportion test.
#[test]
fn saved_runs_scan_results_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let store = dir.path().join("h.db");
    let scan = |pred: &str, dest: &Path| {
        scan_ok(&data, pred, &["--json", s(dest), "--history", s(&store)]);
    };
    let (ja, jb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    scan("pred", &ja);
    scan("pred_b", &jb);
    let cmp = dir.path().join("saved.json");
    let (html, md) = (dir.path().join("saved.html"), dir.path().join("saved.md"));
    let o = run(&[
        "compare",
        s(&ja),
        s(&jb),
        "--fail-on",
        "regression",
        "--fail-on",
        "new-slices>0",
        "--fail-on",
        "delta>0.5",
        "--json",
        s(&cmp),
        "--report",
        s(&html),
        "--markdown",
        s(&md),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(text.contains("unpaired comparison"), "{text}");
    assert!(
        text.contains("gate FAILED: --fail-on 'regression'"),
        "{text}"
    );
    assert!(
        text.contains("gate FAILED: --fail-on 'new-slices>0'"),
        "{text}"
    );
    assert!(
        text.contains("gate passed: --fail-on 'delta>0.5'"),
        "{text}"
    );
    let d = json(&cmp);
    assert_eq!(d["mode"], "unpaired");
    assert_eq!(d["known_from"], "run-a");
    assert_eq!(d["runs"]["a"]["kind"], "scan-json");
    let known = d["known"].as_array().unwrap();
    let find = |desc: &str| {
        known
            .iter()
            .find(|c| c["description"] == desc)
            .unwrap_or_else(|| panic!("no known slice '{desc}' in {known:?}"))
    };
    let green = find("color = green ∧ size = S");
    assert_eq!(green["status"], "worse");
    assert_eq!(green["test"], "two-proportion-z");
    assert_eq!(green["best_match"]["by"], "key");
    assert!(green["fixed"].is_null() && green["broken"].is_null());
    // The two-proportion test by hand from the saved rates and sizes.
    let (ra, rb) = (
        green["a"]["rate"].as_f64().unwrap(),
        green["b"]["rate"].as_f64().unwrap(),
    );
    let (na, nb) = (
        green["size"].as_f64().unwrap(),
        green["size_b"].as_f64().unwrap(),
    );
    let pool = (ra * na + rb * nb) / (na + nb);
    let z = (rb - ra) / (pool * (1.0 - pool) * (1.0 / na + 1.0 / nb)).sqrt();
    assert!(z > 3.0, "{z}");
    assert!(green["p_value"].as_f64().unwrap() < 0.003);
    let red = find("color = red ∧ size = L");
    assert_eq!(red["status"], "vanished");
    assert!(red["b"]["rate"].is_null());
    assert!(d["vanished"].as_array().unwrap().contains(&red["id"]));
    assert!(d["new_in_b"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["description"] == "color = blue ∧ region = south"));
    // Net change: the matched slices only.
    let net: f64 = known
        .iter()
        .filter(|c| c["status"] != "vanished")
        .map(|c| {
            c["b"]["excess_errors"].as_f64().unwrap() - c["a"]["excess_errors"].as_f64().unwrap()
        })
        .sum();
    assert!((net - d["net_excess_change"].as_f64().unwrap()).abs() < 1e-6);
    // The report and the Markdown hold the comparison.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("slicescope comparison"));
    assert!(page.contains("color = green ∧ size = S"));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("**unpaired**"), "{md}");
    assert!(md.contains("color = green ∧ size = S"), "{md}");
    assert!(md.contains("- gate `regression`: **FAILED**"), "{md}");

    // The same two runs from the history store: the same verdicts.
    let hist = dir.path().join("hist.json");
    let o = run(&[
        "compare",
        "run:1",
        "run:2",
        "--history",
        s(&store),
        "--json",
        s(&hist),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let h = json(&hist);
    assert_eq!(h["runs"]["a"]["kind"], "history:scan");
    assert_eq!(h["runs"]["a"]["model"], "pred");
    // History runs keep no members: only key matches, and those agree.
    for c in h["known"].as_array().unwrap() {
        let same = known.iter().find(|k| k["id"] == c["id"]).unwrap();
        if same["best_match"]["by"] == "key" {
            assert_eq!(c["status"], same["status"], "{c}");
            assert_eq!(c["p_value"], same["p_value"], "{c}");
        } else {
            assert_eq!(c["status"], "vanished", "{c}");
        }
    }
    assert!(h["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("matched by key only")));
    assert!(h["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("same data file")));

    // Undefined numbers are null in a scan result (NaN): still read.
    let mut with_nulls = json(&ja);
    with_nulls["slices"][0]["stats"]["lift"] = Value::Null;
    with_nulls["overall"]["ci_low"] = Value::Null;
    let jn = dir.path().join("nulls.json");
    std::fs::write(&jn, serde_json::to_string(&with_nulls).unwrap()).unwrap();
    let o = run(&["compare", s(&jn), s(&jb)]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // Errors: exit 2 with a message.
    let bad = |args: &[&str], needle: &str| {
        let mut all = vec!["compare"];
        all.extend_from_slice(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(out(&o).contains(needle), "expected '{needle}': {}", out(&o));
    };
    bad(&[s(&ja), s(&data)], "two saved runs");
    bad(&[s(&ja)], "give two");
    bad(&["run:1", "run:9", "--history", s(&store)], "has no run 9");
    bad(
        &["run:1", "run:x", "--history", s(&store)],
        "a run id is a number",
    );
    bad(&[s(&ja), s(&jb), "--slices", s(&ja)], "reads no table");
    // Overwrite refused without --force.
    bad(&[s(&ja), s(&jb), "--report", s(&html)], "already exists");
    // A run on another evaluation set (fewer rows).
    let text = std::fs::read_to_string(&data).unwrap();
    let short: Vec<&str> = text.lines().take(3001).collect();
    let small = dir.path().join("small.csv");
    std::fs::write(&small, short.join("\n") + "\n").unwrap();
    let js = dir.path().join("small.json");
    scan_ok(&small, "pred", &["--json", s(&js), "--no-history"]);
    bad(&[s(&ja), s(&js)], "not on the same evaluation set");
    // A slice file is not a run.
    let sf = dir.path().join("slices.json");
    scan_ok(&data, "pred", &["--save-slices", s(&sf), "--no-history"]);
    bad(&[s(&sf), s(&jb)], "a slice file");
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"x": 1}"#).unwrap();
    bad(&[s(&other), s(&jb)], "not a scan result");
}

/// compare --report / --markdown on a table (paired).
#[test]
fn paired_report_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let (html, md) = (dir.path().join("c.html"), dir.path().join("c.md"));
    let args = [
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
        "--report",
        s(&html),
        "--markdown",
        s(&md),
        "--fail-on",
        "regression",
        "--no-history",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains(&format!("wrote {}", s(&html))),
        "{}",
        out(&o)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let inner = page
        .split("<script id=\"slicescope-data\" type=\"application/json\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let data_json: Value = serde_json::from_str(inner).unwrap();
    assert_eq!(data_json["kind"], "compare");
    assert_eq!(data_json["compare"]["mode"], "paired");
    assert!(!data_json["compare"]["known"].as_array().unwrap().is_empty());
    assert!(page.contains("Content-Security-Policy"));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("### slicescope compare: eval.csv"), "{md}");
    assert!(md.contains("mcnemar-exact"), "{md}");
    assert!(md.contains("**New in B**"), "{md}");
    // Existing outputs are kept without --force, and replaced with it.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("already exists"), "{}", out(&o));
    let mut forced = args.to_vec();
    forced.push("--force");
    let o = run(&forced);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
}
