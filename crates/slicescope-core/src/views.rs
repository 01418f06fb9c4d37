//! Embedding views: per-view preprocessing (centring, optional L2
//! normalisation, PCA) into the reduced space the embedding slicers use.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Preprocessing of every view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewParams {
    /// Most dimensions kept by PCA (a view with fewer keeps all of them,
    /// rotated onto its principal axes).
    pub max_dim: usize,
    /// L2-normalise every row before centring (cosine geometry, for CLIP or
    /// sentence embeddings).
    pub normalize: bool,
}

impl Default for ViewParams {
    fn default() -> Self {
        ViewParams {
            max_dim: 128,
            normalize: false,
        }
    }
}

/// A view after preprocessing: `data` holds z = Vᵀ(x̃ − mean) per row,
/// where x̃ is the row (L2-normalised when `normalized`), `mean` the mean
/// of x̃ and V the `dim_in × dim` matrix of principal axes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReducedView {
    /// The view's name.
    pub name: String,
    /// Where it came from (column or file).
    pub source: String,
    /// Dimension of the original vectors.
    pub dim_in: usize,
    /// Dimension of the reduced vectors.
    pub dim: usize,
    /// Rows were L2-normalised before centring.
    pub normalized: bool,
    /// Mean of the (normalised) rows, length `dim_in`.
    pub mean: Vec<f32>,
    /// Principal axes, row-major `dim_in × dim` (column j is axis j).
    pub axes: Vec<f32>,
    /// Variance explained by each kept axis, descending, length `dim`.
    pub explained_variance: Vec<f32>,
    /// Share of the total variance the kept axes explain.
    pub explained_ratio: f32,
    /// Reduced rows, row-major `n × dim`.
    pub data: Vec<f32>,
}

