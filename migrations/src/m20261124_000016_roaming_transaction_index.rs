//! An index on `transaction.ocpi_partner_id`: each eMSP's Sessions list and the roaming KPIs
//! (scraped every few seconds) select transactions by owning partner, which without it is a scan
//! of every transaction the CPMS ever stored.

use sea_orm_migration::prelude::*;

/// Adds `idx_transaction_ocpi_partner`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_transaction_ocpi_partner")
                    .table(Transaction::Table)
                    .col(Transaction::OcpiPartnerId)
                    .col(Transaction::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_transaction_ocpi_partner")
                    .table(Transaction::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    Id,
    OcpiPartnerId,
}
