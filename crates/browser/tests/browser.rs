//! The browser pool and sessions against real Chromium: isolation, recycling, idle
//! shutdown, and recovery from a Chromium killed between and during jobs.

use std::time::Duration;

use browserfarm_browser::{Pool, PoolConfig, Session};
use browserfarm_protocol::{
    ErrorKind, JobOutput, NavigateArgs, Operation, ScrapeArgs, ScrapeFormat,
};
use browserfarm_testkit::Fixtures;

fn pool(tweak: impl FnOnce(&mut PoolConfig)) -> Pool {
    let mut config = PoolConfig {
        min_browsers: 0,
        ..PoolConfig::default()
    };
    tweak(&mut config);
    Pool::start(config).expect("Chromium is installed")
}

fn navigate(url: String) -> Operation {
    Operation::Navigate(NavigateArgs {
        url: Some(url),
        ..Default::default()
    })
}

async fn page_text(session: &mut Session, url: Option<String>) -> String {
    let op = Operation::Scrape(ScrapeArgs {
        url,
        format: Some(ScrapeFormat::Text),
        main_content: Some(false),
        max_chars: None,
        full: None,
    });
    match session.run(&op).await.expect("scrape") {
        JobOutput::Scraped(s) => s.content,
        other => panic!("unexpected {other:?}"),
    }
}

/// After a crash the session works again, on a different Chromium process.
async fn carries_on_in_a_fresh_browser(mut s: Session, pages: &Fixtures, old_pid: u32) {
    let text = page_text(&mut s, Some(pages.url("/article"))).await;
    assert!(text.contains("Growing Browsers"), "{text}");
    assert_ne!(s.browser_pid(), Some(old_pid));
    s.close().await;
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

async fn once_text(pool: &Pool, url: String) -> String {
    once_text_in(pool, url, None).await
}

async fn once_text_in(pool: &Pool, url: String, group: Option<&str>) -> String {
    let op = Operation::Scrape(ScrapeArgs {
        url: Some(url),
        format: Some(ScrapeFormat::Text),
        main_content: Some(false),
        max_chars: None,
        full: None,
    });
    match Session::run_once(pool, &op, group)
        .await
        .expect("one-off scrape")
    {
        JobOutput::Scraped(s) => s.content,
        other => panic!("unexpected {other:?}"),
    }
}

/// One-off jobs reuse a warm tab, but each finds it wiped: no cookie, no storage
/// and no page left by the job before it.
#[tokio::test]
async fn one_off_jobs_leave_nothing_for_the_next() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| c.max_browsers = 1);
    for round in 0..3 {
        let set = once_text(&pool, pages.url(&format!("/cookie/set?v=r{round}"))).await;
        assert!(set.contains(&format!("cookie set to r{round}")), "{set}");
        let seen = once_text(&pool, pages.url("/cookie/show")).await;
        assert!(seen.contains("cookies: none"), "round {round}: {seen}");
        let stored = once_text(&pool, pages.url("/storage")).await;
        assert!(stored.contains("storage: empty"), "round {round}: {stored}");
    }
    // A one-off job that loads no page must not act on the last job's page.
    let op = Operation::Evaluate(browserfarm_protocol::EvaluateArgs {
        expression: "location.href".into(),
        max_chars: None,
    });
    match Session::run_once(&pool, &op, None).await.expect("evaluate") {
        JobOutput::Evaluated { value } => assert_eq!(value, serde_json::json!("about:blank")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        pool.status().running,
        1,
        "one warm browser served every job"
    );
    pool.shutdown().await;
}

