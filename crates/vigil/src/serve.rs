//! `vigil serve`: resolve the settings (flags over `VIGIL_…` environment over defaults), open
//! the data directory (incident store and log store), load the Sigma rules, bind the HTTP and
//! syslog listeners and run until Ctrl-C or SIGTERM; SIGHUP reloads the rules.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use vigil_events::time::LocalZone;
use vigil_ingest::syslog::SyslogConfig;
use vigil_ingest::{Ingestor, RetentionPolicy, RuleSlot};
use vigil_logs::{EmbeddedConfig, EmbeddedStore, EventStore};
use vigil_store::Store;

const AFTER_HELP: &str = "\
Examples:
  vigil serve                                   # ./vigil-data, http://127.0.0.1:8080
  vigil serve --data /var/lib/vigil --listen 0.0.0.0:8080
  VIGIL_DATA=/srv/vigil vigil serve
  vigil serve --rules ./sigma/rules --syslog-tcp 0.0.0.0:6514 --syslog-udp 0.0.0.0:514 \
      --retention web=30 --retention-default 365

Every event received (POST /api/v1/events, syslog, `vigil ingest`) is stored durably in
DIR/logs and matched against the --rules; each match is recorded as a detection. Reload the
rules without a restart with `kill -HUP PID` or `vigil rules reload`; a reload that fails keeps
the running rules, and `vigil rules status` says when and why until a reload succeeds.

The data directory is created when missing. One server runs per data directory: it holds a
lock on DIR/vigil.lock while it runs, and a second `vigil serve` on the same directory stops at
once, naming the first one's process id. `vigil admin` and `vigil audit verify` work on the
directory beside a running server. Every API call except /api/v1/health and the API's
description, /api/v1/openapi.json, needs a token:
  vigil admin token --data ./vigil-data --role admin --name alice

Limits on HTTP connections (so that idle or slow clients cannot use up the server):
  - a request head must arrive whole within 30 s of the connection opening or of the
    previous answer on it (an idle keep-alive connection); else the connection is closed;
  - a request body that sends nothing for 60 s is answered 400 and its connection closed
    (a slow upload is fine as long as bytes keep coming);
  - at start the soft open-file limit is raised to the hard one (`ulimit -Hn`, systemd's
    LimitNOFILE); 256 descriptors are kept for the server's files, and the connections share
    the rest: syslog TCP up to its cap, at most half, HTTP the rest (384 each under a limit
    of 1024). Past the cap, new connections wait until one closes. Raise the hard limit for
    more.
One event sent over HTTP (a JSON line or element, a text line) may hold 1 MiB (1048576
bytes); a larger one is refused with its reason and the rest of the batch is stored.

Limits on syslog:
  - a message (a TCP frame or a datagram) may hold 64 KiB (65536 bytes); a larger one is
    counted as rejected and logged, and the connection stays open;
  - a TCP connection that sends nothing for 10 minutes is closed (senders such as rsyslog
    reconnect when they next send);
  - at most 1024 TCP connections are open at once (fewer under a low open-file limit, see
    above); past that a new connection takes the place of the one idle longest, which is
    closed with a warning in the log, so idle connections cannot shut out real senders.";

