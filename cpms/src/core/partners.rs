//! OCPI partners: the core's side of the bridge's [`PartnerStore`] port. The core keeps the rows;
//! what a token is and how the handshake goes is the bridge's business, so only hashes and
//! ciphertexts ever reach this file.

use async_trait::async_trait;
use ocpi_bridge::port::{
    Credential, Partner, PartnerId, PartnerStatus, PartnerStore, Registration, StoreError,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};

use super::Core;
use crate::entities::ocpi_partner;

fn storage(e: sea_orm::DbErr) -> StoreError {
    StoreError::Storage(e.to_string())
}

pub(super) fn to_partner(row: ocpi_partner::Model) -> Partner {
    Partner {
        id: PartnerId(row.id),
        name: row.name,
        // Only this file writes the column; an unknown value would be a corrupted row.
        status: PartnerStatus::parse(&row.status).unwrap_or(PartnerStatus::Unregistered),
        roles: serde_json::from_str(&row.roles).unwrap_or_default(),
        endpoints: serde_json::from_str(&row.endpoints).unwrap_or_default(),
        version: row.version,
        versions_url: row.versions_url,
        their_token: row.their_token,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl Core {
    pub(super) async fn partner_row(
        &self,
        id: PartnerId,
    ) -> Result<ocpi_partner::Model, StoreError> {
        ocpi_partner::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(storage)?
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl PartnerStore for Core {
    async fn create_pending(
        &self,
        name: Option<String>,
        pending_token_hash: String,
    ) -> Result<Partner, StoreError> {
        let now = self.now();
        let row = ocpi_partner::ActiveModel {
            name: Set(name),
            status: Set(PartnerStatus::Pending.as_str().into()),
            pending_token_hash: Set(Some(pending_token_hash)),
            token_hash: Set(None),
            their_token: Set(None),
            versions_url: Set(None),
            version: Set(None),
            country_code: Set(None),
            party_id: Set(None),
            roles: Set("[]".into()),
            endpoints: Set("[]".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(storage)?;
        Ok(to_partner(row))
    }

    async fn authenticate(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Partner, Credential)>, StoreError> {
        let row = ocpi_partner::Entity::find()
            .filter(
                Condition::any()
                    .add(ocpi_partner::Column::TokenHash.eq(token_hash))
                    .add(ocpi_partner::Column::PendingTokenHash.eq(token_hash)),
            )
            .one(&self.db)
            .await
            .map_err(storage)?;
        Ok(row.map(|row| {
            let credential = if row.token_hash.as_deref() == Some(token_hash) {
                Credential::Registered
            } else {
                Credential::Pending
            };
            (to_partner(row), credential)
        }))
    }

    async fn register(
        &self,
        id: PartnerId,
        registration: Registration,
    ) -> Result<Partner, StoreError> {
        let row = self.partner_row(id).await?;
        let first = registration.roles.first();
        let roles = serde_json::to_string(&registration.roles)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        let endpoints = serde_json::to_string(&registration.endpoints)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        let mut active = row.into_active_model();
        active.status = Set(PartnerStatus::Registered.as_str().into());
        // One update: the pending token and any older registered token stop at the same commit
        // the new one starts.
        active.pending_token_hash = Set(None);
        active.token_hash = Set(Some(registration.token_hash));
        active.their_token = Set(Some(registration.their_token));
        active.versions_url = Set(Some(registration.versions_url));
        active.version = Set(Some(registration.version));
        active.country_code = Set(first.map(|r| r.country_code.clone()));
        active.party_id = Set(first.map(|r| r.party_id.clone()));
        active.roles = Set(roles);
        active.endpoints = Set(endpoints);
        active.updated_at = Set(self.now());
        Ok(to_partner(active.update(&self.db).await.map_err(storage)?))
    }

    async fn unregister(&self, id: PartnerId) -> Result<(), StoreError> {
        let mut active = self.partner_row(id).await?.into_active_model();
        active.status = Set(PartnerStatus::Unregistered.as_str().into());
        active.pending_token_hash = Set(None);
        active.token_hash = Set(None);
        active.their_token = Set(None);
        active.updated_at = Set(self.now());
        active.update(&self.db).await.map_err(storage)?;
        Ok(())
    }

    async fn remove(&self, id: PartnerId) -> Result<(), StoreError> {
        ocpi_partner::Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Partner>, StoreError> {
        Ok(ocpi_partner::Entity::find()
            .order_by_asc(ocpi_partner::Column::Id)
            .all(&self.db)
            .await
            .map_err(storage)?
            .into_iter()
            .map(to_partner)
            .collect())
    }
}
