//! `slicescope._core.ScanResult`: the scan's result with what its methods
//! need (the views for the report's maps and for applying embedding
//! slices, the example rows' values, where the data came from).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arrow::array::ArrayRef;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyIndexError, PyRuntimeError};
use pyo3::prelude::*;
use slicescope_core::scan::{ScanResult, View};
use slicescope_core::slicers::Labels;
use slicescope_core::views::{prepare_view, ViewParams};
use slicescope_core::workflow::apply::{apply_definitions, label_codes, predicate_rows, ViewRows};
use slicescope_core::workflow::file::{needs_labels, SavedView};
use slicescope_core::workflow::rows::RowSet;
use slicescope_core::{ColumnData, Config, Error, Frame};
use slicescope_io::{array_cells, read_cells, Cell, ReadOptions};
use slicescope_report::{ExampleRow, ImageSource, Limits, MapView, Meta};

use crate::errors::{to_py, IntoPy};
use crate::input::Data;
use crate::views::{hold, Held};

/// Where the scanned data came from.
pub enum Source {
    /// A file.
    Path {
        /// The file.
        path: PathBuf,
        /// How it was read.
        opts: ReadOptions,
    },
    /// Data in memory, e.g. "pandas DataFrame".
    Memory {
        /// What it was.
        name: String,
    },
}

impl Source {
    /// How the data is named in the summary and the report.
    pub fn label(&self) -> String {
        match self {
            Source::Path { path, .. } => path.display().to_string(),
            Source::Memory { name } => name.clone(),
        }
    }
}

/// A view as the result keeps it.
pub enum StoredView {
    /// Values read from the data or a file (owned).
    Owned(View<'static>),
    /// A numpy array the caller passed (referenced, not copied).
    Numpy {
        /// The view's name.
        name: String,
        /// The array.
        array: Py<PyAny>,
    },
}

impl StoredView {
    fn name(&self) -> &str {
        match self {
            StoredView::Owned(v) => &v.name,
            StoredView::Numpy { name, .. } => name,
        }
    }
}

/// The result of `slicescope._core.scan`.
#[pyclass(name = "ScanResult", module = "slicescope._core", frozen)]
pub struct PyScanResult {
    /// The result, members included (behind a lock: `to_json` without
    /// members takes them out while it writes).
    pub result: Mutex<ScanResult>,
    /// The config the scan ran with.
    pub config: Config,
    /// Whether the JSON includes members by default (`output.members`).
    pub json_members: bool,
    /// The views, in the scan's order.
    pub views: Vec<StoredView>,
    /// Label, prediction, display (and, for in-memory data, text and image
    /// path) values of the example rows.
    pub examples: BTreeMap<u32, ExampleRow>,
    /// Where the data came from.
    pub source: Source,
    /// The call that made the result, for the report.
    pub command: String,
    /// Each view's preprocessing, computed on first use.
    pub projections: Mutex<BTreeMap<String, Arc<SavedView>>>,
}

/// A view's values for the time of one call.
enum ViewValues<'a, 'py> {
    /// Kept in the result.
    Stored(&'a View<'static>),
    /// The caller's array.
    Numpy(Held<'py>),
}

impl ViewValues<'_, '_> {
    fn values(&self) -> &[f32] {
        match self {
            ViewValues::Stored(v) => &v.values,
            ViewValues::Numpy(h) => h.values(),
        }
    }

    fn dim(&self) -> usize {
        match self {
            ViewValues::Stored(v) => v.dim,
            ViewValues::Numpy(h) => h.dim,
        }
    }
}

fn poisoned<T>(_: T) -> PyErr {
    PyRuntimeError::new_err("the result is unusable after an earlier failure")
}

impl PyScanResult {
    fn lock(&self) -> PyResult<MutexGuard<'_, ScanResult>> {
        self.result.lock().map_err(poisoned)
    }

    /// The values of view `name`: the result's own, or the caller's array
    /// (borrowed again, or converted, for the time of the call).
    fn view_values<'a, 'py>(
        &'a self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<ViewValues<'a, 'py>> {
        let stored = self
            .views
            .iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| to_py(Error::param("view", format!("no view named '{name}'"))))?;
        Ok(match stored {
            StoredView::Owned(v) => ViewValues::Stored(v),
            StoredView::Numpy { name, array } => ViewValues::Numpy(hold(py, name, array.bind(py))?),
        })
    }

