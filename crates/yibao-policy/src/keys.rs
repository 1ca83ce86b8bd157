//! The registry of every policy parameter a pack may hold: its key, value type, the
//! dimensions it may vary by and when it is required. An unknown key is refused at load.
//! The reference for pack authors is `docs/policy-packs.md`; keep the two in step.

use yibao_domain::Scheme;

/// What kind of value a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Yuan, stored as fen; never negative.
    Money,
    /// 0%–100%.
    Ratio,
    /// 0%–100%, used as a reduction or bonus in percentage points.
    Points,
    /// A percentage that may exceed 100% (wage-base bounds), up to 1000%.
    Multiple,
    /// Whole months.
    Months,
    /// Whole days.
    Days,
    Flag,
    /// A marginal scale of up to four bands.
    Bands,
    /// A single ratio or a marginal scale; stored as bands either way.
    RatioOrBands,
}

impl ValueKind {
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            ValueKind::Money => "an amount in yuan (an integer or a string such as \"12.50\")",
            ValueKind::Ratio | ValueKind::Points => "a percentage string such as \"85%\"",
            ValueKind::Multiple => "a percentage string such as \"300%\"",
            ValueKind::Months => "a whole number of months",
            ValueKind::Days => "a whole number of days",
            ValueKind::Flag => "true or false",
            ValueKind::Bands => "a list of { above = yuan, ratio = \"x%\" } bands",
            ValueKind::RatioOrBands => "a percentage string or a list of { above = yuan, ratio = \"x%\" } bands",
        }
    }
}

/// A dimension a parameter may vary by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    Region,
    Scheme,
    Tier,
    Level,
    Category,
    Group,
    /// Out of the area: in the province or in another (`in-province`, `cross-province`).
    Place,
    /// Out of the area: referred (or an emergency) or not (`referred = true|false`).
    Referral,
}

impl Dim {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Dim::Region => "region",
            Dim::Scheme => "scheme",
            Dim::Tier => "tier",
            Dim::Level => "level",
            Dim::Category => "category",
            Dim::Group => "group",
            Dim::Place => "place",
            Dim::Referral => "referred",
        }
    }
}

