//! The log-store benchmark's events (~550-byte JSON with varied service, host, tenant, user and
//! IP), shared by `benches/logs.rs` and `examples/index_layouts.rs` so both measure the same
//! shape.

use chrono::{TimeZone, Utc};
use vigil_logs::NewEvent;

/// A small deterministic generator (xorshift64*), so runs are comparable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACTIONS: [&str; 6] = [
    "login",
    "logout",
    "file_read",
    "process_start",
    "http_request",
    "dns_query",
];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
pub const WORDS: [&str; 12] = [
    "failed", "accepted", "password", "session", "opened", "closed", "token", "refresh", "denied",
    "granted", "upload", "export",
];

pub fn ip(rng: &mut Rng) -> String {
    let n = rng.below(20_000);
    format!("10.{}.{}.{}", n / 10_000, (n / 100) % 100, n % 100)
}

pub fn make_event(rng: &mut Rng, seq: u64) -> NewEvent {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let time = base + chrono::Duration::milliseconds((seq * 37) as i64);
    let service = format!("svc-{:02}", rng.below(20));
    let host = format!("host-{:03}", rng.below(500));
    let tenant = format!("tenant-{:02}", rng.below(50));
    let user = format!("user{:04}", rng.below(5_000));
    let src = ip(rng);
    let action = ACTIONS[rng.below(6) as usize];
    let message = format!(
        "{} {} for {user} from {src} {}",
        WORDS[rng.below(12) as usize],
        WORDS[rng.below(12) as usize],
        WORDS[rng.below(12) as usize]
    );
    let json = format!(
        concat!(
            r#"{{"@timestamp":"{ts}","event":{{"action":"{action}","outcome":"{outcome}","id":"{id:016x}"}},"#,
            r#""user":{{"name":"{user}","domain":"CORP"}},"source":{{"ip":"{src}","port":{sport}}},"#,
            r#""destination":{{"ip":"{dst}","port":{dport}}},"http":{{"method":"{method}","status":{status},"bytes":{bytes}}},"#,
            r#""url":{{"path":"/api/v1/items/{item}"}},"process":{{"command_line":"C:\\Windows\\System32\\cmd.exe /c echo {item}","pid":{pid}}},"#,
            r#""user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","message":"{message}"}}"#
        ),
        ts = time.to_rfc3339(),
        action = action,
        outcome = if rng.below(10) == 0 {
            "failure"
        } else {
            "success"
        },
        id = rng.next(),
        user = user,
        src = src,
        sport = 1024 + rng.below(60_000),
        dst = ip(rng),
        dport = [22, 80, 443, 3389][rng.below(4) as usize],
        method = METHODS[rng.below(4) as usize],
        status = [200, 200, 200, 302, 404, 500][rng.below(6) as usize],
        bytes = rng.below(100_000),
        item = rng.below(1_000_000),
        pid = rng.below(65_536),
        message = message,
    );
    NewEvent {
        time,
        service,
        host,
        tenant,
        json,
        json_checked: false,
    }
}