    /// The preprocessing of view `name` (the scan's PCA, recomputed once:
    /// it is deterministic), as a slice file saves it.
    fn projection(&self, py: Python<'_>, name: &str) -> PyResult<Arc<SavedView>> {
        if let Some(p) = self.projections.lock().map_err(poisoned)?.get(name) {
            return Ok(p.clone());
        }
        let view = self.view_values(py, name)?;
        let (values, dim) = (view.values(), view.dim());
        let params = ViewParams {
            max_dim: self.config.views.max_dim,
            normalize: self.config.views.normalize.iter().any(|v| v == name),
        };
        let source = self
            .lock()?
            .views
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.source.clone())
            .unwrap_or_default();
        let reduced = py
            .detach(|| prepare_view(name, &source, values, dim, &params))
            .py()?;
        let is_column = self
            .views
            .iter()
            .any(|v| matches!(v, StoredView::Owned(o) if o.name == name))
            && self
                .config
                .columns
                .views
                .get(name)
                .is_some_and(|src| !slicescope_core::scan::is_matrix_file(src));
        let p = Arc::new(SavedView::from_reduced(&reduced, is_column));
        self.projections
            .lock()
            .map_err(poisoned)?
            .insert(name.to_string(), p.clone());
        Ok(p)
    }
}

#[pymethods]
impl PyScanResult {
    /// The result as the JSON document `slicescope scan --json` writes
    /// (schema docs/slicescope-result.schema.json).
    #[pyo3(signature = (members=None, indent=true))]
    fn to_json(&self, py: Python<'_>, members: Option<bool>, indent: bool) -> PyResult<String> {
        let members = members.unwrap_or(self.json_members);
        let mut r = self.lock()?;
        let taken: Vec<Option<Vec<u32>>> = if members {
            Vec::new()
        } else {
            r.slices.iter_mut().map(|s| s.members.take()).collect()
        };
        let text = py.detach(|| {
            if indent {
                serde_json::to_string_pretty(&*r)
            } else {
                serde_json::to_string(&*r)
            }
        });
        for (s, m) in r.slices.iter_mut().zip(taken) {
            s.members = m;
        }
        text.map_err(|e| PyRuntimeError::new_err(format!("serialising the result: {e}")))
    }

    /// The summary `slicescope scan` prints.
    #[pyo3(signature = (top=None))]
    fn summary(&self, top: Option<usize>) -> PyResult<String> {
        let r = self.lock()?;
        Ok(slicescope_report::summary(
            &r,
            &self.source.label(),
            top.unwrap_or(self.config.output.top),
        ))
    }

    /// The Markdown summary `slicescope scan --markdown` writes.
    #[pyo3(signature = (top=None, title=None, run_name=None))]
    fn markdown(
        &self,
        top: Option<usize>,
        title: Option<String>,
        run_name: Option<String>,
    ) -> PyResult<String> {
        let r = self.lock()?;
        let meta = self.meta(&r, title, run_name);
        Ok(slicescope_report::markdown(
            &r,
            &meta,
            top.unwrap_or(self.config.output.top),
        ))
    }

    /// The raised diagnosis flags of each slice ("label-noise",
    /// "shortcut", "under-covered").
    fn raised_flags(&self) -> PyResult<Vec<Vec<String>>> {
        let r = self.lock()?;
        Ok(r.slices
            .iter()
            .map(|s| {
                s.explanation
                    .as_ref()
                    .map(|e| e.flags.raised().iter().map(|f| f.to_string()).collect())
                    .unwrap_or_default()
            })
            .collect())
    }

