//! The syslog listeners over loopback: RFC 3164 lines and RFC 5424 octet-counted frames over
//! TCP, datagrams over UDP, malformed and oversized messages among good ones, batching,
//! shutdown, the connection cap and idle timeout, bind errors, and garbage that must not stop them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use vigil_ingest::syslog::{self, SyslogConfig, SyslogListeners, SyslogStats};
use vigil_logs::StoredEvent;

use crate::support::{Harness, SSH_RULE_ID, eventually};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(h: &Harness, config: SyslogConfig) -> (SyslogListeners, watch::Sender<bool>) {
    let (stop, shutdown) = watch::channel(false);
    let listeners = syslog::start(config, Arc::clone(&h.ingestor), shutdown)
        .await
        .expect("the listeners start");
    (listeners, stop)
}

/// An octet-counted frame (RFC 6587 §3.4.1).
fn counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

async fn send_datagram(to: SocketAddr, message: &str) {
    let socket = UdpSocket::bind(loopback()).await.expect("bind sender");
    socket
        .send_to(message.as_bytes(), to)
        .await
        .expect("send datagram");
}

/// Stored events keyed by their `message`.
fn by_message(events: Vec<StoredEvent>) -> HashMap<String, StoredEvent> {
    events
        .into_iter()
        .map(|e| {
            let json: serde_json::Value = serde_json::from_str(&e.json).expect("stored JSON");
            let message = json["message"].as_str().expect("a message key").to_owned();
            (message, e)
        })
        .collect()
}