/// One-off jobs of one group run as tabs of one browser and share its cookies
/// while they run; a job of another group running at the same time never sees
/// them, and later groups find the context wiped.
#[tokio::test]
async fn grouped_one_off_jobs_share_one_browser_and_nothing_crosses_groups() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| c.max_browsers = 2);
    let a = Some("a");
    // Six slow pages keep group a's browser busy while the rest happens.
    let busy = futures::future::join_all(
        (0..6).map(|i| once_text_in(&pool, pages.url(&format!("/wait/1500?{i}")), a)),
    );
    let rest = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let set = once_text_in(&pool, pages.url("/cookie/set?v=a"), a).await;
        assert!(set.contains("cookie set to a"), "{set}");
        let (same, other) = tokio::join!(
            once_text_in(&pool, pages.url("/cookie/show"), a),
            once_text_in(&pool, pages.url("/cookie/show"), Some("b")),
        );
        assert!(
            same.contains("farm=a"),
            "group a shares its cookies: {same}"
        );
        assert!(
            other.contains("cookies: none"),
            "group b sees none: {other}"
        );
    };
    let (waited, ()) = tokio::join!(busy, rest);
    assert!(
        waited.iter().all(|t| t.contains("Waited 1500 ms")),
        "{waited:?}"
    );
    assert_eq!(
        pool.status().running,
        2,
        "group a's 8 jobs ran in one browser, group b's in another"
    );
    // Both browsers again, each for a group of its own: both wiped.
    let (c, d) = tokio::join!(
        once_text_in(&pool, pages.url("/cookie/show"), Some("c")),
        once_text_in(&pool, pages.url("/cookie/show"), Some("d")),
    );
    assert!(c.contains("cookies: none"), "{c}");
    assert!(d.contains("cookies: none"), "{d}");
    pool.shutdown().await;
}

#[tokio::test]
async fn sessions_sharing_one_browser_never_share_cookies() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| c.max_browsers = 1);
    let mut first = Session::open(&pool).await.unwrap();
    let pid = first.browser_pid();
    first
        .run(&navigate(pages.url("/cookie/set?v=first")))
        .await
        .unwrap();
    assert!(
        page_text(&mut first, Some(pages.url("/cookie/show")))
            .await
            .contains("farm=first")
    );
    first.close().await;

    let mut second = Session::open(&pool).await.unwrap();
    assert_eq!(
        second.browser_pid(),
        pid,
        "the same Chromium process is reused"
    );
    let seen = page_text(&mut second, Some(pages.url("/cookie/show"))).await;
    assert!(seen.contains("cookies: none"), "{seen}");
    second.close().await;
    pool.shutdown().await;
}

