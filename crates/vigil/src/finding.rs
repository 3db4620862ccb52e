//! `vigil finding`: the work items incidents leave for owning teams (`FND-n`), on a running
//! server through `vigil-client`: raise one on an incident, list them across incidents (by
//! team, state, open, overdue), show one with its history, change its state or fields.

use clap::{Args as ClapArgs, Subcommand};
use vigil_api::types::*;

use crate::incident::{Conn, client, domain};
use crate::output::{Cell, Lines, explain, outln, plural, print_json, table};

const AFTER_HELP: &str = "\
These commands talk to a running server, as `vigil incident` does (--server, --token).
A finding's team must be a team of the organisation document (`vigil apply -f org.yaml`).
States: open → in_progress → done (needs --note: what was done) or wont_fix (needs --note:
why); reopening a closed finding needs --note too. Kinds: prevent, detect, respond.

Examples:
  vigil finding add INC-1 --team identity --title \"Enforce phishing-resistant MFA\" --kind prevent --due 2027-01-15 --ticket SEC-123
  vigil finding list --team identity --open --overdue
  vigil finding show FND-3
  vigil finding update FND-3 --state in_progress --assignee bob
  vigil finding update FND-3 --state done --note \"FIDO2 keys enforced for admins\"";

/// Subcommands of `vigil finding`.
#[derive(Debug, Subcommand)]
#[command(after_help = AFTER_HELP)]
pub enum Command {
    /// Raise a finding on an incident, owned by a team.
    Add(Box<AddArgs>),
    /// List findings across incidents, oldest first, with filters.
    List(Box<ListArgs>),
    /// Show one finding with its history.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// Finding key (FND-3).
        key: String,
    },
    /// Change a finding's state (with a note) or its fields.
    Update(Box<UpdateArgs>),
}

/// `vigil finding add`.
#[derive(Debug, ClapArgs)]
pub struct AddArgs {
    #[command(flatten)]
    conn: Conn,
    /// Incident key (INC-42) or id.
    incident: String,
    /// The owning team (a team of the organisation document).
    #[arg(long)]
    team: String,
    /// What is to be done, one line.
    #[arg(long)]
    title: String,
    /// What the work improves: prevent, detect or respond.
    #[arg(long, value_parser = domain::<FindingKind>, default_value = "prevent")]
    kind: FindingKind,
    /// Details.
    #[arg(long)]
    description: Option<String>,
    /// Who in the team does it.
    #[arg(long)]
    assignee: Option<String>,
    /// When it is due (YYYY-MM-DD).
    #[arg(long, value_parser = day)]
    due: Option<chrono::NaiveDate>,
    /// The work item in the team's tracker: a URL or a key (SEC-123).
    #[arg(long)]
    ticket: Option<String>,
}

/// `vigil finding list`.
#[derive(Debug, ClapArgs)]
pub struct ListArgs {
    #[command(flatten)]
    conn: Conn,
    /// Only this team's.
    #[arg(long)]
    team: Option<String>,
    /// Only this state: open, in_progress, done, wont_fix.
    #[arg(long, value_parser = domain::<FindingState>)]
    state: Option<FindingState>,
    /// Only this kind: prevent, detect, respond.
    #[arg(long, value_parser = domain::<FindingKind>)]
    kind: Option<FindingKind>,
    /// Only those still owed (open or in progress).
    #[arg(long, conflicts_with = "closed")]
    open: bool,
    /// Only closed ones (done or won't fix).
    #[arg(long, conflicts_with = "overdue")]
    closed: bool,
    /// Only those overdue today (still owed, due before today, UTC).
    #[arg(long)]
    overdue: bool,
    /// Only this incident's (INC-42).
    #[arg(long)]
    incident: Option<String>,
    /// How many to show (1 to 500).
    #[arg(long, default_value = "50", value_parser = crate::incident::limit::<500>)]
    limit: u32,
    /// How many to skip.
    #[arg(long, default_value = "0")]
    offset: u32,
}

/// `vigil finding update`.
#[derive(Debug, ClapArgs)]
pub struct UpdateArgs {
    #[command(flatten)]
    conn: Conn,
    /// Finding key (FND-3).
    key: String,
    /// New state: open, in_progress, done, wont_fix.
    #[arg(long, value_parser = domain::<FindingState>)]
    state: Option<FindingState>,
    /// Why: the resolution note of done, the reason of wont_fix or of reopening.
    #[arg(long)]
    note: Option<String>,
    /// New title.
    #[arg(long)]
    title: Option<String>,
    /// New description ('' clears it).
    #[arg(long)]
    description: Option<String>,
    /// New kind: prevent, detect, respond.
    #[arg(long, value_parser = domain::<FindingKind>)]
    kind: Option<FindingKind>,
    /// New owning team.
    #[arg(long)]
    team: Option<String>,
    /// New assignee ('' clears it).
    #[arg(long)]
    assignee: Option<String>,
    /// New due day, YYYY-MM-DD ('' clears it).
    #[arg(long, value_parser = day_or_none)]
    due: Option<DueArg>,
    /// New ticket reference ('' clears it).
    #[arg(long)]
    ticket: Option<String>,
}

/// `--due` of `update`: a day, or none to clear it.
#[derive(Debug, Clone, Copy)]
pub struct DueArg(Option<chrono::NaiveDate>);

fn day(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a day; write it as YYYY-MM-DD (2027-01-15)"))
}

fn day_or_none(text: &str) -> Result<DueArg, String> {
    if text.trim().is_empty() {
        return Ok(DueArg(None));
    }
    day(text).map(|d| DueArg(Some(d)))
}

