//! What the workers add up: money per layer, payee, county and month; income per fund,
//! county, month and payer; claims and persons by kind and group. Every total is an integer
//! sum, so merging the workers' tallies in any order gives the same result: the
//! simulation's output does not depend on the number of threads.

use yibao_domain::{AssistanceGroup, ClaimKind, Fen, PersonCategory, Scheme};
use yibao_engine::Settlement;
use yibao_ledger::{FundScheme, Reason, SettlementLayer};

use crate::person::Person;

/// The scheme funds of the simulated city (the municipal adjustment fund aside).
pub const FUNDS: [FundScheme; 7] = [
    FundScheme::Employee,
    FundScheme::EmployeeLargeAmount,
    FundScheme::Resident,
    FundScheme::ResidentCriticalIllness,
    FundScheme::Maternity,
    FundScheme::Supplementary,
    FundScheme::MedicalAssistance,
];

pub(crate) fn fund_index(fund: FundScheme) -> usize {
    FUNDS.iter().position(|f| *f == fund).expect("a simulated fund")
}

/// What a fund pays: a settlement layer from its fund, or the retirees' personal-account
/// credit from the employees' pooled fund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// `hifp_pay` of an employee's claim.
    EmployeePooled,
    /// `hifp_pay` of a resident's claim.
    ResidentPooled,
    /// `hifp_pay` of a maternity claim: the delivery's lump sum.
    MaternityLumpSum,
    /// The maternity allowance (生育津贴), paid to the person.
    MaternityAllowance,
    /// `hifob_pay`: employees' large-amount fund.
    LargeAmount,
    /// `hifmi_pay`: residents' critical-illness insurance.
    CriticalIllness,
    /// `maf_pay`: medical assistance.
    Assistance,
    /// `oth_pay`: supplementary insurance.
    Supplementary,
    /// The monthly credit from pooling to retirees' personal accounts.
    RetireeAccountCredit,
}

impl Layer {
    pub const ALL: [Layer; 9] = [
        Layer::EmployeePooled,
        Layer::ResidentPooled,
        Layer::MaternityLumpSum,
        Layer::MaternityAllowance,
        Layer::LargeAmount,
        Layer::CriticalIllness,
        Layer::Assistance,
        Layer::Supplementary,
        Layer::RetireeAccountCredit,
    ];

    #[must_use]
    pub const fn fund(self) -> FundScheme {
        match self {
            Layer::EmployeePooled | Layer::RetireeAccountCredit => FundScheme::Employee,
            Layer::ResidentPooled => FundScheme::Resident,
            Layer::MaternityLumpSum | Layer::MaternityAllowance => FundScheme::Maternity,
            Layer::LargeAmount => FundScheme::EmployeeLargeAmount,
            Layer::CriticalIllness => FundScheme::ResidentCriticalIllness,
            Layer::Assistance => FundScheme::MedicalAssistance,
            Layer::Supplementary => FundScheme::Supplementary,
        }
    }

    #[must_use]
    pub const fn reason(self) -> Reason {
        match self {
            Layer::EmployeePooled | Layer::ResidentPooled | Layer::MaternityLumpSum => Reason::Settlement(SettlementLayer::Pooled),
            Layer::MaternityAllowance => Reason::Settlement(SettlementLayer::MaternityAllowance),
            Layer::LargeAmount => Reason::Settlement(SettlementLayer::LargeAmount),
            Layer::CriticalIllness => Reason::Settlement(SettlementLayer::CriticalIllness),
            Layer::Assistance => Reason::Settlement(SettlementLayer::Assistance),
            Layer::Supplementary => Reason::Settlement(SettlementLayer::Supplementary),
            Layer::RetireeAccountCredit => Reason::PersonalAccountCredit,
        }
    }

    /// Stable code, used in transfer ids.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Layer::EmployeePooled => "employee-pooled",
            Layer::ResidentPooled => "resident-pooled",
            Layer::MaternityLumpSum => "lump-sum",
            Layer::MaternityAllowance => "allowance",
            Layer::LargeAmount => "large-amount",
            Layer::CriticalIllness => "critical-illness",
            Layer::Assistance => "assistance",
            Layer::Supplementary => "supplementary",
            Layer::RetireeAccountCredit => "retiree-credit",
        }
    }

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Layer::EmployeePooled => "pooled fund (employees)",
            Layer::ResidentPooled => "pooled fund (residents)",
            Layer::MaternityLumpSum => "delivery lump sums",
            Layer::MaternityAllowance => "maternity allowance",
            Layer::LargeAmount => "large amount (hifob)",
            Layer::CriticalIllness => "critical illness (hifmi)",
            Layer::Assistance => "medical assistance (maf)",
            Layer::Supplementary => "supplementary (oth)",
            Layer::RetireeAccountCredit => "retirees' account credit",
        }
    }

    /// Paid to the person (their county's insured as a whole in the books) rather than to
    /// the institution.
    #[must_use]
    pub const fn paid_to_person(self) -> bool {
        matches!(self, Layer::MaternityAllowance | Layer::RetireeAccountCredit)
    }
}

