//! The exception hierarchy: one Python class per kind of
//! [`slicescope_core::Error`], all under `SlicescopeError`, with the
//! messages the CLI prints.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use slicescope_core::Error;

create_exception!(
    slicescope,
    SlicescopeError,
    PyException,
    "Base class of every error slicescope raises (except KeyboardInterrupt)."
);
create_exception!(
    slicescope,
    ColumnNotFoundError,
    SlicescopeError,
    "A column that the scan needs (label, attribute, view...) is not in the data; the message suggests near matches."
);
create_exception!(
    slicescope,
    ShapeError,
    SlicescopeError,
    "Lengths or dimensions that must agree do not (e.g. a view with another number of rows than the table)."
);
create_exception!(
    slicescope,
    InvalidInputError,
    SlicescopeError,
    "Values that cannot be used: NaN or infinite values, unusable column types, ragged embeddings."
);
create_exception!(
    slicescope,
    InvalidParameterError,
    SlicescopeError,
    "A parameter or configuration key out of its valid range, or unknown."
);
create_exception!(
    slicescope,
    NoDataError,
    SlicescopeError,
    "The input holds no rows, or none usable."
);
create_exception!(
    slicescope,
    FileError,
    SlicescopeError,
    "A file could not be read or written (missing, a directory, permission denied)."
);
create_exception!(
    slicescope,
    FormatError,
    SlicescopeError,
    "A file or stream exists but its content is not what its format requires."
);

/// The Python exception for a core error. An interrupted run becomes
/// `KeyboardInterrupt`, as if Ctrl-C had reached Python code.
pub fn to_py(err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::ColumnNotFound { .. } => ColumnNotFoundError::new_err(msg),
        Error::ShapeMismatch(_) => ShapeError::new_err(msg),
        Error::InvalidInput(_) => InvalidInputError::new_err(msg),
        Error::InvalidParameter { .. } => InvalidParameterError::new_err(msg),
        Error::NoData(_) => NoDataError::new_err(msg),
        Error::Io { .. } => FileError::new_err(msg),
        Error::Format { .. } => FormatError::new_err(msg),
        Error::Interrupted => PyKeyboardInterrupt::new_err(msg),
        _ => SlicescopeError::new_err(msg),
    }
}

/// `Result<T, Error>` → `PyResult<T>`.
pub trait IntoPy<T> {
    /// Convert the error with [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for slicescope_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Add the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SlicescopeError", py.get_type::<SlicescopeError>())?;
    m.add("ColumnNotFoundError", py.get_type::<ColumnNotFoundError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add(
        "InvalidParameterError",
        py.get_type::<InvalidParameterError>(),
    )?;
    m.add("NoDataError", py.get_type::<NoDataError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    Ok(())
}
