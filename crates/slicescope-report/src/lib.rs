//! The self-contained HTML report and the Markdown summary of a slicescope
//! scan.
//!
//! Internal sub-crate of slicescope; the command-line tool is `slicescope`
//! (`scan --report OUT.html --markdown OUT.md`). The report is one HTML
//! file: a static template (CSS and JavaScript, no framework, no network)
//! with the report data inlined as JSON. [`report_data`] assembles that
//! data from a [`ScanResult`] (the result itself, a 2-D map per embedding
//! view, thumbnails and texts of the example rows); [`html`] fills the
//! template; [`markdown`] writes the short summary. The data's layout is
//! documented in `docs/report.md`.
#![deny(missing_docs)]

mod compare;
mod html;
mod maps;
mod markdown;
pub mod summary;
mod thumbs;
mod time;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use slicescope_core::{Result, ScanResult};

pub use crate::compare::{compare_markdown, compare_report_data};
pub use crate::html::{compare_html, html};
pub use crate::maps::MapView;
pub use crate::markdown::markdown;
pub use crate::summary::summary;
pub use crate::time::rfc3339_utc;

/// Version of the report data layout (`report_version`).
pub const REPORT_VERSION: u32 = 1;

/// What the report says about the run besides the scan result.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Title shown at the top (e.g. the data file's name).
    pub title: String,
    /// Model or run name, when given.
    pub run_name: Option<String>,
    /// The command line that made the report.
    pub command: String,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Wall time of the whole scan, in seconds.
    pub duration_seconds: f64,
}

/// Where an example's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The encoded image (PNG or JPEG), e.g. from a binary column.
    Bytes(Vec<u8>),
    /// A PNG or JPEG file.
    Path(PathBuf),
}

/// What the report shows for one example row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleRow {
    /// The row's image, shown as a thumbnail.
    pub image: Option<ImageSource>,
    /// The row's text, shown as a snippet.
    pub text: Option<String>,
    /// The row's label, as text.
    pub label: Option<String>,
    /// The row's prediction, as text.
    pub pred: Option<String>,
    /// Values of the display columns.
    pub display: BTreeMap<String, String>,
}

/// Size limits of the report data.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most members kept per slice in the embedded result.
    pub max_members: usize,
    /// Most points drawn per map.
    pub max_points: usize,
    /// Members of each slice kept among the drawn points (at most).
    pub members_per_slice: usize,
    /// Rows used to fit each map's projection (a seeded sample above).
    pub projection_rows: usize,
    /// Longest side of a thumbnail, in pixels.
    pub thumbnail_px: u32,
    /// Longest text snippet, in characters.
    pub text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_members: 5_000,
            max_points: 20_000,
            members_per_slice: 2_000,
            projection_rows: 50_000,
            thumbnail_px: 96,
            text_chars: 280,
        }
    }
}

/// Suspect rows of a label-noise flag shown with their images and texts.
pub const SHOWN_SUSPECTS: usize = 24;

/// The rows the report shows as examples: every slice's typical and
/// borderline examples, and the first [`SHOWN_SUSPECTS`] suspect rows of
/// each slice flagged as likely label noise (so that a reviewer can check
/// those labels); ascending, without repeats.
pub fn example_rows(result: &ScanResult) -> Vec<u32> {
    let mut rows: Vec<u32> = Vec::new();
    for e in result.slices.iter().filter_map(|s| s.explanation.as_ref()) {
        rows.extend(e.examples.iter().map(|x| x.row));
        if let Some(noise) = e.flags.label_noise.as_ref().filter(|l| l.flagged) {
            rows.extend(noise.suspect_rows.iter().take(SHOWN_SUSPECTS));
        }
    }
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Assemble the report data (layout in `docs/report.md`).
///
/// `views` are the embedding views as the scan received them (one map
/// each, in this order); `examples` what to show for the rows of
/// [`example_rows`] (rows missing from it are shown without image or
/// text). Images that cannot be read or decoded do not fail the report:
/// they are left out and named in `meta.warnings`. Fails when a view's
/// shape does not match the result's row count, or when a map's projection
/// fails (e.g. NaN values).
pub fn report_data(
    result: &ScanResult,
    meta: &Meta,
    views: &[MapView<'_>],
    examples: &BTreeMap<u32, ExampleRow>,
    limits: &Limits,
    seed: u64,
) -> Result<Value> {
    let mut warnings = Vec::new();
    let mut result_json = serde_json::to_value(result).map_err(|e| {
        slicescope_core::Error::InvalidInput(format!("serialising the result: {e}"))
    })?;
    truncate_members(&mut result_json, limits.max_members);
    let maps = views
        .iter()
        .enumerate()
        .map(|(i, v)| maps::map(v, result, limits, seed.wrapping_add(i as u64)))
        .collect::<Result<Vec<Value>>>()?;
    let shown = thumbs::examples(examples, limits, &mut warnings);
    Ok(json!({
        "report_version": REPORT_VERSION,
        "meta": meta_json(meta, &warnings),
        "result": result_json,
        "maps": maps,
        "examples": shown,
    }))
}

/// Cut each slice's `members` in the serialised result to `max` rows,
/// marking the cut ones with `"members_truncated": true`.
fn truncate_members(result: &mut Value, max: usize) {
    let Some(slices) = result.get_mut("slices").and_then(Value::as_array_mut) else {
        return;
    };
    for s in slices {
        let Some(obj) = s.as_object_mut() else {
            continue;
        };
        let cut = match obj.get_mut("members").and_then(Value::as_array_mut) {
            Some(m) if m.len() > max => {
                m.truncate(max);
                true
            }
            _ => false,
        };
        obj.insert("members_truncated".into(), Value::Bool(cut));
    }
}

/// The page's `meta` object: title, run name, when, the command, how long
/// it took and the warnings met while building the page.
fn meta_json(meta: &Meta, warnings: &[String]) -> Value {
    json!({
        "title": meta.title,
        "run_name": meta.run_name,
        "generated_at": meta.generated_at,
        "command": meta.command,
        "duration_seconds": meta.duration_seconds,
        "warnings": warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_cut_and_marked() {
        let mut v = json!({"slices": [
            {"id": "S1", "members": [1, 2, 3, 4]},
            {"id": "S2", "members": [5]},
            {"id": "S3", "members": null}
        ]});
        truncate_members(&mut v, 2);
        assert_eq!(v["slices"][0]["members"], json!([1, 2]));
        assert_eq!(v["slices"][0]["members_truncated"], json!(true));
        assert_eq!(v["slices"][1]["members"], json!([5]));
        assert_eq!(v["slices"][1]["members_truncated"], json!(false));
        assert_eq!(v["slices"][2]["members_truncated"], json!(false));
    }
}
