//! A record read field by field from JSON (ORUK 3.0 / HSDS 3, and ORUK 1), keeping what is good: a bad
//! part (a location with an impossible latitude, an email that is not one, a term with no name) is left
//! out with a warning naming its field and value, and the rest imports. A record is rejected only when it
//! has no usable id or name.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use trellis_domain::directory::{self as rules, CapacityStatus, Coordinates, ServiceStatus, TAXONOMY};
use trellis_domain::values::{EmailAddress, Postcode, required_text};
use uuid::Uuid;

use super::report::{ImportRejection, ImportWarning};
use crate::directory::{LocationRow, TermSpec};

/// Longest description kept; a longer one is cut, with a warning.
const MAX_DESCRIPTION: usize = 10_000;
/// Longest id accepted.
const MAX_ID: usize = 200;
/// Longest value quoted in a warning.
const MAX_QUOTED: usize = 80;

/// A record read and checked, ready to write. `Debug` is its content hash's input, so it holds only
/// what the record said (no clock).
#[derive(Debug)]
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
    pub(super) capacity: Option<ParsedCapacity>,
}

/// The organisation a record names (or, when it names none usable, one named after the service).
#[derive(Debug)]
pub(super) struct ParsedOrganisation {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: Option<String>,
}

/// A service's capacity as the record gave it; `updated` absent means "as of the import".
#[derive(Debug)]
pub(super) struct ParsedCapacity {
    pub(super) available: i32,
    pub(super) maximum: i32,
    pub(super) unit: String,
    pub(super) status: CapacityStatus,
    pub(super) updated: Option<DateTime<Utc>>,
}

/// A value as a warning quotes it: strings as they are, anything else as JSON, shortened.
fn quoted(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= MAX_QUOTED {
        return text;
    }
    text.chars().take(MAX_QUOTED).chain(['…']).collect()
}

/// A value as a rejection shows it: as JSON, shortened.
fn as_json(value: &Value) -> String {
    quoted(&Value::String(value.to_string()))
}

/// A field that is there and not `null`.
fn get<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// The first of `keys` present in `object`, with the key found.
fn first_of<'a>(object: &'a Value, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
    keys.iter().find_map(|k| get(object, k).map(|v| (*k, v)))
}

/// Reads one record's fields, collecting a warning for each part left out.
struct Reader {
    record: String,
    warnings: Vec<ImportWarning>,
}

impl Reader {
    fn warn(&mut self, field: &str, value: &Value, reason: impl Into<String>) {
        self.warnings.push(ImportWarning {
            record: self.record.clone(),
            field: field.to_owned(),
            value: quoted(value),
            reason: reason.into(),
        });
    }

    /// Text, trimmed; a number is taken as its digits; empty is none; anything else is left out.
    fn text(&mut self, value: Option<&Value>, field: &str) -> Option<String> {
        match value? {
            Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(String::from),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.warn(field, other, "is not text: left out");
                None
            }
        }
    }

    /// A number, or a numeric string; empty is none; anything else is left out.
    fn number(&mut self, value: Option<&Value>, field: &str) -> Option<f64> {
        let v = value?;
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if s.trim().is_empty() => return None,
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        };
        if n.is_none() {
            self.warn(field, v, "is not a number: left out");
        }
        n
    }

    /// A whole number that fits, or none with a warning.
    fn whole(&mut self, value: Option<&Value>, field: &str) -> Option<i32> {
        let n = self.number(value, field)?;
        let whole = (n.fract() == 0.0 && n.abs() < 1e9).then_some(n as i64).and_then(|i| i32::try_from(i).ok());
        if whole.is_none()
            && let Some(v) = value
        {
            self.warn(field, v, "is not a whole number: left out");
        }
        whole
    }

    /// The items of a list; `null` or absent is empty; a single object is taken as a list of one.
    fn list<'a>(&mut self, value: Option<&'a Value>, field: &str) -> Vec<&'a Value> {
        match value {
            None => vec![],
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(other) => {
                self.warn(field, other, "is not a list: left out");
                vec![]
            }
        }
    }

    /// An object, or none with a warning.
    fn object<'a>(&mut self, value: Option<&'a Value>, field: &str) -> Option<&'a Map<String, Value>> {
        match value? {
            Value::Object(o) => Some(o),
            other => {
                self.warn(field, other, "is not an object: left out");
                None
            }
        }
    }

    fn email(&mut self, value: Option<&Value>, field: &str) -> Option<String> {
        let text = self.text(value, field)?;
        match EmailAddress::parse(&text) {
            Ok(e) => Some(e.into()),
            Err(e) => {
                self.warn(field, &Value::String(text), format!("{}: left out", e.reason));
                None
            }
        }
    }
}

