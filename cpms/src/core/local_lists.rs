//! Local authorization lists (OCPP 1.6 §5.15/§6.41, 2.0.1 D01/D02): what the CPMS last sent a
//! station and the station accepted, so the next Differential update is computed against it and
//! its version counts up.
//!
//! The state changes only after the station answered `Accepted`. `Failed` and `NotSupported`
//! leave it as it was; `VersionMismatch` marks it out of sync, after which a Differential update
//! is refused (409) until a Full update is accepted: the CPMS no longer knows what the station
//! holds.

use std::collections::BTreeMap;

use ocpp_gateway::port::{AuthorizationStatus, Command, LocalListEntry, LocalListUpdate};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;

use super::{Core, CoreError};
use crate::entities::{id_token, local_list, local_list_entry};

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
}

/// Longest idTag a 1.6 station takes (OCPP 1.6 §7.28 IdToken: CiString20).
const V16_ID_TAG_MAX: usize = 20;
/// Longest idToken a 2.0.1 station takes (2.0.1 IdTokenType.idToken: string[0..36]).
const V201_ID_TOKEN_MAX: usize = 36;

impl Core {
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
    /// the station holds (an entry without status removes its token).
    pub async fn plan_local_list(
        &self,
        station_id: &str,
        update_type: LocalListUpdate,
        entries: Option<Vec<LocalListEntry>>,
    ) -> Result<LocalListPlan, CoreError> {
        let current = self.local_list(station_id).await?;
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
        })
    }

    /// Records the station's answer to a planned update: `Accepted` stores the new list,
    /// `VersionMismatch` marks the stored one out of sync, anything else changes nothing.
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
                txn.commit().await?;
            }
            "VersionMismatch" => {
                local_list::Entity::update_many()
                    .col_expr(local_list::Column::InSync, false.into())
                    .col_expr(local_list::Column::UpdatedAt, now.into())
                    .filter(local_list::Column::StationId.eq(station_id))
                    .exec(&self.db)
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
