//! What one request may ask for before it runs: a limit on root fields and aliases.
//!
//! Complexity counts fields, and list fields by their `first` ([`super::common::page_cost`]), but each
//! root field is its own resolver with its own reads and audit entries: 450 aliased copies of `providerOffers`
//! stayed under the complexity limit and wrote 2,250 audit rows. So, before execution (and before any
//! read), a document whose operation selects more than [`MAX_ROOT_FIELDS`] root fields, or holds more
//! than [`MAX_ALIASES`] aliased fields, is refused with `QUERY_TOO_COMPLEX`. Standard clients'
//! introspection queries select one or two root fields and no aliases, so they pass.
//!
//! Fragments are followed where they are spread, so a fragment of aliases spread many times counts
//! each time; the walk gives up (and refuses) after [`MAX_SELECTIONS`] selections, so a document built
//! to multiply through nested fragments costs this check little.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned};

/// The most root fields one operation may select (aliases of one field count once each).
pub const MAX_ROOT_FIELDS: usize = 20;
/// The most aliased fields one operation may hold, wherever they are.
pub const MAX_ALIASES: usize = 30;
/// The most selections the check follows before it refuses the document as too large to be honest.
pub const MAX_SELECTIONS: usize = 10_000;

/// Why a document was refused, in words a client can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooComplex {
    /// More than [`MAX_ROOT_FIELDS`] root fields.
    RootFields,
    /// More than [`MAX_ALIASES`] aliased fields.
    Aliases,
    /// More than [`MAX_SELECTIONS`] selections once fragments are spread.
    Selections,
}

impl TooComplex {
    /// The message sent with `extensions.code = "QUERY_TOO_COMPLEX"`.
    pub fn message(self) -> String {
        match self {
            TooComplex::RootFields => {
                format!("the query is too complex: at most {MAX_ROOT_FIELDS} root fields per request")
            }
            TooComplex::Aliases => format!("the query is too complex: at most {MAX_ALIASES} aliases per request"),
            TooComplex::Selections => {
                format!("the query is too complex: more than {MAX_SELECTIONS} selections once fragments are spread")
            }
        }
    }
}

/// Checks every operation of a parsed document against the limits.
pub fn check(document: &ExecutableDocument) -> Result<(), TooComplex> {
    for (_, operation) in document.operations.iter() {
        let mut walk = Walk { fragments: &document.fragments, spreading: Vec::new(), aliases: 0, selections: 0 };
        let roots = walk.fields(&operation.node.selection_set.node, true)?;
        if roots > MAX_ROOT_FIELDS {
            return Err(TooComplex::RootFields);
        }
    }
    Ok(())
}

/// Whether an operation of the document selects the root field `name`, directly or through fragments.
pub fn selects_root_field(document: &ExecutableDocument, name: &str) -> bool {
    document.operations.iter().any(|(_, op)| selects(&op.node.selection_set.node, &document.fragments, name, 0))
}

fn selects(
    set: &SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    name: &str,
    depth: usize,
) -> bool {
    // Fragments spreading each other in a cycle are refused by validation; this only stops early.
    depth < 8
        && set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => field.node.name.node == name,
            Selection::InlineFragment(inline) => selects(&inline.node.selection_set.node, fragments, name, depth + 1),
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|f| selects(&f.node.selection_set.node, fragments, name, depth + 1)),
        })
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// The fragments being spread, innermost last: a cycle is left to validation to refuse.
    spreading: Vec<&'a Name>,
    aliases: usize,
    selections: usize,
}

