//! The directory's rules: service and capacity states, who may manage a service, which community support
//! meets which need, and how well a service fits a person (needs, distance, age, capacity), with the
//! reasons a link worker reads.
//!
//! Everything is pure: distances are computed from coordinates the caller supplies, and the caller says
//! whether capacity is stale.

use crate::actor::{Actor, Role};
use crate::ids::OrganisationId;
use crate::values::needs::named_enum;
use crate::values::{Need, ValueError};

named_enum!(
    /// Whether a service takes part in the directory now (Open Referral's `status`).
    ServiceStatus, "status", "is not a service status" {
        /// Listed and open to offers.
        Active => "active",
        /// Kept for its history but not offered.
        Inactive => "inactive",
    }
);

named_enum!(
    /// Whether a service takes people now, alongside its HSDS 3.1 `service_capacity`.
    CapacityStatus, "status", "is not a capacity status" {
        /// Taking people.
        Open => "open",
        /// Taking names for a waiting list.
        Waitlist => "waitlist",
        /// Not taking anyone.
        Closed => "closed",
    }
);

/// The taxonomy Trellis starts with: the kinds of community support link workers connect people to,
/// as (code, name).
pub const TAXONOMY: &[(&str, &str)] = &[
    ("physical_activity", "Physical activity"),
    ("arts_and_culture", "Arts and culture"),
    ("nature_and_green", "Nature and green"),
    ("befriending", "Befriending"),
    ("advice_debt", "Advice: debt"),
    ("advice_benefits", "Advice: benefits"),
    ("advice_housing", "Advice: housing"),
    ("mental_health_peer_support", "Mental health peer support"),
    ("learning", "Learning"),
    ("volunteering", "Volunteering"),
    ("carers", "Carers"),
    ("welcome_and_integration", "Welcome and integration"),
    ("food_support", "Food support"),
];

/// The name of one of Trellis's own taxonomy terms.
pub fn term_name(code: &str) -> Option<&'static str> {
    TAXONOMY.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Which taxonomy terms meet a need, the most direct first. Every term named is in [`TAXONOMY`].
pub fn terms_for(need: Need) -> &'static [&'static str] {
    match need {
        Need::Loneliness => {
            &["befriending", "arts_and_culture", "volunteering", "nature_and_green", "physical_activity"]
        }
        Need::LowMood => &["mental_health_peer_support", "nature_and_green", "arts_and_culture", "physical_activity"],
        Need::PhysicalActivity => &["physical_activity", "nature_and_green"],
        Need::Debt => &["advice_debt", "advice_benefits"],
        Need::Benefits => &["advice_benefits", "advice_debt"],
        Need::Housing => &["advice_housing"],
        Need::CarerSupport => &["carers"],
        Need::LongTermCondition => &["physical_activity", "mental_health_peer_support"],
        Need::Bereavement => &["befriending", "mental_health_peer_support"],
        Need::EmploymentAndLearning => &["learning", "volunteering"],
        Need::Food => &["food_support", "advice_benefits"],
        Need::NewToTheArea => &["welcome_and_integration", "befriending", "learning"],
    }
}

/// Whether `actor` may add and change the services of `organisation`: the network lead for any provider,
/// a provider for its own.
pub fn may_manage_services(actor: &Actor, organisation: OrganisationId) -> bool {
    actor.role == Role::NetworkLead || actor.is(Role::Provider, organisation)
}

/// Whether `actor` may change the address a service's offers (and the links in them) are emailed to: an
/// administrator, or the provider that runs the service (through its account or its capacity link). Not
/// the network lead, who otherwise manages the directory: whoever sets the address receives the links,
/// so the choice stays with the provider, and with administrators to put a mistake right.
pub fn may_change_service_email(actor: &Actor, organisation: OrganisationId) -> bool {
    actor.role == Role::Admin || actor.is(Role::Provider, organisation)
}

