//! `slicescope apply SLICES DATA`: tag every row of a table with the saved
//! slices it falls in; per-slice counts and, when the table carries the
//! outcome columns, per-slice error statistics with intervals.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use slicescope_core::outcome::{self, Outcome, RegressionError, Signal, Task};
use slicescope_core::scan::View;
use slicescope_core::slicers::Labels;
use slicescope_core::stats::{
    self, benjamini_hochberg, LogFactorials, SignalKind, SliceStats, Sums,
};
use slicescope_core::workflow::apply::{apply_slices, label_codes, ApplyInput, ViewRows};
use slicescope_core::workflow::file::{OutcomeColumns, ScanStats, SliceFile};
use slicescope_core::workflow::rows::RowSet;
use slicescope_core::{Config, Frame};

use crate::args::{FormatArg, RegErrArg, SignalArg, TaskArg};
use crate::history::{self, finite, RunRecord, SliceRecord};
use crate::{definitions, inputs, output, progress, tags};

/// Version of the `apply --json` document.
pub const APPLY_JSON_VERSION: &str = "1.0";

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The slice file (written by `slicescope scan --save-slices`).
    pub slices: PathBuf,
    /// The table to tag: Parquet, Arrow IPC (file or stream) or CSV, labelled or not.
    pub data: PathBuf,

    /// Embedding view of the table's rows: NAME=COL (a list column) or NAME=FILE.npy / FILE.npz[:KEY], for slices defined in view NAME (repeatable). A view that was a column at scan time is taken from the same column by default.
    #[arg(long = "view", value_name = "NAME=SOURCE", help_heading = "Views")]
    pub views: Vec<String>,
    /// Apply only these slices (ids of the slice file, comma-separated).
    #[arg(long, value_name = "S1,S2,...", value_delimiter = ',')]
    pub only: Option<Vec<String>>,

    /// True label column [default: the scan's, when the table has it].
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub label: Option<String>,
    /// Predicted class or value [default: the scan's outcome, when the table has its columns].
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub pred: Option<String>,
    /// Probability-vector column.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub probs: Option<String>,
    /// Score column of a binary classifier.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub score: Option<String>,
    /// Per-sample loss or metric column.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub loss: Option<String>,
    /// The task [default: the scan's].
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub task: Option<TaskArg>,
    /// Binary: predict positive when score ≥ T.
    #[arg(long, value_name = "T", help_heading = "Outcome")]
    pub threshold: Option<f64>,
    /// Binary: the positive label value.
    #[arg(long, value_name = "VALUE", help_heading = "Outcome")]
    pub positive: Option<String>,
    /// Probabilities: class names in the order of the vector.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Outcome"
    )]
    pub classes: Option<Vec<String>>,
    /// 0/1 errors or the loss.
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub signal: Option<SignalArg>,
    /// Regression: absolute or squared error.
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub regression_error: Option<RegErrArg>,
    /// Regression: count an error when |label − pred| > TOL.
    #[arg(long, value_name = "TOL", help_heading = "Outcome")]
    pub tolerance: Option<f64>,
    /// Loss: higher values are better.
    #[arg(long, help_heading = "Outcome")]
    pub higher_is_better: bool,
    /// Sample weight column.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub weight: Option<String>,
    /// Do not compute error statistics even when the table has the outcome columns (counts only).
    #[arg(long, help_heading = "Outcome")]
    pub no_outcome: bool,

    /// Write the per-slice counts and statistics as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<String>,
    /// With --json: list every slice's member rows (0-based).
    #[arg(long, help_heading = "Output")]
    pub members: bool,
    /// Write one row per input row with the slices it falls in (.parquet or .csv).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub tags: Option<String>,
    /// Columns copied into the tags file (an id, a path), comma-separated.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Output"
    )]
    pub keep: Option<Vec<String>>,
    /// Model or run name recorded in the history.
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub run_name: Option<String>,
    /// Use the slice file even when its content hash does not match its content (it was edited).
    #[arg(long, help_heading = "Output")]
    pub no_verify: bool,
    /// Overwrite existing output files.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// No progress; with --json or --tags, no terminal table either.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,

    #[command(flatten)]
    pub hist: crate::history::HistoryArgs,

    /// Input format (detected from the file when absent).
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<FormatArg>,
    /// CSV delimiter.
    #[arg(long, value_name = "C", help_heading = "Input")]
    pub delimiter: Option<String>,
    /// CSV type override: COL=string|float|int|bool (repeatable).
    #[arg(long = "csv-type", value_name = "COL=TYPE", help_heading = "Input")]
    pub csv_types: Vec<String>,
}

