//! Arrow record batches already in memory (a `RecordBatchReader`, e.g. a
//! pyarrow table or a polars frame handed over by the Arrow C stream
//! interface) into a [`Frame`].
//!
//! The same conversion as the file readers ([`crate::read_table`]): only
//! the requested columns are decoded, batch by batch, each batch dropped
//! before the next one is pulled from the stream.

use std::path::Path;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use slicescope_core::{Error, Frame, Result};

use crate::convert::{ColumnBuilder, Kind};
use crate::guard::guarded;
use crate::table::{column_names, wanted_columns};

/// The format name in error messages about in-memory batches.
const NAME: &str = "Arrow data";

/// The columns of `schema` and their kinds, as [`crate::table_columns`]
/// reports them for a file: `"float"`, `"integer"`, `"boolean"`,
/// `"string"`, `"vector[N]"`, `"vector"` or `"unsupported (TYPE)"`.
pub fn schema_columns(schema: &Schema) -> Vec<(String, String)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), Kind::describe(f.data_type())))
        .collect()
}

/// Read the batches of `reader` into a [`Frame`].
///
/// `columns` selects the columns to decode, in that order (all when
/// `None`); the others are skipped without being converted.
/// [`Frame::source_columns`] lists every column of the schema. `source`
/// names the data in error messages (e.g. `"pandas DataFrame"`).
///
/// Errors as for [`crate::read_table`]: [`Error::ColumnNotFound`] for a
/// requested column that the schema lacks, [`Error::InvalidInput`] for a
/// column of an unusable type or a ragged embedding list, and
/// [`Error::Format`] when the stream fails or a batch does not match the
/// schema.
pub fn read_batches<R: RecordBatchReader>(
    reader: R,
    columns: Option<&[String]>,
    source: &str,
) -> Result<Frame> {
    let schema = reader.schema();
    batches_to_frame(&schema, reader, columns, source)
}

/// Like [`read_batches`], for any iterator of batches that all have
/// `schema`.
pub fn batches_to_frame<I>(
    schema: &Schema,
    batches: I,
    columns: Option<&[String]>,
    source: &str,
) -> Result<Frame>
where
    I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
{
    let label = Path::new(source);
    guarded(label, NAME, || {
        let wanted = wanted_columns(schema, columns)?;
        let mut builders = Vec::with_capacity(wanted.len());
        for w in &wanted {
            builders.push(ColumnBuilder::new(&w.name, &w.data_type, 0)?);
        }
        let fail = |message: String| Error::Format {
            path: source.to_string(),
            format: NAME.into(),
            message,
        };
        let n_fields = schema.fields().len();
        let mut n_rows = 0usize;
        for batch in batches {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            if batch.num_columns() != n_fields {
                return Err(fail(format!(
                    "a batch has {} columns but the schema has {n_fields}",
                    batch.num_columns()
                )));
            }
            for (builder, w) in builders.iter_mut().zip(&wanted) {
                let column = batch.column(w.index);
                if column.data_type() != &w.data_type {
                    return Err(fail(format!(
                        "column '{}' is {} in a batch but {} in the schema",
                        w.name,
                        column.data_type(),
                        w.data_type
                    )));
                }
                builder.append(column)?;
            }
            n_rows += batch.num_rows();
        }
        let mut frame = Frame::with_rows(n_rows);
        for builder in builders {
            frame.push(builder.finish()?)?;
        }
        frame.set_source_columns(column_names(schema));
        Ok(frame)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatchIterator, StringArray,
    };
    use arrow::datatypes::{DataType, Field};
    use slicescope_core::ColumnData;
    use std::sync::Arc;

    fn batch(schema: &Arc<Schema>, start: i64, n: usize) -> RecordBatch {
        let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(start..start + n as i64));
        let strs: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| {
            if i % 2 == 0 {
                "a"
            } else {
                "b"
            }
        })));
        let values = Float32Array::from_iter_values((0..2 * n).map(|i| i as f32));
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let vecs: ArrayRef =
            Arc::new(FixedSizeListArray::try_new(item, 2, Arc::new(values), None).unwrap());
        RecordBatch::try_new(schema.clone(), vec![ints, strs, vecs]).unwrap()
    }

    fn schema() -> Arc<Schema> {
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
            Field::new("v", DataType::FixedSizeList(item, 2), false),
        ]))
    }

    #[test]
    fn batches_become_one_frame_with_the_requested_columns() {
        let schema = schema();
        let batches = vec![Ok(batch(&schema, 0, 3)), Ok(batch(&schema, 3, 2))];
        let reader = RecordBatchIterator::new(batches, schema.clone());
        let cols = vec!["v".to_string(), "x".to_string()];
        let frame = read_batches(reader, Some(&cols), "test").unwrap();
        assert_eq!(frame.n_rows(), 5);
        assert_eq!(frame.source_columns(), &["x", "s", "v"]);
        assert!(frame.column("s").is_none());
        match &frame.column("x").unwrap().data {
            ColumnData::Int(v) => assert_eq!(v, &(0..5).map(Some).collect::<Vec<_>>()),
            other => panic!("{other:?}"),
        }
        match &frame.column("v").unwrap().data {
            ColumnData::Vector { values, dim, .. } => {
                assert_eq!(*dim, 2);
                assert_eq!(values.len(), 10);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_column_is_named_with_suggestions() {
        let schema = schema();
        let reader = RecordBatchIterator::new(vec![Ok(batch(&schema, 0, 1))], schema.clone());
        let err = read_batches(reader, Some(&["xx".to_string()]), "test").unwrap_err();
        assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    }

    #[test]
    fn a_failing_stream_is_a_format_error() {
        let schema = schema();
        let batches = vec![
            Ok(batch(&schema, 0, 1)),
            Err(ArrowError::ComputeError("boom".into())),
        ];
        let err = batches_to_frame(&schema, batches, None, "pandas DataFrame").unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        assert!(err.to_string().starts_with("pandas DataFrame"), "{err}");
    }

    #[test]
    fn kinds_of_a_schema() {
        let kinds = schema_columns(&schema());
        assert_eq!(
            kinds,
            vec![
                ("x".to_string(), "integer".to_string()),
                ("s".to_string(), "string".to_string()),
                ("v".to_string(), "vector[2]".to_string()),
            ]
        );
    }
}
