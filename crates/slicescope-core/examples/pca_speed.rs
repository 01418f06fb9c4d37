//! Times `prepare_view` (normalisation, centring, PCA) on random data.
//!
//! `cargo run --release -p slicescope-core --example pca_speed -- [ROWS] [DIM_IN] [MAX_DIM]`
//! (defaults 1,000,000 × 512 → 128). Peak memory: run the binary under
//! `/usr/bin/time -v`.

use rayon::prelude::*;
use slicescope_core::rng::Rng;
use slicescope_core::views::{prepare_view, ViewParams};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace(['_', ','], "").parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(1_000_000);
    let d = args.get(1).copied().unwrap_or(512);
    let k = args.get(2).copied().unwrap_or(128);
    let t0 = Instant::now();
    // Anisotropic data: column j has scale 1/(1 + j/8), values uniform
    // around an offset, generated in parallel from forked generators.
    let root = Rng::new(42);
    let scales: Vec<f32> = (0..d).map(|j| 1.0 / (1.0 + j as f32 / 8.0)).collect();
    let mut values = vec![0f32; n * d];
    values
        .par_chunks_mut(4096 * d)
        .enumerate()
        .for_each(|(b, block)| {
            let mut rng = root.fork(b as u64);
            for row in block.chunks_mut(d) {
                for (v, s) in row.iter_mut().zip(&scales) {
                    *v = 0.5 + s * (rng.uniform() as f32 - 0.5);
                }
            }
        });
    eprintln!("generated {n} x {d} in {:.2} s", t0.elapsed().as_secs_f64());
    for normalize in [false, true] {
        let t = Instant::now();
        let cpu = cpu_seconds();
        let v = prepare_view(
            "speed",
            "random",
            &values,
            d,
            &ViewParams {
                max_dim: k,
                normalize,
            },
        )?;
        println!(
            "prepare_view {n} x {d} -> {} (normalize={normalize}): {:.2} s wall, {:.2} s CPU, on {} threads (explained ratio {:.3})",
            v.dim,
            t.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            rayon::current_num_threads(),
            v.explained_ratio
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
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}
