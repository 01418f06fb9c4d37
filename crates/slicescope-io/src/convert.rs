//! Arrow arrays to [`ColumnData`], appended batch by batch.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type, UInt64Type};
use slicescope_core::{Column, ColumnData, Error, Result};

/// What a column becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ColumnData::Float`.
    Float,
    /// `ColumnData::Int`.
    Int,
    /// `ColumnData::Bool`.
    Bool,
    /// `ColumnData::Categorical`.
    Str,
    /// `ColumnData::Vector`; `Some(n)` for fixed-size lists.
    Vector(Option<usize>),
}

impl Kind {
    /// The kind of an Arrow type, or `None` when slicescope cannot use it.
    pub(crate) fn of(dt: &DataType) -> Option<Kind> {
        match dt {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(Kind::Float),
            dt if is_integer(dt) => Some(Kind::Int),
            DataType::Boolean => Some(Kind::Bool),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                Some(Kind::Str)
            }
            DataType::Dictionary(key, value) if is_integer(key) => match Kind::of(value) {
                Some(Kind::Vector(_)) | None => None,
                Some(kind) => Some(kind),
            },
            DataType::FixedSizeList(item, n) if is_number(item.data_type()) => {
                usize::try_from(*n).ok().map(|n| Kind::Vector(Some(n)))
            }
            DataType::List(item) | DataType::LargeList(item) if is_number(item.data_type()) => {
                Some(Kind::Vector(None))
            }
            _ => None,
        }
    }

    /// The user-facing name of a kind, as [`crate::table_columns`] reports it.
    pub(crate) fn describe(dt: &DataType) -> String {
        match Kind::of(dt) {
            Some(Kind::Float) => "float".into(),
            Some(Kind::Int) => "integer".into(),
            Some(Kind::Bool) => "boolean".into(),
            Some(Kind::Str) => "string".into(),
            Some(Kind::Vector(Some(n))) => format!("vector[{n}]"),
            Some(Kind::Vector(None)) => "vector".into(),
            None => format!("unsupported ({dt})"),
        }
    }
}

fn is_integer(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

fn is_number(dt: &DataType) -> bool {
    is_integer(dt)
        || matches!(
            dt,
            DataType::Float16 | DataType::Float32 | DataType::Float64
        )
}

/// The error for a column of a type slicescope cannot use.
pub(crate) fn unsupported(name: &str, dt: &DataType) -> Error {
    let hint = match dt {
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            format!(
                "list columns must hold numbers (embeddings), not {}",
                item.data_type()
            )
        }
        _ => "cast it to a string or number".to_string(),
    };
    Error::InvalidInput(format!(
        "column '{name}' has type {dt}, which slicescope cannot use yet; {hint}"
    ))
}

/// Accumulates one column over all batches.
pub(crate) struct ColumnBuilder {
    name: String,
    /// Rows appended so far.
    rows: usize,
    data: Data,
}

enum Data {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Str {
        codes: Vec<Option<u32>>,
        levels: Vec<String>,
        index: HashMap<String, u32>,
    },
    Vector {
        values: Vec<f32>,
        /// The vector length, once known (from the type or the first
        /// non-null row).
        dim: Option<usize>,
        /// The first non-null row, which fixed `dim` (for ragged errors).
        first_row: Option<usize>,
        null_rows: Vec<usize>,
        /// Expected total rows, to reserve `values` once `dim` is known.
        rows_hint: usize,
    },
}

impl ColumnBuilder {
    /// A builder for column `name` of Arrow type `dt`; `rows_hint` is the
    /// expected number of rows (0 when unknown), used to reserve memory.
    pub(crate) fn new(name: &str, dt: &DataType, rows_hint: usize) -> Result<Self> {
        let kind = Kind::of(dt).ok_or_else(|| unsupported(name, dt))?;
        let data = match kind {
            Kind::Float => Data::Float(reserved(rows_hint)),
            Kind::Int => Data::Int(reserved(rows_hint)),
            Kind::Bool => Data::Bool(reserved(rows_hint)),
            Kind::Str => Data::Str {
                codes: reserved(rows_hint),
                levels: Vec::new(),
                index: HashMap::new(),
            },
            Kind::Vector(fixed) => Data::Vector {
                values: match fixed {
                    Some(dim) => reserved(rows_hint.saturating_mul(dim)),
                    None => Vec::new(),
                },
                dim: fixed,
                first_row: None,
                null_rows: Vec::new(),
                rows_hint,
            },
        };
        Ok(ColumnBuilder {
            name: name.to_string(),
            rows: 0,
            data,
        })
    }

