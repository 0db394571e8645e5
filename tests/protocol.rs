//! MCP protocol behaviour: handshake, tool catalogue, and bad input.

use serde_json::json;

use crate::util::{McpProcess, TOOLS, repo_path};

/// Asserts every property under `schema` (nested objects and array items
/// too) has a description.
#[track_caller]
fn assert_described(path: &str, schema: &serde_json::Value) {
    let empty = serde_json::Map::new();
    for (field, spec) in schema["properties"].as_object().unwrap_or(&empty) {
        let at = format!("{path}.{field}");
        assert!(
            spec["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{at} has no description"
        );
        assert_described(&at, spec);
        if spec["items"].is_object() {
            assert_described(&format!("{at}[]"), &spec["items"]);
        }
    }
}

#[tokio::test]
async fn initialize_names_the_server_and_lists_every_tool_with_a_schema() {
    let (mut mcp, init) = McpProcess::start().await;
    assert_eq!(init["serverInfo"]["name"], "browserfarm");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    let instructions = init["instructions"].as_str().unwrap();
    assert!(instructions.contains("scrape"));
    assert!(
        instructions.contains("as the `session` argument"),
        "the instructions say what `session` takes: {instructions}"
    );
    assert!(
        instructions.contains("`changes: false`"),
        "the instructions say what `changes` does: {instructions}"
    );
    assert!(init["capabilities"]["tools"].is_object());
    // Resources only with --resource-links-over (tools::large_screenshots…).
    assert!(init["capabilities"]["resources"].is_null(), "{init}");

    let list = mcp.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    let mut expected = TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for tool in tools {
        let name = &tool["name"];
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 40),
            "{name} lacks a description"
        );
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}");
        // Every argument, nested ones too, says what it takes: many clients
        // never show the model the server's instructions.
        assert_described(&name.to_string(), schema);
        // `structuredContent` is the result itself, so only tools whose
        // results are records list a schema for it.
        assert_eq!(
            tool["outputSchema"].is_object(),
            browserfarm_mcp::STRUCTURED_TOOLS.contains(&name.as_str().unwrap()),
            "{name}"
        );
    }
    let type_tool = tools.iter().find(|t| t["name"] == "type").unwrap();
    assert_eq!(type_tool["inputSchema"]["required"], json!(["text"]));
}

