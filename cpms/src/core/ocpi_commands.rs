//! OCPI Commands, the core's side (OCPI 2.2.1 Commands module, CPO Receiver interface): the
//! bridge's [`CommandReceiver`] over the stored facts and the gateway.
//!
//! A command is checked against what we know (its Location and EVSE, the eMSP's own sessions
//! and reservations, whether the station is connected) and answered at once; an accepted one is
//! stored (`ocpi_command`) before the answer and sent to the station over OCPP, either version,
//! through the gateway's [`Command`]s. Its CommandResult follows from the station's answer and,
//! for START_SESSION and STOP_SESSION, from what then happens: the transaction must start (or
//! stop) within the start window, else the result is FAILED.
//!
//! Delivery is durable and happens once: the result is written with an outbox row in one
//! database transaction, guarded so a command gets one result only, and the push worker POSTs it
//! to the command's `response_url`, retrying with backoff. A command whose station call was in
//! flight when the process stopped is settled by [`OcpiCommands::run`] after the restart (its
//! window still applies: the station may have started the transaction meanwhile).
//!
//! A START_SESSION's transaction belongs to the eMSP: while the command is open, its token is
//! accepted by the one authorization question ([`Core::commanded_start`], asked from
//! `authorization.rs`) and the transaction carries the eMSP, the token it sent (stored like a
//! Tokens PUT), the COMMAND auth method and the authorization reference.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpi_bridge::port::commands::{
    CommandAnswer, CommandOutcome, CommandReceiver, CommandRequest, CommandResponseType,
    CommandResultType, CommandType,
};
use ocpi_bridge::port::outbox::{PushOperation, COMMANDS};
use ocpi_bridge::port::tokens::{Token, TokenStore};
use ocpi_bridge::port::{Partner, PartnerId, StoreError};
use ocpp_gateway::port::{Command, CommandError, CommandReply, EvseRef};
use ocpp_gateway::Gateway;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, TransactionTrait,
};

use super::roaming_tokens::RoamingOrigin;
use super::sessions::{pending_push, SessionChange};
use super::{Core, CoreError, ReservationRequest};
use crate::entities::{connector, location, location_evse, ocpi_command, ocpi_token, transaction};
use crate::events::DomainEvent;

/// The station has not been asked yet, or its answer is awaited.
const SENDING: &str = "sending";
/// The station accepted; the transaction's start (or stop) is awaited until the deadline.
const AWAITING: &str = "awaiting";
/// The result is known and owed to (or delivered to) the eMSP through the outbox.
const DONE: &str = "done";

/// How often open commands are looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// The stored auth method of a transaction a START_SESSION started (Types: AuthMethod enum).
const COMMAND_AUTH_METHOD: &str = "COMMAND";

/// How long commands may take.
#[derive(Debug, Clone, Copy)]
pub struct CommandSettings {
    /// How long after the station accepted a START_SESSION (or STOP_SESSION) its transaction
    /// must start (or stop) before the result is FAILED
    /// (`CPMS__OCPI__START_SESSION_TIMEOUT_SECONDS`).
    pub start_window: Duration,
    /// The longest a station call can take before the gateway gives up on it.
    pub call_timeout: Duration,
}

/// The Commands Receiver: the core, the gateway to reach stations, and the worker settling
/// commands whose outcome comes later. Cheap to clone.
#[derive(Clone)]
pub struct OcpiCommands {
    core: Core,
    gateway: Gateway,
    settings: CommandSettings,
    /// Notified when a command starts waiting for its transaction.
    wake: Arc<tokio::sync::Notify>,
}

/// Where a command goes at a station.
struct Target {
    station_id: String,
    evse_id: Option<i32>,
    inoperative: bool,
}

/// What the station's answer (or its silence) means for a command.
enum Next {
    /// The result is known.
    Done(CommandResultType, Option<String>),
    /// The station accepted; the transaction's start or stop decides.
    Await,
}

fn storage(e: CoreError) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A fresh positive id for the station (remoteStartId, reservationId); random, so ids from
/// before a restart are not reused.
fn station_id_number() -> i32 {
    i32::try_from(rand::random::<u32>() >> 1)
        .unwrap_or(i32::MAX)
        .max(1)
}

fn answer(
    result: CommandResponseType,
    timeout: Duration,
    message: Option<String>,
) -> CommandAnswer {
    CommandAnswer {
        result,
        timeout_seconds: seconds(timeout),
        message,
    }
}

fn rejected(why: impl Into<String>) -> CommandAnswer {
    answer(
        CommandResponseType::Rejected,
        Duration::ZERO,
        Some(why.into()),
    )
}

/// Whether `partner` is the party owning `token` (Commands: StartSession and ReserveNow: an
/// eMSP SHALL only use its own tokens).
fn owns(partner: &Partner, token: &Token) -> bool {
    partner.roles.iter().any(|r| {
        r.country_code.eq_ignore_ascii_case(&token.country_code)
            && r.party_id.eq_ignore_ascii_case(&token.party_id)
    })
}

