//! `vigil incident`: open, read, list and update incidents on a running server through
//! `vigil-client`. Human tables by default, `--json` for scripts.

use crate::output::errln;
use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};

const AFTER_HELP: &str = "\
These commands talk to a running server (`vigil serve`). Give it with --server or VIGIL_SERVER
(default http://127.0.0.1:8080) and a token with --token or VIGIL_TOKEN
(create one with `vigil admin token --data DIR --role responder --name NAME`).
A call gives up, exit status 1, when the server sends nothing for --timeout or VIGIL_TIMEOUT
seconds (default 120).

Examples:
  export VIGIL_TOKEN=vgl_...
  vigil incident open --title \"Phishing on payroll\" --summary \"User reported a credential phish\" --severity SEV2 --service payroll
  vigil incident list --open --severity SEV2
  vigil incident show INC-1
  vigil incident severity INC-1 SEV1 --reason \"customer data in the mailbox\"
  vigil incident indicator add INC-1 domain evil.example.com
  vigil incident indicator search evil.example.com
  vigil incident evidence add INC-1 ./mail.eml --description \"original message\"
  vigil incident evidence custody INC-1 EVIDENCE_ID --action transferred --reason \"to legal\"
  vigil incident log add INC-1 \"reset the user's password\" --kind containment
  vigil incident phase INC-1 analysis --reason \"triage done\"
  vigil incident update INC-1 --personal-data --data-disclosed
  vigil incident timestamp INC-1 first_activity 2026-11-20T08:00:00Z --reason \"proxy logs\"
  vigil incident post-mortem INC-1 --summary \"token theft via phish\" --root-cause \"no phishing-resistant MFA\" \\
    --factor \"technical_lapse:legacy auth left on\" --participant \"privacy_expert:priya:privacy office\" \\
    --went-well \"paged in 2 minutes\" --went-badly \"no revocation runbook\" \\
    --detection \"alert on MFA fatigue\" --sigma-rule 5af54681-df95-4c26-854f-2565e13cfab0
  vigil incident pivot INC-1 --since 7d --accept
  vigil incident show INC-1 --json";

/// Where the server is, who is calling and how long to wait for it. `VIGIL_SERVER`,
/// `VIGIL_TOKEN` and `VIGIL_TIMEOUT` are read here rather than by clap: clap counts a value
/// taken from the environment as given, and an argument error's usage line would then list
/// `--server` and `--token` as if they had to be typed.
#[derive(Debug, ClapArgs)]
pub struct Conn {
    /// URL of the Vigil server [env: VIGIL_SERVER] [default: http://127.0.0.1:8080].
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// API token, created with `vigil admin token` [env: VIGIL_TOKEN].
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Give up when the server sends nothing for this many seconds (no connection within 10
    /// s, no byte of an answer); an upload or download takes as long as it needs while bytes
    /// move [env: VIGIL_TIMEOUT] [default: 120].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT))]
    pub timeout: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The longest --timeout taken, in seconds (a week): longer is no timeout, and a deadline that far
/// off cannot be reckoned.
pub(crate) const MAX_TIMEOUT: u64 = 7 * 24 * 3600;

/// The server's URL when no --server is given and VIGIL_SERVER is unset.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// A flag's value, else its environment variable's when set and not blank (a failed
/// `$(vigil admin token …)` leaves it empty: no value either).
pub(crate) fn flag_or_env(flag: Option<&str>, var: &str) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(var).ok())
        .filter(|v| !v.trim().is_empty())
}

/// Subcommands of `vigil incident`.
#[derive(Debug, Subcommand)]
#[command(after_help = AFTER_HELP)]
pub enum Command {
    /// Open a new incident.
    Open(Box<OpenArgs>),
    /// List incidents, newest first, with filters.
    List(Box<ListArgs>),
    /// Show one incident in full.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
    },
    /// Change an incident's descriptive fields.
    Update(Box<UpdateArgs>),
    /// Change the severity, with a reason.
    Severity {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        /// New severity: SEV1 (critical), SEV2 (high), SEV3 (medium), SEV4 (low).
        #[arg(value_parser = domain::<Severity>)]
        severity: Severity,
        /// Why the severity changes.
        #[arg(long)]
        reason: String,
    },
    /// Move the incident to another phase (guards may refuse and say why).
    Phase(Box<PhaseArgs>),
    /// Correct a lifecycle timestamp, with a reason (phase changes set them; this fixes them).
    Timestamp {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        /// Which timestamp: first_activity, detected, acknowledged, declared, contained, eradicated, recovered, closed.
        #[arg(value_parser = domain::<TimestampKind>)]
        which: TimestampKind,
        /// The corrected time (2026-11-22T09:30:00Z, 2026-11-22 09:30, a date or now-2h; without
        /// an offset in VIGIL_TIMEZONE, else UTC), or `none` to clear it.
        #[arg(value_parser = correction)]
        at: Correction,
        /// Why the timestamp is corrected.
        #[arg(long)]
        reason: String,
    },
    /// Record or replace the post-mortem (in phase post_incident; SEV1/SEV2 and data breaches
    /// need one naming a contributing factor to close; a replaced one is kept).
    PostMortem(Box<PostMortemArgs>),
    /// Add, remove or search indicators of compromise.
    Indicator {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: IndicatorCommand,
    },
    /// Link two incidents explicitly.
    Link {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        /// The other incident.
        other: String,
        /// Why they are related.
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove an explicit link between two incidents; with --json, print the incident's
    /// related incidents after it, as `incident related --json` does.
    Unlink {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        /// The other incident.
        other: String,
    },
    /// Show linked incidents, and those sharing an active indicator: the most shared first,
    /// then the newest.
    Related {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        /// How many suggestions to show (1–500; --offset pages on); links are all shown.
        #[arg(long, default_value_t = 50, value_parser = limit::<500>)]
        limit: u32,
        /// How many suggestions to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Read or append to the action log.
    Log {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Upload, list, download evidence and record its chain of custody.
    Evidence {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Find the incident's indicators in the central log database and propose the services and
    /// tenants they appear in for its scope (--accept adds them). A user account or a one-label
    /// host name is looked for as a whole value (a field's, or an event's host, service or
    /// tenant), not as words inside texts; the events holding it only in a text are counted
    /// apart, not proposed (`vigil pivot VALUE` shows them).
    Pivot {
        #[command(flatten)]
        conn: Conn,
        /// Incident key (INC-42) or id.
        key: String,
        #[command(flatten)]
        window: crate::search::Window,
        /// Add the proposed services and tenants to the incident's scope.
        #[arg(long)]
        accept: bool,
    },
}

/// `vigil incident open`
#[derive(Debug, ClapArgs)]
pub struct OpenArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Short title.
    #[arg(long)]
    pub title: String,
    /// What happened, as known now.
    #[arg(long)]
    pub summary: String,
    /// Preliminary severity: SEV1 (critical), SEV2 (high), SEV3 (medium), SEV4 (low).
    #[arg(long, default_value = "SEV3", value_parser = domain::<Severity>)]
    pub severity: Severity,
    /// Why this preliminary severity.
    #[arg(long)]
    pub severity_reason: Option<String>,
    /// A customer-facing service is impacted (raises the derived priority).
    #[arg(long)]
    pub customer_facing: bool,
    /// An indicator as KIND:VALUE (repeatable), e.g. ip:203.0.113.7.
    #[arg(long = "indicator", value_name = "KIND:VALUE", value_parser = indicator_arg)]
    pub indicators: Vec<NewIndicator>,
    /// A recommended next step (repeatable).
    #[arg(long = "next-step")]
    pub next_steps: Vec<String>,
    /// Category: account_compromise, malware, data_exfiltration, denial_of_service, insider, ...
    #[arg(long, value_parser = domain::<Category>)]
    pub category: Option<Category>,
    /// An impacted service (repeatable).
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// An impacted tenant (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// TLP marking: clear, green, amber, amber_strict, red.
    #[arg(long, value_parser = domain::<Tlp>)]
    pub tlp: Option<Tlp>,
    /// PAP marking: clear, green, amber, red.
    #[arg(long, value_parser = domain::<Pap>)]
    pub pap: Option<Pap>,
    /// A MITRE ATT&CK technique (repeatable), e.g. T1566.001.
    #[arg(long = "attack")]
    pub attack: Vec<String>,
    /// When the malicious activity first happened, if known (a date, 2026-11-20 08:00, RFC
    /// 3339 or now-3d; without an offset in VIGIL_TIMEZONE, else UTC).
    #[arg(long, value_parser = time_arg)]
    pub first_activity: Option<TimeText>,
}

/// `vigil incident list`
#[derive(Debug, ClapArgs)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Only this phase.
    #[arg(long, value_parser = domain::<Phase>)]
    pub phase: Option<Phase>,
    /// Only this severity.
    #[arg(long, value_parser = domain::<Severity>)]
    pub severity: Option<Severity>,
    /// Only this derived priority: P1 … P4.
    #[arg(long, value_parser = domain::<Priority>)]
    pub priority: Option<Priority>,
    /// Only this category.
    #[arg(long, value_parser = domain::<Category>)]
    pub category: Option<Category>,
    /// Only incidents impacting this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only incidents impacting this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only incidents carrying this indicator value.
    #[arg(long)]
    pub indicator: Option<String>,
    /// Only open incidents.
    #[arg(long, conflicts_with = "closed")]
    pub open: bool,
    /// Only closed incidents.
    #[arg(long)]
    pub closed: bool,
    /// Text to find in title or summary.
    #[arg(long)]
    pub q: Option<String>,
    /// Created at or after: a date, 2026-12-05 09:30, RFC 3339 or now-24h (without an offset in
    /// VIGIL_TIMEZONE, else UTC).
    #[arg(long, value_parser = time_arg)]
    pub created_from: Option<TimeText>,
    /// Created before (written as --created-from).
    #[arg(long, value_parser = time_arg)]
    pub created_to: Option<TimeText>,
    /// How many to show (1–500; --offset pages on).
    #[arg(long, default_value_t = 50, value_parser = limit::<500>)]
    pub limit: u32,
    /// How many to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

/// `vigil incident update`
#[derive(Debug, ClapArgs)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Incident key (INC-42) or id.
    pub key: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New summary.
    #[arg(long)]
    pub summary: Option<String>,
    /// New category (an empty value, `--category ''`, clears it).
    #[arg(long, value_parser = category_or_empty)]
    pub category: Option<NewCategory>,
    /// Replace the impacted services (repeatable; an empty value, `--service ''`, clears them).
    #[arg(long = "service", conflicts_with_all = ["add_services", "remove_services"])]
    pub services: Option<Vec<String>>,
    /// Add an impacted service to those the incident has when the change is written
    /// (repeatable); a change someone makes meanwhile stays.
    #[arg(long = "add-service")]
    pub add_services: Vec<String>,
    /// Remove an impacted service (repeatable).
    #[arg(long = "remove-service")]
    pub remove_services: Vec<String>,
    /// Replace the impacted tenants (repeatable; an empty value, `--tenant ''`, clears them).
    #[arg(long = "tenant", conflicts_with_all = ["add_tenants", "remove_tenants"])]
    pub tenants: Option<Vec<String>>,
    /// Add an impacted tenant (repeatable), as --add-service does.
    #[arg(long = "add-tenant")]
    pub add_tenants: Vec<String>,
    /// Remove an impacted tenant (repeatable).
    #[arg(long = "remove-tenant")]
    pub remove_tenants: Vec<String>,
    /// Replace the recommended next steps (repeatable; an empty value clears them).
    #[arg(long = "next-step", conflicts_with = "add_next_steps")]
    pub next_steps: Option<Vec<String>>,
    /// Add a recommended next step after those the incident has (repeatable).
    #[arg(long = "add-next-step")]
    pub add_next_steps: Vec<String>,
    /// Record the root cause (an empty value, `--root-cause ''`, clears it before recovery).
    #[arg(long)]
    pub root_cause: Option<String>,
    /// Whether a customer-facing service is impacted (true/false).
    #[arg(long)]
    pub customer_facing: Option<bool>,
    /// TLP marking: clear, green, amber, amber_strict, red.
    #[arg(long, value_parser = domain::<Tlp>)]
    pub tlp: Option<Tlp>,
    /// PAP marking: clear, green, amber, red.
    #[arg(long, value_parser = domain::<Pap>)]
    pub pap: Option<Pap>,
    /// Replace the ATT&CK techniques (repeatable; an empty value, `--attack ''`, clears them).
    #[arg(long = "attack", conflicts_with_all = ["add_attack", "remove_attack"])]
    pub attack: Option<Vec<String>>,
    /// Add an ATT&CK technique (repeatable), as --add-service does.
    #[arg(long = "add-attack")]
    pub add_attack: Vec<String>,
    /// Remove an ATT&CK technique (repeatable).
    #[arg(long = "remove-attack")]
    pub remove_attack: Vec<String>,
    /// Data impact: customer data is affected (true/false; a bare flag means true). Only the
    /// flags given change: the server keeps the others as they are when it writes the change.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub customer_data: Option<bool>,
    /// Data impact: personal data is affected.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub personal_data: Option<bool>,
    /// Data impact: the data was disclosed.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub data_disclosed: Option<bool>,
    /// Data impact: the data was modified.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub data_modified: Option<bool>,
    /// Data impact: the data was destroyed.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub data_destroyed: Option<bool>,
    /// Data impact: notes on the assessment (an empty value, `--data-notes ''`, clears them).
    #[arg(long)]
    pub data_notes: Option<String>,
}

/// `vigil incident phase`
#[derive(Debug, ClapArgs)]
pub struct PhaseArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Incident key (INC-42) or id.
    pub key: String,
    /// Target phase: detection, analysis, containment, eradication, recovery, post_incident, closed.
    #[arg(value_parser = domain::<Phase>)]
    pub phase: Phase,
    /// Why the phase changes.
    #[arg(long)]
    pub reason: Option<String>,
    /// Record the root cause in the same change (recovery needs one).
    #[arg(long)]
    pub root_cause: Option<String>,
}

/// `vigil incident indicator ...`
#[derive(Debug, Subcommand)]
pub enum IndicatorCommand {
    /// Add an indicator (validated, normalised; duplicates are merged).
    Add {
        /// Incident key (INC-42) or id.
        key: String,
        /// Kind: ip, network (CIDR: 10.1.0.0/16, 2001:db8::/32), domain, url, md5, sha1, sha256, hash (md5/sha1/sha256 by length), email, user_account, host, process, file_path, other.
        #[arg(value_parser = indicator_kind)]
        kind: String,
        /// The value, e.g. 203.0.113.7.
        value: String,
        /// A note on where it was seen.
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove an indicator by id (kept on the record, marked removed).
    Remove {
        /// Incident key (INC-42) or id.
        key: String,
        /// The indicator's id (see `vigil incident show`).
        id: String,
        /// Why it is removed, e.g. "false positive".
        #[arg(long)]
        reason: String,
    },
    /// List an incident's indicators; `--values` prints the values alone, one per line, for
    /// `vigil hunt --search-file` to sweep log files for them.
    List {
        /// Incident key (INC-42) or id.
        key: String,
        /// The values of the indicators still on the incident, one per line.
        #[arg(long, conflicts_with = "json")]
        values: bool,
    },
    /// Find the incidents carrying an indicator value, newest first.
    Search {
        /// The value (normalised for every kind it is valid for).
        value: String,
        /// Restrict to one kind: ip, network, domain, url, md5, sha1, sha256, email,
        /// user_account, host, process, file_path, other; or hash (md5, sha1 and sha256).
        #[arg(long, value_parser = indicator_kind)]
        kind: Option<String>,
        /// How many hits to show (1–500; --offset pages on).
        #[arg(long, default_value_t = 50, value_parser = limit::<500>)]
        limit: u32,
        /// How many hits to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
}

/// `vigil incident log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Append an entry to the action log.
    Add {
        /// Incident key (INC-42) or id.
        key: String,
        /// What was done.
        text: String,
        /// Kind: note, investigation, containment, eradication, recovery, communication, other
        /// (`change` entries are Vigil's, written with each change to the record).
        #[arg(long, default_value = "note", value_parser = domain::<ActionKind>)]
        kind: ActionKind,
    },
    /// List the action log, oldest first.
    List {
        /// Incident key (INC-42) or id.
        key: String,
        /// How many to show (1–1000; --offset pages on).
        #[arg(long, default_value_t = 100, value_parser = limit::<1000>)]
        limit: u32,
        /// How many to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
}

/// `vigil incident evidence ...`
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Upload a file as evidence; its SHA-256 is computed by the server.
    Add {
        /// Incident key (INC-42) or id.
        key: String,
        /// The file to upload.
        file: PathBuf,
        /// Name to record (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// What the file is.
        #[arg(long)]
        description: Option<String>,
    },
    /// List an incident's evidence.
    List {
        /// Incident key (INC-42) or id.
        key: String,
    },
    /// Show one evidence item with its chain of custody.
    Show {
        /// Incident key (INC-42) or id.
        key: String,
        /// Evidence id.
        id: String,
    },
    /// Download evidence; the server re-verifies its SHA-256 and so does this command.
    Get {
        /// Incident key (INC-42) or id.
        key: String,
        /// Evidence id.
        id: String,
        /// Where to write it (an existing file is left alone unless --force); `-` writes it
        /// to standard output, which must then be redirected or piped (the summary goes to
        /// standard error).
        #[arg(long, short)]
        output: PathBuf,
        /// Replace the --output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Record a chain-of-custody event (who handled it, why).
    Custody {
        /// Incident key (INC-42) or id.
        key: String,
        /// Evidence id.
        id: String,
        /// What was done: e.g. transferred, examined, copied, sealed.
        #[arg(long)]
        action: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `vigil incident post-mortem`.
#[derive(Debug, ClapArgs)]
pub struct PostMortemArgs {
    #[command(flatten)]
    conn: Conn,
    /// Incident key (INC-42) or id.
    key: String,
    /// Summary of the review.
    #[arg(long)]
    summary: String,
    /// The root cause the analysis found; sets the incident's root cause.
    #[arg(long)]
    root_cause: Option<String>,
    /// A contributing factor as KIND:DESCRIPTION, KIND one of technical_lapse,
    /// procedural_failure, manual_error, process_flaw, other (repeatable).
    #[arg(long = "factor", value_name = "KIND:TEXT", value_parser = factor_arg)]
    factors: Vec<ContributingFactor>,
    /// Who took part, as ROLE:NAME or ROLE:NAME:TEAM, ROLE one of responder,
    /// product_group_sme, security_expert, privacy_expert, other (repeatable).
    #[arg(long = "participant", value_name = "ROLE:NAME[:TEAM]", value_parser = participant_arg)]
    participants: Vec<Participant>,
    /// What went well in the response (repeatable).
    #[arg(long)]
    went_well: Vec<String>,
    /// What did not go well in the response (repeatable).
    #[arg(long)]
    went_badly: Vec<String>,
    /// A detection improvement decided: new or changed monitoring (repeatable).
    #[arg(long = "detection", value_name = "TEXT")]
    detections: Vec<String>,
    /// The id of a Sigma rule implementing the one --detection given (repeatable).
    #[arg(long = "sigma-rule", value_name = "RULE_ID")]
    sigma_rules: Vec<String>,
}

impl PostMortemArgs {
    /// The request: --sigma-rule belongs to a single --detection, since flags cannot say which
    /// of several it would be.
    fn post_mortem(&self) -> anyhow::Result<NewPostMortem> {
        if !self.sigma_rules.is_empty() && self.detections.len() != 1 {
            return Err(crate::output::UsageError(format!(
                "--sigma-rule belongs to one --detection and {} are given; give exactly one --detection with its rules, or record several detections each with its rules through the API (POST /api/v1/incidents/KEY/post-mortem, detection_improvements[].sigma_rules): recording the post-mortem again replaces it",
                self.detections.len()
            ))
            .into());
        }
        Ok(NewPostMortem {
            summary: self.summary.clone(),
            root_cause: self.root_cause.clone(),
            contributing_factors: self.factors.clone(),
            participants: self.participants.clone(),
            went_well: self.went_well.clone(),
            went_badly: self.went_badly.clone(),
            detection_improvements: self
                .detections
                .iter()
                .map(|d| DetectionImprovement {
                    description: d.clone(),
                    sigma_rules: self.sigma_rules.clone(),
                })
                .collect(),
        })
    }
}

/// `--factor KIND:TEXT`.
fn factor_arg(raw: &str) -> Result<ContributingFactor, String> {
    let (kind, text) = raw
        .split_once(':')
        .ok_or_else(|| format!("{raw:?} is not KIND:TEXT (technical_lapse:legacy auth left on)"))?;
    Ok(ContributingFactor {
        kind: domain(kind)?,
        description: text.trim().to_owned(),
    })
}

/// `--participant ROLE:NAME[:TEAM]`.
fn participant_arg(raw: &str) -> Result<Participant, String> {
    let mut parts = raw.splitn(3, ':');
    let (Some(role), Some(name)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "{raw:?} is not ROLE:NAME or ROLE:NAME:TEAM (privacy_expert:priya:privacy office)"
        ));
    };
    Ok(Participant {
        name: name.trim().to_owned(),
        role: domain(role)?,
        team: parts.next().map(|t| t.trim().to_owned()),
    })
}

use anyhow::Context;
use vigil_api::types::*;
use vigil_client::{Client, ClientError};
use vigil_events::time::LocalZone;

use crate::output::{Cell, Lines, explain, one_line, outln, plural, print_json, table};

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(dispatch(command))?;
    Ok(std::process::ExitCode::SUCCESS)
}

pub(crate) fn client(conn: &Conn) -> anyhow::Result<Client> {
    let server = flag_or_env(conn.server.as_deref(), "VIGIL_SERVER");
    let mut client = Client::new(server.as_deref().unwrap_or(DEFAULT_SERVER)).map_err(explain)?;
    if let Some(seconds) = timeout(conn.timeout)? {
        client = client.with_idle_timeout(std::time::Duration::from_secs(seconds));
    }
    let Some(token) = flag_or_env(conn.token.as_deref(), "VIGIL_TOKEN") else {
        anyhow::bail!(
            "no API token given; pass --token or set VIGIL_TOKEN (create one with `vigil admin token --data DIR --role responder --name NAME`)"
        );
    };
    Ok(client.with_token(token))
}

/// The seconds of --timeout, else of `VIGIL_TIMEOUT` when set and not blank; `None` for the
/// client's default. A value outside 1 to [`MAX_TIMEOUT`] is refused as clap refuses it in
/// --timeout.
pub(crate) fn timeout(flag: Option<u64>) -> anyhow::Result<Option<u64>> {
    if flag.is_some() {
        return Ok(flag);
    }
    let Some(text) = flag_or_env(None, "VIGIL_TIMEOUT") else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(seconds) if (1..=MAX_TIMEOUT).contains(&seconds) => Ok(Some(seconds)),
        _ => Err(crate::output::UsageError(format!(
            "VIGIL_TIMEOUT={text:?} is not a number of seconds from 1 to {MAX_TIMEOUT} (a week); set it in that range, or unset it for the default ({} s)",
            vigil_client::DEFAULT_IDLE_TIMEOUT.as_secs()
        ))
        .into()),
    }
}

/// A `--limit`: how many records to show, 1 to `MAX` (the most the server answers at once). 0
/// is refused: it would show nothing, and the server reads it as its default page.
pub(crate) fn limit<const MAX: u32>(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err(format!("0 shows nothing; give a number from 1 to {MAX}")),
        Ok(n) if n <= MAX => Ok(n),
        _ => Err(format!("give a number from 1 to {MAX}")),
    }
}

