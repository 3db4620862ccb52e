//! `vigil alerts`: the triage queue — list and show alerts, acknowledge (stops escalation),
//! resolve, dismiss as false positive or benign with a reason, declare an incident from alerts
//! or merge one into an incident, and the per-rule tuning counts.

use vigil_api::alerts::{
    AlertQuery, AlertSource, AlertStatus, DeclareIncident, DismissAlert, Dismissal, MergeAlert,
};
use vigil_api::types::{Category, Severity};

use crate::incident::{Conn, client, domain};
use crate::output::{
    Cell, Lines, explain, one_line, outln, page_footer, plural, print_json, table,
};

const AFTER_HELP: &str = "\
Examples:
  vigil alerts list --status triggered
  vigil alerts list --limit 1000 --offset 1000  # the next thousand, newest first
  vigil alerts list --rule 5b0b75dc-9190-4047-b9a8-14164cee8a31   # one rule's alerts
  vigil alerts list --tenant acme                # one tenant's alerts
  vigil alerts show ALR-12
  vigil alerts ack ALR-12                       # stops the escalation
  vigil alerts dismiss ALR-13 --kind false_positive --reason \"backup job, not exfiltration\"
  vigil alerts declare ALR-12 ALR-14 --category account_compromise
  vigil alerts merge ALR-15 --incident INC-3
  vigil alerts rules                            # which rules are noisy or wrong

Reading needs a viewer token, acting a responder token (--token or VIGIL_TOKEN).";

