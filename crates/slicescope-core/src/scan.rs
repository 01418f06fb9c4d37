//! The scan pipeline on an in-memory table: error signal → attributes →
//! slicers → exact statistics → multiple-testing adjustment → ranked,
//! serialisable result (the JSON document of `docs/json-schema.json`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

use crate::attributes::{encode, EncodeParams, Predicate};
use crate::config::{Config, EmbeddingTesting, RankBy, Testing, ViewsConfig, EMBEDDING_SLICERS};
use crate::describe::AttributeIndex;
use crate::error::{Error, Result};
use crate::explain::{self, Explanation};
use crate::frame::{ColumnData, Frame};
use crate::lattice::{self, LatticeInput, LatticeParams, LevelStats, Observer};
use crate::merge;
use crate::outcome::{self, Task};
use crate::phrases::{ProjectedVocabulary, Vocabulary};
use crate::slicers::direction::{DirectionParams, DirectionSlicer};
use crate::slicers::mixture::{MixtureParams, MixtureSlicer};
use crate::slicers::spotlight::{SpotlightParams, SpotlightSlicer};
use crate::slicers::{apply_many, Definition, EmbeddingInput, EmbeddingSlicer, Labels, RowSubset};
use crate::stats::{self, benjamini_hochberg, LogFactorials, SignalKind, SliceStats, Sums};
use crate::views::{prepare_view, ReducedView, ViewParams};

/// Version of the JSON result schema (semver: a major bump breaks readers).
pub const SCHEMA_VERSION: &str = "2.5.0";

/// An embedding view: one vector per row.
///
/// The values are owned (read from a file or a vector column: a
/// `View<'static>`) or borrowed from memory the caller keeps alive and
/// unchanged while the view lives (the Python package borrows a float32
/// C-ordered numpy array's buffer this way, without a copy). The scan only
/// reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct View<'a> {
    /// The view's name.
    pub name: String,
    /// Where it came from (a column name or a file path).
    pub source: String,
    /// Row-major values, `n_rows × dim`.
    pub values: Cow<'a, [f32]>,
    /// Dimension.
    pub dim: usize,
}

impl View<'static> {
    /// A view that owns its values.
    pub fn owned(name: String, source: String, values: Vec<f32>, dim: usize) -> View<'static> {
        View {
            name,
            source,
            values: Cow::Owned(values),
            dim,
        }
    }
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

/// An embedding view as loaded and reduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewInfo {
    /// The view's name.
    pub name: String,
    /// Column or file.
    pub source: String,
    /// Dimension of the vectors as given.
    pub dim: usize,
    /// Dimension after PCA (None when no embedding slicer ran).
    pub reduced_dim: Option<usize>,
    /// Rows were L2-normalised before centring.
    pub normalized: bool,
    /// Share of the variance the kept PCA axes explain.
    pub explained_ratio: Option<f64>,
    /// Label-noise witness evidence (classification): share of a sample of
    /// correctly predicted rows whose neighbours' majority carries their
    /// label ([`crate::diagnose::NeighbourCache::label_support`]).
    #[serde(default)]
    pub label_support: Option<f64>,
    /// Share of a sample of misclassified rows whose neighbours' majority
    /// carries the prediction
    /// ([`crate::diagnose::NeighbourCache::prediction_support`]).
    #[serde(default)]
    pub prediction_support: Option<f64>,
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
    /// View preprocessing.
    pub views: ViewsConfig,
    /// Mixture slicer parameters.
    pub mixture: MixtureParams,
    /// Spotlight slicer parameters.
    pub spotlight: SpotlightParams,
    /// Direction slicer parameters.
    pub direction: DirectionParams,
    /// Jaccard threshold of near-duplicate merging.
    pub merge_jaccard: f64,
    /// Order of the list.
    pub rank_by: RankBy,
    /// Multiple testing and filtering.
    pub testing: Testing,
    /// How slices are described.
    pub describe: crate::explain::DescribeParams,
    /// The diagnosis flags.
    pub diagnose: crate::diagnose::DiagnoseParams,
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

/// One slicer/view that found a slice (the slice itself, or a
/// near-duplicate merged into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundBy {
    /// The slicer.
    pub slicer: String,
    /// The view (None for attribute slices).
    pub view: Option<String>,
    /// What that slicer found, in words.
    pub description: String,
    /// Jaccard overlap of its members with this slice's members.
    pub jaccard: f64,
    /// Its own statistics (it may differ a little from the merged slice).
    pub size: u64,
    /// Its excess errors.
    pub excess_errors: f64,
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
    /// One line saying what the slice is.
    pub description: String,
    /// The attribute rule defining it (lattice slices).
    pub rule: Option<Rule>,
    /// The embedding rule defining it (embedding slices), in the view's
    /// reduced space.
    pub definition: Option<Definition>,
    /// Every slicer/view that found it or a near-duplicate, itself first.
    pub found_by: Vec<FoundBy>,
    /// Per view: how concentrated the members are there (AUC of closeness
    /// to their centroid, 0.5 = not at all, 1 = a tight cluster).
    pub concentration: BTreeMap<String, Option<f64>>,
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
    /// Share of bootstrap resamples of the discovery in which a slice with
    /// Jaccard ≥ 0.5 against this one's members reappears (None when no
    /// resampling ran; see `parameters.testing`).
    pub stability: Option<f64>,
    /// Description and diagnosis (summary sentence, attribute rule,
    /// enriched values, outcome, examples, phrases, flags).
    #[serde(flatten)]
    pub explanation: Option<Explanation>,
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
    /// Per-slice, per-row membership scores (not serialised; see
    /// `--membership`).
    #[serde(skip)]
    pub membership: Vec<Vec<f32>>,
    /// Each row's error (0/1, or the row's loss or metric), as the scan
    /// derived it (not serialised; the report's maps colour points by it).
    #[serde(skip)]
    pub row_errors: Vec<f32>,
}

