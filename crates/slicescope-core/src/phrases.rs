//! Natural-language descriptions of slices from a phrase vocabulary.
//!
//! A [`Vocabulary`] is a list of phrases with embeddings from the same
//! model as one embedding view (CLIP text embeddings for a CLIP image view,
//! sentence embeddings for a sentence-embedding view). Its phrases are
//! mapped into the view's reduced space exactly as the view's rows were
//! ([`Vocabulary::project`]), and [`describe`] scores every phrase by the
//! cosine between its projected embedding and the slice's direction: the
//! (weighted) mean of the members' reduced rows minus the mean of a
//! *reference* set of rows.
//!
//! The reference decides what the phrases describe. Against the whole
//! dataset, the direction from the rest of the data to a slice of cats
//! that the model gets wrong is mostly "cat", and the top phrase names
//! the class, not the failure. [`reference_rows`] therefore picks rows
//! outside the slice with the slice's labels, in the slice's label
//! proportions, so that the class cancels and what remains is what sets
//! the slice apart within its classes. (Domino, ALGORITHMS.md B1, uses
//! every row of the slice's modal class, the slice itself included, and a
//! raw dot product.)
//!
//! ```
//! use slicescope_core::phrases::{describe, reference_rows, ProjectedVocabulary, Vocabulary};
//! use slicescope_core::views::{prepare_view, ViewParams};
//!
//! // Six rows in 3-d: two classes (x and y axis), rows 0 and 1 of the
//! // first class leaning towards z.
//! let rows = [
//!     1.0, 0.0, 0.6, 1.0, 0.1, 0.5, 1.0, -0.1, 0.0, //
//!     1.0, 0.0, 0.1, 0.0, 1.0, 0.0, 0.1, 1.0, 0.1,
//! ];
//! let view = prepare_view("text", "demo", &rows, 3, &ViewParams::default())?;
//! let vocab = Vocabulary::new(
//!     vec!["first class".into(), "second class".into(), "leaning up".into()],
//!     vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
//!     3,
//! )?;
//! let projected = ProjectedVocabulary::new(&vocab, &view)?;
//! let labels = [0, 0, 0, 0, 1, 1];
//! let members = [0, 1];
//! let reference = reference_rows(&labels, &members, 6);
//! assert_eq!(reference, vec![2, 3]);
//! let scores = describe(&projected, &view, &members, &reference, None, 1)?;
//! assert_eq!(scores[0].phrase, "leaning up");
//! # Ok::<(), slicescope_core::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::views::ReducedView;

/// Phrases with embeddings in the space of one embedding view.
///
/// Phrases are unique, non-blank strings; every embedding is finite and
/// not all zero. Duplicate phrases are an error rather than silently
/// dropped: two embeddings for one phrase mean the vocabulary file was
/// assembled wrongly, and keeping either would hide that
/// (`scripts/make_vocab.py` de-duplicates its input before embedding).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    phrases: Vec<String>,
    dim: usize,
    /// Row-major `phrases × dim`.
    embeddings: Vec<f32>,
}