/// The tool list is context a model pays for on every turn: plain schemas (no
/// `$ref` to follow), a title on every tool, and a byte budget per profile
/// (Playwright MCP 0.0.83's list is 20,286 bytes; see docs/benchmarks.md).
#[tokio::test]
async fn the_tool_list_is_plain_and_fits_its_budget_and_core_lists_only_core_tools() {
    let mut default = McpProcess::start_with_default_tools(&[]).await;
    let list = default.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let text = serde_json::to_string(tools).unwrap();
    for pointer in ["$ref", "$defs", "$schema", "oneOf"] {
        assert!(!text.contains(pointer), "the listing holds {pointer}");
    }
    for tool in tools {
        let title = tool["annotations"]["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "{} has no title", tool["name"]);
        assert!(tool["annotations"]["readOnlyHint"].is_boolean(), "{tool}");
    }
    let navigate = tools.iter().find(|t| t["name"] == "navigate").unwrap();
    assert_eq!(navigate["annotations"]["idempotentHint"], true);
    // The default groups: browsing only.
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    let browsing = browserfarm_mcp::TOOL_GROUPS
        .iter()
        .find(|g| g.name == browserfarm_mcp::DEFAULT_TOOLS)
        .unwrap();
    let mut expected = browsing.tools.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    // Results with structure say so; the Python SDK example checks the data
    // against these schemas (scripts/python-example.sh).
    assert_eq!(browserfarm_mcp::STRUCTURED_TOOLS.len(), 6);
    for tool in tools {
        let listed = tool["outputSchema"]["type"] == "object";
        let structured =
            browserfarm_mcp::STRUCTURED_TOOLS.contains(&tool["name"].as_str().unwrap());
        assert_eq!(listed, structured, "{tool}");
    }
    // A tool of another group is refused with the flag that lists it.
    let refused = default
        .request("tools/call", json!({"name": "cookies", "arguments": {}}))
        .await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("'state' tool group") && message.contains("--tools"),
        "{refused}"
    );
    assert_eq!(
        navigate["inputSchema"]["properties"]["wait_until"]["enum"],
        json!(["ready", "load", "domcontentloaded", "networkidle"])
    );
    assert!(text.len() <= 16_229, "tools/list is {} bytes", text.len());

    let mut core = McpProcess::start_with(&["--tools", "core"]).await;
    let list = core.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    let mut expected = browserfarm_mcp::CORE_TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let text = serde_json::to_string(tools).unwrap();
    assert!(
        text.len() <= 7_168,
        "core tools/list is {} bytes",
        text.len()
    );
    let refused = core
        .request(
            "tools/call",
            json!({"name": "evaluate", "arguments": {"expression": "1"}}),
        )
        .await;
    assert!(
        refused.to_string().contains("evaluate"),
        "a tool outside the profile is refused by name: {refused}"
    );
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_server_keeps_serving() {
    let (mut mcp, _) = McpProcess::start().await;
    mcp.send_raw(b"{this is not json").await;
    let reply = mcp.read_message().await;
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    assert_eq!(reply["id"], serde_json::Value::Null);
    mcp.send_raw(b"\xff\xfe not utf-8").await;
    assert_eq!(mcp.read_message().await["error"]["code"], -32700);

    let pong = mcp.request("ping", json!({})).await;
    assert!(pong.get("result").is_some(), "{pong}");
    let list = mcp.request("tools/list", json!({})).await;
    assert_eq!(
        list["result"]["tools"].as_array().unwrap().len(),
        TOOLS.len()
    );
}

#[tokio::test]
async fn protocol_mistakes_get_json_rpc_errors() {
    let (mut mcp, _) = McpProcess::start().await;
    let unknown_method = mcp.request("browsers/teleport", json!({})).await;
    assert_eq!(unknown_method["error"]["code"], -32601, "{unknown_method}");

    let unknown_tool = mcp
        .request("tools/call", json!({"name": "teleport", "arguments": {}}))
        .await;
    assert_eq!(unknown_tool["error"]["code"], -32602, "{unknown_tool}");
    let message = unknown_tool["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'teleport'") && message.contains("navigate"),
        "{message}"
    );

    // Since MCP 2025-11-25, arguments that fail the schema are tool execution
    // errors (isError), so the model sees them and can correct the call.
    let missing_field = mcp.call("type", json!({"selector": "#q"})).await;
    missing_field.assert_error("missing field `text`");
    let missing_url = mcp.call("navigate", json!({})).await;
    missing_url.assert_error("url is required");

    let wrong_type = mcp.call("screenshot", json!({"max_width": "wide"})).await;
    wrong_type.assert_error("max_width");

    let typo = mcp
        .call(
            "navigate",
            json!({"url": "http://127.0.0.1/", "timeout": 5}),
        )
        .await;
    typo.assert_error("unknown field `timeout`");

    let out_of_range = mcp.call("screenshot", json!({"max_width": 1})).await;
    out_of_range.assert_error("max_width");

    // Still serving.
    assert!(mcp.request("ping", json!({})).await.get("result").is_some());
}

/// `mcp-manifest.json` describes the tools the server really lists, at the
/// version it really is, so the two cannot drift apart.
#[tokio::test]
async fn the_manifest_matches_the_server() {
    let path = repo_path("mcp-manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("mcp-manifest.json"))
            .expect("mcp-manifest.json is JSON");
    assert_eq!(manifest["name"], "browserfarm");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["server"]["type"], "binary");
    assert_eq!(manifest["server"]["mcp_config"]["args"], json!(["mcp"]));

    assert_eq!(
        manifest["server"]["mcp_config"]["env"]["BROWSERFARM_TOOLS"],
        "${user_config.tools}"
    );
    assert_eq!(
        manifest["user_config"]["tools"]["default"],
        browserfarm_mcp::DEFAULT_TOOLS
    );
    // The tools the bundle lists as configured by default.
    let mut mcp = McpProcess::start_with_default_tools(&[]).await;
    let list = mcp.request("tools/list", json!({})).await;
    assert_eq!(
        names_and_descriptions(&manifest["tools"]),
        names_and_descriptions(&list["result"]["tools"]),
        "mcp-manifest.json tools differ from tools/list; run scripts/update-manifest.py target/debug/browserfarm"
    );
}

/// Sorted (name, description) pairs of a JSON array of tools.
fn names_and_descriptions(tools: &serde_json::Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = tools
        .as_array()
        .expect("a tool array")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}
