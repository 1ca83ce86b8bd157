//! A legacy system's extract at go-live (数据迁移, R-SYS-3; issue 16): the register and its
//! money as the old system held them at the cut-off, in four files of documented columns
//! (`docs/migration.md`), each CSV (UTF-8 or GB 18030) or a spreadsheet:
//!
//! - `households`: the households (户), one row each;
//! - `persons`: every insured person with the coverage the engine reads (scheme, category,
//!   start, tier and its changes, card, groups, certified diseases) and the personal
//!   account's balance at the cut-off;
//! - `contributions` (optional): what each person paid, per kind and period;
//! - `accumulators` (optional): each person's year-to-date counters at the cut-off, so that
//!   deductibles and caps go on counting where the old system left them.
//!
//! and the legacy system's own **control totals** (`control`): its counts and sums by
//! county, independent of the rows, so that rows or amounts lost between the old system and
//! here (a file left out, a column misnamed) are caught before anything is loaded.
//!
//! Every row is checked on its own (check digits, codes, dates, amounts), then against the
//! other files (a household named twice, a person in no household, a contribution of a
//! person the extract does not carry). A wrong row is reported, never guessed at; the rows
//! that depend on it (a household's members, a person's contributions) are held back with
//! it and counted, so that the legacy team fixes the one row. What needs the policy or the
//! store (a county of the city, a tier the city has, a person already enrolled) is the
//! application's to check. Pure: callers pass the tables.

use std::collections::{HashMap, HashSet};

use time::Date;
use yibao_domain::{
    AssistanceGroup, ContributionKind, Fen, HouseholdId, NationalId, Period, PersonCategory, PersonName, RegionCode, Scheme, Tier,
};
use yibao_engine::{Accumulators, Coverage, TierChange, TierHistory};

use crate::catalogue::{Column, date_of, flag_of};
use crate::{FileError, RowError, Table};

/// Most certified diseases one person's row may name.
pub const DISEASES_MAX: usize = 32;
/// Largest personal-account balance believed: a lifetime of an employee's credits is a few
/// hundred thousand yuan; beyond this a column holds something else (fen, an account
/// number).
pub const PERSONAL_ACCOUNT_MAX: Fen = Fen::yuan(1_000_000);
/// Largest contribution paid or monthly wage base believed, per row.
pub const CONTRIBUTION_MAX: Fen = Fen::yuan(1_000_000);
/// Largest year-to-date counter believed: the engine's largest bill.
pub const ACCUMULATOR_MAX: Fen = yibao_engine::BILL_LIMIT;

/// The files of an extract: four of rows, the employers, and the control totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegacyFile {
    Households,
    Persons,
    Contributions,
    Accumulators,
    Control,
    /// The employers (参保单位) registered in the legacy system.
    Employers,
    /// The inpatient stays open at the cut-off (在院未结算): admitted, not yet discharged
    /// and settled.
    Stays,
    /// The designated institutions (定点医药机构) the legacy system paid.
    Institutions,
}

impl LegacyFile {
    pub const ALL: [LegacyFile; 4] = [LegacyFile::Households, LegacyFile::Persons, LegacyFile::Contributions, LegacyFile::Accumulators];

    /// The file's name without its extension, as the extract's directory holds it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            LegacyFile::Households => "households",
            LegacyFile::Persons => "persons",
            LegacyFile::Contributions => "contributions",
            LegacyFile::Accumulators => "accumulators",
            LegacyFile::Control => "control",
            LegacyFile::Employers => "employers",
            LegacyFile::Stays => "stays",
            LegacyFile::Institutions => "institutions",
        }
    }

    /// Whether an extract must carry it.
    #[must_use]
    pub const fn required(self) -> bool {
        matches!(self, LegacyFile::Households | LegacyFile::Persons | LegacyFile::Control)
    }

    #[must_use]
    pub fn columns(self) -> &'static [Column] {
        match self {
            LegacyFile::Households => &HOUSEHOLD_COLUMNS,
            LegacyFile::Persons => &PERSON_COLUMNS,
            LegacyFile::Contributions => &CONTRIBUTION_COLUMNS,
            LegacyFile::Accumulators => &ACCUMULATOR_COLUMNS,
            LegacyFile::Control => &CONTROL_COLUMNS,
            LegacyFile::Employers => &EMPLOYER_COLUMNS,
            LegacyFile::Stays => &STAY_COLUMNS,
            LegacyFile::Institutions => &INSTITUTION_COLUMNS,
        }
    }

    /// The file a name (`persons.csv`, `Persons.XLSX`) is, by its stem.
    #[must_use]
    pub fn of_name(name: &str) -> Option<LegacyFile> {
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let stem = file.split_once('.').map_or(file, |(stem, _)| stem);
        LegacyFile::ALL
            .into_iter()
            .chain([LegacyFile::Control, LegacyFile::Employers, LegacyFile::Stays, LegacyFile::Institutions])
            .find(|f| f.name().eq_ignore_ascii_case(stem))
    }
}

impl std::fmt::Display for LegacyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub const HOUSEHOLD_COLUMNS: [Column; 3] = [
    Column::new("household_id", "户号", true, "the household's number in the legacy register"),
    Column::new("region", "参保地区划", true, "the county or district (6-digit GB/T 2260 code)"),
    Column::new("address", "住址", true, "the household's address"),
];

pub const PERSON_COLUMNS: [Column; 19] = [
    Column::new("person_id", "公民身份号码", true, "18-character national ID (GB 11643, check digit)"),
    Column::new("name", "姓名", true, "name as on the ID card"),
    Column::new("household_id", "户号", true, "the household (in the households file)"),
    Column::new("region", "参保地区划", true, "where the person is insured: the household's county"),
    Column::new("scheme", "险种", true, "employee (310, 职工) or resident (390, 居民)"),
    Column::new("category", "人员类别", true, "employed (在职), retired (退休) or resident (居民)"),
    Column::new("coverage_from", "参保开始日期", true, "first day of coverage (YYYY-MM-DD)"),
    Column::new("coverage_until", "参保终止日期", false, "last day of coverage, when it has ended; empty: insured"),
    Column::new("tier", "缴费档次", false, "the tier chosen at enrolment (1 to 4), where the city has tiers"),
    Column::new("tier_changes", "档次变更", false, "changes asked for, `YYYY-MM-DD:N` separated by `;` (the day asked, the tier)"),
    Column::new("card_no", "社会保障卡号", false, "social-security card or e-voucher number (R-SYS-4)"),
    Column::new(
        "assistance_group",
        "救助类别",
        false,
        "destitute, dibao, low-income, impoverished-by-illness or registered-poor; empty: none",
    ),
    Column::new("supplementary", "补充医疗保险", false, "1: enrolled in supplementary insurance"),
    Column::new("maternity", "生育保险", false, "1: an employee with maternity insurance"),
    Column::new("civil_servant", "公务员医疗补助", false, "1: under the civil servants' medical subsidy"),
    Column::new("enterprise_supplementary", "企业补充医疗保险", false, "1: the employer has supplementary insurance"),
    Column::new("chronic_diseases", "认定慢特病", false, "ICD-10 prefixes of certified diseases, separated by `;`"),
    Column::new("personal_account_balance", "个人账户余额", false, "an employee's personal-account balance at the cut-off, yuan"),
    Column::new(
        "carried_months",
        "视同及转入缴费月数",
        false,
        "months of employee contributions before the legacy register's own (deemed, or transferred in), 0 to 720",
    ),
];

