//! Each referral keeps the demographics it was submitted with.
//!
//! Until now every submission upserted one shared `people` row by NHS number, so one organisation's
//! submission changed what another's referral, its link worker and an accepted provider saw.
//! `referral_demographics` holds one snapshot per referral (as the PRSB referral does); `people` stays as
//! the NHS number that links a person's referrals, and its name and contact columns are no longer read.
//! Existing referrals are backfilled from their people row as it stands today; `down` drops the
//! snapshots (the people rows still hold the latest submission's details).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReferralDemographics {
    Table,
    ReferralId,
    NhsNumber,
    GivenName,
    FamilyName,
    DateOfBirth,
    Phone,
    Email,
    Postcode,
    PreferredContact,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReferralDemographics::Table)
                    .col(pk_uuid(ReferralDemographics::ReferralId))
                    .col(string(ReferralDemographics::NhsNumber))
                    .col(string(ReferralDemographics::GivenName))
                    .col(string(ReferralDemographics::FamilyName))
                    .col(date(ReferralDemographics::DateOfBirth))
                    .col(string_null(ReferralDemographics::Phone))
                    .col(string_null(ReferralDemographics::Email))
                    .col(string_null(ReferralDemographics::Postcode))
                    .col(string(ReferralDemographics::PreferredContact))
                    .col(timestamp_with_time_zone(ReferralDemographics::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReferralDemographics::Table, ReferralDemographics::ReferralId)
                            .to(Referrals::Table, Referrals::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_referral_demographics_nhs_number")
                    .table(ReferralDemographics::Table)
                    .col(ReferralDemographics::NhsNumber)
                    .take(),
            )
            .await?;
        // The same statement on both databases: every referral's snapshot is its person's row as it is now.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO referral_demographics (referral_id, nhs_number, given_name, family_name, \
                 date_of_birth, phone, email, postcode, preferred_contact, recorded_at) \
                 SELECT r.id, p.nhs_number, p.given_name, p.family_name, p.date_of_birth, p.phone, p.email, \
                 p.postcode, p.preferred_contact, r.created_at FROM referrals r JOIN people p ON p.id = r.person_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReferralDemographics::Table).take()).await?;
        Ok(())
    }
}
