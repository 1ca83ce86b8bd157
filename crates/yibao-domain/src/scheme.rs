//! Schemes, tiers, institution levels and the other closed vocabularies of the domain.
//! Each carries the national platform's dictionary code where one exists (SPEC, "Codes").

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::RegionCode;

/// An insurance scheme (险种), each with its own fund (R-SCH-1, R-SCH-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Employee basic medical insurance (城镇职工基本医疗保险), with personal accounts.
    Employee,
    /// Resident basic medical insurance (城乡居民基本医疗保险; urban residents + NCMS).
    Resident,
    /// Maternity insurance (生育保险).
    Maternity,
    /// Critical-illness insurance for residents (大病保险) and the employees' large-amount
    /// supplement (职工大额医疗费用补助); one layer, which fund pays depends on the basic scheme.
    CriticalIllness,
    /// Supplementary insurance (补充医疗保险), e.g. ZZ-NCMS's rural supplementary insurance.
    Supplementary,
    /// Medical assistance (医疗救助), the last public layer for the poor.
    MedicalAssistance,
}

impl Scheme {
    pub const ALL: [Scheme; 6] =
        [Scheme::Employee, Scheme::Resident, Scheme::Maternity, Scheme::CriticalIllness, Scheme::Supplementary, Scheme::MedicalAssistance];

    /// The two basic schemes a person is enrolled in at most one of (R-ENR-2).
    #[must_use]
    pub const fn is_basic(self) -> bool {
        matches!(self, Scheme::Employee | Scheme::Resident)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Employee => "employee",
            Scheme::Resident => "resident",
            Scheme::Maternity => "maternity",
            Scheme::CriticalIllness => "critical-illness",
            Scheme::Supplementary => "supplementary",
            Scheme::MedicalAssistance => "medical-assistance",
        }
    }

    pub fn parse(text: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.as_str() == text)
    }

    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            Scheme::Employee => "职工基本医疗保险",
            Scheme::Resident => "城乡居民基本医疗保险",
            Scheme::Maternity => "生育保险",
            Scheme::CriticalIllness => "大病保险/职工大额",
            Scheme::Supplementary => "补充医疗保险",
            Scheme::MedicalAssistance => "医疗救助",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the four contribution tiers (缴费档次), 1 the highest (R-ENR-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Tier(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tier {0} does not exist: tiers are 1 (highest) to 4")]
pub struct TierError(pub u8);

impl Tier {
    pub const ALL: [Tier; 4] = [Tier(1), Tier(2), Tier(3), Tier(4)];

    pub const fn new(number: u8) -> Result<Tier, TierError> {
        if number >= 1 && number <= 4 { Ok(Tier(number)) } else { Err(TierError(number)) }
    }

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Tier 1 is the highest; moving from 3 to 2 is moving up.
    #[must_use]
    pub const fn is_higher_than(self, other: Tier) -> bool {
        self.0 < other.0
    }
}

impl TryFrom<u8> for Tier {
    type Error = TierError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Tier::new(value)
    }
}
impl From<Tier> for u8 {
    fn from(t: Tier) -> u8 {
        t.0
    }
}
impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Level of a designated institution (定点医疗机构等级), R-BEN-5.
///
/// Township and community health centres are primary care like level-1 hospitals, and a
/// pack that does not name `township` gives them the primary level's values; many cities
/// publish a lower deductible and a higher ratio for them (issue 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstitutionLevel {
    /// Primary: level-1 hospitals, and health centres where the pack does not tell them
    /// apart (一级).
    Primary,
    /// Secondary: county hospitals, level-2 hospitals (二级/县级).
    Secondary,
    /// Tertiary: city and provincial hospitals, level-3 hospitals (三级/市级).
    Tertiary,
    /// Township and community health centres (乡镇卫生院、社区卫生服务中心). Last, so the
    /// other levels keep their order and index.
    Township,
}

