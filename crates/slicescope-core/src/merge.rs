//! One list from many slicers and views: member overlap, near-duplicate
//! merging, and how concentrated a slice is in each view.

use rayon::prelude::*;

use crate::rng::Rng;
use crate::views::ReducedView;

/// Size of the intersection of two ascending row lists.
pub fn intersection_size(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Jaccard index |A ∩ B| / |A ∪ B| of two ascending row lists (0 for two
/// empty lists).
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let inter = intersection_size(a, b);
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// Greedy near-duplicate grouping. `members[i]` are ascending row lists in
/// rank order (best first); `mergeable(i, j)` says whether two slices may
/// merge at all. Each slice joins the first earlier *kept* slice with
/// Jaccard ≥ `threshold`; returns, per slice, `None` when it is kept or
/// `Some((kept index, jaccard))` when merged into it.
pub fn group_near_duplicates(
    members: &[&[u32]],
    threshold: f64,
    mergeable: impl Fn(usize, usize) -> bool + Sync,
) -> Vec<Option<(usize, f64)>> {
    let mut out: Vec<Option<(usize, f64)>> = vec![None; members.len()];
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..members.len() {
        let hit = kept
            .par_iter()
            .map(|&k| {
                (
                    k,
                    if mergeable(k, i) {
                        jaccard(members[k], members[i])
                    } else {
                        0.0
                    },
                )
            })
            .filter(|&(_, j)| j >= threshold && j > 0.0)
            .min_by_key(|&(k, _)| k);
        match hit {
            Some((k, j)) => out[i] = Some((k, j)),
            None => kept.push(i),
        }
    }
    out
}

/// How concentrated a set of rows is in a view: the AUC of ranking rows by
/// closeness to the members' centroid (in the view's reduced space),
/// members against non-members. 0.5: no more concentrated than random
/// rows; 1: the members are exactly the rows nearest their centroid.
/// Computed on at most `max_rows` rows drawn with `seed` (members and
/// non-members in proportion), so the cost is bounded on large tables.
/// `None` when the slice is empty or everything.
pub fn concentration(
    view: &ReducedView,
    members: &[u32],
    max_rows: usize,
    seed: u64,
) -> Option<f64> {
    let n = view.n_rows();
    if members.is_empty() || members.len() >= n || view.dim == 0 {
        return None;
    }
    let d = view.dim;
    let mut centroid = vec![0f64; d];
    for &r in members {
        for (c, &x) in centroid.iter_mut().zip(view.row(r as usize)) {
            *c += f64::from(x);
        }
    }
    centroid.iter_mut().for_each(|c| *c /= members.len() as f64);
    // Sample rows: all when few, else a seeded subset.
    let rows: Vec<u32> = if n <= max_rows {
        (0..n as u32).collect()
    } else {
        let mut rng = Rng::new(seed);
        let mut idx: Vec<u32> = (0..n as u32).collect();
        // Partial Fisher–Yates: the first max_rows entries are a uniform sample.
        for i in 0..max_rows {
            let j = i + rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(max_rows);
        idx.sort_unstable();
        idx
    };
    let scored: Vec<(f64, bool)> = rows
        .par_iter()
        .map(|&r| {
            let dist: f64 = view
                .row(r as usize)
                .iter()
                .zip(&centroid)
                .map(|(&x, &c)| (f64::from(x) - c).powi(2))
                .sum();
            (-dist, members.binary_search(&r).is_ok())
        })
        .collect();
    auc(&scored)
}

/// Area under the ROC curve of `(score, positive)` pairs (ties count ½).
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let pos = scored.iter().filter(|s| s.1).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut v: Vec<(f64, bool)> = scored.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann–Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based
        rank_sum += avg_rank * v[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaccard_and_intersection() {
        assert_eq!(intersection_size(&[1, 3, 5, 7], &[3, 4, 5]), 2);
        assert!((jaccard(&[1, 2, 3], &[2, 3, 4]) - 0.5).abs() < 1e-12);
        assert_eq!(jaccard(&[], &[]), 0.0);
        assert_eq!(jaccard(&[1], &[1]), 1.0);
    }

    #[test]
    fn grouping_is_greedy_in_rank_order() {
        let a: Vec<u32> = (0..100).collect();
        let b: Vec<u32> = (5..100).collect(); // J(a, b) = 0.95
        let c: Vec<u32> = (200..300).collect();
        let d: Vec<u32> = (0..100).collect();
        let m: Vec<&[u32]> = vec![&a, &b, &c, &d];
        let g = group_near_duplicates(&m, 0.8, |_, _| true);
        assert_eq!(g[0], None);
        assert_eq!(g[1].map(|x| x.0), Some(0));
        assert_eq!(g[2], None);
        assert_eq!(g[3], Some((0, 1.0)));
        // Not mergeable: all kept.
        let g = group_near_duplicates(&m, 0.8, |_, _| false);
        assert!(g.iter().all(Option::is_none));
    }

    #[test]
    fn auc_reference_values() {
        let s = [(0.9, true), (0.8, true), (0.3, false), (0.1, false)];
        assert_eq!(auc(&s), Some(1.0));
        let s = [(0.1, true), (0.8, false)];
        assert_eq!(auc(&s), Some(0.0));
        let s = [(0.5, true), (0.5, false)];
        assert_eq!(auc(&s), Some(0.5));
        // 2 positives, 2 negatives, one inversion: 3/4.
        let s = [(0.9, true), (0.4, true), (0.5, false), (0.1, false)];
        assert_eq!(auc(&s), Some(0.75));
        assert_eq!(auc(&[(1.0, true)]), None);
    }

    fn view(points: &[[f32; 2]]) -> ReducedView {
        ReducedView {
            name: "v".into(),
            source: "v".into(),
            dim_in: 2,
            dim: 2,
            normalized: false,
            mean: vec![0.0; 2],
            axes: vec![1.0, 0.0, 0.0, 1.0],
            explained_variance: vec![1.0, 1.0],
            explained_ratio: 1.0,
            data: points.iter().flatten().copied().collect(),
        }
    }

    #[test]
    fn concentration_of_a_tight_cluster_is_high() {
        let mut pts: Vec<[f32; 2]> = (0..50)
            .map(|i| [10.0 + (i % 5) as f32 * 0.01, 10.0])
            .collect();
        pts.extend((0..150).map(|i| [(i % 13) as f32 - 6.0, (i % 7) as f32 - 3.0]));
        let v = view(&pts);
        let members: Vec<u32> = (0..50).collect();
        let c = concentration(&v, &members, 10_000, 1).unwrap();
        assert!(c > 0.99, "{c}");
        // Scattered members: near 0.5.
        let scattered: Vec<u32> = (0..200).step_by(4).collect();
        let c = concentration(&v, &scattered, 10_000, 1).unwrap();
        assert!(c < 0.8, "{c}");
        // Subsampling gives a close value.
        let c_sub = concentration(&v, &members, 120, 1).unwrap();
        assert!(c_sub > 0.95, "{c_sub}");
        assert_eq!(concentration(&v, &[], 100, 1), None);
    }
}
