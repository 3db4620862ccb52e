//! `vigil storage stats`: what the central log database of a running server holds, per
//! service: events, bytes, oldest and newest event, when the server last received one,
//! whether it is watched for silence (and silent now), retention.

use crate::incident::{Conn, client};
use crate::output::{explain, outln, print_json, table};

const AFTER_HELP: &str = "\
Examples:
  vigil storage stats
  vigil storage stats --json

Needs a token of role viewer or above (--token or VIGIL_TOKEN).";

/// Subcommands of `vigil storage`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Events, bytes, first and last event, last received, silence and retention per service.
    #[command(after_help = AFTER_HELP)]
    Stats {
        #[command(flatten)]
        conn: Conn,
    },
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Stats { conn } => runtime.block_on(stats(conn))?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn stats(conn: Conn) -> anyhow::Result<()> {
    let s = client(&conn)?.storage_stats().await.map_err(explain)?;
    if conn.json {
        return print_json(&s);
    }
    let lag = || {
        if s.index_lag > 0 {
            outln!(
                "search is {} behind: they are stored and being indexed",
                crate::output::plural(s.index_lag, "acknowledged event", "acknowledged events")
            );
        }
    };
    if s.services.is_empty() {
        outln!("the log store is empty; send events with `vigil ingest PATH --service NAME`");
        lag();
        return Ok(());
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| crate::output::shown_time(t, "%Y-%m-%d %H:%M:%S"))
            .unwrap_or_else(|| "-".to_owned())
    };
    let (first, last, received) = (
        crate::output::time_column("FIRST"),
        crate::output::time_column("LAST"),
        crate::output::time_column("RECEIVED"),
    );
    let mut t = table([
        "SERVICE",
        "EVENTS",
        "SIZE",
        first.as_str(),
        last.as_str(),
        received.as_str(),
        "SILENCE",
        "RETENTION",
    ]);
    for svc in &s.services {
        t.add_row([
            svc.service.clone(),
            svc.events.to_string(),
            human_bytes(svc.bytes),
            time(svc.first),
            time(svc.last),
            time(svc.received),
            silence(svc),
            match svc.retention_days {
                Some(1) => "1 day".to_owned(),
                Some(d) => format!("{d} days"),
                None => "forever".to_owned(),
            },
        ]);
    }
    outln!("{t}");
    outln!(
        "{}, {}, {}",
        crate::output::plural(s.services.len() as u64, "service", "services"),
        crate::output::plural(s.total_events, "event", "events"),
        human_bytes(s.total_bytes)
    );
    if s.total_events == 0 && s.index_lag == 0 {
        // Listed only because they are watched for silence.
        outln!("nothing is stored yet; send events with `vigil ingest PATH --service NAME`");
    }
    lag();
    Ok(())
}

/// `silent: ALR-3` while its silence alert is open, `watched (15m)` for a service watched and
/// sending, `-` for one not watched.
fn silence(svc: &vigil_api::events::ServiceStorage) -> String {
    match (&svc.silence_alert, &svc.silent_after) {
        (Some(alert), _) => format!("silent: {alert}"),
        (None, Some(after)) => format!("watched ({after})"),
        (None, None) => "-".to_owned(),
    }
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