/// A `--limit` that may be 0, 0 to `MAX`, for a command that shows something besides the
/// records (`vigil pivot --limit 0`: the counts and the timeline only).
pub(crate) fn limit_or_none<const MAX: u32>(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n <= MAX => Ok(n),
        _ => Err(format!("give a number from 0 to {MAX}")),
    }
}

/// A clap value parser for a value with rules of its own (a severity, a phase, a TLP): read
/// with `vigil-core`'s parser, so a typo ends the run with exit status 2 before any request,
/// clap's message naming the flag and vigil-core's the accepted values.
pub(crate) fn domain<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = vigil_core::DomainError>,
{
    text.parse().map_err(|err| match err {
        // Clap names the flag; the field's name in the message would say it twice.
        vigil_core::DomainError::InvalidField { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// `--category` of `incident update`: a category, or none (`--category ''`) to clear it.
#[derive(Debug, Clone, Copy)]
pub struct NewCategory(Option<Category>);

fn category_or_empty(text: &str) -> Result<NewCategory, String> {
    if text.trim().is_empty() {
        return Ok(NewCategory(None));
    }
    domain(text).map(|c| NewCategory(Some(c)))
}

/// An indicator's kind as written, checked before any request: one of the kinds, or `hash`
/// (md5, sha1 or sha256 by the value's length, which the server decides).
fn indicator_kind(text: &str) -> Result<String, String> {
    if !text.trim().eq_ignore_ascii_case("hash") {
        domain::<IndicatorKind>(text)
            .map_err(|e| format!("{e}; or hash (md5, sha1 or sha256 by the value's length)"))?;
    }
    Ok(text.to_owned())
}

/// `KIND:VALUE` → an indicator request (the server validates and normalises the value).
fn indicator_arg(raw: &str) -> Result<NewIndicator, String> {
    let (kind, value) = raw.split_once(':').ok_or_else(|| {
        "not KIND:VALUE; write it as ip:203.0.113.7 or domain:evil.example".to_owned()
    })?;
    Ok(NewIndicator {
        kind: indicator_kind(kind)?,
        value: value.to_owned(),
        note: None,
    })
}

/// The values given but the empty ones: `--service ''` alone replaces the list with none.
fn non_empty(values: &[String]) -> Vec<String> {
    values
        .iter()
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .collect()
}

/// A whole list of next steps: blanks left out, so that `--next-step ''` clears the list.
fn next_steps(steps: &[String]) -> Vec<NewNextStep> {
    steps
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| next_step(s))
        .collect()
}

fn next_step(text: &str) -> NewNextStep {
    NewNextStep {
        text: text.to_owned(),
        owner: None,
        done: false,
    }
}

/// A time argument, read as `vigil search --from` reads one: a date (its midnight), a date and
/// time (`2026-12-05 09:30`), RFC 3339, or a time relative to now (`now-24h`, `now+2h`). Its
/// form is checked as the arguments are parsed (a typo is an argument error, exit status 2);
/// it is read when the command runs ([`TimeText::read`]), as a wall-clock time in
/// `VIGIL_TIMEZONE` (UTC when unset), the zone the tables show, when written without an offset
/// (and refused when `VIGIL_TIMEZONE` names no zone).
#[derive(Debug, Clone)]
pub struct TimeText(String);

/// What a time argument that does not read says after clap's `invalid value … for --flag`.
const NOT_A_TIME: &str = "not a time; write a date (2026-12-05), a date and time (2026-12-05 09:30, in VIGIL_TIMEZONE when set, else UTC), RFC 3339 (2026-12-05T09:30:00Z) or a time relative to now (now-24h)";

pub(crate) fn time_arg(text: &str) -> Result<TimeText, String> {
    match time_in(text, &LocalZone::UTC, chrono::Utc::now()) {
        Some(_) => Ok(TimeText(text.to_owned())),
        None => Err(NOT_A_TIME.to_owned()),
    }
}

impl TimeText {
    /// The time this is, a time without an offset read in `VIGIL_TIMEZONE`; `flag` names the
    /// argument in an error.
    pub(crate) fn read(&self, flag: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        let text = self.0.trim();
        let zone = crate::output::input_zone(flag, text)?;
        time_in(text, zone, chrono::Utc::now()).ok_or_else(|| {
            crate::output::UsageError(format!("{flag} {:?} is {NOT_A_TIME}", self.0)).into()
        })
    }
}

/// The time of `incident timestamp`: a time, or `none` to clear the timestamp.
#[derive(Debug, Clone)]
pub struct Correction(Option<TimeText>);

fn correction(text: &str) -> Result<Correction, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Correction(None));
    }
    time_arg(text)
        .map(|t| Correction(Some(t)))
        .map_err(|e| format!("{e}; or `none` to clear it"))
}

