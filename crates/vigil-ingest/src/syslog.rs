//! Syslog listeners: RFC 6587 over TCP and one message per datagram over UDP, feeding
//! [`Ingestor::ingest_raw`].
//!
//! ```text
//! TCP accept ──▶ one task per connection: read ─▶ Framer ─▶ parse ─▶ batch ─▶ ingest_raw (awaited)
//! UDP socket ──▶ one task:          recv_from ─────────────▶ parse ─▶ batch ─▶ ingest_raw (up to
//!                                                                             4 batches at once)
//! ```
//!
//! Each task collects messages into a batch of at most `batch_max_events` events (or about
//! [`BATCH_MAX_BYTES`] of JSON) and stores it when it is full or `batch_max_wait` after its
//! first event arrived. While a batch is being stored a TCP connection reads nothing more, so
//! a slow store slows the sender down instead of growing memory. A TCP connection that sends
//! nothing for `idle_timeout` is closed (senders such as rsyslog reconnect when they next have
//! something to send), and the number of TCP connections is capped by `max_connections`: at the
//! cap a new connection takes the place of the one that has been idle longest, so that
//! connections opened and left idle (by mistake or by an attacker) cannot shut real senders
//! out. A UDP sender cannot be slowed down — the kernel drops what
//! the socket cannot hold — so the UDP task reads on while up to
//! [`UDP_BATCHES_IN_FLIGHT`] batches are being stored (a store waits for the disk, or for
//! correlation windows being rebuilt), and only beyond that stops reading.
//!
//! A message that breaks the syslog grammar (a priority out of range, an APP-NAME too long, a
//! leap second) is kept as it came (bytes that are not UTF-8 as U+FFFD, with `invalid_utf8`,
//! as a parsed message has it), as unparsed text from its sender, as RFC 3164 asks of a
//! relay (section 4.3.3) — a security event is not lost over a detail of its header — and
//! logged (a few warnings a minute, the rest at debug). An empty message, one over the size
//! limit, a frame the framer had to skip and an event the pipeline refuses are counted as
//! rejected and logged alike; none of them closes the connection. A read error closes only its connection. A batch the store
//! cannot take is logged with `error!` and counted as lost; the listener keeps running.
//!
//! Every event gets the envelope: service = the configured service, else the message's
//! APP-NAME (or RFC 3164 tag), else `syslog`; host = the message's HOSTNAME, else (none, or
//! one longer than the 256 bytes an envelope keeps) the sender's IP address; tenant = the
//! configured tenant. Its time is the message's timestamp; a message without one is stamped
//! by the pipeline when it is stored.
//!
//! On shutdown (the watch value becomes `true`, or its sender is dropped) the listeners stop
//! accepting, store the batches they hold, and end; [`SyslogListeners::wait`] returns when they
//! all have. Each TCP connection (and each one still waiting in the listen backlog) is first
//! read until the kernel holds nothing more from its sender, and what it held is stored: TCP
//! had acknowledged it, and closing a socket with unread data throws the data away. That read
//! is bounded by `stop_drain`, so a sender that never pauses cannot hold the stop; what it is
//! still sending then is counted as lost and logged. The UDP listener stops reading at once.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use vigil_events::Framer;
use vigil_events::syslog::{self as sys, FrameError, SyslogMessage, SyslogOptions};
use vigil_events::time::LocalZone;

use crate::error::IngestError;
use crate::pipeline::{Envelope, Ingestor, RawEvent};

/// Default cap on one message: 64 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Default number of events stored together.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 1000;
/// Default longest wait before a batch that is not full is stored.
pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_millis(50);
/// Default cap on concurrent TCP connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default time a TCP connection may send nothing before it is closed: long enough that a
/// quiet host's connection stays (rsyslog reconnects when it next sends, but may lose that
/// one message if it wrote it to a connection the server had closed), short enough that
/// forgotten connections do not pile up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// A batch is also stored once its events hold this many bytes of JSON, so a connection holds
/// at most about this much (plus one message) whatever the event count limit.
pub const BATCH_MAX_BYTES: usize = 1024 * 1024;
/// Default longest time a TCP connection is read at a clean stop, for what its sender had
/// already written: long enough to store the few megabytes a receive queue holds, short enough
/// that a sender that never pauses cannot hold the stop for long.
pub const DEFAULT_STOP_DRAIN: Duration = Duration::from_secs(5);
/// At a clean stop, how long a connection whose queue ends inside a message waits for the
/// rest of it: a sender writes a message in pieces that arrive a moment apart.
const PARTIAL_FRAME_GRACE: Duration = Duration::from_millis(100);
/// Pause between looks at the receive queue while waiting for the rest of a message.
const PARTIAL_FRAME_POLL: Duration = Duration::from_millis(5);

