//! Local authorization lists (OCPP 1.6 §5.15/§6.41, 2.0.1 D01/D02): what the CPMS last sent a
//! station and the station accepted, so the next Differential update is computed against it and
//! its version counts up.
//!
//! The state changes only after the station answered `Accepted`. `Failed` and `NotSupported`
//! leave it as it was; `VersionMismatch` marks it out of sync, after which a Differential update
//! is refused (409) until a Full update is accepted: the CPMS no longer knows what the station
//! holds.
//!
//! Roaming tokens (OCPI 2.2.1 Tokens: WhitelistType enum) whitelisted ALWAYS or ALLOWED_OFFLINE,
//! and valid, join the lists too, so chargers let roaming drivers in while offline: an eMSP's
//! token change only records itself and wakes [`Core::run_roaming_local_lists`], which sends
//! each connected station the Differential update its list needs (Full when the CPMS does not
//! know the station's list), a few stations at a time; a station offline gets it when it
//! reconnects. Only the entries the sync put in a list (`local_list_roaming`) are changed or
//! removed by it; the operator's own entries win over a roaming token of the same id.
//!
//! Every update of a station's list, the operator's and the sync's, runs plan → SendLocalList →
//! record under that station's [`Core::local_list_lock`]: both pick the next version from the
//! stored list, and an update planned while another is in flight would reuse its version, or
//! read the list half-written (no head yet, entries already there) and send a wrong Full update.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use ocpi_bridge::port::tokens::{TokenType, WhitelistType};
use ocpp_gateway::port::{
    AuthorizationStatus, Command, CommandError, CommandReply, LocalListEntry, LocalListUpdate,
    OcppVersion,
};
use ocpp_gateway::Gateway;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Core, CoreError};
use crate::entities::{
    id_token, local_list, local_list_entry, local_list_roaming, ocpi_token, station,
};
use crate::events::DomainEvent;

/// The local list the CPMS believes a station holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalListRecord {
    /// The version the station accepted last; 0 when it never accepted one from us.
    pub list_version: i32,
    /// False after the station answered VersionMismatch: only a Full update may follow.
    pub in_sync: bool,
    /// The entries, ordered by token.
    pub entries: Vec<LocalListEntry>,
}

/// A local list update ready to send: the command, and the list the station holds once it
/// accepted it.
#[derive(Debug, Clone)]
pub struct LocalListPlan {
    /// The SendLocalList command.
    pub command: Command,
    /// The version sent.
    pub version: i32,
    /// The entries the station holds after accepting.
    pub entries_after: Vec<LocalListEntry>,
    /// Which of `entries_after` are roaming entries (see the module documentation).
    pub roaming_after: BTreeSet<String>,
    /// The digest of the roaming entries this update offers, when the roaming sync planned it;
    /// `None` for the operator's updates.
    pub roaming_digest: Option<String>,
}

/// The per-station locks of [`Core::local_list_lock`]: one entry per station whose list was
/// updated since start-up, which is small beside the station's own row.
pub(crate) type LocalListLocks = std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// How many stations the roaming sync updates at once: one slow station must not hold up the
/// others, and a fleet must not all be sent to at once.
const SYNC_CONCURRENCY: usize = 8;
/// How often the roaming sync looks at every station even without a wake-up, for changes that
/// do not wake it (the operator's own tokens shadowing a roaming one) and lost events.
const SYNC_SWEEP: Duration = Duration::from_secs(300);

/// Longest idTag a 1.6 station takes (OCPP 1.6 §7.28 IdToken: CiString20).
const V16_ID_TAG_MAX: usize = 20;
/// Longest idToken a 2.0.1 station takes (2.0.1 IdTokenType.idToken: string[0..36]).
const V201_ID_TOKEN_MAX: usize = 36;

