//! Embedding matrices from NumPy `.npy` and `.npz` files.

use std::io::{self, BufReader, Read};
use std::path::Path;

use npyz::npz::{array_name_from_file_name, file_name_from_array_name};
use npyz::zip::ZipArchive;
use npyz::{DType, NpyFile, Order, TypeChar};
use slicescope_core::{Error, Result};

use crate::guard::guarded;
use crate::{extension, format_error, io_error, open_file};

/// A dense matrix of `f32`, row-major: row `r` is
/// `values[r * cols..(r + 1) * cols]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Row-major values, `rows * cols` of them.
    pub values: Vec<f32>,
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (embedding dimensions).
    pub cols: usize,
}

/// Read a matrix from a `.npy` file, or from one array of a `.npz`
/// archive.
///
/// For an `.npz`, `key` names the array; without a key, an archive that
/// holds exactly one array gives that array, and any other is an error
/// listing the keys. A key given for an `.npy` file is an error.
///
/// The array must be float16, float32 or float64 (either byte order),
/// 1-D (read as `n x 1`) or 2-D, in C or Fortran order; it is converted to
/// row-major `f32`. Other dtypes and 3-D or higher arrays are
/// [`Error::InvalidInput`]; a truncated or corrupt file is
/// [`Error::Format`]. Values are not checked (NaN is left for the caller).
pub fn read_matrix(path: &Path, key: Option<&str>) -> Result<Matrix> {
    let kind = matrix_kind(path)?;
    guarded(path, kind, || match kind {
        "npy" => {
            if let Some(key) = key {
                return Err(Error::param(
                    "embedding key",
                    format!(
                        "key '{key}' was given, but {} is an .npy file holding a single array; \
                         keys are for .npz archives",
                        path.display()
                    ),
                ));
            }
            let file = open_file(path)?;
            let len = file.metadata().map_err(|e| io_error(path, &e))?.len();
            read_npy(path, "npy", BufReader::new(file), len)
        }
        _ => read_npz(path, key),
    })
}

/// "npy" or "npz", from the magic bytes or else the extension.
fn matrix_kind(path: &Path) -> Result<&'static str> {
    let mut head = Vec::with_capacity(6);
    open_file(path)?
        .take(6)
        .read_to_end(&mut head)
        .map_err(|e| io_error(path, &e))?;
    if head.starts_with(b"\x93NUMPY") {
        return Ok("npy");
    }
    if head.starts_with(b"PK") {
        return Ok("npz");
    }
    match extension(path).as_deref() {
        Some("npy") => Ok("npy"),
        Some("npz") => Ok("npz"),
        _ => Err(format_error(
            path,
            "a NumPy array",
            "not an .npy or .npz file; save embeddings with numpy.save (.npy) or numpy.savez (.npz)",
        )),
    }
}

