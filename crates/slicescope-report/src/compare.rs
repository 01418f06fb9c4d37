//! The report and the Markdown summary of `slicescope compare`: two models
//! (or two saved runs) on the same evaluation set, slice by slice.
//!
//! Both take the comparison as the JSON document `compare --json` writes
//! (`docs/slicescope-compare.schema.json`), so the report shows exactly
//! what the JSON says.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::markdown::{cell, num, q, thousands};
use crate::{Meta, REPORT_VERSION};

/// The data of the comparison report: the compare document with the
/// report's metadata (`kind: "compare"`).
pub fn compare_report_data(doc: &Value, meta: &Meta) -> Value {
    json!({
        "report_version": REPORT_VERSION,
        "kind": "compare",
        "meta": crate::meta_json(meta, &[]),
        "compare": doc,
    })
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A short Markdown summary of a comparison: the header (models, rows,
/// overall rates with intervals, the difference and its test, the net
/// change in excess errors, each gate with its reasons), the known slices
/// (the first `top`), the new slices in B and the vanished ones.
pub fn compare_markdown(doc: &Value, meta: &Meta, top: usize) -> String {
    let binary = doc["binary_errors"].as_bool().unwrap_or(false);
    let rate = |v: &Value| match f(v) {
        Some(x) if binary => format!("{:.1}%", 100.0 * x),
        Some(x) => num(x),
        None => "–".into(),
    };
    let delta = |v: &Value| match f(v) {
        Some(x) if binary => format!("{:+.1}", 100.0 * x),
        Some(x) => format!("{x:+.3}"),
        None => "–".into(),
    };
    let unit = if binary { " points" } else { "" };
    let pv = |v: &Value| f(v).map_or("–".into(), q);
    let mut s = String::new();
    let title = match &meta.run_name {
        Some(run) => format!("{} — {}", meta.title, run),
        None => meta.title.clone(),
    };
    let (a, b) = (text(&doc["a"]["name"]), text(&doc["b"]["name"]));
    let _ = writeln!(s, "### slicescope compare: {}\n", cell(&title));
    let o = &doc["overall"];
    let _ = writeln!(
        s,
        "**A** {} · **B** {} · {} rows · {}: A {} [{}, {}] → B {} [{}, {}], {}{} [{}, {}] ({}, p = {}){}\n",
        cell(a),
        cell(b),
        thousands(o["size"].as_u64().unwrap_or(0)),
        text(&doc["metric"]),
        rate(&o["rate_a"]),
        rate(&o["ci_a"][0]),
        rate(&o["ci_a"][1]),
        rate(&o["rate_b"]),
        rate(&o["ci_b"][0]),
        rate(&o["ci_b"][1]),
        delta(&o["diff"]),
        unit,
        delta(&o["diff_ci"][0]),
        delta(&o["diff_ci"][1]),
        text(&o["test"]),
        pv(&o["p_value"]),
        if doc["mode"] == "unpaired" {
            " · **unpaired** (saved runs keep no per-row errors)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "Net change in excess errors over the known slices: **{:+.1}** (B − A)\n",
        f(&doc["net_excess_change"]).unwrap_or(0.0)
    );
    if let Some(gates) = doc["gates"].as_array().filter(|g| !g.is_empty()) {
        for g in gates {
            let passed = g["passed"].as_bool().unwrap_or(false);
            let _ = writeln!(
                s,
                "- gate `{}`: **{}**",
                text(&g["gate"]).replace('`', "'"),
                if passed { "passed" } else { "FAILED" }
            );
            for r in g["reasons"].as_array().into_iter().flatten() {
                let _ = writeln!(s, "  - {}", cell(text(r)));
            }
        }
        s.push('\n');
    }
    let row_table = |s: &mut String, rows: &[Value]| {
        let _ = writeln!(
            s,
            "| id | slice | size | A | B | Δ B−A [95% CI] | q | status |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---|---:|---|");
        for c in rows.iter().take(top) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} [{}, {}] | {} | {} |",
                cell(text(&c["id"])),
                cell(text(&c["description"])),
                thousands(c["size"].as_u64().unwrap_or(0)),
                rate(&c["a"]["rate"]),
                rate(&c["b"]["rate"]),
                delta(&c["diff"]),
                delta(&c["diff_ci_low"]),
                delta(&c["diff_ci_high"]),
                if c["q_value"].is_null() {
                    pv(&c["p_value"])
                } else {
                    pv(&c["q_value"])
                },
                text(&c["status"]),
            );
        }
        if rows.len() > top {
            let _ = writeln!(s, "\n({} more in the JSON output)", rows.len() - top);
        }
        s.push('\n');
    };
    let known: Vec<Value> = doc["known"].as_array().cloned().unwrap_or_default();
    let count = |st: &str| known.iter().filter(|c| c["status"] == st).count();
    let _ = writeln!(
        s,
        "**Known slices** ({}): {} worse, {} better, {} unchanged{}\n",
        known.len(),
        count("worse"),
        count("better"),
        count("unchanged"),
        if count("vanished") > 0 {
            format!(", {} vanished", count("vanished"))
        } else {
            String::new()
        }
    );
    if !known.is_empty() {
        row_table(&mut s, &known);
    }
    let new: Vec<Value> = doc["new_in_b"].as_array().cloned().unwrap_or_default();
    if doc["scanned_b"].as_bool().unwrap_or(false) {
        let _ = writeln!(s, "**New in B** ({})\n", new.len());
        if !new.is_empty() {
            row_table(&mut s, &new);
        }
        let vanished: Vec<String> = doc["vanished"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                let id = text(v);
                let d = known
                    .iter()
                    .find(|c| c["id"] == *v)
                    .map_or("", |c| text(&c["description"]));
                format!("{} ({})", cell(id), cell(d))
            })
            .collect();
        let _ = writeln!(
            s,
            "**Vanished** ({}){}{}\n",
            vanished.len(),
            if vanished.is_empty() { "" } else { ": " },
            vanished.join(", ")
        );
    } else {
        let _ = writeln!(
            s,
            "B was not scanned: new and vanished slices are not known.\n"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            title: "eval.parquet".into(),
            run_name: None,
            command: "slicescope compare".into(),
            generated_at: "2026-01-01T00:00:00Z".into(),
            duration_seconds: 1.0,
        }
    }

    fn doc() -> Value {
        let slice = |id: &str, desc: &str, ra: f64, rb: f64, q: Value, status: &str| {
            json!({"id": id, "description": desc, "size": 1200, "a": {"rate": ra}, "b": {"rate": rb},
                   "diff": rb - ra, "diff_ci_low": rb - ra - 0.02, "diff_ci_high": rb - ra + 0.02,
                   "p_value": 0.001, "q_value": q, "status": status})
        };
        json!({
            "mode": "paired", "metric": "error rate", "binary_errors": true,
            "a": {"name": "v1", "column": "pred_v1"}, "b": {"name": "v2", "column": "pred_v2"},
            "overall": {"size": 16281, "rate_a": 0.13, "ci_a": [0.125, 0.135], "rate_b": 0.15,
                        "ci_b": [0.145, 0.155], "diff": 0.02, "diff_ci": [0.015, 0.025],
                        "p_value": 1e-9, "test": "mcnemar-exact"},
            "net_excess_change": 123.45,
            "gates": [{"gate": "regression", "passed": false,
                       "reasons": ["significantly worse in B: S1 'a | b'"], "slices": ["S1"]}],
            "known": [slice("S1", "a | b", 0.2, 0.3, json!(0.002), "worse"),
                      slice("S2", "c = d", 0.3, 0.2, json!(0.01), "better")],
            "new_in_b": [slice("B:S3", "e = f", 0.1, 0.4, Value::Null, "new")],
            "vanished": ["S2"], "scanned_b": true
        })
    }

    #[test]
    fn markdown_states_header_gates_and_every_table() {
        let md = compare_markdown(&doc(), &meta(), 10);
        assert!(
            md.starts_with("### slicescope compare: eval.parquet\n"),
            "{md}"
        );
        assert!(
            md.contains("**A** v1 · **B** v2 · 16,281 rows · error rate: A 13.0% [12.5%, 13.5%] → B 15.0% [14.5%, 15.5%], +2.0 points [+1.5, +2.5] (mcnemar-exact, p = 1.0e-9)"),
            "{md}"
        );
        assert!(md.contains("**+123.5** (B − A)"), "{md}");
        assert!(md.contains("- gate `regression`: **FAILED**"), "{md}");
        // Pipes in texts are escaped, so the table keeps its columns.
        assert!(
            md.contains(
                "| S1 | a \\| b | 1,200 | 20.0% | 30.0% | +10.0 [+8.0, +12.0] | 0.002 | worse |"
            ),
            "{md}"
        );
        assert!(
            md.contains("**Known slices** (2): 1 worse, 1 better, 0 unchanged"),
            "{md}"
        );
        // A new slice has no q-value: its p-value is shown.
        assert!(
            md.contains(
                "| B:S3 | e = f | 1,200 | 10.0% | 40.0% | +30.0 [+28.0, +32.0] | 0.001 | new |"
            ),
            "{md}"
        );
        assert!(md.contains("**Vanished** (1): S2 (c = d)"), "{md}");
        for line in md.lines().filter(|l| l.starts_with("| ")) {
            assert_eq!(line.matches(" | ").count(), 7, "{line}");
        }
        // top cuts the tables.
        let md = compare_markdown(&doc(), &meta(), 1);
        assert!(md.contains("(1 more in the JSON output)"), "{md}");
    }

    #[test]
    fn report_data_wraps_the_document() {
        let d = compare_report_data(&doc(), &meta());
        assert_eq!(d["kind"], "compare");
        assert_eq!(d["report_version"], REPORT_VERSION);
        assert_eq!(d["compare"], doc());
        assert_eq!(d["meta"]["title"], "eval.parquet");
        let page = crate::compare_html(&d).unwrap();
        assert!(page.contains("Comparison"));
        // The data round-trips out of the page.
        let inner = page
            .split("<script id=\"slicescope-data\" type=\"application/json\">")
            .nth(1)
            .and_then(|x| x.split("</script>").next())
            .unwrap_or_default();
        let back: Value = serde_json::from_str(inner).unwrap_or_default();
        assert_eq!(back, d);
    }
}
