//! The direction slicer (Jain, Salman, Madry et al., "Distilling model
//! failures as directions in latent space", ICLR 2023): a linear
//! classifier of "error vs. correct" in the view; the rows at the high end
//! of its decision value are the slice.
//!
//! - **0/1 errors**: L2-regularised logistic regression with balanced
//!   class weights (errors and correct rows each carry half of the total
//!   weight, as scikit-learn's `class_weight="balanced"`), so a rare error
//!   class still shapes the direction.
//! - **Continuous errors** (losses): ridge regression of the error on the
//!   view.
//!
//! Both minimise Σ_i v_i·loss_i + (l2/2)·‖β‖² on standardised features
//! (each dimension centred and divided by its standard deviation, weighted
//! by the sample weights v; the intercept is not penalised), with v_i
//! summing to the total frequency weight, so `l2` = 1/C of scikit-learn's
//! `LogisticRegression` / `alpha` of `Ridge`. The fit is Newton's method
//! with a backtracking line search; the gradient always uses every row, the
//! Hessian at most 50,000 rows (stratified by error for the logistic
//! model; exact Newton below that size), which changes the path, not the
//! optimum.
//!
//! With label classes and `per_class`, each label class gets its own
//! direction fitted on its rows only (classes are never mixed), and one
//! more direction is fitted on all rows, for failures that cut across
//! classes. The slice
//! is the prefix of the rows sorted by decision value (descending), of at
//! least `min_size` rows, with the largest excess errors over the
//! whole-data error rate ē: Σ_prefix w·(e − ē), found with one sort and a
//! running sum, cutting only between distinct decision values. Candidates
//! come best first, only those with positive excess, at most 20 (each
//! carries one membership value per row).

use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::spotlight::{check_input, clean_simd_state, thousands};
use super::{Candidate, Definition, EmbeddingInput, EmbeddingSlicer};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::views::ReducedView;

/// Parameters of the direction slicer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectionParams {
    /// One direction per label class when the task has classes, plus one
    /// on all rows (default true); otherwise only the one on all rows.
    pub per_class: bool,
    /// L2 (ridge) penalty on the weights of the standardised features,
    /// relative to a total sample weight equal to the number of rows
    /// (default 1.0, scikit-learn's C = 1). Must be ≥ 0.
    pub l2: f64,
    /// Most Newton iterations per direction (default 100; a few usually
    /// suffice).
    pub max_iter: usize,
    /// Smallest slice: a number of rows (≥ 1) or a fraction (< 1) of the
    /// rows considered (the class's rows in per-class mode), then at least
    /// 10 rows; default 0.01.
    pub min_size: f64,
    /// Skip a class (or the whole data) with fewer error rows, or fewer
    /// correct rows, than this (default 10). For a continuous error the
    /// class needs twice this many rows and a non-constant error.
    pub min_class_errors: usize,
}

impl Default for DirectionParams {
    fn default() -> Self {
        DirectionParams {
            per_class: true,
            l2: 1.0,
            max_iter: 100,
            min_size: 0.01,
            min_class_errors: 10,
        }
    }
}

impl DirectionParams {
    /// Check every parameter; the error names the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::param(
                "direction.l2",
                format!("must be a finite number ≥ 0, got {}", self.l2),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::param("direction.max_iter", "must be at least 1"));
        }
        if !(self.min_size.is_finite() && self.min_size > 0.0) {
            return Err(Error::param(
                "direction.min_size",
                format!(
                    "must be a number of rows ≥ 1 or a fraction in (0, 1), got {}",
                    self.min_size
                ),
            ));
        }
        if self.min_class_errors == 0 {
            return Err(Error::param(
                "direction.min_class_errors",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Smallest slice in rows for `n` rows considered.
    fn min_rows(&self, n: usize) -> usize {
        if self.min_size < 1.0 {
            ((self.min_size * n as f64).ceil() as usize).max(10)
        } else {
            self.min_size.ceil() as usize
        }
    }
}

/// The direction slicer: linear directions of failure in a view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectionSlicer {
    /// Its parameters.
    pub params: DirectionParams,
}

impl DirectionSlicer {
    /// A slicer with these parameters.
    pub fn new(params: DirectionParams) -> Self {
        DirectionSlicer { params }
    }
}

/// Rows per parallel work item (fixed: sums reduce in the same order on
/// any number of threads).
const CHUNK: usize = 4096;
/// Most rows in the Newton Hessian.
const HESSIAN_ROWS: usize = 50_000;
/// Membership of rows outside the direction's class.
pub(crate) const OTHER_CLASS: f32 = -1e30;
/// Most candidates returned (the best by excess errors): each carries a
/// membership value per row, so a thousand classes would otherwise mean a
/// thousand vectors of n floats.
const MAX_CANDIDATES: usize = 20;

impl EmbeddingSlicer for DirectionSlicer {
    fn name(&self) -> &'static str {
        "direction"
    }

    fn validate(&self) -> Result<()> {
        self.params.validate()
    }

    fn fit(&self, input: &EmbeddingInput<'_>) -> Result<Vec<Candidate>> {
        self.validate()?;
        check_input(input)?;
        clean_simd_state();
        let n = input.n_rows();
        let Some(ebar) = overall_error(input) else {
            return Ok(Vec::new());
        };
        let groups: Vec<(Option<usize>, Vec<u32>)> = match input.classes {
            Some(c) if self.params.per_class => {
                let mut groups: Vec<(Option<usize>, Vec<u32>)> = super::rows_by_class(c)
                    .into_iter()
                    .enumerate()
                    .filter(|(_, rows)| !rows.is_empty())
                    .map(|(k, rows)| (Some(k), rows))
                    .collect();
                // Plus one direction on all rows: a failure shared by
                // several classes (a background, an acquisition) is one
                // direction there, split into pieces per class.
                if groups.len() > 1 {
                    groups.push((None, (0..n as u32).collect()));
                }
                groups
            }
            _ => vec![(None, (0..n as u32).collect())],
        };
        let rng = Rng::new(input.seed).fork(0xD1EC_7104);
        let mut found = Vec::new();
        for (g, (class, rows)) in groups.iter().enumerate() {
            let k = class.map_or(0, |c| c as u64 + 1);
            if let Some((cand, local)) =
                self.fit_group(input, *class, rows, ebar, None, rng.fork(k))
            {
                found.push((cand, local, g));
            }
        }
        // Best first (stable: ties keep class order); the membership
        // vectors (one value per row) only for those kept.
        found.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        found.truncate(MAX_CANDIDATES);
        Ok(found
            .into_iter()
            .map(|(cand, local, g)| {
                let (class, rows) = &groups[g];
                with_membership(cand, &local, rows, class.is_some(), n)
            })
            .collect())
    }

    /// Refit only the group a halfspace slice was found in — its label
    /// class, or all rows — on these rows. The fit has no random start,
    /// so this is the slice's own rerun, without fitting every other
    /// class too.
    fn refit(
        &self,
        input: &EmbeddingInput<'_>,
        definition: &Definition,
    ) -> Result<Option<Vec<Candidate>>> {
        let Definition::Halfspace {
            class,
            weights,
            bias,
            ..
        } = definition
        else {
            return Ok(None);
        };
        self.validate()?;
        check_input(input)?;
        clean_simd_state();
        let n = input.n_rows();
        let Some(ebar) = overall_error(input) else {
            return Ok(Some(Vec::new()));
        };
        let (k, rows): (Option<usize>, Vec<u32>) = match class {
            None => (None, (0..n as u32).collect()),
            Some(name) => {
                let Some(c) = input.classes else {
                    return Ok(Some(Vec::new()));
                };
                let Some(k) = c.names.iter().position(|x| x == name) else {
                    return Ok(Some(Vec::new()));
                };
                let rows = (0..n as u32)
                    .filter(|&i| c.label[i as usize] as usize == k)
                    .collect();
                (Some(k), rows)
            }
        };
        let rng = Rng::new(input.seed)
            .fork(0xD1EC_7104)
            .fork(k.map_or(0, |c| c as u64 + 1));
        Ok(Some(
            self.fit_group(input, k, &rows, ebar, Some((weights, *bias)), rng)
                .map(|(cand, local)| with_membership(cand, &local, &rows, k.is_some(), n))
                .into_iter()
                .collect(),
        ))
    }
}

