//! The national catalogue's files (医保目录, R-BEN-1): one row per version of an item, in
//! the columns of the national platform's catalogue records (the fields of its 1312 query,
//! with the price cap of 1318 and the first self-pay share of 1319), headed by the national
//! field names or their Chinese names. Other columns (`wubi`, `pinyin`, `rid`, …) are left
//! alone. Documented for the bureau in `docs/catalogue.md`.

use std::collections::HashMap;

use time::Date;
use yibao_domain::{CatalogueClass, Fen, ItemCode, ItemKind, RatioBp, RegionCode};
use yibao_policy::{CatalogueItem, CatalogueProblem, CatalogueVersion};

use crate::{FileError, RowError, Table};

/// Longest item name, in characters.
pub const NAME_CHARS_MAX: usize = 200;

/// One column of the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The national field name, the header the files carry.
    pub field: &'static str,
    /// The Chinese header accepted in its place.
    pub zh: &'static str,
    /// Another field name the national platform uses for it (its 1312 download's
    /// `pric_uplmt_amt`), or "".
    pub alias: &'static str,
    pub required: bool,
    pub meaning: &'static str,
}

/// The catalogue's columns, in the order of the documentation.
pub const COLUMNS: [Column; 12] = [
    Column::new(
        "hilist_code",
        "医保目录编码",
        true,
        "national code: medicine X…/Z… (20 or 23), service item (15 digits), consumable C… (20 or 27)",
    ),
    Column::new("hilist_name", "医保目录名称", true, "name"),
    Column::new("list_type", "目录类别", true, "101 medicines, 201 service items, 301 consumables"),
    Column::new("chrgitm_lv", "收费项目等级", true, "01 class A (甲类), 02 class B (乙类), 03 class C (丙类)"),
    Column::new("begndate", "开始日期", true, "first day in force (YYYY-MM-DD)"),
    Column::new("enddate", "结束日期", false, "last day in force; empty: open"),
    Column::new("insu_admdvs", "医保区划", false, "region: empty or 000000 national, a province or the city"),
    Column::new("lmt_used_flag", "限制使用标志", false, "1: restricted use, needs the hospital's approval on the line"),
    Column::new("selfpay_prop", "先行自付比例", false, "class B only: the first self-pay share, 0.1 or 10%"),
    Column {
        alias: "pric_uplmt_amt",
        ..Column::new("hilist_pric_uplmt_amt", "医保目录定价上限金额", false, "price cap in yuan, every level")
    },
    Column::new("vali_flag", "有效标志", false, "0: a withdrawn record: a version held under its key is withdrawn; 1 or empty: valid"),
    Column::new(
        "hi_nego_drug_flag",
        "医保谈判药品标志",
        false,
        "1: price set by national negotiation (谈判药品); its price cap is the negotiated price and is required",
    ),
];

impl Column {
    pub(crate) const fn new(field: &'static str, zh: &'static str, required: bool, meaning: &'static str) -> Column {
        Column { field, zh, alias: "", required, meaning }
    }
}

/// A catalogue file checked row by row.
#[derive(Debug, Clone, Default)]
pub struct ParsedCatalogue {
    /// The valid rows' versions.
    pub versions: Vec<CatalogueVersion>,
    /// Each version's line in the file, in the same order.
    pub lines: Vec<usize>,
    /// Data rows read.
    pub rows: usize,
    /// Rows marked withdrawn (`vali_flag` 0).
    pub withdrawn: usize,
    /// Rows of another province or city (or a county of another city), skipped.
    pub elsewhere: usize,
    /// Withdrawn rows' keys with their lines: a version held under one is withdrawn.
    pub withdrawals: Vec<(VersionKey, usize)>,
    /// The optional columns the file does not have: every row reads them as empty.
    pub columns_absent: Vec<&'static str>,
    pub errors: Vec<RowError>,
}

/// A version's key: item, region, first day.
pub type VersionKey = (ItemCode, Option<RegionCode>, Date);

