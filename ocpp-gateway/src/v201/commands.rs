//! CSMS-initiated 2.0.1 calls: a [`Command`] becomes an action and payload built from rust-ocpp's
//! 2.0.1 request types, and the station's answer is checked against the response type before it
//! becomes a [`CommandReply`]. Commands that only 1.6 has (ChangeConfiguration, GetConfiguration)
//! are refused before anything is sent.

use rust_ocpp::v2_0_1::datatypes::authorization_data::AuthorizationData;
use rust_ocpp::v2_0_1::datatypes::component_type::ComponentType;
use rust_ocpp::v2_0_1::datatypes::evse_type::EVSEType;
use rust_ocpp::v2_0_1::datatypes::firmware_type::FirmwareType;
use rust_ocpp::v2_0_1::datatypes::get_variable_data_type::GetVariableDataType;
use rust_ocpp::v2_0_1::datatypes::id_token_type::IdTokenType;
use rust_ocpp::v2_0_1::datatypes::log_parameters_type::LogParametersType;
use rust_ocpp::v2_0_1::datatypes::set_variable_data_type::SetVariableDataType;
use rust_ocpp::v2_0_1::datatypes::variable_type::VariableType;
use rust_ocpp::v2_0_1::enumerations::attribute_enum_type::AttributeEnumType;
use rust_ocpp::v2_0_1::enumerations::id_token_enum_type::IdTokenEnumType;
use rust_ocpp::v2_0_1::enumerations::log_enum_type::LogEnumType;
use rust_ocpp::v2_0_1::enumerations::message_trigger_enum_type::MessageTriggerEnumType;
use rust_ocpp::v2_0_1::enumerations::operational_status_enum_type::OperationalStatusEnumType;
use rust_ocpp::v2_0_1::enumerations::report_base_enum_type::ReportBaseEnumType;
use rust_ocpp::v2_0_1::enumerations::reset_enum_type::ResetEnumType;
use rust_ocpp::v2_0_1::enumerations::update_enum_type::UpdateEnumType;
use rust_ocpp::v2_0_1::messages as m;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::handlers::{check_id_token, id_token_info};
use super::{decode, max_len, wire_name, Pdu};
use crate::port::{
    Command, CommandError, CommandReply, EvseRef, LocalListEntry, LocalListUpdate, ResetKind,
    TokenVerdict, VariableRef, VariableResult,
};

