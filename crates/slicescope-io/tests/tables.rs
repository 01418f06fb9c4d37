//! Round trips through Arrow's own writers: Parquet, Arrow IPC file and
//! stream, CSV; plus the error cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, FixedSizeListArray, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, Int8Array, LargeListArray, LargeStringArray, ListArray,
    RecordBatch, StringArray, StringViewArray, TimestampSecondArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int32Type};
use arrow::ipc::writer::{FileWriter, StreamWriter};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use slicescope_core::{ColumnData, Error, Frame};
use slicescope_io::{read_table, table_columns, CsvType, Format, ReadOptions};

// ---------------------------------------------------------------- writers

fn write_parquet(path: &Path, batches: &[RecordBatch], rows_per_group: Option<usize>) {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(rows_per_group)
        .build();
    let file = File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn write_ipc_file(path: &Path, batches: &[RecordBatch]) {
    let file = File::create(path).unwrap();
    let mut w = FileWriter::try_new(file, &batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

fn write_ipc_stream(path: &Path, batches: &[RecordBatch]) {
    let file = File::create(path).unwrap();
    let mut w = StreamWriter::try_new(file, &batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

/// Write `batches` in `format` to `dir/name.<ext>`.
fn write(dir: &Path, name: &str, format: Format, batches: &[RecordBatch]) -> PathBuf {
    match format {
        Format::Parquet => {
            let p = dir.join(format!("{name}.parquet"));
            write_parquet(&p, batches, None);
            p
        }
        Format::ArrowIpcFile => {
            let p = dir.join(format!("{name}.arrow"));
            write_ipc_file(&p, batches);
            p
        }
        Format::ArrowIpcStream => {
            let p = dir.join(format!("{name}.arrows"));
            write_ipc_stream(&p, batches);
            p
        }
        Format::Csv => unreachable!("CSV fixtures are written as text"),
    }
}

const BINARY_FORMATS: [Format; 3] = [
    Format::Parquet,
    Format::ArrowIpcFile,
    Format::ArrowIpcStream,
];

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .unwrap()
}

fn all(path: &Path) -> Frame {
    read_table(path, &ReadOptions::default()).unwrap()
}

fn cols(names: &[&str]) -> ReadOptions {
    ReadOptions {
        columns: Some(names.iter().map(|s| s.to_string()).collect()),
        ..ReadOptions::default()
    }
}

fn data<'a>(f: &'a Frame, name: &str) -> &'a ColumnData {
    &f.column(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .data
}

fn floats(f: &Frame, name: &str) -> Vec<f64> {
    match data(f, name) {
        ColumnData::Float(v) => v.clone(),
        other => panic!("{name}: expected floats, got {other:?}"),
    }
}

fn ints(f: &Frame, name: &str) -> Vec<Option<i64>> {
    match data(f, name) {
        ColumnData::Int(v) => v.clone(),
        other => panic!("{name}: expected ints, got {other:?}"),
    }
}

fn bools(f: &Frame, name: &str) -> Vec<Option<bool>> {
    match data(f, name) {
        ColumnData::Bool(v) => v.clone(),
        other => panic!("{name}: expected bools, got {other:?}"),
    }
}

/// The categorical column decoded back to strings.
fn strings(f: &Frame, name: &str) -> Vec<Option<String>> {
    match data(f, name) {
        ColumnData::Categorical { codes, levels } => {
            let mut uniq = levels.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len(), levels.len(), "{name}: levels not unique");
            codes
                .iter()
                .map(|c| c.map(|c| levels[c as usize].clone()))
                .collect()
        }
        other => panic!("{name}: expected strings, got {other:?}"),
    }
}

fn vectors(f: &Frame, name: &str) -> (Vec<f32>, usize, Vec<usize>) {
    match data(f, name) {
        ColumnData::Vector {
            values,
            dim,
            null_rows,
        } => (values.clone(), *dim, null_rows.clone()),
        other => panic!("{name}: expected vectors, got {other:?}"),
    }
}

fn s(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|x| x.map(str::to_string)).collect()
}

fn same_floats(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
}

// ------------------------------------------------------------ all types

/// One batch with every supported type, 4 rows, nulls in most columns.
fn every_type() -> RecordBatch {
    let f32s: ArrayRef = Arc::new(Float32Array::from(vec![
        Some(1.5),
        None,
        Some(-2.0),
        Some(0.25),
    ]));
    let f16s = cast(&f32s, &DataType::Float16).unwrap();
    let fixed = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
        vec![
            Some(vec![Some(1.0), Some(2.0), Some(3.0)]),
            None,
            Some(vec![Some(4.0), None, Some(6.0)]),
            Some(vec![Some(7.0), Some(8.0), Some(9.0)]),
        ],
        3,
    );
    let list64 = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
        Some(vec![Some(0.5), Some(1.5)]),
        Some(vec![Some(2.5), Some(3.5)]),
        None,
        Some(vec![Some(4.5), Some(5.5)]),
    ]);
    let large = LargeListArray::from_iter_primitive::<Float32Type, _, _>(vec![
        Some(vec![Some(1.0)]),
        Some(vec![Some(2.0)]),
        Some(vec![Some(3.0)]),
        Some(vec![Some(4.0)]),
    ]);
    let int_items = FixedSizeListArray::from_iter_primitive::<Int32Type, _, _>(
        vec![
            Some(vec![Some(1), Some(2)]),
            Some(vec![Some(3), Some(4)]),
            Some(vec![Some(5), Some(6)]),
            Some(vec![Some(7), Some(8)]),
        ],
        2,
    );
    let dict: DictionaryArray<Int32Type> = vec![Some("b"), Some("a"), None, Some("b")]
        .into_iter()
        .collect();
    batch(vec![
        ("f16", f16s),
        ("f32", f32s),
        (
            "f64",
            Arc::new(Float64Array::from(vec![
                Some(1e300),
                Some(f64::INFINITY),
                None,
                Some(-0.5),
            ])),
        ),
        (
            "i8",
            Arc::new(Int8Array::from(vec![Some(-128), None, Some(0), Some(127)])),
        ),
        (
            "i16",
            Arc::new(Int16Array::from(vec![Some(-300), Some(1), None, Some(300)])),
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(3), None])),
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![
                Some(i64::MIN),
                Some(i64::MAX),
                None,
                Some(0),
            ])),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from(vec![Some(255), Some(0), None, Some(1)])),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from(vec![Some(65535), Some(0), Some(1), None])),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from(vec![
                Some(u32::MAX),
                None,
                Some(0),
                Some(1),
            ])),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![
                Some(i64::MAX as u64),
                Some(0),
                None,
                Some(7),
            ])),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
        (
            "utf8",
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y"),
                None,
                Some("x"),
            ])),
        ),
        (
            "large_utf8",
            Arc::new(LargeStringArray::from(vec![
                Some("p"),
                None,
                Some("q"),
                Some("p"),
            ])),
        ),
        (
            "view",
            Arc::new(StringViewArray::from(vec![
                Some("a long string beyond twelve bytes"),
                Some("s"),
                None,
                Some("s"),
            ])),
        ),
        ("dict", Arc::new(dict)),
        ("fixed", Arc::new(fixed)),
        ("list64", Arc::new(list64)),
        ("large", Arc::new(large)),
        ("int_items", Arc::new(int_items)),
    ])
}

