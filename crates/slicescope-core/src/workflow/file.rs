//! The slice file (`scan --save-slices slices.json`): everything needed to
//! find a scan's slices again in other rows, and nothing that depends on
//! when or where it was written (no timestamps: the same scan writes the
//! same bytes).
//!
//! ```text
//! { "format": "slicescope-slices", "format_version": "1.1",
//!   "content_hash": "fnv1a64:…",
//!   "tool": {...}, "source": {path, n_rows, run_name},
//!   "outcome": {task, metric, derivation, binary_errors, weighted, classes, columns, overall},
//!   "views": [{name, source, dim_in, dim, normalized, mean, axes, key}],
//!   "slices": [{id, key, rank, slicer, view, description, summary, rule | definition,
//!               needs_labels, equivalent_to, scan}] }
//! ```
//!
//! **Content hash**: FNV-1a 64 ([`super::fnv1a64`]) of the compact JSON
//! serialisation (serde_json, fields in the order of these structs,
//! shortest round-trip numbers) of the whole document with
//! `content_hash` set to the empty string. Reading a file re-serialises it
//! the same way and compares, so any edit of its content is detected.
//! **Slice key**: the same hash over the compact JSON of the slice's
//! definition alone (its rule's predicates, or its embedding definition
//! plus its view's key, the hash of the view's projection): two slices
//! with the same key select the same rows of any table.
//!
//! **Version**: `format_version` is `MAJOR.MINOR`; readers accept any
//! minor version of their major (minor versions only add optional fields)
//! and refuse other majors with a message saying which they read. 1.1
//! added `class` to kernel definitions (spotlights found per label class).

use serde::{Deserialize, Serialize};

use crate::attributes::Predicate;
use crate::config::Columns;
use crate::error::{Error, Result};
use crate::outcome::{RegressionError, Signal, Task};
use crate::scan::{Rule, ScanResult, Slice, Tool};
use crate::slicers::Definition;
use crate::views::ReducedView;

use super::hash_text;

/// The `format` field of every slice file.
pub const FORMAT: &str = "slicescope-slices";
/// The version this build writes.
pub const FORMAT_VERSION: &str = "1.1";
/// The major version this build reads.
pub const FORMAT_MAJOR: u64 = 1;

/// Where the slices were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The scanned table, as given on the command line.
    pub path: Option<String>,
    /// Its rows.
    pub n_rows: usize,
    /// The model or run name, when one was given.
    pub run_name: Option<String>,
}

/// The outcome columns and options of the scan (the `[columns]` keys that
/// define the error signal), so that `apply` can recompute errors on
/// labelled rows without being told again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeColumns {
    /// Label column.
    pub label: Option<String>,
    /// Predicted class or value.
    pub pred: Option<String>,
    /// Probability vector.
    pub probs: Option<String>,
    /// Binary score.
    pub score: Option<String>,
    /// Per-sample loss or metric.
    pub loss: Option<String>,
    /// Frequency weights.
    pub weight: Option<String>,
    /// The task as configured (None: inferred).
    pub task: Option<Task>,
    /// Binary threshold.
    pub threshold: Option<f64>,
    /// Binary positive label.
    pub positive: Option<String>,
    /// Class names of the probability vector.
    pub classes: Option<Vec<String>>,
    /// 0/1 errors or loss.
    pub signal: Option<Signal>,
    /// Regression error kind.
    pub regression_error: Option<RegressionError>,
    /// Regression tolerance.
    pub tolerance: Option<f64>,
    /// Metric direction.
    pub higher_is_worse: Option<bool>,
}

impl OutcomeColumns {
    /// The outcome keys of a scan's `[columns]`.
    pub fn from_columns(c: &Columns) -> OutcomeColumns {
        OutcomeColumns {
            label: c.label.clone(),
            pred: c.pred.clone(),
            probs: c.probs.clone(),
            score: c.score.clone(),
            loss: c.loss.clone(),
            weight: c.weight.clone(),
            task: c.task,
            threshold: c.threshold,
            positive: c.positive.clone(),
            classes: c.classes.clone(),
            signal: c.signal,
            regression_error: c.regression_error,
            tolerance: c.tolerance,
            higher_is_worse: c.higher_is_worse,
        }
    }

