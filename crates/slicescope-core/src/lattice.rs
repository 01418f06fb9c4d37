//! Exact SliceLine: the top-K conjunctions of attribute predicates by the
//! SliceLine score (Sagadeeva & Boehm, SIGMOD 2021).
//!
//! For a slice S with size |S| (Σ weights), error sum se (Σ w·e) and the
//! whole data's size n and mean error ē, the score is
//!
//! ```text
//! sc(S) = α·((se/|S|)/ē − 1) − (1 − α)·(n/|S| − 1)
//! ```
//!
//! and the search returns the K slices of highest score among those with
//! |S| ≥ σ and sc > 0, each a conjunction of at most `max_level`
//! predicates on distinct attributes. Ties are broken by larger size, then
//! by the predicates' order (attribute order, then level order), so the
//! answer is one well-defined list.
//!
//! The search is level-wise with the paper's pruning, made exact:
//! * size: a candidate whose smallest parent is below σ is dropped;
//! * score: the upper bound of eq. 3 of the paper, with n the number of
//!   rows (not the one-hot width used by SystemDS and the Python port),
//!   evaluated at |S| ∈ {σ, ⌈se⌉/⌈sm⌉, ⌈|S|⌉}; a candidate is dropped only
//!   when its bound is ≤ 0, or *below* the K-th best score once K slices
//!   exist (never before: the reference implementations prune against a
//!   partial top-K, which can lose slices);
//! * missing parents: a level-L candidate needs all L of its parents alive.
//!
//! Evaluation uses one row set per basic slice: a dense bitset when the
//! level covers at least 1/32 of the rows, a sorted row list otherwise, so
//! memory stays linear in the data. Candidates are intersected with the
//! smallest set as the driver, in parallel with rayon.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

use crate::attributes::Attribute;
use crate::error::{Error, Result};
use crate::stats::Sums;

/// Parameters of the lattice search.
///
/// Defaults follow the SliceLine paper's experiments (K = 10, α = 0.95,
/// max level 3) with the paper's text default σ = max(32, ⌈n/100⌉).
/// For reference: the paper's Algorithm 1 signature uses K = 4, σ = 32,
/// α = 0.5, unlimited levels; SystemDS `sliceLine` the same; the Python
/// port `sliceline` K = 1, σ = 10, α = 0.6, max level 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatticeParams {
    /// Number of slices to return (K ≥ 1).
    pub k: usize,
    /// Weight of error over size in the score, in (0, 1].
    pub alpha: f64,
    /// Minimum slice size σ: a count of rows (weight units with weights)
    /// when ≥ 1, a fraction of all rows when in (0, 1); `None` means
    /// max(32, ⌈n/100⌉).
    pub min_support: Option<f64>,
    /// Most predicates per slice (≥ 1); 0 means no limit.
    pub max_level: usize,
}

impl Default for LatticeParams {
    fn default() -> Self {
        LatticeParams {
            k: 10,
            alpha: 0.95,
            min_support: None,
            max_level: 3,
        }
    }
}

impl LatticeParams {
    /// Check the parameters (called by [`search`]).
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::param("k", "must be at least 1"));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(Error::param(
                "alpha",
                format!("must be in (0, 1], got {}", self.alpha),
            ));
        }
        if let Some(s) = self.min_support {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "min_support",
                    format!("must be a count ≥ 1 or a fraction in (0, 1), got {s}"),
                ));
            }
        }
        Ok(())
    }

    /// σ for data of total size `n` (rows, or Σ weights).
    pub fn sigma(&self, n: f64) -> f64 {
        match self.min_support {
            None => 32f64.max((n / 100.0).ceil()),
            Some(s) if s < 1.0 => s * n,
            Some(s) => s,
        }
    }
}

/// The SliceLine score of a slice of size `size` and error sum `err`.
#[inline]
pub fn score(size: f64, err: f64, mean_err: f64, n: f64, alpha: f64) -> f64 {
    if size <= 0.0 {
        return f64::NEG_INFINITY;
    }
    alpha * ((err / size) / mean_err - 1.0) - (1.0 - alpha) * (n / size - 1.0)
}

