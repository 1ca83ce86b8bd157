//! The language of an answer (ARCHITECTURE.md, invariant `bilingual`): the caller's
//! `Accept-Language` chooses between Chinese, the default as in the console, and English.
//! Error bodies are written in Chinese by [`ApiError`](crate::ApiError); [`localize`]
//! rewrites an error's message in English when the caller prefers it, keeping its code.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, CONTENT_LENGTH, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use yibao_app::Language;

use crate::error::{ErrorBody, Untranslated};

/// The language an `Accept-Language` value prefers: English when an `en` or `en-*` range
/// has a higher quality than every `zh` range (or the same quality, listed first);
/// otherwise Chinese. Ranges of other languages, `*` and malformed entries are ignored,
/// and `q=0` means "not this one".
#[must_use]
pub fn preferred(accept_language: &str) -> Language {
    // (quality in thousandths, position) of the best range for each language.
    let mut best_zh: Option<(u16, usize)> = None;
    let mut best_en: Option<(u16, usize)> = None;
    for (position, range) in accept_language.split(',').enumerate() {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default();
        let slot = match primary {
            "zh" => &mut best_zh,
            "en" => &mut best_en,
            _ => continue,
        };
        let mut quality = Some(1000);
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                quality = parse_quality(value.trim());
            }
        }
        let Some(quality) = quality else { continue };
        if quality > 0 && slot.is_none_or(|(q, _)| quality > q) {
            *slot = Some((quality, position));
        }
    }
    match (best_en, best_zh) {
        (Some(_), None) => Language::En,
        (Some((en_q, en_at)), Some((zh_q, zh_at))) if en_q > zh_q || (en_q == zh_q && en_at < zh_at) => Language::En,
        _ => Language::Zh,
    }
}

/// A quality value (RFC 9110 §12.4.2): 0 to 1 with at most three decimals, in thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The language of a request: its `Accept-Language`, or Chinese.
#[must_use]
pub fn of_request(headers: &HeaderMap) -> Language {
    headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map_or(Language::Zh, preferred)
}

/// Middleware over the API's routes: an error answer's message in the request's language
/// (`Content-Language` says which, `Vary: Accept-Language` tells caches). The body stays
/// `{code, message}`; only `message` changes.
pub async fn localize(request: Request, next: Next) -> Response {
    let language = of_request(request.headers());
    let mut response = next.run(request).await;
    let Some(Untranslated(body)) = response.extensions_mut().remove::<Untranslated>() else {
        return response;
    };
    let (mut parts, zh_body) = response.into_parts();
    parts.headers.insert(VARY, HeaderValue::from_static("accept-language"));
    let content_language = match language {
        Language::Zh => "zh-CN",
        Language::En => "en",
    };
    parts.headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(content_language));
    if language == Language::Zh {
        return Response::from_parts(parts, zh_body);
    }
    let english = ErrorBody { message: yibao_app::messages::message(Language::En, &body.code, &body.message), code: body.code };
    let bytes = serde_json::to_vec(&english).unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_unless_english_is_preferred() {
        for (header, want) in [
            ("", Language::Zh),
            ("zh-CN", Language::Zh),
            ("en", Language::En),
            ("en-US", Language::En),
            ("EN-gb", Language::En),
            ("fr, de;q=0.5", Language::Zh),
            ("fr, en;q=0.5", Language::En),
            ("*", Language::Zh),
            ("zh-CN,zh;q=0.9,en;q=0.8", Language::Zh),
            ("en-US,en;q=0.9,zh-CN;q=0.8", Language::En),
            ("zh;q=0.5, en;q=0.8", Language::En),
            ("en;q=0.5, zh;q=0.8", Language::Zh),
            ("en, zh", Language::En),
            ("zh, en", Language::Zh),
            ("en;q=0", Language::Zh),
            ("en;q=0.000, zh;q=0.1", Language::Zh),
            ("en;q=1.0", Language::En),
            ("en;q=2, zh;q=0.1", Language::Zh),
            ("en;q=abc", Language::Zh),
            ("english", Language::Zh),
        ] {
            assert_eq!(preferred(header), want, "{header:?}");
        }
    }
}
