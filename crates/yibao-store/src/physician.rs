//! Insurance physicians (医保医师, R-INS-2): the doctors registered under a designated
//! institution whose claims the fund pays, and the penalty points (记分) that suspend or end
//! their right to bill. Points add up within a calendar year and start again the next
//! (驾照式记分); a penalty that brings the year to the payment pack's suspension threshold
//! suspends the physician for the months the officer gives, one that brings it to the
//! termination threshold ends the right to bill. A claim naming a physician is refused on a
//! day the physician may not bill (`settle.physician_suspended`).

use serde::{Deserialize, Serialize};
use time::Date;
use yibao_domain::{InstitutionCode, PersonName, PhysicianCode, RegionCode};

use crate::StoreError;
use crate::agreement::{Suspension, suspension_on};

/// Most penalties one physician's record keeps, and most physicians one institution lists.
pub const PENALTIES_MAX: usize = 500;
pub const PHYSICIANS_PER_INSTITUTION_MAX: i64 = 10_000;
/// Most points one penalty gives (the national scale's full score).
pub const PENALTY_POINTS_MAX: u8 = 12;
/// Longest suspension one penalty gives, in months.
pub const SUSPENSION_MONTHS_MAX: u8 = 12;

/// A physician to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPhysician {
    pub code: PhysicianCode,
    pub institution: InstitutionCode,
    pub name: PersonName,
    pub registered_on: Date,
}

/// A registered physician, as the register keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhysicianRecord {
    pub code: PhysicianCode,
    pub institution: InstitutionCode,
    /// The institution's region (the scope staff read it in).
    pub region: RegionCode,
    pub name: PersonName,
    pub registered_on: Date,
    pub book: PhysicianBook,
}

/// A physician's penalties and the suspensions they brought.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicianBook {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub penalties: Vec<Penalty>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspensions: Vec<Suspension>,
}

/// A penalty: points for a finding (违规记分).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub seq: u32,
    pub date: Date,
    pub points: u8,
    pub reason: String,
    /// The confirmed finding of a claim review the points rest on
    /// (`{institution}/{claim}/{finding}`), when they come from one (issue 18); an
    /// inspection's penalty names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// The thresholds of the year's points (the payment pack's `[year.physicians]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PenaltyRules {
    /// The year's points at which the physician is suspended.
    pub suspend_at: u8,
    /// The year's points at which the right to bill ends.
    pub terminate_at: u8,
}

/// A change to a physician's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum PhysicianChange {
    /// Points for a finding; `suspension_months` is given when, and only when, the penalty
    /// brings the year's points to the suspension threshold (below the termination one).
    Penalize {
        date: Date,
        points: u8,
        reason: String,
        suspension_months: Option<u8>,
        /// The confirmed finding the points rest on: one penalty a finding.
        #[serde(skip_serializing_if = "Option::is_none")]
        finding: Option<String>,
    },
}

impl PhysicianRecord {
    /// A record read back from its stored columns (text, the book as JSON).
    pub fn from_columns(
        code: &str,
        institution: &str,
        region: &str,
        name: &str,
        registered_on: &str,
        book: &str,
    ) -> Result<PhysicianRecord, StoreError> {
        Ok(PhysicianRecord {
            code: PhysicianCode::parse(code).map_err(|e| StoreError::Backend(format!("stored: {e}")))?,
            institution: crate::stored::institution_of(institution)?,
            region: crate::stored::region_of(region)?,
            name: crate::stored::name_of(name)?,
            registered_on: crate::books::date_of(registered_on)?,
            book: PhysicianBook::parse(book)?,
        })
    }

    /// A new record from what is registered, under the institution's region.
    #[must_use]
    pub fn new(physician: NewPhysician, region: RegionCode) -> PhysicianRecord {
        PhysicianRecord {
            code: physician.code,
            institution: physician.institution,
            region,
            name: physician.name,
            registered_on: physician.registered_on,
            book: PhysicianBook::default(),
        }
    }
}

impl PhysicianBook {
    /// The suspension or termination in force on `date`.
    #[must_use]
    pub fn suspended_on(&self, date: Date) -> Option<&Suspension> {
        suspension_on(&self.suspensions, date)
    }

    /// The points of penalties dated in `year`.
    #[must_use]
    pub fn points_in(&self, year: i32) -> u32 {
        self.penalties.iter().filter(|p| p.date.year() == year).map(|p| u32::from(p.points)).sum()
    }