fn check_every_type(f: &Frame, what: &str) {
    assert_eq!(f.n_rows(), 4, "{what}");
    let names: Vec<&str> = f.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[0], "f16", "{what}: column order");
    assert_eq!(names.len(), 20, "{what}");

    let v = floats(f, "f16");
    assert_eq!((v[0], v[2], v[3]), (1.5, -2.0, 0.25), "{what}");
    assert!(v[1].is_nan());
    let v = floats(f, "f32");
    assert_eq!((v[0], v[2], v[3]), (1.5, -2.0, 0.25));
    assert!(v[1].is_nan());
    let v = floats(f, "f64");
    assert_eq!((v[0], v[1], v[3]), (1e300, f64::INFINITY, -0.5));
    assert!(v[2].is_nan());

    assert_eq!(ints(f, "i8"), vec![Some(-128), None, Some(0), Some(127)]);
    assert_eq!(ints(f, "i16"), vec![Some(-300), Some(1), None, Some(300)]);
    assert_eq!(ints(f, "i32"), vec![Some(1), Some(2), Some(3), None]);
    assert_eq!(
        ints(f, "i64"),
        vec![Some(i64::MIN), Some(i64::MAX), None, Some(0)]
    );
    assert_eq!(ints(f, "u8"), vec![Some(255), Some(0), None, Some(1)]);
    assert_eq!(ints(f, "u16"), vec![Some(65535), Some(0), Some(1), None]);
    assert_eq!(
        ints(f, "u32"),
        vec![Some(u32::MAX as i64), None, Some(0), Some(1)]
    );
    assert_eq!(ints(f, "u64"), vec![Some(i64::MAX), Some(0), None, Some(7)]);
    assert_eq!(
        bools(f, "flag"),
        vec![Some(true), Some(false), None, Some(true)]
    );

    assert_eq!(
        strings(f, "utf8"),
        s(&[Some("x"), Some("y"), None, Some("x")])
    );
    assert_eq!(
        strings(f, "large_utf8"),
        s(&[Some("p"), None, Some("q"), Some("p")])
    );
    assert_eq!(
        strings(f, "view"),
        s(&[
            Some("a long string beyond twelve bytes"),
            Some("s"),
            None,
            Some("s")
        ])
    );
    assert_eq!(
        strings(f, "dict"),
        s(&[Some("b"), Some("a"), None, Some("b")])
    );

    let (values, dim, nulls) = vectors(f, "fixed");
    assert_eq!(dim, 3);
    assert_eq!(nulls, vec![1]);
    let nan = f32::NAN;
    assert!(
        same_floats(
            &values,
            &[1.0, 2.0, 3.0, nan, nan, nan, 4.0, nan, 6.0, 7.0, 8.0, 9.0]
        ),
        "{what}: {values:?}"
    );
    let (values, dim, nulls) = vectors(f, "list64");
    assert_eq!((dim, nulls), (2, vec![2]));
    assert!(same_floats(
        &values,
        &[0.5, 1.5, 2.5, 3.5, nan, nan, 4.5, 5.5]
    ));
    let (values, dim, nulls) = vectors(f, "large");
    assert_eq!((values, dim, nulls), (vec![1.0, 2.0, 3.0, 4.0], 1, vec![]));
    let (values, dim, _) = vectors(f, "int_items");
    assert_eq!(
        (values, dim),
        (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 2)
    );
}