    /// Write these keys over `c` (every outcome key is replaced).
    pub fn fill(&self, c: &mut Columns) {
        c.label = self.label.clone();
        c.pred = self.pred.clone();
        c.probs = self.probs.clone();
        c.score = self.score.clone();
        c.loss = self.loss.clone();
        c.weight = self.weight.clone();
        c.task = self.task;
        c.threshold = self.threshold;
        c.positive = self.positive.clone();
        c.classes = self.classes.clone();
        c.signal = self.signal;
        c.regression_error = self.regression_error;
        c.tolerance = self.tolerance;
        c.higher_is_worse = self.higher_is_worse;
    }

    /// The columns these keys read (label, model output, weight).
    pub fn column_names(&self) -> Vec<String> {
        [
            &self.label,
            &self.pred,
            &self.probs,
            &self.score,
            &self.loss,
            &self.weight,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

/// Whole-data statistics of the scanned rows (NaN written as null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallInfo {
    /// Rows.
    pub size: u64,
    /// Error rate or mean loss.
    pub error_rate: Option<f64>,
    /// 95% interval, low end.
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
}

/// The task and error signal of the scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeInfo {
    /// The task.
    pub task: Task,
    /// The compared quantity ("error rate", "mean absolute error"...).
    pub metric: String,
    /// How the per-row error was derived.
    pub derivation: String,
    /// Every error was 0 or 1.
    pub binary_errors: bool,
    /// Rows carried weights.
    pub weighted: bool,
    /// Class names (classification).
    pub classes: Option<Vec<String>>,
    /// The outcome columns and options.
    pub columns: OutcomeColumns,
    /// The scanned rows' statistics.
    pub overall: OverallInfo,
}

/// An embedding view's preprocessing: what turns a row of the view into
/// the reduced vector z = Vᵀ(x̃ − mean) the definitions are written in
/// (x̃ = x / ‖x‖ when `normalized`, else x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedView {
    /// The view's name (slices refer to it).
    pub name: String,
    /// Its source at scan time (a column name or a file path).
    pub source: String,
    /// Whether the source was a vector column of the table (else a file).
    pub source_is_column: bool,
    /// Dimension of the vectors as given.
    pub dim_in: usize,
    /// Dimension of the reduced space.
    pub dim: usize,
    /// Rows were L2-normalised before centring.
    pub normalized: bool,
    /// Mean of the (normalised) rows, length `dim_in`.
    pub mean: Vec<f32>,
    /// Principal axes, row-major `dim_in × dim` (column j is axis j).
    pub axes: Vec<f32>,
    /// Hash of the projection (normalized, dims, mean, axes).
    pub key: String,
}

impl SavedView {
    /// The projection of a prepared view (without its rows).
    pub fn from_reduced(v: &ReducedView, source_is_column: bool) -> SavedView {
        let mut s = SavedView {
            name: v.name.clone(),
            source: v.source.clone(),
            source_is_column,
            dim_in: v.dim_in,
            dim: v.dim,
            normalized: v.normalized,
            mean: v.mean.clone(),
            axes: v.axes.clone(),
            key: String::new(),
        };
        s.key = s.projection_key();
        s
    }