impl InstitutionLevel {
    pub const ALL: [InstitutionLevel; 4] =
        [InstitutionLevel::Township, InstitutionLevel::Primary, InstitutionLevel::Secondary, InstitutionLevel::Tertiary];

    /// The level whose values a township health centre takes when a pack does not name it.
    #[must_use]
    pub const fn fallback(self) -> Option<InstitutionLevel> {
        match self {
            InstitutionLevel::Township => Some(InstitutionLevel::Primary),
            _ => None,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            InstitutionLevel::Township => "township",
            InstitutionLevel::Primary => "primary",
            InstitutionLevel::Secondary => "secondary",
            InstitutionLevel::Tertiary => "tertiary",
        }
    }

    pub fn parse(text: &str) -> Option<InstitutionLevel> {
        InstitutionLevel::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// Where care was given relative to the person's pooling region (R-BEN-6): in the city, out
/// of the city inside its province (省内异地), or in another province (跨省异地). The place
/// is the register's, from the institution's region (`Place::of`), never the claim's say.
/// Out-of-area care keeps the institution's level; a pack lowers the ratio by points or
/// gives each place its own deductible and ratio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    #[default]
    InArea,
    InProvince,
    CrossProvince,
}

impl Place {
    pub const ALL: [Place; 3] = [Place::InArea, Place::InProvince, Place::CrossProvince];
    /// The places a claim can be out of the area in.
    pub const OUT_OF_AREA: [Place; 2] = [Place::InProvince, Place::CrossProvince];

    /// Where an institution of `institution` region stands for a person of `city`.
    #[must_use]
    pub const fn of(city: RegionCode, institution: RegionCode) -> Place {
        if city.contains(institution) {
            Place::InArea
        } else if city.province().contains(institution) {
            Place::InProvince
        } else {
            Place::CrossProvince
        }
    }

    #[must_use]
    pub const fn is_out_of_area(self) -> bool {
        !matches!(self, Place::InArea)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Place::InArea => "in-area",
            Place::InProvince => "in-province",
            Place::CrossProvince => "cross-province",
        }
    }
    pub fn parse(text: &str) -> Option<Place> {
        Place::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// What a person is, for benefits that differ by person type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersonCategory {
    /// An employee in work (在职职工).
    #[default]
    Employed,
    /// A retired employee (退休人员).
    Retired,
    /// A resident (城乡居民): adults outside work, minors, students, rural residents.
    Resident,
}

impl PersonCategory {
    pub const ALL: [PersonCategory; 3] = [PersonCategory::Employed, PersonCategory::Retired, PersonCategory::Resident];
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PersonCategory::Employed => "employed",
            PersonCategory::Retired => "retired",
            PersonCategory::Resident => "resident",
        }
    }
    pub fn parse(text: &str) -> Option<PersonCategory> {
        PersonCategory::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// Groups eligible for medical assistance (医疗救助对象) and for the poor's terms in
/// critical-illness insurance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssistanceGroup {
    /// Destitute persons (特困供养人员).
    Destitute,
    /// Minimum-living-standard households (低保对象).
    Dibao,
    /// Low-income households (低收入/低保边缘).
    LowIncome,
    /// Impoverished by illness (因病致贫重病患者).
    ImpoverishedByIllness,
    /// Registered poor households (建档立卡贫困人口), the poverty-alleviation register.
    RegisteredPoor,
}

