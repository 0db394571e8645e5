//! Command-line interface. Every setting is a flag with a `BROWSERFARM_*`
//! environment variable twin and a documented default (see README).

use std::path::PathBuf;
use std::time::Duration;

use browserfarm_browser::PoolConfig;
use browserfarm_gateway::DnsName;
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "browserfarm",
    version,
    // A flag given twice takes its last value, so wrappers can override defaults.
    args_override_self = true,
    about = "An MCP server that gives AI agents a farm of real Chromium browsers.",
    long_about = "An MCP server that gives AI agents a farm of real Chromium browsers.\n\n\
        Run `browserfarm mcp` from an MCP client (Claude Desktop, an agent framework, the \
        MCP Inspector): it speaks MCP over stdio and drives headless Chromium. Run \
        `browserfarm doctor` to check the Chromium install.\n\nLogs go to stderr; set \
        RUST_LOG (e.g. RUST_LOG=debug) for more."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (stdin/stdout), or over HTTP with --http, with an
    /// embedded Chromium pool and/or farm nodes. Boxed: its many settings would
    /// make every other variant as large.
    Mcp(Box<McpArgs>),
    /// Check that Chromium can be found, started and can load a page; prints timings.
    Doctor(BrowserArgs),
    /// Run a farm node: an HTTP API (/v1) around a local Chromium pool, for a
    /// gateway (`browserfarm mcp --node URL`) to send jobs to.
    Agent(AgentArgs),
    /// Show a running gateway's nodes and totals (from its GET /v1/farm). Exits 0
    /// when at least one node is up, 1 when none is, 2 when the gateway cannot be
    /// asked.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The gateway: its --http address, or its --registry-listen address.
    #[arg(
        long,
        env = "BROWSERFARM_GATEWAY",
        default_value = "http://127.0.0.1:8931"
    )]
    pub gateway: String,

    /// Bearer token, when the gateway has one.
    #[arg(long, env = "BROWSERFARM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Read the bearer token from this file instead (first line, trimmed), so it
    /// stays out of the process list and the environment.
    #[arg(
        long,
        env = "BROWSERFARM_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,

    /// Print the raw JSON status instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub browser: BrowserArgs,

    /// Address to listen on. Binding beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_LISTEN", default_value = "127.0.0.1:9301")]
    pub listen: std::net::SocketAddr,

    /// Bearer token callers must present (required when not bound to loopback).
    #[arg(long, env = "BROWSERFARM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Read the bearer token from this file instead (first line, trimmed), so it
    /// stays out of the process list and the environment.
    #[arg(
        long,
        env = "BROWSERFARM_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,

    /// Labels for job placement, e.g. region=eu,kind=pi.
    #[arg(long, env = "BROWSERFARM_TAGS", value_delimiter = ',', value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,

    /// Jobs allowed to wait for a free browser before the node answers 429.
    #[arg(long, env = "BROWSERFARM_MAX_QUEUE", default_value_t = 16)]
    pub max_queue: usize,

    /// Sessions unused for this many seconds are closed.
    #[arg(long, env = "BROWSERFARM_SESSION_TTL_SECS", default_value_t = 600)]
    pub session_ttl_secs: u64,

    /// On SIGTERM, how long in-flight jobs may finish before browsers are closed.
    #[arg(long, env = "BROWSERFARM_DRAIN_SECS", default_value_t = 30)]
    pub drain_secs: u64,

    /// Register with this gateway's registry (`mcp --registry-listen`) and send
    /// heartbeats, e.g. http://10.0.0.2:9300.
    #[arg(long, env = "BROWSERFARM_REGISTER_WITH", value_name = "URL")]
    pub register_with: Option<String>,

    /// URL the gateway should use to reach this agent. Default: http:// plus the
    /// --listen address (required when listening on 0.0.0.0 or ::).
    #[arg(long, env = "BROWSERFARM_ADVERTISE", value_name = "URL")]
    pub advertise: Option<String>,

    /// Seconds between heartbeats; the gateway takes the node offline after
    /// three missed ones.
    #[arg(long, env = "BROWSERFARM_HEARTBEAT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_secs: u64,

    /// This node's share of the farm's load relative to others (default 1).
    #[arg(long, env = "BROWSERFARM_WEIGHT")]
    pub weight: Option<f64>,
}

/// The token from `--token`, or from `--token-file`; empty means none.
pub fn resolve_token(
    token: Option<String>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, String> {
    let token = match file {
        None => token,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
            let first = text.lines().next().unwrap_or("").trim().to_owned();
            if first.is_empty() {
                return Err(format!("the token file {} is empty", path.display()));
            }
            warn_if_readable_by_others(path);
            Some(first)
        }
    };
    Ok(token.filter(|t| !t.is_empty()))
}

fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the token file is readable by other users; chmod 600 it"
        );
    }
}

fn parse_dns_name(s: &str) -> Result<DnsName, String> {
    DnsName::parse(s).map_err(|e| e.to_string())
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("tag '{s}' is not key=value"))?;
    if k.trim().is_empty() {
        return Err(format!("tag '{s}' has an empty key"));
    }
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub browser: BrowserArgs,

    /// Farm node to send jobs to (repeatable; env: comma separated). Without
    /// nodes, jobs run on the embedded Chromium pool.
    #[arg(
        long = "node",
        env = "BROWSERFARM_NODES",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub nodes: Vec<String>,

    /// Take farm nodes from DNS: every address HOST resolves to is a node at
    /// http://IP:PORT (a Kubernetes headless Service resolves to its ready pods),
    /// looked up again every --nodes-dns-interval-secs; nodes whose address left
    /// DNS leave the farm, a failed lookup keeps the known ones. They get --token.
    #[arg(long, env = "BROWSERFARM_NODES_DNS", value_name = "HOST:PORT",
          value_parser = parse_dns_name)]
    pub nodes_dns: Option<DnsName>,

    /// Seconds between DNS lookups of --nodes-dns.
    #[arg(long, env = "BROWSERFARM_NODES_DNS_INTERVAL_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub nodes_dns_interval_secs: u64,

    /// Farm config file (TOML) with nodes and their tokens, weights and tags;
    /// see README "Farm config file".
    #[arg(long, env = "BROWSERFARM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Bearer token presented to farm nodes, and required from agents that
    /// register with --registry-listen.
    #[arg(long, env = "BROWSERFARM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Read the bearer token from this file instead (first line, trimmed), so it
    /// stays out of the process list and the environment.
    #[arg(
        long,
        env = "BROWSERFARM_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,

    /// Also run jobs on this machine's embedded pool when farm nodes exist
    /// (`--local-pool=false` to send everything to the nodes). Default: true.
    #[arg(long, env = "BROWSERFARM_LOCAL_POOL", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true")]
    pub local_pool: Option<bool>,

    /// Labels of the embedded pool for jobs' node_tags, e.g. region=eu.
    #[arg(long, env = "BROWSERFARM_LOCAL_TAGS", value_delimiter = ',', value_parser = parse_tag)]
    pub local_tags: Vec<(String, String)>,

    /// Accept agent self-registration (`agent --register-with`) on this address:
    /// POST/DELETE /v1/nodes, GET /v1/farm. Beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_REGISTRY_LISTEN", value_name = "ADDR")]
    pub registry_listen: Option<std::net::SocketAddr>,

    /// Serve Prometheus metrics at GET /metrics on this address (stdio mode; in
    /// HTTP mode they are at /metrics on the --http address). Behind the token
    /// when one is set; beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Keep results of one-shot reads (batch_scrape pages; scrape and screenshot
    /// with `url` and `cache: true`) and serve repeats from memory.
    #[arg(long, env = "BROWSERFARM_RESULT_CACHE")]
    pub result_cache: bool,

    /// How long cached page content is served, in seconds.
    #[arg(
        long,
        env = "BROWSERFARM_CACHE_CONTENT_TTL_SECS",
        default_value_t = 300
    )]
    pub cache_content_ttl_secs: u64,

    /// How long cached screenshots are served, in seconds.
    #[arg(
        long,
        env = "BROWSERFARM_CACHE_SCREENSHOT_TTL_SECS",
        default_value_t = 3600
    )]
    pub cache_screenshot_ttl_secs: u64,

    /// Most bytes of results the cache holds; the least used go first.
    #[arg(
        long,
        env = "BROWSERFARM_CACHE_MAX_BYTES",
        default_value_t = 67_108_864
    )]
    pub cache_max_bytes: u64,

    /// Most jobs waiting for a free browser at the gateway; more are refused.
    #[arg(long, env = "BROWSERFARM_GATEWAY_MAX_QUEUE", default_value_t = 1000)]
    pub max_queue: usize,

    /// Longest a job waits in the gateway queue, in seconds.
    #[arg(long, env = "BROWSERFARM_QUEUE_WAIT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_wait_secs: u64,

    /// Tool calls per second this client may make (batch_scrape pages are paced
    /// to it); 0 means unlimited.
    #[arg(long, env = "BROWSERFARM_RATE_LIMIT", default_value_t = 0.0)]
    pub rate_limit: f64,

    /// Calls allowed at once above the rate before limiting starts.
    #[arg(long, env = "BROWSERFARM_RATE_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_burst: u32,

    /// Consecutive failures that open a node's circuit breaker.
    #[arg(long, env = "BROWSERFARM_BREAKER_FAILURES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_failures: u32,

    /// Seconds an open breaker waits before letting one probe call through.
    #[arg(long, env = "BROWSERFARM_BREAKER_OPEN_SECS", default_value_t = 60)]
    pub breaker_open_secs: u64,

    /// How often each node's /health is checked, in milliseconds.
    #[arg(long, env = "BROWSERFARM_HEALTH_INTERVAL_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub health_interval_ms: u64,

    /// Serve MCP over HTTP on this address instead of stdio: streamable HTTP at
    /// /mcp, legacy SSE at /sse + /message, health at /health. Beyond loopback
    /// requires --token.
    #[arg(long, env = "BROWSERFARM_HTTP", value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,

    /// Host names (besides localhost/127.0.0.1/::1) accepted in the Host and
    /// Origin headers in HTTP mode, e.g. farm.example.org.
    #[arg(long, env = "BROWSERFARM_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Browser origins accepted in HTTP mode besides those of allowed hosts,
    /// e.g. https://app.example.org.
    #[arg(long, env = "BROWSERFARM_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// HTTP mode: an MCP session idle this long is closed with its browser.
    #[arg(long, env = "BROWSERFARM_SESSION_IDLE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle_secs: u64,

    /// HTTP mode: serve the live dashboard at /dashboard (nodes, recent calls,
    /// totals; same Host/Origin/token rules). `--dashboard=false` turns it off.
    #[arg(long, env = "BROWSERFARM_DASHBOARD", value_name = "BOOL",
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub dashboard: bool,

    /// Audit log, one JSON line per tool call: `stderr`, `off`, or a file path
    /// (appended to). Never holds page content or typed text.
    #[arg(
        long,
        env = "BROWSERFARM_AUDIT_LOG",
        default_value = "stderr",
        value_name = "stderr|off|PATH"
    )]
    pub audit_log: String,

    /// Largest accepted JSON-RPC message (stdin line or HTTP body), in bytes.
    #[arg(long, env = "BROWSERFARM_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// On SIGTERM or SIGINT, how long running tool calls may finish, in seconds.
    /// New calls are refused at once; calls still running afterwards are answered
    /// with an error, then the browsers are closed.
    #[arg(long, env = "BROWSERFARM_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Most URLs one batch_scrape call may carry.
    #[arg(long, env = "BROWSERFARM_MAX_BATCH_URLS",
          default_value_t = browserfarm_protocol::MAX_BATCH_URLS,
          value_parser = clap::value_parser!(u32).range(1..=100_000).map(|v| v as usize))]
    pub max_batch_urls: usize,

    /// Most characters of text one tool result may carry; longer results are cut
    /// and say so, and a batch_scrape that could exceed it is refused up front.
    #[arg(long, env = "BROWSERFARM_MAX_OUTPUT_CHARS",
          default_value_t = browserfarm_protocol::DEFAULT_MAX_OUTPUT_CHARS,
          value_parser = clap::value_parser!(u64).range(1_000..=100_000_000).map(|v| v as usize))]
    pub max_output_chars: usize,

    /// HTTP mode: most MCP sessions one client address may hold open at once
    /// (streamable HTTP and SSE); 0 for no limit. Further sessions are refused
    /// with 429 until one closes or expires. Default: 16 when listening beyond
    /// loopback, no limit on loopback (local tools open many short sessions).
    #[arg(long, env = "BROWSERFARM_MAX_SESSIONS_PER_CLIENT", value_name = "N")]
    pub max_sessions_per_client: Option<usize>,
}

