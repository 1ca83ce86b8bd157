//! Claims (R-BEN-4): pre-settlement, settlement, reversal, referrals, and what an
//! institution may see.
//!
//! The trust boundary: an institution's level, kind (hospital `H…` or pharmacy `P…`) and
//! place (in or out of the city) come from the register; a claim that states different ones
//! is refused with its own code, never silently corrected. A referral, and the deductible
//! paid at the referring stay, come from the referrals on file and the referring claim's
//! settlement. A claim's dates are not after today. The same claim id with a different body
//! or person is a conflict. An institution reads a person's entitlement, and their
//! year-to-date counters (the national interface's 5206), only on presenting the person's
//! card, and never their balances.

use serde_json::Value;
use yibao_domain::{ClaimKind, Fen, InstitutionCode, NationalId, Place, RegionCode};
use yibao_engine::{Claim, Explain, Settlement, settle};
use yibao_policy::ServiceDateRule;
use yibao_store::{AccessStore as _, ClaimRecord, ClaimStatus, NewReferral, ReferralRecord, SettleRequest, Store as _, engine_settlement};

use crate::{App, AppError, Principal, roles, store};

pub use yibao_store::SettleOutcome;

/// A settlement as an institution may see it: the settlement without the person's
/// personal-account balance and year-to-date counters.
pub type InstitutionSettlement = Value;

/// A settled claim as the principal may see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    pub replayed: bool,
    pub record: ClaimRecord,
    /// The settlement, trimmed for an institution ([`institution_view`]).
    pub settlement: Value,
}

/// The fields of a settlement an institution never receives: the person's balance, tier and
/// year-to-date counters are the bureau's, not the hospital's, and the step-by-step
/// explanation quotes the counters (the deductible already paid this year, the burden so
/// far). The bureau's staff and the person's slip keep them.
const PRIVATE_FIELDS: [&str; 4] = ["acct_balance_after", "accumulators", "tier", "explanation"];

pub(crate) fn institution_view(mut settlement: Value) -> Value {
    let setldetail = serde_json::to_value(fund_payments_of(&settlement)).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut settlement {
        for field in PRIVATE_FIELDS {
            fields.remove(field);
        }
        // Which funds pay, with their national codes (issue 13: the settlement's per-fund
        // breakdown, as the national interface's `setldetail`).
        fields.insert("setldetail".to_owned(), setldetail);
    }
    settlement
}

/// The funds that pay a stored settlement, with their national codes: the engine's one
/// table ([`yibao_engine::fund_payments`]) over the settlement's recorded amounts.
#[must_use]
pub fn fund_payments_of(settlement: &Value) -> Vec<yibao_engine::FundPayment> {
    let text = |field: &str| settlement.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (insutype, med_type) = (text("insutype"), text("med_type"));
    yibao_engine::fund_payments(&insutype, &med_type, |field| {
        settlement.get(field).and_then(Value::as_str).and_then(|yuan| Fen::parse_yuan(yuan).ok()).unwrap_or(Fen::ZERO)
    })
}

pub(crate) fn stored_settlement(record: &ClaimRecord) -> Result<Value, AppError> {
    serde_json::from_str(&record.settlement_json).map_err(|e| {
        AppError::internal(
            "store.failure",
            format!("claim {}/{}: stored settlement unreadable: {e}", record.institution_code, record.claim_id),
        )
    })
}

/// The deductible the person paid at the referring institution (`act_pay_dedc`): from
/// the person's latest live inpatient stay there, discharged on or before the referral was
/// issued, counted in `year`. Zero when the referral followed no such stay (an outpatient
/// visit). `stays` are the person's live stays as [`live_stays`] parsed them.
fn referred_deductible(
    referral: &ReferralRecord,
    stays: &[(&ClaimRecord, Claim)],
    year: i32,
    rule: ServiceDateRule,
) -> Result<Fen, AppError> {
    let referring = stays.iter().filter(|(record, claim)| {
        record.institution_code == referral.from_institution
            && claim.kind.is_inpatient()
            && claim.discharge_date <= referral.issued_on
            && claim.service_date(rule).year() == year
    });
    let Some((record, _)) = referring.max_by_key(|(_, claim)| claim.discharge_date) else {
        return Ok(Fen::ZERO);
    };
    stored_settlement(record)?
        .get("act_pay_dedc")
        .and_then(Value::as_str)
        .and_then(|text| Fen::parse_yuan(text).ok())
        .ok_or_else(|| AppError::internal("store.failure", format!("claim {}: no readable act_pay_dedc", record.claim_id)))
}

