//! `compare --fail-on GATE`: conditions that make the comparison fail
//! (exit 1) with a readable reason. Syntax (docs/workflow.md):
//!
//! ```text
//! GATE      := "regression" (":" CONDITION)*
//!            | "new-slices" OP NUMBER (":" CONDITION)*
//!            | CONDITION (":" CONDITION)*
//! CONDITION := FIELD OP NUMBER["%"]
//! OP        := ">" | ">=" | "<" | "<="
//! FIELD     := error-rate | error-rate-a | delta | size | share | lift | excess | ci-low | ci-high
//! ```
//!
//! * `regression`: some known slice (saved, or found in A) is
//!   significantly worse in B (paired test, q < the FDR level); conditions
//!   narrow which slices count (`regression:size>=100`).
//! * `new-slices>K`: more than K slices found in B match no known slice
//!   (Jaccard < 0.5); they are all significant (q < the FDR level) since
//!   the scan lists only those. Conditions narrow which count.
//! * conditions alone: some slice (known, measured with B; or new in B)
//!   meets all of them, e.g. `error-rate>0.3:size>=100`.
//!
//! Fields are B's numbers unless named otherwise: `error-rate` (or mean
//! loss), `error-rate-a` (A's), `delta` (B − A), `size` (rows), `share`
//! (of all rows), `lift` (B's rate / B's overall rate), `excess` (B's
//! excess errors), `ci-low` / `ci-high` (B's 95% interval). A number may
//! end in `%` (30% = 0.3).

use anyhow::{bail, Result};
use serde::Serialize;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn holds(self, x: f64, y: f64) -> bool {
        match self {
            Op::Gt => x > y,
            Op::Ge => x >= y,
            Op::Lt => x < y,
            Op::Le => x <= y,
        }
    }
}

/// What a condition tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ErrorRate,
    ErrorRateA,
    Delta,
    Size,
    Share,
    Lift,
    Excess,
    CiLow,
    CiHigh,
}

const FIELDS: &[(&str, Field)] = &[
    ("error-rate", Field::ErrorRate),
    ("error-rate-a", Field::ErrorRateA),
    ("delta", Field::Delta),
    ("size", Field::Size),
    ("share", Field::Share),
    ("lift", Field::Lift),
    ("excess", Field::Excess),
    ("ci-low", Field::CiLow),
    ("ci-high", Field::CiHigh),
];

/// `FIELD OP VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub field: Field,
    pub op: Op,
    pub value: f64,
}

/// A parsed gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Known slices significantly worse in B.
    Regression(Vec<Cond>),
    /// More new slices than allowed.
    NewSlices { op: Op, k: f64, filters: Vec<Cond> },
    /// Slices meeting every condition.
    Slices(Vec<Cond>),
}

/// A gate with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    pub text: String,
    pub gate: Gate,
}

fn split_op(s: &str) -> Option<(&str, Op, &str)> {
    for (tok, op) in [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)] {
        if let Some(i) = s.find(tok) {
            return Some((&s[..i], op, &s[i + tok.len()..]));
        }
    }
    None
}

fn number(s: &str, ctx: &str) -> Result<f64> {
    let s = s.trim();
    let (body, scale) = match s.strip_suffix('%') {
        Some(b) => (b.trim(), 0.01),
        None => (s, 1.0),
    };
    match body.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v * scale),
        _ => bail!("--fail-on '{ctx}': '{s}' is not a number"),
    }
}

fn cond(s: &str, ctx: &str) -> Result<Cond> {
    let Some((field, op, value)) = split_op(s) else {
        bail!("--fail-on '{ctx}': '{s}' is not FIELD OP NUMBER (e.g. error-rate>0.3, size>=100)");
    };
    let name = field.trim().to_ascii_lowercase().replace('_', "-");
    let Some(&(_, f)) = FIELDS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<String> = FIELDS.iter().map(|(n, _)| n.to_string()).collect();
        let sugg = slicescope_core::error::near_matches(&name, &names);
        bail!(
            "--fail-on '{ctx}': unknown field '{}'{}; fields: {}",
            field.trim(),
            sugg.first()
                .map(|x| format!(" (did you mean '{x}'?)"))
                .unwrap_or_default(),
            names.join(", ")
        );
    };
    Ok(Cond {
        field: f,
        op,
        value: number(value, ctx)?,
    })
}