/// Checks an age range: each from 0 to 120, and the youngest no older than the oldest.
pub fn check_ages(min_age: Option<i32>, max_age: Option<i32>) -> Result<(), ValueError> {
    for (field, age) in [("minAge", min_age), ("maxAge", max_age)] {
        if let Some(a) = age
            && !(0..=120).contains(&a)
        {
            return Err(ValueError::new(field, a.to_string(), "must be between 0 and 120"));
        }
    }
    if let (Some(min), Some(max)) = (min_age, max_age)
        && min > max
    {
        return Err(ValueError::new("minAge", min.to_string(), "must not be above maxAge"));
    }
    Ok(())
}

/// Checks a capacity: no negative places, and no more free than in all.
pub fn check_capacity(available: i32, maximum: i32) -> Result<(), ValueError> {
    if available < 0 {
        return Err(ValueError::new("available", available.to_string(), "must not be negative"));
    }
    if maximum < available {
        return Err(ValueError::new("maximum", maximum.to_string(), "must be at least the places available"));
    }
    Ok(())
}

/// Checks a web address: `http` or `https` only (so it is safe as a link), no spaces, not too long.
pub fn check_url(url: &str) -> Result<String, ValueError> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(str::is_empty) {
        return Err(ValueError::new("url", url, "must be an http or https address"));
    }
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValueError::new("url", url.chars().take(64).collect::<String>(), "is not a web address"));
    }
    Ok(url.to_owned())
}

/// A point on the Earth (WGS84 degrees).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coordinates {
    /// Latitude, −90 to 90.
    pub latitude: f64,
    /// Longitude, −180 to 180.
    pub longitude: f64,
}

/// Mean radius of the Earth in kilometres (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;

impl Coordinates {
    /// Parses a latitude and longitude, refusing anything off the globe.
    pub fn parse(latitude: f64, longitude: f64) -> Result<Coordinates, ValueError> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(ValueError::new("latitude", latitude.to_string(), "must be between -90 and 90"));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(ValueError::new("longitude", longitude.to_string(), "must be between -180 and 180"));
        }
        Ok(Coordinates { latitude, longitude })
    }

    /// The great-circle distance to `other` in kilometres (haversine).
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }

    /// A latitude/longitude box holding every point within `radius_km`, for a coarse filter in SQL
    /// before the exact distance is computed.
    pub fn bounding_box(&self, radius_km: f64) -> BoundingBox {
        let dlat = (radius_km / EARTH_RADIUS_KM).to_degrees();
        let cos = self.latitude.to_radians().cos();
        let min_latitude = (self.latitude - dlat).max(-90.0);
        let max_latitude = (self.latitude + dlat).min(90.0);
        // Near a pole, or when the box would cross the antimeridian, every longitude qualifies.
        let dlon = if cos > 1e-6 { (radius_km / (EARTH_RADIUS_KM * cos)).to_degrees() } else { 360.0 };
        let (min_longitude, max_longitude) = if self.longitude - dlon < -180.0 || self.longitude + dlon > 180.0 {
            (-180.0, 180.0)
        } else {
            (self.longitude - dlon, self.longitude + dlon)
        };
        BoundingBox { min_latitude, max_latitude, min_longitude, max_longitude }
    }

    /// The mean of some points: good enough as the centre of a postcode district.
    pub fn centroid(points: &[Coordinates]) -> Option<Coordinates> {
        if points.is_empty() {
            return None;
        }
        let n = points.len() as f64;
        Some(Coordinates {
            latitude: points.iter().map(|p| p.latitude).sum::<f64>() / n,
            longitude: points.iter().map(|p| p.longitude).sum::<f64>() / n,
        })
    }
}

/// A latitude/longitude box, inclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundingBox {
    /// Southern edge.
    pub min_latitude: f64,
    /// Northern edge.
    pub max_latitude: f64,
    /// Western edge.
    pub min_longitude: f64,
    /// Eastern edge.
    pub max_longitude: f64,
}

