//! A file as a header and rows of text cells, whatever format it came in.

use std::fmt::Write as _;
use std::io::Cursor;

use calamine::{Data, Reader};

/// Largest file read, in bytes.
pub const FILE_BYTES_MAX: usize = 256 << 20;
/// Most data rows read from one file.
pub const ROWS_MAX: usize = 1_000_000;
/// Most data rows read from one file of a legacy extract (a city's contributions of a
/// year: a million insured pay a dozen months each).
pub const LEGACY_ROWS_MAX: usize = 20_000_000;
/// Longest cell, in characters.
pub const CELL_CHARS_MAX: usize = 500;

/// Why a file cannot be read at all (as opposed to a row that is wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has {0} bytes; at most {FILE_BYTES_MAX}")]
    TooLarge(usize),
    #[error("the file has more than {0} rows")]
    TooManyRows(usize),
    #[error("'{0}' is not a file type read here: .csv, .xlsx, .xls or .ods")]
    UnknownFormat(String),
    #[error("the text is neither UTF-8 nor GB 18030 (GBK)")]
    Encoding,
    #[error("the file cannot be read as {format}: {reason}")]
    Unreadable { format: &'static str, reason: String },
    #[error("the header has no column {0}")]
    MissingColumn(String),
    #[error("the header names column {0} twice")]
    DuplicateColumn(String),
    #[error("the header names a column {0} that this file does not have: rename it to one of the layout's, or remove it")]
    UnknownColumn(String),
}

impl FileError {
    /// The stable code of the error, for callers that answer with codes.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "import.empty_file",
            FileError::TooLarge(_) => "import.file_too_large",
            FileError::TooManyRows(_) => "import.too_many_rows",
            FileError::UnknownFormat(_) => "import.unknown_format",
            FileError::Encoding => "import.bad_encoding",
            FileError::Unreadable { .. } => "import.unreadable",
            FileError::MissingColumn(_) => "import.missing_column",
            FileError::DuplicateColumn(_) => "import.duplicate_column",
            FileError::UnknownColumn(_) => "import.unknown_column",
        }
    }
}

/// A row the sender must fix: its line in the file (the header is line 1), the column,
/// the row's key where it has one, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub column: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

/// The rows to fix as a CSV file (UTF-8 with a byte-order mark, so that a spreadsheet opens
/// the Chinese text as it is): line, column, key, message.
#[must_use]
pub fn error_report_csv(errors: &[RowError]) -> String {
    csv_with_bom(
        &["line", "column", "key", "message"],
        errors
            .iter()
            .map(|e| vec![e.line.to_string(), e.column.clone().unwrap_or_default(), e.key.clone().unwrap_or_default(), e.message.clone()]),
    )
}

/// Rows as a CSV file in UTF-8 with a byte-order mark (so that a spreadsheet opens the
/// Chinese text as it is), quoted where they must be, no cell a formula.
pub(crate) fn csv_with_bom(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let write = || -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(header)?;
        for row in rows {
            // A legacy file's cell echoed back (a key, a message quoting it) is never run
            // as a formula by the spreadsheet the legacy team opens the file in.
            writer.write_record(row.iter().map(|cell| yibao_domain::spreadsheet_text(cell).into_owned()))?;
        }
        Ok(writer.into_inner()?)
    };
    let bytes = write().expect("writing to memory");
    let mut out = String::from('\u{feff}');
    out.push_str(&String::from_utf8(bytes).expect("written from strings"));
    out
}

/// A file's header and data rows, every cell as trimmed text. Dates in spreadsheets become
/// `YYYY-MM-DD`; numbers their shortest decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    /// Each data row with its line in the file (the header is line 1). Blank rows are left out.
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads `bytes` as the format `name`'s extension says.
    pub fn read(name: &str, bytes: &[u8]) -> Result<Table, FileError> {
        Table::read_at_most(name, bytes, ROWS_MAX)
    }

    /// Reads `bytes` as [`Table::read`] does, with at most `rows_max` data rows.
    pub fn read_at_most(name: &str, bytes: &[u8], rows_max: usize) -> Result<Table, FileError> {
        if bytes.is_empty() {
            return Err(FileError::Empty);
        }
        if bytes.len() > FILE_BYTES_MAX {
            return Err(FileError::TooLarge(bytes.len()));
        }
        let extension = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
        match extension.as_str() {
            "csv" | "txt" => Table::csv(bytes, rows_max),
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => Table::spreadsheet(bytes, rows_max),
            _ => Err(FileError::UnknownFormat(name.to_owned())),
        }
    }

    /// Reads CSV text in UTF-8 (with or without a byte-order mark) or, failing that, GB 18030.
    pub fn from_csv(bytes: &[u8]) -> Result<Table, FileError> {
        Table::csv(bytes, ROWS_MAX)
    }

    fn csv(bytes: &[u8], rows_max: usize) -> Result<Table, FileError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let decoded;
        let text: &str = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                decoded = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes).ok_or(FileError::Encoding)?;
                &decoded
            }
        };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let unreadable = |e: csv::Error| FileError::Unreadable { format: "CSV", reason: e.to_string() };
        let mut records = reader.records();
        let header: Vec<String> = match records.next() {
            None => return Err(FileError::Empty),
            Some(record) => record.map_err(unreadable)?.iter().map(cell).collect(),
        };
        let mut rows = Vec::new();
        // A row's line is counted from the '\n's before it: the reader's own count skips
        // blank lines and miscounts Windows line endings (Excel's, most exports').
        let (mut counted_to, mut line) = (0usize, 1usize);
        for record in records {
            let record = record.map_err(unreadable)?;
            let mut start = record.position().map_or(counted_to, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX)).min(text.len());
            // After a "\r\n" the reader may place a record at its '\n': a row starts after
            // the line endings before it.
            while text.as_bytes().get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
                start += 1;
            }
            if start > counted_to {
                line += text.as_bytes()[counted_to..start].iter().filter(|b| **b == b'\n').count();
                counted_to = start;
            }
            let cells: Vec<String> = record.iter().map(cell).collect();
            push_row(&mut rows, line, cells, rows_max)?;
        }
        Ok(Table { header, rows })
    }

    /// Reads the first sheet of a workbook (xlsx, xls, xlsb or ods).
    pub fn from_spreadsheet(bytes: &[u8]) -> Result<Table, FileError> {
        Table::spreadsheet(bytes, ROWS_MAX)
    }

    fn spreadsheet(bytes: &[u8], rows_max: usize) -> Result<Table, FileError> {
        let unreadable = |reason: String| FileError::Unreadable { format: "a spreadsheet", reason };
        let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
        let range = workbook
            .worksheet_range_at(0)
            .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
            .map_err(|e| unreadable(e.to_string()))?;
        let first_line = range.start().map_or(1, |(row, _)| row as usize + 1);
        let mut lines = range.rows().enumerate();
        let header: Vec<String> = match lines.next() {
            None => return Err(FileError::Empty),
            Some((_, row)) => row.iter().map(spreadsheet_cell).collect(),
        };
        let mut rows = Vec::new();
        for (index, row) in lines {
            push_row(&mut rows, first_line + index, row.iter().map(spreadsheet_cell).collect(), rows_max)?;
        }
        Ok(Table { header, rows })
    }
}

