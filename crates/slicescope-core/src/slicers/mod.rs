//! Slicers over embedding views. Each is a plain type with a parameter
//! struct (`Default` + serde, strict keys) and a `fit` that returns
//! [`Candidate`]s; the pipeline measures, merges and ranks candidates
//! without caring which slicer produced them.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::outcome::Classes;
use crate::views::ReducedView;

pub mod direction;
pub mod mixture;
pub mod spotlight;

/// What an embedding slicer sees.
pub struct EmbeddingInput<'a> {
    /// The reduced view.
    pub view: &'a ReducedView,
    /// Per-row error, finite and ≥ 0.
    pub errors: &'a [f64],
    /// True when every error is 0 or 1.
    pub binary: bool,
    /// Optional frequency weights.
    pub weights: Option<&'a [f64]>,
    /// Label and prediction per row, for classification tasks.
    pub classes: Option<&'a Classes>,
    /// Seed of every random step.
    pub seed: u64,
}

impl EmbeddingInput<'_> {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.errors.len()
    }
}

/// How to decide membership of a row, re-applicable to new rows of the
/// same view (after the view's own preprocessing). All vectors live in the
/// view's reduced space (see [`ReducedView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Definition {
    /// Member when the kernel weight max(0, 1 − Σ_j p_j (z_j − c_j)²) is at
    /// least `threshold` (Spotlight's kernel with a diagonal precision).
    /// Needs only the embedding: applies to unlabelled rows.
    Kernel {
        /// Centre c.
        center: Vec<f32>,
        /// Diagonal precision p (length dim).
        precision: Vec<f32>,
        /// Membership threshold on the kernel weight, in (0, 1].
        threshold: f32,
    },
    /// Member when w·z + b ≥ threshold, restricted to rows whose *label*
    /// is `class` when set (then it needs labels; without `class` it
    /// applies to unlabelled rows).
    Halfspace {
        /// Normal w.
        weights: Vec<f32>,
        /// Offset b.
        bias: f32,
        /// Cut on the decision value.
        threshold: f32,
        /// Restrict to rows of this label class.
        class: Option<String>,
    },
    /// Member when the posterior of mixture component `component` is at
    /// least `threshold`. With `uses_outcome` the posterior includes the
    /// label/prediction/loss terms (needs labels); the embedding-only
    /// posterior (diagonal Gaussians with `log_weights`, `means`,
    /// `variances`) applies to unlabelled rows.
    Gaussian {
        /// Index of the component this slice is.
        component: usize,
        /// log π per component.
        log_weights: Vec<f32>,
        /// Means, row-major `components × dim`.
        means: Vec<f32>,
        /// Diagonal variances, row-major `components × dim`.
        variances: Vec<f32>,
        /// Posterior threshold.
        threshold: f32,
        /// Whether membership as found used the outcome terms.
        uses_outcome: bool,
    },
}

/// A candidate slice from an embedding slicer.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// "mixture", "spotlight", "direction".
    pub slicer: String,
    /// The view it was found in.
    pub view: String,
    /// Per-row membership score, higher = more typical member; used to
    /// order members and for ranking metrics.
    pub membership: Vec<f32>,
    /// Hard members: 0-based rows, ascending.
    pub members: Vec<u32>,
    /// How to re-apply it.
    pub definition: Definition,
    /// The slicer's own score of the candidate (larger is better).
    pub score: f64,
    /// Short slicer-specific detail ("class 'Shirt'", "component 7 of 25").
    pub detail: String,
}

/// A slicer over one embedding view.
pub trait EmbeddingSlicer: Sync {
    /// The slicer's name as users spell it.
    fn name(&self) -> &'static str;
    /// Validate parameters (called by `fit`).
    fn validate(&self) -> Result<()>;
    /// Find candidate slices.
    fn fit(&self, input: &EmbeddingInput<'_>) -> Result<Vec<Candidate>>;
}