fn check(
    events: &HashMap<String, StoredEvent>,
    message: &str,
    service: &str,
    host: &str,
    tenant: &str,
) -> StoredEvent {
    let e = events
        .get(message)
        .unwrap_or_else(|| panic!("{message:?} was not stored; stored: {:?}", events.keys()));
    assert_eq!(
        (e.service.as_str(), e.host.as_str(), e.tenant.as_str()),
        (service, host, tenant),
        "envelope of {message:?}"
    );
    e.clone()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a test time")
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp_messages_are_stored_with_their_envelope_and_detected() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.udp = Some(loopback());
    config.tenant = "acme".into();
    let (listeners, stop) = start(&h, config).await;
    let tcp = listeners.tcp_addr().expect("a TCP address");
    let udp = listeners.udp_addr().expect("a UDP address");
    assert_ne!(tcp.port(), 0);
    assert_ne!(udp.port(), 0);
    let before = Utc::now();

    // RFC 3164 lines, newline-framed, a malformed one (there is no 30 February) among them.
    // A year-less timestamp 100 days back resolves to that day's year.
    let when = before - chrono::Duration::days(100);
    let stamp = when.format("%b %e %H:%M:%S");
    let when = Utc
        .with_ymd_and_hms(
            when.year(),
            when.month(),
            when.day(),
            when.hour(),
            when.minute(),
            when.second(),
        )
        .unwrap();
    let failed_tcp = "Failed password for root from 203.0.113.9 port 52311 ssh2";
    // Cron's line says what the sshd rule looks for, but it is no sshd log: not detected.
    let cron = "(root) CMD (grep -c 'Failed password' /var/log/auth.log)";
    let mut a = TcpStream::connect(tcp).await.expect("connect");
    a.write_all(format!("<38>{stamp} web1 sshd[4242]: {failed_tcp}\n").as_bytes())
        .await
        .unwrap();
    a.write_all(b"<86>Feb 30 10:00:00 web1 sshd[4242]: no such day\r\n")
        .await
        .unwrap();
    a.write_all(format!("<78>{stamp} web1 CRON[77]: {cron}\n").as_bytes())
        .await
        .unwrap();

    // RFC 5424, octet-counted; the first frame arrives in two writes.
    let authorized = "connection authorized: user=app database=orders";
    let m1 = format!(
        "<165>1 2026-01-15T08:30:00.123Z db1 postgres 991 ID47 [meta env=\"prod\"] {authorized}"
    );
    let anonymous = "nothing names the sender";
    let m2 = format!("<14>1 2026-01-15T08:30:01+01:00 - - - - - {anonymous}");
    let mut b = TcpStream::connect(tcp).await.expect("connect");
    let f1 = counted(&m1);
    b.write_all(&f1.as_bytes()[..10]).await.unwrap();
    b.flush().await.unwrap();
    b.write_all(&f1.as_bytes()[10..]).await.unwrap();
    b.write_all(counted(&m2).as_bytes()).await.unwrap();

    // UDP datagrams, one message each.
    let failed_udp = "Failed password for invalid user admin from 198.51.100.7 port 4711 ssh2";
    send_datagram(
        udp,
        &format!("<38>1 2026-01-15T09:00:00Z fw1 sshd 12 - - {failed_udp}"),
    )
    .await;
    let untimed = "no timestamp at all";
    send_datagram(udp, &format!("<38>1 - fw2 - - - - {untimed}\n")).await;

    // A message that breaks the grammar (February 30th) is kept as it came, unparsed.
    let stats = eventually(
        "7 stored",
        || listeners.stats(),
        |s| s.stored == 7 && s.rejected == 0,
    )
    .await;
    assert_eq!(stats.received, 7);
    assert_eq!(stats.lost, 0);
    let after = Utc::now();

    let events = by_message(h.search("*"));
    assert_eq!(events.len(), 7, "{:?}", events.keys());
    let unparsed = check(
        &events,
        "<86>Feb 30 10:00:00 web1 sshd[4242]: no such day",
        "syslog",
        "127.0.0.1",
        "acme",
    );
    let json: serde_json::Value = serde_json::from_str(&unparsed.json).unwrap();
    assert_eq!(json["syslog_format"], "unparsed");
    assert!(
        json["syslog_error"]
            .as_str()
            .unwrap()
            .contains("no such date"),
        "{json}"
    );
    assert!(before <= unparsed.time && unparsed.time <= after);
    let sshd_tcp = check(&events, failed_tcp, "sshd", "web1", "acme");
    assert_eq!(sshd_tcp.time, when);
    assert_eq!(check(&events, cron, "CRON", "web1", "acme").time, when);
    let postgres = check(&events, authorized, "postgres", "db1", "acme");
    assert_eq!(postgres.time, utc("2026-01-15T08:30:00.123Z"));
    let json: serde_json::Value = serde_json::from_str(&postgres.json).unwrap();
    assert_eq!(json["structured_data"]["meta"]["env"], "prod");
    assert_eq!(json["syslog_format"], "rfc5424");
    // No HOSTNAME: the sender's address; no APP-NAME: `syslog`.
    let nameless = check(&events, anonymous, "syslog", "127.0.0.1", "acme");
    assert_eq!(nameless.time, utc("2026-01-15T07:30:01Z"));
    let sshd_udp = check(&events, failed_udp, "sshd", "fw1", "acme");
    assert_eq!(sshd_udp.time, utc("2026-01-15T09:00:00Z"));
    // No timestamp: stamped when stored.
    let untimed = check(&events, untimed, "syslog", "fw2", "acme");
    assert!(
        before <= untimed.time && untimed.time <= after,
        "{} not within {before}..{after}",
        untimed.time
    );
    assert_eq!(h.search("service:sshd AND tenant:acme").len(), 2);

    // Both failed logins were detected, each pointing at its stored event; cron's line was
    // not (a syslog line is the Linux log of the program that wrote it).
    let mut detections = h.detections().await;
    detections.sort_by(|x, y| x.detection.host.cmp(&y.detection.host));
    let seen: Vec<_> = detections
        .iter()
        .map(|d| {
            (
                d.detection.rule_id.as_str(),
                d.detection.service.as_str(),
                d.detection.host.as_str(),
                d.detection.tenant.as_str(),
                d.detection.event_id,
                d.detection.event_time,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                SSH_RULE_ID,
                "sshd",
                "fw1",
                "acme",
                sshd_udp.id,
                sshd_udp.time
            ),
            (
                SSH_RULE_ID,
                "sshd",
                "web1",
                "acme",
                sshd_tcp.id,
                sshd_tcp.time
            ),
        ]
    );
    assert_eq!(
        detections[0].detection.tags,
        ["attack.credential_access", "attack.t1110"]
    );

    // The malformed line did not close its connection: it still delivers.
    a.write_all(format!("<38>{stamp} web1 sshd[4242]: still here\n").as_bytes())
        .await
        .unwrap();
    eventually("the 8th event", || listeners.stats(), |s| s.stored == 8).await;
    // What the server's metrics read, without holding the listeners.
    let source = listeners.stats_source();
    assert_eq!(source.stats(), listeners.stats());

    stop.send(true).unwrap();
    let last = listeners.wait().await;
    assert_eq!(source.stats(), last);
    assert_eq!(
        last,
        SyslogStats {
            received: 8,
            stored: 8,
            rejected: 0,
            lost: 0,
            evicted_connections: 0,
        }
    );
}

