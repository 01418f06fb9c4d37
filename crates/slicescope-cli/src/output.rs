//! Terminal summary and safe file output.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use slicescope_core::scan::ScanResult;

/// Fail early when `path` exists and may not be overwritten, or when its
/// directory does not exist.
pub fn check_writable(path: &Path, overwrite: bool) -> Result<()> {
    if path.exists() && !overwrite {
        bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    check_writable(path, overwrite)?;
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("writing {}", path.display()))
}

/// A float32 `.npy` (format 1.0, C order) of shape `rows × columns.len()`
/// whose column j is `columns[j]`.
pub fn npy_f32_columns(columns: &[Vec<f32>], rows: usize) -> Vec<u8> {
    let cols = columns.len();
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + header length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + rows * cols * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for r in 0..rows {
        for c in columns {
            out.extend_from_slice(&c.get(r).copied().unwrap_or(0.0).to_le_bytes());
        }
    }
    out
}

pub(crate) fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

pub(crate) fn num(x: f64) -> String {
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

pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn pval(p: f64) -> String {
    if p < 1e-99 {
        "<1e-99".into()
    } else if p < 0.001 {
        format!("{p:.0e}")
    } else {
        format!("{p:.3}")
    }
}

/// The overview line and the ranked table.
pub fn print_summary(out: &mut impl Write, r: &ScanResult, top: usize) -> Result<()> {
    let rate_fmt = |x: f64| if r.task.binary_errors { pct(x) } else { num(x) };
    writeln!(
        out,
        "{}: {} rows · {} · {} {} [{}, {}] · {} attributes · {} views · {} hypotheses tested · {:.2}s",
        r.input.path.as_deref().unwrap_or("data"),
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
