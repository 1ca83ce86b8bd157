//! What a designated institution submits: one claim with its lines (R-BEN-4), and what
//! the engine knows of the person (coverage, tier history, year-to-date accumulators).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;
use yibao_domain::{
    AssistanceGroup, ClaimKind, DeliveryKind, Fen, InstitutionLevel, ItemCode, NationalId, PersonCategory, Place, RegionCode, Scheme, Tier,
    serde_yuan,
};

/// Most lines one claim may carry. A long inpatient stay has hundreds; above this a
/// hospital must split its upload (TIGER_STYLE: a limit on everything).
pub const LINES_LIMIT: usize = 5_000;
/// Largest unit price: 10 million yuan.
pub const UNIT_PRICE_LIMIT: Fen = Fen::yuan(10_000_000);
/// Largest quantity on a line, in thousandths: 1,000,000 units.
pub const QUANTITY_LIMIT_MILLI: u32 = 1_000_000_000;
/// Largest bill: 100 million yuan.
pub const BILL_LIMIT: Fen = Fen::yuan(100_000_000);
/// Longest stay: two years.
pub const STAY_DAYS_LIMIT: i64 = 731;
/// Most tier changes a person's history may hold.
pub const TIER_CHANGES_LIMIT: usize = 64;
pub const BABIES_LIMIT: u8 = 9;
/// Most leave days a claim may state before the pack's own bound is checked.
pub const LEAVE_DAYS_LIMIT: u16 = 365;

/// A quantity in thousandths of a unit (the national interface allows fractional counts:
/// half a box, 0.25 of a vial).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity(u32);

impl Quantity {
    #[must_use]
    pub const fn from_milli(milli: u32) -> Quantity {
        Quantity(milli)
    }
    #[must_use]
    pub const fn units(units: u32) -> Quantity {
        Quantity(units * 1000)
    }
    #[must_use]
    pub const fn milli(self) -> u32 {
        self.0
    }

    /// `"2"`, `"0.5"`, `"1.125"`: at most three decimals.
    pub fn parse(text: &str) -> Option<Quantity> {
        let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if whole.is_empty()
            || whole.len() > 7
            || frac.len() > 3
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let milli = whole.parse::<u32>().ok()?.checked_mul(1000)?.checked_add(format!("{frac:0<3}").parse::<u32>().ok()?)?;
        Some(Quantity(milli))
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 { write!(f, "{whole}") } else { write!(f, "{}", format!("{whole}.{frac:03}").trim_end_matches('0')) }
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Units(u32),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Units(n) if n <= QUANTITY_LIMIT_MILLI / 1000 => Ok(Quantity::units(n)),
            Wire::Units(n) => Err(serde::de::Error::custom(format!("quantity {n} is too large"))),
            Wire::Text(text) => Quantity::parse(&text)
                .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a quantity (at most three decimals, e.g. \"0.5\")"))),
        }
    }
}

/// One line of a bill (费用明细).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimLine {
    /// National catalogue code (`med_list_codg`).
    pub code: ItemCode,
    #[serde(rename = "quantity")]
    pub quantity: Quantity,
    #[serde(with = "serde_yuan")]
    pub unit_price: Fen,
    /// For a restricted-use item: the hospital's approval (限制使用审批) is on file.
    #[serde(default)]
    pub approved: bool,
}

/// Childbirth details of a maternity claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub kind: DeliveryKind,
    #[serde(default = "one")]
    pub babies: u8,
    /// Employer's average monthly wage last year, for the maternity allowance (生育津贴);
    /// absent when the allowance is not claimed with this bill.
    #[serde(default, with = "optional_yuan")]
    pub employer_average_wage_monthly: Option<Fen>,
    /// The leave days taken, when fewer than the law gives (issue 13: the statutory days
    /// plus the province's `maternity.leave_days.extension`): a mother who went back sooner.
    /// Absent: all of them. Never more: the allowance is paid on these days.
    #[serde(default)]
    pub leave_days: Option<u16>,
}

const fn one() -> u8 {
    1
}

mod optional_yuan {
    use serde::{Deserialize, Deserializer, Serializer};
    use yibao_domain::Fen;

    pub fn serialize<S: Serializer>(value: &Option<Fen>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(fen) => serializer.collect_str(fen),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Fen>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "yibao_domain::serde_yuan")] Fen);
        Ok(Option::<Wrapper>::deserialize(deserializer)?.map(|w| w.0))
    }
}

