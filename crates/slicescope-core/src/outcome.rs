//! From the outcome columns of an evaluation table to a per-sample error
//! signal `e_i ≥ 0`, the quantity every slice is compared on.
//!
//! | task | columns | error signal (default) | `signal = "loss"` |
//! |---|---|---|---|
//! | classification | label + predicted class | 1 if pred ≠ label | — |
//! | classification | label + probability vector | 1 if argmax ≠ label | cross-entropy −ln p(label) |
//! | binary | label + score, threshold (0.5) | 1 if (score ≥ t) ≠ label | log loss |
//! | regression | label + prediction | \|y − ŷ\| (or (y − ŷ)², or 1 if \|y − ŷ\| > tolerance) | — |
//! | metric | per-sample loss or metric | the loss; for higher-is-better metrics `best − m` | — |

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::frame::{Column, ColumnData, Frame};

/// Which task the outcome columns describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Multiclass (or binary) classification with predicted classes or a
    /// probability vector.
    Classification,
    /// Binary classification with a real-valued score and a threshold.
    Binary,
    /// Regression: numeric label and prediction.
    Regression,
    /// A per-sample loss or metric given directly.
    Metric,
}

/// Regression error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegressionError {
    /// |y − ŷ|
    #[default]
    Absolute,
    /// (y − ŷ)²
    Squared,
}

/// Whether classification slices on 0/1 mistakes or on the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// 0/1 mistakes (error rate).
    #[default]
    Error,
    /// Cross-entropy / log loss (needs probabilities or scores).
    Loss,
}

/// What the outcome columns are and how to turn them into errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutcomeSpec {
    /// Label and predicted class.
    Classification {
        /// Label column.
        label: String,
        /// Predicted-class column.
        pred: String,
    },
    /// Label and a probability vector (list column, one probability per class).
    Probabilities {
        /// Label column.
        label: String,
        /// Probability-vector column.
        probs: String,
        /// Class names in the order of the probability vector; needed when
        /// labels are strings. Without it labels must be integers 0..c−1.
        classes: Option<Vec<String>>,
        /// 0/1 errors or cross-entropy.
        signal: Signal,
    },
    /// Binary label and a score.
    Binary {
        /// Label column (0/1, booleans, or two strings with `positive`).
        label: String,
        /// Score column.
        score: String,
        /// Predict positive when score ≥ threshold.
        threshold: f64,
        /// The positive label value, required when labels are strings
        /// other than "0"/"1"/"true"/"false".
        positive: Option<String>,
        /// 0/1 errors or log loss.
        signal: Signal,
    },
    /// Numeric label and prediction.
    Regression {
        /// Label column.
        label: String,
        /// Prediction column.
        pred: String,
        /// Absolute or squared error.
        error: RegressionError,
        /// When set, the error is 1 if |y − ŷ| > tolerance, else 0.
        tolerance: Option<f64>,
    },
    /// A per-sample loss or metric column.
    Metric {
        /// The column.
        column: String,
        /// True for losses (default), false for metrics such as IoU or
        /// accuracy where higher is better.
        higher_is_worse: bool,
    },
}

/// Class information of classification tasks (kept for descriptions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classes {
    /// Class names.
    pub names: Vec<String>,
    /// Per-row label index into `names`.
    pub label: Vec<u32>,
    /// Per-row predicted index into `names`.
    pub pred: Vec<u32>,
}

/// The derived error signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The task.
    pub task: Task,
    /// Per-row error, finite and ≥ 0.
    pub errors: Vec<f64>,
    /// Optional per-row frequency weights, finite and ≥ 0.
    pub weights: Option<Vec<f64>>,
    /// True when every error is 0 or 1.
    pub binary: bool,
    /// Name of the compared quantity: "error rate", "mean absolute error"...
    pub metric: String,
    /// One line on how the error was derived.
    pub derivation: String,
    /// Classes, for classification tasks.
    pub classes: Option<Classes>,
    /// The model's probabilities of its prediction and of the given label
    /// per row, when the outcome came with probabilities (a probability
    /// vector, or a binary score in [0, 1]); used by the label-noise
    /// diagnosis.
    pub confidence: Option<Confidence>,
    /// Things the user should know (never errors).
    pub notes: Vec<String>,
}

/// What confident learning reads of a model's probabilities, per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Confidence {
    /// p̂(predicted class | x): the probability of the model's own
    /// prediction.
    pub predicted: Vec<f64>,
    /// p̂(given label | x): the probability the model gives the row's
    /// label; its mean over the rows of a label is that label's threshold
    /// (`diagnose::class_thresholds`).
    pub given: Vec<f64>,
}

