//! `scan --save-slices`: write the slice file (format in
//! `slicescope_core::workflow::file`, documented in docs/workflow.md), and
//! read one back.

use std::path::Path;

use anyhow::{Context, Result};
use slicescope_core::scan::{self, ScanResult, View};
use slicescope_core::views::{prepare_view, ReducedView, ViewParams};
use slicescope_core::workflow::file::SliceFile;
use slicescope_core::Config;

use crate::output;

/// The slice file of `result`. The views its embedding slices live in are
/// prepared again with the scan's parameters (the preprocessing is
/// deterministic, so the projection is the one the slicers worked in).
pub fn slice_file(result: &ScanResult, config: &Config, views: &[View]) -> Result<SliceFile> {
    let mut wanted: Vec<&str> = Vec::new();
    for s in &result.slices {
        if s.definition.is_some() {
            if let Some(v) = s.view.as_deref() {
                if !wanted.contains(&v) {
                    wanted.push(v);
                }
            }
        }
    }
    let reduced: Vec<ReducedView> = views
        .iter()
        .filter(|v| wanted.contains(&v.name.as_str()))
        .map(|v| {
            let params = ViewParams {
                max_dim: config.views.max_dim,
                normalize: config.views.normalize.contains(&v.name),
            };
            prepare_view(&v.name, &v.source, &v.values, v.dim, &params)
                .with_context(|| format!("preparing view '{}' for the slice file", v.name))
        })
        .collect::<Result<_>>()?;
    let is_column = |name: &str| {
        config
            .columns
            .views
            .get(name)
            .is_some_and(|src| !scan::is_matrix_file(src))
    };
    Ok(SliceFile::from_scan(
        result,
        &config.columns,
        &reduced,
        &is_column,
        config.output.run_name.clone(),
    )?)
}

/// Write the slice file of `result` to `path` (atomically; an existing
/// file only with `overwrite`), and return it.
pub fn save(
    result: &ScanResult,
    config: &Config,
    views: &[View],
    path: &Path,
    overwrite: bool,
) -> Result<SliceFile> {
    let file = slice_file(result, config, views)?;
    let text = file.to_json()?;
    output::write_atomic(path, text.as_bytes(), overwrite)?;
    Ok(file)
}

/// Read and check a slice file (`verify`: check its content hash).
pub fn load(path: &Path, verify: bool) -> Result<SliceFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the slice file: {e}", path.display()))?;
    Ok(SliceFile::parse(
        &text,
        &path.display().to_string(),
        verify,
    )?)
}
