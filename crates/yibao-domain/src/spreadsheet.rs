//! Text written into a file a spreadsheet opens (every CSV download and error file): a cell
//! a spreadsheet would run as a formula is written as the text it is.

use std::borrow::Cow;

/// `text` as a spreadsheet cell that is never a formula: a text that starts with `=`, `+`,
/// `@`, a tab or a carriage return, or with `-` before anything but a number (a claim id, a
/// name or a file's cell the caller chose), gets a leading apostrophe, which spreadsheets
/// show as text and do not run (CSV injection).
#[must_use]
pub fn spreadsheet_text(text: &str) -> Cow<'_, str> {
    let formula = match text.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => text[1..].parse::<f64>().is_err(),
        _ => false,
    };
    if formula { Cow::Owned(format!("'{text}")) } else { Cow::Borrowed(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_is_written_as_text_and_a_number_as_itself() {
        for (text, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("\tx", "'\tx"),
            ("-12.50", "-12.50"),
            ("12.50", "12.50"),
            ("张三", "张三"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_text(text), written, "{text:?}");
        }
    }
}
