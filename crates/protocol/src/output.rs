//! What a successful job returns. Kept small: agents pay for every byte.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ColorScheme, ConsoleEntry, Cookie, Device, DownloadInfo, ElementTarget, FileData, RequestEntry,
    ScrapeFormat, ScrollDirection, StorageState, TabInfo, Viewport,
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
    /// What an action changed on the page, when the server shows changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<PageChanges>,
}

/// What an action changed, as lines of the snapshot outline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageChanges {
    /// A new document loaded: `lines` is its outline, not a difference.
    pub new_page: bool,
    /// On the same page, a unified diff of the outline: `+` appeared, `-` went,
    /// `~` changed in place (same ref), ` ` an unchanged parent for context.
    pub lines: Vec<String>,
    /// Lines left out to keep within the budget.
    pub omitted: usize,
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
    /// An action without a result of its own, and what it did; the front end
    /// words it for the agent.
    Acted {
        page: PageInfo,
        effect: Effect,
    },
    /// The session's tabs after a `tabs` call, and what the call changed.
    Tabs {
        tabs: Vec<TabInfo>,
        change: TabChange,
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
            | JobOutput::Acted { page, .. }
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
            | JobOutput::Acted { page, .. }
            | JobOutput::Pdf { page, .. } => Some(page),
            JobOutput::Scraped(s) => Some(&mut s.page),
            _ => None,
        }
    }
}

/// What an action without a result of its own did: the facts, not the
/// sentence (the front end words them), so the browser crate returns data only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// `emulate`: what every tab of the session emulates now.
    Emulated {
        viewport: Viewport,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<Device>,
        /// A user agent of the caller's is set.
        user_agent: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        color_scheme: Option<ColorScheme>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locale: Option<String>,
    },
    /// `cookies` with action `set`.
    CookiesSet {
        count: usize,
    },
    /// `cookies` with action `clear`.
    CookiesDeleted {
        count: usize,
    },
    /// `storage_state` with action `import`.
    StorageImported {
        cookies: usize,
        origins: usize,
    },
    Hovered {
        target: Element,
    },
    /// `select_option`: the values now selected.
    Selected {
        target: Element,
        values: Vec<String>,
    },
    /// `press_key`; `navigated` when a new page loaded because of it.
    Pressed {
        key: String,
        navigated: bool,
    },
    /// `scroll`: an element brought into view, or the page scrolled in
    /// `direction`, and the page's scroll position afterwards.
    Scrolled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Element>,
        direction: ScrollDirection,
        position: ScrollPosition,
    },
    FormFilled {
        fields: Vec<FilledField>,
    },
    /// `upload_file`: how many files were attached.
    Uploaded {
        target: Element,
        files: usize,
    },
    /// `wait_for`: how long until the condition held.
    Waited {
        elapsed_ms: u64,
    },
    /// `handle_dialog`: how the next dialog will be answered, and whether an
    /// earlier instruction was replaced.
    DialogArmed {
        accept: bool,
        replaced: bool,
    },
}

/// The element an action used, as the caller named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Element {
    /// A snapshot ref such as `e12`.
    Ref(String),
    /// A CSS selector.
    Selector(String),
}

impl From<&ElementTarget> for Element {
    fn from(target: &ElementTarget) -> Self {
        match target {
            ElementTarget::Ref(r) => Element::Ref(r.clone()),
            ElementTarget::Selector(s) => Element::Selector(s.clone()),
        }
    }
}

impl From<Element> for ElementTarget {
    fn from(element: Element) -> Self {
        match element {
            Element::Ref(r) => ElementTarget::Ref(r),
            Element::Selector(s) => ElementTarget::Selector(s),
        }
    }
}

/// A page's scroll position in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScrollPosition {
    pub x: f64,
    pub y: f64,
    /// The largest `y` the page scrolls to.
    pub max_y: f64,
}

/// One field `fill_form` set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FilledField {
    pub target: Element,
    pub value: FilledValue,
}

/// What a field was set to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilledValue {
    /// A select: the options now selected.
    Selected { values: Vec<String> },
    /// A checkbox or radio button, checked or not.
    Checked { checked: bool },
    /// A text field: how many characters it holds now.
    Typed { chars: usize },
}

/// What a `tabs` call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TabChange {
    /// Nothing: the tabs were listed.
    Listed,
    /// A tab was opened at `index` and made current.
    Opened { index: usize },
    /// Tab `index` was made current.
    Selected { index: usize },
    /// The only tab was closed and a blank one took its place.
    ReplacedOnly,
    /// Tab `index` was closed; `current` is current now.
    Closed { index: usize, current: usize },
}
