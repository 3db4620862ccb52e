//! The organisation over HTTP: apply (validated whole, idempotent, audited), who is on call for
//! a team or a service's owner, and the coverage report finding a planted gap.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::spawn_app;

/// Two people on a weekly rotation that ends on 10 December, their manager, and a service.
pub(crate) fn org() -> Value {
    json!({
        "people": [
            {"name": "alice", "contacts": [{"kind": "email", "address": "alice@example.com"}]},
            {"name": "bob", "contacts": [{"kind": "webhook", "address": "https://hooks.example.com/bob"}]},
            {"name": "carol"}
        ],
        "teams": [{
            "name": "payments-secops", "members": ["alice", "bob"], "manager": "carol",
            "schedules": [{
                "name": "primary", "time_zone": "Europe/Berlin",
                "layers": [
                    {"name": "weekly", "people": ["alice", "bob"], "rotation": "weekly",
                     "start": "2026-11-30T09:00",
                     // A planted gap: the rotation ends on 10 December at 09:00 local time.
                     "end": "2026-12-10T09:00"}
                ]
            }]
        }],
        "services": [{"name": "payments-api", "team": "payments-secops", "criticality": "critical"}]
    })
}

#[tokio::test]
async fn the_organisation_is_applied_whole_and_answers_who_is_on_call() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let get = |p: String, token: String| {
        let http = http.clone();
        async move {
            let r = http.get(p).bearer_auth(token).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // Nothing applied yet.
    let (status, err) = get(
        url("/oncall?team=payments-secops"),
        app.responder_token.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("vigil apply")
    );

    let put = |body: Value, token: String| {
        let http = http.clone();
        let u = url("/org");
        async move {
            let r = http
                .put(u)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // Only admins apply.
    let (status, _) = put(org(), app.responder_token.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An invalid document names its first bad field, lists every problem, changes nothing.
    let mut bad = org();
    bad["teams"][0]["schedules"][0]["layers"][0]["people"] = json!(["alice", "zed"]);
    bad["services"][0]["team"] = json!("ghosts");
    let (status, err) = put(bad, app.admin_token.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["field"],
        "teams[0].schedules[0].layers[0].people[1]"
    );
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("zed") && message.contains("ghosts"),
        "{message}"
    );
    let (status, _) = get(url("/org"), app.responder_token.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, applied) = put(org(), app.admin_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(
        (applied["version"].as_i64(), applied["changed"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(applied["teams"], 1);
    // Idempotent: the same document again writes nothing.
    let (_, again) = put(org(), app.admin_token.clone()).await;
    assert_eq!(
        (again["version"].as_i64(), again["changed"].as_bool()),
        (Some(1), Some(false))
    );

    // Who is on call: alice's week, then bob's; by service too.
    let (status, now) = get(
        url("/oncall?team=payments-secops&at=2026-12-01T12:00:00Z"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{now}");
    let primary = &now["schedules"][0];
    assert_eq!(primary["person"], "alice");
    assert_eq!(primary["start"], "2026-11-30T08:00:00Z");
    assert_eq!(primary["end"], "2026-12-07T08:00:00Z");
    assert_eq!(primary["contacts"][0]["address"], "alice@example.com");
    assert_eq!(now["manager"], "carol");
    let (_, next) = get(
        url("/oncall?service=payments-api&at=2026-12-08T12:00:00Z"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(next["team"], "payments-secops");
    assert_eq!(next["schedules"][0]["person"], "bob");
    let (_, after) = get(
        url("/oncall?team=payments-secops&at=2026-12-11T12:00:00Z"),
        app.viewer_token(),
    )
    .await;
    assert!(after["schedules"][0].get("person").is_none(), "{after}");
    let (status, err) = get(url("/oncall?team=nobody"), app.viewer_token()).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("team"))
    );

    // The coverage report finds the planted gap from the rotation's end to the window's end.
    let (status, report) = get(
        url("/oncall/coverage?from=2026-12-01T00:00:00Z&days=14"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["gaps"],
        json!([{"team": "payments-secops", "start": "2026-12-10T08:00:00Z", "end": "2026-12-15T00:00:00Z", "minutes": 6720, "reason": "level 1: nobody on call in primary | level 2: carol (manager) has no e-mail or webhook", "kind": "unreached"}])
    );
    let (_, covered) = get(
        url("/oncall/coverage?from=2026-12-01T00:00:00Z&days=7"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(covered["gaps"], json!([]));
    let (status, _) = get(url("/oncall/coverage?days=0"), app.viewer_token()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A window that starts inside the years schedules cover and ends past them: `days` is named.
    let (status, err) = get(
        url("/oncall/coverage?from=9999-12-01T00:00:00Z&days=90"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("days")),
        "{err}"
    );

    // A changed document is in force from the next question on: bob now takes the first week.
    let mut swapped = org();
    swapped["teams"][0]["schedules"][0]["layers"][0]["people"] = json!(["bob", "alice"]);
    let (_, applied) = put(swapped, app.admin_token.clone()).await;
    assert_eq!(applied["version"], 2, "{applied}");
    let (_, now) = get(
        url("/oncall?team=payments-secops&at=2026-12-01T12:00:00Z"),
        app.viewer_token(),
    )
    .await;
    assert_eq!(now["schedules"][0]["person"], "bob", "{now}");

    // The change is in the audit trail.
    let (_, audit) = get(url("/audit"), app.admin_token.clone()).await;
    assert!(audit.to_string().contains("org.apply"));
}

/// Delays and repeats past their bounds are refused, naming the field; a document stored
/// before the bounds existed still reads and answers.
#[tokio::test]
async fn escalation_bounds_are_refused_but_a_document_stored_before_them_still_reads() {
    use vigil_store::Store as _;
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/org", app.addr);
    let mut doc = org();
    doc["teams"][0]["escalation"] = json!({
        "levels": [{"after": "0", "notify": ["manager"]}],
        "repeat": 100,
        "repeat_after": "9999999999h"
    });
    let response = http
        .put(&url)
        .bearer_auth(&app.admin_token)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let err: Value = response.json().await.unwrap();
    assert_eq!(err["error"]["field"], "teams[0].escalation.repeat", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("repeat_after"),
        "{err}"
    );

    // As an earlier version would have stored it, past today's check.
    app.store()
        .await
        .apply_org("old-version", doc)
        .await
        .unwrap();
    let response = http
        .get(&url)
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let state: Value = response.json().await.unwrap();
    assert_eq!(
        state["document"]["teams"][0]["escalation"]["repeat"], 100,
        "{state}"
    );
}

/// A webhook's path, query and user information are its secret: no answer, to any role,
/// carries them — the document, who is on call, the coverage report — and the document is
/// still applied idempotently (the server compares what it stores, not what it shows).
#[tokio::test]
async fn webhook_secrets_never_leave_the_server() {
    const SECRET_URL: &str = "http://bob:bobpass@127.0.0.1:18423/hook/BOBSECRETPATH?sig=BOBQUERY";
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let mut doc = org();
    doc["people"][1]["contacts"] = json!([{"kind": "webhook", "address": SECRET_URL}]);
    let leaks = |text: &str| {
        ["BOBSECRETPATH", "BOBQUERY", "bobpass", "/hook"]
            .iter()
            .any(|s| text.contains(s))
    };
    let mut answers = Vec::new();
    for round in 0..2 {
        let r = http
            .put(url("/org"))
            .bearer_auth(&app.admin_token)
            .json(&doc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let state: Value = r.json().await.unwrap();
        // Applying the same document again changes nothing.
        assert_eq!(state["version"], 1);
        assert_eq!(state["changed"], round == 0, "{state}");
        answers.push(state.to_string());
    }
    for token in [
        app.viewer_token(),
        app.responder_token.clone(),
        app.admin_token.clone(),
    ] {
        for path in [
            "/org",
            "/oncall?team=payments-secops&at=2026-12-08T12:00:00Z",
            "/oncall?service=payments-api&at=2026-12-08T12:00:00Z",
            "/oncall/coverage?from=2026-11-30T00:00:00Z&days=20",
        ] {
            let r = http
                .get(url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            answers.push(r.text().await.unwrap());
        }
    }
    for text in &answers {
        assert!(!leaks(text), "a webhook secret left the server: {text}");
    }
    // What is shown still says where pages go.
    let who: Value = serde_json::from_str(&answers[3]).unwrap();
    assert_eq!(who["schedules"][0]["person"], "bob", "{who}");
    assert_eq!(
        who["schedules"][0]["contacts"][0]["address"],
        "http://127.0.0.1:18423/…"
    );
    let shown: Value = serde_json::from_str(&answers[2]).unwrap();
    assert_eq!(
        shown["document"]["people"][1]["contacts"][0]["address"],
        "http://127.0.0.1:18423/…"
    );
    // The store keeps the document as applied: pages still reach the real address.
    use vigil_store::Store as _;
    let stored = app.store().await.current_org().await.unwrap().unwrap();
    assert_eq!(
        stored.document["people"][1]["contacts"][0]["address"],
        SECRET_URL
    );
}

/// One team's schedule too fine-grained for the window (a one-minute rotation over two years)
/// does not stop the report of every team: that team is listed as unchecked, naming its
/// schedule; asked for alone, the refusal names them too.
#[tokio::test]
async fn a_schedule_too_fine_for_the_window_is_named_and_the_other_teams_are_reported() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let mut doc = org();
    doc["teams"].as_array_mut().unwrap().push(json!({
        "name": "fine", "members": ["alice"],
        "schedules": [{"name": "minutes", "time_zone": "UTC",
                       "layers": [{"people": ["alice"], "rotation": "1m", "start": "2026-11-30T00:00"}]}]
    }));
    let r = http
        .put(url("/org"))
        .bearer_auth(&app.admin_token)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let get = |p: String| {
        let (http, token) = (http.clone(), app.viewer_token());
        async move {
            let r = http.get(p).bearer_auth(token).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, report) = get(url("/oncall/coverage?from=2026-12-01T00:00:00Z&days=731")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["unchecked"][0]["team"], "fine", "{report}");
    assert_eq!(report["unchecked"][0]["schedule"], "minutes", "{report}");
    assert!(
        report["unchecked"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("team fine, schedule minutes: the range would produce about"),
        "{report}"
    );
    assert_eq!(report["gaps"][0]["team"], "payments-secops", "{report}");
    let (status, err) = get(url(
        "/oncall/coverage?team=fine&from=2026-12-01T00:00:00Z&days=731",
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team fine, schedule minutes:"),
        "{err}"
    );
}
