//! The OCPI modules we serve, one file each; each adds itself to [`versions::ENDPOINTS`].

pub mod cdrs;
pub mod commands;
pub mod credentials;
pub mod locations;
pub mod sessions;
pub mod tariffs;
pub mod tokens;
pub mod versions;
