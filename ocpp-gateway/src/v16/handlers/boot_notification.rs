//! BootNotification: the station introduces itself after (re)booting.

use chrono::Utc;
use rust_ocpp::v1_6::messages::boot_notification::{
    BootNotificationRequest, BootNotificationResponse,
};
use rust_ocpp::v1_6::types::RegistrationStatus as WireStatus;

use crate::port::{BackendError, BootInfo, RegistrationStatus};
use crate::session::StationContext;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: BootNotificationRequest,
) -> Result<BootNotificationResponse, BackendError> {
    let decision = ctx.backend.boot(&ctx.station_id, boot_info(req)).await?;
    Ok(BootNotificationResponse {
        current_time: Utc::now(),
        interval: decision.interval_secs,
        status: match decision.status {
            RegistrationStatus::Accepted => WireStatus::Accepted,
            RegistrationStatus::Pending => WireStatus::Pending,
            RegistrationStatus::Rejected => WireStatus::Rejected,
        },
    })
}

fn boot_info(req: BootNotificationRequest) -> BootInfo {
    BootInfo {
        vendor: req.charge_point_vendor,
        model: req.charge_point_model,
        // chargeBoxSerialNumber is deprecated in 1.6 in favour of chargePointSerialNumber.
        serial_number: req
            .charge_point_serial_number
            .or(req.charge_box_serial_number),
        firmware_version: req.firmware_version,
        iccid: req.iccid,
        imsi: req.imsi,
        meter_serial_number: req.meter_serial_number,
        meter_type: req.meter_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_charge_point_serial_over_deprecated_charge_box_serial() {
        let info = boot_info(BootNotificationRequest {
            charge_point_vendor: "V".into(),
            charge_point_model: "M".into(),
            charge_box_serial_number: Some("BOX".into()),
            charge_point_serial_number: Some("CP".into()),
            ..Default::default()
        });
        assert_eq!(info.serial_number.as_deref(), Some("CP"));
        let info = boot_info(BootNotificationRequest {
            charge_box_serial_number: Some("BOX".into()),
            ..Default::default()
        });
        assert_eq!(info.serial_number.as_deref(), Some("BOX"));
    }
}
