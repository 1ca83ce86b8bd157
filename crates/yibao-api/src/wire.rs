//! One representation of money on the wire (ARCHITECTURE.md, `yuan-on-the-wire`): every
//! amount the API answers with is a string of yuan with two decimals (`"12.50"`), as the
//! national interface writes them and as the engine's `Settlement` serializes
//! (`yibao_domain::serde_yuan`); nested documents are JSON objects, never JSON inside a
//! string. The store keeps integer fen and JSON text; the API translates here, once:
//!
//! - a record's `x_fen` field is `x` on the wire, in yuan ([`to_wire`]); `x_fen` is never
//!   sent;
//! - a record's `x_json` text is `x` on the wire, the parsed object;
//! - tuples that carry amounts become objects with named fields ([`LegacyOut`],
//!   [`ExecutionOut`], [`ComparisonOut`]).
//!
//! The audit trail's `detail` is the exception, on purpose: it is the exact text the hash
//! chain covers, sent as recorded so that anyone can recompute the chain. (Likewise a
//! handover inventory's `checksum` is over its stored form, in fen.)

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use yibao_domain::Fen;

use crate::error::ApiError;

/// `value` as the API sends it: `_fen` integers as yuan strings under the name without the
/// suffix, `_json` text as the object it holds, recursively.
#[must_use]
pub fn to_wire(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                if let Some(name) = key.strip_suffix("_fen") {
                    let yuan = match &value {
                        Value::Number(n) => n.to_string().parse::<i128>().ok().map(|fen| Value::String(yuan_wide(fen))),
                        // Totals past one amount are kept as decimal text of fen.
                        Value::String(text) => text.parse::<i128>().ok().map(|fen| Value::String(yuan_wide(fen))),
                        Value::Null => Some(Value::Null),
                        _ => None,
                    };
                    if let Some(yuan) = yuan {
                        debug_assert!(!out.contains_key(name), "{name} twice on the wire");
                        out.insert(name.to_owned(), yuan);
                        continue;
                    }
                }
                if let Some(name) = key.strip_suffix("_json")
                    && let Value::String(text) = &value
                    && let Ok(parsed) = serde_json::from_str::<Value>(text)
                {
                    out.insert(name.to_owned(), to_wire(parsed));
                    continue;
                }
                out.insert(key, to_wire(value));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_wire).collect()),
        other => other,
    }
}

/// A JSON answer in the wire's representation.
pub fn reply<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let value = serde_json::to_value(value).map_err(|e| ApiError::from(yibao_app::AppError::internal("api.serialize", e.to_string())))?;
    Ok((status, Json(to_wire(value))).into_response())
}

/// `200` with `value` in the wire's representation.
pub fn ok<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    reply(StatusCode::OK, value)
}

fn yuan(fen: i64) -> String {
    Fen::new(fen).to_string()
}

/// Yuan with two decimals for any count of fen, totals past one amount included.
fn yuan_wide(fen: i128) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

// ---- documented shapes of the main records ----

/// A page of a person search (`GET /api/persons`): at most 200 persons from `offset`, and
/// how many match in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonPageOut {
    pub total: u64,
    pub offset: u32,
    /// The persons of this page, each with coverage and tier history.
    #[schema(value_type = Vec<Object>)]
    pub persons: Vec<yibao_app::PersonRecord>,
}

/// A stored claim and its settlement (`GET /api/persons/{id}/claims`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimOut {
    #[schema(schema_with = crate::contract::region)]
    pub region: String,
    #[schema(schema_with = crate::contract::institution)]
    pub institution_code: String,
    pub claim_id: String,
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    pub year: i32,
    /// `settled` or `reversed`.
    #[schema(pattern = "^(settled|reversed)$")]
    pub status: String,
    pub settled_at: String,
    /// The bill, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub medfee: String,
    /// What the funds paid, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub fund_pay: String,
    /// What the person paid, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub psn_part: String,
    /// The settlement with national field names (amounts in yuan) and its explanation.
    #[schema(value_type = Object)]
    pub settlement: Value,
    /// The claim as submitted.
    #[schema(value_type = Object)]
    pub claim: Value,
    pub reversed_at: Option<String>,
    pub reversal_reason: Option<String>,
}

