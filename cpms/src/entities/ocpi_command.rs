//! OCPI commands eMSPs sent us (OCPI 2.2.1 Commands module, CPO Receiver interface).

use sea_orm::entity::prelude::*;

/// One row of `ocpi_command`: a command, what it asked of which station, and its result.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_command")]
pub struct Model {
    /// Database id; also the outbox object key of its CommandResult.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The partner that sent it.
    pub partner_id: i64,
    /// CommandType: `START_SESSION`, `STOP_SESSION`, `UNLOCK_CONNECTOR`, `RESERVE_NOW`,
    /// `CANCEL_RESERVATION`.
    pub command: String,
    /// Where the CommandResult is POSTed.
    #[sea_orm(column_type = "Text")]
    pub response_url: String,
    /// `sending`, `awaiting` or `done`.
    pub state: String,
    /// The station it went to.
    pub station_id: Option<String>,
    /// The station's EVSE, when one was named.
    pub evse_id: Option<i32>,
    /// The station's connector, when one was named.
    pub connector_id: Option<i32>,
    /// The OCPI Location it named.
    pub location_id: Option<String>,
    /// The token uid the station was given.
    pub id_token: Option<String>,
    /// The `ocpi_token` row of that token.
    pub ocpi_token_id: Option<i64>,
    /// The eMSP's authorization reference, for the Session and CDR.
    pub authorization_reference: Option<String>,
    /// The remoteStartId sent (2.0.1 stations echo it in their transaction).
    pub remote_start_id: Option<i32>,
    /// The transaction stopped (STOP_SESSION) or started (START_SESSION).
    pub transaction_id: Option<i32>,
    /// The eMSP's reservation id.
    pub reservation_id: Option<String>,
    /// The reservation id the station knows.
    pub station_reservation_id: Option<i32>,
    /// When an accepted command's effect (a transaction starting or stopping) must have
    /// happened.
    pub deadline: Option<DateTimeUtc>,
    /// The status the station answered, verbatim; none while it has not (or never did).
    pub station_answer: Option<String>,
    /// CommandResultType, once known.
    pub result: Option<String>,
    /// Why, in words, for the CommandResult's message.
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    /// When it arrived.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// Rows are read by id and state; no relation is needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
