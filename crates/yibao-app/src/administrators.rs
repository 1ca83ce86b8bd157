//! Commercial administrators under contract (商业保险机构经办, issue 18; R-TPA-1, R-TPA-2,
//! R-TPA-3): the city's administrator signs a contract won by tender, and the administrator
//! (with the API key the contract issues) reviews the claims of its counties and schemes;
//! bureau staff record complaints and survey answers, draw the bureau's audit sample of a
//! quarter, and score the quarter, which posts the administration fee with its reward or
//! penalty to the fund books once, and, when the insurer underwrites the supplementary
//! layer, its premium and what it owes back for the layer.

use time::Date;
use yibao_domain::{Fen, RegionCode};
use yibao_engine::review::Selection;
pub use yibao_ledger::FundScheme;
use yibao_store::administrator::{
    AdministratorStore, CountyQuarter, MeasuredKpi, administrator_selection, covered_claims, in_bureau_sample, measure_quarter,
    supplementary_insured,
};
pub use yibao_store::administrator::{
    BandTerm, ContractRecord, ContractTerms, EntryKind, KpiTerm, Measure, PerformanceEntry, Quarter, QuarterRecord, ReviewTerms,
    RevolvingBooking, RevolvingKind, RevolvingLine, SupplementaryLine, Tender,
};
use yibao_store::{ClaimRecord, FundStore, Role, Store};

use crate::access::{digest, new_token};
use crate::{App, AppError, Principal, roles, store};

/// Who signs contracts and scores quarters: the city's administrators and fund accountants.
pub const CONTRACT_WRITERS: &[Role] = &[Role::CityAdministrator, Role::FundAccountant];

/// A contract just signed, with its administrator's API key: shown once, stored as a digest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ContractKey {
    pub contract: ContractRecord,
    pub api_key: String,
}

/// A day outside the contract's service period (or the contract ended).
fn outside_period(contract: &ContractRecord, day: Date) -> AppError {
    AppError::unprocessable(
        "administrator.outside_period",
        format!("{day} is outside {}'s service period, {} to {}", contract.terms.code, contract.terms.from, contract.terms.until),
    )
}

/// The demo city's administrator (issue 18 item 5): one insurer for the residents of
/// `county` in `year`, chosen by a tender the autumn before. Every figure is an assumption
/// for the demo (the seeds give none): a fee of 3.00 yuan per insured a year, a revolving
/// fund of 500,000 yuan, the supplementary layer underwritten for 40.00 yuan a person a year
/// (what the demo's residents and the city pay in for it, as ZZ-NCMS's 10 yuan premium is
/// its 9 + 1 contribution), every claim from 5,000 yuan reviewed and a tenth of the rest, a
/// twentieth sampled by the bureau, four indicators and three bands.
#[must_use]
pub fn demo_contract(county: RegionCode, year: i32) -> ContractTerms {
    let day = |y: i32, m: time::Month, d: u8| Date::from_calendar_date(y, m, d).unwrap_or(Date::MIN);
    ContractTerms {
        code: "PICC419900".into(),
        name: "示范市人保财险（商业保险经办）".into(),
        tender: Tender {
            reference: format!("SFCG-{}-NCMS-01", year - 1),
            awarded_on: day(year - 1, time::Month::November, 15),
            bidders: 3,
        },
        signed_on: day(year - 1, time::Month::December, 1),
        from: day(year, time::Month::January, 1),
        until: day(year, time::Month::December, 31),
        counties: vec![county],
        schemes: vec![FundScheme::Resident],
        fee_per_insured_fen: Fen::new(300),
        revolving_fund_fen: Fen::new(50_000_000),
        supplementary_premium_fen: Fen::new(4_000),
        review: ReviewTerms { threshold_fen: Fen::new(500_000), sample_rate_bp: 1_000, seed: 20_260_101, bureau_sample_rate_bp: 500 },
        kpis: vec![
            KpiTerm { measure: Measure::PaymentDays, weight_bp: 3_000, target: 1_500 },
            KpiTerm { measure: Measure::ReviewDays, weight_bp: 2_000, target: 500 },
            KpiTerm { measure: Measure::ErrorRate, weight_bp: 3_000, target: 300 },
            KpiTerm { measure: Measure::Satisfaction, weight_bp: 2_000, target: 9_000 },
        ],
        bands: vec![
            BandTerm { from_score_bp: 9_000, adjustment_bp: 1_000 },
            BandTerm { from_score_bp: 7_000, adjustment_bp: 0 },
            BandTerm { from_score_bp: 0, adjustment_bp: -1_000 },
        ],
        renewal_floor_bp: 7_000,
    }
}

