//! The one-bill settlement (一单制结算) and its step-by-step explanation. Field names follow
//! the national platform's vocabulary (SPEC, "How one bill is settled").

use std::fmt::Write as _;

use serde::Serialize;
use time::Date;
use yibao_domain::{CatalogueClass, Fen, ItemCode, Tier, serde_yuan};
use yibao_policy::ParamKey;

use crate::claim::{Accumulators, Quantity};

/// Why a line, or part of it, is the person's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineVerdict {
    /// Class A or B, in scope (after any class-B share and price cap).
    Covered,
    /// Not in the catalogue: wholly self-paid.
    OutOfCatalogue,
    /// Class C (丙类): wholly self-paid.
    ClassC,
    /// Restricted-use item without the hospital's approval: wholly self-paid.
    RestrictedNotApproved,
}

/// One line's split (费用明细结算).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineSettlement {
    pub code: ItemCode,
    pub quantity: Quantity,
    #[serde(with = "serde_yuan")]
    pub unit_price: Fen,
    /// `chrgitm_lv`: the class, when the item is in the catalogue.
    pub class: Option<CatalogueClass>,
    pub verdict: LineVerdict,
    #[serde(with = "serde_yuan")]
    pub det_item_fee_sumamt: Fen,
    #[serde(with = "serde_yuan")]
    pub fulamt_ownpay_amt: Fen,
    #[serde(with = "serde_yuan")]
    /// Above the price cap (`overlmt_amt`).
    pub overlmt_amt: Fen,
    #[serde(with = "serde_yuan")]
    pub preselfpay_amt: Fen,
    #[serde(with = "serde_yuan")]
    pub inscp_scp_amt: Fen,
    /// The class-B share applied (`selfpay_prop`).
    pub selfpay_prop_bp: u32,
    /// The item's price was set by national negotiation (谈判药品, national `hi_nego_drug_flag`,
    /// R-PAY-2); its price cap is the negotiated price. Written only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negotiated: bool,
}

/// Words in both languages (ARCHITECTURE.md, invariant `bilingual`): a step's title and
/// note carry Chinese and English side by side, so a stored settlement reads the same in
/// either language and no reader has to translate it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bilingual<S = String> {
    pub zh: S,
    pub en: S,
}

impl<S: AsRef<str>> Bilingual<S> {
    /// The text in `language`.
    #[must_use]
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Zh => self.zh.as_ref(),
            Language::En => self.en.as_ref(),
        }
    }
}

impl Bilingual {
    #[must_use]
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Bilingual {
        Bilingual { zh: zh.into(), en: en.into() }
    }
}

/// One step of the computation: which rule, which parameter with its value and citation,
/// and the amounts before, decided and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub rule: Rule,
    /// The rule's title in both languages (always `rule.title()`).
    pub title: Bilingual<&'static str>,
    /// 1-based line number for line steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<&'static str>,
    /// The parameter's value, or the line's item: numbers, codes and names, the same in
    /// both languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What the step did, in words, in both languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Bilingual>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cite: Option<String>,
    /// The amount the rule works on.
    #[serde(with = "serde_yuan")]
    pub before: Fen,
    /// The amount the rule decides (paid, taken or set aside).
    #[serde(with = "serde_yuan")]
    pub amount: Fen,
    /// What remains for the next rule.
    #[serde(with = "serde_yuan")]
    pub after: Fen,
}

macro_rules! rules {
    ($($variant:ident $id:literal => $zh:literal, $en:literal;)*) => {
        /// Every rule a settlement applies, in the order they run.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Rule { $($variant),* }

        impl Rule {
            /// Every rule, in the order they run.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            #[must_use]
            pub const fn title_zh(self) -> &'static str {
                match self { $(Rule::$variant => $zh),* }
            }
            #[must_use]
            pub const fn title_en(self) -> &'static str {
                match self { $(Rule::$variant => $en),* }
            }
            /// The title in both languages: the one catalogue of step titles.
            #[must_use]
            pub const fn title(self) -> Bilingual<&'static str> {
                Bilingual { zh: self.title_zh(), en: self.title_en() }
            }
            /// The name a stored settlement gives the rule (`deductible-repeat`).
            #[must_use]
            pub const fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id),* }
            }
            /// The rule a stored settlement names.
            #[must_use]
            pub fn parse(id: &str) -> Option<Rule> {
                Rule::ALL.iter().copied().find(|rule| rule.id() == id)
            }
        }
    };
}

