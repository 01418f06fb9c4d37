//! Statistics of a slice against the rest of the data.
//!
//! What is computed, exactly (see also `docs/statistics.md`):
//!
//! * **size**: rows in the slice; **weight**: the sum of sample weights
//!   (equal to size without weights). Weights are *frequency* weights: a
//!   weight of 2 counts a row twice in every sum below.
//! * **errors**: Σ w·e over the slice (error count for 0/1 errors, loss sum
//!   otherwise); **error rate** (or mean loss) = errors / weight.
//! * **interval**: for 0/1 errors the Wilson score interval at 95%; for a
//!   continuous loss the Student-t interval of the mean.
//! * **rest**: the same quantities over all rows outside the slice.
//! * **lift** = slice rate / overall rate.
//! * **excess errors** = errors − weight·(overall rate): the errors that
//!   would disappear if the slice erred at the overall rate.
//! * **p-value**, one-sided, H0: the slice's rate is not above the rest's.
//!   For unweighted 0/1 errors it is Fisher's exact test (the
//!   hypergeometric upper tail P(X ≥ errors) with X the errors a random
//!   subset of the same size would hold). For a continuous loss or with
//!   weights it is Welch's one-sided t-test (an approximation).
//! * **q-value**: Benjamini–Hochberg over every hypothesis the search
//!   evaluated ([`benjamini_hochberg`]).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::gamma::ln_gamma;

/// Sufficient statistics of a set of rows: enough to compute every
/// reported quantity without touching the rows again.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sums {
    /// Number of rows.
    pub count: u64,
    /// Σ w (equals `count` without weights).
    pub weight: f64,
    /// Σ w·e.
    pub err: f64,
    /// Σ w·e².
    pub err_sq: f64,
    /// max e.
    pub max_err: f64,
}

impl Sums {
    /// Sums over all rows of an error vector with optional weights.
    pub fn over(errors: &[f64], weights: Option<&[f64]>) -> Sums {
        let mut s = Sums::default();
        for (i, &e) in errors.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            s.add(e, w);
        }
        s
    }

    /// Add one row.
    #[inline]
    pub fn add(&mut self, e: f64, w: f64) {
        self.count += 1;
        self.weight += w;
        self.err += w * e;
        self.err_sq += w * e * e;
        if e > self.max_err {
            self.max_err = e;
        }
    }

    /// The complement of `self` within `total` (max_err is not derivable
    /// and is set to NaN).
    pub fn rest_of(&self, total: &Sums) -> Sums {
        Sums {
            count: total.count - self.count.min(total.count),
            weight: (total.weight - self.weight).max(0.0),
            err: (total.err - self.err).max(0.0),
            err_sq: (total.err_sq - self.err_sq).max(0.0),
            max_err: f64::NAN,
        }
    }

    /// Mean error (error rate for 0/1 errors); NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.weight > 0.0 {
            self.err / self.weight
        } else {
            f64::NAN
        }
    }

    /// Sample variance of the error with frequency weights; NaN below two
    /// units of weight.
    pub fn variance(&self) -> f64 {
        if self.weight > 1.0 {
            ((self.err_sq - self.err * self.err / self.weight) / (self.weight - 1.0)).max(0.0)
        } else {
            f64::NAN
        }
    }
}

/// The statistics reported for every slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceStats {
    /// Rows in the slice.
    pub size: u64,
    /// Σ weights in the slice (equals `size` without weights).
    pub weight: f64,
    /// Share of all rows (by weight) in the slice.
    pub support: f64,
    /// Error count (0/1 errors) or loss sum, weighted.
    pub errors: f64,
    /// Error rate or mean loss in the slice.
    pub error_rate: f64,
    /// Lower end of the 95% interval of `error_rate`.
    pub ci_low: f64,
    /// Upper end of the 95% interval of `error_rate`.
    pub ci_high: f64,
    /// Error rate or mean loss of the rows outside the slice (None when the
    /// slice is everything).
    pub rest_error_rate: Option<f64>,
    /// `error_rate / overall rate`.
    pub lift: f64,
    /// `errors − weight · overall rate`: what fixing the slice is worth.
    pub excess_errors: f64,
    /// One-sided p-value, slice worse than the rest.
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value over all evaluated hypotheses.
    pub q_value: f64,
    /// Which test produced `p_value`: "fisher-exact" or "welch-t".
    pub test: String,
}

/// How the error signal looks, which decides the interval and the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalKind {
    /// Every error is 0 or 1.
    pub binary: bool,
    /// Rows carry weights.
    pub weighted: bool,
}

