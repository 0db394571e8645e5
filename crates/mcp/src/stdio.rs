//! MCP over stdio: newline-delimited JSON-RPC on stdin/stdout.
//!
//! rmcp silently drops lines that are not JSON (to avoid error storms between two
//! confused peers). A client that sends a broken line then waits forever for an
//! answer, so a thin framing layer sits in front: it answers unparsable or
//! oversized lines with a JSON-RPC error (`id: null`) and passes everything else
//! through; so does JSON that is not a JSON-RPC 2.0 message (rmcp drops that
//! silently too). It also owns stdout, so rmcp's replies and these errors never
//! interleave mid-line.

use std::sync::Arc;

use browserfarm_gateway::Executor;
use rmcp::ServiceExt;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::BrowserfarmServer;

/// Largest accepted JSON-RPC message, in bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct StdioOptions {
    pub max_message_bytes: usize,
    /// Per-connection tool call limit (`--rate-limit`).
    pub rate_limit: Option<crate::RateLimit>,
    /// Where each tool call is recorded (`--audit-log`).
    pub audit: Option<Arc<crate::AuditLog>>,
    /// Result cache for one-shot reads (`--result-cache`).
    pub cache: Option<Arc<crate::ResultCache>>,
    /// Lets running calls finish (or answer) before the server stops.
    pub drain: crate::Drain,
    /// Most URLs one batch_scrape call may carry.
    pub max_batch_urls: usize,
    /// Most characters of text one tool result may carry.
    pub max_output_chars: usize,
    /// Signs the session handles results carry (`--session-key-file`).
    pub handles: Arc<crate::Handles>,
    /// Which tools are listed (`--tools`).
    pub toolset: crate::Toolset,
    /// Large binary results as links (`--resource-links-over`).
    pub links: Option<Arc<crate::ResourceStore>>,
}

impl Default for StdioOptions {
    fn default() -> Self {
        StdioOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            rate_limit: None,
            audit: None,
            cache: None,
            drain: crate::Drain::new(),
            max_batch_urls: browserfarm_protocol::MAX_BATCH_URLS,
            max_output_chars: browserfarm_protocol::DEFAULT_MAX_OUTPUT_CHARS,
            handles: crate::Handles::shared_default(),
            toolset: crate::Toolset::all(),
            links: None,
        }
    }
}

/// Serves one MCP connection over this process's stdin/stdout until stdin closes or
/// `shutdown` is cancelled, then closes the connection's browser session.
pub async fn serve_stdio(
    executor: Arc<dyn Executor>,
    options: StdioOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve(
        executor,
        options,
        shutdown,
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
}

async fn serve<R, W>(
    executor: Arc<dyn Executor>,
    options: StdioOptions,
    shutdown: CancellationToken,
    input: R,
    output: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    const PIPE: usize = 256 * 1024;
    let (to_rmcp, rmcp_in) = tokio::io::duplex(PIPE);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(PIPE);
    let (lines_tx, lines_rx) = mpsc::channel::<Vec<u8>>(64);

    let writer = tokio::spawn(write_lines(lines_rx, output));
    let errors = lines_tx.clone();
    let reader = tokio::spawn(async move {
        filter_input(
            BufReader::new(input),
            to_rmcp,
            errors,
            options.max_message_bytes,
        )
        .await
    });
    let forward = tokio::spawn(forward_lines(BufReader::new(from_rmcp), lines_tx));

    let server = BrowserfarmServer::new(executor)
        .with_rate_limit(options.rate_limit)
        .with_audit(options.audit.clone())
        .with_cache(options.cache.clone())
        .with_drain(options.drain.clone())
        .with_max_batch_urls(options.max_batch_urls)
        .with_max_output_chars(options.max_output_chars)
        .with_handles(options.handles.clone())
        .with_toolset(&options.toolset)
        .with_resource_links(options.links.clone());
    let session = server.clone();
    match server
        .serve_with_ct((rmcp_in, rmcp_out), shutdown.child_token())
        .await
    {
        Ok(running) => {
            let reason = running.waiting().await;
            tracing::debug!(?reason, "MCP connection ended");
        }
        Err(e) => tracing::info!(error = %e, "MCP connection ended before initialization"),
    }
    session.close_session().await;
    reader.abort();
    // rmcp's side of the pipe is dropped by now; let the last replies drain.
    let _ = forward.await;
    let _ = writer.await;
    Ok(())
}

/// Reads newline-delimited messages, forwarding valid JSON and answering the rest.
async fn filter_input<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin>(
    mut input: R,
    mut to_rmcp: W,
    errors: mpsc::Sender<Vec<u8>>,
    max: usize,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line_bounded(&mut input, &mut line, max).await? {
            Line::Eof => return Ok(()),
            Line::TooLong(len) => {
                let msg = format!("message of {len}+ bytes exceeds the {max}-byte limit");
                let _ = errors.send(error_response(-32600, &msg, None)).await;
            }
            Line::Complete => {
                let body = line.trim_ascii();
                if body.is_empty() {
                    continue;
                }
                match crate::jsonrpc::check(body) {
                    Ok(()) => {
                        to_rmcp.write_all(body).await?;
                        to_rmcp.write_all(b"\n").await?;
                        to_rmcp.flush().await?;
                    }
                    Err(reply) => {
                        let _ = errors.send(line_of(&reply)).await;
                    }
                }
            }
        }
    }
}

