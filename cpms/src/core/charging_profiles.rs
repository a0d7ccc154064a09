//! Smart charging: which charging profiles the CPMS believes installed on each station. A profile
//! is stored only after the station accepted it, and forgotten when the station accepted clearing
//! it; the operator API sends the commands, the core keeps the record.

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{ChargingProfile, ChargingProfileCriteria};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::Serialize;

use super::{Core, CoreError};
use crate::entities::{charging_profile, transaction};

/// A charging profile installed on a station, as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ChargingProfileRecord {
    /// The EVSE it is installed on (0: the station).
    pub evse_id: i32,
    /// The profile.
    pub profile: ChargingProfile,
    /// When the station accepted it.
    pub installed_at: DateTime<Utc>,
}

fn record(m: charging_profile::Model) -> Result<ChargingProfileRecord, CoreError> {
    let profile = serde_json::from_str(&m.profile).map_err(|e| {
        CoreError::Db(sea_orm::DbErr::Custom(format!(
            "stored charging profile {} of {} is unreadable: {e}",
            m.profile_id, m.station_id
        )))
    })?;
    Ok(ChargingProfileRecord {
        evse_id: m.evse_id,
        profile,
        installed_at: m.installed_at,
    })
}

impl Core {
    /// The station's own id of the transaction a TxProfile names: checks that the transaction is
    /// one of `station_id`'s and on `evse_id`, and returns its 2.0.1 id (none for 1.6 stations,
    /// which know our id).
    pub async fn charging_profile_transaction(
        &self,
        station_id: &str,
        evse_id: i32,
        transaction_id: i64,
    ) -> Result<Option<String>, CoreError> {
        let found = match i32::try_from(transaction_id) {
            Ok(id) => transaction::Entity::find_by_id(id).one(&self.db).await?,
            Err(_) => None,
        };
        match found {
            Some(t) if t.station_id == station_id && t.evse_id == evse_id => {
                Ok(t.station_transaction_id)
            }
            _ => Err(CoreError::Invalid(format!(
                "transaction {transaction_id} is not a transaction on evse {evse_id} of station \
                 {station_id}"
            ))),
        }
    }

    /// Records `profile` as installed on `evse_id` of `station_id`. It replaces a stored profile
    /// with the same id, and one on the same EVSE with the same purpose and stack level (OCPP 1.6
    /// §5.16; a 2.0.1 station would have rejected the latter, K01).
    pub async fn record_charging_profile(
        &self,
        station_id: &str,
        evse_id: i32,
        profile: &ChargingProfile,
    ) -> Result<ChargingProfileRecord, CoreError> {
        let json = serde_json::to_string(profile)
            .map_err(|e| CoreError::Invalid(format!("unstorable profile: {e}")))?;
        let txn = self.db.begin().await?;
        charging_profile::Entity::delete_many()
            .filter(charging_profile::Column::StationId.eq(station_id))
            .filter(
                Condition::any()
                    .add(charging_profile::Column::ProfileId.eq(profile.id))
                    .add(
                        Condition::all()
                            .add(charging_profile::Column::EvseId.eq(evse_id))
                            .add(charging_profile::Column::Purpose.eq(profile.purpose.as_str()))
                            .add(charging_profile::Column::StackLevel.eq(profile.stack_level)),
                    ),
            )
            .exec(&txn)
            .await?;
        let installed_at = self.now();
        charging_profile::Entity::insert(charging_profile::ActiveModel {
            station_id: Set(station_id.to_owned()),
            profile_id: Set(profile.id),
            evse_id: Set(evse_id),
            purpose: Set(profile.purpose.as_str().to_owned()),
            stack_level: Set(profile.stack_level),
            transaction_id: Set(profile.transaction_id),
            profile: Set(json),
            installed_at: Set(installed_at),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(ChargingProfileRecord {
            evse_id,
            profile: profile.clone(),
            installed_at,
        })
    }

    /// The profiles the CPMS believes installed on `station_id`, by EVSE and profile id.
    pub async fn charging_profiles(
        &self,
        station_id: &str,
    ) -> Result<Vec<ChargingProfileRecord>, CoreError> {
        charging_profile::Entity::find()
            .filter(charging_profile::Column::StationId.eq(station_id))
            .order_by_asc(charging_profile::Column::EvseId)
            .order_by_asc(charging_profile::Column::ProfileId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect()
    }

    /// Forgets the profiles of `station_id` that a ClearChargingProfile with `criteria` removed:
    /// the one with the id, or all matching every criterion given (OCPP 1.6 §5.5, 2.0.1 K10).
    /// Returns how many were forgotten.
    pub async fn forget_charging_profiles(
        &self,
        station_id: &str,
        criteria: &ChargingProfileCriteria,
    ) -> Result<u64, CoreError> {
        let mut query = charging_profile::Entity::delete_many()
            .filter(charging_profile::Column::StationId.eq(station_id));
        if let Some(id) = criteria.id {
            query = query.filter(charging_profile::Column::ProfileId.eq(id));
        } else {
            if let Some(evse_id) = criteria.evse_id {
                query = query.filter(charging_profile::Column::EvseId.eq(evse_id));
            }
            if let Some(purpose) = criteria.purpose {
                query = query.filter(charging_profile::Column::Purpose.eq(purpose.as_str()));
            }
            if let Some(level) = criteria.stack_level {
                query = query.filter(charging_profile::Column::StackLevel.eq(level));
            }
        }
        Ok(query.exec(&self.db).await?.rows_affected)
    }
}
