//! Two models on the same rows: per set of rows, each model's error rate
//! (or mean loss) with its interval, the paired difference B − A with an
//! interval, and a two-sided paired test of "no difference".
//!
//! * Unweighted 0/1 errors: **exact McNemar test**. Only the discordant
//!   rows carry information: `a_only` rows that A gets wrong and B right,
//!   `b_only` the reverse. Under H0 each discordant row is equally likely
//!   to go either way, so `b_only ~ Binomial(a_only + b_only, 1/2)`; the
//!   two-sided p-value is `min(1, 2·P(X ≤ min(a_only, b_only)))`.
//! * Losses, or weighted rows: **paired t-test** on the per-row
//!   differences d = e_B − e_A (frequency weights), two-sided, with
//!   W − 1 degrees of freedom (W = Σ weights).
//!
//! The difference's 95% interval is the Wald interval of the mean paired
//! difference (for 0/1 errors: ±1.96·√(a_only + b_only − (b_only −
//! a_only)²/n)/n), the t interval for losses.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::beta::beta_reg;

use crate::stats::{interval, Sums};

/// Sufficient statistics of two models' errors on the same rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairedSums {
    /// Model A's errors.
    pub a: Sums,
    /// Model B's errors.
    pub b: Sums,
    /// Differences e_B − e_A: Σ w·d.
    pub d: f64,
    /// Σ w·d².
    pub d_sq: f64,
    /// Σ w over rows where A errs more than B (0/1: A wrong, B right).
    pub a_only: f64,
    /// Σ w over rows where B errs more than A.
    pub b_only: f64,
}

impl PairedSums {
    /// Add one row.
    #[inline]
    pub fn add(&mut self, ea: f64, eb: f64, w: f64) {
        self.a.add(ea, w);
        self.b.add(eb, w);
        let d = eb - ea;
        self.d += w * d;
        self.d_sq += w * d * d;
        if ea > eb {
            self.a_only += w;
        } else if eb > ea {
            self.b_only += w;
        }
    }

    /// Sums over `rows` of two error vectors with optional weights.
    pub fn over(
        rows: impl Iterator<Item = u32>,
        a: &[f64],
        b: &[f64],
        weights: Option<&[f64]>,
    ) -> PairedSums {
        let mut s = PairedSums::default();
        for r in rows {
            let r = r as usize;
            s.add(a[r], b[r], weights.map_or(1.0, |w| w[r]));
        }
        s
    }
}

/// The paired comparison of one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Rows.
    pub size: u64,
    /// Σ weights.
    pub weight: f64,
    /// A's error rate or mean loss.
    pub rate_a: f64,
    /// A's 95% interval.
    pub ci_a: (f64, f64),
    /// B's error rate or mean loss.
    pub rate_b: f64,
    /// B's 95% interval.
    pub ci_b: (f64, f64),
    /// rate_b − rate_a.
    pub diff: f64,
    /// 95% interval of the difference.
    pub diff_ci: (f64, f64),
    /// Errors (or loss) of B minus those of A: Σ w·(e_B − e_A).
    pub error_change: f64,
    /// Rows A errs on more than B (0/1: fixed by B).
    pub a_only: f64,
    /// Rows B errs on more than A (0/1: broken by B).
    pub b_only: f64,
    /// Two-sided p-value of "no difference".
    pub p_value: f64,
    /// "mcnemar-exact" or "paired-t".
    pub test: String,
}

const Z95: f64 = 1.959_963_984_540_054;

/// Two-sided exact McNemar p-value for `a_only` and `b_only` discordant
/// rows.
pub fn mcnemar_exact(a_only: u64, b_only: u64) -> f64 {
    let n = a_only + b_only;
    if n == 0 {
        return 1.0;
    }
    let k = a_only.min(b_only);
    if 2 * k == n {
        return 1.0;
    }
    // P(X ≤ k) for X ~ Bin(n, 1/2) = I_{1/2}(n − k, k + 1).
    let tail = beta_reg((n - k) as f64, (k + 1) as f64, 0.5);
    (2.0 * tail).clamp(0.0, 1.0)
}