/// The person's live stays (inpatient or maternity claims not reversed), with the claim
/// each was settled from.
pub(crate) fn live_stays(claims: &[ClaimRecord]) -> Result<Vec<(&ClaimRecord, Claim)>, AppError> {
    let mut stays = Vec::new();
    for record in claims.iter().filter(|c| c.status == ClaimStatus::Settled) {
        let claim: Claim = serde_json::from_str(&record.claim_json)
            .map_err(|e| AppError::internal("store.failure", format!("claim {}: stored claim unreadable: {e}", record.claim_id)))?;
        if claim.kind.is_stay() {
            stays.push((record, claim));
        }
    }
    Ok(stays)
}

impl App {
    /// The year whose accumulators a claim counts against (the pack's service-date rule).
    #[must_use]
    pub fn claim_year(&self, claim: &Claim) -> i32 {
        claim.service_date(self.policy().service_date).year()
    }

    /// Checks a claim against the register, the clock, the insurance physicians and the
    /// person's contributions ([`App::check_claim_sender`], [`App::check_physician`],
    /// [`App::check_standing_on`]). A retry of a claim the store holds already for the same
    /// person with the same content passes a suspension (the institution's, the physician's
    /// or the person's benefits'), or an agreement's physician rule, recorded after it was
    /// settled: the store answers it with
    /// the first settlement. Anything else under the id is checked as new.
    async fn check_claim(&self, principal: &Principal, claim: &Claim, person_id: &NationalId) -> Result<(), AppError> {
        let checked = match self.check_claim_sender(principal, claim) {
            Ok(()) => match self.check_physician(principal, claim).await {
                Ok(()) => self.check_standing_on(person_id, claim.service_date(self.policy().service_date)).await,
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match checked {
            Err(error)
                if matches!(
                    error.code.as_ref(),
                    "settle.institution_suspended"
                        | "settle.institution_terminated"
                        | "settle.physician_suspended"
                        | "settle.physician_terminated"
                        | "settle.physician_required"
                        | "claim.benefits_suspended"
                ) =>
            {
                let submitted = serde_json::to_string(claim).map_err(|e| AppError::bad_request("request.malformed", e.to_string()))?;
                match store!(self, claim(self.policy().region, &claim.institution_code, &claim.claim_id)) {
                    Ok(stored) if stored.person_id == *person_id && stored.claim_json == submitted => Ok(()),
                    _ => Err(error),
                }
            }
            other => other,
        }
    }

    /// The claim's physician against the register (R-INS-2): registered under the claim's
    /// institution from a day on or before the date of service, not suspended nor ended on
    /// it; a claim naming none is refused where the institution's agreement for the year
    /// requires one.
    async fn check_physician(&self, principal: &Principal, claim: &Claim) -> Result<(), AppError> {
        let Principal::Institution(register) = principal else { return Ok(()) };
        let date = claim.service_date(self.policy().service_date);
        let Some(code) = &claim.physician else {
            if register.agreement.year(date.year()).is_some_and(|terms| terms.physicians_required) {
                return Err(AppError::unprocessable(
                    "settle.physician_required",
                    format!("{}'s agreement for {} requires every claim to name its insurance physician", register.code, date.year()),
                ));
            }
            return Ok(());
        };
        let unknown = || {
            AppError::unprocessable(
                "settle.physician_unknown",
                format!("{code} is not an insurance physician registered under {} on {date}", register.code),
            )
        };
        let physician = store!(self, physician(code))?.filter(|p| p.institution == register.code).ok_or_else(unknown)?;
        if date < physician.registered_on {
            return Err(unknown());
        }
        if let Some(suspension) = physician.book.suspended_on(date) {
            let why = |what: &str| {
                format!(
                    "{code}'s right to bill is {what} from {} ({}): the date of service {date} falls in it",
                    suspension.from, suspension.reason
                )
            };
            return Err(if suspension.terminated {
                AppError::new(crate::ErrorKind::Forbidden, "settle.physician_terminated", why("ended"))
            } else {
                AppError::new(crate::ErrorKind::Forbidden, "settle.physician_suspended", why("suspended"))
            });
        }
        Ok(())
    }

    /// Checks what a claim says of its sender against the register and the clock.
    fn check_claim_sender(&self, principal: &Principal, claim: &Claim) -> Result<(), AppError> {
        let Principal::Institution(register) = principal else {
            return Err(AppError::forbidden("only a designated institution settles claims, with its API key"));
        };
        let (code, region) = (&register.code, &register.region);
        // The level in force on the date of service: a later upgrade does not raise an
        // earlier stay's reimbursement, nor does a claim choose its own.
        let level = &register.level_on(claim.service_date(self.policy().service_date));
        if claim.institution_code != *code {
            return Err(AppError::forbidden(format!("an institution settles only its own claims: this key belongs to {code}")));
        }
        // The agreement in force on the date of service (R-INS-1): a suspension or a
        // termination refuses the stays and visits of its days, whatever the key can still read.
        let service_date = claim.service_date(self.policy().service_date);
        if let Some(suspension) = register.agreement.suspended_on(service_date) {
            let why = |what: &str| {
                format!(
                    "{code}'s agreement is {what} from {} ({}): the date of service {service_date} falls in it",
                    suspension.from, suspension.reason
                )
            };
            return Err(if suspension.terminated {
                AppError::new(crate::ErrorKind::Forbidden, "settle.institution_terminated", why("terminated"))
            } else {
                AppError::new(crate::ErrorKind::Forbidden, "settle.institution_suspended", why("suspended"))
            });
        }
        claim.check().map_err(|e| AppError::bad_request(e.code(), e.to_string()))?;
        let today = self.today();
        for (what, date) in [("admission", claim.admission_date), ("discharge", claim.discharge_date)] {
            if date > today {
                return Err(AppError::bad_request("claim.in_future", format!("the {what} date {date} is after today ({today})")));
            }
        }
        if claim.institution_level != *level {
            return Err(AppError::unprocessable(
                "claim.level_mismatch",
                format!(
                    "the claim says {}, but {code} is registered as {} on {}",
                    claim.institution_level.as_str(),
                    level.as_str(),
                    claim.service_date(self.policy().service_date)
                ),
            ));
        }
        let place = Place::of(self.policy().region, *region);
        if claim.place != place {
            return Err(AppError::unprocessable(
                "claim.place_mismatch",
                format!("the claim says {}, but {code} is registered {} (region {region})", claim.place.as_str(), place.as_str()),
            ));
        }
        check_kind_at(code, claim.kind)
    }

    /// The claim as the engine settles it, checked against the person's stored claims: a
    /// stay (inpatient or maternity) overlapping a live stay already settled for the person
    /// is refused (`claim.overlapping_stay`: the same days are not paid twice, whatever the
    /// claim id or hospital); the referral, and the deductible already paid before it, come
    /// from the records. A claim that says it was referred with no referral on file, or
    /// states another deductible than the referring stay's, is refused. A referral covers
    /// one admission at the receiving institution.
    async fn with_records(&self, claim: Claim, person_id: &NationalId) -> Result<Claim, AppError> {
        self.with_history(claim, person_id).await.map(|(claim, _)| claim)
    }

    /// [`App::with_records`], and the discharge day of the person's last live stay before
    /// this claim's admission (for a stay; what monitoring's readmission rule reads).
    async fn with_history(&self, claim: Claim, person_id: &NationalId) -> Result<(Claim, Option<time::Date>), AppError> {
        let is_stay = claim.kind.is_stay();
        // A referral changes only an inpatient stay's settlement (the deductible carried
        // over, the ratio without the unreferred reduction): for any other claim that does
        // not state one, the records are not read.
        if !is_stay && !claim.referral && claim.referred_deductible_paid.is_zero() {
            return Ok((claim, None));
        }
        let city = self.policy().region;
        let claims = store!(self, claims_of_person(city, person_id))?;
        let stays = live_stays(&claims)?;
        let last_discharge = if is_stay {
            stays
                .iter()
                .filter(|(record, stay)| {
                    !(record.institution_code == claim.institution_code && record.claim_id == claim.claim_id)
                        && stay.discharge_date <= claim.admission_date
                })
                .map(|(_, stay)| stay.discharge_date)
                .max()
        } else {
            None
        };
        if is_stay {
            let retry = |record: &ClaimRecord| record.institution_code == claim.institution_code && record.claim_id == claim.claim_id;
            if let Some((record, _)) = stays.iter().find(|(record, stay)| {
                !retry(record)
                    && yibao_store::stays_overlap((stay.admission_date, stay.discharge_date), (claim.admission_date, claim.discharge_date))
            }) {
                return Err(AppError::conflict(
                    "claim.overlapping_stay",
                    format!(
                        "the stay {} to {} overlaps claim {}/{} already settled for this person",
                        claim.admission_date, claim.discharge_date, record.institution_code, record.claim_id
                    ),
                ));
            }
        }
        let referrals = if claim.kind.is_inpatient() || claim.referral { store!(self, referrals_of(city, person_id))? } else { Vec::new() };
        // A referral already used by another admission at the receiving institution no
        // longer covers this one.
        let used = |r: &ReferralRecord| {
            stays.iter().any(|(record, stay)| {
                record.institution_code == r.to_institution
                    && record.claim_id != claim.claim_id
                    && stay.kind.is_inpatient()
                    && r.issued_on <= stay.admission_date
                    && stay.admission_date <= r.valid_until
            })
        };
        let referral = referrals.iter().find(|r| {
            r.cancelled_at.is_none()
                && r.to_institution == claim.institution_code
                && r.issued_on <= claim.admission_date
                && claim.admission_date <= r.valid_until
                && !used(r)
        });
        let Some(referral) = referral.filter(|_| claim.kind.is_inpatient()) else {
            if claim.referral || !claim.referred_deductible_paid.is_zero() {
                return Err(AppError::unprocessable(
                    "claim.referral_not_on_file",
                    if claim.kind.is_inpatient() {
                        format!(
                            "no unused referral of this person to {} covers an inpatient admission on {}: file the referral first",
                            claim.institution_code, claim.admission_date
                        )
                    } else {
                        format!(
                            "a {} claim (med_type {}) takes no referral: send it without one",
                            claim.kind.as_str(),
                            claim.kind.med_type()
                        )
                    },
                ));
            }
            return Ok((claim, last_discharge));
        };
        let paid = referred_deductible(referral, &stays, self.claim_year(&claim), self.policy().service_date)?;
        if !claim.referred_deductible_paid.is_zero() && claim.referred_deductible_paid != paid {
            return Err(AppError::unprocessable(
                "claim.referred_deductible_mismatch",
                format!(
                    "the claim says {} yuan of deductible was paid before the referral; the records say {paid} (at {})",
                    claim.referred_deductible_paid, referral.from_institution
                ),
            ));
        }
        Ok((Claim { referral: true, referred_deductible_paid: paid, ..claim }, last_discharge))
    }

    /// The person whose national ID and card number the institution presents: an unknown
    /// ID and a wrong or missing card get one and the same answer (`person.not_verified`), so
    /// an institution learns nothing of a person it is not treating.
    pub(crate) async fn presented(&self, person_id: &NationalId, card_no: &str) -> Result<yibao_store::PersonRecord, AppError> {
        let not_verified = || AppError::not_found("person.not_verified", "no insured person with this national ID and card number");
        let person = match store!(self, person(self.policy().region, person_id)) {
            Ok(person) => person,
            Err(yibao_store::StoreError::PersonNotFound(_)) => return Err(not_verified()),
            Err(e) => return Err(e.into()),
        };
        if card_no.is_empty() || person.card_no.as_deref() != Some(card_no) {
            return Err(not_verified());
        }
        Ok(person)
    }

    /// Pre-settlement (预结算): the same computation, nothing written. The institution
    /// presents the person's national ID and card number; an unknown ID and a wrong card
    /// get one and the same answer, so the service is no insured-or-not oracle.
    pub async fn pre_settle(&self, principal: &Principal, person_id: &NationalId, card_no: &str, claim: Claim) -> Result<Value, AppError> {
        // The card first, as at settlement: every later check reads the person's records,
        // and an institution without the card learns nothing of them.
        let person = self.presented(person_id, card_no).await?;
        self.check_claim(principal, &claim, person_id).await?;
        let claim = self.with_records(claim, person_id).await?;
        let acc = store!(self, accumulators(self.policy().region, person_id, self.claim_year(&claim)))?;
        let settlement: Settlement = settle(&self.policy(), &claim, &person.coverage, &acc, Explain::On)
            .map_err(|e| AppError::unprocessable(e.code(), e.to_string()))?;
        let value = serde_json::to_value(&settlement).map_err(|e| AppError::internal("settle.failure", e.to_string()))?;
        Ok(institution_view(value))
    }

    /// Settles a claim at discharge: every layer in one transaction, idempotent on the
    /// institution's claim id (a retry of the same claim for the same person returns the
    /// first settlement; anything else under that id is `claim.idempotency_conflict`).
    /// The institution presents the person's card number with the claim, as at
    /// pre-settlement: a settlement is no insured-or-not oracle either.
    pub async fn settle(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        card_no: &str,
        claim: Claim,
    ) -> Result<Settled, AppError> {
        self.presented(person_id, card_no).await?;
        self.settle_presented(principal, source, person_id, claim).await
    }

    /// Settles a claim of a person whose card was presented already (with the claim, or at
    /// the visit's registration: the national interface).
    pub(crate) async fn settle_presented(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        claim: Claim,
    ) -> Result<Settled, AppError> {
        self.check_claim(principal, &claim, person_id).await?;
        // A stay is checked against the person's stays and referrals and written while no
        // other stay of the person, or cancellation of their referral, is in between.
        let _person = if claim.kind.is_stay() { Some(self.lock_person(person_id).await?) } else { None };
        // The request as submitted is the idempotency key's content.
        let claim_json = serde_json::to_string(&claim).map_err(|e| AppError::bad_request("request.malformed", e.to_string()))?;
        let request = SettleRequest {
            institution_code: InstitutionCode::parse(&claim.institution_code)?,
            claim_id: claim.claim_id.clone(),
            person_id: *person_id,
            year: self.claim_year(&claim),
            service_date: claim.service_date(self.policy().service_date),
            claim_json,
            flags: Vec::new(),
        };
        let mut request = request;
        let (claim, last_discharge) = self.with_history(claim, person_id).await?;
        // Intelligent monitoring (issue 18, R-INS-2): its flags are stored with the claim.
        request.flags = self.monitor(&claim, person_id, last_discharge).await?;
        let compute = engine_settlement(self.policy(), claim, Explain::On);
        let outcome = store!(self, settle(&principal.actor(source, self.now()), self.policy().region, request, compute))?;
        let settlement = institution_view(stored_settlement(&outcome.claim)?);
        Ok(Settled { replayed: outcome.replayed, record: outcome.claim, settlement })
    }

    /// A claim checked as a settlement would check it, with the referral and deductible
    /// from the records: for a pre-settlement of a visit.
    pub(crate) async fn check_visit_claim(&self, principal: &Principal, claim: Claim, person_id: &NationalId) -> Result<Claim, AppError> {
        self.check_claim(principal, &claim, person_id).await?;
        self.with_records(claim, person_id).await
    }

    /// One settled claim: for its institution (trimmed), or for claims staff of its region.
    pub async fn claim(&self, principal: &Principal, institution: &str, claim_id: &str) -> Result<Settled, AppError> {
        let (scope, trimmed) = self.claim_access(principal, institution, roles::CLAIMS, "queries")?;
        let record = store!(self, claim(scope, institution, claim_id))?;
        self.as_seen(record, trimmed)
    }

    /// Reverses (冲正) a settlement: by its institution, or by claims staff of its region.
    pub async fn reverse(
        &self,
        principal: &Principal,
        source: &str,
        institution: &str,
        claim_id: &str,
        reason: &str,
    ) -> Result<Settled, AppError> {
        let (scope, trimmed) = self.claim_access(principal, institution, roles::REVERSERS, "reverses")?;
        let record = store!(self, reverse(&principal.actor(source, self.now()), scope, institution, claim_id, reason))?;
        // A reversal changes a payment year, perhaps one already cleared: the next reading
        // of the year is computed afresh (a settlement waits for the cache to age).
        self.forget_payment_year();
        self.as_seen(record, trimmed)
    }

    fn claim_access(
        &self,
        principal: &Principal,
        institution: &str,
        staff: &[yibao_store::Role],
        verb: &str,
    ) -> Result<(RegionCode, bool), AppError> {
        match principal {
            Principal::Institution(register) if register.code == institution => Ok((self.policy().region, true)),
            Principal::Institution(_) => Err(AppError::forbidden(format!("an institution {verb} only its own claims"))),
            _ => Ok((principal.scope(staff)?, false)),
        }
    }

    fn as_seen(&self, record: ClaimRecord, trimmed: bool) -> Result<Settled, AppError> {
        let settlement = stored_settlement(&record)?;
        let settlement = if trimmed { institution_view(settlement) } else { settlement };
        Ok(Settled { replayed: false, record, settlement })
    }

    /// Files a referral (转诊): by claims or enrolment staff of the person's region, or by
    /// the referring institution itself. Issued not after today; both institutions are
    /// designated and active.
    pub async fn file_referral(&self, principal: &Principal, source: &str, referral: NewReferral) -> Result<ReferralRecord, AppError> {
        let scope = match principal {
            Principal::Institution(register) if register.code == referral.from_institution => {
                if register.code.is_pharmacy() {
                    return Err(AppError::forbidden("a referral is issued by a hospital, not a pharmacy"));
                }
                // An institution refers only a person it has treated: a settled claim of the
                // person's at the institution. An unknown ID gets the same answer, so filing
                // a referral tells nobody who is insured.
                let no_visit = || AppError::not_found("referral.no_visit", "no visit of this person at this institution is on record");
                let claims = match store!(self, claims_of_person(self.policy().region, &referral.person_id)) {
                    Ok(claims) => claims,
                    Err(yibao_store::StoreError::PersonNotFound(_)) => return Err(no_visit()),
                    Err(e) => return Err(e.into()),
                };
                if !claims.iter().any(|c| c.institution_code == register.code && c.status == ClaimStatus::Settled) {
                    return Err(no_visit());
                }
                self.policy().region
            }
            Principal::Institution(_) => return Err(AppError::forbidden("an institution files only the referrals it issues")),
            _ => principal.scope(roles::REFERRALS)?,
        };
        self.not_after_today("referral.bad_date", "a referral issued on", referral.issued_on)?;
        if (self.today() - referral.issued_on).whole_days() > 366 {
            return Err(AppError::bad_request("referral.bad_date", "a referral is filed within a year of its issue"));
        }
        let registered = store!(self, institutions(self.policy().region))?;
        for code in [&referral.from_institution, &referral.to_institution] {
            if !registered.iter().any(|i| i.code == *code && i.active) {
                return Err(AppError::bad_request(
                    "referral.unknown_institution",
                    format!("{code} is not an active designated institution"),
                ));
            }
        }
        Ok(store!(self, file_referral(&principal.actor(source, self.now()), scope, referral))?)
    }

    /// Cancels a referral (转诊撤销, 2502): by the referring institution, or by claims or
    /// enrolment staff of the person's region; only while no admission has used it.
    pub async fn cancel_referral(
        &self,
        principal: &Principal,
        source: &str,
        person_id: &NationalId,
        seq: i64,
        reason: &str,
    ) -> Result<ReferralRecord, AppError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control) {
            return Err(AppError::bad_request("referral.bad_reason", "a cancellation gives its reason: 1 to 200 printable characters"));
        }
        let city = self.policy().region;
        // No stay of the person is settled while its referral is being cancelled.
        let _person = self.lock_person(person_id).await?;
        let not_found = || AppError::not_found("referral.not_found", format!("the person has no referral {seq}"));
        let (scope, referrals) = match principal {
            Principal::Institution(register) => {
                // An unknown person gets the answer of an unknown referral.
                let referrals = match store!(self, referrals_of(city, person_id)) {
                    Ok(referrals) => referrals,
                    Err(yibao_store::StoreError::PersonNotFound(_)) => return Err(not_found()),
                    Err(e) => return Err(e.into()),
                };
                if !referrals.iter().any(|r| r.seq == seq && r.from_institution == register.code) {
                    return Err(not_found());
                }
                (city, referrals)
            }
            _ => {
                let scope = principal.scope(roles::REFERRALS)?;
                (scope, store!(self, referrals_of(scope, person_id))?)
            }
        };
        let referral = referrals.iter().find(|r| r.seq == seq).ok_or_else(not_found)?;
        let claims = store!(self, claims_of_person(scope, person_id))?;
        let stays = live_stays(&claims)?;
        if let Some((record, _)) = stays.iter().find(|(record, stay)| {
            record.institution_code == referral.to_institution
                && stay.kind.is_inpatient()
                && referral.issued_on <= stay.admission_date
                && stay.admission_date <= referral.valid_until
        }) {
            return Err(AppError::conflict(
                "referral.used",
                format!(
                    "referral {seq} was used by the admission of claim {}/{}: cancel that settlement first",
                    record.institution_code, record.claim_id
                ),
            ));
        }
        Ok(store!(self, cancel_referral(&principal.actor(source, self.now()), scope, person_id, seq, reason))?)
    }

