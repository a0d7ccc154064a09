//! Id tokens and the one authorization question of the CPMS, asked the same way by every OCPP
//! version (and later by OCPI real-time authorization).

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{AuthorizationStatus, TokenVerdict};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{Core, CoreError};
use crate::entities::id_token;

/// Status the operator gives an id token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdTokenStatus {
    /// May charge.
    Accepted,
    /// Blocked by the operator.
    Blocked,
    /// Expired.
    Expired,
    /// Not valid.
    Invalid,
}

impl IdTokenStatus {
    fn as_str(self) -> &'static str {
        match self {
            IdTokenStatus::Accepted => "Accepted",
            IdTokenStatus::Blocked => "Blocked",
            IdTokenStatus::Expired => "Expired",
            IdTokenStatus::Invalid => "Invalid",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "Accepted" => IdTokenStatus::Accepted,
            "Blocked" => IdTokenStatus::Blocked,
            "Expired" => IdTokenStatus::Expired,
            _ => IdTokenStatus::Invalid,
        }
    }
}

/// An entry of the operator's authorization list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdTokenRecord {
    /// The token (an RFID uid, a contract id...), at most 20 characters for OCPP 1.6 stations.
    pub id_token: String,
    /// Its status.
    pub status: IdTokenStatus,
    /// After this time the token is treated as expired.
    #[serde(default)]
    pub expiry_date: Option<DateTime<Utc>>,
    /// Group (1.6 parentIdTag): tokens of one group may stop each other's transactions.
    #[serde(default)]
    pub group_id_token: Option<String>,
}

impl From<id_token::Model> for IdTokenRecord {
    fn from(m: id_token::Model) -> Self {
        IdTokenRecord {
            status: IdTokenStatus::parse(&m.status),
            id_token: m.id_token,
            expiry_date: m.expiry_date,
            group_id_token: m.group_id_token,
        }
    }
}

/// The verdict on a stored token at `now`: its status, with expiry applied.
pub(crate) fn verdict_for(token: Option<&IdTokenRecord>, now: DateTime<Utc>) -> TokenVerdict {
    let Some(token) = token else {
        return TokenVerdict::plain(AuthorizationStatus::Invalid);
    };
    let status = match token.status {
        IdTokenStatus::Accepted if token.expiry_date.is_some_and(|e| e <= now) => {
            AuthorizationStatus::Expired
        }
        IdTokenStatus::Accepted => AuthorizationStatus::Accepted,
        IdTokenStatus::Blocked => AuthorizationStatus::Blocked,
        IdTokenStatus::Expired => AuthorizationStatus::Expired,
        IdTokenStatus::Invalid => AuthorizationStatus::Invalid,
    };
    TokenVerdict {
        status,
        expiry_date: token.expiry_date,
        group_id_token: token.group_id_token.clone(),
    }
}

fn validate(record: &IdTokenRecord) -> Result<(), CoreError> {
    // OCPP 1.6 IdToken is CiString20; 2.0.1 allows 36. Refuse what no station could send.
    if record.id_token.is_empty() || record.id_token.len() > 36 {
        return Err(CoreError::Invalid(
            "id_token must be 1 to 36 characters".into(),
        ));
    }
    if record
        .group_id_token
        .as_ref()
        .is_some_and(|g| g.is_empty() || g.len() > 36)
    {
        return Err(CoreError::Invalid(
            "group_id_token must be 1 to 36 characters".into(),
        ));
    }
    Ok(())
}

impl Core {
    /// Is this token allowed to charge? See [`Core::decide`].
    pub async fn verdict(&self, id_token: &str) -> Result<TokenVerdict, CoreError> {
        Ok(self.decide(id_token).await?.0)
    }

    /// The one authorization question, with the eMSP's authorization reference when a roaming
    /// token was authorized in real time or by a START_SESSION command. A token an eMSP's open
    /// START_SESSION names is accepted; otherwise the operator's own list decides first; a token it
    /// does not know is decided as a roaming token (`roaming_tokens.rs`); unknown everywhere,
    /// it is Invalid.
    pub(crate) async fn decide(
        &self,
        id_token: &str,
    ) -> Result<(TokenVerdict, Option<String>), CoreError> {
        let (verdict, reference, _) = self.decide_with_origin(id_token).await?;
        Ok((verdict, reference))
    }

