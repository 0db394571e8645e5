//! The tool-list row (issue 23): what a server's `tools/list` costs a model.
//! Every turn of an agent carries the list, so its bytes are context paid again
//! and again before any page is read. Each contender's `result.tools` is
//! serialised the same way (compact JSON) and compared with Playwright MCP's.
//!
//! browserfarm is measured as a user gets it (`mcp`, the embedded pool: the
//! `browsing` group), each other tool group alone (what adding it to `--tools`
//! costs), `--tools core` and `all`, and as a farm gateway (default groups,
//! placement arguments listed), whose one node need not be up: listing tools
//! runs no job.

use crate::mcp::McpClient;

/// One contender's list.
struct Listed {
    name: String,
    tools: usize,
    bytes: usize,
}

async fn list(name: &str, program: &str, args: &[String]) -> anyhow::Result<Listed> {
    let mut client = McpClient::start(program, args).await?;
    let result = client.request("tools/list", serde_json::json!({})).await?;
    client.stop().await;
    let tools = result["tools"].clone();
    Ok(Listed {
        name: name.to_owned(),
        tools: tools.as_array().map_or(0, Vec::len),
        bytes: serde_json::to_string(&tools)?.len(),
    })
}

/// Prints the table; Playwright MCP is the reference when it can be run.
pub async fn run(
    browserfarm: &str,
    chrome: &str,
    playwright: Option<(&str, Vec<String>)>,
) -> anyhow::Result<()> {
    let base = |extra: &[&str]| -> Vec<String> {
        ["mcp", "--min-browsers", "0", "--chrome", chrome]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let mut rows = vec![list("browserfarm (default: browsing)", browserfarm, &base(&[])).await?];
    for group in ["state", "files", "farm", "core", "all"] {
        let name = format!("browserfarm --tools {group}");
        rows.push(list(&name, browserfarm, &base(&["--tools", group])).await?);
    }
    rows.push(
        list(
            "browserfarm farm gateway",
            browserfarm,
            &base(&["--local-pool=false", "--node", "http://127.0.0.1:9"]),
        )
        .await?,
    );
    let reference = match playwright {
        Some((launcher, args)) => {
            let listed = list("Playwright MCP", launcher, &args).await?;
            let bytes = listed.bytes;
            rows.push(listed);
            Some(bytes)
        }
        None => None,
    };
    println!("\n| server | tools | tools/list bytes | × Playwright MCP |\n|---|---:|---:|---:|");
    for row in rows {
        let ratio = reference
            .map(|r| format!("{:.2}×", row.bytes as f64 / r as f64))
            .unwrap_or_else(|| "–".into());
        println!("| {} | {} | {} | {ratio} |", row.name, row.tools, row.bytes);
    }
    Ok(())
}