#[test]
fn every_type_round_trips_in_every_binary_format() {
    let dir = tempfile::tempdir().unwrap();
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "every", format, &[every_type()]);
        assert_eq!(Format::detect(&path).unwrap(), format);
        let f = all(&path);
        check_every_type(&f, format.name());
        assert_eq!(f.source_columns().len(), 20);
    }
}

#[test]
fn table_columns_reports_kinds_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "kinds", format, &[every_type()]);
        let kinds: BTreeMap<String, String> = table_columns(&path, &ReadOptions::default())
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(kinds["f16"], "float");
        assert_eq!(kinds["u64"], "integer");
        assert_eq!(kinds["flag"], "boolean");
        assert_eq!(kinds["dict"], "string");
        assert_eq!(kinds["view"], "string");
        assert_eq!(kinds["fixed"], "vector[3]");
        assert_eq!(kinds["list64"], "vector");
        let some = table_columns(&path, &cols(&["fixed", "utf8"])).unwrap();
        assert_eq!(
            some,
            vec![
                ("fixed".to_string(), "vector[3]".to_string()),
                ("utf8".to_string(), "string".to_string())
            ]
        );
        let err = table_columns(&path, &cols(&["utf"])).unwrap_err();
        assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    }
}

#[test]
fn unsupported_types_are_named_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(vec![
        ("when", Arc::new(TimestampSecondArray::from(vec![1, 2]))),
        ("x", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
    ]);
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "ts", format, std::slice::from_ref(&b));
        let err = read_table(&path, &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
        assert!(msg.contains("'when'") && msg.contains("Timestamp"), "{msg}");
        assert!(msg.contains("cast it to a string or number"), "{msg}");
        // Not requested: not read, so no error.
        let f = read_table(&path, &cols(&["x"])).unwrap();
        assert_eq!(floats(&f, "x"), vec![1.0, 2.0]);
        let kinds = table_columns(&path, &ReadOptions::default()).unwrap();
        assert!(
            kinds[0].1.starts_with("unsupported (Timestamp"),
            "{kinds:?}"
        );
    }
}

#[test]
fn list_of_strings_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let values = StringArray::from(vec!["a", "b"]);
    let list = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Utf8, true)),
        arrow::buffer::OffsetBuffer::from_lengths([1, 1]),
        Arc::new(values),
        None,
    );
    let path = write(
        dir.path(),
        "ls",
        Format::Parquet,
        &[batch(vec![("tags", Arc::new(list))])],
    );
    let err = read_table(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    assert!(err.to_string().contains("'tags'"), "{err}");
}

// ------------------------------------------------------------ projection

#[test]
fn projection_keeps_request_order_and_suggests_unread_columns() {
    let dir = tempfile::tempdir().unwrap();
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "proj", format, &[every_type()]);
        let f = read_table(&path, &cols(&["utf8", "f64", "fixed", "utf8"])).unwrap();
        let names: Vec<&str> = f.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["utf8", "f64", "fixed"], "{}", format.name());
        // Every source column is known, read or not.
        assert_eq!(f.source_columns().len(), 20);
        assert!(f.source_columns().iter().any(|c| c == "large_utf8"));
        let err = f.require("large-utf8", "attribute").unwrap_err();
        assert!(
            err.to_string().contains("did you mean 'large_utf8'"),
            "{err}"
        );

        let err = read_table(&path, &cols(&["f64", "flg"])).unwrap_err();
        let msg = err.to_string();
        match &err {
            Error::ColumnNotFound {
                name, suggestions, ..
            } => {
                assert_eq!(name, "flg");
                assert!(suggestions.contains(&"flag".to_string()), "{msg}");
            }
            other => panic!("expected ColumnNotFound, got {other}"),
        }
        assert!(msg.contains("did you mean 'flag'"), "{msg}");

        // No columns at all: just the row count.
        let f = read_table(&path, &cols(&[])).unwrap();
        assert!(f.columns().is_empty());
    }
}

// ------------------------------------------------------------ batches

