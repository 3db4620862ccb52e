//! `vigil oncall who` and `vigil oncall coverage`: who is on call for a team (or for the team
//! owning a service) now or at any time, and every gap in the team's coverage over the next
//! days — the seed's 24x7x365 made checkable.

use vigil_api::org::{CoverageQuery, OnCallQuery};

use crate::incident::{Conn, TimeText, client};
use crate::output::{explain, outln, print_json, table, time_column};

const WHO_HELP: &str = "\
Examples:
  vigil oncall who --team payments-secops
  vigil oncall who --service payments-api --at 2026-12-24T03:00:00Z
  vigil oncall who --team payments-secops --at now+2h --json";

const COVERAGE_HELP: &str = "\
Examples:
  vigil oncall coverage                     # every team, the next 30 days
  vigil oncall coverage --team payments-secops --days 90

Exits 0 whether or not there are gaps; use --json in scripts and check `gaps`.";

/// Subcommands of `vigil oncall`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Who is on call for a team, in each of its schedules, and how to reach them; then each
    /// level of the team's escalation policy with whom it pages at its time.
    #[command(
        after_help = WHO_HELP,
        group = clap::ArgGroup::new("whose").args(["team", "service"]).required(true)
    )]
    Who {
        /// The team.
        #[arg(long)]
        team: Option<String>,
        /// A service: ask for the team that owns it.
        #[arg(long)]
        service: Option<String>,
        /// When: a date, 2026-12-24 03:00, RFC 3339 or now-1h (without an offset in
        /// VIGIL_TIMEZONE, else UTC); default now.
        #[arg(long, value_parser = crate::incident::time_arg)]
        at: Option<TimeText>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Every interval in the coming days in which an alert for a team is not answered by the
    /// first level of its escalation policy (nobody on call in what it names, or whoever is has
    /// no e-mail or webhook contact): answered by a later level, and when, or by nobody.
    #[command(after_help = COVERAGE_HELP)]
    Coverage {
        /// One team (default: every team).
        #[arg(long)]
        team: Option<String>,
        /// Days to check from --from (1–731).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=731))]
        days: u32,
        /// Start of the window, written as --at of `vigil oncall who` (default now).
        #[arg(long, value_parser = crate::incident::time_arg)]
        from: Option<TimeText>,
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
            Command::Who {
                team,
                service,
                at,
                conn,
            } => {
                let at = sent_time("--at", at)?;
                let r = client(&conn)?
                    .on_call(&OnCallQuery { team, service, at })
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&r);
                }
                match (&r.answered_by, &r.note) {
                    (Some(other), Some(why)) => {
                        outln!("{why}:");
                        outln!("{other} at {}", zoned(&r.at));
                    }
                    (_, Some(why)) => outln!("{} at {}: {why}", r.team, zoned(&r.at)),
                    _ => outln!("{} at {}", r.team, zoned(&r.at)),
                }
                let (since, until) = (time_column("SINCE"), time_column("UNTIL"));
                let mut t = table([
                    "SCHEDULE",
                    "ON CALL",
                    since.as_str(),
                    until.as_str(),
                    "VIA",
                    "CONTACT",
                ]);
                for s in &r.schedules {
                    t.add_row([
                        s.schedule.clone(),
                        s.person.clone().unwrap_or_else(|| "nobody".to_owned()),
                        s.start.as_deref().map_or_else(|| "-".to_owned(), shown),
                        s.end.as_deref().map_or_else(|| "-".to_owned(), shown),
                        s.source.clone().unwrap_or_else(|| "-".to_owned()),
                        // Every contact: all are paged at once, and the first may be a phone,
                        // which is never paged.
                        if s.contacts.is_empty() {
                            "-".to_owned()
                        } else {
                            s.contacts
                                .iter()
                                .map(|c| format!("{} {}", c.kind, c.address))
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    ]);
                }
                outln!("{t}");
                if let Some(m) = &r.manager {
                    outln!("manager: {m}");
                }
                if r.escalation.is_empty() {
                    return Ok(());
                }
                let mut t = table(["ESCALATION", "AFTER", "NOTIFY", "PAGES"]);
                for (n, level) in r.escalation.iter().enumerate() {
                    let pages: Vec<String> = level
                        .pages
                        .iter()
                        .map(|p| match p.reachable {
                            true => format!("{} ({})", p.person, p.reason),
                            false => format!(
                                "{} ({}; no e-mail or webhook: reaches nobody)",
                                p.person, p.reason
                            ),
                        })
                        .collect();
                    t.add_row([
                        format!("level {}", n + 1),
                        level.after.clone(),
                        level.notify.join(", "),
                        match pages.is_empty() {
                            true => "nobody".to_owned(),
                            false => pages.join(", "),
                        },
                    ]);
                }
                outln!("{t}");
                Ok(())
            }
            Command::Coverage {
                team,
                days,
                from,
                conn,
            } => {
                let from = sent_time("--from", from)?;
                let r = client(&conn)?
                    .coverage(&CoverageQuery {
                        team,
                        from,
                        days: Some(days),
                    })
                    .await
                    .map_err(explain)?;
                if conn.json {
                    return print_json(&r);
                }
                for a in &r.answered_by {
                    outln!("{}: {} (its gaps are the central team's)", a.team, a.why);
                }
                for u in &r.unchecked {
                    outln!("not checked: {}", u.message);
                }
                let checked: Vec<&str> = r
                    .teams
                    .iter()
                    .filter(|t| !r.unchecked.iter().any(|u| &u.team == *t))
                    .map(String::as_str)
                    .collect();
                if r.gaps.is_empty() {
                    if !checked.is_empty() {
                        outln!(
                            "{}: covered 24x7 from {} to {}",
                            checked.join(", "),
                            zoned(&r.from),
                            zoned(&r.to)
                        );
                    }
                    return Ok(());
                }
                let (from, until) = (time_column("FIRST LEVEL MISSES FROM"), time_column("UNTIL"));
                let mut t = table([
                    "TEAM",
                    from.as_str(),
                    until.as_str(),
                    "HOURS",
                    "FIRST REACHED",
                    "WHY",
                ]);
                for g in &r.gaps {
                    t.add_row([
                        g.team.clone(),
                        shown(&g.start),
                        shown(&g.end),
                        format!("{:.1}", g.minutes as f64 / 60.0),
                        first_reached(g),
                        g.reason.clone(),
                    ]);
                }
                outln!("{t}");
                let unreached = r.gaps.iter().filter(|g| g.kind != "delayed").count();
                outln!(
                    "{} from {} to {}: nobody is reached in {unreached}, a later level answers in {}",
                    crate::output::plural(r.gaps.len() as u64, "gap", "gaps"),
                    zoned(&r.from),
                    zoned(&r.to),
                    r.gaps.len() - unreached
                );
                Ok(())
            }
        }
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The FIRST REACHED column of a gap: the level that answers and when, or `nobody`.
fn first_reached(g: &vigil_api::org::CoverageGap) -> String {
    match (&g.first_reached_level, &g.first_reached_after) {
        (Some(level), Some(after)) => format!("level {level} after {after}"),
        _ => "nobody".to_owned(),
    }
}

