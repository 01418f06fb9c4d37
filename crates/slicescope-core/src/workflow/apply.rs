//! Applying saved slices to rows: attribute predicates on a frame's
//! columns, embedding definitions on view rows re-projected with the
//! scan's PCA.
//!
//! **Reproduction on the scanned rows.** Predicates select exactly the
//! rows the scan's encoding put in the slice (same bins, same `other`
//! values, same missing level). Embedding definitions are applied to rows
//! projected again with the saved single-precision mean and axes (in
//! double precision), while the scan projected with its double-precision
//! PCA: reduced coordinates agree to about 1e-6 relative, so kernel and
//! halfspace memberships agree except for rows whose score lies within
//! about 1e-5 of the threshold, and mixture posteriors agree within 1e-4.

use std::collections::BTreeMap;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::attributes::{fmt_num, Predicate, Value};
use crate::error::{Error, Result};
use crate::frame::{Column, ColumnData, Frame};
use crate::slicers::{apply_many, Definition, Labels};
use crate::views::ReducedView;

use super::file::{SavedSlice, SavedView, SliceFile};
use super::rows::RowSet;

/// The rows of one embedding view, aligned with the frame.
#[derive(Debug, Clone, Copy)]
pub struct ViewRows<'a> {
    /// Row-major values, `n × dim`.
    pub values: &'a [f32],
    /// Vector length.
    pub dim: usize,
    /// Where the rows came from (for messages).
    pub source: &'a str,
}

/// What saved slices are applied to.
pub struct ApplyInput<'a> {
    /// The table (predicate columns).
    pub frame: &'a Frame,
    /// Views by name.
    pub views: &'a BTreeMap<String, ViewRows<'a>>,
    /// The rows' labels, for definitions that need them.
    pub labels: Option<Labels<'a>>,
}

/// Rows per block of the view projection.
const VIEW_BLOCK: usize = 16_384;

/// A predicate value as a cell's text (see `ColumnData::text`), so that
/// `age = 30` matches an integer 30, a float 30.0 and a string "30" alike.
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

fn vector_column(col: &Column) -> Error {
    Error::InvalidInput(format!(
        "column '{}' is a vector column; slice rules test scalar columns",
        col.name
    ))
}

/// Rows whose cell is missing.
fn missing_rows(col: &Column) -> Result<RowSet> {
    let n = col.data.len();
    Ok(match &col.data {
        ColumnData::Float(v) => RowSet::from_fn(n, |r| v[r].is_nan()),
        ColumnData::Int(v) => RowSet::from_fn(n, |r| v[r].is_none()),
        ColumnData::Bool(v) => RowSet::from_fn(n, |r| v[r].is_none()),
        ColumnData::Categorical { codes, .. } => RowSet::from_fn(n, |r| codes[r].is_none()),
        ColumnData::Vector { .. } => return Err(vector_column(col)),
    })
}

/// Rows whose cell equals one of `values`.
fn one_of(col: &Column, values: &[Value]) -> Result<RowSet> {
    let n = col.data.len();
    let numbers: Option<Vec<f64>> = values.iter().map(value_number).collect();
    let texts: Vec<String> = values.iter().map(value_text).collect();
    Ok(match (&col.data, numbers) {
        (ColumnData::Float(v), Some(nums)) => RowSet::from_fn(n, |r| nums.contains(&v[r])),
        (ColumnData::Int(v), Some(nums)) => {
            RowSet::from_fn(n, |r| v[r].is_some_and(|x| nums.contains(&(x as f64))))
        }
        (ColumnData::Bool(v), _) => {
            let want: Vec<bool> = values
                .iter()
                .filter_map(|x| match x {
                    Value::Bool(b) => Some(*b),
                    Value::Str(s) if s == "true" => Some(true),
                    Value::Str(s) if s == "false" => Some(false),
                    _ => None,
                })
                .collect();
            RowSet::from_fn(n, |r| v[r].is_some_and(|b| want.contains(&b)))
        }
        (ColumnData::Categorical { codes, levels }, _) => {
            let hit: Vec<bool> = levels.iter().map(|l| texts.contains(l)).collect();
            RowSet::from_fn(n, |r| codes[r].is_some_and(|c| hit[c as usize]))
        }
        (ColumnData::Vector { .. }, _) => return Err(vector_column(col)),
        (data, _) => RowSet::from_fn(n, |r| data.text(r).is_some_and(|t| texts.contains(&t))),
    })
}

