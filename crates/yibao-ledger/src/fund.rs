//! Funds (基金): the separate sets of books R-SCH-2 requires, one per scheme fund and
//! pooling region ("按险种分别建账、分账核算、分别计息", SMX §四(三)).

use std::fmt;

use serde::{Deserialize, Serialize};
use yibao_domain::{RegionCode, Scheme};

/// The scheme fund a set of books belongs to.
///
/// Finer than [`Scheme`]: `Scheme::CriticalIllness` is one settlement layer, but the
/// residents' critical-illness insurance (392) and the employees' large-amount fund (330)
/// are two funds with two sets of books. The municipal adjustment fund is a fund of its own
/// too: ZZ-POOL §四(九) keeps it in the special account "分别列账、单独核算".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FundScheme {
    /// 职工基本医疗保险基金 (insutype 310): the employees' pooled fund and personal accounts.
    Employee,
    /// 职工大额医疗费用补助 (330): pays the settlement's `hifob_pay`.
    EmployeeLargeAmount,
    /// 城乡居民基本医疗保险基金 (390).
    Resident,
    /// 城乡居民大病保险 (392): pays the settlement's `hifmi_pay`.
    ResidentCriticalIllness,
    /// 生育保险基金 (510).
    Maternity,
    /// 补充医疗保险, e.g. ZZ-NCMS's rural supplementary insurance: pays `oth_pay`. No
    /// national code.
    Supplementary,
    /// 医疗救助基金 (610): pays `maf_pay`.
    MedicalAssistance,
    /// 新型农村合作医疗 (380), a retired scheme: kept so its history stays under its own
    /// scheme and its fund can be handed over into the resident fund (R-SCH-3, R-FND-7).
    Ncms,
    /// 城镇居民基本医疗保险 (391), a retired scheme, for the same reason.
    UrbanResident,
    /// 公务员医疗补助 (320): civil servants' subsidy above employee insurance, financed by
    /// the government budget; pays the settlement's `cvlserv_pay`.
    CivilServantSubsidy,
    /// 企业补充医疗保险 (370): an employer's supplementary insurance for its employees,
    /// administered with the settlement; pays `hifes_pay`.
    EnterpriseSupplementary,
    /// 市级调剂金 (ZZ-POOL §四(九)) / 风险调剂金 (SMX §五(三)): 10% of the levied funds'
    /// collected pooled income, booked per contributor, drawn on to cover deficits (R-FND-5).
    MunicipalAdjustment,
}

