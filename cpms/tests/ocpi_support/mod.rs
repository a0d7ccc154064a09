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
        let (addr, token_c) = serve_and_register(server, "Test eMSP", "EMS", |base| {
            platform_routes(
                base,
                &[("credentials", "SENDER"), ("locations", "RECEIVER")],
            )
        })
        .await;
        Emsp { addr, token_c }
    }

    /// A GET with token C.
    pub async fn get(&self, server: &TestServer, path: &str) -> (u16, ReqHeaders, Value) {
        ocpi(server, "GET", path, Some(&token(&self.token_c)), None).await
    }
}

/// Serves `app` (built for the eMSP's base URL `http://{addr}/emsp`) on a loopback port and
/// registers it with `server` as an eMSP of party DE/`party_id` called `name`: the operator
/// creates a partner, the eMSP POSTs its credentials with token A. Returns where it listens and
/// its token C.
async fn serve_and_register(
    server: &TestServer,
    name: &str,
    party_id: &str,
    app: impl FnOnce(&str) -> Router,
) -> (SocketAddr, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(&format!("http://{addr}/emsp"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let token_a = pending_token(server, name).await;
    let (status, _, answer) = ocpi(
        server,
        "POST",
        "/ocpi/2.2.1/credentials",
        Some(&token(&token_a)),
        Some(json!({
            "token": EMSP_TOKEN_B,
            "url": format!("http://{addr}/emsp/versions"),
            "roles": [{"role": "EMSP", "party_id": party_id, "country_code": "DE",
                       "business_details": {"name": name}}],
        })),
    )
    .await;
    assert_eq!(status, 200, "registration: {answer}");
    let token_c = answer["data"]["token"]
        .as_str()
        .expect("token C")
        .to_owned();
    (addr, token_c)
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
        PushEmsp::start(
            server,
            "Push eMSP",
            "EMS",
            &[
                ("credentials", "SENDER"),
                ("locations", "RECEIVER"),
                ("tariffs", "RECEIVER"),
            ],
        )
        .await
    }

    /// Starts an eMSP of party DE/`party_id` called `name` whose version details list
    /// `endpoints`, recording every request outside its platform routes, and registers it.
    async fn start(
        server: &TestServer,
        name: &str,
        party_id: &str,
        endpoints: &[(&str, &str)],
    ) -> PushEmsp {
        let state = std::sync::Arc::new(PushState::default());
        let recorder = state.clone();
        let (addr, token_c) = serve_and_register(server, name, party_id, |base| {
            platform_routes(base, endpoints)
                .fallback(move |m, u, h, b| receive(recorder.clone(), m, u, h, b))
        })
        .await;
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
        wait_until(
            &self.state.seen,
            what,
            || {
                self.received()
                    .into_iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, r)| matches(r))
            },
            || format!("received: {:#?}", self.received()),
        )
        .await
    }
}

