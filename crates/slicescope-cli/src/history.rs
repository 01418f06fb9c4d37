//! Run history: every `scan`, `apply` and `compare` recorded in an SQLite
//! store (by default `.slicescope/history.db` next to the data file), and
//! `slicescope history` to list runs and follow one slice through them.
//!
//! * **Where**: `--history FILE`, else the environment variable
//!   `SLICESCOPE_HISTORY` (a path, or `off`), else
//!   `<the data file's folder>/.slicescope/history.db`. `--no-history` (or
//!   `SLICESCOPE_HISTORY=off`) records nothing.
//! * **Atomic**: a run is one transaction (the run row and all its slice
//!   rows); an interrupted or crashed process leaves no partial record.
//! * **Concurrent writers**: WAL journal, a 30 s busy timeout, writes
//!   under `BEGIN IMMEDIATE`.
//! * **Versioned schema**: `PRAGMA user_version` is the number of applied
//!   migrations ([`MIGRATIONS`]); opening a store applies the missing ones
//!   in one transaction; a store newer than this build is refused.
//! * A failure to record is a warning: the command's own result and exit
//!   code do not depend on the history.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use slicescope_core::workflow::fnv1a64;

use crate::output;

/// Schema migrations, in order; the store's `user_version` counts those
/// applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs and their slices.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        started_at TEXT NOT NULL,
        duration_seconds REAL,
        tool_version TEXT NOT NULL,
        run_name TEXT,
        model TEXT,
        model_a TEXT,
        data_path TEXT NOT NULL,
        data_fingerprint TEXT,
        inputs TEXT NOT NULL,
        n_rows INTEGER,
        parameters TEXT NOT NULL,
        metric TEXT,
        error_rate REAL,
        error_rate_a REAL,
        slices_file_hash TEXT,
        exit_code INTEGER NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE TABLE run_slices (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        slice_id TEXT NOT NULL,
        slice_key TEXT,
        description TEXT NOT NULL,
        origin TEXT NOT NULL,
        size INTEGER,
        share REAL,
        error_rate REAL,
        ci_low REAL,
        ci_high REAL,
        excess_errors REAL,
        q_value REAL,
        error_rate_a REAL,
        status TEXT,
        PRIMARY KEY (run_id, slice_id)
    );
    CREATE INDEX run_slices_key ON run_slices(slice_key);
    CREATE INDEX runs_started ON runs(started_at);",
];

/// Test hook: abort the process after writing this many slice rows of a
/// run (simulates a crash in the middle of the transaction).
const FAULT_ENV: &str = "SLICESCOPE_FAULT_ABORT_IN_HISTORY_WRITE";

/// One run to record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunRecord {
    pub kind: String,
    pub started_at: String,
    pub duration_seconds: f64,
    pub run_name: Option<String>,
    /// The model's output column (compare: B's).
    pub model: Option<String>,
    /// compare: A's output column.
    pub model_a: Option<String>,
    pub data_path: String,
    pub data_fingerprint: Option<String>,
    /// Fingerprints of the other inputs (config, view files, slice file).
    pub inputs: serde_json::Value,
    pub n_rows: Option<u64>,
    pub parameters: serde_json::Value,
    pub metric: Option<String>,
    pub error_rate: Option<f64>,
    pub error_rate_a: Option<f64>,
    pub slices_file_hash: Option<String>,
    pub exit_code: i32,
    pub summary: serde_json::Value,
    pub slices: Vec<SliceRecord>,
}

/// One slice of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SliceRecord {
    pub slice_id: String,
    /// The slice's definition hash (docs/workflow.md), when known.
    pub slice_key: Option<String>,
    pub description: String,
    /// found (scan), applied (apply), known / new (compare).
    pub origin: String,
    pub size: Option<u64>,
    pub share: Option<f64>,
    pub error_rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub excess_errors: Option<f64>,
    pub q_value: Option<f64>,
    pub error_rate_a: Option<f64>,
    pub status: Option<String>,
}

/// `x` when finite.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The history flags of scan, apply and compare.
#[derive(Args, Debug, Clone, Default)]
pub struct HistoryArgs {
    /// Record the run in this history store [default: $SLICESCOPE_HISTORY, else .slicescope/history.db next to the data].
    #[arg(long, value_name = "FILE", help_heading = "History")]
    pub history: Option<PathBuf>,
    /// Do not record the run.
    #[arg(long, conflicts_with = "history", help_heading = "History")]
    pub no_history: bool,
}