/// With the senders' zone configured, an RFC 3164 time (which has no offset) is read in it;
/// an RFC 5424 time keeps the offset it carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3164_times_are_read_in_the_senders_zone() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.udp = Some(loopback());
    // India keeps +05:30 all year: the expected instant does not depend on the date.
    config.zone = vigil_events::time::LocalZone::parse("Asia/Kolkata").unwrap();
    let (listeners, stop) = start(&h, config).await;
    let udp = listeners.udp_addr().unwrap();
    let wall = (Utc::now() - chrono::Duration::days(10))
        .with_nanosecond(0)
        .unwrap();
    let stamp = wall.format("%b %e %H:%M:%S");
    send_datagram(udp, &format!("<38>{stamp} web1 sshd[1]: local time")).await;
    send_datagram(
        udp,
        "<38>1 2026-01-15T09:00:00-02:00 fw1 sshd 12 - - offset given",
    )
    .await;
    eventually("2 stored", || listeners.stats(), |s| s.stored == 2).await;
    let events = by_message(h.search("*"));
    let local = check(&events, "local time", "sshd", "web1", "");
    assert_eq!(local.time, wall - chrono::Duration::minutes(330));
    let json: serde_json::Value = serde_json::from_str(&local.json).unwrap();
    assert!(
        json["timestamp"].as_str().unwrap().ends_with("+05:30"),
        "{json}"
    );
    let given = check(&events, "offset given", "sshd", "fw1", "");
    assert_eq!(given.time, utc("2026-01-15T11:00:00Z"));
    stop.send(true).unwrap();
    listeners.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stores_the_batches_in_progress() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.udp = Some(loopback());
    config.service = Some("edge".into());
    config.tenant = "t1".into();
    // Nothing would be stored before shutdown: no batch fills up or times out.
    config.batch_max_events = 1000;
    config.batch_max_wait = Duration::from_secs(3600);
    let (listeners, stop) = start(&h, config).await;
    let tcp = listeners.tcp_addr().unwrap();

    let mut conn = TcpStream::connect(tcp).await.unwrap();
    for i in 0..3 {
        conn.write_all(format!("<13>1 2026-02-01T10:00:0{i}Z gw app - - - tcp {i}\n").as_bytes())
            .await
            .unwrap();
    }
    for i in 0..2 {
        send_datagram(
            listeners.udp_addr().unwrap(),
            &format!("<13>1 2026-02-01T11:00:0{i}Z gw app - - - udp {i}"),
        )
        .await;
    }
    let stats = eventually("5 received", || listeners.stats(), |s| s.received == 5).await;
    assert_eq!(stats.stored, 0, "the batches are still open");

    stop.send(true).unwrap();
    let stats = listeners.wait().await;
    assert_eq!((stats.received, stats.stored, stats.rejected), (5, 5, 0));
    let events = by_message(h.search("*"));
    let mut messages: Vec<_> = events.keys().cloned().collect();
    messages.sort();
    assert_eq!(messages, ["tcp 0", "tcp 1", "tcp 2", "udp 0", "udp 1"]);
    for e in events.values() {
        assert_eq!(
            (e.service.as_str(), e.host.as_str(), e.tenant.as_str()),
            ("edge", "gw", "t1")
        );
    }
    // The listener is closed.
    assert!(TcpStream::connect(tcp).await.is_err());
}

