//! Diagnosis flags of slices: hints at *why* a slice fails, each with the
//! numbers behind it, so that a reader can check the claim.
//!
//! * [`label_noise`]: the slice's errors look like wrong labels rather than
//!   model mistakes (a confident-learning style test on the embedding).
//! * [`shortcuts`] and [`shortcut_signal`]: the model's prediction follows
//!   an attribute (or any per-row signal) much more closely than the label
//!   does, over all rows and within the slice: a spurious correlation.
//! * [`coverage`]: the slice holds too few labelled rows to pin its error
//!   rate down, and how many more would.
//!
//! Every function is pure and deterministic: sampling is seeded through
//! [`Rng`], parallel work is split into blocks whose sizes do not depend on
//! the number of threads, and partial results are combined in a fixed
//! order, so the results are identical on one thread or many. Invalid
//! input is reported through [`Error`], never by a panic.

use std::collections::HashSet;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::attributes::{Encoded, Predicate, Value};
use crate::error::{Error, Result};
use crate::outcome::{Classes, Confidence};
use crate::rng::Rng;
use crate::slicers::spotlight::{clean_simd_state, thousands};
use crate::stats::wilson;
use crate::views::ReducedView;

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Parameters of every diagnosis, as the `[diagnose]` section of a
/// configuration would hold them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnoseParams {
    /// The label-noise test.
    pub label_noise: LabelNoiseParams,
    /// The shortcut test.
    pub shortcut: ShortcutParams,
    /// The coverage test.
    pub coverage: CoverageParams,
}

impl DiagnoseParams {
    /// Check every parameter; [`Error::InvalidParameter`] names the first
    /// one out of range.
    pub fn validate(&self) -> Result<()> {
        self.label_noise.validate()?;
        self.shortcut.validate()?;
        self.coverage.validate()
    }
}

// ---------------------------------------------------------------------------
// Label noise
// ---------------------------------------------------------------------------

/// Parameters of [`label_noise`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelNoiseParams {
    /// Neighbours consulted per examined row (≥ 1).
    pub k: usize,
    /// Most misclassified rows of the slice examined (≥ 1); a slice with
    /// more is represented by a seeded sample of this many (default 500:
    /// the suspect share is then known within about ±4.5 points).
    pub max_examined: usize,
    /// Most misclassified rows sampled (with the seed, over all rows, once
    /// per view) for the baseline, which uses those outside the slice (≥ 1).
    pub max_baseline: usize,
    /// The neighbour pool: every row when the data hold at most this many,
    /// else a seeded uniform sample of this many rows (> `k`).
    pub max_reference: usize,
    /// Smallest share of the slice's examined errors whose neighbours side
    /// with the prediction ([`LabelNoise::sided_share`]; the suspects
    /// themselves without confidence) that flags the slice, in [0, 1].
    pub min_share: f64,
    /// Smallest ratio of the slice's suspect share to the baseline's that
    /// flags the slice (≥ 0).
    pub min_ratio: f64,
    /// Fewest suspects among the examined errors that flag the slice.
    pub min_suspects: usize,
    /// Most suspect rows listed in [`LabelNoise::suspect_rows`].
    pub max_listed: usize,
    /// The view whose neighbours judge the labels: `"auto"` (default) the
    /// view that witnesses best ([`NeighbourCache::witness_score`],
    /// [`choose_witness`]), `"own"` each slice's own view (the first view
    /// for attribute slices), or a view's name.
    pub witness: String,
    /// When a misclassified row's neighbours side with the prediction:
    /// `over_label` (default) more of the `k` carry the predicted label
    /// than the given one; `majority` more than half of them carry the
    /// predicted label. They differ with three classes or more: near a
    /// third class the neighbours split their votes, and a row whose given
    /// label fewer neighbours carry than its prediction is suspect even
    /// when no label has a majority.
    pub vote: Vote,
}

/// When a misclassified row's neighbours side with the model
/// ([`LabelNoiseParams::vote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// More than half of the neighbours carry the predicted label.
    Majority,
    /// More neighbours carry the predicted label than the given label.
    OverLabel,
}

impl Default for LabelNoiseParams {
    fn default() -> Self {
        LabelNoiseParams {
            k: 10,
            max_examined: 500,
            max_baseline: 1_000,
            max_reference: 50_000,
            min_share: 0.5,
            min_ratio: 2.0,
            min_suspects: 10,
            max_listed: 100,
            witness: "auto".into(),
            vote: Vote::OverLabel,
        }
    }
}

impl LabelNoiseParams {
    /// Check every parameter; [`Error::InvalidParameter`] names the first
    /// one out of range.
    pub fn validate(&self) -> Result<()> {
        let name = |f: &str| format!("diagnose.label_noise.{f}");
        if self.k == 0 {
            return Err(Error::param(name("k"), "must be at least 1"));
        }
        if self.max_examined == 0 {
            return Err(Error::param(name("max_examined"), "must be at least 1"));
        }
        if self.max_baseline == 0 {
            return Err(Error::param(name("max_baseline"), "must be at least 1"));
        }
        if self.max_reference <= self.k {
            return Err(Error::param(
                name("max_reference"),
                format!(
                    "must exceed k = {} (a row needs k other rows to be compared with), got {}",
                    self.k, self.max_reference
                ),
            ));
        }
        if self.max_reference > u32::MAX as usize {
            return Err(Error::param(
                name("max_reference"),
                format!("must be at most {}, got {}", u32::MAX, self.max_reference),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_share) {
            return Err(Error::param(
                name("min_share"),
                format!("must be a share in [0, 1], got {}", self.min_share),
            ));
        }
        if !(self.min_ratio.is_finite() && self.min_ratio >= 0.0) {
            return Err(Error::param(
                name("min_ratio"),
                format!("must be a finite number ≥ 0, got {}", self.min_ratio),
            ));
        }
        if self.witness.trim().is_empty() {
            return Err(Error::param(
                name("witness"),
                "must be \"auto\", \"own\" or the name of a view, got an empty string",
            ));
        }
        Ok(())
    }
}

/// The label-noise diagnosis of one slice (see [`label_noise`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelNoise {
    /// The slice looks like label noise: enough suspects, a large enough
    /// share of its errors, and well above the baseline.
    pub flagged: bool,
    /// Misclassified rows in the slice.
    pub errors: u64,
    /// Misclassified rows of the slice that were examined (all of them, or
    /// a seeded sample of `max_examined`).
    pub examined_errors: u64,
    /// Suspects among the examined errors.
    pub examined_suspects: u64,
    /// Suspects estimated over all of the slice's errors: equal to
    /// `examined_suspects` when every error was examined, else
    /// `suspect_share · errors`, rounded.
    pub suspects: u64,
    /// `examined_suspects / examined_errors`.
    pub suspect_share: f64,
    /// Share of the examined errors whose neighbours side with the
    /// prediction, confident or not: `suspect_share` without confidence,
    /// at least it with. None when read from a result of schema 2.3 or
    /// older.
    #[serde(default)]
    pub sided_share: Option<f64>,
    /// Misclassified rows outside the slice examined for the baseline.
    pub baseline_examined: u64,
    /// Share of suspects among those rows; None when no row outside the
    /// slice is misclassified.
    pub baseline_share: Option<f64>,
    /// Neighbours consulted per row.
    pub k: usize,
    /// The view whose neighbours were consulted (the witness); empty when
    /// read from a result of schema 2.1 or older.
    #[serde(default)]
    pub view: String,
    /// The model's confidence gated the suspects (confidence was given).
    pub used_confidence: bool,
    /// The slice's dominant confusion (the given label → prediction pair
    /// with the most examined errors) and its own suspect share; None
    /// without examined errors.
    #[serde(default)]
    pub pair: Option<SuspectPair>,
    /// The suspect rows examined, most confident first (most neighbour
    /// agreement first without confidence, then by row), at most
    /// `max_listed`.
    pub suspect_rows: Vec<u32>,
    /// One sentence with the numbers.
    pub evidence: String,
}

/// One confusion pair of a slice's examined errors in the label-noise
/// test (see [`LabelNoise::pair`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspectPair {
    /// The given label.
    pub label: String,
    /// The model's prediction.
    pub pred: String,
    /// Examined errors with this label and prediction.
    pub examined_errors: u64,
    /// Suspects among them.
    pub examined_suspects: u64,
    /// `examined_suspects / examined_errors`.
    pub suspect_share: f64,
    /// Share of them whose neighbours side with the prediction (see
    /// [`LabelNoise::sided_share`]); None when read from a result of
    /// schema 2.3 or older.
    #[serde(default)]
    pub sided_share: Option<f64>,
    /// These errors alone pass the test's three thresholds (the flag
    /// itself is the whole slice's test).
    #[serde(default)]
    pub passes: bool,
}

/// Is the slice's error made of wrong labels rather than model mistakes?
///
/// A confident-learning style test that uses the embedding as an
/// independent witness. The rows examined are the misclassified ones
/// (prediction ≠ label: the 0/1 error of a classification task, taken from
/// `classes` so that a loss-valued error signal does not blur it). A
/// misclassified row `i` of the slice is a *suspect* when
///
/// 1. its `k` nearest rows, by Euclidean distance in the reduced view and
///    excluding the row itself, side with the model: more of them carry
///    the label the model predicted for `i` than its given label
///    ([`Vote::OverLabel`], the default), or more than half of them carry
///    the predicted label ([`Vote::Majority`]) — the data around it say
///    what the model says, not what its label says — and
/// 2. when `confidence` is given (the model's probabilities of its
///    prediction and of the given label, per row), the prediction is
///    confident: the probability of the predicted class `c` is at least
///    confident learning's threshold for `c`, the mean probability of `c`
///    over the rows *labelled* `c` ([`class_thresholds`]).
///
/// Neighbours are searched in a pool: every row when there are at most
/// `max_reference`, else a seeded uniform sample of `max_reference` rows,
/// shared by every slice for a given seed. The pool is deliberately *not*
/// enriched with the examined rows: those are misclassified rows whose
/// labels are in question, and adding them would over-represent exactly
/// the labels under test around each of them.
///
/// The same share is computed for the baseline: a seeded sample of up to
/// `max_baseline` misclassified rows over all rows, drawn once per view
/// (see [`NeighbourCache`]), less those in the slice — a uniform sample of
/// the errors outside the slice. The slice is flagged when at least
/// `min_suspects` examined errors are suspects, the neighbours side with
/// the prediction for at least `min_share` of them (condition 1 alone:
/// with confidence the gate would cut the share even where every label is
/// wrong), and (when the baseline exists) the suspects' share is at least
/// `min_ratio` times the baseline's. The slice's dominant confusion
/// (the given label → prediction pair with the most examined errors) is
/// reported with its own share and whether it alone would pass
/// ([`LabelNoise::pair`]): wrong labels usually come from one confusion,
/// which the slice's other errors can dilute. Holding each slice against
/// the errors outside it with the same confusions instead was measured
/// and not kept (bench/planted/README.md): the part of a noisy group
/// outside a slice raised the baseline of the slice.
///
/// The distances come from blocked matrix products on faer
/// (‖q − r‖² = ‖q‖² − 2 q·r + ‖r‖²), split into fixed blocks of queries
/// and pool rows; neighbours are ranked by (distance, row) so ties and the
/// number of threads do not change the result. Cost: a product of
/// (examined + baseline) × pool × dim, 2.6·10¹⁰ flops at the defaults
/// (2,000 queries against 50,000 rows of 128 dimensions, about 0.2 s on
/// one core), plus a scan of the 10⁸ distances and O(rows) bookkeeping.
///
/// Returns `Ok(None)` when `classes` is None (not a classification task)
/// or the slice holds no misclassified row. Errors: invalid parameters;
/// labels, predictions, view rows or confidences whose lengths differ
/// ([`Error::ShapeMismatch`]); class indices out of range, members out of
/// range or not strictly ascending, confidences outside [0, 1] or
/// non-finite values in the rows used ([`Error::InvalidInput`]).
pub fn label_noise(
    view: &ReducedView,
    classes: Option<&Classes>,
    confidence: Option<&Confidence>,
    members: &[u32],
    params: &LabelNoiseParams,
    seed: u64,
) -> Result<Option<LabelNoise>> {
    let Some(cl) = classes else {
        return Ok(None);
    };
    let cache = NeighbourCache::new(view, cl, params, seed)?;
    let confidence = confidence
        .map(|c| CheckedConfidence::new(cl, c))
        .transpose()?;
    label_noise_cached(
        view,
        classes,
        confidence.as_ref(),
        members,
        params,
        seed,
        &cache,
    )
}

/// A model's confidences checked once against a classification (one per
/// row, each a probability), with the per-class thresholds of confident
/// learning ([`class_thresholds`]): what the label-noise test of every
/// slice of one scan shares, so that each slice does not check the rows
/// and recompute the thresholds again.
#[derive(Debug, Clone)]
pub struct CheckedConfidence<'a> {
    confidence: &'a Confidence,
    thresholds: Vec<f64>,
}

impl<'a> CheckedConfidence<'a> {
    /// Check `confidence` against `classes` and compute the thresholds.
    /// Errors: as [`label_noise`] for the classes and the confidences.
    pub fn new(classes: &Classes, confidence: &'a Confidence) -> Result<Self> {
        let n = check_classes(classes)?;
        check_confidence(confidence, n)?;
        Ok(CheckedConfidence {
            confidence,
            thresholds: class_thresholds(classes, confidence),
        })
    }

    /// The threshold of each class, in the order of the classes' names.
    pub fn thresholds(&self) -> &[f64] {
        &self.thresholds
    }
}

/// What the label-noise test of every slice of one view shares: the seeded
/// reference pool, and the baseline — a seeded sample of up to
/// `max_baseline` error rows over the whole view with their neighbours,
/// found once. A slice's baseline is the part of that sample outside the
/// slice (a uniform sample of the errors outside it).
pub struct NeighbourCache {
    n: usize,
    k: usize,
    pool: Vec<u32>,
    /// Baseline rows (ascending) and their neighbours.
    baseline: Vec<(u32, Vec<u32>)>,
    /// Share of a seeded sample of correctly predicted rows whose
    /// neighbours' strict majority carries their label; None without such
    /// rows.
    label_support: Option<f64>,
    /// Share of the baseline errors whose neighbours' strict majority
    /// carries the model's prediction; None without errors.
    prediction_support: Option<f64>,
}

