//! The scan pipeline on an in-memory table: error signal → attributes →
//! slicers → exact statistics → multiple-testing adjustment → ranked,
//! serialisable result (the JSON document of `docs/json-schema.json`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

use crate::attributes::{encode, EncodeParams, Predicate};
use crate::config::{Config, RankBy};
use crate::error::{Error, Result};
use crate::frame::{ColumnData, Frame};
use crate::lattice::{self, LatticeInput, LatticeParams, LevelStats, Observer};
use crate::outcome::{self, Task};
use crate::stats::{self, benjamini_hochberg, LogFactorials, SignalKind, SliceStats, Sums};

/// Version of the JSON result schema (semver: a major bump breaks readers).
pub const SCHEMA_VERSION: &str = "1.0.0";

/// An embedding view: one vector per row.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The view's name.
    pub name: String,
    /// Where it came from (a column name or a file path).
    pub source: String,
    /// Row-major values, `n_rows × dim`.
    pub values: Vec<f32>,
    /// Dimension.
    pub dim: usize,
}

/// The tool that wrote a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// "slicescope".
    pub name: String,
    /// Version of the tool.
    pub version: String,
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// The table's path, when read from a file.
    pub path: Option<String>,
    /// Rows in the table.
    pub n_rows: usize,
}

/// The task and its error signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task.
    pub task: Task,
    /// What slices are compared on ("error rate", "mean absolute error"...).
    pub metric: String,
    /// How the per-row error was derived.
    pub derivation: String,
    /// True when every error is 0 or 1.
    pub binary_errors: bool,
    /// True when rows carry weights.
    pub weighted: bool,
    /// Class names for classification tasks.
    pub classes: Option<Vec<String>>,
}

/// The whole data's statistics, the baseline of every slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    /// Rows.
    pub size: u64,
    /// Σ weights.
    pub weight: f64,
    /// Error count or loss sum.
    pub errors: f64,
    /// Error rate or mean loss.
    pub error_rate: f64,
    /// 95% interval, low end.
    pub ci_low: f64,
    /// 95% interval, high end.
    pub ci_high: f64,
}

/// An attribute as encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeInfo {
    /// Column name.
    pub name: String,
    /// Source type: string, integer, float, boolean.
    pub kind: String,
    /// Number of levels (bins, values, `other`, `missing`).
    pub levels: usize,
}

/// An embedding view as loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewInfo {
    /// The view's name.
    pub name: String,
    /// Column or file.
    pub source: String,
    /// Dimension.
    pub dim: usize,
}

/// Parameters in force (after defaults and overrides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Slicers that ran.
    pub slicers: Vec<String>,
    /// Lattice parameters.
    pub lattice: LatticeParams,
    /// The resolved minimum support σ (rows, or weight units).
    pub min_support_resolved: f64,
    /// Attribute encoding.
    pub binning: EncodeParams,
    /// Order of the list.
    pub rank_by: RankBy,
    /// Seed.
    pub seed: u64,
}

/// How the search went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchInfo {
    /// Hypotheses in the multiple-testing family (see `multiple_testing`).
    pub hypotheses: usize,
    /// Per-level counts of the lattice search.
    pub lattice_levels: Vec<LevelStats>,
    /// What the q-values adjust for.
    pub multiple_testing: String,
}

/// A slice's rule: a conjunction of predicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Readable form, predicates joined by " ∧ ".
    pub text: String,
    /// The predicates.
    pub predicates: Vec<Predicate>,
}

/// One reported slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// Stable id within this result ("S1", "S2"... in rank order).
    pub id: String,
    /// 1-based rank.
    pub rank: usize,
    /// The slicer that found it.
    pub slicer: String,
    /// The embedding view it was found in (None for attribute slices).
    pub view: Option<String>,
    /// The rule defining it.
    pub rule: Rule,
    /// Statistics on all rows.
    pub stats: SliceStats,
    /// The slicer's own score (SliceLine score for lattice slices).
    pub score: Option<f64>,
    /// 0-based member rows in the input's order, most typical first (for
    /// predicate slices all members are equally typical: ascending rows).
    pub members: Option<Vec<u32>>,
    /// The id of a higher-ranked slice with exactly the same rows (this
    /// rule is an equivalent, longer description of it), if any.
    pub equivalent_to: Option<String>,
}

