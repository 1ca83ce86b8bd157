//! Reading a message's nodes as real traffic sends them (`../shared/SPEC.md`, "Real traffic
//! differs from the specification"): node and field names in any case (`signIn`), an empty
//! value as `""`, `null`, `"null"` or absent, an amount as a string or a bare number, a
//! date-time where a date is due and the reverse, unknown keys in any order. What cannot be
//! read without guessing about money or identity is refused naming the field.

use serde_json::{Map, Value};
use time::{Date, PrimitiveDateTime};
use yibao_app::AppError;
use yibao_domain::{Fen, NationalId};

/// A JSON object read by lower-cased key.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    /// Where this node is in the message, for refusals (`input.data`).
    pub path: &'a str,
    map: Option<&'a Map<String, Value>>,
}

pub fn bad(path: &str, field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::bad_request("interface.bad_field", format!("{path}.{field}: {why}"))
}

/// Whether a value is one of the spellings of "empty".
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty() || text.trim().eq_ignore_ascii_case("null"),
        _ => false,
    }
}

fn find<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| map.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

impl<'a> Node<'a> {
    #[must_use]
    pub fn of(path: &'a str, value: &'a Value) -> Node<'a> {
        Node { path, map: value.as_object() }
    }

    /// The value of `name`, `None` when empty in any spelling.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.and_then(|map| find(map, name)).filter(|value| !is_empty(value))
    }

    /// A child object (`input.data`); refused when absent or not an object.
    pub fn child(&self, name: &'a str) -> Result<Node<'a>, AppError> {
        match self.get(name) {
            Some(value @ Value::Object(_)) => Ok(Node { path: name, map: value.as_object() }),
            // Some systems send a one-element list where an object is due.
            Some(Value::Array(items)) if items.len() == 1 && items[0].is_object() => Ok(Node { path: name, map: items[0].as_object() }),
            Some(_) => Err(bad(self.path, name, "is not an object")),
            None => Err(bad(self.path, name, "is required")),
        }
    }

    /// A list of objects (`input.feedetail`); a single object is read as a list of one.
    pub fn list(&self, name: &'a str) -> Result<Vec<Node<'a>>, AppError> {
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    if item.is_object() {
                        Ok(Node::of(name, item))
                    } else {
                        Err(bad(self.path, name, "holds an entry that is not an object"))
                    }
                })
                .collect(),
            Some(value @ Value::Object(_)) => Ok(vec![Node::of(name, value)]),
            Some(_) => Err(bad(self.path, name, "is not a list")),
            None => Ok(Vec::new()),
        }
    }

    /// A text field, trimmed; numbers are read as their digits.
    pub fn text(&self, name: &str) -> Result<Option<String>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(bad(self.path, name, "is not text")),
        }
    }

    pub fn required(&self, name: &str) -> Result<String, AppError> {
        self.text(name)?.ok_or_else(|| bad(self.path, name, "is required"))
    }

    /// An amount in yuan with at most two decimals, as text or a bare number.
    pub fn amount(&self, name: &str) -> Result<Option<Fen>, AppError> {
        let Some(text) = self.text(name)? else { return Ok(None) };
        let fen = Fen::parse_yuan(&text)
            .map_err(|_| bad(self.path, name, format!("'{text}' is not an amount in yuan (at most two decimals)")))?;
        if fen.is_negative() {
            return Err(bad(self.path, name, "may not be negative"));
        }
        Ok(Some(fen))
    }

    pub fn required_amount(&self, name: &str) -> Result<Fen, AppError> {
        self.amount(name)?.ok_or_else(|| bad(self.path, name, "is required"))
    }

    /// A date, `yyyy-MM-dd`; a date-time (`yyyy-MM-dd HH:mm:ss`) is read as its day.
    pub fn date(&self, name: &str) -> Result<Option<Date>, AppError> {
        let Some(text) = self.text(name)? else { return Ok(None) };
        parse_day(&text).map(Some).ok_or_else(|| bad(self.path, name, format!("'{text}' is not a date (yyyy-MM-dd)")))
    }

    pub fn required_date(&self, name: &str) -> Result<Date, AppError> {
        self.date(name)?.ok_or_else(|| bad(self.path, name, "is required"))
    }

    /// A flag: `"1"`/`1`/`true` yes, `"0"`/`0`/`false`/empty no.
    pub fn flag(&self, name: &str) -> Result<bool, AppError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(value) => match self.text(name)?.as_deref().or(value.as_str()) {
                Some("1") => Ok(true),
                Some("0") => Ok(false),
                _ => Err(bad(self.path, name, "is not a flag (0 or 1)")),
            },
        }
    }

    /// A national ID (`psn_no`, `certno`).
    pub fn person(&self, name: &str) -> Result<NationalId, AppError> {
        let text = self.required(name)?;
        NationalId::parse(&text).map_err(|e| bad(self.path, name, e))
    }
}

/// `yyyy-MM-dd`, or the day of `yyyy-MM-dd HH:mm:ss` (also with a `T`).
#[must_use]
pub fn parse_day(text: &str) -> Option<Date> {
    // Four digits of year first: no sign, no fifth digit.
    if !text.as_bytes().get(..4).is_some_and(|year| year.iter().all(u8::is_ascii_digit)) || text.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let moment = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    Date::parse(text, day).ok().or_else(|| PrimitiveDateTime::parse(&text.replacen('T', " ", 1), moment).ok().map(PrimitiveDateTime::date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: &Value) -> Node<'_> {
        Node::of("input.data", value)
    }

    #[test]
    fn empties_in_every_spelling_are_absent() {
        let value = serde_json::json!({"a": "", "b": null, "c": "null", "d": " ", "e": "x"});
        let n = node(&value);
        for field in ["a", "b", "c", "d", "missing"] {
            assert_eq!(n.text(field).unwrap(), None, "{field}");
        }
        assert_eq!(n.text("E").unwrap().as_deref(), Some("x"), "names are read in any case");
    }

    #[test]
    fn amounts_as_text_or_number_to_the_fen() {
        let value = serde_json::json!({"t": "12.30", "n": 12.3, "i": 7, "bad": "1.234", "neg": "-1"});
        let n = node(&value);
        assert_eq!(n.amount("t").unwrap(), Some(Fen::new(1230)));
        assert_eq!(n.amount("n").unwrap(), Some(Fen::new(1230)));
        assert_eq!(n.amount("i").unwrap(), Some(Fen::new(700)));
        let refused = n.amount("bad").unwrap_err();
        assert!(refused.message.contains("input.data.bad"), "{}", refused.message);
        assert!(n.amount("neg").is_err());
    }

    #[test]
    fn a_date_time_where_a_date_is_due() {
        let value = serde_json::json!({"d": "2026-03-01", "t": "2026-03-01 08:30:00", "bad": "01/03/2026"});
        let n = node(&value);
        let day = time::macros::date!(2026 - 03 - 01);
        assert_eq!(n.date("d").unwrap(), Some(day));
        assert_eq!(n.date("t").unwrap(), Some(day));
        assert!(n.date("bad").is_err());
        let signed = serde_json::json!({"neg": "-0001-01-01", "plus": "+2026-01-01", "five": "20260-01-01"});
        for field in ["neg", "plus", "five"] {
            assert!(node(&signed).date(field).is_err(), "{field}");
        }
    }
}
