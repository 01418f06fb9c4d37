//! Readers for slicescope: turn an evaluation table (Parquet, Arrow IPC
//! file or stream, CSV/TSV) into a [`Frame`], and an embedding matrix
//! (`.npy`, `.npz`) into a [`Matrix`].
//!
//! Internal sub-crate of slicescope; the command-line tool is `slicescope`.
//!
//! All readers are columnar and streaming: only the requested columns are
//! decoded, batch by batch, straight into the output vectors, so that a
//! large embedding column costs its final `Vec<f32>` plus at most one batch.
//! Every failure is a [`slicescope_core::Error`]:
//!
//! * [`Error::Io`] when the file is missing or cannot be read,
//! * [`Error::Format`] when its content is corrupt, truncated or not in the
//!   expected format,
//! * [`Error::InvalidInput`] for column types slicescope cannot use and for
//!   ragged embedding lists,
//! * [`Error::ColumnNotFound`] (with "did you mean" suggestions) when a
//!   requested column is absent.
//!
//! The Arrow and Parquet readers can panic on some corrupt inputs; reads
//! run under [`std::panic::catch_unwind`] and such a panic becomes an
//! [`Error::Format`]. So that the panic message is not printed as well, a
//! panic hook is installed on first use: it stays silent for a thread that
//! is inside one of these reads and defers to the previous hook otherwise.
#![deny(missing_docs)]

mod batches;
mod cells;
mod convert;
mod csv;
mod guard;
mod ipc_check;
mod matrix;
mod pq;
mod table;

use std::fmt;
use std::path::Path;

use slicescope_core::{Error, Frame, Result};

pub use crate::batches::{batches_to_frame, read_batches, schema_columns};
pub use crate::cells::{array_cells, read_cells, Cell};
pub use crate::csv::{CsvOptions, CsvType};
pub use crate::matrix::{read_matrix, read_npz_strings, Matrix};

/// A tabular file format that [`read_table`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Arrow IPC file format, also known as Feather v2 (`.arrow`, `.ipc`,
    /// `.feather`).
    ArrowIpcFile,
    /// Arrow IPC streaming format (`.arrows`).
    ArrowIpcStream,
    /// Delimited text (`.csv`, `.tsv`, `.txt`).
    Csv,
}

/// The list of supported formats, for error messages.
const SUPPORTED: &str = "supported formats: Parquet (.parquet, .pq), Arrow IPC file / Feather v2 \
                         (.arrow, .ipc, .feather), Arrow IPC stream (.arrows), CSV/TSV (.csv, .tsv, .txt)";

