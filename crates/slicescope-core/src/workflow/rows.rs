//! A set of rows as a bitset: 10 million rows take 1.25 MB per slice.

use rayon::prelude::*;

/// Rows `0..n` in or out, 64 per word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSet {
    n: usize,
    words: Vec<u64>,
}

/// Words (of 64 rows) per parallel task when building a set.
const WORDS_PER_TASK: usize = 1024;

impl RowSet {
    /// No row of `n`.
    pub fn empty(n: usize) -> RowSet {
        RowSet {
            n,
            words: vec![0; n.div_ceil(64)],
        }
    }

    /// Every row of `n`.
    pub fn full(n: usize) -> RowSet {
        let mut s = RowSet {
            n,
            words: vec![u64::MAX; n.div_ceil(64)],
        };
        s.clear_tail();
        s
    }

    /// The rows where `f(row)` holds, evaluated in parallel.
    pub fn from_fn<F: Fn(usize) -> bool + Sync>(n: usize, f: F) -> RowSet {
        let mut words = vec![0u64; n.div_ceil(64)];
        words
            .par_chunks_mut(WORDS_PER_TASK)
            .enumerate()
            .for_each(|(t, chunk)| {
                for (k, w) in chunk.iter_mut().enumerate() {
                    let base = (t * WORDS_PER_TASK + k) * 64;
                    let end = (base + 64).min(n);
                    let mut bits = 0u64;
                    for r in base..end {
                        if f(r) {
                            bits |= 1 << (r - base);
                        }
                    }
                    *w = bits;
                }
            });
        RowSet { n, words }
    }

    /// The rows of an ascending or unordered list (rows ≥ n are ignored).
    pub fn from_rows(n: usize, rows: &[u32]) -> RowSet {
        let mut s = RowSet::empty(n);
        for &r in rows {
            s.insert(r as usize);
        }
        s
    }

    fn clear_tail(&mut self) {
        let rem = self.n % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of rows the set is over.
    pub fn universe(&self) -> usize {
        self.n
    }

    /// Add a row (ignored when ≥ n).
    pub fn insert(&mut self, row: usize) {
        if row < self.n {
            self.words[row / 64] |= 1 << (row % 64);
        }
    }

    /// Whether `row` is in the set.
    #[inline]
    pub fn contains(&self, row: usize) -> bool {
        row < self.n && self.words[row / 64] >> (row % 64) & 1 == 1
    }

    /// Number of rows in the set.
    pub fn count(&self) -> usize {
        self.words.par_iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Keep only the rows also in `other` (same universe).
    pub fn intersect_with(&mut self, other: &RowSet) {
        self.words
            .par_iter_mut()
            .zip(other.words.par_iter())
            .for_each(|(a, b)| *a &= *b);
    }

    /// Add every row of `other` (same universe).
    pub fn union_with(&mut self, other: &RowSet) {
        self.words
            .par_iter_mut()
            .zip(other.words.par_iter())
            .for_each(|(a, b)| *a |= *b);
    }

    /// The rows in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((i * 64) as u32 + b)
            })
        })
    }

    /// The rows in the set, ascending, as a list.
    pub fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// Rows in both sets.
    pub fn intersection_count(&self, other: &RowSet) -> usize {
        self.words
            .par_iter()
            .zip(other.words.par_iter())
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// Jaccard index |A ∩ B| / |A ∪ B| (0 for two empty sets).
    pub fn jaccard(&self, other: &RowSet) -> f64 {
        let inter = self.intersection_count(other);
        let union = self.count() + other.count() - inter;
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// The 64-row words (bit r % 64 of word r / 64 is row r).
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let n = 200;
        let a = RowSet::from_fn(n, |r| r % 3 == 0);
        let b = RowSet::from_rows(n, &[0, 3, 4, 199, 500]);
        assert_eq!(a.count(), 67);
        assert_eq!(b.count(), 4);
        assert!(a.contains(198) && !a.contains(199) && !a.contains(1000));
        assert_eq!(b.to_vec(), vec![0, 3, 4, 199]);
        let mut c = a.clone();
        c.intersect_with(&b);
        assert_eq!(c.to_vec(), vec![0, 3]);
        assert_eq!(a.intersection_count(&b), 2);
        assert!((a.jaccard(&b) - 2.0 / 69.0).abs() < 1e-12);
        let mut d = b.clone();
        d.union_with(&RowSet::from_rows(n, &[1]));
        assert_eq!(d.to_vec(), vec![0, 1, 3, 4, 199]);
        let f = RowSet::full(n);
        assert_eq!(f.count(), n);
        assert_eq!(f.iter().last(), Some(199));
        assert_eq!(RowSet::full(128).count(), 128);
        assert_eq!(RowSet::empty(0).count(), 0);
        // Large enough for several parallel tasks.
        let big = RowSet::from_fn(200_000, |r| r % 7 == 2);
        assert_eq!(big.count(), (0..200_000).filter(|r| r % 7 == 2).count());
        assert_eq!(big.iter().take(3).collect::<Vec<_>>(), vec![2, 9, 16]);
    }
}
