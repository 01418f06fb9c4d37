//! Command-line arguments. Every flag overrides the same setting of the
//! config file (`--config slicescope.toml`).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use slicescope_core::config::{EmbeddingTesting, RankBy};
use slicescope_core::outcome::{RegressionError, Signal, Task};
use slicescope_core::Config;
use slicescope_io::{CsvType, Format, ReadOptions};

/// Find where a machine-learning model fails systematically: the slices of
/// an evaluation table where it errs far more than overall.
#[derive(Parser, Debug)]
#[command(name = "slicescope", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find error slices in an evaluation table.
    Scan(Box<ScanArgs>),
    /// Tag the rows of a table with the slices of a slice file (scan --save-slices), with per-slice counts and, when labelled, error statistics.
    Apply(Box<crate::apply::ApplyArgs>),
    /// Compare two models slice by slice: on one table or two files of the same rows (paired tests), or two saved runs (unpaired); CI gates (--fail-on), --json, --report, --markdown.
    Compare(Box<crate::compare::CompareArgs>),
    /// List recorded runs (.slicescope/history.db) and follow one slice through them.
    History(crate::history::HistoryCmdArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TaskArg {
    Classification,
    Binary,
    Regression,
    Metric,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignalArg {
    Error,
    Loss,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RegErrArg {
    Absolute,
    Squared,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RankArg {
    ExcessErrors,
    Score,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TestingArg {
    HeldOut,
    SameRows,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Parquet,
    Arrow,
    ArrowStream,
    Csv,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The evaluation table: Parquet, Arrow IPC (file or stream) or CSV.
    pub data: PathBuf,

    /// Read settings from this TOML file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// True label column.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub label: Option<String>,
    /// Predicted class (classification) or predicted value (regression).
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub pred: Option<String>,
    /// Probability-vector column (a list of floats per row, one per class).
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub probs: Option<String>,
    /// Score column of a binary classifier (see --threshold, --positive).
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub score: Option<String>,
    /// Per-sample loss or metric column.
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub loss: Option<String>,
    /// The task (inferred from the outcome flags when absent).
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub task: Option<TaskArg>,
    /// Binary: predict positive when score ≥ T [default: 0.5].
    #[arg(long, value_name = "T", help_heading = "Outcome")]
    pub threshold: Option<f64>,
    /// Binary: the positive label value (needed for string labels).
    #[arg(long, value_name = "VALUE", help_heading = "Outcome")]
    pub positive: Option<String>,
    /// Probabilities: class names in the order of the vector (comma-separated).
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Outcome"
    )]
    pub classes: Option<Vec<String>>,
    /// Slice on 0/1 errors or on the loss (cross-entropy / log loss) [default: error].
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub signal: Option<SignalArg>,
    /// Regression: absolute or squared error [default: absolute].
    #[arg(long, value_enum, help_heading = "Outcome")]
    pub regression_error: Option<RegErrArg>,
    /// Regression: count an error when |label − pred| > TOL (0/1 errors).
    #[arg(long, value_name = "TOL", help_heading = "Outcome")]
    pub tolerance: Option<f64>,
    /// Loss: higher values are worse (the default for --loss).
    #[arg(long, conflicts_with = "higher_is_better", help_heading = "Outcome")]
    pub higher_is_worse: bool,
    /// Loss: higher values are better (a metric such as IoU or accuracy).
    #[arg(long, help_heading = "Outcome")]
    pub higher_is_better: bool,
    /// Sample weight column (frequency weights).
    #[arg(long, value_name = "COL", help_heading = "Outcome")]
    pub weight: Option<String>,

    /// Attribute (metadata) columns to slice on, comma-separated.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Attributes"
    )]
    pub attributes: Option<Vec<String>>,
    /// Use every column not used otherwise as an attribute.
    #[arg(long, conflicts_with = "attributes", help_heading = "Attributes")]
    pub attributes_all: bool,
    /// Numeric columns to treat as categorical (one level per value).
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Attributes"
    )]
    pub categorical: Option<Vec<String>>,
    /// Quantile bins per numeric column [default: 10].
    #[arg(long, value_name = "N", help_heading = "Attributes")]
    pub bins: Option<usize>,
    /// Explicit bin edges for a column: COL=E1,E2,... (repeatable).
    #[arg(long, value_name = "COL=E1,E2", help_heading = "Attributes")]
    pub edges: Vec<String>,
    /// Most levels per column; the rarest values beyond are merged into `other` [default: 100].
    #[arg(long, value_name = "N", help_heading = "Attributes")]
    pub max_levels: Option<usize>,

    /// Phrase vocabulary for a view: VIEW=FILE (Parquet `phrase`/`embedding` or .npz `phrases`/`embeddings`, embedded by the view's model; see docs/phrases.md) (repeatable).
    #[arg(long = "vocab", value_name = "VIEW=FILE", help_heading = "Views")]
    pub vocab: Vec<String>,
    /// List every slice, also those that fail the false-discovery threshold or are unstable.
    #[arg(long, help_heading = "Output")]
    pub show_all: bool,
    /// Bootstrap resamples for each slice's stability (each listed slice refitted on drawn rows); 0 = none, and no slice is hidden as unstable [default: 10].
    #[arg(long, value_name = "N", help_heading = "Search")]
    pub resamples: Option<usize>,
    /// Hide slices that reappear in fewer than this share of the resamples, when each resample draws every row (up to testing.resample_rows = 20,000 rows; above, they are listed with a note) [default: 0.5].
    #[arg(long, value_name = "S", help_heading = "Search")]
    pub min_stability: Option<f64>,
    /// False-discovery threshold on the q-values [default: 0.05].
    #[arg(long, value_name = "Q", help_heading = "Search")]
    pub fdr: Option<f64>,
    /// How embedding slices are tested: found on one half of the rows and tested on the other (held-out), or found and tested on all rows (same-rows, optimistic p-values) [default: held-out].
    #[arg(long, value_name = "HOW", help_heading = "Search")]
    pub embedding_testing: Option<TestingArg>,
    /// Columns shown with each slice's example rows (an id, a text, an image path), comma-separated.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        help_heading = "Output"
    )]
    pub display: Option<Vec<String>>,
    /// Report: column of example images (PNG/JPEG bytes, or paths relative to the data file's folder).
    #[arg(long, value_name = "COL", help_heading = "Output")]
    pub image_column: Option<String>,
    /// Report: column of example texts.
    #[arg(long, value_name = "COL", help_heading = "Output")]
    pub text_column: Option<String>,

    /// Embedding view: NAME=COL (a list column) or NAME=FILE.npy / FILE.npz[:KEY] (repeatable).
    #[arg(long = "view", value_name = "NAME=SOURCE", help_heading = "Views")]
    pub views: Vec<String>,
    /// Most dimensions kept by each view's PCA [default: 128].
    #[arg(long, value_name = "N", help_heading = "Views")]
    pub view_dim: Option<usize>,
    /// Views to L2-normalise before centring (cosine geometry: CLIP, sentence embeddings).
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        help_heading = "Views"
    )]
    pub normalize: Option<Vec<String>>,

    /// Slicers to run, comma-separated: lattice, mixture, spotlight, direction [default: lattice with attributes, the other three with views].
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        help_heading = "Search"
    )]
    pub slicers: Option<Vec<String>>,
    /// Lattice: number of slices K [default: 10].
    #[arg(long, value_name = "K", help_heading = "Search")]
    pub lattice_k: Option<usize>,
    /// Lattice: weight α of error over size in the SliceLine score, in (0, 1] [default: 0.95].
    #[arg(long, value_name = "A", help_heading = "Search")]
    pub lattice_alpha: Option<f64>,
    /// Lattice: most predicates per slice, 0 = no limit [default: 3].
    #[arg(long, value_name = "L", help_heading = "Search")]
    pub lattice_max_level: Option<usize>,
    /// Lattice: minimum slice size, rows (≥ 1) or a fraction of rows (< 1) [default: max(32, n/100)].
    #[arg(long, value_name = "S", help_heading = "Search")]
    pub lattice_min_support: Option<f64>,
    /// Seed for randomised steps.
    #[arg(long, help_heading = "Search")]
    pub seed: Option<u64>,

    /// Slices to show in the terminal [default: 10].
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub top: Option<usize>,
    /// Order of the list [default: excess-errors].
    #[arg(long, value_enum, help_heading = "Output")]
    pub rank_by: Option<RankArg>,
    /// Write the full result as JSON (schema: docs/slicescope-result.schema.json).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<String>,
    /// Write per-row membership scores (float32 .npy, rows × slices in the JSON's order).
    #[arg(long, value_name = "FILE.npy", help_heading = "Output")]
    pub membership: Option<String>,
    /// Write every listed slice's re-applicable definition (rules; embedding definitions with their view's projection), hashed and versioned, for `slicescope apply` and `slicescope compare --slices` (docs/workflow.md).
    #[arg(long, value_name = "FILE.json", help_heading = "Output")]
    pub save_slices: Option<String>,
    /// Write the self-contained HTML report (docs/report.md).
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub report: Option<String>,
    /// Write a Markdown summary of the top slices (for pull-request comments).
    #[arg(long, value_name = "FILE.md", help_heading = "Output")]
    pub markdown: Option<String>,
    /// Report title [default: the data file's name].
    #[arg(long, value_name = "TEXT", help_heading = "Output")]
    pub title: Option<String>,
    /// Model or run name shown in the report.
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub run_name: Option<String>,
    /// Merge slices whose members overlap at least this much (Jaccard) [default: 0.5].
    #[arg(long, value_name = "J", help_heading = "Output")]
    pub merge_jaccard: Option<f64>,
    /// Leave member rows out of the JSON.
    #[arg(long, help_heading = "Output")]
    pub no_members: bool,
    /// Overwrite existing output files.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// No progress bar; with --json, no terminal table either.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,

    #[command(flatten)]
    pub hist: crate::history::HistoryArgs,

    /// Input format (detected from the file when absent).
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<FormatArg>,
    /// CSV delimiter (one character; detected when absent).
    #[arg(long, value_name = "C", help_heading = "Input")]
    pub delimiter: Option<String>,
    /// CSV type override: COL=string|float|int|bool (repeatable).
    #[arg(long = "csv-type", value_name = "COL=TYPE", help_heading = "Input")]
    pub csv_types: Vec<String>,
}