impl ParsedCatalogue {
    /// The problems of merging the file into a catalogue, as rows to fix: each on the
    /// file's first line of the item (line 0: an item the file does not carry).
    #[must_use]
    pub fn rows_of(&self, problems: &[CatalogueProblem]) -> Vec<RowError> {
        let mut first_line: HashMap<ItemCode, usize> = HashMap::new();
        for (version, line) in self.versions.iter().zip(&self.lines) {
            first_line.entry(version.item.code).or_insert(*line);
        }
        problems
            .iter()
            .map(|problem| RowError {
                line: first_line.get(&problem.code).copied().unwrap_or(0),
                column: None,
                key: Some(problem.code.to_string()),
                message: problem.message.clone(),
            })
            .collect()
    }
}

/// Reads a catalogue file (`name` says its format) for `city`, its versions citing `cite`.
pub fn parse(name: &str, bytes: &[u8], cite: &str, city: RegionCode) -> Result<ParsedCatalogue, FileError> {
    parse_table(&Table::read(name, bytes)?, cite, city)
}

/// Checks every row of `table` for `city`: a row of another province or city is skipped
/// and counted, any other becomes a version, a withdrawal or an error. A key (item,
/// region, first day) given twice in the file is an error on its second row; a row with
/// fewer cells than the header, or more that are not empty, is an error.
pub fn parse_table(table: &Table, cite: &str, city: RegionCode) -> Result<ParsedCatalogue, FileError> {
    let index = column_index(&table.header)?;
    let columns_absent = COLUMNS.iter().zip(&index).filter(|(c, i)| !c.required && i.is_none()).map(|(c, _)| c.field).collect();
    let mut parsed = ParsedCatalogue { rows: table.rows.len(), columns_absent, ..ParsedCatalogue::default() };
    let mut seen: HashMap<VersionKey, usize> = HashMap::new();
    let width = table.header.len();
    for (line, cells) in &table.rows {
        let get = |column: usize| index[column].and_then(|i| cells.get(i)).map_or("", String::as_str);
        let mut row = Row { line: *line, key: None, errors: &mut parsed.errors };
        if cells.len() < width || cells[width.min(cells.len())..].iter().any(|c| !c.is_empty()) {
            row.key = (!get(0).is_empty()).then(|| get(0).to_owned());
            row.fail(
                None,
                format!("the row has {} cells and the header {width}: a cell is missing, or a comma in a value is not quoted", cells.len()),
            );
            continue;
        }
        let outcome = row.version(get, cite, city);
        let key = match &outcome {
            Some(Outcome::Version(version)) => Some(version.key()),
            Some(Outcome::Withdrawn(key)) => Some(*key),
            Some(Outcome::Elsewhere) | None => None,
        };
        if let Some(key) = key
            && let Some(first) = seen.insert(key, *line)
        {
            row.fail(None, format!("repeats line {first}: the same item, region and begndate"));
            continue;
        }
        match outcome {
            Some(Outcome::Version(version)) => {
                parsed.versions.push(version);
                parsed.lines.push(*line);
            }
            Some(Outcome::Withdrawn(key)) => {
                parsed.withdrawn += 1;
                parsed.withdrawals.push((key, *line));
            }
            Some(Outcome::Elsewhere) => parsed.elsewhere += 1,
            None => {}
        }
    }
    Ok(parsed)
}

/// What a row says.
enum Outcome {
    Version(CatalogueVersion),
    /// Withdrawn at the source (`vali_flag` 0).
    Withdrawn(VersionKey),
    /// A version for another province or city.
    Elsewhere,
}

/// Where each of [`COLUMNS`] is in the header, refusing a missing required column and a
/// column named twice.
fn column_index(header: &[String]) -> Result<[Option<usize>; COLUMNS.len()], FileError> {
    let mut index = [None; COLUMNS.len()];
    for (position, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        if let Some(column) = COLUMNS
            .iter()
            .position(|c| c.field.eq_ignore_ascii_case(name) || c.zh == name || (!c.alias.is_empty() && c.alias.eq_ignore_ascii_case(name)))
            && index[column].replace(position).is_some()
        {
            return Err(FileError::DuplicateColumn(COLUMNS[column].field.to_owned()));
        }
    }
    if let Some(missing) = COLUMNS.iter().zip(&index).find(|(c, i)| c.required && i.is_none()) {
        return Err(FileError::MissingColumn(format!("{} ({})", missing.0.field, missing.0.zh)));
    }
    Ok(index)
}