/// Arguments of `vigil serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Data directory (SQLite database, evidence files, the log store); created if missing.
    /// One server per directory: a second one on it is refused.
    #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
    pub data: PathBuf,
    /// Address and port to listen on.
    #[arg(long, env = "VIGIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest JSON request body accepted, in bytes.
    #[arg(long, env = "VIGIL_MAX_JSON_BYTES", default_value_t = vigil_server::settings::DEFAULT_JSON_BODY_LIMIT)]
    pub max_json_bytes: usize,
    /// Largest evidence upload accepted, in bytes.
    #[arg(long, env = "VIGIL_MAX_EVIDENCE_BYTES", default_value_t = vigil_server::settings::DEFAULT_EVIDENCE_BODY_LIMIT)]
    pub max_evidence_bytes: u64,
    /// Largest `POST /api/v1/events` body accepted, in bytes (a gzip body once decompressed).
    #[arg(long, env = "VIGIL_MAX_INGEST_BYTES", default_value_t = vigil_server::settings::DEFAULT_INGEST_BODY_LIMIT)]
    pub max_ingest_bytes: usize,
    /// Events search may lag behind acknowledged ingest before senders are held back: ingest
    /// runs at the pace of the journal, and search catches up behind, up to this many events.
    #[arg(long, env = "VIGIL_MAX_INDEX_LAG", default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
    pub max_index_lag: u64,
    /// Start even though the log store has lost acknowledged events (its search index was
    /// deleted after the journal had been pruned of events only the index held, or journal
    /// segments were deleted): without it such a start is refused, naming the events. Going
    /// on leaves them out of search for good; restore the data directory from a backup
    /// instead when you have one. No environment variable, so that it is never left on.
    #[arg(long)]
    pub accept_lost_events: bool,
    /// Sigma rule directory matched against every ingested event (repeat for several).
    #[arg(long = "rules", env = "VIGIL_RULES", value_delimiter = ',')]
    pub rules: Vec<PathBuf>,
    /// Values of the `%name%` placeholders of rules with the `expand` modifier (SigmaHQ's
    /// rules-placeholder): a YAML map `NAME: [VALUE, ...]`, or a pySigma pipeline's `vars`.
    /// Read again on each rules reload. Without it a placeholder matches nothing.
    #[arg(long, env = "VIGIL_PLACEHOLDERS", value_name = "FILE")]
    pub placeholders: Option<PathBuf>,
    /// Listen for syslog over TCP (RFC 6587: octet-counted or newline-framed) here. Syslog has
    /// no acknowledgement: messages taken but not yet stored when the server stops abruptly
    /// are lost (send over HTTP where nothing may be).
    #[arg(long, env = "VIGIL_SYSLOG_TCP")]
    pub syslog_tcp: Option<SocketAddr>,
    /// Listen for syslog datagrams over UDP here.
    #[arg(long, env = "VIGIL_SYSLOG_UDP")]
    pub syslog_udp: Option<SocketAddr>,
    /// Service of syslog events (default: each message's APP-NAME, else `syslog`).
    #[arg(long, env = "VIGIL_SYSLOG_SERVICE")]
    pub syslog_service: Option<String>,
    /// Tenant of syslog events.
    #[arg(long, env = "VIGIL_SYSLOG_TENANT", default_value = "")]
    pub syslog_tenant: String,
    /// The zone the syslog senders' clocks are in, for RFC 3164 times (which carry no offset):
    /// an IANA name such as Europe/Berlin, `local` for this machine's, or an offset such as
    /// +01:00. RFC 5424 times carry their offset and are read as written.
    #[arg(
        long,
        env = "VIGIL_SYSLOG_TIMEZONE",
        value_name = "ZONE",
        default_value = "UTC",
        allow_hyphen_values = true
    )]
    pub syslog_timezone: LocalZone,
    /// Keep a service's events this many days: SERVICE=DAYS (repeat for several).
    #[arg(long = "retention", env = "VIGIL_RETENTION", value_delimiter = ',', value_parser = RetentionPolicy::parse_entry)]
    pub retention: Vec<(String, u32)>,
    /// Keep events of services without a --retention this many days (default: forever).
    #[arg(long, env = "VIGIL_RETENTION_DEFAULT", value_parser = RetentionPolicy::parse_days)]
    pub retention_default: Option<u32>,
    /// The URL responders reach this server at, for acknowledgement links in pages
    /// (default: http://LISTEN).
    #[arg(long, env = "VIGIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Turn on the reporting form for people without an account at /report/KEY (share the link
    /// with staff or customers; change the key to revoke it). At least 8 characters: letters,
    /// digits, '-', '.', '_' and '~' (`openssl rand -hex 16`). 10 accepted reports an hour per
    /// sender, 300 per link; an address that tries 10 wrong keys in an hour is refused (429).
    #[arg(long, env = "VIGIL_REPORT_KEY", hide_env_values = true)]
    pub report_key: Option<String>,
    /// SMTP server for e-mail pages, HOST:PORT (a local relay, or your provider's with
    /// --smtp-security and --smtp-user).
    #[arg(long, env = "VIGIL_SMTP")]
    pub smtp: Option<String>,
    /// Transport security of the SMTP connection: `none` (plain, for a relay on loopback),
    /// `starttls` (upgraded with STARTTLS, which must succeed; port 587 or 25) or `tls` (TLS
    /// from the first byte; port 465). TLS checks the server's certificate against the web's
    /// root authorities, for the host name of --smtp.
    #[arg(
        long,
        env = "VIGIL_SMTP_SECURITY",
        value_enum,
        default_value = "none",
        value_name = "SECURITY"
    )]
    pub smtp_security: SmtpSecurityArg,
    /// User name to log in to the SMTP server with (AUTH PLAIN or LOGIN). The password is read
    /// from the environment variable VIGIL_SMTP_PASSWORD or from --smtp-password-file, never
    /// from the command line, which other users see in `ps`. Sent only with --smtp-security
    /// starttls or tls, unless --smtp-plain-login.
    #[arg(long, env = "VIGIL_SMTP_USER", value_name = "USER")]
    pub smtp_user: Option<String>,
    /// File holding the SMTP password (its first line), e.g. a systemd credential or a mounted
    /// secret readable by this server only; instead of VIGIL_SMTP_PASSWORD.
    #[arg(long, env = "VIGIL_SMTP_PASSWORD_FILE", value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// Log in to the SMTP server over a plain connection (--smtp-security none): the password
    /// crosses the network readable, so only for a relay on this machine.
    #[arg(long, env = "VIGIL_SMTP_PLAIN_LOGIN")]
    pub smtp_plain_login: bool,
    /// From address of e-mail pages.
    #[arg(long, env = "VIGIL_SMTP_FROM", default_value = "vigil@localhost")]
    pub smtp_from: String,
    /// How often escalation clocks are checked, in milliseconds.
    #[arg(
        long,
        env = "VIGIL_ESCALATION_TICK_MS",
        default_value_t = 1000,
        hide = true
    )]
    pub escalation_tick_ms: u64,
    /// How long an undelivered page waits before it is tried again, in milliseconds (then
    /// doubling, up to five times as long).
    #[arg(
        long,
        env = "VIGIL_PAGE_RETRY_MS",
        default_value_t = vigil_escalation::RETRY_PAGE_FIRST.as_millis() as u64,
        hide = true
    )]
    pub page_retry_ms: u64,
    /// How often retention runs, in seconds.
    #[arg(
        long,
        env = "VIGIL_RETENTION_INTERVAL",
        default_value_t = 3600,
        hide = true
    )]
    pub retention_interval_secs: u64,
}

