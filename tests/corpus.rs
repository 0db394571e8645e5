//! The bad-input corpus (`tests/corpus/bad-input.json`) against the real server,
//! over stdio and over streamable HTTP. Every case must get a clear error or a
//! bounded result within a deadline, and the next valid request must still work.
//!
//! Case fields: `name`; what to send: `raw` (a line, with macros), `raw_hex`
//! (bytes), `request` ({method, params}) or `call` ({name, arguments}); what must
//! come back: `expect` = `parse_error` (-32700), `rpc_error` (any JSON-RPC error,
//! optionally `code`), `too_large`, `tool_error`, `ok`, or `bounded` (a tool
//! result, error or not, within `max_bytes`); optional `contains`
//! (text in the error or result) and `max_bytes` (bound on the result's text).
//! Macros: `{{base}}`, `{{base_with_credentials}}`, `{{idn_base}}` (fixture
//! server URLs), `{{big:N}}` (N letters), `{{nest:N}}` (N nested arrays), and a
//! string that is exactly `{{urls:N}}` becomes an array of N URLs.

use std::time::Duration;

use serde_json::{Value, json};

use browserfarm_testkit::Fixtures;

use crate::util::{HttpServer, McpProcess, PROTOCOL, content_type, messages};

const CORPUS: &str = include_str!("corpus/bad-input.json");

/// Longest any case may take to answer (the slowest is the 50 MB page).
const CASE_DEADLINE: Duration = Duration::from_secs(90);

struct Macros {
    base: String,
    port: u16,
}

impl Macros {
    fn text(&self, s: &str) -> String {
        let mut out = s
            .replace("{{base}}", &self.base)
            .replace(
                "{{base_with_credentials}}",
                &format!("http://farmer:secret@127.0.0.1:{}", self.port),
            )
            .replace(
                "{{idn_base}}",
                &format!("http://bücher.localhost:{}", self.port),
            );
        while let Some(start) = out.find("{{big:") {
            let end = start + out[start..].find("}}").unwrap();
            let n: usize = out[start + 6..end].parse().unwrap();
            out.replace_range(start..end + 2, &"a".repeat(n));
        }
        while let Some(start) = out.find("{{nest:") {
            let end = start + out[start..].find("}}").unwrap();
            let n: usize = out[start + 7..end].parse().unwrap();
            out.replace_range(
                start..end + 2,
                &format!("{}{}", "[".repeat(n), "]".repeat(n)),
            );
        }
        out
    }

    fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                match s.strip_prefix("{{urls:").and_then(|r| r.strip_suffix("}}")) {
                    Some(n) => {
                        let n: usize = n.parse().unwrap();
                        Value::Array(
                            (0..n)
                                .map(|i| Value::String(format!("{}/p/{i}", self.base)))
                                .collect(),
                        )
                    }
                    None => Value::String(self.text(s)),
                }
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), self.value(x))).collect())
            }
            other => other.clone(),
        }
    }
}

/// What was sent for a case: raw bytes, or a request with a known id.
fn payload(case: &Value, macros: &Macros, id: u64) -> Vec<u8> {
    if let Some(raw) = case["raw"].as_str() {
        return macros.text(raw).into_bytes();
    }
    if let Some(hex) = case["raw_hex"].as_str() {
        return (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
    }
    let (method, params) = if let Some(call) = case.get("call") {
        ("tools/call", macros.value(call))
    } else {
        let r = &case["request"];
        (r["method"].as_str().unwrap(), macros.value(&r["params"]))
    };
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .unwrap()
}

/// Checks `reply` (a JSON-RPC message, or `{"http_status": N, "body": ...}` for an
/// HTTP refusal) against the case; returns what was wrong.
fn check(case: &Value, reply: &Value) -> Result<(), String> {
    let expect = case["expect"].as_str().unwrap();
    let contains = case["contains"].as_str();
    let status = reply["http_status"].as_u64();
    let error = &reply["error"];
    let result = &reply["result"];
    let text: String = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let said = |s: &str| contains.is_none_or(|c| s.contains(c));
    let ok = match expect {
        "parse_error" => error["code"] == -32700 || status == Some(400),
        "rpc_error" => {
            (error.is_object() || status.is_some_and(|s| (400..500).contains(&s)))
                && case["code"]
                    .as_i64()
                    .is_none_or(|c| error["code"] == c || status.is_some())
                && (status.is_some() || said(error["message"].as_str().unwrap_or("")))
        }
        "too_large" => {
            status == Some(413)
                || error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("exceeds the"))
        }
        "tool_error" => result["isError"] == true && said(&text),
        "ok" => {
            result["isError"] == false
                && said(&text)
                && case["max_bytes"]
                    .as_u64()
                    .is_none_or(|max| text.len() as u64 <= max)
        }
        "bounded" => {
            result["isError"].is_boolean()
                && case["max_bytes"]
                    .as_u64()
                    .is_some_and(|max| text.len() as u64 <= max)
        }
        other => return Err(format!("unknown expectation {other}")),
    };
    if ok {
        Ok(())
    } else {
        let shown: String = reply.to_string().chars().take(600).collect();
        Err(format!("expected {expect} {contains:?}, got {shown}"))
    }
}

