//! Locations module, CPO Sender interface (OCPI 2.2.1 Locations: Sender Interface):
//! `GET /ocpi/2.2.1/locations` (paginated), `/{location_id}`, `/{location_id}/{evse_uid}` and
//! `/{location_id}/{evse_uid}/{connector_id}`, for registered partners only.
//!
//! The OCPI objects are rendered here from the core's facts ([`LocationFacts`]) by
//! [`render_location`], so the push that comes later renders exactly what a GET returns. The
//! OCPP → OCPI status mapping is [`evse_status`], the one table of `docs/status-mapping.md`.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::port::locations::{
    Business, ConnectorSpec, EvseFacts, GeoLocation, Hours, LocationFacts, Reported, StationStatus,
};
use crate::transport::{ocpi_time, OcpiError, OcpiResponse, OcpiStatus, PageQuery};
use crate::Bridge;

/// OCPI 2.2.1 Locations: Status enum (the statuses we send; PLANNED and REMOVED are not
/// derived from OCPP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EvseStatus {
    /// Able to start a new session.
    Available,
    /// A physical barrier blocks it.
    Blocked,
    /// In use.
    Charging,
    /// Temporarily not available, not broken.
    Inoperative,
    /// Broken.
    Outoforder,
    /// Reserved for a driver.
    Reserved,
    /// No status information (also: offline).
    Unknown,
}

/// The one OCPP → OCPI status mapping (docs/status-mapping.md, one row per arm). Reads the
/// normalised status; the source status would be consulted where normalisation loses
/// information, which it does not today (1.6's nine statuses map one to one, 2.0.1's five
/// each have their own normalised value).
pub fn map_status(status: StationStatus, _source_status: &str) -> EvseStatus {
    match status {
        StationStatus::Available => EvseStatus::Available,
        // A driver is being served (plugged in or authorized): not free for another one.
        StationStatus::Preparing => EvseStatus::Charging,
        StationStatus::Charging => EvseStatus::Charging,
        // The session goes on; only the energy flow paused.
        StationStatus::SuspendedEv | StationStatus::SuspendedEvse => EvseStatus::Charging,
        // The session ended, the vehicle is still plugged in: in use until it leaves.
        StationStatus::Finishing => EvseStatus::Charging,
        StationStatus::Occupied => EvseStatus::Charging,
        StationStatus::Reserved => EvseStatus::Reserved,
        // Taken out of service on purpose (ChangeAvailability Inoperative, or the station's
        // own decision), not broken: Locations Status INOPERATIVE.
        StationStatus::Unavailable => EvseStatus::Inoperative,
        StationStatus::Faulted => EvseStatus::Outoforder,
    }
}

/// How strongly a connector's status speaks for its EVSE: the EVSE takes the status of its
/// connector with the highest rank. One session uses the EVSE, so one connector in use makes
/// it CHARGING; one that can start a session makes it AVAILABLE over broken siblings.
fn rank(s: EvseStatus) -> u8 {
    match s {
        EvseStatus::Charging => 6,
        EvseStatus::Reserved => 5,
        EvseStatus::Available => 4,
        EvseStatus::Blocked => 3,
        EvseStatus::Outoforder => 2,
        EvseStatus::Inoperative => 1,
        EvseStatus::Unknown => 0,
    }
}

/// An EVSE's status and when it took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedStatus {
    /// The status.
    pub status: EvseStatus,
    /// When it became so, when known.
    pub since: Option<DateTime<Utc>>,
}

