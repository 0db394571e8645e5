//! Files a session's pages download. With downloads on (`--downloads`), Chromium
//! saves them under the process's profile in a directory per session, each file
//! capped at `--max-download-bytes`; `downloads` lists them and returns one as an
//! embedded resource. With downloads off, each download is cancelled the moment
//! it begins (Chromium's own "deny" would refuse it without a trace), any partial
//! file is deleted, and the agent is told. Either way nothing vanishes silently.
//!
//! Download events are browser-wide and a process holds many sessions'
//! contexts, so each session claims only the downloads its own context began:
//! by the context of the frame's target, or, for an in-process subframe (no
//! target of its own), by the file appearing in the session's own directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use browserfarm_protocol::{DownloadInfo, DownloadsArgs, ErrorKind, FileData, JobError, JobOutput};
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::{
    BrowserContextId, DownloadProgressState, EventDownloadProgress, EventDownloadWillBegin,
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::page::FrameId;
use futures::StreamExt;
use serde_json::json;

use crate::process::Lease;
use crate::process::PoolConfig;
use crate::tab::cdp::raw;

#[derive(Clone)]
struct Entry {
    guid: String,
    name: String,
    url: String,
    state: &'static str,
    bytes: u64,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    /// Downloads cancelled because downloads are off.
    refused: Vec<String>,
    notes: Vec<String>,
}

/// A session's downloads and the task that follows them.
pub(crate) struct Downloads {
    state: Arc<Mutex<State>>,
    dir: Option<PathBuf>,
    enabled: bool,
    task: Option<tokio::task::JoinHandle<()>>,
    max_bytes: u64,
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Most downloads listed per session; older ones drop off the list.
const MAX_ENTRIES: usize = 100;

impl Downloads {
    /// No downloads (one-off jobs: their context refuses them, nobody to tell).
    pub(crate) fn none() -> Downloads {
        Downloads {
            state: Arc::default(),
            dir: None,
            enabled: false,
            task: None,
            max_bytes: 0,
        }
    }

    /// Refuses every download in the context, silently (for one-off jobs).
    pub(crate) async fn deny(
        lease: &Lease,
        context: &BrowserContextId,
        deadline: Duration,
    ) -> Result<(), String> {
        let mut params = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::Deny);
        params.browser_context_id = Some(context.clone());
        lease
            .exec(deadline, params)
            .await
            .map(drop)
            .map_err(|e| format!("setting the download behaviour: {e}"))
    }

    /// Sets the context's download behaviour and starts following its downloads.
    /// `page` is a tab of the context, through which over-size downloads are
    /// cancelled.
    pub(crate) async fn start(
        lease: &Lease,
        context: &BrowserContextId,
        page: &Page,
        config: &PoolConfig,
        deadline: Duration,
    ) -> Result<Downloads, String> {
        let enabled = config.downloads;
        let dir = downloads_dir(lease).join(context.inner());
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut params = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::AllowAndName);
        params.browser_context_id = Some(context.clone());
        params.download_path = Some(dir.to_string_lossy().into_owned());
        params.events_enabled = Some(true);
        let subscribe = async {
            let begin = lease
                .browser()
                .event_listener::<EventDownloadWillBegin>()
                .await?;
            let progress = lease
                .browser()
                .event_listener::<EventDownloadProgress>()
                .await?;
            lease.browser().execute(params).await?;
            Ok::<_, chromiumoxide::error::CdpError>((begin, progress))
        };
        let (mut begin, mut progress) = match tokio::time::timeout(deadline, subscribe).await {
            Ok(Ok(streams)) => streams,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("Chromium did not set the download behaviour in time".into()),
        };
        let state: Arc<Mutex<State>> = Arc::default();
        let max_bytes = config.max_download_bytes;
        let shared = state.clone();
        let page = page.clone();
        let asker = page.clone();
        let files = dir.clone();
        let cancel = move |guid: String| {
            let page = page.clone();
            async move {
                let cancel = raw("Browser.cancelDownload", json!({"guid": guid}));
                let _ = tokio::time::timeout(Duration::from_secs(5), page.execute(cancel)).await;
            }
        };
        let mine = context.inner().clone();
        let task = tokio::spawn(async move {
            // Downloads whose frame is not a target of its own (an in-process
            // subframe), so whose context is not known yet: claimed once their
            // file shows up in this context's directory.
            let mut unplaced: HashMap<String, EventDownloadWillBegin> = HashMap::new();
            loop {
                tokio::select! {
                    Some(ev) = begin.next() => {
                        match owner(&asker, &ev.frame_id).await {
                            Some(context) if context == mine => {}
                            Some(_) => continue,
                            None => {
                                unplaced.insert(ev.guid.clone(), (*ev).clone());
                                continue;
                            }
                        }
                        if begun(&shared, &ev, enabled) {
                            cancel(ev.guid.clone()).await;
                        }
                    }
                    Some(ev) = progress.next() => {
                        if let Some(started) = unplaced.remove(&ev.guid) {
                            if !has_file(&files, &ev.guid) {
                                // Another context's, or not written yet.
                                if ev.state == DownloadProgressState::InProgress {
                                    unplaced.insert(ev.guid.clone(), started);
                                }
                                continue;
                            }
                            if begun(&shared, &started, enabled) {
                                cancel(ev.guid.clone()).await;
                            }
                        }
                        let over = {
                            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                            if s.refused.contains(&ev.guid) {
                                // Whatever landed before the cancel goes at once.
                                if ev.state != DownloadProgressState::InProgress {
                                    let _ = std::fs::remove_file(files.join(&ev.guid));
                                }
                                continue;
                            }
                            let Some(entry) = s.entries.iter_mut().find(|e| e.guid == ev.guid) else {
                                continue;
                            };
                            entry.bytes = ev.received_bytes.max(0.0) as u64;
                            if entry.state == "too large" {
                                continue;
                            }
                            entry.state = match ev.state {
                                DownloadProgressState::InProgress => "in progress",
                                DownloadProgressState::Completed => "completed",
                                DownloadProgressState::Canceled => "canceled",
                            };
                            if entry.bytes > max_bytes {
                                entry.state = "too large";
                                true
                            } else {
                                false
                            }
                        };
                        if over {
                            cancel(ev.guid.clone()).await;
                        }
                    }
                    else => break,
                }
            }
        });
        Ok(Downloads {
            state,
            dir: Some(dir),
            enabled,
            task: Some(task),
            max_bytes,
        })
    }

    /// `downloads`: the list, or download `index`'s file once it completed.
    pub(crate) async fn run(&self, a: &DownloadsArgs) -> Result<JobOutput, JobError> {
        match a.index {
            None => Ok(JobOutput::Downloads {
                downloads: self.list(),
                enabled: self.enabled(),
            }),
            Some(i) => {
                let (info, file) = self.read(i).await?;
                Ok(JobOutput::File { info, file })
            }
        }
    }

    /// Notes about downloads since the last call.
    pub(crate) fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().notes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn list(&self) -> Vec<DownloadInfo> {
        self.lock()
            .entries
            .iter()
            .enumerate()
            .map(|(index, e)| info(index, e))
            .collect()
    }

    /// Reads download `index` once it has completed.
    pub(crate) async fn read(&self, index: usize) -> Result<(DownloadInfo, FileData), JobError> {
        let entry = self.lock().entries.get(index).cloned().ok_or_else(|| {
            JobError::invalid_argument(format!(
                "there is no download {index}; call downloads without index to list them"
            ))
        })?;
        let info = info(index, &entry);
        match entry.state {
            "completed" => {}
            "too large" => {
                return Err(JobError::invalid_argument(format!(
                    "{} was cancelled: it is larger than the {}-byte download limit \
                     (--max-download-bytes)",
                    entry.name, self.max_bytes
                )));
            }
            other => {
                return Err(JobError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "{} is {other} ({} bytes so far); wait and call downloads again",
                        entry.name, entry.bytes
                    ),
                ));
            }
        }
        let dir = self.dir.as_ref().expect("entries exist only when enabled");
        let bytes = tokio::fs::read(dir.join(&entry.guid))
            .await
            .map_err(|e| JobError::internal(format!("cannot read {}: {e}", entry.name)))?;
        let file = FileData {
            mime_type: mime_of(&entry.name).to_owned(),
            name: entry.name,
            bytes: bytes.len() as u64,
            data_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        };
        Ok((info, file))
    }
}