/// The status text of a station's answer, whichever reply shape carries it.
fn reply_status(reply: &CommandReply) -> Option<&str> {
    match reply {
        CommandReply::Status { status } | CommandReply::RemoteStart { status, .. } => {
            Some(status.as_str())
        }
        _ => None,
    }
}

/// The result of a station call that got no usable answer.
fn call_failed(e: &CommandError) -> (CommandResultType, Option<String>) {
    let result = match e {
        CommandError::Timeout(_) | CommandError::Closed => CommandResultType::Timeout,
        CommandError::Unsupported(_) => CommandResultType::NotSupported,
        CommandError::CallError { code, .. }
            if code == "NotImplemented" || code == "NotSupported" =>
        {
            CommandResultType::NotSupported
        }
        CommandError::Offline(_)
        | CommandError::CallError { .. }
        | CommandError::InvalidReply(_) => CommandResultType::Failed,
    };
    (result, Some(e.to_string()))
}

/// The result of the station's answer to a command that has no later effect to wait for.
/// Status names of both versions: 1.6 UnlockStatus / ReservationStatus /
/// CancelReservationStatus, 2.0.1 UnlockStatusEnumType / ReserveNowStatusEnumType /
/// CancelReservationStatusEnumType.
fn direct_result(command: CommandType, status: &str) -> CommandResultType {
    use CommandResultType as R;
    match (command, status) {
        (CommandType::UnlockConnector, "Unlocked") => R::Accepted,
        (CommandType::UnlockConnector, "UnlockFailed") => R::Failed,
        (CommandType::UnlockConnector, "NotSupported") => R::NotSupported,
        // 2.0.1 F05: a transaction holds the connector.
        (CommandType::UnlockConnector, "OngoingAuthorizedTransaction") => R::EvseOccupied,
        (CommandType::ReserveNow, "Accepted") => R::Accepted,
        (CommandType::ReserveNow, "Occupied") => R::EvseOccupied,
        (CommandType::ReserveNow, "Faulted" | "Unavailable") => R::EvseInoperative,
        (CommandType::CancelReservation, "Accepted") => R::Accepted,
        // Both versions: Rejected means the station has no reservation with that id.
        (CommandType::CancelReservation, "Rejected") => R::UnknownReservation,
        _ => R::Rejected,
    }
}

/// The result of a refused START_SESSION from what we know of the EVSE (Commands:
/// CommandResultType: EVSE_OCCUPIED, EVSE_INOPERATIVE).
fn refused_start(status: Option<&str>) -> CommandResultType {
    match status {
        Some("Charging" | "SuspendedEv" | "SuspendedEvse" | "Finishing" | "Reserved") => {
            CommandResultType::EvseOccupied
        }
        Some("Faulted" | "Unavailable") => CommandResultType::EvseInoperative,
        _ => CommandResultType::Rejected,
    }
}

impl Core {
    /// The open START_SESSION for the token `uid`, as the authorization question sees it: the
    /// eMSP authorized the token when it sent the command (Commands: StartSession object: the
    /// CPO SHALL NOT check it), so the station's start with it is accepted, with the eMSP's
    /// reference and the roaming origin its transaction keeps.
    pub(crate) async fn commanded_start(
        &self,
        uid: &str,
    ) -> Result<Option<(Option<String>, RoamingOrigin)>, CoreError> {
        let now = self.now();
        let open = ocpi_command::Entity::find()
            .filter(ocpi_command::Column::Command.eq(CommandType::StartSession.as_str()))
            .filter(ocpi_command::Column::State.is_in([SENDING, AWAITING]))
            .filter(ocpi_command::Column::IdToken.eq(uid))
            .order_by_desc(ocpi_command::Column::Id)
            .all(&self.db)
            .await?;
        Ok(open
            .into_iter()
            .filter(|c| c.deadline.is_none_or(|d| d > now))
            .find_map(|c| {
                let token_id = c.ocpi_token_id?;
                Some((
                    c.authorization_reference,
                    RoamingOrigin {
                        partner_id: c.partner_id,
                        token_id,
                        realtime: false,
                        command: true,
                    },
                ))
            }))
    }
}