/// Which model-output column a set of outcome keys uses.
fn output_kind(c: &OutcomeColumns) -> Option<&'static str> {
    if c.pred.is_some() {
        Some("pred")
    } else if c.probs.is_some() {
        Some("probs")
    } else if c.score.is_some() {
        Some("score")
    } else if c.loss.is_some() {
        Some("loss")
    } else {
        None
    }
}

impl ApplyArgs {
    fn any_outcome_flag(&self) -> bool {
        self.pred.is_some() || self.probs.is_some() || self.score.is_some() || self.loss.is_some()
    }

    /// The outcome keys: the scan's, with the flags over them. When the
    /// flags name another kind of model output, the scan's task options
    /// are dropped (they belong to its output).
    fn outcome_columns(&self, saved: &OutcomeColumns) -> OutcomeColumns {
        let mut c = saved.clone();
        if self.any_outcome_flag() {
            let flags = OutcomeColumns {
                pred: self.pred.clone(),
                probs: self.probs.clone(),
                score: self.score.clone(),
                loss: self.loss.clone(),
                ..Default::default()
            };
            if output_kind(&flags) != output_kind(saved) {
                c = OutcomeColumns {
                    label: saved.label.clone(),
                    weight: saved.weight.clone(),
                    ..Default::default()
                };
            }
            c.pred = self.pred.clone();
            c.probs = self.probs.clone();
            c.score = self.score.clone();
            c.loss = self.loss.clone();
        }
        if let Some(l) = &self.label {
            c.label = Some(l.clone());
        }
        if let Some(w) = &self.weight {
            c.weight = Some(w.clone());
        }
        if let Some(t) = self.task {
            c.task = Some(match t {
                TaskArg::Classification => Task::Classification,
                TaskArg::Binary => Task::Binary,
                TaskArg::Regression => Task::Regression,
                TaskArg::Metric => Task::Metric,
            });
        }
        if let Some(t) = self.threshold {
            c.threshold = Some(t);
        }
        if let Some(p) = &self.positive {
            c.positive = Some(p.clone());
        }
        if let Some(k) = &self.classes {
            c.classes = Some(k.clone());
        }
        if let Some(s) = self.signal {
            c.signal = Some(match s {
                SignalArg::Error => Signal::Error,
                SignalArg::Loss => Signal::Loss,
            });
        }
        if let Some(r) = self.regression_error {
            c.regression_error = Some(match r {
                RegErrArg::Absolute => RegressionError::Absolute,
                RegErrArg::Squared => RegressionError::Squared,
            });
        }
        if let Some(t) = self.tolerance {
            c.tolerance = Some(t);
        }
        if self.higher_is_better {
            c.higher_is_worse = Some(false);
        }
        c
    }
}

/// The slice file as the JSON refers to it.
#[derive(Debug, Serialize)]
pub struct FileRef {
    pub path: String,
    pub format_version: String,
    pub content_hash: String,
    pub scanned: Option<String>,
}

