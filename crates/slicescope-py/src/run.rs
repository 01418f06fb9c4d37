//! Long work without the GIL, interruptible with Ctrl-C.
//!
//! The work runs on a helper thread (which hands the parallel parts to
//! rayon's pool); the calling thread, usually Python's main thread, waits
//! without the GIL and wakes every [`POLL`] to run Python's signal
//! handlers. When one raises (Ctrl-C: `KeyboardInterrupt`), the work is
//! asked to stop through the scan's [`Observer`], which the core consults
//! between lattice levels, embedding-slicer jobs and resamples; the
//! handler's exception is raised once the work has returned.
//!
//! With progress on, the waiting thread also shows the work's progress on
//! Python's `sys.stderr` (so it reaches a terminal and a Jupyter
//! notebook alike): one line, rewritten in place with `\r` at most every
//! [`REDRAW`] and when a lattice level starts, fed by the same
//! [`Observer`] (lattice levels and candidates, as the CLI's progress
//! bar), and cleared when the work is over.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use slicescope_core::lattice::Observer;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(50);

/// How often the progress line is redrawn (at most).
const REDRAW: Duration = Duration::from_millis(200);

/// Where the work is, as the observer hears it.
#[derive(Default)]
pub struct Progress {
    /// The current lattice level (0: none started yet).
    level: AtomicUsize,
    /// Candidates of the current level.
    candidates: AtomicUsize,
    /// Candidates evaluated in the current level.
    evaluated: AtomicUsize,
    /// Steps of the later stage (the bootstrap resamples; 0: not started).
    steps: AtomicUsize,
    /// Steps done.
    stepped: AtomicUsize,
}

impl Progress {
    /// The progress line after `elapsed`.
    fn line(&self, elapsed: Duration) -> String {
        let level = self.level.load(Ordering::Relaxed);
        let total = self.candidates.load(Ordering::Relaxed);
        let done = self.evaluated.load(Ordering::Relaxed).min(total);
        let steps = self.steps.load(Ordering::Relaxed);
        let stage = if steps > 0 {
            format!(
                "bootstrap stability: {}/{steps} resamples",
                self.stepped.load(Ordering::Relaxed).min(steps)
            )
        } else if level == 0 {
            "reading and preparing".to_string()
        } else if done < total {
            format!(
                "lattice level {level}: {}/{} candidates",
                slicescope_report::summary::thousands(done as u64),
                slicescope_report::summary::thousands(total as u64)
            )
        } else {
            format!("lattice level {level} done; scanning")
        };
        format!("slicescope: {stage} ({:.1}s)", elapsed.as_secs_f64())
    }
}

/// The scan's observer: cancellation requests and, when shown, progress.
pub struct Watch<'a> {
    cancel: &'a AtomicBool,
    progress: Option<&'a Progress>,
    waiter: Thread,
}

impl Observer for Watch<'_> {
    fn level(&self, level: usize, candidates: usize) {
        if let Some(p) = self.progress {
            p.evaluated.store(0, Ordering::Relaxed);
            p.candidates.store(candidates, Ordering::Relaxed);
            p.level.store(level, Ordering::Relaxed);
            // Show the new level now.
            self.waiter.unpark();
        }
    }

    fn evaluated(&self, n: usize) {
        if let Some(p) = self.progress {
            p.evaluated.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn stage(&self, _name: &'static str, steps: usize) {
        if let Some(p) = self.progress {
            p.stepped.store(0, Ordering::Relaxed);
            p.steps.store(steps, Ordering::Relaxed);
            self.waiter.unpark();
        }
    }

    fn step(&self) {
        if let Some(p) = self.progress {
            p.stepped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The progress line on Python's `sys.stderr` (a terminal, a notebook's
/// stream, pytest's capture...). Writing errors are ignored: progress never
/// fails the work.
struct Line {
    started: Instant,
    drawn: Option<Instant>,
    /// The (lattice level, stage steps) last drawn.
    at: (usize, usize),
    width: usize,
}

impl Line {
    fn new() -> Self {
        Line {
            started: Instant::now(),
            drawn: None,
            at: (0, 0),
            width: 0,
        }
    }

    fn write(py: Python<'_>, text: &str) {
        let Ok(err) = py.import("sys").and_then(|sys| sys.getattr("stderr")) else {
            return;
        };
        if err.is_none() {
            return;
        }
        let _ = err.call_method1("write", (text,));
        let _ = err.call_method0("flush");
    }

    /// Redraw when due (or when a level or a stage started).
    fn update(&mut self, py: Python<'_>, p: &Progress) {
        let at = (
            p.level.load(Ordering::Relaxed),
            p.steps.load(Ordering::Relaxed),
        );
        let due = self.drawn.is_none_or(|t| t.elapsed() >= REDRAW);
        if !due && at == self.at {
            return;
        }
        self.at = at;
        self.drawn = Some(Instant::now());
        let text = p.line(self.started.elapsed());
        let n = text.chars().count();
        let pad = self.width.saturating_sub(n);
        self.width = self.width.max(n);
        Line::write(py, &format!("\r{text}{}", " ".repeat(pad)));
    }

    /// Erase the line.
    fn clear(&self, py: Python<'_>) {
        if self.drawn.is_some() {
            Line::write(py, &format!("\r{}\r", " ".repeat(self.width)));
        }
    }
}

/// Marks the work as done and wakes the waiting thread, also when the
/// work panics.
struct Done<'a> {
    flag: &'a AtomicBool,
    waiter: Thread,
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Release);
        self.waiter.unpark();
    }
}

/// Run `work` on a helper thread without the GIL, polling for signals;
/// with `progress`, show its progress on `sys.stderr`.
pub fn interruptible<T, F>(py: Python<'_>, progress: bool, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Watch<'_>) -> T + Send,
{
    let cancel = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let state = Progress::default();
    let mut line = Line::new();
    let mut signal: Option<PyErr> = None;
    let waiter = std::thread::current();
    if progress {
        line.update(py, &state);
    }
    let joined = std::thread::scope(|s| {
        let (cancel, done_flag) = (&cancel, &done);
        let watch = Watch {
            cancel,
            progress: progress.then_some(&state),
            waiter: waiter.clone(),
        };
        let handle = s.spawn(move || {
            let _done = Done {
                flag: done_flag,
                waiter,
            };
            work(&watch)
        });
        while !done.load(Ordering::Acquire) {
            py.detach(|| std::thread::park_timeout(POLL));
            if progress {
                line.update(py, &state);
            }
            if signal.is_none() && !done.load(Ordering::Acquire) {
                if let Err(e) = py.check_signals() {
                    signal = Some(e);
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
        py.detach(|| handle.join())
    });
    if progress {
        line.clear(py);
    }
    if let Some(e) = signal {
        return Err(e);
    }
    joined.map_err(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        PyRuntimeError::new_err(format!(
            "slicescope failed unexpectedly ({reason}); please report this as a bug"
        ))
    })
}
