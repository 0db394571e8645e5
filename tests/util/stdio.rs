//! A minimal MCP client over the real binary's stdio: newline-delimited JSON-RPC,
//! written by hand so tests can also send what a real client never would.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::process::browserfarm;

/// Longest a test waits for any single reply (a 60-page batch on a loaded 2-core
/// machine is the slowest).
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);

/// A running `browserfarm mcp`. Dropping it closes its stdin, which is how MCP
/// clients end a stdio server: it then shuts down and closes its browsers itself.
pub struct McpProcess {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl McpProcess {
    /// Starts `browserfarm mcp` with extra arguments (not yet initialized).
    pub fn spawn(extra: &[&str]) -> McpProcess {
        McpProcess::spawn_from(browserfarm(["mcp", "--min-browsers", "0"]).args(extra))
    }

    /// Starts the server with the binary's own default tool groups (the
    /// suite lists all of them otherwise) and completes the handshake.
    pub async fn start_with_default_tools(extra: &[&str]) -> McpProcess {
        let mut mcp = McpProcess::spawn_from(
            browserfarm(["mcp", "--min-browsers", "0"])
                .args(extra)
                .env_remove("BROWSERFARM_TOOLS"),
        );
        mcp.initialize().await;
        mcp
    }

    fn spawn_from(command: &mut tokio::process::Command) -> McpProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn browserfarm");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        McpProcess {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    /// Starts the server and completes the MCP handshake; returns the
    /// initialize result.
    pub async fn start() -> (McpProcess, Value) {
        let mut mcp = McpProcess::spawn(&[]);
        let init = mcp.initialize().await;
        (mcp, init)
    }

    /// Starts the server with extra arguments and completes the handshake.
    pub async fn start_with(extra: &[&str]) -> McpProcess {
        let mut mcp = McpProcess::spawn(extra);
        mcp.initialize().await;
        mcp
    }

    pub async fn initialize(&mut self) -> Value {
        let result = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "browserfarm-tests", "version": "0"}
                }),
            )
            .await;
        self.notify("notifications/initialized", json!({})).await;
        result
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("initialize failed: {result}"))
    }

    pub async fn send_raw(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.send_raw(msg.to_string().as_bytes()).await;
    }

    /// Next message from the server.
    pub async fn read_message(&mut self) -> Value {
        let line = tokio::time::timeout(REPLY_TIMEOUT, self.stdout.next_line())
            .await
            .expect("server replied in time")
            .expect("read stdout")
            .expect("server closed stdout");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {line}"))
    }

    /// Sends a request without waiting for its answer; returns its id.
    pub async fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(msg.to_string().as_bytes()).await;
        id
    }

    /// Sends a request and returns the whole response message (result or error).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params).await;
        loop {
            let reply = self.read_message().await;
            if reply.get("id") == Some(&json!(id)) {
                return reply;
            }
        }
    }

    /// Sends a request; returns its response and the notifications that came first.
    pub async fn request_with_notifications(
        &mut self,
        method: &str,
        params: Value,
    ) -> (Value, Vec<Value>) {
        let id = self.send(method, params).await;
        let mut notifications = Vec::new();
        loop {
            let message = self.read_message().await;
            if message.get("id") == Some(&json!(id)) {
                return (message, notifications);
            }
            if message.get("id").is_none() {
                notifications.push(message);
            }
        }
    }

    /// Calls a tool; returns the `result` object (panics on a JSON-RPC error).
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

    /// Closes stdin and waits for the process to exit.
    pub async fn close_and_wait(&mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.wait_exit().await
    }

    /// Waits (up to 30 s) for the process to exit.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("server exited in time")
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }
}

/// A `tools/call` result.
pub struct ToolResult(pub Value);

impl ToolResult {
    /// The params of a `tools/call` request.
    pub fn call(tool: &str, arguments: Value) -> Value {
        json!({"name": tool, "arguments": arguments})
    }

    /// The result in a `tools/call` reply (panics on a JSON-RPC error).
    #[track_caller]
    pub fn from_reply(tool: &str, reply: &Value) -> ToolResult {
        let result = reply
            .get("result")
            .unwrap_or_else(|| panic!("{tool}: JSON-RPC error {reply}"));
        ToolResult(result.clone())
    }

    /// This result, which must not be a tool error.
    #[track_caller]
    pub fn succeeded(self, tool: &str) -> ToolResult {
        assert!(!self.is_error(), "{tool} failed: {}", self.text());
        self
    }
    pub fn is_error(&self) -> bool {
        self.0["isError"] == json!(true)
    }

    /// All text content joined.
    pub fn text(&self) -> String {
        self.content("text")
            .map(|c| c["text"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The session handle the result carries (`_meta["browserfarm/session"]`).
    pub fn session(&self) -> Option<String> {
        self.0["_meta"]["browserfarm/session"]
            .as_str()
            .map(str::to_owned)
    }

    /// Asserts this is a tool error whose text contains `needle`.
    #[track_caller]
    pub fn assert_error(&self, needle: &str) {
        let text = self.text();
        assert!(
            self.is_error(),
            "expected an error containing {needle:?}, got success: {text}"
        );
        assert!(text.contains(needle), "error lacks {needle:?}: {text}");
    }

    pub fn content<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.0["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |c| c["type"] == kind)
    }
}
