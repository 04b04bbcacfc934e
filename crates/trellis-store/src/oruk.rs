//! The directory as Open Referral UK (the UK profile of HSDS): the subset of a `/services` response that
//! Trellis reads and writes, importing it idempotently, and exporting the directory in the same shape.
//!
//! Import is lenient about shape (ORUK 1 `service_taxonomys`, `eligibilitys`, `regular_schedules`,
//! `physical_addresses`; HSDS 3 `taxonomy_terms`, `attributes`, `schedules`, `addresses`, service-level
//! ages, `capacities`; numbers as strings) and strict about values (postcodes, emails, coordinates,
//! ages). Each record is read and written on its own, so a bad record is reported with its id and why,
//! and the rest still import. Records are keyed by their ORUK ids (kept in `directory_external_ids`), so
//! importing again updates rather than duplicates. Ids that are UUIDs are kept as Trellis's own ids
//! when they are free, so exporting, importing elsewhere and exporting again gives the same document.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};
use trellis_domain::directory::{self as rules, CapacityStatus, Coordinates, ServiceStatus, TAXONOMY};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::{EmailAddress, Postcode, required_text};
use trellis_domain::{OrganisationId, ServiceId};
use uuid::Uuid;

use crate::directory::{
    Capacity, LocationRow, ServiceRow, TermSpec, insert_service_row, set_capacity, set_locations, set_taxonomy,
    update_service_row,
};
use crate::entity::{organisation, service, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

/// The largest page the export serves.
pub const MAX_PER_PAGE: u64 = 500;

/// One page of an ORUK listing (`GET /services`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// How many items there are in all.
    #[serde(default)]
    pub total_items: u64,
    /// How many pages there are in all.
    #[serde(default)]
    pub total_pages: u64,
    /// This page's number, from 1.
    #[serde(default, alias = "page_number")]
    pub number: u64,
    /// Items per page.
    #[serde(default)]
    pub size: u64,
    /// Whether this is the first page.
    #[serde(default)]
    pub first_page: bool,
    /// Whether this is the last page.
    #[serde(default)]
    pub last_page: bool,
    /// Whether this page holds nothing.
    #[serde(default)]
    pub empty: bool,
    /// The items.
    #[serde(default, alias = "contents")]
    pub content: Vec<T>,
}

/// A service as ORUK nests it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukService {
    /// Its id in the source directory.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its contact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `active`, `inactive`, `defunct` or `temporarily closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Youngest age it takes (HSDS 3).
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub minimum_age: Option<Number>,
    /// Oldest age it takes (HSDS 3).
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub maximum_age: Option<Number>,
    /// Who it is for, in words (HSDS 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility_description: Option<String>,
    /// The organisation that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrukOrganization>,
    /// Where it happens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub service_at_locations: Vec<OrukServiceAtLocation>,
    /// What it helps with.
    #[serde(default, deserialize_with = "null_as_default")]
    pub taxonomy_terms: Vec<OrukTaxonomyTerm>,
    /// What it helps with, as ORUK 1 links it (read only).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing)]
    pub service_taxonomys: Vec<OrukServiceTaxonomy>,
    /// What it helps with, as HSDS 3 attributes (read only).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing)]
    pub attributes: Vec<OrukAttribute>,
    /// Who it is for (ORUK 1).
    #[serde(default, deserialize_with = "null_as_default")]
    pub eligibilitys: Vec<OrukEligibility>,
    /// When it runs (ORUK 1).
    #[serde(default, deserialize_with = "null_as_default")]
    pub regular_schedules: Vec<OrukSchedule>,
    /// When it runs (HSDS 3, read only).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing)]
    pub schedules: Vec<OrukSchedule>,
    /// Its capacity (HSDS 3.1 `service_capacity`).
    #[serde(default, alias = "service_capacities", deserialize_with = "null_as_default")]
    pub capacities: Vec<OrukCapacity>,
}

/// An organisation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukOrganization {
    /// Its id in the source directory.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// What it is.
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Its contact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its web site.
    #[serde(default, alias = "url", skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// A service at a location.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukServiceAtLocation {
    /// Its id.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// The location.
    #[serde(default, deserialize_with = "null_as_default")]
    pub location: OrukLocation,
}

