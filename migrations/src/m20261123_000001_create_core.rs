//! The foundation schema: organisations and users, people and referrals with their append-only history,
//! offers, the directory (Open Referral UK shaped), the email outbox, the audit log and idempotency keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Kind,
    Name,
    OdsCode,
    Email,
    LinkWorkerServiceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrganisationId,
    Role,
    Email,
    Name,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    TokenHash,
    Label,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    NhsNumber,
    GivenName,
    FamilyName,
    DateOfBirth,
    Phone,
    Email,
    Postcode,
    PreferredContact,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
    PersonId,
    ReferringOrganisationId,
    ReferredByUserId,
    LinkWorkerServiceId,
    AssignedToUserId,
    Status,
    ClosureReason,
    Needs,
    Reason,
    Urgency,
    ConsentToShare,
    ConsentRecordedBy,
    ConsentRecordedAt,
    Version,
    ContactDueAt,
    Flag,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReferralEvents {
    Table,
    Id,
    ReferralId,
    Version,
    Kind,
    FromStatus,
    ToStatus,
    ActorRole,
    ActorOrganisationId,
    ActorUserId,
    Note,
    Data,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
    OrganisationId,
    Name,
    Description,
    Email,
    Url,
    Status,
    MinAge,
    MaxAge,
    EligibilityDescription,
    ScheduleDescription,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServiceCapacities {
    Table,
    ServiceId,
    Available,
    Maximum,
    Unit,
    Status,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    OrganisationId,
    Name,
    Address,
    Postcode,
    Latitude,
    Longitude,
}

#[derive(DeriveIden)]
enum ServiceAtLocations {
    Table,
    Id,
    ServiceId,
    LocationId,
}

#[derive(DeriveIden)]
enum TaxonomyTerms {
    Table,
    Id,
    Code,
    Name,
    Vocabulary,
}

#[derive(DeriveIden)]
enum ServiceTaxonomies {
    Table,
    ServiceId,
    TaxonomyTermId,
}

#[derive(DeriveIden)]
enum Offers {
    Table,
    Id,
    ReferralId,
    ServiceId,
    ProviderOrganisationId,
    LinkWorkerServiceId,
    PartOfOfferId,
    Status,
    DeclineReason,
    NoteForProvider,
    Version,
    ExpiresAt,
    RemindAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OfferEvents {
    Table,
    Id,
    OfferId,
    Version,
    FromStatus,
    ToStatus,
    DeclineReason,
    ActorRole,
    ActorOrganisationId,
    ActorUserId,
    Note,
    OccurredAt,
}

#[derive(DeriveIden)]
enum OfferLinks {
    Table,
    Id,
    OfferId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Kind,
    Recipient,
    Payload,
    Subject,
    MessageId,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LockedBy,
    LastError,
    OfferId,
    ReferralId,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OccurredAt,
    ActorRole,
    ActorOrganisationId,
    ActorUserId,
    Action,
    ReferralId,
    OfferId,
    Detail,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    OrganisationId,
    Key,
    RequestHash,
    ReferralId,
    CreatedAt,
}

fn fk(from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).take()
}

fn index(name: &str, table: impl IntoIden, columns: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for c in columns {
        stmt.col(Alias::new(*c));
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table(Organisations::Table)
                .col(pk_uuid(Organisations::Id))
                .col(string(Organisations::Kind))
                .col(string(Organisations::Name))
                .col(string_null(Organisations::OdsCode).unique_key())
                .col(string_null(Organisations::Email))
                .col(uuid_null(Organisations::LinkWorkerServiceId))
                .col(timestamp_with_time_zone(Organisations::CreatedAt))
                .take(),
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(uuid(Users::OrganisationId))
                .col(string(Users::Role))
                .col(string_uniq(Users::Email))
                .col(string(Users::Name))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone_null(Users::DisabledAt))
                .foreign_key(&mut fk((Users::Table, Users::OrganisationId), (Organisations::Table, Organisations::Id)))
                .take(),
            Table::create()
                .table(ApiKeys::Table)
                .col(pk_uuid(ApiKeys::Id))
                .col(uuid(ApiKeys::UserId))
                .col(string_uniq(ApiKeys::TokenHash))
                .col(string(ApiKeys::Label))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .foreign_key(&mut fk((ApiKeys::Table, ApiKeys::UserId), (Users::Table, Users::Id)))
                .take(),
            Table::create()
                .table(People::Table)
                .col(pk_uuid(People::Id))
                .col(string_uniq(People::NhsNumber))
                .col(string(People::GivenName))
                .col(string(People::FamilyName))
                .col(date(People::DateOfBirth))
                .col(string_null(People::Phone))
                .col(string_null(People::Email))
                .col(string_null(People::Postcode))
                .col(string(People::PreferredContact))
                .col(timestamp_with_time_zone(People::CreatedAt))
                .col(timestamp_with_time_zone(People::UpdatedAt))
                .take(),
            Table::create()
                .table(Referrals::Table)
                .col(pk_uuid(Referrals::Id))
                .col(uuid(Referrals::PersonId))
                .col(uuid(Referrals::ReferringOrganisationId))
                .col(uuid_null(Referrals::ReferredByUserId))
                .col(uuid(Referrals::LinkWorkerServiceId))
                .col(uuid_null(Referrals::AssignedToUserId))
                .col(string(Referrals::Status))
                .col(string_null(Referrals::ClosureReason))
                .col(text(Referrals::Needs))
                .col(text(Referrals::Reason))
                .col(string(Referrals::Urgency))
                .col(boolean(Referrals::ConsentToShare))
                .col(string(Referrals::ConsentRecordedBy))
                .col(timestamp_with_time_zone(Referrals::ConsentRecordedAt))
                .col(big_integer(Referrals::Version))
                .col(timestamp_with_time_zone(Referrals::ContactDueAt))
                .col(string_null(Referrals::Flag))
                .col(timestamp_with_time_zone(Referrals::CreatedAt))
                .col(timestamp_with_time_zone(Referrals::UpdatedAt))
                .foreign_key(&mut fk((Referrals::Table, Referrals::PersonId), (People::Table, People::Id)))
                .foreign_key(&mut fk(
                    (Referrals::Table, Referrals::ReferringOrganisationId),
                    (Organisations::Table, Organisations::Id),
                ))
                .foreign_key(&mut fk(
                    (Referrals::Table, Referrals::LinkWorkerServiceId),
                    (Organisations::Table, Organisations::Id),
                ))
                .take(),
            Table::create()
                .table(ReferralEvents::Table)
                .col(pk_uuid(ReferralEvents::Id))
                .col(uuid(ReferralEvents::ReferralId))
                .col(big_integer(ReferralEvents::Version))
                .col(string(ReferralEvents::Kind))
                .col(string_null(ReferralEvents::FromStatus))
                .col(string(ReferralEvents::ToStatus))
                .col(string(ReferralEvents::ActorRole))
                .col(uuid_null(ReferralEvents::ActorOrganisationId))
                .col(uuid_null(ReferralEvents::ActorUserId))
                .col(text_null(ReferralEvents::Note))
                .col(text(ReferralEvents::Data))
                .col(timestamp_with_time_zone(ReferralEvents::OccurredAt))
                .foreign_key(&mut fk(
                    (ReferralEvents::Table, ReferralEvents::ReferralId),
                    (Referrals::Table, Referrals::Id),
                ))
                .take(),
            Table::create()
                .table(Services::Table)
                .col(pk_uuid(Services::Id))
                .col(uuid(Services::OrganisationId))
                .col(string(Services::Name))
                .col(text(Services::Description))
                .col(string_null(Services::Email))
                .col(string_null(Services::Url))
                .col(string(Services::Status))
                .col(integer_null(Services::MinAge))
                .col(integer_null(Services::MaxAge))
                .col(text_null(Services::EligibilityDescription))
                .col(text_null(Services::ScheduleDescription))
                .col(timestamp_with_time_zone(Services::CreatedAt))
                .col(timestamp_with_time_zone(Services::UpdatedAt))
                .foreign_key(&mut fk(
                    (Services::Table, Services::OrganisationId),
                    (Organisations::Table, Organisations::Id),
                ))
                .take(),
            Table::create()
                .table(ServiceCapacities::Table)
                .col(pk_uuid(ServiceCapacities::ServiceId))
                .col(integer(ServiceCapacities::Available))
                .col(integer(ServiceCapacities::Maximum))
                .col(string(ServiceCapacities::Unit))
                .col(string(ServiceCapacities::Status))
                .col(timestamp_with_time_zone(ServiceCapacities::UpdatedAt))
                .foreign_key(&mut fk(
                    (ServiceCapacities::Table, ServiceCapacities::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .take(),
            Table::create()
                .table(Locations::Table)
                .col(pk_uuid(Locations::Id))
                .col(uuid(Locations::OrganisationId))
                .col(string(Locations::Name))
                .col(string_null(Locations::Address))
                .col(string_null(Locations::Postcode))
                .col(double_null(Locations::Latitude))
                .col(double_null(Locations::Longitude))
                .foreign_key(&mut fk(
                    (Locations::Table, Locations::OrganisationId),
                    (Organisations::Table, Organisations::Id),
                ))
                .take(),
            Table::create()
                .table(ServiceAtLocations::Table)
                .col(pk_uuid(ServiceAtLocations::Id))
                .col(uuid(ServiceAtLocations::ServiceId))
                .col(uuid(ServiceAtLocations::LocationId))
                .foreign_key(&mut fk(
                    (ServiceAtLocations::Table, ServiceAtLocations::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .foreign_key(&mut fk(
                    (ServiceAtLocations::Table, ServiceAtLocations::LocationId),
                    (Locations::Table, Locations::Id),
                ))
                .take(),
            Table::create()
                .table(TaxonomyTerms::Table)
                .col(pk_uuid(TaxonomyTerms::Id))
                .col(string_uniq(TaxonomyTerms::Code))
                .col(string(TaxonomyTerms::Name))
                .col(string(TaxonomyTerms::Vocabulary))
                .take(),
            Table::create()
                .table(ServiceTaxonomies::Table)
                .col(uuid(ServiceTaxonomies::ServiceId))
                .col(uuid(ServiceTaxonomies::TaxonomyTermId))
                .primary_key(Index::create().col(ServiceTaxonomies::ServiceId).col(ServiceTaxonomies::TaxonomyTermId))
                .foreign_key(&mut fk(
                    (ServiceTaxonomies::Table, ServiceTaxonomies::ServiceId),
                    (Services::Table, Services::Id),
                ))
                .foreign_key(&mut fk(
                    (ServiceTaxonomies::Table, ServiceTaxonomies::TaxonomyTermId),
                    (TaxonomyTerms::Table, TaxonomyTerms::Id),
                ))
                .take(),
            Table::create()
                .table(Offers::Table)
                .col(pk_uuid(Offers::Id))
                .col(uuid(Offers::ReferralId))
                .col(uuid(Offers::ServiceId))
                .col(uuid(Offers::ProviderOrganisationId))
                .col(uuid(Offers::LinkWorkerServiceId))
                .col(uuid_null(Offers::PartOfOfferId))
                .col(string(Offers::Status))
                .col(string_null(Offers::DeclineReason))
                .col(text_null(Offers::NoteForProvider))
                .col(big_integer(Offers::Version))
                .col(timestamp_with_time_zone(Offers::ExpiresAt))
                .col(timestamp_with_time_zone_null(Offers::RemindAt))
                .col(timestamp_with_time_zone(Offers::CreatedAt))
                .col(timestamp_with_time_zone(Offers::UpdatedAt))
                .foreign_key(&mut fk((Offers::Table, Offers::ReferralId), (Referrals::Table, Referrals::Id)))
                .foreign_key(&mut fk((Offers::Table, Offers::ServiceId), (Services::Table, Services::Id)))
                .foreign_key(&mut fk(
                    (Offers::Table, Offers::ProviderOrganisationId),
                    (Organisations::Table, Organisations::Id),
                ))
                .take(),
            Table::create()
                .table(OfferEvents::Table)
                .col(pk_uuid(OfferEvents::Id))
                .col(uuid(OfferEvents::OfferId))
                .col(big_integer(OfferEvents::Version))
                .col(string_null(OfferEvents::FromStatus))
                .col(string(OfferEvents::ToStatus))
                .col(string_null(OfferEvents::DeclineReason))
                .col(string(OfferEvents::ActorRole))
                .col(uuid_null(OfferEvents::ActorOrganisationId))
                .col(uuid_null(OfferEvents::ActorUserId))
                .col(text_null(OfferEvents::Note))
                .col(timestamp_with_time_zone(OfferEvents::OccurredAt))
                .foreign_key(&mut fk((OfferEvents::Table, OfferEvents::OfferId), (Offers::Table, Offers::Id)))
                .take(),
            Table::create()
                .table(OfferLinks::Table)
                .col(pk_uuid(OfferLinks::Id))
                .col(uuid(OfferLinks::OfferId))
                .col(string_uniq(OfferLinks::TokenHash))
                .col(timestamp_with_time_zone(OfferLinks::ExpiresAt))
                .col(timestamp_with_time_zone_null(OfferLinks::UsedAt))
                .col(timestamp_with_time_zone(OfferLinks::CreatedAt))
                .foreign_key(&mut fk((OfferLinks::Table, OfferLinks::OfferId), (Offers::Table, Offers::Id)))
                .take(),
            Table::create()
                .table(EmailOutbox::Table)
                .col(pk_uuid(EmailOutbox::Id))
                .col(string(EmailOutbox::Kind))
                .col(string(EmailOutbox::Recipient))
                .col(text(EmailOutbox::Payload))
                .col(string_null(EmailOutbox::Subject))
                .col(string_uniq(EmailOutbox::MessageId))
                .col(string(EmailOutbox::Status))
                .col(integer(EmailOutbox::Attempts))
                .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::LockedUntil))
                .col(string_null(EmailOutbox::LockedBy))
                .col(text_null(EmailOutbox::LastError))
                .col(uuid_null(EmailOutbox::OfferId))
                .col(uuid_null(EmailOutbox::ReferralId))
                .col(timestamp_with_time_zone(EmailOutbox::CreatedAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                .take(),
            Table::create()
                .table(AuditLog::Table)
                .col(pk_uuid(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::OccurredAt))
                .col(string(AuditLog::ActorRole))
                .col(uuid_null(AuditLog::ActorOrganisationId))
                .col(uuid_null(AuditLog::ActorUserId))
                .col(string(AuditLog::Action))
                .col(uuid_null(AuditLog::ReferralId))
                .col(uuid_null(AuditLog::OfferId))
                .col(text_null(AuditLog::Detail))
                .take(),
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(uuid(IdempotencyKeys::OrganisationId))
                .col(string(IdempotencyKeys::Key))
                .col(string(IdempotencyKeys::RequestHash))
                .col(uuid(IdempotencyKeys::ReferralId))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .primary_key(Index::create().col(IdempotencyKeys::OrganisationId).col(IdempotencyKeys::Key))
                .take(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }

        let indexes = [
            index(
                "ix_referrals_service_status_updated",
                Referrals::Table,
                &["link_worker_service_id", "status", "updated_at"],
            ),
            index(
                "ix_referrals_assignee_status_updated",
                Referrals::Table,
                &["assigned_to_user_id", "status", "updated_at"],
            ),
            index("ix_referrals_referrer_created", Referrals::Table, &["referring_organisation_id", "created_at"]),
            index("ix_referrals_person", Referrals::Table, &["person_id"]),
            index("ux_referral_events_referral_version", ReferralEvents::Table, &["referral_id", "version"])
                .unique()
                .take(),
            index("ix_offers_provider_status", Offers::Table, &["provider_organisation_id", "status"]),
            index("ix_offers_referral", Offers::Table, &["referral_id"]),
            index("ix_offers_service", Offers::Table, &["service_id"]),
            index("ux_offer_events_offer_version", OfferEvents::Table, &["offer_id", "version"]).unique().take(),
            index("ix_offer_links_offer", OfferLinks::Table, &["offer_id"]),
            index("ix_outbox_due", EmailOutbox::Table, &["status", "next_attempt_at"]),
            index("ix_audit_referral", AuditLog::Table, &["referral_id", "occurred_at"]),
            index("ix_audit_actor", AuditLog::Table, &["actor_user_id", "occurred_at"]),
            index("ix_audit_occurred", AuditLog::Table, &["occurred_at"]),
            index("ix_services_organisation", Services::Table, &["organisation_id"]),
            index("ix_users_organisation", Users::Table, &["organisation_id"]),
        ];
        for stmt in indexes {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 18] = [
            IdempotencyKeys::Table.into_iden(),
            AuditLog::Table.into_iden(),
            EmailOutbox::Table.into_iden(),
            OfferLinks::Table.into_iden(),
            OfferEvents::Table.into_iden(),
            Offers::Table.into_iden(),
            ServiceTaxonomies::Table.into_iden(),
            TaxonomyTerms::Table.into_iden(),
            ServiceAtLocations::Table.into_iden(),
            Locations::Table.into_iden(),
            ServiceCapacities::Table.into_iden(),
            Services::Table.into_iden(),
            ReferralEvents::Table.into_iden(),
            Referrals::Table.into_iden(),
            People::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Organisations::Table.into_iden(),
        ];
        for table in tables {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