impl ReducedView {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Row `i` of the reduced data.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Rows per block of the blocked passes. Fixed (not derived from the
/// number of threads) so that results do not depend on the machine's
/// parallelism: blocks are processed in parallel but their partial sums
/// are always added in block order.
const BLOCK_ROWS: usize = 4096;

/// Blocks whose partial Gram matrices are computed in parallel before
/// being added (in order) to the accumulator; bounds the memory held by
/// partial results.
const BLOCKS_PER_BATCH: usize = 8;

/// Inputs with `n · dim_in²` up to this are reduced in f64 throughout
/// (fast anyway); larger ones form the Gram matrix block-wise in f32 with
/// f64 accumulation across blocks, twice as fast.
const F64_WORK_LIMIT: f64 = 4.0e9;

/// Preprocess one embedding view: optional L2 normalisation of every row
/// (a zero row stays zero), centring, and PCA onto at most
/// `k = min(params.max_dim, dim_in, n)` principal axes: those whose
/// variance is more than 1e-6 of the largest (at least one).
///
/// `values` is row-major `n × dim_in`. The covariance `X̃ᵀX̃ / (n − 1)` of
/// the centred rows is formed block-wise (in f64 for small inputs, in f32
/// blocks summed in f64 for large ones), eigen-decomposed, and the top-k
/// eigenvectors (eigenvalue descending, each signed so that its
/// largest-magnitude entry is positive) become the axes. The result is
/// deterministic: it does not depend on the number of threads.
///
/// Errors: `max_dim` of 0 ([`Error::InvalidParameter`]), `dim_in` of 0 or
/// non-finite values ([`Error::InvalidInput`], naming the view and up to
/// five rows), a length that is not a multiple of `dim_in`
/// ([`Error::ShapeMismatch`]), fewer than two rows ([`Error::NoData`]).
pub fn prepare_view(
    name: &str,
    source: &str,
    values: &[f32],
    dim_in: usize,
    params: &ViewParams,
) -> Result<ReducedView> {
    if params.max_dim == 0 {
        return Err(Error::param(
            "max_dim",
            "must be at least 1 (the number of principal axes kept per view)",
        ));
    }
    if dim_in == 0 {
        return Err(Error::InvalidInput(format!(
            "view '{name}' ({source}) has vectors of length 0"
        )));
    }
    if values.len() % dim_in != 0 {
        return Err(Error::ShapeMismatch(format!(
            "view '{name}' ({source}) holds {} values, not a multiple of its dimension {dim_in}",
            values.len()
        )));
    }
    let n = values.len() / dim_in;
    if n < 2 {
        return Err(Error::NoData(format!(
            "view '{name}' ({source}) has {}; PCA needs at least 2",
            crate::outcome::n_rows(n)
        )));
    }
    let d = dim_in;
    let k = params.max_dim.min(d).min(n);
    let normalize = params.normalize;
    let use_f64 = n as f64 * (d as f64) * (d as f64) <= F64_WORK_LIMIT;
    // Pass 1: Gram matrix of the shifted rows, their column sums, and the
    // rows holding NaN or infinite values.
    let shift = shift_vector(values, d, normalize);
    let gram = if use_f64 {
        gram_pass::<f64>(values, d, normalize, &shift)
    } else {
        gram_pass::<f32>(values, d, normalize, &shift)
    };
    if !gram.bad.is_empty() {
        return Err(Error::InvalidInput(format!(
            "view '{name}' ({source}) has NaN or infinite values in {} ({}); fix or drop those rows",
            crate::outcome::n_rows(gram.bad.len()),
            crate::outcome::rows_list(&gram.bad)
        )));
    }
    let (cov, mean, trace) = covariance(gram, &shift, n)?;
    let (axes, lambda) = top_axes(&cov, k, name, source)?;
    let k = lambda.len();
    drop(cov);
    let kept: f64 = lambda.iter().sum();
    let explained_ratio = if trace > 0.0 {
        (kept / trace).clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Pass 2: projection of the centred rows.
    let data = if use_f64 {
        project::<f64>(values, d, normalize, &mean, &axes, k)
    } else {
        project::<f32>(values, d, normalize, &mean, &axes, k)
    };
    let mut axes_rm = vec![0f32; d * k];
    for i in 0..d {
        for j in 0..k {
            axes_rm[i * k + j] = axes[(i, j)] as f32;
        }
    }
    Ok(ReducedView {
        name: name.to_string(),
        source: source.to_string(),
        dim_in: d,
        dim: k,
        normalized: params.normalize,
        mean: mean.iter().map(|&m| m as f32).collect(),
        axes: axes_rm,
        explained_variance: lambda.iter().map(|&l| l as f32).collect(),
        explained_ratio: explained_ratio as f32,
        data,
    })
}

/// Element type of the blocked passes (f32 or f64).
trait Elem:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + std::ops::Mul<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::AddAssign
{
    fn of_f64(x: f64) -> Self;
    fn of_f32(x: f32) -> Self;
    fn to_f64(self) -> f64;
}

impl Elem for f32 {
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    fn of_f32(x: f32) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Elem for f64 {
    fn of_f64(x: f64) -> Self {
        x
    }
    fn of_f32(x: f32) -> Self {
        f64::from(x)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// 1/‖row‖ when normalising (1 for a zero or non-finite row), else 1.
fn row_scale(row: &[f32], normalize: bool) -> f64 {
    if !normalize {
        return 1.0;
    }
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += v * v;
        }
    }
    let s: f64 = acc.iter().map(|&a| f64::from(a)).sum::<f64>()
        + chunks
            .remainder()
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
    if s > 0.0 && s.is_finite() {
        1.0 / s.sqrt()
    } else {
        1.0
    }
}

/// A rough centre subtracted from every row before the Gram matrix is
/// formed (the mean of up to 1024 evenly spaced rows), so that the
/// one-pass covariance Σ(x − s)(x − s)ᵀ − n·δδᵀ does not cancel.
fn shift_vector(values: &[f32], d: usize, normalize: bool) -> Vec<f64> {
    let n = values.len() / d;
    let m = n.min(1024);
    let mut shift = vec![0f64; d];
    for t in 0..m {
        let row = &values[(t * n / m) * d..(t * n / m + 1) * d];
        let s = row_scale(row, normalize);
        for (a, &v) in shift.iter_mut().zip(row) {
            *a += s * f64::from(v);
        }
    }
    for a in &mut shift {
        // A non-finite sample row is reported by the Gram pass.
        *a = if a.is_finite() { *a / m as f64 } else { 0.0 };
    }
    shift
}

/// Fill `buf` (row-major `rows × d`) with the scaled rows of `block` less
/// `centre`.
fn centred_block<T: Elem>(block: &[f32], d: usize, normalize: bool, centre: &[T], buf: &mut [T]) {
    for (row, out) in block.chunks_exact(d).zip(buf.chunks_exact_mut(d)) {
        if normalize {
            let s = T::of_f64(row_scale(row, true));
            for ((o, &v), &m) in out.iter_mut().zip(row).zip(centre) {
                *o = T::of_f32(v) * s - m;
            }
        } else {
            for ((o, &v), &m) in out.iter_mut().zip(row).zip(centre) {
                *o = T::of_f32(v) - m;
            }
        }
    }
}

/// What the Gram pass returns.
struct GramPass {
    /// Σ (x̃ − s)(x̃ − s)ᵀ, lower triangle, `d × d`.
    gram: Mat<f64>,
    /// Σ (x̃ − s).
    colsum: Vec<f64>,
    /// Rows with NaN or infinite values.
    bad: Vec<usize>,
}

/// Pass 1 over the rows: each block's shifted rows in `T`, their Gram
/// matrix (lower triangle, a sequential faer product) and column sums;
/// blocks run in parallel and are added in block order.
fn gram_pass<T: Elem>(values: &[f32], d: usize, normalize: bool, shift: &[f64]) -> GramPass {
    let shift_t: Vec<T> = shift.iter().map(|&m| T::of_f64(m)).collect();
    let blocks: Vec<(usize, &[f32])> = values.chunks(BLOCK_ROWS * d).enumerate().collect();
    let mut out = GramPass {
        gram: Mat::<f64>::zeros(d, d),
        colsum: vec![0f64; d],
        bad: Vec::new(),
    };
    for batch in blocks.chunks(BLOCKS_PER_BATCH) {
        let parts: Vec<(Mat<T>, Vec<f64>, Vec<usize>)> = batch
            .par_iter()
            .map_init(
                || vec![T::of_f64(0.0); BLOCK_ROWS * d],
                |buf, &(b, block)| {
                    let rows = block.len() / d;
                    let buf = &mut buf[..rows * d];
                    centred_block(block, d, normalize, &shift_t, buf);
                    let mut acc = vec![T::of_f64(0.0); d];
                    for row in buf.chunks_exact(d) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                    let colsum: Vec<f64> = acc.iter().map(|v| v.to_f64()).collect();
                    let bad: Vec<usize> = if colsum.iter().all(|v| v.is_finite()) {
                        Vec::new()
                    } else {
                        block
                            .chunks_exact(d)
                            .enumerate()
                            .filter_map(|(r, row)| {
                                row.iter()
                                    .any(|v| !v.is_finite())
                                    .then_some(b * BLOCK_ROWS + r)
                            })
                            .collect()
                    };
                    let x = MatRef::from_row_major_slice(buf, rows, d);
                    let mut g = Mat::<T>::zeros(d, d);
                    tri_matmul(
                        g.as_mut(),
                        BlockStructure::TriangularLower,
                        Accum::Replace,
                        x.transpose(),
                        BlockStructure::Rectangular,
                        x,
                        BlockStructure::Rectangular,
                        T::of_f64(1.0),
                        Par::Seq,
                    );
                    (g, colsum, bad)
                },
            )
            .collect();
        for (g, colsum, bad) in parts {
            for j in 0..d {
                for i in j..d {
                    out.gram[(i, j)] += g[(i, j)].to_f64();
                }
            }
            for (a, v) in out.colsum.iter_mut().zip(colsum) {
                *a += v;
            }
            out.bad.extend(bad);
        }
    }
    out
}

/// Covariance `(G − n·δδᵀ)/(n − 1)` with δ the mean shifted row (f64,
/// both triangles filled), the mean `s + δ`, and the trace.
fn covariance(pass: GramPass, shift: &[f64], n: usize) -> Result<(Mat<f64>, Vec<f64>, f64)> {
    let d = shift.len();
    let delta: Vec<f64> = pass.colsum.iter().map(|c| c / n as f64).collect();
    let mean: Vec<f64> = shift.iter().zip(&delta).map(|(s, dl)| s + dl).collect();
    let mut cov = pass.gram;
    let denom = (n - 1) as f64;
    let mut trace = 0.0;
    for j in 0..d {
        for i in j..d {
            let v = (cov[(i, j)] - n as f64 * delta[i] * delta[j]) / denom;
            cov[(i, j)] = v;
            cov[(j, i)] = v;
        }
        trace += cov[(j, j)];
    }
    if !trace.is_finite() {
        return Err(Error::InvalidInput(
            "embedding values are too large: their covariance overflows; rescale the vectors"
                .into(),
        ));
    }
    Ok((cov, mean, trace))
}

/// Axes whose variance is at most this share of the largest one carry no
/// information at f32 precision (dead ReLU units, constant columns, fewer
/// rows than dimensions); they are dropped so that no slicer fits weights
/// to numerical noise (a logistic weight of thousands on coordinates of
/// 1e-17, say).
const NEGLIGIBLE_VARIANCE: f64 = 1e-6;

/// Top eigenpairs of the symmetric `cov`, at most `k` of them and only
/// those whose eigenvalue exceeds [`NEGLIGIBLE_VARIANCE`] times the largest
/// (at least one axis is always kept): axes as a `d × k'` matrix
/// (eigenvalue descending, each axis signed so that its largest-magnitude
/// entry is positive) and eigenvalues clamped at 0.
fn top_axes(cov: &Mat<f64>, k: usize, name: &str, source: &str) -> Result<(Mat<f64>, Vec<f64>)> {
    let d = cov.nrows();
    let par = Par::Seq;
    let mut u = Mat::<f64>::zeros(d, d);
    let mut s = Diag::<f64>::zeros(d);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        d,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    self_adjoint_evd(
        cov.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| {
        Error::InvalidInput(format!(
            "view '{name}' ({source}): the eigen-decomposition of its covariance did not converge ({e:?})"
        ))
    })?;
    let s = s.column_vector();
    // faer returns eigenvalues in nondecreasing order: take the last k,
    // largest first, down to the first negligible one.
    let top = s[d - 1].max(0.0);
    let k = (0..k)
        .take_while(|&j| j == 0 || s[d - 1 - j] > NEGLIGIBLE_VARIANCE * top)
        .count();
    let mut axes = Mat::<f64>::zeros(d, k);
    let mut lambda = Vec::with_capacity(k);
    for j in 0..k {
        let src = d - 1 - j;
        lambda.push(s[src].max(0.0));
        let col = u.col(src);
        let mut best = 0usize;
        let mut best_abs = -1.0f64;
        for i in 0..d {
            let a = col[i].abs();
            if a > best_abs {
                best_abs = a;
                best = i;
            }
        }
        let sign = if col[best] < 0.0 { -1.0 } else { 1.0 };
        for i in 0..d {
            axes[(i, j)] = sign * col[i];
        }
    }
    Ok((axes, lambda))
}

/// z = (x̃ − mean)·V for every row, row-major `n × k` f32; blocks of rows in
/// parallel, each a sequential faer product in `T`.
fn project<T: Elem>(
    values: &[f32],
    d: usize,
    normalize: bool,
    mean: &[f64],
    axes: &Mat<f64>,
    k: usize,
) -> Vec<f32> {
    let n = values.len() / d;
    let mean_t: Vec<T> = mean.iter().map(|&m| T::of_f64(m)).collect();
    let mut v = Mat::<T>::zeros(d, k);
    for j in 0..k {
        for i in 0..d {
            v[(i, j)] = T::of_f64(axes[(i, j)]);
        }
    }
    let mut out = vec![0f32; n * k];
    out.par_chunks_mut(BLOCK_ROWS * k)
        .zip(values.par_chunks(BLOCK_ROWS * d))
        .for_each_init(
            || {
                (
                    vec![T::of_f64(0.0); BLOCK_ROWS * d],
                    vec![T::of_f64(0.0); BLOCK_ROWS * k],
                )
            },
            |(buf, z), (dst, block)| {
                let rows = block.len() / d;
                let (buf, z) = (&mut buf[..rows * d], &mut z[..rows * k]);
                centred_block(block, d, normalize, &mean_t, buf);
                let x = MatRef::from_row_major_slice(buf, rows, d);
                matmul(
                    MatMut::from_row_major_slice_mut(z, rows, k),
                    Accum::Replace,
                    x,
                    v.as_ref(),
                    T::of_f64(1.0),
                    Par::Seq,
                );
                for (o, &zv) in dst.iter_mut().zip(z.iter()) {
                    *o = zv.to_f64() as f32;
                }
            },
        );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Random orthogonal `d × d` matrix (Gram–Schmidt of Gaussian columns),
    /// column j at `q[j]`.
    fn random_rotation(d: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < d {
            let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for u in &q {
                let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                for (x, y) in v.iter_mut().zip(u) {
                    *x -= dot * y;
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            q.push(v);
        }
        q
    }

    /// n rows of anisotropic Gaussian data: x = offset + Σ_j sd_j g_j q_j.
    fn anisotropic(n: usize, sds: &[f64], q: &[Vec<f64>], offset: f64, rng: &mut Rng) -> Vec<f32> {
        let d = sds.len();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let mut x = vec![offset; d];
            for (j, sd) in sds.iter().enumerate() {
                let g = rng.normal() * sd;
                for (xi, qi) in x.iter_mut().zip(&q[j]) {
                    *xi += g * qi;
                }
            }
            out.extend(x.iter().map(|&v| v as f32));
        }
        out
    }

    fn params(max_dim: usize, normalize: bool) -> ViewParams {
        ViewParams { max_dim, normalize }
    }

    /// Covariance of row-major f32 data computed directly in f64.
    fn naive_cov(values: &[f32], d: usize) -> (Vec<f64>, Mat<f64>) {
        let n = values.len() / d;
        let mut mean = vec![0f64; d];
        for row in values.chunks(d) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v) / n as f64;
            }
        }
        let mut c = Mat::<f64>::zeros(d, d);
        for row in values.chunks(d) {
            for i in 0..d {
                for j in 0..d {
                    c[(i, j)] += (f64::from(row[i]) - mean[i]) * (f64::from(row[j]) - mean[j])
                        / (n - 1) as f64;
                }
            }
        }
        (mean, c)
    }

    #[test]
    fn recovers_known_axes() {
        let mut rng = Rng::new(1);
        let d = 6;
        let q = random_rotation(d, &mut rng);
        let sds = [5.0, 3.0, 2.0, 1.0, 0.5, 0.1];
        let x = anisotropic(3000, &sds, &q, 3.0, &mut rng);
        let v = prepare_view("v", "test", &x, d, &params(4, false)).unwrap();
        assert_eq!((v.dim, v.dim_in, v.n_rows()), (4, 6, 3000));
        // The planted axes, up to sign.
        for j in 0..4 {
            let dot: f64 = (0..d).map(|i| f64::from(v.axes[i * 4 + j]) * q[j][i]).sum();
            assert!(dot.abs() > 0.99, "axis {j}: |cos| = {}", dot.abs());
            let ratio = f64::from(v.explained_variance[j]) / (sds[j] * sds[j]);
            assert!(
                (ratio - 1.0).abs() < 0.1,
                "axis {j}: variance ratio {ratio}"
            );
        }
        // A direct eigen-decomposition of the naive covariance agrees.
        let (mean, c) = naive_cov(&x, d);
        for (a, b) in v.mean.iter().zip(&mean) {
            assert!((f64::from(*a) - b).abs() < 1e-5);
        }
        let evd = c.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let s = evd.S().column_vector();
        let total: f64 = (0..d).map(|i| s[i]).sum();
        for j in 0..4 {
            let lam = s[d - 1 - j];
            assert!(
                (f64::from(v.explained_variance[j]) - lam).abs() < 1e-4 * lam,
                "{j}"
            );
            let u = evd.U().col(d - 1 - j);
            let dot: f64 = (0..d).map(|i| f64::from(v.axes[i * 4 + j]) * u[i]).sum();
            assert!(dot.abs() > 1.0 - 1e-6, "axis {j}: {dot}");
            // Sign convention: the largest-magnitude entry is positive.
            let col: Vec<f32> = (0..d).map(|i| v.axes[i * 4 + j]).collect();
            let big = col
                .iter()
                .fold(0f32, |m, &a| if a.abs() > m.abs() { a } else { m });
            assert!(big > 0.0);
        }
        let kept: f64 = (0..4).map(|j| s[d - 1 - j]).sum();
        assert!((f64::from(v.explained_ratio) - kept / total).abs() < 1e-5);
    }

    #[test]
    fn reduced_data_is_centred_and_decorrelated() {
        let mut rng = Rng::new(2);
        let d = 8;
        let q = random_rotation(d, &mut rng);
        let sds = [4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.25];
        let x = anisotropic(2500, &sds, &q, -7.0, &mut rng);
        let v = prepare_view("v", "test", &x, d, &params(5, false)).unwrap();
        let n = v.n_rows();
        let k = v.dim;
        let mut mean = vec![0f64; k];
        for i in 0..n {
            for (m, &z) in mean.iter_mut().zip(v.row(i)) {
                *m += f64::from(z) / n as f64;
            }
        }
        assert!(mean.iter().all(|m| m.abs() < 1e-4), "{mean:?}");
        for a in 0..k {
            for b in 0..k {
                let c: f64 = (0..n)
                    .map(|i| f64::from(v.row(i)[a]) * f64::from(v.row(i)[b]))
                    .sum::<f64>()
                    / (n - 1) as f64;
                if a == b {
                    let ev = f64::from(v.explained_variance[a]);
                    assert!((c - ev).abs() < 1e-4 * ev, "{a}: {c} vs {ev}");
                } else {
                    assert!(c.abs() < 1e-4, "{a},{b}: {c}");
                }
            }
        }
        assert!(v.explained_variance.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn normalisation_makes_rows_unit_norm_before_centring() {
        let mut rng = Rng::new(3);
        let d = 5;
        let mut x: Vec<f32> = (0..200 * d)
            .map(|_| (rng.normal() * 3.0 + 1.0) as f32)
            .collect();
        // A zero row stays zero.
        x[7 * d..8 * d].iter_mut().for_each(|v| *v = 0.0);
        let v = prepare_view("clip", "test", &x, d, &params(16, true)).unwrap();
        assert!(v.normalized);
        assert_eq!(v.dim, d);
        // Reconstruct x̃ = mean + V z (full rank: exact).
        for i in 0..v.n_rows() {
            let z = v.row(i);
            let rec: Vec<f64> = (0..d)
                .map(|a| {
                    f64::from(v.mean[a])
                        + (0..d)
                            .map(|j| f64::from(v.axes[a * d + j]) * f64::from(z[j]))
                            .sum::<f64>()
                })
                .collect();
            let norm = rec.iter().map(|r| r * r).sum::<f64>().sqrt();
            if i == 7 {
                assert!(norm < 1e-5, "zero row: {norm}");
            } else {
                assert!((norm - 1.0).abs() < 1e-5, "row {i}: {norm}");
                let orig = x[i * d..(i + 1) * d]
                    .iter()
                    .map(|&a| f64::from(a).powi(2))
                    .sum::<f64>()
                    .sqrt();
                for a in 0..d {
                    assert!((rec[a] - f64::from(x[i * d + a]) / orig).abs() < 1e-5);
                }
            }
        }
        // The mean is the mean of the unit rows (and the zero row).
        let mut mean = vec![0f64; d];
        for row in x.chunks(d) {
            let nrm = row
                .iter()
                .map(|&a| f64::from(a).powi(2))
                .sum::<f64>()
                .sqrt();
            for (m, &a) in mean.iter_mut().zip(row) {
                *m += if nrm > 0.0 { f64::from(a) / nrm } else { 0.0 } / 200.0;
            }
        }
        for (a, b) in v.mean.iter().zip(&mean) {
            assert!((f64::from(*a) - b).abs() < 1e-6);
        }
    }

    #[test]
    fn dimension_is_min_of_max_dim_dim_in_and_rows() {
        let mut rng = Rng::new(4);
        let x: Vec<f32> = (0..100 * 6).map(|_| rng.normal() as f32).collect();
        assert_eq!(
            prepare_view("v", "t", &x, 6, &params(3, false))
                .unwrap()
                .dim,
            3
        );
        assert_eq!(
            prepare_view("v", "t", &x, 6, &params(10, false))
                .unwrap()
                .dim,
            6
        );
        // Four rows, centred: rank 3, so 3 axes of the 4 allowed.
        let v = prepare_view("v", "t", &x[..4 * 6], 6, &params(10, false)).unwrap();
        assert_eq!(
            (v.dim, v.n_rows(), v.axes.len(), v.explained_variance.len()),
            (3, 4, 18, 3)
        );
        // Three rows of 6-d data: rank 2, the third axis (variance 0) is
        // dropped.
        let v = prepare_view("v", "t", &x[..3 * 6], 6, &params(10, false)).unwrap();
        assert_eq!((v.dim, v.axes.len(), v.data.len()), (2, 12, 6));
        assert!((v.explained_ratio - 1.0).abs() < 1e-5);
        // Constant data: no variance at all; one axis stays.
        let c = vec![1.5f32; 10 * 3];
        let v = prepare_view("v", "t", &c, 3, &params(2, false)).unwrap();
        assert_eq!(v.dim, 1);
        assert!(v.data.iter().all(|&z| z == 0.0));
        assert_eq!(v.explained_ratio, 1.0);
    }

    #[test]
    fn dead_units_give_no_axes() {
        // Activations of 8 units, 3 of them dead (always 0): only the 5
        // live directions are kept, and every kept axis has real variance.
        let mut rng = Rng::new(41);
        let n = 400;
        let mut x = vec![0f32; n * 8];
        for r in 0..n {
            for c in 0..5 {
                x[r * 8 + c] = (rng.normal() as f32).max(0.0) + 0.1 * c as f32;
            }
        }
        let v = prepare_view("act", "t", &x, 8, &params(8, false)).unwrap();
        assert_eq!(v.dim, 5);
        let top = v.explained_variance[0];
        assert!(v.explained_variance.iter().all(|&l| l > 1e-3 * top));
        // The dead units carry no weight in any kept axis.
        for j in 0..v.dim {
            for c in 5..8 {
                assert!(v.axes[c * v.dim + j].abs() < 1e-6);
            }
        }
    }

    #[test]
    fn deterministic_and_independent_of_threads() {
        let mut rng = Rng::new(5);
        let d = 12;
        let x: Vec<f32> = (0..5000 * d)
            .map(|_| (rng.normal() + rng.uniform()) as f32)
            .collect();
        let a = prepare_view("v", "t", &x, d, &params(7, true)).unwrap();
        let b = prepare_view("v", "t", &x, d, &params(7, true)).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| prepare_view("v", "t", &x, d, &params(7, true)).unwrap());
        for other in [&b, &c] {
            assert_eq!(
                a.data.iter().map(|z| z.to_bits()).collect::<Vec<_>>(),
                other.data.iter().map(|z| z.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(a, *other);
        }
    }

    #[test]
    fn f32_blocks_agree_with_f64() {
        let mut rng = Rng::new(6);
        let d = 10;
        let q = random_rotation(d, &mut rng);
        let sds: Vec<f64> = (0..d).map(|j| 10.0 / (j + 1) as f64).collect();
        let x = anisotropic(BLOCK_ROWS * 2 + 17, &sds, &q, 50.0, &mut rng);
        let n = x.len() / d;
        let shift = shift_vector(&x, d, false);
        let (c64, m64, t64) =
            covariance(gram_pass::<f64>(&x, d, false, &shift), &shift, n).unwrap();
        let (c32, m32, t32) =
            covariance(gram_pass::<f32>(&x, d, false, &shift), &shift, n).unwrap();
        let (naive_mean, naive) = naive_cov(&x, d);
        assert!((t64 - t32).abs() < 1e-5 * t64);
        for i in 0..d {
            assert!((m64[i] - naive_mean[i]).abs() < 1e-9 * 50.0);
            assert!((m32[i] - naive_mean[i]).abs() < 1e-5);
            for j in 0..d {
                assert!((c64[(i, j)] - naive[(i, j)]).abs() < 1e-9 * t64, "{i},{j}");
                assert!((c64[(i, j)] - c32[(i, j)]).abs() < 1e-5 * t64, "{i},{j}");
                assert_eq!(c32[(i, j)], c32[(j, i)]);
            }
        }
        let (axes, _) = top_axes(&c64, 3, "v", "t").unwrap();
        let p64 = project::<f64>(&x, d, false, &m64, &axes, 3);
        let p32 = project::<f32>(&x, d, false, &m64, &axes, 3);
        for (a, b) in p64.iter().zip(&p32) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn invalid_inputs_are_reported() {
        let mut x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let err = prepare_view("v", "t", &x, 4, &params(0, false)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { ref name, .. } if name == "max_dim"),
            "{err}"
        );
        let err = prepare_view("v", "t", &x[..39], 4, &params(2, false)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err}");
        let err = prepare_view("v", "t", &x, 0, &params(2, false)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let err = prepare_view("v", "t", &x[..4], 4, &params(2, false)).unwrap_err();
        assert!(matches!(err, Error::NoData(_)), "{err}");
        assert!(err.to_string().contains("1 row"), "{err}");
        let err = prepare_view("v", "t", &[], 4, &params(2, false)).unwrap_err();
        assert!(matches!(err, Error::NoData(_)), "{err}");
        x[4 * 3 + 1] = f32::NAN;
        x[4 * 8] = f32::INFINITY;
        let err = prepare_view("clip", "emb.npy", &x, 4, &params(2, false)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
        assert!(
            msg.contains("'clip'") && msg.contains("emb.npy") && msg.contains("rows 3, 8"),
            "{msg}"
        );
    }
}
