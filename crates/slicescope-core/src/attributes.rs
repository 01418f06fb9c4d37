//! Attribute columns → discrete levels, each level a readable predicate.
//!
//! * strings, dictionary columns and booleans: one level per value;
//! * integers and floats: quantile bins (`bins`, default 10) whose edges are
//!   values observed in the data, or explicit edges; a numeric column with
//!   at most `bins` distinct values keeps its values as levels, and a column
//!   listed as categorical always does;
//! * missing values (null, NaN) are a level of their own (`x is missing`);
//! * more than `max_levels` distinct values: the most frequent
//!   `max_levels − 1` are kept and the rest become one `other` level, and a
//!   note says so.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{Column, ColumnData, Frame};

/// A value in a predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Boolean value.
    Bool(bool),
    /// Integer value.
    Int(i64),
    /// Floating-point value.
    Float(f64),
    /// String value.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", fmt_num(*x)),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

/// Shortest decimal form that reads back to the same number.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// One condition on one column; a slice's rule is a conjunction of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Predicate {
    /// `column = value`.
    Eq {
        /// Column name.
        column: String,
        /// The value.
        value: Value,
    },
    /// `lo ≤ column < hi` (a missing bound is unbounded).
    Range {
        /// Column name.
        column: String,
        /// Inclusive lower bound.
        lo: Option<f64>,
        /// Exclusive upper bound.
        hi: Option<f64>,
    },
    /// The column's value is missing.
    Missing {
        /// Column name.
        column: String,
    },
    /// Any non-missing value not among `values` (the tail of a capped
    /// high-cardinality column).
    NotIn {
        /// Column name.
        column: String,
        /// The values kept as levels of their own.
        values: Vec<Value>,
    },
}

impl Predicate {
    /// The column the predicate tests.
    pub fn column(&self) -> &str {
        match self {
            Predicate::Eq { column, .. }
            | Predicate::Range { column, .. }
            | Predicate::Missing { column }
            | Predicate::NotIn { column, .. } => column,
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Eq { column, value } => write!(f, "{column} = {value}"),
            Predicate::Range {
                column,
                lo: Some(lo),
                hi: Some(hi),
            } => {
                write!(f, "{column} ∈ [{}, {})", fmt_num(*lo), fmt_num(*hi))
            }
            Predicate::Range {
                column,
                lo: Some(lo),
                hi: None,
            } => write!(f, "{column} ≥ {}", fmt_num(*lo)),
            Predicate::Range {
                column,
                lo: None,
                hi: Some(hi),
            } => write!(f, "{column} < {}", fmt_num(*hi)),
            Predicate::Range {
                column,
                lo: None,
                hi: None,
            } => write!(f, "{column} is any value"),
            Predicate::Missing { column } => write!(f, "{column} is missing"),
            Predicate::NotIn { column, values } => {
                write!(
                    f,
                    "{column} = other (not one of the {} most frequent values)",
                    values.len()
                )
            }
        }
    }
}

/// Attribute encoding parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodeParams {
    /// Quantile bins per numeric column (≥ 2).
    pub bins: usize,
    /// Explicit edges per column, overriding quantile bins.
    pub edges: BTreeMap<String, Vec<f64>>,
    /// Numeric columns to treat as categorical (one level per value).
    pub categorical: Vec<String>,
    /// Most levels per column before the tail is merged into `other` (≥ 2).
    pub max_levels: usize,
}

impl Default for EncodeParams {
    fn default() -> Self {
        EncodeParams {
            bins: 10,
            edges: BTreeMap::new(),
            categorical: Vec::new(),
            max_levels: 100,
        }
    }
}

/// One attribute column as discrete levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Column name.
    pub name: String,
    /// Per-row level index.
    pub codes: Vec<u32>,
    /// One predicate per level; `codes[i]` indexes this.
    pub levels: Vec<Predicate>,
}

/// All encoded attributes plus notes for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The attributes, in the order asked for.
    pub attributes: Vec<Attribute>,
    /// Notes (capped cardinalities, constant columns...).
    pub notes: Vec<String>,
}

