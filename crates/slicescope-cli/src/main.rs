//! `slicescope`: find where a model fails systematically.
//!
//! Exit codes: 0 success, 2 usage or input error (1 is reserved for CI
//! gates).

mod apply;
mod args;
mod compare;
mod compare_pairing;
mod definitions;
mod gates;
mod history;
mod inputs;
mod output;
mod progress;
mod report;
mod tags;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use slicescope_core::scan::{self, View};
use slicescope_core::Config;
use slicescope_io::{read_matrix, read_table, read_vocabulary, table_columns, ReadOptions};

use args::{Cli, Command, ScanArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => run_scan(*a),
        Command::Apply(a) => apply::run(*a),
        Command::Compare(a) => compare::run(*a),
        Command::History(a) => history::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`slicescope scan ... | head`) is not an error.
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut msg = format!("error: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run_scan(a: ScanArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let started = history::now();
    let mut config = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("{}: cannot read the config file: {e}", path.display())
            })?;
            Config::from_toml(&text, &path.display().to_string())?
        }
        None => Config::default(),
    };
    a.apply(&mut config)?;
    let quiet = a.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());

    // Refuse to overwrite outputs before doing any work.
    if let Some(json) = &config.output.json {
        output::check_writable(Path::new(json), config.output.overwrite)?;
    }
    if let Some(m) = &config.output.membership {
        output::check_writable(Path::new(m), config.output.overwrite)?;
    }
    if let Some(f) = &a.save_slices {
        output::check_writable(Path::new(f), config.output.overwrite)?;
    }
    for out in [&config.output.report, &config.output.markdown]
        .into_iter()
        .flatten()
    {
        output::check_writable(Path::new(out), config.output.overwrite)?;
    }
    // The report draws each slice's members; the JSON leaves them out when
    // asked to.
    let json_members = config.output.members;
    if config.output.report.is_some() {
        config.output.members = true;
    }

    let data = a.data.as_path();
    let read_opts = a.read_options(&config)?;
    let schema = table_columns(data, &read_opts)?;
    let attributes = scan::resolve_attributes(&config, &schema)?;
    let needed = scan::needed_columns(&config, &attributes);
    let names: Vec<String> = schema.iter().map(|(n, _)| n.clone()).collect();
    if config.output.report.is_some() {
        report::check_columns(&config, &names)?;
    }
    // Columns absent from the file are left out here so that the core
    // reports them with their role ("label column 'x' not found...").
    let spinner = progress::Spinner::new(quiet, "reading");
    let mut frame = read_table(
        data,
        &ReadOptions {
            columns: Some(
                needed
                    .iter()
                    .filter(|c| names.contains(c))
                    .cloned()
                    .collect(),
            ),
            ..read_opts.clone()
        },
    )?;
    frame.set_source_columns(names);
    let mut views: Vec<View<'static>> = scan::views_from_frame(&mut frame, &config)?;
    for (name, src) in &config.columns.views {
        if scan::is_matrix_file(src) {
            let (path, key) = split_npz_key(src);
            let m = read_matrix(Path::new(path), key)
                .with_context(|| format!("reading view '{name}'"))?;
            views.push(View {
                name: name.clone(),
                source: src.clone(),
                values: m.values.into(),
                dim: m.cols,
            });
        }
    }
    let mut vocabularies = std::collections::BTreeMap::new();
    for (view, file) in &config.views.vocab {
        let v = read_vocabulary(Path::new(file))
            .with_context(|| format!("reading the vocabulary of view '{view}'"))?;
        let vocab = slicescope_core::phrases::Vocabulary::new(v.phrases, v.embeddings, v.dim)
            .with_context(|| format!("the vocabulary of view '{view}' ({file})"))?;
        vocabularies.insert(view.clone(), vocab);
    }
    let load_seconds = t0.elapsed().as_secs_f64();
    drop(spinner);

    let observer = progress::LatticeProgress::new(quiet);
    let mut result = scan::scan(
        &frame,
        &attributes,
        &views,
        &vocabularies,
        &config,
        Some(a.data.display().to_string()),
        &observer,
    )?;
    observer.finish();
    result.timing.load_seconds = load_seconds;
    result.timing.total_seconds = t0.elapsed().as_secs_f64();

    if config.output.report.is_some() || config.output.markdown.is_some() {
        let spinner = progress::Spinner::new(quiet, "writing the report");
        report::write(&result, &config, &views, &frame, data, &read_opts, t0)?;
        drop(spinner);
    }
    if !json_members {
        result.slices.iter_mut().for_each(|s| s.members = None);
    }
    if let Some(json) = &config.output.json {
        let text = serde_json::to_string_pretty(&result)?;
        output::write_atomic(Path::new(json), text.as_bytes(), config.output.overwrite)?;
    }
    if let Some(m) = &config.output.membership {
        let bytes = output::npy_f32_columns(&result.membership, result.input.n_rows);
        output::write_atomic(Path::new(m), &bytes, config.output.overwrite)?;
    }
    let saved = match &a.save_slices {
        Some(f) => Some(definitions::save(
            &result,
            &config,
            &views,
            Path::new(f),
            config.output.overwrite,
        )?),
        None => None,
    };
    history::record_or_warn(
        a.hist.store(data).as_deref(),
        &history::scan_record(
            &result,
            &config,
            data,
            a.config.as_deref(),
            saved.as_ref(),
            started,
        ),
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !a.quiet || config.output.json.is_none() {
        output::print_summary(&mut out, &result, config.output.top)?;
    }
    if !a.quiet {
        for written in [
            &config.output.json,
            &config.output.report,
            &config.output.markdown,
            &a.save_slices,
        ]
        .into_iter()
        .flatten()
        {
            writeln!(out, "wrote {written}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `file.npz:key` → (`file.npz`, Some(`key`)).
fn split_npz_key(src: &str) -> (&str, Option<&str>) {
    let lower = src.to_ascii_lowercase();
    if let Some(pos) = lower.find(".npz:") {
        let (p, k) = src.split_at(pos + 4);
        (p, Some(&k[1..]))
    } else {
        (src, None)
    }
}
