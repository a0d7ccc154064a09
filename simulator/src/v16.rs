//! The OCPP 1.6J adapter of a virtual station: the wording of what it sends, and its answers to
//! the CSMS's calls. Requests from the CSMS are decoded with rust-ocpp's 1.6 types.

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types::{
    AvailabilityType, ChargingProfilePurposeType, ChargingRateUnitType, MessageTrigger,
    ResetRequestStatus, UpdateType,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::calls::{self, reply};
use crate::charging::Limit;
use crate::clock::timestamp;
use crate::station::{
    CallFailure, Connector, ConnectorStatus, Origin, Outgoing, Purpose, Station, StationSpec,
    StopReason, Triggered,
};
use crate::store::Change;

/// BootNotification request.
pub fn boot(spec: &StationSpec) -> Value {
    json!({
        "chargePointVendor": "OpenSimulator",
        "chargePointModel": "SIM-AC22",
        "chargePointSerialNumber": spec.id,
        "firmwareVersion": env!("CARGO_PKG_VERSION"),
    })
}

/// Registration status and heartbeat interval of a BootNotification answer.
pub fn boot_answer(payload: &Value) -> (String, u64) {
    calls::boot_answer(
        payload,
        |answer: m::boot_notification::BootNotificationResponse| {
            (format!("{:?}", answer.status), u64::from(answer.interval))
        },
    )
}

fn status_name(status: ConnectorStatus) -> &'static str {
    match status {
        ConnectorStatus::Available => "Available",
        ConnectorStatus::Preparing => "Preparing",
        ConnectorStatus::Charging => "Charging",
        ConnectorStatus::Finishing => "Finishing",
        ConnectorStatus::Reserved => "Reserved",
        ConnectorStatus::Unavailable => "Unavailable",
        ConnectorStatus::Faulted => "Faulted",
    }
}

/// StatusNotification of one connector.
pub fn status(c: &Connector, error_code: Option<&str>, at: DateTime<Utc>) -> Value {
    json!({
        "connectorId": c.global,
        // A Faulted connector always carries an error code (1.6 §7.6); when re-reported after a
        // reconnect the original code is gone, so OtherError stands in.
        "errorCode": error_code.unwrap_or(if c.status == ConnectorStatus::Faulted {
            "OtherError"
        } else {
            "NoError"
        }),
        "status": status_name(c.status),
        "timestamp": timestamp(at),
    })
}

/// StatusNotification of connector 0, the charge point as a whole.
pub fn status_zero(at: DateTime<Utc>) -> Outgoing {
    Outgoing {
        action: "StatusNotification",
        payload: json!({"connectorId": 0, "errorCode": "NoError", "status": "Available", "timestamp": timestamp(at)}),
        durable: false,
        purpose: Purpose::Plain,
    }
}

/// Authorize request.
pub fn authorize(token: &str) -> Value {
    json!({ "idTag": token })
}

/// StartTransaction of the session on `c`.
pub fn start(c: &Connector, at: DateTime<Utc>) -> Value {
    let s = c.session.as_ref();
    let mut payload = json!({
        "connectorId": c.global,
        "idTag": s.map(|s| s.id_token.as_str()).unwrap_or_default(),
        "meterStart": c.register_wh,
        "timestamp": timestamp(at),
    });
    if let Some(reservation) = s.and_then(|s| s.reservation_id) {
        payload["reservationId"] = json!(reservation);
    }
    payload
}

fn sampled(c: &Connector, context: &str) -> Value {
    let power = c.session.as_ref().map_or(0.0, |s| s.power_w);
    json!([
        {"value": c.register_wh.to_string(), "context": context, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": format!("{power:.0}"), "context": context, "measurand": "Power.Active.Import", "unit": "W"},
    ])
}

/// MeterValues of the session on `c`; `transactionId` is filled in when sent.
pub fn meter_values(c: &Connector, at: DateTime<Utc>) -> Value {
    json!({
        "connectorId": c.global,
        "transactionId": 0,
        "meterValue": [{"timestamp": timestamp(at), "sampledValue": sampled(c, "Sample.Periodic")}],
    })
}

/// StopTransaction of the session on `c`; `transactionId` is filled in when sent.
pub fn stop(c: &Connector, reason: StopReason, at: DateTime<Utc>) -> Value {
    let token = c
        .session
        .as_ref()
        .map(|s| s.id_token.clone())
        .unwrap_or_default();
    json!({
        "transactionId": 0,
        "idTag": token,
        "meterStop": c.register_wh,
        "timestamp": timestamp(at),
        "reason": stop_reason(reason),
        "transactionData": [{"timestamp": timestamp(at), "sampledValue": sampled(c, "Transaction.End")}],
    })
}

/// The 1.6 Reason of a stop.
pub fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EvDisconnected => "EVDisconnected",
        StopReason::Remote => "Remote",
        StopReason::SoftReset => "SoftReset",
        StopReason::HardReset => "HardReset",
        StopReason::DeAuthorized => "DeAuthorized",
        StopReason::UnlockCommand => "UnlockCommand",
        StopReason::Other => "Other",
        StopReason::Local => "Local",
    }
}

