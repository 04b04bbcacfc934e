//! The ORUK documents as the importer reads them, whether a feed writes ORUK 1 (`content`, `number`,
//! `eligibilitys`, `regular_schedules`, `physical_addresses`) or HSDS 3 (`contents`, `page_number`,
//! `attributes`, `schedules`, `addresses`). Reading is lenient about shape: ids as strings or numbers,
//! numbers as numeric strings, `null` for an absent list. What Trellis serves is [`super::wire`].

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

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
