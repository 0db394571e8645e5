//! Command-line interface. Every setting is a flag with a `BROWSERFARM_*`
//! environment variable twin and a documented default (see README).
//!
//! Clap turns doc comments (`///`) on these types into `--help` text, so they are
//! written for users; notes for readers of the code are plain `//` comments.

use std::path::PathBuf;
use std::time::Duration;

use browserfarm_browser::PoolConfig;
use browserfarm_gateway::DnsName;
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};

// Help headings. A command's help lists them in the order their first flags are
// declared, and each heading's flags in declaration order, so the order of fields
// below is the order of `--help`: most-used first. A flag shared by commands
// (BrowserArgs, the token) has the same heading in each.
const POOL: &str = "Browser pool";
const PAGES: &str = "Pages";
const NETWORK: &str = "Network policy";
const HTTP: &str = "HTTP and auth";
const FARM: &str = "Farm";
const CALLS: &str = "Tool calls";
const JOBS: &str = "Jobs";
const CACHE: &str = "Result cache";
const OBSERVABILITY: &str = "Observability";
const TLS: &str = "TLS";

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
        `browserfarm doctor` to check the Chromium install. To spread the browsers over \
        machines, run `browserfarm agent` on each and point `browserfarm mcp` at them; \
        `browserfarm status` shows the farm.\n\nLogs go to stderr; set RUST_LOG (e.g. \
        RUST_LOG=debug) for more."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// The abouts are attributes, not doc comments, because clap drops the final period
// of a doc comment and these are listed as sentences in `browserfarm --help`. The
// commands with many flags put each flag's help on the line below it: clap decides
// that per heading otherwise, and mixes the two layouts in one help.
#[derive(Debug, Subcommand)]
pub enum Command {
    // Boxed: McpArgs and AgentArgs are far larger than the others, and an enum is
    // as large as its largest variant.
    #[command(
        about = "Serve MCP over stdio, or over HTTP with --http, driving an embedded Chromium \
                 pool and/or farm nodes.",
        next_line_help = true
    )]
    Mcp(Box<McpArgs>),
    #[command(
        about = "Check that Chromium can be found, started and can load a page, and print the \
                 timings.",
        next_line_help = true
    )]
    Doctor(BrowserArgs),
    #[command(
        about = "Run a farm node: an HTTP API (/v1) around a local Chromium pool, for a gateway \
                 (`browserfarm mcp --node URL`) to send jobs to.",
        next_line_help = true
    )]
    Agent(Box<AgentArgs>),
    #[command(
        about = "Show a running gateway's nodes and totals.",
        after_help = "Exit status: 0 when at least one node is up, 1 when none is, 2 when the \
                      gateway cannot be asked."
    )]
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The gateway to ask (GET /v1/farm): its --http address, or its
    /// --registry-listen address.
    #[arg(
        long,
        env = "BROWSERFARM_GATEWAY",
        default_value = "http://127.0.0.1:8931",
        value_name = "URL"
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

    #[command(flatten)]
    pub call_tls: CallTlsArgs,
}

/// How this process's listeners speak TLS.
#[derive(Debug, Args)]
pub struct ServeTlsArgs {
    /// Serve HTTPS with this certificate (PEM, the chain after the leaf); every
    /// listener of this process uses it. Re-read when the file changes.
    #[arg(long, env = "BROWSERFARM_TLS_CERT", value_name = "PATH",
          requires = "tls_key", help_heading = TLS)]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM).
    #[arg(long, env = "BROWSERFARM_TLS_KEY", value_name = "PATH",
          requires = "tls_cert", help_heading = TLS)]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: accept only clients presenting a certificate from this CA
    /// (PEM), e.g. the farm's gateways.
    #[arg(long, env = "BROWSERFARM_TLS_CLIENT_CA", value_name = "PATH",
          requires = "tls_cert", help_heading = TLS)]
    pub tls_client_ca: Option<PathBuf>,
}

impl ServeTlsArgs {
    pub fn server_tls(&self) -> Option<browserfarm_http::ServerTls> {
        Some(browserfarm_http::ServerTls {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            client_ca: self.tls_client_ca.clone(),
        })
    }
}

/// How this process's calls to other browserfarm processes speak TLS.
#[derive(Debug, Args)]
pub struct CallTlsArgs {
    /// Trust this CA (PEM) for https:// URLs of agents, gateways and
    /// registries, besides the system's CAs: a farm's own CA.
    #[arg(long, env = "BROWSERFARM_CA_FILE", value_name = "PATH", help_heading = TLS)]
    pub ca_file: Option<PathBuf>,

    /// Present this client certificate (PEM) to listeners that require one
    /// (--tls-client-ca there).
    #[arg(long, env = "BROWSERFARM_TLS_CLIENT_CERT", value_name = "PATH",
          requires = "tls_client_key", help_heading = TLS)]
    pub tls_client_cert: Option<PathBuf>,

    /// The client certificate's private key (PEM).
    #[arg(long, env = "BROWSERFARM_TLS_CLIENT_KEY", value_name = "PATH",
          requires = "tls_client_cert", help_heading = TLS)]
    pub tls_client_key: Option<PathBuf>,
}

