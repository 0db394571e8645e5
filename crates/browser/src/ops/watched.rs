//! The operations answered from what the tab's watcher collected between calls
//! (`handle_dialog` arms it; `console_messages` and `network_requests` read its
//! rings), without a round trip to the page except for the page line.

use browserfarm_protocol::{
    ConsoleMessagesArgs, DEFAULT_LOG_ENTRIES, Effect, HandleDialogArgs, JobOutput,
    NetworkRequestsArgs,
};

use super::navigate;
use crate::tab::{OpResult, Tab};

pub(crate) async fn handle_dialog(tab: Tab<'_>, a: &HandleDialogArgs) -> OpResult<JobOutput> {
    let replaced = tab.watch.arm_dialog(a.clone()).is_some();
    let page = navigate::page_info(tab, None).await?;
    let effect = Effect::DialogArmed {
        accept: a.accept,
        replaced,
    };
    Ok(JobOutput::Acted { page, effect })
}

pub(crate) fn console(tab: Tab<'_>, a: &ConsoleMessagesArgs) -> JobOutput {
    let (entries, omitted) = tab.watch.console(
        a.level,
        a.since,
        a.max_entries.unwrap_or(DEFAULT_LOG_ENTRIES),
    );
    JobOutput::Console { entries, omitted }
}

pub(crate) fn requests(tab: Tab<'_>, a: &NetworkRequestsArgs) -> JobOutput {
    let (entries, omitted) = tab.watch.requests(
        a.filter.as_deref(),
        a.failed_only == Some(true),
        a.since,
        a.max_entries.unwrap_or(DEFAULT_LOG_ENTRIES),
    );
    JobOutput::Requests { entries, omitted }
}