fn decode<T: DeserializeOwned>(payload: Value) -> Result<T, CallFailure> {
    // OCPP-J 1.6 §4.2.3: a payload that does not fit the action's schema.
    calls::decode(payload, "FormationViolation")
}

impl Station {
    fn index_of_connector(&self, connector_id: u32) -> Option<usize> {
        self.connectors
            .iter()
            .position(|c| c.global == connector_id)
    }

    fn free_connector(&self) -> Option<usize> {
        self.connectors
            .iter()
            .position(|c| c.session.is_none() && c.operative && c.faulted_until.is_none())
    }

    /// Answers one CSMS CALL of OCPP 1.6.
    pub fn v16_call(&mut self, action: &str, payload: Value) -> Result<Value, CallFailure> {
        match action {
            "RemoteStartTransaction" => {
                let req: m::remote_start_transaction::RemoteStartTransactionRequest =
                    decode(payload)?;
                let index = match req.connector_id {
                    Some(id) => self.index_of_connector(id),
                    None => self.free_connector(),
                };
                let Some(i) = index.filter(|&i| self.can_start_for(i, &req.id_tag)) else {
                    return reply("Rejected");
                };
                let profile = req.charging_profile.as_ref().and_then(|profile| {
                    Some((profile.charging_profile_id, profile_limit(profile)?))
                });
                reply(self.remote_start(i, req.id_tag, profile, Origin::Remote(None)))
            }
            "RemoteStopTransaction" => {
                let req: m::remote_stop_transaction::RemoteStopTransactionRequest =
                    decode(payload)?;
                reply(self.remote_stop(self.connector_of_tx(req.transaction_id)))
            }
            "Reset" => {
                let req: m::reset::ResetRequest = decode(payload)?;
                let reason = match req.kind {
                    ResetRequestStatus::Hard => StopReason::HardReset,
                    ResetRequestStatus::Soft => StopReason::SoftReset,
                };
                self.schedule_reset(reason);
                reply("Accepted")
            }
            "ChangeAvailability" => {
                let req: m::change_availability::ChangeAvailabilityRequest = decode(payload)?;
                let targets: Vec<usize> = if req.connector_id == 0 {
                    (0..self.connectors.len()).collect()
                } else {
                    match self.index_of_connector(req.connector_id) {
                        Some(i) => vec![i],
                        None => return reply("Rejected"),
                    }
                };
                let operative = matches!(req.kind, AvailabilityType::Operative);
                reply(self.change_availability(targets, operative))
            }
            "UnlockConnector" => {
                let req: m::unlock_connector::UnlockConnectorRequest = decode(payload)?;
                match self.index_of_connector(req.connector_id) {
                    Some(i) => reply(self.unlock(i)),
                    None => reply("NotSupported"),
                }
            }
            "TriggerMessage" => {
                let req: m::trigger_message::TriggerMessageRequest = decode(payload)?;
                let connector = match req.connector_id {
                    Some(0) | None => None,
                    Some(id) => match self.index_of_connector(id) {
                        Some(i) => Some(i),
                        None => return reply("Rejected"),
                    },
                };
                let what = match req.requested_message {
                    MessageTrigger::BootNotification => Triggered::Boot,
                    MessageTrigger::Heartbeat => Triggered::Heartbeat,
                    MessageTrigger::StatusNotification => Triggered::Status,
                    MessageTrigger::MeterValues => Triggered::MeterValues,
                    _ => return reply("NotImplemented"),
                };
                self.trigger(what, connector);
                reply("Accepted")
            }
            "GetConfiguration" => {
                let req: m::get_configuration::GetConfigurationRequest = decode(payload)?;
                let keys = req.key.unwrap_or_default();
                let entry = |s: &crate::store::Setting| json!({"key": s.key, "readonly": s.readonly, "value": s.value});
                let (known, unknown): (Vec<Value>, Vec<String>) = if keys.is_empty() {
                    (self.store.all().iter().map(entry).collect(), Vec::new())
                } else {
                    let mut known = Vec::new();
                    let mut unknown = Vec::new();
                    for key in keys {
                        match self.store.by_key(&key) {
                            Some(s) => known.push(entry(s)),
                            None => unknown.push(key),
                        }
                    }
                    (known, unknown)
                };
                let mut answer = json!({ "configurationKey": known });
                if !unknown.is_empty() {
                    answer["unknownKey"] = json!(unknown);
                }
                Ok(answer)
            }
            "ChangeConfiguration" => {
                let req: m::change_configuration::ChangeConfigurationRequest = decode(payload)?;
                reply(match self.store.set_key(&req.key, &req.value) {
                    Change::Accepted => "Accepted",
                    Change::Rejected => "Rejected",
                    Change::Unknown => "NotSupported",
                })
            }
            "ClearCache" => reply("Accepted"),
            "SendLocalList" => {
                let req: m::send_local_list::SendLocalListRequest = decode(payload)?;
                let entries = req.local_authorization_list.unwrap_or_default();
                reply(self.update_local_list(
                    matches!(req.update_type, UpdateType::Full),
                    req.list_version,
                    entries.into_iter().map(|entry| {
                        let status = entry.id_tag_info.map(|info| format!("{:?}", info.status));
                        (entry.id_tag, status)
                    }),
                ))
            }
            "GetLocalListVersion" => Ok(json!({ "listVersion": self.local_list.0 })),
            "SetChargingProfile" => {
                let req: m::set_charging_profile::SetChargingProfileRequest = decode(payload)?;
                let profile = req.cs_charging_profiles;
                let Some(limit) = profile_limit(&profile) else {
                    return reply("Rejected");
                };
                let targets = (req.connector_id != 0).then(|| {
                    u32::try_from(req.connector_id)
                        .ok()
                        .and_then(|c| self.index_of_connector(c))
                        .into_iter()
                        .collect()
                });
                let tx_profile = matches!(
                    profile.charging_profile_purpose,
                    ChargingProfilePurposeType::TxProfile
                );
                reply(self.set_profile(targets, profile.charging_profile_id, limit, tx_profile))
            }
            "ClearChargingProfile" => {
                let req: m::clear_charging_profile::ClearChargingProfileRequest = decode(payload)?;
                reply(self.clear_profiles(|profile, on| {
                    // Connector 0 is the charge point as a whole.
                    let connector = on.map_or(0, |c| c.global as i32);
                    req.id.is_none_or(|id| id == profile)
                        && req.connector_id.is_none_or(|c| c == connector)
                }))
            }
            "ReserveNow" => {
                let req: m::reserve_now::ReserveNowRequest = decode(payload)?;
                match self.index_of_connector(req.connector_id) {
                    Some(i) => reply(self.reserve(i, req.reservation_id, req.id_tag)),
                    None => reply("Rejected"),
                }
            }
            "CancelReservation" => {
                let req: m::cancel_reservation::CancelReservationRequest = decode(payload)?;
                reply(self.cancel_reservation(req.reservation_id))
            }
            "DataTransfer" => reply("UnknownVendorId"),
            other => Err(CallFailure::not_implemented(other)),
        }
    }
}

