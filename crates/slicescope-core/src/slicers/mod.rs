//! Slicers over embedding views. Each is a plain type with a parameter
//! struct (`Default` + serde, strict keys) and a `fit` that returns
//! [`Candidate`]s; the pipeline measures, merges and ranks candidates
//! without caring which slicer produced them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
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

/// Some rows of an [`EmbeddingInput`], with their own copies of what the
/// slicers read (the reduced rows, errors, weights, classes).
pub struct RowSubset {
    /// The rows, indices into the full input.
    pub rows: Vec<u32>,
    view: ReducedView,
    errors: Vec<f64>,
    weights: Option<Vec<f64>>,
    classes: Option<Classes>,
}

impl RowSubset {
    /// Copy `rows` (indices into `input`, each < n) out of `input`.
    pub fn new(input: &EmbeddingInput<'_>, rows: &[u32]) -> RowSubset {
        let v = input.view;
        let mut data = Vec::with_capacity(rows.len() * v.dim);
        for &i in rows {
            data.extend_from_slice(v.row(i as usize));
        }
        let pick = |x: &[f64]| rows.iter().map(|&i| x[i as usize]).collect::<Vec<f64>>();
        RowSubset {
            rows: rows.to_vec(),
            view: ReducedView {
                name: v.name.clone(),
                source: v.source.clone(),
                dim_in: v.dim_in,
                dim: v.dim,
                normalized: v.normalized,
                mean: Vec::new(),
                axes: Vec::new(),
                explained_variance: Vec::new(),
                explained_ratio: v.explained_ratio,
                data,
            },
            errors: pick(input.errors),
            weights: input.weights.map(pick),
            classes: input.classes.map(|c| Classes {
                names: c.names.clone(),
                label: rows.iter().map(|&i| c.label[i as usize]).collect(),
                pred: rows.iter().map(|&i| c.pred[i as usize]).collect(),
            }),
        }
    }

    /// The subset's reduced view.
    pub fn view(&self) -> &ReducedView {
        &self.view
    }

    /// The subset as a slicer input.
    pub fn input(&self, binary: bool, seed: u64) -> EmbeddingInput<'_> {
        EmbeddingInput {
            view: &self.view,
            errors: &self.errors,
            binary,
            weights: self.weights.as_deref(),
            classes: self.classes.as_ref(),
            seed,
        }
    }
}

/// How to decide membership of a row, re-applicable to new rows of the
/// same view (after the view's own preprocessing). All vectors live in the
/// view's reduced space (see [`ReducedView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Definition {
    /// Member when the kernel weight max(0, 1 − Σ_j p_j (z_j − c_j)²) is at
    /// least `threshold` (Spotlight's kernel with a diagonal precision),
    /// restricted to rows whose *label* is `class` when set (then it needs
    /// labels; without `class` it needs only the embedding and applies to
    /// unlabelled rows).
    Kernel {
        /// Centre c.
        center: Vec<f32>,
        /// Diagonal precision p (length dim).
        precision: Vec<f32>,
        /// Membership threshold on the kernel weight, in (0, 1].
        threshold: f32,
        /// Restrict to rows of this label class.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
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
        /// Whether membership as found used the outcome terms (the label
        /// term: see `label_log_probs`).
        uses_outcome: bool,
        /// The weighted label term γ·log p_s(c), class-major
        /// `classes × components`, when membership uses the label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label_log_probs: Option<Vec<f32>>,
        /// The class names the label term is indexed by.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_names: Option<Vec<String>>,
    },
}

/// Labels of the rows a definition is applied to.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// Class names; `label` indexes them.
    pub names: &'a [String],
    /// Per-row class index.
    pub label: &'a [u32],
}

/// A definition applied to the rows of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Per-row membership score, as the slicer reports it (kernel weight;
    /// decision value minus the cut, −1e30 outside the class; posterior).
    pub scores: Vec<f32>,
    /// Member rows, ascending.
    pub members: Vec<u32>,
}