/// The rows of `col` where predicate `p` holds.
pub fn predicate_rows(p: &Predicate, col: &Column) -> Result<RowSet> {
    let n = col.data.len();
    match p {
        Predicate::Eq { value, .. } => one_of(col, std::slice::from_ref(value)),
        Predicate::Missing { .. } => missing_rows(col),
        Predicate::NotIn { values, .. } => {
            let hit = one_of(col, values)?;
            let miss = missing_rows(col)?;
            Ok(RowSet::from_fn(n, |r| {
                !hit.contains(r) && !miss.contains(r)
            }))
        }
        Predicate::Range { lo, hi, .. } => {
            let inside =
                |x: f64| !x.is_nan() && lo.is_none_or(|lo| x >= lo) && hi.is_none_or(|hi| x < hi);
            match &col.data {
                ColumnData::Float(v) => Ok(RowSet::from_fn(n, |r| inside(v[r]))),
                ColumnData::Int(v) => Ok(RowSet::from_fn(n, |r| {
                    v[r].is_some_and(|x| inside(x as f64))
                })),
                other => Err(Error::InvalidInput(format!(
                    "column '{}' is a {} column, but the predicate '{p}' needs numbers",
                    col.name,
                    other.kind()
                ))),
            }
        }
    }
}

/// 1/‖row‖ when normalising (1 for a zero or non-finite row), computed as
/// the scan's view preprocessing does.
fn row_scale(row: &[f32], normalize: bool) -> f64 {
    if !normalize {
        return 1.0;
    }
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += v * v;
        }
    }
    let s: f64 = acc.iter().map(|&a| f64::from(a)).sum::<f64>()
        + chunks
            .remainder()
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
    if s > 0.0 && s.is_finite() {
        1.0 / s.sqrt()
    } else {
        1.0
    }
}

/// A saved view's projection, ready to project rows.
pub struct Projector<'a> {
    view: &'a SavedView,
    mean: Vec<f64>,
    axes: Mat<f64>,
}

impl<'a> Projector<'a> {
    /// The projection of `view` (validated).
    pub fn new(view: &'a SavedView) -> Result<Projector<'a>> {
        view.validate()?;
        let (d, k) = (view.dim_in, view.dim);
        let mut axes = Mat::<f64>::zeros(d, k);
        for i in 0..d {
            for j in 0..k {
                axes[(i, j)] = f64::from(view.axes[i * k + j]);
            }
        }
        Ok(Projector {
            view,
            mean: view.mean.iter().map(|&m| f64::from(m)).collect(),
            axes,
        })
    }

    /// z = Vᵀ(x̃ − mean) of each row of `block` (row-major, `dim_in` per
    /// row), in double precision, as row-major f32 `rows × dim`.
    pub fn project(&self, block: &[f32]) -> Vec<f32> {
        let (d, k) = (self.view.dim_in, self.view.dim);
        let rows = block.len() / d;
        let mut x = vec![0f64; rows * d];
        for (row, out) in block.chunks_exact(d).zip(x.chunks_exact_mut(d)) {
            let s = row_scale(row, self.view.normalized);
            for ((o, &v), &m) in out.iter_mut().zip(row).zip(&self.mean) {
                *o = f64::from(v) * s - m;
            }
        }
        let mut z = vec![0f64; rows * k];
        matmul(
            MatMut::from_row_major_slice_mut(&mut z, rows, k),
            Accum::Replace,
            MatRef::from_row_major_slice(&x, rows, d),
            self.axes.as_ref(),
            1.0,
            Par::Seq,
        );
        z.into_iter().map(|v| v as f32).collect()
    }

    /// The view's rows projected, as a reduced view (small inputs; large
    /// ones go block by block through [`apply_definitions`]).
    pub fn reduce(&self, rows: &ViewRows<'_>) -> Result<ReducedView> {
        check_dim(self.view, rows)?;
        let data: Vec<f32> = rows
            .values
            .par_chunks(VIEW_BLOCK * self.view.dim_in)
            .flat_map_iter(|b| self.project(b))
            .collect();
        Ok(self.reduced(data))
    }

    fn reduced(&self, data: Vec<f32>) -> ReducedView {
        let v = self.view;
        ReducedView {
            name: v.name.clone(),
            source: v.source.clone(),
            dim_in: v.dim_in,
            dim: v.dim,
            normalized: v.normalized,
            mean: Vec::new(),
            axes: Vec::new(),
            explained_variance: Vec::new(),
            explained_ratio: 1.0,
            data,
        }
    }
}

fn check_dim(view: &SavedView, rows: &ViewRows<'_>) -> Result<()> {
    if rows.dim != view.dim_in {
        return Err(Error::ShapeMismatch(format!(
            "view '{}' ({}) has {}-dimensional vectors, but the slices were defined on {}-dimensional vectors of view '{}' (scanned from {}); pass the same embedding model's vectors",
            view.name, rows.source, rows.dim, view.dim_in, view.name, view.source
        )));
    }
    if rows.dim == 0 || rows.values.len() % rows.dim != 0 {
        return Err(Error::ShapeMismatch(format!(
            "view '{}' ({}) holds {} values, not a multiple of its dimension {}",
            view.name,
            rows.source,
            rows.values.len(),
            rows.dim
        )));
    }
    if let Some(i) = rows.values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "view '{}' ({}) has a NaN or infinite value in row {}; fix or drop that row",
            view.name,
            rows.source,
            i / rows.dim
        )));
    }
    Ok(())
}