pub const CONTRIBUTION_COLUMNS: [Column; 5] = [
    Column::new("person_id", "公民身份号码", true, "the person (in the persons file)"),
    Column::new("kind", "缴费类型", true, "resident, employee, supplementary or maternity"),
    Column::new("period", "缴费期间", true, "YYYY for resident and supplementary, YYYY-MM for employee and maternity"),
    Column::new("paid", "实缴金额", true, "what was paid, yuan"),
    Column::new("wage_monthly", "缴费基数", false, "an employee's monthly wage base, yuan"),
];

/// The accumulators' counters, in their national order of the 5206 query, after
/// `person_id` and `year`: the field each column sets.
const ACCUMULATOR_FIELDS: [(&str, &str); 18] = [
    ("inpatient_deductible_paid", "住院起付线累计"),
    ("pooled_paid", "统筹基金支付累计"),
    ("outpatient_deductible_paid", "门诊起付线累计"),
    ("outpatient_pooled_paid", "门诊统筹支付累计"),
    ("chronic_deductible_paid", "慢特病起付线累计"),
    ("chronic_paid", "慢特病支付累计"),
    ("inscope_burden", "合规自付累计"),
    ("critical_paid", "大病保险支付累计"),
    ("assistance_deductible_paid", "医疗救助起付线累计"),
    ("assistance_paid", "医疗救助支付累计"),
    ("supplementary_paid", "补充保险支付累计"),
    ("maternity_paid", "生育基金支付累计"),
    ("two_disease_deductible_paid", "两病起付线累计"),
    ("two_disease_paid", "两病支付累计"),
    ("special_drug_deductible_paid", "特药起付线累计"),
    ("special_drug_paid", "特药支付累计"),
    ("civil_servant_paid", "公务员补助支付累计"),
    ("enterprise_supplementary_paid", "企业补充保险支付累计"),
];

pub const ACCUMULATOR_COLUMNS: [Column; 21] = {
    let mut columns = [Column::new("", "", false, "a year-to-date amount, yuan; empty: 0"); 21];
    columns[0] = Column::new("person_id", "公民身份号码", true, "the person (in the persons file)");
    columns[1] = Column::new("year", "年度", true, "the year the counters are of");
    columns[2] = Column::new("admissions", "住院次数", false, "inpatient admissions this year");
    let mut i = 0;
    while i < ACCUMULATOR_FIELDS.len() {
        columns[3 + i] = Column::new(ACCUMULATOR_FIELDS[i].0, ACCUMULATOR_FIELDS[i].1, false, "a year-to-date amount, yuan; empty: 0");
        i += 1;
    }
    columns
};

pub const CONTROL_COLUMNS: [Column; 3] = [
    Column::new("region", "参保地区划", true, "the county or district"),
    Column::new("measure", "项目", true, "what is counted or summed (docs/migration.md lists them)"),
    Column::new("value", "数值", true, "a count, or an amount in yuan for a measure ending in 'amount'"),
];

/// One control total as the legacy system counted it: an amount in fen for a measure
/// ending in `amount`, else a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlTotal {
    pub line: usize,
    pub region: RegionCode,
    pub measure: String,
    pub value: i64,
}

/// Whether a measure's figures are amounts (yuan in files, fen inside).
#[must_use]
pub fn is_amount(measure: &str) -> bool {
    measure.ends_with(" amount")
}

/// Reads the control totals: one row per county and measure.
pub fn parse_control(table: Table) -> Result<(Vec<ControlTotal>, Vec<LegacyRowError>), FileError> {
    let mut errors = Vec::new();
    let rows = rows_of(LegacyFile::Control, table, &mut errors)?;
    let mut seen: HashMap<(RegionCode, String), usize> = HashMap::new();
    let mut totals = Vec::with_capacity(rows.len());
    for (line, cells) in rows {
        let mut row = Row::new(LegacyFile::Control, line, &mut errors);
        row.key = Some(format!("{} {}", cells[0], cells[1]));
        let region = row.check(0, RegionCode::parse(&cells[0]).map_err(|e| e.to_string()));
        let measure = cells[1].split_whitespace().collect::<Vec<_>>().join(" ");
        if measure.is_empty() || measure.len() > 80 {
            row.fail(Some(1), "a measure is named (docs/migration.md)".into());
        }
        let value = if is_amount(&measure) {
            row.check(2, total_of(&cells[2]))
        } else {
            row.check(
                2,
                cells[2].parse::<u64>().ok().and_then(|n| i64::try_from(n).ok()).ok_or_else(|| format!("'{}' is not a count", cells[2])),
            )
        };
        let (Some(region), Some(value), false) = (region, value, row.failed) else { continue };
        if let Some(first) = seen.insert((region, measure.clone()), line) {
            row.fail(Some(1), format!("{measure} of {region} is on line {first} already"));
            continue;
        }
        totals.push(ControlTotal { line, region, measure, value });
    }
    Ok((totals, errors))
}

pub const EMPLOYER_COLUMNS: [Column; 4] = [
    Column::new("code", "统一社会信用代码", true, "the employer's unified social credit code (GB 32100, check character)"),
    Column::new("name", "单位名称", true, "the name on its licence"),
    Column::new("region", "参保地区划", true, "the county whose fund its employees are insured in"),
    Column::new("registered_on", "参保登记日期", true, "the day it registered with the bureau (YYYY-MM-DD): its first declarable month"),
];

/// An employer row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyEmployer {
    pub line: usize,
    pub code: yibao_domain::EmployerCode,
    pub name: String,
    pub region: RegionCode,
    pub registered_on: Date,
}

/// The employers file: each row's code (check character), name, county and day of
/// registration checked, a code twice refused on its second line. What only the
/// application knows (the city's counties, today, the register) it checks after.
pub fn parse_employers(table: Table) -> Result<(Vec<LegacyEmployer>, Vec<LegacyRowError>), FileError> {
    let mut errors = Vec::new();
    let rows = rows_of(LegacyFile::Employers, table, &mut errors)?;
    let mut seen: HashMap<yibao_domain::EmployerCode, usize> = HashMap::new();
    let mut employers = Vec::with_capacity(rows.len());
    for (line, cells) in rows {
        let mut row = Row::new(LegacyFile::Employers, line, &mut errors);
        row.key = Some(cells[0].clone());
        let code = row.check(0, yibao_domain::EmployerCode::parse(&cells[0]).map_err(|e| e.to_string()));
        let name = row.check(1, employer_name_of(&cells[1]));
        let region = row.check(2, RegionCode::parse(&cells[2]).map_err(|e| e.to_string()));
        let registered_on = row.check(3, required_date(&cells[3]));
        let (Some(code), Some(name), Some(region), Some(registered_on), false) = (code, name, region, registered_on, row.failed) else {
            continue;
        };
        if let Some(first) = seen.insert(code, line) {
            row.fail(Some(0), format!("{code} is on line {first} already"));
            continue;
        }
        employers.push(LegacyEmployer { line, code, name, region, registered_on });
    }
    Ok((employers, errors))
}

pub const INSTITUTION_COLUMNS: [Column; 4] = [
    Column::new("code", "定点医药机构编号", true, "H (hospital) or P (pharmacy), the county's 6-digit code and a 5-digit serial"),
    Column::new("name", "机构名称", true, "the name on its licence, 1 to 100 characters"),
    Column::new("region", "所在区划", true, "the county it is designated in: the code's own region"),
    Column::new("level", "机构等级", true, "tertiary, secondary, primary or township"),
];

