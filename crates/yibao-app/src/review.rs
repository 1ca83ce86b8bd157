//! Review of settled claims (issue 18): intelligent monitoring at settlement (R-INS-2), the
//! decisions on its flags and each rule's precision, findings that deduct through the
//! ledger at the three levels of R-TPA-2, and appeals decided by someone other than the
//! reviewer. A claim a `hold` flag is on is not paid to its hospital until the flag is
//! decided: the monthly pooling run holds it back ([`App::held_for_review`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode};
use yibao_engine::Claim;
use yibao_engine::monitoring::{Action, ClaimFacts, RulePack, check_claim, scan_paid};
use yibao_ledger::Holder;
use yibao_store::pooling::HeldBack;
use yibao_store::review::{AppealDecision, NewFinding, PaidFlag, RaisedFlag};
pub use yibao_store::review::{FindingQuery, FindingRecord, FindingStatus, FlagOutcome, FlagQuery, FlagRecord, ReviewLevel, RulePrecision};
use yibao_store::{ReviewStore, Role, Store};

use crate::{App, AppError, Principal, roles, store};

/// The demo city's monitoring rules, run when the service has no pack of its own.
pub const DEMO_MONITORING_PACK: &str = include_str!("../../../policies/monitoring/demo-city.toml");

/// Who decides flags, records the bureau's findings and decides appeals.
pub const REVIEWERS: &[Role] = &[Role::ClaimsOfficer, Role::CityAdministrator];

/// A monitoring rule pack read from TOML and checked (`monitoring.bad_pack`).
pub fn monitoring_pack(text: &str) -> Result<RulePack, AppError> {
    RulePack::parse(text).map_err(|e| AppError::bad_request(e.code(), e.to_string()))
}

/// A finding as a reviewer or a hospital gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingInput {
    pub institution_code: String,
    pub claim_id: String,
    pub rule: String,
    pub flag_no: Option<u32>,
    pub amount_fen: Fen,
    pub evidence: String,
}

/// What a scan over paid claims read and raised.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScanReport {
    pub first_day: Date,
    pub last_day: Date,
    pub claims_scanned: usize,
    /// What the checks found, raised before or now.
    pub flags_found: usize,
    /// Raised by this scan (a claim a rule flagged before is not flagged again).
    pub flags_raised: usize,
    /// The flags raised, at most 500.
    pub raised: Vec<FlagRecord>,
}

impl App {
    /// The application with `pack` as its monitoring rules.
    #[must_use]
    pub fn with_monitoring_pack(mut self, pack: RulePack) -> App {
        self.monitoring = Some(Arc::new(pack));
        self
    }

    /// The monitoring rules in force, if the service has any.
    #[must_use]
    pub fn monitoring_pack(&self) -> Option<Arc<RulePack>> {
        self.monitoring.clone()
    }

    /// What the monitoring rules flag on a claim about to be settled: none before the
    /// pack's first day of service. Sex and age come from the register's national ID, the
    /// last discharge from the person's settled stays.
    pub(crate) async fn monitor(
        &self,
        claim: &Claim,
        person: &NationalId,
        last_discharge: Option<Date>,
    ) -> Result<Vec<RaisedFlag>, AppError> {
        let Some(pack) = self.monitoring.clone() else { return Ok(Vec::new()) };
        if claim.service_date(self.policy().service_date) < pack.effective_from {
            return Ok(Vec::new());
        }
        // A rule over history counts the person's earlier visits: read only then, and no
        // more of them than the rules can count.
        let earlier_visits = match pack.history() {
            Some(wanted) if claim.kind.is_visit() => {
                let last_day = claim.admission_date;
                let first_day = last_day - time::Duration::days(i64::from(wanted.days.saturating_sub(1)));
                let (region, except) = (self.policy().region, (claim.institution_code.as_str(), claim.claim_id.as_str()));
                store!(self, visit_days(region, person, (first_day, last_day), except, wanted.visits))?
            }
            _ => Vec::new(),
        };
        let label = format!("{} (from {})", pack.name, pack.effective_from);
        Ok(check_claim(&pack, ClaimFacts { claim, person, last_discharge, earlier_visits: &earlier_visits })
            .into_iter()
            .map(|flag| RaisedFlag {
                pack: label.clone(),
                rule: flag.rule,
                hold: flag.action == Action::Hold,
                message: flag.message,
                citation: flag.citation,
            })
            .collect())
    }

