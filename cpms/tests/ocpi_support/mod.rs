//! A test eMSP for the OCPI module tests: a small axum server on loopback offering versions and
//! version details to the CPMS's token, and the registration that gives it a token C for the
//! CPMS's modules (OCPI 2.2.1 Credentials: Registration, the eMSP starting with token A).
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use reqwest::header::HeaderMap as ReqHeaders;
use serde_json::{json, Value};

use crate::common::TestServer;

/// The `Authorization` value for an OCPI token.
pub fn token(t: &str) -> String {
    format!(
        "Token {}",
        base64::engine::general_purpose::STANDARD.encode(t)
    )
}

const EMSP_TOKEN_B: &str = "support-emsp-token-b";

fn envelope(data: Value) -> Json<Value> {
    Json(json!({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}))
}

fn authorised(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(token(EMSP_TOKEN_B).as_str())
}

/// A registered test eMSP: the token C it uses on the CPMS.
pub struct Emsp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its registered token on the CPMS.
    pub token_c: String,
}

impl Emsp {
    /// Starts the eMSP and registers it with `server` (which must allow private partner URLs):
    /// the operator creates a partner, the eMSP POSTs its credentials with token A.
    pub async fn register(server: &TestServer) -> Emsp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/emsp");
        let app = platform_routes(
            &base,
            &[("credentials", "SENDER"), ("locations", "RECEIVER")],
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let token_a = pending_token(server, "Test eMSP").await;
        let (status, _, answer) = ocpi(
            server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(json!({
                "token": EMSP_TOKEN_B,
                "url": format!("http://{addr}/emsp/versions"),
                "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "DE",
                           "business_details": {"name": "Test eMSP"}}],
            })),
        )
        .await;
        assert_eq!(status, 200, "registration: {answer}");
        let token_c = answer["data"]["token"]
            .as_str()
            .expect("token C")
            .to_owned();
        Emsp { addr, token_c }
    }

    /// A GET with token C.
    pub async fn get(&self, server: &TestServer, path: &str) -> (u16, ReqHeaders, Value) {
        ocpi(server, "GET", path, Some(&token(&self.token_c)), None).await
    }
}

/// A new pending partner's token A.
pub async fn pending_token(server: &TestServer, name: &str) -> String {
    let (status, created) = server
        .api("POST", "/api/ocpi/partners", Some(json!({"name": name})))
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_owned()
}

