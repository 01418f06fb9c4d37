//! Reading what `apply` and `compare` need: the table's columns, embedding
//! views (vector columns or `.npy`/`.npz` files), reader options.

use std::path::Path;

use anyhow::{bail, Context, Result};
use slicescope_core::scan::{self, View};
use slicescope_core::{ColumnData, Frame};
use slicescope_io::{read_matrix, read_table, table_columns, CsvType, Format, ReadOptions};

use crate::args::FormatArg;

/// Reader options from the input flags.
pub fn read_options(
    format: Option<FormatArg>,
    delimiter: Option<&str>,
    csv_types: &[String],
) -> Result<ReadOptions> {
    let mut opts = ReadOptions {
        format: format.map(|f| match f {
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Arrow => Format::ArrowIpcFile,
            FormatArg::ArrowStream => Format::ArrowIpcStream,
            FormatArg::Csv => Format::Csv,
        }),
        ..ReadOptions::default()
    };
    if let Some(d) = delimiter {
        let d = if d == "\\t" { "\t" } else { d };
        if d.len() != 1 {
            bail!("the CSV delimiter must be one character, got '{d}'");
        }
        opts.csv.delimiter = Some(d.as_bytes()[0]);
    }
    for t in csv_types {
        let Some((col, ty)) = t.split_once('=') else {
            bail!("--csv-type '{t}': expected COL=TYPE with TYPE one of string, float, int, bool");
        };
        let ty: CsvType = ty
            .parse()
            .map_err(|e: slicescope_core::Error| anyhow::anyhow!("csv type of '{col}': {e}"))?;
        opts.csv.types.insert(col.to_string(), ty);
    }
    Ok(opts)
}

/// The table's column names.
pub fn column_names(data: &Path, opts: &ReadOptions) -> Result<Vec<String>> {
    Ok(table_columns(data, opts)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// Read the `wanted` columns of the table that exist (absent ones are
/// reported later with their role); the frame knows every column name for
/// "did you mean" suggestions.
pub fn read_frame(
    data: &Path,
    opts: &ReadOptions,
    names: &[String],
    wanted: &[String],
) -> Result<Frame> {
    let mut cols: Vec<String> = Vec::new();
    for w in wanted {
        if names.contains(w) && !cols.contains(w) {
            cols.push(w.clone());
        }
    }
    let mut frame = if cols.is_empty() {
        // No column needed (every slice is an embedding slice): still the
        // row count is.
        let first = names
            .first()
            .cloned()
            .with_context(|| format!("{} has no columns", data.display()))?;
        let f = read_table(
            data,
            &ReadOptions {
                columns: Some(vec![first.clone()]),
                ..opts.clone()
            },
        )?;
        let mut g = Frame::with_rows(f.n_rows());
        g.set_source_columns(names.to_vec());
        g
    } else {
        read_table(
            data,
            &ReadOptions {
                columns: Some(cols),
                ..opts.clone()
            },
        )?
    };
    frame.set_source_columns(names.to_vec());
    Ok(frame)
}

/// `NAME=SOURCE` of a `--view` flag.
pub fn parse_view_flag(v: &str) -> Result<(String, String)> {
    let Some((name, src)) = v.split_once('=') else {
        bail!("--view '{v}': expected NAME=SOURCE, e.g. --view clip=clip_embedding or --view act=activations.npy");
    };
    if name.is_empty() || src.is_empty() {
        bail!("--view '{v}': both NAME and SOURCE must be non-empty");
    }
    Ok((name.to_string(), src.to_string()))
}

/// `file.npz:key` → (`file.npz`, Some(`key`)).
fn split_npz_key(src: &str) -> (&str, Option<&str>) {
    let lower = src.to_ascii_lowercase();
    if let Some(pos) = lower.find(".npz:") {
        let (p, k) = src.split_at(pos + 4);
        (p, Some(&k[1..]))
    } else {
        (src, None)
    }
}

/// Load view `name` from `source`: a `.npy`/`.npz` file, or a vector
/// column of `frame` (moved out of it).
pub fn load_view(name: &str, source: &str, frame: &mut Frame) -> Result<View<'static>> {
    if scan::is_matrix_file(source) {
        let (path, key) = split_npz_key(source);
        let m =
            read_matrix(Path::new(path), key).with_context(|| format!("reading view '{name}'"))?;
        return Ok(View {
            name: name.to_string(),
            source: source.to_string(),
            values: m.values.into(),
            dim: m.cols,
        });
    }
    frame.require(source, &format!("view '{name}'"))?;
    let Some(col) = frame.take_column(source) else {
        bail!("view '{name}': column '{source}' not found");
    };
    match col.data {
        ColumnData::Vector {
            values,
            dim,
            null_rows,
        } => {
            if !null_rows.is_empty() {
                bail!(
                    "view '{name}' (column '{source}') is null in {} row(s), first at row {}",
                    null_rows.len(),
                    null_rows[0]
                );
            }
            Ok(View {
                name: name.to_string(),
                source: source.to_string(),
                values: values.into(),
                dim,
            })
        }
        other => bail!(
            "view '{name}' names column '{source}', a {} column; a view needs a list-of-floats column or a .npy/.npz file",
            other.kind()
        ),
    }
}
