//! Each transaction (`infno`): its input nodes read, one use case called, its output nodes
//! written. Node and field names are the specification's; amounts are answered as numbers
//! in yuan, dates `yyyy-MM-dd`, times `yyyy-MM-dd HH:mm:ss` (Beijing time).
//!
//! Where Yibao's rules ask more than the specification's minimum, the message says so in
//! its refusal: a person is identified by the national ID **and** the card (`mdtrt_cert_type`
//! 02 with `card_sn`, or 03 with `certno`) wherever the specification lets a message name a
//! person for the first time (1101, 2001, 2201, 2401), so the interface is no
//! insured-or-not oracle; `psn_no` is the national ID.

use serde_json::{Value, json};
use time::Date;
use yibao_app::interface::{
    CatalogueKind, DetailDifference, Fee, FeeSelector, NewVisit, ReconciliationRow, ReconciliationTotals, SettlementList, StatedSplit,
    Visit, VisitChange, VisitStatus, check_regions,
};
use yibao_app::{App, AppError, ClaimLine, Delivery, LineSettlement, LineVerdict, Principal, Quantity};
use yibao_domain::{ClaimKind, DeliveryKind, Fen, ItemCode, NationalId, RegionCode, Sex};

use crate::node::{Node, bad};

/// Every transaction this edge answers, for refusals and the README.
pub const TRANSACTIONS: &[(&str, &str)] = &[
    ("1101", "人员信息获取 person information"),
    ("1301", "西药中成药目录下载 medicines catalogue"),
    ("1305", "医疗服务项目目录下载 service items catalogue"),
    ("1306", "医用耗材目录下载 consumables catalogue"),
    ("1309", "门诊慢特病种目录下载 chronic and special diseases"),
    ("1312", "医保目录信息查询 catalogue query"),
    ("1318", "医保目录限价信息查询 price caps"),
    ("2001", "人员待遇享受检查 entitlement check"),
    ("2201", "门诊挂号 outpatient registration"),
    ("2202", "门诊挂号撤销 registration cancellation"),
    ("2203", "门诊就诊信息上传 visit information"),
    ("2204", "门诊费用明细信息上传 outpatient fee lines"),
    ("2205", "门诊费用明细信息撤销 outpatient fee lines cancellation"),
    ("2206", "门诊预结算 outpatient pre-settlement"),
    ("2207", "门诊结算 outpatient settlement"),
    ("2208", "门诊结算撤销 outpatient settlement cancellation"),
    ("2301", "住院费用明细信息上传 inpatient fee lines"),
    ("2302", "住院费用明细信息撤销 inpatient fee lines cancellation"),
    ("2303", "住院预结算 inpatient pre-settlement"),
    ("2304", "住院结算 inpatient settlement"),
    ("2305", "住院结算撤销 inpatient settlement cancellation"),
    ("2401", "入院办理 admission"),
    ("2402", "出院办理 discharge"),
    ("2403", "入院信息变更 admission change"),
    ("2404", "入院办理撤销 admission cancellation"),
    ("2405", "出院撤销 discharge cancellation"),
    ("2501", "转院备案 referral filing"),
    ("2502", "转院备案撤销 referral cancellation"),
    ("2601", "冲正交易 reversal by omsgid"),
    ("3201", "医药机构费用结算对总账 reconciliation of totals"),
    ("3202", "医药机构费用结算对明细账 reconciliation of details"),
    ("4101", "医疗保障基金结算清单信息上传 settlement list upload"),
    ("4102", "医疗保障基金结算清单状态 settlement list status"),
    ("5201", "就诊信息查询 a person's visits here"),
    ("5206", "人员累计信息查询 year-to-date counters"),
    ("9001", "签到 sign-in"),
    ("9002", "签退 sign-out"),
];

/// The audit source of a message's writes.
fn source(msgid: &str) -> String {
    yibao_app::audit_source(&format!("fsi msgid {msgid}"), None)
}

fn amount(fen: Fen) -> Value {
    // A yuan amount as a JSON number with the fen's two decimals: the shortest decimal that
    // reads back as the same binary number is the fen's own text (amounts are below 2^53 fen).
    fen.to_string().parse::<f64>().map_or(Value::Null, |yuan| json!(yuan))
}

/// An amount of the settlement answer by its field name.
fn settled_amount(settlement: &Value, field: &str) -> Value {
    settlement.get(field).and_then(Value::as_str).and_then(|text| Fen::parse_yuan(text).ok()).map_or(json!(0), amount)
}

fn day(date: Date) -> Value {
    json!(date.to_string())
}

/// `med_type` → the kind of claim; 21 and 2101 are both ordinary inpatient care.
fn kind_of(path: &str, med_type: &str) -> Result<ClaimKind, AppError> {
    match ClaimKind::of_med_type(med_type) {
        Some(kind) => Ok(kind),
        None => Err(bad(
            path,
            "med_type",
            format!(
                "{med_type} is not settled here: 11 general outpatient, 14 chronic/special outpatient, 21 or 2101 inpatient, \
                 2102 single disease at a fixed price, 28 day surgery, 41 pharmacy purchase, 52 maternity, \
                 9901 the two diseases' outpatient medicines, 9904 a special drug"
            ),
        )),
    }
}

/// The person a message presents, with the card: (national ID, card number).
fn presented(data: &Node<'_>) -> Result<(NationalId, String), AppError> {
    let cert_type = data.text("mdtrt_cert_type")?.unwrap_or_else(|| "02".into());
    let (id_text, card) = match cert_type.as_str() {
        "02" => (data.text("mdtrt_cert_no")?.or(data.text("certno")?).or(data.text("psn_no")?), data.text("card_sn")?),
        "03" => (data.text("certno")?.or(data.text("psn_no")?), data.text("mdtrt_cert_no")?.or(data.text("card_sn")?)),
        other => {
            return Err(bad(
                data.path,
                "mdtrt_cert_type",
                format!(
                    "{other} is not accepted: present the national ID (02) with the card number in card_sn, or the card (03) with the ID in certno"
                ),
            ));
        }
    };
    let id_text = id_text.ok_or_else(|| bad(data.path, "mdtrt_cert_no", "the person's national ID is required"))?;
    let person = NationalId::parse(&id_text).map_err(|e| bad(data.path, "mdtrt_cert_no", e))?;
    let card = card.ok_or_else(|| bad(data.path, "card_sn", "the person's card number is required with the national ID"))?;
    if let Some(psn_no) = data.text("psn_no")?
        && psn_no != person.as_str()
    {
        return Err(bad(data.path, "psn_no", "is not the person the certificate names"));
    }
    Ok((person, card))
}

