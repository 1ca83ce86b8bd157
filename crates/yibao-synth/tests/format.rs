//! The line format: every person and claim written reads back to the same coverage and
//! claim, and the header names every field.

use yibao_domain::{Fen, Rounding};
use yibao_synth::format::{CLAIM_HEADER, PERSON_HEADER, parse_claim, parse_person, write_claim, write_person};
use yibao_synth::{City, Config};

#[test]
fn persons_and_claims_read_back_as_written() {
    let city = City::new(Config::new(2_000, 31)).expect("config");
    let block = city.block(0);
    let mut line = String::new();
    for person in &block.persons {
        line.clear();
        write_person(&mut line, &city, person);
        assert_eq!(line.split(',').count(), PERSON_HEADER.split(',').count(), "{line}");
        let (coverage, wage) = parse_person(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(coverage, person.coverage(&city), "{line}");
        assert_eq!(wage, person.wage_monthly);
    }
    let claims = block.claims(&city);
    assert!(claims.len() > 10_000);
    for event in &claims {
        let person = block.person(event).expect("its person");
        let claim = city.claim(person, event);
        line.clear();
        write_claim(&mut line, person.id, &claim);
        assert_eq!(line.split(',').count(), CLAIM_HEADER.split(',').count(), "{line}");
        let (id, parsed) = parse_claim(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(id, person.id);
        assert_eq!(parsed, claim, "{line}");
        let bill: Fen = claim.lines.iter().map(|l| Rounding::HalfUp.scale(l.unit_price, i64::from(l.quantity.milli()), 1000)).sum();
        assert_eq!(line.split(',').nth(14), Some(bill.to_string().as_str()), "{line}");
    }
    assert!(parse_claim("a,b").is_err());
    assert!(parse_person(&format!("{line},extra")).is_err());
}
