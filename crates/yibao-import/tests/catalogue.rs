//! The national catalogue's files as a bureau receives them: the same rows from CSV (UTF-8
//! or GBK) and from xlsx (dates as date cells, numbers as numbers) read the same; every
//! wrong row is reported with its line and column, and nothing else is taken from it.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use time::macros::date;
use yibao_domain::{CatalogueClass, Fen, ItemCode, ItemKind, RatioBp, RegionCode};
use yibao_import::catalogue::parse;
use yibao_import::{FileError, error_report_csv};
use yibao_policy::Catalogue;

const CITE: &str = "医保发〔2024〕33号";

/// The city the files are loaded for (province 41).
fn city() -> RegionCode {
    RegionCode::parse("419900").expect("city")
}

const GOOD_CSV: &str = "\
医保目录编码,医保目录名称,目录类别,收费项目等级,开始日期,结束日期,医保区划,限制使用标志,先行自付比例,医保目录定价上限金额,有效标志,拼音助记码
XA01ABD075A002010100483,阿司匹林肠溶片,101,02,2024-01-01,2024-12-31,,0,0.1,,1,asplcrp
XA01ABD075A002010100483,阿司匹林肠溶片,101,01,2025-01-01,,,0,,,1,asplcrp
001201000010000,床位费,201,01,20240101,,410000,0,,45.5,1,cwf
C01010101001000000000000001,冠状动脉支架,301,02,2024-01-01 00:00:00,,,1,15%,5000,1,gzdmzj
ZA01AAA0001010101234,板蓝根颗粒,101,甲类,2024-01-01,,,0,,,0,blgkl
";

#[test]
fn a_good_file_reads_into_versions() {
    let parsed = parse("list.csv", GOOD_CSV.as_bytes(), CITE, city()).expect("reads");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!((parsed.rows, parsed.versions.len(), parsed.withdrawn), (5, 4, 1));
    assert_eq!(parsed.lines, [2, 3, 4, 5]);
    let aspirin = &parsed.versions[0];
    assert_eq!(aspirin.item.code, ItemCode::parse("XA01ABD075A002010100483").expect("code"));
    assert_eq!(
        (aspirin.kind, aspirin.item.class, aspirin.item.selfpay_share),
        (ItemKind::Medicine, CatalogueClass::B, Some(RatioBp::new(1_000)))
    );
    assert_eq!((aspirin.from, aspirin.until, aspirin.region), (date!(2024 - 01 - 01), Some(date!(2024 - 12 - 31)), None));
    assert_eq!(aspirin.cite, CITE);
    let bed = &parsed.versions[2];
    assert_eq!(bed.region, Some(RegionCode::parse("410000").expect("region")));
    assert_eq!(bed.item.price_cap, [Some(Fen::new(4_550)); 4]);
    let stent = &parsed.versions[3];
    assert_eq!((stent.item.restricted, stent.item.selfpay_share), (true, Some(RatioBp::new(1_500))));
    let catalogue = Catalogue::build(parsed.versions).expect("a catalogue");
    assert_eq!(catalogue.len(), 4);
}

#[test]
fn the_same_rows_in_gbk_and_in_xlsx_read_the_same() {
    let utf8 = parse("list.csv", GOOD_CSV.as_bytes(), CITE, city()).expect("reads");
    let (gbk, _, lossy) = encoding_rs::GBK.encode(GOOD_CSV);
    assert!(!lossy);
    let from_gbk = parse("list.csv", &gbk, CITE, city()).expect("reads GBK");
    assert_eq!(from_gbk.versions, utf8.versions);

    // The workbook a bureau's spreadsheet saves: dates as date cells, the cap and flags as
    // numbers, the codes as text.
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (row, line) in GOOD_CSV.lines().enumerate() {
        let row = u32::try_from(row).expect("row");
        for (column, cell) in line.split(',').enumerate() {
            let column = u16::try_from(column).expect("column");
            let is_date = row > 0 && (column == 4 || column == 5) && cell.len() == 10 && cell.as_bytes()[4] == b'-';
            let is_number = row > 0 && matches!(column, 7 | 9 | 10) && !cell.is_empty();
            if is_date {
                let (y, m, d) = (cell[..4].parse().expect("y"), cell[5..7].parse().expect("m"), cell[8..].parse().expect("d"));
                sheet
                    .write_datetime_with_format(row, column, ExcelDateTime::from_ymd(y, m, d).expect("date"), &date_format)
                    .expect("write");
            } else if is_number {
                sheet.write_number(row, column, cell.parse::<f64>().expect("number")).expect("write");
            } else if !cell.is_empty() {
                sheet.write_string(row, column, cell).expect("write");
            }
        }
    }
    let bytes = workbook.save_to_buffer().expect("xlsx");
    let from_xlsx = parse("目录.xlsx", &bytes, CITE, city()).expect("reads xlsx");
    assert!(from_xlsx.errors.is_empty(), "{:?}", from_xlsx.errors);
    assert_eq!(from_xlsx.versions, utf8.versions);
    assert_eq!(from_xlsx.withdrawn, 1);
}