/// A designated institution's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyInstitution {
    pub line: usize,
    pub code: yibao_domain::InstitutionCode,
    pub name: String,
    pub region: RegionCode,
    pub level: yibao_domain::InstitutionLevel,
}

/// The institutions file: each row's code, name, county (the code's own) and level checked,
/// a code twice refused on its second line. The city's counties and the register are the
/// application's to check.
pub fn parse_institutions(table: Table) -> Result<(Vec<LegacyInstitution>, Vec<LegacyRowError>), FileError> {
    let mut errors = Vec::new();
    let rows = rows_of(LegacyFile::Institutions, table, &mut errors)?;
    let mut seen: HashMap<yibao_domain::InstitutionCode, usize> = HashMap::new();
    let mut institutions = Vec::with_capacity(rows.len());
    for (line, cells) in rows {
        let mut row = Row::new(LegacyFile::Institutions, line, &mut errors);
        row.key = Some(cells[0].clone());
        let code = row.check(0, yibao_domain::InstitutionCode::parse(&cells[0]).map_err(|e| e.to_string()));
        let name = row.check(
            1,
            yibao_domain::register_text(&cells[1], yibao_domain::INSTITUTION_NAME_CHARS_MAX).map(str::to_owned).ok_or_else(|| {
                format!(
                    "a name has 1 to {} characters, without control, format or invisible characters",
                    yibao_domain::INSTITUTION_NAME_CHARS_MAX
                )
            }),
        );
        let region = row.check(2, RegionCode::parse(&cells[2]).map_err(|e| e.to_string()));
        let level = row.check(
            3,
            yibao_domain::InstitutionLevel::parse(&cells[3])
                .ok_or_else(|| format!("'{}' is not a level: tertiary, secondary, primary or township", cells[3])),
        );
        if let (Some(code), Some(region)) = (&code, region)
            && code.region_digits() != region.to_string()
        {
            row.fail(Some(2), format!("{code} is a code of region {}, not of {region}", code.region_digits()));
        }
        let (Some(code), Some(name), Some(region), Some(level), false) = (code, name, region, level, row.failed) else {
            continue;
        };
        if let Some(first) = seen.insert(code.clone(), line) {
            row.fail(Some(0), format!("{code} is on line {first} already"));
            continue;
        }
        institutions.push(LegacyInstitution { line, code, name, region, level });
    }
    Ok((institutions, errors))
}

pub const STAY_COLUMNS: [Column; 7] = [
    Column::new("person_id", "公民身份号码", true, "the person in hospital (in the persons file)"),
    Column::new("institution_code", "定点医药机构编号", true, "the designated hospital, by its code in the register"),
    Column::new("ipt_otp_no", "住院号", true, "the hospital's inpatient number: 1 to 30 printable ASCII characters"),
    Column::new("med_type", "医疗类别", true, "21 (or 2101) inpatient, 2102 single disease, 28 day surgery, 52 maternity"),
    Column::new("admission_date", "入院日期", true, "the day of admission (YYYY-MM-DD), on or before the cut-off"),
    Column::new("diagnosis", "入院诊断", false, "the main diagnosis so far, ICD-10 (insurance edition); empty: given at discharge"),
    Column::new("emergency", "急诊入院", false, "1: admitted as an emergency"),
];

/// An inpatient stay open at the cut-off: the hospital goes on with it in the national
/// interface (fee lines, discharge, settlement) as with an admission made there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyStay {
    pub line: usize,
    pub person_id: NationalId,
    pub institution_code: yibao_domain::InstitutionCode,
    pub ipt_otp_no: String,
    pub kind: yibao_domain::ClaimKind,
    pub admission_date: Date,
    pub diagnosis: Option<String>,
    pub emergency: bool,
}

/// The stays file: each row's ID, hospital code, inpatient number, kind of stay, day and
/// diagnosis checked; an inpatient number twice at one hospital, or a person in two
/// stays at once, refused on the second line. Whether the person is the extract's, the
/// hospital the register's and the day inside the coverage is the application's to check.
pub fn parse_stays(table: Table) -> Result<(Vec<LegacyStay>, Vec<LegacyRowError>), FileError> {
    let mut errors = Vec::new();
    let rows = rows_of(LegacyFile::Stays, table, &mut errors)?;
    let mut numbers: HashMap<(yibao_domain::InstitutionCode, String), usize> = HashMap::new();
    let mut persons: HashMap<NationalId, usize> = HashMap::new();
    let mut stays = Vec::with_capacity(rows.len());
    for (line, cells) in rows {
        let mut row = Row::new(LegacyFile::Stays, line, &mut errors);
        row.key = Some(cells[0].clone());
        let person_id = row.check(0, NationalId::parse(&cells[0]).map_err(|e| e.to_string()));
        let institution_code = row.check(1, yibao_domain::InstitutionCode::parse(&cells[1]).map_err(|e| e.to_string()));
        let ipt_otp_no = row.check(
            2,
            if yibao_domain::is_serial(&cells[2]) {
                Ok(cells[2].clone())
            } else {
                Err(format!("an inpatient number has 1 to {} printable ASCII characters", yibao_domain::SERIAL_CHARS_MAX))
            },
        );
        let kind = row.check(
            3,
            yibao_domain::ClaimKind::of_med_type(&cells[3]).filter(|kind| kind.is_stay()).ok_or_else(|| {
                format!("'{}' is not a stay: 21 or 2101 inpatient, 2102 single disease, 28 day surgery, 52 maternity", cells[3])
            }),
        );
        let admission_date = row.check(4, required_date(&cells[4]));
        let diagnosis = row.check(
            5,
            optional(&cells[5], |code| {
                if yibao_domain::is_diagnosis_code(code) {
                    Ok(code.to_owned())
                } else {
                    Err(format!("'{code}' is not an ICD-10 code (insurance edition)"))
                }
            }),
        );
        let emergency = row.check(6, flag_of(&cells[6]));
        if institution_code.as_ref().is_some_and(yibao_domain::InstitutionCode::is_pharmacy) {
            row.fail(Some(1), "a pharmacy admits no one: a stay is a hospital's".into());
        }
        let (
            Some(person_id),
            Some(institution_code),
            Some(ipt_otp_no),
            Some(kind),
            Some(admission_date),
            Some(diagnosis),
            Some(emergency),
            false,
        ) = (person_id, institution_code, ipt_otp_no, kind, admission_date, diagnosis, emergency, row.failed)
        else {
            continue;
        };
        if let Some(first) = numbers.insert((institution_code.clone(), ipt_otp_no.clone()), line) {
            row.fail(Some(2), format!("{institution_code}'s inpatient number {ipt_otp_no} is on line {first} already"));
            continue;
        }
        if let Some(first) = persons.insert(person_id, line) {
            row.fail(Some(0), format!("{person_id} is in the stay on line {first} already: a person is in one hospital at a time"));
            continue;
        }
        stays.push(LegacyStay { line, person_id, institution_code, ipt_otp_no, kind, admission_date, diagnosis, emergency });
    }
    Ok((stays, errors))
}

/// An employer's name: 1 to 100 characters of the register's, as a clerk registers it.
fn employer_name_of(text: &str) -> Result<String, String> {
    yibao_domain::register_text(text, yibao_domain::EMPLOYER_NAME_CHARS_MAX).map(str::to_owned).ok_or_else(|| {
        format!("a name has 1 to {} characters, without control, format or invisible characters", yibao_domain::EMPLOYER_NAME_CHARS_MAX)
    })
}

