//! An acknowledged event survives kill -9: a real `vigil serve` takes batches over HTTP, is
//! killed with SIGKILL while batches are still being sent, and after a restart on the same data
//! directory every acknowledged batch is there in full.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, admin_token};

const BATCH: usize = 200;

fn batch_body(batch: usize) -> String {
    (0..BATCH)
        .map(|i| {
            format!(
                "{{\"batch\":\"b{batch}\",\"seq\":{i},\"message\":\"user alice{i} logged in from 10.0.{}.{}\"}}\n",
                batch % 250,
                i % 250
            )
        })
        .collect()
}

async fn total(http: &reqwest::Client, url: &str, token: &str, q: &str) -> u64 {
    let resp = http
        .get(format!("{url}/api/v1/events/search"))
        .query(&[("q", q), ("limit", "1")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "search {q}: {}", resp.status());
    resp.json::<Value>().await.unwrap()["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let mut server = Server::start(&data);
    let runtime = crate::support::runtime();
    let url = server.url.clone();
    let acked: Vec<usize> = runtime.block_on(async {
        let http = reqwest::Client::new();
        let (acks_tx, mut acks_rx) = tokio::sync::mpsc::unbounded_channel();
        // Two senders keep posting until the server dies under them.
        for sender in 0..2 {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            let acks = acks_tx.clone();
            tokio::spawn(async move {
                for k in 0..200 {
                    let batch = sender * 1000 + k;
                    let sent = http
                        .post(format!("{url}/api/v1/events?service=auth&tenant=acme"))
                        .bearer_auth(&token)
                        .header("content-type", "application/x-ndjson")
                        .body(batch_body(batch))
                        .send()
                        .await;
                    let Ok(resp) = sent else { return };
                    if !resp.status().is_success() {
                        return;
                    }
                    let Ok(report) = resp.json::<Value>().await else {
                        return;
                    };
                    assert_eq!(report["stored"], BATCH as u64, "{report}");
                    let _ = acks.send(batch);
                }
            });
        }
        drop(acks_tx);
        // Let some batches through, then kill the server in the middle of the stream.
        let mut acked = Vec::new();
        while acked.len() < 8 {
            acked.push(
                acks_rx
                    .recv()
                    .await
                    .expect("the senders stopped before 8 acks"),
            );
        }
        server.child.kill().unwrap(); // SIGKILL on Unix
        server.child.wait().unwrap();
        while let Some(b) = acks_rx.recv().await {
            acked.push(b);
        }
        acked
    });
    drop(server);

    let server = Server::start(&data);
    runtime.block_on(async {
        let http = reqwest::Client::new();
        // The journal tail is indexed in the background after the restart; wait until it is
        // searchable.
        let deadline = Instant::now() + Duration::from_secs(30);
        let want = (acked.len() * BATCH) as u64;
        loop {
            let n = total(&http, &server.url, &token, "service:auth").await;
            if n >= want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "only {n} of {want} acknowledged events after restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for batch in &acked {
            let n = total(&http, &server.url, &token, &format!("batch:b{batch}")).await;
            assert_eq!(n, BATCH as u64, "acknowledged batch b{batch} lost events");
        }
    });
}
