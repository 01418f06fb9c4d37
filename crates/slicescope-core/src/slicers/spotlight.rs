//! The spotlight slicer (d'Eon, d'Eon, Wright and Leyton-Brown, "The
//! Spotlight: a general method for discovering systematic errors in deep
//! learning models", FAccT 2022): a kernel region of the embedding whose
//! kernel-weighted mean loss is as high as possible while it still holds at
//! least `size` rows.
//!
//! For a centre μ and a diagonal precision P = diag(p), row i gets the
//! kernel weight k_i = max(0, 1 − Σ_j p_j (z_ij − μ_j)²) (the official
//! code's latest kernel, with compact support) and Adam maximises
//!
//! F(μ, log p) = Σ_i w_i k_i ℓ_i / W − c · (W − (S + b_t))² / b_t² · [W < S + b_t]
//!
//! with W = Σ_i w_i k_i, ℓ the error signal, w the frequency weights, S the
//! minimum spotlight size, c = `barrier_scale`, and the barrier width b_t
//! shrinking geometrically from n − S to 0.05·S over the steps (the
//! paper's barrier). The gradient is analytic. With F₀ = Σ w k ℓ / W,
//! ∂F/∂k_i = w_i·((ℓ_i − F₀)/W − ∂barrier/∂W) =: a_i and t_ij = z_ij − μ_j,
//! rows inside the support give ∂F/∂μ_j = 2 p_j Σ_i a_i t_ij and
//! ∂F/∂log p_j = −p_j Σ_i a_i t_ij² (k is 0, with zero gradient, outside),
//! so a step costs one pass over the rows, O(n·d), plus O(support·d).
//!
//! Our choices beyond the paper, each for robustness or speed:
//! - **Coordinates and rate.** Each reduced dimension is divided by its
//!   standard deviation for the optimiser (a reparametrisation: a diagonal
//!   kernel there is a diagonal kernel in the view). `lr` is the length of
//!   an Adam step in these unit-scale coordinates: each of the d centre and
//!   d log-precision coordinates moves by about lr/√d, so the default suits
//!   16 and 128 dimensions alike (a fixed per-coordinate rate makes the
//!   kernel jump about in 128 dimensions). The losses are divided by their
//!   weighted mean, so F is a lift (1 = average) whatever the loss's units.
//! - **Size floor.** The barrier alone lets the kernel collapse onto a few
//!   high-loss rows while b_t is still wide, and a collapsed kernel has
//!   almost no gradient to grow back. So whenever W < S, all of p is first
//!   scaled by one factor (a projection onto W = S, at most doubling the
//!   radius per step), and the gradient is taken there.
//! - **Starts.** Instead of μ = 0, a pool of rows drawn with probability
//!   proportional to their (down-weighted) loss is scored by the mean loss
//!   of a spherical kernel (in the view's own geometry) covering about 2·S
//!   rows around each; the `n_starts` best that are not inside each
//!   other's starting kernels are optimised in full and the best final
//!   objective is kept.
//! - **Plateaus.** The paper's ResetOnPlateau, simplified: the rate halves
//!   after 20 steps in which the size constraint held (W ≥ S + b_t) and the
//!   mean loss did not improve; the counter then restarts.
//! - **Subsample.** The optimisation runs on a seeded random subsample of
//!   10,000 rows (more when S is small: about 200·n/S rows, at most
//!   100,000), with S scaled to it; membership, support and score are then
//!   computed on every row.
//!
//! Several spotlights are found in sequence: before spotlight j the losses
//! are down-weighted, ℓ ← ℓ·(1 − k/max k), by the kernel weights of each
//! earlier spotlight. A spotlight is dropped (fewer candidates) when its
//! support on all rows is smaller than S/2 or its mean loss is not above
//! the overall mean. The candidate's score is the kernel-weighted mean of
//! the original (not down-weighted) errors on all rows.
//!
//! In many dimensions the support (k > 0) of a good kernel often includes
//! a thin shell of rows with tiny weights; `member_threshold` > 0 keeps
//! only the core, while the membership (the kernel weight) ranks rows
//! either way.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Candidate, Definition, EmbeddingInput, EmbeddingSlicer};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Parameters of the spotlight slicer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpotlightParams {
    /// Spotlights to find, one after the other (default 5).
    pub n_spotlights: usize,
    /// Minimum spotlight size S on all rows: a number of rows (≥ 1) or a
    /// fraction of the rows (< 1); default 0.02 (per class: `class_size`).
    /// With frequency weights a row counts its weight relative to the mean
    /// weight. With S ≥ n there is nothing to find (no candidates).
    pub size: f64,
    /// Optimiser steps per start (default 500).
    pub steps: usize,
    /// Adam learning rate (default 0.05): the length of a step in optimiser
    /// coordinates (each reduced dimension scaled to unit standard
    /// deviation, and the log of the precision); each of the 2·d
    /// coordinates moves by about lr/√d per step.
    pub lr: f64,
    /// Weight c of the barrier that keeps the spotlight at least S rows
    /// large (default 1.0); the objective is a lift over the mean loss.
    pub barrier_scale: f64,
    /// Starts per spotlight, centred at different high-loss rows; the best
    /// final objective is kept (default 3).
    pub n_starts: usize,
    /// A row is a member when its kernel weight is at least this; the
    /// default 0.0 means any positive weight (the kernel's support, a
    /// bounded ellipsoid). Must be in [0, 1).
    pub member_threshold: f64,
    /// Classification: whether to search each label class's rows on their
    /// own (`n_spotlights` per class with at least 10 rows in error, S =
    /// `class_size`) and restrict each spotlight to its class, rather than
    /// search all rows. A failure confined to one label ("positive reviews
    /// about the director") mixes, on all rows, with the region's rows of
    /// the other labels, which the model may get right. Default
    /// [`PerClass::Auto`]: per class with two label classes.
    pub per_class: PerClass,
    /// Minimum spotlight size per label class: a number of rows (≥ 1) or a
    /// fraction of the class's rows (< 1); default 0.01.
    pub class_size: f64,
}

/// When the spotlight slicer searches each label class on its own
/// ([`SpotlightParams::per_class`]). In a configuration: `true`, `false`
/// or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PerClass {
    /// Per class when the label has at most [`AUTO_MAX_CLASSES`] classes
    /// (a binary task, whose errors are false positives and false
    /// negatives, different failures); all rows otherwise (the search's
    /// cost grows with the number of classes).
    #[default]
    Auto,
    /// Always per class (`true`).
    Always,
    /// Always on all rows (`false`).
    Never,
}

/// [`PerClass::Auto`] searches per class with at most this many classes.
pub const AUTO_MAX_CLASSES: usize = 2;

impl PerClass {
    /// Whether a label with `classes` classes is searched per class.
    pub fn applies(self, classes: usize) -> bool {
        match self {
            PerClass::Auto => classes <= AUTO_MAX_CLASSES,
            PerClass::Always => true,
            PerClass::Never => false,
        }
    }
}

impl Serialize for PerClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            PerClass::Auto => s.serialize_str("auto"),
            PerClass::Always => s.serialize_bool(true),
            PerClass::Never => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for PerClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("per_class must be true, false or \"auto\""))?
        {
            Raw::Flag(true) => Ok(PerClass::Always),
            Raw::Flag(false) => Ok(PerClass::Never),
            Raw::Word(w) if w == "auto" => Ok(PerClass::Auto),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "per_class must be true, false or \"auto\", got \"{w}\""
            ))),
        }
    }
}

impl Default for SpotlightParams {
    fn default() -> Self {
        SpotlightParams {
            n_spotlights: 5,
            size: 0.02,
            steps: 500,
            lr: 0.05,
            barrier_scale: 1.0,
            n_starts: 3,
            member_threshold: 0.0,
            per_class: PerClass::Auto,
            class_size: 0.01,
        }
    }
}

impl SpotlightParams {
    /// Check every parameter; the error names the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if self.n_spotlights == 0 {
            return Err(Error::param("spotlight.n_spotlights", "must be at least 1"));
        }
        if !(self.size.is_finite() && self.size > 0.0) {
            return Err(Error::param(
                "spotlight.size",
                format!(
                    "must be a number of rows ≥ 1 or a fraction in (0, 1), got {}",
                    self.size
                ),
            ));
        }
        if !(self.class_size.is_finite() && self.class_size > 0.0) {
            return Err(Error::param(
                "spotlight.class_size",
                format!(
                    "must be a number of rows ≥ 1 or a fraction in (0, 1) of a class's rows, got {}",
                    self.class_size
                ),
            ));
        }
        if self.steps == 0 {
            return Err(Error::param("spotlight.steps", "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::param(
                "spotlight.lr",
                format!("must be a positive number, got {}", self.lr),
            ));
        }
        if !(self.barrier_scale.is_finite() && self.barrier_scale > 0.0) {
            return Err(Error::param(
                "spotlight.barrier_scale",
                format!("must be a positive number, got {}", self.barrier_scale),
            ));
        }
        if self.n_starts == 0 {
            return Err(Error::param("spotlight.n_starts", "must be at least 1"));
        }
        if !(self.member_threshold >= 0.0 && self.member_threshold < 1.0) {
            return Err(Error::param(
                "spotlight.member_threshold",
                format!(
                    "must be in [0, 1) (0 = any positive kernel weight), got {}",
                    self.member_threshold
                ),
            ));
        }
        Ok(())
    }
}

