//! sea-orm entities, one module per table of the schema that the
//! `migrations` crate creates.
//!
//! Columns mirror the migration exactly; anything richer than the database can
//! hold portably (statuses, energy as `rust_decimal`) is kept here as text and
//! parsed by the core, so these types stay a plain picture of the rows.

pub mod charging_profile;
pub mod connector;
pub mod device_variable;
pub mod id_token;
pub mod local_list;
pub mod local_list_entry;
pub mod local_list_roaming;
pub mod location;
pub mod location_evse;
pub mod meter_sample;
pub mod ocpi_cdr;
pub mod ocpi_command;
pub mod ocpi_outbox;
pub mod ocpi_partner;
pub mod ocpi_token;
pub mod ocpi_unbillable_session;
pub mod reservation;
pub mod setting;
pub mod station;
pub mod station_event;
pub mod station_presence;
pub mod tariff;
pub mod transaction;
pub mod transaction_event;
