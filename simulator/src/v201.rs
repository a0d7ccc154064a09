//! The OCPP 2.0.1 adapter of a virtual station: the wording of what it sends (TransactionEvent
//! with seqNo, connector status per EVSE) and its answers to the CSMS's calls, decoded with
//! rust-ocpp's 2.0.1 types.

use chrono::{DateTime, Utc};
use rust_ocpp::v2_0_1::datatypes::charging_profile_type::ChargingProfileType;
use rust_ocpp::v2_0_1::enumerations::charging_profile_purpose_enum_type::ChargingProfilePurposeEnumType;
use rust_ocpp::v2_0_1::enumerations::charging_rate_unit_enum_type::ChargingRateUnitEnumType;
use rust_ocpp::v2_0_1::enumerations::message_trigger_enum_type::MessageTriggerEnumType;
use rust_ocpp::v2_0_1::enumerations::operational_status_enum_type::OperationalStatusEnumType;
use rust_ocpp::v2_0_1::enumerations::reset_enum_type::ResetEnumType;
use rust_ocpp::v2_0_1::messages as m;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::calls::{self, reply};
use crate::charging::Limit;
use crate::clock::timestamp;
use crate::station::{
    CallFailure, Connector, ConnectorStatus, Origin, Station, StationSpec, StopReason, Triggered,
};
use crate::store::Change;

/// BootNotification request; `after_reset` gives the reason RemoteReset instead of PowerUp.
pub fn boot(spec: &StationSpec, after_reset: bool) -> Value {
    json!({
        "reason": if after_reset { "RemoteReset" } else { "PowerUp" },
        "chargingStation": {
            "vendorName": "OpenSimulator",
            "model": "SIM-AC22",
            "serialNumber": spec.id,
            "firmwareVersion": env!("CARGO_PKG_VERSION"),
        },
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

fn id_token(token: &str) -> Value {
    json!({"idToken": token, "type": "ISO14443"})
}

/// StatusNotification of one connector (2.0.1 has no Preparing/Charging/Finishing: Occupied).
pub fn status(c: &Connector, at: DateTime<Utc>) -> Value {
    let status = match c.status {
        ConnectorStatus::Available => "Available",
        ConnectorStatus::Preparing | ConnectorStatus::Charging | ConnectorStatus::Finishing => {
            "Occupied"
        }
        ConnectorStatus::Reserved => "Reserved",
        ConnectorStatus::Unavailable => "Unavailable",
        ConnectorStatus::Faulted => "Faulted",
    };
    json!({
        "timestamp": timestamp(at),
        "connectorStatus": status,
        "evseId": c.evse,
        "connectorId": c.connector,
    })
}

/// Authorize request.
pub fn authorize(token: &str) -> Value {
    json!({ "idToken": id_token(token) })
}

fn meter_value(c: &Connector, at: DateTime<Utc>, context: &str, with_power: bool) -> Value {
    let mut sampled = vec![json!({
        "value": c.register_wh,
        "context": context,
        "measurand": "Energy.Active.Import.Register",
        "unitOfMeasure": {"unit": "Wh"},
    })];
    if with_power {
        let power = c.session.as_ref().map_or(0.0, |s| s.power_w).round() as i64;
        sampled.push(json!({
            "value": power,
            "context": context,
            "measurand": "Power.Active.Import",
            "unitOfMeasure": {"unit": "W"},
        }));
    }
    json!([{ "timestamp": timestamp(at), "sampledValue": sampled }])
}

fn event(c: &mut Connector, kind: &str, trigger: &str, at: DateTime<Utc>) -> Value {
    let (tx_id, seq_no) = match c.session.as_mut() {
        Some(s) => {
            let seq = s.seq_no;
            s.seq_no += 1;
            (s.station_tx_id.clone(), seq)
        }
        None => (String::new(), 0),
    };
    json!({
        "eventType": kind,
        "timestamp": timestamp(at),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id, "chargingState": "Charging"},
        "evse": {"id": c.evse, "connectorId": c.connector},
    })
}

/// TransactionEvent Started of the session on `c`.
pub fn started(c: &mut Connector, at: DateTime<Utc>) -> Value {
    let (trigger, remote, token, reservation) = match c.session.as_ref() {
        Some(s) => (
            match s.origin {
                Origin::Remote(_) => "RemoteStart",
                _ => "Authorized",
            },
            match s.origin {
                Origin::Remote(id) => id,
                _ => None,
            },
            s.id_token.clone(),
            s.reservation_id,
        ),
        None => ("Authorized", None, String::new(), None),
    };
    let mut payload = event(c, "Started", trigger, at);
    payload["idToken"] = id_token(&token);
    payload["meterValue"] = meter_value(c, at, "Transaction.Begin", false);
    if let Some(id) = remote {
        payload["transactionInfo"]["remoteStartId"] = json!(id);
    }
    if let Some(id) = reservation {
        payload["reservationId"] = json!(id);
    }
    payload
}

/// TransactionEvent Updated with a periodic meter value.
pub fn updated(c: &mut Connector, at: DateTime<Utc>) -> Value {
    let mut payload = event(c, "Updated", "MeterValuePeriodic", at);
    payload["meterValue"] = meter_value(c, at, "Sample.Periodic", true);
    payload
}

/// TransactionEvent Ended.
pub fn ended(c: &mut Connector, reason: StopReason, at: DateTime<Utc>) -> Value {
    let trigger = match reason {
        StopReason::EvDisconnected => "EVCommunicationLost",
        StopReason::Remote => "RemoteStop",
        StopReason::SoftReset | StopReason::HardReset => "ResetCommand",
        StopReason::DeAuthorized => "Deauthorized",
        StopReason::UnlockCommand => "UnlockCommand",
        StopReason::Other => "AbnormalCondition",
        StopReason::Local => "StopAuthorized",
    };
    let mut payload = event(c, "Ended", trigger, at);
    payload["transactionInfo"]["chargingState"] = json!("Idle");
    payload["transactionInfo"]["stoppedReason"] = json!(stopped_reason(reason));
    payload["meterValue"] = meter_value(c, at, "Transaction.End", false);
    payload
}

/// The 2.0.1 stoppedReason of a stop.
pub fn stopped_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EvDisconnected => "EVDisconnected",
        StopReason::Remote => "Remote",
        StopReason::SoftReset | StopReason::HardReset => "ImmediateReset",
        StopReason::DeAuthorized => "DeAuthorized",
        StopReason::UnlockCommand | StopReason::Other => "Other",
        StopReason::Local => "Local",
    }
}

