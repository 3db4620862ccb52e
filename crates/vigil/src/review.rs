//! `vigil review`: the monthly security incident review of a running server, for the meeting
//! senior management holds each month: what happened, how fast the response was, and what
//! needs their attention.

use std::collections::BTreeMap;

use vigil_api::review::{FindingCounts, IncidentBrief, Measure, MonthlyReview, ReviewQuery};

use crate::incident::{Conn, client};
use crate::output::{explain, one_line, outln, print_json, shown_time_zoned, span, table};

const AFTER_HELP: &str = "\
Each fact counts in the month it happened in: an incident is opened in the month it was
detected, closed in the month it was closed; a response time counts in the month its end
milestone falls in (time to contain over the incidents contained that month). Times come
from the incidents' lifecycle milestones, corrections included, never typed in.

Examples:
  vigil review                                  # last month, UTC
  vigil review --month 2026-11 --timezone Europe/Berlin
  vigil review --month 2026-11 --tenant acme --json

Needs a token of role viewer or above (--token or VIGIL_TOKEN).";

/// Arguments of `vigil review`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub conn: Conn,
    /// The month to review, YYYY-MM [default: last month].
    #[arg(long)]
    pub month: Option<String>,
    /// The time zone the month begins and ends in (IANA name such as Europe/Berlin, UTC, or an
    /// offset such as +01:00) [default: UTC].
    #[arg(long)]
    pub timezone: Option<String>,
    /// Only incidents with this tenant in scope, and this tenant's alerts.
    #[arg(long)]
    pub tenant: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let query = ReviewQuery {
        month: args.month,
        timezone: args.timezone,
        tenant: args.tenant,
    };
    let review = runtime
        .block_on(client(&args.conn)?.monthly_review(&query))
        .map_err(explain)?;
    if args.conn.json {
        print_json(&review)?;
    } else {
        print(&review);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn print(r: &MonthlyReview) {
    let scope = r
        .tenant
        .as_deref()
        .map(|t| format!(", tenant {}", one_line(t)))
        .unwrap_or_default();
    outln!(
        "Monthly security incident review: {} ({}{scope}), computed {}",
        r.period.label,
        r.timezone,
        computed_at(r)
    );
    if r.computed_at < r.period.to {
        outln!("The month is not over: its figures will still change.");
    }
    for warning in &r.warnings {
        crate::output::errln!("warning: {}", one_line(warning));
    }
    outln!();
    let i = &r.incidents;
    let p = &r.previous;
    let mut t = table(["INCIDENTS", r.period.label.as_str(), p.label.as_str()]);
    t.add_row(["opened".into(), i.opened.to_string(), p.opened.to_string()]);
    t.add_row(["closed".into(), i.closed.to_string(), p.closed.to_string()]);
    t.add_row([
        if r.computed_at < r.period.to {
            "open now (the month runs on)".to_owned()
        } else {
            "open at the month's end".to_owned()
        },
        i.open_at_end.to_string(),
        p.open_at_end.to_string(),
    ]);
    t.add_row([
        "confirmed (contained phase)".into(),
        i.confirmed.to_string(),
        p.confirmed.to_string(),
    ]);
    t.add_row([
        "customer-facing, opened".into(),
        i.customer_facing.to_string(),
        p.customer_facing.to_string(),
    ]);
    t.add_row([
        "median time to contain".into(),
        or_none(r.response_times.time_to_contain.median_seconds),
        or_none(p.median_time_to_contain_seconds),
    ]);
    t.add_row([
        "median time to recover".into(),
        or_none(r.response_times.time_to_recover.median_seconds),
        or_none(p.median_time_to_recover_seconds),
    ]);
    t.add_row([
        "alerts raised".into(),
        r.alerts.raised.to_string(),
        p.alerts_raised.to_string(),
    ]);
    outln!("{t}");
    if i.opened > 0 {
        outln!("Opened by severity: {}", counts(&i.opened_by_severity));
        outln!("Opened by category: {}", counts(&i.opened_by_category));
    }
    outln!();
    let mut t = table([
        "RESPONSE TIME",
        "OVER",
        "MEDIAN",
        "90TH PERCENTILE",
        "LONGEST",
        "SLOWEST",
    ]);
    let times = &r.response_times;
    for (name, m) in [
        (
            "time to detect (first activity → detected)",
            &times.time_to_detect,
        ),
        (
            "time to acknowledge (detected → acknowledged)",
            &times.time_to_acknowledge,
        ),
        (
            "time to contain (detected → contained)",
            &times.time_to_contain,
        ),
        (
            "time to recover (detected → recovered)",
            &times.time_to_recover,
        ),
        (
            "alerts: time to take up (fired → acted on)",
            &r.alerts.time_to_take_up,
        ),
    ] {
        t.add_row(measure_row(name, m));
    }
    outln!("{t}");
    briefs(
        "Data breaches assessed this month (each starts the notification process)",
        &r.data_breaches,
    );
    briefs(
        "SEV1 and SEV2 incidents open at the month's end",
        &r.open_critical,
    );
    outln!();
    let pm = &r.post_mortems;
    outln!("Post-mortems written this month: {}", pm.written);
    if !pm.reviewed.is_empty() {
        outln!("Contributing factors: {}", counts(&pm.contributing_factors));
        let mut t = table([
            "INCIDENT",
            "TITLE",
            "SEVERITY",
            "CONTRIBUTING FACTORS",
            "DETECTIONS",
            "SUMMARY",
        ]);
        for b in &pm.reviewed {
            t.add_row([
                b.key.to_string(),
                b.title.clone(),
                b.severity.to_string(),
                if b.contributing_factors.is_empty() {
                    "-".to_owned()
                } else {
                    b.contributing_factors.join(", ")
                },
                b.detection_improvements.to_string(),
                b.summary.clone(),
            ]);
        }
        outln!("{t}");
    }
    briefs(
        "Post-mortems required and not written (recovered incidents rated SEV1/SEV2 or assessed as a breach)",
        &r.post_mortems.due,
    );
    outln!();
    let a = &r.alerts;
    outln!(
        "Alerts raised: {} ({}); became incidents {}, dismissed as false positives {}, as benign {}, resolved {}, acknowledged and still worked {}, not acted on yet {}",
        a.raised,
        if a.by_source.is_empty() {
            "none".to_owned()
        } else {
            counts(&a.by_source)
        },
        a.became_incidents,
        a.false_positives,
        a.benign,
        a.resolved,
        a.acknowledged,
        a.untouched
    );
    if !a.noisiest_rules.is_empty() {
        let mut t = table([
            "RULES RAISING THE MOST",
            "RULE ID",
            "ALERTS",
            "FALSE POSITIVES",
        ]);
        for rule in &a.noisiest_rules {
            t.add_row([
                rule.title.clone(),
                rule.rule_id.clone(),
                rule.alerts.to_string(),
                rule.false_positives.to_string(),
            ]);
        }
        outln!("{t}");
    }
    findings(&r.findings);
}

fn findings(f: &FindingCounts) {
    outln!();
    outln!(
        "Findings: raised {}, closed {} ({} won't fix), open at the month's end {}, overdue then {}",
        f.raised,
        f.closed,
        f.wont_fix,
        f.open_at_end,
        f.overdue_at_end
    );
    if !f.by_team.is_empty() {
        let mut t = table(["OWNING TEAM", "RAISED", "CLOSED", "OPEN", "OVERDUE"]);
        for team in &f.by_team {
            t.add_row([
                team.team.clone(),
                team.raised.to_string(),
                team.closed.to_string(),
                team.open.to_string(),
                team.overdue.to_string(),
            ]);
        }
        outln!("{t}");
    }
    if !f.overdue.is_empty() {
        let mut t = table([
            "OVERDUE FINDING",
            "INCIDENT",
            "TITLE",
            "TEAM",
            "STATE",
            "DUE",
        ]);
        for b in &f.overdue {
            t.add_row([
                b.key.to_string(),
                b.incident.to_string(),
                b.title.clone(),
                b.team.clone(),
                b.state.to_string(),
                b.due.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            ]);
        }
        outln!("{t}");
    }
}

/// When the review was computed, in the zone its month is taken in (the server's zone name;
/// the display zone should the client not know it).
fn computed_at(r: &MonthlyReview) -> String {
    match vigil_events::time::LocalZone::parse(&r.timezone) {
        Ok(zone) => format!(
            "{} {zone}",
            crate::search::wall_clock(r.computed_at, &zone, "%Y-%m-%d %H:%M")
        ),
        Err(_) => shown_time_zoned(r.computed_at, "%Y-%m-%d %H:%M"),
    }
}

fn or_none(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), span)
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{} {n}", one_line(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn measure_row(name: &str, m: &Measure) -> [String; 6] {
    [
        name.to_owned(),
        m.count.to_string(),
        or_none(m.median_seconds),
        or_none(m.p90_seconds),
        or_none(m.max_seconds),
        m.slowest.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

fn briefs(title: &str, list: &[IncidentBrief]) {
    outln!();
    if list.is_empty() {
        outln!("{title}: none");
        return;
    }
    outln!("{title}: {}", list.len());
    let mut t = table(["INCIDENT", "TITLE", "SEVERITY", "PHASE", "WHY"]);
    for b in list {
        t.add_row([
            b.key.to_string(),
            b.title.clone(),
            b.severity.to_string(),
            b.phase.to_string(),
            b.why.clone(),
        ]);
    }
    outln!("{t}");
}