enum Line {
    Complete,
    TooLong(usize),
    Eof,
}

/// Reads one line into `buf` (without the newline), never holding more than `max`
/// bytes: the rest of an oversized line is read and discarded.
async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    let mut seen = 0usize;
    loop {
        let chunk = input.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if seen == 0 {
                Line::Eof
            } else if seen > max {
                Line::TooLong(seen)
            } else {
                Line::Complete
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if seen + take <= max {
            buf.extend_from_slice(&chunk[..take]);
        }
        seen += take;
        input.consume(take + usize::from(done));
        if done {
            return Ok(if seen > max {
                Line::TooLong(seen)
            } else {
                Line::Complete
            });
        }
    }
}

fn error_response(code: i64, message: &str, id: Option<&serde_json::Value>) -> Vec<u8> {
    line_of(&crate::jsonrpc::error_reply(code, message, id))
}

fn line_of(reply: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(reply).expect("JSON values always serialise");
    out.push(b'\n');
    out
}

async fn forward_lines<R: AsyncBufRead + Unpin>(mut from_rmcp: R, lines: mpsc::Sender<Vec<u8>>) {
    loop {
        let mut line = Vec::new();
        match from_rmcp.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if lines.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(mut lines: mpsc::Receiver<Vec<u8>>, mut out: W) {
    while let Some(line) = lines.recv().await {
        if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter over `input`, discarding what it forwards; returns the
    /// error replies it produced.
    async fn errors_for(input: &[u8], max: usize) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(16);
        filter_input(BufReader::new(input), tokio::io::sink(), tx, max)
            .await
            .unwrap();
        let mut errors = Vec::new();
        while let Some(e) = rx.recv().await {
            errors.push(String::from_utf8(e).unwrap());
        }
        errors
    }

    #[tokio::test]
    async fn broken_lines_get_parse_errors_and_valid_ones_pass() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\nnot json\n\n\xff\xfe\n";
        let errors = errors_for(input, 1024).await;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.contains("-32700") && e.contains("\"id\":null"))
        );
    }

    #[tokio::test]
    async fn oversized_lines_are_refused_without_buffering_them() {
        let mut input = vec![b'['; 5000];
        input.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n");
        let errors = errors_for(&input, 100).await;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("-32600") && errors[0].contains("100-byte limit"));
    }

    #[tokio::test]
    async fn valid_messages_reach_rmcp_unchanged() {
        let input = b"  {\"jsonrpc\":\"2.0\",\"method\":\"a\"}  \r\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}";
        let (tx, _rx) = mpsc::channel(16);
        let mut forwarded = Vec::new();
        filter_input(BufReader::new(&input[..]), &mut forwarded, tx, 1024)
            .await
            .unwrap();
        assert_eq!(
            forwarded,
            b"{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n"
        );
    }

    #[tokio::test]
    async fn json_that_is_no_message_gets_an_invalid_request_error() {
        let errors = errors_for(
            b"42
{\"jsonrpc\":\"2.0\",\"id\":7}\n",
            1024,
        )
        .await;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.contains("-32600")), "{errors:?}");
        assert!(errors[1].contains("\"id\":7"), "{errors:?}");
    }
}
