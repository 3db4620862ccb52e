//! The time an event is stored at: its own when it holds one, else its arrival.

use chrono::{DateTime, Utc};
use vigil_events::batch::BodyFormat;
use vigil_ingest::Envelope;

use crate::support::Harness;

/// A count or a duration under `time`, a date alone under `date`, are no event times: such
/// events are stored at their arrival (a search of the last hour finds them, retention keeps
/// them), while epochs in any unit are read as the times they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_and_dates_that_are_no_times_leave_the_event_at_its_arrival() {
    let h = Harness::new().await;
    let envelope = Envelope {
        service: "shop".into(),
        host: "web-1".into(),
        tenant: String::new(),
    };
    let body = "{\"n\":1,\"msg\":\"GET /checkout\",\"status\":200,\"time\":35}\n\
                {\"n\":2,\"order_id\":7,\"date\":\"2026-10-01\"}\n\
                {\"n\":3,\"timestamp\":1764496800123456789}\n\
                {\"n\":4,\"timestamp\":1764496800123456}\n\
                {\"n\":5,\"date\":1764496800.123}\n";
    // The store keeps microseconds: a millisecond of slack below.
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let report = h
        .ingestor
        .ingest_body(body.into(), BodyFormat::JsonLines, envelope, None)
        .await
        .expect("ingest");
    let after = Utc::now();
    assert_eq!((report.stored.len(), report.rejected.len()), (5, 0));
    let epoch: DateTime<Utc> = "2025-11-30T10:00:00.123Z".parse().unwrap();
    for e in h.search("service:shop") {
        let json: serde_json::Value = serde_json::from_str(&e.json).unwrap();
        match json["n"].as_u64().unwrap() {
            1 | 2 => assert!(
                before <= e.time && e.time <= after,
                "stored at its arrival: {} at {}",
                e.json,
                e.time
            ),
            _ => assert_eq!(e.time, epoch, "{}", e.json),
        }
    }
}
