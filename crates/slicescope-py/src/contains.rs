//! Applying a slice to new rows: an attribute rule on the rows' columns,
//! an embedding definition on their view (projected with the PCA of the
//! scanned view).

use slicescope_core::attributes::{fmt_num, Predicate, Value};
use slicescope_core::scan::Rule;
use slicescope_core::slicers::{Definition, Labels};
use slicescope_core::views::ReducedView;
use slicescope_core::{Column, ColumnData, Error, Frame, Result};

/// Rows of `frame` that satisfy every predicate of `rule`.
pub fn rule_mask(rule: &Rule, frame: &Frame) -> Result<Vec<bool>> {
    let mut mask = vec![true; frame.n_rows()];
    for p in &rule.predicates {
        let col = frame.require(p.column(), "rule")?;
        let m = predicate_mask(p, col)?;
        mask.iter_mut().zip(m).for_each(|(a, b)| *a &= b);
    }
    Ok(mask)
}

/// A predicate value as the text a column's cell would show
/// (`ColumnData::text`), so that `age = 30` matches an integer 30, a float
/// 30.0 and a string "30" alike.
fn value_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => fmt_num(*x),
        Value::Str(s) => s.clone(),
    }
}

fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// Per row: the cell is missing.
fn missing(col: &Column) -> Result<Vec<bool>> {
    Ok(match &col.data {
        ColumnData::Float(v) => v.iter().map(|x| x.is_nan()).collect(),
        ColumnData::Int(v) => v.iter().map(Option::is_none).collect(),
        ColumnData::Bool(v) => v.iter().map(Option::is_none).collect(),
        ColumnData::Categorical { codes, .. } => codes.iter().map(Option::is_none).collect(),
        ColumnData::Vector { .. } => return Err(vector_column(col)),
    })
}

fn vector_column(col: &Column) -> Error {
    Error::InvalidInput(format!(
        "column '{}' is a vector column in the new data; a rule tests scalar columns",
        col.name
    ))
}

/// Per row: the cell equals one of `values`.
fn one_of(col: &Column, values: &[&Value]) -> Result<Vec<bool>> {
    let numbers: Option<Vec<f64>> = values.iter().map(|v| value_number(v)).collect();
    let texts: Vec<String> = values.iter().map(|v| value_text(v)).collect();
    Ok(match (&col.data, numbers) {
        (ColumnData::Float(v), Some(nums)) => v.iter().map(|x| nums.contains(x)).collect(),
        (ColumnData::Int(v), Some(nums)) => v
            .iter()
            .map(|x| x.is_some_and(|x| nums.contains(&(x as f64))))
            .collect(),
        (ColumnData::Categorical { codes, levels }, _) => {
            let hit: Vec<bool> = levels.iter().map(|l| texts.contains(l)).collect();
            codes
                .iter()
                .map(|c| c.is_some_and(|c| hit[c as usize]))
                .collect()
        }
        (ColumnData::Vector { .. }, _) => return Err(vector_column(col)),
        (data, _) => (0..data.len())
            .map(|r| data.text(r).is_some_and(|t| texts.contains(&t)))
            .collect(),
    })
}

/// Per row: the predicate holds.
pub fn predicate_mask(p: &Predicate, col: &Column) -> Result<Vec<bool>> {
    match p {
        Predicate::Eq { value, .. } => one_of(col, &[value]),
        Predicate::Missing { .. } => missing(col),
        Predicate::NotIn { values, .. } => {
            let refs: Vec<&Value> = values.iter().collect();
            let hit = one_of(col, &refs)?;
            let miss = missing(col)?;
            Ok(hit.into_iter().zip(miss).map(|(h, m)| !h && !m).collect())
        }
        Predicate::Range { lo, hi, .. } => {
            let inside =
                |x: f64| !x.is_nan() && lo.is_none_or(|lo| x >= lo) && hi.is_none_or(|hi| x < hi);
            match &col.data {
                ColumnData::Float(v) => Ok(v.iter().map(|&x| inside(x)).collect()),
                ColumnData::Int(v) => Ok(v
                    .iter()
                    .map(|x| x.is_some_and(|x| inside(x as f64)))
                    .collect()),
                other => Err(Error::InvalidInput(format!(
                    "column '{}' is a {} column in the new data, but the rule '{p}' needs numbers",
                    col.name,
                    other.kind()
                ))),
            }
        }
    }
}