/// A household row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyHousehold {
    pub line: usize,
    pub household_id: HouseholdId,
    pub region: RegionCode,
    pub address: String,
}

/// A person row: who, where, and the coverage to enrol (its personal-account balance the
/// one at the cut-off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyPerson {
    pub line: usize,
    pub name: PersonName,
    pub card_no: Option<String>,
    pub household_id: HouseholdId,
    pub coverage: Coverage,
    /// An employee's months of contributions carried in (R-FIN-1's minimum years).
    pub carried_months: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyContribution {
    pub line: usize,
    pub person_id: NationalId,
    pub kind: ContributionKind,
    pub period: Period,
    pub paid: Fen,
    pub wage_monthly: Option<Fen>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyAccumulators {
    pub line: usize,
    pub person_id: NationalId,
    pub accumulators: Accumulators,
}

/// A row to fix, with its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyRowError {
    pub file: LegacyFile,
    pub row: RowError,
}

/// An extract checked row by row and across its files: the rows that hold, the rows to fix,
/// and how many rows were held back because a row they depend on is to be fixed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyExtract {
    pub households: Vec<LegacyHousehold>,
    pub persons: Vec<LegacyPerson>,
    pub contributions: Vec<LegacyContribution>,
    pub accumulators: Vec<LegacyAccumulators>,
    /// Data rows read, per file (in [`LegacyFile::ALL`]'s order).
    pub rows: [usize; 4],
    /// Rows held back with a wrong row they depend on, per file.
    pub held_back: [usize; 4],
    pub errors: Vec<LegacyRowError>,
}

impl LegacyExtract {
    /// The rows to fix as a CSV file (UTF-8 with a byte-order mark): file, line, column,
    /// key, message.
    #[must_use]
    pub fn error_file(&self) -> String {
        error_file(&self.errors)
    }
}

/// The rows to fix as a CSV file (UTF-8 with a byte-order mark): file, line, column, key,
/// message.
#[must_use]
pub fn error_file(errors: &[LegacyRowError]) -> String {
    crate::table::csv_with_bom(
        &["file", "line", "column", "key", "message"],
        errors.iter().map(|e| {
            let row = &e.row;
            vec![
                e.file.name().to_owned(),
                row.line.to_string(),
                row.column.clone().unwrap_or_default(),
                row.key.clone().unwrap_or_default(),
                row.message.clone(),
            ]
        }),
    )
}

/// Checks an extract: `households` and `persons` are required, the other two optional.
/// A file that cannot be read at all is the error, with its file.
///
/// The tables are consumed row by row: a city's extract is gigabytes of text, and each row
/// is let go once it is parsed.
pub fn parse_extract(
    households: Table,
    persons: Table,
    contributions: Option<Table>,
    accumulators: Option<Table>,
) -> Result<LegacyExtract, (LegacyFile, FileError)> {
    let mut extract = LegacyExtract::default();
    let mut errors = Vec::new();
    let mut sheet = |file: LegacyFile, table: Table, errors: &mut Vec<LegacyRowError>| -> Result<Vec<(usize, Vec<String>)>, _> {
        extract.rows[file as usize] = table.rows.len();
        rows_of(file, table, errors).map_err(|e| (file, e))
    };
    let household_rows = sheet(LegacyFile::Households, households, &mut errors)?;
    let person_rows = sheet(LegacyFile::Persons, persons, &mut errors)?;
    let contribution_rows = contributions.map(|t| sheet(LegacyFile::Contributions, t, &mut errors)).transpose()?.unwrap_or_default();
    let accumulator_rows = accumulators.map(|t| sheet(LegacyFile::Accumulators, t, &mut errors)).transpose()?.unwrap_or_default();

    // Households: one row per county and number (the register numbers households per
    // county), keyed as the files write them.
    let mut household_lines: HashMap<(String, String), usize> = HashMap::new();
    let mut numbers: HashMap<String, (usize, RegionCode)> = HashMap::new();
    let mut wrong_households: HashSet<(String, String)> = HashSet::new();
    let mut households = Vec::with_capacity(household_rows.len());
    for (line, cells) in household_rows {
        let mut row = Row::new(LegacyFile::Households, line, &mut errors);
        row.key = Some(cells[0].clone());
        let id = row.check(0, HouseholdId::parse(&cells[0]).map_err(|e| e.to_string()));
        let region = row.check(1, RegionCode::parse(&cells[1]).map_err(|e| e.to_string()));
        let address = row.check(2, yibao_domain::parse_address(&cells[2]).map_err(|e| e.to_string()));
        let (Some(id), Some(region), Some(address)) = (id, region, address) else {
            wrong_households.insert((cells[1].clone(), cells[0].clone()));
            continue;
        };
        let key = (region.to_string(), id.to_string());
        if let Some(first) = household_lines.get(&key) {
            row.fail(Some(0), format!("household {id} of {region} is on line {first} already"));
            continue;
        }
        household_lines.insert(key, line);
        numbers.insert(id.to_string(), (line, region));
        households.push(LegacyHousehold { line, household_id: id, region, address });
    }

    // Persons: one row per national ID and per card, in a household of the extract.
    let mut person_lines: HashMap<NationalId, usize> = HashMap::new();
    let mut card_lines: HashMap<String, usize> = HashMap::new();
    let mut wrong_persons: HashSet<String> = HashSet::new();
    let mut wrong_numbers: HashSet<String> = HashSet::new();
    let mut persons = Vec::with_capacity(person_rows.len());
    for (line, cells) in person_rows {
        let mut row = Row::new(LegacyFile::Persons, line, &mut errors);
        row.key = Some(cells[0].clone());
        let person = row.person(&cells);
        let Some(person) = person else {
            wrong_persons.insert(cells[0].clone());
            // The row's region may be what is wrong: its household number is held back in
            // whichever county has it.
            wrong_numbers.insert(cells[2].clone());
            continue;
        };
        let household_key = (person.coverage.region.to_string(), person.household_id.to_string());
        let id = person.coverage.person_id;
        let mut fine = true;
        if let Some(first) = person_lines.get(&id) {
            row.fail(Some(0), format!("{id} is on line {first} already"));
            fine = false;
        }
        if let Some(card) = &person.card_no
            && let Some(first) = card_lines.get(card)
        {
            row.fail(Some(10), format!("card {card} is the card of the person on line {first}"));
            fine = false;
        }
        match (household_lines.get(&household_key), numbers.get(person.household_id.as_str())) {
            (None, _) if wrong_households.contains(&household_key) || wrong_numbers.contains(&household_key.1) => {
                extract.held_back[LegacyFile::Persons as usize] += 1;
                wrong_persons.insert(cells[0].clone());
                continue;
            }
            (None, Some((household_line, region))) => {
                row.fail(
                    Some(3),
                    format!("the person is insured in {}, the household (line {household_line}) in {region}", person.coverage.region),
                );
                fine = false;
            }
            (None, None) => {
                row.fail(Some(2), format!("household {} of {} is not in the households file", person.household_id, person.coverage.region));
                fine = false;
            }
            (Some(_), _) => {}
        }
        if !fine {
            wrong_persons.insert(cells[0].clone());
            wrong_households.insert(household_key);
            continue;
        }
        person_lines.insert(id, line);
        if let Some(card) = &person.card_no {
            card_lines.insert(card.clone(), line);
        }
        persons.push(person);
    }
    // A household whose member is wrong is held back whole (R-ENR-1: a household is
    // enrolled whole), with its other members; a household with no member is itself wrong.
    let members: HashSet<(RegionCode, &HouseholdId)> = persons.iter().map(|p| (p.coverage.region, &p.household_id)).collect();
    let mut kept_households = Vec::with_capacity(households.len());
    for household in households {
        if wrong_households.contains(&(household.region.to_string(), household.household_id.to_string()))
            || wrong_numbers.contains(household.household_id.as_str())
        {
            extract.held_back[LegacyFile::Households as usize] += 1;
        } else if !members.contains(&(household.region, &household.household_id)) {
            errors.push(LegacyRowError {
                file: LegacyFile::Households,
                row: RowError {
                    line: household.line,
                    column: None,
                    key: Some(household.household_id.to_string()),
                    message: "no person of the persons file is a member of this household".into(),
                },
            });
        } else {
            kept_households.push(household);
        }
    }
    let kept: HashSet<(RegionCode, HouseholdId)> = kept_households.iter().map(|h| (h.region, h.household_id.clone())).collect();
    let before = persons.len();
    persons.retain(|p| kept.contains(&(p.coverage.region, p.household_id.clone())));
    extract.held_back[LegacyFile::Persons as usize] += before - persons.len();
    for person in &persons {
        person_lines.insert(person.coverage.person_id, person.line);
    }
    let person_ok: HashSet<NationalId> = persons.iter().map(|p| p.coverage.person_id).collect();
    let held_person =
        |text: &str, id: &NationalId| wrong_persons.contains(text) || (person_lines.contains_key(id) && !person_ok.contains(id));

    // Contributions: a person of the extract, one row per kind and period.
    let mut contribution_lines: HashMap<(NationalId, ContributionKind, Period), usize> = HashMap::new();
    let mut contributions_kept = Vec::with_capacity(contribution_rows.len());
    for (line, cells) in contribution_rows {
        let mut row = Row::new(LegacyFile::Contributions, line, &mut errors);
        row.key = Some(cells[0].clone());
        let Some(contribution) = row.contribution(&cells) else { continue };
        let id = contribution.person_id;
        if held_person(&cells[0], &id) {
            extract.held_back[LegacyFile::Contributions as usize] += 1;
            continue;
        }
        if !person_ok.contains(&id) {
            row.fail(Some(0), format!("{id} is not in the persons file"));
            continue;
        }
        if let Some(first) = contribution_lines.insert((id, contribution.kind, contribution.period), line) {
            row.fail(None, format!("{id}'s {} {} is on line {first} already", contribution.kind.as_str(), contribution.period));
            continue;
        }
        contributions_kept.push(contribution);
    }

    // Accumulators: a person of the extract, one row per year.
    let mut accumulator_lines: HashMap<(NationalId, i32), usize> = HashMap::new();
    let mut accumulators_kept = Vec::with_capacity(accumulator_rows.len());
    for (line, cells) in accumulator_rows {
        let mut row = Row::new(LegacyFile::Accumulators, line, &mut errors);
        row.key = Some(cells[0].clone());
        let Some(row_accumulators) = row.accumulators(&cells) else { continue };
        let id = row_accumulators.person_id;
        if held_person(&cells[0], &id) {
            extract.held_back[LegacyFile::Accumulators as usize] += 1;
            continue;
        }
        if !person_ok.contains(&id) {
            row.fail(Some(0), format!("{id} is not in the persons file"));
            continue;
        }
        if let Some(first) = accumulator_lines.insert((id, row_accumulators.accumulators.year), line) {
            row.fail(Some(1), format!("{id}'s {} counters are on line {first} already", row_accumulators.accumulators.year));
            continue;
        }
        accumulators_kept.push(row_accumulators);
    }

    extract.households = kept_households;
    extract.persons = persons;
    extract.contributions = contributions_kept;
    extract.accumulators = accumulators_kept;
    errors.sort_by_key(|e| (e.file, e.row.line));
    extract.errors = errors;
    Ok(extract)
}

