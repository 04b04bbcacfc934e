//! Taxonomies and taxonomy terms as ORUK 3.0 has them. Trellis keeps each term's vocabulary as a name
//! (`trellis` for its own kinds of community support, or the vocabulary an import brought), so a
//! taxonomy is one vocabulary, its id derived from its name.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::paging;
use crate::entity::taxonomy_term;
use crate::oruk::wire::{Page, Taxonomy, TaxonomyTerm, derived_id};
use crate::{Store, StoreError};

/// The vocabulary of Trellis's own terms.
const OWN: &str = "trellis";

/// A taxonomy's id: derived from its name, so it is the same wherever the directory is served.
pub(super) fn taxonomy_id(vocabulary: &str) -> Uuid {
    derived_id(Uuid::nil(), &format!("taxonomy:{vocabulary}"))
}

fn taxonomy_of(vocabulary: String) -> Taxonomy {
    let description = if vocabulary == OWN {
        "The kinds of community support Trellis's link workers connect people to.".to_owned()
    } else {
        format!("Terms of the {vocabulary} taxonomy, imported with another directory's services.")
    };
    Taxonomy { id: taxonomy_id(&vocabulary), name: vocabulary, description }
}

/// A term as ORUK has it.
pub(super) fn term_of(t: &taxonomy_term::Model) -> TaxonomyTerm {
    TaxonomyTerm {
        id: t.id,
        code: t.code.clone(),
        name: t.name.clone(),
        description: t.name.clone(),
        term: t.name.clone(),
        taxonomy: t.vocabulary.clone(),
        taxonomy_id: taxonomy_id(&t.vocabulary),
    }
}

impl Store {
    /// Every vocabulary in use, by name.
    async fn vocabularies(&self) -> Result<Vec<String>, StoreError> {
        Ok(taxonomy_term::Entity::find()
            .select_only()
            .column(taxonomy_term::Column::Vocabulary)
            .distinct()
            .order_by_asc(taxonomy_term::Column::Vocabulary)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// The vocabulary a taxonomy id stands for, if any.
    pub(super) async fn vocabulary_of(&self, taxonomy: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self.vocabularies().await?.into_iter().find(|v| taxonomy_id(v) == taxonomy))
    }

    /// One page of the taxonomies, by name; `page` counts from 1.
    pub async fn oruk_taxonomies(&self, page: u64, per_page: u64) -> Result<Page<Taxonomy>, StoreError> {
        let (page, per_page) = paging(page, per_page);
        let all = self.vocabularies().await?;
        let total_items = all.len() as u64;
        let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let contents = all.into_iter().skip(start).take(per_page as usize).map(taxonomy_of).collect();
        Ok(Page::new(contents, total_items, page, per_page))
    }

    /// One taxonomy.
    pub async fn oruk_taxonomy(&self, id: Uuid) -> Result<Taxonomy, StoreError> {
        self.vocabulary_of(id).await?.map(taxonomy_of).ok_or(StoreError::NotFound)
    }

    /// One page of the taxonomy terms, by taxonomy, then code; `page` counts from 1.
    pub async fn oruk_taxonomy_terms(&self, page: u64, per_page: u64) -> Result<Page<TaxonomyTerm>, StoreError> {
        let (page, per_page) = paging(page, per_page);
        let total_items = taxonomy_term::Entity::find().count(&self.db).await?;
        let rows = taxonomy_term::Entity::find()
            .order_by_asc(taxonomy_term::Column::Vocabulary)
            .order_by_asc(taxonomy_term::Column::Code)
            .order_by_asc(taxonomy_term::Column::Id)
            .offset((page - 1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await?;
        Ok(Page::new(rows.iter().map(term_of).collect(), total_items, page, per_page))
    }

    /// One taxonomy term.
    pub async fn oruk_taxonomy_term(&self, id: Uuid) -> Result<TaxonomyTerm, StoreError> {
        let row = taxonomy_term::Entity::find()
            .filter(taxonomy_term::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(term_of(&row))
    }
}