/// Statistics of a slice given its sums and the totals. `q_value` is set
/// to `p_value` here; adjust with [`benjamini_hochberg`].
pub fn slice_stats(
    slice: &Sums,
    total: &Sums,
    kind: SignalKind,
    log_fact: &LogFactorials,
) -> SliceStats {
    let overall = total.mean();
    let rate = slice.mean();
    let rest = slice.rest_of(total);
    let (ci_low, ci_high) = interval(slice, kind.binary);
    let p = p_value(slice, total, kind, log_fact);
    SliceStats {
        size: slice.count,
        weight: slice.weight,
        support: if total.weight > 0.0 {
            slice.weight / total.weight
        } else {
            f64::NAN
        },
        errors: slice.err,
        error_rate: rate,
        ci_low,
        ci_high,
        rest_error_rate: (rest.weight > 0.0).then(|| rest.mean()),
        lift: if overall > 0.0 {
            rate / overall
        } else {
            f64::NAN
        },
        excess_errors: slice.err - slice.weight * overall,
        p_value: p,
        q_value: p,
        test: if kind.binary && !kind.weighted {
            "fisher-exact"
        } else {
            "welch-t"
        }
        .to_string(),
    }
}

/// 95% interval of the mean error: Wilson for 0/1 errors, Student-t otherwise.
pub fn interval(s: &Sums, binary: bool) -> (f64, f64) {
    if binary {
        wilson(s.err, s.weight, 1.959_963_984_540_054)
    } else {
        t_interval(s)
    }
}

/// One-sided p-value that the slice's mean error is above the rest's.
pub fn p_value(slice: &Sums, total: &Sums, kind: SignalKind, log_fact: &LogFactorials) -> f64 {
    let rest = slice.rest_of(total);
    if slice.count == 0 || rest.count == 0 {
        return 1.0;
    }
    if kind.binary && !kind.weighted {
        let n = total.count;
        let k = total.err.round() as u64;
        let draws = slice.count;
        let x = slice.err.round() as u64;
        hypergeom_sf(x, n, k, draws, log_fact)
    } else {
        welch_one_sided(slice, &rest)
    }
}

/// Precomputed ln(k!) for k = 0..=n, for fast exact hypergeometric tails.
#[derive(Debug, Clone)]
pub struct LogFactorials(Vec<f64>);

impl LogFactorials {
    /// Table up to `n` inclusive.
    pub fn new(n: u64) -> Self {
        // ln_gamma per entry keeps every value accurate to ~1e-15 relative
        // (a running sum of ln k would accumulate rounding error).
        let n = n as usize;
        let mut v = Vec::with_capacity(n + 1);
        for k in 0..=n {
            v.push(if k < 2 { 0.0 } else { ln_gamma(k as f64 + 1.0) });
        }
        LogFactorials(v)
    }

    fn get(&self, k: u64) -> f64 {
        self.0
            .get(k as usize)
            .copied()
            .unwrap_or_else(|| ln_gamma(k as f64 + 1.0))
    }

    fn ln_choose(&self, n: u64, k: u64) -> f64 {
        self.get(n) - self.get(k) - self.get(n - k)
    }
}

/// P(X ≥ x) for X ~ Hypergeometric(population n, successes k, draws).
///
/// Sums the pmf from x upwards with the term ratio recurrence, stopping
/// once terms no longer change the sum; exact to double precision.
pub fn hypergeom_sf(x: u64, n: u64, k: u64, draws: u64, lf: &LogFactorials) -> f64 {
    let lo = (draws + k).saturating_sub(n);
    let hi = draws.min(k);
    if x <= lo {
        return 1.0;
    }
    if x > hi {
        return 0.0;
    }
    // For x below the mean the upper tail is large: compute 1 − P(X < x)
    // from the lower side for accuracy and speed.
    let mean = draws as f64 * k as f64 / n as f64;
    let ln_total = lf.ln_choose(n, draws);
    let ln_pmf = |j: u64| lf.ln_choose(k, j) + lf.ln_choose(n - k, draws - j) - ln_total;
    if (x as f64) > mean {
        let mut term = ln_pmf(x).exp();
        let mut sum = term;
        let mut j = x;
        while j < hi {
            // pmf(j+1)/pmf(j) = (k−j)(draws−j) / ((j+1)(n−k−draws+j+1))
            let ratio = ((k - j) as f64 * (draws - j) as f64)
                / ((j + 1) as f64 * ((n - k) - (draws - j - 1)) as f64);
            term *= ratio;
            sum += term;
            j += 1;
            if term < sum * 1e-17 {
                break;
            }
        }
        sum.min(1.0)
    } else {
        // 1 − P(X ≤ x−1), summing downwards from x−1.
        let mut j = x - 1;
        let mut term = ln_pmf(j).exp();
        let mut sum = term;
        while j > lo {
            // pmf(j−1)/pmf(j) = j(n−k−draws+j) / ((k−j+1)(draws−j+1))
            let ratio = (j as f64 * ((n - k) - (draws - j)) as f64)
                / ((k - j + 1) as f64 * (draws - j + 1) as f64);
            term *= ratio;
            sum += term;
            j -= 1;
            if term < sum * 1e-17 {
                break;
            }
        }
        (1.0 - sum).clamp(0.0, 1.0)
    }
}