/// The main diagnosis of a message: `dise_codg` of the node, or the first of `diseinfo`
/// marked main (`maindiag_flag` 1) or numbered 1 (`diag_srt_no`).
fn diagnosis(node: &Node<'_>, input: &Node<'_>) -> Result<Option<String>, AppError> {
    if let Some(code) = node.text("dise_codg")?.or(node.text("dscg_maindiag_code")?) {
        return Ok(Some(code));
    }
    for entry in input.list("diseinfo")? {
        if entry.flag("maindiag_flag")? || entry.text("diag_srt_no")?.as_deref() == Some("1") {
            return entry.text("diag_code");
        }
    }
    Ok(None)
}

fn delivery(node: &Node<'_>) -> Result<Option<Delivery>, AppError> {
    let Some(matn_type) = node.text("matn_type")? else { return Ok(None) };
    // 生育类别: 1 顺产 normal, 2 剖宫产 caesarean, 3/4 miscarriage before / from four months.
    let kind = match matn_type.as_str() {
        "1" => DeliveryKind::Normal,
        "2" => DeliveryKind::Difficult,
        "3" => DeliveryKind::MiscarriageEarly,
        "4" => DeliveryKind::MiscarriageLate,
        other => return Err(bad(node.path, "matn_type", format!("{other} is not 1 normal, 2 caesarean, 3 or 4 miscarriage"))),
    };
    let babies = match node.text("fetus_cnt")? {
        None => 1,
        Some(text) => text.parse::<u8>().map_err(|_| bad(node.path, "fetus_cnt", "is not a count"))?,
    };
    // The allowance (wage and leave days) is not claimed through the institution's
    // interface: the hospital settles the delivery's medical costs only.
    Ok(Some(Delivery { kind, babies, employer_average_wage_monthly: None, leave_days: None }))
}

fn region(node: &Node<'_>, field: &str) -> Result<Option<RegionCode>, AppError> {
    node.text(field)?.map(|text| RegionCode::parse(&text).map_err(|e| bad(node.path, field, e))).transpose()
}

fn sex_code(person: &NationalId) -> &'static str {
    match person.sex() {
        Sex::Male => "1",
        Sex::Female => "2",
    }
}

fn age_on(person: &NationalId, today: Date) -> i32 {
    let birth = person.birth_date();
    let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
    today.year() - birth.year() - i32::from(!had_birthday)
}