fn time_in(
    value: &str,
    zone: &LocalZone,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = value.trim();
    if text.starts_with("now") {
        return vigil_query::parse_time(text).map(|t| t.resolve(now));
    }
    vigil_events::time::parse_timestamp_in(text, zone)
        .and_then(chrono::DateTime::from_timestamp_millis)
}

fn read_opt(
    flag: &str,
    value: Option<&TimeText>,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    value.map(|v| v.read(flag)).transpose()
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Open(a) => {
            let c = client(&a.conn)?;
            let req = NewIncident {
                title: a.title,
                summary: a.summary,
                severity: a.severity,
                severity_reason: a.severity_reason,
                category: a.category,
                tlp: a.tlp,
                pap: a.pap,
                techniques: a.attack,
                indicators: a.indicators,
                services: a.services,
                tenants: a.tenants,
                customer_facing: a.customer_facing,
                first_activity: read_opt("--first-activity", a.first_activity.as_ref())?,
                detected: None,
                acknowledged: None,
                data_impact: None,
                next_steps: next_steps(&a.next_steps),
            };
            let inc = c.create_incident(&req).await.map_err(explain)?;
            show_incident(&a.conn, &inc)
        }
        Command::List(a) => {
            let c = client(&a.conn)?;
            let created_from = read_opt("--created-from", a.created_from.as_ref())?;
            let created_to = read_opt("--created-to", a.created_to.as_ref())?;
            if let (Some(from), Some(to)) = (created_from, created_to)
                && from >= to
            {
                return Err(crate::output::UsageError(format!(
                    "--created-from {} is not before --created-to {}: no incident can be listed; give a --created-from earlier than --created-to (swapped?)",
                    a.created_from.as_ref().map_or("", |t| &t.0),
                    a.created_to.as_ref().map_or("", |t| &t.0)
                ))
                .into());
            }
            let query = IncidentQuery {
                phase: a.phase,
                severity: a.severity,
                priority: a.priority,
                category: a.category,
                service: a.service,
                tenant: a.tenant,
                indicator: a.indicator,
                open: if a.open {
                    Some(true)
                } else if a.closed {
                    Some(false)
                } else {
                    None
                },
                q: a.q,
                created_from: created_from
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                created_to: created_to
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                limit: Some(a.limit),
                offset: Some(a.offset),
            };
            let page = c.list_incidents(&query).await.map_err(explain)?;
            if a.conn.json {
                return print_json(&page);
            }
            let created = crate::output::time_column("CREATED");
            let mut t = table([
                "KEY",
                "SEV",
                "PRIORITY",
                "PHASE",
                "TITLE",
                "SERVICES",
                created.as_str(),
            ]);
            for inc in &page.items {
                t.add_row([
                    inc.key.to_string(),
                    inc.severity.to_string(),
                    inc.priority.to_string(),
                    inc.phase.to_string(),
                    inc.title.clone(),
                    joined_or_dash(&inc.services, ", "),
                    crate::output::shown_time(inc.created_at, "%Y-%m-%d %H:%M"),
                ]);
            }
            // An offset past the end shows no empty table, only what to give instead.
            if !page.items.is_empty() || page.total == 0 {
                outln!("{t}");
            }
            outln!(
                "{}",
                crate::output::page_footer(
                    a.offset,
                    page.items.len(),
                    page.total,
                    ("incident", "incidents"),
                    "newest first"
                )
            );
            Ok(())
        }
        Command::Show { conn, key } => {
            let c = client(&conn)?;
            let inc = c.get_incident(&key).await.map_err(explain)?;
            show_incident(&conn, &inc)?;
            if !conn.json {
                show_recent_actions(&c, &inc).await?;
            }
            Ok(())
        }
        Command::Update(a) => {
            let c = client(&a.conn)?;
            // Only the flags given are sent: the server applies them to the assessment as it
            // is when it writes the change, so a flag someone else set meanwhile stays (read
            // here and sent back whole, it would be lost).
            let impact = DataImpactPatch {
                customer_data: a.customer_data,
                personal_data: a.personal_data,
                disclosed: a.data_disclosed,
                modified: a.data_modified,
                destroyed: a.data_destroyed,
                notes: a
                    .data_notes
                    .map(|n| Some(n).filter(|n| !n.trim().is_empty())),
                assessed_by: None,
                assessed_at: None,
            };
            let data_impact = (!impact.is_empty()).then_some(impact);
            let req = IncidentPatch {
                title: a.title,
                summary: a.summary,
                category: a.category.map(|c| c.0),
                tlp: a.tlp,
                pap: a.pap,
                techniques: a.attack.as_deref().map(non_empty),
                services: a.services.as_deref().map(non_empty),
                tenants: a.tenants.as_deref().map(non_empty),
                customer_facing: a.customer_facing,
                data_impact,
                next_steps: a.next_steps.as_deref().map(next_steps),
                root_cause: match a.root_cause.as_deref().map(str::trim) {
                    Some("") => Some(None),
                    _ => a.root_cause.map(Some),
                },
                add_services: a.add_services,
                remove_services: a.remove_services,
                add_tenants: a.add_tenants,
                remove_tenants: a.remove_tenants,
                add_techniques: a.add_attack,
                remove_techniques: a.remove_attack,
                // Sent as written: a blank one is the server's to refuse, naming the field.
                add_next_steps: a.add_next_steps.iter().map(|s| next_step(s)).collect(),
            };
            let inc = c.update_incident(&a.key, &req).await.map_err(explain)?;
            confirm(&a.conn, &inc, "updated")
        }
        Command::Severity {
            conn,
            key,
            severity,
            reason,
        } => {
            let req = ChangeSeverity { severity, reason };
            let inc = client(&conn)?
                .change_severity(&key, &req)
                .await
                .map_err(explain)?;
            confirm(&conn, &inc, &format!("severity is now {}", inc.severity))
        }
        Command::Phase(a) => {
            let req = ChangePhase {
                phase: a.phase,
                reason: a.reason,
                root_cause: a.root_cause,
            };
            let inc = client(&a.conn)?
                .change_phase(&a.key, &req)
                .await
                .map_err(explain)?;
            confirm(&a.conn, &inc, &format!("moved to {}", inc.phase))
        }
        Command::Timestamp {
            conn,
            key,
            which,
            at,
            reason,
        } => {
            let req = CorrectTimestamp {
                kind: which,
                at: read_opt("the time", at.0.as_ref())?,
                reason,
            };
            let inc = client(&conn)?
                .correct_timestamp(&key, &req)
                .await
                .map_err(explain)?;
            confirm(&conn, &inc, &format!("{which} corrected"))
        }
        Command::PostMortem(a) => {
            let req = a.post_mortem()?;
            let inc = client(&a.conn)?
                .record_post_mortem(&a.key, &req)
                .await
                .map_err(explain)?;
            let pm = inc
                .post_mortem
                .as_ref()
                .map(|p| p.outline())
                .unwrap_or_default();
            confirm(&a.conn, &inc, &format!("post-mortem recorded: {pm}"))
        }
        Command::Indicator { conn, command } => indicator(&conn, command).await,
        Command::Link {
            conn,
            key,
            other,
            note,
        } => {
            let link = client(&conn)?
                .link(&key, &CreateLink { other, note })
                .await
                .map_err(explain)?;
            if conn.json {
                return print_json(&link);
            }
            outln!("linked {key} and {}", link.key);
            Ok(())
        }
        Command::Unlink { conn, key, other } => {
            let c = client(&conn)?;
            c.unlink(&key, &other).await.map_err(explain)?;
            if !conn.json {
                outln!("unlinked {key} and {other}");
                return Ok(());
            }
            // The server answers an unlink with no body: the state after it is read back, so
            // that a script gets a document as from every other change.
            let related = c.related(&key, &RelatedQuery::default()).await.map_err(|e| {
                anyhow::anyhow!(
                    "unlinked {key} and {other}, but could not read {key}'s related incidents back: {:#}; see them with `vigil incident related {key}`",
                    explain(e)
                )
            })?;
            print_json(&related)
        }
        Command::Related {
            conn,
            key,
            limit,
            offset,
        } => {
            let query = RelatedQuery {
                limit: Some(limit),
                offset: Some(offset),
            };
            let related = client(&conn)?
                .related(&key, &query)
                .await
                .map_err(explain)?;
            show_related(&conn, &related, offset)
        }
        Command::Log { conn, command } => match command {
            LogCommand::Add { key, text, kind } => {
                let req = AddAction {
                    text,
                    kind: Some(kind),
                };
                let entry = client(&conn)?
                    .add_action(&key, &req)
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&entry);
                }
                outln!("logged on {key}");
                Ok(())
            }
            LogCommand::List { key, limit, offset } => {
                let query = ActionQuery {
                    limit: Some(limit),
                    offset: Some(offset),
                };
                let page = client(&conn)?
                    .list_actions(&key, &query)
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&page);
                }
                if !page.items.is_empty() || page.total == 0 {
                    outln!("{}", actions_table("WHEN", &page.items));
                }
                outln!(
                    "{}",
                    crate::output::page_footer(
                        offset,
                        page.items.len(),
                        page.total,
                        ("entry", "entries"),
                        "oldest first"
                    )
                );
                Ok(())
            }
        },
        Command::Evidence { conn, command } => evidence(&conn, command).await,
        Command::Pivot {
            conn,
            key,
            window,
            accept,
        } => {
            let (from, to) = window.bounds()?;
            let req = vigil_api::events::IncidentPivotRequest { from, to, accept };
            let p = client(&conn)?
                .pivot_incident(&key, &req)
                .await
                .map_err(explain)?;
            show_pivot(&conn, &p, window.zone())
        }
    }
}