/// The status of an EVSE (docs/status-mapping.md, in this order): the operator's inoperative
/// flag; UNKNOWN when the station has been offline longer than `grace`; a station-level (EVSE 0)
/// Faulted or Unavailable for every EVSE of the station; otherwise the EVSE's connectors
/// combined by [`rank`]; UNKNOWN when nothing was reported.
pub fn evse_status(evse: &EvseFacts, now: DateTime<Utc>, grace: Duration) -> DerivedStatus {
    if evse.spec.inoperative {
        return DerivedStatus {
            status: EvseStatus::Inoperative,
            since: Some(evse.updated_at),
        };
    }
    if !evse.station.connected {
        let offline_at = evse.station.since;
        let expired = offline_at.is_none_or(|t| now - t >= grace);
        if expired {
            return DerivedStatus {
                status: EvseStatus::Unknown,
                since: offline_at.map(|t| t + grace),
            };
        }
    }
    let mapped = |r: &Reported| DerivedStatus {
        status: map_status(r.status, &r.source_status),
        since: Some(r.stored_at),
    };
    if let Some(station) = &evse.station.station_level {
        if matches!(
            station.status,
            StationStatus::Faulted | StationStatus::Unavailable
        ) {
            return mapped(station);
        }
    }
    evse.connectors
        .iter()
        .map(|c| mapped(&c.reported))
        .max_by_key(|d| (rank(d.status), d.since))
        .unwrap_or(DerivedStatus {
            status: EvseStatus::Unknown,
            since: None,
        })
}

/// OCPI Connector object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    /// Id within the EVSE.
    pub id: String,
    /// ConnectorType.
    pub standard: String,
    /// ConnectorFormat.
    pub format: String,
    /// PowerType.
    pub power_type: String,
    /// Volts.
    pub max_voltage: i32,
    /// Amperes.
    pub max_amperage: i32,
    /// Watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_electric_power: Option<i32>,
    /// Tariffs.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tariff_ids: Vec<String>,
    /// Last change.
    pub last_updated: String,
}

/// OCPI EVSE object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evse {
    /// Uid.
    pub uid: String,
    /// eMI3 id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<String>,
    /// Status.
    pub status: EvseStatus,
    /// Capabilities.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub capabilities: Vec<String>,
    /// At least one.
    pub connectors: Vec<Connector>,
    /// Floor level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_level: Option<String>,
    /// Physical reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_reference: Option<String>,
    /// Last change of the EVSE or its connectors.
    pub last_updated: String,
}

/// OCPI Location object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Our country code.
    pub country_code: String,
    /// Our party id.
    pub party_id: String,
    /// Id.
    pub id: String,
    /// May be shown to the public.
    pub publish: bool,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    pub address: String,
    /// City.
    pub city: String,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-3.
    pub country: String,
    /// Coordinates.
    pub coordinates: GeoLocation,
    /// Parking type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parking_type: Option<String>,
    /// EVSEs.
    pub evses: Vec<Evse>,
    /// Operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Business>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Business>,
    /// Facilities.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub facilities: Vec<String>,
    /// Time zone.
    pub time_zone: String,
    /// Opening times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opening_times: Option<Hours>,
    /// Last change of the Location, its EVSEs or connectors.
    pub last_updated: String,
}

/// What rendering needs besides the facts.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// Our country code.
    pub country_code: String,
    /// Our party id.
    pub party_id: String,
    /// Now.
    pub now: DateTime<Utc>,
    /// How long a station may be offline before its EVSEs are UNKNOWN.
    pub offline_grace: Duration,
}

/// The connectors of an EVSE: the operator's, or when it listed none, one per connector the
/// station reported with [`ConnectorSpec::default_for`] (connector 1 when it reported none:
/// the spec requires at least one).
fn connector_specs(evse: &EvseFacts) -> Vec<ConnectorSpec> {
    if !evse.spec.connectors.is_empty() {
        return evse.spec.connectors.clone();
    }
    let mut ids: Vec<i32> = evse.connectors.iter().map(|c| c.connector_id).collect();
    if ids.is_empty() {
        ids.push(1);
    }
    ids.into_iter().map(ConnectorSpec::default_for).collect()
}