    /// The finding a physician's penalty rests on, checked: in `scope`, final
    /// (`physician.finding_not_final`: its appeal refused, or no appeal left to it), on a
    /// claim the physician `code` treated (`physician.finding_not_theirs`), not after the
    /// penalty's day (nor before the day the finding became final). Its record id; that it
    /// gives one penalty only is the store's check.
    pub(crate) async fn finding_for_penalty(
        &self,
        scope: RegionCode,
        code: &str,
        (institution, claim_id, finding_no): &(String, String, u32),
        penalty_day: Date,
    ) -> Result<String, AppError> {
        let query = FindingQuery { institution: Some(institution.clone()), claim_id: Some(claim_id.clone()), appealed_only: false };
        let finding = store!(self, findings(scope, query))?
            .into_iter()
            .find(|f| f.finding_no == *finding_no)
            .ok_or_else(|| AppError::from(yibao_store::review::finding_not_found(institution, claim_id, *finding_no)))?;
        let id = finding.record_id();
        let Some(final_on) = finding.final_on(self.now()) else {
            let why = match finding.status {
                FindingStatus::Standing => format!("it may be appealed until {}", finding.last_appeal_day()),
                status => format!("it is {}", status.as_str()),
            };
            return Err(AppError::unprocessable(
                "physician.finding_not_final",
                format!("finding {id} is not final ({why}): penalty points rest on a confirmed finding"),
            ));
        };
        if penalty_day < final_on {
            return Err(AppError::unprocessable(
                "physician.bad_date",
                format!("a penalty for finding {id} is not dated before the finding was final ({final_on})"),
            ));
        }
        let claim = store!(self, claim(scope, institution, claim_id))?;
        let treated_by: Option<String> = serde_json::from_str::<Claim>(&claim.claim_json)
            .map_err(|e| AppError::internal("store.failure", format!("claim {claim_id}: stored claim unreadable: {e}")))?
            .physician;
        if treated_by.as_deref() != Some(code) {
            return Err(AppError::unprocessable(
                "physician.finding_not_theirs",
                format!(
                    "finding {id} is on a claim {}: it gives {code} no points",
                    treated_by.map_or_else(|| "that names no physician".to_owned(), |other| format!("of {other}"))
                ),
            ));
        }
        Ok(id)
    }

    /// Runs the monitoring pack's checks over paid claims (after payment: a physician's
    /// visits a day, bills against their peers) on the claims of the reviewer's region with
    /// a day of service from `first_day` to `last_day` (at most 31 days, none in the
    /// future), and raises what they find as flags to review (`warn`: what was settled is
    /// paid). A scan run again raises nothing new: a claim is flagged once by a rule.
    pub async fn scan_paid_claims(
        &self,
        principal: &Principal,
        source: &str,
        (first_day, last_day): (Date, Date),
    ) -> Result<ScanReport, AppError> {
        let scope = principal.scope(REVIEWERS)?;
        let pack = self.monitoring.clone().filter(|pack| pack.scans_paid_claims()).ok_or_else(|| {
            AppError::unprocessable("review.no_scan_rules", "the monitoring pack in force has no checks over paid claims")
        })?;
        // Well-formed days that make no scan are unprocessable, not malformed.
        if last_day > self.today() || last_day < first_day || (last_day - first_day).whole_days() >= yibao_store::review::SCAN_DAYS_MAX {
            return Err(AppError::unprocessable(
                "review.bad_period",
                format!(
                    "a scan covers 1 to {} days up to today ({}), first to last: {first_day} to {last_day} is not",
                    yibao_store::review::SCAN_DAYS_MAX,
                    self.today()
                ),
            ));
        }
        let from = first_day.max(pack.effective_from);
        let claims = if from <= last_day { store!(self, paid_claims(scope, (from, last_day)))? } else { Vec::new() };
        let label = format!("{} (from {})", pack.name, pack.effective_from);
        let found: Vec<PaidFlag> = scan_paid(&pack, &claims)
            .into_iter()
            .map(|(i, flag)| PaidFlag {
                institution_code: claims[i].institution_code.clone(),
                claim_id: claims[i].claim_id.clone(),
                flag: RaisedFlag {
                    pack: label.clone(),
                    rule: flag.rule,
                    hold: flag.action == Action::Hold,
                    message: flag.message,
                    citation: flag.citation,
                },
            })
            .collect();
        let found_count = found.len();
        // One transaction raises them: a rule loose enough to flag more would hold the
        // writer for long; it is refused, to be tightened or run over fewer days.
        if found_count > yibao_store::review::SCAN_FLAGS_MAX {
            return Err(AppError::unprocessable(
                "review.scan_too_many_flags",
                format!(
                    "the checks found {found_count} flags in {first_day} to {last_day}, more than {} a scan: scan fewer days or a county, or tighten the rules",
                    yibao_store::review::SCAN_FLAGS_MAX
                ),
            ));
        }
        let actor = principal.actor(source, self.now());
        let mut raised = if found.is_empty() { Vec::new() } else { store!(self, raise_flags(&actor, scope, found))? };
        let raised_count = raised.len();
        raised.truncate(yibao_store::review::FLAGS_LISTED_MAX);
        Ok(ScanReport { first_day, last_day, claims_scanned: claims.len(), flags_found: found_count, flags_raised: raised_count, raised })
    }

