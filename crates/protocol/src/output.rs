//! What a successful job returns. Kept small: agents pay for every byte.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ConsoleEntry, Cookie, DownloadInfo, FileData, RequestEntry, ScrapeFormat, StorageState, TabInfo,
};

/// Where the tab is after an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageInfo {
    /// Final URL, after redirects.
    pub url: String,
    /// HTTP status of the main document, when the operation loaded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Document title.
    pub title: String,
    /// Things that happened on the page since the last call and that the agent
    /// did not ask about (a dialog answered automatically, a tab opened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An encoded image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Image {
    pub mime_type: String,
    /// The image bytes, base64 encoded (as Chromium and MCP both carry them).
    pub data_base64: String,
    pub width: u32,
    pub height: u32,
}

/// Page content in the requested format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scraped {
    pub page: PageInfo,
    pub format: ScrapeFormat,
    /// The content, already cut to `max_chars` with an explicit truncation marker.
    pub content: String,
    /// Characters left out by the cut (0 when nothing was cut).
    pub truncated_chars: usize,
}

/// The result of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobOutput {
    Navigated {
        page: PageInfo,
    },
    Screenshot {
        page: PageInfo,
        image: Image,
    },
    Scraped(Scraped),
    Clicked {
        page: PageInfo,
    },
    Typed {
        page: PageInfo,
    },
    Evaluated {
        value: serde_json::Value,
    },
    /// An accessibility snapshot, or one part of a split one.
    Snapshot {
        page: PageInfo,
        text: String,
        /// Which part this is, from 1.
        part: usize,
        /// How many parts the snapshot has at this budget.
        parts: usize,
    },
    /// An action without a result of its own, described for the agent.
    Done {
        page: PageInfo,
        message: String,
    },
    Tabs {
        tabs: Vec<TabInfo>,
        message: String,
    },
    Cookies {
        cookies: Vec<Cookie>,
    },
    StorageState {
        state: StorageState,
    },
    /// Console messages, oldest first; `omitted` older ones matched but were left out.
    Console {
        entries: Vec<ConsoleEntry>,
        omitted: usize,
    },
    /// Network requests, oldest first; `omitted` older ones matched but were left out.
    Requests {
        entries: Vec<RequestEntry>,
        omitted: usize,
    },
    Pdf {
        page: PageInfo,
        data_base64: String,
        bytes: usize,
    },
    /// The session's downloads; `enabled` is false when the server refuses them.
    Downloads {
        downloads: Vec<DownloadInfo>,
        enabled: bool,
    },
    /// One downloaded file's content.
    File {
        info: DownloadInfo,
        file: FileData,
    },
}

impl JobOutput {
    /// The page the job ended on, when the output names one.
    pub fn page(&self) -> Option<&PageInfo> {
        match self {
            JobOutput::Navigated { page }
            | JobOutput::Screenshot { page, .. }
            | JobOutput::Clicked { page }
            | JobOutput::Typed { page }
            | JobOutput::Snapshot { page, .. }
            | JobOutput::Done { page, .. }
            | JobOutput::Pdf { page, .. } => Some(page),
            JobOutput::Scraped(s) => Some(&s.page),
            JobOutput::Evaluated { .. }
            | JobOutput::Tabs { .. }
            | JobOutput::Cookies { .. }
            | JobOutput::StorageState { .. }
            | JobOutput::Console { .. }
            | JobOutput::Requests { .. }
            | JobOutput::Downloads { .. }
            | JobOutput::File { .. } => None,
        }
    }

    /// [`JobOutput::page`], mutable (to attach notes).
    pub fn page_mut(&mut self) -> Option<&mut PageInfo> {
        match self {
            JobOutput::Navigated { page }
            | JobOutput::Screenshot { page, .. }
            | JobOutput::Clicked { page }
            | JobOutput::Typed { page }
            | JobOutput::Snapshot { page, .. }
            | JobOutput::Done { page, .. }
            | JobOutput::Pdf { page, .. } => Some(page),
            JobOutput::Scraped(s) => Some(&mut s.page),
            _ => None,
        }
    }
}