/// The limit in force at the start of a 1.6 profile's schedule.
fn profile_limit(profile: &rust_ocpp::v1_6::types::ChargingProfile) -> Option<Limit> {
    let schedule = &profile.charging_schedule;
    let first = schedule
        .charging_schedule_period
        .iter()
        .min_by_key(|p| p.start_period)?;
    let watts = matches!(schedule.charging_rate_unit, ChargingRateUnitType::W);
    calls::period_limit(&first.limit, watts, first.number_phases)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::calls::idle_station;
    use crate::station::Protocol;

    #[test]
    fn unknown_actions_are_not_implemented() {
        let mut s = idle_station(Protocol::V16);
        let err = s.v16_call("FlyToTheMoon", json!({})).expect_err("unknown");
        assert_eq!(err.code, "NotImplemented");
        let err = s
            .v16_call("Reset", json!({"type": "Sideways"}))
            .expect_err("bad payload");
        assert_eq!(err.code, "FormationViolation");
    }

    #[test]
    fn a_charge_point_max_profile_caps_the_power() {
        let mut s = idle_station(Protocol::V16);
        assert!(s.cap_w(0).is_infinite());
        let answer = s
            .v16_call(
                "SetChargingProfile",
                json!({"connectorId": 0, "csChargingProfiles": {
                    "chargingProfileId": 7, "stackLevel": 0,
                    "chargingProfilePurpose": "ChargePointMaxProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 10, "numberPhases": 3}]}}}),
            )
            .expect("answered");
        assert_eq!(answer["status"], "Accepted");
        assert_eq!(s.cap_w(1), 10.0 * 230.0 * 3.0);
        let answer = s
            .v16_call("ClearChargingProfile", json!({"id": 7}))
            .expect("answered");
        assert_eq!(answer["status"], "Accepted");
        assert!(s.cap_w(1).is_infinite());
    }

    #[test]
    fn reservations_and_local_lists_are_kept() {
        let mut s = idle_station(Protocol::V16);
        let answer = s
            .v16_call("ReserveNow", json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T", "reservationId": 3}))
            .expect("answered");
        assert_eq!(answer["status"], "Accepted");
        let answer = s
            .v16_call("ReserveNow", json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "U", "reservationId": 4}))
            .expect("answered");
        assert_eq!(answer["status"], "Occupied");
        let answer = s
            .v16_call("CancelReservation", json!({"reservationId": 3}))
            .expect("answered");
        assert_eq!(answer["status"], "Accepted");
        s.v16_call("SendLocalList", json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": [{"idTag": "T", "idTagInfo": {"status": "Accepted"}}]}))
            .expect("answered");
        let answer = s
            .v16_call("GetLocalListVersion", json!({}))
            .expect("answered");
        assert_eq!(answer["listVersion"], 5);
    }
}