/// Encode the named columns of `frame`.
pub fn encode(frame: &Frame, names: &[String], params: &EncodeParams) -> Result<Encoded> {
    if params.bins < 2 {
        return Err(Error::param(
            "bins",
            format!("must be at least 2, got {}", params.bins),
        ));
    }
    if params.max_levels < 2 {
        return Err(Error::param(
            "max_levels",
            format!("must be at least 2, got {}", params.max_levels),
        ));
    }
    for (col, edges) in &params.edges {
        if edges.is_empty()
            || edges.iter().any(|e| !e.is_finite())
            || edges.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(Error::param(
                format!("edges.{col}"),
                "must be a non-empty list of finite, strictly increasing numbers",
            ));
        }
        if !names.contains(col) {
            return Err(Error::param(
                format!("edges.{col}"),
                format!("'{col}' is not one of the attributes"),
            ));
        }
    }
    for col in &params.categorical {
        if !names.contains(col) {
            return Err(Error::param(
                "categorical",
                format!("'{col}' is not one of the attributes"),
            ));
        }
    }
    // Columns are encoded in parallel; results (and the first error) are
    // taken in column order, so the outcome does not depend on threads.
    let encoded: Vec<Result<(Attribute, Vec<String>)>> = names
        .par_iter()
        .map(|name| {
            let col = frame.require(name, "attribute")?;
            let mut notes = Vec::new();
            let attr = encode_column(col, params, &mut notes)?;
            if attr.levels.len() == 1 {
                notes.push(format!(
                    "attribute '{name}' has a single level ({}) and cannot split the data",
                    attr.levels[0]
                ));
            }
            Ok((attr, notes))
        })
        .collect();
    let mut notes = Vec::new();
    let mut attributes = Vec::with_capacity(names.len());
    for r in encoded {
        let (attr, n) = r?;
        attributes.push(attr);
        notes.extend(n);
    }
    Ok(Encoded { attributes, notes })
}

fn encode_column(
    col: &Column,
    params: &EncodeParams,
    notes: &mut Vec<String>,
) -> Result<Attribute> {
    let name = col.name.clone();
    let force_cat = params.categorical.contains(&name);
    match &col.data {
        ColumnData::Categorical { codes, levels } => {
            let values: Vec<Option<Value>> = (0..levels.len()).map(|i| Some(Value::Str(levels[i].clone()))).collect();
            let keys: Vec<Option<u32>> = codes.clone();
            discrete(&name, &keys, &values, params.max_levels, notes)
        }
        ColumnData::Bool(v) => {
            let keys: Vec<Option<u32>> = v.iter().map(|b| b.map(u32::from)).collect();
            discrete(&name, &keys, &[Some(Value::Bool(false)), Some(Value::Bool(true))], params.max_levels, notes)
        }
        ColumnData::Int(v) => {
            if !params.edges.contains_key(&name) {
                let limit = if force_cat { usize::MAX } else { params.bins };
                if let Some(attr) = small_int_levels(&name, v, limit, params.max_levels, notes)? {
                    return Ok(attr);
                }
            }
            let vals: Vec<f64> = v.iter().map(|x| x.map_or(f64::NAN, |x| x as f64)).collect();
            numeric(&name, &vals, true, force_cat, params, notes)
        }
        ColumnData::Float(v) => {
            if let Some(i) = v.iter().position(|x| x.is_infinite()) {
                return Err(Error::InvalidInput(format!(
                    "attribute column '{name}' holds an infinite value at row {i}; replace it with a finite value or a null"
                )));
            }
            numeric(&name, v, false, force_cat, params, notes)
        }
        ColumnData::Vector { dim, .. } => Err(Error::InvalidInput(format!(
            "column '{name}' is a vector column ({dim} values per row) and cannot be an attribute; use it as an embedding view (--view NAME={name})"
        ))),
    }
}

