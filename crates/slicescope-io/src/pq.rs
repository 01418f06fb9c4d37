//! Reading Parquet files.
//!
//! Scalar and string columns go through the Arrow Parquet reader, batch by
//! batch. Embedding columns (lists of float32/float64 without nulls, the
//! common case) are decoded with Parquet's low-level column reader straight
//! into the final `Vec<f32>`: the Arrow list reader builds a validity
//! bitmap and an intermediate list array for every batch, which costs
//! three times as much as the decoding itself. When an embedding column
//! turns out to have null or ragged rows, it is read again through the
//! Arrow reader, which handles (or reports) them.

use std::path::Path;

use arrow::datatypes::{DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::basic::Type as PhysicalType;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{DoubleType, FloatType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::SchemaDescriptor;
use slicescope_core::{Column, ColumnData, Frame, Result};

use crate::guard::guarded;
use crate::table::{collect, column_names, wanted_columns, Opened, Wanted};
use crate::{format_error, open_file, Format, ReadOptions};

const NAME: &str = "Parquet";
/// Target decoded size of one Arrow batch. Small enough that the batch
/// buffers are reused by the allocator instead of being mapped and
/// unmapped (and page-faulted) anew for every batch.
const BATCH_BYTES: usize = 2 << 20;
/// Bounds on the rows of one Arrow batch.
const BATCH_ROWS: (usize, usize) = (256, 64 * 1024);
/// Target number of values decoded per call on the embedding fast path.
const FAST_BATCH_VALUES: usize = 512 * 1024;

/// Read a Parquet file (see [`crate::read_table`]).
pub(crate) fn read(path: &Path, opts: &ReadOptions) -> Result<Frame> {
    guarded(path, NAME, || {
        let builder = open_builder(path)?;
        let schema = builder.schema().clone();
        let all_names = column_names(&schema);
        let wanted = wanted_columns(&schema, opts.columns.as_deref())?;
        let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);

        let metadata = builder.metadata().clone();
        let (fast, general): (Vec<_>, Vec<_>) = wanted
            .iter()
            .map(|w| {
                let leaf = fast_leaf(builder.parquet_schema(), w).filter(|leaf| {
                    // Statistics that report nulls: straight to the Arrow reader.
                    !metadata.row_groups().iter().any(|rg| {
                        rg.columns()
                            .get(leaf.index)
                            .and_then(|c| c.statistics())
                            .and_then(|s| s.null_count_opt())
                            .is_some_and(|n| n > 0)
                    })
                });
                (w, leaf)
            })
            .partition(|(_, leaf)| leaf.is_some());

        let mut done: Vec<Column> = Vec::with_capacity(wanted.len());
        let mut n_rows = rows;
        let general: Vec<Wanted> = general.into_iter().map(|(w, _)| w.clone()).collect();
        if !general.is_empty() {
            let (columns, n) = arrow_pass(path, opts, builder, &general)?;
            done.extend(columns);
            n_rows = n;
        } else {
            drop(builder);
        }

        let mut fallback = Vec::new();
        for (w, leaf) in fast {
            let Some(leaf) = leaf else { continue };
            match read_vector(path, leaf, w, n_rows)? {
                Some(column) => done.push(column),
                None => fallback.push(w.clone()),
            }
        }
        if !fallback.is_empty() {
            let (columns, n) = arrow_pass(path, opts, open_builder(path)?, &fallback)?;
            if n != n_rows {
                return Err(format_error(
                    path,
                    NAME,
                    format!("columns have different row counts ({n} and {n_rows})"),
                ));
            }
            done.extend(columns);
        }

        // In the requested order.
        let mut frame = Frame::with_rows(n_rows);
        for w in &wanted {
            if let Some(i) = done.iter().position(|c| c.name == w.name) {
                frame.push(done.swap_remove(i))?;
            }
        }
        frame.set_source_columns(all_names);
        Ok(frame)
    })
}

/// Open the file with the Arrow reader, letting `project` choose the root
/// columns from the Arrow schema.
pub(crate) fn open_all(
    path: &Path,
    project: impl FnOnce(&Schema) -> Result<Vec<usize>>,
) -> Result<Opened> {
    let builder = open_builder(path)?;
    let projection = project(builder.schema())?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = batches(path, builder, projection)?;
    Ok(Opened {
        rows_hint: Some(rows),
        batches: reader,
    })
}

type Builder = ParquetRecordBatchReaderBuilder<std::fs::File>;

fn open_builder(path: &Path) -> Result<Builder> {
    ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)
        .map_err(|e| format_error(path, NAME, e))
}

