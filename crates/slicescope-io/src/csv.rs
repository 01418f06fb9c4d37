//! CSV/TSV options and the CSV side of the table reader.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use arrow::csv::reader::Format as CsvFormat;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use regex::Regex;
use slicescope_core::{Error, Result};

use crate::{extension, format_error, io_error, open_file};

/// How to parse a CSV (or TSV) file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter. `None` uses a tab for `.tsv`/`.tab` files, a
    /// tab when the first line has tabs but no commas, and a comma
    /// otherwise.
    pub delimiter: Option<u8>,
    /// Whether the first line holds the column names (default `true`).
    /// Without a header, columns are named `column_1`, `column_2`, ...
    pub has_header: bool,
    /// How many rows to scan to infer the column types; `None` (the
    /// default) scans the whole file, which costs a second pass but never
    /// guesses wrong.
    pub infer_rows: Option<usize>,
    /// Per-column type overrides, applied over the inferred types. Naming
    /// a column the file does not have is an error.
    pub types: BTreeMap<String, CsvType>,
    /// Field values that mean "missing", matched exactly (default `""`,
    /// `"NA"`, `"NaN"`, `"null"`, `"None"`, `"?"`). An empty list keeps
    /// only the empty field as missing.
    pub null_values: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            has_header: true,
            infer_rows: None,
            types: BTreeMap::new(),
            null_values: ["", "NA", "NaN", "null", "None", "?"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// The type a CSV column is read as, to override inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsvType {
    /// Text, read as a categorical column.
    String,
    /// 64-bit floating point.
    Float,
    /// 64-bit signed integer.
    Int,
    /// `true`/`false`.
    Bool,
}

impl CsvType {
    fn data_type(self) -> DataType {
        match self {
            CsvType::String => DataType::Utf8,
            CsvType::Float => DataType::Float64,
            CsvType::Int => DataType::Int64,
            CsvType::Bool => DataType::Boolean,
        }
    }
}

impl FromStr for CsvType {
    type Err = Error;

    /// Parse `string` (also `str`, `category`), `float`, `int` (also
    /// `integer`) or `bool` (also `boolean`), ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "string" | "str" | "category" => Ok(CsvType::String),
            "float" => Ok(CsvType::Float),
            "int" | "integer" => Ok(CsvType::Int),
            "bool" | "boolean" => Ok(CsvType::Bool),
            _ => Err(Error::param(
                "column type",
                format!(
                    "unknown type '{s}'; valid types are string (or str, category), float, \
                     int (or integer) and bool (or boolean)"
                ),
            )),
        }
    }
}

impl fmt::Display for CsvType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CsvType::String => "string",
            CsvType::Float => "float",
            CsvType::Int => "int",
            CsvType::Bool => "bool",
        })
    }
}

/// A CSV file's parsing setup and (inferred, overridden) schema.
pub(crate) struct CsvPlan {
    /// The arrow-csv format (delimiter, header, nulls).
    pub(crate) format: CsvFormat,
    /// The schema the file is read with.
    pub(crate) schema: SchemaRef,
    /// The exact row count when the whole file was scanned.
    pub(crate) rows: Option<usize>,
}

/// Work out how to read the CSV file at `path`: delimiter, null values,
/// column types (inferred, then overridden).
pub(crate) fn plan(path: &Path, opts: &CsvOptions) -> Result<CsvPlan> {
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(path)?,
    };
    let mut format = CsvFormat::default()
        .with_header(opts.has_header)
        .with_delimiter(delimiter);
    if !opts.null_values.is_empty() {
        let alternatives: Vec<String> = opts.null_values.iter().map(|s| regex::escape(s)).collect();
        let re = Regex::new(&format!("^(?:{})$", alternatives.join("|")))
            .map_err(|e| Error::param("null values", e.to_string()))?;
        format = format.with_null_regex(re);
    }
    let file = open_file(path)?;
    let (inferred, scanned) = format
        .infer_schema(BufReader::new(file), opts.infer_rows)
        .map_err(|e| format_error(path, "CSV", e))?;

    let names: Vec<String> = inferred.fields().iter().map(|f| f.name().clone()).collect();
    for name in opts.types.keys() {
        if !names.iter().any(|n| n == name) {
            return Err(Error::column_not_found(name, "CSV type override", &names));
        }
    }
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            let dt = match opts.types.get(f.name()) {
                Some(t) => t.data_type(),
                // Text is text: an all-missing column, dates and times are
                // read as strings rather than refused.
                None => match f.data_type() {
                    DataType::Null
                    | DataType::Date32
                    | DataType::Date64
                    | DataType::Time32(_)
                    | DataType::Time64(_)
                    | DataType::Timestamp(_, _) => DataType::Utf8,
                    dt => dt.clone(),
                },
            };
            Field::new(f.name(), dt, true)
        })
        .collect();
    Ok(CsvPlan {
        format,
        schema: Arc::new(Schema::new(fields)),
        rows: if opts.infer_rows.is_none() {
            Some(scanned)
        } else {
            None
        },
    })
}

/// Tab for `.tsv`/`.tab` files or a first line with tabs and no commas;
/// comma otherwise.
fn sniff_delimiter(path: &Path) -> Result<u8> {
    if matches!(extension(path).as_deref(), Some("tsv" | "tab")) {
        return Ok(b'\t');
    }
    let file = open_file(path)?;
    let mut line = Vec::new();
    // At most 1 MiB of a pathological single-line file is scanned.
    let mut reader = BufReader::new(std::io::Read::take(file, 1 << 20));
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| io_error(path, &e))?;
    let tabs = line.contains(&b'\t');
    let commas = line.contains(&b',');
    Ok(if tabs && !commas { b'\t' } else { b',' })
}