/// One claim, as the hospital's billing system submits it at discharge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The institution's own id for this claim (its idempotency key at the service).
    pub claim_id: String,
    /// Designated institution code, `H` + region + serial.
    pub institution_code: String,
    pub institution_level: InstitutionLevel,
    #[serde(default)]
    pub place: Place,
    pub kind: ClaimKind,
    pub admission_date: Date,
    pub discharge_date: Date,
    /// Main diagnosis, ICD-10 insurance edition (`I10.x00`).
    pub diagnosis: String,
    /// Main procedure of a stay, ICD-9-CM-3 insurance edition (`36.0601`), if it had one.
    /// The patient's settlement does not read it; the payment year groups the stay by it
    /// with the diagnosis (DIP, `yibao-payment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
    /// The insurance physician who treated (national `atddr_no`, `bilg_dr_codg`): `D`, the
    /// region and a serial. The application checks the register: registered under the
    /// claim's institution and allowed to bill on the date of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physician: Option<String>,
    /// Admitted on a referral (转诊) from a lower level or from the home region.
    #[serde(default)]
    pub referral: bool,
    /// An emergency admission counts as referred for out-of-area care.
    #[serde(default)]
    pub emergency: bool,
    /// Deductible already paid at the referring hospital in the same episode: on an
    /// upward referral the patient pays only the difference (起付线连续计算).
    #[serde(default, with = "serde_yuan")]
    pub referred_deductible_paid: Fen,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    pub lines: Vec<ClaimLine>,
}

impl Claim {
    /// The date of service: admission or discharge, as the pack's rule says. It picks the
    /// policy values in force and the accumulator year (the New-Year rule); the engine, the
    /// application and the loaders all read it here.
    #[must_use]
    pub const fn service_date(&self, rule: yibao_policy::ServiceDateRule) -> Date {
        match rule {
            yibao_policy::ServiceDateRule::Admission => self.admission_date,
            yibao_policy::ServiceDateRule::Discharge => self.discharge_date,
        }
    }
}

/// Why a claim cannot be settled as submitted: the caller must correct it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("the claim has no lines")]
    NoLines,
    #[error("the claim has {0} lines; at most {LINES_LIMIT} per claim")]
    TooManyLines(usize),
    #[error("line {line}: quantity must be above zero and at most 1,000,000")]
    BadQuantity { line: usize },
    #[error("line {line}: unit price must be between 0 and 10,000,000 yuan")]
    BadUnitPrice { line: usize },
    #[error("the bill's total is above 100,000,000 yuan")]
    BillTooLarge,
    #[error("discharge date {discharge} is before admission date {admission}")]
    DischargeBeforeAdmission { admission: Date, discharge: Date },
    #[error("the stay of {0} days is longer than two years")]
    StayTooLong(i64),
    #[error("a maternity claim needs its delivery (kind, babies)")]
    MaternityWithoutDelivery,
    #[error("only a maternity claim has a delivery")]
    DeliveryOnNonMaternity,
    #[error("babies must be 1 to {BABIES_LIMIT}")]
    BadBabies,
    #[error("leave days must be 1 to {LEAVE_DAYS_LIMIT}, stated with the employer's wage for the allowance")]
    BadLeaveDays,
    #[error("the claim id must be 1 to 64 printable characters")]
    BadClaimId,
    #[error("'{0}' is not a designated institution code: 'H' or 'P', 6-digit region, 5-digit serial")]
    BadInstitutionCode(String),
    #[error(
        "'{0}' is not an ICD-10 diagnosis code (insurance edition: a capital letter, two digits, then a dot and up to 8 digits, capitals or x)"
    )]
    BadDiagnosis(String),
    #[error("'{0}' is not an ICD-9-CM-3 procedure code (insurance edition: two digits, then a dot and 1 to 4 digits, e.g. 36.0601)")]
    BadProcedure(String),
    #[error("'{0}' is not an insurance physician's code: 'D', the 6-digit region and a 6-digit serial")]
    BadPhysician(String),
    #[error("the referred deductible may not be negative")]
    NegativeReferredDeductible,
    #[error("a day surgery of {0} days: it is discharged on the day of admission or the next")]
    DaySurgeryTooLong(i64),
    #[error("a pharmacy purchase is one day's: its admission and discharge dates are the day of the purchase")]
    PurchaseSpansDays,
}