impl Format {
    /// The format of the file at `path`.
    ///
    /// The first bytes of the file decide when they are a known signature
    /// (`PAR1` for Parquet, `ARROW1` for an Arrow IPC file, the
    /// `0xFFFFFFFF` continuation marker for an Arrow IPC stream), even when
    /// the extension says otherwise; CSV has no signature and is recognised
    /// by its extension (`.csv`, `.tsv`, `.txt`).
    ///
    /// Fails with [`Error::Io`] when the file is missing or is a directory,
    /// and with [`Error::Format`] (listing the supported formats) when the
    /// format is not recognised.
    pub fn detect(path: &Path) -> Result<Format> {
        let head = read_head(path)?;
        if head.starts_with(b"PAR1") {
            return Ok(Format::Parquet);
        }
        if head.starts_with(b"ARROW1") {
            return Ok(Format::ArrowIpcFile);
        }
        if head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
            return Ok(Format::ArrowIpcStream);
        }
        let unsupported = |what: &str| {
            Err(Error::Format {
                path: path.display().to_string(),
                format: "a table".into(),
                message: format!("{what}; {SUPPORTED}"),
            })
        };
        if head.starts_with(b"FEA1") {
            return unsupported(
                "this is a Feather v1 file, which is not supported; re-save it as Feather v2 \
                 (pyarrow.feather.write_feather(..., version=2)) or Parquet",
            );
        }
        if head.starts_with(b"\x93NUMPY") {
            return unsupported(
                "this is a NumPy .npy array, not a table; pass it as an embedding matrix instead",
            );
        }
        if head.starts_with(&[0x1F, 0x8B]) {
            return unsupported("this file is gzip-compressed; decompress it first");
        }
        if head.starts_with(b"PK\x03\x04") {
            return unsupported(
                "this is a zip archive (an .npz matrix or a zipped table), not a table; \
                 unzip a table first, or pass an .npz as an embedding matrix",
            );
        }
        match extension(path).as_deref() {
            Some("parquet" | "pq") => Ok(Format::Parquet),
            Some("arrow" | "ipc" | "feather") => Ok(Format::ArrowIpcFile),
            Some("arrows") => Ok(Format::ArrowIpcStream),
            Some("csv" | "tsv" | "tab" | "txt") => Ok(Format::Csv),
            Some(ext) => unsupported(&format!("unknown file extension '.{ext}'")),
            None => unsupported("the file has no extension and no known signature"),
        }
    }

    /// The user-facing name of the format ("Parquet", "CSV", ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::ArrowIpcFile => "Arrow IPC file",
            Format::ArrowIpcStream => "Arrow IPC stream",
            Format::Csv => "CSV",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`read_table`] and [`table_columns`] read, and how.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The columns to read, in the order they should appear in the
    /// [`Frame`]; `None` reads all of them. A name listed twice is read once.
    pub columns: Option<Vec<String>>,
    /// The file format; `None` detects it with [`Format::detect`].
    pub format: Option<Format>,
    /// How to parse CSV files (ignored for the other formats).
    pub csv: CsvOptions,
}

/// Read a table into a [`Frame`].
///
/// Only the columns in `opts.columns` are decoded (all when `None`), in the
/// order requested; [`Frame::source_columns`] lists every column of the
/// file, read or not, so that later "did you mean" messages can suggest
/// them. A table without rows gives a frame with 0 rows.
///
/// Column types map to [`slicescope_core::ColumnData`] as follows:
///
/// | Arrow type | column data |
/// |---|---|
/// | Float16/32/64 | `Float` (nulls become `NaN`) |
/// | Int8..Int64, UInt8..UInt64 | `Int` (a UInt64 above `i64::MAX` is an error) |
/// | Boolean | `Bool` |
/// | Utf8, LargeUtf8, Utf8View, Dictionary of strings, Null | `Categorical` |
/// | FixedSizeList/List/LargeList of floats or integers | `Vector` (f32) |
///
/// Any other type (dates, timestamps, decimals, structs, ...) of a
/// requested column is an [`Error::InvalidInput`] naming the column.
pub fn read_table(path: &Path, opts: &ReadOptions) -> Result<Frame> {
    let format = match opts.format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    table::read(path, format, opts)
}

/// A phrase vocabulary as read from a file: phrases and their embeddings
/// (row-major, `dim` values per phrase).
#[derive(Debug, Clone, PartialEq)]
pub struct VocabularyFile {
    /// The phrases.
    pub phrases: Vec<String>,
    /// Row-major embeddings, one row per phrase.
    pub embeddings: Vec<f32>,
    /// Embedding dimension.
    pub dim: usize,
}