impl ClaimOut {
    pub fn new(record: yibao_app::ClaimRecord) -> ClaimOut {
        let rfc3339 = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let object = |text: &str| serde_json::from_str::<Value>(text).map(to_wire).unwrap_or(Value::Null);
        ClaimOut {
            region: record.region.to_string(),
            institution_code: record.institution_code.to_string(),
            claim_id: record.claim_id,
            person_id: record.person_id.to_string(),
            year: record.year,
            status: record.status.as_str().to_owned(),
            settled_at: rfc3339(record.settled_at),
            medfee: record.medfee_fen.to_string(),
            fund_pay: record.fund_pay_fen.to_string(),
            psn_part: record.psn_part_fen.to_string(),
            settlement: object(&record.settlement_json),
            claim: object(&record.claim_json),
            reversed_at: record.reversed_at.map(rfc3339),
            reversal_reason: record.reversal_reason,
        }
    }
}

/// A contribution on file (`GET /api/persons/{id}/contributions`, and the answer to
/// recording one).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionOut {
    #[schema(schema_with = crate::contract::region)]
    pub region: String,
    pub seq: i64,
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    /// `resident`, `employee` or `supplementary`.
    pub kind: String,
    #[schema(schema_with = crate::contract::period)]
    pub period: String,
    /// What the period's bill is, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub due: String,
    /// What was paid, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub paid: String,
    /// Who pays what of the bill (subsidies, employer and employee shares), yuan.
    #[schema(value_type = Object)]
    pub breakdown: Value,
    pub recorded_at: String,
}

impl ContributionOut {
    pub fn new(record: yibao_app::ContributionRecord) -> ContributionOut {
        ContributionOut {
            region: record.region.to_string(),
            seq: record.seq,
            person_id: record.person_id.to_string(),
            kind: record.kind.as_str().to_owned(),
            period: record.period.to_string(),
            due: record.due_fen.to_string(),
            paid: record.paid_fen.to_string(),
            breakdown: serde_json::from_str::<Value>(&record.breakdown_json).map(to_wire).unwrap_or(Value::Null),
            recorded_at: record.recorded_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }
    }
}

/// What a person owes for a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonArrearsOut {
    #[schema(schema_with = crate::contract::national_id_schema)]
    pub person_id: String,
    pub name: String,
    #[schema(schema_with = crate::contract::region)]
    pub region: String,
    pub kind: String,
    #[schema(schema_with = crate::contract::period)]
    pub period: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub owed: String,
}

/// What a county's people owe.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountyArrearsOut {
    #[schema(schema_with = crate::contract::region)]
    pub region: String,
    pub persons: i64,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub owed: String,
}

/// Arrears (欠费) per person and per county.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArrearsOut {
    pub persons: Vec<PersonArrearsOut>,
    pub counties: Vec<CountyArrearsOut>,
}

impl ArrearsOut {
    pub fn new(persons: Vec<yibao_app::PersonArrears>, counties: Vec<yibao_app::CountyArrears>) -> ArrearsOut {
        ArrearsOut {
            persons: persons
                .into_iter()
                .map(|p| PersonArrearsOut {
                    person_id: p.person_id.to_string(),
                    name: p.name.to_string(),
                    region: p.region.to_string(),
                    kind: p.kind.as_str().to_owned(),
                    period: p.period.to_string(),
                    owed: p.owed_fen.to_string(),
                })
                .collect(),
            counties: counties
                .into_iter()
                .map(|c| CountyArrearsOut { region: c.region.to_string(), persons: c.persons, owed: c.owed_fen.to_string() })
                .collect(),
        }
    }
}

// ---- tuples that carry amounts, as objects ----

/// An instalment of a legacy deficit's schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstalmentOut {
    pub due: String,
    /// The least to repay by then in this instalment, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub minimum: String,
    /// The least repaid in all by then, yuan.
    #[schema(schema_with = crate::contract::yuan_out)]
    pub cumulative: String,
}

/// An instalment missed, or the next one due.
#[derive(Debug, Serialize, ToSchema)]
pub struct DueOut {
    pub due: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub amount: String,
}

/// A county's legacy deficit and how far it is repaid.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegacyOut {
    pub fund: String,
    pub county: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub opening_gap: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub offset: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub gap: String,
    pub instalments: Vec<InstalmentOut>,
    pub as_of: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub paid: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub owed: String,
    /// Each instalment missed by `as_of`, with its shortfall.
    pub missed: Vec<DueOut>,
    pub next_due: Option<DueOut>,
    pub notes: Vec<String>,
}

