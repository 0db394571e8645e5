//! The MCP server: tool declarations and the call pipeline (placement and
//! session arguments, rate limit, cache, audit, metrics, rendering) of one
//! connection. Which browser session a call runs in is `session.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use browserfarm_gateway::{Executor, run_batch};
use browserfarm_metrics as metrics;
use browserfarm_protocol::{
    BatchScrapeArgs, ClickArgs, CloseSessionArgs, ConsoleMessagesArgs, CookiesArgs,
    DEFAULT_BATCH_MAX_CHARS, DEFAULT_EVALUATE_CHARS, DownloadsArgs, ElementTarget, EmulateArgs,
    ErrorKind, EvaluateArgs, FarmStatusArgs, FillFormArgs, HandleDialogArgs, HoverArgs, Job,
    JobError, JobOutput, NavigateArgs, NetworkRequestsArgs, Operation, PdfArgs, PressKeyArgs,
    ScrapeArgs, ScreenshotArgs, ScrollArgs, SelectOptionArgs, SessionId, SnapshotArgs,
    StorageStateArgs, TabsArgs, TypeArgs, UploadFileArgs, WaitForArgs,
};
use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ProgressNotificationParam};
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::model::{ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};

use crate::activity::Activity;
use crate::arguments::{
    Answered, CACHEABLE_TOOLS, NO_JOB_TOOLS, PLACED_TOOLS, Placement, SESSIONLESS_TOOLS,
    add_cache_schema, add_placement_schema, add_session_schema, check_arguments, stands_alone,
    take_placement, take_session,
};
use crate::audit::{AuditEntry, AuditLog, host_of, now_rfc3339};
use crate::cache::ResultCache;
use crate::handle::Handles;
use crate::instructions::INSTRUCTIONS;
use crate::rate::{RateLimit, TokenBucket};
use crate::render::{self, Action};
use crate::resources::ResourceStore;
use crate::session::{self, ConnectionSession, Sessions};
use crate::toolset::Toolset;

/// How long a handle stays valid after its last call, and a session opened
/// for a call that stands alone idles before it is closed, unless the
/// transport sets its own (`--session-idle-secs` in HTTP mode).
pub const DEFAULT_HANDLE_TTL: Duration = Duration::from_secs(300);

tokio::task_local! {
    /// The placement of the tool call being handled (set around the tool's future,
    /// so the typed tool handlers need not repeat the fields).
    static PLACEMENT: Placement;
}

/// One MCP connection. Cheap to clone; clones share the connection's session.
#[derive(Clone)]
pub struct BrowserfarmServer {
    executor: Arc<dyn Executor>,
    sessions: Sessions,
    tool_router: ToolRouter<Self>,
    /// This client's calls (`--rate-limit`); `None` when unlimited.
    bucket: Option<Arc<std::sync::Mutex<TokenBucket>>>,
    audit: Option<Arc<AuditLog>>,
    /// The dashboard's ring of recent calls (HTTP mode).
    activity: Option<Activity>,
    cache: Option<Arc<ResultCache>>,
    drain: crate::Drain,
    max_batch_urls: usize,
    /// Most characters of text one tool result may carry (`--max-output-chars`).
    max_output_chars: usize,
    /// Counts this session against its client (HTTP mode).
    client_slot: Option<Arc<crate::http::ClientSlot>>,
    /// Holds large binary results for `resources/read` (`--resource-links-over`).
    links: Option<Arc<ResourceStore>>,
    /// The tool groups listed, to name the one a refused call needs.
    toolset: Toolset,
}

