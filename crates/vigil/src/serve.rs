//! `vigil serve`: resolve the settings (flags over `VIGIL_…` environment over defaults), open
//! the data directory, bind the listener and run the HTTP server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vigil_store::Store;

const AFTER_HELP: &str = "\
Examples:
  vigil serve                                   # ./vigil-data, http://127.0.0.1:8080
  vigil serve --data /var/lib/vigil --listen 0.0.0.0:8080
  VIGIL_DATA=/srv/vigil vigil serve

The data directory is created when missing. Every API call except /api/v1/health needs a token:
  vigil admin token --data ./vigil-data --role admin --name alice
The API is described at /api/v1/openapi.json.";

/// Arguments of `vigil serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Data directory (SQLite database and evidence files); created if missing.
    #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
    pub data: PathBuf,
    /// Address and port to listen on.
    #[arg(long, env = "VIGIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest JSON request body accepted, in bytes.
    #[arg(long, env = "VIGIL_MAX_JSON_BYTES", default_value_t = vigil_server::settings::DEFAULT_JSON_BODY_LIMIT)]
    pub max_json_bytes: usize,
    /// Largest evidence upload accepted, in bytes.
    #[arg(long, env = "VIGIL_MAX_EVIDENCE_BYTES", default_value_t = vigil_server::settings::DEFAULT_EVIDENCE_BODY_LIMIT)]
    pub max_evidence_bytes: u64,
}

impl Args {
    fn into_settings(self) -> vigil_server::Settings {
        let mut settings = vigil_server::Settings::new(self.data, self.listen);
        settings.json_body_limit = self.max_json_bytes;
        settings.evidence_body_limit = self.max_evidence_bytes;
        settings
    }
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::logging::init();
    let settings = args.into_settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn serve(settings: vigil_server::Settings) -> anyhow::Result<()> {
    let store = crate::datadir::open(&settings.data_dir).await?;
    let removed = store
        .remove_interrupted_uploads()
        .map_err(|e| anyhow::anyhow!("could not clean up interrupted uploads: {e}"))?;
    if removed > 0 {
        tracing::info!(removed, "removed uploads interrupted by an earlier stop");
    }
    let no_tokens = store
        .list_tokens()
        .await
        .map_err(|e| anyhow::anyhow!("could not read the token table: {e}"))?
        .is_empty();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "could not listen on {}; is another server using it? pick another with --listen",
                settings.listen
            )
        })?;
    let addr = listener.local_addr().context("listener has no address")?;
    let shutdown = shutdown_signal()?;
    println!("vigil: data directory {}", settings.data_dir.display());
    println!("vigil: listening on http://{addr}");
    if no_tokens {
        println!(
            "vigil: no API token exists yet; create one with:\n  vigil admin token --data {} --role admin --name YOUR_NAME",
            settings.data_dir.display()
        );
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let state = vigil_server::AppState::new(settings, store);
    vigil_server::app::serve(state, listener, shutdown)
        .await
        .context("the server stopped with an error")?;
    println!("vigil: stopped");
    Ok(())
}

/// Installs the Ctrl-C and SIGTERM handlers now (before "listening" is printed, so a signal sent
/// as soon as the server is up is never the default, abrupt one) and returns the future that
/// completes on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("could not install the SIGTERM handler")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("could not install the Ctrl-C handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
