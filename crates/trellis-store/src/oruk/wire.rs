//! Open Referral UK 3.0 as Trellis serves it under `/oruk`: the documents of the profile's OpenAPI
//! (`openapi.json`) and compiled JSON Schemas, as serde types.
//!
//! Every id is a UUID, as the profile requires. Parts Trellis keeps no row for (a location's address, a
//! service's schedule, attribute and contact, a taxonomy, a unit of capacity) get ids derived from the
//! row they belong to ([`derived_id`]), so the same directory is always the same document. Capacity is
//! HSDS 3.1's `service_capacity`, an extension the UK profile allows (its schemas admit further fields).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The HSDS version `/oruk/` says it speaks.
pub const VERSION: &str = "3.0";
/// Where the UK profile is described.
pub const PROFILE: &str = "https://github.com/openreferral/uk-profile";
/// The profile's OpenAPI description, the one Trellis's `/oruk` implements.
pub const OPENAPI_URL: &str = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/openapi.json";

/// A stable id for a part Trellis keeps no row for: a name-based (v5) UUID of what it belongs to and what
/// it is, so exporting the same directory twice, or from a copy of it, gives the same ids.
pub fn derived_id(owner: Uuid, part: &str) -> Uuid {
    Uuid::new_v5(&owner, part.as_bytes())
}

/// `GET /oruk/`: which API this is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiInfo {
    /// The HSDS version.
    pub version: String,
    /// The profile's address.
    pub profile: String,
    /// The OpenAPI description's address.
    pub openapi_url: String,
}

impl Default for ApiInfo {
    fn default() -> Self {
        ApiInfo { version: VERSION.into(), profile: PROFILE.into(), openapi_url: OPENAPI_URL.into() }
    }
}

/// One page of a listing (the OpenAPI's `Page`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Items in all, on every page.
    pub total_items: u64,
    /// Pages in all (at least 1: an empty listing is one empty page).
    pub total_pages: u64,
    /// This page's number, from 1.
    pub page_number: u64,
    /// Items on this page (the OpenAPI: "the number of entities in the current page").
    pub size: u64,
    /// Whether this is page 1.
    pub first_page: bool,
    /// Whether no page follows.
    pub last_page: bool,
    /// Whether this page holds nothing.
    pub empty: bool,
    /// The items.
    pub contents: Vec<T>,
}

impl<T> Page<T> {
    /// Page `page_number` of `total_items` at `per_page` a page, holding `contents`.
    pub fn new(contents: Vec<T>, total_items: u64, page_number: u64, per_page: u64) -> Page<T> {
        let total_pages = Ord::max(total_items.div_ceil(Ord::max(per_page, 1)), 1);
        Page {
            total_items,
            total_pages,
            page_number,
            size: contents.len() as u64,
            first_page: page_number == 1,
            last_page: page_number >= total_pages,
            empty: contents.is_empty(),
            contents,
        }
    }
}

/// A service, fully nested (`GET /services/{id}`, and each item of `GET /services`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Its id.
    pub id: Uuid,
    /// The organisation that runs it.
    pub organization_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its contact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `active` (Trellis serves no other).
    pub status: String,
    /// Youngest age it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_age: Option<i32>,
    /// Oldest age it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_age: Option<i32>,
    /// Who it is for, in words (HSDS 3's `eligibility_description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility_description: Option<String>,
    /// The organisation.
    pub organization: Organization,
    /// Where it happens (left out of the service nested in a service at a location).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_at_locations: Vec<ServiceAtLocation>,
    /// When it runs.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// What it helps with: one attribute per taxonomy term.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// How to get in touch (its email, where it has one).
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Its capacity (HSDS 3.1 `service_capacity`).
    #[serde(default)]
    pub capacities: Vec<Capacity>,
}

/// An organisation, as nested in a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is (required by the profile; Trellis keeps none, so empty).
    pub description: String,
    /// Its contact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A service at a location (in a service, and `GET /service_at_locations(/{id})`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceAtLocation {
    /// Its id.
    pub id: Uuid,
    /// The service.
    pub service_id: Uuid,
    /// The location.
    pub location_id: Uuid,
    /// The location itself.
    pub location: Location,
    /// The service, fully nested but for its locations (only where the service at location stands alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Box<Service>>,
}

