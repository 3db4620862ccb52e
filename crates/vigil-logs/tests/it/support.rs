//! Shared fixtures: a store in a temporary directory and a small set of events from several
//! services, hosts and tenants.

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigil_logs::{
    EmbeddedConfig, EmbeddedStore, EventStore, NewEvent, PivotRequest, SearchRequest, TimeRange,
};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub fn open(dir: &std::path::Path) -> EmbeddedStore {
    let mut config = EmbeddedConfig::new(dir);
    config.index_memory_bytes = 32 * 1024 * 1024;
    EmbeddedStore::open(config).expect("the store opens")
}

pub fn event(service: &str, host: &str, tenant: &str, minute: i64, json: &str) -> NewEvent {
    NewEvent {
        time: t0() + Duration::minutes(minute),
        service: service.into(),
        host: host.into(),
        tenant: tenant.into(),
        json: json.into(),
        json_checked: false,
    }
}

/// Five events, one a minute after `t0`, named e1…e5 in their `name` field.
pub fn sample() -> Vec<NewEvent> {
    vec![
        event(
            "auth",
            "web-1",
            "contoso",
            1,
            r#"{"name":"e1","user":{"name":"alice"},"src_ip":"10.0.0.5","message":"Failed password for alice from 10.0.0.5","bytes":120,"Event":{"System":{"EventID":4625}}}"#,
        ),
        event(
            "auth",
            "web-2",
            "contoso",
            2,
            r#"{"name":"e2","user":{"name":"admin"},"src_ip":"10.0.0.9","message":"Accepted password for admin","bytes":480,"Event":{"System":{"EventID":4624}}}"#,
        ),
        event(
            "payroll",
            "pay-1",
            "fabrikam",
            3,
            r#"{"name":"e3","user":{"name":"Administrator"},"CommandLine":"powershell -enc SQBFAFgA","Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","bytes":900,"score":0.75}"#,
        ),
        event(
            "vpn",
            "vpn-1",
            "contoso",
            4,
            r#"{"name":"e4","src_ip":"10.0.0.5","message":"session opened","bytes":50,"Event":{"System":{"EventID":"4700"}}}"#,
        ),
        event(
            "payroll",
            "pay-2",
            "",
            5,
            r#"{"name":"e5","user":{"name":"bob"},"message":"report exported","bytes":5000,"ts":"2026-01-01T10:00:00Z"}"#,
        ),
    ]
}

/// A store holding [`sample`], refreshed so it is searchable.
pub fn sample_store(dir: &std::path::Path) -> EmbeddedStore {
    let store = open(dir);
    let outcome = store.append(sample()).expect("append");
    assert_eq!(outcome.stored.len(), 5);
    store.refresh().expect("refresh");
    store
}

/// The `name` of each event a query finds, newest first.
pub fn names(store: &EmbeddedStore, query: &str) -> Vec<String> {
    let query = vigil_query::parse(query).expect("the query parses");
    let page = store
        .search(&SearchRequest {
            query,
            range: TimeRange::default(),
            limit: 100,
            cursor: None,
        })
        .expect("search");
    assert_eq!(page.total as usize, page.events.len(), "one page holds all");
    page.events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.json).expect("stored JSON");
            v["name"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// How many events a pivot on `value` in any field finds.
pub fn pivot_total(store: &EmbeddedStore, value: &str) -> u64 {
    store
        .pivot(&PivotRequest {
            field: None,
            whole: false,
            value: value.into(),
            range: TimeRange::default(),
            limit: 10,
        })
        .expect("pivot")
        .total
}