impl CallTlsArgs {
    pub fn client_tls(&self) -> browserfarm_http::ClientTls {
        browserfarm_http::ClientTls {
            ca_file: self.ca_file.clone(),
            identity: self
                .tls_client_cert
                .clone()
                .zip(self.tls_client_key.clone()),
        }
    }
}

// The agent's own flags come first: they are what an operator sets to run a node.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to listen on, for the node API and its metrics (GET /metrics).
    /// Binding beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_LISTEN", default_value = "127.0.0.1:9301",
          value_name = "ADDR", help_heading = HTTP)]
    pub listen: std::net::SocketAddr,

    /// Bearer token callers must present (required when not bound to loopback).
    #[arg(long, env = "BROWSERFARM_TOKEN", hide_env_values = true, help_heading = HTTP)]
    pub token: Option<String>,

    /// Read the bearer token from this file instead (first line, trimmed), so it
    /// stays out of the process list and the environment.
    #[arg(
        long,
        env = "BROWSERFARM_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token",
        help_heading = HTTP
    )]
    pub token_file: Option<PathBuf>,

    /// Named tokens callers may present besides --token, one `NAME TOKEN` per
    /// line (`#` comments): the name is the caller's principal in the audit
    /// log, the rate limit and session handles. Re-read when the file changes
    /// and on SIGHUP, so tokens rotate without a restart (list the old and the
    /// new, then only the new).
    #[arg(long, env = "BROWSERFARM_TOKENS_FILE", value_name = "PATH", help_heading = HTTP)]
    pub tokens_file: Option<PathBuf>,

    /// Register with this gateway's registry (`mcp --registry-listen`) and send
    /// heartbeats, e.g. http://10.0.0.2:9300. Repeatable (env: comma separated):
    /// with several gateway replicas, give each one; the node registers with
    /// every gateway on its own, so one that is down does not keep it from the
    /// others.
    #[arg(long, env = "BROWSERFARM_REGISTER_WITH", value_delimiter = ',',
          value_name = "URL", help_heading = FARM)]
    pub register_with: Vec<String>,

    /// URL the gateway should use to reach this agent. Default: http:// plus the
    /// --listen address (required when listening on 0.0.0.0 or ::).
    #[arg(long, env = "BROWSERFARM_ADVERTISE", value_name = "URL", help_heading = FARM)]
    pub advertise: Option<String>,

    /// Seconds between heartbeats; the gateway takes the node offline after
    /// three missed ones.
    #[arg(long, env = "BROWSERFARM_HEARTBEAT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600),
          value_name = "SECS", help_heading = FARM)]
    pub heartbeat_secs: u64,

    /// Labels for job placement, e.g. region=eu,kind=pi.
    #[arg(long, env = "BROWSERFARM_TAGS", value_delimiter = ',', value_parser = parse_tag,
          value_name = "KEY=VALUE", help_heading = FARM)]
    pub tags: Vec<(String, String)>,

    /// This node's share of the farm's load relative to others (default 1).
    #[arg(long, env = "BROWSERFARM_WEIGHT", help_heading = FARM)]
    pub weight: Option<f64>,

    /// Jobs allowed to wait for a free browser before the node answers 429.
    #[arg(long, env = "BROWSERFARM_MAX_QUEUE", default_value_t = 16,
          value_name = "N", help_heading = JOBS)]
    pub max_queue: usize,

    /// Sessions unused for this many seconds are closed.
    #[arg(long, env = "BROWSERFARM_SESSION_TTL_SECS", default_value_t = 600,
          value_name = "SECS", help_heading = JOBS)]
    pub session_ttl_secs: u64,

    /// On SIGTERM, how long in-flight jobs may finish before browsers are closed,
    /// in seconds.
    #[arg(long, env = "BROWSERFARM_DRAIN_SECS", default_value_t = 30,
          value_name = "SECS", help_heading = JOBS)]
    pub drain_secs: u64,

    #[command(flatten)]
    pub browser: BrowserArgs,

    #[command(flatten)]
    pub serve_tls: ServeTlsArgs,

    #[command(flatten)]
    pub call_tls: CallTlsArgs,
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

/// Unix mode bits; on Windows a file's readers are set by ACLs, which the
/// user profile's defaults already limit to its owner.
#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &std::path::Path) {}

