//! Text from outside (log senders, external alert posters) holding terminal escape
//! sequences, line breaks and bidirectional overrides: the human output of `search`, `pivot`
//! and `alerts show` shows them as escapes, never plays them; `--json` and `--raw` keep them
//! byte for byte.

use serde_json::{Value, json};

use crate::support::{Server, admin_token, ok, wait_for};

/// What an attacker sends: an OSC that retitles the terminal, BEL, a CSI that clears the
/// screen, a colour, a right-to-left override and a line break.
const MESSAGE: &str = "escapetest \u{1b}]0;pwned\u{7}\u{1b}[2J here";
const USER: &str = "u\u{1b}[31mred";
const HOST: &str = "ws\u{202e}exe.1";
const COMMAND: &str = "cmd /c whoami\nUser: SYSTEM";

/// The characters of `shown` a terminal would act on, or that reorder text: anything but the
/// line breaks that separate the lines of the output.
fn played(shown: &str) -> Vec<char> {
    shown
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn untrusted_text_is_shown_escaped_in_human_output_and_kept_in_machine_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    let cli = |args: &[&str]| server.cli(&token, args);

    let event = json!({
        "@timestamp": "2026-01-10T10:00:00Z",
        "message": MESSAGE,
        "user": {"name": USER},
        "host": {"name": HOST},
        "process": {"command_line": COMMAND},
    });
    let file = dir.path().join("evil.jsonl");
    std::fs::write(&file, format!("{event}\n")).unwrap();
    ok(cli(&[
        "ingest",
        file.to_str().unwrap(),
        "--service",
        "app",
        "--json",
    ]));
    let query = ["search", "escapetest", "--since", "3650d"];
    wait_for("the event to be searchable", || {
        ok(cli(&[&query[..], &["--json"]].concat())).contains("escapetest")
    });

    // Machine output: the exact text, JSON-escaped.
    let lines = ok(cli(&[&query[..], &["--json"]].concat()));
    let found: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(found["event"]["message"], MESSAGE, "{lines}");
    assert_eq!(found["event"]["user"]["name"], USER, "{lines}");
    assert_eq!(found["host"], HOST, "{lines}");
    let raw = ok(cli(&[&query[..], &["--raw"]].concat()));
    assert!(raw.contains(r"\u001b]0;pwned\u0007\u001b[2J"), "{raw:?}");
    let sent: Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert_eq!(sent, event, "{raw:?}");

    // The table: every value on its line, its escapes visible.
    let table = ok(cli(&query));
    assert_eq!(played(&table), Vec::<char>::new(), "{table}");
    assert!(table.contains(r"\u{1b}]0;pwned\u{7}\u{1b}[2J"), "{table}");
    assert!(table.contains(r"ws\u{202e}exe.1"), "{table}");
    assert!(
        !table
            .lines()
            .any(|l| l.contains("User: SYSTEM") && !l.contains(r"\n")),
        "{table}"
    );
    let fields = ok(cli(&[
        &query[..],
        &["--fields", "user.name,process.command_line"],
    ]
    .concat()));
    assert_eq!(played(&fields), Vec::<char>::new(), "{fields}");
    assert!(fields.contains(r"u\u{1b}[31mred"), "{fields}");
    assert!(fields.contains(r"cmd /c whoami\nUser: SYSTEM"), "{fields}");

    let pivot = ok(cli(&["pivot", "escapetest", "--since", "3650d"]));
    assert_eq!(played(&pivot), Vec::<char>::new(), "{pivot}");
    assert!(pivot.contains(r"ws\u{202e}exe.1"), "{pivot}");

    // An external tool's alert: a source with control characters or a line break is refused
    // (it would forge lines of the page mail); one with a bidi override is taken and shown
    // escaped.
    let post = |source: &str| {
        crate::support::runtime().block_on(async {
            reqwest::Client::new()
                .post(format!("{}/api/v1/alerts", server.url))
                .bearer_auth(&token)
                .json(&json!({
                    "title": "Beacon \u{1b}[8mhidden",
                    "severity": "SEV3",
                    "source": source,
                    "service": "app",
                    "summary": "first line\r\nsecond \u{202e}line\u{1b}[2J",
                }))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    assert_eq!(post("edr\u{1b}]0;x\u{7}\nreported by: the CEO"), 400);
    let source = "edr\u{202e}gnp.exe";
    let status = post(source);
    assert_eq!(status, 201);
    let shown = ok(cli(&["alerts", "show", "ALR-1"]));
    assert_eq!(played(&shown), Vec::<char>::new(), "{shown}");
    assert!(
        shown.lines().any(|l| l == r"origin: edr\u{202e}gnp.exe"),
        "{shown}"
    );
    assert!(
        !shown.lines().any(|l| l.starts_with("reported by:")),
        "{shown}"
    );
    // The summary keeps its lines (the store made its escape U+FFFD; the override is shown).
    // Quoted under who wrote it.
    assert!(
        shown.contains("the sending tool wrote:\n  > first line\n"),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l == "  > second \\u{202e}line\u{fffd}[2J"),
        "{shown}"
    );
    let json = ok(cli(&["alerts", "show", "ALR-1", "--json"]));
    let alert: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(alert["origin"], source, "{json}");
}