fn cases() -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(CORPUS).expect("the corpus is JSON")
}

async fn still_works(reply: Value, case: &str) {
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        crate::util::without_handle(text),
        "2",
        "after {case}, a valid call failed: {reply}"
    );
}

#[tokio::test]
async fn the_bad_input_corpus_over_stdio() {
    let pages = Fixtures::start().await;
    let macros = Macros {
        base: pages.url(""),
        port: pages.addr.port(),
    };
    let (mut mcp, _) = McpProcess::start().await;
    let mut failures = Vec::new();
    let all = cases();
    for (i, case) in all.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let id = 10_000 + i as u64;
        mcp.send_raw(&payload(case, &macros, id)).await;
        let reply = tokio::time::timeout(CASE_DEADLINE, mcp.read_message())
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer within {CASE_DEADLINE:?}"));
        if let Err(e) = check(case, &reply) {
            failures.push(format!("{name}: {e}"));
        }
        let next = mcp
            .request(
                "tools/call",
                json!({"name": "evaluate", "arguments": {"expression": "1 + 1"}}),
            )
            .await;
        still_works(next, name).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(all.len() >= 40, "{} cases", all.len());
}

#[tokio::test]
async fn the_bad_input_corpus_over_http() {
    let pages = Fixtures::start().await;
    let macros = Macros {
        base: pages.url(""),
        port: pages.addr.port(),
    };
    let server = HttpServer::start(&[]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/mcp", server.base);
    let post = |body: Vec<u8>, session: Option<&str>| {
        let mut req = http
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", PROTOCOL)
            .timeout(CASE_DEADLINE)
            .body(body);
        if let Some(s) = session {
            req = req.header("Mcp-Session-Id", s);
        }
        req.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "corpus", "version": "1"}}});
    let response = post(init.to_string().into_bytes(), None).await.unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    drop(response.text().await);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(initialized.to_string().into_bytes(), Some(&session))
        .await
        .unwrap();

    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let id = 10_000 + i as u64;
        let response = post(payload(case, &macros, id), Some(&session))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = response.status().as_u16();
        let kind = content_type(&response);
        let body = response.text().await.unwrap_or_default();
        let reply = if (200..300).contains(&status) {
            messages(&kind, &body)
                .into_iter()
                .find(|m| m["id"] == json!(id) || m.get("error").is_some())
                .unwrap_or_else(|| json!({"http_status": status, "body": body}))
        } else {
            json!({"http_status": status, "body": body})
        };
        if let Err(e) = check(case, &reply) {
            failures.push(format!("{name}: {e}"));
        }
        let probe = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "evaluate", "arguments": {"expression": "1 + 1"}}});
        let response = post(probe.to_string().into_bytes(), Some(&session))
            .await
            .unwrap();
        let kind = content_type(&response);
        let next = messages(&kind, &response.text().await.unwrap())
            .into_iter()
            .find(|m| m["id"] == 1)
            .unwrap_or_default();
        still_works(next, name).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
