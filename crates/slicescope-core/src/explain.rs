//! What the scan says about every reported slice, whatever found it: an
//! attribute rule, the enriched attribute values, the outcome inside it
//! (confusion or error distribution), example rows, phrases from a
//! vocabulary, one readable sentence, and the diagnosis flags (label noise,
//! shortcut, under-covered), each with its evidence. The pieces come from
//! [`crate::describe`], [`crate::phrases`] and [`crate::diagnose`]; this
//! module gathers what they need and assembles them per slice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::describe::{
    self, AttributeIndex, AttributeRule, EnrichParams, Enriched, ErrorPair, ExampleParams,
    OutcomeSummary, RuleParams, RuleText, SentenceParts,
};
use crate::diagnose::{self, Coverage, DiagnoseParams, LabelNoise, NeighbourCache, Shortcut};
use crate::error::Result;
use crate::frame::Column;
use crate::outcome::Classes;
use crate::phrases::{self, PhraseScore, ProjectedVocabulary};
use crate::stats::{LogFactorials, SliceStats, Sums};
use crate::views::ReducedView;

/// `[describe]`: how slices are described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DescribeParams {
    /// The attribute-rule search.
    pub rule: RuleParams,
    /// Enriched attribute values.
    pub enriched: EnrichParams,
    /// Example rows.
    pub examples: ExampleParams,
    /// Label → prediction pairs listed per slice (default 5).
    pub confusion_pairs: usize,
    /// Phrases listed per slice when a vocabulary is given (default 5).
    pub phrases: usize,
}

impl Default for DescribeParams {
    fn default() -> Self {
        DescribeParams {
            rule: RuleParams::default(),
            enriched: EnrichParams::default(),
            examples: ExampleParams::default(),
            confusion_pairs: 5,
            phrases: 5,
        }
    }
}

impl DescribeParams {
    /// Check every parameter.
    pub fn validate(&self) -> Result<()> {
        self.rule.validate()?;
        self.enriched.validate()?;
        Ok(())
    }
}

/// One example row of a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// 0-based row in the input.
    pub row: u32,
    /// "typical" (most typical members) or "borderline" (members nearest
    /// the slice's boundary).
    pub kind: String,
    /// The row's membership score, when the slicer gives one.
    pub score: Option<f32>,
    /// Whether the model erred on it (0/1 errors), or its error.
    pub error: f64,
    /// The display columns' values (`--display`); None when missing.
    pub values: BTreeMap<String, Option<String>>,
}

/// Phrases that describe a slice, from the vocabulary of one view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phrases {
    /// The view whose vocabulary was used.
    pub view: String,
    /// What the slice was contrasted with.
    pub reference: String,
    /// Best phrases first.
    pub top: Vec<PhraseScore>,
}

/// The diagnosis flags of a slice, each with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    /// Likely label noise (classification with an embedding view).
    pub label_noise: Option<LabelNoise>,
    /// Attributes that predict the model's prediction much more strongly
    /// than the label, globally and in the slice (strongest first).
    pub shortcuts: Vec<Shortcut>,
    /// Whether the slice is too small for a tight interval, and how many
    /// more labelled rows would tighten it.
    pub under_covered: Coverage,
}

impl Flags {
    /// Short names of the raised flags ("label-noise", "shortcut",
    /// "under-covered").
    pub fn raised(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.label_noise.as_ref().is_some_and(|l| l.flagged) {
            out.push("label-noise");
        }
        if !self.shortcuts.is_empty() {
            out.push("shortcut");
        }
        if self.under_covered.flagged {
            out.push("under-covered");
        }
        out
    }
}

/// Everything the scan says about one slice besides its statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// One readable sentence.
    pub summary: String,
    /// The shortest conjunction of attribute predicates (up to
    /// `describe.rule.max_predicates`) that best matches the members, with
    /// its precision and recall (None without attributes).
    pub attribute_rule: Option<AttributeRule>,
    /// The attribute values most over-represented in the slice.
    pub enriched: Vec<Enriched>,
    /// The outcome inside the slice: label → prediction pairs, or the
    /// error distribution.
    pub outcome: OutcomeSummary,
    /// Typical and borderline members with their display values.
    pub examples: Vec<Example>,
    /// Phrases from a vocabulary, when one was given for a view.
    pub phrases: Option<Phrases>,
    /// Diagnosis flags.
    pub flags: Flags,
}

/// What describing slices needs, built once per scan.
pub(crate) struct Context<'a> {
    pub n: usize,
    pub weights: Option<&'a [f64]>,
    pub errors: &'a [f64],
    pub binary: bool,
    pub metric: &'a str,
    pub classes: Option<&'a Classes>,
    pub confidence: Option<diagnose::CheckedConfidence<'a>>,
    pub index: Option<AttributeIndex<'a>>,
    pub encoded: &'a crate::attributes::Encoded,
    pub views: &'a [ReducedView],
    pub vocab: &'a [ProjectedVocabulary],
    pub display: Vec<&'a Column>,
    pub describe: &'a DescribeParams,
    pub diagnose: &'a DiagnoseParams,
    pub log_fact: &'a LogFactorials,
    /// One neighbour cache per view (same order as `views`).
    pub neighbours: Vec<Option<NeighbourCache>>,
    /// The view (position in `views`) whose neighbours judge every slice's
    /// labels; None: each slice's own view (the first for lattice slices).
    pub witness: Option<usize>,
    pub total_weight: f64,
    pub seed: u64,
}

