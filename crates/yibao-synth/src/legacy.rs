//! A synthetic legacy extract (issue 16): the city's register as an old system would hand it
//! over at a cut-off, in the files of `docs/migration.md` (households, persons,
//! contributions, accumulators, employers, institutions, stays, control), with errors planted where
//! asked, one of each kind in turn, each named with its file and line, so that a dry run
//! can be checked to find exactly them.
//! Pure and deterministic: the same city, month and errors make the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use yibao_domain::{Fen, PersonCategory, Scheme};
use yibao_policy::Policy;

use crate::identity::{card_no, household_identity, person_name};
use crate::payment::contributions_of;
use crate::rng::{SplitMix64, purpose};
use crate::{City, Person};

/// The kinds of planted error, in the order they are planted.
pub const PLANTED_KINDS: [&str; 8] = [
    "a national ID whose check digit is wrong",
    "a person listed twice",
    "a region that is not a county of the city",
    "a coverage start that is not a date",
    "a personal-account balance that is not an amount",
    "a contribution of a person the extract does not carry",
    "a household with no member",
    "a scheme code no one knows",
];

/// The five files as CSV text, and the rows planted wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyFiles {
    pub households: String,
    pub persons: String,
    pub contributions: String,
    pub accumulators: String,
    /// The employers (参保单位) the legacy system registered: a few in each county.
    pub employers: String,
    /// The designated institutions (定点医药机构) of the city's counties.
    pub institutions: String,
    /// The inpatient stays open at the cut-off (在院未结算), each at a secondary hospital
    /// of the person's county (one of the institutions file's).
    pub stays: String,
    /// The legacy system's control totals: counted here as the rows are written, by county
    /// and measure (amounts in yuan).
    pub control: String,
    /// Each planted error: its file, its line (the header is line 1) and its kind.
    pub planted: Vec<(&'static str, usize, &'static str)>,
    pub persons_written: u64,
}

/// The city's register as at the end of month `through` of its year, with `errors` rows
/// planted wrong (spread over the register, one kind after the other).
#[must_use]
pub fn legacy_extract(city: &City, policy: &Policy, through: u8, errors: usize) -> LegacyFiles {
    let mut files = LegacyFiles {
        households: "household_id,region,address\n".to_owned(),
        persons: "person_id,name,household_id,region,scheme,category,coverage_from,tier,tier_changes,card_no,assistance_group,\
                  supplementary,maternity,chronic_diseases,personal_account_balance,carried_months\n"
            .to_owned(),
        contributions: "person_id,kind,period,paid,wage_monthly\n".to_owned(),
        accumulators: "person_id,year,admissions,inpatient_deductible_paid,pooled_paid,outpatient_pooled_paid\n".to_owned(),
        stays: "person_id,institution_code,ipt_otp_no,med_type,admission_date,diagnosis,emergency\n".to_owned(),
        ..LegacyFiles::default()
    };
    let mut lines = [1usize; 4];
    let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    let supplementary = policy.has_scheme(Scheme::Supplementary);
    let households_total = city.config.insured / 3 + 1;
    let every = if errors == 0 { u64::MAX } else { (households_total / errors as u64).max(1) };
    let mut planted = 0usize;
    let mut persons = Vec::new();
    let mut previous_id = String::new();
    for block in 0..city.config.blocks() {
        city.block_into(block, &mut persons);
        let mut start = 0;
        while start < persons.len() {
            let head = &persons[start];
            let end = start + persons[start..].iter().take_while(|p| p.household == head.household).count();
            let plant = (planted < errors && head.household % every == every / 2).then(|| PLANTED_KINDS[planted % PLANTED_KINDS.len()]);
            let identity = household_identity(city, head);
            let region = city.counties[usize::from(head.county)];
            lines[0] += 1;
            let _ = writeln!(files.households, "{},{},{}", identity.household_id, region, quoted(&identity.address));
            count(&mut totals, region, "households".into(), 1);
            if plant == Some(PLANTED_KINDS[6]) {
                // An empty household: its members are left out of the persons file.
                files.planted.push(("households", lines[0], PLANTED_KINDS[6]));
                planted += 1;
                start = end;
                continue;
            }
            for (position, member) in persons[start..end].iter().enumerate() {
                let mut row = person_row(city, &identity, head, member, position);
                lines[1] += 1;
                // A row whose ID is planted wrong has no money rows: the legacy system
                // would have keyed them by the ID it holds, not by the person's true one.
                let mut money_rows = true;
                if position == 0
                    && let Some(kind) = plant
                {
                    let wrong = match kind {
                        k if k == PLANTED_KINDS[0] => {
                            wrong_check_digit(&mut row);
                            Some(())
                        }
                        k if k == PLANTED_KINDS[1] && !previous_id.is_empty() => {
                            row[0].clone_from(&previous_id);
                            Some(())
                        }
                        k if k == PLANTED_KINDS[2] => {
                            row[3] = "990101".into();
                            Some(())
                        }
                        k if k == PLANTED_KINDS[3] => {
                            row[6] = "2024-02-30".into();
                            Some(())
                        }
                        k if k == PLANTED_KINDS[4] => {
                            row[14] = "12.345".into();
                            Some(())
                        }
                        k if k == PLANTED_KINDS[7] => {
                            row[4] = "320".into();
                            Some(())
                        }
                        _ => None,
                    };
                    if wrong.is_some() {
                        files.planted.push(("persons", lines[1], kind));
                        planted += 1;
                        money_rows = kind != PLANTED_KINDS[0] && kind != PLANTED_KINDS[1];
                    }
                }
                previous_id.clone_from(&row[0]);
                let coverage = member.coverage(city);
                count(&mut totals, region, format!("persons {}", coverage.scheme), 1);
                if coverage.scheme == Scheme::Employee {
                    count(&mut totals, region, "personal accounts amount".into(), coverage.personal_account_balance.get());
                }
                files.persons.push_str(&row.join(","));
                files.persons.push('\n');
                files.persons_written += 1;
                if money_rows {
                    write_money_rows(city, policy, member, through, supplementary, &mut files, &mut lines, &mut totals);
                }
                // A household planted wrong is held back whole; its stays would only add rows
                // to fix that the plant does not name.
                if plant.is_none() {
                    write_stay(city, member, through, &mut files, &mut totals);
                }
            }
            if plant == Some(PLANTED_KINDS[5]) {
                lines[2] += 1;
                // Born on 1 January 1900 in the city: no synthetic person is.
                let stranger = yibao_domain::NationalId::from_parts(region, time::macros::date!(1900 - 01 - 01), 999)
                    .map_or_else(String::new, |id| id.to_string());
                let _ = writeln!(files.contributions, "{stranger},resident,{},380.00,", city.config.year);
                files.planted.push(("contributions", lines[2], PLANTED_KINDS[5]));
                planted += 1;
            }
            start = end;
        }
    }
    files.employers = "code,name,region,registered_on\n".to_owned();
    for region in &policy.counties {
        for number in 1..=EMPLOYERS_PER_COUNTY {
            let Some(code) = yibao_domain::EmployerCode::from_parts(*region, number) else { continue };
            let _ = writeln!(files.employers, "{code},{region}第{number}厂,{region},2020-01-01");
            count(&mut totals, *region, "employers".into(), 1);
        }
    }
    files.institutions = "code,name,region,level\n".to_owned();
    for institution in city.institutions.iter().filter(|i| i.place == yibao_domain::Place::InArea) {
        let _ = writeln!(
            files.institutions,
            "{},{},{},{}",
            institution.code,
            quoted(&institution.name),
            institution.region,
            institution.level.as_str()
        );
        count(&mut totals, institution.region, "institutions".into(), 1);
    }
    files.control = "region,measure,value\n".to_owned();
    for ((region, measure), value) in totals {
        let value = if measure.ends_with(" amount") { format!("{}.{:02}", value / 100, value % 100) } else { value.to_string() };
        let _ = writeln!(files.control, "{region},{measure},{value}");
    }
    files
}

