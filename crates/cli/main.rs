//! The `browserfarm` binary: argument parsing, logging and wiring. Everything else
//! lives in the library crates under `crates/`.

mod doctor;
mod farm_file;
mod flags;
mod signals;
mod status;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use browserfarm_browser::Pool;
use std::time::Duration;

use browserfarm_agent::{AgentConfig, Registrar};
use browserfarm_gateway::{
    BreakerConfig, Executor, FarmConfig, FarmExecutor, LocalExecutor, LocalMember, NodeGauges,
    NodeSpec, PoolGauges, QueueConfig, QueueGauges, Queued, registry_router,
};
use browserfarm_http::metrics_router;
use browserfarm_mcp::{
    AuditLog, CacheConfig, Drain, Handles, HttpOptions, RateLimit, ResultCache, SessionKey,
    StdioOptions,
};
use browserfarm_metrics::{self as metrics, Exposition};
use browserfarm_protocol::NodeTags;
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::farm_file::FarmFile;
use crate::flags::{AgentArgs, Cli, Command, McpArgs, resolve_token};

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
            Command::Mcp(args) => mcp(*args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Agent(args) => agent(*args).await,
            Command::Status(args) => return Ok(status::run(args).await),
        }
        .map(|()| ExitCode::SUCCESS)
    });
    // Blocking stdin reads may still be parked in the runtime's thread pool; they
    // must not keep the process alive once the work is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
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

/// How long a freshly started gateway with a registry or DNS discovery lets its
/// first jobs wait for agents to appear: two default heartbeat periods, and about
/// one DNS refresh.
const REGISTRATION_GRACE: Duration = Duration::from_secs(10);

