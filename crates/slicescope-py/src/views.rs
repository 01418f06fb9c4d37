//! Embedding views given as numpy arrays.
//!
//! A `float32` C-ordered (aligned) array is **borrowed**: the scan's
//! [`View`] points at the array's own buffer, no copy is made. Any other
//! array (`float64`, Fortran order, strided) is converted once into a
//! row-major `f32` buffer (the scan works in `f32` row-major: that one
//! conversion is the input's, not an extra copy), without the GIL and in
//! parallel.
//!
//! **Why the borrowed buffer cannot change or vanish during the work.**
//! [`Held`] keeps, for as long as the borrowed slice lives:
//!
//! * a reference to the array (it cannot be freed) and rust-numpy's shared
//!   borrow of it (`PyReadonlyArray`: no Rust code can borrow it mutably);
//! * the array marked read-only (`flags.writeable = False`, restored when
//!   [`Held`] is dropped, with the GIL held): while the GIL is released,
//!   another Python thread that assigns into the array, resizes it in place
//!   or hands it to numpy as an output gets numpy's "read-only" error
//!   instead of changing the values under the scan.
//!
//! [`Held`] is created and dropped on the calling thread with the GIL
//! held; only the slice crosses to the worker threads, and the calling
//! thread waits for them before it drops [`Held`]. What this cannot stop
//! is a write through *another* numpy array sharing the memory (a
//! writeable view or base of the given array) from another thread during
//! the call: as for any numpy extension that releases the GIL, the caller
//! must not modify the data while the call runs.

use std::borrow::Cow;

use numpy::ndarray::{ArrayView2, Axis, Slice};
use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
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

/// A numpy array marked read-only while this lives (when it was
/// writeable); the flag is restored on drop.
struct ReadOnlyFlag<'py>(Option<Bound<'py, PyAny>>);

impl<'py> ReadOnlyFlag<'py> {
    fn set(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        let flags = obj.getattr("flags")?;
        if flags.getattr("writeable")?.is_truthy()? {
            flags.setattr("writeable", false)?;
            Ok(ReadOnlyFlag(Some(obj.clone())))
        } else {
            Ok(ReadOnlyFlag(None))
        }
    }
}

impl Drop for ReadOnlyFlag<'_> {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            // It was writeable when set: making it writeable again cannot
            // fail for lack of a writeable base; nothing to report if the
            // object refuses anyway.
            let _ = obj
                .getattr("flags")
                .and_then(|f| f.setattr("writeable", true));
        }
    }
}

enum Values<'py> {
    /// The array's own buffer (float32, C-ordered, aligned).
    Borrowed {
        array: PyReadonlyArray2<'py, f32>,
        _read_only: ReadOnlyFlag<'py>,
    },
    /// A row-major f32 conversion of the array.
    Converted(Vec<f32>),
}

/// The values of a 2-D float array for the time of one call: borrowed
/// when the array is float32 and C-ordered, converted otherwise (see the
/// module's notes on safety).
pub struct Held<'py> {
    values: Values<'py>,
    /// Vector length (columns).
    pub dim: usize,
    /// What the array is (for messages and the view's `source`).
    pub source: String,
}

impl Held<'_> {
    /// The row-major values.
    pub fn values(&self) -> &[f32] {
        match &self.values {
            // Contiguity and alignment were checked when borrowing.
            Values::Borrowed { array, .. } => array.as_slice().unwrap_or(&[]),
            Values::Converted(v) => v,
        }
    }

    /// The values as a scan view named `name` (borrowing them).
    pub fn view(&self, name: &str) -> View<'_> {
        View {
            name: name.to_string(),
            source: self.source.clone(),
            values: Cow::Borrowed(self.values()),
            dim: self.dim,
        }
    }
}

/// Hold the values of `obj`, a 2-D `float32` or `float64` array (any
/// memory layout), for view `name`: borrowed without a copy when it is
/// float32 C-ordered, else converted.
pub fn hold<'py>(py: Python<'py>, name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Held<'py>> {
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
    let source = describe(obj);
    let borrow_err = |e: numpy::BorrowError| {
        PyTypeError::new_err(format!("view '{name}': the array cannot be read: {e}"))
    };
    if let Ok(a) = obj.cast::<PyArray2<f32>>() {
        let r = a.try_readonly().map_err(borrow_err)?;
        let dim = r.as_array().ncols();
        if untyped.is_c_contiguous() && r.as_slice().is_ok() {
            let read_only = ReadOnlyFlag::set(obj)?;
            return Ok(Held {
                values: Values::Borrowed {
                    array: r,
                    _read_only: read_only,
                },
                dim,
                source,
            });
        }
        let v = r.as_array();
        let values = py.detach(|| row_major(v, |x| x));
        return Ok(Held {
            values: Values::Converted(values),
            dim,
            source,
        });
    }
    if let Ok(a) = obj.cast::<PyArray2<f64>>() {
        let r = a.try_readonly().map_err(borrow_err)?;
        let v = r.as_array();
        let dim = v.ncols();
        let values = py.detach(|| row_major(v, |x| x as f32));
        return Ok(Held {
            values: Values::Converted(values),
            dim,
            source,
        });
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