impl HistoryArgs {
    /// Where to record a run on `data`, or None when recording is off.
    pub fn store(&self, data: &Path) -> Option<PathBuf> {
        if self.no_history {
            return None;
        }
        if let Some(p) = &self.history {
            return Some(p.clone());
        }
        match std::env::var("SLICESCOPE_HISTORY") {
            Ok(v) if matches!(v.trim(), "off" | "0" | "false" | "no") => None,
            Ok(v) if !v.trim().is_empty() => Some(PathBuf::from(v.trim())),
            _ => Some(default_store(data)),
        }
    }
}

/// `<folder of data>/.slicescope/history.db` (for a folder: inside it).
pub fn default_store(data: &Path) -> PathBuf {
    let dir = if data.is_dir() {
        data.to_path_buf()
    } else {
        match data.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    dir.join(".slicescope").join("history.db")
}

/// A quick fingerprint of a file: FNV-1a 64 of its length and its first
/// and last MiB (not of all its bytes: cheap on large tables, and any
/// rewrite of a Parquet or Arrow file changes its footer).
pub fn fingerprint(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const PART: u64 = 1 << 20;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut buf = len.to_le_bytes().to_vec();
    let mut head = vec![0u8; PART.min(len) as usize];
    f.read_exact(&mut head).ok()?;
    buf.extend_from_slice(&head);
    if len > PART {
        let start = len.saturating_sub(PART).max(PART);
        f.seek(SeekFrom::Start(start)).ok()?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).ok()?;
        buf.extend_from_slice(&tail);
    }
    Some(format!("fnv1a64:{:016x}", fnv1a64(&buf)))
}

