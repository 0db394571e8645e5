//! Action results show what changed on the page, against real Chromium: a
//! click that reveals a panel reports its lines with refs that work, a click
//! that changes nothing says so, a click that navigates reports the new page,
//! and the budget cuts with a count of what was left out.

use browserfarm_browser::{Pool, PoolConfig, Session};
use browserfarm_protocol::{ClickArgs, JobOutput, NavigateArgs, Operation, PageChanges};
use browserfarm_testkit::Fixtures;

fn click(selector: &str) -> Operation {
    Operation::Click(ClickArgs {
        selector: Some(selector.into()),
        ..Default::default()
    })
}

fn click_ref(r: &str) -> Operation {
    Operation::Click(ClickArgs {
        element: Some(r.into()),
        ..Default::default()
    })
}

async fn changes(session: &mut Session, op: &Operation) -> PageChanges {
    match session.run(op).await.expect("the action succeeds") {
        JobOutput::Clicked { page } => page.changes.expect("the result shows changes"),
        other => panic!("unexpected {other:?}"),
    }
}

/// The ref on the first line that contains `text`.
fn ref_on(lines: &[String], text: &str) -> String {
    let line = lines
        .iter()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line with {text}: {lines:?}"));
    let at = line.find("[ref=").expect("the line has a ref") + 5;
    line[at..line[at..].find(']').unwrap() + at].to_owned()
}

/// A pool with `config` (no browser started ahead) and a session on the first
/// page of `/changes`.
async fn on_shop_page(pages: &Fixtures, config: PoolConfig) -> (Pool, Session) {
    let pool = Pool::start(PoolConfig {
        min_browsers: 0,
        ..config
    })
    .expect("Chromium is installed");
    let mut s = Session::open(&pool).await.unwrap();
    s.run(&Operation::Navigate(NavigateArgs {
        url: Some(pages.url("/changes?page=1")),
        ..Default::default()
    }))
    .await
    .unwrap();
    (pool, s)
}

#[tokio::test]
async fn actions_show_what_they_changed() {
    let pages = Fixtures::start().await;
    let (pool, mut s) = on_shop_page(&pages, PoolConfig::default()).await;

    // No snapshot was taken: the page as the click found it is the baseline.
    let revealed = changes(&mut s, &click("#reveal")).await;
    assert!(!revealed.new_page);
    assert!(
        revealed
            .lines
            .iter()
            .any(|l| l.starts_with('+') && l.contains("Details revealed")),
        "{revealed:?}"
    );
    let buy = ref_on(&revealed.lines, "Buy now");
    assert!(
        !revealed.lines.iter().any(|l| l.contains("Shop page 1")),
        "unchanged lines are left out: {revealed:?}"
    );
    // The ref the changes gave works, and the change it makes shows in place.
    let bought = changes(&mut s, &click_ref(&buy)).await;
    assert!(
        bought
            .lines
            .iter()
            .any(|l| l.starts_with('~') && l.contains("Bought") && l.contains(&buy)),
        "{bought:?}"
    );

    let nothing = changes(&mut s, &click("#noop")).await;
    assert_eq!(nothing, PageChanges::default(), "nothing changed");

    let many = changes(&mut s, &click("#many")).await;
    let shown: usize = many.lines.iter().map(|l| l.chars().count() + 1).sum();
    assert!(
        shown <= 2_000 && many.omitted > 0,
        "{shown} chars, {many:?}"
    );

    let next = changes(&mut s, &click("a[href='/changes?page=2']")).await;
    assert!(next.new_page, "{next:?}");
    assert!(
        next.lines
            .iter()
            .any(|l| l.contains("Own content of page 2")),
        "{next:?}"
    );
    s.close().await;
    pool.shutdown().await;
}

fn click_with_changes(selector: &str, changes: bool) -> Operation {
    Operation::Click(ClickArgs {
        selector: Some(selector.into()),
        changes: Some(changes),
        ..Default::default()
    })
}

