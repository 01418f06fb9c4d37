//! The Markdown summary (`--markdown`), for pull-request comments.

use std::fmt::Write;

pub(crate) use slicescope_core::describe::thousands;
use slicescope_core::describe::OutcomeSummary;
use slicescope_core::ScanResult;

use crate::Meta;

/// A short Markdown summary of the top `top` slices: one header line with
/// the overall error, a table (rank, slice, size, error with its interval,
/// excess errors, q-value, stability, flags) and the top slices in words.
/// Slices with exactly the rows of a higher-ranked one are left out.
pub fn markdown(result: &ScanResult, meta: &Meta, top: usize) -> String {
    let mut s = String::new();
    let rate = |x: f64| {
        if result.task.binary_errors {
            format!("{:.1}%", 100.0 * x)
        } else {
            num(x)
        }
    };
    let title = match &meta.run_name {
        Some(run) => format!("{} — {}", meta.title, run),
        None => meta.title.clone(),
    };
    let _ = writeln!(s, "### slicescope: {}\n", cell(&title));
    let _ = writeln!(
        s,
        "{} rows · {}{} **{}** [{}, {}] · {} slice{} listed (q < {}) · {:.1} s\n",
        thousands(result.input.n_rows as u64),
        result.task.metric,
        if result.task.binary_errors {
            ""
        } else {
            " mean"
        },
        rate(result.overall.error_rate),
        rate(result.overall.ci_low),
        rate(result.overall.ci_high),
        result.slices.len(),
        if result.slices.len() == 1 { "" } else { "s" },
        result.parameters.testing.fdr,
        meta.duration_seconds,
    );
    let shown: Vec<_> = result
        .slices
        .iter()
        .filter(|x| x.equivalent_to.is_none())
        .take(top)
        .collect();
    if shown.is_empty() {
        let _ = writeln!(s, "No slice passed the false-discovery filter.");
        return s;
    }
    let _ = writeln!(
        s,
        "| # | slice | size | {} [95% CI] | excess | q | stability | flags |",
        if result.task.binary_errors {
            "error"
        } else {
            "mean"
        }
    );
    let _ = writeln!(s, "|---:|---|---:|---|---:|---:|---:|---|");
    for sl in &shown {
        let what = name(sl);
        let flags = sl
            .explanation
            .as_ref()
            .map(|e| e.flags.raised().join(", "))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} ({:.1}%) | {} [{}, {}] | {:+.0} | {} | {} | {} |",
            sl.rank,
            cell(&what),
            thousands(sl.stats.size),
            100.0 * sl.stats.support,
            rate(sl.stats.error_rate),
            rate(sl.stats.ci_low),
            rate(sl.stats.ci_high),
            sl.stats.excess_errors,
            q(sl.stats.q_value),
            sl.stability
                .map_or_else(|| "—".to_string(), |v| format!("{v:.2}")),
            if flags.is_empty() {
                "—".to_string()
            } else {
                flags
            },
        );
    }
    let _ = writeln!(s, "\nIn words:\n");
    for sl in shown.iter().take(5) {
        if let Some(e) = &sl.explanation {
            let _ = writeln!(s, "{}. {}", sl.rank, one_line(&e.summary));
        }
    }
    s
}

/// What a slice is, in a few words: its attribute rule when one matches it
/// well (precision and recall ≥ 0.8), else who found it where and its
/// errors, in the sentence's terms: "mostly A → B" when that pair holds at
/// least half of them, "mostly A misclassified" when class A holds 60%,
/// else "most often A → B", each with its share.
fn name(sl: &slicescope_core::scan::Slice) -> String {
    let Some(e) = &sl.explanation else {
        return sl.description.clone();
    };
    if let Some(r) = e
        .attribute_rule
        .as_ref()
        .filter(|r| r.precision >= 0.8 && r.recall >= 0.8)
    {
        return r.text.clone();
    }
    let found = match &sl.view {
        Some(v) => format!("{} in view '{v}'", sl.slicer),
        None => sl.slicer.clone(),
    };
    match errors_in_words(&e.outcome) {
        Some(words) => format!("{found}: {words}"),
        None => sl.description.clone(),
    }
}

/// "mostly A → B (62% of its errors)", "mostly A misclassified (84% of its
/// errors)" or "most often A → B (14% of its errors)"; None without wrong
/// pairs (regression, or no error).
fn errors_in_words(outcome: &OutcomeSummary) -> Option<String> {
    let OutcomeSummary::Confusion {
        errors,
        error_pairs,
        ..
    } = outcome
    else {
        return None;
    };
    let first = error_pairs.first().filter(|_| *errors > 0.0)?;
    let share = |count: f64| 100.0 * count / errors;
    Some(if let Some(p) = outcome.dominant_error(0.5) {
        format!(
            "mostly {} → {} ({:.0}% of its errors)",
            p.label,
            p.predicted,
            share(p.count)
        )
    } else if let Some((label, s)) = outcome.dominant_error_label(0.6) {
        format!(
            "mostly {label} misclassified ({:.0}% of its errors)",
            100.0 * s
        )
    } else {
        format!(
            "most often {} → {} ({:.0}% of its errors)",
            first.label,
            first.predicted,
            share(first.count)
        )
    })
}

/// A table cell: pipes escaped, on one line.
pub(crate) fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn q(v: f64) -> String {
    if v == 0.0 {
        "< 1e-300".into()
    } else if v < 1e-3 {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
    }
}

pub(crate) fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_numbers() {
        assert_eq!(cell("a | b\n c"), "a \\| b c");
        assert_eq!(q(0.0), "< 1e-300");
        assert_eq!(q(2.5e-7), "2.5e-7");
        assert_eq!(q(0.0312), "0.031");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn errors_are_mostly_one_pair_only_when_it_holds_half() {
        use slicescope_core::describe::ConfusionPair;
        let pair = |l: &str, p: &str, count: f64| ConfusionPair {
            label: l.into(),
            predicted: p.into(),
            count,
            share_in_slice: 0.0,
            share_overall: 0.0,
            error: true,
        };
        let outcome = |pairs: Vec<ConfusionPair>| OutcomeSummary::Confusion {
            weight: 200.0,
            errors: 100.0,
            pairs: Vec::new(),
            error_pairs: pairs,
        };
        let cases = [
            (
                vec![pair("Shirt", "T-shirt", 62.0), pair("Coat", "Shirt", 9.0)],
                "mostly Shirt → T-shirt (62% of its errors)",
            ),
            (
                vec![
                    pair("Shirt", "T-shirt", 38.0),
                    pair("Shirt", "Pullover", 31.0),
                    pair("Coat", "Shirt", 9.0),
                ],
                "mostly Shirt misclassified (69% of its errors)",
            ),
            // Spread errors: the most frequent pair, not called "mostly".
            (
                vec![
                    pair("Coat", "Pullover", 14.0),
                    pair("Shirt", "Pullover", 10.0),
                ],
                "most often Coat → Pullover (14% of its errors)",
            ),
        ];
        for (pairs, words) in cases {
            assert_eq!(errors_in_words(&outcome(pairs)).as_deref(), Some(words));
        }
        assert_eq!(errors_in_words(&outcome(Vec::new())), None);
    }
}