/// The file's rows with their cells in the layout's column order (an absent optional
/// column reads as empty). A row with fewer cells than the header, or more that are not
/// empty, is an error and left out.
fn rows_of(file: LegacyFile, table: Table, errors: &mut Vec<LegacyRowError>) -> Result<Vec<(usize, Vec<String>)>, FileError> {
    let columns = file.columns();
    let mut index = vec![None; columns.len()];
    for (position, name) in table.header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        // Every column is one of the layout's: a money column misnamed would otherwise be
        // read as absent, its amounts as zero.
        let Some(column) = columns.iter().position(|c| c.field.eq_ignore_ascii_case(name) || c.zh == name) else {
            if name.is_empty() && table.rows.iter().all(|(_, cells)| cells.get(position).is_none_or(String::is_empty)) {
                continue;
            }
            return Err(FileError::UnknownColumn(name.chars().take(40).collect()));
        };
        if index[column].replace(position).is_some() {
            return Err(FileError::DuplicateColumn(columns[column].field.to_owned()));
        }
    }
    if let Some((missing, _)) = columns.iter().zip(&index).find(|(c, i)| c.required && i.is_none()) {
        return Err(FileError::MissingColumn(format!("{} ({})", missing.field, missing.zh)));
    }
    let width = table.header.len();
    let mut rows = Vec::with_capacity(table.rows.len());
    for (line, mut cells) in table.rows {
        if cells.len() < width || cells[width.min(cells.len())..].iter().any(|c| !c.is_empty()) {
            errors.push(LegacyRowError {
                file,
                row: RowError {
                    line,
                    column: None,
                    key: cells.first().cloned(),
                    message: format!(
                        "the row has {} cells and the header {width}: a cell is missing, or a comma in a value is not quoted",
                        cells.len()
                    ),
                },
            });
            continue;
        }
        rows.push((line, index.iter().map(|i| i.and_then(|i| cells.get_mut(i)).map(std::mem::take).unwrap_or_default()).collect()));
    }
    Ok(rows)
}

/// One row being checked: every column's error is reported, not only the first.
struct Row<'a> {
    file: LegacyFile,
    line: usize,
    key: Option<String>,
    errors: &'a mut Vec<LegacyRowError>,
    failed: bool,
}

impl<'a> Row<'a> {
    fn new(file: LegacyFile, line: usize, errors: &'a mut Vec<LegacyRowError>) -> Row<'a> {
        Row { file, line, key: None, errors, failed: false }
    }

    fn fail(&mut self, column: Option<usize>, message: String) {
        self.failed = true;
        let column = column.map(|c| self.file.columns()[c].field.to_owned());
        self.errors.push(LegacyRowError { file: self.file, row: RowError { line: self.line, column, key: self.key.clone(), message } });
    }

    fn check<T>(&mut self, column: usize, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.fail(Some(column), message)).ok()
    }