    /// The scope a principal reads reviews in: claims staff their region; an institution
    /// its own claims only (the institution filter is set to its code).
    fn review_scope(&self, principal: &Principal, institution: &mut Option<String>) -> Result<RegionCode, AppError> {
        match principal {
            Principal::Institution(record) => {
                if institution.as_deref().is_some_and(|asked| asked != record.code) {
                    return Err(AppError::forbidden("an institution reads only its own claims' reviews"));
                }
                *institution = Some(record.code.to_string());
                Ok(self.policy().region)
            }
            _ => principal.scope(roles::CLAIMS),
        }
    }

    /// Flags raised on claims: for claims staff of their region, or for an institution on
    /// its own claims (it is told what was flagged and why).
    pub async fn flags(&self, principal: &Principal, mut query: FlagQuery) -> Result<Vec<FlagRecord>, AppError> {
        if let Principal::Administrator(contract) = principal {
            // Its counties' flags, on the claims its contract covers.
            let mut flags = Vec::new();
            for county in &contract.terms.counties {
                for flag in store!(self, flags(*county, query.clone()))? {
                    if self.administered_claim(contract, &flag.institution_code, &flag.claim_id).await.is_ok() {
                        flags.push(flag);
                    }
                }
            }
            flags.sort_by_key(|f| std::cmp::Reverse(f.raised_at));
            flags.truncate(yibao_store::review::FLAGS_LISTED_MAX);
            return Ok(flags);
        }
        let scope = self.review_scope(principal, &mut query.institution)?;
        Ok(store!(self, flags(scope, query))?)
    }

    /// A reviewer decides a flag: the claim broke the rule (confirmed) or did not
    /// (dismissed). A hold is released once every hold flag of the claim is decided; a
    /// confirmed flag that disallows money is recorded as a finding
    /// ([`App::record_finding`] with its number), which confirms it.
    pub async fn decide_flag(
        &self,
        principal: &Principal,
        source: &str,
        (institution, claim_id, flag_no): (&str, &str, u32),
        outcome: FlagOutcome,
        note: &str,
    ) -> Result<FlagRecord, AppError> {
        let scope = match principal {
            // The administrator's review (核补审核) of the claims its contract covers.
            Principal::Administrator(contract) => self.administered_claim(contract, institution, claim_id).await?.region,
            _ => principal.scope(REVIEWERS)?,
        };
        let actor = principal.actor(source, self.now());
        Ok(store!(self, decide_flag(&actor, scope, (institution, claim_id, flag_no), outcome, note))?)
    }

    /// Each rule's flags counted by decision, and its precision: what the monitoring
    /// rules' authors read to tune them.
    pub async fn rule_precision(&self, principal: &Principal) -> Result<Vec<RulePrecision>, AppError> {
        let scope = principal.scope(roles::CLAIMS)?;
        Ok(store!(self, rule_precision(scope))?)
    }

    /// Records a finding on a settled claim and deducts its amount from what the fund owes
    /// the hospital, on today's date. A reviewer's is the bureau's review; an institution's
    /// on its own claim is its self-check (自查). From a flag, it confirms the flag.
    pub async fn record_finding(&self, principal: &Principal, source: &str, input: FindingInput) -> Result<FindingRecord, AppError> {
        let (scope, level) = match principal {
            Principal::Institution(record) if record.code == input.institution_code => (self.policy().region, ReviewLevel::SelfCheck),
            Principal::Institution(_) => return Err(AppError::forbidden("an institution checks only its own claims")),
            Principal::Administrator(contract) => {
                (self.administered_claim(contract, &input.institution_code, &input.claim_id).await?.region, ReviewLevel::Administrator)
            }
            _ => (principal.scope(REVIEWERS)?, ReviewLevel::Bureau),
        };
        if level == ReviewLevel::SelfCheck && input.flag_no.is_some() {
            return Err(AppError::forbidden("a flag is decided by a reviewer, not by the institution it flags"));
        }
        let finding = NewFinding {
            institution_code: input.institution_code,
            claim_id: input.claim_id,
            level,
            rule: input.rule,
            flag_no: input.flag_no,
            amount_fen: input.amount_fen,
            evidence: input.evidence,
            value_date: self.today(),
            rounding: self.policy().rounding,
        };
        let actor = principal.actor(source, self.now());
        let record = store!(self, record_finding(&actor, scope, finding))?;
        // A deduction changes what an institution's payment year billed.
        self.forget_payment_year();
        Ok(record)
    }

