//! The `browserfarm` binary: argument parsing, logging and wiring. Everything else
//! lives in the library crates under `crates/`.

mod cli;
mod doctor;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use browserfarm_browser::Pool;
use browserfarm_gateway::{Executor, LocalExecutor};
use browserfarm_mcp::StdioOptions;
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, McpArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Mcp(args) => mcp(args).await,
            Command::Doctor(args) => doctor::run(args).await,
        }
    });
    // Blocking stdin reads may still be parked in the runtime's thread pool; they
    // must not keep the process alive once the work is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr only: in stdio mode stdout carries the protocol.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // chromiumoxide logs every CDP event it cannot decode at error level;
        // newer Chromium sends many. Its real failures surface through ours.
        EnvFilter::new("info,chromiumoxide=off,tungstenite=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

async fn mcp(args: McpArgs) -> anyhow::Result<()> {
    let pool = Pool::start(args.browser.pool_config()).context("cannot start the browser pool")?;
    tracing::info!(
        chrome = %pool.executable().display(),
        max_browsers = pool.config().max_browsers,
        "browserfarm {} serving MCP on stdio",
        env!("CARGO_PKG_VERSION")
    );
    let executor = Arc::new(LocalExecutor::new(pool));
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let options = StdioOptions {
        max_message_bytes: args.max_message_bytes,
    };
    let served = browserfarm_mcp::serve_stdio(executor.clone(), options, shutdown).await;
    executor.shutdown().await;
    tracing::info!("browserfarm stopped; all browsers closed");
    served.context("stdio transport failed")
}

async fn cancel_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop by closing stdin");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    token.cancel();
}