impl AssistanceGroup {
    pub const ALL: [AssistanceGroup; 5] = [
        AssistanceGroup::Destitute,
        AssistanceGroup::Dibao,
        AssistanceGroup::LowIncome,
        AssistanceGroup::ImpoverishedByIllness,
        AssistanceGroup::RegisteredPoor,
    ];
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AssistanceGroup::Destitute => "destitute",
            AssistanceGroup::Dibao => "dibao",
            AssistanceGroup::LowIncome => "low-income",
            AssistanceGroup::ImpoverishedByIllness => "impoverished-by-illness",
            AssistanceGroup::RegisteredPoor => "registered-poor",
        }
    }
    pub fn parse(text: &str) -> Option<AssistanceGroup> {
        AssistanceGroup::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// The kind of a claim, with the national `med_type` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimKind {
    /// Ordinary inpatient stay (普通住院), med_type 2101.
    Inpatient,
    /// General outpatient under outpatient pooling (普通门诊/门诊统筹), med_type 11.
    GeneralOutpatient,
    /// Outpatient care for a certified chronic or special disease (门诊慢特病), med_type 14.
    ChronicOutpatient,
    /// Childbirth (生育住院), med_type 52.
    Maternity,
    /// An inpatient stay for a disease the pack pays at a fixed price (单病种), med_type
    /// 2102: the fund pays its share of the price; what the bill exceeds it by, the
    /// hospital bears (R-BEN-2).
    SingleDisease,
    /// Day surgery (日间手术), med_type 28: admitted and discharged within a day, settled
    /// under the inpatient rules with the pack's own deductible for it where it gives one.
    DaySurgery,
    /// A purchase at a designated pharmacy (定点药店购药), med_type 41: no pooled fund
    /// pays; an employee's personal account pays the in-scope part, the rest is cash.
    PharmacyPurchase,
    /// Outpatient medicines for hypertension or diabetes (门诊两病), med_type 9901 (a
    /// provincial extension of the national dictionary): for a person on file for the
    /// disease, no deductible or a small one, a ratio and an annual limit of their own.
    TwoDisease,
    /// A special drug (特药), med_type 9904 (a provincial extension): a costly medicine the
    /// city lists for some diseases, dispensed by a hospital or a designated pharmacy
    /// (双通道) to a person on file for one of them, under its own deductible and ratio,
    /// within the pooled annual cap, with critical illness and assistance above it.
    SpecialDrug,
}

impl ClaimKind {
    pub const ALL: [ClaimKind; 9] = [
        ClaimKind::Inpatient,
        ClaimKind::GeneralOutpatient,
        ClaimKind::ChronicOutpatient,
        ClaimKind::Maternity,
        ClaimKind::SingleDisease,
        ClaimKind::DaySurgery,
        ClaimKind::PharmacyPurchase,
        ClaimKind::TwoDisease,
        ClaimKind::SpecialDrug,
    ];

