//! The CPMS core and the wiring of the `cpms` binary.
//!
//! The core owns the domain: stations, EVSEs and connectors with their status, transactions, meter
//! samples and id tokens, stored through sea-orm on SQLite or PostgreSQL. The edges (the OCPP
//! gateway, later the OCPI bridge) define the ports they need; the core implements them, so it
//! never speaks a wire format. See ARCHITECTURE.md.

pub mod api;
pub mod config;
pub mod core;
pub mod db;
pub mod entities;
pub mod events;
pub mod secrets;
pub mod server;

pub use server::Server;
