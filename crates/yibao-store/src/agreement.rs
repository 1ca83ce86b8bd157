//! A designated institution's agreement with the bureau (定点服务协议, R-INS-1), what led
//! to it (its applications for designation, each evaluated by experts and negotiated) and
//! what followed it: the terms signed for each payment year (the payment methods, capitation's
//! enrolled persons, a global budget, the year's assessment score), suspensions and
//! terminations from a day, and inspections with their findings and deductions. Kept in
//! the institution's register (`InstitutionRecord::agreement`), changed only through
//! [`crate::InstitutionUpdate`] (audited), read by settlement (a claim whose date of service
//! falls in a suspension is refused) and by the payment year (`yibao-payment`).

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::Fen;

use crate::StoreError;

/// Most agreement years, suspensions and inspections one register keeps.
pub const AGREEMENT_YEARS_MAX: usize = 100;
pub const SUSPENSIONS_MAX: usize = 100;
pub const INSPECTIONS_MAX: usize = 2_000;
pub const APPLICATIONS_MAX: usize = 100;
/// Longest text of a finding or a reason.
pub const FINDING_CHARS_MAX: usize = 1_000;
/// The largest deduction one inspection records: 100 million yuan.
pub const DEDUCTION_MAX: Fen = Fen::new(10_000_000_000);
/// Most persons one institution may have enrolled for capitation.
pub const CAPITATION_ENROLLED_MAX: u32 = 10_000_000;

/// The register's agreement book of one institution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementBook {
    /// One entry per payment year, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub years: Vec<AgreementYear>,
    /// In order of their first day; at most one open (without an end) and it is the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspensions: Vec<Suspension>,
    /// In the order recorded; `seq` counts from 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inspections: Vec<Inspection>,
    /// Applications for designation (申请定点), in order; at most the last is in progress.
    /// A register without any was designated before these records (or migrated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
}

/// An application for designation and what came of it: the experts' evaluation (专家评估),
/// then, if it passed, the negotiation of the agreement (协商谈判).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub seq: u32,
    pub applied_on: Date,
    /// The services applied for (inpatient, outpatient, a pharmacy's dispensing…).
    pub services: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiation: Option<Negotiation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub date: Date,
    /// The experts' score in basis points (0–10,000).
    pub score_bp: u32,
    pub passed: bool,
    pub findings: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiation {
    pub date: Date,
    pub agreed: bool,
    pub outcome: String,
}

impl Application {
    /// Nothing more can come of it: refused by the experts, or negotiated (agreed or not).
    #[must_use]
    pub fn concluded(&self) -> bool {
        self.evaluation.as_ref().is_some_and(|e| !e.passed) || self.negotiation.is_some()
    }

    /// It passed the evaluation and the agreement was agreed: terms may be signed.
    #[must_use]
    pub fn agreed(&self) -> bool {
        self.evaluation.as_ref().is_some_and(|e| e.passed) && self.negotiation.as_ref().is_some_and(|n| n.agreed)
    }

    /// The day of its last step.
    fn last_day(&self) -> Date {
        self.negotiation.as_ref().map(|n| n.date).or(self.evaluation.as_ref().map(|e| e.date)).unwrap_or(self.applied_on)
    }
}

/// The terms of a payment year (协议年度).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementYear {
    pub year: i32,
    /// Inpatient cases paid by DIP points (按病种分值付费).
    pub points: bool,
    /// Stays the payment pack's per-diem rates cover paid per day (床日付费).
    pub per_diem: bool,
    /// Persons signed with the institution for capitation (人头付费), if it is paid so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capitation_enrolled: Option<u32>,
    /// A global budget (总额控制) for its other cases, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "yuan_opt")]
    pub global_budget: Option<Fen>,
    /// Every claim of the year names its insurance physician (医保医师).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub physicians_required: bool,
    /// The year's assessment score in basis points (0–10,000), once assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_bp: Option<u32>,
    pub signed_on: Date,
}

/// A suspension (暂停) or termination (解除) of the agreement from a day: claims with a date
/// of service on or after `from` (and before `until`, when the suspension has ended) are
/// refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub from: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    pub reason: String,
    /// The agreement ended for good: no reinstatement.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminated: bool,
}

/// An inspection (检查) against the agreement, with its findings and the amount deducted
/// from what the fund owes the institution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub seq: u32,
    pub date: Date,
    pub findings: String,
    #[serde(with = "yibao_domain::serde_yuan")]
    pub deduction: Fen,
}

