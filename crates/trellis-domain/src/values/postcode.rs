use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A UK postcode in its normal form: upper case, one space before the inward code (`DE1 1AA`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

impl Postcode {
    /// Parses any spacing and case of a UK postcode (`de11aa`, `DE1 1AA`, `sw1a 1aa`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let err = || ValueError::new("postcode", input, "is not a UK postcode");
        // Up to seven letters and digits, upper-cased, without spaces; every stored postcode is parsed
        // again when read, so this allocates only the result.
        let mut compact = [0u8; 7];
        let mut len = 0;
        for c in input.chars().filter(|c| !c.is_whitespace()) {
            if !c.is_ascii_alphanumeric() || len == compact.len() {
                return Err(err());
            }
            compact[len] = u8::try_from(c.to_ascii_uppercase()).map_err(|_| err())?;
            len += 1;
        }
        let compact = &compact[..len];
        if compact == b"GIR0AA" {
            return Ok(Self("GIR 0AA".into()));
        }
        if len < 5 {
            return Err(err());
        }
        let (outward, inward) = compact.split_at(len - 3);
        let inward_ok =
            inward[0].is_ascii_digit() && inward[1].is_ascii_alphabetic() && inward[2].is_ascii_alphabetic();
        // Outward code shapes: A9, A99, AA9, AA99, A9A, AA9A.
        let mut shape = [0u8; 4];
        for (s, b) in shape.iter_mut().zip(outward) {
            *s = if b.is_ascii_digit() { b'9' } else { b'A' };
        }
        let outward_ok = matches!(&shape[..outward.len()], b"A9" | b"A99" | b"AA9" | b"AA99" | b"A9A" | b"AA9A");
        if !(inward_ok && outward_ok) {
            return Err(err());
        }
        let mut normal = String::with_capacity(len + 1);
        normal.extend(outward.iter().map(|&b| char::from(b)));
        normal.push(' ');
        normal.extend(inward.iter().map(|&b| char::from(b)));
        Ok(Self(normal))
    }

    /// The normal form, `DE1 1AA`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code (`DE1`), which is not identifying on its own.
    pub fn outward(&self) -> &str {
        self.0.split(' ').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Postcode {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Postcode> for String {
    fn from(p: Postcode) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outward_shape_parses_to_the_normal_form() {
        for (input, normal) in [
            ("m1 1aa", "M1 1AA"),
            ("M60 1NW", "M60 1NW"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 1HQ", "W1A 1HQ"),
            ("ec1a1bb", "EC1A 1BB"),
            ("  de1   1aa ", "DE1 1AA"),
            ("GIR 0AA", "GIR 0AA"),
        ] {
            assert_eq!(Postcode::parse(input).unwrap().as_str(), normal, "{input}");
        }
    }

    #[test]
    fn the_outward_code_is_the_part_before_the_space() {
        assert_eq!(Postcode::parse("DE22 3AB").unwrap().outward(), "DE22");
    }

    #[test]
    fn things_that_are_not_postcodes_are_refused_with_the_input() {
        for input in ["", "DE1", "12345", "DE1 AAA", "DEE1 1AA", "DE1 1A1", "DE1-1AA", "ÄE1 1AA"] {
            let e = Postcode::parse(input).unwrap_err();
            assert_eq!((e.field, e.value.as_str()), ("postcode", input));
        }
    }
}
