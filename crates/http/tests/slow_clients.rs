//! Clients that never finish their request headers (slow or half-open) do not
//! hold a listener's connections: the server closes them after
//! `HEADER_READ_TIMEOUT`, and serves everyone else meanwhile.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use browserfarm_http::{HEADER_READ_TIMEOUT, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hello", get(|| async { "hello" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, None, async move {
        let _ = stopped.await;
    }));

    // Half a request, then silence.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();

    // Others are served meanwhile.
    let body = reqwest::get(format!("http://{addr}/hello"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");

    // The server ends the slow connection: the read sees its end (or a reset),
    // not the test's own bound.
    let mut buffer = [0u8; 512];
    let read = tokio::time::timeout(
        HEADER_READ_TIMEOUT + Duration::from_secs(20),
        slow.read(&mut buffer),
    )
    .await
    .expect("the server closed the connection");
    if let Ok(n) = read {
        let text = String::from_utf8_lossy(&buffer[..n]);
        assert!(
            !text.contains("hello"),
            "the half request was answered: {text}"
        );
    }
    assert!(
        started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_millis(500),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
    let _ = stop.send(());
}