fn show_pivot(
    conn: &Conn,
    p: &vigil_api::events::IncidentPivotResponse,
    zone: &vigil_events::time::LocalZone,
) -> anyhow::Result<()> {
    if conn.json {
        return print_json(p);
    }
    if p.indicators.is_empty() {
        outln!(
            "{} has no active indicator to look for; add one with `vigil incident indicator add {} KIND VALUE`",
            p.key,
            p.key
        );
        return Ok(());
    }
    // A cell names the ten largest; `--json` has them all.
    let counts = |c: &[vigil_api::events::ValueCount], all: usize| {
        if c.is_empty() {
            return "-".to_owned();
        }
        let mut cell = crate::output::first_of(
            c.iter()
                .map(|v| format!("{} ({})", crate::pivot::value_or_none(&v.value), v.count)),
            10,
        );
        if all > c.len().max(10) {
            cell = format!("{cell} ({all} in all)");
        }
        cell
    };
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| crate::search::wall_clock(t, zone, "%Y-%m-%d %H:%M:%S"))
            .unwrap_or_else(|| "-".to_owned())
    };
    let first = format!("FIRST ({zone})");
    let last = format!("LAST ({zone})");
    let mut t = table([
        "KIND",
        "VALUE",
        "EVENTS",
        "SERVICES",
        "HOSTS",
        "TENANTS",
        first.as_str(),
        last.as_str(),
    ]);
    for i in &p.indicators {
        t.add_row([
            i.kind.to_string(),
            i.value.clone(),
            i.total.to_string(),
            counts(&i.by_service, i.by_service.len()),
            counts(&i.by_host, i.hosts as usize),
            counts(&i.by_tenant, i.by_tenant.len()),
            time(i.first_seen),
            time(i.last_seen),
        ]);
    }
    outln!("{t}");
    for i in &p.indicators {
        if let Some(n) = i.in_text_only.filter(|n| *n > 0) {
            outln!(
                "{} {}: followed as a whole value; {} it only inside a text (in_text_only), not proposed: `vigil pivot {}` shows them",
                i.kind,
                i.value,
                crate::output::plural(n, "more event holds", "more events hold"),
                shell_word(&i.value)
            );
        }
    }
    let mut seen = Vec::new();
    if !p.proposed_services.is_empty() {
        seen.push(format!("services {}", p.proposed_services.join(", ")));
    }
    if !p.proposed_tenants.is_empty() {
        seen.push(format!("tenants {}", p.proposed_tenants.join(", ")));
    }
    let seen = seen.join(" and ");
    if seen.is_empty() {
        outln!(
            "{}: its scope already covers every service and tenant the indicators appear in",
            p.key
        );
    } else if p.accepted {
        outln!("{}: added to its scope: {seen}", p.key);
    } else {
        outln!(
            "{}: also seen in {seen}, not yet in its scope; run again with --accept to add them",
            p.key
        );
    }
    Ok(())
}