impl Vocabulary {
    /// A vocabulary from phrases and their embeddings (row-major
    /// `phrases.len() × dim`).
    ///
    /// Errors: `dim` of 0 or blank, duplicate, non-finite or all-zero
    /// entries ([`Error::InvalidInput`], naming up to five phrases), no
    /// phrases ([`Error::NoData`]), a length other than
    /// `phrases.len() × dim` ([`Error::ShapeMismatch`]).
    pub fn new(phrases: Vec<String>, embeddings: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidInput(
                "the vocabulary's embeddings have length 0".into(),
            ));
        }
        if phrases.is_empty() {
            return Err(Error::NoData(
                "the vocabulary holds no phrases; give at least one phrase with its embedding"
                    .into(),
            ));
        }
        if phrases.len().checked_mul(dim) != Some(embeddings.len()) {
            return Err(Error::ShapeMismatch(format!(
                "the vocabulary has {} phrases and {} embedding values, expected {} × {dim}",
                phrases.len(),
                embeddings.len(),
                phrases.len()
            )));
        }
        let blank: Vec<usize> = (0..phrases.len())
            .filter(|&i| phrases[i].trim().is_empty())
            .collect();
        if !blank.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the vocabulary has blank phrases at {}; remove them",
                positions(&blank)
            )));
        }
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(phrases.len());
        let mut duplicates = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            if let Some(&first) = seen.get(p.as_str()) {
                duplicates.push(format!("'{p}' (positions {first} and {i})"));
            } else {
                seen.insert(p, i);
            }
        }
        if !duplicates.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the vocabulary has duplicate phrases: {}; keep one embedding per phrase",
                shown(&duplicates)
            )));
        }
        let rows = embeddings.chunks_exact(dim);
        let non_finite: Vec<usize> = rows
            .clone()
            .enumerate()
            .filter_map(|(i, e)| e.iter().any(|v| !v.is_finite()).then_some(i))
            .collect();
        if !non_finite.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the vocabulary has NaN or infinite embedding values for {}; re-embed those phrases",
                quoted(&non_finite, &phrases)
            )));
        }
        let zero: Vec<usize> = rows
            .enumerate()
            .filter_map(|(i, e)| e.iter().all(|&v| v == 0.0).then_some(i))
            .collect();
        if !zero.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the vocabulary has all-zero embeddings for {}; re-embed those phrases",
                quoted(&zero, &phrases)
            )));
        }
        Ok(Vocabulary {
            phrases,
            dim,
            embeddings,
        })
    }

    /// Number of phrases (at least 1).
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Always false: a vocabulary holds at least one phrase.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Dimension of the embeddings.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The phrases, in the order given.
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }

    /// The embeddings, row-major `len() × dim()`.
    pub fn embeddings(&self) -> &[f32] {
        &self.embeddings
    }

    /// The phrase embeddings in `view`'s reduced space, row-major
    /// `len() × view.dim`: each embedding e becomes Vᵀ(ẽ − mean), where ẽ
    /// is e / ‖e‖ when the view was L2-normalised and e otherwise, `mean`
    /// the view's mean and V its axes — the transformation the view's own
    /// rows went through. Computed in f64.
    ///
    /// Errors ([`Error::ShapeMismatch`]): the embeddings and the view's
    /// vectors differ in dimension (the phrases were embedded with another
    /// model than the view), or the view's `mean` and `axes` do not match
    /// its dimensions.
    pub fn project(&self, view: &ReducedView) -> Result<Vec<f32>> {
        if view.dim_in != self.dim {
            return Err(Error::ShapeMismatch(format!(
                "the vocabulary's embeddings have dimension {} but view '{}' ({}) has vectors of \
                 dimension {}; embed the phrases with the model that produced the view",
                self.dim, view.name, view.source, view.dim_in
            )));
        }
        let (d, k) = (view.dim_in, view.dim);
        if view.mean.len() != d || Some(view.axes.len()) != d.checked_mul(k) {
            return Err(Error::ShapeMismatch(format!(
                "view '{}' ({}) is inconsistent: mean of length {} and {} axis values for \
                 {d} × {k}",
                view.name,
                view.source,
                view.mean.len(),
                view.axes.len()
            )));
        }
        let mut out = Vec::with_capacity(self.len() * k);
        let mut centred = vec![0f64; d];
        let mut z = vec![0f64; k];
        for e in self.embeddings.chunks_exact(d) {
            let scale = if view.normalized {
                let norm = e
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt();
                // Non-zero and finite by construction; the check mirrors
                // the view, where a zero row stays zero.
                if norm > 0.0 && norm.is_finite() {
                    1.0 / norm
                } else {
                    1.0
                }
            } else {
                1.0
            };
            for ((c, &v), &m) in centred.iter_mut().zip(e).zip(&view.mean) {
                *c = f64::from(v) * scale - f64::from(m);
            }
            z.iter_mut().for_each(|x| *x = 0.0);
            for (&c, axes_row) in centred.iter().zip(view.axes.chunks_exact(k)) {
                for (zj, &a) in z.iter_mut().zip(axes_row) {
                    *zj += c * f64::from(a);
                }
            }
            out.extend(z.iter().map(|&x| x as f32));
        }
        Ok(out)
    }
}

/// A vocabulary projected into one view's reduced space, ready for
/// [`describe`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedVocabulary {
    view: String,
    dim: usize,
    phrases: Vec<String>,
    /// Row-major `phrases × dim`.
    embeddings: Vec<f32>,
}

impl ProjectedVocabulary {
    /// Project `vocab` into `view`'s reduced space ([`Vocabulary::project`]).
    pub fn new(vocab: &Vocabulary, view: &ReducedView) -> Result<Self> {
        let embeddings = vocab.project(view)?;
        Ok(ProjectedVocabulary {
            view: view.name.clone(),
            dim: view.dim,
            phrases: vocab.phrases.clone(),
            embeddings,
        })
    }

