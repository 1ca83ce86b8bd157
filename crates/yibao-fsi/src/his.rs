//! A small hospital information system (HIS) simulator: the other side of the interface,
//! over real HTTP. It drives what a hospital's billing desk does in a day (sign-in, an
//! outpatient visit settled, cancelled and settled again, an inpatient stay with its
//! settlement list, a referral and the receiving hospital's stay, a settlement whose answer
//! was "lost" and is reversed by its `msgid`, the day's reconciliation and sign-out) and
//! checks every answer; `yibao his-sim` runs it against a running server and prints each
//! message, and the benchmark drives complete outpatient visits with it.
//!
//! The simulator keeps its own books of what it settled, as a hospital does, and
//! reconciles them with the centre's (3201): the day balances to the fen or the run fails.

use std::sync::atomic::{AtomicU32, Ordering};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};
use yibao_domain::Fen;

/// One institution's connection: its code, region and key, and the operator's sign-in.
#[derive(Clone, Debug)]
pub struct His {
    http: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port`
    base: String,
    pub institution: String,
    pub region: String,
    key: String,
    sign_no: String,
    /// Prints each message and answer when set.
    pub verbose: bool,
}

/// The process's message serial: every connection of the process draws from it, and it
/// starts where the process id and the clock put it, so that two runs in one second do not
/// begin at the same serial.
fn next_serial() -> u32 {
    static SERIAL: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = SERIAL.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7_919).wrapping_add(OffsetDateTime::now_utc().nanosecond()) % 1_000_000,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// What a day of visits came to, in the hospital's own books.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Books {
    pub medfee_sumamt: Fen,
    pub fund_pay_sumamt: Fen,
    pub acct_pay: Fen,
    pub count: i64,
}

fn amount(value: &Value) -> Result<Fen, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(format!("{other} is not an amount")),
    };
    Fen::parse_yuan(&text).map_err(|e| format!("{text}: {e}"))
}

impl Books {
    /// Adds a settlement's `setlinfo` (or takes away a cancelled one's).
    pub fn count(&mut self, setlinfo: &Value, cancelled: bool) -> Result<(), String> {
        let sign = |fen: Fen| if cancelled { Fen::ZERO - fen } else { fen };
        self.medfee_sumamt += sign(amount(&setlinfo["medfee_sumamt"])?);
        self.fund_pay_sumamt += sign(amount(&setlinfo["fund_pay_sumamt"])?);
        self.acct_pay += sign(amount(&setlinfo["acct_pay"])?);
        self.count += if cancelled { -1 } else { 1 };
        Ok(())
    }
}

/// A patient: national ID and card number.
#[derive(Clone, Debug)]
pub struct Patient {
    pub id: String,
    pub card: String,
}

impl His {
    /// A connection to the server at `base` (`http://127.0.0.1:8080`) as institution
    /// `institution` (whose code holds its region: `H` + region + serial), with its API key.
    #[must_use]
    pub fn new(base: &str, institution: &str, key: &str) -> His {
        let region = institution.get(1..7).unwrap_or_default();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        His {
            http: Client::builder(TokioExecutor::new()).build(connector),
            base: base.trim_end_matches('/').to_owned(),
            institution: institution.to_owned(),
            region: region.to_owned(),
            key: key.to_owned(),
            sign_no: String::new(),
            verbose: false,
        }
    }