impl ClaimError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            ClaimError::NoLines => "claim.no_lines",
            ClaimError::TooManyLines(_) => "claim.too_many_lines",
            ClaimError::BadQuantity { .. } => "claim.bad_quantity",
            ClaimError::BadUnitPrice { .. } => "claim.bad_unit_price",
            ClaimError::BillTooLarge => "claim.bill_too_large",
            ClaimError::DischargeBeforeAdmission { .. } => "claim.discharge_before_admission",
            ClaimError::StayTooLong(_) => "claim.stay_too_long",
            ClaimError::MaternityWithoutDelivery => "claim.maternity_without_delivery",
            ClaimError::DeliveryOnNonMaternity => "claim.delivery_on_non_maternity",
            ClaimError::BadBabies => "claim.bad_babies",
            ClaimError::BadLeaveDays => "claim.bad_leave_days",
            ClaimError::BadClaimId => "claim.bad_claim_id",
            ClaimError::BadInstitutionCode(_) => "claim.bad_institution_code",
            ClaimError::BadDiagnosis(_) => "claim.bad_diagnosis",
            ClaimError::BadProcedure(_) => "claim.bad_procedure",
            ClaimError::BadPhysician(_) => "claim.bad_physician",
            ClaimError::NegativeReferredDeductible => "claim.negative_referred_deductible",
            ClaimError::DaySurgeryTooLong(_) => "claim.day_surgery_too_long",
            ClaimError::PurchaseSpansDays => "claim.purchase_spans_days",
        }
    }
}

/// Whether `text` is an institution's claim id: 1 to 64 bytes, no control character.
#[must_use]
pub fn is_claim_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && !text.chars().any(char::is_control)
}

impl Claim {
    /// Checks everything about the claim that needs no policy. Allocation-free.
    pub fn check(&self) -> Result<(), ClaimError> {
        if !is_claim_id(&self.claim_id) {
            return Err(ClaimError::BadClaimId);
        }
        if !yibao_domain::InstitutionCode::is_valid(&self.institution_code) {
            return Err(ClaimError::BadInstitutionCode(self.institution_code.clone()));
        }
        if !yibao_domain::is_diagnosis_code(&self.diagnosis) {
            return Err(ClaimError::BadDiagnosis(self.diagnosis.clone()));
        }
        if let Some(procedure) = self.procedure.as_ref().filter(|p| !yibao_domain::is_procedure_code(p)) {
            return Err(ClaimError::BadProcedure(procedure.clone()));
        }
        if let Some(physician) = self.physician.as_ref().filter(|p| !yibao_domain::PhysicianCode::is_valid(p)) {
            return Err(ClaimError::BadPhysician(physician.chars().take(32).collect()));
        }
        if self.lines.is_empty() {
            return Err(ClaimError::NoLines);
        }
        if self.lines.len() > LINES_LIMIT {
            return Err(ClaimError::TooManyLines(self.lines.len()));
        }
        let mut bill_upper_bound: i128 = 0;
        for (index, line) in self.lines.iter().enumerate() {
            if line.quantity.milli() == 0 || line.quantity.milli() > QUANTITY_LIMIT_MILLI {
                return Err(ClaimError::BadQuantity { line: index + 1 });
            }
            if line.unit_price.is_negative() || line.unit_price > UNIT_PRICE_LIMIT {
                return Err(ClaimError::BadUnitPrice { line: index + 1 });
            }
            bill_upper_bound += i128::from(line.unit_price.get()) * i128::from(line.quantity.milli()) / 1000 + 1;
        }
        if bill_upper_bound > i128::from(BILL_LIMIT.get()) {
            return Err(ClaimError::BillTooLarge);
        }
        if self.discharge_date < self.admission_date {
            return Err(ClaimError::DischargeBeforeAdmission { admission: self.admission_date, discharge: self.discharge_date });
        }
        let stay = (self.discharge_date - self.admission_date).whole_days();
        if stay > STAY_DAYS_LIMIT {
            return Err(ClaimError::StayTooLong(stay));
        }
        // Day surgery: within 24 hours, so on the day of admission or the next.
        if self.kind == ClaimKind::DaySurgery && stay > 1 {
            return Err(ClaimError::DaySurgeryTooLong(stay));
        }
        if self.kind == ClaimKind::PharmacyPurchase && stay != 0 {
            return Err(ClaimError::PurchaseSpansDays);
        }
        match (self.kind, self.delivery) {
            (ClaimKind::Maternity, None) => return Err(ClaimError::MaternityWithoutDelivery),
            (ClaimKind::Maternity, Some(d)) if d.babies == 0 || d.babies > BABIES_LIMIT => return Err(ClaimError::BadBabies),
            (ClaimKind::Maternity, Some(Delivery { leave_days: Some(days), employer_average_wage_monthly, .. }))
                if days == 0 || days > LEAVE_DAYS_LIMIT || employer_average_wage_monthly.is_none() =>
            {
                return Err(ClaimError::BadLeaveDays);
            }
            (kind, Some(_)) if kind != ClaimKind::Maternity => return Err(ClaimError::DeliveryOnNonMaternity),
            _ => {}
        }
        if self.referred_deductible_paid.is_negative() {
            return Err(ClaimError::NegativeReferredDeductible);
        }
        Ok(())
    }
}

