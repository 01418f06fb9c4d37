//! The error-aware mixture slicer (Domino-style, without its quirks).
//!
//! A mixture of up to `K̄` diagonal Gaussians over the reduced embedding
//! `z` is fitted jointly with categorical models of the label and the
//! prediction (classification tasks) and a model of the error signal
//! (Bernoulli for 0/1 errors; otherwise a Gaussian with a shared variance
//! on the errors' normal scores). Each outcome term is a weighted
//! log-likelihood:
//!
//! log r_is ∝ log π_s + log N_diag(z_i; μ_s, σ²_s) + γ·log p_s(y_i)
//!           + γ̂·log p̂_s(ŷ_i) + ω·log q_s(e_i)
//!
//! so that components follow groups of rows that are close in the
//! embedding *and* share an outcome. Components are then ranked by their
//! excess errors among hard members (rows whose posterior reaches
//! `member_threshold`), not by Domino's probability gap, and rows are not
//! forced into any component.
//!
//! Differences from Domino (v0.1.5, see ALGORITHMS.md B1):
//! - the error signal is modelled directly (weight ω, default 1: see
//!   [`MixtureParams::error_weight`]), so regression and per-sample losses
//!   work too; continuous errors enter as normal scores with a variance
//!   shared by all components, so spare components cannot gain by
//!   modelling the tail of the loss distribution;
//! - the confusion initialisation does not need `K̄ ≥ c²`: components go
//!   to the largest (label, prediction, error) cells in proportion to
//!   their size and are spread within a cell by k-means++ seeding (which
//!   separates them, so no noise is added to the responsibilities); the
//!   other initialisations are k-means++ on `z`;
//! - after EM converges, components are merged greedily while the BIC
//!   improves (merged statistics are exact sums, so this costs no pass
//!   over the rows), and EM resumes; with more components than groups, EM
//!   otherwise splits a group into overlapping fragments, each a poor
//!   slice. The best of `n_init` fits by BIC-penalised log-likelihood is
//!   kept;
//! - categorical and Bernoulli parameters are smoothed by half a typical
//!   row of pseudo-count instead of an `eps` inside the logarithm;
//! - components that lose their rows are dropped instead of lingering with
//!   `10·eps` weight;
//! - ranking by excess errors; members by posterior threshold.
//!
//! The E-step evaluates all components of a block of rows with two f32
//! matrix products ((z∘z)·(−½/σ²) + z·(μ/σ²)); the M-step's sums are two
//! more products of the weighted responsibilities with `z` and `z∘z`.
//! Blocks run in parallel and their sums are added in block order, so
//! results do not depend on the number of threads.

use std::collections::{BTreeMap, HashMap};

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::slicers::{Candidate, Definition, EmbeddingInput, EmbeddingSlicer, RowSubset};
use crate::views::ReducedView;

/// Parameters of the mixture slicer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureParams {
    /// Number of mixture components K̄ to start from (default 25,
    /// Domino's). Capped at n/10 so that every component can hold rows;
    /// components are then merged while the BIC improves.
    pub n_components: usize,
    /// Most candidates returned (default 5).
    pub n_slices: usize,
    /// γ: weight of the label log-likelihood term (default 1, Domino
    /// v0.1.5's default). Domino's tutorial uses 40 and the dcbench
    /// baseline 10; any γ, γ̂ > 1 favours components pure in (label,
    /// prediction): with 0/1 errors such a component is one confusion cell
    /// ("cat predicted as dog"), all errors or none, spread over the view
    /// rather than a region of it. Measured on a planted 5% cluster in a
    /// 64-d view with 3 classes: at 10 the top components were confusion
    /// cells (Jaccard 0.13 with the cluster, concentration 0.39), at 1 the
    /// top component was the cluster (Jaccard 1.0). Components that are
    /// not concentrated in the view are dropped by the scan.
    pub y_weight: f64,
    /// γ̂: weight of the prediction log-likelihood term (default 1, as γ).
    pub yhat_weight: f64,
    /// ω: weight of the error term: Bernoulli log-likelihood of 0/1 errors,
    /// otherwise Gaussian log-likelihood of the error value with the
    /// errors' overall variance (default 1). Any ω > 1 makes it pay to
    /// split a region into its erring and its correct rows (the gain,
    /// ω·H(ρ) per row, beats the cost in mixture weights, H(ρ)), so the
    /// top components become "the errors of region X" — slices defined by
    /// the outcome itself — instead of region X; at ω = 1 the term is an
    /// ordinary likelihood and components follow regions of high error.
    pub error_weight: f64,
    /// Number of initialisations (default 3): the first from the
    /// (label, prediction, error) cells, the others k-means++ on the
    /// embedding; the fit with the highest BIC-penalised log-likelihood
    /// wins.
    pub n_init: usize,
    /// Most EM iterations per initialisation (default 100).
    pub max_iter: usize,
    /// EM stops when the mean log-likelihood per row changes by less than
    /// this (default 1e-3, scikit-learn's and Domino's).
    pub tol: f64,
    /// Added to every variance, relative to the view's mean variance per
    /// dimension (default 1e-3).
    pub reg_covar: f64,
    /// Smallest component reported: rows when ≥ 1, a fraction of the rows
    /// when < 1 (default 0.005). With weights, the weighted size is used.
    pub min_size: f64,
    /// A row is a member of a component when its membership posterior is
    /// at least this (default 0.5). The membership posterior uses the
    /// embedding and the label term only: the prediction and error terms
    /// guide the fit but do not decide membership, since together with the
    /// label they reveal the error itself, and a "slice" of the rows where
    /// the model errs (one confusion cell, say) tells nothing a confusion
    /// matrix does not.
    pub member_threshold: f64,
    /// EM runs on a seeded uniform sample of at most this many rows
    /// (default 50,000; 0 = every row); membership, ranking and the
    /// statistics then use every row. The fitted parameters are sums over
    /// rows, so 50k rows (2,000 per component on average) estimate 25
    /// components × 128 dimensions closely, while the EM's cost stops
    /// growing with the number of rows (with held-out testing the EM runs
    /// once per half).
    pub fit_rows: usize,
}

impl Default for MixtureParams {
    fn default() -> Self {
        MixtureParams {
            n_components: 25,
            n_slices: 5,
            y_weight: 1.0,
            yhat_weight: 1.0,
            error_weight: 1.0,
            n_init: 3,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-3,
            min_size: 0.005,
            member_threshold: 0.5,
            fit_rows: 50_000,
        }
    }
}

impl MixtureParams {
    /// Check every parameter's range.
    pub fn validate(&self) -> Result<()> {
        let p = |name: &str, reason: &str| Err(Error::param(format!("mixture.{name}"), reason));
        if self.n_components == 0 {
            return p("n_components", "must be at least 1");
        }
        if self.n_slices == 0 {
            return p("n_slices", "must be at least 1");
        }
        for (name, v) in [
            ("y_weight", self.y_weight),
            ("yhat_weight", self.yhat_weight),
            ("error_weight", self.error_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return p(name, &format!("must be a finite number ≥ 0, got {v}"));
            }
        }
        if self.n_init == 0 {
            return p("n_init", "must be at least 1");
        }
        if self.max_iter == 0 {
            return p("max_iter", "must be at least 1");
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return p(
                "tol",
                &format!("must be a finite number ≥ 0, got {}", self.tol),
            );
        }
        if !(self.reg_covar.is_finite() && self.reg_covar > 0.0) {
            return p(
                "reg_covar",
                &format!(
                    "must be a finite number > 0 (e.g. 1e-3), got {}",
                    self.reg_covar
                ),
            );
        }
        if !(self.min_size.is_finite() && self.min_size >= 0.0) {
            return p(
                "min_size",
                &format!(
                    "must be rows (≥ 1) or a fraction of the rows (< 1), ≥ 0, got {}",
                    self.min_size
                ),
            );
        }
        if !(self.member_threshold > 0.0 && self.member_threshold <= 1.0) {
            return p(
                "member_threshold",
                &format!("must be in (0, 1], got {}", self.member_threshold),
            );
        }
        Ok(())
    }
}

/// The mixture slicer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MixtureSlicer {
    /// Its parameters.
    pub params: MixtureParams,
}

impl EmbeddingSlicer for MixtureSlicer {
    fn name(&self) -> &'static str {
        "mixture"
    }

    fn validate(&self) -> Result<()> {
        self.params.validate()
    }

    fn fit(&self, input: &EmbeddingInput<'_>) -> Result<Vec<Candidate>> {
        self.validate()?;
        let data = Data::new(input, &self.params)?;
        if data.n == 0 {
            return Ok(Vec::new());
        }
        let params = &self.params;
        let root = Rng::new(input.seed);
        let sample = draw_sample(input, params.fit_rows, &mut root.fork(0x005A_3F1E));
        let sample_input = sample.as_ref().map(|s| s.input(input.binary, input.seed));
        let fit_data = match &sample_input {
            Some(si) => Data::new(si, params)?,
            None => Data::new(input, params)?,
        };
        let k0 = params.n_components.min((fit_data.n / 10).max(1));
        let mut best: Option<Fit> = None;
        for init in 0..params.n_init {
            let mut rng = root.fork(init as u64);
            let assign = if init == 0 {
                confusion_init(&fit_data, k0, &mut rng)
            } else {
                kmeans_init(&fit_data, k0, &mut rng)
            };
            let fit = run_em(&fit_data, params, &assign, k0)?;
            if best.as_ref().is_none_or(|b| fit.penalised > b.penalised) {
                best = Some(fit);
            }
        }
        let Some(fit) = best else {
            return Ok(Vec::new());
        };
        Ok(rank(input, &data, params, &fit, params.n_slices))
    }

    /// Start the EM from the mixture of `definition` (a slice this slicer
    /// found on other rows): each row is first assigned to the component
    /// where the stored mixture puts it (embedding and label terms), then
    /// EM and the BIC merges run as in a fit. Every component with excess
    /// errors is returned, not only the `n_slices` largest: the question is
    /// whether the slice is still a component, not whether it still ranks.
    fn refit(
        &self,
        input: &EmbeddingInput<'_>,
        definition: &Definition,
    ) -> Result<Option<Vec<Candidate>>> {
        let Definition::Gaussian { log_weights, .. } = definition else {
            return Ok(None);
        };
        self.validate()?;
        let data = Data::new(input, &self.params)?;
        if data.n == 0 {
            return Ok(Some(Vec::new()));
        }
        let params = &self.params;
        let sample = draw_sample(
            input,
            params.fit_rows,
            &mut Rng::new(input.seed).fork(0x005A_3F1E),
        );
        let fit_input = match &sample {
            Some(s) => s.input(input.binary, input.seed),
            None => EmbeddingInput {
                view: input.view,
                errors: input.errors,
                binary: input.binary,
                weights: input.weights,
                classes: input.classes,
                seed: input.seed,
            },
        };
        let fit_data = Data::new(&fit_input, params)?;
        super::check_gaussian(definition, fit_input.view)?;
        let labels = fit_input.classes.map(|c| super::Labels {
            names: &c.names,
            label: &c.label,
        });
        let post = super::gaussian_posteriors(definition, fit_input.view, labels)?;
        let (k, n) = (log_weights.len(), fit_data.n);
        let assign: Vec<u32> = (0..n)
            .map(|i| {
                let mut best = 0;
                for s in 1..k {
                    if post[s * n + i] > post[best * n + i] {
                        best = s;
                    }
                }
                best as u32
            })
            .collect();
        let fit = run_em(&fit_data, params, &assign, k)?;
        Ok(Some(rank(input, &data, params, &fit, usize::MAX)))
    }
}

