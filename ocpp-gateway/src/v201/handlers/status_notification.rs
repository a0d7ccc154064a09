//! StatusNotification: a connector of an EVSE changed status.

use rust_ocpp::v2_0_1::enumerations::connector_status_enum_type::ConnectorStatusEnumType;
use rust_ocpp::v2_0_1::messages::status_notification::{
    StatusNotificationRequest, StatusNotificationResponse,
};

use crate::port::{BackendError, ConnectorStatus, EvseRef, StatusReport};
use crate::session::StationContext;
use crate::v201::{at_least, wire_name, Pdu};

impl Pdu for StatusNotificationRequest {
    fn check(&self) -> Result<(), String> {
        at_least("evseId", self.evse_id, 0)?;
        at_least("connectorId", self.connector_id, 0)
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: StatusNotificationRequest,
) -> Result<StatusNotificationResponse, BackendError> {
    ctx.backend
        .status(&ctx.station_id, status_report(req))
        .await?;
    Ok(StatusNotificationResponse {})
}

fn status_report(req: StatusNotificationRequest) -> StatusReport {
    StatusReport {
        // 2.0.1 addresses the connector itself: no mapping needed.
        evse: EvseRef {
            evse_id: req.evse_id,
            connector_id: req.connector_id,
        },
        status: normalise(&req.connector_status),
        source_status: wire_name(&req.connector_status),
        // 2.0.1 reports faults through NotifyEvent, not in StatusNotification.
        error_code: None,
        info: None,
        vendor_id: None,
        vendor_error_code: None,
        timestamp: req.timestamp,
    }
}

/// 2.0.1 ConnectorStatus into the normalised model: each has its own normalised status; Occupied
/// is the one 1.6 splits into Preparing, Charging, Suspended* and Finishing.
fn normalise(status: &ConnectorStatusEnumType) -> ConnectorStatus {
    match status {
        ConnectorStatusEnumType::Available => ConnectorStatus::Available,
        ConnectorStatusEnumType::Occupied => ConnectorStatus::Occupied,
        ConnectorStatusEnumType::Reserved => ConnectorStatus::Reserved,
        ConnectorStatusEnumType::Unavailable => ConnectorStatus::Unavailable,
        ConnectorStatusEnumType::Faulted => ConnectorStatus::Faulted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_2_0_1_status_maps_and_the_evse_is_kept() {
        for (wire, expected) in [
            ("Available", ConnectorStatus::Available),
            ("Occupied", ConnectorStatus::Occupied),
            ("Reserved", ConnectorStatus::Reserved),
            ("Unavailable", ConnectorStatus::Unavailable),
            ("Faulted", ConnectorStatus::Faulted),
        ] {
            let req: StatusNotificationRequest = serde_json::from_value(json!({
                "timestamp": "2024-05-01T10:00:00Z", "connectorStatus": wire, "evseId": 2, "connectorId": 3
            }))
            .unwrap();
            let report = status_report(req);
            assert_eq!(report.status, expected, "{wire}");
            assert_eq!(report.source_status, wire);
            assert_eq!(
                report.evse,
                EvseRef {
                    evse_id: 2,
                    connector_id: 3
                }
            );
        }
    }
}
