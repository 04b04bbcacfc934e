use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A 10-digit NHS number whose last digit is its modulus-11 check digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

impl NhsNumber {
    /// Parses `943 476 5919`, `943-476-5919` or `9434765919`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let err = |reason| ValueError::new("nhsNumber", input, reason);
        // Every stored NHS number is parsed again when read: only the result is allocated.
        let mut digits = [0u8; 10];
        let mut len = 0;
        for b in input.bytes().filter(|b| !matches!(b, b' ' | b'-')) {
            if !b.is_ascii_digit() || len == digits.len() {
                return Err(err("must be 10 digits"));
            }
            digits[len] = b;
            len += 1;
        }
        if len != digits.len() {
            return Err(err("must be 10 digits"));
        }
        let d = digits.map(|b| u32::from(b - b'0'));
        let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(digit, weight)| digit * weight).sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => {
                return Err(err("is not a valid NHS number (no check digit is possible)"));
            }
            c => c,
        };
        if check != d[9] {
            return Err(err("has the wrong check digit"));
        }
        Ok(Self(digits.iter().map(|&b| char::from(b)).collect()))
    }

    /// The 10 digits with no spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_nhs_number_parses_with_or_without_separators() {
        for input in ["9434765919", "943 476 5919", "943-476-5919"] {
            let n = NhsNumber::parse(input).unwrap();
            assert_eq!(n.as_str(), "9434765919");
            assert_eq!(n.to_string(), "943 476 5919");
        }
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        let e = NhsNumber::parse("9434765918").unwrap_err();
        assert_eq!(e.field, "nhsNumber");
        assert_eq!(e.reason, "has the wrong check digit");
        assert_eq!(e.value, "9434765918");
    }

    #[test]
    fn a_number_whose_check_digit_would_be_ten_is_refused() {
        // 1000000060: sum = 1*10 + 6*2 = 22, 11 - 0 = 11 -> 0; find one with remainder 1 instead.
        // 1000000010: sum = 10 + 2 = 12, 12 % 11 = 1, 11 - 1 = 10 -> impossible.
        assert_eq!(
            NhsNumber::parse("1000000010").unwrap_err().reason,
            "is not a valid NHS number (no check digit is possible)"
        );
    }

    #[test]
    fn wrong_lengths_and_letters_are_refused() {
        for input in ["", "943476591", "94347659190", "94347659a9", "９４３４７６５９１９"] {
            assert_eq!(NhsNumber::parse(input).unwrap_err().reason, "must be 10 digits", "{input}");
        }
    }
}