impl BrowserfarmServer {
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        let mut tool_router = Self::tool_router();
        let placement = executor.offers_placement();
        for (name, route) in tool_router.map.iter_mut() {
            let mut schema = (*route.attr.input_schema).clone();
            if placement && PLACED_TOOLS.contains(&name.as_ref()) {
                add_placement_schema(&mut schema);
            }
            if !SESSIONLESS_TOOLS.contains(&name.as_ref()) {
                add_session_schema(&mut schema);
            }
            crate::schema::compact(&mut schema);
            route.attr.input_schema = Arc::new(schema);
            route.attr.output_schema = crate::structured::output_schema(name).map(Arc::new);
        }
        BrowserfarmServer {
            sessions: Sessions {
                executor: executor.clone(),
                connection: Arc::new(ConnectionSession::new(executor.clone(), None)),
                handles: Handles::shared_default(),
                principal: None,
            },
            executor,
            tool_router,
            bucket: None,
            audit: None,
            activity: None,
            cache: None,
            drain: crate::Drain::new(),
            max_batch_urls: browserfarm_protocol::MAX_BATCH_URLS,
            max_output_chars: browserfarm_protocol::DEFAULT_MAX_OUTPUT_CHARS,
            client_slot: None,
            links: None,
            toolset: Toolset::all(),
        }
    }

    /// Signs and opens session handles with `handles` (shared by every
    /// connection, and with the farm's other gateways through its key).
    pub fn with_handles(mut self, handles: Arc<Handles>) -> Self {
        self.sessions.handles = handles;
        self
    }

    /// Binds the handles this connection mints to `principal` and accepts only
    /// handles bound to it.
    pub fn with_principal(mut self, principal: Option<String>) -> Self {
        self.sessions.principal = principal;
        self
    }

    /// Over HTTP: the connection's session outlives the connection, kept in
    /// `detached` for `client` and ending by idling past `idle` (see
    /// `session.rs`). Call before the first tool call.
    pub(crate) fn with_detached(
        mut self,
        detached: Arc<session::Detached>,
        client: String,
        idle: Duration,
    ) -> Self {
        let detach = session::Detach {
            detached,
            client,
            idle,
        };
        self.sessions.connection =
            Arc::new(ConnectionSession::new(self.executor.clone(), Some(detach)));
        self
    }

    pub(crate) fn with_client_slot(mut self, slot: Option<crate::http::ClientSlot>) -> Self {
        self.client_slot = slot.map(Arc::new);
        self
    }

    /// Lists (and serves) only the tools of `toolset` (`--tools`); a call to
    /// another is refused, naming the group that has it.
    pub fn with_toolset(mut self, toolset: &Toolset) -> Self {
        self.tool_router
            .map
            .retain(|name, _| toolset.lists(name.as_ref()));
        self.toolset = toolset.clone();
        self
    }

    /// Most URLs one batch_scrape call may carry (`--max-batch-urls`).
    pub fn with_max_batch_urls(mut self, max: usize) -> Self {
        self.max_batch_urls = max.max(1);
        self
    }

    /// Answers large screenshots, PDFs and files with links into `links`.
    pub fn with_resource_links(mut self, links: Option<Arc<ResourceStore>>) -> Self {
        self.links = links;
        self
    }

    /// Most characters of text one tool result may carry (`--max-output-chars`).
    pub fn with_max_output_chars(mut self, max: usize) -> Self {
        self.max_output_chars = max.max(1);
        self
    }

    /// Answers calls in the way `drain` says while the server stops.
    pub fn with_drain(mut self, drain: crate::Drain) -> Self {
        self.drain = drain;
        self
    }

    /// Also records each finished call in `activity` (for the dashboard).
    pub fn with_activity(mut self, activity: Option<Activity>) -> Self {
        self.activity = activity;
        self
    }

    /// Serves one-shot reads from `cache` (`--result-cache`).
    pub fn with_cache(mut self, cache: Option<Arc<ResultCache>>) -> Self {
        // `cache` is listed only where it does something; without a cache the
        // argument is accepted and has no effect.
        if cache.is_some() {
            for (name, route) in self.tool_router.map.iter_mut() {
                if CACHEABLE_TOOLS.contains(&name.as_ref()) {
                    let mut schema = (*route.attr.input_schema).clone();
                    add_cache_schema(&mut schema, name.as_ref());
                    route.attr.input_schema = Arc::new(schema);
                }
            }
        }
        self.cache = cache;
        self
    }

    /// Writes one line per tool call to `audit`.
    pub fn with_audit(mut self, audit: Option<Arc<AuditLog>>) -> Self {
        self.audit = audit;
        self
    }

    /// Records a finished call in the audit log and the dashboard's activity,
    /// where there are such.
    async fn audit(
        &self,
        tool: &str,
        session: Option<&SessionId>,
        started: std::time::Instant,
        outcome: Audited<'_>,
    ) {
        if self.audit.is_none() && self.activity.is_none() {
            return;
        }
        let node = match session {
            Some(id) => self.executor.session_node(id).await,
            None => None,
        };
        self.record(&AuditEntry {
            time: now_rfc3339(),
            session: session.map(|s| s.0.clone()),
            client: Self::placement().client,
            principal: self.sessions.principal.clone(),
            tool: tool.to_owned(),
            host: outcome.url.and_then(host_of),
            node,
            status: if outcome.error.is_none() {
                "ok"
            } else {
                "error"
            },
            duration_ms: started.elapsed().as_millis() as u64,
            error_kind: outcome.error,
            text_chars: outcome.text_chars,
            urls: outcome.urls,
        });
    }

    /// Records a call the client cancelled: it never reached the tool's own
    /// audit line, yet it may have acted on a page.
    async fn audit_cancelled(
        &self,
        tool: &str,
        handle: Option<&str>,
        client: Option<String>,
        started: std::time::Instant,
    ) {
        if self.audit.is_none() && self.activity.is_none() {
            return;
        }
        let session = match handle {
            Some(handle) => self.sessions.open_handle(handle).ok(),
            None => self.sessions.connection.current().await,
        };
        let node = match &session {
            Some(id) => self.executor.session_node(id).await,
            None => None,
        };
        self.record(&AuditEntry {
            time: now_rfc3339(),
            session: session.map(|s| s.0),
            client,
            principal: self.sessions.principal.clone(),
            tool: tool.to_owned(),
            host: None,
            node,
            status: "cancelled",
            duration_ms: started.elapsed().as_millis() as u64,
            error_kind: None,
            text_chars: None,
            urls: None,
        });
    }

    fn record(&self, entry: &AuditEntry) {
        if let Some(principal) = &entry.principal {
            metrics::principal_call(principal);
        }
        if let Some(log) = &self.audit {
            log.record(entry);
        }
        if let Some(activity) = &self.activity {
            activity.record(entry);
        }
    }

    /// Limits this connection's tool calls (and batch_scrape's pages) to a token
    /// bucket.
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.bucket = limit.map(|l| Arc::new(std::sync::Mutex::new(TokenBucket::new(l))));
        self
    }

    /// Takes this connection's calls from `bucket`, shared with the client's
    /// other sessions (HTTP mode).
    pub(crate) fn with_bucket(mut self, bucket: Option<crate::rate::SharedBucket>) -> Self {
        self.bucket = bucket;
        self
    }

    /// Takes a token, or says how long until one is due and what the limit is.
    fn take_token(&self) -> Result<(), (std::time::Duration, RateLimit)> {
        match &self.bucket {
            Some(bucket) => {
                let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
                bucket.try_take().map_err(|wait| (wait, bucket.limit()))
            }
            None => Ok(()),
        }
    }

    /// Waits for a token: batch pages are paced rather than refused.
    async fn pace(&self) {
        while let Err((wait, _)) = self.take_token() {
            tokio::time::sleep(wait).await;
        }
    }

    fn placement() -> Placement {
        PLACEMENT.try_with(Placement::clone).unwrap_or_default()
    }

    /// Closes this connection's browser session, if one was opened.
    pub async fn close_session(&self) {
        self.sessions.connection.close().await;
    }

    /// A one-shot job's result from the cache, or run and kept.
    async fn run_cached(
        &self,
        cache: &ResultCache,
        key: String,
        job: Job,
    ) -> Result<JobOutput, JobError> {
        if let Some(output) = cache.get(&key) {
            return Ok(output);
        }
        let result = self.executor.run(job).await;
        if let Ok(output) = &result {
            cache.put(key, output);
        }
        result
    }

    /// Runs `operation` in the session the call names (see `session.rs`);
    /// notes the session's handle for the result.
    async fn run_in_session(
        &self,
        operation: Operation,
        placement: &Placement,
    ) -> (Option<SessionId>, Result<JobOutput, JobError>) {
        let resolved = match self
            .sessions
            .resolve(
                &placement.session,
                &placement.node_tags,
                &placement.prefer_tags,
            )
            .await
        {
            Ok(resolved) => resolved,
            Err(e) => return (None, Err(e)),
        };
        let job = Job::new(Some(resolved.id.clone()), operation)
            .with_placement(placement.node_tags.clone(), placement.priority)
            .preferring(placement.prefer_tags.clone());
        let mut result = self.executor.run(job).await;
        if resolved.by_handle {
            result = result.map_err(|e| self.sessions.gone(&resolved.id, e));
        }
        let presented = placement
            .session
            .handle
            .as_deref()
            .filter(|h| *h != session::NEW);
        if let Some(handle) = self.sessions.handle_for(&resolved.id, presented).await {
            *placement.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Answered {
                handle,
                in_text: resolved.shown,
            });
        }
        (Some(resolved.id), result)
    }

    async fn call(&self, operation: Operation, action: Action) -> CallToolResult {
        let tool = operation.name();
        let started = std::time::Instant::now();
        let placement = Self::placement();
        let requested = operation.url().map(str::to_owned);
        let cache = self
            .cache
            .as_ref()
            .filter(|_| placement.cache == Some(true));
        let (session, result) = match cache.zip(ResultCache::key(&operation, &placement.node_tags))
        {
            // A cached call runs without the session (see `cache.rs`).
            Some((cache, key)) => {
                let job = Job::new(None, operation)
                    .with_placement(placement.node_tags.clone(), placement.priority)
                    .preferring(placement.prefer_tags.clone());
                (None, self.run_cached(cache, key, job).await)
            }
            None => self.run_in_session(operation, &placement).await,
        };
        let text_chars = match &action {
            Action::Type { chars, .. } => Some(*chars),
            _ => None,
        };
        let outcome = Audited {
            url: requested.as_deref().or_else(|| {
                result
                    .as_ref()
                    .ok()
                    .and_then(|o| o.page().map(|p| p.url.as_str()))
            }),
            error: result.as_ref().err().map(|e| e.kind),
            text_chars,
            urls: None,
        };
        self.audit(tool, session.as_ref(), started, outcome).await;
        record_call(tool, &result, started.elapsed());
        match result {
            Ok(output) => {
                tracing::info!(tool, elapsed = ?started.elapsed(), "tool call ok");
                let structured = crate::structured::of(&output);
                let mut result = render::success(output, action);
                result.structured_content = structured;
                result
            }
            Err(e) => {
                tracing::info!(tool, elapsed = ?started.elapsed(), kind = ?e.kind, "tool call failed: {}", e.message);
                render::failure(&e)
            }
        }
    }
}

