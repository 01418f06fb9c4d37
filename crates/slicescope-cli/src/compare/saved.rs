//! `slicescope compare A B` where A and B are saved runs: scan results
//! (`scan --json` files) or runs of the history store (`run:ID`).
//!
//! Per-row errors are not saved, so the paired tests of a comparison on a
//! table are impossible here. Instead the slices of the two runs are
//! matched (the same definition key, else member Jaccard ≥ 0.5 when both
//! runs saved their members), and each matched slice's rates are compared
//! with an **unpaired** test: a two-proportion z-test for unweighted 0/1
//! errors, otherwise a z-test on the difference with each side's standard
//! error taken from its saved 95% interval. Both models were measured on
//! the same rows, whose errors are positively correlated, so the unpaired
//! test is conservative: it finds fewer significant changes than the paired
//! test on the table would.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use slicescope_core::attributes::Predicate;
use slicescope_core::stats::benjamini_hochberg;
use slicescope_core::workflow::file::rule_key;
use slicescope_core::workflow::paired::Paired;
use slicescope_core::workflow::rows::RowSet;
use slicescope_core::Config;

use super::{
    settle, CompareArgs, CompareOutput, CompareSlice, Match, ModelRef, Side, MATCH_JACCARD,
};
use crate::gates::{self, GateResult, Origin};
use crate::history;

const Z95: f64 = 1.959_963_984_540_054;

/// A saved run's slice.
#[derive(Debug, Clone)]
struct SavedSlice {
    id: String,
    key: Option<String>,
    description: String,
    size: u64,
    rate: f64,
    ci_low: f64,
    ci_high: f64,
    excess: f64,
    q: Option<f64>,
    members: Option<RowSet>,
}

/// A saved run: a scan result file or a run of the history store.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct SavedRun {
    /// As given on the command line (a path, or run:ID).
    pub source: String,
    /// "scan-json" or "history:scan", "history:apply", "history:compare".
    pub kind: String,
    /// The model's output column (history runs; for a compare run, its B).
    pub model: Option<String>,
    /// The evaluation table the run read.
    pub data_path: Option<String>,
    pub data_fingerprint: Option<String>,
    pub n_rows: u64,
    pub metric: String,
    pub binary_errors: bool,
    #[serde(skip)]
    rate: f64,
    #[serde(skip)]
    ci: (f64, f64),
    #[serde(skip)]
    slices: Vec<SavedSlice>,
    #[serde(skip)]
    weighted: bool,
}

/// A positional argument naming a saved run: `run:ID` or a `.json` file.
pub(super) fn is_saved(p: &Path) -> bool {
    let t = p.to_string_lossy();
    t.starts_with("run:")
        || p.extension()
            .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case("json"))
}

fn nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

