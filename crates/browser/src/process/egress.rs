//! The forward proxy that a pool with a host policy puts every Chromium behind
//! (`--proxy-server`), so that a request goes to an address the policy checked.
//!
//! For each connection Chromium asks for, the proxy resolves the name once, checks
//! the name and every address against the policy, and connects to a checked
//! address. Chromium resolves nothing itself. That closes DNS rebinding (a name
//! answering a public address to the check and a private one to the connect), and
//! it also covers requests that CDP `Fetch` cannot pause, such as a popup's first
//! request. `Fetch` stays in front for clear errors and notes.
//!
//! It speaks just enough HTTP/1.1 for a browser. `CONNECT host:port` (https, wss)
//! becomes a byte tunnel. An absolute-form request (plain http) is forwarded on a
//! fresh connection. It listens on 127.0.0.1 only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::gate::Gate;

/// Deadline for connecting to one upstream address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Body = BoxBody<Bytes, hyper::Error>;

/// A running proxy; stops accepting when dropped.
pub(crate) struct Egress {
    addr: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Egress {
    /// Listens on a free loopback port. Must be called inside a Tokio runtime.
    pub(crate) fn start(gate: Arc<Gate>) -> std::io::Result<Egress> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = TcpListener::from_std(listener)?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, say: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let gate = gate.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let gate = gate.clone();
                        async move { Ok::<_, Infallible>(handle(&gate, req).await) }
                    });
                    let served = hyper::server::conn::http1::Builder::new()
                        .preserve_header_case(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                    if let Err(e) = served {
                        tracing::trace!(error = %e, "egress connection ended");
                    }
                });
            }
        });
        Ok(Egress {
            addr,
            task: task.abort_handle(),
        })
    }

    /// Where Chromium should send its requests.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn handle(gate: &Gate, req: Request<Incoming>) -> Response<Body> {
    let connect = req.method() == Method::CONNECT;
    let Some(authority) = req.uri().authority().cloned() else {
        return answer(
            StatusCode::BAD_REQUEST,
            "this proxy only forwards absolute-form requests and CONNECT",
        );
    };
    let host = authority.host();
    let port = authority
        .port_u16()
        .unwrap_or(if connect { 443 } else { 80 });
    let addresses = match gate.admit(host, port).await {
        Ok(addresses) => addresses,
        Err(e) => {
            tracing::debug!(host, port, "egress refused: {}", e.message);
            return answer(
                StatusCode::FORBIDDEN,
                &format!("browserfarm: {}", e.message),
            );
        }
    };
    let upstream = match connect_any(&addresses).await {
        Ok(stream) => stream,
        Err(e) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                &format!("browserfarm: could not connect to {host}:{port}: {e}"),
            );
        }
    };
    if connect {
        tokio::spawn(async move {
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => {
                    let mut upstream = upstream;
                    let _ =
                        tokio::io::copy_bidirectional(&mut TokioIo::new(upgraded), &mut upstream)
                            .await;
                }
                Err(e) => tracing::trace!(error = %e, "egress tunnel not upgraded"),
            }
        });
        return Response::new(empty());
    }
    match forward(req, upstream).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(e) => answer(
            StatusCode::BAD_GATEWAY,
            &format!("browserfarm: {host}:{port} did not answer: {e}"),
        ),
    }
}

/// Sends a plain-http request on `upstream` in origin form.
async fn forward(
    req: Request<Incoming>,
    upstream: TcpStream,
) -> Result<Response<Incoming>, hyper::Error> {
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(upstream))
        .await?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::trace!(error = %e, "egress upstream connection ended");
        }
    });
    let (mut parts, body) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap_or_else(|_| hyper::Uri::from_static("/"));
    parts.headers.remove("proxy-connection");
    parts.headers.remove(hyper::header::PROXY_AUTHORIZATION);
    sender.send_request(Request::from_parts(parts, body)).await
}

async fn connect_any(addresses: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        }
    }
    Err(last)
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(text.to_owned()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
