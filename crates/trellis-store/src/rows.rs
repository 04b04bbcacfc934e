//! Referral rows joined with the demographics each holds, read back by position.
//!
//! sea-orm decodes a model by column name, formatting each name afresh for every column of every row: on
//! a 50-row caseload page that was about a fifth of the server's CPU. These rows are selected in the
//! entities' own column order (their `Column::iter()`, which follows the models' fields) and decoded by
//! index, in the same order.

use sea_orm::{
    DbErr, FromQueryResult, Iterable, JoinType, QueryResult, QuerySelect, RelationTrait, Select, SelectModel, Selector,
    TryGetable,
};

use crate::entity::{referral, referral_demographics};

/// A referral and its person, as the referral holds them.
pub(crate) struct ReferralWithPerson {
    pub referral: referral::Model,
    pub person: referral_demographics::Model,
}

/// `query` joined with each referral's own demographics, decoded by position.
pub(crate) fn with_person(query: Select<referral::Entity>) -> Selector<SelectModel<ReferralWithPerson>> {
    let mut query = query.join(JoinType::InnerJoin, referral::Relation::Demographics.def());
    for column in referral_demographics::Column::iter() {
        query = query.column(column);
    }
    query.into_model()
}

/// The columns of one row, taken in order.
struct Columns<'a> {
    row: &'a QueryResult,
    next: usize,
}

impl Columns<'_> {
    fn take<T: TryGetable>(&mut self) -> Result<T, DbErr> {
        let value = self.row.try_get_by_index(self.next)?;
        self.next += 1;
        Ok(value)
    }
}

impl FromQueryResult for ReferralWithPerson {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        let mut c = Columns { row, next: 0 };
        // Struct fields are evaluated in the order written: the order of the models' fields.
        let referral = referral::Model {
            id: c.take()?,
            person_id: c.take()?,
            referring_organisation_id: c.take()?,
            referred_by_user_id: c.take()?,
            link_worker_service_id: c.take()?,
            assigned_to_user_id: c.take()?,
            status: c.take()?,
            closure_reason: c.take()?,
            needs: c.take()?,
            reason: c.take()?,
            urgency: c.take()?,
            consent_to_share: c.take()?,
            consent_recorded_by: c.take()?,
            consent_recorded_at: c.take()?,
            version: c.take()?,
            contact_due_at: c.take()?,
            flag: c.take()?,
            created_at: c.take()?,
            updated_at: c.take()?,
        };
        let person = referral_demographics::Model {
            referral_id: c.take()?,
            nhs_number: c.take()?,
            given_name: c.take()?,
            family_name: c.take()?,
            date_of_birth: c.take()?,
            phone: c.take()?,
            email: c.take()?,
            postcode: c.take()?,
            preferred_contact: c.take()?,
            recorded_at: c.take()?,
            sex: c.take()?,
            ethnic_category: c.take()?,
        };
        Ok(ReferralWithPerson { referral, person })
    }
}