async fn mcp(mut args: McpArgs) -> anyhow::Result<()> {
    // Empty values (e.g. an unset placeholder in a client's env block) mean unset.
    args.token =
        resolve_token(args.token.take(), args.token_file.as_deref()).map_err(anyhow::Error::msg)?;
    args.nodes.retain(|n| !n.trim().is_empty());
    check_tls(&args.serve_tls, &args.call_tls)?;
    let (tokens, presented) = tokens(&args.token, &args.token_file, &args.tokens_file)?;
    let file = args.config.as_deref().map(FarmFile::load).transpose()?;
    let mut nodes: Vec<NodeSpec> = args
        .nodes
        .iter()
        .map(|url| NodeSpec {
            url: url.clone(),
            // The farm's presented token, which follows --token-file.
            token: None,
            weight: 1.0,
            tags: Default::default(),
            server_name: None,
        })
        .collect();
    if let Some(file) = &file {
        nodes.extend(file.node_specs(None));
    }
    let local_pool = args
        .local_pool
        .or(file.as_ref().and_then(|f| f.local_pool))
        .unwrap_or(true);
    // Nodes that join later (registering agents, DNS) still make a farm.
    let dynamic_nodes = args.registry_listen.is_some() || args.nodes_dns.is_some();
    let farm_mode = !nodes.is_empty() || dynamic_nodes;
    if !farm_mode && !local_pool {
        anyhow::bail!(
            "nothing would run jobs: --local-pool=false needs farm nodes (--node, --config, \
             --nodes-dns) or --registry-listen for agents to register"
        );
    }
    if let Some(addr) = args.registry_listen {
        require_token_beyond_loopback(addr, &tokens, "accept node registrations", "add nodes")?;
    }
    if let Some(addr) = args.http {
        require_token_beyond_loopback(addr, &tokens, "serve MCP", "drive your browsers")?;
    }
    if let Some(addr) = args.metrics_listen {
        require_token_beyond_loopback(
            addr,
            &tokens,
            "serve metrics",
            "read the farm's load and error rates",
        )?;
    }
    let recorder = install_metrics()?;
    // Bind before starting browsers, so a taken port fails fast.
    let http_listener = match args.http {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?,
        ),
        None => None,
    };
    let audit = match args.audit_log.as_str() {
        "off" | "" => None,
        "stderr" | "-" => Some(Arc::new(AuditLog::stderr())),
        path => Some(Arc::new(
            AuditLog::file(std::path::Path::new(path))
                .with_context(|| format!("cannot open the audit log {path}"))?,
        )),
    };
    let local = if local_pool {
        let pool =
            // Developers browse localhost: private networks stay reachable
            // unless --block-private-networks says otherwise.
            Pool::start(args.browser.pool_config(false)?).context("cannot start the browser pool")?;
        tracing::info!(
            chrome = %pool.executable().display(),
            max_browsers = pool.config().max_browsers,
            max_sessions = pool.sessions().max,
            "embedded browser pool ready"
        );
        let tags: NodeTags = args.local_tags.iter().cloned().collect();
        Some(Arc::new(
            LocalExecutor::new(pool)
                .with_tags(tags)
                .with_capacity(args.browser.job_capacity()),
        ))
    } else {
        None
    };
    let queue = QueueConfig {
        max_queue: args.max_queue,
        max_wait: Duration::from_secs(args.queue_wait_secs),
    };
    let mut registry = None;
    let mut exposition = Exposition::new(recorder);
    if let Some(local) = &local {
        exposition = exposition.with_gauges(Arc::new(PoolGauges(local.clone())));
    }
    let executor: Arc<dyn Executor> = if farm_mode {
        let config = FarmConfig {
            nodes,
            breaker: BreakerConfig {
                failure_threshold: args.breaker_failures,
                open_for: Duration::from_secs(args.breaker_open_secs),
            },
            health_interval: Duration::from_millis(args.health_interval_ms),
            token: presented.clone(),
            registration_grace: if dynamic_nodes {
                REGISTRATION_GRACE
            } else {
                Duration::ZERO
            },
            session_wait: Duration::from_secs(args.queue_wait_secs),
            rules: file.as_ref().map(FarmFile::rules).unwrap_or_default(),
            tls: args.call_tls.client_tls(),
            ..FarmConfig::default()
        };
        let member = local.map(|executor| LocalMember {
            executor,
            tags: args.local_tags.iter().cloned().collect(),
        });
        let farm = Arc::new(
            FarmExecutor::start(config, member)
                .await
                .map_err(anyhow::Error::msg)?,
        );
        farm.watch();
        if let Some(name) = args.nodes_dns.clone() {
            tracing::info!(%name, every_secs = args.nodes_dns_interval_secs, "taking farm nodes from DNS");
            farm.discover(name, Duration::from_secs(args.nodes_dns_interval_secs))
                .await;
        }
        if let Some(addr) = args.registry_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for registrations on {addr}"))?;
            tracing::info!(listen = %listener.local_addr()?, "accepting node registrations");
            let app = registry_router(farm.clone(), tokens.clone());
            let tls = args.serve_tls.server_tls();
            registry = Some(tokio::spawn(async move {
                let forever = std::future::pending::<()>();
                if let Err(e) = browserfarm_http::serve(listener, app, tls, forever).await {
                    tracing::error!(error = %e, "registry listener failed");
                }
            }));
        }
        tracing::info!(
            nodes = farm.status().await.nodes.len(),
            "browserfarm {} serving MCP, farm mode",
            env!("CARGO_PKG_VERSION")
        );
        let capacity = farm.clone();
        let queued = Queued::new(farm, queue, move || capacity.capacity())
            .with_max_per_host(args.max_per_host);
        exposition = exposition.with_gauges(Arc::new(QueueGauges(queued.admission().clone())));
        Arc::new(queued)
    } else {
        let local = local.expect("checked above: no farm means a local pool");
        let capacity = args.browser.job_capacity();
        tracing::info!(
            "browserfarm {} serving MCP, embedded pool",
            env!("CARGO_PKG_VERSION")
        );
        let queued =
            Queued::new(local, queue, move || capacity).with_max_per_host(args.max_per_host);
        exposition = exposition.with_gauges(Arc::new(QueueGauges(queued.admission().clone())));
        Arc::new(queued)
    };
    let exposition = Arc::new(exposition.with_gauges(Arc::new(NodeGauges(executor.clone()))));
    tokio::spawn(upkeep(exposition.clone()));
    let metrics_server = metrics_listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(listen = %addr, "serving Prometheus metrics at /metrics");
        }
        let app = metrics_router(exposition.clone(), tokens.clone());
        let tls = args.serve_tls.server_tls();
        tokio::spawn(async move {
            let forever = std::future::pending::<()>();
            if let Err(e) = browserfarm_http::serve(listener, app, tls, forever).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        })
    });
    let cache = args.result_cache.then(|| {
        Arc::new(ResultCache::new(CacheConfig {
            screenshot_ttl: Duration::from_secs(args.cache_screenshot_ttl_secs),
            content_ttl: Duration::from_secs(args.cache_content_ttl_secs),
            max_bytes: args.cache_max_bytes,
        }))
    });
    let shutdown = CancellationToken::new();
    let drain = Drain::new();
    tokio::spawn({
        let (shutdown, drain) = (shutdown.clone(), drain.clone());
        let grace = Duration::from_secs(args.shutdown_grace_secs);
        async move {
            let signalled = CancellationToken::new();
            signals::cancel_on_stop(signalled.clone()).await;
            if signalled.is_cancelled() {
                drain.drain(grace).await;
                shutdown.cancel();
            }
        }
    });
    let handles = Arc::new(Handles::new(
        session_key(args.session_key_file.as_deref())?,
        Duration::from_secs(args.session_idle_secs),
    ));
    let rate_limit = (args.rate_limit > 0.0).then_some(RateLimit {
        per_sec: args.rate_limit,
        burst: args.rate_burst,
    });
    let toolset = browserfarm_mcp::Toolset::parse(&args.tools)
        .map_err(|e| anyhow::anyhow!("--tools: {e}"))?;
    let links = args
        .resource_links_over
        .map(|over| Arc::new(browserfarm_mcp::ResourceStore::new(over)));
    let served = match http_listener {
        Some(listener) => {
            tracing::info!(listen = %listener.local_addr()?, auth = tokens.is_required(),
                "serving MCP over HTTP: streamable HTTP at /mcp, legacy SSE at /sse");
            let options = HttpOptions {
                allowed_hosts: args.allowed_hosts.clone(),
                allowed_origins: args.allowed_origins.clone(),
                token: args.token.clone(),
                handles,
                session_idle: Duration::from_secs(args.session_idle_secs),
                rate_limit,
                audit,
                cache,
                max_body_bytes: args.max_message_bytes,
                dashboard: args.dashboard,
                metrics: Some(exposition.clone()),
                drain,
                max_batch_urls: args.max_batch_urls,
                max_output_chars: args.max_output_chars,
                max_sessions_per_client: args.max_sessions_per_client.unwrap_or(
                    if listener.local_addr()?.ip().is_loopback() {
                        0
                    } else {
                        browserfarm_mcp::DEFAULT_MAX_SESSIONS_PER_CLIENT
                    },
                ),
                toolset,
                max_detached_sessions: args.max_detached_sessions,
                links,
                tls: args.serve_tls.server_tls(),
                tokens: Some(tokens.clone()),
            };
            browserfarm_mcp::serve_http(listener, executor.clone(), options, shutdown).await
        }
        None => {
            let options = StdioOptions {
                max_message_bytes: args.max_message_bytes,
                rate_limit,
                audit,
                cache,
                drain,
                max_batch_urls: args.max_batch_urls,
                max_output_chars: args.max_output_chars,
                handles,
                toolset,
                links,
            };
            browserfarm_mcp::serve_stdio(executor.clone(), options, shutdown).await
        }
    };
    for task in [registry, metrics_server].into_iter().flatten() {
        task.abort();
    }
    executor.shutdown().await;
    tracing::info!("browserfarm stopped; all browsers closed");
    served.context("MCP transport failed")
}