impl ScanArgs {
    /// Apply the flags over `config`.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        let c = &mut config.columns;
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = Some(v.clone());
                }
            };
        }
        // An outcome flag on the command line replaces the file's outcome.
        if self.pred.is_some()
            || self.probs.is_some()
            || self.score.is_some()
            || self.loss.is_some()
        {
            c.pred = None;
            c.probs = None;
            c.score = None;
            c.loss = None;
        }
        set!(label);
        set!(pred);
        set!(probs);
        set!(score);
        set!(loss);
        set!(weight);
        set!(positive);
        set!(classes);
        if let Some(t) = self.threshold {
            c.threshold = Some(t);
        }
        if let Some(t) = self.tolerance {
            c.tolerance = Some(t);
        }
        if let Some(t) = self.task {
            c.task = Some(match t {
                TaskArg::Classification => Task::Classification,
                TaskArg::Binary => Task::Binary,
                TaskArg::Regression => Task::Regression,
                TaskArg::Metric => Task::Metric,
            });
        }
        if let Some(s) = self.signal {
            c.signal = Some(match s {
                SignalArg::Error => Signal::Error,
                SignalArg::Loss => Signal::Loss,
            });
        }
        if let Some(r) = self.regression_error {
            c.regression_error = Some(match r {
                RegErrArg::Absolute => RegressionError::Absolute,
                RegErrArg::Squared => RegressionError::Squared,
            });
        }
        if self.higher_is_better {
            c.higher_is_worse = Some(false);
        } else if self.higher_is_worse {
            c.higher_is_worse = Some(true);
        }
        if let Some(a) = &self.attributes {
            c.attributes = a
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            c.attributes_all = false;
        }
        if self.attributes_all {
            c.attributes_all = true;
            c.attributes.clear();
        }
        for v in &self.vocab {
            let Some((view, file)) = v.split_once('=') else {
                bail!("--vocab '{v}': expected VIEW=FILE, e.g. --vocab text=phrases.parquet");
            };
            if view.is_empty() || file.is_empty() {
                bail!("--vocab '{v}': both VIEW and FILE must be non-empty");
            }
            config
                .views
                .vocab
                .insert(view.to_string(), file.to_string());
        }
        if self.show_all {
            config.testing.show_all = true;
        }
        if let Some(r) = self.resamples {
            config.testing.resamples = r;
        }
        if let Some(m) = self.min_stability {
            config.testing.min_stability = m;
        }
        if let Some(q) = self.fdr {
            config.testing.fdr = q;
        }
        if let Some(t) = self.embedding_testing {
            config.testing.embedding = match t {
                TestingArg::HeldOut => EmbeddingTesting::HeldOut,
                TestingArg::SameRows => EmbeddingTesting::SameRows,
            };
        }
        if let Some(i) = &self.image_column {
            c.image = Some(i.clone());
        }
        if let Some(t) = &self.text_column {
            c.text = Some(t.clone());
        }
        if let Some(d) = &self.display {
            c.display = d
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        for v in &self.views {
            let Some((name, src)) = v.split_once('=') else {
                bail!("--view '{v}': expected NAME=SOURCE, e.g. --view clip=clip_embedding or --view act=activations.npy");
            };
            if name.is_empty() || src.is_empty() {
                bail!("--view '{v}': both NAME and SOURCE must be non-empty");
            }
            c.views.insert(name.to_string(), src.to_string());
        }
        if let Some(d) = self.view_dim {
            config.views.max_dim = d;
        }
        if let Some(v) = &self.normalize {
            config.views.normalize = v.clone();
        }
        let b = &mut config.binning;
        if let Some(cat) = &self.categorical {
            b.categorical = cat.clone();
        }
        if let Some(n) = self.bins {
            b.bins = n;
        }
        if let Some(n) = self.max_levels {
            b.max_levels = n;
        }
        for e in &self.edges {
            let Some((col, list)) = e.split_once('=') else {
                bail!("--edges '{e}': expected COL=E1,E2,..., e.g. --edges age=18,30,65");
            };
            let edges: Result<Vec<f64>, _> =
                list.split(',').map(|x| x.trim().parse::<f64>()).collect();
            match edges {
                Ok(v) => {
                    b.edges.insert(col.to_string(), v);
                }
                Err(_) => bail!("--edges '{e}': the edges must be numbers separated by commas"),
            }
        }
        if let Some(s) = &self.slicers {
            config.slicers = Some(s.clone());
        }
        let l = &mut config.lattice;
        if let Some(k) = self.lattice_k {
            l.k = k;
        }
        if let Some(a) = self.lattice_alpha {
            l.alpha = a;
        }
        if let Some(m) = self.lattice_max_level {
            l.max_level = m;
        }
        if let Some(s) = self.lattice_min_support {
            l.min_support = Some(s);
        }
        if let Some(s) = self.seed {
            config.seed = s;
        }
        let o = &mut config.output;
        if let Some(t) = self.top {
            o.top = t;
        }
        if let Some(r) = self.rank_by {
            o.rank_by = match r {
                RankArg::ExcessErrors => RankBy::ExcessErrors,
                RankArg::Score => RankBy::Score,
            };
        }
        if let Some(j) = &self.json {
            o.json = Some(j.clone());
        }
        if let Some(m) = &self.membership {
            o.membership = Some(m.clone());
        }
        if let Some(r) = &self.report {
            o.report = Some(r.clone());
        }
        if let Some(m) = &self.markdown {
            o.markdown = Some(m.clone());
        }
        if let Some(t) = &self.title {
            o.title = Some(t.clone());
        }
        if let Some(r) = &self.run_name {
            o.run_name = Some(r.clone());
        }
        if let Some(j) = self.merge_jaccard {
            o.merge_jaccard = j;
        }
        if self.no_members {
            o.members = false;
        }
        if self.force {
            o.overwrite = true;
        }
        if let Some(f) = self.format {
            config.input.format = Some(
                match f {
                    FormatArg::Parquet => "parquet",
                    FormatArg::Arrow => "arrow",
                    FormatArg::ArrowStream => "arrow-stream",
                    FormatArg::Csv => "csv",
                }
                .to_string(),
            );
        }
        if let Some(d) = &self.delimiter {
            config.input.delimiter = Some(d.clone());
        }
        for t in &self.csv_types {
            let Some((col, ty)) = t.split_once('=') else {
                bail!(
                    "--csv-type '{t}': expected COL=TYPE with TYPE one of string, float, int, bool"
                );
            };
            config
                .input
                .csv_types
                .insert(col.to_string(), ty.to_string());
        }
        Ok(())
    }

    /// Reader options from the `[input]` settings.
    pub fn read_options(&self, config: &Config) -> Result<ReadOptions> {
        let mut opts = ReadOptions::default();
        if let Some(f) = &config.input.format {
            opts.format = Some(match f.as_str() {
                "parquet" => Format::Parquet,
                "arrow" | "ipc" | "feather" => Format::ArrowIpcFile,
                "arrow-stream" => Format::ArrowIpcStream,
                "csv" => Format::Csv,
                other => {
                    bail!("input format '{other}' is not one of parquet, arrow, arrow-stream, csv")
                }
            });
        }
        if let Some(d) = &config.input.delimiter {
            let d = if d == "\\t" { "\t" } else { d.as_str() };
            if d.len() != 1 {
                bail!("the CSV delimiter must be one character, got '{d}'");
            }
            opts.csv.delimiter = Some(d.as_bytes()[0]);
        }
        for (col, ty) in &config.input.csv_types {
            let t: CsvType = ty
                .parse()
                .map_err(|e: slicescope_core::Error| anyhow::anyhow!("csv type of '{col}': {e}"))?;
            opts.csv.types.insert(col.clone(), t);
        }
        Ok(opts)
    }
}
