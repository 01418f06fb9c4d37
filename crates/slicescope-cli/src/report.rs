//! `--report` and `--markdown`: gather what the report shows besides the
//! result (the views, the example rows' images, texts, labels) and write it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use slicescope_core::scan::View;
use slicescope_core::{Config, Frame, ScanResult};
use slicescope_io::{read_cells, Cell, ReadOptions};
use slicescope_report::{ExampleRow, ImageSource, Limits, MapView, Meta};

use crate::output;

/// Write the report and/or the Markdown summary that `config` asks for.
pub fn write(
    result: &ScanResult,
    config: &Config,
    views: &[View],
    frame: &Frame,
    data: &Path,
    read_opts: &ReadOptions,
    t0: Instant,
) -> Result<()> {
    let meta = Meta {
        title: config.output.title.clone().unwrap_or_else(|| {
            data.file_name().map_or_else(
                || data.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        }),
        run_name: config.output.run_name.clone(),
        command: command_line(),
        generated_at: slicescope_report::rfc3339_utc(SystemTime::now()),
        duration_seconds: t0.elapsed().as_secs_f64(),
    };
    if let Some(md) = &config.output.markdown {
        let text = slicescope_report::markdown(result, &meta, config.output.top);
        output::write_atomic(Path::new(md), text.as_bytes(), config.output.overwrite)?;
    }
    let Some(path) = &config.output.report else {
        return Ok(());
    };
    let rows = slicescope_report::example_rows(result);
    let examples = example_rows(&rows, config, frame, data, read_opts)?;
    let maps: Vec<MapView<'_>> = views
        .iter()
        .map(|v| MapView {
            name: &v.name,
            values: &v.values,
            dim: v.dim,
            normalize: config.views.normalize.contains(&v.name),
        })
        .collect();
    let report = slicescope_report::report_data(
        result,
        &meta,
        &maps,
        &examples,
        &Limits::default(),
        config.seed,
    )
    .context("building the report")?;
    let page = slicescope_report::html(&report)?;
    output::write_atomic(Path::new(path), page.as_bytes(), config.output.overwrite)
}

/// Fail before any work when the report's image or text column is not in
/// the table (`names`), naming it and suggesting near matches.
pub fn check_columns(config: &Config, names: &[String]) -> Result<()> {
    let c = &config.columns;
    for (col, role) in [(&c.image, "image"), (&c.text, "text")] {
        if let Some(col) = col {
            if !names.contains(col) {
                return Err(slicescope_core::Error::column_not_found(
                    col,
                    format!("report {role}"),
                    names,
                )
                .into());
            }
        }
    }
    Ok(())
}

/// What the report shows for each of `rows`.
fn example_rows(
    rows: &[u32],
    config: &Config,
    frame: &Frame,
    data: &Path,
    read_opts: &ReadOptions,
) -> Result<BTreeMap<u32, ExampleRow>> {
    let c = &config.columns;
    let text_of = |col: &Option<String>, row: u32| {
        col.as_ref()
            .and_then(|name| frame.column(name))
            .and_then(|column| column.data.text(row as usize))
    };
    let images = match &c.image {
        Some(col) => read_cells(data, col, rows, read_opts)
            .with_context(|| format!("reading the report's image column '{col}'"))?,
        None => BTreeMap::new(),
    };
    let texts = match &c.text {
        Some(col) => read_cells(data, col, rows, read_opts)
            .with_context(|| format!("reading the report's text column '{col}'"))?,
        None => BTreeMap::new(),
    };
    let base = data.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = BTreeMap::new();
    for &row in rows {
        let image = match images.get(&row) {
            Some(Cell::Bytes(b)) => Some(ImageSource::Bytes(b.clone())),
            Some(Cell::Text(p)) => Some(ImageSource::Path(resolve(&base, p))),
            _ => None,
        };
        let text = match texts.get(&row) {
            Some(Cell::Text(t)) => Some(t.clone()),
            Some(Cell::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        let display = c
            .display
            .iter()
            .filter_map(|d| text_of(&Some(d.clone()), row).map(|v| (d.clone(), v)))
            .collect();
        out.insert(
            row,
            ExampleRow {
                image,
                text,
                label: text_of(&c.label, row),
                pred: text_of(&c.pred, row),
                display,
            },
        );
    }
    Ok(out)
}

/// An image path from the table: absolute as it is, relative to the data
/// file's folder otherwise.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

/// The command line, with arguments that need it quoted.
pub(crate) fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.is_empty() || a.contains(|ch: char| ch.is_whitespace() || "'\"$`\\".contains(ch)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