#[cfg(unix)]
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

    /// Serve MCP over HTTP on this address instead of stdio: streamable HTTP at
    /// /mcp, legacy SSE at /sse + /message, health at /health. Beyond loopback
    /// requires --token.
    #[arg(long, env = "BROWSERFARM_HTTP", value_name = "ADDR", help_heading = HTTP)]
    pub http: Option<std::net::SocketAddr>,

    /// Bearer token: required from MCP clients in HTTP mode, from agents that
    /// register with --registry-listen and at /metrics; presented to farm nodes.
    #[arg(long, env = "BROWSERFARM_TOKEN", hide_env_values = true, help_heading = HTTP)]
    pub token: Option<String>,

    /// Read the bearer token from this file instead (first line, trimmed), so it
    /// stays out of the process list and the environment.
    #[arg(
        long,
        env = "BROWSERFARM_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token",
        help_heading = HTTP
    )]
    pub token_file: Option<PathBuf>,

    /// Named tokens callers may present besides --token, one `NAME TOKEN` per
    /// line (`#` comments): the name is the caller's principal in the audit
    /// log, the rate limit and session handles. Re-read when the file changes
    /// and on SIGHUP, so tokens rotate without a restart (list the old and the
    /// new, then only the new).
    #[arg(long, env = "BROWSERFARM_TOKENS_FILE", value_name = "PATH", help_heading = HTTP)]
    pub tokens_file: Option<PathBuf>,

    /// Host names (besides localhost/127.0.0.1/::1) accepted in the Host and
    /// Origin headers in HTTP mode, e.g. farm.example.org.
    #[arg(long, env = "BROWSERFARM_ALLOWED_HOSTS", value_delimiter = ',',
          value_name = "HOSTS", help_heading = HTTP)]
    pub allowed_hosts: Vec<String>,

    /// Browser origins accepted in HTTP mode besides those of allowed hosts,
    /// e.g. https://app.example.org.
    #[arg(long, env = "BROWSERFARM_ALLOWED_ORIGINS", value_delimiter = ',',
          value_name = "ORIGINS", help_heading = HTTP)]
    pub allowed_origins: Vec<String>,

    /// An MCP session (HTTP mode) idle this many seconds is closed with its
    /// browser; so is a browser session reached by handle in the embedded pool,
    /// and a session handle unused this long expires.
    #[arg(long, env = "BROWSERFARM_SESSION_IDLE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..),
          value_name = "SECS", help_heading = HTTP)]
    pub session_idle_secs: u64,

    /// Sign session handles with the key in this file (16 bytes or more, e.g.
    /// `head -c 32 /dev/urandom | base64`). Gateway replicas of one farm share
    /// it, so each can continue the others' browser sessions; without it, a
    /// random key is made at start and handles end with the process.
    #[arg(long, env = "BROWSERFARM_SESSION_KEY_FILE", value_name = "PATH",
          help_heading = HTTP)]
    pub session_key_file: Option<PathBuf>,

    /// HTTP mode: most MCP sessions one client address may hold open at once
    /// (streamable HTTP and SSE); 0 for no limit. Further sessions are refused
    /// with 429 until one closes or expires. Default: 16 when listening beyond
    /// loopback, no limit on loopback (local tools open many short sessions).
    #[arg(long, env = "BROWSERFARM_MAX_SESSIONS_PER_CLIENT", value_name = "N",
          help_heading = HTTP)]
    pub max_sessions_per_client: Option<usize>,

    /// HTTP mode: browser sessions outlive the MCP connection (2025-11-25
    /// streamable HTTP, legacy SSE) that opened them, so clients that connect
    /// anew for every call (LangChain's default) keep their browser through
    /// the handle their results show; such a session ends after
    /// --session-idle-secs unused. At most this many are kept per client
    /// (token name, else address); past that the least recently used is
    /// closed, and its next use says so.
    #[arg(long, env = "BROWSERFARM_MAX_DETACHED_SESSIONS",
          default_value_t = browserfarm_mcp::DEFAULT_MAX_DETACHED,
          value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize),
          value_name = "N", help_heading = HTTP)]
    pub max_detached_sessions: usize,

    /// Farm node to send jobs to (repeatable; env: comma separated). Without
    /// nodes, jobs run on the embedded Chromium pool.
    #[arg(
        long = "node",
        env = "BROWSERFARM_NODES",
        value_delimiter = ',',
        value_name = "URL",
        help_heading = FARM
    )]
    pub nodes: Vec<String>,

    /// Farm config file (TOML) with nodes and their tokens, weights and tags;
    /// see README "Farm config file".
    #[arg(long, env = "BROWSERFARM_CONFIG", value_name = "FILE", help_heading = FARM)]
    pub config: Option<PathBuf>,

    /// Take farm nodes from DNS: every address HOST resolves to is a node at
    /// http://IP:PORT (a Kubernetes headless Service resolves to its ready pods),
    /// looked up again every --nodes-dns-interval-secs; nodes whose address left
    /// DNS leave the farm, a failed lookup keeps the known ones. They get --token.
    /// With https://HOST:PORT they are https://IP:PORT, their certificates
    /// checked for HOST.
    #[arg(long, env = "BROWSERFARM_NODES_DNS", value_name = "[https://]HOST:PORT",
          value_parser = parse_dns_name, help_heading = FARM)]
    pub nodes_dns: Option<DnsName>,

    /// Seconds between DNS lookups of --nodes-dns.
    #[arg(long, env = "BROWSERFARM_NODES_DNS_INTERVAL_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600),
          value_name = "SECS", help_heading = FARM)]
    pub nodes_dns_interval_secs: u64,

    /// Accept agent self-registration (`agent --register-with`) on this address:
    /// POST/DELETE /v1/nodes, GET /v1/farm. Beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_REGISTRY_LISTEN", value_name = "ADDR", help_heading = FARM)]
    pub registry_listen: Option<std::net::SocketAddr>,

    /// Also run jobs on this machine's embedded pool when farm nodes exist
    /// (`--local-pool=false` to send everything to the nodes). Default: true.
    #[arg(long, env = "BROWSERFARM_LOCAL_POOL", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true", help_heading = FARM)]
    pub local_pool: Option<bool>,

    /// Labels of the embedded pool for jobs' node_tags, e.g. region=eu.
    #[arg(long, env = "BROWSERFARM_LOCAL_TAGS", value_delimiter = ',', value_parser = parse_tag,
          value_name = "KEY=VALUE", help_heading = FARM)]
    pub local_tags: Vec<(String, String)>,

    /// How often each node's /health is checked, in milliseconds.
    #[arg(long, env = "BROWSERFARM_HEALTH_INTERVAL_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(100..),
          value_name = "MS", help_heading = FARM)]
    pub health_interval_ms: u64,

    /// Consecutive failures that open a node's circuit breaker.
    #[arg(long, env = "BROWSERFARM_BREAKER_FAILURES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..),
          value_name = "N", help_heading = FARM)]
    pub breaker_failures: u32,

    /// Seconds an open breaker waits before letting one probe call through.
    #[arg(long, env = "BROWSERFARM_BREAKER_OPEN_SECS", default_value_t = 60,
          value_name = "SECS", help_heading = FARM)]
    pub breaker_open_secs: u64,

    /// Most jobs waiting for a free browser at the gateway; more are refused.
    #[arg(long, env = "BROWSERFARM_GATEWAY_MAX_QUEUE", default_value_t = 1000,
          value_name = "N", help_heading = CALLS)]
    pub max_queue: usize,

    /// Longest a job waits in the gateway queue, in seconds.
    #[arg(long, env = "BROWSERFARM_QUEUE_WAIT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..),
          value_name = "SECS", help_heading = CALLS)]
    pub queue_wait_secs: u64,

    /// Most one-off reads (batch_scrape pages, calls without a session) loading
    /// pages of one target host at once through this gateway, across batches
    /// and nodes (politeness toward the sites read); 0 means no limit. Waiting
    /// reads hold no browser; sessions' own navigations are never held.
    #[arg(long, env = "BROWSERFARM_MAX_PER_HOST",
          default_value_t = browserfarm_gateway::DEFAULT_MAX_PER_HOST,
          value_name = "N", help_heading = CALLS)]
    pub max_per_host: usize,

    /// Tool calls per second one client may make (batch_scrape pages are paced
    /// to it): over HTTP a client is its token's principal, or its address
    /// without a token, across all its sessions; 0 means unlimited.
    #[arg(long, env = "BROWSERFARM_RATE_LIMIT", default_value_t = 0.0,
          value_name = "PER_SEC", help_heading = CALLS)]
    pub rate_limit: f64,

    /// Calls allowed at once above the rate before limiting starts.
    #[arg(long, env = "BROWSERFARM_RATE_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..),
          value_name = "N", help_heading = CALLS)]
    pub rate_burst: u32,

    /// Most URLs one batch_scrape call may carry.
    #[arg(long, env = "BROWSERFARM_MAX_BATCH_URLS",
          default_value_t = browserfarm_protocol::MAX_BATCH_URLS,
          value_parser = clap::value_parser!(u32).range(1..=100_000).map(|v| v as usize),
          value_name = "N", help_heading = CALLS)]
    pub max_batch_urls: usize,

    /// Most characters of text one tool result may carry; longer results are cut
    /// and say so, and a batch_scrape that could exceed it is refused up front.
    #[arg(long, env = "BROWSERFARM_MAX_OUTPUT_CHARS",
          default_value_t = browserfarm_protocol::DEFAULT_MAX_OUTPUT_CHARS,
          value_parser = clap::value_parser!(u64).range(1_000..=100_000_000).map(|v| v as usize),
          value_name = "N", help_heading = CALLS)]
    pub max_output_chars: usize,

    /// Screenshots, PDFs and downloaded files larger than this many bytes are
    /// answered with a resource link (read with `resources/read`) instead of
    /// inline base64; off by default, as not every client reads links.
    #[arg(long, env = "BROWSERFARM_RESOURCE_LINKS_OVER", value_name = "BYTES",
          help_heading = CALLS)]
    pub resource_links_over: Option<usize>,

    /// Which tool groups to list, a comma list: "browsing" (navigate, read,
    /// act, tabs, logs, batch_scrape), "state" (cookies, storage_state,
    /// emulate), "files" (pdf, downloads), "farm" (farm_status), "core" (only
    /// navigate, snapshot, click, type, press_key, select_option, fill_form,
    /// scrape, screenshot), or "all". Every listed tool costs a model context
    /// on every turn.
    #[arg(long, env = "BROWSERFARM_TOOLS", default_value = browserfarm_mcp::DEFAULT_TOOLS,
          value_name = "GROUPS", help_heading = CALLS)]
    pub tools: String,

    /// Largest accepted JSON-RPC message (stdin line or HTTP body), in bytes.
    #[arg(long, env = "BROWSERFARM_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024,
          value_name = "BYTES", help_heading = CALLS)]
    pub max_message_bytes: usize,

    /// On SIGTERM or SIGINT, how long running tool calls may finish, in seconds.
    /// New calls are refused at once; calls still running afterwards are answered
    /// with an error, then the browsers are closed.
    #[arg(long, env = "BROWSERFARM_SHUTDOWN_GRACE_SECS", default_value_t = 10,
          value_name = "SECS", help_heading = CALLS)]
    pub shutdown_grace_secs: u64,

    /// Keep results of one-shot reads (batch_scrape pages; scrape and screenshot
    /// with `url` and `cache: true`) and serve repeats from memory.
    #[arg(long, env = "BROWSERFARM_RESULT_CACHE", help_heading = CACHE)]
    pub result_cache: bool,

    /// How long cached page content is served, in seconds.
    #[arg(long, env = "BROWSERFARM_CACHE_CONTENT_TTL_SECS", default_value_t = 300,
          value_name = "SECS", help_heading = CACHE)]
    pub cache_content_ttl_secs: u64,

    /// How long cached screenshots are served, in seconds.
    #[arg(long, env = "BROWSERFARM_CACHE_SCREENSHOT_TTL_SECS", default_value_t = 3600,
          value_name = "SECS", help_heading = CACHE)]
    pub cache_screenshot_ttl_secs: u64,

    /// Most bytes of results the cache holds; the least used go first.
    #[arg(long, env = "BROWSERFARM_CACHE_MAX_BYTES", default_value_t = 67_108_864,
          value_name = "BYTES", help_heading = CACHE)]
    pub cache_max_bytes: u64,

    /// HTTP mode: serve the live dashboard at /dashboard (nodes, recent calls,
    /// totals; same Host/Origin/token rules). `--dashboard=false` turns it off.
    #[arg(long, env = "BROWSERFARM_DASHBOARD", value_name = "BOOL",
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set, help_heading = OBSERVABILITY)]
    pub dashboard: bool,

    /// Serve Prometheus metrics at GET /metrics on this address (stdio mode; in
    /// HTTP mode they are at /metrics on the --http address). Behind the token
    /// when one is set; beyond loopback requires --token.
    #[arg(long, env = "BROWSERFARM_METRICS_LISTEN", value_name = "ADDR",
          help_heading = OBSERVABILITY)]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Audit log, one JSON line per tool call: `stderr`, `off`, or a file path
    /// (appended to). Never holds page content or typed text.
    #[arg(
        long,
        env = "BROWSERFARM_AUDIT_LOG",
        default_value = "stderr",
        value_name = "stderr|off|PATH",
        help_heading = OBSERVABILITY
    )]
    pub audit_log: String,

    #[command(flatten)]
    pub serve_tls: ServeTlsArgs,

    #[command(flatten)]
    pub call_tls: CallTlsArgs,
}

