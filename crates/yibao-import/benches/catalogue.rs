//! The catalogue loader at the national list's scale (issue 13: 200,000 rows): reading the
//! file, checking every row and building the dated catalogue, from CSV and from xlsx.
//!
//! Run: `cargo bench -p yibao-import --bench catalogue`. divan prints the time per file and
//! the rows per second.

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::ItemsCount;
use rust_xlsxwriter::Workbook;
use yibao_policy::Catalogue;

fn main() {
    divan::main();
}

/// Items generated: about two rows each, 205,000 rows in all.
const ITEMS: usize = 100_000;

static CSV: LazyLock<String> = LazyLock::new(|| yibao_synth::national_catalogue_csv(ITEMS, 2026, "410000"));

static XLSX: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (row, line) in CSV.lines().enumerate() {
        for (column, cell) in line.split(',').enumerate() {
            if !cell.is_empty() {
                sheet.write_string(u32::try_from(row).expect("row"), u16::try_from(column).expect("column"), cell).expect("write");
            }
        }
    }
    workbook.save_to_buffer().expect("xlsx")
});

fn city() -> yibao_domain::RegionCode {
    yibao_domain::RegionCode::parse("419900").expect("city")
}

fn rows() -> usize {
    CSV.lines().count() - 1
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn csv_file(bencher: Bencher<'_, '_>) {
    let rows = rows();
    bencher.counter(ItemsCount::new(rows)).bench(|| {
        let parsed = yibao_import::catalogue::parse("national.csv", CSV.as_bytes(), "bench", city()).expect("reads");
        assert!(parsed.errors.is_empty());
        Catalogue::build(parsed.versions).expect("a catalogue").len()
    });
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn xlsx_file(bencher: Bencher<'_, '_>) {
    let rows = rows();
    let bytes = &*XLSX;
    bencher.counter(ItemsCount::new(rows)).bench(|| {
        let parsed = yibao_import::catalogue::parse("national.xlsx", bytes, "bench", city()).expect("reads");
        assert!(parsed.errors.is_empty());
        Catalogue::build(parsed.versions).expect("a catalogue").len()
    });
}