/// Employers written for each county (assumption: a token few; the employers' own months
/// are declared after go-live).
pub const EMPLOYERS_PER_COUNTY: u64 = 3;

/// Adds to a control total.
fn count(totals: &mut BTreeMap<(String, String), i64>, region: yibao_domain::RegionCode, measure: String, value: i64) {
    *totals.entry((region.to_string(), measure)).or_insert(0) += value;
}

/// A person's row, in the persons file's columns.
fn person_row(city: &City, identity: &crate::identity::HouseholdIdentity, head: &Person, member: &Person, position: usize) -> Vec<String> {
    let coverage = member.coverage(city);
    let (tier, changes) = match &coverage.tier_history {
        Some(history) => (
            history.initial.get().to_string(),
            history.changes.iter().map(|c| format!("{}:{}", c.requested_on, c.tier.get())).collect::<Vec<_>>().join(";"),
        ),
        None => (String::new(), String::new()),
    };
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    vec![
        member.id.to_string(),
        person_name(city, identity, head, member, position).to_string(),
        identity.household_id.to_string(),
        coverage.region.to_string(),
        coverage.scheme.as_str().to_owned(),
        coverage.category.as_str().to_owned(),
        coverage.coverage_from.to_string(),
        tier,
        changes,
        card_no(member),
        coverage.assistance_group.map_or_else(String::new, |g| g.as_str().to_owned()),
        flag(coverage.supplementary),
        flag(coverage.maternity),
        coverage.certified_chronic_diseases.join(";"),
        if coverage.scheme == Scheme::Employee { coverage.personal_account_balance.to_string() } else { String::new() },
        if coverage.scheme == Scheme::Employee { carried_months(member, coverage.coverage_from).to_string() } else { String::new() },
    ]
}