/// A benefit family: keys a pack gives together or not at all (issue 13). A pack that gives
/// no key of a family does not offer it: claims of that kind are refused with
/// `settle.benefit_not_offered` instead of the pack inventing values; a pack that gives one
/// key of the family must resolve all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// General outpatient pooling (门诊统筹): `outpatient.*`.
    Outpatient,
    /// Chronic and special outpatient diseases (门诊慢特病): `chronic.*`.
    Chronic,
    /// Out-of-area care with a deductible and ratio of its own per place and referral
    /// (`outofarea.deductible`, `outofarea.ratio`). A pack that gives them does not need
    /// the points-off reductions (`outofarea.reduction_*`); one that does not, does.
    OutOfAreaFlat,
    /// The resident subsidy as a total and the shares of the central, provincial and city
    /// governments (`resident.subsidy.total`, `resident.subsidy.share.*`), the county
    /// bearing the rest; instead of four fixed amounts (`resident.subsidy.central` …).
    SubsidyShares,
    /// Single diseases paid at a fixed price (单病种, R-BEN-2): `single_disease.*` with the
    /// `[[single_disease]]` list and its prices.
    SingleDisease,
    /// Outpatient medicines for hypertension and diabetes (门诊两病, med_type 9901):
    /// `two_disease.*`, a deductible, a ratio and an annual limit per disease and for both.
    TwoDisease,
    /// Special drugs (特药, med_type 9904), dispensed by a hospital or a designated pharmacy
    /// (双通道): `special_drug.*` with the `[[special_drug]]` list and its indications.
    SpecialDrug,
    /// The civil servants' medical subsidy (公务员医疗补助, insutype 320): `civil_servant.*`,
    /// a share of what an employee on it still bears, up to a yearly limit.
    CivilServant,
    /// The employer's supplementary insurance (企业补充医疗保险, 370):
    /// `enterprise_supplementary.*`, likewise.
    EnterpriseSupplementary,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Outpatient,
        Family::Chronic,
        Family::OutOfAreaFlat,
        Family::SubsidyShares,
        Family::SingleDisease,
        Family::TwoDisease,
        Family::SpecialDrug,
        Family::CivilServant,
        Family::EnterpriseSupplementary,
    ];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Family::Outpatient => "outpatient",
            Family::Chronic => "chronic",
            Family::OutOfAreaFlat => "outofarea",
            Family::SubsidyShares => "resident.subsidy",
            Family::SingleDisease => "single_disease",
            Family::TwoDisease => "two_disease",
            Family::SpecialDrug => "special_drug",
            Family::CivilServant => "civil_servant",
            Family::EnterpriseSupplementary => "enterprise_supplementary",
        }
    }

    /// The keys a pack that offers this family may not give: the other way of saying the
    /// same rule. They are not required of it, and a pack giving both is refused.
    #[must_use]
    pub const fn replaces(self) -> &'static [ParamKey] {
        match self {
            Family::Outpatient
            | Family::Chronic
            | Family::SingleDisease
            | Family::TwoDisease
            | Family::SpecialDrug
            | Family::CivilServant
            | Family::EnterpriseSupplementary => &[],
            Family::OutOfAreaFlat => &[ParamKey::OutOfAreaReductionReferred, ParamKey::OutOfAreaReductionUnreferred],
            Family::SubsidyShares => &[
                ParamKey::ResidentSubsidyCentral,
                ParamKey::ResidentSubsidyProvincial,
                ParamKey::ResidentSubsidyCity,
                ParamKey::ResidentSubsidyCounty,
            ],
        }
    }

    /// What a pack author reads when the family and what it replaces are both given.
    #[must_use]
    pub const fn one_way(self) -> &'static str {
        match self {
            Family::Outpatient
            | Family::Chronic
            | Family::SingleDisease
            | Family::TwoDisease
            | Family::SpecialDrug
            | Family::CivilServant
            | Family::EnterpriseSupplementary => "",
            Family::OutOfAreaFlat => {
                "give out-of-area care one way: outofarea.deductible with outofarea.ratio, or outofarea.reduction_referred/_unreferred points off the city's terms"
            }
            Family::SubsidyShares => {
                "give the resident subsidy one way: resident.subsidy.central/.provincial/.city/.county, or resident.subsidy.total with resident.subsidy.share.*"
            }
        }
    }
}

/// One registered parameter.
#[derive(Debug)]
pub struct ParamSpec {
    pub key: ParamKey,
    pub name: &'static str,
    pub kind: ValueKind,
    pub dims: &'static [Dim],
    /// The pack must resolve this key for every combination when it lists any of these
    /// schemes; empty means optional.
    pub required_when: &'static [Scheme],
    /// Only required in a pack that has tiers.
    pub requires_tiers: bool,
    /// The benefit family the key belongs to: required only in a pack that offers it.
    pub family: Option<Family>,
    pub label_zh: &'static str,
    pub label_en: &'static str,
}

use Dim::{Category as C, Group as G, Level as L, Place as P, Referral as F, Region as R, Scheme as S, Tier as T};
const BASIC: &[Scheme] = &[Scheme::Employee, Scheme::Resident];
const RESIDENT: &[Scheme] = &[Scheme::Resident];
const EMPLOYEE: &[Scheme] = &[Scheme::Employee];
const MATERNITY: &[Scheme] = &[Scheme::Maternity];
const CRITICAL: &[Scheme] = &[Scheme::CriticalIllness];
const ASSISTANCE: &[Scheme] = &[Scheme::MedicalAssistance];
const SUPPLEMENTARY: &[Scheme] = &[Scheme::Supplementary];
const OPTIONAL: &[Scheme] = &[];

