//! The configuration as the Python layer hands it over: the JSON of a dict
//! shaped like `slicescope.toml` (keyword arguments already merged in).

use serde_json::Value;
use slicescope_core::{Config, Error, Result};
use slicescope_io::{CsvType, Format, ReadOptions};

/// Parse the JSON of a config dict. Unknown keys are errors that name the
/// section and suggest the closest key, as for `slicescope.toml`.
pub fn from_json(text: &str) -> Result<Config> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::param("config", format!("not valid JSON: {e}")))?;
    let Value::Object(sections) = &value else {
        return Err(Error::param("config", "must be a dict of sections"));
    };
    // Each section on its own first, so that an error can name it.
    for (name, section) in sections {
        let one = Value::Object([(name.clone(), section.clone())].into_iter().collect());
        if let Err(e) = serde_json::from_value::<Config>(one) {
            let what = if SECTIONS.contains(&name.as_str()) {
                format!("config['{name}']")
            } else {
                "config".to_string()
            };
            return Err(Error::param(what, explain(&e.to_string())));
        }
    }
    serde_json::from_value(value).map_err(|e| Error::param("config", explain(&e.to_string())))
}

/// Keys of the config whose value is a table (the others are plain values).
const SECTIONS: &[&str] = &[
    "input",
    "columns",
    "lattice",
    "binning",
    "views",
    "mixture",
    "spotlight",
    "direction",
    "output",
    "testing",
    "describe",
    "diagnose",
];

/// serde's message without its position in the synthetic JSON text, with
/// a suggestion for an unknown key.
fn explain(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let options: Vec<String> = expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect();
            if let Some(best) = slicescope_core::error::near_matches(field, &options).first() {
                return format!("{msg}; did you mean `{best}`?");
            }
        }
    }
    msg.to_string()
}

/// A `slicescope.toml` file as JSON (for the Python layer to merge keyword
/// arguments into).
pub fn toml_file_to_json(path: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_string(),
        message: format!("cannot read the config file: {e}"),
    })?;
    let config = Config::from_toml(&text, path)?;
    serde_json::to_string(&config)
        .map_err(|e| Error::InvalidInput(format!("serialising the config: {e}")))
}

/// Reader options from the `[input]` settings (as the CLI's
/// `ScanArgs::read_options`).
pub fn read_options(config: &Config) -> Result<ReadOptions> {
    let mut opts = ReadOptions::default();
    if let Some(f) = &config.input.format {
        opts.format = Some(match f.as_str() {
            "parquet" => Format::Parquet,
            "arrow" | "ipc" | "feather" => Format::ArrowIpcFile,
            "arrow-stream" => Format::ArrowIpcStream,
            "csv" => Format::Csv,
            other => {
                return Err(Error::param(
                    "input.format",
                    format!("'{other}' is not one of parquet, arrow, arrow-stream, csv"),
                ))
            }
        });
    }
    if let Some(d) = &config.input.delimiter {
        let d = if d == "\\t" { "\t" } else { d.as_str() };
        if d.len() != 1 {
            return Err(Error::param(
                "input.delimiter",
                format!("the CSV delimiter must be one character, got '{d}'"),
            ));
        }
        opts.csv.delimiter = Some(d.as_bytes()[0]);
    }
    for (col, ty) in &config.input.csv_types {
        let t: CsvType = ty
            .parse()
            .map_err(|e: Error| Error::param(format!("input.csv_types.{col}"), e.to_string()))?;
        opts.csv.types.insert(col.clone(), t);
    }
    Ok(opts)
}
