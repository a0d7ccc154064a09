//! SecurityEventNotification: the station reports a security event (OCPP 2.0.1 A04), kept in the
//! station's event log.

use rust_ocpp::v2_0_1::messages::security_event_notification::{
    SecurityEventNotificationRequest, SecurityEventNotificationResponse,
};

use crate::port::{BackendError, StationEvent};
use crate::session::StationContext;
use crate::v201::{max_len, Pdu};

impl Pdu for SecurityEventNotificationRequest {
    fn check(&self) -> Result<(), String> {
        max_len("type", &self.kind, 50)?;
        max_len("techInfo", self.tech_info.as_deref().unwrap_or(""), 255)
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: SecurityEventNotificationRequest,
) -> Result<SecurityEventNotificationResponse, BackendError> {
    let event = StationEvent {
        source: "SecurityEventNotification".into(),
        event_id: None,
        event_type: req.kind,
        timestamp: req.timestamp,
        component: None,
        variable: None,
        actual_value: None,
        tech_code: None,
        tech_info: req.tech_info,
        cleared: None,
        station_transaction_id: None,
        details: None,
    };
    ctx.backend
        .station_events(&ctx.station_id, vec![event])
        .await?;
    Ok(SecurityEventNotificationResponse {})
}
