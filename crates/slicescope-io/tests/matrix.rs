//! `.npy` and `.npz` matrices written with npyz's writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use npyz::npz::NpzWriter;
use npyz::{AutoSerialize, DType, Order, WriteOptions, WriterBuilder};
use slicescope_core::Error;
use slicescope_io::{read_matrix, Matrix};

fn npy<T: AutoSerialize + Clone>(
    dir: &Path,
    name: &str,
    shape: &[u64],
    order: Order,
    dtype: Option<&str>,
    data: &[T],
) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let dtype = match dtype {
        Some(d) => DType::Plain(d.parse().unwrap()),
        None => T::default_dtype(),
    };
    let mut w = WriteOptions::new()
        .dtype(dtype)
        .shape(shape)
        .order(order)
        .writer(file)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().cloned()).unwrap();
    w.finish().unwrap();
    path
}

fn npz(dir: &Path, name: &str, arrays: &[(&str, &[f32], &[u64])]) -> PathBuf {
    let path = dir.join(name);
    let mut z = NpzWriter::create(&path).unwrap();
    for (key, data, shape) in arrays {
        let mut w = z
            .array::<f32>(key, Default::default())
            .unwrap()
            .default_dtype()
            .shape(shape)
            .begin_nd()
            .unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    drop(z);
    path
}

const SIX: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

#[test]
fn npy_float32_float64_and_byte_orders() {
    let dir = tempfile::tempdir().unwrap();
    let expect = Matrix {
        values: SIX.to_vec(),
        rows: 2,
        cols: 3,
    };
    let p = npy(dir.path(), "a.npy", &[2, 3], Order::C, None, &SIX);
    assert_eq!(read_matrix(&p, None).unwrap(), expect);

    let six64: Vec<f64> = SIX.iter().map(|&x| f64::from(x)).collect();
    let p = npy(dir.path(), "b.npy", &[2, 3], Order::C, None, &six64);
    assert_eq!(read_matrix(&p, None).unwrap(), expect);

    let p = npy(dir.path(), "be.npy", &[2, 3], Order::C, Some(">f4"), &SIX);
    assert_eq!(read_matrix(&p, None).unwrap(), expect);
    let p = npy(
        dir.path(),
        "be64.npy",
        &[2, 3],
        Order::C,
        Some(">f8"),
        &six64,
    );
    assert_eq!(read_matrix(&p, None).unwrap(), expect);
}

#[test]
fn npy_fortran_order_is_transposed_to_row_major() {
    let dir = tempfile::tempdir().unwrap();
    // Logical matrix [[1,2,3],[4,5,6]] stored column by column.
    let p = npy(
        dir.path(),
        "f.npy",
        &[2, 3],
        Order::Fortran,
        None,
        &[1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0],
    );
    let m = read_matrix(&p, None).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    assert_eq!(m.values, SIX.to_vec());
}

#[test]
fn npy_one_dimensional_is_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = npy(
        dir.path(),
        "v.npy",
        &[4],
        Order::C,
        None,
        &[0.5f32, 1.5, 2.5, 3.5],
    );
    let m = read_matrix(&p, None).unwrap();
    assert_eq!((m.rows, m.cols), (4, 1));
    assert_eq!(m.values, vec![0.5, 1.5, 2.5, 3.5]);
}

#[test]
fn npy_float16_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    // Half-precision bit patterns for 1.0, -2.0, 0.5, 65504.
    let bits: [u16; 4] = [0x3C00, 0xC000, 0x3800, 0x7BFF];
    let p = npy(dir.path(), "h.npy", &[2, 2], Order::C, Some("<u2"), &bits);
    // Rewrite the dtype in the header from '<u2' to '<f2' (same length).
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes.windows(3).position(|w| w == b"<u2").unwrap();
    bytes[at + 1] = b'f';
    std::fs::write(&p, bytes).unwrap();
    let m = read_matrix(&p, None).unwrap();
    assert_eq!(m.values, vec![1.0, -2.0, 0.5, 65504.0]);
}

#[test]
fn npy_empty_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let p = npy::<f32>(dir.path(), "e.npy", &[0, 8], Order::C, None, &[]);
    let m = read_matrix(&p, None).unwrap();
    assert_eq!((m.rows, m.cols, m.values.len()), (0, 8, 0));
}