#[test]
fn every_wrong_row_is_reported_with_its_line_and_column() {
    let text = "\
hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate,insu_admdvs,selfpay_prop
XA01ABD075A002010100483,aspirin,201,02,2024-01-01,,,0.1
1201000010000,bed,201,01,2024-01-01,,,
001201000010001,,201,04,2024-13-01,,,
001201000010002,exam,201,01,2024-01-01,2023-12-31,,
001201000010003,exam,201,01,2024-01-01,,419921,
001201000010004,exam,201,01,2024-01-01,,,0.1
C01010101001000000000000001,stent,301,02,2024-01-01,,,1.5
001201000010005,exam,201,01,2024-01-01,,,
001201000010005,exam again,201,01,2024-01-01,,,
";
    let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
    let found: Vec<(usize, Option<&str>)> = parsed.errors.iter().map(|e| (e.line, e.column.as_deref())).collect();
    assert_eq!(
        found,
        [
            (2, Some("hilist_code")), // a medicine's code under list_type 201
            (3, Some("hilist_code")), // 13 digits: the leading zeros a spreadsheet dropped
            (4, Some("hilist_name")),
            (4, Some("chrgitm_lv")),
            (4, Some("begndate")),
            (5, None),                 // ends before it begins
            (6, Some("insu_admdvs")),  // a county's version
            (7, None),                 // a share on a class A item
            (8, Some("selfpay_prop")), // 150%
            (10, None),                // repeats line 9
        ],
        "{:#?}",
        parsed.errors
    );
    assert!(parsed.errors[1].message.contains("leading zeros"), "{}", parsed.errors[1].message);
    assert_eq!(parsed.errors[0].key.as_deref(), Some("XA01ABD075A002010100483"));
    assert_eq!(parsed.versions.len(), 1, "only line 9 is good");
    let report = error_report_csv(&parsed.errors);
    assert_eq!(report.lines().count(), 11, "a header and one line per error");
    assert!(report.contains("10,,001201000010005,\"repeats line 9"), "{report}");
}

#[test]
fn a_file_without_a_required_column_is_refused_whole() {
    let text = "hilist_code,hilist_name,list_type,begndate\n001201000010000,bed,201,2024-01-01\n";
    let refused = parse("list.csv", text.as_bytes(), CITE, city()).expect_err("no class column");
    assert_eq!(refused, FileError::MissingColumn("chrgitm_lv (收费项目等级)".into()));
    let twice = "hilist_code,医保目录编码,hilist_name,list_type,chrgitm_lv,begndate\n";
    assert_eq!(parse("list.csv", twice.as_bytes(), CITE, city()).map(|_| ()), Err(FileError::DuplicateColumn("hilist_code".into())));
}