/// The weighted mean error of all rows; None without rows or weight.
fn overall_error(input: &EmbeddingInput<'_>) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..input.n_rows() {
        let w = input.weights.map_or(1.0, |w| w[i]);
        num += w * input.errors[i];
        den += w;
    }
    (den > 0.0).then(|| num / den)
}

/// The candidate with its membership over all `n` rows: the group's
/// decision values on its `rows`, [`OTHER_CLASS`] outside a class group.
fn with_membership(
    mut cand: Candidate,
    local: &[f32],
    rows: &[u32],
    in_class: bool,
    n: usize,
) -> Candidate {
    let fill = if in_class { OTHER_CLASS } else { 0.0 };
    let mut membership = vec![fill; n];
    for (&i, &m) in rows.iter().zip(local) {
        membership[i as usize] = m;
    }
    cand.membership = membership;
    cand
}

impl DirectionSlicer {
    /// The candidate of one group of rows (a class, or all rows), if it has
    /// enough errors and a prefix with positive excess; its membership is
    /// left empty and returned for the group's rows only. `start`: where
    /// the fit's Newton steps begin (see [`fit_glm`]).
    fn fit_group(
        &self,
        input: &EmbeddingInput<'_>,
        class: Option<usize>,
        rows: &[u32],
        ebar: f64,
        start: Option<(&[f32], f32)>,
        mut rng: Rng,
    ) -> Option<(Candidate, Vec<f32>)> {
        let p = &self.params;
        let view = input.view;
        let len = rows.len();
        let fw: Vec<f64> = rows
            .iter()
            .map(|&i| input.weights.map_or(1.0, |w| w[i as usize]))
            .collect();
        let y: Vec<f64> = rows.iter().map(|&i| input.errors[i as usize]).collect();
        let min_rows = p.min_rows(len);
        if min_rows > len {
            return None;
        }
        let v: Vec<f64> = if input.binary {
            let (mut n_err, mut n_ok, mut w_err, mut w_ok) = (0usize, 0usize, 0.0, 0.0);
            for (&y, &w) in y.iter().zip(&fw) {
                if w > 0.0 {
                    if y > 0.5 {
                        n_err += 1;
                        w_err += w;
                    } else {
                        n_ok += 1;
                        w_ok += w;
                    }
                }
            }
            if n_err < p.min_class_errors || n_ok < p.min_class_errors {
                return None;
            }
            let total = w_err + w_ok;
            y.iter()
                .zip(&fw)
                .map(|(&y, &w)| {
                    if y > 0.5 {
                        w * total / (2.0 * w_err)
                    } else {
                        w * total / (2.0 * w_ok)
                    }
                })
                .collect()
        } else {
            let used = fw.iter().filter(|&&w| w > 0.0).count();
            let first = y.iter().zip(&fw).find(|(_, &w)| w > 0.0).map(|(&y, _)| y);
            let constant = y
                .iter()
                .zip(&fw)
                .all(|(&y, &w)| w == 0.0 || Some(y) == first);
            if used < 2 * p.min_class_errors || constant {
                return None;
            }
            fw.clone()
        };

        let glm = fit_glm(
            view,
            rows,
            &y,
            &v,
            input.binary,
            p.l2,
            p.max_iter,
            HESSIAN_ROWS,
            start,
            &mut rng,
        );
        let weights: Vec<f32> = glm.weights.iter().map(|&w| w as f32).collect();
        let bias = glm.bias as f32;
        let w64: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
        let decision: Vec<f64> = rows
            .par_chunks(CHUNK)
            .flat_map_iter(|part| {
                clean_simd_state();
                part.iter()
                    .map(|&i| dot(view.row(i as usize), &w64) + f64::from(bias))
            })
            .collect();

        // Rows by decision value, highest first (ties by row).
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_unstable_by(|&a, &b| decision[b].total_cmp(&decision[a]).then(a.cmp(&b)));
        let mut best: Option<(usize, f64)> = None;
        let mut excess = 0.0;
        for (k, &pos) in order.iter().enumerate() {
            excess += fw[pos] * (y[pos] - ebar);
            let size = k + 1;
            let cut_here = size == len || decision[pos] > decision[order[size]];
            if size >= min_rows && cut_here && best.is_none_or(|(_, b)| excess > b) {
                best = Some((size, excess));
            }
        }
        let (size, _) = best.filter(|&(_, e)| e > 0.0)?;
        let last = decision[order[size - 1]];
        let cut = if size < len {
            0.5 * (last + decision[order[size]])
        } else {
            last
        };
        let threshold = f32_at_most(cut);
        let thr = f64::from(threshold);

        let local: Vec<f32> = decision.iter().map(|&v| (v - thr) as f32).collect();
        let mut members = Vec::new();
        let mut score = 0.0;
        for (pos, &i) in rows.iter().enumerate() {
            if decision[pos] >= thr {
                members.push(i);
                score += fw[pos] * (y[pos] - ebar);
            }
        }
        members.sort_unstable();
        if members.is_empty() || score <= 0.0 {
            return None;
        }
        let quality = if input.binary {
            format!("AUC {:.2}", auc(&order, &decision, &y, &fw))
        } else {
            format!(
                "correlation {:.2} with the error",
                correlation(&decision, &y, &fw)
            )
        };
        let name = class.and_then(|c| input.classes.map(|cl| cl.names[c].clone()));
        let share = format!("{} of {} rows", thousands(members.len()), thousands(len));
        let detail = match &name {
            Some(nm) => format!("class '{nm}': {share}, {quality}"),
            None => format!("{share}, {quality}"),
        };
        let candidate = Candidate {
            slicer: "direction".into(),
            view: view.name.clone(),
            membership: Vec::new(),
            members,
            definition: Definition::Halfspace {
                weights,
                bias,
                threshold,
                class: name,
            },
            score,
            detail,
        };
        Some((candidate, local))
    }
}

