//! Times the mixture slicer on a PCA-reduced synthetic view.
//!
//! `cargo run --release -p slicescope-core --example mixture_speed -- [ROWS] [DIM_IN] [DIM]`
//! (defaults 100,000 × 512 reduced to 128; K̄ = 25, n_init = 3, the
//! defaults). The data: 40 Gaussian clusters of random size in `DIM_IN`
//! dimensions; rows of one cluster err with probability 0.5, others 0.08.

use rayon::prelude::*;
use slicescope_core::rng::Rng;
use slicescope_core::slicers::mixture::{MixtureParams, MixtureSlicer};
use slicescope_core::slicers::{EmbeddingInput, EmbeddingSlicer};
use slicescope_core::views::{prepare_view, ViewParams};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace(['_', ','], "").parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(100_000);
    let d = args.get(1).copied().unwrap_or(512);
    let k = args.get(2).copied().unwrap_or(128);
    let n_clusters = 40;
    let mut rng = Rng::new(7);
    let centres: Vec<f32> = (0..n_clusters * d)
        .map(|_| (0.6 * rng.normal()) as f32)
        .collect();
    let sizes: Vec<f64> = (0..n_clusters).map(|_| 0.2 + rng.uniform()).collect();
    let total: f64 = sizes.iter().sum();
    let cluster: Vec<usize> = (0..n)
        .map(|_| {
            let mut t = rng.uniform() * total;
            sizes
                .iter()
                .position(|&s| {
                    t -= s;
                    t < 0.0
                })
                .unwrap_or(n_clusters - 1)
        })
        .collect();
    let mut values = vec![0f32; n * d];
    values.par_chunks_mut(d).enumerate().for_each(|(i, row)| {
        let mut r = Rng::new(1000 + i as u64);
        let c = &centres[cluster[i] * d..(cluster[i] + 1) * d];
        for (v, m) in row.iter_mut().zip(c) {
            *v = m + r.normal() as f32;
        }
    });
    let errors: Vec<f64> = cluster
        .iter()
        .map(|&c| {
            let p = if c == 3 { 0.5 } else { 0.08 };
            if rng.uniform() < p {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let t = Instant::now();
    let cpu = cpu_seconds();
    let view = prepare_view(
        "speed",
        "synthetic",
        &values,
        d,
        &ViewParams {
            max_dim: k,
            normalize: false,
        },
    )?;
    println!(
        "prepare_view {n} x {d} -> {}: {:.2} s wall, {:.2} s CPU",
        view.dim,
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    drop(values);
    let mut params = MixtureParams::default();
    if let Some(w) = std::env::var("ERROR_WEIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.error_weight = w;
    }
    let slicer = MixtureSlicer { params };
    let input = EmbeddingInput {
        view: &view,
        errors: &errors,
        binary: true,
        weights: None,
        classes: None,
        seed: 1,
    };
    let t = Instant::now();
    let cpu = cpu_seconds();
    let cands = slicer.fit(&input)?;
    println!(
        "mixture fit {n} x {} (K̄ = {}, n_init = {}): {:.2} s wall, {:.2} s CPU, on {} threads",
        view.dim,
        slicer.params.n_components,
        slicer.params.n_init,
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        rayon::current_num_threads()
    );
    let planted: Vec<u32> = (0..n as u32)
        .filter(|&i| cluster[i as usize] == 3)
        .collect();
    for c in &cands {
        let inter = c
            .members
            .iter()
            .filter(|&&i| cluster[i as usize] == 3)
            .count();
        let jac = inter as f64 / (c.members.len() + planted.len() - inter) as f64;
        println!(
            "  {} rows, excess {:.1}, Jaccard with the planted cluster {jac:.3}: {}",
            c.members.len(),
            c.score,
            c.detail
        );
    }
    Ok(())
}

/// CPU time (user + system, all threads) of this process so far, from
/// /proc/self/stat (Linux; 0 elsewhere). With other processes competing
/// for the cores, wall time overstates the cost; CPU time / threads is the
/// wall time on an idle machine.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}
