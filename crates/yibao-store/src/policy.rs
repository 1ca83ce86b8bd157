//! Policy pack versions as records (issue 19, R-BEN-7): each pack text the bureau puts in
//! force is stored, numbered 1, 2, 3… in the order it was proposed, with who proposed it
//! against which version in force, and who approved or rejected it. The version in force is
//! the highest approved one. A pack goes in force only through a second person's approval
//! (`policy-two-people`), and only on top of the version it was proposed against, so the
//! difference the approver read is the difference that takes effect.
//!
//! The store keeps and checks the records; what a pack says, and whether it loads, is the
//! application's (the policy crate's loader).

use std::future::Future;

use serde::Serialize;
use yibao_domain::RegionCode;

use crate::{Actor, StoreError};

/// The largest pack text kept (the demo city's pack is about 30 KB).
pub const POLICY_TEXT_BYTES_MAX: usize = 1024 * 1024;
/// The longest note a proposer or decider writes, in characters.
pub const POLICY_NOTE_CHARS_MAX: usize = 500;
/// Versions one listing returns, newest first.
pub const POLICY_VERSIONS_LIMIT: u32 = 200;

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    /// Waiting for a second person's decision.
    Proposed,
    /// Approved: in force if it is the highest approved version.
    Approved,
    /// Rejected (or withdrawn by its proposer): never in force.
    Rejected,
}

impl PolicyStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Proposed => "proposed",
            PolicyStatus::Approved => "approved",
            PolicyStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Result<PolicyStatus, StoreError> {
        [PolicyStatus::Proposed, PolicyStatus::Approved, PolicyStatus::Rejected]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| StoreError::Backend(format!("unknown policy version status {text:?}")))
    }
}

/// A decision on a proposed version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyDecision {
    Approve,
    Reject,
}

/// A pack text to record, already loaded and checked by the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPolicyVersion {
    /// The pack's own `id`.
    pub pack_id: String,
    /// SHA-256 of `text`, lower-case hex.
    pub sha256: String,
    pub text: String,
    pub note: String,
    /// The version in force when it was proposed (none before the first).
    pub based_on: Option<u32>,
}

impl NewPolicyVersion {
    /// The limits every store applies before writing.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.text.len() > POLICY_TEXT_BYTES_MAX {
            return Err(StoreError::Invalid(format!("a policy pack is at most {POLICY_TEXT_BYTES_MAX} bytes")));
        }
        check_note(&self.note)
    }
}

/// Refuses a note longer than [`POLICY_NOTE_CHARS_MAX`], or with a control character (a
/// terminal's escape, a NUL that PostgreSQL's text refuses): a note is one line of text.
pub fn check_note(note: &str) -> Result<(), StoreError> {
    if note.chars().count() > POLICY_NOTE_CHARS_MAX {
        return Err(StoreError::Invalid(format!("a note is at most {POLICY_NOTE_CHARS_MAX} characters")));
    }
    if note.chars().any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')) {
        return Err(StoreError::Invalid("a note is one line of text, without control or direction characters".into()));
    }
    Ok(())
}

/// One stored version, without its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub version: u32,
    pub pack_id: String,
    pub sha256: String,
    pub note: String,
    pub based_on: Option<u32>,
    pub status: PolicyStatus,
    pub proposed_by: String,
    /// RFC 3339, as the proposer's request was timed.
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
}

impl PolicyVersion {
    /// A version just proposed (or installed, when `installed`: approved by its installer).
    #[must_use]
    pub fn new(version: u32, actor: &Actor, new: &NewPolicyVersion, installed: bool) -> PolicyVersion {
        PolicyVersion {
            version,
            pack_id: new.pack_id.clone(),
            sha256: new.sha256.clone(),
            note: new.note.clone(),
            based_on: new.based_on,
            status: if installed { PolicyStatus::Approved } else { PolicyStatus::Proposed },
            proposed_by: actor.who.clone(),
            proposed_at: actor.at_text(),
            decided_by: installed.then(|| actor.who.clone()),
            decided_at: installed.then(|| actor.at_text()),
            decision_note: installed.then(|| new.note.clone()),
        }
    }

    /// Decides this version as `actor`, given the version in force now: the rules every store
    /// applies inside the deciding transaction (`policy-two-people`).
    pub fn decide(&mut self, actor: &Actor, in_force: Option<u32>, decision: PolicyDecision, note: &str) -> Result<(), StoreError> {
        check_note(note)?;
        if self.status != PolicyStatus::Proposed {
            return Err(StoreError::Refused {
                code: "policy.decided",
                message: format!("version {} is already {}", self.version, self.status.as_str()),
            });
        }
        if decision == PolicyDecision::Approve {
            if self.proposed_by == actor.who {
                return Err(StoreError::Refused {
                    code: "policy.same_person",
                    message: format!("version {} was proposed by {}: another person approves it", self.version, self.proposed_by),
                });
            }
            if self.based_on != in_force {
                let said = |v: Option<u32>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
                return Err(StoreError::Refused {
                    code: "policy.stale",
                    message: format!(
                        "version {} was proposed against version {} in force, and version {} is in force now: propose it again",
                        self.version,
                        said(self.based_on),
                        said(in_force)
                    ),
                });
            }
        }
        self.status = match decision {
            PolicyDecision::Approve => PolicyStatus::Approved,
            PolicyDecision::Reject => PolicyStatus::Rejected,
        };
        self.decided_by = Some(actor.who.clone());
        self.decided_at = Some(actor.at_text());
        self.decision_note = Some(note.to_owned());
        Ok(())
    }

