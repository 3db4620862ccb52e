//! The client's idle timeout: a call gives up when nothing has moved for a while — no piece of
//! the request taken by the connection, no byte of the answer received — rather than after a
//! fixed time, so an upload or a download of a large file takes as long as it needs while it
//! moves, and a server that stopped answering is still noticed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// When a call last moved.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    start: Instant,
    /// Milliseconds after `start` of the last movement: written by the request body as the
    /// connection takes its pieces (polled by the connection, not by the waiting task), read
    /// by [`unless_idle`].
    last: Arc<AtomicU64>,
}

impl Progress {
    /// A call starting now.
    pub(crate) fn new() -> Self {
        Progress {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records that the call moved now.
    pub(crate) fn moved(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// `work`'s output, or `None` once `progress` has not moved for `idle`.
pub(crate) async fn unless_idle<F: Future>(
    idle: Duration,
    progress: &Progress,
    work: F,
) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    // An idle time too long to reckon a deadline with is no limit at all.
    let deadline = || progress.last().checked_add(idle);
    loop {
        let Some(at) = deadline() else {
            return Some(work.await);
        };
        match tokio::time::timeout_at(at, work.as_mut()).await {
            Ok(output) => return Some(output),
            // The request moved while the timer ran: wait again from its last movement.
            Err(_) if deadline().is_none_or(|at| at > Instant::now()) => {}
            Err(_) => return None,
        }
    }
}

/// A file as a request body that records on `progress` each piece the connection takes: the
/// connection asks for the next piece only when it could send the last, so a server that
/// stops reading stops the progress.
pub(crate) fn file_body(file: tokio::fs::File, progress: Progress) -> reqwest::Body {
    const PIECE: usize = 64 * 1024;
    let pieces = futures_util::stream::try_unfold(file, move |mut file| {
        let progress = progress.clone();
        async move {
            let mut piece = bytes::BytesMut::with_capacity(PIECE);
            if file.read_buf(&mut piece).await? == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            progress.moved();
            Ok(Some((piece.freeze(), file)))
        }
    });
    reqwest::Body::wrap_stream(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_idle_time_too_long_to_reckon_is_no_limit() {
        let progress = Progress::new();
        assert_eq!(
            unless_idle(Duration::MAX, &progress, async { "done" }).await,
            Some("done")
        );
    }

    #[tokio::test]
    async fn work_that_keeps_moving_runs_past_the_idle_time() {
        let idle = Duration::from_millis(200);
        let progress = Progress::new();
        let mover = progress.clone();
        // Moves every 50 ms for a second, five times the idle time, then finishes.
        let work = async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                mover.moved();
            }
            "done"
        };
        assert_eq!(unless_idle(idle, &progress, work).await, Some("done"));
    }

    #[tokio::test]
    async fn work_that_stops_moving_is_given_up() {
        let progress = Progress::new();
        let stuck = std::future::pending::<()>();
        assert_eq!(
            unless_idle(Duration::from_millis(100), &progress, stuck).await,
            None
        );
    }
}
