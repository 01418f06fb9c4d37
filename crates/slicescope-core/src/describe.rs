//! Per-slice descriptions: what a slice *is*, in terms a domain expert can
//! check.
//!
//! Every function here is pure (plain inputs in, plain values out),
//! deterministic and safe to call for many slices in parallel:
//!
//! * [`attribute_rule`] / [`AttributeIndex::rule`]: the shortest
//!   conjunction of attribute predicates that best matches the slice's
//!   rows, scored by F1 between the rows the rule selects and the members;
//! * [`enriched_values`] / [`AttributeIndex::enriched`]: the attribute
//!   levels most over-represented in the slice, with lift and a one-sided
//!   hypergeometric p-value;
//! * [`outcome_summary`]: the dominant label → prediction pairs
//!   (classification) or the error distribution inside and outside the
//!   slice (regression and metrics);
//! * [`examples`]: typical and borderline member rows;
//! * [`sentence`]: one readable line assembled from those parts.
//!
//! # The attribute rule
//!
//! Candidate predicates are every level of every attribute and, for runs of
//! consecutive numeric-range levels (the quantile bins of
//! [`crate::attributes::encode`]), every union of adjacent levels, written
//! as one [`Predicate::Range`] with the outer bounds, so "30 ≤ age < 50" is
//! named exactly even when it spans several bins. The union of a whole run
//! when it is unbounded on both sides ("age is any value") is not a
//! candidate.
//!
//! With W(·) the (frequency-)weighted row count, R the rows a rule selects
//! and M the members, `precision = W(R∩M)/W(R)`, `recall = W(R∩M)/W(M)` and
//! `F1 = 2·W(R∩M)/(W(R) + W(M))` (0 when undefined).
//!
//! The search is exact for one predicate and a beam search for two to
//! `max_predicates`: the `beam_width` best rules of each length (the best
//! rule of each distinct set of columns first, for diversity) are extended
//! by every candidate on a column they do not use yet. A rule enters the
//! beam only if some extension of it could still be chosen: extensions
//! never gain members, so their F1 is at most `2·W(R∩M)/(W(R∩M) + W(M))`,
//! and a rule whose bound does not beat the best shorter rule by `min_gain`
//! is dropped. With a beam at least as wide as the number of candidates the
//! answer is therefore the exact optimum over rules of at most two
//! predicates. Among rules of one length the higher F1 wins, then the lower
//! (attribute, first level, last level) list; a longer rule is preferred
//! only when its F1 exceeds the best shorter rule's by at least `min_gain`.
//!
//! Cost: an [`AttributeIndex`] (built once per table) holds the weight of
//! every level, the level codes at one byte per row and attribute, and,
//! filled on first use, one table per attribute of the level weights of all
//! attributes given each of its levels. Scoring all single predicates then
//! costs one pass over the members; extending a single predicate, a pass
//! over the members it selects (its totals come from the table); extending
//! a longer rule, a pass over the column of its most selective predicate
//! and a histogram of the rows the rule selects. Memory per slice is linear
//! in those rows.
//!
//! Measured with the ignored test `rule_timing_one_million_rows`: 1,000,000
//! rows, 30 attributes (1,320 candidate predicates), 30 slices of 2–7% of
//! the rows, each a noisy conjunction of two or three predicates (all 30
//! recovered), default parameters, slicescope-core at `opt-level = 3`, one
//! core of a busy two-core machine: median 0.16 s per slice, at most
//! 0.24 s once the level tables are filled (the first slice, which fills
//! several, took 0.47 s).
//!
//! Weights are frequency weights throughout: a weight of 2 counts a row
//! twice. A rule's `size` and `matched` count rows regardless of weights.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::attributes::{Encoded, Predicate};
use crate::error::{Error, Result};
use crate::outcome::Classes;
use crate::rng::Rng;
use crate::stats::{hypergeom_sf, LogFactorials};

/// Slack for comparing F1 scores computed along different summation orders.
const EPS: f64 = 1e-12;

/// Most cells (f64) of cached per-attribute level tables in one
/// [`AttributeIndex`], over all attributes (64 MiB).
const TABLE_CELLS: usize = 1 << 23;

/// The F1 an attribute rule needs for [`sentence`] to state it; below it the
/// sentence says "no attribute rule (best F1 x)".
pub const RULE_MIN_F1: f64 = 0.5;

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/// Parameters of the attribute-rule search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleParams {
    /// Most predicates in a rule (≥ 1).
    pub max_predicates: usize,
    /// F1 a longer rule must add over the best shorter rule to be
    /// preferred, in [0, 1].
    pub min_gain: f64,
    /// Rules of each length kept for extension to the next length (≥ 1).
    pub beam_width: usize,
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams {
            max_predicates: 3,
            min_gain: 0.02,
            beam_width: 10,
        }
    }
}

impl RuleParams {
    /// Check the parameters (called by the rule search).
    pub fn validate(&self) -> Result<()> {
        if self.max_predicates == 0 {
            return Err(Error::param("max_predicates", "must be at least 1"));
        }
        if self.beam_width == 0 {
            return Err(Error::param("beam_width", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.min_gain) {
            return Err(Error::param(
                "min_gain",
                format!("must be in [0, 1], got {}", self.min_gain),
            ));
        }
        Ok(())
    }
}

/// Parameters of the enriched-values search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichParams {
    /// Most values returned.
    pub top: usize,
    /// Smallest share of the slice (by weight) a value must hold, in [0, 1].
    pub min_share: f64,
    /// Smallest weighted count of members with the value (≥ 0).
    pub min_count: f64,
}

impl Default for EnrichParams {
    fn default() -> Self {
        EnrichParams {
            top: 5,
            min_share: 0.05,
            min_count: 5.0,
        }
    }
}

impl EnrichParams {
    /// Check the parameters (called by the enrichment functions).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_share) {
            return Err(Error::param(
                "min_share",
                format!("must be in [0, 1], got {}", self.min_share),
            ));
        }
        if !(self.min_count.is_finite() && self.min_count >= 0.0) {
            return Err(Error::param(
                "min_count",
                format!("must be a finite number ≥ 0, got {}", self.min_count),
            ));
        }
        Ok(())
    }
}

/// How many example rows to pick, and the seed for sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExampleParams {
    /// Typical examples.
    pub typical: usize,
    /// Borderline examples (only with membership scores).
    pub borderline: usize,
    /// Seed of the sample drawn when there are no membership scores.
    pub seed: u64,
}

impl Default for ExampleParams {
    fn default() -> Self {
        ExampleParams {
            typical: 8,
            borderline: 8,
            seed: 42,
        }
    }
}

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/// A conjunction of attribute predicates describing a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeRule {
    /// The predicates, in attribute order; all must hold.
    pub predicates: Vec<Predicate>,
    /// The predicates joined with " ∧ ".
    pub text: String,
    /// Weighted share of the rows the rule selects that are members.
    pub precision: f64,
    /// Weighted share of the members the rule selects.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows the rule selects.
    pub size: u64,
    /// Member rows the rule selects.
    pub matched: u64,
}

/// An attribute value over-represented in a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enriched {
    /// The attribute level.
    pub predicate: Predicate,
    /// The predicate as text.
    pub text: String,
    /// Weighted count of members with the value.
    pub count: f64,
    /// Share of the slice's weight with the value.
    pub share_in_slice: f64,
    /// Share of all rows' weight with the value.
    pub share_overall: f64,
    /// `share_in_slice / share_overall` (> 1).
    pub lift: f64,
    /// One-sided hypergeometric p-value of over-representation,
    /// P(X ≥ count) for X the count in a random subset of the slice's size.
    pub p_value: f64,
}

/// One label → prediction pair inside a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionPair {
    /// The true class.
    pub label: String,
    /// The predicted class.
    pub predicted: String,
    /// Weighted count of members with this pair.
    pub count: f64,
    /// Share of the slice's weight with this pair.
    pub share_in_slice: f64,
    /// Share of all rows' weight with this pair.
    pub share_overall: f64,
    /// Whether the prediction is wrong.
    pub error: bool,
}

/// Mean and quantiles of the per-row error over a set of rows.
///
/// Quantiles are numpy's default (linear interpolation between order
/// statistics), extended to frequency weights so that a row of weight k
/// counts as k copies of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDistribution {
    /// Σ weights of the rows (their count without weights).
    pub weight: f64,
    /// Weighted mean error.
    pub mean: f64,
    /// 10th percentile.
    pub q10: f64,
    /// Median.
    pub q50: f64,
    /// 90th percentile.
    pub q90: f64,
}

/// What goes wrong inside a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OutcomeSummary {
    /// Classification: the most frequent label → prediction pairs.
    Confusion {
        /// Σ weights of the members.
        weight: f64,
        /// Σ weights of the members whose prediction is wrong.
        errors: f64,
        /// The most frequent pairs, right or wrong, by count (descending),
        /// then label and prediction index.
        pairs: Vec<ConfusionPair>,
        /// The most frequent wrong pairs, in the same order.
        error_pairs: Vec<ConfusionPair>,
    },
    /// Regression and metrics: the error distribution.
    Errors {
        /// Whether errors are 0/1 (then `mean` is an error rate).
        binary: bool,
        /// The members (None when they carry no weight).
        slice: Option<ErrorDistribution>,
        /// The rows outside the slice (None when there are none).
        rest: Option<ErrorDistribution>,
        /// All rows (None when there are none).
        overall: Option<ErrorDistribution>,
    },
}

impl OutcomeSummary {
    /// The most frequent wrong pair when it accounts for at least
    /// `min_share_of_errors` of the slice's errors (0.5 reads as "mostly").
    pub fn dominant_error(&self, min_share_of_errors: f64) -> Option<&ConfusionPair> {
        match self {
            OutcomeSummary::Confusion {
                errors,
                error_pairs,
                ..
            } => error_pairs
                .first()
                .filter(|p| *errors > 0.0 && p.count >= min_share_of_errors * errors),
            OutcomeSummary::Errors { .. } => None,
        }
    }