/// Runs one transaction.
pub async fn run(app: &App, principal: &Principal, infno: &str, msgid: &str, head: &Node<'_>, input: &Value) -> Result<Value, AppError> {
    let input = Node::of("input", input);
    if infno != "9001" {
        let sign_no = head.text("sign_no")?.unwrap_or_default();
        app.check_signed_in(principal, &sign_no).await?;
    }
    // Where the care is given is the institution's registered region (or the city's), on
    // every message that states it.
    if let Principal::Institution(register) = principal {
        check_regions(register, None, region(head, "mdtrtarea_admvs")?, None, app.policy().region)?;
    }
    let source = source(msgid);
    match infno {
        "9001" => sign_in(app, principal, &input).await,
        "9002" => sign_out(app, principal, &input).await,
        "1101" => person_information(app, principal, head, &input).await,
        "2001" => entitlement(app, principal, &input).await,
        "2201" => open_visit(app, principal, head, &input, false).await,
        "2401" => open_visit(app, principal, head, &input, true).await,
        "2202" | "2404" => cancel_visit(app, principal, &input, infno == "2404").await,
        "2203" => change_visit(app, principal, &input, "mdtrtinfo").await,
        "2403" => change_visit(app, principal, &input, "adminfo").await,
        "2402" => discharge(app, principal, &input).await,
        "2405" => cancel_discharge(app, principal, &input).await,
        "2204" | "2301" => upload_fees(app, principal, &input, msgid, infno == "2301").await,
        "2205" | "2302" => cancel_fees(app, principal, &input, infno == "2302").await,
        "2206" | "2303" => settle(app, principal, &source, msgid, &input, false, infno == "2303").await,
        "2207" | "2304" => settle(app, principal, &source, msgid, &input, true, infno == "2304").await,
        "2208" | "2305" => cancel_settlement(app, principal, &source, &input, infno == "2305").await,
        "2501" => file_referral(app, principal, &source, &input).await,
        "2502" => cancel_referral(app, principal, &source, &input).await,
        "2601" => reverse(app, principal, &source, &input).await,
        "1301" => catalogue(app, principal, &input, CatalogueKind::Medicines),
        "1305" => catalogue(app, principal, &input, CatalogueKind::Services),
        "1306" => catalogue(app, principal, &input, CatalogueKind::Consumables),
        "1312" => catalogue(app, principal, &input, CatalogueKind::All),
        "1309" => chronic_diseases(app, principal),
        "1318" => price_caps(app, principal, &input),
        "4101" => upload_settlement_list(app, principal, &input).await,
        "4102" => settlement_list_status(app, principal, &input).await,
        "5201" => visits_of_person(app, principal, &input).await,
        "5206" => counters(app, principal, &input).await,
        "3201" => reconcile_totals(app, principal, &input).await,
        "3202" => reconcile_details(app, principal, &input).await,
        other => Err(AppError::bad_request(
            "interface.unknown_infno",
            format!(
                "transaction {other} is not answered here; the interface answers {}",
                TRANSACTIONS.iter().map(|(no, _)| *no).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

async fn sign_in(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("signin")?;
    let record = app.interface_sign_in(principal, &data.required("opter_no")?).await?;
    Ok(json!({"signinoutb": {"sign_time": crate::moment(record.signed_in_at), "sign_no": record.sign_no}}))
}

async fn sign_out(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("signout")?;
    let record = app.interface_sign_out(principal, &data.required("sign_no")?).await?;
    let at = record.signed_out_at.unwrap_or(record.signed_in_at);
    Ok(json!({"signoutoutb": {"sign_time": crate::moment(at)}}))
}

async fn person_information(app: &App, principal: &Principal, head: &Node<'_>, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (person_id, card) = presented(&data)?;
    let coverage = app.person_for_institution(principal, &person_id, &card, region(head, "insuplc_admdvs")?).await?;
    let today = app.today();
    let status = |until: Option<Date>| if until.is_some_and(|until| until < today) { "4" } else { "1" };
    let mut insuinfo = vec![json!({
        // The pack says how its residents are coded: 390, or 380/391 before the merger.
        "insutype": app.policy().insutype(coverage.scheme),
        "psn_insu_stas": status(coverage.coverage_until),
        "psn_insu_date": day(coverage.coverage_from),
        "paus_insu_date": coverage.coverage_until.map(day),
        "cvlserv_flag": if coverage.civil_servant { "1" } else { "0" },
        "insuplc_admdvs": coverage.region.to_string(),
    })];
    if coverage.maternity {
        insuinfo.push(json!({
            "insutype": "510",
            "psn_insu_stas": status(coverage.coverage_until),
            "psn_insu_date": day(coverage.coverage_from),
            "paus_insu_date": coverage.coverage_until.map(day),
            "cvlserv_flag": "0",
            "insuplc_admdvs": coverage.region.to_string(),
        }));
    }
    Ok(json!({
        "baseinfo": {
            "psn_no": person_id.as_str(),
            "psn_cert_type": "01",
            "certno": person_id.as_str(),
            "psn_name": coverage.name.as_str(),
            "gend": sex_code(&person_id),
            "brdy": day(person_id.birth_date()),
            "age": age_on(&person_id, today),
        },
        "insuinfo": insuinfo,
        "idetinfo": [],
    }))
}

async fn entitlement(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (person_id, card) = presented(&data)?;
    let kind = kind_of(data.path, &data.required("med_type")?)?;
    let date = data.date("begntime")?.unwrap_or_else(|| app.today());
    let dx = data.text("dise_codg")?;
    let (flag, result) = match app.check_entitlement(principal, &person_id, &card, kind, date, dx.as_deref()).await {
        Ok(()) => ("1", "享受待遇 entitled".to_owned()),
        Err(e) if e.code == "interface.not_entitled" => ("0", e.message),
        Err(e) => return Err(e),
    };
    Ok(json!({"trtinfo": [{
        "psn_no": person_id.as_str(),
        "trt_chk_type": "1",
        "fund_pay_type": if kind == ClaimKind::Maternity { "510100" } else { "" },
        "trt_enjymnt_flag": flag,
        "begndate": day(date),
        "enddate": day(date),
        "trt_chk_rslt": result,
    }]}))
}

async fn open_visit(app: &App, principal: &Principal, head: &Node<'_>, input: &Node<'_>, stay: bool) -> Result<Value, AppError> {
    let data = if stay { input.child("mdtrtinfo")? } else { input.child("data")? };
    let (person_id, card) = presented(&data)?;
    let kind = match data.text("med_type")? {
        Some(med_type) => kind_of(data.path, &med_type)?,
        None if stay => ClaimKind::Inpatient,
        None => ClaimKind::GeneralOutpatient,
    };
    let is_stay = kind.is_stay();
    if is_stay != stay {
        return Err(bad(
            data.path,
            "med_type",
            if stay {
                "an admission (2401) is a stay: inpatient (21, 2101), single disease (2102), day surgery (28) or maternity (52)"
            } else {
                "a registration (2201) is outpatient care"
            },
        ));
    }
    let number_field = if stay { "ipt_no" } else { "ipt_otp_no" };
    let new = NewVisit {
        person_id,
        card_no: card,
        kind,
        ipt_otp_no: data.text(number_field)?.or(data.text("ipt_otp_no")?).ok_or_else(|| bad(data.path, number_field, "is required"))?,
        begin: data.required_date("begntime")?,
        diagnosis: diagnosis(&data, input)?,
        emergency: data.text("adm_way")?.as_deref() == Some("1") || data.flag("emergency_flag")?,
        delivery: delivery(&data)?,
        insured_in: region(head, "insuplc_admdvs")?,
        physician: data.text("atddr_no")?,
    };
    let visit = app.open_visit(principal, new).await?;
    let answer = json!({"mdtrt_id": visit.mdtrt_id, "psn_no": visit.person_id.as_str(), "ipt_otp_no": visit.ipt_otp_no});
    Ok(if stay { json!({"result": answer}) } else { json!({"data": answer}) })
}

/// The visit a message names (`mdtrt_id`) and its person (`psn_no`).
fn visit_key(node: &Node<'_>) -> Result<(String, NationalId), AppError> {
    Ok((node.required("mdtrt_id")?, node.person("psn_no")?))
}

async fn cancel_visit(app: &App, principal: &Principal, input: &Node<'_>, stay: bool) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    app.change_visit(principal, &mdtrt_id, Some(&person), |visit| {
        visit.check_family(stay)?;
        visit.cancel()
    })
    .await?;
    Ok(json!({}))
}

async fn change_visit(app: &App, principal: &Principal, input: &Node<'_>, node: &'static str) -> Result<Value, AppError> {
    let data = input.child(node)?;
    let (mdtrt_id, person) = visit_key(&data)?;
    let change = VisitChange {
        kind: data.text("med_type")?.map(|t| kind_of(data.path, &t)).transpose()?,
        begin: data.date("begntime")?,
        diagnosis: diagnosis(&data, input)?,
        emergency: None,
        delivery: delivery(&data)?,
    };
    app.amend_visit(principal, &mdtrt_id, &person, node == "adminfo", change).await?;
    Ok(json!({}))
}

async fn discharge(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("dscginfo")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    let end = data.required_date("endtime")?;
    app.not_after_today("claim.in_future", "a discharge on", end)?;
    let dx = diagnosis(&data, input)?;
    app.change_visit(principal, &mdtrt_id, Some(&person), |visit| visit.discharge(end, dx)).await?;
    Ok(json!({}))
}

async fn cancel_discharge(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    app.change_visit(principal, &mdtrt_id, Some(&person), Visit::cancel_discharge).await?;
    Ok(json!({}))
}

fn line_result(fee: &Fee, line: Option<&LineSettlement>) -> Value {
    let mut out = json!({
        "feedetl_sn": fee.feedetl_sn,
        "cnt": fee.line.quantity.to_string().parse::<f64>().map_or(Value::Null, |n| json!(n)),
        "pric": amount(fee.line.unit_price),
    });
    if let (Some(line), Value::Object(fields)) = (line, &mut out) {
        fields.insert("det_item_fee_sumamt".into(), amount(line.det_item_fee_sumamt));
        fields.insert("selfpay_prop".into(), json!(f64::from(line.selfpay_prop_bp) / 10_000.0));
        fields.insert("fulamt_ownpay_amt".into(), amount(line.fulamt_ownpay_amt));
        fields.insert("overlmt_amt".into(), amount(line.overlmt_amt));
        fields.insert("preselfpay_amt".into(), amount(line.preselfpay_amt));
        fields.insert("inscp_scp_amt".into(), amount(line.inscp_scp_amt));
        fields.insert("chrgitm_lv".into(), line.class.map_or(Value::Null, |class| json!(class.code())));
        fields.insert("hi_nego_drug_flag".into(), json!(if line.negotiated { "1" } else { "0" }));
        let memo = match line.verdict {
            LineVerdict::Covered => "",
            LineVerdict::OutOfCatalogue => "目录外 not in the catalogue",
            LineVerdict::ClassC => "丙类 class C",
            LineVerdict::RestrictedNotApproved => "限制使用未审批 restricted, not approved",
        };
        fields.insert("memo".into(), json!(memo));
    }
    out
}

async fn upload_fees(app: &App, principal: &Principal, input: &Node<'_>, msgid: &str, stay: bool) -> Result<Value, AppError> {
    let entries = input.list("feedetail")?;
    let Some(first) = entries.first() else { return Err(bad(input.path, "feedetail", "holds no fee lines")) };
    let (mdtrt_id, person) = visit_key(first)?;
    let mut fees = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (entry_visit, entry_person) = visit_key(entry)?;
        if entry_visit != mdtrt_id || entry_person != person {
            return Err(bad(entry.path, "mdtrt_id", "every line of one upload is of one visit and person"));
        }
        let feedetl_sn = entry.required("feedetl_sn")?;
        let bad_line = |field: &str, why: String| bad(entry.path, field, format!("line {feedetl_sn}: {why}"));
        let code_text = entry.required("med_list_codg")?;
        let code = ItemCode::parse(&code_text).map_err(|e| bad_line("med_list_codg", e.to_string()))?;
        let cnt = entry.required("cnt")?;
        let quantity = Quantity::parse(&cnt)
            .filter(|q| q.milli() > 0)
            .ok_or_else(|| bad_line("cnt", format!("'{cnt}' is not a quantity above zero (at most three decimals)")))?;
        let line = ClaimLine { code, quantity, unit_price: entry.required_amount("pric")?, approved: entry.flag("hosp_appr_flag")? };
        let batch = entry.text("chrg_bchno")?;
        fees.push((Fee { feedetl_sn, chrg_bchno: batch, line, msgid: Some(msgid.to_owned()) }, entry.amount("det_item_fee_sumamt")?));
    }
    let serials: Vec<String> = fees.iter().map(|(fee, _)| fee.feedetl_sn.clone()).collect();
    let (visit, _) = app.visit(principal, &mdtrt_id, Some(&person)).await?;
    visit.check_family(stay)?;
    let (visit, computed) = app.upload_fees(principal, &mdtrt_id, &person, fees).await?;
    let result: Vec<Value> = serials
        .iter()
        .filter_map(|serial| {
            let index = visit.fees.iter().position(|f| f.feedetl_sn == *serial)?;
            Some(line_result(&visit.fees[index], computed.as_ref().and_then(|s| s.lines.get(index))))
        })
        .collect();
    Ok(json!({"result": result}))
}

async fn cancel_fees(app: &App, principal: &Principal, input: &Node<'_>, stay: bool) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    // 2302 names a line (`feedetl_sn`), 2205 a charge batch (`chrg_bchno`); "0000" is every
    // line. Nothing named is refused: a cancellation never guesses.
    let field = if stay { "feedetl_sn" } else { "chrg_bchno" };
    let named = data.required(field)?;
    let selector = match (named.as_str(), stay) {
        ("0000", _) => FeeSelector::All,
        (serial, true) => FeeSelector::Serial(serial),
        (batch, false) => FeeSelector::Batch(batch),
    };
    app.change_visit(principal, &mdtrt_id, Some(&person), |visit| {
        visit.check_family(stay)?;
        visit.remove_fees(selector)
    })
    .await?;
    Ok(json!({}))
}

/// `setldetail`: each fund that pays a settlement, with its national code and name (the
/// application's [`yibao_app::fund_payments_of`], from the engine's one table).
fn fund_lines(settlement: &Value) -> Vec<Value> {
    yibao_app::fund_payments_of(settlement)
        .into_iter()
        .map(|payment| {
            json!({
                "fund_pay_type": payment.fund_pay_type,
                "fund_pay_type_name": payment.fund_pay_type_name,
                "inscp_scp_amt": settled_amount(settlement, "inscp_scp_amt"),
                "fund_payamt": amount(payment.fund_payamt),
                "setl_proc_info": payment.field,
            })
        })
        .collect()
}

fn setlinfo(visit: &Visit, setl_id: &str, settlement: &Value, at: time::OffsetDateTime, today: Date, city: RegionCode) -> Value {
    let mut info = serde_json::Map::new();
    let person = &visit.person_id;
    for (field, value) in [
        ("mdtrt_id", json!(visit.mdtrt_id)),
        ("setl_id", json!(setl_id)),
        ("psn_no", json!(person.as_str())),
        ("psn_cert_type", json!("01")),
        ("certno", json!(person.as_str())),
        ("gend", json!(sex_code(person))),
        ("brdy", day(person.birth_date())),
        ("age", json!(age_on(person, today))),
        ("insutype", settlement.get("insutype").cloned().unwrap_or(Value::Null)),
        ("cvlserv_flag", json!(if settlement.get("civil_servant").and_then(Value::as_bool) == Some(true) { "1" } else { "0" })),
        ("setl_time", json!(crate::moment(at))),
        ("med_type", settlement.get("med_type").cloned().unwrap_or(Value::Null)),
        ("clr_optins", json!(city.to_string())),
        ("clr_way", json!("1")),
        ("clr_type", json!(if visit.is_stay() { "21" } else { "11" })),
    ] {
        info.insert(field.into(), value);
    }
    for field in [
        "medfee_sumamt",
        "fulamt_ownpay_amt",
        "overlmt_selfpay",
        "preselfpay_amt",
        "inscp_scp_amt",
        "act_pay_dedc",
        "hifp_pay",
        "cvlserv_pay",
        "hifes_pay",
        "hifmi_pay",
        "hifob_pay",
        "maf_pay",
        "oth_pay",
        "fund_pay_sumamt",
        "psn_part_amt",
        "acct_pay",
        "psn_cash_pay",
        "hosp_part_amt",
    ] {
        info.insert(field.into(), settled_amount(settlement, field));
    }
    // No family mutual aid from personal accounts (个人账户共济) here.
    info.insert("acct_mulaid_pay".into(), json!(0));
    let pooled_bp = settlement.get("pool_prop_bp").and_then(Value::as_u64).unwrap_or(0);
    info.insert("pool_prop_selfpay".into(), json!(f64::from(u32::try_from(pooled_bp).unwrap_or(0)) / 10_000.0));
    Value::Object(info)
}

async fn settle(
    app: &App,
    principal: &Principal,
    source: &str,
    msgid: &str,
    input: &Node<'_>,
    write: bool,
    stay: bool,
) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    let (visit, _) = app.visit(principal, &mdtrt_id, Some(&person)).await?;
    visit.check_family(stay)?;
    let mut stated = StatedSplit { medfee_sumamt: Some(data.required_amount("medfee_sumamt")?), ..StatedSplit::default() };
    if write {
        stated.fulamt_ownpay_amt = Some(data.required_amount("fulamt_ownpay_amt")?);
        stated.overlmt_selfpay = Some(data.required_amount("overlmt_selfpay")?);
        stated.preselfpay_amt = Some(data.required_amount("preselfpay_amt")?);
        stated.inscp_scp_amt = Some(data.required_amount("inscp_scp_amt")?);
    }
    let done = app.settle_visit(principal, source, msgid, &mdtrt_id, &person, stated, write).await?;
    let mut info = setlinfo(&done.visit, &done.setl_id, &done.settlement, done.settled_at, app.today(), app.policy().region);
    if !write {
        // A pre-settlement settles nothing: no settlement id, no settlement time.
        if let Value::Object(fields) = &mut info {
            fields.insert("setl_id".into(), Value::Null);
            fields.insert("setl_time".into(), Value::Null);
        }
    }
    Ok(json!({
        "setlinfo": info,
        "setldetail": fund_lines(&done.settlement),
    }))
}

async fn cancel_settlement(app: &App, principal: &Principal, source: &str, input: &Node<'_>, stay: bool) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    let (visit, _) = app.visit(principal, &mdtrt_id, Some(&person)).await?;
    visit.check_family(stay)?;
    let setl_id = data.text("setl_id")?;
    let (visit, record) = app.cancel_visit_settlement(principal, source, &mdtrt_id, &person, setl_id.as_deref()).await?;
    let settlement: Value = serde_json::from_str(&record.settlement_json).unwrap_or(Value::Null);
    let at = record.reversed_at.unwrap_or_else(|| app.now());
    Ok(json!({"setlinfo": setlinfo(&visit, &record.claim_id, &settlement, at, app.today(), app.policy().region)}))
}

async fn file_referral(app: &App, principal: &Principal, source: &str, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("refmedin")?;
    let person_id = data.person("psn_no")?;
    let Principal::Institution(register) = principal else {
        return Err(AppError::forbidden("the national interface is for designated institutions"));
    };
    let to_text = data.required("reflin_medins_no")?;
    let to = yibao_domain::InstitutionCode::parse(&to_text).map_err(|e| bad(data.path, "reflin_medins_no", e))?;
    let issued_on = data.date("refl_date")?.or(data.date("begndate")?).ok_or_else(|| bad(data.path, "refl_date", "is required"))?;
    let valid_until = data.required_date("enddate")?;
    let referral =
        yibao_app::NewReferral { person_id, from_institution: register.code.clone(), to_institution: to, issued_on, valid_until };
    let record = app.file_referral(principal, source, referral).await?;
    Ok(json!({"result": {"trt_dcla_detl_sn": format!("{}-{}", record.person_id.as_str(), record.seq)}}))
}

/// 2502: cancels a referral by the number 2501 gave (`trt_dcla_detl_sn`, `{psn_no}-{n}`),
/// with the reason in `memo`.
async fn cancel_referral(app: &App, principal: &Principal, source: &str, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let person = data.person("psn_no")?;
    let number = data.required("trt_dcla_detl_sn")?;
    let seq = number
        .strip_prefix(&format!("{}-", person.as_str()))
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| bad(data.path, "trt_dcla_detl_sn", format!("'{number}' is not a referral of psn_no (as 2501 answered it)")))?;
    let reason = data.text("memo")?.unwrap_or_else(|| "cancelled by the referring institution".into());
    let record = app.cancel_referral(principal, source, &person, seq, &reason).await?;
    Ok(json!({"result": {"trt_dcla_detl_sn": number, "cancelled_at": record.cancelled_at.map(crate::moment)}}))
}

