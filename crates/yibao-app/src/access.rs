//! Who may sign in, and who administers whom: staff sessions (argon2 passwords, opaque
//! tokens kept as SHA-256 digests), institution API keys, and the city administrator's
//! staff and institution registers. Every edge (API, console) signs in through here.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use yibao_domain::{InstitutionCode, InstitutionLevel, RegionCode};
use yibao_store::{
    AccessStore as _, Actor, InstitutionRecord, InstitutionUpdate, NewInstitution, NewStaff, Role, SIGN_IN_TEXT_CHARS_MAX, SignInOutcome,
    SignInReason, SignInRefusal, StaffRecord, StaffUpdate, check_scope,
};

use crate::{App, AppError, ErrorKind, Principal, roles, store};

/// How long a staff session lasts after sign-in.
pub const SESSION_HOURS: i64 = 8;
/// Shortest and longest password accepted.
pub const PASSWORD_CHARS_MIN: usize = 10;
pub const PASSWORD_CHARS_MAX: usize = 128;

/// Lower-case hex SHA-256: of session tokens and API keys, pack texts, catalogue files.
#[must_use]
pub fn digest(data: impl AsRef<[u8]>) -> String {
    yibao_store::hex_lower(&Sha256::digest(data.as_ref()))
}

/// An argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("auth.failure", e.to_string()))
}

#[must_use]
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A fresh opaque secret (a session token or an API key): 32 random bytes, hex.
pub fn new_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal("auth.failure", e.to_string()))?;
    Ok(yibao_store::hex_lower(&bytes))
}

/// An argon2id hash (of a password nobody is given) that sign-in checks a password against
/// when the username is no live account, so that an unknown or inactive account costs the
/// same work as a known one and the answer's timing does not tell which. Made with
/// [`hash_password`]'s parameters (a test keeps them in step).
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$4BKukUbxw6TeDhW1QTXGmg$N17wNuhZBltsbILXrLFMavOKuhadeK1KSDga+Juy/0w";

/// What a stranger typed, as kept for throttling and the audit trail: printable characters,
/// at most [`SIGN_IN_TEXT_CHARS_MAX`].
fn bounded(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(SIGN_IN_TEXT_CHARS_MAX).collect()
}

fn unauthorized(message: &str) -> AppError {
    AppError::new(ErrorKind::Unauthorized, "auth.required", message)
}

fn check_password(password: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if (PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars) {
        Ok(())
    } else {
        Err(AppError::bad_request("staff.weak_password", format!("a password has {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters")))
    }
}

/// Hashes off the async threads: argon2 is deliberately slow.
async fn hash_off_thread(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| AppError::internal("auth.failure", e.to_string()))?
}

async fn verify_off_thread(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await.unwrap_or(false)
}

/// A fresh staff session: the token is shown once; only its digest is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub staff: StaffRecord,
    pub expires_at: OffsetDateTime,
}

/// Changes to a staff account, as an administrator gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub region: Option<RegionCode>,
    pub active: Option<bool>,
    /// A new password (a reset): every session of the account ends.
    pub password: Option<String>,
}

/// A new staff account, as an administrator gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    pub region: RegionCode,
}

/// Shortest API key the system may bring for an institution.
pub const API_KEY_CHARS_MIN: usize = 16;

/// An institution to designate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionInput {
    pub code: InstitutionCode,
    pub name: String,
    pub region: RegionCode,
    pub level: InstitutionLevel,
    /// Given only by the system (a loader); otherwise drawn.
    pub api_key: Option<String>,
}

/// Changes to a designated institution, as an administrator gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstitutionChange {
    pub name: Option<String>,
    pub level: Option<InstitutionLevel>,
    /// The day a new level applies from; default today.
    pub level_from: Option<time::Date>,
    /// False suspends the institution: its key stops working at once.
    pub active: Option<bool>,
}

/// An institution with its API key, shown this once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionKey {
    pub institution: InstitutionRecord,
    pub api_key: String,
}