    /// The true class of at least `min_share_of_errors` of the slice's
    /// errors (summed over the listed wrong pairs, so a lower bound), with
    /// that share; for slices whose errors are one class mistaken for
    /// several others.
    pub fn dominant_error_label(&self, min_share_of_errors: f64) -> Option<(&str, f64)> {
        let OutcomeSummary::Confusion {
            errors,
            error_pairs,
            ..
        } = self
        else {
            return None;
        };
        if *errors <= 0.0 {
            return None;
        }
        let mut by_label: Vec<(&str, f64)> = Vec::new();
        for p in error_pairs {
            match by_label.iter_mut().find(|(l, _)| *l == p.label) {
                Some((_, c)) => *c += p.count,
                None => by_label.push((&p.label, p.count)),
            }
        }
        by_label
            .into_iter()
            .map(|(l, c)| (l, c / errors))
            .filter(|&(_, share)| share >= min_share_of_errors)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The `n` most frequent wrong pairs with their share of the slice's
    /// errors, most frequent first (empty for regression and for a slice
    /// without errors).
    pub fn top_errors(&self, n: usize) -> Vec<(&ConfusionPair, f64)> {
        match self {
            OutcomeSummary::Confusion {
                errors,
                error_pairs,
                ..
            } if *errors > 0.0 => error_pairs
                .iter()
                .take(n)
                .map(|p| (p, p.count / errors))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Example rows of a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Examples {
    /// The most typical members (highest membership first), or a seeded
    /// sample of members in row order when there are no membership scores.
    pub typical: Vec<u32>,
    /// Members closest to the slice's boundary (lowest membership at or
    /// above the threshold first); empty without membership scores.
    pub borderline: Vec<u32>,
}

/// A label → prediction pair named by [`sentence`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorPair {
    /// The true class.
    pub label: String,
    /// The predicted class.
    pub predicted: String,
}

/// The parts of an attribute rule that [`sentence`] states.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleText {
    /// The rule, e.g. "weather = fog ∧ camera = B".
    pub text: String,
    /// The rule's precision.
    pub precision: f64,
    /// The rule's recall.
    pub recall: f64,
    /// The rule's F1.
    pub f1: f64,
}

impl From<&AttributeRule> for RuleText {
    fn from(r: &AttributeRule) -> Self {
        RuleText {
            text: r.text.clone(),
            precision: r.precision,
            recall: r.recall,
            f1: r.f1,
        }
    }
}

/// Plain inputs of [`sentence`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentenceParts {
    /// Share of all rows (by weight) in the slice, in [0, 1].
    pub share: f64,
    /// Rows in the slice.
    pub size: u64,
    /// Error rate (binary) or mean error in the slice.
    pub error_rate: f64,
    /// The same outside the slice (None when the slice is everything).
    pub rest_error_rate: Option<f64>,
    /// Errors above what the overall rate predicts for the slice.
    pub excess_errors: f64,
    /// Name of the compared quantity ("error rate", "mean absolute error").
    pub metric: String,
    /// Whether errors are 0/1.
    pub binary: bool,
    /// The dominant wrong label → prediction pair, if any.
    pub dominant_error: Option<ErrorPair>,
    /// Without a dominant pair: the true class of most errors and its share
    /// of them, if any.
    #[serde(default)]
    pub dominant_label: Option<(String, f64)>,
    /// Without a dominant pair or class: the most frequent wrong pairs
    /// with their share of the slice's errors (the sentence names two).
    #[serde(default)]
    pub top_errors: Vec<(ErrorPair, f64)>,
    /// The best attribute rule, if attributes were searched.
    pub rule: Option<RuleText>,
    /// Text phrases describing the slice, best first (three are used).
    pub phrases: Vec<String>,
}

// ---------------------------------------------------------------------------
// Validation and small helpers
// ---------------------------------------------------------------------------

/// Members must be strictly ascending row indices below `n_rows`.
fn check_members(members: &[u32], n_rows: usize) -> Result<()> {
    let mut prev: Option<u32> = None;
    for (i, &r) in members.iter().enumerate() {
        if r as usize >= n_rows {
            return Err(Error::InvalidInput(format!(
                "slice member {r} (position {i}) is not a row: the table has {n_rows} rows"
            )));
        }
        if let Some(p) = prev {
            if r <= p {
                return Err(Error::InvalidInput(format!(
                    "slice members must be strictly ascending row indices, but {r} follows {p} at position {i}; sort and deduplicate them"
                )));
            }
        }
        prev = Some(r);
    }
    Ok(())
}

/// Weights must match the rows and be finite and ≥ 0; all-ones weights are
/// dropped so that the unweighted fast paths apply.
fn check_weights(weights: Option<&[f64]>, n_rows: usize) -> Result<Option<&[f64]>> {
    let Some(w) = weights else {
        return Ok(None);
    };
    if w.len() != n_rows {
        return Err(Error::ShapeMismatch(format!(
            "{} weights for {n_rows} rows",
            w.len()
        )));
    }
    if let Some((i, x)) = w
        .iter()
        .enumerate()
        .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
    {
        return Err(Error::InvalidInput(format!(
            "the weight of row {i} is {x}; weights must be finite and ≥ 0"
        )));
    }
    Ok(if w.iter().all(|&x| x == 1.0) {
        None
    } else {
        Some(w)
    })
}

#[inline]
fn weight_of(weights: Option<&[f64]>, r: u32) -> f64 {
    weights.map_or(1.0, |w| w[r as usize])
}

/// `a / b`, or 0 when `b` is not positive.
#[inline]
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// F1 of a rule selecting weight `tot`, of which `mem` are members, for
/// members of total weight `w_m`.
#[inline]
fn f1_score(mem: f64, tot: f64, w_m: f64) -> f64 {
    ratio(2.0 * mem, tot + w_m)
}

fn bitset_of(rows: &[u32], n_rows: usize) -> Vec<u64> {
    let mut bits = vec![0u64; n_rows.div_ceil(64)];
    for &r in rows {
        bits[(r >> 6) as usize] |= 1u64 << (r & 63);
    }
    bits
}

#[inline]
fn bit(bits: &[u64], r: u32) -> bool {
    (bits[(r >> 6) as usize] >> (r & 63)) & 1 == 1
}

// ---------------------------------------------------------------------------
// Attribute index, rule search and enrichment
// ---------------------------------------------------------------------------

/// Encoded attributes prepared for describing many slices of one table:
/// validated once, with the weight of every level precomputed.
///
/// Build it once per table and call [`AttributeIndex::rule`] and
/// [`AttributeIndex::enriched`] per slice, from several threads if wanted:
/// it is `Sync`, and the level tables it fills on first use hold the same
/// numbers whichever thread fills them.
///
/// Memory: per row, two bytes for each attribute with at most 256 levels
/// (a column copy and a row-major copy of its codes) and two for each with
/// at most 65,536 (wider ones borrow their codes), plus the level tables,
/// at most 64 MiB in all.
#[derive(Debug, Clone)]
pub struct AttributeIndex<'a> {
    enc: &'a Encoded,
    n_rows: usize,
    weights: Option<&'a [f64]>,
    /// Per attribute: its level codes, compacted.
    codes: Vec<Codes<'a>>,
    /// Per attribute: its column's id (attributes with one name share one).
    column: Vec<usize>,
    /// Per attribute and level: the end (exclusive) of the run of
    /// consecutive range levels starting at or containing that level.
    run_end: Vec<Vec<usize>>,
    /// Per attribute: where its levels start in flat per-level arrays.
    offset: Vec<usize>,
    /// Levels of all attributes together (the flat arrays' length).
    n_levels: usize,
    /// Codes of the attributes with at most 256 levels, row-major.
    narrow: Narrow,
    /// The attributes with more than 256 levels.
    wide: Vec<usize>,
    /// Per level (flat): Σ weights of its rows.
    level_weight: Vec<f64>,
    /// Per attribute a, computed on first use: for each level l of a, the
    /// weight per level (flat) of the rows with a = l; None when larger
    /// than [`TABLE_CELLS`] / attributes.
    tables: Vec<OnceLock<Option<Vec<f64>>>>,
    /// Σ weights of all rows.
    total_weight: f64,
}

/// One attribute's level codes in the narrowest integer type that holds
/// them: the rule search streams the codes of the rows it examines, so a
/// byte per row instead of four cuts its memory traffic.
#[derive(Debug, Clone)]
enum Codes<'a> {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(&'a [u32]),
}

/// Run `$body` with `$c` bound to the codes as a slice of their type.
macro_rules! with_codes {
    ($codes:expr, $c:ident => $body:expr) => {
        match $codes {
            Codes::U8(v) => {
                let $c: &[u8] = v;
                $body
            }
            Codes::U16(v) => {
                let $c: &[u16] = v;
                $body
            }
            Codes::U32(v) => {
                let $c: &[u32] = v;
                $body
            }
        }
    };
}

/// The codes of the attributes with at most 256 levels as one byte per row
/// and attribute, row after row: a pass over a rule's rows then updates
/// every attribute's histogram from one cache line per row, instead of
/// touching one line per row in each attribute's column.
#[derive(Debug, Clone)]
struct Narrow {
    /// Bytes per row (the number of narrow attributes).
    width: usize,
    /// Per narrow attribute: its flat level offset.
    offset: Vec<usize>,
    /// `bytes[r * width + j]`: the level of row r in narrow attribute j.
    bytes: Vec<u8>,
}

/// A level code of any width.
trait Code: Copy {
    fn level(self) -> usize;
}

impl Code for u8 {
    #[inline]
    fn level(self) -> usize {
        usize::from(self)
    }
}

impl Code for u16 {
    #[inline]
    fn level(self) -> usize {
        usize::from(self)
    }
}

impl Code for u32 {
    #[inline]
    fn level(self) -> usize {
        self as usize
    }
}

impl<'a> Codes<'a> {
    /// Compact validated codes (each below `n_levels`).
    fn new(codes: &'a [u32], n_levels: usize) -> Self {
        if n_levels <= 1 << 8 {
            Codes::U8(codes.iter().map(|&c| c as u8).collect())
        } else if n_levels <= 1 << 16 {
            Codes::U16(codes.iter().map(|&c| c as u16).collect())
        } else {
            Codes::U32(codes)
        }
    }
}

/// Add the weight of each of `rows` to slot `base(r) + level` of `h`.
fn add_weights<C: Code>(
    codes: &[C],
    rows: impl Iterator<Item = u32>,
    base: impl Fn(u32) -> usize,
    weights: Option<&[f64]>,
    h: &mut [f64],
) {
    match weights {
        None => {
            for r in rows {
                h[base(r) + codes[r as usize].level()] += 1.0;
            }
        }
        Some(w) => {
            for r in rows {
                h[base(r) + codes[r as usize].level()] += w[r as usize];
            }
        }
    }
}

/// A candidate predicate: levels `first..=last` of attribute `attr`.
/// The derived order is the deterministic tie-break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Cand {
    attr: usize,
    first: usize,
    last: usize,
}

/// A scored rule during the search.
#[derive(Debug, Clone)]
struct Scored {
    /// Predicates sorted by [`Cand`] order.
    key: Vec<Cand>,
    f1: f64,
    /// Weight of the members the rule selects.
    mem: f64,
}

fn by_rank(a: &Scored, b: &Scored) -> Ordering {
    b.f1.total_cmp(&a.f1).then_with(|| a.key.cmp(&b.key))
}

/// Whether `b` directly follows `a` as an ordered numeric range.
fn chains(a: &Predicate, b: &Predicate) -> bool {
    match (a, b) {
        (
            Predicate::Range {
                column: ca,
                hi: Some(h),
                ..
            },
            Predicate::Range {
                column: cb,
                lo: Some(l),
                ..
            },
        ) => ca == cb && l >= h,
        _ => false,
    }
}

/// Whether levels `first..=last` (a union) would be unbounded on both sides.
fn unbounded(first: &Predicate, last: &Predicate) -> bool {
    matches!(
        (first, last),
        (
            Predicate::Range { lo: None, .. },
            Predicate::Range { hi: None, .. }
        )
    )
}

impl<'a> AttributeIndex<'a> {
    /// Validate `enc` against `n_rows` rows with optional frequency
    /// `weights` and precompute the level weights.
    ///
    /// Errors: more than `u32::MAX` rows, an attribute whose code count is
    /// not `n_rows` or whose code names no level, or weights of the wrong
    /// length, negative or not finite.
    pub fn new(enc: &'a Encoded, n_rows: usize, weights: Option<&'a [f64]>) -> Result<Self> {
        if u32::try_from(n_rows).is_err() {
            return Err(Error::InvalidInput(format!(
                "{n_rows} rows; slice descriptions index rows with 32 bits (at most {} rows)",
                u32::MAX
            )));
        }
        let weights = check_weights(weights, n_rows)?;
        let mut names: Vec<&str> = Vec::new();
        let mut codes = Vec::with_capacity(enc.attributes.len());
        let mut column = Vec::with_capacity(enc.attributes.len());
        let mut run_end = Vec::with_capacity(enc.attributes.len());
        let mut offset = Vec::with_capacity(enc.attributes.len());
        let mut level_weight = Vec::new();
        for attr in &enc.attributes {
            if attr.codes.len() != n_rows {
                return Err(Error::ShapeMismatch(format!(
                    "attribute '{}' has {} codes for {n_rows} rows",
                    attr.name,
                    attr.codes.len()
                )));
            }
            let n_levels = attr.levels.len();
            let mut lw = vec![0.0; n_levels];
            for (r, &c) in attr.codes.iter().enumerate() {
                let Some(slot) = lw.get_mut(c as usize) else {
                    return Err(Error::InvalidInput(format!(
                        "attribute '{}': row {r} has level {c}, but the attribute has {n_levels} levels",
                        attr.name
                    )));
                };
                *slot += weights.map_or(1.0, |w| w[r]);
            }
            offset.push(level_weight.len());
            level_weight.extend(lw);
            codes.push(Codes::new(&attr.codes, n_levels));
            let id = match names.iter().position(|n| *n == attr.name) {
                Some(id) => id,
                None => {
                    names.push(&attr.name);
                    names.len() - 1
                }
            };
            column.push(id);
            let mut end = vec![0usize; n_levels];
            for i in (0..n_levels).rev() {
                end[i] = if i + 1 < n_levels && chains(&attr.levels[i], &attr.levels[i + 1]) {
                    end[i + 1]
                } else {
                    i + 1
                };
            }
            run_end.push(end);
        }
        let total_weight = weights.map_or(n_rows as f64, |w| w.iter().sum());
        let (narrow_attrs, wide): (Vec<usize>, Vec<usize>) =
            (0..enc.attributes.len()).partition(|&a| matches!(codes[a], Codes::U8(_)));
        let width = narrow_attrs.len();
        let mut bytes = vec![0u8; n_rows * width];
        for (j, &a) in narrow_attrs.iter().enumerate() {
            if let Codes::U8(c) = &codes[a] {
                for (r, &code) in c.iter().enumerate() {
                    bytes[r * width + j] = code;
                }
            }
        }
        let narrow = Narrow {
            width,
            offset: narrow_attrs.iter().map(|&a| offset[a]).collect(),
            bytes,
        };
        Ok(AttributeIndex {
            enc,
            n_rows,
            weights,
            codes,
            column,
            run_end,
            offset,
            n_levels: level_weight.len(),
            narrow,
            wide,
            level_weight,
            total_weight,
            tables: (0..enc.attributes.len()).map(|_| OnceLock::new()).collect(),
        })
    }