/// 2601: reverses what the message `omsgid` did, by its transaction `oinfno`. A message
/// never answered did nothing, and its reversal does nothing either.
async fn reverse(app: &App, principal: &Principal, source: &str, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let person = data.person("psn_no")?;
    let omsgid = data.required("omsgid")?;
    let oinfno = data.required("oinfno")?;
    let Some(original) = app.interface_message(principal, &omsgid).await? else {
        return Ok(
            json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "rvs_rslt": "0", "memo": "原交易未被受理，无需冲正 the original message was never answered: nothing to reverse"}}),
        );
    };
    if original.infno != oinfno {
        return Err(bad(data.path, "oinfno", format!("message {omsgid} was a {} transaction", original.infno)));
    }
    let pending = original.answer.is_empty();
    let answer: Value = serde_json::from_str(&original.answer).unwrap_or(Value::Null);
    let refused = !pending && answer.get("infcode").and_then(Value::as_i64) != Some(0);
    // A settlement is reversed by what the records say that message did, answered or not
    // (its sender may have stopped before its answer was kept, or the answer was a refusal
    // while the settlement stood); the other transactions by their answer.
    if refused && !matches!(oinfno.as_str(), "2207" | "2304") {
        return Ok(
            json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "rvs_rslt": "0", "memo": "原交易失败，无需冲正 the original message was refused: nothing to reverse"}}),
        );
    }
    let output = answer.get("output").cloned().unwrap_or(Value::Null);
    let text = |path: &[&str]| -> Option<String> {
        let mut value = &output;
        for key in path {
            value = value.get(*key)?;
        }
        value.as_str().map(str::to_owned)
    };
    let nothing = |why: &str| json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "rvs_rslt": "0", "memo": why}});
    match oinfno.as_str() {
        "2207" | "2304" => {
            let mdtrt_id = original_visit(&original.input, "data")?;
            if !app.reverse_settlement_message(principal, source, &mdtrt_id, &person, &omsgid).await? {
                return Ok(nothing("该交易的结算不存在或已撤销 that message's settlement is not live: nothing to reverse"));
            }
        }
        _ if pending => {
            // Lines are reversed by the message that uploaded them, whatever became of it.
            if matches!(oinfno.as_str(), "2204" | "2301") {
                let mdtrt_id = original_visit(&original.input, "feedetail")?;
                app.change_visit(principal, &mdtrt_id, Some(&person), |visit| visit.remove_fees(FeeSelector::Message(&omsgid))).await?;
                return Ok(json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "rvs_rslt": "1"}}));
            }
            return Ok(nothing("原交易未完成，结果不明，请按就诊查询后处理 the original message did not finish: query the visit"));
        }
        "2201" | "2401" => {
            let node = if oinfno == "2201" { "data" } else { "result" };
            let mdtrt_id = text(&[node, "mdtrt_id"]).unwrap_or_default();
            let (visit, _) = app.visit(principal, &mdtrt_id, Some(&person)).await?;
            if visit.status != yibao_app::interface::VisitStatus::Cancelled {
                app.change_visit(principal, &mdtrt_id, Some(&person), Visit::cancel).await?;
            }
        }
        "2204" | "2301" => {
            // The lines that message added, and only those (a line it repeated was another's).
            let mdtrt_id = original_visit(&original.input, "feedetail")?;
            app.change_visit(principal, &mdtrt_id, Some(&person), |visit| visit.remove_fees(FeeSelector::Message(&omsgid))).await?;
        }
        "2402" => {
            let mdtrt_id = original_visit(&original.input, "dscginfo")?;
            app.change_visit(principal, &mdtrt_id, Some(&person), Visit::cancel_discharge).await?;
        }
        other => {
            return Err(bad(
                data.path,
                "oinfno",
                format!("a {other} transaction is not reversed by 2601: reverse 2201, 2204, 2207, 2301, 2304, 2401 or 2402"),
            ));
        }
    }
    Ok(json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "rvs_rslt": "1"}}))
}