/// Three batches whose dictionaries differ (and overlap).
fn dictionary_batches() -> Vec<RecordBatch> {
    let parts: [Vec<Option<&str>>; 3] = [
        vec![Some("red"), Some("green"), Some("red")],
        vec![Some("blue"), None, Some("green")],
        vec![Some("green"), Some("violet"), Some("blue")],
    ];
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let d: DictionaryArray<Int32Type> = p.into_iter().collect();
            let lists = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
                (0..3).map(|r| Some(vec![Some((i * 3 + r) as f32), Some(-1.0)])),
                2,
            );
            batch(vec![
                ("color", Arc::new(d) as ArrayRef),
                ("emb", Arc::new(lists)),
            ])
        })
        .collect()
}

fn check_dictionary_batches(f: &Frame) {
    assert_eq!(f.n_rows(), 9);
    assert_eq!(
        strings(f, "color"),
        s(&[
            Some("red"),
            Some("green"),
            Some("red"),
            Some("blue"),
            None,
            Some("green"),
            Some("green"),
            Some("violet"),
            Some("blue")
        ])
    );
    if let ColumnData::Categorical { levels, .. } = data(f, "color") {
        assert_eq!(levels.len(), 4, "{levels:?}");
    }
    let (values, dim, _) = vectors(f, "emb");
    assert_eq!(dim, 2);
    let firsts: Vec<f32> = values.chunks(2).map(|c| c[0]).collect();
    assert_eq!(firsts, (0..9).map(|x| x as f32).collect::<Vec<_>>());
}

#[test]
fn dictionaries_differing_between_batches_share_levels() {
    let dir = tempfile::tempdir().unwrap();
    let batches = dictionary_batches();
    // Streams allow a new dictionary per batch.
    let path = write(dir.path(), "dict", Format::ArrowIpcStream, &batches);
    check_dictionary_batches(&all(&path));
    // Parquet: one row group per batch, each with its own dictionary.
    let path = dir.path().join("dict.parquet");
    write_parquet(&path, &batches, Some(3));
    check_dictionary_batches(&all(&path));
}

#[test]
fn many_row_groups_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5000usize;
    let b = batch(vec![
        (
            "x",
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))) as ArrayRef,
        ),
        (
            "emb",
            Arc::new(
                FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
                    (0..n).map(|i| Some(vec![Some(i as f32), Some(0.5)])),
                    2,
                ),
            ),
        ),
        (
            "lst",
            Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
                (0..n).map(|i| {
                    if i % 7 == 0 {
                        None
                    } else {
                        Some(vec![Some(i as f32)])
                    }
                }),
            )),
        ),
    ]);
    let path = dir.path().join("many.parquet");
    write_parquet(&path, &[b.slice(0, 2000), b.slice(2000, 3000)], Some(700));
    let f = all(&path);
    assert_eq!(f.n_rows(), n);
    assert_eq!(
        floats(&f, "x"),
        (0..n).map(|i| i as f64).collect::<Vec<_>>()
    );
    let (values, dim, _) = vectors(&f, "emb");
    assert_eq!(dim, 2);
    assert!(values
        .chunks(2)
        .enumerate()
        .all(|(i, c)| c == [i as f32, 0.5]));
    let (values, dim, nulls) = vectors(&f, "lst");
    assert_eq!(dim, 1);
    assert_eq!(nulls, (0..n).filter(|i| i % 7 == 0).collect::<Vec<_>>());
    assert!(values.iter().enumerate().all(|(i, v)| if i % 7 == 0 {
        v.is_nan()
    } else {
        *v == i as f32
    }));
}

#[test]
fn leading_null_lists_get_the_later_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let mk = |rows: Vec<Option<Vec<Option<f32>>>>| {
        batch(vec![(
            "emb",
            Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows)) as ArrayRef,
        )])
    };
    let batches = vec![
        mk(vec![None, None]),
        mk(vec![None, Some(vec![Some(1.0), Some(2.0)])]),
        mk(vec![Some(vec![Some(3.0), Some(4.0)])]),
    ];
    let path = write(dir.path(), "lead", Format::ArrowIpcStream, &batches);
    let f = all(&path);
    let (values, dim, nulls) = vectors(&f, "emb");
    assert_eq!((dim, nulls.clone()), (2, vec![0, 1, 2]));
    assert_eq!(values.len(), 10);
    assert!(values[..6].iter().all(|v| v.is_nan()));
    assert_eq!(&values[6..], &[1.0, 2.0, 3.0, 4.0]);

    // All rows null in a variable-size list: no dimension, a clear error.
    let path = write(
        dir.path(),
        "allnull",
        Format::ArrowIpcStream,
        &[mk(vec![None, None])],
    );
    let err = read_table(&path, &ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("all null or empty"), "{err}");

    // All rows null in a fixed-size list: the type gives the dimension.
    let fixed = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
        vec![None::<Vec<Option<f32>>>, None],
        4,
    );
    let path = write(
        dir.path(),
        "fixnull",
        Format::Parquet,
        &[batch(vec![("e", Arc::new(fixed) as ArrayRef)])],
    );
    let (values, dim, nulls) = vectors(&all(&path), "e");
    assert_eq!((dim, nulls, values.len()), (4, vec![0, 1], 8));
}

