//! Version information and version details endpoints (OCPI 2.2.1 Version information endpoint):
//! `GET /ocpi/versions` and `GET /ocpi/2.2.1`. Both open to token A as well as registered
//! tokens (Transport and format: Authorization header).

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::transport::{OcpiError, OcpiResponse};
use crate::Bridge;

/// The one version we speak.
pub const VERSION: &str = "2.2.1";

/// One module we implement, listed in our version details.
pub struct ModuleEntry {
    /// Module identifier (Version information: ModuleID enum).
    pub identifier: &'static str,
    /// Interface role (Version information: InterfaceRole enum).
    pub role: &'static str,
    /// Path below `/ocpi/2.2.1`.
    pub path: &'static str,
}

/// The modules we implement. Credentials is listed once: Version information endpoint says its
/// role has no function, and the spec's own CPO example lists it as SENDER.
pub const ENDPOINTS: &[ModuleEntry] = &[
    ModuleEntry {
        identifier: "credentials",
        role: "SENDER",
        path: "credentials",
    },
    // Locations: the CPO owns the data and serves the Sender interface.
    ModuleEntry {
        identifier: "locations",
        role: "SENDER",
        path: "locations",
    },
    // Tariffs: the CPO is the data owner and serves the Sender interface.
    ModuleEntry {
        identifier: "tariffs",
        role: "SENDER",
        path: "tariffs",
    },
    // Sessions: the CPO owns the sessions and serves the Sender interface.
    ModuleEntry {
        identifier: "sessions",
        role: "SENDER",
        path: "sessions",
    },
    // CDRs: the CPO creates the CDRs and serves the Sender interface (the pull model).
    ModuleEntry {
        identifier: "cdrs",
        role: "SENDER",
        path: "cdrs",
    },
    // Commands: the eMSP sends commands; the CPO serves the Receiver interface.
    ModuleEntry {
        identifier: "commands",
        role: "RECEIVER",
        path: "commands",
    },
    // Tokens: the eMSP owns the tokens and pushes them; the CPO serves the Receiver interface.
    ModuleEntry {
        identifier: "tokens",
        role: "RECEIVER",
        path: "tokens",
    },
];

/// Version class.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// Version number.
    pub version: String,
    /// URL of its version details.
    pub url: String,
}

/// Endpoint class.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// Module identifier.
    pub identifier: String,
    /// `SENDER` or `RECEIVER`.
    pub role: String,
    /// Its URL.
    pub url: String,
}

/// Version details.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionDetails {
    /// Version number.
    pub version: String,
    /// The endpoints of that version.
    pub endpoints: Vec<Endpoint>,
}

/// `GET /ocpi/versions`.
pub async fn versions(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
) -> Result<OcpiResponse, OcpiError> {
    bridge.authenticate(&headers).await?;
    OcpiResponse::ok(vec![Version {
        version: VERSION.into(),
        url: bridge.version_details_url(),
    }])
}

/// `GET /ocpi/2.2.1`.
pub async fn details(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
) -> Result<OcpiResponse, OcpiError> {
    bridge.authenticate(&headers).await?;
    OcpiResponse::ok(bridge.version_details())
}
