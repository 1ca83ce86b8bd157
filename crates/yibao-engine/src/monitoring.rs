//! Intelligent monitoring of a claim before payment (智能监控, R-INS-2; issue 18 item 3):
//! the checks of a monitoring rule pack run on one claim, each flag explaining itself (the
//! rule, the values it saw, the pack's citation) and saying whether the claim is paid with
//! a warning or held for review.
//!
//! What a check knows of the person is the register's: their sex and age come from their
//! national ID, never from the claim, and their last discharge from the stays the store
//! holds (the caller reads it). Pure: the rules and the facts are passed in; checks over a
//! person's or a physician's history (frequency, peers) are the application's, over its
//! records.

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{NationalId, Sex};

use crate::Claim;

/// Most rules one pack holds.
pub const RULES_MAX: usize = 200;
/// Most diagnoses one item's indications list.
pub const INDICATIONS_MAX: usize = 50;

/// What a flag does to the claim's payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Paid, with the flag on record for review after payment.
    Warn,
    /// Held: reviewed before the fund pays.
    Hold,
}

/// One check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// One item billed on two lines of a claim at the same price (重复收费).
    DuplicateLine,
    /// More of the items whose code begins with `code_prefix` in one claim than `max`
    /// (in the catalogue's unit; thousandths allowed) (超量).
    QuantityAbove { code_prefix: String, max: String },
    /// Items for one sex only (性别不符): obstetric items for women, prostate ones for men.
    ItemForSex { code_prefix: String, sex: SexName },
    /// A main diagnosis for one sex only (ICD-10 chapter O, pregnancy, for women).
    DiagnosisForSex { diagnosis_prefix: String, sex: SexName },
    /// Items for ages `min_years..=max_years` only (年龄不符): paediatric items.
    ItemForAge { code_prefix: String, min_years: u32, max_years: u32 },
    /// An item billed on a claim whose main diagnosis is outside the item's indications (超
    ///适应症): the catalogue's restricted items (限定支付范围), such as a drug for renal
    /// anaemia only, billed for a diagnosis that begins with none of `diagnosis_prefixes`.
    ItemForDiagnosis { code_prefix: String, diagnosis_prefixes: Vec<String> },
    /// An admission within `days` of the person's last discharge (短期再入院, split or
    /// early-discharged stays).
    ReadmissionWithin { days: u32 },
    /// More than `max` visits (claims that are not stays) of the person within `days` days
    /// up to this one, this one counted (就诊频次过高): over history, from the person's
    /// earlier claims the store holds.
    VisitsWithin { days: u32, max: u32 },
    /// After payment, over a period's paid claims: more than `max` visits (claims that are
    /// not stays) billed under one insurance physician on one day (医师日接诊量异常); every
    /// visit of that physician's day is flagged.
    PhysicianVisitsPerDay { max: u32 },
    /// After payment, against peers (同组比较): a claim whose bill is above `ratio_bp` (in
    /// basis points) of the median bill of its group, the period's paid claims of the same
    /// kind, institution level and diagnosis category (the ICD-10 code's first three
    /// characters), when the group has at least `min_peers` claims.
    CostAbovePeers { ratio_bp: u32, min_peers: u32 },
}

impl Check {
    /// Whether the check runs only over a period's paid claims ([`scan_paid`]), not on each
    /// claim at settlement ([`check_claim`]). (`visits-within` runs at both: after payment
    /// it recounts the visits whatever order they were settled in.)
    #[must_use]
    pub const fn after_payment(&self) -> bool {
        matches!(self, Check::PhysicianVisitsPerDay { .. } | Check::CostAbovePeers { .. })
    }
}

/// A sex as a rule names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SexName {
    Female,
    Male,
}

impl SexName {
    const fn is(self, sex: Sex) -> bool {
        matches!((self, sex), (SexName::Female, Sex::Female) | (SexName::Male, Sex::Male))
    }
}

/// A rule of the pack: its id, its check, what it does, and the source it rests on. (A
/// field no check has is refused by the check's own `deny_unknown_fields`: serde cannot
/// deny them here, beside `flatten`.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitoringRule {
    pub id: String,
    pub action: Action,
    pub citation: String,
    #[serde(flatten)]
    pub check: Check,
}