/// A view's preprocessing (normalisation, centring, PCA axes), to project
/// new rows into the space the slicers worked in.
pub struct Projection {
    /// The scanned view, without its reduced rows.
    pub view: ReducedView,
}

impl Projection {
    /// Project row-major `values` (`dim_in` per row) as the scan's view
    /// preprocessing does (in f64, as the phrase vocabularies are).
    pub fn project(&self, values: &[f32]) -> Result<ReducedView> {
        let v = &self.view;
        let (d, k) = (v.dim_in, v.dim);
        if d == 0 || values.len() % d != 0 {
            return Err(Error::ShapeMismatch(format!(
                "the new rows of view '{}' have {} values, not a multiple of its dimension {d}",
                v.name,
                values.len()
            )));
        }
        use rayon::prelude::*;
        let mut data = vec![0f32; values.len() / d * k];
        data.par_chunks_mut(k.max(1))
            .zip(values.par_chunks(d))
            .for_each(|(out, row)| {
                let scale = if v.normalized { row_scale(row) } else { 1.0 };
                let centred: Vec<f64> = row
                    .iter()
                    .zip(&v.mean)
                    .map(|(&x, &m)| f64::from(x) * scale - f64::from(m))
                    .collect();
                for (j, o) in out.iter_mut().enumerate() {
                    let mut z = 0f64;
                    for (i, c) in centred.iter().enumerate() {
                        z += c * f64::from(v.axes[i * k + j]);
                    }
                    *o = z as f32;
                }
            });
        Ok(ReducedView {
            data,
            ..self.view.clone()
        })
    }
}

/// 1 / the row's L2 norm (1 for a zero or non-finite norm: such a row
/// stays as it is, as in the scan).
fn row_scale(row: &[f32]) -> f64 {
    let s: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    if s > 0.0 && s.is_finite() {
        1.0 / s.sqrt()
    } else {
        1.0
    }
}

/// Whether applying `def` needs the rows' labels.
pub fn needs_labels(def: &Definition) -> bool {
    match def {
        Definition::Halfspace { class, .. } => class.is_some(),
        Definition::Gaussian {
            label_log_probs, ..
        } => label_log_probs.is_some(),
        Definition::Kernel { .. } => false,
    }
}

/// Rows of `view` (already projected) that the definition selects.
/// `labels` are the rows' label texts (None when missing).
pub fn definition_mask(
    def: &Definition,
    view: &ReducedView,
    labels: Option<&[Option<String>]>,
) -> Result<Vec<bool>> {
    let n = view.n_rows();
    // Label names: the distinct texts, plus one for missing labels (a name
    // no definition uses).
    let (names, codes) = match labels {
        None => (Vec::new(), Vec::new()),
        Some(texts) => {
            let mut names: Vec<String> = Vec::new();
            let mut codes = Vec::with_capacity(texts.len());
            let missing = "\u{0}missing".to_string();
            for t in texts {
                let t = t.as_ref().unwrap_or(&missing);
                let code = match names.iter().position(|x| x == t) {
                    Some(c) => c,
                    None => {
                        names.push(t.clone());
                        names.len() - 1
                    }
                };
                codes.push(code as u32);
            }
            (names, codes)
        }
    };
    let labels = labels.map(|_| Labels {
        names: &names,
        label: &codes,
    });
    let applied = def.apply(view, labels)?;
    let mut mask = vec![false; n];
    for r in applied.members {
        if let Some(m) = mask.get_mut(r as usize) {
            *m = true;
        }
    }
    Ok(mask)
}