/// An id as a source may write it: a non-empty string or a number.
fn usable_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty() && s.chars().count() <= MAX_ID).map(String::from),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The label a record is reported under: its id, or its place in the page.
pub(super) fn record_label(value: &Value, index: usize) -> String {
    usable_id(value.get("id")).unwrap_or_else(|| format!("#{}", index + 1))
}

/// Reads the `index`-th record of a page: the service to write and the warnings about parts left out,
/// or why it cannot be imported at all.
pub(super) fn read_record(value: &Value, index: usize) -> Result<(ParsedService, Vec<ImportWarning>), ImportRejection> {
    let record = record_label(value, index);
    let reject = |reason: String| ImportRejection { record: record.clone(), reason };
    if !value.is_object() {
        return Err(reject(format!("is not a JSON object ({}), so it has no id or name", as_json(value))));
    }
    let Some(id) = usable_id(value.get("id")) else {
        let found = value.get("id").map_or_else(|| "none".into(), as_json);
        return Err(reject(format!("has no usable id (id: {found})")));
    };
    let name = match value.get("name") {
        Some(Value::String(s)) => required_text("name", s, 200).map_err(|e| reject(format!("name: {}", e.reason)))?,
        Some(other) => return Err(reject(format!("has no usable name (name: {})", as_json(other)))),
        None => return Err(reject("has no usable name (name: none)".into())),
    };

    let mut r = Reader { record: id.clone(), warnings: vec![] };
    let mut description = r.text(get(value, "description"), "description").unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        r.warn("description", &Value::String(description.clone()), "is too long: cut to 10,000 characters");
        description = description.chars().take(MAX_DESCRIPTION).collect();
    }
    let organisation = organisation(&mut r, value, &name);
    let status = match r.text(get(value, "status"), "status").map(|s| s.to_lowercase()).as_deref() {
        None | Some("active") => ServiceStatus::Active,
        Some("inactive" | "defunct" | "temporarily closed") => ServiceStatus::Inactive,
        Some(other) => {
            r.warn("status", &Value::String(other.into()), "is not an Open Referral status: taken as active");
            ServiceStatus::Active
        }
    };
    let url = r.text(get(value, "url"), "url").and_then(|u| match rules::check_url(&u) {
        Ok(u) => Some(u),
        Err(e) => {
            r.warn("url", &Value::String(u), format!("{}: left out", e.reason));
            None
        }
    });
    let email = r.email(get(value, "email"), "email");
    let (min_age, max_age, eligibility) = eligibility(&mut r, value);
    let schedule = schedule(&mut r, value);
    let terms = terms(&mut r, value);
    let locations = locations(&mut r, value, &id);
    let capacity = capacity(&mut r, value);

    let parsed = ParsedService {
        id,
        organisation,
        name,
        description,
        email,
        url,
        status,
        min_age,
        max_age,
        eligibility,
        schedule,
        terms,
        locations,
        capacity,
    };
    Ok((parsed, r.warnings))
}

/// The record's organisation; without a usable one, an organisation named after the service, so the
/// service is still found (ORUK requires one; feeds do not always give it).
fn organisation(r: &mut Reader, value: &Value, service_name: &str) -> ParsedOrganisation {
    let field = "organization";
    let org = r.object(get(value, field), field).map(|o| Value::Object(o.clone()));
    let id = org.as_ref().and_then(|o| usable_id(o.get("id"))).or_else(|| usable_id(value.get("organization_id")));
    let name = org.as_ref().and_then(|o| r.text(get(o, "name"), "organization.name"));
    let name = match name.map(|n| required_text("organization.name", &n, 200)) {
        Some(Ok(name)) => Some(name),
        Some(Err(e)) => {
            r.warn("organization.name", &Value::String(e.value), format!("{}: left out", e.reason));
            None
        }
        None => None,
    };
    match name {
        Some(name) => ParsedOrganisation {
            id: id.unwrap_or_default(),
            email: org.as_ref().and_then(|o| r.email(get(o, "email"), "organization.email")),
            name,
        },
        None => {
            r.warn(
                field,
                value.get(field).unwrap_or(&Value::Null),
                "has no name: the service is filed under an organisation of its own name",
            );
            ParsedOrganisation { id: id.unwrap_or_default(), name: service_name.to_owned(), email: None }
        }
    }
}