/// A location.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukLocation {
    /// Its id.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A postcode given on the location itself (some feeds do; read only).
    #[serde(default, skip_serializing)]
    pub postcode: Option<String>,
    /// Latitude (WGS84).
    #[serde(default, deserialize_with = "lenient_f64", skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Longitude (WGS84).
    #[serde(default, deserialize_with = "lenient_f64", skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Its addresses (ORUK 1).
    #[serde(default, deserialize_with = "null_as_default")]
    pub physical_addresses: Vec<OrukAddress>,
    /// Its addresses (HSDS 3, read only).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing)]
    pub addresses: Vec<OrukAddress>,
}

/// A postal address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukAddress {
    /// First line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_1: Option<String>,
    /// Town or city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A taxonomy term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukTaxonomyTerm {
    /// Its id.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Its code in its vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The vocabulary it comes from.
    #[serde(default, alias = "taxonomy", skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<String>,
}

/// ORUK 1's link from a service to a taxonomy term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukServiceTaxonomy {
    /// The term.
    #[serde(default)]
    pub taxonomy: Option<OrukTaxonomyTerm>,
}

/// HSDS 3's attribute of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukAttribute {
    /// The term.
    #[serde(default)]
    pub taxonomy_term: Option<OrukTaxonomyTerm>,
}

/// Who a service is for (ORUK 1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukEligibility {
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility: Option<String>,
    /// Youngest age.
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub minimum_age: Option<Number>,
    /// Oldest age.
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub maximum_age: Option<Number>,
}

/// When a service runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukSchedule {
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Days (`MO,WE`), read when there is no description.
    #[serde(default, skip_serializing)]
    pub byday: Option<String>,
    /// Opening time, read when there is no description.
    #[serde(default, skip_serializing)]
    pub opens_at: Option<String>,
    /// Closing time, read when there is no description.
    #[serde(default, skip_serializing)]
    pub closes_at: Option<String>,
}

/// A service's capacity (HSDS 3.1 `service_capacity`), with Trellis's `status` alongside.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukCapacity {
    /// Its id.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Units free as of `updated`.
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub available: Option<Number>,
    /// Units in all.
    #[serde(default, deserialize_with = "lenient_number", skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Number>,
    /// What a unit is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<OrukUnit>,
    /// When it was last confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// `open`, `waitlist` or `closed` (a Trellis extension; derived from `available` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A unit of capacity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrukUnit {
    /// Its id.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: String,
    /// Its name (`places`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Services added.
    pub created: usize,
    /// Services already known (by their ORUK id) and updated.
    pub updated: usize,
    /// Records refused: (their id, or `#n` for the n-th record of a page without one; why).
    pub rejected: Vec<(String, String)>,
}

impl ImportReport {
    /// Adds another page's report to this one.
    pub fn merge(&mut self, other: ImportReport) {
        self.created += other.created;
        self.updated += other.updated;
        self.rejected.extend(other.rejected);
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} created, {} updated, {} rejected", self.created, self.updated, self.rejected.len())?;
        for (id, reason) in &self.rejected {
            write!(f, "\n  {id}: {reason}")?;
        }
        Ok(())
    }
}

/// An id as a string, whether the source wrote it as a string or a number.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(D::Error::custom(format!("an id must be a string, not {other}"))),
    }
}

/// A value where `null` means the same as leaving it out, as many feeds write it.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A number, whether written as a number or a numeric string; empty is none.
fn lenient_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            t.parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| t.parse::<f64>().ok().and_then(Number::from_f64))
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not a number")))
        }
        Some(other) => Err(D::Error::custom(format!("expected a number, not {other}"))),
    }
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    lenient_number(d).map(|n| n.and_then(|n| n.as_f64()))
}

/// A whole number in `i32`, or why not.
fn whole(field: &str, n: &Number) -> Result<i32, String> {
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e9).map(|f| f as i64))
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| format!("{field} {n} is not a whole number"))
}

