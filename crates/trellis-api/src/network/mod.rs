//! The network view, in one place: the GraphQL `network` query (one area, a page of providers at a
//! time, its statistics read from the offer rollups) and the `/network` page that draws it.
//!
//! # Layout
//! - [`graphql`]: the `network` query and its GraphQL types, converted from the store's page.
//! - [`page`]: `/network`, one of the staff console's pages.

pub mod graphql;
pub mod page;
