//! The scan configuration: what a `slicescope.toml` holds, what CLI flags
//! override, and what the Python API fills from keyword arguments.
//!
//! Every section is strict: an unknown key is an error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::attributes::EncodeParams;
use crate::error::{Error, Result};
use crate::lattice::LatticeParams;
use crate::outcome::{OutcomeSpec, RegressionError, Signal, Task};
use crate::slicers::direction::DirectionParams;
use crate::slicers::mixture::MixtureParams;
use crate::slicers::spotlight::SpotlightParams;

/// `[columns]`: which column plays which role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Columns {
    /// The true label (all tasks but `metric`).
    pub label: Option<String>,
    /// Predicted class (classification) or predicted value (regression).
    pub pred: Option<String>,
    /// Probability vector column (classification).
    pub probs: Option<String>,
    /// Score column (binary).
    pub score: Option<String>,
    /// Per-sample loss or metric column (metric).
    pub loss: Option<String>,
    /// Optional sample weights (frequency weights).
    pub weight: Option<String>,
    /// The task; inferred from which outcome columns are given when absent
    /// (`pred` → classification, `probs` → classification, `score` →
    /// binary, `loss` → metric).
    pub task: Option<Task>,
    /// Binary: predict positive when score ≥ threshold (default 0.5).
    pub threshold: Option<f64>,
    /// Binary: the positive label value.
    pub positive: Option<String>,
    /// Probabilities: class names in the order of the vector.
    pub classes: Option<Vec<String>>,
    /// Classification with probabilities or scores: slice on 0/1 errors
    /// (`error`, default) or on the loss (`loss`).
    pub signal: Option<Signal>,
    /// Regression: `absolute` (default) or `squared` error.
    pub regression_error: Option<RegressionError>,
    /// Regression: count an error when |y − ŷ| exceeds this.
    pub tolerance: Option<f64>,
    /// Metric: true (default) when higher values are worse (a loss); false
    /// for metrics such as IoU or accuracy.
    pub higher_is_worse: Option<bool>,
    /// Attribute (metadata) columns to slice on.
    pub attributes: Vec<String>,
    /// Use every column not used otherwise as an attribute (vector columns
    /// and columns of types slicescope cannot slice on, e.g. binary,
    /// excluded).
    pub attributes_all: bool,
    /// Embedding views: name → a vector column of the table or a `.npy` /
    /// `.npz` file aligned with the table by row.
    pub views: BTreeMap<String, String>,
    /// Columns shown with each slice's example rows (an id, a text, an
    /// image path); never used as attributes by `attributes_all`.
    pub display: Vec<String>,
    /// The report's example images: a binary column of encoded PNG/JPEG
    /// images, or a string column of image paths (relative ones are
    /// resolved against the data file's folder); never an attribute.
    pub image: Option<String>,
    /// The report's example texts: a text column; never an attribute.
    pub text: Option<String>,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Output {
    /// Slices shown in the terminal table.
    pub top: usize,
    /// Write the JSON result here.
    pub json: Option<String>,
    /// Include each slice's member rows in the JSON.
    pub members: bool,
    /// Order of the reported list.
    pub rank_by: RankBy,
    /// Overwrite existing output files.
    pub overwrite: bool,
    /// Write per-row membership scores (float32 `.npy`, rows × slices in
    /// the JSON's slice order) here.
    pub membership: Option<String>,
    /// Slices whose members overlap at least this much (Jaccard) are
    /// merged into one that records every slicer and view that found it.
    /// Lattice slices are never merged with each other (they are the exact
    /// top-K; identical ones are marked `equivalent_to`).
    pub merge_jaccard: f64,
    /// Write the self-contained HTML report here (docs/report.md).
    pub report: Option<String>,
    /// Write a Markdown summary of the top slices here.
    pub markdown: Option<String>,
    /// The report's title (default: the data file's name).
    pub title: Option<String>,
    /// Model or run name shown in the report.
    pub run_name: Option<String>,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            report: None,
            markdown: None,
            title: None,
            run_name: None,
            top: 10,
            json: None,
            members: true,
            rank_by: RankBy::ExcessErrors,
            overwrite: false,
            membership: None,
            merge_jaccard: 0.5,
        }
    }
}

