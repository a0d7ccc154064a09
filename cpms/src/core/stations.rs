//! Stations and connectors: admission, boot, liveness and status.

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{
    Admission, BootDecision, BootInfo, ConnectionSecurity, ConnectorStatus, OcppVersion,
    RegistrationStatus, StatusReport,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{Core, CoreError};
use crate::config::UnknownStations;
use crate::entities::{connector, station};
use crate::events::DomainEvent;
use crate::secrets;

/// A station as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct StationRecord {
    /// Station id (the websocket path segment and Basic-auth user).
    pub id: String,
    /// Vendor from the last boot.
    pub vendor: Option<String>,
    /// Model from the last boot.
    pub model: Option<String>,
    /// Serial number from the last boot.
    pub serial_number: Option<String>,
    /// Firmware version from the last boot.
    pub firmware_version: Option<String>,
    /// Protocol of the last connection.
    pub protocol: Option<String>,
    /// Accepted, Pending or Rejected.
    pub registration_status: RegistrationStatus,
    /// Whether a password is set (the hash is never shown).
    pub has_password: bool,
    /// The OCPP security profile the station must connect with.
    pub security_profile: SecurityProfile,
    /// Last firmware status notification.
    pub firmware_status: Option<String>,
    /// Last diagnostics status notification.
    pub diagnostics_status: Option<String>,
    /// requestId of the firmware update the status belongs to (sent in UpdateFirmware; echoed
    /// by 2.0.1 FirmwareStatusNotification).
    pub firmware_request_id: Option<i32>,
    /// requestId of the log upload the status belongs to (sent in GetLog; echoed by 2.0.1
    /// LogStatusNotification).
    pub diagnostics_request_id: Option<i32>,
    /// Last sign of life.
    pub last_seen: Option<DateTime<Utc>>,
    /// Last boot.
    pub last_boot: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The OCPP security profiles (OCPP 1.6 security whitepaper; OCPP 2.0.1 part 2 A00). The API and
/// the database show them as their numbers, 1 to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum SecurityProfile {
    /// 1: unsecured transport (`ws://` or `wss://`) with HTTP Basic auth.
    #[default]
    BasicAuth,
    /// 2: TLS with HTTP Basic auth; plain `ws://` is refused.
    TlsBasicAuth,
    /// 3: TLS with a client certificate that chains to the configured CA and names the station
    /// in its subject CN; plain `ws://` is refused.
    TlsClientCertificate,
}

impl From<SecurityProfile> for u8 {
    fn from(p: SecurityProfile) -> u8 {
        match p {
            SecurityProfile::BasicAuth => 1,
            SecurityProfile::TlsBasicAuth => 2,
            SecurityProfile::TlsClientCertificate => 3,
        }
    }
}

impl TryFrom<u8> for SecurityProfile {
    type Error = String;

    fn try_from(n: u8) -> Result<Self, Self::Error> {
        match n {
            1 => Ok(SecurityProfile::BasicAuth),
            2 => Ok(SecurityProfile::TlsBasicAuth),
            3 => Ok(SecurityProfile::TlsClientCertificate),
            _ => Err(format!("security_profile must be 1, 2 or 3, not {n}")),
        }
    }
}

fn security_profile_from_db(n: i32) -> SecurityProfile {
    // The column only ever holds what `security_profile_to_db` wrote; anything else is a row
    // edited by hand, and the strictest profile is the safe reading of it.
    u8::try_from(n)
        .ok()
        .and_then(|n| SecurityProfile::try_from(n).ok())
        .unwrap_or(SecurityProfile::TlsClientCertificate)
}

fn security_profile_to_db(p: SecurityProfile) -> i32 {
    i32::from(u8::from(p))
}