/// Apply embedding definitions of one view to its rows, block by block
/// (the projected rows are never all in memory). `labels` must cover the
/// same rows when a definition needs them.
pub fn apply_definitions(
    view: &SavedView,
    rows: &ViewRows<'_>,
    defs: &[&Definition],
    labels: Option<Labels<'_>>,
) -> Result<Vec<RowSet>> {
    check_dim(view, rows)?;
    let proj = Projector::new(view)?;
    let d = view.dim_in;
    let n = rows.values.len() / d;
    if let Some(l) = labels {
        if l.label.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "view '{}' ({}) has {n} rows but there are {} labels",
                view.name,
                rows.source,
                l.label.len()
            )));
        }
    }
    let per_block: Vec<Result<Vec<Vec<u32>>>> = rows
        .values
        .par_chunks(VIEW_BLOCK * d)
        .enumerate()
        .map(|(b, block)| {
            let start = b * VIEW_BLOCK;
            let m = block.len() / d;
            let rv = proj.reduced(proj.project(block));
            let lab = labels.map(|l| Labels {
                names: l.names,
                label: &l.label[start..start + m],
            });
            let applied = apply_many(defs, &rv, lab)?;
            Ok(applied
                .into_iter()
                .map(|a| a.members.into_iter().map(|r| r + start as u32).collect())
                .collect())
        })
        .collect();
    let mut sets: Vec<RowSet> = defs.iter().map(|_| RowSet::empty(n)).collect();
    for block in per_block {
        for (set, members) in sets.iter_mut().zip(block?) {
            for r in members {
                set.insert(r as usize);
            }
        }
    }
    Ok(sets)
}

/// Per-row label codes of a label column: class names are the cells' text
/// (as the scan names classes), a missing label gets a name no definition
/// uses.
pub fn label_codes(col: &Column) -> Result<(Vec<String>, Vec<u32>)> {
    if let ColumnData::Vector { .. } = col.data {
        return Err(Error::InvalidInput(format!(
            "label column '{}' is a vector column",
            col.name
        )));
    }
    let mut names: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let n = col.data.len();
    let mut codes = Vec::with_capacity(n);
    for r in 0..n {
        let t = col
            .data
            .text(r)
            .unwrap_or_else(|| "\u{0}missing".to_string());
        let c = match index.get(&t) {
            Some(&c) => c,
            None => {
                names.push(t.clone());
                index.insert(t, names.len() as u32 - 1);
                names.len() as u32 - 1
            }
        };
        codes.push(c);
    }
    Ok((names, codes))
}