/// Timings in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Reading the inputs.
    pub load_seconds: f64,
    /// Error signal and attribute encoding.
    pub prepare_seconds: f64,
    /// Slicer search time.
    pub search_seconds: f64,
    /// Statistics, adjustment and members.
    pub stats_seconds: f64,
    /// Everything.
    pub total_seconds: f64,
}

/// The result of a scan (serialised as the JSON output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// Tool and version.
    pub tool: Tool,
    /// Input description.
    pub input: InputInfo,
    /// Task and error signal.
    pub task: TaskInfo,
    /// Whole-data statistics.
    pub overall: Overall,
    /// Attributes as encoded.
    pub attributes: Vec<AttributeInfo>,
    /// Embedding views as loaded.
    pub views: Vec<ViewInfo>,
    /// Parameters in force.
    pub parameters: Parameters,
    /// Search summary.
    pub search: SearchInfo,
    /// The ranked slices.
    pub slices: Vec<Slice>,
    /// Things the user should know.
    pub notes: Vec<String>,
    /// Timings.
    pub timing: Timing,
}

/// Attribute columns to use: the configured list, or with
/// `attributes_all` every column not used as outcome, weight or view and
/// not a vector column. `columns` lists the table's (name, kind) pairs.
pub fn resolve_attributes(config: &Config, columns: &[(String, String)]) -> Result<Vec<String>> {
    let c = &config.columns;
    if c.attributes_all && !c.attributes.is_empty() {
        return Err(Error::param(
            "attributes",
            "give either a list of attributes or attributes_all, not both",
        ));
    }
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    if c.attributes_all {
        let used = config.role_columns();
        let views: Vec<&String> = c.views.values().collect();
        let out: Vec<String> = columns
            .iter()
            .filter(|(n, kind)| {
                !used.contains(n) && !views.contains(&n) && !kind.starts_with("vector")
            })
            .map(|(n, _)| n.clone())
            .collect();
        if out.is_empty() {
            return Err(Error::NoData(
                "--attributes-all found no column besides the outcome, weight and view columns"
                    .into(),
            ));
        }
        return Ok(out);
    }
    for a in &c.attributes {
        if !names.contains(a) {
            return Err(Error::ColumnNotFound {
                name: a.clone(),
                role: "attribute".into(),
                suggestions: crate::error::near_matches(a, &names),
            });
        }
        if config.role_columns().contains(a) {
            return Err(Error::param(
                "attributes",
                format!("'{a}' is an outcome or weight column and cannot also be an attribute"),
            ));
        }
    }
    Ok(c.attributes.clone())
}

/// Check a view: its length matches the table and every value is finite.
pub fn validate_view(view: &View, n_rows: usize) -> Result<()> {
    if view.dim == 0 {
        return Err(Error::InvalidInput(format!(
            "view '{}' ({}) has vectors of length 0",
            view.name, view.source
        )));
    }
    let rows = view.values.len() / view.dim;
    if rows != n_rows || view.values.len() % view.dim != 0 {
        return Err(Error::ShapeMismatch(format!(
            "view '{}' ({}) has {rows} rows but the table has {n_rows}; embeddings must be aligned with the table row by row",
            view.name, view.source
        )));
    }
    let bad: Vec<usize> = view
        .values
        .par_chunks(view.dim)
        .enumerate()
        .filter_map(|(i, r)| r.iter().any(|v| !v.is_finite()).then_some(i))
        .collect();
    if !bad.is_empty() {
        return Err(Error::InvalidInput(format!(
            "view '{}' ({}) has NaN or infinite values in {} ({}); fix or drop those rows",
            view.name,
            view.source,
            crate::outcome::n_rows(bad.len()),
            crate::outcome::rows_list(&bad)
        )));
    }
    Ok(())
}

