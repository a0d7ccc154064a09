//! The tariff a roaming session started under (OCPI 2.2.1 CDRs: the tariffs relevant at the
//! start of the session; the driver was shown that price): kept on the transaction when its
//! Session starts, so an operator editing or replacing the tariff mid-session does not re-price
//! it or its CDR.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `transaction.session_tariff`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    // JSON: the tariff chosen at the start (or none: free of charge); NULL for
                    // transactions without a Session and for those started before this column.
                    .add_column(text_null(Transaction::SessionTariff))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .drop_column(Transaction::SessionTariff)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    SessionTariff,
}