/// What a person needs from a service.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchRequest {
    /// Their needs (at least one).
    pub needs: Vec<Need>,
    /// How far they can travel, when a place was given.
    pub radius_km: Option<f64>,
    /// Their age.
    pub age: Option<i32>,
    /// Only services open with places free and recently confirmed.
    pub only_with_capacity: bool,
}

/// A service's capacity as matching sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityView {
    /// Places free.
    pub available: i32,
    /// What a place is (`places`, `appointments`).
    pub unit: String,
    /// Whether it takes people.
    pub status: CapacityStatus,
    /// Days since the provider last confirmed it.
    pub age_days: i64,
    /// Whether that is too long ago to trust.
    pub stale: bool,
}

/// A service as matching sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Its taxonomy term codes.
    pub taxonomy: Vec<String>,
    /// Distance from the person to its nearest location, when both are known.
    pub distance_km: Option<f64>,
    /// Youngest age it takes.
    pub min_age: Option<i32>,
    /// Oldest age it takes.
    pub max_age: Option<i32>,
    /// Its capacity, if it has said.
    pub capacity: Option<CapacityView>,
}

/// How well a service fits, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// From 0 (barely) to 1 (every need met directly, on the doorstep, places free).
    pub score: f64,
    /// The person's needs it meets.
    pub needs_met: Vec<Need>,
    /// Why it matched, for a person to read (`meets loneliness via befriending`, `2.1 km away`, …).
    pub reasons: Vec<String>,
}

/// How much each part of the fit counts.
const NEED_WEIGHT: f64 = 0.5;
const DISTANCE_WEIGHT: f64 = 0.3;
const CAPACITY_WEIGHT: f64 = 0.2;
/// The distance at which the distance part of the score halves.
const HALF_SCORE_KM: f64 = 3.0;