macro_rules! registry {
    ($( $variant:ident = $name:literal, $kind:ident, [$($dim:ident),*], $req:ident, $tiers:literal, $zh:literal, $en:literal; )*) => {
        /// Every parameter key a pack may hold.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ParamKey { $($variant),* }

        /// The registry, in `ParamKey` order.
        pub static PARAMS: &[ParamSpec] = &[
            $(ParamSpec {
                key: ParamKey::$variant,
                name: $name,
                kind: ValueKind::$kind,
                dims: &[$($dim),*],
                required_when: $req,
                requires_tiers: $tiers,
                family: family_of($name),
                label_zh: $zh,
                label_en: $en,
            }),*
        ];
    };
}

registry! {
    ResidentContribution = "resident.contribution", Money, [R, T], RESIDENT, false, "居民个人缴费", "resident personal contribution";
    ResidentSubsidyCentral = "resident.subsidy.central", Money, [R, T], RESIDENT, false, "中央财政补助", "central government subsidy";
    ResidentSubsidyProvincial = "resident.subsidy.provincial", Money, [R, T], RESIDENT, false, "省级财政补助", "provincial subsidy";
    ResidentSubsidyCity = "resident.subsidy.city", Money, [R, T], RESIDENT, false, "市级财政补助", "city subsidy";
    ResidentSubsidyCounty = "resident.subsidy.county", Money, [R, T], RESIDENT, false, "县级财政补助", "county subsidy";
    ResidentSubsidyTotal = "resident.subsidy.total", Money, [R, T], RESIDENT, false, "财政补助总额", "government subsidy in total";
    ResidentSubsidyShareCentral = "resident.subsidy.share.central", Ratio, [R], RESIDENT, false, "中央财政分担比例", "central government's share of the subsidy";
    ResidentSubsidyShareProvincial = "resident.subsidy.share.provincial", Ratio, [R], RESIDENT, false, "省级财政分担比例", "provincial share of the subsidy";
    ResidentSubsidyShareCity = "resident.subsidy.share.city", Ratio, [R], RESIDENT, false, "市级财政分担比例", "city share of the subsidy";
    ResidentAssistedShare = "resident.assisted_share", Ratio, [G], OPTIONAL, false, "民政资助参保比例", "share of contribution paid by civil affairs";
    EmployeeAverageWageMonthly = "employee.average_wage_monthly", Money, [R], EMPLOYEE, false, "上年度社会平均工资（月）", "last year's average monthly wage";
    EmployeeBaseFloor = "employee.base_floor", Multiple, [R], EMPLOYEE, false, "缴费基数下限", "contribution base floor";
    EmployeeBaseCeiling = "employee.base_ceiling", Multiple, [R], EMPLOYEE, false, "缴费基数上限", "contribution base ceiling";
    EmployeeEmployerRate = "employee.employer_rate", Ratio, [R, T], EMPLOYEE, false, "单位缴费费率", "employer contribution rate";
    EmployeeEmployeeRate = "employee.employee_rate", Ratio, [R, T], EMPLOYEE, false, "个人缴费费率", "employee contribution rate";
    EmployeeAccountFromEmployee = "employee.account_from_employee", Ratio, [R, C], EMPLOYEE, false, "个人缴费划入个人账户比例", "share of the employee's contribution credited to the personal account";
    EmployeeAccountFromEmployer = "employee.account_from_employer", Ratio, [R, C], EMPLOYEE, false, "单位缴费划入个人账户比例", "share of the employer's contribution credited to the personal account";
    EmployeeRetireeAccountMonthly = "employee.retiree_account_monthly", Money, [R], EMPLOYEE, false, "退休人员个人账户月划入额", "monthly credit to a retiree's personal account";
    EmployeePaymentDueDay = "employee.payment_due_day", Days, [R], OPTIONAL, false, "单位缴费截止日（次月）", "day of the following month by which an employer pays a month's contributions";
    EmployeeLateFeeDaily = "employee.late_fee_daily", Ratio, [R], OPTIONAL, false, "滞纳金日费率", "late fee a day on contributions paid after the due day";
    EmployeeMinContributionMonthsMale = "employee.min_contribution_months_male", Months, [R], OPTIONAL, false, "退休享受待遇最低缴费月数（男）", "months of contributions a man needs to be covered free in retirement";
    EmployeeMinContributionMonthsFemale = "employee.min_contribution_months_female", Months, [R], OPTIONAL, false, "退休享受待遇最低缴费月数（女）", "months of contributions a woman needs to be covered free in retirement";
    ArrearsSuspendAfterDays = "arrears.suspend_after_days", Days, [R], OPTIONAL, false, "欠费暂停待遇天数", "days after a period began that it may be owed before the scheme's benefits are suspended";
    ArrearsResumeWaitingDays = "arrears.resume_waiting_days", Days, [R], OPTIONAL, false, "补缴后待遇恢复等待期", "days after arrears are paid (or a plan agreed) before benefits resume";
    ArrearsRetroactive = "arrears.retroactive", Flag, [R], OPTIONAL, false, "补缴后追溯享受待遇", "whether services dated while benefits were suspended are covered once the arrears are paid";
    ArrearsResumeOnPlan = "arrears.resume_on_plan", Flag, [R], OPTIONAL, false, "分期补缴恢复待遇", "whether a repayment plan kept to resumes benefits before the arrears are paid";
    ArrearsInstalmentsMax = "arrears.instalments_max", Months, [R], OPTIONAL, false, "欠费分期最长月数", "most monthly instalments a repayment plan may have";
    MaternityEmployerRate = "maternity.employer_rate", Ratio, [R], MATERNITY, false, "生育保险单位费率", "maternity insurance employer rate";
    SupplementaryContributionPersonal = "supplementary.contribution_personal", Money, [R], SUPPLEMENTARY, false, "补充保险个人缴费", "supplementary insurance personal contribution";
    SupplementaryContributionGovernment = "supplementary.contribution_government", Money, [R], SUPPLEMENTARY, false, "补充保险政府补贴", "supplementary insurance government subsidy";
    TierUpgradeWaitingMonths = "tier.upgrade_waiting_months", Months, [R, T], OPTIONAL, true, "升档等待期", "waiting period after moving up a tier";
    ClassBShare = "catalogue.class_b_share", Ratio, [S, T, C], BASIC, false, "乙类先行自付比例", "class-B personal share paid first";
    InpatientDeductible = "inpatient.deductible", Money, [R, S, T, L, C, G], BASIC, false, "住院起付标准", "inpatient deductible";
    InpatientDeductibleRepeat = "inpatient.deductible_repeat", Money, [R, S, T, L, C, G], OPTIONAL, false, "再次住院起付标准", "deductible from the second admission of the year";
    InpatientDeductibleAnnualMax = "inpatient.deductible_annual_max", Money, [R, S, T, C], OPTIONAL, false, "年度起付线累计上限", "annual total of inpatient deductibles";
    InpatientDeductibleWaived = "inpatient.deductible_waived", Flag, [G], OPTIONAL, false, "免起付线", "deductible waived for the group";
    InpatientRatio = "inpatient.ratio", RatioOrBands, [R, S, T, L, C, G], BASIC, false, "住院统筹基金支付比例", "inpatient pooled-fund ratio";
    InpatientRatioBonus = "inpatient.ratio_bonus", Points, [R, S, G], OPTIONAL, false, "困难群体住院支付比例提高", "inpatient ratio raised for the group";
    InpatientUnreferredReduction = "inpatient.unreferred_reduction", Points, [R, S, T, L], OPTIONAL, false, "未转诊降低比例", "reduction without referral";
    OutOfAreaReductionReferred = "outofarea.reduction_referred", Points, [R, S, T], BASIC, false, "异地就医（转诊/急诊）降低比例", "out-of-area reduction with referral or emergency";
    OutOfAreaReductionUnreferred = "outofarea.reduction_unreferred", Points, [R, S, T], BASIC, false, "异地就医（未转诊）降低比例", "out-of-area reduction without referral";
    OutOfAreaDeductible = "outofarea.deductible", Money, [R, S, T, L, P, F, G], BASIC, false, "异地就医住院起付标准", "out-of-area inpatient deductible";
    OutOfAreaRatio = "outofarea.ratio", RatioOrBands, [R, S, T, L, P, F, G], BASIC, false, "异地就医住院统筹基金支付比例", "out-of-area inpatient pooled-fund ratio";
    PooledAnnualCap = "pooled.annual_cap", Money, [R, S, T, C], BASIC, false, "统筹基金年度最高支付限额", "pooled fund annual cap";
    OutpatientDeductible = "outpatient.deductible", Money, [R, S, T, L], BASIC, false, "门诊统筹起付标准", "outpatient pooling deductible";
    OutpatientRatio = "outpatient.ratio", Ratio, [R, S, T, L, C], BASIC, false, "门诊统筹支付比例", "outpatient pooling ratio";
    OutpatientAnnualLimit = "outpatient.annual_limit", Money, [R, S, T, C], BASIC, false, "门诊统筹年度限额", "outpatient pooling annual limit";
    ChronicDeductible = "chronic.deductible", Money, [R, S, T], BASIC, false, "门诊慢特病起付标准", "chronic outpatient deductible";
    ChronicRatio = "chronic.ratio", Ratio, [R, S, T, L, C], BASIC, false, "门诊慢特病支付比例", "chronic outpatient ratio";
    SingleDiseaseRatio = "single_disease.ratio", Ratio, [R, S, T, L, C], BASIC, false, "单病种统筹基金支付比例", "single-disease pooled-fund share of the fixed price";
    DaySurgeryDeductible = "day_surgery.deductible", Money, [R, S, T, L, C, G], OPTIONAL, false, "日间手术起付标准", "day-surgery deductible (absent: the inpatient deductible)";
    TwoDiseaseDeductible = "two_disease.deductible", Money, [R, S, T, L], BASIC, false, "门诊两病年度起付标准", "two-disease outpatient annual deductible";
    TwoDiseaseRatio = "two_disease.ratio", Ratio, [R, S, T, L, C], BASIC, false, "门诊两病统筹基金支付比例", "two-disease outpatient pooled-fund ratio";
    TwoDiseaseLimitHypertension = "two_disease.annual_limit.hypertension", Money, [R, S, T], BASIC, false, "高血压门诊用药年度限额", "annual limit, hypertension";
    TwoDiseaseLimitDiabetes = "two_disease.annual_limit.diabetes", Money, [R, S, T], BASIC, false, "糖尿病门诊用药年度限额", "annual limit, diabetes";
    TwoDiseaseLimitBoth = "two_disease.annual_limit.both", Money, [R, S, T], BASIC, false, "高血压合并糖尿病年度限额", "annual limit, a person on file for both";
    SpecialDrugDeductible = "special_drug.deductible", Money, [R, S, T], BASIC, false, "特药年度起付标准", "special-drug annual deductible";
    SpecialDrugRatio = "special_drug.ratio", Ratio, [R, S, T, L, C], BASIC, false, "特药统筹基金支付比例", "special-drug pooled-fund ratio";
    SpecialDrugAnnualLimit = "special_drug.annual_limit", Money, [R, S, T], OPTIONAL, false, "特药年度限额（另在统筹年度限额内）", "special-drug annual limit (within the pooled annual cap too)";
    CriticalThreshold = "critical.threshold", Money, [R, S, T], CRITICAL, false, "大病保险起付标准", "critical-illness threshold";
    CriticalBands = "critical.bands", Bands, [R, S, T], CRITICAL, false, "大病保险分段支付比例", "critical-illness bands";
    CriticalAnnualCap = "critical.annual_cap", Money, [R, S, T], CRITICAL, false, "大病保险年度最高支付限额", "critical-illness annual cap";
    CriticalPoorThresholdShare = "critical.poor_threshold_share", Ratio, [G], OPTIONAL, false, "困难群体起付线比例", "threshold share for the poor";
    CriticalPoorRatioBonus = "critical.poor_ratio_bonus", Points, [G], OPTIONAL, false, "困难群体支付比例提高", "ratio bonus for the poor";
    CriticalPoorUncapped = "critical.poor_uncapped", Flag, [G], OPTIONAL, false, "困难群体取消封顶线", "no cap for the poor";
    AssistanceDeductible = "assistance.deductible", Money, [R, G], OPTIONAL, false, "医疗救助起付标准", "medical assistance deductible";
    AssistanceRatio = "assistance.ratio", Ratio, [R, G], ASSISTANCE, false, "医疗救助比例", "medical assistance ratio";
    AssistanceAnnualLimit = "assistance.annual_limit", Money, [R, G], ASSISTANCE, false, "医疗救助年度限额", "medical assistance annual limit";
    CivilServantRatio = "civil_servant.ratio", Ratio, [R, C], EMPLOYEE, false, "公务员医疗补助比例", "civil servants' subsidy: share of the in-scope burden left";
    CivilServantAnnualLimit = "civil_servant.annual_limit", Money, [R, C], EMPLOYEE, false, "公务员医疗补助年度限额", "civil servants' subsidy annual limit";
    EnterpriseSupplementaryRatio = "enterprise_supplementary.ratio", Ratio, [R, C], EMPLOYEE, false, "企业补充医疗保险支付比例", "employer's supplementary insurance: share of the in-scope burden left";
    EnterpriseSupplementaryAnnualLimit = "enterprise_supplementary.annual_limit", Money, [R, C], EMPLOYEE, false, "企业补充医疗保险年度限额", "employer's supplementary insurance annual limit";
    SupplementaryRatio = "supplementary.ratio", Ratio, [R], SUPPLEMENTARY, false, "补充保险支付比例", "supplementary insurance ratio";
    SupplementaryAnnualCap = "supplementary.annual_cap", Money, [R], SUPPLEMENTARY, false, "补充保险年度最高支付限额", "supplementary insurance annual cap";
    AccountPaysSelfPaidItems = "account.pays_self_paid_items", Flag, [R], OPTIONAL, false, "个人账户可支付自费部分", "personal account may pay self-paid items";
    MaternityLumpSumNormal = "maternity.lump_sum.normal", Money, [R, L], MATERNITY, false, "顺产定额", "lump sum, normal delivery";
    MaternityLumpSumDifficult = "maternity.lump_sum.difficult", Money, [R, L], MATERNITY, false, "难产/剖宫产定额", "lump sum, difficult delivery or caesarean";
    MaternityLumpSumMiscarriageEarly = "maternity.lump_sum.miscarriage_early", Money, [R, L], MATERNITY, false, "流产（未满4个月）定额", "lump sum, miscarriage before 4 months";
    MaternityLumpSumMiscarriageLate = "maternity.lump_sum.miscarriage_late", Money, [R, L], MATERNITY, false, "流产（满4个月）定额", "lump sum, miscarriage at 4 months or later";
    MaternityLeaveNormal = "maternity.leave_days.normal", Days, [R], MATERNITY, false, "产假天数", "maternity leave days";
    MaternityLeaveDifficultExtra = "maternity.leave_days.difficult_extra", Days, [R], MATERNITY, false, "难产增加产假天数", "extra days for a difficult delivery";
    MaternityLeaveExtraBaby = "maternity.leave_days.extra_baby", Days, [R], MATERNITY, false, "多胞胎每多一婴增加天数", "extra days per additional baby";
    MaternityLeaveMiscarriageEarly = "maternity.leave_days.miscarriage_early", Days, [R], MATERNITY, false, "流产（未满4个月）产假", "leave days, miscarriage before 4 months";
    MaternityLeaveMiscarriageLate = "maternity.leave_days.miscarriage_late", Days, [R], MATERNITY, false, "流产（满4个月）产假", "leave days, miscarriage at 4 months or later";
    MaternityLeaveExtension = "maternity.leave_days.extension", Days, [R], OPTIONAL, false, "省级延长产假天数（生育津贴支付）", "days a province adds to a birth's leave, paid by the maternity fund";
    FundSweepDay = "fund.sweep_day", Days, [R], OPTIONAL, false, "收入户归集日", "day of the month the income accounts are swept to the city special account";
    FundAdjustmentLevyRatio = "fund.adjustment_levy_ratio", Ratio, [R], OPTIONAL, false, "市级调剂金提取比例", "share of collected pooled income levied into the adjustment fund";
    FundDeficitCityShare = "fund.deficit_city_share", Ratio, [R], OPTIONAL, false, "缺口市级财政分担比例", "city finance's share of a deficit left to finance, for a county that met its targets";
    FundWarningSurplusRateMin = "fund.warning.surplus_rate_min", Ratio, [R], OPTIONAL, false, "当期结余率预警下限", "current surplus rate below which a fund is warned";
    FundWarningSurplusRateMax = "fund.warning.surplus_rate_max", Ratio, [R], OPTIONAL, false, "当期结余率预警上限", "current surplus rate above which a fund is warned";
    FundWarningMonthsMin = "fund.warning.months_min", Months, [R], OPTIONAL, false, "累计结余可支付月数预警下限", "months of spending the accumulated surplus covers, below which a fund is warned";
    FundWarningMonthsMax = "fund.warning.months_max", Months, [R], OPTIONAL, false, "累计结余可支付月数预警上限", "months of spending the accumulated surplus covers, above which a fund is warned";
}