/// Attribute columns to use: the configured list, or with
/// `attributes_all` every column not used as outcome, weight, view, display,
/// image or text and not a vector column or one of a type slicescope cannot
/// slice on (the kind `table_columns` reports as "unsupported ...").
/// `columns` lists the table's (name, kind) pairs.
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
                !used.contains(n)
                    && !views.contains(&n)
                    && !c.display.contains(n)
                    && c.image.as_ref() != Some(n)
                    && c.text.as_ref() != Some(n)
                    && !kind.starts_with("vector")
                    && !kind.starts_with("unsupported")
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
            return Err(Error::column_not_found(a, "attribute", &names));
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
pub fn validate_view(view: &View<'_>, n_rows: usize) -> Result<()> {
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

/// Mixture components whose members have a lower concentration (AUC of
/// closeness to their centroid) in their own view are not reported.
pub const MIN_MIXTURE_CONCENTRATION: f64 = 0.65;

/// A slice before merging, from any slicer.
struct Found {
    slicer: String,
    view: Option<String>,
    description: String,
    rule: Option<Rule>,
    definition: Option<Definition>,
    score: f64,
    /// Members ascending (for overlaps and statistics).
    members: Vec<u32>,
    /// Members most typical first.
    order: Vec<u32>,
    /// Per-row membership (None: 1 for members, 0 otherwise).
    membership: Option<Vec<f32>>,
    sums: Sums,
    hypothesis: usize,
}

/// Run a scan of `frame` with `config`. `attributes` are the resolved
/// attribute columns (see [`resolve_attributes`]).
pub fn scan(
    frame: &Frame,
    attributes: &[String],
    views: &[View<'_>],
    vocabularies: &BTreeMap<String, Vocabulary>,
    config: &Config,
    input_path: Option<String>,
    observer: &dyn Observer,
) -> Result<ScanResult> {
    let t0 = Instant::now();
    let slicers = config.slicers()?;
    let run_lattice = slicers.iter().any(|s| s == "lattice");
    let embedding: Vec<Box<dyn EmbeddingSlicer>> = slicers
        .iter()
        .filter_map(|s| -> Option<Box<dyn EmbeddingSlicer>> {
            match s.as_str() {
                "mixture" => Some(Box::new(MixtureSlicer {
                    params: config.mixture.clone(),
                })),
                "spotlight" => Some(Box::new(SpotlightSlicer {
                    params: config.spotlight.clone(),
                })),
                "direction" => Some(Box::new(DirectionSlicer {
                    params: config.direction.clone(),
                })),
                _ => None,
            }
        })
        .collect();
    if run_lattice {
        config.lattice.validate()?;
    }
    for e in &embedding {
        e.validate()?;
    }
    let spec = config.outcome_spec()?;
    let out = outcome::derive(frame, &spec, config.columns.weight.as_deref())?;
    let n = frame.n_rows();
    for v in views {
        validate_view(v, n)?;
    }
    // The label-noise witness: None for "auto" (chosen later), Some(None)
    // for each slice's own view, Some(Some(i)) for view i.
    let named_witness: Option<Option<usize>> = match config.diagnose.label_noise.witness.as_str() {
        "auto" => None,
        "own" => Some(None),
        name => Some(Some(views.iter().position(|v| v.name == name).ok_or_else(
            || {
                Error::param(
                    "diagnose.label_noise.witness",
                    format!("'{name}' is not one of the loaded views"),
                )
            },
        )?)),
    };
    if run_lattice && attributes.is_empty() {
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
    // Views: centre, normalise, PCA (only when an embedding slicer runs).
    let reduced: Vec<ReducedView> = if views.is_empty() {
        Vec::new()
    } else {
        views
            .iter()
            .map(|v| {
                let params = ViewParams {
                    max_dim: config.views.max_dim,
                    normalize: config.views.normalize.contains(&v.name),
                };
                prepare_view(&v.name, &v.source, &v.values, v.dim, &params)
            })
            .collect::<Result<_>>()?
    };
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
    let mut found: Vec<Found> = Vec::new();
    let mut p_values: Vec<f64> = Vec::new();
    let mut lattice_levels = Vec::new();
    let mut sigma = f64::NAN;
    if run_lattice {
        let input = LatticeInput {
            attributes: &lattice_attrs,
            errors: &out.errors,
            weights,
        };
        let lat = lattice::search(&input, &config.lattice, &p_of, observer)?;
        sigma = lat.sigma;
        lattice_levels = lat.levels;
        p_values = lat.p_values;
        let lat_found: Vec<Found> = lat
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
                let members: Vec<u32> = (0..n as u32)
                    .filter(|&r| {
                        ls.items
                            .iter()
                            .all(|&(a, lv)| lattice_attrs[a].codes[r as usize] == lv)
                    })
                    .collect();
                Found {
                    slicer: "lattice".into(),
                    view: None,
                    description: text.clone(),
                    rule: Some(Rule { text, predicates }),
                    definition: None,
                    score: ls.score,
                    order: members.clone(),
                    members,
                    membership: None,
                    sums: ls.sums,
                    hypothesis: ls.hypothesis,
                }
            })
            .collect();
        found.extend(lat_found);
    }
    // Embedding slicers: every (view, slicer) pair — and, when testing on
    // held-out rows, every half — in parallel.
    let held_out = config.testing.embedding == EmbeddingTesting::HeldOut;
    // Held-out: per row, the half it belongs to; the rows of each half; and
    // each half's own totals.
    let (half_of, halves) = if held_out {
        split_halves(n, config.seed)
    } else {
        (Vec::new(), vec![(0..n as u32).collect::<Vec<u32>>()])
    };
    let half_totals: Vec<Sums> = halves
        .iter()
        .map(|rows| {
            let mut t = Sums::default();
            for &r in rows {
                t.add(
                    out.errors[r as usize],
                    weights.map_or(1.0, |w| w[r as usize]),
                );
            }
            t
        })
        .collect();
    if !embedding.is_empty() && total.err > 0.0 {
        let labels = out.classes.as_ref().map(|c| Labels {
            names: &c.names,
            label: &c.label,
        });
        let jobs: Vec<(usize, usize, usize)> = (0..reduced.len())
            .flat_map(|v| (0..embedding.len()).map(move |s| (v, s)))
            .flat_map(|(v, s)| (0..halves.len()).map(move |h| (v, s, h)))
            .collect();
        let results: Vec<Result<Vec<(crate::slicers::Candidate, usize)>>> = jobs
            .par_iter()
            .map(|&(v, s, h)| {
                if observer.cancelled() {
                    return Err(Error::Interrupted);
                }
                let seed = config.seed ^ ((v as u64) << 32 | s as u64) ^ ((h as u64) << 48);
                let full = EmbeddingInput {
                    view: &reduced[v],
                    errors: &out.errors,
                    binary: out.binary,
                    weights,
                    classes: out.classes.as_ref(),
                    seed,
                };
                if !held_out {
                    return Ok(embedding[s]
                        .fit(&full)?
                        .into_iter()
                        .map(|c| (c, h))
                        .collect());
                }
                // Fit on one half; score and test every row through the
                // candidate's definition.
                let subset = RowSubset::new(&full, &halves[h]);
                let cands = embedding[s].fit(&subset.input(out.binary, seed))?;
                let defs: Vec<&Definition> = cands.iter().map(|c| &c.definition).collect();
                let applied = apply_many(&defs, &reduced[v], labels)?;
                Ok(cands
                    .into_iter()
                    .zip(applied)
                    .map(|(mut c, a)| {
                        c.members = a.members;
                        c.membership = a.scores;
                        c.detail.push_str(&format!(
                            "; found on half {} of 2, tested on the other",
                            h + 1
                        ));
                        (c, h)
                    })
                    .collect())
            })
            .collect();
        let mut dropped = 0usize;
        for (r, &(v, _, _)) in results.into_iter().zip(&jobs) {
            for (c, h) in r? {
                // A mixture component whose members are not concentrated
                // in the view is a confusion cell (e.g. all "cat predicted
                // as dog" rows), not a region of the view: drop it.
                if c.slicer == "mixture" {
                    let conc = merge::concentration(&reduced[v], &c.members, 20_000, config.seed);
                    if conc.is_some_and(|a| a < MIN_MIXTURE_CONCENTRATION) {
                        dropped += 1;
                        continue;
                    }
                }
                let mut sums = Sums::default();
                for &m in &c.members {
                    sums.add(
                        out.errors[m as usize],
                        weights.map_or(1.0, |w| w[m as usize]),
                    );
                }
                if sums.count == 0 {
                    continue;
                }
                let mut order = c.members.clone();
                order.sort_by(|&a, &b| {
                    c.membership[b as usize]
                        .total_cmp(&c.membership[a as usize])
                        .then(a.cmp(&b))
                });
                let p = if held_out {
                    // Test on the half the slicer did not see.
                    let other = 1 - h;
                    let mut held = Sums::default();
                    for &m in &c.members {
                        if half_of[m as usize] as usize == other {
                            held.add(
                                out.errors[m as usize],
                                weights.map_or(1.0, |w| w[m as usize]),
                            );
                        }
                    }
                    if held.count == 0 {
                        1.0
                    } else {
                        stats::p_value(&held, &half_totals[other], kind, &lf)
                    }
                } else {
                    p_of(&sums)
                };
                let hypothesis = p_values.len();
                p_values.push(p);
                found.push(Found {
                    description: format!("{} in view '{}': {}", c.slicer, c.view, c.detail),
                    slicer: c.slicer,
                    view: Some(c.view),
                    rule: None,
                    definition: Some(c.definition),
                    score: c.score,
                    members: c.members,
                    order,
                    membership: Some(c.membership),
                    sums,
                    hypothesis,
                });
            }
        }
        if dropped > 0 {
            notes.push(format!(
                "{dropped} mixture component(s) with excess errors were dropped because their members are not concentrated in the view (concentration < {MIN_MIXTURE_CONCENTRATION}): they are confusion cells spread over the view, not regions of it"
            ));
        }
    }
    let t_search = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let q = benjamini_hochberg(&p_values, 0);
    let stats_of = |f: &Found| {
        let mut st = stats::slice_stats(&f.sums, &total, kind, &lf);
        st.q_value = q.get(f.hypothesis).copied().unwrap_or(1.0);
        st
    };
    let mut ranked: Vec<(Found, SliceStats)> = found
        .into_iter()
        .map(|f| {
            let st = stats_of(&f);
            (f, st)
        })
        .collect();
    match config.output.rank_by {
        RankBy::ExcessErrors => ranked.sort_by(|a, b| {
            b.1.excess_errors
                .total_cmp(&a.1.excess_errors)
                .then(b.0.score.total_cmp(&a.0.score))
                .then_with(|| a.0.description.cmp(&b.0.description))
        }),
        RankBy::Score => ranked.sort_by(|a, b| {
            b.0.score
                .total_cmp(&a.0.score)
                .then_with(|| a.0.description.cmp(&b.0.description))
        }),
    }
    // Merge near-duplicates (never two lattice slices: those are the exact
    // top-K, and identical ones are marked equivalent below).
    let member_lists: Vec<&[u32]> = ranked.iter().map(|(f, _)| f.members.as_slice()).collect();
    let is_lattice: Vec<bool> = ranked.iter().map(|(f, _)| f.slicer == "lattice").collect();
    let groups =
        merge::group_near_duplicates(&member_lists, config.output.merge_jaccard, |a, b| {
            !(is_lattice[a] && is_lattice[b])
        });
    let found_by_of = |f: &Found, st: &SliceStats, j: f64| FoundBy {
        slicer: f.slicer.clone(),
        view: f.view.clone(),
        description: f.description.clone(),
        jaccard: j,
        size: st.size,
        excess_errors: st.excess_errors,
    };
    let mut extra: Vec<Vec<FoundBy>> = vec![Vec::new(); ranked.len()];
    for (i, g) in groups.iter().enumerate() {
        if let Some((k, j)) = g {
            extra[*k].push(found_by_of(&ranked[i].0, &ranked[i].1, *j));
        }
    }
    let mut slices: Vec<Slice> = Vec::new();
    let mut membership: Vec<Vec<f32>> = Vec::new();
    for (i, (f, st)) in ranked.into_iter().enumerate() {
        if groups[i].is_some() {
            continue;
        }
        let mut found_by = vec![found_by_of(&f, &st, 1.0)];
        found_by.append(&mut extra[i]);
        let concentration: BTreeMap<String, Option<f64>> = reduced
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    merge::concentration(v, &f.members, 20_000, config.seed),
                )
            })
            .collect();
        let m = match &f.membership {
            Some(m) => m.clone(),
            None => {
                let mut m = vec![0f32; n];
                f.members.iter().for_each(|&r| m[r as usize] = 1.0);
                m
            }
        };
        membership.push(m);
        slices.push(Slice {
            id: String::new(),
            rank: 0,
            slicer: f.slicer.clone(),
            view: f.view.clone(),
            description: f.description.clone(),
            rule: f.rule,
            definition: f.definition,
            found_by,
            concentration,
            stats: st,
            score: Some(f.score),
            members: Some(f.order),
            equivalent_to: None,
            stability: None,
            explanation: None,
        });
    }
    // Hide the slices that fail the false-discovery threshold.
    if !config.testing.show_all {
        let fdr = config.testing.fdr;
        let before = slices.len();
        let keep: Vec<bool> = slices.iter().map(|s| s.stats.q_value < fdr).collect();
        let mut it = keep.iter();
        slices.retain(|_| *it.next().unwrap_or(&false));
        let mut it = keep.iter();
        membership.retain(|_| *it.next().unwrap_or(&false));
        let hidden = before - slices.len();
        if hidden > 0 {
            notes.push(format!(
                "{hidden} slice(s) with q ≥ {fdr} (not significant after the false-discovery adjustment) are not listed; --show-all lists them"
            ));
        }
    }
    // Stability: how often each listed slice reappears when the whole
    // discovery is rerun on bootstrap resamples of the rows.
    if config.testing.resamples > 0 && !slices.is_empty() && total.err > 0.0 {
        let targets: Vec<Target> = slices
            .iter()
            .map(|sl| {
                let mut members = sl.members.clone().unwrap_or_default();
                members.sort_unstable();
                // An embedding slice is refitted from its own definition
                // by the slicer and view that found it.
                let refit = match (&sl.definition, &sl.view) {
                    (Some(def), Some(view)) => {
                        let v = reduced.iter().position(|r| &r.name == view);
                        let s = embedding.iter().position(|e| e.name() == sl.slicer);
                        v.zip(s).map(|(v, s)| (v, s, def.clone()))
                    }
                    _ => None,
                };
                Target { members, refit }
            })
            .collect();
        let st = stability(
            &Rerun {
                lattice: run_lattice.then_some(lattice_attrs.as_slice()),
                lattice_params: &config.lattice,
                embedding: &embedding,
                views: &reduced,
                errors: &out.errors,
                binary: out.binary,
                weights,
                classes: out.classes.as_ref(),
                testing: &config.testing,
                seed: config.seed,
            },
            &targets,
            observer,
        )?;
        for (sl, v) in slices.iter_mut().zip(st) {
            sl.stability = Some(v);
        }
        let min = config.testing.min_stability;
        let rr = config.testing.resample_rows;
        // Resamples of fewer rows than the data (m-out-of-n) make the
        // stability of small or weakly defined slices conservative: it is
        // reported, but only full-size resamples hide slices.
        let full_size = rr == 0 || n <= rr;
        if !full_size {
            let unstable = slices
                .iter()
                .filter(|s| s.stability.is_some_and(|v| v < min))
                .count();
            if unstable > 0 {
                notes.push(format!(
                    "{unstable} slice(s) reappear in fewer than {:.0}% of {} bootstrap resamples; each resample drew {} of the {} rows, which makes stability conservative for small or weakly defined slices, so they are listed (testing.resample_rows = 0 draws all {} rows per resample and then hides unstable slices)",
                    100.0 * min,
                    config.testing.resamples,
                    crate::slicers::spotlight::thousands(rr),
                    crate::slicers::spotlight::thousands(n),
                    crate::slicers::spotlight::thousands(n),
                ));
            }
        }
        if !config.testing.show_all && full_size {
            let keep: Vec<bool> = slices
                .iter()
                .map(|s| s.stability.is_none_or(|v| v >= min))
                .collect();
            let before = slices.len();
            let mut it = keep.iter();
            slices.retain(|_| *it.next().unwrap_or(&false));
            let mut it = keep.iter();
            membership.retain(|_| *it.next().unwrap_or(&false));
            let hidden = before - slices.len();
            if hidden > 0 {
                notes.push(format!(
                    "{hidden} slice(s) that reappear in fewer than {:.0}% of {} bootstrap resamples (unstable) are not listed; --show-all lists them",
                    100.0 * min,
                    config.testing.resamples
                ));
            }
        }
    }
    for (i, s) in slices.iter_mut().enumerate() {
        s.rank = i + 1;
        s.id = format!("S{}", i + 1);
    }
    // Same rows as a higher-ranked lattice slice: an equivalent rule.
    for i in 1..slices.len() {
        if slices[i].slicer != "lattice" {
            continue;
        }
        let hit = (0..i).find(|&j| {
            slices[j].slicer == "lattice"
                && slices[j].equivalent_to.is_none()
                && slices[j].stats.size == slices[i].stats.size
                && slices[j].members == slices[i].members
        });
        if let Some(j) = hit {
            slices[i].equivalent_to = Some(slices[j].id.clone());
        }
    }
    // Describe and diagnose every listed slice.
    let projected: Vec<ProjectedVocabulary> = vocabularies
        .iter()
        .map(|(view, vocab)| {
            let r = reduced.iter().find(|r| &r.name == view).ok_or_else(|| {
                Error::param(
                    "views.vocab",
                    format!("a vocabulary was given for view '{view}', which is not loaded"),
                )
            })?;
            ProjectedVocabulary::new(vocab, r)
        })
        .collect::<Result<_>>()?;
    let display: Vec<&crate::frame::Column> = config
        .columns
        .display
        .iter()
        .map(|c| frame.require(c, "display"))
        .collect::<Result<_>>()?;
    let index = if enc.attributes.is_empty() {
        None
    } else {
        Some(AttributeIndex::new(&enc, n, weights)?)
    };
    let lf_describe = LogFactorials::new(total.count);
    let neighbours: Vec<Option<crate::diagnose::NeighbourCache>> = match out.classes.as_ref() {
        Some(cl) => reduced
            .iter()
            .map(|v| {
                crate::diagnose::NeighbourCache::new(
                    v,
                    cl,
                    &config.diagnose.label_noise,
                    config.seed,
                )
                .map(Some)
            })
            .collect::<Result<_>>()?,
        None => reduced.iter().map(|_| None).collect(),
    };
    let confidence = match (out.classes.as_ref(), out.confidence.as_ref()) {
        (Some(cl), Some(c)) => Some(crate::diagnose::CheckedConfidence::new(cl, c)?),
        _ => None,
    };
    // "auto": the best witness, now that every view's score is known.
    let witness = match named_witness {
        Some(w) => w,
        None => crate::diagnose::choose_witness(&neighbours),
    };
    let ctx = explain::Context {
        n,
        weights,
        errors: &out.errors,
        binary: out.binary,
        metric: &out.metric,
        classes: out.classes.as_ref(),
        confidence,
        index,
        encoded: &enc,
        views: &reduced,
        vocab: &projected,
        display,
        describe: &config.describe,
        diagnose: &config.diagnose,
        log_fact: &lf_describe,
        witness,
        neighbours,
        total_weight: total.weight,
        seed: config.seed,
    };
    let explanations: Vec<Explanation> = slices
        .par_iter()
        .zip(membership.par_iter())
        .map(|(sl, m)| {
            let mut members = sl.members.clone().unwrap_or_default();
            members.sort_unstable();
            let (scores, threshold) = match &sl.definition {
                Some(Definition::Kernel { threshold, .. })
                | Some(Definition::Gaussian { threshold, .. }) => {
                    (Some(m.as_slice()), Some(*threshold))
                }
                Some(Definition::Halfspace { .. }) => (Some(m.as_slice()), Some(0.0)),
                None => (None, None),
            };
            ctx.explain(&explain::SliceInput {
                members: &members,
                membership: scores,
                threshold,
                view: sl.view.as_deref(),
                stats: &sl.stats,
            })
        })
        .collect::<Result<_>>()?;
    for (sl, e) in slices.iter_mut().zip(explanations) {
        sl.explanation = Some(e);
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
    let views_info = views
        .iter()
        .map(|v| {
            let at = reduced.iter().position(|r| r.name == v.name);
            let r = at.map(|i| &reduced[i]);
            let cache = at.and_then(|i| ctx.neighbours[i].as_ref());
            ViewInfo {
                name: v.name.clone(),
                source: v.source.clone(),
                dim: v.dim,
                reduced_dim: r.map(|r| r.dim),
                normalized: config.views.normalize.contains(&v.name),
                explained_ratio: r.map(|r| f64::from(r.explained_ratio)),
                label_support: cache.and_then(|c| c.label_support()),
                prediction_support: cache.and_then(|c| c.prediction_support()),
            }
        })
        .collect();
    let classes = out.classes.as_ref().map(|c| c.names.clone());
    let t_stats = t2.elapsed().as_secs_f64();
    let embedding_names: Vec<&str> = slicers
        .iter()
        .map(String::as_str)
        .filter(|s| EMBEDDING_SLICERS.contains(s))
        .collect();
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
        views: views_info,
        parameters: Parameters {
            slicers: slicers.clone(),
            lattice: config.lattice.clone(),
            min_support_resolved: sigma,
            binning: config.binning.clone(),
            views: config.views.clone(),
            mixture: config.mixture.clone(),
            spotlight: config.spotlight.clone(),
            direction: config.direction.clone(),
            merge_jaccard: config.output.merge_jaccard,
            rank_by: config.output.rank_by,
            testing: config.testing.clone(),
            describe: config.describe.clone(),
            diagnose: config.diagnose.clone(),
            seed: config.seed,
        },
        search: SearchInfo {
            hypotheses: p_values.len(),
            lattice_levels,
            multiple_testing: format!(
                "Benjamini–Hochberg over {} hypotheses: every slice whose statistics the lattice search computed with size ≥ σ (pruned slices were never tested and are not counted){}{}; slices with q ≥ {} are {}",
                p_values.len(),
                if embedding_names.is_empty() { String::new() } else { format!(", plus every candidate of the {} slicer(s)", embedding_names.join(", ")) },
                match (embedding_names.is_empty(), held_out) {
                    (true, _) => "",
                    (false, true) => ". Embedding slices are found on one half of the rows (seeded split) and their p-value comes from the other half (held-out test); size, error rate and interval are on all rows",
                    (false, false) => ". Embedding slices are tested on the same rows they were found on (testing.embedding = same-rows), so their p- and q-values are optimistic",
                },
                config.testing.fdr,
                if config.testing.show_all { "listed anyway (show_all)" } else { "not listed" },
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
        membership,
        row_errors: out.errors.iter().map(|&e| e as f32).collect(),
    })
}

