//! The escalator over a real SQLite store in a temporary directory, paging a real webhook
//! receiver on loopback. Each test drives the clocks itself with `Escalator::tick(now)` at the
//! instants it chooses, so no test waits for a level to come due.

mod contacts;
mod delays;
mod facts;
mod owners;
mod reports;
mod retries;
mod slow;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_core::{AlertSource, NewAlert, Severity};
use vigil_escalation::Escalator;
use vigil_notify::{Notifier, NotifierConfig, RetryPolicy};
use vigil_store::{AlertPolicy, Raised, SqliteStore, Store};

/// A webhook receiver on 127.0.0.1:0 recording the path of each POST as it arrives; answers
/// 200, except that a path starting with `/held` is answered only once the test lets it go
/// ([`Hooks::release`]): a receiver that hangs.
pub struct Hooks {
    pub base: String,
    shared: Arc<Shared>,
}

struct Shared {
    seen: Mutex<Vec<String>>,
    /// While set, every request is answered 503 and not recorded: a receiver that is down.
    down: std::sync::atomic::AtomicBool,
    /// The requests answered 503.
    refused: std::sync::atomic::AtomicUsize,
    /// The body of each request, in the order of `seen`.
    bodies: Mutex<Vec<String>>,
    /// One permit per held request the test lets go.
    gate: tokio::sync::Semaphore,
}

impl Hooks {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            seen: Mutex::new(Vec::new()),
            down: Default::default(),
            refused: Default::default(),
            bodies: Mutex::new(Vec::new()),
            gate: tokio::sync::Semaphore::new(0),
        });
        let app = axum::Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hooks { base, shared }
    }

    /// The paths paged so far, in order of arrival (`/alice`).
    pub fn paged(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The bodies paged so far, in order of arrival.
    pub fn bodies(&self) -> Vec<String> {
        self.shared.bodies.lock().unwrap().clone()
    }

    /// Answers every request 503 (`true`) or as usual again (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared
            .down
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many requests were answered 503 while the receiver was down.
    pub fn refused(&self) -> usize {
        self.shared
            .refused
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets `n` held requests be answered.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Waits (at most a minute) until `done` holds of the paths paged.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        for _ in 0..600 {
            if done(&self.paged()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; paged: {:?}", self.paged());
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    body: Bytes,
) -> (axum::http::StatusCode, &'static str) {
    use std::sync::atomic::Ordering;
    if shared.down.load(Ordering::SeqCst) {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down");
    }
    shared
        .bodies
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    shared.seen.lock().unwrap().push(uri.path().to_owned());
    if uri.path().starts_with("/held") {
        shared.gate.acquire().await.unwrap().forget();
    }
    (axum::http::StatusCode::OK, "ok")
}

/// A store in a temporary directory, an escalator over it and the receiver it pages.
pub struct Env {
    pub store: Arc<dyn Store>,
    pub escalator: Escalator,
    pub hooks: Hooks,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        Env {
            escalator: escalator(&store),
            store,
            hooks: Hooks::start().await,
            _dir: dir,
        }
    }

    /// A person reached by webhook at `/NAME` of the receiver.
    pub fn person(&self, name: &str) -> Value {
        json!({"name": name, "contacts": [{"kind": "webhook", "address": format!("{}/{name}", self.hooks.base)}]})
    }

    /// A schedule with `person` on call all the time.
    pub fn always(name: &str, person: &str) -> Value {
        json!({"name": name, "time_zone": "UTC",
               "layers": [{"people": [person], "rotation": "daily", "start": "2020-01-01T00:00"}]})
    }

    pub async fn apply(&self, org: Value) {
        let doc: vigil_oncall::OrgDocument = serde_json::from_value(org.clone()).unwrap();
        doc.validate().unwrap();
        self.store.apply_org("test", org).await.unwrap();
    }

    /// Raises a new alert for `service`; returns its id and when it was raised.
    pub async fn raise(&self, service: &str, dedup_key: &str) -> (i64, DateTime<Utc>) {
        self.raise_alert(NewAlert {
            title: "Suspicious login".to_owned(),
            source: AlertSource::External,
            severity: Severity::parse("SEV2").unwrap(),
            service: service.to_owned(),
            tenant: None,
            dedup_key: dedup_key.to_owned(),
            rule_id: None,
            summary: None,
            origin: None,
            reporter: None,
            event_ids: Vec::new(),
            events: Vec::new(),
            times: 1,
        })
        .await
    }

    /// Raises `alert`; returns its id and when it was raised.
    pub async fn raise_alert(&self, alert: NewAlert) -> (i64, DateTime<Utc>) {
        match self
            .store
            .raise_alert("test", alert, AlertPolicy::default())
            .await
            .unwrap()
        {
            Raised::Created(a) | Raised::Deduplicated(a) => (a.id, a.first_seen),
            Raised::Suppressed => panic!("suppressed"),
        }
    }

    /// The alert's log written by the escalator: (action, text).
    pub async fn log(&self, id: i64) -> Vec<(String, String)> {
        self.store
            .get_alert(id)
            .await
            .unwrap()
            .log
            .into_iter()
            .filter(|e| e.actor == vigil_escalation::ACTOR)
            .map(|e| (e.action, e.text))
            .collect()
    }

    pub async fn tick(&self, at: DateTime<Utc>) {
        self.escalator.tick(at).await.unwrap();
    }
}

/// An escalator over `store` whose deliveries try once, within 30 s.
pub fn escalator(store: &Arc<dyn Store>) -> Escalator {
    escalator_trying(store, 1, Duration::from_millis(10))
}

/// An escalator over `store` whose deliveries make `attempts` attempts of at most 30 s each,
/// `backoff` apart.
pub fn escalator_trying(store: &Arc<dyn Store>, attempts: u32, backoff: Duration) -> Escalator {
    escalator_timing_out(store, attempts, backoff, Duration::from_secs(30))
}

/// [`escalator_trying`] with attempts of at most `timeout` each.
pub fn escalator_timing_out(
    store: &Arc<dyn Store>,
    attempts: u32,
    backoff: Duration,
    timeout: Duration,
) -> Escalator {
    let notifier = Notifier::new(NotifierConfig {
        attempt_timeout: timeout,
        retry: RetryPolicy {
            max_attempts: attempts,
            initial_backoff: backoff,
            max_backoff: backoff,
            jitter: false,
        },
        smtp: None,
        user_agent: "vigil-escalation-test".to_owned(),
    })
    .unwrap();
    Escalator::new(Arc::clone(store), Arc::new(notifier), "http://vigil.test")
}

/// `t` plus `seconds`.
pub fn after(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    t + chrono::Duration::seconds(seconds)
}