/// Levels from dictionary codes. `values[k]` is the value of key k.
fn discrete(
    name: &str,
    keys: &[Option<u32>],
    values: &[Option<Value>],
    max_levels: usize,
    notes: &mut Vec<String>,
) -> Result<Attribute> {
    let mut counts = vec![0usize; values.len()];
    let mut n_missing = 0usize;
    for k in keys {
        match k {
            Some(k) => counts[*k as usize] += 1,
            None => n_missing += 1,
        }
    }
    // Present keys, ordered by their value for readable, stable output.
    let mut present: Vec<usize> = (0..values.len()).filter(|&k| counts[k] > 0).collect();
    let mut kept: Vec<usize>;
    let mut other = false;
    let budget = max_levels - usize::from(n_missing > 0);
    if present.len() > budget {
        present.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        kept = present[..budget - 1].to_vec();
        other = true;
        notes.push(format!(
            "attribute '{name}' has {} distinct values; kept the {} most frequent and merged the other {} (covering {} rows) into 'other'",
            present.len(),
            budget - 1,
            present.len() - (budget - 1),
            present[budget - 1..].iter().map(|&k| counts[k]).sum::<usize>()
        ));
    } else {
        kept = present;
    }
    kept.sort_by(|&a, &b| cmp_values(values[a].as_ref(), values[b].as_ref()));
    let mut map = vec![u32::MAX; values.len()];
    let mut levels = Vec::new();
    for (i, &k) in kept.iter().enumerate() {
        map[k] = i as u32;
        let value = values[k].clone().unwrap_or(Value::Str(String::new()));
        levels.push(Predicate::Eq {
            column: name.to_string(),
            value,
        });
    }
    let other_code = levels.len() as u32;
    if other {
        levels.push(Predicate::NotIn {
            column: name.to_string(),
            values: kept.iter().filter_map(|&k| values[k].clone()).collect(),
        });
    }
    let missing_code = levels.len() as u32;
    if n_missing > 0 {
        levels.push(Predicate::Missing {
            column: name.to_string(),
        });
    }
    let codes = keys
        .iter()
        .map(|k| match k {
            None => missing_code,
            Some(k) => {
                let m = map[*k as usize];
                if m == u32::MAX {
                    other_code
                } else {
                    m
                }
            }
        })
        .collect();
    Ok(Attribute {
        name: name.to_string(),
        codes,
        levels,
    })
}

