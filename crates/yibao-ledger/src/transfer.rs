//! Transfers: immutable double-entry records (TigerBeetle's transfers). A transfer is
//! never changed or deleted; a correction is a new transfer reversing the original
//! (R-SYS-6: everything that moves money can be traced).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;
use yibao_domain::Fen;

use crate::account::{AccountKey, AccountKind};
use crate::error::LedgerError;
use crate::fund::{Fund, FundScheme};
use crate::limits::{RECORD_ID_LEN_LIMIT, TRANSFER_ID_LEN_LIMIT};

/// A transfer's id, which is also its idempotency key: posting the same id again with the
/// same content changes nothing. 1 to [`TRANSFER_ID_LEN_LIMIT`] printable ASCII
/// characters without spaces, chosen by the caller (a claim id, a derived pooling id…).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(String);

impl TransferId {
    pub fn parse(text: &str) -> Result<TransferId, LedgerError> {
        let ok = !text.is_empty() && text.len() <= TRANSFER_ID_LEN_LIMIT && text.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(LedgerError::BadTransferId(text.to_owned()));
        }
        Ok(TransferId(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id made of parts joined by `/`, for the computations' deterministic ids. The
    /// parts are enums, dates, region codes and fund names, well within the limit.
    pub(crate) fn derived(parts: &[&dyn fmt::Display]) -> TransferId {
        let text = parts.iter().map(ToString::to_string).collect::<Vec<_>>().join("/");
        TransferId::parse(&text).expect("derived ids are short printable ASCII")
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferId({})", self.0)
    }
}

impl Serialize for TransferId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TransferId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TransferId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The layer of a settlement a fund pays, by the settlement's national field. Each layer
/// is paid from its own fund (`layer-from-its-fund`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettlementLayer {
    /// `hifp_pay`: the basic pooled fund of the claim's scheme.
    Pooled,
    /// `hifmi_pay`: residents' critical-illness insurance.
    CriticalIllness,
    /// `hifob_pay`: employees' large-amount fund.
    LargeAmount,
    /// `maf_pay`: medical assistance.
    Assistance,
    /// `oth_pay`: supplementary insurance.
    Supplementary,
    /// The maternity allowance (生育津贴), paid from the maternity fund.
    MaternityAllowance,
    /// `cvlserv_pay`: the civil servants' subsidy (公务员医疗补助).
    CivilServant,
    /// `hifes_pay`: the employer's supplementary insurance (企业补充医疗保险).
    EnterpriseSupplementary,
}

impl SettlementLayer {
    pub const ALL: [SettlementLayer; 8] = [
        SettlementLayer::Pooled,
        SettlementLayer::CriticalIllness,
        SettlementLayer::LargeAmount,
        SettlementLayer::Assistance,
        SettlementLayer::Supplementary,
        SettlementLayer::MaternityAllowance,
        SettlementLayer::CivilServant,
        SettlementLayer::EnterpriseSupplementary,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SettlementLayer::Pooled => "pooled",
            SettlementLayer::CriticalIllness => "critical-illness",
            SettlementLayer::LargeAmount => "large-amount",
            SettlementLayer::Assistance => "assistance",
            SettlementLayer::Supplementary => "supplementary",
            SettlementLayer::MaternityAllowance => "maternity-allowance",
            SettlementLayer::CivilServant => "civil-servant",
            SettlementLayer::EnterpriseSupplementary => "enterprise-supplementary",
        }
    }