impl FileRef {
    pub fn of(file: &SliceFile, path: &Path) -> FileRef {
        FileRef {
            path: path.display().to_string(),
            format_version: file.format_version.clone(),
            content_hash: file.content_hash.clone(),
            scanned: file.source.path.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct DataRef {
    path: String,
    n_rows: usize,
}

#[derive(Debug, Serialize)]
struct OutcomeOut {
    metric: String,
    derivation: String,
    binary_errors: bool,
    weighted: bool,
    overall: OverallOut,
}

#[derive(Debug, Serialize)]
struct OverallOut {
    size: u64,
    weight: f64,
    errors: f64,
    error_rate: f64,
    ci_low: f64,
    ci_high: f64,
}

#[derive(Debug, Serialize)]
struct AppliedSlice {
    id: String,
    key: String,
    slicer: String,
    view: Option<String>,
    description: String,
    /// Rows of the table in the slice.
    size: u64,
    /// Share of the table's rows.
    share: f64,
    /// Statistics on this table (with the outcome).
    stats: Option<SliceStats>,
    /// Statistics on the scanned rows.
    scan: ScanStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<u32>>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    id: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct ApplyTiming {
    load_seconds: f64,
    apply_seconds: f64,
    total_seconds: f64,
}

#[derive(Debug, Serialize)]
struct ApplyOutput {
    kind: &'static str,
    version: &'static str,
    slices_file: FileRef,
    data: DataRef,
    outcome: Option<OutcomeOut>,
    slices: Vec<AppliedSlice>,
    skipped: Vec<Skipped>,
    notes: Vec<String>,
    timing: ApplyTiming,
}

/// Indices of the slices to apply: `--only`, or all.
pub fn select(file: &SliceFile, only: Option<&[String]>) -> Result<Vec<usize>> {
    match only {
        None => Ok((0..file.slices.len()).collect()),
        Some(ids) => ids
            .iter()
            .map(|id| {
                let id = id.trim();
                file.slices.iter().position(|s| s.id == id).ok_or_else(|| {
                    let known: Vec<&str> = file.slices.iter().map(|s| s.id.as_str()).collect();
                    anyhow::anyhow!(
                        "--only {id}: the slice file has no slice '{id}' (it has {})",
                        known.join(", ")
                    )
                })
            })
            .collect(),
    }
}

/// Views of the table for the slices `chosen`: `--view` flags, else the
/// scan's vector column when the table has it. Views no chosen slice needs
/// are not loaded; a `--view` the file does not know is an error.
pub fn load_views(
    file: &SliceFile,
    chosen: &[usize],
    flags: &[(String, String)],
    frame: &mut Frame,
    names: &[String],
) -> Result<Vec<View<'static>>> {
    for (name, _) in flags {
        if file.view(name).is_none() {
            let known: Vec<&str> = file.views.iter().map(|v| v.name.as_str()).collect();
            bail!(
                "--view {name}: no slice of the file lives in a view named '{name}'{}",
                if known.is_empty() {
                    " (its slices are all attribute rules)".to_string()
                } else {
                    format!(" (its views: {})", known.join(", "))
                }
            );
        }
    }
    let mut out = Vec::new();
    for v in &file.views {
        let needed = chosen
            .iter()
            .any(|&i| file.slices[i].view.as_deref() == Some(v.name.as_str()));
        if !needed {
            continue;
        }
        let source = match flags.iter().find(|(n, _)| n == &v.name) {
            Some((_, src)) => src.clone(),
            None if v.source_is_column && names.contains(&v.source) => v.source.clone(),
            None => continue, // apply_slices names the missing view.
        };
        out.push(inputs::load_view(&v.name, &source, frame)?);
    }
    Ok(out)
}

/// What applying found, and the outcome of the rows when labelled.
pub struct Applied {
    pub chosen: Vec<usize>,
    pub sets: Vec<RowSet>,
    pub skipped: Vec<(String, String)>,
}

/// Apply the `chosen` slices; slices that need labels are skipped (with a
/// reason) when `label_col` is None, unless `strict`.
pub fn apply_chosen(
    file: &SliceFile,
    chosen: Vec<usize>,
    frame: &Frame,
    views: &[&View],
    label_col: Option<&str>,
    strict: bool,
) -> Result<Applied> {
    let mut skipped = Vec::new();
    let chosen: Vec<usize> = if label_col.is_none() {
        let (keep, drop): (Vec<usize>, Vec<usize>) = chosen
            .into_iter()
            .partition(|&i| !file.slices[i].needs_labels);
        if strict && !drop.is_empty() {
            let ids: Vec<&str> = drop.iter().map(|&i| file.slices[i].id.as_str()).collect();
            bail!(
                "slice {} is defined with the label (a class-restricted direction or a mixture posterior with the label term): applying it needs the label column (--label COL)",
                ids.join(", ")
            );
        }
        for i in drop {
            skipped.push((
                file.slices[i].id.clone(),
                "defined with the label; the table has no label column (pass --label COL)".into(),
            ));
        }
        keep
    } else {
        chosen
    };
    let view_rows: BTreeMap<String, ViewRows<'_>> = views
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                ViewRows {
                    values: &v.values,
                    dim: v.dim,
                    source: &v.source,
                },
            )
        })
        .collect();
    let codes = match label_col {
        Some(l) => Some(label_codes(frame.require(l, "label")?)?),
        None => None,
    };
    let labels = codes.as_ref().map(|(names, label)| Labels { names, label });
    let sets = apply_slices(
        file,
        &chosen,
        &ApplyInput {
            frame,
            views: &view_rows,
            labels,
        },
    )?;
    Ok(Applied {
        chosen,
        sets,
        skipped,
    })
}