/// Counts a finished tool call, and the pages and screenshots it produced.
fn record_call(tool: &'static str, result: &Result<JobOutput, JobError>, elapsed: Duration) {
    metrics::tool_call(tool, result.as_ref().err().map(|e| e.kind), elapsed);
    match result {
        Ok(JobOutput::Scraped(_)) => metrics::page_scraped(),
        Ok(JobOutput::Screenshot { .. }) => metrics::screenshot_taken(),
        _ => {}
    }
}

/// What the audit log records of a call besides tool, session and timing.
struct Audited<'a> {
    url: Option<&'a str>,
    error: Option<ErrorKind>,
    text_chars: Option<usize>,
    urls: Option<usize>,
}

/// How results name the element a call addressed.
fn describe_target(element: &Option<String>, selector: &Option<String>) -> String {
    ElementTarget::from_args(element.as_deref(), selector.as_deref())
        .map(|t| t.describe())
        .unwrap_or_default()
}

// Tool descriptions and annotations are listed to the model on every turn:
// each says what the tool does and what to reach for instead, once and
// briefly (the arguments' own descriptions say the rest). Hints at their MCP
// defaults (destructive, not idempotent, open world) are left out: absent
// means the same, and each would cost bytes of every list.
#[tool_router]
impl BrowserfarmServer {
    #[tool(
        description = "Open a URL (or go back, forward, reload) in this session's tab.",
        annotations(
            title = "Navigate",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn navigate(
        &self,
        Parameters(args): Parameters<NavigateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Navigate(args), Action::Other).await)
    }

    #[tool(
        description = "Image of the current page or `url`; costs many tokens (scrape reads text).",
        annotations(title = "Screenshot", read_only_hint = true)
    )]
    async fn screenshot(
        &self,
        Parameters(args): Parameters<ScreenshotArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Screenshot(args), Action::Other).await)
    }

    #[tool(
        description = "Read the current page or `url` as markdown, text, HTML or links: the cheapest read.",
        annotations(title = "Read page", read_only_hint = true)
    )]
    async fn scrape(
        &self,
        Parameters(args): Parameters<ScrapeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Scrape(args), Action::Other).await)
    }

    #[tool(
        description = "Click an element by ref or selector; waits for a page it loads, says if a tab opened.",
        annotations(title = "Click", read_only_hint = false)
    )]
    async fn click(
        &self,
        Parameters(args): Parameters<ClickArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let target = describe_target(&args.element, &args.selector);
        Ok(self
            .call(Operation::Click(args), Action::Click { target })
            .await)
    }

    #[tool(
        name = "type",
        description = "Type into a field by ref or selector (appends to its text).",
        annotations(title = "Type text", read_only_hint = false)
    )]
    async fn type_text(
        &self,
        Parameters(args): Parameters<TypeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let target = describe_target(&args.element, &args.selector);
        let chars = args.text.chars().count();
        let submitted = args.submit.unwrap_or(false);
        let action = Action::Type {
            target,
            chars,
            submitted,
        };
        Ok(self.call(Operation::Type(args), action).await)
    }

    #[tool(
        description = "Run a JavaScript expression in the page; returns its value as JSON.",
        annotations(title = "Run JavaScript", read_only_hint = false)
    )]
    async fn evaluate(
        &self,
        Parameters(args): Parameters<EvaluateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let max_chars = args.max_chars.unwrap_or(DEFAULT_EVALUATE_CHARS);
        Ok(self
            .call(Operation::Evaluate(args), Action::Evaluate { max_chars })
            .await)
    }

    #[tool(
        description = "Outline of the page: text, links, buttons and fields, with refs (e.g. e12) to act on.",
        annotations(title = "Page outline", read_only_hint = true, open_world_hint = false)
    )]
    async fn snapshot(
        &self,
        Parameters(args): Parameters<SnapshotArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Snapshot(args), Action::Other).await)
    }

    #[tool(
        description = "Hover over an element (ref or selector), e.g. to open a menu.",
        annotations(
            title = "Hover",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn hover(
        &self,
        Parameters(args): Parameters<HoverArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Hover(args), Action::Other).await)
    }

    #[tool(
        description = "Choose options of a <select> (ref or selector) by value or label.",
        annotations(
            title = "Select option",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn select_option(
        &self,
        Parameters(args): Parameters<SelectOptionArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .call(Operation::SelectOption(args), Action::Other)
            .await)
    }

    #[tool(
        description = "Press a key or combination on the focused element; waits for a page it loads.",
        annotations(title = "Press key", read_only_hint = false)
    )]
    async fn press_key(
        &self,
        Parameters(args): Parameters<PressKeyArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::PressKey(args), Action::Other).await)
    }

    #[tool(
        description = "Scroll the page, or bring an element into view.",
        annotations(title = "Scroll", read_only_hint = false, destructive_hint = false)
    )]
    async fn scroll(
        &self,
        Parameters(args): Parameters<ScrollArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Scroll(args), Action::Other).await)
    }

    #[tool(
        description = "Set several fields by ref or selector: text, selects, checkboxes; does not submit.",
        annotations(title = "Fill form", read_only_hint = false, idempotent_hint = true)
    )]
    async fn fill_form(
        &self,
        Parameters(args): Parameters<FillFormArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let chars = args.fields.iter().map(|f| f.value.chars().count()).sum();
        let action = Action::Type {
            target: String::new(),
            chars,
            submitted: false,
        };
        Ok(self.call(Operation::FillForm(args), action).await)
    }

    #[tool(
        description = "Put files from --upload-dir into a file input (ref or selector).",
        annotations(title = "Upload file", read_only_hint = false, idempotent_hint = true)
    )]
    async fn upload_file(
        &self,
        Parameters(args): Parameters<UploadFileArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::UploadFile(args), Action::Other).await)
    }

    #[tool(
        description = "Wait for an element or a text to show, or a text to go.",
        annotations(title = "Wait for", read_only_hint = true, open_world_hint = false)
    )]
    async fn wait_for(
        &self,
        Parameters(args): Parameters<WaitForArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::WaitFor(args), Action::Other).await)
    }

    #[tool(
        description = "List, open, select or close this session's tabs; other tools act on the current one.",
        annotations(title = "Tabs", read_only_hint = false, destructive_hint = false)
    )]
    async fn tabs(
        &self,
        Parameters(args): Parameters<TabsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Tabs(args), Action::Other).await)
    }

    #[tool(
        description = "Get, set or clear this session's cookies.",
        annotations(title = "Cookies", read_only_hint = false, open_world_hint = false)
    )]
    async fn cookies(
        &self,
        Parameters(args): Parameters<CookiesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Cookies(args), Action::Other).await)
    }

    #[tool(
        description = "Export cookies and localStorage, or import an export to start logged in.",
        annotations(
            title = "Login state",
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn storage_state(
        &self,
        Parameters(args): Parameters<StorageStateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .call(Operation::StorageState(args), Action::Other)
            .await)
    }

    #[tool(
        description = "Emulate a device, viewport, user agent, colour scheme or locale.",
        annotations(
            title = "Emulate device",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn emulate(
        &self,
        Parameters(args): Parameters<EmulateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Emulate(args), Action::Other).await)
    }

    #[tool(
        description = "Set how the next alert, confirm or prompt is answered; call before the action.",
        annotations(
            title = "Handle dialog",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn handle_dialog(
        &self,
        Parameters(args): Parameters<HandleDialogArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .call(Operation::HandleDialog(args), Action::Other)
            .await)
    }

    #[tool(
        description = "The current tab's console messages and uncaught errors, oldest first.",
        annotations(title = "Console", read_only_hint = true, open_world_hint = false)
    )]
    async fn console_messages(
        &self,
        Parameters(args): Parameters<ConsoleMessagesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .call(Operation::ConsoleMessages(args), Action::Other)
            .await)
    }

    #[tool(
        description = "The current tab's requests (method, status, URL), oldest first.",
        annotations(title = "Network", read_only_hint = true, open_world_hint = false)
    )]
    async fn network_requests(
        &self,
        Parameters(args): Parameters<NetworkRequestsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .call(Operation::NetworkRequests(args), Action::Other)
            .await)
    }

    #[tool(
        description = "Print the current page or `url` to PDF (an embedded resource).",
        annotations(title = "PDF", read_only_hint = true)
    )]
    async fn pdf(
        &self,
        Parameters(args): Parameters<PdfArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Pdf(args), Action::Other).await)
    }

    #[tool(
        description = "Files this session downloaded: the list, or one by index (needs --downloads).",
        annotations(title = "Downloads", read_only_hint = true, open_world_hint = false)
    )]
    async fn downloads(
        &self,
        Parameters(args): Parameters<DownloadsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Downloads(args), Action::Other).await)
    }

    #[tool(
        description = "Read many URLs in parallel; one section per URL, in order.",
        annotations(title = "Read many pages", read_only_hint = true)
    )]
    async fn batch_scrape(
        &self,
        Parameters(args): Parameters<BatchScrapeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = args.validate(self.max_batch_urls) {
            return Ok(render::failure(&e));
        }
        // Checked before any page is read: collecting 1000 pages of a million
        // characters would hold gigabytes in this process before the cut.
        let per_page = args.max_chars.unwrap_or(DEFAULT_BATCH_MAX_CHARS);
        let most = per_page.saturating_mul(args.urls.len());
        if most > self.max_output_chars {
            let error = JobError::invalid_argument(format!(
                "this batch could return {most} characters ({} URLs × max_chars {per_page}), \
                 more than this server returns in one result (--max-output-chars {}); pass a \
                 smaller max_chars or split the URLs over several calls",
                args.urls.len(),
                self.max_output_chars
            ));
            return Ok(render::failure(&error));
        }
        let started = std::time::Instant::now();
        let total = args.urls.len();
        let concurrency = args.concurrency.unwrap_or(8).min(total);
        let progress_token = context.meta.get_progress_token();
        let placement = Self::placement();
        let jobs = args.urls.iter().map(|url| {
            let op = Operation::Scrape(ScrapeArgs {
                url: Some(url.clone()),
                format: args.format,
                main_content: args.main_content,
                max_chars: Some(per_page),
                full: args.full,
            });
            Job::new(None, op)
                .with_placement(placement.node_tags.clone(), placement.priority)
                .preferring(placement.prefer_tags.clone())
        });
        let run = |job: Job| {
            let cache = self
                .cache
                .as_deref()
                .filter(|_| placement.cache != Some(false))
                .zip(ResultCache::key(&job.operation, &placement.node_tags));
            async move {
                self.pace().await;
                match cache {
                    Some((cache, key)) => self.run_cached(cache, key, job).await,
                    None => self.executor.run(job).await,
                }
            }
        };
        let finished = |done: usize, outcome: &Result<JobOutput, JobError>| {
            match outcome {
                Ok(_) => metrics::page_scraped(),
                Err(e) => metrics::error(e.kind),
            }
            let waits = self.executor.host_waits();
            let note = progress_token.clone().map(|token| {
                let note =
                    ProgressNotificationParam::new(token, done as f64).with_total(total as f64);
                if waits > 0 {
                    // Slower than its concurrency, and why: not a stuck batch.
                    note.with_message(format!(
                        "{done} of {total} pages; {waits} waiting for a host at --max-per-host"
                    ))
                } else {
                    note
                }
            });
            let peer = context.peer.clone();
            async move {
                if let Some(note) = note {
                    let _ = peer.notify_progress(note).await;
                }
            }
        };
        let outcomes = run_batch(jobs.collect(), concurrency, run, finished).await;
        tracing::info!(urls = total, elapsed = ?started.elapsed(), "batch_scrape done");
        let outcome = Audited {
            url: None,
            error: None,
            text_chars: None,
            urls: Some(total),
        };
        self.audit("batch_scrape", None, started, outcome).await;
        // The call succeeded even when some pages failed: those count as errors
        // by kind above, not as a failed call.
        metrics::tool_call("batch_scrape", None, started.elapsed());
        let took = started.elapsed();
        Ok(render::batch(&args.urls, outcomes, took))
    }

    #[tool(
        description = "The farm's nodes: state, breaker, load, sessions, errors.",
        annotations(title = "Farm status", read_only_hint = true, open_world_hint = false)
    )]
    async fn farm_status(
        &self,
        Parameters(_args): Parameters<FarmStatusArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let status = self.executor.status().await;
        let session_node = match self.sessions.connection.current().await {
            Some(id) => self.executor.session_node(&id).await,
            None => None,
        };
        let mut result = render::farm_status(&status, session_node.as_deref());
        result.structured_content = crate::structured::of_farm(&status);
        Ok(result)
    }

    #[tool(
        name = "close_session",
        description = "End the session, discarding its tabs, cookies and storage.",
        annotations(
            title = "Close session",
            read_only_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn close_session_tool(
        &self,
        Parameters(_args): Parameters<CloseSessionArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let requested = Self::placement().session;
        let closed = match &requested.handle {
            Some(handle) => match self.sessions.open_handle(handle) {
                Ok(id) => {
                    self.sessions.connection.forget(&id).await;
                    self.executor
                        .close_session(&id)
                        .await
                        .map_err(|e| self.sessions.gone(&id, e))
                        .map(|()| "Closed the browser session.")
                }
                Err(e) => Err(e),
            },
            None if requested.stands_alone => Err(JobError::invalid_argument(
                "this request has no session of its own: pass the `session` handle to close",
            )),
            None if self.sessions.connection.close().await => {
                Ok("Closed this connection's browser session; the next call starts a new one.")
            }
            None => Ok("This connection had no browser session open."),
        };
        Ok(match closed {
            Ok(text) => CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]),
            Err(e) => render::failure(&e),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BrowserfarmServer {
    /// rmcp answers an unknown tool with a bare "tool not found"; name the tool and
    /// the ones that exist so the agent can correct itself.
    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_router.has_route(request.name.as_ref()) {
            if let Some(message) = self.toolset.refusal(request.name.as_ref()) {
                return Err(ErrorData::invalid_params(message, None));
            }
            let known: Vec<String> = self
                .tool_router
                .list_all()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool '{}'; available tools: {}",
                    request.name,
                    known.join(", ")
                ),
                None,
            ));
        }
        let is_job = !NO_JOB_TOOLS.contains(&request.name.as_ref());
        let mut placement = if is_job {
            match take_placement(request.name.as_ref(), request.arguments.as_mut()) {
                Ok(p) => p,
                Err(message) => return Ok(render::failure_text(message).into()),
            }
        } else {
            Placement::default()
        };
        if !SESSIONLESS_TOOLS.contains(&request.name.as_ref()) {
            match take_session(request.arguments.as_mut()) {
                Ok(handle) => placement.session.handle = handle,
                Err(message) => return Ok(render::failure_text(message).into()),
            }
        }
        placement.session.stands_alone = stands_alone(&context);
        let answer = placement.answer.clone();
        if let Err(message) = check_arguments(request.name.as_ref(), request.arguments.as_ref()) {
            return Ok(render::failure_text(message).into());
        }
        if is_job && let Err((wait, limit)) = self.take_token() {
            let error = JobError::new(
                ErrorKind::Busy,
                format!(
                    "rate limit reached ({} calls/s, burst {}); retry in {} ms",
                    limit.per_sec,
                    limit.burst,
                    wait.as_millis().max(1)
                ),
            );
            return Ok(render::failure(&error).into());
        }
        placement.client = context
            .peer
            .peer_info()
            .map(|info| info.client_info.name.clone());
        let Some(_running) = self.drain.enter() else {
            let error = JobError::new(
                ErrorKind::Unavailable,
                "the server is shutting down; this call was not run. Retry once it is back.",
            );
            return Ok(render::failure(&error).into());
        };
        let started = std::time::Instant::now();
        // `notifications/cancelled` (or a streamable HTTP client going away)
        // cancels this token; rmcp then drops the answer but not the work, so
        // the call's future is dropped here: a batch starts no more pages and
        // its browsers go back to the pool.
        let cancelled = context.ct.clone();
        let tool = request.name.to_string();
        let (handle, client) = (placement.session.handle.clone(), placement.client.clone());
        let call = ToolCallContext::new(self, request, context);
        tokio::select! {
            response = PLACEMENT.scope(placement, self.tool_router.call(call)) => {
                response.map(|mut response| {
                    if let CallToolResponse::Complete(result) = &mut response {
                        if let Some(links) = &self.links {
                            links.link_large(result, self.sessions.principal.as_deref());
                        }
                        render::cap_text(result, self.max_output_chars);
                        // After the cap, so the handle is never the part cut.
                        let answered = answer.lock().unwrap_or_else(|e| e.into_inner()).take();
                        if let Some(answered) = answered {
                            render::with_session(result, &answered.handle, answered.in_text);
                        }
                    }
                    response
                })
            }
            () = cancelled.cancelled() => {
                tracing::info!(tool, elapsed = ?started.elapsed(), "tool call cancelled by the client");
                self.audit_cancelled(&tool, handle.as_deref(), client, started).await;
                let error = JobError::new(
                    ErrorKind::Unavailable,
                    "the call was cancelled; anything it did to a page may be partly done",
                );
                Ok(render::failure(&error).into())
            }
            () = self.drain.cut() => {
                let error = JobError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the server shut down before this call finished (it ran {} ms); \
                         anything it did to a page may be partly done",
                        started.elapsed().as_millis()
                    ),
                );
                Ok(render::failure(&error).into())
            }
        }
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(links) = &self.links else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {}: this server holds none (start it with \
                     --resource-links-over to get large results as links)",
                    request.uri
                ),
                None,
            ));
        };
        links
            .read(&request.uri, self.sessions.principal.as_deref())
            .map(|contents| ReadResourceResult::new(vec![contents]).into())
            .map_err(|e| ErrorData::resource_not_found(e.to_string(), None))
    }

    fn get_info(&self) -> ServerConfig {
        // Resources only when results may link to them: a client then knows
        // `resources/read` answers.
        let capabilities = match self.links {
            Some(_) => ServerCapabilities::builder()
                .enable_resources()
                .enable_tools()
                .build(),
            None => ServerCapabilities::builder().enable_tools().build(),
        };
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("browserfarm", env!("CARGO_PKG_VERSION"))
                    .with_title("browserfarm")
                    .with_description("Real headless Chromium browsers for AI agents"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
