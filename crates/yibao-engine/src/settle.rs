//! The settlement engine: one claim through every layer, in one pure function.
//!
//! Order of computation (each value dated by the date of service, R-BEN-7):
//! 1. lines: wholly self-paid, over price cap, class-B share, in scope;
//! 2. the basic fund of the claim's kind: inpatient (deductible, ratio or bands with
//!    referral/out-of-area adjustments, annual cap), general outpatient pooling, chronic
//!    outpatient, or the maternity fund's lump sum;
//! 3. supplementary insurance, which extends the pooled fund above its annual cap
//!    (ZZ-NCMS §三(五));
//! 4. critical illness / employees' large amount, on the year's cumulative in-scope burden;
//! 5. an employee's top-ups on what is left: the civil servants' subsidy (公务员医疗补助)
//!    and the employer's supplementary insurance (企业补充医疗保险);
//! 6. medical assistance, the last public layer (托底), on what is left;
//! 7. the personal account, then cash.
//!
//! Supplementary is computed before critical illness and assistance because it continues
//! the pooled fund above its cap; computing it after them would let a larger bill lower
//! what the patient pays (see ARCHITECTURE.md, invariant `monotone-in-bill`). The
//! settlement still lists the layers in the national order.

use time::Date;
use yibao_domain::{CatalogueClass, ClaimKind, DeliveryKind, Fen, PersonCategory, Place, RatioBp, Rounding, Scheme, Tier};
use yibao_policy::{Family, Found, LookupError, ParamKey, Policy, Query, ServiceDateRule};

use crate::claim::{Accumulators, Claim, ClaimError, Coverage};
use crate::settlement::{Bilingual, LineSettlement, LineVerdict, Rule, Settlement, Step};
use crate::tier::{TierHistoryError, TierOrPolicyError, tier_on, upgrade_waiting_months};

/// Why a claim was refused. Nothing is paid; the caller learns what to correct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("the policy pack has no value for this claim: {0}")]
    NoPolicyValue(LookupError),
    #[error("the date of service {date} is before the policy pack's first day {effective_from}")]
    BeforePolicy { date: Date, effective_from: Date },
    #[error("the date of service {date} is after the policy pack's last day {effective_until}")]
    AfterPolicy { date: Date, effective_until: Date },
    #[error("the person is not covered on {date} (coverage {from} to {})", until.map_or_else(|| "open".to_owned(), |u| u.to_string()))]
    NotCovered { date: Date, from: Date, until: Option<Date> },
    #[error("{0} is not a basic scheme: a person is insured under employee or resident insurance")]
    NotABasicScheme(Scheme),
    #[error("the policy pack does not include {0} insurance")]
    SchemeNotInPolicy(Scheme),
    #[error("the person's region {person} is outside the policy pack's region {policy}")]
    RegionOutsidePolicy { person: String, policy: String },
    #[error("the policy has tiers: the person needs a tier history")]
    MissingTierHistory,
    #[error("tier {tier} is not a tier of {scheme} insurance in this policy")]
    TierNotAllowed { tier: Tier, scheme: Scheme },
    #[error("a {} person cannot be insured under {scheme} insurance", category.as_str())]
    CategoryMismatch { category: PersonCategory, scheme: Scheme },
    #[error(transparent)]
    TierHistory(TierHistoryError),
    #[error("diagnosis {diagnosis} is not a chronic or special disease certified for this person")]
    NotACertifiedChronicDisease { diagnosis: String },
    #[error("diagnosis {diagnosis} is not a single disease the pack pays at a fixed price at this level")]
    NotASingleDisease { diagnosis: String },
    #[error(
        "a single disease's fixed price is the city's with its own hospitals: out of the area the stay is settled as an inpatient stay (med_type 2101)"
    )]
    SingleDiseaseOutOfArea,
    #[error("the policy pack does not offer {kind:?} claims (med_type {}): it gives no {}.* parameters", kind.med_type(), family.name())]
    BenefitNotOffered { kind: ClaimKind, family: Family },
    #[error("diagnosis {diagnosis} is not hypertension (I10–I15) or diabetes (E10–E14) on file for this person")]
    NotATwoDisease { diagnosis: String },
    #[error("line {line}: {code} is not a medicine: a two-disease claim (9901) bills the two diseases' medicines only")]
    TwoDiseaseNotMedicine { line: usize, code: String },
    #[error("line {line}: {code} is not a special drug the city lists on the date of service")]
    NotASpecialDrug { line: usize, code: String },
    #[error("line {line}: {code} is not paid for diagnosis {diagnosis}, or the person is not on file for it")]
    SpecialDrugNotIndicated { line: usize, code: String, diagnosis: String },
    #[error("the person is not enrolled in maternity insurance")]
    NotMaternityInsured,
    #[error("{stated} leave days are more than the {bound} this delivery has (of which {extension} the province's extension)")]
    LeaveDaysAboveBound { stated: u16, bound: u32, extension: u32 },
    #[error("a maternity claim is for the woman who gave birth; {0} is a man's national ID")]
    MaternityNotFemale(String),
    #[error(
        "the accumulators are for {accumulators}, a later year than the date of service's {service}: settle with that year's accumulators"
    )]
    AccumulatorsFromLaterYear { accumulators: i32, service: i32 },
}

impl SettleError {
    /// Stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            SettleError::Claim(e) => e.code(),
            SettleError::NoPolicyValue(_) => "settle.no_policy_value",
            SettleError::BeforePolicy { .. } => "settle.before_policy",
            SettleError::AfterPolicy { .. } => "settle.after_policy",
            SettleError::NotCovered { .. } => "settle.not_covered",
            SettleError::NotABasicScheme(_) => "settle.not_a_basic_scheme",
            SettleError::SchemeNotInPolicy(_) => "settle.scheme_not_in_policy",
            SettleError::RegionOutsidePolicy { .. } => "settle.region_outside_policy",
            SettleError::MissingTierHistory => "settle.missing_tier_history",
            SettleError::TierNotAllowed { .. } => "settle.tier_not_allowed",
            SettleError::CategoryMismatch { .. } => "settle.category_mismatch",
            SettleError::TierHistory(_) => "settle.bad_tier_history",
            SettleError::NotACertifiedChronicDisease { .. } => "settle.not_a_certified_chronic_disease",
            SettleError::BenefitNotOffered { .. } => "settle.benefit_not_offered",
            SettleError::NotASingleDisease { .. } => "settle.not_a_single_disease",
            SettleError::SingleDiseaseOutOfArea => "settle.single_disease_out_of_area",
            SettleError::NotATwoDisease { .. } => "settle.not_a_two_disease",
            SettleError::TwoDiseaseNotMedicine { .. } => "settle.two_disease_not_medicine",
            SettleError::NotASpecialDrug { .. } => "settle.not_a_special_drug",
            SettleError::SpecialDrugNotIndicated { .. } => "settle.special_drug_not_indicated",
            SettleError::NotMaternityInsured => "settle.not_maternity_insured",
            SettleError::LeaveDaysAboveBound { .. } => "settle.leave_days_above_bound",
            SettleError::MaternityNotFemale(_) => "settle.maternity_not_female",
            SettleError::AccumulatorsFromLaterYear { .. } => "settle.accumulators_from_later_year",
        }
    }
}

impl From<LookupError> for SettleError {
    fn from(e: LookupError) -> Self {
        SettleError::NoPolicyValue(e)
    }
}

/// What a step says when its value is another level's: a township health centre settled
/// on the primary level's entry, the pack giving no township value of its own.
fn fallback_note(level: yibao_domain::InstitutionLevel) -> Bilingual {
    let (zh, en) = match level.fallback() {
        Some(yibao_domain::InstitutionLevel::Primary) | None => ("一级", "primary"),
        Some(yibao_domain::InstitutionLevel::Secondary) => ("二级", "secondary"),
        Some(yibao_domain::InstitutionLevel::Tertiary) => ("三级", "tertiary"),
        Some(yibao_domain::InstitutionLevel::Township) => ("乡镇卫生院", "township"),
    };
    Bilingual::new(
        format!("政策包未规定本级（{}）的值，按{zh}医疗机构标准", level.as_str()),
        format!("the pack gives no value for this level ({}): the {en} level's applies", level.as_str()),
    )
}

