//! CSMS-initiated 1.6 calls: a [`Command`] becomes an action and payload built from rust-ocpp's
//! request types (so what we send matches the schema), and the station's answer is checked against
//! the response type before it becomes a [`CommandReply`].

use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types::{
    AuthorizationData, AuthorizationStatus as WireAuthorizationStatus, AvailabilityType, IdTagInfo,
    MessageTrigger, ResetRequestStatus, UpdateType,
};
use serde::Serialize;
use serde_json::Value;

use super::{decode, wire_name, Pdu};
use crate::port::{
    AuthorizationStatus, Command, CommandError, CommandReply, ConfigurationEntry, LocalListEntry,
    LocalListUpdate, ResetKind,
};

/// The 1.6 action name and request payload for a command.
pub(crate) fn encode(command: &Command) -> Result<(&'static str, Value), CommandError> {
    match command {
        Command::RemoteStart { evse, id_token, .. } => payload(
            "RemoteStartTransaction",
            m::remote_start_transaction::RemoteStartTransactionRequest {
                connector_id: evse.map(|e| e.v16_connector_id()),
                id_tag: id_token.clone(),
                charging_profile: None,
            },
        ),
        Command::RemoteStop { transaction_id, .. } => payload(
            "RemoteStopTransaction",
            m::remote_stop_transaction::RemoteStopTransactionRequest {
                transaction_id: i32::try_from(*transaction_id).map_err(|_| {
                    CommandError::Unsupported("transaction id out of the 1.6 int32 range".into())
                })?,
            },
        ),
        Command::Reset { kind } => payload(
            "Reset",
            m::reset::ResetRequest {
                kind: match kind {
                    ResetKind::Hard => ResetRequestStatus::Hard,
                    ResetKind::Soft => ResetRequestStatus::Soft,
                },
            },
        ),
        Command::ChangeAvailability { evse, operative } => payload(
            "ChangeAvailability",
            m::change_availability::ChangeAvailabilityRequest {
                connector_id: evse.v16_connector_id(),
                kind: if *operative {
                    AvailabilityType::Operative
                } else {
                    AvailabilityType::Inoperative
                },
            },
        ),
        Command::ChangeConfiguration { key, value } => payload(
            "ChangeConfiguration",
            m::change_configuration::ChangeConfigurationRequest {
                key: key.clone(),
                value: value.clone(),
            },
        ),
        Command::GetConfiguration { keys } => payload(
            "GetConfiguration",
            m::get_configuration::GetConfigurationRequest {
                key: (!keys.is_empty()).then(|| keys.clone()),
            },
        ),
        Command::UnlockConnector { evse } => payload(
            "UnlockConnector",
            m::unlock_connector::UnlockConnectorRequest {
                connector_id: evse.v16_connector_id(),
            },
        ),
        Command::TriggerMessage { message, evse } => {
            let requested_message: MessageTrigger =
                serde_json::from_value(Value::String(message.clone())).map_err(|_| {
                    CommandError::Unsupported(format!(
                        "OCPP 1.6 cannot trigger {message}; one of BootNotification, \
                         DiagnosticsStatusNotification, FirmwareStatusNotification, Heartbeat, \
                         MeterValues, StatusNotification"
                    ))
                })?;
            payload(
                "TriggerMessage",
                m::trigger_message::TriggerMessageRequest {
                    requested_message,
                    connector_id: evse.map(|e| e.v16_connector_id()),
                },
            )
        }
        Command::ClearCache => payload("ClearCache", m::clear_cache::ClearCacheRequest {}),
        Command::SetChargingProfile {
            evse_id, profile, ..
        } => super::smart_charging::set_charging_profile(*evse_id, profile),
        Command::ClearChargingProfile { criteria } => {
            super::smart_charging::clear_charging_profile(criteria)
        }
        Command::GetCompositeSchedule {
            evse_id,
            duration,
            charging_rate_unit,
        } => {
            super::smart_charging::get_composite_schedule(*evse_id, *duration, *charging_rate_unit)
        }
        Command::SendLocalList {
            version,
            update_type,
            entries,
        } => payload(
            "SendLocalList",
            m::send_local_list::SendLocalListRequest {
                list_version: *version,
                // OCPP 1.6 §6.41: an empty Full list clears the station's list; omitting the
                // field says the same and is valid whatever the station's schema version.
                local_authorization_list: if entries.is_empty() {
                    None
                } else {
                    Some(
                        entries
                            .iter()
                            .map(authorization_data)
                            .collect::<Result<_, _>>()?,
                    )
                },
                update_type: match update_type {
                    LocalListUpdate::Full => UpdateType::Full,
                    LocalListUpdate::Differential => UpdateType::Differential,
                },
            },
        ),
        Command::GetLocalListVersion => payload(
            "GetLocalListVersion",
            m::get_local_list_version::GetLocalListVersionRequest {},
        ),
        Command::ReserveNow {
            reservation_id,
            evse,
            id_token,
            group_id_token,
            expiry_date,
        } => {
            let request = m::reserve_now::ReserveNowRequest {
                // OCPP 1.6 §5.13: connectorId 0 reserves any connector of the station.
                connector_id: evse.map_or(0, |e| e.v16_connector_id()),
                expiry_date: *expiry_date,
                id_tag: id_token.clone(),
                parent_id_tag: group_id_token.clone(),
                reservation_id: *reservation_id,
            };
            validator::Validate::validate(&request)
                .map_err(|e| CommandError::Unsupported(format!("OCPP 1.6 ReserveNow: {e}")))?;
            payload("ReserveNow", request)
        }
        Command::CancelReservation { reservation_id } => payload(
            "CancelReservation",
            m::cancel_reservation::CancelReservationRequest {
                reservation_id: *reservation_id,
            },
        ),
        Command::UpdateFirmware {
            location,
            retrieve_date,
            retries,
            retry_interval,
            ..
        } => payload(
            "UpdateFirmware",
            m::update_firmware::UpdateFirmwareRequest {
                location: location.clone(),
                retries: *retries,
                retrieve_date: *retrieve_date,
                retry_interval: *retry_interval,
            },
        ),
        Command::GetDiagnostics {
            location,
            start_time,
            stop_time,
            ..
        } => payload(
            "GetDiagnostics",
            m::get_diagnostics::GetDiagnosticsRequest {
                location: location.clone(),
                retries: None,
                retry_interval: None,
                start_time: *start_time,
                stop_time: *stop_time,
            },
        ),
        Command::GetVariables { .. }
        | Command::SetVariables { .. }
        | Command::GetBaseReport { .. } => Err(CommandError::Unsupported(
            "OCPP 1.6 stations have no device model; use get-configuration and \
             change-configuration"
                .into(),
        )),
    }
}