/// The family a key belongs to, by its name (`outpatient.*`, `chronic.*`, the two flat
/// out-of-area keys).
const fn family_of(name: &str) -> Option<Family> {
    const fn starts_with(name: &[u8], prefix: &[u8]) -> bool {
        if name.len() < prefix.len() {
            return false;
        }
        let mut i = 0;
        while i < prefix.len() {
            if name[i] != prefix[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    const fn equals(name: &[u8], other: &[u8]) -> bool {
        name.len() == other.len() && starts_with(name, other)
    }
    let bytes = name.as_bytes();
    if starts_with(bytes, b"outpatient.") {
        Some(Family::Outpatient)
    } else if starts_with(bytes, b"chronic.") {
        Some(Family::Chronic)
    } else if equals(bytes, b"outofarea.deductible") || equals(bytes, b"outofarea.ratio") {
        Some(Family::OutOfAreaFlat)
    } else if equals(bytes, b"resident.subsidy.total") || starts_with(bytes, b"resident.subsidy.share.") {
        Some(Family::SubsidyShares)
    } else if starts_with(bytes, b"single_disease.") {
        Some(Family::SingleDisease)
    } else if starts_with(bytes, b"two_disease.") {
        Some(Family::TwoDisease)
    } else if starts_with(bytes, b"special_drug.") {
        Some(Family::SpecialDrug)
    } else if starts_with(bytes, b"civil_servant.") {
        Some(Family::CivilServant)
    } else if starts_with(bytes, b"enterprise_supplementary.") {
        Some(Family::EnterpriseSupplementary)
    } else {
        None
    }
}

impl ParamKey {
    #[must_use]
    pub fn spec(self) -> &'static ParamSpec {
        let spec = &PARAMS[self as usize];
        debug_assert_eq!(spec.key, self);
        spec
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn parse(name: &str) -> Option<ParamKey> {
        PARAMS.iter().find(|p| p.name == name).map(|p| p.key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_in_key_order_and_names_are_unique() {
        for (index, spec) in PARAMS.iter().enumerate() {
            assert_eq!(spec.key as usize, index, "{}", spec.name);
            assert_eq!(ParamKey::parse(spec.name), Some(spec.key));
        }
        let mut names: Vec<_> = PARAMS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PARAMS.len());
    }

    #[test]
    fn families_are_in_index_order() {
        for (index, family) in Family::ALL.iter().enumerate() {
            assert_eq!(*family as usize, index, "{family:?}");
        }
    }

    #[test]
    fn every_key_is_documented_for_pack_authors() {
        let doc = include_str!("../../../docs/policy-packs.md");
        for spec in PARAMS {
            // Keys sharing a prefix are documented as `a.b` / `.c`; check the last segment.
            let last = spec.name.rsplit('.').next().unwrap_or(spec.name);
            assert!(doc.contains(spec.name) || doc.contains(&format!(".{last}`")), "{} is not in docs/policy-packs.md", spec.name);
        }
    }
}