/// A change of tier requested on a date (R-ENR-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    pub requested_on: Date,
    pub tier: Tier,
}

/// A person's tier since enrolment and every change asked for since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierHistory {
    pub initial: Tier,
    pub since: Date,
    #[serde(default)]
    pub changes: Vec<TierChange>,
}

/// What the engine needs to know about the insured person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub person_id: NationalId,
    /// Where the person is insured (参保地): a county or the city itself.
    pub region: RegionCode,
    /// The basic scheme: employee or resident.
    pub scheme: Scheme,
    pub category: PersonCategory,
    pub coverage_from: Date,
    #[serde(default)]
    pub coverage_until: Option<Date>,
    /// Required when the policy has tiers.
    #[serde(default)]
    pub tier_history: Option<TierHistory>,
    #[serde(default)]
    pub assistance_group: Option<AssistanceGroup>,
    /// Enrolled in supplementary insurance this year.
    #[serde(default)]
    pub supplementary: bool,
    /// Enrolled in maternity insurance.
    #[serde(default)]
    pub maternity: bool,
    /// An employee under the civil servants' medical subsidy (公务员医疗补助, insutype 320).
    /// (Written only when true, so a person stored before it serialises as before.)
    #[serde(default, skip_serializing_if = "is_false")]
    pub civil_servant: bool,
    /// An employee whose employer has supplementary insurance (企业补充医疗保险, 370).
    #[serde(default, skip_serializing_if = "is_false")]
    pub enterprise_supplementary: bool,
    /// ICD-10 prefixes of the chronic/special diseases certified for this person (认定).
    #[serde(default)]
    pub certified_chronic_diseases: Vec<String>,
    #[serde(default, with = "serde_yuan")]
    pub personal_account_balance: Fen,
    /// The person chose to pay their share from the personal account first.
    #[serde(default)]
    pub use_personal_account: bool,
}

/// Year-to-date counters per person, basic scheme and year, read and returned by the
/// engine (the national interface's transaction 5206). All start at zero each year.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Accumulators {
    pub year: i32,
    pub admissions: u32,
    #[serde(with = "serde_yuan")]
    pub inpatient_deductible_paid: Fen,
    /// Pooled fund paid (inpatient + chronic outpatient), against `pooled.annual_cap`.
    #[serde(with = "serde_yuan")]
    pub pooled_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub outpatient_deductible_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub outpatient_pooled_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub chronic_deductible_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub chronic_paid: Fen,
    /// In-scope cost the person still bore after the pooled and supplementary funds
    /// (deductible, coinsurance, above the cap): the base of critical-illness insurance.
    #[serde(with = "serde_yuan")]
    pub inscope_burden: Fen,
    #[serde(with = "serde_yuan")]
    pub critical_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub assistance_deductible_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub assistance_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub supplementary_paid: Fen,
    #[serde(with = "serde_yuan")]
    pub maternity_paid: Fen,
    // The counters below came after accumulators were first stored and digested in the
    // audit chain: written only when not zero, so a year stored before them serialises as
    // it did and its digest still checks (the upgrade test caught it).
    /// The two diseases' outpatient medicines (门诊两病): deductible paid and fund paid.
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub two_disease_deductible_paid: Fen,
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub two_disease_paid: Fen,
    /// Special drugs (特药): deductible paid and fund paid (also in `pooled_paid`).
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub special_drug_deductible_paid: Fen,
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub special_drug_paid: Fen,
    /// The civil servants' subsidy and the employer's supplementary insurance paid.
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub civil_servant_paid: Fen,
    #[serde(with = "serde_yuan", skip_serializing_if = "is_zero")]
    pub enterprise_supplementary_paid: Fen,
}

fn is_zero(fen: &Fen) -> bool {
    fen.is_zero()
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

impl Accumulators {
    #[must_use]
    pub fn new_year(year: i32) -> Accumulators {
        Accumulators { year, ..Accumulators::default() }
    }
}
