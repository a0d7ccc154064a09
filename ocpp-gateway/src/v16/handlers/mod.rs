//! One handler per station-initiated OCPP 1.6 action: each takes the decoded request, asks the
//! backend, and builds the response.

pub(crate) mod authorize;
pub(crate) mod boot_notification;
pub(crate) mod data_transfer;
pub(crate) mod diagnostics_status_notification;
pub(crate) mod firmware_status_notification;
pub(crate) mod heartbeat;
pub(crate) mod meter_values;
pub(crate) mod start_transaction;
pub(crate) mod status_notification;
pub(crate) mod stop_transaction;

use rust_ocpp::v1_6::types::{AuthorizationStatus as WireStatus, IdTagInfo};

use crate::port::{AuthorizationStatus, TokenVerdict};

/// The 1.6 IdTagInfo for a verdict.
pub(crate) fn id_tag_info(verdict: &TokenVerdict) -> IdTagInfo {
    IdTagInfo {
        status: match verdict.status {
            AuthorizationStatus::Accepted => WireStatus::Accepted,
            AuthorizationStatus::Blocked => WireStatus::Blocked,
            AuthorizationStatus::Expired => WireStatus::Expired,
            AuthorizationStatus::Invalid => WireStatus::Invalid,
            AuthorizationStatus::ConcurrentTx => WireStatus::ConcurrentTx,
        },
        expiry_date: verdict.expiry_date,
        // 1.6 limits parentIdTag to 20 characters; a longer group id cannot be expressed.
        parent_id_tag: verdict
            .group_id_token
            .clone()
            .filter(|g| !g.is_empty() && g.len() <= 20),
    }
}