    /// The settlement's field this layer books.
    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            SettlementLayer::Pooled => "hifp_pay",
            SettlementLayer::CriticalIllness => "hifmi_pay",
            SettlementLayer::LargeAmount => "hifob_pay",
            SettlementLayer::Assistance => "maf_pay",
            SettlementLayer::Supplementary => "oth_pay",
            SettlementLayer::MaternityAllowance => "maternity_allowance",
            SettlementLayer::CivilServant => "cvlserv_pay",
            SettlementLayer::EnterpriseSupplementary => "hifes_pay",
        }
    }

    /// Whether `scheme`'s fund pays this layer. The pooled layer is paid by the basic fund
    /// of the claim (employee, resident, the retired schemes, or maternity for a maternity
    /// claim).
    #[must_use]
    pub const fn paid_by(self, scheme: FundScheme) -> bool {
        match self {
            SettlementLayer::Pooled => matches!(
                scheme,
                FundScheme::Employee | FundScheme::Resident | FundScheme::Maternity | FundScheme::Ncms | FundScheme::UrbanResident
            ),
            SettlementLayer::CriticalIllness => matches!(scheme, FundScheme::ResidentCriticalIllness),
            SettlementLayer::LargeAmount => matches!(scheme, FundScheme::EmployeeLargeAmount),
            SettlementLayer::Assistance => matches!(scheme, FundScheme::MedicalAssistance),
            SettlementLayer::Supplementary => matches!(scheme, FundScheme::Supplementary),
            SettlementLayer::MaternityAllowance => matches!(scheme, FundScheme::Maternity),
            SettlementLayer::CivilServant => matches!(scheme, FundScheme::CivilServantSubsidy),
            SettlementLayer::EnterpriseSupplementary => matches!(scheme, FundScheme::EnterpriseSupplementary),
        }
    }
}

/// Why money moved: the reason code every transfer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// 征缴收入: an employer's, employee's or resident's contribution (R-FIN-1, R-FIN-2).
    Contribution,
    /// 财政补助: a government subsidy, or enrolment paid by civil affairs (R-FIN-2).
    Subsidy,
    /// 划入个人账户: a credit to a personal account (contribution share, retiree credit).
    PersonalAccountCredit,
    /// 待遇支出: a settlement's layer, owed to the institution (R-BEN-4).
    Settlement(SettlementLayer),
    /// 个人账户支付: the person's share paid from their personal account (`acct_pay`).
    PersonalAccountPayment,
    /// 拨付定点机构: paying an institution what settlements say the funds owe it.
    InstitutionPayment,
    /// 年度清算: the year-end clearing of an institution's payment under its agreement's
    /// methods (issue 15, R-PAY-1): what its methods earned it less what its claims billed,
    /// owed to it (positive) or recovered from it (negative).
    PaymentClearing,
    /// 审核扣款: an amount a review of a settled claim disallowed (issue 18, R-TPA-2),
    /// taken off what the fund owes the institution, never by editing the settlement; an
    /// appeal upheld reverses it.
    ReviewDeduction,
    /// 委托管理费: a commercial administrator's quarterly fee with its reward or penalty
    /// (issue 18, R-TPA-3), paid by city finance through the fund's fiscal special account.
    AdministrationFee,
    /// 补充医疗保险保费: the supplementary insurance premium the supplementary fund pays the
    /// insurer that underwrites its layer (issue 18, ZZ-NCMS: 10 yuan a person a year).
    SupplementaryPremium,
    /// 补充医疗保险理赔: what the underwriting insurer pays the supplementary fund back for
    /// the supplementary layer the fund paid hospitals at settlement (one-stop settlement
    /// first, the insurer's claim after); the other way, what the fund gives back when a
    /// claim it was paid for is reversed or deducted from later.
    SupplementaryRecovery,
    /// 冲正: a new transfer undoing all or part of an earlier one, accounts swapped.
    Reversal,
    /// 归集: a unit's income swept to the city special account (R-FND-2).
    Sweep,
    /// 拨付: special account → city expenditure account → county expenditure account (R-FND-2).
    Disbursement,
    /// 调剂金提取/上解: the yearly levy into the municipal adjustment fund (R-FND-5).
    AdjustmentLevy,
    /// 缺口弥补: a deficit covered by the adjustment fund or by finance (R-FND-5, R-FND-6).
    DeficitCover,
    /// 历史缺口补缴/代扣: a county's legacy gap booked, repaid or withheld (R-FND-6).
    LegacyRepayment,
    /// 利息收入: interest, credited to each fund separately (R-SCH-2).
    Interest,
    /// 滞纳金收入: the late fee an employer pays on contributions paid after their due day
    /// (R-FIN-4), income of the employee fund.
    LateFee,
    /// 基金移交: a fund handed over whole at a cut-off date (R-FND-7, R-SCH-3).
    Handover,
    /// 经审计的调剂: any other movement between funds, approved and audited (R-SCH-2). Its
    /// cause must be a [`RecordKind::AuditApproval`].
    AuditedAdjustment,
}