fn open_store(path: &Path, create: bool) -> Result<Connection> {
    if create {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
    } else if !path.is_file() {
        bail!("no history store at {}", path.display());
    }
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let mut conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening the history store {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn user_version(conn: &Connection) -> Result<usize> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// Apply the migrations the store lacks, in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let newer = |v: usize| {
        anyhow::anyhow!(
            "the history store {} has schema version {v}, newer than this slicescope's ({}); upgrade slicescope, or record elsewhere with --history FILE",
            path.display(),
            MIGRATIONS.len()
        )
    };
    let v = user_version(conn)?;
    if v > MIGRATIONS.len() {
        return Err(newer(v));
    }
    if v == MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited.
    let v = user_version(&tx)?;
    if v > MIGRATIONS.len() {
        return Err(newer(v));
    }
    for m in &MIGRATIONS[v..] {
        tx.execute_batch(m)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()?;
    Ok(())
}

/// Record `run` in the store at `path` (created when missing); the run's
/// id.
pub fn record(path: &Path, run: &RunRecord) -> Result<i64> {
    let mut conn = open_store(path, true)?;
    let fault: Option<usize> = std::env::var(FAULT_ENV).ok().and_then(|v| v.parse().ok());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO runs (kind, started_at, duration_seconds, tool_version, run_name, model, model_a,
            data_path, data_fingerprint, inputs, n_rows, parameters, metric, error_rate, error_rate_a,
            slices_file_hash, exit_code, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            run.kind,
            run.started_at,
            run.duration_seconds,
            env!("CARGO_PKG_VERSION"),
            run.run_name,
            run.model,
            run.model_a,
            run.data_path,
            run.data_fingerprint,
            run.inputs.to_string(),
            run.n_rows.map(|n| n as i64),
            run.parameters.to_string(),
            run.metric,
            run.error_rate,
            run.error_rate_a,
            run.slices_file_hash,
            run.exit_code,
            run.summary.to_string(),
        ],
    )?;
    let id = tx.last_insert_rowid();
    {
        let mut st = tx.prepare(
            "INSERT INTO run_slices (run_id, slice_id, slice_key, description, origin, size, share,
                error_rate, ci_low, ci_high, excess_errors, q_value, error_rate_a, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (k, s) in run.slices.iter().enumerate() {
            st.execute(params![
                id,
                s.slice_id,
                s.slice_key,
                s.description,
                s.origin,
                s.size.map(|n| n as i64),
                s.share,
                s.error_rate,
                s.ci_low,
                s.ci_high,
                s.excess_errors,
                s.q_value,
                s.error_rate_a,
                s.status,
            ])?;
            if fault == Some(k + 1) {
                std::process::abort();
            }
        }
    }
    tx.commit()?;
    Ok(id)
}

/// Record `run` when `store` is set; a failure is a warning on stderr.
pub fn record_or_warn(store: Option<&Path>, run: &RunRecord) {
    if let Some(path) = store {
        if let Err(e) = record(path, run) {
            eprintln!(
                "warning: the run was not recorded in the history store {}: {e:#} (--no-history skips recording)",
                path.display()
            );
        }
    }
}

/// The time now, RFC 3339 UTC.
pub fn now() -> String {
    slicescope_report::rfc3339_utc(std::time::SystemTime::now())
}

// ---------------------------------------------------------------------------
// `slicescope history`

#[derive(Args, Debug)]
pub struct HistoryCmdArgs {
    /// A history store (.db), or a data file or folder whose .slicescope/history.db to read [default: the current folder's].
    pub path: Option<PathBuf>,
    /// Follow one slice through the runs: its key (fnv1a64:…, or a prefix of the hex digits), or its exact description.
    #[arg(long, value_name = "KEY|TEXT")]
    pub slice: Option<String>,
    /// Show one run with its slices.
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Only runs of this kind: scan, apply or compare.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Show the most recent N runs [default: 20].
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct RunRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) started_at: String,
    pub(crate) duration_seconds: Option<f64>,
    pub(crate) run_name: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) model_a: Option<String>,
    pub(crate) data_path: String,
    pub(crate) data_fingerprint: Option<String>,
    pub(crate) n_rows: Option<i64>,
    pub(crate) metric: Option<String>,
    pub(crate) error_rate: Option<f64>,
    pub(crate) error_rate_a: Option<f64>,
    pub(crate) slices_file_hash: Option<String>,
    pub(crate) exit_code: i64,
    pub(crate) slices: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct SliceRow {
    pub(crate) run_id: i64,
    pub(crate) started_at: String,
    pub(crate) kind: String,
    pub(crate) model: Option<String>,
    pub(crate) run_name: Option<String>,
    pub(crate) slice_id: String,
    pub(crate) slice_key: Option<String>,
    pub(crate) description: String,
    pub(crate) origin: String,
    pub(crate) size: Option<i64>,
    pub(crate) share: Option<f64>,
    pub(crate) error_rate: Option<f64>,
    pub(crate) ci_low: Option<f64>,
    pub(crate) ci_high: Option<f64>,
    pub(crate) excess_errors: Option<f64>,
    pub(crate) q_value: Option<f64>,
    pub(crate) error_rate_a: Option<f64>,
    pub(crate) status: Option<String>,
    pub(crate) metric: Option<String>,
}

