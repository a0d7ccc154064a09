//! The OCPP 2.0.1 adapter of a virtual station: the wording of what it sends (TransactionEvent
//! with seqNo, connector status per EVSE) and its answers to the CSMS's calls, decoded with
//! rust-ocpp's 2.0.1 types.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_ocpp::v2_0_1::datatypes::charging_profile_type::ChargingProfileType;
use rust_ocpp::v2_0_1::enumerations::charging_profile_purpose_enum_type::ChargingProfilePurposeEnumType;
use rust_ocpp::v2_0_1::enumerations::charging_rate_unit_enum_type::ChargingRateUnitEnumType;
use rust_ocpp::v2_0_1::enumerations::message_trigger_enum_type::MessageTriggerEnumType;
use rust_ocpp::v2_0_1::enumerations::operational_status_enum_type::OperationalStatusEnumType;
use rust_ocpp::v2_0_1::enumerations::reset_enum_type::ResetEnumType;
use rust_ocpp::v2_0_1::messages as m;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

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
    match serde_json::from_value::<m::boot_notification::BootNotificationResponse>(payload.clone())
    {
        Ok(answer) => (format!("{:?}", answer.status), u64::from(answer.interval)),
        // Firmware is lenient where it can be: a status and an interval it can read are
        // enough (an interval beyond the schema's range is still an interval).
        Err(_) => match payload["status"].as_str() {
            Some(status) => (
                status.to_owned(),
                payload["interval"].as_u64().unwrap_or(60),
            ),
            None => ("Invalid".into(), 60),
        },
    }
}

/// Whether an idTokenInfo says Accepted.
pub fn token_accepted(id_token_info: &Value) -> bool {
    id_token_info["status"] == "Accepted"
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
    serde_json::from_value(payload).map_err(|e| CallFailure {
        // OCPP-J 2.0.1 §4.3: the 2.0.1 name of a payload that does not fit its schema.
        code: "FormatViolation",
        description: e.to_string(),
    })
}

fn reply(s: &str) -> Result<Value, CallFailure> {
    Ok(json!({ "status": s }))
}

