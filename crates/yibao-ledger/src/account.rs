//! Accounts: who holds money of a fund, in what kind of account (R-FND-1, R-FND-2,
//! R-TPA-1).
//!
//! An account's identity is its [`AccountKey`] (fund, holder, kind). Because the key is
//! made of domain values, the planning functions name the accounts they move money
//! between without looking anything up, and a store can map keys to its own row ids.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode};

use crate::error::LedgerError;
use crate::fund::Fund;
use crate::limits::PARTY_CODE_LEN_LIMIT;

/// The code of a designated institution or a commercial insurer: 1 to
/// [`PARTY_CODE_LEN_LIMIT`] upper-case letters and digits, held inline so that an
/// [`AccountKey`] is `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyCode {
    len: u8,
    bytes: [u8; PARTY_CODE_LEN_LIMIT],
}

impl PartyCode {
    pub fn parse(text: &str) -> Result<PartyCode, LedgerError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > PARTY_CODE_LEN_LIMIT || !bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(LedgerError::BadPartyCode(text.to_owned()));
        }
        let mut inline = [0u8; PARTY_CODE_LEN_LIMIT];
        inline[..bytes.len()].copy_from_slice(bytes);
        Ok(PartyCode { len: u8::try_from(bytes.len()).expect("at most PARTY_CODE_LEN_LIMIT"), bytes: inline })
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("parsed as ASCII")
    }
}

impl fmt::Display for PartyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PartyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartyCode({})", self.as_str())
    }
}

impl Serialize for PartyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PartyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PartyCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Who holds an account, or, for the credit-side accounts, on whose behalf it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Holder {
    /// A unit of the fund: the city itself (市本级) when the code is a city's, otherwise a
    /// county or district. Holds the income, special, expenditure and inter-fund accounts.
    Region(RegionCode),
    /// The finance bureau (财政) of a city, county or province: pays subsidies and covers
    /// deficits (R-FIN-2, R-FND-5), repays legacy deficits (R-FND-6).
    Finance(RegionCode),
    /// Central government finance (中央财政), the largest subsidiser of resident insurance.
    CentralFinance,
    /// A designated hospital or pharmacy (定点医药机构), `H`/`P` + region + serial.
    Institution(PartyCode),
    /// A commercial insurer that runs claims payment under contract, with a revolving fund
    /// on its dedicated expenditure account (R-TPA-1).
    Insurer(PartyCode),
    /// An insured person, for their personal account (个人账户).
    Person(NationalId),
}

impl Holder {
    /// A designated institution by its code: `H` (hospital) or `P` (pharmacy) + 11 digits.
    pub fn institution(code: &str) -> Result<Holder, LedgerError> {
        if !yibao_domain::InstitutionCode::is_valid(code) {
            return Err(LedgerError::BadInstitutionCode(code.to_owned()));
        }
        Ok(Holder::Institution(PartyCode::parse(code)?))
    }

    /// A commercial insurer by its code.
    pub fn insurer(code: &str) -> Result<Holder, LedgerError> {
        Ok(Holder::Insurer(PartyCode::parse(code)?))
    }

    /// Reads back what [`Display`](fmt::Display) wrote: `region:419921`, `person:…`.
    pub fn parse(text: &str) -> Result<Holder, LedgerError> {
        let bad = || LedgerError::BadHolder(text.to_owned());
        if text == "central-finance" {
            return Ok(Holder::CentralFinance);
        }
        let (kind, code) = text.split_once(':').ok_or_else(bad)?;
        let region = || RegionCode::parse(code).map_err(|_| bad());
        match kind {
            "region" => Ok(Holder::Region(region()?)),
            "finance" => Ok(Holder::Finance(region()?)),
            "institution" => Holder::institution(code),
            "insurer" => Holder::insurer(code),
            "person" => NationalId::parse(code).map(Holder::Person).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Holder {
    /// `region:419921`, `finance:419900`, `central-finance`, `institution:H41992100001`,
    /// `insurer:PICC`, `person:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Region(code) => write!(f, "region:{code}"),
            Holder::Finance(code) => write!(f, "finance:{code}"),
            Holder::CentralFinance => f.write_str("central-finance"),
            Holder::Institution(code) => write!(f, "institution:{code}"),
            Holder::Insurer(code) => write!(f, "insurer:{code}"),
            Holder::Person(id) => write!(f, "person:{id}"),
        }
    }
}

/// Which side of an account its balance normally stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// Money of the fund, or owed to it: a debit raises the balance.
    Debit,
    /// What the fund owes, and where its net assets came from: a credit raises the balance.
    Credit,
}