/// Batches of datagrams stored at once while the UDP task reads on: what it buffers (at most
/// this many times [`BATCH_MAX_BYTES`]) so that a store that waits does not make the kernel
/// drop datagrams.
pub const UDP_BATCHES_IN_FLIGHT: usize = 4;

/// The source UDP messages are logged under.
const UDP_SOURCE: &str = "udp";

/// The service of messages that name none, when no service is configured.
const FALLBACK_SERVICE: &str = "syslog";
/// Bytes asked of one TCP read.
const READ_CHUNK: usize = 16 * 1024;
/// Warnings about rejected messages let through per [`WARN_WINDOW`]; the rest go to debug.
const WARN_BURST: u32 = 10;
/// The window of [`WARN_BURST`].
const WARN_WINDOW: Duration = Duration::from_secs(60);
/// Pause after a failed `accept` (out of file descriptors) or UDP receive, so the loop does not
/// spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Where and how to listen. Build with [`SyslogConfig::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    /// Listen for TCP (RFC 6587 framing) here; `None`: no TCP listener.
    pub tcp: Option<SocketAddr>,
    /// Listen for UDP datagrams here; `None`: no UDP listener.
    pub udp: Option<SocketAddr>,
    /// The service of every event; `None`: the message's APP-NAME, else `syslog`.
    pub service: Option<String>,
    /// The tenant of every event (may be empty).
    pub tenant: String,
    /// Longest message (TCP frame or datagram) accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most events stored in one batch.
    pub batch_max_events: usize,
    /// Longest time a message waits in a batch that is not full.
    pub batch_max_wait: Duration,
    /// Most TCP connections open at once; at the cap a new connection takes the place of the
    /// one idle longest, which is closed.
    pub max_connections: usize,
    /// How long a TCP connection may send nothing before it is closed.
    pub idle_timeout: Duration,
    /// At a clean stop, the longest time each TCP connection is still read for what its
    /// sender had written before it is closed; what is still arriving then is counted as lost.
    pub stop_drain: Duration,
    /// The zone of RFC 3164 times, which carry no offset: the senders' (UTC by default).
    pub zone: LocalZone,
}

impl SyslogConfig {
    /// No listener, no service override, no tenant, messages up to 64 KiB, batches of up to
    /// 1000 events or 50 ms, up to 1024 TCP connections, each closed after 10 minutes without
    /// data and read for up to 5 s at a clean stop.
    pub fn new() -> SyslogConfig {
        SyslogConfig {
            tcp: None,
            udp: None,
            service: None,
            tenant: String::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
            batch_max_wait: DEFAULT_BATCH_MAX_WAIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            stop_drain: DEFAULT_STOP_DRAIN,
            zone: LocalZone::UTC,
        }
    }
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig::new()
    }
}

/// What the listeners did since they started. Once they are idle,
/// `received == stored + rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyslogStats {
    /// Messages received: TCP frames (and parts of a stream the framer skipped) and datagrams.
    pub received: u64,
    /// Events stored durably.
    pub stored: u64,
    /// Messages not stored: unparsable, oversized, refused by the pipeline, or lost.
    pub rejected: u64,
    /// Of `rejected`, the events of batches the store failed to take, and the messages a
    /// sender was still sending when a clean stop had read its connection for `stop_drain`.
    pub lost: u64,
    /// TCP connections closed to make room for a new one because `max_connections` were
    /// open (the one idle longest each time).
    pub evicted_connections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    stored: AtomicU64,
    rejected: AtomicU64,
    lost: AtomicU64,
    evicted_connections: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SyslogStats {
        SyslogStats {
            received: self.received.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            evicted_connections: self.evicted_connections.load(Ordering::Relaxed),
        }
    }
}

/// Lets [`WARN_BURST`] warnings through per [`WARN_WINDOW`], so a misconfigured sender cannot
/// flood the log.
#[derive(Debug)]
struct WarnLimit {
    /// (window start, warnings in the window, warnings held back since the last one let
    /// through); shared by every listener task, held only to update the numbers.
    state: Mutex<(Instant, u32, u64)>,
}