/// The largest f32 not above `x` (so that every row with a decision value
/// ≥ x stays a member after rounding).
fn f32_at_most(x: f64) -> f32 {
    let t = x as f32;
    if f64::from(t) <= x || !t.is_finite() {
        return t;
    }
    // One step towards −∞ (from −0.0 this gives the smallest negative
    // subnormal).
    let bits = t.to_bits();
    if t > 0.0 {
        f32::from_bits(bits - 1)
    } else {
        f32::from_bits(bits + 1)
    }
}

/// z·w with z in f32, four lanes.
#[inline]
pub(crate) fn dot(z: &[f32], w: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let d4 = z.len() / 4 * 4;
    for (zc, wc) in z[..d4].chunks_exact(4).zip(w[..d4].chunks_exact(4)) {
        for l in 0..4 {
            lanes[l] += f64::from(zc[l]) * wc[l];
        }
    }
    let mut s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for j in d4..z.len() {
        s += f64::from(z[j]) * w[j];
    }
    s
}

/// Weighted area under the ROC curve of the decision values for errors
/// (y = 1) against correct rows, ties counted half; `order` sorts the
/// values descending.
fn auc(order: &[usize], decision: &[f64], y: &[f64], w: &[f64]) -> f64 {
    let (mut pos_total, mut neg_total) = (0.0, 0.0);
    for (&y, &w) in y.iter().zip(w) {
        if y > 0.5 {
            pos_total += w;
        } else {
            neg_total += w;
        }
    }
    if pos_total <= 0.0 || neg_total <= 0.0 {
        return 0.5;
    }
    let mut neg_seen = 0.0;
    let mut num = 0.0;
    let mut k = 0;
    while k < order.len() {
        let value = decision[order[k]];
        let (mut gp, mut gn) = (0.0, 0.0);
        while k < order.len() && decision[order[k]] == value {
            let i = order[k];
            if y[i] > 0.5 {
                gp += w[i];
            } else {
                gn += w[i];
            }
            k += 1;
        }
        let below = neg_total - neg_seen - gn;
        num += gp * (below + 0.5 * gn);
        neg_seen += gn;
    }
    num / (pos_total * neg_total)
}