    /// The audit log's action for the version's current status.
    #[must_use]
    pub fn audit_action(&self) -> &'static str {
        match self.status {
            PolicyStatus::Proposed => "policy.propose",
            PolicyStatus::Approved => "policy.approve",
            PolicyStatus::Rejected => "policy.reject",
        }
    }
}

/// Where pack versions are kept. The city is the audit chain their entries go to.
pub trait PolicyStore: Send + Sync + 'static {
    /// Records a proposal as the next version.
    fn propose_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        new: NewPolicyVersion,
    ) -> impl Future<Output = Result<PolicyVersion, StoreError>> + Send;
    /// Records the first version, approved at once by the operator who installs it: only
    /// on a store with no version yet (`StoreError::Exists` otherwise).
    fn install_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        new: NewPolicyVersion,
    ) -> impl Future<Output = Result<PolicyVersion, StoreError>> + Send;
    /// Approves or rejects a proposed version ([`PolicyVersion::decide`]).
    fn decide_policy(
        &self,
        actor: &Actor,
        city: RegionCode,
        version: u32,
        decision: PolicyDecision,
        note: &str,
    ) -> impl Future<Output = Result<PolicyVersion, StoreError>> + Send;
    /// The latest [`POLICY_VERSIONS_LIMIT`] versions, newest first.
    fn policy_versions(&self) -> impl Future<Output = Result<Vec<PolicyVersion>, StoreError>> + Send;
    /// One version with its text.
    fn policy_version(&self, version: u32) -> impl Future<Output = Result<Option<(PolicyVersion, String)>, StoreError>> + Send;
    /// The version in force (the highest approved) with its text.
    fn policy_in_force(&self) -> impl Future<Output = Result<Option<(PolicyVersion, String)>, StoreError>> + Send;
    /// Just the number of the version in force: what a running server polls.
    fn policy_in_force_number(&self) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(who: &str) -> Actor {
        Actor { who: who.to_owned(), role: "policy_officer".to_owned(), source: "test".to_owned(), at: time::OffsetDateTime::UNIX_EPOCH }
    }

    fn proposed(based_on: Option<u32>) -> PolicyVersion {
        let new = NewPolicyVersion { pack_id: "p".into(), sha256: "0".repeat(64), text: String::new(), note: "n".into(), based_on };
        PolicyVersion::new(2, &actor("li"), &new, false)
    }

    fn refusal(result: Result<(), StoreError>) -> &'static str {
        match result {
            Err(StoreError::Refused { code, .. }) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_second_person_approves_on_the_version_proposed_against() {
        let mut v = proposed(Some(1));
        assert_eq!(refusal(v.decide(&actor("li"), Some(1), PolicyDecision::Approve, "")), "policy.same_person");
        assert_eq!(refusal(v.decide(&actor("wang"), Some(3), PolicyDecision::Approve, "")), "policy.stale");
        assert_eq!(v.status, PolicyStatus::Proposed, "a refused decision changes nothing");
        v.decide(&actor("wang"), Some(1), PolicyDecision::Approve, "ok").expect("approved");
        assert_eq!((v.status, v.decided_by.as_deref(), v.audit_action()), (PolicyStatus::Approved, Some("wang"), "policy.approve"));
        assert_eq!(refusal(v.decide(&actor("zhao"), Some(2), PolicyDecision::Reject, "")), "policy.decided");
    }

    #[test]
    fn the_proposer_may_withdraw_but_not_approve() {
        let mut v = proposed(None);
        v.decide(&actor("li"), Some(7), PolicyDecision::Reject, "withdrawn").expect("a proposer withdraws, whatever is in force");
        assert_eq!(v.status, PolicyStatus::Rejected);
    }

    #[test]
    fn notes_and_texts_are_bounded() {
        assert!(check_note(&"字".repeat(POLICY_NOTE_CHARS_MAX)).is_ok());
        assert!(matches!(check_note(&"字".repeat(POLICY_NOTE_CHARS_MAX + 1)), Err(StoreError::Invalid(_))));
        for hostile in ["a\0b", "\u{1b}[2J", "line\nbreak", "\u{202e}txt"] {
            assert!(matches!(check_note(hostile), Err(StoreError::Invalid(_))), "{hostile:?}");
        }
        let big = NewPolicyVersion {
            pack_id: "p".into(),
            sha256: String::new(),
            text: "x".repeat(POLICY_TEXT_BYTES_MAX + 1),
            note: String::new(),
            based_on: None,
        };
        assert!(matches!(big.check(), Err(StoreError::Invalid(_))));
    }
}