/// Parse one `--fail-on` value.
pub fn parse(text: &str) -> Result<GateSpec> {
    let t = text.trim();
    if t.is_empty() {
        bail!("--fail-on: empty gate; use regression, new-slices>K or a condition such as 'error-rate>0.3:size>=100'");
    }
    let mut parts = t.split(':');
    let head = parts.next().unwrap_or_default().trim();
    let rest: Vec<Cond> = parts.map(|p| cond(p, t)).collect::<Result<_>>()?;
    let gate = if head.eq_ignore_ascii_case("regression") {
        Gate::Regression(rest)
    } else if head.to_ascii_lowercase().starts_with("new-slices") {
        let tail = &head["new-slices".len()..];
        let Some(("", op, k)) = split_op(tail) else {
            bail!("--fail-on '{t}': expected new-slices>K (or >=, <, <=), e.g. new-slices>0");
        };
        Gate::NewSlices {
            op,
            k: number(k, t)?,
            filters: rest,
        }
    } else {
        if split_op(head).is_none() {
            // No operator: a misspelt gate name rather than a condition.
            let gates = ["regression".to_string(), "new-slices".to_string()];
            let name = head.to_ascii_lowercase();
            if let Some(g) = slicescope_core::error::near_matches(&name, &gates).first() {
                bail!(
                    "--fail-on '{t}': unknown gate '{head}' (did you mean '{g}'?); gates: regression, new-slices>K, or conditions such as 'error-rate>0.3:size>=100'"
                );
            }
        }
        let mut all = vec![cond(head, t)?];
        all.extend(rest);
        Gate::Slices(all)
    };
    Ok(GateSpec {
        text: t.to_string(),
        gate,
    })
}

/// Where a slice of the comparison comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Saved (--slices) or found in A.
    Known,
    /// Found in B, matching no known slice.
    New,
}

/// What the gates see of one slice.
#[derive(Debug, Clone)]
pub struct GateRow {
    pub id: String,
    pub description: String,
    pub origin: Origin,
    pub size: f64,
    pub share: f64,
    pub rate_a: f64,
    pub rate_b: f64,
    pub lift_b: f64,
    pub excess_b: f64,
    pub ci_low_b: f64,
    pub ci_high_b: f64,
    /// Significantly worse in B (known slices).
    pub worse: bool,
    /// One line with the numbers, for the reason.
    pub detail: String,
}

impl GateRow {
    fn value(&self, f: Field) -> f64 {
        match f {
            Field::ErrorRate => self.rate_b,
            Field::ErrorRateA => self.rate_a,
            Field::Delta => self.rate_b - self.rate_a,
            Field::Size => self.size,
            Field::Share => self.share,
            Field::Lift => self.lift_b,
            Field::Excess => self.excess_b,
            Field::CiLow => self.ci_low_b,
            Field::CiHigh => self.ci_high_b,
        }
    }

    fn meets(&self, conds: &[Cond]) -> bool {
        conds.iter().all(|c| {
            let v = self.value(c.field);
            !v.is_nan() && c.op.holds(v, c.value)
        })
    }
}

/// The outcome of one gate.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
    /// The slices that made it fail.
    pub slices: Vec<String>,
}

fn line(r: &GateRow) -> String {
    format!("{} '{}': {}", r.id, r.description, r.detail)
}

