//! The network graph, in one place: the GraphQL `network` query, the offer statistics it reuses, the
//! one turn at a time each graph waits for and holds until its response has been sent, and the
//! `/network` page that draws it.
//!
//! # Layout
//! - [`graphql`]: the `network` query and its GraphQL types, converted from the store's graph.
//! - [`cache`]: the offer statistics, reused for a short while, and the turn to build a graph.
//! - [`held_until_sent`]: a permit held by a large response until its body has been sent.
//! - [`in_turn`]: a list whose items are resolved one after another.
//! - [`page`]: `/network`, made with the link pages' kit ([`crate::link_pages`]).

pub mod cache;
pub mod graphql;
pub mod held_until_sent;
pub mod in_turn;
pub mod page;