/// One row being checked: every column's error is reported, not only the first.
struct Row<'a> {
    line: usize,
    key: Option<String>,
    errors: &'a mut Vec<RowError>,
}

impl Row<'_> {
    fn fail(&mut self, column: Option<usize>, message: String) {
        self.errors.push(RowError { line: self.line, column: column.map(|c| COLUMNS[c].field.to_owned()), key: self.key.clone(), message });
    }

    fn check<T>(&mut self, column: usize, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.fail(Some(column), message)).ok()
    }

    /// What the row says; `None` when it is wrong. The region is read first: a row of
    /// another province or city is not checked further.
    fn version<'c>(&mut self, get: impl Fn(usize) -> &'c str, cite: &str, city: RegionCode) -> Option<Outcome> {
        let errors_before = self.errors.len();
        let code_text = get(0);
        self.key = (!code_text.is_empty()).then(|| code_text.to_owned());
        let region = self.check(6, region_of(get(6)))?;
        if let Some(region) = region {
            if !city.contains(region) && region != city.province() {
                return Some(Outcome::Elsewhere);
            }
            if region.level() == yibao_domain::RegionLevel::County {
                self.fail(Some(6), format!("{region} is a county of the city: the city's catalogue applies in all its counties"));
                return None;
            }
        }
        let kind = self.check(2, ItemKind::from_list_type(get(2)).ok_or_else(|| format!("'{}' is not 101, 201 or 301", get(2))));
        let code = self.check(0, ItemCode::parse(code_text).map_err(|e| e.to_string()));
        if let (Some(code), Some(kind)) = (code, kind)
            && ItemKind::of(&code) != Some(kind)
        {
            let hint = if kind == ItemKind::Service && code_text.len() < 15 && code_text.bytes().all(|b| b.is_ascii_digit()) {
                " (a spreadsheet that stored the code as a number dropped its leading zeros: format the column as text)"
            } else {
                ""
            };
            self.fail(Some(0), format!("'{code_text}' is not the shape of a list_type {} code{hint}", kind.list_type()));
        }
        let name = get(1);
        if name.is_empty() || name.chars().count() > NAME_CHARS_MAX {
            self.fail(Some(1), format!("a name has 1 to {NAME_CHARS_MAX} characters"));
        }
        let class = self.check(3, class_of(get(3)));
        let from = self.check(4, date_of(get(4)).and_then(|d| d.ok_or_else(|| "the first day in force is required".to_owned())));
        let until = self.check(5, date_of(get(5))).flatten();
        let restricted = self.check(7, flag_of(get(7)));
        let selfpay_share = self.check(8, share_of(get(8)));
        let cap = self.check(9, cap_of(get(9)));
        let valid = self.check(10, flag_of(get(10)).map(|flag| flag || get(10).is_empty()));
        let negotiated = self.check(11, flag_of(get(11)));
        if self.errors.len() != errors_before {
            return None;
        }
        let (
            Some(code),
            Some(kind),
            Some(class),
            Some(from),
            Some(restricted),
            Some(selfpay_share),
            Some(cap),
            Some(valid),
            Some(negotiated),
        ) = (code, kind, class, from, restricted, selfpay_share, cap, valid, negotiated)
        else {
            return None;
        };
        if !valid {
            return Some(Outcome::Withdrawn((code, region, from)));
        }
        let version = CatalogueVersion {
            item: CatalogueItem { code, name: name.to_owned(), class, restricted, price_cap: [cap; 4], selfpay_share, negotiated },
            kind,
            region,
            from,
            until,
            cite: cite.to_owned(),
        };
        match version.fault() {
            Some(fault) => {
                self.fail(None, fault);
                None
            }
            None => Some(Outcome::Version(version)),
        }
    }
}

fn class_of(text: &str) -> Result<CatalogueClass, String> {
    match text {
        "01" | "1" | "A" | "甲" | "甲类" => Ok(CatalogueClass::A),
        "02" | "2" | "B" | "乙" | "乙类" => Ok(CatalogueClass::B),
        "03" | "3" | "C" | "丙" | "丙类" => Ok(CatalogueClass::C),
        _ => Err(format!("'{text}' is not 01 (class A), 02 (class B) or 03 (class C)")),
    }
}