/// A time argument read as every other ([`TimeText::read`]), sent in UTC.
fn sent_time(flag: &str, value: Option<TimeText>) -> anyhow::Result<Option<String>> {
    value
        .map(|v| {
            v.read(flag)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        })
        .transpose()
}

/// A time the server answers with (RFC 3339 UTC) as the tables show times: in the zone of
/// `VIGIL_TIMEZONE`, to the minute; a time that does not read is shown as sent.
fn shown(time: &str) -> String {
    in_zone(time, crate::output::display_zone(), false)
}

/// [`shown`] with the zone named after it, for times outside a table's column.
fn zoned(time: &str) -> String {
    in_zone(time, crate::output::display_zone(), true)
}

fn in_zone(time: &str, zone: &vigil_events::time::LocalZone, named: bool) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(time) else {
        return time.to_owned();
    };
    let shown = crate::search::wall_clock(t.to_utc(), zone, "%Y-%m-%d %H:%M");
    if named {
        format!("{shown} {zone}")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_events::time::LocalZone;

    #[test]
    fn server_times_are_shown_as_the_tables_show_times() {
        let utc = LocalZone::UTC;
        assert_eq!(
            in_zone("2026-12-05T18:44:40.19284492Z", &utc, false),
            "2026-12-05 18:44"
        );
        assert_eq!(
            in_zone("2026-12-05T18:44:40Z", &utc, true),
            "2026-12-05 18:44 UTC"
        );
        let ny: LocalZone = "America/New_York".parse().unwrap();
        assert_eq!(
            in_zone("2026-12-01T15:00:00Z", &ny, true),
            "2026-12-01 10:00 America/New_York"
        );
        assert_eq!(in_zone("soon", &utc, false), "soon");
    }
}