/// The environment variable the SMTP password is read from (see [`Args::smtp_user`]).
pub const SMTP_PASSWORD_ENV: &str = "VIGIL_SMTP_PASSWORD";

/// `--smtp-security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpSecurityArg {
    /// Plain SMTP.
    None,
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS (SMTPS).
    Tls,
}

impl Args {
    /// The notifier's settings. `password_env` is the value of [`SMTP_PASSWORD_ENV`], passed in
    /// so that tests need not change the process's environment.
    fn paging(&self, password_env: Option<std::ffi::OsString>) -> anyhow::Result<Paging> {
        let config = vigil_notify::NotifierConfig {
            smtp: self.smtp_config(password_env)?,
            ..vigil_notify::NotifierConfig::default()
        };
        let notifier =
            vigil_notify::Notifier::new(config).map_err(|e| anyhow::anyhow!("paging: {e}"))?;
        Ok(Paging {
            notifier: Arc::new(notifier),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen)),
            tick: Duration::from_millis(self.escalation_tick_ms.max(10)),
            page_retry: Duration::from_millis(self.page_retry_ms.max(10)),
        })
    }

    /// The SMTP relay e-mail pages go to, with its security and login, or none without
    /// `--smtp`.
    fn smtp_config(
        &self,
        password_env: Option<std::ffi::OsString>,
    ) -> anyhow::Result<Option<vigil_notify::SmtpConfig>> {
        let credentials = self.smtp_credentials(password_env)?;
        let Some(smtp) = &self.smtp else {
            if credentials.is_some() {
                anyhow::bail!("--smtp-user is set but not --smtp: add --smtp HOST:PORT");
            }
            return Ok(None);
        };
        let (host, port) = smtp
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                anyhow::anyhow!("--smtp {smtp:?} is not HOST:PORT; write e.g. --smtp 127.0.0.1:25")
            })?;
        let mut smtp = vigil_notify::SmtpConfig::plain(host, port, &self.smtp_from);
        smtp.security = match self.smtp_security {
            SmtpSecurityArg::None => vigil_notify::SmtpSecurity::None,
            SmtpSecurityArg::Starttls => vigil_notify::SmtpSecurity::StartTls,
            SmtpSecurityArg::Tls => vigil_notify::SmtpSecurity::ImplicitTls,
        };
        if credentials.is_some()
            && smtp.security == vigil_notify::SmtpSecurity::None
            && !self.smtp_plain_login
        {
            anyhow::bail!(
                "the SMTP login would cross the network unencrypted: add --smtp-security \
                 starttls (port 587 or 25) or tls (port 465), or --smtp-plain-login for a \
                 relay on this machine"
            );
        }
        smtp.credentials = credentials;
        Ok(Some(smtp))
    }

    /// The SMTP login: `--smtp-user` with its password from `password_env` or
    /// `--smtp-password-file` (exactly one of them), or none. No error names the password.
    fn smtp_credentials(
        &self,
        password_env: Option<std::ffi::OsString>,
    ) -> anyhow::Result<Option<vigil_notify::SmtpCredentials>> {
        let password_env = password_env.filter(|p| !p.is_empty());
        let password = match (password_env, &self.smtp_password_file) {
            (Some(_), Some(_)) => anyhow::bail!(
                "the SMTP password is given twice, in {SMTP_PASSWORD_ENV} and \
                 --smtp-password-file: keep one"
            ),
            (Some(p), None) => Some(p.into_string().map_err(|_| {
                anyhow::anyhow!("{SMTP_PASSWORD_ENV} is not UTF-8; write the password as text")
            })?),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file).with_context(|| {
                    format!(
                        "could not read the SMTP password from --smtp-password-file {}",
                        file.display()
                    )
                })?;
                let line = text.lines().next().unwrap_or_default();
                if line.is_empty() {
                    anyhow::bail!(
                        "--smtp-password-file {} is empty: write the password on its first line",
                        file.display()
                    );
                }
                Some(line.to_owned())
            }
            (None, None) => None,
        };
        match (&self.smtp_user, password) {
            (Some(user), Some(password)) => Ok(Some(vigil_notify::SmtpCredentials::new(
                user.clone(),
                password,
            ))),
            (Some(user), None) => anyhow::bail!(
                "--smtp-user {user:?} needs a password: set {SMTP_PASSWORD_ENV} or \
                 --smtp-password-file FILE (never on the command line)"
            ),
            (None, Some(_)) => anyhow::bail!(
                "an SMTP password is set but no --smtp-user: add --smtp-user USER, or unset \
                 {SMTP_PASSWORD_ENV} / --smtp-password-file"
            ),
            (None, None) => Ok(None),
        }
    }

    fn into_parts(self) -> anyhow::Result<(vigil_server::Settings, RuleFiles, SyslogConfig)> {
        let mut settings = vigil_server::Settings::new(self.data, self.listen);
        settings.json_body_limit = self.max_json_bytes;
        settings.evidence_body_limit = self.max_evidence_bytes;
        settings.ingest_body_limit = self.max_ingest_bytes;
        let mut per_service = std::collections::HashMap::new();
        for (service, days) in self.retention {
            if let Some(first) = per_service.insert(service.clone(), days)
                && first != days
            {
                anyhow::bail!(
                    "--retention gives {service} two retentions ({first} and {days} days); give each service one"
                );
            }
        }
        settings.retention = RetentionPolicy {
            per_service: per_service.into_iter().collect(),
            default_days: self.retention_default,
        };
        settings.retention_interval = Duration::from_secs(self.retention_interval_secs.max(1));
        if let Some(key) = self.report_key.as_deref() {
            vigil_server::report::check_report_key(key.trim()).map_err(anyhow::Error::msg)?;
        }
        settings.report_key = self.report_key.map(|k| k.trim().to_owned());
        let mut syslog = SyslogConfig::new();
        syslog.tcp = self.syslog_tcp;
        syslog.udp = self.syslog_udp;
        syslog.service = self.syslog_service;
        syslog.tenant = self.syslog_tenant;
        syslog.zone = self.syslog_timezone;
        let rules = RuleFiles {
            dirs: self.rules,
            placeholders: self.placeholders,
        };
        Ok((settings, rules, syslog))
    }
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::logging::init();
    owner_only_files();
    let paging = args.paging(std::env::var_os(SMTP_PASSWORD_ENV))?;
    let log_store = LogStoreOptions {
        max_index_lag: args.max_index_lag,
        accept_lost_events: args.accept_lost_events,
    };
    let (mut settings, rules, mut syslog) = args.into_parts()?;
    let open_files = crate::open_files::raise_limit();
    let caps =
        crate::open_files::connection_caps(open_files, syslog.tcp.map(|_| syslog.max_connections));
    settings.max_connections = caps.http;
    if syslog.tcp.is_some() {
        syslog.max_connections = caps.syslog_tcp;
    }
    tracing::info!(
        open_files,
        http = caps.http,
        syslog_tcp = caps.syslog_tcp,
        "connections allowed open at once, from the open-file limit"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(serve(settings, rules, syslog, paging, log_store))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Makes every file and directory the server creates from now on the owner's only (umask
/// 077), as the data directory is: the search index's files are written by Tantivy, which
/// takes the mode from the umask, and so would any other file a library makes in the data
/// directory. The files the server creates itself are made 0600 or 0700 anyway.
fn owner_only_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Why a report through the form that names no service (or one no team owns) would page
/// nobody, if it would: no organisation document, or one without a central team that has
/// someone to page. Such reports are kept, said in their log, and wait in the queue.
async fn reports_page_nobody(store: &dyn Store) -> Option<String> {
    let version = match store.current_org().await {
        Ok(Some(version)) => version,
        Ok(None) => {
            return Some(
                "no organisation document is applied, so reports through the form page nobody: they wait in `vigil alerts list`; describe the teams in org.yaml with the Security Response team as `central_team` and run `vigil apply -f org.yaml`".into(),
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the organisation document");
            return None;
        }
    };
    let doc: vigil_oncall::OrgDocument = serde_json::from_value(version.document).ok()?;
    let org = doc.validate_stored().ok()?;
    org.unowned_alerts_page_nobody().map(|why| {
        format!(
            "reports through the form that name no service or one no team owns page nobody: {why} (org.yaml, then `vigil apply -f org.yaml`)"
        )
    })
}

/// How the log store is opened: the flags that reach its `EmbeddedConfig`.
struct LogStoreOptions {
    max_index_lag: u64,
    accept_lost_events: bool,
}

/// Where the rules come from: their directories and the placeholder values' file.
struct RuleFiles {
    dirs: Vec<PathBuf>,
    placeholders: Option<PathBuf>,
}

/// How often a silent stream's correlation time is moved on by the clock (see
/// `Ingestor::pass_idle_time`).
const IDLE_CLOCK_TICK: Duration = Duration::from_secs(30);

/// How alerts are paged: the channels and the address in acknowledgement links.
struct Paging {
    notifier: Arc<vigil_notify::Notifier>,
    public_url: String,
    tick: Duration,
    /// The first wait before an undelivered page is tried again.
    page_retry: Duration,
}

async fn serve(
    mut settings: vigil_server::Settings,
    rule_files: RuleFiles,
    syslog: SyslogConfig,
    paging: Paging,
    log_store: LogStoreOptions,
) -> anyhow::Result<()> {
    // First, before anything in the directory is opened: one server per data directory. Held
    // until this returns, after the stores are closed.
    let _lock = crate::datadir::lock_for_server(&settings.data_dir)?;
    match vigil_server::backup::remove_leftover_copies(&settings.data_dir) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(
            removed,
            "removed the database copies of backups interrupted by an earlier stop"
        ),
        Err(e) => tracing::warn!(
            dir = %settings.data_dir.display(),
            error = %e,
            "could not remove the database copies (.backup-UUID.db) of backups interrupted by an earlier stop; remove them by hand"
        ),
    }
    let store = crate::datadir::open(&settings.data_dir).await?;
    let signer = link_key(&settings.data_dir)?;
    settings.link_signer = Some(signer.clone());
    let logs_dir = settings.data_dir.join("logs");
    let events: Arc<dyn EventStore> = {
        let dir = logs_dir.clone();
        let mut config = EmbeddedConfig::new(dir);
        config.max_index_lag = log_store.max_index_lag;
        config.accept_lost_events = log_store.accept_lost_events;
        config.track_detections = true;
        let opened = tokio::task::spawn_blocking(move || EmbeddedStore::open(config))
            .await
            .context("the log store failed to open")?
            .with_context(|| format!("could not open the log store in {}", logs_dir.display()))?;
        Arc::new(opened)
    };
    let rules = tokio::task::spawn_blocking(move || {
        RuleSlot::open_with(rule_files.dirs, rule_files.placeholders)
    })
    .await
    .context("loading the rules failed")??;
    let rules_status = rules.current().status.clone();
    let removed = store
        .remove_interrupted_uploads()
        .map_err(|e| anyhow::anyhow!("could not clean up interrupted uploads: {e}"))?;
    if removed > 0 {
        tracing::info!(removed, "removed uploads interrupted by an earlier stop");
    }
    let no_tokens = store
        .list_tokens()
        .await
        .map_err(|e| anyhow::anyhow!("could not read the token table: {e}"))?
        .is_empty();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "could not listen on {}; is another server using it? pick another with --listen",
                settings.listen
            )
        })?;
    let addr = listener.local_addr().context("listener has no address")?;
    let shutdown = shutdown_signal()?;
    crate::output::sayln!("vigil: data directory {}", settings.data_dir.display());
    crate::output::sayln!("vigil: listening on http://{addr}");
    if no_tokens {
        crate::output::sayln!(
            "vigil: no API token exists yet; create one with:\n  vigil admin token --data {} --role admin --name YOUR_NAME",
            settings.data_dir.display()
        );
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let rules = Arc::new(rules);
    let ingestor = Arc::new(
        Ingestor::new(Arc::clone(&events), Arc::clone(&store), Arc::clone(&rules))
            .with_retention(settings.retention.clone()),
    );
    // Begun before the listeners start, so that the detection mark stays at the owed events.
    let recovery = ingestor
        .begin_detection_recovery()
        .map(|recovery| tokio::spawn(recover_detections(recovery)));
    let late_file = settings.data_dir.join(LATE_CORRELATIONS_FILE);
    match ingestor.keep_late_in(late_file.clone()) {
        Ok(0) => {}
        Ok(spans) => tracing::info!(
            spans,
            "events that came too late for the live correlation windows before the last stop are correlated over the store at the first tick"
        ),
        Err(e) => tracing::warn!(
            file = %late_file.display(),
            error = %e,
            "could not read the spans of late events the last stop left; delete the file to go on without them"
        ),
    }
    let silence_file = settings.data_dir.join(SILENCE_FILE);
    match ingestor.keep_silence_in(silence_file.clone()) {
        Ok(0) => {}
        Ok(silences) => tracing::info!(
            silences,
            "silent log sources of the last run are watched on; their alerts are resolved when their events come again"
        ),
        Err(e) => tracing::warn!(
            file = %silence_file.display(),
            error = %e,
            "could not read what the silence watch kept; log sources count as silent from this start only (the file is rewritten at the next check)"
        ),
    }
    let received_file = settings.data_dir.join(RECEIVED_FILE);
    if let Err(e) = ingestor.keep_received_in(received_file.clone()) {
        tracing::warn!(
            file = %received_file.display(),
            error = %e,
            "could not read when each service last sent; `vigil storage stats` knows it for those heard from this start (the file is rewritten at the next check)"
        );
    }
    let correlations_file = settings.data_dir.join(CORRELATIONS_FILE);
    // Begun before the listeners start, so that their first batches wait for the past; with
    // no stored event there is no past, and the first batches are correlated at once.
    let rebuild = (!restore_correlations(&ingestor, &correlations_file)
        && ingestor.rules().current().set.correlation_count() > 0
        && events.next_id() > 0)
        .then(|| tokio::spawn(rebuild_correlations(ingestor.begin_correlation_rebuild())));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let syslog_zone = syslog.zone.clone();
    let listeners = vigil_ingest::syslog::start(syslog, Arc::clone(&ingestor), stop_rx.clone())
        .await
        .context("could not start the syslog listeners")?;
    if rules_status.paths.is_empty() {
        crate::output::sayln!(
            "vigil: no --rules given; events are stored but not matched against Sigma rules"
        );
    } else {
        crate::output::sayln!(
            "vigil: {} Sigma rules loaded ({} rejected; see GET /api/v1/rules)",
            rules_status.loaded,
            rules_status.rules_rejected
        );
    }
    let public_url = if paging.public_url.ends_with(":0") {
        format!("http://{addr}")
    } else {
        paging.public_url
    };
    if settings.report_key.is_some() {
        // The address staff are given: under --public-url's path when Vigil sits behind a proxy.
        crate::output::sayln!(
            "vigil: reporting form at {}/report/<the --report-key>",
            public_url.trim_end_matches('/')
        );
        if let Some(warning) = reports_page_nobody(store.as_ref()).await {
            crate::output::sayln!("vigil: warning: {warning}");
        }
    }
    if let Some(a) = listeners.tcp_addr() {
        crate::output::sayln!("vigil: syslog over TCP on {a}");
    }
    if let Some(a) = listeners.udp_addr() {
        crate::output::sayln!("vigil: syslog over UDP on {a}");
    }
    if listeners.tcp_addr().is_some() || listeners.udp_addr().is_some() {
        crate::output::sayln!(
            "vigil: RFC 3164 syslog times (written without an offset) read as {syslog_zone}{}",
            if syslog_zone.is_utc() {
                "; --syslog-timezone ZONE if the senders keep local time"
            } else {
                ""
            }
        );
    }
    let retention = tokio::spawn(vigil_ingest::retention::run(
        Arc::clone(&events),
        settings.retention.clone(),
        settings.retention_interval,
        stop_rx.clone(),
    ));
    let idle_clock =
        tokio::spawn(Arc::clone(&ingestor).run_correlation_clock(IDLE_CLOCK_TICK, stop_rx.clone()));
    let silence_watch = tokio::spawn(
        Arc::clone(&ingestor)
            .run_silence_watch(vigil_ingest::silence::CHECK_EVERY, stop_rx.clone()),
    );
    let reloads = spawn_reload_on_hangup(Arc::clone(&rules))?;
    // A page shows the fields a rule's `fields` list names, as the rules loaded when it is sent.
    let loaded = Arc::clone(&rules);
    let rule_fields: vigil_escalation::RuleFields = Arc::new(move |id: &str| {
        loaded
            .current()
            .set
            .rules()
            .iter()
            .find(|r| r.id() == id)
            .map(|r| r.meta.fields.clone())
            .unwrap_or_default()
    });
    let escalation = tokio::spawn(
        vigil_escalation::Escalator::new(Arc::clone(&store), paging.notifier, public_url)
            .with_links(signer)
            .with_rule_fields(rule_fields)
            .with_page_retry(paging.page_retry)
            .run(paging.tick, stop_rx.clone()),
    );
    let mut state = vigil_server::AppState::new(settings, store, Arc::clone(&ingestor));
    if listeners.tcp_addr().is_some() || listeners.udp_addr().is_some() {
        state = state.with_syslog(listeners.stats_source());
    }
    vigil_server::app::serve(state, listener, shutdown)
        .await
        .context("the server stopped with an error")?;
    let _ = stop_tx.send(true);
    listeners.wait().await;
    if let Some(rebuild) = rebuild {
        let _ = rebuild.await;
    }
    if let Some(recovery) = recovery {
        let _ = recovery.await;
    }
    let _ = idle_clock.await;
    let _ = silence_watch.await;
    if let Err(e) = ingestor.save_received().await {
        tracing::warn!(error = %e, "could not keep when each service last sent; the next start knows it as of the last check");
    }
    save_correlations(&ingestor, &correlations_file);
    let _ = retention.await;
    let _ = escalation.await;
    reloads.abort();
    // The last handles on the log store go here; dropping it commits the index.
    tokio::task::spawn_blocking(move || {
        let _ = events.refresh();
        drop(events);
    })
    .await
    .ok();
    crate::output::sayln!("vigil: stopped");
    Ok(())
}