impl Core {
    /// Waits for, and takes, the lock that serialises the local-list updates of `station_id`
    /// (see the module documentation). Hold the guard from [`Core::plan_local_list`] until
    /// [`Core::local_list_answered`] returned.
    pub async fn local_list_lock(&self, station_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .local_list_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(station_id.to_owned())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// Refuses a token the station's OCPP version cannot carry.
    pub(crate) async fn check_token_for_station(
        &self,
        station_id: &str,
        token: &str,
    ) -> Result<(), CoreError> {
        let station = self.station(station_id).await?;
        let (max, version) = match station.protocol.as_deref() {
            Some("ocpp1.6") => (V16_ID_TAG_MAX, "1.6"),
            _ => (V201_ID_TOKEN_MAX, "2.0.1"),
        };
        if token.is_empty() || token.chars().count() > max {
            return Err(CoreError::Invalid(format!(
                "id token {token:?} must be 1 to {max} characters for an OCPP {version} station"
            )));
        }
        Ok(())
    }

    /// The local list the CPMS believes `station_id` holds.
    pub async fn local_list(&self, station_id: &str) -> Result<LocalListRecord, CoreError> {
        self.station(station_id).await?;
        let head = local_list::Entity::find_by_id(station_id)
            .one(&self.db)
            .await?;
        let entries = local_list_entry::Entity::find()
            .filter(local_list_entry::Column::StationId.eq(station_id))
            .order_by_asc(local_list_entry::Column::IdToken)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| LocalListEntry {
                status: Some(status_from_db(&e.status)),
                id_token: e.id_token,
                expiry_date: e.expiry_date,
                group_id_token: e.group_id_token,
            })
            .collect();
        Ok(LocalListRecord {
            list_version: head.as_ref().map_or(0, |h| h.version),
            in_sync: head.as_ref().is_none_or(|h| h.in_sync),
            entries,
        })
    }