/// Waits (at most `common::WAIT`) until `check` finds something, checking again each time
/// `seen` is notified; on timeout panics naming `what` and what `describe` says was received.
async fn wait_until<T>(
    seen: &tokio::sync::Notify,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = tokio::time::Instant::now() + crate::common::WAIT;
    loop {
        // Registered before checking, so a request arriving in between still wakes us.
        let notified = seen.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(found) = check() {
            return found;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            panic!("timed out waiting for {what}; {}", describe());
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
        let state = std::sync::Arc::new(TokensState::default());
        let answering = state.clone();
        let (addr, token_c) = serve_and_register(server, "Tokens eMSP", "EMS", |base| {
            platform_routes(base, &[("credentials", "SENDER"), ("tokens", "SENDER")]).route(
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
            )
        })
        .await;
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
    PushEmsp::start(
        server,
        party_id,
        party_id,
        &[("credentials", "SENDER"), ("sessions", "RECEIVER")],
    )
    .await
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
        let state = std::sync::Arc::new(CdrState::default());
        let recorder = state.clone();
        let (addr, token_c) = serve_and_register(server, party_id, party_id, |base| {
            let location_base = base.to_owned();
            platform_routes(base, &[("credentials", "SENDER"), ("cdrs", "RECEIVER")]).route(
                "/emsp/2.2.1/cdrs",
                axum::routing::post(move |h: HeaderMap, b: axum::body::Bytes| {
                    receive_cdr(recorder.clone(), location_base.clone(), h, b)
                }),
            )
        })
        .await;
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
        wait_until(
            &self.state.seen,
            what,
            || done(&self.posts()).then_some(()),
            || format!("POSTs: {:#?}", self.posts()),
        )
        .await
    }
}

/// Settings for the roaming tests: the CPO is NL/CPO, private partner URLs are allowed (the
/// test eMSPs listen on loopback) and failed pushes are retried within the wait.
pub fn cpo_settings(db: &crate::common::TestDb) -> cpms::config::Settings {
    let mut s = crate::common::settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.push_retry_base_seconds = 0.05;
    s.ocpi.push_retry_max_seconds = 1;
    s
}

/// The eMSP with token C `token_c` (party DE/`party`) pushes an RFID token `uid`, `valid` or not,
/// whitelisted ALWAYS.
pub async fn push_token(server: &TestServer, token_c: &str, party: &str, uid: &str, valid: bool) {
    let (status, _, body) = ocpi(
        server,
        "PUT",
        &format!("/ocpi/2.2.1/tokens/DE/{party}/{uid}"),
        Some(&token(token_c)),
        Some(json!({
            "country_code": "DE", "party_id": party, "uid": uid, "type": "RFID",
            "contract_id": "DE-EMS-C12345678-9", "issuer": "Test eMSP", "valid": valid,
            "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z",
        })),
    )
    .await;
    assert_eq!(
        (status, body["status_code"].clone()),
        (200, json!(1000)),
        "{body}"
    );
}

/// Asks the CPMS, with token C `token_c`, for its 2.2.1 version details and asserts they list
/// module `identifier` in `role`.
pub async fn assert_lists_endpoint(
    server: &TestServer,
    token_c: &str,
    identifier: &str,
    role: &str,
    label: &str,
) {
    let (_, _, details) = ocpi(server, "GET", "/ocpi/2.2.1", Some(&token(token_c)), None).await;
    assert!(
        details["data"]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["identifier"] == identifier && e["role"] == role),
        "{label}: {details}"
    );
}