/// Upper bound of the score of any slice with size ≤ `size_ub`, error sum
/// ≤ `err_ub` and max row error ≤ `max_ub` and size ≥ σ (eq. 3).
#[inline]
pub fn score_upper_bound(
    size_ub: f64,
    err_ub: f64,
    max_ub: f64,
    sigma: f64,
    mean_err: f64,
    n: f64,
    alpha: f64,
) -> f64 {
    if size_ub < sigma || err_ub <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let knee = if max_ub > 0.0 {
        (err_ub / max_ub).clamp(sigma, size_ub)
    } else {
        sigma
    };
    [sigma, knee, size_ub]
        .into_iter()
        .map(|s| score(s, err_ub.min(s * max_ub), mean_err, n, alpha))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// A slice found by the search: predicates as (attribute index, level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatticeSlice {
    /// `(attribute, level)` pairs, sorted by attribute.
    pub items: Vec<(usize, u32)>,
    /// Sufficient statistics over the slice's rows.
    pub sums: Sums,
    /// SliceLine score.
    pub score: f64,
    /// Index of this slice's p-value in [`LatticeResult::p_values`].
    pub hypothesis: usize,
}

/// Per-level counts of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelStats {
    /// Level (number of predicates).
    pub level: usize,
    /// Candidates generated by joining parents, before pruning.
    pub generated: usize,
    /// Candidates evaluated on the data (after pruning).
    pub evaluated: usize,
    /// Evaluated candidates kept as parents for the next level.
    pub survivors: usize,
}

/// Result of [`search`].
#[derive(Debug, Clone, PartialEq)]
pub struct LatticeResult {
    /// Top-K slices, best first.
    pub slices: Vec<LatticeSlice>,
    /// σ in rows (or weight units).
    pub sigma: f64,
    /// p-values of every evaluated slice with size ≥ σ: the family over
    /// which q-values are computed.
    pub p_values: Vec<f64>,
    /// Counts per level.
    pub levels: Vec<LevelStats>,
}

/// Hooks for progress reporting and cancellation.
pub trait Observer: Sync {
    /// A level starts with `candidates` candidates to evaluate.
    fn level(&self, _level: usize, _candidates: usize) {}
    /// `n` more candidates were evaluated.
    fn evaluated(&self, _n: usize) {}
    /// A later stage of the scan with `steps` steps starts (the bootstrap
    /// stability: one step per resample).
    fn stage(&self, _name: &'static str, _steps: usize) {}
    /// One more step of the current stage is done.
    fn step(&self) {}
    /// Return true to stop the search (it then returns `Error::Interrupted`).
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// The data the search runs on.
pub struct LatticeInput<'a> {
    /// Encoded attributes (all of the same length).
    pub attributes: &'a [Attribute],
    /// Per-row error, ≥ 0.
    pub errors: &'a [f64],
    /// Optional per-row frequency weights.
    pub weights: Option<&'a [f64]>,
}

enum RowSet {
    Dense(Vec<u64>),
    Sparse(Vec<u32>),
}

impl RowSet {
    #[inline]
    fn contains(&self, r: u32, cursor: &mut usize) -> bool {
        match self {
            RowSet::Dense(bits) => bits[(r >> 6) as usize] >> (r & 63) & 1 == 1,
            RowSet::Sparse(rows) => {
                // Rows are visited in ascending order: gallop from the cursor.
                let rest = &rows[*cursor..];
                let mut hi = 1usize;
                while hi < rest.len() && rest[hi] < r {
                    hi *= 2;
                }
                let lo = hi / 2;
                let hi = hi.min(rest.len());
                let pos = lo + rest[lo..hi].partition_point(|&x| x < r);
                *cursor += pos;
                rows.get(*cursor) == Some(&r)
            }
        }
    }
}

/// A basic (one-predicate) slice that can take part in conjunctions.
struct Item {
    attr: usize,
    level: u32,
    set: RowSet,
    sums: Sums,
}

struct Evaluator<'a> {
    items: Vec<Item>,
    errors: &'a [f64],
    weights: Option<&'a [f64]>,
    /// Bitset of rows with error 1, when errors are 0/1 and unweighted.
    err_bits: Option<Vec<u64>>,
    n_words: usize,
}

/// Words of a bitset processed per pass over a batch of candidates (8 KiB
/// per set), so the sets a batch touches stay in cache.
const WORD_BLOCK: usize = 1024;

