//! `browserfarm status`: a running gateway's nodes and totals, for people (a table)
//! and scripts (`--json`, and the exit code: 0 some node up, 1 none, 2 no answer).

use std::process::ExitCode;
use std::time::Duration;

use browserfarm_protocol::{FarmStatus, format_tags};

use crate::flags::StatusArgs;

pub async fn run(mut args: StatusArgs) -> ExitCode {
    args.token = match crate::flags::resolve_token(args.token.take(), args.token_file.as_deref()) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let status = match fetch(&args).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
    } else {
        print!("{}", table(&status));
    }
    if status.nodes.iter().any(|n| n.state == "up") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn fetch(args: &StatusArgs) -> Result<FarmStatus, String> {
    let base = args.gateway.trim_end_matches('/');
    let url = format!("{base}/v1/farm");
    let http = args
        .call_tls
        .client_tls()
        .reqwest()
        .map_err(|e| e.to_string())?
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = http.get(&url);
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    let response =
        request
            .send()
            .await
            .map_err(|e| match browserfarm_http::describe_failure(&e) {
                Some(tls) => format!("TLS to the gateway at {base} failed: {tls}"),
                None => format!(
                    "cannot reach the gateway at {base} ({e}); is `browserfarm mcp --http` or \
             `--registry-listen` running there? (--gateway / BROWSERFARM_GATEWAY)"
                ),
            })?;
    let code = response.status();
    if code == reqwest::StatusCode::UNAUTHORIZED {
        return Err(format!(
            "the gateway at {base} refused the token (HTTP 401); pass --token or set \
             BROWSERFARM_TOKEN"
        ));
    }
    if !code.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "the gateway at {base} answered HTTP {code}: {body}"
        ));
    }
    response
        .json::<FarmStatus>()
        .await
        .map_err(|e| format!("unreadable status from {url}: {e}"))
}

fn table(status: &FarmStatus) -> String {
    let mut out = String::from(
        "NODE                      STATE    BREAKER    LOAD    ARCH     JOBS OK  FAILED  HEARTBEAT  TAGS / LAST ERROR\n",
    );
    for n in &status.nodes {
        let mut detail = format_tags(&n.tags);
        if let Some(e) = &n.last_error {
            if !detail.is_empty() {
                detail.push_str("  ");
            }
            detail.push_str(e);
        }
        out.push_str(&format!(
            "{:<25} {:<8} {:<10} {:>3}/{:<3} {:<8} {:>7} {:>7}  {:<9}  {}\n",
            n.name,
            n.state,
            n.breaker,
            n.in_flight,
            n.capacity,
            n.arch.as_deref().unwrap_or("?"),
            n.jobs_ok,
            n.jobs_failed,
            n.last_heartbeat_secs
                .map(|s| format!("{s} s ago"))
                .unwrap_or_else(|| "-".into()),
            detail
        ));
    }
    let up = status.nodes.iter().filter(|n| n.state == "up").count();
    let capacity: usize = status
        .nodes
        .iter()
        .filter(|n| n.state == "up")
        .map(|n| n.capacity)
        .sum();
    let in_flight: usize = status.nodes.iter().map(|n| n.in_flight).sum();
    out.push_str(&format!(
        "\n{up} of {} nodes up, {in_flight} jobs in flight, capacity {capacity}, {} sessions open\n",
        status.nodes.len(),
        status.sessions
    ));
    out
}