#[test]
fn ragged_lists_name_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lists = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
        None,
        Some(vec![Some(1.0), Some(2.0), Some(3.0)]),
        Some(vec![Some(1.0), Some(2.0), Some(3.0)]),
        Some(vec![Some(1.0), Some(2.0)]),
    ]);
    let b = batch(vec![("emb", Arc::new(lists) as ArrayRef)]);
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "ragged", format, std::slice::from_ref(&b));
        let err = read_table(&path, &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
        assert!(
            msg.contains("'emb'") && msg.contains("lists of different lengths"),
            "{msg}"
        );
        assert!(
            msg.contains("row 1 has 3") && msg.contains("row 3 has 2"),
            "{msg}"
        );
    }
}

#[test]
fn uint64_overflow_is_an_error_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(vec![(
        "count",
        Arc::new(UInt64Array::from(vec![Some(1), None, Some(u64::MAX)])) as ArrayRef,
    )]);
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "u64", format, std::slice::from_ref(&b));
        let err = read_table(&path, &ReadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
        assert!(
            msg.contains("'count'") && msg.contains("18446744073709551615"),
            "{msg}"
        );
        assert!(msg.contains("row 2"), "{msg}");
    }
}

#[test]
fn empty_tables_have_zero_rows() {
    let dir = tempfile::tempdir().unwrap();
    let b = every_type().slice(0, 0);
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "empty", format, std::slice::from_ref(&b));
        let f = all(&path);
        assert_eq!(f.n_rows(), 0, "{}", format.name());
        assert_eq!(f.columns().len(), 20);
        assert_eq!(vectors(&f, "fixed").1, 3);
    }
    let path = dir.path().join("empty.csv");
    std::fs::write(&path, "a,b\n").unwrap();
    let f = all(&path);
    assert_eq!((f.n_rows(), f.columns().len()), (0, 2));
}

// ------------------------------------------------------------ CSV

fn csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn csv_inference_of_every_kind_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(
        dir.path(),
        "t.csv",
        "id,score,ok,city,when,empty,big\n\
         1,0.5,true,Paris,2024-01-01,,1\n\
         2,NA,false,NA,2024-01-02,,2\n\
         ,1e3,True,Lyon,2024-01-03,,3\n\
         4,NaN,,?,2024-01-04,,4.5\n\
         5,-2,FALSE,None,null,,5\n",
    );
    let f = all(&path);
    assert_eq!(f.n_rows(), 5);
    assert_eq!(
        ints(&f, "id"),
        vec![Some(1), Some(2), None, Some(4), Some(5)]
    );
    let v = floats(&f, "score");
    assert_eq!((v[0], v[2], v[4]), (0.5, 1000.0, -2.0));
    assert!(v[1].is_nan() && v[3].is_nan());
    assert_eq!(
        bools(&f, "ok"),
        vec![Some(true), Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        strings(&f, "city"),
        s(&[Some("Paris"), None, Some("Lyon"), None, None])
    );
    // Dates in a CSV are text, not refused.
    assert_eq!(strings(&f, "when")[0], Some("2024-01-01".to_string()));
    assert_eq!(strings(&f, "when")[4], None);
    assert_eq!(strings(&f, "empty"), vec![None; 5]);
    assert_eq!(floats(&f, "big"), vec![1.0, 2.0, 3.0, 4.5, 5.0]);

    let kinds = table_columns(&path, &ReadOptions::default()).unwrap();
    let kinds: Vec<&str> = kinds.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["integer", "float", "boolean", "string", "string", "string", "float"]
    );
}

#[test]
fn csv_overrides_null_values_and_projection() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(
        dir.path(),
        "o.csv",
        "zip,label,score\n01234,1,0.5\n99999,0,-\n00042,1,2\n",
    );
    let mut opts = ReadOptions::default();
    opts.csv.types.insert("zip".into(), CsvType::String);
    opts.csv
        .types
        .insert("label".into(), "float".parse().unwrap());
    opts.csv.null_values = vec!["-".into()];
    opts.columns = Some(vec!["score".into(), "zip".into(), "label".into()]);
    let f = read_table(&path, &opts).unwrap();
    let names: Vec<&str> = f.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["score", "zip", "label"]);
    assert_eq!(
        strings(&f, "zip"),
        s(&[Some("01234"), Some("99999"), Some("00042")])
    );
    assert_eq!(floats(&f, "label"), vec![1.0, 0.0, 1.0]);
    let v = floats(&f, "score");
    assert_eq!((v[0], v[2]), (0.5, 2.0));
    assert!(v[1].is_nan());

    // Int override of a float-looking column fails while parsing.
    opts.csv.types.insert("score".into(), CsvType::Int);
    let err = read_table(&path, &opts).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");

    // Overriding a column that does not exist.
    let mut opts = ReadOptions::default();
    opts.csv.types.insert("labl".into(), CsvType::Int);
    let err = read_table(&path, &opts).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{msg}");
    assert!(
        msg.contains("'labl'") && msg.contains("did you mean 'label'"),
        "{msg}"
    );

    // Requested column absent.
    let err = read_table(&path, &cols(&["scores"])).unwrap_err();
    assert!(err.to_string().contains("did you mean 'score'"), "{err}");
}