/// An administrator's revolving fund in one scheme's fund.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RevolvingStatement {
    pub scheme: FundScheme,
    pub size_fen: Fen,
    pub balance_fen: Fen,
    /// Latest first.
    pub bookings: Vec<RevolvingBooking>,
}

/// A claim an administrator or the bureau reviews, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SelectedClaim {
    pub region: RegionCode,
    pub institution_code: String,
    pub claim_id: String,
    pub fund_pay_fen: Fen,
    /// `above-threshold` or `sampled`.
    pub reason: &'static str,
}

/// A complaint or a survey answer as bureau staff give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInput {
    pub kind: EntryKind,
    pub on: Date,
    pub score_bp: Option<u32>,
    pub note: String,
}

impl App {
    /// The principal an API key opens: a designated institution's, else an
    /// administrator's under an active contract.
    pub async fn principal_by_key(&self, key: &str) -> Result<Principal, AppError> {
        match self.institution_by_key(key).await {
            Ok(principal) => Ok(principal),
            Err(refused) => match store!(self, contract_by_key(&digest(key.trim())))? {
                Some(contract) if contract.active => Ok(Principal::Administrator(Box::new(contract))),
                _ => Err(refused),
            },
        }
    }

    /// The city's administrator signs a contract won by tender (R-TPA-1); the
    /// administrator's API key is drawn here and shown once.
    pub async fn sign_contract(&self, principal: &Principal, source: &str, terms: ContractTerms) -> Result<ContractKey, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        let city = self.policy().region;
        if scope != city {
            return Err(AppError::forbidden("a contract is the city's: its administrators sign it"));
        }
        for county in &terms.counties {
            self.check_county(*county)?;
        }
        self.not_after_today("administrator.bad_terms", "a contract signed on", terms.signed_on)?;
        for scheme in &terms.schemes {
            let offered = yibao_domain::Scheme::parse(scheme.as_str()).is_some_and(|s| self.policy().has_scheme(s));
            if !offered {
                return Err(AppError::unprocessable(
                    "administrator.bad_terms",
                    format!("the city's policy pack runs no {} scheme to administer", scheme.as_str()),
                ));
            }
        }
        let api_key = new_token()?;
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| AppError::internal("administrator.failure", e.to_string()))?;
        let actor = principal.actor(source, self.now());
        let contract = store!(self, create_contract(&actor, city, terms, (digest(&api_key), u64::from_le_bytes(seed))))?;
        Ok(ContractKey { contract: contract.as_seen_by_administrator(), api_key })
    }

    /// The city's contracts: for its staff; an administrator reads its own.
    pub async fn contracts(&self, principal: &Principal) -> Result<Vec<ContractRecord>, AppError> {
        let contracts = store!(self, contracts(self.policy().region))?;
        match principal {
            Principal::Administrator(own) => {
                Ok(contracts.into_iter().filter(|c| c.terms.code == own.terms.code).map(ContractRecord::as_seen_by_administrator).collect())
            }
            _ => {
                // A county's staff see the contracts of their county alone: its claims, its
                // sample, its entries.
                let scope = principal.scope(roles::ALL_STAFF)?;
                Ok(contracts.into_iter().filter(|c| c.terms.counties.iter().all(|county| scope.contains(*county))).collect())
            }
        }
    }

    /// One contract: for the city's staff, or the administrator itself.
    pub async fn contract(&self, principal: &Principal, code: &str) -> Result<ContractRecord, AppError> {
        self.contracts(principal)
            .await?
            .into_iter()
            .find(|c| c.terms.code == code)
            .ok_or_else(|| AppError::not_found("administrator.not_found", format!("no administrator {code} under contract in this city")))
    }

    /// A claim the administrator's contract covers, or `claim.not_found` (one answer for a
    /// claim elsewhere and none at all).
    pub(crate) async fn administered_claim(
        &self,
        contract: &ContractRecord,
        institution: &str,
        claim_id: &str,
    ) -> Result<ClaimRecord, AppError> {
        let not_found = || yibao_store::StoreError::ClaimNotFound { institution: institution.to_owned(), claim_id: claim_id.to_owned() };
        let claim = match store!(self, claim(contract.city, institution, claim_id)) {
            Ok(claim) => claim,
            Err(yibao_store::StoreError::ClaimNotFound { .. }) => return Err(not_found().into()),
            Err(e) => return Err(e.into()),
        };
        let scheme = yibao_store::books::SettlementAmounts::from_stored(&claim.settlement_json).map(|a| a.pooled).ok();
        let day = yibao_domain::city_day(claim.settled_at);
        match scheme {
            Some(scheme) if contract.terms.covers(claim.region, scheme, day) => Ok(claim),
            _ => Err(not_found().into()),
        }
    }

    /// Records a complaint against an administrator or a survey answer (claims staff and
    /// administrators of the city): dated within the contract and not after today.
    pub async fn record_performance_entry(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
        input: EntryInput,
    ) -> Result<PerformanceEntry, AppError> {
        principal.scope(&[Role::ClaimsOfficer, Role::CityAdministrator])?;
        let contract = self.contract(principal, code).await?;
        self.not_after_today("administrator.bad_entry", "an entry dated", input.on)?;
        if input.on < contract.terms.from || input.on > contract.terms.until {
            return Err(AppError::unprocessable(
                "administrator.bad_entry",
                format!("an entry is dated within the contract, {} to {}", contract.terms.from, contract.terms.until),
            ));
        }
        match (input.kind, input.score_bp) {
            (EntryKind::Complaint, None) => {}
            (EntryKind::Survey, Some(score)) if score <= 10_000 => {}
            _ => {
                return Err(AppError::unprocessable(
                    "administrator.bad_entry",
                    "a survey answer has a score of 0 to 100% of full marks, a complaint none",
                ));
            }
        }
        yibao_store::administrator::check_text("the note", &input.note)
            .map_err(|_| AppError::unprocessable("administrator.bad_entry", "the note is 1 to 200 characters of text"))?;
        let entry = PerformanceEntry {
            code: contract.terms.code,
            kind: input.kind,
            on: input.on,
            score_bp: input.score_bp,
            note: input.note,
            recorded_by: principal.name().to_owned(),
            recorded_at: self.now(),
        };
        let actor = principal.actor(source, self.now());
        Ok(store!(self, record_performance_entry(&actor, self.policy().region, entry))?)
    }

    /// What a quarter reads of the contract's counties.
    async fn quarter_of(&self, contract: &ContractRecord, quarter: Quarter) -> Result<Vec<CountyQuarter>, AppError> {
        let (from, to) = quarter.days();
        let mut counties = Vec::with_capacity(contract.terms.counties.len());
        for county in &contract.terms.counties {
            counties.push(store!(self, county_quarter(*county, from, to))?);
        }
        Ok(counties)
    }

    /// The claims of a quarter the administrator reviews (核补审核): every covered claim at or
    /// above the contract's threshold and its keyed sample of the rest. For the
    /// administrator itself, or claims staff.
    pub async fn review_selection(&self, principal: &Principal, code: &str, quarter: Quarter) -> Result<Vec<SelectedClaim>, AppError> {
        if !matches!(principal, Principal::Administrator(_)) {
            principal.scope(roles::CLAIMS)?;
        }
        let contract = self.contract(principal, code).await?;
        let counties = self.quarter_of(&contract, quarter).await?;
        let mut selected = Vec::new();
        for claim in counties.iter().flat_map(|c| covered_claims(&contract.terms, c)) {
            let reason = match administrator_selection(&contract.terms, claim) {
                Selection::AboveThreshold => "above-threshold",
                Selection::Sampled => "sampled",
                Selection::NotSelected => continue,
            };
            selected.push(SelectedClaim {
                region: claim.region,
                institution_code: claim.institution_code.clone(),
                claim_id: claim.claim_id.clone(),
                fund_pay_fen: claim.fund_pay_fen,
                reason,
            });
        }
        Ok(selected)
    }

    /// The bureau's audit sample of an administrator's quarter (行政稽核): claims staff only,
    /// never the administrator (it must not know which of its claims the bureau reads).
    pub async fn bureau_sample(&self, principal: &Principal, code: &str, quarter: Quarter) -> Result<Vec<SelectedClaim>, AppError> {
        principal.scope(roles::CLAIMS)?;
        let contract = self.contract(principal, code).await?;
        let counties = self.quarter_of(&contract, quarter).await?;
        Ok(counties
            .iter()
            .flat_map(|c| covered_claims(&contract.terms, c))
            .filter(|claim| in_bureau_sample(&contract, claim))
            .map(|claim| SelectedClaim {
                region: claim.region,
                institution_code: claim.institution_code.clone(),
                claim_id: claim.claim_id.clone(),
                fund_pay_fen: claim.fund_pay_fen,
                reason: if claim.fund_pay_fen >= contract.terms.review.threshold_fen { "above-threshold" } else { "below-threshold" },
            })
            .collect())
    }

    /// Scores a quarter that is over (R-TPA-3): each indicator counted from the system's
    /// records, scored with the contract's weights, the quarter's fee (a quarter of the
    /// yearly fee per insured of its scope) adjusted by the score's band, the renewal the
    /// score recommends; the fee and its reward or penalty posted to the fund books, once.
    /// When the insurer underwrites the supplementary layer, each county's premium and what
    /// the insurer owes back for the layer are posted with it ([`Self::supplementary_lines`]).
    pub async fn score_quarter(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
        quarter: Quarter,
    ) -> Result<QuarterRecord, AppError> {
        let scope = principal.scope(CONTRACT_WRITERS)?;
        if scope != self.policy().region {
            return Err(AppError::forbidden("a contract's quarter is scored by the city"));
        }
        let contract = self.contract(principal, code).await?;
        let (from, to) = quarter.days();
        let today = self.today();
        if to >= today {
            return Err(AppError::unprocessable("administrator.quarter_not_over", format!("{quarter} ends on {to}: it is scored after")));
        }
        let run_off = contract.terms.in_run_off(from);
        if to < contract.terms.from || (from > contract.terms.until && !run_off) {
            return Err(AppError::unprocessable(
                "administrator.quarter_outside",
                format!(
                    "{quarter} is outside the contract, {} to {} (only a contract underwriting the supplementary layer scores quarters after it: its run-off)",
                    contract.terms.from, contract.terms.until
                ),
            ));
        }
        let counties = self.quarter_of(&contract, quarter).await?;
        let runs: Vec<Date> = store!(self, pooling_runs(self.policy().region))?
            .iter()
            .filter_map(|run| yibao_domain::parse_date(&run.value_date).ok())
            .collect();
        let entries = store!(self, performance_entries(self.policy().region, code, from, to))?;
        if entries.len() > yibao_store::administrator::ENTRIES_LISTED_MAX {
            return Err(AppError::unprocessable(
                "administrator.quarter_too_large",
                format!(
                    "more than {} complaints and surveys in {quarter}: more than one scoring reads",
                    yibao_store::administrator::ENTRIES_LISTED_MAX
                ),
            ));
        }
        let insured = store!(self, insured_on(self.policy().region, to))?;
        let rounding = self.policy().rounding;
        let measures = measure_quarter(&contract, (from, to), &counties, &runs, &entries, &insured, (today, rounding))?;
        // A quarter of the yearly fee per insured, for the days the contract served.
        let fee_fen = contract.terms.quarter_share(measures.insured, contract.terms.fee_per_insured_fen, (from, to), rounding)?;
        let supplementary = self.supplementary_lines(&contract, (from, to), &insured)?;
        let kpis: Vec<yibao_engine::performance::Kpi> = contract
            .terms
            .kpis
            .iter()
            .zip(&measures.actuals)
            .map(|(term, (measure, actual, _))| yibao_engine::performance::Kpi {
                name: measure.as_str().to_owned(),
                weight_bp: term.weight_bp,
                direction: if measure.higher_is_better() {
                    yibao_engine::performance::Direction::HigherIsBetter
                } else {
                    yibao_engine::performance::Direction::LowerIsBetter
                },
                target: term.target,
                actual: *actual,
            })
            .collect();
        let score = yibao_engine::performance::score_quarter(&kpis, &contract.terms.scoring(), fee_fen, rounding)
            .map_err(|e| AppError::unprocessable(e.code(), e.to_string()))?;
        let measured = contract
            .terms
            .kpis
            .iter()
            .zip(measures.actuals)
            .zip(&score.kpis)
            .map(|((term, (measure, actual, basis)), scored)| MeasuredKpi {
                measure,
                weight_bp: term.weight_bp,
                target: term.target,
                actual,
                basis,
                achievement_bp: scored.achievement_bp,
                points_bp: scored.points_bp,
            })
            .collect();
        let record = QuarterRecord {
            city: self.policy().region,
            code: contract.terms.code.clone(),
            quarter: quarter.to_string(),
            insured: measures.insured,
            fee_fen,
            kpis: measured,
            sample: measures.sample,
            score_bp: score.score_bp,
            adjustment_fen: score.adjustment_fen,
            paid_fen: fee_fen + score.adjustment_fen,
            renewal_recommended: !run_off && score.renewal == yibao_engine::performance::Renewal::Recommended,
            run_off,
            supplementary,
            fund: contract.terms.schemes[0],
            value_date: today,
            scored_by: principal.name().to_owned(),
            scored_at: self.now(),
        };
        let actor = principal.actor(source, self.now());
        Ok(store!(self, record_quarter(&actor, record))?)
    }

    /// An underwriting insurer's supplementary lines for a quarter, county by county
    /// (补充医疗保险, ZZ-NCMS §三(五)): a quarter of the yearly premium for the persons of the
    /// county and the contract's schemes with supplementary cover on its last day, for the
    /// days the contract served. The store completes them in the quarter's transaction with
    /// what the county's fund is owed for the claims the insurer underwrites, and the
    /// recovery (`with_recoveries`). None when the insurer does not underwrite.
    fn supplementary_lines(
        &self,
        contract: &ContractRecord,
        (from, to): (Date, Date),
        insured: &yibao_store::administrator::InsuredOn,
    ) -> Result<Vec<SupplementaryLine>, AppError> {
        let terms = &contract.terms;
        if !terms.underwrites() {
            return Ok(Vec::new());
        }
        let mut lines = Vec::with_capacity(terms.counties.len());
        for county in terms.counties.iter().copied() {
            let persons = supplementary_insured(terms, insured, county);
            lines.push(SupplementaryLine {
                county,
                insured: persons,
                premium_fen: terms.quarter_share(persons, terms.supplementary_premium_fen, (from, to), self.policy().rounding)?,
                claims: 0,
                owed_to_date_fen: Fen::ZERO,
                recovery_fen: Fen::ZERO,
            });
        }
        Ok(lines)
    }

    /// The bureau tops an administrator's revolving fund up to its contract's size, in each
    /// scheme's fund, from the fund's fiscal special account (周转金拨付): the first advance,
    /// then after each month's payments. The city's administrators and fund accountants.
    pub async fn top_up_revolving_fund(&self, principal: &Principal, source: &str, code: &str) -> Result<Vec<RevolvingBooking>, AppError> {
        let scope = principal.scope(CONTRACT_WRITERS)?;
        if scope != self.policy().region {
            return Err(AppError::forbidden("the revolving fund is the city's to advance"));
        }
        let contract = self.contract(principal, code).await?;
        let today = self.today();
        if !contract.active || today < contract.terms.from || today > contract.terms.until {
            return Err(outside_period(&contract, today));
        }
        let actor = principal.actor(source, self.now());
        let mut bookings = Vec::new();
        for scheme in contract.terms.schemes.clone() {
            bookings.push(store!(self, book_revolving(&actor, &contract, scheme, (RevolvingKind::TopUp, today), Vec::new()))?);
        }
        Ok(bookings)
    }

    /// The administrator pays the institutions of its counties what the fund owes them
    /// today, from its revolving fund, as far as it holds (R-TPA-1); a claim a monitoring
    /// hold still holds is not paid. The administrator `code` itself, with its key.
    pub async fn pay_from_revolving_fund(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
    ) -> Result<Vec<RevolvingBooking>, AppError> {
        let contract = match principal {
            Principal::Administrator(contract) if contract.terms.code == code => contract,
            _ => return Err(AppError::forbidden("an administrator pays from its own revolving fund, with its key")),
        };
        let today = self.today();
        if !contract.active || today < contract.terms.from || today > contract.terms.until {
            return Err(outside_period(contract, today));
        }
        // The months before the contract are the bureau's to pay: the administrator takes
        // over once the month before its first has been run, so no run of an earlier month
        // can pay again what it pays (a city's months run in order).
        let first = contract.terms.from;
        let before = if first.month() == time::Month::January {
            format!("{:04}-12", first.year() - 1)
        } else {
            format!("{:04}-{:02}", first.year(), u8::from(first.month()) - 1)
        };
        let runs = store!(self, pooling_runs(contract.city))?;
        if !runs.iter().any(|run| run.month.as_str() >= before.as_str()) {
            return Err(AppError::unprocessable(
                "administrator.months_not_run",
                format!(
                    "the pooling run of {before}, the month before the contract, is not run yet: the months before it are the bureau's to pay"
                ),
            ));
        }
        let held = self.held_for_review(contract.city, today).await?;
        let actor = principal.actor(source, self.now());
        let mut bookings = Vec::new();
        for scheme in contract.terms.schemes.clone() {
            let held_here: Vec<RevolvingLine> = held
                .iter()
                .filter(|h| h.fund == scheme)
                .filter_map(|h| match h.payee {
                    yibao_ledger::Holder::Institution(code) => {
                        Some(RevolvingLine { unit: h.unit, institution: code.to_string(), amount_fen: h.amount_fen })
                    }
                    _ => None,
                })
                .collect();
            bookings.push(store!(self, book_revolving(&actor, contract, scheme, (RevolvingKind::Payment, today), held_here))?);
        }
        Ok(bookings)
    }

    /// An administrator's revolving fund: each scheme's size, balance and bookings.
    pub async fn revolving_fund(&self, principal: &Principal, code: &str) -> Result<Vec<RevolvingStatement>, AppError> {
        if !matches!(principal, Principal::Administrator(_)) {
            principal.scope(roles::FUND_READERS)?;
        }
        let contract = self.contract(principal, code).await?;
        let bookings = store!(self, revolving_bookings(contract.city, &contract.terms.code))?;
        Ok(contract
            .terms
            .schemes
            .iter()
            .map(|scheme| {
                let mine: Vec<RevolvingBooking> = bookings.iter().filter(|b| b.scheme == *scheme).cloned().collect();
                let balance_fen = mine.first().map_or(Fen::ZERO, |latest| match latest.kind {
                    RevolvingKind::TopUp => latest.balance_before_fen + latest.top_up_fen,
                    RevolvingKind::Payment => latest.balance_before_fen - latest.amount_fen(),
                });
                RevolvingStatement { scheme: *scheme, size_fen: contract.terms.revolving_fund_fen, balance_fen, bookings: mine }
            })
            .collect())
    }

    /// Holds back from the month's run what the institutions of administered counties and
    /// schemes are owed: their administrator pays them from its revolving fund. Read from
    /// the run as it would be (`held` already held back).
    pub(crate) async fn held_for_administrators(
        &self,
        scope: RegionCode,
        month: yibao_ledger::YearMonth,
        value_date: Date,
        held: &[yibao_store::pooling::HeldBack],
    ) -> Result<Vec<yibao_store::pooling::HeldBack>, AppError> {
        let contracts: Vec<ContractRecord> = store!(self, contracts(scope.city()))?
            .into_iter()
            .filter(|c| c.active && c.terms.from <= value_date && value_date <= c.terms.until)
            .collect();
        if contracts.is_empty() {
            return Ok(Vec::new());
        }
        let preview = store!(self, preview_pooling(scope, month, value_date, held.to_vec()))?;
        let mut more = Vec::new();
        for fund in &preview.run.funds {
            let Some(scheme) = fund.fund.split_once('@').and_then(|(scheme, _)| yibao_ledger::FundScheme::parse(scheme)) else { continue };
            for unit in &fund.units {
                let Ok(county) = RegionCode::parse(&unit.unit) else { continue };
                let Some(contract) = contracts.iter().find(|c| c.terms.covers(county, scheme, value_date)) else { continue };
                for payment in unit.payments.iter().filter(|p| p.payee.starts_with("institution:") && p.amount_fen > 0) {
                    let payee = yibao_ledger::Holder::parse(&payment.payee)
                        .map_err(|e| AppError::internal("administrator.failure", e.to_string()))?;
                    more.push(yibao_store::pooling::HeldBack {
                        fund: scheme,
                        unit: county,
                        payee,
                        amount_fen: Fen::new(payment.amount_fen),
                        note: format!(
                            "[{scheme}] {county} {payee} {amount} 元由经办机构 {code} 从周转金支付 / {county}'s {amount} yuan to {payee} is paid by the administrator {code} from its revolving fund",
                            scheme = scheme.as_str(),
                            payee = payment.payee,
                            amount = Fen::new(payment.amount_fen),
                            code = contract.terms.code
                        ),
                        // It may have paid some since the preview: never a negative line.
                        up_to_outstanding: true,
                    });
                }
            }
        }
        Ok(more)
    }

    /// An administrator's scored quarters, latest first: the city's staff, or itself.
    pub async fn quarters(&self, principal: &Principal, code: &str) -> Result<Vec<QuarterRecord>, AppError> {
        let contract = self.contract(principal, code).await?;
        Ok(store!(self, quarters(contract.city, &contract.terms.code))?)
    }
}
