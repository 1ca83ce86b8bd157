//! The household register's residents (户籍人口), as the public security bureau hands them
//! to the medical insurance bureau: the population who should be insured, for the report of
//! those who are not (漏保, R-ENR-2; issue 16 item 4). One row per person; the file's other
//! columns are left alone. Pure: callers pass the table.

use std::collections::HashMap;

use yibao_domain::{NationalId, PersonName, RegionCode};

use crate::catalogue::Column;
use crate::{FileError, RowError, Table};

pub const RESIDENT_COLUMNS: [Column; 4] = [
    Column::new("person_id", "公民身份号码", true, "18-character national ID (GB 11643, check digit)"),
    Column::new("name", "姓名", true, "name as on the ID card"),
    Column::new("region", "户籍地区划", true, "the county or district of the household register (6-digit GB/T 2260 code)"),
    Column::new("household_id", "户号", false, "the register's household number"),
];

/// A resident of the register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    pub line: usize,
    pub person_id: NationalId,
    pub name: PersonName,
    pub region: RegionCode,
    pub household_id: String,
}

/// The register's residents that hold, and the rows to fix (a person listed twice is an
/// error on the second row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Residents {
    pub residents: Vec<Resident>,
    pub rows: usize,
    pub errors: Vec<RowError>,
}

/// Checks every row of the register's file.
pub fn parse_residents(table: Table) -> Result<Residents, FileError> {
    let mut index = [None; RESIDENT_COLUMNS.len()];
    for (position, name) in table.header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        if let Some(column) = RESIDENT_COLUMNS.iter().position(|c| c.field.eq_ignore_ascii_case(name) || c.zh == name)
            && index[column].replace(position).is_some()
        {
            return Err(FileError::DuplicateColumn(RESIDENT_COLUMNS[column].field.to_owned()));
        }
    }
    if let Some((missing, _)) = RESIDENT_COLUMNS.iter().zip(&index).find(|(c, i)| c.required && i.is_none()) {
        return Err(FileError::MissingColumn(format!("{} ({})", missing.field, missing.zh)));
    }
    let mut out = Residents { rows: table.rows.len(), ..Residents::default() };
    let mut seen: HashMap<NationalId, usize> = HashMap::new();
    for (line, cells) in table.rows {
        let get = |column: usize| index[column].and_then(|i| cells.get(i)).map_or("", String::as_str);
        let mut fail = |column: Option<usize>, message: String| {
            out.errors.push(RowError {
                line,
                column: column.map(|c| RESIDENT_COLUMNS[c].field.to_owned()),
                key: Some(get(0).to_owned()),
                message,
            });
        };
        let person_id = NationalId::parse(get(0)).map_err(|e| fail(Some(0), e.to_string())).ok();
        let name = PersonName::parse(get(1)).map_err(|e| fail(Some(1), e.to_string())).ok();
        let region = RegionCode::parse(get(2)).map_err(|e| fail(Some(2), e.to_string())).ok();
        let (Some(person_id), Some(name), Some(region)) = (person_id, name, region) else { continue };
        if let Some(first) = seen.insert(person_id, line) {
            fail(Some(0), format!("{person_id} is on line {first} already"));
            continue;
        }
        out.residents.push(Resident { line, person_id, name, region, household_id: get(3).to_owned() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residents_are_read_by_either_header_and_a_repeat_is_an_error() {
        let id = NationalId::from_parts(RegionCode::parse("419921").expect("region"), time::macros::date!(1990 - 01 - 01), 7)
            .expect("an id")
            .to_string();
        let text =
            format!("户号,公民身份号码,姓名,户籍地区划,民族\nR1,{id},张三,419921,汉\nR1,{id},张三,419921,汉\nR2,12345,李四,419921,汉\n");
        let parsed = parse_residents(Table::read("r.csv", text.as_bytes()).expect("a table")).expect("readable");
        assert_eq!(parsed.rows, 3);
        assert_eq!(parsed.residents.len(), 1);
        assert_eq!(parsed.residents[0].household_id, "R1");
        assert_eq!(
            parsed.errors.iter().map(|e| (e.line, e.column.as_deref())).collect::<Vec<_>>(),
            [(3, Some("person_id")), (4, Some("person_id"))]
        );
    }
}
