//! OCPI Locations, the core's side: the operator's sites and which station EVSEs belong to
//! each (`location`, `location_evse`), whether each station is connected and since when
//! (`station_presence`), and [`LocationSource`], the bridge's port, answered from those rows and
//! the live `connector` rows. The OCPI shapes and the status mapping are the bridge's.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpi_bridge::port::locations::{
    check_ocpi_id, EvseFacts, EvseSpec, LocationFacts, LocationSource, Reported, ReportedConnector,
    Site, StationFacts, StationStatus,
};
use ocpi_bridge::port::outbox::{PushOperation, LOCATIONS};
use ocpi_bridge::port::StoreError;
use ocpp_gateway::port::ConnectorStatus;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, SqlErr, TransactionTrait,
};
use serde::Serialize;

use super::stations::status_from_db;
use super::{Core, CoreError};
use crate::entities::{connector, location, location_evse, station, station_presence};

/// An OCPI EVSE of a Location as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct LocationEvseRecord {
    /// The OCPI EVSE uid.
    pub uid: String,
    /// What the operator said.
    #[serde(flatten)]
    pub spec: EvseSpec,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed by the operator.
    pub updated_at: DateTime<Utc>,
}

/// A Location as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct LocationRecord {
    /// The OCPI Location id.
    pub id: String,
    /// What the operator said.
    #[serde(flatten)]
    pub site: Site,
    /// Its EVSEs, by uid.
    pub evses: Vec<LocationEvseRecord>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed by the operator.
    pub updated_at: DateTime<Utc>,
}

fn site_from_db(row: &location::Model) -> Result<Site, CoreError> {
    let mut site: Site = serde_json::from_str(&row.site)
        .map_err(|e| CoreError::Invalid(format!("stored location {}: {e}", row.id)))?;
    site.publish = row.publish;
    Ok(site)
}