/// Welch's one-sided t-test of mean(slice) > mean(rest).
fn welch_one_sided(a: &Sums, b: &Sums) -> f64 {
    let (ma, mb) = (a.mean(), b.mean());
    let (va, vb) = (a.variance(), b.variance());
    if !(va.is_finite() && vb.is_finite()) {
        return if ma > mb { 0.5 } else { 1.0 };
    }
    let sa = va / a.weight;
    let sb = vb / b.weight;
    let se = (sa + sb).sqrt();
    if se == 0.0 {
        return if ma > mb { 0.0 } else { 1.0 };
    }
    let t = (ma - mb) / se;
    let df = (sa + sb).powi(2)
        / (sa * sa / (a.weight - 1.0).max(1.0) + sb * sb / (b.weight - 1.0).max(1.0));
    match StudentsT::new(0.0, 1.0, df.max(1.0)) {
        Ok(dist) => dist.sf(t).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// Wilson score interval for `successes` out of `trials` at normal quantile `z`.
pub fn wilson(successes: f64, trials: f64, z: f64) -> (f64, f64) {
    if trials <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let p = successes / trials;
    let z2 = z * z;
    let denom = 1.0 + z2 / trials;
    let centre = (p + z2 / (2.0 * trials)) / denom;
    let half = z * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Student-t 95% interval of the mean loss.
fn t_interval(s: &Sums) -> (f64, f64) {
    let m = s.mean();
    let v = s.variance();
    if !v.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    let df = (s.weight - 1.0).max(1.0);
    let q = StudentsT::new(0.0, 1.0, df)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.959_963_984_540_054);
    let half = q * (v / s.weight).sqrt();
    ((m - half).max(0.0), m + half)
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input order.
///
/// `q_(i) = min_{j ≥ i} p_(j) · m / j` over the p-values sorted
/// ascending, capped at 1. `m` is `p.len()` plus `extra`, hypotheses that
/// were tested but whose p-values are not in `p` (their p-values are
/// assumed to be 1, which is conservative for the ones given).
pub fn benjamini_hochberg(p: &[f64], extra: usize) -> Vec<f64> {
    let m = (p.len() + extra) as f64;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![1.0; p.len()];
    let mut running = 1.0_f64;
    for (rank0, &i) in order.iter().enumerate().rev() {
        let adj = p[i] * m / (rank0 as f64 + 1.0);
        running = running.min(adj);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn wilson_matches_reference_values() {
        // Reference: statsmodels proportion_confint(8, 20, method="wilson")
        // = (0.2188065, 0.6134185).
        let (lo, hi) = wilson(8.0, 20.0, 1.959_963_984_540_054);
        assert!(close(lo, 0.218_806_532, 1e-8), "{lo}");
        assert!(close(hi, 0.613_418_499, 1e-8), "{hi}");
        let (lo, hi) = wilson(0.0, 10.0, 1.959_963_984_540_054);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.277_53, 1e-4), "{hi}");
    }

    #[test]
    fn hypergeom_tail_matches_fisher_exact() {
        let lf = LogFactorials::new(100);
        // P(X >= 7) = sum_j C(10,j)C(40,12-j)/C(50,12) = 0.00068511803...
        // (population 50, 10 successes, 12 draws)
        let p = hypergeom_sf(7, 50, 10, 12, &lf);
        let mut exact = 0.0;
        for j in 7..=10u64 {
            exact += (lf.ln_choose(10, j) + lf.ln_choose(40, 12 - j) - lf.ln_choose(50, 12)).exp();
        }
        assert!(close(p, exact, 1e-12), "{p} vs {exact}");
        assert!(close(p, 0.000_685_118_031_611_87, 1e-9), "{p}");
        // The whole support sums to one, whichever side is summed.
        assert!(close(hypergeom_sf(0, 50, 10, 12, &lf), 1.0, 1e-15));
        let below = hypergeom_sf(2, 50, 10, 12, &lf);
        let mut direct = 0.0;
        for j in 2..=10u64 {
            direct += (lf.ln_choose(10, j) + lf.ln_choose(40, 12 - j) - lf.ln_choose(50, 12)).exp();
        }
        assert!(close(below, direct, 1e-12), "{below} vs {direct}");
        assert_eq!(hypergeom_sf(11, 50, 10, 12, &lf), 0.0);
    }

    #[test]
    fn hypergeom_tail_is_monotone_and_bounded() {
        let lf = LogFactorials::new(2000);
        let mut prev = 1.0;
        for x in 0..=300u64 {
            let p = hypergeom_sf(x, 2000, 300, 500, &lf);
            assert!((0.0..=1.0).contains(&p));
            assert!(p <= prev + 1e-12, "x={x}: {p} > {prev}");
            prev = p;
        }
    }

    #[test]
    fn hypergeom_tail_equals_direct_sum_everywhere() {
        // Every (population, successes, draws, x) up to 30: the tail equals
        // the direct sum of the pmf, on both summation branches.
        let lf = LogFactorials::new(40);
        for n in 1..=30u64 {
            for k in 0..=n {
                for draws in 0..=n {
                    let lo = (draws + k).saturating_sub(n);
                    let hi = draws.min(k);
                    for x in 0..=draws + 1 {
                        let p = hypergeom_sf(x, n, k, draws, &lf);
                        let mut direct = 0.0;
                        for j in x.max(lo)..=hi {
                            direct += (lf.ln_choose(k, j) + lf.ln_choose(n - k, draws - j)
                                - lf.ln_choose(n, draws))
                            .exp();
                        }
                        assert!(
                            (p - direct.min(1.0)).abs() < 1e-9,
                            "n={n} k={k} draws={draws} x={x}: {p} vs {direct}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bh_matches_hand_computation() {
        // p sorted: 0.01, 0.02, 0.03, 0.5 with m = 4:
        // raw adj 0.04, 0.04, 0.04, 0.5 -> q = 0.04, 0.04, 0.04, 0.5
        let q = benjamini_hochberg(&[0.5, 0.01, 0.03, 0.02], 0);
        assert_eq!(q.len(), 4);
        for (a, b) in q.iter().zip([0.5, 0.04, 0.04, 0.04]) {
            assert!(close(*a, b, 1e-12), "{q:?}");
        }
        // Extra hypotheses make q larger.
        let q2 = benjamini_hochberg(&[0.01], 9);
        assert!(close(q2[0], 0.1, 1e-12));
    }

    #[test]
    fn stats_of_a_slice() {
        let errors: Vec<f64> = (0..100)
            .map(|i| if i < 20 || i % 10 == 0 { 1.0 } else { 0.0 })
            .collect();
        let total = Sums::over(&errors, None);
        let slice = Sums::over(&errors[..20], None);
        let lf = LogFactorials::new(100);
        let s = slice_stats(
            &slice,
            &total,
            SignalKind {
                binary: true,
                weighted: false,
            },
            &lf,
        );
        assert_eq!(s.size, 20);
        assert_eq!(s.errors, 20.0);
        assert_eq!(s.error_rate, 1.0);
        // total errors: 20 + 8 (multiples of 10 in 20..100) = 28
        assert!(close(s.rest_error_rate.unwrap(), 8.0 / 80.0, 1e-12));
        assert!(close(s.excess_errors, 20.0 - 20.0 * 0.28, 1e-12));
        assert!(close(s.lift, 1.0 / 0.28, 1e-12));
        assert!(s.p_value < 1e-10);
        assert_eq!(s.test, "fisher-exact");
    }

    #[test]
    fn welch_for_continuous_loss() {
        let errors: Vec<f64> = (0..200)
            .map(|i| {
                if i < 50 {
                    2.0 + (i % 3) as f64
                } else {
                    1.0 + (i % 2) as f64
                }
            })
            .collect();
        let total = Sums::over(&errors, None);
        let slice = Sums::over(&errors[..50], None);
        let lf = LogFactorials::new(200);
        let s = slice_stats(
            &slice,
            &total,
            SignalKind {
                binary: false,
                weighted: false,
            },
            &lf,
        );
        assert!(s.p_value < 1e-6, "{}", s.p_value);
        assert!(s.ci_low < s.error_rate && s.error_rate < s.ci_high);
        assert_eq!(s.test, "welch-t");
        let calm = Sums::over(&errors[100..150], None);
        let s2 = slice_stats(
            &calm,
            &total,
            SignalKind {
                binary: false,
                weighted: false,
            },
            &lf,
        );
        assert!(s2.p_value > 0.5);
    }
}
