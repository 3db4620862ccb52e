//! E-mail against a real SMTP server (aiosmtpd on loopback): the message as received, and the
//! failure modes.

use vigil_notify::{
    DeliveryStatus, Notifier, NotifierConfig, Outcome, SmtpConfig, Target, TargetRecord,
};

use crate::{config, notification};
use vigil_testkit::{SmtpReceiver, closed_port};

fn notifier(port: u16, html: bool) -> Notifier {
    let mut smtp = SmtpConfig::plain("127.0.0.1", port, "Vigil Alerts <vigil@alerts.example.org>");
    smtp.html = html;
    Notifier::new(NotifierConfig {
        smtp: Some(smtp),
        ..config()
    })
    .unwrap()
}

/// The header block of a raw message, unfolded, as (lowercase name, value).
fn headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_lowercase(), v.trim().to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Every `MIME-Version` header's value: RFC 2045 asks for exactly one.
fn mime_versions(headers: &[(String, String)]) -> Vec<&str> {
    headers
        .iter()
        .filter(|(k, _)| k == "mime-version")
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn message_arrives_with_subject_addresses_and_body() {
    let server = SmtpReceiver::start();
    let target = Target::Email {
        to: "On-call <oncall@example.org>".into(),
    };
    let delivery = notifier(server.port, false)
        .deliver(&notification(), &target)
        .await;

    assert_eq!(delivery.status, DeliveryStatus::Delivered, "{delivery:?}");
    assert_eq!(delivery.attempts.len(), 1);
    let Outcome::Smtp { code, message } = &delivery.attempts[0].outcome else {
        panic!("{delivery:?}")
    };
    assert_eq!(*code, 250);
    assert!(message.contains("Message accepted"), "{message}");
    assert_eq!(
        delivery.target,
        TargetRecord::Email {
            to: "On-call <oncall@example.org>".into()
        }
    );

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (raw, envelope) = &messages[0];
    assert_eq!(envelope["mail_from"], "vigil@alerts.example.org");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["oncall@example.org"])
    );

    let headers = headers(raw);
    assert_eq!(
        header(&headers, "subject"),
        "[SEV2] Brute force on vpn-1 (ALR-12)"
    );
    assert_eq!(
        header(&headers, "from"),
        "\"Vigil Alerts\" <vigil@alerts.example.org>"
    );
    assert_eq!(header(&headers, "to"), "On-call <oncall@example.org>");
    let message_id = header(&headers, "message-id");
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@alerts.example.org>"),
        "{message_id}"
    );
    assert!(!header(&headers, "date").is_empty());
    assert!(
        header(&headers, "content-type").starts_with("text/plain"),
        "{raw}"
    );
    // Without it a reader takes the body for RFC 822 text and shows the quoted-printable
    // encoding of the link (`=3D`, soft breaks) as it is.
    assert_eq!(mime_versions(&headers), ["1.0"], "{raw}");

    let body = raw.split_once("\r\n\r\n").unwrap().1;
    for line in [
        "Brute force on vpn-1",
        "Severity: SEV2",
        "Service:  vpn",
        "Key:      ALR-12",
        "host: vpn-1",
        "rule: Multiple failed logins",
        "Acknowledge: https://vigil.example.org/alerts/ALR-12/ack",
        // Text from outside Vigil last, quoted under its label.
        "Details:",
        "> 42 failed logins for admin from 203.0.113.7 in 5 minutes.",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "no line {line:?} in\n{body}"
        );
    }
}

#[tokio::test]
async fn html_alternative_when_configured() {
    let server = SmtpReceiver::start();
    let target = Target::Email {
        to: "oncall@example.org".into(),
    };
    let delivery = notifier(server.port, true)
        .deliver(&notification(), &target)
        .await;
    assert!(delivery.is_delivered(), "{delivery:?}");

    let (raw, _) = &server.messages()[0];
    assert!(
        header(&headers(raw), "content-type").starts_with("multipart/alternative"),
        "{raw}"
    );
    assert_eq!(mime_versions(&headers(raw)), ["1.0"], "{raw}");
    assert!(raw.contains("Content-Type: text/plain"), "{raw}");
    assert!(raw.contains("Content-Type: text/html"), "{raw}");
    assert!(
        raw.contains("<h2>[SEV2] Brute force on vpn-1</h2>"),
        "{raw}"
    );
}

#[tokio::test]
async fn permanent_rejection_is_not_retried() {
    let server = SmtpReceiver::start();
    let target = Target::Email {
        to: "reject@example.org".into(),
    };
    let delivery = notifier(server.port, false)
        .deliver(&notification(), &target)
        .await;

    assert_eq!(delivery.attempts.len(), 1, "{delivery:?}");
    let Outcome::Smtp { code, message } = &delivery.attempts[0].outcome else {
        panic!("{delivery:?}")
    };
    assert_eq!(*code, 550);
    assert!(message.contains("No such user here"), "{message}");
    let DeliveryStatus::Failed { reason } = &delivery.status else {
        panic!("{delivery:?}")
    };
    assert!(
        reason.starts_with("SMTP 550") && reason.ends_with("not retried"),
        "{reason}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn transient_rejection_is_retried() {
    let server = SmtpReceiver::start();
    let target = Target::Email {
        to: "tempfail@example.org".into(),
    };
    let delivery = notifier(server.port, false)
        .deliver(&notification(), &target)
        .await;

    let codes: Vec<u16> = delivery
        .attempts
        .iter()
        .map(|a| match a.outcome {
            Outcome::Smtp { code, .. } => code,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(codes, [451, 451, 451]);
    let DeliveryStatus::Failed { reason } = &delivery.status else {
        panic!("{delivery:?}")
    };
    assert!(reason.ends_with("gave up after 3 attempts"), "{reason}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_failed() {
    let target = Target::Email {
        to: "oncall@example.org".into(),
    };
    let closed = closed_port();
    let delivery = notifier(closed.port, false)
        .deliver(&notification(), &target)
        .await;

    assert_eq!(delivery.attempts.len(), 3, "{delivery:?}");
    for attempt in &delivery.attempts {
        let Outcome::Error { message } = &attempt.outcome else {
            panic!("{attempt:?}")
        };
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }
    let DeliveryStatus::Failed { reason } = &delivery.status else {
        panic!("{delivery:?}")
    };
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(reason.ends_with("gave up after 3 attempts"), "{reason}");
}

#[tokio::test]
async fn silent_server_times_out() {
    // The kernel accepts the connection; no greeting ever comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut smtp = SmtpConfig::plain("127.0.0.1", port, "vigil@alerts.example.org");
    smtp.hello_name = Some("vigil.test".into());
    let config = NotifierConfig {
        attempt_timeout: std::time::Duration::from_millis(300),
        retry: vigil_notify::RetryPolicy {
            max_attempts: 2,
            ..config().retry
        },
        smtp: Some(smtp),
        ..config()
    };
    let target = Target::Email {
        to: "oncall@example.org".into(),
    };
    let delivery = Notifier::new(config)
        .unwrap()
        .deliver(&notification(), &target)
        .await;

    assert_eq!(delivery.attempts.len(), 2, "{delivery:?}");
    for attempt in &delivery.attempts {
        assert_eq!(
            attempt.outcome,
            Outcome::Timeout { after_ms: 300 },
            "{attempt:?}"
        );
    }
    assert!(!delivery.is_delivered());
    drop(listener);
}