/// Whether and how well `candidate` fits `request`: `None` when it meets none of the needs, is outside
/// the radius (or cannot be placed within it), does not take the person's age, or has no places when
/// only services with places were asked for.
pub fn assess(request: &MatchRequest, candidate: &Candidate) -> Option<Fit> {
    let mut reasons = Vec::new();
    let mut needs_met = Vec::new();
    let mut need_points = 0.0;
    for need in &request.needs {
        let terms = terms_for(*need);
        if let Some((rank, term)) = terms.iter().enumerate().find(|(_, t)| candidate.taxonomy.iter().any(|c| c == *t)) {
            need_points += if rank == 0 { 1.0 } else { 0.75 };
            needs_met.push(*need);
            let term = term_name(term).map(str::to_lowercase).unwrap_or_else(|| term.replace('_', " "));
            reasons.push(format!("meets {} via {term}", need.as_str().replace('_', " ")));
        }
    }
    if needs_met.is_empty() {
        return None;
    }
    let need_score = need_points / request.needs.len().max(1) as f64;

    let distance_score = match (candidate.distance_km, request.radius_km) {
        (Some(d), Some(r)) if d > r => return None,
        (None, Some(_)) => return None,
        (Some(d), _) => {
            reasons.push(format!("{d:.1} km away"));
            1.0 / (1.0 + d / HALF_SCORE_KM)
        }
        (None, None) => 0.0,
    };

    let capacity_score = match &candidate.capacity {
        None => {
            reasons.push("capacity not known".into());
            0.0
        }
        Some(c) if c.stale => {
            reasons.push(format!("capacity last confirmed {} days ago", c.age_days));
            0.0
        }
        Some(c) => match c.status {
            CapacityStatus::Open if c.available > 0 => {
                let unit = if c.available == 1 { c.unit.strip_suffix('s').unwrap_or(&c.unit) } else { &c.unit };
                reasons.push(format!("{} {unit} free", c.available));
                1.0
            }
            CapacityStatus::Open => {
                reasons.push("no places free just now".into());
                0.3
            }
            CapacityStatus::Waitlist => {
                reasons.push("waiting list open".into());
                0.5
            }
            CapacityStatus::Closed => {
                reasons.push("closed to new people".into());
                0.0
            }
        },
    };
    if request.only_with_capacity && capacity_score < 1.0 {
        return None;
    }

    if let Some(age) = request.age {
        if candidate.min_age.is_some_and(|min| age < min) || candidate.max_age.is_some_and(|max| age > max) {
            return None;
        }
        match (candidate.min_age, candidate.max_age) {
            (Some(min), Some(max)) => reasons.push(format!("takes ages {min} to {max}")),
            (Some(min), None) => reasons.push(format!("takes ages {min}+")),
            (None, Some(max)) => reasons.push(format!("takes ages up to {max}")),
            (None, None) => {}
        }
    }

    let score = NEED_WEIGHT * need_score + DISTANCE_WEIGHT * distance_score + CAPACITY_WEIGHT * capacity_score;
    Some(Fit { score: (score * 1000.0).round() / 1000.0, needs_met, reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn request(needs: &[Need]) -> MatchRequest {
        MatchRequest { needs: needs.to_vec(), radius_km: None, age: None, only_with_capacity: false }
    }

    fn open(available: i32) -> Option<CapacityView> {
        Some(CapacityView { available, unit: "places".into(), status: CapacityStatus::Open, age_days: 1, stale: false })
    }

    fn candidate(taxonomy: &[&str], distance_km: Option<f64>, capacity: Option<CapacityView>) -> Candidate {
        Candidate {
            taxonomy: taxonomy.iter().map(|t| (*t).to_owned()).collect(),
            distance_km,
            min_age: None,
            max_age: None,
            capacity,
        }
    }

    #[test]
    fn every_need_maps_to_terms_of_the_taxonomy() {
        for need in Need::ALL {
            assert!(!terms_for(*need).is_empty(), "{need:?}");
            for term in terms_for(*need) {
                assert!(term_name(term).is_some(), "{need:?} names unknown term {term}");
            }
        }
    }

    #[test]
    fn the_great_circle_distance_between_derby_and_nottingham_is_about_22_km() {
        // Derby Cathedral to Nottingham Council House: 22.2 km as the crow flies.
        let derby = Coordinates::parse(52.9249, -1.4777).unwrap();
        let nottingham = Coordinates::parse(52.9533, -1.1496).unwrap();
        let d = derby.distance_km(&nottingham);
        assert!((d - 22.2).abs() < 0.3, "{d}");
        assert_eq!(derby.distance_km(&derby), 0.0);
    }

    #[test]
    fn the_bounding_box_holds_every_point_within_the_radius() {
        let centre = Coordinates::parse(52.9, -1.3).unwrap();
        let b = centre.bounding_box(10.0);
        for bearing in 0..36 {
            let angle = f64::from(bearing * 10).to_radians();
            // A point just inside 10 km at this bearing.
            let dlat = (9.99 / EARTH_RADIUS_KM).to_degrees() * angle.cos();
            let dlon = (9.99 / EARTH_RADIUS_KM).to_degrees() * angle.sin() / centre.latitude.to_radians().cos();
            let p = Coordinates { latitude: centre.latitude + dlat, longitude: centre.longitude + dlon };
            assert!(centre.distance_km(&p) <= 10.0);
            assert!(p.latitude >= b.min_latitude && p.latitude <= b.max_latitude);
            assert!(p.longitude >= b.min_longitude && p.longitude <= b.max_longitude);
        }
    }

    #[test]
    fn coordinates_off_the_globe_are_refused() {
        assert_eq!(Coordinates::parse(91.0, 0.0).unwrap_err().field, "latitude");
        assert_eq!(Coordinates::parse(0.0, -181.0).unwrap_err().field, "longitude");
        assert!(Coordinates::parse(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn the_centroid_is_the_mean_and_there_is_none_of_nothing() {
        let c = Coordinates::centroid(&[
            Coordinates { latitude: 52.0, longitude: -1.0 },
            Coordinates { latitude: 53.0, longitude: -2.0 },
        ])
        .unwrap();
        assert_eq!((c.latitude, c.longitude), (52.5, -1.5));
        assert_eq!(Coordinates::centroid(&[]), None);
    }

    #[test]
    fn a_service_that_meets_no_need_is_not_a_match() {
        assert_eq!(assess(&request(&[Need::Debt]), &candidate(&["befriending"], None, open(3))), None);
    }

    #[test]
    fn a_match_says_why_in_words() {
        let fit = assess(
            &request(&[Need::Loneliness, Need::PhysicalActivity]),
            &candidate(&["befriending"], Some(2.14), open(8)),
        )
        .unwrap();
        assert_eq!(fit.needs_met, vec![Need::Loneliness]);
        assert_eq!(fit.reasons, vec!["meets loneliness via befriending", "2.1 km away", "8 places free"]);
        let one = assess(&request(&[Need::Loneliness]), &candidate(&["befriending"], None, open(1))).unwrap();
        assert!(one.reasons.contains(&"1 place free".to_owned()), "{:?}", one.reasons);
    }

    #[test]
    fn a_direct_term_counts_more_than_a_related_one() {
        let direct = assess(&request(&[Need::Loneliness]), &candidate(&["befriending"], None, None)).unwrap();
        let related = assess(&request(&[Need::Loneliness]), &candidate(&["arts_and_culture"], None, None)).unwrap();
        assert!(direct.score > related.score);
    }

    #[test]
    fn nearer_ranks_higher_and_outside_the_radius_is_out() {
        let near = assess(&request(&[Need::Debt]), &candidate(&["advice_debt"], Some(1.0), None)).unwrap();
        let far = assess(&request(&[Need::Debt]), &candidate(&["advice_debt"], Some(12.0), None)).unwrap();
        assert!(near.score > far.score);
        let within_5 = MatchRequest { radius_km: Some(5.0), ..request(&[Need::Debt]) };
        assert_eq!(assess(&within_5, &candidate(&["advice_debt"], Some(12.0), None)), None);
        assert_eq!(assess(&within_5, &candidate(&["advice_debt"], None, None)), None, "no location, no radius match");
    }

    #[test]
    fn capacity_ranks_open_over_waitlist_over_closed_and_stale() {
        let with = |status, stale| {
            let capacity = Some(CapacityView { available: 4, unit: "places".into(), status, age_days: 30, stale });
            assess(&request(&[Need::Housing]), &candidate(&["advice_housing"], None, capacity)).unwrap()
        };
        let open = with(CapacityStatus::Open, false);
        let waitlist = with(CapacityStatus::Waitlist, false);
        let closed = with(CapacityStatus::Closed, false);
        let stale = with(CapacityStatus::Open, true);
        assert!(open.score > waitlist.score && waitlist.score > closed.score);
        assert_eq!(closed.score, stale.score);
        assert!(stale.reasons.contains(&"capacity last confirmed 30 days ago".to_owned()));
    }

    #[test]
    fn only_with_capacity_keeps_open_services_with_places_confirmed_recently() {
        let req = MatchRequest { only_with_capacity: true, ..request(&[Need::Housing]) };
        assert!(assess(&req, &candidate(&["advice_housing"], None, open(2))).is_some());
        assert!(assess(&req, &candidate(&["advice_housing"], None, open(0))).is_none());
        assert!(assess(&req, &candidate(&["advice_housing"], None, None)).is_none());
        let stale = Some(CapacityView {
            available: 2,
            unit: "places".into(),
            status: CapacityStatus::Open,
            age_days: 40,
            stale: true,
        });
        assert!(assess(&req, &candidate(&["advice_housing"], None, stale)).is_none());
    }

    #[test]
    fn a_service_only_matches_people_of_the_ages_it_takes() {
        let mut adults = candidate(&["befriending"], None, None);
        adults.min_age = Some(18);
        adults.max_age = Some(65);
        let age = |a| MatchRequest { age: Some(a), ..request(&[Need::Loneliness]) };
        assert!(assess(&age(17), &adults).is_none());
        assert!(assess(&age(66), &adults).is_none());
        let fit = assess(&age(40), &adults).unwrap();
        assert!(fit.reasons.contains(&"takes ages 18 to 65".to_owned()));
    }

    #[test]
    fn the_network_lead_manages_any_provider_and_a_provider_only_its_own() {
        let own = OrganisationId(uuid::Uuid::from_u128(1));
        let other = OrganisationId(uuid::Uuid::from_u128(2));
        let user = UserId(uuid::Uuid::from_u128(9));
        assert!(may_manage_services(&Actor::user(user, Role::NetworkLead, other), own));
        assert!(may_manage_services(&Actor::user(user, Role::Provider, own), own));
        assert!(!may_manage_services(&Actor::user(user, Role::Provider, other), own));
        for role in [Role::GpPractice, Role::LinkWorker, Role::Admin] {
            assert!(!may_manage_services(&Actor::user(user, role, own), own), "{role:?}");
        }
        assert!(!may_manage_services(&Actor::system(), own));
    }

    #[test]
    fn only_an_admin_or_the_provider_itself_changes_where_a_services_offers_go() {
        let own = OrganisationId(uuid::Uuid::from_u128(1));
        let other = OrganisationId(uuid::Uuid::from_u128(2));
        let user = UserId(uuid::Uuid::from_u128(9));
        assert!(may_change_service_email(&Actor::user(user, Role::Admin, other), own));
        assert!(may_change_service_email(&Actor::user(user, Role::Provider, own), own));
        assert!(may_change_service_email(&Actor::provider_link(own), own), "through its capacity link");
        assert!(!may_change_service_email(&Actor::provider_link(other), own));
        assert!(!may_change_service_email(&Actor::user(user, Role::NetworkLead, other), own), "not the network lead");
        for role in [Role::GpPractice, Role::LinkWorker] {
            assert!(!may_change_service_email(&Actor::user(user, role, own), own), "{role:?}");
        }
        assert!(!may_change_service_email(&Actor::system(), own));
    }

    #[test]
    fn ages_and_capacities_out_of_range_are_refused_naming_the_field() {
        assert!(check_ages(Some(18), None).is_ok());
        assert!(check_ages(Some(18), Some(18)).is_ok());
        assert_eq!(check_ages(Some(-1), None).unwrap_err().field, "minAge");
        assert_eq!(check_ages(None, Some(121)).unwrap_err().field, "maxAge");
        assert_eq!(check_ages(Some(65), Some(18)).unwrap_err().reason, "must not be above maxAge");
        assert!(check_capacity(0, 0).is_ok());
        assert_eq!(check_capacity(-1, 5).unwrap_err().field, "available");
        assert_eq!(check_capacity(6, 5).unwrap_err().field, "maximum");
    }

    #[test]
    fn only_http_and_https_addresses_are_web_addresses() {
        assert_eq!(check_url(" https://example.org/walks ").unwrap(), "https://example.org/walks");
        assert!(check_url("HTTP://EXAMPLE.ORG").is_ok());
        for bad in ["javascript:alert(1)", "example.org", "https://", "https://a b", "ftp://x"] {
            assert_eq!(check_url(bad).unwrap_err().field, "url", "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in CapacityStatus::ALL {
            assert_eq!(CapacityStatus::parse(s.as_str()).unwrap(), *s);
        }
        assert_eq!(ServiceStatus::parse("inactive").unwrap(), ServiceStatus::Inactive);
        assert!(ServiceStatus::parse("defunct").is_err());
    }
}
