//! Loading policy packs (docs/policy-packs.md): what the loader refuses, what it accepts and
//! how lookups pick an entry and a dated value.
//!
//! The refusal cases are data: each one names a mutation of a valid pack (`tests/packs/`),
//! the stable code the loader must answer with and a text the message must contain. A
//! needle may say `$LINE` (or `$LINE+2`): the 1-based line in the mutated file where the
//! mutation starts, so cases do not break when the fixture grows. Every case goes through
//! the one [`check`] helper, and the test lists every case that went wrong, not the first.

use std::collections::BTreeSet;

use proptest::prelude::*;
use time::{Date, Duration, macros::date};
use yibao_domain::{AssistanceGroup, Fen, InstitutionLevel, ItemCode, PersonCategory, RatioBp, RegionCode, Scheme, Tier};
use yibao_policy::{LookupFailure, ParamKey, Policy, PolicyErrors, Query, Value};

/// A complete pack: every scheme, no tiers (a copy of yibao-engine's base test pack).
const VALID: &str = include_str!("packs/valid.toml");
/// A small pack with tiers: employee 1–2, resident 1–4.
const TIERS: &str = include_str!("packs/tiers.toml");

/// How a case changes its base pack.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// Replace the one occurrence of the first text by the second (a text that is not in the
    /// base exactly once fails the case, so a stale case cannot pass by changing nothing).
    Replace(&'static str, &'static str),
    /// Add a snippet at the end of the file.
    Append(&'static str),
}
use Edit::{Append, Replace};

/// (name, base pack, mutation, expected code, text the message must contain)
type Case = (&'static str, &'static str, Edit, &'static str, &'static str);

/// The one `[[param]]` of `inpatient.deductible` in `valid.toml`, which many cases rewrite.
const DEDUCTIBLE: &str = r#"[[param]]
key = "inpatient.deductible"
values = [{ from = "2010-01-01", value = 1000, cite = "TEST" }]"#;