/// A 1.6 local list entry: idTag of at most 20 characters (OCPP 1.6 §7.28 IdToken), idTagInfo
/// absent when a Differential update removes the token (§6.41).
fn authorization_data(entry: &LocalListEntry) -> Result<AuthorizationData, CommandError> {
    let data = AuthorizationData {
        id_tag: entry.id_token.clone(),
        id_tag_info: entry.status.map(|status| IdTagInfo {
            expiry_date: entry.expiry_date,
            parent_id_tag: entry.group_id_token.clone(),
            status: match status {
                AuthorizationStatus::Accepted => WireAuthorizationStatus::Accepted,
                AuthorizationStatus::Blocked => WireAuthorizationStatus::Blocked,
                AuthorizationStatus::Expired => WireAuthorizationStatus::Expired,
                AuthorizationStatus::Invalid => WireAuthorizationStatus::Invalid,
                AuthorizationStatus::ConcurrentTx => WireAuthorizationStatus::ConcurrentTx,
            },
        }),
    };
    validator::Validate::validate(&data)
        .and_then(|()| {
            data.id_tag_info
                .as_ref()
                .map_or(Ok(()), validator::Validate::validate)
        })
        .map_err(|e| CommandError::Unsupported(format!("OCPP 1.6 local list entry: {e}")))?;
    Ok(data)
}

