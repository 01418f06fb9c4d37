//! The in-memory evaluation table that every algorithm reads.
//!
//! A [`Frame`] is a set of named, equally long [`Column`]s. It is deliberately
//! small: ingestion (`slicescope-io`) turns Parquet, Arrow IPC, CSV, `.npy`
//! and `.npz` into a `Frame`, and the core never sees a file format.
//!
//! Missing values are explicit (`None`, or `NaN` for floats, see
//! [`ColumnData::Float`]), so that attribute encoding can keep "missing" as a
//! level of its own.

use crate::error::{Error, Result};

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Floating-point values; `NaN` marks a missing value (Arrow nulls are
    /// read as `NaN`). Infinite values are kept as they are, so that
    /// validation can report them.
    Float(Vec<f64>),
    /// Integers with optional missing values.
    Int(Vec<Option<i64>>),
    /// Booleans with optional missing values.
    Bool(Vec<Option<bool>>),
    /// Strings, dictionary-encoded: `codes[i]` indexes `levels`, `None` is
    /// missing. Levels are unique; their order is the order of first
    /// appearance (or the source dictionary's order).
    Categorical {
        /// Per-row index into `levels`.
        codes: Vec<Option<u32>>,
        /// The distinct values.
        levels: Vec<String>,
    },
    /// A row-major matrix, one vector of `dim` values per row: embedding
    /// columns and probability vectors. Rows that were null in the source
    /// are listed in `null_rows` (their values are `NaN`).
    Vector {
        /// Row-major values, `len = n_rows * dim`.
        values: Vec<f32>,
        /// Length of every row's vector.
        dim: usize,
        /// Rows whose vector was null in the source.
        null_rows: Vec<usize>,
    },
}

impl ColumnData {
    /// The value of row `row` as text (None when missing or out of range);
    /// vectors show their first values.
    pub fn text(&self, row: usize) -> Option<String> {
        match self {
            ColumnData::Float(v) => v
                .get(row)
                .filter(|x| !x.is_nan())
                .map(|&x| crate::attributes::fmt_num(x)),
            ColumnData::Int(v) => v.get(row).copied().flatten().map(|x| x.to_string()),
            ColumnData::Bool(v) => v.get(row).copied().flatten().map(|x| x.to_string()),
            ColumnData::Categorical { codes, levels } => codes
                .get(row)
                .copied()
                .flatten()
                .and_then(|c| levels.get(c as usize).cloned()),
            ColumnData::Vector {
                values,
                dim,
                null_rows,
            } => {
                if *dim == 0 || (row + 1) * dim > values.len() || null_rows.contains(&row) {
                    return None;
                }
                let v = &values[row * dim..(row + 1) * dim];
                let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:.3}")).collect();
                let more = if *dim > 4 { ", …" } else { "" };
                Some(format!("[{}{more}]", head.join(", ")))
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Categorical { codes, .. } => codes.len(),
            ColumnData::Vector { values, dim, .. } => values.len().checked_div(*dim).unwrap_or(0),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short, user-facing name of the column's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ColumnData::Float(_) => "float",
            ColumnData::Int(_) => "integer",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Categorical { .. } => "string",
            ColumnData::Vector { .. } => "vector (list of floats)",
        }
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name as in the source.
    pub name: String,
    /// The values.
    pub data: ColumnData,
}

impl Column {
    /// A new column.
    pub fn new(name: impl Into<String>, data: ColumnData) -> Self {
        Column {
            name: name.into(),
            data,
        }
    }
}

/// A table of equally long named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    n_rows: usize,
    columns: Vec<Column>,
    /// Names of every column in the source, including those that were not
    /// read; used to suggest near matches when a column is missing.
    source_columns: Vec<String>,
}

impl Frame {
    /// An empty frame with `n_rows` rows and no columns.
    pub fn with_rows(n_rows: usize) -> Self {
        Frame {
            n_rows,
            columns: Vec::new(),
            source_columns: Vec::new(),
        }
    }

    /// Build a frame from columns, checking that all have the same length.
    pub fn new(columns: Vec<Column>) -> Result<Self> {
        let n_rows = columns.first().map(|c| c.data.len()).unwrap_or(0);
        let mut frame = Frame::with_rows(n_rows);
        for c in columns {
            frame.push(c)?;
        }
        Ok(frame)
    }

