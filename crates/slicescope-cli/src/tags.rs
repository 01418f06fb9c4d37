//! `apply --tags OUT.parquet|OUT.csv`: one row per input row (same order):
//! `row` (0-based), the `--keep` columns, `slices` (the ids of the slices
//! the row falls in, joined by ';'), and one boolean column per slice
//! named by its id.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use slicescope_core::workflow::rows::RowSet;
use slicescope_core::{Column, ColumnData};

use crate::output;

/// Rows per record batch / CSV chunk.
const BATCH: usize = 65_536;

/// Output format of the tags file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagsFormat {
    /// `.parquet` / `.pq`.
    Parquet,
    /// `.csv`.
    Csv,
}

impl TagsFormat {
    /// The format of `path`, or an error naming the supported extensions.
    pub fn of(path: &Path) -> Result<TagsFormat> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("parquet" | "pq") => Ok(TagsFormat::Parquet),
            Some("csv") => Ok(TagsFormat::Csv),
            _ => bail!(
                "--tags {}: the file name must end in .parquet or .csv",
                path.display()
            ),
        }
    }
}

/// Write to a temporary file next to `path`, sync, and rename it over
/// `path` (refusing to overwrite without `overwrite`).
fn write_atomic_with(
    path: &Path,
    overwrite: bool,
    body: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    output::check_writable(path, overwrite)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        body(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("writing {}", path.display()))
}

fn slices_text(row: usize, sets: &[(&str, &RowSet)]) -> String {
    let mut s = String::new();
    for (id, set) in sets {
        if set.contains(row) {
            if !s.is_empty() {
                s.push(';');
            }
            s.push_str(id);
        }
    }
    s
}

fn keep_array(col: &Column, lo: usize, hi: usize) -> Result<(DataType, ArrayRef)> {
    Ok(match &col.data {
        ColumnData::Float(v) => (
            DataType::Float64,
            Arc::new(Float64Array::from(
                v[lo..hi]
                    .iter()
                    .map(|x| (!x.is_nan()).then_some(*x))
                    .collect::<Vec<_>>(),
            )),
        ),
        ColumnData::Int(v) => (
            DataType::Int64,
            Arc::new(Int64Array::from(v[lo..hi].to_vec())),
        ),
        ColumnData::Bool(v) => (
            DataType::Boolean,
            Arc::new(BooleanArray::from(v[lo..hi].to_vec())),
        ),
        ColumnData::Categorical { codes, levels } => (
            DataType::Utf8,
            Arc::new(StringArray::from(
                codes[lo..hi]
                    .iter()
                    .map(|c| c.and_then(|c| levels.get(c as usize).map(String::as_str)))
                    .collect::<Vec<_>>(),
            )),
        ),
        ColumnData::Vector { .. } => bail!(
            "--keep {}: a vector column cannot be copied into the tags file",
            col.name
        ),
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write the tags of `n` rows.
pub fn write(
    path: &Path,
    n: usize,
    sets: &[(&str, &RowSet)],
    keep: &[&Column],
    overwrite: bool,
) -> Result<()> {
    match TagsFormat::of(path)? {
        TagsFormat::Csv => write_atomic_with(path, overwrite, |f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let mut header: Vec<String> = vec!["row".into()];
            header.extend(keep.iter().map(|c| csv_field(&c.name)));
            header.push("slices".into());
            header.extend(sets.iter().map(|(id, _)| csv_field(id)));
            writeln!(w, "{}", header.join(","))?;
            let mut line = String::new();
            for r in 0..n {
                line.clear();
                line.push_str(&r.to_string());
                for c in keep {
                    line.push(',');
                    if let Some(t) = c.data.text(r) {
                        line.push_str(&csv_field(&t));
                    }
                }
                line.push(',');
                line.push_str(&slices_text(r, sets));
                for (_, set) in sets {
                    line.push_str(if set.contains(r) { ",1" } else { ",0" });
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            w.flush()?;
            Ok(())
        }),
        TagsFormat::Parquet => write_atomic_with(path, overwrite, |f| {
            let mut fields = vec![Field::new("row", DataType::UInt64, false)];
            for c in keep {
                let (ty, _) = keep_array(c, 0, 0)?;
                fields.push(Field::new(&c.name, ty, true));
            }
            fields.push(Field::new("slices", DataType::Utf8, false));
            for (id, _) in sets {
                fields.push(Field::new(*id, DataType::Boolean, false));
            }
            let schema = Arc::new(Schema::new(fields));
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let mut writer = ArrowWriter::try_new(f, schema.clone(), Some(props))?;
            let mut lo = 0;
            while lo < n || (n == 0 && lo == 0) {
                let hi = (lo + BATCH).min(n);
                let mut cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from_iter_values(
                    lo as u64..hi as u64,
                ))];
                for c in keep {
                    cols.push(keep_array(c, lo, hi)?.1);
                }
                cols.push(Arc::new(StringArray::from_iter_values(
                    (lo..hi).map(|r| slices_text(r, sets)),
                )));
                for (_, set) in sets {
                    cols.push(Arc::new(BooleanArray::from_iter(
                        (lo..hi).map(|r| Some(set.contains(r))),
                    )));
                }
                writer.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
                if n == 0 {
                    break;
                }
                lo = hi;
            }
            writer.close()?;
            Ok(())
        }),
    }
}
