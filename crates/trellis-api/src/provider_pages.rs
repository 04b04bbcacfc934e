//! The provider's offer page behind an email link (being built: see issue 4).

use axum::Router;

use crate::AppState;

/// The provider page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