impl Reason {
    pub const ALL: [Reason; 28] = [
        Reason::Contribution,
        Reason::Subsidy,
        Reason::PersonalAccountCredit,
        Reason::Settlement(SettlementLayer::Pooled),
        Reason::Settlement(SettlementLayer::CriticalIllness),
        Reason::Settlement(SettlementLayer::LargeAmount),
        Reason::Settlement(SettlementLayer::Assistance),
        Reason::Settlement(SettlementLayer::Supplementary),
        Reason::Settlement(SettlementLayer::MaternityAllowance),
        Reason::Settlement(SettlementLayer::CivilServant),
        Reason::Settlement(SettlementLayer::EnterpriseSupplementary),
        Reason::PersonalAccountPayment,
        Reason::InstitutionPayment,
        Reason::PaymentClearing,
        Reason::ReviewDeduction,
        Reason::AdministrationFee,
        Reason::SupplementaryPremium,
        Reason::SupplementaryRecovery,
        Reason::Reversal,
        Reason::Sweep,
        Reason::Disbursement,
        Reason::AdjustmentLevy,
        Reason::DeficitCover,
        Reason::LegacyRepayment,
        Reason::Interest,
        Reason::LateFee,
        Reason::Handover,
        Reason::AuditedAdjustment,
    ];

    /// The stable code: `contribution`, `settlement.pooled`, `adjustment-levy`…
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Contribution => "contribution",
            Reason::Subsidy => "subsidy",
            Reason::PersonalAccountCredit => "personal-account-credit",
            Reason::Settlement(layer) => match layer {
                SettlementLayer::Pooled => "settlement.pooled",
                SettlementLayer::CriticalIllness => "settlement.critical-illness",
                SettlementLayer::LargeAmount => "settlement.large-amount",
                SettlementLayer::Assistance => "settlement.assistance",
                SettlementLayer::Supplementary => "settlement.supplementary",
                SettlementLayer::MaternityAllowance => "settlement.maternity-allowance",
                SettlementLayer::CivilServant => "settlement.civil-servant",
                SettlementLayer::EnterpriseSupplementary => "settlement.enterprise-supplementary",
            },
            Reason::PersonalAccountPayment => "personal-account-payment",
            Reason::InstitutionPayment => "institution-payment",
            Reason::PaymentClearing => "payment-clearing",
            Reason::ReviewDeduction => "review-deduction",
            Reason::AdministrationFee => "administration-fee",
            Reason::SupplementaryPremium => "supplementary-premium",
            Reason::SupplementaryRecovery => "supplementary-recovery",
            Reason::Reversal => "reversal",
            Reason::Sweep => "sweep",
            Reason::Disbursement => "disbursement",
            Reason::AdjustmentLevy => "adjustment-levy",
            Reason::DeficitCover => "deficit-cover",
            Reason::LegacyRepayment => "legacy-repayment",
            Reason::Interest => "interest",
            Reason::LateFee => "late-fee",
            Reason::Handover => "handover",
            Reason::AuditedAdjustment => "audited-adjustment",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether money may cross between funds for this reason: the explicit, audited
    /// adjustments of R-SCH-2 (the levy and deficit cover of R-FND-5, a handover of
    /// R-FND-7, and an approved one-off adjustment). A reversal crosses funds exactly when
    /// the transfer it reverses did.
    #[must_use]
    pub const fn is_adjustment(self) -> bool {
        matches!(self, Reason::AdjustmentLevy | Reason::DeficitCover | Reason::Handover | Reason::AuditedAdjustment)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reason::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a transfer reason")))
    }
}