impl WarnLimit {
    fn new() -> WarnLimit {
        WarnLimit {
            state: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    /// `Some(held back before this one)` when a warning may be logged, `None` when it should
    /// go to debug.
    fn allow(&self) -> Option<u64> {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (start, count, held) = &mut *state;
        let now = Instant::now();
        if now.duration_since(*start) >= WARN_WINDOW {
            *start = now;
            *count = 0;
        }
        if *count < WARN_BURST {
            *count += 1;
            Some(std::mem::take(held))
        } else {
            *held += 1;
            None
        }
    }
}

/// What every listener task shares.
struct Shared {
    ingestor: Arc<Ingestor>,
    service: Option<String>,
    tenant: String,
    max_message_bytes: usize,
    batch_max_events: usize,
    batch_max_wait: Duration,
    idle_timeout: Duration,
    stop_drain: Duration,
    zone: LocalZone,
    counters: Counters,
    warnings: WarnLimit,
}

/// Reads the counters of running listeners ([`SyslogListeners::stats_source`]).
#[derive(Debug, Clone)]
pub struct SyslogStatsSource(Arc<Shared>);

impl SyslogStatsSource {
    /// The counters so far.
    pub fn stats(&self) -> SyslogStats {
        self.0.counters.snapshot()
    }
}

/// The running listeners. Dropping this does not stop them: signal the shutdown watch, then
/// call [`SyslogListeners::wait`].
#[derive(Debug)]
pub struct SyslogListeners {
    tcp_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl SyslogListeners {
    /// The address the TCP listener is bound to (the real port when port 0 was asked for).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The address the UDP socket is bound to.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The counters so far.
    pub fn stats(&self) -> SyslogStats {
        self.shared.counters.snapshot()
    }

    /// A handle that reads the counters while the listeners run, for whoever reports them
    /// (the server's metrics) without holding the listeners themselves.
    pub fn stats_source(&self) -> SyslogStatsSource {
        SyslogStatsSource(Arc::clone(&self.shared))
    }

    /// Waits until every listener task has ended (after shutdown was signalled, once the
    /// pending batches are stored) and returns the final counters.
    pub async fn wait(self) -> SyslogStats {
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a syslog listener task failed");
            }
        }
        self.shared.counters.snapshot()
    }
}

/// Binds the configured sockets and starts listening. Returns once both are bound; a bind
/// error names the address and the flag to change it. The listeners run until `shutdown`
/// becomes `true` (or its sender is dropped, so keep the sender alive while they should run).
pub async fn start(
    config: SyslogConfig,
    ingestor: Arc<Ingestor>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<SyslogListeners> {
    let tcp = match config.tcp {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| bind_error(e, "TCP", addr, "--syslog-tcp"))?,
        ),
        None => None,
    };
    let udp = match config.udp {
        Some(addr) => Some(
            UdpSocket::bind(addr)
                .await
                .map_err(|e| bind_error(e, "UDP", addr, "--syslog-udp"))?,
        ),
        None => None,
    };
    if let Some(udp) = &udp {
        widen_receive_buffer(udp);
    }
    let tcp_addr = tcp.as_ref().map(TcpListener::local_addr).transpose()?;
    let udp_addr = udp.as_ref().map(UdpSocket::local_addr).transpose()?;
    let shared = Arc::new(Shared {
        ingestor,
        service: config.service.filter(|s| !s.is_empty()),
        tenant: config.tenant,
        max_message_bytes: config.max_message_bytes,
        batch_max_events: config.batch_max_events.max(1),
        batch_max_wait: config.batch_max_wait,
        idle_timeout: config.idle_timeout,
        stop_drain: config.stop_drain,
        zone: config.zone,
        counters: Counters::default(),
        warnings: WarnLimit::new(),
    });
    let mut tasks = Vec::new();
    if let (Some(listener), Some(addr)) = (tcp, tcp_addr) {
        tracing::info!(%addr, "listening for syslog over TCP");
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Arc::clone(&shared),
            config.max_connections.max(1),
            shutdown.clone(),
        )));
    }
    if let (Some(socket), Some(addr)) = (udp, udp_addr) {
        tracing::info!(%addr, "listening for syslog over UDP");
        tasks.push(tokio::spawn(udp_loop(
            socket,
            Arc::clone(&shared),
            shutdown,
        )));
    }
    Ok(SyslogListeners {
        tcp_addr,
        udp_addr,
        shared,
        tasks,
    })
}

