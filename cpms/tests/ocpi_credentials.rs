//! OCPI 2.2.1 platform layer as an eMSP meets it: the credentials handshake in both directions
//! against a test eMSP (a small axum server on loopback), the transport envelope and headers,
//! token checks, and the partner-URL policy. Storage-touching tests run on SQLite and (when
//! configured) PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use common::*;
use serde_json::{json, Value};

fn b64(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(token)
}

/// What the test eMSP saw and will accept.
#[derive(Default)]
struct EmspState {
    /// Tokens the eMSP accepts (raw).
    valid: Vec<String>,
    /// (method, path, Authorization) of each request it received.
    seen: Vec<(String, String, String)>,
    /// The CPMS's HTTP address, for calling it back during a registration we initiate.
    cpms: Option<SocketAddr>,
    /// The credentials the CPMS POSTed to it.
    received: Option<Value>,
    /// Status the eMSP got from the CPMS's versions endpoint with the CPMS's token B.
    callback_status: Option<u16>,
}

/// A test eMSP with versions, version details and credentials endpoints.
struct Emsp {
    addr: SocketAddr,
    state: Arc<Mutex<EmspState>>,
}

fn envelope(data: Value) -> Json<Value> {
    Json(json!({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}))
}

/// The token of a `Token <base64>` header, if the eMSP accepts it.
fn check(state: &Arc<Mutex<EmspState>>, method: &str, path: &str, headers: &HeaderMap) -> bool {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut s = state.lock().unwrap();
    s.seen.push((method.into(), path.into(), auth.clone()));
    s.valid.iter().any(|t| auth == format!("Token {}", b64(t)))
}

const EMSP_TOKEN_C: &str = "emsp-issued-token-c";

