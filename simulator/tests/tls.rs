//! Security profile 2 as the simulator meets it: `wss://` to the cpms TLS listener, trusting a
//! private CA from a PEM file, with Basic auth.

mod common;

use std::time::Duration;

use common::{databases, Cpms, WAIT};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;
use simulator::fleet::{tls_config, Fleet, FleetOptions, ProtocolChoice};
use simulator::plan::Behaviour;

/// Writes a CA and a server certificate for localhost signed by it into `dir`.
fn pki(dir: &std::path::Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Simulator Test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "cpms.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
}

#[tokio::test]
async fn a_station_connects_over_tls_with_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(dir.path());
    for db in databases().await {
        let cpms = Cpms::start_with(&db, |s| {
            s.ocpp.tls.listen = "127.0.0.1:0".into();
            s.ocpp.tls.cert_file = Some(dir.path().join("server.pem"));
            s.ocpp.tls.key_file = Some(dir.path().join("server.key"));
        })
        .await
        .expect("cpms starts");
        cpms.add_station(
            json!({"id": "SIM-TLS-1", "password": "sim-password-0001", "security_profile": 2}),
        )
        .await;
        let port = cpms.server.ocpp_tls_addr.expect("TLS listener").port();
        let options = FleetOptions {
            url: format!("wss://localhost:{port}/ocpp"),
            id_pattern: "SIM-TLS-{n}".into(),
            first: 1,
            stations: 1,
            evses: 1,
            connectors_per_evse: 1,
            protocol: ProtocolChoice::V201,
            password: Some("sim-password-0001".into()),
            tls: Some(tls_config(Some(&dir.path().join("ca.pem"))).expect("tls config")),
            ramp_per_s: 0.0,
            speed: 1.0,
        };
        let fleet = Fleet::start(&options, &Behaviour::default(), None).expect("fleet");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, station) = cpms
                .api("GET", "/api/stations/SIM-TLS-1", None)
                .await
                .expect("api");
            let reported = station["connectors"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["status"] == "Available"));
            if station["connected"] == json!(true) && reported {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "[{}] not connected over TLS: {station} {:?}",
                db.label,
                fleet.metrics.notes()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        fleet.stop(Duration::from_secs(5)).await;
        cpms.stop().await;
    }
}
