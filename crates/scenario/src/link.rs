//! Share links: a scenario (with its seed) in a URL fragment, `#v1.<base64url of the TOML>`.
//! Plain TOML inside, so a link stays readable once decoded and needs no compression crate.
//! Decoding refuses corrupted, truncated or oversized links with a reason; it never panics.

use crate::model::Scenario;
use crate::parse::{ScenarioError, MAX_SCENARIO_BYTES};

const PREFIX: &str = "v1.";
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The longest fragment accepted: the largest scenario, encoded, plus the prefix.
pub const MAX_LINK_CHARS: usize = PREFIX.len() + MAX_SCENARIO_BYTES.div_ceil(3) * 4;

/// The fragment (without `#`) that carries `scenario`.
pub fn encode_link(scenario: &Scenario) -> String {
    let text = scenario.to_toml();
    let mut out = String::with_capacity(PREFIX.len() + text.len().div_ceil(3) * 4);
    out.push_str(PREFIX);
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn link_error(message: impl Into<String>) -> ScenarioError {
    ScenarioError::field(None, "link", message)
}

/// Reads a fragment (with or without the leading `#`) back into a checked scenario.
pub fn decode_link(fragment: &str) -> Result<Scenario, ScenarioError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.len() > MAX_LINK_CHARS {
        return Err(link_error(format!(
            "the link is {} characters; the limit is {MAX_LINK_CHARS}",
            fragment.len()
        )));
    }
    let body = fragment
        .strip_prefix(PREFIX)
        .ok_or_else(|| link_error("this is not a kplay share link (it should start with v1.)"))?;
    if body.len() % 4 == 1 {
        return Err(link_error("the link is truncated"));
    }
    let mut bytes = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, c) in body.bytes().enumerate() {
        let v = ALPHABET.iter().position(|&a| a == c).ok_or_else(|| {
            link_error(format!(
                "the link is corrupted: unexpected character {:?} at position {}",
                c as char,
                i + PREFIX.len()
            ))
        })?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| link_error("the link is corrupted: it does not decode to text"))?;
    Scenario::parse(&text)
        .map_err(|e| link_error(format!("the scenario in the link is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");

    #[test]
    fn a_link_round_trips_the_scenario() {
        let s = Scenario::parse(QUICKSTART).expect("parses");
        let link = encode_link(&s);
        assert!(link.starts_with("v1."));
        assert!(link
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        let back = decode_link(&format!("#{link}")).expect("decodes");
        assert_eq!(back.to_toml(), s.to_toml());
    }

    #[test]
    fn broken_links_are_refused_with_a_reason() {
        let s = Scenario::parse(QUICKSTART).expect("parses");
        let link = encode_link(&s);
        let cases = [
            (String::new(), "not a kplay share link"),
            ("v2.abc".to_string(), "not a kplay share link"),
            (format!("{}!", &link[..40]), "unexpected character"),
            (link[..link.len() / 2].to_string(), "invalid"),
            (format!("{}A", &link[..45]), ""),
            ("v1.".to_string() + &"A".repeat(MAX_LINK_CHARS), "limit"),
        ];
        for (fragment, needle) in cases {
            let e = decode_link(&fragment).expect_err("refused");
            assert_eq!(e.field, "link");
            assert!(e.message.contains(needle), "{fragment:.60}: {e}");
        }
    }

    #[test]
    fn every_prefix_of_a_link_decodes_or_fails_cleanly() {
        let link = encode_link(&Scenario::parse(QUICKSTART).expect("parses"));
        for end in 0..link.len() {
            let _ = decode_link(&link[..end]);
        }
    }
}