/// A dated monitoring rule pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePack {
    pub name: String,
    pub effective_from: Date,
    pub rules: Vec<MonitoringRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MonitoringError {
    #[error("the pack does not read: {0}")]
    Toml(String),
    #[error("a pack holds 1 to {RULES_MAX} rules, not {0}")]
    Rules(usize),
    #[error("rule '{0}' is in the pack twice")]
    Duplicate(String),
    #[error("rule '{id}': {why}")]
    Rule { id: String, why: String },
}

impl MonitoringError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "monitoring.bad_pack"
    }
}

impl RulePack {
    /// Whether a rule counts the person's earlier visits: the caller then reads them.
    #[must_use]
    pub fn needs_history(&self) -> bool {
        self.history().is_some()
    }

    /// What the rules over history need of the person's earlier visits: those within the
    /// longest window, and no more of them (latest first) than the largest limit, since a
    /// rule that sees `max` visits within its window before this one has what it needs.
    #[must_use]
    pub fn history(&self) -> Option<HistoryWanted> {
        self.rules
            .iter()
            .filter_map(|r| match r.check {
                Check::VisitsWithin { days, max } => Some(HistoryWanted { days, visits: max }),
                _ => None,
            })
            .reduce(|a, b| HistoryWanted { days: a.days.max(b.days), visits: a.visits.max(b.visits) })
    }

    /// A pack read from its TOML text and checked.
    pub fn parse(text: &str) -> Result<RulePack, MonitoringError> {
        let pack: RulePack = toml::from_str(text).map_err(|e| MonitoringError::Toml(e.to_string()))?;
        pack.check()?;
        Ok(pack)
    }