/// Renders an EVSE and its `last_updated` (Locations: EVSE.last_updated is the latest change
/// of the EVSE or its connectors; a status change is a change).
pub fn render_evse(evse: &EvseFacts, ctx: &RenderContext) -> (Evse, DateTime<Utc>) {
    let status = evse_status(evse, ctx.now, ctx.offline_grace);
    let last_updated = status
        .since
        .map_or(evse.updated_at, |t| t.max(evse.updated_at));
    let connectors = connector_specs(evse)
        .into_iter()
        .map(|c| Connector {
            id: c.id,
            standard: c.standard,
            format: c.format,
            power_type: c.power_type,
            max_voltage: c.max_voltage,
            max_amperage: c.max_amperage,
            max_electric_power: c.max_electric_power,
            tariff_ids: c.tariff_ids,
            // The connector's description changes with the EVSE's row.
            last_updated: ocpi_time(evse.updated_at),
        })
        .collect();
    (
        Evse {
            uid: evse.uid.clone(),
            evse_id: evse.spec.evse_id_emi3.clone(),
            status: status.status,
            capabilities: evse.spec.capabilities.clone(),
            connectors,
            floor_level: evse.spec.floor_level.clone(),
            physical_reference: evse.spec.physical_reference.clone(),
            last_updated: ocpi_time(last_updated),
        },
        last_updated,
    )
}

/// Renders a Location and its `last_updated`, the latest of its own and its EVSEs'
/// (Locations: Location.last_updated).
pub fn render_location(location: &LocationFacts, ctx: &RenderContext) -> (Location, DateTime<Utc>) {
    let mut last_updated = location.updated_at;
    let evses = location
        .evses
        .iter()
        .map(|e| {
            let (evse, t) = render_evse(e, ctx);
            last_updated = last_updated.max(t);
            evse
        })
        .collect();
    let site = &location.site;
    (
        Location {
            country_code: ctx.country_code.clone(),
            party_id: ctx.party_id.clone(),
            id: location.id.clone(),
            publish: site.publish,
            name: site.name.clone(),
            address: site.address.clone(),
            city: site.city.clone(),
            postal_code: site.postal_code.clone(),
            country: site.country.clone(),
            coordinates: site.coordinates.clone(),
            parking_type: site.parking_type.clone(),
            evses,
            operator: site.operator.clone(),
            owner: site.owner.clone(),
            facilities: site.facilities.clone(),
            time_zone: site.time_zone.clone(),
            opening_times: site.opening_times.clone(),
            last_updated: ocpi_time(last_updated),
        },
        last_updated,
    )
}

fn unknown(what: &str) -> OcpiError {
    // Status codes: 2003, unknown Location (also for its EVSEs and connectors).
    OcpiError::new(OcpiStatus::UnknownLocation, format!("unknown {what}"))
}

fn storage(e: crate::port::StoreError) -> OcpiError {
    OcpiError::internal(e.to_string())
}

