//! What every feature of the schema shares: the macro for enums that mirror domain ones, the enums more
//! than one feature returns (`Need`, `Role`), id arguments, and paging.

use async_graphql::{Context, Enum, ErrorExtensions, ID};
use trellis_domain::values::{self as domain_values, ValueError};
use trellis_domain::{OfferId, OrganisationId, ReferralId, ServiceId, UserId};

use crate::ApiSettings;
use crate::error::{ApiError, ApiResult};

/// Declares a GraphQL enum whose source is a domain enum: the conversions both ways are exhaustive
/// matches, so a variant added to the domain fails to compile here until the API names it. Variants may
/// carry their own `///` lines, which become the SDL's value descriptions.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident => $domain:ty { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
        #[allow(missing_docs)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => Self::$variant),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),+ }
            }
        }
    };
}
/// For the feature modules' enums that mirror domain ones.
pub(super) use mirror_enum;

mirror_enum!(
    /// What matters to the person.
    Need => domain_values::Need {
        Loneliness, LowMood, PhysicalActivity, Debt, Benefits, Housing, CarerSupport, LongTermCondition,
        Bereavement, EmploymentAndLearning, Food, NewToTheArea
    }
);
mirror_enum!(
    /// The person's sex as recorded (NHS Data Dictionary PERSON STATED GENDER CODE).
    Sex => trellis_domain::report::Sex {
        /// Code 2.
        Female,
        /// Code 1.
        Male,
        /// Code 9: unable to be classified as either.
        Indeterminate,
        /// Code X: not known.
        NotKnown
    }
);
mirror_enum!(
    /// The person's ethnic group as they stated it: the NHS Data Dictionary's ETHNIC CATEGORY, each value
    /// naming its code.
    EthnicCategory => trellis_domain::report::EthnicCategory {
        /// A: White - British.
        WhiteBritish,
        /// B: White - Irish.
        WhiteIrish,
        /// C: White - Any other White background.
        WhiteOther,
        /// D: Mixed - White and Black Caribbean.
        MixedWhiteBlackCaribbean,
        /// E: Mixed - White and Black African.
        MixedWhiteBlackAfrican,
        /// F: Mixed - White and Asian.
        MixedWhiteAsian,
        /// G: Mixed - Any other mixed background.
        MixedOther,
        /// H: Asian or Asian British - Indian.
        AsianIndian,
        /// J: Asian or Asian British - Pakistani.
        AsianPakistani,
        /// K: Asian or Asian British - Bangladeshi.
        AsianBangladeshi,
        /// L: Asian or Asian British - Any other Asian background.
        AsianOther,
        /// M: Black or Black British - Caribbean.
        BlackCaribbean,
        /// N: Black or Black British - African.
        BlackAfrican,
        /// P: Black or Black British - Any other Black background.
        BlackOther,
        /// R: Other ethnic groups - Chinese.
        Chinese,
        /// S: Other ethnic groups - Any other ethnic group.
        OtherEthnicGroup,
        /// Z: Not stated.
        NotStated,
        /// 99: Not known.
        NotKnown
    }
);
mirror_enum!(
    /// What a party may do.
    Role => trellis_domain::Role { GpPractice, LinkWorker, Provider, NetworkLead, Admin, System }
);

/// The rows a list may hold when the request does not say (`first` absent, or a list with no `first`,
/// whose size is estimated as one page).
pub(super) const DEFAULT_PAGE: usize = 20;

/// What a list field costs towards the request's complexity limit: its children once per row it may
/// return, so `first: 100` costs a hundred times a row, not once. `first` out of range is refused by
/// the resolver anyway; here it only has to be bounded.
pub(super) fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.map_or(DEFAULT_PAGE, |n| usize::try_from(n.clamp(1, 1000)).unwrap_or(DEFAULT_PAGE));
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// The rows a page holds: `first`, within the deployment's maximum page size.
pub(super) fn page_size(ctx: &Context<'_>, first: Option<i32>) -> ApiResult<u64> {
    let max = ctx.data::<std::sync::Arc<ApiSettings>>()?.max_page_size;
    match first {
        None => Ok(20),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as u64),
        Some(n) => Err(ApiError::Validation(ValueError::new(
            "first",
            n.to_string(),
            "must be between 1 and the maximum page size",
        ))
        .extend()),
    }
}

/// Parses an id argument, naming the field when it is not one.
pub fn parse_id<T: From<uuid::Uuid>>(field: &'static str, id: &ID) -> Result<T, ValueError> {
    uuid::Uuid::parse_str(id.as_str()).map(T::from).map_err(|_| ValueError::new(field, id.as_str(), "is not an id"))
}

/// Shorthands for the ids the inputs carry.
pub fn referral_id(id: &ID) -> Result<ReferralId, ValueError> {
    parse_id("referralId", id)
}
/// An offer id.
pub fn offer_id(id: &ID) -> Result<OfferId, ValueError> {
    parse_id("offerId", id)
}
/// A service id.
pub fn service_id(id: &ID) -> Result<ServiceId, ValueError> {
    parse_id("serviceId", id)
}
/// A user id.
pub fn user_id(field: &'static str, id: &ID) -> Result<UserId, ValueError> {
    parse_id(field, id)
}
/// An organisation id.
pub fn organisation_id(field: &'static str, id: &ID) -> Result<OrganisationId, ValueError> {
    parse_id(field, id)
}
