//! A referral's demographics may record the person's sex and ethnic category (NHS Data Dictionary
//! codes), both optional, for the equity part of impact reports. Existing referrals have neither.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReferralDemographics {
    Table,
    Sex,
    EthnicCategory,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [ReferralDemographics::Sex, ReferralDemographics::EthnicCategory] {
            manager
                .alter_table(Table::alter().table(ReferralDemographics::Table).add_column(string_null(column)).take())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [ReferralDemographics::EthnicCategory, ReferralDemographics::Sex] {
            manager.alter_table(Table::alter().table(ReferralDemographics::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
