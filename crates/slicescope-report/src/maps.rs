//! The 2-D map of each embedding view: a PCA projection of a down-sample of
//! the rows that keeps every slice visible.

use rayon::prelude::*;
use serde_json::{json, Value};
use slicescope_core::rng::Rng;
use slicescope_core::views::{prepare_view, ViewParams};
use slicescope_core::{Error, Result, ScanResult};

use crate::Limits;

/// One embedding view as the scan received it.
#[derive(Debug, Clone, Copy)]
pub struct MapView<'a> {
    /// The view's name.
    pub name: &'a str,
    /// Row-major `n × dim` values.
    pub values: &'a [f32],
    /// Vector length.
    pub dim: usize,
    /// L2-normalise rows before projecting (as the scan did).
    pub normalize: bool,
}

/// The map of one view (layout in `docs/report.md`).
pub(crate) fn map(
    v: &MapView<'_>,
    result: &ScanResult,
    limits: &Limits,
    seed: u64,
) -> Result<Value> {
    let n = result.input.n_rows;
    if v.dim == 0 || v.values.len() != n * v.dim {
        return Err(Error::ShapeMismatch(format!(
            "report map of view '{}': {} values do not make {n} rows of dimension {}",
            v.name,
            v.values.len(),
            v.dim
        )));
    }
    let rng = Rng::new(seed).fork(0x3A95);
    // The projection: PCA (2 axes) fitted on a seeded sample of rows.
    let fit_rows = sample(n, limits.projection_rows, &mut rng.fork(1));
    let mut fit = Vec::with_capacity(fit_rows.len() * v.dim);
    for &r in &fit_rows {
        fit.extend_from_slice(row(v, r));
    }
    let pca = prepare_view(
        v.name,
        "report map",
        &fit,
        v.dim,
        &ViewParams {
            max_dim: 2,
            normalize: v.normalize,
        },
    )?;
    drop(fit);
    let drawn = drawn_rows(result, n, limits, &mut rng.fork(2));
    let k = pca.dim;
    let coords: Vec<[f64; 2]> = drawn
        .par_iter()
        .map(|&r| {
            let x = row(v, r);
            let scale = if v.normalize {
                let norm = x
                    .iter()
                    .map(|&a| f64::from(a) * f64::from(a))
                    .sum::<f64>()
                    .sqrt();
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    0.0
                }
            } else {
                1.0
            };
            let mut z = [0f64; 2];
            for (i, &xi) in x.iter().enumerate() {
                let c = f64::from(xi) * scale - f64::from(pca.mean[i]);
                for (j, zj) in z.iter_mut().enumerate().take(k) {
                    *zj += c * f64::from(pca.axes[i * k + j]);
                }
            }
            z
        })
        .collect();
    // Scale so that the largest |coordinate| is 1 (aspect kept), 4 decimals.
    let extent = coords
        .iter()
        .flat_map(|z| z.iter().map(|a| a.abs()))
        .fold(0.0f64, f64::max);
    let unit = |a: f64| {
        if extent > 0.0 && a.is_finite() {
            (a / extent * 1e4).round() / 1e4
        } else {
            0.0
        }
    };
    let trace = if pca.explained_ratio > 0.0 {
        pca.explained_variance
            .iter()
            .map(|&l| f64::from(l))
            .sum::<f64>()
            / f64::from(pca.explained_ratio)
    } else {
        0.0
    };
    let explained: Vec<f64> = (0..2)
        .map(|j| {
            let l = pca.explained_variance.get(j).map_or(0.0, |&l| f64::from(l));
            if trace > 0.0 {
                (l / trace * 1e4).round() / 1e4
            } else {
                0.0
            }
        })
        .collect();
    let mut slices = serde_json::Map::new();
    for s in &result.slices {
        let Some(members) = &s.members else { continue };
        let mut m = members.clone();
        m.sort_unstable();
        let idx: Vec<u32> = drawn
            .iter()
            .enumerate()
            .filter(|(_, r)| m.binary_search(r).is_ok())
            .map(|(i, _)| i as u32)
            .collect();
        slices.insert(s.id.clone(), json!(idx));
    }
    let error: Vec<f32> = drawn
        .iter()
        .map(|&r| result.row_errors.get(r as usize).copied().unwrap_or(0.0))
        .collect();
    Ok(json!({
        "view": v.name,
        "method": "pca",
        "explained": explained,
        "n_total": n,
        "x": coords.iter().map(|z| unit(z[0])).collect::<Vec<_>>(),
        "y": coords.iter().map(|z| unit(z[1])).collect::<Vec<_>>(),
        "row": drawn,
        "error": error,
        "slices": slices,
    }))
}

fn row<'a>(v: &MapView<'a>, r: u32) -> &'a [f32] {
    let r = r as usize;
    &v.values[r * v.dim..(r + 1) * v.dim]
}

/// All rows when `n ≤ max`, else a seeded sample of `max` rows; ascending.
fn sample(n: usize, max: usize, rng: &mut Rng) -> Vec<u32> {
    if n <= max {
        return (0..n as u32).collect();
    }
    let mut taken = vec![false; n];
    let mut out = Vec::with_capacity(max);
    while out.len() < max {
        let r = rng.below(n as u64) as usize;
        if !taken[r] {
            taken[r] = true;
            out.push(r as u32);
        }
    }
    out.sort_unstable();
    out
}

/// The drawn rows, ascending: up to `members_per_slice` members of each
/// listed slice (a seeded sample of larger ones), then rows drawn at random
/// until `max_points` (all rows when there are at most that many).
fn drawn_rows(result: &ScanResult, n: usize, limits: &Limits, rng: &mut Rng) -> Vec<u32> {
    if n <= limits.max_points {
        return (0..n as u32).collect();
    }
    let mut taken = vec![false; n];
    let mut out: Vec<u32> = Vec::with_capacity(limits.max_points);
    for s in &result.slices {
        let Some(members) = &s.members else { continue };
        let mut m = members.clone();
        if m.len() > limits.members_per_slice {
            rng.shuffle(&mut m);
            m.truncate(limits.members_per_slice);
        }
        for r in m {
            if (r as usize) < n && !taken[r as usize] {
                taken[r as usize] = true;
                out.push(r);
            }
        }
    }
    // n > max_points here, so this ends.
    while out.len() < limits.max_points {
        let r = rng.below(n as u64) as usize;
        if !taken[r] {
            taken[r] = true;
            out.push(r as u32);
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_sorted_distinct_and_deterministic() {
        let a = sample(1000, 100, &mut Rng::new(3));
        let b = sample(1000, 100, &mut Rng::new(3));
        assert_eq!(a, b);
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample(5, 100, &mut Rng::new(3)), vec![0, 1, 2, 3, 4]);
    }
}
