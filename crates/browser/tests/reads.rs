//! Reads of pages built like the real web, against real Chromium: reads skip
//! what no reader needs and return once the content is ready, with the part a
//! script renders from a late XHR; a session's navigate keeps everything and
//! is not held up by a load still going on; screenshots load every image; and
//! a page that never settles is read at the bound, with a note.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use browserfarm_browser::{Pool, PoolConfig, Session};
use browserfarm_protocol::{
    JobOutput, NavigateArgs, Operation, ScrapeArgs, ScrapeFormat, ScreenshotArgs, WaitUntil,
};
use browserfarm_testkit::Fixtures;

/// A pool whose loads fail after 15 s: a read that waited for a `load` that
/// never comes fails instead of passing slowly.
fn pool() -> Pool {
    Pool::start(PoolConfig {
        min_browsers: 0,
        navigation_timeout: Duration::from_secs(15),
        ..PoolConfig::default()
    })
    .expect("Chromium is installed")
}

fn scrape(url: String, full: Option<bool>) -> Operation {
    Operation::Scrape(ScrapeArgs {
        url: Some(url),
        format: Some(ScrapeFormat::Text),
        main_content: Some(false),
        max_chars: None,
        full,
    })
}

fn scraped(result: Result<JobOutput, browserfarm_protocol::JobError>) -> (String, Vec<String>) {
    match result.expect("the read succeeds") {
        JobOutput::Scraped(s) => (s.content, s.page.notes),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_read_has_the_xhr_rendered_part_without_waiting_for_images_that_never_load() {
    let pages = Fixtures::start().await;
    let pool = pool();
    let url = pages.url("/reads/story?never=1");
    // One-off: the pictures, font and frame are skipped.
    let (text, _) = scraped(Session::run_once(&pool, &scrape(url.clone(), None), None).await);
    for marker in [
        "StoryLeadMarker",
        "StoryEndMarker",
        "Caption 5",
        "XhrRenderedMarker",
    ] {
        assert!(text.contains(marker), "{marker} missing from {text}");
    }
    // A session's scrape skips the same and has the XHR's part too.
    let mut session = Session::open(&pool).await.unwrap();
    let (text, _) = scraped(session.run(&scrape(url.clone(), None)).await);
    assert!(text.contains("XhrRenderedMarker"), "{text}");
    // A session's navigate loads everything: a page whose pictures never load
    // is ready once its HTML is (its XHR waits behind them for a connection),
    // and the next navigation is not held up by the load still going on.
    let never = Operation::Navigate(NavigateArgs {
        url: Some(url),
        ..Default::default()
    });
    session.run(&never).await.expect("ready before load");
    let next = Operation::Navigate(NavigateArgs {
        url: Some(pages.url("/p/3")),
        ..Default::default()
    });
    match session.run(&next).await.expect("the next navigation") {
        JobOutput::Navigated { page } => assert!(page.url.ends_with("/p/3"), "{page:?}"),
        other => panic!("unexpected {other:?}"),
    }
    // Waiting for load still means load.
    let load = Operation::Navigate(NavigateArgs {
        url: Some(pages.url("/reads/story?never=1")),
        wait_until: Some(WaitUntil::Load),
        timeout_ms: Some(1_000),
        ..Default::default()
    });
    let err = session.run(&load).await.expect_err("load never comes");
    assert!(err.message.contains("did not reach 'load'"), "{err:?}");
    session.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn reads_skip_pictures_and_say_so_on_a_page_of_little_text_but_screenshots_show_them() {
    let pages = Fixtures::start().await;
    let pool = pool();
    let url = pages.url("/reads/pictures");
    let (text, notes) = scraped(Session::run_once(&pool, &scrape(url.clone(), None), None).await);
    assert!(text.contains("Pictures"), "{text}");
    assert_eq!(
        pages.pixels.load(Ordering::SeqCst),
        0,
        "a read fetched the picture"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("skipped 1") && n.contains("full=true")),
        "{notes:?}"
    );
    // full=true loads it.
    scraped(Session::run_once(&pool, &scrape(url.clone(), Some(true)), None).await);
    assert_eq!(pages.pixels.load(Ordering::SeqCst), 1);
    // A screenshot on the same warm tab loads it and shows it.
    let shot = Operation::Screenshot(ScreenshotArgs {
        url: Some(url),
        ..Default::default()
    });
    let image = match Session::run_once(&pool, &shot, None)
        .await
        .expect("screenshot")
    {
        JobOutput::Screenshot { image, .. } => image,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(pages.pixels.load(Ordering::SeqCst), 2);
    // In a session, a screenshot of a page scrape loaded says what may be missing.
    let mut session = Session::open(&pool).await.unwrap();
    scraped(
        session
            .run(&scrape(pages.url("/reads/pictures"), None))
            .await,
    );
    let here = Operation::Screenshot(ScreenshotArgs::default());
    match session.run(&here).await.expect("screenshot") {
        JobOutput::Screenshot { page, .. } => assert!(
            page.notes.iter().any(|n| n.contains("loaded by scrape")),
            "{page:?}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pages.pixels.load(Ordering::SeqCst), 2);
    // Once the page loads in full (here a reload), nothing is missing and no
    // note says otherwise.
    let reload = Operation::Navigate(NavigateArgs {
        action: Some(browserfarm_protocol::NavAction::Reload),
        ..Default::default()
    });
    session.run(&reload).await.expect("reload");
    match session.run(&here).await.expect("screenshot") {
        JobOutput::Screenshot { page, .. } => assert!(
            !page.notes.iter().any(|n| n.contains("loaded by scrape")),
            "{page:?}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    session.close().await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&image.data_base64)
        .unwrap();
    let png = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let red = png.pixels().filter(|p| p.0 == [255, 0, 0]).count();
    assert!(
        red > 100_000,
        "only {red} red pixels: the picture is not in the screenshot"
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_page_that_never_settles_is_read_at_the_bound_with_a_note() {
    let pages = Fixtures::start().await;
    let pool = pool();
    let (text, notes) =
        scraped(Session::run_once(&pool, &scrape(pages.url("/reads/restless"), None), None).await);
    assert!(text.contains("RestlessMarker"), "{text}");
    assert!(
        notes.iter().any(|n| n.contains("s after its HTML loaded")),
        "{notes:?}"
    );
    pool.shutdown().await;
}

/// Nothing is lost: what a ready read returns equals what a full read that
/// waits for `load` returns, on every page of the fixture corpus that loads.
#[tokio::test]
async fn a_ready_read_returns_the_same_text_as_a_load_read() {
    let pages = Fixtures::start().await;
    let pool = pool();
    for path in [
        "/article",
        "/form",
        "/p/7",
        "/controls",
        "/big",
        "/reads/story",
        "/reads/pictures",
    ] {
        let url = pages.url(path);
        let (ready, _) = scraped(Session::run_once(&pool, &scrape(url.clone(), None), None).await);
        let (load, _) = scraped(Session::run_once(&pool, &scrape(url, Some(true)), None).await);
        assert_eq!(ready, load, "{path}");
    }
    pool.shutdown().await;
}

/// A block list (Adblock Plus syntax) fails what it names inside Chromium: the
/// ad's script never runs, the story is read, and the network log shows the
/// blocked request. Without the list the same page runs the ad.
#[tokio::test]
async fn a_block_list_keeps_listed_scripts_off_the_page() {
    let pages = Fixtures::start().await;
    let list = browserfarm_browser::BlockList::from_texts(["! ads\n/ads/*$script\n".to_owned()]);
    let gate = browserfarm_browser::Gate::new(browserfarm_protocol::HostPolicy::default())
        .with_block_list(std::sync::Arc::new(list));
    let blocking = Pool::start(PoolConfig {
        min_browsers: 0,
        gate: Some(std::sync::Arc::new(gate)),
        ..PoolConfig::default()
    })
    .expect("Chromium is installed");
    let url = pages.url("/reads/ads");
    let mut session = Session::open(&blocking).await.unwrap();
    let (text, _) = scraped(session.run(&scrape(url.clone(), None)).await);
    assert!(text.contains("AdsStoryMarker"), "{text}");
    assert!(
        !text.contains("AdLoadedMarker"),
        "the listed script ran: {text}"
    );
    let log = session
        .run(&Operation::NetworkRequests(Default::default()))
        .await
        .expect("network log");
    let JobOutput::Requests { entries, .. } = log else {
        panic!("unexpected {log:?}");
    };
    let banner = entries
        .iter()
        .find(|r| r.url.ends_with("/ads/banner.js"))
        .expect("the blocked request is logged");
    assert!(banner.failed(), "{banner:?}");
    session.close().await;
    blocking.shutdown().await;

    let plain = pool();
    let (text, _) = scraped(Session::run_once(&plain, &scrape(url, None), None).await);
    assert!(text.contains("AdLoadedMarker"), "{text}");
    plain.shutdown().await;
}