fn payload<T: Serialize>(
    action: &'static str,
    request: T,
) -> Result<(&'static str, Value), CommandError> {
    serde_json::to_value(request)
        .map(|v| (action, v))
        .map_err(|e| CommandError::Unsupported(e.to_string()))
}

/// Checks the station's answer to `action` and translates it.
pub(crate) fn decode_reply(
    station_id: &str,
    action: &str,
    reply: Value,
) -> Result<CommandReply, CommandError> {
    fn status<T: Pdu>(
        station_id: &str,
        reply: Value,
        get: impl FnOnce(T) -> String,
    ) -> Result<CommandReply, CommandError> {
        let parsed: T =
            decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))?;
        Ok(CommandReply::Status {
            status: get(parsed),
        })
    }
    match action {
        "RemoteStartTransaction" => status(
            station_id,
            reply,
            |r: m::remote_start_transaction::RemoteStartTransactionResponse| wire_name(&r.status),
        ),
        "RemoteStopTransaction" => status(
            station_id,
            reply,
            |r: m::remote_stop_transaction::RemoteStopTransactionResponse| wire_name(&r.status),
        ),
        "Reset" => status(station_id, reply, |r: m::reset::ResetResponse| {
            wire_name(&r.status)
        }),
        "ChangeAvailability" => status(
            station_id,
            reply,
            |r: m::change_availability::ChangeAvailabilityResponse| wire_name(&r.status),
        ),
        "ChangeConfiguration" => status(
            station_id,
            reply,
            |r: m::change_configuration::ChangeConfigurationResponse| wire_name(&r.status),
        ),
        "UnlockConnector" => status(
            station_id,
            reply,
            |r: m::unlock_connector::UnlockConnectorResponse| wire_name(&r.status),
        ),
        "TriggerMessage" => status(
            station_id,
            reply,
            |r: m::trigger_message::TriggerMessageResponse| wire_name(&r.status),
        ),
        "ClearCache" => status(
            station_id,
            reply,
            |r: m::clear_cache::ClearCacheResponse| wire_name(&r.status),
        ),
        "SendLocalList" => status(
            station_id,
            reply,
            |r: m::send_local_list::SendLocalListResponse| wire_name(&r.status),
        ),
        "ReserveNow" => status(
            station_id,
            reply,
            |r: m::reserve_now::ReserveNowResponse| wire_name(&r.status),
        ),
        "CancelReservation" => status(
            station_id,
            reply,
            |r: m::cancel_reservation::CancelReservationResponse| wire_name(&r.status),
        ),
        // OCPP 1.6 §6.53: UpdateFirmware.conf is empty; the answer itself is the acceptance.
        "UpdateFirmware" => status(
            station_id,
            reply,
            |_: m::update_firmware::UpdateFirmwareResponse| "Accepted".to_owned(),
        ),
        "GetLocalListVersion" => {
            let r: m::get_local_list_version::GetLocalListVersionResponse =
                decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))?;
            Ok(CommandReply::LocalListVersion {
                list_version: r.list_version,
            })
        }
        "GetDiagnostics" => {
            let r: m::get_diagnostics::GetDiagnosticsResponse =
                decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))?;
            Ok(CommandReply::Log {
                status: None,
                file_name: r.file_name,
            })
        }
        "GetConfiguration" => {
            let r: m::get_configuration::GetConfigurationResponse =
                decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))?;
            Ok(CommandReply::Configuration {
                configuration_key: r
                    .configuration_key
                    .unwrap_or_default()
                    .into_iter()
                    .map(|kv| ConfigurationEntry {
                        key: kv.key,
                        readonly: kv.readonly,
                        value: kv.value,
                    })
                    .collect(),
                unknown_key: r.unknown_key.unwrap_or_default(),
            })
        }
        other => {
            super::smart_charging::decode_reply(station_id, other, reply).unwrap_or_else(|| {
                Err(CommandError::InvalidReply(format!(
                    "no decoder for {other}"
                )))
            })
        }
    }
}