    /// The column name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Append the rows of one batch's array.
    pub(crate) fn append(&mut self, array: &ArrayRef) -> Result<()> {
        let name = self.name.as_str();
        let start_row = self.rows;
        match &mut self.data {
            Data::Float(out) => append_float(name, array, out)?,
            Data::Int(out) => append_int(name, array, out, start_row)?,
            Data::Bool(out) => {
                let array = cast_to(name, array, &DataType::Boolean)?;
                let a = array
                    .as_boolean_opt()
                    .ok_or_else(|| internal(name, &array))?;
                out.extend(a.iter());
            }
            Data::Str {
                codes,
                levels,
                index,
            } => append_str(name, array, codes, levels, index)?,
            Data::Vector {
                values,
                dim,
                first_row,
                null_rows,
                rows_hint,
            } => {
                let mut v = VectorSink {
                    name,
                    values,
                    dim,
                    first_row,
                    null_rows,
                    rows_hint: *rows_hint,
                    row: start_row,
                };
                v.append(array)?;
            }
        }
        self.rows += array.len();
        Ok(())
    }

    /// The finished column.
    pub(crate) fn finish(self) -> Result<Column> {
        let data = match self.data {
            Data::Float(v) => ColumnData::Float(v),
            Data::Int(v) => ColumnData::Int(v),
            Data::Bool(v) => ColumnData::Bool(v),
            Data::Str { codes, levels, .. } => ColumnData::Categorical { codes, levels },
            Data::Vector {
                mut values,
                dim,
                null_rows,
                ..
            } => {
                let dim = dim.unwrap_or(0);
                if dim == 0 && self.rows > 0 {
                    return Err(Error::InvalidInput(format!(
                        "column '{}' is a list column whose rows are all null or empty, so it \
                         has no vector length; it cannot be used as an embedding",
                        self.name
                    )));
                }
                values.shrink_to_fit();
                ColumnData::Vector {
                    values,
                    dim,
                    null_rows,
                }
            }
        };
        Ok(Column::new(self.name, data))
    }
}

/// A vector with capacity for `n` items, or an empty one when that much
/// memory cannot be had (a corrupt row count must not abort the process).
fn reserved<T>(n: usize) -> Vec<T> {
    let mut v = Vec::new();
    let _ = v.try_reserve_exact(n);
    v
}

fn internal(name: &str, array: &ArrayRef) -> Error {
    Error::InvalidInput(format!(
        "column '{name}': unexpected array type {} in the data",
        array.data_type()
    ))
}

fn cast_to(name: &str, array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    cast(array, to).map_err(|e| {
        Error::InvalidInput(format!(
            "column '{name}': cannot convert {} to {to}: {e}",
            array.data_type()
        ))
    })
}

fn append_float(name: &str, array: &ArrayRef, out: &mut Vec<f64>) -> Result<()> {
    let array = cast_to(name, array, &DataType::Float64)?;
    let a = array
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| internal(name, &array))?;
    if a.null_count() == 0 {
        out.extend_from_slice(a.values());
    } else {
        out.extend(a.iter().map(|x| x.unwrap_or(f64::NAN)));
    }
    Ok(())
}

