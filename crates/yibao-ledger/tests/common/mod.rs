//! The test city shared by the ledger's tests: city 419900 (市本级) with two counties,
//! 419921 ("A") and 419922 ("B"), and the accounts of its employee, resident, maternity
//! and adjustment funds.

#![allow(dead_code)] // each test file uses a different part

use time::Date;
use yibao_domain::{Fen, NationalId, RegionCode};
use yibao_ledger::{Account, AccountKey, AccountKind, BusinessRef, Fund, FundScheme, Holder, Ledger, RecordKind, TransferId};

pub const CITY: &str = "419900";
pub const COUNTY_A: &str = "419921";
pub const COUNTY_B: &str = "419922";
pub const HOSPITAL: &str = "H41992100001";

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("region code")
}

pub fn units() -> [RegionCode; 3] {
    [region(CITY), region(COUNTY_A), region(COUNTY_B)]
}

pub fn yuan(text: &str) -> Fen {
    Fen::parse_yuan(text).expect("amount in yuan")
}

pub fn id(text: &str) -> TransferId {
    TransferId::parse(text).expect("transfer id")
}

pub fn cause(text: &str) -> BusinessRef {
    BusinessRef::new(RecordKind::Contribution, text).expect("record id")
}

pub fn fund(scheme: FundScheme) -> Fund {
    Fund::new(scheme, region(CITY))
}

pub fn employee() -> Fund {
    fund(FundScheme::Employee)
}

pub fn resident() -> Fund {
    fund(FundScheme::Resident)
}

pub fn adjustment() -> Fund {
    Fund::adjustment(region(CITY))
}

pub fn person() -> NationalId {
    NationalId::from_parts(region(COUNTY_A), time::macros::date!(1980 - 01 - 01), 1).expect("national id")
}

pub fn hospital() -> Holder {
    Holder::institution(HOSPITAL).expect("institution code")
}

pub fn unit_account(fund: Fund, unit: &str, kind: AccountKind) -> AccountKey {
    AccountKey::of_unit(fund, region(unit), kind)
}

pub fn finance(fund: Fund, unit: &str, kind: AccountKind) -> AccountKey {
    AccountKey::new(fund, Holder::Finance(region(unit)), kind)
}

/// Every account of the test city, opened on `on`.
pub fn chart(on: Date) -> Vec<Account> {
    let mut keys = Vec::new();
    for scheme in [FundScheme::Employee, FundScheme::Resident, FundScheme::Maternity] {
        let f = fund(scheme);
        keys.push(AccountKey::special(f));
        for unit in units() {
            for kind in [AccountKind::Income, AccountKind::Expenditure, AccountKind::InterFund, AccountKind::External] {
                keys.push(AccountKey::of_unit(f, unit, kind));
            }
            keys.push(AccountKey::new(f, Holder::Finance(unit), AccountKind::Receivable));
            keys.push(AccountKey::new(f, Holder::Finance(unit), AccountKind::External));
        }
        keys.push(AccountKey::new(f, hospital(), AccountKind::Payable));
        keys.push(AccountKey::new(f, hospital(), AccountKind::External));
    }
    keys.push(AccountKey::new(employee(), Holder::Person(person()), AccountKind::PersonalAccount));
    keys.push(AccountKey::special(adjustment()));
    for unit in units() {
        keys.push(AccountKey::of_unit(adjustment(), unit, AccountKind::InterFund));
    }
    keys.into_iter().map(|key| Account::open(key, on).expect("a valid account")).collect()
}

/// A ledger with every account of the test city.
pub fn city_ledger(on: Date) -> Ledger {
    let mut ledger = Ledger::new();
    for account in chart(on) {
        ledger.create_account(account).expect("a new account");
    }
    ledger
}