/// Integers spanning a small range (≤ 65,536 values) with at most `limit`
/// distinct values: one level per value, found with a counting table
/// instead of hashing (the common case of integer-coded categories).
fn small_int_levels(
    name: &str,
    v: &[Option<i64>],
    limit: usize,
    max_levels: usize,
    notes: &mut Vec<String>,
) -> Result<Option<Attribute>> {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for x in v.iter().flatten() {
        lo = lo.min(*x);
        hi = hi.max(*x);
    }
    if lo > hi {
        return Ok(None);
    }
    let Some(range) = hi.checked_sub(lo).filter(|&r| r < 1 << 16) else {
        return Ok(None);
    };
    let mut present = vec![false; range as usize + 1];
    for x in v.iter().flatten() {
        present[(x - lo) as usize] = true;
    }
    let distinct: Vec<i64> = (0..=range)
        .filter(|&i| present[i as usize])
        .map(|i| lo + i)
        .collect();
    if distinct.len() > limit {
        return Ok(None);
    }
    let mut index = vec![0u32; range as usize + 1];
    for (k, &d) in distinct.iter().enumerate() {
        index[(d - lo) as usize] = k as u32;
    }
    let keys: Vec<Option<u32>> = v
        .iter()
        .map(|x| x.map(|x| index[(x - lo) as usize]))
        .collect();
    let values: Vec<Option<Value>> = distinct.into_iter().map(|d| Some(Value::Int(d))).collect();
    discrete(name, &keys, &values, max_levels, notes).map(Some)
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::Int(x)), Some(Value::Int(y))) => x.cmp(y),
        (Some(Value::Float(x)), Some(Value::Float(y))) => x.total_cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Str(x)), Some(Value::Str(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn numeric(
    name: &str,
    vals: &[f64],
    is_int: bool,
    force_cat: bool,
    params: &EncodeParams,
    notes: &mut Vec<String>,
) -> Result<Attribute> {
    // `+ 0.0` maps −0.0 to 0.0 so that both are one value.
    let key = |v: f64| (v + 0.0).to_bits();
    let explicit = params.edges.get(name);
    if explicit.is_none() {
        // Few distinct values (or a categorical column): one level per value.
        let limit = if force_cat { usize::MAX } else { params.bins };
        let mut seen: HashMap<u64, ()> = HashMap::new();
        let mut few = true;
        for &v in vals {
            if !v.is_nan() && seen.insert(key(v), ()).is_none() && seen.len() > limit {
                few = false;
                break;
            }
        }
        if few {
            let mut distinct: Vec<f64> = seen.keys().map(|&b| f64::from_bits(b)).collect();
            distinct.sort_by(f64::total_cmp);
            let index: HashMap<u64, u32> = distinct
                .iter()
                .enumerate()
                .map(|(i, &v)| (key(v), i as u32))
                .collect();
            let keys: Vec<Option<u32>> = vals
                .iter()
                .map(|&v| {
                    if v.is_nan() {
                        None
                    } else {
                        index.get(&key(v)).copied()
                    }
                })
                .collect();
            let values: Vec<Option<Value>> = distinct
                .iter()
                .map(|&v| {
                    Some(if is_int {
                        Value::Int(v as i64)
                    } else {
                        Value::Float(v)
                    })
                })
                .collect();
            return discrete(name, &keys, &values, params.max_levels, notes);
        }
    }
    let mut present: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
    present.sort_unstable_by(f64::total_cmp);
    let edges: Vec<f64> = match explicit {
        Some(e) => e.clone(),
        None => quantile_edges(&present, params.bins),
    };
    // Bins: (-inf, e0), [e0, e1), ..., [e_last, inf).
    let mut bins: Vec<Predicate> = Vec::with_capacity(edges.len() + 2);
    let mut bounds: Vec<(Option<f64>, Option<f64>)> = Vec::new();
    bounds.push((None, edges.first().copied()));
    for w in edges.windows(2) {
        bounds.push((Some(w[0]), Some(w[1])));
    }
    bounds.push((edges.last().copied(), None));
    let bin_of = |v: f64| -> usize { edges.partition_point(|&e| e <= v) };
    let mut counts = vec![0usize; bounds.len()];
    for &v in &present {
        counts[bin_of(v)] += 1;
    }
    // Drop empty bins (e.g. below the minimum) so that every level exists.
    let mut map = vec![u32::MAX; bounds.len()];
    for (b, (lo, hi)) in bounds.iter().enumerate() {
        if counts[b] > 0 {
            map[b] = bins.len() as u32;
            bins.push(Predicate::Range {
                column: name.to_string(),
                lo: *lo,
                hi: *hi,
            });
        }
    }
    let missing_code = bins.len() as u32;
    let any_missing = present.len() < vals.len();
    if any_missing {
        bins.push(Predicate::Missing {
            column: name.to_string(),
        });
    }
    let codes = vals
        .iter()
        .map(|&v| {
            if v.is_nan() {
                missing_code
            } else {
                map[bin_of(v)]
            }
        })
        .collect();
    Ok(Attribute {
        name: name.to_string(),
        codes,
        levels: bins,
    })
}

/// Inner bin edges for sorted, non-missing values.
///
/// A value that alone holds more than 1/bins of the rows (a spike, such as
/// the zeros of `capital_gain`) gets a bin of its own: edges at the value
/// and at the next larger value. The remaining values are split at their
/// quantiles j/b (b = bins minus the spikes' bins, at least 2), taken as
/// observed values so that labels show real data values. Edges are
/// deduplicated, and the minimum is never an edge (it would leave the first
/// bin empty).
fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let n = sorted.len();
    let mut edges: Vec<f64> = Vec::with_capacity(bins + 2);
    if n == 0 {
        return edges;
    }
    // Runs of equal values; spikes are runs longer than n / bins.
    let mut rest: Vec<f64> = Vec::with_capacity(n);
    let mut spikes = 0usize;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && sorted[j] == sorted[i] {
            j += 1;
        }
        if (j - i) * bins > n {
            spikes += 1;
            edges.push(sorted[i]);
            if j < n {
                edges.push(sorted[j]);
            }
        } else {
            rest.extend_from_slice(&sorted[i..j]);
        }
        i = j;
    }
    let b = bins.saturating_sub(spikes).max(2);
    let m = rest.len();
    if m > 0 {
        for j in 1..b {
            edges.push(rest[((j * m) / b).min(m - 1)]);
        }
    }
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges.retain(|&e| e > sorted[0]);
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(a: &Attribute) -> Vec<String> {
        a.levels.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn strings_with_missing_and_cap() {
        let f = Frame::new(vec![Column::new(
            "occ",
            ColumnData::Categorical {
                codes: vec![
                    Some(0),
                    Some(1),
                    Some(1),
                    None,
                    Some(2),
                    Some(1),
                    Some(0),
                    Some(3),
                ],
                levels: vec!["b".into(), "a".into(), "c".into(), "d".into()],
            },
        )])
        .unwrap();
        let p = EncodeParams {
            max_levels: 4,
            ..Default::default()
        };
        let e = encode(&f, &["occ".into()], &p).unwrap();
        let a = &e.attributes[0];
        // budget 3 (one slot for missing): top-2 by count = a (3), b (2), then other.
        assert_eq!(
            labels(a),
            vec![
                "occ = a",
                "occ = b",
                "occ = other (not one of the 2 most frequent values)",
                "occ is missing"
            ]
        );
        assert_eq!(a.codes, vec![1, 0, 0, 3, 2, 0, 1, 2]);
        assert!(e.notes[0].contains("4 distinct values"), "{:?}", e.notes);
    }

    #[test]
    fn quantile_bins_of_integers() {
        let vals: Vec<Option<i64>> = (0..100).map(Some).chain([None]).collect();
        let f = Frame::new(vec![Column::new("age", ColumnData::Int(vals))]).unwrap();
        let e = encode(
            &f,
            &["age".into()],
            &EncodeParams {
                bins: 4,
                ..Default::default()
            },
        )
        .unwrap();
        let a = &e.attributes[0];
        assert_eq!(
            labels(a),
            vec![
                "age < 25",
                "age ∈ [25, 50)",
                "age ∈ [50, 75)",
                "age ≥ 75",
                "age is missing"
            ]
        );
        assert_eq!(a.codes[24], 0);
        assert_eq!(a.codes[25], 1);
        assert_eq!(a.codes[99], 3);
        assert_eq!(a.codes[100], 4);
    }

    #[test]
    fn a_spike_gets_its_own_bin() {
        // 90 zeros and 10 distinct positive values, like capital_gain.
        let vals: Vec<f64> = (0..100)
            .map(|i| if i < 90 { 0.0 } else { (i - 89) as f64 * 100.0 })
            .collect();
        let f = Frame::new(vec![Column::new("gain", ColumnData::Float(vals))]).unwrap();
        let e = encode(
            &f,
            &["gain".into()],
            &EncodeParams {
                bins: 5,
                ..Default::default()
            },
        )
        .unwrap();
        let a = &e.attributes[0];
        assert_eq!(labels(a)[0], "gain < 100");
        assert!(a.levels.len() >= 3, "{:?}", labels(a));
        assert!(a.codes[..90].iter().all(|&c| c == 0));
        assert!(a.codes[90..].iter().all(|&c| c > 0));
    }

    #[test]
    fn few_distinct_numbers_stay_values_and_edges_work() {
        let f = Frame::new(vec![
            Column::new("k", ColumnData::Int(vec![Some(3), Some(1), Some(3)])),
            Column::new("x", ColumnData::Float(vec![0.5, 1.5, f64::NAN])),
        ])
        .unwrap();
        let mut p = EncodeParams::default();
        p.edges.insert("x".into(), vec![1.0]);
        let e = encode(&f, &["k".into(), "x".into()], &p).unwrap();
        assert_eq!(labels(&e.attributes[0]), vec!["k = 1", "k = 3"]);
        assert_eq!(e.attributes[0].codes, vec![1, 0, 1]);
        assert_eq!(
            labels(&e.attributes[1]),
            vec!["x < 1", "x ≥ 1", "x is missing"]
        );
    }

    #[test]
    fn negative_zero_is_zero() {
        let f = Frame::new(vec![Column::new(
            "x",
            ColumnData::Float(vec![0.0, -0.0, 1.0]),
        )])
        .unwrap();
        let e = encode(&f, &["x".into()], &EncodeParams::default()).unwrap();
        assert_eq!(labels(&e.attributes[0]), vec!["x = 0", "x = 1"]);
        assert_eq!(e.attributes[0].codes, vec![0, 0, 1]);
    }

    #[test]
    fn bad_parameters_and_columns() {
        let f = Frame::new(vec![Column::new(
            "x",
            ColumnData::Float(vec![0.5, f64::INFINITY]),
        )])
        .unwrap();
        let e = encode(&f, &["x".into()], &EncodeParams::default()).unwrap_err();
        assert!(e.to_string().contains("infinite value at row 1"), "{e}");
        let e = encode(
            &f,
            &["x".into()],
            &EncodeParams {
                bins: 1,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("bins"));
        let e = encode(&f, &["y".into()], &EncodeParams::default()).unwrap_err();
        assert!(
            e.to_string().contains("attribute column 'y' not found"),
            "{e}"
        );
        let mut p = EncodeParams::default();
        p.edges.insert("x".into(), vec![2.0, 1.0]);
        assert!(encode(&f, &["x".into()], &p).is_err());
    }
}