/// A connector's live status.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorRecord {
    /// EVSE id (0 = the station).
    pub evse_id: i32,
    /// Connector id within the EVSE.
    pub connector_id: i32,
    /// Normalised status.
    pub status: ConnectorStatus,
    /// Status as the station sent it.
    pub source_status: String,
    /// Error code as sent.
    pub error_code: Option<String>,
    /// Info text.
    pub info: Option<String>,
    /// Vendor id of the vendor error code.
    pub vendor_id: Option<String>,
    /// Vendor error code.
    pub vendor_error_code: Option<String>,
    /// Station's timestamp of the status.
    pub status_at: DateTime<Utc>,
}

/// Changes the operator can make to a station.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationUpdate {
    /// New Basic-auth password; an empty string removes it.
    pub password: Option<String>,
    /// New registration status.
    pub registration_status: Option<RegistrationStatus>,
    /// New security profile.
    pub security_profile: Option<SecurityProfile>,
}

fn registration_from_db(s: &str) -> RegistrationStatus {
    match s {
        "Pending" => RegistrationStatus::Pending,
        "Rejected" => RegistrationStatus::Rejected,
        _ => RegistrationStatus::Accepted,
    }
}

fn registration_to_db(s: RegistrationStatus) -> &'static str {
    match s {
        RegistrationStatus::Accepted => "Accepted",
        RegistrationStatus::Pending => "Pending",
        RegistrationStatus::Rejected => "Rejected",
    }
}

/// Stored form of the normalised status.
pub(crate) fn status_to_db(s: ConnectorStatus) -> &'static str {
    match s {
        ConnectorStatus::Available => "Available",
        ConnectorStatus::Preparing => "Preparing",
        ConnectorStatus::Charging => "Charging",
        ConnectorStatus::SuspendedEv => "SuspendedEv",
        ConnectorStatus::SuspendedEvse => "SuspendedEvse",
        ConnectorStatus::Finishing => "Finishing",
        ConnectorStatus::Reserved => "Reserved",
        ConnectorStatus::Unavailable => "Unavailable",
        ConnectorStatus::Faulted => "Faulted",
        ConnectorStatus::Occupied => "Occupied",
    }
}

pub(crate) fn status_from_db(s: &str) -> ConnectorStatus {
    match s {
        "Available" => ConnectorStatus::Available,
        "Preparing" => ConnectorStatus::Preparing,
        "Charging" => ConnectorStatus::Charging,
        "SuspendedEv" => ConnectorStatus::SuspendedEv,
        "SuspendedEvse" => ConnectorStatus::SuspendedEvse,
        "Finishing" => ConnectorStatus::Finishing,
        "Reserved" => ConnectorStatus::Reserved,
        "Occupied" => ConnectorStatus::Occupied,
        "Faulted" => ConnectorStatus::Faulted,
        _ => ConnectorStatus::Unavailable,
    }
}

impl From<station::Model> for StationRecord {
    fn from(m: station::Model) -> Self {
        StationRecord {
            registration_status: registration_from_db(&m.registration_status),
            has_password: m.password_hash.is_some(),
            security_profile: security_profile_from_db(m.security_profile),
            id: m.id,
            vendor: m.vendor,
            model: m.model,
            serial_number: m.serial_number,
            firmware_version: m.firmware_version,
            protocol: m.protocol,
            firmware_status: m.firmware_status,
            diagnostics_status: m.diagnostics_status,
            firmware_request_id: m.firmware_request_id,
            diagnostics_request_id: m.diagnostics_request_id,
            last_seen: m.last_seen,
            last_boot: m.last_boot,
            created_at: m.created_at,
        }
    }
}

impl From<connector::Model> for ConnectorRecord {
    fn from(m: connector::Model) -> Self {
        ConnectorRecord {
            status: status_from_db(&m.status),
            evse_id: m.evse_id,
            connector_id: m.connector_id,
            source_status: m.source_status,
            error_code: m.error_code,
            info: m.info,
            vendor_id: m.vendor_id,
            vendor_error_code: m.vendor_error_code,
            status_at: m.status_at,
        }
    }
}