    /// [`Core::decide`], with the roaming token that decided, when one did (for the OCPI
    /// Session of a transaction it starts).
    pub(crate) async fn decide_with_origin(
        &self,
        id_token: &str,
    ) -> Result<
        (
            TokenVerdict,
            Option<String>,
            Option<super::roaming_tokens::RoamingOrigin>,
        ),
        CoreError,
    > {
        // An eMSP's open START_SESSION for this token: the eMSP authorized it when it sent the
        // command (OCPI 2.2.1 Commands: StartSession object), so the start it asked for is
        // accepted and belongs to that eMSP, whichever other list knows the token.
        if let Some((reference, origin)) = self.commanded_start(id_token).await? {
            return Ok((
                TokenVerdict::plain(AuthorizationStatus::Accepted),
                reference,
                Some(origin),
            ));
        }
        let stored = id_token::Entity::find_by_id(id_token)
            .one(&self.db)
            .await?
            .map(IdTokenRecord::from);
        match stored {
            Some(own) => Ok((verdict_for(Some(&own), self.now()), None, None)),
            None => self.roaming_verdict(id_token).await,
        }
    }

    /// Creates a token; a conflict if it exists.
    pub async fn create_id_token(&self, record: IdTokenRecord) -> Result<IdTokenRecord, CoreError> {
        validate(&record)?;
        if id_token::Entity::find_by_id(record.id_token.as_str())
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(CoreError::Conflict(format!(
                "id token {} exists",
                record.id_token
            )));
        }
        let now = self.now();
        id_token::ActiveModel {
            id_token: Set(record.id_token.clone()),
            status: Set(record.status.as_str().to_owned()),
            expiry_date: Set(record.expiry_date),
            group_id_token: Set(record.group_id_token.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(record)
    }

    /// Creates or replaces a token; says whether it was created.
    pub async fn put_id_token(
        &self,
        record: IdTokenRecord,
    ) -> Result<(IdTokenRecord, bool), CoreError> {
        validate(&record)?;
        let now = self.now();
        match id_token::Entity::find_by_id(record.id_token.as_str())
            .one(&self.db)
            .await?
        {
            Some(found) => {
                let mut row: id_token::ActiveModel = found.into();
                row.status = Set(record.status.as_str().to_owned());
                row.expiry_date = Set(record.expiry_date);
                row.group_id_token = Set(record.group_id_token.clone());
                row.updated_at = Set(now);
                row.update(&self.db).await?;
                Ok((record, false))
            }
            None => Ok((self.create_id_token(record).await?, true)),
        }
    }

    /// One token.
    pub async fn id_token(&self, id: &str) -> Result<IdTokenRecord, CoreError> {
        id_token::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or_else(|| CoreError::NotFound(format!("id token {id}")))
    }

    /// Tokens ordered by id, with the total count.
    pub async fn id_tokens(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<IdTokenRecord>, u64), CoreError> {
        use sea_orm::PaginatorTrait;
        let total = id_token::Entity::find().count(&self.db).await?;
        let rows = id_token::Entity::find()
            .order_by_asc(id_token::Column::IdToken)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// Deletes a token.
    pub async fn delete_id_token(&self, id: &str) -> Result<(), CoreError> {
        let result = id_token::Entity::delete_by_id(id).exec(&self.db).await?;
        if result.rows_affected == 0 {
            return Err(CoreError::NotFound(format!("id token {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn token(status: IdTokenStatus, expiry: Option<DateTime<Utc>>) -> IdTokenRecord {
        IdTokenRecord {
            id_token: "T".into(),
            status,
            expiry_date: expiry,
            group_id_token: Some("G".into()),
        }
    }

    #[test]
    fn unknown_tokens_are_invalid() {
        assert_eq!(
            verdict_for(None, Utc::now()).status,
            AuthorizationStatus::Invalid
        );
    }

    #[test]
    fn an_accepted_token_past_its_expiry_is_expired() {
        let now = Utc::now();
        let past = token(IdTokenStatus::Accepted, Some(now - Duration::seconds(1)));
        assert_eq!(
            verdict_for(Some(&past), now).status,
            AuthorizationStatus::Expired
        );
        let future = token(IdTokenStatus::Accepted, Some(now + Duration::days(1)));
        let v = verdict_for(Some(&future), now);
        assert_eq!(v.status, AuthorizationStatus::Accepted);
        assert_eq!(v.group_id_token.as_deref(), Some("G"));
    }

    #[test]
    fn blocked_stays_blocked() {
        assert_eq!(
            verdict_for(Some(&token(IdTokenStatus::Blocked, None)), Utc::now()).status,
            AuthorizationStatus::Blocked
        );
    }
}
