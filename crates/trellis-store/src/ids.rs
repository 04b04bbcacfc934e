//! The ids of the store's own records, typed like the domain's ([`trellis_domain::id_type!`]): records
//! the domain never sees (keys, sessions, links, outbox rows), so their ids live here.

use trellis_domain::id_type;

id_type!(
    /// An API key (never its token): listed, rotated and revoked by this id.
    ApiKeyId
);
id_type!(
    /// A browser's signed-in session (not the secret in its cookie).
    SessionId
);
id_type!(
    /// A provider's link, to one offer or one service (not its token, of which only a hash is kept).
    LinkId
);
id_type!(
    /// A row of the email outbox: one message to send, by email or MESH.
    OutboxId
);
