//! `slicescope compare DATA --label COL --pred COL_A --pred-b COL_B`: two
//! models' predictions on the same rows, slice by slice.
//!
//! The known slices are the saved ones (`--slices slices.json`) or, without
//! a slice file, the slices a scan of A finds. Each is measured with both
//! models on the same rows: error rates, the paired difference B − A with
//! its interval, an exact McNemar test (0/1 errors) or a paired t-test
//! (losses, weights), Benjamini–Hochberg over the known slices. A scan of B
//! (when attributes or views are configured) finds the slices that are new
//! in B (Jaccard < 0.5 against every known slice) and the known slices it
//! no longer finds (vanished). `--fail-on` gates (gates.rs) make the
//! command exit 1 with the reasons; 2 stays for input errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use slicescope_core::outcome::{self, Outcome, OutcomeSpec, Signal};
use slicescope_core::scan::{self, ScanResult, View};
use slicescope_core::stats::benjamini_hochberg;
use slicescope_core::workflow::file::{rule_key, SliceFile};
use slicescope_core::workflow::paired::{self, Paired, PairedSums};
use slicescope_core::workflow::rows::RowSet;
use slicescope_core::Config;

use crate::apply::{apply_chosen, FileRef};
use crate::args::ScanArgs;
use crate::gates::{self, GateResult, GateRow, Origin};
use crate::history::{self, finite, RunRecord, SliceRecord};
use crate::{compare_pairing, definitions, inputs, output, progress};

mod saved;

/// Version of the `compare --json` document.
pub const COMPARE_JSON_VERSION: &str = "1.0";

/// Jaccard at or above which two slices are the same slice.
const MATCH_JACCARD: f64 = 0.5;

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    /// Model B's evaluation file: the same evaluation rows, with B's outputs (DATA then holds A's),
    /// paired by --id or else by position. Or compare two saved runs: A.json B.json (scan --json
    /// results) or run:ID run:ID (history runs; --history FILE names the store).
    #[arg(value_name = "DATA_B")]
    pub data_b: Option<PathBuf>,
    /// With two files: pair their rows by this column (unique in each file, the same ids in both).
    #[arg(long, value_name = "COL", help_heading = "Model B")]
    pub id: Option<String>,

    /// Model B's predicted class or value (model A's is --pred; with two files: default --pred).
    #[arg(long, value_name = "COL", help_heading = "Model B")]
    pub pred_b: Option<String>,
    /// Model B's probability-vector column (A's is --probs).
    #[arg(long, value_name = "COL", help_heading = "Model B")]
    pub probs_b: Option<String>,
    /// Model B's score column (A's is --score).
    #[arg(long, value_name = "COL", help_heading = "Model B")]
    pub score_b: Option<String>,
    /// Model B's per-sample loss or metric (A's is --loss).
    #[arg(long, value_name = "COL", help_heading = "Model B")]
    pub loss_b: Option<String>,
    /// Name of model A in the output [default: its column].
    #[arg(long, value_name = "NAME", help_heading = "Model B")]
    pub name_a: Option<String>,
    /// Name of model B in the output [default: its column].
    #[arg(long, value_name = "NAME", help_heading = "Model B")]
    pub name_b: Option<String>,

    /// The known slices: a slice file (scan --save-slices) [default: the slices a scan of A finds].
    #[arg(long, value_name = "FILE", help_heading = "Compare")]
    pub slices: Option<PathBuf>,
    /// Use the slice file even when its content hash does not match.
    #[arg(long, help_heading = "Compare")]
    pub no_verify: bool,
    /// Do not scan B (no new or vanished slices).
    #[arg(long, help_heading = "Compare")]
    pub no_scan_b: bool,
    /// Exit 1 when a gate fails: regression, new-slices>K, or conditions such as 'error-rate>0.3:size>=100' (repeatable; docs/workflow.md).
    #[arg(long = "fail-on", value_name = "GATE", help_heading = "Compare")]
    pub fail_on: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ModelRef {
    name: String,
    column: String,
}

#[derive(Debug, Serialize, Clone)]
struct Side {
    rate: f64,
    ci_low: f64,
    ci_high: f64,
    errors: f64,
    excess_errors: f64,
}

