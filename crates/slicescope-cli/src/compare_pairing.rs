//! `slicescope compare A.parquet B.parquet`: model A's outputs in one file,
//! model B's in another, for the same evaluation rows. The rows are paired
//! by an id column (`--id COL`: unique in each file, the same ids in both)
//! or else by position (equal row counts); either way the label column must
//! agree row by row, so that both files really are the same evaluation set.
//! Attributes and views come from A; B contributes its output column only.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Result};
use slicescope_core::frame::{ColumnData, Frame};

/// How the rows of the two files were paired.
#[derive(Debug, Clone)]
pub enum Pairing {
    /// Row i of A is row i of B.
    Position,
    /// Row i of A is row `perm[i]` of B (same id).
    Id { column: String, perm: Vec<usize> },
}

impl Pairing {
    /// The text written to the JSON document and the history.
    pub fn describe(&self) -> String {
        match self {
            Pairing::Position => "position".into(),
            Pairing::Id { column, .. } => format!("id:{column}"),
        }
    }
}

/// The ids of column `col` of `frame` (of file `path`), as text (string
/// ids borrowed, others formatted); a missing id is an error.
fn ids<'a>(frame: &'a Frame, col: &str, path: &Path) -> Result<Vec<Cow<'a, str>>> {
    let Some(c) = frame.column(col) else {
        bail!(
            "{}: id column '{col}' not found{}",
            path.display(),
            slicescope_core::error::near_matches(col, frame.source_columns())
                .first()
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default()
        );
    };
    if matches!(c.data, ColumnData::Vector { .. }) {
        bail!(
            "{}: id column '{col}' holds vectors; name a column of one id per row",
            path.display()
        );
    }
    let mut out: Vec<Cow<'a, str>> = Vec::with_capacity(frame.n_rows());
    let mut missing = 0usize;
    for r in 0..frame.n_rows() {
        let id = match &c.data {
            ColumnData::Categorical { codes, levels } => codes[r]
                .and_then(|k| levels.get(k as usize))
                .map(|s| Cow::Borrowed(s.as_str())),
            other => other.text(r).map(Cow::Owned),
        };
        match id {
            Some(t) => out.push(t),
            None => {
                missing += 1;
                out.push(Cow::Borrowed(""));
            }
        }
    }
    if missing > 0 {
        bail!(
            "{}: id column '{col}' is missing in {missing} row(s); every row needs an id to be paired",
            path.display()
        );
    }
    Ok(out)
}

/// (id, row) sorted by id.
fn sorted<'a>(v: &'a [Cow<'_, str>]) -> Vec<(&'a str, usize)> {
    let mut s: Vec<(&str, usize)> = v.iter().map(|x| x.as_ref()).zip(0..).collect();
    s.sort_unstable();
    s
}