/// Ages (on the service, HSDS 3; else the first ORUK 1 `eligibilitys` entry with ages) and who it is
/// for in words.
fn eligibility(r: &mut Reader, value: &Value) -> (Option<i32>, Option<i32>, Option<String>) {
    let entries = r.list(get(value, "eligibilitys"), "eligibilitys");
    let aged = entries.iter().position(|e| get(e, "minimum_age").is_some() || get(e, "maximum_age").is_some());
    let mut age = |key: &str| match (get(value, key), aged) {
        (Some(v), _) => r.whole(Some(v), key),
        (None, Some(i)) => r.whole(get(entries[i], key), &format!("eligibilitys[{i}].{key}")),
        (None, None) => None,
    };
    let (mut min_age, mut max_age) = (age("minimum_age"), age("maximum_age"));
    if let Err(e) = rules::check_ages(min_age, max_age) {
        let both = serde_json::json!({ "minimum_age": min_age, "maximum_age": max_age });
        r.warn("minimum_age, maximum_age", &both, format!("{}: ages left out", e.reason));
        (min_age, max_age) = (None, None);
    }
    let words: Vec<String> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| r.text(get(e, "eligibility"), &format!("eligibilitys[{i}].eligibility")))
        .collect();
    let description = r
        .text(get(value, "eligibility_description"), "eligibility_description")
        .or_else(|| (!words.is_empty()).then(|| words.join("; ")));
    (min_age, max_age, description)
}

/// When it runs, in words: each schedule's description, else its days and times.
fn schedule(r: &mut Reader, value: &Value) -> Option<String> {
    let mut words = vec![];
    for key in ["regular_schedules", "schedules"] {
        for (i, s) in r.list(get(value, key), key).into_iter().enumerate() {
            let field = format!("{key}[{i}]");
            if !s.is_object() {
                r.warn(&field, s, "is not an object: left out");
                continue;
            }
            let described = r.text(get(s, "description"), &format!("{field}.description"));
            let said = described.or_else(|| {
                let parts: Vec<String> = ["byday", "opens_at", "closes_at"]
                    .into_iter()
                    .filter_map(|k| r.text(get(s, k), &format!("{field}.{k}")))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            });
            words.extend(said);
        }
    }
    (!words.is_empty()).then(|| words.join("; "))
}

/// Its taxonomy terms, wherever the version puts them (`taxonomy_terms`; ORUK 1 `service_taxonomys[].
/// taxonomy`; HSDS 3 `attributes[].taxonomy_term`); a term with neither code nor name is left out.
fn terms(r: &mut Reader, value: &Value) -> Vec<TermSpec> {
    let mut found: Vec<(String, &Value)> = vec![];
    for (i, t) in r.list(get(value, "taxonomy_terms"), "taxonomy_terms").into_iter().enumerate() {
        found.push((format!("taxonomy_terms[{i}]"), t));
    }
    for (key, inner) in [("service_taxonomys", "taxonomy"), ("attributes", "taxonomy_term")] {
        for (i, link) in r.list(get(value, key), key).into_iter().enumerate() {
            if let Some(t) = get(link, inner) {
                found.push((format!("{key}[{i}].{inner}"), t));
            }
        }
    }
    let mut terms: Vec<TermSpec> = vec![];
    for (field, t) in found {
        if let Some(spec) = term_spec(r, t, &field)
            && !terms.iter().any(|known| known.code == spec.code)
        {
            terms.push(spec);
        }
    }
    terms
}

