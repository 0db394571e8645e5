//! Farm membership from DNS: addresses a name resolves to become nodes, nodes whose
//! address vanished leave, and a failed lookup keeps the nodes already known. Stub
//! nodes are in-process axum servers on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::routing::{get, post};
use axum::{Json, Router};
use browserfarm_gateway::{
    AddressSource, DiscoveryError, DnsName, Executor, FarmConfig, FarmExecutor, NodeSpec,
};
use browserfarm_protocol::{
    Health, Job, JobOutput, NodeStatus, Operation, PageInfo, ScrapeArgs, ScrapeFormat, Scraped,
};

const INTERVAL: Duration = Duration::from_millis(50);

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: "stub".into(),
        arch: "stub".into(),
        tags: Default::default(),
        capacity: 2,
        in_flight: 0,
        queued: 0,
        max_queue: 2,
        browsers_active: 0,
        browsers_idle: 0,
        sessions: 0,
        sessions_max: None,
        sessions_free: None,
        memory_available: None,
        memory_pressure: None,
        cpu_load_pct: None,
        uptime_secs: 0,
        instance: None,
    })
}

async fn job(Json(_job): Json<Job>) -> Json<JobOutput> {
    Json(JobOutput::Scraped(Scraped {
        page: PageInfo {
            url: "http://stub/".into(),
            status: Some(200),
            title: "stub".into(),
            notes: vec![],
            changes: None,
        },
        format: ScrapeFormat::Markdown,
        content: "from a discovered node".into(),
        truncated_chars: 0,
    }))
}