/// Rows per block of every blocked pass (fixed, so that results do not
/// depend on the number of threads).
const BLOCK: usize = 1024;
/// Blocks evaluated in parallel before their sums are added in order.
const BATCH: usize = 16;
/// Terms more than this below a row's largest log-joint contribute
/// exp(−40) ≈ 4e-18 of its mass: skipped (posterior exactly 0).
const SKIP_LOG: f64 = -40.0;
/// Components lighter than this share of the total weight are dropped.
const DROP_SHARE: f64 = 1e-3;
/// Rows sampled for k-means++ seeding.
const SEED_SAMPLE: usize = 20_000;
/// Rows of one cell sampled for k-means++ seeding within the cell.
const CELL_SAMPLE: usize = 4_096;

/// A seeded uniform sample of `max_rows` rows (without replacement, in
/// row order); `None` when every row is used (`max_rows` is 0 or ≥ n).
fn draw_sample(input: &EmbeddingInput<'_>, max_rows: usize, rng: &mut Rng) -> Option<RowSubset> {
    let n = input.n_rows();
    if max_rows == 0 || max_rows >= n {
        return None;
    }
    // Selection sampling (Knuth's algorithm S): rows in order, exactly
    // `max_rows` of them.
    let mut rows = Vec::with_capacity(max_rows);
    for i in 0..n {
        let left = (n - i) as f64;
        let need = (max_rows - rows.len()) as f64;
        if rng.uniform() * left < need {
            rows.push(i as u32);
        }
    }
    Some(RowSubset::new(input, &rows))
}

/// The rows as the EM sees them.
struct Data<'a> {
    z: &'a [f32],
    n: usize,
    d: usize,
    w: Option<&'a [f64]>,
    /// The error signal (ranking, confusion cells).
    e: &'a [f64],
    /// What the error term models: the 0/1 errors, or the normal scores
    /// of continuous errors.
    t: Vec<f64>,
    binary: bool,
    /// Label and prediction per row, when their terms are used.
    label: Option<&'a [u32]>,
    pred: Option<&'a [u32]>,
    n_classes: usize,
    use_error: bool,
    wsum: f64,
    /// Smoothing pseudo-count (half a mean row weight).
    alpha: f64,
    /// Absolute variance floor of the embedding dimensions.
    reg: f64,
    /// Variance of the error Gaussian: the overall variance of the normal
    /// scores, shared by every component (1 when the errors are constant).
    err_var: f64,
}

impl<'a> Data<'a> {
    fn new(input: &EmbeddingInput<'a>, params: &MixtureParams) -> Result<Self> {
        let view = input.view;
        let n = input.errors.len();
        let d = view.dim;
        if view.data.len() != n * d || (n > 0 && d == 0) {
            return Err(Error::ShapeMismatch(format!(
                "view '{}' has {} reduced values for {n} rows of dimension {d}",
                view.name,
                view.data.len()
            )));
        }
        if let Some(w) = input.weights {
            if w.len() != n {
                return Err(Error::ShapeMismatch(format!(
                    "{} weights for {n} rows",
                    w.len()
                )));
            }
            if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::InvalidInput("weights must be finite and ≥ 0".into()));
            }
        }
        if input.errors.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput("errors must be finite".into()));
        }
        if view.data.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "view '{}' has non-finite reduced values",
                view.name
            )));
        }
        let wsum = input.weights.map_or(n as f64, |w| w.iter().sum());
        if n > 0 && wsum <= 0.0 {
            return Err(Error::InvalidInput(
                "the weights sum to 0: no row counts".into(),
            ));
        }
        let (mut label, mut pred, mut n_classes) = (None, None, 0);
        if let Some(c) = input.classes {
            if c.label.len() != n || c.pred.len() != n {
                return Err(Error::ShapeMismatch(format!(
                    "{} labels and {} predictions for {n} rows",
                    c.label.len(),
                    c.pred.len()
                )));
            }
            let top = c
                .label
                .iter()
                .chain(&c.pred)
                .copied()
                .max()
                .map_or(0, |m| m as usize + 1);
            n_classes = c.names.len().max(top);
            if params.y_weight > 0.0 {
                label = Some(c.label.as_slice());
            }
            if params.yhat_weight > 0.0 {
                pred = Some(c.pred.as_slice());
            }
        }
        let mean_w = if n > 0 { wsum / n as f64 } else { 1.0 };
        // Mean variance per dimension of the view (unweighted).
        let mean_var = if n > 1 {
            let mut m = vec![0f64; d];
            let mut s = vec![0f64; d];
            for row in view.data.chunks_exact(d) {
                for (a, &v) in m.iter_mut().zip(row) {
                    *a += f64::from(v);
                }
            }
            m.iter_mut().for_each(|a| *a /= n as f64);
            for row in view.data.chunks_exact(d) {
                for ((a, &v), mu) in s.iter_mut().zip(row).zip(&m) {
                    *a += (f64::from(v) - mu).powi(2);
                }
            }
            s.iter().sum::<f64>() / (d as f64 * (n - 1) as f64)
        } else {
            0.0
        };
        let reg = params.reg_covar * if mean_var > 0.0 { mean_var } else { 1.0 };
        let t = if input.binary || params.error_weight == 0.0 {
            input.errors.to_vec()
        } else {
            normal_scores(input.errors)
        };
        let err_var = if n > 1 {
            let m = t.iter().sum::<f64>() / n as f64;
            t.iter().map(|e| (e - m).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let err_var = if err_var > 0.0 { err_var } else { 1.0 };
        Ok(Data {
            z: &view.data,
            n,
            d,
            w: input.weights,
            e: input.errors,
            t,
            binary: input.binary,
            label,
            pred,
            n_classes,
            use_error: params.error_weight > 0.0,
            wsum,
            alpha: 0.5 * mean_w,
            reg,
            err_var,
        })
    }

    fn w(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.z[i * self.d..(i + 1) * self.d]
    }

    fn n_blocks(&self) -> usize {
        self.n.div_ceil(BLOCK)
    }

    /// Rows of block `b`: (first row, count).
    fn block(&self, b: usize) -> (usize, usize) {
        let start = b * BLOCK;
        (start, BLOCK.min(self.n - start))
    }
}

/// Model of the error signal.
#[derive(Clone)]
enum ErrModel {
    None,
    /// log(1 − ρ_s), log ρ_s.
    Bernoulli {
        lp0: Vec<f64>,
        lp1: Vec<f64>,
    },
    /// Mean and variance per component.
    Gaussian {
        mean: Vec<f64>,
        var: Vec<f64>,
    },
}

/// Mixture parameters.
#[derive(Clone)]
struct Model {
    k: usize,
    log_pi: Vec<f64>,
    /// `k × d`.
    mu: Vec<f64>,
    /// `k × d`.
    var: Vec<f64>,
    /// log p_s(c), `n_classes × k` (class-major), when labels are used.
    label_lp: Vec<f64>,
    /// log p̂_s(c), `n_classes × k`, when predictions are used.
    pred_lp: Vec<f64>,
    err: ErrModel,
}

/// Sufficient statistics of one pass (weighted by the responsibilities
/// and the row weights).
struct Stats {
    ll: f64,
    /// Σ w r per component.
    nk: Vec<f64>,
    /// Σ r per component (unweighted: rows).
    cnt: Vec<f64>,
    /// Σ w r z, `k × d`.
    s1: Vec<f64>,
    /// Σ w r z², `k × d`.
    s2: Vec<f64>,
    /// Σ w r [y = c], `n_classes × k`.
    lc: Vec<f64>,
    /// Σ w r [ŷ = c], `n_classes × k`.
    pc: Vec<f64>,
    /// Σ w r t (t: what the error term models).
    e1: Vec<f64>,
    /// Σ w r t².
    e2: Vec<f64>,
}

impl Stats {
    fn zeros(data: &Data, k: usize) -> Self {
        let c = |used: bool| if used { data.n_classes * k } else { 0 };
        Stats {
            ll: 0.0,
            nk: vec![0.0; k],
            cnt: vec![0.0; k],
            s1: vec![0.0; k * data.d],
            s2: vec![0.0; k * data.d],
            lc: vec![0.0; c(data.label.is_some())],
            pc: vec![0.0; c(data.pred.is_some())],
            e1: vec![0.0; k],
            e2: vec![0.0; k],
        }
    }