#[test]
fn csv_type_names_parse() {
    for (s, t) in [
        ("string", CsvType::String),
        ("STR", CsvType::String),
        ("category", CsvType::String),
        ("float", CsvType::Float),
        ("int", CsvType::Int),
        ("Integer", CsvType::Int),
        ("bool", CsvType::Bool),
        ("boolean", CsvType::Bool),
    ] {
        assert_eq!(s.parse::<CsvType>().unwrap(), t);
    }
    let err = "double".parse::<CsvType>().unwrap_err().to_string();
    assert!(
        err.contains("'double'") && err.contains("float") && err.contains("bool"),
        "{err}"
    );
    assert_eq!(CsvType::Float.to_string(), "float");
}

#[test]
fn tsv_delimiters_and_headerless_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(dir.path(), "t.tsv", "a b\tc\n1\tx,y\n2\tz\n");
    let f = all(&path);
    assert_eq!(ints(&f, "a b"), vec![Some(1), Some(2)]);
    assert_eq!(strings(&f, "c"), s(&[Some("x,y"), Some("z")]));

    // Sniffed: tabs and no commas on the first line.
    let path = csv(dir.path(), "t.txt", "a\tb\n1\t2\n");
    assert_eq!(ints(&all(&path), "b"), vec![Some(2)]);

    // Explicit delimiter, no header.
    let path = csv(dir.path(), "semi.csv", "1;x\n2;y\n");
    let mut opts = ReadOptions::default();
    opts.csv.delimiter = Some(b';');
    opts.csv.has_header = false;
    let f = read_table(&path, &opts).unwrap();
    assert_eq!(ints(&f, "column_1"), vec![Some(1), Some(2)]);
    assert_eq!(strings(&f, "column_2"), s(&[Some("x"), Some("y")]));
}

#[test]
fn csv_inference_over_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(dir.path(), "s.csv", "x\n1\n2\n3.5\n");
    // Whole file: float.
    assert_eq!(floats(&all(&path), "x"), vec![1.0, 2.0, 3.5]);
    // Two rows: integer, then a parse error with a hint.
    let mut opts = ReadOptions::default();
    opts.csv.infer_rows = Some(2);
    let err = read_table(&path, &opts).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Format { .. }), "{msg}");
    assert!(msg.contains("3.5") && msg.contains("first 2 rows"), "{msg}");
}

#[test]
fn csv_ragged_rows_are_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(dir.path(), "bad.csv", "a,b\n1,2\n3\n");
    let err = read_table(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
}

// ------------------------------------------------------------ detection and files

#[test]
fn detection_by_magic_beats_extension() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(vec![(
        "x",
        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
    )]);
    let p = dir.path().join("really_parquet.csv");
    write_parquet(&p, std::slice::from_ref(&b), None);
    assert_eq!(Format::detect(&p).unwrap(), Format::Parquet);
    assert_eq!(ints(&all(&p), "x"), vec![Some(1), Some(2), Some(3)]);

    let p = dir.path().join("stream.arrow");
    write_ipc_stream(&p, std::slice::from_ref(&b));
    assert_eq!(Format::detect(&p).unwrap(), Format::ArrowIpcStream);
    assert_eq!(ints(&all(&p), "x"), vec![Some(1), Some(2), Some(3)]);

    let p = dir.path().join("file.feather");
    write_ipc_file(&p, std::slice::from_ref(&b));
    assert_eq!(Format::detect(&p).unwrap(), Format::ArrowIpcFile);

    let p = dir.path().join("noext");
    write_ipc_file(&p, std::slice::from_ref(&b));
    assert_eq!(Format::detect(&p).unwrap(), Format::ArrowIpcFile);

    for (name, format) in [
        ("a.PQ", Format::Parquet),
        ("a.ipc", Format::ArrowIpcFile),
        ("a.arrows", Format::ArrowIpcStream),
        ("a.TSV", Format::Csv),
        ("a.txt", Format::Csv),
    ] {
        let p = csv(dir.path(), name, "x\n1\n");
        assert_eq!(Format::detect(&p).unwrap(), format, "{name}");
    }

    // An explicit format skips detection.
    let p = csv(dir.path(), "data.dat", "x\n7\n");
    let opts = ReadOptions {
        format: Some(Format::Csv),
        ..ReadOptions::default()
    };
    assert_eq!(ints(&read_table(&p, &opts).unwrap(), "x"), vec![Some(7)]);
}