impl Definition {
    /// Apply the definition to every row of `view` (rows in the same
    /// reduced space as the rows it was found on). Kernel and halfspace
    /// definitions reproduce the slicer's members exactly; a gaussian one
    /// recomputes the posterior from its single-precision parameters, which
    /// can move rows whose posterior lies within about 1e-5 of the
    /// threshold. Definitions restricted to a label class, or whose
    /// posterior uses the label, need `labels`.
    pub fn apply(&self, view: &ReducedView, labels: Option<Labels<'_>>) -> Result<Applied> {
        let d = view.dim;
        let n = view.n_rows();
        let dim_err = |what: &str, len: usize| {
            Error::ShapeMismatch(format!(
                "the definition's {what} has {len} values but view '{}' has {d} dimensions",
                view.name
            ))
        };
        if let Some(l) = labels {
            if l.label.len() != n {
                return Err(Error::ShapeMismatch(format!(
                    "{} labels for the {n} rows of view '{}'",
                    l.label.len(),
                    view.name
                )));
            }
            if let Some(&bad) = l.label.iter().find(|&&c| c as usize >= l.names.len()) {
                return Err(Error::InvalidInput(format!(
                    "label index {bad} is out of range for {} class names",
                    l.names.len()
                )));
            }
        }
        match self {
            Definition::Kernel {
                center,
                precision,
                threshold,
                class,
            } => {
                if center.len() != d {
                    return Err(dim_err("centre", center.len()));
                }
                if precision.len() != d {
                    return Err(dim_err("precision", precision.len()));
                }
                let mut scores = spotlight::kernel_weights(&view.data, d, center, precision);
                if let Some((l, k)) = class_restriction(class.as_deref(), labels)? {
                    // Outside the class a row has kernel weight 0: no member.
                    for (s, &c) in scores.iter_mut().zip(l.label) {
                        if k != Some(c as usize) {
                            *s = 0.0;
                        }
                    }
                }
                let members = members_at(&scores, *threshold);
                Ok(Applied { scores, members })
            }
            Definition::Halfspace {
                weights,
                bias,
                threshold,
                class,
            } => {
                if weights.len() != d {
                    return Err(dim_err("normal", weights.len()));
                }
                let only = class_restriction(class.as_deref(), labels)?;
                let w64: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
                let thr = f64::from(*threshold);
                let bias = f64::from(*bias);
                let mut scores = vec![direction::OTHER_CLASS; n];
                let mut members = Vec::new();
                for (i, sc) in scores.iter_mut().enumerate() {
                    if let Some((l, k)) = only {
                        if k != Some(l.label[i] as usize) {
                            continue;
                        }
                    }
                    let v = direction::dot(view.row(i), &w64) + bias;
                    *sc = (v - thr) as f32;
                    if v >= thr {
                        members.push(i as u32);
                    }
                }
                Ok(Applied { scores, members })
            }
            Definition::Gaussian {
                component,
                threshold,
                ..
            } => {
                check_gaussian(self, view)?;
                let posts = gaussian_posteriors(self, view, labels)?;
                let scores = posts[*component * n..(*component + 1) * n].to_vec();
                let members = members_at(&scores, *threshold);
                Ok(Applied { scores, members })
            }
        }
    }
}

/// The labels and the class index a definition restricted to label class
/// `class` keeps (None: a class the labels do not have, which matches no
/// row); Ok(None) without a restriction; an error when the labels are
/// missing.
fn class_restriction<'a>(
    class: Option<&str>,
    labels: Option<Labels<'a>>,
) -> Result<Option<(Labels<'a>, Option<usize>)>> {
    let Some(name) = class else {
        return Ok(None);
    };
    let l = labels.ok_or_else(|| {
        Error::InvalidInput(format!(
            "this slice is restricted to label class '{name}': applying it needs the labels"
        ))
    })?;
    Ok(Some((l, l.names.iter().position(|x| x == name))))
}

/// Apply several definitions to the same view: like [`Definition::apply`]
/// for each, but mixture definitions that share their parameters (the
/// components of one fit) compute the posteriors once.
pub fn apply_many(
    defs: &[&Definition],
    view: &ReducedView,
    labels: Option<Labels<'_>>,
) -> Result<Vec<Applied>> {
    let mut cache: Vec<(&Definition, Vec<f32>)> = Vec::new();
    let mut out = Vec::with_capacity(defs.len());
    for &def in defs {
        let Definition::Gaussian {
            component,
            threshold,
            ..
        } = def
        else {
            out.push(def.apply(view, labels)?);
            continue;
        };
        let n = view.n_rows();
        let hit = cache.iter().position(|(d, _)| same_mixture(d, def));
        let idx = match hit {
            Some(i) => i,
            None => {
                check_gaussian(def, view)?;
                cache.push((def, gaussian_posteriors(def, view, labels)?));
                cache.len() - 1
            }
        };
        let scores = cache[idx].1[*component * n..(*component + 1) * n].to_vec();
        let members = members_at(&scores, *threshold);
        out.push(Applied { scores, members });
    }
    Ok(out)
}

