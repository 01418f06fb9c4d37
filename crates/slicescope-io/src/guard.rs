//! Turning reader panics into [`Error::Format`].
//!
//! The Arrow and Parquet readers validate most of what they read, but some
//! corrupt inputs still make them panic. Reads run under
//! [`std::panic::catch_unwind`], and a panic becomes a format error; while
//! a guarded read runs, the panic message is not printed (a process-wide
//! panic hook, installed once, stays silent for threads inside a guarded
//! read and defers to the previous hook otherwise).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use slicescope_core::{Error, Result};

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

static INSTALL_HOOK: Once = Once::new();

/// Run `read`, converting a panic into an [`Error::Format`] for `path`.
pub(crate) fn guarded<T>(path: &Path, format: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was_guarded = GUARDED.with(|g| g.replace(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(read));
    GUARDED.with(|g| g.set(was_guarded));
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".to_string());
            Err(Error::Format {
                path: path.display().to_string(),
                format: format.to_string(),
                message: format!(
                    "the reader failed on this file ({reason}); it is probably corrupt or truncated"
                ),
            })
        }
    }
}