/// `GET /ocpi/2.2.1/locations`: every Location (publish true or false: Locations, publish says
/// whom the eMSP may show it to, not whether it is sent), paginated, filtered on
/// `last_updated`, ordered by id.
pub async fn list(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<OcpiResponse, OcpiError> {
    let (_, page) = bridge.paginated_get(&headers, query).await?;
    let ctx = bridge.render_context();
    let all = bridge
        .location_source()?
        .locations()
        .await
        .map_err(storage)?;
    let matching = all
        .iter()
        .map(|l| render_location(l, &ctx))
        // Filter on the time the partner sees (whole seconds), so a `last_updated` it read is a
        // window bound that selects the same object again.
        .filter(|(_, t)| page.in_window(t.trunc_subsecs(0)))
        .map(|(l, _)| l);
    page.respond(
        matching,
        &format!("{}/locations", bridge.version_details_url()),
        |l: Location| Ok(l),
    )
}

async fn find(bridge: &Bridge, location_id: &str) -> Result<LocationFacts, OcpiError> {
    bridge
        .location_source()?
        .location(location_id)
        .await
        .map_err(storage)?
        .ok_or_else(|| unknown("location"))
}

/// `GET /ocpi/2.2.1/locations/{location_id}`.
pub async fn location(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    Path(location_id): Path<String>,
) -> Result<OcpiResponse, OcpiError> {
    bridge.authenticate_registered(&headers).await?;
    let facts = find(&bridge, &location_id).await?;
    OcpiResponse::ok(render_location(&facts, &bridge.render_context()).0)
}

/// `GET /ocpi/2.2.1/locations/{location_id}/{evse_uid}`.
pub async fn evse(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    Path((location_id, evse_uid)): Path<(String, String)>,
) -> Result<OcpiResponse, OcpiError> {
    bridge.authenticate_registered(&headers).await?;
    let facts = find(&bridge, &location_id).await?;
    let evse = facts
        .evses
        .iter()
        .find(|e| e.uid == evse_uid)
        .ok_or_else(|| unknown("EVSE"))?;
    OcpiResponse::ok(render_evse(evse, &bridge.render_context()).0)
}

/// `GET /ocpi/2.2.1/locations/{location_id}/{evse_uid}/{connector_id}`.
pub async fn connector(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    Path((location_id, evse_uid, connector_id)): Path<(String, String, String)>,
) -> Result<OcpiResponse, OcpiError> {
    bridge.authenticate_registered(&headers).await?;
    let facts = find(&bridge, &location_id).await?;
    let evse = facts
        .evses
        .iter()
        .find(|e| e.uid == evse_uid)
        .ok_or_else(|| unknown("EVSE"))?;
    let (evse, _) = render_evse(evse, &bridge.render_context());
    let connector = evse
        .connectors
        .into_iter()
        .find(|c| c.id == connector_id)
        .ok_or_else(|| unknown("connector"))?;
    OcpiResponse::ok(connector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::locations::{EvseSpec, ReportedConnector, StationFacts};

    fn t(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(s), 0).unwrap()
    }

    fn reported(status: StationStatus, at: u32) -> Reported {
        Reported {
            status,
            source_status: format!("{status:?}"),
            stored_at: t(at),
        }
    }

    fn evse(connectors: &[StationStatus]) -> EvseFacts {
        EvseFacts {
            uid: "E1".into(),
            spec: EvseSpec {
                station_id: "CS".into(),
                evse_id: 1,
                evse_id_emi3: None,
                capabilities: vec![],
                physical_reference: None,
                floor_level: None,
                inoperative: false,
                connectors: vec![],
            },
            updated_at: t(0),
            station: StationFacts {
                connected: true,
                since: Some(t(0)),
                station_level: None,
            },
            connectors: connectors
                .iter()
                .enumerate()
                .map(|(i, s)| ReportedConnector {
                    connector_id: i as i32 + 1,
                    reported: reported(*s, 10 + i as u32),
                })
                .collect(),
        }
    }

    const GRACE: Duration = Duration::seconds(300);

    fn status_of(e: &EvseFacts, now: u32) -> EvseStatus {
        evse_status(e, t(now), GRACE).status
    }

    // One test per row of docs/status-mapping.md.

    #[test]
    fn v16_available_is_available() {
        assert_eq!(
            map_status(StationStatus::Available, "Available"),
            EvseStatus::Available
        );
    }

    #[test]
    fn v16_preparing_is_charging() {
        assert_eq!(
            map_status(StationStatus::Preparing, "Preparing"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v16_charging_is_charging() {
        assert_eq!(
            map_status(StationStatus::Charging, "Charging"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v16_suspended_ev_is_charging() {
        assert_eq!(
            map_status(StationStatus::SuspendedEv, "SuspendedEV"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v16_suspended_evse_is_charging() {
        assert_eq!(
            map_status(StationStatus::SuspendedEvse, "SuspendedEVSE"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v16_finishing_is_charging() {
        assert_eq!(
            map_status(StationStatus::Finishing, "Finishing"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v16_reserved_is_reserved() {
        assert_eq!(
            map_status(StationStatus::Reserved, "Reserved"),
            EvseStatus::Reserved
        );
    }

    #[test]
    fn v16_unavailable_is_inoperative() {
        assert_eq!(
            map_status(StationStatus::Unavailable, "Unavailable"),
            EvseStatus::Inoperative
        );
    }

    #[test]
    fn v16_faulted_is_outoforder() {
        assert_eq!(
            map_status(StationStatus::Faulted, "Faulted"),
            EvseStatus::Outoforder
        );
    }

    #[test]
    fn v201_available_is_available() {
        assert_eq!(
            map_status(StationStatus::Available, "Available"),
            EvseStatus::Available
        );
    }

    #[test]
    fn v201_occupied_is_charging() {
        assert_eq!(
            map_status(StationStatus::Occupied, "Occupied"),
            EvseStatus::Charging
        );
    }

    #[test]
    fn v201_reserved_is_reserved() {
        assert_eq!(
            map_status(StationStatus::Reserved, "Reserved"),
            EvseStatus::Reserved
        );
    }

    #[test]
    fn v201_unavailable_is_inoperative() {
        assert_eq!(
            map_status(StationStatus::Unavailable, "Unavailable"),
            EvseStatus::Inoperative
        );
    }

    #[test]
    fn v201_faulted_is_outoforder() {
        assert_eq!(
            map_status(StationStatus::Faulted, "Faulted"),
            EvseStatus::Outoforder
        );
    }

    #[test]
    fn operator_flag_is_inoperative_whatever_the_station_says() {
        let mut e = evse(&[StationStatus::Charging]);
        e.spec.inoperative = true;
        e.station.connected = false;
        assert_eq!(status_of(&e, 10_000), EvseStatus::Inoperative);
    }

    #[test]
    fn change_availability_inoperative_shows_through_the_reported_unavailable() {
        // The station answers Accepted and then reports Unavailable (1.6 §5.2, 2.0.1 G03).
        let e = evse(&[StationStatus::Unavailable]);
        assert_eq!(status_of(&e, 20), EvseStatus::Inoperative);
    }

    #[test]
    fn offline_within_the_grace_keeps_the_last_status() {
        let mut e = evse(&[StationStatus::Available]);
        e.station.connected = false;
        e.station.since = Some(t(100));
        assert_eq!(status_of(&e, 399), EvseStatus::Available);
    }

    #[test]
    fn offline_past_the_grace_is_unknown_since_the_grace_ran_out() {
        let mut e = evse(&[StationStatus::Charging]);
        e.station.connected = false;
        e.station.since = Some(t(100));
        let d = evse_status(&e, t(400), GRACE);
        assert_eq!(d.status, EvseStatus::Unknown);
        assert_eq!(d.since, Some(t(400)));
    }

    #[test]
    fn never_reported_is_unknown() {
        assert_eq!(status_of(&evse(&[]), 20), EvseStatus::Unknown);
    }

    #[test]
    fn station_level_faulted_or_unavailable_applies_to_every_evse() {
        let mut e = evse(&[StationStatus::Available]);
        e.station.station_level = Some(reported(StationStatus::Faulted, 5));
        assert_eq!(status_of(&e, 20), EvseStatus::Outoforder);
        e.station.station_level = Some(reported(StationStatus::Unavailable, 5));
        assert_eq!(status_of(&e, 20), EvseStatus::Inoperative);
        e.station.station_level = Some(reported(StationStatus::Available, 5));
        assert_eq!(status_of(&e, 20), EvseStatus::Available);
    }

    #[test]
    fn a_multi_connector_evse_takes_its_strongest_connector() {
        use StationStatus::*;
        assert_eq!(
            status_of(&evse(&[Available, Charging]), 20),
            EvseStatus::Charging
        );
        assert_eq!(
            status_of(&evse(&[Faulted, Available]), 20),
            EvseStatus::Available
        );
        assert_eq!(
            status_of(&evse(&[Reserved, Available]), 20),
            EvseStatus::Reserved
        );
        assert_eq!(
            status_of(&evse(&[Faulted, Unavailable]), 20),
            EvseStatus::Outoforder
        );
    }

    #[test]
    fn last_updated_is_the_latest_of_data_and_status() {
        let ctx = RenderContext {
            country_code: "NL".into(),
            party_id: "CPO".into(),
            now: t(1000),
            offline_grace: GRACE,
        };
        let e = evse(&[StationStatus::Charging]);
        let (rendered, at) = render_evse(&e, &ctx);
        assert_eq!(at, t(10));
        assert_eq!(rendered.connectors[0].standard, "IEC_62196_T2");
        assert_eq!(rendered.connectors[0].id, "1");
    }
}
