//! Reading a few cells of one column: the images and texts that a report
//! shows for its example rows.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, FixedSizeBinaryArray, LargeBinaryArray,
};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use slicescope_core::{Error, Result};

use crate::guard::guarded;
use crate::table::{open, read_error, resolve};
use crate::{format_error, Format, ReadOptions};

/// One cell of a column, as [`read_cells`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A missing value.
    Null,
    /// The bytes of a binary column (e.g. an encoded image).
    Bytes(Vec<u8>),
    /// A string column's value, or any other column's value as text.
    Text(String),
}

/// The cells of `column` at `rows` (0-based), keyed by row.
///
/// Binary columns (`binary`, `large_binary`, `binary_view`,
/// `fixed_size_binary`) give [`Cell::Bytes`]; every other type gives its
/// value as text ([`Cell::Text`]), nulls [`Cell::Null`]. Rows past the end
/// of the table are left out of the map. The file is read batch by batch,
/// one column only, and only the requested rows are kept.
///
/// Fails with [`Error::ColumnNotFound`] (with suggestions) when the column
/// is absent, and with the reader's errors when the file cannot be read.
pub fn read_cells(
    path: &Path,
    column: &str,
    rows: &[u32],
    opts: &ReadOptions,
) -> Result<BTreeMap<u32, Cell>> {
    let format = match opts.format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    let mut wanted: Vec<u32> = rows.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    guarded(path, format.name(), || {
        let requested = [column.to_string()];
        let opened = open(path, format, opts, |schema| {
            Ok(resolve(schema, Some(&requested))?
                .into_iter()
                .map(|(i, _)| i)
                .collect())
        })?;
        let mut out = BTreeMap::new();
        let mut offset: u64 = 0;
        let mut next = 0usize;
        for batch in opened.batches {
            if next == wanted.len() {
                break;
            }
            let batch = batch.map_err(|e| read_error(path, format, opts, e))?;
            let array = batch.column_by_name(column).ok_or_else(|| {
                format_error(
                    path,
                    format.name(),
                    format!("a batch lacks column '{column}'"),
                )
            })?;
            let len = batch.num_rows() as u64;
            let mut picks = Vec::new();
            while next < wanted.len() && u64::from(wanted[next]) < offset + len {
                picks.push((wanted[next], (u64::from(wanted[next]) - offset) as usize));
                next += 1;
            }
            if !picks.is_empty() {
                for (row, i) in picks {
                    out.insert(row, cell(array.as_ref(), i, column)?);
                }
            }
            offset += len;
        }
        Ok(out)
    })
}

/// The cells of `column` at `rows` (0-based) from the column's arrays,
/// one per batch in row order (e.g. kept from in-memory Arrow batches while
/// they were read), keyed by row: as [`read_cells`] for a file. Rows past
/// the end are left out.
pub fn array_cells(arrays: &[ArrayRef], column: &str, rows: &[u32]) -> Result<BTreeMap<u32, Cell>> {
    let mut wanted: Vec<u32> = rows.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = BTreeMap::new();
    let mut offset: u64 = 0;
    let mut next = 0usize;
    for array in arrays {
        let len = array.len() as u64;
        while next < wanted.len() && u64::from(wanted[next]) < offset + len {
            let row = wanted[next];
            out.insert(
                row,
                cell(array.as_ref(), (u64::from(row) - offset) as usize, column)?,
            );
            next += 1;
        }
        offset += len;
    }
    Ok(out)
}

