//! Slices beyond one scan: definitions that travel (a versioned, hashed
//! slice file), applying them to new rows, and comparing two models on the
//! same rows with paired tests. See `docs/workflow.md`.
//!
//! * [`file`]: the `slices.json` format written by `scan --save-slices`:
//!   every slice's re-applicable definition (attribute predicates, or an
//!   embedding definition plus the view's PCA projection), the outcome
//!   columns and task, a format version and a content hash.
//! * [`rows`]: [`rows::RowSet`], a bitset of rows (what a slice holds on
//!   a table of any size).
//! * [`apply`]: evaluating predicates on a frame's columns and embedding
//!   definitions on re-projected view rows.
//! * [`paired`]: exact McNemar and paired t-tests of two models' errors on
//!   the same rows.

pub mod apply;
pub mod file;
pub mod paired;
pub mod rows;

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime
/// 0x100000001b3). Not cryptographic: it detects edits and identifies
/// content, it does not resist forgery.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `fnv1a64:` followed by the hash as 16 lowercase hex digits.
pub fn hash_text(bytes: &[u8]) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Reference values of the 64-bit FNV-1a test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(hash_text(b"a"), "fnv1a64:af63dc4c8601ec8c");
    }
}