rules! {
    ServiceDate "service-date" => "就诊日期、年度与适用档次", "Date of service, year and tier in force";
    Line "line" => "费用明细", "Bill line";
    Scope "scope" => "政策范围内费用", "In-scope cost";
    Deductible "deductible" => "起付标准", "Deductible";
    DeductibleRepeat "deductible-repeat" => "再次住院起付标准", "Deductible for a repeat admission";
    DeductibleWaived "deductible-waived" => "困难群体免起付线", "Deductible waived for the group";
    DeductibleReferralCredit "deductible-referral-credit" => "转诊起付线连续计算", "Deductible already paid at the referring hospital";
    DeductibleAnnualMax "deductible-annual-max" => "年度起付线累计上限", "Annual total of deductibles";
    RatioReduction "ratio-reduction" => "支付比例调整（转诊/异地）", "Ratio adjustment (referral, out of area)";
    RatioBonus "ratio-bonus" => "困难群体支付比例提高", "Ratio raised for the group";
    PooledFund "pooled-fund" => "基本医疗保险统筹基金支付", "Basic pooled fund pays";
    PooledCap "pooled-cap" => "统筹基金年度最高支付限额", "Pooled fund annual cap";
    OutpatientDeductible "outpatient-deductible" => "门诊统筹年度起付标准", "Outpatient pooling deductible";
    OutpatientLimit "outpatient-limit" => "门诊统筹年度限额", "Outpatient pooling annual limit";
    ChronicDisease "chronic-disease" => "门诊慢特病病种与限额", "Chronic or special outpatient disease and its limit";
    ChronicDeductible "chronic-deductible" => "门诊慢特病起付标准", "Chronic outpatient deductible";
    SingleDisease "single-disease" => "单病种定额结算", "Single disease at its fixed price";
    PharmacyPurchase "pharmacy-purchase" => "定点药店购药", "Purchase at a designated pharmacy";
    TwoDiseaseDeductible "two-disease-deductible" => "门诊两病年度起付标准", "Two-disease outpatient deductible";
    TwoDiseaseLimit "two-disease-limit" => "门诊两病年度限额", "Two-disease outpatient annual limit";
    SpecialDrug "special-drug" => "特药（双通道）", "Special drug (hospital or designated pharmacy)";
    SpecialDrugDeductible "special-drug-deductible" => "特药年度起付标准", "Special-drug deductible";
    SpecialDrugLimit "special-drug-limit" => "特药年度限额", "Special-drug annual limit";
    MaternityLumpSum "maternity-lump-sum" => "生育医疗费用定额支付", "Maternity lump sum for the delivery";
    MaternityAllowance "maternity-allowance" => "生育津贴（上年度职工月平均工资÷30×产假天数）", "Maternity allowance (average monthly wage ÷ 30 × leave days)";
    Supplementary "supplementary" => "补充医疗保险（统筹封顶线以上）", "Supplementary insurance (above the pooled cap)";
    CivilServant "civil-servant" => "公务员医疗补助", "Civil servants' medical subsidy";
    CivilServantLimit "civil-servant-limit" => "公务员医疗补助年度限额", "Civil servants' subsidy annual limit";
    EnterpriseSupplementary "enterprise-supplementary" => "企业补充医疗保险", "Employer's supplementary insurance";
    EnterpriseSupplementaryLimit "enterprise-supplementary-limit" => "企业补充医疗保险年度限额", "Employer's supplementary insurance annual limit";
    SupplementaryCap "supplementary-cap" => "补充医疗保险年度最高支付限额", "Supplementary insurance annual cap";
    CriticalThreshold "critical-threshold" => "大病保险起付标准", "Critical-illness threshold";
    Critical "critical" => "大病保险/职工大额分段支付", "Critical illness / large-amount insurance, by bands";
    CriticalCap "critical-cap" => "大病保险年度最高支付限额", "Critical-illness annual cap";
    AssistanceDeductible "assistance-deductible" => "医疗救助起付标准", "Medical assistance deductible";
    Assistance "assistance" => "医疗救助", "Medical assistance";
    AssistanceLimit "assistance-limit" => "医疗救助年度限额", "Medical assistance annual limit";
    PersonalAccount "personal-account" => "个人账户支付", "Personal account pays";
    Cash "cash" => "个人现金支付", "Patient pays in cash";
}

