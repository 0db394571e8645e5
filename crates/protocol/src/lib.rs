//! Plain data shared by every part of browserfarm: what a job asks for ([`Job`],
//! [`Operation`]), what it gives back ([`JobOutput`]) and how it fails ([`JobError`]).
//!
//! The same types travel in-process (embedded pool), over the node HTTP API, and are
//! the MCP tool argument schemas, so an operation is described exactly once. Field doc
//! comments become JSON-schema descriptions that AI agents read: write them for that
//! reader (what it does, units, defaults).
//!
//! **Architecture invariant:** this crate does no IO and knows nothing of tokio,
//! rmcp, HTTP or chromiumoxide. It is serde + schemars types and pure validation.

mod acting;
mod error;
mod host_policy;
mod job;
mod node_api;
mod operation;
mod output;
mod state;
mod text;
mod url_policy;

pub use acting::{
    DEFAULT_SNAPSHOT_CHARS, DEFAULT_WAIT_MS, ElementTarget, FillFormArgs, FormField, HoverArgs,
    MAX_FORM_FIELDS, MAX_SNAPSHOT_CHARS, Modifier, PressKeyArgs, ScrollArgs, ScrollDirection,
    SelectOptionArgs, SnapshotArgs, UploadFileArgs, WaitCondition, WaitForArgs, parse_key_combo,
};
pub use error::{ErrorKind, JobError};
pub use host_policy::{HostPolicy, glob_matches, is_public};
pub use job::{Job, NodeTags, Priority, SessionId, SessionRoute};
pub use node_api::{
    FarmStatus, Health, NodeStatus, Registration, Resources, SessionOpened, format_tags, tags_match,
};
pub use operation::{
    ArgsError, BatchScrapeArgs, ClickArgs, CloseSessionArgs, DEFAULT_BATCH_MAX_CHARS,
    DEFAULT_EVALUATE_CHARS, DEFAULT_MAX_CHARS, DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_TIMEOUT_MS,
    EvaluateArgs, FarmStatusArgs, ImageFormat, MAX_BATCH_CONCURRENCY, MAX_BATCH_URLS,
    MAX_MAX_CHARS, MAX_TIMEOUT_MS, NavAction, NavigateArgs, Operation, SETTLE_MAX_MS, ScrapeArgs,
    ScrapeFormat, ScreenshotArgs, TypeArgs, WaitUntil,
};
pub use output::{
    Effect, Element, FilledField, FilledValue, Image, JobOutput, PageChanges, PageInfo, Scraped,
    ScrollPosition, TabChange,
};
pub use state::{
    ColorScheme, ConsoleEntry, ConsoleLevel, ConsoleMessagesArgs, Cookie, CookieAction,
    CookiesArgs, DEFAULT_LOG_ENTRIES, Device, DownloadInfo, DownloadsArgs, EmulateArgs, FileData,
    HandleDialogArgs, MAX_LOG_ENTRIES, MAX_TABS, NetworkRequestsArgs, OriginStorage, PaperFormat,
    PdfArgs, RequestEntry, StorageAction, StorageState, StorageStateArgs, TabAction, TabInfo,
    TabsArgs, Viewport, cookie_domain_matches,
};
pub use text::{cut_chars, wire_name};
pub use url_policy::check_navigation_url;