/// Derive the error signal. `weight` names an optional weight column.
pub fn derive(frame: &Frame, spec: &OutcomeSpec, weight: Option<&str>) -> Result<Outcome> {
    if frame.n_rows() == 0 {
        return Err(Error::NoData(
            "the table has no rows; check the input file or the filter that produced it".into(),
        ));
    }
    let mut out = match spec {
        OutcomeSpec::Classification { label, pred } => classification(frame, label, pred)?,
        OutcomeSpec::Probabilities {
            label,
            probs,
            classes,
            signal,
        } => probabilities(frame, label, probs, classes.as_deref(), *signal)?,
        OutcomeSpec::Binary {
            label,
            score,
            threshold,
            positive,
            signal,
        } => binary(
            frame,
            label,
            score,
            *threshold,
            positive.as_deref(),
            *signal,
        )?,
        OutcomeSpec::Regression {
            label,
            pred,
            error,
            tolerance,
        } => regression(frame, label, pred, *error, *tolerance)?,
        OutcomeSpec::Metric {
            column,
            higher_is_worse,
        } => metric(frame, column, *higher_is_worse)?,
    };
    if let Some(w) = weight {
        let col = frame.require(w, "weight")?;
        let values = numeric(col, "weight")?;
        let (bad, first) = count_bad(&values, |v| v.is_finite() && v >= 0.0);
        if bad > 0 {
            return Err(Error::InvalidInput(format!(
                "weight column '{w}' has {bad} missing, negative, NaN or infinite values (first at row {first}); weights must be finite and ≥ 0"
            )));
        }
        if values.iter().all(|&v| v == 0.0) {
            return Err(Error::InvalidInput(format!(
                "weight column '{w}' is zero everywhere"
            )));
        }
        out.weights = Some(values);
    }
    out.binary = out.errors.iter().all(|&e| e == 0.0 || e == 1.0);
    Ok(out)
}

fn count_bad(values: &[f64], ok: impl Fn(f64) -> bool) -> (usize, usize) {
    let mut bad = 0;
    let mut first = usize::MAX;
    for (i, &v) in values.iter().enumerate() {
        if !ok(v) {
            bad += 1;
            first = first.min(i);
        }
    }
    (bad, first)
}

/// "row 3" or "rows 1, 4, 9, ..." (0-based row numbers, at most five shown).
pub(crate) fn rows_list(rows: &[usize]) -> String {
    let shown: Vec<String> = rows.iter().take(5).map(|r| r.to_string()).collect();
    let word = if rows.len() == 1 { "row" } else { "rows" };
    if rows.len() > 5 {
        format!("{word} {}, ...", shown.join(", "))
    } else {
        format!("{word} {}", shown.join(", "))
    }
}

/// "1 row" / "3 rows".
pub(crate) fn n_rows(n: usize) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

/// Numeric values of a column as f64; missing values become NaN.
fn numeric(col: &Column, role: &str) -> Result<Vec<f64>> {
    match &col.data {
        ColumnData::Float(v) => Ok(v.clone()),
        ColumnData::Int(v) => Ok(v.iter().map(|x| x.map_or(f64::NAN, |x| x as f64)).collect()),
        ColumnData::Bool(v) => Ok(v
            .iter()
            .map(|x| x.map_or(f64::NAN, |b| if b { 1.0 } else { 0.0 }))
            .collect()),
        other => Err(Error::InvalidInput(format!(
            "{role} column '{}' must be numeric but is a {} column",
            col.name,
            other.kind()
        ))),
    }
}

/// Class keys of a label/prediction column as strings; None = missing.
fn class_keys(col: &Column, role: &str) -> Result<Vec<String>> {
    let keys = match &col.data {
        ColumnData::Categorical { codes, levels } => codes
            .iter()
            .map(|c| c.map(|c| levels[c as usize].clone()))
            .collect(),
        ColumnData::Int(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
        ColumnData::Bool(v) => v.iter().map(|x| x.map(|b| b.to_string())).collect(),
        ColumnData::Float(v) => {
            let mut out = Vec::with_capacity(v.len());
            for (i, &x) in v.iter().enumerate() {
                if x.is_nan() {
                    out.push(None);
                } else if x.fract() != 0.0 || !x.is_finite() {
                    return Err(Error::InvalidInput(format!(
                        "{role} column '{}' holds the non-integer value {x} at row {i}; class labels must be integers or strings (for a numeric target use --task regression)",
                        col.name
                    )));
                } else {
                    out.push(Some((x as i64).to_string()));
                }
            }
            out
        }
        ColumnData::Vector { .. } => {
            return Err(Error::InvalidInput(format!(
                "{role} column '{}' is a list column; a probability vector goes to --probs",
                col.name
            )))
        }
    };
    let missing: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.is_none().then_some(i))
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{role} column '{}' has missing values in {} ({}); drop those rows or fill them",
            col.name,
            n_rows(missing.len()),
            rows_list(&missing)
        )));
    }
    Ok(keys.into_iter().flatten().collect())
}

