//! What ingest needs from the organisation document — each service's criticality, alerting
//! settings and declared logsources — read from the store at most once a second rather than
//! on every batch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_detect::Logsource;
use vigil_oncall::OrgDocument;
use vigil_store::Store;

use crate::error::IngestError;

/// How long a read of the organisation document is used before the store is asked again. An
/// apply through this server takes effect at once ([`OrgCache::forget`]); one through another
/// server sharing the store, within this long.
const REFRESH: Duration = Duration::from_secs(1);

/// The organisation document in force, as ingest uses it.
#[derive(Debug, Default)]
pub struct OrgView {
    /// The document, when one is configured.
    pub document: Option<OrgDocument>,
    /// Per service name: the logsources its logs are declared to be.
    logsources: HashMap<String, Arc<[Logsource]>>,
}

impl OrgView {
    fn new(document: Option<OrgDocument>) -> Self {
        let logsources = document
            .iter()
            .flat_map(|d| &d.services)
            .filter(|s| !s.logsources.is_empty())
            .map(|s| {
                let declared: Arc<[Logsource]> = s
                    .logsources
                    .iter()
                    .map(|l| Logsource {
                        product: l.product.clone(),
                        category: l.category.clone(),
                        service: l.service.clone(),
                        definition: None,
                    })
                    .collect();
                (s.name.clone(), declared)
            })
            .collect();
        OrgView {
            document,
            logsources,
        }
    }

    /// The logsources declared for `service`; empty when it declares none (unknown).
    pub fn logsources(&self, service: &str) -> &[Logsource] {
        self.logsources.get(service).map_or(&[], |l| l)
    }
}

/// The last [`OrgView`] read, with its version and when it was read.
#[derive(Debug, Default)]
pub struct OrgCache(Mutex<Cached>);

#[derive(Debug, Default)]
struct Cached {
    view: Arc<OrgView>,
    version: Option<i64>,
    read_at: Option<Instant>,
}

impl OrgCache {
    /// The view in force: the one held when it was read less than a second ago, else read
    /// again (and rebuilt only when the stored version changed). When the store cannot be
    /// read, the view held is used and the failure logged: ingest does not stop for it.
    pub async fn current(&self, store: &dyn Store) -> Arc<OrgView> {
        let (view, version) = {
            let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if held.read_at.is_some_and(|t| t.elapsed() < REFRESH) {
                return Arc::clone(&held.view);
            }
            (Arc::clone(&held.view), held.version)
        };
        let fresh = match store.current_org().await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %IngestError::from(e), "could not read the organisation document; using the one read before");
                return view;
            }
        };
        let fresh_version = fresh.as_ref().map(|v| v.version);
        let view = if fresh_version == version {
            view
        } else {
            let document = fresh.and_then(|v| serde_json::from_value(v.document).ok());
            Arc::new(OrgView::new(document))
        };
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *held = Cached {
            view: Arc::clone(&view),
            version: fresh_version,
            read_at: Some(Instant::now()),
        };
        view
    }

    /// Makes the next [`OrgCache::current`] read the store: call after applying a document.
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).read_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_without_logsources_are_unknown() {
        let document: OrgDocument = serde_json::from_value(serde_json::json!({
            "teams": [{"name": "web"}],
            "services": [
                {"name": "nginx", "team": "web", "logsources": [{"category": "webserver"}]},
                {"name": "api", "team": "web"}
            ]
        }))
        .unwrap();
        let view = OrgView::new(Some(document));
        assert_eq!(
            view.logsources("nginx")[0].category.as_deref(),
            Some("webserver")
        );
        assert!(view.logsources("api").is_empty());
        assert!(view.logsources("other").is_empty());
    }
}
