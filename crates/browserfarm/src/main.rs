//! The `browserfarm` binary: argument parsing, logging and wiring. Everything else
//! lives in the library crates under `crates/`.

mod cli;
mod doctor;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use browserfarm_browser::Pool;
use std::time::Duration;

use browserfarm_agent::AgentConfig;
use browserfarm_gateway::{
    BreakerConfig, Executor, FarmConfig, FarmExecutor, LocalExecutor, NodeSpec,
};
use browserfarm_mcp::StdioOptions;
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::cli::{AgentArgs, Cli, Command, McpArgs};

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
            Command::Agent(args) => agent(args).await,
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
    let executor: Arc<dyn Executor> = if args.nodes.is_empty() {
        let pool =
            Pool::start(args.browser.pool_config()).context("cannot start the browser pool")?;
        tracing::info!(
            chrome = %pool.executable().display(),
            max_browsers = pool.config().max_browsers,
            "browserfarm {} serving MCP on stdio, embedded pool",
            env!("CARGO_PKG_VERSION")
        );
        Arc::new(LocalExecutor::new(pool))
    } else {
        let config = FarmConfig {
            nodes: args
                .nodes
                .iter()
                .map(|url| NodeSpec {
                    url: url.clone(),
                    token: args.token.clone(),
                    weight: 1.0,
                })
                .collect(),
            breaker: BreakerConfig {
                failure_threshold: args.breaker_failures,
                open_for: Duration::from_secs(args.breaker_open_secs),
            },
            health_interval: Duration::from_millis(args.health_interval_ms),
            ..FarmConfig::default()
        };
        let farm = FarmExecutor::start(config)
            .await
            .map_err(anyhow::Error::msg)?;
        tracing::info!(
            nodes = args.nodes.len(),
            "browserfarm {} serving MCP on stdio, farm of nodes",
            env!("CARGO_PKG_VERSION")
        );
        Arc::new(farm)
    };
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

async fn agent(args: AgentArgs) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() && args.token.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!(
            "refusing to listen on {} without a token: anyone who can reach it could drive \
             your browsers. Pass --token (or BROWSERFARM_TOKEN), or listen on 127.0.0.1",
            args.listen
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let pool = Pool::start(args.browser.pool_config()).context("cannot start the browser pool")?;
    let capacity = pool.config().max_browsers;
    let executor = Arc::new(LocalExecutor::new(pool));
    let config = AgentConfig {
        token: args.token,
        tags: args.tags.into_iter().collect(),
        capacity,
        max_queue: args.max_queue,
        session_ttl: Duration::from_secs(args.session_ttl_secs),
        drain_timeout: Duration::from_secs(args.drain_secs),
        ..AgentConfig::default()
    };
    tracing::info!(
        listen = %listener.local_addr()?,
        capacity,
        auth = config.token.is_some(),
        "browserfarm {} agent serving",
        env!("CARGO_PKG_VERSION")
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    browserfarm_agent::serve(listener, executor, config, shutdown).await?;
    tracing::info!("agent stopped; all browsers closed");
    Ok(())
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
