//! Ctrl-C (SIGINT) and SIGTERM during a long local command (`vigil hunt`, `vigil metrics`,
//! `vigil admin restore`):
//! the first asks it to stop where it is, so that it writes whole lines and its summary, as a
//! closed pipe does, and ends with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM);
//! a second ends the process at once with that code, for a run that cannot stop soon (one
//! waiting for input on a pipe).
//!
//! The signals are waited for on a thread of their own with tokio's signal handling, which the
//! binary has for `vigil serve`: the commands themselves run no async runtime.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use anyhow::Context;

/// The first stopping signal the process got, shared with the thread that waits for them.
#[derive(Debug, Clone)]
pub struct Interrupt {
    /// Set on the first signal: what a run checks between its pieces of work.
    requested: Arc<AtomicBool>,
    /// Its number (0 before any).
    signal: Arc<AtomicU8>,
}

/// SIGINT's and SIGTERM's numbers, the same on every Unix.
const SIGINT: u8 = 2;
const SIGTERM: u8 = 15;

impl Interrupt {
    /// Takes Ctrl-C and SIGTERM from now on: the signals are handled before this returns, so
    /// one sent at any time after is never the default, abrupt one. `notice` is called with
    /// the signal's name ([`Interrupt::name`]) on the first, at once: the run may take a
    /// moment to reach a place to stop, and the user hears that it is stopping, and how not
    /// to wait.
    pub fn install(notice: impl Fn(&'static str) + Send + 'static) -> anyhow::Result<Interrupt> {
        let interrupt = Interrupt {
            requested: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicU8::new(0)),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the thread that handles Ctrl-C")?;
        let signals = {
            let _in_runtime = runtime.enter();
            Signals::install()?
        };
        let shared = interrupt.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut signals = signals;
                    let first = signals.next().await;
                    shared.signal.store(first, Ordering::Relaxed);
                    shared.requested.store(true, Ordering::Release);
                    notice(signal_name(first));
                    let second = signals.next().await;
                    // The process is told to end: what it holds unwritten is lost, as asked.
                    std::process::exit(128 + i32::from(second));
                });
            })
            .context("could not start the thread that handles Ctrl-C")?;
        Ok(interrupt)
    }

    /// The flag set on the first signal, for a scan to check between its pieces of work.
    pub fn flag(&self) -> &AtomicBool {
        &self.requested
    }

    /// Whether a signal asked the run to stop.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// The signal that stopped the run, as a summary names it: `SIGINT` (Ctrl-C) or `SIGTERM`;
    /// `None` when none did.
    pub fn name(&self) -> Option<&'static str> {
        self.requested()
            .then(|| signal_name(self.signal.load(Ordering::Relaxed)))
    }

    /// The exit status of a run a signal stopped: 128 + its number, as a shell reports a
    /// process the signal ended (130 for Ctrl-C); `None` when none did.
    pub fn exit_code(&self) -> Option<ExitCode> {
        self.requested()
            .then(|| ExitCode::from(128 + self.signal.load(Ordering::Relaxed)))
    }
}

/// Catches Ctrl-C (SIGINT) and SIGTERM from now on, whose default would end the process at
/// once, skipping every cleanup; the future completes on the first with its signal number. For
/// an async command whose work is a future dropped on the signal (a download and its part
/// file), where [`Interrupt`] serves a synchronous run that checks a flag. Called within a
/// tokio runtime.
pub fn interruption() -> anyhow::Result<impl std::future::Future<Output = i32>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).context("could not install the SIGTERM handler")?;
        let mut int =
            signal(SignalKind::interrupt()).context("could not install the Ctrl-C handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => 15,
                _ = int.recv() => 2,
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            2
        })
    }
}

/// `Ctrl-C` for SIGINT (what a user pressed), `SIGTERM` for SIGTERM.
fn signal_name(signal: u8) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        _ => "Ctrl-C",
    }
}

/// The stopping signals, once their handlers are in place.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called within the runtime that will wait for them.
    fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())
                    .context("could not install the Ctrl-C handler")?,
                terminate: signal(SignalKind::terminate())
                    .context("could not install the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The number of the next signal.
    async fn next(&mut self) -> u8 {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => SIGINT,
            _ = self.terminate.recv() => SIGTERM,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            SIGINT
        }
    }
}