fn text(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// A record read and checked, ready to write.
struct ParsedService {
    id: String,
    organisation: ParsedOrganisation,
    name: String,
    description: String,
    email: Option<String>,
    url: Option<String>,
    status: ServiceStatus,
    min_age: Option<i32>,
    max_age: Option<i32>,
    eligibility: Option<String>,
    schedule: Option<String>,
    terms: Vec<TermSpec>,
    /// (external location id, service-at-location id, location).
    locations: Vec<(String, String, LocationRow)>,
    capacity: Option<Capacity>,
}

struct ParsedOrganisation {
    id: String,
    name: String,
    email: Option<String>,
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

fn parse_record(s: OrukService, now: DateTime<Utc>) -> Result<ParsedService, String> {
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

/// Which row an ORUK id stands for.
mod external_id {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_external_ids")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub external_id: String,
        pub internal_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const ORGANISATION: &str = "organization";
const SERVICE: &str = "service";
const LOCATION: &str = "location";

async fn lookup(conn: &impl ConnectionTrait, kind: &str, external: &str) -> Result<Option<Uuid>, StoreError> {
    Ok(external_id::Entity::find_by_id((kind.to_owned(), external.to_owned())).one(conn).await?.map(|m| m.internal_id))
}

async fn remember(
    conn: &impl ConnectionTrait,
    kind: &str,
    external: &str,
    internal: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if external.is_empty() {
        return Ok(());
    }
    match lookup(conn, kind, external).await? {
        Some(known) if known == internal => {}
        Some(_) => {
            external_id::Entity::update_many()
                .col_expr(external_id::Column::InternalId, Expr::value(internal))
                .filter(external_id::Column::Kind.eq(kind))
                .filter(external_id::Column::ExternalId.eq(external))
                .exec(conn)
                .await?;
        }
        None => {
            external_id::Entity::insert(
                external_id::Model {
                    kind: kind.to_owned(),
                    external_id: external.to_owned(),
                    internal_id: internal,
                    created_at: now,
                }
                .into_active_model(),
            )
            .exec_without_returning(conn)
            .await?;
        }
    }
    Ok(())
}

/// The provider organisation a record belongs to: the one this ORUK id was imported as, else the one
/// with this id, else a provider of the same name, else a new provider. An organisation already in
/// Trellis is matched, not overwritten: only a missing email is filled in.
async fn resolve_organisation(
    conn: &impl ConnectionTrait,
    org: &ParsedOrganisation,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let provider = OrganisationKind::Provider.as_str();
    let known = match lookup(conn, ORGANISATION, &org.id).await? {
        Some(id) => Some(id),
        None => Uuid::parse_str(&org.id).ok(),
    };
    let matched = match known {
        Some(id) => organisation::Entity::find_by_id(id).one(conn).await?.filter(|row| row.kind == provider),
        None => None,
    };
    let matched = match matched {
        Some(row) => Some(row),
        None => {
            organisation::Entity::find()
                .filter(organisation::Column::Kind.eq(provider))
                .filter(
                    Expr::expr(Func::lower(Expr::col((organisation::Entity, organisation::Column::Name))))
                        .eq(org.name.to_lowercase()),
                )
                .order_by_asc(organisation::Column::Id)
                .one(conn)
                .await?
        }
    };
    if let Some(row) = matched {
        if row.email.is_none()
            && let Some(email) = &org.email
        {
            organisation::Entity::update_many()
                .col_expr(organisation::Column::Email, Expr::value(email.clone()))
                .filter(organisation::Column::Id.eq(row.id))
                .exec(conn)
                .await?;
        }
        remember(conn, ORGANISATION, &org.id, row.id, now).await?;
        return Ok(row.id);
    }
    let id = match known {
        Some(id) if organisation::Entity::find_by_id(id).one(conn).await?.is_none() => id,
        _ => OrganisationId::new_at(now).0,
    };
    organisation::Entity::insert(
        organisation::Model {
            id,
            kind: provider.into(),
            name: org.name.clone(),
            ods_code: None,
            email: org.email.clone(),
            link_worker_service_id: None,
            created_at: now,
            mesh_mailbox_id: None,
            gp_message_at_first_contact: false,
        }
        .into_active_model(),
    )
    .exec_without_returning(conn)
    .await?;
    remember(conn, ORGANISATION, &org.id, id, now).await?;
    Ok(id)
}

/// The label a rejected record is reported under.
fn record_label(value: &Value, index: usize) -> String {
    match value.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("#{}", index + 1),
    }
}

impl Store {
    /// Imports one page of an ORUK `/services` response: each service is created, or updated if this
    /// ORUK id was imported before; a record that cannot be read or stored is reported and skipped.
    /// Fails only when the database does.
    pub async fn import_oruk(&self, page: &Page<Value>, now: DateTime<Utc>) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        for (i, value) in page.content.iter().enumerate() {
            let label = record_label(value, i);
            let parsed = serde_json::from_value::<OrukService>(value.clone())
                .map_err(|e| format!("is not an Open Referral service: {e}"))
                .and_then(|s| parse_record(s, now));
            let parsed = match parsed {
                Ok(p) => p,
                Err(reason) => {
                    report.rejected.push((label, reason));
                    continue;
                }
            };
            match self.write_record(parsed, now).await {
                Ok(true) => report.created += 1,
                Ok(false) => report.updated += 1,
                Err(StoreError::Database(e)) if !StoreError::is_unique_violation(&e) => {
                    return Err(StoreError::Database(e));
                }
                Err(e) => report.rejected.push((label, format!("could not be stored: {e}"))),
            }
        }
        Ok(report)
    }

    /// Writes one record in its own transaction; `true` when the service is new.
    async fn write_record(&self, p: ParsedService, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let organisation = resolve_organisation(&txn, &p.organisation, now).await?;
        let known = match lookup(&txn, SERVICE, &p.id).await? {
            Some(id) => Some(id),
            None => Uuid::parse_str(&p.id).ok(),
        };
        let (id, exists) = match known {
            Some(id) => (id, service::Entity::find_by_id(id).one(&txn).await?.is_some()),
            None => (ServiceId::new_at(now).0, false),
        };
        let row = ServiceRow {
            organisation,
            name: p.name,
            description: p.description,
            email: p.email,
            url: p.url,
            status: p.status,
            min_age: p.min_age,
            max_age: p.max_age,
            eligibility: p.eligibility,
            schedule: p.schedule,
        };
        if exists {
            update_service_row(&txn, id, &row, None, now).await?;
        } else {
            insert_service_row(&txn, id, &row, now).await?;
        }
        remember(&txn, SERVICE, &p.id, id, now).await?;
        set_taxonomy(&txn, id, &p.terms).await?;
        let mut locations = Vec::with_capacity(p.locations.len());
        for (external, link, mut l) in p.locations {
            l.id = match lookup(&txn, LOCATION, &external).await? {
                Some(known) => known,
                None => Uuid::parse_str(&external).unwrap_or_else(|_| Uuid::now_v7()),
            };
            l.link_id = Uuid::parse_str(&link).ok();
            remember(&txn, LOCATION, &external, l.id, now).await?;
            locations.push(l);
        }
        set_locations(&txn, id, organisation, &locations).await?;
        set_capacity(&txn, id, p.capacity.as_ref()).await?;
        txn.commit().await?;
        Ok(!exists)
    }

    /// One page of the directory as ORUK `/services`, services in id order; `page` counts from 1.
    pub async fn oruk_services(&self, page: u64, per_page: u64) -> Result<Page<OrukService>, StoreError> {
        let (page, per_page) = (Ord::max(page, 1), Ord::clamp(per_page, 1, MAX_PER_PAGE));
        let total_items = service::Entity::find().count(&self.db).await?;
        let rows = service::Entity::find()
            .order_by_asc(service::Column::Id)
            .offset((page - 1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await?;
        let content = self.oruk_of(rows).await?;
        let total_pages = total_items.div_ceil(per_page);
        Ok(Page {
            total_items,
            total_pages,
            number: page,
            size: per_page,
            first_page: page == 1,
            last_page: page >= total_pages,
            empty: content.is_empty(),
            content,
        })
    }

    /// One service as ORUK nests it.
    pub async fn oruk_service(&self, id: ServiceId) -> Result<OrukService, StoreError> {
        let row = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        self.oruk_of(vec![row]).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn oruk_of(&self, rows: Vec<service::Model>) -> Result<Vec<OrukService>, StoreError> {
        use std::collections::HashMap;

        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let organisations: HashMap<Uuid, organisation::Model> = organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(rows.iter().map(|r| r.organisation_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let terms: HashMap<Uuid, taxonomy_term::Model> =
            taxonomy_term::Entity::find().all(&self.db).await?.into_iter().map(|t| (t.id, t)).collect();
        let tags = service_taxonomy::Entity::find()
            .filter(service_taxonomy::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let capacities: HashMap<Uuid, service_capacity::Model> = service_capacity::Entity::find()
            .filter(service_capacity::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.service_id, c))
            .collect();
        let (links, locations) = self.service_locations(ids).await?;

        Ok(rows
            .into_iter()
            .map(|r| {
                let mut taxonomy: Vec<OrukTaxonomyTerm> = tags
                    .iter()
                    .filter(|t| t.service_id == r.id)
                    .filter_map(|t| terms.get(&t.taxonomy_term_id))
                    .map(|t| OrukTaxonomyTerm {
                        id: t.id.to_string(),
                        code: Some(t.code.clone()),
                        name: t.name.clone(),
                        vocabulary: Some(t.vocabulary.clone()),
                    })
                    .collect();
                taxonomy.sort_by(|a, b| a.code.cmp(&b.code));
                let service_at_locations = links
                    .iter()
                    .filter(|l| l.service_id == r.id)
                    .filter_map(|link| {
                        let l = locations.get(&link.location_id)?;
                        let address = (l.address.is_some() || l.postcode.is_some()).then(|| OrukAddress {
                            address_1: l.address.clone(),
                            city: None,
                            postal_code: l.postcode.clone(),
                            country: Some("GB".into()),
                        });
                        Some(OrukServiceAtLocation {
                            id: link.id.to_string(),
                            location: OrukLocation {
                                id: l.id.to_string(),
                                name: Some(l.name.clone()),
                                postcode: None,
                                latitude: l.latitude,
                                longitude: l.longitude,
                                physical_addresses: address.into_iter().collect(),
                                addresses: vec![],
                            },
                        })
                    })
                    .collect();
                let eligibilitys = if r.min_age.is_some() || r.max_age.is_some() || r.eligibility_description.is_some()
                {
                    vec![OrukEligibility {
                        eligibility: r.eligibility_description.clone(),
                        minimum_age: r.min_age.map(Number::from),
                        maximum_age: r.max_age.map(Number::from),
                    }]
                } else {
                    vec![]
                };
                let capacities = capacities
                    .get(&r.id)
                    .map(|c| OrukCapacity {
                        id: c.service_id.to_string(),
                        available: Some(Number::from(c.available)),
                        maximum: Some(Number::from(c.maximum)),
                        unit: Some(OrukUnit { id: c.unit.clone(), name: c.unit.clone() }),
                        updated: Some(c.updated_at),
                        status: Some(c.status.clone()),
                    })
                    .into_iter()
                    .collect();
                let organization = organisations.get(&r.organisation_id).map(|o| OrukOrganization {
                    id: o.id.to_string(),
                    name: o.name.clone(),
                    description: String::new(),
                    email: o.email.clone(),
                    website: None,
                });
                OrukService {
                    id: r.id.to_string(),
                    name: r.name,
                    description: Some(r.description),
                    url: r.url,
                    email: r.email,
                    status: Some(r.status),
                    minimum_age: r.min_age.map(Number::from),
                    maximum_age: r.max_age.map(Number::from),
                    eligibility_description: r.eligibility_description,
                    organization,
                    service_at_locations,
                    taxonomy_terms: taxonomy,
                    service_taxonomys: vec![],
                    attributes: vec![],
                    eligibilitys,
                    regular_schedules: r
                        .schedule_description
                        .map(|d| OrukSchedule { description: Some(d), ..OrukSchedule::default() })
                        .into_iter()
                        .collect(),
                    schedules: vec![],
                    capacities,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

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

    #[test]
    fn a_record_label_is_its_id_or_its_place_in_the_page() {
        assert_eq!(record_label(&serde_json::json!({ "id": "abc" }), 0), "abc");
        assert_eq!(record_label(&serde_json::json!({ "id": 7 }), 0), "7");
        assert_eq!(record_label(&serde_json::json!({ "name": "x" }), 2), "#3");
    }
}