/// Start reading the root columns `projection` with the Arrow reader, in
/// batches of about [`BATCH_BYTES`].
fn batches(path: &Path, builder: Builder, projection: Vec<usize>) -> Result<crate::table::Batches> {
    let metadata = builder.metadata().clone();
    let rows = usize::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
    // Decoded bytes per row of the projected columns, estimated from the
    // uncompressed column chunk sizes, sets the batch size.
    let descr = builder.parquet_schema();
    let mut bytes: u64 = 0;
    for rg in metadata.row_groups() {
        for (leaf, chunk) in rg.columns().iter().enumerate() {
            if leaf < descr.num_columns() && projection.contains(&descr.get_column_root_idx(leaf)) {
                bytes = bytes.saturating_add(u64::try_from(chunk.uncompressed_size()).unwrap_or(0));
            }
        }
    }
    let per_row = usize::try_from(bytes / (rows.max(1) as u64))
        .unwrap_or(usize::MAX)
        .max(1);
    let batch_rows = (BATCH_BYTES / per_row).clamp(BATCH_ROWS.0, BATCH_ROWS.1);
    let mask = ProjectionMask::roots(descr, projection);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| format_error(path, NAME, e))?;
    Ok(Box::new(reader))
}

/// Read `wanted` with the Arrow reader.
fn arrow_pass(
    path: &Path,
    opts: &ReadOptions,
    builder: Builder,
    wanted: &[Wanted],
) -> Result<(Vec<Column>, usize)> {
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let projection = wanted.iter().map(|w| w.index).collect();
    let reader = batches(path, builder, projection)?;
    collect(path, Format::Parquet, opts, reader, wanted, rows)
}

/// A leaf column that the fast path can read.
#[derive(Debug, Clone, Copy)]
struct FastLeaf {
    /// Leaf index in the Parquet schema.
    index: usize,
    /// Definition level of a present value.
    max_def: i16,
    /// The vector length fixed by the type, if any.
    fixed: Option<usize>,
}

/// The leaf of an embedding column of float32/float64 lists stored as one
/// singly repeated FLOAT or DOUBLE leaf, if `w` is one.
fn fast_leaf(descr: &SchemaDescriptor, w: &Wanted) -> Option<FastLeaf> {
    let (item, fixed) = match &w.data_type {
        DataType::FixedSizeList(item, n) => (item, Some(usize::try_from(*n).ok()?)),
        DataType::List(item) | DataType::LargeList(item) => (item, None),
        _ => return None,
    };
    if !matches!(item.data_type(), DataType::Float32 | DataType::Float64) {
        return None;
    }
    let mut leaves = (0..descr.num_columns()).filter(|&l| descr.get_column_root_idx(l) == w.index);
    let index = leaves.next()?;
    if leaves.next().is_some() {
        return None;
    }
    let column = descr.column(index);
    let physical_ok = matches!(
        (column.physical_type(), item.data_type()),
        (PhysicalType::FLOAT, DataType::Float32) | (PhysicalType::DOUBLE, DataType::Float64)
    );
    (physical_ok && column.max_rep_level() == 1).then_some(FastLeaf {
        index,
        max_def: column.max_def_level(),
        fixed,
    })
}

/// State of the fast path over one column.
struct VectorReader {
    values: Vec<f32>,
    dim: Option<usize>,
    rows: usize,
    expected_rows: usize,
    def: Vec<i16>,
    rep: Vec<i16>,
}