/// The kind of business record that caused a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Contribution,
    Subsidy,
    Settlement,
    SettlementReversal,
    InstitutionPayment,
    PoolingRun,
    AdjustmentLevy,
    DeficitWaterfall,
    LegacyDeficit,
    InterestCredit,
    Handover,
    /// An adjustment approved outside the routine runs, with its audit record's id.
    AuditApproval,
    /// Balances brought in when the books start (R-SYS-3 migration).
    OpeningBalance,
    /// A payment year's clearing, `{city}/{year}` (issue 15).
    PaymentClearing,
    /// An employer's payment of a declared month, `{employer}/{period}` (issue 16).
    EmployerPayment,
    /// A review's finding on a settled claim, `{institution}/{claim}/{finding}` (issue 18).
    ReviewFinding,
    /// An administrator's scored quarter, `{administrator}/{quarter}` (issue 18).
    AdministratorQuarter,
    /// A movement of an administrator's revolving fund, `{administrator}/{scheme}/{seq}`
    /// (issue 18): the bureau's advance or top-up, or the administrator's payment of
    /// institutions from it.
    RevolvingFund,
}

impl RecordKind {
    pub const ALL: [RecordKind; 18] = [
        RecordKind::Contribution,
        RecordKind::Subsidy,
        RecordKind::Settlement,
        RecordKind::SettlementReversal,
        RecordKind::InstitutionPayment,
        RecordKind::PoolingRun,
        RecordKind::AdjustmentLevy,
        RecordKind::DeficitWaterfall,
        RecordKind::LegacyDeficit,
        RecordKind::InterestCredit,
        RecordKind::Handover,
        RecordKind::AuditApproval,
        RecordKind::OpeningBalance,
        RecordKind::PaymentClearing,
        RecordKind::EmployerPayment,
        RecordKind::ReviewFinding,
        RecordKind::AdministratorQuarter,
        RecordKind::RevolvingFund,
    ];

    pub fn parse(text: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contribution => "contribution",
            RecordKind::Subsidy => "subsidy",
            RecordKind::Settlement => "settlement",
            RecordKind::SettlementReversal => "settlement-reversal",
            RecordKind::InstitutionPayment => "institution-payment",
            RecordKind::PoolingRun => "pooling-run",
            RecordKind::AdjustmentLevy => "adjustment-levy",
            RecordKind::DeficitWaterfall => "deficit-waterfall",
            RecordKind::LegacyDeficit => "legacy-deficit",
            RecordKind::InterestCredit => "interest-credit",
            RecordKind::Handover => "handover",
            RecordKind::AuditApproval => "audit-approval",
            RecordKind::OpeningBalance => "opening-balance",
            RecordKind::PaymentClearing => "payment-clearing",
            RecordKind::EmployerPayment => "employer-payment",
            RecordKind::ReviewFinding => "review-finding",
            RecordKind::AdministratorQuarter => "administrator-quarter",
            RecordKind::RevolvingFund => "revolving-fund",
        }
    }
}

/// The business record that caused a transfer: its kind and id (a claim id, a
/// contribution id, `2026-05` for a pooling run…).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BusinessRef {
    pub kind: RecordKind,
    pub id: String,
}

impl BusinessRef {
    pub fn new(kind: RecordKind, id: &str) -> Result<BusinessRef, LedgerError> {
        let reference = BusinessRef { kind, id: id.to_owned() };
        reference.check()?;
        Ok(reference)
    }

    /// 1 to [`RECORD_ID_LEN_LIMIT`] bytes, no control characters.
    pub fn check(&self) -> Result<(), LedgerError> {
        if self.id.is_empty() || self.id.len() > RECORD_ID_LEN_LIMIT || self.id.chars().any(char::is_control) {
            return Err(LedgerError::BadRecordId(self.id.clone()));
        }
        Ok(())
    }
}

impl fmt::Display for BusinessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// One immutable double-entry record: `amount_fen` moves from `debit`'s side to
/// `credit`'s, both accounts of one fund.
///
/// `reverses` names the transfer a [`Reason::Reversal`] undoes. `pair` names the other
/// leg of an adjustment between funds: money leaves one fund through its inter-fund
/// account and enters the other through its own, in two transfers posted together
/// (TigerBeetle's linked transfers across ledgers), so that each fund's books balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub debit: AccountKey,
    pub credit: AccountKey,
    pub amount_fen: Fen,
    pub reason: Reason,
    pub cause: BusinessRef,
    pub value_date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<TransferId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<TransferId>,
}