/// How the p-values of embedding slices are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddingTesting {
    /// Cross-fitting: the rows are split in two halves (seeded); every
    /// embedding slicer runs on each half, and each candidate is tested on
    /// the half it was not found on. The p-values are honest; discovery sees
    /// half of the rows at a time.
    #[default]
    HeldOut,
    /// Find and test on the same rows (all of them): more rows for
    /// discovery, but the p-values are optimistic (the slice was chosen
    /// because it looks bad on exactly these rows).
    SameRows,
}

/// `[testing]`: multiple testing and what the report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Testing {
    /// How embedding slices are tested (default `held-out`).
    pub embedding: EmbeddingTesting,
    /// False-discovery threshold on the q-values (default 0.05).
    pub fdr: f64,
    /// Report every slice, also those with q ≥ `fdr` or stability below
    /// `min_stability` (default false: they are counted in a note, not
    /// listed).
    pub show_all: bool,
    /// Bootstrap resamples used to measure each slice's stability
    /// (default 10; 0 = none, and then no slice is hidden as unstable).
    /// In each, every listed embedding slice is refitted from its own
    /// definition and the lattice (and slicers without a refit) rerun on
    /// the drawn rows.
    pub resamples: usize,
    /// Rows drawn (with replacement) per resample: min(n, this) (default
    /// 20,000; 0 = n). Fewer rows than n make the stability of small
    /// slices conservative and keep large scans fast.
    pub resample_rows: usize,
    /// Slices that reappear (Jaccard ≥ 0.5) in fewer than this share of
    /// the resamples are not listed (default 0.5) when the resamples are
    /// full size (n ≤ `resample_rows`, or `resample_rows` = 0); on larger
    /// tables they are listed and a note counts them.
    pub min_stability: f64,
}

impl Default for Testing {
    fn default() -> Self {
        Testing {
            embedding: EmbeddingTesting::HeldOut,
            fdr: 0.05,
            show_all: false,
            resamples: 10,
            resample_rows: 20_000,
            min_stability: 0.5,
        }
    }
}

/// How reported slices are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankBy {
    /// Errors above the overall rate (what fixing the slice is worth).
    #[default]
    ExcessErrors,
    /// The slicer's own score (SliceLine score for lattice slices).
    Score,
}

/// `[input]`: how to read the table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Input {
    /// Force a format: `parquet`, `arrow`, `arrow-stream` or `csv`.
    pub format: Option<String>,
    /// CSV field delimiter (one character).
    pub delimiter: Option<String>,
    /// CSV per-column type overrides: `string`, `float`, `int`, `bool`.
    pub csv_types: BTreeMap<String, String>,
}