    /// Name of the view it was projected into.
    pub fn view(&self) -> &str {
        &self.view
    }

    /// Dimension of the view's reduced space.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// True when there are no phrases (never, for a projected
    /// [`Vocabulary`]).
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The phrases, in the vocabulary's order.
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }

    /// The projected embeddings, row-major `len() × dim()`.
    pub fn embeddings(&self) -> &[f32] {
        &self.embeddings
    }
}

/// How well one phrase describes a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhraseScore {
    /// The phrase.
    pub phrase: String,
    /// Cosine between the phrase's projected embedding and the slice
    /// direction (members' mean minus the reference mean), in [−1, 1].
    pub score: f64,
    /// Mean cosine between the members' reduced rows and the phrase
    /// (weighted like the members' mean).
    pub slice_mean: f64,
    /// Mean cosine between the reference rows and the phrase.
    pub reference_mean: f64,
}

/// Score every phrase of `vocab` as a description of the slice `members`
/// against `reference`, best first, at most `top` of them.
///
/// The slice direction is δ = z̄_members − z̄_reference in `view`'s reduced
/// space, the members' mean weighted by `weights` (one non-negative weight
/// per entry of `members`, e.g. membership scores; equal weights when
/// `None`). Each phrase's score is the cosine between its projected
/// embedding and δ. `slice_mean` and `reference_mean` are the mean cosines
/// between the rows of each set and the phrase, in the same reduced,
/// centred space (0 is the average row of the view): their difference is
/// the effect size behind the score. A phrase whose projection is zero
/// scores 0. Ties keep the vocabulary's order. Rows are used as given: a
/// row listed twice counts twice.
///
/// `reference` should be rows outside the slice with the same labels (see
/// [`reference_rows`]): against all other rows, δ mostly separates the
/// slice's classes from the rest, and the top phrases name the class
/// instead of what goes wrong within it.
///
/// Returns an empty list when `members` or `reference` is empty, the
/// weights sum to 0, or the two means coincide (no direction).
///
/// Errors: `vocab` projected for another view ([`Error::ShapeMismatch`]),
/// rows out of range or negative or non-finite weights
/// ([`Error::InvalidInput`]), `weights` of another length than `members`
/// ([`Error::ShapeMismatch`]).
pub fn describe(
    vocab: &ProjectedVocabulary,
    view: &ReducedView,
    members: &[u32],
    reference: &[u32],
    weights: Option<&[f64]>,
    top: usize,
) -> Result<Vec<PhraseScore>> {
    if vocab.view != view.name || vocab.dim != view.dim {
        return Err(Error::ShapeMismatch(format!(
            "the vocabulary was projected into view '{}' ({} dimensions), not view '{}' ({} \
             dimensions); project it into the view being described",
            vocab.view, vocab.dim, view.name, view.dim
        )));
    }
    let n = view.n_rows();
    for (what, rows) in [("member", members), ("reference", reference)] {
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= n) {
            return Err(Error::InvalidInput(format!(
                "{what} row {r} is out of range: view '{}' has {}",
                view.name,
                crate::outcome::n_rows(n)
            )));
        }
    }
    if let Some(w) = weights {
        if w.len() != members.len() {
            return Err(Error::ShapeMismatch(format!(
                "{} weights for {} members; give one weight per member",
                w.len(),
                members.len()
            )));
        }
        if let Some(i) = w.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(Error::InvalidInput(format!(
                "the weight of member {i} (row {}) is {}; weights must be finite and non-negative",
                members[i], w[i]
            )));
        }
    }
    let Some(slice) = RowMeans::of(view, members, weights) else {
        return Ok(Vec::new());
    };
    let Some(refs) = RowMeans::of(view, reference, None) else {
        return Ok(Vec::new());
    };
    let delta: Vec<f64> = slice
        .mean
        .iter()
        .zip(&refs.mean)
        .map(|(a, b)| a - b)
        .collect();
    let delta_norm = norm(&delta);
    // Means that agree to rounding error leave no direction to describe.
    let scale = norm(&slice.mean).max(norm(&refs.mean));
    if !(delta_norm > 1e-12 * scale && delta_norm > 0.0) {
        return Ok(Vec::new());
    }
    let mut scores: Vec<PhraseScore> = vocab
        .phrases
        .iter()
        .zip(vocab.embeddings.chunks_exact(vocab.dim))
        .map(|(phrase, p)| {
            let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
            let p_norm = norm(&p);
            let (score, slice_mean, reference_mean) = if p_norm > 0.0 {
                (
                    dot(&p, &delta) / (p_norm * delta_norm),
                    dot(&p, &slice.unit_mean) / p_norm,
                    dot(&p, &refs.unit_mean) / p_norm,
                )
            } else {
                (0.0, 0.0, 0.0)
            };
            PhraseScore {
                phrase: phrase.clone(),
                score,
                slice_mean,
                reference_mean,
            }
        })
        .collect();
    // Stable: ties keep the vocabulary's order.
    scores.sort_by(|a, b| b.score.total_cmp(&a.score));
    scores.truncate(top);
    Ok(scores)
}