/// What an account is for.
///
/// The four debit-side kinds are the fund's assets: where its money is (income, special and
/// expenditure accounts, R-FND-1/2) or who owes it money (receivable). The four credit-side
/// kinds say whose the money is: a hospital's (payable), a person's (personal account),
/// another fund's (inter-fund) or the fund's own net assets, built from money that came
/// from outside and reduced by money that left (external). For each fund, debit-side
/// balances equal credit-side balances: the accounting equation, which is `fund-balanced`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountKind {
    /// 收入户: where a unit's contributions and subsidies arrive, swept monthly (R-FND-2).
    Income,
    /// 财政专户: the fiscal special account where the fund's money lives (R-FND-1).
    FiscalSpecial,
    /// 支出户: a unit's (or an insurer's, R-TPA-1) account that pays institutions.
    Expenditure,
    /// 应收: money owed to the fund (contributions due, a finance bureau's share of a
    /// deficit, a county's legacy gap).
    Receivable,
    /// 应付: money the fund owes (a settlement's layers owed to a hospital until paid).
    Payable,
    /// 个人账户: an employee's personal account, the person's money inside the fund.
    PersonalAccount,
    /// 调剂往来: a unit's position with other funds. Moves only in an adjustment pair
    /// (R-SCH-2); in the adjustment fund, one per contributor is the levy booked per
    /// contributor (R-FND-5). May go negative: a unit may draw more than it paid in.
    InterFund,
    /// 外部往来, the outside world: the fund's counterpart for money arriving from payers
    /// and finance and leaving to institutions and persons. Its credit balance is the
    /// fund's accumulated surplus; its credits by reason are income, its debits spending.
    /// One such account per holder gives per-payer and per-payee statements. May go
    /// negative (a fund in deficit).
    External,
}