    fn person(&mut self, cells: &[String]) -> Option<LegacyPerson> {
        let person_id = self.check(0, NationalId::parse(&cells[0]).map_err(|e| e.to_string()));
        let name = self.check(1, PersonName::parse(&cells[1]).map_err(|e| e.to_string()));
        let household_id = self.check(2, HouseholdId::parse(&cells[2]).map_err(|e| e.to_string()));
        let region = self.check(3, RegionCode::parse(&cells[3]).map_err(|e| e.to_string()));
        let scheme = self.check(4, scheme_of(&cells[4]));
        let category = self.check(5, category_of(&cells[5]));
        let from = self.check(6, required_date(&cells[6]));
        let until = self.check(7, date_of(&cells[7])).flatten();
        let tier = self.check(8, optional_tier(&cells[8]));
        let changes = self.check(9, tier_changes_of(&cells[9]));
        let card_no = self.check(10, optional(&cells[10], |t| yibao_domain::parse_card_no(t).map_err(|e| e.to_string())));
        let group =
            self.check(11, optional(&cells[11], |t| AssistanceGroup::parse(t).ok_or_else(|| format!("'{t}' is not an assistance group"))));
        let supplementary = self.check(12, flag_of(&cells[12]));
        let maternity = self.check(13, flag_of(&cells[13]));
        let civil_servant = self.check(14, flag_of(&cells[14]));
        let enterprise_supplementary = self.check(15, flag_of(&cells[15]));
        let diseases = self.check(16, diseases_of(&cells[16]));
        let balance = self.check(17, at_most(&cells[17], PERSONAL_ACCOUNT_MAX));
        let carried_months = self.check(18, optional(&cells[18], carried_months_of));
        if let (Some(from), Some(until)) = (from, until)
            && until < from
        {
            self.fail(Some(7), format!("coverage ends on {until}, before it began on {from}"));
        }
        if let (Some(tier), Some(changes)) = (tier, &changes) {
            if tier.is_none() && !changes.is_empty() {
                self.fail(Some(9), "tier changes without a tier chosen at enrolment".into());
            }
            if let Some(change) = changes.iter().find(|c| from.is_some_and(|from| c.requested_on < from)) {
                self.fail(Some(9), format!("a change asked for on {}, before coverage began", change.requested_on));
            }
        }
        if let (Some(scheme), Some(balance)) = (scheme, balance)
            && scheme != Scheme::Employee
            && !balance.is_zero()
        {
            self.fail(Some(17), "only an employee has a personal account".into());
        }
        if self.failed {
            return None;
        }
        let (Some(person_id), Some(name), Some(household_id), Some(region), Some(scheme), Some(category), Some(from)) =
            (person_id, name, household_id, region, scheme, category, from)
        else {
            return None;
        };
        let coverage = Coverage {
            person_id,
            region,
            scheme,
            category,
            coverage_from: from,
            coverage_until: until,
            tier_history: tier.flatten().map(|initial| TierHistory { initial, since: from, changes: changes.unwrap_or_default() }),
            assistance_group: group.flatten(),
            supplementary: supplementary.unwrap_or(false),
            maternity: maternity.unwrap_or(false),
            civil_servant: civil_servant.unwrap_or(false),
            enterprise_supplementary: enterprise_supplementary.unwrap_or(false),
            certified_chronic_diseases: diseases.unwrap_or_default(),
            personal_account_balance: balance.unwrap_or(Fen::ZERO),
            use_personal_account: scheme == Scheme::Employee,
        };
        Some(LegacyPerson {
            line: self.line,
            name,
            card_no: card_no.flatten(),
            household_id,
            coverage,
            carried_months: carried_months.flatten(),
        })
    }

    fn contribution(&mut self, cells: &[String]) -> Option<LegacyContribution> {
        let person_id = self.check(0, NationalId::parse(&cells[0]).map_err(|e| e.to_string()));
        let kind = self.check(
            1,
            ContributionKind::parse(&cells[1])
                .ok_or_else(|| format!("'{}' is not resident, employee, supplementary or maternity", cells[1])),
        );
        let period = self.check(2, Period::parse(&cells[2]).map_err(|e| e.to_string()));
        let paid = self.check(3, required(&cells[3], |t| at_most(t, CONTRIBUTION_MAX)));
        let wage_monthly = self.check(4, optional(&cells[4], |t| at_most(t, CONTRIBUTION_MAX)));
        if let (Some(kind), Some(period)) = (kind, period)
            && kind.is_yearly() != matches!(period, Period::Year(_))
        {
            self.fail(
                Some(2),
                format!("a {} contribution is paid for a {}", kind.as_str(), if kind.is_yearly() { "year" } else { "month" }),
            );
        }
        if self.failed {
            return None;
        }
        Some(LegacyContribution {
            line: self.line,
            person_id: person_id?,
            kind: kind?,
            period: period?,
            paid: paid?,
            wage_monthly: wage_monthly.flatten(),
        })
    }

    fn accumulators(&mut self, cells: &[String]) -> Option<LegacyAccumulators> {
        let person_id = self.check(0, NationalId::parse(&cells[0]).map_err(|e| e.to_string()));
        let year = self.check(1, year_of(&cells[1]));
        let admissions = self.check(
            2,
            if cells[2].is_empty() { Ok(0) } else { cells[2].parse::<u32>().map_err(|_| format!("'{}' is not a count", cells[2])) },
        );
        let mut accumulators = Accumulators::new_year(year.unwrap_or(0));
        accumulators.admissions = admissions.unwrap_or(0);
        for (i, (field, _)) in ACCUMULATOR_FIELDS.iter().enumerate() {
            if let Some(amount) = self.check(3 + i, at_most(&cells[3 + i], ACCUMULATOR_MAX)) {
                *accumulator_field(&mut accumulators, field) = amount;
            }
        }
        if self.failed {
            return None;
        }
        Some(LegacyAccumulators { line: self.line, person_id: person_id?, accumulators })
    }
}

/// The counter a column sets.
fn accumulator_field<'a>(a: &'a mut Accumulators, field: &str) -> &'a mut Fen {
    match field {
        "inpatient_deductible_paid" => &mut a.inpatient_deductible_paid,
        "pooled_paid" => &mut a.pooled_paid,
        "outpatient_deductible_paid" => &mut a.outpatient_deductible_paid,
        "outpatient_pooled_paid" => &mut a.outpatient_pooled_paid,
        "chronic_deductible_paid" => &mut a.chronic_deductible_paid,
        "chronic_paid" => &mut a.chronic_paid,
        "inscope_burden" => &mut a.inscope_burden,
        "critical_paid" => &mut a.critical_paid,
        "assistance_deductible_paid" => &mut a.assistance_deductible_paid,
        "assistance_paid" => &mut a.assistance_paid,
        "supplementary_paid" => &mut a.supplementary_paid,
        "maternity_paid" => &mut a.maternity_paid,
        "two_disease_deductible_paid" => &mut a.two_disease_deductible_paid,
        "two_disease_paid" => &mut a.two_disease_paid,
        "special_drug_deductible_paid" => &mut a.special_drug_deductible_paid,
        "special_drug_paid" => &mut a.special_drug_paid,
        "civil_servant_paid" => &mut a.civil_servant_paid,
        "enterprise_supplementary_paid" => &mut a.enterprise_supplementary_paid,
        _ => unreachable!("ACCUMULATOR_FIELDS names only fields of Accumulators"),
    }
}

fn optional<T>(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    if text.is_empty() { Ok(None) } else { parse(text).map(Some) }
}

