//! NotifyEvent: the station reports events of its device model (faults, threshold crossings;
//! OCPP 2.0.1 N07), kept in the station's event log.

use rust_ocpp::v2_0_1::datatypes::event_data_type::EventDataType;
use rust_ocpp::v2_0_1::messages::notify_event::{NotifyEventRequest, NotifyEventResponse};
use serde_json::json;

use super::{check_component_variable, component_evse};
use crate::port::{BackendError, StationEvent};
use crate::session::StationContext;
use crate::v201::{max_len, wire_name, Pdu};

impl Pdu for NotifyEventRequest {
    fn check(&self) -> Result<(), String> {
        if self.event_data.is_empty() {
            return Err("eventData needs at least one entry".into());
        }
        for data in &self.event_data {
            check_component_variable(&data.component, &data.variable)?;
            max_len("actualValue", &data.actual_value, 2500)?;
            max_len("techCode", data.tech_code.as_deref().unwrap_or(""), 50)?;
            max_len("techInfo", data.tech_info.as_deref().unwrap_or(""), 500)?;
            max_len(
                "transactionId",
                data.transaction_id.as_deref().unwrap_or(""),
                36,
            )?;
        }
        Ok(())
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: NotifyEventRequest,
) -> Result<NotifyEventResponse, BackendError> {
    let events = req.event_data.into_iter().map(station_event).collect();
    ctx.backend.station_events(&ctx.station_id, events).await?;
    Ok(NotifyEventResponse {})
}

fn station_event(data: EventDataType) -> StationEvent {
    let details = json!({
        "cause": data.cause,
        "eventNotificationType": wire_name(&data.event_notification_type),
        "variableMonitoringId": data.variable_monitoring_id,
        "componentInstance": data.component.instance,
        "evse": component_evse(&data.component),
        "variableInstance": data.variable.instance,
    });
    StationEvent {
        source: "NotifyEvent".into(),
        event_id: Some(data.event_id),
        event_type: wire_name(&data.trigger),
        timestamp: data.timestamp,
        component: Some(data.component.name),
        variable: Some(data.variable.name),
        actual_value: Some(data.actual_value),
        tech_code: data.tech_code,
        tech_info: data.tech_info,
        cleared: data.cleared,
        station_transaction_id: data.transaction_id,
        details: Some(details),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_what_the_station_said() {
        let data: EventDataType = serde_json::from_value(json!({
            "eventId": 7, "timestamp": "2024-05-01T10:00:00Z", "trigger": "Alerting",
            "actualValue": "true", "techCode": "E42", "cleared": false,
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "Problem"}
        }))
        .unwrap();
        let event = station_event(data);
        assert_eq!(event.event_id, Some(7));
        assert_eq!(event.event_type, "Alerting");
        assert_eq!(event.component.as_deref(), Some("Connector"));
        assert_eq!(event.variable.as_deref(), Some("Problem"));
        assert_eq!(event.tech_code.as_deref(), Some("E42"));
        let details = event.details.unwrap();
        assert_eq!(details["eventNotificationType"], "HardWiredNotification");
        assert_eq!(details["evse"]["evse_id"], 1);
    }
}
