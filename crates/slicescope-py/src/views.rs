//! Embedding views given as numpy arrays.
//!
//! The scan's [`View`] owns its row-major `f32` values, so an array is
//! copied once (converted from `float64`, or gathered from Fortran order,
//! on the way); the copy runs without the GIL and in parallel. The result
//! keeps a reference to the array, not the copy.

use numpy::ndarray::{ArrayView2, Axis, Slice};
use numpy::{PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rayon::prelude::*;
use slicescope_core::scan::View;

use crate::errors::ShapeError;

/// Rows per block when gathering a non-C-ordered array.
const BLOCK_ROWS: usize = 256;

/// The description of an array used as a view's `source`.
pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) => {
            let shape: Vec<String> = a.shape().iter().map(|d| d.to_string()).collect();
            let dtype = a
                .dtype()
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into());
            format!("numpy array {} {dtype}", shape.join("×"))
        }
        Err(_) => "numpy array".into(),
    }
}

/// Copy a 2-D `float32` or `float64` array (any memory layout) into a
/// view named `name`.
pub fn copy_view(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<View> {
    let source = describe(obj);
    let (values, dim) = copy_rows(py, name, obj)?;
    Ok(View {
        name: name.to_string(),
        source,
        values,
        dim,
    })
}

/// The row-major `f32` values of a 2-D float array and its row length.
pub fn copy_rows(
    py: Python<'_>,
    name: &str,
    obj: &Bound<'_, PyAny>,
) -> PyResult<(Vec<f32>, usize)> {
    let Ok(untyped) = obj.cast::<PyUntypedArray>() else {
        return Err(PyTypeError::new_err(format!(
            "view '{name}' must be a column name or a 2-D numpy array of float32 or float64, got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        )));
    };
    if untyped.ndim() != 2 {
        return Err(ShapeError::new_err(format!(
            "shape mismatch: view '{name}' must be a 2-D array (rows × dimensions), got shape {:?}",
            untyped.shape()
        )));
    }
    let borrow_err = |e: numpy::BorrowError| {
        PyTypeError::new_err(format!("view '{name}': the array cannot be read: {e}"))
    };
    if let Ok(a) = obj.cast::<PyArray2<f32>>() {
        let r = a.try_readonly().map_err(borrow_err)?;
        let v = r.as_array();
        let dim = v.ncols();
        return Ok((py.detach(|| row_major(v, |x| x)), dim));
    }
    if let Ok(a) = obj.cast::<PyArray2<f64>>() {
        let r = a.try_readonly().map_err(borrow_err)?;
        let v = r.as_array();
        let dim = v.ncols();
        return Ok((py.detach(|| row_major(v, |x| x as f32)), dim));
    }
    Err(PyTypeError::new_err(format!(
        "view '{name}' must hold float32 or float64 values, got {}; convert it with .astype(numpy.float32)",
        untyped
            .dtype()
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default()
    )))
}

/// Row-major `f32` copy of `v`, in parallel. A C-ordered array is copied
/// straight; any other layout is gathered in blocks of rows, column by
/// column, which reads Fortran-ordered memory contiguously.
fn row_major<T: Copy + Send + Sync>(
    v: ArrayView2<'_, T>,
    cast: impl Fn(T) -> f32 + Sync,
) -> Vec<f32> {
    let (n, d) = v.dim();
    if n == 0 || d == 0 {
        return Vec::new();
    }
    let mut out = vec![0f32; n * d];
    if let Some(src) = v.as_slice() {
        out.par_chunks_mut(BLOCK_ROWS * d)
            .zip(src.par_chunks(BLOCK_ROWS * d))
            .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &x)| *o = cast(x)));
        return out;
    }
    out.par_chunks_mut(BLOCK_ROWS * d)
        .enumerate()
        .for_each(|(b, block)| {
            let r0 = b * BLOCK_ROWS;
            let rows = block.len() / d;
            let sub = v.slice_axis(Axis(0), Slice::from(r0..r0 + rows));
            for (j, col) in sub.columns().into_iter().enumerate() {
                for (i, &x) in col.iter().enumerate() {
                    block[i * d + j] = cast(x);
                }
            }
        });
    out
}