/// `value` as one word of a POSIX shell command line: as it is when it holds nothing the shell
/// reads, single-quoted otherwise (`DOMAIN\admin` as `'DOMAIN\admin'`).
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@+=,%".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

async fn indicator(conn: &Conn, command: IndicatorCommand) -> anyhow::Result<()> {
    let c = client(conn)?;
    match command {
        IndicatorCommand::Add {
            key,
            kind,
            value,
            note,
        } => {
            let req = NewIndicator { kind, value, note };
            let ind = c.add_indicator(&key, &req).await.map_err(explain)?;
            if conn.json {
                return print_json(&ind);
            }
            outln!("{} {} {} (id {})", key, ind.kind, ind.value, ind.id);
        }
        IndicatorCommand::Remove { key, id, reason } => {
            let ind = c
                .remove_indicator(&key, &id, &reason)
                .await
                .map_err(explain)?;
            if conn.json {
                return print_json(&ind);
            }
            outln!("removed {} {} from {key}", ind.kind, ind.value);
        }
        IndicatorCommand::List { key, values } => {
            let inc = c.get_incident(&key).await.map_err(explain)?;
            if conn.json {
                return print_json(&inc.indicators);
            }
            if values {
                for i in inc.indicators.iter().filter(|i| i.is_active()) {
                    outln!("{}", i.value);
                }
                return Ok(());
            }
            if inc.indicators.is_empty() {
                outln!(
                    "{key} has no indicators; add one with `vigil incident indicator add {key} KIND VALUE`"
                );
                return Ok(());
            }
            outln!("{}", indicator_table(&inc.indicators));
        }
        IndicatorCommand::Search {
            value,
            kind,
            limit,
            offset,
        } => {
            let query = IndicatorQuery {
                value,
                kind,
                limit: Some(limit),
                offset: Some(offset),
            };
            let hits = c.search_indicators(&query).await.map_err(explain)?;
            let footer = crate::output::page_footer(
                offset,
                hits.items.len(),
                hits.total,
                ("hit", "hits"),
                "newest incident first",
            );
            if conn.json {
                // The hits stay a bare array, as before there were pages: the count goes to
                // standard error when the array is not all of them.
                if hits.items.len() as u64 != hits.total {
                    errln!("{footer}");
                }
                return print_json(&hits.items);
            }
            let mut t = table(["INCIDENT", "PHASE", "TITLE", "KIND", "VALUE"]);
            for h in &hits.items {
                t.add_row([
                    h.key.to_string(),
                    h.phase.to_string(),
                    h.title.clone(),
                    h.indicator.kind.to_string(),
                    h.indicator.value.clone(),
                ]);
            }
            // An offset past the end shows no empty table, only what to give instead.
            if !hits.items.is_empty() || hits.total == 0 {
                outln!("{t}");
            }
            outln!("{footer}");
        }
    }
    Ok(())
}