impl NeighbourCache {
    /// The pool and the baseline's neighbours of a view.
    pub fn new(
        view: &ReducedView,
        classes: &Classes,
        params: &LabelNoiseParams,
        seed: u64,
    ) -> Result<Self> {
        params.validate()?;
        let n = check_classes(classes)?;
        check_view(view, n)?;
        let rng = Rng::new(seed).fork(0x1ABE_1015);
        let pool: Vec<u32> = if n <= params.max_reference {
            (0..n as u32).collect()
        } else {
            sample_indices(n, params.max_reference, &mut rng.fork(3))
        };
        let (label, pred) = (&classes.label, &classes.pred);
        let (errors, correct): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| label[i as usize] != pred[i as usize]);
        let rows = sample_from(&errors, params.max_baseline, &mut rng.fork(2));
        let right = sample_from(&correct, params.max_baseline, &mut rng.fork(4));
        let neighbours = nearest_neighbours(view, &rows, &pool, params.k)?;
        let right_neighbours = nearest_neighbours(view, &right, &pool, params.k)?;
        // Share of `rows` whose neighbours' strict majority carries `of(row)`.
        let support = |rows: &[u32], nbs: &[Vec<u32>], of: &[u32]| -> Option<f64> {
            (!rows.is_empty()).then(|| {
                let backed = rows
                    .iter()
                    .zip(nbs)
                    .filter(|(&r, nb)| {
                        let c = of[r as usize];
                        2 * nb.iter().filter(|&&j| label[j as usize] == c).count() > nb.len()
                    })
                    .count();
                backed as f64 / rows.len() as f64
            })
        };
        Ok(NeighbourCache {
            n,
            k: params.k,
            pool,
            label_support: support(&right, &right_neighbours, label),
            prediction_support: support(&rows, &neighbours, pred),
            baseline: rows.into_iter().zip(neighbours).collect(),
        })
    }

    /// How well this view can witness against the labels, in [−1, 1]: the
    /// share of correctly predicted rows whose neighbours back their label,
    /// less the share of misclassified rows whose neighbours back the
    /// model's prediction (both from seeded samples of up to
    /// `max_baseline` rows).
    ///
    /// A good witness is informative (the neighbours of rows the model gets
    /// right carry the same label) and independent of the model (around
    /// the model's errors the neighbours mostly do not side with it, as
    /// most errors are the model's, not the labels'). The model's own
    /// representation fails the second test: its errors sit among rows
    /// predicted as it predicts them, so nearly every error would look
    /// like a wrong label there. An uninformative view fails the first.
    /// None when the view holds no misclassified row.
    pub fn witness_score(&self) -> Option<f64> {
        Some(self.label_support.unwrap_or(0.0) - self.prediction_support?)
    }

    /// The share behind [`Self::witness_score`] on the correct rows.
    pub fn label_support(&self) -> Option<f64> {
        self.label_support
    }

    /// The share behind [`Self::witness_score`] on the errors.
    pub fn prediction_support(&self) -> Option<f64> {
        self.prediction_support
    }
}

