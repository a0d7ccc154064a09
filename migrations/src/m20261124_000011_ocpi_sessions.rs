//! OCPI Sessions (OCPI 2.2.1 Sessions module, CPO Sender interface): a transaction started with
//! a roaming token remembers the partner that owns the token, which token it was and how it was
//! authorized, so its Session is pushed to that eMSP only and rendered with its CdrToken.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `transaction.ocpi_partner_id`, `ocpi_token_id` and `ocpi_auth_method`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(big_integer_null(Transaction::OcpiPartnerId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(big_integer_null(Transaction::OcpiTokenId))
                    .to_owned(),
            )
            .await?;
        // Types: AuthMethod enum: AUTH_REQUEST or WHITELIST.
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(string_len_null(Transaction::OcpiAuthMethod, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Transaction::OcpiAuthMethod,
            Transaction::OcpiTokenId,
            Transaction::OcpiPartnerId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Transaction::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    OcpiPartnerId,
    OcpiTokenId,
    OcpiAuthMethod,
}