impl OcpiCommands {
    /// The Commands Receiver over `core`, reaching stations through `gateway`.
    pub fn new(core: Core, gateway: Gateway, settings: CommandSettings) -> Self {
        OcpiCommands {
            core,
            gateway,
            settings,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.core.now()
    }

    /// How long the eMSP may wait for the result of a command with no later effect.
    fn call_timeout(&self) -> Duration {
        self.settings.call_timeout
    }

    /// How long the eMSP may wait for the result of a START_SESSION or STOP_SESSION.
    fn session_timeout(&self) -> Duration {
        self.settings.call_timeout + self.settings.start_window
    }

    /// The station and EVSE a Location (and EVSE uid) names; `Err` says why there is none.
    async fn target(
        &self,
        location_id: &str,
        evse_uid: Option<&str>,
    ) -> Result<Result<Target, String>, CoreError> {
        let db = &self.core.db;
        if location::Entity::find_by_id(location_id)
            .one(db)
            .await?
            .is_none()
        {
            return Ok(Err(format!("unknown location {location_id}")));
        }
        let evses = location_evse::Entity::find()
            .filter(location_evse::Column::LocationId.eq(location_id))
            .order_by_asc(location_evse::Column::Uid)
            .all(db)
            .await?;
        match evse_uid {
            Some(uid) => Ok(evses
                .into_iter()
                .find(|e| e.uid == uid)
                .map(|e| Target {
                    station_id: e.station_id,
                    evse_id: Some(e.evse_id),
                    inoperative: e.inoperative,
                })
                .ok_or_else(|| format!("unknown EVSE {uid} at location {location_id}"))),
            None => {
                let Some(first) = evses.first() else {
                    return Ok(Err(format!("location {location_id} has no EVSE")));
                };
                // Without an EVSE the station picks one; that needs one station.
                if evses.iter().any(|e| e.station_id != first.station_id) {
                    return Ok(Err(format!(
                        "location {location_id} has several stations: name an evse_uid"
                    )));
                }
                Ok(Ok(Target {
                    station_id: first.station_id.clone(),
                    evse_id: None,
                    inoperative: evses.iter().all(|e| e.inoperative),
                }))
            }
        }
    }

    /// Why a command cannot go to `station_id` now, if it cannot.
    fn unreachable(&self, station_id: &str) -> Option<String> {
        (!self.gateway.is_connected(station_id)).then(|| format!("station {station_id} is offline"))
    }

    /// The EVSE a command started with `token` (START_SESSION, RESERVE_NOW) goes to, or why it
    /// is rejected: the token is another party's, or `location_id`/`evse_uid` name no EVSE we
    /// can use. Both commands check these first and in this order, so they refuse alike.
    async fn token_target(
        &self,
        partner: &Partner,
        token: &Token,
        location_id: &str,
        evse_uid: Option<&str>,
    ) -> Result<Result<Target, String>, CoreError> {
        if !owns(partner, token) {
            return Ok(Err("the token belongs to another party".into()));
        }
        self.target(location_id, evse_uid).await
    }

    /// Why station `station_id` cannot take a command for token `uid` now: it is offline, or
    /// the token cannot be put in its local list. Shared by START_SESSION and RESERVE_NOW,
    /// which both hand the token to the station.
    async fn refuses_token(&self, station_id: &str, uid: &str) -> Option<String> {
        if let Some(why) = self.unreachable(station_id) {
            return Some(why);
        }
        self.core
            .check_token_for_station(station_id, uid)
            .await
            .err()
            .map(|e| e.to_string())
    }

    /// Stores the token an eMSP sent with a command in its token store (like a Tokens PUT), so
    /// the Session and CDR can name it; returns its row id.
    async fn store_token(&self, owner: PartnerId, token: Token) -> Result<i64, CoreError> {
        let token = Token {
            country_code: token.country_code.to_ascii_uppercase(),
            party_id: token.party_id.to_ascii_uppercase(),
            ..token
        };
        let key = (
            token.country_code.clone(),
            token.party_id.clone(),
            token.uid.clone(),
            token.token_type,
        );
        self.core
            .put_token(owner, token)
            .await
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        ocpi_token::Entity::find()
            .filter(ocpi_token::Column::PartnerId.eq(owner.0))
            .filter(ocpi_token::Column::CountryCode.eq(key.0))
            .filter(ocpi_token::Column::PartyId.eq(key.1))
            .filter(ocpi_token::Column::Uid.eq(key.2))
            .filter(ocpi_token::Column::TokenType.eq(key.3.as_str()))
            .one(&self.core.db)
            .await?
            .map(|t| t.id)
            .ok_or_else(|| CoreError::NotFound("the stored token".into()))
    }

    /// A new command row, state `sending`.
    fn row(
        &self,
        partner: &Partner,
        command: CommandType,
        response_url: &str,
    ) -> ocpi_command::ActiveModel {
        let now = self.now();
        ocpi_command::ActiveModel {
            partner_id: Set(partner.id.0),
            command: Set(command.as_str().to_owned()),
            response_url: Set(response_url.to_owned()),
            state: Set(SENDING.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }

    /// Sends `command` to the station from a task of its own and settles the command row with
    /// the answer.
    fn dispatch(&self, id: i64, station_id: String, command: Command) {
        let this = self.clone();
        tokio::spawn(async move {
            let reply = this.gateway.call(&station_id, command.clone()).await;
            if let Err(e) = this.on_reply(id, &station_id, &command, reply).await {
                // The row stays `sending`; the worker settles it after the call timeout.
                tracing::error!(command = id, error = %e, "OCPI command: could not store the station's answer");
            }
        });
    }

    async fn accept(
        &self,
        partner: &Partner,
        request: CommandRequest,
    ) -> Result<CommandAnswer, CoreError> {
        let command_type = request.command_type();
        let url = request.response_url().to_owned();
        match request {
            CommandRequest::StartSession(c) => {
                let target = match self
                    .token_target(partner, &c.token, &c.location_id, c.evse_uid.as_deref())
                    .await?
                {
                    Ok(t) => t,
                    Err(why) => return Ok(rejected(why)),
                };
                let connector_id = match c.connector_id.as_deref().map(str::parse::<i32>) {
                    None => None,
                    Some(Ok(n)) if n > 0 => Some(n),
                    Some(_) => return Ok(rejected("unknown connector")),
                };
                if let Some(why) = self.refuses_token(&target.station_id, &c.token.uid).await {
                    return Ok(rejected(why));
                }
                let uid = c.token.uid.clone();
                let token_id = self.store_token(partner.id, c.token).await?;
                let remote_start_id = station_id_number();
                let mut row = self.row(partner, command_type, &url);
                row.station_id = Set(Some(target.station_id.clone()));
                row.evse_id = Set(target.evse_id);
                row.connector_id = Set(connector_id);
                row.location_id = Set(Some(c.location_id));
                row.id_token = Set(Some(uid.clone()));
                row.ocpi_token_id = Set(Some(token_id));
                row.authorization_reference = Set(c.authorization_reference);
                row.remote_start_id = Set(Some(remote_start_id));
                let row = row.insert(&self.core.db).await?;
                if target.inoperative {
                    self.complete(
                        row.id,
                        CommandResultType::EvseInoperative,
                        Some("the EVSE is out of service".into()),
                        None,
                    )
                    .await?;
                } else {
                    self.dispatch(
                        row.id,
                        target.station_id,
                        Command::RemoteStart {
                            evse: target.evse_id.map(|evse_id| EvseRef {
                                evse_id,
                                connector_id: connector_id.unwrap_or(1),
                            }),
                            id_token: uid,
                            remote_start_id: Some(remote_start_id),
                        },
                    );
                }
                Ok(answer(
                    CommandResponseType::Accepted,
                    self.session_timeout(),
                    None,
                ))
            }
            CommandRequest::StopSession(c) => {
                // Party isolation: another eMSP's session is as unknown as a missing one.
                let found = match c.session_id.parse::<i32>() {
                    Ok(id) => {
                        transaction::Entity::find_by_id(id)
                            .filter(transaction::Column::OcpiPartnerId.eq(partner.id.0))
                            .one(&self.core.db)
                            .await?
                    }
                    Err(_) => None,
                };
                let Some(tx) = found else {
                    return Ok(answer(
                        CommandResponseType::UnknownSession,
                        Duration::ZERO,
                        Some(format!("no session {}", c.session_id)),
                    ));
                };
                if tx.state == "Stopped" {
                    return Ok(rejected("the session has ended"));
                }
                if let Some(why) = self.unreachable(&tx.station_id) {
                    return Ok(rejected(why));
                }
                let mut row = self.row(partner, command_type, &url);
                row.station_id = Set(Some(tx.station_id.clone()));
                row.evse_id = Set(Some(tx.evse_id));
                row.transaction_id = Set(Some(tx.id));
                let row = row.insert(&self.core.db).await?;
                self.dispatch(
                    row.id,
                    tx.station_id,
                    Command::RemoteStop {
                        transaction_id: i64::from(tx.id),
                        station_transaction_id: tx.station_transaction_id,
                    },
                );
                Ok(answer(
                    CommandResponseType::Accepted,
                    self.session_timeout(),
                    None,
                ))
            }
            CommandRequest::UnlockConnector(c) => {
                let target = match self.target(&c.location_id, Some(&c.evse_uid)).await? {
                    Ok(t) => t,
                    Err(why) => return Ok(rejected(why)),
                };
                // The operator's connector ids are the station's connector numbers.
                let Some(connector_id) = c.connector_id.parse::<i32>().ok().filter(|n| *n > 0)
                else {
                    return Ok(rejected(format!("unknown connector {}", c.connector_id)));
                };
                let Some(evse_id) = target.evse_id else {
                    return Ok(rejected("unknown EVSE"));
                };
                if let Some(why) = self.unreachable(&target.station_id) {
                    return Ok(rejected(why));
                }
                let mut row = self.row(partner, command_type, &url);
                row.station_id = Set(Some(target.station_id.clone()));
                row.evse_id = Set(Some(evse_id));
                row.connector_id = Set(Some(connector_id));
                row.location_id = Set(Some(c.location_id));
                let row = row.insert(&self.core.db).await?;
                self.dispatch(
                    row.id,
                    target.station_id,
                    Command::UnlockConnector {
                        evse: EvseRef {
                            evse_id,
                            connector_id,
                        },
                    },
                );
                Ok(answer(
                    CommandResponseType::Accepted,
                    self.call_timeout(),
                    None,
                ))
            }
            CommandRequest::ReserveNow(c) => {
                let target = match self
                    .token_target(partner, &c.token, &c.location_id, c.evse_uid.as_deref())
                    .await?
                {
                    Ok(t) => t,
                    Err(why) => return Ok(rejected(why)),
                };
                if let Some(why) = self.refuses_token(&target.station_id, &c.token.uid).await {
                    return Ok(rejected(why));
                }
                let station_reservation_id = match self
                    .station_reservation_id(partner, &c.reservation_id, &c.location_id, &target)
                    .await?
                {
                    Some(id) => id,
                    None => return Ok(rejected("no free reservation id at the station")),
                };
                // A group the station cannot carry is left out rather than refusing the
                // reservation for the token itself.
                let group = match c.token.group_id.clone() {
                    Some(g)
                        if self
                            .core
                            .check_token_for_station(&target.station_id, &g)
                            .await
                            .is_ok() =>
                    {
                        Some(g)
                    }
                    _ => None,
                };
                let uid = c.token.uid.clone();
                let token_id = self.store_token(partner.id, c.token).await?;
                let mut row = self.row(partner, command_type, &url);
                row.station_id = Set(Some(target.station_id.clone()));
                row.evse_id = Set(target.evse_id);
                row.location_id = Set(Some(c.location_id));
                row.id_token = Set(Some(uid.clone()));
                row.ocpi_token_id = Set(Some(token_id));
                row.authorization_reference = Set(c.authorization_reference);
                row.reservation_id = Set(Some(c.reservation_id));
                row.station_reservation_id = Set(Some(station_reservation_id));
                let row = row.insert(&self.core.db).await?;
                self.dispatch(
                    row.id,
                    target.station_id,
                    Command::ReserveNow {
                        reservation_id: station_reservation_id,
                        evse: target.evse_id.map(|evse_id| EvseRef {
                            evse_id,
                            connector_id: 1,
                        }),
                        id_token: uid,
                        group_id_token: group,
                        expiry_date: c.expiry_date,
                    },
                );
                Ok(answer(
                    CommandResponseType::Accepted,
                    self.call_timeout(),
                    None,
                ))
            }
            CommandRequest::CancelReservation(c) => {
                let Some(reserved) = self
                    .accepted_reservation(partner, &c.reservation_id)
                    .await?
                else {
                    return Ok(rejected(format!(
                        "unknown reservation {}",
                        c.reservation_id
                    )));
                };
                let (Some(station_id), Some(station_reservation_id)) =
                    (reserved.station_id.clone(), reserved.station_reservation_id)
                else {
                    return Ok(rejected(format!(
                        "unknown reservation {}",
                        c.reservation_id
                    )));
                };
                if let Some(why) = self.unreachable(&station_id) {
                    return Ok(rejected(why));
                }
                let mut row = self.row(partner, command_type, &url);
                row.station_id = Set(Some(station_id.clone()));
                row.evse_id = Set(reserved.evse_id);
                row.location_id = Set(reserved.location_id);
                row.reservation_id = Set(Some(c.reservation_id));
                row.station_reservation_id = Set(Some(station_reservation_id));
                let row = row.insert(&self.core.db).await?;
                self.dispatch(
                    row.id,
                    station_id,
                    Command::CancelReservation {
                        reservation_id: station_reservation_id,
                    },
                );
                Ok(answer(
                    CommandResponseType::Accepted,
                    self.call_timeout(),
                    None,
                ))
            }
        }
    }

    /// The partner's latest RESERVE_NOW with this reservation id that the station accepted.
    async fn accepted_reservation(
        &self,
        partner: &Partner,
        reservation_id: &str,
    ) -> Result<Option<ocpi_command::Model>, CoreError> {
        Ok(ocpi_command::Entity::find()
            .filter(ocpi_command::Column::PartnerId.eq(partner.id.0))
            .filter(ocpi_command::Column::Command.eq(CommandType::ReserveNow.as_str()))
            .filter(ocpi_command::Column::ReservationId.eq(reservation_id))
            .filter(ocpi_command::Column::Result.eq(CommandResultType::Accepted.as_str()))
            .order_by_desc(ocpi_command::Column::Id)
            .one(&self.core.db)
            .await?)
    }

    /// The reservation id the station gets: the one of the partner's earlier reservation with
    /// the same id at the same Location and station, so the station replaces it (Commands:
    /// ReserveNow object); otherwise a fresh one. The eMSP's id never reaches the station, so
    /// one eMSP cannot replace or cancel another's reservation.
    async fn station_reservation_id(
        &self,
        partner: &Partner,
        reservation_id: &str,
        location_id: &str,
        target: &Target,
    ) -> Result<Option<i32>, CoreError> {
        if let Some(earlier) = self.accepted_reservation(partner, reservation_id).await? {
            if earlier.location_id.as_deref() == Some(location_id)
                && earlier.station_id.as_deref() == Some(target.station_id.as_str())
            {
                return Ok(earlier.station_reservation_id);
            }
        }
        for _ in 0..8 {
            let candidate = station_id_number();
            if self
                .core
                .check_reservation_id_free(&target.station_id, candidate)
                .await
                .is_ok()
            {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Settles a command with the station's answer to its call.
    async fn on_reply(
        &self,
        id: i64,
        station_id: &str,
        command: &Command,
        reply: Result<CommandReply, CommandError>,
    ) -> Result<(), CoreError> {
        let Some(row) = ocpi_command::Entity::find_by_id(id)
            .one(&self.core.db)
            .await?
        else {
            return Ok(());
        };
        // Only this file writes the column; an unreadable value would be a corrupted row.
        let Some(command_type) = CommandType::parse(&row.command) else {
            return Ok(());
        };
        let reply = match reply {
            Ok(reply) => reply,
            // Without an answer a START_SESSION may still have reached the station, which may
            // start its transaction: the window decides (TIMEOUT when nothing starts).
            Err(CommandError::Timeout(_) | CommandError::Closed)
                if command_type == CommandType::StartSession =>
            {
                let deadline = self.now() + chrono_duration(self.settings.start_window);
                self.await_effect(id, deadline).await?;
                return Ok(());
            }
            Err(e) => {
                let (result, message) = call_failed(&e);
                self.complete(id, result, message, None).await?;
                return Ok(());
            }
        };
        let status = reply_status(&reply).unwrap_or("Rejected").to_owned();
        ocpi_command::Entity::update_many()
            .col_expr(
                ocpi_command::Column::StationAnswer,
                Expr::value(status.chars().take(36).collect::<String>()),
            )
            .filter(ocpi_command::Column::Id.eq(id))
            .exec(&self.core.db)
            .await?;
        let next = match command_type {
            CommandType::StartSession | CommandType::StopSession if status == "Accepted" => {
                Next::Await
            }
            CommandType::StartSession => {
                let known = self.evse_status(station_id, row.evse_id).await?;
                Next::Done(
                    refused_start(known.as_deref()),
                    Some(format!("the station answered {status}")),
                )
            }
            CommandType::StopSession => Next::Done(
                CommandResultType::Rejected,
                Some(format!("the station answered {status}")),
            ),
            other => {
                self.record_reservation_answer(station_id, command, &row, &status)
                    .await?;
                let result = direct_result(other, &status);
                let message = (result != CommandResultType::Accepted)
                    .then(|| format!("the station answered {status}"));
                Next::Done(result, message)
            }
        };
        match next {
            Next::Done(result, message) => {
                self.complete(id, result, message, None).await?;
            }
            Next::Await => {
                let deadline = self.now() + chrono_duration(self.settings.start_window);
                self.await_effect(id, deadline).await?;
            }
        }
        Ok(())
    }

    /// Keeps what a reservation answer changed in the core's reservations (as the operator
    /// API does).
    async fn record_reservation_answer(
        &self,
        station_id: &str,
        command: &Command,
        row: &ocpi_command::Model,
        status: &str,
    ) -> Result<(), CoreError> {
        match command {
            Command::ReserveNow {
                reservation_id,
                evse,
                id_token,
                group_id_token,
                expiry_date,
            } => {
                let known = self
                    .core
                    .check_reservation_id_free(station_id, *reservation_id)
                    .await
                    .is_err();
                if known {
                    // The eMSP replaced its reservation (same id): the station holds the new one.
                    self.core
                        .set_reservation_status(station_id, *reservation_id, status, None)
                        .await
                } else {
                    let request = ReservationRequest {
                        reservation_id: *reservation_id,
                        evse_id: evse.map(|e| e.evse_id),
                        id_token: id_token.clone(),
                        group_id_token: group_id_token.clone(),
                        expiry_date: *expiry_date,
                    };
                    self.core
                        .record_reservation(station_id, request, status)
                        .await
                }
            }
            Command::CancelReservation { reservation_id } if status == "Accepted" => {
                // The eMSP's reservation is gone: a later RESERVE_NOW with its id is a new one.
                ocpi_command::Entity::update_many()
                    .col_expr(
                        ocpi_command::Column::ReservationId,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(ocpi_command::Column::PartnerId.eq(row.partner_id))
                    .filter(ocpi_command::Column::Command.eq(CommandType::ReserveNow.as_str()))
                    .filter(ocpi_command::Column::StationReservationId.eq(*reservation_id))
                    .exec(&self.core.db)
                    .await?;
                self.core
                    .cancel_reservation(station_id, *reservation_id)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// The normalised status of the EVSE (its first connector), if known.
    async fn evse_status(
        &self,
        station_id: &str,
        evse_id: Option<i32>,
    ) -> Result<Option<String>, CoreError> {
        let Some(evse_id) = evse_id else {
            return Ok(None);
        };
        Ok(connector::Entity::find()
            .filter(connector::Column::StationId.eq(station_id))
            .filter(connector::Column::EvseId.eq(evse_id))
            .order_by_asc(connector::Column::ConnectorId)
            .one(&self.core.db)
            .await?
            .map(|c| c.status))
    }

    /// The station accepted a START_SESSION or STOP_SESSION: its effect is awaited until
    /// `deadline`.
    async fn await_effect(&self, id: i64, deadline: DateTime<Utc>) -> Result<(), CoreError> {
        ocpi_command::Entity::update_many()
            .col_expr(ocpi_command::Column::State, Expr::value(AWAITING))
            .col_expr(ocpi_command::Column::Deadline, Expr::value(deadline))
            .col_expr(ocpi_command::Column::UpdatedAt, Expr::value(self.now()))
            .filter(ocpi_command::Column::Id.eq(id))
            .filter(ocpi_command::Column::State.eq(SENDING))
            .exec(&self.core.db)
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Records the command's result and its outbox row in one database transaction, once: a
    /// command that already has its result keeps it. With `started`, the START_SESSION's
    /// transaction is given to the eMSP when nothing gave it an owner yet (its Session follows).
    /// Returns whether this call settled it.
    async fn complete(
        &self,
        id: i64,
        result: CommandResultType,
        message: Option<String>,
        started: Option<transaction::Model>,
    ) -> Result<bool, CoreError> {
        let now = self.now();
        let txn = self.core.db.begin().await?;
        let Some(row) = ocpi_command::Entity::find_by_id(id).one(&txn).await? else {
            txn.rollback().await?;
            return Ok(false);
        };
        let mut update = ocpi_command::Entity::update_many()
            .col_expr(ocpi_command::Column::State, Expr::value(DONE))
            .col_expr(ocpi_command::Column::Result, Expr::value(result.as_str()))
            .col_expr(ocpi_command::Column::Message, Expr::value(message))
            .col_expr(ocpi_command::Column::UpdatedAt, Expr::value(now))
            .filter(ocpi_command::Column::Id.eq(id))
            .filter(ocpi_command::Column::State.ne(DONE));
        if let Some(tx) = &started {
            update = update.col_expr(ocpi_command::Column::TransactionId, Expr::value(tx.id));
        }
        if update.exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        if let Some(tx) = started.filter(|t| t.ocpi_partner_id.is_none()) {
            let mut active = tx.into_active_model();
            active.ocpi_partner_id = Set(Some(row.partner_id));
            active.ocpi_token_id = Set(row.ocpi_token_id);
            active.ocpi_auth_method = Set(Some(COMMAND_AUTH_METHOD.to_owned()));
            if row.authorization_reference.is_some() {
                active.authorization_reference = Set(row.authorization_reference.clone());
            }
            active.updated_at = Set(now);
            let tx = active.update(&txn).await?;
            self.core
                .enqueue_session(&txn, &tx, SessionChange::Started)
                .await?;
        }
        pending_push(
            row.partner_id,
            COMMANDS,
            id.to_string(),
            PushOperation::Post,
            now,
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        self.core.wake_push();
        tracing::info!(command = id, kind = %row.command, result = result.as_str(), "OCPI command result");
        Ok(true)
    }

    /// The transaction a START_SESSION started: on its station, carrying its remoteStartId
    /// (2.0.1), or started with its token since the command arrived (1.6).
    async fn started_transaction(
        &self,
        command: &ocpi_command::Model,
    ) -> Result<Option<transaction::Model>, CoreError> {
        let Some(station_id) = &command.station_id else {
            return Ok(None);
        };
        let mut matches = Condition::any();
        if let Some(remote_start_id) = command.remote_start_id {
            matches = matches.add(transaction::Column::RemoteStartId.eq(remote_start_id));
        }
        if let Some(uid) = &command.id_token {
            matches = matches.add(
                Condition::all()
                    .add(transaction::Column::IdToken.eq(uid.as_str()))
                    .add(transaction::Column::CreatedAt.gte(command.created_at)),
            );
        }
        Ok(transaction::Entity::find()
            .filter(transaction::Column::StationId.eq(station_id.as_str()))
            .filter(matches)
            .order_by_asc(transaction::Column::Id)
            .one(&self.core.db)
            .await?)
    }

    /// Settles every open command whose outcome is known now; returns when the next one is
    /// due at the latest.
    async fn settle(&self) -> Result<Option<DateTime<Utc>>, CoreError> {
        let now = self.now();
        let open = ocpi_command::Entity::find()
            .filter(ocpi_command::Column::State.is_in([SENDING, AWAITING]))
            .order_by_asc(ocpi_command::Column::Id)
            .all(&self.core.db)
            .await?;
        let mut next: Option<DateTime<Utc>> = None;
        let mut due = |at: DateTime<Utc>| next = Some(next.map_or(at, |n| n.min(at)));
        let call_limit = chrono_duration(self.settings.call_timeout);
        for command in open {
            let kind = CommandType::parse(&command.command);
            if command.state == SENDING {
                // The call was lost (a restart, or its answer could not be stored).
                let given_up = command.created_at + call_limit + chrono::Duration::seconds(1);
                if given_up > now {
                    due(given_up);
                    continue;
                }
                if kind == Some(CommandType::StartSession) {
                    // The station may have accepted and may still start: its window applies.
                    self.await_effect(
                        command.id,
                        given_up + chrono_duration(self.settings.start_window),
                    )
                    .await?;
                    due(now);
                } else {
                    self.complete(
                        command.id,
                        CommandResultType::Timeout,
                        Some("no answer from the station".into()),
                        None,
                    )
                    .await?;
                }
                continue;
            }
            let deadline = command.deadline.unwrap_or(now);
            match kind {
                Some(CommandType::StartSession) => {
                    if let Some(tx) = self.started_transaction(&command).await? {
                        self.complete(command.id, CommandResultType::Accepted, None, Some(tx))
                            .await?;
                        continue;
                    }
                    if deadline <= now {
                        // Commands: CommandResultType: FAILED when the station accepted but did
                        // not start; TIMEOUT when it never answered.
                        let (result, message) = if command.station_answer.is_some() {
                            (
                                CommandResultType::Failed,
                                format!(
                                    "no transaction started within {} s",
                                    self.settings.start_window.as_secs()
                                ),
                            )
                        } else {
                            (
                                CommandResultType::Timeout,
                                "no answer from the station".to_owned(),
                            )
                        };
                        self.complete(command.id, result, Some(message), None)
                            .await?;
                        continue;
                    }
                }
                Some(CommandType::StopSession) => {
                    let stopped = match command.transaction_id {
                        Some(id) => transaction::Entity::find_by_id(id)
                            .one(&self.core.db)
                            .await?
                            .is_none_or(|t| t.state == "Stopped"),
                        None => true,
                    };
                    if stopped {
                        self.complete(command.id, CommandResultType::Accepted, None, None)
                            .await?;
                        continue;
                    }
                    if deadline <= now {
                        let message = format!(
                            "the session did not stop within {} s",
                            self.settings.start_window.as_secs()
                        );
                        self.complete(command.id, CommandResultType::Failed, Some(message), None)
                            .await?;
                        continue;
                    }
                }
                // Only START_SESSION and STOP_SESSION wait for an effect.
                _ => {
                    self.complete(command.id, CommandResultType::Failed, None, None)
                        .await?;
                    continue;
                }
            }
            due(deadline);
        }
        Ok(next)
    }

    /// Runs until `shutdown` completes: settles open commands whenever a transaction starts or
    /// stops, a command starts waiting, or a deadline comes; at start-up this also settles what
    /// a previous process left open.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        tokio::pin!(shutdown);
        let mut events = self.core.events().subscribe();
        loop {
            let next = match self.settle().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "OCPI commands: could not settle open commands");
                    None
                }
            };
            let wait = next
                .map(|at| (at - self.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(POLL)
                .min(POLL);
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            // Wait for something that can settle a command; other events are skipped here.
            loop {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = self.wake.notified() => break,
                    () = &mut sleep => break,
                    event = events.recv() => match event {
                        Ok(e) if matches!(
                            e.event,
                            DomainEvent::TransactionStarted { .. }
                                | DomainEvent::TransactionUpdated { .. }
                                | DomainEvent::TransactionEnded { .. }
                                | DomainEvent::MeterValues { .. }
                        ) => break,
                        Ok(_) => {}
                        // Lost events: the poll finds what they would have told.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            events = self.core.events().subscribe();
                            break;
                        }
                    },
                }
            }
        }
    }
}

#[async_trait]
impl CommandReceiver for OcpiCommands {
    async fn submit(
        &self,
        partner: &Partner,
        request: CommandRequest,
    ) -> Result<CommandAnswer, StoreError> {
        self.accept(partner, request).await.map_err(storage)
    }

    async fn outcome(&self, key: &str) -> Result<Option<CommandOutcome>, StoreError> {
        let Ok(id) = key.parse::<i64>() else {
            return Ok(None);
        };
        let row = ocpi_command::Entity::find_by_id(id)
            .one(&self.core.db)
            .await
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        Ok(row.and_then(|r| {
            Some(CommandOutcome {
                result: CommandResultType::parse(r.result.as_deref()?)?,
                response_url: r.response_url,
                message: r.message,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_answers_map_to_command_results() {
        use CommandResultType as R;
        for (command, answer, result) in [
            (CommandType::UnlockConnector, "Unlocked", R::Accepted),
            (CommandType::UnlockConnector, "UnlockFailed", R::Failed),
            (CommandType::ReserveNow, "Occupied", R::EvseOccupied),
            (CommandType::ReserveNow, "Faulted", R::EvseInoperative),
            (CommandType::ReserveNow, "Rejected", R::Rejected),
            (
                CommandType::CancelReservation,
                "Rejected",
                R::UnknownReservation,
            ),
        ] {
            assert_eq!(
                direct_result(command, answer),
                result,
                "{command:?} {answer}"
            );
        }
        assert_eq!(refused_start(Some("Charging")), R::EvseOccupied);
        assert_eq!(refused_start(Some("Faulted")), R::EvseInoperative);
        assert_eq!(refused_start(Some("Available")), R::Rejected);
        assert_eq!(refused_start(None), R::Rejected);
    }

    #[test]
    fn a_silent_station_is_a_timeout_and_an_unknown_action_not_supported() {
        assert_eq!(
            call_failed(&CommandError::Timeout(90)).0,
            CommandResultType::Timeout
        );
        assert_eq!(
            call_failed(&CommandError::CallError {
                code: "NotImplemented".into(),
                description: String::new()
            })
            .0,
            CommandResultType::NotSupported
        );
        assert_eq!(
            call_failed(&CommandError::InvalidReply("x".into())).0,
            CommandResultType::Failed
        );
    }
}