/// Who pays a fund's income.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Payer {
    /// The insured of the county and their employers (contributions).
    Insured,
    /// County finance (subsidy, civil affairs' payment for the poor, assistance budget).
    County,
    City,
    Province,
    Central,
}

impl Payer {
    pub const ALL: [Payer; 5] = [Payer::Insured, Payer::County, Payer::City, Payer::Province, Payer::Central];

    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Payer::Insured => "insured",
            Payer::County => "county-finance",
            Payer::City => "city-finance",
            Payer::Province => "province-finance",
            Payer::Central => "central-finance",
        }
    }
}

/// Totals of settlements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerTotals {
    pub claims: u64,
    pub bill: Fen,
    pub self_paid: Fen,
    pub inscope: Fen,
    pub hifp: Fen,
    pub hifmi: Fen,
    pub hifob: Fen,
    pub maf: Fen,
    pub oth: Fen,
    pub funds: Fen,
    pub account: Fen,
    pub cash: Fen,
    pub allowance: Fen,
}

impl LayerTotals {
    pub(crate) fn add(&mut self, s: &Settlement) {
        self.claims += 1;
        self.bill += s.medfee_sumamt;
        self.self_paid += s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt;
        self.inscope += s.inscp_scp_amt;
        self.hifp += s.hifp_pay;
        self.hifmi += s.hifmi_pay;
        self.hifob += s.hifob_pay;
        self.maf += s.maf_pay;
        self.oth += s.oth_pay;
        self.funds += s.fund_pay_sumamt;
        self.account += s.acct_pay;
        self.cash += s.psn_cash_pay;
        self.allowance += s.maternity_allowance;
    }

    pub(crate) fn merge(&mut self, o: &LayerTotals) {
        self.claims += o.claims;
        self.bill += o.bill;
        self.self_paid += o.self_paid;
        self.inscope += o.inscope;
        self.hifp += o.hifp;
        self.hifmi += o.hifmi;
        self.hifob += o.hifob;
        self.maf += o.maf;
        self.oth += o.oth;
        self.funds += o.funds;
        self.account += o.account;
        self.cash += o.cash;
        self.allowance += o.allowance;
    }
}

/// Care and out-of-pocket cost of one group of persons over the year.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupTotals {
    pub persons: u64,
    /// Persons with at least one settled claim.
    pub patients: u64,
    pub totals: LayerTotals,
}

/// The insured by county and category, and the other counts of the population.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Population {
    /// [county][employed, retired, resident].
    pub by_county: [[u64; 3]; 3],
    /// [employee tier 1–2, resident tier 1–4] on 1 January.
    pub employee_tiers: [u64; 2],
    pub resident_tiers: [u64; 4],
    /// [none, destitute, dibao, low-income, impoverished by illness, registered poor].
    pub groups: [u64; GROUP_SLOTS],
    pub supplementary: u64,
    pub maternity: u64,
    pub chronic: u64,
    pub tier_changes: u64,
}

/// No group, then each assistance group.
pub(crate) const GROUP_SLOTS: usize = 1 + AssistanceGroup::ALL.len();

pub(crate) fn group_index(group: Option<AssistanceGroup>) -> usize {
    match group {
        None => 0,
        Some(AssistanceGroup::Destitute) => 1,
        Some(AssistanceGroup::Dibao) => 2,
        Some(AssistanceGroup::LowIncome) => 3,
        Some(AssistanceGroup::ImpoverishedByIllness) => 4,
        Some(AssistanceGroup::RegisteredPoor) => 5,
    }
}

pub(crate) fn category_index(category: PersonCategory) -> usize {
    match category {
        PersonCategory::Employed => 0,
        PersonCategory::Retired => 1,
        PersonCategory::Resident => 2,
    }
}

pub(crate) fn kind_index(kind: ClaimKind) -> usize {
    match kind {
        // The simulated year draws no pharmacy purchases; counted as outpatient visits.
        ClaimKind::GeneralOutpatient | ClaimKind::PharmacyPurchase => 0,
        // Nor two-disease medicines or special drugs: counted with chronic outpatient care.
        ClaimKind::ChronicOutpatient | ClaimKind::TwoDisease | ClaimKind::SpecialDrug => 1,
        // The simulated year draws no fixed-price or day-surgery stays; counted as stays.
        ClaimKind::Inpatient | ClaimKind::SingleDisease | ClaimKind::DaySurgery => 2,
        ClaimKind::Maternity => 3,
    }
}

/// The employees' personal accounts, outside the pooled books (see `books.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountMemo {
    pub opening: Fen,
    pub credited: Fen,
    pub paid: Fen,
}

/// A kind of refusal: how many, and the first (lowest person number) with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub count: u64,
    pub person: u64,
    pub claim_id: String,
    pub message: String,
}

/// One worker's sums.
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    payees: usize,
    /// [layer][payee][county][month], fen.
    pub spend: Vec<i64>,
    /// [fund][county][month][payer], fen.
    pub income: Vec<i64>,
    pub kinds: [LayerTotals; 4],
    pub groups: [GroupTotals; GROUP_SLOTS],
    pub population: Population,
    pub accounts: AccountMemo,
    /// Residents per county (for the critical-illness financing).
    pub residents: [u64; 3],
    /// Persons in an assistance group per county (for the assistance budget).
    pub assisted: [u64; 3],
    pub refusals: Vec<Refusal>,
    pub persons: u64,
}

