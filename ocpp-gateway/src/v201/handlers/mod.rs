//! One handler per station-initiated OCPP 2.0.1 action: each takes the decoded request, asks the
//! backend, and builds the response.

pub(crate) mod authorize;
pub(crate) mod boot_notification;
pub(crate) mod data_transfer;
pub(crate) mod firmware_status_notification;
pub(crate) mod heartbeat;
pub(crate) mod log_status_notification;
pub(crate) mod meter_values;
pub(crate) mod notify_event;
pub(crate) mod notify_report;
pub(crate) mod reservation_status_update;
pub(crate) mod security_event_notification;
pub(crate) mod status_notification;
pub(crate) mod transaction_event;

use rust_ocpp::v2_0_1::datatypes::component_type::ComponentType;
use rust_ocpp::v2_0_1::datatypes::id_token_info_type::IdTokenInfoType;
use rust_ocpp::v2_0_1::datatypes::id_token_type::IdTokenType;
use rust_ocpp::v2_0_1::datatypes::variable_type::VariableType;
use rust_ocpp::v2_0_1::enumerations::authorization_status_enum_type::AuthorizationStatusEnumType as WireStatus;
use rust_ocpp::v2_0_1::enumerations::id_token_enum_type::IdTokenEnumType;

use super::max_len;
use crate::port::{AuthorizationStatus, EvseRef, TokenVerdict};

/// The 2.0.1 IdTokenInfo for a verdict.
pub(crate) fn id_token_info(verdict: &TokenVerdict) -> IdTokenInfoType {
    IdTokenInfoType {
        status: match verdict.status {
            AuthorizationStatus::Accepted => WireStatus::Accepted,
            AuthorizationStatus::Blocked => WireStatus::Blocked,
            AuthorizationStatus::Expired => WireStatus::Expired,
            AuthorizationStatus::Invalid => WireStatus::Invalid,
            AuthorizationStatus::ConcurrentTx => WireStatus::ConcurrentTx,
        },
        cache_expiry_date_time: verdict.expiry_date,
        // 2.0.1 IdTokenType: an identifier of at most 36 characters; the group is a CSMS-side id.
        group_id_token: verdict
            .group_id_token
            .clone()
            .filter(|g| !g.is_empty() && g.len() <= 36)
            .map(|g| IdTokenType {
                id_token: g,
                kind: IdTokenEnumType::Central,
                additional_info: None,
            }),
        ..Default::default()
    }
}

/// 2.0.1 IdTokenType.idToken: at most 36 characters.
pub(crate) fn check_id_token(token: &IdTokenType) -> Result<(), String> {
    max_len("idToken", &token.id_token, 36)
}

/// 2.0.1 ComponentType and VariableType: names and instances of at most 50 characters.
pub(crate) fn check_component_variable(
    component: &ComponentType,
    variable: &VariableType,
) -> Result<(), String> {
    validator::Validate::validate(component).map_err(|e| e.to_string())?;
    validator::Validate::validate(variable).map_err(|e| e.to_string())
}

/// The EVSE reference of a component's optional EVSE (absent: the station as a whole).
pub(crate) fn component_evse(component: &ComponentType) -> Option<EvseRef> {
    component.evse.as_ref().map(|e| EvseRef {
        evse_id: e.id,
        connector_id: e.connector_id.unwrap_or(0),
    })
}