// The embedded browser pool's settings, shared by `mcp`, `agent` and `doctor`. A
// plain comment, not a doc comment: clap would make that the about of every command
// that flattens this.
#[derive(Debug, Args, Clone)]
pub struct BrowserArgs {
    /// Chromium executable. Default: first of chromium, chromium-browser,
    /// google-chrome, google-chrome-stable on PATH.
    #[arg(long, env = "BROWSERFARM_CHROME", value_name = "PATH", help_heading = POOL)]
    pub chrome: Option<PathBuf>,

    /// Run Chromium without its sandbox (always the case as root, where Chromium
    /// requires it). Needed in some containers.
    #[arg(long, env = "BROWSERFARM_NO_SANDBOX", help_heading = POOL)]
    pub no_sandbox: bool,

    /// Chromium processes kept running even when idle.
    #[arg(long, env = "BROWSERFARM_MIN_BROWSERS", default_value_t = 1,
          value_name = "N", help_heading = POOL)]
    pub min_browsers: usize,

    /// Most Chromium processes at once, sessions and one-off jobs together.
    /// Sessions share them (see --sessions-per-browser); a one-off job, or a
    /// batch's pages, use one of their own. Processes start only when needed.
    /// Default: enough for --max-sessions, at least 2.
    #[arg(long, env = "BROWSERFARM_MAX_BROWSERS",
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from),
          value_name = "N", help_heading = POOL)]
    pub max_browsers: Option<usize>,

    /// Most browser sessions (isolated incognito contexts) in one Chromium
    /// process; a crash of one process ends only its own sessions.
    #[arg(long, env = "BROWSERFARM_SESSIONS_PER_BROWSER",
          default_value_t = browserfarm_browser::DEFAULT_SESSIONS_PER_BROWSER,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from),
          value_name = "N", help_heading = POOL)]
    pub sessions_per_browser: usize,

    /// Most browser sessions open at once. Default: what the machine's memory
    /// (or its cgroup limit) holds above --min-free-memory-mib, at 64 MiB a
    /// session, at most 1024; `browserfarm doctor` prints it.
    #[arg(long, env = "BROWSERFARM_MAX_SESSIONS",
          value_parser = clap::value_parser!(u32).range(1..=65_536).map(|v| v as usize),
          value_name = "N", help_heading = POOL)]
    pub max_sessions: Option<usize>,

    /// New sessions are refused while the machine (or its cgroup) has less free
    /// memory than this, in MiB, before it swaps or its OOM killer acts; 0 never
    /// refuses. Default: a twentieth of the memory, at least 512.
    #[arg(long, env = "BROWSERFARM_MIN_FREE_MEMORY_MIB",
          value_parser = clap::value_parser!(u64).range(0..=16_777_216),
          value_name = "MIB", help_heading = POOL)]
    pub min_free_memory_mib: Option<u64>,

    /// Most jobs run at once; more wait in the queue. Default: twice the
    /// cores, at least 8 (jobs of sessions and of a batch share browsers; a
    /// lone one-off job holds a browser of its own).
    #[arg(long, env = "BROWSERFARM_MAX_JOBS",
          value_parser = clap::value_parser!(u16).range(1..=4096).map(usize::from),
          value_name = "N", help_heading = POOL)]
    pub max_jobs: Option<usize>,

    /// A Chromium process takes no new sessions after it has served this many,
    /// and is replaced once its last one ends.
    #[arg(long, env = "BROWSERFARM_MAX_LEASES", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize),
          value_name = "N", help_heading = POOL)]
    pub max_leases: usize,

    /// Idle Chromium processes beyond --min-browsers are closed after this many seconds.
    #[arg(long, env = "BROWSERFARM_IDLE_TIMEOUT_SECS", default_value_t = 300,
          value_name = "SECS", help_heading = POOL)]
    pub idle_timeout_secs: u64,

    /// How long a call waits for a free browser before failing, in seconds.
    #[arg(long, env = "BROWSERFARM_ACQUIRE_TIMEOUT_SECS", default_value_t = 30,
          value_name = "SECS", help_heading = POOL)]
    pub acquire_timeout_secs: u64,

    /// Page-load deadline when a call gives no timeout_ms, in milliseconds.
    #[arg(long, env = "BROWSERFARM_NAVIGATION_TIMEOUT_MS",
          default_value_t = browserfarm_protocol::DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(100..=300_000),
          value_name = "MS", help_heading = PAGES)]
    pub navigation_timeout_ms: u64,

    /// How long `evaluate` scripts may run before they are stopped, in milliseconds.
    #[arg(long, env = "BROWSERFARM_SCRIPT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(10..=300_000),
          value_name = "MS", help_heading = PAGES)]
    pub script_timeout_ms: u64,

    /// Deadline for a single Chromium DevTools command, in milliseconds.
    #[arg(long, env = "BROWSERFARM_CDP_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=300_000),
          value_name = "MS", help_heading = PAGES)]
    pub cdp_timeout_ms: u64,

    /// Browser viewport in CSS pixels.
    #[arg(long, env = "BROWSERFARM_VIEWPORT", default_value = "1280x720",
          value_parser = parse_viewport, value_name = "WIDTHxHEIGHT", help_heading = PAGES)]
    pub viewport: (u32, u32),

    /// Most tabs one session may hold (popups included).
    #[arg(long, env = "BROWSERFARM_MAX_TABS", default_value_t = browserfarm_protocol::MAX_TABS,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from),
          value_name = "N", help_heading = PAGES)]
    pub max_tabs: usize,

    /// Let pages open popups and windows: script-opened ones are allowed, and a
    /// popup becomes a tab of the session. Off: Chromium's popup blocker stops
    /// script popups, and a popup a click opens is closed at once (the agent is
    /// told its URL).
    #[arg(long, env = "BROWSERFARM_POPUPS", help_heading = PAGES)]
    pub popups: bool,

    /// Let pages download files: each session's downloads are kept (inside the
    /// browser profile, deleted with the session) and readable with the
    /// downloads tool. Off: downloads are refused and the agent is told.
    #[arg(long, env = "BROWSERFARM_DOWNLOADS", help_heading = PAGES)]
    pub downloads: bool,

    /// Make reads load whole pages and wait for the load event, as screenshots
    /// do. By default a read without a session skips images, media, fonts and
    /// frames (no text changes), and reads return once the content is ready:
    /// HTML parsed, the page's data requests answered, the DOM settled.
    #[arg(long, env = "BROWSERFARM_FULL_READS", help_heading = PAGES)]
    pub full_reads: bool,

    /// Show what each action changed on the page in its result: the lines of
    /// the snapshot that appeared, went or changed, up to 2 KB, or the new
    /// page's outline after a navigation (`--show-changes=false`: actions
    /// answer with the page line only). Default: true.
    #[arg(long, env = "BROWSERFARM_SHOW_CHANGES", value_name = "BOOL",
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set, help_heading = PAGES)]
    pub show_changes: bool,

    /// Block ads and trackers with this filter list (Adblock Plus syntax, as
    /// EasyList, EasyPrivacy or uBlock Origin's lists); repeat for several.
    /// Blocked requests fail inside Chromium and show in network_requests.
    /// No list ships with browserfarm; off without one.
    #[arg(long, env = "BROWSERFARM_BLOCK_LIST", value_name = "FILE",
          value_delimiter = ',', help_heading = PAGES)]
    pub block_list: Vec<PathBuf>,

    /// Largest file one download may grow to, in bytes; larger ones are cancelled.
    #[arg(long, env = "BROWSERFARM_MAX_DOWNLOAD_BYTES",
          default_value_t = browserfarm_browser::DEFAULT_MAX_DOWNLOAD_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000),
          value_name = "BYTES", help_heading = PAGES)]
    pub max_download_bytes: u64,

    /// Directory the upload_file tool may take files from (by name, nothing
    /// outside it). Without it, uploads are off.
    #[arg(long, env = "BROWSERFARM_UPLOAD_DIR", value_name = "DIR", help_heading = PAGES)]
    pub upload_dir: Option<PathBuf>,

    /// Largest screenshot returned, in bytes. Larger captures are re-encoded as
    /// JPEG and scaled down until they fit, and the result says so.
    #[arg(long, env = "BROWSERFARM_SCREENSHOT_MAX_BYTES",
          default_value_t = browserfarm_browser::DEFAULT_SCREENSHOT_MAX_BYTES,
          value_parser = clap::value_parser!(u64).range(10_000..=50_000_000).map(|v| v as usize),
          value_name = "BYTES", help_heading = PAGES)]
    pub screenshot_max_bytes: usize,

    /// Hosts pages may reach at all, as globs (`example.com,*.example.com`):
    /// navigations, redirects and every subresource. Default: any host. (Not to
    /// be confused with --allowed-hosts, the Host headers HTTP mode accepts.)
    #[arg(
        long,
        env = "BROWSERFARM_ALLOW_HOSTS",
        value_delimiter = ',',
        value_name = "GLOBS",
        help_heading = NETWORK
    )]
    pub allow_hosts: Vec<String>,

    /// Hosts pages may never reach, as globs; checked before --allow-hosts.
    #[arg(
        long,
        env = "BROWSERFARM_BLOCK_HOSTS",
        value_delimiter = ',',
        value_name = "GLOBS",
        help_heading = NETWORK
    )]
    pub block_hosts: Vec<String>,

    /// Keep pages off loopback, private (RFC 1918, unique-local) and link-local
    /// addresses (cloud metadata included), checked after DNS resolution. Default:
    /// off for `mcp` (developers browse localhost), on for an agent listening
    /// beyond loopback.
    #[arg(long, env = "BROWSERFARM_BLOCK_PRIVATE_NETWORKS", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true", help_heading = NETWORK)]
    pub block_private_networks: Option<bool>,
}