fn required<T>(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, String> {
    if text.is_empty() { Err("required".into()) } else { parse(text) }
}

fn required_date(text: &str) -> Result<Date, String> {
    date_of(text)?.ok_or_else(|| "required".to_owned())
}

/// An amount in yuan, at most two decimals, not negative; empty: zero.
fn amount_of(text: &str) -> Result<Fen, String> {
    if text.is_empty() {
        return Ok(Fen::ZERO);
    }
    match Fen::parse_yuan(text) {
        Ok(fen) if fen.is_negative() => Err(format!("{text} is negative")),
        Ok(fen) => Ok(fen),
        Err(e) => Err(e.to_string()),
    }
}

/// A control total in yuan, in fen: digits with at most two decimals, not negative; a
/// county's sum may exceed the largest single amount, so only `i64` bounds it.
fn total_of(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not a total in yuan (digits, at most two decimals)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or_else(bad)
}

/// An amount, at most `max`.
fn at_most(text: &str, max: Fen) -> Result<Fen, String> {
    let amount = amount_of(text)?;
    if amount > max {
        return Err(format!("{text} yuan is beyond the {max} believed for this column"));
    }
    Ok(amount)
}

fn year_of(text: &str) -> Result<i32, String> {
    match text.parse::<i32>() {
        Ok(year) if (2000..=9998).contains(&year) && text.len() == 4 => Ok(year),
        _ => Err(format!("'{text}' is not a year (YYYY)")),
    }
}

fn scheme_of(text: &str) -> Result<Scheme, String> {
    match text {
        "employee" | "310" | "职工" | "职工基本医疗保险" => Ok(Scheme::Employee),
        "resident" | "390" | "居民" | "城乡居民基本医疗保险" => Ok(Scheme::Resident),
        _ => Err(format!("'{text}' is not employee (310) or resident (390)")),
    }
}

fn category_of(text: &str) -> Result<PersonCategory, String> {
    match text {
        "在职" => Ok(PersonCategory::Employed),
        "退休" => Ok(PersonCategory::Retired),
        "居民" => Ok(PersonCategory::Resident),
        _ => PersonCategory::parse(text).ok_or_else(|| format!("'{text}' is not employed, retired or resident")),
    }
}

/// Months carried in: a whole number, 0 to a working life ([`yibao_engine::CARRIED_MONTHS_MAX`]).
fn carried_months_of(text: &str) -> Result<u32, String> {
    let months = text.parse::<u32>().map_err(|_| format!("'{text}' is not a whole number of months"))?;
    if months > yibao_engine::CARRIED_MONTHS_MAX {
        return Err(format!("{months} months is more than a working life ({})", yibao_engine::CARRIED_MONTHS_MAX));
    }
    Ok(months)
}

fn optional_tier(text: &str) -> Result<Option<Tier>, String> {
    optional(text, tier_of)
}

fn tier_of(text: &str) -> Result<Tier, String> {
    let number = text.parse::<u8>().map_err(|_| format!("'{text}' is not a tier (1 to 4)"))?;
    Tier::new(number).map_err(|e| e.to_string())
}

/// `2025-03-01:2;2025-09-15:1`: each change's day asked and tier, in the order asked.
fn tier_changes_of(text: &str) -> Result<Vec<TierChange>, String> {
    let mut changes: Vec<TierChange> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (day, tier) = part.split_once(':').ok_or_else(|| format!("'{part}' is not YYYY-MM-DD:N"))?;
        let requested_on = required_date(day.trim())?;
        let tier = tier_of(tier.trim())?;
        if changes.last().is_some_and(|last| last.requested_on > requested_on) {
            return Err(format!("the change of {requested_on} is listed after a later one: list them in the order asked"));
        }
        changes.push(TierChange { requested_on, tier });
    }
    if changes.len() > yibao_engine::TIER_CHANGES_LIMIT {
        return Err(format!("{} changes: at most {}", changes.len(), yibao_engine::TIER_CHANGES_LIMIT));
    }
    Ok(changes)
}