#[derive(Debug, Serialize, Clone)]
struct Match {
    id: String,
    jaccard: f64,
    /// Saved runs: how the slices were matched ("key" or "jaccard").
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
struct CompareSlice {
    id: String,
    /// The slice's definition hash, when known (rules; saved slices).
    key: Option<String>,
    origin: Origin,
    description: String,
    size: u64,
    /// Saved runs: the slice's size in B's run (it can differ when the
    /// slices were matched by overlap).
    #[serde(skip_serializing_if = "Option::is_none")]
    size_b: Option<u64>,
    share: f64,
    a: Side,
    b: Side,
    diff: f64,
    diff_ci_low: f64,
    diff_ci_high: f64,
    /// Rows A errs on more than B (0/1: fixed by B).
    fixed: f64,
    /// Rows B errs on more than A (0/1: broken by B).
    broken: f64,
    p_value: f64,
    /// BH over the known slices (None for new slices: they were selected
    /// on B, so the paired test on them is not a test).
    q_value: Option<f64>,
    test: String,
    /// worse / better / unchanged (known), new (new in B).
    status: String,
    /// The best-overlapping slice on the other side (B's scan for known
    /// slices, the known slices for new ones).
    best_match: Option<Match>,
    /// Known slices only: B's scan no longer finds it.
    vanished: Option<bool>,
    /// New slices only: B's scan q-value.
    scan_q_value: Option<f64>,
    /// New slices only: B's slices folded into this one (Jaccard ≥ 0.5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    also: Vec<String>,
}

/// A known slice's q-value (BH over the known slices) and its status:
/// worse or better when q < `fdr`, else unchanged.
fn settle(c: &mut CompareSlice, q: f64, fdr: f64) {
    c.q_value = Some(q);
    c.status = if q < fdr && c.diff > 0.0 {
        "worse"
    } else if q < fdr && c.diff < 0.0 {
        "better"
    } else {
        "unchanged"
    }
    .into();
}

#[derive(Debug, Serialize)]
struct CompareOutput {
    kind: &'static str,
    version: &'static str,
    /// "paired" (a table: per-row errors of both models) or "unpaired"
    /// (two saved runs).
    mode: String,
    data: serde_json::Value,
    /// Saved runs: what each run was (null for a table).
    runs: Option<serde_json::Value>,
    a: ModelRef,
    b: ModelRef,
    metric: String,
    binary_errors: bool,
    weighted: bool,
    /// "slice-file" or "scan-a".
    known_from: String,
    slices_file: Option<FileRef>,
    fdr: f64,
    overall: Paired,
    known: Vec<CompareSlice>,
    new_in_b: Vec<CompareSlice>,
    vanished: Vec<String>,
    scanned_b: bool,
    /// Σ over known slices of (excess errors with B − with A); slices
    /// overlap, so rows can count more than once.
    net_excess_change: f64,
    gates: Vec<GateResult>,
    passed: bool,
    skipped: Vec<serde_json::Value>,
    notes: Vec<String>,
    timing: serde_json::Value,
}

/// The model-output column B replaces. With two files, B's output defaults
/// to A's kind and column name (read from B's file).
fn b_output(
    a: &CompareArgs,
    default: Option<(&'static str, String)>,
) -> Result<(&'static str, String)> {
    let given: Vec<(&'static str, &String)> = [
        ("pred", &a.pred_b),
        ("probs", &a.probs_b),
        ("score", &a.score_b),
        ("loss", &a.loss_b),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    match given.as_slice() {
        [(k, v)] => Ok((k, (*v).clone())),
        [] => match default {
            Some(d) => Ok(d),
            None => bail!("say what model B's output is: one of --pred-b COL, --probs-b COL, --score-b COL or --loss-b COL (or give B's file as a second table: compare A.parquet B.parquet)"),
        },
        _ => bail!(
            "give exactly one of --pred-b, --probs-b, --score-b, --loss-b; got {}",
            given
                .iter()
                .map(|(k, _)| format!("--{k}-b"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// What a model's per-row error measures: two models are compared only
/// when it is the same (0/1 errors from classes, probabilities, scores or
/// a regression tolerance are all "error").
fn measure_kind(spec: &OutcomeSpec) -> &'static str {
    match spec {
        OutcomeSpec::Classification { .. } => "error",
        OutcomeSpec::Probabilities { signal, .. } | OutcomeSpec::Binary { signal, .. } => {
            match signal {
                Signal::Error => "error",
                Signal::Loss => "log-loss",
            }
        }
        OutcomeSpec::Regression {
            tolerance: Some(_), ..
        } => "error",
        OutcomeSpec::Regression { error, .. } => match error {
            slicescope_core::outcome::RegressionError::Absolute => "absolute-error",
            slicescope_core::outcome::RegressionError::Squared => "squared-error",
        },
        OutcomeSpec::Metric {
            higher_is_worse, ..
        } => {
            if *higher_is_worse {
                "loss"
            } else {
                "metric"
            }
        }
    }
}

fn a_output(config: &Config) -> Option<(&'static str, String)> {
    let c = &config.columns;
    [
        ("pred", &c.pred),
        ("probs", &c.probs),
        ("score", &c.score),
        ("loss", &c.loss),
    ]
    .into_iter()
    .find_map(|(k, v)| v.clone().map(|v| (k, v)))
}

fn side(s: &slicescope_core::stats::Sums, ci: (f64, f64), overall: f64) -> Side {
    Side {
        rate: s.mean(),
        ci_low: ci.0,
        ci_high: ci.1,
        errors: s.err,
        excess_errors: s.err - s.weight * overall,
    }
}

fn best_match(set: &RowSet, others: &[(String, RowSet)]) -> Option<Match> {
    others
        .iter()
        .map(|(id, o)| Match {
            id: id.clone(),
            jaccard: set.jaccard(o),
            by: None,
        })
        .max_by(|x, y| x.jaccard.total_cmp(&y.jaccard))
}

/// Member rows of a scan's listed slices (equivalent duplicates left out).
fn scan_sets(r: &ScanResult) -> Vec<(String, String, RowSet, f64, Option<String>)> {
    r.slices
        .iter()
        .filter(|s| s.equivalent_to.is_none())
        .map(|s| {
            (
                s.id.clone(),
                s.description.clone(),
                RowSet::from_rows(r.input.n_rows, s.members.as_deref().unwrap_or_default()),
                s.stats.q_value,
                s.rule
                    .as_ref()
                    .filter(|_| s.definition.is_none())
                    .map(|rule| rule_key(&rule.predicates)),
            )
        })
        .collect()
}

/// Two files: read model B's output column from `path_b`, pair its rows
/// with A's (`--id` or position; the labels must agree) and add it to
/// `frame` in A's row order; `config_b` then names the added column.
#[allow(clippy::too_many_arguments)]
fn read_b(
    frame: &mut slicescope_core::Frame,
    path_a: &Path,
    path_b: &Path,
    read_opts: &slicescope_io::ReadOptions,
    id: Option<&str>,
    label: Option<&str>,
    config_b: &mut Config,
    kind_b: &str,
    col_b: &str,
) -> Result<compare_pairing::Pairing> {
    let schema_b = slicescope_io::table_columns(path_b, read_opts)
        .map_err(|e| anyhow::anyhow!("model B's file: {e}"))?;
    let names_b: Vec<String> = schema_b.iter().map(|(n, _)| n.clone()).collect();
    for (col, role) in [
        (Some(col_b), "model B's output"),
        (label, "label"),
        (id, "id"),
    ] {
        let Some(col) = col else { continue };
        if !names_b.iter().any(|n| n == col) {
            bail!(
                "{}: {role} column '{col}' not found{}{}",
                path_b.display(),
                slicescope_core::error::near_matches(col, &names_b)
                    .first()
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default(),
                if role == "model B's output" {
                    format!("; name B's column with --{kind_b}-b COL")
                } else {
                    format!("; model B's file must have the {role} column too")
                }
            );
        }
    }
    let wanted_b: Vec<String> = [Some(col_b), label, id]
        .into_iter()
        .flatten()
        .map(String::from)
        .collect();
    let mut frame_b = inputs::read_frame(path_b, read_opts, &names_b, &wanted_b)?;
    let pairing = compare_pairing::pair(frame, &frame_b, path_a, path_b, id)?;
    if let Some(label) = label {
        let la = frame.require(label, "label")?;
        let lb = compare_pairing::reorder(frame_b.require(label, "label")?.data.clone(), &pairing);
        let bad = compare_pairing::label_mismatches(&la.data, &lb);
        if let Some(&first) = bad.first() {
            bail!(
                "the label column '{label}' differs between {} and {} in {} of {} paired rows (first: row {first} of A, '{}' against '{}'): they are not the same evaluation set{}",
                path_a.display(),
                path_b.display(),
                bad.len(),
                la.data.len(),
                la.data.text(first).unwrap_or_default(),
                lb.text(first).unwrap_or_default(),
                match &pairing {
                    compare_pairing::Pairing::Position => "; if they hold the same rows in another order, pair them with --id COL",
                    compare_pairing::Pairing::Id { .. } => "",
                }
            );
        }
    }
    let Some(column) = frame_b.take_column(col_b) else {
        bail!("{}: column '{col_b}' could not be read", path_b.display());
    };
    let mut name = col_b.to_string();
    while frame.column(&name).is_some() {
        name.push_str(" (B)");
    }
    frame.push(slicescope_core::Column::new(
        name.clone(),
        compare_pairing::reorder(column.data, &pairing),
    ))?;
    let c = &mut config_b.columns;
    match kind_b {
        "pred" => c.pred = Some(name),
        "probs" => c.probs = Some(name),
        "score" => c.score = Some(name),
        _ => c.loss = Some(name),
    }
    Ok(pairing)
}

pub fn run(a: CompareArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let started = history::now();
    let s = &a.scan;
    for (flag, given) in [
        ("--membership", s.membership.is_some()),
        ("--save-slices", s.save_slices.is_some()),
    ] {
        if given {
            bail!("{flag} is a scan output; compare writes --json, --report and --markdown (run `slicescope scan` for one model's slices)");
        }
    }
    let gates: Vec<gates::GateSpec> = a
        .fail_on
        .iter()
        .map(|g| gates::parse(g))
        .collect::<Result<_>>()?;
    let mut config = match &s.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("{}: cannot read the config file: {e}", path.display())
            })?;
            Config::from_toml(&text, &path.display().to_string())?
        }
        None => Config::default(),
    };
    s.apply(&mut config)?;
    if config.output.membership.is_some() {
        bail!("the config file asks for a membership output; compare writes --json, --report and --markdown only");
    }
    config.output.members = true;
    let quiet = s.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    for out in [
        &config.output.json,
        &config.output.report,
        &config.output.markdown,
    ]
    .into_iter()
    .flatten()
    {
        output::check_writable(Path::new(out), config.output.overwrite)?;
    }
    if saved::is_saved(&s.data) || a.data_b.as_deref().is_some_and(saved::is_saved) {
        let doc = saved::run(&a, &config, &gates)?;
        emit(&doc, s, &config, t0)?;
        return Ok(if doc.passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let (kind_a, col_a) = a_output(&config).ok_or_else(|| {
        anyhow::anyhow!("say what model A's output is: one of --pred COL, --probs COL, --score COL or --loss COL (or [columns] in the config)")
    })?;
    let data_b = a.data_b.as_deref();
    if a.id.is_some() && data_b.is_none() {
        bail!("--id pairs the rows of two files: give model B's file too (compare A.parquet B.parquet --id COL)");
    }
    let (kind_b, col_b) = b_output(&a, data_b.map(|_| (kind_a, col_a.clone())))?;
    let mut config_b = config.clone();
    {
        let c = &mut config_b.columns;
        c.pred = None;
        c.probs = None;
        c.score = None;
        c.loss = None;
        match kind_b {
            "pred" => c.pred = Some(col_b.clone()),
            "probs" => c.probs = Some(col_b.clone()),
            "score" => c.score = Some(col_b.clone()),
            _ => c.loss = Some(col_b.clone()),
        }
    }
    if col_a == col_b && data_b.is_none() {
        bail!("models A and B read the same column '{col_a}'");
    }
    let spec_a = config.outcome_spec()?;
    let file: Option<SliceFile> = match &a.slices {
        Some(p) => Some(definitions::load(p, !a.no_verify)?),
        None => None,
    };
    let has_slicers = !config.columns.attributes.is_empty()
        || config.columns.attributes_all
        || !config.columns.views.is_empty();
    if file.is_none() && !has_slicers {
        bail!("compare needs known slices: pass --slices slices.json (from scan --save-slices), or attributes (--attributes A,B / --attributes-all) or views (--view NAME=SOURCE) to find them with a scan of A");
    }

    // Inputs.
    let data = s.data.as_path();
    let read_opts = s.read_options(&config)?;
    let schema = slicescope_io::table_columns(data, &read_opts)?;
    let names: Vec<String> = schema.iter().map(|(n, _)| n.clone()).collect();
    let attributes: Vec<String> =
        if !config.columns.attributes.is_empty() || config.columns.attributes_all {
            if config.columns.attributes.contains(&col_b) {
                bail!("'{col_b}' is model B's output and cannot also be an attribute");
            }
            let mut at = scan::resolve_attributes(&config, &schema)?;
            at.retain(|c| c != &col_b);
            at
        } else {
            Vec::new()
        };
    let mut wanted = scan::needed_columns(&config, &attributes);
    if data_b.is_none() {
        wanted.extend(config_b.role_columns());
    } else if let Some(id) = &a.id {
        wanted.push(id.clone());
    }
    if let Some(f) = &file {
        for sl in &f.slices {
            wanted.extend(sl.columns().into_iter().map(String::from));
        }
        for v in &f.views {
            if v.source_is_column && !config.columns.views.contains_key(&v.name) {
                wanted.push(v.source.clone());
            }
        }
    }
    let spinner = progress::Spinner::new(quiet, "reading");
    let mut frame = inputs::read_frame(data, &read_opts, &names, &wanted)?;
    let pairing = match data_b {
        Some(path_b) => Some(read_b(
            &mut frame,
            data,
            path_b,
            &read_opts,
            a.id.as_deref(),
            config.columns.label.as_deref(),
            &mut config_b,
            kind_b,
            &col_b,
        )?),
        None => None,
    };
    let spec_b = config_b.outcome_spec()?;
    let mut scan_views: Vec<View> = Vec::new();
    for (name, src) in &config.columns.views {
        scan_views.push(inputs::load_view(name, src, &mut frame)?);
    }
    let mut extra_views: Vec<View> = Vec::new();
    if let Some(f) = &file {
        for v in &f.views {
            if !config.columns.views.contains_key(&v.name)
                && v.source_is_column
                && names.contains(&v.source)
            {
                extra_views.push(inputs::load_view(&v.name, &v.source, &mut frame)?);
            }
        }
    }
    let load_seconds = t0.elapsed().as_secs_f64();
    drop(spinner);
    let n = frame.n_rows();
    let weight = config.columns.weight.as_deref();
    let out_a: Outcome = outcome::derive(&frame, &spec_a, weight)?;
    let out_b: Outcome = outcome::derive(&frame, &spec_b, weight)?;
    if measure_kind(&spec_a) != measure_kind(&spec_b) {
        bail!(
            "models A and B are not measured alike: A's {} ('{col_a}') against B's {} ('{col_b}'); use the same kind of output (or --signal) for both",
            out_a.metric,
            out_b.metric
        );
    }
    let metric = match spec_a {
        OutcomeSpec::Metric { .. } => "mean loss".to_string(),
        _ => out_a.metric.clone(),
    };
    let binary = out_a.binary && out_b.binary;
    let weighted = out_a.weights.is_some();
    let weights = out_a.weights.as_deref();
    let mut notes: Vec<String> = Vec::new();
    if !config.views.vocab.is_empty() {
        notes.push("phrase vocabularies are not used by compare".into());
    }

    // Known slices.
    let t1 = Instant::now();
    let observer = progress::LatticeProgress::new(quiet);
    let mut skipped: Vec<serde_json::Value> = Vec::new();
    type Known = (String, String, RowSet, Option<String>);
    let (known_from, known): (String, Vec<Known>) = match &file {
        Some(f) => {
            let all: Vec<usize> = (0..f.slices.len()).collect();
            let views: Vec<&View> = scan_views.iter().chain(&extra_views).collect();
            let applied = apply_chosen(
                f,
                all,
                &frame,
                &views,
                config.columns.label.as_deref(),
                false,
            )?;
            for (id, reason) in &applied.skipped {
                skipped.push(serde_json::json!({"id": id, "reason": reason}));
            }
            (
                "slice-file".into(),
                applied
                    .chosen
                    .iter()
                    .zip(applied.sets)
                    .map(|(&i, set)| {
                        let sl = &f.slices[i];
                        (
                            sl.id.clone(),
                            sl.description.clone(),
                            set,
                            Some(sl.key.clone()),
                        )
                    })
                    .collect(),
            )
        }
        None => {
            let spinner = progress::Spinner::new(quiet, "scanning A");
            let r = scan::scan(
                &frame,
                &attributes,
                &scan_views,
                &BTreeMap::new(),
                &config,
                Some(data.display().to_string()),
                &observer,
            )?;
            drop(spinner);
            (
                "scan-a".into(),
                scan_sets(&r)
                    .into_iter()
                    .map(|(id, d, set, _, key)| (id, d, set, key))
                    .collect(),
            )
        }
    };
    // Slices of B.
    let scanned_b = has_slicers && !a.no_scan_b;
    let b_slices: Vec<(String, String, RowSet, f64, Option<String>)> = if scanned_b {
        let spinner = progress::Spinner::new(quiet, "scanning B");
        let r = scan::scan(
            &frame,
            &attributes,
            &scan_views,
            &BTreeMap::new(),
            &config_b,
            Some(data.display().to_string()),
            &observer,
        )?;
        drop(spinner);
        scan_sets(&r)
            .into_iter()
            .map(|(id, d, set, q, key)| (format!("B:{id}"), d, set, q, key))
            .collect()
    } else {
        if !has_slicers {
            notes.push("no attributes or views configured: B was not scanned, so new and vanished slices are not known".into());
        }
        Vec::new()
    };
    observer.finish();

    // Paired statistics.
    let total = PairedSums::over(0..n as u32, &out_a.errors, &out_b.errors, weights);
    let overall = paired::compare(&total, binary, weighted);
    let (rate_a, rate_b) = (total.a.mean(), total.b.mean());
    let b_pairs: Vec<(String, RowSet)> = b_slices
        .iter()
        .map(|(id, _, set, _, _)| (id.clone(), set.clone()))
        .collect();
    let known_pairs: Vec<(String, RowSet)> = known
        .iter()
        .map(|(id, _, set, _)| (id.clone(), set.clone()))
        .collect();
    let measure = |id: &str, desc: &str, set: &RowSet, origin: Origin| -> CompareSlice {
        let ps = PairedSums::over(set.iter(), &out_a.errors, &out_b.errors, weights);
        let p = paired::compare(&ps, binary, weighted);
        CompareSlice {
            id: id.to_string(),
            key: None,
            origin,
            description: desc.to_string(),
            size: p.size,
            size_b: None,
            share: if total.a.weight > 0.0 {
                p.weight / total.a.weight
            } else {
                f64::NAN
            },
            a: side(&ps.a, p.ci_a, rate_a),
            b: side(&ps.b, p.ci_b, rate_b),
            diff: p.diff,
            diff_ci_low: p.diff_ci.0,
            diff_ci_high: p.diff_ci.1,
            fixed: p.a_only,
            broken: p.b_only,
            p_value: p.p_value,
            q_value: None,
            test: p.test,
            status: String::new(),
            best_match: None,
            vanished: None,
            scan_q_value: None,
            also: Vec::new(),
        }
    };
    let fdr = config.testing.fdr;
    let mut known_rows: Vec<CompareSlice> = known
        .iter()
        .map(|(id, d, set, key)| {
            let mut c = measure(id, d, set, Origin::Known);
            c.key = key.clone();
            if scanned_b {
                c.best_match = best_match(set, &b_pairs);
                c.vanished = Some(
                    c.best_match
                        .as_ref()
                        .is_none_or(|m| m.jaccard < MATCH_JACCARD),
                );
            }
            c
        })
        .collect();
    let q = benjamini_hochberg(&known_rows.iter().map(|c| c.p_value).collect::<Vec<_>>(), 0);
    for (c, q) in known_rows.iter_mut().zip(q) {
        settle(c, q, fdr);
    }
    // New in B: no known slice overlaps it (Jaccard ≥ 0.5); a new slice
    // overlapping a higher-ranked new one that much is the same new failure
    // and is folded into it (B's lattice slices are never merged with each
    // other by the scan).
    let mut new_rows: Vec<CompareSlice> = Vec::new();
    let mut new_sets: Vec<(String, RowSet)> = Vec::new();
    for (id, d, set, scan_q, key) in &b_slices {
        let m = best_match(set, &known_pairs);
        if m.as_ref().is_some_and(|m| m.jaccard >= MATCH_JACCARD) {
            continue;
        }
        if let Some(k) = new_sets
            .iter()
            .position(|(_, s)| s.jaccard(set) >= MATCH_JACCARD)
        {
            new_rows[k].also.push(id.clone());
            continue;
        }
        let mut c = measure(id, d, set, Origin::New);
        c.key = key.clone();
        c.status = "new".into();
        c.best_match = m;
        c.scan_q_value = Some(*scan_q);
        new_sets.push((id.clone(), set.clone()));
        new_rows.push(c);
    }
    let vanished: Vec<String> = known_rows
        .iter()
        .filter(|c| c.vanished == Some(true))
        .map(|c| c.id.clone())
        .collect();
    let net_excess_change: f64 = known_rows
        .iter()
        .map(|c| c.b.excess_errors - c.a.excess_errors)
        .sum();

    // Gates.
    let gate_rows = gate_rows(&known_rows, &new_rows, rate_b, &metric, binary);
    let gate_results: Vec<GateResult> = gates
        .iter()
        .map(|g| gates::evaluate(g, &gate_rows))
        .collect();
    let passed = gate_results.iter().all(|g| g.passed);
    let compare_seconds = t1.elapsed().as_secs_f64();

    let doc = CompareOutput {
        kind: "slicescope-compare",
        version: COMPARE_JSON_VERSION,
        mode: "paired".into(),
        runs: None,
        data: serde_json::json!({
            "path": data.display().to_string(),
            "n_rows": n,
            "path_b": data_b.map(|p| p.display().to_string()),
            "paired_by": pairing.as_ref().map_or("same-table".to_string(), |p| p.describe()),
        }),
        a: ModelRef {
            name: a
                .name_a
                .clone()
                .unwrap_or_else(|| default_name(data_b.map(|_| data), &col_a)),
            column: col_a.clone(),
        },
        b: ModelRef {
            name: a
                .name_b
                .clone()
                .unwrap_or_else(|| default_name(data_b, &col_b)),
            column: col_b.clone(),
        },
        metric,
        binary_errors: binary,
        weighted,
        known_from,
        slices_file: match (&file, &a.slices) {
            (Some(f), Some(p)) => Some(FileRef::of(f, p)),
            _ => None,
        },
        fdr,
        overall,
        known: known_rows,
        new_in_b: new_rows,
        vanished,
        scanned_b,
        net_excess_change,
        gates: gate_results,
        passed,
        skipped,
        notes,
        timing: serde_json::json!({
            "load_seconds": load_seconds,
            "compare_seconds": compare_seconds,
            "total_seconds": t0.elapsed().as_secs_f64(),
        }),
    };
    emit(&doc, s, &config, t0)?;
    let exit = if passed { 0 } else { 1 };
    let slice_record = |c: &CompareSlice| SliceRecord {
        slice_id: c.id.clone(),
        slice_key: c.key.clone(),
        description: c.description.clone(),
        origin: match c.origin {
            Origin::Known => "known".into(),
            Origin::New => "new".into(),
        },
        size: Some(c.size),
        share: finite(c.share),
        error_rate: finite(c.b.rate),
        ci_low: finite(c.b.ci_low),
        ci_high: finite(c.b.ci_high),
        excess_errors: finite(c.b.excess_errors),
        q_value: c.q_value.and_then(finite),
        error_rate_a: finite(c.a.rate),
        status: Some(c.status.clone()),
    };
    history::record_or_warn(
        s.hist.store(data).as_deref(),
        &RunRecord {
            kind: "compare".into(),
            started_at: started,
            duration_seconds: t0.elapsed().as_secs_f64(),
            run_name: config.output.run_name.clone(),
            model: Some(doc.b.name.clone()),
            model_a: Some(doc.a.name.clone()),
            data_path: data.display().to_string(),
            data_fingerprint: history::fingerprint(data),
            inputs: serde_json::json!({
                "config": s.config.as_ref().map(|p| serde_json::json!({
                    "path": p.display().to_string(),
                    "fingerprint": history::fingerprint(p),
                })),
                "slices_file": doc.slices_file.as_ref().map(|f| serde_json::json!({
                    "path": f.path, "content_hash": f.content_hash,
                })),
                "views": history::view_inputs(config.columns.views.iter()),
                "data_b": data_b.map(|p| serde_json::json!({
                    "path": p.display().to_string(),
                    "fingerprint": history::fingerprint(p),
                })),
            }),
            n_rows: Some(n as u64),
            parameters: serde_json::json!({
                "config": serde_json::to_value(&config).unwrap_or_default(),
                "b": {"kind": kind_b, "column": col_b},
                "paired_by": doc.data["paired_by"],
                "fail_on": a.fail_on,
                "no_scan_b": a.no_scan_b,
            }),
            metric: Some(doc.metric.clone()),
            error_rate: finite(doc.overall.rate_b),
            error_rate_a: finite(doc.overall.rate_a),
            slices_file_hash: doc.slices_file.as_ref().map(|f| f.content_hash.clone()),
            exit_code: exit,
            summary: serde_json::json!({
                "passed": doc.passed,
                "gates": doc.gates,
                "new_in_b": doc.new_in_b.len(),
                "vanished": doc.vanished,
                "net_excess_change": doc.net_excess_change,
                "overall_p_value": doc.overall.p_value,
            }),
            slices: doc
                .known
                .iter()
                .chain(&doc.new_in_b)
                .map(slice_record)
                .collect(),
        },
    );
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A rate (or mean loss) and a difference as the tables show them; "-"
/// when unknown.
fn formatters(binary: bool) -> (impl Fn(f64) -> String, impl Fn(f64) -> String) {
    let rate = move |x: f64| {
        if x.is_nan() {
            "-".to_string()
        } else if binary {
            output::pct(x)
        } else {
            output::num(x)
        }
    };
    let delta = move |x: f64| {
        if x.is_nan() {
            "-".to_string()
        } else if binary {
            format!("{:+.1}", 100.0 * x)
        } else {
            format!("{x:+.3}")
        }
    };
    (rate, delta)
}

/// What the gates test: the known slices and the new ones.
fn gate_rows(
    known: &[CompareSlice],
    new: &[CompareSlice],
    rate_b: f64,
    metric: &str,
    binary: bool,
) -> Vec<GateRow> {
    let (rate, delta) = formatters(binary);
    let unit = if binary { " points" } else { "" };
    known
        .iter()
        .chain(new)
        .map(|c| GateRow {
            id: c.id.clone(),
            description: c.description.clone(),
            origin: c.origin,
            size: c.size as f64,
            share: c.share,
            rate_a: c.a.rate,
            rate_b: c.b.rate,
            lift_b: if rate_b > 0.0 {
                c.b.rate / rate_b
            } else {
                f64::NAN
            },
            excess_b: c.b.excess_errors,
            ci_low_b: c.b.ci_low,
            ci_high_b: c.b.ci_high,
            worse: c.status == "worse",
            detail: format!(
                "{} {} → {} ({}{unit} [{}, {}], {} {}), {} rows",
                metric,
                rate(c.a.rate),
                rate(c.b.rate),
                delta(c.diff),
                delta(c.diff_ci_low),
                delta(c.diff_ci_high),
                c.test,
                match c.q_value {
                    Some(q) => format!("q = {}", output::pval(q)),
                    None => format!("p = {}", output::pval(c.p_value)),
                },
                output::thousands(c.size)
            ),
        })
        .collect()
}

/// Write the outputs `config` asks for (--json, --report, --markdown) and
/// print the tables and gate verdicts.
fn emit(doc: &CompareOutput, s: &ScanArgs, config: &Config, t0: Instant) -> Result<()> {
    if let Some(j) = &config.output.json {
        let text = serde_json::to_string_pretty(doc)?;
        output::write_atomic(Path::new(j), text.as_bytes(), config.output.overwrite)?;
    }
    if config.output.report.is_some() || config.output.markdown.is_some() {
        let value = serde_json::to_value(doc)?;
        let meta = slicescope_report::Meta {
            title: config.output.title.clone().unwrap_or_else(|| {
                let name = |p: &Path| {
                    p.file_name().map_or_else(
                        || p.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    )
                };
                if s.data.to_string_lossy().starts_with("run:") {
                    s.data.display().to_string()
                } else {
                    name(&s.data)
                }
            }),
            run_name: config.output.run_name.clone(),
            command: crate::report::command_line(),
            generated_at: slicescope_report::rfc3339_utc(std::time::SystemTime::now()),
            duration_seconds: t0.elapsed().as_secs_f64(),
        };
        if let Some(md) = &config.output.markdown {
            let text = slicescope_report::compare_markdown(&value, &meta, config.output.top);
            output::write_atomic(Path::new(md), text.as_bytes(), config.output.overwrite)?;
        }
        if let Some(path) = &config.output.report {
            let data = slicescope_report::compare_report_data(&value, &meta);
            let page = slicescope_report::compare_html(&data)?;
            output::write_atomic(Path::new(path), page.as_bytes(), config.output.overwrite)?;
        }
    }
    let (rate, delta) = formatters(doc.binary_errors);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !s.quiet || config.output.json.is_none() {
        print(&mut out, doc, config.output.top, &rate, &delta)?;
    }
    // Gate verdicts always show (on stderr when quiet).
    if !doc.gates.is_empty() {
        let mut text = String::new();
        for g in &doc.gates {
            if g.passed {
                text.push_str(&format!("gate passed: --fail-on '{}'\n", g.gate));
            } else {
                text.push_str(&format!("gate FAILED: --fail-on '{}'\n", g.gate));
                for r in &g.reasons {
                    text.push_str(&format!("  {r}\n"));
                }
            }
        }
        if s.quiet {
            eprint!("{text}");
        } else {
            write!(out, "{text}")?;
        }
    }
    if !s.quiet {
        for f in [
            &config.output.json,
            &config.output.report,
            &config.output.markdown,
        ]
        .into_iter()
        .flatten()
        {
            writeln!(out, "wrote {f}")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print(
    out: &mut impl Write,
    d: &CompareOutput,
    top: usize,
    rate: &dyn Fn(f64) -> String,
    delta: &dyn Fn(f64) -> String,
) -> Result<()> {
    let o = &d.overall;
    writeln!(
        out,
        "{}: {} rows · {}: A ({}) {} → B ({}) {}, {}{} [{}, {}], {} p = {}{}",
        d.data["path"].as_str().unwrap_or("data"),
        output::thousands(o.size),
        d.metric,
        d.a.name,
        rate(o.rate_a),
        d.b.name,
        rate(o.rate_b),
        delta(o.diff),
        if d.binary_errors { " points" } else { "" },
        delta(o.diff_ci.0),
        delta(o.diff_ci.1),
        o.test,
        if o.p_value.is_nan() {
            "-".to_string()
        } else {
            output::pval(o.p_value)
        },
        if d.mode == "unpaired" {
            " (unpaired: saved runs)".to_string()
        } else {
            format!(" (A only {}, B only {})", num0(o.a_only), num0(o.b_only))
        }
    )?;
    let head = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(
            out,
            "  {:<8} {:>8} {:>7} {:>7} {:>24} {:>7} {:>7} {:>7}  {:<11}  slice",
            "id", "size", "A", "B", "Δ B−A [95% CI]", "A only", "B only", "q", "status"
        )
    };
    let row = |out: &mut dyn Write, c: &CompareSlice| -> std::io::Result<()> {
        writeln!(
            out,
            "  {:<8} {:>8} {:>7} {:>7} {:>24} {:>7} {:>7} {:>7}  {:<11}  {}{}",
            c.id,
            output::thousands(c.size),
            rate(c.a.rate),
            rate(c.b.rate),
            format!(
                "{} [{}, {}]",
                delta(c.diff),
                delta(c.diff_ci_low),
                delta(c.diff_ci_high)
            ),
            num0(c.fixed),
            num0(c.broken),
            c.q_value.map_or("-".into(), output::pval),
            if c.vanished == Some(true) {
                format!("{} †", c.status)
            } else {
                c.status.clone()
            },
            c.description,
            if c.also.is_empty() {
                String::new()
            } else {
                format!(" (also {})", c.also.join(", "))
            }
        )
    };
    let count = |s: &str| d.known.iter().filter(|c| c.status == s).count();
    writeln!(
        out,
        "known slices ({}, {}): {} worse, {} better, {} unchanged in B{}",
        d.known.len(),
        if d.known_from == "run-a" {
            format!("the slices of A's run, {}", d.a.name)
        } else if d.known_from == "slice-file" {
            format!(
                "from {}",
                d.slices_file
                    .as_ref()
                    .map_or("the slice file", |f| f.path.as_str())
            )
        } else {
            format!("found in A ({})", d.a.name)
        },
        count("worse"),
        count("better"),
        count("unchanged"),
        if d.known.len() > top {
            format!(" (top {top} shown)")
        } else {
            String::new()
        }
    )?;
    if !d.known.is_empty() {
        head(out)?;
        for c in d.known.iter().take(top) {
            row(out, c)?;
        }
        if d.known.iter().any(|c| c.vanished == Some(true)) {
            if d.mode == "unpaired" {
                writeln!(out, "  († vanished: B's run lists no slice with its key or Jaccard ≥ {MATCH_JACCARD})")?;
            } else {
                writeln!(out, "  († vanished: a scan of B no longer finds it)")?;
            }
        }
    }
    if d.scanned_b {
        writeln!(
            out,
            "new in B ({}): {}, matching no known slice (Jaccard < {MATCH_JACCARD}){}",
            d.new_in_b.len(),
            if d.mode == "unpaired" {
                "listed by B's run"
            } else {
                "found by a scan of B"
            },
            if d.new_in_b.len() > top {
                format!(" (top {top} shown)")
            } else {
                String::new()
            }
        )?;
        if !d.new_in_b.is_empty() {
            head(out)?;
            for c in d.new_in_b.iter().take(top) {
                row(out, c)?;
            }
        }
        writeln!(
            out,
            "vanished ({}): known slices {} no longer finds{}{}",
            d.vanished.len(),
            if d.mode == "unpaired" {
                "B's run"
            } else {
                "a scan of B"
            },
            if d.vanished.is_empty() { "" } else { ": " },
            d.vanished.join(", ")
        )?;
    }
    writeln!(
        out,
        "net change in excess errors over the known slices: {:+.1} (B − A; slices overlap, so rows can count more than once)",
        d.net_excess_change
    )?;
    for s in &d.skipped {
        writeln!(
            out,
            "skipped {}: {}",
            s["id"].as_str().unwrap_or("?"),
            s["reason"].as_str().unwrap_or("")
        )?;
    }
    for n in &d.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

/// A model's default name: its column, or with two files the file's name
/// and the column (`b.parquet:pred`).
fn default_name(file: Option<&Path>, col: &str) -> String {
    match file.and_then(|f| f.file_name()) {
        Some(f) => format!("{}:{col}", f.to_string_lossy()),
        None => col.to_string(),
    }
}

fn num0(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        output::thousands(x as u64)
    } else {
        format!("{x:.1}")
    }
}