fn spec_from_db(row: &location_evse::Model) -> Result<EvseSpec, CoreError> {
    let mut spec: EvseSpec = serde_json::from_str(&row.details)
        .map_err(|e| CoreError::Invalid(format!("stored EVSE {}: {e}", row.uid)))?;
    spec.station_id.clone_from(&row.station_id);
    spec.evse_id = row.evse_id;
    spec.inoperative = row.inoperative;
    Ok(spec)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CoreError> {
    serde_json::to_string(value).map_err(|e| CoreError::Invalid(e.to_string()))
}

fn bridge_status(s: ConnectorStatus) -> StationStatus {
    match s {
        ConnectorStatus::Available => StationStatus::Available,
        ConnectorStatus::Preparing => StationStatus::Preparing,
        ConnectorStatus::Charging => StationStatus::Charging,
        ConnectorStatus::SuspendedEv => StationStatus::SuspendedEv,
        ConnectorStatus::SuspendedEvse => StationStatus::SuspendedEvse,
        ConnectorStatus::Finishing => StationStatus::Finishing,
        ConnectorStatus::Reserved => StationStatus::Reserved,
        ConnectorStatus::Unavailable => StationStatus::Unavailable,
        ConnectorStatus::Faulted => StationStatus::Faulted,
        ConnectorStatus::Occupied => StationStatus::Occupied,
    }
}

fn reported(row: &connector::Model) -> Reported {
    Reported {
        status: bridge_status(status_from_db(&row.status)),
        source_status: row.source_status.clone(),
        stored_at: row.updated_at,
    }
}

impl Core {
    /// Records that a station's websocket opened or closed (for OCPI's offline rule).
    pub(crate) async fn set_presence(
        &self,
        station_id: &str,
        connected: bool,
    ) -> Result<(), CoreError> {
        self.set_presence_on(&self.db, station_id, connected).await
    }

    /// [`Core::set_presence`] on `conn`, inside the caller's transaction.
    pub(crate) async fn set_presence_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        station_id: &str,
        connected: bool,
    ) -> Result<(), CoreError> {
        let row = station_presence::ActiveModel {
            station_id: Set(station_id.to_owned()),
            connected: Set(connected),
            since: Set(self.now()),
        };
        station_presence::Entity::insert(row)
            .on_conflict(
                OnConflict::column(station_presence::Column::StationId)
                    .update_columns([
                        station_presence::Column::Connected,
                        station_presence::Column::Since,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        Ok(())
    }

    /// At start-up no websocket is open: stations recorded as connected by a previous run are
    /// offline from now.
    pub async fn reset_presence(&self) -> Result<(), CoreError> {
        station_presence::Entity::update_many()
            .col_expr(station_presence::Column::Connected, false.into())
            .col_expr(station_presence::Column::Since, self.now().into())
            .filter(station_presence::Column::Connected.eq(true))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn location_row(&self, id: &str) -> Result<location::Model, CoreError> {
        location::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("location {id}")))
    }

    async fn location_record(&self, row: location::Model) -> Result<LocationRecord, CoreError> {
        let evses = location_evse::Entity::find()
            .filter(location_evse::Column::LocationId.eq(row.id.as_str()))
            .order_by_asc(location_evse::Column::Uid)
            .all(&self.db)
            .await?
            .iter()
            .map(|e| {
                Ok(LocationEvseRecord {
                    uid: e.uid.clone(),
                    spec: spec_from_db(e)?,
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                })
            })
            .collect::<Result<_, CoreError>>()?;
        Ok(LocationRecord {
            site: site_from_db(&row)?,
            id: row.id,
            evses,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Creates a Location; `id` defaults to a fresh UUID.
    pub async fn create_location(
        &self,
        id: Option<String>,
        site: Site,
    ) -> Result<LocationRecord, CoreError> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        check_ocpi_id("id", &id).map_err(CoreError::Invalid)?;
        site.validate().map_err(CoreError::Invalid)?;
        if location::Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(CoreError::Conflict(format!("location {id} exists")));
        }
        let now = self.now();
        let txn = self.db.begin().await?;
        let row = location::ActiveModel {
            id: Set(id),
            publish: Set(site.publish),
            site: Set(to_json(&site)?),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.push_location(txn, &row.id).await?;
        self.location_record(row).await
    }

    /// Every Location, ordered by id.
    pub async fn list_locations(&self) -> Result<Vec<LocationRecord>, CoreError> {
        let rows = location::Entity::find()
            .order_by_asc(location::Column::Id)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.location_record(row).await?);
        }
        Ok(out)
    }

    /// One Location.
    pub async fn get_location(&self, id: &str) -> Result<LocationRecord, CoreError> {
        let row = self.location_row(id).await?;
        self.location_record(row).await
    }

    /// Replaces a Location's site data.
    pub async fn replace_location(
        &self,
        id: &str,
        site: Site,
    ) -> Result<LocationRecord, CoreError> {
        site.validate().map_err(CoreError::Invalid)?;
        let row = self.location_row(id).await?;
        let mut row: location::ActiveModel = row.into();
        row.publish = Set(site.publish);
        row.site = Set(to_json(&site)?);
        row.updated_at = Set(self.now());
        let txn = self.db.begin().await?;
        let row = row.update(&txn).await?;
        self.push_location(txn, id).await?;
        self.location_record(row).await
    }

    /// Changes the fields `patch` names (a JSON object merged into the site's; `null` removes
    /// an optional field), then validates the result like a replacement.
    pub async fn patch_location(
        &self,
        id: &str,
        patch: serde_json::Value,
    ) -> Result<LocationRecord, CoreError> {
        let row = self.location_row(id).await?;
        let serde_json::Value::Object(changes) = patch else {
            return Err(CoreError::Invalid("the body must be a JSON object".into()));
        };
        let mut site = serde_json::to_value(site_from_db(&row)?)
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        if let Some(fields) = site.as_object_mut() {
            for (k, v) in changes {
                if v.is_null() {
                    fields.remove(&k);
                } else {
                    fields.insert(k, v);
                }
            }
        }
        let site: Site =
            serde_json::from_value(site).map_err(|e| CoreError::Invalid(e.to_string()))?;
        self.replace_location(id, site).await
    }

    /// Deletes a Location and its EVSEs. OCPI has no delete: a partner that fetched it keeps
    /// it until its next full fetch, so prefer marking EVSEs inoperative when that matters.
    pub async fn delete_location(&self, id: &str) -> Result<(), CoreError> {
        self.location_row(id).await?;
        let txn = self.db.begin().await?;
        location_evse::Entity::delete_many()
            .filter(location_evse::Column::LocationId.eq(id))
            .exec(&txn)
            .await?;
        location::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Creates or replaces an EVSE of a Location: which station EVSE it is and its description.
    /// Returns it and whether it was created.
    pub async fn put_location_evse(
        &self,
        location_id: &str,
        uid: &str,
        spec: EvseSpec,
    ) -> Result<(LocationEvseRecord, bool), CoreError> {
        check_ocpi_id("uid", uid).map_err(CoreError::Invalid)?;
        spec.validate().map_err(CoreError::Invalid)?;
        self.location_row(location_id).await?;
        if station::Entity::find_by_id(spec.station_id.as_str())
            .one(&self.db)
            .await?
            .is_none()
        {
            return Err(CoreError::Invalid(format!(
                "unknown station {}",
                spec.station_id
            )));
        }
        let taken = location_evse::Entity::find()
            .filter(location_evse::Column::StationId.eq(spec.station_id.as_str()))
            .filter(location_evse::Column::EvseId.eq(spec.evse_id))
            .one(&self.db)
            .await?;
        if let Some(other) = taken.filter(|o| o.location_id != location_id || o.uid != uid) {
            return Err(CoreError::Conflict(format!(
                "station {} EVSE {} is already EVSE {} of location {}",
                spec.station_id, spec.evse_id, other.uid, other.location_id
            )));
        }
        let now = self.now();
        let existing = location_evse::Entity::find_by_id((location_id.to_owned(), uid.to_owned()))
            .one(&self.db)
            .await?;
        let created = existing.is_none();
        let row = location_evse::ActiveModel {
            location_id: Set(location_id.to_owned()),
            uid: Set(uid.to_owned()),
            station_id: Set(spec.station_id.clone()),
            evse_id: Set(spec.evse_id),
            inoperative: Set(spec.inoperative),
            details: Set(to_json(&spec)?),
            created_at: Set(existing.map_or(now, |e| e.created_at)),
            updated_at: Set(now),
        };
        let txn = self.db.begin().await?;
        let stored = if created {
            row.insert(&txn).await
        } else {
            row.update(&txn).await
        };
        let stored = stored.map_err(|e| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => CoreError::Conflict(format!(
                "station {} EVSE {} belongs to another EVSE",
                spec.station_id, spec.evse_id
            )),
            _ => CoreError::Db(e),
        })?;
        self.push_location(txn, location_id).await?;
        Ok((
            LocationEvseRecord {
                uid: stored.uid.clone(),
                spec: spec_from_db(&stored)?,
                created_at: stored.created_at,
                updated_at: stored.updated_at,
            },
            created,
        ))
    }

    /// Removes an EVSE from a Location.
    pub async fn delete_location_evse(
        &self,
        location_id: &str,
        uid: &str,
    ) -> Result<(), CoreError> {
        let txn = self.db.begin().await?;
        let done = location_evse::Entity::delete_by_id((location_id.to_owned(), uid.to_owned()))
            .exec(&txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(CoreError::NotFound(format!(
                "EVSE {uid} of location {location_id}"
            )));
        }
        self.push_location(txn, location_id).await
    }

    /// Writes the PUT of the whole Location to receiving partners in `txn`, the transaction of
    /// the change, and commits it (Locations: Receiver Interface, PUT on new or changed data).
    async fn push_location(
        &self,
        txn: sea_orm::DatabaseTransaction,
        location_id: &str,
    ) -> Result<(), CoreError> {
        let pushed = self
            .enqueue_push(&txn, LOCATIONS, location_id, PushOperation::Put, self.now())
            .await?;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        Ok(())
    }

    /// The facts of the given Location rows: their EVSEs with the live state of the stations.
    async fn location_facts(
        &self,
        rows: Vec<location::Model>,
    ) -> Result<Vec<LocationFacts>, CoreError> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let evses = location_evse::Entity::find()
            .filter(location_evse::Column::LocationId.is_in(ids))
            .order_by_asc(location_evse::Column::Uid)
            .all(&self.db)
            .await?;
        let mut stations: Vec<String> = evses.iter().map(|e| e.station_id.clone()).collect();
        stations.sort();
        stations.dedup();
        let connectors = connector::Entity::find()
            .filter(connector::Column::StationId.is_in(stations.clone()))
            .order_by_asc(connector::Column::ConnectorId)
            .all(&self.db)
            .await?;
        let presence: HashMap<String, station_presence::Model> = station_presence::Entity::find()
            .filter(station_presence::Column::StationId.is_in(stations))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.station_id.clone(), p))
            .collect();
        let mut by_location: HashMap<String, Vec<EvseFacts>> = HashMap::new();
        for e in &evses {
            let presence = presence.get(&e.station_id);
            let station = StationFacts {
                connected: presence.is_some_and(|p| p.connected),
                since: presence.map(|p| p.since),
                // EVSE 0 is the station itself (1.6 connectorId 0).
                station_level: connectors
                    .iter()
                    .find(|c| c.station_id == e.station_id && c.evse_id == 0)
                    .map(reported),
            };
            let facts = EvseFacts {
                uid: e.uid.clone(),
                spec: spec_from_db(e)?,
                updated_at: e.updated_at,
                station,
                connectors: connectors
                    .iter()
                    .filter(|c| c.station_id == e.station_id && c.evse_id == e.evse_id)
                    .map(|c| ReportedConnector {
                        connector_id: c.connector_id,
                        reported: reported(c),
                    })
                    .collect(),
            };
            by_location
                .entry(e.location_id.clone())
                .or_default()
                .push(facts);
        }
        rows.into_iter()
            .map(|row| {
                Ok(LocationFacts {
                    site: site_from_db(&row)?,
                    evses: by_location.remove(&row.id).unwrap_or_default(),
                    id: row.id,
                    updated_at: row.updated_at,
                })
            })
            .collect()
    }
}

fn store_error(e: CoreError) -> StoreError {
    StoreError::Storage(e.to_string())
}

#[async_trait]
impl LocationSource for Core {
    async fn locations(&self) -> Result<Vec<LocationFacts>, StoreError> {
        let rows = location::Entity::find()
            .order_by_asc(location::Column::Id)
            .all(&self.db)
            .await
            .map_err(|e| store_error(e.into()))?;
        self.location_facts(rows).await.map_err(store_error)
    }

    async fn location(&self, id: &str) -> Result<Option<LocationFacts>, StoreError> {
        let Some(row) = location::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(|e| store_error(e.into()))?
        else {
            return Ok(None);
        };
        Ok(self
            .location_facts(vec![row])
            .await
            .map_err(store_error)?
            .pop())
    }
}
