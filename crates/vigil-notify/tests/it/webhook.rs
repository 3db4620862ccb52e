//! Webhooks against a real HTTP server: payload shapes, retries, refusals, timeouts, records.

use std::time::Duration;

use serde_json::json;
use vigil_notify::{
    DeliveryStatus, Notifier, NotifierConfig, Outcome, SmtpConfig, SmtpCredentials, Target,
    TargetRecord, WebhookFormat,
};

use vigil_testkit::closed_port;

use crate::receivers::{HttpReceiver, Reply};
use crate::{config, notification};

fn hook(receiver: &HttpReceiver, format: WebhookFormat) -> Target {
    Target::Webhook {
        url: format!("{}/hook", receiver.base),
        format,
    }
}

#[tokio::test]
async fn generic_payload_carries_every_field() {
    let receiver = HttpReceiver::start(vec![]).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Generic))
        .await;

    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].number, 1);
    assert_eq!(
        delivery.attempts[0].outcome,
        Outcome::Http {
            status: 200,
            body: None
        }
    );
    assert_eq!(delivery.attempts[0].retry_in_ms, None);
    assert_eq!(
        delivery.target,
        TargetRecord::Webhook {
            url: format!("{}/…", receiver.base),
            format: WebhookFormat::Generic
        }
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/hook");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["user-agent"], "vigil-notify-test");
    assert_eq!(
        request.body,
        json!({
            "version": 1,
            "text": "[SEV2] Brute force on vpn-1 (ALR-12)",
            "title": "Brute force on vpn-1",
            "severity": "SEV2",
            "summary": "42 failed logins for admin from 203.0.113.7 in 5 minutes.",
            "summary_label": "Details",
            "key": "ALR-12",
            "ack_url": "https://vigil.example.org/alerts/ALR-12/ack",
            "service": "vpn",
            "tenant": null,
            "fields": [
                {"name": "host", "value": "vpn-1"},
                {"name": "rule", "value": "Multiple failed logins"},
            ],
        })
    );
}

#[tokio::test]
async fn slack_payload_is_text_and_blocks() {
    let receiver = HttpReceiver::start(vec![]).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Slack))
        .await;
    assert!(delivery.is_delivered());

    let body = &receiver.requests()[0].body;
    assert_eq!(body["text"], "[SEV2] Brute force on vpn-1 (ALR-12)");
    let blocks = body["blocks"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    // The summary, from outside Vigil, after Vigil's facts and button, quoted.
    assert_eq!(
        kinds,
        ["header", "section", "actions", "section", "context"]
    );
    assert_eq!(
        blocks[0]["text"],
        json!({"type": "plain_text", "text": "[SEV2] Brute force on vpn-1"})
    );
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "*Severity*\nSEV2",
            "*Service*\nvpn",
            "*host*\nvpn-1",
            "*rule*\nMultiple failed logins"
        ]
    );
    let button = &blocks[2]["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], "https://vigil.example.org/alerts/ALR-12/ack");
    assert_eq!(
        blocks[3]["text"],
        json!({"type": "mrkdwn", "text": "*Details:*\n>42 failed logins for admin from 203.0.113.7 in 5 minutes."})
    );
    assert_eq!(blocks[4]["elements"][0]["text"], "ALR-12");
}

#[tokio::test]
async fn teams_payload_is_an_adaptive_card_in_the_message_envelope() {
    let receiver = HttpReceiver::start(vec![]).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Teams))
        .await;
    assert!(delivery.is_delivered());

    let body = &receiver.requests()[0].body;
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    // Text from outside Vigil is never read as Markdown: TextRuns, not TextBlocks or facts.
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["type"], "RichTextBlock");
    assert_eq!(body[0]["inlines"][0]["text"], "[SEV2] Brute force on vpn-1");
    let facts: Vec<(&str, &str)> = body[1..6]
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "RichTextBlock");
            (
                f["inlines"][0]["text"].as_str().unwrap(),
                f["inlines"][1]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        facts,
        [
            ("Severity: ", "SEV2"),
            ("Key: ", "ALR-12"),
            ("Service: ", "vpn"),
            ("host: ", "vpn-1"),
            ("rule: ", "Multiple failed logins")
        ]
    );
    assert_eq!(
        body[6],
        json!({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "Acknowledge", "url": "https://vigil.example.org/alerts/ALR-12/ack"}]})
    );
    assert_eq!(body[7]["type"], "Container");
    assert_eq!(body[7]["items"][0]["inlines"][0]["text"], "Details:");
    assert_eq!(
        body[7]["items"][1]["inlines"][0]["text"],
        "42 failed logins for admin from 203.0.113.7 in 5 minutes."
    );
    assert_eq!(body.len(), 8);
}

