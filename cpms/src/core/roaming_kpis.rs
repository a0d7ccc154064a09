//! Roaming KPIs: what an operator watches to know roaming works and bills. Everything that
//! storage already records (sessions, CDRs, remote starts, push deliveries) is counted from it,
//! so the figures survive restarts and agree across replicas; only the real-time authorization
//! outcomes, which leave no row when refused, are counted in memory since start-up.
//!
//! Read through [`Core::roaming_kpis`] (operator API summary) and rendered in the Prometheus
//! text format for `/metrics` by [`RoamingKpis::to_prometheus`].

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sea_orm::{
    ColumnTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use super::{Core, CoreError};
use crate::entities::{ocpi_cdr, ocpi_command, ocpi_outbox, ocpi_partner, transaction};

/// How a roaming token's authorization ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthorizationOutcome {
    /// The token was accepted.
    Accepted,
    /// The token was refused (blocked, expired, invalid, unknown to its eMSP).
    Rejected,
    /// The owning eMSP did not answer in time; the stored token decided.
    TimedOut,
}

/// Authorization outcomes since start-up; shared by the clones of a [`Core`].
#[derive(Debug, Default)]
pub(crate) struct AuthorizationCounters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
}

impl AuthorizationCounters {
    /// Counts one roaming authorization.
    pub(crate) fn record(&self, outcome: AuthorizationOutcome) {
        let counter = match outcome {
            AuthorizationOutcome::Accepted => &self.accepted,
            AuthorizationOutcome::Rejected => &self.rejected,
            AuthorizationOutcome::TimedOut => &self.timed_out,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Roaming authorizations of tokens eMSPs pushed, since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuthorizationKpis {
    /// Accepted.
    pub accepted: u64,
    /// Refused.
    pub rejected: u64,
    /// The eMSP did not answer in time.
    pub timed_out: u64,
}

/// OCPI START_SESSION commands by how they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RemoteStartKpis {
    /// The transaction began.
    pub accepted: u64,
    /// Refused by the station, timed out, or no transaction within the window.
    pub failed: u64,
    /// Still waiting for the station.
    pub pending: u64,
}

/// Push deliveries to one partner, from the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerDeliveries {
    /// The partner's id in the operator API.
    pub partner_id: i64,
    /// `CC*PTY` of the partner, when the handshake told it.
    pub party: Option<String>,
    /// Delivered at the first attempt.
    pub ok: u64,
    /// Delivered after at least one failed attempt.
    pub retried: u64,
    /// Given up on after the last attempt; waiting for the operator.
    pub parked: u64,
    /// Not delivered yet.
    pub pending: u64,
}

/// The roaming KPIs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoamingKpis {
    /// Real-time and whitelist authorizations of roaming tokens.
    pub authorizations: AuthorizationKpis,
    /// START_SESSION commands.
    pub remote_starts: RemoteStartKpis,
    /// Transactions started with a roaming token.
    pub sessions_started: u64,
    /// Of those, the stopped ones.
    pub sessions_completed: u64,
    /// CDRs created for roaming sessions (credit CDRs not counted).
    pub cdrs_created: u64,
    /// `cdrs_created / sessions_completed`; absent before the first completed session.
    pub cdr_reconciliation_rate: Option<f64>,
    /// Push deliveries, per partner.
    pub deliveries: Vec<PartnerDeliveries>,
}

#[derive(Debug, FromQueryResult)]
struct DeliveryCount {
    partner_id: i64,
    state: String,
    attempts: i32,
    count: i64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    partner: String,
    result: &'static str,
}

impl Core {
    /// The roaming KPIs as they stand.
    pub async fn roaming_kpis(&self) -> Result<RoamingKpis, CoreError> {
        let counters = &self.roaming_authorizations;
        let authorizations = AuthorizationKpis {
            accepted: counters.accepted.load(Ordering::Relaxed),
            rejected: counters.rejected.load(Ordering::Relaxed),
            timed_out: counters.timed_out.load(Ordering::Relaxed),
        };

        let roaming =
            transaction::Entity::find().filter(transaction::Column::OcpiPartnerId.is_not_null());
        let sessions_started = roaming.clone().count(&self.db).await?;
        let sessions_completed = roaming
            .filter(transaction::Column::State.eq("Stopped"))
            .count(&self.db)
            .await?;
        let cdrs_created = ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::CreditReferenceId.is_null())
            .count(&self.db)
            .await?;
        let cdr_reconciliation_rate =
            (sessions_completed > 0).then(|| cdrs_created as f64 / sessions_completed as f64);

