//! Fund receipts and interest (R-FND, R-SCH-2), with their dates checked against today:
//! nothing is booked for a day that has not come, and interest is credited only for a
//! period that has ended.

use time::Date;
use yibao_domain::RatioBp;
use yibao_store::{FundReceipt, FundStore as _, closing::InterestLine};

use crate::{App, AppError, Principal, roles, store};

/// Longest period one interest credit may cover.
pub const INTEREST_PERIOD_DAYS_MAX: i64 = 366;

impl App {
    /// Books a receipt (a fund's opening balance, city finance's advance) for a county of
    /// the city or the city itself, dated not after today.
    pub async fn record_receipt(&self, principal: &Principal, source: &str, receipt: FundReceipt) -> Result<(), AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        if receipt.unit != self.policy().region && !self.policy().has_county(receipt.unit) {
            return Err(AppError::bad_request(
                "region.unknown",
                format!("{} is neither {} nor one of its counties", receipt.unit, self.policy().region),
            ));
        }
        self.not_after_today("fund.bad_date", "a receipt's value date", receipt.value_date)?;
        if receipt.value_date < yibao_store::books::BOOKS_EPOCH {
            return Err(AppError::bad_request(
                "fund.bad_date",
                format!("a receipt's value date {} is before the books open ({})", receipt.value_date, yibao_store::books::BOOKS_EPOCH),
            ));
        }
        Ok(store!(self, record_fund_receipt(&principal.actor(source, self.now()), scope, receipt))?)
    }

    /// Credits each fund's interest for `from..=to` at `annual_rate` (R-SCH-2): only for a
    /// period that has ended (`to` before today), at most [`INTEREST_PERIOD_DAYS_MAX`] days.
    pub async fn credit_interest(
        &self,
        principal: &Principal,
        source: &str,
        from: Date,
        to: Date,
        annual_rate: RatioBp,
    ) -> Result<Vec<InterestLine>, AppError> {
        let scope = principal.scope(roles::FUND_WRITERS)?;
        let today = self.today();
        if to >= today {
            return Err(AppError::bad_request(
                "fund.period_not_ended",
                format!("interest is credited for a period that has ended: {to} is not before today ({today})"),
            ));
        }
        if from > to || (to - from).whole_days() >= INTEREST_PERIOD_DAYS_MAX {
            return Err(AppError::bad_request(
                "fund.bad_period",
                format!("an interest period runs forward for at most {INTEREST_PERIOD_DAYS_MAX} days"),
            ));
        }
        Ok(store!(self, credit_interest(&principal.actor(source, self.now()), scope, from, to, annual_rate, self.policy().rounding))?)
    }
}
