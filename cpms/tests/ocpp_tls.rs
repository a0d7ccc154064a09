//! OCPP security profiles 2 and 3 as a charger meets them: the `wss://` listener, Basic auth over
//! TLS, client certificates that must chain to the CA and name the station, and stations whose
//! profile forbids plain `ws://`. Certificates are made here with rcgen; the chargers are real TLS
//! websockets (tokio-tungstenite with rustls).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio_tungstenite::Connector;

/// A certificate authority made for one test.
struct Ca {
    cert: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate signed by this CA: (certificate, key).
    fn issue(
        &self,
        common_name: &str,
        alt_names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (rcgen::Certificate, KeyPair) {
        let names: Vec<String> = alt_names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }

    /// A station's client certificate (subject CN = station id) with its key, for rustls.
    fn station_identity(
        &self,
        station_id: &str,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let (cert, key) = self.issue(station_id, &[], ExtendedKeyUsagePurpose::ClientAuth);
        (
            vec![cert.der().clone()],
            PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
    }
}

/// The PKI of a test: the CA, the server's certificate files, and the server's settings.
struct Pki {
    ca: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let ca = Ca::new("Test CPMS CA");
        let dir = tempfile::tempdir().unwrap();
        let (server_cert, server_key) = ca.issue(
            "cpms.test",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        std::fs::write(dir.path().join("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
        Pki { ca, dir }
    }

    fn file(&self, name: &str) -> Option<PathBuf> {
        Some(self.dir.path().join(name))
    }

    /// Test settings with the TLS listener on loopback, port 0, verifying client certificates.
    fn settings(&self, db: &TestDb) -> cpms::config::Settings {
        let mut s = settings(db);
        s.ocpp.tls.listen = "127.0.0.1:0".into();
        s.ocpp.tls.cert_file = self.file("server.pem");
        s.ocpp.tls.key_file = self.file("server.key");
        s.ocpp.tls.client_ca_file = self.file("ca.pem");
        s
    }

    /// A charger's TLS settings: trusts the CA, presents `identity` when given.
    fn connector(
        &self,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Connector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.cert.clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        Connector::Rustls(Arc::new(config))
    }
}

fn wss_url(server: &TestServer, station_id: &str) -> String {
    let addr = server.server.ocpp_tls_addr.expect("TLS listener running");
    format!("wss://{addr}/ocpp/{station_id}")
}

async fn create_station(server: &TestServer, body: serde_json::Value) {
    let (status, created) = server
        .api("POST", "/api/stations", Some(body.clone()))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body} -> {created}");
    assert_eq!(
        created["security_profile"], body["security_profile"],
        "{created}"
    );
}

/// The HTTP status of a refused websocket handshake (panics if the charger was let in).
async fn refused(
    url: &str,
    basic: Option<(&str, &str)>,
    connector: Option<Connector>,
) -> Option<u16> {
    let err = Charger::try_connect_with(url, &["ocpp1.6"], basic, connector)
        .await
        .err()
        .unwrap_or_else(|| panic!("{url} with {basic:?} was let in"));
    handshake_status(&err)
}

#[tokio::test]
async fn profile_2_connects_over_tls_with_its_password_and_never_over_plain_ws() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    create_station(
        &server,
        json!({"id": "CP-P2", "password": "tls-secret-1", "security_profile": 2}),
    )
    .await;
    let url = wss_url(&server, "CP-P2");

    assert_eq!(
        refused(&url, Some(("CP-P2", "wrong")), Some(pki.connector(None))).await,
        Some(401),
        "wrong password over TLS"
    );
    assert_eq!(
        refused(&url, None, Some(pki.connector(None))).await,
        Some(401),
        "no password over TLS"
    );
    assert_eq!(
        refused(
            &server.ws_url("CP-P2"),
            Some(("CP-P2", "tls-secret-1")),
            None
        )
        .await,
        Some(401),
        "the right password over plain ws"
    );

    let mut cp = Charger::try_connect_with(
        &url,
        &["ocpp1.6"],
        Some(("CP-P2", "tls-secret-1")),
        Some(pki.connector(None)),
    )
    .await
    .unwrap();
    assert_eq!(cp.subprotocol.as_deref(), Some("ocpp1.6"));
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    let (_, station) = server
        .api("GET", "/api/stations/CP-P2", None)
        .await
        .unwrap();
    assert_eq!(station["security_profile"], 2, "{station}");
    assert_eq!(station["connected"], true, "{station}");

    // Profile 2 is Basic auth over TLS: a station set to it without a password is not let in.
    create_station(&server, json!({"id": "CP-P2-NOPW", "security_profile": 2})).await;
    assert_eq!(
        refused(
            &wss_url(&server, "CP-P2-NOPW"),
            Some(("CP-P2-NOPW", "anything")),
            Some(pki.connector(None))
        )
        .await,
        Some(401),
        "profile 2 without a stored password"
    );
    server.stop().await;
}

#[tokio::test]
async fn profile_3_connects_only_with_its_own_client_certificate_over_tls() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    create_station(&server, json!({"id": "CP-P3", "security_profile": 3})).await;
    create_station(&server, json!({"id": "CP-OTHER", "security_profile": 3})).await;
    let url = wss_url(&server, "CP-P3");

    // A valid certificate from the right CA, but for another station.
    let other = pki.ca.station_identity("CP-OTHER");
    assert_eq!(
        refused(&url, None, Some(pki.connector(Some(other)))).await,
        Some(401),
        "another station's certificate"
    );
    assert_eq!(
        refused(&url, None, Some(pki.connector(None))).await,
        Some(401),
        "no client certificate"
    );
    assert_eq!(
        refused(&server.ws_url("CP-P3"), None, None).await,
        Some(401),
        "plain ws"
    );

    let own = pki.ca.station_identity("CP-P3");
    let mut cp =
        Charger::try_connect_with(&url, &["ocpp1.6"], None, Some(pki.connector(Some(own))))
            .await
            .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    let hb = cp.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn profile_1_stations_still_connect_over_plain_ws_and_the_profile_can_be_raised() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    let (status, created) = server
        .api(
            "POST",
            "/api/stations",
            Some(json!({"id": "CP-P1", "password": "plain-secret"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["security_profile"], 1, "the default is profile 1");

    let mut cp = Charger::connect(
        &server.ws_url("CP-P1"),
        &["ocpp1.6"],
        Some(("CP-P1", "plain-secret")),
    )
    .await
    .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    cp.close().await.unwrap();
    server.wait_connected("CP-P1", false).await.unwrap();

    let (status, body) = server
        .api(
            "PATCH",
            "/api/stations/CP-P1",
            Some(json!({"security_profile": 4})),
        )
        .await
        .unwrap();
    assert!((400..500).contains(&status), "profile 4: {status} {body}");

    let (status, updated) = server
        .api(
            "PATCH",
            "/api/stations/CP-P1",
            Some(json!({"security_profile": 2})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["security_profile"], 2);
    assert_eq!(
        refused(
            &server.ws_url("CP-P1"),
            Some(("CP-P1", "plain-secret")),
            None
        )
        .await,
        Some(401),
        "plain ws after the station was raised to profile 2"
    );
    let mut cp = Charger::try_connect_with(
        &wss_url(&server, "CP-P1"),
        &["ocpp1.6"],
        Some(("CP-P1", "plain-secret")),
        Some(pki.connector(None)),
    )
    .await
    .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    server.stop().await;
}

#[tokio::test]
async fn unknown_stations_follow_the_policy_over_tls_too() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    let mut cp = Charger::try_connect_with(
        &wss_url(&server, "CP-NEW-TLS"),
        &["ocpp1.6"],
        None,
        Some(pki.connector(None)),
    )
    .await
    .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    let (_, station) = server
        .api("GET", "/api/stations/CP-NEW-TLS", None)
        .await
        .unwrap();
    assert_eq!(station["security_profile"], 1, "{station}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_fails_the_tls_handshake_and_the_listener_goes_on() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    create_station(&server, json!({"id": "CP-P3", "security_profile": 3})).await;
    let url = wss_url(&server, "CP-P3");

    let rogue = Ca::new("Rogue CA").station_identity("CP-P3");
    let err = Charger::try_connect_with(&url, &["ocpp1.6"], None, Some(pki.connector(Some(rogue))))
        .await
        .err()
        .expect("a certificate from an unknown CA was let in");
    // Refused by TLS itself: no HTTP answer at all, only an alert.
    assert_eq!(handshake_status(&err), None, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("alert"),
        "expected a TLS alert, got {err}"
    );

    // A client that opens TCP and never starts its handshake does not hold up the others.
    let silent = tokio::net::TcpStream::connect(server.server.ocpp_tls_addr.unwrap())
        .await
        .unwrap();

    // Well within the server's handshake timeout, so the silent client cannot be what let it go.
    let own = pki.ca.station_identity("CP-P3");
    let mut cp = tokio::time::timeout(
        ocpp_gateway::tls::HANDSHAKE_TIMEOUT / 2,
        Charger::try_connect_with(&url, &["ocpp1.6"], None, Some(pki.connector(Some(own)))),
    )
    .await
    .expect("the TLS listener stalled behind a silent client")
    .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn a_half_configured_or_unreadable_tls_listener_stops_the_start_up() {
    let pki = Pki::new();
    let db = sqlite();
    let mut without_key = pki.settings(&db);
    without_key.ocpp.tls.key_file = None;
    let mut missing_file = pki.settings(&db);
    missing_file.ocpp.tls.cert_file = pki.file("nowhere.pem");
    for (case, settings) in [("no key", without_key), ("missing file", missing_file)] {
        match cpms::Server::start(&settings).await {
            Err(e) => assert!(e.to_string().contains("ocpp.tls"), "{case}: {e}"),
            Ok(server) => panic!("{case}: started with TLS on {:?}", server.ocpp_tls_addr),
        }
    }
}

#[tokio::test]
async fn ocpp_2_0_1_stations_use_the_same_tls_listener_and_profiles() {
    let pki = Pki::new();
    let db = sqlite();
    let server = TestServer::start(&pki.settings(&db)).await.unwrap();
    create_station(&server, json!({"id": "CS-201", "security_profile": 3})).await;
    let url = wss_url(&server, "CS-201");

    assert_eq!(
        Charger::try_connect_with(&server.ws_url("CS-201"), &["ocpp2.0.1"], None, None)
            .await
            .err()
            .as_ref()
            .and_then(handshake_status),
        Some(401),
        "plain ws for a profile-3 station speaking 2.0.1"
    );
    let own = pki.ca.station_identity("CS-201");
    let mut cs =
        Charger::try_connect_with(&url, &["ocpp2.0.1"], None, Some(pki.connector(Some(own))))
            .await
            .unwrap();
    assert_eq!(cs.subprotocol.as_deref(), Some("ocpp2.0.1"));
    let boot = cs
        .call(
            "BootNotification",
            json!({"reason": "PowerUp", "chargingStation": {"model": "T2", "vendorName": "TestVendor"}}),
        )
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "{boot}");
    server.stop().await;
}