/// An OCPI request with a raw `Authorization` value; returns status, headers and JSON body.
pub async fn ocpi(
    server: &TestServer,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> (u16, ReqHeaders, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = server.http.request(method, server.api_url(path));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON: {text}"));
    (status, headers, body)
}

/// The token the test eMSPs give the CPMS (token B): every push must carry it.
pub const EMSP_TOKEN: &str = EMSP_TOKEN_B;

/// A request a [`PushEmsp`] received on its Receiver endpoints.
#[derive(Debug, Clone)]
pub struct Received {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/emsp/2.2.1/locations/NL/CPO/L1/E1`.
    pub path: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The JSON body (`null` when none).
    pub body: Value,
    /// Whether the eMSP answered HTTP 200 with OCPI 1000.
    pub accepted: bool,
}

/// How a [`PushEmsp`] answers while failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500, no envelope.
    Http500,
    /// HTTP 200 with OCPI status 2001 (a client error).
    Ocpi2001,
    /// HTTP 200 with OCPI status 3000 (a server error).
    Ocpi3000,
}

#[derive(Default)]
struct PushState {
    received: std::sync::Mutex<Vec<Received>>,
    /// (failures left, how); `usize::MAX` means down until told otherwise.
    failing: std::sync::Mutex<(usize, Option<Failure>)>,
    seen: tokio::sync::Notify,
}

/// A registered test eMSP whose version details list `locations` and `tariffs` RECEIVER
/// endpoints; it records every request on them and can be told to fail.
pub struct PushEmsp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its registered token on the CPMS.
    pub token_c: String,
    state: std::sync::Arc<PushState>,
}

async fn receive(
    state: std::sync::Arc<PushState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let failure = {
        let mut f = state.failing.lock().unwrap();
        match f.1 {
            Some(how) if f.0 > 0 => {
                if f.0 != usize::MAX {
                    f.0 -= 1;
                }
                Some(how)
            }
            _ => None,
        }
    };
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        accepted: failure.is_none(),
    };
    state.received.lock().unwrap().push(received);
    state.seen.notify_waiters();
    let stamp = "2026-01-01T00:00:00Z";
    match failure {
        None => (StatusCode::OK, envelope(Value::Null)),
        Some(Failure::Http500) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!("internal error")),
        ),
        Some(Failure::Ocpi2001) => (
            StatusCode::OK,
            Json(json!({"status_code": 2001, "status_message": "invalid", "timestamp": stamp})),
        ),
        Some(Failure::Ocpi3000) => (
            StatusCode::OK,
            Json(json!({"status_code": 3000, "status_message": "busy", "timestamp": stamp})),
        ),
    }
}

impl PushEmsp {
    /// Starts the eMSP and registers it with `server` (which must allow private partner URLs).
    pub async fn register(server: &TestServer) -> PushEmsp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/emsp");
        let state = std::sync::Arc::new(PushState::default());
        let recorder = state.clone();
        let app = platform_routes(
            &base,
            &[
                ("credentials", "SENDER"),
                ("locations", "RECEIVER"),
                ("tariffs", "RECEIVER"),
            ],
        )
        .fallback(move |m, u, h, b| receive(recorder.clone(), m, u, h, b));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let token_a = pending_token(server, "Push eMSP").await;
        let (status, _, answer) = ocpi(
            server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(json!({
                "token": EMSP_TOKEN_B,
                "url": format!("http://{addr}/emsp/versions"),
                "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "DE",
                           "business_details": {"name": "Push eMSP"}}],
            })),
        )
        .await;
        assert_eq!(status, 200, "registration: {answer}");
        let token_c = answer["data"]["token"]
            .as_str()
            .expect("token C")
            .to_owned();
        PushEmsp {
            addr,
            token_c,
            state,
        }
    }

    /// The next `n` requests fail with `how` (`usize::MAX`: until [`PushEmsp::recover`]).
    pub fn fail(&self, n: usize, how: Failure) {
        *self.state.failing.lock().unwrap() = (n, Some(how));
    }

    /// Answers every request with success again.
    pub fn recover(&self) {
        *self.state.failing.lock().unwrap() = (0, None);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (at most `common::WAIT`) for a request at index `from` or later that `matches`,
    /// and returns its index and the request.
    pub async fn wait_for(
        &self,
        from: usize,
        what: &str,
        matches: impl Fn(&Received) -> bool,
    ) -> (usize, Received) {
        let deadline = tokio::time::Instant::now() + crate::common::WAIT;
        loop {
            let notified = self.state.seen.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self
                .received()
                .into_iter()
                .enumerate()
                .skip(from)
                .find(|(_, r)| matches(r))
            {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; received: {:#?}",
                    self.received()
                );
            }
        }
    }
}

/// How a [`TokensEmsp`] answers real-time authorizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthAnswer {
    /// HTTP 200 with an AuthorizationInfo carrying this AllowedType and reference.
    Allowed(&'static str, Option<&'static str>),
    /// HTTP 503, no envelope: the eMSP cannot be reached.
    Down,
}

#[derive(Default)]
struct TokensState {
    answer: std::sync::Mutex<Option<AuthAnswer>>,
    calls: std::sync::Mutex<Vec<String>>,
}

/// A registered test eMSP whose version details list a `tokens` SENDER endpoint: it answers
/// `POST .../tokens/{uid}/authorize` as told and records each call's path and query.
pub struct TokensEmsp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its registered token on the CPMS.
    pub token_c: String,
    state: std::sync::Arc<TokensState>,
}

impl TokensEmsp {
    /// Starts the eMSP (party DE/EMS) and registers it with `server`.
    pub async fn register(server: &TestServer) -> TokensEmsp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/emsp");
        let state = std::sync::Arc::new(TokensState::default());
        let answering = state.clone();
        let app = platform_routes(&base, &[("credentials", "SENDER"), ("tokens", "SENDER")]).route(
            "/emsp/2.2.1/tokens/{uid}/authorize",
            axum::routing::post(
                move |axum::extract::Path(uid): axum::extract::Path<String>,
                      uri: axum::http::Uri,
                      h: HeaderMap| async move {
                    if !authorised(&h) {
                        return (StatusCode::UNAUTHORIZED, envelope(Value::Null));
                    }
                    answering.calls.lock().unwrap().push(format!(
                        "{}?{}",
                        uri.path(),
                        uri.query().unwrap_or_default()
                    ));
                    let answer = answering.answer.lock().unwrap().clone();
                    match answer {
                        Some(AuthAnswer::Allowed(allowed, reference)) => (
                            StatusCode::OK,
                            envelope(json!({
                                "allowed": allowed,
                                "token": {"uid": uid},
                                "authorization_reference": reference,
                            })),
                        ),
                        _ => (StatusCode::SERVICE_UNAVAILABLE, envelope(Value::Null)),
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let token_a = pending_token(server, "Tokens eMSP").await;
        let (status, _, answer) = ocpi(
            server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(json!({
                "token": EMSP_TOKEN_B,
                "url": format!("http://{addr}/emsp/versions"),
                "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "DE",
                           "business_details": {"name": "Tokens eMSP"}}],
            })),
        )
        .await;
        assert_eq!(status, 200, "registration: {answer}");
        let token_c = answer["data"]["token"]
            .as_str()
            .expect("token C")
            .to_owned();
        TokensEmsp {
            addr,
            token_c,
            state,
        }
    }

    /// How real-time authorizations are answered from now on.
    pub fn answer(&self, answer: AuthAnswer) {
        *self.state.answer.lock().unwrap() = Some(answer);
    }

    /// The real-time authorization calls so far (`path?query`).
    pub fn calls(&self) -> Vec<String> {
        self.state.calls.lock().unwrap().clone()
    }

    /// An OCPI request with token C.
    pub async fn send(
        &self,
        server: &TestServer,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, _, body) = ocpi(server, method, path, Some(&token(&self.token_c)), body).await;
        (status, body)
    }
}

/// A registered test eMSP of party DE/`party_id` whose version details list a `sessions`
/// RECEIVER endpoint; it records every request on it as a [`PushEmsp`] does.
pub async fn sessions_emsp(server: &TestServer, party_id: &'static str) -> PushEmsp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/emsp");
    let state = std::sync::Arc::new(PushState::default());
    let recorder = state.clone();
    let app = platform_routes(
        &base,
        &[("credentials", "SENDER"), ("sessions", "RECEIVER")],
    )
    .fallback(move |m, u, h, b| receive(recorder.clone(), m, u, h, b));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let token_a = pending_token(server, party_id).await;
    let (status, _, answer) = ocpi(
        server,
        "POST",
        "/ocpi/2.2.1/credentials",
        Some(&token(&token_a)),
        Some(json!({
            "token": EMSP_TOKEN_B,
            "url": format!("http://{addr}/emsp/versions"),
            "roles": [{"role": "EMSP", "party_id": party_id, "country_code": "DE",
                       "business_details": {"name": party_id}}],
        })),
    )
    .await;
    assert_eq!(status, 200, "registration: {answer}");
    let token_c = answer["data"]["token"]
        .as_str()
        .expect("token C")
        .to_owned();
    PushEmsp {
        addr,
        token_c,
        state,
    }
}

/// The two platform routes every test eMSP serves behind its token: its versions list and its
/// 2.2.1 version details listing `endpoints` (module identifier, role), each at `{base}/2.2.1/{id}`.
fn platform_routes(base: &str, endpoints: &[(&str, &str)]) -> Router {
    let versions = json!([{"version": "2.2.1", "url": format!("{base}/2.2.1")}]);
    let details = json!({"version": "2.2.1", "endpoints": endpoints
        .iter()
        .map(|(id, role)| json!({"identifier": id, "role": role, "url": format!("{base}/2.2.1/{id}")}))
        .collect::<Vec<_>>()});
    let guarded = |body: Value| {
        get(move |h: HeaderMap| async move {
            if !authorised(&h) {
                return (StatusCode::UNAUTHORIZED, envelope(Value::Null));
            }
            (StatusCode::OK, envelope(body))
        })
    };
    Router::new()
        .route("/emsp/versions", guarded(versions))
        .route("/emsp/2.2.1", guarded(details))
}

/// How a [`CdrEmsp`] answers a CDR POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdrAnswer {
    /// Stores it (once per country_code/party_id/id) and answers 201 with its `Location`.
    Store,
    /// Stores it, then answers HTTP 500: the CPO never learns it arrived (a lost answer).
    StoreThenFail,
    /// HTTP 503 without storing it: the eMSP is down.
    Down,
}

#[derive(Default)]
struct CdrState {
    /// Every POSTed body, in arrival order, with whether it was answered with success.
    posts: std::sync::Mutex<Vec<(Value, bool)>>,
    /// The CDRs kept, deduplicated on (country_code, party_id, id) as a real eMSP would.
    stored: std::sync::Mutex<Vec<Value>>,
    /// (answers left, how); after them the eMSP stores normally.
    answer: std::sync::Mutex<(usize, Option<CdrAnswer>)>,
    seen: tokio::sync::Notify,
}

/// A registered test eMSP of party DE/`party_id` whose version details list a `cdrs` RECEIVER
/// endpoint: it keeps POSTed CDRs once per id, answers with a `Location`, and can lose answers
/// or be down.
pub struct CdrEmsp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its registered token on the CPMS.
    pub token_c: String,
    state: std::sync::Arc<CdrState>,
}

async fn receive_cdr(
    state: std::sync::Arc<CdrState>,
    base: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !authorised(&headers) {
        return (StatusCode::UNAUTHORIZED, envelope(Value::Null)).into_response();
    }
    let how = {
        let mut a = state.answer.lock().unwrap();
        match a.1 {
            Some(how) if a.0 > 0 => {
                a.0 -= 1;
                how
            }
            _ => CdrAnswer::Store,
        }
    };
    let cdr: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = |c: &Value| {
        (
            c["country_code"].clone(),
            c["party_id"].clone(),
            c["id"].clone(),
        )
    };
    if how != CdrAnswer::Down {
        let mut stored = state.stored.lock().unwrap();
        if !stored.iter().any(|c| key(c) == key(&cdr)) {
            stored.push(cdr.clone());
        }
    }
    state
        .posts
        .lock()
        .unwrap()
        .push((cdr.clone(), how == CdrAnswer::Store));
    state.seen.notify_waiters();
    match how {
        CdrAnswer::Store => {
            let location = format!("{base}/2.2.1/cdrs/{}", cdr["id"].as_str().unwrap_or(""));
            (
                StatusCode::CREATED,
                [(axum::http::header::LOCATION, location)],
                envelope(Value::Null),
            )
                .into_response()
        }
        CdrAnswer::StoreThenFail => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!("internal error")),
        )
            .into_response(),
        CdrAnswer::Down => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!("unavailable"))).into_response()
        }
    }
}

impl CdrEmsp {
    /// Starts the eMSP (party DE/`party_id`) and registers it with `server`.
    pub async fn register(server: &TestServer, party_id: &'static str) -> CdrEmsp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/emsp");
        let state = std::sync::Arc::new(CdrState::default());
        let recorder = state.clone();
        let location_base = base.clone();
        let app = platform_routes(&base, &[("credentials", "SENDER"), ("cdrs", "RECEIVER")]).route(
            "/emsp/2.2.1/cdrs",
            axum::routing::post(move |h: HeaderMap, b: axum::body::Bytes| {
                receive_cdr(recorder.clone(), location_base.clone(), h, b)
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let token_a = pending_token(server, party_id).await;
        let (status, _, answer) = ocpi(
            server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(json!({
                "token": EMSP_TOKEN_B,
                "url": format!("http://{addr}/emsp/versions"),
                "roles": [{"role": "EMSP", "party_id": party_id, "country_code": "DE",
                           "business_details": {"name": party_id}}],
            })),
        )
        .await;
        assert_eq!(status, 200, "registration: {answer}");
        let token_c = answer["data"]["token"]
            .as_str()
            .expect("token C")
            .to_owned();
        CdrEmsp {
            addr,
            token_c,
            state,
        }
    }

    /// The next `n` POSTs are answered `how`; then it stores and answers normally again.
    pub fn answer(&self, n: usize, how: CdrAnswer) {
        *self.state.answer.lock().unwrap() = (n, Some(how));
    }

    /// Every POSTed CDR and whether it was answered with success.
    pub fn posts(&self) -> Vec<(Value, bool)> {
        self.state.posts.lock().unwrap().clone()
    }

    /// The CDRs kept, one per id.
    pub fn stored(&self) -> Vec<Value> {
        self.state.stored.lock().unwrap().clone()
    }

    /// Waits (at most `common::WAIT`) until the POSTs so far satisfy `done`.
    pub async fn wait_posts(&self, what: &str, done: impl Fn(&[(Value, bool)]) -> bool) {
        let deadline = tokio::time::Instant::now() + crate::common::WAIT;
        loop {
            let notified = self.state.seen.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.posts()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}; POSTs: {:#?}", self.posts());
            }
        }
    }
}
