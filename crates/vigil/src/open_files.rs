//! The open-file budget of `vigil serve`: every socket is a descriptor, and so is every file
//! the stores hold (index segments, the journal, SQLite). Sockets alone must never be able to
//! use them all, so the connection caps are derived from the process's open-file limit, with
//! head-room kept for the stores.

/// Descriptors kept for the server's own files whatever the connections take: the SQLite
/// database and its connection pool, the log store's journal and index segments (more while
/// segments merge), evidence being written, rule files, the listeners themselves.
pub const RESERVED_FOR_FILES: u64 = 256;

/// The fewest HTTP connections allowed, however low the open-file limit: enough for a few
/// clients and the health checks.
const MIN_HTTP_CONNECTIONS: u64 = 16;

/// Raises the soft open-file limit to the hard one, as servers do (the soft limit is often
/// 1024 while the hard one is far higher), and returns the soft limit in force afterwards.
pub fn raise_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(
                error = %e,
                soft = ?limit.current,
                hard = ?limit.maximum,
                "could not raise the open-file limit to its hard limit; connections are capped by the lower one"
            );
        }
    }
    // No limit at all: as many as Linux lets a process open by default (`fs.nr_open`).
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// How many connections each listener may hold open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// HTTP API connections.
    pub http: usize,
    /// Syslog TCP connections (0 when there is no TCP listener).
    pub syslog_tcp: usize,
}

/// Shares what `open_files` leaves after [`RESERVED_FOR_FILES`] between the listeners: the
/// syslog TCP listener (when there is one) takes up to `syslog_tcp_wanted`, at most half, and
/// the HTTP API the rest.
pub fn connection_caps(open_files: u64, syslog_tcp_wanted: Option<usize>) -> ConnectionCaps {
    let budget = open_files.saturating_sub(RESERVED_FOR_FILES);
    let syslog_tcp = syslog_tcp_wanted.map_or(0, |wanted| (wanted as u64).min(budget / 2).max(1));
    let http = budget.saturating_sub(syslog_tcp).max(MIN_HTTP_CONNECTIONS);
    ConnectionCaps {
        http: usize::try_from(http).unwrap_or(usize::MAX),
        syslog_tcp: syslog_tcp as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_limit_of_1024_keeps_room_for_the_stores() {
        let caps = connection_caps(1024, Some(1024));
        assert_eq!(caps.syslog_tcp, 384);
        assert_eq!(caps.http, 384);
        assert!((caps.http + caps.syslog_tcp) as u64 + RESERVED_FOR_FILES <= 1024);

        let caps = connection_caps(1024, None);
        assert_eq!(caps.http, 768);
        assert_eq!(caps.syslog_tcp, 0);
    }

    #[test]
    fn a_high_limit_gives_syslog_what_it_asks_and_http_the_rest() {
        let caps = connection_caps(524_288, Some(1024));
        assert_eq!(caps.syslog_tcp, 1024);
        assert_eq!(caps.http, 524_288 - 256 - 1024);
    }

    #[test]
    fn a_tiny_limit_still_lets_a_few_clients_in() {
        let caps = connection_caps(100, Some(1024));
        assert_eq!(caps.http, 16);
        assert_eq!(caps.syslog_tcp, 1);
    }
}
