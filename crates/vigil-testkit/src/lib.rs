//! Real receivers for the integration tests of several crates (principle: real parts, not
//! mocks): Debian's aiosmtpd as a child process on a free loopback port; the Sigma rules those
//! tests share; and the seeded generator of the tests that feed random and mutated input.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A failed logon (`outcome: failure`, generate: false) and a correlation over it: two
/// failures of one `user` within an hour.
pub const RULE_REPEATED_FAILURES: &str = "title: Failed logon
id: failed
name: failed_logon
logsource:
  product: linux
detection:
  sel:
    outcome: failure
  condition: sel
---
title: Repeated failures
id: repeated
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [user]
  timespan: 1h
  condition:
    gte: 2
level: high
";

/// aiosmtpd on a free loopback port, killed on drop. RCPT to `reject…@` is refused with 550,
/// to `tempfail…@` with 451; each accepted message is written to `N.eml` with its envelope in
/// `N.json` (`mail_from`, `rcpt_tos`, and `login`: the user that logged in, or null). Started
/// with [`SmtpReceiver::start_with_login`], it takes mail only after AUTH PLAIN or LOGIN with
/// that user and password, which it accepts over the plain connection (it has no TLS).
pub struct SmtpReceiver {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

const SERVER: &str = r#"
import asyncio, json, os, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        if address.startswith("tempfail"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.out, str(self.count))
        with open(base + ".json.tmp", "w") as f:
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted"

def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return check
async def main():
    handler = Handler(sys.argv[1])
    loop = asyncio.get_running_loop()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    login = {}
    if len(sys.argv) > 3:
        user, password = sys.argv[3].encode(), open(sys.argv[4], "rb").read()
        login = {"auth_required": True, "auth_require_tls": False, "authenticator": authenticator(user, password)}
    server = await loop.create_server(lambda: SMTP(handler, hostname="smtp.test", **login), "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

impl SmtpReceiver {
    pub fn start() -> Self {
        Self::listen(0, None)
    }

    /// A relay that takes mail only from `user` logged in with `password`.
    pub fn start_with_login(user: &str, password: &str) -> Self {
        Self::listen(0, Some((user, password)))
    }

    /// On `port`: a mail relay that was down (a [`ClosedPort`], dropped just before) coming
    /// back where the server under test was told it is.
    pub fn start_on(port: u16) -> Self {
        Self::listen(port, None)
    }

    fn listen(port: u16, login: Option<(&str, &str)>) -> Self {
        let python = python_with_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtpd.py");
        std::fs::write(&script, SERVER).unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        let log = std::fs::File::create(dir.path().join("smtpd.log")).unwrap();
        let mut command = Command::new(&python);
        command.arg(&script).arg(&mail).arg(port.to_string());
        if let Some((user, password)) = login {
            // The password in a file, as the server under test is given it.
            let file = dir.path().join("password");
            std::fs::write(&file, password).unwrap();
            command.arg(user).arg(file);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        // The first line is the port, once the socket listens; EOF if the server died.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("smtpd.log")).unwrap_or_default();
            panic!("aiosmtpd did not start: {log}");
        };
        SmtpReceiver { port, child, dir }
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Every accepted message as (raw message, envelope), in order of arrival.
    pub fn messages(&self) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.mail_dir().join(format!("{n}.eml"));
            if !eml.exists() {
                break;
            }
            let envelope = read_json(&self.mail_dir().join(format!("{n}.json")));
            out.push((std::fs::read_to_string(eml).unwrap(), envelope));
        }
        out
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Debian's python3-aiosmtpd lives in /usr/bin/python3's dist-packages, which a `python3`
/// earlier on PATH (pyenv) does not see.
fn python_with_aiosmtpd() -> String {
    for python in ["/usr/bin/python3", "python3"] {
        let found = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return python.to_owned();
        }
    }
    panic!("no python3 with aiosmtpd: apt-get install -y python3-aiosmtpd (as .ci/run does)");
}

/// A loopback port with nothing listening on it, held for as long as the value lives: its
/// socket is bound but never listens, so a connection to it is refused and no test running
/// beside it is given the port for a listener of its own (a port merely freed could be).
pub struct ClosedPort {
    _socket: socket2::Socket,
    /// The port.
    pub port: u16,
}

/// See [`ClosedPort`].
pub fn closed_port() -> ClosedPort {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any_port.into()).unwrap();
    let port = socket
        .local_addr()
        .unwrap()
        .as_socket()
        .map(|a| a.port())
        .unwrap();
    ClosedPort {
        _socket: socket,
        port,
    }
}

/// A small deterministic generator (xorshift64*) for the tests that feed random and mutated
/// input to the parsers, so that they need no extra crate and every failure reproduces from
/// its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `seed` with one to four edits: a byte replaced by any byte or by one of `alphabet` (the
    /// input language's own symbols, which reach deeper than random bytes), a byte of
    /// `alphabet` inserted, or the rest cut off.
    pub fn mutate(&mut self, seed: &[u8], alphabet: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(v.len() + 1);
            match self.below(4) {
                0 if at < v.len() => v[at] = self.below(256) as u8,
                1 if at < v.len() => v[at] = alphabet[self.below(alphabet.len())],
                2 => v.truncate(at),
                _ => v.insert(at.min(v.len()), alphabet[self.below(alphabet.len())]),
            }
        }
        v
    }
}
