//! Core of slicescope: turn an evaluation table into a per-sample error
//! signal, encode attribute columns, search exact attribute slices
//! (SliceLine) and compute honest statistics for every slice.
//!
//! Internal sub-crate of slicescope; the command-line tool is `slicescope`.
#![deny(missing_docs)]

pub mod error;
pub mod frame;

pub use error::{Error, Result};
pub use frame::{Column, ColumnData, Frame};
pub mod attributes;
pub mod config;
pub mod lattice;
pub mod outcome;
pub mod scan;
pub mod stats;

pub use config::Config;
pub use scan::{scan, ScanResult};
pub mod describe;
pub mod diagnose;
pub mod explain;
pub mod merge;
pub mod phrases;
pub mod rng;
pub mod slicers;
pub mod views;
pub mod workflow;