    /// The best attribute rule for the slice with rows `members` (strictly
    /// ascending). None when there are no attributes or no members; a rule
    /// with a low F1 is still returned.
    pub fn rule(&self, members: &[u32], params: &RuleParams) -> Result<Option<AttributeRule>> {
        params.validate()?;
        check_members(members, self.n_rows)?;
        if members.is_empty() || self.enc.attributes.is_empty() {
            return Ok(None);
        }
        let w_m: f64 = members.iter().map(|&r| weight_of(self.weights, r)).sum();

        // Length one: exact, from member histograms and the level weights.
        let mut level: Vec<Scored> = Vec::new();
        let mem = self.histograms(members.iter().copied());
        for a in 0..self.enc.attributes.len() {
            self.score_attribute(a, &mem, &self.level_weight, |cand, m, t| {
                level.push(Scored {
                    key: vec![cand],
                    f1: f1_score(m, t, w_m),
                    mem: m,
                });
            });
        }
        level.sort_by(by_rank);
        let Some(first) = level.first() else {
            // Only attributes without levels, which means no rows.
            return Ok(None);
        };
        let mut chosen = first.key.clone();
        let mut best_f1 = first.f1;

        // Longer rules: beam search.
        for _ in 1..params.max_predicates {
            if best_f1 >= 1.0 - EPS {
                break;
            }
            let picks = self.select_beam(&level, params, best_f1, w_m);
            if picks.is_empty() {
                break;
            }
            let mut next: Vec<Scored> = Vec::new();
            let mut seen: HashSet<Vec<Cand>> = HashSet::new();
            for &i in &picks {
                let parent = &level[i].key;
                let (mem, tot) = self.rule_weights(parent, members);
                let used: Vec<usize> = parent.iter().map(|c| self.column[c.attr]).collect();
                for a in 0..self.enc.attributes.len() {
                    if used.contains(&self.column[a]) {
                        continue;
                    }
                    self.score_attribute(a, &mem, &tot, |cand, m, t| {
                        if m <= 0.0 {
                            return;
                        }
                        let mut key = parent.clone();
                        let pos = key.partition_point(|c| *c < cand);
                        key.insert(pos, cand);
                        if seen.insert(key.clone()) {
                            next.push(Scored {
                                key,
                                f1: f1_score(m, t, w_m),
                                mem: m,
                            });
                        }
                    });
                }
            }
            next.sort_by(by_rank);
            let Some(top) = next.first() else {
                break;
            };
            let gain = top.f1 - best_f1;
            if gain > EPS && gain >= params.min_gain - EPS {
                chosen = top.key.clone();
            }
            best_f1 = best_f1.max(top.f1);
            level = next;
        }
        Ok(Some(self.finish(&chosen, members, w_m)))
    }

    /// The attribute levels most over-represented among `members`
    /// (strictly ascending rows), by lift, then weighted count.
    ///
    /// A level qualifies when its weighted member count is positive and at
    /// least `min_count`, it holds at least `min_share` of the slice's
    /// weight, and its lift exceeds 1. The p-value is the hypergeometric
    /// upper tail with the population, the level's rows, the slice and the
    /// level's members counted by weight: weighted counts are rounded to
    /// whole rows, which is exact for integer frequency weights and an
    /// approximation otherwise. `log_fact` may be any table; one up to the
    /// total weight is fastest.
    pub fn enriched(
        &self,
        members: &[u32],
        params: &EnrichParams,
        log_fact: &LogFactorials,
    ) -> Result<Vec<Enriched>> {
        params.validate()?;
        check_members(members, self.n_rows)?;
        let w_m: f64 = members.iter().map(|&r| weight_of(self.weights, r)).sum();
        if members.is_empty() || w_m <= 0.0 || self.total_weight <= 0.0 {
            return Ok(Vec::new());
        }
        let counts = self.histograms(members.iter().copied());
        let mut found: Vec<((usize, usize), Enriched)> = Vec::new();
        for (a, attr) in self.enc.attributes.iter().enumerate() {
            for l in 0..attr.levels.len() {
                let count = counts[self.offset[a] + l];
                let level_weight = self.level_weight[self.offset[a] + l];
                if count <= 0.0 || count < params.min_count {
                    continue;
                }
                let share_in_slice = count / w_m;
                let share_overall = level_weight / self.total_weight;
                if share_in_slice < params.min_share || share_overall <= 0.0 {
                    continue;
                }
                let lift = share_in_slice / share_overall;
                if lift <= 1.0 + EPS {
                    continue;
                }
                let p_value = hypergeom_sf(
                    count.round() as u64,
                    self.total_weight.round() as u64,
                    level_weight.round() as u64,
                    w_m.round() as u64,
                    log_fact,
                );
                let predicate = attr.levels[l].clone();
                found.push((
                    (a, l),
                    Enriched {
                        text: predicate.to_string(),
                        predicate,
                        count,
                        share_in_slice,
                        share_overall,
                        lift,
                        p_value,
                    },
                ));
            }
        }
        found.sort_by(|(ka, a), (kb, b)| {
            b.lift
                .total_cmp(&a.lift)
                .then_with(|| b.count.total_cmp(&a.count))
                .then_with(|| ka.cmp(kb))
        });
        Ok(found.into_iter().take(params.top).map(|(_, e)| e).collect())
    }

    /// Weight of `rows` per level of every attribute (flat).
    fn histograms(&self, rows: impl Iterator<Item = u32> + Clone) -> Vec<f64> {
        let mut h = vec![0.0; self.n_levels];
        self.accumulate(rows, |_| 0, &mut h);
        h
    }

    /// Add the weight of each of `rows` to slot `base(r) + o + level` of
    /// `h` for every attribute, with o the attribute's flat offset.
    fn accumulate(
        &self,
        rows: impl Iterator<Item = u32> + Clone,
        base: impl Fn(u32) -> usize,
        h: &mut [f64],
    ) {
        let Narrow {
            width,
            offset,
            bytes,
        } = &self.narrow;
        if *width > 0 {
            let line = |r: u32| &bytes[r as usize * width..(r as usize + 1) * width];
            match self.weights {
                None => {
                    for r in rows.clone() {
                        let b = base(r);
                        for (&c, &o) in line(r).iter().zip(offset) {
                            h[b + o + usize::from(c)] += 1.0;
                        }
                    }
                }
                Some(w) => {
                    for r in rows.clone() {
                        let (b, w) = (base(r), w[r as usize]);
                        for (&c, &o) in line(r).iter().zip(offset) {
                            h[b + o + usize::from(c)] += w;
                        }
                    }
                }
            }
        }
        for &a in &self.wide {
            let o = self.offset[a];
            with_codes!(&self.codes[a], c => {
                add_weights(c, rows.clone(), |r| base(r) + o, self.weights, h)
            });
        }
    }

    /// The level table of attribute `a` (see `tables`), computed on first
    /// use with one pass over all rows.
    fn table(&self, a: usize) -> Option<&[f64]> {
        self.tables[a]
            .get_or_init(|| {
                let cells = self.enc.attributes[a]
                    .levels
                    .len()
                    .saturating_mul(self.n_levels);
                if cells > TABLE_CELLS / self.enc.attributes.len().max(1) {
                    return None;
                }
                let mut t = vec![0.0; cells];
                let n = self.n_levels;
                with_codes!(&self.codes[a], c => {
                    self.accumulate(0..self.n_rows as u32, |r| c[r as usize].level() * n, &mut t)
                });
                Some(t)
            })
            .as_deref()
    }

    /// Per level of every attribute (flat): the weight of the members and
    /// of all rows that rule `key` selects. A single predicate's totals
    /// come from its attribute's level table when there is one.
    fn rule_weights(&self, key: &[Cand], members: &[u32]) -> (Vec<f64>, Vec<f64>) {
        let inside = self.filter_rows(key, members.to_vec());
        let mem = self.histograms(inside.iter().copied());
        if let [c] = key {
            if let Some(table) = self.table(c.attr) {
                let mut tot = vec![0.0; self.n_levels];
                for l in c.first..=c.last {
                    let row = &table[l * self.n_levels..(l + 1) * self.n_levels];
                    for (t, x) in tot.iter_mut().zip(row) {
                        *t += x;
                    }
                }
                return (mem, tot);
            }
        }
        let tot = self.histograms(self.select_rows(key).iter().copied());
        (mem, tot)
    }

    /// The rows among `rows` that satisfy every predicate of `key`.
    fn filter_rows(&self, key: &[Cand], mut rows: Vec<u32>) -> Vec<u32> {
        for c in key {
            with_codes!(&self.codes[c.attr], codes => {
                rows.retain(|&r| (c.first..=c.last).contains(&codes[r as usize].level()))
            });
        }
        rows
    }

    /// All rows that rule `key` selects: one pass over the column of its
    /// most selective predicate, then the others as filters.
    fn select_rows(&self, key: &[Cand]) -> Vec<u32> {
        let weight = |c: &Cand| -> f64 {
            let o = self.offset[c.attr];
            self.level_weight[o + c.first..=o + c.last].iter().sum()
        };
        let all = 0..self.n_rows as u32;
        let Some(lead) = key.iter().min_by(|a, b| weight(a).total_cmp(&weight(b))) else {
            return all.collect();
        };
        let rows = with_codes!(&self.codes[lead.attr], codes => {
            all.filter(|&r| (lead.first..=lead.last).contains(&codes[r as usize].level()))
                .collect()
        });
        let rest: Vec<Cand> = key.iter().filter(|c| *c != lead).copied().collect();
        self.filter_rows(&rest, rows)
    }

    /// Every candidate of attribute `a` (levels, then unions of adjacent
    /// range levels, in [`Cand`] order) with its member and total weight,
    /// from flat per-level weights.
    fn score_attribute(
        &self,
        a: usize,
        mem: &[f64],
        tot: &[f64],
        mut emit: impl FnMut(Cand, f64, f64),
    ) {
        let levels = &self.enc.attributes[a].levels;
        let o = self.offset[a];
        let (mem, tot) = (&mem[o..o + levels.len()], &tot[o..o + levels.len()]);
        for first in 0..levels.len() {
            emit(
                Cand {
                    attr: a,
                    first,
                    last: first,
                },
                mem[first],
                tot[first],
            );
            let (mut m, mut t) = (mem[first], tot[first]);
            for last in first + 1..self.run_end[a][first] {
                m += mem[last];
                t += tot[last];
                if !unbounded(&levels[first], &levels[last]) {
                    emit(
                        Cand {
                            attr: a,
                            first,
                            last,
                        },
                        m,
                        t,
                    );
                }
            }
        }
    }

    /// Indices (in rank order) of the rules of `level` to extend: only
    /// rules whose extensions could still be chosen, the best rule of each
    /// distinct column set first, then the best of the rest.
    fn select_beam(
        &self,
        level: &[Scored],
        params: &RuleParams,
        best_f1: f64,
        w_m: f64,
    ) -> Vec<usize> {
        let promising = |s: &Scored| {
            let bound = f1_score(s.mem, s.mem, w_m);
            s.mem > 0.0 && bound > best_f1 + EPS && bound >= best_f1 + params.min_gain - EPS
        };
        let mut picks: Vec<usize> = Vec::new();
        let mut taken = vec![false; level.len()];
        let mut column_sets: HashSet<Vec<usize>> = HashSet::new();
        for (i, s) in level.iter().enumerate() {
            if picks.len() == params.beam_width {
                break;
            }
            if !promising(s) {
                continue;
            }
            let mut cols: Vec<usize> = s.key.iter().map(|c| self.column[c.attr]).collect();
            cols.sort_unstable();
            if column_sets.insert(cols) {
                picks.push(i);
                taken[i] = true;
            }
        }
        for (i, s) in level.iter().enumerate() {
            if picks.len() == params.beam_width {
                break;
            }
            if !taken[i] && promising(s) {
                picks.push(i);
            }
        }
        picks.sort_unstable();
        picks
    }