fn push_row(rows: &mut Vec<(usize, Vec<String>)>, line: usize, cells: Vec<String>, rows_max: usize) -> Result<(), FileError> {
    if cells.iter().all(String::is_empty) {
        return Ok(());
    }
    if rows.len() == rows_max {
        return Err(FileError::TooManyRows(rows_max));
    }
    rows.push((line, cells));
    Ok(())
}

/// A cell's text, trimmed, cut at [`CELL_CHARS_MAX`] characters (a longer cell is wrong in
/// every column, and its column says so).
fn cell(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(CELL_CHARS_MAX) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

fn spreadsheet_cell(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => cell(text),
        Data::Int(n) => n.to_string(),
        // An integral number is written without a decimal point ("1", not "1.0"): codes
        // and flags stored as numbers read as typed.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        // A serial outside Excel's dates (1 = 1900-01-01 to 2958465 = 9999-12-31) is not
        // clamped into one: its column refuses the text.
        Data::DateTime(moment) if !(1.0..2_958_466.0).contains(&moment.as_f64()) => format!("#date serial {}", moment.as_f64()),
        Data::DateTime(moment) => {
            let (year, month, day, ..) = moment.to_ymd_hms_milli();
            let mut text = String::with_capacity(10);
            let _ = write!(text, "{year:04}-{month:02}-{day:02}");
            text
        }
        Data::Error(error) => format!("#{error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_gbk_reads_as_in_utf8() {
        let text = "hilist_code,hilist_name\n001201000010000,床位费\n\n";
        let (gbk, _, lossy) = encoding_rs::GBK.encode(text);
        assert!(!lossy);
        let from_gbk = Table::read("list.csv", &gbk).expect("GBK");
        let from_utf8 = Table::read("list.CSV", format!("\u{feff}{text}").as_bytes()).expect("UTF-8 with a BOM");
        assert_eq!(from_gbk, from_utf8);
        assert_eq!(from_gbk.rows, vec![(2, vec!["001201000010000".to_owned(), "床位费".to_owned()])]);
    }

    #[test]
    fn blank_lines_and_windows_line_endings_keep_the_line_numbers() {
        for text in ["a,b\r\n1,2\r\n\r\n3,4\r\n", "a,b\n1,2\n\n3,4\n", "\u{feff}a,b\n1,2\n\n3,4"] {
            let table = Table::read("a.csv", text.as_bytes()).expect("a table");
            assert_eq!(table.rows, vec![(2, vec!["1".to_owned(), "2".to_owned()]), (4, vec!["3".to_owned(), "4".to_owned()])], "{text:?}");
        }
    }

    #[test]
    fn files_that_cannot_be_read_say_why() {
        assert_eq!(Table::read("a.csv", b""), Err(FileError::Empty));
        assert_eq!(Table::read("a.pdf", b"%PDF"), Err(FileError::UnknownFormat("a.pdf".into())));
        assert_eq!(Table::read("a.csv", &[0xff, 0xff, 0xff]).map_err(|e| e.code()), Err("import.bad_encoding"));
        assert_eq!(Table::read("a.xlsx", b"not a zip").map_err(|e| e.code()), Err("import.unreadable"));
    }

    #[test]
    fn the_error_report_quotes_what_needs_quoting() {
        let report = error_report_csv(&[RowError {
            line: 7,
            column: Some("begndate".into()),
            key: None,
            message: "'2024-13-01', not a date".into(),
        }]);
        assert_eq!(report, "\u{feff}line,column,key,message\n7,begndate,,\"'2024-13-01', not a date\"\n");
        // A key from the legacy file that a spreadsheet would run is written as text.
        let report = error_report_csv(&[RowError {
            line: 8,
            column: Some("psn_no".into()),
            key: Some("=HYPERLINK(\"http://x\")".into()),
            message: "@SUM(1)".into(),
        }]);
        assert_eq!(report, "\u{feff}line,column,key,message\n8,psn_no,\"'=HYPERLINK(\"\"http://x\"\")\",'@SUM(1)\n");
    }
}