/// Subcommands of `vigil alerts`.
#[derive(Debug, clap::Subcommand)]
#[command(after_help = AFTER_HELP)]
pub enum Command {
    /// Alerts, newest first.
    List {
        /// Only in this status: triggered, acknowledged, resolved, dismissed.
        #[arg(long, value_parser = domain::<AlertStatus>)]
        status: Option<AlertStatus>,
        /// Only for this service.
        #[arg(long)]
        service: Option<String>,
        /// Only of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Only raised this way: detection, external, report, or monitor (services that
        /// stopped sending logs).
        #[arg(long, value_parser = domain::<AlertSource>)]
        source: Option<AlertSource>,
        /// Only raised by this Sigma rule (its id, as `vigil alerts rules` and `vigil
        /// detections` show it).
        #[arg(long, value_name = "ID", alias = "rule-id")]
        rule: Option<String>,
        /// At most this many (1–1000; --offset pages on).
        #[arg(long, default_value_t = 50, value_parser = crate::incident::limit::<1000>)]
        limit: u32,
        /// How many to skip, newest first: the footer gives the one for the next page.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        conn: Conn,
    },
    /// One alert with its log (every page, escalation step and action).
    Show {
        /// The alert (ALR-12).
        key: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Take an alert: escalation stops.
    Ack {
        /// The alert (ALR-12).
        key: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Close an alert as dealt with.
    Resolve {
        /// The alert (ALR-12).
        key: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Close an alert as not an attack; counted per rule for tuning.
    Dismiss {
        /// The alert (ALR-12).
        key: String,
        /// false_positive (the rule needs tuning) or benign (authorised activity).
        #[arg(long, value_parser = domain::<Dismissal>)]
        kind: Dismissal,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Declare an incident from alerts: severity, indicators, events as evidence, services,
    /// tenants and the ATT&CK techniques of their rules.
    Declare {
        /// The alerts (ALR-12 ALR-14 …).
        #[arg(required = true)]
        keys: Vec<String>,
        /// Title (default: the first alert's).
        #[arg(long)]
        title: Option<String>,
        /// Severity SEV1…SEV4 (default: the worst alert's).
        #[arg(long, value_parser = domain::<Severity>)]
        severity: Option<Severity>,
        /// Why that severity.
        #[arg(long)]
        severity_reason: Option<String>,
        /// Category (account_compromise, malware, data_exfiltration, …).
        #[arg(long, value_parser = domain::<Category>)]
        category: Option<Category>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Merge an alert into an existing incident: its indicators, events, services, tenants and
    /// its rule's ATT&CK techniques join the incident.
    Merge {
        /// The alert (ALR-12).
        key: String,
        /// The incident (INC-3).
        #[arg(long)]
        incident: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Alerts, suppressed alerts and dismissals per rule, noisiest first.
    Rules {
        #[command(flatten)]
        conn: Conn,
    },
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::List {
                status,
                service,
                tenant,
                source,
                rule,
                limit,
                offset,
                conn,
            } => {
                let page = client(&conn)?
                    .list_alerts(&AlertQuery {
                        status,
                        service,
                        tenant,
                        rule_id: rule,
                        source,
                        limit: Some(limit),
                        offset: Some(offset),
                    })
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&page);
                }
                let last_seen = crate::output::time_column("LAST SEEN");
                let mut t = table([
                    "KEY",
                    "STATUS",
                    "SEVERITY",
                    "SERVICE",
                    "TENANT",
                    "COUNT",
                    last_seen.as_str(),
                    "TITLE",
                ]);
                for a in &page.items {
                    t.add_row([
                        a.key.clone(),
                        a.status.to_string(),
                        a.alert.severity.to_string(),
                        a.alert.service.clone(),
                        a.alert.tenant.clone().unwrap_or_default(),
                        a.count.to_string(),
                        crate::output::shown_time(a.last_seen, "%Y-%m-%d %H:%M:%S"),
                        a.alert.title.clone(),
                    ]);
                }
                // An offset past the end shows no empty table, only what to give instead.
                if !page.items.is_empty() || page.total == 0 {
                    outln!("{t}");
                }
                outln!(
                    "{}",
                    page_footer(
                        offset,
                        page.items.len(),
                        page.total,
                        ("alert", "alerts"),
                        "newest first"
                    )
                );
                Ok(())
            }
            Command::Show { key, conn } => {
                let a = client(&conn)?.get_alert(&key).await.map_err(explain)?;
                if conn.json {
                    return print_json(&a);
                }
                outln!(
                    "{} [{}] {} — {} on {} (fired {})",
                    a.key,
                    a.alert.severity,
                    one_line(&a.alert.title),
                    a.status,
                    one_line(&a.alert.service),
                    plural(a.count, "time", "times")
                );
                if let Some(t) = &a.alert.tenant {
                    outln!("tenant: {}", one_line(t));
                }
                if let Some(r) = &a.alert.reporter {
                    outln!("reported by: {}", one_line(r));
                }
                if let Some(o) = &a.alert.origin {
                    outln!("origin: {}", one_line(o));
                }
                if let Some(i) = &a.incident {
                    outln!("incident: {i}");
                }
                // Text from outside (a reporter's words, another tool's summary), set apart
                // under who wrote it, each line quoted, so that none passes for one of ours.
                if let Some(s) = &a.alert.summary {
                    outln!("{}:", summary_label(a.alert.source));
                    for line in quoted_lines(s) {
                        outln!("{line}");
                    }
                }
                if let Some(events) = events_table(&a.alert) {
                    outln!("{events}");
                    let more = a.alert.events.len().saturating_sub(SHOWN_EVENTS);
                    if more > 0 {
                        outln!(
                            "{} more; `vigil alerts show {} --json` has them all",
                            plural(more as u64, "event", "events"),
                            a.key
                        );
                    }
                }
                let at = crate::output::time_column("AT");
                let mut t = table([at.as_str(), "BY", "ACTION", "TEXT"]);
                for e in &a.log {
                    let mut text = e.text.clone();
                    if let Some(i) = text.find("; delivery {") {
                        text.truncate(i);
                    }
                    t.add_row([
                        crate::output::shown_time(e.at, "%Y-%m-%d %H:%M:%S").into(),
                        Cell::from(&e.actor),
                        Cell::from(&e.action),
                        Lines::of_text(&text).into(),
                    ]);
                }
                outln!("{t}");
                // What is failing now: the log says each failure once, not every try since.
                if !a.undelivered.is_empty() {
                    outln!(
                        "{} not delivered yet, tried again until delivered or the alert is acknowledged:",
                        plural(a.undelivered.len() as u64, "page", "pages")
                    );
                    let (since, next) = (
                        crate::output::time_column("SINCE"),
                        crate::output::time_column("NEXT TRY"),
                    );
                    let mut t = table([
                        "PERSON",
                        "STEP",
                        "TRIES",
                        since.as_str(),
                        next.as_str(),
                        "LAST ERROR",
                    ]);
                    for p in &a.undelivered {
                        t.add_row([
                            p.person.clone(),
                            p.step.clone(),
                            p.tries.to_string(),
                            crate::output::shown_time(p.since, "%Y-%m-%d %H:%M:%S"),
                            crate::output::shown_time(p.next_try, "%Y-%m-%d %H:%M:%S"),
                            p.error.clone(),
                        ]);
                    }
                    outln!("{t}");
                }
                Ok(())
            }
            Command::Ack { key, conn } => act(&conn, &key, "ack").await,
            Command::Resolve { key, conn } => act(&conn, &key, "resolve").await,
            Command::Dismiss {
                key,
                kind,
                reason,
                conn,
            } => {
                let a = client(&conn)?
                    .dismiss_alert(&key, &DismissAlert { kind, reason })
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&a);
                }
                outln!("{} dismissed ({})", a.key, kind);
                Ok(())
            }
            Command::Declare {
                keys,
                title,
                severity,
                severity_reason,
                category,
                conn,
            } => {
                let body = DeclareIncident {
                    alerts: keys,
                    title,
                    summary: None,
                    severity,
                    severity_reason,
                    category,
                };
                let i = client(&conn)?
                    .declare_incident(&body)
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&i);
                }
                // "Opened": the incident's `declared` milestone is a later step, set when
                // analysis confirms it a security incident (analysis → containment).
                outln!(
                    "opened {} [{}] {} from the alerts, with {} and {} (phase {})",
                    i.key,
                    i.severity,
                    i.title,
                    plural(i.indicators.len() as u64, "indicator", "indicators"),
                    plural(i.evidence.len() as u64, "evidence file", "evidence files"),
                    i.phase
                );
                Ok(())
            }
            Command::Merge {
                key,
                incident,
                conn,
            } => {
                let i = client(&conn)?
                    .merge_alert(&key, &MergeAlert { incident })
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&i);
                }
                outln!("{key} merged into {}", i.key);
                Ok(())
            }
            Command::Rules { conn } => {
                let rules = client(&conn)?.alert_rules().await.map_err(explain)?;
                if conn.json {
                    return print_json(&rules);
                }
                if rules.is_empty() {
                    outln!("no Sigma rule has raised an alert yet");
                    return Ok(());
                }
                let mut t = table([
                    "RULE",
                    "ID",
                    "ALERTS",
                    "SUPPRESSED",
                    "FALSE POSITIVES",
                    "BENIGN",
                ]);
                for r in &rules {
                    t.add_row([
                        r.title.clone(),
                        r.rule_id.clone(),
                        r.alerts.to_string(),
                        r.suppressed.to_string(),
                        r.false_positives.to_string(),
                        r.benign.to_string(),
                    ]);
                }
                outln!("{t}");
                Ok(())
            }
        }
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn act(conn: &Conn, key: &str, action: &str) -> anyhow::Result<()> {
    let a = client(conn)?
        .alert_action(key, action)
        .await
        .map_err(explain)?;
    if conn.json {
        return print_json(&a);
    }
    outln!("{} {}", a.key, a.status);
    Ok(())
}