fn load_scan_json(path: &Path) -> Result<SavedRun> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the saved run", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    if v.get("format").and_then(|f| f.as_str()) == Some("slicescope-slices") {
        bail!(
            "{}: a slice file (scan --save-slices), not a scan result; compare it on a table: compare DATA --slices {} --pred A --pred-b B",
            path.display(),
            path.display()
        );
    }
    if let Some(kind) = v.get("kind").and_then(|f| f.as_str()) {
        bail!(
            "{}: a {kind} document, not a scan result; compare saved runs with scan --json results or run:ID",
            path.display()
        );
    }
    // Only the fields compare needs are read, as values: undefined numbers
    // are written as null (NaN), which the typed result does not read back.
    let bad = |what: &str| {
        anyhow::anyhow!(
            "{}: not a scan result of slicescope (scan --json): {what}",
            path.display()
        )
    };
    let num = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
    if v.get("schema_version").and_then(|x| x.as_str()).is_none() {
        return Err(bad("no schema_version"));
    }
    let n = v["input"]["n_rows"]
        .as_u64()
        .ok_or_else(|| bad("no input.n_rows"))? as usize;
    let metric = v["task"]["metric"]
        .as_str()
        .ok_or_else(|| bad("no task.metric"))?
        .to_string();
    let mut slices = Vec::new();
    for s in v["slices"].as_array().ok_or_else(|| bad("no slices"))? {
        if !s["equivalent_to"].is_null() {
            continue;
        }
        let id = s["id"].as_str().ok_or_else(|| bad("a slice without id"))?;
        let st = &s["stats"];
        let key = if s["definition"].is_null() {
            match s["rule"]["predicates"].as_array() {
                Some(_) => {
                    let preds: Vec<Predicate> =
                        serde_json::from_value(s["rule"]["predicates"].clone())
                            .map_err(|e| bad(&format!("slice {id}: {e}")))?;
                    Some(rule_key(&preds))
                }
                None => None,
            }
        } else {
            None
        };
        let members = match s["members"].as_array() {
            Some(m) => {
                let rows: Vec<u32> = m
                    .iter()
                    .filter_map(|x| x.as_u64())
                    .filter(|&x| (x as usize) < n)
                    .map(|x| x as u32)
                    .collect();
                Some(RowSet::from_rows(n, &rows))
            }
            None => None,
        };
        slices.push(SavedSlice {
            id: id.to_string(),
            key,
            description: s["description"].as_str().unwrap_or(id).to_string(),
            size: st["size"].as_u64().unwrap_or(0),
            rate: num(&st["error_rate"]),
            ci_low: num(&st["ci_low"]),
            ci_high: num(&st["ci_high"]),
            excess: num(&st["excess_errors"]),
            q: st["q_value"].as_f64(),
            members,
        });
    }
    Ok(SavedRun {
        source: path.display().to_string(),
        kind: "scan-json".into(),
        model: None,
        data_path: v["input"]["path"].as_str().map(String::from),
        data_fingerprint: None,
        n_rows: n as u64,
        metric,
        binary_errors: v["task"]["binary_errors"].as_bool().unwrap_or(false),
        rate: num(&v["overall"]["error_rate"]),
        ci: (num(&v["overall"]["ci_low"]), num(&v["overall"]["ci_high"])),
        slices,
        weighted: v["task"]["weighted"].as_bool().unwrap_or(false),
    })
}

fn load_history(store: &Path, id_text: &str) -> Result<SavedRun> {
    let id: i64 = id_text.trim().parse().map_err(|_| {
        anyhow::anyhow!("run:{id_text}: a run id is a number (see `slicescope history`)")
    })?;
    let (run, rows) = history::load_run(store, id)?;
    let (Some(n), Some(metric), Some(rate)) = (run.n_rows, run.metric.clone(), run.error_rate)
    else {
        bail!(
            "run:{id} ({} of {}) has no error statistics (it was run without the outcome columns); compare runs that measured errors",
            run.kind,
            run.data_path
        );
    };
    let binary = metric == "error rate";
    let slices: Vec<SavedSlice> = rows
        .iter()
        .filter(|r| r.error_rate.is_some())
        .map(|r| SavedSlice {
            id: r.slice_id.clone(),
            key: r.slice_key.clone(),
            description: r.description.clone(),
            size: r.size.unwrap_or(0).max(0) as u64,
            rate: nan(r.error_rate),
            ci_low: nan(r.ci_low),
            ci_high: nan(r.ci_high),
            excess: nan(r.excess_errors),
            q: r.q_value,
            members: None,
        })
        .collect();
    let n = n.max(0) as u64;
    let ci = if binary {
        slicescope_core::stats::wilson(rate * n as f64, n as f64, Z95)
    } else {
        (f64::NAN, f64::NAN)
    };
    Ok(SavedRun {
        source: format!("run:{id}"),
        kind: format!("history:{}", run.kind),
        model: run.model.clone(),
        data_path: Some(run.data_path.clone()),
        data_fingerprint: run.data_fingerprint.clone(),
        n_rows: n,
        metric,
        binary_errors: binary,
        rate,
        ci,
        slices,
        weighted: false,
    })
}