/// Calls arriving while the pool starts wait for the browser being warmed (and
/// use the context it opened ahead) instead of starting a second Chromium beside
/// it, a session as well as a one-off job.
#[tokio::test]
async fn the_first_calls_wait_for_the_warming_browser() {
    let pages = Fixtures::start().await;
    for session_first in [true, false] {
        let pool = pool(|c| c.min_browsers = 1);
        if session_first {
            let mut s = Session::open(&pool).await.unwrap();
            let text = page_text(&mut s, Some(pages.url("/cookie/show"))).await;
            assert!(text.contains("cookies: none"), "{text}");
            s.close().await;
        }
        let text = once_text(&pool, pages.url("/article")).await;
        assert!(text.contains("Growing Browsers"), "{text}");
        assert_eq!(
            pool.status().running,
            1,
            "a second Chromium was started (session first: {session_first})"
        );
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn browsers_are_recycled_after_max_leases() {
    // One session per process: no context is opened ahead to count a lease.
    let pool = pool(|c| {
        c.max_browsers = 1;
        c.sessions_per_browser = 1;
        c.max_leases = 2;
    });
    let mut pids = Vec::new();
    for _ in 0..3 {
        let mut s = Session::open(&pool).await.unwrap();
        pids.push(s.browser_pid().unwrap());
        s.close().await;
    }
    assert_eq!(pids[0], pids[1], "second lease reuses the process");
    assert_ne!(pids[1], pids[2], "third lease gets a fresh process");
    pool.shutdown().await;
    assert!(!process_exists(pids[2]));
}

#[tokio::test]
async fn idle_browsers_are_closed() {
    let pool = pool(|c| c.idle_timeout = Duration::from_millis(300));
    let mut s = Session::open(&pool).await.unwrap();
    let pid = s.browser_pid().unwrap();
    s.close().await;
    assert_eq!(pool.status().running, 1);
    for _ in 0..50 {
        if pool.status().running == 0 && !process_exists(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pool.status().running, 0);
    assert!(!process_exists(pid), "idle Chromium {pid} still running");
    pool.shutdown().await;
}

#[tokio::test]
async fn chromium_killed_between_jobs_is_replaced_and_the_caller_told() {
    let pages = Fixtures::start().await;
    let pool = pool(|_| {});
    let mut s = Session::open(&pool).await.unwrap();
    s.run(&navigate(pages.url("/article"))).await.unwrap();
    let old = s.browser_pid().unwrap();
    kill9(old);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Reading the current page cannot work: its state died with the browser.
    let err = s
        .run(&Operation::Scrape(ScrapeArgs::default()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BrowserCrashed, "{err}");
    assert!(err.message.contains("Navigate again"), "{err}");
    carries_on_in_a_fresh_browser(s, &pages, old).await;
    pool.shutdown().await;
}

#[tokio::test]
async fn chromium_killed_mid_job_fails_the_job_fast_and_the_next_succeeds() {
    let pages = Fixtures::start().await;
    let pool = pool(|_| {});
    let mut s = Session::open(&pool).await.unwrap();
    let old = s.browser_pid().unwrap();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        kill9(old);
    });
    let started = std::time::Instant::now();
    // /slow never answers; only the kill ends this job before its 30 s deadline.
    let err = s.run(&navigate(pages.url("/slow"))).await.unwrap_err();
    killer.await.unwrap();
    assert!(
        matches!(err.kind, ErrorKind::BrowserCrashed | ErrorKind::PageCrashed),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );

    carries_on_in_a_fresh_browser(s, &pages, old).await;
    pool.shutdown().await;
}

#[tokio::test]
async fn shutdown_leaves_no_chromium() {
    let pool = pool(|c| c.max_browsers = 2);
    let (a, b) = tokio::join!(Session::open(&pool), Session::open(&pool));
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    let pids = [a.browser_pid().unwrap(), b.browser_pid().unwrap()];
    a.close().await;
    b.close().await;
    pool.shutdown().await;
    for pid in pids {
        assert!(!process_exists(pid), "Chromium {pid} survived shutdown");
    }
}

/// Idle sessions packed into one Chromium cost one renderer each, whatever
/// Chromium's version: a count, not a timing, so a new Chromium that keeps a
/// second process per context (156 did: a renderer for each window's omnibox
/// popup, loaded as a web page until `WebUIOmniboxPopup` and
/// `WebUIOmniboxAimPopup` were turned off) fails here, not on users' memory.
#[tokio::test]
async fn idle_sessions_cost_one_renderer_each() {
    const SESSIONS: usize = 6;
    let pages = Fixtures::start().await;
    let pool = pool(|_| {});
    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let mut s = Session::open(&pool).await.unwrap();
        s.run(&navigate(pages.url(&format!("/p/{n}"))))
            .await
            .expect("navigate");
        sessions.push(s);
    }
    let pid = sessions[0].browser_pid().unwrap();
    assert!(
        sessions.iter().all(|s| s.browser_pid() == Some(pid)),
        "the sessions are packed into one Chromium"
    );
    // Besides one per session: Chromium's one spare renderer, and the pool's
    // context opened ahead for the next session (its blank tab).
    let allowed = SESSIONS + 2;
    let mut seen = usize::MAX;
    // Renderers of closed pages exit within moments; wait for the count to
    // come down rather than read it once.
    for _ in 0..50 {
        seen = renderers_of(pid).len();
        if seen <= allowed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen <= allowed,
        "{seen} renderers for {SESSIONS} idle sessions (at most {allowed} expected): this \
         Chromium keeps more per context; see DEFAULT_ARGS in process/chrome.rs"
    );
    for mut s in sessions {
        s.close().await;
    }
    pool.shutdown().await;
}

/// Descendants of `pid` whose command line says they are renderers.
fn renderers_of(pid: u32) -> Vec<u32> {
    let procs: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).ok()?;
            Some((p, ppid, cmd.replace('\0', " ")))
        })
        .collect();
    let mut family = vec![pid];
    let mut grew = true;
    while grew {
        grew = false;
        for (p, ppid, _) in &procs {
            if family.contains(ppid) && !family.contains(p) {
                family.push(*p);
                grew = true;
            }
        }
    }
    procs
        .into_iter()
        .filter(|(p, _, cmd)| family.contains(p) && cmd.contains("--type=renderer"))
        .map(|(p, _, _)| p)
        .collect()
}

