//! A directory service as someone typed it, parsed once for every way in: the GraphQL resolvers
//! `createService`, `updateService` and `updateServiceCapacity` and the console's directory forms hand
//! their text to the functions here, so how long a name may be, what a service's email, web page, place
//! or unit of capacity is, is written here and nowhere else.
//!
//! Every refusal is the domain's [`ValueError`] naming its field as the API names it (`name`, `url`,
//! `locations.name`, `postcode`, `unit`, …). [`parse_details`] reports every wrong field, in the order
//! of [`ServiceText`]'s fields: a form shows them all, the API its first. Who may manage a service, and
//! the rules on a service as a whole (ages, capacity, known taxonomy terms, coordinates), are the
//! domain's and the store's (`Store::add_service` and the rest), asked after parsing; a form that wants
//! them beside the fields as well asks the domain's own checks through [`check_whole`].

use trellis_domain::directory::{self as rules, CapacityStatus, ServiceStatus};
use trellis_domain::values::{self as v, ValueError};
use trellis_store::directory::{CapacityUpdate, Place, ServiceDetails};

/// The longest service name, in characters.
pub const MAX_NAME: usize = 200;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 4000;
/// The longest email address.
pub const MAX_EMAIL: usize = 320;
/// The longest web address.
pub const MAX_URL: usize = 2000;
/// The longest eligibility or schedule, in words.
pub const MAX_WORDS: usize = 2000;
/// The longest name of a place.
pub const MAX_PLACE_NAME: usize = 200;
/// The longest postcode as typed (spaces and all).
pub const MAX_POSTCODE: usize = 20;
/// The longest unit of capacity (`places`, `appointments`).
pub const MAX_UNIT: usize = 50;

/// A place as typed.
#[derive(Clone, Debug, Default)]
pub struct PlaceText<'a> {
    /// Its name (`West Park pavilion`).
    pub name: &'a str,
    /// Its postcode; empty is none.
    pub postcode: Option<&'a str>,
    /// Latitude (WGS84); the store checks both or neither are given.
    pub latitude: Option<f64>,
    /// Longitude (WGS84).
    pub longitude: Option<f64>,
}

/// A service as typed: each way in turns its own transport (GraphQL enums and numbers, form fields)
/// into this and nothing more.
#[derive(Clone, Debug)]
pub struct ServiceText<'a> {
    /// Its name.
    pub name: &'a str,
    /// What it is.
    pub description: &'a str,
    /// Where its offers go; empty is the organisation's address.
    pub email: Option<&'a str>,
    /// Its web page; empty is none.
    pub url: Option<&'a str>,
    /// Listed or not.
    pub status: ServiceStatus,
    /// Taxonomy term codes; the store refuses one it does not know.
    pub taxonomy: Vec<String>,
    /// Youngest age it takes.
    pub min_age: Option<i32>,
    /// Oldest age it takes.
    pub max_age: Option<i32>,
    /// Eligibility in words; empty is none.
    pub eligibility: Option<&'a str>,
    /// When it runs, in words; empty is none.
    pub schedule: Option<&'a str>,
    /// Where it happens.
    pub places: Vec<PlaceText<'a>>,
}

/// Capacity as typed.
#[derive(Clone, Debug)]
pub struct CapacityText<'a> {
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is; empty is `places`.
    pub unit: Option<&'a str>,
    /// Whether it takes people.
    pub status: CapacityStatus,
}

/// The service's name.
pub fn name(text: &str) -> Result<String, ValueError> {
    v::required_text("name", text, MAX_NAME)
}

/// What the service is.
pub fn description(text: &str) -> Result<String, ValueError> {
    v::required_text("description", text, MAX_DESCRIPTION)
}

/// Where its offers are emailed; empty is none (the organisation's address).
pub fn email(text: Option<&str>) -> Result<Option<v::EmailAddress>, ValueError> {
    v::optional_text("email", text, MAX_EMAIL)?.as_deref().map(v::EmailAddress::parse).transpose()
}

/// Its web page: `http` or `https` only (the domain's rule), empty is none.
pub fn url(text: Option<&str>) -> Result<Option<String>, ValueError> {
    v::optional_text("url", text, MAX_URL)?.as_deref().map(rules::check_url).transpose()
}

/// Its eligibility in words; empty is none.
pub fn eligibility(text: Option<&str>) -> Result<Option<String>, ValueError> {
    v::optional_text("eligibility", text, MAX_WORDS)
}

/// When it runs, in words; empty is none.
pub fn schedule(text: Option<&str>) -> Result<Option<String>, ValueError> {
    v::optional_text("schedule", text, MAX_WORDS)
}

/// One place.
pub fn place(text: &PlaceText<'_>) -> Result<Place, ValueError> {
    let postcode = v::optional_text("postcode", text.postcode, MAX_POSTCODE)?;
    Ok(Place {
        name: v::required_text("locations.name", text.name, MAX_PLACE_NAME)?,
        postcode: postcode.as_deref().map(v::Postcode::parse).transpose()?,
        latitude: text.latitude,
        longitude: text.longitude,
    })
}

/// Every place, the first wrong one refused.
pub fn places(texts: &[PlaceText<'_>]) -> Result<Vec<Place>, ValueError> {
    texts.iter().map(place).collect()
}

/// What a place of capacity is; empty is `places`.
pub fn unit(text: Option<&str>) -> Result<String, ValueError> {
    Ok(v::optional_text("unit", text, MAX_UNIT)?.unwrap_or_else(|| "places".into()))
}

/// A whole number typed into a form (`available`, `minAge`, …): empty is none.
pub fn whole_number(field: &'static str, text: &str) -> Result<Option<i32>, ValueError> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| ValueError::new(field, text.chars().take(64).collect::<String>(), "must be a whole number")),
    }
}