fn bind_error(e: std::io::Error, proto: &str, addr: SocketAddr, flag: &str) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "cannot listen for syslog over {proto} on {addr}: {e}; pick another address with {flag}"
        ),
    )
}

/// Resolves when shutdown is signalled or the signal's sender is gone. Safe to recreate in
/// every `select!`: it looks at the current value first.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A TCP connection the accept loop keeps track of, to close the one idle longest when the
/// cap is reached.
struct OpenConnection {
    peer: SocketAddr,
    /// When it last sent data, read by the accept loop to find the one idle longest.
    activity: Arc<Activity>,
}

/// What a connection and the accept loop share.
struct Activity {
    /// When the connection was accepted or last read data.
    last_read: Mutex<Instant>,
    /// Told to close the connection to make room for a new one.
    evict: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            last_read: Mutex::new(Instant::now()),
            evict: Notify::new(),
        }
    }

    fn touch(&self) {
        *lock(&self.last_read) = Instant::now();
    }

    fn last_read(&self) -> Instant {
        *lock(&self.last_read)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut open: HashMap<tokio::task::Id, OpenConnection> = HashMap::new();
    loop {
        tokio::select! {
            () = stopping(&mut shutdown) => break,
            Some(done) = connections.join_next_with_id(), if !connections.is_empty() => {
                match done {
                    Ok((id, ())) => {
                        open.remove(&id);
                    }
                    Err(e) => {
                        open.remove(&e.id());
                        tracing::error!(error = %e, "a syslog connection task failed");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if open.len() >= max_connections {
                        make_room(&mut open, &shared, peer, max_connections);
                    }
                    let activity = Arc::new(Activity::new());
                    let task = {
                        let shared = Arc::clone(&shared);
                        let shutdown = shutdown.clone();
                        let activity = Arc::clone(&activity);
                        connections.spawn(async move {
                            serve_connection(stream, peer, &shared, &activity, shutdown).await;
                        })
                    };
                    open.insert(task.id(), OpenConnection { peer, activity });
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept a syslog connection");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            },
        }
    }
    // Connections the kernel completed but the loop had not taken yet may hold messages too;
    // they are read like the others (shutdown is signalled: they drain and close).
    for (stream, peer) in accept_backlog(&listener) {
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, peer, &shared, &Activity::new(), shutdown).await;
        });
    }
    drop(listener);
    while let Some(done) = connections.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a syslog connection task failed");
        }
    }
}

/// The connections waiting in the listener's backlog, taken without waiting: asked of the
/// kernel directly, as tokio's readiness may not have seen them yet. At most the backlog's
/// length (1024 for tokio's listeners).
fn accept_backlog(listener: &TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let socket = socket2::SockRef::from(listener);
    let mut accepted = Vec::new();
    loop {
        let (conn, addr) = match socket.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // WouldBlock: the backlog is empty.
            Err(e) => {
                if e.kind() != std::io::ErrorKind::WouldBlock {
                    tracing::warn!(error = %e, "cannot accept a syslog connection at the stop");
                }
                break;
            }
        };
        let Some(peer) = addr.as_socket() else {
            continue;
        };
        let conn = std::net::TcpStream::from(conn);
        match conn
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(conn))
        {
            Ok(stream) => accepted.push((stream, peer)),
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "cannot read a syslog connection at the stop")
            }
        }
    }
    accepted
}

/// Closes the connection that has been idle longest, to take `newcomer` in its place: senders
/// that keep sending keep their connections, and idle ones cannot lock the others out.
fn make_room(
    open: &mut HashMap<tokio::task::Id, OpenConnection>,
    shared: &Shared,
    newcomer: SocketAddr,
    max_connections: usize,
) {
    let Some(id) = open
        .iter()
        .min_by_key(|(_, connection)| connection.activity.last_read())
        .map(|(id, _)| *id)
    else {
        return;
    };
    let Some(evicted) = open.remove(&id) else {
        return;
    };
    evicted.activity.evict.notify_one();
    shared
        .counters
        .evicted_connections
        .fetch_add(1, Ordering::Relaxed);
    let idle_seconds = evicted.activity.last_read().elapsed().as_secs();
    match shared.warnings.allow() {
        Some(held) => tracing::warn!(
            evicted = %evicted.peer,
            idle_seconds,
            peer = %newcomer,
            max_connections,
            suppressed = held,
            "syslog connection cap reached; closing the connection idle longest to take this one"
        ),
        None => tracing::debug!(
            evicted = %evicted.peer,
            idle_seconds,
            peer = %newcomer,
            "syslog connection cap reached; closing the connection idle longest to take this one"
        ),
    }
}