/// The view with the highest [`NeighbourCache::witness_score`] (the first
/// one on a tie), by its position in `caches`; None when no view has a
/// score.
pub fn choose_witness(caches: &[Option<NeighbourCache>]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in caches.iter().enumerate() {
        if let Some(s) = c.as_ref().and_then(NeighbourCache::witness_score) {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
    }
    best.map(|(i, _)| i)
}

/// [`label_noise`] with a [`NeighbourCache`] shared by the slices of one
/// view (made with the same `params` and `seed`) and confidences checked
/// once per scan (made with the same `classes`).
pub fn label_noise_cached(
    view: &ReducedView,
    classes: Option<&Classes>,
    confidence: Option<&CheckedConfidence>,
    members: &[u32],
    params: &LabelNoiseParams,
    seed: u64,
    cache: &NeighbourCache,
) -> Result<Option<LabelNoise>> {
    params.validate()?;
    let Some(classes) = classes else {
        return Ok(None);
    };
    let n = check_classes(classes)?;
    check_view(view, n)?;
    check_members(members, n)?;
    if let Some(c) = confidence {
        let m = c.confidence.predicted.len();
        if m != n || c.thresholds.len() != classes.names.len() {
            return Err(Error::ShapeMismatch(format!(
                "the confidences were checked for {m} rows and {} classes, not {n} rows and {} classes",
                c.thresholds.len(),
                classes.names.len()
            )));
        }
    }
    if cache.n != n || cache.k != params.k {
        return Err(Error::InvalidInput(format!(
            "the neighbour cache was made for {} rows and k = {}, not view '{}' ({n} rows) and k = {}",
            cache.n, cache.k, view.name, params.k
        )));
    }
    let (label, pred) = (&classes.label, &classes.pred);
    let wrong = |i: u32| label[i as usize] != pred[i as usize];

    let slice_errors: Vec<u32> = members.iter().copied().filter(|&i| wrong(i)).collect();
    if slice_errors.is_empty() {
        return Ok(None);
    }
    let rng = Rng::new(seed).fork(0x1ABE_1015);
    let examined = sample_from(&slice_errors, params.max_examined, &mut rng.fork(1));
    let baseline: Vec<&(u32, Vec<u32>)> = cache
        .baseline
        .iter()
        .filter(|(r, _)| members.binary_search(r).is_err())
        .collect();

    let neighbours = nearest_neighbours(view, &examined, &cache.pool, params.k)?;

    // Whether the neighbours side with the prediction, and a suspect's
    // neighbour agreement (votes for the prediction) or None.
    let judge = |row: u32, nb: &[u32]| -> (bool, Option<usize>) {
        let (p, y) = (pred[row as usize], label[row as usize]);
        let votes = nb.iter().filter(|&&r| label[r as usize] == p).count();
        let sides = match params.vote {
            Vote::Majority => 2 * votes > nb.len(),
            Vote::OverLabel => votes > nb.iter().filter(|&&r| label[r as usize] == y).count(),
        };
        let confident = confidence
            .is_none_or(|c| c.confidence.predicted[row as usize] >= c.thresholds[p as usize]);
        (sides, (sides && confident).then_some(votes))
    };

    let verdicts: Vec<(bool, Option<usize>)> = examined
        .iter()
        .zip(&neighbours)
        .map(|(&row, nb)| judge(row, nb))
        .collect();
    let mut suspects: Vec<(u32, usize)> = examined
        .iter()
        .zip(&verdicts)
        .filter_map(|(&row, v)| v.1.map(|v| (row, v)))
        .collect();
    let confusion = |row: u32| (label[row as usize], pred[row as usize]);
    let baseline_suspects = baseline
        .iter()
        .filter(|(row, nb)| judge(*row, nb).1.is_some())
        .count();

    let examined_suspects = suspects.len();
    let share = examined_suspects as f64 / examined.len() as f64;
    let sided_share = verdicts.iter().filter(|v| v.0).count() as f64 / examined.len() as f64;
    let estimated = if examined.len() == slice_errors.len() {
        examined_suspects as u64
    } else {
        (share * slice_errors.len() as f64).round() as u64
    };
    let baseline_share =
        (!baseline.is_empty()).then(|| baseline_suspects as f64 / baseline.len() as f64);
    // The neighbours contradict the labels of at least `min_share` of the
    // errors, and the suspects (contradicted and, with confidence,
    // confident) are enough and stand out from the errors outside. Without
    // confidence the two shares are one; with it the share floor is not
    // asked of the confident ones, whose share is cut by the gate even
    // where every label is wrong (a wrong label's prediction is confident
    // about as often as any other).
    let passes = |suspects: usize, share: f64, sided: f64| {
        suspects >= params.min_suspects
            && sided >= params.min_share
            && baseline_share.is_none_or(|b| share >= params.min_ratio * b)
    };
    let whole = passes(examined_suspects, share, sided_share);

    // The slice's examined errors and suspects by confusion.
    let pairs = tally(
        examined
            .iter()
            .zip(&verdicts)
            .map(|(&row, v)| (confusion(row), v.0, v.1.is_some())),
    );

    // The same test on the slice's dominant confusion (the pair with the
    // most examined errors; the first in class order on a tie): label
    // noise is usually one confusion (annotators mixing up two classes),
    // which the slice's other errors can dilute. One pair, not every pair:
    // small pairs would pass by chance.
    let name = |c: u32| classes.names.get(c as usize).cloned().unwrap_or_default();
    let dominant = pairs.iter().fold(None::<&Tally>, |best, p| match best {
        Some(b) if b.rows >= p.rows => Some(b),
        _ => Some(p),
    });
    let pair = dominant.map(|t| {
        let (share, sided) = (
            t.suspects as f64 / t.rows as f64,
            t.sided as f64 / t.rows as f64,
        );
        SuspectPair {
            label: name(t.key.0),
            pred: name(t.key.1),
            examined_errors: t.rows as u64,
            examined_suspects: t.suspects as u64,
            suspect_share: share,
            sided_share: Some(sided),
            passes: passes(t.suspects, share, sided),
        }
    });
    // The flag is the whole slice's test: flagging on the dominant
    // confusion as well was measured on the planted benchmark and not kept
    // (bench/planted/README.md).
    let flagged = whole;
    let pair_key = dominant
        .filter(|_| pair.as_ref().is_some_and(|q| q.passes))
        .map(|b| b.key);

    // Most confident first; when the dominant confusion passes on its own,
    // its suspects lead.
    let in_pair = |row: u32| pair_key == Some(confusion(row));
    suspects.sort_by(|a, b| {
        let by_conf = match confidence {
            Some(c) => c.confidence.predicted[b.0 as usize]
                .total_cmp(&c.confidence.predicted[a.0 as usize]),
            None => std::cmp::Ordering::Equal,
        };
        in_pair(b.0)
            .cmp(&in_pair(a.0))
            .then(by_conf)
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    let suspect_rows: Vec<u32> = suspects
        .iter()
        .take(params.max_listed)
        .map(|s| s.0)
        .collect();

    let mut result = LabelNoise {
        flagged,
        errors: slice_errors.len() as u64,
        examined_errors: examined.len() as u64,
        examined_suspects: examined_suspects as u64,
        suspects: estimated,
        suspect_share: share,
        sided_share: Some(sided_share),
        baseline_examined: baseline.len() as u64,
        baseline_share,
        k: params.k,
        view: view.name.clone(),
        used_confidence: confidence.is_some(),
        pair,
        suspect_rows,
        evidence: String::new(),
    };
    result.evidence = label_noise_evidence(&result, params);
    Ok(Some(result))
}

/// One confusion's examined errors in the label-noise test.
struct Tally {
    /// (given label, prediction).
    key: (u32, u32),
    rows: usize,
    /// Rows whose neighbours side with the prediction.
    sided: usize,
    suspects: usize,
}

/// Rows, sided rows and suspects by confusion: for each (given label,
/// prediction) key of `rows` (key, sided?, suspect?), sorted by key.
fn tally(rows: impl Iterator<Item = ((u32, u32), bool, bool)>) -> Vec<Tally> {
    let mut out: Vec<Tally> = Vec::new();
    for (key, sided, suspect) in rows {
        let i = match out.binary_search_by(|p| p.key.cmp(&key)) {
            Ok(i) => i,
            Err(i) => {
                out.insert(
                    i,
                    Tally {
                        key,
                        rows: 0,
                        sided: 0,
                        suspects: 0,
                    },
                );
                i
            }
        };
        out[i].rows += 1;
        out[i].sided += usize::from(sided);
        out[i].suspects += usize::from(suspect);
    }
    out
}

/// The per-class thresholds of confident learning (Northcutt et al. 2021,
/// the expected self-confidence of each class): entry `c` is the mean of
/// p̂(y = c | x) over the rows whose given label is `c`, that is of
/// `confidence.given` over those rows (NaN for a class no row is labelled
/// with, so that no prediction of it counts as confident). The rows the
/// model gets wrong are part of the mean, which is what makes it lower
/// than the mean confidence of the rows predicted as `c`. Rows beyond the
/// shorter of `classes.label` and `confidence.given`, and labels outside
/// the class list, are ignored.
pub fn class_thresholds(classes: &Classes, confidence: &Confidence) -> Vec<f64> {
    let k = classes.names.len();
    let mut sum = vec![0.0f64; k];
    let mut count = vec![0u64; k];
    for (&y, &c) in classes.label.iter().zip(&confidence.given) {
        if let (Some(s), Some(m)) = (sum.get_mut(y as usize), count.get_mut(y as usize)) {
            *s += c;
            *m += 1;
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &m)| if m > 0 { s / m as f64 } else { f64::NAN })
        .collect()
}

fn label_noise_evidence(r: &LabelNoise, params: &LabelNoiseParams) -> String {
    let examined = if r.examined_errors == r.errors {
        format!("the slice's {} errors", thousands(r.errors as usize))
    } else {
        format!(
            "{} errors sampled from the slice's {}",
            thousands(r.examined_errors as usize),
            thousands(r.errors as usize)
        )
    };
    let baseline = match r.baseline_share {
        Some(b) => format!(
            "against {} of {} errors outside the slice",
            pct(b),
            thousands(r.baseline_examined as usize)
        ),
        None => "with no error outside the slice to compare with".to_string(),
    };
    let verdict = if r.flagged {
        "likely label noise"
    } else {
        "no clear sign of label noise"
    };
    let rows = format!("{} nearest rows in view '{}'", r.k, r.view);
    let sided = match params.vote {
        Vote::Majority => {
            format!("the {rows} mostly carry the predicted label rather than the given one")
        }
        Vote::OverLabel => {
            format!("more of the {rows} carry the predicted label than the given one")
        }
    };
    let claim = if r.used_confidence {
        format!(
            "for {} of {examined}, {sided}; {} are suspects (such errors with a confident prediction)",
            pct(r.sided_share.unwrap_or(r.suspect_share)),
            pct(r.suspect_share)
        )
    } else {
        format!("for {} of {examined}, {sided}", pct(r.suspect_share))
    };
    let total = if r.examined_errors < r.errors && r.flagged {
        format!(
            " (about {} suspect rows in the slice)",
            thousands(r.suspects as usize)
        )
    } else {
        String::new()
    };
    let pair = match &r.pair {
        Some(p) if p.examined_errors < r.examined_errors => format!(
            "; its main confusion, labelled '{}' and predicted '{}': {} of {} suspect",
            p.label,
            p.pred,
            pct(p.suspect_share),
            thousands(p.examined_errors as usize)
        ),
        _ => String::new(),
    };
    let short = if r.flagged {
        String::new()
    } else {
        format!("; not flagged: {}", shortfalls(r, params).join(", "))
    };
    format!("{verdict}: {claim}{total}, {baseline}{pair}{short}.")
}

/// Which of the label-noise test's conditions an unflagged slice misses,
/// each with its value and the one asked (the values are cut, not rounded,
/// so that a value shown is never the one asked).
fn shortfalls(r: &LabelNoise, params: &LabelNoiseParams) -> Vec<String> {
    let mut out = Vec::new();
    if r.examined_suspects < params.min_suspects as u64 {
        out.push(format!(
            "{} suspect{} ({} asked)",
            r.examined_suspects,
            if r.examined_suspects == 1 { "" } else { "s" },
            params.min_suspects
        ));
    }
    let sided = r.sided_share.unwrap_or(r.suspect_share);
    if sided < params.min_share {
        out.push(format!(
            "the neighbours side with the prediction for {} of the errors ({} asked)",
            share_below(sided, params.min_share),
            pct(params.min_share)
        ));
    }
    if let Some(b) = r.baseline_share {
        if r.suspect_share < params.min_ratio * b {
            out.push(format!(
                "suspects {}× as common as outside ({}× asked)",
                cut(r.suspect_share / b, 2),
                cut(params.min_ratio, 2)
            ));
        }
    }
    out
}

/// `x` as a percentage that does not read as `limit` (x < limit): the
/// usual [`pct`], or one decimal cut where that rounds up to the limit's.
fn share_below(x: f64, limit: f64) -> String {
    let usual = pct(x);
    if usual == pct(limit) {
        format!("{}%", cut(100.0 * x, 1))
    } else {
        usual
    }
}

/// `x ≥ 0` cut (not rounded) to `decimals`, without trailing zeros.
fn cut(x: f64, decimals: i32) -> String {
    let scale = 10f64.powi(decimals);
    let v = (x * scale).floor() / scale;
    let text = format!("{v:.*}", decimals as usize);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Rows per block of queries in the neighbour search.
const QUERY_BLOCK: usize = 256;
/// Pool rows per matrix product (the product fills `POOL_BLOCK × 256`
/// floats, 512 KiB, which stays in cache while it is scanned).
const POOL_BLOCK: usize = 512;
/// Pool rows per parallel work item.
const POOL_CHUNK: usize = 16 * POOL_BLOCK;

/// Rows per work item when gathering rows or computing their norms.
const GATHER_ROWS: usize = 1024;

/// The `k` smallest (score, row) pairs seen so far, in increasing order.
struct TopK {
    k: usize,
    items: Vec<(f32, u32)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    #[inline]
    fn worst(&self) -> f32 {
        if self.items.len() < self.k {
            f32::INFINITY
        } else {
            self.items[self.k - 1].0
        }
    }

    /// Insert a pair whose score beats `worst()`. Rows arrive in
    /// increasing order, so a tie goes after the pairs already held: the
    /// list stays ordered by (score, row).
    #[inline]
    fn push(&mut self, score: f32, row: u32) {
        let at = self.items.partition_point(|e| e.0 <= score);
        self.items.insert(at, (score, row));
        self.items.truncate(self.k);
    }
}

/// For every query row, the rows of `pool` (ascending row ids) nearest to
/// it in `view`, excluding itself: up to `k`, nearest first, ties broken
/// by row id.
fn nearest_neighbours(
    view: &ReducedView,
    queries: &[u32],
    pool: &[u32],
    k: usize,
) -> Result<Vec<Vec<u32>>> {
    let d = view.dim;
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let pool_x = gather(view, pool)?;
    let query_x = gather(view, queries)?;
    let mut norms = vec![0f32; pool.len()];
    norms
        .par_chunks_mut(GATHER_ROWS)
        .zip(pool_x.par_chunks(GATHER_ROWS * d))
        .for_each(|(o, x)| {
            clean_simd_state();
            for (n, r) in o.iter_mut().zip(x.chunks_exact(d)) {
                *n = r.iter().map(|v| v * v).sum();
            }
        });
    let n_qb = queries.len().div_ceil(QUERY_BLOCK);
    let n_pc = pool.len().div_ceil(POOL_CHUNK);

    // One work item per (query block, pool chunk): the k best of the chunk
    // for each query of the block.
    let parts: Vec<Vec<Vec<(f32, u32)>>> = (0..n_qb * n_pc)
        .into_par_iter()
        .map(|item| {
            clean_simd_state();
            let (qb, pc) = (item / n_pc, item % n_pc);
            let q0 = qb * QUERY_BLOCK;
            let q1 = (q0 + QUERY_BLOCK).min(queries.len());
            let nq = q1 - q0;
            let qm = MatRef::from_row_major_slice(&query_x[q0 * d..q1 * d], nq, d);
            let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
            let mut buf = vec![0f32; POOL_BLOCK * nq];
            let p_end = ((pc + 1) * POOL_CHUNK).min(pool.len());
            let mut b0 = pc * POOL_CHUNK;
            while b0 < p_end {
                let b1 = (b0 + POOL_BLOCK).min(p_end);
                let nb = b1 - b0;
                let pm = MatRef::from_row_major_slice(&pool_x[b0 * d..b1 * d], nb, d);
                // Column j of the column-major result holds −2 q_j·r for
                // every pool row r of the block, contiguous.
                matmul(
                    MatMut::from_column_major_slice_mut(&mut buf[..nb * nq], nb, nq),
                    Accum::Replace,
                    pm,
                    qm.transpose(),
                    -2.0f32,
                    Par::Seq,
                );
                // faer may leave the upper vector registers dirty, which
                // would slow down the scan below (see clean_simd_state).
                clean_simd_state();
                let block_norms = &norms[b0..b1];
                let block_rows = &pool[b0..b1];
                for (j, top) in tops.iter_mut().enumerate() {
                    let me = queries[q0 + j];
                    let col = &buf[j * nb..(j + 1) * nb];
                    let mut worst = top.worst();
                    for ((&s, &norm), &row) in col.iter().zip(block_norms).zip(block_rows) {
                        let score = s + norm;
                        if score < worst && row != me {
                            top.push(score, row);
                            worst = top.worst();
                        }
                    }
                }
                b0 = b1;
            }
            tops.into_iter().map(|t| t.items).collect()
        })
        .collect();

    Ok((0..queries.len())
        .map(|qi| {
            let (qb, j) = (qi / QUERY_BLOCK, qi % QUERY_BLOCK);
            let mut all: Vec<(f32, u32)> = (0..n_pc)
                .flat_map(|pc| parts[qb * n_pc + pc][j].iter().copied())
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            all.into_iter().take(k).map(|(_, r)| r).collect()
        })
        .collect())
}

/// The rows `rows` of the view, contiguous; an error names the first row
/// holding a non-finite value.
fn gather(view: &ReducedView, rows: &[u32]) -> Result<Vec<f32>> {
    let d = view.dim;
    let mut out = vec![0f32; rows.len() * d];
    out.par_chunks_mut(GATHER_ROWS * d)
        .zip(rows.par_chunks(GATHER_ROWS))
        .for_each(|(dst, src)| {
            clean_simd_state();
            for (o, &r) in dst.chunks_exact_mut(d).zip(src) {
                o.copy_from_slice(view.row(r as usize));
            }
        });
    if let Some(bad) = out
        .par_chunks(d)
        .position_first(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::InvalidInput(format!(
            "view '{}' row {} holds a non-finite value; fix the embedding or drop the row",
            view.name, rows[bad]
        )));
    }
    Ok(out)
}

/// `m` distinct indices of `0..n` drawn uniformly (all of them when
/// `n ≤ m`), ascending. Floyd's algorithm: m draws whatever n is.
fn sample_indices(n: usize, m: usize, rng: &mut Rng) -> Vec<u32> {
    if n <= m {
        return (0..n as u32).collect();
    }
    let mut chosen: HashSet<u32> = HashSet::with_capacity(m);
    for j in n - m..n {
        let t = rng.below(j as u64 + 1) as u32;
        if !chosen.insert(t) {
            chosen.insert(j as u32);
        }
    }
    let mut out: Vec<u32> = chosen.into_iter().collect();
    out.sort_unstable();
    out
}

/// Up to `m` entries of the ascending list `rows`, uniformly, ascending.
fn sample_from(rows: &[u32], m: usize, rng: &mut Rng) -> Vec<u32> {
    if rows.len() <= m {
        return rows.to_vec();
    }
    sample_indices(rows.len(), m, rng)
        .into_iter()
        .map(|i| rows[i as usize])
        .collect()
}

// ---------------------------------------------------------------------------
// Shortcuts
// ---------------------------------------------------------------------------

/// Parameters of [`shortcuts`] and [`shortcut_signal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShortcutParams {
    /// Smallest `assoc_pred − assoc_label`, in both scopes (≥ 0).
    pub min_gap: f64,
    /// Smallest `assoc_pred / assoc_label`, in both scopes (≥ 1).
    pub min_ratio: f64,
    /// Fewest rows (total weight) in the slice for its scope to count.
    pub min_rows: f64,
    /// Use the bias-corrected Cramér's V (Bergsma 2013) rather than the
    /// plain one; see [`cramers_v`].
    pub bias_corrected: bool,
}

impl Default for ShortcutParams {
    fn default() -> Self {
        ShortcutParams {
            min_gap: 0.1,
            min_ratio: 1.5,
            min_rows: 30.0,
            bias_corrected: true,
        }
    }
}

impl ShortcutParams {
    /// Check every parameter; [`Error::InvalidParameter`] names the first
    /// one out of range.
    pub fn validate(&self) -> Result<()> {
        let name = |f: &str| format!("diagnose.shortcut.{f}");
        if !(self.min_gap.is_finite() && self.min_gap >= 0.0) {
            return Err(Error::param(
                name("min_gap"),
                format!("must be a finite number ≥ 0, got {}", self.min_gap),
            ));
        }
        if !(self.min_ratio.is_finite() && self.min_ratio >= 1.0) {
            return Err(Error::param(
                name("min_ratio"),
                format!("must be a finite number ≥ 1, got {}", self.min_ratio),
            ));
        }
        if !(self.min_rows.is_finite() && self.min_rows >= 0.0) {
            return Err(Error::param(
                name("min_rows"),
                format!("must be a finite number ≥ 0, got {}", self.min_rows),
            ));
        }
        Ok(())
    }
}

/// An attribute (or signal) that the prediction follows much more closely
/// than the label does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shortcut {
    /// The attribute's (or signal's) name.
    pub attribute: String,
    /// The level that carries the shortcut within the slice: with `class`,
    /// the (level, class) pair with the most rows of the slice predicted as
    /// the class beyond those labelled so, i.e. where the attribute pulls
    /// the prediction away from the label the most.
    pub level: Predicate,
    /// `level` as text.
    pub level_text: String,
    /// The class the prediction is pulled towards at that level.
    pub class: String,
    /// Association (Cramér's V) of the attribute with the prediction, all rows.
    pub assoc_pred_global: f64,
    /// Association with the label, all rows.
    pub assoc_label_global: f64,
    /// Association with the prediction within the slice.
    pub assoc_pred_slice: f64,
    /// Association with the label within the slice.
    pub assoc_label_slice: f64,
    /// One sentence with the numbers.
    pub evidence: String,
}

impl Shortcut {
    /// The smaller of the two gaps `assoc_pred − assoc_label` (global and in
    /// the slice): a shortcut must hold in both scopes, so the weaker one
    /// measures it. [`shortcuts`] sorts by this, largest first.
    pub fn strength(&self) -> f64 {
        (self.assoc_pred_global - self.assoc_label_global)
            .min(self.assoc_pred_slice - self.assoc_label_slice)
    }
}

/// Most cells of one contingency table (levels × classes).
const MAX_CELLS: usize = 1 << 24;

/// Attributes that the model's prediction follows much more closely than
/// the label does, over all rows and within the slice (`members`).
///
/// For every attribute, the association of its level with the predicted
/// class and with the label is measured by Cramér's V ([`cramers_v`]) on
/// weighted contingency tables (weights are frequency weights), once over
/// all rows and once over the slice's members. The attribute is a shortcut
/// when, in both scopes, `assoc_pred − assoc_label ≥ min_gap` and
/// `assoc_pred ≥ min_ratio · assoc_label`, and the slice weighs at least
/// `min_rows`. An attribute constant within the slice (for instance one
/// that defines it) has no association there and is never flagged.
///
/// **Why Cramér's V** rather than normalised mutual information: the two
/// associations compared share the attribute and the class set, and V
/// needs no choice of normaliser (NMI has several, and the natural one for
/// "predicts Y", I(A;Y)/H(Y), is unstable when Y is nearly constant, as the
/// label or the prediction often is inside a slice); V is 0 exactly under
/// independence and 1 when one variable determines the other; and its
/// small-sample upward bias, large in small slices with many levels, has a
/// standard correction (Bergsma 2013) applied by default.
///
/// Returns the shortcuts, strongest first ([`Shortcut::strength`], then
/// attribute order); empty when `classes` is None. Errors: invalid
/// parameters, lengths that differ ([`Error::ShapeMismatch`]), codes or
/// class indices out of range, members out of range or not strictly
/// ascending, negative or non-finite weights, an attribute whose
/// levels × classes exceed 2²⁴ table cells ([`Error::InvalidInput`]).
pub fn shortcuts(
    enc: &Encoded,
    classes: Option<&Classes>,
    members: &[u32],
    weights: Option<&[f64]>,
    params: &ShortcutParams,
) -> Result<Vec<Shortcut>> {
    params.validate()?;
    let Some(classes) = classes else {
        return Ok(Vec::new());
    };
    let n = check_classes(classes)?;
    check_members(members, n)?;
    check_weights(weights, n)?;
    for a in &enc.attributes {
        check_codes(&a.name, &a.codes, a.levels.len(), classes.names.len(), n)?;
    }
    let scope = Scope {
        rows: neighbourhood(classes, members, n),
        size: weight_of(members, weights),
    };
    let mut found: Vec<Shortcut> = enc
        .attributes
        .par_iter()
        .map(|a| {
            clean_simd_state();
            assess(
                &a.name, &a.codes, &a.levels, classes, &scope, weights, params,
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    found.sort_by(|a, b| b.strength().total_cmp(&a.strength()));
    Ok(found)
}

/// The shortcut test of [`shortcuts`] for an arbitrary per-row categorical
/// signal, e.g. whether a phrase scores high: `codes[i] < n_levels` is the
/// signal's level on row `i`.
///
/// A signal of two levels reads as a boolean (`name = false` for code 0,
/// `name = true` for code 1); otherwise level `c` reads `name = c`.
/// Returns `Some` only when the signal is a shortcut. Errors as for
/// [`shortcuts`].
pub fn shortcut_signal(
    name: &str,
    codes: &[u32],
    n_levels: usize,
    classes: Option<&Classes>,
    members: &[u32],
    weights: Option<&[f64]>,
    params: &ShortcutParams,
) -> Result<Option<Shortcut>> {
    params.validate()?;
    let Some(classes) = classes else {
        return Ok(None);
    };
    let n = check_classes(classes)?;
    check_members(members, n)?;
    check_weights(weights, n)?;
    check_codes(name, codes, n_levels, classes.names.len(), n)?;
    let levels: Vec<Predicate> = (0..n_levels)
        .map(|c| Predicate::Eq {
            column: name.to_string(),
            value: if n_levels == 2 {
                Value::Bool(c == 1)
            } else {
                Value::Int(c as i64)
            },
        })
        .collect();
    let scope = Scope {
        rows: neighbourhood(classes, members, n),
        size: weight_of(members, weights),
    };
    Ok(assess(
        name, codes, &levels, classes, &scope, weights, params,
    ))
}

/// Where the slice-scope association is measured, and the slice's size.
struct Scope {
    /// The slice's neighbourhood (see [`neighbourhood`]).
    rows: Vec<u32>,
    /// The slice's own weight (for `min_rows`).
    size: f64,
}

/// Total weight of `rows`.
fn weight_of(rows: &[u32], weights: Option<&[f64]>) -> f64 {
    rows.iter()
        .map(|&i| weights.map_or(1.0, |w| w[i as usize]))
        .sum()
}

/// The rows the slice-scope association is measured on: the members plus
/// the rows outside the slice with the slice's labels, in its label
/// proportions ([`crate::phrases::reference_rows`]). Within the members
/// alone an attribute that defines the slice (a patch present on every
/// member) is constant and can show no association; against the same
/// labels outside the slice it shows whether it moves the prediction.
/// Ascending.
fn neighbourhood(classes: &Classes, members: &[u32], n: usize) -> Vec<u32> {
    let reference = crate::phrases::reference_rows(&classes.label, members, n);
    let mut rows: Vec<u32> = members.iter().chain(&reference).copied().collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Cramér's V of a contingency table of non-negative (weighted) counts,
/// row-major `n_levels × n_classes`.
///
/// With N the total, χ² = Σ (O − E)² / E over the cells of the non-empty
/// rows and columns (E = row total · column total / N) and r, c the
/// numbers of non-empty rows and columns:
///
/// * plain: V = √(χ² / (N · min(r − 1, c − 1)));
/// * bias-corrected (Bergsma 2013): φ̃² = max(0, χ²/N − (r − 1)(c − 1)/(N − 1)),
///   r̃ = r − (r − 1)²/(N − 1), c̃ = c − (c − 1)²/(N − 1),
///   V = √(φ̃² / min(r̃ − 1, c̃ − 1)).
///
/// A table with fewer than two non-empty rows or columns (a constant
/// variable) has V = 0, as has the corrected V for N ≤ 1. Errors: a table
/// of the wrong length ([`Error::ShapeMismatch`]), negative or non-finite
/// counts ([`Error::InvalidInput`]).
pub fn cramers_v(
    table: &[f64],
    n_levels: usize,
    n_classes: usize,
    bias_corrected: bool,
) -> Result<f64> {
    if n_levels.checked_mul(n_classes) != Some(table.len()) {
        return Err(Error::ShapeMismatch(format!(
            "a {n_levels} × {n_classes} table needs {} counts, got {}",
            n_levels.saturating_mul(n_classes),
            table.len()
        )));
    }
    if let Some(bad) = table.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(Error::InvalidInput(format!(
            "contingency counts must be finite and ≥ 0, got {bad}"
        )));
    }
    Ok(Chi2::of(table, n_levels, n_classes).v(bias_corrected))
}

/// χ² statistics of a table.
struct Chi2 {
    /// Total weight N.
    total: f64,
    /// Non-empty rows.
    r: usize,
    /// Non-empty columns.
    c: usize,
    /// χ² / N.
    phi2: f64,
    /// Row totals.
    row_sum: Vec<f64>,
    /// Column totals.
    col_sum: Vec<f64>,
}

impl Chi2 {
    fn of(table: &[f64], n_levels: usize, n_classes: usize) -> Chi2 {
        let mut row_sum = vec![0.0f64; n_levels];
        let mut col_sum = vec![0.0f64; n_classes];
        for (l, row) in table.chunks_exact(n_classes.max(1)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                row_sum[l] += v;
                col_sum[j] += v;
            }
        }
        let total: f64 = row_sum.iter().sum();
        let r = row_sum.iter().filter(|&&s| s > 0.0).count();
        let c = col_sum.iter().filter(|&&s| s > 0.0).count();
        let mut chi2 = 0.0f64;
        if total > 0.0 {
            for (l, row) in table.chunks_exact(n_classes.max(1)).enumerate() {
                if row_sum[l] <= 0.0 {
                    continue;
                }
                for (j, &o) in row.iter().enumerate() {
                    if col_sum[j] > 0.0 {
                        let e = row_sum[l] * col_sum[j] / total;
                        chi2 += (o - e) * (o - e) / e;
                    }
                }
            }
        }
        Chi2 {
            total,
            r,
            c,
            phi2: if total > 0.0 { chi2 / total } else { 0.0 },
            row_sum,
            col_sum,
        }
    }

    /// min(r − 1, c − 1).
    fn dof_min(&self) -> f64 {
        (self.r.min(self.c) as f64 - 1.0).max(0.0)
    }

    fn v(&self, bias_corrected: bool) -> f64 {
        if self.r < 2 || self.c < 2 {
            return 0.0;
        }
        let v2 = if bias_corrected {
            let nm1 = self.total - 1.0;
            if nm1 <= 0.0 {
                return 0.0;
            }
            let (r, c) = (self.r as f64, self.c as f64);
            let phi2 = (self.phi2 - (r - 1.0) * (c - 1.0) / nm1).max(0.0);
            let rt = r - (r - 1.0) * (r - 1.0) / nm1;
            let ct = c - (c - 1.0) * (c - 1.0) / nm1;
            let den = (rt - 1.0).min(ct - 1.0);
            if den <= 0.0 {
                return 0.0;
            }
            phi2 / den
        } else {
            self.phi2 / self.dof_min()
        };
        v2.sqrt().clamp(0.0, 1.0)
    }
}

/// (prediction table, label table) of `codes` over `rows`.
fn tables(
    codes: &[u32],
    n_levels: usize,
    classes: &Classes,
    rows: impl Iterator<Item = usize>,
    weights: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let nc = classes.names.len();
    let mut tp = vec![0.0f64; n_levels * nc];
    let mut tl = vec![0.0f64; n_levels * nc];
    for i in rows {
        let w = weights.map_or(1.0, |w| w[i]);
        let base = codes[i] as usize * nc;
        tp[base + classes.pred[i] as usize] += w;
        tl[base + classes.label[i] as usize] += w;
    }
    (tp, tl)
}

/// The shortcut test of one validated attribute.
fn assess(
    name: &str,
    codes: &[u32],
    levels: &[Predicate],
    classes: &Classes,
    scope: &Scope,
    weights: Option<&[f64]>,
    params: &ShortcutParams,
) -> Option<Shortcut> {
    let (nl, nc) = (levels.len(), classes.names.len());
    if nl < 2 || nc < 2 || scope.size < params.min_rows {
        return None;
    }
    let members = scope.rows.as_slice();
    let passes = |p: f64, l: f64| p - l >= params.min_gap && p >= params.min_ratio * l;

    let (sp, sl) = tables(
        codes,
        nl,
        classes,
        members.iter().map(|&i| i as usize),
        weights,
    );
    let slice_p = Chi2::of(&sp, nl, nc);
    let slice_l = Chi2::of(&sl, nl, nc);
    if slice_p.total < params.min_rows || slice_p.total <= 0.0 {
        return None;
    }
    let (aps, als) = (
        slice_p.v(params.bias_corrected),
        slice_l.v(params.bias_corrected),
    );
    if !passes(aps, als) {
        return None;
    }
    let (gp, gl) = tables(codes, nl, classes, 0..codes.len(), weights);
    let (apg, alg) = (
        Chi2::of(&gp, nl, nc).v(params.bias_corrected),
        Chi2::of(&gl, nl, nc).v(params.bias_corrected),
    );
    if !passes(apg, alg) {
        return None;
    }

    // The (level, class) of the slice with the most rows predicted as the
    // class beyond those labelled so: where the attribute pulls the
    // prediction away from the label. Ties go to the first.
    let (level, class) = (0..nl)
        .flat_map(|l| (0..nc).map(move |j| (l, j)))
        .filter(|&(l, _)| slice_p.row_sum[l] > 0.0)
        .map(|(l, j)| ((l, j), sp[l * nc + j] - sl[l * nc + j]))
        .fold(None::<((usize, usize), f64)>, |best, (lj, g)| match best {
            Some((_, bg)) if bg >= g => best,
            _ => Some((lj, g)),
        })
        .map(|(lj, _)| lj)?;
    let rows_at = slice_p.row_sum[level];

    let level_pred = levels[level].clone();
    let level_text = level_pred.to_string();
    let class_name = classes.names[class].clone();
    let evidence = format!(
        "{name}: Cramér's V with the prediction {apg:.2} vs {alg:.2} with the label over all \
         rows, {aps:.2} vs {als:.2} around the slice (its rows and the rows outside it with its \
         labels); there, rows with {level_text} are predicted '{class_name}' {} of the time but \
         labelled so {} (all of them: {} vs {}).",
        pct(sp[level * nc + class] / rows_at),
        pct(sl[level * nc + class] / rows_at),
        pct(slice_p.col_sum[class] / slice_p.total),
        pct(slice_l.col_sum[class] / slice_l.total),
    );
    Some(Shortcut {
        attribute: name.to_string(),
        level: level_pred,
        level_text,
        class: class_name,
        assoc_pred_global: apg,
        assoc_label_global: alg,
        assoc_pred_slice: aps,
        assoc_label_slice: als,
        evidence,
    })
}

// ---------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------

/// Parameters of the coverage test (see [`coverage`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoverageParams {
    /// Widest acceptable interval of the slice's error, in the error's
    /// units (a rate for 0/1 errors; set it to the loss's scale for a
    /// continuous loss).
    pub target_width: f64,
    /// Normal quantile of the interval (1.96 for 95%), in (0, 8].
    pub z: f64,
}

impl Default for CoverageParams {
    fn default() -> Self {
        CoverageParams {
            target_width: 0.2,
            z: Z95,
        }
    }
}

impl CoverageParams {
    /// Check every parameter; [`Error::InvalidParameter`] names the first
    /// one out of range.
    pub fn validate(&self) -> Result<()> {
        check_target_and_z(self.target_width, self.z)
    }
}

fn check_target_and_z(target_width: f64, z: f64) -> Result<()> {
    if !(target_width.is_finite() && target_width > 0.0) {
        return Err(Error::param(
            "diagnose.coverage.target_width",
            format!("must be a positive number, got {target_width}"),
        ));
    }
    if !(z.is_finite() && z > 0.0 && z <= 8.0) {
        return Err(Error::param(
            "diagnose.coverage.z",
            format!("must be a normal quantile in (0, 8] (1.96 for 95%), got {z}"),
        ));
    }
    Ok(())
}

/// Whether a slice holds enough labelled rows to pin its error down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The interval is wider than the target.
    pub flagged: bool,
    /// Width of the interval of the slice's error rate (Wilson) or mean
    /// loss (Student t).
    pub ci_width: f64,
    /// The widest acceptable width.
    pub target_width: f64,
    /// Fewest additional labelled rows, erring at the same rate (or with
    /// the same variance), that bring the width to `target_width` or below;
    /// 0 when it already is.
    pub more_samples_needed: u64,
    /// One sentence with the numbers.
    pub evidence: String,
}

/// Is the slice under-covered: is the interval of its error wider than
/// `target_width`?
///
/// `size` is the slice's (effective) number of rows and `errors` its error
/// count (0/1 errors, `binary`) or loss sum. For 0/1 errors the width is
/// that of the Wilson score interval ([`wilson`]) of `errors / size`; for a
/// continuous loss, that of the Student-t interval of the mean,
/// `2 · t(df = size − 1, at least 1) · √(variance / size)`, where
/// `variance` is the loss's sample variance in the slice (required then).
/// `z` is the normal quantile of the interval (1.96 for 95%); the t
/// interval uses the same confidence level.
///
/// `more_samples_needed` is the smallest m ≥ 0 for which the width at
/// `size + m` rows, with the same error rate (or variance), is at most
/// `target_width`. Both widths decrease strictly with the number of rows,
/// so m is found exactly by doubling and then bisection over the integers.
/// A target out of reach within 10¹⁸ rows reports `u64::MAX`.
///
/// Errors: `size` not positive, `errors` negative (or above `size` for
/// 0/1 errors), a missing or negative variance for a continuous loss,
/// non-finite values ([`Error::InvalidInput`]); `target_width` not
/// positive or `z` outside (0, 8] ([`Error::InvalidParameter`]).
pub fn coverage(
    size: f64,
    errors: f64,
    variance: Option<f64>,
    binary: bool,
    target_width: f64,
    z: f64,
) -> Result<Coverage> {
    check_target_and_z(target_width, z)?;
    if !(size.is_finite() && size > 0.0) {
        return Err(Error::InvalidInput(format!(
            "coverage needs a positive number of rows, got {size}"
        )));
    }
    if !(errors.is_finite() && errors >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "coverage needs a finite error total ≥ 0, got {errors}"
        )));
    }
    let level = 2.0 * std_normal_cdf(z) - 1.0;
    let width: Box<dyn Fn(f64) -> f64> = if binary {
        // Tolerate rounding in weighted sums.
        if errors > size * (1.0 + 1e-9) {
            return Err(Error::InvalidInput(format!(
                "0/1 errors: {errors} errors in {size} rows"
            )));
        }
        let rate = (errors / size).min(1.0);
        Box::new(move |n: f64| {
            let (lo, hi) = wilson(rate * n, n, z);
            hi - lo
        })
    } else {
        let var = match variance {
            Some(v) if v.is_finite() && v >= 0.0 => v,
            Some(v) => {
                return Err(Error::InvalidInput(format!(
                    "coverage of a continuous loss needs a finite variance ≥ 0, got {v}"
                )))
            }
            None => {
                return Err(Error::InvalidInput(
                    "coverage of a continuous loss needs the loss's variance in the slice"
                        .to_string(),
                ))
            }
        };
        let q = 0.5 + level / 2.0;
        Box::new(move |n: f64| 2.0 * t_quantile(q, (n - 1.0).max(1.0), z) * (var / n).sqrt())
    };

    let ci_width = width(size);
    let flagged = ci_width > target_width;
    let more = if flagged {
        extra_rows(|m| width(size + m as f64) <= target_width)
    } else {
        0
    };
    let what = if binary { "error rate" } else { "mean loss" };
    let conf = pct(level);
    let evidence = if !flagged {
        format!(
            "the {conf} interval of the {what} is {} wide, within the target {}.",
            num(ci_width),
            num(target_width)
        )
    } else if more == u64::MAX {
        format!(
            "the {conf} interval of the {what} is {} wide, above the target {}, and no \
             realistic number of rows would narrow it that far.",
            num(ci_width),
            num(target_width)
        )
    } else {
        format!(
            "the {conf} interval of the {what} is {} wide, above the target {}: about {} more \
             labelled rows like these would narrow it to the target.",
            num(ci_width),
            num(target_width),
            thousands(more as usize)
        )
    };
    Ok(Coverage {
        flagged,
        ci_width,
        target_width,
        more_samples_needed: more,
        evidence,
    })
}