/// A change to the agreement book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AgreementChange {
    /// Signs (or re-signs, before it is assessed) a year's terms.
    Sign(AgreementYear),
    /// Records the year's assessment score.
    Assess { year: i32, score_bp: u32 },
    /// Suspends or terminates from a day.
    Suspend(Suspension),
    /// Ends the open suspension on a day (claims from that day on are settled again).
    Reinstate { on: Date },
    Inspect {
        date: Date,
        findings: String,
        #[serde(with = "yibao_domain::serde_yuan")]
        deduction: Fen,
    },
    /// An application for designation.
    Apply { date: Date, services: String },
    /// The experts' evaluation of the application in progress.
    Evaluate { date: Date, score_bp: u32, passed: bool, findings: String },
    /// The negotiation of the agreement, after a passed evaluation.
    Negotiate { date: Date, agreed: bool, outcome: String },
}

/// The suspension of `suspensions` in force on `date`: begun on or before it, not ended
/// (its `until` is the first day it no longer holds).
#[must_use]
pub fn suspension_on(suspensions: &[Suspension], date: Date) -> Option<&Suspension> {
    suspensions.iter().find(|s| s.from <= date && s.until.is_none_or(|until| date < until))
}

/// An optional amount as yuan text (`"1500.00"`), like every amount the API shows.
mod yuan_opt {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use yibao_domain::Fen;

    #[derive(Serialize, Deserialize)]
    struct Yuan(#[serde(with = "yibao_domain::serde_yuan")] Fen);

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(fen: &Option<Fen>, serializer: S) -> Result<S::Ok, S::Error> {
        fen.map(Yuan).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Fen>, D::Error> {
        Ok(Option::<Yuan>::deserialize(deserializer)?.map(|y| y.0))
    }
}

/// A change the agreement book refuses (`agreement.refused`): the message says which rule.
fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Refused { code: "agreement.refused", message: message.into() }
}

fn check_text(what: &str, text: &str) -> Result<(), StoreError> {
    if text.trim().is_empty() || text.chars().count() > FINDING_CHARS_MAX || text.chars().any(char::is_control) {
        return Err(invalid(format!("{what} has 1 to {FINDING_CHARS_MAX} characters, no control characters")));
    }
    Ok(())
}

impl AgreementBook {
    /// Nothing signed, suspended or inspected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.years.is_empty() && self.suspensions.is_empty() && self.inspections.is_empty() && self.applications.is_empty()
    }

    /// The terms of `year`.
    #[must_use]
    pub fn year(&self, year: i32) -> Option<&AgreementYear> {
        self.years.iter().find(|y| y.year == year)
    }

    /// The suspension or termination in force on `date`.
    #[must_use]
    pub fn suspended_on(&self, date: Date) -> Option<&Suspension> {
        suspension_on(&self.suspensions, date)
    }

    /// Refuses a change to designation or terms after the agreement was terminated for good.
    fn not_terminated(&self) -> Result<(), StoreError> {
        match self.suspensions.last().filter(|s| s.terminated) {
            Some(ended) => Err(invalid(format!("the agreement was terminated from {}: nothing more is designated or signed", ended.from))),
            None => Ok(()),
        }
    }

    /// What inspections dated in `year` deducted.
    #[must_use]
    pub fn deductions_in(&self, year: i32) -> Fen {
        self.inspections.iter().filter(|i| i.date.year() == year).fold(Fen::ZERO, |sum, i| sum + i.deduction)
    }

