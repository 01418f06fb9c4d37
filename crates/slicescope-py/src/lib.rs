//! Python bindings of slicescope: the extension module `slicescope._core`.
//!
//! Internal sub-crate of slicescope; Python users import `slicescope`
//! (python/slicescope), whose thin layer coerces inputs (pandas through
//! pyarrow, keyword arguments into the config) and calls this module.
//!
//! * Data crosses by the Arrow C stream interface (`__arrow_c_stream__`,
//!   arrow-rs's `arrow-pyarrow`) and is converted to a [`Frame`] batch by
//!   batch, only the needed columns; a path is read natively, as the CLI
//!   reads it.
//! * Numpy views are borrowed without a copy when float32 and C-ordered,
//!   converted once otherwise (see [`views`]).
//! * The work runs without the GIL and stops on Ctrl-C (see [`run`]).
//! * Errors are exceptions of one small hierarchy (see [`errors`]).

mod config;
mod errors;
mod input;
mod result;
mod run;
mod views;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::FromPyArrow;
use pyo3::prelude::*;
use pyo3::types::PyString;
use slicescope_core::scan::View;
use slicescope_core::{Config, Frame};

use crate::errors::IntoPy;
use crate::input::Data;
use crate::result::{PyScanResult, Source, StoredView};

/// `data` as the Python layer passes it: a path (str) or an object with
/// `__arrow_c_stream__` (or a pyarrow `RecordBatchReader`).
pub(crate) fn data_from_py(
    data: &Bound<'_, PyAny>,
    config: &Config,
    name: String,
) -> PyResult<Data> {
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(Data::Path {
            path: PathBuf::from(s.to_str()?),
            opts: config::read_options(config).py()?,
        });
    }
    let reader = ArrowArrayStreamReader::from_pyarrow_bound(data)?;
    Ok(Data::Stream { reader, name })
}

/// Scan `data` (a path or an Arrow stream) with the config `config_json`
/// (a `slicescope.toml` as JSON); `views` are numpy views by name. With
/// `progress`, the scan's progress is shown on `sys.stderr`.
#[pyfunction]
#[pyo3(signature = (data, config_json, views, *, name, command, progress=false))]
fn scan(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    config_json: &str,
    views: Vec<(String, Bound<'_, PyAny>)>,
    name: String,
    command: String,
    progress: bool,
) -> PyResult<PyScanResult> {
    let t0 = Instant::now();
    let mut config = config::from_json(config_json).py()?;
    // The report and `Slice.members` need the members; the JSON leaves
    // them out when the config says so.
    let json_members = config.output.members;
    config.output.members = true;
    // The arrays' values, held (borrowed or converted) until the scan is
    // over: see `views` for why a borrowed buffer cannot change meanwhile.
    let mut held = Vec::with_capacity(views.len());
    let mut stored_numpy = Vec::with_capacity(views.len());
    for (view_name, array) in &views {
        let h = views::hold(py, view_name, array)?;
        config
            .columns
            .views
            .insert(view_name.clone(), h.source.clone());
        held.push((view_name.clone(), h));
        stored_numpy.push(StoredView::Numpy {
            name: view_name.clone(),
            array: array.clone().unbind(),
        });
    }
    let numpy: Vec<View<'_>> = held.iter().map(|(n, h)| h.view(n)).collect();
    let data = data_from_py(data, &config, name)?;
    let source = match &data {
        Data::Path { path, opts } => Source::Path {
            path: path.clone(),
            opts: opts.clone(),
        },
        Data::Stream { name, .. } => Source::Memory { name: name.clone() },
    };
    let input_path = match &source {
        Source::Path { path, .. } => Some(path.display().to_string()),
        Source::Memory { .. } => None,
    };
    let cfg = &config;
    let outcome = run::interruptible(py, progress, move |watch| {
        let loaded = input::load(data, cfg, numpy)?;
        let load_seconds = t0.elapsed().as_secs_f64();
        let mut result = slicescope_core::scan::scan(
            &loaded.frame,
            &loaded.attributes,
            &loaded.views,
            &loaded.vocabularies,
            cfg,
            input_path,
            watch,
        )?;
        result.timing.load_seconds = load_seconds;
        result.timing.total_seconds = t0.elapsed().as_secs_f64();
        let examples = result::example_values(&result, cfg, &loaded.frame, &loaded.cells)?;
        drop(loaded.cells);
        let frame: Frame = loaded.frame;
        drop(frame);
        // The views read from the data or files (owned) stay with the
        // result; the numpy ones are the caller's arrays.
        let kept: Vec<View<'static>> = loaded
            .views
            .into_iter()
            .filter(|v| !loaded.numpy_views.contains(&v.name))
            .map(|v| View {
                name: v.name,
                source: v.source,
                values: std::borrow::Cow::Owned(v.values.into_owned()),
                dim: v.dim,
            })
            .collect();
        Ok::<_, slicescope_core::Error>((result, kept, examples))
    })?;
    let (result, kept, examples) = outcome.py()?;
    // The views in the scan's order.
    let order: Vec<String> = result.views.iter().map(|v| v.name.clone()).collect();
    let mut stored: BTreeMap<String, StoredView> = kept
        .into_iter()
        .map(|v| (v.name.clone(), StoredView::Owned(v)))
        .collect();
    for s in stored_numpy {
        if let StoredView::Numpy { name, .. } = &s {
            stored.insert(name.clone(), s);
        }
    }
    let views: Vec<StoredView> = order.iter().filter_map(|n| stored.remove(n)).collect();
    Ok(PyScanResult {
        result: Mutex::new(result),
        config,
        json_members,
        views,
        examples,
        source,
        command,
        projections: Mutex::new(BTreeMap::new()),
    })
}

/// A `slicescope.toml` file as JSON (a dict for the Python layer).
#[pyfunction]
fn config_from_toml(path: &str) -> PyResult<String> {
    config::toml_file_to_json(path).py()
}

/// The default configuration as JSON.
#[pyfunction]
fn default_config() -> PyResult<String> {
    serde_json::to_string(&Config::default())
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(config_from_toml, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add_class::<PyScanResult>()?;
    errors::register(m)?;
    Ok(())
}