    /// Member rows of slice `index` (0-based rows, most typical first).
    fn members<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let r = self.lock()?;
        let s = r
            .slices
            .get(index)
            .ok_or_else(|| PyIndexError::new_err(format!("no slice at index {index}")))?;
        let members = s.members.clone().unwrap_or_default();
        Ok(members.into_pyarray(py))
    }

    /// Per-row membership scores, rows × slices (as `--membership`).
    fn membership<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let r = self.lock()?;
        let (n, k) = (r.input.n_rows, r.membership.len());
        let mut out = vec![0f32; n * k];
        for (j, col) in r.membership.iter().enumerate() {
            for (i, &v) in col.iter().take(n).enumerate() {
                out[i * k + j] = v;
            }
        }
        let a = Array2::from_shape_vec((n, k), out)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py))
    }

    /// Each row's error as the scan derived it (0/1, or the loss).
    fn row_errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let r = self.lock()?;
        Ok(r.row_errors.clone().into_pyarray(py))
    }

    /// Which rows of new data slice `index` selects (see `Slice.contains`).
    #[pyo3(signature = (index, data, name, views))]
    fn contains<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        data: Option<&Bound<'py, PyAny>>,
        name: String,
        views: Vec<(String, Bound<'py, PyAny>)>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let (rule, definition, view, id) = {
            let r = self.lock()?;
            let s = r
                .slices
                .get(index)
                .ok_or_else(|| PyIndexError::new_err(format!("no slice at index {index}")))?;
            (
                s.rule.clone(),
                s.definition.clone(),
                s.view.clone(),
                s.id.clone(),
            )
        };
        let data = match data {
            Some(d) => Some(crate::data_from_py(d, &self.config, name)?),
            None => None,
        };
        let no_data = |what: &str| {
            to_py(Error::param(
                "data",
                format!("slice {id} is defined by {what}: pass the new rows as data"),
            ))
        };
        let mask = if let Some(rule) = rule {
            let data = data.ok_or_else(|| no_data("an attribute rule"))?;
            let cols: Vec<String> = rule
                .predicates
                .iter()
                .map(|p| p.column().to_string())
                .collect();
            py.detach(|| -> slicescope_core::Result<Vec<bool>> {
                let frame = read_for_contains(data, &cols)?;
                let n = frame.n_rows();
                let mut rows = RowSet::full(n);
                for p in &rule.predicates {
                    let col = frame.require(p.column(), "rule")?;
                    rows.intersect_with(&predicate_rows(p, col)?);
                }
                Ok(mask_of(&rows, n))
            })
            .py()?
        } else if let (Some(def), Some(view)) = (definition, view) {
            // The new rows' embeddings: an array passed for the view, or
            // the view's column in the new data.
            let given = views.iter().find(|(n, _)| *n == view);
            let from_array = self
                .views
                .iter()
                .any(|v| matches!(v, StoredView::Numpy { name, .. } if *name == view));
            let column = self
                .config
                .columns
                .views
                .get(&view)
                .filter(|src| !from_array && !slicescope_core::scan::is_matrix_file(src))
                .filter(|_| given.is_none())
                .cloned();
            let label = needs_labels(&def)
                .then(|| self.config.columns.label.clone())
                .flatten();
            let mut wanted: Vec<String> = column.iter().cloned().collect();
            wanted.extend(label.iter().cloned());
            let given_held = match given {
                Some((n, a)) => Some(hold(py, n, a)?),
                None => None,
            };
            let values: Option<(&[f32], usize)> = given_held.as_ref().map(|h| (h.values(), h.dim));
            if values.is_none() && column.is_none() {
                return Err(to_py(Error::param(
                    "views",
                    format!(
                        "slice {id} was found in view '{view}', which came from an array or a file: pass the new rows' embeddings as views={{'{view}': array}}"
                    ),
                )));
            }
            if needs_labels(&def) && label.is_none() {
                return Err(to_py(Error::param(
                    "label",
                    format!("slice {id} depends on the label, and the scan had no label column"),
                )));
            }
            let projection = self.projection(py, &view)?;
            py.detach(move || -> slicescope_core::Result<Vec<bool>> {
                let mut frame = if wanted.is_empty() {
                    None
                } else {
                    let d = data.ok_or_else(|| {
                        Error::param(
                            "data",
                            format!(
                                "slice {id} needs column(s) {} of the new rows: pass them as data",
                                wanted.join(", ")
                            ),
                        )
                    })?;
                    Some(read_for_contains(d, &wanted)?)
                };
                let (values, dim): (Cow<'_, [f32]>, usize) = match (values, &column, frame.as_mut()) {
                    (Some((v, d)), _, _) => (Cow::Borrowed(v), d),
                    (None, Some(col), Some(f)) => {
                        let (v, d) = vector_column(f, col, &view)?;
                        (Cow::Owned(v), d)
                    }
                    _ => {
                        return Err(Error::InvalidInput(format!(
                            "the new rows of view '{view}' were not given"
                        )))
                    }
                };
                if dim != projection.dim_in {
                    return Err(Error::ShapeMismatch(format!(
                        "the new rows of view '{view}' have {dim} dimensions but the scanned view has {}",
                        projection.dim_in
                    )));
                }
                let rows = ViewRows {
                    values: &values,
                    dim,
                    source: "the new rows",
                };
                let n = values.len() / dim.max(1);
                let codes = match (&label, &frame) {
                    (Some(l), Some(f)) => {
                        let col = f.require(l, "label")?;
                        if col.data.len() != n {
                            return Err(Error::ShapeMismatch(format!(
                                "the new rows have {} labels but {n} rows of view '{view}'",
                                col.data.len(),
                            )));
                        }
                        Some(label_codes(col)?)
                    }
                    _ => None,
                };
                let labels = codes.as_ref().map(|(names, label)| Labels { names, label });
                let sets = apply_definitions(&projection, &rows, &[&def], labels)?;
                Ok(sets.first().map_or_else(|| vec![false; n], |s| mask_of(s, n)))
            })
            .py()?
        } else {
            return Err(to_py(Error::param(
                "slice",
                format!(
                    "slice {id} has neither an attribute rule nor an embedding definition to apply"
                ),
            )));
        };
        Ok(PyArray1::from_vec(py, mask))
    }

    /// The self-contained HTML report (as `slicescope scan --report`):
    /// written to `path` (replacing it atomically) or returned when `path`
    /// is None.
    #[pyo3(signature = (path=None, title=None, run_name=None))]
    fn report(
        &self,
        py: Python<'_>,
        path: Option<PathBuf>,
        title: Option<String>,
        run_name: Option<String>,
    ) -> PyResult<Option<String>> {
        let mut held = Vec::with_capacity(self.views.len());
        for v in &self.views {
            held.push((v.name(), self.view_values(py, v.name())?));
        }
        let values: Vec<(&str, &[f32], usize)> = held
            .iter()
            .map(|(name, v)| (*name, v.values(), v.dim()))
            .collect();
        let r = self.lock()?;
        let meta = self.meta(&r, title, run_name);
        let page = py
            .detach(|| -> slicescope_core::Result<String> {
                let rows = slicescope_report::example_rows(&r);
                let examples = self.examples_with_cells(&rows)?;
                let maps: Vec<MapView<'_>> = values
                    .iter()
                    .map(|&(name, values, dim)| MapView {
                        name,
                        values,
                        dim,
                        normalize: self.config.views.normalize.iter().any(|n| n == name),
                    })
                    .collect();
                let data = slicescope_report::report_data(
                    &r,
                    &meta,
                    &maps,
                    &examples,
                    &Limits::default(),
                    self.config.seed,
                )?;
                slicescope_report::html(&data)
            })
            .py()?;
        match path {
            None => Ok(Some(page)),
            Some(p) => {
                py.detach(|| write_atomic(&p, page.as_bytes())).py()?;
                Ok(None)
            }
        }
    }

    fn __repr__(&self) -> PyResult<String> {
        let r = self.lock()?;
        Ok(format!(
            "<slicescope._core.ScanResult: {} slices over {} rows of {}>",
            r.slices.len(),
            r.input.n_rows,
            self.source.label()
        ))
    }
}