fn load(p: &Path, store: &Path) -> Result<SavedRun> {
    let t = p.to_string_lossy();
    match t.strip_prefix("run:") {
        Some(id) => load_history(store, id),
        None => load_scan_json(p),
    }
}

/// Two-sided normal tail: P(|Z| ≥ |z|).
fn two_sided(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// An unpaired test of B − A: (diff, 95% interval, p-value, test name).
/// `binary`: unweighted 0/1 errors, the two-proportion z-test (pooled
/// standard error for the test, unpooled for the interval); otherwise a
/// z-test with each side's standard error from its 95% interval.
pub(super) fn unpaired(
    binary: bool,
    (ra, na, ca): (f64, f64, (f64, f64)),
    (rb, nb, cb): (f64, f64, (f64, f64)),
) -> (f64, (f64, f64), f64, &'static str) {
    let diff = rb - ra;
    if binary {
        let se_u = (ra * (1.0 - ra) / na + rb * (1.0 - rb) / nb).sqrt();
        let pool = (ra * na + rb * nb) / (na + nb);
        let se_p = (pool * (1.0 - pool) * (1.0 / na + 1.0 / nb)).sqrt();
        let p = if se_p > 0.0 {
            two_sided(diff / se_p)
        } else if diff == 0.0 {
            1.0
        } else {
            0.0
        };
        (
            diff,
            (diff - Z95 * se_u, diff + Z95 * se_u),
            p,
            "two-proportion-z",
        )
    } else {
        let se = |c: (f64, f64)| (c.1 - c.0) / (2.0 * Z95);
        let s = (se(ca).powi(2) + se(cb).powi(2)).sqrt();
        let p = if s > 0.0 {
            two_sided(diff / s)
        } else {
            f64::NAN
        };
        (diff, (diff - Z95 * s, diff + Z95 * s), p, "unpaired-z")
    }
}

/// A slice of one run only, not (yet) compared: every difference and test
/// field is NaN or empty; the caller sets its status.
fn unmatched(
    origin: Origin,
    (id, key, description): (String, Option<String>, String),
    size: u64,
    share: f64,
    (a, b): (Side, Side),
) -> CompareSlice {
    CompareSlice {
        id,
        key,
        origin,
        description,
        size,
        size_b: None,
        share,
        a,
        b,
        diff: f64::NAN,
        diff_ci_low: f64::NAN,
        diff_ci_high: f64::NAN,
        fixed: f64::NAN,
        broken: f64::NAN,
        p_value: f64::NAN,
        q_value: None,
        test: String::new(),
        status: String::new(),
        best_match: None,
        vanished: None,
        scan_q_value: None,
        also: Vec::new(),
    }
}

/// The side of a run that does not have the slice.
fn empty_side() -> Side {
    side(f64::NAN, (f64::NAN, f64::NAN), 0, f64::NAN)
}

fn side(rate: f64, ci: (f64, f64), size: u64, excess: f64) -> Side {
    Side {
        rate,
        ci_low: ci.0,
        ci_high: ci.1,
        errors: rate * size as f64,
        excess_errors: excess,
    }
}

/// Run `compare` on two saved runs.
pub(super) fn run(
    a: &CompareArgs,
    config: &Config,
    gates: &[gates::GateSpec],
) -> Result<CompareOutput> {
    let s = &a.scan;
    let Some(pb) = a.data_b.as_deref() else {
        bail!(
            "{}: a saved run; give two (compare A.json B.json, or run:ID run:ID)",
            s.data.display()
        );
    };
    if !is_saved(&s.data) || !is_saved(pb) {
        bail!(
            "compare either two tables (or one with --pred-b) or two saved runs (scan --json files or run:ID); got {} and {}",
            s.data.display(),
            pb.display()
        );
    }
    for (flag, given) in [
        ("--slices", a.slices.is_some()),
        ("--id", a.id.is_some()),
        (
            "--pred-b/--probs-b/--score-b/--loss-b",
            a.pred_b.is_some() || a.probs_b.is_some() || a.score_b.is_some() || a.loss_b.is_some(),
        ),
        (
            "--attributes/--view",
            !config.columns.attributes.is_empty()
                || config.columns.attributes_all
                || !config.columns.views.is_empty(),
        ),
    ] {
        if given {
            bail!("{flag}: a comparison of saved runs reads no table, so it takes no {flag}; the runs' own slices are compared");
        }
    }
    let store: PathBuf = s
        .hist
        .history
        .clone()
        .or_else(|| {
            std::env::var("SLICESCOPE_HISTORY")
                .ok()
                .filter(|v| !v.trim().is_empty() && v.trim() != "off")
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| history::default_store(Path::new(".")));
    let ra = load(&s.data, &store)?;
    let rb = load(pb, &store)?;
    let mut notes: Vec<String> = vec![format!(
        "unpaired comparison: saved runs keep no per-row errors, so each matched slice's rates are compared with an unpaired {} (conservative: the two models' errors on the same rows are correlated, which only a paired test on the table uses)",
        if ra.binary_errors && !ra.weighted { "two-proportion z-test" } else { "z-test from the saved intervals" }
    )];
    if ra.n_rows != rb.n_rows {
        bail!(
            "{} has {} rows and {} has {}: the runs are not on the same evaluation set, so their slices cannot be compared",
            ra.source,
            ra.n_rows,
            rb.source,
            rb.n_rows
        );
    }
    if ra.metric != rb.metric {
        bail!(
            "{} measures {} and {} measures {}: compare runs of the same metric",
            ra.source,
            ra.metric,
            rb.source,
            rb.metric
        );
    }
    match (&ra.data_fingerprint, &rb.data_fingerprint) {
        (Some(x), Some(y)) if x == y => {
            notes.push(format!("both runs read the same data file (fingerprint {x})"))
        }
        (Some(_), Some(_)) => notes.push(format!(
            "the runs read different data files ({} and {}, {} rows each): make sure they hold the same evaluation rows",
            ra.data_path.as_deref().unwrap_or("?"),
            rb.data_path.as_deref().unwrap_or("?"),
            ra.n_rows
        )),
        _ => notes.push(format!(
            "same row count ({}); the data files' fingerprints are not saved in scan results, so check they hold the same evaluation rows",
            ra.n_rows
        )),
    }
    let has_members = |r: &SavedRun| r.slices.iter().any(|x| x.members.is_some());
    if !has_members(&ra) || !has_members(&rb) {
        notes.push("a run without saved members (history runs keep none): slices are matched by key only (the same rule or saved definition), so a slice whose rule changed slightly counts as vanished and new".into());
    }
    let binary = ra.binary_errors && rb.binary_errors && !ra.weighted && !rb.weighted;
    let n = ra.n_rows as f64;
    let fdr = config.testing.fdr;

    // Match A's slices to B's: the same key, else the B slice of the
    // highest member Jaccard, when ≥ 0.5. B's slices no A slice matches are
    // new in B.
    let mut used = vec![false; rb.slices.len()];
    // (A's slice, its match in B: B's slice, how, Jaccard).
    type Matched = Option<(usize, &'static str, f64)>;
    let mut pairs: Vec<(usize, Matched)> = Vec::new();
    for (i, sa) in ra.slices.iter().enumerate() {
        let by_key = sa.key.as_ref().and_then(|k| {
            rb.slices
                .iter()
                .enumerate()
                .find(|(j, sb)| !used[*j] && sb.key.as_ref() == Some(k))
                .map(|(j, sb)| {
                    let jac = match (&sa.members, &sb.members) {
                        (Some(x), Some(y)) => x.jaccard(y),
                        _ => f64::NAN,
                    };
                    (j, "key", jac)
                })
        });
        let m = by_key.or_else(|| {
            let ma = sa.members.as_ref()?;
            // Not exclusive (as in a paired comparison): several slices of
            // A can overlap one slice of B that much.
            rb.slices
                .iter()
                .enumerate()
                .filter_map(|(j, sb)| sb.members.as_ref().map(|mb| (j, ma.jaccard(mb))))
                .filter(|(_, jac)| *jac >= MATCH_JACCARD)
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(j, jac)| (j, "jaccard", jac))
        });
        if let Some((j, _, _)) = m {
            used[j] = true;
        }
        pairs.push((i, m));
    }
    let share = |size: u64| if n > 0.0 { size as f64 / n } else { f64::NAN };
    let mut known: Vec<CompareSlice> = pairs
        .iter()
        .map(|&(i, m)| {
            let sa = &ra.slices[i];
            let a_side = side(sa.rate, (sa.ci_low, sa.ci_high), sa.size, sa.excess);
            let mut c = unmatched(
                Origin::Known,
                (sa.id.clone(), sa.key.clone(), sa.description.clone()),
                sa.size,
                share(sa.size),
                (a_side, empty_side()),
            );
            c.status = "vanished".into();
            c.vanished = Some(true);
            if let Some((j, by, jac)) = m {
                let sb = &rb.slices[j];
                let (d, ci, p, test) = unpaired(
                    binary,
                    (sa.rate, sa.size as f64, (sa.ci_low, sa.ci_high)),
                    (sb.rate, sb.size as f64, (sb.ci_low, sb.ci_high)),
                );
                c.b = side(sb.rate, (sb.ci_low, sb.ci_high), sb.size, sb.excess);
                c.size_b = Some(sb.size);
                c.diff = d;
                c.diff_ci_low = ci.0;
                c.diff_ci_high = ci.1;
                c.p_value = p;
                c.test = test.into();
                c.status = String::new();
                c.vanished = Some(false);
                c.best_match = Some(Match {
                    id: sb.id.clone(),
                    jaccard: jac,
                    by: Some(by.into()),
                });
            }
            c
        })
        .collect();
    // BH over the matched slices.
    let idx: Vec<usize> = (0..known.len())
        .filter(|&i| known[i].vanished == Some(false))
        .collect();
    let ps: Vec<f64> = idx
        .iter()
        .map(|&i| {
            let p = known[i].p_value;
            if p.is_nan() {
                1.0
            } else {
                p
            }
        })
        .collect();
    for (&i, q) in idx.iter().zip(benjamini_hochberg(&ps, 0)) {
        settle(&mut known[i], q, fdr);
    }
    let new_in_b: Vec<CompareSlice> = rb
        .slices
        .iter()
        .enumerate()
        .filter(|(j, _)| !used[*j])
        .map(|(_, sb)| {
            let mut c = unmatched(
                Origin::New,
                (
                    format!("B:{}", sb.id),
                    sb.key.clone(),
                    sb.description.clone(),
                ),
                sb.size,
                share(sb.size),
                (
                    empty_side(),
                    side(sb.rate, (sb.ci_low, sb.ci_high), sb.size, sb.excess),
                ),
            );
            c.size_b = Some(sb.size);
            c.status = "new".into();
            c.scan_q_value = sb.q;
            c
        })
        .collect();
    let vanished: Vec<String> = known
        .iter()
        .filter(|c| c.vanished == Some(true))
        .map(|c| c.id.clone())
        .collect();
    let net_excess_change: f64 = known
        .iter()
        .filter(|c| c.vanished == Some(false))
        .map(|c| c.b.excess_errors - c.a.excess_errors)
        .sum();
    if !vanished.is_empty() || !new_in_b.is_empty() {
        notes.push("the net change in excess errors sums the matched slices only: a run does not measure the other run's new or vanished slices".into());
    }

    let (d, ci, p, test) = unpaired(binary, (ra.rate, n, ra.ci), (rb.rate, n, rb.ci));
    let overall = Paired {
        size: ra.n_rows,
        weight: n,
        rate_a: ra.rate,
        ci_a: ra.ci,
        rate_b: rb.rate,
        ci_b: rb.ci,
        diff: d,
        diff_ci: ci,
        error_change: d * n,
        a_only: f64::NAN,
        b_only: f64::NAN,
        p_value: p,
        test: test.into(),
    };
    let metric = ra.metric.clone();
    let rows = super::gate_rows(&known, &new_in_b, rb.rate, &metric, binary);
    let gate_results: Vec<GateResult> = gates.iter().map(|g| gates::evaluate(g, &rows)).collect();
    let passed = gate_results.iter().all(|g| g.passed);
    let name = |r: &SavedRun, given: &Option<String>| {
        given.clone().unwrap_or_else(|| match &r.model {
            Some(m) => format!("{} ({m})", r.source),
            None => r.source.clone(),
        })
    };
    Ok(CompareOutput {
        kind: "slicescope-compare",
        version: super::COMPARE_JSON_VERSION,
        mode: "unpaired".into(),
        data: serde_json::json!({
            "path": ra.data_path,
            "n_rows": ra.n_rows,
            "path_b": rb.data_path,
            "paired_by": serde_json::Value::Null,
        }),
        runs: Some(serde_json::json!({"a": ra, "b": rb})),
        a: ModelRef {
            name: name(&ra, &a.name_a),
            column: ra.model.clone().unwrap_or_default(),
        },
        b: ModelRef {
            name: name(&rb, &a.name_b),
            column: rb.model.clone().unwrap_or_default(),
        },
        metric,
        binary_errors: ra.binary_errors,
        weighted: ra.weighted || rb.weighted,
        known_from: "run-a".into(),
        slices_file: None,
        fdr,
        overall,
        known,
        new_in_b,
        vanished,
        scanned_b: true,
        net_excess_change,
        gates: gate_results,
        passed,
        skipped: Vec::new(),
        notes,
        timing: serde_json::json!({}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_proportion_test_matches_a_hand_computation() {
        // 30/100 against 45/100: pooled 0.375, se = √(0.375·0.625·0.02)
        // = 0.068465, z = 2.1909, p = 0.02846.
        let (d, ci, p, t) = unpaired(true, (0.3, 100.0, (0.0, 0.0)), (0.45, 100.0, (0.0, 0.0)));
        assert_eq!(t, "two-proportion-z");
        assert!((d - 0.15).abs() < 1e-12);
        assert!((p - 0.02846).abs() < 2e-4, "{p}");
        let half = Z95 * (0.3f64 * 0.7 / 100.0 + 0.45 * 0.55 / 100.0).sqrt();
        assert!((ci.1 - ci.0 - 2.0 * half).abs() < 1e-12);
        // Equal rates: p = 1.
        let (_, _, p, _) = unpaired(true, (0.2, 50.0, (0.0, 0.0)), (0.2, 80.0, (0.0, 0.0)));
        assert!((p - 1.0).abs() < 1e-6);
        // From intervals: se 0.1 each side → z = 0.3/√0.02 = 2.1213, p = 0.0339.
        let h = 0.1 * Z95;
        let (_, _, p, t) = unpaired(
            false,
            (1.0, 10.0, (1.0 - h, 1.0 + h)),
            (1.3, 10.0, (1.3 - h, 1.3 + h)),
        );
        assert_eq!(t, "unpaired-z");
        assert!((p - 0.0339).abs() < 2e-4, "{p}");
    }

    #[test]
    fn erfc_is_accurate() {
        for (x, want) in [
            (0.0, 1.0),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_793),
        ] {
            assert!((erfc(x) - want).abs() < 1e-7 * want.max(1e-3), "{x}");
        }
    }
}