#[tokio::test]
async fn a_crashed_renderer_fails_the_call_in_time_and_the_tab_is_replaced_cookies_kept() {
    let pages = Fixtures::start().await;
    let pool = pool(|_| {});
    let mut s = Session::open(&pool).await.unwrap();
    let pid = s.browser_pid().unwrap();
    page_text(&mut s, Some(pages.url("/cookie/set?v=kept"))).await;
    page_text(&mut s, Some(pages.url("/article"))).await;
    let renderers = renderers_of(pid);
    assert!(!renderers.is_empty(), "no renderer under {pid}");
    for r in renderers {
        kill9(r);
    }
    let started = std::time::Instant::now();
    let op = Operation::Scrape(ScrapeArgs::default());
    // Usually answered in about 0.1 s, from Chromium's crash report; under load
    // the report can lag, and the call must still end within its deadline.
    let err = s.run(&op).await.unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::PageCrashed | ErrorKind::BrowserCrashed),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    // The next call works; a crashed tab is replaced in the same browser with
    // the session's cookies.
    let shown = page_text(&mut s, Some(pages.url("/cookie/show"))).await;
    if err.kind == ErrorKind::PageCrashed {
        assert_eq!(s.browser_pid(), Some(pid));
        assert!(shown.contains("farm=kept"), "{shown}");
    }
    s.close().await;
    pool.shutdown().await;
}

/// A listener that counts the connections it gets and answers each with a tiny
/// page: somewhere to see whether a request arrived at all.
async fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\
                          Connection: close\r\n\r\n<title>Counted</title>",
                    )
                    .await;
            });
        }
    });
    (port, count)
}

/// A pool whose policy only allows `pinned.test`, a name only the gate's own
/// resolver knows (it points at 127.0.0.1); Chromium's resolver knows nothing of
/// it but does know `localhost`.
fn pinned_pool() -> Pool {
    use browserfarm_browser::Gate;
    use browserfarm_protocol::HostPolicy;
    let policy = HostPolicy {
        allow: vec!["pinned.test".into()],
        ..HostPolicy::default()
    };
    let gate = Gate::new(policy).with_resolver(std::sync::Arc::new(|host: String, port| {
        Box::pin(async move {
            if host == "pinned.test" {
                Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))])
            } else {
                Err(std::io::Error::other(format!("{host} is unknown here")))
            }
        })
    }));
    pool(|c| {
        c.max_browsers = 1;
        c.gate = Some(std::sync::Arc::new(gate));
    })
}

/// Under a host policy Chromium goes through the egress proxy: it connects to
/// the address the policy checked (closing DNS rebinding), over plain http and
/// CONNECT alike, and nothing reaches a refused host, not even the first request
/// of a popup, which CDP `Fetch` cannot pause.
#[tokio::test]
async fn under_a_policy_chromium_reaches_only_the_addresses_the_policy_checked() {
    let pages = Fixtures::start().await;
    let port = pages.addr.port();
    let pool = pinned_pool();
    let mut session = Session::open(&pool).await.unwrap();

    // https goes through a CONNECT tunnel to the same checked address (the
    // counting server speaks no TLS, so the load itself fails).
    let (tls_port, tls_hits) = counting_server().await;
    let _ = session
        .run(&navigate(format!("https://pinned.test:{tls_port}/")))
        .await;
    assert!(tls_hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // Only the gate can resolve pinned.test, so this page loading means Chromium
    // connected where the gate's lookup said.
    let text = page_text(&mut session, Some(format!("http://pinned.test:{port}/p/7"))).await;
    assert!(text.contains("Page 7"), "{text}");

    // A popup to a refused host: its first request would leave before Fetch can
    // pause it, so only the proxy stands in the way.
    let (port_q, hits) = counting_server().await;
    let link = format!(
        "document.body.insertAdjacentHTML('beforeend', \
         '<a id=\"out\" target=\"_blank\" href=\"http://localhost:{port_q}/\">out</a>')"
    );
    session
        .run(&Operation::Evaluate(browserfarm_protocol::EvaluateArgs {
            expression: link,
            max_chars: None,
        }))
        .await
        .expect("adding the link");
    session
        .run(&Operation::Click(browserfarm_protocol::ClickArgs {
            selector: Some("#out".into()),
            ..Default::default()
        }))
        .await
        .expect("clicking the link");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the refused host got a request"
    );
    session.close().await;
    pool.shutdown().await;
}