    /// Checks what serde cannot: ids once, a citation for every rule, quantities that
    /// parse, age ranges in order.
    pub fn check(&self) -> Result<(), MonitoringError> {
        if self.rules.is_empty() || self.rules.len() > RULES_MAX {
            return Err(MonitoringError::Rules(self.rules.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules {
            if !seen.insert(rule.id.as_str()) {
                return Err(MonitoringError::Duplicate(rule.id.clone()));
            }
            let fail = |why: &str| Err(MonitoringError::Rule { id: rule.id.clone(), why: why.to_owned() });
            if rule.id.trim().is_empty() || rule.citation.trim().is_empty() {
                return fail("a rule has an id and cites its source");
            }
            if rule.check.after_payment() && rule.action == Action::Hold {
                return fail("a check over paid claims warns: what it flags is reviewed after payment");
            }
            match &rule.check {
                Check::QuantityAbove { max, .. } if max_milli(max).is_none() => return fail("max is a quantity (at most three decimals)"),
                Check::ItemForAge { min_years, max_years, .. } if min_years > max_years => return fail("min_years is above max_years"),
                Check::ItemForDiagnosis { code_prefix, diagnosis_prefixes }
                    if code_prefix.is_empty()
                        || diagnosis_prefixes.is_empty()
                        || diagnosis_prefixes.len() > INDICATIONS_MAX
                        || diagnosis_prefixes.iter().any(String::is_empty) =>
                {
                    return fail("an item's code prefix and 1 to 50 diagnosis prefixes, none empty");
                }
                Check::VisitsWithin { days, max } if *days == 0 || *days > 366 || *max == 0 => {
                    return fail("days is 1 to 366 and max at least 1");
                }
                Check::PhysicianVisitsPerDay { max } if *max == 0 => return fail("max is at least 1"),
                Check::CostAbovePeers { ratio_bp, min_peers } if *ratio_bp <= 10_000 || *min_peers < 3 => {
                    return fail("ratio_bp is above 10,000 (the median itself) and min_peers at least 3");
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A quantity in thousandths, as the catalogue counts (`2.5` → 2,500).
fn max_milli(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 3 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Thousandths without allocating: the check runs on every claim.
    let fraction = fraction.bytes().zip([100, 10, 1]).map(|(digit, place)| u64::from(digit - b'0') * place).sum::<u64>();
    whole.parse::<u64>().ok()?.checked_mul(1_000)?.checked_add(fraction)
}

/// The earlier visits the rules over history need: those within `days` before the claim
/// (its day counted), latest first, at most `visits` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryWanted {
    pub days: u32,
    pub visits: u32,
}

/// What the register knows of the claim's person.
#[derive(Clone, Copy, Debug)]
pub struct ClaimFacts<'a> {
    pub claim: &'a Claim,
    pub person: &'a NationalId,
    /// The discharge day of the person's last stay settled before this claim, if any.
    pub last_discharge: Option<Date>,
    /// The dates of service of the person's earlier live visits (claims that are not
    /// stays), as many as [`RulePack::history`] wants; read only when the pack has a rule
    /// over history.
    pub earlier_visits: &'a [Date],
}

/// One flag: the rule that raised it, what it does, why in words with the values seen,
/// and the source the rule cites.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flag {
    pub rule: String,
    pub action: Action,
    pub message: String,
    pub citation: String,
}

/// The flags the pack's rules raise on the claim, in the pack's order.
#[must_use]
pub fn check_claim(pack: &RulePack, facts: ClaimFacts<'_>) -> Vec<Flag> {
    let claim = facts.claim;
    let sex = facts.person.sex();
    let age = facts.person.age_on(claim.admission_date);
    let mut flags = Vec::new();
    for rule in &pack.rules {
        let mut raise = |message: String| {
            flags.push(Flag { rule: rule.id.clone(), action: rule.action, message, citation: rule.citation.clone() });
        };
        match &rule.check {
            Check::DuplicateLine => {
                for (i, line) in claim.lines.iter().enumerate() {
                    if let Some(j) =
                        claim.lines[..i].iter().position(|earlier| earlier.code == line.code && earlier.unit_price == line.unit_price)
                    {
                        raise(format!("line {} bills {} at {} yuan again, as line {} does", i + 1, line.code, line.unit_price, j + 1));
                    }
                }
            }
            Check::QuantityAbove { code_prefix, max } => {
                let Some(max) = max_milli(max) else { continue };
                let billed: u64 = claim
                    .lines
                    .iter()
                    .filter(|l| l.code.as_str().starts_with(code_prefix.as_str()))
                    .map(|l| u64::from(l.quantity.milli()))
                    .sum();
                if billed > max {
                    raise(format!("{} of items {code_prefix}… billed; at most {} in one claim", milli_text(billed), milli_text(max)));
                }
            }
            Check::ItemForSex { code_prefix, sex: only } => {
                if !only.is(sex)
                    && let Some(line) = claim.lines.iter().find(|l| l.code.as_str().starts_with(code_prefix.as_str()))
                {
                    raise(format!("{} is for {} patients; the register's national ID says {}", line.code, sex_word(*only), sex_of(sex)));
                }
            }
            Check::DiagnosisForSex { diagnosis_prefix, sex: only } => {
                if !only.is(sex) && claim.diagnosis.starts_with(diagnosis_prefix.as_str()) {
                    raise(format!(
                        "the diagnosis {} is for {} patients; the register's national ID says {}",
                        claim.diagnosis,
                        sex_word(*only),
                        sex_of(sex)
                    ));
                }
            }
            Check::ItemForAge { code_prefix, min_years, max_years } => {
                if !(*min_years..=*max_years).contains(&age)
                    && let Some(line) = claim.lines.iter().find(|l| l.code.as_str().starts_with(code_prefix.as_str()))
                {
                    raise(format!("{} is for ages {min_years} to {max_years}; the patient was {age} on admission", line.code));
                }
            }
            Check::ItemForDiagnosis { code_prefix, diagnosis_prefixes } => {
                if !diagnosis_prefixes.iter().any(|p| claim.diagnosis.starts_with(p.as_str()))
                    && let Some(line) = claim.lines.iter().find(|l| l.code.as_str().starts_with(code_prefix.as_str()))
                {
                    raise(format!(
                        "{} is paid for diagnoses {} only; the claim's main diagnosis is {}",
                        line.code,
                        diagnosis_prefixes.join(", "),
                        claim.diagnosis
                    ));
                }
            }
            Check::VisitsWithin { days, max } => {
                if claim.kind.is_visit() {
                    let day = claim.admission_date;
                    let within = facts
                        .earlier_visits
                        .iter()
                        .filter(|earlier| **earlier <= day && (day - **earlier).whole_days() < i64::from(*days))
                        .count();
                    let visits = u32::try_from(within).unwrap_or(u32::MAX).saturating_add(1);
                    if visits > *max {
                        raise(format!("{visits} visits within {days} days up to {day}; at most {max}"));
                    }
                }
            }
            Check::PhysicianVisitsPerDay { .. } | Check::CostAbovePeers { .. } => {}
            Check::ReadmissionWithin { days } => {
                if claim.kind.is_stay()
                    && let Some(last) = facts.last_discharge
                    && last <= claim.admission_date
                    && (claim.admission_date - last).whole_days() <= i64::from(*days)
                {
                    raise(format!(
                        "admitted on {}, {} days after the last discharge on {last}: within {days}",
                        claim.admission_date,
                        (claim.admission_date - last).whole_days()
                    ));
                }
            }
        }
    }
    flags
}

/// What a scan over paid claims reads of one claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidClaim {
    pub institution_code: String,
    pub claim_id: String,
    /// The person's national ID, as stored.
    pub person_id: String,
    pub kind: yibao_domain::ClaimKind,
    pub institution_level: yibao_domain::InstitutionLevel,
    pub diagnosis: String,
    pub physician: Option<String>,
    /// The day of service (admission).
    pub day: Date,
    pub medfee_fen: i64,
}

/// Whether the pack has checks over paid claims ([`scan_paid`]).
impl RulePack {
    #[must_use]
    pub fn scans_paid_claims(&self) -> bool {
        self.rules.iter().any(|r| r.check.after_payment() || matches!(r.check, Check::VisitsWithin { .. }))
    }
}

/// The flags the pack's checks over paid claims raise on a period's claims: each the index
/// of the claim in `claims` and its flag, in the pack's order and then the claims' order.
/// Every one warns: what was settled before the scan may have been paid, so a rule that
/// holds at settlement (`visits-within`) only warns when a scan recounts it. Pure: the
/// caller reads the claims (settled, not reversed) and stores the flags.
#[must_use]
pub fn scan_paid(pack: &RulePack, claims: &[PaidClaim]) -> Vec<(usize, Flag)> {
    let mut flags = Vec::new();
    for rule in &pack.rules {
        let flag = |message: String| Flag { rule: rule.id.clone(), action: Action::Warn, message, citation: rule.citation.clone() };
        match rule.check {
            Check::PhysicianVisitsPerDay { max } => {
                let mut days: std::collections::BTreeMap<(&str, Date), Vec<usize>> = std::collections::BTreeMap::new();
                for (i, claim) in claims.iter().enumerate() {
                    if let Some(physician) = claim.physician.as_deref().filter(|_| claim.kind.is_visit()) {
                        days.entry((physician, claim.day)).or_default().push(i);
                    }
                }
                for ((physician, day), visits) in days {
                    if visits.len() > max as usize {
                        let message = format!("{physician} billed {} visits on {day}; at most {max} a day", visits.len());
                        flags.extend(visits.into_iter().map(|i| (i, flag(message.clone()))));
                    }
                }
            }
            Check::VisitsWithin { days, max } => {
                // Recounted after payment over the period's visits, whatever order and
                // however concurrently they were settled: the check at settlement counts
                // only the visits settled before each one.
                let mut persons: std::collections::BTreeMap<&str, Vec<(Date, usize)>> = std::collections::BTreeMap::new();
                for (i, claim) in claims.iter().enumerate().filter(|(_, c)| c.kind.is_visit()) {
                    persons.entry(claim.person_id.as_str()).or_default().push((claim.day, i));
                }
                let mut raised: Vec<(usize, Flag)> = Vec::new();
                for visits in persons.values_mut() {
                    visits.sort_unstable();
                    for (day, i) in visits.iter() {
                        let upto = visits.partition_point(|(other, _)| other <= day);
                        let from = visits.partition_point(|(other, _)| (*day - *other).whole_days() >= i64::from(days));
                        let within = u32::try_from(upto.saturating_sub(from)).unwrap_or(u32::MAX);
                        if within > max {
                            raised.push((*i, flag(format!("{within} visits within {days} days up to {day}; at most {max}"))));
                        }
                    }
                }
                raised.sort_by_key(|(i, _)| *i);
                flags.extend(raised);
            }
            Check::CostAbovePeers { ratio_bp, min_peers } => {
                type Group<'a> = (yibao_domain::ClaimKind, yibao_domain::InstitutionLevel, &'a str);
                let mut groups: std::collections::HashMap<Group<'_>, Vec<usize>> = std::collections::HashMap::new();
                for (i, claim) in claims.iter().enumerate() {
                    let category = claim.diagnosis.get(..3).unwrap_or(&claim.diagnosis);
                    groups.entry((claim.kind, claim.institution_level, category)).or_default().push(i);
                }
                let mut raised: Vec<(usize, Flag)> = Vec::new();
                for ((kind, level, category), members) in groups {
                    if members.len() < min_peers as usize {
                        continue;
                    }
                    let (peers, median_fen) = (members.len(), median(members.iter().map(|i| claims[*i].medfee_fen).collect()));
                    for i in members {
                        let bill_fen = claims[i].medfee_fen;
                        // bill > median × ratio, in integers: bill × 10,000 > median × ratio_bp.
                        if i128::from(bill_fen) * 10_000 > i128::from(median_fen) * i128::from(ratio_bp) {
                            raised.push((
                                i,
                                flag(format!(
                                    "billed {} yuan, above {}% of the median {} yuan of its {} peers ({}, {}, {category}…)",
                                    yibao_domain::Fen::new(bill_fen),
                                    ratio_bp / 100,
                                    yibao_domain::Fen::new(median_fen),
                                    peers,
                                    kind.as_str(),
                                    level.as_str()
                                )),
                            ));
                        }
                    }
                }
                raised.sort_by_key(|(i, _)| *i);
                flags.extend(raised);
            }
            _ => {}
        }
    }
    flags
}

/// The median of `values` (the lower middle of an even count: an amount billed).
fn median(mut values: Vec<i64>) -> i64 {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

const fn sex_word(sex: SexName) -> &'static str {
    match sex {
        SexName::Female => "female",
        SexName::Male => "male",
    }
}

const fn sex_of(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
    }
}

fn milli_text(milli: u64) -> String {
    let (whole, fraction) = (milli / 1_000, milli % 1_000);
    if fraction == 0 { whole.to_string() } else { format!("{whole}.{fraction:03}").trim_end_matches('0').to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACK: &str = r#"
name = "demo monitoring rules"
effective_from = "2026-01-01"

[[rules]]
id = "duplicate-line"
check = "duplicate-line"
action = "warn"
citation = "assumption: a line billed twice at one price is a duplicate charge (重复收费)"

[[rules]]
id = "ceftriaxone-quantity"
check = "quantity-above"
code_prefix = "XJ01DDT045"
max = "14"
action = "hold"
citation = "assumption: at most 14 doses a claim"

[[rules]]
id = "obstetric-items-women"
check = "item-for-sex"
code_prefix = "3113"
sex = "female"
action = "hold"
citation = "assumption: obstetric services (3113…) are for women"

[[rules]]
id = "pregnancy-diagnosis-women"
check = "diagnosis-for-sex"
diagnosis_prefix = "O"
sex = "female"
action = "hold"
citation = "ICD-10 chapter XV: pregnancy, childbirth and the puerperium"

[[rules]]
id = "paediatric-items"
check = "item-for-age"
code_prefix = "001100"
min_years = 0
max_years = 13
action = "warn"
citation = "assumption: paediatric surcharges (001100…) for under-14s"

[[rules]]
id = "epo-renal-anaemia"
check = "item-for-diagnosis"
code_prefix = "XB03XAC041"
diagnosis_prefixes = ["N18", "D63.8"]
action = "warn"
citation = "the catalogue's restriction: erythropoietin for renal anaemia only (限肾性贫血)"

[[rules]]
id = "readmission-31"
check = "readmission-within"
days = 31
action = "warn"
citation = "assumption: readmission within 31 days is reviewed (issue 18)"
"#;

    fn pack() -> RulePack {
        let pack: RulePack = toml::from_str(PACK).expect("the pack parses");
        pack.check().expect("the pack holds");
        pack
    }

    fn claim(diagnosis: &str, lines: &[(&str, &str, &str)]) -> Claim {
        let lines: Vec<serde_json::Value> = lines
            .iter()
            .map(|(code, quantity, price)| serde_json::json!({"code": code, "quantity": quantity, "unit_price": price}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "claim_id": "C-1", "institution_code": "H41992100007", "institution_level": "secondary", "kind": "inpatient",
            "admission_date": "2026-03-20", "discharge_date": "2026-03-25", "diagnosis": diagnosis, "lines": lines
        }))
        .expect("a claim")
    }

    /// A person of the register born on 1 January `year`: an odd sequence is a man, an even
    /// one a woman (GB 11643).
    fn person(year: i32, sequence: u16) -> NationalId {
        let born = time::Date::from_calendar_date(year, time::Month::January, 1).expect("a day");
        NationalId::from_parts(yibao_domain::RegionCode::parse("419921").expect("a county"), born, sequence).expect("an id")
    }

    /// A rule that warns, citing an assumption of the test.
    fn warning(id: &str, check: Check) -> MonitoringRule {
        MonitoringRule { id: id.into(), action: Action::Warn, citation: "assumption of the test".into(), check }
    }

    fn rules_of(flags: &[Flag]) -> Vec<&str> {
        flags.iter().map(|f| f.rule.as_str()).collect()
    }

    /// Each check, data-driven: the claim, the person, the last discharge, the rules raised.
    #[test]
    fn each_check_raises_its_flag_and_no_other() {
        let (man, woman, child) = (person(1980, 1), person(1980, 2), person(2020, 1));
        let pack = pack();
        /// What is checked, the claim, whose, their last discharge, the rules raised.
        type Case<'a> = (&'a str, Claim, &'a NationalId, Option<Date>, Vec<&'a str>);
        let cases: [Case<'_>; 9] = [
            ("clean", claim("K35.900", &[("001109000010000", "6", "35.00")]), &man, None, vec![]),
            (
                "a line twice",
                claim("K35.900", &[("001109000010000", "6", "35.00"), ("001109000010000", "1", "35.00")]),
                &man,
                None,
                vec!["duplicate-line"],
            ),
            (
                "fifteen doses over two lines",
                claim("J18.900", &[("XJ01DDT045B001010101288", "8", "150.00"), ("XJ01DDT045B001010101288", "7", "140.00")]),
                &woman,
                None,
                vec!["ceftriaxone-quantity"],
            ),
            ("an obstetric item for a man", claim("K35.900", &[("311300001", "1", "500.00")]), &man, None, vec!["obstetric-items-women"]),
            ("pregnancy for a man", claim("O80.000", &[]), &man, None, vec!["pregnancy-diagnosis-women"]),
            (
                "a paediatric item for an adult",
                claim("J18.900", &[("001100000010000", "1", "5.00")]),
                &woman,
                None,
                vec!["paediatric-items"],
            ),
            ("back within a week", claim("J18.900", &[]), &child, Some(time::macros::date!(2026 - 03 - 13)), vec!["readmission-31"]),
            (
                "erythropoietin for pneumonia",
                claim("J18.900", &[("XB03XAC041B002010102209", "2", "60.00")]),
                &woman,
                None,
                vec!["epo-renal-anaemia"],
            ),
            ("erythropoietin for kidney disease", claim("N18.500", &[("XB03XAC041B002010102209", "2", "60.00")]), &woman, None, vec![]),
        ];
        for (what, claim, person, last_discharge, expected) in cases {
            let flags = check_claim(&pack, ClaimFacts { claim: &claim, person, last_discharge, earlier_visits: &[] });
            assert_eq!(rules_of(&flags), expected, "{what}: {flags:?}");
        }
    }

    #[test]
    fn a_flag_explains_itself_with_the_values_it_saw_and_its_citation() {
        let pack = pack();
        let man = person(1980, 1);
        let doses = claim("J18.900", &[("XJ01DDT045B001010101288", "8", "150.00"), ("XJ01DDT045B001010101288", "7.5", "140.00")]);
        let flags = check_claim(
            &pack,
            ClaimFacts { claim: &doses, person: &man, last_discharge: Some(time::macros::date!(2026 - 01 - 01)), earlier_visits: &[] },
        );
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].action, Action::Hold);
        assert_eq!(flags[0].message, "15.5 of items XJ01DDT045… billed; at most 14 in one claim");
        assert_eq!(flags[0].citation, "assumption: at most 14 doses a claim");
        // The six-year-old's paediatric item is his: no flag.
        let child = person(2020, 1);
        let paediatric = claim("J18.900", &[("001100000010000", "1", "5.00")]);
        assert!(
            check_claim(&pack, ClaimFacts { claim: &paediatric, person: &child, last_discharge: None, earlier_visits: &[] }).is_empty()
        );
    }

    /// Over history: a fourth visit within seven days warns; three do not, a visit a week
    /// before is out of the window, and a stay is not a visit.
    #[test]
    fn a_fourth_visit_within_a_week_is_flagged() {
        let mut pack = pack();
        pack.rules = vec![warning("visits-7", Check::VisitsWithin { days: 7, max: 3 })];
        assert!(pack.check().is_ok() && pack.needs_history());
        assert_eq!(pack.history(), Some(HistoryWanted { days: 7, visits: 3 }));
        let mut monthly = pack.clone();
        monthly.rules.push(MonitoringRule {
            id: "visits-30".into(),
            check: Check::VisitsWithin { days: 30, max: 2 },
            ..pack.rules[0].clone()
        });
        assert_eq!(monthly.history(), Some(HistoryWanted { days: 30, visits: 3 }), "the widest window, the largest limit");
        let mut visit = claim("J06.900", &[]);
        visit.kind = yibao_domain::ClaimKind::GeneralOutpatient;
        visit.discharge_date = visit.admission_date;
        let woman = person(1980, 2);
        let d = |day: u8| time::Date::from_calendar_date(2026, time::Month::March, day).expect("a day");
        let flags = |earlier: &[time::Date], claim: &Claim| {
            check_claim(&pack, ClaimFacts { claim, person: &woman, last_discharge: None, earlier_visits: earlier })
                .into_iter()
                .map(|f| f.rule)
                .collect::<Vec<_>>()
        };
        assert_eq!(flags(&[d(14), d(16), d(18)], &visit), ["visits-7"], "the 20th is the fourth within 7 days");
        assert!(flags(&[d(13), d(16), d(18)], &visit).is_empty(), "the 13th is a week before");
        assert!(flags(&[d(16), d(18)], &visit).is_empty());
        assert!(flags(&[d(14), d(16), d(18)], &claim("J06.900", &[])).is_empty(), "a stay is not a visit");
        let message =
            &check_claim(&pack, ClaimFacts { claim: &visit, person: &woman, last_discharge: None, earlier_visits: &[d(14), d(16), d(18)] })
                [0]
            .message;
        assert_eq!(message, "4 visits within 7 days up to 2026-03-20; at most 3");
        pack.rules[0].check = Check::VisitsWithin { days: 0, max: 3 };
        assert!(pack.check().is_err());
    }

    /// After payment: a physician's fifth visit of a day flags the day's visits (a stay is
    /// not one); a bill three times its peers' median is flagged where the group is large
    /// enough to have a median worth the name.
    #[test]
    fn paid_claims_are_scanned_per_physician_and_against_peers() {
        let mut pack = pack();
        pack.rules = vec![
            warning("physician-day", Check::PhysicianVisitsPerDay { max: 3 }),
            warning("peers", Check::CostAbovePeers { ratio_bp: 30_000, min_peers: 3 }),
        ];
        assert!(pack.check().is_ok() && pack.scans_paid_claims());
        let day = time::macros::date!(2026 - 03 - 02);
        let paid = |id: &str, physician: Option<&str>, kind: yibao_domain::ClaimKind, diagnosis: &str, bill_fen: i64| PaidClaim {
            institution_code: "H41992100007".into(),
            claim_id: id.into(),
            person_id: "419921198001010012".into(),
            kind,
            institution_level: yibao_domain::InstitutionLevel::Secondary,
            diagnosis: diagnosis.into(),
            physician: physician.map(str::to_owned),
            day,
            medfee_fen: bill_fen,
        };
        use yibao_domain::ClaimKind::{GeneralOutpatient as Visit, Inpatient as Stay};
        let claims = [
            paid("V-1", Some("D419921000001"), Visit, "J06.900", 10_000),
            paid("V-2", Some("D419921000001"), Visit, "J06.900", 11_000),
            paid("V-3", Some("D419921000001"), Visit, "J06.901", 12_000),
            paid("V-4", Some("D419921000001"), Visit, "J06.900", 13_000),
            paid("V-5", Some("D419921000002"), Visit, "J06.900", 50_000),
            paid("S-1", Some("D419921000002"), Stay, "K35.900", 900_000),
            paid("S-2", Some("D419921000002"), Stay, "K35.900", 3_000_000),
            paid("S-3", Some("D419921000002"), Stay, "K35.900", 3_000_000),
        ];
        let flags = scan_paid(&pack, &claims);
        let raised: Vec<(&str, &str)> = flags.iter().map(|(i, f)| (claims[*i].claim_id.as_str(), f.rule.as_str())).collect();
        assert_eq!(
            raised,
            [("V-1", "physician-day"), ("V-2", "physician-day"), ("V-3", "physician-day"), ("V-4", "physician-day"), ("V-5", "peers")],
            "D…001's four visits; V-5 at 500.00 against a median of 120.00 (J06, five peers); the stays' median is 30,000.00"
        );
        assert_eq!(flags[0].1.message, "D419921000001 billed 4 visits on 2026-03-02; at most 3 a day");
        assert_eq!(
            flags[4].1.message,
            "billed 500.00 yuan, above 300% of the median 120.00 yuan of its 5 peers (general-outpatient, secondary, J06…)"
        );
        assert!(
            check_claim(
                &pack,
                ClaimFacts { claim: &claim("J06.900", &[]), person: &person(1980, 1), last_discharge: None, earlier_visits: &[] }
            )
            .is_empty(),
            "not at settlement"
        );
        pack.rules[1].action = Action::Hold;
        assert!(pack.check().is_err(), "what was paid is not held");
    }

    /// After payment, visits are recounted whatever order they were settled in: a fourth
    /// visit within a week is flagged even when it was settled first, and four visits of one
    /// day are each the fourth of that day; a pharmacy purchase is no visit.
    #[test]
    fn visits_are_recounted_after_payment() {
        let mut pack = pack();
        pack.rules = vec![warning("visits-7", Check::VisitsWithin { days: 7, max: 3 })];
        assert!(pack.scans_paid_claims());
        let d = |day: u8| time::Date::from_calendar_date(2026, time::Month::March, day).expect("a day");
        let visit = |id: &str, person: &str, day: u8, kind: yibao_domain::ClaimKind| PaidClaim {
            institution_code: "H41992100007".into(),
            claim_id: id.into(),
            person_id: person.into(),
            kind,
            institution_level: yibao_domain::InstitutionLevel::Primary,
            diagnosis: "J06.900".into(),
            physician: None,
            day: d(day),
            medfee_fen: 1_000,
        };
        use yibao_domain::ClaimKind::{GeneralOutpatient as Visit, PharmacyPurchase as Pharmacy};
        let claims = [
            visit("A-4", "A", 13, Visit),
            visit("A-1", "A", 10, Visit),
            visit("A-3", "A", 12, Visit),
            visit("A-2", "A", 11, Visit),
            visit("A-5", "A", 20, Visit),
            visit("B-1", "B", 10, Visit),
            visit("B-2", "B", 10, Visit),
            visit("B-3", "B", 10, Visit),
            visit("B-4", "B", 10, Visit),
            visit("C-1", "C", 10, Visit),
            visit("C-2", "C", 10, Pharmacy),
            visit("C-3", "C", 11, Pharmacy),
            visit("C-4", "C", 12, Visit),
        ];
        let flagged: Vec<&str> = scan_paid(&pack, &claims).iter().map(|(i, _)| claims[*i].claim_id.as_str()).collect();
        assert_eq!(flagged, ["A-4", "B-1", "B-2", "B-3", "B-4"], "A-5 is a week after A-2; C bought medicines twice");
        pack.rules[0].action = Action::Hold;
        assert!(scan_paid(&pack, &claims).iter().all(|(_, f)| f.action == Action::Warn), "what may have been paid is not held");
    }

    #[test]
    fn a_pack_that_does_not_hold_is_refused() {
        let mut twice = pack();
        twice.rules.push(twice.rules[0].clone());
        assert_eq!(twice.check(), Err(MonitoringError::Duplicate("duplicate-line".into())));
        let mut uncited = pack();
        uncited.rules[0].citation = " ".into();
        assert!(matches!(uncited.check(), Err(MonitoringError::Rule { .. })));
        let mut bad_max = pack();
        bad_max.rules[1].check = Check::QuantityAbove { code_prefix: "X".into(), max: "1.2345".into() };
        assert!(matches!(bad_max.check(), Err(MonitoringError::Rule { .. })));
        let mut no_indications = pack();
        no_indications.rules[1].check = Check::ItemForDiagnosis { code_prefix: "XB03".into(), diagnosis_prefixes: vec![] };
        assert!(matches!(no_indications.check(), Err(MonitoringError::Rule { .. })), "an item for no diagnosis is no rule");
        let unknown = PACK.replace("check = \"duplicate-line\"", "check = \"astrology\"");
        assert!(toml::from_str::<RulePack>(&unknown).is_err(), "an unknown check is refused, not skipped");
    }
}
