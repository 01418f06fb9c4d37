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

// The number formats of the summary, shared with `apply` and `compare`.
pub(crate) use slicescope_report::summary::{num, pct, pval, thousands};

/// The overview line and the ranked table (slicescope-report's
/// [`slicescope_report::summary`], also the Python package's
/// `ScanResult.summary()`).
pub fn print_summary(out: &mut impl Write, r: &ScanResult, top: usize) -> Result<()> {
    out.write_all(slicescope_report::summary(r, "data", top).as_bytes())?;
    Ok(())
}