/// A one-off job dropped half way (its call cancelled) gives its browser back
/// (its context, which still holds the job's page, is disposed rather than
/// parked), and the next group finds a clean context.
#[tokio::test]
async fn a_cancelled_one_off_job_gives_its_browser_back() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| {
        c.max_browsers = 1;
        c.acquire_timeout = Duration::from_secs(5);
    });
    let set = once_text_in(&pool, pages.url("/cookie/set?v=x"), Some("a"));
    let cancelled = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        once_text_in(&pool, pages.url("/wait/3000"), Some("a")).await
    };
    // The set finishes; the slow page is dropped while it loads.
    let (text, dropped) = tokio::join!(
        set,
        tokio::time::timeout(Duration::from_millis(1200), cancelled)
    );
    assert!(text.contains("cookie set to x"), "{text}");
    assert!(dropped.is_err(), "the slow job was cancelled");
    let seen = once_text_in(&pool, pages.url("/cookie/show"), Some("b")).await;
    assert!(seen.contains("cookies: none"), "{seen}");
    assert_eq!(pool.status().running, 1);
    pool.shutdown().await;
}

async fn eval(session: &mut Session, expression: &str) -> Result<serde_json::Value, String> {
    let op = Operation::Evaluate(browserfarm_protocol::EvaluateArgs {
        expression: expression.into(),
        max_chars: None,
    });
    match session.run(&op).await {
        Ok(JobOutput::Evaluated { value }) => Ok(value),
        Ok(other) => panic!("unexpected {other:?}"),
        Err(e) => Err(e.message),
    }
}

/// Calls `release_if_broken` on every session until some let go (the process's
/// death is noticed within a second or two); returns how many did.
async fn wait_until_released(sessions: &mut [Session]) -> usize {
    for _ in 0..50 {
        let released = sessions
            .iter_mut()
            .map(|s| s.release_if_broken())
            .filter(|released| *released)
            .count();
        if released > 0 {
            return released;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    0
}

/// Sessions are contexts packed into shared processes: isolated from each other
/// within one process, refused with the limit named when every process is full,
/// and a killed process costs only its own sessions.
#[tokio::test]
async fn sessions_pack_into_shared_browsers_and_a_crash_ends_only_its_own() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| {
        c.max_browsers = 2;
        c.sessions_per_browser = 3;
        c.acquire_timeout = Duration::from_secs(2);
    });
    let mut sessions = Vec::new();
    for i in 0..6 {
        let mut s = Session::open(&pool).await.unwrap();
        s.run(&navigate(pages.url(&format!("/cookie/set?v=s{i}"))))
            .await
            .unwrap();
        eval(&mut s, &format!("localStorage.setItem('who', 's{i}')"))
            .await
            .unwrap();
        sessions.push(s);
    }
    let pids: Vec<u32> = sessions.iter().map(|s| s.browser_pid().unwrap()).collect();
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "six sessions in two processes: {pids:?}");
    assert_eq!(pool.status().running, 2);
    let occupancy = pool.sessions();
    assert_eq!(
        (occupancy.open, occupancy.processes, occupancy.max),
        (6, 2, 6)
    );
    for (i, s) in sessions.iter_mut().enumerate() {
        let seen = page_text(s, Some(pages.url("/cookie/show"))).await;
        assert!(
            seen.contains(&format!("cookies: farm=s{i}")),
            "session {i}: {seen}"
        );
        assert_eq!(
            eval(s, "localStorage.getItem('who')").await,
            Ok(format!("s{i}").into())
        );
    }

    let refused = Session::open(&pool)
        .await
        .err()
        .expect("no room for a seventh");
    assert!(
        refused.message.contains("--sessions-per-browser 3"),
        "{}",
        refused.message
    );

    let victim = pids[0];
    kill9(victim);
    // What the sessions' owner does periodically (the gateway's LocalExecutor):
    // the dead process's sessions let go of it, so its place can be refilled.
    let released = wait_until_released(&mut sessions).await;
    assert_eq!(released, 3, "the three sessions of the killed process");
    for (i, s) in sessions.iter_mut().enumerate() {
        let after = eval(s, "localStorage.getItem('who')").await;
        if pids[i] == victim {
            let error = after.expect_err("its process was killed");
            assert!(error.contains("crashed"), "session {i}: {error}");
        } else {
            assert_eq!(
                after,
                Ok(format!("s{i}").into()),
                "session {i} goes on untouched"
            );
        }
    }
    for s in &mut sessions {
        s.close().await;
    }
    assert_eq!(pool.sessions().open, 0, "every seat given back");
    pool.shutdown().await;
}