impl<'a> Walk<'a> {
    /// Counts the fields selected at this level (through fragments), walking below them for aliases.
    fn fields(&mut self, set: &'a SelectionSet, count_here: bool) -> Result<usize, TooComplex> {
        let mut here = 0;
        for item in &set.items {
            self.selections += 1;
            if self.selections > MAX_SELECTIONS {
                return Err(TooComplex::Selections);
            }
            match &item.node {
                Selection::Field(field) => {
                    here += 1;
                    if count_here && here > MAX_ROOT_FIELDS {
                        return Err(TooComplex::RootFields);
                    }
                    if field.node.alias.is_some() {
                        self.aliases += 1;
                        if self.aliases > MAX_ALIASES {
                            return Err(TooComplex::Aliases);
                        }
                    }
                    self.fields(&field.node.selection_set.node, false)?;
                }
                Selection::InlineFragment(inline) => {
                    here += self.fields(&inline.node.selection_set.node, count_here)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if self.spreading.contains(&name) {
                        continue;
                    }
                    let Some(fragment) = self.fragments.get(name) else { continue };
                    self.spreading.push(name);
                    here += self.fields(&fragment.node.selection_set.node, count_here)?;
                    self.spreading.pop();
                }
            }
            if count_here && here > MAX_ROOT_FIELDS {
                return Err(TooComplex::RootFields);
            }
        }
        Ok(here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str) -> Result<(), TooComplex> {
        check(&async_graphql::parser::parse_query(query).unwrap())
    }

    fn aliases(n: usize, field: &str) -> String {
        (0..n).map(|i| format!("a{i}: {field} ")).collect()
    }

    #[test]
    fn a_root_field_is_found_directly_through_fragments_and_not_below_the_root() {
        let selects = |q: &str| selects_root_field(&async_graphql::parser::parse_query(q).unwrap(), "impactReport");
        assert!(selects("{ me { user { id } } impactReport(period: $p) { from } }"));
        assert!(selects("query { ...R } fragment R on QueryRoot { impactReport(period: $p) { from } }"));
        assert!(selects("{ ... on QueryRoot { r: impactReport(period: $p) { from } } }"));
        assert!(!selects("{ me { impactReport { from } } }"));
        assert!(!selects("{ network(area: $a) { from } }"));
    }

    #[test]
    fn an_ordinary_query_and_an_introspection_query_pass() {
        assert_eq!(checked("{ me { user { name } } referrals(first: 5) { edges { node { id } } } }"), Ok(()));
        assert_eq!(
            checked("query IntrospectionQuery { __schema { queryType { name } types { name fields { name } } } }"),
            Ok(())
        );
    }

    #[test]
    fn many_aliases_of_one_root_field_are_refused_for_their_number() {
        assert_eq!(checked(&format!("{{ {} }}", aliases(MAX_ROOT_FIELDS, "me { user { id } }"))), Ok(()));
        assert_eq!(
            checked(&format!("{{ {} }}", aliases(450, "providerOffers { edges { cursor } }"))),
            Err(TooComplex::RootFields)
        );
    }

    #[test]
    fn aliases_below_the_root_count_too() {
        let nested = format!("{{ me {{ {} }} }}", aliases(MAX_ALIASES + 1, "user { id }"));
        assert_eq!(checked(&nested), Err(TooComplex::Aliases));
        let nested = format!("{{ me {{ {} }} }}", aliases(MAX_ALIASES, "user { id }"));
        assert_eq!(checked(&nested), Ok(()));
    }

    #[test]
    fn root_fields_hidden_in_fragments_are_counted_where_they_are_spread() {
        let fragment = format!("fragment F on Query {{ {} }}", aliases(10, "me { user { id } }"));
        let spread_twice = format!("query {{ ...F ... on Query {{ ...F }} }} {fragment}");
        assert_eq!(checked(&spread_twice), Ok(()));
        let spread_thrice = format!("query {{ ...F ...F ...F }} {fragment}");
        assert_eq!(checked(&spread_thrice), Err(TooComplex::RootFields));
    }

    #[test]
    fn fragments_that_multiply_are_refused_without_walking_them_all() {
        let mut document = String::from("query { me { ...F0 } } fragment F0 on Me { user { id } }");
        for i in 1..20 {
            document.push_str(&format!(" fragment F{i} on Me {{ ...F{j} ...F{j} }}", j = i - 1));
        }
        document = document.replace("query { me { ...F0 } }", "query { me { ...F19 } }");
        assert_eq!(checked(&document), Err(TooComplex::Selections));
    }

    #[test]
    fn a_cyclic_fragment_is_left_to_validation() {
        assert_eq!(checked("query { me { ...A } } fragment A on Me { user { id } ...A }"), Ok(()));
    }
}