    /// The book as stored (JSON text).
    pub fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Reads a stored book.
    pub fn parse(text: &str) -> Result<AgreementBook, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored agreement unreadable: {e}")))
    }

    /// Applies `change`; returns its audit detail.
    pub fn apply(&mut self, change: &AgreementChange) -> Result<serde_json::Value, StoreError> {
        match change {
            AgreementChange::Sign(terms) => {
                if !(1990..=2100).contains(&terms.year) {
                    return Err(invalid("an agreement year is between 1990 and 2100"));
                }
                if terms.capitation_enrolled.is_some_and(|n| n == 0 || n > CAPITATION_ENROLLED_MAX) {
                    return Err(invalid(format!("capitation enrols 1 to {CAPITATION_ENROLLED_MAX} persons")));
                }
                if terms.global_budget.is_some_and(|b| b <= Fen::ZERO) {
                    return Err(invalid("a global budget is above zero"));
                }
                if terms.assessment_bp.is_some() {
                    return Err(invalid("a year is assessed after it is signed, not with it"));
                }
                self.not_terminated()?;
                // Designated through these records: the first terms follow an agreed
                // negotiation. An institution under terms already renews them whatever an
                // application for more services comes to (hostile review).
                if let Some(last) = self.applications.last().filter(|a| self.years.is_empty() && !a.agreed()) {
                    return Err(invalid(format!(
                        "the application of {} is not evaluated, passed and agreed: terms are signed after an agreed negotiation",
                        last.applied_on
                    )));
                }
                if let Some(existing) = self.years.iter_mut().find(|y| y.year == terms.year) {
                    if existing.assessment_bp.is_some() {
                        return Err(invalid(format!("the {} agreement is assessed already and can no longer change", terms.year)));
                    }
                    *existing = *terms;
                } else {
                    if self.years.len() >= AGREEMENT_YEARS_MAX {
                        return Err(invalid(format!("a register keeps at most {AGREEMENT_YEARS_MAX} agreement years")));
                    }
                    self.years.push(*terms);
                    self.years.sort_by_key(|y| y.year);
                }
            }
            AgreementChange::Assess { year, score_bp } => {
                if *score_bp > 10_000 {
                    return Err(invalid("an assessment score is 0% to 100%"));
                }
                let terms =
                    self.years.iter_mut().find(|y| y.year == *year).ok_or_else(|| invalid(format!("no agreement is signed for {year}")))?;
                terms.assessment_bp = Some(*score_bp);
            }
            AgreementChange::Suspend(suspension) => {
                check_text("a reason", &suspension.reason)?;
                if suspension.until.is_some() {
                    return Err(invalid("a suspension is open when made; it ends by a reinstatement"));
                }
                if let Some(last) = self.suspensions.last() {
                    if last.terminated {
                        return Err(invalid(format!("the agreement was terminated from {}", last.from)));
                    }
                    if last.until.is_none() && !suspension.terminated {
                        return Err(invalid(format!("the agreement is suspended already from {}", last.from)));
                    }
                    if last.until.is_none() {
                        // A termination during a suspension ends the suspension on its day.
                        if suspension.from < last.from {
                            return Err(invalid(format!("a termination is not before the suspension in force (from {})", last.from)));
                        }
                    } else if last.until.is_some_and(|until| suspension.from < until) {
                        return Err(invalid(format!("a suspension begins after the last one ended ({})", last.until.unwrap_or(last.from))));
                    }
                }
                if self.suspensions.len() >= SUSPENSIONS_MAX {
                    return Err(invalid(format!("a register keeps at most {SUSPENSIONS_MAX} suspensions")));
                }
                if let Some(open) = self.suspensions.last_mut().filter(|s| s.until.is_none()) {
                    open.until = Some(suspension.from);
                }
                self.suspensions.push(suspension.clone());
            }
            AgreementChange::Reinstate { on } => {
                let open =
                    self.suspensions.last_mut().filter(|s| s.until.is_none()).ok_or_else(|| invalid("the agreement is not suspended"))?;
                if open.terminated {
                    return Err(invalid(format!("the agreement was terminated from {}: it is not reinstated", open.from)));
                }
                if *on <= open.from {
                    return Err(invalid(format!("a reinstatement is after the suspension's first day ({})", open.from)));
                }
                open.until = Some(*on);
            }
            AgreementChange::Inspect { date, findings, deduction } => {
                check_text("findings", findings)?;
                if deduction.is_negative() || *deduction > DEDUCTION_MAX {
                    return Err(invalid(format!("a deduction is 0 to {DEDUCTION_MAX} yuan")));
                }
                if self.inspections.len() >= INSPECTIONS_MAX {
                    return Err(invalid(format!("a register keeps at most {INSPECTIONS_MAX} inspections")));
                }
                let seq = u32::try_from(self.inspections.len() + 1).expect("bounded");
                self.inspections.push(Inspection { seq, date: *date, findings: findings.clone(), deduction: *deduction });
            }
            AgreementChange::Apply { date, services } => {
                self.not_terminated()?;
                check_text("the services applied for", services)?;
                if let Some(last) = self.applications.last() {
                    if !last.concluded() {
                        return Err(invalid(format!("the application of {} is still in progress", last.applied_on)));
                    }
                    if *date < last.last_day() {
                        return Err(invalid(format!("an application follows the last one's conclusion ({})", last.last_day())));
                    }
                }
                if self.applications.len() >= APPLICATIONS_MAX {
                    return Err(invalid(format!("a register keeps at most {APPLICATIONS_MAX} applications")));
                }
                let seq = u32::try_from(self.applications.len() + 1).expect("bounded");
                self.applications.push(Application {
                    seq,
                    applied_on: *date,
                    services: services.clone(),
                    evaluation: None,
                    negotiation: None,
                });
            }
            AgreementChange::Evaluate { date, score_bp, passed, findings } => {
                self.not_terminated()?;
                check_text("findings", findings)?;
                if *score_bp > 10_000 {
                    return Err(invalid("an evaluation score is 0% to 100%"));
                }
                let open = self
                    .applications
                    .last_mut()
                    .filter(|a| a.evaluation.is_none())
                    .ok_or_else(|| invalid("no application awaits an evaluation"))?;
                if *date < open.applied_on {
                    return Err(invalid(format!("an evaluation is not before the application ({})", open.applied_on)));
                }
                open.evaluation = Some(Evaluation { date: *date, score_bp: *score_bp, passed: *passed, findings: findings.clone() });
            }
            AgreementChange::Negotiate { date, agreed, outcome } => {
                self.not_terminated()?;
                check_text("the outcome", outcome)?;
                let open = self
                    .applications
                    .last_mut()
                    .filter(|a| a.evaluation.as_ref().is_some_and(|e| e.passed) && a.negotiation.is_none())
                    .ok_or_else(|| invalid("no application has passed its evaluation and awaits negotiation"))?;
                let evaluated = open.evaluation.as_ref().map_or(open.applied_on, |e| e.date);
                if *date < evaluated {
                    return Err(invalid(format!("a negotiation is not before the evaluation ({evaluated})")));
                }
                open.negotiation = Some(Negotiation { date: *date, agreed: *agreed, outcome: outcome.clone() });
            }
        }
        serde_json::to_value(change).map_err(|e| StoreError::Backend(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::date;

    use super::*;

    fn suspend(from: Date, terminated: bool) -> AgreementChange {
        AgreementChange::Suspend(Suspension { from, until: None, reason: "超范围收费".into(), terminated })
    }

    #[test]
    fn suspensions_follow_one_another() {
        let mut book = AgreementBook::default();
        book.apply(&suspend(date!(2025 - 03 - 01), false)).unwrap();
        assert!(book.apply(&suspend(date!(2025 - 04 - 01), false)).is_err(), "suspended already");
        assert!(book.apply(&AgreementChange::Reinstate { on: date!(2025 - 03 - 01) }).is_err(), "not after the first day");
        book.apply(&AgreementChange::Reinstate { on: date!(2025 - 05 - 01) }).unwrap();
        assert!(book.suspended_on(date!(2025 - 02 - 28)).is_none());
        assert!(book.suspended_on(date!(2025 - 03 - 01)).is_some());
        assert!(book.suspended_on(date!(2025 - 04 - 30)).is_some());
        assert!(book.suspended_on(date!(2025 - 05 - 01)).is_none());
        assert!(book.apply(&suspend(date!(2025 - 04 - 15), false)).is_err(), "overlaps the last");
        book.apply(&suspend(date!(2025 - 09 - 01), false)).unwrap();
        // A termination during a suspension ends it and holds for good.
        book.apply(&suspend(date!(2025 - 10 - 01), true)).unwrap();
        assert!(book.suspended_on(date!(2030 - 01 - 01)).is_some_and(|s| s.terminated));
        assert!(book.apply(&AgreementChange::Reinstate { on: date!(2025 - 12 - 01) }).is_err());
        assert!(book.apply(&suspend(date!(2026 - 01 - 01), false)).is_err());
    }

    /// R-INS-1: application, expert evaluation, negotiation, agreement, in that order; a
    /// failed evaluation ends the application, and terms are signed only after an agreed
    /// negotiation (a register designated before these records signs as before).
    #[test]
    fn an_institution_applies_is_evaluated_negotiates_and_then_signs() {
        let terms = AgreementYear {
            year: 2026,
            points: true,
            per_diem: false,
            capitation_enrolled: None,
            global_budget: None,
            physicians_required: false,
            assessment_bp: None,
            signed_on: date!(2025 - 12 - 20),
        };
        let apply = |date| AgreementChange::Apply { date, services: "住院、门诊 (inpatient, outpatient)".into() };
        let evaluate = |date, passed| AgreementChange::Evaluate { date, score_bp: 8_200, passed, findings: "专家评估".into() };
        let negotiate = |date, agreed| AgreementChange::Negotiate { date, agreed, outcome: "协商一致".into() };
        let mut book = AgreementBook::default();
        assert!(book.apply(&evaluate(date!(2025 - 06 - 01), true)).is_err(), "nothing applied for");
        book.apply(&apply(date!(2025 - 05 - 01))).unwrap();
        assert!(book.apply(&apply(date!(2025 - 05 - 02))).is_err(), "one in progress");
        assert!(book.apply(&negotiate(date!(2025 - 06 - 01), true)).is_err(), "not evaluated");
        assert!(book.apply(&AgreementChange::Sign(terms)).is_err(), "not agreed");
        book.apply(&evaluate(date!(2025 - 06 - 01), false)).unwrap();
        assert!(book.applications[0].concluded() && !book.applications[0].agreed());
        assert!(book.apply(&negotiate(date!(2025 - 06 - 02), true)).is_err(), "failed its evaluation");
        assert!(book.apply(&apply(date!(2025 - 05 - 20))).is_err(), "before the last one's conclusion");
        book.apply(&apply(date!(2025 - 09 - 01))).unwrap();
        assert!(book.apply(&evaluate(date!(2025 - 08 - 01), true)).is_err(), "before the application");
        book.apply(&evaluate(date!(2025 - 10 - 01), true)).unwrap();
        book.apply(&negotiate(date!(2025 - 11 - 01), true)).unwrap();
        book.apply(&AgreementChange::Sign(terms)).unwrap();
        assert_eq!((book.applications.len(), book.applications[1].seq), (2, 2));
        // Under terms already: an application for more services that fails does not stop
        // the terms being amended or renewed.
        book.apply(&apply(date!(2025 - 12 - 01))).unwrap();
        book.apply(&AgreementChange::Sign(AgreementYear { per_diem: true, ..terms })).unwrap();
        book.apply(&evaluate(date!(2025 - 12 - 05), false)).unwrap();
        book.apply(&AgreementChange::Sign(AgreementYear { year: 2027, ..terms })).unwrap();
        // Designated before these records: no application, terms signed as before.
        let mut old = AgreementBook::default();
        old.apply(&AgreementChange::Sign(terms)).unwrap();
        // After a termination, nothing more is designated or signed.
        old.apply(&suspend(date!(2026 - 03 - 01), true)).unwrap();
        assert!(old.apply(&apply(date!(2026 - 04 - 01))).is_err());
        assert!(old.apply(&AgreementChange::Sign(AgreementYear { year: 2027, ..terms })).is_err());
    }

    #[test]
    fn a_year_is_signed_then_assessed_then_fixed() {
        let mut book = AgreementBook::default();
        let terms = AgreementYear {
            year: 2025,
            points: true,
            per_diem: false,
            capitation_enrolled: None,
            global_budget: None,
            physicians_required: false,
            assessment_bp: None,
            signed_on: date!(2024 - 12 - 20),
        };
        book.apply(&AgreementChange::Sign(terms)).unwrap();
        book.apply(&AgreementChange::Sign(AgreementYear { per_diem: true, ..terms })).unwrap();
        assert_eq!(book.years.len(), 1);
        assert!(book.year(2025).unwrap().per_diem);
        assert!(book.apply(&AgreementChange::Assess { year: 2026, score_bp: 9_000 }).is_err());
        book.apply(&AgreementChange::Assess { year: 2025, score_bp: 9_000 }).unwrap();
        assert!(book.apply(&AgreementChange::Sign(terms)).is_err(), "assessed years are fixed");
        book.apply(&AgreementChange::Inspect { date: date!(2025 - 06 - 01), findings: "分解住院".into(), deduction: Fen::yuan(1_000) })
            .unwrap();
        book.apply(&AgreementChange::Inspect { date: date!(2026 - 01 - 05), findings: "重复收费".into(), deduction: Fen::yuan(50) })
            .unwrap();
        assert_eq!(book.deductions_in(2025), Fen::yuan(1_000));
        assert_eq!(book.inspections[1].seq, 2);
        // The empty book is stored as `{}`: registers written before agreements read back equal.
        assert_eq!(AgreementBook::default().to_json().unwrap(), "{}");
        assert_eq!(AgreementBook::parse(&book.to_json().unwrap()).unwrap(), book);
    }
}