/// Sort class names naturally: numerically when all are integers.
fn sort_classes(names: &mut [String]) {
    if names.iter().all(|n| n.parse::<i64>().is_ok()) {
        names.sort_by_key(|n| n.parse::<i64>().unwrap_or(0));
    } else {
        names.sort();
    }
}

fn single_class_error(col: &str, class: &str, n: usize) -> Error {
    Error::InvalidInput(format!(
        "label column '{col}' holds a single class ('{class}') in all {n} rows; slicing compares errors across classes and groups, so check the filter that produced this table"
    ))
}

fn classification(frame: &Frame, label: &str, pred: &str) -> Result<Outcome> {
    let lcol = frame.require(label, "label")?;
    let pcol = frame.require(pred, "prediction")?;
    let lk = class_keys(lcol, "label")?;
    let pk = class_keys(pcol, "prediction")?;
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    for k in lk.iter().chain(pk.iter()) {
        if !index.contains_key(k) {
            index.insert(k.clone(), 0);
            names.push(k.clone());
        }
    }
    sort_classes(&mut names);
    for (i, n) in names.iter().enumerate() {
        index.insert(n.clone(), i as u32);
    }
    let li: Vec<u32> = lk.iter().map(|k| index[k]).collect();
    let pi: Vec<u32> = pk.iter().map(|k| index[k]).collect();
    let mut seen_label = vec![false; names.len()];
    let mut seen_pred = vec![false; names.len()];
    li.iter().for_each(|&i| seen_label[i as usize] = true);
    pi.iter().for_each(|&i| seen_pred[i as usize] = true);
    let n_label_classes = seen_label.iter().filter(|&&s| s).count();
    if n_label_classes == 1 {
        return Err(single_class_error(label, &lk[0], li.len()));
    }
    let overlap = seen_label.iter().zip(&seen_pred).any(|(&a, &b)| a && b);
    if !overlap {
        let ex = |seen: &[bool]| -> String {
            names
                .iter()
                .zip(seen)
                .filter(|(_, &s)| s)
                .take(4)
                .map(|(n, _)| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::InvalidInput(format!(
            "no value of label column '{label}' (e.g. {}) ever appears in prediction column '{pred}' (e.g. {}); the two columns must use the same class names",
            ex(&seen_label),
            ex(&seen_pred)
        )));
    }
    let mut notes = Vec::new();
    let never: Vec<&String> = names
        .iter()
        .zip(seen_label.iter().zip(&seen_pred))
        .filter(|(_, (&l, &p))| l && !p)
        .map(|(n, _)| n)
        .collect();
    if !never.is_empty() {
        notes.push(format!(
            "the model never predicts label class(es) {} (every such row is an error)",
            never
                .iter()
                .take(5)
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let errors = li
        .iter()
        .zip(&pi)
        .map(|(a, b)| if a == b { 0.0 } else { 1.0 })
        .collect();
    Ok(Outcome {
        task: Task::Classification,
        errors,
        weights: None,
        binary: true,
        metric: "error rate".into(),
        derivation: format!("error = 1 where '{pred}' ≠ '{label}'"),
        classes: Some(Classes {
            names,
            label: li,
            pred: pi,
        }),
        confidence: None,
        notes,
    })
}

fn vector<'a>(col: &'a Column, role: &str) -> Result<(&'a [f32], usize)> {
    match &col.data {
        ColumnData::Vector { values, dim, null_rows } => {
            if !null_rows.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{role} column '{}' is null in {} ({})",
                    col.name,
                    n_rows(null_rows.len()),
                    rows_list(null_rows)
                )));
            }
            Ok((values, *dim))
        }
        other => Err(Error::InvalidInput(format!(
            "{role} column '{}' must be a list of floats (one probability per class) but is a {} column",
            col.name,
            other.kind()
        ))),
    }
}