    /// The institution appeals a finding on its own claim, `(institution, claim, finding)`
    /// (a self-check is its own: not appealed).
    pub async fn appeal_finding(
        &self,
        principal: &Principal,
        source: &str,
        (institution, claim_id, finding_no): (&str, &str, u32),
        appeal: &str,
    ) -> Result<FindingRecord, AppError> {
        let own = principal.institution().ok().filter(|own| *own == institution);
        let institution = own.ok_or_else(|| AppError::forbidden("only the institution whose claim it is appeals a finding"))?;
        let own = store!(
            self,
            findings(
                self.policy().region,
                FindingQuery { institution: Some(institution.to_owned()), claim_id: Some(claim_id.to_owned()), appealed_only: false }
            )
        )?;
        if own.iter().any(|f| f.finding_no == finding_no && f.level == ReviewLevel::SelfCheck) {
            return Err(AppError::unprocessable(
                "review.not_appealable",
                "a self-check is the institution's own finding: it is not appealed",
            ));
        }
        let actor = principal.actor(source, self.now());
        Ok(store!(self, appeal_finding(&actor, institution, claim_id, finding_no, appeal))?)
    }

    /// A reviewer other than the finding's decides its appeal: upheld, the deduction is
    /// reversed on today's date; refused, it stands for good.
    pub async fn decide_appeal(
        &self,
        principal: &Principal,
        source: &str,
        (institution, claim_id, finding_no): (&str, &str, u32),
        upheld: bool,
        note: &str,
    ) -> Result<FindingRecord, AppError> {
        let scope = principal.scope(REVIEWERS)?;
        let actor = principal.actor(source, self.now());
        let decision = AppealDecision { upheld, note: note.to_owned(), value_date: self.today() };
        let record = store!(self, decide_appeal(&actor, scope, institution, claim_id, finding_no, decision))?;
        self.forget_payment_year();
        Ok(record)
    }

    /// Findings: for claims staff of their region, or for an institution on its own claims.
    pub async fn findings(&self, principal: &Principal, mut query: FindingQuery) -> Result<Vec<FindingRecord>, AppError> {
        if let Principal::Administrator(contract) = principal {
            let mut findings = Vec::new();
            for county in &contract.terms.counties {
                for finding in store!(self, findings(*county, query.clone()))? {
                    if self.administered_claim(contract, &finding.institution_code, &finding.claim_id).await.is_ok() {
                        findings.push(finding);
                    }
                }
            }
            findings.sort_by_key(|f| std::cmp::Reverse(f.found_at));
            findings.truncate(yibao_store::review::FINDINGS_LISTED_MAX);
            return Ok(findings);
        }
        let scope = self.review_scope(principal, &mut query.institution)?;
        Ok(store!(self, findings(scope, query))?)
    }

    /// What the pooling run dated `value_date` holds back from hospitals for claims settled
    /// by then that a `hold` flag not yet decided is on: each claim's fund layers (less
    /// what findings deducted) by fund, unit and hospital. Paid by the first run after the
    /// flags are decided.
    pub(crate) async fn held_for_review(&self, scope: RegionCode, value_date: Date) -> Result<Vec<HeldBack>, AppError> {
        let held = store!(self, held_claims(scope.city()))?;
        let mut lines: BTreeMap<(yibao_ledger::FundScheme, RegionCode, String), (Fen, Vec<String>)> = BTreeMap::new();
        for claim in &held {
            for leg in yibao_store::review::held_legs(&claim.claim, &claim.findings, value_date)? {
                let line = lines.entry((leg.fund, leg.unit, claim.claim.institution_code.to_string())).or_default();
                line.0 += leg.amount_fen;
                if !line.1.contains(&claim.claim.claim_id) {
                    line.1.push(claim.claim.claim_id.clone());
                }
            }
        }
        lines
            .into_iter()
            .map(|((fund, unit, institution), (amount_fen, claims))| {
                let payee = Holder::institution(&institution).map_err(|e| AppError::bad_request("ledger.bad_input", e.to_string()))?;
                let note = format!(
                    "[{fund}] {unit} 暂缓支付 {institution} {amount_fen} 元：智能监控待审核的结算 {0} / {unit} holds back {amount_fen} yuan from {institution}: claims held by monitoring for review, {0}",
                    claims.join(", ")
                );
                Ok(HeldBack { fund, unit, payee, amount_fen, note, up_to_outstanding: false })
            })
            .collect()
    }
}
