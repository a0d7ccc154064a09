//! Websocket keepalive: the CPMS pings every station, and a station that stops answering (no pong,
//! no message for two ping intervals) is disconnected even though TCP never noticed.

mod common;

use common::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_cpms_pings_and_drops_a_station_that_stops_answering() {
    let db = sqlite();
    let mut s = settings(&db);
    s.ocpp.ping_interval = 1;
    let server = TestServer::start(&s).await.unwrap();
    let mut cp = server.connect("CP-PING").await.unwrap();
    cp.boot().await.unwrap();

    // While the station reads, it sees pings (and its client library answers them).
    let ping = tokio::time::timeout(WAIT, async {
        loop {
            match cp.ws.next().await {
                Some(Ok(Message::Ping(_))) => return true,
                Some(Ok(_)) => continue,
                _ => return false,
            }
        }
    })
    .await
    .expect("a ping within the wait");
    assert!(ping, "connection ended before a ping");
    // Answering pings keeps it connected past two intervals: the operator still sees it.
    cp.call("Heartbeat", serde_json::json!({})).await.unwrap();
    server.wait_connected("CP-PING", true).await.unwrap();

    // Now the station goes silent: it stops reading, so no pong goes back. The CPMS gives up
    // after two intervals and the operator sees it disconnected.
    server.wait_connected("CP-PING", false).await.unwrap();
    // When the station reads again the connection is over. (Whether it still sees the 1001 close
    // frame depends on its client: tungstenite first tries to answer the queued pings on the
    // already-closed socket and reports that error instead.)
    cp.closed().await.expect("connection ends");
    server.stop().await;
}
