// Shared by the integration tests (included with `include!`): a direct,
// obviously correct enumeration of every conjunction, the definition the
// lattice search must match.

#[allow(unused_imports)]
use slicescope_core::attributes::{Attribute, Predicate, Value};
use slicescope_core::lattice::{score, LatticeParams};
use slicescope_core::stats::Sums;

/// A slice as brute force reports it: (attribute, level) items, sums, score.
pub type Found = (Vec<(usize, u32)>, Sums, f64);

#[allow(dead_code)]
pub fn attr(name: &str, codes: Vec<u32>, n_levels: u32) -> Attribute {
    Attribute {
        name: name.into(),
        codes,
        levels: (0..n_levels)
            .map(|v| Predicate::Eq { column: name.into(), value: Value::Int(v as i64) })
            .collect(),
    }
}

/// Every conjunction of at most `max_level` predicates on distinct
/// attributes, scored directly; the top K by (score desc, size desc,
/// predicates asc) among those with size ≥ σ and score > 0.
pub fn brute_force(
    attrs: &[Attribute],
    errors: &[f64],
    weights: Option<&[f64]>,
    params: &LatticeParams,
) -> Vec<Found> {
    let total = Sums::over(errors, weights);
    let n = total.weight;
    let sigma = params.sigma(n);
    if total.err <= 0.0 {
        return vec![];
    }
    let mean = total.err / n;
    let max_level = if params.max_level == 0 { attrs.len() } else { params.max_level.min(attrs.len()) };
    let mut found: Vec<Found> = Vec::new();
    // Enumerate assignments: each attribute unused or one of its levels.
    let mut choice = vec![None::<u32>; attrs.len()];
    fn rec(
        a: usize,
        used: usize,
        choice: &mut Vec<Option<u32>>,
        attrs: &[Attribute],
        max_level: usize,
        visit: &mut dyn FnMut(&[Option<u32>]),
    ) {
        if a == attrs.len() {
            if used > 0 {
                visit(choice);
            }
            return;
        }
        choice[a] = None;
        rec(a + 1, used, choice, attrs, max_level, visit);
        if used < max_level {
            for lv in 0..attrs[a].levels.len() as u32 {
                choice[a] = Some(lv);
                rec(a + 1, used + 1, choice, attrs, max_level, visit);
            }
            choice[a] = None;
        }
    }
    let mut visit = |c: &[Option<u32>]| {
        let mut s = Sums::default();
        for r in 0..errors.len() {
            if c.iter().enumerate().all(|(a, lv)| lv.is_none_or(|lv| attrs[a].codes[r] == lv)) {
                s.add(errors[r], weights.map_or(1.0, |w| w[r]));
            }
        }
        let sc = score(s.weight, s.err, mean, n, params.alpha);
        if s.weight >= sigma && sc > 0.0 {
            let items = c.iter().enumerate().filter_map(|(a, lv)| lv.map(|lv| (a, lv))).collect();
            found.push((items, s, sc));
        }
    };
    rec(0, 0, &mut choice, attrs, max_level, &mut visit);
    found.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(b.1.weight.total_cmp(&a.1.weight))
            .then_with(|| a.0.cmp(&b.0))
    });
    found.truncate(params.k);
    found
}