/// What rerunning the discovery needs.
struct Rerun<'a> {
    /// The lattice's attributes, when the lattice slicer runs.
    lattice: Option<&'a [crate::attributes::Attribute]>,
    lattice_params: &'a LatticeParams,
    embedding: &'a [Box<dyn EmbeddingSlicer>],
    views: &'a [ReducedView],
    errors: &'a [f64],
    binary: bool,
    weights: Option<&'a [f64]>,
    classes: Option<&'a crate::outcome::Classes>,
    testing: &'a Testing,
    seed: u64,
}

/// Rows on which reappearance is judged: all rows up to this many, else a
/// seeded sample of this many.
const STABILITY_EVAL_ROWS: usize = 50_000;

/// A listed slice whose stability is measured.
struct Target {
    /// Members, ascending.
    members: Vec<u32>,
    /// (view, slicer, definition) of an embedding slice, for its refit.
    refit: Option<(usize, usize, Definition)>,
}

/// For each target, the share of bootstrap resamples in which it
/// reappears: a slice with Jaccard ≥ 0.5 against its members is found.
///
/// Each resample draws min(n, `resample_rows`) rows with replacement; the
/// draw counts become frequency weights. On those rows:
/// - an embedding slice is refitted by its slicer from its own definition
///   ([`EmbeddingSlicer::refit`]: the spotlight optimiser started at the
///   slice's kernel, the mixture EM started from its mixture, the
///   direction refitted on the slice's class only), so that the random
///   starts of a fresh discovery — which often go elsewhere even when the
///   slice is real — do not count against it;
/// - an attribute slice is looked for in a rerun of the lattice search,
///   and an embedding slice whose slicer has no refit in a rerun of that
///   slicer on its view; any slice these reruns return can match any
///   such target.
///
/// Reappearance is judged on at most 50,000 rows (a seeded sample) through
/// each found slice's definition.
fn stability(ctx: &Rerun<'_>, targets: &[Target], observer: &dyn Observer) -> Result<Vec<f64>> {
    use crate::rng::Rng;
    let n = ctx.errors.len();
    let t = ctx.testing;
    let m = if t.resample_rows == 0 {
        n
    } else {
        t.resample_rows.min(n)
    };
    let root = Rng::new(ctx.seed).fork(0xB007_57A9);
    // Rows where overlap is judged.
    let eval: Vec<u32> = if n <= STABILITY_EVAL_ROWS {
        (0..n as u32).collect()
    } else {
        let mut all: Vec<u32> = (0..n as u32).collect();
        root.fork(0).shuffle(&mut all);
        let mut e = all[..STABILITY_EVAL_ROWS].to_vec();
        e.sort_unstable();
        e
    };
    let restrict = |rows: &[u32]| -> Vec<u32> {
        rows.iter()
            .copied()
            .filter(|r| eval.binary_search(r).is_ok())
            .collect()
    };
    let members: Vec<Vec<u32>> = targets.iter().map(|t| restrict(&t.members)).collect();
    // The views and labels of the evaluation rows.
    let eval_input = |v: &ReducedView| -> RowSubset {
        RowSubset::new(
            &EmbeddingInput {
                view: v,
                errors: ctx.errors,
                binary: ctx.binary,
                weights: None,
                classes: ctx.classes,
                seed: 0,
            },
            &eval,
        )
    };
    let eval_views: Vec<RowSubset> = ctx.views.iter().map(eval_input).collect();
    let eval_labels: Option<Vec<u32>> = ctx
        .classes
        .map(|c| eval.iter().map(|&r| c.label[r as usize]).collect());
    let labels = match (ctx.classes, &eval_labels) {
        (Some(c), Some(l)) => Some(Labels {
            names: &c.names,
            label: l,
        }),
        _ => None,
    };
    // Members on the evaluation rows (as full-data row indices).
    let on_eval = |cands: Vec<crate::slicers::Candidate>, v: usize| -> Result<Vec<Vec<u32>>> {
        let defs: Vec<&Definition> = cands.iter().map(|c| &c.definition).collect();
        let applied = apply_many(&defs, eval_views[v].view(), labels)?;
        Ok(applied
            .into_iter()
            .map(|a| a.members.iter().map(|&p| eval[p as usize]).collect())
            .collect())
    };
    // Per target, the first target with the same refit (the components of
    // one mixture fit): its refit serves both.
    let shared: Vec<usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let Some((v, s, def)) = &t.refit else {
                return i;
            };
            targets[..i]
                .iter()
                .position(|o| {
                    o.refit.as_ref().is_some_and(|(ov, os, od)| {
                        (ov, os) == (v, s) && crate::slicers::same_mixture(od, def)
                    })
                })
                .unwrap_or(i)
        })
        .collect();
    let mut hits = vec![0usize; targets.len()];
    observer.stage("bootstrap stability (resamples)", t.resamples);
    for b in 0..t.resamples {
        if observer.cancelled() {
            return Err(Error::Interrupted);
        }
        if b > 0 {
            observer.step();
        }
        let mut rng = root.fork(1 + b as u64);
        let mut counts = vec![0u32; n];
        for _ in 0..m {
            counts[rng.below(n as u64) as usize] += 1;
        }
        let rows: Vec<u32> = (0..n as u32).filter(|&r| counts[r as usize] > 0).collect();
        if rows.iter().all(|&r| ctx.errors[r as usize] <= 0.0) {
            // No error drawn: nothing to find in this resample.
            continue;
        }
        let w: Vec<f64> = (0..n)
            .map(|r| f64::from(counts[r]) * ctx.weights.map_or(1.0, |w| w[r]))
            .collect();
        let subsets: Vec<RowSubset> = ctx
            .views
            .iter()
            .map(|v| {
                RowSubset::new(
                    &EmbeddingInput {
                        view: v,
                        errors: ctx.errors,
                        binary: ctx.binary,
                        weights: Some(&w),
                        classes: ctx.classes,
                        seed: 0,
                    },
                    &rows,
                )
            })
            .collect();
        let seed_of = |v: usize, s: usize| {
            ctx.seed ^ ((v as u64) << 32 | s as u64) ^ (0xB007 + b as u64) << 40
        };
        // Refits, one per embedding target (components of one mixture
        // share theirs); None: no refit for it.
        let refits: Vec<Result<Option<Vec<Vec<u32>>>>> = targets
            .par_iter()
            .enumerate()
            .map(|(i, target)| {
                let Some((v, s, def)) = &target.refit else {
                    return Ok(None);
                };
                if shared[i] != i {
                    return Ok(None);
                }
                let input = subsets[*v].input(ctx.binary, seed_of(*v, *s));
                match ctx.embedding[*s].refit(&input, def)? {
                    Some(cands) => Ok(Some(on_eval(cands, *v)?)),
                    None => Ok(None),
                }
            })
            .collect();
        let mut refits: Vec<Option<Vec<Vec<u32>>>> = refits.into_iter().collect::<Result<_>>()?;
        for i in 0..refits.len() {
            if shared[i] != i {
                refits[i] = refits[shared[i]].clone();
            }
        }
        // Rediscovery, for the targets without a refit.
        let mut found: Vec<Vec<u32>> = Vec::new();
        let need: Vec<bool> = refits.iter().map(Option::is_none).collect();
        if need.iter().any(|&x| x) {
            let attribute_targets = targets
                .iter()
                .zip(&need)
                .any(|(t, &nd)| nd && t.refit.is_none());
            if let Some(attrs) = ctx.lattice.filter(|_| attribute_targets) {
                let sub: Vec<crate::attributes::Attribute> = attrs
                    .iter()
                    .map(|a| crate::attributes::Attribute {
                        name: a.name.clone(),
                        codes: rows.iter().map(|&r| a.codes[r as usize]).collect(),
                        levels: a.levels.clone(),
                    })
                    .collect();
                let errs: Vec<f64> = rows.iter().map(|&r| ctx.errors[r as usize]).collect();
                let ws: Vec<f64> = rows.iter().map(|&r| w[r as usize]).collect();
                let input = LatticeInput {
                    attributes: &sub,
                    errors: &errs,
                    weights: Some(&ws),
                };
                let no_p = |_: &Sums| 1.0;
                let lat = lattice::search(&input, ctx.lattice_params, &no_p, &lattice::Silent)?;
                for ls in &lat.slices {
                    found.push(
                        eval.iter()
                            .copied()
                            .filter(|&r| {
                                ls.items
                                    .iter()
                                    .all(|&(a, lv)| attrs[a].codes[r as usize] == lv)
                            })
                            .collect(),
                    );
                }
            }
            // Each (view, slicer) with a target it could not refit reruns
            // in full.
            let jobs: Vec<(usize, usize)> = (0..ctx.views.len())
                .flat_map(|v| (0..ctx.embedding.len()).map(move |s| (v, s)))
                .filter(|&(v, s)| {
                    targets.iter().zip(&need).any(|(t, &nd)| {
                        nd && t
                            .refit
                            .as_ref()
                            .is_some_and(|(tv, ts, _)| (*tv, *ts) == (v, s))
                    })
                })
                .collect();
            let sets: Vec<Result<Vec<Vec<u32>>>> = jobs
                .par_iter()
                .map(|&(v, s)| {
                    let input = subsets[v].input(ctx.binary, seed_of(v, s));
                    on_eval(ctx.embedding[s].fit(&input)?, v)
                })
                .collect();
            for r in sets {
                found.extend(r?);
            }
        }
        for (i, h) in hits.iter_mut().enumerate() {
            let t = &members[i];
            let own = refits[i].as_deref().unwrap_or(&[]);
            let again = |f: &Vec<u32>| merge::jaccard(t, f) >= 0.5;
            if own.iter().any(again) || (need[i] && found.iter().any(again)) {
                *h += 1;
            }
        }
    }
    observer.step();
    Ok(hits
        .into_iter()
        .map(|h| h as f64 / t.resamples as f64)
        .collect())
}

/// A seeded split of `n` rows into two halves of sizes ⌈n/2⌉ and ⌊n/2⌋:
/// per row its half (0 or 1), and the rows of each half, ascending.
fn split_halves(n: usize, seed: u64) -> (Vec<u8>, Vec<Vec<u32>>) {
    let mut order: Vec<u32> = (0..n as u32).collect();
    crate::rng::Rng::new(seed)
        .fork(0x4A1F_0C7E)
        .shuffle(&mut order);
    let mut half_of = vec![0u8; n];
    for &r in &order[n.div_ceil(2)..] {
        half_of[r as usize] = 1;
    }
    let mut halves = vec![Vec::new(), Vec::new()];
    for (r, &h) in half_of.iter().enumerate() {
        halves[h as usize].push(r as u32);
    }
    (half_of, halves)
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
    for d in &config.columns.display {
        if !cols.contains(d) {
            cols.push(d.clone());
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
pub fn views_from_frame(frame: &mut Frame, config: &Config) -> Result<Vec<View<'static>>> {
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
                out.push(View::owned(name.clone(), src.clone(), values, dim));
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
