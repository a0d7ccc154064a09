//! Reservations (OCPP 1.6 §5.13/§5.3, 2.0.1 H01-H04): what was asked of a station, its answer,
//! and what became of the reservation afterwards (cancelled, used by a transaction, expired or
//! removed at the station).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use super::{Core, CoreError};
use crate::entities::{reservation, transaction};

/// A reservation as the operator API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReservationRecord {
    /// The reservation id the station knows.
    pub reservation_id: i32,
    /// The station.
    pub station_id: String,
    /// The reserved EVSE; none for any EVSE of the station.
    pub evse_id: Option<i32>,
    /// The token the reservation is for.
    pub id_token: String,
    /// Group token that may also use it.
    pub group_id_token: Option<String>,
    /// When it lapses.
    pub expiry_date: DateTime<Utc>,
    /// The station's answer to ReserveNow (`Accepted`, `Occupied`, `Faulted`, `Unavailable`,
    /// `Rejected`), then `Cancelled`, `Used`, `Expired` or `Removed`.
    pub status: String,
    /// The transaction that used it.
    pub transaction_id: Option<i32>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<reservation::Model> for ReservationRecord {
    fn from(m: reservation::Model) -> Self {
        ReservationRecord {
            reservation_id: m.reservation_id,
            station_id: m.station_id,
            evse_id: m.evse_id,
            id_token: m.id_token,
            group_id_token: m.group_id_token,
            expiry_date: m.expiry_date,
            status: m.status,
            transaction_id: m.transaction_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What a ReserveNow asked for, to be stored with the station's answer.
#[derive(Debug, Clone)]
pub struct ReservationRequest {
    /// The reservation id sent.
    pub reservation_id: i32,
    /// The EVSE, if one.
    pub evse_id: Option<i32>,
    /// The token.
    pub id_token: String,
    /// The group token.
    pub group_id_token: Option<String>,
    /// When it lapses.
    pub expiry_date: DateTime<Utc>,
}

impl Core {
    /// The station's reservations, newest first.
    pub async fn reservations(
        &self,
        station_id: &str,
    ) -> Result<Vec<ReservationRecord>, CoreError> {
        self.station(station_id).await?;
        Ok(reservation::Entity::find()
            .filter(reservation::Column::StationId.eq(station_id))
            .order_by_desc(reservation::Column::CreatedAt)
            .order_by_desc(reservation::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Refuses a reservation id the station already has from us (409).
    pub async fn check_reservation_id_free(
        &self,
        station_id: &str,
        reservation_id: i32,
    ) -> Result<(), CoreError> {
        if self
            .find_reservation(station_id, reservation_id)
            .await?
            .is_some()
        {
            return Err(CoreError::Conflict(format!(
                "station {station_id} already has reservation {reservation_id}"
            )));
        }
        Ok(())
    }

    /// Stores a reservation with the station's answer to ReserveNow.
    pub async fn record_reservation(
        &self,
        station_id: &str,
        request: ReservationRequest,
        status: &str,
    ) -> Result<(), CoreError> {
        let now = self.now();
        reservation::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            station_id: Set(station_id.to_owned()),
            reservation_id: Set(request.reservation_id),
            evse_id: Set(request.evse_id),
            id_token: Set(request.id_token),
            group_id_token: Set(request.group_id_token),
            expiry_date: Set(request.expiry_date),
            status: Set(status.to_owned()),
            transaction_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Sets a reservation's status (and the transaction that used it); a reservation the CPMS
    /// does not know is ignored: the station may hold reservations made before it did.
    pub(crate) async fn set_reservation_status(
        &self,
        station_id: &str,
        reservation_id: i32,
        status: &str,
        transaction_id: Option<i32>,
    ) -> Result<(), CoreError> {
        let mut update = reservation::Entity::update_many()
            .col_expr(reservation::Column::Status, Expr::value(status))
            .col_expr(reservation::Column::UpdatedAt, Expr::value(self.now()))
            .filter(reservation::Column::StationId.eq(station_id))
            .filter(reservation::Column::ReservationId.eq(reservation_id));
        if let Some(tx) = transaction_id {
            update = update.col_expr(reservation::Column::TransactionId, Expr::value(tx));
        }
        update.exec(&self.db).await?;
        Ok(())
    }

    /// The station accepted a CancelReservation (1.6 §5.1, 2.0.1 H02).
    pub async fn cancel_reservation(
        &self,
        station_id: &str,
        reservation_id: i32,
    ) -> Result<(), CoreError> {
        self.set_reservation_status(station_id, reservation_id, "Cancelled", None)
            .await
    }

    /// A transaction started with `reservation_id` (1.6 StartTransaction.reservationId, 2.0.1
    /// TransactionEvent.reservationId): the reservation is used (1.6 §5.13, 2.0.1 H01.FR.xx).
    pub(crate) async fn reservation_used_by_station_tx(
        &self,
        station_id: &str,
        reservation_id: i32,
        station_transaction_id: &str,
    ) -> Result<(), CoreError> {
        let tx = transaction::Entity::find()
            .filter(transaction::Column::StationId.eq(station_id))
            .filter(transaction::Column::StationTransactionId.eq(station_transaction_id))
            .one(&self.db)
            .await?;
        self.set_reservation_status(station_id, reservation_id, "Used", tx.map(|t| t.id))
            .await
    }

    async fn find_reservation(
        &self,
        station_id: &str,
        reservation_id: i32,
    ) -> Result<Option<reservation::Model>, CoreError> {
        Ok(reservation::Entity::find()
            .filter(reservation::Column::StationId.eq(station_id))
            .filter(reservation::Column::ReservationId.eq(reservation_id))
            .one(&self.db)
            .await?)
    }

    /// Stores the request id of an UpdateFirmware or GetLog the station accepted, so its status
    /// notifications can be matched to it.
    pub async fn record_progress_request(
        &self,
        station_id: &str,
        firmware_request_id: Option<i32>,
        diagnostics_request_id: Option<i32>,
    ) -> Result<(), CoreError> {
        use crate::entities::station;
        let mut update = station::Entity::update_many()
            .col_expr(station::Column::UpdatedAt, Expr::value(self.now()))
            .filter(station::Column::Id.eq(station_id));
        if let Some(id) = firmware_request_id {
            update = update.col_expr(station::Column::FirmwareRequestId, Expr::value(id));
        }
        if let Some(id) = diagnostics_request_id {
            update = update.col_expr(station::Column::DiagnosticsRequestId, Expr::value(id));
        }
        update.exec(&self.db).await?;
        Ok(())
    }
}