/// One fund's part of a settlement (结算基金分项, the national interface's `setldetail`):
/// the fund by its national payment type (`fund_pay_type`) and what it pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FundPayment {
    pub fund_pay_type: &'static str,
    pub fund_pay_type_name: &'static str,
    /// The settlement's field this fund pays (`hifp_pay`, `hifmi_pay`, …).
    pub field: &'static str,
    #[serde(with = "serde_yuan")]
    pub fund_payamt: Fen,
}

/// The funds that pay a settlement, each with its national code, in the order of the
/// layers; a fund that pays nothing is left out (issue 13, `setldetail`). The basic fund's
/// code follows the scheme (`insutype` 310 employees, 390 residents, 510 maternity) and,
/// for residents' outpatient pooling, the kind of care (`med_type` 11). Supplementary
/// insurance is 999997 (其他基金): the national dictionary has no code of its own for it.
/// `amount_of` gives the settlement's amount of a field.
pub fn fund_payments(insutype: &str, med_type: &str, amount_of: impl Fn(&'static str) -> Fen) -> Vec<FundPayment> {
    let basic = match (insutype, med_type) {
        ("310", _) => ("310100", "职工基本医疗保险统筹基金"),
        ("510", _) => ("510100", "生育基金"),
        // Residents (390, or 380/391 in a city that has not merged its schemes): outpatient
        // pooling pays general outpatient care and the two diseases' medicines.
        (_, "11" | "9901") => ("390102", "城乡居民基本医疗保险门诊统筹基金"),
        _ => ("390100", "城乡居民基本医疗保险基金"),
    };
    [
        ("hifp_pay", basic),
        ("cvlserv_pay", ("320100", "公务员医疗补助基金")),
        ("hifes_pay", ("370100", "企业补充医疗保险基金")),
        ("hifob_pay", ("330100", "职工大额医疗费用补助基金")),
        ("hifmi_pay", ("390200", "城乡居民大病医疗保险基金")),
        ("maf_pay", ("610100", "医疗救助基金")),
        ("oth_pay", ("999997", "其他基金（补充医疗保险）")),
        ("acct_pay", ("310200", "职工基本医疗保险个人账户基金")),
    ]
    .into_iter()
    .map(|(field, (code, name))| FundPayment { fund_pay_type: code, fund_pay_type_name: name, field, fund_payamt: amount_of(field) })
    .filter(|payment| !payment.fund_payamt.is_zero())
    .collect()
}

/// The result of settling one claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub med_type: &'static str,
    pub insutype: &'static str,
    pub service_date: Option<Date>,
    /// The version of the policy pack the settlement was computed under, as the store
    /// numbered it (issue 19); `null` under a pack that was not recorded.
    pub policy_version: Option<u32>,
    pub year: i32,
    pub tier: Option<Tier>,
    /// Settled as referred (转诊): a referral on file covered the admission, so the
    /// unreferred reduction did not apply and the deductible paid before it counted. The
    /// store checks, in its transaction, that the referral is still on file and not
    /// cancelled.
    pub referral: bool,
    /// The person is under the civil servants' medical subsidy (the national interface's
    /// `cvlserv_flag`).
    pub civil_servant: bool,
    pub lines: Vec<LineSettlement>,
    /// Total bill.
    #[serde(with = "serde_yuan")]
    pub medfee_sumamt: Fen,
    /// Wholly self-paid (out of catalogue, class C, restricted without approval).
    #[serde(with = "serde_yuan")]
    pub fulamt_ownpay_amt: Fen,
    /// Above the price cap.
    #[serde(with = "serde_yuan")]
    pub overlmt_selfpay: Fen,
    /// Class-B share paid first.
    #[serde(with = "serde_yuan")]
    pub preselfpay_amt: Fen,
    /// In scope.
    #[serde(with = "serde_yuan")]
    pub inscp_scp_amt: Fen,
    /// Deductible paid by this claim.
    #[serde(with = "serde_yuan")]
    pub act_pay_dedc: Fen,
    /// Basic pooled fund (for a maternity claim, the maternity fund).
    #[serde(with = "serde_yuan")]
    pub hifp_pay: Fen,
    /// The pooled-fund ratio applied (first band), in basis points.
    pub pool_prop_bp: u32,
    /// Residents' critical-illness insurance.
    #[serde(with = "serde_yuan")]
    pub hifmi_pay: Fen,
    /// Employees' large-amount insurance.
    #[serde(with = "serde_yuan")]
    pub hifob_pay: Fen,
    /// Medical assistance.
    #[serde(with = "serde_yuan")]
    pub maf_pay: Fen,
    /// Other funds: supplementary insurance.
    #[serde(with = "serde_yuan")]
    pub oth_pay: Fen,
    /// Civil servants' medical subsidy (公务员医疗补助).
    #[serde(with = "serde_yuan")]
    pub cvlserv_pay: Fen,
    /// The employer's supplementary insurance (企业补充医疗保险).
    #[serde(with = "serde_yuan")]
    pub hifes_pay: Fen,
    #[serde(with = "serde_yuan")]
    pub fund_pay_sumamt: Fen,
    #[serde(with = "serde_yuan")]
    pub acct_pay: Fen,
    #[serde(with = "serde_yuan")]
    pub psn_cash_pay: Fen,
    /// Personal burden: personal account + cash.
    #[serde(with = "serde_yuan")]
    pub psn_part_amt: Fen,
    /// Hospital burden (none under fee-for-service; kept for the identity).
    #[serde(with = "serde_yuan")]
    pub hosp_part_amt: Fen,
    /// Maternity allowance paid to the person by the maternity fund, outside the bill.
    #[serde(with = "serde_yuan")]
    pub maternity_allowance: Fen,
    #[serde(with = "serde_yuan")]
    pub acct_balance_after: Fen,
    /// The person's year-to-date counters after this claim.
    pub accumulators: Accumulators,
    /// Empty unless the explanation was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanation: Vec<Step>,
}