/// A healthy node on 127.0.0.1 that answers every job.
async fn stub_node() -> SocketAddr {
    let app = Router::new()
        .route("/health", get(health))
        .route("/v1/jobs", post(job));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn empty_farm() -> Arc<FarmExecutor> {
    Arc::new(
        FarmExecutor::start(FarmConfig::default(), None)
            .await
            .unwrap(),
    )
}

async fn nodes(farm: &FarmExecutor) -> Vec<NodeStatus> {
    farm.status().await.nodes
}

async fn node_names(farm: &FarmExecutor) -> Vec<String> {
    let mut names: Vec<String> = nodes(farm).await.into_iter().map(|n| n.name).collect();
    names.sort();
    names
}

/// Polls until `done` holds, for a few seconds at most.
async fn eventually(farm: &FarmExecutor, what: &str, done: impl Fn(&[NodeStatus]) -> bool) {
    for _ in 0..100 {
        if done(&nodes(farm).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}; nodes now: {:?}", node_names(farm).await);
}

fn scrape() -> Job {
    Job::new(
        None,
        Operation::Scrape(ScrapeArgs {
            url: Some("http://127.0.0.1/".into()),
            ..Default::default()
        }),
    )
}

#[tokio::test]
async fn a_name_resolving_to_a_node_adds_it_to_the_farm() {
    let addr = stub_node().await;
    let farm = empty_farm().await;
    let name = DnsName::parse(&format!("localhost:{}", addr.port())).unwrap();

    farm.discover(name, INTERVAL).await;

    // localhost may also resolve to ::1, where nothing listens: that node is
    // listed but down, and jobs go to the one that is up.
    let ours = nodes(&farm)
        .await
        .into_iter()
        .find(|n| n.name == addr.to_string())
        .unwrap_or_else(|| panic!("{addr} was not added from DNS"));
    assert_eq!(ours.state, "up");
    assert!(ours.last_heartbeat_secs.is_some());
    let output = farm.run(scrape()).await.expect("a job runs on the node");
    assert!(matches!(output, JobOutput::Scraped(s) if s.content == "from a discovered node"));
    farm.shutdown().await;
}

/// `https://NAME:PORT`: each address is its own node, and its certificate is
/// checked for NAME. The stub's certificate names `localhost` only, so the same
/// node reached by its address alone is refused: the name is what passes.
#[tokio::test]
async fn https_names_reach_each_address_under_the_name_its_certificate_carries() {
    let dir = std::env::temp_dir().join(format!("browserfarm-dns-tls-{}", std::process::id()));
    let files = browserfarm_testkit::TlsFiles::make_for(&dir, "dns", &["localhost"]);
    let app = Router::new()
        .route("/health", get(health))
        .route("/v1/jobs", post(job));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_tls = browserfarm_http::ServerTls {
        cert: files.cert.clone(),
        key: files.key.clone(),
        client_ca: None,
    };
    tokio::spawn(browserfarm_http::serve(
        listener,
        app,
        Some(server_tls),
        std::future::pending(),
    ));
    let config = FarmConfig {
        tls: browserfarm_http::ClientTls {
            ca_file: Some(files.ca.clone()),
            identity: None,
        },
        ..FarmConfig::default()
    };

    let farm = Arc::new(FarmExecutor::start(config.clone(), None).await.unwrap());
    let name = DnsName::parse(&format!("https://localhost:{}", addr.port())).unwrap();
    farm.discover(name, INTERVAL).await;
    let ours = nodes(&farm)
        .await
        .into_iter()
        .find(|n| n.name == addr.to_string())
        .unwrap_or_else(|| panic!("{addr} was not added from DNS"));
    assert_eq!(ours.state, "up", "{ours:?}");
    let output = farm.run(scrape()).await.expect("a job runs over TLS");
    assert!(matches!(output, JobOutput::Scraped(s) if s.content == "from a discovered node"));
    farm.shutdown().await;

    let by_address = FarmExecutor::start(
        FarmConfig {
            nodes: vec![NodeSpec {
                url: format!("https://{addr}"),
                token: None,
                weight: 1.0,
                tags: Default::default(),
                server_name: None,
            }],
            ..config
        },
        None,
    )
    .await
    .unwrap();
    let refused = &by_address.status().await.nodes[0];
    assert_eq!(refused.state, "down");
    let error = refused.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("not issued for the address"), "{error}");
    assert!(
        error.contains("only valid for DnsName(\"localhost\")"),
        "{error}"
    );
    by_address.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Addresses a test sets by hand; `None` makes the lookup fail.
#[derive(Clone, Default)]
struct FakeDns(Arc<Mutex<Option<Vec<SocketAddr>>>>);

impl FakeDns {
    fn answer(&self, addrs: Option<Vec<SocketAddr>>) {
        *self.0.lock().unwrap() = addrs;
    }
}

#[async_trait]
impl AddressSource for FakeDns {
    async fn addresses(&self) -> Result<Vec<SocketAddr>, DiscoveryError> {
        self.0
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| DiscoveryError::Resolve {
                name: "fake".into(),
                source: std::io::Error::other("SERVFAIL"),
            })
    }

    fn describe(&self) -> String {
        "fake".into()
    }
}

#[tokio::test]
async fn nodes_follow_dns_and_a_failed_lookup_keeps_them() {
    let (a, b) = (stub_node().await, stub_node().await);
    let (a_name, b_name) = (a.to_string(), b.to_string());
    let dns = FakeDns::default();
    dns.answer(Some(vec![a, b]));
    let farm = empty_farm().await;

    farm.discover(dns.clone(), INTERVAL).await;
    let mut both = vec![a_name.clone(), b_name.clone()];
    both.sort();
    assert_eq!(node_names(&farm).await, both);

    dns.answer(Some(vec![b]));
    eventually(&farm, "the node gone from DNS should leave", |n| {
        n.len() == 1 && n[0].name == b_name
    })
    .await;

    dns.answer(None);
    tokio::time::sleep(INTERVAL * 6).await;
    let kept = nodes(&farm).await;
    assert_eq!(kept.len(), 1, "a failed lookup must keep the known nodes");
    assert_eq!(
        (kept[0].name.as_str(), kept[0].state.as_str()),
        (b_name.as_str(), "up")
    );

    dns.answer(Some(vec![a, b]));
    eventually(&farm, "a node back in DNS should rejoin", |n| n.len() == 2).await;

    dns.answer(Some(vec![]));
    eventually(&farm, "an empty answer should empty the farm", |n| {
        n.is_empty()
    })
    .await;
    farm.shutdown().await;
}

#[tokio::test]
async fn discovery_stops_at_shutdown() {
    let a = stub_node().await;
    let dns = FakeDns::default();
    let farm = empty_farm().await;
    farm.discover(dns.clone(), INTERVAL).await;
    assert!(nodes(&farm).await.is_empty());

    farm.shutdown().await;
    dns.answer(Some(vec![a]));
    tokio::time::sleep(INTERVAL * 4).await;
    assert!(
        nodes(&farm).await.is_empty(),
        "no node may join a farm that has shut down"
    );
}
