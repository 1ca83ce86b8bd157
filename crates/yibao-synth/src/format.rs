//! The synthetic city as lines of text: one CSV line per person, per claim and per
//! institution, comma-separated, no quoting (no field holds a comma), UTF-8, a header line
//! first. `yibao synth --out DIR` writes:
//!
//! - `manifest.json`: the format (`yibao-synth/1`), insured, seed, year, block size, and
//!   every file with its line count;
//! - `institutions.csv`: `code,name,region,level,place`;
//! - `persons/persons-NNNNN.csv`, one file per block, in person order: [`PERSON_HEADER`];
//! - `claims/claims-NNNNN.csv`, one file per block, in date order (day of settlement,
//!   admission, person, claim number): [`CLAIM_HEADER`].
//!
//! Fields: dates `YYYY-MM-DD`; money in yuan with two decimals (`12.50`); booleans `1`/`0`;
//! enumerations by the names the JSON API uses (`general-outpatient`, `tertiary`,
//! `in-province`, `dibao`…); an empty field is absent. A claim's `lines` are
//! `code*quantity@unit_price` joined by `|`, with `!` after the price when the hospital
//! approved a restricted item; `bill` is their sum, rounded per line as the engine does
//! (half-up). A person's `chronic` lists the certified diseases joined by `;`.
//! [`parse_claim`] and [`parse_person`] read the lines back.

use std::fmt::Write as _;

use yibao_domain::{
    AssistanceGroup, ClaimKind, DeliveryKind, Fen, InstitutionLevel, ItemCode, NationalId, PersonCategory, Place, RegionCode, Rounding,
    Scheme, Tier, parse_date,
};
use yibao_engine::{Claim, ClaimLine, Coverage, Delivery, Quantity, TierChange, TierHistory};

use crate::assumptions::CHRONIC;
use crate::city::{City, Institution};
use crate::person::Person;

/// The format's name, in the manifest.
pub const FORMAT: &str = "yibao-synth/1";

pub const INSTITUTION_HEADER: &str = "code,name,region,level,place";
pub const PERSON_HEADER: &str = "person_id,household,region,urban,sex,birth_date,age,scheme,category,tier,tier_change_on,tier_change_to,assistance_group,supplementary,maternity,chronic,wage_monthly,account_balance,use_account,coverage_from";
pub const CLAIM_HEADER: &str = "claim_id,person_id,kind,institution,level,place,admission,discharge,diagnosis,referral,emergency,delivery,babies,allowance_wage,bill,lines";

fn flag(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

const KINDS: [ClaimKind; 9] = ClaimKind::ALL;

const fn delivery_name(kind: DeliveryKind) -> &'static str {
    match kind {
        DeliveryKind::Normal => "normal",
        DeliveryKind::Difficult => "difficult",
        DeliveryKind::MiscarriageEarly => "miscarriage-early",
        DeliveryKind::MiscarriageLate => "miscarriage-late",
    }
}

const DELIVERIES: [DeliveryKind; 4] =
    [DeliveryKind::Normal, DeliveryKind::Difficult, DeliveryKind::MiscarriageEarly, DeliveryKind::MiscarriageLate];

/// One institution line (no newline).
pub fn write_institution(out: &mut String, institution: &Institution) {
    let _ = write!(
        out,
        "{},{},{},{},{}",
        institution.code,
        institution.name,
        institution.region,
        institution.level.as_str(),
        institution.place.as_str()
    );
}

