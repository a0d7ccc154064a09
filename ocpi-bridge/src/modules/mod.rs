//! The OCPI modules we serve, one file each (versions, credentials; locations and the others
//! arrive with their own issue and add themselves to [`versions::ENDPOINTS`]).

pub mod credentials;
pub mod versions;
