//! The dispatcher: which code runs each [`Operation`] on a session's context.
//! Operations on the session as a whole (tabs, emulation, cookies, storage,
//! downloads) take the whole [`Live`]; the rest act on its current tab through
//! the operation layer. What an operation does lives in `ops/`, how tabs and
//! popups are kept in `context/tabs.rs`; the result is protocol data, worded
//! for the agent by the MCP layer.

use browserfarm_protocol::{JobOutput, Operation};

use crate::context::live::Live;
use crate::context::tabs;
use crate::ops::{
    act, changes, evaluate, navigate, pdf, scrape, screenshot, snapshot, storage, wait, watched,
};
use crate::process::PoolConfig;
use crate::tab::{OpResult, Tab};

pub(crate) async fn execute(
    live: &mut Live,
    op: &Operation,
    limits: &PoolConfig,
    one_off: bool,
) -> OpResult<JobOutput> {
    let deadline = limits.cdp_timeout;
    if op.url().is_some() || matches!(op, Operation::Navigate(_)) {
        // The agent opened a page itself: nothing it saw before is assumed
        // seen (a navigate often starts new work, maybe in a new conversation
        // on the same session), so neither the next action's changes nor a
        // snapshot fold parts away as shown before.
        live.tab()
            .refs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .start_over();
    }
    if op.url().is_some() {
        let skip = skips_for_reading(op, limits, one_off);
        if let Err(e) = live.tab().skip_for_reading(skip, deadline).await {
            // The read still works, only slower: load the whole page.
            tracing::debug!(error = %e, "could not turn on skipping for a read");
            live.tab().watch.set_skipping(false);
        }
    }
    let before = if shows_changes(op) && op.changes().unwrap_or(limits.show_changes) {
        changes::before(live.tab().tab(deadline))
            .await
            .map_err(|e| tracing::debug!(error = ?e, "no outline before the action"))
            .ok()
    } else {
        None
    };
    let mut output = run(live, op, limits).await;
    if let (Some(before), Ok(out)) = (before, output.as_mut())
        && let Some(page) = out.page_mut()
    {
        match changes::after(live.tab().tab(deadline), before).await {
            Ok(changes) => page.changes = Some(changes),
            Err(e) => tracing::debug!(error = ?e, "no outline after the action"),
        }
    }
    // Pages the agent reaches next (by a click, say) load in full. A one-off
    // tab has no next page but the next job's, which says what it skips; till
    // then what its page asks for late (the favicon after `load`) is skipped
    // too.
    if !one_off {
        live.tab().watch.stop_skipping();
    }
    output
}

/// Whether a job that loads a page loads only what reading needs: a `scrape`
/// (unless `full`), and a one-off `navigate`, whose page is thrown away. A
/// screenshot or PDF loads everything, and so does `--full-reads`.
fn skips_for_reading(op: &Operation, limits: &PoolConfig, one_off: bool) -> bool {
    !limits.full_reads
        && match op {
            Operation::Scrape(a) => a.full != Some(true),
            Operation::Navigate(_) => one_off,
            _ => false,
        }
}

/// The actions whose results show what they changed on the page.
fn shows_changes(op: &Operation) -> bool {
    match op {
        Operation::Click(_)
        | Operation::Type(_)
        | Operation::PressKey(_)
        | Operation::SelectOption(_)
        | Operation::FillForm(_)
        | Operation::Hover(_)
        | Operation::Scroll(_) => true,
        // History moves (back, forward, reload), not loads of a new URL.
        Operation::Navigate(a) => a.url.is_none() && a.action.is_some(),
        _ => false,
    }
}

async fn run(live: &mut Live, op: &Operation, limits: &PoolConfig) -> OpResult<JobOutput> {
    let deadline = limits.cdp_timeout;
    match op {
        Operation::Tabs(a) => tabs::run(live, a, limits).await,
        Operation::Emulate(a) => live.emulate(a, deadline).await,
        Operation::Cookies(a) => {
            storage::cookies(live.context_ref(), live.tab(), a, deadline).await
        }
        Operation::StorageState(a) => {
            let context = live.context_ref();
            storage::storage_state(context, &live.tabs, live.current, a, deadline).await
        }
        Operation::Downloads(a) => Ok(live.downloads.run(a).await?),
        Operation::Click(_) => {
            let output = on_tab(live.tab().tab(deadline), op, limits).await?;
            tabs::adopt_after_click(live, limits).await;
            Ok(output)
        }
        _ => on_tab(live.tab().tab(deadline), op, limits).await,
    }
    .map(|output| with_late_notes(output, live))
}

/// Adds the notes that arrived after the output's page line was read (a tab a
/// click opened, a download it started) to an output that names a page.
fn with_late_notes(mut output: JobOutput, live: &Live) -> JobOutput {
    let Some(page) = output.page_mut() else {
        return output;
    };
    page.notes.extend(live.tab().watch.take_notes());
    page.notes.extend(live.downloads.take_notes());
    output
}

async fn on_tab(tab: Tab<'_>, op: &Operation, limits: &PoolConfig) -> OpResult<JobOutput> {
    let nav_timeout = limits.navigation_timeout;
    match op {
        Operation::Navigate(a) => navigate::run(tab, a, nav_timeout).await,
        Operation::Screenshot(a) => {
            screenshot::run(tab, a, nav_timeout, limits.screenshot_max_bytes).await
        }
        Operation::Pdf(a) => pdf::run(tab, a, nav_timeout).await,
        Operation::Scrape(a) => scrape::run(tab, a, nav_timeout, limits.full_reads).await,
        Operation::Snapshot(a) => snapshot::run(tab, a).await,
        Operation::Click(a) => act::click(tab, a, nav_timeout).await,
        Operation::Type(a) => act::type_text(tab, a, nav_timeout).await,
        Operation::Hover(a) => act::hover(tab, a).await,
        Operation::SelectOption(a) => act::select_option(tab, a).await,
        Operation::PressKey(a) => act::press_key(tab, a, nav_timeout).await,
        Operation::Scroll(a) => act::scroll(tab, a).await,
        Operation::FillForm(a) => act::fill_form(tab, a).await,
        Operation::UploadFile(a) => act::upload_file(tab, a, limits.upload_dir.as_deref()).await,
        Operation::WaitFor(a) => wait::run(tab, a).await,
        Operation::HandleDialog(a) => watched::handle_dialog(tab, a).await,
        Operation::ConsoleMessages(a) => Ok(watched::console(tab, a)),
        Operation::NetworkRequests(a) => Ok(watched::requests(tab, a)),
        Operation::Evaluate(a) => evaluate::run(tab, &a.expression, limits.script_timeout).await,
        Operation::Tabs(_)
        | Operation::Emulate(_)
        | Operation::Cookies(_)
        | Operation::StorageState(_)
        | Operation::Downloads(_) => unreachable!("session-wide operations run in execute"),
    }
}