/// Rows to contrast a slice with: rows outside the slice whose label is
/// one of the members' labels, in the members' label proportions.
///
/// `labels` holds one class code per row, or is empty when there are no
/// labels; rows `0..n_rows` are considered (a row past the end of `labels`
/// counts as unlabelled, members `>= n_rows` are ignored). Per label l with
/// m_l members and r_l rows outside the slice, every label keeps
/// round(f · m_l) of its r_l rows (at least 1), with f = min r_l / m_l: the
/// largest reference whose label shares match the slice's, so that the
/// classes cancel in the slice direction. For a slice of one label that is
/// every other row of the label. The rows kept of a label are evenly
/// spaced among its rows (deterministic, no sampling). Labels whose rows
/// are all in the slice cannot be contrasted within the label and are left
/// out.
///
/// Falls back to all rows outside the slice when there are no labels, no
/// labelled member, or no label with rows outside the slice (the slice is
/// whole classes). Ascending.
pub fn reference_rows(labels: &[u32], members: &[u32], n_rows: usize) -> Vec<u32> {
    let mut in_slice = vec![false; n_rows];
    for &m in members {
        if let Some(s) = in_slice.get_mut(m as usize) {
            *s = true;
        }
    }
    let outside = || {
        (0..n_rows)
            .filter(|&r| !in_slice[r])
            .map(|r| r as u32)
            .collect::<Vec<u32>>()
    };
    if labels.is_empty() {
        return outside();
    }
    // Per label of the slice: (members, rows outside the slice).
    let mut groups: BTreeMap<u32, (usize, Vec<u32>)> = BTreeMap::new();
    for (r, _) in in_slice.iter().enumerate().filter(|(_, &s)| s) {
        if let Some(&l) = labels.get(r) {
            groups.entry(l).or_default().0 += 1;
        }
    }
    for (r, _) in in_slice.iter().enumerate().filter(|(_, &s)| !s) {
        if let Some((_, rows)) = labels.get(r).and_then(|l| groups.get_mut(l)) {
            rows.push(r as u32);
        }
    }
    groups.retain(|_, (_, rows)| !rows.is_empty());
    // f = min r_l / m_l, kept as the fraction (r*, m*) to stay exact.
    let Some((r_star, m_star)) = groups
        .values()
        .map(|(m, rows)| (rows.len() as u128, *m as u128))
        .min_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)))
    else {
        return outside();
    };
    let mut out = Vec::new();
    for (m, rows) in groups.values() {
        let r = rows.len() as u128;
        // round(f · m) = floor((2 r* m + m*) / (2 m*)), in [1, r].
        let keep = ((2 * r_star * *m as u128 + m_star) / (2 * m_star)).clamp(1, r);
        // Evenly spaced: the row at floor((2j + 1) r / (2 keep)).
        out.extend((0..keep).map(|j| rows[((2 * j + 1) * r / (2 * keep)) as usize]));
    }
    out.sort_unstable();
    out
}

/// Weighted means of some rows of a view: of the rows themselves and of
/// the rows scaled to unit length (for mean cosines).
struct RowMeans {
    mean: Vec<f64>,
    unit_mean: Vec<f64>,
}