/// What rsyslog sends while a clean stop begins: a burst of octet-counted frames, most still
/// in the kernel's receive queue when the stop is signalled, then the start of a frame whose
/// rest never comes. Every whole frame TCP had taken is stored; the cut one is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_stores_what_tcp_had_taken_before_closing() {
    const FRAMES: usize = 1000;
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    // Small batches: the connection spends its time storing, so the burst waits in the kernel.
    config.batch_max_events = 5;
    config.batch_max_wait = Duration::from_secs(3600);
    let (listeners, stop) = start(&h, config).await;

    let mut conn = TcpStream::connect(listeners.tcp_addr().unwrap())
        .await
        .unwrap();
    let pad = "p".repeat(150);
    let mut burst = String::new();
    for seq in 0..FRAMES {
        burst.push_str(&counted(&format!(
            "<14>1 2026-02-01T10:00:00Z gw app - - - seq={seq} {pad}"
        )));
    }
    burst.push_str("300 <14>1 2026-02-01T10:00:00Z gw app - - - cut sh");
    conn.write_all(burst.as_bytes()).await.unwrap();
    stop.send(true).unwrap();

    let stats = listeners.wait().await;
    assert_eq!(
        (stats.received, stats.stored, stats.rejected, stats.lost),
        (FRAMES as u64 + 1, FRAMES as u64, 1, 0),
        "{stats:?}"
    );
    let mut seqs: Vec<usize> = by_message(h.search("*"))
        .keys()
        .map(|m| {
            let seq = m.strip_prefix("seq=").expect("a burst message");
            seq.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..FRAMES).collect::<Vec<_>>());
    // The connection is closed once its data is stored.
    closed_by_listener(&mut conn).await;
}

/// A sender that never pauses cannot hold a clean stop: after `stop_drain` the connection is
/// closed, and what the kernel still held is counted as lost rather than forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_never_pauses_cannot_hold_the_stop() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.batch_max_events = 1;
    config.stop_drain = Duration::from_millis(300);
    let (listeners, stop) = start(&h, config).await;

    let mut conn = TcpStream::connect(listeners.tcp_addr().unwrap())
        .await
        .unwrap();
    let frame = counted(&format!("<14>1 - gw app - - - {}", "x".repeat(200)));
    let sender = tokio::spawn(async move {
        // Until the listener closes the connection.
        while conn.write_all(frame.as_bytes()).await.is_ok() {}
    });
    eventually("messages stored", || listeners.stats(), |s| s.stored > 0).await;
    stop.send(true).unwrap();

    // A bound against hanging, not a measure of speed.
    let stats = tokio::time::timeout(Duration::from_secs(60), listeners.wait())
        .await
        .expect("the stop ends while the sender still sends");
    assert!(stats.lost > 0, "{stats:?}");
    assert_eq!(stats.received, stats.stored + stats.rejected, "{stats:?}");
    assert_eq!(stats.rejected, stats.lost, "{stats:?}");
    tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("the sender sees the connection closed")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostname_too_long_for_the_envelope_is_stored_from_the_senders_address() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    let (listeners, stop) = start(&h, config).await;
    let long = "h".repeat(300);
    let mut conn = TcpStream::connect(listeners.tcp_addr().unwrap())
        .await
        .unwrap();
    conn.write_all(format!("<13>Dec  6 04:00:00 {long} app: long host\n").as_bytes())
        .await
        .unwrap();
    conn.write_all(b"<13>Dec  6 04:00:01 short app: short host\n")
        .await
        .unwrap();
    let stats = eventually("2 stored", || listeners.stats(), |s| s.stored == 2).await;
    assert_eq!(stats.rejected, 0);
    let events = by_message(h.search("service:app"));
    let e = check(&events, "long host", "app", "127.0.0.1", "");
    let json: serde_json::Value = serde_json::from_str(&e.json).unwrap();
    assert_eq!(json["hostname"], long.as_str(), "the event keeps its own");
    check(&events, "short host", "app", "short", "");
    stop.send(true).unwrap();
    listeners.wait().await;
}