/// The key that signs acknowledgement links: `DIR/link.key`, 32 random bytes made on first
/// start and readable by the owner only. Deleting it invalidates every link sent so far.
fn link_key(dir: &std::path::Path) -> anyhow::Result<vigil_core::LinkSigner> {
    let path = dir.join("link.key");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            #[cfg(unix)]
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .with_context(|| format!("could not create {}", path.display()))?;
                f.write_all(&key)?;
                f.sync_all()?;
            }
            #[cfg(not(unix))]
            std::fs::write(&path, key)
                .with_context(|| format!("could not create {}", path.display()))?;
            key.to_vec()
        }
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        anyhow::anyhow!(
            "{} is not 32 bytes; delete it to make a new one (links sent so far stop working)",
            path.display()
        )
    })?;
    Ok(vigil_core::LinkSigner::new(key))
}

/// Reloads the rules on every SIGHUP, logging what was loaded or why the reload failed.
fn spawn_reload_on_hangup(rules: Arc<RuleSlot>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("could not install the SIGHUP handler")?;
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let rules = Arc::clone(&rules);
                match tokio::task::spawn_blocking(move || rules.reload()).await {
                    Ok(Ok(status)) => tracing::info!(
                        rules = status.loaded,
                        rejected = status.rules_rejected,
                        "SIGHUP: rules reloaded"
                    ),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "SIGHUP: reload failed; the previous rules stay loaded")
                    }
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload task failed"),
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = rules;
        Ok(tokio::spawn(async {}))
    }
}

