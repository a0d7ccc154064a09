//! StatusNotification: a connector (or, for connectorId 0, the station) changed status.

use chrono::Utc;
use rust_ocpp::v1_6::messages::status_notification::{
    StatusNotificationRequest, StatusNotificationResponse,
};
use rust_ocpp::v1_6::types::ChargePointStatus;

use crate::port::{BackendError, ConnectorStatus, EvseRef, StatusReport};
use crate::session::StationContext;
use crate::v16::wire_name;

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
        evse: EvseRef::from_v16_connector(req.connector_id),
        status: normalise(&req.status),
        source_status: wire_name(&req.status),
        error_code: Some(wire_name(&req.error_code)),
        info: req.info,
        vendor_id: req.vendor_id,
        vendor_error_code: req.vendor_error_code,
        // The timestamp is optional in 1.6; without it, the time of receipt is the best we know.
        timestamp: req.timestamp.unwrap_or_else(Utc::now),
    }
}

/// 1.6 ChargePointStatus into the normalised model: the two are one to one.
fn normalise(status: &ChargePointStatus) -> ConnectorStatus {
    match status {
        ChargePointStatus::Available => ConnectorStatus::Available,
        ChargePointStatus::Preparing => ConnectorStatus::Preparing,
        ChargePointStatus::Charging => ConnectorStatus::Charging,
        ChargePointStatus::SuspendedEV => ConnectorStatus::SuspendedEv,
        ChargePointStatus::SuspendedEVSE => ConnectorStatus::SuspendedEvse,
        ChargePointStatus::Finishing => ConnectorStatus::Finishing,
        ChargePointStatus::Reserved => ConnectorStatus::Reserved,
        ChargePointStatus::Unavailable => ConnectorStatus::Unavailable,
        ChargePointStatus::Faulted => ConnectorStatus::Faulted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connector_zero_is_the_station_and_source_values_are_kept() {
        let req: StatusNotificationRequest = serde_json::from_value(json!({
            "connectorId": 0, "errorCode": "GroundFailure", "status": "Faulted"
        }))
        .unwrap();
        let report = status_report(req);
        assert_eq!(
            report.evse,
            EvseRef {
                evse_id: 0,
                connector_id: 0
            }
        );
        assert_eq!(report.status, ConnectorStatus::Faulted);
        assert_eq!(report.source_status, "Faulted");
        assert_eq!(report.error_code.as_deref(), Some("GroundFailure"));
    }

    #[test]
    fn every_16_status_maps() {
        for (wire, expected) in [
            ("Available", ConnectorStatus::Available),
            ("Preparing", ConnectorStatus::Preparing),
            ("Charging", ConnectorStatus::Charging),
            ("SuspendedEV", ConnectorStatus::SuspendedEv),
            ("SuspendedEVSE", ConnectorStatus::SuspendedEvse),
            ("Finishing", ConnectorStatus::Finishing),
            ("Reserved", ConnectorStatus::Reserved),
            ("Unavailable", ConnectorStatus::Unavailable),
            ("Faulted", ConnectorStatus::Faulted),
        ] {
            let status: ChargePointStatus = serde_json::from_value(json!(wire)).unwrap();
            assert_eq!(normalise(&status), expected, "{wire}");
        }
    }
}