/// A message holding bytes that are not UTF-8 is stored with them replaced by U+FFFD and
/// `invalid_utf8: true`, parsed or kept as unparsed text, so a responder knows its text is not
/// exactly what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_bytes_that_are_not_utf8_is_stored_saying_so() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    let (listeners, stop) = start(&h, config).await;
    let mut conn = TcpStream::connect(listeners.tcp_addr().unwrap())
        .await
        .unwrap();
    conn.write_all(b"<13>1 2026-12-01T10:00:00Z h1 nonutf - - - caf\xe9 latin1\n")
        .await
        .unwrap();
    // A priority over 191: kept as unparsed text.
    conn.write_all(b"<999>caf\xe9 unparsed\n").await.unwrap();
    conn.write_all(b"<13>1 2026-12-01T10:00:01Z h1 utf8 - - - caf\xc3\xa9\n")
        .await
        .unwrap();
    let stats = eventually("3 stored", || listeners.stats(), |s| s.stored == 3).await;
    assert_eq!(stats.rejected, 0);
    let events = by_message(h.search("*"));
    let flag = |message: &str| {
        let e = events
            .get(message)
            .unwrap_or_else(|| panic!("{message:?} stored: {:?}", events.keys()));
        let json: serde_json::Value = serde_json::from_str(&e.json).unwrap();
        json.get("invalid_utf8").cloned()
    };
    assert_eq!(
        flag("caf\u{fffd} latin1"),
        Some(serde_json::Value::Bool(true))
    );
    assert_eq!(
        flag("<999>caf\u{fffd} unparsed"),
        Some(serde_json::Value::Bool(true))
    );
    assert_eq!(flag("café"), None);
    assert_eq!(h.search("invalid_utf8:true").len(), 2);
    stop.send(true).unwrap();
    listeners.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_batches_are_stored_at_once_and_oversized_messages_rejected() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.udp = Some(loopback());
    config.max_message_bytes = 256;
    config.batch_max_events = 2;
    config.batch_max_wait = Duration::from_secs(3600);
    let (listeners, stop) = start(&h, config).await;

    let mut conn = TcpStream::connect(listeners.tcp_addr().unwrap())
        .await
        .unwrap();
    let long = "x".repeat(300);
    let lines = format!(
        "<13>1 - h a - - - one\n<13>1 - h a - - - two\n<13>1 - h a - - - {long}\n\
         <13>1 - h a - - - three\n<13>1 - h a - - - four\n"
    );
    conn.write_all(lines.as_bytes()).await.unwrap();
    send_datagram(
        listeners.udp_addr().unwrap(),
        &format!("<13>1 - h a - - - {long}"),
    )
    .await;
    // Two full batches, stored without waiting for the (hour-long) batch timeout.
    let stats = eventually(
        "4 stored and 2 rejected",
        || listeners.stats(),
        |s| s.stored == 4 && s.rejected == 2,
    )
    .await;
    assert_eq!(stats.received, 6);
    let events = by_message(h.search("service:a"));
    let mut messages: Vec<_> = events.keys().cloned().collect();
    messages.sort();
    assert_eq!(messages, ["four", "one", "three", "two"]);

    stop.send(true).unwrap();
    listeners.wait().await;
}