/// The value at `i` of `array`.
fn cell(array: &dyn Array, i: usize, column: &str) -> Result<Cell> {
    if array.is_null(i) {
        return Ok(Cell::Null);
    }
    let bytes = match array.data_type() {
        DataType::Binary => array
            .as_any()
            .downcast_ref::<BinaryArray>()
            .map(|a| a.value(i).to_vec()),
        DataType::LargeBinary => array
            .as_any()
            .downcast_ref::<LargeBinaryArray>()
            .map(|a| a.value(i).to_vec()),
        DataType::BinaryView => array
            .as_any()
            .downcast_ref::<BinaryViewArray>()
            .map(|a| a.value(i).to_vec()),
        DataType::FixedSizeBinary(_) => array
            .as_any()
            .downcast_ref::<FixedSizeBinaryArray>()
            .map(|a| a.value(i).to_vec()),
        DataType::Utf8 => return Ok(Cell::Text(array.as_string::<i32>().value(i).to_string())),
        DataType::LargeUtf8 => {
            return Ok(Cell::Text(array.as_string::<i64>().value(i).to_string()))
        }
        DataType::Utf8View => return Ok(Cell::Text(array.as_string_view().value(i).to_string())),
        _ => {
            let f = ArrayFormatter::try_new(array, &FormatOptions::default()).map_err(|e| {
                Error::InvalidInput(format!("column '{column}' cannot be shown as text: {e}"))
            })?;
            return Ok(Cell::Text(f.value(i).to_string()));
        }
    };
    bytes.map(Cell::Bytes).ok_or_else(|| {
        Error::InvalidInput(format!(
            "column '{column}': unexpected array for type {}",
            array.data_type()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    fn write(path: &Path) {
        let n = 5000usize;
        let schema = Arc::new(Schema::new(vec![
            Field::new("img", DataType::Binary, true),
            Field::new("name", DataType::Utf8, false),
            Field::new("k", DataType::Int64, false),
        ]));
        let imgs: Vec<Option<Vec<u8>>> = (0..n)
            .map(|i| (i % 7 != 3).then(|| vec![(i % 251) as u8; 1 + i % 5]))
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(BinaryArray::from_iter(imgs)),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("row {i}")),
                )),
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i as i64 * 3))),
            ],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1000))
            .build();
        let file = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn reads_bytes_text_and_other_types_at_the_rows_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path);
        let opts = ReadOptions::default();
        let rows = [4321, 0, 3, 1002, 4321, 999_999];
        let img = read_cells(&path, "img", &rows, &opts).unwrap();
        assert_eq!(
            img.len(),
            4,
            "duplicates merged, the row past the end left out"
        );
        assert_eq!(img[&0], Cell::Bytes(vec![0]));
        assert_eq!(img[&3], Cell::Null);
        assert_eq!(
            img[&1002],
            Cell::Bytes(vec![(1002 % 251) as u8; 1 + 1002 % 5])
        );
        assert_eq!(
            img[&4321],
            Cell::Bytes(vec![(4321 % 251) as u8; 1 + 4321 % 5])
        );
        let name = read_cells(&path, "name", &[4999], &opts).unwrap();
        assert_eq!(name[&4999], Cell::Text("row 4999".into()));
        let k = read_cells(&path, "k", &[10], &opts).unwrap();
        assert_eq!(k[&10], Cell::Text("30".into()));
    }

    #[test]
    fn a_missing_column_is_named_with_suggestions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path);
        let err = read_cells(&path, "imgs", &[0], &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::ColumnNotFound { .. }), "{msg}");
        assert!(msg.contains("img"), "{msg}");
    }

    #[test]
    fn cells_of_arrays_across_batches() {
        let a: ArrayRef = Arc::new(BinaryArray::from_iter(vec![Some(vec![1u8]), None]));
        let b: ArrayRef = Arc::new(BinaryArray::from_iter(vec![Some(vec![2u8, 3])]));
        let c: ArrayRef = Arc::new(StringArray::from_iter_values(["x", "y"]));
        let got = array_cells(&[a, b], "img", &[2, 1, 0, 7, 2]).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[&0], Cell::Bytes(vec![1]));
        assert_eq!(got[&1], Cell::Null);
        assert_eq!(got[&2], Cell::Bytes(vec![2, 3]));
        let got = array_cells(&[c], "s", &[1]).unwrap();
        assert_eq!(got[&1], Cell::Text("y".into()));
    }
}
