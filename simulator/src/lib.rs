//! Virtual chargers: a fleet of OCPP 1.6J and 2.0.1 stations that boot, charge and misbehave like
//! real firmware, for demos, scenario tests and load runs.
//!
//! The crate owns the station side of OCPP only: [`station`] is one station task owning its
//! websocket; [`v16`] and [`v201`] word its messages and decode the CSMS's calls, whose effect
//! on the station, the same in both versions, is in the private `calls`; [`scenario`] reads
//! scenario files and runs a fleet to completion; [`load`] ramps connections and measures round
//! trips; [`echo`] is the bare websocket server a load run is compared against. It shares no code
//! with the CSMS: it speaks to it only over the wire, as a real charger would.

mod calls;
pub mod charging;
pub mod clock;
pub mod echo;
pub mod fleet;
pub mod frame;
pub mod load;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod station;
pub mod store;
pub mod v16;
pub mod v201;