/// A place where services happen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Its id.
    pub id: Uuid,
    /// `physical`: every Trellis location is a place people go to.
    pub location_type: String,
    /// Its name.
    pub name: String,
    /// Latitude (WGS84).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Longitude (WGS84).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Its address, where Trellis has one.
    #[serde(default)]
    pub addresses: Vec<Address>,
}

/// A postal address. The profile requires every field; Trellis keeps one address line and a postcode, so
/// the city and region are empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Its id.
    pub id: Uuid,
    /// The location it belongs to.
    pub location_id: Uuid,
    /// The address line.
    pub address_1: String,
    /// Town or city.
    pub city: String,
    /// County or region.
    pub state_province: String,
    /// Postcode.
    pub postal_code: String,
    /// `GB`.
    pub country: String,
    /// `physical`.
    pub address_type: String,
}

/// When a service runs, in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id.
    pub id: Uuid,
    /// The service.
    pub service_id: Uuid,
    /// When, in words.
    pub description: String,
}

/// A service's taxonomy term.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Its id.
    pub id: Uuid,
    /// The service it describes.
    pub link_id: Uuid,
    /// `service`.
    pub link_type: String,
    /// `service`.
    pub link_entity: String,
    /// The term.
    pub taxonomy_term_id: Uuid,
    /// The term itself.
    pub taxonomy_term: TaxonomyTerm,
}

/// A taxonomy term (in an attribute, and `GET /taxonomy_terms(/{id})`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxonomyTerm {
    /// Its id.
    pub id: Uuid,
    /// Its code in its taxonomy (Trellis's own: `physical_activity`, `befriending`, …).
    pub code: String,
    /// Its name.
    pub name: String,
    /// The term in words (Trellis keeps its name).
    pub description: String,
    /// The term itself (the profile's `term`: its name).
    pub term: String,
    /// The taxonomy's name.
    pub taxonomy: String,
    /// The taxonomy's id.
    pub taxonomy_id: Uuid,
}

/// A taxonomy: the vocabulary taxonomy terms come from (`GET /taxonomies(/{id})`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// Its id, derived from its name.
    pub id: Uuid,
    /// Its name (`trellis` for Trellis's own kinds of community support).
    pub name: String,
    /// What it is.
    pub description: String,
}

/// How to get in touch with a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Its id.
    pub id: Uuid,
    /// The service.
    pub service_id: Uuid,
    /// The service's own email (never a person's details beyond what the service publishes).
    pub email: String,
}

/// A service's capacity (HSDS 3.1 `service_capacity`), with Trellis's `status` alongside.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Its id.
    pub id: Uuid,
    /// The service.
    pub service_id: Uuid,
    /// Units free as of `updated`.
    pub available: i32,
    /// Units in all.
    pub maximum: i32,
    /// What a unit is.
    pub unit: Unit,
    /// When it was last confirmed.
    pub updated: DateTime<Utc>,
    /// `open`, `waitlist` or `closed` (a Trellis extension).
    pub status: String,
}

/// A unit of capacity (HSDS 3.1 `unit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Its id, derived from its name.
    pub id: Uuid,
    /// Its name (`places`).
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_counts_its_own_items_and_an_empty_listing_is_one_empty_page() {
        let page = Page::new(vec![1, 2], 5, 3, 2);
        assert_eq!(
            (page.total_pages, page.size, page.first_page, page.last_page, page.empty),
            (3, 2, false, true, false)
        );
        let none: Page<u8> = Page::new(vec![], 0, 1, 50);
        assert_eq!((none.total_pages, none.first_page, none.last_page, none.empty), (1, true, true, true));
    }

    #[test]
    fn derived_ids_are_stable_and_differ_by_part_and_owner() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(derived_id(a, "schedule"), derived_id(a, "schedule"));
        assert_ne!(derived_id(a, "schedule"), derived_id(a, "contact"));
        assert_ne!(derived_id(a, "schedule"), derived_id(b, "schedule"));
    }
}