impl App {
    /// Signs a staff member in: a session token for the API's `Authorization: Bearer` or
    /// the console's cookie. A wrong password, an unknown or inactive account get one answer,
    /// after the same work (an argon2 check, against [`DUMMY_HASH`] when there is no live
    /// account), and are audited; repeated failures are held back ([`crate::throttle`]).
    /// The client's address is taken from `source`: [`App::sign_in_from`] when the edge
    /// knows the peer's.
    pub async fn sign_in(&self, username: &str, password: &str, source: &str) -> Result<Session, AppError> {
        self.sign_in_from(username, password, source, None).await
    }

    /// [`App::sign_in`] from the peer address `address` (the TCP peer the edge saw): the
    /// address the throttle counts failures for, and the one a refusal records.
    pub async fn sign_in_from(&self, username: &str, password: &str, source: &str, address: Option<IpAddr>) -> Result<Session, AppError> {
        let refused = || unauthorized("wrong username or password");
        let account = bounded(username);
        let address_text = address.map(|a| a.to_string());
        let address_key = address_text.clone().unwrap_or_else(|| bounded(source));
        let now = self.now();
        let admitted = self.throttle().admit(&account, &address_key, now);
        if let Err(held) = admitted {
            if held.audit {
                let refusal = SignInRefusal {
                    outcome: SignInOutcome::Throttled,
                    username: account.clone(),
                    reason: held.reason,
                    failures: held.failures,
                    until: Some(held.until),
                    address: address_text,
                };
                self.record_refusal(username, source, refusal).await?;
            }
            // Rounded up: a client that waits as long as it is told is not held back again.
            let wait = held.until - now;
            let whole = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
            let seconds = u64::try_from(whole).unwrap_or(0).max(1);
            return Err(if held.reason == SignInReason::AccountLocked {
                AppError::too_many(
                    "auth.locked",
                    format!("too many failed sign-ins: this account is locked; try again in {seconds} s"),
                    seconds,
                )
            } else {
                AppError::too_many("auth.throttled", format!("too many failed sign-ins: try again in {seconds} s"), seconds)
            });
        }
        let staff = store!(self, staff(username))?;
        let (hash, reason) = match &staff {
            Some(s) if s.active => (s.password_hash.clone(), SignInReason::WrongPassword),
            Some(_) => (DUMMY_HASH.to_owned(), SignInReason::InactiveAccount),
            None => (DUMMY_HASH.to_owned(), SignInReason::UnknownAccount),
        };
        self.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let verified = verify_off_thread(hash, password.to_owned()).await;
        let Some(staff) = staff.filter(|s| verified && s.active) else {
            let failure = self.throttle().failed(&account, now);
            let refusal = SignInRefusal {
                outcome: if failure.locked { SignInOutcome::Locked } else { SignInOutcome::Failed },
                username: account,
                reason,
                failures: failure.failures,
                until: failure.held_until,
                address: address_text,
            };
            self.record_refusal(username, source, refusal).await?;
            return Err(refused());
        };
        self.throttle().succeeded(&account, &address_key);
        let token = new_token()?;
        let expires_at = self.now() + Duration::hours(SESSION_HOURS);
        let principal = Principal::Staff { username: staff.username.clone(), role: staff.role, region: staff.region };
        store!(self, create_session(&principal.actor(source, self.now()), &digest(&token), &staff.username, expires_at))?;
        Ok(Session { token, staff, expires_at })
    }

    /// Appends a refused sign-in to the audit trail: in the staff member's region when the
    /// username is an account's, else in the city's.
    async fn record_refusal(&self, username: &str, source: &str, refusal: SignInRefusal) -> Result<(), AppError> {
        let region = store!(self, staff(username))?.map_or(self.policy().region, |s| s.region);
        let actor = Actor { who: "anonymous".into(), role: "anonymous".into(), source: source.chars().take(64).collect(), at: self.now() };
        Ok(store!(self, record_sign_in_refusal(&actor, region, refusal))?)
    }

    /// Ends a session at once.
    pub async fn sign_out(&self, principal: &Principal, source: &str, token: &str) -> Result<(), AppError> {
        Ok(store!(self, revoke_session(&principal.actor(source, self.now()), &digest(token)))?)
    }