/// Weighted Pearson correlation.
fn correlation(a: &[f64], b: &[f64], w: &[f64]) -> f64 {
    let sw: f64 = w.iter().sum();
    if sw <= 0.0 {
        return 0.0;
    }
    let ma = a.iter().zip(w).map(|(a, w)| a * w).sum::<f64>() / sw;
    let mb = b.iter().zip(w).map(|(b, w)| b * w).sum::<f64>() / sw;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for ((a, b), w) in a.iter().zip(b).zip(w) {
        sab += w * (a - ma) * (b - mb);
        saa += w * (a - ma) * (a - ma);
        sbb += w * (b - mb) * (b - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// A fitted linear model in the view's coordinates: value = w·z + b.
#[derive(Debug, Clone, PartialEq)]
struct Glm {
    weights: Vec<f64>,
    bias: f64,
    /// Newton steps taken.
    steps: usize,
}

/// Sum per-chunk vectors of a parallel pass over `n` items in chunk order.
fn chunked_sum<F>(n: usize, width: usize, f: F) -> Vec<f64>
where
    F: Fn(std::ops::Range<usize>, &mut [f64]) + Sync,
{
    let parts: Vec<Vec<f64>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            clean_simd_state();
            let mut acc = vec![0.0; width];
            f(c * CHUNK..((c + 1) * CHUNK).min(n), &mut acc);
            acc
        })
        .collect();
    let mut total = vec![0.0; width];
    for part in &parts {
        total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
    }
    total
}

/// log(1 + e^x) without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Fit the logistic (`logistic`) or least-squares model of `y` on the rows
/// `rows` of the view, sample weights `v`, penalty `l2` on standardised
/// weights; Newton with the Hessian from at most `hessian_rows` rows,
/// from zero or from `start` (a normal and offset in the view's
/// coordinates, e.g. a stored slice's: the objective is strictly convex,
/// so the optimum is the same and a nearby start needs fewer steps).
#[allow(clippy::too_many_arguments)]
fn fit_glm(
    view: &ReducedView,
    rows: &[u32],
    y: &[f64],
    v: &[f64],
    logistic: bool,
    l2: f64,
    max_iter: usize,
    hessian_rows: usize,
    start: Option<(&[f32], f32)>,
    rng: &mut Rng,
) -> Glm {
    let d = view.dim;
    let n = rows.len();
    let dd = d + 1;
    let row = |p: usize| view.row(rows[p] as usize);

    // Standardisation (weighted by v).
    let vsum: f64 = v.iter().sum();
    let sums = chunked_sum(n, d, |r, acc| {
        for p in r {
            for (a, &z) in acc.iter_mut().zip(row(p)) {
                *a += v[p] * f64::from(z);
            }
        }
    });
    let mean: Vec<f64> = sums.iter().map(|s| s / vsum).collect();
    let sq = chunked_sum(n, d, |r, acc| {
        for p in r {
            for ((a, &z), m) in acc.iter_mut().zip(row(p)).zip(&mean) {
                let t = f64::from(z) - m;
                *a += v[p] * t * t;
            }
        }
    });
    let scale: Vec<f64> = sq
        .iter()
        .map(|s| {
            let sd = (s / vsum).sqrt();
            if sd > 1e-12 && sd.is_finite() {
                sd
            } else {
                1.0
            }
        })
        .collect();

    // Rows of the Hessian, standardised, with the factor that scales each
    // stratum's sampled weight up to the stratum's total.
    let strata: Vec<Vec<usize>> = if n <= hessian_rows {
        vec![(0..n).collect()]
    } else if logistic {
        let (err, ok): (Vec<usize>, Vec<usize>) = (0..n).partition(|&p| y[p] > 0.5);
        vec![err, ok]
    } else {
        vec![(0..n).collect()]
    };
    let per_stratum = if strata.len() == 1 {
        hessian_rows
    } else {
        hessian_rows / 2
    };
    let mut hpos: Vec<usize> = Vec::new();
    let mut hfactor: Vec<f64> = Vec::new();
    for stratum in strata {
        let total: f64 = stratum.iter().map(|&p| v[p]).sum();
        let picked = sample(stratum, per_stratum, rng);
        let got: f64 = picked.iter().map(|&p| v[p]).sum();
        let f = if got > 0.0 { total / got } else { 0.0 };
        hfactor.extend(std::iter::repeat_n(f, picked.len()));
        hpos.extend(picked);
    }
    let mut hx: Vec<f32> = Vec::with_capacity(hpos.len() * dd);
    for &p in &hpos {
        hx.extend(
            row(p)
                .iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((&z, m), s)| ((f64::from(z) - m) / s) as f32),
        );
        hx.push(1.0);
    }

    // Parameters in standardised coordinates: theta[..d] = β, theta[d] = b.
    let mut theta = vec![0.0; dd];
    let vy: f64 = y.iter().zip(v).map(|(y, v)| y * v).sum();
    theta[d] = if logistic {
        let pos = vy / vsum;
        if pos > 0.0 && pos < 1.0 {
            (pos / (1.0 - pos)).ln()
        } else {
            0.0
        }
    } else {
        vy / vsum
    };
    let mut eta = vec![theta[d]; n];
    if let Some((w, b)) =
        start.filter(|(w, b)| w.len() == d && b.is_finite() && w.iter().all(|x| x.is_finite()))
    {
        // β_j = w_j·s_j and b' = b + Σ w_j·m_j in standardised coordinates.
        let w64: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
        for j in 0..d {
            theta[j] = w64[j] * scale[j];
        }
        theta[d] = f64::from(b) + (0..d).map(|j| w64[j] * mean[j]).sum::<f64>();
        eta.par_chunks_mut(CHUNK).enumerate().for_each(|(c, part)| {
            clean_simd_state();
            for (k, e) in part.iter_mut().enumerate() {
                *e = dot(row(c * CHUNK + k), &w64) + f64::from(b);
            }
        });
    }
    let objective = |eta: &[f64], deta: &[f64], t: f64, theta: &[f64]| -> f64 {
        let data = chunked_sum(n, 1, |r, acc| {
            for p in r {
                let e = eta[p] + t * deta[p];
                acc[0] += v[p]
                    * if logistic {
                        softplus(e) - y[p] * e
                    } else {
                        0.5 * (e - y[p]) * (e - y[p])
                    };
            }
        })[0];
        data + 0.5 * l2 * theta[..d].iter().map(|b| b * b).sum::<f64>()
    };
    let zero = vec![0.0; n];
    let mut f = objective(&eta, &zero, 0.0, &theta);
    let mut deta = vec![0.0; n];
    let mut steps = 0;
    for _ in 0..max_iter {
        // Gradient on every row: Σ r_i x'_i with x' = (z − m)/s.
        let raw = chunked_sum(n, dd, |r, acc| {
            for p in r {
                let res = v[p]
                    * if logistic {
                        sigmoid(eta[p]) - y[p]
                    } else {
                        eta[p] - y[p]
                    };
                for (a, &z) in acc[..d].iter_mut().zip(row(p)) {
                    *a += res * f64::from(z);
                }
                acc[d] += res;
            }
        });
        let mut grad = vec![0.0; dd];
        for j in 0..d {
            grad[j] = (raw[j] - mean[j] * raw[d]) / scale[j] + l2 * theta[j];
        }
        grad[d] = raw[d];

        // Hessian on the Hessian rows: Σ h x xᵀ as (√h·X)ᵀ(√h·X), lower
        // triangle by faer per chunk of rows, chunks summed in order.
        let hn = hpos.len();
        let parts: Vec<Mat<f64>> = (0..hn.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let range = c * CHUNK..((c + 1) * CHUNK).min(hn);
                let mut buf = vec![0.0f64; range.len() * dd];
                for (b, q) in buf.chunks_exact_mut(dd).zip(range.clone()) {
                    let p = hpos[q];
                    let h = hfactor[q]
                        * v[p]
                        * if logistic {
                            let s = sigmoid(eta[p]);
                            s * (1.0 - s)
                        } else {
                            1.0
                        };
                    let root = h.max(0.0).sqrt();
                    for (bj, &x) in b.iter_mut().zip(&hx[q * dd..(q + 1) * dd]) {
                        *bj = root * f64::from(x);
                    }
                }
                let x = MatRef::from_row_major_slice(&buf, range.len(), dd);
                let mut g = Mat::<f64>::zeros(dd, dd);
                tri_matmul(
                    g.as_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Replace,
                    x.transpose(),
                    BlockStructure::Rectangular,
                    x,
                    BlockStructure::Rectangular,
                    1.0,
                    Par::Seq,
                );
                // The kernel may leave this worker's SIMD state dirty.
                clean_simd_state();
                g
            })
            .collect();
        let mut hess = vec![0.0; dd * dd];
        for g in &parts {
            for j in 0..dd {
                for k in 0..=j {
                    hess[j * dd + k] += g[(j, k)];
                }
            }
        }
        for j in 0..dd {
            for k in 0..j {
                hess[k * dd + j] = hess[j * dd + k];
            }
        }
        for j in 0..d {
            hess[j * dd + j] += l2;
        }
        let Some(step) = solve_spd(&hess, dd, &grad) else {
            break;
        };
        let delta: Vec<f64> = step.iter().map(|s| -s).collect();
        let decrement: f64 = -grad.iter().zip(&delta).map(|(g, s)| g * s).sum::<f64>();
        if !(decrement.is_finite() && decrement > 0.0) || decrement <= 1e-12 * (1.0 + f.abs()) {
            break;
        }

        // Change of every decision value along the step.
        let wstep: Vec<f64> = (0..d).map(|j| delta[j] / scale[j]).collect();
        let bstep = delta[d] - (0..d).map(|j| wstep[j] * mean[j]).sum::<f64>();
        deta.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, part)| {
                clean_simd_state();
                for (k, de) in part.iter_mut().enumerate() {
                    *de = dot(row(c * CHUNK + k), &wstep) + bstep;
                }
            });

        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let cand: Vec<f64> = theta.iter().zip(&delta).map(|(a, s)| a + t * s).collect();
            let fnew = objective(&eta, &deta, t, &cand);
            if fnew <= f - 1e-4 * t * decrement {
                accepted = Some((cand, fnew));
                break;
            }
            t *= 0.5;
        }
        let Some((cand, fnew)) = accepted else { break };
        steps += 1;
        theta = cand;
        eta.iter_mut().zip(&deta).for_each(|(e, de)| *e += t * de);
        let gain = f - fnew;
        f = fnew;
        if gain <= 1e-12 * (1.0 + f.abs()) {
            break;
        }
    }
    let weights: Vec<f64> = (0..d).map(|j| theta[j] / scale[j]).collect();
    let bias = theta[d] - (0..d).map(|j| weights[j] * mean[j]).sum::<f64>();
    Glm {
        weights,
        bias,
        steps,
    }
}