/// One person line (no newline).
pub fn write_person(out: &mut String, city: &City, person: &Person) {
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{},",
        person.id,
        person.household,
        city.counties[usize::from(person.county)],
        flag(person.urban),
        if person.male { "male" } else { "female" },
        person.id.birth_date(),
        person.age,
        person.scheme,
        person.category.as_str(),
        person.tier,
    );
    if let Some(change) = person.tier_change {
        let _ = write!(out, "{},{},", change.requested_on, change.tier);
    } else {
        out.push_str(",,");
    }
    let _ = write!(out, "{},{},{},", person.group.map_or("", AssistanceGroup::as_str), flag(person.supplementary), flag(person.maternity));
    let mut first = true;
    for (bit, (code, _, _)) in CHRONIC.iter().enumerate() {
        if person.chronic & (1 << bit) != 0 {
            if !first {
                out.push(';');
            }
            out.push_str(code);
            first = false;
        }
    }
    let _ = write!(out, ",{},{},{},{}", person.wage_monthly, person.account_opening, flag(person.use_account), person.coverage_from);
}

/// One claim line (no newline), from the engine's claim.
pub fn write_claim(out: &mut String, person: NationalId, claim: &Claim) {
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},",
        claim.claim_id,
        person,
        claim.kind.as_str(),
        claim.institution_code,
        claim.institution_level.as_str(),
        claim.place.as_str(),
        claim.admission_date,
        claim.discharge_date,
        claim.diagnosis,
        flag(claim.referral),
        flag(claim.emergency),
    );
    match claim.delivery {
        Some(d) => {
            let _ = write!(out, "{},{},", delivery_name(d.kind), d.babies);
            if let Some(wage) = d.employer_average_wage_monthly {
                let _ = write!(out, "{wage}");
            }
        }
        None => out.push_str(",,"),
    }
    let bill: Fen = claim.lines.iter().map(|l| Rounding::HalfUp.scale(l.unit_price, i64::from(l.quantity.milli()), 1000)).sum();
    let _ = write!(out, ",{bill},");
    for (n, line) in claim.lines.iter().enumerate() {
        if n > 0 {
            out.push('|');
        }
        let _ = write!(out, "{}*{}@{}{}", line.code, line.quantity, line.unit_price, if line.approved { "!" } else { "" });
    }
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {why}")]
pub struct LineError {
    pub field: &'static str,
    pub why: String,
}

fn bad(field: &'static str, why: impl Into<String>) -> LineError {
    LineError { field, why: why.into() }
}

fn fields<'a, const N: usize>(line: &'a str, names: &'static str) -> Result<[&'a str; N], LineError> {
    let mut out = [""; N];
    let mut parts = line.split(',');
    for slot in &mut out {
        *slot = parts.next().ok_or_else(|| bad("line", format!("expected {N} fields: {names}")))?;
    }
    if parts.next().is_some() {
        return Err(bad("line", format!("more than {N} fields")));
    }
    Ok(out)
}

fn yes(field: &'static str, text: &str) -> Result<bool, LineError> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(bad(field, "1 or 0")),
    }
}

fn date(field: &'static str, text: &str) -> Result<time::Date, LineError> {
    parse_date(text).map_err(|e| bad(field, e.to_string()))
}

fn yuan(field: &'static str, text: &str) -> Result<Fen, LineError> {
    Fen::parse_yuan(text).map_err(|e| bad(field, e.to_string()))
}