/// The spotlight slicer: kernel regions of high loss in a view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpotlightSlicer {
    /// Its parameters.
    pub params: SpotlightParams,
}

impl SpotlightSlicer {
    /// A slicer with these parameters.
    pub fn new(params: SpotlightParams) -> Self {
        SpotlightSlicer { params }
    }

    /// The slicer that searches one label class's rows: S is `class_size`.
    fn per_class_slicer(&self) -> SpotlightSlicer {
        SpotlightSlicer::new(SpotlightParams {
            size: self.params.class_size,
            ..self.params.clone()
        })
    }
}

/// A candidate found on the rows `rows` of label class `class` (indices
/// into the `n` rows of the full input), restricted to that class: its
/// members and membership mapped back (kernel weight 0 outside the class).
fn in_class(mut c: Candidate, rows: &[u32], class: &str, n: usize) -> Candidate {
    let mut membership = vec![0.0f32; n];
    for (&i, &m) in rows.iter().zip(&c.membership) {
        membership[i as usize] = m;
    }
    c.membership = membership;
    c.members = c.members.iter().map(|&m| rows[m as usize]).collect();
    if let Definition::Kernel { class: cl, .. } = &mut c.definition {
        *cl = Some(class.to_string());
    }
    c.detail = format!("class '{class}': {}", c.detail);
    c
}

/// Per class, classes with fewer rows with an error than this are not
/// searched (the direction slicer's default `min_class_errors`).
const MIN_CLASS_ERRORS: usize = 10;
/// Rows per parallel work item; fixed so that sums are reduced in the same
/// order on any number of threads.
const CHUNK: usize = 2048;
/// Rows of the optimisation subsample when S is not small.
const OPT_ROWS: usize = 10_000;
/// Upper bound of the subsample however small S is.
const OPT_ROWS_MAX: usize = 100_000;
/// The subsample keeps about this · n / S rows, so that a spotlight of S
/// rows holds about this many subsampled rows.
const OPT_ROWS_PER_SPOTLIGHT: f64 = 200.0;
/// Steps without improvement before the learning rate halves.
const PATIENCE: usize = 20;
/// The barrier width ends at this fraction of S (the paper's default).
const BARRIER_END: f64 = 0.05;
/// A warm start (a refit from a found spotlight) takes this many times
/// fewer steps: it starts at a local optimum of nearly the same objective.
const WARM_STEPS_DIVISOR: usize = 4;
/// Bound on |log p| in optimiser coordinates.
const LOG_P_LIMIT: f64 = 40.0;

impl EmbeddingSlicer for SpotlightSlicer {
    fn name(&self) -> &'static str {
        "spotlight"
    }

    fn validate(&self) -> Result<()> {
        self.params.validate()
    }

    fn fit(&self, input: &EmbeddingInput<'_>) -> Result<Vec<Candidate>> {
        self.validate()?;
        check_input(input)?;
        clean_simd_state();
        let per_class = input
            .classes
            .filter(|c| self.params.per_class.applies(c.names.len()));
        match per_class {
            None => Ok(self.fit_rows(input)),
            Some(classes) => {
                let slicer = self.per_class_slicer();
                let mut out = Vec::new();
                for (k, (name, rows)) in classes
                    .names
                    .iter()
                    .zip(super::rows_by_class(classes))
                    .enumerate()
                {
                    // A class with few errors holds no failure worth a
                    // search (and many small classes would cost one search
                    // each).
                    let errors = rows
                        .iter()
                        .filter(|&&i| {
                            input.errors[i as usize] > 0.0
                                && input.weights.is_none_or(|w| w[i as usize] > 0.0)
                        })
                        .count();
                    if errors < MIN_CLASS_ERRORS {
                        continue;
                    }
                    let seed = Rng::new(input.seed)
                        .fork(0x0C1A_55E5)
                        .fork(k as u64)
                        .next_u64();
                    let sub = super::RowSubset::new(input, &rows);
                    let found = slicer.fit_rows(&sub.input(input.binary, seed));
                    out.extend(
                        found
                            .into_iter()
                            .map(|c| in_class(c, &rows, name, input.n_rows())),
                    );
                }
                Ok(out)
            }
        }
    }

    /// Start the optimiser at the kernel of `definition` (a slice this
    /// slicer found on other rows) and optimise on these rows, with the
    /// size barrier at its final width from the first step: the local
    /// optimum of the spotlight objective nearest the slice, whatever the
    /// starts would have been. Its losses are not down-weighted by other
    /// spotlights.
    fn refit(
        &self,
        input: &EmbeddingInput<'_>,
        definition: &Definition,
    ) -> Result<Option<Vec<Candidate>>> {
        let Definition::Kernel {
            center,
            precision,
            class,
            ..
        } = definition
        else {
            return Ok(None);
        };
        self.validate()?;
        check_input(input)?;
        let d = input.view.dim;
        if center.len() != d || precision.len() != d {
            return Err(Error::ShapeMismatch(format!(
                "the kernel has {} centre and {} precision values but view '{}' has {d} dimensions",
                center.len(),
                precision.len(),
                input.view.name
            )));
        }
        clean_simd_state();
        let Some(name) = class else {
            return Ok(Some(
                self.refit_rows(input, center, precision)
                    .into_iter()
                    .collect(),
            ));
        };
        // A spotlight of one label class: refitted on that class's rows.
        let Some(classes) = input.classes else {
            return Ok(Some(Vec::new()));
        };
        let Some(k) = classes.names.iter().position(|x| x == name) else {
            return Ok(Some(Vec::new()));
        };
        let rows: Vec<u32> = (0..input.n_rows() as u32)
            .filter(|&i| classes.label[i as usize] as usize == k)
            .collect();
        let sub = super::RowSubset::new(input, &rows);
        Ok(Some(
            self.per_class_slicer()
                .refit_rows(&sub.input(input.binary, input.seed), center, precision)
                .map(|c| in_class(c, &rows, name, input.n_rows()))
                .into_iter()
                .collect(),
        ))
    }
}

impl SpotlightSlicer {
    /// The refit of a kernel (in the view's coordinates) on all rows of
    /// `input`; see [`EmbeddingSlicer::refit`].
    fn refit_rows(
        &self,
        input: &EmbeddingInput<'_>,
        center: &[f32],
        precision: &[f32],
    ) -> Option<Candidate> {
        let p = &self.params;
        let d = input.view.dim;
        let su = Setup::new(input, p)?;
        let mu: Vec<f64> = (0..d)
            .map(|c| f64::from(center[c]) / su.pb.scale[c])
            .collect();
        let theta: Vec<f64> = (0..d)
            .map(|c| {
                let t = (f64::from(precision[c]) * su.pb.scale[c] * su.pb.scale[c]).ln();
                if t.is_nan() {
                    -LOG_P_LIMIT
                } else {
                    t.clamp(-LOG_P_LIMIT, LOG_P_LIMIT)
                }
            })
            .collect();
        let (mu, theta, _) = optimise(&su.pb, &su.loss, mu, theta, su.s_sub, p, true);
        self.finish(input, &su, &mu, &theta, "spotlight refitted from a slice")
    }
}

/// What every spotlight of one fit shares: the optimisation subsample and
/// its normalised losses, the size S on all rows and on the subsample.
struct Setup {
    rng: Rng,
    pb: Problem,
    /// Losses of the subsample divided by their weighted mean.
    loss: Vec<f64>,
    /// Overall weighted mean error on all rows.
    overall: f64,
    /// S in rows.
    s_rows: f64,
    /// S scaled to the subsample.
    s_sub: f64,
}

impl Setup {
    /// None when there is nothing to find: fewer than 2 rows, no loss, or
    /// S ≥ n.
    fn new(input: &EmbeddingInput<'_>, p: &SpotlightParams) -> Option<Setup> {
        let n = input.n_rows();
        if n < 2 {
            return None;
        }
        let weight = |i: usize| input.weights.map_or(1.0, |w| w[i]);
        let total_loss: f64 = (0..n).map(|i| weight(i) * input.errors[i]).sum();
        if total_loss <= 0.0 {
            return None;
        }
        let overall = total_loss / (0..n).map(weight).sum::<f64>();
        let s_rows = if p.size < 1.0 {
            p.size * n as f64
        } else {
            p.size
        }
        .max(1.0);
        if s_rows >= n as f64 {
            return None;
        }
        let rng = Rng::new(input.seed).fork(0x5907_11E7);
        let m = opt_rows(n, s_rows);
        let rows = subsample(n, m, &mut rng.fork(0));
        let pb = Problem::new(input, &rows)?;
        let mut loss: Vec<f64> = rows.iter().map(|&i| input.errors[i]).collect();
        let mean_loss = weighted_mean(&loss, &pb.w);
        if mean_loss <= 0.0 {
            return None;
        }
        loss.iter_mut().for_each(|l| *l /= mean_loss);
        let s_sub = s_rows * m as f64 / n as f64;
        Some(Setup {
            rng,
            pb,
            loss,
            overall,
            s_rows,
            s_sub,
        })
    }
}