    pub fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Backend(e.to_string()))
    }

    pub fn parse(text: &str) -> Result<PhysicianBook, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored physician record unreadable: {e}")))
    }

    /// Applies `change` under `rules` to the record of a physician registered from
    /// `registered_on`; returns its audit detail. Penalties are recorded in the order of
    /// their days, none before the registration: the year's points on a day, and the
    /// suspension they bring, are then those of the penalties up to that day.
    pub fn apply(&mut self, change: &PhysicianChange, rules: PenaltyRules, registered_on: Date) -> Result<serde_json::Value, StoreError> {
        let refused = |message: String| StoreError::Refused { code: "physician.refused", message };
        let PhysicianChange::Penalize { date, points, reason, suspension_months, finding } = change;
        if let Some(finding) = finding
            && let Some(earlier) = self.penalties.iter().find(|p| p.finding.as_ref() == Some(finding))
        {
            return Err(StoreError::Refused {
                code: "physician.finding_penalized",
                message: format!("finding {finding} gave penalty {} already: one penalty a finding", earlier.seq),
            });
        }
        if *points == 0 || *points > PENALTY_POINTS_MAX {
            return Err(refused(format!("a penalty gives 1 to {PENALTY_POINTS_MAX} points")));
        }
        if reason.trim().is_empty() || reason.chars().count() > crate::agreement::FINDING_CHARS_MAX || reason.chars().any(char::is_control)
        {
            return Err(refused("a penalty's reason has 1 to 1,000 characters, no control characters".into()));
        }
        if *date < registered_on {
            return Err(refused(format!("a penalty is not dated before the physician's registration ({registered_on})")));
        }
        if let Some(last) = self.penalties.last().filter(|last| *date < last.date) {
            return Err(refused(format!("penalties are recorded in the order of their days: the last is dated {}", last.date)));
        }
        if self.penalties.len() >= PENALTIES_MAX {
            return Err(refused(format!("a physician's record keeps at most {PENALTIES_MAX} penalties")));
        }
        if self.suspensions.last().is_some_and(|s| s.terminated && s.from <= *date) {
            return Err(refused("the physician's right to bill has ended".into()));
        }
        let before = self.points_in(date.year());
        let after = before + u32::from(*points);
        let (suspend_at, terminate_at) = (u32::from(rules.suspend_at), u32::from(rules.terminate_at));
        let reaches_suspension = before < suspend_at && after >= suspend_at && after < terminate_at;
        match (reaches_suspension, suspension_months) {
            (true, None) => {
                return Err(refused(format!(
                    "this penalty brings {} to {after} points: give the months of suspension (1 to {SUSPENSION_MONTHS_MAX})",
                    date.year()
                )));
            }
            (true, Some(m)) if *m == 0 || *m > SUSPENSION_MONTHS_MAX => {
                return Err(refused(format!("a suspension is 1 to {SUSPENSION_MONTHS_MAX} months")));
            }
            (false, Some(_)) => {
                return Err(refused(format!("this penalty brings {} to {after} points: it suspends no one", date.year())));
            }
            _ => {}
        }
        let seq = u32::try_from(self.penalties.len() + 1).expect("bounded");
        self.penalties.push(Penalty { seq, date: *date, points: *points, reason: reason.clone(), finding: finding.clone() });
        let why = format!("{after} points in {}", date.year());
        if after >= terminate_at {
            if let Some(open) = self.suspensions.last_mut().filter(|s| s.until.is_none_or(|until| until > *date)) {
                open.until = Some(*date);
            }
            self.suspensions.push(Suspension { from: *date, until: None, reason: why, terminated: true });
        } else if let (true, Some(months)) = (reaches_suspension, suspension_months) {
            let until = yibao_domain::add_months(*date, u32::from(*months));
            self.suspensions.push(Suspension { from: *date, until: Some(until), reason: why, terminated: false });
        }
        let mut detail = serde_json::to_value(change).map_err(|e| StoreError::Backend(e.to_string()))?;
        detail["year_points"] = serde_json::json!(after);
        Ok(detail)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::date;

    use super::*;

    const RULES: PenaltyRules = PenaltyRules { suspend_at: 9, terminate_at: 12 };

    impl PhysicianBook {
        fn apply_test(&mut self, change: &PhysicianChange, rules: PenaltyRules) -> Result<serde_json::Value, StoreError> {
            self.apply(change, rules, date!(2025 - 01 - 01))
        }
    }

    #[test]
    fn penalties_come_in_the_order_of_their_days_after_the_registration() {
        let mut book = PhysicianBook::default();
        assert!(book.apply(&penalize(date!(2024 - 12 - 31), 1, None), RULES, date!(2025 - 01 - 01)).is_err());
        book.apply(&penalize(date!(2026 - 05 - 01), 8, None), RULES, date!(2025 - 01 - 01)).unwrap();
        // A penalty dated before the last one would suspend a past it did not have.
        assert!(book.apply(&penalize(date!(2026 - 01 - 10), 1, Some(1)), RULES, date!(2025 - 01 - 01)).is_err());
        assert!(book.apply(&penalize(date!(2026 - 01 - 10), 1, None), RULES, date!(2025 - 01 - 01)).is_err());
    }

    fn penalize(date: Date, points: u8, months: Option<u8>) -> PhysicianChange {
        PhysicianChange::Penalize { date, points, reason: "超量开药".into(), suspension_months: months, finding: None }
    }

    /// A finding of a claim review gives one penalty: a second citing it is refused, even
    /// on a later day; another finding gives its own.
    #[test]
    fn a_finding_gives_one_penalty() {
        let mut book = PhysicianBook::default();
        let of = |date: Date, finding: &str| PhysicianChange::Penalize {
            date,
            points: 2,
            reason: "超量开药".into(),
            suspension_months: None,
            finding: Some(finding.into()),
        };
        book.apply_test(&of(date!(2026 - 02 - 01), "H41992100007/Z-1/1"), RULES).unwrap();
        let again = book.apply_test(&of(date!(2026 - 03 - 01), "H41992100007/Z-1/1"), RULES).unwrap_err();
        assert!(matches!(again, StoreError::Refused { code: "physician.finding_penalized", .. }), "{again:?}");
        book.apply_test(&of(date!(2026 - 03 - 01), "H41992100007/Z-1/2"), RULES).unwrap();
        assert_eq!((book.points_in(2026), book.penalties[1].finding.as_deref()), (4, Some("H41992100007/Z-1/2")));
    }

    #[test]
    fn points_suspend_then_end_the_right_to_bill() {
        let mut book = PhysicianBook::default();
        book.apply_test(&penalize(date!(2026 - 02 - 01), 6, None), RULES).unwrap();
        assert!(book.suspended_on(date!(2026 - 02 - 02)).is_none());
        // 6 + 3 = 9: the suspension needs its months.
        assert!(book.apply_test(&penalize(date!(2026 - 03 - 01), 3, None), RULES).is_err());
        assert!(book.apply_test(&penalize(date!(2026 - 03 - 01), 3, Some(13)), RULES).is_err());
        book.apply_test(&penalize(date!(2026 - 03 - 01), 3, Some(2)), RULES).unwrap();
        assert!(book.suspended_on(date!(2026 - 04 - 30)).is_some());
        assert!(book.suspended_on(date!(2026 - 05 - 01)).is_none(), "two months, to 1 May");
        // 10: no new suspension, and months given for none are refused.
        assert!(book.apply_test(&penalize(date!(2026 - 06 - 01), 1, Some(1)), RULES).is_err());
        book.apply_test(&penalize(date!(2026 - 06 - 01), 1, None), RULES).unwrap();
        // 12: the right to bill ends.
        book.apply_test(&penalize(date!(2026 - 07 - 01), 2, None), RULES).unwrap();
        assert!(book.suspended_on(date!(2030 - 01 - 01)).is_some_and(|s| s.terminated));
        assert!(book.apply_test(&penalize(date!(2026 - 08 - 01), 1, None), RULES).is_err());
        assert_eq!(book.points_in(2026), 12);
    }

    #[test]
    fn points_start_again_each_year() {
        let mut book = PhysicianBook::default();
        book.apply_test(&penalize(date!(2025 - 11 - 01), 8, None), RULES).unwrap();
        book.apply_test(&penalize(date!(2026 - 01 - 10), 8, None), RULES).unwrap();
        assert!(book.suspensions.is_empty());
        assert_eq!((book.points_in(2025), book.points_in(2026)), (8, 8));
        // One penalty straight to 12 ends it without a suspension first.
        let mut other = PhysicianBook::default();
        other.apply_test(&penalize(date!(2026 - 01 - 10), 12, None), RULES).unwrap();
        assert_eq!(other.suspensions.len(), 1);
        assert!(other.suspensions[0].terminated);
    }
}