/// Limits derived together, since the defaults of each follow the others.
struct Capacity {
    max_sessions: usize,
    max_browsers: usize,
    min_free_memory: u64,
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
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.max_jobs.unwrap_or(2 * cores.max(4))
    }

    /// The session and process limits: as given, or sized for the machine.
    fn capacity(&self) -> Capacity {
        let memory = browserfarm_browser::Memory::read();
        let max_sessions = self
            .max_sessions
            .unwrap_or_else(|| browserfarm_browser::default_max_sessions(memory));
        Capacity {
            max_sessions,
            max_browsers: self.max_browsers.unwrap_or_else(|| {
                browserfarm_browser::default_max_browsers(max_sessions, self.sessions_per_browser)
            }),
            min_free_memory: self.min_free_memory_mib.map_or_else(
                || browserfarm_browser::default_reserve(memory),
                |mib| mib * 1024 * 1024,
            ),
        }
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
    /// when it is not given (see [`BrowserArgs::host_policy`]). Fails only on a
    /// block list that cannot be read.
    pub fn pool_config(&self, private_by_default: bool) -> anyhow::Result<PoolConfig> {
        let capacity = self.capacity();
        let mut gate = browserfarm_browser::Gate::new(self.host_policy(private_by_default));
        if !self.block_list.is_empty() {
            let list = browserfarm_browser::BlockList::from_files(&self.block_list)?;
            tracing::info!(rules = list.rules(), "block list loaded");
            gate = gate.with_block_list(std::sync::Arc::new(list));
        }
        Ok(PoolConfig {
            chrome: self.chrome.clone(),
            min_browsers: self.min_browsers.min(capacity.max_browsers),
            max_browsers: capacity.max_browsers,
            sessions_per_browser: self.sessions_per_browser,
            max_sessions: capacity.max_sessions,
            min_free_memory: capacity.min_free_memory,
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
            full_reads: self.full_reads,
            show_changes: self.show_changes,
            popups: self.popups,
            max_tabs: self.max_tabs,
            gate: Some(std::sync::Arc::new(gate)),
        })
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

    /// What `browserfarm ARGS` prints, e.g. `help_of(&["mcp", "--help"])`.
    fn help_of(args: &[&str]) -> String {
        let err = Cli::try_parse_from(std::iter::once("browserfarm").chain(args.iter().copied()))
            .expect_err("help is printed through clap's error path");
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
        err.render().to_string()
    }

    /// The argument lists that print every command's help, the top level included:
    /// `["--help"]`, `["mcp", "-h"]`, ...
    fn every_help_request() -> Vec<Vec<String>> {
        fn walk(path: Vec<String>, cmd: &clap::Command, out: &mut Vec<Vec<String>>) {
            for flag in ["-h", "--help"] {
                out.push(path.iter().cloned().chain([flag.to_owned()]).collect());
            }
            for sub in cmd.get_subcommands() {
                let mut path = path.clone();
                path.push(sub.get_name().to_owned());
                walk(path, sub, out);
            }
        }
        let mut out = Vec::new();
        walk(Vec::new(), &Cli::command(), &mut out);
        out
    }

    #[test]
    fn top_level_help_lists_each_command_with_a_sentence() {
        let help = help_of(&["--help"]);
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let about = sub
                .get_about()
                .expect("every command has an about")
                .to_string();
            assert!(
                about.starts_with(char::is_uppercase) && about.ends_with('.'),
                "the about of `{}` is not a sentence: {about:?}",
                sub.get_name()
            );
            let listed = help
                .lines()
                .any(|l| l.trim_start().starts_with(sub.get_name()) && l.ends_with(&about));
            assert!(
                listed,
                "`{}` is not listed with {about:?} in:\n{help}",
                sub.get_name()
            );
        }
    }

    #[test]
    fn no_help_text_speaks_of_the_implementation() {
        // Words from Rust or clap, which mean nothing to someone running the binary.
        const CODE_WORDS: &[&str] = &[
            "boxed",
            "variant",
            "variants",
            "struct",
            "enum",
            "clap",
            "derive",
            "flatten",
            "flattened",
            "impl",
            "todo",
            "fixme",
        ];
        let requests = every_help_request();
        assert_eq!(requests.len(), 2 * 5, "the top level and four commands");
        for args in requests {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let help = help_of(&args);
            for word in help.split(|c: char| !c.is_alphanumeric()) {
                assert!(
                    !CODE_WORDS.contains(&word.to_lowercase().as_str()),
                    "`browserfarm {}` speaks of the code ({word:?}):\n{help}",
                    args.join(" ")
                );
            }
        }
    }

    #[test]
    fn every_flag_is_explained_in_words_for_users() {
        let cli = Cli::command();
        for cmd in cli.get_subcommands() {
            for arg in cmd.get_arguments() {
                let help = arg.get_help().map(ToString::to_string);
                assert!(
                    help.as_deref()
                        .is_some_and(|h| h.starts_with(char::is_uppercase)),
                    "`{} --{}` has no help starting with a capital letter: {help:?}",
                    cmd.get_name(),
                    arg.get_id()
                );
            }
        }
    }

    /// The headings of a help text, in order (clap prints each as `Heading:`).
    fn headings(help: &str) -> Vec<&str> {
        help.lines()
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.strip_suffix(':'))
            .collect()
    }

    const HEADINGS: &[&str] = &[
        POOL,
        PAGES,
        NETWORK,
        HTTP,
        FARM,
        CALLS,
        JOBS,
        CACHE,
        OBSERVABILITY,
        TLS,
    ];

    #[test]
    fn mcp_and_agent_help_group_their_flags_under_headings() {
        let mcp: &[&str] = &[
            "Options",
            POOL,
            PAGES,
            NETWORK,
            HTTP,
            FARM,
            CALLS,
            CACHE,
            OBSERVABILITY,
            TLS,
        ];
        let agent: &[&str] = &["Options", HTTP, FARM, JOBS, POOL, PAGES, NETWORK, TLS];
        let doctor: &[&str] = &["Options", POOL, PAGES, NETWORK];
        let cases: [(&[&str], &[&str]); 5] = [
            (&["mcp", "--help"], mcp),
            (&["mcp", "-h"], mcp),
            (&["agent", "--help"], agent),
            (&["agent", "-h"], agent),
            (&["doctor", "--help"], doctor),
        ];
        for (args, expected) in cases {
            let help = help_of(args);
            assert_eq!(headings(&help), expected, "{args:?}:\n{help}");
        }
    }

    #[test]
    fn every_flag_of_mcp_agent_and_doctor_has_a_heading_and_a_shared_flag_the_same_one() {
        let cli = Cli::command();
        // A flag is shared when it has the same name and variable: `--max-queue` of
        // `mcp` (the gateway's queue) and of `agent` are different settings.
        let mut heading_of = std::collections::HashMap::new();
        for name in ["mcp", "agent", "doctor"] {
            let cmd = cli.find_subcommand(name).unwrap();
            for arg in cmd.get_arguments() {
                let flag = arg.get_long().expect("every setting is a long flag");
                let heading = arg.get_help_heading();
                assert!(
                    heading.is_some_and(|h| HEADINGS.contains(&h)),
                    "`{name} --{flag}` is not under a heading"
                );
                let setting = (flag, arg.get_env().map(|e| e.to_owned()));
                if let Some((other, before)) = heading_of.insert(setting, (name, heading)) {
                    assert_eq!(
                        before, heading,
                        "`--{flag}` is under another heading in `{name}` than in `{other}`"
                    );
                }
            }
        }
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
    fn an_agent_registers_with_each_gateway_given() {
        let gateways = |extra: &[&str]| match Cli::try_parse_from(
            ["browserfarm", "agent"].iter().chain(extra),
        )
        .unwrap()
        .command
        {
            Command::Agent(args) => args.register_with,
            other => panic!("parsed as {other:?}"),
        };
        assert!(gateways(&[]).is_empty());
        assert_eq!(
            gateways(&["--register-with", "http://a:9300"]),
            ["http://a:9300"]
        );
        assert_eq!(
            gateways(&[
                "--register-with",
                "http://a:9300,http://b:9300",
                "--register-with",
                "http://c:9300"
            ]),
            ["http://a:9300", "http://b:9300", "http://c:9300"]
        );
    }

    #[test]
    fn viewport_parsing() {
        assert_eq!(parse_viewport("800x600"), Ok((800, 600)));
        assert!(parse_viewport("800").is_err());
        assert!(parse_viewport("10x10").is_err());
    }
}