/// Creates tariff T1 (0.25/kWh and 1.00 per session, 20 % VAT); returns the HTTP status and
/// body.
pub async fn create_tariff_t1(server: &TestServer) -> (u16, Value) {
    server
        .api(
            "POST",
            "/api/tariffs",
            Some(json!({
                "id": "T1", "currency": "EUR",
                "elements": [{"price_components": [
                    {"type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1},
                    {"type": "FLAT", "price": 1.00, "vat": 20.0, "step_size": 1}
                ]}]
            })),
        )
        .await
        .unwrap()
}

/// Connector 1 of an EVSE: a Type 2 socket priced by tariff T1.
pub fn t1_connector() -> Value {
    json!({"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
        "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32,
        "tariff_ids": ["T1"]})
}

/// Creates Location `location` (Central, Amsterdam) and PUTs its EVSE `evse_uid` as `evse`
/// (which names the station and its EVSE id); both must be new.
pub async fn map_location(server: &TestServer, location: &str, evse_uid: &str, evse: Value) {
    let (status, body) = server
        .api(
            "POST",
            "/api/locations",
            Some(json!({
                "id": location, "name": "Central", "address": "Stationsplein 1",
                "city": "Amsterdam", "country": "NLD",
                "coordinates": {"latitude": "52.378900", "longitude": "4.900160"},
                "time_zone": "Europe/Amsterdam",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .api(
            "PUT",
            &format!("/api/locations/{location}/evses/{evse_uid}"),
            Some(evse),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
}

/// Location `location` with EVSE `evse_uid` = EVSE 1 of `station`.
pub async fn map_evse(server: &TestServer, location: &str, evse_uid: &str, station: &str) {
    map_location(
        server,
        location,
        evse_uid,
        json!({"station_id": station, "evse_id": 1}),
    )
    .await;
}

/// A booted 1.6 charger `station`.
pub async fn booted(server: &TestServer, station: &str) -> crate::common::Charger {
    let mut cs = server.connect(station).await.unwrap();
    cs.boot().await.unwrap();
    cs
}

/// A booted 2.0.1 charger `station`.
pub async fn booted201(server: &TestServer, station: &str) -> crate::common::Charger {
    let mut cs = server.connect_v201(station).await.unwrap();
    cs.boot201().await.unwrap();
    cs
}

/// The 1.6 charger `cs` sends an energy register reading of `wh` for transaction `tx`.
pub async fn meter(cs: &mut crate::common::Charger, tx: i64, wh: i64) {
    cs.call(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": crate::common::now(),
            "sampledValue": [{"value": wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}),
    )
    .await
    .unwrap();
}

/// The ids in an OCPI list answer's `data`.
pub fn listed_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

impl CdrEmsp {
    /// Waits until a CDR POST was answered with success.
    pub async fn wait_delivered(&self, what: &str) {
        self.wait_posts(what, |p| p.iter().any(|(_, ok)| *ok)).await;
    }

    /// Waits until a credit CDR POST was answered with success.
    pub async fn wait_credit(&self) {
        self.wait_posts("the credit CDR", |p| {
            p.iter().any(|(c, ok)| *ok && c["credit"] == true)
        })
        .await;
    }
}

/// An OCPI GET with token C `token_c`; returns status, headers and JSON body.
pub async fn ocpi_get(server: &TestServer, token_c: &str, path: &str) -> (u16, ReqHeaders, Value) {
    ocpi(server, "GET", path, Some(&token(token_c)), None).await
}

/// A 2.0.1 IdTokenType for an RFID card.
pub fn rfid(uid: &str) -> Value {
    json!({"idToken": uid, "type": "ISO14443"})
}

/// The 2.0.1 charger `cs` starts transaction `tx_id` on EVSE 1 at `at`, authorized by RFID card
/// `uid`, at `wh` Wh; returns the CSMS's answer.
pub async fn start201(
    cs: &mut crate::common::Charger,
    tx_id: &str,
    at: &str,
    wh: i64,
    uid: &str,
) -> Value {
    cs.tx_event(
        "Started",
        tx_id,
        0,
        at,
        "Authorized",
        Some(wh),
        json!({"idToken": rfid(uid), "evse": {"id": 1, "connectorId": 1}}),
    )
    .await
    .unwrap()
}

/// The 2.0.1 charger `cs` reports `wh` Wh for transaction `tx_id` periodically (event `seq`).
pub async fn meter201(cs: &mut crate::common::Charger, tx_id: &str, seq: i64, at: &str, wh: i64) {
    cs.tx_event(
        "Updated",
        tx_id,
        seq,
        at,
        "MeterValuePeriodic",
        Some(wh),
        json!({}),
    )
    .await
    .unwrap();
}

/// The 2.0.1 charger `cs` ends transaction `tx_id` locally at `wh` Wh (event `seq`).
pub async fn end201(cs: &mut crate::common::Charger, tx_id: &str, seq: i64, at: &str, wh: i64) {
    cs.tx_event(
        "Ended",
        tx_id,
        seq,
        at,
        "StopAuthorized",
        Some(wh),
        json!({"transactionInfo": {"stoppedReason": "Local"}}),
    )
    .await
    .unwrap();
}

/// A booted 1.6 charger `station` as EVSE E1 of Location `location`.
pub async fn booted_at(
    server: &TestServer,
    station: &str,
    location: &str,
) -> crate::common::Charger {
    let cs = booted(server, station).await;
    map_evse(server, location, "E1", station).await;
    cs
}

/// A booted 2.0.1 charger `station` as EVSE E1 of Location `location`.
pub async fn booted201_at(
    server: &TestServer,
    station: &str,
    location: &str,
) -> crate::common::Charger {
    let cs = booted201(server, station).await;
    map_evse(server, location, "E1", station).await;
    cs
}