/// The 2.0.1 action name and request payload for a command.
pub(crate) fn encode(command: &Command) -> Result<(&'static str, Value), CommandError> {
    match command {
        Command::RemoteStart {
            evse,
            id_token,
            remote_start_id,
        } => payload(
            "RequestStartTransaction",
            m::request_start_transaction::RequestStartTransactionRequest {
                evse_id: evse.map(|e| e.evse_id).filter(|id| *id > 0),
                // 2.0.1 F01: the station echoes remoteStartId in the TransactionEvent it starts.
                remote_start_id: remote_start_id.ok_or_else(|| {
                    CommandError::Unsupported("OCPP 2.0.1 needs a remoteStartId".into())
                })?,
                // A token the operator hands over is the CSMS's own: type Central.
                id_token: IdTokenType {
                    id_token: id_token.clone(),
                    kind: IdTokenEnumType::Central,
                    additional_info: None,
                },
                charging_profile: None,
                group_id_token: None,
            },
        ),
        Command::RemoteStop {
            transaction_id,
            station_transaction_id,
        } => payload(
            "RequestStopTransaction",
            m::request_stop_transaction::RequestStopTransactionRequest {
                transaction_id: station_transaction_id.clone().ok_or_else(|| {
                    CommandError::Unsupported(format!(
                        "transaction {transaction_id} has no OCPP 2.0.1 transaction id"
                    ))
                })?,
            },
        ),
        Command::Reset { kind } => payload(
            "Reset",
            m::reset::ResetRequest {
                // A hard reset reboots at once; a soft one waits for transactions to end.
                request_type: match kind {
                    ResetKind::Hard => ResetEnumType::Immediate,
                    ResetKind::Soft => ResetEnumType::OnIdle,
                },
                evse_id: None,
            },
        ),
        Command::ChangeAvailability { evse, operative } => payload(
            "ChangeAvailability",
            m::change_availability::ChangeAvailabilityRequest {
                operational_status: if *operative {
                    OperationalStatusEnumType::Operative
                } else {
                    OperationalStatusEnumType::Inoperative
                },
                // No EVSE means the whole station; an EVSE without connector means all of it.
                evse: (evse.evse_id > 0).then_some(EVSEType {
                    id: evse.evse_id,
                    connector_id: None,
                }),
            },
        ),
        Command::UnlockConnector { evse } => payload(
            "UnlockConnector",
            m::unlock_connector::UnlockConnectorRequest {
                evse_id: evse.evse_id,
                connector_id: evse.connector_id.max(1),
            },
        ),
        Command::TriggerMessage { message, evse } => {
            let requested_message: MessageTriggerEnumType =
                parse_enum(message).ok_or_else(|| {
                    CommandError::Unsupported(format!(
                        "OCPP 2.0.1 cannot trigger {message}; one of BootNotification, \
                         LogStatusNotification, FirmwareStatusNotification, Heartbeat, \
                         MeterValues, SignChargingStationCertificate, SignV2GCertificate, \
                         StatusNotification, TransactionEvent, SignCombinedCertificate, \
                         PublishFirmwareStatusNotification"
                    ))
                })?;
            payload(
                "TriggerMessage",
                m::trigger_message::TriggerMessageRequest {
                    requested_message,
                    evse: evse.filter(|e| e.evse_id > 0).map(|e| EVSEType {
                        id: e.evse_id,
                        connector_id: None,
                    }),
                },
            )
        }
        Command::ClearCache => payload("ClearCache", m::clear_cache::ClearCacheRequest {}),
        Command::SetChargingProfile {
            evse_id,
            profile,
            station_transaction_id,
        } => super::smart_charging::set_charging_profile(
            *evse_id,
            profile,
            station_transaction_id.as_deref(),
        ),
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
        Command::GetVariables { variables } => payload(
            "GetVariables",
            m::get_variables::GetVariablesRequest {
                get_variable_data: variables
                    .iter()
                    .map(|v| {
                        Ok(GetVariableDataType {
                            attribute_type: attribute_type(v)?,
                            component: component(v),
                            variable: variable(v),
                        })
                    })
                    .collect::<Result<_, CommandError>>()?,
            },
        ),
        Command::SetVariables { variables } => payload(
            "SetVariables",
            m::set_variables::SetVariablesRequest {
                set_variable_data: variables
                    .iter()
                    .map(|s| {
                        Ok(SetVariableDataType {
                            attribute_type: attribute_type(&s.variable)?,
                            attribute_value: s.value.clone(),
                            component: component(&s.variable),
                            variable: variable(&s.variable),
                        })
                    })
                    .collect::<Result<_, CommandError>>()?,
            },
        ),
        Command::GetBaseReport {
            request_id,
            report_base,
        } => payload(
            "GetBaseReport",
            m::get_base_report::GetBaseReportRequest {
                request_id: *request_id,
                report_base: parse_enum::<ReportBaseEnumType>(report_base).ok_or_else(|| {
                    CommandError::Unsupported(format!(
                        "unknown report base {report_base}; one of ConfigurationInventory, \
                         FullInventory, SummaryInventory"
                    ))
                })?,
            },
        ),
        Command::SendLocalList {
            version,
            update_type,
            entries,
        } => payload(
            "SendLocalList",
            m::send_local_list::SendLocalListRequest {
                version_number: *version,
                update_type: match update_type {
                    LocalListUpdate::Full => UpdateEnumType::Full,
                    LocalListUpdate::Differential => UpdateEnumType::Differential,
                },
                // The 2.0.1 schema gives localAuthorizationList minItems 1: an empty Full list
                // (clear the list, D01.FR.05) omits the field.
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
        } => payload(
            "ReserveNow",
            m::reserve_now::ReserveNowRequest {
                id: *reservation_id,
                expiry_date_time: *expiry_date,
                connector_type: None,
                // 2.0.1 H01: no evseId reserves any EVSE of the station.
                evse_id: evse.map(|e| e.evse_id).filter(|id| *id > 0),
                id_token: local_token(id_token)?,
                group_id_token: group_id_token.as_deref().map(local_token).transpose()?,
            },
        ),
        Command::CancelReservation { reservation_id } => payload(
            "CancelReservation",
            m::cancel_reservation::CancelReservationRequest {
                reservation_id: *reservation_id,
            },
        ),
        Command::UpdateFirmware {
            request_id,
            location,
            retrieve_date,
            retries,
            retry_interval,
        } => {
            // 2.0.1 FirmwareType.location: string of at most 512 characters.
            max_len("location", location, 512).map_err(CommandError::Unsupported)?;
            payload(
                "UpdateFirmware",
                m::update_firmware::UpdateFirmwareRequest {
                    retries: *retries,
                    retry_interval: *retry_interval,
                    request_id: *request_id,
                    firmware: FirmwareType {
                        location: location.clone(),
                        retrieve_date_time: *retrieve_date,
                        install_date_time: None,
                        signing_certificate: None,
                        signature: None,
                    },
                },
            )
        }
        Command::GetDiagnostics {
            request_id,
            location,
            start_time,
            stop_time,
        } => {
            // 2.0.1 LogParametersType.remoteLocation: string of at most 512 characters.
            max_len("location", location, 512).map_err(CommandError::Unsupported)?;
            payload(
                "GetLog",
                m::get_log::GetLogRequest {
                    // N01: the diagnostics log is 1.6 GetDiagnostics' counterpart.
                    log_type: LogEnumType::DiagnosticsLog,
                    request_id: *request_id,
                    retries: None,
                    retry_interval: None,
                    log: LogParametersType {
                        remote_location: location.clone(),
                        oldest_timestamp: *start_time,
                        latest_timestamp: *stop_time,
                    },
                },
            )
        }
        Command::ChangeConfiguration { .. } | Command::GetConfiguration { .. } => {
            Err(CommandError::Unsupported(
                "OCPP 2.0.1 stations have no configuration keys; use get-variables and \
                 set-variables"
                    .into(),
            ))
        }
    }
}

/// An operator token as the station will see it presented: the id tokens of the CPMS are RFID
/// cards, so local list entries and reservations name them as `ISO14443` (2.0.1 IdTokenEnumType).
/// A station matches a presented token on value and type (C03), so `Central`, which RemoteStart
/// uses, would never match a card. idToken is at most 36 characters (IdTokenType).
fn local_token(id_token: &str) -> Result<IdTokenType, CommandError> {
    let token = IdTokenType {
        id_token: id_token.to_owned(),
        kind: IdTokenEnumType::ISO14443,
        additional_info: None,
    };
    // rust-ocpp's 2.0.1 IdTokenType declares no length limit; the schema's is checked here.
    check_id_token(&token).map_err(CommandError::Unsupported)?;
    Ok(token)
}

/// A 2.0.1 local list entry; idTokenInfo absent when a Differential update removes the token
/// (D01.FR.17).
fn authorization_data(entry: &LocalListEntry) -> Result<AuthorizationData, CommandError> {
    Ok(AuthorizationData {
        id_token: local_token(&entry.id_token)?,
        id_token_info: entry.status.map(|status| {
            id_token_info(&TokenVerdict {
                status,
                expiry_date: entry.expiry_date,
                group_id_token: entry.group_id_token.clone(),
            })
        }),
    })
}

fn parse_enum<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

fn attribute_type(v: &VariableRef) -> Result<Option<AttributeEnumType>, CommandError> {
    v.attribute_type
        .as_deref()
        .map(|t| {
            parse_enum(t).ok_or_else(|| {
                CommandError::Unsupported(format!(
                    "unknown attribute type {t}; one of Actual, Target, MinSet, MaxSet"
                ))
            })
        })
        .transpose()
}

fn component(v: &VariableRef) -> ComponentType {
    ComponentType {
        name: v.component.clone(),
        instance: v.component_instance.clone(),
        evse: v.evse.map(|e| EVSEType {
            id: e.evse_id,
            connector_id: (e.connector_id > 0).then_some(e.connector_id),
        }),
    }
}

fn variable(v: &VariableRef) -> VariableType {
    VariableType {
        name: v.variable.clone(),
        instance: v.variable_instance.clone(),
    }
}

fn variable_ref(
    component: ComponentType,
    variable: VariableType,
    attribute_type: Option<AttributeEnumType>,
) -> VariableRef {
    VariableRef {
        evse: component.evse.as_ref().map(|e| EvseRef {
            evse_id: e.id,
            connector_id: e.connector_id.unwrap_or(0),
        }),
        component: component.name,
        component_instance: component.instance,
        variable: variable.name,
        variable_instance: variable.instance,
        attribute_type: attribute_type.map(|a| wire_name(&a)),
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

macro_rules! plain_pdu {
    ($($t:ty),* $(,)?) => {$( impl Pdu for $t {} )*};
}

plain_pdu!(
    m::request_start_transaction::RequestStartTransactionResponse,
    m::request_stop_transaction::RequestStopTransactionResponse,
    m::reset::ResetResponse,
    m::change_availability::ChangeAvailabilityResponse,
    m::unlock_connector::UnlockConnectorResponse,
    m::trigger_message::TriggerMessageResponse,
    m::clear_cache::ClearCacheResponse,
    m::set_variables::SetVariablesResponse,
    m::get_base_report::GetBaseReportResponse,
    m::send_local_list::SendLocalListResponse,
    m::get_local_list_version::GetLocalListVersionResponse,
    m::reserve_now::ReserveNowResponse,
    m::cancel_reservation::CancelReservationResponse,
    m::update_firmware::UpdateFirmwareResponse,
);

impl Pdu for m::get_log::GetLogResponse {
    fn check(&self) -> Result<(), String> {
        validator::Validate::validate(self).map_err(|e| e.to_string())
    }
}

impl Pdu for m::get_variables::GetVariablesResponse {
    fn check(&self) -> Result<(), String> {
        for result in &self.get_variable_result {
            validator::Validate::validate(result).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Checks the station's answer to `command` (sent as `action`) and translates it.
pub(crate) fn decode_reply(
    station_id: &str,
    action: &str,
    command: &Command,
    reply: Value,
) -> Result<CommandReply, CommandError> {
    fn parsed<T: Pdu>(station_id: &str, reply: Value) -> Result<T, CommandError> {
        decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))
    }
    fn status(status: String) -> Result<CommandReply, CommandError> {
        Ok(CommandReply::Status { status })
    }
    match action {
        "RequestStartTransaction" => {
            let r: m::request_start_transaction::RequestStartTransactionResponse =
                parsed(station_id, reply)?;
            let remote_start_id = match command {
                Command::RemoteStart {
                    remote_start_id: Some(id),
                    ..
                } => *id,
                _ => 0,
            };
            Ok(CommandReply::RemoteStart {
                status: wire_name(&r.status),
                remote_start_id,
                station_transaction_id: r.transaction_id,
            })
        }
        "RequestStopTransaction" => status(wire_name(
            &parsed::<m::request_stop_transaction::RequestStopTransactionResponse>(
                station_id, reply,
            )?
            .status,
        )),
        "Reset" => status(wire_name(
            &parsed::<m::reset::ResetResponse>(station_id, reply)?.status,
        )),
        "ChangeAvailability" => status(wire_name(
            &parsed::<m::change_availability::ChangeAvailabilityResponse>(station_id, reply)?
                .status,
        )),
        "UnlockConnector" => status(wire_name(
            &parsed::<m::unlock_connector::UnlockConnectorResponse>(station_id, reply)?.status,
        )),
        "TriggerMessage" => status(wire_name(
            &parsed::<m::trigger_message::TriggerMessageResponse>(station_id, reply)?.status,
        )),
        "ClearCache" => status(wire_name(
            &parsed::<m::clear_cache::ClearCacheResponse>(station_id, reply)?.status,
        )),
        "GetBaseReport" => status(wire_name(
            &parsed::<m::get_base_report::GetBaseReportResponse>(station_id, reply)?.status,
        )),
        "SendLocalList" => status(wire_name(
            &parsed::<m::send_local_list::SendLocalListResponse>(station_id, reply)?.status,
        )),
        "ReserveNow" => status(wire_name(
            &parsed::<m::reserve_now::ReserveNowResponse>(station_id, reply)?.status,
        )),
        "CancelReservation" => status(wire_name(
            &parsed::<m::cancel_reservation::CancelReservationResponse>(station_id, reply)?.status,
        )),
        "UpdateFirmware" => status(wire_name(
            &parsed::<m::update_firmware::UpdateFirmwareResponse>(station_id, reply)?.status,
        )),
        "GetLocalListVersion" => Ok(CommandReply::LocalListVersion {
            list_version: parsed::<m::get_local_list_version::GetLocalListVersionResponse>(
                station_id, reply,
            )?
            .version_number,
        }),
        "GetLog" => {
            let r: m::get_log::GetLogResponse = parsed(station_id, reply)?;
            Ok(CommandReply::Log {
                status: Some(wire_name(&r.status)),
                file_name: r.filename,
            })
        }
        "GetVariables" => {
            let r: m::get_variables::GetVariablesResponse = parsed(station_id, reply)?;
            Ok(CommandReply::Variables {
                results: r
                    .get_variable_result
                    .into_iter()
                    .map(|g| VariableResult {
                        attribute_status: wire_name(&g.attribute_status),
                        value: g.attribute_value,
                        variable: variable_ref(g.component, g.variable, g.attribute_type),
                    })
                    .collect(),
            })
        }
        "SetVariables" => {
            let r: m::set_variables::SetVariablesResponse = parsed(station_id, reply)?;
            Ok(CommandReply::Variables {
                results: r
                    .set_variable_result
                    .into_iter()
                    .map(|s| VariableResult {
                        attribute_status: wire_name(&s.attribute_status),
                        value: None,
                        variable: variable_ref(s.component, s.variable, s.attribute_type),
                    })
                    .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::VariableSetting;
    use serde_json::json;

    #[test]
    fn remote_start_carries_the_remote_start_id_and_a_central_token() {
        let command = Command::RemoteStart {
            evse: Some(EvseRef {
                evse_id: 1,
                connector_id: 1,
            }),
            id_token: "TAG".into(),
            remote_start_id: Some(42),
        };
        let (action, payload) = encode(&command).unwrap();
        assert_eq!(action, "RequestStartTransaction");
        assert_eq!(
            payload,
            json!({"evseId": 1, "remoteStartId": 42, "idToken": {"idToken": "TAG", "type": "Central"}})
        );
        assert_eq!(
            decode_reply("CP", action, &command, json!({"status": "Accepted"})),
            Ok(CommandReply::RemoteStart {
                status: "Accepted".into(),
                remote_start_id: 42,
                station_transaction_id: None
            })
        );
    }

    #[test]
    fn an_empty_full_list_omits_the_list_and_long_tokens_are_refused() {
        // The 2.0.1 schema gives localAuthorizationList minItems 1.
        let (_, payload) = encode(&Command::SendLocalList {
            version: 4,
            update_type: LocalListUpdate::Full,
            entries: vec![],
        })
        .unwrap();
        assert_eq!(payload, json!({"versionNumber": 4, "updateType": "Full"}));
        let long = Command::SendLocalList {
            version: 5,
            update_type: LocalListUpdate::Differential,
            entries: vec![LocalListEntry {
                id_token: "X".repeat(37),
                status: None,
                expiry_date: None,
                group_id_token: None,
            }],
        };
        assert!(matches!(encode(&long), Err(CommandError::Unsupported(_))));
    }

    #[test]
    fn remote_stop_needs_the_station_transaction_id() {
        let (_, payload) = encode(&Command::RemoteStop {
            transaction_id: 5,
            station_transaction_id: Some("TX-5".into()),
        })
        .unwrap();
        assert_eq!(payload, json!({"transactionId": "TX-5"}));
        assert!(matches!(
            encode(&Command::RemoteStop {
                transaction_id: 5,
                station_transaction_id: None
            }),
            Err(CommandError::Unsupported(_))
        ));
    }

    #[test]
    fn reset_kinds_map_and_1_6_only_commands_are_refused() {
        let (_, hard) = encode(&Command::Reset {
            kind: ResetKind::Hard,
        })
        .unwrap();
        assert_eq!(hard, json!({"type": "Immediate"}));
        let (_, soft) = encode(&Command::Reset {
            kind: ResetKind::Soft,
        })
        .unwrap();
        assert_eq!(soft, json!({"type": "OnIdle"}));
        assert!(matches!(
            encode(&Command::GetConfiguration { keys: vec![] }),
            Err(CommandError::Unsupported(_))
        ));
    }

    #[test]
    fn variables_round_trip_through_get_and_set() {
        let var = VariableRef {
            component: "OCPPCommCtrlr".into(),
            component_instance: None,
            evse: None,
            variable: "HeartbeatInterval".into(),
            variable_instance: None,
            attribute_type: None,
        };
        let get = Command::GetVariables {
            variables: vec![var.clone()],
        };
        let (_, payload) = encode(&get).unwrap();
        assert_eq!(
            payload,
            json!({"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        );
        let reply = decode_reply(
            "CP",
            "GetVariables",
            &get,
            json!({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
                   "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        )
        .unwrap();
        assert_eq!(
            reply,
            CommandReply::Variables {
                results: vec![VariableResult {
                    variable: var.clone(),
                    attribute_status: "Accepted".into(),
                    value: Some("300".into())
                }]
            }
        );
        let (_, set) = encode(&Command::SetVariables {
            variables: vec![VariableSetting {
                variable: var,
                value: "60".into(),
            }],
        })
        .unwrap();
        assert_eq!(set["setVariableData"][0]["attributeValue"], "60");
    }
}