/// An incident's indicators, removed ones with who removed them and why.
fn indicator_table(indicators: &[vigil_core::Indicator]) -> crate::output::Table {
    let mut t = table(["INDICATOR", "KIND", "VALUE", "NOTE", "STATUS"]);
    for i in indicators {
        let status = match (&i.removed_by, &i.removal_reason) {
            (Some(by), reason) => {
                format!("removed by {by}: {}", reason.as_deref().unwrap_or("-"))
            }
            (None, _) => format!("added by {}", i.added_by),
        };
        t.add_row([
            i.id.to_string(),
            i.kind.to_string(),
            i.value.clone(),
            i.note.clone().unwrap_or_else(|| "-".to_owned()),
            status,
        ]);
    }
    t
}

async fn evidence(conn: &Conn, command: EvidenceCommand) -> anyhow::Result<()> {
    let c = client(conn)?;
    match command {
        EvidenceCommand::Add {
            key,
            file,
            name,
            description,
        } => {
            let named = name.is_some();
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .with_context(|| {
                        format!("{} has no file name; give one with --name", file.display())
                    })?,
            };
            let ev = c
                .upload_evidence_file(
                    &key,
                    &EvidenceUploadQuery {
                        file_name: name,
                        description,
                        dry_run: false,
                    },
                    &file,
                )
                .await
                .map_err(|err| match err {
                    // The name was taken from the file: say where it came from and how to
                    // give another.
                    ClientError::Invalid(e) if !named && e.field() == Some("file_name") => {
                        anyhow::anyhow!(
                            "the evidence's name is taken from the file, {}, and it is refused: {e}; give the name to store it under with --name",
                            file.display()
                        )
                    }
                    err => explain(err),
                })?;
            if conn.json {
                return print_json(&ev);
            }
            outln!(
                "stored {} on {key}: id {} sha256 {} ({} bytes)",
                ev.file_name,
                ev.id,
                ev.sha256,
                ev.size
            );
        }
        EvidenceCommand::List { key } => {
            let items = c.list_evidence(&key).await.map_err(explain)?;
            if conn.json {
                return print_json(&items);
            }
            let at = crate::output::time_column("AT");
            let mut t = table(["ID", "NAME", "SIZE", "SHA-256", "COLLECTED BY", at.as_str()]);
            for e in &items {
                t.add_row([
                    e.id.to_string(),
                    e.file_name.clone(),
                    e.size.to_string(),
                    e.sha256.to_string(),
                    e.collected_by.clone(),
                    crate::output::shown_time(e.collected_at, "%Y-%m-%d %H:%M"),
                ]);
            }
            outln!("{t}");
        }
        EvidenceCommand::Show { key, id } => {
            let e = c.get_evidence(&key, &id).await.map_err(explain)?;
            show_evidence(conn, &e)?;
        }
        EvidenceCommand::Get {
            key,
            id,
            output,
            force,
        } => {
            let (sha, size) = if output.as_os_str() == "-" {
                let (sha, size) = evidence_to_stdout(&c, &key, &id).await?;
                // Standard output holds the evidence: the summary goes to standard error.
                if conn.json {
                    errln!(
                        "{}",
                        serde_json::json!({"path": "-", "sha256": sha, "size": size})
                    );
                } else {
                    errln!("wrote {size} bytes to standard output (sha256 {sha} verified)");
                }
                return Ok(());
            } else {
                // The part file is made before the download is asked for: the server records
                // the download in the evidence's chain of custody, so a destination that
                // cannot be written must stop the command before the request.
                // Ctrl-C or a kill would end the process where it stands, leaving the part
                // file: caught from before it exists, they drop the download and with it the
                // part file, then end the process as the signal would have.
                let interrupted = crate::interrupt::interruption()?;
                let part = PartFile::create(&output, force).await?;
                let outcome = tokio::select! {
                    done = download_evidence(&c, &key, &id, part, &output, force) => Ok(done),
                    signal = interrupted => Err(signal),
                };
                match outcome {
                    Ok(done) => done?,
                    Err(signal) => {
                        errln!(
                            "interrupted: the download was stopped and nothing was written to {}",
                            output.display()
                        );
                        std::process::exit(128 + signal);
                    }
                }
            };
            if conn.json {
                return print_json(
                    &serde_json::json!({"path": output, "sha256": sha, "size": size}),
                );
            }
            outln!(
                "wrote {} ({size} bytes, sha256 {sha} verified)",
                output.display()
            );
        }
        EvidenceCommand::Custody {
            key,
            id,
            action,
            reason,
        } => {
            let e = c
                .add_custody(&key, &id, &AddCustody { action, reason })
                .await
                .map_err(explain)?;
            show_evidence(conn, &e)?;
        }
    }
    Ok(())
}

fn show_evidence(conn: &Conn, e: &Evidence) -> anyhow::Result<()> {
    if conn.json {
        return print_json(e);
    }
    outln!(
        "{} — {} ({} bytes)\nsha256 {}\ncollected by {} at {}",
        e.id,
        e.file_name,
        e.size,
        e.sha256,
        e.collected_by,
        crate::output::shown_time_zoned(e.collected_at, "%Y-%m-%d %H:%M:%S")
    );
    let when = crate::output::time_column("WHEN");
    let mut t = table([when.as_str(), "WHO", "ACTION", "WHY"]);
    for c in &e.custody {
        t.add_row([
            crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S"),
            c.actor.clone(),
            c.action.clone(),
            c.reason.clone(),
        ]);
    }
    outln!("{t}");
    Ok(())
}

/// Links, then the page of suggestions, most shared indicators first, with the phase of each
/// and how many there are in all.
fn show_related(conn: &Conn, related: &Related, offset: u32) -> anyhow::Result<()> {
    if conn.json {
        return print_json(related);
    }
    if related.links.is_empty() && related.suggestions_total == 0 {
        outln!("no linked incidents, and none shares an active indicator with this one");
        return Ok(());
    }
    if !related.links.is_empty() {
        let mut t = table(["LINKED", "BY", "NOTE"]);
        for l in &related.links {
            t.add_row([
                l.key.to_string(),
                l.linked_by.clone(),
                l.note.clone().unwrap_or_else(|| "-".to_owned()),
            ]);
        }
        outln!("{t}");
    }
    if related.suggestions_total == 0 {
        outln!("none else shares an active indicator with this one");
        return Ok(());
    }
    if !related.suggestions.is_empty() {
        let mut t = table(["SUGGESTED", "PHASE", "SHARED", "TITLE", "INDICATORS"]);
        for s in &related.suggestions {
            let shared = s
                .shared
                .iter()
                .map(|v| format!("{} {}", v.kind(), v.value()));
            t.add_row([
                s.key.to_string(),
                s.phase.to_string(),
                s.shared.len().to_string(),
                s.title.clone(),
                crate::output::first_of(shared, 5),
            ]);
        }
        outln!("{t}");
    }
    outln!(
        "{}",
        crate::output::page_footer(
            offset,
            related.suggestions.len(),
            related.suggestions_total,
            ("suggestion", "suggestions"),
            "most shared indicators first, then newest"
        )
    );
    Ok(())
}

/// A list for a table cell; `-` when empty, like every other missing value.
fn joined_or_dash(items: &[String], separator: &str) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(separator)
    }
}

/// Streams evidence into `part` (a part file beside `output`, made by [`PartFile::create`]
/// before the download was asked for), hashing it as it arrives, and puts it at `output` only
/// once its SHA-256 matches the one the server vouched for: a file of any size is never held in
/// memory, and a bad or broken download leaves nothing at `output`. Without `force`, never over
/// an existing file (another copy of the evidence, or anything else, is not silently
/// destroyed). Returns the SHA-256 and the size.
async fn download_evidence(
    c: &vigil_client::Client,
    key: &str,
    id: &str,
    (part, mut file): (PartFile, tokio::fs::File),
    output: &std::path::Path,
    force: bool,
) -> anyhow::Result<(String, u64)> {
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    let mut download = c.download_evidence_stream(key, id).await.map_err(explain)?;
    let write_error = || format!("could not write {}", output.display());
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = download.chunk().await.map_err(explain)? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.with_context(write_error)?;
    }
    file.sync_all().await.with_context(write_error)?;
    drop(file);
    let actual = hex::encode(hasher.finalize());
    if actual != download.sha256 {
        anyhow::bail!(
            "the downloaded bytes hash to {actual} but the server vouched for {}; nothing was written — retry, and report it if it persists",
            download.sha256
        );
    }
    part.place(output, force)?;
    Ok((actual, size))
}

