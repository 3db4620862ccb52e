//! The envelope an event is stored under when the sender names no host: the event's own host,
//! unless that is too long to be an envelope's, when the event is stored all the same.

use vigil_events::batch::BodyFormat;
use vigil_events::time::LocalZone;
use vigil_ingest::Envelope;

use crate::support::Harness;

fn nginx() -> Envelope {
    Envelope {
        service: "nginxjson".into(),
        host: String::new(),
        tenant: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_own_host_is_too_long_for_the_envelope_is_stored_without_it() {
    let h = Harness::new().await;
    let long = format!("{}.example.com", "a".repeat(300));
    // A JSON access log writing the client's Host header, and Windows and syslog-style keys.
    let body = format!(
        "{{\"remote_addr\":\"198.51.100.66\",\"request\":\"GET /admin/exploit HTTP/1.1\",\"status\":200,\"host\":\"{long}\"}}\n\
         {{\"n\":2,\"hostname\":\"{long}\"}}\n\
         {{\"n\":3,\"Computer\":\"{long}\"}}\n\
         {{\"n\":4,\"host\":\"web-1\"}}\n"
    );
    let report = h
        .ingestor
        .ingest_body(body.into_bytes(), BodyFormat::JsonLines, nginx(), None)
        .await
        .expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.stored.len(), 4);
    let events = h.search("service:nginxjson");
    assert_eq!(events.len(), 4);
    for e in &events {
        let json: serde_json::Value = serde_json::from_str(&e.json).unwrap();
        let expected = if json["n"] == 4 { "web-1" } else { "" };
        assert_eq!(e.host, expected, "{}", e.json);
    }
    // The host stays searchable in the event itself.
    assert_eq!(h.search("remote_addr:198.51.100.66").len(), 1);
    assert_eq!(h.search("exploit").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syslog_line_whose_hostname_is_too_long_for_the_envelope_is_stored_without_it() {
    let h = Harness::new().await;
    let long = "h".repeat(300);
    let body = format!("<13>Dec  6 04:00:00 {long} app: too long a host\n");
    let report = h
        .ingestor
        .ingest_body(
            body.into_bytes(),
            BodyFormat::Text(LocalZone::UTC),
            nginx(),
            None,
        )
        .await
        .expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let events = h.search("\"too long a host\"");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].host, "");
    let json: serde_json::Value = serde_json::from_str(&events[0].json).unwrap();
    assert_eq!(json["hostname"], long.as_str());
}
