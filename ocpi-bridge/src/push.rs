//! The push worker: delivers the outbox's rows to partners' Receiver interfaces (OCPI 2.2.1
//! Locations: Receiver Interface, PUT and PATCH; Tariffs: Receiver Interface, PUT and DELETE;
//! Sessions: Receiver Interface, PUT and PATCH; CDRs: Receiver Interface, POST; Commands: the
//! CommandResult POSTed to the command's `response_url`).
//!
//! Each row is rendered from current state when it is sent, with the same functions the Sender
//! GETs use, so a GET and a push agree and a late row never sends stale data. A row is delivered
//! when the partner answers HTTP 2xx with OCPI status 1000; otherwise it is retried with
//! exponential backoff and parked after the maximum number of attempts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use crate::modules::cdrs::render_cdr;
use crate::modules::locations::{render_evse, render_location};
use crate::modules::sessions::{render_session, render_session_patch};
use crate::modules::tariffs::ocpi_tariff;
use crate::port::outbox::{Outbox, OutboxRow, PushOperation, CDRS, LOCATIONS, SESSIONS, TARIFFS};
use crate::port::{Partner, PartnerStatus};
use crate::Bridge;

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct PushSettings {
    /// Delay after the first failed attempt; doubled after each further one.
    pub retry_base: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// Failed attempts after which a row is parked.
    pub max_attempts: u32,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(3600),
            max_attempts: 10,
        }
    }
}

impl PushSettings {
    /// The delay before the next attempt after `attempts` failed ones (1 or more).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        self.retry_base
            .checked_mul(factor)
            .unwrap_or(self.retry_max)
            .min(self.retry_max)
    }
}

/// Rows claimed per round; also the number of requests in flight at most.
const BATCH: u64 = 16;
/// How often due retries are looked for when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Why one delivery did not succeed.
enum Outcome {
    /// Accepted by the partner (or nothing left to send).
    Delivered,
    /// Worth trying again.
    Retry(String),
    /// Will never work as it stands (no partner endpoint, unreadable row).
    Park(String),
}

/// Runs the worker until `shutdown` completes: releases stale claims, then claims due rows in
/// id order, delivers them and records the outcome. Rows in flight when it stops stay claimed and
/// are released at the next start.
pub async fn run(
    bridge: Bridge,
    outbox: Arc<dyn Outbox>,
    settings: PushSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    let wake = outbox.wake();
    match outbox.reset_claims().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "OCPI push: rows of a previous run released"),
        Err(e) => tracing::error!(error = %e, "OCPI push: could not release claims"),
    }
    loop {
        let batch = match outbox.claim_due(Utc::now(), BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "OCPI push: could not claim rows");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                () = &mut shutdown => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            continue;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for row in batch {
            let bridge = bridge.clone();
            let outbox = outbox.clone();
            tasks.spawn(async move {
                let outcome = deliver(&bridge, &row).await;
                record(outbox.as_ref(), &row, outcome, &settings).await;
            });
        }
        let all_done = async { while tasks.join_next().await.is_some() {} };
        tokio::select! {
            () = &mut shutdown => return,
            () = all_done => {}
        }
    }
}

async fn record(outbox: &dyn Outbox, row: &OutboxRow, outcome: Outcome, settings: &PushSettings) {
    let result = match outcome {
        Outcome::Delivered => outbox.complete(row.id, Utc::now()).await,
        Outcome::Park(error) => {
            tracing::warn!(row = row.id, %error, "OCPI push parked");
            outbox.park(row.id, &error).await
        }
        Outcome::Retry(error) => {
            let attempts = row.attempts.saturating_add(1);
            if attempts >= settings.max_attempts {
                tracing::warn!(row = row.id, attempts, %error, "OCPI push parked after its last attempt");
                outbox.park(row.id, &error).await
            } else {
                let delay = chrono::Duration::from_std(settings.backoff(attempts))
                    .unwrap_or(chrono::Duration::MAX);
                tracing::info!(row = row.id, attempts, %error, "OCPI push failed; retrying");
                outbox.fail(row.id, &error, Utc::now() + delay).await
            }
        }
    };
    if let Err(e) = result {
        // The claim stays; the row is sent again after the next start.
        tracing::error!(row = row.id, error = %e, "OCPI push: could not record the outcome");
    }
}

/// The partner's Receiver endpoint for `module`.
fn receiver<'a>(partner: &'a Partner, module: &str) -> Option<&'a str> {
    partner
        .endpoints
        .iter()
        .find(|e| e.identifier == module && e.role.eq_ignore_ascii_case("RECEIVER"))
        .map(|e| e.url.as_str())
}

