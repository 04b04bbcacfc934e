//! Typed identifiers. Each wraps a UUID so that a referral id cannot be passed where an offer id is expected.
//!
//! [`id_type!`] makes one; the store makes its own records' ids with it (API keys, sessions, links, outbox
//! rows), so every id in Trellis has the same shape.

/// Declares a typed identifier over a UUID: `Copy`, ordered, hashable, shown and parsed as the UUID,
/// serialised transparently. A crate using it depends on `uuid`, `chrono` and `serde` itself.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) identifier for the given instant.
            pub fn new_at(at: ::chrono::DateTime<::chrono::Utc>) -> Self {
                let ts = ::uuid::Timestamp::from_unix(
                    ::uuid::NoContext,
                    at.timestamp().max(0) as u64,
                    at.timestamp_subsec_nanos(),
                );
                Self(::uuid::Uuid::new_v7(ts))
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::uuid::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                ::uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl ::std::convert::From<::uuid::Uuid> for $name {
            fn from(id: ::uuid::Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// An organisation: GP practice, link worker service, community provider or the locality.
    OrganisationId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A person who has been referred.
    PersonId
);
id_type!(
    /// One person's social prescribing episode.
    ReferralId
);
id_type!(
    /// A referral handed to one provider's service.
    OfferId
);
id_type!(
    /// A service in the directory.
    ServiceId
);
id_type!(
    /// One entry of the audit log (time-ordered, so newer entries have greater ids: the log's cursor).
    AuditEntryId
);