/// Maps a term onto Trellis's own taxonomy where its code or name says it is one of ours; otherwise
/// keeps it under its own vocabulary.
fn term_spec(r: &mut Reader, t: &Value, field: &str) -> Option<TermSpec> {
    if !t.is_object() {
        r.warn(field, t, "is not a taxonomy term: left out");
        return None;
    }
    let raw_id = usable_id(t.get("id"));
    let id = raw_id.as_deref().and_then(|i| Uuid::parse_str(i).ok());
    let name = r.text(get(t, "name"), &format!("{field}.name")).unwrap_or_default();
    let code = r.text(get(t, "code"), &format!("{field}.code")).or_else(|| raw_id.filter(|_| id.is_none()));
    if let Some(c) = code.as_deref().filter(|c| rules::term_name(c).is_some()) {
        return Some(TermSpec { id, ..TermSpec::code(c) });
    }
    if let Some((c, _)) = TAXONOMY.iter().find(|(_, n)| n.eq_ignore_ascii_case(&name)) {
        return Some(TermSpec { id, ..TermSpec::code(c) });
    }
    let code = match code {
        Some(c) => c,
        None if !name.is_empty() => name.to_lowercase().split_whitespace().collect::<Vec<_>>().join("_"),
        None => {
            r.warn(field, t, "has neither a code nor a name: left out");
            return None;
        }
    };
    let vocabulary = r
        .text(get(t, "vocabulary").or_else(|| get(t, "taxonomy")), &format!("{field}.vocabulary"))
        .unwrap_or_else(|| "external".into());
    Some(TermSpec { id, name: if name.is_empty() { code.clone() } else { name }, vocabulary, code })
}

/// Where it happens. A location with a bad postcode or coordinates is left out whole (a link worker
/// would be sent to the wrong place), with a warning for each bad field.
fn locations(r: &mut Reader, value: &Value, service_id: &str) -> Vec<(String, String, LocationRow)> {
    let mut kept = vec![];
    let key = "service_at_locations";
    for (i, sal) in r.list(get(value, key), key).into_iter().enumerate() {
        let field = format!("{key}[{i}].location");
        let Some(l) = get(sal, "location").filter(|l| l.is_object()) else {
            r.warn(&field, sal.get("location").unwrap_or(sal), "is not a location: left out");
            continue;
        };
        let before = r.warnings.len();
        let mut addresses = vec![];
        for k in ["physical_addresses", "addresses"] {
            addresses.extend(r.list(get(l, k), &format!("{field}.{k}")).into_iter().map(|a| (k, a)));
        }
        let given = r.text(get(l, "postcode"), &format!("{field}.postcode")).map(|p| (format!("{field}.postcode"), p));
        let postcode = given.or_else(|| {
            addresses.iter().enumerate().find_map(|(j, (k, a))| {
                let f = format!("{field}.{k}[{j}].postal_code");
                r.text(get(a, "postal_code"), &f).map(|p| (f, p))
            })
        });
        let postcode = postcode.and_then(|(f, p)| match Postcode::parse(&p) {
            Ok(p) => Some(String::from(p)),
            Err(e) => {
                r.warn(&f, &Value::String(p), format!("{}: the location is left out", e.reason));
                None
            }
        });
        let (lat_field, lon_field) = (format!("{field}.latitude"), format!("{field}.longitude"));
        let latitude = r.number(get(l, "latitude"), &lat_field);
        let longitude = r.number(get(l, "longitude"), &lon_field);
        match (latitude, longitude) {
            (Some(lat), Some(lon)) => {
                if let Err(e) = Coordinates::parse(lat, lon) {
                    let (f, key) =
                        if e.field == "latitude" { (&lat_field, "latitude") } else { (&lon_field, "longitude") };
                    r.warn(f, get(l, key).unwrap_or(&Value::Null), format!("{}: the location is left out", e.reason));
                }
            }
            (None, None) => {}
            (Some(lat), None) => {
                r.warn(&lat_field, &serde_json::json!(lat), "has no longitude: the location is left out")
            }
            (None, Some(lon)) => {
                r.warn(&lon_field, &serde_json::json!(lon), "has no latitude: the location is left out")
            }
        }
        if r.warnings.len() > before {
            continue;
        }
        let address_line = addresses.first().and_then(|(k, a)| {
            let parts: Vec<String> = ["address_1", "city"]
                .into_iter()
                .filter_map(|p| r.text(get(a, p), &format!("{field}.{k}[0].{p}")))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        });
        let name = r
            .text(get(l, "name"), &format!("{field}.name"))
            .or_else(|| address_line.clone())
            .or_else(|| postcode.clone())
            .unwrap_or_else(|| "Location".into());
        // A location without an id is keyed by its place in the record, so importing again finds it.
        let external = usable_id(l.get("id")).unwrap_or_else(|| format!("{service_id}#location{}", i + 1));
        let link = usable_id(sal.get("id")).unwrap_or_default();
        let row =
            LocationRow { id: Uuid::nil(), link_id: None, name, address: address_line, postcode, latitude, longitude };
        kept.push((external, link, row));
    }
    kept
}