/// A date as the files write it: `2024-01-01`, `2024/01/01`, `20240101`, or the first
/// with a time of day after it (`2024-01-01 00:00:00`, `2024-01-01T00:00:00`), which is
/// dropped. Nothing else: no sign, no other text. Empty: none.
pub(crate) fn date_of(text: &str) -> Result<Option<Date>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("'{text}' is not a date (YYYY-MM-DD)");
    let (day, time_of_day) = match text.split_once([' ', 'T']) {
        Some((day, rest)) => (day, Some(rest)),
        None => (text, None),
    };
    if let Some(rest) = time_of_day {
        let b = rest.as_bytes();
        let clock = b.len() == 8 && b[2] == b':' && b[5] == b':' && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit());
        if !clock || rest[..2] > *"23" || rest[3..5] > *"59" || rest[6..] > *"59" {
            return Err(bad());
        }
    }
    let digits = |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    let normal = match day.len() {
        8 if digits(day, 8) => format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..]),
        10 => {
            let parts: Vec<&str> = day.split(['-', '/']).collect();
            match parts.as_slice() {
                [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => format!("{y}-{m}-{d}"),
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    yibao_domain::parse_date(&normal).map(Some).map_err(|_| bad())
}

fn region_of(text: &str) -> Result<Option<RegionCode>, String> {
    match text {
        "" | "000000" => Ok(None),
        _ => RegionCode::parse(text).map(Some).map_err(|e| e.to_string()),
    }
}

pub(crate) fn flag_of(text: &str) -> Result<bool, String> {
    match text {
        "" | "0" | "否" => Ok(false),
        "1" | "是" => Ok(true),
        _ => Err(format!("'{text}' is not 0 or 1")),
    }
}

/// A share as a fraction (`0.1`, up to 4 decimals) or a percentage (`10%`).
fn share_of(text: &str) -> Result<Option<RatioBp>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.ends_with('%') {
        return RatioBp::parse_percent(text).map(Some).map_err(|e| e.to_string());
    }
    let bad = || format!("'{text}' is not a share from 0 to 1 (0.1) or a percentage (10%)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 4 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) || whole.len() > 1 {
        return Err(bad());
    }
    let digits: u32 = format!("{whole}{fraction:0<4}").parse().map_err(|_| bad())?;
    if digits > 10_000 {
        return Err(bad());
    }
    Ok(Some(RatioBp::new(digits)))
}

fn cap_of(text: &str) -> Result<Option<Fen>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match Fen::parse_yuan(text) {
        Ok(fen) if fen.is_negative() || fen.is_zero() => Err(format!("a price cap of {text} yuan is not above zero")),
        Ok(fen) => Ok(Some(fen)),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_dates_and_classes_as_the_files_write_them() {
        assert_eq!(share_of("0.1"), Ok(Some(RatioBp::new(1_000))));
        assert_eq!(share_of("0.05"), Ok(Some(RatioBp::new(500))));
        assert_eq!(share_of("1"), Ok(Some(RatioBp::FULL)));
        assert_eq!(share_of("15%"), Ok(Some(RatioBp::new(1_500))));
        assert_eq!(share_of(""), Ok(None));
        for bad in ["1.5", "0.12345", "-0.1", "ten", ".1", "10"] {
            assert!(share_of(bad).is_err(), "{bad}");
        }
        let day = time::macros::date!(2024 - 01 - 01);
        for text in ["2024-01-01", "2024/01/01", "20240101", "2024-01-01 00:00:00"] {
            assert_eq!(date_of(text), Ok(Some(day)), "{text}");
        }
        for bad in
            ["2024-13-01", "-2024-01-01", "+2024-01-01", "2024-12-31 or 2025-06-30", "2024-01-01 25:00:00", "2024-1-01", "2024-01/01x"]
        {
            assert!(date_of(bad).is_err(), "{bad}");
        }
        assert_eq!(date_of("2024-01-01T08:30:00"), Ok(Some(day)));
        assert_eq!(class_of("乙类"), Ok(CatalogueClass::B));
        assert!(class_of("04").is_err());
        assert!(cap_of("0").is_err());
        assert_eq!(cap_of("12.5"), Ok(Some(Fen::new(1_250))));
    }
}