fn probabilities(
    frame: &Frame,
    label: &str,
    probs: &str,
    classes: Option<&[String]>,
    signal: Signal,
) -> Result<Outcome> {
    let lcol = frame.require(label, "label")?;
    let pcol = frame.require(probs, "probabilities")?;
    let (values, dim) = vector(pcol, "probabilities")?;
    if dim < 2 {
        return Err(Error::InvalidInput(format!(
            "probabilities column '{probs}' has {dim} value(s) per row; it needs one per class (≥ 2). For a single score use --score"
        )));
    }
    let names: Vec<String> = match classes {
        Some(c) => {
            if c.len() != dim {
                return Err(Error::ShapeMismatch(format!(
                    "{} class names were given but probabilities column '{probs}' has {dim} values per row",
                    c.len()
                )));
            }
            c.to_vec()
        }
        None => (0..dim).map(|i| i.to_string()).collect(),
    };
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let keys = class_keys(lcol, "label")?;
    let mut li = Vec::with_capacity(keys.len());
    for (row, k) in keys.iter().enumerate() {
        match index.get(k.as_str()) {
            Some(&i) => li.push(i),
            None => {
                let hint = if classes.is_none() {
                    "; labels must be class indices 0..c−1, or give the class names in the order of the probability columns with --classes (scikit-learn: model.classes_)"
                } else {
                    "; it is not among the given --classes"
                };
                return Err(Error::InvalidInput(format!(
                    "label '{k}' at row {row} of column '{label}' has no column in probabilities '{probs}' ({dim} classes: {}){hint}",
                    names.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    // Validate the probabilities: finite, in [0, 1], rows summing to ~1.
    let n = li.len();
    let mut nonfinite = Vec::new();
    let mut bad_sum = Vec::new();
    let mut worst_sum = 1.0f64;
    for r in 0..n {
        let row = &values[r * dim..(r + 1) * dim];
        if row
            .iter()
            .any(|p| !p.is_finite() || *p < -1e-6 || *p > 1.0 + 1e-6)
        {
            nonfinite.push(r);
            continue;
        }
        let s: f64 = row.iter().map(|&p| p as f64).sum();
        if (s - 1.0).abs() > 1e-3 {
            if bad_sum.is_empty() {
                worst_sum = s;
            }
            bad_sum.push(r);
        }
    }
    if !nonfinite.is_empty() {
        return Err(Error::InvalidInput(format!(
            "probabilities column '{probs}' has NaN, infinite or out-of-[0, 1] values in {} ({})",
            n_rows(nonfinite.len()),
            rows_list(&nonfinite)
        )));
    }
    if !bad_sum.is_empty() {
        return Err(Error::InvalidInput(format!(
            "probabilities in column '{probs}' do not sum to 1 (±0.001) in {} ({}; the first sums to {worst_sum:.4}); pass probabilities (softmax of the logits), not logits or scores",
            n_rows(bad_sum.len()),
            rows_list(&bad_sum)
        )));
    }
    let mut seen = vec![false; dim];
    li.iter().for_each(|&i| seen[i as usize] = true);
    if seen.iter().filter(|&&s| s).count() == 1 {
        return Err(single_class_error(label, &names[li[0] as usize], n));
    }
    let mut pi = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut predicted = Vec::with_capacity(n);
    let mut given = Vec::with_capacity(n);
    for r in 0..n {
        let row = &values[r * dim..(r + 1) * dim];
        let mut best = 0usize;
        for (j, &p) in row.iter().enumerate() {
            if p > row[best] {
                best = j;
            }
        }
        pi.push(best as u32);
        predicted.push(f64::from(row[best]).clamp(0.0, 1.0));
        given.push(f64::from(row[li[r] as usize]).clamp(0.0, 1.0));
        errors.push(match signal {
            Signal::Error => f64::from(u8::from(best as u32 != li[r])),
            Signal::Loss => -(row[li[r] as usize] as f64).max(1e-15).ln(),
        });
    }
    let (metric, derivation) = match signal {
        Signal::Error => (
            "error rate",
            format!("error = 1 where argmax of '{probs}' ≠ '{label}'"),
        ),
        Signal::Loss => (
            "mean cross-entropy",
            format!("error = −ln p('{label}') from '{probs}'"),
        ),
    };
    Ok(Outcome {
        task: Task::Classification,
        errors,
        weights: None,
        binary: true,
        metric: metric.into(),
        derivation,
        classes: Some(Classes {
            names,
            label: li,
            pred: pi,
        }),
        confidence: Some(Confidence { predicted, given }),
        notes: vec![],
    })
}

fn binary(
    frame: &Frame,
    label: &str,
    score: &str,
    threshold: f64,
    positive: Option<&str>,
    signal: Signal,
) -> Result<Outcome> {
    if !threshold.is_finite() {
        return Err(Error::param("threshold", "must be a finite number"));
    }
    let lcol = frame.require(label, "label")?;
    let scol = frame.require(score, "score")?;
    let scores = numeric(scol, "score")?;
    let bad: Vec<usize> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| (!s.is_finite()).then_some(i))
        .collect();
    if !bad.is_empty() {
        return Err(Error::InvalidInput(format!(
            "score column '{score}' has {} missing, NaN or infinite values ({})",
            bad.len(),
            rows_list(&bad)
        )));
    }
    let keys = class_keys(lcol, "label")?;
    let mut distinct: Vec<String> = Vec::new();
    for k in keys.iter() {
        if !distinct.contains(k) {
            distinct.push(k.clone());
            if distinct.len() > 2 {
                return Err(Error::InvalidInput(format!(
                    "label column '{label}' has more than two values ({}); a binary task needs two classes. For several classes use --pred or --probs",
                    distinct.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    if distinct.len() == 1 {
        return Err(single_class_error(label, &distinct[0], keys.len()));
    }
    let pos: String = match positive {
        Some(p) => {
            if !distinct.iter().any(|d| d == p) {
                return Err(Error::InvalidInput(format!(
                    "positive class '{p}' does not occur in label column '{label}' (values: {})",
                    distinct
                        .iter()
                        .map(|d| format!("'{d}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            p.to_string()
        }
        None => {
            let mut sorted = distinct.clone();
            sorted.sort();
            if sorted == ["0", "1"] {
                "1".into()
            } else if sorted == ["false", "true"] {
                "true".into()
            } else {
                return Err(Error::InvalidInput(format!(
                    "label column '{label}' has values {}; say which is the positive class with --positive",
                    distinct.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(" and ")
                )));
            }
        }
    };
    let neg = distinct
        .iter()
        .find(|d| **d != pos)
        .cloned()
        .unwrap_or_default();
    let y: Vec<bool> = keys.iter().map(|k| *k == pos).collect();
    if signal == Signal::Loss && scores.iter().any(|s| !(0.0..=1.0).contains(s)) {
        return Err(Error::InvalidInput(format!(
            "log loss needs scores in [0, 1], but column '{score}' has values outside; use the 0/1 error signal or pass probabilities"
        )));
    }
    let errors = y
        .iter()
        .zip(&scores)
        .map(|(&yi, &s)| match signal {
            Signal::Error => f64::from(u8::from((s >= threshold) != yi)),
            Signal::Loss => {
                let p = if yi { s } else { 1.0 - s };
                -p.max(1e-15).ln()
            }
        })
        .collect();
    let names = vec![neg, pos];
    // The score is a probability only when it lies in [0, 1].
    let binary_confidence = scores
        .iter()
        .all(|s| (0.0..=1.0).contains(s))
        .then(|| Confidence {
            predicted: scores
                .iter()
                .map(|&s| if s >= threshold { s } else { 1.0 - s })
                .collect(),
            given: y
                .iter()
                .zip(&scores)
                .map(|(&yi, &s)| if yi { s } else { 1.0 - s })
                .collect(),
        });
    let label_idx: Vec<u32> = y.iter().map(|&b| u32::from(b)).collect();
    let pred_idx: Vec<u32> = scores.iter().map(|&s| u32::from(s >= threshold)).collect();
    let (metric, derivation) = match signal {
        Signal::Error => (
            "error rate",
            format!(
                "error = 1 where ('{score}' ≥ {threshold}) disagrees with '{label}' = '{}'",
                names[1]
            ),
        ),
        Signal::Loss => (
            "mean log loss",
            format!("error = log loss of '{score}' against '{label}'"),
        ),
    };
    Ok(Outcome {
        task: Task::Binary,
        errors,
        weights: None,
        binary: true,
        metric: metric.into(),
        derivation,
        classes: Some(Classes {
            names,
            label: label_idx,
            pred: pred_idx,
        }),
        confidence: binary_confidence,
        notes: vec![],
    })
}

fn finite_values(col: &Column, role: &str) -> Result<Vec<f64>> {
    let v = numeric(col, role)?;
    let bad: Vec<usize> = v
        .iter()
        .enumerate()
        .filter_map(|(i, x)| (!x.is_finite()).then_some(i))
        .collect();
    if !bad.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{role} column '{}' has {} missing, NaN or infinite values ({}); drop or fill those rows",
            col.name,
            bad.len(),
            rows_list(&bad)
        )));
    }
    Ok(v)
}

fn regression(
    frame: &Frame,
    label: &str,
    pred: &str,
    kind: RegressionError,
    tolerance: Option<f64>,
) -> Result<Outcome> {
    if let Some(t) = tolerance {
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::param("tolerance", "must be a finite number ≥ 0"));
        }
    }
    let y = finite_values(frame.require(label, "label")?, "label")?;
    let p = finite_values(frame.require(pred, "prediction")?, "prediction")?;
    let errors: Vec<f64> = y
        .iter()
        .zip(&p)
        .map(|(a, b)| {
            let d = (a - b).abs();
            match (tolerance, kind) {
                (Some(t), _) => f64::from(u8::from(d > t)),
                (None, RegressionError::Absolute) => d,
                (None, RegressionError::Squared) => d * d,
            }
        })
        .collect();
    let (metric, derivation) = match (tolerance, kind) {
        (Some(t), _) => (
            "error rate".to_string(),
            format!("error = 1 where |'{label}' − '{pred}'| > {t}"),
        ),
        (None, RegressionError::Absolute) => (
            "mean absolute error".into(),
            format!("error = |'{label}' − '{pred}'|"),
        ),
        (None, RegressionError::Squared) => (
            "mean squared error".into(),
            format!("error = ('{label}' − '{pred}')²"),
        ),
    };
    Ok(Outcome {
        task: Task::Regression,
        errors,
        weights: None,
        binary: false,
        metric,
        derivation,
        classes: None,
        confidence: None,
        notes: vec![],
    })
}

fn metric(frame: &Frame, column: &str, higher_is_worse: bool) -> Result<Outcome> {
    let v = finite_values(frame.require(column, "loss")?, "loss")?;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (errors, derivation, metric) = if higher_is_worse {
        if min < 0.0 {
            return Err(Error::InvalidInput(format!(
                "loss column '{column}' has negative values (min {min}); slicescope compares slices by the ratio of their mean loss to the overall mean, which needs a loss ≥ 0. If higher values are better (a metric such as IoU or accuracy), add --higher-is-better"
            )));
        }
        (
            v,
            format!("error = '{column}' (higher is worse)"),
            format!("mean {column}"),
        )
    } else {
        // A metric where higher is better: the error is the shortfall from
        // the best value, 1 for metrics in [0, 1] (IoU, accuracy, F1...).
        let best = if min >= 0.0 && max <= 1.0 { 1.0 } else { max };
        (
            v.iter().map(|x| best - x).collect(),
            format!("error = {best} − '{column}' (higher is better)"),
            format!("mean shortfall of {column} from {best}"),
        )
    };
    Ok(Outcome {
        task: Task::Metric,
        errors,
        weights: None,
        binary: false,
        metric,
        derivation,
        classes: None,
        confidence: None,
        notes: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(name: &str, vals: &[&str]) -> Column {
        let mut levels: Vec<String> = Vec::new();
        let codes = vals
            .iter()
            .map(|v| {
                let pos = levels.iter().position(|l| l == v).unwrap_or_else(|| {
                    levels.push(v.to_string());
                    levels.len() - 1
                });
                Some(pos as u32)
            })
            .collect();
        Column::new(name, ColumnData::Categorical { codes, levels })
    }

    fn frame(cols: Vec<Column>) -> Frame {
        Frame::new(cols).unwrap()
    }

    #[test]
    fn classification_errors_and_notes() {
        let f = frame(vec![
            cat("y", &["a", "b", "c", "a"]),
            cat("p", &["a", "a", "a", "b"]),
        ]);
        let o = derive(
            &f,
            &OutcomeSpec::Classification {
                label: "y".into(),
                pred: "p".into(),
            },
            None,
        )
        .unwrap();
        assert_eq!(o.errors, vec![0.0, 1.0, 1.0, 1.0]);
        assert!(o.binary);
        assert!(o.notes[0].contains("'c'"), "{:?}", o.notes);
        let c = o.classes.unwrap();
        assert_eq!(c.names, vec!["a", "b", "c"]);
    }

    #[test]
    fn classification_int_label_vs_string_pred_mismatch() {
        let f = frame(vec![
            Column::new("y", ColumnData::Int(vec![Some(0), Some(1)])),
            cat("p", &["no", "yes"]),
        ]);
        let e = derive(
            &f,
            &OutcomeSpec::Classification {
                label: "y".into(),
                pred: "p".into(),
            },
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("ever appears in prediction column"),
            "{e}"
        );
    }

    #[test]
    fn single_class_is_an_error() {
        let f = frame(vec![cat("y", &["a", "a"]), cat("p", &["a", "b"])]);
        let e = derive(
            &f,
            &OutcomeSpec::Classification {
                label: "y".into(),
                pred: "p".into(),
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("single class"), "{e}");
    }

    #[test]
    fn missing_label_values_are_reported() {
        let f = frame(vec![
            Column::new("y", ColumnData::Float(vec![1.0, f64::NAN, 0.0])),
            Column::new("p", ColumnData::Int(vec![Some(1), Some(0), Some(0)])),
        ]);
        let e = derive(
            &f,
            &OutcomeSpec::Classification {
                label: "y".into(),
                pred: "p".into(),
            },
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("missing values in 1 row (row 1)"),
            "{e}"
        );
    }

    fn probs_frame(p: Vec<f32>) -> Frame {
        frame(vec![
            Column::new("y", ColumnData::Int(vec![Some(0), Some(1), Some(2)])),
            Column::new(
                "pr",
                ColumnData::Vector {
                    values: p,
                    dim: 3,
                    null_rows: vec![],
                },
            ),
        ])
    }

    #[test]
    fn probabilities_argmax_and_cross_entropy() {
        let f = probs_frame(vec![0.7, 0.2, 0.1, 0.6, 0.3, 0.1, 0.1, 0.1, 0.8]);
        let spec = |signal| OutcomeSpec::Probabilities {
            label: "y".into(),
            probs: "pr".into(),
            classes: None,
            signal,
        };
        let o = derive(&f, &spec(Signal::Error), None).unwrap();
        assert_eq!(o.errors, vec![0.0, 1.0, 0.0]);
        // Confidence: the probability of the predicted (argmax) class, and
        // of the given label.
        let conf = o.confidence.unwrap();
        let close = |got: &[f64], want: [f32; 3]| {
            got.iter()
                .zip(want.map(f64::from))
                .all(|(a, b)| (a - b).abs() < 1e-12)
        };
        assert!(close(&conf.predicted, [0.7, 0.6, 0.8]));
        assert!(close(&conf.given, [0.7, 0.3, 0.8]));
        let o = derive(&f, &spec(Signal::Loss), None).unwrap();
        assert!((o.errors[1] - (-(0.3f32 as f64).ln())).abs() < 1e-9);
        assert!(!o.binary);
    }

    #[test]
    fn probabilities_must_sum_to_one() {
        let f = probs_frame(vec![0.7, 0.2, 0.1, 2.0, 0.3, 0.1, 0.5, 0.1, 0.8]);
        let spec = OutcomeSpec::Probabilities {
            label: "y".into(),
            probs: "pr".into(),
            classes: None,
            signal: Signal::Error,
        };
        let e = derive(&f, &spec, None).unwrap_err().to_string();
        assert!(e.contains("out-of-[0, 1] values in 1 row (row 1)"), "{e}");
        let f = probs_frame(vec![0.7, 0.2, 0.1, 0.5, 0.3, 0.1, 0.5, 0.1, 0.8]);
        let e = derive(&f, &spec, None).unwrap_err().to_string();
        assert!(e.contains("do not sum to 1") && e.contains("2 rows"), "{e}");
    }

    #[test]
    fn probabilities_label_outside_classes() {
        let f = frame(vec![
            cat("y", &["cat", "dog"]),
            Column::new(
                "pr",
                ColumnData::Vector {
                    values: vec![0.5, 0.5, 0.5, 0.5],
                    dim: 2,
                    null_rows: vec![],
                },
            ),
        ]);
        let spec = OutcomeSpec::Probabilities {
            label: "y".into(),
            probs: "pr".into(),
            classes: None,
            signal: Signal::Error,
        };
        let e = derive(&f, &spec, None).unwrap_err().to_string();
        assert!(e.contains("--classes"), "{e}");
        let spec = OutcomeSpec::Probabilities {
            label: "y".into(),
            probs: "pr".into(),
            classes: Some(vec!["cat".into(), "bird".into()]),
            signal: Signal::Error,
        };
        let e = derive(&f, &spec, None).unwrap_err().to_string();
        assert!(e.contains("'dog'"), "{e}");
    }

    #[test]
    fn binary_threshold_and_positive() {
        let f = frame(vec![
            cat("y", &[">50K", "<=50K", ">50K"]),
            Column::new("s", ColumnData::Float(vec![0.9, 0.6, 0.2])),
        ]);
        let spec = |positive: Option<&str>| OutcomeSpec::Binary {
            label: "y".into(),
            score: "s".into(),
            threshold: 0.5,
            positive: positive.map(String::from),
            signal: Signal::Error,
        };
        let e = derive(&f, &spec(None), None).unwrap_err().to_string();
        assert!(e.contains("--positive"), "{e}");
        let o = derive(&f, &spec(Some(">50K")), None).unwrap();
        assert_eq!(o.errors, vec![0.0, 1.0, 1.0]);
        // The score is P(positive): the prediction's probability is the
        // score or its complement, and so is the given label's.
        let conf = o.confidence.unwrap();
        let close =
            |got: &[f64], want: [f64; 3]| got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12);
        assert!(close(&conf.predicted, [0.9, 0.6, 0.8]), "{conf:?}");
        assert!(close(&conf.given, [0.9, 0.4, 0.2]), "{conf:?}");
        let e = derive(&f, &spec(Some("yes")), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not occur"), "{e}");
    }

    #[test]
    fn regression_kinds() {
        let f = frame(vec![
            Column::new("y", ColumnData::Float(vec![1.0, 2.0, 3.0])),
            Column::new("p", ColumnData::Float(vec![1.5, 2.0, 1.0])),
        ]);
        let spec = |error, tolerance| OutcomeSpec::Regression {
            label: "y".into(),
            pred: "p".into(),
            error,
            tolerance,
        };
        assert_eq!(
            derive(&f, &spec(RegressionError::Absolute, None), None)
                .unwrap()
                .errors,
            vec![0.5, 0.0, 2.0]
        );
        assert_eq!(
            derive(&f, &spec(RegressionError::Squared, None), None)
                .unwrap()
                .errors,
            vec![0.25, 0.0, 4.0]
        );
        let o = derive(&f, &spec(RegressionError::Absolute, Some(1.0)), None).unwrap();
        assert_eq!(o.errors, vec![0.0, 0.0, 1.0]);
        assert!(o.binary);
        let f = frame(vec![
            Column::new("y", ColumnData::Float(vec![1.0, f64::INFINITY, 3.0])),
            Column::new("p", ColumnData::Float(vec![1.5, 2.0, 1.0])),
        ]);
        let e = derive(&f, &spec(RegressionError::Absolute, None), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("label column 'y' has 1 missing, NaN or infinite values (row 1)"),
            "{e}"
        );
    }

    #[test]
    fn metric_direction() {
        let f = frame(vec![Column::new(
            "iou",
            ColumnData::Float(vec![0.9, 0.5, 1.0]),
        )]);
        let o = derive(
            &f,
            &OutcomeSpec::Metric {
                column: "iou".into(),
                higher_is_worse: false,
            },
            None,
        )
        .unwrap();
        let expected = [0.1, 0.5, 0.0];
        for (a, b) in o.errors.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12);
        }
        let f = frame(vec![Column::new("ll", ColumnData::Float(vec![-1.0, 0.5]))]);
        let e = derive(
            &f,
            &OutcomeSpec::Metric {
                column: "ll".into(),
                higher_is_worse: true,
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--higher-is-better"));
    }

    #[test]
    fn weights_are_checked() {
        let f = frame(vec![
            Column::new("l", ColumnData::Float(vec![1.0, 0.5])),
            Column::new("w", ColumnData::Float(vec![1.0, -2.0])),
        ]);
        let spec = OutcomeSpec::Metric {
            column: "l".into(),
            higher_is_worse: true,
        };
        let e = derive(&f, &spec, Some("w")).unwrap_err().to_string();
        assert!(e.contains("first at row 1"), "{e}");
        let e = derive(&f, &spec, Some("wt")).unwrap_err().to_string();
        assert!(e.contains("did you mean 'w'"), "{e}");
    }

    #[test]
    fn empty_table() {
        let f = Frame::with_rows(0);
        let e = derive(
            &f,
            &OutcomeSpec::Metric {
                column: "l".into(),
                higher_is_worse: true,
            },
            None,
        )
        .unwrap_err();
        assert!(matches!(e, Error::NoData(_)));
    }
}