impl Evaluator<'_> {
    fn is_dense_driven(&self, ids: &[u32]) -> bool {
        ids.iter()
            .map(|&i| &self.items[i as usize])
            .min_by_key(|it| it.sums.count)
            .is_some_and(|it| matches!(it.set, RowSet::Dense(_)))
    }

    /// Evaluate a batch of candidates (flat, `level` ids each). Candidates
    /// whose smallest set is dense (then all their sets are) are evaluated
    /// together block by block over the bitsets: memory traffic is then
    /// one pass over the sets the batch uses instead of one per candidate.
    /// Rows are still visited in ascending order for every candidate, so
    /// the sums are bit-for-bit those of [`Evaluator::eval`].
    fn eval_batch(&self, batch: &[u32], level: usize) -> Vec<Sums> {
        let n_c = batch.len() / level;
        let mut out = vec![Sums::default(); n_c];
        let mut dense: Vec<usize> = Vec::new();
        for (c, ids) in batch.chunks(level).enumerate() {
            if self.is_dense_driven(ids) {
                dense.push(c);
            } else {
                out[c] = self.eval(ids);
            }
        }
        if dense.is_empty() {
            return out;
        }
        let bits_of = |id: u32| -> &[u64] {
            match &self.items[id as usize].set {
                RowSet::Dense(b) => b,
                RowSet::Sparse(_) => &[],
            }
        };
        let mut counts = vec![(0u64, 0u64); dense.len()];
        let mut sets: Vec<&[u64]> = Vec::with_capacity(level);
        let mut start = 0;
        while start < self.n_words {
            let end = (start + WORD_BLOCK).min(self.n_words);
            for (k, &c) in dense.iter().enumerate() {
                sets.clear();
                sets.extend(
                    batch[c * level..(c + 1) * level]
                        .iter()
                        .map(|&id| &bits_of(id)[start..end]),
                );
                let (first, rest) = sets
                    .split_first()
                    .map(|(f, r)| (*f, r))
                    .unwrap_or((&[], &[]));
                match &self.err_bits {
                    Some(eb) => {
                        let eb = &eb[start..end];
                        let (mut cnt, mut err) = (0u64, 0u64);
                        for w in 0..first.len() {
                            let mut m = first[w];
                            for s in rest {
                                m &= s[w];
                            }
                            cnt += u64::from(m.count_ones());
                            err += u64::from((m & eb[w]).count_ones());
                        }
                        counts[k].0 += cnt;
                        counts[k].1 += err;
                    }
                    None => {
                        for w in 0..first.len() {
                            let mut m = first[w];
                            for s in rest {
                                m &= s[w];
                            }
                            while m != 0 {
                                let b = m.trailing_zeros() as usize;
                                self.add_row(&mut out[c], (start + w) * 64 + b);
                                m &= m - 1;
                            }
                        }
                    }
                }
            }
            start = end;
        }
        if self.err_bits.is_some() {
            for (k, &c) in dense.iter().enumerate() {
                let (cnt, err) = counts[k];
                out[c] = Sums {
                    count: cnt,
                    weight: cnt as f64,
                    err: err as f64,
                    err_sq: err as f64,
                    max_err: if err > 0 { 1.0 } else { 0.0 },
                };
            }
        }
        out
    }

    /// Evaluate one candidate whose smallest set is a row list: walk its
    /// rows (ascending) and test membership in the other sets.
    fn eval(&self, ids: &[u32]) -> Sums {
        let driver = ids
            .iter()
            .copied()
            .min_by_key(|&i| (self.items[i as usize].sums.count, i))
            .unwrap_or(0);
        let others: Vec<&RowSet> = ids
            .iter()
            .filter(|&&i| i != driver)
            .map(|&i| &self.items[i as usize].set)
            .collect();
        let mut sums = Sums::default();
        let rows: &[u32] = match &self.items[driver as usize].set {
            RowSet::Sparse(rows) => rows,
            // Unreachable through eval_batch (dense-driven candidates are
            // batched); a dense driver's rows are its set bits.
            RowSet::Dense(_) => return self.eval_batch(ids, ids.len()).pop().unwrap_or_default(),
        };
        let mut cursors = vec![0usize; others.len()];
        for &r in rows {
            if others
                .iter()
                .zip(cursors.iter_mut())
                .all(|(s, c)| s.contains(r, c))
            {
                self.add_row(&mut sums, r as usize);
            }
        }
        sums
    }

    #[inline]
    fn add_row(&self, sums: &mut Sums, r: usize) {
        sums.add(self.errors[r], self.weights.map_or(1.0, |w| w[r]));
    }
}