/// What is known of one slice when it is described.
pub(crate) struct SliceInput<'a> {
    /// Members, ascending.
    pub members: &'a [u32],
    /// Per-row membership scores (embedding slices).
    pub membership: Option<&'a [f32]>,
    /// The membership threshold, when the slicer has one.
    pub threshold: Option<f32>,
    /// The view the slice was found in.
    pub view: Option<&'a str>,
    /// Its statistics.
    pub stats: &'a SliceStats,
}

impl Context<'_> {
    /// Describe and diagnose one slice.
    pub(crate) fn explain(&self, s: &SliceInput<'_>) -> Result<Explanation> {
        let d = self.describe;
        let attribute_rule = match &self.index {
            Some(ix) => ix.rule(s.members, &d.rule)?,
            None => None,
        };
        let enriched = match &self.index {
            Some(ix) => ix.enriched(s.members, &d.enriched, self.log_fact)?,
            None => Vec::new(),
        };
        let outcome = describe::outcome_summary(
            s.members,
            self.n,
            self.weights,
            self.classes,
            self.errors,
            self.binary,
            d.confusion_pairs,
        )?;
        let ex = describe::examples(s.members, self.n, s.membership, s.threshold, &d.examples)?;
        let mut examples = Vec::new();
        for (kind, rows) in [("typical", &ex.typical), ("borderline", &ex.borderline)] {
            for &r in rows.iter() {
                let values = self
                    .display
                    .iter()
                    .map(|c| (c.name.clone(), c.data.text(r as usize)))
                    .collect();
                examples.push(Example {
                    row: r,
                    kind: kind.into(),
                    score: s.membership.map(|m| m[r as usize]),
                    error: self.errors[r as usize],
                    values,
                });
            }
        }
        // Phrases: the slice's own view when it has a vocabulary, else the
        // first view that has one.
        let vocab = s
            .view
            .and_then(|v| self.vocab.iter().find(|p| p.view() == v))
            .or_else(|| self.vocab.first());
        let phrases = match vocab {
            Some(pv) => match self.views.iter().find(|v| v.name == pv.view()) {
                Some(view) => {
                    let labels: &[u32] = self.classes.map_or(&[], |c| c.label.as_slice());
                    let reference = phrases::reference_rows(labels, s.members, self.n);
                    let w = self
                        .weights
                        .map(|w| s.members.iter().map(|&i| w[i as usize]).collect::<Vec<_>>());
                    let top = phrases::describe(
                        pv,
                        view,
                        s.members,
                        &reference,
                        w.as_deref(),
                        d.phrases,
                    )?;
                    Some(Phrases {
                        view: pv.view().to_string(),
                        reference: if self.classes.is_some() {
                            "rows outside the slice with the slice's labels, in its label proportions".into()
                        } else {
                            "all rows outside the slice".into()
                        },
                        top,
                    })
                }
                None => None,
            },
            None => None,
        };
        let dg = self.diagnose;
        let noise_view = self
            .witness
            .or_else(|| {
                s.view
                    .and_then(|v| self.views.iter().position(|r| r.name == v))
            })
            .or(if self.views.is_empty() { None } else { Some(0) });
        let label_noise = match noise_view.and_then(|v| self.neighbours[v].as_ref().map(|c| (v, c)))
        {
            Some((v, cache)) => diagnose::label_noise_cached(
                &self.views[v],
                self.classes,
                self.confidence.as_ref(),
                s.members,
                &dg.label_noise,
                self.seed,
                cache,
            )?,
            None => None,
        };
        let shortcuts = if self.encoded.attributes.is_empty() {
            Vec::new()
        } else {
            diagnose::shortcuts(
                self.encoded,
                self.classes,
                s.members,
                self.weights,
                &dg.shortcut,
            )?
        };
        let mut sums = Sums::default();
        for &m in s.members {
            sums.add(
                self.errors[m as usize],
                self.weights.map_or(1.0, |w| w[m as usize]),
            );
        }
        let under_covered = diagnose::coverage(
            sums.weight,
            sums.err,
            (!self.binary).then(|| sums.variance()),
            self.binary,
            dg.coverage.target_width,
            dg.coverage.z,
        )?;
        let summary = describe::sentence(&SentenceParts {
            share: if self.total_weight > 0.0 {
                s.stats.weight / self.total_weight
            } else {
                0.0
            },
            size: s.stats.size,
            error_rate: s.stats.error_rate,
            rest_error_rate: s.stats.rest_error_rate,
            excess_errors: s.stats.excess_errors,
            metric: self.metric.to_string(),
            binary: self.binary,
            dominant_error: outcome.dominant_error(0.5).map(|p| ErrorPair {
                label: p.label.clone(),
                predicted: p.predicted.clone(),
            }),
            dominant_label: outcome
                .dominant_error_label(0.6)
                .map(|(l, share)| (l.to_string(), share)),
            top_errors: outcome
                .top_errors(2)
                .into_iter()
                .map(|(p, share)| {
                    (
                        ErrorPair {
                            label: p.label.clone(),
                            predicted: p.predicted.clone(),
                        },
                        share,
                    )
                })
                .collect(),
            rule: attribute_rule.as_ref().map(RuleText::from),
            phrases: phrases
                .as_ref()
                .map(|p| p.top.iter().take(3).map(|x| x.phrase.clone()).collect())
                .unwrap_or_default(),
        });
        Ok(Explanation {
            summary,
            attribute_rule,
            enriched,
            outcome,
            examples,
            phrases,
            flags: Flags {
                label_noise,
                shortcuts,
                under_covered,
            },
        })
    }
}