impl Core {
    fn new_station(&self, id: &str, status: RegistrationStatus) -> station::ActiveModel {
        let now = self.now();
        station::ActiveModel {
            id: Set(id.to_owned()),
            vendor: Set(None),
            model: Set(None),
            serial_number: Set(None),
            firmware_version: Set(None),
            iccid: Set(None),
            imsi: Set(None),
            meter_serial_number: Set(None),
            meter_type: Set(None),
            protocol: Set(None),
            registration_status: Set(registration_to_db(status).to_owned()),
            password_hash: Set(None),
            security_profile: Set(security_profile_to_db(SecurityProfile::default())),
            firmware_status: Set(None),
            diagnostics_status: Set(None),
            firmware_request_id: Set(None),
            diagnostics_request_id: Set(None),
            last_seen: Set(None),
            last_boot: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }

    /// The handshake rule. A client certificate naming another station is refused whatever the
    /// station's profile: it is a valid identity, used for the wrong id. Otherwise an unknown
    /// station follows the unknown-stations policy; a known one must come over TLS for profiles 2
    /// and 3 (OCPP 2.0.1 A00: the CSMS refuses a connection below the station's profile), with its
    /// own client certificate for profile 3 (which replaces Basic auth), and with its stored
    /// password, if it has one, for profiles 1 and 2.
    pub(crate) async fn admission(
        &self,
        station_id: &str,
        password: Option<&str>,
        security: &ConnectionSecurity,
    ) -> Result<Admission, CoreError> {
        let certified = match security.client_cert_cn.as_deref() {
            Some(cn) if cn != station_id => return Ok(Admission::Refuse),
            Some(_) => true,
            None => false,
        };
        let Some(found) = station::Entity::find_by_id(station_id)
            .one(&self.db)
            .await?
        else {
            return Ok(match self.policy.unknown_stations {
                UnknownStations::Reject => Admission::Refuse,
                UnknownStations::Accept | UnknownStations::Pending => Admission::Admit,
            });
        };
        let profile = security_profile_from_db(found.security_profile);
        match profile {
            SecurityProfile::BasicAuth => {}
            SecurityProfile::TlsBasicAuth if security.tls => {}
            SecurityProfile::TlsClientCertificate if security.tls && certified => {
                return Ok(Admission::Admit)
            }
            SecurityProfile::TlsBasicAuth | SecurityProfile::TlsClientCertificate => {
                return Ok(Admission::Refuse)
            }
        }
        let Some(hash) = found.password_hash else {
            // Profile 1 without a password is the open setup of closed private networks; profile 2
            // is Basic auth over TLS by definition (OCPP security whitepaper, profile 2), so a
            // station set to it without a password cannot prove who it is.
            return Ok(if profile == SecurityProfile::TlsBasicAuth {
                Admission::Refuse
            } else {
                Admission::Admit
            });
        };
        let Some(password) = password.map(str::to_owned) else {
            return Ok(Admission::Refuse);
        };
        // Argon2 is deliberately slow: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        Ok(if ok {
            Admission::Admit
        } else {
            Admission::Refuse
        })
    }

    /// Records a new connection, creating the station under the unknown-stations policy.
    pub(crate) async fn station_connected(
        &self,
        station_id: &str,
        version: OcppVersion,
    ) -> Result<(), CoreError> {
        let now = self.now();
        let initial = match self.policy.unknown_stations {
            UnknownStations::Pending => RegistrationStatus::Pending,
            _ => RegistrationStatus::Accepted,
        };
        let mut row = self.new_station(station_id, initial);
        row.protocol = Set(Some(version.subprotocol().to_owned()));
        row.last_seen = Set(Some(now));
        station::Entity::insert(row)
            .on_conflict(
                OnConflict::column(station::Column::Id)
                    .update_columns([
                        station::Column::Protocol,
                        station::Column::LastSeen,
                        station::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        self.set_presence(station_id, true).await?;
        self.events.publish(
            station_id,
            DomainEvent::StationConnected {
                protocol: version.subprotocol().to_owned(),
            },
        );
        Ok(())
    }

    pub(crate) async fn station_disconnected(&self, station_id: &str) -> Result<(), CoreError> {
        self.touch(station_id).await?;
        // The presence and the pushes that tell partners UNKNOWN once the offline grace runs out
        // commit together; each push renders the state at delivery, so a station back by then
        // just has its current status sent.
        let txn = self.db.begin().await?;
        self.set_presence_on(&txn, station_id, false).await?;
        let due = self.now() + self.offline_grace();
        let pushed = self
            .enqueue_evse_patches(&txn, station_id, None, due)
            .await?;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        self.events
            .publish(station_id, DomainEvent::StationDisconnected);
        Ok(())
    }

    /// Stores what the station said at boot and answers with its registration status.
    pub(crate) async fn station_booted(
        &self,
        station_id: &str,
        info: BootInfo,
    ) -> Result<BootDecision, CoreError> {
        let found = station::Entity::find_by_id(station_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("station {station_id}")))?;
        let status = registration_from_db(&found.registration_status);
        let now = self.now();
        let mut row: station::ActiveModel = found.into();
        row.vendor = Set(Some(info.vendor));
        row.model = Set(Some(info.model));
        row.serial_number = Set(info.serial_number);
        row.firmware_version = Set(info.firmware_version);
        row.iccid = Set(info.iccid);
        row.imsi = Set(info.imsi);
        row.meter_serial_number = Set(info.meter_serial_number);
        row.meter_type = Set(info.meter_type);
        row.last_boot = Set(Some(now));
        row.last_seen = Set(Some(now));
        row.updated_at = Set(now);
        row.update(&self.db).await?;
        self.events.publish(
            station_id,
            DomainEvent::StationBooted {
                registration_status: registration_to_db(status).to_owned(),
            },
        );
        Ok(BootDecision {
            status,
            interval_secs: match status {
                RegistrationStatus::Accepted => self.policy.heartbeat_interval,
                _ => self.policy.boot_retry_interval,
            },
        })
    }

    /// Records a sign of life.
    pub(crate) async fn touch(&self, station_id: &str) -> Result<(), CoreError> {
        let now = self.now();
        station::Entity::update_many()
            .col_expr(station::Column::LastSeen, now.into())
            .filter(station::Column::Id.eq(station_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Stores the connector's status (one row per EVSE and connector, last write wins) and
    /// publishes the change.
    pub(crate) async fn record_status(
        &self,
        station_id: &str,
        report: StatusReport,
    ) -> Result<(), CoreError> {
        let now = self.now();
        let row = connector::ActiveModel {
            station_id: Set(station_id.to_owned()),
            evse_id: Set(report.evse.evse_id),
            connector_id: Set(report.evse.connector_id),
            status: Set(status_to_db(report.status).to_owned()),
            source_status: Set(report.source_status.clone()),
            error_code: Set(report.error_code.clone()),
            info: Set(report.info),
            vendor_id: Set(report.vendor_id),
            vendor_error_code: Set(report.vendor_error_code),
            status_at: Set(report.timestamp),
            updated_at: Set(now),
        };
        // The status and its OCPI pushes commit together (ARCHITECTURE.md, Events).
        let txn = self.db.begin().await?;
        connector::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    connector::Column::StationId,
                    connector::Column::EvseId,
                    connector::Column::ConnectorId,
                ])
                .update_columns([
                    connector::Column::Status,
                    connector::Column::SourceStatus,
                    connector::Column::ErrorCode,
                    connector::Column::Info,
                    connector::Column::VendorId,
                    connector::Column::VendorErrorCode,
                    connector::Column::StatusAt,
                    connector::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        let pushed = self
            .enqueue_evse_patches(&txn, station_id, Some(report.evse.evse_id), now)
            .await?;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        self.touch(station_id).await?;
        self.events.publish(
            station_id,
            DomainEvent::StatusChanged {
                evse_id: report.evse.evse_id,
                connector_id: report.evse.connector_id,
                status: report.status,
                source_status: report.source_status,
                error_code: report.error_code,
                at: report.timestamp,
            },
        );
        Ok(())
    }

    /// Stores firmware or diagnostics progress.
    pub(crate) async fn record_station_progress(
        &self,
        station_id: &str,
        firmware: Option<&str>,
        diagnostics: Option<&str>,
        request_id: Option<i32>,
    ) -> Result<(), CoreError> {
        let mut update = station::Entity::update_many()
            .col_expr(station::Column::LastSeen, self.now().into())
            .filter(station::Column::Id.eq(station_id));
        // 2.0.1 L01/N01: the notification echoes the requestId of the UpdateFirmware or GetLog
        // it reports on; 1.6 notifications carry none, and keep the id the command stored.
        if let Some(f) = firmware {
            update = update.col_expr(station::Column::FirmwareStatus, f.into());
            if let Some(id) = request_id {
                update = update.col_expr(station::Column::FirmwareRequestId, id.into());
            }
        }
        if let Some(d) = diagnostics {
            update = update.col_expr(station::Column::DiagnosticsStatus, d.into());
            if let Some(id) = request_id {
                update = update.col_expr(station::Column::DiagnosticsRequestId, id.into());
            }
        }
        update.exec(&self.db).await?;
        Ok(())
    }

    /// Creates a station ahead of its first connection.
    pub async fn create_station(
        &self,
        id: &str,
        password: Option<&str>,
        registration_status: Option<RegistrationStatus>,
        security_profile: Option<SecurityProfile>,
    ) -> Result<StationRecord, CoreError> {
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_graphic() && c != '/') {
            return Err(CoreError::Invalid(
                "station id must be 1 to 64 printable ASCII characters without '/'".into(),
            ));
        }
        if station::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(CoreError::Conflict(format!("station {id} exists")));
        }
        let mut row = self.new_station(
            id,
            registration_status.unwrap_or(RegistrationStatus::Accepted),
        );
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            row.password_hash = Set(Some(hash(p).await?));
        }
        if let Some(p) = security_profile {
            row.security_profile = Set(security_profile_to_db(p));
        }
        Ok(row.insert(&self.db).await?.into())
    }

    /// Changes password, registration status or security profile. A new profile applies from
    /// the station's next connection; an open one is not closed.
    pub async fn update_station(
        &self,
        id: &str,
        update: StationUpdate,
    ) -> Result<StationRecord, CoreError> {
        let found = station::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("station {id}")))?;
        let mut row: station::ActiveModel = found.into();
        if let Some(p) = update.password {
            row.password_hash = Set(if p.is_empty() {
                None
            } else {
                Some(hash(&p).await?)
            });
        }
        if let Some(s) = update.registration_status {
            row.registration_status = Set(registration_to_db(s).to_owned());
        }
        if let Some(p) = update.security_profile {
            row.security_profile = Set(security_profile_to_db(p));
        }
        row.updated_at = Set(self.now());
        Ok(row.update(&self.db).await?.into())
    }

    /// One station.
    pub async fn station(&self, id: &str) -> Result<StationRecord, CoreError> {
        station::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or_else(|| CoreError::NotFound(format!("station {id}")))
    }

    /// Stations ordered by id, with the total count.
    pub async fn stations(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StationRecord>, u64), CoreError> {
        use sea_orm::{PaginatorTrait, QuerySelect};
        let total = station::Entity::find().count(&self.db).await?;
        let rows = station::Entity::find()
            .order_by_asc(station::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// A station's connectors with their live status.
    pub async fn connectors(&self, station_id: &str) -> Result<Vec<ConnectorRecord>, CoreError> {
        let rows = connector::Entity::find()
            .filter(connector::Column::StationId.eq(station_id))
            .order_by_asc(connector::Column::EvseId)
            .order_by_asc(connector::Column::ConnectorId)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

async fn hash(password: &str) -> Result<String, CoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| CoreError::Invalid(e.to_string()))?
        .map_err(|e| CoreError::Invalid(e.to_string()))
}