    /// A new `msgid`: the institution's code, the time and a serial (as a HIS makes them;
    /// the serial has six digits so that many clients of one institution never collide).
    fn msgid(&self) -> String {
        let now = OffsetDateTime::now_utc().to_offset(yibao_app::interface::LOCAL_OFFSET);
        let serial = next_serial() % 1_000_000;
        format!(
            "{}{:04}{:02}{:02}{:02}{:02}{:02}{serial:06}",
            self.institution,
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    }

    /// Sends a message with a given `msgid`; the whole output envelope.
    pub async fn send_as(&self, msgid: &str, infno: &str, input: Value) -> Result<Value, String> {
        let message = json!({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": self.region, "insuplc_admdvs": "", "recer_sys_code": "YIBAO-HIS-SIM",
            "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "001",
            "opter_name": "his-sim", "inf_time": crate::moment(OffsetDateTime::now_utc()), "fixmedins_code": self.institution,
            "fixmedins_name": self.institution, "sign_no": self.sign_no, "input": input,
        });
        let request = hyper::Request::post(format!("{}/fsi/api", self.base))
            .header("content-type", "application/json")
            .header("x-api-key", &self.key)
            .body(Full::new(Bytes::from(message.to_string())))
            .map_err(|e| e.to_string())?;
        let response = self.http.request(request).await.map_err(|e| format!("{infno}: the server did not answer: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("{infno}: {e}"))?.to_bytes();
        let answer: Value = serde_json::from_slice(&body).map_err(|e| format!("{infno}: HTTP {status}, not JSON ({e})"))?;
        if self.verbose {
            println!("→ {infno} {message}\n← {answer}");
        }
        Ok(answer)
    }

    /// Sends a message and returns its `output`, or the refusal as an error.
    pub async fn send(&self, infno: &str, input: Value) -> Result<Value, String> {
        let answer = self.send_as(&self.msgid(), infno, input).await?;
        if answer["infcode"].as_i64() == Some(0) {
            Ok(answer["output"].clone())
        } else {
            Err(format!("{infno} refused: {}", answer["err_msg"].as_str().unwrap_or("(no err_msg)")))
        }
    }

    /// 9001: signs the operator in; later messages carry the `sign_no`.
    pub async fn sign_in(&mut self) -> Result<(), String> {
        let output = self.send("9001", json!({"signin": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})).await?;
        self.sign_no = output["signinoutb"]["sign_no"].as_str().ok_or("9001: no sign_no")?.to_owned();
        Ok(())
    }

    pub async fn sign_out(&self) -> Result<(), String> {
        self.send("9002", json!({"signout": {"sign_no": self.sign_no, "opter_no": "001"}})).await.map(|_| ())
    }

    fn certificate(patient: &Patient) -> Value {
        json!({"psn_no": patient.id, "mdtrt_cert_type": "02", "mdtrt_cert_no": patient.id, "card_sn": patient.card})
    }

    /// The split a pre-settlement gave, as the settlement message states it.
    fn split_of(pre: &Value) -> Value {
        let info = &pre["setlinfo"];
        json!({
            "medfee_sumamt": info["medfee_sumamt"], "fulamt_ownpay_amt": info["fulamt_ownpay_amt"], "overlmt_selfpay": info["overlmt_selfpay"],
            "preselfpay_amt": info["preselfpay_amt"], "inscp_scp_amt": info["inscp_scp_amt"],
        })
    }

    fn with(mut base: Value, more: &Value) -> Value {
        if let (Value::Object(fields), Value::Object(extra)) = (&mut base, more) {
            fields.extend(extra.clone());
        }
        base
    }

    /// A complete outpatient visit (2201 registration with the diagnosis, 2204 three fee
    /// lines, 2206 pre-settlement, 2207 settlement with the centre's split): the
    /// settlement's `setlinfo`.
    pub async fn outpatient_visit(&self, patient: &Patient, day: Date, number: &str) -> Result<Value, String> {
        let registration = Self::with(
            Self::certificate(patient),
            &json!({"begntime": format!("{day} 09:00:00"), "ipt_otp_no": number, "insutype": "390", "med_type": "11", "dise_codg": "J06.900"}),
        );
        let registered = self.send("2201", json!({"data": registration})).await?;
        let mdtrt_id = registered["data"]["mdtrt_id"].as_str().ok_or("2201: no mdtrt_id")?.to_owned();
        let line = |sn: &str, code: &str, cnt: &str, pric: &str| {
            json!({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": patient.id, "chrg_bchno": "1", "med_list_codg": code, "cnt": cnt, "pric": pric,
                   "fee_ocur_time": format!("{day} 09:30:00")})
        };
        let lines = json!({"feedetail": [
            line("1", "001102000010000", "1", "10.00"),
            line("2", "XJ01CAA040E001010100163", "2", "8.50"),
            line("3", "ZA01BAG0120010100357", "1", "15.80"),
        ]});
        self.send("2204", lines).await?;
        let ask = json!({"psn_no": patient.id, "mdtrt_id": mdtrt_id, "med_type": "11", "psn_setlway": "01", "acct_used_flag": "0", "insutype": "390"});
        let pre = self.send("2206", json!({"data": Self::with(ask.clone(), &json!({"medfee_sumamt": "42.80"}))})).await?;
        let settled = self.send("2207", json!({"data": Self::with(ask, &Self::split_of(&pre))})).await?;
        Ok(settled["setlinfo"].clone())
    }

    /// An inpatient stay from `admitted` to `discharged`, settled, with its settlement list:
    /// the settlement's `setlinfo`.
    pub async fn inpatient_stay(&self, patient: &Patient, admitted: Date, discharged: Date, number: &str) -> Result<Value, String> {
        let admission = Self::with(
            Self::certificate(patient),
            &json!({"begntime": format!("{admitted} 08:00:00"), "ipt_no": number, "med_type": "21", "insutype": "390", "dise_codg": "K80.200",
                    "dise_name": "胆囊结石伴慢性胆囊炎", "adm_dept_codg": "A07", "adm_dept_name": "外科"}),
        );
        let admitted_visit = self
            .send("2401", json!({"mdtrtinfo": admission, "diseinfo": [{"diag_type": "1", "maindiag_flag": "1", "diag_code": "K80.200"}]}))
            .await?;
        let mdtrt_id = admitted_visit["result"]["mdtrt_id"].as_str().ok_or("2401: no mdtrt_id")?.to_owned();
        let line = |sn: &str, code: &str, cnt: &str, pric: &str| json!({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": patient.id, "med_list_codg": code, "cnt": cnt, "pric": pric});
        self.send(
            "2301",
            json!({"feedetail": [
                line("1", "001109000010000", "3", "35.00"),
                line("2", "XJ01DDT045B001010101288", "6", "150.00"),
                line("3", "002103000010000", "1", "180.00"),
                line("4", "C0301010000100000101", "10", "1.20"),
            ]}),
        )
        .await?;
        let ask = json!({"psn_no": patient.id, "mdtrt_id": mdtrt_id, "insutype": "390", "psn_setlway": "01", "acct_used_flag": "0"});
        // A pre-settlement during the stay, then the discharge and the settlement.
        let pre =
            self.send("2303", json!({"data": Self::with(ask.clone(), &json!({"medfee_sumamt": "1197.00", "mid_setl_flag": "1"}))})).await?;
        self.send("2402", json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": patient.id, "endtime": format!("{discharged} 10:00:00"), "dise_codg": "K80.200"}}))
            .await?;
        let settled = self.send("2304", json!({"data": Self::with(ask, &Self::split_of(&pre))})).await?;
        let setlinfo = settled["setlinfo"].clone();
        let setl_id = setlinfo["setl_id"].as_str().ok_or("2304: no setl_id")?;
        self.send(
            "4101",
            json!({"setlinfo": {"mdtrt_id": mdtrt_id, "setl_id": setl_id, "psn_no": patient.id},
                   "diseinfo": [{"diag_type": "1", "diag_code": "K80.200", "maindiag_flag": "1"}],
                   "oprninfo": [{"oprn_oprt_type": "1", "oprn_oprt_code": "51.2300", "oprn_oprt_name": "腹腔镜胆囊切除术"}]}),
        )
        .await?;
        let status = self.send("4102", json!({"data": {"mdtrt_id": mdtrt_id, "psn_no": patient.id, "setl_id": setl_id}})).await?;
        if status["data"]["stas"] != "1" {
            return Err(format!("4102: the settlement list of {setl_id} is not uploaded: {status}"));
        }
        Ok(setlinfo)
    }

    /// The centre's totals for `day` so far (3201 with nothing stated): the books a run
    /// opens with, so that a run on a server that settled for this institution earlier in
    /// the day checks exactly what the run itself adds.
    pub async fn opening_books(&self, day: Date) -> Result<Books, String> {
        let output = self
            .send(
                "3201",
                json!({"data": {"stmt_begndate": day.to_string(), "stmt_enddate": day.to_string(), "medfee_sumamt": "0", "fund_pay_sumamt": "0",
                                "acct_pay": "0", "fixmedins_setl_cnt": "0"}}),
            )
            .await?;
        let info = &output["stmtinfo"];
        Ok(Books {
            medfee_sumamt: amount(&info["medfee_sumamt"])?,
            fund_pay_sumamt: amount(&info["fund_pay_sumamt"])?,
            acct_pay: amount(&info["acct_pay"])?,
            count: info["fixmedins_setl_cnt"].as_i64().ok_or("3201: no fixmedins_setl_cnt")?,
        })
    }

    /// 3201: the day's totals in the hospital's books against the centre's.
    pub async fn reconcile(&self, day: Date, books: &Books) -> Result<Value, String> {
        let output = self
            .send(
                "3201",
                json!({"data": {"stmt_begndate": day.to_string(), "stmt_enddate": day.to_string(), "medfee_sumamt": books.medfee_sumamt.to_string(),
                                "fund_pay_sumamt": books.fund_pay_sumamt.to_string(), "acct_pay": books.acct_pay.to_string(),
                                "fixmedins_setl_cnt": books.count.to_string()}}),
            )
            .await?;
        if output["stmtinfo"]["stmt_rslt"] != "0" {
            return Err(format!("3201: the day does not reconcile: {}", output["stmtinfo"]["stmt_rslt_dscr"]));
        }
        Ok(output)
    }
}

/// What [`day`] did.
#[derive(Clone, Debug, Default)]
pub struct DayReport {
    pub books: Books,
    pub referred_books: Option<Books>,
    pub steps: Vec<String>,
}

/// The day `today` (Beijing time; the server's clock must agree) at a hospital, with
/// `referred` the hospital a stay is referred to. Each step is noted in the report; the
/// first unexpected answer ends the day with an error naming it. Each hospital's books open
/// with the centre's figures for the day before the run (the simulator has no books of its
/// own from before it) and must close equal to the centre's to the fen.
pub async fn day(hospital: &mut His, referred: Option<&mut His>, patient: &Patient, today: Date) -> Result<DayReport, String> {
    let mut report = DayReport::default();
    let mut note = |text: String| {
        println!("  {text}");
        report.steps.push(text);
    };
    hospital.sign_in().await?;
    note(format!("9001 {} signed in", hospital.institution));
    let person = hospital.send("1101", json!({"data": His::certificate(patient)})).await?;
    note(format!("1101 {} {}", person["baseinfo"]["psn_name"].as_str().unwrap_or("?"), patient.id));
    let mut books = hospital.opening_books(today).await?;
    // An outpatient visit settled, its settlement cancelled, and settled again.
    let first = hospital.outpatient_visit(patient, today, "SIM-MZ-1").await?;
    books.count(&first, false)?;
    note(format!("2201→2204→2206→2207 outpatient visit settled: {} yuan, fund {}", first["medfee_sumamt"], first["fund_pay_sumamt"]));
    let mdtrt_id = first["mdtrt_id"].as_str().ok_or("no mdtrt_id")?;
    hospital.send("2208", json!({"data": {"setl_id": first["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": patient.id}})).await?;
    books.count(&first, true)?;
    note(format!("2208 settlement {} cancelled", first["setl_id"].as_str().unwrap_or("?")));
    let ask = json!({"psn_no": patient.id, "mdtrt_id": mdtrt_id});
    let pre = hospital.send("2206", json!({"data": His::with(ask.clone(), &json!({"medfee_sumamt": first["medfee_sumamt"]}))})).await?;
    // The settlement whose answer is "lost": the hospital reverses it by its msgid (2601),
    // then settles once more.
    let lost = hospital.msgid();
    let answer = hospital.send_as(&lost, "2207", json!({"data": His::with(ask.clone(), &His::split_of(&pre))})).await?;
    if answer["infcode"].as_i64() != Some(0) {
        return Err(format!("2207 refused: {}", answer["err_msg"]));
    }
    hospital.send("2601", json!({"data": {"psn_no": patient.id, "omsgid": lost, "oinfno": "2207"}})).await?;
    // The settlement and its reversal are both on the day, in both books.
    books.count(&answer["output"]["setlinfo"], false)?;
    books.count(&answer["output"]["setlinfo"], true)?;
    note(format!("2207 settled, its answer lost; 2601 reversed it by msgid {lost}"));
    let again = hospital.send("2207", json!({"data": His::with(ask, &His::split_of(&pre))})).await?;
    books.count(&again["setlinfo"], false)?;
    note(format!("2207 settled again: {}", again["setlinfo"]["setl_id"].as_str().unwrap_or("?")));
    // An inpatient stay that ended yesterday, settled with its settlement list.
    let (admitted, discharged) = (today - time::Duration::days(3), today - time::Duration::days(1));
    let stay = hospital.inpatient_stay(patient, admitted, discharged, "SIM-ZY-1").await?;
    books.count(&stay, false)?;
    note(format!(
        "2401→2301→2303→2402→2304→4101→4102 stay {admitted}..{discharged} settled: {} yuan, deductible {}, fund {}",
        stay["medfee_sumamt"], stay["act_pay_dedc"], stay["fund_pay_sumamt"]
    ));
    if let Some(other) = referred {
        hospital
            .send(
                "2501",
                json!({"refmedin": {"psn_no": patient.id, "reflin_medins_no": other.institution, "refl_date": discharged.to_string(),
                                    "begndate": discharged.to_string(), "enddate": (discharged + time::Duration::days(30)).to_string(),
                                    "refl_rea": "病情需要", "diag_code": "K80.200"}}),
            )
            .await?;
        note(format!("2501 referral to {} filed", other.institution));
        other.sign_in().await?;
        let mut other_books = other.opening_books(today).await?;
        let referred_stay = other.inpatient_stay(patient, discharged, today, "SIM-ZY-2").await?;
        other_books.count(&referred_stay, false)?;
        note(format!(
            "{}: referred stay {discharged}..{today} settled: {} yuan, deductible {} (the referring stay's counted)",
            other.institution, referred_stay["medfee_sumamt"], referred_stay["act_pay_dedc"]
        ));
        let settled_day = settlement_day(&referred_stay)?;
        other.reconcile(settled_day, &other_books).await?;
        note(format!("3201 {} reconciled: {} settlement(s), {} yuan", other.institution, other_books.count, other_books.medfee_sumamt));
        other.sign_out().await?;
        report.referred_books = Some(other_books);
    }
    let settled_day = settlement_day(&again["setlinfo"])?;
    hospital.reconcile(settled_day, &books).await?;
    note(format!(
        "3201 {} reconciled for {settled_day}: {} settlement(s) net, {} yuan, fund {}",
        hospital.institution, books.count, books.medfee_sumamt, books.fund_pay_sumamt
    ));
    hospital.sign_out().await?;
    note(format!("9002 {} signed out", hospital.institution));
    report.books = books;
    Ok(report)
}

/// The day (Beijing time) a settlement's `setl_time` names.
fn settlement_day(setlinfo: &Value) -> Result<Date, String> {
    let time = setlinfo["setl_time"].as_str().ok_or("no setl_time")?;
    crate::node::parse_day(time).ok_or_else(|| format!("setl_time {time} is not a time"))
}