impl LegacyOut {
    pub fn new(view: yibao_app::books::LegacyView) -> LegacyOut {
        LegacyOut {
            fund: view.fund,
            county: view.county,
            opening_gap: yuan(view.opening_gap_fen),
            offset: yuan(view.offset_fen),
            gap: yuan(view.gap_fen),
            instalments: view
                .instalments
                .into_iter()
                .map(|(due, minimum, cumulative)| InstalmentOut { due, minimum: yuan(minimum), cumulative: yuan(cumulative) })
                .collect(),
            as_of: view.as_of,
            paid: yuan(view.paid_fen),
            owed: yuan(view.owed_fen),
            missed: view.missed.into_iter().map(|(due, amount)| DueOut { due, amount: yuan(amount) }).collect(),
            next_due: view.next_due.map(|(due, amount)| DueOut { due, amount: yuan(amount) }),
            notes: view.notes,
        }
    }
}

/// A month of a budget's execution: income and spending booked so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthOut {
    pub month: u8,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub income: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub spending: String,
}

/// A fund's budget for a year and unit, with its execution month by month.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionOut {
    /// The budget: year, fund, unit, income and spending (yuan).
    #[schema(value_type = Object)]
    pub budget: Value,
    pub months: Vec<MonthOut>,
    pub income_executed_bp: Option<i64>,
    pub spending_executed_bp: Option<i64>,
}

impl ExecutionOut {
    pub fn new(execution: yibao_app::BudgetExecution) -> ExecutionOut {
        ExecutionOut {
            budget: serde_json::to_value(&execution.budget).map(to_wire).unwrap_or(Value::Null),
            months: execution
                .months
                .into_iter()
                .map(|(month, income, spending)| MonthOut { month, income: yuan(income), spending: yuan(spending) })
                .collect(),
            income_executed_bp: execution.income_executed_bp,
            spending_executed_bp: execution.spending_executed_bp,
        }
    }
}

/// A line of a reform's comparison: what, under the baseline and under the reform (yuan).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub what: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub baseline: String,
    #[schema(schema_with = crate::contract::yuan_out)]
    pub reform: String,
}

/// The same synthetic city-year under the baseline and under a reform.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparisonOut {
    pub reform: String,
    pub insured: u64,
    pub seed: u64,
    pub claims: u64,
    pub baseline_policy: String,
    /// Funds paid on claims and each layer, and patients' out-of-pocket.
    pub totals: Vec<ChangeOut>,
    /// Fund spending per scheme and county (the city's total as unit `all`), yuan.
    #[schema(value_type = Vec<Object>)]
    pub spending: Value,
    /// Out-of-pocket per person a year by assistance group.
    pub out_of_pocket_per_person: Vec<ChangeOut>,
    /// Income per insured person a year that would balance each fund, yuan.
    #[schema(value_type = Vec<Object>)]
    pub balancing_income: Value,
}

impl ComparisonOut {
    pub fn new(comparison: yibao_app::reforms::Comparison) -> ComparisonOut {
        let changes = |rows: Vec<(String, i64, i64)>| {
            rows.into_iter().map(|(what, baseline, reform)| ChangeOut { what, baseline: yuan(baseline), reform: yuan(reform) }).collect()
        };
        ComparisonOut {
            reform: comparison.reform,
            insured: comparison.insured,
            seed: comparison.seed,
            claims: comparison.claims,
            baseline_policy: comparison.baseline_policy,
            totals: changes(comparison.totals),
            spending: serde_json::to_value(&comparison.spending).map(to_wire).unwrap_or(Value::Null),
            out_of_pocket_per_person: changes(comparison.out_of_pocket_per_person),
            balancing_income: serde_json::to_value(&comparison.balancing_income).map(to_wire).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_becomes_yuan_and_json_text_an_object() {
        let record = serde_json::json!({
            "medfee_fen": 1250,
            "gap_fen": -7,
            "next_fen": null,
            "total_fen": "100000000000000000000001",
            "settlement_json": "{\"medfee_sumamt\":\"12.50\",\"layers\":[{\"amount_fen\":100}]}",
            "note_json": "not json",
            "rate_bp": 250,
        });
        assert_eq!(
            to_wire(record),
            serde_json::json!({
                "medfee": "12.50",
                "gap": "-0.07",
                "next": null,
                "total": "1000000000000000000000.01",
                "settlement": { "medfee_sumamt": "12.50", "layers": [{ "amount": "1.00" }] },
                "note_json": "not json",
                "rate_bp": 250,
            })
        );
    }
}

// ---- documented shapes of inputs read by the application's own types ----

/// A claim as the hospital's billing system submits it (`yibao_engine::Claim`; see
/// `examples/claims`). Documentation of the shape the claim is read into.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClaimIn {
    /// The institution's own id for this claim (its idempotency key).
    claim_id: String,
    #[schema(schema_with = crate::contract::institution)]
    institution_code: String,
    /// Must be the register's.
    #[schema(pattern = "^(township|primary|secondary|tertiary)$")]
    institution_level: String,
    #[serde(default)]
    #[schema(pattern = "^(in-area|in-province|cross-province)$")]
    place: String,
    #[schema(
        pattern = "^(inpatient|general-outpatient|chronic-outpatient|maternity|single-disease|day-surgery|pharmacy-purchase|two-disease|special-drug)$"
    )]
    kind: String,
    #[schema(schema_with = crate::contract::date_schema)]
    admission_date: String,
    #[schema(schema_with = crate::contract::date_schema)]
    discharge_date: String,
    /// ICD-10 (insurance edition).
    diagnosis: String,
    /// The stay's main procedure, ICD-9-CM-3 (insurance edition), if it had one: the
    /// payment year groups the stay by it (DIP); the patient's settlement does not read it.
    #[schema(pattern = r"^[0-9]{2}(\.[0-9]{1,4}(x[0-9]{3})?)?$")]
    procedure: Option<String>,
    /// The insurance physician who treated (`D` + region + serial): registered under the
    /// institution and allowed to bill on the date of service; required where the
    /// institution's agreement for the year says so.
    #[schema(pattern = r"^D[0-9]{12}$")]
    physician: Option<String>,
    #[serde(default)]
    referral: bool,
    #[serde(default)]
    emergency: bool,
    #[serde(default)]
    #[schema(schema_with = crate::contract::yuan_in)]
    referred_deductible_paid: String,
    delivery: Option<DeliveryIn>,
    lines: Vec<ClaimLineIn>,
}

