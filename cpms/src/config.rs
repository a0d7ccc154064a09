//! Settings: defaults for a quick start, an optional TOML file, and environment overrides
//! (`CPMS__SECTION__KEY`, e.g. `CPMS__OCPP__LISTEN`). The names are a contract with operators.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// All settings of the `cpms` binary.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    /// The OCPP websocket listener.
    pub ocpp: OcppSettings,
    /// The HTTP listener (operator API, health, OCPI).
    pub http: HttpSettings,
    /// Storage.
    pub database: DatabaseSettings,
    /// Operator API.
    pub api: ApiSettings,
    /// Logging.
    pub log: LogSettings,
    /// OCPI towards eMSP partners.
    pub ocpi: OcpiSettings,
}

/// What happens to a station id the CPMS does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownStations {
    /// Create it and accept its boot (quick start).
    #[default]
    Accept,
    /// Create it and answer its boot with Pending until the operator accepts it.
    Pending,
    /// Refuse the connection (production).
    Reject,
}

/// `[ocpp]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OcppSettings {
    /// Listen address of the websocket listener.
    pub listen: String,
    /// Policy for unknown station ids.
    pub unknown_stations: UnknownStations,
    /// Heartbeat interval given to accepted stations, in seconds.
    pub heartbeat_interval: u32,
    /// Retry interval given to pending or rejected stations, in seconds.
    pub boot_retry_interval: u32,
    /// How long a station has to answer a CSMS call, in seconds.
    pub response_timeout: u64,
    /// Websocket ping interval in seconds; 0 disables pings.
    pub ping_interval: u64,
    /// Largest accepted websocket message in bytes.
    pub max_message_size: usize,
    /// The `wss://` listener (security profiles 2 and 3).
    pub tls: TlsSettings,
}

/// `[ocpp.tls]` settings: the TLS listener runs only when both `cert_file` and `key_file` are set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// Listen address of the TLS websocket listener.
    pub listen: String,
    /// PEM server certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the server certificate.
    pub key_file: Option<PathBuf>,
    /// PEM CA bundle client certificates must chain to (profile 3); when unset, client
    /// certificates are not requested.
    pub client_ca_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            listen: "0.0.0.0:9443".into(),
            cert_file: None,
            key_file: None,
            client_ca_file: None,
        }
    }
}

impl Default for OcppSettings {
    fn default() -> Self {
        OcppSettings {
            listen: "0.0.0.0:9000".into(),
            unknown_stations: UnknownStations::Accept,
            heartbeat_interval: 300,
            boot_retry_interval: 60,
            response_timeout: 30,
            ping_interval: 30,
            max_message_size: 256 * 1024,
            tls: TlsSettings::default(),
        }
    }
}

/// `[http]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Listen address of the HTTP listener.
    pub listen: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "0.0.0.0:8080".into(),
        }
    }
}

/// `[database]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://...`.
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://cpms.db".into(),
            max_connections: 16,
        }
    }
}

/// `[api]` settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ApiSettings {
    /// Secret for operator-API JWTs; generated once and kept in the database when unset.
    pub jwt_secret: Option<String>,
}

