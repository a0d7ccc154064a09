//! BootNotification: the station introduces itself after (re)booting.

use chrono::Utc;
use rust_ocpp::v2_0_1::enumerations::registration_status_enum_type::RegistrationStatusEnumType as WireStatus;
use rust_ocpp::v2_0_1::messages::boot_notification::{
    BootNotificationRequest, BootNotificationResponse,
};

use crate::port::{BackendError, BootInfo, RegistrationStatus};
use crate::session::StationContext;
use crate::v201::Pdu;

impl Pdu for BootNotificationRequest {
    fn check(&self) -> Result<(), String> {
        validator::Validate::validate(&self.charging_station).map_err(|e| e.to_string())
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: BootNotificationRequest,
) -> Result<BootNotificationResponse, BackendError> {
    let decision = ctx.backend.boot(&ctx.station_id, boot_info(req)).await?;
    Ok(BootNotificationResponse {
        current_time: Utc::now(),
        // 2.0.1 gives the interval as an integer; anything past u16 is days and is capped.
        interval: u16::try_from(decision.interval_secs).unwrap_or(u16::MAX),
        status: match decision.status {
            RegistrationStatus::Accepted => WireStatus::Accepted,
            RegistrationStatus::Pending => WireStatus::Pending,
            RegistrationStatus::Rejected => WireStatus::Rejected,
        },
        status_info: None,
    })
}

fn boot_info(req: BootNotificationRequest) -> BootInfo {
    let station = req.charging_station;
    let modem = station.modem.unwrap_or_default();
    BootInfo {
        vendor: station.vendor_name,
        model: station.model,
        serial_number: station.serial_number,
        firmware_version: station.firmware_version,
        iccid: modem.iccid,
        imsi: modem.imsi,
        // 2.0.1 reports meters in the device model (NotifyReport), not at boot.
        meter_serial_number: None,
        meter_type: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_charging_station_block_becomes_boot_info() {
        let req: BootNotificationRequest = serde_json::from_value(json!({
            "reason": "PowerUp",
            "chargingStation": {"vendorName": "V", "model": "M", "serialNumber": "SN",
                                "firmwareVersion": "1.2", "modem": {"iccid": "89", "imsi": "26"}}
        }))
        .unwrap();
        let info = boot_info(req);
        assert_eq!(info.vendor, "V");
        assert_eq!(info.serial_number.as_deref(), Some("SN"));
        assert_eq!(info.iccid.as_deref(), Some("89"));
        assert_eq!(info.imsi.as_deref(), Some("26"));
    }
}