fn read_npz(path: &Path, key: Option<&str>) -> Result<Matrix> {
    let file = open_file(path)?;
    let mut zip =
        ZipArchive::new(BufReader::new(file)).map_err(|e| format_error(path, "npz", e))?;
    let keys: Vec<String> = zip
        .file_names()
        .filter_map(array_name_from_file_name)
        .map(str::to_string)
        .collect();
    let listing = || {
        if keys.is_empty() {
            "the archive holds no arrays".to_string()
        } else {
            format!(
                "the archive holds {}",
                keys.iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let key = match key {
        Some(k) => {
            if !keys.iter().any(|x| x == k) {
                return Err(Error::param(
                    "embedding key",
                    format!("no array '{k}' in {}; {}", path.display(), listing()),
                ));
            }
            k.to_string()
        }
        None if keys.len() == 1 => keys[0].clone(),
        None => {
            return Err(Error::param(
                "embedding key",
                format!(
                    "{} holds {} arrays, so the array to use must be named; {}",
                    path.display(),
                    keys.len(),
                    listing()
                ),
            ))
        }
    };
    let entry = zip
        .by_name(&file_name_from_array_name(&key))
        .map_err(|e| format_error(path, "npz", e))?;
    let size = entry.size();
    read_npy(path, "npz", entry, size)
}

/// Read a 1-D array of strings (NumPy `<U` unicode or `|S` bytes) named
/// `key` from an `.npz` archive, e.g. a vocabulary's phrases.
pub fn read_npz_strings(path: &Path, key: &str) -> Result<Vec<String>> {
    guarded(path, "npz", || {
        let file = open_file(path)?;
        let mut zip =
            ZipArchive::new(BufReader::new(file)).map_err(|e| format_error(path, "npz", e))?;
        let keys: Vec<String> = zip
            .file_names()
            .filter_map(array_name_from_file_name)
            .map(str::to_string)
            .collect();
        if !keys.iter().any(|k| k == key) {
            return Err(Error::InvalidInput(format!(
                "{}: no array '{key}' (the archive holds {})",
                path.display(),
                keys.iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let entry = zip
            .by_name(&file_name_from_array_name(key))
            .map_err(|e| format_error(path, "npz", e))?;
        let npy = NpyFile::new(entry).map_err(|e| format_error(path, "npz", e))?;
        if npy.shape().len() != 1 {
            return Err(Error::InvalidInput(format!(
                "{}: array '{key}' has shape {:?}; expected a 1-D array of strings",
                path.display(),
                npy.shape()
            )));
        }
        let type_char = match npy.dtype() {
            DType::Plain(ts) => ts.type_char(),
            other => {
                return Err(Error::InvalidInput(format!(
                    "{}: array '{key}' has dtype {}; expected strings (numpy dtype 'U')",
                    path.display(),
                    other.descr()
                )))
            }
        };
        match type_char {
            TypeChar::UnicodeStr => {
                let v: Vec<Vec<char>> = npy.into_vec().map_err(|e| format_error(path, "npz", e))?;
                Ok(v.into_iter().map(|c| c.into_iter().collect()).collect())
            }
            TypeChar::ByteStr => {
                let v: Vec<Vec<u8>> = npy.into_vec().map_err(|e| format_error(path, "npz", e))?;
                v.into_iter()
                    .map(|b| {
                        String::from_utf8(b).map_err(|_| {
                            Error::InvalidInput(format!(
                                "{}: array '{key}' holds bytes that are not UTF-8",
                                path.display()
                            ))
                        })
                    })
                    .collect()
            }
            other => Err(Error::InvalidInput(format!(
                "{}: array '{key}' has type code '{other}'; expected strings (numpy dtype 'U')",
                path.display()
            ))),
        }
    })
}

/// Counts the bytes read through it (to know the header length).
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Read one npy stream of `total_len` bytes (header included).
fn read_npy<R: Read>(path: &Path, format: &str, reader: R, total_len: u64) -> Result<Matrix> {
    let fail = |msg: String| format_error(path, format, msg);
    let npy = NpyFile::new(Counting {
        inner: reader,
        count: 0,
    })
    .map_err(|e| fail(format!("bad npy header: {e}")))?;
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let dtype = npy.dtype();

    let (endian, size) = match &dtype {
        DType::Plain(ts)
            if ts.type_char() == TypeChar::Float && matches!(ts.size_field(), 2 | 4 | 8) =>
        {
            (ts.endianness(), ts.size_field() as usize)
        }
        DType::Plain(ts) => {
            return Err(Error::InvalidInput(format!(
                "{}: the array has dtype '{ts}'; embeddings must be float16, float32 or float64 \
                 (convert with .astype('float32'))",
                path.display()
            )))
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "{}: the array has a structured dtype ({}); embeddings must be a plain float32 \
                 or float64 array",
                path.display(),
                other.descr()
            )))
        }
    };
    let big_endian = matches!(endian, npyz::Endianness::Big);
    let too_big = || fail(format!("the array shape {shape:?} is too large"));
    let (rows, cols) = match shape.as_slice() {
        [n] => (usize::try_from(*n).map_err(|_| too_big())?, 1),
        [r, c] => (
            usize::try_from(*r).map_err(|_| too_big())?,
            usize::try_from(*c).map_err(|_| too_big())?,
        ),
        [] => {
            return Err(Error::InvalidInput(format!(
                "{}: the array is a scalar; embeddings must be a 2-D array (samples x dimensions)",
                path.display()
            )))
        }
        dims => {
            return Err(Error::InvalidInput(format!(
                "{}: the array is {}-D with shape {dims:?}; embeddings must be a 2-D array \
                 (samples x dimensions); reshape it, e.g. with .reshape(len(x), -1)",
                path.display(),
                dims.len()
            )))
        }
    };
    let n = rows.checked_mul(cols).ok_or_else(too_big)?;
    let data_bytes = (n as u64).checked_mul(size as u64).ok_or_else(too_big)?;
    let mut reader = npy.into_inner();
    let available = total_len.saturating_sub(reader.count);
    if data_bytes > available {
        return Err(fail(format!(
            "the file is truncated: shape {shape:?} needs {data_bytes} bytes of data but only \
             {available} are present"
        )));
    }

    let mut values: Vec<f32> = Vec::new();
    values.try_reserve_exact(n).map_err(|_| {
        Error::InvalidInput(format!(
            "{}: not enough memory for a {rows} x {cols} matrix",
            path.display()
        ))
    })?;
    let mut buf = vec![0u8; (1 << 22) / size * size];
    let mut remaining = data_bytes as usize;
    while remaining > 0 {
        let take = remaining.min(buf.len());
        let chunk = &mut buf[..take];
        reader.read_exact(chunk).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                fail(format!(
                    "the file is truncated: shape {shape:?} needs {data_bytes} bytes of data"
                ))
            } else {
                fail(e.to_string())
            }
        })?;
        decode(chunk, size, big_endian, &mut values);
        remaining -= chunk.len();
    }

    if order == Order::Fortran && rows > 1 && cols > 1 {
        // Stored column by column: transpose into row-major order.
        let mut t = Vec::new();
        t.try_reserve_exact(n).map_err(|_| {
            Error::InvalidInput(format!(
                "{}: not enough memory to transpose a {rows} x {cols} Fortran-order matrix",
                path.display()
            ))
        })?;
        for r in 0..rows {
            t.extend((0..cols).map(|c| values[c * rows + r]));
        }
        values = t;
    }
    Ok(Matrix { values, rows, cols })
}

/// Append the floats of `bytes` (items of `size` bytes) to `out`.
fn decode(bytes: &[u8], size: usize, big_endian: bool, out: &mut Vec<f32>) {
    match (size, big_endian) {
        (4, false) => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        (4, true) => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        ),
        (8, false) => {
            out.extend(bytes.chunks_exact(8).map(|b| {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }))
        }
        (8, true) => {
            out.extend(bytes.chunks_exact(8).map(|b| {
                f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }))
        }
        (_, false) => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        ),
        (_, true) => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_be_bytes([b[0], b[1]]))),
        ),
    }
}

/// IEEE 754 half precision to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1F);
    let mant = u32::from(h & 0x3FF);
    let bits = match exp {
        0 if mant == 0 => sign,
        0 => {
            // Subnormal: mant * 2^-24.
            let v = mant as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        31 => sign | 0x7F80_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }
}
