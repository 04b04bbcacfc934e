//! A record read and checked: every value parsed (postcodes, emails, coordinates, ages, capacity) into
//! what the import writes, or the reason it cannot be, naming the field.

use chrono::{DateTime, Utc};
use serde_json::Number;
use trellis_domain::directory::{self as rules, CapacityStatus, Coordinates, ServiceStatus, TAXONOMY};
use trellis_domain::values::{EmailAddress, Postcode, required_text};
use uuid::Uuid;

use super::wire_v1::*;
use crate::directory::{Capacity, LocationRow, TermSpec};

pub(super) fn whole(field: &str, n: &Number) -> Result<i32, String> {
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e9).map(|f| f as i64))
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| format!("{field} {n} is not a whole number"))
}

pub(super) fn text(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// A record read and checked, ready to write.
pub(super) struct ParsedService {
    pub(super) id: String,
    pub(super) organisation: ParsedOrganisation,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) email: Option<String>,
    pub(super) url: Option<String>,
    pub(super) status: ServiceStatus,
    pub(super) min_age: Option<i32>,
    pub(super) max_age: Option<i32>,
    pub(super) eligibility: Option<String>,
    pub(super) schedule: Option<String>,
    pub(super) terms: Vec<TermSpec>,
    /// (external location id, service-at-location id, location).
    pub(super) locations: Vec<(String, String, LocationRow)>,
    pub(super) capacity: Option<Capacity>,
}

pub(super) struct ParsedOrganisation {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: Option<String>,
}

fn parse_email(field: &str, value: Option<&str>) -> Result<Option<String>, String> {
    match text(value) {
        None => Ok(None),
        Some(e) => EmailAddress::parse(&e).map(|e| Some(e.into())).map_err(|e| format!("{field}: {e}")),
    }
}

/// Maps a term onto Trellis's own taxonomy where its code or name says it is one of ours; otherwise
/// keeps it under its own vocabulary.
fn term_spec(t: &OrukTaxonomyTerm) -> Result<TermSpec, String> {
    let id = Uuid::parse_str(&t.id).ok();
    let name = t.name.trim();
    let code = text(t.code.as_deref()).or_else(|| text(Some(&t.id)).filter(|_| id.is_none()));
    if let Some(c) = code.as_deref().filter(|c| rules::term_name(c).is_some()) {
        return Ok(TermSpec::code(c)).map(|s| TermSpec { id, ..s });
    }
    if let Some((c, _)) = TAXONOMY.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
        return Ok(TermSpec { id, ..TermSpec::code(c) });
    }
    let code = match code {
        Some(c) => c,
        None if !name.is_empty() => name.to_lowercase().split_whitespace().collect::<Vec<_>>().join("_"),
        None => return Err("a taxonomy term has neither a code nor a name".into()),
    };
    Ok(TermSpec {
        id,
        name: if name.is_empty() { code.clone() } else { name.to_owned() },
        vocabulary: text(t.vocabulary.as_deref()).unwrap_or_else(|| "external".into()),
        code,
    })
}