/// The shipped sample (`examples/catalogue/national-catalogue-sample.csv`, what a clerk
/// tries `yibao catalogue load` on first) is the generator's demo catalogue, and loads
/// clean. `YIBAO_BLESS=1` writes it again after the generator changed.
#[test]
fn the_shipped_sample_is_the_demo_catalogue_and_loads_clean() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/catalogue/national-catalogue-sample.csv");
    let generated = yibao_synth::national_catalogue_csv(SAMPLE_ITEMS, 2026, "410000");
    if std::env::var_os("YIBAO_BLESS").is_some() {
        std::fs::write(path, &generated).expect("write the sample");
    }
    let shipped = std::fs::read_to_string(path).expect("the sample");
    assert!(shipped == generated, "the shipped sample is not the generator's output: run with YIBAO_BLESS=1");
    let parsed = parse("national-catalogue-sample.csv", shipped.as_bytes(), CITE, city()).expect("reads");
    assert!(parsed.errors.is_empty(), "{:?}", &parsed.errors[..parsed.errors.len().min(5)]);
    assert!(parsed.withdrawn > 0 && parsed.versions.len() > 2 * SAMPLE_ITEMS, "{} versions", parsed.versions.len());
    assert!(parsed.versions.iter().any(|v| v.region.is_some()), "some provincial versions");
    let catalogue = Catalogue::build(parsed.versions).expect("no overlaps");
    let kinds: std::collections::BTreeSet<ItemKind> = catalogue.versions().map(|v| v.kind).collect();
    assert_eq!(kinds.len(), 3, "all three lists");
}

const SAMPLE_ITEMS: usize = 2_000;

const HEADER: &str = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,enddate,insu_admdvs,lmt_used_flag,selfpay_prop,hilist_pric_uplmt_amt,vali_flag\n";

/// A row cut short (the exporter dropped trailing cells, or a line broke) or too long (an
/// unquoted comma in a name shifts every column after it) is an error, never read with its
/// missing cells as "none" (open-ended, unrestricted, uncapped). Empty trailing cells are
/// nothing missing. (Hostile review.)
#[test]
fn a_row_of_another_width_than_the_header_is_refused() {
    let text = format!(
        "{HEADER}XA01ABD075A002010100483,aspirin,101,02,2024-01-01\n001201000010000,bed,201,01,2024-01-01,,,0,,45,1,extra\n\
         001201000010001,exam,201,01,2024-01-01,,,0,,,1,,\n"
    );
    let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
    assert_eq!(parsed.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3], "{:?}", parsed.errors);
    assert!(parsed.errors[0].message.contains("5 cells and the header 11"), "{}", parsed.errors[0].message);
    assert_eq!(parsed.versions.len(), 1, "the row with empty cells after the last column is read");
}

/// A date is a date and nothing else: no text after it, no sign. (Hostile review.)
#[test]
fn a_date_with_more_than_a_date_is_refused() {
    for (begin, end) in [("2024-01-01", "2024-12-31 or 2025-06-30"), ("-2024-01-01", ""), ("+2024-01-01", "")] {
        let text = format!("{HEADER}001201000010000,bed,201,01,{begin},{end},,0,,,1\n");
        let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
        assert_eq!(parsed.errors.len(), 1, "{begin} {end}: {:?}", parsed.versions);
    }
}

/// A withdrawn row (`vali_flag` 0) names the version it withdraws; merged, the version
/// held under that key no longer applies, and a key not held withdraws nothing.
/// (Hostile review: it used to stay in force.)
#[test]
fn a_withdrawn_row_withdraws_the_version_held() {
    let first = format!("{HEADER}XA01ABD075A002010100483,aspirin,101,01,2024-01-01,,,0,,,1\n");
    let held = Catalogue::build(parse("a.csv", first.as_bytes(), CITE, city()).expect("reads").versions).expect("catalogue");
    let withdrawal =
        format!("{HEADER}XA01ABD075A002010100483,aspirin,101,01,2024-01-01,,,0,,,0\n001201000010000,bed,201,01,2024-01-01,,,0,,,0\n");
    let parsed = parse("b.csv", withdrawal.as_bytes(), CITE, city()).expect("reads");
    assert_eq!((parsed.withdrawn, parsed.withdrawals.len(), parsed.versions.len()), (2, 2, 0));
    let keys: Vec<_> = parsed.withdrawals.iter().map(|(key, _)| *key).collect();
    let merge = held.merged(parsed.versions, &keys).expect("merges");
    assert_eq!(merge.counts.removed, 1);
    let code = ItemCode::parse("XA01ABD075A002010100483").expect("code");
    assert!(merge.catalogue.version_on(&code, city(), date!(2024 - 06 - 01)).is_none(), "the withdrawn version no longer applies");
}