    /// Hash of what the projection computes (not the name or source).
    pub fn projection_key(&self) -> String {
        #[derive(Serialize)]
        struct P<'a> {
            dim_in: usize,
            dim: usize,
            normalized: bool,
            mean: &'a [f32],
            axes: &'a [f32],
        }
        let p = P {
            dim_in: self.dim_in,
            dim: self.dim,
            normalized: self.normalized,
            mean: &self.mean,
            axes: &self.axes,
        };
        hash_text(&serde_json::to_vec(&p).unwrap_or_default())
    }

    /// Check the shapes of the stored projection.
    pub fn validate(&self) -> Result<()> {
        if self.dim_in == 0
            || self.dim == 0
            || self.mean.len() != self.dim_in
            || Some(self.axes.len()) != self.dim_in.checked_mul(self.dim)
        {
            return Err(Error::InvalidInput(format!(
                "view '{}' in the slice file is malformed: dim_in {}, dim {}, {} mean values and {} axis values (need dim_in and dim_in × dim)",
                self.name,
                self.dim_in,
                self.dim,
                self.mean.len(),
                self.axes.len()
            )));
        }
        if self.mean.iter().chain(&self.axes).any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "view '{}' in the slice file has non-finite projection values",
                self.name
            )));
        }
        Ok(())
    }
}

/// A slice's statistics on the scanned rows (NaN written as null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Rows.
    pub size: u64,
    /// Share of rows (by weight).
    pub support: Option<f64>,
    /// Error rate or mean loss.
    pub error_rate: Option<f64>,
    /// 95% interval, low end.
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
    /// Error rate of the other rows.
    pub rest_error_rate: Option<f64>,
    /// Excess errors.
    pub excess_errors: Option<f64>,
    /// q-value of the scan.
    pub q_value: Option<f64>,
}

/// One saved slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSlice {
    /// The scan's id ("S1"...).
    pub id: String,
    /// Hash of the definition (see the module docs): the slice's identity
    /// across files and runs.
    pub key: String,
    /// The scan's rank.
    pub rank: usize,
    /// The slicer that found it.
    pub slicer: String,
    /// The view of an embedding definition.
    pub view: Option<String>,
    /// One line saying what the slice is.
    pub description: String,
    /// The scan's summary sentence, when described.
    pub summary: Option<String>,
    /// Attribute predicates (a conjunction), for attribute slices.
    pub rule: Option<Rule>,
    /// Embedding definition in the view's reduced space.
    pub definition: Option<Definition>,
    /// Applying it needs the rows' labels (a class-restricted halfspace, a
    /// mixture posterior with the label term).
    pub needs_labels: bool,
    /// The id of a higher-ranked slice with the same rows in the scan.
    pub equivalent_to: Option<String>,
    /// Statistics on the scanned rows.
    pub scan: ScanStats,
}

impl SavedSlice {
    /// The columns its rule reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in self.rule.iter().flat_map(|r| &r.predicates) {
            if !out.contains(&p.column()) {
                out.push(p.column());
            }
        }
        out
    }

    /// The definition's key given its view's key (None for rules).
    fn compute_key(&self, view_key: Option<&str>) -> String {
        match (&self.rule, &self.definition) {
            (_, Some(d)) => definition_key(d, view_key),
            (Some(r), None) => rule_key(&r.predicates),
            (None, None) => rule_key(&[]),
        }
    }
}

/// What a slice key hashes.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum KeyOf<'a> {
    Rule {
        predicates: &'a [Predicate],
    },
    Embedding {
        view: Option<&'a str>,
        definition: &'a Definition,
    },
}

/// The slice key of an attribute rule (see the module docs).
pub fn rule_key(predicates: &[Predicate]) -> String {
    hash_text(&serde_json::to_vec(&KeyOf::Rule { predicates }).unwrap_or_default())
}

/// The slice key of an embedding definition in the view whose projection
/// has key `view_key` (see the module docs).
pub fn definition_key(definition: &Definition, view_key: Option<&str>) -> String {
    hash_text(
        &serde_json::to_vec(&KeyOf::Embedding {
            view: view_key,
            definition,
        })
        .unwrap_or_default(),
    )
}

/// Whether applying `def` needs the rows' labels.
pub fn needs_labels(def: &Definition) -> bool {
    match def {
        Definition::Halfspace { class, .. } => class.is_some(),
        Definition::Gaussian {
            label_log_probs, ..
        } => label_log_probs.is_some(),
        Definition::Kernel { class, .. } => class.is_some(),
    }
}

