//! Files a bureau receives, parsed and checked row by row before anything is stored.
//!
//! The national catalogue ([`catalogue`]) and a legacy system's extract at go-live
//! ([`legacy`]), from CSV (UTF-8 or GB 18030) and from
//! spreadsheets (xlsx, xls, ods). A file is read whole into a [`Table`] of text cells with
//! its header, then every row is checked and either becomes a value or an [`RowError`] the
//! sender can fix and send again. The crate does no I/O: callers pass the bytes.

pub mod catalogue;
pub mod legacy;
pub mod residents;
mod table;

pub use table::{FILE_BYTES_MAX, FileError, LEGACY_ROWS_MAX, ROWS_MAX, RowError, Table, error_report_csv};
