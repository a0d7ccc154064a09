//! Commands, CPO Receiver interface (OCPI 2.2.1 Commands module): the command objects an eMSP
//! sends, the answer we give at once (CommandResponse) and the result we POST later
//! (CommandResult), and [`CommandReceiver`], the port the core implements: it checks the
//! command against its facts, sends it to the station over OCPP and keeps the result owed,
//! which the push worker delivers through the outbox (`outbox::COMMANDS`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tokens::Token;
use super::{Partner, StoreError};

/// CommandType enum (Commands: CommandType enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandType {
    /// Cancel a reservation made with RESERVE_NOW.
    CancelReservation,
    /// Reserve an EVSE (or any EVSE of a Location) for a token.
    ReserveNow,
    /// Start a session for a token.
    StartSession,
    /// Stop a session.
    StopSession,
    /// Unlock a connector (help desk use only).
    UnlockConnector,
}

impl CommandType {
    /// The spec's name, as in the URL and as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandType::CancelReservation => "CANCEL_RESERVATION",
            CommandType::ReserveNow => "RESERVE_NOW",
            CommandType::StartSession => "START_SESSION",
            CommandType::StopSession => "STOP_SESSION",
            CommandType::UnlockConnector => "UNLOCK_CONNECTOR",
        }
    }

    /// Parses the spec's name.
    pub fn parse(s: &str) -> Option<CommandType> {
        [
            CommandType::CancelReservation,
            CommandType::ReserveNow,
            CommandType::StartSession,
            CommandType::StopSession,
            CommandType::UnlockConnector,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// StartSession object (Commands: StartSession object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StartSession {
    /// Where the CommandResult goes.
    pub response_url: String,
    /// The token to start with, authorized by the eMSP.
    pub token: Token,
    /// The Location.
    pub location_id: String,
    /// The EVSE; the station picks one when absent.
    #[serde(default)]
    pub evse_uid: Option<String>,
    /// The connector; needs `evse_uid`.
    #[serde(default)]
    pub connector_id: Option<String>,
    /// The eMSP's reference, for the Session and CDR.
    #[serde(default)]
    pub authorization_reference: Option<String>,
}

/// StopSession object (Commands: StopSession object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StopSession {
    /// Where the CommandResult goes.
    pub response_url: String,
    /// The Session's id.
    pub session_id: String,
}

/// UnlockConnector object (Commands: UnlockConnector object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnlockConnector {
    /// Where the CommandResult goes.
    pub response_url: String,
    /// The Location.
    pub location_id: String,
    /// The EVSE.
    pub evse_uid: String,
    /// The connector.
    pub connector_id: String,
}

/// ReserveNow object (Commands: ReserveNow object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReserveNow {
    /// Where the CommandResult goes.
    pub response_url: String,
    /// The token the reservation is for.
    pub token: Token,
    /// When the reservation ends.
    pub expiry_date: DateTime<Utc>,
    /// The eMSP's id of the reservation; a second RESERVE_NOW with it replaces the first.
    pub reservation_id: String,
    /// The Location.
    pub location_id: String,
    /// The EVSE; any EVSE of the Location when absent.
    #[serde(default)]
    pub evse_uid: Option<String>,
    /// The eMSP's reference, for the Session and CDR.
    #[serde(default)]
    pub authorization_reference: Option<String>,
}

/// CancelReservation object (Commands: CancelReservation object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CancelReservation {
    /// Where the CommandResult goes.
    pub response_url: String,
    /// The eMSP's id of the reservation.
    pub reservation_id: String,
}

/// One command as the eMSP sent it, parsed and validated by the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRequest {
    /// START_SESSION.
    StartSession(StartSession),
    /// STOP_SESSION.
    StopSession(StopSession),
    /// UNLOCK_CONNECTOR.
    UnlockConnector(UnlockConnector),
    /// RESERVE_NOW.
    ReserveNow(ReserveNow),
    /// CANCEL_RESERVATION.
    CancelReservation(CancelReservation),
}