/// The smallest m ≥ 1 with `ok(m)`, for `ok` monotone (false then true);
/// `u64::MAX` when `ok(10¹⁸)` is still false.
fn extra_rows(ok: impl Fn(u64) -> bool) -> u64 {
    const LIMIT: u64 = 1_000_000_000_000_000_000;
    let mut hi = 1u64;
    while !ok(hi) {
        if hi >= LIMIT {
            return u64::MAX;
        }
        hi = (hi * 2).min(LIMIT);
    }
    // ok(hi) holds; ok(lo) does not (or lo = 0, which the caller excluded).
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

fn std_normal_cdf(z: f64) -> f64 {
    Normal::standard().cdf(z)
}

/// Quantile `q` of Student's t with `df` degrees of freedom; the normal
/// quantile `z` (of the same `q`) for very large `df`, where the two agree
/// to better than 10⁻⁶ and the t quantile is costly to compute.
fn t_quantile(q: f64, df: f64, z: f64) -> f64 {
    if df > 1e7 {
        return z;
    }
    StudentsT::new(0.0, 1.0, df).map_or(z, |t| t.inverse_cdf(q))
}

// ---------------------------------------------------------------------------
// Shared checks and formatting
// ---------------------------------------------------------------------------

/// Labels and predictions agree in length and index the class names;
/// returns the number of rows.
fn check_classes(classes: &Classes) -> Result<usize> {
    let n = classes.label.len();
    if classes.pred.len() != n {
        return Err(Error::ShapeMismatch(format!(
            "{n} labels but {} predictions",
            classes.pred.len()
        )));
    }
    if n > u32::MAX as usize {
        return Err(Error::InvalidInput(format!(
            "at most {} rows are supported, got {n}",
            u32::MAX
        )));
    }
    let k = classes.names.len();
    for (what, v) in [("label", &classes.label), ("prediction", &classes.pred)] {
        if let Some(i) = v.iter().position(|&c| c as usize >= k) {
            return Err(Error::InvalidInput(format!(
                "row {i}: {what} class index {} but only {k} classes are named",
                v[i]
            )));
        }
    }
    Ok(n)
}

fn check_view(view: &ReducedView, n: usize) -> Result<()> {
    if view.dim == 0 {
        return Err(Error::InvalidInput(format!(
            "view '{}' has dimension 0",
            view.name
        )));
    }
    if Some(view.data.len()) != n.checked_mul(view.dim) {
        return Err(Error::ShapeMismatch(format!(
            "view '{}' holds {} values, expected {n} rows × {} dimensions",
            view.name,
            view.data.len(),
            view.dim
        )));
    }
    Ok(())
}

/// Members are strictly ascending row indices below `n`.
fn check_members(members: &[u32], n: usize) -> Result<()> {
    if let Some(w) = members.windows(2).position(|w| w[0] >= w[1]) {
        return Err(Error::InvalidInput(format!(
            "slice members must be strictly ascending row indices; {} is followed by {}",
            members[w],
            members[w + 1]
        )));
    }
    if let Some(&last) = members.last() {
        if last as usize >= n {
            return Err(Error::InvalidInput(format!(
                "slice member row {last} is out of range: the data hold {n} rows"
            )));
        }
    }
    Ok(())
}

fn check_confidence(confidence: &Confidence, n: usize) -> Result<()> {
    for (what, v) in [
        ("predicted-class", &confidence.predicted),
        ("given-label", &confidence.given),
    ] {
        if v.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "{} {what} confidences for {n} rows",
                v.len()
            )));
        }
        if let Some(i) = v
            .iter()
            .position(|c| !(c.is_finite() && (0.0..=1.0).contains(c)))
        {
            return Err(Error::InvalidInput(format!(
                "row {i}: {what} confidence {} is not a probability in [0, 1]",
                v[i]
            )));
        }
    }
    Ok(())
}