    /// The staff member a session token belongs to, while the session is live.
    pub async fn staff_by_token(&self, token: &str) -> Result<Principal, AppError> {
        let session = store!(self, session(&digest(token)))?.ok_or_else(|| unauthorized("unknown session token: sign in again"))?;
        if session.revoked || !session.active {
            return Err(unauthorized("this session was ended: sign in again"));
        }
        if session.expires_at <= self.now() {
            return Err(unauthorized("this session has expired: sign in again"));
        }
        Ok(Principal::Staff { username: session.username, role: session.role, region: session.region })
    }

    /// The designated institution an API key belongs to, as the register holds it.
    pub async fn institution_by_key(&self, key: &str) -> Result<Principal, AppError> {
        let institution = store!(self, institution_by_key(&digest(key.trim())))?;
        let institution = institution.filter(|i| i.active).ok_or_else(|| unauthorized("unknown or inactive API key"))?;
        Ok(Principal::institution_of(&institution))
    }

    /// Staff accounts of the administrator's region.
    pub async fn staff_list(&self, principal: &Principal) -> Result<Vec<StaffRecord>, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        Ok(store!(self, staff_in(scope))?)
    }

    /// Creates a staff account in the administrator's region (the city itself or one of its
    /// counties).
    pub async fn create_staff(&self, principal: &Principal, source: &str, input: StaffInput) -> Result<StaffRecord, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        check_scope(scope, input.region)?;
        if input.region != self.policy().region {
            self.check_county(input.region)?;
        }
        check_password(&input.password)?;
        let password_hash = hash_off_thread(input.password).await?;
        let staff =
            NewStaff { username: input.username, display_name: input.display_name, password_hash, role: input.role, region: input.region };
        Ok(store!(self, create_staff(&principal.actor(source, self.now()), staff))?)
    }

    /// Changes a staff account; a change of role or region, a deactivation or a new
    /// password ends its sessions at once. An administrator cannot lock themself out.
    pub async fn update_staff(
        &self,
        principal: &Principal,
        source: &str,
        username: &str,
        change: StaffChange,
    ) -> Result<StaffRecord, AppError> {
        let (me, _, scope) = principal.staff(roles::ADMINISTRATORS)?;
        if username == me && (change.active == Some(false) || change.role.is_some()) {
            return Err(AppError::bad_request("staff.self_lockout", "an administrator cannot deactivate or demote their own account"));
        }
        if let Some(region) = change.region.filter(|r| *r != self.policy().region) {
            self.check_county(region)?;
        }
        let password_hash = match change.password {
            Some(password) => {
                check_password(&password)?;
                Some(hash_off_thread(password).await?)
            }
            None => None,
        };
        let update = StaffUpdate {
            display_name: change.display_name,
            role: change.role,
            region: change.region,
            active: change.active,
            password_hash,
        };
        Ok(store!(self, update_staff(&principal.actor(source, self.now()), scope, username, update))?)
    }

    /// A staff member changes their own password; every session of the account ends.
    pub async fn change_own_password(&self, principal: &Principal, source: &str, current: &str, new: &str) -> Result<(), AppError> {
        let Principal::Staff { username, region, .. } = principal else {
            return Err(AppError::forbidden("institutions have API keys, not passwords"));
        };
        let staff = store!(self, staff(username))?.ok_or_else(|| unauthorized("this account no longer exists"))?;
        if !verify_off_thread(staff.password_hash, current.to_owned()).await {
            return Err(unauthorized("the current password is wrong"));
        }
        check_password(new)?;
        let update = StaffUpdate { password_hash: Some(hash_off_thread(new.to_owned()).await?), ..StaffUpdate::default() };
        store!(self, update_staff(&principal.actor(source, self.now()), *region, username, update))?;
        Ok(())
    }

    /// Designated institutions of the principal's region (any staff member).
    pub async fn institutions(&self, principal: &Principal) -> Result<Vec<InstitutionRecord>, AppError> {
        let scope = principal.scope(roles::ALL_STAFF)?;
        Ok(store!(self, institutions(scope))?)
    }

    /// Designates an institution in one of the city's counties; its API key is returned
    /// this once. The key is drawn here, unless the system (a loader bringing the keys the
    /// institutions already hold) gives one of [`API_KEY_CHARS_MIN`] characters or more.
    pub async fn create_institution(
        &self,
        principal: &Principal,
        source: &str,
        input: InstitutionInput,
    ) -> Result<InstitutionKey, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        check_scope(scope, input.region)?;
        self.check_county(input.region)?;
        let name = institution_name(&input.name)?.to_owned();
        if input.code.region_digits() != input.region.to_string() {
            return Err(AppError::bad_request(
                "institution.bad_code",
                format!(
                    "{} names region {}, but the institution is designated in {}",
                    input.code,
                    input.code.region_digits(),
                    input.region
                ),
            ));
        }
        let api_key = match input.api_key {
            None => new_token()?,
            Some(key) => {
                principal.system()?;
                if key.trim() != key || key.chars().count() < API_KEY_CHARS_MIN {
                    return Err(AppError::bad_request(
                        "institution.weak_key",
                        format!("an API key has at least {API_KEY_CHARS_MIN} characters and no surrounding blanks"),
                    ));
                }
                key
            }
        };
        let institution =
            NewInstitution { code: input.code, name, region: input.region, level: input.level, api_key_hash: digest(&api_key) };
        let institution = store!(self, create_institution(&principal.actor(source, self.now()), institution))?;
        Ok(InstitutionKey { institution, api_key })
    }

    /// Changes an institution's name, level or designation (active). A new level applies
    /// from `level_from` (default today, at most a year either side of it): claims with an
    /// earlier date of service keep the level they were treated at.
    pub async fn update_institution(
        &self,
        principal: &Principal,
        source: &str,
        code: &str,
        change: InstitutionChange,
    ) -> Result<InstitutionRecord, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        let today = self.today();
        let level_from = change.level_from.unwrap_or(today);
        if (level_from - today).whole_days().abs() > 366 {
            return Err(AppError::bad_request("institution.bad_date", "a change of level applies from a day within a year of today"));
        }
        let name = change.name.as_deref().map(institution_name).transpose()?.map(str::to_owned);
        let update = InstitutionUpdate {
            name,
            level: change.level,
            level_from: change.level.map(|_| level_from),
            active: change.active,
            api_key_hash: None,
            agreement: None,
        };
        Ok(store!(self, update_institution(&principal.actor(source, self.now()), scope, code, update))?)
    }

    /// Issues a new API key; the old one stops working at once.
    pub async fn rotate_api_key(&self, principal: &Principal, source: &str, code: &str) -> Result<InstitutionKey, AppError> {
        let scope = principal.scope(roles::ADMINISTRATORS)?;
        let api_key = new_token()?;
        let update = InstitutionUpdate { api_key_hash: Some(digest(&api_key)), ..InstitutionUpdate::default() };
        let institution = store!(self, update_institution(&principal.actor(source, self.now()), scope, code, update))?;
        Ok(InstitutionKey { institution, api_key })
    }
}

