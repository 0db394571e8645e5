//! Serving a router, over plain HTTP or TLS: the one place a listener is
//! started, so every listener (agent, registry, MCP over HTTP, `/metrics`)
//! speaks TLS the same way when given a certificate, and picks up a renewed
//! certificate without a restart.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::tls::ServerTls;
use crate::watch::{self, Reloaded};

/// A request extension set on every request a TLS listener serves: the
/// dashboard's sign-in cookie is `Secure` then.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// How long a client may take to send a request's headers. A slow or
/// half-open client would otherwise hold its connection (and a file
/// descriptor, and a place in the accept backlog) for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets running
/// requests finish. With `tls`, as HTTPS; the certificate, key and client CA
/// are read again when one of them changes (a renewal by certbot or a
/// Kubernetes secret), and a broken renewal keeps the previous ones. Either
/// way a connection whose request headers take longer than
/// [`HEADER_READ_TIMEOUT`] is closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stop = handle.clone();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        stop.graceful_shutdown(None);
    });
    let listener = listener.into_std()?;
    let result = match tls {
        None => {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let mut server = axum_server::from_tcp(listener).handle(handle);
            bound_header_reads(server.http_builder());
            server.serve(service).await
        }
        Some(tls) => {
            let service = app
                .layer(axum::Extension(OverTls))
                .into_make_service_with_connect_info::<SocketAddr>();
            let config = RustlsConfig::from_config(tls.load().map_err(std::io::Error::other)?);
            let watcher = reload_on_change(tls, config.clone());
            let mut server = axum_server::from_tcp_rustls(listener, config).handle(handle);
            bound_header_reads(server.http_builder());
            let result = server.serve(service).await;
            watcher.abort();
            result
        }
    };
    stopper.abort();
    result
}

/// hyper's header-read timeout takes effect only with a timer.
fn bound_header_reads(builder: &mut hyper_util::server::conn::auto::Builder<TokioExecutor>) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
}

fn reload_on_change(tls: ServerTls, config: RustlsConfig) -> tokio::task::JoinHandle<()> {
    let files = tls.files().into_iter().map(Path::to_owned).collect();
    watch::on_change(files, move || match tls.load() {
        Ok(new) => {
            config.reload_from_config(new);
            tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded");
            Reloaded::Done
        }
        // Mid-write (the key renewed, the certificate not yet): try again at
        // the next tick; until then the old pair serves.
        Err(e) => {
            tracing::warn!(error = %e, "cannot reload the TLS certificate; keeping the previous one");
            Reloaded::Retry
        }
    })
}