impl Transfer {
    /// A plain transfer inside one fund. Validated when posted.
    #[must_use]
    pub fn new(
        id: TransferId,
        debit: AccountKey,
        credit: AccountKey,
        amount_fen: Fen,
        reason: Reason,
        cause: BusinessRef,
        value_date: Date,
    ) -> Transfer {
        Transfer { id, debit, credit, amount_fen, reason, cause, value_date, reverses: None, pair: None }
    }

    /// The fund of the debit account (the same as the credit account's in valid books).
    #[must_use]
    pub fn fund(&self) -> Fund {
        self.debit.fund
    }

    /// Whether one side is an inter-fund account, i.e. this is a leg of an adjustment pair.
    #[must_use]
    pub fn touches_inter_fund(&self) -> bool {
        self.debit.kind == AccountKind::InterFund || self.credit.kind == AccountKind::InterFund
    }

    /// A transfer reversing `amount_fen` of this one: the accounts swapped, reason
    /// [`Reason::Reversal`]. To reverse one leg of an adjustment pair, use
    /// [`reverse_pair`], which reverses both legs together.
    #[must_use]
    pub fn reversal(&self, id: TransferId, amount_fen: Fen, cause: BusinessRef, value_date: Date) -> Transfer {
        Transfer {
            id,
            debit: self.credit,
            credit: self.debit,
            amount_fen,
            reason: Reason::Reversal,
            cause,
            value_date,
            reverses: Some(self.id.clone()),
            pair: None,
        }
    }
}

/// Reverses `amount_fen` of both legs of an adjustment pair: two reversals that name each
/// other as their pair. `ids` are the new ids for `(first, second)`'s reversals.
#[must_use]
pub fn reverse_pair(
    first: &Transfer,
    second: &Transfer,
    ids: (TransferId, TransferId),
    amount_fen: Fen,
    cause: &BusinessRef,
    value_date: Date,
) -> [Transfer; 2] {
    let (first_id, second_id) = ids;
    let mut a = first.reversal(first_id.clone(), amount_fen, cause.clone(), value_date);
    let mut b = second.reversal(second_id.clone(), amount_fen, cause.clone(), value_date);
    a.pair = Some(second_id);
    b.pair = Some(first_id);
    [a, b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_ids() {
        assert_eq!(TransferId::parse("claim/T-1/hifp").unwrap().as_str(), "claim/T-1/hifp");
        for bad in ["", "has space", "tab\t", "中文", &"x".repeat(TRANSFER_ID_LEN_LIMIT + 1)] {
            assert_eq!(TransferId::parse(bad), Err(LedgerError::BadTransferId(bad.to_owned())));
        }
        let derived = TransferId::derived(&[&"pool", &2026, &"sweep"]);
        assert_eq!(derived.as_str(), "pool/2026/sweep");
    }

    #[test]
    fn reason_codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            assert!(seen.insert(reason.code()), "{reason} twice");
            assert_eq!(Reason::parse(reason.code()), Some(reason));
        }
        for layer in SettlementLayer::ALL {
            assert!(Reason::ALL.contains(&Reason::Settlement(layer)), "{}", layer.as_str());
            assert!(FundScheme::ALL.into_iter().any(|s| layer.paid_by(s)), "{} has no fund", layer.field());
        }
        let adjustments: Vec<&str> = Reason::ALL.into_iter().filter(|r| r.is_adjustment()).map(Reason::code).collect();
        assert_eq!(adjustments, ["adjustment-levy", "deficit-cover", "handover", "audited-adjustment"]);
    }

    #[test]
    fn record_kinds_round_trip() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RecordKind::parse("claim"), None);
    }

    #[test]
    fn record_ids() {
        assert!(BusinessRef::new(RecordKind::Settlement, "T-1").is_ok());
        assert_eq!(BusinessRef::new(RecordKind::Settlement, ""), Err(LedgerError::BadRecordId(String::new())));
        assert!(BusinessRef::new(RecordKind::Settlement, "a\nb").is_err());
        assert!(BusinessRef::new(RecordKind::Settlement, &"x".repeat(RECORD_ID_LEN_LIMIT + 1)).is_err());
    }
}
