//! The run history: scan, apply and compare recorded in one SQLite store,
//! `slicescope history` following a slice through them, concurrent
//! writers, a crash in the middle of a write, and schema versions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// slicescope with the history environment cleared.
fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_slicescope"));
    c.env_remove("SLICESCOPE_HISTORY")
        .env_remove("SLICESCOPE_FAULT_ABORT_IN_HISTORY_WRITE");
    c
}

fn run(args: &[&str]) -> Output {
    cmd().args(args).output().unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", show(o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 1,200 rows: errors planted on color = red ∧ size = L; `pred_b` is
/// worse there.
fn table(dir: &Path) -> PathBuf {
    let mut csv = String::from("color,size,label,pred,pred_b\n");
    for i in 0..1200u32 {
        let color = ["red", "green", "blue"][(i % 3) as usize];
        let size = ["S", "M", "L", "XL"][((i / 3) % 4) as usize];
        let planted = color == "red" && size == "L";
        let wa = if planted { i % 5 < 3 } else { i % 13 == 0 };
        let wb = if planted { i % 5 < 4 } else { i % 13 == 0 };
        let label = if i % 2 == 0 { "cat" } else { "dog" };
        let other = if i % 2 == 0 { "dog" } else { "cat" };
        csv.push_str(&format!(
            "{color},{size},{label},{},{}\n",
            if wa { other } else { label },
            if wb { other } else { label }
        ));
    }
    let p = dir.join("eval.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

fn runs(store: &Path) -> Vec<Value> {
    let out = ok(&run(&["history", s(store), "--json", "--last", "1000"]));
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn runs_are_recorded_and_a_slice_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data = table(dir.path());
    let slices = dir.path().join("slices.json");
    // By default the store is .slicescope/history.db next to the data.
    ok(&run(&[
        "scan",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "color,size",
        "--save-slices",
        s(&slices),
        "--run-name",
        "v1",
        "--quiet",
    ]));
    let store = dir.path().join(".slicescope/history.db");
    assert!(store.is_file());
    ok(&run(&[
        "apply",
        s(&slices),
        s(&data),
        "--run-name",
        "v1",
        "--quiet",
        "--json",
        s(&dir.path().join("a.json")),
    ]));
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
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    // --no-history records nothing.
    ok(&run(&[
        "apply",
        s(&slices),
        s(&data),
        "--no-history",
        "--quiet",
        "--json",
        s(&dir.path().join("b.json")),
    ]));
    let all = runs(&store);
    let kinds: Vec<&str> = all.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["scan", "apply", "compare"]);
    assert_eq!(all[2]["exit_code"], 1);
    assert_eq!(all[2]["model_a"], "pred");
    assert_eq!(all[2]["model"], "pred_b");
    assert!(all[0]["data_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    assert_eq!(all[0]["data_fingerprint"], all[1]["data_fingerprint"]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&slices).unwrap()).unwrap();
    assert_eq!(all[0]["slices_file_hash"], file["content_hash"]);

    // The planted slice through the three runs, by key (or a prefix).
    let top = &file["slices"][0];
    assert_eq!(top["description"], "color = red ∧ size = L");
    let key = top["key"].as_str().unwrap();
    for q in [key, &key[8..16], "color = red ∧ size = L"] {
        let out = ok(&run(&["history", s(dir.path()), "--slice", q, "--json"]));
        let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
        let origins: Vec<&str> = rows.iter().map(|r| r["origin"].as_str().unwrap()).collect();
        assert_eq!(origins, vec!["found", "applied", "known"], "{q}");
        assert!(rows.iter().all(|r| r["slice_key"] == key));
        assert_eq!(rows[2]["status"], "worse");
        assert!(
            rows[2]["error_rate"].as_f64().unwrap() > rows[2]["error_rate_a"].as_f64().unwrap()
        );
    }
    let text = ok(&run(&["history", s(&store), "--slice", key]));
    assert!(text.contains("in 3 run(s)"), "{text}");
    let text = ok(&run(&["history", s(&store), "--run", "3"]));
    assert!(
        text.contains("pred → pred_b") && text.contains("worse"),
        "{text}"
    );
    let text = ok(&run(&["history", s(&data)]));
    assert!(text.contains("3 run(s), schema version 1"), "{text}");
}

#[test]
fn concurrent_writers_and_a_crash_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = table(dir.path());
    let slices = dir.path().join("slices.json");
    let store = dir.path().join("h.db");
    ok(&run(&[
        "scan",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "color,size",
        "--save-slices",
        s(&slices),
        "--history",
        s(&store),
        "--quiet",
    ]));
    let n_slices = {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&slices).unwrap()).unwrap();
        file["slices"].as_array().unwrap().len()
    };
    assert!(n_slices >= 3, "{n_slices}");
    // Eight writers at once.
    let children: Vec<_> = (0..8)
        .map(|i| {
            cmd()
                .args([
                    "apply",
                    s(&slices),
                    s(&data),
                    "--history",
                    s(&store),
                    "--quiet",
                    "--run-name",
                    &format!("w{i}"),
                    "--json",
                    s(&dir.path().join(format!("w{i}.json"))),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", show(&o));
        assert!(o.stderr.is_empty(), "{}", show(&o));
    }
    assert_eq!(runs(&store).len(), 9);
    // A process that dies after writing 2 of its slice rows leaves nothing.
    let o = cmd()
        .args([
            "apply",
            s(&slices),
            s(&data),
            "--history",
            s(&store),
            "--quiet",
            "--run-name",
            "crash",
        ])
        .env("SLICESCOPE_FAULT_ABORT_IN_HISTORY_WRITE", "2")
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "the fault hook must abort: {}",
        show(&o)
    );
    let all = runs(&store);
    assert_eq!(all.len(), 9, "no partial run");
    assert!(all.iter().all(|r| r["run_name"] != "crash"));
    let conn = rusqlite::Connection::open(&store).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM run_slices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as usize, 9 * n_slices, "no orphan slice rows");
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM run_slices WHERE run_id NOT IN (SELECT id FROM runs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    drop(conn);
    // The store keeps working.
    ok(&run(&[
        "apply",
        s(&slices),
        s(&data),
        "--history",
        s(&store),
        "--quiet",
        "--json",
        s(&dir.path().join("after.json")),
    ]));
    assert_eq!(runs(&store).len(), 10);
}

#[test]
fn schema_versions() {
    let dir = tempfile::tempdir().unwrap();
    let data = table(dir.path());
    // An empty SQLite file (version 0) is migrated on first use.
    let store = dir.path().join("empty.db");
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute_batch("CREATE TABLE other (x INTEGER);")
        .unwrap();
    ok(&run(&[
        "scan",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "color,size",
        "--history",
        s(&store),
        "--quiet",
    ]));
    let conn = rusqlite::Connection::open(&store).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1);
    // A store from a newer slicescope: history refuses it; a scan still
    // succeeds and warns that it did not record.
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let o = run(&["history", s(&store)]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        show(&o).contains("schema version 99, newer than this slicescope's (1)"),
        "{}",
        show(&o)
    );
    let o = run(&[
        "scan",
        s(&data),
        "--label",
        "label",
        "--pred",
        "pred",
        "--attributes",
        "color,size",
        "--history",
        s(&store),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        show(&o).contains("warning: the run was not recorded"),
        "{}",
        show(&o)
    );
    // No store: a clear message.
    let o = run(&["history", s(&dir.path().join("none"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(show(&o).contains("no history store at"), "{}", show(&o));
    // SLICESCOPE_HISTORY=off records nothing.
    let other = tempfile::tempdir().unwrap();
    let data2 = table(other.path());
    let o = cmd()
        .args([
            "scan",
            s(&data2),
            "--label",
            "label",
            "--pred",
            "pred",
            "--attributes",
            "color,size",
            "--quiet",
        ])
        .env("SLICESCOPE_HISTORY", "off")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert!(!other.path().join(".slicescope").exists());
}