/// Check a gaussian definition's shapes against the view.
fn check_gaussian(def: &Definition, view: &ReducedView) -> Result<()> {
    let Definition::Gaussian {
        component,
        log_weights,
        means,
        variances,
        ..
    } = def
    else {
        return Ok(());
    };
    let (k, d) = (log_weights.len(), view.dim);
    if *component >= k || means.len() != k * d || variances.len() != k * d {
        return Err(Error::ShapeMismatch(format!(
            "the mixture definition has {k} components, {} means and {} variances, which does not fit view '{}' ({d} dimensions) and component {component}",
            means.len(),
            variances.len(),
            view.name
        )));
    }
    if variances.iter().any(|v| v.is_nan() || *v <= 0.0) {
        return Err(Error::InvalidInput(
            "the mixture definition has a variance ≤ 0".into(),
        ));
    }
    Ok(())
}

/// Two gaussian definitions from the same fit (every parameter equal).
pub(crate) fn same_mixture(a: &Definition, b: &Definition) -> bool {
    match (a, b) {
        (
            Definition::Gaussian {
                log_weights: w1,
                means: m1,
                variances: v1,
                label_log_probs: l1,
                class_names: c1,
                ..
            },
            Definition::Gaussian {
                log_weights: w2,
                means: m2,
                variances: v2,
                label_log_probs: l2,
                class_names: c2,
                ..
            },
        ) => w1 == w2 && m1 == m2 && v1 == v2 && l1 == l2 && c1 == c2,
        _ => false,
    }
}

/// Every component's posterior (component-major `k × n`) of a gaussian
/// definition on the rows of `view`; shapes are checked by the caller.
fn gaussian_posteriors(
    def: &Definition,
    view: &ReducedView,
    labels: Option<Labels<'_>>,
) -> Result<Vec<f32>> {
    let Definition::Gaussian {
        log_weights,
        means,
        variances,
        label_log_probs,
        class_names,
        ..
    } = def
    else {
        return Err(Error::InvalidInput("not a mixture definition".into()));
    };
    let label = match (label_log_probs, class_names) {
        (Some(tab), Some(names)) => {
            let l = labels.ok_or_else(|| {
                Error::InvalidInput(
                    "this mixture slice's membership uses the label: applying it needs the labels"
                        .into(),
                )
            })?;
            if tab.len() != names.len() * log_weights.len() {
                return Err(Error::ShapeMismatch(format!(
                    "the label term has {} values for {} classes × {} components",
                    tab.len(),
                    names.len(),
                    log_weights.len()
                )));
            }
            // Map the labels' names onto the definition's classes.
            let map: Vec<Option<u32>> = l
                .names
                .iter()
                .map(|x| names.iter().position(|y| y == x).map(|p| p as u32))
                .collect();
            let idx = l.label.iter().map(|&c| map[c as usize]).collect();
            Some((tab.as_slice(), idx))
        }
        _ => None,
    };
    Ok(mixture::stored_posteriors(
        &mixture::StoredMixture {
            log_weights,
            means,
            variances,
            label,
        },
        view,
    ))
}

/// Rows whose score is at least `threshold`.
fn members_at(scores: &[f32], threshold: f32) -> Vec<u32> {
    scores
        .iter()
        .enumerate()
        .filter(|(_, &s)| s >= threshold)
        .map(|(i, _)| i as u32)
        .collect()
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
    /// Refit a slice this slicer found (its `definition`) on other rows —
    /// a bootstrap resample — from the slice itself: the optimiser started
    /// at the slice, so that where random starts would have gone does not
    /// count against it, or (without random starts) only the part of the
    /// fit the slice came from. `None` when the slicer has no refit or the
    /// definition is of another kind: then the stability check reruns
    /// `fit`.
    fn refit(
        &self,
        _input: &EmbeddingInput<'_>,
        _definition: &Definition,
    ) -> Result<Option<Vec<Candidate>>> {
        Ok(None)
    }
}

/// The rows of each label class, in row order (one pass over the labels).
pub(crate) fn rows_by_class(classes: &Classes) -> Vec<Vec<u32>> {
    let mut by_class = vec![Vec::new(); classes.names.len()];
    for (i, &l) in classes.label.iter().enumerate() {
        by_class[l as usize].push(i as u32);
    }
    by_class
}