impl FundScheme {
    pub const ALL: [FundScheme; 12] = [
        FundScheme::Employee,
        FundScheme::EmployeeLargeAmount,
        FundScheme::Resident,
        FundScheme::ResidentCriticalIllness,
        FundScheme::Maternity,
        FundScheme::Supplementary,
        FundScheme::MedicalAssistance,
        FundScheme::Ncms,
        FundScheme::UrbanResident,
        FundScheme::CivilServantSubsidy,
        FundScheme::EnterpriseSupplementary,
        FundScheme::MunicipalAdjustment,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FundScheme::Employee => "employee",
            FundScheme::EmployeeLargeAmount => "employee-large-amount",
            FundScheme::Resident => "resident",
            FundScheme::ResidentCriticalIllness => "resident-critical-illness",
            FundScheme::Maternity => "maternity",
            FundScheme::Supplementary => "supplementary",
            FundScheme::MedicalAssistance => "medical-assistance",
            FundScheme::Ncms => "ncms",
            FundScheme::UrbanResident => "urban-resident",
            FundScheme::CivilServantSubsidy => "civil-servant-subsidy",
            FundScheme::EnterpriseSupplementary => "enterprise-supplementary",
            FundScheme::MunicipalAdjustment => "municipal-adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<FundScheme> {
        FundScheme::ALL.into_iter().find(|s| s.as_str() == text)
    }

    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            FundScheme::Employee => "职工基本医疗保险基金",
            FundScheme::EmployeeLargeAmount => "职工大额医疗费用补助资金",
            FundScheme::Resident => "城乡居民基本医疗保险基金",
            FundScheme::ResidentCriticalIllness => "城乡居民大病保险资金",
            FundScheme::Maternity => "生育保险基金",
            FundScheme::Supplementary => "补充医疗保险资金",
            FundScheme::MedicalAssistance => "医疗救助基金",
            FundScheme::Ncms => "新型农村合作医疗基金",
            FundScheme::UrbanResident => "城镇居民基本医疗保险基金",
            FundScheme::CivilServantSubsidy => "公务员医疗补助资金",
            FundScheme::EnterpriseSupplementary => "企业补充医疗保险资金",
            FundScheme::MunicipalAdjustment => "市级调剂金",
        }
    }

    /// The national insurance-type code (`insutype`), where the fund has one.
    #[must_use]
    pub const fn insutype(self) -> Option<&'static str> {
        match self {
            FundScheme::Employee => Some("310"),
            FundScheme::EmployeeLargeAmount => Some("330"),
            FundScheme::Ncms => Some("380"),
            FundScheme::Resident => Some("390"),
            FundScheme::UrbanResident => Some("391"),
            FundScheme::CivilServantSubsidy => Some("320"),
            FundScheme::EnterpriseSupplementary => Some("370"),
            FundScheme::ResidentCriticalIllness => Some("392"),
            FundScheme::Maternity => Some("510"),
            FundScheme::MedicalAssistance => Some("610"),
            FundScheme::Supplementary | FundScheme::MunicipalAdjustment => None,
        }
    }

    /// Whether the adjustment-fund levy applies to this fund's pooled income: employee,
    /// resident and maternity insurance (R-FND-5, ZZ-POOL §四(九)).
    #[must_use]
    pub const fn is_levied(self) -> bool {
        matches!(self, FundScheme::Employee | FundScheme::Resident | FundScheme::Maternity)
    }

    /// The fund of a scheme, where the scheme alone decides it. `None` for
    /// `Scheme::CriticalIllness`, whose fund depends on the person's basic scheme: see
    /// [`FundScheme::critical_illness_for`].
    #[must_use]
    pub const fn of(scheme: Scheme) -> Option<FundScheme> {
        match scheme {
            Scheme::Employee => Some(FundScheme::Employee),
            Scheme::Resident => Some(FundScheme::Resident),
            Scheme::Maternity => Some(FundScheme::Maternity),
            Scheme::Supplementary => Some(FundScheme::Supplementary),
            Scheme::MedicalAssistance => Some(FundScheme::MedicalAssistance),
            Scheme::CriticalIllness => None,
        }
    }

    /// The fund that pays the critical-illness layer for a person of `basic` insurance:
    /// residents' critical illness (392) or employees' large amount (330).
    #[must_use]
    pub const fn critical_illness_for(basic: Scheme) -> Option<FundScheme> {
        match basic {
            Scheme::Employee => Some(FundScheme::EmployeeLargeAmount),
            Scheme::Resident => Some(FundScheme::ResidentCriticalIllness),
            _ => None,
        }
    }
}

impl fmt::Display for FundScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One set of books: a scheme fund of one pooling region. Plays the part of TigerBeetle's
/// `ledger`: a transfer's two accounts are always in the same fund.
///
/// The region is the pooling region: the city under city-level pooling (统收统支), or a
/// county that still keeps its own fund in ZZ-POOL's transitional model (R-GEO-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fund {
    pub scheme: FundScheme,
    pub region: RegionCode,
}

impl Fund {
    #[must_use]
    pub const fn new(scheme: FundScheme, region: RegionCode) -> Fund {
        Fund { scheme, region }
    }

    /// The city's municipal adjustment fund (R-FND-5).
    #[must_use]
    pub const fn adjustment(city: RegionCode) -> Fund {
        Fund { scheme: FundScheme::MunicipalAdjustment, region: city }
    }
}

impl fmt::Display for Fund {
    /// `employee@419900`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.scheme, self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_are_distinct() {
        let mut codes = std::collections::HashSet::new();
        for scheme in FundScheme::ALL {
            assert_eq!(FundScheme::parse(scheme.as_str()), Some(scheme));
            if let Some(code) = scheme.insutype() {
                assert!(codes.insert(code), "{code} twice");
            }
        }
        assert_eq!(FundScheme::parse("critical-illness"), None);
    }

    #[test]
    fn critical_illness_splits_by_basic_scheme() {
        assert_eq!(FundScheme::of(Scheme::CriticalIllness), None);
        assert_eq!(FundScheme::critical_illness_for(Scheme::Employee), Some(FundScheme::EmployeeLargeAmount));
        assert_eq!(FundScheme::critical_illness_for(Scheme::Resident), Some(FundScheme::ResidentCriticalIllness));
        assert_eq!(FundScheme::critical_illness_for(Scheme::Maternity), None);
        let levied: Vec<FundScheme> = FundScheme::ALL.into_iter().filter(|s| s.is_levied()).collect();
        assert_eq!(levied, [FundScheme::Employee, FundScheme::Resident, FundScheme::Maternity]);
    }
}