/// Streams evidence to standard output (`--output -`), hashing it as it goes. Refused before
/// the download is asked for (which the server records in the chain of custody) when standard
/// output is a terminal, where binary evidence would garble the screen. The bytes cannot be
/// held back until they are checked, so a hash that does not match the server's is an error
/// (exit 1) after they were written. Returns the SHA-256 and the size.
async fn evidence_to_stdout(
    c: &vigil_client::Client,
    key: &str,
    id: &str,
) -> anyhow::Result<(String, u64)> {
    use sha2::Digest;
    use std::io::{IsTerminal, Write};
    if std::io::stdout().is_terminal() {
        anyhow::bail!(
            "--output - writes the evidence to standard output, which is a terminal here; redirect it (`-o - > FILE`) or pipe it into another command, or give a file path"
        );
    }
    let mut download = c.download_evidence_stream(key, id).await.map_err(explain)?;
    // Written as each piece arrives (a short blocking write to a pipe or file, like `outln!`).
    let mut out = std::io::stdout();
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let closed = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader (`| head -c 100`) has all it asked for: end quietly.
            std::process::exit(0);
        }
        anyhow::Error::new(e).context("could not write the evidence to standard output")
    };
    while let Some(chunk) = download.chunk().await.map_err(explain)? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        out.write_all(&chunk).map_err(closed)?;
    }
    out.flush().map_err(closed)?;
    let actual = hex::encode(hasher.finalize());
    if actual != download.sha256 {
        anyhow::bail!(
            "the downloaded bytes hash to {actual} but the server vouched for {}; discard what was written to standard output, retry, and report it if it persists",
            download.sha256
        );
    }
    Ok((actual, size))
}

/// A download's part file, removed unless placed: an interrupted or refused download leaves
/// nothing behind.
struct PartFile(Option<std::path::PathBuf>);

impl PartFile {
    /// Creates the part file beside `output` (in its directory, so that placing it is a
    /// rename), refusing first an `output` that exists (without `force`), names no file, or
    /// whose directory cannot be written: each is said before any transfer.
    async fn create(
        output: &std::path::Path,
        force: bool,
    ) -> anyhow::Result<(PartFile, tokio::fs::File)> {
        if !force && output.exists() {
            anyhow::bail!(
                "{} exists; pick another --output, or add --force to replace it",
                output.display()
            );
        }
        if output.is_dir() {
            anyhow::bail!(
                "{} is a directory; give --output a file path in it",
                output.display()
            );
        }
        let name = output
            .file_name()
            .with_context(|| format!("{} names no file; give a file path", output.display()))?;
        let part = output.with_file_name(format!(
            ".{}.part-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .await
            .map_err(|e| {
                let parent = match output.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => std::path::Path::new("."),
                };
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "create the directory {} first, or pick another --output",
                        parent.display()
                    )
                } else {
                    format!(
                        "check that {} can be written, or pick another --output",
                        parent.display()
                    )
                };
                anyhow::Error::new(e)
                    .context(format!("could not write {}; {hint}", output.display()))
            })?;
        Ok((PartFile(Some(part)), file))
    }

    /// Moves the part file to `output`; without `force`, only where nothing is (a hard link
    /// fails on an existing file, where a rename would replace it).
    fn place(mut self, output: &std::path::Path, force: bool) -> anyhow::Result<()> {
        let Some(part) = self.0.take() else {
            return Ok(());
        };
        let exists = || {
            anyhow::anyhow!(
                "{} exists; pick another --output, or add --force to replace it",
                output.display()
            )
        };
        let placed = if force {
            std::fs::rename(&part, output)
        } else {
            match std::fs::hard_link(&part, output) {
                Ok(()) => std::fs::remove_file(&part),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let _ = std::fs::remove_file(&part);
                    return Err(exists());
                }
                // A file system without hard links: checked, then renamed.
                Err(_) if output.exists() => {
                    let _ = std::fs::remove_file(&part);
                    return Err(exists());
                }
                Err(_) => std::fs::rename(&part, output),
            }
        };
        placed.map_err(|e| {
            let _ = std::fs::remove_file(&part);
            anyhow::Error::new(e).context(format!("could not write {}", output.display()))
        })
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(part) = self.0.take() {
            let _ = std::fs::remove_file(part);
        }
    }
}

/// The data-impact assessment as `incident show` gives it: the flags with who assessed them
/// and when (in the zone of `VIGIL_TIMEZONE`), the notes a line each, and whether the
/// notification process applies.
fn data_impact_lines(impact: &DataImpact) -> Lines {
    let by = impact.assessed_by.as_deref().map(|b| format!(" by {b}"));
    let at = impact.assessed_at.map(|t| {
        format!(
            " at {}",
            crate::output::shown_time_zoned(t, "%Y-%m-%d %H:%M:%S")
        )
    });
    let assessed = match (by, at) {
        (None, None) => String::new(),
        (by, at) => format!(
            " (assessed{}{})",
            by.unwrap_or_default(),
            at.unwrap_or_default()
        ),
    };
    let mut lines = vec![format!(
        "customer data: {}, personal data: {}, disclosed: {}, modified: {}, destroyed: {}{assessed}",
        impact.customer_data,
        impact.personal_data,
        impact.disclosed,
        impact.modified,
        impact.destroyed,
    )];
    let notes = impact.notes.as_deref().unwrap_or_default();
    lines.extend(notes.lines().enumerate().map(|(i, line)| match i {
        0 => format!("notes: {line}"),
        _ => format!("       {line}"),
    }));
    if impact.requires_notification() {
        lines.push("a data breach: the notification process applies".to_owned());
    }
    Lines(lines)
}