#[tokio::test]
async fn server_error_is_retried_until_accepted() {
    let receiver = HttpReceiver::start(vec![Reply::Status(500), Reply::Status(503)]).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Generic))
        .await;

    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    let outcomes: Vec<&Outcome> = delivery.attempts.iter().map(|a| &a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            &Outcome::Http {
                status: 500,
                body: None
            },
            &Outcome::Http {
                status: 503,
                body: None
            },
            &Outcome::Http {
                status: 200,
                body: None
            },
        ]
    );
    let numbers: Vec<u32> = delivery.attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    // Exponential from 10 ms; the last attempt has no next one.
    let waits: Vec<Option<u64>> = delivery.attempts.iter().map(|a| a.retry_in_ms).collect();
    assert_eq!(waits, [Some(10), Some(20), None]);
    assert!(
        delivery
            .attempts
            .windows(2)
            .all(|w| w[0].started_at <= w[1].started_at)
    );
    assert_eq!(receiver.requests().len(), 3);
    // Every attempt sends the same payload.
    let bodies: Vec<_> = receiver.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]));
}

#[tokio::test]
async fn persistent_server_error_fails_after_max_attempts() {
    let script = vec![
        Reply::Status(502),
        Reply::Status(502),
        Reply::Body(500, "boom"),
        Reply::Status(200),
    ];
    let receiver = HttpReceiver::start(script).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Generic))
        .await;

    assert_eq!(delivery.attempts.len(), 3);
    assert_eq!(
        delivery.attempts[2].outcome,
        Outcome::Http {
            status: 500,
            body: Some("boom".into())
        }
    );
    assert_eq!(
        delivery.status,
        DeliveryStatus::Failed {
            reason: "HTTP 500: boom; gave up after 3 attempts".into()
        }
    );
    assert_eq!(receiver.requests().len(), 3);
}

/// A delivery no longer wanted (its alert acknowledged between two attempts) starts no further
/// attempt, and its record says why it stopped.
#[tokio::test]
async fn a_delivery_stopped_between_attempts_starts_no_other() {
    let receiver = HttpReceiver::start(vec![Reply::Status(500), Reply::Status(500)]).await;
    let notifier = Notifier::new(config()).unwrap();
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let delivery = notifier
        .deliver_unless(
            &notification(),
            &hook(&receiver, WebhookFormat::Generic),
            || {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::future::ready(Some("the alert was acknowledged".to_owned()))
            },
        )
        .await;
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(asked.into_inner(), 1);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].retry_in_ms, None);
    assert_eq!(
        delivery.status,
        DeliveryStatus::Failed {
            reason: "HTTP 500; not tried again: the alert was acknowledged".into()
        }
    );
}

/// A receiver's error that quotes the request keeps the URL's secret out of the record: its
/// path, query and their parts are taken out of the body, as they are of the target.
#[tokio::test]
async fn a_refusal_quoting_the_url_keeps_its_secret_out_of_the_record() {
    let receiver = HttpReceiver::start(vec![Reply::Echo(403)]).await;
    let notifier = Notifier::new(config()).unwrap();
    let target = Target::Webhook {
        url: format!("{}/dave/SECRETDAVE3?token=DAVEQ3", receiver.base),
        format: WebhookFormat::Generic,
    };
    let delivery = notifier.deliver(&notification(), &target).await;

    assert_eq!(receiver.requests()[0].path, "/dave/SECRETDAVE3");
    assert_eq!(
        delivery.attempts[0].outcome,
        Outcome::Http {
            status: 403,
            body: Some("invalid_token: request to … rejected".into())
        }
    );
    assert_eq!(
        delivery.status,
        DeliveryStatus::Failed {
            reason: "HTTP 403: invalid_token: request to … rejected; not retried".into()
        }
    );
    let record = serde_json::to_string(&delivery).unwrap();
    for secret in ["SECRETDAVE3", "DAVEQ3", "/dave"] {
        assert!(!record.contains(secret), "{secret} in {record}");
    }
}