impl Tally {
    pub(crate) fn new(payees: usize) -> Tally {
        Tally {
            payees,
            spend: vec![0; Layer::ALL.len() * payees * 3 * 12],
            income: vec![0; FUNDS.len() * 3 * 12 * Payer::ALL.len()],
            kinds: [LayerTotals::default(); 4],
            groups: [GroupTotals::default(); GROUP_SLOTS],
            population: Population::default(),
            accounts: AccountMemo::default(),
            residents: [0; 3],
            assisted: [0; 3],
            refusals: Vec::new(),
            persons: 0,
        }
    }

    pub(crate) fn spend_at(&self, layer: Layer, payee: usize, county: usize, month: usize) -> usize {
        ((layer as usize * self.payees + payee) * 3 + county) * 12 + month
    }

    pub(crate) fn add_spend(&mut self, layer: Layer, payee: usize, county: usize, month: usize, amount: Fen) {
        if !amount.is_zero() {
            let at = self.spend_at(layer, payee, county, month);
            self.spend[at] += amount.get();
        }
    }

    pub(crate) fn income_at(fund: FundScheme, county: usize, month: usize, payer: Payer) -> usize {
        ((fund_index(fund) * 3 + county) * 12 + month) * Payer::ALL.len() + payer as usize
    }

    pub(crate) fn add_income(&mut self, fund: FundScheme, county: usize, month: usize, payer: Payer, amount: Fen) {
        if !amount.is_zero() {
            self.income[Tally::income_at(fund, county, month, payer)] += amount.get();
        }
    }

    pub(crate) fn count_person(&mut self, person: &Person) {
        self.persons += 1;
        let county = usize::from(person.county);
        let p = &mut self.population;
        p.by_county[county][category_index(person.category)] += 1;
        match person.scheme {
            Scheme::Employee => p.employee_tiers[usize::from(person.tier.get() - 1).min(1)] += 1,
            _ => {
                p.resident_tiers[usize::from(person.tier.get() - 1).min(3)] += 1;
                self.residents[county] += 1;
            }
        }
        p.groups[group_index(person.group)] += 1;
        if person.group.is_some() {
            self.assisted[county] += 1;
        }
        p.supplementary += u64::from(person.supplementary);
        p.maternity += u64::from(person.maternity);
        p.chronic += u64::from(person.chronic != 0);
        p.tier_changes += u64::from(person.tier_change.is_some());
        self.groups[group_index(person.group)].persons += 1;
    }

    pub(crate) fn refuse(&mut self, code: &'static str, person: u64, claim_id: &str, message: String) {
        match self.refusals.iter_mut().find(|r| r.code == code) {
            Some(r) => {
                r.count += 1;
                if person < r.person {
                    (r.person, r.claim_id, r.message) = (person, claim_id.to_owned(), message);
                }
            }
            None => self.refusals.push(Refusal { code, count: 1, person, claim_id: claim_id.to_owned(), message }),
        }
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        for (a, b) in self.spend.iter_mut().zip(&other.spend) {
            *a += b;
        }
        for (a, b) in self.income.iter_mut().zip(&other.income) {
            *a += b;
        }
        for (a, b) in self.kinds.iter_mut().zip(&other.kinds) {
            a.merge(b);
        }
        for (a, b) in self.groups.iter_mut().zip(&other.groups) {
            a.persons += b.persons;
            a.patients += b.patients;
            a.totals.merge(&b.totals);
        }
        let (p, q) = (&mut self.population, &other.population);
        for (a, b) in p.by_county.iter_mut().flatten().zip(q.by_county.iter().flatten()) {
            *a += b;
        }
        for (a, b) in p.employee_tiers.iter_mut().zip(&q.employee_tiers) {
            *a += b;
        }
        for (a, b) in p.resident_tiers.iter_mut().zip(&q.resident_tiers) {
            *a += b;
        }
        for (a, b) in p.groups.iter_mut().zip(&q.groups) {
            *a += b;
        }
        p.supplementary += q.supplementary;
        p.maternity += q.maternity;
        p.chronic += q.chronic;
        p.tier_changes += q.tier_changes;
        self.accounts.opening += other.accounts.opening;
        self.accounts.credited += other.accounts.credited;
        self.accounts.paid += other.accounts.paid;
        for c in 0..3 {
            self.residents[c] += other.residents[c];
            self.assisted[c] += other.assisted[c];
        }
        for r in &other.refusals {
            match self.refusals.iter_mut().find(|m| m.code == r.code) {
                Some(m) => {
                    m.count += r.count;
                    if r.person < m.person {
                        (m.person, m.claim_id, m.message) = (r.person, r.claim_id.clone(), r.message.clone());
                    }
                }
                None => self.refusals.push(r.clone()),
            }
        }
        self.persons += other.persons;
    }
}