/// `[views]`: how embedding views are preprocessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsConfig {
    /// Most dimensions kept by PCA per view.
    pub max_dim: usize,
    /// Views whose rows are L2-normalised before centring (cosine
    /// geometry: CLIP, sentence embeddings).
    pub normalize: Vec<String>,
    /// Phrase vocabularies: view name → a Parquet file (`phrase`,
    /// `embedding`) or `.npz` (`phrases`, `embeddings`) whose embeddings
    /// live in the same space as the view (docs/phrases.md).
    pub vocab: BTreeMap<String, String>,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        ViewsConfig {
            max_dim: 128,
            normalize: Vec::new(),
            vocab: BTreeMap::new(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Reading the input.
    pub input: Input,
    /// Column roles.
    pub columns: Columns,
    /// Slicers to run (default: all that apply; today `lattice`).
    pub slicers: Option<Vec<String>>,
    /// Lattice (SliceLine) parameters.
    pub lattice: LatticeParams,
    /// Attribute encoding.
    pub binning: EncodeParams,
    /// Embedding-view preprocessing.
    pub views: ViewsConfig,
    /// Mixture slicer parameters.
    pub mixture: MixtureParams,
    /// Spotlight slicer parameters.
    pub spotlight: SpotlightParams,
    /// Direction slicer parameters.
    pub direction: DirectionParams,
    /// Outputs.
    pub output: Output,
    /// Multiple testing and filtering.
    pub testing: Testing,
    /// How slices are described.
    pub describe: crate::explain::DescribeParams,
    /// The diagnosis flags.
    pub diagnose: crate::diagnose::DiagnoseParams,
    /// Seed for every randomised step (none in the lattice search, which is
    /// deterministic).
    pub seed: u64,
}

/// Slicers this version knows.
pub const SLICERS: &[&str] = &["lattice", "mixture", "spotlight", "direction"];

/// Slicers that run on embedding views.
pub const EMBEDDING_SLICERS: &[&str] = &["mixture", "spotlight", "direction"];

impl Config {
    /// Parse a TOML document; unknown keys are errors with a suggestion.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        toml_parse(text).map_err(|msg| Error::InvalidInput(format!("{origin}: {msg}")))
    }

    /// The outcome specification implied by `[columns]`.
    pub fn outcome_spec(&self) -> Result<OutcomeSpec> {
        let c = &self.columns;
        let given: Vec<&str> = [
            ("pred", &c.pred),
            ("probs", &c.probs),
            ("score", &c.score),
            ("loss", &c.loss),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
        if given.len() != 1 {
            return Err(Error::param(
                "columns",
                if given.is_empty() {
                    "say what the model output is: one of --pred COL, --probs COL, --score COL or --loss COL".to_string()
                } else {
                    format!(
                        "give exactly one of pred, probs, score or loss; got {}",
                        given.join(" and ")
                    )
                },
            ));
        }
        let task = c.task.unwrap_or(match given[0] {
            "score" => Task::Binary,
            "loss" => Task::Metric,
            _ => Task::Classification,
        });
        let need_label = |what: &str| -> Result<String> {
            c.label.clone().ok_or_else(|| {
                Error::param(
                    "label",
                    format!("{what} needs the label column: add --label COL"),
                )
            })
        };
        let wrong = |why: &str| Err(Error::param("task", why.to_string()));
        let signal = c.signal.unwrap_or_default();
        let spec = match (task, given[0]) {
            (Task::Classification, "pred") => OutcomeSpec::Classification {
                label: need_label("classification")?,
                pred: c.pred.clone().unwrap_or_default(),
            },
            (Task::Classification, "probs") => OutcomeSpec::Probabilities {
                label: need_label("classification")?,
                probs: c.probs.clone().unwrap_or_default(),
                classes: c.classes.clone(),
                signal,
            },
            (Task::Binary | Task::Classification, "score") => OutcomeSpec::Binary {
                label: need_label("a binary task")?,
                score: c.score.clone().unwrap_or_default(),
                threshold: c.threshold.unwrap_or(0.5),
                positive: c.positive.clone(),
                signal,
            },
            (Task::Regression, "pred") => OutcomeSpec::Regression {
                label: need_label("regression")?,
                pred: c.pred.clone().unwrap_or_default(),
                error: c.regression_error.unwrap_or_default(),
                tolerance: c.tolerance,
            },
            (Task::Metric, "loss") => OutcomeSpec::Metric {
                column: c.loss.clone().unwrap_or_default(),
                higher_is_worse: c.higher_is_worse.unwrap_or(true),
            },
            (Task::Binary, other) => {
                return wrong(&format!(
                    "the binary task takes --score (a real score) and --label, not --{other}"
                ))
            }
            (Task::Regression, other) => {
                return wrong(&format!(
                    "regression takes --pred (the predicted value) and --label, not --{other}"
                ))
            }
            (Task::Metric, other) => {
                return wrong(&format!("the metric task takes --loss COL, not --{other}"))
            }
            (Task::Classification, other) => {
                return wrong(&format!(
                    "classification takes --pred or --probs, not --{other}"
                ))
            }
        };
        // Options that do not belong to the chosen task are mistakes.
        let stray: Vec<&str> = [
            (
                "threshold",
                c.threshold.is_some() && !matches!(spec, OutcomeSpec::Binary { .. }),
            ),
            (
                "positive",
                c.positive.is_some() && !matches!(spec, OutcomeSpec::Binary { .. }),
            ),
            (
                "classes",
                c.classes.is_some() && !matches!(spec, OutcomeSpec::Probabilities { .. }),
            ),
            (
                "tolerance",
                c.tolerance.is_some() && !matches!(spec, OutcomeSpec::Regression { .. }),
            ),
            (
                "regression_error",
                c.regression_error.is_some() && !matches!(spec, OutcomeSpec::Regression { .. }),
            ),
            (
                "higher_is_worse",
                c.higher_is_worse.is_some() && !matches!(spec, OutcomeSpec::Metric { .. }),
            ),
            (
                "signal",
                c.signal.is_some()
                    && !matches!(
                        spec,
                        OutcomeSpec::Probabilities { .. } | OutcomeSpec::Binary { .. }
                    ),
            ),
            (
                "label",
                c.label.is_some() && matches!(spec, OutcomeSpec::Metric { .. }),
            ),
        ]
        .iter()
        .filter(|(_, bad)| *bad)
        .map(|(k, _)| *k)
        .collect();
        if !stray.is_empty() {
            return Err(Error::param(
                stray[0],
                format!("does not apply to this task ({task:?}); remove it or change the task"),
            ));
        }
        Ok(spec)
    }

    /// The slicers to run, validated.
    pub fn slicers(&self) -> Result<Vec<String>> {
        let has_attrs = !self.columns.attributes.is_empty() || self.columns.attributes_all;
        let has_views = !self.columns.views.is_empty();
        let list = match &self.slicers {
            Some(l) => l.clone(),
            None => {
                let mut l = Vec::new();
                if has_attrs {
                    l.push("lattice".to_string());
                }
                if has_views {
                    l.extend(EMBEDDING_SLICERS.iter().map(|s| s.to_string()));
                }
                if l.is_empty() {
                    return Err(Error::param(
                        "attributes",
                        "nothing to slice on: give attribute columns (--attributes A,B or --attributes-all) and/or embedding views (--view NAME=SOURCE)",
                    ));
                }
                l
            }
        };
        if list.is_empty() {
            return Err(Error::param(
                "slicers",
                format!(
                    "the list is empty; name at least one of {}",
                    SLICERS.join(", ")
                ),
            ));
        }
        for s in &list {
            if !SLICERS.contains(&s.as_str()) {
                let sugg = crate::error::near_matches(
                    s,
                    &SLICERS.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                );
                return Err(Error::param(
                    "slicers",
                    format!(
                        "unknown slicer '{s}'{}; available: {}",
                        sugg.first()
                            .map(|x| format!(" (did you mean '{x}'?)"))
                            .unwrap_or_default(),
                        SLICERS.join(", ")
                    ),
                ));
            }
            if s == "lattice" && !has_attrs {
                return Err(Error::param(
                    "attributes",
                    "the lattice slicer needs attribute columns: add --attributes A,B or --attributes-all",
                ));
            }
            if EMBEDDING_SLICERS.contains(&s.as_str()) && !has_views {
                return Err(Error::param(
                    "slicers",
                    format!("the {s} slicer needs an embedding view: add --view NAME=COL or --view NAME=FILE.npy"),
                ));
            }
        }
        if !(self.output.merge_jaccard > 0.0 && self.output.merge_jaccard <= 1.0) {
            return Err(Error::param(
                "merge_jaccard",
                format!("must be in (0, 1], got {}", self.output.merge_jaccard),
            ));
        }
        for v in self.views.vocab.keys() {
            self.require_view(
                "views.vocab",
                v,
                &format!("a vocabulary was given for view '{v}', which is not one of the views"),
                "",
            )?;
        }
        self.describe.validate()?;
        self.diagnose.validate()?;
        let witness = &self.diagnose.label_noise.witness;
        if !["auto", "own"].contains(&witness.as_str()) {
            self.require_view(
                "diagnose.label_noise.witness",
                witness,
                &format!("'{witness}' is not one of the views"),
                "; use \"auto\", \"own\" or a view's name",
            )?;
        }
        if !(0.0..=1.0).contains(&self.testing.min_stability) {
            return Err(Error::param(
                "testing.min_stability",
                format!("must be in [0, 1], got {}", self.testing.min_stability),
            ));
        }
        if !(self.testing.fdr > 0.0 && self.testing.fdr <= 1.0) {
            return Err(Error::param(
                "testing.fdr",
                format!("must be in (0, 1], got {}", self.testing.fdr),
            ));
        }
        if self.views.max_dim == 0 {
            return Err(Error::param("views.max_dim", "must be at least 1"));
        }
        for v in &self.views.normalize {
            self.require_view(
                "views.normalize",
                v,
                &format!("'{v}' is not one of the views"),
                "",
            )?;
        }
        Ok(list)
    }

    /// Ok when `view` is one of the configured views; else an error on
    /// `field`: "`what` (the views)`hint`".
    fn require_view(&self, field: &str, view: &str, what: &str, hint: &str) -> Result<()> {
        if self.columns.views.contains_key(view) {
            return Ok(());
        }
        let names: Vec<String> = self.columns.views.keys().cloned().collect();
        Err(Error::param(
            field,
            format!("{what} ({}){hint}", names.join(", ")),
        ))
    }

    /// Columns used as outcome or weight (never attributes).
    pub fn role_columns(&self) -> Vec<String> {
        let c = &self.columns;
        [&c.label, &c.pred, &c.probs, &c.score, &c.loss, &c.weight]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

fn toml_parse(text: &str) -> std::result::Result<Config, String> {
    match toml::from_str::<Config>(text) {
        Ok(c) => Ok(c),
        Err(e) => {
            let msg = e.message().to_string();
            let mut out = msg.clone();
            // "unknown field `x`, expected one of `a`, `b`": add a suggestion.
            if let Some(rest) = msg.strip_prefix("unknown field `") {
                if let Some((field, expected)) = rest.split_once('`') {
                    let options: Vec<String> = expected
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .map(String::from)
                        .collect();
                    if let Some(best) = crate::error::near_matches(field, &options).first() {
                        out = format!("{msg}; did you mean `{best}`?");
                    }
                }
            }
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            Err(format!("{line}{out}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = Config::from_toml(
            r#"
seed = 7
[columns]
label = "label"
pred = "pred"
attributes = ["age", "sex"]
[lattice]
k = 5
alpha = 0.9
max_level = 2
min_support = 0.01
[binning]
bins = 5
edges = { age = [18, 30, 65] }
[output]
top = 3
rank_by = "score"
"#,
            "slicescope.toml",
        )
        .unwrap();
        assert_eq!(c.lattice.k, 5);
        assert_eq!(c.lattice.min_support, Some(0.01));
        assert_eq!(c.binning.bins, 5);
        assert_eq!(c.binning.edges["age"], vec![18.0, 30.0, 65.0]);
        assert_eq!(c.output.rank_by, RankBy::Score);
        assert!(matches!(
            c.outcome_spec().unwrap(),
            OutcomeSpec::Classification { .. }
        ));
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let e = Config::from_toml("[lattice]\nmax_levle = 2\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml: line 2"), "{e}");
        assert!(e.contains("did you mean `max_level`?"), "{e}");
        let e = Config::from_toml("[colums]\nlabel = 'y'\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `columns`?"), "{e}");
    }

    #[test]
    fn outcome_combinations() {
        let mut c = Config::default();
        assert!(c
            .outcome_spec()
            .unwrap_err()
            .to_string()
            .contains("--pred COL"));
        c.columns.pred = Some("p".into());
        assert!(c
            .outcome_spec()
            .unwrap_err()
            .to_string()
            .contains("--label"));
        c.columns.label = Some("y".into());
        c.columns.score = Some("s".into());
        assert!(c
            .outcome_spec()
            .unwrap_err()
            .to_string()
            .contains("exactly one"));
        c.columns.score = None;
        c.columns.threshold = Some(0.3);
        assert!(c
            .outcome_spec()
            .unwrap_err()
            .to_string()
            .contains("'threshold'"));
        c.columns.threshold = None;
        c.columns.task = Some(Task::Regression);
        assert!(matches!(
            c.outcome_spec().unwrap(),
            OutcomeSpec::Regression { .. }
        ));
        c.columns.task = Some(Task::Binary);
        assert!(c.outcome_spec().is_err());
    }

    #[test]
    fn slicer_names_are_checked() {
        let mut c = Config {
            slicers: Some(vec!["latice".into()]),
            ..Default::default()
        };
        c.columns.attributes = vec!["a".into()];
        let e = c.slicers().unwrap_err().to_string();
        assert!(e.contains("did you mean 'lattice'"), "{e}");
        // Defaults follow what is available.
        c.slicers = None;
        assert_eq!(c.slicers().unwrap(), vec!["lattice"]);
        c.columns.views.insert("clip".into(), "clip.npy".into());
        assert_eq!(
            c.slicers().unwrap(),
            vec!["lattice", "mixture", "spotlight", "direction"]
        );
        c.columns.attributes.clear();
        assert_eq!(
            c.slicers().unwrap(),
            vec!["mixture", "spotlight", "direction"]
        );
        c.slicers = Some(vec!["lattice".into()]);
        assert!(c
            .slicers()
            .unwrap_err()
            .to_string()
            .contains("needs attribute columns"));
        c.columns.views.clear();
        c.slicers = Some(vec!["spotlight".into()]);
        assert!(c
            .slicers()
            .unwrap_err()
            .to_string()
            .contains("needs an embedding view"));
    }
}