/// One recorded run with its slices (compare of saved runs: `run:ID`).
pub(crate) fn load_run(store: &Path, id: i64) -> Result<(RunRow, Vec<SliceRow>)> {
    if !store.exists() {
        bail!(
            "run:{id}: no history store at {} (name one with --history FILE)",
            store.display()
        );
    }
    let conn = open_store(store, false)?;
    let run: Option<RunRow> = conn
        .query_row(
            "SELECT id, kind, started_at, duration_seconds, run_name, model, model_a, data_path,
                data_fingerprint, n_rows, metric, error_rate, error_rate_a, slices_file_hash,
                exit_code, (SELECT COUNT(*) FROM run_slices s WHERE s.run_id = runs.id)
             FROM runs WHERE id = ?1",
            [id],
            run_row,
        )
        .optional()?;
    let Some(run) = run else {
        bail!(
            "run:{id}: {} has no run {id} (list them with `slicescope history {}`)",
            store.display(),
            store.display()
        );
    };
    let mut st = conn.prepare(&format!(
        "SELECT {SLICE_COLUMNS} FROM run_slices s JOIN runs r ON r.id = s.run_id
         WHERE r.id = ?1 ORDER BY s.rowid"
    ))?;
    let slices: Vec<SliceRow> = st
        .query_map([id], slice_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((run, slices))
}

fn store_of(path: Option<&Path>) -> PathBuf {
    match path {
        None => default_store(Path::new(".")),
        Some(p) if p.is_dir() => default_store(p),
        Some(p) => {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            if matches!(ext.as_deref(), Some("db" | "sqlite" | "sqlite3")) {
                p.to_path_buf()
            } else {
                default_store(p)
            }
        }
    }
}

const SLICE_COLUMNS: &str =
    "r.id, r.started_at, r.kind, r.model, r.run_name, s.slice_id, s.slice_key,
    s.description, s.origin, s.size, s.share, s.error_rate, s.ci_low, s.ci_high, s.excess_errors,
    s.q_value, s.error_rate_a, s.status, r.metric";

fn slice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SliceRow> {
    Ok(SliceRow {
        run_id: r.get(0)?,
        started_at: r.get(1)?,
        kind: r.get(2)?,
        model: r.get(3)?,
        run_name: r.get(4)?,
        slice_id: r.get(5)?,
        slice_key: r.get(6)?,
        description: r.get(7)?,
        origin: r.get(8)?,
        size: r.get(9)?,
        share: r.get(10)?,
        error_rate: r.get(11)?,
        ci_low: r.get(12)?,
        ci_high: r.get(13)?,
        excess_errors: r.get(14)?,
        q_value: r.get(15)?,
        error_rate_a: r.get(16)?,
        status: r.get(17)?,
        metric: r.get(18)?,
    })
}

fn rate(x: Option<f64>, binary: bool) -> String {
    match x {
        Some(v) if binary => output::pct(v),
        Some(v) => output::num(v),
        None => "-".into(),
    }
}

pub fn run(a: HistoryCmdArgs) -> Result<ExitCode> {
    let path = store_of(a.path.as_deref());
    let conn = open_store(&path, false)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(kind) = &a.kind {
        if !matches!(kind.as_str(), "scan" | "apply" | "compare") {
            bail!("--kind {kind}: one of scan, apply, compare");
        }
    }
    if let Some(id) = a.run {
        let run: Option<RunRow> = conn
            .query_row(
                "SELECT id, kind, started_at, duration_seconds, run_name, model, model_a, data_path,
                    data_fingerprint, n_rows, metric, error_rate, error_rate_a, slices_file_hash,
                    exit_code, (SELECT COUNT(*) FROM run_slices s WHERE s.run_id = runs.id)
                 FROM runs WHERE id = ?1",
                [id],
                run_row,
            )
            .optional()?;
        let Some(run) = run else {
            bail!("{}: no run {id}", path.display());
        };
        let mut st = conn.prepare(&format!(
            "SELECT {SLICE_COLUMNS} FROM run_slices s JOIN runs r ON r.id = s.run_id
             WHERE r.id = ?1 ORDER BY s.rowid"
        ))?;
        let slices: Vec<SliceRow> = st
            .query_map([id], slice_row)?
            .collect::<rusqlite::Result<_>>()?;
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"run": run, "slices": slices}))?
            )?;
        } else {
            print_runs(&mut out, &[run])?;
            print_slices(&mut out, &slices, false)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(q) = &a.slice {
        let hex = q.trim().trim_start_matches("fnv1a64:").to_ascii_lowercase();
        let mut st = conn.prepare(&format!(
            "SELECT {SLICE_COLUMNS} FROM run_slices s JOIN runs r ON r.id = s.run_id
             WHERE (s.slice_key LIKE ?1 OR s.description = ?2) AND (?3 IS NULL OR r.kind = ?3)
             ORDER BY r.started_at, r.id"
        ))?;
        let key_pattern = if hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            format!("fnv1a64:{hex}%")
        } else {
            // Matches no key.
            "\u{0}".to_string()
        };
        let rows: Vec<SliceRow> = st
            .query_map(params![key_pattern, q.trim(), a.kind], slice_row)?
            .collect::<rusqlite::Result<_>>()?;
        if a.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        } else if rows.is_empty() {
            writeln!(
                out,
                "{}: no run has a slice with key or description '{q}'",
                path.display()
            )?;
        } else {
            let keys: std::collections::BTreeSet<&str> =
                rows.iter().filter_map(|r| r.slice_key.as_deref()).collect();
            writeln!(
                out,
                "{}: slice '{}' in {} run(s){}",
                path.display(),
                rows[0].description,
                rows.iter()
                    .map(|r| r.run_id)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                if keys.len() == 1 {
                    format!(" (key {})", keys.iter().next().unwrap_or(&""))
                } else {
                    String::new()
                }
            )?;
            print_slices(&mut out, &rows, true)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let last = a.last.unwrap_or(20);
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM runs WHERE (?1 IS NULL OR kind = ?1)",
        [&a.kind],
        |r| r.get(0),
    )?;
    let mut st = conn.prepare(
        "SELECT id, kind, started_at, duration_seconds, run_name, model, model_a, data_path,
            data_fingerprint, n_rows, metric, error_rate, error_rate_a, slices_file_hash, exit_code,
            (SELECT COUNT(*) FROM run_slices s WHERE s.run_id = runs.id)
         FROM runs WHERE (?1 IS NULL OR kind = ?1) ORDER BY started_at DESC, id DESC LIMIT ?2",
    )?;
    let mut runs: Vec<RunRow> = st
        .query_map(params![a.kind, last as i64], run_row)?
        .collect::<rusqlite::Result<_>>()?;
    runs.reverse();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
    } else {
        writeln!(
            out,
            "{}: {} run(s), schema version {}{}",
            path.display(),
            total,
            MIGRATIONS.len(),
            if (runs.len() as i64) < total {
                format!(" (the last {} shown)", runs.len())
            } else {
                String::new()
            }
        )?;
        print_runs(&mut out, &runs)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        started_at: r.get(2)?,
        duration_seconds: r.get(3)?,
        run_name: r.get(4)?,
        model: r.get(5)?,
        model_a: r.get(6)?,
        data_path: r.get(7)?,
        data_fingerprint: r.get(8)?,
        n_rows: r.get(9)?,
        metric: r.get(10)?,
        error_rate: r.get(11)?,
        error_rate_a: r.get(12)?,
        slices_file_hash: r.get(13)?,
        exit_code: r.get(14)?,
        slices: r.get(15)?,
    })
}