impl PyScanResult {
    fn meta(&self, r: &ScanResult, title: Option<String>, run_name: Option<String>) -> Meta {
        let title = title
            .or_else(|| self.config.output.title.clone())
            .unwrap_or_else(|| match &self.source {
                Source::Path { path, .. } => path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                Source::Memory { name } => name.clone(),
            });
        Meta {
            title,
            run_name: run_name.or_else(|| self.config.output.run_name.clone()),
            command: self.command.clone(),
            generated_at: slicescope_report::rfc3339_utc(SystemTime::now()),
            duration_seconds: r.timing.total_seconds,
        }
    }

    /// The example rows with their images and texts, read from the file
    /// for file data (as the CLI does; in-memory data had them read with
    /// the table).
    fn examples_with_cells(
        &self,
        rows: &[u32],
    ) -> slicescope_core::Result<BTreeMap<u32, ExampleRow>> {
        let mut out = self.examples.clone();
        let Source::Path { path, opts } = &self.source else {
            return Ok(out);
        };
        let c = &self.config.columns;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(col) = &c.image {
            for (row, cell) in read_cells(path, col, rows, opts)? {
                let image = match cell {
                    Cell::Bytes(b) => Some(ImageSource::Bytes(b)),
                    Cell::Text(p) => Some(ImageSource::Path(resolve(&base, &p))),
                    Cell::Null => None,
                };
                out.entry(row).or_default().image = image;
            }
        }
        if let Some(col) = &c.text {
            for (row, cell) in read_cells(path, col, rows, opts)? {
                let text = match cell {
                    Cell::Text(t) => Some(t),
                    Cell::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    Cell::Null => None,
                };
                out.entry(row).or_default().text = text;
            }
        }
        Ok(out)
    }
}