/// The visit an original message named in its `node` (an object, or a list of them).
fn original_visit(input: &str, node: &'static str) -> Result<String, AppError> {
    let input: Value =
        serde_json::from_str(input).map_err(|e| AppError::internal("store.failure", format!("a kept message is unreadable: {e}")))?;
    let input = Node::of("input", &input);
    let first = input.list(node)?.into_iter().next().ok_or_else(|| AppError::internal("store.failure", "a kept message names no visit"))?;
    first.required("mdtrt_id")
}

fn period(data: &Node<'_>) -> Result<(Date, Date), AppError> {
    Ok((data.required_date("stmt_begndate")?, data.required_date("stmt_enddate")?))
}

/// 3201: the institution's totals against the centre's, by insurance type (`insutype`,
/// optional: all types when absent).
async fn reconcile_totals(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (from, to) = period(&data)?;
    let insutype = data.text("insutype")?;
    let count_text = data.required("fixmedins_setl_cnt")?;
    let theirs = ReconciliationTotals {
        medfee_sumamt: data.required_amount("medfee_sumamt")?,
        fund_pay_sumamt: data.required_amount("fund_pay_sumamt")?,
        acct_pay: data.amount("acct_pay")?.unwrap_or(Fen::ZERO),
        psn_cash_pay: Fen::ZERO,
        count: count_text.parse().map_err(|_| bad(data.path, "fixmedins_setl_cnt", format!("'{count_text}' is not a count")))?,
    };
    let (ours, differences) = app.reconcile_totals(principal, from, to, insutype.as_deref(), theirs).await?;
    let (result, description) = if differences.is_empty() {
        ("0", "对账一致 totals agree".to_owned())
    } else {
        ("1", format!("对账不平 totals differ: {}", differences.join("; ")))
    };
    Ok(json!({"stmtinfo": {
        "setl_optins": app.policy().region.to_string(),
        "stmt_rslt": result,
        "stmt_rslt_dscr": description,
        "medfee_sumamt": amount(ours.medfee_sumamt),
        "fund_pay_sumamt": amount(ours.fund_pay_sumamt),
        "acct_pay": amount(ours.acct_pay),
        "fixmedins_setl_cnt": ours.count,
    }}))
}

