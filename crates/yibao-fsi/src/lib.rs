//! The national interface for designated medical institutions (issue 14): the protocol
//! every hospital information system (HIS) already speaks to the national medical insurance
//! platform. One path, `POST /fsi/api` (any path under it too, as hospitals configure one
//! base address for every service), takes the input envelope (`infno`, `msgid`,
//! `fixmedins_code`, `sign_no`, `input`, …) and answers with the output envelope
//! (`infcode` 0 or −1, `inf_refmsgid`, `refmsg_time`, `respond_time`, `err_msg`, `output`).
//!
//! An edge: each transaction ([`transactions`]) reads its input nodes ([`node`]), calls one
//! use case of `yibao_app::interface` or of the claims, and writes its output nodes. The
//! rules (who may, the visit's states, the centre's authority over the split, a `msgid`
//! answered once) are the application's.
//!
//! The caller is the institution of the `X-Api-Key` header (the same key as the JSON API);
//! the envelope's `fixmedins_code` must be that institution's.

pub mod his;
pub mod node;
pub mod transactions;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use time::OffsetDateTime;
use yibao_app::interface::{LOCAL_OFFSET, input_digest};
use yibao_app::{App, AppError, ErrorKind, Language, Principal};

use crate::node::Node;

/// The largest message taken: 5,000 fee lines are about 4 MB.
pub const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The interface's routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/fsi/api", post(gateway))
        .route("/fsi/api/{*service}", post(gateway))
        .layer(DefaultBodyLimit::max(MESSAGE_BYTES_MAX))
}

/// `yyyy-MM-dd HH:mm:ss`, Beijing time: the interface's time format.
#[must_use]
pub fn moment(at: OffsetDateTime) -> String {
    let at = at.to_offset(LOCAL_OFFSET);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second())
}

fn language(headers: &HeaderMap) -> Language {
    let asked = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if asked.trim_start().starts_with("en") { Language::En } else { Language::Zh }
}

/// The output envelope.
fn envelope(app: &App, received: OffsetDateTime, city: &str, result: &Result<Value, AppError>, language: Language) -> Value {
    let now = app.now();
    let serial = yibao_app::access::new_token().map(|t| t[..10].to_owned()).unwrap_or_else(|_| "0000000000".into());
    let stamp: String = moment(now).chars().filter(char::is_ascii_digit).collect();
    let (infcode, err_msg, output) = match result {
        Ok(output) => (0, Value::Null, output.clone()),
        Err(e) => (-1, Value::String(format!("[{}] {}", e.code, e.message_in(language))), json!({})),
    };
    json!({
        "infcode": infcode,
        "inf_refmsgid": format!("{city}{stamp}{serial}"),
        "refmsg_time": moment(received),
        "respond_time": moment(now),
        "err_msg": err_msg,
        "warn_msg": Value::Null,
        "output": output,
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

async fn caller(app: &App, headers: &HeaderMap) -> Result<Principal, AppError> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::new(ErrorKind::Unauthorized, "auth.required", "send the institution's API key (X-Api-Key)"))?;
    let principal = app.institution_by_key(key).await?;
    if !matches!(principal, Principal::Institution(_)) {
        return Err(AppError::forbidden("the national interface is for designated institutions"));
    }
    Ok(principal)
}

async fn gateway(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let received = app.now();
    let language = language(&headers);
    let city = app.policy().region.to_string();
    let refuse = |status, e: AppError| answer(status, envelope(&app, received, &city, &Err(e), language));
    let principal = match caller(&app, &headers).await {
        Ok(principal) => principal,
        Err(e) => return refuse(StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::UNAUTHORIZED), e),
    };
    let message: Value = match serde_json::from_slice(&body) {
        Ok(message @ Value::Object(_)) => message,
        Ok(_) => return refuse(StatusCode::OK, AppError::bad_request("request.malformed", "the message is not a JSON object")),
        Err(e) => return refuse(StatusCode::OK, AppError::bad_request("request.malformed", format!("the message is not JSON: {e}"))),
    };
    let head = Node::of("", &message);
    let read = (|| -> Result<(String, String), AppError> {
        let infno = head.required("infno")?;
        let msgid = head.required("msgid")?;
        let register = match &principal {
            Principal::Institution(register) => register,
            _ => return Err(AppError::forbidden("the national interface is for designated institutions")),
        };
        let stated = head.required("fixmedins_code")?;
        if stated != register.code.as_str() {
            return Err(node::bad("", "fixmedins_code", format!("{stated} is not the institution of this API key ({})", register.code)));
        }
        Ok((infno, msgid))
    })();
    let (infno, msgid) = match read {
        Ok(read) => read,
        Err(e) => return refuse(StatusCode::OK, e),
    };
    let input = head.get("input").cloned().unwrap_or(Value::Null);
    let input_text = input.to_string();
    let digest = input_digest(format!("{infno}\n{input_text}").as_bytes());
    // The message is reserved before it runs (`msgid-answered-once`): its first answer if it
    // has one, a refusal if another copy is being answered or the msgid names another message.
    match app.reserve_interface_message(&principal, &msgid, &infno, &digest, input_text.clone()).await {
        Ok(Some(first)) => return answered(&first.answer),
        Ok(None) => {}
        Err(e) => return refuse(StatusCode::OK, e),
    }
    let result = transactions::run(&app, &principal, &infno, &msgid, &head, &input).await;
    let out = envelope(&app, received, &city, &result, language);
    if let Err(e) = &result {
        tracing::info!(infno = %infno, code = %e.code, "national interface refusal");
        // A failure of the service itself is not the message's answer: a resend may succeed.
        if e.kind == ErrorKind::Internal {
            if let Err(released) = app.release_interface_message(&principal, &msgid).await {
                tracing::warn!(infno = %infno, error = %released.message, "a reservation was not released: a resend is answered after it goes stale");
            }
            return answer(StatusCode::OK, out);
        }
    }
    let text = out.to_string();
    match app.keep_interface_answer(&principal, &msgid, &infno, &digest, input_text, text.clone()).await {
        // Another copy of the message was answered first: its answer stands.
        Ok(kept) if kept.answer != text => answered(&kept.answer),
        Ok(_) => answer(StatusCode::OK, out),
        Err(e) => {
            tracing::warn!(infno = %infno, error = %e.message, "an interface answer was not kept");
            answer(StatusCode::OK, out)
        }
    }
}

fn answered(text: &str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text.to_owned()).into_response()
}
