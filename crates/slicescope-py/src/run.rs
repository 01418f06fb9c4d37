//! Long work without the GIL, interruptible with Ctrl-C.
//!
//! The work runs on a helper thread (which hands the parallel parts to
//! rayon's pool); the calling thread, usually Python's main thread, waits
//! without the GIL and wakes every [`POLL`] to run Python's signal
//! handlers. When one raises (Ctrl-C: `KeyboardInterrupt`), the work is
//! asked to stop through the scan's [`Observer`], which the core consults
//! between lattice levels, embedding-slicer jobs and resamples; the
//! handler's exception is raised once the work has returned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use slicescope_core::lattice::Observer;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(50);

/// An observer that reports a cancellation request.
pub struct Cancel<'a>(&'a AtomicBool);

impl Observer for Cancel<'_> {
    fn cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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

/// Run `work` on a helper thread without the GIL, polling for signals.
pub fn interruptible<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Cancel<'_>) -> T + Send,
{
    let cancel = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let mut signal: Option<PyErr> = None;
    let waiter = std::thread::current();
    let joined = std::thread::scope(|s| {
        let (cancel, done_flag) = (&cancel, &done);
        let handle = s.spawn(move || {
            let _done = Done {
                flag: done_flag,
                waiter,
            };
            work(&Cancel(cancel))
        });
        while !done.load(Ordering::Acquire) {
            py.detach(|| std::thread::park_timeout(POLL));
            if signal.is_none() && !done.load(Ordering::Acquire) {
                if let Err(e) = py.check_signals() {
                    signal = Some(e);
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
        py.detach(|| handle.join())
    });
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