/// Bootstrap frequency weights of `n` rows (n draws with replacement), for
/// the slicers' refit tests.
#[cfg(test)]
pub(crate) fn bootstrap_weights(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut w = vec![0.0; n];
    for _ in 0..n {
        w[rng.below(n as u64) as usize] += 1.0;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::direction::DirectionSlicer;
    use super::mixture::MixtureSlicer;
    use super::spotlight::SpotlightSlicer;
    use super::*;
    use crate::rng::Rng;

    /// Three blobs in 8 dimensions, three classes spread over them; blob 0
    /// errs 60% of the time, the others 5%.
    fn data(seed: u64) -> (ReducedView, Vec<f64>, Classes) {
        let mut rng = Rng::new(seed);
        let (m, d) = (600, 8);
        let centres: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..d).map(|_| 3.0 * rng.normal()).collect())
            .collect();
        let mut values = Vec::new();
        let (mut errors, mut label, mut pred) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..3 * m {
            let b = i % 3;
            values.extend(centres[b].iter().map(|c| (c + rng.normal()) as f32));
            let e = rng.uniform() < if b == 0 { 0.6 } else { 0.05 };
            let y = rng.below(3) as u32;
            errors.push(f64::from(u8::from(e)));
            label.push(y);
            pred.push(if e { (y + 1) % 3 } else { y });
        }
        let view = ReducedView {
            name: "v".into(),
            source: "test".into(),
            dim_in: d,
            dim: d,
            normalized: false,
            mean: vec![0.0; d],
            axes: Vec::new(),
            explained_variance: vec![1.0; d],
            explained_ratio: 1.0,
            data: values,
        };
        let classes = Classes {
            names: vec!["a".into(), "b".into(), "c".into()],
            label,
            pred,
        };
        (view, errors, classes)
    }

    fn check(slicer: &dyn EmbeddingSlicer, exact: bool) {
        let (view, errors, classes) = data(4);
        let input = EmbeddingInput {
            view: &view,
            errors: &errors,
            binary: true,
            weights: None,
            classes: Some(&classes),
            seed: 9,
        };
        let found = slicer.fit(&input).unwrap();
        assert!(!found.is_empty(), "{}", slicer.name());
        let labels = Labels {
            names: &classes.names,
            label: &classes.label,
        };
        let defs: Vec<&Definition> = found.iter().map(|c| &c.definition).collect();
        let many = apply_many(&defs, &view, Some(labels)).unwrap();
        for (c, m) in found.iter().zip(&many) {
            let a = c.definition.apply(&view, Some(labels)).unwrap();
            assert_eq!(&a, m, "apply_many differs from apply");
            if exact {
                assert_eq!(a.members, c.members, "{}: {}", slicer.name(), c.detail);
                assert_eq!(a.scores, c.membership, "{}", slicer.name());
            } else {
                let j = crate::merge::jaccard(&a.members, &c.members);
                assert!(j > 0.99, "{}: Jaccard {j}", c.detail);
                let worst = a
                    .scores
                    .iter()
                    .zip(&c.membership)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-4, "{}: posterior differs by {worst}", c.detail);
            }
            // Survives a JSON round trip.
            let json = serde_json::to_string(&c.definition).unwrap();
            let back: Definition = serde_json::from_str(&json).unwrap();
            assert_eq!(back.apply(&view, Some(labels)).unwrap(), a);
        }
    }

    #[test]
    fn kernel_definitions_reproduce_the_members_exactly() {
        check(&SpotlightSlicer::default(), true);
    }

    #[test]
    fn halfspace_definitions_reproduce_the_members_exactly() {
        check(&DirectionSlicer::default(), true);
    }

    #[test]
    fn gaussian_definitions_reproduce_the_members() {
        check(&MixtureSlicer::default(), false);
    }

    #[test]
    fn apply_checks_shapes_and_labels() {
        let (view, _, classes) = data(1);
        let kernel = Definition::Kernel {
            center: vec![0.0; 3],
            precision: vec![1.0; 3],
            threshold: 0.5,
            class: None,
        };
        let err = kernel.apply(&view, None).unwrap_err();
        assert!(err.to_string().contains("3 values"), "{err}");
        let half = Definition::Halfspace {
            weights: vec![1.0; 8],
            bias: 0.0,
            threshold: 0.0,
            class: Some("b".into()),
        };
        let err = half.apply(&view, None).unwrap_err();
        assert!(err.to_string().contains("needs the labels"), "{err}");
        let short = Labels {
            names: &classes.names,
            label: &classes.label[..10],
        };
        assert!(half.apply(&view, Some(short)).is_err());
        // Only rows of class b can be members.
        let labels = Labels {
            names: &classes.names,
            label: &classes.label,
        };
        let a = half.apply(&view, Some(labels)).unwrap();
        assert!(a.members.iter().all(|&i| classes.label[i as usize] == 1));
        assert!(!a.members.is_empty());
    }
}
