//! Virtual chargers: a fleet of OCPP 1.6J and 2.0.1 stations that boot, charge and misbehave like real
//! firmware, for demos, scenario tests and load runs.
//!
//! Nothing lives here yet: the simulator has its own issue.