/// Compare A and B on the rows summarised by `s`. `binary`: every error
/// is 0 or 1; `weighted`: rows carry weights (then the t-test is used).
pub fn compare(s: &PairedSums, binary: bool, weighted: bool) -> Paired {
    let w = s.a.weight;
    let (rate_a, rate_b) = (s.a.mean(), s.b.mean());
    let mean_d = if w > 0.0 { s.d / w } else { f64::NAN };
    let (p, test, half) = if binary && !weighted {
        let n = w;
        let disc = s.a_only + s.b_only;
        let var = (disc - s.d * s.d / n.max(1.0)).max(0.0);
        let half = if n > 0.0 {
            Z95 * var.sqrt() / n
        } else {
            f64::NAN
        };
        (
            mcnemar_exact(s.a_only.round() as u64, s.b_only.round() as u64),
            "mcnemar-exact",
            half,
        )
    } else {
        let var = if w > 1.0 {
            ((s.d_sq - s.d * s.d / w) / (w - 1.0)).max(0.0)
        } else {
            f64::NAN
        };
        let se = (var / w).sqrt();
        let df = (w - 1.0).max(1.0);
        let (p, q) = match StudentsT::new(0.0, 1.0, df) {
            Ok(t) => {
                let p = if !se.is_finite() {
                    1.0
                } else if se == 0.0 {
                    if mean_d == 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    (2.0 * t.sf((mean_d / se).abs())).clamp(0.0, 1.0)
                };
                (p, t.inverse_cdf(0.975))
            }
            Err(_) => (1.0, Z95),
        };
        (p, "paired-t", q * se)
    };
    Paired {
        size: s.a.count,
        weight: w,
        rate_a,
        ci_a: interval(&s.a, binary),
        rate_b,
        ci_b: interval(&s.b, binary),
        diff: rate_b - rate_a,
        diff_ci: (mean_d - half, mean_d + half),
        error_change: s.d,
        a_only: s.a_only,
        b_only: s.b_only,
        p_value: p,
        test: test.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn mcnemar_matches_reference_values() {
        // scipy.stats.binomtest(2, 12, 0.5).pvalue = 0.03857421875
        assert!(close(mcnemar_exact(2, 10), 0.038_574_218_75, 1e-10));
        assert!(close(mcnemar_exact(10, 2), 0.038_574_218_75, 1e-10));
        // binomtest(0, 5) = 0.0625; equal counts = 1.
        assert!(close(mcnemar_exact(0, 5), 0.0625, 1e-12));
        assert_eq!(mcnemar_exact(7, 7), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // binomtest(40, 100) = 0.056887933640...
        assert!(close(mcnemar_exact(40, 60), 0.056_887_933_640_980_5, 1e-9));
        // Large counts stay finite and small.
        let p = mcnemar_exact(100_000, 101_500);
        assert!(p > 0.0 && p < 0.02, "{p}");
    }

    #[test]
    fn paired_binary_and_loss() {
        // 100 rows: A wrong on 0..20, B wrong on 10..40.
        let a: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i < 20))).collect();
        let b: Vec<f64> = (0..100)
            .map(|i| f64::from(u8::from((10..40).contains(&i))))
            .collect();
        let s = PairedSums::over(0..100, &a, &b, None);
        let c = compare(&s, true, false);
        assert_eq!((c.a_only, c.b_only), (10.0, 20.0));
        assert!(close(c.rate_a, 0.2, 1e-12) && close(c.rate_b, 0.3, 1e-12));
        assert!(close(c.diff, 0.1, 1e-12));
        assert!(close(c.error_change, 10.0, 1e-12));
        // binomtest(10, 30) = 0.09873714670538902
        assert!(
            close(c.p_value, 0.098_737_146_705_389, 1e-9),
            "{}",
            c.p_value
        );
        assert!(c.diff_ci.0 < 0.1 && c.diff_ci.1 > 0.1);
        assert_eq!(c.test, "mcnemar-exact");
        // A loss: B is A plus 0.5 on every row → tiny p.
        let la: Vec<f64> = (0..50).map(|i| f64::from(i % 7)).collect();
        let lb: Vec<f64> = la
            .iter()
            .enumerate()
            .map(|(i, x)| x + 0.5 + 0.01 * (i % 3) as f64)
            .collect();
        let s = PairedSums::over(0..50, &la, &lb, None);
        let c = compare(&s, false, false);
        assert_eq!(c.test, "paired-t");
        assert!(c.p_value < 1e-10, "{}", c.p_value);
        assert!(close(c.diff, 0.51, 1e-2));
        // Same errors: p = 1.
        let s = PairedSums::over(0..50, &la, &la, None);
        assert_eq!(compare(&s, false, false).p_value, 1.0);
    }
}