/// The slice file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// `MAJOR.MINOR`, see the module docs.
    pub format_version: String,
    /// See the module docs.
    pub content_hash: String,
    /// The tool that wrote it.
    pub tool: Tool,
    /// The scanned table.
    pub source: SourceInfo,
    /// Task and outcome columns.
    pub outcome: OutcomeInfo,
    /// The projections of the views the embedding slices live in.
    pub views: Vec<SavedView>,
    /// The slices in the scan's rank order.
    pub slices: Vec<SavedSlice>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn scan_stats(s: &Slice) -> ScanStats {
    let st = &s.stats;
    ScanStats {
        size: st.size,
        support: finite(st.support),
        error_rate: finite(st.error_rate),
        ci_low: finite(st.ci_low),
        ci_high: finite(st.ci_high),
        rest_error_rate: st.rest_error_rate.and_then(finite),
        excess_errors: finite(st.excess_errors),
        q_value: finite(st.q_value),
    }
}

impl SliceFile {
    /// The slice file of a scan. `columns` are the scan's `[columns]`;
    /// `views` the prepared views (with their projection) of at least every
    /// view an embedding slice of `result` lives in; `view_is_column` says
    /// whether a view's source was a vector column of the table.
    pub fn from_scan(
        result: &ScanResult,
        columns: &Columns,
        views: &[ReducedView],
        view_is_column: &dyn Fn(&str) -> bool,
        run_name: Option<String>,
    ) -> Result<SliceFile> {
        let mut saved_views: Vec<SavedView> = Vec::new();
        let mut slices = Vec::with_capacity(result.slices.len());
        for s in &result.slices {
            let mut view_key = None;
            if s.definition.is_some() {
                let name = s.view.as_deref().unwrap_or_default();
                let v = views.iter().find(|v| v.name == name).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "slice {} lives in view '{name}', whose projection was not given",
                        s.id
                    ))
                })?;
                if !saved_views.iter().any(|sv| sv.name == name) {
                    saved_views.push(SavedView::from_reduced(v, view_is_column(name)));
                }
                view_key = saved_views
                    .iter()
                    .find(|sv| sv.name == name)
                    .map(|sv| sv.key.clone());
            }
            let mut saved = SavedSlice {
                id: s.id.clone(),
                key: String::new(),
                rank: s.rank,
                slicer: s.slicer.clone(),
                view: if s.definition.is_some() {
                    s.view.clone()
                } else {
                    None
                },
                description: s.description.clone(),
                summary: s.explanation.as_ref().map(|e| e.summary.clone()),
                rule: if s.definition.is_some() {
                    None
                } else {
                    s.rule.clone()
                },
                definition: s.definition.clone(),
                needs_labels: s.definition.as_ref().is_some_and(needs_labels),
                equivalent_to: s.equivalent_to.clone(),
                scan: scan_stats(s),
            };
            saved.key = saved.compute_key(view_key.as_deref());
            slices.push(saved);
        }
        // Views in the order the scan lists them.
        saved_views.sort_by_key(|sv| {
            result
                .views
                .iter()
                .position(|v| v.name == sv.name)
                .unwrap_or(usize::MAX)
        });
        let mut file = SliceFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION.into(),
            content_hash: String::new(),
            tool: result.tool.clone(),
            source: SourceInfo {
                path: result.input.path.clone(),
                n_rows: result.input.n_rows,
                run_name,
            },
            outcome: OutcomeInfo {
                task: result.task.task,
                metric: result.task.metric.clone(),
                derivation: result.task.derivation.clone(),
                binary_errors: result.task.binary_errors,
                weighted: result.task.weighted,
                classes: result.task.classes.clone(),
                columns: OutcomeColumns::from_columns(columns),
                overall: OverallInfo {
                    size: result.overall.size,
                    error_rate: finite(result.overall.error_rate),
                    ci_low: finite(result.overall.ci_low),
                    ci_high: finite(result.overall.ci_high),
                },
            },
            views: saved_views,
            slices,
        };
        file.content_hash = file.compute_hash()?;
        Ok(file)
    }

    /// The content hash of the document (see the module docs).
    pub fn compute_hash(&self) -> Result<String> {
        let mut copy = self.clone();
        copy.content_hash = String::new();
        let bytes = serde_json::to_vec(&copy)
            .map_err(|e| Error::InvalidInput(format!("cannot serialise the slice file: {e}")))?;
        Ok(hash_text(&bytes))
    }

    /// The file as pretty-printed JSON (with a trailing newline).
    pub fn to_json(&self) -> Result<String> {
        let mut s = serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("cannot serialise the slice file: {e}")))?;
        s.push('\n');
        Ok(s)
    }

    /// Parse a slice file. `origin` names it in messages. Checks the
    /// format, its version and the shapes; the content hash is checked
    /// unless `verify_hash` is false.
    pub fn parse(text: &str, origin: &str, verify_hash: bool) -> Result<SliceFile> {
        let bad = |message: String| Error::Format {
            path: origin.to_string(),
            format: "a slicescope slice file".into(),
            message,
        };
        // Look at the header first, so that a file of another version gets
        // a version message rather than a field-by-field complaint.
        let head: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let format = head.get("format").and_then(|v| v.as_str());
        if format != Some(FORMAT) {
            let hint = if head.get("schema_version").is_some() && head.get("slices").is_some() {
                "; this looks like a scan result (--json); write a slice file with `slicescope scan ... --save-slices slices.json`"
            } else {
                ""
            };
            return Err(bad(format!(
                "the \"format\" field is {}, not \"{FORMAT}\"{hint}",
                format.map_or("missing".to_string(), |f| format!("\"{f}\""))
            )));
        }
        let version = head
            .get("format_version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("the \"format_version\" field is missing".into()))?;
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("format_version \"{version}\" is not MAJOR.MINOR")))?;
        if major != FORMAT_MAJOR {
            return Err(bad(format!(
                "unknown format version {version}: this slicescope ({}) reads version {FORMAT_MAJOR}.x{}",
                env!("CARGO_PKG_VERSION"),
                if major > FORMAT_MAJOR {
                    "; upgrade slicescope to read it"
                } else {
                    "; re-run the scan with --save-slices to write a current file"
                }
            )));
        }
        let file: SliceFile =
            serde_json::from_value(head).map_err(|e| bad(format!("malformed slice file: {e}")))?;
        if verify_hash {
            let expect = file.compute_hash()?;
            if expect != file.content_hash {
                return Err(bad(format!(
                    "content hash mismatch: the file says {} but its content hashes to {expect}; it was edited or damaged after it was written (pass --no-verify to use it anyway)",
                    if file.content_hash.is_empty() { "nothing" } else { file.content_hash.as_str() }
                )));
            }
        }
        for v in &file.views {
            v.validate()?;
        }
        let mut ids: Vec<&str> = Vec::new();
        for s in &file.slices {
            if ids.contains(&s.id.as_str()) {
                return Err(bad(format!("slice id {} appears twice", s.id)));
            }
            ids.push(&s.id);
            match (&s.rule, &s.definition) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(bad(format!(
                        "slice {} must have exactly one of \"rule\" and \"definition\"",
                        s.id
                    )))
                }
                (None, Some(_)) => {
                    let name = s.view.as_deref().unwrap_or_default();
                    if !file.views.iter().any(|v| v.name == name) {
                        return Err(bad(format!(
                            "slice {} lives in view '{name}', which the file does not describe",
                            s.id
                        )));
                    }
                }
                (Some(_), None) => {}
            }
        }
        Ok(file)
    }

    /// The saved view named `name`.
    pub fn view(&self, name: &str) -> Option<&SavedView> {
        self.views.iter().find(|v| v.name == name)
    }
}