/// Reads until the listener closes the connection: end of stream or a reset. Fails the test
/// when it is still open after 30 s (a bound against hanging, not a measure of speed).
async fn closed_by_listener(stream: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
        .await
        .expect("the listener closed the connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_new_sender_takes_the_place_of_the_connection_idle_longest() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.max_connections = 2;
    config.batch_max_wait = Duration::from_millis(10);
    let (listeners, stop) = start(&h, config).await;
    let tcp = listeners.tcp_addr().unwrap();

    // Its last message has no line feed: the eviction stores it, as the sender's close would.
    let mut idle_longest = TcpStream::connect(tcp).await.unwrap();
    idle_longest
        .write_all(b"<13>1 - h a - - - first\n<13>1 - h a - - - unterminated")
        .await
        .unwrap();
    eventually("the first message", || listeners.stats(), |s| s.stored == 1).await;
    let mut recent = TcpStream::connect(tcp).await.unwrap();
    recent
        .write_all(b"<13>1 - h a - - - second\n")
        .await
        .unwrap();
    eventually(
        "the second message",
        || listeners.stats(),
        |s| s.stored == 2,
    )
    .await;

    let mut newcomer = TcpStream::connect(tcp).await.unwrap();
    newcomer
        .write_all(b"<13>1 - h a - - - third\n")
        .await
        .unwrap();
    eventually(
        "the newcomer's message and the evicted one's unterminated one",
        || listeners.stats(),
        |s| s.stored == 4,
    )
    .await;
    closed_by_listener(&mut idle_longest).await;
    assert_eq!(listeners.stats().evicted_connections, 1);

    // The connection used more recently still works.
    recent
        .write_all(b"<13>1 - h a - - - fourth\n")
        .await
        .unwrap();
    eventually(
        "the fourth message",
        || listeners.stats(),
        |s| s.stored == 5,
    )
    .await;

    stop.send(true).unwrap();
    listeners.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_for_the_idle_timeout_is_closed() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.idle_timeout = Duration::from_millis(500);
    config.batch_max_wait = Duration::from_millis(10);
    let (listeners, stop) = start(&h, config).await;
    let tcp = listeners.tcp_addr().unwrap();

    let mut silent = TcpStream::connect(tcp).await.unwrap();
    let mut quiet_after_one = TcpStream::connect(tcp).await.unwrap();
    quiet_after_one
        .write_all(b"<13>1 - h a - - - only\n<13>1 - h a - - - no line feed")
        .await
        .unwrap();
    closed_by_listener(&mut silent).await;
    closed_by_listener(&mut quiet_after_one).await;
    // The message left without a line feed is stored when the silence closes the connection.
    eventually("both messages", || listeners.stats(), |s| s.stored == 2).await;

    stop.send(true).unwrap();
    listeners.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_address_is_named_with_the_flag_to_change_it() {
    let h = Harness::new().await;
    let busy_tcp = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = busy_tcp.local_addr().unwrap();
    let mut config = SyslogConfig::new();
    config.tcp = Some(addr);
    let (_stop, shutdown) = watch::channel(false);
    let e = syslog::start(config, Arc::clone(&h.ingestor), shutdown.clone())
        .await
        .expect_err("the TCP address is taken");
    let text = e.to_string();
    assert!(
        text.contains(&addr.to_string()) && text.contains("--syslog-tcp"),
        "{text}"
    );

    let busy_udp = std::net::UdpSocket::bind(loopback()).unwrap();
    let addr = busy_udp.local_addr().unwrap();
    let mut config = SyslogConfig::new();
    config.udp = Some(addr);
    let e = syslog::start(config, Arc::clone(&h.ingestor), shutdown)
        .await
        .expect_err("the UDP address is taken");
    let text = e.to_string();
    assert!(
        text.contains(&addr.to_string()) && text.contains("--syslog-udp"),
        "{text}"
    );
}

/// Garbage over real sockets — random bytes, octet counts that lie (huge, negative, cut
/// short), mutated frames, over many TCP connections and as datagrams — never stops the
/// listeners: a good message sent after it, on a fresh connection and as a datagram, is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_sockets_never_stops_the_listeners() {
    let h = Harness::new().await;
    let mut config = SyslogConfig::new();
    config.tcp = Some(loopback());
    config.udp = Some(loopback());
    config.max_message_bytes = 512;
    config.batch_max_wait = Duration::from_millis(20);
    let (listeners, stop) = start(&h, config).await;
    let (tcp, udp) = (listeners.tcp_addr().unwrap(), listeners.udp_addr().unwrap());

    const SEEDS: &[&[u8]] = &[
        b"<165>1 2003-10-11T22:14:15.003Z host app 1 ID47 [a@1 b=\"c\"] msg\n",
        b"52 <13>1 2026-01-01T00:00:00Z h a - - - counted frame\n",
        b"99999999999999999999 <13>1 - h a - - - a count past any limit",
        b"-5 <13>1 - h a - - - a negative count",
        b"600 <13>1 - h a - - - a count past the message limit",
        b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed on /dev/pts/8\n",
    ];
    const ALPHABET: &[u8] = b"<>0123456789 -:\n\r\0[]\"=\\";
    let mut rng = vigil_testkit::Rng::new(6587);
    for round in 0..60 {
        let mut conn = TcpStream::connect(tcp).await.unwrap();
        for _ in 0..1 + rng.below(8) {
            let bytes = match rng.below(3) {
                0 => (0..rng.below(700)).map(|_| rng.below(256) as u8).collect(),
                _ => {
                    let seed = SEEDS[rng.below(SEEDS.len())];
                    rng.mutate(seed, ALPHABET)
                }
            };
            // The listener may close a connection it cannot frame; that is its right.
            if conn.write_all(&bytes).await.is_err() {
                break;
            }
            if round % 3 == 0 {
                let socket = UdpSocket::bind(loopback()).await.unwrap();
                let _ = socket.send_to(&bytes, udp).await;
            }
        }
        if round % 2 == 0 {
            drop(conn);
        } else {
            let _ = conn.shutdown().await;
        }
    }

    let mut conn = TcpStream::connect(tcp).await.unwrap();
    conn.write_all(b"<13>1 - h after - - - still listening over tcp\n")
        .await
        .unwrap();
    conn.shutdown().await.unwrap();
    send_datagram(udp, "<13>1 - h after - - - still listening over udp").await;
    eventually(
        "both good messages stored",
        || by_message(h.search("service:after")),
        |events| {
            events.contains_key("still listening over tcp")
                && events.contains_key("still listening over udp")
        },
    )
    .await;

    stop.send(true).unwrap();
    listeners.wait().await;
}

/// nginx logging its requests through syslog (`access_log syslog:server=…`): the message is
/// read as the access-log line it is, so SigmaHQ's webserver rule meets it by its W3C fields,
/// and a Linux rule that the request's text would meet does not see it (it is a web request,
/// not a Linux log); a plain syslog line still meets the Linux rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_requests_carried_by_syslog_meet_the_webserver_rules() {
    let traversal = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../../shared/data/sigma/rules/web/webserver_generic/web_path_traversal_exploitation_attempt.yml",
        ),
    )
    .expect("SigmaHQ's path traversal rule");
    let linux = "title: Passwd Read\nid: 0b5a3f1e-7f1c-4b8e-9d61-2a0c2b7d4e11\nlogsource:\n  product: linux\ndetection:\n  keywords:\n    - 'etc/passwd'\n  condition: keywords\nlevel: low\n";
    let h = Harness::with_rules(&format!("{traversal}\n---\n{linux}"), 2).await;
    let mut config = SyslogConfig::new();
    config.udp = Some(loopback());
    let (listeners, stop) = start(&h, config).await;
    let udp = listeners.udp_addr().expect("a UDP address");
    send_datagram(
        udp,
        r#"<190>Dec  3 22:15:10 web-1 nginx: 203.0.113.50 - - [03/Dec/2026:22:15:10 +0000] "GET /index.php?page=../../../etc/passwd HTTP/1.1" 200 1733 "-" "curl/8.5.0""#,
    )
    .await;
    send_datagram(
        udp,
        "<86>Dec  3 22:15:11 web-1 sudo: bob : COMMAND=/bin/cat /etc/passwd",
    )
    .await;
    eventually("2 stored", || listeners.stats(), |s| s.stored == 2).await;
    let request = h.search("cs-uri-stem:/index.php");
    assert_eq!(request.len(), 1);
    assert_eq!(request[0].service, "nginx");
    let mut fired: Vec<(String, String)> = h
        .detections()
        .await
        .into_iter()
        .map(|d| (d.detection.rule_title, d.detection.service))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            ("Passwd Read".to_owned(), "sudo".to_owned()),
            (
                "Path Traversal Exploitation Attempts".to_owned(),
                "nginx".to_owned()
            ),
        ]
    );
    stop.send(true).unwrap();
    listeners.wait().await;
}
