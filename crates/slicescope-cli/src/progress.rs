//! Progress on the terminal: a bar per lattice level and one over the
//! bootstrap resamples, nothing when stderr is not a terminal or with
//! `--quiet`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use slicescope_core::lattice::Observer;

/// A spinner with a message while something without a known size runs.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub fn new(quiet: bool, msg: &'static str) -> Self {
        if quiet {
            return Spinner(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_message(msg);
        pb.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(pb))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Scan progress: one bar per lattice level over its candidates, then one
/// per later stage over its steps.
pub struct LatticeProgress {
    bar: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl LatticeProgress {
    pub fn new(quiet: bool) -> Self {
        LatticeProgress {
            bar: Mutex::new(None),
            quiet,
        }
    }

    pub fn finish(&self) {
        if let Ok(mut g) = self.bar.lock() {
            if let Some(pb) = g.take() {
                pb.finish_and_clear();
            }
        }
    }
}

impl Observer for LatticeProgress {
    fn level(&self, level: usize, candidates: usize) {
        if self.quiet {
            return;
        }
        let pb = ProgressBar::new(candidates as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "lattice level {msg} {bar:30} {pos}/{len} candidates ({elapsed})",
        ) {
            pb.set_style(style);
        }
        pb.set_message(level.to_string());
        if let Ok(mut g) = self.bar.lock() {
            if let Some(old) = g.replace(pb) {
                old.finish_and_clear();
            }
        }
    }

    fn stage(&self, name: &'static str, steps: usize) {
        if self.quiet {
            return;
        }
        let pb = ProgressBar::new(steps as u64);
        if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({elapsed})") {
            pb.set_style(style);
        }
        pb.set_message(name);
        if let Ok(mut g) = self.bar.lock() {
            if let Some(old) = g.replace(pb) {
                old.finish_and_clear();
            }
        }
    }

    fn step(&self) {
        self.evaluated(1);
    }

    fn evaluated(&self, n: usize) {
        if let Ok(g) = self.bar.lock() {
            if let Some(pb) = g.as_ref() {
                pb.inc(n as u64);
            }
        }
    }
}