impl AccountKind {
    pub const ALL: [AccountKind; 8] = [
        AccountKind::Income,
        AccountKind::FiscalSpecial,
        AccountKind::Expenditure,
        AccountKind::Receivable,
        AccountKind::Payable,
        AccountKind::PersonalAccount,
        AccountKind::InterFund,
        AccountKind::External,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountKind::Income => "income",
            AccountKind::FiscalSpecial => "fiscal-special",
            AccountKind::Expenditure => "expenditure",
            AccountKind::Receivable => "receivable",
            AccountKind::Payable => "payable",
            AccountKind::PersonalAccount => "personal-account",
            AccountKind::InterFund => "inter-fund",
            AccountKind::External => "external",
        }
    }

    pub fn parse(text: &str) -> Option<AccountKind> {
        AccountKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            AccountKind::Income => "收入户",
            AccountKind::FiscalSpecial => "财政专户",
            AccountKind::Expenditure => "支出户",
            AccountKind::Receivable => "应收款",
            AccountKind::Payable => "应付款",
            AccountKind::PersonalAccount => "个人账户",
            AccountKind::InterFund => "调剂往来",
            AccountKind::External => "外部往来",
        }
    }

    #[must_use]
    pub const fn normal_side(self) -> Side {
        match self {
            AccountKind::Income | AccountKind::FiscalSpecial | AccountKind::Expenditure | AccountKind::Receivable => Side::Debit,
            AccountKind::Payable | AccountKind::PersonalAccount | AccountKind::InterFund | AccountKind::External => Side::Credit,
        }
    }

    /// Whether a new account of this kind forbids a negative balance: a bank account cannot
    /// pay out money it does not hold, a receivable cannot collect more than is owed, a
    /// payable cannot pay more than is owed, a person cannot spend more than their account
    /// holds. Inter-fund positions and the outside world may go negative.
    #[must_use]
    pub const fn forbids_overdraft_by_default(self) -> bool {
        !matches!(self, AccountKind::InterFund | AccountKind::External)
    }

    /// Whether `holder` may hold an account of this kind.
    #[must_use]
    pub const fn admits(self, holder: &Holder) -> bool {
        match self {
            AccountKind::Income | AccountKind::FiscalSpecial | AccountKind::InterFund => matches!(holder, Holder::Region(_)),
            AccountKind::Expenditure => matches!(holder, Holder::Region(_) | Holder::Insurer(_)),
            AccountKind::PersonalAccount => matches!(holder, Holder::Person(_)),
            AccountKind::Receivable | AccountKind::Payable | AccountKind::External => true,
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of an account: at most one account per fund, holder and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountKey {
    pub fund: Fund,
    pub holder: Holder,
    pub kind: AccountKind,
}

impl AccountKey {
    #[must_use]
    pub const fn new(fund: Fund, holder: Holder, kind: AccountKind) -> AccountKey {
        AccountKey { fund, holder, kind }
    }

    /// The fund's fiscal special account, held by the fund's own region (R-FND-1).
    #[must_use]
    pub const fn special(fund: Fund) -> AccountKey {
        AccountKey::new(fund, Holder::Region(fund.region), AccountKind::FiscalSpecial)
    }

    /// A unit's account of `kind` in `fund` (income, expenditure, inter-fund, external…).
    #[must_use]
    pub const fn of_unit(fund: Fund, unit: RegionCode, kind: AccountKind) -> AccountKey {
        AccountKey::new(fund, Holder::Region(unit), kind)
    }
}

impl fmt::Display for AccountKey {
    /// `employee@419900/region:419921/income`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.fund, self.holder, self.kind)
    }
}

/// An account: its key, whether it may go negative, and the first value date it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub key: AccountKey,
    /// A transfer that would leave the balance (on the kind's normal side) below zero is
    /// refused (`ledger.overdraft`).
    pub no_overdraft: bool,
    pub opened_on: Date,
}

impl Account {
    /// An account with its kind's default overdraft rule. Refuses a holder that cannot
    /// hold the kind, and a unit outside the fund's region.
    pub fn open(key: AccountKey, opened_on: Date) -> Result<Account, LedgerError> {
        let account = Account { key, no_overdraft: key.kind.forbids_overdraft_by_default(), opened_on };
        account.check()?;
        Ok(account)
    }

    /// The same account with its overdraft rule set explicitly.
    #[must_use]
    pub const fn with_no_overdraft(self, no_overdraft: bool) -> Account {
        Account { no_overdraft, ..self }
    }

    /// The rules [`Account::open`] applies; the ledger and the book check apply them again
    /// because the fields are public.
    pub fn check(&self) -> Result<(), LedgerError> {
        let AccountKey { fund, holder, kind } = self.key;
        if !kind.admits(&holder) {
            return Err(LedgerError::HolderKindMismatch { holder, kind });
        }
        if let Holder::Region(unit) = holder
            && !fund.region.contains(unit)
        {
            return Err(LedgerError::HolderOutsideFund { holder, fund });
        }
        Ok(())
    }
}

/// An account with the totals posted to each side (TigerBeetle's `debits_posted` and
/// `credits_posted`). The balance is their difference on the kind's normal side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub account: Account,
    pub debits_posted_fen: Fen,
    pub credits_posted_fen: Fen,
}

impl AccountState {
    #[must_use]
    pub const fn new(account: Account) -> AccountState {
        AccountState { account, debits_posted_fen: Fen::ZERO, credits_posted_fen: Fen::ZERO }
    }

    #[must_use]
    pub fn key(&self) -> AccountKey {
        self.account.key
    }

    /// The balance on the kind's normal side; negative means overdrawn.
    #[must_use]
    pub fn balance_fen(&self) -> Fen {
        balance_of(self.account.key.kind, self.debits_posted_fen, self.credits_posted_fen)
    }
}