/// The employees' top-ups above the basic layers (national `cvlserv_pay`, `hifes_pay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TopUp {
    /// 公务员医疗补助 (insutype 320).
    CivilServant,
    /// 企业补充医疗保险 (370).
    EnterpriseSupplementary,
}

impl TopUp {
    const fn applies_to(self, person: &Coverage) -> bool {
        match self {
            TopUp::CivilServant => person.civil_servant,
            TopUp::EnterpriseSupplementary => person.enterprise_supplementary,
        }
    }

    const fn family(self) -> Family {
        match self {
            TopUp::CivilServant => Family::CivilServant,
            TopUp::EnterpriseSupplementary => Family::EnterpriseSupplementary,
        }
    }

    /// Its ratio and limit keys and the explanation's rules for them.
    const fn terms(self) -> (ParamKey, ParamKey, Rule, Rule) {
        match self {
            TopUp::CivilServant => {
                (ParamKey::CivilServantRatio, ParamKey::CivilServantAnnualLimit, Rule::CivilServant, Rule::CivilServantLimit)
            }
            TopUp::EnterpriseSupplementary => (
                ParamKey::EnterpriseSupplementaryRatio,
                ParamKey::EnterpriseSupplementaryAnnualLimit,
                Rule::EnterpriseSupplementary,
                Rule::EnterpriseSupplementaryLimit,
            ),
        }
    }
}

/// Whether to record the step-by-step explanation. Off in the batch path: no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explain {
    Off,
    On,
}

/// Settles one claim. See [`settle_into`] for the allocation-free form.
pub fn settle(
    policy: &Policy,
    claim: &Claim,
    person: &Coverage,
    accumulators: &Accumulators,
    explain: Explain,
) -> Result<Settlement, SettleError> {
    let mut out = Settlement::default();
    settle_into(policy, claim, person, accumulators, explain, &mut out)?;
    Ok(out)
}

/// Settles one claim into `out`, reusing its buffers: with `Explain::Off` and a buffer
/// that has settled a claim of as many lines before, nothing is allocated.
/// On error `out` holds no meaningful settlement.
pub fn settle_into(
    policy: &Policy,
    claim: &Claim,
    person: &Coverage,
    accumulators: &Accumulators,
    explain: Explain,
    out: &mut Settlement,
) -> Result<(), SettleError> {
    claim.check()?;
    let mut run = Run { policy, claim, person, explain: explain == Explain::On, out, rounding: policy.rounding };
    run.reset();
    run.settle(accumulators)?;
    debug_assert_eq!(run.out.check_identities(), Ok(()));
    assert!(run.out.fund_pay_sumamt + run.out.psn_part_amt + run.out.hosp_part_amt == run.out.medfee_sumamt, "payers must sum to the bill");
    Ok(())
}

struct Run<'a> {
    policy: &'a Policy,
    claim: &'a Claim,
    person: &'a Coverage,
    explain: bool,
    out: &'a mut Settlement,
    rounding: Rounding,
}