const CASES: &[Case] = &[
    // ---- dated series ----
    (
        "gap: a value with until, then a later from",
        VALID,
        Replace(
            DEDUCTIBLE,
            r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = "2010-01-01", until = "2019-12-31", value = 1000, cite = "TEST" },
  { from = "2020-02-01", value = 1100, cite = "TEST" },
]"#,
        ),
        "policy.gap",
        "line $LINE, param inpatient.deductible (all), value 2: no value between 2020-01-01 and 2020-01-31",
    ),
    (
        "overlap: two values with the same from",
        VALID,
        Replace(
            DEDUCTIBLE,
            r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = "2010-01-01", value = 1000, cite = "TEST" },
  { from = "2010-01-01", value = 900, cite = "TEST" },
]"#,
        ),
        "policy.overlap",
        "line $LINE, param inpatient.deductible (all), value 2: the value from 2010-01-01 overlaps the previous value (from 2010-01-01)",
    ),
    (
        "overlap: a from inside the previous value's until",
        VALID,
        Replace(
            DEDUCTIBLE,
            r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = "2010-01-01", until = "2020-06-30", value = 1000, cite = "TEST" },
  { from = "2020-01-01", value = 900, cite = "TEST" },
]"#,
        ),
        "policy.overlap",
        "value 2: the value from 2020-01-01 overlaps the previous value (from 2010-01-01 until 2020-06-30)",
    ),
    (
        "overlap: values out of date order",
        VALID,
        Replace(
            DEDUCTIBLE,
            r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = "2010-01-01", value = 1000, cite = "TEST" },
  { from = "2020-01-01", value = 900, cite = "TEST" },
  { from = "2015-01-01", value = 950, cite = "TEST" },
]"#,
        ),
        "policy.overlap",
        "value 3: the value from 2015-01-01 overlaps the previous value (from 2020-01-01)",
    ),
    (
        "a value whose until is before its from",
        VALID,
        Replace(
            DEDUCTIBLE,
            r#"[[param]]
key = "inpatient.deductible"
values = [{ from = "2010-01-01", until = "2009-12-31", value = 1000, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "until 2009-12-31 is before from 2010-01-01",
    ),
    (
        "a parameter without values",
        VALID,
        Replace(DEDUCTIBLE, "[[param]]\nkey = \"inpatient.deductible\"\nvalues = []"),
        "policy.missing_value",
        "line $LINE, param inpatient.deductible (all): a parameter needs at least one value",
    ),
    (
        "a from that is not a date: 2024-02-30",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = "2024-02-30", value = 500, cite = "TEST" }]"#,
        ),
        "policy.bad_value",
        "line $LINE, param inpatient.deductible_repeat (all), value 1: from: '2024-02-30' is not a date",
    ),
    (
        "a TOML date literal that does not exist: 2024-02-30",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = 2024-02-30, value = 500, cite = "TEST" }]"#,
        ),
        "policy.syntax",
        "line $LINE+2",
    ),
    (
        "a from with a time of day",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = 2024-02-03T08:00:00, value = 500, cite = "TEST" }]"#,
        ),
        "policy.bad_value",
        "value 1: from: 2024-02-03T08:00:00 is not a date",
    ),
    (
        "an until that is not a date",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = "2010-01-01", until = "2024-13-01", value = 500, cite = "TEST" }]"#,
        ),
        "policy.bad_value",
        "until: '2024-13-01' is not a date",
    ),
    (
        "a pack effective_from that is not a date: 2024-02-30",
        VALID,
        Replace("effective_from = \"2010-01-01\"", "effective_from = \"2024-02-30\""),
        "policy.bad_value",
        "pack.effective_from: '2024-02-30' is not a date",
    ),
    (
        "a pack effective_until before effective_from",
        VALID,
        Replace("effective_from = \"2010-01-01\"", "effective_from = \"2010-01-01\"\neffective_until = \"2009-12-31\""),
        "policy.invalid",
        "pack.effective_until: 2009-12-31 is before effective_from 2010-01-01",
    ),
    // ---- selectors ----
    (
        "two [[param]] entries with identical selectors",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
scheme = "resident"
level = "tertiary"
values = [{ from = "2010-01-01", value = 1500, cite = "TEST" }]
[[param]]
key = "inpatient.deductible"
level = "tertiary"
scheme = "resident"
values = [{ from = "2010-01-01", value = 1600, cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "line $LINE+5: inpatient.deductible (scheme=resident, level=tertiary) is also defined at line $LINE",
    ),
    (
        "equally specific entries (tier / level) tie for tier 2 at a tertiary hospital",
        TIERS,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
tier = 2
values = [{ from = "2020-01-01", value = 800, cite = "TIER §5" }]
[[param]]
key = "inpatient.deductible"
level = "tertiary"
values = [{ from = "2020-01-01", value = 1200, cite = "TIER §5" }]"#,
        ),
        "policy.overlap",
        "tier=2, level=tertiary, category=employed matches equally specific entries at line $LINE (tier=2) and line $LINE+4 (level=tertiary)",
    ),
    (
        "equally specific county entries (scheme / category) tie",
        VALID,
        Append(
            r#"
[[param]]
key = "pooled.annual_cap"
region = "419901"
scheme = "employee"
values = [{ from = "2010-01-01", value = 250000, cite = "TEST" }]
[[param]]
key = "pooled.annual_cap"
region = "419901"
category = "retired"
values = [{ from = "2010-01-01", value = 200000, cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "pooled.annual_cap for region=419901, scheme=employee, category=retired matches equally specific entries",
    ),
    (
        "a dimension the key does not vary by: level on pooled.annual_cap",
        VALID,
        Append(
            r#"
[[param]]
key = "pooled.annual_cap"
level = "tertiary"
values = [{ from = "2010-01-01", value = 250000, cite = "TEST" }]"#,
        ),
        "policy.dimension_not_allowed",
        "line $LINE, param pooled.annual_cap: pooled.annual_cap does not vary by level",
    ),
    (
        "a family given in part: outpatient pooling without its deductible (issue 13)",
        VALID,
        Replace("key = \"outpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 0, cite = \"TEST\" }]\n[[param]]\n", ""),
        "policy.missing_value",
        "no entry of outpatient.deductible covers",
    ),
    (
        "out-of-area terms of their own given in part: a ratio without a deductible",
        VALID,
        Append(
            r#"
[[param]]
key = "outofarea.ratio"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "no entry of outofarea.deductible covers",
    ),
    (
        "out-of-area terms given only for referred care: unreferred care has no ratio",
        VALID,
        Append(
            r#"
[[param]]
key = "outofarea.deductible"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
referred = true
values = [{ from = "2010-01-01", value = "55%", cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "no entry of outofarea.ratio covers",
    ),
    (
        "out-of-area care given both ways: terms of its own and points off",
        VALID,
        Append(
            r#"
[[param]]
key = "outofarea.deductible"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "give out-of-area care one way",
    ),
    (
        "a ratio bonus that names no group",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.ratio_bonus"
values = [{ from = "2010-01-01", value = "5%", cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "inpatient.ratio_bonus raises one group's ratio: name its group",
    ),
    (
        "a place that is not out of the area",
        VALID,
        Append(
            r#"
[[param]]
key = "outofarea.deductible"
place = "in-area"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "place 'in-area' is not in-province or cross-province",
    ),
    (
        "a referral dimension on a key that does not vary by it",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.ratio"
referred = false
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]"#,
        ),
        "policy.dimension_not_allowed",
        "inpatient.ratio does not vary by referred",
    ),
    (
        "a group's own ratio that overlaps another entry for the same group",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.ratio_bonus"
group = "registered-poor"
values = [{ from = "2010-01-01", value = "5%", cite = "TEST" }]
[[param]]
key = "inpatient.ratio_bonus"
group = "registered-poor"
values = [{ from = "2010-01-01", value = "10%", cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "inpatient.ratio_bonus",
    ),
    (
        "a dimension the key does not vary by: place on inpatient.deductible",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
place = "cross-province"
values = [{ from = "2010-01-01", value = 0, cite = "TEST" }]"#,
        ),
        "policy.dimension_not_allowed",
        "inpatient.deductible does not vary by place",
    ),
    (
        "a dimension the key does not vary by: scheme on employee.average_wage_monthly",
        VALID,
        Append(
            r#"
[[param]]
key = "employee.average_wage_monthly"
scheme = "employee"
values = [{ from = "2010-01-01", value = 7000, cite = "TEST" }]"#,
        ),
        "policy.dimension_not_allowed",
        "employee.average_wage_monthly does not vary by scheme",
    ),
    (
        "a region outside the pack's city",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
region = "410102"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "line $LINE, param inpatient.deductible: region 410102 is not a county of the pack's region",
    ),
    (
        "the pack's own region as a selector",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
region = "419900"
scheme = "resident"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "line $LINE, param inpatient.deductible: region 419900 is the pack's own region",
    ),
    (
        "a region that is not a region code",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
region = "41990"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "'41990' is not a region code",
    ),
    (
        "a tier that does not exist",
        TIERS,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
tier = 5
values = [{ from = "2020-01-01", value = 800, cite = "TIER §5" }]"#,
        ),
        "policy.invalid",
        "tier 5 does not exist",
    ),
    (
        "a selector scheme that is not a basic scheme",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
scheme = "maternity"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "scheme 'maternity' is not employee or resident",
    ),
    (
        "an unknown institution level",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
level = "quaternary"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "level 'quaternary' is not township, primary, secondary or tertiary",
    ),
    (
        "an unknown person category",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible"
category = "student"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "category 'student' is not employed, retired or resident",
    ),
    (
        "an unknown assistance group",
        VALID,
        Append(
            r#"
[[param]]
key = "resident.assisted_share"
group = "veterans"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "group 'veterans' is not destitute",
    ),
    // ---- keys and fields ----
    (
        "an unknown parameter key",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductable"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]"#,
        ),
        "policy.unknown_key",
        "line $LINE: unknown parameter key 'inpatient.deductable'",
    ),
    (
        "an unknown field inside [[param]]",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
note = "a typo for a comment"
values = [{ from = "2010-01-01", value = 500, cite = "TEST" }]"#,
        ),
        "policy.syntax",
        "line $LINE+2: unknown field `note`",
    ),
    (
        "an unknown field inside a dated value",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = "2010-01-01", value = 500, cite = "TEST", to = "2020-01-01" }]"#,
        ),
        "policy.syntax",
        "unknown field `to`",
    ),
    (
        "a dated value without cite",
        VALID,
        Append(
            r#"
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = "2010-01-01", value = 500 }]"#,
        ),
        "policy.syntax",
        "missing field `cite`",
    ),
    (
        "an unknown field in the pack header",
        VALID,
        Replace("rounding = \"half-up\"", "rounding = \"half-up\"\ncurrency = \"CNY\""),
        "policy.syntax",
        "unknown field `currency`",
    ),
    (
        "an unknown top-level table",
        VALID,
        Append("[[parameter]]\nkey = \"inpatient.deductible_repeat\""),
        "policy.syntax",
        "unknown field `parameter`",
    ),
    (
        "text that is not TOML",
        VALID,
        Append("[[param]]\nkey = \"inpatient.deductible_repeat\"\nvalues = [{ from = \"2010-01-01\", value = 500, cite = \"TEST\" }"),
        "policy.syntax",
        "line $LINE+2",
    ),
    // ---- money ----
    (
        "negative money as an integer: value = -5",
        VALID,
        Replace(DEDUCTIBLE, "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = -5, cite = \"TEST\" }]"),
        "policy.negative_money",
        "line $LINE, param inpatient.deductible (all), value 1: money may not be negative: -5",
    ),
    (
        "negative money as a string: value = \"-5.00\"",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = \"-5.00\", cite = \"TEST\" }]",
        ),
        "policy.negative_money",
        "money may not be negative: \"-5.00\"",
    ),
    (
        "money written as a float",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000.5, cite = \"TEST\" }]",
        ),
        "policy.bad_value",
        "line $LINE, param inpatient.deductible (all), value 1: 1000.5: write money as an integer or a string",
    ),
    (
        "money with three decimals",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = \"12.345\", cite = \"TEST\" }]",
        ),
        "policy.bad_value",
        "'12.345' is not an amount in yuan",
    ),
    (
        "money written as a percentage",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = \"80%\", cite = \"TEST\" }]",
        ),
        "policy.bad_value",
        "'80%' is not an amount in yuan",
    ),
    (
        "money beyond the largest parameter",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 200000000, cite = \"TEST\" }]",
        ),
        "policy.bad_value",
        "beyond the largest parameter",
    ),
    // ---- ratios, multiples, counts, flags ----
    (
        "a ratio over 100%: \"100.5%\"",
        VALID,
        Replace(
            "key = \"inpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"80%\"",
            "key = \"inpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"100.5%\"",
        ),
        "policy.ratio_over_100",
        "param inpatient.ratio (all), value 1: a ratio may not exceed 100%: 100.5%",
    ),
    (
        "points over 100%: outofarea.reduction_referred = \"150%\"",
        VALID,
        Replace(
            "key = \"outofarea.reduction_referred\"\nvalues = [{ from = \"2010-01-01\", value = \"10%\"",
            "key = \"outofarea.reduction_referred\"\nvalues = [{ from = \"2010-01-01\", value = \"150%\"",
        ),
        "policy.ratio_over_100",
        "param outofarea.reduction_referred (all), value 1: a ratio may not exceed 100%",
    ),
    (
        "a ratio without a % sign",
        VALID,
        Replace(
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"50%\"",
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"50\"",
        ),
        "policy.bad_value",
        "param outpatient.ratio (all), value 1: '50' is not a ratio",
    ),
    (
        "a ratio written as a number",
        VALID,
        Replace(
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"50%\"",
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = 0.5",
        ),
        "policy.bad_value",
        "0.5: write a ratio as a percentage string",
    ),
    (
        "a negative ratio",
        VALID,
        Replace(
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"50%\"",
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"-5%\"",
        ),
        "policy.bad_value",
        "a ratio may not be negative",
    ),
    (
        "a multiple above 1000%",
        VALID,
        Replace("value = \"300%\"", "value = \"1200%\""),
        "policy.bad_value",
        "param employee.base_ceiling (all), value 1: '1200%' is above 1000%",
    ),
    (
        "days beyond a year",
        VALID,
        Replace("value = 98,", "value = 400,"),
        "policy.bad_value",
        "param maternity.leave_days.normal (all), value 1: 400 days is outside 0–366",
    ),
    (
        "a flag that is not a boolean",
        VALID,
        Append(
            r#"
[[param]]
key = "account.pays_self_paid_items"
values = [{ from = "2010-01-01", value = "yes", cite = "TEST" }]"#,
        ),
        "policy.bad_value",
        "\"yes\" is not true or false",
    ),
    (
        "a tier waiting period of 3 months (R-ENR-4: 6 to 12)",
        TIERS,
        Replace("value = 12, cite = \"TIER §4\"", "value = 3, cite = \"TIER §4\""),
        "policy.bad_value",
        "param tier.upgrade_waiting_months (all), value 1: 3 months is outside 6–12",
    ),
    (
        "a tier waiting period of 13 months",
        TIERS,
        Replace("value = 6, cite = \"assumption:", "value = 13, cite = \"assumption:"),
        "policy.bad_value",
        "param tier.upgrade_waiting_months (tier=2), value 1: 13 months is outside 6–12",
    ),
    // ---- bands ----
    (
        "bands that do not start at 0",
        VALID,
        Replace("value = [{ above = 0, ratio = \"60%\" }]", "value = [{ above = 100, ratio = \"60%\" }]"),
        "policy.bad_value",
        "param critical.bands (all), value 1: the first band must start at 0",
    ),
    (
        "bands that do not increase",
        VALID,
        Replace(
            "value = [{ above = 0, ratio = \"60%\" }]",
            "value = [{ above = 0, ratio = \"60%\" }, { above = 50000, ratio = \"70%\" }, { above = 50000, ratio = \"80%\" }]",
        ),
        "policy.bad_value",
        "band bounds must increase",
    ),
    (
        "bands that decrease",
        VALID,
        Replace(
            "value = [{ above = 0, ratio = \"60%\" }]",
            "value = [{ above = 0, ratio = \"60%\" }, { above = 50000, ratio = \"70%\" }, { above = 20000, ratio = \"80%\" }]",
        ),
        "policy.bad_value",
        "band bounds must increase",
    ),
    (
        "more than four bands",
        VALID,
        Replace(
            "value = [{ above = 0, ratio = \"60%\" }]",
            "value = [{ above = 0, ratio = \"50%\" }, { above = 10000, ratio = \"60%\" }, { above = 20000, ratio = \"70%\" }, { above = 30000, ratio = \"80%\" }, { above = 40000, ratio = \"90%\" }]",
        ),
        "policy.bad_value",
        "a scale has 1 to 4 bands, this one has 5",
    ),
    (
        "a band ratio over 100%",
        VALID,
        Replace(
            "value = [{ above = 0, ratio = \"60%\" }]",
            "value = [{ above = 0, ratio = \"60%\" }, { above = 50000, ratio = \"101%\" }]",
        ),
        "policy.ratio_over_100",
        "param critical.bands (all), value 1: a ratio may not exceed 100%",
    ),
    (
        "a band with a negative bound",
        VALID,
        Replace("value = [{ above = 0, ratio = \"60%\" }]", "value = [{ above = 0, ratio = \"60%\" }, { above = -100, ratio = \"70%\" }]"),
        "policy.negative_money",
        "param critical.bands (all), value 1: money may not be negative",
    ),
    (
        "a band with a field other than above and ratio",
        VALID,
        Replace("value = [{ above = 0, ratio = \"60%\" }]", "value = [{ above = 0, upto = 50000, ratio = \"60%\" }]"),
        "policy.bad_value",
        "a band has only 'above' and 'ratio', not 'upto'",
    ),
    (
        "bands for a key that takes a single ratio",
        VALID,
        Replace(
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"50%\"",
            "key = \"outpatient.ratio\"\nvalues = [{ from = \"2010-01-01\", value = [{ above = 0, ratio = \"50%\" }]",
        ),
        "policy.bad_value",
        "param outpatient.ratio (all), value 1: [{ above = 0, ratio = \"50%\" }]: write a ratio as a percentage string",
    ),
    // ---- citations ----
    (
        "an uncited value: cite = \"\"",
        VALID,
        Replace(DEDUCTIBLE, "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"\" }]"),
        "policy.bad_citation",
        "line $LINE, param inpatient.deductible (all), value 1: citation '' names no declared source (declared: TEST)",
    ),
    (
        "a citation naming an undeclared source",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"ZY §四(四)4\" }]",
        ),
        "policy.bad_citation",
        "citation 'ZY §四(四)4' names no declared source (declared: TEST)",
    ),
    (
        "a citation whose source id only starts like a declared one",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"TESTS §1\" }]",
        ),
        "policy.bad_citation",
        "citation 'TESTS §1' names no declared source",
    ),
    (
        "an assumption with no reason",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"assumption:\" }]",
        ),
        "policy.bad_citation",
        "line $LINE, param inpatient.deductible (all), value 1: an assumption must say why",
    ),
    (
        "an assumption whose reason is blank",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"assumption:    \" }]",
        ),
        "policy.bad_citation",
        "an assumption must say why",
    ),
    (
        "an uncited chronic-disease limit",
        VALID,
        Replace(
            "annual_limit = [{ from = \"2010-01-01\", value = 3000, cite = \"TEST\" }]",
            "annual_limit = [{ from = \"2010-01-01\", value = 3000, cite = \"\" }]",
        ),
        "policy.bad_citation",
        "chronic_disease I10, value 1: citation '' names no declared source",
    ),
    // ---- coverage: every required key, every combination, the whole period ----
    (
        "a required key removed entirely",
        VALID,
        Replace(DEDUCTIBLE, ""),
        "policy.missing_value",
        "param inpatient.deductible: no entry of inpatient.deductible covers",
    ),
    (
        "a required key whose first value starts after effective_from",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2011-01-01\", value = 1000, cite = \"TEST\" }]",
        ),
        "policy.missing_value",
        "inpatient.deductible (all) at line $LINE starts on 2011-01-01, after the pack's effective_from 2010-01-01",
    ),
    (
        "a required series that ends (until) before the pack does",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nvalues = [{ from = \"2010-01-01\", until = \"2029-12-31\", value = 1000, cite = \"TEST\" }]",
        ),
        "policy.missing_value",
        "inpatient.deductible (all) at line $LINE ends on 2029-12-31, before the pack does",
    ),
    (
        "a required key that only one scheme's entry covers",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nscheme = \"resident\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"TEST\" }]",
        ),
        "policy.missing_value",
        "no entry of inpatient.deductible covers region=419900, scheme=employee",
    ),
    (
        "a required key that only a county entry covers",
        VALID,
        Replace(
            DEDUCTIBLE,
            "[[param]]\nkey = \"inpatient.deductible\"\nregion = \"419901\"\nvalues = [{ from = \"2010-01-01\", value = 1000, cite = \"TEST\" }]",
        ),
        "policy.missing_value",
        "no entry of inpatient.deductible covers region=419900",
    ),
    (
        "a tiered pack without tier.upgrade_waiting_months",
        TIERS,
        Replace(
            r#"[[param]]
key = "tier.upgrade_waiting_months"
values = [{ from = "2020-01-01", value = 12, cite = "TIER §4" }]
[[param]]
key = "tier.upgrade_waiting_months"
tier = 2
"#,
            r#"[[param]]
key = "tier.upgrade_waiting_months"
tier = 2
"#,
        ),
        "policy.missing_value",
        "no entry of tier.upgrade_waiting_months covers region=419900, tier=1",
    ),
    (
        "a tiered pack with a tier no entry of a required key reaches",
        TIERS,
        Replace("[[param]]\nkey = \"resident.contribution\"\nvalues = [{ from = \"2020-01-01\", value = 200, cite = \"TIER §1\" }]\n", ""),
        "policy.missing_value",
        "no entry of resident.contribution covers region=419900, tier=1",
    ),
    (
        "a chronic disease limit that starts after effective_from",
        VALID,
        Replace(
            "annual_limit = [{ from = \"2010-01-01\", value = 3000, cite = \"TEST\" }]",
            "annual_limit = [{ from = \"2012-01-01\", value = 3000, cite = \"TEST\" }]",
        ),
        "policy.missing_value",
        "chronic disease I10 annual_limit starts on 2012-01-01",
    ),
    // ---- the pack header ----
    (
        "an unknown scheme name",
        VALID,
        Replace("schemes = [\"employee\",", "schemes = [\"dental\", \"employee\","),
        "policy.invalid",
        "pack.schemes: unknown scheme 'dental'",
    ),
    (
        "a scheme listed twice",
        VALID,
        Replace("schemes = [\"employee\",", "schemes = [\"employee\", \"employee\","),
        "policy.invalid",
        "pack.schemes: scheme 'employee' is listed twice",
    ),
    (
        "a pack without employee, resident or maternity insurance",
        VALID,
        Replace(
            "schemes = [\"employee\", \"resident\", \"maternity\", \"critical-illness\", \"supplementary\", \"medical-assistance\"]",
            "schemes = [\"supplementary\"]",
        ),
        "policy.invalid",
        "a pack needs employee, resident or maternity insurance",
    ),
    (
        "a pack region that is a county, not a city",
        VALID,
        Replace("region = \"419900\"", "region = \"419901\""),
        "policy.invalid",
        "pack.region: 419901 is not a city",
    ),
    (
        "a pack region that is a province, not a city",
        VALID,
        Replace("region = \"419900\"", "region = \"410000\""),
        "policy.invalid",
        "pack.region: 410000 is not a city",
    ),
    (
        "a pack id with capitals and '_'",
        VALID,
        Replace("id = \"test-base\"", "id = \"Test_Base\""),
        "policy.invalid",
        "pack.id: 'Test_Base' is not a pack id",
    ),
    (
        "an unknown rounding",
        VALID,
        Replace("rounding = \"half-up\"", "rounding = \"banker\""),
        "policy.invalid",
        "pack.rounding: 'banker' is not a rounding",
    ),
    (
        "an unknown service-date rule",
        VALID,
        Replace("service_date = \"admission\"", "service_date = \"midpoint\""),
        "policy.invalid",
        "pack.service_date: 'midpoint' is not a service-date rule",
    ),
    (
        "tiers for a scheme that is not basic",
        TIERS,
        Replace("resident = [1, 2, 3, 4]", "resident = [1, 2, 3, 4]\nmaternity = [1]"),
        "policy.invalid",
        "pack.tiers.maternity: tiers belong to a basic scheme",
    ),
    (
        "a tier 5 in pack.tiers",
        TIERS,
        Replace("resident = [1, 2, 3, 4]", "resident = [1, 2, 3, 5]"),
        "policy.invalid",
        "pack.tiers.resident: tier 5 does not exist",
    ),
    (
        "a tier listed twice in pack.tiers",
        TIERS,
        Replace("employee = [1, 2]", "employee = [1, 2, 2]"),
        "policy.invalid",
        "pack.tiers.employee: tier 2 is listed twice",
    ),
    (
        "tiers for one basic scheme but not the other",
        TIERS,
        Replace("resident = [1, 2, 3, 4]\n", ""),
        "policy.invalid",
        "the pack has tiers but none are listed for resident",
    ),
    // ---- sources ----
    (
        "a duplicate source id",
        VALID,
        Replace("[[source]]\nid = \"TEST\"", "[[source]]\nid = \"TEST\"\ntitle = \"Test parameters, again\"\n[[source]]\nid = \"TEST\""),
        "policy.invalid",
        "source 2 (TEST): source id 'TEST' is declared twice",
    ),
    (
        "a source id that claims the assumption prefix",
        VALID,
        Append("[[source]]\nid = \"assumption\"\ntitle = \"Everything\""),
        "policy.invalid",
        "'assumption' is reserved",
    ),
    (
        "a source id with a space",
        VALID,
        Append("[[source]]\nid = \"ZY 48\"\ntitle = \"资阳市\""),
        "policy.invalid",
        "a source id is one word without spaces",
    ),
    // ---- chronic diseases ----
    (
        "a duplicate chronic disease",
        VALID,
        Append(
            r#"
[[chronic_disease]]
code = "I10"
name_zh = "高血压（再次）"
name_en = "Hypertension again"
annual_limit = [{ from = "2010-01-01", value = 3500, cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "line $LINE, chronic_disease I10: chronic disease I10 is listed twice",
    ),
    (
        "a chronic disease code that is not an ICD-10 prefix",
        VALID,
        Append(
            r#"
[[chronic_disease]]
code = "I-10"
name_zh = "高血压"
name_en = "Hypertension"
annual_limit = [{ from = "2010-01-01", value = 3500, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "'I-10' is not an ICD-10 code prefix",
    ),
    (
        "a negative chronic-disease limit",
        VALID,
        Replace(
            "annual_limit = [{ from = \"2010-01-01\", value = 4000, cite = \"TEST\" }]",
            "annual_limit = [{ from = \"2010-01-01\", value = -4000, cite = \"TEST\" }]",
        ),
        "policy.negative_money",
        "chronic_disease E11, value 1: money may not be negative",
    ),
    // ---- families per scheme (issue 13) ----
    (
        "the two diseases' terms for residents given in part: no limit for diabetes",
        VALID,
        Append(
            r#"
[[param]]
key = "two_disease.deductible"
scheme = "resident"
values = [{ from = "2010-01-01", value = 0, cite = "TEST" }]
[[param]]
key = "two_disease.ratio"
scheme = "resident"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]
[[param]]
key = "two_disease.annual_limit.hypertension"
scheme = "resident"
values = [{ from = "2010-01-01", value = 300, cite = "TEST" }]
[[param]]
key = "two_disease.annual_limit.both"
scheme = "resident"
values = [{ from = "2010-01-01", value = 600, cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "no entry of two_disease.annual_limit.diabetes covers region=419900, scheme=resident",
    ),
    (
        "out-of-area care given both ways to the employees: their own terms and the pack-wide points",
        VALID,
        Append(
            r#"
[[param]]
key = "outofarea.deductible"
scheme = "employee"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
scheme = "employee"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "give out-of-area care one way",
    ),
    // ---- special drugs (特药) ----
    (
        "special drugs listed without their terms",
        VALID,
        Append(
            r#"
[[special_drug]]
code = "XL00000000B000000000008"
name_zh = "靶向特药"
name_en = "Targeted drug"
diseases = ["C50"]
from = "2010-01-01"
cite = "TEST""#,
        ),
        "policy.missing_value",
        "the pack lists special drugs but gives no special_drug.* terms",
    ),
    (
        "special-drug terms without a drug",
        VALID,
        Append(
            r#"
[[param]]
key = "special_drug.deductible"
values = [{ from = "2010-01-01", value = 0, cite = "TEST" }]
[[param]]
key = "special_drug.ratio"
values = [{ from = "2010-01-01", value = "60%", cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "the pack gives special_drug.* terms but lists no [[special_drug]]",
    ),
    (
        "a special drug that is not a medicine code",
        VALID,
        Append(
            r#"
[[special_drug]]
code = "001201000010000"
name_zh = "床位费"
name_en = "Bed"
diseases = ["C50"]
from = "2010-01-01"
cite = "TEST""#,
        ),
        "policy.invalid",
        "'001201000010000' is not a national medicine code",
    ),
    (
        "a special drug listed twice on the same days",
        VALID,
        Append(
            r#"
[[param]]
key = "special_drug.deductible"
values = [{ from = "2010-01-01", value = 0, cite = "TEST" }]
[[param]]
key = "special_drug.ratio"
values = [{ from = "2010-01-01", value = "60%", cite = "TEST" }]
[[special_drug]]
code = "XL00000000B000000000008"
name_zh = "靶向特药"
name_en = "Targeted drug"
diseases = ["C50"]
from = "2010-01-01"
until = "2020-12-31"
cite = "TEST"
[[special_drug]]
code = "XL00000000B000000000008"
name_zh = "靶向特药"
name_en = "Targeted drug"
diseases = ["C50", "C16"]
from = "2020-06-01"
cite = "TEST""#,
        ),
        "policy.overlap",
        "special drug XL00000000B000000000008 is already listed from 2010-01-01",
    ),
    (
        "a special drug without a disease or a citation",
        VALID,
        Append(
            r#"
[[special_drug]]
code = "XL00000000B000000000008"
name_zh = "靶向特药"
name_en = "Targeted drug"
diseases = []
from = "2010-01-01"
cite = "nobody"
"#,
        ),
        "policy.invalid",
        "a special drug lists 1 to 64 diseases it is paid for",
    ),
    (
        "a special drug's disease in lower case, which no register entry could match",
        VALID,
        Append(
            r#"
[[special_drug]]
code = "XL00000000B000000000008"
name_zh = "靶向特药"
name_en = "Targeted drug"
diseases = ["c50"]
from = "2010-01-01"
cite = "TEST""#,
        ),
        "policy.invalid",
        "'c50' is not an ICD-10 code prefix",
    ),
    (
        "a residents' insurance type that is not one",
        VALID,
        Replace("service_date = \"admission\"", "service_date = \"admission\"\nresident_insutype = \"392\""),
        "policy.invalid",
        "'392' is not a residents' insurance type: 390 (城乡居民), 380 (新农合) or 391 (城镇居民)",
    ),
    // ---- single diseases at a fixed price ----
    (
        "single diseases listed without the fund's share of their price",
        VALID,
        Append(
            r#"
[[single_disease]]
code = "K35"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 4000, cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "the pack lists single diseases but gives no single_disease.ratio",
    ),
    (
        "the fund's share of single diseases without a disease to price",
        VALID,
        Append(
            r#"
[[param]]
key = "single_disease.ratio"
values = [{ from = "2010-01-01", value = "70%", cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "the pack gives single_disease.ratio but lists no [[single_disease]] with its price",
    ),
    (
        "a single disease priced at a level that does not exist",
        VALID,
        Append(
            r#"
[[param]]
key = "single_disease.ratio"
values = [{ from = "2010-01-01", value = "70%", cite = "TEST" }]
[[single_disease]]
code = "K35"
level = "county"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 4000, cite = "TEST" }]"#,
        ),
        "policy.invalid",
        "level 'county' is not township, primary, secondary or tertiary",
    ),
    (
        "a single disease priced twice for one level",
        VALID,
        Append(
            r#"
[[param]]
key = "single_disease.ratio"
values = [{ from = "2010-01-01", value = "70%", cite = "TEST" }]
[[single_disease]]
code = "K35"
level = "tertiary"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 5500, cite = "TEST" }]
[[single_disease]]
code = "K35"
level = "tertiary"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 5000, cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "single disease K35 is listed twice for one level",
    ),
    (
        "a longer single-disease code priced for every level beside a shorter one's own price at a level",
        VALID,
        Append(
            r#"
[[param]]
key = "single_disease.ratio"
values = [{ from = "2010-01-01", value = "70%", cite = "TEST" }]
[[single_disease]]
code = "K35"
level = "tertiary"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 5500, cite = "TEST" }]
[[single_disease]]
code = "K35.9"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2010-01-01", value = 4500, cite = "TEST" }]"#,
        ),
        "policy.overlap",
        "a tertiary stay of K35.9 matches K35 at tertiary and K35.9 for every level: price K35.9 at tertiary too",
    ),
    (
        "a single disease's price that starts after effective_from",
        VALID,
        Append(
            r#"
[[param]]
key = "single_disease.ratio"
values = [{ from = "2010-01-01", value = "70%", cite = "TEST" }]
[[single_disease]]
code = "K35"
name_zh = "急性阑尾炎"
name_en = "Acute appendicitis"
price = [{ from = "2012-01-01", value = 4000, cite = "TEST" }]"#,
        ),
        "policy.missing_value",
        "single disease K35 price starts on 2012-01-01",
    ),
    // ---- catalogue ----
    (
        "a duplicate catalogue item",
        VALID,
        Append("[[item]]\ncode = \"XA00000000A000000000001\"\nname = \"甲类药品 again\"\nclass = \"A\""),
        "policy.overlap",
        "line $LINE: catalogue item XA00000000A000000000001 is listed twice",
    ),
    (
        "a class C item with selfpay_share",
        VALID,
        Replace(
            "name = \"丙类中成药 (class C patent medicine)\"\nclass = \"C\"",
            "name = \"丙类中成药 (class C patent medicine)\"\nclass = \"C\"\nselfpay_share = \"10%\"",
        ),
        "policy.invalid",
        "item ZC000000000000000004: selfpay_share applies to class B items only",
    ),
    (
        "a negotiated item without its negotiated price",
        VALID,
        Append("[[item]]\ncode = \"XA00000000A000000000098\"\nname = \"谈判药品\"\nclass = \"B\"\nnegotiated = true"),
        "policy.invalid",
        "line $LINE, item XA00000000A000000000098: a negotiated item (谈判药品) carries its negotiated price as its price_cap",
    ),
    (
        "a class A item with selfpay_share",
        VALID,
        Append("[[item]]\ncode = \"XA00000000A000000000099\"\nname = \"甲类\"\nclass = \"A\"\nselfpay_share = \"10%\""),
        "policy.invalid",
        "line $LINE, item XA00000000A000000000099: selfpay_share applies to class B items only",
    ),
    (
        "a catalogue class that is not A, B or C",
        VALID,
        Append("[[item]]\ncode = \"XD00000000A000000000099\"\nname = \"丁类\"\nclass = \"D\""),
        "policy.invalid",
        "class 'D' is not A, B or C",
    ),
    (
        "a catalogue code in lower case",
        VALID,
        Append("[[item]]\ncode = \"xa00000000a000000000099\"\nname = \"甲类\"\nclass = \"A\""),
        "policy.invalid",
        "'xa00000000a000000000099' is not a catalogue code",
    ),
    (
        "a negative price cap",
        VALID,
        Replace("price_cap = { primary = 30,", "price_cap = { primary = -30,"),
        "policy.negative_money",
        "item 001201000010000: money may not be negative",
    ),
    (
        "a price cap for an unknown level",
        VALID,
        Replace("price_cap = { primary = 30,", "price_cap = { community = 25, primary = 30,"),
        "policy.invalid",
        "price_cap level 'community' is not township, primary, secondary or tertiary",
    ),
    (
        "a selfpay_share over 100%",
        VALID,
        Replace("selfpay_share = \"20%\"", "selfpay_share = \"120%\""),
        "policy.ratio_over_100",
        "item XB00000000A000000000003: a ratio may not exceed 100%",
    ),
];

/// Applies `edit` to `base`: the mutated text and the 1-based line where the edit starts.
fn apply(base: &str, edit: Edit) -> Result<(String, usize), String> {
    let line_at = |text: &str, offset: usize| text[..offset].bytes().filter(|b| *b == b'\n').count() + 1;
    match edit {
        Replace(old, new) => {
            let count = base.matches(old).count();
            if count != 1 {
                return Err(format!("the text to replace occurs {count} times in the base, not once: {old:?}"));
            }
            let offset = base.find(old).unwrap_or_default();
            Ok((base.replacen(old, new, 1), line_at(base, offset)))
        }
        Append(snippet) => {
            let mut text = base.to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let offset = text.len();
            text.push_str(snippet.trim_start_matches('\n'));
            text.push('\n');
            Ok((text.clone(), line_at(&text, offset)))
        }
    }
}

/// Replaces every `$LINE` or `$LINE+n` in `needle` by the line number.
fn resolve(needle: &str, line: usize) -> String {
    let mut out = String::new();
    let mut rest = needle;
    while let Some(at) = rest.find("$LINE") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "$LINE".len()..];
        let mut value = line;
        if let Some(after) = rest.strip_prefix('+') {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            value += after[..digits].parse::<usize>().unwrap_or(0);
            rest = &after[digits..];
        }
        out.push_str(&value.to_string());
    }
    out.push_str(rest);
    out
}

/// The one helper every refusal case goes through: mutate `base`, load it, and demand an
/// error with `code` whose full text (`file: place: message [code]`) contains `needle`.
fn check(base: &str, edit: Edit, code: &str, needle: &str) -> Result<(), String> {
    let (text, line) = apply(base, edit)?;
    let needle = resolve(needle, line);
    match Policy::from_toml("case.toml", &text) {
        Ok(_) => Err(format!("loaded without an error; expected {code} containing {needle:?}")),
        Err(PolicyErrors(errors)) => {
            let found = errors.iter().any(|e| e.kind.code() == code && e.to_string().contains(&needle) && e.file == "case.toml");
            if found {
                Ok(())
            } else {
                let listed: Vec<String> = errors.iter().map(|e| format!("      {e}")).collect();
                Err(format!("expected {code} containing {needle:?}; got:\n{}", listed.join("\n")))
            }
        }
    }
}

#[test]
fn refusals() {
    let names: BTreeSet<&str> = CASES.iter().map(|case| case.0).collect();
    assert_eq!(names.len(), CASES.len(), "case names must be unique");
    assert!(CASES.len() >= 30, "only {} cases", CASES.len());
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|&(name, base, edit, code, needle)| check(base, edit, code, needle).err().map(|why| format!("  {name}: {why}")))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

// ---- what the loader accepts, and how lookups choose ----

/// `base` with every edit applied in turn; an edit that does not apply panics.
fn edited(base: &str, edits: &[Edit]) -> String {
    edits.iter().fold(base.to_owned(), |text, &edit| apply(&text, edit).unwrap_or_else(|why| panic!("{why}")).0)
}

fn load(text: &str) -> Policy {
    Policy::from_toml("test.toml", text).unwrap_or_else(|errors| panic!("the pack should load:\n{errors}"))
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap_or_else(|e| panic!("{e}"))
}

fn tier(n: u8) -> Tier {
    Tier::new(n).unwrap_or_else(|e| panic!("{e}"))
}

/// A person of `scheme` in `region_code`, at a hospital of `level`.
fn query(region_code: &str, scheme: Scheme, level: InstitutionLevel) -> Query {
    let category = if scheme == Scheme::Employee { PersonCategory::Employed } else { PersonCategory::Resident };
    Query { region: Some(region(region_code)), scheme: Some(scheme), level: Some(level), category: Some(category), ..Query::default() }
}

#[test]
fn the_valid_packs_load() {
    let valid = load(VALID);
    assert_eq!(valid.region, region("419900"));
    assert_eq!(valid.effective_from, date!(2010 - 01 - 01));
    assert_eq!(valid.schemes.len(), 6);
    assert!(!valid.has_tiers());
    assert_eq!(valid.chronic_diseases.len(), 2);
    assert_eq!(valid.catalogue().count(), 8);
    assert_eq!(valid.source_title("TEST"), Some("Test parameters"));

    let tiered = load(TIERS);
    assert!(tiered.has_tiers());
    assert_eq!(tiered.tiers_for(Scheme::Employee), &[tier(1), tier(2)]);
    assert_eq!(tiered.tiers_for(Scheme::Resident), &[tier(1), tier(2), tier(3), tier(4)]);
    let on = date!(2024 - 06 - 01);
    let resident = |t: u8| Query { region: Some(region("419900")), tier: Some(tier(t)), ..Query::default() };
    let contribution = |t: u8| tiered.money(ParamKey::ResidentContribution, &resident(t), on).map(|f| f.value);
    assert_eq!(contribution(1), Ok(Fen::yuan(200)));
    assert_eq!(contribution(3), Ok(Fen::yuan(600)));
    let wait = tiered.count(ParamKey::TierUpgradeWaitingMonths, &resident(2), on).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((wait.value, wait.cite), (6, "assumption: the second tier is the hardship tier, so its wait is the shortest allowed"));
    assert_eq!(tiered.count(ParamKey::TierUpgradeWaitingMonths, &resident(1), on).map(|f| f.value), Ok(12));
    let ratio = |t: u8| {
        let q = Query { tier: Some(tier(t)), ..query("419900", Scheme::Resident, InstitutionLevel::Secondary) };
        tiered.bands(ParamKey::InpatientRatio, &q, on).unwrap_or_else(|e| panic!("{e}")).value
    };
    assert_eq!(ratio(1).single_ratio(), Some(RatioBp::new(7_000)));
    assert_eq!(ratio(4).as_slice().len(), 2);
}

#[test]
fn accepted_forms_load() {
    let text = edited(
        VALID,
        &[
            // Contiguous dated values (until, then the next day), a TOML date literal, a
            // string amount with decimals, a cited clause and an assumption with a reason.
            Replace(
                DEDUCTIBLE,
                r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = 2010-01-01, until = 2019-12-31, value = "999.50", cite = "TEST §3(1)" },
  { from = "2020-01-01", value = 1000, cite = "assumption: the 2020 notice keeps the figure" },
]"#,
            ),
            // A ratio with decimals, bands on a "ratio or bands" key, and a tie between a tier-free
            // level entry and a category entry resolved by an entry naming both.
            Append(
                r#"
[[param]]
key = "outpatient.ratio"
level = "primary"
values = [{ from = "2010-01-01", value = "7.5%", cite = "TEST" }]
[[param]]
key = "outpatient.ratio"
category = "retired"
values = [{ from = "2010-01-01", value = "60%", cite = "TEST" }]
[[param]]
key = "outpatient.ratio"
level = "primary"
category = "retired"
values = [{ from = "2010-01-01", value = "65%", cite = "TEST" }]
[[param]]
key = "inpatient.ratio"
scheme = "employee"
values = [{ from = "2010-01-01", value = [{ above = 0, ratio = "85%" }, { above = 50000, ratio = "90%" }, { above = 100000, ratio = "92%" }, { above = 200000, ratio = "95%" }], cite = "TEST" }]"#,
            ),
        ],
    );
    let policy = load(&text);
    let q = query("419901", Scheme::Employee, InstitutionLevel::Primary);
    let deductible = |on| policy.money(ParamKey::InpatientDeductible, &q, on).map(|f| f.value);
    assert_eq!(deductible(date!(2019 - 12 - 31)), Ok(Fen::new(99_950)));
    assert_eq!(deductible(date!(2020 - 01 - 01)), Ok(Fen::yuan(1000)));
    let outpatient = |category| {
        let q = Query { category: Some(category), ..q };
        policy.ratio(ParamKey::OutpatientRatio, &q, date!(2024 - 01 - 01)).map(|f| f.value)
    };
    assert_eq!(outpatient(PersonCategory::Employed), Ok(RatioBp::new(750)));
    assert_eq!(outpatient(PersonCategory::Retired), Ok(RatioBp::new(6_500)));
    let bands = policy.bands(ParamKey::InpatientRatio, &q, date!(2024 - 01 - 01)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bands.value.as_slice().len(), 4);
}

/// Medical assistance is only ever paid to a person in an assistance group (the engine asks
/// for `assistance.ratio` only then), and docs/policy-packs.md lists the group values as
/// destitute, dibao, low-income, impoverished-by-illness, registered-poor. A pack that gives
/// the ratio and limit for every one of the five groups resolves the keys for "every combination of the
/// listed dimensions" and must load.
#[test]
fn assistance_given_per_group_for_every_group_loads() {
    let per_group = |key: &str, values: [&str; 5]| {
        let groups = ["destitute", "dibao", "low-income", "impoverished-by-illness", "registered-poor"];
        groups
            .iter()
            .zip(values)
            .map(|(group, value)| format!("[[param]]\nkey = \"{key}\"\ngroup = \"{group}\"\nvalues = [{{ from = \"2010-01-01\", value = {value}, cite = \"TEST\" }}]\n"))
            .collect::<String>()
    };
    let ratio = per_group("assistance.ratio", ["\"100%\"", "\"70%\"", "\"60%\"", "\"50%\"", "\"55%\""]);
    let limit = per_group("assistance.annual_limit", ["80000", "50000", "40000", "30000", "35000"]);
    let text = VALID
        .replacen(
            "[[param]]\nkey = \"assistance.ratio\"\nvalues = [{ from = \"2010-01-01\", value = \"70%\", cite = \"TEST\" }]\n",
            &ratio,
            1,
        )
        .replacen(
            "[[param]]\nkey = \"assistance.annual_limit\"\nvalues = [{ from = \"2010-01-01\", value = 50000, cite = \"TEST\" }]\n",
            &limit,
            1,
        );
    assert_eq!(text.matches("key = \"assistance.ratio\"").count(), 5, "the fixture changed");
    let policy = load(&text);
    let q = Query { region: Some(region("419900")), group: Some(AssistanceGroup::Dibao), ..Query::default() };
    assert_eq!(policy.ratio(ParamKey::AssistanceRatio, &q, date!(2024 - 01 - 01)).map(|f| f.value), Ok(RatioBp::new(7_000)));
}

#[test]
fn a_county_entry_beats_a_city_entry_that_names_more_dimensions() {
    let policy = load(&edited(
        VALID,
        &[Append(
            r#"
[[param]]
key = "inpatient.deductible"
scheme = "resident"
level = "tertiary"
category = "resident"
values = [{ from = "2010-01-01", value = 2000, cite = "TEST §2" }]
[[param]]
key = "inpatient.deductible"
region = "419901"
values = [{ from = "2010-01-01", value = 500, cite = "TEST §3" }]"#,
        )],
    ));
    let on = date!(2024 - 01 - 01);
    let found = |region_code, scheme| {
        let found = policy
            .money(ParamKey::InpatientDeductible, &query(region_code, scheme, InstitutionLevel::Tertiary), on)
            .unwrap_or_else(|e| panic!("{e}"));
        (found.value, found.cite)
    };
    assert_eq!(found("419901", Scheme::Resident), (Fen::yuan(500), "TEST §3"));
    assert_eq!(found("419901", Scheme::Employee), (Fen::yuan(500), "TEST §3"));
    assert_eq!(found("419902", Scheme::Resident), (Fen::yuan(2000), "TEST §2"));
    assert_eq!(found("419900", Scheme::Resident), (Fen::yuan(2000), "TEST §2"));
    assert_eq!(found("419900", Scheme::Employee), (Fen::yuan(1000), "TEST"));
}

#[test]
fn a_tier_and_level_entry_beats_a_tier_entry() {
    let policy = load(&edited(
        TIERS,
        &[Append(
            r#"
[[param]]
key = "inpatient.deductible"
tier = 2
values = [{ from = "2020-01-01", value = 800, cite = "TIER §6" }]
[[param]]
key = "inpatient.deductible"
tier = 2
level = "tertiary"
values = [{ from = "2020-01-01", value = 1200, cite = "TIER §7" }]"#,
        )],
    ));
    let on = date!(2024 - 01 - 01);
    let deductible = |t: u8, level| {
        let q = Query { tier: Some(tier(t)), ..query("419900", Scheme::Resident, level) };
        let found = policy.money(ParamKey::InpatientDeductible, &q, on).unwrap_or_else(|e| panic!("{e}"));
        (found.value, found.cite)
    };
    assert_eq!(deductible(2, InstitutionLevel::Tertiary), (Fen::yuan(1200), "TIER §7"));
    assert_eq!(deductible(2, InstitutionLevel::Primary), (Fen::yuan(800), "TIER §6"));
    assert_eq!(deductible(1, InstitutionLevel::Tertiary), (Fen::yuan(1000), "TIER §5"));
}

#[test]
fn values_are_chosen_by_date() {
    let policy = load(&edited(
        VALID,
        &[
            Replace("effective_from = \"2010-01-01\"", "effective_from = \"2010-01-01\"\neffective_until = \"2030-12-31\""),
            Replace(
                DEDUCTIBLE,
                r#"[[param]]
key = "inpatient.deductible"
values = [
  { from = "2010-01-01", until = "2019-12-31", value = 1000, cite = "TEST §1" },
  { from = "2020-01-01", value = 1100, cite = "TEST §2" },
  { from = "2025-07-01", until = "2030-12-31", value = 1200, cite = "TEST §3" },
]"#,
            ),
        ],
    ));
    let q = query("419900", Scheme::Resident, InstitutionLevel::Secondary);
    let on = |date| policy.money(ParamKey::InpatientDeductible, &q, date).map(|f| (f.value, f.cite, f.from)).map_err(|e| e.failure);
    assert_eq!(on(date!(2009 - 12 - 31)), Err(LookupFailure::BeforeFirst { first: date!(2010 - 01 - 01) }));
    assert_eq!(on(date!(2010 - 01 - 01)), Ok((Fen::yuan(1000), "TEST §1", Some(date!(2010 - 01 - 01)))));
    assert_eq!(on(date!(2019 - 12 - 31)), Ok((Fen::yuan(1000), "TEST §1", Some(date!(2010 - 01 - 01)))));
    assert_eq!(on(date!(2020 - 01 - 01)), Ok((Fen::yuan(1100), "TEST §2", Some(date!(2020 - 01 - 01)))));
    assert_eq!(on(date!(2025 - 06 - 30)), Ok((Fen::yuan(1100), "TEST §2", Some(date!(2020 - 01 - 01)))));
    assert_eq!(on(date!(2025 - 07 - 01)), Ok((Fen::yuan(1200), "TEST §3", Some(date!(2025 - 07 - 01)))));
    assert_eq!(on(date!(2030 - 12 - 31)), Ok((Fen::yuan(1200), "TEST §3", Some(date!(2025 - 07 - 01)))));
    assert_eq!(on(date!(2031 - 01 - 01)), Err(LookupFailure::Ended { until: date!(2030 - 12 - 31) }));
    // A typed lookup of the wrong type is refused, not a panic.
    assert_eq!(
        policy.ratio(ParamKey::InpatientDeductible, &q, date!(2024 - 01 - 01)).map_err(|e| e.failure),
        Err(LookupFailure::WrongType)
    );
    // A key the pack does not hold for the query.
    let lookup = policy.lookup(ParamKey::InpatientDeductibleRepeat, &q, date!(2024 - 01 - 01));
    assert_eq!(lookup.map(|f| f.value).map_err(|e| e.failure), Err(LookupFailure::NoEntry));
    let untyped = policy.lookup(ParamKey::InpatientDeductible, &q, date!(2024 - 01 - 01)).map(|f| f.value);
    assert_eq!(untyped.map_err(|e| e.failure), Ok(Value::Money(Fen::yuan(1100))));
}

#[test]
fn optional_keys_fall_back_to_their_defaults() {
    let policy = load(&edited(
        VALID,
        &[Append(
            r#"
[[param]]
key = "inpatient.unreferred_reduction"
level = "tertiary"
values = [{ from = "2015-01-01", until = "2019-12-31", value = "10%", cite = "TEST §9" }]"#,
        )],
    ));
    let on = date!(2024 - 01 - 01);
    let q = query("419900", Scheme::Resident, InstitutionLevel::Tertiary);

    // Left out of the pack: the default, cited "default", with no date.
    let repeat = policy.money_or(ParamKey::InpatientDeductibleRepeat, &q, on, Fen::yuan(1000)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((repeat.value, repeat.cite, repeat.from), (Fen::yuan(1000), "default", None));
    let annual = policy.money_or(ParamKey::InpatientDeductibleAnnualMax, &q, on, Fen::yuan(7)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((annual.value, annual.cite), (Fen::yuan(7), "default"));

    // Held per group: the pack's value for a listed group, the default for another.
    let share = |group| {
        let q = Query { group: Some(group), ..Query::default() };
        let found = policy.ratio_or(ParamKey::ResidentAssistedShare, &q, on, RatioBp::ZERO).unwrap_or_else(|e| panic!("{e}"));
        (found.value, found.cite)
    };
    assert_eq!(share(AssistanceGroup::Destitute), (RatioBp::FULL, "TEST"));
    assert_eq!(share(AssistanceGroup::Dibao), (RatioBp::new(7_000), "TEST"));
    assert_eq!(share(AssistanceGroup::LowIncome), (RatioBp::ZERO, "default"));
    let poor = Query { group: Some(AssistanceGroup::Destitute), ..Query::default() };
    let threshold = policy.ratio_or(ParamKey::CriticalPoorThresholdShare, &poor, on, RatioBp::FULL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((threshold.value, threshold.cite), (RatioBp::FULL, "default"));
    let waived = policy.flag_or(ParamKey::InpatientDeductibleWaived, &poor, on, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((waived.value, waived.cite), (false, "default"));

    // Held only for some dates: the value inside them, the default before and after.
    let reduction = |date| {
        let found = policy.ratio_or(ParamKey::InpatientUnreferredReduction, &q, date, RatioBp::ZERO).unwrap_or_else(|e| panic!("{e}"));
        (found.value, found.cite)
    };
    assert_eq!(reduction(date!(2014 - 12 - 31)), (RatioBp::ZERO, "default"));
    assert_eq!(reduction(date!(2017 - 01 - 01)), (RatioBp::new(1_000), "TEST §9"));
    assert_eq!(reduction(date!(2020 - 01 - 01)), (RatioBp::ZERO, "default"));
}

#[test]
fn every_error_in_a_file_is_reported_at_once() {
    let text = edited(
        VALID,
        &[Append(
            r#"
[[param]]
key = "inpatient.deductable"
values = [{ from = "2010-01-01", value = 800, cite = "TEST" }]
[[param]]
key = "inpatient.deductible_repeat"
values = [{ from = "2010-01-01", value = -5, cite = "TEST" }]
[[param]]
key = "pooled.annual_cap"
level = "tertiary"
values = [{ from = "2010-01-01", value = 250000, cite = "TEST" }]
[[param]]
key = "outpatient.ratio"
scheme = "resident"
values = [{ from = "2010-01-01", value = "55%", cite = "" }]
[[item]]
code = "XA00000000A000000000001"
name = "甲类药品 again"
class = "A""#,
        )],
    );
    let errors = match Policy::from_toml("three.toml", &text) {
        Ok(_) => panic!("a pack with five problems loaded"),
        Err(PolicyErrors(errors)) => errors,
    };
    let codes: BTreeSet<&str> = errors.iter().map(|e| e.kind.code()).collect();
    let expected = ["policy.unknown_key", "policy.negative_money", "policy.dimension_not_allowed", "policy.bad_citation", "policy.overlap"];
    assert!(errors.len() >= 5, "expected every problem, got:\n{}", PolicyErrors(errors.clone()));
    for code in expected {
        assert!(codes.contains(code), "{code} is missing from:\n{}", PolicyErrors(errors.clone()));
    }
    assert!(errors.iter().all(|e| e.file == "three.toml"));
    // One line per error, each naming the file and its code.
    let shown = PolicyErrors(errors.clone()).to_string();
    assert_eq!(shown.lines().count(), errors.len());
    assert!(shown.lines().all(|line| line.starts_with("three.toml: ") && line.ends_with(']')));
}

proptest! {
    /// For any series of dated values (increasing `from`, no `until`), the lookup on any
    /// date gives the value whose `from` is the latest on or before that date, and a date
    /// before the first value is `BeforeFirst`.
    #[test]
    fn lookup_takes_the_latest_from_on_or_before_the_date(
        steps in prop::collection::vec((1i64..800, 0i64..100_000_000, any::<bool>()), 1..8),
        probe in 0i64..6_000,
    ) {
        let start = date!(2010 - 01 - 01);
        let mut from = start;
        let mut series: Vec<(Date, Fen)> = Vec::new();
        let mut values = String::new();
        for (index, &(gap, fen, as_string)) in steps.iter().enumerate() {
            from += Duration::days(gap);
            let written = if as_string { format!("\"{}.{:02}\"", fen / 100, fen % 100) } else { (fen / 100).to_string() };
            let fen = if as_string { fen } else { fen / 100 * 100 };
            values.push_str(&format!("  {{ from = \"{from}\", value = {written}, cite = \"TEST §{index}\" }},\n"));
            series.push((from, Fen::new(fen)));
        }
        let text = format!("{VALID}\n[[param]]\nkey = \"inpatient.deductible_repeat\"\nvalues = [\n{values}]\n");
        let policy = Policy::from_toml("generated.toml", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let date = start + Duration::days(probe);
        let q = query("419900", Scheme::Employee, InstitutionLevel::Primary);
        let got = policy.money(ParamKey::InpatientDeductibleRepeat, &q, date);
        match series.iter().enumerate().rev().find(|(_, (from, _))| *from <= date) {
            Some((index, &(from, fen))) => {
                let found = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let cite = format!("TEST §{index}");
                prop_assert_eq!((found.value, found.cite, found.from), (fen, cite.as_str(), Some(from)));
            }
            None => prop_assert_eq!(got.map(|f| f.value).map_err(|e| e.failure), Err(LookupFailure::BeforeFirst { first: series[0].0 })),
        }
    }
}

/// Issue 13: a township health centre has its own values for a key whose entries name
/// `township`, and the primary level's for any other key; a township price cap may be
/// given, or is the primary one.
#[test]
fn a_township_centre_takes_primary_values_unless_a_township_entry_is_as_specific() {
    let policy = load(&edited(
        VALID,
        &[Append(
            r#"
[[param]]
key = "inpatient.deductible"
level = "primary"
values = [{ from = "2010-01-01", value = 400, cite = "TEST" }]
[[param]]
key = "inpatient.deductible"
level = "township"
values = [{ from = "2010-01-01", value = 200, cite = "TEST" }]
[[param]]
key = "inpatient.unreferred_reduction"
level = "primary"
values = [{ from = "2010-01-01", value = "5%", cite = "TEST" }]
[[item]]
code = "001201000010009"
name = "床位费 (bed)"
class = "A"
price_cap = { township = 20, primary = 30, secondary = 40 }"#,
        )],
    ));
    let on = date!(2024 - 01 - 01);
    let deductible = |level| policy.money(ParamKey::InpatientDeductible, &query("419900", Scheme::Resident, level), on).map(|f| f.value);
    assert_eq!(deductible(InstitutionLevel::Township), Ok(Fen::yuan(200)));
    assert_eq!(deductible(InstitutionLevel::Primary), Ok(Fen::yuan(400)));
    let reduction =
        |level| policy.ratio_or(ParamKey::InpatientUnreferredReduction, &query("419900", Scheme::Resident, level), on, RatioBp::ZERO);
    assert_eq!(reduction(InstitutionLevel::Township).map(|f| f.value), Ok(RatioBp::new(500)), "no entry names township: primary's");
    assert_eq!(reduction(InstitutionLevel::Secondary).map(|f| f.value), Ok(RatioBp::ZERO));
    let bed = policy.catalogue_item(&ItemCode::parse("001201000010009").expect("code")).expect("item");
    assert_eq!(bed.price_cap_at(InstitutionLevel::Township), Some(Fen::yuan(20)));
    let other = policy.catalogue_item(&ItemCode::parse("001201000010000").expect("code")).expect("the valid pack's bed");
    assert_eq!(other.price_cap_at(InstitutionLevel::Township), other.price_cap_at(InstitutionLevel::Primary));
}

/// Families are offered per basic scheme (issue 13): the employees' out-of-area terms of
/// their own beside the residents' points off, and the two diseases' terms for residents
/// only, load; the pack says which scheme is offered what.
#[test]
fn families_are_offered_per_scheme() {
    let text = edited(
        VALID,
        &[
            Replace("key = \"outofarea.reduction_referred\"\n", "key = \"outofarea.reduction_referred\"\nscheme = \"resident\"\n"),
            Replace("key = \"outofarea.reduction_unreferred\"\n", "key = \"outofarea.reduction_unreferred\"\nscheme = \"resident\"\n"),
            Append(
                r#"
[[param]]
key = "outofarea.deductible"
scheme = "employee"
values = [{ from = "2010-01-01", value = 3000, cite = "TEST" }]
[[param]]
key = "outofarea.ratio"
scheme = "employee"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]
[[param]]
key = "two_disease.deductible"
scheme = "resident"
values = [{ from = "2010-01-01", value = 0, cite = "TEST" }]
[[param]]
key = "two_disease.ratio"
scheme = "resident"
values = [{ from = "2010-01-01", value = "50%", cite = "TEST" }]
[[param]]
key = "two_disease.annual_limit.hypertension"
scheme = "resident"
values = [{ from = "2010-01-01", value = 300, cite = "TEST" }]
[[param]]
key = "two_disease.annual_limit.diabetes"
scheme = "resident"
values = [{ from = "2010-01-01", value = 480, cite = "TEST" }]
[[param]]
key = "two_disease.annual_limit.both"
scheme = "resident"
values = [{ from = "2010-01-01", value = 780, cite = "TEST" }]"#,
            ),
        ],
    );
    let policy = load(&text);
    use yibao_policy::Family;
    assert!(policy.offers_to(Family::OutOfAreaFlat, Scheme::Employee));
    assert!(!policy.offers_to(Family::OutOfAreaFlat, Scheme::Resident));
    assert!(policy.offers_to(Family::TwoDisease, Scheme::Resident));
    assert!(!policy.offers_to(Family::TwoDisease, Scheme::Employee));
    assert!(policy.offers(Family::TwoDisease) && !policy.offers(Family::SpecialDrug));
    assert_eq!(policy.resident_insutype.code(), "390", "the default");
}
