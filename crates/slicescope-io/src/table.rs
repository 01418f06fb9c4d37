//! Reading Parquet, Arrow IPC and CSV tables into a [`Frame`].

use std::io::BufReader;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::csv::ReaderBuilder as CsvReaderBuilder;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::{FileReader, StreamReader};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use slicescope_core::{Column, Error, Frame, Result};

use crate::convert::{unsupported, ColumnBuilder, Kind};
use crate::guard::guarded;
use crate::ipc_check;
use crate::{format_error, open_file, Format, ReadOptions};

/// Batches of the projected columns.
pub(crate) type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>>>;

/// Rows per batch for CSV files.
const CSV_BATCH_ROWS: usize = 16 * 1024;
/// An opened table: the expected row count if known, and the batches of
/// the requested columns.
pub(crate) struct Opened {
    pub(crate) rows_hint: Option<usize>,
    pub(crate) batches: Batches,
}

/// Read the table (see [`crate::read_table`]).
pub(crate) fn read(path: &Path, format: Format, opts: &ReadOptions) -> Result<Frame> {
    if format == Format::Parquet {
        return crate::pq::read(path, opts);
    }
    guarded(path, format.name(), || {
        let mut all_names = Vec::new();
        let mut wanted: Vec<Wanted> = Vec::new();
        let opened = open(path, format, opts, |schema| {
            all_names = column_names(schema);
            wanted = wanted_columns(schema, opts.columns.as_deref())?;
            Ok(wanted.iter().map(|w| w.index).collect())
        })?;
        let (columns, n_rows) = collect(
            path,
            format,
            opts,
            opened.batches,
            &wanted,
            opened.rows_hint.unwrap_or(0),
        )?;
        let mut frame = Frame::with_rows(n_rows);
        for column in columns {
            frame.push(column)?;
        }
        frame.set_source_columns(all_names);
        Ok(frame)
    })
}

/// A requested column: its index in the file's schema, name and type.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) data_type: DataType,
}

/// The names of all columns of `schema`.
pub(crate) fn column_names(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// The requested columns (all when `requested` is `None`), checking that
/// they exist and have usable types before any data is read.
pub(crate) fn wanted_columns(schema: &Schema, requested: Option<&[String]>) -> Result<Vec<Wanted>> {
    let columns = resolve(schema, requested)?;
    let mut wanted = Vec::with_capacity(columns.len());
    for (index, name) in columns {
        let data_type = schema.field(index).data_type().clone();
        if Kind::of(&data_type).is_none() {
            return Err(unsupported(&name, &data_type));
        }
        wanted.push(Wanted {
            index,
            name,
            data_type,
        });
    }
    Ok(wanted)
}

/// Decode `batches` into the `wanted` columns, one batch at a time;
/// returns the columns and the row count.
pub(crate) fn collect(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    batches: Batches,
    wanted: &[Wanted],
    rows_hint: usize,
) -> Result<(Vec<Column>, usize)> {
    let mut builders = Vec::with_capacity(wanted.len());
    for w in wanted {
        builders.push(ColumnBuilder::new(&w.name, &w.data_type, rows_hint)?);
    }
    let mut n_rows = 0usize;
    for batch in batches {
        let batch = batch.map_err(|e| read_error(path, format, opts, e))?;
        for builder in &mut builders {
            let column = batch.column_by_name(builder.name()).ok_or_else(|| {
                format_error(
                    path,
                    format.name(),
                    format!("a batch lacks column '{}'", builder.name()),
                )
            })?;
            builder.append(column)?;
        }
        n_rows += batch.num_rows();
        // `batch` is dropped here, before the next one is decoded.
    }
    let columns = builders
        .into_iter()
        .map(ColumnBuilder::finish)
        .collect::<Result<Vec<_>>>()?;
    Ok((columns, n_rows))
}

/// List the columns (see [`crate::table_columns`]).
pub(crate) fn columns(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
) -> Result<Vec<(String, String)>> {
    guarded(path, format.name(), || {
        let schema = schema(path, format, opts)?;
        let fields: Vec<_> = match &opts.columns {
            None => schema.fields().iter().cloned().collect(),
            Some(names) => {
                let mut out = Vec::with_capacity(names.len());
                for (i, _) in resolve_names(&schema, names)? {
                    out.push(schema.field(i).clone().into());
                }
                out
            }
        };
        Ok(fields
            .iter()
            .map(|f| (f.name().clone(), Kind::describe(f.data_type())))
            .collect())
    })
}

/// The schema of the table, without reading its data.
fn schema(path: &Path, format: Format, opts: &ReadOptions) -> Result<SchemaRef> {
    let err = |e: &dyn std::fmt::Display| format_error(path, format.name(), e);
    Ok(match format {
        Format::Parquet => ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)
            .map_err(|e| err(&e))?
            .schema()
            .clone(),
        Format::ArrowIpcFile => {
            ipc_check::check_file(path)?;
            FileReader::try_new_buffered(open_file(path)?, None)
                .map_err(|e| err(&e))?
                .schema()
        }
        Format::ArrowIpcStream => {
            ipc_check::check_stream(path)?;
            StreamReader::try_new_buffered(open_file(path)?, None)
                .map_err(|e| err(&e))?
                .schema()
        }
        Format::Csv => crate::csv::plan(path, &opts.csv)?.schema,
    })
}

