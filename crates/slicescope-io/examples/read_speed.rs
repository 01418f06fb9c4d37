//! Read speed and peak memory of `read_table` on a large embedding column.
//!
//! ```text
//! cargo run --release -p slicescope-io --example read_speed -- [ROWS] [DIR]
//! ```
//!
//! Writes (once; kept for later runs) two Parquet files of `ROWS` rows
//! (default 1,000,000) into `DIR` (default `/tmp/slicescope-read-speed`):
//! a `FixedSizeList(Float32, 512)` column `emb` of pseudo-random floats and
//! an `Int64` column `label`, one uncompressed and one Snappy-compressed.
//! Then reads only `emb` from each and prints rows, bytes on disk, seconds,
//! decoded MB/s and the peak resident memory (VmHWM) against the size of
//! the float data.
//!
//! The files are written by a child process, and the peak is reset before
//! each read (`/proc/self/clear_refs`), so the writer's memory and the
//! previous read do not count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use slicescope_core::ColumnData;
use slicescope_io::{read_table, ReadOptions};

const DIM: usize = 512;
const WRITE_BATCH: usize = 8192;
const ROW_GROUP: usize = 128 * 1024;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// xorshift64: the float data, without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

const SEED: u64 = 0x2545_F491_4F6C_DD1D;

fn write_file(path: &Path, rows: usize, compression: Compression) -> AnyResult<()> {
    let tmp = path.with_extension("partial");
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let item = Arc::new(Field::new_list_field(DataType::Float32, true));
    let mut rng = XorShift(SEED);
    let mut writer = None;
    let mut done = 0;
    while done < rows {
        let n = WRITE_BATCH.min(rows - done);
        let values: Vec<f32> = (0..n * DIM).map(|_| rng.next_f32()).collect();
        let emb = FixedSizeListArray::try_new(
            item.clone(),
            DIM as i32,
            Arc::new(Float32Array::from(values)),
            None,
        )?;
        let label = Int64Array::from_iter_values((done..done + n).map(|i| (i % 2) as i64));
        let batch = RecordBatch::try_from_iter([
            ("emb", Arc::new(emb) as ArrayRef),
            ("label", Arc::new(label) as ArrayRef),
        ])?;
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(ArrowWriter::try_new(
                File::create(&tmp)?,
                batch.schema(),
                Some(props.clone()),
            )?),
        };
        w.write(&batch)?;
        done += n;
    }
    if let Some(w) = writer {
        w.close()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A `/proc/self/status` field in kB, as bytes.
fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--write") {
        // Child: write one file.
        let rows: usize = args[2].parse()?;
        let compression = match args[4].as_str() {
            "snappy" => Compression::SNAPPY,
            _ => Compression::UNCOMPRESSED,
        };
        return write_file(Path::new(&args[3]), rows, compression);
    }
    let rows: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(
        args.get(2)
            .map_or("/tmp/slicescope-read-speed", String::as_str),
    );
    std::fs::create_dir_all(&dir)?;

    let variants = ["uncompressed", "snappy"];
    for codec in variants {
        let path = dir.join(format!("emb_{rows}_{codec}.parquet"));
        if !path.exists() {
            eprintln!("writing {} ...", path.display());
            let t = Instant::now();
            let status = Command::new(std::env::current_exe()?)
                .args(["--write", &rows.to_string(), &path.to_string_lossy(), codec])
                .status()?;
            if !status.success() {
                return Err(format!("writing {} failed", path.display()).into());
            }
            eprintln!("  written in {:.1} s", t.elapsed().as_secs_f64());
        }
    }

    let data_bytes = (rows * DIM * 4) as u64;
    let opts = ReadOptions {
        columns: Some(vec!["emb".into()]),
        ..ReadOptions::default()
    };
    println!(
        "{rows} rows x {DIM} float32 = {:.3} GB of float data",
        gb(data_bytes)
    );
    println!(
        "{:<13} {:>10} {:>8} {:>9} {:>10} {:>14}",
        "file", "disk GB", "seconds", "MB/s", "peak GB", "peak / data"
    );
    for codec in variants {
        let path = dir.join(format!("emb_{rows}_{codec}.parquet"));
        let disk = std::fs::metadata(&path)?.len();
        // Reset the peak RSS to the current RSS (Linux >= 4.0).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let base = proc_status("VmRSS:").unwrap_or(0);
        let t = Instant::now();
        let frame = read_table(&path, &opts)?;
        let secs = t.elapsed().as_secs_f64();
        let peak = proc_status("VmHWM:").unwrap_or(0);
        // Check the data: shape and the first values.
        let Some(ColumnData::Vector { values, dim, .. }) = frame.column("emb").map(|c| &c.data)
        else {
            return Err("emb is not a vector column".into());
        };
        assert_eq!((*dim, values.len()), (DIM, rows * DIM));
        let mut rng = XorShift(SEED);
        assert!(values[..DIM].iter().all(|&v| v == rng.next_f32()));
        println!(
            "{:<13} {:>10.3} {:>8.2} {:>9.0} {:>10.3} {:>13.2}x{}",
            codec,
            gb(disk),
            secs,
            data_bytes as f64 / 1e6 / secs,
            gb(peak),
            peak as f64 / data_bytes as f64,
            if reset {
                format!("  (RSS before read {:.3} GB)", gb(base))
            } else {
                "  (peak not reset: includes earlier reads)".to_string()
            }
        );
        drop(frame);
    }
    Ok(())
}