/// A receiver that refuses the URL's user and password quoting the `Authorization` header
/// they were sent in keeps them out of the record: the header's `user:password` in base64 is
/// taken out, as the password itself is.
#[tokio::test]
async fn a_refusal_quoting_the_basic_credentials_keeps_them_out_of_the_record() {
    let receiver = HttpReceiver::start(vec![Reply::EchoAuthorization(400)]).await;
    let notifier = Notifier::new(config()).unwrap();
    let url = receiver.base.replace("http://", "http://bob:Pa55wordX@");
    let target = Target::Webhook {
        url: format!("{url}/hook"),
        format: WebhookFormat::Generic,
    };
    let delivery = notifier.deliver(&notification(), &target).await;

    let sent = receiver.requests()[0].headers["authorization"].clone();
    assert_eq!(sent, "Basic Ym9iOlBhNTV3b3JkWA==");
    assert_eq!(
        delivery.attempts[0].outcome,
        Outcome::Http {
            status: 400,
            body: Some("bad credentials (Authorization: Basic …)".into())
        }
    );
    let record = serde_json::to_string(&delivery).unwrap();
    for secret in ["Ym9iOlBhNTV3b3JkWA", "Pa55wordX"] {
        assert!(!record.contains(secret), "{secret} in {record}");
    }
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let receiver = HttpReceiver::start(vec![Reply::Body(400, "invalid_payload")]).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Slack))
        .await;

    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(
        delivery.attempts[0].outcome,
        Outcome::Http {
            status: 400,
            body: Some("invalid_payload".into())
        }
    );
    assert_eq!(delivery.attempts[0].retry_in_ms, None);
    assert_eq!(
        delivery.status,
        DeliveryStatus::Failed {
            reason: "HTTP 400: invalid_payload; not retried".into()
        }
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn request_timeout_and_too_many_requests_are_retried() {
    let script = vec![Reply::Status(408), Reply::RetryAfter(429, "1")];
    let receiver = HttpReceiver::start(script).await;
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Teams))
        .await;

    assert!(delivery.is_delivered());
    let statuses: Vec<u16> = delivery
        .attempts
        .iter()
        .map(|a| match a.outcome {
            Outcome::Http { status, .. } => status,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(statuses, [408, 429, 200]);
    // Retry-After: 1 asks for 1000 ms; the cap is 50 ms.
    assert_eq!(delivery.attempts[1].retry_in_ms, Some(50));
}

#[tokio::test]
async fn slow_receiver_times_out_and_is_retried() {
    let slow = Reply::Slow(Duration::from_secs(10));
    let receiver = HttpReceiver::start(vec![slow.clone(), slow]).await;
    let config = NotifierConfig {
        attempt_timeout: Duration::from_millis(300),
        retry: vigil_notify::RetryPolicy {
            max_attempts: 2,
            ..config().retry
        },
        ..config()
    };
    let notifier = Notifier::new(config).unwrap();
    let delivery = notifier
        .deliver(&notification(), &hook(&receiver, WebhookFormat::Generic))
        .await;

    assert_eq!(delivery.attempts.len(), 2);
    for attempt in &delivery.attempts {
        assert_eq!(attempt.outcome, Outcome::Timeout { after_ms: 300 });
    }
    assert_eq!(
        delivery.status,
        DeliveryStatus::Failed {
            reason: "no answer within 300 ms; gave up after 2 attempts".into()
        }
    );
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_and_recorded_without_the_url_secret() {
    let closed = closed_port();
    let port = closed.port;
    let target = Target::Webhook {
        url: format!("http://127.0.0.1:{port}/services/T0/B0/PATHSECRET?token=QUERYSECRET"),
        format: WebhookFormat::Slack,
    };
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier.deliver(&notification(), &target).await;

    assert_eq!(delivery.attempts.len(), 3);
    for attempt in &delivery.attempts {
        let Outcome::Error { message } = &attempt.outcome else {
            panic!("{attempt:?}")
        };
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }
    assert!(
        matches!(&delivery.status, DeliveryStatus::Failed { reason } if reason.ends_with("gave up after 3 attempts"))
    );
    let recorded = serde_json::to_string(&delivery).unwrap();
    assert!(!recorded.contains("SECRET"), "{recorded}");
    assert!(!format!("{delivery:?} {target:?}").contains("SECRET"));
    assert_eq!(
        delivery.target,
        TargetRecord::Webhook {
            url: format!("http://127.0.0.1:{port}/…"),
            format: WebhookFormat::Slack
        }
    );
}

#[tokio::test]
async fn secret_query_reaches_the_receiver_but_not_the_record() {
    let receiver = HttpReceiver::start(vec![Reply::Status(500)]).await;
    let target = Target::Webhook {
        url: format!("{}/hook?token=QUERYSECRET", receiver.base),
        format: WebhookFormat::Generic,
    };
    let notifier = Notifier::new(config()).unwrap();
    let delivery = notifier.deliver(&notification(), &target).await;

    assert!(delivery.is_delivered());
    assert_eq!(
        receiver.requests()[1].query.as_deref(),
        Some("token=QUERYSECRET")
    );
    assert!(
        !serde_json::to_string(&delivery)
            .unwrap()
            .contains("QUERYSECRET")
    );
}

#[tokio::test]
async fn unusable_targets_fail_without_an_attempt() {
    let notifier = Notifier::new(config()).unwrap();
    let bad_url = Target::Webhook {
        url: "not a url".into(),
        format: WebhookFormat::Generic,
    };
    let delivery = notifier.deliver(&notification(), &bad_url).await;
    assert!(delivery.attempts.is_empty());
    assert!(
        matches!(&delivery.status, DeliveryStatus::Failed { reason } if reason.contains("not valid"))
    );

    let ftp = Target::Webhook {
        url: "ftp://example.org/x".into(),
        format: WebhookFormat::Generic,
    };
    let delivery = notifier.deliver(&notification(), &ftp).await;
    assert!(delivery.attempts.is_empty());

    let email = Target::Email {
        to: "oncall@example.org".into(),
    };
    let delivery = notifier.deliver(&notification(), &email).await;
    assert!(delivery.attempts.is_empty());
    assert!(
        matches!(&delivery.status, DeliveryStatus::Failed { reason } if reason.contains("no SMTP server"))
    );
}

#[test]
fn configuration_is_checked_and_never_prints_the_password() {
    let mut smtp = SmtpConfig::plain("127.0.0.1", 25, "Vigil <vigil@example.org>");
    smtp.credentials = Some(SmtpCredentials::new("vigil", "HUNTER2"));
    let config = NotifierConfig {
        smtp: Some(smtp),
        ..config()
    };
    assert!(!format!("{config:?}").contains("HUNTER2"));
    let notifier = Notifier::new(config.clone()).unwrap();
    assert!(!format!("{notifier:?}").contains("HUNTER2"));

    let mut retry = config.retry;
    retry.max_attempts = 0;
    let err = Notifier::new(NotifierConfig {
        retry,
        ..config.clone()
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "retry.max_attempts must be at least 1");

    let mut bad_from = config.smtp.clone().unwrap();
    bad_from.from = "not an address".into();
    let err = Notifier::new(NotifierConfig {
        smtp: Some(bad_from),
        ..config
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("smtp.from `not an address` is not an e-mail address"),
        "{err}"
    );
}

#[test]
fn notifier_is_shareable_and_delivery_can_be_spawned() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let notifier = Notifier::new(config()).unwrap();
    send_sync(&notifier);
    let target = Target::Email {
        to: "oncall@example.org".into(),
    };
    let notification = notification();
    let delivery = notifier.deliver(&notification, &target);
    send(&delivery);
}
