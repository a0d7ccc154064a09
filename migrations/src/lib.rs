//! The CPMS database schema as sea-orm migrations.
//!
//! The `cpms` binary applies these at start-up, so a fresh database and an
//! upgraded one end up with the same tables. Every migration uses sea-query's
//! schema builder rather than raw SQL so that the same code runs on SQLite
//! (single-node deployments and tests) and PostgreSQL (production).

// Callers need `MigratorTrait` in scope to run `Migrator::up`; re-exporting
// the prelude spares them a direct sea-orm-migration dependency.
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261124_000002_ocpp201;
mod m20261124_000003_security_profile;
mod m20261124_000004_local_lists_reservations;
mod m20261124_000005_charging_profiles;
mod m20261124_000006_ocpi_partners;
mod m20261124_000007_locations;
mod m20261124_000008_tariffs;
mod m20261124_000009_ocpi_outbox;
mod m20261124_000010_ocpi_tokens;
mod m20261124_000011_ocpi_sessions;
mod m20261124_000012_ocpi_cdrs;
mod m20261124_000013_ocpi_commands;
mod m20261124_000014_roaming_local_lists;
mod m20261124_000015_session_tariff;
mod m20261124_000016_roaming_transaction_index;

/// The ordered list of every migration the CPMS schema is built from.
///
/// Pass it to `Migrator::up(&db, None)` to bring a database to the current
/// schema; already-applied migrations are recorded in `seaql_migrations` and
/// skipped.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_ocpp201::Migration),
            Box::new(m20261124_000003_security_profile::Migration),
            Box::new(m20261124_000004_local_lists_reservations::Migration),
            Box::new(m20261124_000005_charging_profiles::Migration),
            Box::new(m20261124_000006_ocpi_partners::Migration),
            Box::new(m20261124_000007_locations::Migration),
            Box::new(m20261124_000008_tariffs::Migration),
            Box::new(m20261124_000009_ocpi_outbox::Migration),
            Box::new(m20261124_000010_ocpi_tokens::Migration),
            Box::new(m20261124_000011_ocpi_sessions::Migration),
            Box::new(m20261124_000012_ocpi_cdrs::Migration),
            Box::new(m20261124_000013_ocpi_commands::Migration),
            Box::new(m20261124_000014_roaming_local_lists::Migration),
            Box::new(m20261124_000015_session_tariff::Migration),
            Box::new(m20261124_000016_roaming_transaction_index::Migration),
        ]
    }
}