/// `[ocpi]` settings: who we are towards partners and where they reach us.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OcpiSettings {
    /// Our ISO 3166 alpha-2 country code.
    pub country_code: String,
    /// Our party id (3 characters).
    pub party_id: String,
    /// Our business name, in the credentials we hand out.
    pub business_name: String,
    /// Our website, in the credentials we hand out.
    pub business_website: Option<String>,
    /// The externally visible base URL of the HTTP listener, for the URLs we hand out.
    pub public_url: String,
    /// Fetch partner URLs over `http` and on loopback or private addresses (test setups only).
    pub allow_private_partner_urls: bool,
    /// Key encrypting the partner tokens we store (64 hex digits); generated once and kept in
    /// the database when unset.
    pub token_key: Option<String>,
    /// The largest page the OCPI modules return.
    pub page_limit: u64,
    /// How long a station may be without a websocket before OCPI shows its EVSEs UNKNOWN
    /// (`CPMS__OCPI__OFFLINE_GRACE_SECONDS`).
    pub offline_grace_seconds: u64,
    /// Delay before the first retry of a failed push, doubled after each further failure
    /// (`CPMS__OCPI__PUSH_RETRY_BASE_SECONDS`; fractions allowed).
    pub push_retry_base_seconds: f64,
    /// Longest delay between push retries (`CPMS__OCPI__PUSH_RETRY_MAX_SECONDS`).
    pub push_retry_max_seconds: u64,
    /// Failed attempts after which a push is parked for the operator
    /// (`CPMS__OCPI__PUSH_MAX_ATTEMPTS`).
    pub push_max_attempts: u32,
    /// How long the owning eMSP has to answer a real-time token authorization before the
    /// whitelist fallback applies (`CPMS__OCPI__REALTIME_AUTH_TIMEOUT_MS`).
    pub realtime_auth_timeout_ms: u64,
    /// The least time between two Session PATCHes of one charging session pushed to its eMSP
    /// (`CPMS__OCPI__SESSION_UPDATE_INTERVAL_SECONDS`).
    pub session_update_interval_seconds: u64,
    /// ISO 4217 currency of our OCPI Sessions (`CPMS__OCPI__CURRENCY`).
    pub currency: String,
    /// How long after a station accepted an OCPI START_SESSION (or STOP_SESSION) its
    /// transaction must start (or stop) before the eMSP is told FAILED
    /// (`CPMS__OCPI__START_SESSION_TIMEOUT_SECONDS`).
    pub start_session_timeout_seconds: u64,
    /// Put valid roaming tokens whitelisted ALWAYS or ALLOWED_OFFLINE into the local
    /// authorization lists of connected stations and keep them in sync
    /// (`CPMS__OCPI__ROAMING_LOCAL_LISTS`, on by default), so roaming drivers are let in while
    /// a station is offline. Off leaves the stations' lists to the operator alone.
    pub roaming_local_lists: bool,
}