impl Emsp {
    async fn start() -> Emsp {
        let state = Arc::new(Mutex::new(EmspState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/emsp");
        let versions_base = base.clone();
        let app = Router::new()
            .route(
                "/emsp/versions",
                get(
                    move |State(s): State<Arc<Mutex<EmspState>>>, h: HeaderMap| async move {
                        if !check(&s, "GET", "/emsp/versions", &h) {
                            return (StatusCode::UNAUTHORIZED, envelope(Value::Null));
                        }
                        (
                            StatusCode::OK,
                            envelope(
                                json!([{"version": "2.2.1", "url": format!("{versions_base}/2.2.1")}]),
                            ),
                        )
                    },
                ),
            )
            .route(
                "/emsp/2.2.1",
                get(
                    move |State(s): State<Arc<Mutex<EmspState>>>, h: HeaderMap| async move {
                        if !check(&s, "GET", "/emsp/2.2.1", &h) {
                            return (StatusCode::UNAUTHORIZED, envelope(Value::Null));
                        }
                        (
                            StatusCode::OK,
                            envelope(json!({"version": "2.2.1", "endpoints": [
                                {"identifier": "credentials", "role": "SENDER", "url": format!("{base}/2.2.1/credentials")},
                                {"identifier": "tokens", "role": "SENDER", "url": format!("{base}/2.2.1/tokens")},
                            ]})),
                        )
                    },
                ),
            )
            .route(
                "/emsp/2.2.1/credentials",
                axum::routing::post(
                    |State(s): State<Arc<Mutex<EmspState>>>, h: HeaderMap, Json(body): Json<Value>| async move {
                        if !check(&s, "POST", "/emsp/2.2.1/credentials", &h) {
                            return (StatusCode::UNAUTHORIZED, envelope(Value::Null));
                        }
                        // As the Receiver: use the CPMS's token B on its versions endpoint
                        // before answering (Credentials: Registration).
                        let token_b = body["token"].as_str().unwrap_or_default().to_owned();
                        let cpms = s.lock().unwrap().cpms.expect("cpms address");
                        let status = reqwest::Client::new()
                            .get(format!("http://{cpms}/ocpi/versions"))
                            .header("Authorization", format!("Token {}", b64(&token_b)))
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .ok();
                        {
                            let mut st = s.lock().unwrap();
                            st.received = Some(body);
                            st.callback_status = status;
                        }
                        (
                            StatusCode::OK,
                            envelope(json!({
                                "token": EMSP_TOKEN_C,
                                "url": "https://emsp.example/ocpi/versions",
                                "roles": [emsp_role()],
                            })),
                        )
                    },
                ),
            )
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Emsp { addr, state }
    }

    fn versions_url(&self) -> String {
        format!("http://{}/emsp/versions", self.addr)
    }

    fn accept(&self, token: &str) {
        self.state.lock().unwrap().valid.push(token.into());
    }

    fn seen(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn emsp_role() -> Value {
    json!({"role": "EMSP", "party_id": "EMS", "country_code": "DE",
           "business_details": {"name": "Test eMSP", "website": "https://emsp.example"}})
}

fn emsp_credentials(token: &str, url: &str) -> Value {
    json!({"token": token, "url": url, "roles": [emsp_role()]})
}

/// An OCPI request to the CPMS with a raw `Authorization` value; returns status, headers, body.
async fn ocpi(
    server: &TestServer,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
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

fn token(t: &str) -> String {
    format!("Token {}", b64(t))
}

async fn test_server(db: &TestDb, allow_private: bool) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = allow_private;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.business_name = "Test CPO".into();
    TestServer::start(&s).await.unwrap()
}

async fn partners(server: &TestServer) -> Vec<Value> {
    let (status, body) = server.api("GET", "/api/ocpi/partners", None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_emsp_registers_with_token_a_rotates_and_unregisters() {
    for db in databases().await {
        let server = test_server(&db, true).await;
        let emsp = Emsp::start().await;
        let label = db.label;

        let (status, created) = server
            .api(
                "POST",
                "/api/ocpi/partners",
                Some(json!({"name": "Test eMSP"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{label}: {created}");
        let token_a = created["token"].as_str().unwrap().to_owned();
        assert!(created["versions_url"]
            .as_str()
            .unwrap()
            .ends_with("/ocpi/versions"));
        assert_eq!(created["partner"]["status"], "PENDING");

        // Token A opens versions and details.
        let (status, _, versions) = ocpi(
            &server,
            "GET",
            "/ocpi/versions",
            Some(&token(&token_a)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{label}: {versions}");
        assert_eq!(versions["data"][0]["version"], "2.2.1");
        let (_, _, details) =
            ocpi(&server, "GET", "/ocpi/2.2.1", Some(&token(&token_a)), None).await;
        // Modules add themselves to the list; credentials is always there.
        assert!(
            details["data"]["endpoints"]
                .as_array()
                .unwrap()
                .contains(&json!({"identifier": "credentials", "role": "SENDER",
                    "url": "http://localhost:8080/ocpi/2.2.1/credentials"})),
            "{label}: {details}"
        );

        // Registration: POST with token A and the eMSP's token B.
        let token_b = "emsp-token-b";
        emsp.accept(token_b);
        let body = emsp_credentials(token_b, &emsp.versions_url());
        let (status, _, answer) = ocpi(
            &server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 200, "{label}: {answer}");
        assert_eq!(answer["status_code"], 1000);
        let token_c = answer["data"]["token"].as_str().unwrap().to_owned();
        assert_ne!(token_c, token_a);
        assert_eq!(answer["data"]["roles"][0]["role"], "CPO");
        assert_eq!(answer["data"]["roles"][0]["party_id"], "CPO");
        assert_eq!(answer["data"]["roles"][0]["country_code"], "NL");
        assert_eq!(
            answer["data"]["roles"][0]["business_details"]["name"],
            "Test CPO"
        );
        assert!(answer["data"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/ocpi/versions"));

        // The CPMS fetched the eMSP's versions and details with token B, Base64-encoded.
        let seen = emsp.seen();
        let expected_auth = format!("Token {}", b64(token_b));
        assert!(
            seen.iter()
                .any(|(m, p, a)| m == "GET" && p == "/emsp/versions" && *a == expected_auth),
            "{label}: {seen:?}"
        );
        assert!(seen
            .iter()
            .any(|(_, p, a)| p == "/emsp/2.2.1" && *a == expected_auth));

        let listed = partners(&server).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["status"], "REGISTERED");
        assert_eq!(listed[0]["country_code"], "DE");
        assert_eq!(listed[0]["party_id"], "EMS");
        assert_eq!(
            listed[0]["roles"][0]["business_details"]["name"],
            "Test eMSP"
        );
        assert_eq!(listed[0]["endpoints"][1]["identifier"], "tokens");
        assert!(
            !listed[0].to_string().contains(token_b),
            "no token in clear"
        );

        // Token A is spent; C works.
        for path in ["/ocpi/versions", "/ocpi/2.2.1/credentials"] {
            let (status, _, body) = ocpi(&server, "GET", path, Some(&token(&token_a)), None).await;
            assert_eq!(status, 401, "{label}: {path} {body}");
            assert_eq!(body["status_code"], 2000);
        }
        let (status, _, mine) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{label}: {mine}");
        assert_eq!(mine["data"]["token"], token_c.as_str());

        // A second POST is 405, in the envelope.
        let (status, _, again) = ocpi(
            &server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c)),
            Some(body),
        )
        .await;
        assert_eq!(status, 405, "{label}: {again}");
        assert_eq!(again["status_code"], 2000);
        assert!(again["timestamp"].is_string());

        // PUT: endpoints fetched again with the new token, C rotated.
        let token_b2 = "emsp-token-b2";
        emsp.accept(token_b2);
        let before = emsp.seen().len();
        let (status, _, rotated) = ocpi(
            &server,
            "PUT",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c)),
            Some(emsp_credentials(token_b2, &emsp.versions_url())),
        )
        .await;
        assert_eq!(status, 200, "{label}: {rotated}");
        let token_c2 = rotated["data"]["token"].as_str().unwrap().to_owned();
        assert_ne!(token_c2, token_c);
        assert!(emsp.seen()[before..]
            .iter()
            .any(|(_, p, a)| p == "/emsp/versions" && *a == format!("Token {}", b64(token_b2))));
        let (status, _, _) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c)),
            None,
        )
        .await;
        assert_eq!(status, 401, "{label}: old C refused");
        let (status, _, _) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c2)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{label}: new C accepted");

        // DELETE unregisters; C is refused afterwards.
        let (status, _, deleted) = ocpi(
            &server,
            "DELETE",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c2)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{label}: {deleted}");
        assert_eq!(deleted["status_code"], 1000);
        let (status, _, _) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_c2)),
            None,
        )
        .await;
        assert_eq!(status, 401, "{label}: C after DELETE");
        assert_eq!(partners(&server).await[0]["status"], "UNREGISTERED");

        server.stop().await;
    }
}

#[tokio::test]
async fn put_and_delete_before_registration_are_405() {
    let db = sqlite();
    let server = test_server(&db, true).await;
    let (_, created) = server
        .api("POST", "/api/ocpi/partners", None)
        .await
        .unwrap();
    let token_a = created["token"].as_str().unwrap().to_owned();
    let (status, _, body) = ocpi(
        &server,
        "PUT",
        "/ocpi/2.2.1/credentials",
        Some(&token(&token_a)),
        Some(emsp_credentials("x", "http://127.0.0.1:1/")),
    )
    .await;
    assert_eq!((status, body["status_code"].clone()), (405, json!(2000)));
    let (status, _, _) = ocpi(
        &server,
        "DELETE",
        "/ocpi/2.2.1/credentials",
        Some(&token(&token_a)),
        None,
    )
    .await;
    assert_eq!(status, 405);
    server.stop().await;
}

#[tokio::test]
async fn the_cpms_registers_with_an_emsp() {
    for db in databases().await {
        let server = test_server(&db, true).await;
        let emsp = Emsp::start().await;
        let label = db.label;
        let emsp_token_a = "emsp-issued-token-a";
        emsp.accept(emsp_token_a);
        emsp.accept(EMSP_TOKEN_C);
        emsp.state.lock().unwrap().cpms = Some(server.server.http_addr);

        let (status, partner) = server
            .api(
                "POST",
                "/api/ocpi/partners/register",
                Some(json!({"versions_url": emsp.versions_url(), "token": emsp_token_a})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{label}: {partner}");
        assert_eq!(partner["status"], "REGISTERED");
        assert_eq!(partner["party_id"], "EMS");
        assert_eq!(partner["version"], "2.2.1");

        // The CPMS used token A for versions, details and the POST, and sent its own token B.
        let seen = emsp.seen();
        assert!(
            seen.iter()
                .all(|(_, _, a)| *a == format!("Token {}", b64(emsp_token_a))),
            "{seen:?}"
        );
        assert_eq!(
            seen.iter()
                .map(|(m, p, _)| format!("{m} {p}"))
                .collect::<Vec<_>>(),
            [
                "GET /emsp/versions",
                "GET /emsp/2.2.1",
                "POST /emsp/2.2.1/credentials"
            ]
        );
        let (received, callback) = {
            let s = emsp.state.lock().unwrap();
            (s.received.clone().unwrap(), s.callback_status)
        };
        // Token B already worked on our versions endpoint while the eMSP answered.
        assert_eq!(callback, Some(200), "{label}");
        let token_b = received["token"].as_str().unwrap().to_owned();
        assert_ne!(token_b, emsp_token_a);
        assert_eq!(received["roles"][0]["role"], "CPO");

        // Token B is now the eMSP's registered token: credentials GET works, POST is 405.
        let (status, _, mine) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_b)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{label}: {mine}");
        let (status, _, _) = ocpi(
            &server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_b)),
            Some(emsp_credentials("y", &emsp.versions_url())),
        )
        .await;
        assert_eq!(status, 405);
        let listed = partners(&server).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["status"], "REGISTERED");

        server.stop().await;
    }
}