/// Total order of reported slices: score desc, size desc, items asc.
fn rank_cmp(a: &LatticeSlice, b: &LatticeSlice) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.sums.weight.total_cmp(&a.sums.weight))
        .then_with(|| a.items.cmp(&b.items))
}

struct TopK {
    k: usize,
    slices: Vec<LatticeSlice>,
}

impl TopK {
    fn offer(&mut self, s: LatticeSlice) {
        if self.slices.len() == self.k && rank_cmp(&s, &self.slices[self.k - 1]) != Ordering::Less {
            return;
        }
        let pos = self
            .slices
            .partition_point(|x| rank_cmp(x, &s) == Ordering::Less);
        self.slices.insert(pos, s);
        self.slices.truncate(self.k);
    }

    /// Candidates whose bound is below this can be pruned.
    fn threshold(&self) -> Option<f64> {
        (self.slices.len() == self.k).then(|| self.slices[self.k - 1].score)
    }
}

/// Slack for floating-point rounding in the bound comparisons: a candidate
/// is pruned only when its bound is below the threshold by more than this,
/// so rounding can never cost an exact answer.
fn slack(x: f64) -> f64 {
    1e-9 * (1.0 + x.abs())
}

/// Run the search. `p_value` maps a slice's sums to its one-sided p-value.
pub fn search(
    input: &LatticeInput<'_>,
    params: &LatticeParams,
    p_value: &(dyn Fn(&Sums) -> f64 + Sync),
    observer: &dyn Observer,
) -> Result<LatticeResult> {
    params.validate()?;
    let n_rows = input.errors.len();
    if n_rows > u32::MAX as usize {
        return Err(Error::InvalidInput(format!(
            "{n_rows} rows: the lattice search handles at most 2^32 − 1 rows"
        )));
    }
    for a in input.attributes {
        if a.codes.len() != n_rows {
            return Err(Error::ShapeMismatch(format!(
                "attribute '{}' has {} rows, errors have {n_rows}",
                a.name,
                a.codes.len()
            )));
        }
    }
    if let Some(w) = input.weights {
        if w.len() != n_rows {
            return Err(Error::ShapeMismatch(format!(
                "{} weights for {n_rows} rows",
                w.len()
            )));
        }
    }
    let total = Sums::over(input.errors, input.weights);
    let n = total.weight;
    let sigma = params.sigma(n);
    let mut result = LatticeResult {
        slices: vec![],
        sigma,
        p_values: vec![],
        levels: vec![],
    };
    if n_rows == 0 || total.err <= 0.0 || input.attributes.is_empty() {
        return Ok(result);
    }
    let mean_err = total.err / n;
    let alpha = params.alpha;
    let sc = |s: &Sums| score(s.weight, s.err, mean_err, n, alpha);
    let ub = |s: &Sums| score_upper_bound(s.weight, s.err, s.max_err, sigma, mean_err, n, alpha);
    let binary_unweighted =
        input.weights.is_none() && input.errors.iter().all(|&e| e == 0.0 || e == 1.0);
    let n_words = n_rows.div_ceil(64);

    // Level 1: every (attribute, level), accumulated in row order.
    let mut topk = TopK {
        k: params.k,
        slices: vec![],
    };
    let mut items: Vec<Item> = Vec::new();
    let mut generated1 = 0;
    for (ai, attr) in input.attributes.iter().enumerate() {
        let n_levels = attr.levels.len();
        let mut sums = vec![Sums::default(); n_levels];
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n_levels];
        for (r, &c) in attr.codes.iter().enumerate() {
            let c = c as usize;
            if c >= n_levels {
                return Err(Error::InvalidInput(format!(
                    "attribute '{}' has a code {c} without a level",
                    attr.name
                )));
            }
            sums[c].add(input.errors[r], input.weights.map_or(1.0, |w| w[r]));
            rows[c].push(r as u32);
        }
        generated1 += n_levels;
        for (lv, (s, rows)) in sums.into_iter().zip(rows).enumerate() {
            if s.weight < sigma {
                continue;
            }
            let h = result.p_values.len();
            result.p_values.push(p_value(&s));
            let item_slice = LatticeSlice {
                items: vec![(ai, lv as u32)],
                sums: s,
                score: sc(&s),
                hypothesis: h,
            };
            if item_slice.score > 0.0 {
                topk.offer(item_slice);
            }
            if s.err > 0.0 {
                let set = if (rows.len() as u64) * 32 >= n_rows as u64 {
                    let mut bits = vec![0u64; n_words];
                    for &r in &rows {
                        bits[(r >> 6) as usize] |= 1 << (r & 63);
                    }
                    RowSet::Dense(bits)
                } else {
                    RowSet::Sparse(rows)
                };
                items.push(Item {
                    attr: ai,
                    level: lv as u32,
                    set,
                    sums: s,
                });
            }
        }
    }
    result.levels.push(LevelStats {
        level: 1,
        generated: generated1,
        evaluated: generated1,
        survivors: items.len(),
    });
    let err_bits = binary_unweighted.then(|| {
        let mut bits = vec![0u64; n_words];
        for (r, &e) in input.errors.iter().enumerate() {
            if e == 1.0 {
                bits[r >> 6] |= 1 << (r & 63);
            }
        }
        bits
    });
    let ev = Evaluator {
        items,
        errors: input.errors,
        weights: input.weights,
        err_bits,
        n_words,
    };

    // Survivors of the current level: item-id tuples (sorted ascending,
    // flat with stride `level`) and their sums, in lexicographic order.
    let keep_as_parent = |s: &Sums, thr: Option<f64>| -> bool {
        if s.weight < sigma || s.err <= 0.0 {
            return false;
        }
        let b = ub(s);
        b > -slack(0.0) && thr.is_none_or(|t| b >= t - slack(t))
    };
    let thr = topk.threshold();
    let mut surv: Vec<u32> = Vec::new();
    let mut surv_sums: Vec<Sums> = Vec::new();
    for (i, it) in ev.items.iter().enumerate() {
        if keep_as_parent(&it.sums, thr) {
            surv.push(i as u32);
            surv_sums.push(it.sums);
        }
    }
    let max_level = if params.max_level == 0 {
        usize::MAX
    } else {
        params.max_level
    };
    let m = input.attributes.len();
    let mut level = 1usize;
    while !surv_sums.is_empty() && level < m.min(max_level) {
        if observer.cancelled() {
            return Err(Error::Interrupted);
        }
        level += 1;
        let p = level - 1; // parent width
        let thr = topk.threshold();
        let n_surv = surv_sums.len();
        let tuple = |i: usize| &surv[i * p..(i + 1) * p];
        // Group ends: survivors sharing the first p−1 items are adjacent.
        let mut group_end = vec![0usize; n_surv];
        {
            let mut start = 0;
            for i in 1..=n_surv {
                if i == n_surv || tuple(i)[..p - 1] != tuple(start)[..p - 1] {
                    group_end[start..i].iter_mut().for_each(|g| *g = i);
                    start = i;
                }
            }
        }
        let find = |t: &[u32]| -> Option<usize> {
            let (mut lo, mut hi) = (0usize, n_surv);
            while lo < hi {
                let mid = (lo + hi) / 2;
                match tuple(mid).cmp(t) {
                    Ordering::Less => lo = mid + 1,
                    Ordering::Greater => hi = mid,
                    Ordering::Equal => return Some(mid),
                }
            }
            None
        };
        // Join, check parents, bound: in parallel over the first parent.
        let gen: Vec<(Vec<u32>, usize)> = (0..n_surv)
            .into_par_iter()
            .map(|i| {
                let mut out: Vec<u32> = Vec::new();
                let mut generated = 0usize;
                let ti = tuple(i);
                let a_last = ti[p - 1] as usize;
                let mut cand = vec![0u32; level];
                let mut sub = vec![0u32; p];
                for j in i + 1..group_end[i] {
                    let b_last = tuple(j)[p - 1] as usize;
                    if ev.items[a_last].attr == ev.items[b_last].attr {
                        continue;
                    }
                    generated += 1;
                    cand[..p].copy_from_slice(ti);
                    cand[p] = b_last as u32;
                    // All `level` parents must be alive; bounds from them.
                    let (mut size_ub, mut err_ub, mut max_ub) =
                        (f64::INFINITY, f64::INFINITY, f64::INFINITY);
                    let mut ok = true;
                    for drop in 0..level {
                        let parent = if drop == p {
                            i
                        } else if drop == p - 1 {
                            j
                        } else {
                            let mut k = 0;
                            for (q, &x) in cand.iter().enumerate() {
                                if q != drop {
                                    sub[k] = x;
                                    k += 1;
                                }
                            }
                            match find(&sub) {
                                Some(ix) => ix,
                                None => {
                                    ok = false;
                                    break;
                                }
                            }
                        };
                        let s = &surv_sums[parent];
                        size_ub = size_ub.min(s.weight);
                        err_ub = err_ub.min(s.err);
                        max_ub = max_ub.min(s.max_err);
                    }
                    if !ok {
                        continue;
                    }
                    let b = score_upper_bound(size_ub, err_ub, max_ub, sigma, mean_err, n, alpha);
                    if b <= -slack(0.0) || thr.is_some_and(|t| b < t - slack(t)) {
                        continue;
                    }
                    out.extend_from_slice(&cand);
                }
                (out, generated)
            })
            .collect();
        let generated: usize = gen.iter().map(|g| g.1).sum();
        let cands: Vec<u32> = gen.into_iter().flat_map(|g| g.0).collect();
        let n_cands = cands.len() / level;
        observer.level(level, n_cands);
        // Evaluate on the data.
        let chunk = 1024usize;
        let evaluated: Vec<Sums> = cands
            .par_chunks(level * chunk)
            .flat_map_iter(|block| {
                let out = ev.eval_batch(block, level);
                observer.evaluated(out.len());
                out
            })
            .collect();
        if observer.cancelled() {
            return Err(Error::Interrupted);
        }
        let eligible: Vec<usize> = (0..n_cands)
            .filter(|&c| evaluated[c].weight >= sigma)
            .collect();
        let ps: Vec<f64> = eligible
            .par_iter()
            .map(|&c| p_value(&evaluated[c]))
            .collect();
        let base = result.p_values.len();
        result.p_values.extend_from_slice(&ps);
        for (h, &c) in eligible.iter().enumerate() {
            let s = evaluated[c];
            let score = sc(&s);
            if score > 0.0 {
                let ids = &cands[c * level..(c + 1) * level];
                let items = ids
                    .iter()
                    .map(|&id| (ev.items[id as usize].attr, ev.items[id as usize].level))
                    .collect();
                topk.offer(LatticeSlice {
                    items,
                    sums: s,
                    score,
                    hypothesis: base + h,
                });
            }
        }
        // Next level's parents, pruned with the updated top-K.
        let thr = topk.threshold();
        let mut next: Vec<u32> = Vec::new();
        let mut next_sums: Vec<Sums> = Vec::new();
        for c in 0..n_cands {
            if keep_as_parent(&evaluated[c], thr) {
                next.extend_from_slice(&cands[c * level..(c + 1) * level]);
                next_sums.push(evaluated[c]);
            }
        }
        result.levels.push(LevelStats {
            level,
            generated,
            evaluated: n_cands,
            survivors: next_sums.len(),
        });
        surv = next;
        surv_sums = next_sums;
    }
    result.slices = topk.slices;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{Predicate, Value};

    pub(crate) fn attr(name: &str, codes: Vec<u32>) -> Attribute {
        let n_levels = codes.iter().max().map_or(0, |&m| m + 1);
        Attribute {
            name: name.into(),
            codes,
            levels: (0..n_levels)
                .map(|v| Predicate::Eq {
                    column: name.into(),
                    value: Value::Int(v as i64 + 1),
                })
                .collect(),
        }
    }

    #[test]
    fn score_properties_from_the_paper() {
        // sc(X) = 0 for the whole data.
        assert_eq!(score(100.0, 30.0, 0.3, 100.0, 0.5), 0.0);
        // At α = 0.5, twice the relative error at half the size scores 0.
        assert!((score(50.0, 30.0, 0.3, 100.0, 0.5)).abs() < 1e-12);
    }

    #[test]
    fn upper_bound_dominates_subsets() {
        // Any (size, err) with size in [σ, ub] and err ≤ min(err_ub, size·max_ub).
        let (n, mean) = (1000.0, 0.2);
        for &(su, eu, mu) in &[(300.0, 90.0, 1.0), (120.0, 100.0, 1.0), (500.0, 50.0, 0.5)] {
            let b = score_upper_bound(su, eu, mu, 50.0, mean, n, 0.9);
            let mut s = 50.0;
            while s <= su {
                let e = eu.min(s * mu);
                assert!(score(s, e, mean, n, 0.9) <= b + 1e-12);
                s += 1.0;
            }
        }
    }

    #[test]
    fn invalid_parameters() {
        let bad = [
            LatticeParams {
                k: 0,
                ..Default::default()
            },
            LatticeParams {
                alpha: 0.0,
                ..Default::default()
            },
            LatticeParams {
                alpha: 1.5,
                ..Default::default()
            },
            LatticeParams {
                min_support: Some(-1.0),
                ..Default::default()
            },
            LatticeParams {
                min_support: Some(f64::NAN),
                ..Default::default()
            },
        ];
        for p in bad {
            assert!(
                matches!(p.validate(), Err(Error::InvalidParameter { .. })),
                "{p:?}"
            );
        }
    }

    #[test]
    fn sigma_rules() {
        let p = LatticeParams::default();
        assert_eq!(p.sigma(1000.0), 32.0);
        assert_eq!(p.sigma(10_001.0), 101.0);
        assert_eq!(
            LatticeParams {
                min_support: Some(0.5),
                ..Default::default()
            }
            .sigma(10.0),
            5.0
        );
        assert_eq!(
            LatticeParams {
                min_support: Some(7.0),
                ..Default::default()
            }
            .sigma(10.0),
            7.0
        );
    }

    #[test]
    fn finds_the_planted_conjunction() {
        // 8 rows, the basic fixture of the Python port.
        let a = vec![
            attr("f1", vec![0, 0, 0, 0, 0, 0, 1, 1]),
            attr("f2", vec![0, 0, 0, 0, 1, 1, 0, 0]),
            attr("f3", vec![0, 1, 2, 3, 4, 5, 6, 7]),
            attr("f4", vec![2, 2, 2, 0, 2, 0, 1, 0]),
        ];
        let errors = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let input = LatticeInput {
            attributes: &a,
            errors: &errors,
            weights: None,
        };
        let params = LatticeParams {
            k: 2,
            alpha: 0.95,
            min_support: Some(1.0),
            max_level: 2,
        };
        let r = search(&input, &params, &|_| 1.0, &Silent).unwrap();
        assert_eq!(r.slices.len(), 2);
        assert_eq!(r.slices[0].items, vec![(0, 0), (1, 0)]);
        assert!((r.slices[0].score - 0.9).abs() < 1e-12);
        assert_eq!(r.slices[0].sums.count, 4);
        assert_eq!(r.slices[1].items, vec![(1, 0), (3, 2)]);
        assert!((r.slices[1].score - 0.866_666_666_666_666_7).abs() < 1e-12);
    }

    #[test]
    fn no_errors_no_slices() {
        let a = vec![attr("f", vec![0, 1, 0, 1])];
        let errors = [0.0; 4];
        let input = LatticeInput {
            attributes: &a,
            errors: &errors,
            weights: None,
        };
        let r = search(
            &input,
            &LatticeParams {
                min_support: Some(1.0),
                ..Default::default()
            },
            &|_| 1.0,
            &Silent,
        )
        .unwrap();
        assert!(r.slices.is_empty());
    }

    #[test]
    fn cancellation_stops_the_search() {
        struct Stop;
        impl Observer for Stop {
            fn cancelled(&self) -> bool {
                true
            }
        }
        let a = vec![attr("f", vec![0, 1, 0, 1]), attr("g", vec![0, 0, 1, 1])];
        let errors = [1.0, 0.0, 0.0, 0.0];
        let input = LatticeInput {
            attributes: &a,
            errors: &errors,
            weights: None,
        };
        let r = search(
            &input,
            &LatticeParams {
                min_support: Some(1.0),
                ..Default::default()
            },
            &|_| 1.0,
            &Stop,
        );
        assert!(matches!(r, Err(Error::Interrupted)));
    }
}