/// Per-slice statistics of `sets` against the whole table, with
/// Benjamini–Hochberg q-values over these slices.
pub fn slice_stats(out: &Outcome, sets: &[RowSet]) -> (Sums, Vec<SliceStats>) {
    let weights = out.weights.as_deref();
    let total = Sums::over(&out.errors, weights);
    let kind = SignalKind {
        binary: out.binary,
        weighted: weights.is_some(),
    };
    let lf = LogFactorials::new(if kind.binary && !kind.weighted {
        total.count
    } else {
        0
    });
    let mut st: Vec<SliceStats> = sets
        .iter()
        .map(|set| {
            let mut s = Sums::default();
            for r in set.iter() {
                let r = r as usize;
                s.add(out.errors[r], weights.map_or(1.0, |w| w[r]));
            }
            stats::slice_stats(&s, &total, kind, &lf)
        })
        .collect();
    let p: Vec<f64> = st.iter().map(|s| s.p_value).collect();
    for (s, q) in st.iter_mut().zip(benjamini_hochberg(&p, 0)) {
        s.q_value = q;
    }
    (total, st)
}

/// Derive the outcome of `frame` with the keys `c`.
pub fn derive_outcome(frame: &Frame, c: &OutcomeColumns) -> Result<Outcome> {
    let mut config = Config::default();
    c.fill(&mut config.columns);
    let spec = config.outcome_spec()?;
    Ok(outcome::derive(frame, &spec, c.weight.as_deref())?)
}

