//! TLS listeners and clients with certificates made for the test: a trusted
//! CA works, a wrong one is refused in words a person can act on, mutual TLS
//! lets only clients with the CA's certificate in, and a renewed certificate
//! is served without a restart.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use browserfarm_http::{ClientTls, ServerTls, describe_failure, serve};
use browserfarm_testkit::TlsFiles;

fn dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("browserfarm-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn start(tls: ServerTls) -> (String, tokio_util_stop::Stop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}/hello",
        listener.local_addr().unwrap().port()
    );
    let app = Router::new().route("/hello", get(|| async { "hello over TLS" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, Some(tls), async move {
        let _ = stopped.await;
    }));
    (url, tokio_util_stop::Stop(Some(stop)))
}

mod tokio_util_stop {
    /// Stops the server when dropped.
    pub struct Stop(pub Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
}

async fn get_with(client: ClientTls, url: &str) -> Result<String, reqwest::Error> {
    let http = client
        .reqwest()
        .unwrap()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    http.get(url).send().await?.error_for_status()?.text().await
}

fn trusting(files: &TlsFiles) -> ClientTls {
    ClientTls {
        ca_file: Some(files.ca.clone()),
        identity: None,
    }
}

#[tokio::test]
async fn a_trusted_ca_works_and_a_wrong_one_is_refused_clearly() {
    let ours = TlsFiles::make(&dir("ours"), "ours");
    let theirs = TlsFiles::make(&dir("theirs"), "theirs");
    let (url, _stop) = start(ServerTls {
        cert: ours.cert.clone(),
        key: ours.key.clone(),
        client_ca: None,
    })
    .await;
    assert_eq!(
        get_with(trusting(&ours), &url).await.unwrap(),
        "hello over TLS"
    );

    let refused = get_with(trusting(&theirs), &url).await.unwrap_err();
    let said = describe_failure(&refused).unwrap_or_else(|| panic!("undescribed: {refused:?}"));
    assert!(
        said.contains("not signed by a CA this process trusts"),
        "{said}"
    );

    let plain = reqwest::get(url.replace("https://", "http://")).await;
    assert!(plain.is_err(), "plain HTTP to a TLS listener fails");
}

#[tokio::test]
async fn mutual_tls_lets_in_only_clients_with_the_cas_certificate() {
    let farm = TlsFiles::make(&dir("mtls"), "farm");
    let stranger = TlsFiles::make(&dir("stranger"), "stranger");
    let (url, _stop) = start(ServerTls {
        cert: farm.cert.clone(),
        key: farm.key.clone(),
        client_ca: Some(farm.ca.clone()),
    })
    .await;
    let with = |files: &TlsFiles| ClientTls {
        ca_file: Some(farm.ca.clone()),
        identity: Some((files.client_cert.clone(), files.client_key.clone())),
    };
    assert_eq!(get_with(with(&farm), &url).await.unwrap(), "hello over TLS");
    let without = get_with(trusting(&farm), &url).await.unwrap_err();
    let said = describe_failure(&without).unwrap_or_else(|| panic!("undescribed: {without:?}"));
    assert!(said.contains("requires a client certificate"), "{said}");
    let foreign = get_with(with(&stranger), &url).await.unwrap_err();
    assert!(describe_failure(&foreign).is_some(), "{foreign:?}");
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let first = TlsFiles::make(&dir("first"), "first");
    let second = TlsFiles::make(&dir("second"), "second");
    let (url, _stop) = start(ServerTls {
        cert: first.cert.clone(),
        key: first.key.clone(),
        client_ca: None,
    })
    .await;
    assert!(get_with(trusting(&first), &url).await.is_ok());
    assert!(get_with(trusting(&second), &url).await.is_err());
    first.replace_server_with(&second);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get_with(trusting(&second), &url).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewal was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        get_with(trusting(&first), &url).await.is_err(),
        "the old CA no longer fits"
    );
}