/// Rows for another province, another city or a county of another city are skipped and
/// counted, not checked: a provincial file with its counties' supplements loads. A county
/// of this city is an error (the city's catalogue applies in all its counties).
/// (Hostile review: a county row refused the whole file.)
#[test]
fn rows_of_other_regions_are_skipped_and_counted() {
    let text = format!(
        "{HEADER}001201000010000,bed,201,01,2024-01-01,,410000,0,,,1\n001201000010000,bed,201,01,2024-01-01,,410322,0,,,1\n\
         001201000010000,bed,201,09,2024-01-01,,420000,0,,,1\n001201000010000,bed,201,01,2024-01-01,,410100,0,,,1\n"
    );
    let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(
        (parsed.versions.len(), parsed.elsewhere),
        (1, 3),
        "even a wrong class in another province's row is not this city's to refuse"
    );
}

/// The cap under the name of the platform's own 1312 download (`pric_uplmt_amt`) is read;
/// an optional column the file does not have (here a misspelt `lmt_used_flg`) is named in
/// `columns_absent`, so the dry run says every row reads it as empty. (Hostile review: the
/// cap and restriction were dropped without a word.)
#[test]
fn the_cap_is_read_under_its_other_name_and_absent_columns_are_named() {
    let text = "hilist_code,hilist_name,list_type,chrgitm_lv,begndate,pric_uplmt_amt,lmt_used_flg\n\
                XA01ABD075A002010100483,aspirin,101,01,2024-01-01,12.50,1\n";
    let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
    assert_eq!(parsed.versions[0].item.price_cap, [Some(Fen::new(1_250)); 4]);
    assert_eq!(parsed.columns_absent, ["enddate", "insu_admdvs", "lmt_used_flag", "selfpay_prop", "vali_flag", "hi_nego_drug_flag"]);
}

/// A spreadsheet date cell outside Excel's dates is refused, not clamped to 9999-12-31 or
/// to the epoch. (Hostile review.)
#[test]
fn a_date_cell_out_of_range_is_refused() {
    for serial in [1e20_f64, -5.0] {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (column, name) in HEADER.trim_end().split(',').enumerate() {
            sheet.write_string(0, u16::try_from(column).expect("column"), name).expect("write");
        }
        for (column, cell) in ["001201000010000", "bed", "201", "01", "2024-01-01"].iter().enumerate() {
            sheet.write_string(1, u16::try_from(column).expect("column"), *cell).expect("write");
        }
        sheet.write_number_with_format(1, 5, serial, &Format::new().set_num_format("yyyy-mm-dd")).expect("write");
        let parsed = parse("list.xlsx", &workbook.save_to_buffer().expect("xlsx"), CITE, city()).expect("reads");
        assert_eq!(
            parsed.errors.iter().map(|e| e.column.as_deref()).collect::<Vec<_>>(),
            [Some("enddate")],
            "{serial}: {:?}",
            parsed.versions
        );
    }
}

/// 谈判药品 (R-PAY-2): `hi_nego_drug_flag` 1 marks a version whose price cap is the
/// negotiated price; a negotiated row without a price is refused with its line and column.
#[test]
fn a_negotiated_drug_carries_its_negotiated_price() {
    let header = HEADER.trim_end().to_owned() + ",hi_nego_drug_flag\n";
    let text = format!(
        "{header}XL01XCQ065B001010100981,trastuzumab,101,02,2025-01-01,,,1,,5500.00,1,1\n\
         XA01ABD075A002010100483,aspirin,101,01,2025-01-01,,,0,,,1,0\n\
         XL01XCQ065B001010100982,trastuzumab without a price,101,02,2025-01-01,,,1,,,1,1\n"
    );
    let parsed = parse("list.csv", text.as_bytes(), CITE, city()).expect("reads");
    let negotiated: Vec<(String, bool)> = parsed.versions.iter().map(|v| (v.item.name.clone(), v.item.negotiated)).collect();
    assert_eq!(negotiated, [("trastuzumab".to_owned(), true), ("aspirin".to_owned(), false)]);
    assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
    assert_eq!(parsed.errors[0].line, 4);
    assert!(parsed.errors[0].message.contains("谈判药品"), "{}", parsed.errors[0].message);
}