/// At most `k` of `items` drawn without replacement, in their original
/// order (all of them when there are at most `k`).
fn sample(mut items: Vec<usize>, k: usize, rng: &mut Rng) -> Vec<usize> {
    if items.len() <= k {
        return items;
    }
    for i in 0..k {
        let j = i + rng.below((items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
    items.truncate(k);
    items.sort_unstable();
    items
}

/// Solve A x = b for a symmetric positive definite A (row-major, dim × dim)
/// by Cholesky, adding a growing ridge when A is numerically singular.
fn solve_spd(a: &[f64], dim: usize, b: &[f64]) -> Option<Vec<f64>> {
    let trace: f64 = (0..dim).map(|j| a[j * dim + j]).sum::<f64>() / dim as f64;
    let mut jitter = 0.0;
    for _ in 0..12 {
        if let Some(l) = cholesky(a, dim, jitter) {
            // L y = b, then Lᵀ x = y (Lᵀ is row-major as the columns of L,
            // so the back substitution runs over a transposed copy).
            let mut y = b.to_vec();
            for i in 0..dim {
                let row = &l[i * dim..i * dim + i];
                y[i] = (y[i] - dot64(row, &y[..i])) / l[i * dim + i];
            }
            let mut lt = vec![0.0; dim * dim];
            for i in 0..dim {
                for k in 0..=i {
                    lt[k * dim + i] = l[i * dim + k];
                }
            }
            let mut x = y;
            for i in (0..dim).rev() {
                let s = dot64(&lt[i * dim + i + 1..(i + 1) * dim], &x[i + 1..]);
                x[i] = (x[i] - s) / lt[i * dim + i];
            }
            if x.iter().all(|v| v.is_finite()) {
                return Some(x);
            }
        }
        jitter = if jitter == 0.0 {
            1e-10 * trace.max(1e-300)
        } else {
            jitter * 100.0
        };
    }
    None
}

/// Lower Cholesky factor (row-major) of A + jitter·I, or None when not
/// positive definite.
fn cholesky(a: &[f64], dim: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let s = dot64(&l[i * dim..i * dim + j], &l[j * dim..j * dim + j]);
            if i == j {
                let diag = a[i * dim + i] + jitter - s;
                if !(diag > 0.0 && diag.is_finite()) {
                    return None;
                }
                l[i * dim + i] = diag.sqrt();
            } else {
                l[i * dim + j] = (a[i * dim + j] - s) / l[j * dim + j];
            }
        }
    }
    Some(l)
}

/// a·b in four lanes.
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let n4 = a.len().min(b.len()) / 4 * 4;
    for (ac, bc) in a[..n4].chunks_exact(4).zip(b[..n4].chunks_exact(4)) {
        for l in 0..4 {
            lanes[l] += ac[l] * bc[l];
        }
    }
    let tail: f64 = a[n4..].iter().zip(&b[n4..]).map(|(x, y)| x * y).sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Classes;

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
        let union = sa.union(&sb).count() as f64;
        if union == 0.0 {
            0.0
        } else {
            sa.intersection(&sb).count() as f64 / union
        }
    }

    fn cosine(a: &[f32], b: &[f64]) -> f64 {
        let ab: f64 = a.iter().zip(b).map(|(&a, b)| f64::from(a) * b).sum();
        let aa: f64 = a.iter().map(|&a| f64::from(a).powi(2)).sum();
        let bb: f64 = b.iter().map(|b| b * b).sum();
        ab / (aa * bb).sqrt()
    }

    /// Standard normal rows; `u` a random unit vector; the planted rows
    /// are those with z·u > cut.
    fn gaussian(
        n: usize,
        dim: usize,
        cut: f64,
        seed: u64,
    ) -> (ReducedView, Vec<f64>, Vec<u32>, Rng) {
        let mut rng = Rng::new(seed);
        let mut u: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        u.iter_mut().for_each(|x| *x /= norm);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
        let v = view(data, dim);
        let planted = (0..n)
            .filter(|&i| {
                let s: f64 = v
                    .row(i)
                    .iter()
                    .zip(&u)
                    .map(|(&z, u)| f64::from(z) * u)
                    .sum();
                s > cut
            })
            .map(|i| i as u32)
            .collect();
        (v, u, planted, rng)
    }

    fn errors_for(n: usize, planted: &[u32], inside: f64, outside: f64, rng: &mut Rng) -> Vec<f64> {
        let set: std::collections::HashSet<u32> = planted.iter().copied().collect();
        (0..n)
            .map(|i| {
                let rate = if set.contains(&(i as u32)) {
                    inside
                } else {
                    outside
                };
                f64::from(u8::from(rng.uniform() < rate))
            })
            .collect()
    }

    fn halfspace(c: &Candidate) -> (&[f32], f32, f32, Option<&str>) {
        match &c.definition {
            Definition::Halfspace {
                weights,
                bias,
                threshold,
                class,
            } => (weights, *bias, *threshold, class.as_deref()),
            other => panic!("not a halfspace: {other:?}"),
        }
    }

    #[test]
    fn finds_planted_halfspace() {
        let n = 20_000;
        let (v, u, planted, mut rng) = gaussian(n, 16, 1.0, 1);
        let errors = errors_for(n, &planted, 0.7, 0.05, &mut rng);
        let found = DirectionSlicer::default()
            .fit(&input(&v, &errors, 3))
            .unwrap();
        assert_eq!(found.len(), 1);
        let c = &found[0];
        let j = jaccard(&c.members, &planted);
        assert!(j >= 0.7, "jaccard {j}");
        let (w, b, thr, class) = halfspace(c);
        assert!(class.is_none());
        let cos = cosine(w, &u);
        assert!(cos >= 0.9, "cosine {cos}");
        assert!(c.score > 0.0);
        assert!(c.detail.contains(" of 20,000 rows, AUC 0."), "{}", c.detail);
        assert!(c.members.windows(2).all(|p| p[0] < p[1]));
        // Membership is the decision value minus the cut; members are ≥ 0.
        for (i, &m) in c.membership.iter().enumerate() {
            let dv: f64 = v
                .row(i)
                .iter()
                .zip(w)
                .map(|(&z, &w)| f64::from(z) * f64::from(w))
                .sum::<f64>()
                + f64::from(b);
            assert!((f64::from(m) - (dv - f64::from(thr))).abs() < 1e-4);
        }
        let by_rule: Vec<u32> = (0..n as u32)
            .filter(|&i| c.membership[i as usize] >= 0.0)
            .collect();
        assert_eq!(by_rule, c.members);
        // Excess errors over the overall rate.
        let ebar = errors.iter().sum::<f64>() / n as f64;
        let excess: f64 = c.members.iter().map(|&i| errors[i as usize] - ebar).sum();
        assert!((excess - c.score).abs() < 1e-6);
    }

    fn three_classes(n: usize, seed: u64) -> (ReducedView, Vec<f64>, Classes, Vec<u32>) {
        let (v, _, planted, mut rng) = gaussian(n, 12, 1.0, seed);
        let label: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let in_b: Vec<u32> = planted
            .iter()
            .copied()
            .filter(|&i| label[i as usize] == 1)
            .collect();
        let set: std::collections::HashSet<u32> = in_b.iter().copied().collect();
        let errors: Vec<f64> = (0..n)
            .map(|i| {
                let rate = if set.contains(&(i as u32)) { 0.7 } else { 0.05 };
                f64::from(u8::from(rng.uniform() < rate))
            })
            .collect();
        let pred: Vec<u32> = label
            .iter()
            .zip(&errors)
            .map(|(&l, &e)| if e > 0.0 { (l + 1) % 3 } else { l })
            .collect();
        let classes = Classes {
            names: vec!["a".into(), "b".into(), "c".into()],
            label,
            pred,
        };
        (v, errors, classes, in_b)
    }

    #[test]
    fn refit_reruns_only_the_slice_class() {
        let n = 30_000;
        let (v, errors, classes, _) = three_classes(n, 2);
        let mut inp = input(&v, &errors, 5);
        inp.classes = Some(&classes);
        let slicer = DirectionSlicer::default();
        let found = slicer.fit(&inp).unwrap();
        let top = &found[0];
        assert_eq!(halfspace(top).3, Some("b"));
        // On a bootstrap resample: one candidate, of class b, much the same
        // rows.
        let w = super::super::bootstrap_weights(n, 8);
        let resample = EmbeddingInput {
            weights: Some(&w),
            ..inp
        };
        let again = slicer.refit(&resample, &top.definition).unwrap().unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(halfspace(&again[0]).3, Some("b"));
        let j = jaccard(&again[0].members, &top.members);
        assert!(j >= 0.8, "jaccard {j}");
        assert_eq!(again[0].membership.len(), n);
        // A class the labels do not have gives nothing; another kind of
        // definition has no refit.
        let Definition::Halfspace {
            weights,
            bias,
            threshold,
            ..
        } = &top.definition
        else {
            panic!("not a halfspace");
        };
        let other = Definition::Halfspace {
            weights: weights.clone(),
            bias: *bias,
            threshold: *threshold,
            class: Some("zebra".into()),
        };
        assert!(slicer.refit(&resample, &other).unwrap().unwrap().is_empty());
        let kernel = Definition::Kernel {
            center: vec![0.0; v.dim],
            precision: vec![1.0; v.dim],
            threshold: 0.5,
            class: None,
        };
        assert!(slicer.refit(&resample, &kernel).unwrap().is_none());
    }

    #[test]
    fn per_class_finds_the_failing_class() {
        let n = 30_000;
        let (v, errors, classes, in_b) = three_classes(n, 2);
        let mut inp = input(&v, &errors, 5);
        inp.classes = Some(&classes);
        let found = DirectionSlicer::default().fit(&inp).unwrap();
        assert!(!found.is_empty());
        let top = &found[0];
        assert_eq!(halfspace(top).3, Some("b"));
        assert!(top.detail.starts_with("class 'b': "), "{}", top.detail);
        let j = jaccard(&top.members, &in_b);
        assert!(j >= 0.6, "jaccard {j}");
        // Only class-b rows, and the others rank last.
        for &i in &top.members {
            assert_eq!(classes.label[i as usize], 1);
        }
        for (i, &m) in top.membership.iter().enumerate() {
            if classes.label[i] != 1 {
                assert_eq!(m, OTHER_CLASS);
            }
        }
        assert!(found.windows(2).all(|p| p[0].score >= p[1].score));
        assert!(found.iter().all(|c| c.score > 0.0));
        // Without per_class: one direction over all rows.
        let all = DirectionSlicer::new(DirectionParams {
            per_class: false,
            ..Default::default()
        })
        .fit(&inp)
        .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(halfspace(&all[0]).3, None);
    }

    #[test]
    fn keeps_the_best_twenty_of_many_classes() {
        let n = 24_000;
        let (v, _, planted, mut rng) = gaussian(n, 6, 1.0, 12);
        let label: Vec<u32> = (0..n).map(|i| (i % 30) as u32).collect();
        let set: std::collections::HashSet<u32> = planted.iter().copied().collect();
        // Class c fails in the planted region at a rate growing with c.
        let errors: Vec<f64> = (0..n)
            .map(|i| {
                let c = f64::from(label[i]);
                let rate = if set.contains(&(i as u32)) {
                    0.2 + 0.02 * c
                } else {
                    0.05
                };
                f64::from(u8::from(rng.uniform() < rate))
            })
            .collect();
        let classes = Classes {
            names: (0..30).map(|c| format!("k{c}")).collect(),
            pred: label.iter().map(|&l| (l + 1) % 30).collect(),
            label,
        };
        let mut inp = input(&v, &errors, 1);
        inp.classes = Some(&classes);
        let found = DirectionSlicer::default().fit(&inp).unwrap();
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert!(found.windows(2).all(|p| p[0].score >= p[1].score));
        for c in &found {
            assert_eq!(c.membership.len(), n);
            let Some(name) = halfspace(c).3 else {
                // The direction on all rows: every row has a decision value.
                assert!(c.membership.iter().all(|&m| m != OTHER_CLASS));
                continue;
            };
            let k: u32 = name[1..].parse().unwrap();
            for &i in &c.members {
                assert_eq!(classes.label[i as usize], k);
            }
            assert!(c
                .membership
                .iter()
                .zip(&classes.label)
                .all(|(&m, &l)| (l == k) != (m == OTHER_CLASS)));
        }
        // The top classes are among those failing most.
        let top = found.iter().find_map(|c| halfspace(c).3).unwrap()[1..]
            .parse::<u32>()
            .unwrap();
        assert!(top >= 15, "{top}");
    }

    #[test]
    fn skips_classes_with_few_errors() {
        let n = 3000;
        let (v, mut errors, classes, _) = three_classes(n, 3);
        // Class 'c' (2) gets no errors at all.
        for (e, &l) in errors.iter_mut().zip(&classes.label) {
            if l == 2 {
                *e = 0.0;
            }
        }
        let mut inp = input(&v, &errors, 5);
        inp.classes = Some(&classes);
        let found = DirectionSlicer::default().fit(&inp).unwrap();
        assert!(found.iter().all(|c| halfspace(c).3 != Some("c")));
    }

    #[test]
    fn continuous_loss_uses_ridge() {
        let n = 20_000;
        let (v, u, planted, mut rng) = gaussian(n, 16, 1.0, 4);
        let set: std::collections::HashSet<u32> = planted.iter().copied().collect();
        let errors: Vec<f64> = (0..n)
            .map(|i| {
                let base = -rng.uniform().max(1e-12).ln() * 0.3;
                if set.contains(&(i as u32)) {
                    base + 1.5
                } else {
                    base
                }
            })
            .collect();
        let inp = input(&v, &errors, 1);
        assert!(!inp.binary);
        let found = DirectionSlicer::default().fit(&inp).unwrap();
        assert_eq!(found.len(), 1);
        let c = &found[0];
        let j = jaccard(&c.members, &planted);
        assert!(j >= 0.7, "jaccard {j}");
        let cos = cosine(halfspace(c).0, &u);
        assert!(cos >= 0.9, "cosine {cos}");
        assert!(c.detail.contains("correlation 0."), "{}", c.detail);
    }

    #[test]
    fn rare_errors_are_still_found() {
        // 2.3% of rows with a 40% error rate, 0.2% elsewhere: ~1% errors.
        // The balanced fit still recovers the direction; the cut (where
        // the local error rate falls to the overall 1%) keeps nearly all
        // planted rows plus some just below the boundary.
        let n = 40_000;
        let (v, u, planted, mut rng) = gaussian(n, 8, 2.0, 6);
        let errors = errors_for(n, &planted, 0.4, 0.002, &mut rng);
        let found = DirectionSlicer::default()
            .fit(&input(&v, &errors, 2))
            .unwrap();
        assert_eq!(found.len(), 1);
        let c = &found[0];
        let cos = cosine(halfspace(c).0, &u);
        assert!(cos >= 0.95, "cosine {cos}");
        let members: std::collections::HashSet<u32> = c.members.iter().copied().collect();
        let recall =
            planted.iter().filter(|i| members.contains(i)).count() as f64 / planted.len() as f64;
        assert!(recall >= 0.9, "recall {recall}");
        let ebar = errors.iter().sum::<f64>() / n as f64;
        let rate =
            c.members.iter().map(|&i| errors[i as usize]).sum::<f64>() / c.members.len() as f64;
        assert!(rate >= 10.0 * ebar, "{rate} vs {ebar}");
    }

    #[test]
    fn balanced_weights_halve_the_total() {
        // The balanced logistic fit of a rare class puts its intercept near
        // 0 on a featureless problem, where the unbalanced one would sit
        // at the log-odds of the base rate.
        let n = 2000;
        let v = view(vec![0.0; n], 1);
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 50 == 0))).collect();
        let rows: Vec<u32> = (0..n as u32).collect();
        let total = n as f64;
        let w_err = y.iter().sum::<f64>();
        let vb: Vec<f64> = y
            .iter()
            .map(|&y| {
                if y > 0.5 {
                    total / (2.0 * w_err)
                } else {
                    total / (2.0 * (total - w_err))
                }
            })
            .collect();
        let mut rng = Rng::new(0);
        let logistic = |weights: &[f64], rng: &mut Rng| {
            fit_glm(
                &v,
                &rows,
                &y,
                weights,
                true,
                1.0,
                50,
                HESSIAN_ROWS,
                None,
                rng,
            )
        };
        let balanced = logistic(&vb, &mut rng);
        assert!(balanced.bias.abs() < 1e-6, "{}", balanced.bias);
        let plain = logistic(&vec![1.0; n], &mut rng);
        assert!(
            (plain.bias - (1.0f64 / 49.0).ln()).abs() < 1e-6,
            "{}",
            plain.bias
        );
    }

    #[test]
    fn subsampled_hessian_reaches_the_same_optimum() {
        let n = 5000;
        let (v, _, planted, mut rng) = gaussian(n, 6, 1.0, 8);
        let y = errors_for(n, &planted, 0.7, 0.05, &mut rng);
        let rows: Vec<u32> = (0..n as u32).collect();
        let w = vec![1.0; n];
        for logistic in [true, false] {
            let fit = |hessian_rows, start| {
                fit_glm(
                    &v,
                    &rows,
                    &y,
                    &w,
                    logistic,
                    1.0,
                    100,
                    hessian_rows,
                    start,
                    &mut Rng::new(1),
                )
            };
            let exact = fit(n, None);
            let sub = fit(400, None);
            // From a start away from the optimum (the optimum's normal
            // doubled, its offset shifted), the same optimum.
            let far: Vec<f32> = exact.weights.iter().map(|&w| (2.0 * w) as f32).collect();
            let warm = fit(n, Some((&far, exact.bias as f32 + 1.0)));
            for other in [&sub, &warm] {
                for (a, b) in exact.weights.iter().zip(&other.weights) {
                    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
                }
                assert!((exact.bias - other.bias).abs() < 1e-5);
            }
            // Started at the optimum (rounded to f32, as a stored slice
            // is), it takes fewer steps than from zero.
            let at: Vec<f32> = exact.weights.iter().map(|&w| w as f32).collect();
            let resumed = fit(n, Some((&at, exact.bias as f32)));
            assert!(
                resumed.steps < exact.steps,
                "{} steps from the optimum, {} from zero",
                resumed.steps,
                exact.steps
            );
        }
        // Ridge agrees with the normal equations on a 1-d problem.
        let x: Vec<f32> = (0..200).map(|i| (i as f32) / 100.0 - 1.0).collect();
        let y: Vec<f64> = x.iter().map(|&x| 3.0 * f64::from(x) + 0.5).collect();
        let v1 = view(x, 1);
        let rows: Vec<u32> = (0..200).collect();
        let fit = fit_glm(
            &v1,
            &rows,
            &y,
            &[1.0; 200],
            false,
            0.0,
            20,
            1000,
            None,
            &mut Rng::new(1),
        );
        assert!((fit.weights[0] - 3.0).abs() < 1e-6 && (fit.bias - 0.5).abs() < 1e-6);
    }

    #[test]
    fn min_size_is_respected() {
        let n = 5000;
        let (v, _, planted, mut rng) = gaussian(n, 8, 1.5, 9);
        let errors = errors_for(n, &planted, 0.9, 0.05, &mut rng);
        let slicer = DirectionSlicer::new(DirectionParams {
            min_size: 1500.0,
            ..Default::default()
        });
        let found = slicer.fit(&input(&v, &errors, 0)).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].members.len() >= 1500, "{}", found[0].members.len());
    }

    #[test]
    fn deterministic_for_a_seed() {
        let n = 60_000;
        let (v, errors, classes, _) = three_classes(n, 10);
        let mut inp = input(&v, &errors, 5);
        inp.classes = Some(&classes);
        let a = DirectionSlicer::default().fit(&inp).unwrap();
        let b = DirectionSlicer::default().fit(&inp).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| DirectionSlicer::default().fit(&inp).unwrap());
        assert_eq!(a, c);
    }

    #[test]
    fn tiny_and_degenerate_inputs_do_not_panic() {
        let slicer = DirectionSlicer::default();
        for n in 0..30 {
            let v = view((0..n * 2).map(|i| (i % 7) as f32).collect(), 2);
            let errors: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
            let found = slicer
                .fit(&input(&v, &errors, 0))
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            for c in found {
                assert_eq!(c.membership.len(), n);
            }
        }
        let v = view(vec![0.5; 400], 2);
        let errors: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        assert!(slicer.fit(&input(&v, &errors, 0)).unwrap().is_empty());
        let zeros = vec![0.0; 200];
        assert!(slicer.fit(&input(&v, &zeros, 0)).unwrap().is_empty());
        let losses = vec![0.7; 200];
        assert!(slicer.fit(&input(&v, &losses, 0)).unwrap().is_empty());
        // Separable data without a penalty stays finite.
        let data: Vec<f32> = (0..400)
            .map(|i| if i % 2 == 0 { (i / 2) as f32 } else { 0.0 })
            .collect();
        let v = view(data, 2);
        let errors: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i >= 150))).collect();
        let strict = DirectionSlicer::new(DirectionParams {
            l2: 0.0,
            ..Default::default()
        });
        let found = strict.fit(&input(&v, &errors, 0)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].members, (150..200).collect::<Vec<u32>>());
        assert!(halfspace(&found[0]).0.iter().all(|w| w.is_finite()));
    }

    #[test]
    fn bad_input_is_an_error() {
        let v = view(vec![0.0; 4], 2);
        let classes = Classes {
            names: vec!["a".into()],
            label: vec![0, 1],
            pred: vec![0, 0],
        };
        let mut inp = input(&v, &[0.0, 1.0], 0);
        inp.classes = Some(&classes);
        let e = DirectionSlicer::default().fit(&inp).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e}");
        let w = [1.0];
        let mut inp = input(&v, &[0.0, 1.0], 0);
        inp.weights = Some(&w);
        let e = DirectionSlicer::default().fit(&inp).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
    }

    fn invalid(params: DirectionParams, name: &str) {
        let v = view(vec![0.0; 4], 2);
        let errors = [0.0, 1.0];
        let slicer = DirectionSlicer::new(params);
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
    fn rejects_bad_l2() {
        for l2 in [-1.0, f64::NAN, f64::INFINITY] {
            invalid(
                DirectionParams {
                    l2,
                    ..Default::default()
                },
                "direction.l2",
            );
        }
    }

    #[test]
    fn rejects_zero_max_iter() {
        invalid(
            DirectionParams {
                max_iter: 0,
                ..Default::default()
            },
            "direction.max_iter",
        );
    }

    #[test]
    fn rejects_bad_min_size() {
        for min_size in [0.0, -3.0, f64::NAN] {
            invalid(
                DirectionParams {
                    min_size,
                    ..Default::default()
                },
                "direction.min_size",
            );
        }
    }

    #[test]
    fn rejects_zero_min_class_errors() {
        invalid(
            DirectionParams {
                min_class_errors: 0,
                ..Default::default()
            },
            "direction.min_class_errors",
        );
    }

    #[test]
    fn params_from_toml_are_strict() {
        let p: DirectionParams = toml::from_str("per_class = false\nl2 = 0.5").unwrap();
        assert!(!p.per_class);
        assert_eq!(p.l2, 0.5);
        assert_eq!(p.max_iter, 100);
        assert!(toml::from_str::<DirectionParams>("per-class = false").is_err());
        assert_eq!(p.min_rows(100), 10);
        assert_eq!(p.min_rows(100_000), 1000);
    }

    #[test]
    fn helpers() {
        for x in [0.1f64, -0.1, 1.0 / 3.0, -1.0 / 3.0, 0.0, 1e30] {
            let t = f32_at_most(x);
            assert!(f64::from(t) <= x);
            assert!(f64::from(t) > x - 1e-6 * (1.0 + x.abs()));
        }
        // AUC: perfect, reversed, ties.
        let d = [3.0, 2.0, 1.0, 0.0];
        let order = [0, 1, 2, 3];
        let w = [1.0; 4];
        assert_eq!(auc(&order, &d, &[1.0, 1.0, 0.0, 0.0], &w), 1.0);
        assert_eq!(auc(&order, &d, &[0.0, 0.0, 1.0, 1.0], &w), 0.0);
        assert_eq!(auc(&order, &[1.0; 4], &[1.0, 0.0, 1.0, 0.0], &w), 0.5);
        let x = solve_spd(&[4.0, 2.0, 2.0, 3.0], 2, &[2.0, 1.0]).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
        // A random SPD system of 9 unknowns (more than the four lanes).
        let mut rng = Rng::new(4);
        let m: Vec<f64> = (0..81).map(|_| rng.normal()).collect();
        let mut a = vec![0.0; 81];
        for i in 0..9 {
            for j in 0..9 {
                a[i * 9 + j] = (0..9).map(|k| m[i * 9 + k] * m[j * 9 + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let b: Vec<f64> = (0..9).map(|i| i as f64 - 4.0).collect();
        let x = solve_spd(&a, 9, &b).unwrap();
        for i in 0..9 {
            let ax: f64 = (0..9).map(|j| a[i * 9 + j] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-9, "{ax} vs {}", b[i]);
        }
    }
}