/// The rows of each of `slices` (indices into `file.slices`) in `input`.
/// Predicates shared by several slices are evaluated once; the embedding
/// definitions of one view are applied in one pass over its rows.
///
/// Errors name what is missing: a rule's column (with near matches), a
/// view (with the flag that provides it), labels for a slice that needs
/// them, or a view of the wrong dimension or row count.
pub fn apply_slices(
    file: &SliceFile,
    slices: &[usize],
    input: &ApplyInput<'_>,
) -> Result<Vec<RowSet>> {
    let n = input.frame.n_rows();
    let mut out: Vec<Option<RowSet>> = vec![None; slices.len()];
    // Rules: every distinct predicate once.
    let mut preds: Vec<&Predicate> = Vec::new();
    for &i in slices {
        let s = slice_at(file, i)?;
        for p in s.rule.iter().flat_map(|r| &r.predicates) {
            if !preds.contains(&p) {
                preds.push(p);
            }
        }
    }
    let pred_sets: Vec<RowSet> = preds
        .iter()
        .map(|p| {
            let users: Vec<&str> = slices
                .iter()
                .filter_map(|&i| file.slices.get(i))
                .filter(|s| s.rule.iter().any(|r| r.predicates.contains(p)))
                .map(|s| s.id.as_str())
                .collect();
            let role = format!("slice {}:", users.join(", "));
            let col = input.frame.require(p.column(), &role)?;
            predicate_rows(p, col).map_err(|e| match e {
                Error::InvalidInput(m) => {
                    Error::InvalidInput(format!("{m} (slice {})", users.join(", ")))
                }
                other => other,
            })
        })
        .collect::<Result<_>>()?;
    for (k, &i) in slices.iter().enumerate() {
        let s = slice_at(file, i)?;
        if let Some(rule) = &s.rule {
            let mut set = RowSet::full(n);
            for p in &rule.predicates {
                if let Some(j) = preds.iter().position(|q| *q == p) {
                    set.intersect_with(&pred_sets[j]);
                }
            }
            out[k] = Some(set);
        }
    }
    // Embedding definitions, grouped by view.
    let mut by_view: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, &i) in slices.iter().enumerate() {
        let s = slice_at(file, i)?;
        if s.definition.is_some() {
            by_view
                .entry(s.view.as_deref().unwrap_or_default())
                .or_default()
                .push(k);
        }
    }
    for (name, ks) in by_view {
        let ids: Vec<&str> = ks
            .iter()
            .map(|&k| file.slices[slices[k]].id.as_str())
            .collect();
        let view = file.view(name).ok_or_else(|| {
            Error::InvalidInput(format!(
                "slice {} lives in view '{name}', which the slice file does not describe",
                ids.join(", ")
            ))
        })?;
        let rows = input.views.get(name).ok_or_else(|| {
            Error::InvalidInput(format!(
                "slice {} needs view '{name}' ({}-dimensional vectors; scanned from {}): pass --view {name}=FILE.npy or --view {name}=COLUMN with the same model's vectors for these rows",
                ids.join(", "),
                view.dim_in,
                view.source
            ))
        })?;
        let view_rows = rows.values.len() / rows.dim.max(1);
        if view_rows != n {
            return Err(Error::ShapeMismatch(format!(
                "view '{name}' ({}) has {view_rows} rows but the table has {n}; embeddings must be aligned with the table row by row",
                rows.source
            )));
        }
        let needs_labels: Vec<&str> = ks
            .iter()
            .map(|&k| &file.slices[slices[k]])
            .filter(|s| s.needs_labels)
            .map(|s| s.id.as_str())
            .collect();
        if !needs_labels.is_empty() && input.labels.is_none() {
            return Err(Error::InvalidInput(format!(
                "slice {} is defined with the label (a class-restricted direction or a mixture posterior with the label term): applying it needs the label column (--label COL)",
                needs_labels.join(", ")
            )));
        }
        let defs: Vec<&Definition> = ks
            .iter()
            .filter_map(|&k| file.slices[slices[k]].definition.as_ref())
            .collect();
        let sets = apply_definitions(view, rows, &defs, input.labels)?;
        for (&k, set) in ks.iter().zip(sets) {
            out[k] = Some(set);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(k, s)| {
            s.ok_or_else(|| {
                Error::InvalidInput(format!(
                    "slice {} has neither a rule nor a definition",
                    file.slices
                        .get(slices[k])
                        .map_or("?", |s: &SavedSlice| s.id.as_str())
                ))
            })
        })
        .collect()
}