/// A number with a fraction typed into a form (`latitude`, `longitude`): empty is none. Whether it is on
/// the globe is the domain's question, asked by the store.
pub fn decimal(field: &'static str, text: &str) -> Result<Option<f64>, ValueError> {
    match text.trim() {
        "" => Ok(None),
        t => match t.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(ValueError::new(field, text.chars().take(64).collect::<String>(), "must be a number")),
        },
    }
}

/// A service's own fields, every wrong one reported in the order of [`ServiceText`].
pub fn parse_details(text: &ServiceText<'_>) -> Result<ServiceDetails, Vec<ValueError>> {
    let mut errors = Vec::new();
    let name = keep(&mut errors, name(text.name));
    let description = keep(&mut errors, description(text.description));
    let email = keep(&mut errors, email(text.email));
    let url = keep(&mut errors, url(text.url));
    let eligibility = keep(&mut errors, eligibility(text.eligibility));
    let schedule = keep(&mut errors, schedule(text.schedule));
    let places = keep(&mut errors, places(&text.places));
    match (name, description, email, url, eligibility, schedule, places) {
        (Some(name), Some(description), Some(email), Some(url), Some(eligibility), Some(schedule), Some(places))
            if errors.is_empty() =>
        {
            Ok(ServiceDetails {
                name,
                description,
                email,
                url,
                status: text.status,
                taxonomy: text.taxonomy.clone(),
                min_age: text.min_age,
                max_age: text.max_age,
                eligibility,
                schedule,
                places,
            })
        }
        _ => Err(errors),
    }
}

/// Capacity as the store takes it.
pub fn parse_capacity(text: &CapacityText<'_>) -> Result<CapacityUpdate, ValueError> {
    Ok(CapacityUpdate { available: text.available, maximum: text.maximum, unit: unit(text.unit)?, status: text.status })
}

/// The domain's own checks on a service as a whole (its ages; its capacity, when given), for a form to
/// show beside the fields at once. The store asks the same checks again when it writes.
pub fn check_whole(min_age: Option<i32>, max_age: Option<i32>, capacity: Option<(i32, i32)>) -> Vec<ValueError> {
    let mut errors = Vec::new();
    keep(&mut errors, rules::check_ages(min_age, max_age));
    if let Some((available, maximum)) = capacity {
        keep(&mut errors, rules::check_capacity(available, maximum));
    }
    errors
}

/// `r`'s value, or `None` with its error kept.
fn keep<T>(errors: &mut Vec<ValueError>, r: Result<T, ValueError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use super::*;

    fn text<'a>() -> ServiceText<'a> {
        ServiceText {
            name: " Walking for health ",
            description: "Gentle walks.",
            email: Some(""),
            url: None,
            status: ServiceStatus::Active,
            taxonomy: vec!["physical_activity".into()],
            min_age: Some(18),
            max_age: None,
            eligibility: Some("  "),
            schedule: Some("Tuesdays 10am"),
            places: vec![PlaceText { name: "West Park", postcode: Some("ng10 1aa"), ..Default::default() }],
        }
    }

    #[test]
    fn a_service_that_parses_is_trimmed_with_empty_optional_fields_as_none() {
        let details = parse_details(&text()).unwrap();
        assert_eq!(details.name, "Walking for health");
        assert_eq!((details.email, details.eligibility), (None, None));
        assert_eq!(details.schedule.as_deref(), Some("Tuesdays 10am"));
        assert_eq!(details.places[0].postcode.as_ref().map(|p| p.as_str().to_owned()), Some("NG10 1AA".into()));
    }

    #[test]
    fn every_wrong_field_is_reported_in_the_order_of_the_form() {
        let bad = ServiceText {
            name: "",
            email: Some("not an address"),
            url: Some("javascript:alert(1)"),
            places: vec![PlaceText { name: "", postcode: Some("NOWHERE"), ..Default::default() }],
            ..text()
        };
        let fields: Vec<&str> = parse_details(&bad).unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["name", "email", "url", "locations.name"],
            "a place reports its first wrong field, as the API always has"
        );
    }

    #[test]
    fn a_unit_left_empty_is_places_and_a_long_one_is_refused() {
        let capacity = |unit| CapacityText { available: 1, maximum: 2, unit, status: CapacityStatus::Open };
        assert_eq!(parse_capacity(&capacity(Some(" "))).unwrap().unit, "places");
        assert_eq!(parse_capacity(&capacity(Some(&"x".repeat(51)))).unwrap_err().field, "unit");
    }

    #[test]
    fn a_typed_number_must_be_whole_and_empty_is_none() {
        assert_eq!(whole_number("minAge", " 18 ").unwrap(), Some(18));
        assert_eq!(whole_number("minAge", "").unwrap(), None);
        let e = whole_number("available", "three").unwrap_err();
        assert_eq!((e.field, e.reason), ("available", "must be a whole number"));
        assert_eq!(decimal("latitude", "52.9").unwrap(), Some(52.9));
        assert_eq!(decimal("latitude", "NaN").unwrap_err().field, "latitude");
    }

    #[test]
    fn the_whole_checks_are_the_domains_ages_and_capacity() {
        let fields: Vec<&str> = check_whole(Some(70), Some(18), Some((5, 2))).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["minAge", "maximum"]);
        assert!(check_whole(None, None, None).is_empty());
    }
}
