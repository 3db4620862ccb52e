//! `vigil detections`: the Sigma rule matches a running server recorded on ingested events,
//! most recently recorded first (not ordered by the events' own times), with filters; with
//! `--after-id`, the next ones after that id, oldest first, for a script that follows them.

use vigil_api::events::{DetectionQuery, RuleLevel};

use crate::incident::{Conn, client};
use crate::output::{explain, one_line, or_dash, outln, print_json, table};

const AFTER_HELP: &str = "\
The server matches every ingested event against the rules of `vigil serve --rules DIR`
(see `vigil rules status`) and records each match here.

Examples:
  vigil detections --min-level high --since 24h
  vigil detections --service vpn --limit 20
  vigil detections --host WS01 --from '2026-01-31 09:00' --timezone Europe/Berlin
  vigil detections --rule-id 5b0b75dc-9190-4047-b9a8-14164cee8a31 --json
  vigil detections --after-id 1200 --json     # the next ones recorded after id 1200, oldest
                                              # first: run again with the largest id shown
  vigil detections 1207                       # one detection, with the event it matched

Needs a token of role viewer or above (--token or VIGIL_TOKEN).";

/// Arguments of `vigil detections`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub conn: Conn,
    /// Show this one detection (its ID in the list) with the whole event it matched.
    #[arg(conflicts_with_all = ["rule_id", "service", "host", "tenant", "min_level", "after_id"])]
    pub id: Option<i64>,
    /// Only matches of this rule (its id).
    #[arg(long)]
    pub rule_id: Option<String>,
    /// Only matches on events of this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only matches on events of this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only matches on events of this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// The time window, on the time of the events matched.
    #[command(flatten)]
    pub window: crate::search::Window,
    /// Only rules at this level or above: informational, low, medium, high, critical.
    #[arg(long, value_parser = parse_level)]
    pub min_level: Option<RuleLevel>,
    /// Only detections with an id above this one, oldest first (to follow new ones: run again
    /// with the largest id shown until none are left).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub after_id: Option<i64>,
    /// How many to show (1–1000): most recently recorded first, or oldest first with
    /// --after-id.
    #[arg(long, default_value_t = 100, value_parser = crate::incident::limit::<1000>)]
    pub limit: u32,
}

fn parse_level(s: &str) -> Result<RuleLevel, String> {
    RuleLevel::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.id {
        Some(id) => runtime.block_on(show(&args.conn, id))?,
        None => runtime.block_on(list(args))?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// One detection: what matched, where and when, then the event as stored (pretty JSON).
async fn show(conn: &Conn, id: i64) -> anyhow::Result<()> {
    let d = client(conn)?.get_detection(id).await.map_err(explain)?;
    if conn.json {
        return print_json(&d);
    }
    let n = &d.detection.detection;
    outln!(
        "detection {} — {} ({}), rule {}",
        d.detection.id,
        one_line(&n.rule_title),
        n.level,
        or_dash(&n.rule_id)
    );
    outln!(
        "event {} at {} on service {}, host {}, tenant {}; recorded {}",
        n.event_id,
        crate::output::shown_time_zoned(n.event_time, "%Y-%m-%d %H:%M:%S%.3f"),
        one_line(or_dash(&n.service)),
        one_line(or_dash(&n.host)),
        one_line(or_dash(&n.tenant)),
        crate::output::shown_time_zoned(d.detection.detected_at, "%Y-%m-%d %H:%M:%S")
    );
    if !n.tags.is_empty() {
        outln!("tags: {}", one_line(&n.tags.join(", ")));
    }
    match &d.event {
        Some(e) => outln!("{}", crate::output::pretty_json(e.event.text())),
        None => outln!(
            "the event is no longer stored (retention removed it) or not searchable yet; try again in a second"
        ),
    }
    Ok(())
}

async fn list(args: Args) -> anyhow::Result<()> {
    let (from, to) = args.window.bounds()?;
    let query = DetectionQuery {
        rule_id: args.rule_id,
        service: args.service,
        host: args.host,
        tenant: args.tenant,
        from,
        to,
        min_level: args.min_level,
        after_id: args.after_id,
        limit: Some(args.limit),
    };
    let page = client(&args.conn)?
        .list_detections(&query)
        .await
        .map_err(explain)?;
    if args.conn.json {
        return print_json(&page);
    }
    if page.items.is_empty() {
        match args.after_id {
            // A poller caught up: nothing new yet, not a sign that something is wrong.
            Some(id) => outln!("no detections after id {id} yet"),
            None => outln!(
                "no detections match; check `vigil rules status` (are rules loaded?) and the filters"
            ),
        }
        return Ok(());
    }
    let zone = args.window.zone();
    let time = format!("EVENT TIME ({zone})");
    let mut t = table([
        "ID",
        time.as_str(),
        "LEVEL",
        "RULE",
        "SERVICE",
        "HOST",
        "TENANT",
        "EVENT",
    ]);
    for d in &page.items {
        let n = &d.detection;
        t.add_row([
            d.id.to_string(),
            crate::search::wall_clock(n.event_time, zone, "%Y-%m-%d %H:%M:%S"),
            n.level.to_string(),
            n.rule_title.clone(),
            or_dash(&n.service).to_owned(),
            or_dash(&n.host).to_owned(),
            or_dash(&n.tenant).to_owned(),
            n.event_id.to_string(),
        ]);
    }
    outln!("{t}");
    match (args.after_id, page.items.last()) {
        (Some(after), Some(last)) => {
            let more = page.total.saturating_sub(page.items.len() as u64);
            let next = if more == 0 {
                String::new()
            } else {
                format!("; {more} more: `--after-id {}`", last.id)
            };
            outln!(
                "{} of {} detections after id {after}, oldest first{next}; `vigil detections ID` shows one with its event",
                page.items.len(),
                page.total
            );
        }
        _ => outln!(
            "{} of {} detections, most recently recorded first; `vigil detections ID` shows one with its event",
            page.items.len(),
            page.total
        ),
    }
    Ok(())
}