    /// A person's referrals on file, newest first (staff of the person's region).
    pub async fn referrals(&self, principal: &Principal, person_id: &NationalId) -> Result<Vec<ReferralRecord>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, referrals_of(scope, person_id))?)
    }
}

/// Which kinds an institution settles: a designated pharmacy outpatient claims, the two
/// diseases' medicines, special drugs (双通道) and purchases only; a purchase (med_type 41)
/// is a pharmacy's only.
pub(crate) fn check_kind_at(code: &yibao_domain::InstitutionCode, kind: ClaimKind) -> Result<(), AppError> {
    let outpatient = matches!(
        kind,
        ClaimKind::GeneralOutpatient
            | ClaimKind::ChronicOutpatient
            | ClaimKind::PharmacyPurchase
            | ClaimKind::TwoDisease
            | ClaimKind::SpecialDrug
    );
    if code.is_pharmacy() && !outpatient {
        return Err(AppError::unprocessable(
            "claim.kind_not_for_pharmacy",
            format!(
                "{code} is a designated pharmacy: it settles outpatient claims, the two diseases' medicines, special drugs and purchases only"
            ),
        ));
    }
    if !code.is_pharmacy() && kind == ClaimKind::PharmacyPurchase {
        return Err(AppError::unprocessable(
            "claim.purchase_not_at_pharmacy",
            format!("{code} is not a designated pharmacy: a purchase (med_type 41) is a pharmacy's"),
        ));
    }
    Ok(())
}