fn show_incident(conn: &Conn, inc: &Incident) -> anyhow::Result<()> {
    if conn.json {
        return print_json(inc);
    }
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        opt(t.map(|t| crate::output::shown_time_zoned(t, "%Y-%m-%d %H:%M:%S")))
    };
    let duration = |s: Option<i64>| opt(s.map(crate::output::span));
    outln!("{} — {}", inc.key, one_line(&inc.title));
    let mut t = table(["FIELD", "VALUE"]);
    let durations = inc.timestamps.durations();
    let techniques: Vec<String> = inc.techniques.iter().map(|t| t.to_string()).collect();
    let steps: Vec<String> = inc
        .next_steps
        .iter()
        .map(|s| {
            format!(
                "[{}] {}{}",
                if s.done { "x" } else { " " },
                s.text,
                s.owner
                    .as_deref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let links: Vec<String> = inc.links.iter().map(|l| l.key.to_string()).collect();
    let rows: Vec<(&str, Cell)> = vec![
        ("id", inc.id.to_string().into()),
        ("phase", inc.phase.to_string().into()),
        ("severity", inc.severity.to_string().into()),
        ("priority", inc.priority.to_string().into()),
        ("category", opt(inc.category.map(|c| c.to_string())).into()),
        ("summary", Lines::of_text(&inc.summary).into()),
        ("services", joined_or_dash(&inc.services, ", ").into()),
        ("tenants", joined_or_dash(&inc.tenants, ", ").into()),
        ("customer-facing", inc.customer_facing.to_string().into()),
        ("TLP / PAP", format!("{} / {}", inc.tlp, inc.pap).into()),
        ("ATT&CK", joined_or_dash(&techniques, ", ").into()),
        (
            "root cause",
            Lines::of_text(&opt(inc.root_cause.clone())).into(),
        ),
        (
            "post-mortem",
            post_mortem_lines(inc.post_mortem.as_ref()).into(),
        ),
        (
            "findings",
            match inc.findings.is_empty() {
                true => "-".into(),
                false => Lines(
                    inc.findings
                        .iter()
                        .map(|f| format!("{} [{}] {} ({})", f.key, f.state, f.title, f.team))
                        .collect(),
                )
                .into(),
            },
        ),
        (
            "next steps",
            match steps.is_empty() {
                true => "-".into(),
                false => Lines(steps).into(),
            },
        ),
        ("data impact", data_impact_lines(&inc.data_impact).into()),
        ("linked incidents", joined_or_dash(&links, ", ").into()),
        ("evidence", inc.evidence.len().to_string().into()),
        (
            "action log",
            plural(inc.action_count, "entry", "entries").into(),
        ),
        ("first activity", time(inc.timestamps.first_activity).into()),
        ("detected", time(inc.timestamps.detected).into()),
        ("acknowledged", time(inc.timestamps.acknowledged).into()),
        (
            "declared",
            // Not the opening (`vigil alerts declare` opens an incident in detection): the
            // confirmation as a security incident, which moving it to containment records.
            match inc.timestamps.declared {
                Some(_) => time(inc.timestamps.declared),
                None => "- (set when analysis confirms it: analysis → containment)".to_owned(),
            }
            .into(),
        ),
        ("contained", time(inc.timestamps.contained).into()),
        ("eradicated", time(inc.timestamps.eradicated).into()),
        ("recovered", time(inc.timestamps.recovered).into()),
        ("closed", time(inc.timestamps.closed).into()),
        (
            "time to detect",
            duration(durations.time_to_detect_seconds).into(),
        ),
        (
            "time to acknowledge",
            duration(durations.time_to_acknowledge_seconds).into(),
        ),
        (
            "time to contain",
            duration(durations.time_to_contain_seconds).into(),
        ),
        (
            "time to recover",
            duration(durations.time_to_recover_seconds).into(),
        ),
        (
            "opened by",
            format!(
                "{} at {}",
                inc.created_by,
                crate::output::shown_time_zoned(inc.created_at, "%Y-%m-%d %H:%M:%S")
            )
            .into(),
        ),
    ];
    for (k, v) in rows {
        t.add_row([Cell::from(k), v]);
    }
    outln!("{t}");
    if !inc.indicators.is_empty() {
        outln!("{}", indicator_table(&inc.indicators));
    }
    let when = crate::output::time_column("WHEN");
    let mut t = table(["SEVERITY", "BY", "WHY", when.as_str()]);
    for c in &inc.severity_history {
        let change = match c.from {
            Some(from) => format!("{from} → {}", c.to),
            None => c.to.to_string(),
        };
        t.add_row([
            change,
            c.actor.clone(),
            c.reason.clone(),
            crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S"),
        ]);
    }
    outln!("{t}");
    if !inc.priority_history.is_empty() {
        let mut t = table(["PRIORITY", "BY", "WHAT MOVED IT", when.as_str()]);
        for c in &inc.priority_history {
            t.add_row([
                format!("{} → {}", c.from, c.to),
                c.actor.clone(),
                c.reason.clone(),
                crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S"),
            ]);
        }
        outln!("{t}");
    }
    // Every assessment once there was more than one: a breach assessed and cleared since
    // still asks for a post-mortem before closing, and this says who assessed it when.
    if inc.data_impact_history.len() > 1 {
        let mut t = table(["DATA IMPACT ASSESSED", "BY", when.as_str()]);
        for d in &inc.data_impact_history {
            t.add_row([
                match d.requires_notification() {
                    true => format!("a data breach: {}", d.describe()),
                    false => d.describe(),
                },
                opt(d.assessed_by.clone()),
                opt(d
                    .assessed_at
                    .map(|t| crate::output::shown_time(t, "%Y-%m-%d %H:%M:%S"))),
            ]);
        }
        outln!("{t}");
    }
    if !inc.phase_history.is_empty() {
        let mut t = table(["PHASE", "BY", "WHY", when.as_str()]);
        for c in &inc.phase_history {
            t.add_row([
                format!("{} → {}", c.from, c.to),
                c.actor.clone(),
                opt(c.reason.clone()),
                crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S"),
            ]);
        }
        outln!("{t}");
    }
    if !inc.timestamp_corrections.is_empty() {
        let mut t = table(["CORRECTED", "FROM", "TO", "BY", "WHY", when.as_str()]);
        for c in &inc.timestamp_corrections {
            t.add_row([
                c.kind.to_string(),
                time(c.from),
                time(c.to),
                c.actor.clone(),
                c.reason.clone(),
                crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S"),
            ]);
        }
        outln!("{t}");
    }
    Ok(())
}

/// How many of the latest action-log entries `incident show` lists.
const RECENT_ACTIONS: u64 = 5;

/// The latest entries of the incident's action log, oldest first, and how to see the rest:
/// what a responder picking the incident up reads first.
async fn show_recent_actions(c: &Client, inc: &Incident) -> anyhow::Result<()> {
    if inc.action_count == 0 {
        return Ok(());
    }
    let query = ActionQuery {
        limit: Some(RECENT_ACTIONS as u32),
        offset: Some(inc.action_count.saturating_sub(RECENT_ACTIONS) as u32),
    };
    let page = c
        .list_actions(&inc.key.to_string(), &query)
        .await
        .map_err(explain)?;
    outln!("{}", actions_table("LATEST ACTIONS", &page.items));
    if inc.action_count > RECENT_ACTIONS {
        outln!(
            "{} earlier: vigil incident log list {}",
            inc.action_count - RECENT_ACTIONS,
            inc.key
        );
    }
    Ok(())
}

/// Action-log entries as a table, the time column headed `when`.
fn actions_table(when: &str, entries: &[ActionEntry]) -> crate::output::Table {
    let when = crate::output::time_column(when);
    let mut t = table([when.as_str(), "WHO", "KIND", "WHAT"]);
    for e in entries {
        t.add_row([
            crate::output::shown_time(e.at, "%Y-%m-%d %H:%M:%S").into(),
            Cell::from(&e.actor),
            e.kind.to_string().into(),
            Lines::of_text(&e.text).into(),
        ]);
    }
    t
}

/// The post-mortem as lines: summary, who wrote it, then each part it holds.
fn post_mortem_lines(pm: Option<&PostMortem>) -> Lines {
    let Some(pm) = pm else {
        return Lines(vec!["-".to_owned()]);
    };
    let mut out: Vec<String> = pm.summary.lines().map(str::to_owned).collect();
    out.push(format!(
        "(by {} at {})",
        pm.recorded_by,
        crate::output::shown_time(pm.recorded_at, "%Y-%m-%d %H:%M")
    ));
    for f in &pm.contributing_factors {
        out.push(format!("factor {}: {}", f.kind, f.description));
    }
    for p in &pm.participants {
        let team = p
            .team
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        out.push(format!("participant {}: {}{team}", p.role, p.name));
    }
    out.extend(pm.went_well.iter().map(|w| format!("went well: {w}")));
    out.extend(pm.went_badly.iter().map(|w| format!("went badly: {w}")));
    for d in &pm.detection_improvements {
        let rules = if d.sigma_rules.is_empty() {
            String::new()
        } else {
            format!(" [sigma {}]", d.sigma_rules.join(", "))
        };
        out.push(format!("detection: {}{rules}", d.description));
    }
    Lines(out)
}

/// One line confirming a change (the full record with `show`, or `--json`).
fn confirm(conn: &Conn, inc: &Incident, what: &str) -> anyhow::Result<()> {
    if conn.json {
        return print_json(inc);
    }
    outln!(
        "{}: {what} (phase {}, severity {}, priority {})",
        inc.key,
        inc.phase,
        inc.severity,
        inc.priority
    );
    Ok(())
}

#[cfg(test)]
mod time_tests {
    use super::time_in;
    use vigil_events::time::LocalZone;

    #[test]
    fn a_time_argument_reads_as_search_from_does() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T18:00:00Z")
            .unwrap()
            .to_utc();
        let utc = LocalZone::UTC;
        let at = |text: &str, zone: &LocalZone| time_in(text, zone, now).map(|t| t.to_rfc3339());
        assert_eq!(at("2026-12-05", &utc).unwrap(), "2026-12-05T00:00:00+00:00");
        assert_eq!(
            at("2026-12-05 09:30", &utc).unwrap(),
            "2026-12-05T09:30:00+00:00"
        );
        assert_eq!(
            at("2026-12-05T09:30:00+01:00", &utc).unwrap(),
            "2026-12-05T08:30:00+00:00"
        );
        assert_eq!(at("now-24h", &utc).unwrap(), "2026-12-04T18:00:00+00:00");
        let berlin: LocalZone = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            at("2026-12-05 09:30", &berlin).unwrap(),
            "2026-12-05T08:30:00+00:00"
        );
        assert_eq!(
            at("2026-12-05T09:30:00Z", &berlin).unwrap(),
            "2026-12-05T09:30:00+00:00"
        );
        assert!(at("yesterday", &utc).is_none());
        assert!(at("2026-13-05", &utc).is_none());
    }
}

#[cfg(test)]
mod shell_word_tests {
    use super::shell_word;

    #[test]
    fn a_value_is_written_as_one_shell_word() {
        assert_eq!(shell_word("svc-deploy"), "svc-deploy");
        assert_eq!(shell_word("alice@corp.example"), "alice@corp.example");
        assert_eq!(shell_word(r"CORP\admin"), r"'CORP\admin'");
        assert_eq!(shell_word("it's me"), r"'it'\''s me'");
        assert_eq!(shell_word(""), "''");
    }
}
