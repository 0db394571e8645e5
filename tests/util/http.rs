//! MCP over HTTP from the test's side: a `browserfarm mcp --http` process and
//! plain-HTTP clients of its streamable HTTP transport, written by hand so tests
//! see every status and header: [`StreamableSession`] speaks 2025-11-25 (an
//! initialize handshake, then `Mcp-Session-Id`), [`Stateless`] speaks 2026-07-28
//! (no handshake, no protocol session: every request stands alone).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Child;

use super::process::{browserfarm, free_port, signal, wait_for_port};
use super::stdio::ToolResult;

/// The protocol revision these clients speak.
pub const PROTOCOL: &str = "2025-11-25";

/// A running `browserfarm mcp --http`; SIGTERM on drop.
pub struct HttpServer {
    child: Child,
    pub base: String,
}

impl HttpServer {
    pub async fn start(extra: &[&str]) -> HttpServer {
        HttpServer::start_on(free_port(), extra).await
    }

    pub async fn start_on(port: u16, extra: &[&str]) -> HttpServer {
        let child = browserfarm(["mcp", "--min-browsers", "0", "--http"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn browserfarm");
        let server = HttpServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_for_port(port, "HTTP server").await;
        server
    }

    /// SIGKILL, then waits for the process to be gone: a gateway dying
    /// without any chance to clean up.
    pub async fn kill9(mut self) {
        if let Some(pid) = self.child.id() {
            signal(pid, "KILL");
        }
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for the process to exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            signal(pid, "TERM");
        }
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(exited.is_ok(), "the server exits on SIGTERM");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            signal(pid, "TERM");
        }
    }
}

/// A reply's `Content-Type`, or "" without one.
pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The JSON-RPC messages in a reply that is either JSON or an SSE stream.
pub fn messages(content_type: &str, body: &str) -> Vec<Value> {
    if content_type.starts_with("application/json") {
        return vec![serde_json::from_str(body).expect("JSON body")];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// One streamable-HTTP MCP session.
pub struct StreamableSession {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    id: Option<String>,
    next: u64,
}

impl StreamableSession {
    pub fn new(server: &HttpServer, token: Option<&str>) -> StreamableSession {
        StreamableSession {
            http: reqwest::Client::new(),
            url: format!("{}/mcp", server.base),
            token: token.map(str::to_owned),
            id: None,
            next: 1,
        }
    }

    /// A POST of `body` to `/mcp` with this session's headers, not yet sent.
    pub fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", PROTOCOL)
            .timeout(Duration::from_secs(120))
            .body(body.to_string());
        if let Some(id) = &self.id {
            req = req.header("Mcp-Session-Id", id);
        }
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(&body).send().await.expect("POST /mcp");
        assert!(
            response.status().is_success(),
            "{method}: HTTP {}",
            response.status()
        );
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.id = Some(session.to_str().unwrap().to_owned());
        }
        let kind = content_type(&response);
        let text = response.text().await.unwrap();
        messages(&kind, &text)
            .into_iter()
            .find(|m| m["id"] == json!(id))
            .unwrap_or_else(|| panic!("no reply to {method} in {text}"))
    }

    pub async fn initialize(&mut self) {
        let reply = self
            .request(
                "initialize",
                json!({"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "e2e", "version": "1"}}),
            )
            .await;
        assert_eq!(reply["result"]["serverInfo"]["name"], "browserfarm");
        assert!(self.id.is_some(), "the server assigns a session id");
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let status = self.post(&note).send().await.unwrap().status();
        assert_eq!(status, 202);
    }

    pub async fn tool_text(&mut self, name: &str, arguments: Value) -> String {
        let reply = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert_eq!(reply["result"]["isError"], false, "{reply}");
        reply["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `DELETE /mcp` of this session; returns the HTTP status.
    pub async fn delete(&self) -> u16 {
        let mut req = self
            .http
            .delete(&self.url)
            .header("Mcp-Session-Id", self.id.as_deref().unwrap())
            .header("MCP-Protocol-Version", PROTOCOL);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap().status().as_u16()
    }
}

/// The protocol revision without sessions.
pub const STATELESS_PROTOCOL: &str = "2026-07-28";

/// A 2026-07-28 client: each request carries its protocol version and client
/// in `_meta`, and nothing ties one request to the next but what the tools
/// return (the `session` handle).
pub struct Stateless {
    http: reqwest::Client,
    url: String,
    next: u64,
}

impl Stateless {
    /// A client of the MCP endpoint at `base` (`http://host:port`).
    pub fn new(base: &str) -> Stateless {
        Stateless {
            http: reqwest::Client::new(),
            url: format!("{base}/mcp"),
            next: 1,
        }
    }

    /// Sends a request; returns the whole response message.
    pub async fn request(&mut self, method: &str, mut params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": STATELESS_PROTOCOL,
            "io.modelcontextprotocol/clientInfo": {"name": "e2e-stateless", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        // 2026-07-28 repeats the method and tool name in headers (SEP-2243), so
        // a load balancer can route without reading the body.
        let name = params["name"].as_str().map(str::to_owned);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut post = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", STATELESS_PROTOCOL)
            .header("Mcp-Method", method);
        if let Some(name) = name {
            post = post.header("Mcp-Name", name);
        }
        let response = post
            .timeout(Duration::from_secs(120))
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method}: POST {}: {e}", self.url));
        assert!(
            response.headers().get("mcp-session-id").is_none(),
            "a 2026-07-28 request gets no protocol session"
        );
        let kind = content_type(&response);
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method}: HTTP {status}: {text}");
        messages(&kind, &text)
            .into_iter()
            .find(|m| m["id"] == json!(id))
            .unwrap_or_else(|| panic!("no reply to {method} in {text}"))
    }

    /// Calls a tool; returns its result (panics on a JSON-RPC error).
    pub async fn call(&mut self, tool: &str, arguments: Value) -> ToolResult {
        let reply = self
            .request("tools/call", ToolResult::call(tool, arguments))
            .await;
        ToolResult::from_reply(tool, &reply)
    }

    /// Calls a tool that must succeed.
    pub async fn ok(&mut self, tool: &str, arguments: Value) -> ToolResult {
        self.call(tool, arguments).await.succeeded(tool)
    }
}