impl SpotlightSlicer {
    /// Spotlights on all rows of `input`, one after the other.
    fn fit_rows(&self, input: &EmbeddingInput<'_>) -> Vec<Candidate> {
        let p = &self.params;
        let Some(mut su) = Setup::new(input, p) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for j in 0..p.n_spotlights {
            let mut srng = su.rng.fork(j as u64 + 1);
            let starts = choose_starts(&su.pb, &su.loss, su.s_sub, p.n_starts, &mut srng);
            if starts.is_empty() {
                break;
            }
            let mut best: Option<(Vec<f64>, Vec<f64>, f64)> = None;
            for (mu, theta) in starts {
                let (mu, theta, value) = optimise(&su.pb, &su.loss, mu, theta, su.s_sub, p, false);
                if best.as_ref().is_none_or(|b| value > b.2) {
                    best = Some((mu, theta, value));
                }
            }
            let Some((mu, theta, _)) = best else { break };

            // Down-weight the losses by this spotlight before the next one.
            let k_sub = su.pb.kernel(&mu, &theta);
            let k_max = k_sub.iter().copied().fold(0.0f64, f64::max);
            if k_max > 0.0 {
                for (l, k) in su.loss.iter_mut().zip(&k_sub) {
                    *l *= 1.0 - k / k_max;
                }
            }
            let label = format!("spotlight {} of {}", j + 1, p.n_spotlights);
            if let Some(c) = self.finish(input, &su, &mu, &theta, &label) {
                out.push(c);
            }
        }
        out
    }

    /// The candidate of an optimised kernel (μ, log p in optimiser
    /// coordinates) on every row; None when its support is under S/2 rows,
    /// it has no member, or its kernel-weighted error is not above the
    /// overall error.
    fn finish(
        &self,
        input: &EmbeddingInput<'_>,
        su: &Setup,
        mu: &[f64],
        theta: &[f64],
        label: &str,
    ) -> Option<Candidate> {
        let p = &self.params;
        let view = input.view;
        let d = view.dim;
        let weight = |i: usize| input.weights.map_or(1.0, |w| w[i]);
        // The spotlight in the view's coordinates, applied to every row.
        let center: Vec<f32> = (0..d).map(|c| (mu[c] * su.pb.scale[c]) as f32).collect();
        let precision: Vec<f32> = (0..d)
            .map(|c| (theta[c].exp() / (su.pb.scale[c] * su.pb.scale[c])) as f32)
            .collect();
        let membership = kernel_weights(&view.data, d, &center, &precision);
        let support = membership.iter().filter(|&&k| k > 0.0).count();
        if support == 0 || (support as f64) < su.s_rows / 2.0 {
            return None;
        }
        let threshold = if p.member_threshold > 0.0 {
            p.member_threshold as f32
        } else {
            f32::MIN_POSITIVE
        };
        let members: Vec<u32> = membership
            .iter()
            .enumerate()
            .filter(|(_, &k)| k >= threshold)
            .map(|(i, _)| i as u32)
            .collect();
        if members.is_empty() {
            return None;
        }
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &k) in membership.iter().enumerate() {
            if k > 0.0 {
                let wk = weight(i) * f64::from(k);
                num += wk * input.errors[i];
                den += wk;
            }
        }
        let score = if den > 0.0 { num / den } else { 0.0 };
        if score <= su.overall {
            // Not an error slice: the kernel's loss is not above average.
            return None;
        }
        Some(Candidate {
            slicer: "spotlight".into(),
            view: view.name.clone(),
            membership,
            members,
            definition: Definition::Kernel {
                center,
                precision,
                threshold,
                class: None,
            },
            score,
            detail: format!(
                "{label}, {} rows in the kernel's support",
                thousands(support)
            ),
        })
    }
}

/// Rows of the optimisation subsample for `n` rows and spotlight size `s`.
fn opt_rows(n: usize, s: f64) -> usize {
    let wanted = (OPT_ROWS_PER_SPOTLIGHT * n as f64 / s).ceil();
    let wanted = if wanted.is_finite() {
        (wanted as usize).min(OPT_ROWS_MAX)
    } else {
        OPT_ROWS_MAX
    };
    n.min(wanted.max(OPT_ROWS))
}

/// `m` distinct rows of `0..n`, ascending (all rows when m ≥ n).
fn subsample(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx.sort_unstable();
    idx
}

