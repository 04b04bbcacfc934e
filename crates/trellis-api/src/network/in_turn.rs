//! A list whose items are resolved one after another.
//!
//! async-graphql resolves a list's items concurrently: a future for every item, all alive at once.
//! For the network graph's lists (thousands of services and flows, with nothing in them to wait for)
//! that costs tens of megabytes of futures and the work of polling them together. Resolved in turn,
//! one item's future is alive at a time. The schema sees an ordinary list.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value, registry};

/// A list resolved item by item.
pub struct InTurn<T>(pub Vec<T>);

impl<T: OutputType> OutputType for InTurn<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut registry::Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let mut values = Vec::with_capacity(self.0.len());
        for (index, item) in self.0.iter().enumerate() {
            let ctx = ctx.with_index(index);
            values.push(OutputType::resolve(item, &ctx, field).await.map_err(|e| ctx.set_error_path(e))?);
        }
        Ok(Value::List(values))
    }
}

impl<T> std::ops::Deref for InTurn<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a InTurn<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
