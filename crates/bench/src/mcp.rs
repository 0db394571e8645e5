//! A small MCP client over a child process's stdio, for timing tool calls the way
//! an agent makes them.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub struct McpClient {
    pub child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

/// What a tool call returned, reduced to what the bench reports.
pub struct Reply {
    pub elapsed: Duration,
    /// Bytes of text content: what an agent would read into its context.
    pub text_bytes: usize,
    pub is_error: bool,
    pub first_text: String,
}

/// The `initialize` request's params: the bench as a client with no capabilities.
pub fn initialize_params(protocol: &str) -> Value {
    json!({"protocolVersion": protocol, "capabilities": {},
           "clientInfo": {"name": "browserfarm-bench", "version": "1"}})
}

/// The notification that ends the handshake.
pub fn initialized() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

/// The `result` of a JSON-RPC reply to `method`, or its `error` as an error.
pub fn result_of(message: &Value, method: &str) -> anyhow::Result<Value> {
    if let Some(error) = message.get("error") {
        bail!("{method}: {error}");
    }
    Ok(message["result"].clone())
}

impl Reply {
    /// The reply of a `tools/call` whose JSON-RPC `result` is `result`, whatever
    /// the transport (stdio here, streamable HTTP in `sessions.rs`).
    pub fn of(result: &Value, elapsed: Duration) -> Reply {
        let texts: Vec<&str> = result["content"]
            .as_array()
            .map(|c| c.iter().filter_map(|b| b["text"].as_str()).collect())
            .unwrap_or_default();
        Reply {
            elapsed,
            text_bytes: texts.iter().map(|t| t.len()).sum(),
            is_error: result["isError"].as_bool().unwrap_or(false),
            first_text: texts.first().map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

impl McpClient {
    pub async fn start(program: &str, args: &[String]) -> anyhow::Result<McpClient> {
        // Some servers write files into their working directory (Playwright MCP
        // saves snapshots there): keep them out of the caller's.
        let mut child = Command::new(program)
            .args(args)
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let mut client = McpClient {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        client
            .request("initialize", initialize_params("2025-06-18"))
            .await?;
        client.send(&initialized()).await?;
        Ok(client)
    }

    async fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        self.stdin
            .write_all(format!("{message}\n").as_bytes())
            .await?;
        Ok(())
    }

    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        let wait = async {
            loop {
                let Some(line) = self.stdout.next_line().await? else {
                    bail!("the server closed its output");
                };
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if message["id"] == json!(id) {
                    return result_of(&message, method);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(600), wait)
            .await
            .context("no reply within 600 s")?
    }

    pub async fn call(&mut self, tool: &str, arguments: Value) -> anyhow::Result<Reply> {
        let started = Instant::now();
        let result = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await?;
        Ok(Reply::of(&result, started.elapsed()))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Closes stdin (how stdio servers are told to stop) and waits briefly.
    pub async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}
