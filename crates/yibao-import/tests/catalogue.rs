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
    let parsed = parse("list.csv", GOOD_CSV.as_bytes(), CITE).expect("reads");
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
    let utf8 = parse("list.csv", GOOD_CSV.as_bytes(), CITE).expect("reads");
    let (gbk, _, lossy) = encoding_rs::GBK.encode(GOOD_CSV);
    assert!(!lossy);
    let from_gbk = parse("list.csv", &gbk, CITE).expect("reads GBK");
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
    let from_xlsx = parse("目录.xlsx", &bytes, CITE).expect("reads xlsx");
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
001201000010003,exam,201,01,2024-01-01,,410102,
001201000010004,exam,201,01,2024-01-01,,,0.1
C01010101001000000000000001,stent,301,02,2024-01-01,,,1.5
001201000010005,exam,201,01,2024-01-01,,,
001201000010005,exam again,201,01,2024-01-01,,,
";
    let parsed = parse("list.csv", text.as_bytes(), CITE).expect("reads");
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
            (6, None),                 // a county's version
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
    let refused = parse("list.csv", text.as_bytes(), CITE).expect_err("no class column");
    assert_eq!(refused, FileError::MissingColumn("chrgitm_lv (收费项目等级)".into()));
    let twice = "hilist_code,医保目录编码,hilist_name,list_type,chrgitm_lv,begndate\n";
    assert_eq!(parse("list.csv", twice.as_bytes(), CITE).map(|_| ()), Err(FileError::DuplicateColumn("hilist_code".into())));
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
    let parsed = parse("national-catalogue-sample.csv", shipped.as_bytes(), CITE).expect("reads");
    assert!(parsed.errors.is_empty(), "{:?}", &parsed.errors[..parsed.errors.len().min(5)]);
    assert!(parsed.withdrawn > 0 && parsed.versions.len() > 2 * SAMPLE_ITEMS, "{} versions", parsed.versions.len());
    assert!(parsed.versions.iter().any(|v| v.region.is_some()), "some provincial versions");
    let catalogue = Catalogue::build(parsed.versions).expect("no overlaps");
    let kinds: std::collections::BTreeSet<ItemKind> = catalogue.versions().map(|v| v.kind).collect();
    assert_eq!(kinds.len(), 3, "all three lists");
}

const SAMPLE_ITEMS: usize = 2_000;