pub fn run(a: ApplyArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let started = history::now();
    for out in [&a.json, &a.tags].into_iter().flatten() {
        output::check_writable(Path::new(out), a.force)?;
    }
    if let Some(t) = &a.tags {
        tags::TagsFormat::of(Path::new(t))?;
    }
    if a.members && a.json.is_none() {
        bail!("--members lists member rows in the JSON output: add --json FILE");
    }
    let quiet_progress = a.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let file = definitions::load(&a.slices, !a.no_verify)?;
    let chosen = select(&file, a.only.as_deref())?;
    let view_flags: Vec<(String, String)> = a
        .views
        .iter()
        .map(|v| inputs::parse_view_flag(v))
        .collect::<Result<_>>()?;

    let data = a.data.as_path();
    let read_opts = inputs::read_options(a.format, a.delimiter.as_deref(), &a.csv_types)?;
    let names = inputs::column_names(data, &read_opts)?;
    let mut notes: Vec<String> = Vec::new();

    // The outcome: flags over the scan's keys; without flags only when the
    // table has every column the scan's outcome read.
    let keys = a.outcome_columns(&file.outcome.columns);
    let outcome_keys: Option<OutcomeColumns> = if a.no_outcome {
        None
    } else if a.any_outcome_flag() {
        Some(keys.clone())
    } else {
        let absent: Vec<String> = keys
            .column_names()
            .into_iter()
            .filter(|c| !names.contains(c))
            .collect();
        if absent.is_empty() && output_kind(&keys).is_some() {
            Some(keys.clone())
        } else {
            notes.push(format!(
                "counts only: the table has no column {} (the scan's outcome); pass --label and --pred/--probs/--score/--loss for error statistics",
                absent
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            None
        }
    };
    // The label for definitions that need it.
    let label_col: Option<String> = match (&a.label, &outcome_keys) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(k)) => k.label.clone(),
        (None, None) => keys.label.clone().filter(|l| names.contains(l)),
    };

    let mut wanted: Vec<String> = Vec::new();
    for &i in &chosen {
        wanted.extend(file.slices[i].columns().into_iter().map(String::from));
    }
    if let Some(k) = &outcome_keys {
        wanted.extend(k.column_names());
    }
    wanted.extend(label_col.iter().cloned());
    for (_, src) in &view_flags {
        if !slicescope_core::scan::is_matrix_file(src) {
            wanted.push(src.clone());
        }
    }
    for v in &file.views {
        if v.source_is_column && !view_flags.iter().any(|(n, _)| n == &v.name) {
            wanted.push(v.source.clone());
        }
    }
    let keep: Vec<String> = a
        .keep
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    wanted.extend(keep.iter().cloned());

    let spinner = progress::Spinner::new(quiet_progress, "reading");
    let mut frame = inputs::read_frame(data, &read_opts, &names, &wanted)?;
    let views = load_views(&file, &chosen, &view_flags, &mut frame, &names)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    drop(spinner);

    let t1 = Instant::now();
    let spinner = progress::Spinner::new(quiet_progress, "applying");
    let strict = a.only.is_some();
    let view_refs: Vec<&View> = views.iter().collect();
    let applied = apply_chosen(
        &file,
        chosen,
        &frame,
        &view_refs,
        label_col.as_deref(),
        strict,
    )?;
    let outcome = match &outcome_keys {
        Some(k) => Some(derive_outcome(&frame, k)?),
        None => None,
    };
    let (total, stats) = match &outcome {
        Some(o) => {
            let (t, s) = slice_stats(o, &applied.sets);
            (Some(t), Some(s))
        }
        None => (None, None),
    };
    let apply_seconds = t1.elapsed().as_secs_f64();
    drop(spinner);

    let n = frame.n_rows();
    let counts: Vec<u64> = applied.sets.iter().map(|s| s.count() as u64).collect();
    let slices_out: Vec<AppliedSlice> = applied
        .chosen
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let s = &file.slices[i];
            AppliedSlice {
                id: s.id.clone(),
                key: s.key.clone(),
                slicer: s.slicer.clone(),
                view: s.view.clone(),
                description: s.description.clone(),
                size: counts[k],
                share: if n > 0 {
                    counts[k] as f64 / n as f64
                } else {
                    f64::NAN
                },
                stats: stats.as_ref().map(|st| st[k].clone()),
                scan: s.scan.clone(),
                members: a.members.then(|| applied.sets[k].to_vec()),
            }
        })
        .collect();
    if let Some(o) = &outcome {
        notes.extend(o.notes.iter().cloned());
    }
    let doc = ApplyOutput {
        kind: "slicescope-apply",
        version: APPLY_JSON_VERSION,
        slices_file: FileRef::of(&file, &a.slices),
        data: DataRef {
            path: data.display().to_string(),
            n_rows: n,
        },
        outcome: match (&outcome, &total) {
            (Some(o), Some(t)) => {
                let (lo, hi) = stats::interval(t, o.binary);
                Some(OutcomeOut {
                    metric: o.metric.clone(),
                    derivation: o.derivation.clone(),
                    binary_errors: o.binary,
                    weighted: o.weights.is_some(),
                    overall: OverallOut {
                        size: t.count,
                        weight: t.weight,
                        errors: t.err,
                        error_rate: t.mean(),
                        ci_low: lo,
                        ci_high: hi,
                    },
                })
            }
            _ => None,
        },
        slices: slices_out,
        skipped: applied
            .skipped
            .iter()
            .map(|(id, reason)| Skipped {
                id: id.clone(),
                reason: reason.clone(),
            })
            .collect(),
        notes,
        timing: ApplyTiming {
            load_seconds,
            apply_seconds,
            total_seconds: t0.elapsed().as_secs_f64(),
        },
    };

    if let Some(t) = &a.tags {
        let keep_cols: Vec<&slicescope_core::Column> = keep
            .iter()
            .map(|c| frame.require(c, "--keep"))
            .collect::<Result<_, _>>()?;
        let sets: Vec<(&str, &RowSet)> = applied
            .chosen
            .iter()
            .zip(&applied.sets)
            .map(|(&i, s)| (file.slices[i].id.as_str(), s))
            .collect();
        tags::write(Path::new(t), n, &sets, &keep_cols, a.force)?;
    }
    if let Some(j) = &a.json {
        let text = serde_json::to_string_pretty(&doc)?;
        output::write_atomic(Path::new(j), text.as_bytes(), a.force)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !a.quiet || (a.json.is_none() && a.tags.is_none()) {
        print(&mut out, &doc, &file)?;
    }
    if !a.quiet {
        for w in [&a.json, &a.tags].into_iter().flatten() {
            writeln!(out, "wrote {w}")?;
        }
    }
    out.flush()?;
    let model = outcome_keys.as_ref().and_then(|k| {
        k.pred
            .clone()
            .or_else(|| k.probs.clone())
            .or_else(|| k.score.clone())
            .or_else(|| k.loss.clone())
    });
    history::record_or_warn(
        a.hist.store(data).as_deref(),
        &RunRecord {
            kind: "apply".into(),
            started_at: started,
            duration_seconds: t0.elapsed().as_secs_f64(),
            run_name: a.run_name.clone(),
            model,
            model_a: None,
            data_path: data.display().to_string(),
            data_fingerprint: history::fingerprint(data),
            inputs: serde_json::json!({
                "slices_file": {"path": doc.slices_file.path, "content_hash": file.content_hash},
                "views": history::view_inputs(view_flags.iter().map(|(n, s)| (n, s))),
            }),
            n_rows: Some(n as u64),
            parameters: serde_json::json!({
                "only": a.only,
                "outcome": outcome_keys,
                "label": label_col,
                "verify": !a.no_verify,
            }),
            metric: doc.outcome.as_ref().map(|o| o.metric.clone()),
            error_rate: doc
                .outcome
                .as_ref()
                .and_then(|o| finite(o.overall.error_rate)),
            error_rate_a: None,
            slices_file_hash: Some(file.content_hash.clone()),
            exit_code: 0,
            summary: serde_json::json!({
                "slices": doc.slices.len(),
                "skipped": doc.skipped,
                "notes": doc.notes,
            }),
            slices: doc
                .slices
                .iter()
                .map(|s| SliceRecord {
                    slice_id: s.id.clone(),
                    slice_key: Some(s.key.clone()),
                    description: s.description.clone(),
                    origin: "applied".into(),
                    size: Some(s.size),
                    share: finite(s.share),
                    error_rate: s.stats.as_ref().and_then(|t| finite(t.error_rate)),
                    ci_low: s.stats.as_ref().and_then(|t| finite(t.ci_low)),
                    ci_high: s.stats.as_ref().and_then(|t| finite(t.ci_high)),
                    excess_errors: s.stats.as_ref().and_then(|t| finite(t.excess_errors)),
                    q_value: s.stats.as_ref().and_then(|t| finite(t.q_value)),
                    error_rate_a: None,
                    status: None,
                })
                .collect(),
        },
    );
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut impl Write, doc: &ApplyOutput, file: &SliceFile) -> Result<()> {
    let binary = doc.outcome.as_ref().is_none_or(|o| o.binary_errors);
    let rate = |x: f64| {
        if binary {
            output::pct(x)
        } else {
            output::num(x)
        }
    };
    write!(
        out,
        "{}: {} rows · {} slice(s) of {} (scanned {}, {})",
        doc.data.path,
        output::thousands(doc.data.n_rows as u64),
        doc.slices.len(),
        doc.slices_file.path,
        file.source.path.as_deref().unwrap_or("?"),
        file.content_hash
    )?;
    match &doc.outcome {
        Some(o) => writeln!(
            out,
            " · {} {} [{}, {}]",
            o.metric,
            rate(o.overall.error_rate),
            rate(o.overall.ci_low),
            rate(o.overall.ci_high)
        )?,
        None => writeln!(out)?,
    }
    if doc.outcome.is_some() {
        writeln!(
            out,
            "{:>4}  {:>9} {:>6}  {:>6} {:>17}  {:>6} {:>5} {:>8} {:>7} {:>8}  slice",
            "id",
            "size",
            "share",
            if binary { "error" } else { "mean" },
            "95% CI",
            "rest",
            "lift",
            "excess",
            "q",
            "at scan"
        )?;
    } else {
        writeln!(
            out,
            "{:>4}  {:>9} {:>6}  {:>7}  slice",
            "id", "size", "share", "at scan"
        )?;
    }
    for s in &doc.slices {
        match &s.stats {
            Some(st) => writeln!(
                out,
                "{:>4}  {:>9} {:>6}  {:>6} {:>17}  {:>6} {:>5} {:>8} {:>7} {:>8}  {}",
                s.id,
                output::thousands(s.size),
                output::pct(s.share),
                rate(st.error_rate),
                format!("[{}, {}]", rate(st.ci_low), rate(st.ci_high)),
                st.rest_error_rate.map_or("-".into(), rate),
                if st.lift.is_finite() {
                    format!("{:.2}", st.lift)
                } else {
                    "-".into()
                },
                format!("{:+.1}", st.excess_errors),
                output::pval(st.q_value),
                s.scan.error_rate.map_or("-".into(), rate),
                s.description
            )?,
            None => writeln!(
                out,
                "{:>4}  {:>9} {:>6}  {:>7}  {}",
                s.id,
                output::thousands(s.size),
                output::pct(s.share),
                s.scan.support.map_or("-".into(), output::pct),
                s.description
            )?,
        }
    }
    if doc.outcome.is_none() {
        writeln!(out, "  (at scan: the slice's share of the scanned rows)")?;
    } else {
        writeln!(
            out,
            "  (at scan: the slice's {} on the scanned rows)",
            if binary { "error rate" } else { "mean" }
        )?;
    }
    for s in &doc.skipped {
        writeln!(out, "skipped {}: {}", s.id, s.reason)?;
    }
    for n in &doc.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}