impl RowMeans {
    /// None when there are no rows or the weights sum to 0. Rows are in
    /// range and weights valid (checked by the caller).
    fn of(view: &ReducedView, rows: &[u32], weights: Option<&[f64]>) -> Option<Self> {
        let k = view.dim;
        let mut mean = vec![0f64; k];
        let mut unit_mean = vec![0f64; k];
        let mut total = 0.0;
        let mut z = vec![0f64; k];
        for (i, &r) in rows.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            if w == 0.0 {
                continue;
            }
            total += w;
            for (a, &v) in z.iter_mut().zip(view.row(r as usize)) {
                *a = f64::from(v);
            }
            let z_norm = norm(&z);
            for ((m, u), &v) in mean.iter_mut().zip(unit_mean.iter_mut()).zip(&z) {
                *m += w * v;
                if z_norm > 0.0 {
                    *u += w * v / z_norm;
                }
            }
        }
        if total <= 0.0 {
            return None;
        }
        mean.iter_mut().for_each(|m| *m /= total);
        unit_mean.iter_mut().for_each(|u| *u /= total);
        Some(RowMeans { mean, unit_mean })
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// "position 3" or "positions 1, 4, 9, ..." (0-based, at most five shown).
fn positions(idx: &[usize]) -> String {
    let word = if idx.len() == 1 {
        "position"
    } else {
        "positions"
    };
    let items: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
    format!("{word} {}", shown(&items))
}

/// "'cat' (position 3), 'dog' (position 7)" for up to five phrases.
fn quoted(idx: &[usize], phrases: &[String]) -> String {
    let items: Vec<String> = idx
        .iter()
        .map(|&i| format!("'{}' (position {i})", phrases[i]))
        .collect();
    shown(&items)
}

/// The first five items joined by ", ", with ", ..." when there are more.
fn shown(items: &[String]) -> String {
    let head = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        format!("{head}, ... ({} in all)", items.len())
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::views::{prepare_view, ViewParams};

    const D: usize = 16;

    /// `n` random orthonormal vectors of length `d` (Gram–Schmidt).
    fn orthonormal(n: usize, d: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < n {
            let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for u in &q {
                let c = dot(&v, u);
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
            }
            let s = norm(&v);
            v.iter_mut().for_each(|x| *x /= s);
            q.push(v);
        }
        q
    }

    fn f32s(v: &[f64]) -> Vec<f32> {
        v.iter().map(|&x| x as f32).collect()
    }

    /// A CLIP-like world. Phrase embeddings: "a photo of a cat" (class 0),
    /// "a photo of a dog" (class 1), "in the snow" (the failure) and four
    /// unrelated phrases, all unit vectors. 300 rows per class, each
    /// `0.4 · shared + 0.8 · class + 0.25 · noise`; the first 60 cat rows
    /// (the slice) add `0.35 · snow`. Rows are L2-normalised by the view.
    struct World {
        view: ReducedView,
        vocab: Vocabulary,
        labels: Vec<u32>,
        members: Vec<u32>,
    }

    fn world(seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let q = orthonormal(8, D, &mut rng);
        let (shared, cat, dog, snow) = (&q[0], &q[1], &q[2], &q[3]);
        let phrases = [
            "a photo of a cat",
            "a photo of a dog",
            "in the snow",
            "a blurry photo",
            "indoors",
            "a drawing",
            "at night",
        ];
        let mut emb = Vec::new();
        for (i, _) in phrases.iter().enumerate() {
            let v: Vec<f64> = match i {
                0 => cat.clone(),
                1 => dog.clone(),
                2 => snow.clone(),
                _ => q[i + 1].clone(),
            };
            emb.extend(f32s(&v));
        }
        let vocab =
            Vocabulary::new(phrases.iter().map(|s| s.to_string()).collect(), emb, D).unwrap();
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut members = Vec::new();
        for class in 0..2u32 {
            for i in 0..300 {
                let centre = if class == 0 { cat } else { dog };
                let in_slice = class == 0 && i < 60;
                let row: Vec<f64> = (0..D)
                    .map(|a| {
                        0.4 * shared[a]
                            + 0.8 * centre[a]
                            + if in_slice { 0.35 * snow[a] } else { 0.0 }
                            + 0.25 * rng.normal() / (D as f64).sqrt()
                    })
                    .collect();
                if in_slice {
                    members.push(labels.len() as u32);
                }
                labels.push(class);
                values.extend(f32s(&row));
            }
        }
        let params = ViewParams {
            max_dim: 12,
            normalize: true,
        };
        let view = prepare_view("clip", "test", &values, D, &params).unwrap();
        World {
            view,
            vocab,
            labels,
            members,
        }
    }

    #[test]
    fn same_label_reference_names_the_failure_not_the_class() {
        let w = world(11);
        let pv = ProjectedVocabulary::new(&w.vocab, &w.view).unwrap();
        let reference = reference_rows(&w.labels, &w.members, w.labels.len());
        assert_eq!(reference, (60..300).collect::<Vec<u32>>());
        let scores = describe(&pv, &w.view, &w.members, &reference, None, 7).unwrap();
        assert_eq!(scores.len(), 7);
        assert_eq!(scores[0].phrase, "in the snow", "{scores:#?}");
        assert!(scores[0].score > 0.95, "{scores:#?}");
        // The effect size behind the score: members are closer to the
        // phrase than the reference is.
        assert!(scores[0].slice_mean - scores[0].reference_mean > 0.3);
        let cat = scores
            .iter()
            .find(|s| s.phrase == "a photo of a cat")
            .unwrap();
        assert!(cat.score < 0.1, "{cat:?}");
        assert!(scores.windows(2).all(|p| p[0].score >= p[1].score));
        assert!(scores.iter().all(|s| (-1.0..=1.0).contains(&s.score)));
        // `top` truncates the ranking.
        let top2 = describe(&pv, &w.view, &w.members, &reference, None, 2).unwrap();
        assert_eq!(top2[..], scores[..2]);
    }

    #[test]
    fn whole_dataset_reference_names_the_class() {
        // The quirk the same-label reference avoids: against every other
        // row, the slice direction is mostly "cat versus dog".
        let w = world(11);
        let pv = ProjectedVocabulary::new(&w.vocab, &w.view).unwrap();
        let everything_else = reference_rows(&[], &w.members, w.labels.len());
        assert_eq!(everything_else.len(), 540);
        let scores = describe(&pv, &w.view, &w.members, &everything_else, None, 7).unwrap();
        assert_eq!(scores[0].phrase, "a photo of a cat", "{scores:#?}");
        assert_eq!(scores[1].phrase, "in the snow", "{scores:#?}");
        assert!(scores[0].score - scores[1].score > 0.1, "{scores:#?}");
    }

    #[test]
    fn weights_select_the_direction() {
        // Two groups of members, each shifted along its own phrase; the
        // weights decide which one the description follows.
        let mut rng = Rng::new(5);
        let q = orthonormal(4, D, &mut rng);
        let mut values = Vec::new();
        for i in 0..400 {
            let shift = match i {
                0..=49 => Some(&q[1]),
                50..=99 => Some(&q[2]),
                _ => None,
            };
            values.extend((0..D).map(|a| {
                (q[0][a] + shift.map_or(0.0, |s| 0.6 * s[a]) + 0.2 * rng.normal()) as f32
            }));
        }
        let view = prepare_view(
            "text",
            "test",
            &values,
            D,
            &ViewParams {
                max_dim: 16,
                normalize: false,
            },
        )
        .unwrap();
        let names = vec!["base".to_string(), "first".into(), "second".into()];
        let emb: Vec<f32> = q[..3].iter().flat_map(|v| f32s(v)).collect();
        let vocab = Vocabulary::new(names, emb, D).unwrap();
        let pv = ProjectedVocabulary::new(&vocab, &view).unwrap();
        let members: Vec<u32> = (0..100).collect();
        let reference: Vec<u32> = (100..400).collect();
        let first: Vec<f64> = (0..100).map(|i| if i < 50 { 1.0 } else { 0.0 }).collect();
        let second: Vec<f64> = first.iter().map(|w| 1.0 - w).collect();
        let a = describe(&pv, &view, &members, &reference, Some(&first), 1).unwrap();
        let b = describe(&pv, &view, &members, &reference, Some(&second), 1).unwrap();
        assert_eq!(
            (a[0].phrase.as_str(), b[0].phrase.as_str()),
            ("first", "second")
        );
        // Unweighted, both shifts count: neither phrase explains it alone.
        let both = describe(&pv, &view, &members, &reference, None, 3).unwrap();
        assert!(
            both[0].score < a[0].score && both[0].score < 0.85,
            "{both:?}"
        );
        // Doubling every weight changes nothing.
        let doubled: Vec<f64> = first.iter().map(|w| 2.0 * w).collect();
        let c = describe(&pv, &view, &members, &reference, Some(&doubled), 1).unwrap();
        assert!((c[0].score - a[0].score).abs() < 1e-12);
    }

    #[test]
    fn projection_matches_the_views_preprocessing() {
        let mut rng = Rng::new(3);
        let values: Vec<f32> = (0..200 * D)
            .map(|i| (rng.normal() * 2.0 + (i % D) as f64 * 0.1) as f32)
            .collect();
        for normalize in [false, true] {
            for max_dim in [5, D] {
                let params = ViewParams { max_dim, normalize };
                let view = prepare_view("v", "test", &values, D, &params).unwrap();
                let rows = [0usize, 17, 199];
                let names: Vec<String> = rows.iter().map(|r| format!("row {r}")).collect();
                let emb: Vec<f32> = rows
                    .iter()
                    .flat_map(|&r| values[r * D..(r + 1) * D].to_vec())
                    .collect();
                let vocab = Vocabulary::new(names, emb, D).unwrap();
                let p = vocab.project(&view).unwrap();
                assert_eq!(p.len(), rows.len() * view.dim);
                for (i, &r) in rows.iter().enumerate() {
                    for (a, b) in p[i * view.dim..(i + 1) * view.dim].iter().zip(view.row(r)) {
                        assert!(
                            (a - b).abs() < 1e-5,
                            "{normalize} {max_dim} row {r}: {a} {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn normalised_projection_ignores_the_embedding_scale() {
        let w = world(2);
        let e = w.vocab.embeddings()[..D].to_vec();
        let scaled: Vec<f32> = e.iter().map(|v| v * 7.5).collect();
        let a = Vocabulary::new(vec!["x".into()], e, D).unwrap();
        let b = Vocabulary::new(vec!["x".into()], scaled, D).unwrap();
        let (pa, pb) = (a.project(&w.view).unwrap(), b.project(&w.view).unwrap());
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    #[test]
    fn projection_into_a_view_of_another_dimension_names_the_view() {
        let w = world(4);
        let vocab = Vocabulary::new(vec!["a".into()], vec![1.0; 8], 8).unwrap();
        let err = vocab.project(&w.view).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{msg}");
        assert!(
            msg.contains("'clip'") && msg.contains("dimension 8") && msg.contains("dimension 16"),
            "{msg}"
        );
        let mut broken = w.view.clone();
        broken.axes.pop();
        let err = w.vocab.project(&broken).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
    }

    #[test]
    fn describe_checks_its_inputs() {
        let w = world(6);
        let pv = ProjectedVocabulary::new(&w.vocab, &w.view).unwrap();
        let reference: Vec<u32> = (60..300).collect();
        let (v, m) = (&w.view, &w.members[..]);
        let err = describe(&pv, v, &[0, 600], &reference, None, 3).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(ref s) if s.contains("member row 600") && s.contains("600 rows")),
            "{err}"
        );
        let err = describe(&pv, v, m, &[1000], None, 3).unwrap_err();
        assert!(err.to_string().contains("reference row 1000"), "{err}");
        let err = describe(&pv, v, m, &reference, Some(&[1.0; 3]), 3).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        let mut bad = vec![1.0; m.len()];
        bad[4] = -1.0;
        let err = describe(&pv, v, m, &reference, Some(&bad), 3).unwrap_err();
        assert!(err.to_string().contains("member 4 (row 4)"), "{err}");
        bad[4] = f64::NAN;
        assert!(describe(&pv, v, m, &reference, Some(&bad), 3).is_err());
        // A vocabulary projected into another view.
        let mut other = w.view.clone();
        other.name = "other".into();
        let err = describe(&pv, &other, m, &reference, None, 3).unwrap_err();
        assert!(err.to_string().contains("'other'"), "{err}");
    }

    #[test]
    fn degenerate_slices_give_no_description() {
        let w = world(7);
        let pv = ProjectedVocabulary::new(&w.vocab, &w.view).unwrap();
        let (v, m) = (&w.view, &w.members[..]);
        let reference: Vec<u32> = (60..300).collect();
        assert!(describe(&pv, v, &[], &reference, None, 5)
            .unwrap()
            .is_empty());
        assert!(describe(&pv, v, &[], &reference, Some(&[]), 5)
            .unwrap()
            .is_empty());
        assert!(describe(&pv, v, m, &[], None, 5).unwrap().is_empty());
        assert!(
            describe(&pv, v, m, &reference, Some(&vec![0.0; m.len()]), 5)
                .unwrap()
                .is_empty()
        );
        // Members and reference the same rows: no direction.
        assert!(describe(&pv, v, m, m, None, 5).unwrap().is_empty());
        assert!(describe(&pv, v, m, &reference, None, 0).unwrap().is_empty());
        // Deterministic.
        assert_eq!(
            describe(&pv, v, m, &reference, None, 7).unwrap(),
            describe(&pv, v, m, &reference, None, 7).unwrap()
        );
    }

    #[test]
    fn reference_matches_the_slice_label_shares() {
        // 100 rows of label 7, 100 of label 9, 50 of label 3.
        let labels: Vec<u32> = (0..250)
            .map(|i| match i {
                0..=99 => 7,
                100..=199 => 9,
                _ => 3,
            })
            .collect();
        // 30 members of label 7, 10 of label 9.
        let members: Vec<u32> = (0..30).chain(100..110).collect();
        let r = reference_rows(&labels, &members, 250);
        let count = |l: u32| r.iter().filter(|&&x| labels[x as usize] == l).count();
        // f = min(70/30, 90/10): all 70 rows of 7, round(70/3) = 23 of 9.
        assert_eq!((count(7), count(9), count(3)), (70, 23, 0));
        assert!(r.windows(2).all(|p| p[0] < p[1]));
        assert!(r.iter().all(|x| !members.contains(x)));
        // Evenly spread over label 9's rows outside the slice.
        let nines: Vec<u32> = r.iter().copied().filter(|&x| x >= 100).collect();
        assert!(nines[0] < 115 && *nines.last().unwrap() > 190, "{nines:?}");
        // Duplicates and out-of-range members do not change anything.
        let noisy: Vec<u32> = members.iter().chain(&[0, 5, 900]).copied().collect();
        assert_eq!(reference_rows(&labels, &noisy, 250), r);
    }

    #[test]
    fn reference_falls_back_to_all_other_rows() {
        let labels = [0u32, 0, 1, 1, 2];
        // No labels.
        assert_eq!(reference_rows(&[], &[1, 3], 5), vec![0, 2, 4]);
        // The slice is all of label 0: no same-label contrast.
        assert_eq!(reference_rows(&labels, &[0, 1], 5), vec![2, 3, 4]);
        // Label 0 is exhausted and left out, label 1 is contrasted.
        assert_eq!(reference_rows(&labels, &[0, 1, 2], 5), vec![3]);
        // No members.
        assert_eq!(reference_rows(&labels, &[], 5), vec![0, 1, 2, 3, 4]);
        // Members past the end of the labels are unlabelled.
        assert_eq!(reference_rows(&labels[..3], &[4], 5), vec![0, 1, 2, 3]);
        assert!(reference_rows(&[], &[], 0).is_empty());
    }

    #[test]
    fn vocabulary_rejects_bad_input() {
        let ok = || vec!["a".to_string(), "b".into()];
        let err = Vocabulary::new(vec![], vec![], 4).unwrap_err();
        assert!(matches!(err, Error::NoData(_)), "{err}");
        let err = Vocabulary::new(ok(), vec![1.0; 8], 0).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = Vocabulary::new(ok(), vec![1.0; 7], 4).unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch(ref s) if s.contains("2 × 4")),
            "{err}"
        );
        let mut nan = vec![1.0; 8];
        nan[5] = f32::NAN;
        let err = Vocabulary::new(ok(), nan, 4).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(ref s) if s.contains("'b' (position 1)")),
            "{err}"
        );
        let mut inf = vec![1.0; 8];
        inf[0] = f32::NEG_INFINITY;
        assert!(Vocabulary::new(ok(), inf, 4).is_err());
        let mut zero = vec![1.0; 8];
        zero[..4].iter_mut().for_each(|v| *v = 0.0);
        let err = Vocabulary::new(ok(), zero, 4).unwrap_err();
        assert!(err.to_string().contains("all-zero"), "{err}");
        let err = Vocabulary::new(vec!["a".into(), "  ".into()], vec![1.0; 8], 4).unwrap_err();
        assert!(err.to_string().contains("blank"), "{err}");
        let dup = vec!["a".to_string(), "b".into(), "a".into()];
        let err = Vocabulary::new(dup, vec![1.0; 12], 4).unwrap_err();
        assert!(err.to_string().contains("'a' (positions 0 and 2)"), "{err}");
        let v = Vocabulary::new(ok(), vec![1.0; 8], 4).unwrap();
        assert_eq!((v.len(), v.dim(), v.is_empty()), (2, 4, false));
        assert_eq!(v.phrases(), &ok()[..]);
    }

    #[test]
    fn phrase_scores_round_trip_through_json() {
        let s = PhraseScore {
            phrase: "in the snow".into(),
            score: 0.91,
            slice_mean: 0.4,
            reference_mean: -0.1,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"slice_mean\":0.4"), "{json}");
        assert_eq!(serde_json::from_str::<PhraseScore>(&json).unwrap(), s);
    }

    #[test]
    fn autotraits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Vocabulary>();
        send_sync::<ProjectedVocabulary>();
        send_sync::<PhraseScore>();
    }
}