#[test]
fn unknown_formats_list_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = csv(dir.path(), "table.xlsx", "whatever");
    let err = read_table(&p, &ReadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Format { .. }), "{msg}");
    assert!(
        msg.contains(".xlsx") && msg.contains("Parquet") && msg.contains(".csv"),
        "{msg}"
    );

    let p = dir.path().join("emb.npy");
    std::fs::write(&p, b"\x93NUMPY\x01\x00").unwrap();
    let msg = Format::detect(&p).unwrap_err().to_string();
    assert!(msg.contains("NumPy"), "{msg}");
}

#[test]
fn missing_files_and_directories_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.parquet");
    let err = read_table(&missing, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");
    // Also with an explicit format, for each reader.
    for format in [
        Format::Parquet,
        Format::ArrowIpcFile,
        Format::ArrowIpcStream,
        Format::Csv,
    ] {
        let opts = ReadOptions {
            format: Some(format),
            ..ReadOptions::default()
        };
        let err = read_table(&missing, &opts).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{}: {err}", format.name());
        let err = read_table(dir.path(), &opts).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{}: {err}", format.name());
        assert!(err.to_string().contains("directory"), "{err}");
    }
    let err = read_table(dir.path(), &ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[test]
fn garbage_with_a_parquet_extension_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.parquet");
    std::fs::write(
        &p,
        b"this is not parquet at all, just some text\n".repeat(20),
    )
    .unwrap();
    let err = read_table(&p, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(err.to_string().contains("Parquet"), "{err}");
    let p = dir.path().join("empty.parquet");
    std::fs::write(&p, b"").unwrap();
    let err = read_table(&p, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
}

fn truncate(path: &Path, keep: usize) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let ext = path.extension().unwrap().to_str().unwrap();
    let out = path.with_file_name(format!("cut_{keep}.{ext}"));
    std::fs::write(&out, &bytes[..keep.min(bytes.len())]).unwrap();
    out
}

#[test]
fn truncated_files_are_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let batches = vec![every_type(), every_type(), every_type()];
    for format in BINARY_FORMATS {
        let path = write(dir.path(), "whole", format, &batches);
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        // Cut in the middle of the data (the stream keeps its schema).
        let cut = truncate(&path, len * 2 / 3);
        let err = read_table(&cut, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::Format { .. }),
            "{}: {err}",
            format.name()
        );
        assert!(err.to_string().contains(format.name()), "{err}");
        let cut = truncate(&path, 10);
        let err = read_table(&cut, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::Format { .. }),
            "{}: {err}",
            format.name()
        );
    }
}