/// The key that signs session handles: read from `path` (shared by a farm's
/// gateway replicas), or made at random for a gateway on its own.
fn session_key(path: Option<&std::path::Path>) -> anyhow::Result<SessionKey> {
    let Some(path) = path else {
        return Ok(SessionKey::random());
    };
    let secret = std::fs::read(path)
        .with_context(|| format!("cannot read the session key file {}", path.display()))?;
    SessionKey::from_secret(&secret)
        .with_context(|| format!("the session key file {} is unusable", path.display()))
}

async fn agent(mut args: AgentArgs) -> anyhow::Result<()> {
    args.token =
        resolve_token(args.token.take(), args.token_file.as_deref()).map_err(anyhow::Error::msg)?;
    check_tls(&args.serve_tls, &args.call_tls)?;
    let (tokens, presented) = tokens(&args.token, &args.token_file, &args.tokens_file)?;
    require_token_beyond_loopback(args.listen, &tokens, "listen", "drive your browsers")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let register = registrars(&args, listener.local_addr()?, &presented)?;
    let recorder = install_metrics()?;
    // An agent reachable from other machines serves pages that must not reach
    // its own network, unless the operator says otherwise.
    let private_by_default = !args.listen.ip().is_loopback();
    let pool = Pool::start(args.browser.pool_config(private_by_default)?)
        .context("cannot start the browser pool")?;
    let capacity = args.browser.job_capacity();
    let executor = Arc::new(LocalExecutor::new(pool).with_capacity(capacity));
    let exposition = Arc::new(
        Exposition::new(recorder)
            .with_gauges(Arc::new(PoolGauges(executor.clone())))
            .with_gauges(Arc::new(NodeGauges(executor.clone()))),
    );
    tokio::spawn(upkeep(exposition.clone()));
    let config = AgentConfig {
        token: args.token,
        tags: args.tags.into_iter().collect(),
        capacity,
        max_queue: args.max_queue,
        session_ttl: Duration::from_secs(args.session_ttl_secs),
        drain_timeout: Duration::from_secs(args.drain_secs),
        register,
        metrics: Some(exposition),
        tls: args.serve_tls.server_tls(),
        tokens: Some(tokens.clone()),
        ..AgentConfig::default()
    };
    tracing::info!(
        listen = %listener.local_addr()?,
        capacity,
        auth = tokens.is_required(),
        "browserfarm {} agent serving",
        env!("CARGO_PKG_VERSION")
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(signals::cancel_on_stop(shutdown.clone()));
    browserfarm_agent::serve(listener, executor, config, shutdown).await?;
    tracing::info!("agent stopped; all browsers closed");
    Ok(())
}

/// Installs the process-wide Prometheus recorder. Durations are real histograms
/// (summaries cannot be aggregated across gateway and agents).
fn install_metrics() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix(metrics::DURATION_SUFFIX.to_owned()),
            metrics::DURATION_BUCKETS,
        )?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    metrics::describe();
    Ok(handle)
}