/// Polls `done` for up to ten seconds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// While sessions are open, a context waits opened ahead for the next one: a
/// new session takes it, fresh (nothing of the other sessions in it), in the
/// process beside them, and another is opened; once the sessions end it is let
/// go, and the process goes back to the pool.
#[tokio::test]
async fn a_new_session_takes_the_context_opened_ahead_and_it_is_fresh() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| c.max_browsers = 2);
    let mut first = Session::open(&pool).await.unwrap();
    first
        .run(&navigate(pages.url("/cookie/set?v=first")))
        .await
        .unwrap();
    eval(&mut first, "localStorage.setItem('who', 'first')")
        .await
        .unwrap();
    assert!(
        eventually(|| pool.sessions().ready == 1).await,
        "a context is opened ahead beside the open session"
    );

    let mut second = Session::open(&pool).await.unwrap();
    assert_eq!(pool.sessions().ready, 0, "the new session took it");
    assert_eq!(second.browser_pid(), first.browser_pid());
    let seen = page_text(&mut second, Some(pages.url("/cookie/show"))).await;
    assert!(seen.contains("cookies: none"), "{seen}");
    assert_eq!(
        eval(&mut second, "localStorage.getItem('who')").await,
        Ok(serde_json::Value::Null)
    );
    assert!(
        eventually(|| pool.sessions().ready == 1).await,
        "another is opened ahead"
    );
    assert_eq!(pool.sessions().open, 2, "the one ahead is not a session");

    first.close().await;
    second.close().await;
    assert!(
        eventually(|| pool.sessions().ready == 0 && pool.status().idle == pool.status().running)
            .await,
        "with no session open the context ahead is let go: {:?} {:?}",
        pool.sessions(),
        pool.status()
    );
    pool.shutdown().await;
}

/// `--max-sessions` and the memory guard refuse a new session with the limit
/// named, and the sessions already open go on.
#[tokio::test]
async fn the_session_limit_and_the_memory_guard_refuse_with_the_limit_named() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| c.max_sessions = 2);
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(Session::open(&pool).await.unwrap());
    }
    let refused = Session::open(&pool).await.err().expect("a third session");
    assert!(
        refused.message.contains("--max-sessions 2"),
        "{}",
        refused.message
    );
    for s in &mut open {
        let text = page_text(s, Some(pages.url("/cookie/show"))).await;
        assert!(text.contains("cookies: none"), "{text}");
        s.close().await;
    }
    assert!(Session::open(&pool).await.is_ok(), "room again once closed");
    pool.shutdown().await;

    // More free memory than any machine has: the guard refuses at once.
    let guarded = self::pool(|c| c.min_free_memory = u64::MAX / 2);
    let refused = Session::open(&guarded)
        .await
        .err()
        .expect("memory is short");
    assert!(
        refused.message.contains("--min-free-memory-mib"),
        "{}",
        refused.message
    );
    guarded.shutdown().await;
}