fn short(fp: Option<&str>) -> String {
    fp.map_or("-".into(), |f| {
        f.trim_start_matches("fnv1a64:").chars().take(8).collect()
    })
}

fn print_runs(out: &mut impl Write, runs: &[RunRow]) -> Result<()> {
    writeln!(
        out,
        "{:>5}  {:<20}  {:<7}  {:<22}  {:<28}  {:>9}  {:>15}  {:>6}  {:>4}",
        "id",
        "started (UTC)",
        "kind",
        "model (run)",
        "data [fingerprint]",
        "rows",
        "error",
        "slices",
        "exit"
    )?;
    for r in runs {
        let binary = r.metric.as_deref() == Some("error rate");
        let model = match (&r.model_a, &r.model) {
            (Some(a), Some(b)) => format!("{a} → {b}"),
            (_, Some(m)) => m.clone(),
            _ => "-".into(),
        };
        let model = match &r.run_name {
            Some(n) => format!("{model} ({n})"),
            None => model,
        };
        let data = Path::new(&r.data_path)
            .file_name()
            .map_or(r.data_path.clone(), |n| n.to_string_lossy().into_owned());
        let err = match (r.error_rate_a, r.error_rate) {
            (Some(a), Some(b)) => format!("{} → {}", rate(Some(a), binary), rate(Some(b), binary)),
            (_, b) => rate(b, binary),
        };
        writeln!(
            out,
            "{:>5}  {:<20}  {:<7}  {:<22}  {:<28}  {:>9}  {:>15}  {:>6}  {:>4}",
            r.id,
            r.started_at,
            r.kind,
            model,
            format!("{data} [{}]", short(r.data_fingerprint.as_deref())),
            r.n_rows
                .map_or("-".into(), |n| output::thousands(n.max(0) as u64)),
            err,
            r.slices,
            r.exit_code
        )?;
    }
    Ok(())
}