fn check_weights(weights: Option<&[f64]>, n: usize) -> Result<()> {
    let Some(w) = weights else {
        return Ok(());
    };
    if w.len() != n {
        return Err(Error::ShapeMismatch(format!(
            "{} weights for {n} rows",
            w.len()
        )));
    }
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::InvalidInput(format!(
            "row {i}: weight {} is not a finite number ≥ 0",
            w[i]
        )));
    }
    Ok(())
}

fn check_codes(
    name: &str,
    codes: &[u32],
    n_levels: usize,
    n_classes: usize,
    n: usize,
) -> Result<()> {
    if codes.len() != n {
        return Err(Error::ShapeMismatch(format!(
            "'{name}' has {} values for {n} rows",
            codes.len()
        )));
    }
    if n_levels.saturating_mul(n_classes) > MAX_CELLS {
        return Err(Error::InvalidInput(format!(
            "'{name}': {n_levels} levels × {n_classes} classes exceed {} table cells; \
             merge rare levels first",
            thousands(MAX_CELLS)
        )));
    }
    if let Some(i) = codes.iter().position(|&c| c as usize >= n_levels) {
        return Err(Error::InvalidInput(format!(
            "'{name}' row {i}: level {} but only {n_levels} levels",
            codes[i]
        )));
    }
    Ok(())
}

