//! Reading the data of a scan: a file (read as the CLI reads it) or Arrow
//! batches handed over by the C stream interface, plus the views and
//! phrase vocabularies the config names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, RecordBatchReader};
use arrow::ffi_stream::ArrowArrayStreamReader;
use slicescope_core::phrases::Vocabulary;
use slicescope_core::scan::{self, View};
use slicescope_core::{Config, Error, Frame, Result};
use slicescope_io::{
    batches_to_frame, read_matrix, read_table, read_vocabulary, schema_columns, table_columns,
    ReadOptions,
};

/// The data of a scan, or of `Slice.contains`.
pub enum Data {
    /// A file, read with `opts`.
    Path {
        /// The file.
        path: PathBuf,
        /// How to read it (from `[input]`).
        opts: ReadOptions,
    },
    /// An Arrow stream (pyarrow, polars, pandas through pyarrow...).
    Stream {
        /// The batches.
        reader: ArrowArrayStreamReader,
        /// What the data is, for messages ("pandas DataFrame").
        name: String,
    },
}

impl Data {
    /// The columns and their kinds.
    pub fn columns(&self) -> Result<Vec<(String, String)>> {
        match self {
            Data::Path { path, opts } => table_columns(path, opts),
            Data::Stream { reader, .. } => Ok(schema_columns(&reader.schema())),
        }
    }

    /// Read `columns` (those present; the core names missing ones with
    /// their role).
    pub fn read(self, columns: &[String], all_names: &[String]) -> Result<Frame> {
        Ok(self.read_keeping(columns, all_names, &[])?.0)
    }

    /// Read `columns`, and for in-memory data also keep the Arrow arrays of
    /// the `keep` columns as they stream past (the report's image and text
    /// columns: shared with the caller's data, not copied), since the
    /// stream cannot be read again once the example rows are known.
    pub fn read_keeping(
        self,
        columns: &[String],
        all_names: &[String],
        keep: &[String],
    ) -> Result<(Frame, BTreeMap<String, Vec<ArrayRef>>)> {
        let present: Vec<String> = columns
            .iter()
            .filter(|c| all_names.contains(c))
            .cloned()
            .collect();
        let mut kept: BTreeMap<String, Vec<ArrayRef>> = BTreeMap::new();
        let mut frame = match self {
            Data::Path { path, opts } => read_table(
                &path,
                &ReadOptions {
                    columns: Some(present),
                    ..opts
                },
            )?,
            Data::Stream { reader, name } => {
                let schema = reader.schema();
                let keep: Vec<(&String, usize)> = keep
                    .iter()
                    .filter_map(|c| schema.index_of(c).ok().map(|i| (c, i)))
                    .collect();
                let batches = reader.inspect(|batch| {
                    if let Ok(batch) = batch {
                        for &(c, i) in &keep {
                            if let Some(a) = batch.columns().get(i) {
                                kept.entry(c.clone()).or_default().push(a.clone());
                            }
                        }
                    }
                });
                batches_to_frame(&schema, batches, Some(&present), &name)?
            }
        };
        frame.set_source_columns(all_names.to_vec());
        Ok((frame, kept))
    }
}

/// What a scan reads (numpy views borrowed for `'a`).
pub struct Loaded<'a> {
    /// The table's needed columns (view columns moved out).
    pub frame: Frame,
    /// The resolved attribute columns.
    pub attributes: Vec<String>,
    /// Every view, in the order the scan takes them.
    pub views: Vec<View<'a>>,
    /// Phrase vocabularies by view.
    pub vocabularies: BTreeMap<String, Vocabulary>,
    /// Names of the views that came from numpy arrays.
    pub numpy_views: Vec<String>,
    /// In-memory data: the Arrow arrays of the report's image and text
    /// columns, by column (one array per batch).
    pub cells: BTreeMap<String, Vec<ArrayRef>>,
}

/// Read what the scan needs. `config` is the scan's config (numpy views
/// listed in `columns.views` under their description); `numpy` are those
/// views (borrowed or converted, see [`crate::views`]).
///
/// As the CLI: columns of the data views first (in name order), then the
/// file and numpy views together in name order, so that a numpy array in
/// place of a `.npy` file gives the same result.
pub fn load<'a>(data: Data, config: &Config, numpy: Vec<View<'a>>) -> Result<Loaded<'a>> {
    let numpy_names: Vec<String> = numpy.iter().map(|v| v.name.clone()).collect();
    // The config without the numpy views: what is read from the data.
    let mut column_config = config.clone();
    column_config
        .columns
        .views
        .retain(|name, _| !numpy_names.contains(name));
    let schema = data.columns()?;
    let names: Vec<String> = schema.iter().map(|(n, _)| n.clone()).collect();
    check_report_columns(config, &names)?;
    let attributes = scan::resolve_attributes(config, &schema)?;
    let needed = scan::needed_columns(&column_config, &attributes);
    // In-memory data is not at hand when the report is written: the
    // arrays of its image and text columns are kept while reading.
    let keep: Vec<String> = match data {
        Data::Stream { .. } => [&config.columns.image, &config.columns.text]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        Data::Path { .. } => Vec::new(),
    };
    let (mut frame, cells) = data.read_keeping(&needed, &names, &keep)?;
    let mut views = scan::views_from_frame(&mut frame, &column_config)?;
    let mut others: Vec<View<'a>> = numpy;
    for (name, src) in &column_config.columns.views {
        if scan::is_matrix_file(src) {
            let (path, key) = split_npz_key(src);
            let m = read_matrix(Path::new(path), key).map_err(|e| context(e, name))?;
            others.push(View::owned(name.clone(), src.clone(), m.values, m.cols));
        }
    }
    others.sort_by(|a, b| a.name.cmp(&b.name));
    views.extend(others);
    let mut vocabularies = BTreeMap::new();
    for (view, file) in &config.views.vocab {
        let v = read_vocabulary(Path::new(file))?;
        let vocab = Vocabulary::new(v.phrases, v.embeddings, v.dim)?;
        vocabularies.insert(view.clone(), vocab);
    }
    Ok(Loaded {
        frame,
        attributes,
        views,
        vocabularies,
        numpy_views: numpy_names,
        cells,
    })
}

/// A view file's error, saying which view it is for (as the CLI's
/// "reading view 'x'" context).
fn context(err: Error, view: &str) -> Error {
    match err {
        Error::Io { path, message } => Error::Io {
            path,
            message: format!("{message} (reading view '{view}')"),
        },
        Error::Format {
            path,
            format,
            message,
        } => Error::Format {
            path,
            format,
            message: format!("{message} (reading view '{view}')"),
        },
        other => other,
    }
}

/// Fail before any work when the report's image or text column is not in
/// the data (as the CLI's `report::check_columns`).
fn check_report_columns(config: &Config, names: &[String]) -> Result<()> {
    let c = &config.columns;
    for (col, role) in [(&c.image, "image"), (&c.text, "text")] {
        if let Some(col) = col {
            if !names.contains(col) {
                return Err(Error::column_not_found(
                    col,
                    format!("report {role}"),
                    names,
                ));
            }
        }
    }
    Ok(())
}

/// `file.npz:key` → (`file.npz`, Some(`key`)).
pub fn split_npz_key(src: &str) -> (&str, Option<&str>) {
    let lower = src.to_ascii_lowercase();
    if let Some(pos) = lower.find(".npz:") {
        let (p, k) = src.split_at(pos + 4);
        (p, Some(&k[1..]))
    } else {
        (src, None)
    }
}