/// `show_changes: false` keeps action results to the page line, and a call
/// can ask either way against the server's default.
#[tokio::test]
async fn changes_can_be_turned_off_per_server_and_per_call() {
    let pages = Fixtures::start().await;
    let config = PoolConfig {
        show_changes: false,
        ..PoolConfig::default()
    };
    let (pool, mut s) = on_shop_page(&pages, config).await;
    match s.run(&click("#reveal")).await.unwrap() {
        JobOutput::Clicked { page } => assert_eq!(page.changes, None),
        other => panic!("unexpected {other:?}"),
    }
    let asked = changes(&mut s, &click_with_changes("#reveal", true)).await;
    assert!(!asked.new_page, "{asked:?}");
    s.close().await;
    pool.shutdown().await;

    let (pool, mut s) = on_shop_page(&pages, PoolConfig::default()).await;
    match s.run(&click_with_changes("#reveal", false)).await.unwrap() {
        JobOutput::Clicked { page } => assert_eq!(page.changes, None),
        other => panic!("unexpected {other:?}"),
    }
    s.close().await;
    pool.shutdown().await;
}

fn snapshot(full: bool) -> Operation {
    Operation::Snapshot(browserfarm_protocol::SnapshotArgs {
        full: full.then_some(true),
        ..Default::default()
    })
}

async fn snapshot_lines(session: &mut Session, full: bool) -> Vec<String> {
    match session.run(&snapshot(full)).await.expect("snapshot") {
        JobOutput::Snapshot { text, .. } => text.lines().map(str::to_owned).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// A page the agent opens itself (a navigate) starts over: its snapshot shows
/// every part whole, since the reader (a new conversation on the same session,
/// say) may never have seen the page before, and every folded line says how
/// to see it whole.
#[tokio::test]
async fn a_navigated_page_is_shown_whole_and_folded_lines_say_how_to_expand() {
    let pages = Fixtures::start().await;
    let (pool, mut s) = on_shop_page(&pages, PoolConfig::default()).await;
    let first = snapshot_lines(&mut s, false).await;
    assert!(first.iter().any(|l| l.contains("Contact")), "{first:?}");
    s.run(&Operation::Navigate(NavigateArgs {
        url: Some(pages.url("/changes?page=2")),
        ..Default::default()
    }))
    .await
    .unwrap();
    let second = snapshot_lines(&mut s, false).await;
    assert!(
        !second.iter().any(|l| l.contains("[as on the last page")),
        "{second:?}"
    );
    assert!(second.iter().any(|l| l.contains("Contact")), "{second:?}");

    // A click to the next page may fold what the agent just saw, and says how
    // to get it back.
    let next = ref_on(&second, "Next page");
    let third = changes(&mut s, &click_ref(&next)).await;
    let folded: Vec<&String> = third
        .lines
        .iter()
        .filter(|l| l.contains("[as on the last page"))
        .collect();
    assert!(!folded.is_empty(), "{third:?}");
    for line in folded {
        assert!(line.contains("snapshot full:true"), "{line}");
    }
    s.close().await;
    pool.shutdown().await;
}

/// A page of the same site names the parts it shares with the page the agent
/// saw before (the nav and footer here) instead of repeating them, and the refs
/// the agent holds for those parts still work on the new page.
#[tokio::test]
async fn a_new_page_names_what_it_shares_with_the_last_and_keeps_its_refs() {
    let pages = Fixtures::start().await;
    let (pool, mut s) = on_shop_page(&pages, PoolConfig::default()).await;
    let first = snapshot_lines(&mut s, false).await;
    let next = ref_on(&first, "Next page");
    let contact = ref_on(&first, "Contact");

    let second = changes(&mut s, &click_ref(&next)).await;
    assert!(second.new_page, "{second:?}");
    let named: Vec<&String> = second
        .lines
        .iter()
        .filter(|l| l.contains("[as on the last page"))
        .collect();
    assert_eq!(named.len(), 2, "the nav and the footer: {second:?}");
    assert!(
        second
            .lines
            .iter()
            .any(|l| l.contains("Own content of page 2")),
        "{second:?}"
    );
    assert!(
        !second.lines.iter().any(|l| l.contains("Contact")),
        "shared links are not repeated: {second:?}"
    );

    // The ref of the first page's "Contact" link clicks the second page's.
    let third = changes(&mut s, &click_ref(&contact)).await;
    assert!(
        third
            .lines
            .iter()
            .any(|l| l.contains("Own content of page 3")),
        "{third:?}"
    );
    // A snapshot names the shared parts too, and `full` shows them.
    let short = snapshot_lines(&mut s, false).await;
    assert!(
        short.iter().any(|l| l.contains("[as on the last page")),
        "{short:?}"
    );
    let whole = snapshot_lines(&mut s, true).await;
    assert!(
        whole
            .iter()
            .any(|l| l.contains("Contact") && l.contains(&contact)),
        "{whole:?}"
    );
    s.close().await;
    pool.shutdown().await;
}