    /// The predicate for a candidate: the level itself, or one range with
    /// the outer bounds of a union.
    fn predicate(&self, c: Cand) -> Predicate {
        let levels = &self.enc.attributes[c.attr].levels;
        match (&levels[c.first], &levels[c.last]) {
            (Predicate::Range { column, lo, .. }, Predicate::Range { hi, .. })
                if c.first != c.last =>
            {
                Predicate::Range {
                    column: column.clone(),
                    lo: *lo,
                    hi: *hi,
                }
            }
            (first, _) => first.clone(),
        }
    }

    /// The reported rule, with its statistics recomputed over all rows.
    fn finish(&self, key: &[Cand], members: &[u32], w_m: f64) -> AttributeRule {
        let selected = self.select_rows(key);
        let matched = self.filter_rows(key, members.to_vec());
        let weight =
            |rows: &[u32]| -> f64 { rows.iter().map(|&r| weight_of(self.weights, r)).sum() };
        let (w_size, w_matched) = (weight(&selected), weight(&matched));
        let predicates: Vec<Predicate> = key.iter().map(|&c| self.predicate(c)).collect();
        let text = predicates
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ∧ ");
        AttributeRule {
            predicates,
            text,
            precision: ratio(w_matched, w_size),
            recall: ratio(w_matched, w_m),
            f1: f1_score(w_matched, w_size, w_m),
            size: selected.len() as u64,
            matched: matched.len() as u64,
        }
    }
}

/// The best attribute rule for one slice; see [`AttributeIndex::rule`].
/// To describe several slices of one table, build the index once instead.
pub fn attribute_rule(
    enc: &Encoded,
    members: &[u32],
    n_rows: usize,
    weights: Option<&[f64]>,
    params: &RuleParams,
) -> Result<Option<AttributeRule>> {
    AttributeIndex::new(enc, n_rows, weights)?.rule(members, params)
}

/// The enriched attribute values of one slice; see
/// [`AttributeIndex::enriched`].
pub fn enriched_values(
    enc: &Encoded,
    members: &[u32],
    n_rows: usize,
    weights: Option<&[f64]>,
    params: &EnrichParams,
    log_fact: &LogFactorials,
) -> Result<Vec<Enriched>> {
    AttributeIndex::new(enc, n_rows, weights)?.enriched(members, params, log_fact)
}

// ---------------------------------------------------------------------------
// Outcome summary
// ---------------------------------------------------------------------------

/// What goes wrong inside the slice with rows `members` (strictly
/// ascending).
///
/// With `classes` (classification) the `top` most frequent label →
/// prediction pairs, and separately the `top` most frequent wrong pairs,
/// each with its share of the slice and of all rows; `errors` is ignored
/// and may be empty. Without `classes` the distribution of `errors` (one
/// per row, finite) over the members, the other rows and all rows; pass
/// `binary` when errors are 0/1.
///
/// Quantiles of unweighted errors take linear time (selection); with
/// weights the rows are sorted.
pub fn outcome_summary(
    members: &[u32],
    n_rows: usize,
    weights: Option<&[f64]>,
    classes: Option<&Classes>,
    errors: &[f64],
    binary: bool,
    top: usize,
) -> Result<OutcomeSummary> {
    check_members(members, n_rows)?;
    let weights = check_weights(weights, n_rows)?;
    match classes {
        Some(c) => confusion(members, n_rows, weights, c, top),
        None => error_summary(members, n_rows, weights, errors, binary),
    }
}

fn confusion(
    members: &[u32],
    n_rows: usize,
    weights: Option<&[f64]>,
    classes: &Classes,
    top: usize,
) -> Result<OutcomeSummary> {
    let n_classes = classes.names.len();
    for (what, v) in [("labels", &classes.label), ("predictions", &classes.pred)] {
        if v.len() != n_rows {
            return Err(Error::ShapeMismatch(format!(
                "{} class {what} for {n_rows} rows",
                v.len()
            )));
        }
        if let Some((r, c)) = v.iter().enumerate().find(|(_, &c)| c as usize >= n_classes) {
            return Err(Error::InvalidInput(format!(
                "row {r} has class index {c} among its {what}, but there are {n_classes} classes"
            )));
        }
    }
    let mut in_slice: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    let (mut weight, mut errors) = (0.0, 0.0);
    for &r in members {
        let pair = (classes.label[r as usize], classes.pred[r as usize]);
        let w = weight_of(weights, r);
        *in_slice.entry(pair).or_insert(0.0) += w;
        weight += w;
        if pair.0 != pair.1 {
            errors += w;
        }
    }
    // BTreeMap order is the tie-break (label, then prediction index); the
    // stable sort keeps it among equal counts.
    let mut ranked: Vec<((u32, u32), f64)> =
        in_slice.into_iter().filter(|(_, c)| *c > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let pairs: Vec<((u32, u32), f64)> = ranked.iter().copied().take(top).collect();
    let error_pairs: Vec<((u32, u32), f64)> = ranked
        .iter()
        .copied()
        .filter(|((l, p), _)| l != p)
        .take(top)
        .collect();

    // Overall weight of the reported pairs only: one pass, looking pairs
    // up by label.
    let mut wanted: Vec<(u32, u32)> = pairs.iter().chain(&error_pairs).map(|(k, _)| *k).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut by_label: Vec<Vec<(u32, usize)>> = vec![Vec::new(); n_classes];
    for (i, &(l, p)) in wanted.iter().enumerate() {
        by_label[l as usize].push((p, i));
    }
    let mut overall = vec![0.0; wanted.len()];
    let mut total = 0.0;
    for r in 0..n_rows {
        let w = weights.map_or(1.0, |w| w[r]);
        total += w;
        for &(p, i) in &by_label[classes.label[r] as usize] {
            if classes.pred[r] == p {
                overall[i] += w;
            }
        }
    }
    let describe = |list: &[((u32, u32), f64)]| -> Vec<ConfusionPair> {
        list.iter()
            .map(|&((l, p), count)| {
                let everywhere = wanted
                    .binary_search(&(l, p))
                    .ok()
                    .and_then(|i| overall.get(i).copied())
                    .unwrap_or(0.0);
                ConfusionPair {
                    label: classes.names[l as usize].clone(),
                    predicted: classes.names[p as usize].clone(),
                    count,
                    share_in_slice: ratio(count, weight),
                    share_overall: ratio(everywhere, total),
                    error: l != p,
                }
            })
            .collect()
    };
    Ok(OutcomeSummary::Confusion {
        weight,
        errors,
        pairs: describe(&pairs),
        error_pairs: describe(&error_pairs),
    })
}

fn error_summary(
    members: &[u32],
    n_rows: usize,
    weights: Option<&[f64]>,
    errors: &[f64],
    binary: bool,
) -> Result<OutcomeSummary> {
    if errors.len() != n_rows {
        return Err(Error::ShapeMismatch(format!(
            "{} errors for {n_rows} rows",
            errors.len()
        )));
    }
    if let Some((r, e)) = errors.iter().enumerate().find(|(_, e)| !e.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "the error of row {r} is {e}; errors must be finite"
        )));
    }
    let is_member = bitset_of(members, n_rows);
    let (slice, rest, overall) = match weights {
        None => {
            let inside: Vec<f64> = members.iter().map(|&r| errors[r as usize]).collect();
            let outside: Vec<f64> = (0..n_rows as u32)
                .filter(|&r| !bit(&is_member, r))
                .map(|r| errors[r as usize])
                .collect();
            (
                unweighted_distribution(inside),
                unweighted_distribution(outside),
                unweighted_distribution(errors.to_vec()),
            )
        }
        Some(w) => {
            let pair = |r: u32| (errors[r as usize], w[r as usize]);
            (
                weighted_distribution(members.iter().map(|&r| pair(r)).collect()),
                weighted_distribution(
                    (0..n_rows as u32)
                        .filter(|&r| !bit(&is_member, r))
                        .map(pair)
                        .collect(),
                ),
                weighted_distribution((0..n_rows as u32).map(pair).collect()),
            )
        }
    };
    Ok(OutcomeSummary::Errors {
        binary,
        slice,
        rest,
        overall,
    })
}

/// Mean and quantiles of unit-weight values (linear interpolation, as
/// numpy's default), by selection in linear time.
fn unweighted_distribution(mut v: Vec<f64>) -> Option<ErrorDistribution> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let mut quantile = |q: f64| -> f64 {
        let h = q * (n - 1.0);
        let i = h.floor() as usize;
        let frac = h - h.floor();
        let (_, lo, upper) = v.select_nth_unstable_by(i, f64::total_cmp);
        let lo = *lo;
        if frac > 0.0 && !upper.is_empty() {
            let hi = upper.iter().copied().fold(f64::INFINITY, f64::min);
            lo + frac * (hi - lo)
        } else {
            lo
        }
    };
    Some(ErrorDistribution {
        weight: n,
        mean,
        q10: quantile(0.1),
        q50: quantile(0.5),
        q90: quantile(0.9),
    })
}