impl Settlement {
    /// The funds that pay this settlement, with their national codes ([`fund_payments`]).
    #[must_use]
    pub fn fund_payments(&self) -> Vec<FundPayment> {
        fund_payments(self.insutype, self.med_type, |field| match field {
            "hifp_pay" => self.hifp_pay,
            "hifob_pay" => self.hifob_pay,
            "hifmi_pay" => self.hifmi_pay,
            "maf_pay" => self.maf_pay,
            "oth_pay" => self.oth_pay,
            "cvlserv_pay" => self.cvlserv_pay,
            "hifes_pay" => self.hifes_pay,
            "acct_pay" => self.acct_pay,
            _ => Fen::ZERO,
        })
    }

    /// The identities every settlement satisfies to the fen (ARCHITECTURE.md, invariant
    /// `payers-sum-to-bill`). Returns the first that fails.
    pub fn check_identities(&self) -> Result<(), &'static str> {
        let lines_total: Fen = self.lines.iter().map(|l| l.det_item_fee_sumamt).sum();
        let parts = self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt;
        let funds = self.hifp_pay + self.hifmi_pay + self.hifob_pay + self.maf_pay + self.oth_pay + self.cvlserv_pay + self.hifes_pay;
        let amounts = [
            self.medfee_sumamt,
            self.fulamt_ownpay_amt,
            self.overlmt_selfpay,
            self.preselfpay_amt,
            self.inscp_scp_amt,
            self.act_pay_dedc,
            self.hifp_pay,
            self.hifmi_pay,
            self.hifob_pay,
            self.maf_pay,
            self.oth_pay,
            self.cvlserv_pay,
            self.hifes_pay,
            self.acct_pay,
            self.psn_cash_pay,
            self.hosp_part_amt,
        ];
        if amounts.iter().any(|a| a.is_negative()) {
            Err("an amount is negative")
        } else if lines_total != self.medfee_sumamt {
            Err("lines do not sum to medfee_sumamt")
        } else if parts != self.medfee_sumamt {
            Err("self-paid, over-cap, class-B share and in-scope do not sum to medfee_sumamt")
        } else if funds != self.fund_pay_sumamt {
            Err("fund payments do not sum to fund_pay_sumamt")
        } else if self.acct_pay + self.psn_cash_pay != self.psn_part_amt {
            Err("personal account + cash is not psn_part_amt")
        } else if self.fund_pay_sumamt + self.psn_part_amt + self.hosp_part_amt != self.medfee_sumamt {
            Err("funds + person + hospital is not medfee_sumamt")
        } else {
            Ok(())
        }
    }

    /// The explanation as numbered lines, in Chinese or English.
    #[must_use]
    pub fn render_explanation(&self, language: Language) -> String {
        let mut out = String::new();
        for (index, step) in self.explanation.iter().enumerate() {
            let title = step.title.get(language);
            let _ = write!(out, "{:>2}. {title}", index + 1);
            if let Some(line) = step.line {
                let _ = match language {
                    Language::Zh => write!(out, " 第{line}行"),
                    Language::En => write!(out, " {line}"),
                };
            }
            if let Some(param) = step.param {
                let label = ParamKey::parse(param).map(|k| match language {
                    Language::Zh => k.spec().label_zh,
                    Language::En => k.spec().label_en,
                });
                let _ = write!(out, " — {}{param}", label.map(|l| format!("{l} ")).unwrap_or_default());
            }
            if step.rule == Rule::ServiceDate {
                let tier = self.tier.map(|t| t.to_string());
                let date = self.service_date.map(|d| d.to_string()).unwrap_or_default();
                let _ = match (language, tier) {
                    (Language::Zh, Some(t)) => write!(out, "：{date}，{} 年度，第 {t} 档", self.year),
                    (Language::Zh, None) => write!(out, "：{date}，{} 年度", self.year),
                    (Language::En, Some(t)) => write!(out, ": {date}, year {}, tier {t}", self.year),
                    (Language::En, None) => write!(out, ": {date}, year {}", self.year),
                };
            }
            if let Some(line) = step.line.and_then(|n| self.lines.get(n - 1)) {
                let class = line.class.map_or("-", |c| c.code());
                let _ = match language {
                    Language::Zh => write!(
                        out,
                        "\n    {} 类别{class}，{} × {} = {} 元；全自费 {}，超限价自付 {}，乙类先行自付 {}，政策范围内 {}",
                        step.value.as_deref().unwrap_or_default(),
                        line.quantity,
                        line.unit_price,
                        line.det_item_fee_sumamt,
                        line.fulamt_ownpay_amt,
                        line.overlmt_amt,
                        line.preselfpay_amt,
                        line.inscp_scp_amt
                    ),
                    Language::En => write!(
                        out,
                        "\n    {} class {class}, {} × {} = {} yuan; wholly self-paid {}, over the price cap {}, class-B share {}, in scope {}",
                        step.value.as_deref().unwrap_or_default(),
                        line.quantity,
                        line.unit_price,
                        line.det_item_fee_sumamt,
                        line.fulamt_ownpay_amt,
                        line.overlmt_amt,
                        line.preselfpay_amt,
                        line.inscp_scp_amt
                    ),
                };
                if let Some(note) = &step.note {
                    let separator = if language == Language::Zh { "；" } else { "; " };
                    let _ = write!(out, "{separator}{}", note.get(language));
                }
                if let Some(cite) = &step.cite {
                    let _ = match language {
                        Language::Zh => write!(out, "〔依据：{cite}〕"),
                        Language::En => write!(out, " [source: {cite}]"),
                    };
                }
                out.push('\n');
                continue;
            }
            if step.rule == Rule::ServiceDate {
                out.push('\n');
                continue;
            }
            if let Some(value) = &step.value {
                let _ = if step.param.is_some() { write!(out, " = {value}") } else { write!(out, ": {value}") };
            }
            if let Some(note) = &step.note {
                let separator = match (language, step.param.is_some() || step.value.is_some()) {
                    (Language::Zh, true) => "；",
                    (Language::Zh, false) => "：",
                    (Language::En, true) => "; ",
                    (Language::En, false) => ": ",
                };
                let _ = write!(out, "{separator}{}", note.get(language));
            }
            if let Some(cite) = &step.cite {
                let _ = match language {
                    Language::Zh => write!(out, "〔依据：{cite}〕"),
                    Language::En => write!(out, " [source: {cite}]"),
                };
            }
            if step.rule != Rule::ServiceDate {
                let _ = match language {
                    Language::Zh => write!(out, "\n    计算基数 {} 元，本项金额 {} 元，剩余 {} 元", step.before, step.amount, step.after),
                    Language::En => {
                        write!(out, "\n    base {} yuan, this step {} yuan, remaining {} yuan", step.before, step.amount, step.after)
                    }
                };
            }
            out.push('\n');
        }
        // The employees' top-ups and the hospital's part, where there are any, so that the
        // parts always add up to the totals they explain.
        let top_ups = self.cvlserv_pay + self.hifes_pay;
        let (top_ups_zh, top_ups_en) = if top_ups.is_zero() {
            (String::new(), String::new())
        } else {
            (
                format!("，公务员医疗补助 {}，企业补充 {}", self.cvlserv_pay, self.hifes_pay),
                format!(", civil servants' subsidy {}, employer's supplementary {}", self.cvlserv_pay, self.hifes_pay),
            )
        };
        let (hospital_zh, hospital_en) = if self.hosp_part_amt.is_zero() {
            (String::new(), String::new())
        } else {
            (format!(" + 医疗机构承担 {} 元", self.hosp_part_amt), format!(" + hospital {} yuan", self.hosp_part_amt))
        };
        let _ = match language {
            Language::Zh => write!(
                out,
                "合计：总费用 {} 元 = 基金支付 {} 元（统筹 {}{top_ups_zh}，大病/大额 {}，救助 {}，补充 {}）+ 个人负担 {} 元（个人账户 {}，现金 {}）{hospital_zh}",
                self.medfee_sumamt,
                self.fund_pay_sumamt,
                self.hifp_pay,
                self.hifmi_pay + self.hifob_pay,
                self.maf_pay,
                self.oth_pay,
                self.psn_part_amt,
                self.acct_pay,
                self.psn_cash_pay
            ),
            Language::En => write!(
                out,
                "Total: bill {} yuan = funds {} yuan (pooled {}{top_ups_en}, critical/large-amount {}, assistance {}, supplementary {}) + person {} yuan (account {}, cash {}){hospital_en}",
                self.medfee_sumamt,
                self.fund_pay_sumamt,
                self.hifp_pay,
                self.hifmi_pay + self.hifob_pay,
                self.maf_pay,
                self.oth_pay,
                self.psn_part_amt,
                self.acct_pay,
                self.psn_cash_pay
            ),
        };
        if !self.maternity_allowance.is_zero() {
            let _ = match language {
                Language::Zh => write!(out, "；另付生育津贴 {} 元", self.maternity_allowance),
                Language::En => write!(out, "; maternity allowance paid besides: {} yuan", self.maternity_allowance),
            };
        }
        out.push('\n');
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Zh,
    En,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Rule::id` is the name serde gives the rule in a stored settlement, so a reader can
    /// find the rule (and its titles) back from the JSON.
    #[test]
    fn rule_ids_are_their_serde_names() {
        for rule in Rule::ALL {
            let json = serde_json::to_string(rule).expect("serialise");
            assert_eq!(json.trim_matches('"'), rule.id());
            assert_eq!(Rule::parse(rule.id()), Some(*rule));
            assert!(rule.title_zh().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{rule:?} has a Chinese title");
            assert!(rule.title_en().is_ascii() || rule.title_en().contains('÷'), "{rule:?} has an English title");
        }
        assert_eq!(Rule::parse("no-such-rule"), None);
    }

    /// Issue 13: each paying fund with its national code, in layer order, none that pays
    /// nothing; the basic fund's code by scheme and, for residents' outpatient pooling, by
    /// the kind of care.
    #[test]
    fn fund_payments_carry_the_national_codes() {
        let employee = Settlement {
            insutype: "310",
            med_type: "2101",
            hifp_pay: Fen::new(800_000),
            hifob_pay: Fen::new(120_000),
            acct_pay: Fen::new(5_000),
            ..Settlement::default()
        };
        let codes: Vec<(&str, &str, i64)> =
            employee.fund_payments().iter().map(|p| (p.fund_pay_type, p.field, p.fund_payamt.get())).collect();
        assert_eq!(codes, [("310100", "hifp_pay", 800_000), ("330100", "hifob_pay", 120_000), ("310200", "acct_pay", 5_000)]);
        let outpatient = Settlement { insutype: "390", med_type: "11", hifp_pay: Fen::new(2_550), ..Settlement::default() };
        assert_eq!(outpatient.fund_payments().first().map(|p| p.fund_pay_type), Some("390102"));
        let resident = Settlement {
            insutype: "390",
            med_type: "2101",
            hifp_pay: Fen::new(1),
            hifmi_pay: Fen::new(2),
            oth_pay: Fen::new(3),
            maf_pay: Fen::new(4),
            ..Settlement::default()
        };
        let codes: Vec<&str> = resident.fund_payments().iter().map(|p| p.fund_pay_type).collect();
        assert_eq!(codes, ["390100", "390200", "610100", "999997"]);
        let maternity = Settlement { insutype: "510", med_type: "52", hifp_pay: Fen::new(300_000), ..Settlement::default() };
        assert_eq!(maternity.fund_payments().first().map(|p| p.fund_pay_type), Some("510100"));
        assert!(Settlement::default().fund_payments().is_empty(), "a settlement no fund pays has no lines");
    }
}