fn print_slices(out: &mut impl Write, rows: &[SliceRow], with_run: bool) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}{:<8}  {:<8}  {:>9}  {:>7}  {:>17}  {:>8}  {:>7}  {:<9}  {}",
        if with_run {
            format!(
                "{:>5}  {:<20}  {:<7}  {:<16}  ",
                "run", "started (UTC)", "kind", "model"
            )
        } else {
            String::new()
        },
        "slice",
        "origin",
        "size",
        "error",
        "95% CI",
        "A error",
        "q",
        "status",
        if with_run { "key" } else { "description" }
    )?;
    for r in rows {
        let binary = r.metric.as_deref() == Some("error rate");
        writeln!(
            out,
            "{}{:<8}  {:<8}  {:>9}  {:>7}  {:>17}  {:>8}  {:>7}  {:<9}  {}",
            if with_run {
                format!(
                    "{:>5}  {:<20}  {:<7}  {:<16}  ",
                    r.run_id,
                    r.started_at,
                    r.kind,
                    r.model.clone().unwrap_or_else(|| "-".into())
                )
            } else {
                String::new()
            },
            r.slice_id,
            r.origin,
            r.size
                .map_or("-".into(), |n| output::thousands(n.max(0) as u64)),
            rate(r.error_rate, binary),
            match (r.ci_low, r.ci_high) {
                (Some(l), Some(h)) =>
                    format!("[{}, {}]", rate(Some(l), binary), rate(Some(h), binary)),
                _ => "-".into(),
            },
            rate(r.error_rate_a, binary),
            r.q_value.map_or("-".into(), output::pval),
            r.status.clone().unwrap_or_else(|| "-".into()),
            if with_run {
                short(r.slice_key.as_deref())
            } else {
                r.description.clone()
            }
        )?;
    }
    Ok(())
}

/// Fingerprints of view sources: files by content, columns by name.
pub fn view_inputs<'a>(views: impl Iterator<Item = (&'a String, &'a String)>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (name, src) in views {
        let v = if slicescope_core::scan::is_matrix_file(src) {
            let file = src.split(".npz:").next().unwrap_or(src);
            let file = if file.len() < src.len() {
                format!("{file}.npz")
            } else {
                file.to_string()
            };
            serde_json::json!({"source": src, "fingerprint": fingerprint(Path::new(&file))})
        } else {
            serde_json::json!({"source": src, "column": true})
        };
        m.insert(name.clone(), v);
    }
    serde_json::Value::Object(m)
}

/// The history record of a scan.
pub fn scan_record(
    result: &slicescope_core::ScanResult,
    config: &slicescope_core::Config,
    data: &Path,
    config_file: Option<&Path>,
    saved: Option<&slicescope_core::workflow::file::SliceFile>,
    started_at: String,
) -> RunRecord {
    use slicescope_core::workflow::file::rule_key;
    let c = &config.columns;
    let model = c
        .pred
        .clone()
        .or_else(|| c.probs.clone())
        .or_else(|| c.score.clone())
        .or_else(|| c.loss.clone());
    let slices = result
        .slices
        .iter()
        .map(|s| {
            let key = saved
                .and_then(|f| f.slices.iter().find(|x| x.id == s.id))
                .map(|x| x.key.clone())
                .or_else(|| {
                    s.rule
                        .as_ref()
                        .filter(|_| s.definition.is_none())
                        .map(|r| rule_key(&r.predicates))
                });
            let st = &s.stats;
            SliceRecord {
                slice_id: s.id.clone(),
                slice_key: key,
                description: s.description.clone(),
                origin: "found".into(),
                size: Some(st.size),
                share: finite(st.support),
                error_rate: finite(st.error_rate),
                ci_low: finite(st.ci_low),
                ci_high: finite(st.ci_high),
                excess_errors: finite(st.excess_errors),
                q_value: finite(st.q_value),
                error_rate_a: None,
                status: None,
            }
        })
        .collect();
    RunRecord {
        kind: "scan".into(),
        started_at,
        duration_seconds: result.timing.total_seconds,
        run_name: config.output.run_name.clone(),
        model,
        model_a: None,
        data_path: data.display().to_string(),
        data_fingerprint: fingerprint(data),
        inputs: serde_json::json!({
            "config": config_file.map(|p| serde_json::json!({
                "path": p.display().to_string(),
                "fingerprint": fingerprint(p),
            })),
            "views": view_inputs(c.views.iter()),
        }),
        n_rows: Some(result.input.n_rows as u64),
        parameters: serde_json::to_value(config).unwrap_or_default(),
        metric: Some(result.task.metric.clone()),
        error_rate: finite(result.overall.error_rate),
        error_rate_a: None,
        slices_file_hash: saved.map(|f| f.content_hash.clone()),
        exit_code: 0,
        summary: serde_json::json!({
            "slices": result.slices.len(),
            "hypotheses": result.search.hypotheses,
            "notes": result.notes,
        }),
        slices,
    }
}