/// The requested columns as (index in `schema`, name), in request order
/// without repeats; all columns when `requested` is `None`.
pub(crate) fn resolve(
    schema: &Schema,
    requested: Option<&[String]>,
) -> Result<Vec<(usize, String)>> {
    match requested {
        None => Ok(schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.name().clone()))
            .collect()),
        Some(names) => resolve_names(schema, names),
    }
}

fn resolve_names(schema: &Schema, names: &[String]) -> Result<Vec<(usize, String)>> {
    let mut out: Vec<(usize, String)> = Vec::with_capacity(names.len());
    for name in names {
        if out.iter().any(|(_, n)| n == name) {
            continue;
        }
        let at: Vec<usize> = (schema.fields().iter().enumerate())
            .filter(|(_, f)| f.name() == name)
            .map(|(i, _)| i)
            .collect();
        match at[..] {
            [i] => out.push((i, name.clone())),
            [] => {
                let all: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                return Err(Error::column_not_found(name, "requested", &all));
            }
            _ => {
                let places: Vec<String> = at.iter().map(|i| (i + 1).to_string()).collect();
                return Err(Error::InvalidInput(format!(
                    "column '{name}' appears {} times in the input (columns {}); rename the \
                     duplicates so that each name means one column",
                    at.len(),
                    places.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// Open the table, let `project` pick the columns from its full schema
/// (returning their indices), and start reading those columns.
pub(crate) fn open(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    project: impl FnOnce(&Schema) -> Result<Vec<usize>>,
) -> Result<Opened> {
    let err = |e: &dyn std::fmt::Display| format_error(path, format.name(), e);
    match format {
        Format::Parquet => crate::pq::open_all(path, project),
        Format::ArrowIpcFile => {
            ipc_check::check_file(path)?;
            let schema = FileReader::try_new_buffered(open_file(path)?, None)
                .map_err(|e| err(&e))?
                .schema();
            let projection = project(&schema)?;
            let reader = FileReader::try_new_buffered(open_file(path)?, Some(projection))
                .map_err(|e| err(&e))?;
            Ok(Opened {
                rows_hint: None,
                batches: Box::new(reader),
            })
        }
        Format::ArrowIpcStream => {
            ipc_check::check_stream(path)?;
            let schema = StreamReader::try_new_buffered(open_file(path)?, None)
                .map_err(|e| err(&e))?
                .schema();
            let projection = project(&schema)?;
            let reader = StreamReader::try_new_buffered(open_file(path)?, Some(projection))
                .map_err(|e| err(&e))?;
            Ok(Opened {
                rows_hint: None,
                batches: Box::new(reader),
            })
        }
        Format::Csv => {
            let plan = crate::csv::plan(path, &opts.csv)?;
            let projection = project(&plan.schema)?;
            let reader = CsvReaderBuilder::new(plan.schema.clone())
                .with_format(plan.format)
                .with_projection(projection)
                .with_batch_size(CSV_BATCH_ROWS)
                .build(BufReader::new(open_file(path)?))
                .map_err(|e| err(&e))?;
            Ok(Opened {
                rows_hint: plan.rows,
                batches: Box::new(reader),
            })
        }
    }
}

/// A reader error while decoding batches, with a hint for CSV type
/// inference over a sample.
pub(crate) fn read_error(path: &Path, format: Format, opts: &ReadOptions, e: ArrowError) -> Error {
    match (format, opts.csv.infer_rows) {
        (Format::Csv, Some(n)) => format_error(
            path,
            format.name(),
            format!(
                "{e} (column types were inferred from the first {n} rows; infer them from \
                 all rows or give a type override)"
            ),
        ),
        _ => format_error(path, format.name(), e),
    }
}