impl Default for OcpiSettings {
    fn default() -> Self {
        OcpiSettings {
            country_code: "ZZ".into(),
            party_id: "CPO".into(),
            business_name: "cpms".into(),
            business_website: None,
            public_url: "http://localhost:8080".into(),
            allow_private_partner_urls: false,
            token_key: None,
            page_limit: 100,
            offline_grace_seconds: 300,
            push_retry_base_seconds: 2.0,
            push_retry_max_seconds: 3600,
            push_max_attempts: 10,
            realtime_auth_timeout_ms: 1500,
            session_update_interval_seconds: 60,
            currency: "EUR".into(),
            start_session_timeout_seconds: 60,
            roaming_local_lists: true,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]` settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
}

impl Settings {
    /// Defaults, then the TOML file if given, then `CPMS__...` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, config::ConfigError> {
        Self::load_with_env(file, None)
    }

    /// [`Settings::load`] with the environment taken from `env` instead of the process (tests).
    fn load_with_env(
        file: Option<&Path>,
        env: Option<config::Map<String, String>>,
    ) -> Result<Settings, config::ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        builder
            .add_source(
                config::Environment::with_prefix("CPMS")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(env),
            )
            .build()?
            .try_deserialize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn defaults_are_the_quick_start() {
        let s = Settings::default();
        assert_eq!(s.ocpp.listen, "0.0.0.0:9000");
        assert_eq!(s.http.listen, "0.0.0.0:8080");
        assert_eq!(s.database.url, "sqlite://cpms.db");
        assert_eq!(s.ocpp.unknown_stations, UnknownStations::Accept);
        assert_eq!(s.ocpp.tls.listen, "0.0.0.0:9443");
        assert_eq!(s.ocpp.tls.cert_file, None);
        assert_eq!(s.ocpi.public_url, "http://localhost:8080");
        assert!(!s.ocpi.allow_private_partner_urls);
    }

    #[test]
    fn ocpi_settings_load_from_the_environment_names_operators_use() {
        let env = [
            ("CPMS__OCPI__COUNTRY_CODE", "NL"),
            ("CPMS__OCPI__PARTY_ID", "ABC"),
            ("CPMS__OCPI__BUSINESS_NAME", "Example CPO"),
            ("CPMS__OCPI__BUSINESS_WEBSITE", "https://cpo.example"),
            ("CPMS__OCPI__PUBLIC_URL", "https://cpms.example"),
            ("CPMS__OCPI__ALLOW_PRIVATE_PARTNER_URLS", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.ocpi.country_code, "NL");
        assert_eq!(s.ocpi.party_id, "ABC");
        assert_eq!(s.ocpi.business_name, "Example CPO");
        assert_eq!(
            s.ocpi.business_website.as_deref(),
            Some("https://cpo.example")
        );
        assert_eq!(s.ocpi.public_url, "https://cpms.example");
        assert!(s.ocpi.allow_private_partner_urls);
    }

    #[test]
    fn the_ocpi_offline_grace_defaults_to_five_minutes_and_loads_from_the_environment() {
        assert_eq!(Settings::default().ocpi.offline_grace_seconds, 300);
        let env = [("CPMS__OCPI__OFFLINE_GRACE_SECONDS", "45")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let s = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.ocpi.offline_grace_seconds, 45);
    }

    #[test]
    fn the_push_retry_settings_have_defaults_and_load_from_the_environment() {
        let d = Settings::default().ocpi;
        assert_eq!(
            (
                d.push_retry_base_seconds,
                d.push_retry_max_seconds,
                d.push_max_attempts
            ),
            (2.0, 3600, 10)
        );
        let env = [
            ("CPMS__OCPI__PUSH_RETRY_BASE_SECONDS", "0.5"),
            ("CPMS__OCPI__PUSH_RETRY_MAX_SECONDS", "60"),
            ("CPMS__OCPI__PUSH_MAX_ATTEMPTS", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.ocpi.push_retry_base_seconds, 0.5);
        assert_eq!(s.ocpi.push_retry_max_seconds, 60);
        assert_eq!(s.ocpi.push_max_attempts, 3);
    }

    #[test]
    fn tls_settings_load_from_the_environment_names_operators_use() {
        let env = [
            ("CPMS__OCPP__TLS__LISTEN", "127.0.0.1:19443"),
            ("CPMS__OCPP__TLS__CERT_FILE", "/tls/cert.pem"),
            ("CPMS__OCPP__TLS__KEY_FILE", "/tls/key.pem"),
            ("CPMS__OCPP__TLS__CLIENT_CA_FILE", "/tls/ca.pem"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = Settings::load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.ocpp.tls.listen, "127.0.0.1:19443");
        assert_eq!(s.ocpp.tls.cert_file, Some(PathBuf::from("/tls/cert.pem")));
        assert_eq!(s.ocpp.tls.key_file, Some(PathBuf::from("/tls/key.pem")));
        assert_eq!(
            s.ocpp.tls.client_ca_file,
            Some(PathBuf::from("/tls/ca.pem"))
        );
        assert_eq!(s.ocpp.listen, "0.0.0.0:9000");
    }

    #[test]
    fn file_values_load() {
        let mut file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
        writeln!(
            file,
            "[ocpp]\nlisten = \"127.0.0.1:1\"\nunknown_stations = \"reject\"\n[ocpp.tls]\ncert_file = \"/etc/cpms/tls.pem\"\n[log]\nformat = \"json\""
        )
        .unwrap();
        let s = Settings::load(Some(file.path())).unwrap();
        assert_eq!(s.ocpp.listen, "127.0.0.1:1");
        assert_eq!(s.ocpp.unknown_stations, UnknownStations::Reject);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(
            s.ocpp.tls.cert_file,
            Some(PathBuf::from("/etc/cpms/tls.pem"))
        );
        assert_eq!(s.ocpp.tls.listen, "0.0.0.0:9443");
        assert_eq!(s.http.listen, "0.0.0.0:8080");
    }
}