fn slice_at(file: &SliceFile, i: usize) -> Result<&SavedSlice> {
    file.slices.get(i).ok_or_else(|| {
        Error::InvalidInput(format!(
            "slice index {i} is out of range ({} slices)",
            file.slices.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{encode, EncodeParams};

    /// Predicates of the encoder select exactly the rows of their level.
    #[test]
    fn predicates_reproduce_the_encoding() {
        let n = 3000;
        let cat: Vec<Option<u32>> = (0..n)
            .map(|i| {
                if i % 17 == 0 {
                    None
                } else {
                    Some((i * 7 % 13) as u32)
                }
            })
            .collect();
        let levels: Vec<String> = (0..13).map(|i| format!("v{i}")).collect();
        let ints: Vec<Option<i64>> = (0..n)
            .map(|i| {
                if i % 31 == 0 {
                    None
                } else {
                    Some((i * 37 % 1000) as i64)
                }
            })
            .collect();
        let small: Vec<Option<i64>> = (0..n).map(|i| Some((i % 4) as i64)).collect();
        let floats: Vec<f64> = (0..n)
            .map(|i| {
                if i % 23 == 0 {
                    f64::NAN
                } else if i % 3 == 0 {
                    0.0
                } else {
                    (i as f64).sin() * 100.0
                }
            })
            .collect();
        let bools: Vec<Option<bool>> = (0..n).map(|i| Some(i % 5 == 0)).collect();
        let frame = Frame::new(vec![
            Column::new("cat", ColumnData::Categorical { codes: cat, levels }),
            Column::new("ints", ColumnData::Int(ints)),
            Column::new("small", ColumnData::Int(small)),
            Column::new("floats", ColumnData::Float(floats)),
            Column::new("flag", ColumnData::Bool(bools)),
        ])
        .unwrap();
        let names: Vec<String> = ["cat", "ints", "small", "floats", "flag"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let params = EncodeParams {
            bins: 6,
            max_levels: 6,
            ..Default::default()
        };
        let enc = encode(&frame, &names, &params).unwrap();
        let mut checked = 0;
        for a in &enc.attributes {
            let col = frame.column(&a.name).unwrap();
            for (lv, p) in a.levels.iter().enumerate() {
                // Through JSON, as a slice file carries it.
                let p: Predicate =
                    serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap();
                let got = predicate_rows(&p, col).unwrap().to_vec();
                let want: Vec<u32> = (0..n as u32)
                    .filter(|&r| a.codes[r as usize] == lv as u32)
                    .collect();
                assert_eq!(got, want, "{p}");
                checked += 1;
            }
        }
        assert!(checked > 20, "{checked}");
    }

    #[test]
    fn predicates_on_other_types_and_errors() {
        let col = Column::new("x", ColumnData::Float(vec![30.0, 31.5, f64::NAN]));
        let eq = Predicate::Eq {
            column: "x".into(),
            value: Value::Int(30),
        };
        assert_eq!(predicate_rows(&eq, &col).unwrap().to_vec(), vec![0]);
        let s = Column::new(
            "x",
            ColumnData::Categorical {
                codes: vec![Some(0), Some(1)],
                levels: vec!["30".into(), "a".into()],
            },
        );
        assert_eq!(predicate_rows(&eq, &s).unwrap().to_vec(), vec![0]);
        let range = Predicate::Range {
            column: "x".into(),
            lo: Some(1.0),
            hi: None,
        };
        let err = predicate_rows(&range, &s).unwrap_err();
        assert!(err.to_string().contains("needs numbers"), "{err}");
    }

    #[test]
    fn projection_matches_the_scan_projection() {
        use crate::views::{prepare_view, ViewParams};
        let (n, d) = (500, 12);
        let mut rng = crate::rng::Rng::new(3);
        let values: Vec<f32> = (0..n * d)
            .map(|_| rng.normal() as f32 * 3.0 + 1.0)
            .collect();
        for normalize in [false, true] {
            let params = ViewParams {
                max_dim: 5,
                normalize,
            };
            let rv = prepare_view("v", "test", &values, d, &params).unwrap();
            let saved = SavedView::from_reduced(&rv, false);
            let proj = Projector::new(&saved).unwrap();
            let rows = ViewRows {
                values: &values,
                dim: d,
                source: "test",
            };
            let again = proj.reduce(&rows).unwrap();
            let worst = rv
                .data
                .iter()
                .zip(&again.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "normalize {normalize}: {worst}");
            let bad = ViewRows {
                values: &values[..n * 6],
                dim: 6,
                source: "short",
            };
            let err = proj.reduce(&bad).unwrap_err();
            assert!(err.to_string().contains("6-dimensional"), "{err}");
        }
    }
}