fn weighted_mean(x: &[f64], w: &[f64]) -> f64 {
    let (num, den) = x
        .iter()
        .zip(w)
        .fold((0.0, 0.0), |(a, b), (x, w)| (a + x * w, b + w));
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// The optimisation data: the subsample in unit-variance coordinates.
struct Problem {
    d: usize,
    /// Rows, row-major m × d, each dimension divided by `scale`.
    x: Vec<f32>,
    /// Frequency weights, mean 1 (so masses count rows).
    w: Vec<f64>,
    /// Standard deviation of each dimension in the subsample (1 for a
    /// constant dimension).
    scale: Vec<f64>,
}

impl Problem {
    /// None when every subsampled row has weight 0.
    fn new(input: &EmbeddingInput<'_>, rows: &[usize]) -> Option<Problem> {
        let view = input.view;
        let d = view.dim;
        let m = rows.len();
        let mut mean = vec![0.0f64; d];
        for &i in rows {
            for (a, &z) in mean.iter_mut().zip(view.row(i)) {
                *a += f64::from(z);
            }
        }
        mean.iter_mut().for_each(|a| *a /= m as f64);
        let mut var = vec![0.0f64; d];
        for &i in rows {
            for ((v, &z), mu) in var.iter_mut().zip(view.row(i)).zip(&mean) {
                let t = f64::from(z) - mu;
                *v += t * t;
            }
        }
        let scale: Vec<f64> = var
            .iter()
            .map(|v| {
                let s = (v / m as f64).sqrt();
                if s > 1e-12 && s.is_finite() {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        let inv: Vec<f64> = scale.iter().map(|s| 1.0 / s).collect();
        let mut x = Vec::with_capacity(m * d);
        for &i in rows {
            x.extend(
                view.row(i)
                    .iter()
                    .zip(&inv)
                    .map(|(&z, s)| (f64::from(z) * s) as f32),
            );
        }
        let mut w: Vec<f64> = rows
            .iter()
            .map(|&i| input.weights.map_or(1.0, |w| w[i]))
            .collect();
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let f = m as f64 / total;
        w.iter_mut().for_each(|x| *x *= f);
        Some(Problem { d, x, w, scale })
    }

    fn n_rows(&self) -> usize {
        self.w.len()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// Kernel weight of every subsampled row.
    fn kernel(&self, mu: &[f64], theta: &[f64]) -> Vec<f64> {
        let mu32: Vec<f32> = mu.iter().map(|&v| v as f32).collect();
        let p32: Vec<f32> = theta.iter().map(|&t| t.exp() as f32).collect();
        kernel_weights(&self.x, self.d, &mu32, &p32)
            .into_iter()
            .map(f64::from)
            .collect()
    }
}

/// Kernel weights max(0, 1 − Σ_j p_j (x_j − c_j)²) of the rows of `data`
/// (row-major, `d` columns).
pub(crate) fn kernel_weights(
    data: &[f32],
    d: usize,
    center: &[f32],
    precision: &[f32],
) -> Vec<f32> {
    let mut out = vec![0.0f32; data.len() / d.max(1)];
    if d == 0 {
        return out;
    }
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK * d))
        .for_each(|(o, block)| {
            clean_simd_state();
            for (k, row) in o.iter_mut().zip(block.chunks_exact(d)) {
                let q = sq_dist(row, center, precision, 1.0);
                *k = if q < 1.0 { 1.0 - q } else { 0.0 };
            }
        });
    out
}

/// Σ_j p_j (x_j − μ_j)²; returns early, with a partial sum ≥ `bound`,
/// once the sum reaches `bound` (checked every 64 dimensions; such a row
/// is outside the kernel's reach). Sixteen lanes so that it vectorises.
#[inline]
fn sq_dist(x: &[f32], mu: &[f32], p: &[f32], bound: f32) -> f32 {
    const LANES: usize = 16;
    const CHECK: usize = 64;
    let mut acc = [0.0f32; LANES];
    let mut tail = 0.0f32;
    let d = x.len();
    let mut start = 0;
    while start < d {
        let end = (start + CHECK).min(d);
        let full = start + (end - start) / LANES * LANES;
        for ((xc, mc), pc) in x[start..full]
            .chunks_exact(LANES)
            .zip(mu[start..full].chunks_exact(LANES))
            .zip(p[start..full].chunks_exact(LANES))
        {
            for l in 0..LANES {
                let t = xc[l] - mc[l];
                acc[l] += pc[l] * t * t;
            }
        }
        for j in full..end {
            let t = x[j] - mu[j];
            tail += p[j] * t * t;
        }
        start = end;
        let partial = acc.iter().sum::<f32>() + tail;
        if partial >= bound || start == d {
            return partial;
        }
    }
    0.0
}

/// The barrier at one step: penalty c·(W − target)²/b² when W < target.
#[derive(Debug, Clone, Copy)]
struct Barrier {
    target: f64,
    width: f64,
    scale: f64,
}

impl Barrier {
    fn at(s: f64, width: f64, scale: f64) -> Self {
        Barrier {
            target: s + width,
            width,
            scale,
        }
    }

    /// (penalty, d penalty / dW).
    fn penalty(&self, mass: f64) -> (f64, f64) {
        if mass < self.target {
            let gap = mass - self.target;
            let b2 = self.width * self.width;
            (self.scale * gap * gap / b2, 2.0 * self.scale * gap / b2)
        } else {
            (0.0, 0.0)
        }
    }
}

/// The objective at one point.
#[derive(Debug, Clone)]
struct Eval {
    /// Objective with the barrier.
    value: f64,
    /// Weighted mean loss in the kernel (the objective without barrier).
    mean: f64,
    /// Whether the barrier is active (W < S + b).
    penalised: bool,
    /// Rows in the kernel's support.
    active: usize,
    /// log λ of the projection (0 when none): add it to every θ_j.
    shift: f64,
    /// ∂value/∂μ (empty without gradient).
    grad_mu: Vec<f64>,
    /// ∂value/∂log p (empty without gradient).
    grad_theta: Vec<f64>,
}

/// How far `evaluate` computes q exactly when it may project: the kernel
/// can widen by up to this factor in q (2× in radius) per step.
const Q_REACH: f32 = 4.0;

/// Objective (and optionally its gradient) at (μ, θ = log p).
///
/// With `floor`, a kernel whose mass W is below the floor is first widened
/// (all of p scaled by one factor λ < 1, at most 1/`Q_REACH`) until W
/// reaches it: a projection onto the size constraint W ≥ S, so the kernel
/// cannot collapse onto a few high-loss rows, where its gradient would
/// vanish. The objective and gradient are those at the projected point;
/// `Eval::shift` = log λ is to be added to every θ_j.
///
/// Three passes: q for every row (parallel, O(m·d)), λ from the rows
/// within reach, then the gradient over the kernel's support (parallel,
/// O(support·d)); chunk sums are reduced in chunk order.
fn evaluate(
    pb: &Problem,
    loss: &[f64],
    mu: &[f64],
    theta: &[f64],
    barrier: Barrier,
    floor: Option<f64>,
    with_grad: bool,
) -> Eval {
    let d = pb.d;
    let m = pb.n_rows();
    let mu32: Vec<f32> = mu.iter().map(|&v| v as f32).collect();
    let p64: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
    let p32: Vec<f32> = p64.iter().map(|&v| v as f32).collect();
    let reach = if floor.is_some() { Q_REACH } else { 1.0 };
    // q per row, exact below `reach` (a partial sum ≥ reach above).
    let mut q = vec![0.0f32; m];
    q.par_chunks_mut(CHUNK)
        .zip(pb.x.par_chunks(CHUNK * d))
        .for_each(|(qc, block)| {
            clean_simd_state();
            for (qi, row) in qc.iter_mut().zip(block.chunks_exact(d)) {
                *qi = sq_dist(row, &mu32, &p32, reach);
            }
        });

    // Rows within reach: (row, q).
    let near: Vec<(usize, f64)> = q
        .iter()
        .enumerate()
        .filter(|(_, &q)| q < reach)
        .map(|(i, &q)| (i, f64::from(q)))
        .collect();
    let mut lambda = 1.0f64;
    if let Some(floor) = floor {
        // W(λ) = Σ_{λq<1} w (1 − λq) is convex and decreasing in λ:
        // Newton from the feasible (wide) side converges monotonically.
        let mass_slope = |l: f64| -> (f64, f64) {
            near.iter()
                .filter(|(_, q)| l * q < 1.0)
                .fold((0.0, 0.0), |(m, s), &(i, q)| {
                    (m + pb.w[i] * (1.0 - l * q), s + pb.w[i] * q)
                })
        };
        if mass_slope(1.0).0 < floor {
            let mut l = 1.0 / f64::from(reach);
            if mass_slope(l).0 > floor {
                for _ in 0..50 {
                    let (m, slope) = mass_slope(l);
                    let excess = m - floor;
                    if excess <= 1e-9 * floor || slope <= 0.0 {
                        break;
                    }
                    let next = (l + excess / slope).min(1.0);
                    if next <= l {
                        break;
                    }
                    l = next;
                }
            }
            lambda = l;
        }
    }
    let shift = lambda.ln();
    // The support: (row, k).
    let support: Vec<(usize, f64)> = near
        .iter()
        .map(|&(i, q)| (i, 1.0 - lambda * q))
        .filter(|&(_, k)| k > 0.0)
        .collect();
    let (mut mass, mut lsum) = (0.0, 0.0);
    for &(i, k) in &support {
        mass += pb.w[i] * k;
        lsum += pb.w[i] * k * loss[i];
    }
    let active = support.len();
    if mass <= 0.0 {
        let (pen, _) = barrier.penalty(0.0);
        let gd = if with_grad { d } else { 0 };
        return Eval {
            value: -pen,
            mean: 0.0,
            penalised: true,
            active,
            shift,
            grad_mu: vec![0.0; gd],
            grad_theta: vec![0.0; gd],
        };
    }
    let f0 = lsum / mass;
    let (pen, dpen) = barrier.penalty(mass);
    let (mut grad_mu, mut grad_theta) = (Vec::new(), Vec::new());
    if with_grad {
        // ∂F/∂k_i = w_i (α ℓ_i + β); then ∂F/∂μ_j = 2 p_j Σ a_i t_ij and
        // ∂F/∂log p_j = −p_j Σ a_i t_ij² with t = x − μ.
        let alpha = 1.0 / mass;
        let beta = -(f0 / mass + dpen);
        // Sums over parts of 256 rows in f32 (vectorises), then in f64.
        let parts: Vec<Vec<f32>> = support
            .par_chunks(256)
            .map(|part| {
                clean_simd_state();
                let mut acc = vec![0.0f32; 2 * d];
                let (s1, s2) = acc.split_at_mut(d);
                for &(i, _) in part {
                    let a = (pb.w[i] * (alpha * loss[i] + beta)) as f32;
                    for (((g1, g2), &x), &m) in
                        s1.iter_mut().zip(s2.iter_mut()).zip(pb.row(i)).zip(&mu32)
                    {
                        let t = x - m;
                        let at = a * t;
                        *g1 += at;
                        *g2 += at * t;
                    }
                }
                acc
            })
            .collect();
        let mut acc = vec![0.0f64; 2 * d];
        for part in &parts {
            acc.iter_mut()
                .zip(part)
                .for_each(|(a, &b)| *a += f64::from(b));
        }
        let p: Vec<f64> = p64.iter().map(|p| p * lambda).collect();
        grad_mu = (0..d).map(|j| 2.0 * p[j] * acc[j]).collect();
        grad_theta = (0..d).map(|j| -p[j] * acc[d + j]).collect();
    }
    Eval {
        value: f0 - pen,
        mean: f0,
        penalised: mass < barrier.target,
        active,
        shift,
        grad_mu,
        grad_theta,
    }
}

/// Adam, maximising.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Move `x` along the gradient `g` (both the concatenation of all
    /// parameters).
    fn ascend(&mut self, x: &mut [f64], g: &[f64], lr: f64) {
        self.t += 1;
        let c1 = 1.0 - Self::B1.powi(self.t);
        let c2 = 1.0 - Self::B2.powi(self.t);
        for (((x, &g), m), v) in x.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = Self::B1 * *m + (1.0 - Self::B1) * g;
            *v = Self::B2 * *v + (1.0 - Self::B2) * g * g;
            *x += lr * (*m / c1) / ((*v / c2).sqrt() + Self::EPS);
        }
    }
}

/// Barrier width at step t of `steps`: geometric from n − S to 0.05·S.
fn barrier_width(t: usize, steps: usize, n: f64, s: f64) -> f64 {
    let end = BARRIER_END * s;
    let start = (n - s).max(end);
    if steps <= 1 {
        return end;
    }
    start * (end / start).powf(t as f64 / (steps - 1) as f64)
}

/// Optimise one start; returns the final (μ, log p) and objective at the
/// final barrier width. `warm`: the start is a spotlight found before; the
/// barrier stays at its final width throughout and the optimiser takes a
/// quarter of the steps.
fn optimise(
    pb: &Problem,
    loss: &[f64],
    mu: Vec<f64>,
    theta: Vec<f64>,
    s: f64,
    params: &SpotlightParams,
    warm: bool,
) -> (Vec<f64>, Vec<f64>, f64) {
    let d = pb.d;
    let n = pb.n_rows() as f64;
    let mut x: Vec<f64> = mu.into_iter().chain(theta).collect();
    let mut adam = Adam::new(2 * d);
    let mut lr = params.lr / (d as f64).sqrt();
    let mut best = f64::NEG_INFINITY;
    let mut bad = 0usize;
    let mut grad = vec![0.0; 2 * d];
    let steps = if warm {
        (params.steps / WARM_STEPS_DIVISOR).max(1)
    } else {
        params.steps
    };
    for t in 0..steps {
        // A warm start is already a spotlight: the barrier starts at its
        // final width instead of pushing the kernel out to n − S rows.
        let width = if warm {
            BARRIER_END * s
        } else {
            barrier_width(t, params.steps, n, s)
        };
        let barrier = Barrier::at(s, width, params.barrier_scale);
        let (mu, theta) = x.split_at(d);
        let ev = evaluate(pb, loss, mu, theta, barrier, Some(s), true);
        x[d..].iter_mut().for_each(|th| *th += ev.shift);
        // Plateaus count only while the size constraint holds: while the
        // barrier pushes (its target moves every step) a smaller rate
        // would only stall the kernel short of S rows.
        if ev.penalised || ev.mean > best + 1e-4 * best.abs() {
            if !ev.penalised {
                best = ev.mean;
            }
            bad = 0;
        } else {
            bad += 1;
            if bad >= PATIENCE {
                lr *= 0.5;
                best = f64::NEG_INFINITY;
                bad = 0;
            }
        }
        if ev.active == 0 {
            // No row in the support: widen the kernel until rows return.
            x[d..]
                .iter_mut()
                .for_each(|th| *th = (*th - std::f64::consts::LN_2).max(-LOG_P_LIMIT));
            continue;
        }
        grad[..d].copy_from_slice(&ev.grad_mu);
        grad[d..].copy_from_slice(&ev.grad_theta);
        adam.ascend(&mut x, &grad, lr);
        x[d..]
            .iter_mut()
            .for_each(|th| *th = th.clamp(-LOG_P_LIMIT, LOG_P_LIMIT));
    }
    let barrier = Barrier::at(s, BARRIER_END * s, params.barrier_scale);
    let (mu, theta) = x.split_at(d);
    let ev = evaluate(pb, loss, mu, theta, barrier, Some(s), false);
    x[d..].iter_mut().for_each(|th| *th += ev.shift);
    let value = ev.value;
    let (_, theta) = x.split_at(d);
    let theta = theta.to_vec();
    x.truncate(d);
    (x, theta, value)
}

/// Starting points (μ, log p) in optimiser coordinates: the best of a pool
/// of loss-weighted random rows by the objective of a spherical kernel (in
/// the view's geometry) covering about 2·S rows, none inside another's
/// starting kernel.
fn choose_starts(
    pb: &Problem,
    loss: &[f64],
    s: f64,
    n_starts: usize,
    rng: &mut Rng,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let m = pb.n_rows();
    let mut cum = Vec::with_capacity(m);
    let mut total = 0.0;
    for (l, w) in loss.iter().zip(&pb.w) {
        total += l * w;
        cum.push(total);
    }
    if total.is_nan() || total <= 0.0 {
        return Vec::new();
    }
    let draws = (8 * n_starts + 8).min(256);
    let mut pool: Vec<usize> = (0..draws)
        .map(|_| {
            let u = rng.uniform() * total;
            cum.partition_point(|&c| c <= u).min(m - 1)
        })
        .filter(|&i| loss[i] * pb.w[i] > 0.0)
        .collect();
    pool.sort_unstable();
    pool.dedup();
    let cover = ((2.0 * s).ceil() as usize).clamp(1, m);
    let sq_scale: Vec<f32> = pb.scale.iter().map(|s| (s * s) as f32).collect();
    // (row, r², initial objective)
    let mut scored: Vec<(usize, f32, f64)> = pool
        .par_iter()
        .map(|&c| {
            clean_simd_state();
            let center = pb.row(c);
            let dist: Vec<f32> = (0..m)
                .map(|i| sq_dist(pb.row(i), center, &sq_scale, f32::INFINITY))
                .collect();
            let mut sorted = dist.clone();
            let (_, kth, _) = sorted.select_nth_unstable_by(cover - 1, f32::total_cmp);
            let mut r2 = *kth;
            if r2.is_nan() || r2 <= 0.0 {
                r2 = dist
                    .iter()
                    .copied()
                    .filter(|&v| v > 0.0)
                    .fold(f32::INFINITY, f32::min);
                if !r2.is_finite() {
                    r2 = 1.0;
                }
            }
            let (mut num, mut den) = (0.0, 0.0);
            for (i, &q) in dist.iter().enumerate() {
                if q < r2 {
                    let wk = pb.w[i] * (1.0 - f64::from(q / r2));
                    num += wk * loss[i];
                    den += wk;
                }
            }
            let obj = if den > 0.0 { num / den } else { 0.0 };
            (c, r2, obj)
        })
        .collect();
    scored.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<(usize, f32)> = Vec::new();
    for &(c, r2, _) in &scored {
        if chosen.len() == n_starts {
            break;
        }
        let apart = chosen
            .iter()
            .all(|&(o, or2)| sq_dist(pb.row(c), pb.row(o), &sq_scale, f32::INFINITY) >= or2);
        if apart {
            chosen.push((c, r2));
        }
    }
    chosen
        .into_iter()
        .map(|(c, r2)| {
            let mu: Vec<f64> = pb.row(c).iter().map(|&v| f64::from(v)).collect();
            let theta: Vec<f64> = pb
                .scale
                .iter()
                .map(|s| ((s * s) / f64::from(r2)).ln())
                .collect();
            (mu, theta)
        })
        .collect()
}

/// Check what every embedding slicer relies on: shapes agree, values are
/// finite, errors and weights are ≥ 0, class indices are in range.
pub(crate) fn check_input(input: &EmbeddingInput<'_>) -> Result<()> {
    let n = input.n_rows();
    let view = input.view;
    if n > u32::MAX as usize {
        return Err(Error::InvalidInput(format!(
            "{n} rows are more than the embedding slicers support ({})",
            u32::MAX
        )));
    }
    if view.dim == 0 {
        if n > 0 {
            return Err(Error::InvalidInput(format!(
                "view '{}' has no dimensions",
                view.name
            )));
        }
        return Ok(());
    }
    if view.data.len() != n * view.dim {
        return Err(Error::ShapeMismatch(format!(
            "view '{}' holds {} values, expected {n} rows × {} dimensions",
            view.name,
            view.data.len(),
            view.dim
        )));
    }
    if let Some(i) = input
        .errors
        .iter()
        .position(|e| !(e.is_finite() && *e >= 0.0))
    {
        return Err(Error::InvalidInput(format!(
            "the error signal must be finite and ≥ 0, but row {i} holds {}",
            input.errors[i]
        )));
    }
    if let Some(w) = input.weights {
        if w.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "{} weights for {n} rows",
                w.len()
            )));
        }
        if let Some(i) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::InvalidInput(format!(
                "weights must be finite and ≥ 0, but row {i} holds {}",
                w[i]
            )));
        }
        if n > 0 && w.iter().all(|&w| w == 0.0) {
            return Err(Error::InvalidInput(
                "the weights are zero everywhere".into(),
            ));
        }
    }
    if let Some(c) = input.classes {
        if c.label.len() != n || c.pred.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "{} labels and {} predictions for {n} rows",
                c.label.len(),
                c.pred.len()
            )));
        }
        let k = c.names.len();
        if let Some(i) = c
            .label
            .iter()
            .zip(&c.pred)
            .position(|(&l, &p)| l as usize >= k || p as usize >= k)
        {
            return Err(Error::InvalidInput(format!(
                "row {i} has a class index outside the {k} class names"
            )));
        }
    }
    if let Some(i) = view
        .data
        .par_chunks(view.dim)
        .position_first(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::InvalidInput(format!(
            "view '{}' holds NaN or infinite values (first at row {i})",
            view.name
        )));
    }
    Ok(())
}

