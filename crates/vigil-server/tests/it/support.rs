//! `spawn_app()`: a real server on a random loopback port over a fresh temporary data directory,
//! with one client per role.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use vigil_api::types::Role;
use vigil_client::Client;
use vigil_ingest::{Ingestor, RuleSlot};
use vigil_logs::{EmbeddedConfig, EmbeddedStore, EventStore};
use vigil_server::{AppState, Settings};
use vigil_store::{SqliteStore, Store};

/// A running server for one test; dropped with the test (the runtime ends its task).
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory (kept alive by `_dir`).
    pub data_dir: PathBuf,
    /// A client with an admin token.
    pub admin: Client,
    /// A client with a responder token.
    pub responder: Client,
    /// A client with a viewer token.
    pub viewer: Client,
    /// A client without a token.
    pub anonymous: Client,
    /// The responder's raw token, for tests that speak HTTP by hand.
    pub responder_token: String,
    /// The admin's raw token.
    pub admin_token: String,
    viewer_raw: String,
    /// The log store the server ingests into (to make new events searchable at once).
    pub events: Arc<dyn EventStore>,
    /// The server's ingest path (to run its clocks' work at a chosen time).
    pub ingestor: Arc<Ingestor>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A client with an arbitrary token.
    pub fn with_token(&self, token: &str) -> Client {
        self.anonymous.clone().with_token(token)
    }

    /// The viewer's raw token.
    pub fn viewer_token(&self) -> String {
        self.viewer_raw.clone()
    }

    /// Opens a second handle on the same store, as `vigil audit verify` would.
    pub async fn store(&self) -> SqliteStore {
        SqliteStore::open_existing(&self.data_dir).await.unwrap()
    }
}

/// Starts a server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after letting the test adjust its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_rules(Vec::new(), adjust).await
}

/// Starts a server matching every ingested event against the Sigma rules under `rules`.
pub async fn spawn_app_with_rules(
    rules: Vec<PathBuf>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with_logs(rules, adjust, |_| {}).await
}

/// Starts a server whose log store is configured by `adjust_logs` (a commit interval that
/// keeps ingested events unsearchable, say).
pub async fn spawn_app_with_logs(
    rules: Vec<PathBuf>,
    adjust: impl FnOnce(&mut Settings),
    adjust_logs: impl FnOnce(&mut EmbeddedConfig) + Send + 'static,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = Settings::new(&data_dir, addr);
    adjust(&mut settings);
    let store = SqliteStore::open(&data_dir).await.unwrap();
    let mut tokens = Vec::new();
    for (role, name) in [
        (Role::Admin, "ada"),
        (Role::Responder, "rita"),
        (Role::Viewer, "victor"),
    ] {
        tokens.push(
            store
                .create_token("test-setup", name, role)
                .await
                .unwrap()
                .token,
        );
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let logs_dir = data_dir.join("logs");
    let events: Arc<dyn EventStore> = Arc::new(
        tokio::task::spawn_blocking(move || {
            let mut config = EmbeddedConfig::new(logs_dir);
            adjust_logs(&mut config);
            EmbeddedStore::open(config)
        })
        .await
        .unwrap()
        .unwrap(),
    );
    let rules = Arc::new(RuleSlot::open(rules).unwrap());
    let ingestor = Arc::new(Ingestor::new(
        Arc::clone(&events),
        Arc::clone(&store),
        rules,
    ));
    let state = AppState::new(settings, store, Arc::clone(&ingestor));
    tokio::spawn(vigil_server::app::serve(
        state,
        listener,
        std::future::pending(),
    ));
    let base = format!("http://{addr}");
    let anonymous = Client::new(&base).unwrap();
    TestApp {
        addr,
        data_dir,
        admin: anonymous.clone().with_token(&tokens[0]),
        responder: anonymous.clone().with_token(&tokens[1]),
        viewer: anonymous.clone().with_token(&tokens[2]),
        anonymous,
        responder_token: tokens[1].clone(),
        admin_token: tokens[0].clone(),
        viewer_raw: tokens[2].clone(),
        events,
        ingestor,
        _dir: dir,
    }
}

/// Sends a request built by hand and reads its JSON answer, whatever the status.
pub async fn answer(request: reqwest::RequestBuilder) -> serde_json::Value {
    request
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer")
}
