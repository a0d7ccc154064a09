//! Which OCPP security profile each station must connect with: 1 (Basic auth over `ws://`), 2
//! (Basic auth over TLS) or 3 (TLS with a client certificate naming the station).

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `station.security_profile`, 1 for every existing station so nothing changes for them.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .add_column(integer(Station::SecurityProfile).default(1))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .drop_column(Station::SecurityProfile)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Station {
    Table,
    SecurityProfile,
}
