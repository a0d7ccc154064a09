//! CSMS-initiated 1.6 calls: a [`Command`] becomes an action and payload built from rust-ocpp's
//! request types (so what we send matches the schema), and the station's answer is checked against
//! the response type before it becomes a [`CommandReply`].

use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types::{AvailabilityType, MessageTrigger, ResetRequestStatus};
use serde::Serialize;
use serde_json::Value;

use super::{decode, wire_name, Pdu};
use crate::port::{Command, CommandError, CommandReply, ConfigurationEntry, ResetKind};

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
        Command::GetVariables { .. }
        | Command::SetVariables { .. }
        | Command::GetBaseReport { .. } => Err(CommandError::Unsupported(
            "OCPP 1.6 stations have no device model; use get-configuration and \
             change-configuration"
                .into(),
        )),
    }
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
        other => Err(CommandError::InvalidReply(format!(
            "no decoder for {other}"
        ))),
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