/// Read a phrase vocabulary (see docs/phrases.md): a table (Parquet, Arrow,
/// CSV is not supported for vectors) with a string column `phrase` and a
/// list column `embedding`, or an `.npz` archive with a 1-D string array
/// `phrases` and a 2-D float array `embeddings`.
pub fn read_vocabulary(path: &Path) -> Result<VocabularyFile> {
    let is_npz = extension(path).as_deref() == Some("npz");
    let (phrases, embeddings, dim) = if is_npz {
        let phrases = read_npz_strings(path, "phrases")?;
        let m = read_matrix(path, Some("embeddings"))?;
        if m.rows != phrases.len() {
            return Err(Error::ShapeMismatch(format!(
                "{}: {} phrases but {} embedding rows",
                path.display(),
                phrases.len(),
                m.rows
            )));
        }
        (phrases, m.values, m.cols)
    } else {
        let opts = ReadOptions {
            columns: Some(vec!["phrase".into(), "embedding".into()]),
            ..ReadOptions::default()
        };
        let mut frame = read_table(path, &opts).map_err(|e| match e {
            Error::ColumnNotFound {
                name,
                suggestions,
                columns,
                ..
            } => Error::ColumnNotFound {
                name,
                role: format!(
                    "vocabulary ({}: needs columns 'phrase' and 'embedding')",
                    path.display()
                ),
                suggestions,
                columns,
            },
            other => other,
        })?;
        let n = frame.n_rows();
        let phrase_col = frame.take_column("phrase");
        let emb_col = frame.take_column("embedding");
        let (Some(p), Some(e)) = (phrase_col, emb_col) else {
            return Err(Error::InvalidInput(format!(
                "{}: a vocabulary needs columns 'phrase' and 'embedding'",
                path.display()
            )));
        };
        let phrases: Vec<String> = (0..n)
            .map(|r| {
                p.data.text(r).ok_or_else(|| {
                    Error::InvalidInput(format!("{}: phrase at row {r} is missing", path.display()))
                })
            })
            .collect::<Result<_>>()?;
        match e.data {
            slicescope_core::ColumnData::Vector {
                values,
                dim,
                null_rows,
            } => {
                if let Some(r) = null_rows.first() {
                    return Err(Error::InvalidInput(format!(
                        "{}: the embedding at row {r} is missing",
                        path.display()
                    )));
                }
                (phrases, values, dim)
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "{}: column 'embedding' is {}; expected a list of floats per phrase",
                    path.display(),
                    other.kind()
                )))
            }
        }
    };
    Ok(VocabularyFile {
        phrases,
        embeddings,
        dim,
    })
}

/// The columns of a table and their kinds, without reading the data
/// (CSV files are scanned to infer the types, over
/// [`CsvOptions::infer_rows`] rows).
///
/// Kinds are `"float"`, `"integer"`, `"boolean"`, `"string"`,
/// `"vector[N]"` (fixed-size lists of numbers), `"vector"` (variable-size
/// lists of numbers, whose length is only known once read) and
/// `"unsupported (TYPE)"` for columns [`read_table`] would refuse. When
/// `opts.columns` is set, only those columns are listed, in that order,
/// and an absent one is an [`Error::ColumnNotFound`].
pub fn table_columns(path: &Path, opts: &ReadOptions) -> Result<Vec<(String, String)>> {
    let format = match opts.format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    table::columns(path, format, opts)
}

/// The lower-cased extension of `path`.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// An [`Error::Io`] for `path`.
pub(crate) fn io_error(path: &Path, err: &std::io::Error) -> Error {
    let message = match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    };
    Error::Io {
        path: path.display().to_string(),
        message,
    }
}

/// Open `path` for reading, refusing directories with a clear message.
pub(crate) fn open_file(path: &Path) -> Result<std::fs::File> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(Error::Io {
            path: path.display().to_string(),
            message: "is a directory, not a file".into(),
        });
    }
    std::fs::File::open(path).map_err(|e| io_error(path, &e))
}

/// The first (up to) 8 bytes of the file.
fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = open_file(path)?;
    let mut head = Vec::with_capacity(8);
    file.take(8)
        .read_to_end(&mut head)
        .map_err(|e| io_error(path, &e))?;
    Ok(head)
}

/// An [`Error::Format`] for `path`.
pub(crate) fn format_error(path: &Path, format: &str, message: impl fmt::Display) -> Error {
    Error::Format {
        path: path.display().to_string(),
        format: format.to_string(),
        message: message.to_string(),
    }
}