/// A text flag of `update` that may clear its field: '' is `null`.
fn clearable(v: Option<String>) -> Option<Option<String>> {
    v.map(|t| Some(t).filter(|t| !t.trim().is_empty()))
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("could not start the async runtime: {e}"))?;
    runtime.block_on(dispatch(command))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Add(a) => {
            let req = NewFinding {
                title: a.title,
                description: a.description,
                kind: a.kind,
                team: a.team,
                assignee: a.assignee,
                due: a.due,
                ticket: a.ticket,
            };
            let f = client(&a.conn)?
                .create_finding(&a.incident, &req)
                .await
                .map_err(explain)?;
            confirm(&a.conn, &f, "raised")
        }
        Command::List(a) => {
            let query = FindingQuery {
                team: a.team,
                state: a.state,
                kind: a.kind,
                open: if a.open {
                    Some(true)
                } else if a.closed {
                    Some(false)
                } else {
                    None
                },
                overdue: a.overdue.then_some(true),
                incident: a.incident,
                limit: Some(a.limit),
                offset: Some(a.offset),
                ..Default::default()
            };
            let page = client(&a.conn)?
                .list_findings(&query)
                .await
                .map_err(explain)?;
            if a.conn.json {
                return print_json(&page);
            }
            let today = chrono::Utc::now().date_naive();
            let mut t = table([
                "KEY", "INCIDENT", "STATE", "KIND", "TEAM", "ASSIGNEE", "DUE", "TITLE",
            ]);
            for f in &page.items {
                t.add_row([
                    f.key.to_string().into(),
                    f.incident.to_string().into(),
                    f.state.to_string().into(),
                    f.kind.to_string().into(),
                    Cell::from(&f.team),
                    Cell::from(f.assignee.clone().unwrap_or_else(|| "-".to_owned())),
                    due_cell(f, today),
                    Cell::from(&f.title),
                ]);
            }
            outln!("{t}");
            outln!(
                "{} of {}",
                plural(page.items.len() as u64, "finding", "findings"),
                page.total
            );
            Ok(())
        }
        Command::Show { conn, key } => {
            let f = client(&conn)?.get_finding(&key).await.map_err(explain)?;
            show(&conn, &f)
        }
        Command::Update(a) => {
            let req = FindingUpdate {
                state: a.state,
                note: a.note,
                title: a.title,
                description: clearable(a.description),
                kind: a.kind,
                team: a.team,
                assignee: clearable(a.assignee),
                due: a.due.map(|d| d.0),
                ticket: clearable(a.ticket),
            };
            if req == FindingUpdate::default() {
                return Err(crate::output::UsageError(
                    "nothing to change; give --state (with --note), --note or a field flag (--title, --team, --assignee, --due, --ticket …)".to_owned(),
                )
                .into());
            }
            let f = client(&a.conn)?
                .update_finding(&a.key, &req)
                .await
                .map_err(explain)?;
            confirm(&a.conn, &f, "updated")
        }
    }
}

/// The due day, marked when overdue.
fn due_cell(f: &Finding, today: chrono::NaiveDate) -> Cell {
    match f.due {
        None => "-".into(),
        Some(d) if f.is_overdue(today) => format!("{d} (overdue)").into(),
        Some(d) => d.to_string().into(),
    }
}

fn show(conn: &Conn, f: &Finding) -> anyhow::Result<()> {
    if conn.json {
        return print_json(f);
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let time =
        |t: chrono::DateTime<chrono::Utc>| crate::output::shown_time_zoned(t, "%Y-%m-%d %H:%M:%S");
    outln!("{} — {}", f.key, crate::output::one_line(&f.title));
    let mut t = table(["FIELD", "VALUE"]);
    let rows: Vec<(&str, Cell)> = vec![
        ("incident", f.incident.to_string().into()),
        ("state", f.state.to_string().into()),
        ("kind", f.kind.to_string().into()),
        ("team", Cell::from(&f.team)),
        ("assignee", opt(&f.assignee).into()),
        ("due", due_cell(f, chrono::Utc::now().date_naive())),
        ("ticket", opt(&f.ticket).into()),
        ("description", Lines::of_text(&opt(&f.description)).into()),
        ("raised in", f.raised_in.to_string().into()),
        (
            "raised",
            format!("{} by {}", time(f.created_at), f.created_by).into(),
        ),
        (
            "closed",
            f.closed_at.map_or_else(|| "-".to_owned(), time).into(),
        ),
    ];
    for (k, v) in rows {
        t.add_row([k.into(), v]);
    }
    outln!("{t}");
    if !f.history.is_empty() {
        let when = crate::output::time_column("WHEN");
        let mut h = table([when.as_str(), "WHO", "STATE", "NOTE", "CHANGED"]);
        for c in &f.history {
            let state = if c.from == c.to {
                c.to.to_string()
            } else {
                format!("{} → {}", c.from, c.to)
            };
            h.add_row([
                crate::output::shown_time(c.at, "%Y-%m-%d %H:%M:%S").into(),
                Cell::from(&c.actor),
                state.into(),
                Lines::of_text(&opt(&c.note)).into(),
                Cell::from(opt(&c.changed)),
            ]);
        }
        outln!("{h}");
    }
    Ok(())
}

/// One line confirming a change (the whole finding with `show`, or `--json`).
fn confirm(conn: &Conn, f: &Finding, what: &str) -> anyhow::Result<()> {
    if conn.json {
        return print_json(f);
    }
    outln!(
        "{}: {what} (incident {}, team {}, state {})",
        f.key,
        f.incident,
        crate::output::one_line(&f.team),
        f.state
    );
    Ok(())
}