impl Pdu for m::send_local_list::SendLocalListResponse {}
impl Pdu for m::get_local_list_version::GetLocalListVersionResponse {}
impl Pdu for m::reserve_now::ReserveNowResponse {}
impl Pdu for m::cancel_reservation::CancelReservationResponse {}
impl Pdu for m::update_firmware::UpdateFirmwareResponse {}
impl Pdu for m::get_diagnostics::GetDiagnosticsResponse {
    fn check(&self) -> Result<(), String> {
        validator::Validate::validate(self).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::EvseRef;
    use serde_json::json;

    #[test]
    fn remote_start_addresses_the_1_6_connector() {
        let (action, payload) = encode(&Command::RemoteStart {
            evse: Some(EvseRef {
                evse_id: 2,
                connector_id: 1,
            }),
            id_token: "TAG1".into(),
            remote_start_id: Some(7),
        })
        .unwrap();
        assert_eq!(action, "RemoteStartTransaction");
        assert_eq!(payload, json!({"connectorId": 2, "idTag": "TAG1"}));
    }

    #[test]
    fn change_availability_uses_the_1_6_type_names() {
        let (_, payload) = encode(&Command::ChangeAvailability {
            evse: EvseRef {
                evse_id: 0,
                connector_id: 0,
            },
            operative: false,
        })
        .unwrap();
        assert_eq!(payload, json!({"connectorId": 0, "type": "Inoperative"}));
    }

    #[test]
    fn a_differential_removal_has_no_id_tag_info_and_long_tags_are_refused() {
        let entry = |id: &str| LocalListEntry {
            id_token: id.into(),
            status: None,
            expiry_date: None,
            group_id_token: None,
        };
        let (action, payload) = encode(&Command::SendLocalList {
            version: 2,
            update_type: LocalListUpdate::Differential,
            entries: vec![entry("TAG")],
        })
        .unwrap();
        assert_eq!(action, "SendLocalList");
        assert_eq!(
            payload,
            json!({"listVersion": 2, "updateType": "Differential",
                   "localAuthorizationList": [{"idTag": "TAG"}]})
        );
        // OCPP 1.6 §7.28: idTag is CiString20.
        assert!(matches!(
            encode(&Command::SendLocalList {
                version: 3,
                update_type: LocalListUpdate::Full,
                entries: vec![entry(&"X".repeat(21))],
            }),
            Err(CommandError::Unsupported(_))
        ));
    }

    #[test]
    fn unknown_trigger_is_refused_before_sending() {
        let err = encode(&Command::TriggerMessage {
            message: "SignCertificate".into(),
            evse: None,
        })
        .unwrap_err();
        assert!(matches!(err, CommandError::Unsupported(_)));
    }

    #[test]
    fn replies_are_checked_against_the_schema() {
        assert_eq!(
            decode_reply("CP", "Reset", json!({"status": "Accepted"})),
            Ok(CommandReply::Status {
                status: "Accepted".into()
            })
        );
        assert!(matches!(
            decode_reply("CP", "Reset", json!({"status": "Maybe"})),
            Err(CommandError::InvalidReply(_))
        ));
        assert_eq!(
            decode_reply(
                "CP",
                "GetConfiguration",
                json!({"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"}], "unknownKey": ["Foo"]})
            ),
            Ok(CommandReply::Configuration {
                configuration_key: vec![ConfigurationEntry {
                    key: "HeartbeatInterval".into(),
                    readonly: false,
                    value: Some("300".into())
                }],
                unknown_key: vec!["Foo".into()],
            })
        );
    }
}