/// A share as a percentage: one decimal below 10%, none above.
fn pct(x: f64) -> String {
    let p = 100.0 * x;
    if p.abs() < 10.0 && p != 0.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Three significant digits (no exponent).
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let e = x.abs().log10().floor() as i32;
    let decimals = (2 - e).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::Attribute;

    fn view_of(data: Vec<f32>, dim: usize) -> ReducedView {
        ReducedView {
            name: "test".into(),
            source: "synthetic".into(),
            dim_in: dim,
            dim,
            normalized: false,
            mean: vec![0.0; dim],
            axes: (0..dim * dim)
                .map(|i| if i % (dim + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
            explained_variance: vec![1.0; dim],
            explained_ratio: 1.0,
            data,
        }
    }

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("class{c}")).collect()
    }

    /// Gaussian blobs in 4 dimensions:
    /// * rows 0..3000: classes 0, 1, 2 (1,000 each), clean labels, with 6%
    ///   genuine model mistakes (unsure, wrong prediction);
    /// * rows 3000..3400, region R of class 0: 25% of the labels flipped to
    ///   class 1 while the model (confidently) predicts 0, plus 5% genuine
    ///   mistakes;
    /// * rows 3400..3550, rare subclass S: clean label 0, tight cluster,
    ///   always predicted 1.
    struct Planted {
        view: ReducedView,
        classes: Classes,
        /// The prediction's probability is drawn per row; the given label's
        /// is the same when the model is right, else half of what is left.
        conf: Confidence,
        flipped: Vec<u32>,
    }

    const REGION: std::ops::Range<u32> = 3000..3400;
    const SUBCLASS: std::ops::Range<u32> = 3400..3550;

    fn planted(seed: u64, flip_conf: (f64, f64)) -> Planted {
        let d = 4;
        let mut rng = Rng::new(seed);
        let mut data = Vec::new();
        let (mut label, mut pred, mut conf, mut flipped) = (vec![], vec![], vec![], vec![]);
        let centre = |t: usize| -> ([f32; 4], f32) {
            match t {
                0 => ([0.0, 0.0, 0.0, 0.0], 1.0),
                1 => ([8.0, 0.0, 0.0, 0.0], 1.0),
                2 => ([0.0, 8.0, 0.0, 0.0], 1.0),
                3 => ([0.0, 0.0, 8.0, 0.0], 1.0),
                _ => ([0.0, 0.0, 0.0, 8.0], 0.5),
            }
        };
        for row in 0..3550u32 {
            let blob = if row < 3000 {
                (row / 1000) as usize
            } else if REGION.contains(&row) {
                3
            } else {
                4
            };
            let (c, sd) = centre(blob);
            for x in c {
                data.push(x + sd * rng.normal() as f32);
            }
            let truth = if blob < 3 { blob as u32 } else { 0 };
            let mut u = rng.uniform();
            let (mut y, mut p, mut cf) = (truth, truth, 0.6 + 0.35 * rng.uniform());
            if blob == 4 {
                p = 1;
            } else if blob == 3 && u < 0.25 {
                y = 1;
                cf = flip_conf.0 + (flip_conf.1 - flip_conf.0) * rng.uniform();
                flipped.push(row);
            } else {
                if blob == 3 {
                    u = (u - 0.25) / 0.75;
                }
                let rate = if blob == 3 { 0.05 } else { 0.06 };
                if u < rate {
                    p = (truth + 1 + rng.below(2) as u32) % 3;
                    cf = 0.34 + 0.26 * rng.uniform();
                }
            }
            label.push(y);
            pred.push(p);
            conf.push((cf, if y == p { cf } else { (1.0 - cf) / 2.0 }));
        }
        Planted {
            view: view_of(data, d),
            classes: Classes {
                names: names(3),
                label,
                pred,
            },
            conf: Confidence {
                predicted: conf.iter().map(|c| c.0).collect(),
                given: conf.iter().map(|c| c.1).collect(),
            },
            flipped,
        }
    }

    fn run(p: &Planted, members: &[u32], conf: bool, params: &LabelNoiseParams) -> LabelNoise {
        label_noise(
            &p.view,
            Some(&p.classes),
            conf.then_some(&p.conf),
            members,
            params,
            42,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn planted_label_noise_is_flagged_and_lists_the_flipped_rows() {
        let p = planted(1, (0.85, 0.99));
        let members: Vec<u32> = REGION.collect();
        for conf in [true, false] {
            let r = run(&p, &members, conf, &LabelNoiseParams::default());
            assert!(r.flagged, "{r:?}");
            assert_eq!(r.used_confidence, conf);
            assert_eq!(r.examined_errors, r.errors);
            assert_eq!(r.suspects, r.examined_suspects);
            assert!(r.suspect_share >= 0.6, "{r:?}");
            let base = r.baseline_share.unwrap();
            assert!(base <= 0.05, "{r:?}");
            assert!(r.baseline_examined > 200, "{r:?}");
            let hits = r
                .suspect_rows
                .iter()
                .filter(|x| p.flipped.binary_search(x).is_ok())
                .count();
            assert!(
                hits as f64 >= 0.95 * r.suspect_rows.len() as f64,
                "{hits} of {:?}",
                r.suspect_rows
            );
            assert!(
                r.suspect_rows.len() as f64 >= 0.7 * p.flipped.len() as f64,
                "{} suspects, {} flipped",
                r.suspect_rows.len(),
                p.flipped.len()
            );
            assert!(
                r.evidence.starts_with("likely label noise"),
                "{}",
                r.evidence
            );
            if conf {
                // Most confident first.
                let c: Vec<f64> = r
                    .suspect_rows
                    .iter()
                    .map(|&i| p.conf.predicted[i as usize])
                    .collect();
                assert!(c.windows(2).all(|w| w[0] >= w[1]), "{c:?}");
            }
        }
    }

    #[test]
    fn dominant_confusion_is_reported_with_its_own_share() {
        // The noisy region, 60 rows of the rare subclass (clean labels,
        // predicted class1) and the class2 blob (6% genuine mistakes): the
        // other errors bring the slice's suspect share under one half, so
        // it is not flagged, but its dominant confusion, labelled class1
        // and predicted class0 (the flipped rows), is nearly all suspect,
        // and its suspects are listed first.
        let p = planted(1, (0.85, 0.99));
        let mut members: Vec<u32> = (2000..3000)
            .chain(REGION)
            .chain(SUBCLASS.start..SUBCLASS.start + 60)
            .collect();
        members.sort_unstable();
        let params = LabelNoiseParams::default();
        let r = run(&p, &members, false, &params);
        assert!(r.suspect_share < params.min_share && !r.flagged, "{r:?}");
        let pair = r.pair.as_ref().unwrap();
        assert_eq!(
            (pair.label.as_str(), pair.pred.as_str()),
            ("class1", "class0")
        );
        assert!(pair.passes && pair.suspect_share >= 0.8, "{pair:?}");
        assert!(
            pair.examined_suspects as usize >= p.flipped.len() * 7 / 10,
            "{pair:?}"
        );
        let lead = &r.suspect_rows[..pair.examined_suspects as usize];
        assert!(
            lead.iter().all(|x| p.flipped.binary_search(x).is_ok()),
            "{lead:?}"
        );
        assert!(
            r.evidence
                .contains("its main confusion, labelled 'class1' and predicted 'class0'"),
            "{}",
            r.evidence
        );
        // The region alone passes as a whole; its dominant confusion is the
        // flipped one.
        let region: Vec<u32> = REGION.collect();
        let alone = run(&p, &region, false, &params);
        assert!(alone.flagged && alone.suspect_share >= params.min_share);
        assert_eq!(
            alone.pair.as_ref().map(|q| (q.label.as_str(), q.passes)),
            Some(("class1", true))
        );
        // A quarter of the region with the whole subclass: the dominant
        // confusion is the subclass's (150 clean-label mistakes), which is
        // not suspect, though the ~25 flipped rows would pass on their own.
        let few: Vec<u32> = (REGION.start..REGION.start + 100).chain(SUBCLASS).collect();
        let r = run(&p, &few, false, &params);
        let pair = r.pair.as_ref().unwrap();
        assert_eq!(pair.label, "class0");
        assert!(pair.examined_errors >= 150, "{pair:?}");
        assert!(!pair.passes && !r.flagged, "{r:?}");
    }

    #[test]
    fn rare_subclass_with_clean_labels_is_not_label_noise() {
        let p = planted(2, (0.85, 0.99));
        let members: Vec<u32> = SUBCLASS.collect();
        let r = run(&p, &members, true, &LabelNoiseParams::default());
        assert_eq!(r.errors, 150);
        assert!(!r.flagged, "{r:?}");
        assert!(r.suspect_share < 0.05, "{r:?}");
        assert!(r.evidence.starts_with("no clear sign"), "{}", r.evidence);
        // It says which condition failed: here the neighbours' verdict.
        assert!(
            r.evidence.contains("; not flagged: 0 suspects (10 asked), the neighbours side with the prediction for 0% of the errors (50% asked), suspects 0× as common as outside (2× asked)."),
            "{}",
            r.evidence
        );
    }

    #[test]
    fn an_unflagged_slice_names_the_condition_it_misses() {
        let p = planted(1, (0.85, 0.99));
        let members: Vec<u32> = REGION.collect();
        let flagged = run(&p, &members, false, &LabelNoiseParams::default());
        assert!(flagged.flagged && !flagged.evidence.contains("not flagged"));
        // The same slice asked for more suspects than it has: that miss is
        // named, and the conditions it passes are not.
        let params = LabelNoiseParams {
            min_suspects: 100_000,
            ..LabelNoiseParams::default()
        };
        let r = run(&p, &members, false, &params);
        assert!(!r.flagged, "{r:?}");
        let n = r.examined_suspects;
        assert!(n >= 10, "{r:?}");
        let tail = r.evidence.split("; not flagged: ").nth(1).unwrap();
        assert_eq!(tail, format!("{n} suspects (100000 asked)."));
    }

    #[test]
    fn shortfall_values_never_read_as_the_limit() {
        assert_eq!(cut(1.999, 2), "1.99");
        assert_eq!(cut(2.0, 2), "2");
        assert_eq!(cut(1.5, 2), "1.5");
        assert_eq!(share_below(0.4996, 0.5), "49.9%");
        assert_eq!(share_below(0.44, 0.5), "44%");
    }

    #[test]
    fn unsure_predictions_are_not_suspects_when_confidence_is_given() {
        // The flipped rows are predicted with low confidence: the
        // neighbours alone point at label noise, the confidence gate not.
        let p = planted(3, (0.35, 0.45));
        let members: Vec<u32> = REGION.collect();
        let with = run(&p, &members, true, &LabelNoiseParams::default());
        let without = run(&p, &members, false, &LabelNoiseParams::default());
        assert!(!with.flagged && with.examined_suspects == 0, "{with:?}");
        assert!(without.flagged, "{without:?}");
    }

    #[test]
    fn wrong_labels_are_flagged_when_the_gate_keeps_only_some_of_them() {
        // The model's probability of its prediction on the flipped rows
        // spans class 0's threshold (about 0.7), as on real data, so the
        // gate keeps only part of them: fewer than half of the region's
        // errors are confident suspects, but the neighbours contradict the
        // labels of most, and the confident ones stand far above the
        // errors outside (whose predictions are unsure).
        let p = planted(5, (0.45, 0.95));
        let members: Vec<u32> = REGION.collect();
        let r = run(&p, &members, true, &LabelNoiseParams::default());
        let sided = r.sided_share.unwrap();
        assert!(r.suspect_share < 0.5 && sided >= 0.5, "{r:?}");
        assert!(r.flagged, "{r:?}");
        assert!(
            r.evidence.contains(&format!("for {}", pct(sided)))
                && r.evidence.contains(&format!(
                    "{} are suspects (such errors with a confident prediction), against",
                    pct(r.suspect_share)
                )),
            "{}",
            r.evidence
        );
        // Every listed suspect is confident.
        let t = class_thresholds(&p.classes, &p.conf);
        assert!(r.suspect_rows.iter().all(|&i| {
            let c = p.classes.pred[i as usize] as usize;
            p.conf.predicted[i as usize] >= t[c]
        }));
        // Without confidence the two shares are one.
        let r = run(&p, &members, false, &LabelNoiseParams::default());
        assert_eq!(r.sided_share, Some(r.suspect_share));
    }

    /// The model's own representation of `p`: each row near the centre of
    /// the class the model predicted for it, as a classifier's last layer
    /// would place it.
    fn models_view(p: &Planted, seed: u64) -> ReducedView {
        let mut rng = Rng::new(seed);
        let data = p
            .classes
            .pred
            .iter()
            .flat_map(|&c| {
                (0..4)
                    .map(|j| if j == c as usize { 8.0 } else { 0.0 } + rng.normal() as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        ReducedView {
            name: "model".into(),
            ..view_of(data, 4)
        }
    }

    #[test]
    fn vote_over_label_counts_the_label_against_the_prediction() {
        // Row 0, labelled class1 and predicted class0, has 10 neighbours
        // close by: 4 labelled class0, 2 class1, 4 class2. Far away, 60
        // correctly predicted rows of each class. No strict majority
        // carries the prediction, but more neighbours carry it than the
        // given label.
        let mut rng = Rng::new(3);
        let (mut data, mut label, mut pred) = (vec![0.0f32, 0.0], vec![1u32], vec![0u32]);
        for (j, c) in [0u32, 0, 0, 0, 1, 1, 2, 2, 2, 2].into_iter().enumerate() {
            let a = j as f32 * 0.6;
            data.extend([0.1 * a.cos(), 0.1 * a.sin()]);
            label.push(c);
            pred.push(c);
        }
        for c in 0..3u32 {
            for _ in 0..60 {
                data.extend([
                    50.0 + 20.0 * c as f32 + rng.normal() as f32,
                    rng.normal() as f32,
                ]);
                label.push(c);
                pred.push(c);
            }
        }
        let view = view_of(data, 2);
        let classes = Classes {
            names: names(3),
            label,
            pred,
        };
        let judged = |vote: Vote| {
            let params = LabelNoiseParams {
                vote,
                min_suspects: 1,
                ..LabelNoiseParams::default()
            };
            label_noise(&view, Some(&classes), None, &[0], &params, 1)
                .unwrap()
                .unwrap()
        };
        let majority = judged(Vote::Majority);
        assert_eq!((majority.examined_suspects, majority.flagged), (0, false));
        let over = judged(Vote::OverLabel);
        assert_eq!(over.examined_suspects, 1);
        assert_eq!(over.suspect_rows, vec![0]);
        // No error outside the slice: no baseline, so one suspect of one
        // error flags it at min_suspects = 1.
        assert!(over.baseline_share.is_none() && over.flagged, "{over:?}");
    }

    #[test]
    fn auto_witness_is_the_view_independent_of_the_model() {
        // In the model's own view every error sits among rows labelled as
        // it was predicted, so every error looks like a wrong label and the
        // noisy region stands out no more than the rest; the independent
        // view tells the flipped labels from the model's mistakes.
        let p = planted(4, (0.85, 0.99));
        let own = models_view(&p, 5);
        let params = LabelNoiseParams::default();
        let caches: Vec<Option<NeighbourCache>> = [&p.view, &own]
            .iter()
            .map(|v| Some(NeighbourCache::new(v, &p.classes, &params, 42).unwrap()))
            .collect();
        let (fair, mirror) = (caches[0].as_ref().unwrap(), caches[1].as_ref().unwrap());
        // Both views are informative: the neighbours of correct rows carry
        // their label.
        assert!(
            fair.label_support().unwrap() > 0.9,
            "{:?}",
            fair.label_support()
        );
        assert!(
            mirror.label_support().unwrap() > 0.9,
            "{:?}",
            mirror.label_support()
        );
        // Around the errors, only the model's view sides with the model.
        assert!(
            mirror.prediction_support().unwrap() > 0.9,
            "{:?}",
            mirror.prediction_support()
        );
        assert!(
            fair.prediction_support().unwrap() < 0.6,
            "{:?}",
            fair.prediction_support()
        );
        assert!(fair.witness_score().unwrap() > mirror.witness_score().unwrap() + 0.3);
        assert_eq!(choose_witness(&caches), Some(0));
        let swapped: Vec<Option<NeighbourCache>> = caches.into_iter().rev().collect();
        assert_eq!(choose_witness(&swapped), Some(1));
        assert_eq!(choose_witness(&[None, None]), None);

        let members: Vec<u32> = REGION.collect();
        let judged = |view: &ReducedView, cache: &NeighbourCache| {
            label_noise_cached(view, Some(&p.classes), None, &members, &params, 42, cache)
                .unwrap()
                .unwrap()
        };
        let by_model = judged(&own, swapped[0].as_ref().unwrap());
        let by_witness = judged(&p.view, swapped[1].as_ref().unwrap());
        assert!(!by_model.flagged, "{by_model:?}");
        assert!(by_model.baseline_share.unwrap() > 0.9, "{by_model:?}");
        assert!(by_witness.flagged, "{by_witness:?}");
        assert_eq!(
            (by_model.view.as_str(), by_witness.view.as_str()),
            ("model", "test")
        );
        assert!(
            by_witness.evidence.contains("in view 'test'"),
            "{}",
            by_witness.evidence
        );
    }

    #[test]
    fn noise_everywhere_is_matched_by_the_baseline() {
        // 25% of all labels flipped, everywhere: the slice looks noisy, but
        // no noisier than the rest.
        let mut rng = Rng::new(9);
        let mut data = Vec::new();
        let (mut label, mut pred) = (vec![], vec![]);
        for row in 0..3000u32 {
            let t = row / 1000;
            for j in 0..4 {
                let c = if j == t as usize { 8.0 } else { 0.0 };
                data.push(c + rng.normal() as f32);
            }
            pred.push(t);
            label.push(if rng.uniform() < 0.25 {
                (t + 1 + rng.below(2) as u32) % 3
            } else {
                t
            });
        }
        let view = view_of(data, 4);
        let classes = Classes {
            names: names(3),
            label,
            pred,
        };
        let members: Vec<u32> = (0..1000).collect();
        let r = label_noise(
            &view,
            Some(&classes),
            None,
            &members,
            &LabelNoiseParams::default(),
            5,
        )
        .unwrap()
        .unwrap();
        assert!(r.suspect_share >= 0.6, "{r:?}");
        let base = r.baseline_share.unwrap();
        assert!(base >= 0.6, "{r:?}");
        assert!((r.suspect_share - base).abs() < 0.15, "{r:?}");
        assert!(!r.flagged, "{r:?}");
        // Without the baseline requirement the slice would be flagged.
        let lax = LabelNoiseParams {
            min_ratio: 0.0,
            ..LabelNoiseParams::default()
        };
        let r = label_noise(&view, Some(&classes), None, &members, &lax, 5)
            .unwrap()
            .unwrap();
        assert!(r.flagged);
    }

    #[test]
    fn sampled_run_is_flagged_scaled_and_independent_of_threads() {
        let p = planted(4, (0.85, 0.99));
        let members: Vec<u32> = REGION.collect();
        let params = LabelNoiseParams {
            max_examined: 40,
            max_baseline: 60,
            max_reference: 1_000,
            min_suspects: 5,
            ..LabelNoiseParams::default()
        };
        let a = run(&p, &members, true, &params);
        assert!(a.flagged, "{a:?}");
        assert_eq!(a.examined_errors, 40);
        // The baseline is the part of a 60-error sample over all rows that
        // lies outside the slice.
        assert!(a.baseline_examined > 0 && a.baseline_examined < 60, "{a:?}");
        assert!(a.errors > 40);
        assert_eq!(
            a.suspects,
            (a.suspect_share * a.errors as f64).round() as u64
        );
        assert!(a.evidence.contains("sampled"), "{}", a.evidence);
        let b = run(&p, &members, true, &params);
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| run(&p, &members, true, &params));
        assert_eq!(a, c);
        // The full-size search too (several work items).
        let full: Vec<u32> = (0..3550).step_by(2).collect();
        let d = run(&p, &full, true, &LabelNoiseParams::default());
        let e = pool.install(|| run(&p, &full, true, &LabelNoiseParams::default()));
        assert_eq!(d, e);
    }

    #[test]
    fn checked_confidence_is_shared_and_checked_against_the_table() {
        let p = planted(5, (0.85, 0.99));
        let lp = LabelNoiseParams::default();
        let members: Vec<u32> = REGION.collect();
        let cache = NeighbourCache::new(&p.view, &p.classes, &lp, 1).unwrap();
        let checked = CheckedConfidence::new(&p.classes, &p.conf).unwrap();
        assert_eq!(checked.thresholds(), class_thresholds(&p.classes, &p.conf));
        // Shared across slices, it gives what a slice's own check gives.
        let cached = label_noise_cached(
            &p.view,
            Some(&p.classes),
            Some(&checked),
            &members,
            &lp,
            1,
            &cache,
        )
        .unwrap();
        let own = label_noise(&p.view, Some(&p.classes), Some(&p.conf), &members, &lp, 1).unwrap();
        assert_eq!(cached, own);
        assert!(cached.is_some_and(|r| r.flagged));
        // Checked for other rows, it is refused rather than misread.
        let fewer = Classes {
            names: p.classes.names.clone(),
            label: p.classes.label[..100].to_vec(),
            pred: p.classes.pred[..100].to_vec(),
        };
        let conf = Confidence {
            predicted: p.conf.predicted[..100].to_vec(),
            given: p.conf.given[..100].to_vec(),
        };
        let other = CheckedConfidence::new(&fewer, &conf).unwrap();
        let e = label_noise_cached(
            &p.view,
            Some(&p.classes),
            Some(&other),
            &members,
            &lp,
            1,
            &cache,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("checked for 100 rows and 3 classes, not 3550 rows"),
            "{e}"
        );
    }

    #[test]
    fn label_noise_none_and_errors() {
        let p = planted(5, (0.85, 0.99));
        let lp = LabelNoiseParams::default();
        let members: Vec<u32> = REGION.collect();
        let none = label_noise(&p.view, None, None, &members, &lp, 1).unwrap();
        assert!(none.is_none());
        // A slice of correctly predicted rows has nothing to examine.
        let right: Vec<u32> = (0..3000u32)
            .filter(|&i| p.classes.label[i as usize] == p.classes.pred[i as usize])
            .take(50)
            .collect();
        let none = label_noise(&p.view, Some(&p.classes), None, &right, &lp, 1).unwrap();
        assert!(none.is_none());
        let empty = label_noise(&p.view, Some(&p.classes), None, &[], &lp, 1).unwrap();
        assert!(empty.is_none());

        let err = |r: Result<Option<LabelNoise>>| r.unwrap_err().to_string();
        let e = err(label_noise(
            &p.view,
            Some(&p.classes),
            None,
            &[5, 3],
            &lp,
            1,
        ));
        assert!(e.contains("strictly ascending"), "{e}");
        let e = err(label_noise(
            &p.view,
            Some(&p.classes),
            None,
            &[3550],
            &lp,
            1,
        ));
        assert!(e.contains("out of range"), "{e}");
        let e = err(label_noise(
            &p.view,
            Some(&p.classes),
            Some(&Confidence {
                predicted: p.conf.predicted[..10].to_vec(),
                given: p.conf.given.clone(),
            }),
            &members,
            &lp,
            1,
        ));
        assert!(
            e.contains("10 predicted-class confidences for 3550 rows"),
            "{e}"
        );
        let mut conf = p.conf.clone();
        conf.given[7] = f64::NAN;
        let e = err(label_noise(
            &p.view,
            Some(&p.classes),
            Some(&conf),
            &members,
            &lp,
            1,
        ));
        assert!(e.contains("row 7: given-label confidence NaN"), "{e}");
        let mut classes = p.classes.clone();
        classes.label[11] = 3;
        let e = err(label_noise(&p.view, Some(&classes), None, &members, &lp, 1));
        assert!(e.contains("row 11") && e.contains("3 classes"), "{e}");
        classes.label.pop();
        let e = err(label_noise(&p.view, Some(&classes), None, &members, &lp, 1));
        assert!(e.contains("3549 labels but 3550 predictions"), "{e}");
        let mut short = p.view.clone();
        short.data.truncate(100);
        let e = err(label_noise(
            &short,
            Some(&p.classes),
            None,
            &members,
            &lp,
            1,
        ));
        assert!(e.contains("shape mismatch"), "{e}");
        let mut bad = p.view.clone();
        bad.data[3005 * 4 + 2] = f32::INFINITY;
        let e = err(label_noise(&bad, Some(&p.classes), None, &members, &lp, 1));
        assert!(e.contains("row 3005"), "{e}");
        for params in [
            LabelNoiseParams { k: 0, ..lp.clone() },
            LabelNoiseParams {
                max_reference: 10,
                ..lp.clone()
            },
            LabelNoiseParams {
                min_share: 1.5,
                ..lp.clone()
            },
            LabelNoiseParams {
                min_ratio: f64::NAN,
                ..lp.clone()
            },
            LabelNoiseParams {
                max_examined: 0,
                ..lp.clone()
            },
        ] {
            let e = err(label_noise(
                &p.view,
                Some(&p.classes),
                None,
                &members,
                &params,
                1,
            ));
            assert!(
                e.contains("invalid parameter 'diagnose.label_noise."),
                "{e}"
            );
        }
    }

    #[test]
    fn neighbours_match_brute_force_across_blocks() {
        let (n, d, k) = (9_000usize, 5usize, 7usize);
        let mut rng = Rng::new(3);
        let data: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let view = view_of(data, d);
        let queries = sample_indices(n, 300, &mut rng);
        for pool in [
            (0..n as u32).collect::<Vec<_>>(),
            (0..n as u32).step_by(2).collect(),
        ] {
            let got = nearest_neighbours(&view, &queries, &pool, k).unwrap();
            assert_eq!(got.len(), queries.len());
            for (&q, nb) in queries.iter().zip(&got) {
                let dist = |r: u32| -> f64 {
                    view.row(q as usize)
                        .iter()
                        .zip(view.row(r as usize))
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum()
                };
                let mut all: Vec<f64> =
                    pool.iter().filter(|&&r| r != q).map(|&r| dist(r)).collect();
                all.sort_by(f64::total_cmp);
                assert_eq!(nb.len(), k);
                assert!(!nb.contains(&q));
                let mine: Vec<f64> = nb.iter().map(|&r| dist(r)).collect();
                for (a, b) in mine.iter().zip(&all[..k]) {
                    assert!(
                        (a - b).abs() < 1e-3,
                        "query {q}: {mine:?} vs {:?}",
                        &all[..k]
                    );
                }
            }
        }
    }

    #[test]
    fn floyd_sampling_is_uniform_distinct_and_sorted() {
        let mut rng = Rng::new(8);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            let s = sample_indices(10, 3, &mut rng);
            assert_eq!(s.len(), 3);
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            for i in s {
                counts[i as usize] += 1;
            }
        }
        // Each index is chosen with probability 0.3: 6,000 expected.
        assert!(
            counts.iter().all(|&c| (5_700..6_300).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(sample_indices(4, 9, &mut rng), vec![0, 1, 2, 3]);
    }

    #[test]
    fn class_thresholds_are_the_mean_probability_of_each_given_label() {
        // Confident learning's threshold of class c averages p̂(c | x) over
        // the rows labelled c, the misclassified ones included: row 1
        // (labelled 0, predicted 1) pulls class 0's threshold down to 0.55,
        // where the rows predicted 0 would average (0.9 + 0.5 + 0.7) / 3.
        let classes = Classes {
            names: names(4),
            label: vec![0, 0, 1, 1, 2],
            pred: vec![0, 1, 1, 0, 0],
        };
        let conf = Confidence {
            predicted: vec![0.9, 0.6, 0.8, 0.5, 0.7],
            given: vec![0.9, 0.2, 0.8, 0.4, 0.1],
        };
        let t = class_thresholds(&classes, &conf);
        assert!((t[0] - 0.55).abs() < 1e-12, "{t:?}");
        assert!((t[1] - 0.6).abs() < 1e-12, "{t:?}");
        assert!((t[2] - 0.1).abs() < 1e-12, "{t:?}");
        // No row is labelled 3: no prediction of it can be confident.
        assert!(t[3].is_nan());
    }

    // -- shortcuts ---------------------------------------------------------

    fn attr(name: &str, codes: Vec<u32>, levels: Vec<Value>) -> Attribute {
        Attribute {
            name: name.into(),
            codes,
            levels: levels
                .into_iter()
                .map(|value| Predicate::Eq {
                    column: name.into(),
                    value,
                })
                .collect(),
        }
    }

    /// Binary task where the prediction follows `bg` 85% of the time and
    /// the label is independent of it; `noise` is independent of all.
    fn shortcut_data(n: usize, seed: u64) -> (Encoded, Classes) {
        let mut rng = Rng::new(seed);
        let (mut bg, mut noise, mut label, mut pred) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let b = rng.below(2) as u32;
            let y = rng.below(2) as u32;
            bg.push(b);
            noise.push(rng.below(5) as u32);
            label.push(y);
            pred.push(if rng.uniform() < 0.85 { b } else { y });
        }
        let enc = Encoded {
            attributes: vec![
                attr("noise", noise, (0..5).map(Value::Int).collect()),
                attr(
                    "bg",
                    bg,
                    vec![Value::Str("land".into()), Value::Str("water".into())],
                ),
            ],
            notes: vec![],
        };
        let classes = Classes {
            names: vec!["neg".into(), "pos".into()],
            label,
            pred,
        };
        (enc, classes)
    }

    fn positives(classes: &Classes) -> Vec<u32> {
        (0..classes.label.len() as u32)
            .filter(|&i| classes.label[i as usize] == 1)
            .collect()
    }

    #[test]
    fn attribute_driving_only_the_prediction_is_a_shortcut() {
        let (enc, classes) = shortcut_data(4_000, 1);
        let members = positives(&classes);
        let p = ShortcutParams::default();
        let found = shortcuts(&enc, Some(&classes), &members, None, &p).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!(s.attribute, "bg");
        assert!(
            s.assoc_pred_global > 0.7 && s.assoc_label_global < 0.05,
            "{s:?}"
        );
        // The slice is a whole class, so its neighbourhood is every row.
        assert!(s.assoc_pred_slice > 0.7, "{s:?}");
        assert!(s.assoc_label_slice < 0.05, "{s:?}");
        // Land rows are mostly predicted 'neg' but labelled so only half of
        // the time: that is where bg pulls the prediction.
        assert_eq!(s.level_text, "bg = land");
        assert_eq!(s.level, enc.attributes[1].levels[0]);
        assert_eq!(s.class, "neg");
        assert!(s.evidence.starts_with("bg: Cramér's V"), "{}", s.evidence);
        assert!(
            s.evidence.contains("bg = land are predicted 'neg' 9")
                && s.evidence.contains("labelled so 5"),
            "{}",
            s.evidence
        );
        assert!(s.strength() > 0.6);

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let again = pool.install(|| shortcuts(&enc, Some(&classes), &members, None, &p).unwrap());
        assert_eq!(found, again);
        assert!(shortcuts(&enc, None, &members, None, &p)
            .unwrap()
            .is_empty());
        // Too few rows in the slice.
        let few = &members[..20];
        assert!(shortcuts(&enc, Some(&classes), few, None, &p)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn attribute_driving_label_and_prediction_alike_is_not_a_shortcut() {
        let mut rng = Rng::new(2);
        let n = 4_000;
        let (mut kind, mut batch, mut label, mut pred) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let k = rng.below(2) as u32;
            kind.push(k);
            batch.push(rng.below(2) as u32);
            label.push(if rng.uniform() < 0.9 { k } else { 1 - k });
            pred.push(if rng.uniform() < 0.9 { k } else { 1 - k });
        }
        let classes = Classes {
            names: vec!["a".into(), "b".into()],
            label,
            pred,
        };
        let members: Vec<u32> = (0..n as u32).filter(|&i| batch[i as usize] == 0).collect();
        let (tp, tl) = tables(&kind, 2, &classes, 0..n, None);
        let vp = cramers_v(&tp, 2, 2, true).unwrap();
        let vl = cramers_v(&tl, 2, 2, true).unwrap();
        assert!(vp > 0.55 && vl > 0.55, "{vp} {vl}");
        let enc = Encoded {
            attributes: vec![attr("kind", kind, vec![Value::Int(0), Value::Int(1)])],
            notes: vec![],
        };
        let found = shortcuts(
            &enc,
            Some(&classes),
            &members,
            None,
            &ShortcutParams::default(),
        )
        .unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn frequency_weights_equal_duplicated_rows() {
        let (enc, classes) = shortcut_data(1_500, 3);
        let members = positives(&classes);
        let p = ShortcutParams::default();
        let w = vec![2.0; 1_500];
        let weighted = shortcuts(&enc, Some(&classes), &members, Some(&w), &p).unwrap();
        let dup = |v: &[u32]| v.iter().flat_map(|&x| [x, x]).collect::<Vec<u32>>();
        let enc2 = Encoded {
            attributes: enc
                .attributes
                .iter()
                .map(|a| Attribute {
                    codes: dup(&a.codes),
                    ..a.clone()
                })
                .collect(),
            notes: vec![],
        };
        let classes2 = Classes {
            names: classes.names.clone(),
            label: dup(&classes.label),
            pred: dup(&classes.pred),
        };
        let members2: Vec<u32> = members.iter().flat_map(|&i| [2 * i, 2 * i + 1]).collect();
        let doubled = shortcuts(&enc2, Some(&classes2), &members2, None, &p).unwrap();
        assert_eq!(weighted.len(), 1);
        assert_eq!(doubled.len(), 1);
        let (a, b) = (&weighted[0], &doubled[0]);
        for (x, y) in [
            (a.assoc_pred_global, b.assoc_pred_global),
            (a.assoc_label_global, b.assoc_label_global),
            (a.assoc_pred_slice, b.assoc_pred_slice),
            (a.assoc_label_slice, b.assoc_label_slice),
        ] {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // Weights change the bias correction: unit weights differ from 2.
        let unit = shortcuts(&enc, Some(&classes), &members, None, &p).unwrap();
        assert_ne!(unit[0].assoc_pred_global, a.assoc_pred_global);
    }

    #[test]
    fn shortcut_signal_tests_a_boolean_signal() {
        let (enc, classes) = shortcut_data(4_000, 4);
        let members = positives(&classes);
        let p = ShortcutParams::default();
        let name = "phrase 'water' scores high";
        let s = shortcut_signal(
            name,
            &enc.attributes[1].codes,
            2,
            Some(&classes),
            &members,
            None,
            &p,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.attribute, name);
        match &s.level {
            Predicate::Eq {
                column,
                value: Value::Bool(_),
            } => assert_eq!(column, name),
            other => panic!("{other:?}"),
        }
        let none = shortcut_signal(
            "noise",
            &enc.attributes[0].codes,
            5,
            Some(&classes),
            &members,
            None,
            &p,
        )
        .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn shortcut_input_errors() {
        let (enc, classes) = shortcut_data(200, 5);
        let p = ShortcutParams::default();
        let members = positives(&classes);
        let e = |r: Result<Option<Shortcut>>| r.unwrap_err().to_string();
        let codes = &enc.attributes[1].codes;
        let s = e(shortcut_signal(
            "x",
            &codes[..10],
            2,
            Some(&classes),
            &members,
            None,
            &p,
        ));
        assert!(s.contains("'x' has 10 values for 200 rows"), "{s}");
        let s = e(shortcut_signal(
            "x",
            codes,
            1,
            Some(&classes),
            &members,
            None,
            &p,
        ));
        assert!(s.contains("level 1 but only 1 levels"), "{s}");
        let mut w = vec![1.0; 200];
        w[3] = -1.0;
        let s = e(shortcut_signal(
            "x",
            codes,
            2,
            Some(&classes),
            &members,
            Some(&w),
            &p,
        ));
        assert!(s.contains("row 3: weight -1"), "{s}");
        let s = e(shortcut_signal(
            "x",
            codes,
            2,
            Some(&classes),
            &[9, 9],
            None,
            &p,
        ));
        assert!(s.contains("strictly ascending"), "{s}");
        let s = e(shortcut_signal(
            "x",
            codes,
            1 << 24,
            Some(&classes),
            &members,
            None,
            &p,
        ));
        assert!(s.contains("table cells"), "{s}");
        let bad = ShortcutParams {
            min_ratio: 0.5,
            ..p.clone()
        };
        let s = e(shortcut_signal(
            "x",
            codes,
            2,
            Some(&classes),
            &members,
            None,
            &bad,
        ));
        assert!(s.contains("diagnose.shortcut.min_ratio"), "{s}");
        let mut enc2 = enc.clone();
        enc2.attributes[0].codes[4] = 9;
        let s = shortcuts(&enc2, Some(&classes), &members, None, &p)
            .unwrap_err()
            .to_string();
        assert!(s.contains("'noise' row 4: level 9"), "{s}");
    }

    #[test]
    fn cramers_v_matches_hand_computed_tables() {
        // 2×2: V = |ad − bc| / √(r₁r₂c₁c₂) = 200 / √5,040,000.
        let t = [10.0, 20.0, 30.0, 40.0];
        let v = cramers_v(&t, 2, 2, false).unwrap();
        assert!((v - 200.0 / 5_040_000f64.sqrt()).abs() < 1e-12, "{v}");
        assert!((v - 0.089_087_080_637_474_8).abs() < 1e-12);
        // φ² = 0.0079 is below the bias (1·1)/99: corrected V is 0.
        assert_eq!(cramers_v(&t, 2, 2, true).unwrap(), 0.0);

        // 2×3: χ² = 60 on N = 80, min(r−1, c−1) = 1 → V = √0.75.
        let t = [30.0, 10.0, 0.0, 0.0, 10.0, 30.0];
        let v = cramers_v(&t, 2, 3, false).unwrap();
        assert!((v - 0.75f64.sqrt()).abs() < 1e-12, "{v}");
        // φ̃² = 0.75 − 2/79, r̃ − 1 = 1 − 1/79, c̃ − 1 = 2 − 4/79.
        let want = ((0.75f64 - 2.0 / 79.0) / (1.0 - 1.0 / 79.0)).sqrt();
        let v = cramers_v(&t, 2, 3, true).unwrap();
        assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        assert!((v - 0.856_723_035_160_348_1).abs() < 1e-12);

        // 3×3, checked against an independent computation.
        let t = [12.0, 5.0, 3.0, 4.0, 15.0, 6.0, 2.0, 3.0, 20.0];
        assert!((cramers_v(&t, 3, 3, false).unwrap() - 0.511_197_292_634_981_3).abs() < 1e-12);
        assert!((cramers_v(&t, 3, 3, true).unwrap() - 0.489_154_988_224_302_76).abs() < 1e-12);

        // Empty rows and columns do not count; a constant variable gives 0;
        // a determined one gives 1.
        let padded = [
            30.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 30.0, 0.0,
        ];
        let v = cramers_v(&padded, 3, 4, false).unwrap();
        assert!((v - 0.75f64.sqrt()).abs() < 1e-12, "{v}");
        assert_eq!(cramers_v(&[5.0, 0.0, 7.0, 0.0], 2, 2, false).unwrap(), 0.0);
        assert!((cramers_v(&[5.0, 0.0, 0.0, 7.0], 2, 2, false).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(cramers_v(&[0.0; 4], 2, 2, true).unwrap(), 0.0);

        assert!(cramers_v(&t, 2, 2, false).is_err());
        assert!(cramers_v(&[1.0, -1.0, 1.0, 1.0], 2, 2, false).is_err());
        assert!(cramers_v(&[1.0, f64::NAN, 1.0, 1.0], 2, 2, false).is_err());
    }

    // -- coverage ----------------------------------------------------------

    #[test]
    fn coverage_of_rates_matches_hand_computed_wilson_widths() {
        // Wilson at p = 0.2, n = 100, z = 1.96: width 0.155462...
        let c = coverage(100.0, 20.0, None, true, 0.2, Z95).unwrap();
        assert!(!c.flagged);
        assert!(
            (c.ci_width - 0.155_462_232_262_126_4).abs() < 1e-12,
            "{}",
            c.ci_width
        );
        assert_eq!(c.more_samples_needed, 0);
        assert!(
            c.evidence
                .contains("95% interval of the error rate is 0.155 wide"),
            "{}",
            c.evidence
        );
        // Target 0.1: the width reaches it at n = 244.15 (the root of
        // T²(n + z²)² = 4z²(p(1−p)n + z²/4)), so 145 more rows.
        let c = coverage(100.0, 20.0, None, true, 0.1, Z95).unwrap();
        assert!(c.flagged);
        assert_eq!(c.more_samples_needed, 145);
        assert_eq!(c.target_width, 0.1);
        assert!(c.evidence.contains("about 145 more"), "{}", c.evidence);
        // No errors: the width is z² / (n + z²).
        let c = coverage(50.0, 0.0, None, true, 0.2, Z95).unwrap();
        assert!((c.ci_width - Z95 * Z95 / (50.0 + Z95 * Z95)).abs() < 1e-12);
    }

    #[test]
    fn coverage_of_a_loss_uses_the_t_interval() {
        // n = 10, variance 4: 2 · t₉(0.975) · √0.4 with t₉(0.975) = 2.262157.
        let c = coverage(10.0, 7.0, Some(4.0), false, 1.0, Z95).unwrap();
        assert!(
            (c.ci_width - 2.0 * 2.262_157_162_8 * 0.4f64.sqrt()).abs() < 1e-6,
            "{}",
            c.ci_width
        );
        assert!(c.flagged);
        // Independent computation: the width first reaches 1 at n = 64.
        assert_eq!(c.more_samples_needed, 54);
        assert!(c.evidence.contains("mean loss"), "{}", c.evidence);
        let c = coverage(10.0, 7.0, Some(0.0), false, 1.0, Z95).unwrap();
        assert!(!c.flagged && c.ci_width == 0.0);
    }

    #[test]
    fn more_samples_is_minimal_and_monotone_in_the_target() {
        let mut last = u64::MAX;
        for i in 1..=40 {
            let target = 0.01 * i as f64;
            let c = coverage(37.0, 9.0, None, true, target, Z95).unwrap();
            assert!(c.more_samples_needed <= last, "target {target}");
            last = c.more_samples_needed;
            let width = |n: f64| {
                let (lo, hi) = wilson(9.0 / 37.0 * n, n, Z95);
                hi - lo
            };
            let m = c.more_samples_needed as f64;
            assert!(width(37.0 + m) <= target);
            if c.more_samples_needed > 0 {
                assert!(width(37.0 + m - 1.0) > target);
            } else {
                assert!(!c.flagged);
            }
        }
        assert_eq!(last, 0);
        // A loss: same properties.
        let mut last = u64::MAX;
        for target in [0.05, 0.1, 0.2, 0.5, 1.0, 3.0] {
            let c = coverage(12.5, 3.0, Some(0.8), false, target, Z95).unwrap();
            assert!(c.more_samples_needed <= last);
            last = c.more_samples_needed;
        }
        // Out of reach.
        let c = coverage(10.0, 5.0, None, true, 1e-12, Z95).unwrap();
        assert_eq!(c.more_samples_needed, u64::MAX);
        assert!(c.evidence.contains("no realistic number"), "{}", c.evidence);
    }

    #[test]
    fn coverage_input_errors() {
        let e = |r: Result<Coverage>| r.unwrap_err().to_string();
        assert!(e(coverage(0.0, 0.0, None, true, 0.2, Z95)).contains("positive number of rows"));
        assert!(e(coverage(f64::NAN, 0.0, None, true, 0.2, Z95)).contains("positive number"));
        assert!(e(coverage(10.0, -1.0, None, true, 0.2, Z95)).contains("error total"));
        assert!(e(coverage(10.0, 11.0, None, true, 0.2, Z95)).contains("11 errors in 10 rows"));
        assert!(e(coverage(10.0, 1.0, None, false, 0.2, Z95)).contains("variance"));
        assert!(e(coverage(10.0, 1.0, Some(-1.0), false, 0.2, Z95)).contains("variance"));
        assert!(e(coverage(10.0, 1.0, None, true, 0.0, Z95)).contains("target_width"));
        assert!(e(coverage(10.0, 1.0, None, true, 0.2, 9.0)).contains("diagnose.coverage.z"));
    }

    #[test]
    fn params_load_from_toml_strictly() {
        let p: DiagnoseParams =
            toml::from_str("[label_noise]\nk = 5\n[coverage]\ntarget_width = 0.1\n").unwrap();
        assert_eq!(p.label_noise.k, 5);
        assert_eq!(
            p.label_noise.max_examined,
            LabelNoiseParams::default().max_examined
        );
        assert_eq!(p.coverage.target_width, 0.1);
        p.validate().unwrap();
        assert!(toml::from_str::<DiagnoseParams>("[shortcut]\nmin_gapp = 0.2\n").is_err());
    }

    #[test]
    fn results_are_send_sync_and_round_trip_through_json() {
        fn ok<T: Send + Sync>() {}
        ok::<LabelNoise>();
        ok::<Shortcut>();
        ok::<Coverage>();
        let c = coverage(100.0, 20.0, None, true, 0.1, Z95).unwrap();
        let back: Coverage = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(c, back);
        // A flagged pair round-trips; a result of schema 2.1 (no `view`,
        // no `pair`) still reads.
        let p = planted(1, (0.85, 0.99));
        let members: Vec<u32> = REGION.collect();
        let r = run(&p, &members, false, &LabelNoiseParams::default());
        assert!(r.pair.is_some());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            serde_json::from_value::<LabelNoise>(json.clone()).unwrap(),
            r
        );
        let mut old = json;
        let obj = old.as_object_mut().unwrap();
        obj.remove("view");
        obj.remove("pair");
        let read: LabelNoise = serde_json::from_value(old).unwrap();
        assert_eq!((read.view.as_str(), read.pair), ("", None));
    }

    /// Cost at scale: `cargo test -p slicescope-core --lib diagnose --
    /// --ignored --nocapture timing`. Prints times; asserts nothing about
    /// them.
    #[test]
    #[ignore = "timing run at 1M rows: prints seconds, asserts nothing about them"]
    fn timing_at_one_million_rows() {
        let (n, d) = (1_000_000usize, 128usize);
        let mut rng = Rng::new(1);
        let t0 = std::time::Instant::now();
        let data: Vec<f32> = (0..n * d).map(|_| rng.uniform() as f32 - 0.5).collect();
        let view = view_of(data, d);
        let label: Vec<u32> = (0..n).map(|_| rng.below(10) as u32).collect();
        let pred: Vec<u32> = label
            .iter()
            .map(|&y| {
                if rng.uniform() < 0.8 {
                    y
                } else {
                    rng.below(10) as u32
                }
            })
            .collect();
        let predicted: Vec<f64> = (0..n).map(|_| 0.3 + 0.7 * rng.uniform()).collect();
        let conf = Confidence {
            given: predicted.iter().map(|c| 1.0 - c).collect(),
            predicted,
        };
        let classes = Classes {
            names: names(10),
            label,
            pred,
        };
        let members: Vec<u32> = (0..n as u32).step_by(50).collect();
        println!("setup {:.2?}", t0.elapsed());
        for _ in 0..2 {
            let t = std::time::Instant::now();
            let r = label_noise(
                &view,
                Some(&classes),
                Some(&conf),
                &members,
                &LabelNoiseParams::default(),
                7,
            )
            .unwrap()
            .unwrap();
            println!(
                "label_noise: {:.3?} ({} examined + {} baseline, pool 50,000 × {d})",
                t.elapsed(),
                r.examined_errors,
                r.baseline_examined
            );
        }
        // The neighbour search alone, on as many queries and on one thread.
        let queries = sample_indices(n, 2_000, &mut rng);
        let pool = sample_indices(n, 50_000, &mut rng);
        let t = std::time::Instant::now();
        let nb = nearest_neighbours(&view, &queries, &pool, 10).unwrap();
        println!("neighbour search alone: {:.3?}", t.elapsed());
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let t = std::time::Instant::now();
        let nb1 = one.install(|| nearest_neighbours(&view, &queries, &pool, 10).unwrap());
        println!("neighbour search alone, one thread: {:.3?}", t.elapsed());
        assert_eq!(nb, nb1);
        // Of which the matrix products (same blocks, one thread, no scan).
        let (qx, px) = (
            gather(&view, &queries).unwrap(),
            gather(&view, &pool).unwrap(),
        );
        let mut buf = vec![0f32; POOL_BLOCK * QUERY_BLOCK];
        let t = std::time::Instant::now();
        for qc in qx.chunks(QUERY_BLOCK * d) {
            let nq = qc.len() / d;
            let qm = MatRef::from_row_major_slice(qc, nq, d);
            for pc in px.chunks(POOL_BLOCK * d) {
                let nb = pc.len() / d;
                matmul(
                    MatMut::from_column_major_slice_mut(&mut buf[..nb * nq], nb, nq),
                    Accum::Replace,
                    MatRef::from_row_major_slice(pc, nb, d),
                    qm.transpose(),
                    -2.0f32,
                    Par::Seq,
                );
            }
        }
        println!("of which matrix products, one thread: {:.3?}", t.elapsed());
        let enc = Encoded {
            attributes: (0..20)
                .map(|a| {
                    let codes: Vec<u32> = (0..n).map(|_| rng.below(10) as u32).collect();
                    attr(&format!("a{a}"), codes, (0..10).map(Value::Int).collect())
                })
                .collect(),
            notes: vec![],
        };
        let t = std::time::Instant::now();
        let s = shortcuts(
            &enc,
            Some(&classes),
            &members,
            None,
            &ShortcutParams::default(),
        )
        .unwrap();
        println!(
            "shortcuts over 20 attributes: {:.3?} ({} found)",
            t.elapsed(),
            s.len()
        );
    }
}