#[test]
fn npy_unsupported_dtypes_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let p = npy(
        dir.path(),
        "i.npy",
        &[2, 2],
        Order::C,
        None,
        &[1i64, 2, 3, 4],
    );
    let err = read_matrix(&p, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
    assert!(msg.contains("<i8") && msg.contains("float32"), "{msg}");

    let p = npy(dir.path(), "b.npy", &[2], Order::C, None, &[true, false]);
    let err = read_matrix(&p, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("b1"), "{err}");

    // complex64: write float64 and patch the dtype (same length).
    let p = npy(dir.path(), "c.npy", &[1], Order::C, None, &[1.0f64]);
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
    bytes[at + 1] = b'c';
    std::fs::write(&p, bytes).unwrap();
    let err = read_matrix(&p, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");

    let p = npy(dir.path(), "3d.npy", &[2, 1, 3], Order::C, None, &SIX);
    let err = read_matrix(&p, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidInput(_)), "{msg}");
    assert!(msg.contains("3-D") && msg.contains("2-D"), "{msg}");

    let p = npy(dir.path(), "scalar.npy", &[], Order::C, None, &[1.0f32]);
    let err = read_matrix(&p, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
}

#[test]
fn npy_truncated_and_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let p = npy(dir.path(), "t.npy", &[2, 3], Order::C, None, &SIX);
    let bytes = std::fs::read(&p).unwrap();
    for keep in [bytes.len() - 1, bytes.len() - 12, 70, 20, 8, 3, 0] {
        let cut = dir.path().join("cut.npy");
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = read_matrix(&cut, None).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "cut at {keep}: {err}");
    }
    let err = {
        let cut = dir.path().join("cut.npy");
        std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
        read_matrix(&cut, None).unwrap_err()
    };
    assert!(err.to_string().contains("truncated"), "{err}");

    // A header claiming a huge shape on a tiny file.
    let p = npy(dir.path(), "huge.npy", &[2, 3], Order::C, None, &SIX);
    let mut bytes = std::fs::read(&p).unwrap();
    let header = String::from_utf8_lossy(&bytes[..128]).to_string();
    let at = bytes
        .windows(5)
        .position(|w| w == b"(2, 3")
        .unwrap_or_else(|| panic!("{header}"));
    bytes[at + 1] = b'9';
    std::fs::write(&p, bytes).unwrap();
    let err = read_matrix(&p, None).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");

    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"not numpy at all").unwrap();
    let err = read_matrix(&junk, None).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
}

#[test]
fn npy_missing_file_directory_and_stray_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_matrix(&dir.path().join("none.npy"), None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let err = read_matrix(dir.path(), None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let p = npy(dir.path(), "k.npy", &[2, 3], Order::C, None, &SIX);
    let err = read_matrix(&p, Some("emb")).unwrap_err();
    assert!(err.to_string().contains("'emb'"), "{err}");
    let p = dir.path().join("x.csv");
    std::fs::write(&p, "a\n1\n").unwrap();
    let err = read_matrix(&p, None).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
}

#[test]
fn npz_single_array_needs_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = npz(dir.path(), "one.npz", &[("embeddings", &SIX, &[3, 2])]);
    let m = read_matrix(&p, None).unwrap();
    assert_eq!((m.rows, m.cols, m.values), (3, 2, SIX.to_vec()));
    let m = read_matrix(&p, Some("embeddings")).unwrap();
    assert_eq!((m.rows, m.cols), (3, 2));
}

#[test]
fn npz_several_arrays_need_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = npz(
        dir.path(),
        "two.npz",
        &[("train", &SIX, &[2, 3]), ("test", &SIX[..4], &[4])],
    );
    let m = read_matrix(&p, Some("test")).unwrap();
    assert_eq!((m.rows, m.cols, m.values), (4, 1, SIX[..4].to_vec()));
    let m = read_matrix(&p, Some("train")).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));

    let msg = read_matrix(&p, None).unwrap_err().to_string();
    assert!(msg.contains("'train'") && msg.contains("'test'"), "{msg}");
    let msg = read_matrix(&p, Some("valid")).unwrap_err().to_string();
    assert!(
        msg.contains("'valid'") && msg.contains("'train'") && msg.contains("'test'"),
        "{msg}"
    );
}

#[test]
fn npz_truncated_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = npz(dir.path(), "t.npz", &[("a", &SIX, &[2, 3])]);
    let bytes = std::fs::read(&p).unwrap();
    for keep in [bytes.len() - 1, bytes.len() / 2, 10] {
        let cut = dir.path().join("cut.npz");
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = read_matrix(&cut, None).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "cut at {keep}: {err}");
    }
}

/// Cut or corrupted `.npy`/`.npz` files give errors (or, for harmless
/// bytes, a matrix), never a panic or an abort.
#[test]
fn corrupted_matrices_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let files = [
        npy(dir.path(), "f.npy", &[8, 8], Order::C, None, &data),
        npz(
            dir.path(),
            "f.npz",
            &[("a", &data, &[8, 8]), ("b", &data[..8], &[8])],
        ),
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let ext = file.extension().unwrap().to_str().unwrap().to_string();
        let target = dir.path().join(format!("bad.{ext}"));
        let key = (ext == "npz").then_some("a");
        for keep in 0..bytes.len() {
            std::fs::write(&target, &bytes[..keep]).unwrap();
            assert!(read_matrix(&target, key).is_err(), "cut at {keep}");
        }
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..2 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % b.len() as u64) as usize;
                b[i] = (state >> 32) as u8;
            }
            std::fs::write(&target, &b).unwrap();
            if let Ok(m) = read_matrix(&target, key) {
                assert_eq!(m.values.len(), m.rows * m.cols);
            }
        }
    }
}