/// A row set as a mask over `n` rows.
fn mask_of(rows: &RowSet, n: usize) -> Vec<bool> {
    (0..n).map(|r| rows.contains(r)).collect()
}

/// The values of view `view`'s column `col` in new rows.
fn vector_column(
    frame: &mut Frame,
    col: &str,
    view: &str,
) -> slicescope_core::Result<(Vec<f32>, usize)> {
    match frame.take_column(col).map(|c| c.data) {
        Some(ColumnData::Vector {
            values,
            dim,
            null_rows,
        }) => {
            if null_rows.is_empty() {
                Ok((values, dim))
            } else {
                Err(Error::InvalidInput(format!(
                    "view '{view}' (column '{col}') is null in {} of the new rows",
                    null_rows.len()
                )))
            }
        }
        Some(other) => Err(Error::InvalidInput(format!(
            "column '{col}' of the new rows is a {} column; view '{view}' needs a list-of-floats column",
            other.kind()
        ))),
        None => Err(Error::InvalidInput(format!(
            "column '{col}' is missing from the new rows"
        ))),
    }
}

/// Read `columns` of new data for `contains`.
fn read_for_contains(data: Data, columns: &[String]) -> slicescope_core::Result<Frame> {
    let names: Vec<String> = data.columns()?.into_iter().map(|(n, _)| n).collect();
    for c in columns {
        if !names.contains(c) {
            return Err(Error::column_not_found(c, "slice", &names));
        }
    }
    data.read(columns, &names)
}

/// The values the report shows for the example rows of `result`: label,
/// prediction and display columns from the scanned frame; for in-memory
/// data also the images and texts, from the arrays of those columns kept
/// while reading (`cells`; file data has them read from the file when the
/// report is written). As the CLI: a binary image cell is the encoded
/// image, a string one a path (relative to the working directory here).
pub fn example_values(
    result: &ScanResult,
    config: &Config,
    frame: &Frame,
    cells: &BTreeMap<String, Vec<ArrayRef>>,
) -> slicescope_core::Result<BTreeMap<u32, ExampleRow>> {
    let c = &config.columns;
    let text_of = |col: &Option<String>, row: u32| {
        col.as_ref()
            .and_then(|name| frame.column(name))
            .and_then(|column| column.data.text(row as usize))
    };
    let rows = slicescope_report::example_rows(result);
    let cells_of = |col: &Option<String>| -> slicescope_core::Result<BTreeMap<u32, Cell>> {
        match col
            .as_ref()
            .and_then(|name| cells.get(name).map(|a| (name, a)))
        {
            Some((name, arrays)) => array_cells(arrays, name, &rows),
            None => Ok(BTreeMap::new()),
        }
    };
    let mut images = cells_of(&c.image)?;
    let mut texts = cells_of(&c.text)?;
    let mut out = BTreeMap::new();
    for &row in &rows {
        let display = c
            .display
            .iter()
            .filter_map(|d| text_of(&Some(d.clone()), row).map(|v| (d.clone(), v)))
            .collect();
        let image = match images.remove(&row) {
            Some(Cell::Bytes(b)) => Some(ImageSource::Bytes(b)),
            Some(Cell::Text(p)) => Some(ImageSource::Path(PathBuf::from(p))),
            _ => None,
        };
        let text = match texts.remove(&row) {
            Some(Cell::Text(t)) => Some(t),
            Some(Cell::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        };
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

/// Write `bytes` to `path` atomically: a temporary file in the same
/// folder, synced, then renamed over the target.
fn write_atomic(path: &Path, bytes: &[u8]) -> slicescope_core::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: format!("cannot write the report: {e}"),
    })
}
