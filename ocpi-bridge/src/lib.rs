//! OCPI 2.2.1 CPO edge: it will own the versions and credentials handshake with eMSP partners, the
//! locations, tariffs, sessions, CDRs, tokens and commands modules, and the durable push outbox.
//!
//! Nothing lives here yet: the OCPI platform has its own issue. The crate exists so that the
//! workspace layout, and the rule that edges never reach into each other, are in place from day one.