fn append_int(
    name: &str,
    array: &ArrayRef,
    out: &mut Vec<Option<i64>>,
    start_row: usize,
) -> Result<()> {
    let value_type = match array.data_type() {
        DataType::Dictionary(_, v) => v.as_ref(),
        dt => dt,
    };
    if value_type == &DataType::UInt64 {
        let array = cast_to(name, array, &DataType::UInt64)?;
        let a = array
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| internal(name, &array))?;
        out.reserve(a.len());
        for (i, v) in a.iter().enumerate() {
            out.push(match v {
                None => None,
                Some(v) => Some(i64::try_from(v).map_err(|_| {
                    Error::InvalidInput(format!(
                        "column '{name}' holds the unsigned value {v} at row {}, which does \
                         not fit a signed 64-bit integer",
                        start_row + i
                    ))
                })?),
            });
        }
        return Ok(());
    }
    let array = cast_to(name, array, &DataType::Int64)?;
    let a = array
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| internal(name, &array))?;
    out.extend(a.iter());
    Ok(())
}

/// The values of a string array (Utf8, LargeUtf8, Utf8View or Null).
fn strings(array: &dyn Array) -> Option<Box<dyn Iterator<Item = Option<&str>> + '_>> {
    match array.data_type() {
        DataType::Utf8 => Some(Box::new(array.as_string_opt::<i32>()?.iter())),
        DataType::LargeUtf8 => Some(Box::new(array.as_string_opt::<i64>()?.iter())),
        DataType::Utf8View => Some(Box::new(array.as_string_view_opt()?.iter())),
        DataType::Null => Some(Box::new(std::iter::repeat_n(None, array.len()))),
        _ => None,
    }
}

fn level_code(
    name: &str,
    s: &str,
    levels: &mut Vec<String>,
    index: &mut HashMap<String, u32>,
) -> Result<u32> {
    if let Some(&code) = index.get(s) {
        return Ok(code);
    }
    let code = u32::try_from(levels.len()).map_err(|_| {
        Error::InvalidInput(format!(
            "column '{name}' has more than {} distinct values",
            u32::MAX
        ))
    })?;
    levels.push(s.to_string());
    index.insert(s.to_string(), code);
    Ok(code)
}

fn append_str(
    name: &str,
    array: &ArrayRef,
    codes: &mut Vec<Option<u32>>,
    levels: &mut Vec<String>,
    index: &mut HashMap<String, u32>,
) -> Result<()> {
    codes.reserve(array.len());
    if let Some(dict) = array.as_any_dictionary_opt() {
        let values = dict.values();
        let values: Vec<Option<&str>> = strings(values.as_ref())
            .ok_or_else(|| internal(name, values))?
            .collect();
        if values.is_empty() {
            codes.extend(std::iter::repeat_n(None, array.len()));
            return Ok(());
        }
        // This batch's dictionary, mapped lazily to global level codes, so
        // that only the values actually used become levels.
        const UNMAPPED: u32 = u32::MAX;
        let mut global = vec![UNMAPPED; values.len()];
        for (i, key) in dict.normalized_keys().into_iter().enumerate() {
            if array.is_null(i) {
                codes.push(None);
                continue;
            }
            let Some(Some(s)) = values.get(key) else {
                codes.push(None);
                continue;
            };
            if global[key] == UNMAPPED {
                global[key] = level_code(name, s, levels, index)?;
            }
            codes.push(Some(global[key]));
        }
        return Ok(());
    }
    let iter = strings(array.as_ref()).ok_or_else(|| internal(name, array))?;
    for s in iter {
        codes.push(match s {
            None => None,
            Some(s) => Some(level_code(name, s, levels, index)?),
        });
    }
    Ok(())
}

/// Appends list arrays to a row-major f32 matrix.
struct VectorSink<'a> {
    name: &'a str,
    values: &'a mut Vec<f32>,
    dim: &'a mut Option<usize>,
    first_row: &'a mut Option<usize>,
    null_rows: &'a mut Vec<usize>,
    rows_hint: usize,
    /// Global index of the batch's first row.
    row: usize,
}