    #[must_use]
    pub const fn med_type(self) -> &'static str {
        match self {
            ClaimKind::Inpatient => "2101",
            ClaimKind::GeneralOutpatient => "11",
            ClaimKind::ChronicOutpatient => "14",
            ClaimKind::Maternity => "52",
            ClaimKind::SingleDisease => "2102",
            ClaimKind::DaySurgery => "28",
            ClaimKind::PharmacyPurchase => "41",
            ClaimKind::TwoDisease => "9901",
            ClaimKind::SpecialDrug => "9904",
        }
    }

    /// The kind a national medical type (`med_type`, 医疗类别) names: each kind's own code
    /// and the national dictionary's aliases (`21` and `2101` are both an ordinary stay,
    /// `12` and `13` general outpatient care, `1401` and `1402` chronic care, `5201` a
    /// maternity stay). `None`: a type not settled here.
    #[must_use]
    pub fn of_med_type(code: &str) -> Option<ClaimKind> {
        match code {
            "11" | "12" | "13" => Some(ClaimKind::GeneralOutpatient),
            "14" | "1401" | "1402" => Some(ClaimKind::ChronicOutpatient),
            "21" | "2101" => Some(ClaimKind::Inpatient),
            "2102" => Some(ClaimKind::SingleDisease),
            "28" => Some(ClaimKind::DaySurgery),
            "41" => Some(ClaimKind::PharmacyPurchase),
            "9901" => Some(ClaimKind::TwoDisease),
            "9904" => Some(ClaimKind::SpecialDrug),
            "52" | "5201" => Some(ClaimKind::Maternity),
            _ => None,
        }
    }

    /// The kind as the wire names it (`single-disease`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Inpatient => "inpatient",
            ClaimKind::GeneralOutpatient => "general-outpatient",
            ClaimKind::ChronicOutpatient => "chronic-outpatient",
            ClaimKind::Maternity => "maternity",
            ClaimKind::SingleDisease => "single-disease",
            ClaimKind::DaySurgery => "day-surgery",
            ClaimKind::PharmacyPurchase => "pharmacy-purchase",
            ClaimKind::TwoDisease => "two-disease",
            ClaimKind::SpecialDrug => "special-drug",
        }
    }

    /// A stay in hospital, admission to discharge: its nights may not overlap another
    /// stay's, and the national interface admits and discharges it.
    #[must_use]
    pub const fn is_stay(self) -> bool {
        matches!(self, ClaimKind::Inpatient | ClaimKind::SingleDisease | ClaimKind::DaySurgery | ClaimKind::Maternity)
    }

    /// A visit to a doctor (就诊) that is not a stay: what monitoring counts as a person's or
    /// a physician's visits. A purchase at a pharmacy is neither.
    #[must_use]
    pub const fn is_visit(self) -> bool {
        !self.is_stay() && !matches!(self, ClaimKind::PharmacyPurchase)
    }

    /// Settled under the inpatient rules (deductible, ratio, referral, the pooled cap and
    /// the layers above): an ordinary stay or a day surgery.
    #[must_use]
    pub const fn is_inpatient(self) -> bool {
        matches!(self, ClaimKind::Inpatient | ClaimKind::DaySurgery)
    }
}

/// The two diseases whose outpatient medicines residents' insurance pays on terms of its
/// own (门诊两病, 医保发〔2019〕54号): hypertension (高血压, ICD-10 I10–I15) and diabetes
/// (糖尿病, E10–E14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TwoDisease {
    Hypertension,
    Diabetes,
}

impl TwoDisease {
    /// Which of the two a main diagnosis is, if either.
    #[must_use]
    pub fn of(diagnosis: &str) -> Option<TwoDisease> {
        let category = diagnosis.get(..3)?;
        match category {
            "I10" | "I11" | "I12" | "I13" | "I15" => Some(TwoDisease::Hypertension),
            "E10" | "E11" | "E12" | "E13" | "E14" => Some(TwoDisease::Diabetes),
            _ => None,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TwoDisease::Hypertension => "hypertension",
            TwoDisease::Diabetes => "diabetes",
        }
    }

    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            TwoDisease::Hypertension => "高血压",
            TwoDisease::Diabetes => "糖尿病",
        }
    }
}

/// How a pregnancy ended, which sets maternity leave days and the lump sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryKind {
    /// Normal delivery (顺产).
    Normal,
    /// Difficult delivery, including caesarean section (难产/剖宫产).
    Difficult,
    /// Miscarriage before four months of pregnancy (怀孕未满4个月流产).
    MiscarriageEarly,
    /// Miscarriage at four months or later (怀孕满4个月流产).
    MiscarriageLate,
}

#[cfg(test)]
mod tests {
    use super::ClaimKind;

    #[test]
    fn every_kind_is_named_back_by_its_own_medical_type() {
        for kind in ClaimKind::ALL {
            assert_eq!(ClaimKind::of_med_type(kind.med_type()), Some(kind));
        }
        assert_eq!(ClaimKind::of_med_type("21"), Some(ClaimKind::Inpatient), "the dictionary's alias of 2101");
        assert_eq!(ClaimKind::of_med_type("5201"), Some(ClaimKind::Maternity));
        assert_eq!(ClaimKind::of_med_type("99"), None);
        assert_eq!(ClaimKind::of_med_type(""), None);
    }
}