/// Settings of the embedded browser pool.
#[derive(Debug, Args, Clone)]
pub struct BrowserArgs {
    /// Chromium executable. Default: first of chromium, chromium-browser,
    /// google-chrome, google-chrome-stable on PATH.
    #[arg(long, env = "BROWSERFARM_CHROME", value_name = "PATH")]
    pub chrome: Option<PathBuf>,

    /// Chromium processes kept running even when idle.
    #[arg(long, env = "BROWSERFARM_MIN_BROWSERS", default_value_t = 1)]
    pub min_browsers: usize,

    /// Most Chromium processes at once (each serves one session at a time).
    #[arg(long, env = "BROWSERFARM_MAX_BROWSERS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub max_browsers: usize,

    /// Most jobs run at once; more wait in the queue. Default: twice
    /// --max-browsers, since the one-off jobs of one batch share a browser as
    /// tabs (a session, or a lone one-off job, holds a browser of its own and
    /// waits for one when all are busy).
    #[arg(long, env = "BROWSERFARM_MAX_JOBS",
          value_parser = clap::value_parser!(u16).range(1..=4096).map(usize::from))]
    pub max_jobs: Option<usize>,

    /// A Chromium process is replaced after serving this many sessions.
    #[arg(long, env = "BROWSERFARM_MAX_LEASES", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_leases: usize,

    /// Idle Chromium processes beyond --min-browsers are closed after this many seconds.
    #[arg(long, env = "BROWSERFARM_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    pub idle_timeout_secs: u64,

    /// How long a call waits for a free browser before failing, in seconds.
    #[arg(long, env = "BROWSERFARM_ACQUIRE_TIMEOUT_SECS", default_value_t = 30)]
    pub acquire_timeout_secs: u64,

    /// Page-load deadline when a call gives no timeout_ms, in milliseconds.
    #[arg(long, env = "BROWSERFARM_NAVIGATION_TIMEOUT_MS",
          default_value_t = browserfarm_protocol::DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(100..=300_000))]
    pub navigation_timeout_ms: u64,

    /// Deadline for a single Chromium DevTools command, in milliseconds.
    #[arg(long, env = "BROWSERFARM_CDP_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=300_000))]
    pub cdp_timeout_ms: u64,

    /// How long `evaluate` scripts may run before they are stopped, in milliseconds.
    #[arg(long, env = "BROWSERFARM_SCRIPT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(10..=300_000))]
    pub script_timeout_ms: u64,

    /// Browser viewport in CSS pixels, WIDTHxHEIGHT.
    #[arg(long, env = "BROWSERFARM_VIEWPORT", default_value = "1280x720", value_parser = parse_viewport)]
    pub viewport: (u32, u32),

    /// Run Chromium without its sandbox (always the case as root, where Chromium
    /// requires it). Needed in some containers.
    #[arg(long, env = "BROWSERFARM_NO_SANDBOX")]
    pub no_sandbox: bool,

    /// Directory the upload_file tool may take files from (by name, nothing
    /// outside it). Without it, uploads are off.
    #[arg(long, env = "BROWSERFARM_UPLOAD_DIR", value_name = "DIR")]
    pub upload_dir: Option<PathBuf>,

    /// Largest screenshot returned, in bytes. Larger captures are re-encoded as
    /// JPEG and scaled down until they fit, and the result says so.
    #[arg(long, env = "BROWSERFARM_SCREENSHOT_MAX_BYTES",
          default_value_t = browserfarm_browser::DEFAULT_SCREENSHOT_MAX_BYTES,
          value_parser = clap::value_parser!(u64).range(10_000..=50_000_000).map(|v| v as usize))]
    pub screenshot_max_bytes: usize,

    /// Let pages download files: each session's downloads are kept (inside the
    /// browser profile, deleted with the session) and readable with the
    /// downloads tool. Off: downloads are refused and the agent is told.
    #[arg(long, env = "BROWSERFARM_DOWNLOADS")]
    pub downloads: bool,

    /// Let pages open popups and windows: script-opened ones are allowed, and a
    /// popup becomes a tab of the session. Off: Chromium's popup blocker stops
    /// script popups, and a popup a click opens is closed at once (the agent is
    /// told its URL).
    #[arg(long, env = "BROWSERFARM_POPUPS")]
    pub popups: bool,

    /// Most tabs one session may hold (popups included).
    #[arg(long, env = "BROWSERFARM_MAX_TABS", default_value_t = browserfarm_protocol::MAX_TABS,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub max_tabs: usize,

    /// Largest file one download may grow to; larger ones are cancelled.
    #[arg(long, env = "BROWSERFARM_MAX_DOWNLOAD_BYTES",
          default_value_t = browserfarm_browser::DEFAULT_MAX_DOWNLOAD_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_download_bytes: u64,

    /// Hosts pages may reach at all, as globs (`example.com,*.example.com`):
    /// navigations, redirects and every subresource. Default: any host. (Not to
    /// be confused with --allowed-hosts, the Host headers HTTP mode accepts.)
    #[arg(
        long,
        env = "BROWSERFARM_ALLOW_HOSTS",
        value_delimiter = ',',
        value_name = "GLOBS"
    )]
    pub allow_hosts: Vec<String>,

    /// Hosts pages may never reach, as globs; checked before --allow-hosts.
    #[arg(
        long,
        env = "BROWSERFARM_BLOCK_HOSTS",
        value_delimiter = ',',
        value_name = "GLOBS"
    )]
    pub block_hosts: Vec<String>,

    /// Keep pages off loopback, private (RFC 1918, unique-local) and link-local
    /// addresses (cloud metadata included), checked after DNS resolution. Default:
    /// off for `mcp` (developers browse localhost), on for an agent listening
    /// beyond loopback.
    #[arg(long, env = "BROWSERFARM_BLOCK_PRIVATE_NETWORKS", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true")]
    pub block_private_networks: Option<bool>,
}

