//! OCPP-J message frames: the JSON arrays that travel in websocket text messages.
//!
//! A [`Frame`] is one of CALL `[2, id, action, payload]`, CALLRESULT `[3, id, payload]` or
//! CALLERROR `[4, id, code, description, details]` (OCPP-J 1.6 §4.1). Parsing checks the array shape
//! only; whether a payload fits its action is the version adapter's business.

use serde_json::{json, Value};

/// OCPP-J 1.6 §4.1.3: a unique id is at most 36 characters.
pub const MAX_UNIQUE_ID_LEN: usize = 36;

/// The unique id used in a CALLERROR when the offending message's id cannot be read. OCPP-J 2.0.1
/// §4.2.3 prescribes "-1"; 1.6 says nothing, and chargers of both kinds understand it.
pub const UNKNOWN_UNIQUE_ID: &str = "-1";

/// One OCPP-J message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request.
    Call {
        /// Id the answer must repeat.
        unique_id: String,
        /// Action name, e.g. `BootNotification`.
        action: String,
        /// The request payload.
        payload: Value,
    },
    /// A successful answer.
    CallResult {
        /// Id of the CALL answered.
        unique_id: String,
        /// The response payload.
        payload: Value,
    },
    /// A failed answer.
    CallError {
        /// Id of the CALL answered.
        unique_id: String,
        /// OCPP-J error code.
        code: String,
        /// Human-readable description.
        description: String,
        /// Details object.
        details: Value,
    },
}

impl Frame {
    /// A CALLERROR with an empty details object.
    pub fn call_error(unique_id: &str, code: ErrorCode, description: impl Into<String>) -> Frame {
        Frame::CallError {
            unique_id: unique_id.to_owned(),
            code: code.as_str().to_owned(),
            description: description.into(),
            details: json!({}),
        }
    }

    /// Serialises the frame to the text of a websocket message.
    pub fn to_text(&self) -> String {
        let value = match self {
            Frame::Call {
                unique_id,
                action,
                payload,
            } => json!([2, unique_id, action, payload]),
            Frame::CallResult { unique_id, payload } => json!([3, unique_id, payload]),
            Frame::CallError {
                unique_id,
                code,
                description,
                details,
            } => json!([4, unique_id, code, description, details]),
        };
        value.to_string()
    }

    /// Parses the text of a websocket message.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
            unique_id: None,
            kind: FrameErrorKind::NotJson,
            detail: format!("message is not JSON: {e}"),
        })?;
        let Value::Array(items) = value else {
            return Err(FrameError {
                unique_id: None,
                kind: FrameErrorKind::NotAnArray,
                detail: "message is not a JSON array".into(),
            });
        };
        let unique_id = match items.get(1) {
            Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_UNIQUE_ID_LEN => {
                Some(id.clone())
            }
            _ => None,
        };
        let shape_error = |detail: &str| FrameError {
            unique_id: unique_id.clone(),
            kind: FrameErrorKind::BadShape,
            detail: detail.to_owned(),
        };
        let message_type = items
            .first()
            .and_then(Value::as_u64)
            .ok_or_else(|| shape_error("first element must be the message type number"))?;
        let Some(id) = unique_id.clone() else {
            return Err(shape_error(
                "second element must be a unique id string of 1 to 36 characters",
            ));
        };
        match message_type {
            2 => {
                if items.len() != 4 {
                    return Err(shape_error("a CALL has exactly 4 elements"));
                }
                let Some(Value::String(action)) = items.get(2) else {
                    return Err(shape_error(
                        "third element of a CALL must be the action name",
                    ));
                };
                Ok(Frame::Call {
                    unique_id: id,
                    action: action.clone(),
                    payload: items[3].clone(),
                })
            }
            3 => {
                if items.len() != 3 {
                    return Err(shape_error("a CALLRESULT has exactly 3 elements"));
                }
                Ok(Frame::CallResult {
                    unique_id: id,
                    payload: items[2].clone(),
                })
            }
            4 => {
                // Details are optional in practice: some firmware sends 4 elements.
                if !(4..=5).contains(&items.len()) {
                    return Err(shape_error("a CALLERROR has 5 elements"));
                }
                let text = |i: usize| {
                    items
                        .get(i)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                Ok(Frame::CallError {
                    unique_id: id,
                    code: text(2),
                    description: text(3),
                    details: items.get(4).cloned().unwrap_or_else(|| json!({})),
                })
            }
            other => Err(FrameError {
                unique_id,
                kind: FrameErrorKind::UnknownMessageType,
                detail: format!("unknown message type {other}"),
            }),
        }
    }
}

/// Why a websocket message is not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The message's unique id, when it could be read.
    pub unique_id: Option<String>,
    /// What is wrong.
    pub kind: FrameErrorKind,
    /// Human-readable detail for the CALLERROR description.
    pub detail: String,
}