    fn add(&mut self, o: &Stats) {
        self.ll += o.ll;
        for (a, b) in [
            (&mut self.nk, &o.nk),
            (&mut self.cnt, &o.cnt),
            (&mut self.s1, &o.s1),
            (&mut self.s2, &o.s2),
            (&mut self.lc, &o.lc),
            (&mut self.pc, &o.pc),
            (&mut self.e1, &o.e1),
            (&mut self.e2, &o.e2),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

/// Per-thread scratch buffers of a block.
struct Bufs {
    z2: Vec<f32>,
    /// Quadratic part of the log-density, then posteriors, then weighted
    /// responsibilities; column-major `BLOCK × k`.
    l: Vec<f32>,
    s1: Vec<f32>,
    s2: Vec<f32>,
    /// Per row: largest log-joint.
    mx: Vec<f32>,
    /// Per row: Σ exp, then its inverse.
    sum: Vec<f32>,
}

impl Bufs {
    fn new(d: usize, k: usize) -> Self {
        Bufs {
            z2: vec![0.0; BLOCK * d],
            l: vec![0.0; BLOCK * k],
            s1: vec![0.0; k * d],
            s2: vec![0.0; k * d],
            mx: vec![0.0; BLOCK],
            sum: vec![0.0; BLOCK],
        }
    }
}

/// The model in the form the E-step uses.
struct Prepared {
    k: usize,
    /// −½/σ², `d × k` row-major.
    a: Vec<f32>,
    /// μ/σ², `d × k` row-major.
    b: Vec<f32>,
    /// log π_s − ½ Σ_j (μ²/σ² + log 2πσ²).
    cst: Vec<f64>,
    /// γ·log p_s(c), `n_classes × k`.
    label_tab: Vec<f32>,
    /// γ̂·log p̂_s(c), `n_classes × k`.
    pred_tab: Vec<f32>,
    err: ErrTab,
}

enum ErrTab {
    None,
    /// ω·log(1 − ρ_s), ω·log ρ_s.
    Bernoulli(Vec<f32>, Vec<f32>),
    /// mean, −½ω/v, ω·(−½ log 2πv).
    Gaussian(Vec<f64>, Vec<f64>, Vec<f64>),
}

impl Model {
    /// With `full`, every term of the fit; otherwise the membership
    /// posterior: embedding and label only (prediction and error terms
    /// zero).
    fn prepare(&self, data: &Data, params: &MixtureParams, full: bool) -> Prepared {
        let (k, d) = (self.k, data.d);
        let mut a = vec![0f32; d * k];
        let mut b = vec![0f32; d * k];
        let mut cst = self.log_pi.clone();
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        for s in 0..k {
            let mut c = 0.0;
            for j in 0..d {
                let (m, v) = (self.mu[s * d + j], self.var[s * d + j]);
                a[j * k + s] = (-0.5 / v) as f32;
                b[j * k + s] = (m / v) as f32;
                c += m * m / v + ln2pi + v.ln();
            }
            cst[s] -= 0.5 * c;
        }
        let scale = |lp: &[f64], g: f64| lp.iter().map(|x| (g * x) as f32).collect::<Vec<f32>>();
        let om = params.error_weight;
        let err = match &self.err {
            _ if !full => ErrTab::None,
            ErrModel::None => ErrTab::None,
            ErrModel::Bernoulli { lp0, lp1 } => ErrTab::Bernoulli(scale(lp0, om), scale(lp1, om)),
            ErrModel::Gaussian { mean, var } => ErrTab::Gaussian(
                mean.clone(),
                var.iter().map(|v| -0.5 * om / v).collect(),
                var.iter().map(|v| -0.5 * om * (ln2pi + v.ln())).collect(),
            ),
        };
        Prepared {
            k,
            a,
            b,
            cst,
            label_tab: scale(&self.label_lp, params.y_weight),
            pred_tab: scale(&self.pred_lp, if full { params.yhat_weight } else { 0.0 }),
            err,
        }
    }
}

/// e^x in f32 for x ≤ 0, exactly 0 below `SKIP_LOG`; relative error
/// below 2e-7. Branch-free plain arithmetic, so loops over it vectorise and
/// give the same bits on every machine (unlike libm's `exp`).
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    let xc = if x < -87.0 { -87.0 } else { x };
    let t = xc * std::f32::consts::LOG2_E;
    // Round to nearest integer (|t| < 2²²).
    let n = (t + 12_582_912.0) - 12_582_912.0;
    // r = x − n·ln 2 in two steps (Cody–Waite), |r| ≤ 0.347.
    let r = (xc - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits((((n as i32) + 127) as u32) << 23);
    if x < SKIP_LOG as f32 {
        0.0
    } else {
        p * scale
    }
}

/// ln x for a positive normal x, relative error below 1e-12: plain
/// arithmetic (libm's `ln` dominated the E-step's row loop).
#[inline(always)]
fn ln_pos(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2 atanh(u), u = (m − 1)/(m + 1), |u| ≤ 0.172.
    let u = (m - 1.0) / (m + 1.0);
    let u2 = u * u;
    let series = 1.0
        + u2 * (1.0 / 3.0
            + u2 * (1.0 / 5.0
                + u2 * (1.0 / 7.0 + u2 * (1.0 / 9.0 + u2 * (1.0 / 11.0 + u2 * (1.0 / 13.0))))));
    e as f64 * std::f64::consts::LN_2 + 2.0 * u * series
}

/// Σ of an f32 slice in f64, in a fixed order that vectorises (eight
/// interleaved f32 partial sums).
fn sum_f32(x: &[f32]) -> f64 {
    let mut acc = [0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += v;
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(v)).sum();
    acc.iter().map(|&a| f64::from(a)).sum::<f64>() + tail
}

/// Normal scores Φ⁻¹((rank − ½)/n) of continuous errors (tied values share
/// their average rank): the error term's Gaussian then sees a variable
/// without heavy tails, so spare components cannot gain by modelling the
/// tail of the loss distribution (a component of extreme losses), and
/// follow regions of high loss instead.
fn normal_scores(e: &[f64]) -> Vec<f64> {
    let n = e.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| e[a].total_cmp(&e[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && e[order[j]] == e[order[i]] {
            j += 1;
        }
        // Rows i..j (0-based) share the average rank (i + j + 1)/2 (1-based).
        let p = ((i + j) as f64 / 2.0) / n as f64;
        let z = -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p);
        for &r in &order[i..j] {
            out[r] = z;
        }
        i = j;
    }
    out
}

/// Fill `z2` with z∘z for `c` rows from `start`.
fn fill_z2(data: &Data, start: usize, c: usize, z2: &mut [f32]) {
    let src = &data.z[start * data.d..(start + c) * data.d];
    for (o, &v) in z2[..c * data.d].iter_mut().zip(src) {
        *o = v * v;
    }
}

/// Quadratic part of the log-density of `c` rows from `start` for every
/// component: `l = (z∘z)·A + z·B`, column-major `c × k` (fills `z2`).
/// Column-major output lets the product run along the long side.
fn quad_block(data: &Data, prep: &Prepared, start: usize, c: usize, bufs: &mut Bufs) {
    let (d, k) = (data.d, prep.k);
    fill_z2(data, start, c, &mut bufs.z2);
    let zc = MatRef::from_row_major_slice(&data.z[start * d..(start + c) * d], c, d);
    let z2c = MatRef::from_row_major_slice(&bufs.z2[..c * d], c, d);
    let a = MatRef::from_row_major_slice(&prep.a, d, k);
    let b = MatRef::from_row_major_slice(&prep.b, d, k);
    let mut out = MatMut::from_column_major_slice_mut(&mut bufs.l[..c * k], c, k);
    matmul(out.rb_mut(), Accum::Replace, z2c, a, 1.0f32, Par::Seq);
    matmul(out, Accum::Add, zc, b, 1.0f32, Par::Seq);
}

/// E-step of `c` rows from `start`: turns the quadratic part in `bufs.l`
/// into posteriors (column-major `c × k`, in place) and returns
/// Σ_i w_i log Σ_s exp(log-joint_is). Works column by column so that the
/// loops vectorise.
fn block_posterior(data: &Data, prep: &Prepared, start: usize, c: usize, bufs: &mut Bufs) -> f64 {
    let k = prep.k;
    let Bufs { l, mx, sum, .. } = bufs;
    let (l, mx, sum) = (&mut l[..c * k], &mut mx[..c], &mut sum[..c]);
    let e = &data.t[start..start + c];
    for s in 0..k {
        let col = &mut l[s * c..(s + 1) * c];
        let cs = prep.cst[s] as f32;
        col.iter_mut().for_each(|v| *v += cs);
        if let Some(y) = data.label {
            for (v, &y) in col.iter_mut().zip(&y[start..start + c]) {
                *v += prep.label_tab[y as usize * k + s];
            }
        }
        if let Some(p) = data.pred {
            for (v, &p) in col.iter_mut().zip(&p[start..start + c]) {
                *v += prep.pred_tab[p as usize * k + s];
            }
        }
        match &prep.err {
            ErrTab::None => {}
            ErrTab::Bernoulli(t0, t1) => {
                let (t0, t1) = (t0[s], t1[s]);
                for (v, &e) in col.iter_mut().zip(e) {
                    *v += if e > 0.5 { t1 } else { t0 };
                }
            }
            ErrTab::Gaussian(m, h, cc) => {
                let (m, h, cc) = (m[s], h[s], cc[s]);
                for (v, &e) in col.iter_mut().zip(e) {
                    *v += (h * (e - m) * (e - m) + cc) as f32;
                }
            }
        }
        if s == 0 {
            mx.copy_from_slice(col);
        } else {
            for (m, &v) in mx.iter_mut().zip(col.iter()) {
                *m = if v > *m { v } else { *m };
            }
        }
    }
    sum.iter_mut().for_each(|v| *v = 0.0);
    for s in 0..k {
        let col = &mut l[s * c..(s + 1) * c];
        for ((v, &m), t) in col.iter_mut().zip(mx.iter()).zip(sum.iter_mut()) {
            *v = exp_neg(*v - m);
            *t += *v;
        }
    }
    let mut ll = 0.0;
    for (i, (t, &m)) in sum.iter_mut().zip(mx.iter()).enumerate() {
        ll += data.w(start + i) * (f64::from(m) + ln_pos(f64::from(*t)));
        *t = 1.0 / *t;
    }
    for s in 0..k {
        let col = &mut l[s * c..(s + 1) * c];
        for (v, &inv) in col.iter_mut().zip(sum.iter()) {
            *v *= inv;
        }
    }
    ll
}

/// Add the statistics of `c` rows from `start` with responsibilities in
/// `bufs.l` (column-major `c × k`) to `st`; multiplies them by the row
/// weights first.
fn accumulate(data: &Data, k: usize, start: usize, c: usize, bufs: &mut Bufs, st: &mut Stats) {
    let d = data.d;
    let e = &data.t[start..start + c];
    for s in 0..k {
        let col = &mut bufs.l[s * c..(s + 1) * c];
        st.cnt[s] += sum_f32(col);
        if let Some(w) = data.w {
            for (v, &w) in col.iter_mut().zip(&w[start..start + c]) {
                *v *= w as f32;
            }
        }
        let col = &bufs.l[s * c..(s + 1) * c];
        st.nk[s] += sum_f32(col);
        let (mut e1, mut e2) = (0.0, 0.0);
        for (&v, &e) in col.iter().zip(e) {
            let v = f64::from(v);
            e1 += v * e;
            e2 += v * e * e;
        }
        st.e1[s] += e1;
        st.e2[s] += e2;
        if let Some(y) = data.label {
            for (&v, &y) in col.iter().zip(&y[start..start + c]) {
                st.lc[y as usize * k + s] += f64::from(v);
            }
        }
        if let Some(p) = data.pred {
            for (&v, &p) in col.iter().zip(&p[start..start + c]) {
                st.pc[p as usize * k + s] += f64::from(v);
            }
        }
    }
    // Σ_i z_ij rw_is as the d × k product zᵀ·rw, column-major (that is,
    // `k × d` row-major, the layout of the statistics).
    let rwm = MatRef::from_column_major_slice(&bufs.l[..c * k], c, k);
    let zt = MatRef::from_row_major_slice(&data.z[start * d..(start + c) * d], c, d).transpose();
    let z2t = MatRef::from_row_major_slice(&bufs.z2[..c * d], c, d).transpose();
    matmul(
        MatMut::from_column_major_slice_mut(&mut bufs.s1, d, k),
        Accum::Replace,
        zt,
        rwm,
        1.0f32,
        Par::Seq,
    );
    matmul(
        MatMut::from_column_major_slice_mut(&mut bufs.s2, d, k),
        Accum::Replace,
        z2t,
        rwm,
        1.0f32,
        Par::Seq,
    );
    for (a, &b) in st.s1.iter_mut().zip(&bufs.s1) {
        *a += f64::from(b);
    }
    for (a, &b) in st.s2.iter_mut().zip(&bufs.s2) {
        *a += f64::from(b);
    }
}

/// Run `f` on every block in parallel, adding the statistics in block
/// order.
fn blocked_stats<F>(data: &Data, k: usize, f: F) -> Stats
where
    F: Fn(usize, &mut Bufs, &mut Stats) + Sync,
{
    let mut total = Stats::zeros(data, k);
    let nb = data.n_blocks();
    let mut b0 = 0;
    while b0 < nb {
        let parts: Vec<Stats> = (b0..(b0 + BATCH).min(nb))
            .into_par_iter()
            .map_init(
                || Bufs::new(data.d, k),
                |bufs, b| {
                    let mut st = Stats::zeros(data, k);
                    f(b, bufs, &mut st);
                    st
                },
            )
            .collect();
        for p in &parts {
            total.add(p);
        }
        b0 += BATCH;
    }
    total
}

/// One EM pass: E-step with `prep`, statistics for the next M-step.
fn em_pass(data: &Data, prep: &Prepared) -> Stats {
    blocked_stats(data, prep.k, |b, bufs, st| {
        let (start, c) = data.block(b);
        quad_block(data, prep, start, c, bufs);
        st.ll += block_posterior(data, prep, start, c, bufs);
        accumulate(data, prep.k, start, c, bufs, st);
    })
}

/// Statistics of a hard assignment.
fn hard_stats(data: &Data, assign: &[u32], k: usize) -> Stats {
    blocked_stats(data, k, |b, bufs, st| {
        let (start, c) = data.block(b);
        fill_z2(data, start, c, &mut bufs.z2);
        let l = &mut bufs.l[..c * k];
        l.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..c {
            l[assign[start + i] as usize * c + i] = 1.0;
        }
        accumulate(data, k, start, c, bufs, st);
    })
}

/// M-step: parameters from statistics, dropping components that lost
/// their rows.
fn m_step(data: &Data, stats: &Stats, k: usize) -> Model {
    let d = data.d;
    let mut keep: Vec<usize> = (0..k)
        .filter(|&s| {
            stats.cnt[s] >= 2.0 && stats.nk[s] >= DROP_SHARE * data.wsum && stats.nk[s] > 0.0
        })
        .collect();
    if keep.is_empty() {
        let mut best = 0;
        for s in 1..k {
            if stats.nk[s] > stats.nk[best] {
                best = s;
            }
        }
        keep.push(best);
    }
    let kk = keep.len();
    let total: f64 = keep.iter().map(|&s| stats.nk[s]).sum();
    let mut m = Model {
        k: kk,
        log_pi: keep.iter().map(|&s| (stats.nk[s] / total).ln()).collect(),
        mu: vec![0.0; kk * d],
        var: vec![0.0; kk * d],
        label_lp: Vec::new(),
        pred_lp: Vec::new(),
        err: ErrModel::None,
    };
    for (t, &s) in keep.iter().enumerate() {
        let nk = stats.nk[s].max(f64::MIN_POSITIVE);
        for j in 0..d {
            let mu = stats.s1[s * d + j] / nk;
            let v = (stats.s2[s * d + j] / nk - mu * mu).max(0.0) + data.reg;
            m.mu[t * d + j] = mu;
            m.var[t * d + j] = v;
        }
    }
    let a = data.alpha;
    let cat = |counts: &[f64]| -> Vec<f64> {
        if counts.is_empty() {
            return Vec::new();
        }
        let nc = data.n_classes;
        let mut lp = vec![0.0; nc * kk];
        for (t, &s) in keep.iter().enumerate() {
            let denom = stats.nk[s] + a * nc as f64;
            for c in 0..nc {
                lp[c * kk + t] = ((counts[c * k + s] + a) / denom).ln();
            }
        }
        lp
    };
    m.label_lp = cat(&stats.lc);
    m.pred_lp = cat(&stats.pc);
    if data.use_error {
        if data.binary {
            let rho: Vec<f64> = keep
                .iter()
                .map(|&s| (stats.e1[s] + a) / (stats.nk[s] + 2.0 * a))
                .collect();
            m.err = ErrModel::Bernoulli {
                lp0: rho.iter().map(|r| (1.0 - r).ln()).collect(),
                lp1: rho.iter().map(|r| r.ln()).collect(),
            };
        } else {
            // Only the means move: with a variance of their own, spare
            // components would model the *shape* of the loss distribution
            // (a tail component of extreme losses) and split regions by
            // loss level instead of following regions of high loss.
            let mean: Vec<f64> = keep
                .iter()
                .map(|&s| stats.e1[s] / stats.nk[s].max(f64::MIN_POSITIVE))
                .collect();
            m.err = ErrModel::Gaussian {
                mean,
                var: vec![data.err_var; kk],
            };
        }
    }
    m
}

/// A fitted mixture.
struct Fit {
    model: Model,
    /// Total log-likelihood less the BIC penalty ½·P·k·ln W.
    penalised: f64,
    converged: bool,
    k_init: usize,
    /// Components merged away.
    merged: usize,
}

/// Result of one EM run to convergence.
struct EmRun {
    model: Model,
    /// Statistics under `model` (its last E-step).
    stats: Stats,
    ll: f64,
    converged: bool,
}

/// EM from `model` until the mean log-likelihood changes by less than
/// `tol` or `max_iter` passes.
fn em(data: &Data, params: &MixtureParams, mut model: Model) -> Result<EmRun> {
    let mut prev = f64::NEG_INFINITY;
    let mut iterations = 0;
    loop {
        let prep = model.prepare(data, params, true);
        let stats = em_pass(data, &prep);
        let ll = stats.ll / data.wsum;
        if !ll.is_finite() {
            return Err(Error::InvalidInput(format!(
                "the mixture EM diverged (log-likelihood {ll}); check the embedding for extreme values or raise mixture.reg_covar"
            )));
        }
        iterations += 1;
        let converged = (ll - prev).abs() < params.tol;
        if converged || iterations >= params.max_iter {
            return Ok(EmRun {
                model,
                stats,
                ll,
                converged,
            });
        }
        prev = ll;
        model = m_step(data, &stats, model.k);
    }
}

/// Free parameters of one component: diagonal Gaussian, weight, and the
/// outcome distributions in use.
fn params_per_component(data: &Data) -> f64 {
    let c = data.n_classes.saturating_sub(1) as f64;
    let mut p = 2.0 * data.d as f64 + 1.0;
    if data.label.is_some() {
        p += c;
    }
    if data.pred.is_some() {
        p += c;
    }
    if data.use_error {
        p += 1.0;
    }
    p
}

/// One component's statistics (a column of [`Stats`]).
#[derive(Clone)]
struct Comp {
    nk: f64,
    cnt: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
    lc: Vec<f64>,
    pc: Vec<f64>,
    e1: f64,
    e2: f64,
}

impl Comp {
    fn of(st: &Stats, s: usize, k: usize, d: usize) -> Comp {
        let col = |v: &[f64]| v.iter().skip(s).step_by(k).copied().collect::<Vec<f64>>();
        Comp {
            nk: st.nk[s],
            cnt: st.cnt[s],
            s1: st.s1[s * d..(s + 1) * d].to_vec(),
            s2: st.s2[s * d..(s + 1) * d].to_vec(),
            lc: col(&st.lc),
            pc: col(&st.pc),
            e1: st.e1[s],
            e2: st.e2[s],
        }
    }

    fn merged(&self, o: &Comp) -> Comp {
        let add = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f64>>();
        Comp {
            nk: self.nk + o.nk,
            cnt: self.cnt + o.cnt,
            s1: add(&self.s1, &o.s1),
            s2: add(&self.s2, &o.s2),
            lc: add(&self.lc, &o.lc),
            pc: add(&self.pc, &o.pc),
            e1: self.e1 + o.e1,
            e2: self.e2 + o.e2,
        }
    }

    /// Expected complete-data log-likelihood of the rows this component
    /// holds, at the parameters the M-step would give it, with the same
    /// outcome weights as the E-step.
    fn q(&self, data: &Data, params: &MixtureParams) -> f64 {
        let n = self.nk.max(f64::MIN_POSITIVE);
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let mut q = n * (n / data.wsum).ln();
        for (&s1, &s2) in self.s1.iter().zip(&self.s2) {
            let mu = s1 / n;
            let v = (s2 / n - mu * mu).max(0.0);
            let var = v + data.reg;
            q -= 0.5 * n * (ln2pi + var.ln() + v / var);
        }
        let a = data.alpha;
        let cat = |counts: &[f64]| -> f64 {
            let denom = n + a * counts.len() as f64;
            counts
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| c * ((c + a) / denom).ln())
                .sum()
        };
        q += params.y_weight * cat(&self.lc) + params.yhat_weight * cat(&self.pc);
        if data.use_error {
            q += params.error_weight
                * if data.binary {
                    let rho = (self.e1 + a) / (n + 2.0 * a);
                    self.e1 * rho.ln() + (n - self.e1).max(0.0) * (1.0 - rho).ln()
                } else {
                    let m = self.e1 / n;
                    let ss = (self.e2 - 2.0 * m * self.e1 + m * m * n).max(0.0);
                    -0.5 * ss / data.err_var - 0.5 * n * (ln2pi + data.err_var.ln())
                };
        }
        q
    }
}

/// Greedy merging of components while it improves the BIC: the pair whose
/// merge loses the least expected log-likelihood is merged when that loss
/// is below the penalty of a component, ½·P·ln W. Returns the merged
/// statistics and the number of merges.
///
/// EM with more components than groups splits groups into overlapping
/// fragments (the likelihood gain of a fragment is small but positive);
/// a fragment is a poor slice: merging them back recovers the group.
/// Groups that differ in the embedding or in their outcome (error rate,
/// labels) lose far more than the penalty when merged and stay apart.
fn merge_components(data: &Data, params: &MixtureParams, st: &Stats, k: usize) -> (Stats, usize) {
    let d = data.d;
    let mut comps: Vec<Comp> = (0..k).map(|s| Comp::of(st, s, k, d)).collect();
    let mut q: Vec<f64> = comps.iter().map(|c| c.q(data, params)).collect();
    let penalty = 0.5 * params_per_component(data) * data.wsum.max(2.0).ln();
    // merged_q[a][b] (a < b): Q of the union; recomputed only for the
    // pairs of a component that changed.
    let pair_q = |comps: &[Comp], a: usize, b: usize| comps[a].merged(&comps[b]).q(data, params);
    let mut merged_q: Vec<Vec<f64>> = (0..comps.len())
        .map(|a| {
            (0..comps.len())
                .map(|b| if b > a { pair_q(&comps, a, b) } else { 0.0 })
                .collect()
        })
        .collect();
    let mut merges = 0;
    loop {
        let mut best: Option<(usize, usize, f64)> = None;
        for a in 0..comps.len() {
            for b in a + 1..comps.len() {
                let gain = merged_q[a][b] - q[a] - q[b] + penalty;
                if gain > 0.0 && best.is_none_or(|x| gain > x.2) {
                    best = Some((a, b, gain));
                }
            }
        }
        let Some((a, b, _)) = best else { break };
        comps[a] = comps[a].merged(&comps[b]);
        q[a] = merged_q[a][b];
        comps.remove(b);
        q.remove(b);
        merged_q.remove(b);
        for row in &mut merged_q {
            row.remove(b);
        }
        for o in 0..comps.len() {
            if o != a {
                let (x, y) = (a.min(o), a.max(o));
                merged_q[x][y] = pair_q(&comps, x, y);
            }
        }
        merges += 1;
    }
    let kk = comps.len();
    let mut out = Stats::zeros(data, kk);
    out.ll = st.ll;
    for (s, c) in comps.iter().enumerate() {
        out.nk[s] = c.nk;
        out.cnt[s] = c.cnt;
        out.s1[s * d..(s + 1) * d].copy_from_slice(&c.s1);
        out.s2[s * d..(s + 1) * d].copy_from_slice(&c.s2);
        for (cl, &v) in c.lc.iter().enumerate() {
            out.lc[cl * kk + s] = v;
        }
        for (cl, &v) in c.pc.iter().enumerate() {
            out.pc[cl * kk + s] = v;
        }
        out.e1[s] = c.e1;
        out.e2[s] = c.e2;
    }
    (out, merges)
}

/// EM from a hard assignment, then rounds of merging (BIC) and EM again
/// until no merge pays.
fn run_em(data: &Data, params: &MixtureParams, assign: &[u32], k0: usize) -> Result<Fit> {
    let mut run = em(
        data,
        params,
        m_step(data, &hard_stats(data, assign, k0), k0),
    )?;
    let mut merged = 0;
    loop {
        let (stats, m) = merge_components(data, params, &run.stats, run.model.k);
        if m == 0 {
            break;
        }
        merged += m;
        run = em(data, params, m_step(data, &stats, stats.nk.len()))?;
    }
    let k = run.model.k as f64;
    let penalised =
        run.ll * data.wsum - 0.5 * params_per_component(data) * k * data.wsum.max(2.0).ln();
    Ok(Fit {
        model: run.model,
        penalised,
        converged: run.converged,
        k_init: k0,
        merged,
    })
}

/// A stored mixture (the parameters of a [`Definition::Gaussian`]).
pub(crate) struct StoredMixture<'a> {
    /// log π per component.
    pub log_weights: &'a [f32],
    /// Means, `k × dim`.
    pub means: &'a [f32],
    /// Variances, `k × dim`, all > 0.
    pub variances: &'a [f32],
    /// The weighted label term, class-major `classes × k`, and each row's
    /// class index into it (`None`: a class the mixture does not know,
    /// which gets no label term).
    pub label: Option<(&'a [f32], Vec<Option<u32>>)>,
}

/// Posteriors of every row of `view` under a stored mixture,
/// component-major `k × n`: the same blocked single-precision E-step the
/// slicer uses.
pub(crate) fn stored_posteriors(m: &StoredMixture<'_>, view: &ReducedView) -> Vec<f32> {
    let k = m.log_weights.len();
    let d = view.dim;
    let n = view.n_rows();
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let mut a = vec![0f32; d * k];
    let mut b = vec![0f32; d * k];
    let mut cst: Vec<f64> = m.log_weights.iter().map(|&x| f64::from(x)).collect();
    for s in 0..k {
        let mut c = 0.0;
        for j in 0..d {
            let (mu, v) = (
                f64::from(m.means[s * d + j]),
                f64::from(m.variances[s * d + j]),
            );
            a[j * k + s] = (-0.5 / v) as f32;
            b[j * k + s] = (mu / v) as f32;
            c += mu * mu / v + ln2pi + v.ln();
        }
        cst[s] -= 0.5 * c;
    }
    // Unknown classes map to an extra all-zero row of the label table.
    let (label_tab, label_idx, n_classes) = match &m.label {
        Some((tab, idx)) => {
            let nc = tab.len() / k.max(1);
            let mut t = tab.to_vec();
            t.extend(std::iter::repeat_n(0.0, k));
            let li: Vec<u32> = idx.iter().map(|c| c.unwrap_or(nc as u32)).collect();
            (t, Some(li), nc + 1)
        }
        None => (Vec::new(), None, 0),
    };
    let zeros = vec![0f64; n];
    let data = Data {
        z: &view.data,
        n,
        d,
        w: None,
        e: &zeros,
        t: zeros.clone(),
        binary: true,
        label: label_idx.as_deref(),
        pred: None,
        n_classes,
        use_error: false,
        wsum: n as f64,
        alpha: 0.5,
        reg: 0.0,
        err_var: 1.0,
    };
    let prep = Prepared {
        k,
        a,
        b,
        cst,
        label_tab,
        pred_tab: Vec::new(),
        err: ErrTab::None,
    };
    posteriors(&data, &prep)
}

/// Posterior of every row and component, component-major `k × n`.
fn posteriors(data: &Data, prep: &Prepared) -> Vec<f32> {
    let k = prep.k;
    let blocks: Vec<Vec<f32>> = (0..data.n_blocks())
        .into_par_iter()
        .map_init(
            || Bufs::new(data.d, k),
            |bufs, b| {
                let (start, c) = data.block(b);
                quad_block(data, prep, start, c, bufs);
                block_posterior(data, prep, start, c, bufs);
                bufs.l[..c * k].to_vec()
            },
        )
        .collect();
    let n = data.n;
    let mut out = vec![0f32; n * k];
    for (b, blk) in blocks.iter().enumerate() {
        let (start, c) = data.block(b);
        for s in 0..k {
            out[s * n + start..s * n + start + c].copy_from_slice(&blk[s * c..(s + 1) * c]);
        }
    }
    out
}

/// Squared distance.
fn sqdist(a: &[f32], b: &[f32]) -> f64 {
    let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    f64::from(s)
}

/// k-means++ seeding: `m` centres (row-major `m × d`) among rows `cand`.
fn kmeanspp(data: &Data, cand: &[u32], m: usize, rng: &mut Rng) -> Vec<f32> {
    let d = data.d;
    let mut centres = Vec::with_capacity(m * d);
    if cand.is_empty() || m == 0 {
        return centres;
    }
    let first = cand[rng.below(cand.len() as u64) as usize] as usize;
    centres.extend_from_slice(data.row(first));
    let mut dist: Vec<f64> = cand
        .par_iter()
        .map(|&i| sqdist(data.row(i as usize), data.row(first)))
        .collect();
    for _ in 1..m {
        let total: f64 = dist.iter().sum();
        let pick = if total > 0.0 {
            let t = rng.uniform() * total;
            let mut acc = 0.0;
            let mut idx = dist.len() - 1;
            for (j, &v) in dist.iter().enumerate() {
                acc += v;
                if acc > t && v > 0.0 {
                    idx = j;
                    break;
                }
            }
            idx
        } else {
            rng.below(cand.len() as u64) as usize
        };
        let c = cand[pick] as usize;
        centres.extend_from_slice(data.row(c));
        let cr = data.row(c);
        dist.par_iter_mut()
            .zip(cand.par_iter())
            .for_each(|(dv, &i)| {
                let v = sqdist(data.row(i as usize), cr);
                if v < *dv {
                    *dv = v;
                }
            });
    }
    centres
}

/// Up to `m` rows drawn without replacement from `rows` (all when fewer).
fn sample(rows: &[u32], m: usize, rng: &mut Rng) -> Vec<u32> {
    if rows.len() <= m {
        return rows.to_vec();
    }
    let mut v = rows.to_vec();
    for i in 0..m {
        let j = i + rng.below((v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(m);
    v
}

/// Nearest centre of every row (`centres` row-major `k × d`), among
/// `allowed(row)` when it returns a non-empty list.
fn nearest<'c, F>(data: &Data, centres: &[f32], k: usize, allowed: F) -> Vec<u32>
where
    F: Fn(usize) -> &'c [usize] + Sync,
{
    let d = data.d;
    let norms: Vec<f32> = centres
        .chunks_exact(d)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let cm = MatRef::from_row_major_slice(centres, k, d);
    let mut out = vec![0u32; data.n];
    out.par_chunks_mut(BLOCK).enumerate().for_each_init(
        || vec![0f32; BLOCK * k],
        |buf, (b, dst)| {
            let (start, c) = data.block(b);
            let zc = MatRef::from_row_major_slice(&data.z[start * d..(start + c) * d], c, d);
            matmul(
                MatMut::from_column_major_slice_mut(&mut buf[..c * k], c, k),
                Accum::Replace,
                zc,
                cm.transpose(),
                1.0f32,
                Par::Seq,
            );
            for (i, o) in dst.iter_mut().enumerate() {
                let score = |s: usize| norms[s] - 2.0 * buf[s * c + i];
                let al = allowed(start + i);
                let mut best = if al.is_empty() { 0 } else { al[0] };
                let mut bv = score(best);
                let mut consider = |s: usize| {
                    let v = score(s);
                    if v < bv {
                        bv = v;
                        best = s;
                    }
                };
                if al.is_empty() {
                    (1..k).for_each(&mut consider);
                } else {
                    al[1..].iter().copied().for_each(&mut consider);
                }
                *o = best as u32;
            }
        },
    );
    out
}

/// k-means++ initialisation on the embedding.
fn kmeans_init(data: &Data, k: usize, rng: &mut Rng) -> Vec<u32> {
    let all: Vec<u32> = (0..data.n as u32).collect();
    let cand = sample(&all, SEED_SAMPLE, rng);
    let centres = kmeanspp(data, &cand, k, rng);
    let kk = centres.len() / data.d.max(1);
    nearest(data, &centres, kk, |_| &[])
}

/// Confusion initialisation: rows grouped by (label, prediction, error)
/// cell; components allotted to the largest cells in proportion to their
/// size (D'Hondt), spread within a cell by k-means++ seeding.
fn confusion_init(data: &Data, k: usize, rng: &mut Rng) -> Vec<u32> {
    let n = data.n;
    // Error bin: the 0/1 error, or above the median error.
    let high: Vec<bool> = if data.binary {
        data.e.iter().map(|&e| e > 0.5).collect()
    } else {
        let mut s = data.e.to_vec();
        s.sort_by(f64::total_cmp);
        let med = s[n / 2];
        data.e.iter().map(|&e| e > med).collect()
    };
    let mut cells: BTreeMap<(u32, u32, bool), Vec<u32>> = BTreeMap::new();
    for i in 0..n {
        let y = data.label.map_or(0, |v| v[i]);
        let p = data.pred.map_or(0, |v| v[i]);
        cells.entry((y, p, high[i])).or_default().push(i as u32);
    }
    let mut cells: Vec<Vec<u32>> = cells.into_values().collect();
    cells.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let min_rows = 2usize.max((DROP_SHARE * n as f64).ceil() as usize);
    let eligible = cells
        .iter()
        .take_while(|c| c.len() >= min_rows)
        .count()
        .max(1)
        .min(k);
    let mut alloc = vec![1usize; eligible];
    for _ in eligible..k {
        // D'Hondt: next component to the cell with the most rows per
        // component, keeping at least two rows per component.
        let mut best: Option<usize> = None;
        for (c, &a) in alloc.iter().enumerate() {
            if cells[c].len() < 2 * (a + 1) {
                continue;
            }
            let q = cells[c].len() as f64 / (a + 1) as f64;
            if best.is_none_or(|b| q > cells[b].len() as f64 / (alloc[b] + 1) as f64) {
                best = Some(c);
            }
        }
        match best {
            Some(c) => alloc[c] += 1,
            None => break,
        }
    }
    let mut centres: Vec<f32> = Vec::new();
    let mut cell_centres: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (c, &m) in alloc.iter().enumerate() {
        let cand = sample(&cells[c], CELL_SAMPLE, rng);
        let cc = kmeanspp(data, &cand, m, rng);
        let first = centres.len() / data.d;
        cell_centres[c] = (first..first + cc.len() / data.d).collect();
        centres.extend(cc);
    }
    let kk = centres.len() / data.d;
    let mut cell_of = vec![0u32; n];
    for (c, rows) in cells.iter().enumerate() {
        for &r in rows {
            cell_of[r as usize] = c as u32;
        }
    }
    nearest(data, &centres, kk, |i| &cell_centres[cell_of[i] as usize])
}

/// Members, ranking and candidates of the best fit.
fn rank(
    input: &EmbeddingInput<'_>,
    data: &Data,
    params: &MixtureParams,
    fit: &Fit,
    limit: usize,
) -> Vec<Candidate> {
    let model = &fit.model;
    let k = model.k;
    let prep = model.prepare(data, params, false);
    let post = posteriors(data, &prep);
    let thr = params.member_threshold as f32;
    let ebar = (0..data.n).map(|i| data.w(i) * data.e[i]).sum::<f64>() / data.wsum;
    let min_size = if params.min_size >= 1.0 {
        params.min_size
    } else {
        params.min_size * data.wsum
    };
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (s, col) in post.chunks_exact(data.n).enumerate() {
        members[s] = (0..data.n as u32)
            .filter(|&i| col[i as usize] >= thr)
            .collect();
    }
    let mut ranked: Vec<(usize, f64, f64, f64)> = Vec::new(); // (s, excess, size, errors)
    for (s, mem) in members.iter().enumerate() {
        let size: f64 = mem.iter().map(|&i| data.w(i as usize)).sum();
        let err: f64 = mem
            .iter()
            .map(|&i| data.w(i as usize) * data.e[i as usize])
            .sum();
        let excess = err - size * ebar;
        if !mem.is_empty() && size >= min_size && excess > 0.0 {
            ranked.push((s, excess, size, err));
        }
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    let uses_outcome = data.label.is_some();
    // The label term of the membership posterior, for re-applying it.
    let (label_log_probs, class_names) = match (uses_outcome, input.classes) {
        (true, Some(cl)) => {
            let tab: Vec<f32> = model
                .label_lp
                .iter()
                .map(|&x| (params.y_weight * x) as f32)
                .collect();
            let names: Vec<String> = (0..data.n_classes)
                .map(|c| cl.names.get(c).cloned().unwrap_or_else(|| c.to_string()))
                .collect();
            (Some(tab), Some(names))
        }
        _ => (None, None),
    };
    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let log_weights = to32(&model.log_pi);
    let means = to32(&model.mu);
    let variances = to32(&model.var);
    let what = if data.binary {
        "error rate"
    } else {
        "mean error"
    };
    ranked
        .into_iter()
        .map(|(s, excess, size, err)| {
            let mem = std::mem::take(&mut members[s]);
            let mut detail = format!(
                "component {s} of {k}; {what} {:.3} vs {ebar:.3} overall",
                err / size
            );
            if let Some(cl) = input.classes {
                let mut cells: HashMap<(u32, u32), f64> = HashMap::new();
                for &i in &mem {
                    let i = i as usize;
                    *cells.entry((cl.label[i], cl.pred[i])).or_default() += data.w(i);
                }
                if let Some((&(y, p), &wgt)) = cells
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                {
                    let name = |c: u32| {
                        cl.names
                            .get(c as usize)
                            .cloned()
                            .unwrap_or_else(|| c.to_string())
                    };
                    detail.push_str(&format!(
                        "; dominant label→pred: {}→{} ({:.0}%)",
                        name(y),
                        name(p),
                        100.0 * wgt / size
                    ));
                }
            }
            if !fit.converged {
                detail.push_str(&format!(
                    "; EM stopped at max_iter ({}) before converging",
                    params.max_iter
                ));
            }
            if k < fit.k_init {
                detail.push_str(&format!(
                    "; {} of {} components merged, {} dropped",
                    fit.merged,
                    fit.k_init,
                    fit.k_init - k - fit.merged
                ));
            }
            Candidate {
                slicer: "mixture".into(),
                view: input.view.name.clone(),
                membership: post[s * data.n..(s + 1) * data.n].to_vec(),
                members: mem,
                definition: Definition::Gaussian {
                    component: s,
                    log_weights: log_weights.clone(),
                    means: means.clone(),
                    variances: variances.clone(),
                    threshold: thr,
                    uses_outcome,
                    label_log_probs: label_log_probs.clone(),
                    class_names: class_names.clone(),
                },
                score: excess,
                detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::jaccard;
    use crate::outcome::Classes;

    fn view(data: Vec<f32>, d: usize) -> ReducedView {
        ReducedView {
            name: "emb".into(),
            source: "test".into(),
            dim_in: d,
            dim: d,
            normalized: false,
            mean: vec![0.0; d],
            axes: (0..d * d)
                .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
            explained_variance: vec![1.0; d],
            explained_ratio: 1.0,
            data,
        }
    }

    /// Three Gaussian blobs in `d` dimensions, `m` rows each (interleaved);
    /// rows of blob 0 err with probability `p_hot`, others with 0.05.
    /// Returns the view, the errors and the rows of blob 0.
    fn planted(m: usize, d: usize, p_hot: f64, seed: u64) -> (ReducedView, Vec<f64>, Vec<u32>) {
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..d).map(|_| 3.0 * rng.normal()).collect())
            .collect();
        let mut data = Vec::with_capacity(3 * m * d);
        let mut errors = Vec::with_capacity(3 * m);
        let mut hot = Vec::new();
        for i in 0..3 * m {
            let b = i % 3;
            for c in &centres[b] {
                data.push((c + rng.normal()) as f32);
            }
            let p = if b == 0 { p_hot } else { 0.05 };
            errors.push(if rng.uniform() < p { 1.0 } else { 0.0 });
            if b == 0 {
                hot.push(i as u32);
            }
        }
        (view(data, d), errors, hot)
    }

    fn input<'a>(
        v: &'a ReducedView,
        e: &'a [f64],
        classes: Option<&'a Classes>,
        seed: u64,
    ) -> EmbeddingInput<'a> {
        EmbeddingInput {
            view: v,
            errors: e,
            binary: e.iter().all(|&x| x == 0.0 || x == 1.0),
            weights: None,
            classes,
            seed,
        }
    }

    fn fit(params: MixtureParams, inp: &EmbeddingInput<'_>) -> Vec<Candidate> {
        MixtureSlicer { params }.fit(inp).unwrap()
    }

    #[test]
    fn planted_blob_is_the_top_candidate() {
        let (v, e, hot) = planted(1000, 16, 0.6, 7);
        let c = fit(MixtureParams::default(), &input(&v, &e, None, 1));
        assert!(!c.is_empty());
        let top = &c[0];
        let j = jaccard(&top.members, &hot);
        assert!(j >= 0.8, "Jaccard {j}: {}", top.detail);
        assert_eq!((top.slicer.as_str(), top.view.as_str()), ("mixture", "emb"));
        assert!(top.members.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(top.membership.len(), 3000);
        assert!(top
            .members
            .iter()
            .all(|&i| top.membership[i as usize] >= 0.5));
        assert!(top.detail.starts_with("component "), "{}", top.detail);
        // Excess errors: Σ e − |S|·ē over the members.
        let ebar = e.iter().sum::<f64>() / e.len() as f64;
        let errs: f64 = top.members.iter().map(|&i| e[i as usize]).sum();
        assert!((top.score - (errs - top.members.len() as f64 * ebar)).abs() < 1e-6);
        assert!(c.windows(2).all(|w| w[0].score >= w[1].score));
        match &top.definition {
            Definition::Gaussian {
                component,
                log_weights,
                means,
                variances,
                threshold,
                uses_outcome,
                ..
            } => {
                let k = log_weights.len();
                assert!(*component < k);
                assert_eq!((means.len(), variances.len()), (k * 16, k * 16));
                assert!(variances.iter().all(|&v| v > 0.0));
                let total: f64 = log_weights.iter().map(|&l| f64::from(l).exp()).sum();
                assert!((total - 1.0).abs() < 1e-5);
                assert_eq!(*threshold, 0.5);
                // No label classes here: membership is the embedding's alone.
                assert!(!*uses_outcome);
            }
            other => panic!("unexpected definition {other:?}"),
        }
    }

    /// How many of `members` are in `hot` (ascending).
    fn inside(members: &[u32], hot: &[u32]) -> usize {
        members
            .iter()
            .filter(|m| hot.binary_search(m).is_ok())
            .count()
    }

    #[test]
    fn refit_from_a_component_returns_it_on_a_resample() {
        let (v, e, hot) = planted(1000, 16, 0.6, 7);
        let cl = classes_for(&e, 3);
        let slicer = MixtureSlicer {
            params: MixtureParams::default(),
        };
        let c = slicer.fit(&input(&v, &e, Some(&cl), 1)).unwrap();
        // The top component lies in the planted blob (one label's part of
        // it: membership uses the label term).
        let top = &c[0];
        assert!(inside(&top.members, &hot) as f64 >= 0.9 * top.members.len() as f64);
        let w = super::super::bootstrap_weights(3000, 5);
        let resample = EmbeddingInput {
            weights: Some(&w),
            ..input(&v, &e, Some(&cl), 2)
        };
        // It reappears (Jaccard ≥ 0.5, the stability criterion) with margin.
        let again = slicer.refit(&resample, &top.definition).unwrap().unwrap();
        let best = again
            .iter()
            .map(|a| jaccard(&a.members, &top.members))
            .fold(0.0, f64::max);
        assert!(best >= 0.6, "best Jaccard {best}");
        // Every component with excess errors, not only n_slices of them.
        assert!(again.iter().all(|a| a.score > 0.0));
        let spot = Definition::Kernel {
            center: vec![0.0; 16],
            precision: vec![1.0; 16],
            threshold: 0.5,
            class: None,
        };
        assert!(slicer.refit(&resample, &spot).unwrap().is_none());
        // A mixture of another dimension is an error.
        let Definition::Gaussian {
            log_weights,
            means,
            variances,
            ..
        } = &top.definition
        else {
            panic!("not a mixture definition");
        };
        let k = log_weights.len();
        let wrong = Definition::Gaussian {
            component: 0,
            log_weights: log_weights.clone(),
            means: means[..k * 8].to_vec(),
            variances: variances[..k * 8].to_vec(),
            threshold: 0.5,
            uses_outcome: false,
            label_log_probs: None,
            class_names: None,
        };
        assert!(slicer.refit(&resample, &wrong).is_err());
    }

    #[test]
    fn planted_blob_with_continuous_errors() {
        let (v, e, hot) = planted(800, 16, 0.6, 11);
        // Losses: exponential, mean 2 in the planted blob, 0.3 elsewhere.
        let mut rng = Rng::new(5);
        let loss: Vec<f64> = (0..e.len())
            .map(|i| {
                let mean = if i % 3 == 0 { 2.0 } else { 0.3 };
                -mean * (1.0 - rng.uniform()).ln()
            })
            .collect();
        let inp = input(&v, &loss, None, 3);
        assert!(!inp.binary);
        let c = fit(MixtureParams::default(), &inp);
        let j = jaccard(&c[0].members, &hot);
        assert!(j >= 0.8, "Jaccard {j}: {}", c[0].detail);
        assert!(c[0].detail.contains("mean error"), "{}", c[0].detail);
    }

    /// Labels and predictions of the planted case: 3 classes, a mistake
    /// predicts one of the two other classes.
    fn classes_for(e: &[f64], seed: u64) -> Classes {
        let mut rng = Rng::new(seed);
        let label: Vec<u32> = (0..e.len()).map(|_| rng.below(3) as u32).collect();
        let pred = label
            .iter()
            .zip(e)
            .map(|(&l, &x)| {
                if x > 0.5 {
                    (l + 1 + rng.below(2) as u32) % 3
                } else {
                    l
                }
            })
            .collect();
        Classes {
            names: vec!["cat".into(), "dog".into(), "fox".into()],
            label,
            pred,
        }
    }

    #[test]
    fn with_classes_the_top_candidate_lies_in_the_planted_blob() {
        let (v, e, hot) = planted(1000, 16, 0.6, 7);
        let cl = classes_for(&e, 3);
        let c = fit(MixtureParams::default(), &input(&v, &e, Some(&cl), 1));
        let top = &c[0];
        let inside = inside(&top.members, &hot);
        assert!(
            inside as f64 >= 0.9 * top.members.len() as f64,
            "{inside} of {}",
            top.members.len()
        );
        assert!(top.members.len() >= 100);
        assert!(
            top.detail.contains("dominant label→pred: "),
            "{}",
            top.detail
        );
        let names = ["cat→", "dog→", "fox→"];
        assert!(
            names.iter().any(|n| top.detail.contains(n)),
            "{}",
            top.detail
        );
    }

    #[test]
    fn responsibilities_sum_to_one() {
        let (v, e, _) = planted(300, 8, 0.6, 2);
        let cl = classes_for(&e, 4);
        for classes in [None, Some(&cl)] {
            let params = MixtureParams {
                n_components: 6,
                ..Default::default()
            };
            let inp = input(&v, &e, classes, 9);
            let data = Data::new(&inp, &params).unwrap();
            let assign = kmeans_init(&data, 6, &mut Rng::new(1));
            let fit = run_em(&data, &params, &assign, 6).unwrap();
            let k = fit.model.k;
            let post = posteriors(&data, &fit.model.prepare(&data, &params, true));
            assert_eq!(post.len(), k * data.n);
            for i in 0..data.n {
                let s: f64 = (0..k).map(|s| f64::from(post[s * data.n + i])).sum();
                assert!((s - 1.0).abs() < 1e-5, "row {i}: {s}");
                assert!((0..k).all(|s| (0.0..=1.0).contains(&post[s * data.n + i])));
            }
        }
    }

    /// The blocked f32 E-step agrees with a direct f64 evaluation of the
    /// same model.
    #[test]
    fn e_step_matches_direct_evaluation() {
        let (v, e, _) = planted(400, 8, 0.6, 21);
        let cl = classes_for(&e, 8);
        let params = MixtureParams {
            n_components: 5,
            ..Default::default()
        };
        let inp = input(&v, &e, Some(&cl), 2);
        let data = Data::new(&inp, &params).unwrap();
        let assign = kmeans_init(&data, 5, &mut Rng::new(3));
        let model = m_step(&data, &hard_stats(&data, &assign, 5), 5);
        let prep = model.prepare(&data, &params, true);
        let post = posteriors(&data, &prep);
        let stats = em_pass(&data, &prep);
        let (k, d, n) = (model.k, data.d, data.n);
        let ErrModel::Bernoulli { lp0, lp1 } = &model.err else {
            panic!("binary errors")
        };
        let mut ll_total = 0.0;
        for i in 0..n {
            let z = data.row(i);
            let lj: Vec<f64> = (0..k)
                .map(|s| {
                    let mut l = model.log_pi[s];
                    let mu = &model.mu[s * d..(s + 1) * d];
                    let var = &model.var[s * d..(s + 1) * d];
                    for ((&zj, &m), &v) in z.iter().zip(mu).zip(var) {
                        l += -0.5
                            * ((f64::from(zj) - m).powi(2) / v
                                + (2.0 * std::f64::consts::PI * v).ln());
                    }
                    let (y, p) = (cl.label[i] as usize, cl.pred[i] as usize);
                    l += params.y_weight * model.label_lp[y * k + s];
                    l += params.yhat_weight * model.pred_lp[p * k + s];
                    l += params.error_weight * if e[i] > 0.5 { lp1[s] } else { lp0[s] };
                    l
                })
                .collect();
            let mx = lj.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = mx + lj.iter().map(|l| (l - mx).exp()).sum::<f64>().ln();
            ll_total += lse;
            for s in 0..k {
                let want = (lj[s] - lse).exp();
                let got = f64::from(post[s * n + i]);
                assert!(
                    (want - got).abs() < 1e-4,
                    "row {i} comp {s}: {want} vs {got}"
                );
            }
        }
        assert!(
            (stats.ll - ll_total).abs() < 1e-5 * ll_total.abs(),
            "{} vs {ll_total}",
            stats.ll
        );
    }

    #[test]
    fn a_sampled_fit_still_finds_the_blob_and_scores_every_row() {
        let (v, e, hot) = planted(3000, 16, 0.6, 11);
        let params = MixtureParams {
            fit_rows: 1500,
            ..MixtureParams::default()
        };
        let inp = input(&v, &e, None, 3);
        let c = fit(params.clone(), &inp);
        let top = &c[0];
        let j = jaccard(&top.members, &hot);
        assert!(j >= 0.8, "Jaccard {j}: {}", top.detail);
        // Membership covers every row, not only the sample.
        assert_eq!(top.membership.len(), 9000);
        assert!(top.members.len() > 1500 / 3 + 500);
        // The sample depends on the seed only.
        assert_eq!(c, fit(params, &inp));
    }

    #[test]
    fn errors_without_a_region_give_no_error_only_components() {
        // Three classes in three blobs, errors at random (10%) within each:
        // the joint fit can still split a class into "its errors" and "its
        // correct rows" (label + prediction terms), but such a component
        // is not a region of the view, so it must not come back as a slice
        // of (nearly) all errors.
        let mut rng = Rng::new(21);
        let (m, d) = (2000, 8);
        let centres: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..d).map(|_| 4.0 * rng.normal()).collect())
            .collect();
        let mut data = Vec::new();
        let (mut label, mut pred, mut e) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..3 * m {
            let c = i % 3;
            data.extend(centres[c].iter().map(|x| (x + rng.normal()) as f32));
            let err = rng.uniform() < 0.1;
            label.push(c as u32);
            pred.push(if err { ((c + 1) % 3) as u32 } else { c as u32 });
            e.push(f64::from(u8::from(err)));
        }
        let v = view(data, d);
        let cl = Classes {
            names: vec!["a".into(), "b".into(), "c".into()],
            label,
            pred,
        };
        // Weights that favour confusion cells make the point sharper.
        let params = MixtureParams {
            y_weight: 5.0,
            yhat_weight: 5.0,
            ..MixtureParams::default()
        };
        for cand in fit(params, &input(&v, &e, Some(&cl), 2)) {
            let errs: f64 = cand.members.iter().map(|&i| e[i as usize]).sum();
            let rate = errs / cand.members.len() as f64;
            assert!(rate < 0.5, "{}: error rate {rate}", cand.detail);
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_any_thread_count() {
        let (v, e, _) = planted(2000, 16, 0.5, 5);
        let cl = classes_for(&e, 6);
        let inp = input(&v, &e, Some(&cl), 42);
        let a = fit(MixtureParams::default(), &inp);
        let b = fit(MixtureParams::default(), &inp);
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| fit(MixtureParams::default(), &inp));
        assert_eq!(a, c);
        let bits = |c: &[Candidate]| {
            c.iter()
                .flat_map(|c| c.membership.iter().map(|m| m.to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a), bits(&c));
    }

    #[test]
    fn random_errors_give_only_small_excess() {
        for seed in [1, 2, 3] {
            let (v, _, _) = planted(1000, 16, 0.05, seed);
            let mut rng = Rng::new(100 + seed);
            let e: Vec<f64> = (0..3000)
                .map(|_| if rng.uniform() < 0.1 { 1.0 } else { 0.0 })
                .collect();
            let ebar = e.iter().sum::<f64>() / 3000.0;
            let total: f64 = e.iter().sum();
            for cand in fit(MixtureParams::default(), &input(&v, &e, None, seed)) {
                let m = cand.members.len() as f64;
                let z = cand.score / (m * ebar * (1.0 - ebar)).sqrt();
                // The planted case's top candidate has an excess of ~360.
                assert!(
                    cand.score < 0.05 * total,
                    "seed {seed}: excess {} of {total}: {}",
                    cand.score,
                    cand.detail
                );
                assert!(z < 3.0, "seed {seed}: z = {z}: {}", cand.detail);
            }
        }
    }

    #[test]
    fn weights_scale_invariance_and_weighted_excess() {
        let (v, e, _) = planted(500, 8, 0.6, 13);
        let base = fit(MixtureParams::default(), &input(&v, &e, None, 4));
        let w = vec![2.5; e.len()];
        let mut inp = input(&v, &e, None, 4);
        inp.weights = Some(&w);
        let weighted = fit(MixtureParams::default(), &inp);
        assert_eq!(base.len(), weighted.len());
        for (a, b) in base.iter().zip(&weighted) {
            assert_eq!(a.members, b.members);
            assert!(
                (b.score - 2.5 * a.score).abs() < 1e-6 * b.score.abs().max(1.0),
                "{} vs {}",
                a.score,
                b.score
            );
        }
    }

    #[test]
    fn tiny_inputs_and_no_errors_do_not_panic() {
        let (v, e, _) = planted(30, 4, 0.6, 1);
        // n = 5.
        let small = view(v.data[..5 * 4].to_vec(), 4);
        let c = fit(MixtureParams::default(), &input(&small, &e[..5], None, 1));
        assert!(c.len() <= 1);
        // n = 1 and n = 0.
        let one = view(v.data[..4].to_vec(), 4);
        assert!(fit(MixtureParams::default(), &input(&one, &e[..1], None, 1)).is_empty());
        let none = view(Vec::new(), 4);
        assert!(fit(MixtureParams::default(), &input(&none, &[], None, 1)).is_empty());
        // All errors 0 (binary and, with a flag off, continuous): nothing to find.
        let zeros = vec![0.0; 90];
        assert!(fit(MixtureParams::default(), &input(&v, &zeros, None, 1)).is_empty());
        let mut inp = input(&v, &zeros, None, 1);
        inp.binary = false;
        assert!(fit(MixtureParams::default(), &inp).is_empty());
        // Identical rows.
        let same = view(vec![1.0; 90 * 4], 4);
        fit(MixtureParams::default(), &input(&same, &e, None, 1));
        // Tiny n with classes and several components.
        let cl = classes_for(&e[..12], 1);
        let twelve = view(v.data[..12 * 4].to_vec(), 4);
        let params = MixtureParams {
            n_components: 25,
            n_init: 2,
            ..Default::default()
        };
        fit(params, &input(&twelve, &e[..12], Some(&cl), 1));
    }

    #[test]
    fn max_iter_and_shape_errors_are_reported() {
        let (v, e, _) = planted(300, 8, 0.6, 3);
        let params = MixtureParams {
            max_iter: 1,
            ..Default::default()
        };
        let c = fit(params, &input(&v, &e, None, 1));
        assert!(
            c.iter().all(|c| c.detail.contains("max_iter")),
            "{:?}",
            c.first().map(|c| &c.detail)
        );
        let s = MixtureSlicer::default();
        let err = s.fit(&input(&v, &e[..10], None, 1)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        let w = vec![1.0; 5];
        let mut inp = input(&v, &e, None, 1);
        inp.weights = Some(&w);
        assert!(matches!(s.fit(&inp).unwrap_err(), Error::ShapeMismatch(_)));
        let w = vec![0.0; e.len()];
        inp.weights = Some(&w);
        assert!(matches!(s.fit(&inp).unwrap_err(), Error::InvalidInput(_)));
    }

    #[test]
    fn params_from_toml_are_strict() {
        let p: MixtureParams = toml::from_str("n_components = 10\nerror_weight = 2.5").unwrap();
        assert_eq!(p.n_components, 10);
        assert_eq!(p.error_weight, 2.5);
        assert_eq!(p.n_slices, MixtureParams::default().n_slices);
        assert!(toml::from_str::<MixtureParams>("n_component = 10").is_err());
        assert_eq!(MixtureSlicer::default().name(), "mixture");
    }

    /// `invalid!(test_name, field, value)`: one test per invalid parameter,
    /// checking both `validate` and `fit`.
    macro_rules! invalid {
        ($name:ident, $field:ident, $value:expr) => {
            #[test]
            fn $name() {
                let params = MixtureParams {
                    $field: $value,
                    ..Default::default()
                };
                let s = MixtureSlicer { params };
                let err = s.validate().unwrap_err();
                match &err {
                    Error::InvalidParameter { name, .. } => {
                        assert_eq!(name, &format!("mixture.{}", stringify!($field)))
                    }
                    other => panic!("{other}"),
                }
                let (v, e, _) = planted(10, 2, 0.5, 1);
                assert!(matches!(
                    s.fit(&input(&v, &e, None, 1)),
                    Err(Error::InvalidParameter { .. })
                ));
            }
        };
    }
    invalid!(rejects_zero_components, n_components, 0);
    invalid!(rejects_zero_slices, n_slices, 0);
    invalid!(rejects_negative_y_weight, y_weight, -1.0);
    invalid!(rejects_nan_yhat_weight, yhat_weight, f64::NAN);
    invalid!(rejects_infinite_error_weight, error_weight, f64::INFINITY);
    invalid!(rejects_zero_inits, n_init, 0);
    invalid!(rejects_zero_max_iter, max_iter, 0);
    invalid!(rejects_negative_tol, tol, -1e-4);
    invalid!(rejects_zero_reg_covar, reg_covar, 0.0);
    invalid!(rejects_negative_min_size, min_size, -1.0);
    invalid!(rejects_zero_member_threshold, member_threshold, 0.0);
    invalid!(rejects_member_threshold_above_one, member_threshold, 1.5);

    #[test]
    fn fast_exp_and_ln_are_accurate() {
        let mut x = 0.0f32;
        while x > -45.0 {
            let want = f64::from(x).exp();
            let got = f64::from(exp_neg(x));
            if x >= SKIP_LOG as f32 {
                assert!((got - want).abs() <= 3e-7 * want, "{x}: {got} vs {want}");
            } else {
                assert_eq!(got, 0.0);
            }
            x -= 0.013;
        }
        assert_eq!(exp_neg(0.0), 1.0);
        let r2 = std::f64::consts::SQRT_2;
        for v in [
            1.0,
            1.0001,
            r2 - 1e-9,
            r2 + 1e-9,
            2.0,
            3.7,
            25.0,
            1e-300,
            1e300,
        ] {
            assert!(
                (ln_pos(v) - v.ln()).abs() <= 1e-12 * v.ln().abs().max(1.0),
                "{v}"
            );
        }
    }
}