/// Pair the rows of `a` (file `path_a`) and `b` (file `path_b`).
pub fn pair(
    a: &Frame,
    b: &Frame,
    path_a: &Path,
    path_b: &Path,
    id: Option<&str>,
) -> Result<Pairing> {
    let Some(col) = id else {
        if a.n_rows() != b.n_rows() {
            bail!(
                "{} has {} rows and {} has {}: paired by position, the two files must hold the same rows in the same order; pass --id COL to pair them by an id column",
                path_a.display(),
                a.n_rows(),
                path_b.display(),
                b.n_rows()
            );
        }
        return Ok(Pairing::Position);
    };
    let ia = ids(a, col, path_a)?;
    let ib = ids(b, col, path_b)?;
    // Sort both sides by id and merge: duplicates are equal neighbours;
    // the merge finds the ids on one side only and B's row of each of A's.
    let (sa, sb) = (sorted(&ia), sorted(&ib));
    let dups = |s: &[(&str, usize)]| s.windows(2).filter(|w| w[0].0 == w[1].0).count();
    let (dup_a, dup_b) = (dups(&sa), dups(&sb));
    let (mut only_a, mut only_b) = (0usize, 0usize);
    let mut perm = vec![0usize; ia.len()];
    let (mut i, mut j) = (0usize, 0usize);
    while i < sa.len() || j < sb.len() {
        let order = match (sa.get(i), sb.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(y.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Equal => {
                let (key, row_b) = sb[j];
                while i < sa.len() && sa[i].0 == key {
                    perm[sa[i].1] = row_b;
                    i += 1;
                }
                while j < sb.len() && sb[j].0 == key {
                    j += 1;
                }
            }
            std::cmp::Ordering::Less => {
                only_a += 1;
                let key = sa[i].0;
                while i < sa.len() && sa[i].0 == key {
                    i += 1;
                }
            }
            std::cmp::Ordering::Greater => {
                only_b += 1;
                let key = sb[j].0;
                while j < sb.len() && sb[j].0 == key {
                    j += 1;
                }
            }
        }
    }
    if dup_a + dup_b + only_a + only_b > 0 {
        let mut what = Vec::new();
        if dup_a > 0 {
            what.push(format!("{dup_a} duplicate id(s) in {}", path_a.display()));
        }
        if dup_b > 0 {
            what.push(format!("{dup_b} duplicate id(s) in {}", path_b.display()));
        }
        if only_a > 0 {
            what.push(format!(
                "{only_a} id(s) of {} missing from {}",
                path_a.display(),
                path_b.display()
            ));
        }
        if only_b > 0 {
            what.push(format!(
                "{only_b} id(s) of {} missing from {}",
                path_b.display(),
                path_a.display()
            ));
        }
        bail!(
            "--id '{col}' does not pair the two files: {}; every id must be unique and present in both (the same evaluation set)",
            what.join(", ")
        );
    }
    Ok(Pairing::Id {
        column: col.to_string(),
        perm,
    })
}

/// `data` in A's row order.
pub fn reorder(data: ColumnData, pairing: &Pairing) -> ColumnData {
    let Pairing::Id { perm, .. } = pairing else {
        return data;
    };
    match data {
        ColumnData::Float(v) => ColumnData::Float(perm.iter().map(|&i| v[i]).collect()),
        ColumnData::Int(v) => ColumnData::Int(perm.iter().map(|&i| v[i]).collect()),
        ColumnData::Bool(v) => ColumnData::Bool(perm.iter().map(|&i| v[i]).collect()),
        ColumnData::Categorical { codes, levels } => ColumnData::Categorical {
            codes: perm.iter().map(|&i| codes[i]).collect(),
            levels,
        },
        ColumnData::Vector {
            values,
            dim,
            null_rows,
        } => {
            let mut out = Vec::with_capacity(values.len());
            for &i in perm {
                out.extend_from_slice(&values[i * dim..(i + 1) * dim]);
            }
            let nulls: std::collections::HashSet<usize> = null_rows.into_iter().collect();
            let null_rows = perm
                .iter()
                .enumerate()
                .filter(|(_, i)| nulls.contains(i))
                .map(|(r, _)| r)
                .collect();
            ColumnData::Vector {
                values: out,
                dim,
                null_rows,
            }
        }
    }
}

/// Rows (of A) where the label of A and the paired label of B differ (by
/// their text; both missing is equal).
pub fn label_mismatches(a: &ColumnData, b: &ColumnData) -> Vec<usize> {
    (0..a.len()).filter(|&r| a.text(r) != b.text(r)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use slicescope_core::frame::Column;

    fn frame(ids: &[&str], labels: &[f64]) -> Frame {
        Frame::new(vec![
            Column::new(
                "id",
                ColumnData::Categorical {
                    codes: (0..ids.len() as u32).map(Some).collect(),
                    levels: ids.iter().map(|s| s.to_string()).collect(),
                },
            ),
            Column::new("y", ColumnData::Float(labels.to_vec())),
        ])
        .unwrap()
    }

    #[test]
    fn pairs_by_id_and_reorders_every_kind() {
        let a = frame(&["x", "y", "z"], &[1.0, 2.0, 3.0]);
        let b = frame(&["z", "x", "y"], &[3.0, 1.0, 2.0]);
        let p = pair(&a, &b, Path::new("a"), Path::new("b"), Some("id")).unwrap();
        let y = reorder(b.column("y").unwrap().data.clone(), &p);
        assert_eq!(y, ColumnData::Float(vec![1.0, 2.0, 3.0]));
        let v = ColumnData::Vector {
            values: vec![3.0, 3.5, 1.0, 1.5, f32::NAN, f32::NAN],
            dim: 2,
            null_rows: vec![2],
        };
        match reorder(v, &p) {
            ColumnData::Vector {
                values, null_rows, ..
            } => {
                assert_eq!(&values[..2], &[1.0, 1.5]);
                assert_eq!(&values[4..], &[3.0, 3.5]);
                assert_eq!(null_rows, vec![1]);
            }
            _ => unreachable!(),
        }
        assert!(label_mismatches(&a.column("y").unwrap().data, &y).is_empty());
    }

    #[test]
    fn bad_ids_are_counted() {
        let a = frame(&["x", "y", "z"], &[1.0, 2.0, 3.0]);
        let b = frame(&["x", "x", "w"], &[1.0, 2.0, 3.0]);
        let e = pair(&a, &b, Path::new("a.csv"), Path::new("b.csv"), Some("id"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 duplicate id(s) in b.csv"), "{e}");
        assert!(e.contains("2 id(s) of a.csv missing from b.csv"), "{e}");
        assert!(e.contains("1 id(s) of b.csv missing from a.csv"), "{e}");
        let e = pair(
            &a,
            &frame(&["x"], &[1.0]),
            Path::new("a"),
            Path::new("b"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("pass --id COL"), "{e}");
    }
}