#[tokio::test]
async fn the_transport_envelope_headers_and_token_checks() {
    let db = sqlite();
    let server = test_server(&db, true).await;
    let (_, created) = server
        .api("POST", "/api/ocpi/partners", None)
        .await
        .unwrap();
    let token_a = created["token"].as_str().unwrap().to_owned();

    // Envelope shape, and the message ids echoed.
    let resp = server
        .http
        .get(server.api_url("/ocpi/versions"))
        .header("Authorization", token(&token_a))
        .header("X-Request-ID", "req-1")
        .header("X-Correlation-ID", "corr-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-1");
    assert_eq!(resp.headers()["x-correlation-id"], "corr-1");
    let body: Value = resp.json().await.unwrap();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["data", "status_code", "status_message", "timestamp"]);
    assert_eq!(body["status_code"], 1000);
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());

    // Without ids, fresh ones are generated.
    let (_, headers, _) = ocpi(
        &server,
        "GET",
        "/ocpi/versions",
        Some(&token(&token_a)),
        None,
    )
    .await;
    assert!(!headers["x-request-id"].is_empty());
    assert!(!headers["x-correlation-id"].is_empty());

    // The raw token, as many peers send it, is accepted too.
    let (status, _, _) = ocpi(
        &server,
        "GET",
        "/ocpi/versions",
        Some(&format!("Token {token_a}")),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Missing, unknown or wrong-scheme tokens: HTTP 401, OCPI 2000, ids still echoed.
    for auth in [
        None,
        Some("Token bm9wZQ=="),
        Some("Token nope"),
        Some("Bearer x"),
    ] {
        let (status, headers, body) = ocpi(&server, "GET", "/ocpi/2.2.1", auth, None).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(body["status_code"], 2000, "{auth:?}");
        assert!(body["status_message"].is_string());
        assert!(headers.contains_key("x-request-id"));
    }

    // A credentials body that is not JSON: HTTP 400, 2001.
    let resp = server
        .http
        .post(server.api_url("/ocpi/2.2.1/credentials"))
        .header("Authorization", token(&token_a))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status_code"], 2001);

    // Unknown OCPI paths answer in the envelope too.
    let (status, _, body) = ocpi(
        &server,
        "GET",
        "/ocpi/2.2.1/nothing",
        Some(&token(&token_a)),
        None,
    )
    .await;
    assert_eq!((status, body["status_code"].clone()), (404, json!(2000)));

    // The operator routes need the bearer token.
    let (status, _) = server
        .api_raw("GET", "/api/ocpi/partners", None, Auth::None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn loopback_partner_urls_are_refused_without_the_allow_flag() {
    for db in databases().await {
        let server = test_server(&db, false).await;
        let emsp = Emsp::start().await;
        emsp.accept("emsp-issued-token-a");
        let label = db.label;
        let https_loopback = format!("https://{}/emsp/versions", emsp.addr);

        // We initiate: refused before any request, with a clear error.
        for url in [emsp.versions_url(), https_loopback.clone()] {
            let (status, body) = server
                .api(
                    "POST",
                    "/api/ocpi/partners/register",
                    Some(json!({"versions_url": url, "token": "emsp-issued-token-a"})),
                )
                .await
                .unwrap();
            assert_eq!(status, 422, "{label}: {body}");
            assert_eq!(body["error"], "partner_url_refused");
        }
        let (_, body) = server
            .api(
                "POST",
                "/api/ocpi/partners/register",
                Some(json!({"versions_url": https_loopback, "token": "t"})),
            )
            .await
            .unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("non-public address 127.0.0.1"),
            "{body}"
        );

        // The eMSP initiates with a loopback URL: OCPI 3001, partner stays pending.
        let (_, created) = server
            .api("POST", "/api/ocpi/partners", None)
            .await
            .unwrap();
        let token_a = created["token"].as_str().unwrap().to_owned();
        emsp.accept("emsp-token-b");
        let (status, _, answer) = ocpi(
            &server,
            "POST",
            "/ocpi/2.2.1/credentials",
            Some(&token(&token_a)),
            Some(emsp_credentials("emsp-token-b", &https_loopback)),
        )
        .await;
        assert_eq!(status, 200, "{label}: {answer}");
        assert_eq!(answer["status_code"], 3001);
        assert!(
            answer["status_message"]
                .as_str()
                .unwrap()
                .contains("non-public"),
            "{answer}"
        );

        assert!(
            emsp.seen().is_empty(),
            "{label}: the eMSP was called: {:?}",
            emsp.seen()
        );
        let listed = partners(&server).await;
        assert_eq!(
            listed.len(),
            1,
            "{label}: no partner left from the refused registration"
        );
        assert_eq!(listed[0]["status"], "PENDING");
        server.stop().await;
    }
}