/// Childbirth details of a maternity claim.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DeliveryIn {
    #[schema(pattern = "^(normal|difficult|miscarriage-early|miscarriage-late)$")]
    kind: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 255)]
    babies: u8,
    #[schema(schema_with = crate::contract::yuan_in_opt)]
    employer_average_wage_monthly: Option<String>,
    /// The leave days taken, when fewer than the law gives (a mother back at work sooner);
    /// absent: all of them, the statutory days plus the pack's
    /// `maternity.leave_days.extension` for a birth. Never more; stated only with
    /// `employer_average_wage_monthly`.
    #[schema(minimum = 1, maximum = 365)]
    leave_days: Option<u16>,
}

/// One line of a bill.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClaimLineIn {
    /// National catalogue code: 1 to 27 capital letters and digits.
    #[schema(pattern = "^[A-Z0-9]{1,27}$")]
    code: String,
    /// Whole units, or a string with at most three decimals (`"0.5"`).
    #[schema(schema_with = quantity)]
    quantity: String,
    #[schema(schema_with = crate::contract::yuan_in)]
    unit_price: String,
    #[serde(default)]
    approved: bool,
}

fn quantity() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    utoipa::openapi::Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9]{1,6}(\.[0-9]{0,3})?$")))
            .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(1_000_000)))
            .build(),
    )
}

/// How a legacy deficit is repaid: at once by `due`, in instalments by `end` with at
/// least a share of the gap (basis points) each listed year, or withheld by city finance
/// `on` a day.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[allow(dead_code)]
pub enum TermsDoc {
    AtOnce {
        #[schema(schema_with = crate::contract::date_schema)]
        due: String,
    },
    Instalments {
        #[schema(schema_with = crate::contract::date_schema)]
        end: String,
        /// `[year, basis points]` pairs.
        #[schema(schema_with = pairs)]
        minimum_per_year: Vec<(i32, u32)>,
    },
    Withheld {
        #[schema(schema_with = crate::contract::date_schema)]
        on: String,
    },
}

fn pairs() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let pair = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(i64::from(i32::MAX))))
        .min_items(Some(2))
        .max_items(Some(2));
    utoipa::openapi::Schema::Array(ArrayBuilder::new().items(pair).build())
}

/// A county's targets for the year and what it achieved, for a year-end close.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitTargetsIn {
    #[schema(schema_with = crate::contract::region)]
    pub unit: yibao_domain::RegionCode,
    pub enrolment_target: u32,
    pub enrolled: u32,
    /// Yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub collection_target: Fen,
    /// Yuan.
    #[serde(with = "yibao_domain::serde_yuan")]
    #[schema(schema_with = crate::contract::yuan_in)]
    pub collected: Fen,
}

impl From<UnitTargetsIn> for yibao_app::books::UnitTargets {
    fn from(t: UnitTargetsIn) -> yibao_app::books::UnitTargets {
        yibao_app::books::UnitTargets {
            unit: t.unit,
            enrolment_target: t.enrolment_target,
            enrolled: t.enrolled,
            collection_target_fen: t.collection_target.get(),
            collected_fen: t.collected.get(),
        }
    }
}