/// 3202: the institution's settlements one by one against the centre's. The specification
/// sends the details as a file uploaded beforehand (9101); here they come in the message,
/// as `input.detail` (`setl_id`, `psn_no`, `medfee_sumamt`, `fund_pay_sumamt`, `acct_pay`,
/// `refd_setl_flag` 1 for a cancellation). Each difference is a row of the answer.
async fn reconcile_details(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (from, to) = period(&data)?;
    let mut theirs = Vec::new();
    for entry in input.list("detail")? {
        theirs.push(ReconciliationRow {
            setl_id: entry.required("setl_id")?,
            person_id: entry.person("psn_no")?,
            insutype: String::new(),
            at: app.now(),
            cancellation: entry.flag("refd_setl_flag")?,
            medfee_sumamt: entry.required_amount("medfee_sumamt")?,
            fund_pay_sumamt: entry.required_amount("fund_pay_sumamt")?,
            acct_pay: entry.amount("acct_pay")?.unwrap_or(Fen::ZERO),
            psn_cash_pay: Fen::ZERO,
        });
    }
    let (totals, differences) = app.reconcile_details(principal, from, to, &theirs).await?;
    let flag = |row: &ReconciliationRow| if row.cancellation { "1" } else { "0" };
    let result: Vec<Value> = differences
        .iter()
        .map(|difference| match difference {
            DetailDifference::Duplicate(t) => {
                json!({"setl_id": t.setl_id, "refd_setl_flag": flag(t), "stmt_rslt": "1", "stmt_rslt_dscr": "机构重复上报 the institution lists it twice"})
            }
            DetailDifference::MissingThere(o) => json!({"setl_id": o.setl_id, "refd_setl_flag": flag(o), "stmt_rslt": "1",
                "stmt_rslt_dscr": "机构无此笔 the institution does not have it", "medfee_sumamt": amount(o.medfee_sumamt), "fund_pay_sumamt": amount(o.fund_pay_sumamt)}),
            DetailDifference::Differs(o) => json!({"setl_id": o.setl_id, "refd_setl_flag": flag(o), "stmt_rslt": "1",
                "stmt_rslt_dscr": format!("金额或人员不符 differs: the centre has {} {} / fund {} / account {}", o.person_id.as_str(), o.medfee_sumamt, o.fund_pay_sumamt, o.acct_pay),
                "medfee_sumamt": amount(o.medfee_sumamt), "fund_pay_sumamt": amount(o.fund_pay_sumamt)}),
            DetailDifference::MissingHere(t) => {
                json!({"setl_id": t.setl_id, "refd_setl_flag": flag(t), "stmt_rslt": "1", "stmt_rslt_dscr": "中心无此笔 the centre does not have it"})
            }
        })
        .collect();
    Ok(json!({
        "stmtinfo": {
            "setl_optins": app.policy().region.to_string(),
            "stmt_rslt": if result.is_empty() { "0" } else { "1" },
            "stmt_rslt_dscr": if result.is_empty() { "明细一致 details agree".to_owned() } else { format!("{} 笔不符 rows differ", result.len()) },
            "medfee_sumamt": amount(totals.medfee_sumamt),
            "fund_pay_sumamt": amount(totals.fund_pay_sumamt),
            "fixmedins_setl_cnt": totals.count,
        },
        "result": result,
    }))
}