/// An employee's months of contributions before the legacy register's own coverage:
/// assumed, the months from the 22nd birthday to the first covered day, at most a working
/// life (the legacy systems' 视同缴费 and transfers in).
fn carried_months(member: &Person, coverage_from: time::Date) -> u32 {
    let working_from = member.id.birth_date().year() + 22;
    let years = u32::try_from(coverage_from.year() - working_from).unwrap_or(0);
    years.saturating_mul(12).min(yibao_engine::CARRIED_MONTHS_MAX)
}

/// The person's contributions of the year through month `through`, and, for one in five,
/// the year's accumulators.
#[expect(clippy::too_many_arguments, reason = "the person, what decides their bills, and the three places a row is counted")]
fn write_money_rows(
    city: &City,
    policy: &Policy,
    member: &Person,
    through: u8,
    supplementary: bool,
    files: &mut LegacyFiles,
    lines: &mut [usize; 4],
    totals: &mut BTreeMap<(String, String), i64>,
) {
    let coverage = member.coverage(city);
    let region = coverage.region;
    for planned in contributions_of(city, member, through, supplementary) {
        let Ok(due) = yibao_engine::contribution_due(policy, &coverage, planned.kind, planned.period, planned.wage_monthly) else {
            continue;
        };
        let paid = planned.payment.of(due.due);
        lines[2] += 1;
        count(totals, region, format!("contributions {}", planned.kind.as_str()), 1);
        count(totals, region, format!("contributions {} due amount", planned.kind.as_str()), due.due.get());
        count(totals, region, format!("contributions {} paid amount", planned.kind.as_str()), paid.get());
        let _ = writeln!(
            files.contributions,
            "{},{},{},{},{}",
            member.id,
            planned.kind.as_str(),
            planned.period,
            paid,
            planned.wage_monthly.map_or_else(String::new, |w| w.to_string())
        );
    }
    let mut rng = SplitMix64::derived(city.config.seed, purpose::LEGACY, member.index);
    if rng.below(5) == 0 && coverage.category != PersonCategory::Resident || rng.below(8) == 0 {
        let deductible = Fen::yuan(rng.range(300, 1_200));
        let pooled = Fen::new(rng.range(10_000, 2_000_000));
        let outpatient = Fen::new(rng.range(0, 50_000));
        lines[3] += 1;
        let year = city.config.year;
        count(totals, region, format!("accumulators {year}"), 1);
        count(totals, region, format!("accumulators {year} admissions"), 1);
        count(totals, region, format!("accumulators {year} inpatient_deductible_paid amount"), deductible.get());
        count(totals, region, format!("accumulators {year} pooled_paid amount"), pooled.get());
        count(totals, region, format!("accumulators {year} outpatient_pooled_paid amount"), outpatient.get());
        let _ = writeln!(files.accumulators, "{},{},1,{deductible},{pooled},{outpatient}", member.id, city.config.year);
    }
}

/// A stay open at the cut-off (the end of month `through`) for about
/// [`crate::assumptions::IN_HOSPITAL_PM`] of the insured: admitted up to
/// [`crate::assumptions::OPEN_STAY_DAYS_MAX`] days before it (never before the coverage
/// began), at the person's county's first secondary hospital, under the hospital's
/// inpatient number `ZY` + the person's index.
fn write_stay(city: &City, member: &Person, through: u8, files: &mut LegacyFiles, totals: &mut BTreeMap<(String, String), i64>) {
    let mut rng = SplitMix64::derived(city.config.seed, purpose::LEGACY_STAY, member.index);
    if rng.below(1000) >= u64::from(crate::assumptions::IN_HOSPITAL_PM) {
        return;
    }
    let Some(&hospital) = city.by_county_level[usize::from(member.county)][yibao_domain::InstitutionLevel::Secondary as usize].first()
    else {
        return;
    };
    let hospital = &city.institutions[hospital as usize];
    let Ok(month) = time::Month::try_from(through) else { return };
    let Ok(cut_off) = time::Date::from_calendar_date(city.config.year, month, time::util::days_in_month(month, city.config.year)) else {
        return;
    };
    let coverage = member.coverage(city);
    let days = i64::try_from(rng.below(crate::assumptions::OPEN_STAY_DAYS_MAX + 1)).unwrap_or(0);
    let admitted = (cut_off - time::Duration::days(days)).max(coverage.coverage_from);
    if admitted > cut_off {
        return;
    }
    let _ = writeln!(files.stays, "{},{},ZY{:08},21,{admitted},,0", member.id, hospital.code, member.index);
    count(totals, coverage.region, "open stays".into(), 1);
}

/// A national ID with its last character changed to another that cannot check.
fn wrong_check_digit(row: &mut [String]) {
    let id = &row[0];
    let last = id.chars().last().unwrap_or('0');
    let other = if last == '0' { '1' } else { '0' };
    let wrong = format!("{}{other}", &id[..id.len() - 1]);
    row[0] = if yibao_domain::NationalId::parse(&wrong).is_ok() { format!("{}{}", &id[..id.len() - 1], 'X') } else { wrong };
}

/// A CSV cell, quoted when it must be.
fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}