/// `{endpoint}/{segment}/...`, each segment percent-encoded.
fn object_url(endpoint: &str, segments: &[&str]) -> Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("endpoint {endpoint}: {e}"))?;
    url.path_segments_mut()
        .map_err(|()| format!("endpoint {endpoint} cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url.to_string())
}

/// The partner's token C (stored encrypted) to authorize a push with, or why the push must be
/// parked: none is stored, or it does not decrypt. Module pushes and command results both call
/// the partner with it, so they park alike when it is unusable.
pub(crate) fn partner_token(bridge: &Bridge, partner: &Partner) -> Result<String, String> {
    match partner
        .their_token
        .as_deref()
        .map(|t| bridge.cipher().decrypt(t))
    {
        Some(Ok(token)) => Ok(token),
        Some(Err(e)) => Err(format!("the partner's token: {e}")),
        None => Err("no token for the partner".into()),
    }
}

/// Renders the row's object from current state and sends it.
async fn deliver(bridge: &Bridge, row: &OutboxRow) -> Outcome {
    let partner = match bridge.store().list().await {
        Ok(all) => all.into_iter().find(|p| p.id == row.partner_id),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some(partner) = partner.filter(|p| p.status == PartnerStatus::Registered) else {
        return Outcome::Park("the partner is no longer registered".into());
    };
    // A CommandResult goes to the command's own response_url, not to a module endpoint.
    if row.module == crate::port::outbox::COMMANDS {
        use crate::modules::commands::{deliver_result, ResultDelivery};
        return match deliver_result(bridge, row, &partner).await {
            ResultDelivery::Delivered => Outcome::Delivered,
            ResultDelivery::Retry(e) => Outcome::Retry(e),
            ResultDelivery::Park(e) => Outcome::Park(e),
        };
    }
    let Some(endpoint) = receiver(&partner, &row.module) else {
        return Outcome::Park(format!(
            "the partner has no {} RECEIVER endpoint",
            row.module
        ));
    };
    let token = match partner_token(bridge, &partner) {
        Ok(token) => token,
        Err(why) => return Outcome::Park(why),
    };
    if row.module == CDRS {
        return deliver_cdr(bridge, row, endpoint, &token, &partner).await;
    }
    let config = bridge.config();
    let (cc, pid) = (config.country_code.as_str(), config.party_id.as_str());
    let request = match (row.module.as_str(), row.operation) {
        (LOCATIONS, op) => location_request(bridge, row, op).await,
        (TARIFFS, PushOperation::Put) => match bridge.tariff_source() {
            None => Err(Outcome::Retry("the Tariffs module is not wired".into())),
            Some(source) => match source.tariff(&row.object_key).await {
                Err(e) => Err(Outcome::Retry(e.to_string())),
                // Deleted since: the DELETE row that follows tells the partner.
                Ok(None) => Err(Outcome::Delivered),
                Ok(Some(t)) => match ocpi_tariff(&t, cc, pid) {
                    Ok(body) => Ok((vec![row.object_key.as_str()], Some(body))),
                    Err(e) => Err(Outcome::Park(e.message)),
                },
            },
        },
        (SESSIONS, op @ (PushOperation::Put | PushOperation::Patch)) => {
            match bridge.session_source() {
                None => Err(Outcome::Retry("the Sessions module is not wired".into())),
                Some(source) => match source.session(&row.object_key).await {
                    Err(e) => Err(Outcome::Retry(e.to_string())),
                    // Its EVSE left the Location since: nothing that could be sent.
                    Ok(None) => Err(Outcome::Delivered),
                    Ok(Some(s)) => {
                        let full = render_session(&s, cc, pid, &config.currency);
                        // Sessions: PATCH method: the changed fields and last_updated; a
                        // PATCH renders what changes while charging.
                        let body = match op {
                            PushOperation::Patch => render_session_patch(&full),
                            _ => full,
                        };
                        Ok((vec![row.object_key.as_str()], Some(body)))
                    }
                },
            }
        }
        // Rendered from the key alone: the tariff row is gone.
        (TARIFFS, PushOperation::Delete) => Ok((vec![row.object_key.as_str()], None)),
        (module, op) => Err(Outcome::Park(format!(
            "no push for {} on {module}",
            op.as_str()
        ))),
    };
    let (segments, body) = match request {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let mut path = vec![cc, pid];
    path.extend(segments);
    let url = match object_url(endpoint, &path) {
        Ok(url) => url,
        Err(e) => return Outcome::Park(e),
    };
    let method = match row.operation {
        PushOperation::Put => reqwest::Method::PUT,
        PushOperation::Patch => reqwest::Method::PATCH,
        PushOperation::Delete => reqwest::Method::DELETE,
        PushOperation::Post => reqwest::Method::POST,
    };
    let routing = bridge.routing_to(partner.roles.first());
    let sent: Result<Value, _> = bridge
        .client()
        .send(method, &url, &token, &routing, body.as_ref())
        .await;
    match sent {
        Ok(_) => Outcome::Delivered,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// POSTs the stored CDR to the eMSP's CDRs endpoint itself (CDRs: Receiver interface, POST
/// method) and keeps the URL it answers in `Location`. A retry after a lost answer POSTs the
/// same CDR with the same id, which the receiver already knows (ids are unique per our party),
/// so the eMSP never holds two CDRs of one session.
async fn deliver_cdr(
    bridge: &Bridge,
    row: &OutboxRow,
    endpoint: &str,
    token: &str,
    partner: &Partner,
) -> Outcome {
    if row.operation != PushOperation::Post {
        return Outcome::Park(format!(
            "no {} of CDRs: CDRs are only POSTed",
            row.operation.as_str()
        ));
    }
    let Some(source) = bridge.cdr_source() else {
        return Outcome::Retry("the CDRs module is not wired".into());
    };
    let stored = match source.cdr(&row.object_key).await {
        Err(e) => return Outcome::Retry(e.to_string()),
        Ok(None) => return Outcome::Park(format!("no CDR {}", row.object_key)),
        Ok(Some(c)) => c,
    };
    // Only the eMSP owning the session's token is sent its CDR.
    if stored.owner != partner.id {
        return Outcome::Park("the CDR belongs to another partner".into());
    }
    let config = bridge.config();
    let body = match render_cdr(
        &stored.cdr,
        &config.country_code,
        &config.party_id,
        &config.currency,
    ) {
        Ok(body) => body,
        Err(e) => return Outcome::Park(e.message),
    };
    let routing = bridge.routing_to(partner.roles.first());
    let sent: Result<(Value, Option<String>), _> = bridge
        .client()
        .send_located(
            reqwest::Method::POST,
            endpoint,
            token,
            &routing,
            Some(&body),
        )
        .await;
    match sent {
        Ok((_, location)) => match source.delivered(&row.object_key, location.as_deref()).await {
            Ok(()) => Outcome::Delivered,
            // Sent again later: the receiver knows the id.
            Err(e) => Outcome::Retry(e.to_string()),
        },
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

type Request<'a> = Result<(Vec<&'a str>, Option<Value>), Outcome>;

/// The Locations request of a row: PUT of the whole Location at `{location_id}`, or PATCH of an
/// EVSE's status at `{location_id}/{evse_uid}` (Locations: Receiver Interface). A PATCH carries
/// `last_updated`, as every PATCH must (Locations: PATCH method).
async fn location_request<'a>(
    bridge: &Bridge,
    row: &'a OutboxRow,
    op: PushOperation,
) -> Request<'a> {
    let source = bridge
        .location_source()
        .map_err(|e| Outcome::Retry(e.message))?;
    let (location_id, evse_uid) = match row.object_key.split_once('/') {
        Some((l, e)) => (l, Some(e)),
        None => (row.object_key.as_str(), None),
    };
    let facts = match source.location(location_id).await {
        Err(e) => return Err(Outcome::Retry(e.to_string())),
        // Deleted since: OCPI Locations has no DELETE, nothing to send.
        Ok(None) => return Err(Outcome::Delivered),
        Ok(Some(f)) => f,
    };
    let ctx = bridge.render_context();
    match (op, evse_uid) {
        (PushOperation::Put, None) => {
            let (location, _) = render_location(&facts, &ctx);
            let body = serde_json::to_value(location).map_err(|e| Outcome::Park(e.to_string()))?;
            Ok((vec![location_id], Some(body)))
        }
        (PushOperation::Patch, Some(uid)) => {
            let Some(evse) = facts.evses.iter().find(|e| e.uid == uid) else {
                // Removed from the Location since; the Location's PUT tells the partner.
                return Err(Outcome::Delivered);
            };
            let (evse, _) = render_evse(evse, &ctx);
            let body = json!({"status": evse.status, "last_updated": evse.last_updated});
            Ok((vec![location_id, uid], Some(body)))
        }
        _ => Err(Outcome::Park(format!(
            "no {} of Locations object {}",
            op.as_str(),
            row.object_key
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = PushSettings {
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
            max_attempts: 10,
        };
        assert_eq!(s.backoff(1), Duration::from_secs(2));
        assert_eq!(s.backoff(2), Duration::from_secs(4));
        assert_eq!(s.backoff(5), Duration::from_secs(32));
        assert_eq!(s.backoff(6), Duration::from_secs(60));
        assert_eq!(s.backoff(100), Duration::from_secs(60));
    }

    #[test]
    fn object_urls_append_encoded_segments() {
        assert_eq!(
            object_url(
                "https://e.example/ocpi/2.2.1/tariffs/",
                &["NL", "CPO", "a b"]
            )
            .unwrap(),
            "https://e.example/ocpi/2.2.1/tariffs/NL/CPO/a%20b"
        );
    }
}