impl VectorSink<'_> {
    fn append(&mut self, array: &ArrayRef) -> Result<()> {
        let name = self.name;
        // Per row: (start, len) into `child`, or None for a null row.
        let (child, offsets): (ArrayRef, Vec<Option<(usize, usize)>>) = match array.data_type() {
            DataType::FixedSizeList(_, _) => {
                let a = array
                    .as_fixed_size_list_opt()
                    .ok_or_else(|| internal(name, array))?;
                let size = a.value_length().max(0) as usize;
                let offsets = (0..a.len())
                    .map(|i| {
                        a.is_valid(i)
                            .then(|| (a.value_offset(i).max(0) as usize, size))
                    })
                    .collect();
                (a.values().clone(), offsets)
            }
            DataType::List(_) => {
                let a = array
                    .as_list_opt::<i32>()
                    .ok_or_else(|| internal(name, array))?;
                let o = a.value_offsets();
                let offsets = (0..a.len())
                    .map(|i| {
                        a.is_valid(i).then(|| {
                            let s = o[i].max(0) as usize;
                            (s, (o[i + 1].max(0) as usize).saturating_sub(s))
                        })
                    })
                    .collect();
                (a.values().clone(), offsets)
            }
            DataType::LargeList(_) => {
                let a = array
                    .as_list_opt::<i64>()
                    .ok_or_else(|| internal(name, array))?;
                let o = a.value_offsets();
                let offsets = (0..a.len())
                    .map(|i| {
                        a.is_valid(i).then(|| {
                            let s = o[i].max(0) as usize;
                            (s, (o[i + 1].max(0) as usize).saturating_sub(s))
                        })
                    })
                    .collect();
                (a.values().clone(), offsets)
            }
            _ => return Err(internal(name, array)),
        };

        // Only the referenced part of the child is converted.
        let lo = offsets.iter().flatten().map(|&(s, _)| s).min().unwrap_or(0);
        let hi = offsets
            .iter()
            .flatten()
            .map(|&(s, l)| s + l)
            .max()
            .unwrap_or(0);
        if hi > child.len() {
            return Err(Error::InvalidInput(format!(
                "column '{name}': list offsets point outside the list values"
            )));
        }
        let child = child.slice(lo, hi - lo);
        let child = cast_to(name, &child, &DataType::Float32)?;
        let items = child
            .as_primitive_opt::<Float32Type>()
            .ok_or_else(|| internal(name, &child))?;
        let raw = items.values();
        let item_nulls = items.null_count() > 0;

        // Check lengths first, so that a ragged column fails before copying.
        for (i, o) in offsets.iter().enumerate() {
            let Some((_, len)) = *o else { continue };
            match *self.dim {
                None => self.set_dim(len, self.row + i),
                Some(dim) if dim != len => {
                    return Err(match *self.first_row {
                        Some(first) => Error::InvalidInput(format!(
                            "column '{name}' has lists of different lengths: row {first} has {dim} \
                             values but row {} has {len}; every row must have the same length",
                            self.row + i
                        )),
                        None => Error::InvalidInput(format!(
                            "column '{name}' has lists of different lengths: its type fixes {dim} \
                             values per row but row {} has {len}",
                            self.row + i
                        )),
                    });
                }
                Some(_) => {}
            }
        }
        let dim = self.dim.unwrap_or(0);

        // Fast path: no nulls anywhere and the rows are contiguous.
        let contiguous = offsets
            .iter()
            .try_fold(0usize, |expect, o| match o {
                Some((s, l)) if *s - lo == expect => Some(expect + l),
                _ => None,
            })
            .is_some();
        if contiguous && !item_nulls {
            self.values.extend_from_slice(raw);
            return Ok(());
        }
        for (i, o) in offsets.iter().enumerate() {
            match *o {
                None => {
                    self.null_rows.push(self.row + i);
                    self.values.extend(std::iter::repeat_n(f32::NAN, dim));
                }
                Some((s, len)) => {
                    let s = s - lo;
                    if item_nulls {
                        self.values.extend((s..s + len).map(|j| {
                            if items.is_valid(j) {
                                raw[j]
                            } else {
                                f32::NAN
                            }
                        }));
                    } else {
                        self.values.extend_from_slice(&raw[s..s + len]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Fix the vector length at the first non-null row (global index
    /// `row`). Every row before it was null: those of earlier batches get
    /// their NaN values now, those of this batch when it is copied.
    fn set_dim(&mut self, dim: usize, row: usize) {
        *self.dim = Some(dim);
        *self.first_row = Some(row);
        let total = self.rows_hint.max(row + 1).saturating_mul(dim);
        let _ = self
            .values
            .try_reserve_exact(total.saturating_sub(self.values.len()));
        self.values
            .extend(std::iter::repeat_n(f32::NAN, self.row * dim));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow::array::{DictionaryArray, FixedSizeListArray, ListArray};
    use arrow::datatypes::{Float32Type, Float64Type, Int8Type};

    use super::*;

    #[test]
    fn sliced_lists_use_their_own_offsets() {
        let rows = (0..6).map(|r| Some(vec![Some(r as f32), Some(-(r as f32))]));
        let fixed: ArrayRef =
            Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(rows.clone(), 2));
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows));
        for array in [fixed, list] {
            let mut b = ColumnBuilder::new("v", array.data_type(), 0).unwrap();
            b.append(&array.slice(4, 2)).unwrap();
            b.append(&array.slice(1, 2)).unwrap();
            let ColumnData::Vector { values, dim, .. } = b.finish().unwrap().data else {
                panic!("not a vector")
            };
            assert_eq!(dim, 2);
            assert_eq!(values, vec![4.0, -4.0, 5.0, -5.0, 1.0, -1.0, 2.0, -2.0]);
        }
    }

    #[test]
    fn null_rows_before_the_first_vector_in_later_batches() {
        let first: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
            None::<Vec<Option<f64>>>,
        ]));
        let second: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
            None,
            Some(vec![Some(1.0), None, Some(3.0)]),
        ]));
        let mut b = ColumnBuilder::new("v", first.data_type(), 3).unwrap();
        b.append(&first).unwrap();
        b.append(&second).unwrap();
        let ColumnData::Vector {
            values,
            dim,
            null_rows,
        } = b.finish().unwrap().data
        else {
            panic!("not a vector")
        };
        assert_eq!((dim, null_rows), (3, vec![0, 1]));
        assert_eq!(values.len(), 9);
        assert!(values[..6].iter().all(|v| v.is_nan()));
        assert_eq!(values[6], 1.0);
        assert!(values[7].is_nan());
        assert_eq!(values[8], 3.0);
    }

    #[test]
    fn dictionaries_map_to_one_level_list_with_only_used_values() {
        let dt = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        let mut b = ColumnBuilder::new("c", &dt, 0).unwrap();
        let a: DictionaryArray<Int8Type> = vec![Some("x"), None, Some("y")].into_iter().collect();
        b.append(&(Arc::new(a) as ArrayRef)).unwrap();
        // A dictionary with an unused value and a different order.
        let keys = arrow::array::Int8Array::from(vec![Some(2), Some(0), Some(2)]);
        let values = arrow::array::StringArray::from(vec!["y", "unused", "z"]);
        let a = DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).unwrap();
        b.append(&(Arc::new(a) as ArrayRef)).unwrap();
        let ColumnData::Categorical { codes, levels } = b.finish().unwrap().data else {
            panic!("not categorical")
        };
        assert_eq!(levels, vec!["x", "y", "z"]);
        assert_eq!(
            codes,
            vec![Some(0), None, Some(1), Some(2), Some(1), Some(2)]
        );
    }

    #[test]
    fn kinds_and_descriptions() {
        assert_eq!(Kind::describe(&DataType::Float16), "float");
        assert_eq!(Kind::describe(&DataType::UInt64), "integer");
        assert_eq!(
            Kind::describe(&DataType::Dictionary(
                Box::new(DataType::UInt16),
                Box::new(DataType::LargeUtf8)
            )),
            "string"
        );
        assert!(Kind::describe(&DataType::Date32).starts_with("unsupported (Date32"));
        assert!(Kind::of(&DataType::Decimal128(10, 2)).is_none());
    }
}