    /// Builds the SendLocalList for an operator's update. A Full update without `entries` sends
    /// the operator's id tokens; a Differential one sends only the entries that change the list
    /// the station holds (an entry without status removes its token). The caller holds
    /// [`Core::local_list_lock`].
    pub async fn plan_local_list(
        &self,
        station_id: &str,
        update_type: LocalListUpdate,
        entries: Option<Vec<LocalListEntry>>,
    ) -> Result<LocalListPlan, CoreError> {
        let current = self.local_list(station_id).await?;
        let mut roaming = self.roaming_markers(&self.db, station_id).await?;
        let entries = match (update_type, entries) {
            (_, Some(entries)) => entries,
            (LocalListUpdate::Full, None) => self.operator_tokens().await?,
            (LocalListUpdate::Differential, None) => {
                return Err(CoreError::Invalid(
                    "a Differential update needs entries".into(),
                ))
            }
        };
        for entry in &entries {
            self.check_token_for_station(station_id, &entry.id_token)
                .await?;
            if let Some(group) = &entry.group_id_token {
                self.check_token_for_station(station_id, group).await?;
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = entries.iter().find(|e| !seen.insert(e.id_token.as_str())) {
            return Err(CoreError::Invalid(format!(
                "id token {} is listed twice",
                dup.id_token
            )));
        }
        let version = current
            .list_version
            .checked_add(1)
            .ok_or_else(|| CoreError::Conflict("the list version is exhausted".into()))?;
        let (sent, after) = match update_type {
            LocalListUpdate::Full => {
                roaming.clear();
                if entries.iter().any(|e| e.status.is_none()) {
                    return Err(CoreError::Invalid(
                        "every entry of a Full update needs a status".into(),
                    ));
                }
                (entries.clone(), entries)
            }
            LocalListUpdate::Differential => {
                if current.list_version == 0 || !current.in_sync {
                    return Err(CoreError::Conflict(format!(
                        "the CPMS does not know which local list station {station_id} holds \
                         (none accepted yet, or the station answered VersionMismatch): send a \
                         Full update"
                    )));
                }
                let mut list: BTreeMap<String, LocalListEntry> = current
                    .entries
                    .into_iter()
                    .map(|e| (e.id_token.clone(), e))
                    .collect();
                let mut sent = Vec::new();
                for entry in entries {
                    let changes = match (&entry.status, list.get(&entry.id_token)) {
                        (None, stored) => stored.is_some(),
                        (Some(_), Some(stored)) => *stored != entry,
                        (Some(_), None) => true,
                    };
                    if !changes {
                        continue;
                    }
                    // The operator's entry replaces a roaming one of the same id.
                    roaming.remove(&entry.id_token);
                    if entry.status.is_none() {
                        list.remove(&entry.id_token);
                    } else {
                        list.insert(entry.id_token.clone(), entry.clone());
                    }
                    sent.push(entry);
                }
                (sent, list.into_values().collect())
            }
        };
        Ok(LocalListPlan {
            command: Command::SendLocalList {
                version,
                update_type,
                entries: sent,
            },
            version,
            entries_after: after,
            roaming_after: roaming,
            roaming_digest: None,
        })
    }

    /// Records the station's answer to a planned update: `Accepted` stores the new list,
    /// `VersionMismatch` marks the stored one out of sync, anything else changes nothing. The
    /// caller still holds the [`Core::local_list_lock`] it planned under.
    pub async fn local_list_answered(
        &self,
        station_id: &str,
        plan: &LocalListPlan,
        status: &str,
    ) -> Result<(), CoreError> {
        let now = self.now();
        match status {
            "Accepted" => {
                let txn = self.db.begin().await?;
                local_list::Entity::delete_by_id(station_id)
                    .exec(&txn)
                    .await?;
                local_list::ActiveModel {
                    station_id: Set(station_id.to_owned()),
                    version: Set(plan.version),
                    in_sync: Set(true),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                local_list_entry::Entity::delete_many()
                    .filter(local_list_entry::Column::StationId.eq(station_id))
                    .exec(&txn)
                    .await?;
                for entry in &plan.entries_after {
                    local_list_entry::ActiveModel {
                        id: sea_orm::ActiveValue::NotSet,
                        station_id: Set(station_id.to_owned()),
                        id_token: Set(entry.id_token.clone()),
                        status: Set(status_to_db(
                            entry.status.unwrap_or(AuthorizationStatus::Invalid),
                        )
                        .to_owned()),
                        expiry_date: Set(entry.expiry_date),
                        group_id_token: Set(entry.group_id_token.clone()),
                    }
                    .insert(&txn)
                    .await?;
                }
                // An operator's update may have replaced roaming entries: the digest is
                // forgotten, so the sync looks at the station again.
                let markers = plan
                    .roaming_after
                    .iter()
                    .filter(|t| plan.entries_after.iter().any(|e| e.id_token == **t))
                    .collect::<Vec<_>>();
                self.record_roaming(
                    &txn,
                    station_id,
                    Some(serde_json::to_string(&markers).unwrap_or_else(|_| "[]".into())),
                    plan.roaming_digest.clone(),
                    status,
                )
                .await?;
                txn.commit().await?;
                if plan.roaming_digest.is_none() {
                    self.local_list_wake.notify_one();
                }
            }
            "VersionMismatch" => {
                let txn = self.db.begin().await?;
                local_list::Entity::update_many()
                    .col_expr(local_list::Column::InSync, false.into())
                    .col_expr(local_list::Column::UpdatedAt, now.into())
                    .filter(local_list::Column::StationId.eq(station_id))
                    .exec(&txn)
                    .await?;
                // Offered nothing the station holds: the next sync sends a Full update.
                self.record_roaming(&txn, station_id, None, None, status)
                    .await?;
                txn.commit().await?;
                self.local_list_wake.notify_one();
            }
            // A roaming offer the station refused (Failed, NotSupported) is not repeated until
            // the roaming tokens change or the station reconnects.
            _ if plan.roaming_digest.is_some() => {
                self.record_roaming(
                    &self.db,
                    station_id,
                    None,
                    plan.roaming_digest.clone(),
                    status,
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The operator's id tokens as local list entries.
    async fn operator_tokens(&self) -> Result<Vec<LocalListEntry>, CoreError> {
        Ok(id_token::Entity::find()
            .order_by_asc(id_token::Column::IdToken)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| LocalListEntry {
                status: Some(status_from_db(&t.status)),
                id_token: t.id_token,
                expiry_date: t.expiry_date,
                group_id_token: t.group_id_token,
            })
            .collect())
    }
}

/// The roaming entries a station of `version` can hold, from `all`: an id a station cannot
/// carry is left out, a group id it cannot carry is dropped (OCPP 1.6 IdToken: CiString20;
/// 2.0.1 idToken: string[0..36]).
fn entries_for(
    all: &BTreeMap<String, LocalListEntry>,
    version: OcppVersion,
) -> BTreeMap<String, LocalListEntry> {
    let max = match version {
        OcppVersion::V16 => V16_ID_TAG_MAX,
        _ => V201_ID_TOKEN_MAX,
    };
    let fits = |t: &str| !t.is_empty() && t.chars().count() <= max;
    all.iter()
        .filter(|(uid, _)| fits(uid))
        .map(|(uid, entry)| {
            let mut entry = entry.clone();
            entry.group_id_token = entry.group_id_token.filter(|g| fits(g));
            (uid.clone(), entry)
        })
        .collect()
}

/// A stable digest of a set of entries (FNV-1a, 64 bits): equal sets give equal digests across
/// restarts, so a station already offered a set is not offered it again.
fn digest(entries: &BTreeMap<String, LocalListEntry>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for entry in entries.values() {
        let line = format!(
            "{}\t{}\t{}\t{}\n",
            entry.id_token,
            entry.status.map_or("", status_to_db),
            entry.group_id_token.as_deref().unwrap_or(""),
            entry
                .expiry_date
                .map(|e| e.to_rfc3339())
                .unwrap_or_default()
        );
        for byte in line.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}-{}", entries.len())
}

/// What the roaming sync does for one station.
enum RoamingStep {
    /// Nothing to send: the list already holds the roaming entries it should.
    InStep {
        /// The digest of those entries.
        digest: String,
    },
    /// Send this update.
    Send(Box<LocalListPlan>),
}

impl Core {
    /// Wakes the roaming local-list sync: the roaming tokens changed.
    pub(crate) fn roaming_tokens_changed(&self) {
        self.local_list_wake.notify_one();
    }

    /// The id tokens of a station's list that are roaming entries.
    async fn roaming_markers<C: ConnectionTrait>(
        &self,
        conn: &C,
        station_id: &str,
    ) -> Result<BTreeSet<String>, CoreError> {
        Ok(local_list_roaming::Entity::find_by_id(station_id)
            .one(conn)
            .await?
            .and_then(|r| serde_json::from_str(&r.entries).ok())
            .unwrap_or_default())
    }

    /// Records the roaming state of a station's list: its roaming entries (`None` keeps them),
    /// the digest offered (`None` forgets it) and the station's answer.
    async fn record_roaming<C: ConnectionTrait>(
        &self,
        conn: &C,
        station_id: &str,
        entries: Option<String>,
        offered_digest: Option<String>,
        status: &str,
    ) -> Result<(), CoreError> {
        let existing = local_list_roaming::Entity::find_by_id(station_id)
            .one(conn)
            .await?;
        let now = self.now();
        match existing {
            Some(row) => {
                let mut row: local_list_roaming::ActiveModel = row.into();
                if let Some(entries) = entries {
                    row.entries = Set(entries);
                }
                row.offered_digest = Set(offered_digest);
                row.last_status = Set(Some(status.to_owned()));
                row.updated_at = Set(now);
                row.update(conn).await?;
            }
            None => {
                local_list_roaming::ActiveModel {
                    station_id: Set(station_id.to_owned()),
                    entries: Set(entries.unwrap_or_else(|| "[]".into())),
                    offered_digest: Set(offered_digest),
                    last_status: Set(Some(status.to_owned())),
                    updated_at: Set(now),
                }
                .insert(conn)
                .await?;
            }
        }
        Ok(())
    }

    /// Every roaming token that belongs in local lists, by id: the token a station presenting
    /// the id would be decided by (`roaming_tokens.rs`: RFID first, then the latest) when it is
    /// valid and whitelisted ALWAYS or ALLOWED_OFFLINE, and no operator token has that id (the
    /// operator's own list decides first).
    pub(crate) async fn roaming_list_entries(
        &self,
    ) -> Result<BTreeMap<String, LocalListEntry>, CoreError> {
        let own: HashSet<String> = id_token::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id_token)
            .collect();
        let rows = ocpi_token::Entity::find()
            .order_by_desc(ocpi_token::Column::LastUpdated)
            .order_by_desc(ocpi_token::Column::Id)
            .all(&self.db)
            .await?;
        let mut deciding: BTreeMap<&str, &ocpi_token::Model> = BTreeMap::new();
        for row in &rows {
            let rfid = row.token_type == TokenType::Rfid.as_str();
            match deciding.get(row.uid.as_str()) {
                Some(kept) if !rfid || kept.token_type == TokenType::Rfid.as_str() => {}
                _ => {
                    deciding.insert(row.uid.as_str(), row);
                }
            }
        }
        Ok(deciding
            .into_iter()
            .filter(|(uid, _)| !own.contains(*uid))
            .filter(|(_, row)| {
                row.valid
                    && matches!(
                        WhitelistType::parse(&row.whitelist),
                        Some(WhitelistType::Always | WhitelistType::AllowedOffline)
                    )
            })
            .map(|(uid, row)| {
                (
                    uid.to_owned(),
                    LocalListEntry {
                        id_token: uid.to_owned(),
                        status: Some(AuthorizationStatus::Accepted),
                        expiry_date: None,
                        group_id_token: row.group_id.clone(),
                    },
                )
            })
            .collect())
    }

    /// The update that brings the roaming entries of `station_id`'s list to `wanted`: a
    /// Differential one against the list the station accepted last, or a Full one (its own
    /// entries and `wanted`) when the CPMS does not know that list.
    async fn plan_roaming_sync(
        &self,
        station_id: &str,
        wanted: &BTreeMap<String, LocalListEntry>,
    ) -> Result<RoamingStep, CoreError> {
        let digest = digest(wanted);
        let current = self.local_list(station_id).await?;
        let markers = self.roaming_markers(&self.db, station_id).await?;
        let version = current
            .list_version
            .checked_add(1)
            .ok_or_else(|| CoreError::Conflict("the list version is exhausted".into()))?;
        let mut list: BTreeMap<String, LocalListEntry> = current
            .entries
            .into_iter()
            .map(|e| (e.id_token.clone(), e))
            .collect();
        let mut roaming: BTreeSet<String> = markers
            .into_iter()
            .filter(|t| list.contains_key(t))
            .collect();
        let mut sent = Vec::new();
        for (uid, entry) in wanted {
            let stale = match list.get(uid) {
                None => true,
                // The operator's own entry for the id stays.
                Some(_) if !roaming.contains(uid) => false,
                Some(held) => held != entry,
            };
            if stale {
                list.insert(uid.clone(), entry.clone());
                roaming.insert(uid.clone());
                sent.push(entry.clone());
            }
        }
        let gone: Vec<String> = roaming
            .iter()
            .filter(|t| !wanted.contains_key(*t))
            .cloned()
            .collect();
        for uid in gone {
            list.remove(&uid);
            roaming.remove(&uid);
            // OCPP 1.6 §6.41 / 2.0.1 D01: a Differential entry without its info removes it.
            sent.push(LocalListEntry {
                id_token: uid,
                status: None,
                expiry_date: None,
                group_id_token: None,
            });
        }
        let known = current.list_version > 0 && current.in_sync;
        if known && sent.is_empty() {
            return Ok(RoamingStep::InStep { digest });
        }
        if !known && list.is_empty() {
            // Nothing to hold and nothing we know of to clear.
            return Ok(RoamingStep::InStep { digest });
        }
        let entries_after: Vec<LocalListEntry> = list.into_values().collect();
        let (update_type, entries) = if known {
            (LocalListUpdate::Differential, sent)
        } else {
            (LocalListUpdate::Full, entries_after.clone())
        };
        Ok(RoamingStep::Send(Box::new(LocalListPlan {
            command: Command::SendLocalList {
                version,
                update_type,
                entries,
            },
            version,
            entries_after,
            roaming_after: roaming,
            roaming_digest: Some(digest),
        })))
    }

    /// Brings one connected station's roaming entries to `wanted`. A station that cannot be
    /// reached keeps its state, so the next round (or its reconnection) tries again.
    async fn sync_roaming_list(
        &self,
        gateway: &Gateway,
        station_id: &str,
        wanted: &BTreeMap<String, LocalListEntry>,
    ) -> Result<(), CoreError> {
        // A VersionMismatch answer is followed once by a Full update.
        for _ in 0..2 {
            // Held until the answer is recorded: the operator's update may be in flight.
            let _guard = self.local_list_lock(station_id).await;
            let plan = match self.plan_roaming_sync(station_id, wanted).await? {
                RoamingStep::InStep { digest } => {
                    return self
                        .record_roaming(&self.db, station_id, None, Some(digest), "Accepted")
                        .await;
                }
                RoamingStep::Send(plan) => plan,
            };
            let status = match gateway.call(station_id, plan.command.clone()).await {
                Ok(CommandReply::Status { status }) => status,
                Ok(_) => "Failed".to_owned(),
                Err(CommandError::Offline(_)) => return Ok(()),
                Err(e) => {
                    tracing::warn!(station = %station_id, error = %e, "roaming local list not delivered");
                    return Ok(());
                }
            };
            tracing::info!(station = %station_id, version = plan.version, %status, "roaming local list sent");
            self.local_list_answered(station_id, &plan, &status).await?;
            if status != "VersionMismatch" {
                break;
            }
        }
        Ok(())
    }

    /// One pass of the roaming sync over every connected, accepted station whose list was not
    /// offered the current roaming entries.
    async fn roaming_round(&self, gateway: &Gateway) -> Result<(), CoreError> {
        let all = self.roaming_list_entries().await?;
        let by_version = [OcppVersion::V16, OcppVersion::V201].map(|v| {
            let entries = entries_for(&all, v);
            let digest = digest(&entries);
            (v, entries, digest)
        });
        // A station that answered NotSupported (no local list, or it is disabled) is not asked
        // again until it reconnects.
        let offered: BTreeMap<String, Option<String>> = local_list_roaming::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                let unsupported = r.last_status.as_deref() == Some("NotSupported");
                let digest = if unsupported {
                    Some("NotSupported".to_owned())
                } else {
                    r.offered_digest
                };
                (r.station_id, digest)
            })
            .collect();
        // OCPP 1.6 §4.2: only an accepted station is sent requests; one that never booted is
        // left until its BootNotification is accepted.
        let stations = station::Entity::find()
            .filter(station::Column::RegistrationStatus.eq("Accepted"))
            .filter(station::Column::LastBoot.is_not_null())
            .all(&self.db)
            .await?;
        let due: Vec<(String, usize)> = stations
            .into_iter()
            .filter_map(|s| {
                let version = gateway.version_of(&s.id)?;
                let at = by_version.iter().position(|(v, _, _)| *v == version)?;
                let current = offered.get(&s.id).cloned().flatten();
                let skip = matches!(current.as_deref(), Some(d) if d == by_version[at].2 || d == "NotSupported");
                (!skip).then_some((s.id, at))
            })
            .collect();
        let wanted: Vec<std::sync::Arc<BTreeMap<String, LocalListEntry>>> = by_version
            .into_iter()
            .map(|(_, entries, _)| std::sync::Arc::new(entries))
            .collect();
        let mut running = tokio::task::JoinSet::new();
        for (station_id, at) in due {
            if running.len() >= SYNC_CONCURRENCY {
                running.join_next().await;
            }
            let (core, gateway, wanted) = (self.clone(), gateway.clone(), wanted[at].clone());
            running.spawn(async move {
                if let Err(e) = core.sync_roaming_list(&gateway, &station_id, &wanted).await {
                    tracing::error!(station = %station_id, error = %e, "roaming local list sync failed");
                }
            });
        }
        while running.join_next().await.is_some() {}
        Ok(())
    }

    /// A station that reconnected or booted is offered the roaming entries again when its last
    /// answer was not Accepted (it may have been fixed or reconfigured meanwhile). Only an
    /// answer recorded before `since`, when the connection or boot was recorded, is forgotten:
    /// the event may be handled after a round that already offered the list over that
    /// connection, and forgetting the station's answer to it would offer the list again.
    async fn retry_roaming_offer(
        &self,
        station_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), CoreError> {
        local_list_roaming::Entity::update_many()
            .col_expr(
                local_list_roaming::Column::OfferedDigest,
                Option::<String>::None.into(),
            )
            .col_expr(
                local_list_roaming::Column::LastStatus,
                Option::<String>::None.into(),
            )
            .filter(local_list_roaming::Column::StationId.eq(station_id))
            .filter(local_list_roaming::Column::LastStatus.ne("Accepted"))
            .filter(local_list_roaming::Column::UpdatedAt.lt(since))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The roaming local-list sync (see the module documentation), until `shutdown`: a round
    /// at start, after each roaming token change, when a station connects or boots, and every
    /// few minutes. Started by `server.rs` with the gateway it sends through.
    pub async fn run_roaming_local_lists(self, gateway: Gateway, shutdown: CancellationToken) {
        let mut events = self.events.subscribe();
        let mut sweep = tokio::time::interval(SYNC_SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut due = false;
            let mut arrivals = Vec::new();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.local_list_wake.notified() => due = true,
                _ = sweep.tick() => due = true,
                event = events.recv() => match event {
                    Ok(e) => arrivals.push(e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => due = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
            // Coalesce what else arrived: a fleet reconnecting gives one round, not thousands.
            while let Ok(e) = events.try_recv() {
                arrivals.push(e);
            }
            for envelope in arrivals {
                let arrived = match &envelope.event {
                    DomainEvent::StationConnected { .. } => true,
                    DomainEvent::StationBooted {
                        registration_status,
                    } => registration_status == "Accepted",
                    _ => false,
                };
                if arrived {
                    due = true;
                    // `recorded_at` is wall-clock time; the answers are recorded by the core's
                    // clock, so the event's age is carried over to it.
                    let age = chrono::Utc::now() - envelope.recorded_at;
                    let since = self.now() - age;
                    if let Err(e) = self.retry_roaming_offer(&envelope.station_id, since).await {
                        tracing::error!(station = %envelope.station_id, error = %e, "roaming local list retry not recorded");
                    }
                }
            }
            if due {
                if let Err(e) = self.roaming_round(&gateway).await {
                    tracing::error!(error = %e, "roaming local list round failed");
                }
            }
        }
    }
}

fn status_to_db(status: AuthorizationStatus) -> &'static str {
    match status {
        AuthorizationStatus::Accepted => "Accepted",
        AuthorizationStatus::Blocked => "Blocked",
        AuthorizationStatus::Expired => "Expired",
        AuthorizationStatus::Invalid => "Invalid",
        AuthorizationStatus::ConcurrentTx => "ConcurrentTx",
    }
}

fn status_from_db(status: &str) -> AuthorizationStatus {
    match status {
        "Accepted" => AuthorizationStatus::Accepted,
        "Blocked" => AuthorizationStatus::Blocked,
        "Expired" => AuthorizationStatus::Expired,
        "ConcurrentTx" => AuthorizationStatus::ConcurrentTx,
        _ => AuthorizationStatus::Invalid,
    }
}
