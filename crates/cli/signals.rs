//! The operating system asking the process to stop, or to re-read its files:
//! SIGTERM and SIGINT (Ctrl-C) stop it on Unix, SIGHUP re-reads; on Windows
//! Ctrl-C, Ctrl-Break, a closed console window and a system shutdown stop it,
//! and there is no hang-up (files are re-read when they change, on every system).

use tokio_util::sync::CancellationToken;

/// Cancels `token` when the system asks the process to stop.
#[cfg(unix)]
pub async fn cancel_on_stop(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop by closing stdin");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    token.cancel();
}

/// Cancels `token` when the system asks the process to stop.
#[cfg(windows)]
pub async fn cancel_on_stop(token: CancellationToken) {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_shutdown};
    let (Ok(mut int), Ok(mut brk), Ok(mut close), Ok(mut shutdown)) =
        (ctrl_c(), ctrl_break(), ctrl_close(), ctrl_shutdown())
    else {
        tracing::warn!("cannot install console handlers; stop by closing stdin");
        return;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("Ctrl-C: shutting down"),
        _ = brk.recv() => tracing::info!("Ctrl-Break: shutting down"),
        _ = close.recv() => tracing::info!("console closed: shutting down"),
        _ = shutdown.recv() => tracing::info!("system shutdown: shutting down"),
    }
    token.cancel();
}

/// Calls `reload` on every SIGHUP until it returns false.
#[cfg(unix)]
pub fn on_hangup(reload: impl Fn() -> bool + Send + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangup.recv().await.is_some() {
            if !reload() {
                return;
            }
        }
    });
}

/// Windows has no hang-up signal: the file watcher alone re-reads.
#[cfg(windows)]
pub fn on_hangup(_reload: impl Fn() -> bool + Send + 'static) {}