/// Leave this thread's SIMD unit in the clean state; called at the start
/// of every parallel work item (and of each slicer) that runs SSE code.
///
/// faer's matrix kernels (the PCA of the views, mixtures, the direction
/// slicer's Hessians) can return on x86-64 without `vzeroupper`, leaving
/// the upper halves of the vector registers dirty on the rayon worker that
/// ran them. Until something clears them, every switch between legacy-SSE
/// code (ours, compiled for the x86-64 baseline, and glibc's libm
/// wrappers) and VEX code (libm's exp/log) pays a large penalty: measured
/// here, 1M logistic losses took 0.37 s instead of 0.015 s on workers
/// that had run one faer matmul. A tiny faer reduction, which LLVM ends
/// with `vzeroupper`, resets the state without unsafe code; elsewhere it
/// costs a few nanoseconds.
pub(crate) fn clean_simd_state() {
    static ONES: [f64; 16] = [1.0; 16];
    std::hint::black_box(faer::ColRef::from_slice(std::hint::black_box(&ONES[..])).norm_l2());
}

/// 1234567 → "1,234,567".
pub(crate) fn thousands(n: usize) -> String {
    crate::describe::thousands(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Classes;
    use crate::views::ReducedView;

    fn view(data: Vec<f32>, dim: usize) -> ReducedView {
        ReducedView {
            name: "emb".into(),
            source: "test".into(),
            dim_in: dim,
            dim,
            normalized: false,
            mean: vec![0.0; dim],
            axes: vec![],
            explained_variance: vec![1.0; dim],
            explained_ratio: 1.0,
            data,
        }
    }

    fn input<'a>(v: &'a ReducedView, errors: &'a [f64], seed: u64) -> EmbeddingInput<'a> {
        EmbeddingInput {
            view: v,
            errors,
            binary: errors.iter().all(|&e| e == 0.0 || e == 1.0),
            weights: None,
            classes: None,
            seed,
        }
    }

    fn jaccard(a: &[u32], b: &[u32]) -> f64 {
        let sa: std::collections::BTreeSet<u32> = a.iter().copied().collect();
        let sb: std::collections::BTreeSet<u32> = b.iter().copied().collect();
        let inter = sa.intersection(&sb).count() as f64;
        let union = sa.union(&sb).count() as f64;
        if union == 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Uniform noise in [−3, 3]^dim with a Gaussian blob (sd 0.3) of
    /// `blob` rows around (1.5, −1, 0, ...), a second blob around
    /// (−1.5, 1.5, ...); errors 0.9 in the first blob, 0.6 in the second
    /// and 0.05 elsewhere.
    fn planted(n: usize, dim: usize, blob: usize, seed: u64) -> (ReducedView, Vec<f64>, Vec<u32>) {
        let mut rng = Rng::new(seed);
        let mut data = Vec::with_capacity(n * dim);
        let mut errors = Vec::with_capacity(n);
        let mut members = Vec::new();
        for i in 0..n {
            let kind = if i % 20 == 3 && members.len() < blob {
                1
            } else if i % 20 == 11 && i / 20 < blob {
                2
            } else {
                0
            };
            for j in 0..dim {
                let v = match kind {
                    1 => [1.5, -1.0].get(j).copied().unwrap_or(0.0) + 0.3 * rng.normal(),
                    2 => [-1.5, 1.5].get(j).copied().unwrap_or(1.0) + 0.3 * rng.normal(),
                    _ => 6.0 * rng.uniform() - 3.0,
                };
                data.push(v as f32);
            }
            let rate = [0.05, 0.9, 0.6][kind];
            errors.push(if rng.uniform() < rate { 1.0 } else { 0.0 });
            if kind == 1 {
                members.push(i as u32);
            }
        }
        (view(data, dim), errors, members)
    }

    /// A blob of 800 rows around (1.5, −1, 0, ...) in uniform noise; rows
    /// alternate between labels "a" and "b". The model errs on 80% of the
    /// blob's "a" rows, 2% of its "b" rows and 10% of the other rows: the
    /// failure is the blob's "a" rows (returned), not the blob.
    fn one_label_failure(n: usize, dim: usize) -> (ReducedView, Vec<f64>, Classes, Vec<u32>) {
        let mut rng = Rng::new(5);
        let (mut data, mut errors, mut label, mut planted) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            let blob = i % 5 == 3;
            let a = i % 2 == 1;
            for j in 0..dim {
                let v = if blob {
                    [1.5, -1.0].get(j).copied().unwrap_or(0.0) + 0.3 * rng.normal()
                } else {
                    6.0 * rng.uniform() - 3.0
                };
                data.push(v as f32);
            }
            let rate = match (blob, a) {
                (true, true) => 0.8,
                (true, false) => 0.02,
                _ => 0.1,
            };
            errors.push(if rng.uniform() < rate { 1.0 } else { 0.0 });
            label.push(u32::from(!a));
            if blob && a {
                planted.push(i as u32);
            }
        }
        let pred = label
            .iter()
            .zip(&errors)
            .map(|(&l, &e)| if e > 0.5 { 1 - l } else { l })
            .collect();
        let classes = Classes {
            names: vec!["a".into(), "b".into()],
            label,
            pred,
        };
        (view(data, dim), errors, classes, planted)
    }

    #[test]
    fn auto_searches_per_class_with_two_classes_only() {
        let n = 2000;
        let (v, errors, classes, _) = one_label_failure(n, 4);
        let params = SpotlightParams {
            n_spotlights: 1,
            ..SpotlightParams::default()
        };
        assert_eq!(params.per_class, PerClass::Auto);
        let slicer = SpotlightSlicer::new(params);
        let restricted = |found: &[Candidate]| {
            found
                .iter()
                .all(|c| matches!(&c.definition, Definition::Kernel { class: Some(_), .. }))
        };
        // Two classes: one search per class, each restricted to its class.
        let two = slicer
            .fit(&EmbeddingInput {
                classes: Some(&classes),
                ..input(&v, &errors, 3)
            })
            .unwrap();
        assert_eq!(two.len(), 2, "{two:?}");
        assert!(restricted(&two));
        // The same rows with a third (empty) class: all rows, unrestricted.
        let three_classes = Classes {
            names: vec!["a".into(), "b".into(), "c".into()],
            ..classes.clone()
        };
        let three = slicer
            .fit(&EmbeddingInput {
                classes: Some(&three_classes),
                ..input(&v, &errors, 3)
            })
            .unwrap();
        assert_eq!(three.len(), 1, "{three:?}");
        assert!(three.iter().all(|c| !restricted(std::slice::from_ref(c))));
        assert!(PerClass::Auto.applies(AUTO_MAX_CLASSES));
        assert!(!PerClass::Auto.applies(AUTO_MAX_CLASSES + 1));
        assert!(PerClass::Always.applies(10) && !PerClass::Never.applies(2));
    }

    #[test]
    fn per_class_reads_true_false_or_auto() {
        let read = |text: &str| toml::from_str::<SpotlightParams>(text).map(|p| p.per_class);
        assert_eq!(read("per_class = true").unwrap(), PerClass::Always);
        assert_eq!(read("per_class = false").unwrap(), PerClass::Never);
        assert_eq!(read("per_class = \"auto\"").unwrap(), PerClass::Auto);
        assert_eq!(read("").unwrap(), PerClass::Auto);
        let err = read("per_class = \"yes\"").unwrap_err().to_string();
        assert!(
            err.contains("true, false or \"auto\", got \"yes\""),
            "{err}"
        );
        let err = read("per_class = 1").unwrap_err().to_string();
        assert!(
            err.contains("per_class must be true, false or \"auto\""),
            "{err}"
        );
        // Written back as read, so that a recorded configuration reruns.
        for (value, json) in [
            (PerClass::Auto, "\"auto\""),
            (PerClass::Always, "true"),
            (PerClass::Never, "false"),
        ] {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<PerClass>(json).unwrap(), value);
        }
    }

    #[test]
    fn rejects_bad_class_size() {
        for class_size in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            invalid(
                SpotlightParams {
                    class_size,
                    ..Default::default()
                },
                "spotlight.class_size",
            );
        }
    }

    #[test]
    fn per_class_finds_a_failure_confined_to_one_label() {
        let n = 4000;
        let (v, errors, classes, planted) = one_label_failure(n, 8);
        let inp = EmbeddingInput {
            classes: Some(&classes),
            ..input(&v, &errors, 3)
        };
        let best = |found: &[Candidate]| {
            found
                .iter()
                .map(|c| jaccard(&c.members, &planted))
                .fold(0.0, f64::max)
        };
        let params = SpotlightParams {
            n_spotlights: 2,
            per_class: PerClass::Never,
            ..SpotlightParams::default()
        };
        let all_rows = SpotlightSlicer::new(params.clone()).fit(&inp).unwrap();
        let slicer = SpotlightSlicer::new(SpotlightParams {
            per_class: PerClass::Always,
            class_size: params.size,
            ..params.clone()
        });
        let found = slicer.fit(&inp).unwrap();
        let (j_all, j_class) = (best(&all_rows), best(&found));
        assert!(j_class >= 0.8, "per class: Jaccard {j_class}");
        assert!(j_all < 0.7, "all rows: Jaccard {j_all}");
        let c = found
            .iter()
            .find(|c| jaccard(&c.members, &planted) == j_class)
            .unwrap();
        // Restricted to its class, in its members, membership and definition.
        assert!(c.members.iter().all(|&i| classes.label[i as usize] == 0));
        assert!(c.detail.starts_with("class 'a': "), "{}", c.detail);
        assert_eq!(c.membership.len(), n);
        assert!((0..n).all(|i| classes.label[i] == 0 || c.membership[i] == 0.0));
        let labels = super::super::Labels {
            names: &classes.names,
            label: &classes.label,
        };
        let applied = c.definition.apply(&v, Some(labels)).unwrap();
        assert_eq!(applied.members, c.members);
        assert!(c.definition.apply(&v, None).is_err(), "needs the labels");
        // Deterministic, and refitted within its class.
        assert_eq!(slicer.fit(&inp).unwrap()[0].members, found[0].members);
        let w = super::super::bootstrap_weights(n, 11);
        let resample = EmbeddingInput {
            weights: Some(&w),
            ..inp
        };
        let again = slicer.refit(&resample, &c.definition).unwrap().unwrap();
        assert_eq!(again.len(), 1);
        let j = jaccard(&again[0].members, &c.members);
        // It reappears (stability's criterion: Jaccard ≥ 0.5).
        assert!(
            j >= 0.5,
            "refit: Jaccard {j}, {} vs {} rows",
            again[0].members.len(),
            c.members.len()
        );
        assert!(matches!(
            &again[0].definition,
            Definition::Kernel { class: Some(k), .. } if k == "a"
        ));
        // A class with fewer than 10 rows in error is not searched.
        let mut kept = 0;
        let few: Vec<f64> = errors
            .iter()
            .zip(&classes.label)
            .map(|(&e, &l)| {
                if l == 1 && e > 0.0 {
                    kept += 1;
                    if kept > 9 {
                        return 0.0;
                    }
                }
                e
            })
            .collect();
        let only_a = slicer
            .fit(&EmbeddingInput {
                classes: Some(&classes),
                ..input(&v, &few, 3)
            })
            .unwrap();
        assert!(!only_a.is_empty());
        assert!(only_a.iter().all(|c| c.detail.starts_with("class 'a': ")));
        // Without labels (a regression task) it searches all rows.
        assert_eq!(
            slicer.fit(&input(&v, &errors, 3)).unwrap()[0].members,
            SpotlightSlicer::default()
                .fit(&input(&v, &errors, 3))
                .unwrap()[0]
                .members
        );
    }

    #[test]
    fn refit_from_a_spotlight_returns_it_on_a_resample() {
        let (v, errors, _) = planted(4000, 16, 200, 1);
        let slicer = SpotlightSlicer::new(SpotlightParams {
            n_spotlights: 2,
            ..SpotlightParams::default()
        });
        let found = slicer.fit(&input(&v, &errors, 7)).unwrap();
        assert_eq!(found.len(), 2);
        for (b, c) in found.iter().enumerate() {
            let w = super::super::bootstrap_weights(4000, 40 + b as u64);
            let resample = EmbeddingInput {
                weights: Some(&w),
                ..input(&v, &errors, 9)
            };
            let again = slicer.refit(&resample, &c.definition).unwrap().unwrap();
            assert_eq!(again.len(), 1);
            let j = jaccard(&again[0].members, &c.members);
            assert!(j >= 0.8, "spotlight {b}: Jaccard {j}");
            assert!(again[0].detail.starts_with("spotlight refitted"));
            // Deterministic.
            let twice = slicer.refit(&resample, &c.definition).unwrap().unwrap();
            assert_eq!(twice[0].members, again[0].members);
        }
        // Started from a kernel in a region without excess errors, the
        // refit returns no slice rather than an arbitrary one.
        let quiet: Vec<f64> = errors
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                if found[0].members.contains(&(i as u32)) {
                    0.0
                } else {
                    e
                }
            })
            .collect();
        let none = slicer
            .refit(&input(&v, &quiet, 9), &found[0].definition)
            .unwrap();
        assert!(none
            .unwrap()
            .iter()
            .all(|c| jaccard(&c.members, &found[0].members) < 0.5));
        // Another kind of definition: no refit; a wrong dimension: an error.
        let half = Definition::Halfspace {
            weights: vec![1.0; 16],
            bias: 0.0,
            threshold: 0.0,
            class: None,
        };
        assert!(slicer
            .refit(&input(&v, &errors, 9), &half)
            .unwrap()
            .is_none());
        let short = Definition::Kernel {
            center: vec![0.0; 3],
            precision: vec![1.0; 3],
            threshold: 0.5,
            class: None,
        };
        assert!(slicer.refit(&input(&v, &errors, 9), &short).is_err());
    }

    #[test]
    fn finds_planted_blob_then_another_region() {
        let (v, errors, blob) = planted(4000, 16, 200, 1);
        let slicer = SpotlightSlicer::new(SpotlightParams {
            n_spotlights: 2,
            ..SpotlightParams::default()
        });
        let found = slicer.fit(&input(&v, &errors, 7)).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let first = &found[0];
        let j = jaccard(&first.members, &blob);
        assert!(j >= 0.8, "jaccard {j}, {} members", first.members.len());
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        assert!(first.score > mean + 0.3, "{} vs {mean}", first.score);
        let s = 0.02 * 4000.0;
        let support = first.membership.iter().filter(|&&k| k > 0.0).count();
        assert!(support as f64 >= s / 2.0, "{support}");
        assert_eq!(first.members.len(), support);
        assert!(
            first.detail.starts_with("spotlight 1 of 2, "),
            "{}",
            first.detail
        );
        let second = &found[1];
        let overlap = jaccard(&first.members, &second.members);
        assert!(
            overlap < 0.2,
            "second spotlight repeats the first: {overlap}"
        );
        assert!(second.score > mean, "{} vs {mean}", second.score);
        // Membership is the kernel weight and the definition reproduces it.
        let Definition::Kernel {
            center,
            precision,
            threshold,
            ..
        } = &first.definition
        else {
            panic!("not a kernel")
        };
        for (i, &k) in first.membership.iter().enumerate() {
            let q: f64 = v
                .row(i)
                .iter()
                .zip(center)
                .zip(precision)
                .map(|((&z, &c), &p)| f64::from(p) * (f64::from(z) - f64::from(c)).powi(2))
                .sum();
            assert!((f64::from(k) - (1.0 - q).max(0.0)).abs() < 1e-4, "row {i}");
            if (q - 1.0).abs() > 1e-4 {
                assert_eq!(k >= *threshold, q < 1.0, "row {i}");
            }
        }
    }

    /// The objective written out directly in f64, for the gradient check.
    fn reference_objective(
        pb: &Problem,
        loss: &[f64],
        mu: &[f64],
        theta: &[f64],
        barrier: Barrier,
    ) -> f64 {
        let (mut mass, mut lsum) = (0.0, 0.0);
        for (i, l) in loss.iter().enumerate() {
            let q: f64 = (0..pb.d)
                .map(|j| theta[j].exp() * (f64::from(pb.row(i)[j]) - mu[j]).powi(2))
                .sum();
            let k = (1.0 - q).max(0.0);
            mass += pb.w[i] * k;
            lsum += pb.w[i] * k * l;
        }
        let pen = if mass < barrier.target {
            barrier.scale * (mass - barrier.target).powi(2) / barrier.width.powi(2)
        } else {
            0.0
        };
        lsum / mass - pen
    }

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let mut rng = Rng::new(3);
        let (m, d) = (300, 5);
        let x: Vec<f32> = (0..m * d).map(|_| rng.normal() as f32).collect();
        let w: Vec<f64> = (0..m).map(|_| 0.5 + rng.uniform()).collect();
        let loss: Vec<f64> = (0..m).map(|_| rng.uniform() * 2.0).collect();
        let pb = Problem {
            d,
            x,
            w,
            scale: vec![1.0; d],
        };
        let mu = vec![0.2, -0.1, 0.3, 0.0, 0.1];
        let theta = vec![-1.5, -1.2, -1.8, -1.0, -1.4];
        // With the barrier active (target above the mass) and inactive.
        for (barrier, penalised) in [
            (Barrier::at(60.0, 80.0, 1.0), true),
            (Barrier::at(1.0, 0.5, 1.0), false),
        ] {
            let ev = evaluate(&pb, &loss, &mu, &theta, barrier, None, true);
            assert!(ev.active > 20 && ev.active < m, "{}", ev.active);
            assert_eq!(ev.penalised, penalised);
            let f = reference_objective(&pb, &loss, &mu, &theta, barrier);
            assert!(
                (ev.value - f).abs() < 1e-5 * (1.0 + f.abs()),
                "{} vs {f}",
                ev.value
            );
            let h = 1e-6;
            for j in 0..2 * d {
                let (mut mp, mut tp) = (mu.clone(), theta.clone());
                let (mut mm, mut tm) = (mu.clone(), theta.clone());
                if j < d {
                    mp[j] += h;
                    mm[j] -= h;
                } else {
                    tp[j - d] += h;
                    tm[j - d] -= h;
                }
                let fp = reference_objective(&pb, &loss, &mp, &tp, barrier);
                let fm = reference_objective(&pb, &loss, &mm, &tm, barrier);
                let numeric = (fp - fm) / (2.0 * h);
                let analytic = if j < d {
                    ev.grad_mu[j]
                } else {
                    ev.grad_theta[j - d]
                };
                assert!(
                    (numeric - analytic).abs() <= 1e-4 * (1.0 + analytic.abs()),
                    "parameter {j}: numeric {numeric}, analytic {analytic}"
                );
                assert!(analytic.abs() > 1e-3, "parameter {j}: gradient {analytic}");
            }
        }
    }

    #[test]
    fn finds_a_blob_in_64_dimensions() {
        // Gaussian background with decaying scales (like PCA output) and a
        // tight blob of 4% of the rows; S = 2%.
        let (n, dim) = (3000, 64);
        let mut rng = Rng::new(21);
        let scale: Vec<f64> = (0..dim).map(|j| 1.0 / (1.0 + j as f64 / 8.0)).collect();
        let centre: Vec<f64> = scale.iter().map(|s| 1.5 * s * rng.normal()).collect();
        let mut data = Vec::with_capacity(n * dim);
        let mut errors = Vec::with_capacity(n);
        let mut blob = Vec::new();
        for i in 0..n {
            let inside = i % 25 == 0;
            for j in 0..dim {
                let noise = scale[j] * rng.normal();
                data.push(if inside {
                    centre[j] + 0.3 * noise
                } else {
                    noise
                } as f32);
            }
            let rate = if inside { 0.6 } else { 0.05 };
            errors.push(f64::from(u8::from(rng.uniform() < rate)));
            if inside {
                blob.push(i as u32);
            }
        }
        let v = view(data, dim);
        let slicer = SpotlightSlicer::new(SpotlightParams {
            n_spotlights: 1,
            steps: 250,
            ..SpotlightParams::default()
        });
        let found = slicer.fit(&input(&v, &errors, 3)).unwrap();
        assert_eq!(found.len(), 1);
        let j = jaccard(&found[0].members, &blob);
        assert!(j >= 0.8, "jaccard {j}, {} members", found[0].members.len());
    }

    #[test]
    fn projection_keeps_the_kernel_at_least_s_large() {
        let mut rng = Rng::new(5);
        let (m, d) = (500, 4);
        let pb = Problem {
            d,
            x: (0..m * d).map(|_| rng.normal() as f32).collect(),
            w: vec![1.0; m],
            scale: vec![1.0; d],
        };
        let loss: Vec<f64> = (0..m).map(|_| rng.uniform()).collect();
        // A kernel far too narrow for S = 50 rows.
        let mu = vec![0.0; d];
        let theta = vec![0.0; d];
        let barrier = Barrier::at(50.0, 2.5, 1.0);
        let plain = evaluate(&pb, &loss, &mu, &theta, barrier, None, false);
        assert!(plain.active < 50 && plain.shift == 0.0);
        let ev = evaluate(&pb, &loss, &mu, &theta, barrier, Some(50.0), false);
        assert!(ev.shift < 0.0 && ev.shift >= -f64::from(Q_REACH).ln() - 1e-12);
        let widened: Vec<f64> = theta.iter().map(|t| t + ev.shift).collect();
        let again = evaluate(&pb, &loss, &mu, &widened, barrier, None, false);
        let mass: f64 = pb
            .kernel(&mu, &widened)
            .iter()
            .zip(&pb.w)
            .map(|(k, w)| k * w)
            .sum();
        assert!((mass - 50.0).abs() < 0.05, "{mass}");
        assert!(
            (again.value - ev.value).abs() < 1e-3,
            "{} vs {}",
            again.value,
            ev.value
        );
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (v, errors, _) = planted(3000, 8, 150, 2);
        let slicer = SpotlightSlicer::new(SpotlightParams {
            n_spotlights: 2,
            steps: 150,
            ..SpotlightParams::default()
        });
        let a = slicer.fit(&input(&v, &errors, 11)).unwrap();
        let b = slicer.fit(&input(&v, &errors, 11)).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        // Same answer on one thread.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| slicer.fit(&input(&v, &errors, 11)).unwrap());
        assert_eq!(a, c);
    }

    #[test]
    fn weights_count_as_rows() {
        // Doubling every weight changes nothing.
        let (v, errors, _) = planted(2000, 4, 100, 4);
        let slicer = SpotlightSlicer::new(SpotlightParams {
            n_spotlights: 1,
            steps: 100,
            ..SpotlightParams::default()
        });
        let plain = slicer.fit(&input(&v, &errors, 1)).unwrap();
        let w = vec![2.0; errors.len()];
        let mut inp = input(&v, &errors, 1);
        inp.weights = Some(&w);
        let weighted = slicer.fit(&inp).unwrap();
        assert_eq!(plain, weighted);
    }

    #[test]
    fn tiny_and_degenerate_inputs_do_not_panic() {
        let slicer = SpotlightSlicer::default();
        for n in 0..6 {
            let v = view((0..n * 3).map(|i| i as f32).collect(), 3);
            let errors: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
            let found = slicer.fit(&input(&v, &errors, 0)).unwrap();
            for c in &found {
                assert_eq!(c.membership.len(), n);
            }
        }
        // All-zero errors: nothing to find.
        let (v, _, _) = planted(500, 4, 25, 5);
        let zeros = vec![0.0; 500];
        assert!(slicer.fit(&input(&v, &zeros, 0)).unwrap().is_empty());
        // Constant embedding.
        let v = view(vec![1.0; 200 * 4], 4);
        let errors: Vec<f64> = (0..200).map(|i| (i % 3 == 0) as u8 as f64).collect();
        let found = slicer.fit(&input(&v, &errors, 0)).unwrap();
        for c in &found {
            assert!(c.score.is_finite());
        }
        // Size larger than the data.
        let big = SpotlightSlicer::new(SpotlightParams {
            size: 1000.0,
            ..SpotlightParams::default()
        });
        assert!(big.fit(&input(&v, &errors, 0)).unwrap().is_empty());
    }

    #[test]
    fn bad_input_is_an_error() {
        let v = view(vec![0.0, 1.0, f32::NAN, 2.0], 2);
        let errors = [0.0, 1.0];
        let e = SpotlightSlicer::default()
            .fit(&input(&v, &errors, 0))
            .unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
        let v = view(vec![0.0; 6], 2);
        let e = SpotlightSlicer::default()
            .fit(&input(&v, &errors, 0))
            .unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
        let v = view(vec![0.0; 4], 2);
        let e = SpotlightSlicer::default()
            .fit(&input(&v, &[0.0, -1.0], 0))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    }

    fn invalid(params: SpotlightParams, name: &str) {
        let v = view(vec![0.0; 4], 2);
        let errors = [0.0, 1.0];
        let slicer = SpotlightSlicer::new(params);
        for e in [
            slicer.validate().unwrap_err(),
            slicer.fit(&input(&v, &errors, 0)).unwrap_err(),
        ] {
            match e {
                Error::InvalidParameter { name: got, .. } => assert_eq!(got, name),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn rejects_zero_spotlights() {
        invalid(
            SpotlightParams {
                n_spotlights: 0,
                ..Default::default()
            },
            "spotlight.n_spotlights",
        );
    }

    #[test]
    fn rejects_bad_size() {
        for size in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            invalid(
                SpotlightParams {
                    size,
                    ..Default::default()
                },
                "spotlight.size",
            );
        }
    }

    #[test]
    fn rejects_zero_steps() {
        invalid(
            SpotlightParams {
                steps: 0,
                ..Default::default()
            },
            "spotlight.steps",
        );
    }

    #[test]
    fn rejects_bad_lr() {
        for lr in [0.0, -0.1, f64::NAN] {
            invalid(
                SpotlightParams {
                    lr,
                    ..Default::default()
                },
                "spotlight.lr",
            );
        }
    }

    #[test]
    fn rejects_bad_barrier_scale() {
        for barrier_scale in [0.0, -1.0, f64::INFINITY] {
            invalid(
                SpotlightParams {
                    barrier_scale,
                    ..Default::default()
                },
                "spotlight.barrier_scale",
            );
        }
    }

    #[test]
    fn rejects_zero_starts() {
        invalid(
            SpotlightParams {
                n_starts: 0,
                ..Default::default()
            },
            "spotlight.n_starts",
        );
    }

    #[test]
    fn rejects_bad_member_threshold() {
        for member_threshold in [-0.1, 1.0, f64::NAN] {
            invalid(
                SpotlightParams {
                    member_threshold,
                    ..Default::default()
                },
                "spotlight.member_threshold",
            );
        }
    }

    #[test]
    fn params_from_toml_are_strict() {
        let p: SpotlightParams = toml::from_str("n_spotlights = 2\nsize = 50").unwrap();
        assert_eq!(p.n_spotlights, 2);
        assert_eq!(p.size, 50.0);
        assert_eq!(p.steps, 500);
        assert!(toml::from_str::<SpotlightParams>("spotlights = 2").is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(opt_rows(1000, 20.0), 1000);
        assert_eq!(opt_rows(1_000_000, 20_000.0), 10_000);
        assert_eq!(opt_rows(1_000_000, 5_000.0), 40_000);
        assert_eq!(opt_rows(1_000_000, 50.0), 100_000);
        let mut rng = Rng::new(1);
        let s = subsample(100, 10, &mut rng);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        let b0 = barrier_width(0, 100, 1000.0, 20.0);
        let b1 = barrier_width(99, 100, 1000.0, 20.0);
        assert!((b0 - 980.0).abs() < 1e-9 && (b1 - 1.0).abs() < 1e-9);
    }
}