/// Run a scan of `frame` with `config`. `attributes` are the resolved
/// attribute columns (see [`resolve_attributes`]).
pub fn scan(
    frame: &Frame,
    attributes: &[String],
    views: &[View],
    config: &Config,
    input_path: Option<String>,
    observer: &dyn Observer,
) -> Result<ScanResult> {
    let t0 = Instant::now();
    let slicers = config.slicers()?;
    config.lattice.validate()?;
    let spec = config.outcome_spec()?;
    let out = outcome::derive(frame, &spec, config.columns.weight.as_deref())?;
    for v in views {
        validate_view(v, frame.n_rows())?;
    }
    if attributes.is_empty() && slicers.iter().any(|s| s == "lattice") {
        return Err(Error::param(
            "attributes",
            "the lattice slicer needs attribute columns: add --attributes A,B or --attributes-all",
        ));
    }
    let enc = encode(frame, attributes, &config.binning)?;
    // Attributes with one level cannot split the data (a note says so).
    let lattice_attrs: Vec<crate::attributes::Attribute> = enc
        .attributes
        .iter()
        .filter(|a| a.levels.len() > 1)
        .cloned()
        .collect();
    let t_prep = t0.elapsed().as_secs_f64();

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
    let p_of = |s: &Sums| stats::p_value(s, &total, kind, &lf);

    let t1 = Instant::now();
    let mut notes = out.notes.clone();
    notes.extend(enc.notes.iter().cloned());
    if total.err <= 0.0 {
        notes.push("the model makes no errors on this data: there is nothing to slice".into());
    }
    let input = LatticeInput {
        attributes: &lattice_attrs,
        errors: &out.errors,
        weights,
    };
    let lat = lattice::search(&input, &config.lattice, &p_of, observer)?;
    let t_search = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let q = benjamini_hochberg(&lat.p_values, 0);
    let n = frame.n_rows();
    let mut slices: Vec<Slice> = lat
        .slices
        .par_iter()
        .map(|ls| {
            let predicates: Vec<Predicate> = ls
                .items
                .iter()
                .map(|&(a, lv)| lattice_attrs[a].levels[lv as usize].clone())
                .collect();
            let text = predicates
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ∧ ");
            let mut st = stats::slice_stats(&ls.sums, &total, kind, &lf);
            st.q_value = q.get(ls.hypothesis).copied().unwrap_or(1.0);
            let members: Vec<u32> = (0..n as u32)
                .filter(|&r| {
                    ls.items
                        .iter()
                        .all(|&(a, lv)| lattice_attrs[a].codes[r as usize] == lv)
                })
                .collect();
            Slice {
                id: String::new(),
                rank: 0,
                slicer: "lattice".into(),
                view: None,
                rule: Rule { text, predicates },
                stats: st,
                score: Some(ls.score),
                members: Some(members),
                equivalent_to: None,
            }
        })
        .collect();
    match config.output.rank_by {
        RankBy::ExcessErrors => slices.sort_by(|a, b| {
            b.stats
                .excess_errors
                .total_cmp(&a.stats.excess_errors)
                .then(b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
        }),
        RankBy::Score => {} // already in score order
    }
    for (i, s) in slices.iter_mut().enumerate() {
        s.rank = i + 1;
        s.id = format!("S{}", i + 1);
    }
    // Same rows as a higher-ranked slice: mark as an equivalent rule.
    for i in 1..slices.len() {
        let found = (0..i).find(|&j| {
            slices[j].equivalent_to.is_none()
                && slices[j].stats.size == slices[i].stats.size
                && slices[j].members == slices[i].members
        });
        if let Some(j) = found {
            slices[i].equivalent_to = Some(slices[j].id.clone());
        }
    }
    if !config.output.members {
        slices.iter_mut().for_each(|s| s.members = None);
    }
    let (ci_low, ci_high) = stats::interval(&total, out.binary);
    let attributes_info = enc
        .attributes
        .iter()
        .map(|a| AttributeInfo {
            name: a.name.clone(),
            kind: frame
                .column(&a.name)
                .map_or("?", |c| c.data.kind())
                .to_string(),
            levels: a.levels.len(),
        })
        .collect();
    let classes = out.classes.as_ref().map(|c| c.names.clone());
    let t_stats = t2.elapsed().as_secs_f64();
    Ok(ScanResult {
        schema_version: SCHEMA_VERSION.into(),
        tool: Tool { name: "slicescope".into(), version: env!("CARGO_PKG_VERSION").into() },
        input: InputInfo { path: input_path, n_rows: n },
        task: TaskInfo {
            task: out.task,
            metric: out.metric.clone(),
            derivation: out.derivation.clone(),
            binary_errors: out.binary,
            weighted: weights.is_some(),
            classes,
        },
        overall: Overall {
            size: total.count,
            weight: total.weight,
            errors: total.err,
            error_rate: total.mean(),
            ci_low,
            ci_high,
        },
        attributes: attributes_info,
        views: views.iter().map(|v| ViewInfo { name: v.name.clone(), source: v.source.clone(), dim: v.dim }).collect(),
        parameters: Parameters {
            slicers,
            lattice: config.lattice.clone(),
            min_support_resolved: lat.sigma,
            binning: config.binning.clone(),
            rank_by: config.output.rank_by,
            seed: config.seed,
        },
        search: SearchInfo {
            hypotheses: lat.p_values.len(),
            lattice_levels: lat.levels,
            multiple_testing: format!(
                "Benjamini–Hochberg over the {} slices whose statistics the lattice search computed with size ≥ σ (slices pruned by the search's bounds were never tested and are not counted)",
                lat.p_values.len()
            ),
        },
        slices,
        notes,
        timing: Timing {
            load_seconds: 0.0,
            prepare_seconds: t_prep,
            search_seconds: t_search,
            stats_seconds: t_stats,
            total_seconds: t0.elapsed().as_secs_f64(),
        },
    })
}

/// Which columns of the table a scan needs to read.
pub fn needed_columns(config: &Config, attributes: &[String]) -> Vec<String> {
    let mut cols = config.role_columns();
    for a in attributes {
        if !cols.contains(a) {
            cols.push(a.clone());
        }
    }
    for src in config.columns.views.values() {
        if !is_matrix_file(src) && !cols.contains(src) {
            cols.push(src.clone());
        }
    }
    cols
}

/// True when a view source names a `.npy` / `.npz` file rather than a column.
pub fn is_matrix_file(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    lower.ends_with(".npy") || lower.ends_with(".npz") || lower.contains(".npz:")
}

/// Views that are vector columns of `frame`, moved out of it (no copy).
pub fn views_from_frame(frame: &mut Frame, config: &Config) -> Result<Vec<View>> {
    let mut out = Vec::new();
    for (name, src) in &config.columns.views {
        if is_matrix_file(src) {
            continue;
        }
        frame.require(src, &format!("view '{name}'"))?;
        let Some(col) = frame.take_column(src) else {
            continue;
        };
        match col.data {
            ColumnData::Vector { values, dim, null_rows } => {
                if !null_rows.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "view '{name}' (column '{src}') is null in {} ({})",
                        crate::outcome::n_rows(null_rows.len()),
                        crate::outcome::rows_list(&null_rows)
                    )));
                }
                out.push(View { name: name.clone(), source: src.clone(), values, dim });
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "view '{name}' names column '{src}', a {} column; a view needs a list-of-floats column or a .npy/.npz file",
                    other.kind()
                )))
            }
        }
    }
    Ok(out)
}