/// The classes of malformed messages; each version maps them to its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// Not parseable as JSON.
    NotJson,
    /// JSON, but not an array.
    NotAnArray,
    /// An array of the wrong length or element types.
    BadShape,
    /// A message type number other than 2, 3 or 4.
    UnknownMessageType,
}

/// OCPP-J CALLERROR codes: those of 1.6 (§4.2.3) and those 2.0.1 (§4.3) renamed or added. Which
/// one a malformed message gets is each version adapter's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The action is not known.
    NotImplemented,
    /// The action is known but not supported (e.g. a CSMS-to-station action sent by a station).
    NotSupported,
    /// The receiver failed while handling a valid request.
    InternalError,
    /// The payload is incomplete.
    ProtocolError,
    /// A security problem.
    SecurityError,
    /// The payload is syntactically wrong or does not have the PDU's structure.
    FormationViolation,
    /// A field holds an invalid value.
    PropertyConstraintViolation,
    /// A field is missing or occurs too often.
    OccurenceConstraintViolation,
    /// A field has the wrong data type.
    TypeConstraintViolation,
    /// Anything else.
    GenericError,
    /// 2.0.1: the payload is syntactically wrong (1.6 called it FormationViolation).
    FormatViolation,
    /// 2.0.1: a field is missing or occurs too often (1.6 spelt it "Occurence").
    OccurrenceConstraintViolation,
    /// 2.0.1: a message type number the receiver does not support.
    MessageTypeNotSupported,
    /// 2.0.1: the message is not a valid RPC frame (e.g. its unique id cannot be read).
    RpcFrameworkError,
}

impl ErrorCode {
    /// The code as it goes on the wire (each spec's spelling: 1.6 "Occurence", 2.0.1 "Occurrence").
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::NotSupported => "NotSupported",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::ProtocolError => "ProtocolError",
            ErrorCode::SecurityError => "SecurityError",
            ErrorCode::FormationViolation => "FormationViolation",
            ErrorCode::PropertyConstraintViolation => "PropertyConstraintViolation",
            ErrorCode::OccurenceConstraintViolation => "OccurenceConstraintViolation",
            ErrorCode::TypeConstraintViolation => "TypeConstraintViolation",
            ErrorCode::GenericError => "GenericError",
            ErrorCode::FormatViolation => "FormatViolation",
            ErrorCode::OccurrenceConstraintViolation => "OccurrenceConstraintViolation",
            ErrorCode::MessageTypeNotSupported => "MessageTypeNotSupported",
            ErrorCode::RpcFrameworkError => "RpcFrameworkError",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_message_types() {
        assert_eq!(
            Frame::parse(r#"[2,"19223201","BootNotification",{"chargePointVendor":"V"}]"#),
            Ok(Frame::Call {
                unique_id: "19223201".into(),
                action: "BootNotification".into(),
                payload: json!({"chargePointVendor": "V"}),
            })
        );
        assert_eq!(
            Frame::parse(r#"[3,"19223201",{"status":"Accepted"}]"#),
            Ok(Frame::CallResult {
                unique_id: "19223201".into(),
                payload: json!({"status": "Accepted"}),
            })
        );
        assert_eq!(
            Frame::parse(
                r#"[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]"#
            ),
            Ok(Frame::CallError {
                unique_id: "162376037".into(),
                code: "NotSupported".into(),
                description: "SetDisplayMessageRequest not implemented".into(),
                details: json!({}),
            })
        );
    }

    #[test]
    fn round_trips_through_text() {
        let frame = Frame::call_error("abc", ErrorCode::OccurenceConstraintViolation, "missing");
        assert_eq!(
            frame.to_text(),
            r#"[4,"abc","OccurenceConstraintViolation","missing",{}]"#
        );
        assert_eq!(Frame::parse(&frame.to_text()), Ok(frame));
    }

    #[test]
    fn classifies_malformed_messages() {
        let kind = |text: &str| Frame::parse(text).map_err(|e| (e.kind, e.unique_id));
        assert_eq!(kind("not json"), Err((FrameErrorKind::NotJson, None)));
        assert_eq!(kind(r#"{"a":1}"#), Err((FrameErrorKind::NotAnArray, None)));
        assert_eq!(
            kind(r#"[2,"id1","Heartbeat"]"#),
            Err((FrameErrorKind::BadShape, Some("id1".into())))
        );
        assert_eq!(
            kind(r#"[2,17,"Heartbeat",{}]"#),
            Err((FrameErrorKind::BadShape, None))
        );
        assert_eq!(
            kind(r#"["2","id1","Heartbeat",{}]"#),
            Err((FrameErrorKind::BadShape, Some("id1".into())))
        );
        assert_eq!(
            kind(r#"[7,"id1","Heartbeat",{}]"#),
            Err((FrameErrorKind::UnknownMessageType, Some("id1".into())))
        );
        let long_id = "x".repeat(37);
        assert_eq!(
            kind(&format!(r#"[2,"{long_id}","Heartbeat",{{}}]"#)),
            Err((FrameErrorKind::BadShape, None))
        );
    }
}