/// Cutting or corrupting a file anywhere gives an error or (for some
/// bytes) a result, never a panic or an abort.
#[test]
fn corrupted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let batches = vec![every_type(), every_type()];
    // An embedding-only file exercises Parquet's fast path on its own.
    let emb = batch(vec![(
        "emb",
        Arc::new(
            FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
                (0..200).map(|r| Some((0..16).map(|j| Some((r * j) as f32)).collect::<Vec<_>>())),
                16,
            ),
        ) as ArrayRef,
    )]);
    let cases = BINARY_FORMATS
        .iter()
        .map(|f| (*f, batches.clone()))
        .chain([(Format::Parquet, vec![emb.clone(), emb])]);
    for (format, batches) in cases {
        let path = write(dir.path(), "fuzz", format, &batches);
        let bytes = std::fs::read(&path).unwrap();
        let ext = path.extension().unwrap().to_str().unwrap().to_string();
        let target = dir.path().join(format!("corrupt.{ext}"));
        let opts = ReadOptions {
            format: Some(format),
            ..ReadOptions::default()
        };
        let step = (bytes.len() / 60).max(1);
        for keep in (0..bytes.len()).step_by(step) {
            std::fs::write(&target, &bytes[..keep]).unwrap();
            let _ = read_table(&target, &opts);
            let _ = table_columns(&target, &opts);
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        // SLICESCOPE_FUZZ_ITERS=5000 for a longer run.
        let iters = std::env::var("SLICESCOPE_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(150);
        for _ in 0..iters {
            let mut b = bytes.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % b.len() as u64) as usize;
                b[i] = (state >> 32) as u8;
            }
            std::fs::write(&target, &b).unwrap();
            if let Err(e) = read_table(&target, &opts) {
                assert!(
                    matches!(
                        e,
                        Error::Format { .. } | Error::InvalidInput(_) | Error::ShapeMismatch(_)
                    ),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn lz4_and_zstd_compressed_ipc_files_are_read() {
    use arrow::ipc::writer::IpcWriteOptions;
    use arrow::ipc::CompressionType;
    let dir = tempfile::tempdir().unwrap();
    for (name, codec) in [
        ("lz4", CompressionType::LZ4_FRAME),
        ("zstd", CompressionType::ZSTD),
    ] {
        let p = dir.path().join(format!("{name}.feather"));
        let opts = IpcWriteOptions::default()
            .try_with_compression(Some(codec))
            .unwrap();
        let b = every_type();
        let mut w =
            FileWriter::try_new_with_options(File::create(&p).unwrap(), &b.schema(), opts).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        check_every_type(&all(&p), name);
    }
}

/// Embedding columns without nulls take Parquet's fast path; the result
/// must be the same as through the Arrow reader, across row groups and
/// small pages, for f32 and f64 items and all list kinds.
#[test]
fn parquet_embeddings_without_nulls_across_pages_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000usize;
    let dim = 7usize;
    let value = |r: usize, j: usize| (r * 31 + j) as f32 * 0.25 - 100.0;
    let rows32 = || (0..n).map(|r| Some((0..dim).map(|j| Some(value(r, j))).collect::<Vec<_>>()));
    let rows64 = || {
        (0..n).map(|r| {
            Some(
                (0..dim)
                    .map(|j| Some(f64::from(value(r, j))))
                    .collect::<Vec<_>>(),
            )
        })
    };
    let b = batch(vec![
        (
            "fixed32",
            Arc::new(
                FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(rows32(), dim as i32),
            ) as ArrayRef,
        ),
        (
            "fixed64",
            Arc::new(
                FixedSizeListArray::from_iter_primitive::<Float64Type, _, _>(rows64(), dim as i32),
            ),
        ),
        (
            "list32",
            Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows32())),
        ),
        (
            "large64",
            Arc::new(LargeListArray::from_iter_primitive::<Float64Type, _, _>(
                rows64(),
            )),
        ),
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64))),
    ]);
    let path = dir.path().join("fast.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1100))
        .set_data_page_size_limit(1000)
        .set_write_batch_size(100)
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(&path).unwrap(), b.schema(), Some(props)).unwrap();
    w.write(&b.slice(0, 1700)).unwrap();
    w.write(&b.slice(1700, n - 1700)).unwrap();
    w.close().unwrap();

    let expected: Vec<f32> = (0..n)
        .flat_map(|r| (0..dim).map(move |j| value(r, j)))
        .collect();
    // All columns, some columns, only the embeddings.
    for names in [
        vec!["fixed32", "fixed64", "list32", "large64", "id"],
        vec!["large64", "id", "list32"],
        vec!["list32", "fixed32"],
    ] {
        let f = read_table(&path, &cols(&names)).unwrap();
        assert_eq!(f.n_rows(), n);
        let got: Vec<&str> = f.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(got, names, "requested order");
        for name in names.iter().filter(|c| **c != "id") {
            let (values, d, nulls) = vectors(&f, name);
            assert_eq!((d, nulls.len()), (dim, 0), "{name}");
            assert!(values == expected, "{name}");
        }
    }

    // Ragged rows without any null: reported with the rows involved.
    let ragged = ListArray::from_iter_primitive::<Float32Type, _, _>(
        (0..n).map(|r| Some(vec![Some(1.0); if r == 2500 { 3 } else { 4 }])),
    );
    let path = dir.path().join("ragged_nonull.parquet");
    write_parquet(
        &path,
        &[batch(vec![("emb", Arc::new(ragged) as ArrayRef)])],
        Some(1000),
    );
    let msg = read_table(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("row 0 has 4 values but row 2500 has 3"),
        "{msg}"
    );

    // Empty lists without nulls are ragged too.
    let with_empty = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![]),
    ]);
    let path = dir.path().join("empty_list.parquet");
    write_parquet(
        &path,
        &[batch(vec![("emb", Arc::new(with_empty) as ArrayRef)])],
        None,
    );
    let msg = read_table(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("row 1 has 0"), "{msg}");
}

#[test]
fn a_duplicated_column_name_is_refused_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(vec![
        (
            "x",
            Arc::new(Float64Array::from(vec![1.5, 2.0])) as ArrayRef,
        ),
        ("a", Arc::new(StringArray::from(vec!["p", "q"]))),
        ("a", Arc::new(StringArray::from(vec!["r", "s"]))),
    ]);
    let csv = dir.path().join("dup.csv");
    std::fs::write(&csv, "x,a,a\n1.5,p,r\n2,q,s\n").unwrap();
    let mut paths: Vec<PathBuf> = BINARY_FORMATS
        .iter()
        .map(|&f| write(dir.path(), "dup", f, std::slice::from_ref(&b)))
        .collect();
    paths.push(csv);
    for path in &paths {
        // Which of the two 'a' is meant cannot be told: refused, named.
        let err = read_table(path, &cols(&["x", "a"])).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("column 'a' appears 2 times in the input (columns 2, 3)"),
            "{}: {msg}",
            path.display()
        );
        // The other columns read as usual.
        let f = read_table(path, &cols(&["x"])).unwrap();
        assert_eq!(floats(&f, "x"), vec![1.5, 2.0]);
    }
}
