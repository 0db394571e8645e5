//! The MCP server: tool declarations and the session of one connection.

use std::sync::Arc;

use browserfarm_gateway::Executor;
use browserfarm_protocol::{
    BatchScrapeArgs, ClickArgs, DEFAULT_BATCH_MAX_CHARS, EvaluateArgs, FarmStatusArgs, Job,
    JobError, NavigateArgs, Operation, ScrapeArgs, ScreenshotArgs, SessionId, TypeArgs,
};
use futures::StreamExt;
use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResponse, JsonObject, ProgressNotificationParam};
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use tokio::sync::Mutex;

use crate::render::{self, Action};

/// Sent to clients at initialize; agents read it to pick tools.
pub const INSTRUCTIONS: &str = "browserfarm drives real headless Chromium browsers. \
This connection has its own isolated browser session (cookies, storage and one tab) that \
persists between calls and is discarded when the connection ends. Typical flow: `navigate` \
to a URL, then `scrape` to read it (markdown of the main content: the cheapest way to read \
a page), `screenshot` only when the visual layout matters, `click` and `type` to interact \
(CSS selectors; `scrape` with format=\"links\" or \"html\" helps find them), and \
`evaluate` for anything else. `scrape` and `screenshot` accept a `url` to load and read in \
one call; `batch_scrape` reads many URLs in parallel across the farm without touching \
this session's tab; `farm_status` shows the browsers' nodes. Only http and https URLs can \
be opened. Errors say what went wrong and what to try next.";

/// One MCP connection. Cheap to clone; clones share the connection's session.
#[derive(Clone)]
pub struct BrowserfarmServer {
    executor: Arc<dyn Executor>,
    session: Arc<Mutex<Option<SessionId>>>,
    tool_router: ToolRouter<Self>,
}

impl BrowserfarmServer {
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        BrowserfarmServer {
            executor,
            session: Arc::new(Mutex::new(None)),
            tool_router: Self::tool_router(),
        }
    }

    /// Closes this connection's browser session, if one was opened.
    pub async fn close_session(&self) {
        let mut slot = self.session.lock().await;
        if let Some(id) = slot.take()
            && let Err(e) = self.executor.close_session(&id).await
        {
            tracing::debug!(session = %id, error = %e, "closing session");
        }
    }

    /// The session id, opening the session on first use.
    async fn session_id(&self) -> Result<SessionId, JobError> {
        let mut slot = self.session.lock().await;
        if let Some(id) = slot.as_ref() {
            return Ok(id.clone());
        }
        let id = self.executor.open_session().await?;
        *slot = Some(id.clone());
        Ok(id)
    }

    async fn call(&self, operation: Operation, action: Action<'_>) -> CallToolResult {
        let tool = operation.name();
        let started = std::time::Instant::now();
        let result = match self.session_id().await {
            Ok(id) => self.executor.run(Job::new(Some(id), operation)).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(output) => {
                tracing::info!(tool, elapsed = ?started.elapsed(), "tool call ok");
                render::success(output, action)
            }
            Err(e) => {
                tracing::info!(tool, elapsed = ?started.elapsed(), kind = ?e.kind, "tool call failed: {}", e.message);
                render::failure(&e)
            }
        }
    }
}