impl CommandRequest {
    /// Its CommandType.
    pub fn command_type(&self) -> CommandType {
        match self {
            CommandRequest::StartSession(_) => CommandType::StartSession,
            CommandRequest::StopSession(_) => CommandType::StopSession,
            CommandRequest::UnlockConnector(_) => CommandType::UnlockConnector,
            CommandRequest::ReserveNow(_) => CommandType::ReserveNow,
            CommandRequest::CancelReservation(_) => CommandType::CancelReservation,
        }
    }

    /// Where its CommandResult goes.
    pub fn response_url(&self) -> &str {
        match self {
            CommandRequest::StartSession(c) => &c.response_url,
            CommandRequest::StopSession(c) => &c.response_url,
            CommandRequest::UnlockConnector(c) => &c.response_url,
            CommandRequest::ReserveNow(c) => &c.response_url,
            CommandRequest::CancelReservation(c) => &c.response_url,
        }
    }
}

/// CommandResponseType enum: our answer at once (Commands: CommandResponseType enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandResponseType {
    /// Not supported by us, the station or the EVSE.
    NotSupported,
    /// Refused by us (unknown Location or EVSE, station offline, another party's token).
    Rejected,
    /// Sent on to the station; a CommandResult follows.
    Accepted,
    /// No session of this eMSP has that id.
    UnknownSession,
}

/// What we answer at once: the response type, how long the eMSP may wait for the result, and
/// why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandAnswer {
    /// The response type.
    pub result: CommandResponseType,
    /// Seconds within which the CommandResult will be POSTed (Commands: CommandResponse
    /// object, `timeout`).
    pub timeout_seconds: u32,
    /// Why, for the CommandResponse's message.
    pub message: Option<String>,
}

/// CommandResultType enum: the outcome at the station (Commands: CommandResultType enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandResultType {
    /// The station did it (for START_SESSION and STOP_SESSION: the transaction started or
    /// stopped).
    Accepted,
    /// The reservation was cancelled by the CPO.
    CanceledReservation,
    /// Another session is ongoing on the EVSE.
    EvseOccupied,
    /// The EVSE is inoperative or faulted.
    EvseInoperative,
    /// The station accepted but did not do it (no transaction within the start window).
    Failed,
    /// The station or EVSE does not support it.
    NotSupported,
    /// The station refused it.
    Rejected,
    /// The station did not answer in time.
    Timeout,
    /// The station does not know the reservation.
    UnknownReservation,
}

impl CommandResultType {
    /// The spec's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandResultType::Accepted => "ACCEPTED",
            CommandResultType::CanceledReservation => "CANCELED_RESERVATION",
            CommandResultType::EvseOccupied => "EVSE_OCCUPIED",
            CommandResultType::EvseInoperative => "EVSE_INOPERATIVE",
            CommandResultType::Failed => "FAILED",
            CommandResultType::NotSupported => "NOT_SUPPORTED",
            CommandResultType::Rejected => "REJECTED",
            CommandResultType::Timeout => "TIMEOUT",
            CommandResultType::UnknownReservation => "UNKNOWN_RESERVATION",
        }
    }

    /// Parses the spec's name.
    pub fn parse(s: &str) -> Option<CommandResultType> {
        [
            CommandResultType::Accepted,
            CommandResultType::CanceledReservation,
            CommandResultType::EvseOccupied,
            CommandResultType::EvseInoperative,
            CommandResultType::Failed,
            CommandResultType::NotSupported,
            CommandResultType::Rejected,
            CommandResultType::Timeout,
            CommandResultType::UnknownReservation,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A CommandResult owed to an eMSP: where it goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command's `response_url`.
    pub response_url: String,
    /// The result.
    pub result: CommandResultType,
    /// Why, in words.
    pub message: Option<String>,
}

/// The core's side of the Commands Receiver interface.
#[async_trait]
pub trait CommandReceiver: Send + Sync + 'static {
    /// Takes a command from `partner`: answers at once whether it goes to the station; when it
    /// does, the command is stored before this returns and its result is owed from then on.
    async fn submit(
        &self,
        partner: &Partner,
        request: CommandRequest,
    ) -> Result<CommandAnswer, StoreError>;

    /// The result of the command whose outbox object key is `key`, once known.
    async fn outcome(&self, key: &str) -> Result<Option<CommandOutcome>, StoreError>;
}