    /// Add a column; its length must equal the frame's row count, and its
    /// name must be new.
    pub fn push(&mut self, column: Column) -> Result<()> {
        if self.columns.is_empty() && self.n_rows == 0 {
            self.n_rows = column.data.len();
        }
        if column.data.len() != self.n_rows {
            return Err(Error::ShapeMismatch(format!(
                "column '{}' has {} rows but the table has {}",
                column.name,
                column.data.len(),
                self.n_rows
            )));
        }
        if self.column(&column.name).is_some() {
            return Err(Error::InvalidInput(format!(
                "column '{}' appears twice; rename one of them",
                column.name
            )));
        }
        if !self.source_columns.contains(&column.name) {
            self.source_columns.push(column.name.clone());
        }
        self.columns.push(column);
        Ok(())
    }

    /// Record the names of all columns the source has (read or not), for
    /// "did you mean" suggestions.
    pub fn set_source_columns(&mut self, names: Vec<String>) {
        self.source_columns = names;
    }

    /// All column names of the source (read or not).
    pub fn source_columns(&self) -> &[String] {
        &self.source_columns
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The columns that were read.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A column by exact name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Remove a column from the frame and return it (its name stays among
    /// the source's columns).
    pub fn take_column(&mut self, name: &str) -> Option<Column> {
        let i = self.columns.iter().position(|c| c.name == name)?;
        Some(self.columns.remove(i))
    }

    /// A column by name, or [`Error::ColumnNotFound`] listing near matches
    /// among the source's columns. `role` says what the column was wanted
    /// for ("label", "attribute", ...).
    pub fn require(&self, name: &str, role: &str) -> Result<&Column> {
        self.column(name)
            .ok_or_else(|| Error::column_not_found(name, role, &self.source_columns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_text_of_every_kind() {
        let f = ColumnData::Float(vec![1.5, f64::NAN, 3.0]);
        assert_eq!(f.text(0).as_deref(), Some("1.5"));
        assert_eq!(f.text(1), None);
        assert_eq!(f.text(2).as_deref(), Some("3"));
        assert_eq!(f.text(3), None);
        assert_eq!(
            ColumnData::Int(vec![Some(-4), None]).text(0).as_deref(),
            Some("-4")
        );
        assert_eq!(ColumnData::Bool(vec![None]).text(0), None);
        let c = ColumnData::Categorical {
            codes: vec![Some(1), None],
            levels: vec!["a".into(), "img/7.png".into()],
        };
        assert_eq!(c.text(0).as_deref(), Some("img/7.png"));
        assert_eq!(c.text(1), None);
        let v = ColumnData::Vector {
            values: (0..12).map(|x| x as f32).collect(),
            dim: 6,
            null_rows: vec![1],
        };
        assert_eq!(
            v.text(0).as_deref(),
            Some("[0.000, 1.000, 2.000, 3.000, …]")
        );
        assert_eq!(v.text(1), None);
    }

    #[test]
    fn push_checks_length_and_duplicates() {
        let mut f = Frame::new(vec![Column::new("a", ColumnData::Float(vec![1.0, 2.0]))]).unwrap();
        assert_eq!(f.n_rows(), 2);
        let err = f
            .push(Column::new("b", ColumnData::Int(vec![Some(1)])))
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)));
        let err = f
            .push(Column::new("a", ColumnData::Int(vec![Some(1), None])))
            .unwrap_err();
        assert!(err.to_string().contains("appears twice"));
    }

    #[test]
    fn require_suggests_near_matches() {
        let f = Frame::new(vec![
            Column::new("label", ColumnData::Int(vec![Some(1)])),
            Column::new("prediction", ColumnData::Int(vec![Some(1)])),
        ])
        .unwrap();
        let err = f.require("lable", "label").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'lable'"), "{msg}");
        assert!(msg.contains("label"), "{msg}");
    }

    #[test]
    fn vector_len() {
        let c = ColumnData::Vector {
            values: vec![0.0; 6],
            dim: 3,
            null_rows: vec![],
        };
        assert_eq!(c.len(), 2);
    }
}