impl Run<'_> {
    fn reset(&mut self) {
        let lines = std::mem::take(&mut self.out.lines);
        let explanation = std::mem::take(&mut self.out.explanation);
        *self.out = Settlement::default();
        self.out.lines = lines;
        self.out.lines.clear();
        self.out.explanation = explanation;
        self.out.explanation.clear();
    }

    fn step(&mut self, rule: Rule, found: Option<(&'static str, String, &str)>, before: Fen, amount: Fen, after: Fen) {
        if self.explain {
            let (param, value, cite) = match found {
                Some((p, v, c)) => (Some(p), Some(v), Some(c.to_owned())),
                None => (None, None, None),
            };
            self.out.explanation.push(Step {
                rule,
                title: rule.title(),
                line: None,
                param,
                value,
                note: None,
                cite,
                before,
                amount,
                after,
            });
        }
    }

    /// A step about a parameter found in the pack; the value text is built only when
    /// explaining.
    fn step_found<T: std::fmt::Display>(&mut self, rule: Rule, found: &Found<'_, T>, before: Fen, amount: Fen, after: Fen) {
        if self.explain {
            self.step(rule, Some((found.key.name(), found.value.to_string(), found.cite)), before, amount, after);
            if found.by_level_fallback
                && let Some(step) = self.out.explanation.last_mut()
            {
                step.note = Some(fallback_note(self.claim.institution_level));
            }
        }
    }

    /// A step explained in words, in both languages (built only when explaining).
    fn note(&mut self, rule: Rule, text: impl FnOnce() -> Bilingual, before: Fen, amount: Fen, after: Fen) {
        if self.explain {
            let note = Some(text());
            self.out.explanation.push(Step {
                rule,
                title: rule.title(),
                line: None,
                param: None,
                value: None,
                note,
                cite: None,
                before,
                amount,
                after,
            });
        }
    }

    /// A step about a parameter, with what it did in words in both languages.
    fn step_noted(&mut self, rule: Rule, found: (&'static str, String, &str), note: Bilingual, before: Fen, amount: Fen, after: Fen) {
        if self.explain {
            let (param, value, cite) = found;
            self.out.explanation.push(Step {
                rule,
                title: rule.title(),
                line: None,
                param: Some(param),
                value: Some(value),
                note: Some(note),
                cite: Some(cite.to_owned()),
                before,
                amount,
                after,
            });
        }
    }

    fn settle(&mut self, accumulators: &Accumulators) -> Result<(), SettleError> {
        let (policy, claim, person) = (self.policy, self.claim, self.person);
        // -- who, when, under which policy and tier --
        let date = claim.service_date(policy.service_date);
        if date < policy.effective_from {
            return Err(SettleError::BeforePolicy { date, effective_from: policy.effective_from });
        }
        if let Some(until) = policy.effective_until
            && date > until
        {
            return Err(SettleError::AfterPolicy { date, effective_until: until });
        }
        if !person.scheme.is_basic() {
            return Err(SettleError::NotABasicScheme(person.scheme));
        }
        let fund_scheme = if claim.kind == ClaimKind::Maternity { Scheme::Maternity } else { person.scheme };
        if !policy.has_scheme(fund_scheme) {
            return Err(SettleError::SchemeNotInPolicy(fund_scheme));
        }
        if !policy.region.contains(person.region) {
            return Err(SettleError::RegionOutsidePolicy { person: person.region.to_string(), policy: policy.region.to_string() });
        }
        let category_ok = match person.scheme {
            Scheme::Employee => person.category != PersonCategory::Resident,
            _ => person.category == PersonCategory::Resident,
        };
        if !category_ok {
            return Err(SettleError::CategoryMismatch { category: person.category, scheme: person.scheme });
        }
        if date < person.coverage_from || person.coverage_until.is_some_and(|u| date > u) {
            return Err(SettleError::NotCovered { date, from: person.coverage_from, until: person.coverage_until });
        }
        let tier = self.tier_in_force(date)?;
        let year = date.year();
        let mut acc = match accumulators.year {
            y if y == year => *accumulators,
            y if y > year => return Err(SettleError::AccumulatorsFromLaterYear { accumulators: y, service: year }),
            _ => Accumulators::new_year(year),
        };
        self.out.med_type = claim.kind.med_type();
        self.out.referral = claim.referral && claim.kind.is_inpatient();
        self.out.civil_servant = person.civil_servant && person.scheme == Scheme::Employee;
        self.out.insutype = policy.insutype(fund_scheme);
        self.out.service_date = Some(date);
        self.out.year = year;
        self.out.tier = tier;
        self.out.policy_version = policy.version;
        self.note(
            Rule::ServiceDate,
            || {
                let (which_zh, which_en) = match policy.service_date {
                    ServiceDateRule::Admission => ("入院日期", "admission"),
                    ServiceDateRule::Discharge => ("出院日期", "discharge"),
                };
                let (tier_zh, tier_en) =
                    tier.map_or_else(|| ("不分档".to_owned(), "no tiers".to_owned()), |t| (format!("第 {t} 档"), format!("tier {t}")));
                Bilingual::new(
                    format!("{date}（{which_zh}）；{year} 年度；{}，{tier_zh}；政策包 {}", person.scheme.name_zh(), policy.citation()),
                    format!("{date} ({which_en}); year {year}; {} insurance, {tier_en}; policy {}", person.scheme, policy.citation()),
                )
            },
            Fen::ZERO,
            Fen::ZERO,
            Fen::ZERO,
        );

        let query = Query {
            region: Some(person.region),
            scheme: Some(person.scheme),
            tier,
            level: Some(claim.institution_level),
            category: Some(person.category),
            group: person.assistance_group,
            // Out of the area only: the place, and whether the stay counts as referred (an
            // emergency does, out of the area: SPEC step 2).
            place: claim.place.is_out_of_area().then_some(claim.place),
            referred: claim.place.is_out_of_area().then_some(claim.referral || claim.emergency),
        };
        // A pack that publishes no outpatient pooling or no chronic-disease terms does not
        // offer them: say so, rather than settle under values nobody published (issue 13).
        let family = match claim.kind {
            ClaimKind::GeneralOutpatient => Some(Family::Outpatient),
            ClaimKind::ChronicOutpatient => Some(Family::Chronic),
            ClaimKind::SingleDisease => Some(Family::SingleDisease),
            ClaimKind::TwoDisease => Some(Family::TwoDisease),
            ClaimKind::SpecialDrug => Some(Family::SpecialDrug),
            ClaimKind::Inpatient | ClaimKind::DaySurgery | ClaimKind::Maternity | ClaimKind::PharmacyPurchase => None,
        };
        // Per scheme: a city may offer the two diseases' terms to its residents only.
        if let Some(family) = family
            && !policy.offers_to(family, person.scheme)
        {
            return Err(SettleError::BenefitNotOffered { kind: claim.kind, family });
        }

        // -- what the kind bills: the two diseases' medicines, the city's special drugs --
        match claim.kind {
            ClaimKind::TwoDisease => self.check_two_disease_lines()?,
            ClaimKind::SpecialDrug => self.check_special_drug_lines(date)?,
            _ => {}
        }

        // -- lines --
        self.settle_lines(&query, date, fund_scheme)?;
        let inscope = self.out.inscp_scp_amt;

        // -- basic fund of the claim's kind --
        let mut cut_off = Fen::ZERO; // what the pooled cap kept the pooled fund from paying
        match claim.kind {
            ClaimKind::Inpatient | ClaimKind::DaySurgery => cut_off = self.inpatient(&query, date, &mut acc)?,
            ClaimKind::GeneralOutpatient => self.general_outpatient(&query, date, &mut acc)?,
            ClaimKind::ChronicOutpatient => self.chronic_outpatient(&query, date, &mut acc)?,
            ClaimKind::Maternity => self.maternity(&query, date, &mut acc)?,
            ClaimKind::SingleDisease => cut_off = self.single_disease(&query, date, &mut acc)?,
            ClaimKind::TwoDisease => self.two_disease(&query, date, &mut acc)?,
            ClaimKind::SpecialDrug => self.special_drug(&query, date, &mut acc)?,
            ClaimKind::PharmacyPurchase => {
                let inscope = self.out.inscp_scp_amt;
                self.note(
                    Rule::PharmacyPurchase,
                    || {
                        Bilingual::new(
                            "定点药店购药：统筹基金不支付；职工个人账户可支付，其余现金支付",
                            "a purchase at a designated pharmacy: no pooled fund pays; an employee's personal account may, the rest is cash",
                        )
                    },
                    inscope,
                    Fen::ZERO,
                    inscope,
                );
            }
        }
        if claim.kind == ClaimKind::SingleDisease {
            // The fixed price stands for the whole stay: the fund pays its share of the
            // price, whatever the lines' classes.
            assert!(self.out.hifp_pay + self.out.hosp_part_amt <= self.out.medfee_sumamt, "the fund pays a share of the price only");
        } else {
            assert!(self.out.hifp_pay <= inscope, "the basic fund never pays more than the in-scope cost");
        }

        // -- supplementary, critical illness, assistance: stays (not maternity) and chronic only --
        let stay = claim.kind.is_inpatient() || claim.kind == ClaimKind::SingleDisease;
        let layered = stay || matches!(claim.kind, ClaimKind::ChronicOutpatient | ClaimKind::SpecialDrug);
        // In-scope cost the person still bears; only the layered kinds carry it further. Of
        // a single disease, the person's share of the settled price is all in scope.
        let mut burden = match claim.kind {
            ClaimKind::SingleDisease => self.out.medfee_sumamt - self.out.hosp_part_amt - self.out.hifp_pay,
            _ if layered => inscope - self.out.hifp_pay,
            _ => Fen::ZERO,
        };
        if stay && person.supplementary && policy.has_scheme(Scheme::Supplementary) {
            let paid = self.supplementary(&query, date, cut_off, burden, &mut acc)?;
            burden -= paid;
        }
        if layered && policy.has_scheme(Scheme::CriticalIllness) {
            let paid = self.critical(&query, date, burden, &mut acc)?;
            burden -= paid;
        } else if layered {
            acc.inscope_burden += burden;
        }
        // An employee's top-ups on what is left: the civil servants' subsidy, then the
        // employer's supplementary insurance, each where the person has it and the pack
        // gives its terms.
        if layered && person.scheme == Scheme::Employee {
            for top_up in [TopUp::CivilServant, TopUp::EnterpriseSupplementary] {
                if top_up.applies_to(person) && policy.offers_to(top_up.family(), Scheme::Employee) {
                    burden -= self.top_up(top_up, &query, date, burden, &mut acc)?;
                }
            }
        }
        if layered && policy.has_scheme(Scheme::MedicalAssistance) && person.assistance_group.is_some() {
            let paid = self.assistance(&query, date, burden, &mut acc)?;
            burden -= paid;
        }
        debug_assert!(!burden.is_negative());

        // -- totals, personal account, cash --
        let out = &mut *self.out;
        out.fund_pay_sumamt = out.hifp_pay + out.cvlserv_pay + out.hifes_pay + out.hifmi_pay + out.hifob_pay + out.maf_pay + out.oth_pay;
        out.psn_part_amt = out.medfee_sumamt - out.fund_pay_sumamt - out.hosp_part_amt;
        out.acct_balance_after = person.personal_account_balance;
        if person.scheme == Scheme::Employee && person.use_personal_account && person.personal_account_balance > Fen::ZERO {
            let everything = policy.flag_or(ParamKey::AccountPaysSelfPaidItems, &query, date, false)?;
            // A single disease's part is a share of its fixed price: none of it self-paid items.
            let eligible = if everything.value || claim.kind == ClaimKind::SingleDisease {
                out.psn_part_amt
            } else {
                out.psn_part_amt.saturating_remainder(out.fulamt_ownpay_amt + out.overlmt_selfpay)
            };
            let pay = eligible.min(person.personal_account_balance);
            out.acct_pay = pay;
            out.acct_balance_after = person.personal_account_balance - pay;
            let part = out.psn_part_amt;
            self.step_found(Rule::PersonalAccount, &everything, part, pay, part - pay);
        }
        let out = &mut *self.out;
        out.psn_cash_pay = out.psn_part_amt - out.acct_pay;
        let (part, cash) = (out.psn_part_amt, out.psn_cash_pay);
        self.note(
            Rule::Cash,
            || {
                Bilingual::new(
                    "个人负担 − 个人账户支付（psn_part_amt − acct_pay）",
                    "person's part − personal account (psn_part_amt − acct_pay)",
                )
            },
            part,
            cash,
            Fen::ZERO,
        );
        self.out.accumulators = acc;
        Ok(())
    }

    fn tier_in_force(&self, date: Date) -> Result<Option<Tier>, SettleError> {
        let (policy, person) = (self.policy, self.person);
        let allowed = policy.tiers_for(person.scheme);
        if allowed.is_empty() {
            return Ok(None);
        }
        let history = person.tier_history.as_ref().ok_or(SettleError::MissingTierHistory)?;
        let tier = match tier_on(history, date, |target, on| upgrade_waiting_months(policy, person.region, target, on)) {
            Ok(Some(tier)) => tier,
            Ok(None) => return Err(SettleError::NotCovered { date, from: history.since, until: person.coverage_until }),
            Err(TierOrPolicyError::History(e)) => return Err(SettleError::TierHistory(e)),
            Err(TierOrPolicyError::Policy(e)) => return Err(SettleError::NoPolicyValue(e)),
        };
        if !allowed.contains(&tier) {
            return Err(SettleError::TierNotAllowed { tier, scheme: person.scheme });
        }
        Ok(Some(tier))
    }

    fn settle_lines(&mut self, query: &Query, date: Date, fund_scheme: Scheme) -> Result<(), SettleError> {
        let (policy, claim) = (self.policy, self.claim);
        let level = claim.institution_level;
        let mut class_b_share: Option<Found<'_, RatioBp>> = None;
        for (index, line) in claim.lines.iter().enumerate() {
            let total = self.rounding.scale(line.unit_price, i64::from(line.quantity.milli()), 1000);
            let found = policy.item_on(&line.code, date);
            let item = found.map(|found| found.item);
            let mut result = LineSettlement {
                code: line.code,
                quantity: line.quantity,
                unit_price: line.unit_price,
                class: item.map(|i| i.class),
                verdict: LineVerdict::Covered,
                det_item_fee_sumamt: total,
                fulamt_ownpay_amt: Fen::ZERO,
                overlmt_amt: Fen::ZERO,
                preselfpay_amt: Fen::ZERO,
                inscp_scp_amt: Fen::ZERO,
                selfpay_prop_bp: 0,
                negotiated: item.is_some_and(|i| i.negotiated),
            };
            let mut share_found: Option<(&'static str, String, String)> = None;
            match item {
                None => {
                    result.verdict = LineVerdict::OutOfCatalogue;
                    result.fulamt_ownpay_amt = total;
                }
                Some(item) if item.class == CatalogueClass::C => {
                    result.verdict = LineVerdict::ClassC;
                    result.fulamt_ownpay_amt = total;
                }
                // A special drug's restriction is its indication, which the bureau's register
                // has just confirmed (`check_special_drug_lines`): no hospital approval is needed.
                Some(item) if item.restricted && !line.approved && claim.kind != ClaimKind::SpecialDrug => {
                    result.verdict = LineVerdict::RestrictedNotApproved;
                    result.fulamt_ownpay_amt = total;
                }
                Some(item) => {
                    if let Some(cap) = item.price_cap_at(level)
                        && line.unit_price > cap
                    {
                        result.overlmt_amt = self.rounding.scale(line.unit_price - cap, i64::from(line.quantity.milli()), 1000);
                    }
                    let rest = total - result.overlmt_amt;
                    // A maternity claim has no class-B share: the lump sum covers the delivery.
                    if item.class == CatalogueClass::B && fund_scheme != Scheme::Maternity {
                        let share = match item.selfpay_share {
                            Some(own) => {
                                if let Some(found) = found.filter(|_| self.explain) {
                                    let key = if found.version.is_some() { "selfpay_prop" } else { "[[item]] selfpay_share" };
                                    share_found = Some((key, own.to_string(), found.cite()));
                                }
                                own
                            }
                            None => {
                                if class_b_share.is_none() {
                                    class_b_share = Some(policy.ratio(ParamKey::ClassBShare, query, date)?);
                                }
                                let found = class_b_share.expect("just set");
                                if self.explain {
                                    share_found = Some((found.key.name(), found.value.to_string(), found.cite.to_owned()));
                                }
                                found.value
                            }
                        };
                        result.selfpay_prop_bp = share.get();
                        result.preselfpay_amt = self.rounding.apply(rest, share);
                    }
                    result.inscp_scp_amt = rest - result.preselfpay_amt;
                }
            }
            debug_assert_eq!(result.fulamt_ownpay_amt + result.overlmt_amt + result.preselfpay_amt + result.inscp_scp_amt, total);
            let out = &mut *self.out;
            out.medfee_sumamt += total;
            out.fulamt_ownpay_amt += result.fulamt_ownpay_amt;
            out.overlmt_selfpay += result.overlmt_amt;
            out.preselfpay_amt += result.preselfpay_amt;
            out.inscp_scp_amt += result.inscp_scp_amt;
            out.lines.push(result);
            if self.explain {
                // The amounts are rendered per language from `out.lines`; the step keeps
                // the item's name and the share's provenance.
                let text = format!("{} {}", line.code, item.map_or("", |i| i.name.as_str()));
                let note = share_found.as_ref().map(|(key, value, _)| {
                    Bilingual::new(format!("乙类先行自付比例 {key} = {value}"), format!("class-B share {key} = {value}"))
                });
                self.out.explanation.push(Step {
                    rule: Rule::Line,
                    title: Rule::Line.title(),
                    line: Some(index + 1),
                    param: None,
                    value: Some(text),
                    note,
                    // A national catalogue's item cites the list it is read from.
                    cite: share_found.map(|(_, _, cite)| cite).or_else(|| found.filter(|f| f.version.is_some()).map(|f| f.cite())),
                    before: total,
                    amount: total - result.inscp_scp_amt,
                    after: result.inscp_scp_amt,
                });
            }
        }
        let out = &*self.out;
        let (bill, set_aside, inscope) =
            (out.medfee_sumamt, out.fulamt_ownpay_amt + out.overlmt_selfpay + out.preselfpay_amt, out.inscp_scp_amt);
        self.note(
            Rule::Scope,
            || {
                Bilingual::new(
                    "总费用 − 全自费 − 超限价自付 − 乙类先行自付 = 政策范围内费用（medfee_sumamt − fulamt_ownpay_amt − overlmt_selfpay − preselfpay_amt = inscp_scp_amt）",
                    "bill − wholly self-paid − over the price cap − class-B share = in scope (medfee_sumamt − fulamt_ownpay_amt − overlmt_selfpay − preselfpay_amt = inscp_scp_amt)",
                )
            },
            bill,
            set_aside,
            inscope,
        );
        Ok(())
    }

    /// Inpatient: deductible, ratio (bands, referral and out-of-area adjustments), cap.
    /// Returns what the cap cut off, for supplementary insurance.
    fn inpatient(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let (policy, claim) = (self.policy, self.claim);
        let inscope = self.out.inscp_scp_amt;

        // Out of the area, a pack either gives the place its own deductible and ratio (by
        // in-province or cross-province, referred or not), or lowers the city's ratio by points.
        let flat = claim.place.is_out_of_area() && policy.offers_to(Family::OutOfAreaFlat, self.person.scheme);

        // Deductible: a day surgery's own, where the pack gives one.
        let own = (claim.kind == ClaimKind::DaySurgery && !flat)
            .then(|| policy.money_or(ParamKey::DaySurgeryDeductible, query, date, Fen::ZERO))
            .transpose()?
            .filter(|own| own.from.is_some());
        let stay_deductible =
            policy.money(if flat { ParamKey::OutOfAreaDeductible } else { ParamKey::InpatientDeductible }, query, date)?;
        // A day surgery's own deductible lowers the stay's, never raises it: the level's or
        // the group's inpatient deductible may be lower still.
        let first = match own {
            Some(own) if own.value < stay_deductible.value => own,
            _ => stay_deductible,
        };
        let mut due = first.value;
        let waived = policy.flag_or(ParamKey::InpatientDeductibleWaived, &Query { group: query.group, ..Query::default() }, date, false)?;
        if waived.value {
            self.step_found(Rule::DeductibleWaived, &waived, inscope, Fen::ZERO, inscope);
            due = Fen::ZERO;
        } else if let Some(repeat) = (acc.admissions > 0 && !flat)
            .then(|| policy.money_or(ParamKey::InpatientDeductibleRepeat, query, date, first.value))
            .transpose()?
            // A repeat admission's deductible lowers the first one, never raises it: a group's
            // or a township centre's own deductible may be below the city's repeat value.
            .filter(|repeat| repeat.value < first.value)
        {
            self.step_found(Rule::DeductibleRepeat, &repeat, inscope, repeat.value, inscope);
            due = repeat.value;
        } else {
            self.step_found(Rule::Deductible, &first, inscope, first.value, inscope);
        }
        if !due.is_zero() && claim.referral && !claim.referred_deductible_paid.is_zero() {
            let credited = due.min(claim.referred_deductible_paid);
            let before = due;
            due -= credited;
            self.note(
                Rule::DeductibleReferralCredit,
                || {
                    let paid = claim.referred_deductible_paid;
                    Bilingual::new(
                        format!("转出医院已付起付线 {paid} 元（referred_deductible_paid）"),
                        format!("deductible paid at the referring hospital {paid} yuan (referred_deductible_paid)"),
                    )
                },
                before,
                credited,
                due,
            );
        }
        let annual = policy.money_or(ParamKey::InpatientDeductibleAnnualMax, query, date, Fen::ZERO)?;
        if annual.from.is_some() {
            let left = annual.value.saturating_remainder(acc.inpatient_deductible_paid);
            if left < due {
                let before = due;
                due = left;
                self.step_found(Rule::DeductibleAnnualMax, &annual, before, before - due, due);
            }
        }
        let deductible = inscope.min(due);
        self.out.act_pay_dedc = deductible;
        let base = inscope - deductible;
        self.note(
            Rule::Deductible,
            || {
                Bilingual::new(
                    "本次起付线 = min(政策范围内费用, 应付起付线)（act_pay_dedc）",
                    "deductible paid = min(in-scope cost, deductible due) (act_pay_dedc)",
                )
            },
            inscope,
            deductible,
            base,
        );

        // Ratio, with referral and out-of-area adjustments, and the group's bonus.
        let ratio = policy.bands(if flat { ParamKey::OutOfAreaRatio } else { ParamKey::InpatientRatio }, query, date)?;
        let mut bands = ratio.value;
        // An emergency admission counts as referred only for out-of-area care (SPEC step 2):
        // in the city, only a referral lifts the unreferred reduction.
        let reduction = match claim.place {
            _ if flat => None,
            Place::InProvince | Place::CrossProvince if claim.referral || claim.emergency => {
                Some(policy.ratio(ParamKey::OutOfAreaReductionReferred, query, date)?)
            }
            Place::InProvince | Place::CrossProvince => Some(policy.ratio(ParamKey::OutOfAreaReductionUnreferred, query, date)?),
            Place::InArea if claim.referral => None,
            Place::InArea => Some(policy.ratio_or(ParamKey::InpatientUnreferredReduction, query, date, RatioBp::ZERO)?),
        };
        if let Some(reduction) = reduction
            && !reduction.value.get().eq(&0)
        {
            bands = bands.adjusted(reduction.value, RatioBp::ZERO);
            self.step_found(Rule::RatioReduction, &reduction, base, Fen::ZERO, base);
        }
        if query.group.is_some() {
            let bonus_query = Query { region: query.region, scheme: query.scheme, group: query.group, ..Query::default() };
            let bonus = policy.ratio_or(ParamKey::InpatientRatioBonus, &bonus_query, date, RatioBp::ZERO)?;
            if bonus.value.get() != 0 {
                bands = bands.adjusted(RatioBp::ZERO, bonus.value);
                self.step_found(Rule::RatioBonus, &bonus, base, Fen::ZERO, base);
            }
        }
        self.out.pool_prop_bp = bands.as_slice()[0].ratio.get();
        let payable = bands.apply(base, self.rounding);
        if self.explain {
            let value = if bands == ratio.value { ratio.value.to_string() } else { format!("{} → {}", ratio.value, bands) };
            self.step(Rule::PooledFund, Some((ratio.key.name(), value, ratio.cite)), base, payable, base - payable);
            if ratio.by_level_fallback
                && let Some(step) = self.out.explanation.last_mut()
            {
                step.note = Some(fallback_note(self.claim.institution_level));
            }
        }

        // Annual cap.
        let cap = policy.money(ParamKey::PooledAnnualCap, query, date)?;
        let left = cap.value.saturating_remainder(acc.pooled_paid);
        let paid = payable.min(left);
        self.step_found(Rule::PooledCap, &cap, payable, paid, payable - paid);
        self.out.hifp_pay = paid;
        acc.admissions += 1;
        acc.inpatient_deductible_paid += deductible;
        acc.pooled_paid += paid;
        Ok(payable - paid)
    }

    /// A single disease at its fixed price (单病种, R-BEN-2): the bill is settled up to the
    /// price, what it exceeds the price by the hospital bears (`hosp_part_amt`); of the
    /// settled amount the fund pays its share (`single_disease.ratio`), within the pooled
    /// annual cap; no deductible. The stay counts as an admission.
    fn single_disease(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let (policy, claim) = (self.policy, self.claim);
        if claim.place.is_out_of_area() {
            return Err(SettleError::SingleDiseaseOutOfArea);
        }
        let disease = policy
            .single_disease_for(&claim.diagnosis, claim.institution_level)
            .ok_or_else(|| SettleError::NotASingleDisease { diagnosis: claim.diagnosis.clone() })?;
        let (price, cite) = disease.price_on(date).ok_or(SettleError::BeforePolicy { date, effective_from: policy.effective_from })?;
        let bill = self.out.medfee_sumamt;
        let settled = bill.min(price);
        let hospital = bill - settled;
        if self.explain {
            let note = Bilingual::new(
                format!("{} {}：定额 {price} 元；超出定额部分 {hospital} 元由医疗机构承担（hosp_part_amt）", disease.code, disease.name_zh),
                format!(
                    "{} {}: fixed price {price} yuan; the {hospital} yuan above it the hospital bears (hosp_part_amt)",
                    disease.code, disease.name_en
                ),
            );
            self.step_noted(Rule::SingleDisease, ("single_disease.price", price.to_string(), cite), note, bill, hospital, settled);
        }
        let ratio = policy.ratio(ParamKey::SingleDiseaseRatio, query, date)?;
        let payable = self.rounding.apply(settled, ratio.value);
        self.step_found(Rule::PooledFund, &ratio, settled, payable, settled - payable);
        let cap = policy.money(ParamKey::PooledAnnualCap, query, date)?;
        let paid = payable.min(cap.value.saturating_remainder(acc.pooled_paid));
        self.step_found(Rule::PooledCap, &cap, payable, paid, payable - paid);
        self.out.pool_prop_bp = ratio.value.get();
        self.out.hifp_pay = paid;
        self.out.hosp_part_amt = hospital;
        acc.admissions += 1;
        acc.pooled_paid += paid;
        Ok(payable - paid)
    }

    /// The outpatient-style start of a benefit: what is left of its yearly deductible, then its
    /// ratio of the rest of the in-scope cost. Returns the deductible paid now and what the
    /// fund owes before any limit, and sets `act_pay_dedc` and `pool_prop_bp`.
    fn yearly_deductible_then_ratio(
        &mut self,
        query: &Query,
        date: Date,
        (deductible_key, deductible_rule, deductible_paid): (ParamKey, Rule, Fen),
        ratio_key: ParamKey,
    ) -> Result<(Fen, Fen), SettleError> {
        let policy = self.policy;
        let inscope = self.out.inscp_scp_amt;
        let deductible_year = policy.money(deductible_key, query, date)?;
        let deductible = inscope.min(deductible_year.value.saturating_remainder(deductible_paid));
        self.step_found(deductible_rule, &deductible_year, inscope, deductible, inscope - deductible);
        let base = inscope - deductible;
        let ratio = policy.ratio(ratio_key, query, date)?;
        let payable = self.rounding.apply(base, ratio.value);
        self.step_found(Rule::PooledFund, &ratio, base, payable, base - payable);
        self.out.act_pay_dedc = deductible;
        self.out.pool_prop_bp = ratio.value.get();
        Ok((deductible, payable))
    }

    fn general_outpatient(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<(), SettleError> {
        let policy = self.policy;
        let deductible = (ParamKey::OutpatientDeductible, Rule::OutpatientDeductible, acc.outpatient_deductible_paid);
        let (deductible, payable) = self.yearly_deductible_then_ratio(query, date, deductible, ParamKey::OutpatientRatio)?;
        let limit = policy.money(ParamKey::OutpatientAnnualLimit, query, date)?;
        let paid = payable.min(limit.value.saturating_remainder(acc.outpatient_pooled_paid));
        self.step_found(Rule::OutpatientLimit, &limit, payable, paid, payable - paid);
        self.out.hifp_pay = paid;
        acc.outpatient_deductible_paid += deductible;
        acc.outpatient_pooled_paid += paid;
        Ok(())
    }

    /// A two-disease claim bills medicines only (门诊两病 pays the two diseases' medicines):
    /// another line belongs on a general outpatient claim.
    fn check_two_disease_lines(&self) -> Result<(), SettleError> {
        for (index, line) in self.claim.lines.iter().enumerate() {
            if yibao_domain::ItemKind::of(&line.code) != Some(yibao_domain::ItemKind::Medicine) {
                return Err(SettleError::TwoDiseaseNotMedicine { line: index + 1, code: line.code.to_string() });
            }
        }
        Ok(())
    }

    /// A special-drug claim bills the city's special drugs only, each listed on the date of
    /// service and paid for the claim's diagnosis, which must be on file for the person (the
    /// bureau's register, never the claim, says who may have the drug).
    fn check_special_drug_lines(&self, date: Date) -> Result<(), SettleError> {
        let (policy, claim, person) = (self.policy, self.claim, self.person);
        for (index, line) in claim.lines.iter().enumerate() {
            let drug = policy
                .special_drug_on(&line.code, date)
                .ok_or_else(|| SettleError::NotASpecialDrug { line: index + 1, code: line.code.to_string() })?;
            // The register must hold the drug's disease itself: a code on file that lies
            // within one of its indications and covers the diagnosis. A broader code on file
            // (all cancers, `C`) does not say the person has the one the drug is for (`C50`).
            let indicated = person.certified_chronic_diseases.iter().any(|on_file| {
                claim.diagnosis.starts_with(on_file.as_str())
                    && drug.indications.iter().any(|indication| on_file.starts_with(indication.as_str()))
            });
            if !indicated {
                return Err(SettleError::SpecialDrugNotIndicated {
                    line: index + 1,
                    code: line.code.to_string(),
                    diagnosis: claim.diagnosis.clone(),
                });
            }
        }
        Ok(())
    }

    /// The two diseases' outpatient medicines (门诊两病, 9901): for a person on file for
    /// hypertension or diabetes, the year's own deductible, the ratio, and the annual limit
    /// of the disease (or of both, for a person on file for both). Outside the pooled cap,
    /// like general outpatient pooling; no layer above it.
    fn two_disease(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<(), SettleError> {
        let (policy, claim, person) = (self.policy, self.claim, self.person);
        let on_file = |disease: yibao_domain::TwoDisease| {
            person.certified_chronic_diseases.iter().any(|code| yibao_domain::TwoDisease::of(code) == Some(disease))
        };
        // One code on file is the disease itself (hypertension or diabetes, three characters
        // at least) and covers the diagnosis.
        let disease = yibao_domain::TwoDisease::of(&claim.diagnosis)
            .filter(|disease| {
                person
                    .certified_chronic_diseases
                    .iter()
                    .any(|code| claim.diagnosis.starts_with(code.as_str()) && yibao_domain::TwoDisease::of(code) == Some(*disease))
            })
            .ok_or_else(|| SettleError::NotATwoDisease { diagnosis: claim.diagnosis.clone() })?;
        let both = on_file(yibao_domain::TwoDisease::Hypertension) && on_file(yibao_domain::TwoDisease::Diabetes);
        let deductible = (ParamKey::TwoDiseaseDeductible, Rule::TwoDiseaseDeductible, acc.two_disease_deductible_paid);
        let (deductible, payable) = self.yearly_deductible_then_ratio(query, date, deductible, ParamKey::TwoDiseaseRatio)?;
        let limit_key = match (both, disease) {
            (true, _) => ParamKey::TwoDiseaseLimitBoth,
            (false, yibao_domain::TwoDisease::Hypertension) => ParamKey::TwoDiseaseLimitHypertension,
            (false, yibao_domain::TwoDisease::Diabetes) => ParamKey::TwoDiseaseLimitDiabetes,
        };
        let limit = policy.money(limit_key, query, date)?;
        let paid = payable.min(limit.value.saturating_remainder(acc.two_disease_paid));
        if self.explain {
            let (zh, en) = if both {
                ("高血压合并糖尿病".to_owned(), "hypertension and diabetes both on file".to_owned())
            } else {
                (disease.name_zh().to_owned(), disease.as_str().to_owned())
            };
            let already = acc.two_disease_paid;
            let note = Bilingual::new(
                format!("{} {zh}：年度限额 {}，本年已付 {already}", claim.diagnosis, limit.value),
                format!("{} {en}: annual limit {}, paid this year {already}", claim.diagnosis, limit.value),
            );
            self.step_noted(
                Rule::TwoDiseaseLimit,
                (limit.key.name(), limit.value.to_string(), limit.cite),
                note,
                payable,
                paid,
                payable - paid,
            );
        }
        self.out.hifp_pay = paid;
        acc.two_disease_deductible_paid += deductible;
        acc.two_disease_paid += paid;
        Ok(())
    }

    /// A special drug (特药, 9904): the year's own deductible, the ratio, the drug's own
    /// annual limit where the pack gives one, and the pooled annual cap; what the person
    /// still bears goes on to critical illness and assistance like a stay's.
    fn special_drug(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<(), SettleError> {
        let (policy, claim) = (self.policy, self.claim);
        if self.explain {
            let mut drugs: Vec<&yibao_policy::SpecialDrug> =
                claim.lines.iter().filter_map(|line| policy.special_drug_on(&line.code, date)).collect();
            drugs.dedup_by_key(|drug| drug.code);
            let names = |name: fn(&yibao_policy::SpecialDrug) -> &str, separator: &str| {
                drugs.iter().map(|drug| format!("{} {}", drug.code, name(drug))).collect::<Vec<_>>().join(separator)
            };
            let (zh, en) = (names(|d| d.name_zh.as_str(), "、"), names(|d| d.name_en.as_str(), ", "));
            let codes = drugs.iter().map(|drug| drug.code.to_string()).collect::<Vec<_>>().join(" ");
            let cite = drugs.first().map_or("", |drug| drug.cite.as_str());
            let inscope = self.out.inscp_scp_amt;
            let note = Bilingual::new(
                format!("{zh}：特药目录内，诊断 {} 已备案", claim.diagnosis),
                format!("{en}: on the city's special-drug list, diagnosis {} on file", claim.diagnosis),
            );
            self.step_noted(Rule::SpecialDrug, ("[[special_drug]]", codes, cite), note, inscope, Fen::ZERO, inscope);
        }
        let deductible = (ParamKey::SpecialDrugDeductible, Rule::SpecialDrugDeductible, acc.special_drug_deductible_paid);
        let (deductible, payable) = self.yearly_deductible_then_ratio(query, date, deductible, ParamKey::SpecialDrugRatio)?;
        let mut paid = payable;
        let own = policy.money_or(ParamKey::SpecialDrugAnnualLimit, query, date, Fen::ZERO)?;
        if own.from.is_some() {
            let before = paid;
            paid = paid.min(own.value.saturating_remainder(acc.special_drug_paid));
            self.step_found(Rule::SpecialDrugLimit, &own, before, paid, before - paid);
        }
        let cap = policy.money(ParamKey::PooledAnnualCap, query, date)?;
        let before = paid;
        paid = paid.min(cap.value.saturating_remainder(acc.pooled_paid));
        self.step_found(Rule::PooledCap, &cap, before, paid, before - paid);
        self.out.hifp_pay = paid;
        acc.special_drug_deductible_paid += deductible;
        acc.special_drug_paid += paid;
        acc.pooled_paid += paid;
        Ok(())
    }

    fn chronic_outpatient(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<(), SettleError> {
        let (policy, claim, person) = (self.policy, self.claim, self.person);
        let disease = policy
            .chronic_disease_for(&claim.diagnosis)
            .filter(|d| person.certified_chronic_diseases.contains(&d.code))
            .ok_or_else(|| SettleError::NotACertifiedChronicDisease { diagnosis: claim.diagnosis.clone() })?;
        let limit = disease.annual_limit_on(date).ok_or(SettleError::BeforePolicy { date, effective_from: policy.effective_from })?;
        let deductible = (ParamKey::ChronicDeductible, Rule::ChronicDeductible, acc.chronic_deductible_paid);
        let (deductible, payable) = self.yearly_deductible_then_ratio(query, date, deductible, ParamKey::ChronicRatio)?;
        let cap = policy.money(ParamKey::PooledAnnualCap, query, date)?;
        let left = limit.0.saturating_remainder(acc.chronic_paid).min(cap.value.saturating_remainder(acc.pooled_paid));
        let paid = payable.min(left);
        if self.explain {
            let note = Bilingual::new(
                format!(
                    "{} {}：病种年度限额 {} 元（统筹基金年度最高支付限额 pooled.annual_cap {} 元）",
                    disease.code, disease.name_zh, limit.0, cap.value
                ),
                format!("{} {}: annual limit {} yuan (pooled.annual_cap {} yuan)", disease.code, disease.name_en, limit.0, cap.value),
            );
            self.step_noted(
                Rule::ChronicDisease,
                ("chronic_disease.annual_limit", limit.0.to_string(), limit.1),
                note,
                payable,
                paid,
                payable - paid,
            );
        }
        self.out.hifp_pay = paid;
        acc.chronic_deductible_paid += deductible;
        acc.chronic_paid += paid;
        acc.pooled_paid += paid;
        Ok(())
    }

    fn maternity(&mut self, query: &Query, date: Date, acc: &mut Accumulators) -> Result<(), SettleError> {
        let (policy, claim, person) = (self.policy, self.claim, self.person);
        if !person.maternity {
            return Err(SettleError::NotMaternityInsured);
        }
        if person.person_id.sex() == yibao_domain::Sex::Male {
            return Err(SettleError::MaternityNotFemale(person.person_id.to_string()));
        }
        let delivery = claim.delivery.expect("checked: a maternity claim has a delivery");
        let lump_key = match delivery.kind {
            DeliveryKind::Normal => ParamKey::MaternityLumpSumNormal,
            DeliveryKind::Difficult => ParamKey::MaternityLumpSumDifficult,
            DeliveryKind::MiscarriageEarly => ParamKey::MaternityLumpSumMiscarriageEarly,
            DeliveryKind::MiscarriageLate => ParamKey::MaternityLumpSumMiscarriageLate,
        };
        let lump = policy.money(lump_key, query, date)?;
        // The lump sum pays the delivery's in-scope cost, never more than it.
        let eligible = self.out.inscp_scp_amt;
        let paid = eligible.min(lump.value);
        self.step_found(Rule::MaternityLumpSum, &lump, eligible, paid, eligible - paid);
        self.out.hifp_pay = paid;
        acc.maternity_paid += paid;

        if let Some(wage) = delivery.employer_average_wage_monthly {
            let days_of = |key| policy.count(key, query, date);
            let (days, detail) = match delivery.kind {
                DeliveryKind::MiscarriageEarly => {
                    let d = days_of(ParamKey::MaternityLeaveMiscarriageEarly)?;
                    (d.value, format!("{} = {} [{}]", d.key.name(), d.value, d.cite))
                }
                DeliveryKind::MiscarriageLate => {
                    let d = days_of(ParamKey::MaternityLeaveMiscarriageLate)?;
                    (d.value, format!("{} = {} [{}]", d.key.name(), d.value, d.cite))
                }
                DeliveryKind::Normal | DeliveryKind::Difficult => {
                    let base = days_of(ParamKey::MaternityLeaveNormal)?;
                    let mut days = base.value;
                    let mut detail = format!("{} = {} [{}]", base.key.name(), base.value, base.cite);
                    if delivery.kind == DeliveryKind::Difficult {
                        let extra = days_of(ParamKey::MaternityLeaveDifficultExtra)?;
                        days += extra.value;
                        detail.push_str(&format!(" + {} = {} [{}]", extra.key.name(), extra.value, extra.cite));
                    }
                    if delivery.babies > 1 {
                        let per = days_of(ParamKey::MaternityLeaveExtraBaby)?;
                        days += per.value * u32::from(delivery.babies - 1);
                        detail.push_str(&format!(
                            " + {} × {} = {} [{}]",
                            per.key.name(),
                            delivery.babies - 1,
                            per.value * u32::from(delivery.babies - 1),
                            per.cite
                        ));
                    }
                    (days, detail)
                }
            };
            // A birth's leave is the statutory days plus the days the province adds by law,
            // when the pack says the maternity fund pays them. A claim may state fewer days (the
            // mother went back sooner), never more: the caller can only lower the allowance.
            let extension = if matches!(delivery.kind, DeliveryKind::Normal | DeliveryKind::Difficult) {
                policy.count_or(ParamKey::MaternityLeaveExtension, &Query { region: query.region, ..Query::default() }, date, 0)?
            } else {
                Found { key: ParamKey::MaternityLeaveExtension, value: 0, cite: "default", from: None, by_level_fallback: false }
            };
            let (days, detail) = if extension.value == 0 {
                (days, detail)
            } else {
                let total = days + extension.value;
                (total, format!("{detail} + {} = {} [{}]", extension.key.name(), extension.value, extension.cite))
            };
            let (days, detail) = match delivery.leave_days {
                None => (days, detail),
                Some(stated) if u32::from(stated) > days => {
                    return Err(SettleError::LeaveDaysAboveBound { stated, bound: days, extension: extension.value });
                }
                Some(stated) => (u32::from(stated), format!("leave_days = {stated} (≤ {days}: {detail})")),
            };
            // The employer's average wage is what the institution states: it counts at most up
            // to the contribution base ceiling in force (average wage × employee.base_ceiling),
            // the most any wage can have paid contributions on.
            let ceiling_query =
                Query { region: query.region, scheme: Some(Scheme::Employee), category: Some(person.category), ..Query::default() };
            let ceiling = match (
                policy.money(ParamKey::EmployeeAverageWageMonthly, &ceiling_query, date),
                policy.multiple(ParamKey::EmployeeBaseCeiling, &ceiling_query, date),
            ) {
                (Ok(average), Ok(multiple)) => Some(policy.rounding.scale(average.value, i64::from(multiple.value), 10_000)),
                _ => None,
            };
            let counted = ceiling.map_or(wage, |ceiling| wage.min(ceiling));
            let capped = counted < wage;
            // wage ÷ 30 × days, rounded once at the end.
            let allowance = self.rounding.scale(counted, i64::from(days), 30);
            self.out.maternity_allowance = allowance;
            self.note(
                Rule::MaternityAllowance,
                || {
                    let (capped_zh, capped_en) = if capped {
                        (
                            format!("（申报工资 {wage} 按缴费基数上限计）"),
                            format!(" (the stated {wage} counts up to the contribution base ceiling)"),
                        )
                    } else {
                        (String::new(), String::new())
                    };
                    Bilingual::new(
                        format!("{counted}{capped_zh} ÷ 30 × {days} 天；{detail}"),
                        format!("{counted}{capped_en} ÷ 30 × {days} days; {detail}"),
                    )
                },
                counted,
                allowance,
                Fen::ZERO,
            );
        }
        Ok(())
    }

    /// Supplementary insurance pays, at its ratio, what the pooled fund's annual cap kept
    /// it from paying, up to its own annual cap.
    fn supplementary(&mut self, query: &Query, date: Date, cut_off: Fen, burden: Fen, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let policy = self.policy;
        let region_query = Query { region: query.region, ..Query::default() };
        let ratio = policy.ratio(ParamKey::SupplementaryRatio, &region_query, date)?;
        let cap = policy.money(ParamKey::SupplementaryAnnualCap, &region_query, date)?;
        let payable = self.rounding.apply(cut_off, ratio.value).min(burden);
        let paid = payable.min(cap.value.saturating_remainder(acc.supplementary_paid));
        if !cut_off.is_zero() {
            self.step_found(Rule::Supplementary, &ratio, cut_off, payable, cut_off - payable.min(cut_off));
            self.step_found(Rule::SupplementaryCap, &cap, payable, paid, payable - paid);
        }
        self.out.oth_pay = paid;
        acc.supplementary_paid += paid;
        Ok(paid)
    }

    /// Critical illness (residents) or large-amount (employees): the marginal scale on the
    /// year's cumulative in-scope burden above the threshold, minus what it already paid.
    fn critical(&mut self, query: &Query, date: Date, burden: Fen, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let policy = self.policy;
        let q = Query { region: query.region, scheme: query.scheme, tier: query.tier, ..Query::default() };
        let group_query = Query { group: query.group, ..Query::default() };
        let threshold = policy.money(ParamKey::CriticalThreshold, &q, date)?;
        let bands = policy.bands(ParamKey::CriticalBands, &q, date)?;
        let cap = policy.money(ParamKey::CriticalAnnualCap, &q, date)?;
        let (mut threshold_value, mut scale, mut capped) = (threshold.value, bands.value, true);
        if query.group.is_some() {
            let share = policy.ratio_or(ParamKey::CriticalPoorThresholdShare, &group_query, date, RatioBp::FULL)?;
            let bonus = policy.ratio_or(ParamKey::CriticalPoorRatioBonus, &group_query, date, RatioBp::ZERO)?;
            let uncapped = policy.flag_or(ParamKey::CriticalPoorUncapped, &group_query, date, false)?;
            threshold_value = self.rounding.apply(threshold_value, share.value);
            scale = scale.adjusted(RatioBp::ZERO, bonus.value);
            capped = !uncapped.value;
            if share.from.is_some() {
                self.step_found(Rule::CriticalThreshold, &share, threshold.value, threshold_value, threshold_value);
            }
            if bonus.from.is_some() {
                self.step_found(Rule::Critical, &bonus, Fen::ZERO, Fen::ZERO, Fen::ZERO);
            }
            if uncapped.from.is_some() {
                self.step_found(Rule::CriticalCap, &uncapped, Fen::ZERO, Fen::ZERO, Fen::ZERO);
            }
        }
        let before = acc.inscope_burden;
        let after = before + burden;
        acc.inscope_burden = after;
        let above = after.saturating_remainder(threshold_value);
        if self.explain {
            let note = Bilingual::new(
                format!("本年度此前政策范围内个人负担 {before} + 本次 {burden} = {after}"),
                format!("year-to-date in-scope burden {before} + this claim {burden} = {after}"),
            );
            let found = (threshold.key.name(), threshold_value.to_string(), threshold.cite);
            self.step_noted(Rule::CriticalThreshold, found, note, after, threshold_value.min(after), above);
        }
        let due_year = scale.apply(above, self.rounding);
        let mut due = due_year.saturating_remainder(acc.critical_paid).min(burden);
        if self.explain {
            let value = if scale == bands.value { bands.value.to_string() } else { format!("{} → {}", bands.value, scale) };
            let paid = acc.critical_paid;
            let note =
                Bilingual::new(format!("本年应付 {due_year}，已付 {paid}"), format!("due this year {due_year}, already paid {paid}"));
            self.step_noted(Rule::Critical, (bands.key.name(), value, bands.cite), note, burden, due, burden - due);
        }
        if capped {
            let left = cap.value.saturating_remainder(acc.critical_paid);
            if left < due {
                let before_cap = due;
                due = left;
                self.step_found(Rule::CriticalCap, &cap, before_cap, due, before_cap - due);
            }
        }
        acc.critical_paid += due;
        match self.person.scheme {
            Scheme::Employee => self.out.hifob_pay = due,
            _ => self.out.hifmi_pay = due,
        }
        Ok(due)
    }

    /// A top-up on the in-scope burden an employee still bears after the basic fund,
    /// supplementary and large-amount insurance: its ratio of it, up to its yearly limit.
    fn top_up(&mut self, top_up: TopUp, query: &Query, date: Date, burden: Fen, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let policy = self.policy;
        let q = Query { region: query.region, category: query.category, ..Query::default() };
        let (ratio_key, limit_key, rule, limit_rule) = top_up.terms();
        let ratio = policy.ratio(ratio_key, &q, date)?;
        let limit = policy.money(limit_key, &q, date)?;
        let payable = self.rounding.apply(burden, ratio.value);
        self.step_found(rule, &ratio, burden, payable, burden - payable);
        let paid_before = match top_up {
            TopUp::CivilServant => &mut acc.civil_servant_paid,
            TopUp::EnterpriseSupplementary => &mut acc.enterprise_supplementary_paid,
        };
        let paid = payable.min(limit.value.saturating_remainder(*paid_before));
        *paid_before += paid;
        if paid != payable {
            self.step_found(limit_rule, &limit, payable, paid, payable - paid);
        }
        match top_up {
            TopUp::CivilServant => self.out.cvlserv_pay = paid,
            TopUp::EnterpriseSupplementary => self.out.hifes_pay = paid,
        }
        Ok(paid)
    }

    /// Medical assistance: on the in-scope burden left, after its own annual deductible,
    /// at the group's ratio, up to its annual limit.
    fn assistance(&mut self, query: &Query, date: Date, burden: Fen, acc: &mut Accumulators) -> Result<Fen, SettleError> {
        let policy = self.policy;
        let q = Query { region: query.region, group: query.group, ..Query::default() };
        let deductible_year = policy.money_or(ParamKey::AssistanceDeductible, &q, date, Fen::ZERO)?;
        let deductible = burden.min(deductible_year.value.saturating_remainder(acc.assistance_deductible_paid));
        if deductible_year.from.is_some() {
            self.step_found(Rule::AssistanceDeductible, &deductible_year, burden, deductible, burden - deductible);
        }
        let base = burden - deductible;
        let ratio = policy.ratio(ParamKey::AssistanceRatio, &q, date)?;
        let payable = self.rounding.apply(base, ratio.value);
        self.step_found(Rule::Assistance, &ratio, base, payable, base - payable);
        let limit = policy.money(ParamKey::AssistanceAnnualLimit, &q, date)?;
        let paid = payable.min(limit.value.saturating_remainder(acc.assistance_paid));
        if paid != payable {
            self.step_found(Rule::AssistanceLimit, &limit, payable, paid, payable - paid);
        }
        acc.assistance_deductible_paid += deductible;
        acc.assistance_paid += paid;
        self.out.maf_pay = paid;
        Ok(paid)
    }
}
