//! Times the spotlight and direction slicers with default parameters on
//! synthetic data: 1,000,000 rows × 128 dimensions by default.
//!
//! ```text
//! cargo run --release -p slicescope-core --example embedding_slicers_speed [rows] [dims] [classes] [slicer]
//! ```
//!
//! With `classes` > 0 rows get random labels (and the direction slicer
//! fits one direction per class); `slicer` (`spotlight` or `direction`)
//! times only that one.
//!
//! Rows are normal with a decaying scale per dimension, then go through the
//! pipeline's own view preparation (PCA), as in a scan.
//! Errors are 0/1: 60% in a Gaussian blob around a random centre (3% of
//! rows) and where z·u > 2·sd(z·u) for a random unit u (2.3% of rows), 5%
//! elsewhere. Each candidate's Jaccard similarity with the two planted
//! slices is printed.

use std::time::Instant;

use rayon::prelude::*;
use slicescope_core::outcome::Classes;
use slicescope_core::rng::Rng;
use slicescope_core::slicers::direction::DirectionSlicer;
use slicescope_core::slicers::spotlight::SpotlightSlicer;
use slicescope_core::slicers::{EmbeddingInput, EmbeddingSlicer};
use slicescope_core::views::{prepare_view, ViewParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let dim: usize = args.next().map_or(Ok(128), |s| s.parse())?;
    let n_classes: usize = args.next().map_or(Ok(0), |s| s.parse())?;
    let only = args.next();
    let t0 = Instant::now();
    let rng = Rng::new(2024);
    let scales: Vec<f32> = (0..dim).map(|j| 1.0 / (1.0 + j as f32 / 8.0)).collect();
    let mut head = rng.fork(u64::MAX);
    let mut u: Vec<f64> = (0..dim).map(|_| head.normal()).collect();
    let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    u.iter_mut().for_each(|x| *x /= norm);
    let blob: Vec<f32> = (0..dim)
        .map(|j| 1.5 * scales[j] * head.normal() as f32)
        .collect();
    let proj_sd = u
        .iter()
        .zip(&scales)
        .map(|(u, &s)| (u * f64::from(s)).powi(2))
        .sum::<f64>()
        .sqrt();

    const CHUNK: usize = 10_000;
    let mut data = vec![0.0f32; n * dim];
    let mut errors = vec![0.0f64; n];
    // 1 = blob, 2 = halfspace, 0 = neither.
    let mut kind = vec![0u8; n];
    data.par_chunks_mut(CHUNK * dim)
        .zip(errors.par_chunks_mut(CHUNK))
        .zip(kind.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, ((block, errs), kinds))| {
            let mut r = rng.fork(c as u64);
            for ((row, e), k) in block.chunks_exact_mut(dim).zip(errs).zip(kinds) {
                let in_blob = r.uniform() < 0.03;
                for (j, z) in row.iter_mut().enumerate() {
                    let noise = r.normal() as f32 * scales[j];
                    *z = if in_blob {
                        blob[j] + 0.3 * noise
                    } else {
                        noise
                    };
                }
                let proj: f64 = row.iter().zip(&u).map(|(&z, u)| f64::from(z) * u).sum();
                *k = if in_blob {
                    1
                } else if proj > 2.0 * proj_sd {
                    2
                } else {
                    0
                };
                let rate = if *k > 0 { 0.6 } else { 0.05 };
                *e = if r.uniform() < rate { 1.0 } else { 0.0 };
            }
        });
    let planted = |which: u8| -> Vec<u32> {
        (0..n as u32)
            .filter(|&i| kind[i as usize] == which)
            .collect()
    };
    let (blob_rows, half_rows) = (planted(1), planted(2));
    let t1 = Instant::now();
    // Through the pipeline's own preprocessing (PCA by faer on the rayon
    // workers), as a scan would.
    let view = prepare_view("synthetic", "generated", &data, dim, &ViewParams::default())?;
    let pca_secs = t1.elapsed().as_secs_f64();
    println!(
        "generated {n} × {dim} in {:.2} s (PCA {pca_secs:.2} s) on {} threads",
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let classes = (n_classes > 0).then(|| {
        let mut r = rng.fork(u64::MAX - 1);
        let label: Vec<u32> = (0..n).map(|_| r.below(n_classes as u64) as u32).collect();
        let pred = label
            .iter()
            .zip(&errors)
            .map(|(&l, &e)| {
                if e > 0.0 {
                    (l + 1) % n_classes as u32
                } else {
                    l
                }
            })
            .collect();
        Classes {
            names: (0..n_classes).map(|c| format!("c{c}")).collect(),
            label,
            pred,
        }
    });
    let input = EmbeddingInput {
        view: &view,
        errors: &errors,
        binary: true,
        weights: None,
        classes: classes.as_ref(),
        seed: 0,
    };
    let slicers: [&dyn EmbeddingSlicer; 2] =
        [&SpotlightSlicer::default(), &DirectionSlicer::default()];
    for slicer in slicers {
        if only.as_deref().is_some_and(|o| o != slicer.name()) {
            continue;
        }
        let t = Instant::now();
        let found = slicer.fit(&input)?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{:<10} {secs:>7.2} s  {} candidates",
            slicer.name(),
            found.len()
        );
        for c in found.iter().take(5) {
            println!(
                "    score {:>10.4}  {:>7} members  jaccard blob {:.2} halfspace {:.2}  {}",
                c.score,
                c.members.len(),
                jaccard(&c.members, &blob_rows),
                jaccard(&c.members, &half_rows),
                c.detail
            );
        }
    }
    Ok(())
}

/// |a ∩ b| / |a ∪ b| of two ascending row lists.
fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}