fn diseases_of(text: &str) -> Result<Vec<String>, String> {
    let diseases: Vec<String> = text.split(';').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect();
    if diseases.len() > DISEASES_MAX {
        return Err(format!("{} diseases: at most {DISEASES_MAX}", diseases.len()));
    }
    Ok(diseases)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUSEHOLDS: &str =
        "户号,参保地区划,住址\nH1,419902,东县一号\nH2,419902,东县二号\nH3,419922,西县三号\nH4,419922,西县四号\nH5,419902,东县五号\n";

    fn table(text: &str) -> Table {
        Table::read("f.csv", text.as_bytes()).expect("a table")
    }

    fn id(birth: &str, sequence: u16) -> String {
        NationalId::from_parts(RegionCode::parse("419902").expect("region"), yibao_domain::parse_date(birth).expect("date"), sequence)
            .expect("an id")
            .to_string()
    }

    /// A row to fix: its file, line and column.
    type ErrorAt = (LegacyFile, usize, Option<String>);

    /// Checks an extract and answers its errors as (file, line, column) with the counts kept
    /// and held back per file.
    fn check(persons: &str, contributions: &str, accumulators: &str) -> (Vec<ErrorAt>, [usize; 4], [usize; 4]) {
        let extract = parse_extract(table(HOUSEHOLDS), table(persons), Some(table(contributions)), Some(table(accumulators)))
            .expect("readable files");
        let errors = extract.errors.iter().map(|e| (e.file, e.row.line, e.row.column.clone())).collect();
        let kept = [extract.households.len(), extract.persons.len(), extract.contributions.len(), extract.accumulators.len()];
        (errors, kept, extract.held_back)
    }

    #[test]
    fn a_wrong_row_is_named_and_its_household_held_back_whole() {
        let (a, b, c, d, e) = (id("1980-01-01", 1), id("1982-02-02", 2), id("1990-03-03", 3), id("1960-04-04", 4), id("1970-05-05", 5));
        let f = id("1975-06-06", 6);
        let persons = format!(
            "\u{feff}person_id,name,household_id,region,scheme,category,coverage_from,tier,tier_changes,personal_account_balance,card_no\n\
             {a},甲,H1,419902,employee,employed,2025-01-01,,,1200.50,C1\n\
             {b},乙,H1,419902,employee,在职,2025-01-01,,,12.345,C2\n\
             {c},丙,H2,419902,resident,resident,2025-01-01,2,2025-06-01:1;2025-03-01:3,,C3\n\
             {d},丁,H3,419922,居民,居民,2025-01-01,1,2025-03-01:2,,C1\n\
             {e},戊,H4,419902,resident,resident,2025-01-01,1,,,\n\
             {f},己,H5,419902,310,退休,2025-01-01,,,88.80,C6\n"
        );
        let contributions = format!(
            "person_id,kind,period,paid\n{a},employee,2026-01,300\n{b},employee,2026-01,300\n{d},resident,2026-01,400\n{d},resident,2026,400\n{f},employee,2026-01,0\n"
        );
        let accumulators = format!("person_id,year,pooled_paid\n{a},2026,100\n{a},2026,50\n{d},26,1\n{f},2026,1000.01\n");
        let (errors, kept, held) = check(&persons, &contributions, &accumulators);
        assert_eq!(
            errors,
            vec![
                (LegacyFile::Households, 5, None),
                (LegacyFile::Persons, 3, Some("personal_account_balance".into())),
                (LegacyFile::Persons, 4, Some("tier_changes".into())),
                (LegacyFile::Persons, 5, Some("card_no".into())),
                (LegacyFile::Persons, 6, Some("region".into())),
                (LegacyFile::Contributions, 4, Some("period".into())),
                (LegacyFile::Accumulators, 4, Some("year".into())),
            ],
            "b's balance has three decimals; c's tier changes are out of order; d's card is a's; e is in another \
             county than H4 (so H4 of 419922 has no member); a resident contribution is for a year, and a year has \
             four digits"
        );
        // Every other household has a wrong member: each is held back whole, a with H1, with
        // a's contribution and accumulators (the duplicate of them not reported: a's
        // household is to be sent again).
        assert_eq!(kept, [1, 1, 1, 1], "H5 holds, with f's rows");
        assert_eq!(held, [3, 1, 3, 2], "H1, H2 and H3 held back; H4 an error of its own");
    }

    #[test]
    fn carried_months_are_whole_months_up_to_a_working_life() {
        let (a, b, c, d) = (id("1970-01-01", 1), id("1971-02-02", 2), id("1972-03-03", 3), id("1973-04-04", 4));
        let persons = format!(
            "person_id,name,household_id,region,scheme,category,coverage_from,carried_months\n\
             {a},甲,H1,419902,employee,employed,2025-01-01,180\n\
             {b},乙,H2,419902,employee,retired,2025-01-01,721\n\
             {c},丙,H1,419902,resident,resident,2025-01-01,12\n\
             {d},丁,H5,419902,employee,employed,2025-01-01,1.5\n"
        );
        let extract = parse_extract(table(HOUSEHOLDS), table(&persons), None, None).expect("readable files");
        let errors: Vec<(usize, Option<&str>)> =
            extract.errors.iter().filter(|e| e.file == LegacyFile::Persons).map(|e| (e.row.line, e.row.column.as_deref())).collect();
        assert_eq!(errors, [(3, Some("carried_months")), (5, Some("carried_months"))], "more than 720, not whole: {errors:?}");
        // A resident who worked before keeps the months (as `PUT …/contribution-years` records them).
        assert_eq!(extract.persons.iter().map(|p| p.carried_months).collect::<Vec<_>>(), [Some(180), Some(12)]);
    }

    #[test]
    fn a_file_without_a_required_column_or_with_one_twice_is_refused_whole() {
        let missing = parse_extract(table("household_id,region\nH1,419902\n"), table("person_id\n"), None, None);
        assert_eq!(missing.map(|_| ()), Err((LegacyFile::Households, FileError::MissingColumn("address (住址)".into()))));
        let twice = parse_extract(table(HOUSEHOLDS), table("person_id,公民身份号码\n"), None, None);
        assert_eq!(twice.map(|_| ()), Err((LegacyFile::Persons, FileError::DuplicateColumn("person_id".into()))));
    }

    #[test]
    fn control_totals_are_counts_or_amounts_once_per_county_and_measure() {
        let text = "参保地区划,项目,数值\n419921,households,12\n419921, personal  accounts amount ,1234.56\n\
                    419921,households,13\n419921,persons employee,1.5\n419921,contributions resident paid amount,-1\n";
        let (totals, errors) = parse_control(table(text)).expect("readable");
        assert_eq!(
            totals.iter().map(|t| (t.measure.as_str(), t.value)).collect::<Vec<_>>(),
            [("households", 12), ("personal accounts amount", 123_456)],
            "an amount in yuan is kept in fen; blanks inside a measure are one"
        );
        assert_eq!(
            errors.iter().map(|e| (e.row.line, e.row.column.as_deref())).collect::<Vec<_>>(),
            [(4, Some("measure")), (5, Some("value")), (6, Some("value"))]
        );
        assert_eq!(
            parse_control(table("region,measure,value,note\n")).map(|_| ()),
            Err(FileError::UnknownColumn("note".into())),
            "a column the layout does not have is refused, not skipped"
        );
    }

    #[test]
    fn a_household_number_may_be_used_in_two_counties() {
        let (x, y) = (id("1980-01-01", 11), id("1981-01-01", 12));
        let households = "household_id,region,address\nH1,419902,东县\nH1,419922,西县\n";
        let persons = format!(
            "person_id,name,household_id,region,scheme,category,coverage_from,tier\n\
             {x},甲,H1,419902,resident,resident,2025-01-01,1\n{y},乙,H1,419922,resident,resident,2025-01-01,1\n"
        );
        let extract = parse_extract(table(households), table(&persons), None, None).expect("readable");
        assert!(extract.errors.is_empty(), "{:?}", extract.errors);
        assert_eq!((extract.households.len(), extract.persons.len()), (2, 2));
    }

    #[test]
    fn the_files_are_known_by_their_stems() {
        assert_eq!(LegacyFile::of_name("Persons.CSV"), Some(LegacyFile::Persons));
        assert_eq!(LegacyFile::of_name("extract/accumulators.xlsx"), Some(LegacyFile::Accumulators));
        assert_eq!(LegacyFile::of_name("control.xlsx"), Some(LegacyFile::Control));
        assert_eq!(LegacyFile::of_name("Stays.csv"), Some(LegacyFile::Stays));
        assert_eq!(LegacyFile::of_name("institutions.xlsx"), Some(LegacyFile::Institutions));
        assert_eq!(LegacyFile::of_name("people.csv"), None);
    }

    #[test]
    fn a_stay_open_at_the_cut_off_is_checked_row_by_row() {
        let (one, two, three) = (id("1960-01-01", 11), id("1970-01-01", 21), id("1980-01-01", 31));
        let text = format!(
            "person_id,institution_code,ipt_otp_no,med_type,admission_date,diagnosis,emergency\n\
             {one},H41990200001,ZY-0001,21,2026-11-28,I21.0,1\n\
             {two},H41990200001,ZY-0001,2101,2026-11-29,,\n\
             {two},H41990200002,ZY 2,21,2026-11-30,,\n\
             {three},P41990200001,ZY-0003,11,2026-02-30,X,2\n\
             {two},H41990200003,ZY-0005,52,2026-12-01,O80.0,0\n\
             {one},H41990200003,ZY-0006,28,2026-12-01,,\n"
        );
        let (stays, errors) = parse_stays(table(&text)).expect("a stays file");
        assert_eq!(stays.len(), 2, "{errors:?}");
        assert_eq!(
            (stays[0].kind, stays[0].admission_date, stays[0].diagnosis.as_deref(), stays[0].emergency),
            (yibao_domain::ClaimKind::Inpatient, time::macros::date!(2026 - 11 - 28), Some("I21.0"), true)
        );
        assert_eq!((stays[1].kind, stays[1].ipt_otp_no.as_str()), (yibao_domain::ClaimKind::Maternity, "ZY-0005"));
        let at: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row.line, e.row.column.as_deref())).collect();
        assert_eq!(
            at,
            [
                (3, Some("ipt_otp_no")),
                (4, Some("ipt_otp_no")),
                (5, Some("med_type")),
                (5, Some("admission_date")),
                (5, Some("diagnosis")),
                (5, Some("emergency")),
                (5, Some("institution_code")),
                (7, Some("person_id")),
            ],
            "{errors:?}"
        );
        assert!(errors[0].row.message.contains("on line 2 already"), "{}", errors[0].row.message);
        assert!(errors[7].row.message.contains("one hospital at a time"), "{}", errors[7].row.message);
    }

    #[test]
    fn a_designated_institution_is_checked_row_by_row() {
        let text = "code,name,region,level\n\
                    H41990200001,示范市第一人民医院,419902,tertiary\n\
                    H41990200001,同号医院,419902,secondary\n\
                    P41992100002,东县大药房,419902,primary\n\
                    H41992100003,,419921,clinic\n\
                    P41992100004,东县第二药房,419921,primary\n";
        let (institutions, errors) = parse_institutions(table(text)).expect("an institutions file");
        let codes: Vec<String> = institutions.iter().map(|i| i.code.to_string()).collect();
        assert_eq!(codes, ["H41990200001", "P41992100004"]);
        assert_eq!(institutions[0].level, yibao_domain::InstitutionLevel::Tertiary);
        let at: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row.line, e.row.column.as_deref())).collect();
        assert_eq!(at, [(3, Some("code")), (4, Some("region")), (5, Some("name")), (5, Some("level"))], "{errors:?}");
    }
}