/// A claim line back into the person's ID and the engine's claim.
pub fn parse_claim(line: &str) -> Result<(NationalId, Claim), LineError> {
    let [
        claim_id,
        person,
        kind,
        institution,
        level,
        place,
        admission,
        discharge,
        diagnosis,
        referral,
        emergency,
        delivery,
        babies,
        wage,
        _bill,
        lines,
    ] = fields::<16>(line, CLAIM_HEADER)?;
    let person = NationalId::parse(person).map_err(|e| bad("person_id", e.to_string()))?;
    let kind = KINDS.into_iter().find(|k| k.as_str() == kind).ok_or_else(|| bad("kind", kind))?;
    let delivery = if delivery.is_empty() {
        None
    } else {
        Some(Delivery {
            kind: DELIVERIES.into_iter().find(|d| delivery_name(*d) == delivery).ok_or_else(|| bad("delivery", delivery))?,
            babies: babies.parse().map_err(|_| bad("babies", babies))?,
            employer_average_wage_monthly: if wage.is_empty() { None } else { Some(yuan("allowance_wage", wage)?) },
            // The file layout has no leave days: the statutory days.
            leave_days: None,
        })
    };
    let mut parsed = Vec::new();
    for text in lines.split('|') {
        let (code, rest) = text.split_once('*').ok_or_else(|| bad("lines", text))?;
        let (quantity, price) = rest.split_once('@').ok_or_else(|| bad("lines", text))?;
        let (price, approved) = match price.strip_suffix('!') {
            Some(p) => (p, true),
            None => (price, false),
        };
        parsed.push(ClaimLine {
            code: ItemCode::parse(code).map_err(|e| bad("lines", e.to_string()))?,
            quantity: Quantity::parse(quantity).ok_or_else(|| bad("lines", quantity))?,
            unit_price: yuan("lines", price)?,
            approved,
        });
    }
    let claim = Claim {
        claim_id: claim_id.to_owned(),
        institution_code: institution.to_owned(),
        institution_level: InstitutionLevel::parse(level).ok_or_else(|| bad("level", level))?,
        place: Place::parse(place).ok_or_else(|| bad("place", place))?,
        kind,
        admission_date: date("admission", admission)?,
        discharge_date: date("discharge", discharge)?,
        diagnosis: diagnosis.to_owned(),
        referral: yes("referral", referral)?,
        emergency: yes("emergency", emergency)?,
        referred_deductible_paid: Fen::ZERO,
        procedure: None,
        physician: None,
        delivery,
        lines: parsed,
    };
    Ok((person, claim))
}

/// A person line back into the engine's coverage (with the opening personal-account
/// balance) and the monthly wage.
pub fn parse_person(line: &str) -> Result<(Coverage, Fen), LineError> {
    let [
        id,
        _household,
        region,
        _urban,
        _sex,
        _birth,
        _age,
        scheme,
        category,
        tier,
        change_on,
        change_to,
        group,
        supplementary,
        maternity,
        chronic,
        wage,
        account,
        use_account,
        coverage_from,
    ] = fields::<20>(line, PERSON_HEADER)?;
    let tier_of = |field: &'static str, text: &str| -> Result<Tier, LineError> {
        Tier::new(text.parse().map_err(|_| bad(field, text))?).map_err(|e| bad(field, e.to_string()))
    };
    let coverage_from = date("coverage_from", coverage_from)?;
    let changes = if change_on.is_empty() {
        Vec::new()
    } else {
        vec![TierChange { requested_on: date("tier_change_on", change_on)?, tier: tier_of("tier_change_to", change_to)? }]
    };
    let coverage = Coverage {
        person_id: NationalId::parse(id).map_err(|e| bad("person_id", e.to_string()))?,
        region: RegionCode::parse(region).map_err(|e| bad("region", e.to_string()))?,
        scheme: Scheme::parse(scheme).ok_or_else(|| bad("scheme", scheme))?,
        category: PersonCategory::parse(category).ok_or_else(|| bad("category", category))?,
        coverage_from,
        coverage_until: None,
        tier_history: Some(TierHistory { initial: tier_of("tier", tier)?, since: coverage_from, changes }),
        assistance_group: if group.is_empty() {
            None
        } else {
            Some(AssistanceGroup::parse(group).ok_or_else(|| bad("assistance_group", group))?)
        },
        supplementary: yes("supplementary", supplementary)?,
        maternity: yes("maternity", maternity)?,
        civil_servant: false,
        enterprise_supplementary: false,
        certified_chronic_diseases: if chronic.is_empty() { Vec::new() } else { chronic.split(';').map(str::to_owned).collect() },
        personal_account_balance: yuan("account_balance", account)?,
        use_personal_account: yes("use_account", use_account)?,
    };
    Ok((coverage, yuan("wage_monthly", wage)?))
}
