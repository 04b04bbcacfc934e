//! Settings the binary passes in; this crate never reads the environment. The service levels (offer
//! expiry, first contact, capacity staleness) are not here: the [`trellis_store::Store`] holds them as a
//! [`trellis_domain::policy::Policy`].

use std::time::Duration;

/// What a deployment can tune.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// The address people reach Trellis at, for links in emails (`https://trellis.example.nhs.uk`).
    pub public_base_url: String,
    /// Whether GraphQL introspection is allowed. Off unless switched on (the binary's `--demo` does):
    /// a production API need not describe itself to whoever asks.
    pub introspection: bool,
    /// Whether the explorer page is served at `GET /graphql`. Off unless switched on, like introspection.
    pub explorer: bool,
    /// Requests per minute allowed for one token (or one anonymous address).
    pub rate_limit_per_minute: u32,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// A request taking longer than this is cut off.
    pub request_timeout_secs: u64,
    /// Largest page a connection returns.
    pub max_page_size: usize,
    /// The SWEMWBS item wording, seven lines, supplied by the deployment under its own licence; without
    /// it the items read `Item 1` … `Item 7`.
    pub swemwbs_wording: Option<Vec<String>>,
    /// How long an API key issued through the API works, in days (`createUser`, `issueApiKey`).
    pub api_key_expiry_days: i64,
    /// How many days a referral's idempotency key is remembered: a retry within it replays the first
    /// submission; after it the key is forgotten and a reuse makes a new referral.
    pub idempotency_key_days: i64,
    /// A console session ends after this long without a request.
    pub session_idle: Duration,
    /// A console session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// `/network` sign-in attempts allowed per client address per minute.
    pub sign_in_per_minute: u32,
}

impl ApiSettings {
    /// Whether Trellis is reached over HTTPS: cookies are then `Secure` and responses carry HSTS.
    pub fn is_https(&self) -> bool {
        self.public_base_url.trim().to_ascii_lowercase().starts_with("https://")
    }

    /// The session lifetimes, as the store applies them.
    pub fn session_policy(&self) -> trellis_store::sessions::SessionPolicy {
        trellis_store::sessions::SessionPolicy { idle: self.session_idle, absolute: self.session_max }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            public_base_url: "http://127.0.0.1:8080".into(),
            introspection: false,
            explorer: false,
            rate_limit_per_minute: 600,
            body_limit_bytes: 256 * 1024,
            request_timeout_secs: 30,
            max_page_size: 100,
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(10 * 3600),
            sign_in_per_minute: 10,
            swemwbs_wording: None,
            api_key_expiry_days: trellis_store::accounts::DEFAULT_API_KEY_LIFETIME_DAYS,
            idempotency_key_days: 30,
        }
    }
}
