//! Our requests to partners: every URL through the [`UrlPolicy`] and pinned to the addresses it
//! checked, `Authorization: Token <base64>`, fresh `X-Request-ID`/`X-Correlation-ID`, routing
//! headers, and the response envelope unwrapped (Transport and format).

use std::time::Duration;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::authorization_value;
use crate::transport::{
    new_message_id, Envelope, OcpiStatus, Routing, X_CORRELATION_ID, X_REQUEST_ID,
};
use crate::url_policy::{UrlPolicy, UrlPolicyError};

/// How long a partner has to answer one request.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to a partner failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL was refused before any request was made.
    #[error(transparent)]
    Policy(#[from] UrlPolicyError),
    /// The request could not be made or the answer not read.
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The partner answered with an HTTP error or an OCPI status other than 1000.
    #[error("{url} answered HTTP {http}, OCPI status {status_code:?}: {message}")]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        http: u16,
        /// The OCPI status code, when the body was an envelope.
        status_code: Option<u16>,
        /// The status message or body.
        message: String,
    },
    /// The answer was not the object expected.
    #[error("{url} answered an unexpected body: {message}")]
    Invalid {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
}

/// Makes OCPI requests to partners.
#[derive(Debug, Clone)]
pub struct OcpiClient {
    policy: UrlPolicy,
    timeout: Duration,
}

impl OcpiClient {
    /// A client applying `policy` to every URL.
    pub fn new(policy: UrlPolicy) -> Self {
        OcpiClient {
            policy,
            timeout: TIMEOUT,
        }
    }

    /// The same client giving partners `timeout` to answer (real-time authorization must be
    /// quick: a driver is waiting at the station).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// GET `url` and return the envelope's data.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        token: &str,
        routing: &Routing,
    ) -> Result<T, ClientError> {
        self.send::<(), T>(reqwest::Method::GET, url, token, routing, None)
            .await
    }

    /// Sends `body` with `method` to `url` and returns the envelope's data.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        routing: &Routing,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.send_located(method, url, token, routing, body)
            .await
            .map(|(data, _)| data)
    }

    /// [`OcpiClient::send`], also returning the answer's `Location` header, where a receiver
    /// says the URL of what a POST created (CDRs: POST method, Response Headers).
    pub async fn send_located<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        routing: &Routing,
        body: Option<&B>,
    ) -> Result<(T, Option<String>), ClientError> {
        let checked = self.policy.check(url).await?;
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        };
        // Pinned to the checked addresses; no redirects and no proxy from the environment,
        // either of which would escape the policy.
        let http = reqwest::Client::builder()
            .no_proxy()
            .resolve_to_addrs(&checked.host, &checked.addrs)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .build()
            .map_err(transport)?;
        let mut headers = HeaderMap::new();
        routing.write(&mut headers);
        headers.insert(X_REQUEST_ID, new_message_id());
        headers.insert(X_CORRELATION_ID, new_message_id());
        let mut request = http
            .request(method, checked.url)
            .headers(headers)
            .header(reqwest::header::AUTHORIZATION, authorization_value(token));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(transport)?;
        let envelope: Result<Envelope<serde_json::Value>, _> = serde_json::from_str(&text);
        match envelope {
            Ok(env) if status.is_success() && env.status_code == OcpiStatus::Success.code() => {
                let data = env.data.unwrap_or(serde_json::Value::Null);
                serde_json::from_value(data)
                    .map(|data| (data, location))
                    .map_err(|e| ClientError::Invalid {
                        url: url.to_owned(),
                        message: e.to_string(),
                    })
            }
            Ok(env) => Err(ClientError::Refused {
                url: url.to_owned(),
                http: status.as_u16(),
                status_code: Some(env.status_code),
                message: env.status_message.unwrap_or_default(),
            }),
            Err(_) if !status.is_success() => Err(ClientError::Refused {
                url: url.to_owned(),
                http: status.as_u16(),
                status_code: None,
                message: text.chars().take(200).collect(),
            }),
            Err(e) => Err(ClientError::Invalid {
                url: url.to_owned(),
                message: format!("not an OCPI response: {e}"),
            }),
        }
    }
}