/// The browser context of the frame a download began in, when that frame is a
/// target (a tab, a popup or an out-of-process frame); `None` for an in-process
/// subframe, which has no target of its own.
async fn owner(page: &Page, frame: &FrameId) -> Option<String> {
    let info = raw("Target.getTargetInfo", json!({"targetId": frame.inner()}));
    let reply = tokio::time::timeout(Duration::from_secs(5), page.execute(info))
        .await
        .ok()?
        .ok()?;
    reply.result["targetInfo"]["browserContextId"]
        .as_str()
        .map(str::to_owned)
}

/// Whether Chromium has started writing download `guid` in `dir` (as the file
/// itself or its `.crdownload`).
fn has_file(dir: &Path, guid: &str) -> bool {
    dir.join(guid).exists() || dir.join(format!("{guid}.crdownload")).exists()
}

/// Records a download of this context that began; `true` when it must be
/// cancelled because downloads are off.
fn begun(state: &Mutex<State>, ev: &EventDownloadWillBegin, enabled: bool) -> bool {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if !enabled {
        s.refused.push(ev.guid.clone());
        s.notes.push(format!(
            "the page tried to download {} ({}); downloads are off on this server, so it \
             was cancelled (start the server with --downloads to capture them)",
            ev.suggested_filename, ev.url
        ));
        return true;
    }
    if s.entries.len() == MAX_ENTRIES {
        s.entries.remove(0);
    }
    s.entries.push(Entry {
        guid: ev.guid.clone(),
        name: ev.suggested_filename.clone(),
        url: ev.url.clone(),
        state: "in progress",
        bytes: 0,
    });
    let index = s.entries.len() - 1;
    s.notes.push(format!(
        "the page started downloading {} (download {index}); call downloads with \
         index={index} to read it",
        ev.suggested_filename
    ));
    false
}

/// Where a process's sessions keep their downloads: inside its profile, so
/// nothing outlives the process even if a session's cleanup is missed.
fn downloads_dir(lease: &Lease) -> PathBuf {
    lease.profile_dir().join("browserfarm-downloads")
}

fn info(index: usize, e: &Entry) -> DownloadInfo {
    DownloadInfo {
        index,
        name: e.name.clone(),
        url: e.url.clone(),
        state: e.state.to_owned(),
        bytes: e.bytes,
    }
}

/// A MIME type from a file name's extension, for the embedded resource.
fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => "text/csv",
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("pdf") => "application/pdf",
        Some("html" | "htm") => "text/html",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}