/// Evaluate `gate` on the comparison's slices.
pub fn evaluate(gate: &GateSpec, rows: &[GateRow]) -> GateResult {
    let (failing, reasons): (Vec<&GateRow>, Vec<String>) = match &gate.gate {
        Gate::Regression(filters) => {
            let bad: Vec<&GateRow> = rows
                .iter()
                .filter(|r| r.origin == Origin::Known && r.worse && r.meets(filters))
                .collect();
            let reasons = bad
                .iter()
                .map(|r| format!("significantly worse in B: {}", line(r)))
                .collect();
            (bad, reasons)
        }
        Gate::NewSlices { op, k, filters } => {
            let new: Vec<&GateRow> = rows
                .iter()
                .filter(|r| r.origin == Origin::New && r.meets(filters))
                .collect();
            if op.holds(new.len() as f64, *k) {
                let mut reasons = vec![format!(
                    "{} new slice(s) in B (found in B, matching no known slice), limit {}",
                    new.len(),
                    gate.text
                )];
                reasons.extend(new.iter().map(|r| format!("new in B: {}", line(r))));
                (new, reasons)
            } else {
                (Vec::new(), Vec::new())
            }
        }
        Gate::Slices(conds) => {
            let bad: Vec<&GateRow> = rows.iter().filter(|r| r.meets(conds)).collect();
            let reasons = bad
                .iter()
                .map(|r| {
                    format!(
                        "{}{}",
                        if r.origin == Origin::New {
                            "new in B: "
                        } else {
                            ""
                        },
                        line(r)
                    )
                })
                .collect();
            (bad, reasons)
        }
    };
    GateResult {
        gate: gate.text.clone(),
        passed: failing.is_empty(),
        reasons,
        slices: failing.iter().map(|r| r.id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(id: &str, origin: Origin, size: f64, a: f64, b: f64, worse: bool) -> GateRow {
        GateRow {
            id: id.into(),
            description: format!("slice {id}"),
            origin,
            size,
            share: size / 1000.0,
            rate_a: a,
            rate_b: b,
            lift_b: b / 0.1,
            excess_b: size * (b - 0.1),
            ci_low_b: b - 0.02,
            ci_high_b: b + 0.02,
            worse,
            detail: String::new(),
        }
    }

    #[test]
    fn parse_gates() {
        assert_eq!(parse("regression").unwrap().gate, Gate::Regression(vec![]));
        let g = parse("error-rate>30%:size>=100").unwrap();
        assert_eq!(
            g.gate,
            Gate::Slices(vec![
                Cond {
                    field: Field::ErrorRate,
                    op: Op::Gt,
                    value: 0.3
                },
                Cond {
                    field: Field::Size,
                    op: Op::Ge,
                    value: 100.0
                }
            ])
        );
        assert_eq!(
            parse("new-slices>2").unwrap().gate,
            Gate::NewSlices {
                op: Op::Gt,
                k: 2.0,
                filters: vec![]
            }
        );
        assert!(matches!(
            parse("regression:size>=50").unwrap().gate,
            Gate::Regression(ref c) if c.len() == 1
        ));
        let e = parse("eror-rate>0.3").unwrap_err().to_string();
        assert!(e.contains("did you mean 'error-rate'"), "{e}");
        let e = parse("regresion").unwrap_err().to_string();
        assert!(
            e.contains("unknown gate 'regresion' (did you mean 'regression'?)"),
            "{e}"
        );
        let e = parse("new-slice").unwrap_err().to_string();
        assert!(e.contains("did you mean 'new-slices'?"), "{e}");
        assert!(parse("error-rate>abc").is_err());
        assert!(parse("new-slices").is_err());
        assert!(parse("size").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn evaluate_gates() {
        let rows = vec![
            row("S1", Origin::Known, 500.0, 0.2, 0.35, true),
            row("S2", Origin::Known, 50.0, 0.4, 0.45, false),
            row("B3", Origin::New, 120.0, 0.1, 0.5, false),
        ];
        let r = evaluate(&parse("regression").unwrap(), &rows);
        assert!(!r.passed);
        assert_eq!(r.slices, vec!["S1"]);
        assert!(evaluate(&parse("regression:size<100").unwrap(), &rows).passed);
        let r = evaluate(&parse("error-rate>0.3:size>=100").unwrap(), &rows);
        assert_eq!(r.slices, vec!["S1", "B3"]);
        assert!(evaluate(&parse("new-slices>1").unwrap(), &rows).passed);
        let r = evaluate(&parse("new-slices>0").unwrap(), &rows);
        assert!(
            !r.passed && r.reasons[0].contains("1 new slice"),
            "{:?}",
            r.reasons
        );
        assert!(!evaluate(&parse("delta>0.2").unwrap(), &rows).passed);
        assert!(evaluate(&parse("delta>0.5").unwrap(), &rows).passed);
    }
}