/// Its capacity (HSDS 3.1 `service_capacity`, the first given); a capacity that does not add up is left
/// out.
fn capacity(r: &mut Reader, value: &Value) -> Option<ParsedCapacity> {
    let (key, list) = first_of(value, &["capacities", "service_capacities"])?;
    let c = *r.list(Some(list), key).first()?;
    let field = format!("{key}[0]");
    let available = r.whole(get(c, "available"), &format!("{field}.available")).unwrap_or(0);
    let maximum = r.whole(get(c, "maximum"), &format!("{field}.maximum")).unwrap_or(available);
    if let Err(e) = rules::check_capacity(available, maximum) {
        r.warn(&field, c, format!("{} {}: the capacity is left out", e.field, e.reason));
        return None;
    }
    let status = match r.text(get(c, "status"), &format!("{field}.status")) {
        Some(s) => match CapacityStatus::parse(&s) {
            Ok(s) => s,
            Err(e) => {
                r.warn(
                    &format!("{field}.status"),
                    &Value::String(s),
                    format!("{}: the capacity is left out", e.reason),
                );
                return None;
            }
        },
        None if available > 0 => CapacityStatus::Open,
        None => CapacityStatus::Closed,
    };
    let unit = get(c, "unit")
        .and_then(|u| r.text(get(u, "name").or(Some(u)).filter(|v| !v.is_object()), &format!("{field}.unit")))
        .unwrap_or_else(|| "places".into());
    let updated =
        r.text(get(c, "updated"), &format!("{field}.updated")).and_then(|u| match DateTime::parse_from_rfc3339(&u) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                r.warn(&format!("{field}.updated"), &Value::String(u), "is not a date and time: taken as now");
                None
            }
        });
    Some(ParsedCapacity { available, maximum, unit, status, updated })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use serde_json::json;

    use super::*;

    fn read(value: Value) -> (ParsedService, Vec<ImportWarning>) {
        read_record(&value, 0).unwrap()
    }

    fn fields(warnings: &[ImportWarning]) -> Vec<(&str, &str)> {
        warnings.iter().map(|w| (w.field.as_str(), w.value.as_str())).collect()
    }

    #[test]
    fn an_oruk_1_record_is_read_with_its_nested_parts() {
        let (p, warnings) = read(json!({
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
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!((p.id.as_str(), p.name.as_str()), ("42", "Chatty Café"));
        assert_eq!(p.organisation.email.as_deref(), Some("info@eva.example"));
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
    fn an_oruk_3_location_with_a_placeholder_postcode_and_latitude_is_left_out_and_named() {
        let (p, warnings) = read(json!({
            "id": "s1", "name": "Counselling", "minimum_age": 12, "maximum_age": 100,
            "organization": { "id": "o1", "name": "Example Org" },
            "attributes": [{ "taxonomy_term": { "id": "3f7b145d-84af-42d7-8fae-eaca714b02b2", "name": "name", "taxonomy": "taxonomy" } }],
            "schedules": [{ "description": "Weekdays 10 to 6", "byday": "TH,FR" }],
            "service_at_locations": [
                { "location": { "id": "bad", "latitude": 100, "longitude": 101,
                    "addresses": [{ "address_1": "1-30 Main Street", "postal_code": "ABC 1234" }] } },
                { "location": { "id": "good", "name": "Hall", "latitude": 52.9, "longitude": -1.3 } }
            ]
        }));
        assert_eq!(
            fields(&warnings),
            [
                ("service_at_locations[0].location.addresses[0].postal_code", "ABC 1234"),
                ("service_at_locations[0].location.latitude", "100")
            ]
        );
        assert!(warnings.iter().all(|w| w.record == "s1" && w.reason.contains("left out")), "{warnings:?}");
        assert_eq!(p.locations.len(), 1);
        assert_eq!(p.locations[0].0, "good");
        assert_eq!((p.min_age, p.max_age), (Some(12), Some(100)));
        assert_eq!(p.schedule.as_deref(), Some("Weekdays 10 to 6"));
        assert_eq!((p.terms[0].code.as_str(), p.terms[0].vocabulary.as_str()), ("name", "taxonomy"));
    }

    #[test]
    fn bad_parts_are_left_out_with_a_warning_naming_field_and_value_and_the_rest_is_kept() {
        let (p, warnings) = read(json!({
            "id": "s1", "name": "Walk", "email": "not-an-email", "url": "javascript:alert(1)", "status": "paused",
            "minimum_age": "eighteen", "maximum_age": 12.5, "description": ["a", "list"],
            "organization": { "id": "o", "name": "O", "email": "also-not" },
            "taxonomy_terms": [{ "vocabulary": "x" }, "befriending", { "code": "physical_activity" }],
            "schedules": "every day",
            "service_at_locations": [{ "location": { "id": "l", "latitude": 52.0 } }],
            "capacities": [{ "available": 5, "maximum": 2 }]
        }));
        let found = fields(&warnings);
        for expected in [
            ("description", "[\"a\",\"list\"]"),
            ("organization.email", "also-not"),
            ("status", "paused"),
            ("url", "javascript:alert(1)"),
            ("email", "not-an-email"),
            ("minimum_age", "eighteen"),
            ("maximum_age", "12.5"),
            ("schedules", "every day"),
            ("taxonomy_terms[0]", "{\"vocabulary\":\"x\"}"),
            ("taxonomy_terms[1]", "befriending"),
            ("service_at_locations[0].location.latitude", "52.0"),
            ("capacities[0]", "{\"available\":5,\"maximum\":2}"),
        ] {
            assert!(found.contains(&expected), "{expected:?} missing from {found:?}");
        }
        assert_eq!((p.name.as_str(), p.status, p.email, p.url), ("Walk", ServiceStatus::Active, None, None));
        assert_eq!((p.min_age, p.max_age, p.locations.len()), (None, None, 0));
        assert!(p.capacity.is_none());
        assert_eq!(p.terms.iter().map(|t| t.code.as_str()).collect::<Vec<_>>(), ["physical_activity"]);
    }

    #[test]
    fn a_record_without_an_organisation_is_filed_under_its_own_name() {
        let (p, warnings) = read(json!({ "id": "s1", "name": "Orphan Walk" }));
        assert_eq!((p.organisation.name.as_str(), p.organisation.id.as_str()), ("Orphan Walk", ""));
        assert_eq!(fields(&warnings), [("organization", "null")]);
    }

    #[test]
    fn only_a_record_without_a_usable_id_or_name_is_rejected_and_the_reason_says_which() {
        let rejected = |value: Value| read_record(&value, 2).err().unwrap();
        let r = rejected(json!({ "name": "x" }));
        assert_eq!((r.record.as_str(), r.reason.as_str()), ("#3", "has no usable id (id: none)"));
        assert_eq!(rejected(json!({ "id": { "a": 1 }, "name": "x" })).reason, "has no usable id (id: {\"a\":1})");
        assert_eq!(rejected(json!({ "id": "  ", "name": "x" })).reason, "has no usable id (id: \"  \")");
        let r = rejected(json!({ "id": 7, "name": ["x"] }));
        assert_eq!((r.record.as_str(), r.reason.as_str()), ("7", "has no usable name (name: [\"x\"])"));
        assert_eq!(rejected(json!({ "id": 7, "name": " " })).reason, "name: must not be empty");
        assert_eq!(rejected(json!({ "id": 7 })).reason, "has no usable name (name: none)");
        assert!(rejected(json!("a string")).reason.contains("is not a JSON object"));
    }

    #[test]
    fn a_long_value_is_quoted_shortened() {
        let long = "x".repeat(500);
        assert_eq!(quoted(&Value::String(long)).chars().count(), MAX_QUOTED + 1);
    }
}
