//! The personal plan and wellbeing measures of a referral.
//!
//! `referral_plans` keeps every version of a referral's plan (the current one is the highest version), each
//! with who recorded the person's agreement and when. `wellbeing_measures` keeps each set of answers with
//! the instrument and version it was scored by; scores are derived from the answers, never stored.
//! `missing_follow_ups` records why a referral closed as completed had no follow-up measure.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReferralPlans {
    Table,
    Id,
    ReferralId,
    Version,
    Content,
    RecordedByUserId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum WellbeingMeasures {
    Table,
    Id,
    ReferralId,
    Instrument,
    InstrumentVersion,
    Answers,
    TakenAt,
    RecordedByUserId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum MissingFollowUps {
    Table,
    ReferralId,
    Reason,
    RecordedByUserId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Referrals {
    Table,
    Id,
}

fn fk_to_referral(from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(Referrals::Table, Referrals::Id)
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReferralPlans::Table)
                    .col(pk_uuid(ReferralPlans::Id))
                    .col(uuid(ReferralPlans::ReferralId))
                    .col(integer(ReferralPlans::Version))
                    .col(text(ReferralPlans::Content))
                    .col(uuid(ReferralPlans::RecordedByUserId))
                    .col(timestamp_with_time_zone(ReferralPlans::RecordedAt))
                    .foreign_key(&mut fk_to_referral((ReferralPlans::Table, ReferralPlans::ReferralId)))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_referral_plans_referral_version")
                    .table(ReferralPlans::Table)
                    .col(ReferralPlans::ReferralId)
                    .col(ReferralPlans::Version)
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WellbeingMeasures::Table)
                    .col(pk_uuid(WellbeingMeasures::Id))
                    .col(uuid(WellbeingMeasures::ReferralId))
                    .col(string(WellbeingMeasures::Instrument))
                    .col(integer(WellbeingMeasures::InstrumentVersion))
                    .col(text(WellbeingMeasures::Answers))
                    .col(timestamp_with_time_zone(WellbeingMeasures::TakenAt))
                    .col(uuid(WellbeingMeasures::RecordedByUserId))
                    .col(timestamp_with_time_zone(WellbeingMeasures::RecordedAt))
                    .foreign_key(&mut fk_to_referral((WellbeingMeasures::Table, WellbeingMeasures::ReferralId)))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wellbeing_measures_referral")
                    .table(WellbeingMeasures::Table)
                    .col(WellbeingMeasures::ReferralId)
                    .col(WellbeingMeasures::TakenAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MissingFollowUps::Table)
                    .col(pk_uuid(MissingFollowUps::ReferralId))
                    .col(string(MissingFollowUps::Reason))
                    .col(uuid(MissingFollowUps::RecordedByUserId))
                    .col(timestamp_with_time_zone(MissingFollowUps::RecordedAt))
                    .foreign_key(&mut fk_to_referral((MissingFollowUps::Table, MissingFollowUps::ReferralId)))
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MissingFollowUps::Table).take()).await?;
        manager.drop_table(Table::drop().table(WellbeingMeasures::Table).take()).await?;
        manager.drop_table(Table::drop().table(ReferralPlans::Table).take()).await?;
        Ok(())
    }
}