/// Where the correlation windows wait, in the data directory, between a stop and the next start.
const CORRELATIONS_FILE: &str = "correlations.json";

/// Where the spans of events that came too late for the live correlation windows are kept,
/// in the data directory, until the correlations have run over them (see
/// `Ingestor::keep_late_in`).
const LATE_CORRELATIONS_FILE: &str = "correlations-late.json";

/// Where the silence watch keeps, in the data directory, when each watched log source last
/// had an event stored and the silences under way (see `vigil_ingest::silence`).
const SILENCE_FILE: &str = "silence.json";

/// Where the server keeps, in the data directory, when each service last had an event stored
/// (see `Ingestor::keep_received_in`).
const RECEIVED_FILE: &str = "received.json";

/// The most stored events a start reads back to rebuild the correlation windows after a crash
/// (the newest of the correlations' reach): a few seconds of reading.
const CORRELATION_REBUILD_LIMIT: usize = 2_000_000;

/// Takes back the correlation windows a clean stop saved, then removes the file: windows are
/// only worth what they hold until the next stop, and a later crash must not bring back old
/// ones. A file that cannot be read is logged and left for inspection. Returns whether windows
/// were taken back (if not, the last stop was not clean, or the file was unreadable).
fn restore_correlations(ingestor: &Ingestor, file: &std::path::Path) -> bool {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "could not read the saved correlation windows; they are rebuilt from the stored events");
            return false;
        }
    };
    match serde_json::from_str(&text) {
        Ok(saved) => {
            ingestor.restore_correlations(saved);
            if let Err(e) = std::fs::remove_file(file) {
                tracing::warn!(file = %file.display(), error = %e, "could not remove the saved correlation windows");
            }
            true
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "the saved correlation windows are unreadable; they are rebuilt from the stored events");
            false
        }
    }
}