/// How often histogram samples are folded in when nobody scrapes.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

async fn upkeep(exposition: Arc<Exposition>) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tick.tick().await;
        exposition.run_upkeep();
    }
}

/// Refuses to `what` on a non-loopback address without a token (tokens are
/// resolved first, so an empty one is already `None`).
fn require_token_beyond_loopback(
    addr: std::net::SocketAddr,
    tokens: &browserfarm_http::Tokens,
    what: &str,
    risk: &str,
) -> anyhow::Result<()> {
    if addr.ip().is_loopback() || tokens.is_required() {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to {what} on {addr} without a token: anyone who can reach it could {risk}. \
         Pass --token, --token-file or --tokens-file (or BROWSERFARM_TOKEN), or listen on \
         127.0.0.1"
    )
}

/// One registrar per gateway in `--register-with`, each named once (empty values,
/// e.g. from a trailing comma, mean none).
fn registrars(
    args: &AgentArgs,
    bound: std::net::SocketAddr,
    presented: &browserfarm_http::Presented,
) -> anyhow::Result<Vec<Registrar>> {
    let mut gateways: Vec<&str> = Vec::new();
    for gateway in &args.register_with {
        let gateway = gateway.trim().trim_end_matches('/');
        if !gateway.is_empty() && !gateways.contains(&gateway) {
            gateways.push(gateway);
        }
    }
    if gateways.is_empty() {
        return Ok(Vec::new());
    }
    let advertise = advertised_url(args, bound)?;
    Ok(gateways
        .into_iter()
        .map(|gateway| Registrar {
            gateway: gateway.to_owned(),
            advertise: advertise.clone(),
            token: presented.clone(),
            heartbeat: Duration::from_secs(args.heartbeat_secs),
            weight: args.weight,
            tls: args.call_tls.client_tls(),
        })
        .collect())
}

/// The URL a gateway reaches this agent at: `--advertise`, or the bound address
/// when that is a concrete one.
fn advertised_url(args: &AgentArgs, bound: std::net::SocketAddr) -> anyhow::Result<String> {
    if let Some(url) = &args.advertise {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    if bound.ip().is_unspecified() {
        anyhow::bail!(
            "listening on {bound}, the gateway cannot tell which address reaches this node: \
             pass --advertise http://<this host's address>:{}",
            bound.port()
        );
    }
    let scheme = if args.serve_tls.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{bound}"))
}

/// What this process's listeners accept (`--token` and `--tokens-file`,
/// watched and re-read on SIGHUP) and the token it presents to others
/// (`--token`, following `--token-file`).
fn tokens(
    token: &Option<String>,
    token_file: &Option<std::path::PathBuf>,
    tokens_file: &Option<std::path::PathBuf>,
) -> anyhow::Result<(Arc<browserfarm_http::Tokens>, browserfarm_http::Presented)> {
    let tokens = browserfarm_http::Tokens::new(token.as_deref(), tokens_file.as_deref())
        .context("cannot use the tokens file (--tokens-file)")?;
    tokens.watch();
    if tokens_file.is_some() {
        let weak = Arc::downgrade(&tokens);
        signals::on_hangup(move || {
            weak.upgrade()
                .map(|tokens| tokens.reload_logged())
                .is_some()
        });
    }
    let presented = browserfarm_http::Presented::from(token.clone());
    if let Some(path) = token_file {
        presented.follow(path.clone());
    }
    Ok((tokens, presented))
}

/// Reads the TLS files once at start, so a wrong path or a key that does not
/// match its certificate stops the process before it serves anything.
fn check_tls(serve: &flags::ServeTlsArgs, call: &flags::CallTlsArgs) -> anyhow::Result<()> {
    if let Some(tls) = serve.server_tls() {
        tls.load()
            .context("cannot serve TLS (--tls-cert, --tls-key, --tls-client-ca)")?;
    }
    call.client_tls()
        .config()
        .context("cannot set up TLS for calls (--ca-file, --tls-client-cert, --tls-client-key)")?;
    Ok(())
}