impl VectorReader {
    /// Check one decoded batch of `records` rows: every level present (no
    /// null or empty list, no null item) and every row `dim` long.
    fn regular(&mut self, records: usize, max_def: i16) -> bool {
        let levels = self.def.len();
        // Branch-free folds, so that these scans vectorise.
        let all_present = self.def.iter().fold(0i16, |acc, &d| acc | (d ^ max_def)) == 0;
        if records == 0 || self.rep.len() != levels || !all_present {
            return false;
        }
        let dim = match self.dim {
            Some(d) => d,
            None => {
                let d = self.rep[1..]
                    .iter()
                    .position(|&r| r == 0)
                    .map_or(levels, |p| p + 1);
                self.dim = Some(d);
                let total = self.expected_rows.saturating_mul(d);
                let _ = self
                    .values
                    .try_reserve_exact(total.saturating_sub(self.values.len()));
                d
            }
        };
        // Each row: a 0 (new row) followed by dim - 1 ones (same row).
        dim > 0
            && levels == records * dim
            && self.rep.chunks_exact(dim).fold(true, |ok, row| {
                ok & (row[0] == 0) & (row[1..].iter().fold(0i16, |acc, &r| acc | (r ^ 1)) == 0)
            })
    }

    fn batch_records(&self) -> usize {
        (FAST_BATCH_VALUES / self.dim.unwrap_or(512).max(1)).max(1)
    }
}

/// Decode the float embedding column at `leaf` straight into a row-major
/// `Vec<f32>`. `None` when the column has null or ragged rows (the caller
/// then reads it with the Arrow reader).
fn read_vector(
    path: &Path,
    leaf: FastLeaf,
    w: &Wanted,
    expected_rows: usize,
) -> Result<Option<Column>> {
    let fail = |e: parquet::errors::ParquetError| format_error(path, NAME, e);
    let reader = SerializedFileReader::new(open_file(path)?).map_err(fail)?;
    let mut state = VectorReader {
        values: Vec::new(),
        dim: leaf.fixed,
        rows: 0,
        expected_rows,
        def: Vec::new(),
        rep: Vec::new(),
    };
    if let Some(dim) = leaf.fixed {
        let _ = state
            .values
            .try_reserve_exact(expected_rows.saturating_mul(dim));
    }
    let mut doubles: Vec<f64> = Vec::new();
    for rg in 0..reader.num_row_groups() {
        let column = reader
            .get_row_group(rg)
            .and_then(|g| g.get_column_reader(leaf.index))
            .map_err(fail)?;
        let regular = match column {
            ColumnReader::FloatColumnReader(mut r) => {
                drain_float(&mut r, &mut state, leaf.max_def).map_err(fail)?
            }
            ColumnReader::DoubleColumnReader(mut r) => {
                drain_double(&mut r, &mut state, leaf.max_def, &mut doubles).map_err(fail)?
            }
            _ => false,
        };
        if !regular {
            return Ok(None);
        }
    }
    if state.rows != expected_rows {
        return Ok(None);
    }
    let dim = state.dim.unwrap_or(0);
    if dim == 0 && state.rows > 0 {
        return Ok(None);
    }
    state.values.shrink_to_fit();
    Ok(Some(Column::new(
        w.name.clone(),
        ColumnData::Vector {
            values: state.values,
            dim,
            null_rows: Vec::new(),
        },
    )))
}

/// Decode a FLOAT column chunk, appending straight to the output. `false`
/// when a batch is not regular.
fn drain_float(
    r: &mut ColumnReaderImpl<FloatType>,
    s: &mut VectorReader,
    max_def: i16,
) -> parquet::errors::Result<bool> {
    loop {
        s.def.clear();
        s.rep.clear();
        let n = s.batch_records();
        let (records, _, levels) =
            r.read_records(n, Some(&mut s.def), Some(&mut s.rep), &mut s.values)?;
        if records == 0 && levels == 0 {
            return Ok(true);
        }
        if !s.regular(records, max_def) {
            return Ok(false);
        }
        s.rows += records;
    }
}

/// Decode a DOUBLE column chunk through `buf`, converting to f32.
fn drain_double(
    r: &mut ColumnReaderImpl<DoubleType>,
    s: &mut VectorReader,
    max_def: i16,
    buf: &mut Vec<f64>,
) -> parquet::errors::Result<bool> {
    loop {
        s.def.clear();
        s.rep.clear();
        buf.clear();
        let n = s.batch_records();
        let (records, _, levels) = r.read_records(n, Some(&mut s.def), Some(&mut s.rep), buf)?;
        if records == 0 && levels == 0 {
            return Ok(true);
        }
        if !s.regular(records, max_def) {
            return Ok(false);
        }
        s.values.extend(buf.iter().map(|&x| x as f32));
        s.rows += records;
    }
}
