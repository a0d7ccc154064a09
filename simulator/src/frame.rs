//! The OCPP-J wire format as the simulator's stations and its echo server see it: CALL,
//! CALLRESULT and CALLERROR arrays (OCPP-J 4.1), with payloads kept as JSON values.

use serde_json::{json, Value};

/// One OCPP-J message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `[2, id, action, payload]`: a request.
    Call {
        /// Unique id the answer must carry.
        id: String,
        /// OCPP action name.
        action: String,
        /// Request payload.
        payload: Value,
    },
    /// `[3, id, payload]`: a successful answer.
    CallResult {
        /// Id of the CALL answered.
        id: String,
        /// Response payload.
        payload: Value,
    },
    /// `[4, id, code, description, details]`: a failed answer.
    CallError {
        /// Id of the CALL answered.
        id: String,
        /// OCPP-J error code (`NotImplemented`, `FormationViolation`, ...).
        code: String,
        /// Free text.
        description: String,
    },
}

/// Why a text message is not an OCPP-J frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not one of the three array shapes.
    #[error("not an OCPP-J message: {0}")]
    Shape(String),
}

impl Frame {
    /// Parses one websocket text message.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text)?;
        let shape = || FrameError::Shape(truncate(text));
        let items = value.as_array().ok_or_else(shape)?;
        let kind = items.first().and_then(Value::as_u64).ok_or_else(shape)?;
        let id = items
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(shape)?
            .to_owned();
        match (kind, items.len()) {
            (2, 4) => Ok(Frame::Call {
                id,
                action: items[2].as_str().ok_or_else(shape)?.to_owned(),
                payload: items[3].clone(),
            }),
            (3, 3) => Ok(Frame::CallResult {
                id,
                payload: items[2].clone(),
            }),
            (4, 4) | (4, 5) => Ok(Frame::CallError {
                id,
                code: items[2].as_str().ok_or_else(shape)?.to_owned(),
                description: items[3].as_str().unwrap_or_default().to_owned(),
            }),
            _ => Err(shape()),
        }
    }

    /// The text to put on the wire.
    pub fn to_text(&self) -> String {
        match self {
            Frame::Call {
                id,
                action,
                payload,
            } => json!([2, id, action, payload]),
            Frame::CallResult { id, payload } => json!([3, id, payload]),
            Frame::CallError {
                id,
                code,
                description,
            } => json!([4, id, code, description, {}]),
        }
        .to_string()
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_three_shapes() {
        for frame in [
            Frame::Call {
                id: "1".into(),
                action: "Heartbeat".into(),
                payload: json!({}),
            },
            Frame::CallResult {
                id: "2".into(),
                payload: json!({"currentTime": "2025-01-01T00:00:00Z"}),
            },
            Frame::CallError {
                id: "3".into(),
                code: "NotImplemented".into(),
                description: "no".into(),
            },
        ] {
            assert_eq!(Frame::parse(&frame.to_text()).expect("parses"), frame);
        }
    }

    #[test]
    fn rejects_what_is_not_a_frame() {
        assert!(Frame::parse("[2,\"1\",\"Heartbeat\"").is_err());
        assert!(Frame::parse("[5,\"1\",{}]").is_err());
        assert!(Frame::parse("{}").is_err());
    }
}
