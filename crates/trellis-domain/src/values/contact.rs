use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// An email address: one `@`, a non-empty local part, and a dotted domain of letters, digits and hyphens.
///
/// Deliberately not the full RFC 5322 grammar: addresses people actually give are checked well enough to
/// catch typing mistakes, and delivery proves the rest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and lower-cases the domain of an address.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let err = |reason| ValueError::new("email", input, reason);
        let s = input.trim();
        if s.len() > 254 {
            return Err(err("is too long"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(err("must contain @"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if !local_ok {
            return Err(err("has an invalid part before @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(err("has an invalid domain"));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

/// A UK phone number, stored in national form (`01332 123456` becomes `01332123456`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a UK number written with spaces, hyphens, brackets, or a `+44` / `0044` prefix.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let err = |reason| ValueError::new("phone", input, reason);
        let s: String = input.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let national = if let Some(rest) = s.strip_prefix("+44").or_else(|| s.strip_prefix("0044")) {
            format!("0{}", rest.strip_prefix('0').unwrap_or(rest))
        } else {
            s
        };
        if !national.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("must contain only digits, spaces and a leading +44"));
        }
        if !national.starts_with('0') || !(10..=11).contains(&national.len()) {
            return Err(err("must be a UK number of 10 or 11 digits starting with 0"));
        }
        Ok(Self(national))
    }

    /// The national form, digits only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

/// How the person would like to be contacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    /// A phone call.
    Phone,
    /// A text message.
    Text,
    /// An email.
    Email,
    /// A letter.
    Letter,
}

impl ContactMethod {
    /// Every method.
    pub const ALL: [ContactMethod; 4] = [Self::Phone, Self::Text, Self::Email, Self::Letter];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Text => "text",
            Self::Email => "email",
            Self::Letter => "letter",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ValueError::new("preferredContact", s, "is not a contact method"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_address_keeps_its_local_part_and_lower_cases_its_domain() {
        assert_eq!(
            EmailAddress::parse(" Ann.Smith+gp@Example.NHS.uk ").unwrap().as_str(),
            "Ann.Smith+gp@example.nhs.uk"
        );
    }

    #[test]
    fn malformed_email_addresses_are_refused_with_a_reason() {
        for (input, reason) in [
            ("", "must contain @"),
            ("ann.example.org", "must contain @"),
            ("@example.org", "has an invalid part before @"),
            ("ann..smith@example.org", "has an invalid part before @"),
            ("ann smith@example.org", "has an invalid part before @"),
            ("ann@localhost", "has an invalid domain"),
            ("ann@exa_mple.org", "has an invalid domain"),
            ("ann@-example.org", "has an invalid domain"),
            ("ann@example..org", "has an invalid domain"),
        ] {
            let e = EmailAddress::parse(input).unwrap_err();
            assert_eq!((e.field, e.reason), ("email", reason), "{input}");
        }
    }

    #[test]
    fn uk_phone_numbers_parse_to_national_form() {
        for (input, national) in [
            ("01332 123456", "01332123456"),
            ("+44 7700 900123", "07700900123"),
            ("+44 (0)7700 900123", "07700900123"),
            ("0044-1332-123456", "01332123456"),
            ("0800 123456", "0800123456"),
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), national, "{input}");
        }
    }

    #[test]
    fn phone_numbers_that_are_not_uk_numbers_are_refused() {
        for input in ["", "12345", "07700 90012x", "+1 202 555 0100", "077009001234"] {
            assert_eq!(PhoneNumber::parse(input).unwrap_err().field, "phone", "{input}");
        }
    }

    #[test]
    fn contact_methods_round_trip_through_their_names() {
        for m in ContactMethod::ALL {
            assert_eq!(ContactMethod::parse(m.as_str()).unwrap(), m);
        }
        assert!(ContactMethod::parse("pigeon").is_err());
    }
}