/// Mean and quantiles of (value, frequency weight) pairs: numpy's linear
/// interpolation on the data with each row repeated `weight` times, which
/// extends continuously to non-integer weights. Zero weights drop out.
fn weighted_distribution(mut v: Vec<(f64, f64)>) -> Option<ErrorDistribution> {
    v.retain(|&(_, w)| w > 0.0);
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cum = Vec::with_capacity(v.len());
    let (mut total, mut sum) = (0.0, 0.0);
    for &(e, w) in &v {
        total += w;
        sum += w * e;
        cum.push(total);
    }
    // The value at 0-based position p of the expanded data.
    let at = |p: f64| v[cum.partition_point(|&c| c <= p).min(v.len() - 1)].0;
    let quantile = |q: f64| -> f64 {
        let h = (q * (total - 1.0)).max(0.0);
        let frac = h - h.floor();
        let lo = at(h.floor());
        if frac > 0.0 {
            lo + frac * (at(h.floor() + 1.0) - lo)
        } else {
            lo
        }
    };
    Some(ErrorDistribution {
        weight: total,
        mean: sum / total,
        q10: quantile(0.1),
        q50: quantile(0.5),
        q90: quantile(0.9),
    })
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

/// The `k` first items of `v` under the total order `cmp`, sorted.
fn first_k<T>(mut v: Vec<T>, k: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    if k == 0 {
        return Vec::new();
    }
    if k < v.len() {
        v.select_nth_unstable_by(k - 1, &cmp);
        v.truncate(k);
    }
    v.sort_by(cmp);
    v
}

/// Typical and borderline example rows of the slice with rows `members`
/// (strictly ascending).
///
/// With `membership` (one score per row, higher = more typical):
/// `typical` holds the members of highest score (ties by lower row),
/// `borderline` the other members of lowest score at or above `threshold`
/// (all members when it is None), lowest first. Without scores (attribute
/// slices) `typical` is a sample of members drawn with `params.seed`, in
/// row order, and `borderline` is empty.
pub fn examples(
    members: &[u32],
    n_rows: usize,
    membership: Option<&[f32]>,
    threshold: Option<f32>,
    params: &ExampleParams,
) -> Result<Examples> {
    check_members(members, n_rows)?;
    if threshold.is_some_and(f32::is_nan) {
        return Err(Error::param("threshold", "must be a number, got NaN"));
    }
    let Some(scores) = membership else {
        return Ok(Examples {
            typical: sample(members, params.typical, params.seed),
            borderline: Vec::new(),
        });
    };
    if scores.len() != n_rows {
        return Err(Error::ShapeMismatch(format!(
            "{} membership scores for {n_rows} rows",
            scores.len()
        )));
    }
    let scored: Vec<(f32, u32)> = members.iter().map(|&r| (scores[r as usize], r)).collect();
    if let Some((s, r)) = scored.iter().find(|(s, _)| s.is_nan()) {
        return Err(Error::InvalidInput(format!(
            "the membership score of row {r} is {s}; scores must be numbers"
        )));
    }
    let typical: Vec<u32> = first_k(scored.clone(), params.typical, |a, b| {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
    })
    .into_iter()
    .map(|(_, r)| r)
    .collect();
    let is_typical: HashSet<u32> = typical.iter().copied().collect();
    let candidates: Vec<(f32, u32)> = scored
        .into_iter()
        .filter(|(s, r)| threshold.is_none_or(|t| *s >= t) && !is_typical.contains(r))
        .collect();
    let borderline = first_k(candidates, params.borderline, |a, b| {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    })
    .into_iter()
    .map(|(_, r)| r)
    .collect();
    Ok(Examples {
        typical,
        borderline,
    })
}

/// `k` distinct members drawn uniformly with Floyd's algorithm, in row
/// order.
fn sample(members: &[u32], k: usize, seed: u64) -> Vec<u32> {
    let m = members.len();
    let k = k.min(m);
    let mut rng = Rng::new(seed);
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    for j in m - k..m {
        let t = rng.below(j as u64 + 1) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().map(|i| members[i]).collect()
}

// ---------------------------------------------------------------------------
// Sentence
// ---------------------------------------------------------------------------

/// One readable line describing a slice, e.g.
///
/// ```text
/// 12% of samples (n = 1,234), error 41% vs 6% elsewhere (+310 errors): mostly Shirt
/// predicted as T-shirt; weather = fog ∧ camera = B (precision 0.91, recall 0.78);
/// 'long sleeves', 'plaid'
/// ```
///
/// (on one line). When no wrong pair holds half of the errors and no true
/// class 60% of them, the two most frequent pairs are named with their
/// share of the errors: "errors spread, most often Coat predicted as
/// Pullover (14%) and Shirt predicted as Pullover (9.9%)". Non-binary
/// metrics read "mean absolute error 0.82 vs 0.31
/// elsewhere (+120.5 excess)". The rule is stated when its F1 is at least
/// [`RULE_MIN_F1`], otherwise the line says "no attribute rule (best F1
/// 0.21)"; at most three non-empty phrases are quoted. Percentages have no
/// decimals from 10% up and one below; counts have thousands separators.
pub fn sentence(s: &SentenceParts) -> String {
    let mut out = format!(
        "{} of samples (n = {}), {}",
        fmt_percent(s.share),
        thousands(s.size),
        outcome_phrase(s)
    );
    let mut details: Vec<String> = Vec::new();
    if let Some(p) = &s.dominant_error {
        details.push(format!("mostly {} predicted as {}", p.label, p.predicted));
    } else if let Some((label, share)) = &s.dominant_label {
        details.push(format!(
            "mostly {label} misclassified ({} of errors)",
            fmt_percent(*share)
        ));
    } else if !s.top_errors.is_empty() {
        let pairs: Vec<String> = s
            .top_errors
            .iter()
            .take(2)
            .map(|(p, share)| {
                format!(
                    "{} predicted as {} ({})",
                    p.label,
                    p.predicted,
                    fmt_percent(*share)
                )
            })
            .collect();
        details.push(format!("errors spread, most often {}", pairs.join(" and ")));
    }
    if let Some(r) = &s.rule {
        if r.f1 >= RULE_MIN_F1 {
            details.push(format!(
                "{} (precision {:.2}, recall {:.2})",
                r.text, r.precision, r.recall
            ));
        } else {
            details.push(format!("no attribute rule (best F1 {:.2})", r.f1));
        }
    }
    let phrases: Vec<String> = s
        .phrases
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .take(3)
        .map(|p| format!("'{p}'"))
        .collect();
    if !phrases.is_empty() {
        details.push(phrases.join(", "));
    }
    if !details.is_empty() {
        out.push_str(": ");
        out.push_str(&details.join("; "));
    }
    out
}

/// "error 41% vs 6% elsewhere (+310 errors)" or "mean absolute error 0.82
/// vs 0.31 elsewhere (+120.5 excess)".
fn outcome_phrase(s: &SentenceParts) -> String {
    let metric = s.metric.trim();
    let sign = if s.excess_errors < 0.0 { "−" } else { "+" };
    if s.binary {
        let name = metric.strip_suffix(" rate").unwrap_or(metric);
        let name = if name.is_empty() { "error" } else { name };
        let count = if s.excess_errors.is_finite() {
            s.excess_errors.abs().round() as u64
        } else {
            0
        };
        let sign = if count == 0 { "+" } else { sign };
        let noun = if count == 1 { "error" } else { "errors" };
        let head = format!("{name} {}", fmt_percent(s.error_rate));
        match s.rest_error_rate {
            Some(rest) => format!(
                "{head} vs {} elsewhere ({sign}{} {noun})",
                fmt_percent(rest),
                thousands(count)
            ),
            None => format!("{head} ({sign}{} {noun})", thousands(count)),
        }
    } else {
        let name = if metric.is_empty() {
            "mean error".to_string()
        } else if metric.starts_with("mean ") {
            metric.to_string()
        } else {
            format!("mean {metric}")
        };
        let head = format!("{name} {}", fmt_number(s.error_rate));
        let excess = format!("{sign}{} excess", fmt_number(s.excess_errors.abs()));
        match s.rest_error_rate {
            Some(rest) => format!("{head} vs {} elsewhere ({excess})", fmt_number(rest)),
            None => format!("{head} ({excess})"),
        }
    }
}

/// A share as a percentage: no decimals from 10% up, one below (without a
/// trailing ".0"), "<0.1%" for tiny positive shares.
fn fmt_percent(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let p = x * 100.0;
    if p.abs() >= 9.95 {
        format!("{p:.0}%")
    } else if p == 0.0 {
        "0%".to_string()
    } else if p > 0.0 && p < 0.05 {
        "<0.1%".to_string()
    } else {
        let s = format!("{p:.1}");
        format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
    }
}

/// An integer with thousands separators: 1234567 → "1,234,567" (the one
/// helper the terminal, Markdown and report texts share).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A tidy number: thousands separators from 1,000, one decimal from 10,
/// two from 1, two significant digits below 1.
fn fmt_number(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let a = x.abs();
    let sign = if x < 0.0 { "-" } else { "" };
    if a >= 999.5 {
        format!("{sign}{}", thousands(a.round() as u64))
    } else if a >= 9.995 {
        format!("{x:.1}")
    } else if a >= 0.9995 {
        format!("{x:.2}")
    } else if a == 0.0 {
        "0".to_string()
    } else if a < 1e-4 {
        format!("{x:.1e}")
    } else {
        let decimals = (1.0 - a.log10().floor()) as usize;
        format!("{x:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{encode, Attribute, EncodeParams, Value};
    use crate::frame::{Column, ColumnData, Frame};
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn cat_attr(name: &str, codes: Vec<u32>, n_levels: usize) -> Attribute {
        Attribute {
            name: name.into(),
            codes,
            levels: (0..n_levels)
                .map(|i| Predicate::Eq {
                    column: name.into(),
                    value: Value::Str(format!("v{i}")),
                })
                .collect(),
        }
    }

    /// Range levels split at `edges`, then a missing level if asked.
    fn range_attr(name: &str, codes: Vec<u32>, edges: &[f64], missing: bool) -> Attribute {
        let mut levels = Vec::new();
        let mut lo = None;
        for &e in edges {
            levels.push(Predicate::Range {
                column: name.into(),
                lo,
                hi: Some(e),
            });
            lo = Some(e);
        }
        levels.push(Predicate::Range {
            column: name.into(),
            lo,
            hi: None,
        });
        if missing {
            levels.push(Predicate::Missing {
                column: name.into(),
            });
        }
        Attribute {
            name: name.into(),
            codes,
            levels,
        }
    }

    fn encoded(attributes: Vec<Attribute>) -> Encoded {
        Encoded {
            attributes,
            notes: Vec::new(),
        }
    }

    /// Whether a row whose level is `levels[code]` satisfies `p`, judged
    /// from the predicates alone (a range holds when the level's range lies
    /// inside it).
    fn holds(levels: &[Predicate], code: u32, p: &Predicate) -> bool {
        let level = &levels[code as usize];
        match (level, p) {
            (Predicate::Range { lo: l1, hi: h1, .. }, Predicate::Range { lo: l2, hi: h2, .. }) => {
                let lo_ok = match (l1, l2) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some(a), Some(b)) => a >= b,
                };
                let hi_ok = match (h1, h2) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some(a), Some(b)) => a <= b,
                };
                lo_ok && hi_ok
            }
            _ => level == p,
        }
    }

    /// Rows selected by a rule, judged from its predicates.
    fn selected_rows(e: &Encoded, rule: &AttributeRule, n: usize) -> Vec<bool> {
        (0..n)
            .map(|r| {
                rule.predicates.iter().all(|p| {
                    e.attributes
                        .iter()
                        .filter(|a| a.name == p.column())
                        .any(|a| holds(&a.levels, a.codes[r], p))
                })
            })
            .collect()
    }

    /// Every candidate, enumerated independently of the search: single
    /// levels, and runs of range levels not unbounded on both sides.
    fn brute_candidates(e: &Encoded) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (a, attr) in e.attributes.iter().enumerate() {
            let l = &attr.levels;
            for i in 0..l.len() {
                out.push((a, i, i));
                for j in i + 1..l.len() {
                    let all_ranges = l[i..=j]
                        .iter()
                        .all(|p| matches!(p, Predicate::Range { .. }));
                    let both_open = matches!(
                        (&l[i], &l[j]),
                        (
                            Predicate::Range { lo: None, .. },
                            Predicate::Range { hi: None, .. }
                        )
                    );
                    if all_ranges && !both_open {
                        out.push((a, i, j));
                    }
                }
            }
        }
        out
    }

    fn brute_f1(e: &Encoded, key: &[(usize, usize, usize)], member: &[bool], w: &[f64]) -> f64 {
        let (mut t, mut m, mut wm) = (0.0, 0.0, 0.0);
        for r in 0..member.len() {
            let sel = key.iter().all(|&(a, i, j)| {
                let c = e.attributes[a].codes[r] as usize;
                i <= c && c <= j
            });
            if sel {
                t += w[r];
                if member[r] {
                    m += w[r];
                }
            }
            if member[r] {
                wm += w[r];
            }
        }
        if t + wm > 0.0 {
            2.0 * m / (t + wm)
        } else {
            0.0
        }
    }

    fn predicate_of(e: &Encoded, (a, i, j): (usize, usize, usize)) -> Predicate {
        let l = &e.attributes[a].levels;
        match (&l[i], &l[j]) {
            (Predicate::Range { column, lo, .. }, Predicate::Range { hi, .. }) if i != j => {
                Predicate::Range {
                    column: column.clone(),
                    lo: *lo,
                    hi: *hi,
                }
            }
            _ => l[i].clone(),
        }
    }

    /// A small random table with a numeric attribute (5 ranges + missing),
    /// two categorical ones and a second numeric one; members are a noisy
    /// planted conjunction or a random subset.
    fn random_table(seed: u64) -> (Encoded, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let n = 25 + rng.below(60) as usize;
        let mut codes = |k: u64| -> Vec<u32> { (0..n).map(|_| rng.below(k) as u32).collect() };
        let x = codes(6);
        let c = codes(3);
        let d = codes(2);
        let y = codes(3);
        let mut rng = Rng::new(seed ^ 0xABCD);
        let member: Vec<bool> = (0..n)
            .map(|r| {
                let planted = (1..=3).contains(&x[r]) && c[r] == 0;
                if seed % 2 == 0 {
                    planted != (rng.uniform() < 0.1)
                } else {
                    rng.uniform() < 0.3
                }
            })
            .collect();
        let e = encoded(vec![
            range_attr("x", x, &[1.0, 2.0, 3.0, 4.0], true),
            cat_attr("c", c, 3),
            cat_attr("d", d, 2),
            range_attr("y", y, &[10.0, 20.0], false),
        ]);
        (e, member)
    }

    fn exhaustive() -> RuleParams {
        RuleParams {
            max_predicates: 1,
            min_gain: 0.0,
            beam_width: 100_000,
        }
    }

    #[test]
    fn rule_search_matches_enumeration() {
        // How often the optimum needs two predicates, and a range union.
        let (mut pairs_won, mut unions_won) = (0, 0);
        for seed in 0..60u64 {
            let (e, member) = random_table(seed);
            let n = member.len();
            let members: Vec<u32> = (0..n as u32).filter(|&r| member[r as usize]).collect();
            if members.is_empty() {
                continue;
            }
            let weighted = seed % 3 == 0;
            let w: Vec<f64> = if weighted {
                let mut rng = Rng::new(seed + 7);
                (0..n)
                    .map(|_| [0.0, 0.5, 1.0, 2.0, 3.7][rng.below(5) as usize])
                    .collect()
            } else {
                vec![1.0; n]
            };
            let weights = weighted.then_some(w.as_slice());
            let cands = brute_candidates(&e);
            let mut best1 = (f64::NEG_INFINITY, (0, 0, 0));
            for &c in &cands {
                let f = brute_f1(&e, &[c], &member, &w);
                if f > best1.0 || (f == best1.0 && c < best1.1) {
                    best1 = (f, c);
                }
            }
            let mut best2 = f64::NEG_INFINITY;
            for &a in &cands {
                for &b in &cands {
                    if a.0 < b.0 {
                        best2 = best2.max(brute_f1(&e, &[a, b], &member, &w));
                    }
                }
            }

            let r1 = attribute_rule(&e, &members, n, weights, &exhaustive())
                .unwrap()
                .unwrap();
            if weighted {
                assert!(
                    (r1.f1 - best1.0).abs() < 1e-9,
                    "seed {seed}: {r1:?} vs {best1:?}"
                );
            } else {
                assert_eq!(r1.f1, best1.0, "seed {seed}");
                assert_eq!(
                    r1.predicates,
                    vec![predicate_of(&e, best1.1)],
                    "seed {seed}"
                );
            }

            let p2 = RuleParams {
                max_predicates: 2,
                ..exhaustive()
            };
            let r2 = attribute_rule(&e, &members, n, weights, &p2)
                .unwrap()
                .unwrap();
            let best = best1.0.max(best2);
            assert!(
                (r2.f1 - best).abs() < 1e-9,
                "seed {seed}: {} vs {best}",
                r2.f1
            );
            let expect_len = if best2 > best1.0 + 1e-9 { 2 } else { 1 };
            pairs_won += usize::from(expect_len == 2);
            unions_won += usize::from(best1.1 .1 != best1.1 .2);
            assert_eq!(r2.predicates.len(), expect_len, "seed {seed}: {r2:?}");

            // Reported counts agree with the predicates' own meaning.
            let sel = selected_rows(&e, &r2, n);
            let size = sel.iter().filter(|&&s| s).count() as u64;
            let matched = (0..n).filter(|&r| sel[r] && member[r]).count() as u64;
            assert_eq!((r2.size, r2.matched), (size, matched), "seed {seed}");
        }
        assert!(pairs_won >= 10, "{pairs_won}");
        assert!(unions_won >= 10, "{unions_won}");
    }

    #[test]
    fn wide_attributes_take_the_same_search() {
        // "id" has 70,000 levels (32-bit codes, no level table), "g" 300
        // (16-bit codes, its table over budget), "c" 3 (row-major bytes).
        let n = 70_000usize;
        let mut rng = Rng::new(4);
        let g: Vec<u32> = (0..n).map(|_| rng.below(300) as u32).collect();
        let c: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let e = encoded(vec![
            cat_attr("id", (0..n as u32).collect(), n),
            cat_attr("g", g.clone(), 300),
            cat_attr("c", c.clone(), 3),
        ]);
        let members: Vec<u32> = (0..n as u32)
            .filter(|&r| g[r as usize] == 5 && c[r as usize] == 1)
            .collect();
        let index = AttributeIndex::new(&e, n, None).unwrap();
        assert!(index.table(0).is_none() && index.table(1).is_none());
        assert!(index.table(2).is_some());
        for weights in [None, Some(vec![2.0; n])] {
            let index = AttributeIndex::new(&e, n, weights.as_deref()).unwrap();
            let rule = index
                .rule(&members, &RuleParams::default())
                .unwrap()
                .unwrap();
            assert_eq!(rule.text, "g = v5 ∧ c = v1");
            assert_eq!((rule.f1, rule.size), (1.0, members.len() as u64));
        }

        // The same optimum as enumeration on a smaller wide table.
        let n = 400;
        let mut rng = Rng::new(8);
        let g: Vec<u32> = (0..n).map(|_| rng.below(300) as u32).collect();
        let c: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let member: Vec<bool> = (0..n).map(|r| g[r] < 40 && c[r] != 2).collect();
        let e = encoded(vec![cat_attr("g", g, 300), cat_attr("c", c, 3)]);
        let members: Vec<u32> = (0..n as u32).filter(|&r| member[r as usize]).collect();
        let w = vec![1.0; n];
        let cands = brute_candidates(&e);
        let mut best = 0.0f64;
        for &a in &cands {
            best = best.max(brute_f1(&e, &[a], &member, &w));
            for &b in cands.iter().filter(|b| b.0 > a.0) {
                best = best.max(brute_f1(&e, &[a, b], &member, &w));
            }
        }
        let p = RuleParams {
            max_predicates: 2,
            ..exhaustive()
        };
        let rule = attribute_rule(&e, &members, n, None, &p).unwrap().unwrap();
        assert_eq!(rule.f1, best);
    }

    fn planted_frame(n: usize, seed: u64) -> (Frame, Vec<i64>, Vec<u32>) {
        let mut rng = Rng::new(seed);
        let age: Vec<i64> = (0..n as i64).map(|i| i % 100).collect();
        let weather: Vec<u32> = (0..n).map(|_| rng.below(4) as u32).collect();
        let camera: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let frame = Frame::new(vec![
            Column::new(
                "age",
                ColumnData::Int(age.iter().map(|&a| Some(a)).collect()),
            ),
            Column::new(
                "weather",
                ColumnData::Categorical {
                    codes: weather.iter().map(|&w| Some(w)).collect(),
                    levels: vec!["clear".into(), "fog".into(), "rain".into(), "snow".into()],
                },
            ),
            Column::new(
                "camera",
                ColumnData::Categorical {
                    codes: camera.iter().map(|&c| Some(c)).collect(),
                    levels: vec!["A".into(), "B".into(), "C".into()],
                },
            ),
        ])
        .unwrap();
        (frame, age, weather)
    }

    fn encode_planted(frame: &Frame) -> Encoded {
        let names: Vec<String> = ["age", "weather", "camera"].map(String::from).to_vec();
        encode(frame, &names, &EncodeParams::default()).unwrap()
    }

    #[test]
    fn planted_conjunction_with_a_multi_bin_range_is_recovered() {
        let n = 4000;
        let (frame, age, weather) = planted_frame(n, 3);
        let e = encode_planted(&frame);
        let planted: Vec<bool> = (0..n)
            .map(|r| weather[r] == 1 && (30..50).contains(&age[r]))
            .collect();
        let expected = vec![
            Predicate::Range {
                column: "age".into(),
                lo: Some(30.0),
                hi: Some(50.0),
            },
            Predicate::Eq {
                column: "weather".into(),
                value: Value::Str("fog".into()),
            },
        ];

        let members: Vec<u32> = (0..n as u32).filter(|&r| planted[r as usize]).collect();
        let rule = attribute_rule(&e, &members, n, None, &RuleParams::default())
            .unwrap()
            .unwrap();
        assert_eq!(rule.predicates, expected);
        assert_eq!(rule.text, "age ∈ [30, 50) ∧ weather = fog");
        assert_eq!((rule.precision, rule.recall, rule.f1), (1.0, 1.0, 1.0));
        assert_eq!(rule.size, members.len() as u64);
        assert_eq!(rule.matched, members.len() as u64);

        // With 5% of the rows flipped in and out, the same rule.
        let mut rng = Rng::new(11);
        let noisy: Vec<u32> = (0..n as u32)
            .filter(|&r| planted[r as usize] != (rng.uniform() < 0.05))
            .collect();
        let rule = attribute_rule(&e, &noisy, n, None, &RuleParams::default())
            .unwrap()
            .unwrap();
        assert_eq!(rule.predicates, expected);
        assert!(rule.f1 < 1.0 && rule.f1 > 0.5, "{rule:?}");
        let sel = selected_rows(&e, &rule, n);
        let in_slice = bitset_of(&noisy, n);
        let matched = (0..n as u32)
            .filter(|&r| sel[r as usize] && bit(&in_slice, r))
            .count();
        assert_eq!(rule.matched, matched as u64);
        assert!((rule.recall - matched as f64 / noisy.len() as f64).abs() < 1e-12);
    }

    #[test]
    fn min_gain_keeps_the_shorter_rule() {
        let n = 2000;
        let (frame, age, weather) = planted_frame(n, 5);
        let e = encode_planted(&frame);
        // Fog rows without three quarters of those aged 90 or more: adding
        // "age < 90" to "weather = fog" helps a little.
        let members: Vec<u32> = (0..n as u32)
            .filter(|&r| {
                let r = r as usize;
                weather[r] == 1 && (age[r] < 90 || r % 4 == 0)
            })
            .collect();
        let index = AttributeIndex::new(&e, n, None).unwrap();
        let one = RuleParams {
            max_predicates: 1,
            min_gain: 0.0,
            ..RuleParams::default()
        };
        let two = RuleParams {
            max_predicates: 2,
            ..one.clone()
        };
        let r1 = index.rule(&members, &one).unwrap().unwrap();
        let r2 = index.rule(&members, &two).unwrap().unwrap();
        assert_eq!(r1.predicates.len(), 1);
        assert_eq!(r2.predicates.len(), 2, "{r2:?}");
        let gain = r2.f1 - r1.f1;
        assert!(gain > 0.0);
        let strict = RuleParams {
            min_gain: gain + 0.01,
            ..two.clone()
        };
        assert_eq!(index.rule(&members, &strict).unwrap().unwrap(), r1);
        let loose = RuleParams {
            min_gain: gain - 1e-6,
            ..two
        };
        assert_eq!(index.rule(&members, &loose).unwrap().unwrap(), r2);
    }

    #[test]
    fn rule_edge_cases() {
        let e = encoded(vec![
            cat_attr("one", vec![0; 6], 1),
            range_attr("x", vec![0, 1, 2, 0, 1, 2], &[1.0, 2.0], false),
        ]);
        let p = RuleParams::default();
        assert_eq!(attribute_rule(&e, &[], 6, None, &p).unwrap(), None);
        assert_eq!(
            attribute_rule(&encoded(vec![]), &[1], 6, None, &p).unwrap(),
            None
        );
        let empty = encoded(vec![cat_attr("one", vec![], 1)]);
        assert_eq!(attribute_rule(&empty, &[], 0, None, &p).unwrap(), None);

        // All rows members: the single-level attribute names them exactly.
        let all: Vec<u32> = (0..6).collect();
        let r = attribute_rule(&e, &all, 6, None, &p).unwrap().unwrap();
        assert_eq!(r.text, "one = v0");
        assert_eq!((r.f1, r.size, r.matched), (1.0, 6, 6));

        // Zero weights: rows without weight count for nothing.
        let w = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        // "x ≥ 2" and "x ≥ 1" then tie (F1 2/3): the lower level wins.
        let r = attribute_rule(&e, &[1, 2, 4], 6, Some(&w), &p)
            .unwrap()
            .unwrap();
        assert_eq!(r.text, "x ≥ 1");
        assert_eq!((r.precision, r.recall), (0.5, 1.0));
        assert_eq!((r.size, r.matched), (4, 3));
        // Members of zero weight only: a rule, with F1 0.
        let r = attribute_rule(&e, &[1], 6, Some(&w), &p).unwrap().unwrap();
        assert_eq!(r.f1, 0.0);

        // Two attributes on one column are never combined.
        let dup = encoded(vec![
            cat_attr("c", vec![0, 0, 1, 1], 2),
            cat_attr("c", vec![0, 1, 0, 1], 2),
        ]);
        let r = attribute_rule(
            &dup,
            &[0],
            4,
            None,
            &RuleParams {
                min_gain: 0.0,
                ..p.clone()
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.predicates.len(), 1);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let e = encoded(vec![cat_attr("c", vec![0, 1, 0], 2)]);
        let p = RuleParams::default();
        let err = attribute_rule(&e, &[3], 3, None, &p).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert!(err.to_string().contains("the table has 3 rows"), "{err}");
        let err = attribute_rule(&e, &[1, 0], 3, None, &p).unwrap_err();
        assert!(err.to_string().contains("strictly ascending"), "{err}");
        assert!(attribute_rule(&e, &[1, 1], 3, None, &p).is_err());
        let err = attribute_rule(&e, &[0], 4, None, &p).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        let bad = encoded(vec![cat_attr("c", vec![0, 2, 0], 2)]);
        let err = attribute_rule(&bad, &[0], 3, None, &p).unwrap_err();
        assert!(err.to_string().contains("row 1 has level 2"), "{err}");
        let err = attribute_rule(&e, &[0], 3, Some(&[1.0, 1.0]), &p).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        let err = attribute_rule(&e, &[0], 3, Some(&[1.0, -1.0, 1.0]), &p).unwrap_err();
        assert!(err.to_string().contains("weight of row 1"), "{err}");
        assert!(attribute_rule(&e, &[0], 3, Some(&[1.0, f64::NAN, 1.0]), &p).is_err());

        for (bad, name) in [
            (
                RuleParams {
                    max_predicates: 0,
                    ..p.clone()
                },
                "max_predicates",
            ),
            (
                RuleParams {
                    beam_width: 0,
                    ..p.clone()
                },
                "beam_width",
            ),
            (
                RuleParams {
                    min_gain: -0.1,
                    ..p.clone()
                },
                "min_gain",
            ),
            (
                RuleParams {
                    min_gain: f64::NAN,
                    ..p.clone()
                },
                "min_gain",
            ),
        ] {
            let err = attribute_rule(&e, &[0], 3, None, &bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidParameter { name: n, .. } if n == name),
                "{err}"
            );
        }
        let lf = LogFactorials::new(3);
        for bad in [
            EnrichParams {
                min_share: 1.5,
                ..EnrichParams::default()
            },
            EnrichParams {
                min_count: -1.0,
                ..EnrichParams::default()
            },
        ] {
            assert!(enriched_values(&e, &[0], 3, None, &bad, &lf).is_err());
        }
        let err =
            examples(&[0], 3, Some(&[1.0, 0.5]), None, &ExampleParams::default()).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        assert!(examples(
            &[0],
            3,
            Some(&[f32::NAN, 0.5, 0.1]),
            None,
            &ExampleParams::default()
        )
        .is_err());
        assert!(examples(&[0], 3, None, Some(f32::NAN), &ExampleParams::default()).is_err());
        let err = outcome_summary(&[0], 3, None, None, &[0.0, 1.0], false, 3).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        assert!(outcome_summary(&[0], 3, None, None, &[0.0, f64::NAN, 1.0], false, 3).is_err());
        let classes = Classes {
            names: vec!["a".into()],
            label: vec![0, 0, 1],
            pred: vec![0, 0, 0],
        };
        let err = outcome_summary(&[0], 3, None, Some(&classes), &[], true, 3).unwrap_err();
        assert!(err.to_string().contains("row 2 has class index 1"), "{err}");
    }

    #[test]
    fn params_serde_defaults_and_unknown_fields() {
        let p: RuleParams = serde_json::from_str(r#"{"beam_width": 4}"#).unwrap();
        assert_eq!(
            p,
            RuleParams {
                beam_width: 4,
                ..RuleParams::default()
            }
        );
        assert!(serde_json::from_str::<RuleParams>(r#"{"beam": 4}"#).is_err());
        assert!(serde_json::from_str::<EnrichParams>(r#"{"lift": 2}"#).is_err());
        assert!(serde_json::from_str::<ExampleParams>(r#"{"seed": 1}"#).is_ok());
    }

    #[test]
    fn enrichment_on_a_hand_computed_case() {
        // 20 rows: red on rows 0..5, blue on 5..20; the slice holds the 5
        // red rows and one blue row.
        let codes: Vec<u32> = (0..20).map(|r| u32::from(r >= 5)).collect();
        let e = encoded(vec![Attribute {
            name: "color".into(),
            codes,
            levels: ["red", "blue"]
                .iter()
                .map(|v| Predicate::Eq {
                    column: "color".into(),
                    value: Value::Str((*v).into()),
                })
                .collect(),
        }]);
        let members = [0, 1, 2, 3, 4, 10];
        let lf = LogFactorials::new(20);
        let found = enriched_values(&e, &members, 20, None, &EnrichParams::default(), &lf).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let red = &found[0];
        assert_eq!(red.text, "color = red");
        assert_eq!(red.count, 5.0);
        assert!((red.share_in_slice - 5.0 / 6.0).abs() < 1e-12);
        assert!((red.share_overall - 0.25).abs() < 1e-12);
        assert!((red.lift - 10.0 / 3.0).abs() < 1e-12);
        // P(X ≥ 5), X ~ Hypergeometric(20, 5, 6) = C(5,5)·C(15,1)/C(20,6).
        assert!(
            (red.p_value - 15.0 / 38760.0).abs() < 1e-15,
            "{}",
            red.p_value
        );

        // Integer weights count like repeated rows: doubling every weight
        // keeps the shares and lift and makes the p-value smaller.
        let w = vec![2.0; 20];
        let found =
            enriched_values(&e, &members, 20, Some(&w), &EnrichParams::default(), &lf).unwrap();
        assert_eq!(found[0].count, 10.0);
        assert!((found[0].lift - 10.0 / 3.0).abs() < 1e-12);
        assert!(found[0].p_value < red.p_value);

        // Filters: a 6-member minimum count removes red; top 0 is empty.
        let strict = EnrichParams {
            min_count: 6.0,
            ..EnrichParams::default()
        };
        assert!(enriched_values(&e, &members, 20, None, &strict, &lf)
            .unwrap()
            .is_empty());
        let none = EnrichParams {
            top: 0,
            ..EnrichParams::default()
        };
        assert!(enriched_values(&e, &members, 20, None, &none, &lf)
            .unwrap()
            .is_empty());
        assert!(
            enriched_values(&e, &[], 20, None, &EnrichParams::default(), &lf)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn enrichment_orders_by_lift_then_count() {
        // Two attributes over 100 rows; the slice is rows 0..20.
        // a = 1 on rows 0..10 (lift 5), b = 1 on rows 0..10 and 50..60
        // (lift 2.5), c = 1 on rows 0..10 (lift 5, as a).
        let flag = |f: &dyn Fn(u32) -> bool| (0..100).map(|r| u32::from(f(r))).collect::<Vec<_>>();
        let e = encoded(vec![
            cat_attr("a", flag(&|r| r < 10), 2),
            cat_attr("b", flag(&|r| r < 10 || (50..60).contains(&r)), 2),
            cat_attr("c", flag(&|r| r < 10), 2),
        ]);
        let members: Vec<u32> = (0..20).collect();
        let lf = LogFactorials::new(100);
        let found =
            enriched_values(&e, &members, 100, None, &EnrichParams::default(), &lf).unwrap();
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        // The v0 levels are under-represented (b = v0: 10 of 20 members vs
        // 80 of 100 rows, lift 0.625); a and c tie on lift and count and
        // keep attribute order.
        assert_eq!(texts, vec!["a = v1", "c = v1", "b = v1"]);
        assert!((found[0].lift - 5.0).abs() < 1e-12);
        assert!((found[2].lift - 2.5).abs() < 1e-12);
        assert!(found[0].p_value < found[2].p_value);
    }

    #[test]
    fn confusion_on_a_hand_computed_case() {
        // names: cat 0, dog 1, bird 2.
        let classes = Classes {
            names: vec!["cat".into(), "dog".into(), "bird".into()],
            label: vec![0, 0, 0, 2, 0, 1, 1, 2, 0, 0],
            pred: vec![1, 1, 0, 1, 1, 1, 1, 2, 0, 0],
        };
        let members = [0, 1, 2, 3];
        let s = outcome_summary(&members, 10, None, Some(&classes), &[], true, 5).unwrap();
        let OutcomeSummary::Confusion {
            weight,
            errors,
            pairs,
            error_pairs,
        } = &s
        else {
            panic!("expected a confusion summary, got {s:?}");
        };
        assert_eq!((*weight, *errors), (4.0, 3.0));
        let names: Vec<(&str, &str, f64, bool)> = pairs
            .iter()
            .map(|p| (p.label.as_str(), p.predicted.as_str(), p.count, p.error))
            .collect();
        assert_eq!(
            names,
            vec![
                ("cat", "dog", 2.0, true),
                ("cat", "cat", 1.0, false),
                ("bird", "dog", 1.0, true)
            ]
        );
        assert_eq!(pairs[0].share_in_slice, 0.5);
        // cat → dog on rows 0, 1 and 4 of 10.
        assert!((pairs[0].share_overall - 0.3).abs() < 1e-12);
        assert!((pairs[1].share_overall - 0.3).abs() < 1e-12);
        assert!((pairs[2].share_overall - 0.1).abs() < 1e-12);
        assert_eq!(error_pairs.len(), 2);
        assert_eq!(error_pairs[1].label, "bird");
        assert_eq!(
            s.dominant_error(0.5).map(|p| p.predicted.as_str()),
            Some("dog")
        );
        assert_eq!(s.dominant_error(0.7), None);
        // 2 of the 3 errors are on true cats: a dominant class at 0.6, not at 0.7.
        let (label, share) = s.dominant_error_label(0.6).unwrap();
        assert_eq!(label, "cat");
        assert!((share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.dominant_error_label(0.7), None);

        let top1 = outcome_summary(&members, 10, None, Some(&classes), &[], true, 1).unwrap();
        let OutcomeSummary::Confusion { pairs, .. } = &top1 else {
            panic!("expected a confusion summary");
        };
        assert_eq!(pairs.len(), 1);

        let json = serde_json::to_string(&s).unwrap();
        assert!(json.starts_with(r#"{"kind":"confusion""#), "{json}");
        assert_eq!(serde_json::from_str::<OutcomeSummary>(&json).unwrap(), s);
    }

    #[test]
    fn error_distribution_inside_and_outside() {
        let errors: Vec<f64> = (0..10).map(f64::from).collect();
        let s = outcome_summary(&[7, 8, 9], 10, None, None, &errors, false, 5).unwrap();
        let OutcomeSummary::Errors {
            slice: Some(slice),
            rest: Some(rest),
            overall: Some(overall),
            binary: false,
        } = &s
        else {
            panic!("expected all three distributions, got {s:?}");
        };
        let close = |d: &ErrorDistribution, want: [f64; 5]| {
            let got = [d.weight, d.mean, d.q10, d.q50, d.q90];
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        };
        close(slice, [3.0, 8.0, 7.2, 8.0, 8.8]);
        close(rest, [7.0, 3.0, 0.6, 3.0, 5.4]);
        close(overall, [10.0, 4.5, 0.9, 4.5, 8.1]);
        assert_eq!(s.dominant_error(0.0), None);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.starts_with(r#"{"kind":"errors""#), "{json}");
        assert_eq!(serde_json::from_str::<OutcomeSummary>(&json).unwrap(), s);

        // Everything in the slice: no rest. Nothing in it: no slice.
        let all: Vec<u32> = (0..10).collect();
        let s = outcome_summary(&all, 10, None, None, &errors, false, 5).unwrap();
        assert!(matches!(
            s,
            OutcomeSummary::Errors {
                rest: None,
                slice: Some(_),
                ..
            }
        ));
        let s = outcome_summary(&[], 10, None, None, &errors, false, 5).unwrap();
        assert!(matches!(
            s,
            OutcomeSummary::Errors {
                slice: None,
                rest: Some(_),
                ..
            }
        ));
        // Zero-weight members: no slice distribution.
        let mut w = vec![1.0; 10];
        w[7] = 0.0;
        let s = outcome_summary(&[7], 10, Some(&w), None, &errors, false, 5).unwrap();
        assert!(matches!(s, OutcomeSummary::Errors { slice: None, .. }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Integer frequency weights give the quantiles of the data with
        /// every row repeated that many times.
        #[test]
        fn weighted_quantiles_equal_repeated_rows(
            rows in prop::collection::vec((0u32..50, 0u32..4), 1..30)
        ) {
            let weighted: Vec<(f64, f64)> = rows.iter().map(|&(e, w)| (f64::from(e) / 7.0, f64::from(w))).collect();
            let repeated: Vec<f64> = weighted
                .iter()
                .flat_map(|&(e, w)| std::iter::repeat_n(e, w as usize))
                .collect();
            let a = weighted_distribution(weighted);
            let b = unweighted_distribution(repeated);
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                for (x, y) in [(a.weight, b.weight), (a.mean, b.mean), (a.q10, b.q10), (a.q50, b.q50), (a.q90, b.q90)] {
                    prop_assert!((x - y).abs() < 1e-9, "{:?} vs {:?}", a, b);
                }
            }
        }

        /// Typical examples are the best-scored members, borderline ones
        /// are disjoint from them and at or above the threshold.
        #[test]
        fn examples_are_well_formed(
            scores in prop::collection::vec(0u8..10, 1..40),
            pick in prop::collection::vec(any::<bool>(), 40),
            threshold in 0u8..10,
        ) {
            let n = scores.len();
            let membership: Vec<f32> = scores.iter().map(|&s| f32::from(s)).collect();
            let members: Vec<u32> = (0..n as u32).filter(|&r| pick[r as usize]).collect();
            let params = ExampleParams { typical: 3, borderline: 4, seed: 1 };
            let t = f32::from(threshold);
            let ex = examples(&members, n, Some(&membership), Some(t), &params).unwrap();
            prop_assert_eq!(ex.typical.len(), members.len().min(3));
            let worst_typical = ex.typical.iter().map(|&r| membership[r as usize]).fold(f32::INFINITY, f32::min);
            for &m in &members {
                if !ex.typical.contains(&m) {
                    prop_assert!(membership[m as usize] <= worst_typical);
                }
            }
            for &b in &ex.borderline {
                prop_assert!(!ex.typical.contains(&b));
                prop_assert!(membership[b as usize] >= t);
                prop_assert!(members.contains(&b));
            }
            prop_assert!(ex.borderline.windows(2).all(|w| membership[w[0] as usize] <= membership[w[1] as usize]));
        }
    }

    #[test]
    fn examples_order_and_sampling() {
        let membership = [0.9, 0.2, 0.9, 0.5, 0.7, 0.05, 0.3, 1.0];
        let members = [0, 1, 2, 3, 4, 6, 7];
        let params = ExampleParams {
            typical: 3,
            borderline: 2,
            seed: 42,
        };
        let ex = examples(&members, 8, Some(&membership), Some(0.25), &params).unwrap();
        // Ties at 0.9 go to the lower row.
        assert_eq!(ex.typical, vec![7, 0, 2]);
        // Row 1 (0.2) is below the threshold; row 5 is not a member.
        assert_eq!(ex.borderline, vec![6, 3]);
        let ex = examples(&members, 8, Some(&membership), None, &params).unwrap();
        assert_eq!(ex.borderline, vec![1, 6]);

        // Without scores: a deterministic sample of members, in row order.
        let many: Vec<u32> = (0..1000).map(|i| i * 3).collect();
        let a = examples(&many, 3000, None, None, &params).unwrap();
        let b = examples(&many, 3000, None, None, &params).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.typical.len(), 3);
        assert!(a.typical.windows(2).all(|w| w[0] < w[1]));
        assert!(a.typical.iter().all(|r| many.contains(r)));
        assert!(a.borderline.is_empty());
        let other = ExampleParams {
            seed: 7,
            ..params.clone()
        };
        assert_ne!(
            examples(&many, 3000, None, None, &other).unwrap().typical,
            a.typical
        );
        // Fewer members than asked for: all of them.
        let few = examples(&[4, 9], 10, None, None, &params).unwrap();
        assert_eq!(few.typical, vec![4, 9]);
        let none = examples(&[], 10, None, None, &params).unwrap();
        assert!(none.typical.is_empty());
    }

    #[test]
    fn sentence_binary_with_every_part() {
        let parts = SentenceParts {
            share: 0.12,
            size: 1234,
            error_rate: 0.41,
            rest_error_rate: Some(0.06),
            excess_errors: 310.4,
            metric: "error rate".into(),
            binary: true,
            dominant_error: Some(ErrorPair {
                label: "Shirt".into(),
                predicted: "T-shirt".into(),
            }),
            dominant_label: None,
            top_errors: Vec::new(),
            rule: Some(RuleText {
                text: "weather = fog ∧ camera = B".into(),
                precision: 0.912,
                recall: 0.776,
                f1: 0.84,
            }),
            phrases: vec!["long sleeves".into(), " ".into(), "plaid".into()],
        };
        assert_eq!(
            sentence(&parts),
            "12% of samples (n = 1,234), error 41% vs 6% elsewhere (+310 errors): mostly Shirt \
             predicted as T-shirt; weather = fog ∧ camera = B (precision 0.91, recall 0.78); \
             'long sleeves', 'plaid'"
        );
        // Without a dominant pair, a dominant true class is named instead.
        let spread = SentenceParts {
            dominant_error: None,
            dominant_label: Some(("Shirt".into(), 0.84)),
            rule: None,
            phrases: Vec::new(),
            ..parts.clone()
        };
        assert_eq!(
            sentence(&spread),
            "12% of samples (n = 1,234), error 41% vs 6% elsewhere (+310 errors): mostly Shirt \
             misclassified (84% of errors)"
        );
        // Without either, the two most frequent wrong pairs and their shares.
        let pair = |l: &str, p: &str, share: f64| {
            (
                ErrorPair {
                    label: l.into(),
                    predicted: p.into(),
                },
                share,
            )
        };
        let wide = SentenceParts {
            dominant_label: None,
            top_errors: vec![
                pair("Coat", "Pullover", 0.1408),
                pair("Shirt", "Pullover", 0.0986),
                pair("Shirt", "T-shirt", 0.0915),
            ],
            ..spread.clone()
        };
        assert_eq!(
            sentence(&wide),
            "12% of samples (n = 1,234), error 41% vs 6% elsewhere (+310 errors): errors spread, \
             most often Coat predicted as Pullover (14%) and Shirt predicted as Pullover (9.9%)"
        );
        // A dominant pair is named alone.
        let both = SentenceParts {
            dominant_error: parts.dominant_error.clone(),
            ..wide
        };
        assert!(sentence(&both).ends_with("mostly Shirt predicted as T-shirt"));
    }

    #[test]
    fn sentence_variants() {
        let base = SentenceParts {
            share: 0.0834,
            size: 52_001,
            error_rate: 0.823,
            rest_error_rate: Some(0.3149),
            excess_errors: 120.54,
            metric: "mean absolute error".into(),
            binary: false,
            ..SentenceParts::default()
        };
        assert_eq!(
            sentence(&base),
            "8.3% of samples (n = 52,001), mean absolute error 0.82 vs 0.31 elsewhere (+120.5 excess)"
        );
        let low_rule = SentenceParts {
            metric: "loss".into(),
            rule: Some(RuleText {
                text: "x = 1".into(),
                precision: 0.3,
                recall: 0.15,
                f1: 0.2079,
            }),
            phrases: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ..base.clone()
        };
        assert_eq!(
            sentence(&low_rule),
            "8.3% of samples (n = 52,001), mean loss 0.82 vs 0.31 elsewhere (+120.5 excess): \
             no attribute rule (best F1 0.21); 'a', 'b', 'c'"
        );
        let everything = SentenceParts {
            share: 1.0,
            size: 3,
            error_rate: 0.05,
            rest_error_rate: None,
            excess_errors: -1.0,
            metric: "error rate".into(),
            binary: true,
            ..SentenceParts::default()
        };
        assert_eq!(
            sentence(&everything),
            "100% of samples (n = 3), error 5% (−1 error)"
        );
        let tiny = SentenceParts {
            share: 0.0004,
            error_rate: 0.0625,
            rest_error_rate: Some(0.0),
            excess_errors: 2_345_678.0,
            ..everything
        };
        assert_eq!(
            sentence(&tiny),
            "<0.1% of samples (n = 3), error 6.2% vs 0% elsewhere (+2,345,678 errors)"
        );
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_percent(0.995), "100%");
        assert_eq!(fmt_percent(0.0996), "10%");
        assert_eq!(fmt_percent(0.0994), "9.9%");
        assert_eq!(fmt_percent(0.06), "6%");
        assert_eq!(fmt_percent(f64::NAN), "n/a");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(fmt_number(12_345.6), "12,346");
        assert_eq!(fmt_number(120.54), "120.5");
        assert_eq!(fmt_number(1.234), "1.23");
        assert_eq!(fmt_number(0.0312), "0.031");
        assert_eq!(fmt_number(0.0), "0");
        assert_eq!(fmt_number(-2.5), "-2.50");
        assert_eq!(fmt_number(0.00001234), "1.2e-5");
    }

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<AttributeIndex<'static>>();
        check::<AttributeRule>();
        check::<OutcomeSummary>();
    }

    /// Time per slice at 1,000,000 rows, 30 attributes (20 numeric with 10
    /// range bins and a missing level, 10 categorical with 4 to 40 levels)
    /// and 30 slices of 2–7% of rows, each a noisy conjunction of two or
    /// three predicates, twice over. Run with
    /// `cargo test -p slicescope-core --lib describe::tests::rule_timing -- --ignored --nocapture`,
    /// adding `--config 'profile.dev.package.slicescope-core.opt-level=3'`
    /// for meaningful numbers (unoptimised code is many times slower).
    #[test]
    #[ignore = "timing run, prints seconds per slice"]
    fn rule_timing_one_million_rows() {
        use std::time::Instant;
        let n = 1_000_000usize;
        let mut rng = Rng::new(9);
        let mut attributes = Vec::new();
        let edges: Vec<f64> = (1..10).map(f64::from).collect();
        for k in 0..20 {
            let codes = (0..n)
                .map(|_| {
                    if rng.uniform() < 0.02 {
                        10
                    } else {
                        rng.below(10) as u32
                    }
                })
                .collect();
            attributes.push(range_attr(&format!("num{k}"), codes, &edges, true));
        }
        for k in 0..10 {
            let levels = 4 + 4 * k as u64;
            let codes = (0..n).map(|_| rng.below(levels) as u32).collect();
            attributes.push(cat_attr(&format!("cat{k}"), codes, levels as usize));
        }
        let e = encoded(attributes);
        let t0 = Instant::now();
        let index = AttributeIndex::new(&e, n, None).unwrap();
        println!("index: {:.3} s", t0.elapsed().as_secs_f64());
        let slices: Vec<Vec<u32>> = (0..30u64)
            .map(|s| {
                // num{s%20} in a run of 3–6 bins ∧ one level of a
                // categorical attribute with 4–16 levels, and every third
                // slice also num{(s+7)%20} < 5; 5% of members dropped, 0.2%
                // of the other rows added.
                let a = &e.attributes[(s % 20) as usize];
                let third = &e.attributes[((s + 7) % 20) as usize];
                let b = &e.attributes[20 + (s % 4) as usize];
                let level = (s % b.levels.len() as u64) as u32;
                let span = 3 + (s % 4) as u32;
                let lo = (s % 5) as u32;
                (0..n)
                    .filter(|&r| {
                        let planted = (lo..lo + span).contains(&a.codes[r])
                            && b.codes[r] == level
                            && (s % 3 != 0 || third.codes[r] < 5);
                        if planted {
                            rng.uniform() >= 0.05
                        } else {
                            rng.uniform() < 0.002
                        }
                    })
                    .map(|r| r as u32)
                    .collect()
            })
            .collect();
        // The first pass also builds the level tables of the attributes
        // the beams start from; the second finds them cached.
        for pass in ["first", "second"] {
            let mut times = Vec::new();
            for (s, members) in slices.iter().enumerate() {
                let t = Instant::now();
                let rule = index
                    .rule(members, &RuleParams::default())
                    .unwrap()
                    .unwrap();
                let dt = t.elapsed().as_secs_f64();
                times.push(dt);
                println!(
                    "slice {s}: {} members, {dt:.3} s, F1 {:.2}: {}",
                    members.len(),
                    rule.f1,
                    rule.text
                );
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{pass} pass, per slice: median {:.3} s, max {:.3} s",
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
    }
}