/// Who wrote an alert's summary, as the line above it says, in the lower case of the
/// other labels of `alerts show`.
fn summary_label(source: AlertSource) -> String {
    source.summary_label().to_lowercase()
}

/// A summary's lines, each indented and quoted (`  > `; `  >` for a blank one), broken
/// wherever a terminal or a pager would break one.
fn quoted_lines(summary: &str) -> Vec<String> {
    vigil_core::lines(summary.trim_end())
        .map(|l| {
            if l.is_empty() {
                "  >".to_owned()
            } else {
                format!("  > {l}")
            }
        })
        .collect()
}

/// Events of an alert shown in its table; a noisy alert holds up to 100.
const SHOWN_EVENTS: usize = 20;

/// The first [`SHOWN_EVENTS`] events behind an alert, one line each (what a triager reads
/// first), with their ids in the log store; `None` for an alert without events.
fn events_table(alert: &vigil_api::alerts::NewAlert) -> Option<crate::output::Table> {
    if alert.events.is_empty() {
        return None;
    }
    let mut t = table(["EVENT", "WHAT"]);
    for (i, event) in alert.events.iter().enumerate().take(SHOWN_EVENTS) {
        // Ids and texts pair up unless some event's text was never kept (alerts from before
        // texts were stored): then no id is given rather than a wrong one.
        let id = match alert.event_ids.len() == alert.events.len() {
            true => alert.event_ids[i].to_string(),
            false => "-".to_owned(),
        };
        let what = match vigil_events::json::value_as_written(event.text()) {
            Ok(value) => crate::search::summarize(&value, 160),
            Err(_) => crate::search::truncate(event.text(), 160),
        };
        t.add_row([id, what]);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_summary_is_quoted_line_by_line() {
        assert_eq!(
            quoted_lines("phish\n\nAcknowledge: http://evil\r\norigin: x\u{2028}reporter: y\n"),
            [
                "  > phish",
                "  >",
                "  > Acknowledge: http://evil",
                "  > origin: x",
                "  > reporter: y"
            ]
        );
        assert_eq!(summary_label(AlertSource::Report), "reporter wrote");
    }

    use super::*;
    use vigil_api::alerts::{AlertSource, NewAlert};

    fn alert_with(events: u64) -> NewAlert {
        NewAlert {
            title: "t".into(),
            source: AlertSource::Detection,
            severity: vigil_core::Severity::Sev3,
            service: "web".into(),
            tenant: None,
            dedup_key: "k".into(),
            rule_id: None,
            summary: None,
            origin: None,
            reporter: None,
            event_ids: (1..=events).collect(),
            events: (1..=events)
                .map(|n| {
                    vigil_core::EventJson::from_value(
                        &serde_json::json!({"message": format!("line {n}")}),
                    )
                })
                .collect(),
            times: events,
        }
    }

    #[test]
    fn an_alerts_events_are_listed_by_id_the_first_twenty() {
        assert!(events_table(&alert_with(0)).is_none());
        let text = events_table(&alert_with(2)).unwrap().to_string();
        let row = text.lines().find(|l| l.contains("line 2")).unwrap();
        assert!(row.contains(" 2 "), "{text}");
        let text = events_table(&alert_with(30)).unwrap().to_string();
        assert!(
            text.contains("line 20") && !text.contains("line 21"),
            "{text}"
        );
    }
}
