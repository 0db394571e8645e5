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
    let op = Operation::Scrape(ScrapeArgs {
        url: Some(url),
        format: Some(ScrapeFormat::Text),
        main_content: Some(false),
        max_chars: None,
    });
    match Session::run_once(pool, &op).await.expect("one-off scrape") {
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
    match Session::run_once(&pool, &op).await.expect("evaluate") {
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

#[tokio::test]
async fn browsers_are_recycled_after_max_leases() {
    let pool = pool(|c| {
        c.max_browsers = 1;
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