/// Rebuilds the correlation windows from the stored events when the last stop did not save
/// them (a crash, or a first start) while the server runs: batches are stored, matched and
/// acknowledged meanwhile, and correlated once the rebuilt past is in.
async fn rebuild_correlations(rebuild: vigil_ingest::CorrelationRebuild) {
    let started = std::time::Instant::now();
    match rebuild.run(CORRELATION_REBUILD_LIMIT).await {
        Ok(rebuilt) if rebuilt.read == 0 => {}
        Ok(rebuilt) => {
            crate::output::sayln!(
                "vigil: correlation windows rebuilt from {} stored events in {:.1} s ({} counted, {} held)",
                rebuilt.read,
                started.elapsed().as_secs_f64(),
                rebuilt.fed,
                rebuilt.held
            );
            if rebuilt.truncated {
                tracing::warn!(
                    limit = CORRELATION_REBUILD_LIMIT,
                    "the correlations reach further back than the events read to rebuild them; their oldest events are not counted"
                );
            }
        }
        Err(e) => tracing::error!(
            error = %e,
            "could not read the stored events back to rebuild the correlation windows; they start afresh"
        ),
    }
}

/// Matches the events the last stop left stored without their detections recorded (it came
/// between storing a batch and recording its matches), while the server runs.
async fn recover_detections(recovery: vigil_ingest::DetectionRecovery) {
    let ids = recovery.ids();
    tracing::info!(
        from = ids.start,
        below = ids.end,
        "the last stop may have left stored events without their detections: matching them again"
    );
    let started = std::time::Instant::now();
    match recovery.run().await {
        Ok(done) => crate::output::sayln!(
            "vigil: {} stored events the last stop may have left unmatched checked in {:.1} s ({} had their detections, {} detections recorded now; {} sent under an Idempotency-Key answered now)",
            done.read,
            started.elapsed().as_secs_f64(),
            done.already_recorded,
            done.detections,
            match done.answered {
                1 => "1 batch".to_owned(),
                n => format!("{n} batches"),
            }
        ),
        Err(e) => tracing::error!(
            error = %e,
            "could not match the events the last stop left without detections; the next start tries again"
        ),
    }
}

