//! The terminal summary of a result: the text `slicescope scan` prints and
//! the Python package's `ScanResult.summary()` returns (one implementation
//! for both), and the number formats it uses.

use std::fmt::Write;

use slicescope_core::scan::ScanResult;

/// A share as a percentage with one decimal (`-` for NaN).
pub fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

/// A number with 3 significant-ish digits (`-` for NaN).
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// An integer with thousands separators (`12,345`).
pub use slicescope_core::describe::thousands;

/// A p- or q-value (`<1e-99`, `3e-5`, `0.012`).
pub fn pval(p: f64) -> String {
    if p < 1e-99 {
        "<1e-99".into()
    } else if p < 0.001 {
        format!("{p:.0e}")
    } else {
        format!("{p:.3}")
    }
}

/// The overview line, the ranked table and the slices in words: what
/// `slicescope scan` prints on stdout (and the Python package's
/// `ScanResult.summary()`). `source` names the data when the result has no
/// input path (in-memory data).
pub fn summary(r: &ScanResult, source: &str, top: usize) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut out, r, source, top);
    out
}

fn write_summary(out: &mut String, r: &ScanResult, source: &str, top: usize) -> std::fmt::Result {
    let rate_fmt = |x: f64| if r.task.binary_errors { pct(x) } else { num(x) };
    writeln!(
        out,
        "{}: {} rows · {} · {} {} [{}, {}] · {} attributes · {} views · {} hypotheses tested · {:.2}s",
        r.input.path.as_deref().unwrap_or(source),
        thousands(r.input.n_rows as u64),
        serde_json::to_value(r.task.task).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        r.task.metric,
        rate_fmt(r.overall.error_rate),
        rate_fmt(r.overall.ci_low),
        rate_fmt(r.overall.ci_high),
        r.attributes.len(),
        r.views.len(),
        thousands(r.search.hypotheses as u64),
        r.timing.total_seconds
    )?;
    writeln!(out, "  {}", r.task.derivation)?;
    if r.slices.is_empty() {
        writeln!(
            out,
            "no slice found with size ≥ σ and a positive SliceLine score"
        )?;
    } else {
        let shown = r.slices.len().min(top);
        writeln!(
            out,
            "{} slices, ranked by {}{}:",
            r.slices.len(),
            match r.parameters.rank_by {
                slicescope_core::config::RankBy::ExcessErrors => "excess errors",
                slicescope_core::config::RankBy::Score => "score",
            },
            if shown < r.slices.len() {
                format!(" (top {shown} shown)")
            } else {
                String::new()
            }
        )?;
        let rate_head = if r.task.binary_errors {
            "error"
        } else {
            "mean"
        };
        writeln!(
            out,
            "{:>3}  {:>8} {:>6}  {:>6} {:>17}  {:>6} {:>5} {:>8} {:>7} {:>5}  slice",
            "#", "size", "share", rate_head, "95% CI", "rest", "lift", "excess", "q", "stab"
        )?;
        let hidden = r
            .slices
            .iter()
            .take(top)
            .filter(|s| s.equivalent_to.is_some())
            .count();
        for s in r
            .slices
            .iter()
            .take(top)
            .filter(|s| s.equivalent_to.is_none())
        {
            let st = &s.stats;
            writeln!(
                out,
                "{:>3}  {:>8} {:>6}  {:>6} {:>17}  {:>6} {:>5} {:>8} {:>7} {:>5}  {}",
                s.rank,
                thousands(st.size),
                pct(st.support),
                rate_fmt(st.error_rate),
                format!("[{}, {}]", rate_fmt(st.ci_low), rate_fmt(st.ci_high)),
                st.rest_error_rate.map_or("-".into(), rate_fmt),
                format!("{:.2}", st.lift),
                format!("{:+.1}", st.excess_errors),
                pval(st.q_value),
                s.stability.map_or("-".into(), |v| format!("{v:.1}")),
                s.description
            )?;
            if s.found_by.len() > 1 {
                let others: Vec<String> = s.found_by[1..]
                    .iter()
                    .map(|f| match &f.view {
                        Some(v) => format!("{}@{v} (J={:.2})", f.slicer, f.jaccard),
                        None => format!("{} (J={:.2})", f.slicer, f.jaccard),
                    })
                    .collect();
                writeln!(out, "{:>5}also found by {}", "", others.join(", "))?;
            }
        }
        if hidden > 0 {
            writeln!(
                out,
                "  ({hidden} slice(s) with exactly the same rows as a higher-ranked one and a longer rule not shown; see the JSON's equivalent_to)"
            )?;
        }
        let described: Vec<_> = r
            .slices
            .iter()
            .take(top)
            .filter(|s| s.equivalent_to.is_none())
            .filter_map(|s| s.explanation.as_ref().map(|e| (s.rank, e)))
            .collect();
        if !described.is_empty() {
            writeln!(out, "In words:")?;
            for (rank, e) in described {
                let flags = e.flags.raised();
                let flags = if flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", flags.join(", "))
                };
                writeln!(out, "{rank:>3}  {}{flags}", e.summary)?;
            }
        }
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}
