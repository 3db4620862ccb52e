//! Helpers to run the real `vigil` binary: one-shot commands and a `vigil serve` child process
//! on a free loopback port (read back from its "listening on" line).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub use vigil_testkit::RULE_REPEATED_FAILURES;

/// A medium-level Windows process-creation rule (whoami.exe), used by several tests.
pub const RULE_WHOAMI: &str = r#"title: Whoami Run
id: 11111111-1111-1111-1111-111111111111
level: medium
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
"#;

/// A two-thread runtime for tests that drive the server with many requests at once.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The binary under test.
pub fn vigil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    own_environment(&mut cmd);
    cmd
}

/// Leaves out the settings of the environment the tests run in.
fn own_environment(cmd: &mut Command) {
    cmd.env_remove("VIGIL_TOKEN")
        .env_remove("VIGIL_SERVER")
        .env_remove("VIGIL_DATA")
        .env_remove("VIGIL_LISTEN")
        .env_remove("VIGIL_TIMEZONE")
        .env("RUST_LOG", "warn");
}

/// Runs `vigil ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    vigil().args(args).output().expect("run vigil")
}

/// Runs `command` to completion with `input` written to its standard input, as a pipe would.
pub fn output_with_input(command: &mut Command, input: Vec<u8>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vigil");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("run vigil");
    // The command may stop reading early (a refused input): a broken pipe is its business.
    let _ = writer.join();
    out
}

/// Stdout as text, after asserting success.
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "vigil failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Creates a token with `vigil admin token` and returns it.
pub fn admin_token(data: &Path, role: &str, name: &str) -> String {
    let out = ok(run(&[
        "admin",
        "token",
        "--data",
        data.to_str().unwrap(),
        "--role",
        role,
        "--name",
        name,
    ]));
    out.lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("vgl_")))
        .unwrap_or_else(|| panic!("no token in output: {out}"))
        .to_owned()
}

/// A running `vigil serve`; killed when dropped.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `vigil serve --data DATA --listen 127.0.0.1:0` and waits until it listens.
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Starts `vigil serve --data DATA --listen 127.0.0.1:0 EXTRA...` and waits until it
    /// listens.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        Server::start_on(data, "127.0.0.1:0", extra)
    }

    /// Starts `vigil serve --data DATA --listen LISTEN EXTRA...` and waits until it listens.
    pub fn start_on(data: &Path, listen: &str, extra: &[&str]) -> Server {
        Server::launch(data, listen, extra, true)
    }

    /// Starts `vigil serve --data DATA` on a free port, waits until it listens, then closes its
    /// stdout (as `vigil serve | head -2` would).
    pub fn start_then_close_stdout(data: &Path) -> Server {
        Server::launch(data, "127.0.0.1:0", &[], false)
    }

    /// Starts `vigil serve --data DATA` on a free port, no file of which may grow past
    /// `blocks` 512-byte blocks (`ulimit -f`, SIGXFSZ ignored): a write beyond fails as on a
    /// full disk (EFBIG), while everything else works.
    pub fn start_with_file_size_limit(data: &Path, blocks: u64) -> Server {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_vigil"));
        own_environment(&mut shell);
        Server::spawn(shell, data, "127.0.0.1:0", &[], true)
    }

    /// Sends SIGTERM (`kill -TERM`) and waits for the server to end.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.child.wait().unwrap()
    }

    fn launch(data: &Path, listen: &str, extra: &[&str], keep_stdout: bool) -> Server {
        Server::spawn(vigil(), data, listen, extra, keep_stdout)
    }

    /// Runs `COMMAND serve --data DATA --listen LISTEN EXTRA...` and waits until it listens.
    fn spawn(
        mut command: Command,
        data: &Path,
        listen: &str,
        extra: &[&str],
        keep_stdout: bool,
    ) -> Server {
        let mut child = command
            .args([
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                listen,
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vigil serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("vigil serve exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        if keep_stdout {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
        }
        Server { child, url }
    }

    /// `vigil ARGS --server URL --token TOKEN`.
    pub fn cli(&self, token: &str, args: &[&str]) -> Output {
        self.command(token, args).output().expect("run vigil")
    }

    /// `vigil ARGS --server URL --token TOKEN` with `input` piped to its standard input.
    pub fn cli_with_input(&self, token: &str, args: &[&str], input: Vec<u8>) -> Output {
        output_with_input(&mut self.command(token, args), input)
    }

    /// The command [`Server::cli`] runs, to set its environment first.
    pub fn command(&self, token: &str, args: &[&str]) -> Command {
        let mut command = vigil();
        command
            .args(args)
            .args(["--server", &self.url, "--token", token]);
        command
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Changes one audit row by hand, as an attacker with file access would.
pub fn tamper_audit(data: &Path) {
    assert_eq!(
        edit_by_hand(data, "UPDATE audit SET actor = 'mallory' WHERE seq = 2"),
        1
    );
}

/// Runs `sql` on the data directory's database as someone with write access to it would
/// (the `sqlite3` shell, say); the rows it changed.
pub fn edit_by_hand(data: &Path, sql: &str) -> u64 {
    let db = data.join("vigil.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let changed = sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        changed.rows_affected()
    })
}

/// Every incident in a data directory, read through the store as a fresh process would.
pub async fn all_incidents(data: &Path) -> Vec<vigil_core::Incident> {
    use vigil_store::Store;
    let store = vigil_store::SqliteStore::open_existing(data).await.unwrap();
    let filter = vigil_store::IncidentFilter {
        limit: 500,
        ..Default::default()
    };
    let page = store.list_incidents(&filter).await.unwrap();
    assert!(page.total <= 500, "more incidents than one page");
    page.items
}

/// Polls `ready` every 100 ms for up to 20 s; then panics naming `what`.
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