fn profile_limit(profile: &ChargingProfileType) -> Option<Limit> {
    let schedule = profile.charging_schedule.first()?;
    let first = schedule
        .charging_schedule_period
        .iter()
        .min_by_key(|p| p.start_period)?;
    let value = first.limit.to_f64()?;
    Some(match schedule.charging_rate_unit {
        ChargingRateUnitEnumType::W => Limit::Watts(value),
        ChargingRateUnitEnumType::A => {
            Limit::Amps(value, first.number_phases.unwrap_or(3).max(1) as u32)
        }
    })
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
                    .find(|&i| {
                        let c = &self.connectors[i];
                        c.session.is_none()
                            && c.operative
                            && c.faulted_until.is_none()
                            && c.reservation
                                .as_ref()
                                .is_none_or(|(_, t)| *t == req.id_token.id_token)
                    });
                let Some(i) = free else {
                    return reply("Rejected");
                };
                if let Some(profile) = &req.charging_profile {
                    if let Some(limit) = profile_limit(profile) {
                        self.connectors[i]
                            .limits
                            .retain(|(id, _)| *id != profile.id);
                        self.connectors[i].limits.push((profile.id, limit));
                    }
                }
                self.start_session(
                    i,
                    req.id_token.id_token,
                    Origin::Remote(Some(req.remote_start_id)),
                );
                reply("Accepted")
            }
            "RequestStopTransaction" => {
                let req: m::request_stop_transaction::RequestStopTransactionRequest =
                    decode(payload)?;
                match self.connector_of_station_tx(&req.transaction_id) {
                    Some(i) => {
                        self.end_session(i, StopReason::Remote);
                        reply("Accepted")
                    }
                    None => reply("Rejected"),
                }
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
                let mut scheduled = false;
                for i in targets {
                    self.connectors[i].operative = operative;
                    if self.connectors[i].session.is_some() {
                        scheduled = true;
                    } else if self.connectors[i].faulted_until.is_none() {
                        let next = if operative {
                            ConnectorStatus::Available
                        } else {
                            ConnectorStatus::Unavailable
                        };
                        self.set_status(i, next);
                    }
                }
                reply(if scheduled { "Scheduled" } else { "Accepted" })
            }
            "UnlockConnector" => {
                let req: m::unlock_connector::UnlockConnectorRequest = decode(payload)?;
                match self
                    .evse_connectors(Some(req.evse_id), Some(req.connector_id))
                    .first()
                {
                    Some(&i) if req.evse_id != 0 => {
                        if self.connectors[i].session.is_some() {
                            self.end_session(i, StopReason::UnlockCommand);
                        }
                        reply("Unlocked")
                    }
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
                if format!("{:?}", req.update_type) == "Full" {
                    self.local_list.1.clear();
                }
                for entry in req.local_authorization_list.unwrap_or_default() {
                    match entry.id_token_info {
                        Some(info) => {
                            self.local_list
                                .1
                                .insert(entry.id_token.id_token, format!("{:?}", info.status));
                        }
                        None => {
                            self.local_list.1.remove(&entry.id_token.id_token);
                        }
                    }
                }
                self.local_list.0 = req.version_number;
                reply("Accepted")
            }
            "GetLocalListVersion" => Ok(json!({ "versionNumber": self.local_list.0 })),
            "SetChargingProfile" => {
                let req: m::set_charging_profile::SetChargingProfileRequest = decode(payload)?;
                let profile = req.charging_profile;
                let Some(limit) = profile_limit(&profile) else {
                    return reply("Rejected");
                };
                if req.evse_id == 0 {
                    self.station_limits.retain(|(p, _)| *p != profile.id);
                    self.station_limits.push((profile.id, limit));
                    return reply("Accepted");
                }
                let targets = self.evse_connectors(Some(req.evse_id), None);
                if targets.is_empty() {
                    return reply("Rejected");
                }
                let tx_profile = matches!(
                    profile.charging_profile_purpose,
                    ChargingProfilePurposeEnumType::TxProfile
                );
                if tx_profile
                    && targets
                        .iter()
                        .all(|&i| self.connectors[i].session.is_none())
                {
                    // K01.FR.09: a TxProfile needs a transaction.
                    return reply("Rejected");
                }
                for i in targets {
                    self.connectors[i].limits.retain(|(p, _)| *p != profile.id);
                    self.connectors[i].limits.push((profile.id, limit));
                }
                reply("Accepted")
            }
            "ClearChargingProfile" => {
                let id = payload["chargingProfileId"].as_i64().map(|v| v as i32);
                let evse = payload["chargingProfileCriteria"]["evseId"]
                    .as_i64()
                    .map(|v| v as u32);
                let mut cleared = 0;
                if evse.is_none_or(|e| e == 0) {
                    let before = self.station_limits.len();
                    self.station_limits
                        .retain(|(p, _)| id.is_some_and(|id| id != *p));
                    cleared += before - self.station_limits.len();
                }
                for c in &mut self.connectors {
                    if evse.is_some_and(|e| e != 0 && e != c.evse) {
                        continue;
                    }
                    let before = c.limits.len();
                    c.limits.retain(|(p, _)| id.is_some_and(|id| id != *p));
                    cleared += before - c.limits.len();
                }
                reply(if cleared > 0 { "Accepted" } else { "Unknown" })
            }
            "ReserveNow" => {
                let req: m::reserve_now::ReserveNowRequest = decode(payload)?;
                let candidates = self.evse_connectors(req.evse_id, None);
                let Some(&i) = candidates.first() else {
                    return reply("Rejected");
                };
                let c = &self.connectors[i];
                let answer = if c.faulted_until.is_some() {
                    "Faulted"
                } else if !c.operative {
                    "Unavailable"
                } else if c.session.is_some() || c.reservation.is_some() {
                    "Occupied"
                } else {
                    "Accepted"
                };
                if answer == "Accepted" {
                    self.connectors[i].reservation = Some((req.id, req.id_token.id_token));
                    self.set_status(i, ConnectorStatus::Reserved);
                }
                reply(answer)
            }
            "CancelReservation" => {
                let req: m::cancel_reservation::CancelReservationRequest = decode(payload)?;
                let found = self.connectors.iter().position(|c| {
                    c.reservation
                        .as_ref()
                        .is_some_and(|(id, _)| *id == req.reservation_id)
                });
                match found {
                    Some(i) => {
                        self.connectors[i].reservation = None;
                        self.set_status(i, ConnectorStatus::Available);
                        reply("Accepted")
                    }
                    None => reply("Rejected"),
                }
            }
            "DataTransfer" => reply("UnknownVendorId"),
            other => Err(CallFailure::not_implemented(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::clock::SimClock;
    use crate::metrics::Metrics;
    use crate::plan::Behaviour;
    use crate::station::{Protocol, Station, StationSpec};

    fn station() -> Station {
        let spec = StationSpec {
            id: "SIM-2".into(),
            index: 2,
            url: "ws://127.0.0.1:1/ocpp/SIM-2".into(),
            protocol: Protocol::V201,
            password: None,
            tls: None,
            evses: 2,
            connectors_per_evse: 1,
            behaviour: Behaviour::default(),
            load: None,
        };
        let (_tx, rx) = tokio::sync::watch::channel(false);
        Station::new(
            spec,
            SimClock::new(1.0),
            Arc::new(Metrics::default()),
            rx,
            None,
        )
    }

    #[test]
    fn unknown_actions_and_bad_payloads_get_their_2_0_1_codes() {
        let mut s = station();
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
        let mut s = station();
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
        let mut s = station();
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