fn parse_viewport(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 1280x720")?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("'{v}': {e}"));
    let (w, h) = (parse(w)?, parse(h)?);
    if !(100..=7680).contains(&w) || !(100..=4320).contains(&h) {
        return Err(format!("{w}x{h} is out of range (100x100 to 7680x4320)"));
    }
    Ok((w, h))
}

impl BrowserArgs {
    /// Jobs the embedded pool runs at once (--max-jobs).
    pub fn job_capacity(&self) -> usize {
        self.max_jobs.unwrap_or(2 * self.max_browsers)
    }

    /// The host policy, with `private_by_default` deciding --block-private-networks
    /// when it is not given.
    fn host_policy(&self, private_by_default: bool) -> browserfarm_protocol::HostPolicy {
        let globs = |v: &[String]| {
            v.iter()
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect()
        };
        browserfarm_protocol::HostPolicy {
            allow: globs(&self.allow_hosts),
            block: globs(&self.block_hosts),
            block_private: self.block_private_networks.unwrap_or(private_by_default),
        }
    }

    /// The pool settings; `private_by_default` decides --block-private-networks
    /// when it is not given (see [`BrowserArgs::host_policy`]).
    pub fn pool_config(&self, private_by_default: bool) -> PoolConfig {
        PoolConfig {
            chrome: self.chrome.clone(),
            min_browsers: self.min_browsers.min(self.max_browsers),
            max_browsers: self.max_browsers,
            max_leases: self.max_leases,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            acquire_timeout: Duration::from_secs(self.acquire_timeout_secs),
            launch_timeout: PoolConfig::default().launch_timeout,
            cdp_timeout: Duration::from_millis(self.cdp_timeout_ms),
            navigation_timeout: Duration::from_millis(self.navigation_timeout_ms),
            script_timeout: Duration::from_millis(self.script_timeout_ms),
            viewport: self.viewport,
            no_sandbox: self.no_sandbox,
            upload_dir: self.upload_dir.clone(),
            screenshot_max_bytes: self.screenshot_max_bytes,
            downloads: self.downloads,
            max_download_bytes: self.max_download_bytes,
            popups: self.popups,
            max_tabs: self.max_tabs,
            gate: Some(std::sync::Arc::new(browserfarm_browser::Gate::new(
                self.host_policy(private_by_default),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tokens_come_from_the_flag_or_the_file() {
        let dir = std::env::temp_dir().join(format!("bf-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "  s3cret  \nignored\n").unwrap();
        assert_eq!(resolve_token(None, Some(&file)), Ok(Some("s3cret".into())));
        assert_eq!(
            resolve_token(Some("flag".into()), None),
            Ok(Some("flag".into()))
        );
        assert_eq!(resolve_token(Some(String::new()), None), Ok(None));
        std::fs::write(&file, "\n").unwrap();
        assert!(
            resolve_token(None, Some(&file))
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            resolve_token(None, Some(&dir.join("missing")))
                .unwrap_err()
                .contains("cannot read")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nodes_dns_takes_host_and_port() {
        let args = |extra: &[&str]| {
            Cli::try_parse_from(["browserfarm", "mcp"].iter().chain(extra)).map(|cli| {
                match cli.command {
                    Command::Mcp(args) => (args.nodes_dns, args.nodes_dns_interval_secs),
                    other => panic!("parsed as {other:?}"),
                }
            })
        };
        let (name, interval) =
            args(&["--nodes-dns", "agents.farm.svc.cluster.local:9301"]).unwrap();
        assert_eq!(
            name.unwrap().to_string(),
            "agents.farm.svc.cluster.local:9301"
        );
        assert_eq!(interval, 10);
        assert!(args(&["--nodes-dns", "agents"]).is_err());
        assert!(
            args(&[
                "--nodes-dns",
                "agents:9301",
                "--nodes-dns-interval-secs",
                "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn viewport_parsing() {
        assert_eq!(parse_viewport("800x600"), Ok((800, 600)));
        assert!(parse_viewport("800").is_err());
        assert!(parse_viewport("10x10").is_err());
    }
}