/// Saves the correlation windows on a clean stop (a crash while writing leaves the old file
/// whole, see `replace_durably`).
fn save_correlations(ingestor: &Ingestor, file: &std::path::Path) {
    let saved = ingestor.save_correlations();
    let written = serde_json::to_vec(&saved)
        .map_err(std::io::Error::other)
        .and_then(|bytes| vigil_ingest::state_file::replace_durably(file, &bytes));
    if let Err(e) = written {
        tracing::warn!(file = %file.display(), error = %e, "could not save the correlation windows; they will start afresh");
    }
}

/// Installs the Ctrl-C and SIGTERM handlers now (before "listening" is printed, so a signal sent
/// as soon as the server is up is never the default, abrupt one) and returns the future that
/// completes on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("could not install the SIGTERM handler")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("could not install the Ctrl-C handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        Serve::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    fn refusal(flags: &[&str], password_env: Option<&str>) -> String {
        let err = args(flags)
            .paging(password_env.map(Into::into))
            .err()
            .expect("refused");
        err.to_string()
    }

    const SECRET: &str = "s3cret-Pa55";

    #[test]
    fn an_smtp_login_reaches_the_notifier_with_its_security() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();
        let relay = ["--smtp", "smtp.example.com:587", "--smtp-user", "vigil"];
        let from_env = [&relay[..], &["--smtp-security", "starttls"]].concat();
        let from_file = [
            &relay[..],
            &["--smtp-security", "tls"],
            &["--smtp-password-file", file.to_str().unwrap()],
        ]
        .concat();
        for (flags, env, security) in [
            (from_env, Some(SECRET), vigil_notify::SmtpSecurity::StartTls),
            (from_file, None, vigil_notify::SmtpSecurity::ImplicitTls),
        ] {
            let args = args(&flags);
            let smtp = args
                .smtp_config(env.map(Into::into))
                .unwrap()
                .expect("a relay");
            assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.com", 587));
            assert_eq!(smtp.security, security);
            assert_eq!(smtp.credentials.as_ref().unwrap().username, "vigil");
            // The password is there, and never shown.
            assert!(!format!("{smtp:?}").contains(SECRET), "{smtp:?}");
            assert!(args.paging(env.map(Into::into)).is_ok());
        }
        // Without a login, a relay is as before: plain, no credentials.
        let plain = args(&["--smtp", "127.0.0.1:25"]).smtp_config(None).unwrap();
        let plain = plain.unwrap();
        assert!(plain.credentials.is_none() && plain.security == vigil_notify::SmtpSecurity::None);
    }

    #[test]
    fn an_smtp_login_without_a_password_or_over_plain_smtp_is_refused() {
        let user = ["--smtp", "127.0.0.1:25", "--smtp-user", "vigil"];
        let no_password = refusal(&user, None);
        assert!(
            no_password.contains("needs a password") && no_password.contains(SMTP_PASSWORD_ENV),
            "{no_password}"
        );
        assert_eq!(
            refusal(&user, Some("")),
            no_password,
            "an empty one is none"
        );
        let plain = refusal(&user, Some(SECRET));
        assert!(plain.contains("unencrypted"), "{plain}");
        let mut allowed = user.to_vec();
        allowed.push("--smtp-plain-login");
        assert!(args(&allowed).paging(Some(SECRET.into())).is_ok());
        let no_user = refusal(&["--smtp", "127.0.0.1:25"], Some(SECRET));
        assert!(no_user.contains("no --smtp-user"), "{no_user}");
        let no_relay = refusal(&["--smtp-user", "vigil"], Some(SECRET));
        assert!(no_relay.contains("add --smtp HOST:PORT"), "{no_relay}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "\n").unwrap();
        let mut empty = user.to_vec();
        empty.extend(["--smtp-password-file", file.to_str().unwrap()]);
        assert!(refusal(&empty, None).contains("is empty"));
        let twice = refusal(&empty, Some(SECRET));
        assert!(twice.contains("given twice"), "{twice}");
        for text in [no_password, plain, no_user, no_relay, twice] {
            assert!(!text.contains(SECRET), "{text}");
        }
    }
}