/// The balance of an account of `kind` with these totals, on its normal side.
pub(crate) fn balance_of(kind: AccountKind, debits_fen: Fen, credits_fen: Fen) -> Fen {
    match kind.normal_side() {
        Side::Debit => debits_fen - credits_fen,
        Side::Credit => credits_fen - debits_fen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fund::FundScheme;
    use time::macros::date;

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    #[test]
    fn party_and_institution_codes() {
        assert_eq!(PartyCode::parse("PICC01").unwrap().as_str(), "PICC01");
        for bad in ["", "picc", "A-B", "ABCDEFGHIJKLMNOPQRSTU"] {
            assert_eq!(PartyCode::parse(bad), Err(LedgerError::BadPartyCode(bad.to_owned())), "{bad}");
        }
        assert!(Holder::institution("H41992100001").is_ok());
        assert!(Holder::institution("P41992100001").is_ok());
        assert_eq!(Holder::institution("X41992100001"), Err(LedgerError::BadInstitutionCode("X41992100001".into())));
        assert_eq!(Holder::institution("H4199210000"), Err(LedgerError::BadInstitutionCode("H4199210000".into())));
    }

    #[test]
    fn holders_fit_their_kinds_and_funds() {
        let fund = Fund::new(FundScheme::Employee, region("419900"));
        let on = date!(2026 - 01 - 01);
        let county = Holder::Region(region("419921"));
        assert!(Account::open(AccountKey::new(fund, county, AccountKind::Income), on).is_ok());
        let hospital = Holder::institution("H41992100001").unwrap();
        assert_eq!(
            Account::open(AccountKey::new(fund, hospital, AccountKind::Income), on),
            Err(LedgerError::HolderKindMismatch { holder: hospital, kind: AccountKind::Income })
        );
        let elsewhere = Holder::Region(region("411221"));
        assert_eq!(
            Account::open(AccountKey::new(fund, elsewhere, AccountKind::Expenditure), on),
            Err(LedgerError::HolderOutsideFund { holder: elsewhere, fund })
        );
        // A county fund (R-GEO-3) holds no account of the city level.
        let county_fund = Fund::new(FundScheme::Employee, region("419921"));
        assert!(Account::open(AccountKey::special(county_fund), on).is_ok());
        assert!(Account::open(AccountKey::of_unit(county_fund, region("419900"), AccountKind::Income), on).is_err());
    }

    #[test]
    fn default_overdraft_rules_and_balances() {
        let fund = Fund::new(FundScheme::Resident, region("419900"));
        let on = date!(2026 - 01 - 01);
        let special = Account::open(AccountKey::special(fund), on).unwrap();
        assert!(special.no_overdraft);
        let outside = Account::open(AccountKey::new(fund, Holder::CentralFinance, AccountKind::External), on).unwrap();
        assert!(!outside.no_overdraft);
        let mut state = AccountState::new(special);
        state.debits_posted_fen = Fen::yuan(100);
        state.credits_posted_fen = Fen::yuan(30);
        assert_eq!(state.balance_fen(), Fen::yuan(70));
        assert_eq!(balance_of(AccountKind::External, Fen::yuan(100), Fen::yuan(30)), Fen::yuan(-70));
    }

    #[test]
    fn keys_display_as_paths() {
        let fund = Fund::new(FundScheme::Employee, region("419900"));
        let key = AccountKey::of_unit(fund, region("419921"), AccountKind::Income);
        assert_eq!(key.to_string(), "employee@419900/region:419921/income");
        for holder in [
            Holder::Region(region("419921")),
            Holder::Finance(region("410000")),
            Holder::CentralFinance,
            Holder::institution("H41992100001").unwrap(),
            Holder::insurer("PICC01").unwrap(),
        ] {
            assert_eq!(Holder::parse(&holder.to_string()), Ok(holder));
        }
        for bad in ["", "region", "region:41992", "planet:1", "person:123"] {
            assert_eq!(Holder::parse(bad), Err(LedgerError::BadHolder(bad.to_owned())), "{bad}");
        }
    }
}