/// An institution's name, trimmed: the register's free-text rule
/// ([`yibao_domain::register_text`]) within [`yibao_domain::INSTITUTION_NAME_CHARS_MAX`],
/// at the counter as in a legacy extract.
pub fn institution_name(text: &str) -> Result<&str, AppError> {
    yibao_domain::register_text(text, yibao_domain::INSTITUTION_NAME_CHARS_MAX).ok_or_else(|| {
        AppError::bad_request(
            "institution.bad_name",
            format!(
                "a name has 1 to {} characters, without control, format or invisible characters",
                yibao_domain::INSTITUTION_NAME_CHARS_MAX
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::phc::PasswordHash;

    use super::{DUMMY_HASH, hash_password, verify_password};

    /// The dummy costs what a real check costs: the same algorithm, version and parameters.
    #[test]
    fn the_dummy_hash_has_the_real_hashes_parameters() {
        let real = hash_password("a real password").expect("hash");
        let (real, dummy) = (PasswordHash::new(&real).expect("parses"), PasswordHash::new(DUMMY_HASH).expect("parses"));
        assert_eq!((real.algorithm, real.version, real.params.to_string()), (dummy.algorithm, dummy.version, dummy.params.to_string()));
        assert!(!verify_password(DUMMY_HASH, ""), "no empty password opens it");
    }
}
