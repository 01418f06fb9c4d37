//! The lattice search is exact: it returns what brute-force enumeration of
//! every conjunction returns, on many small random tables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use slicescope_core::attributes::Attribute;
use slicescope_core::lattice::{search, LatticeInput, LatticeParams, LatticeSlice, Silent};
use std::cmp::Ordering;

mod support {
    include!("support/brute_force.rs");
}
use support::{attr, brute_force};

fn check(
    attrs: &[Attribute],
    errors: &[f64],
    weights: Option<&[f64]>,
    params: &LatticeParams,
) -> Result<(), TestCaseError> {
    let input = LatticeInput {
        attributes: attrs,
        errors,
        weights,
    };
    let got = search(&input, params, &|_| 0.5, &Silent)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want = brute_force(attrs, errors, weights, params);
    let got_v: Vec<support::Found> = got
        .slices
        .iter()
        .map(|s: &LatticeSlice| (s.items.clone(), s.sums, s.score))
        .collect();
    prop_assert_eq!(got_v.len(), want.len(), "got {:?}\nwant {:?}", got_v, want);
    for (g, w) in got_v.iter().zip(&want) {
        prop_assert_eq!(&g.0, &w.0, "got {:?}\nwant {:?}", got_v, want);
        prop_assert_eq!(g.2.total_cmp(&w.2), Ordering::Equal);
        prop_assert_eq!(g.1.count, w.1.count);
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Case {
    attrs: Vec<(Vec<u32>, u32)>,
    errors: Vec<f64>,
    weights: Option<Vec<f64>>,
    params: LatticeParams,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..=6, 4usize..=120, 0u8..4).prop_flat_map(|(m, n, err_kind)| {
        let attrs = proptest::collection::vec(
            (1u32..=5)
                .prop_flat_map(move |card| (proptest::collection::vec(0..card, n), Just(card))),
            m,
        );
        let errors = match err_kind {
            // 0/1 errors, mostly correct
            0 | 1 => {
                proptest::collection::vec(prop_oneof![3 => Just(0.0), 1 => Just(1.0)], n).boxed()
            }
            // small integer losses
            2 => proptest::collection::vec((0u32..4).prop_map(f64::from), n).boxed(),
            // arbitrary non-negative floats
            _ => proptest::collection::vec(0.0f64..3.0, n).boxed(),
        };
        let weights = if err_kind == 1 {
            proptest::option::of(proptest::collection::vec((1u32..4).prop_map(f64::from), n))
                .boxed()
        } else {
            Just(None).boxed()
        };
        let params = (
            prop_oneof![1usize..=6, 6usize..=40],
            prop_oneof![Just(0.3), Just(0.5), Just(0.8), Just(0.95), Just(1.0)],
            prop_oneof![
                (1u32..=6).prop_map(|c| Some(f64::from(c))),
                (0.05f64..0.4).prop_map(Some)
            ],
            0usize..=m,
        )
            .prop_map(|(k, alpha, min_support, max_level)| LatticeParams {
                k,
                alpha,
                min_support,
                max_level,
            });
        (attrs, errors, weights, params).prop_map(|(attrs, errors, weights, params)| Case {
            attrs,
            errors,
            weights,
            params,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    #[test]
    fn lattice_equals_brute_force(c in case()) {
        let attrs: Vec<Attribute> = c.attrs.iter().enumerate()
            .map(|(i, (codes, card))| attr(&format!("a{i}"), codes.clone(), *card))
            .collect();
        check(&attrs, &c.errors, c.weights.as_deref(), &c.params)?;
    }
}

/// A case that prunes hard: many levels, a strong planted slice, small K,
/// so the K-th score is high early and most candidates are cut.
#[test]
fn exact_under_heavy_pruning() {
    let n = 400usize;
    let mut state = 12345u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let attrs: Vec<Attribute> = (0..6)
        .map(|a| {
            attr(
                &format!("a{a}"),
                (0..n).map(|_| (rnd() % 3) as u32).collect(),
                3,
            )
        })
        .collect();
    let errors: Vec<f64> = (0..n)
        .map(|r| {
            let planted = attrs[0].codes[r] == 1 && attrs[2].codes[r] == 2;
            let p = if planted { 80 } else { 10 };
            f64::from(u8::from(rnd() % 100 < p))
        })
        .collect();
    for k in [1, 2, 5, 20, 60] {
        for max_level in [2, 3, 0] {
            for min_support in [8.0, 40.0, 100.0] {
                for alpha in [0.5, 0.9, 0.99] {
                    let params = LatticeParams {
                        k,
                        alpha,
                        min_support: Some(min_support),
                        max_level,
                    };
                    check(&attrs, &errors, None, &params).unwrap();
                }
            }
        }
    }
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Skewed attributes give both row-list (rare levels) and bitset (common
/// levels) sets; real-valued errors and weights take the general path.
#[test]
fn exact_with_mixed_row_sets_weights_and_real_errors() {
    let n = 2000usize;
    let mut rnd = xorshift(99);
    // Level v with probability ∝ 2^-v: levels 0..7, the rare ones sparse.
    let skewed = |rnd: &mut dyn FnMut() -> u64| -> u32 { (rnd() | 1 << 7).trailing_zeros() };
    let attrs: Vec<Attribute> = (0..5)
        .map(|a| {
            attr(
                &format!("a{a}"),
                (0..n).map(|_| skewed(&mut rnd)).collect(),
                8,
            )
        })
        .collect();
    let errors: Vec<f64> = (0..n)
        .map(|r| {
            let bad = attrs[1].codes[r] >= 3 && attrs[3].codes[r] == 0;
            (rnd() % 1000) as f64 / if bad { 300.0 } else { 1000.0 }
        })
        .collect();
    let weights: Vec<f64> = (0..n).map(|_| 1.0 + (rnd() % 3) as f64).collect();
    for (k, min_support, max_level) in [(5, 20.0, 3), (30, 5.0, 2), (10, 60.0, 4)] {
        let params = LatticeParams {
            k,
            alpha: 0.9,
            min_support: Some(min_support),
            max_level,
        };
        check(&attrs, &errors, None, &params).unwrap();
        check(&attrs, &errors, Some(&weights), &params).unwrap();
        let binary: Vec<f64> = errors
            .iter()
            .map(|&e| f64::from(u8::from(e > 0.8)))
            .collect();
        check(&attrs, &binary, None, &params).unwrap();
    }
}

/// More than one block of bitset words (> 65,536 rows), so the blocked
/// evaluation's accumulation across blocks is exercised.
#[test]
fn exact_across_bitset_blocks() {
    let n = 70_001usize;
    let mut rnd = xorshift(7);
    let attrs: Vec<Attribute> = (0..3)
        .map(|a| {
            attr(
                &format!("a{a}"),
                (0..n).map(|_| (rnd() % 3) as u32).collect(),
                3,
            )
        })
        .collect();
    let binary: Vec<f64> = (0..n)
        .map(|r| {
            let p = if attrs[0].codes[r] == 2 && attrs[2].codes[r] == 1 {
                40
            } else {
                8
            };
            f64::from(u8::from(rnd() % 100 < p))
        })
        .collect();
    let real: Vec<f64> = binary
        .iter()
        .map(|&b| b * 0.5 + (rnd() % 10) as f64 / 100.0)
        .collect();
    let params = LatticeParams {
        k: 8,
        alpha: 0.95,
        min_support: Some(100.0),
        max_level: 0,
    };
    check(&attrs, &binary, None, &params).unwrap();
    check(&attrs, &real, None, &params).unwrap();
}