/// Events waiting to be stored together.
struct Batch {
    events: Vec<RawEvent>,
    bytes: usize,
    /// When the batch must be stored even if it is not full: `batch_max_wait` after its first
    /// event.
    deadline: Option<Instant>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            events: Vec::new(),
            bytes: 0,
            deadline: None,
        }
    }

    fn push(&mut self, event: RawEvent, shared: &Shared) {
        if self.events.is_empty() {
            self.deadline = Some(Instant::now() + shared.batch_max_wait);
        }
        self.bytes += event.json.len();
        self.events.push(event);
    }

    fn is_full(&self, shared: &Shared) -> bool {
        self.events.len() >= shared.batch_max_events || self.bytes >= BATCH_MAX_BYTES
    }

    /// Stores what the batch holds, if anything, and empties it.
    async fn flush(&mut self, shared: &Shared, source: &str) {
        if let Some(events) = self.take() {
            shared.store(events, source).await;
        }
    }

    /// What the batch holds, if anything, leaving it empty.
    fn take(&mut self) -> Option<Vec<RawEvent>> {
        self.deadline = None;
        self.bytes = 0;
        if self.events.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.events))
    }
}

/// Sleeps until the batch's deadline; never resolves for an empty batch.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Shared {
    /// The event for one parsed message from `peer`.
    fn event(&self, message: &SyslogMessage<'_>, peer: IpAddr) -> RawEvent {
        let service = self
            .service
            .clone()
            .or_else(|| {
                message
                    .app_name
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| FALLBACK_SERVICE.to_owned());
        // A HOSTNAME too long for an envelope (RFC 3164 sets no limit) stays in the event's
        // `hostname`; the message is stored from its sender's address, as one naming none.
        let host = message
            .hostname
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= vigil_logs::MAX_ENVELOPE_BYTES)
            .map_or_else(|| peer.to_canonical().to_string(), str::to_owned);
        let time: Option<DateTime<Utc>> = message
            .timestamp_ms()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        RawEvent {
            time,
            envelope: Envelope {
                service,
                host,
                tenant: self.tenant.clone(),
            },
            json: message.to_json_text(),
        }
    }

    /// Parses one message into the batch, or counts and logs it as rejected.
    fn accept(&self, data: &[u8], peer: SocketAddr, now_ms: i64, batch: &mut Batch) {
        Counters::add(&self.counters.received, 1);
        if data.len() > self.max_message_bytes {
            self.reject(
                peer,
                &format_args!(
                    "the message is {} bytes, more than the {}-byte limit; make the sender split it",
                    data.len(),
                    self.max_message_bytes
                ),
            );
            return;
        }
        match sys::parse(data, &SyslogOptions::new(now_ms).in_zone(self.zone.clone())) {
            Ok(message) => batch.push(self.event(&message, peer.ip()), self),
            Err(e @ sys::SyslogError::Empty) => self.reject(peer, &e),
            Err(e) => {
                self.log_warning(
                    &peer.to_string(),
                    &e,
                    "syslog message kept as unparsed text",
                );
                batch.push(self.unparsed(data, &e, peer.ip()), self);
            }
        }
    }

    /// The event for a message that does not parse: its text as it came, why it did not
    /// parse, from the sender's address; stamped when stored.
    fn unparsed(&self, data: &[u8], error: &sys::SyslogError, peer: IpAddr) -> RawEvent {
        let text = String::from_utf8_lossy(sys::message_bytes(data));
        // Bytes that are not UTF-8 were replaced: say so, as a parsed message does.
        let replaced = matches!(text, std::borrow::Cow::Owned(_));
        let mut json = serde_json::json!({
            "syslog_format": "unparsed",
            "message": text,
            "syslog_error": error.to_string(),
        });
        if replaced {
            json[sys::INVALID_UTF8_FIELD] = serde_json::Value::Bool(true);
        }
        RawEvent {
            time: None,
            envelope: Envelope {
                service: self
                    .service
                    .clone()
                    .unwrap_or_else(|| FALLBACK_SERVICE.to_owned()),
                host: peer.to_canonical().to_string(),
                tenant: self.tenant.clone(),
            },
            json: json.to_string(),
        }
    }

    /// Counts one rejected message and logs why.
    fn reject(&self, peer: SocketAddr, reason: &dyn std::fmt::Display) {
        Counters::add(&self.counters.rejected, 1);
        self.log_rejection(&peer.to_string(), reason);
    }

    fn log_rejection(&self, source: &str, reason: &dyn std::fmt::Display) {
        self.log_warning(source, reason, "syslog message rejected");
    }

    /// Logs `what` happened to a message from `source`, and why: a few warnings a minute, the
    /// rest at debug.
    fn log_warning(&self, source: &str, reason: &dyn std::fmt::Display, what: &'static str) {
        match self.warnings.allow() {
            Some(held) => {
                tracing::warn!(peer = source, reason = %reason, suppressed = held, "{what}")
            }
            None => tracing::debug!(peer = source, reason = %reason, "{what}"),
        }
    }

    /// Stores a batch and counts the outcome; a store failure is logged and counted as lost.
    async fn store(&self, events: Vec<RawEvent>, source: &str) {
        let n = events.len();
        match self.ingestor.ingest_raw(events).await {
            Ok(report) => {
                Counters::add(&self.counters.stored, report.stored.len());
                Counters::add(&self.counters.rejected, report.rejected.len());
                for r in &report.rejected {
                    self.log_rejection(source, &r.reason);
                }
            }
            Err(e @ IngestError::Detections(_)) => {
                // The events are durable; only their detections are missing.
                Counters::add(&self.counters.stored, n);
                tracing::error!(peer = source, events = n, error = %e, "syslog detections not recorded");
            }
            Err(e) => {
                Counters::add(&self.counters.rejected, n);
                Counters::add(&self.counters.lost, n);
                tracing::error!(peer = source, events = n, error = %e, "syslog events lost");
            }
        }
    }
}