#[tool_router]
impl BrowserfarmServer {
    #[tool(
        description = "Open a URL in this session's browser tab and wait for it to load. \
        Returns the final URL (after redirects), the HTTP status and the page title. \
        Follow with scrape to read the page or screenshot to see it.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn navigate(
        &self,
        Parameters(args): Parameters<NavigateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Navigate(args), Action::Other).await)
    }

    #[tool(
        description = "Take a screenshot of the current page (or of `url`, loaded first). \
        Captures the viewport by default; `full_page` for the whole page, `selector` for one \
        element. Images cost many tokens: prefer scrape for reading text, and use max_width \
        (e.g. 800) or format=\"jpeg\" to keep images small.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn screenshot(
        &self,
        Parameters(args): Parameters<ScreenshotArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Screenshot(args), Action::Other).await)
    }

    #[tool(
        description = "Read the current page (or `url`, loaded first) as markdown \
        (default), plain text, HTML or a list of links. By default only the main content \
        is kept (navigation, sidebars, footers, scripts dropped); main_content=false keeps \
        everything. Output is cut at max_chars (default 20000) with a marker saying how much \
        was left out. The cheapest way to read a page.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn scrape(
        &self,
        Parameters(args): Parameters<ScrapeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Scrape(args), Action::Other).await)
    }

    #[tool(
        description = "Click the first element matching a CSS selector, with a real mouse \
        click at its centre (scrolled into view first). If the click opens a new page, waits \
        for it to load. Returns the resulting URL and title.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = true
        )
    )]
    async fn click(
        &self,
        Parameters(args): Parameters<ClickArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let selector = args.selector.clone();
        Ok(self
            .call(
                Operation::Click(args),
                Action::Click {
                    selector: &selector,
                },
            )
            .await)
    }

    #[tool(
        name = "type",
        description = "Type text into the first input, textarea or contenteditable element \
        matching a CSS selector (focused first; text is appended). submit=true presses Enter \
        afterwards, which submits most forms, and waits for the resulting page to load.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = true
        )
    )]
    async fn type_text(
        &self,
        Parameters(args): Parameters<TypeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let selector = args.selector.clone();
        let chars = args.text.chars().count();
        let submitted = args.submit.unwrap_or(false);
        let action = Action::Type {
            selector: &selector,
            chars,
            submitted,
        };
        Ok(self.call(Operation::Type(args), action).await)
    }

    #[tool(
        description = "Evaluate a JavaScript expression in the current page and return its \
        value as JSON (promises are awaited). Use for data scrape cannot express, e.g. \
        `[...document.querySelectorAll('h2')].map(e => e.textContent)`. Long-running \
        scripts are stopped after a deadline.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = true
        )
    )]
    async fn evaluate(
        &self,
        Parameters(args): Parameters<EvaluateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.call(Operation::Evaluate(args), Action::Other).await)
    }

    #[tool(
        description = "Read many pages in one call (up to 1000 URLs), spread over the \
        farm's browsers in parallel. Returns one section per URL, in input order, with its \
        content or its error, plus a summary line. Each page is cut at max_chars (default \
        4000). Sends progress notifications when the request carries a progress token. \
        Does not touch this session's tab.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn batch_scrape(
        &self,
        Parameters(args): Parameters<BatchScrapeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = args.validate() {
            return Ok(render::failure(&e));
        }
        let started = std::time::Instant::now();
        let total = args.urls.len();
        let concurrency = args.concurrency.unwrap_or(8).min(total);
        let progress_token = context.meta.get_progress_token();
        let scrape = |url: String| {
            let op = Operation::Scrape(ScrapeArgs {
                url: Some(url),
                format: args.format,
                main_content: args.main_content,
                max_chars: Some(args.max_chars.unwrap_or(DEFAULT_BATCH_MAX_CHARS)),
            });
            self.executor.run(Job::new(None, op))
        };
        let mut results = futures::stream::iter(args.urls.iter().cloned().map(scrape))
            .buffered(concurrency.max(1));
        let mut outcomes = Vec::with_capacity(total);
        while let Some(outcome) = results.next().await {
            outcomes.push(outcome);
            if let Some(token) = &progress_token {
                let note = ProgressNotificationParam::new(token.clone(), outcomes.len() as f64)
                    .with_total(total as f64);
                let _ = context.peer.notify_progress(note).await;
            }
        }
        tracing::info!(urls = total, elapsed = ?started.elapsed(), "batch_scrape done");
        Ok(render::batch(&args.urls, outcomes, started.elapsed()))
    }

    #[tool(
        description = "Show where jobs run: each farm node (or the embedded local pool) \
        with its state (up/down), circuit breaker (closed/half_open/open), jobs in flight \
        and capacity, architecture, tags, job counts and last error.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn farm_status(
        &self,
        Parameters(_args): Parameters<FarmStatusArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let status = self.executor.status().await;
        let session_node = match self.session.lock().await.as_ref() {
            Some(id) => self.executor.session_node(id).await,
            None => None,
        };
        Ok(render::farm_status(&status, session_node.as_deref()))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BrowserfarmServer {
    /// rmcp answers an unknown tool with a bare "tool not found"; name the tool and
    /// the ones that exist so the agent can correct itself.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_router.has_route(request.name.as_ref()) {
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
        if let Err(message) = check_arguments(request.name.as_ref(), request.arguments.as_ref()) {
            return Ok(render::failure_text(message).into());
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("browserfarm", env!("CARGO_PKG_VERSION"))
                    .with_title("browserfarm")
                    .with_description("Real headless Chromium browsers for AI agents"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}

/// Deserialises a tool's arguments with the path of the offending field, so a
/// type error reads "max_width: invalid type…" rather than rmcp's bare serde text.
fn check_arguments(tool: &str, arguments: Option<&JsonObject>) -> Result<(), String> {
    fn parse<T: serde::de::DeserializeOwned>(tool: &str, args: &JsonObject) -> Result<(), String> {
        let value = serde_json::Value::Object(args.clone());
        serde_path_to_error::deserialize::<_, T>(value)
            .map(drop)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    format!("invalid arguments for {tool}: {inner}")
                } else {
                    format!("invalid arguments for {tool}: {path}: {inner}")
                }
            })
    }
    let empty = JsonObject::new();
    let args = arguments.unwrap_or(&empty);
    match tool {
        "navigate" => parse::<NavigateArgs>(tool, args),
        "screenshot" => parse::<ScreenshotArgs>(tool, args),
        "scrape" => parse::<ScrapeArgs>(tool, args),
        "click" => parse::<ClickArgs>(tool, args),
        "type" => parse::<TypeArgs>(tool, args),
        "evaluate" => parse::<EvaluateArgs>(tool, args),
        "batch_scrape" => parse::<BatchScrapeArgs>(tool, args),
        "farm_status" => parse::<FarmStatusArgs>(tool, args),
        _ => Ok(()),
    }
}