/// A process that has opened `max_leases` contexts takes no new session, but
/// its session goes on until it ends; then the process retires.
#[tokio::test]
async fn a_process_due_for_recycling_keeps_its_sessions_until_they_end() {
    let pages = Fixtures::start().await;
    // One context per process: the first session's makes its process due.
    let pool = pool(|c| {
        c.max_browsers = 2;
        c.max_leases = 1;
    });
    let mut old = Session::open(&pool).await.unwrap();
    old.run(&navigate(pages.url("/cookie/set?v=old")))
        .await
        .unwrap();
    let retiring = old.browser_pid().unwrap();
    let mut new = Session::open(&pool).await.unwrap();
    assert_ne!(
        new.browser_pid(),
        Some(retiring),
        "a process due for recycling takes no new session"
    );
    let seen = page_text(&mut old, Some(pages.url("/cookie/show"))).await;
    assert!(
        seen.contains("farm=old"),
        "the old session was cut off: {seen}"
    );
    old.close().await;
    assert!(
        eventually(|| !process_exists(retiring)).await,
        "the process retires once its last session ends"
    );
    let seen = page_text(&mut new, Some(pages.url("/cookie/show"))).await;
    assert!(seen.contains("cookies: none"), "{seen}");
    new.close().await;
    pool.shutdown().await;
}

/// The names and states a session's `downloads` lists once it lists one and
/// none is still in progress.
async fn settled_downloads(session: &mut Session) -> Vec<(String, String)> {
    let op = Operation::Downloads(browserfarm_protocol::DownloadsArgs::default());
    for _ in 0..100 {
        let listed = match session.run(&op).await.expect("downloads") {
            JobOutput::Downloads { downloads, .. } => downloads,
            other => panic!("unexpected {other:?}"),
        };
        if !listed.is_empty() && listed.iter().all(|d| d.state != "in progress") {
            return listed.into_iter().map(|d| (d.name, d.state)).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no download, or one still in progress, after ten seconds");
}

/// Download events are browser-wide, and two sessions share one process here:
/// each lists only what its own pages downloaded, a tab's link and an
/// in-process frame's alike, and reads it back.
#[tokio::test]
async fn two_sessions_in_one_process_see_only_their_own_downloads() {
    let pages = Fixtures::start().await;
    let pool = pool(|c| {
        c.max_browsers = 1;
        c.downloads = true;
    });
    let mut a = Session::open(&pool).await.unwrap();
    let mut b = Session::open(&pool).await.unwrap();
    assert_eq!(a.browser_pid(), b.browser_pid(), "one process holds both");
    a.run(&navigate(pages.url("/controls"))).await.unwrap();
    b.run(&navigate(pages.url("/framed-download")))
        .await
        .unwrap();
    a.run(&Operation::Click(browserfarm_protocol::ClickArgs {
        selector: Some("#dl".into()),
        ..Default::default()
    }))
    .await
    .expect("clicking the download link");
    eval(
        &mut b,
        "document.getElementById('f').contentDocument.getElementById('dl-big').click(); 1",
    )
    .await
    .expect("clicking the frame's link");

    let completed = |name: &str| vec![(name.to_owned(), "completed".to_owned())];
    assert_eq!(settled_downloads(&mut a).await, completed("report.csv"));
    assert_eq!(settled_downloads(&mut b).await, completed("big.bin"));
    assert_eq!(
        settled_downloads(&mut a).await,
        completed("report.csv"),
        "nothing of the other session's"
    );
    let read = a
        .run(&Operation::Downloads(browserfarm_protocol::DownloadsArgs {
            index: Some(0),
        }))
        .await
        .expect("reading the report");
    match read {
        JobOutput::File { file, .. } => {
            assert_eq!(file.bytes, browserfarm_testkit::REPORT_CSV.len() as u64)
        }
        other => panic!("unexpected {other:?}"),
    }
    a.close().await;
    b.close().await;
    pool.shutdown().await;
}