/// Reads one TCP connection until it closes, fails, sends nothing for the idle timeout, is
/// evicted to make room for a new one, or shutdown is signalled.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    activity: &Activity,
    mut shutdown: watch::Receiver<bool>,
) {
    let source = peer.to_string();
    tracing::debug!(peer = %source, "syslog connection opened");
    let mut framer = Framer::new(shared.max_message_bytes);
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut batch = Batch::new();
    let idle = tokio::time::sleep(shared.idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            () = stopping(&mut shutdown) => {
                drain(&stream, &mut framer, &mut chunk, shared, peer, &mut batch).await;
                break;
            }
            // Closed by the server, after a silence: the message its sender left without a
            // line feed is whole by now, and stored as at the sender's own close.
            () = activity.evict.notified() => {
                take_unterminated(&mut framer, shared, peer, &mut batch);
                break;
            }
            () = &mut idle => {
                tracing::debug!(
                    peer = %source,
                    idle_seconds = shared.idle_timeout.as_secs(),
                    "closing an idle syslog connection"
                );
                take_unterminated(&mut framer, shared, peer, &mut batch);
                break;
            }
            () = until(batch.deadline) => batch.flush(shared, &source).await,
            read = stream.read(&mut chunk) => match read {
                Ok(0) => {
                    take_unterminated(&mut framer, shared, peer, &mut batch);
                    break;
                }
                Ok(n) => {
                    activity.touch();
                    idle.as_mut().reset(Instant::now() + shared.idle_timeout);
                    framer.extend(&chunk[..n]);
                    let now_ms = Utc::now().timestamp_millis();
                    while let Some(next) = framer.next_frame() {
                        match next {
                            Ok(frame) => shared.accept(frame.data, peer, now_ms, &mut batch),
                            Err(e) => frame_error(shared, peer, &e),
                        }
                        if batch.is_full(shared) {
                            // Nothing more is read from this sender while the batch is stored.
                            batch.flush(shared, &source).await;
                        }
                    }
                }
                Err(e) => {
                    if shared.warnings.allow().is_some() {
                        tracing::warn!(peer = %source, error = %e, "syslog connection failed; closing it");
                    } else {
                        tracing::debug!(peer = %source, error = %e, "syslog connection failed; closing it");
                    }
                    break;
                }
            },
        }
    }
    batch.flush(shared, &source).await;
    tracing::debug!(peer = %source, "syslog connection closed");
}