/// 1301/1305/1306/1312: the catalogue in force, a page at a time (`page_num` from 1,
/// `page_size`); 1312 may name one item (`hilist_code`). The specification's downloads are
/// files by version number (`ver`); here every download is the pack's catalogue as in force,
/// paged, and an item's price cap is the one at the caller's level.
fn catalogue(app: &App, principal: &Principal, input: &Node<'_>, kind: CatalogueKind) -> Result<Value, AppError> {
    catalogue_with(app, principal, input, kind, |_, _| {})
}

/// A catalogue page, each item's row completed by `more`.
fn catalogue_with(
    app: &App,
    principal: &Principal,
    input: &Node<'_>,
    kind: CatalogueKind,
    more: impl Fn(&yibao_app::policy::CatalogueItem, &mut Value),
) -> Result<Value, AppError> {
    let data = input.child("data").ok();
    let number = |field: &str, default: u32| -> Result<u32, AppError> {
        match data.as_ref().map(|d| d.text(field)).transpose()?.flatten() {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| bad("data", field, format!("'{text}' is not a number"))),
        }
    };
    let (page, size) = (number("page_num", 1)?, number("page_size", 100)?);
    let code = data.as_ref().map(|d| d.text("hilist_code")).transpose()?.flatten();
    let (total, items) = app.catalogue_page(principal, kind, code.as_deref(), page, size)?;
    let level = match principal {
        Principal::Institution(register) => register.level_on(app.today()),
        _ => return Err(AppError::forbidden("the national interface is for designated institutions")),
    };
    let list: Vec<Value> = items
        .iter()
        .map(|entry| {
            let item = &entry.item;
            let mut row = json!({
                "hilist_code": item.code.as_str(),
                "hilist_name": item.name,
                "list_type": yibao_domain::ItemKind::of(&item.code).map(yibao_domain::ItemKind::list_type),
                "chrgitm_lv": item.class.code(),
                "lmt_used_flag": if item.restricted { "1" } else { "0" },
                "hi_nego_drug_flag": if item.negotiated { "1" } else { "0" },
                "pric_uplmt_amt": item.price_cap_at(level).map_or(Value::Null, amount),
                "selfpay_prop": item.selfpay_share.map_or(Value::Null, |share| json!(f64::from(share.get()) / 10_000.0)),
                "insu_admdvs": entry.region.map_or_else(|| "000000".to_owned(), |r| r.to_string()),
                "begndate": entry.from.to_string(),
                "enddate": entry.until.map(|d| d.to_string()),
            });
            more(item, &mut row);
            row
        })
        .collect();
    Ok(json!({"data": list, "page_num": page, "page_size": size, "record_counts": total}))
}

/// 4101: the settlement list of a settled visit: its diagnoses (`diseinfo`, the main one
/// marked `maindiag_flag` 1) and procedures (`oprninfo`, the main one `oprn_oprt_type` 1).
async fn upload_settlement_list(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let info = input.child("setlinfo")?;
    let (mdtrt_id, person) = visit_key(&info)?;
    let setl_id = info.required("setl_id")?;
    let mut diagnoses = Vec::new();
    for entry in input.list("diseinfo")? {
        let code = entry.required("diag_code")?;
        if entry.flag("maindiag_flag")? {
            if diagnoses.first().is_some_and(|(main, _)| *main) {
                return Err(bad("diseinfo", "maindiag_flag", "marks more than one main diagnosis"));
            }
            diagnoses.insert(0, (true, code));
        } else {
            diagnoses.push((false, code));
        }
    }
    if !diagnoses.first().is_some_and(|(main, _)| *main) {
        return Err(bad("diseinfo", "maindiag_flag", "no diagnosis is marked main (1)"));
    }
    let mut procedures = Vec::new();
    for entry in input.list("oprninfo")? {
        let code = entry.required("oprn_oprt_code")?;
        if entry.text("oprn_oprt_type")?.as_deref() == Some("1") { procedures.insert(0, code) } else { procedures.push(code) }
    }
    let list = SettlementList {
        setl_id: setl_id.clone(),
        diagnoses: diagnoses.into_iter().map(|(_, code)| code).collect(),
        procedures,
        uploaded_at: app.now(),
    };
    app.upload_settlement_list(principal, &mdtrt_id, &person, list).await?;
    Ok(json!({"setl_list_id": setl_id}))
}