        let starts =
            ocpi_command::Entity::find().filter(ocpi_command::Column::Command.eq("START_SESSION"));
        let accepted = starts
            .clone()
            .filter(ocpi_command::Column::Result.eq("ACCEPTED"))
            .count(&self.db)
            .await?;
        let pending = starts
            .clone()
            .filter(ocpi_command::Column::Result.is_null())
            .count(&self.db)
            .await?;
        let failed = starts.count(&self.db).await? - accepted - pending;
        let remote_starts = RemoteStartKpis {
            accepted,
            failed,
            pending,
        };

        Ok(RoamingKpis {
            authorizations,
            remote_starts,
            sessions_started,
            sessions_completed,
            cdrs_created,
            cdr_reconciliation_rate,
            deliveries: self.deliveries().await?,
        })
    }

    async fn deliveries(&self) -> Result<Vec<PartnerDeliveries>, CoreError> {
        let counts = ocpi_outbox::Entity::find()
            .select_only()
            .column(ocpi_outbox::Column::PartnerId)
            .column(ocpi_outbox::Column::State)
            .column(ocpi_outbox::Column::Attempts)
            .column_as(ocpi_outbox::Column::Id.count(), "count")
            // By the attempts themselves, not `attempts > 0`: PostgreSQL would see the bound
            // 0 of the select and of the grouping as two expressions.
            .group_by(ocpi_outbox::Column::PartnerId)
            .group_by(ocpi_outbox::Column::State)
            .group_by(ocpi_outbox::Column::Attempts)
            .into_model::<DeliveryCount>()
            .all(&self.db)
            .await?;
        let partners = ocpi_partner::Entity::find().all(&self.db).await?;
        let mut out: Vec<PartnerDeliveries> = partners
            .into_iter()
            .map(|p| PartnerDeliveries {
                partner_id: p.id,
                party: p
                    .country_code
                    .zip(p.party_id)
                    .map(|(cc, pid)| format!("{cc}*{pid}")),
                ok: 0,
                retried: 0,
                parked: 0,
                pending: 0,
            })
            .collect();
        for c in counts {
            let Some(p) = out.iter_mut().find(|p| p.partner_id == c.partner_id) else {
                continue;
            };
            let n = u64::try_from(c.count).unwrap_or(0);
            match (c.state.as_str(), c.attempts > 0) {
                ("delivered", false) => p.ok += n,
                ("delivered", true) => p.retried += n,
                ("parked", _) => p.parked += n,
                _ => p.pending += n,
            }
        }
        Ok(out)
    }
}

impl RoamingKpis {
    /// The KPIs in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut registry = Registry::with_prefix("cpms_roaming");

        let authorizations = Family::<OutcomeLabels, Counter>::default();
        for (outcome, n) in [
            ("accepted", self.authorizations.accepted),
            ("rejected", self.authorizations.rejected),
            ("timed_out", self.authorizations.timed_out),
        ] {
            authorizations
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n);
        }
        registry.register(
            "authorizations",
            "Authorizations of roaming tokens since start-up, by outcome",
            authorizations,
        );

        let remote_starts = Family::<OutcomeLabels, Counter>::default();
        for (outcome, n) in [
            ("accepted", self.remote_starts.accepted),
            ("failed", self.remote_starts.failed),
        ] {
            remote_starts
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n);
        }
        registry.register(
            "remote_starts",
            "OCPI START_SESSION commands settled, by outcome",
            remote_starts,
        );
        let pending = Gauge::<i64>::default();
        pending.set(i64::try_from(self.remote_starts.pending).unwrap_or(i64::MAX));
        registry.register(
            "remote_starts_pending",
            "OCPI START_SESSION commands waiting for the station",
            pending,
        );

        let counter = |n: u64| {
            let c = Counter::<u64>::default();
            c.inc_by(n);
            c
        };
        registry.register(
            "sessions_started",
            "Transactions started with a roaming token",
            counter(self.sessions_started),
        );
        registry.register(
            "sessions_completed",
            "Roaming transactions stopped",
            counter(self.sessions_completed),
        );
        registry.register(
            "cdrs_created",
            "CDRs created for roaming sessions (credits excluded)",
            counter(self.cdrs_created),
        );
        if let Some(rate) = self.cdr_reconciliation_rate {
            let gauge = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            gauge.set(rate);
            registry.register(
                "cdr_reconciliation_ratio",
                "CDRs created per completed roaming session",
                gauge,
            );
        }

        let deliveries = Family::<DeliveryLabels, Counter>::default();
        for d in &self.deliveries {
            let partner = d.party.clone().unwrap_or_else(|| d.partner_id.to_string());
            for (result, n) in [
                ("ok", d.ok),
                ("retried", d.retried),
                ("parked", d.parked),
                ("pending", d.pending),
            ] {
                deliveries
                    .get_or_create(&DeliveryLabels {
                        partner: partner.clone(),
                        result,
                    })
                    .inc_by(n);
            }
        }
        registry.register(
            "push_deliveries",
            "OCPI pushes per partner, by how they were delivered",
            deliveries,
        );

        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}