/// At a clean stop, reads what the connection's sender had written before closing it: closing
/// a socket with unread data resets the connection and the kernel throws the data away, though
/// TCP had acknowledged it. Reads until the receive queue is empty at a message boundary (the
/// rest of a message cut by the queue's end is waited for a moment, then handled as at the
/// sender's close), or the end of stream, storing as it goes; after the configured
/// `stop_drain` what the kernel still holds is read and counted as lost, so a sender that never
/// pauses cannot hold the stop.
///
/// The socket is read directly, not through tokio's readiness, which may say "nothing to
/// read" for a moment after data arrived: only the kernel can say the queue is empty.
async fn drain(
    stream: &TcpStream,
    framer: &mut Framer,
    chunk: &mut [u8],
    shared: &Shared,
    peer: SocketAddr,
    batch: &mut Batch,
) {
    let source = peer.to_string();
    let deadline = Instant::now() + shared.stop_drain;
    let socket = socket2::SockRef::from(stream);
    let mut partial_since: Option<Instant> = None;
    loop {
        if Instant::now() >= deadline {
            count_left_as_lost(&socket, framer, chunk, shared, peer);
            return;
        }
        match (&*socket).read(chunk) {
            Ok(0) => break,
            Ok(n) => {
                partial_since = None;
                framer.extend(&chunk[..n]);
                let now_ms = Utc::now().timestamp_millis();
                while let Some(next) = framer.next_frame() {
                    match next {
                        Ok(frame) => shared.accept(frame.data, peer, now_ms, batch),
                        Err(e) => frame_error(shared, peer, &e),
                    }
                    if batch.is_full(shared) {
                        batch.flush(shared, &source).await;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if framer.buffered() == 0 {
                    break;
                }
                let since = *partial_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= PARTIAL_FRAME_GRACE {
                    break;
                }
                tokio::time::sleep(PARTIAL_FRAME_POLL).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(peer = %source, error = %e, "syslog connection failed while read at the stop");
                break;
            }
        }
    }
    take_unterminated(framer, shared, peer, batch);
}

/// At the end of a stop's drain, what the sender is still sending: the message cut short in
/// the framer and the messages the kernel holds now (at most a receive buffer's worth, read
/// without storing) are counted as received and lost, and logged.
fn count_left_as_lost(
    socket: &socket2::SockRef<'_>,
    framer: &mut Framer,
    chunk: &mut [u8],
    shared: &Shared,
    peer: SocketAddr,
) {
    let limit = socket.recv_buffer_size().unwrap_or(READ_CHUNK);
    let mut read = 0usize;
    let mut messages = 0usize;
    while read < limit {
        match (&**socket).read(chunk) {
            Ok(0) => break,
            Ok(n) => {
                read += n;
                framer.extend(&chunk[..n]);
                while framer.next_frame().is_some() {
                    messages += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if framer.finish().is_some() {
        messages += 1;
    }
    if messages == 0 {
        return;
    }
    for counter in [
        &shared.counters.received,
        &shared.counters.rejected,
        &shared.counters.lost,
    ] {
        Counters::add(counter, messages);
    }
    tracing::error!(
        peer = %peer,
        messages,
        drain_seconds = shared.stop_drain.as_secs_f64(),
        "syslog messages lost at the stop: the sender was still sending when the time to read what it had sent ran out; stop or redirect the sender before stopping the server"
    );
}

/// The last message of a closing connection, which its sender ended without a line feed.
fn take_unterminated(framer: &mut Framer, shared: &Shared, peer: SocketAddr, batch: &mut Batch) {
    let now_ms = Utc::now().timestamp_millis();
    match framer.finish() {
        Some(Ok(frame)) => shared.accept(frame.data, peer, now_ms, batch),
        Some(Err(e)) => frame_error(shared, peer, &e),
        None => {}
    }
}

/// A part of the stream the framer dropped: one rejected message. The framer resynchronises
/// by itself, so the connection stays open.
fn frame_error(shared: &Shared, peer: SocketAddr, e: &FrameError) {
    Counters::add(&shared.counters.received, 1);
    shared.reject(peer, e);
}

/// The receive buffer asked for the syslog UDP socket. A UDP sender cannot be slowed down:
/// what arrives while the listener is busy waits in this buffer or is dropped by the kernel, and
/// the default (about 200 KiB, a thousand datagrams) fills in a few milliseconds of a burst.
const UDP_RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// Asks for [`UDP_RECEIVE_BUFFER_BYTES`] of receive buffer; the kernel caps it
/// (`net.core.rmem_max` on Linux), and a smaller buffer than asked is logged with the way to
/// raise it.
fn widen_receive_buffer(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER_BYTES) {
        tracing::warn!(error = %e, "could not enlarge the syslog UDP receive buffer; bursts may be dropped");
        return;
    }
    // Linux reports twice the size asked for, doubled for its bookkeeping, capped at twice
    // `net.core.rmem_max`: half of what it reports is what was granted.
    let granted = socket.recv_buffer_size().map(|reported| {
        if cfg!(target_os = "linux") {
            reported / 2
        } else {
            reported
        }
    });
    match granted {
        Ok(granted) if granted < UDP_RECEIVE_BUFFER_BYTES => tracing::warn!(
            granted,
            asked = UDP_RECEIVE_BUFFER_BYTES,
            "the kernel granted a smaller syslog UDP receive buffer than asked; raise net.core.rmem_max to absorb larger bursts"
        ),
        Ok(granted) => tracing::debug!(granted, "syslog UDP receive buffer"),
        Err(e) => tracing::debug!(error = %e, "could not read the syslog UDP receive buffer size"),
    }
}

/// Reads datagrams, one message each, until shutdown, storing up to
/// [`UDP_BATCHES_IN_FLIGHT`] batches at once.
async fn udp_loop(socket: UdpSocket, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    // One byte more than the limit, to tell an oversized datagram from one that fits exactly
    // (the kernel truncates a datagram to the buffer).
    let mut buf = vec![0u8; shared.max_message_bytes.saturating_add(1).min(65_536)];
    let mut batch = Batch::new();
    let mut storing = JoinSet::new();
    loop {
        tokio::select! {
            () = stopping(&mut shutdown) => break,
            Some(stored) = storing.join_next(), if !storing.is_empty() => udp_stored(stored),
            () = until(batch.deadline) => store_behind(&mut storing, &shared, &mut batch).await,
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, peer)) => {
                    let now_ms = Utc::now().timestamp_millis();
                    shared.accept(&buf[..n], peer, now_ms, &mut batch);
                    if batch.is_full(&shared) {
                        store_behind(&mut storing, &shared, &mut batch).await;
                    }
                }
                Err(e) => {
                    // ICMP errors and the like on some platforms; the socket keeps working.
                    tracing::debug!(error = %e, "syslog UDP receive failed");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            },
        }
    }
    store_behind(&mut storing, &shared, &mut batch).await;
    while let Some(stored) = storing.join_next().await {
        udp_stored(stored);
    }
}

/// Stores the UDP batch in a task of its own, once fewer than [`UDP_BATCHES_IN_FLIGHT`] are
/// being stored.
async fn store_behind(storing: &mut JoinSet<()>, shared: &Arc<Shared>, batch: &mut Batch) {
    let Some(events) = batch.take() else {
        return;
    };
    while storing.len() >= UDP_BATCHES_IN_FLIGHT {
        if let Some(stored) = storing.join_next().await {
            udp_stored(stored);
        }
    }
    let shared = Arc::clone(shared);
    storing.spawn(async move { shared.store(events, UDP_SOURCE).await });
}

/// Logs a UDP store task that panicked (a store that failed has logged itself).
fn udp_stored(stored: Result<(), tokio::task::JoinError>) {
    if let Err(e) = stored {
        tracing::error!(error = %e, "a syslog UDP store task failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Connections the kernel completed but nobody accepted are taken at the stop, with what
    /// their senders wrote still readable.
    #[tokio::test]
    async fn the_backlog_is_taken_without_waiting() {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut senders = Vec::new();
        for i in 0..3 {
            let mut sender = std::net::TcpStream::connect(addr).unwrap();
            sender
                .write_all(format!("message {i}\n").as_bytes())
                .unwrap();
            senders.push(sender);
        }
        let accepted = accept_backlog(&listener);
        assert_eq!(accepted.len(), 3);
        for (i, (mut stream, peer)) in accepted.into_iter().enumerate() {
            assert_eq!(peer, senders[i].local_addr().unwrap());
            let mut text = [0u8; 10];
            stream.read_exact(&mut text).await.unwrap();
            assert_eq!(&text, format!("message {i}\n").as_bytes());
        }
        assert!(accept_backlog(&listener).is_empty());
    }
}