pub(super) fn parse_record(s: OrukService, now: DateTime<Utc>) -> Result<ParsedService, String> {
    if s.id.is_empty() {
        return Err("has no id".into());
    }
    let name = required_text("name", &s.name, 200).map_err(|e| e.to_string())?;
    let description = text(s.description.as_deref()).unwrap_or_default();
    if description.chars().count() > 10_000 {
        return Err("description is too long".into());
    }
    let org = s.organization.as_ref().ok_or("has no organization")?;
    let organisation = ParsedOrganisation {
        id: org.id.clone(),
        name: required_text("organization.name", &org.name, 200).map_err(|e| e.to_string())?,
        email: parse_email("organization.email", org.email.as_deref())?,
    };
    let status = match s.status.as_deref().map(|s| s.trim().to_lowercase()).as_deref() {
        None | Some("") | Some("active") => ServiceStatus::Active,
        Some("inactive" | "defunct" | "temporarily closed") => ServiceStatus::Inactive,
        Some(other) => return Err(format!("status {other:?} is not an Open Referral status")),
    };
    let url = match text(s.url.as_deref()) {
        None => None,
        Some(u) => Some(rules::check_url(&u).map_err(|e| e.to_string())?),
    };

    let eligibility = s.eligibilitys.iter().find(|e| e.minimum_age.is_some() || e.maximum_age.is_some());
    let min_age = s.minimum_age.as_ref().or(eligibility.and_then(|e| e.minimum_age.as_ref()));
    let max_age = s.maximum_age.as_ref().or(eligibility.and_then(|e| e.maximum_age.as_ref()));
    let min_age = min_age.map(|n| whole("minimum_age", n)).transpose()?;
    let max_age = max_age.map(|n| whole("maximum_age", n)).transpose()?;
    rules::check_ages(min_age, max_age).map_err(|e| e.to_string())?;
    let eligibility_words: Vec<String> = s.eligibilitys.iter().filter_map(|e| text(e.eligibility.as_deref())).collect();
    let eligibility = text(s.eligibility_description.as_deref())
        .or_else(|| (!eligibility_words.is_empty()).then(|| eligibility_words.join("; ")));

    let schedule_words: Vec<String> = s
        .regular_schedules
        .iter()
        .chain(&s.schedules)
        .filter_map(|r| {
            text(r.description.as_deref()).or_else(|| {
                let parts: Vec<String> =
                    [&r.byday, &r.opens_at, &r.closes_at].into_iter().filter_map(|p| text(p.as_deref())).collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
        })
        .collect();
    let schedule = (!schedule_words.is_empty()).then(|| schedule_words.join("; "));

    let mut terms = Vec::new();
    let linked = s.service_taxonomys.iter().filter_map(|t| t.taxonomy.as_ref());
    let attributed = s.attributes.iter().filter_map(|a| a.taxonomy_term.as_ref());
    for t in s.taxonomy_terms.iter().chain(linked).chain(attributed) {
        terms.push(term_spec(t)?);
    }

    let mut locations = Vec::new();
    for (i, sal) in s.service_at_locations.iter().enumerate() {
        let l = &sal.location;
        let address = l.physical_addresses.iter().chain(&l.addresses).next();
        let postcode = text(l.postcode.as_deref())
            .or_else(|| l.physical_addresses.iter().chain(&l.addresses).find_map(|a| text(a.postal_code.as_deref())));
        let label = text(l.name.as_deref()).or_else(|| text(Some(&l.id))).unwrap_or_else(|| format!("#{}", i + 1));
        let postcode = postcode
            .map(|p| Postcode::parse(&p).map(String::from))
            .transpose()
            .map_err(|e| format!("location {label}: {e}"))?;
        match (l.latitude, l.longitude) {
            (Some(lat), Some(lon)) => {
                Coordinates::parse(lat, lon).map_err(|e| format!("location {label}: {e}"))?;
            }
            (None, None) => {}
            _ => return Err(format!("location {label}: needs both latitude and longitude")),
        }
        let address_line = address.and_then(|a| {
            let parts: Vec<String> = [&a.address_1, &a.city].into_iter().filter_map(|p| text(p.as_deref())).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        });
        let name = text(l.name.as_deref())
            .or_else(|| address_line.clone())
            .or_else(|| postcode.clone())
            .unwrap_or_else(|| "Location".into());
        // A location without an id is keyed by its place in the record, so importing again finds it.
        let external = if l.id.is_empty() { format!("{}#location{}", s.id, i + 1) } else { l.id.clone() };
        locations.push((
            external,
            sal.id.clone(),
            LocationRow {
                id: Uuid::nil(),
                link_id: None,
                name,
                address: address_line,
                postcode,
                latitude: l.latitude,
                longitude: l.longitude,
            },
        ));
    }

    let capacity = match s.capacities.first() {
        None => None,
        Some(c) => {
            let available = c.available.as_ref().map(|n| whole("capacity available", n)).transpose()?.unwrap_or(0);
            let maximum = c.maximum.as_ref().map(|n| whole("capacity maximum", n)).transpose()?.unwrap_or(available);
            rules::check_capacity(available, maximum).map_err(|e| format!("capacity: {e}"))?;
            let status = match text(c.status.as_deref()) {
                Some(st) => CapacityStatus::parse(&st).map_err(|e| format!("capacity: {e}"))?,
                None if available > 0 => CapacityStatus::Open,
                None => CapacityStatus::Closed,
            };
            let unit = c.unit.as_ref().and_then(|u| text(Some(&u.name))).unwrap_or_else(|| "places".into());
            Some(Capacity { available, maximum, unit, status, updated_at: c.updated.unwrap_or(now) })
        }
    };

    Ok(ParsedService {
        id: s.id,
        organisation,
        name,
        description,
        email: parse_email("email", s.email.as_deref())?,
        url,
        status,
        min_age,
        max_age,
        eligibility,
        schedule,
        terms,
        locations,
        capacity,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use serde_json::Value;

    use super::*;

    fn record(json: Value) -> Result<ParsedService, String> {
        parse_record(serde_json::from_value(json).unwrap(), Utc::now())
    }

    #[test]
    fn an_oruk_1_record_is_read_with_its_nested_parts() {
        let p = record(serde_json::json!({
            "id": 42, "name": " Chatty Café ", "status": "active",
            "organization": { "id": "org-1", "name": "Erewash Voluntary Action", "email": "info@eva.example" },
            "service_taxonomys": [{ "taxonomy": { "id": "x1", "name": "Befriending", "vocabulary": "esd" } }],
            "eligibilitys": [{ "eligibility": "Adults", "minimum_age": "18", "maximum_age": 99.0 }],
            "regular_schedules": [{ "byday": "TU", "opens_at": "10:00", "closes_at": "12:00" }],
            "service_at_locations": [{ "location": {
                "name": "Library", "latitude": "52.9", "longitude": -1.3,
                "physical_addresses": [{ "address_1": "1 High St", "city": "Ilkeston", "postal_code": "de7 5ab" }]
            } }],
            "capacities": [{ "available": 3, "maximum": 10, "unit": { "name": "seats" } }]
        }))
        .unwrap();
        assert_eq!((p.id.as_str(), p.name.as_str()), ("42", "Chatty Café"));
        assert_eq!(p.terms[0].code, "befriending", "a term named like one of ours is ours");
        assert_eq!((p.min_age, p.max_age, p.eligibility.as_deref()), (Some(18), Some(99), Some("Adults")));
        assert_eq!(p.schedule.as_deref(), Some("TU 10:00 12:00"));
        let (external, _, l) = &p.locations[0];
        assert_eq!(external, "42#location1");
        assert_eq!(l.postcode.as_deref(), Some("DE7 5AB"));
        assert_eq!(l.address.as_deref(), Some("1 High St, Ilkeston"));
        let c = p.capacity.unwrap();
        assert_eq!((c.available, c.maximum, c.unit.as_str(), c.status), (3, 10, "seats", CapacityStatus::Open));
    }

    #[test]
    fn bad_values_are_refused_with_a_reason_naming_them() {
        let base = serde_json::json!({ "id": "s1", "name": "Walk", "organization": { "id": "o", "name": "O" } });
        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            v[key] = value;
            record(v).err().unwrap_or_default()
        };
        assert!(with("name", Value::Null).contains("name"));
        assert!(with("organization", Value::Null).contains("organization"));
        assert!(with("email", "not-an-email".into()).contains("email"));
        assert!(with("status", "paused".into()).contains("paused"));
        assert!(with("url", "javascript:alert(1)".into()).contains("url"));
        let bad_postcode = serde_json::json!([{ "location": { "id": "l", "name": "Hall", "postcode": "NOPE" } }]);
        assert!(with("service_at_locations", bad_postcode).contains("location Hall"));
        let one_coordinate = serde_json::json!([{ "location": { "id": "l", "latitude": 52.0 } }]);
        assert!(with("service_at_locations", one_coordinate).contains("longitude"));
        assert!(with("capacities", serde_json::json!([{ "available": 5, "maximum": 2 }])).contains("capacity"));
        assert_eq!(record(serde_json::json!({ "name": "x" })).err().unwrap(), "has no id");
    }
}