/// 4102: whether the settlement list of a settlement is uploaded (`stas` 1) or not (0).
async fn settlement_list_status(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (mdtrt_id, person) = visit_key(&data)?;
    let setl_id = data.required("setl_id")?;
    let (visit, _) = app.visit(principal, &mdtrt_id, Some(&person)).await?;
    let uploaded = visit.settlement_list.as_ref().filter(|list| list.setl_id == setl_id);
    Ok(json!({"data": {
        "setl_id": setl_id,
        "setl_list_id": uploaded.map(|list| list.setl_id.clone()),
        "stas": if uploaded.is_some() { "1" } else { "0" },
        "upld_time": uploaded.map(|list| crate::moment(list.uploaded_at)),
        "diag_code": uploaded.and_then(|list| list.diagnoses.first().cloned()),
    }}))
}

/// 5206: the person's year-to-date counters (`cum_ym` names the year and month; the counters
/// are the year's to date), on presenting the card as at 1101. `cum_type_code` is the
/// counter's name here; the specification leaves its codes to each province.
/// 5201: the institution's visits of a person (`psn_no`), narrowed by `med_type`, by the
/// days `begntime`..`endtime` they began, or to one `mdtrt_id`.
async fn visits_of_person(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let person_id = data.person("psn_no")?;
    let kind = data.text("med_type")?.map(|t| kind_of(data.path, &t)).transpose()?;
    let mdtrt_id = data.text("mdtrt_id")?;
    let visits =
        app.visits_of_person(principal, &person_id, mdtrt_id.as_deref(), kind, data.date("begntime")?, data.date("endtime")?).await?;
    let list: Vec<Value> = visits
        .into_iter()
        .map(|visit| {
            json!({
                "mdtrt_id": visit.mdtrt_id,
                "psn_no": visit.person_id.as_str(),
                "fixmedins_code": principal.institution().unwrap_or_default(),
                "med_type": visit.kind.med_type(),
                "ipt_otp_no": visit.ipt_otp_no,
                "begntime": day(visit.begin),
                "endtime": visit.end.map_or(Value::Null, day),
                "dise_codg": visit.diagnosis,
                "setl_id": visit.setl_id,
                "mdtrt_stas": visit.status.as_str(),
                "vali_flag": if visit.status == VisitStatus::Cancelled { "0" } else { "1" },
            })
        })
        .collect();
    Ok(json!({ "mdtrtinfo": list }))
}

async fn counters(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    let data = input.child("data")?;
    let (person_id, card) = presented(&data)?;
    let year = match data.text("cum_ym")? {
        Some(text) => {
            text.get(..4).and_then(|y| y.parse::<i32>().ok()).ok_or_else(|| bad("data", "cum_ym", format!("'{text}' is not yyyyMM")))?
        }
        None => app.today().year(),
    };
    let acc = app.counters_for_institution(principal, &person_id, &card, year).await?;
    let rows = [
        ("admissions", "住院次数", json!(acc.admissions)),
        ("inpatient_deductible_paid", "住院起付线累计", amount(acc.inpatient_deductible_paid)),
        ("pooled_paid", "统筹基金支付累计", amount(acc.pooled_paid)),
        ("outpatient_deductible_paid", "门诊起付线累计", amount(acc.outpatient_deductible_paid)),
        ("outpatient_pooled_paid", "门诊统筹支付累计", amount(acc.outpatient_pooled_paid)),
        ("chronic_deductible_paid", "门诊慢特病起付线累计", amount(acc.chronic_deductible_paid)),
        ("chronic_paid", "门诊慢特病支付累计", amount(acc.chronic_paid)),
        ("inscope_burden", "政策范围内个人负担累计", amount(acc.inscope_burden)),
        ("critical_paid", "大病保险支付累计", amount(acc.critical_paid)),
        ("two_disease_deductible_paid", "门诊两病起付线累计", amount(acc.two_disease_deductible_paid)),
        ("two_disease_paid", "门诊两病支付累计", amount(acc.two_disease_paid)),
        ("special_drug_deductible_paid", "特药起付线累计", amount(acc.special_drug_deductible_paid)),
        ("special_drug_paid", "特药支付累计", amount(acc.special_drug_paid)),
        ("civil_servant_paid", "公务员医疗补助支付累计", amount(acc.civil_servant_paid)),
        ("enterprise_supplementary_paid", "企业补充医疗保险支付累计", amount(acc.enterprise_supplementary_paid)),
    ];
    let cuminfo: Vec<Value> =
        rows.into_iter().map(|(code, name, cum)| json!({"year": year, "cum_type_code": code, "cum_type_name": name, "cum": cum})).collect();
    Ok(json!({"cuminfo": cuminfo}))
}

/// 1309: the chronic and special diseases certified here, each with its annual limit today.
fn chronic_diseases(app: &App, principal: &Principal) -> Result<Value, AppError> {
    let list: Vec<Value> = app
        .chronic_diseases(principal, app.today())?
        .into_iter()
        .map(|d| {
            json!({"opsp_dise_code": d.code, "opsp_dise_name": d.name_zh, "opsp_dise_name_en": d.name_en,
                   "annual_limit": d.annual_limit.map_or(Value::Null, amount)})
        })
        .collect();
    let total = list.len();
    Ok(json!({"data": list, "record_counts": total}))
}

/// 1318: the catalogue's price caps at every level, for the items that have one (paged as
/// the catalogue).
fn price_caps(app: &App, principal: &Principal, input: &Node<'_>) -> Result<Value, AppError> {
    catalogue_with(app, principal, input, CatalogueKind::Capped, |item, row| {
        let caps: Vec<Value> = yibao_domain::InstitutionLevel::ALL
            .iter()
            .map(|level| json!({"hosp_lv": level.as_str(), "hilist_pric_uplmt_amt": item.price_cap_at(*level).map_or(Value::Null, amount)}))
            .collect();
        row["caps"] = Value::Array(caps);
    })
}