fn decode<T: DeserializeOwned>(payload: Value) -> Result<T, CallFailure> {
    // OCPP-J 2.0.1 §4.3: the 2.0.1 name of a payload that does not fit its schema.
    calls::decode(payload, "FormatViolation")
}

fn profile_limit(profile: &ChargingProfileType) -> Option<Limit> {
    let schedule = profile.charging_schedule.first()?;
    let first = schedule
        .charging_schedule_period
        .iter()
        .min_by_key(|p| p.start_period)?;
    let watts = matches!(schedule.charging_rate_unit, ChargingRateUnitEnumType::W);
    calls::period_limit(&first.limit, watts, first.number_phases)
}

impl Station {
    /// Connector indices of EVSE `evse` (all when 0 or None), optionally one connector.
    fn evse_connectors(&self, evse: Option<i32>, connector: Option<i32>) -> Vec<usize> {
        (0..self.connectors.len())
            .filter(|&i| {
                let c = &self.connectors[i];
                evse.is_none_or(|e| e == 0 || c.evse as i32 == e)
                    && connector.is_none_or(|n| c.connector as i32 == n)
            })
            .collect()
    }

    /// Answers one CSMS CALL of OCPP 2.0.1.
    pub fn v201_call(&mut self, action: &str, payload: Value) -> Result<Value, CallFailure> {
        match action {
            "RequestStartTransaction" => {
                let req: m::request_start_transaction::RequestStartTransactionRequest =
                    decode(payload)?;
                let free = self
                    .evse_connectors(req.evse_id, None)
                    .into_iter()
                    .find(|&i| self.can_start_for(i, &req.id_token.id_token));
                let Some(i) = free else {
                    return reply("Rejected");
                };
                let profile = req
                    .charging_profile
                    .as_ref()
                    .and_then(|profile| Some((profile.id, profile_limit(profile)?)));
                reply(self.remote_start(
                    i,
                    req.id_token.id_token,
                    profile,
                    Origin::Remote(Some(req.remote_start_id)),
                ))
            }
            "RequestStopTransaction" => {
                let req: m::request_stop_transaction::RequestStopTransactionRequest =
                    decode(payload)?;
                reply(self.remote_stop(self.connector_of_station_tx(&req.transaction_id)))
            }
            "Reset" => {
                let req: m::reset::ResetRequest = decode(payload)?;
                if req.evse_id.is_some_and(|e| e != 0) {
                    // Resetting one EVSE is optional (B11.FR.08); this station does not.
                    return reply("Rejected");
                }
                let reason = match req.request_type {
                    ResetEnumType::Immediate => StopReason::HardReset,
                    ResetEnumType::OnIdle => StopReason::SoftReset,
                };
                self.schedule_reset(reason);
                reply("Accepted")
            }
            "ChangeAvailability" => {
                let req: m::change_availability::ChangeAvailabilityRequest = decode(payload)?;
                let targets = match &req.evse {
                    Some(e) => self.evse_connectors(Some(e.id), e.connector_id),
                    None => (0..self.connectors.len()).collect(),
                };
                if targets.is_empty() {
                    return reply("Rejected");
                }
                let operative =
                    matches!(req.operational_status, OperationalStatusEnumType::Operative);
                reply(self.change_availability(targets, operative))
            }
            "UnlockConnector" => {
                let req: m::unlock_connector::UnlockConnectorRequest = decode(payload)?;
                match self
                    .evse_connectors(Some(req.evse_id), Some(req.connector_id))
                    .first()
                {
                    Some(&i) if req.evse_id != 0 => reply(self.unlock(i)),
                    _ => reply("UnknownConnector"),
                }
            }
            "TriggerMessage" => {
                let req: m::trigger_message::TriggerMessageRequest = decode(payload)?;
                let connector = match &req.evse {
                    Some(e) if e.id != 0 => {
                        match self.evse_connectors(Some(e.id), e.connector_id).first() {
                            Some(&i) => Some(i),
                            None => return reply("Rejected"),
                        }
                    }
                    _ => None,
                };
                let what = match req.requested_message {
                    MessageTriggerEnumType::BootNotification => Triggered::Boot,
                    MessageTriggerEnumType::Heartbeat => Triggered::Heartbeat,
                    MessageTriggerEnumType::StatusNotification => Triggered::Status,
                    MessageTriggerEnumType::MeterValues
                    | MessageTriggerEnumType::TransactionEvent => Triggered::MeterValues,
                    _ => return reply("NotImplemented"),
                };
                self.trigger(what, connector);
                reply("Accepted")
            }
            "GetVariables" => {
                let req: m::get_variables::GetVariablesRequest = decode(payload)?;
                let results: Vec<Value> = req
                    .get_variable_data
                    .iter()
                    .map(|item| {
                        let component = &item.component.name;
                        let variable = &item.variable.name;
                        let mut result = json!({
                            "component": {"name": component},
                            "variable": {"name": variable},
                        });
                        match self.store.by_variable(component, variable) {
                            Some(s) => {
                                result["attributeStatus"] = json!("Accepted");
                                result["attributeValue"] = json!(s.value);
                            }
                            None if self.store.knows_component(component) => {
                                result["attributeStatus"] = json!("UnknownVariable")
                            }
                            None => result["attributeStatus"] = json!("UnknownComponent"),
                        }
                        result
                    })
                    .collect();
                Ok(json!({ "getVariableResult": results }))
            }
            "SetVariables" => {
                let req: m::set_variables::SetVariablesRequest = decode(payload)?;
                let mut results = Vec::new();
                for item in req.set_variable_data {
                    let component = item.component.name;
                    let variable = item.variable.name;
                    let known = self.store.knows_component(&component);
                    let status =
                        match self
                            .store
                            .set_variable(&component, &variable, &item.attribute_value)
                        {
                            Change::Accepted => "Accepted",
                            Change::Rejected => "Rejected",
                            Change::Unknown if known => "UnknownVariable",
                            Change::Unknown => "UnknownComponent",
                        };
                    results.push(json!({
                        "attributeStatus": status,
                        "component": {"name": component},
                        "variable": {"name": variable},
                    }));
                }
                Ok(json!({ "setVariableResult": results }))
            }
            "ClearCache" => reply("Accepted"),
            "SendLocalList" => {
                let req: m::send_local_list::SendLocalListRequest = decode(payload)?;
                let entries = req.local_authorization_list.unwrap_or_default();
                reply(self.update_local_list(
                    format!("{:?}", req.update_type) == "Full",
                    req.version_number,
                    entries.into_iter().map(|entry| {
                        let status = entry.id_token_info.map(|info| format!("{:?}", info.status));
                        (entry.id_token.id_token, status)
                    }),
                ))
            }
            "GetLocalListVersion" => Ok(json!({ "versionNumber": self.local_list.0 })),
            "SetChargingProfile" => {
                let req: m::set_charging_profile::SetChargingProfileRequest = decode(payload)?;
                let profile = req.charging_profile;
                let Some(limit) = profile_limit(&profile) else {
                    return reply("Rejected");
                };
                let targets =
                    (req.evse_id != 0).then(|| self.evse_connectors(Some(req.evse_id), None));
                let tx_profile = matches!(
                    profile.charging_profile_purpose,
                    ChargingProfilePurposeEnumType::TxProfile
                );
                reply(self.set_profile(targets, profile.id, limit, tx_profile))
            }
            "ClearChargingProfile" => {
                let id = payload["chargingProfileId"].as_i64().map(|v| v as i32);
                let evse = payload["chargingProfileCriteria"]["evseId"]
                    .as_i64()
                    .map(|v| v as u32);
                reply(self.clear_profiles(|profile, on| {
                    // EVSE 0 (or none given) covers the station-wide profiles and every EVSE.
                    let in_scope = evse.is_none_or(|e| e == 0 || on.is_some_and(|c| c.evse == e));
                    in_scope && id.is_none_or(|id| id == profile)
                }))
            }
            "ReserveNow" => {
                let req: m::reserve_now::ReserveNowRequest = decode(payload)?;
                let candidates = self.evse_connectors(req.evse_id, None);
                match candidates.first() {
                    Some(&i) => reply(self.reserve(i, req.id, req.id_token.id_token)),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::calls::idle_station;
    use crate::station::Protocol;

    #[test]
    fn unknown_actions_and_bad_payloads_get_their_2_0_1_codes() {
        let mut s = idle_station(Protocol::V201);
        let err = s
            .v201_call("InstallCertificate", json!({}))
            .expect_err("unknown");
        assert_eq!(err.code, "NotImplemented");
        let err = s
            .v201_call("RequestStopTransaction", json!({"transactionId": 5}))
            .expect_err("bad payload");
        assert_eq!(err.code, "FormatViolation");
    }

    #[test]
    fn an_evse_profile_caps_only_that_evse() {
        let mut s = idle_station(Protocol::V201);
        let answer = s
            .v201_call(
                "SetChargingProfile",
                json!({"evseId": 2, "chargingProfile": {
                    "id": 9, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": [{"id": 1, "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700}]}]}}),
            )
            .expect("answered");
        assert_eq!(answer["status"], "Accepted");
        assert!(s.cap_w(0).is_infinite());
        assert_eq!(s.cap_w(1), 3700.0);
    }

    #[test]
    fn variables_read_back_what_was_set() {
        let mut s = idle_station(Protocol::V201);
        let answer = s
            .v201_call("SetVariables", json!({"setVariableData": [
                {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "15"},
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}, "attributeValue": "1"}]}))
            .expect("answered");
        assert_eq!(
            answer["setVariableResult"][0]["attributeStatus"],
            "Accepted"
        );
        assert_eq!(
            answer["setVariableResult"][1]["attributeStatus"],
            "UnknownVariable"
        );
        assert_eq!(s.store.seconds("MeterValueSampleInterval"), Some(15));
    }
}
