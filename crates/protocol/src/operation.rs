//! The operations a job can carry. Each argument struct is also the input schema of
//! the MCP tool of the same name, so its doc comments are what an agent reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::acting::check_optional_selector;
use crate::state::check_max_entries;
use crate::{
    ConsoleMessagesArgs, CookiesArgs, DownloadsArgs, ElementTarget, EmulateArgs, FillFormArgs,
    HandleDialogArgs, HoverArgs, JobError, MAX_FORM_FIELDS, NetworkRequestsArgs, PdfArgs,
    PressKeyArgs, ScrollArgs, SelectOptionArgs, SnapshotArgs, StorageStateArgs, TabsArgs,
    UploadFileArgs, WaitForArgs, check_navigation_url, parse_key_combo,
};

/// Longest page-load deadline a caller may ask for.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// Page-load deadline when the caller gives none.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default cap on scraped text, in characters (about 5k tokens).
pub const DEFAULT_MAX_CHARS: usize = 20_000;
/// Longest a `ready` load waits, after `DOMContentLoaded`, for the page's data
/// requests to be answered and its DOM to stop changing; then it reads what is
/// there and says so.
pub const SETTLE_MAX_MS: u64 = 5_000;
/// Largest `max_chars` accepted.
pub const MAX_MAX_CHARS: usize = 1_000_000;

/// Why a tool's arguments do not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError {
    /// The offending field (`max_width`, `fields[0].value`); `None` when the
    /// arguments as a whole are wrong (an unknown field, a missing one).
    pub path: Option<String>,
    pub message: String,
}

impl<E: std::fmt::Display> From<serde_path_to_error::Error<E>> for ArgsError {
    fn from(e: serde_path_to_error::Error<E>) -> ArgsError {
        let path = e.path().to_string();
        ArgsError {
            path: (path != ".").then_some(path),
            message: e.into_inner().to_string(),
        }
    }
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What the browser should do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Operation {
    Navigate(NavigateArgs),
    Screenshot(ScreenshotArgs),
    Scrape(ScrapeArgs),
    Click(ClickArgs),
    Type(TypeArgs),
    Evaluate(EvaluateArgs),
    Snapshot(SnapshotArgs),
    Hover(HoverArgs),
    SelectOption(SelectOptionArgs),
    PressKey(PressKeyArgs),
    Scroll(ScrollArgs),
    FillForm(FillFormArgs),
    UploadFile(UploadFileArgs),
    WaitFor(WaitForArgs),
    Tabs(TabsArgs),
    Cookies(CookiesArgs),
    StorageState(StorageStateArgs),
    Emulate(EmulateArgs),
    HandleDialog(HandleDialogArgs),
    ConsoleMessages(ConsoleMessagesArgs),
    NetworkRequests(NetworkRequestsArgs),
    Pdf(PdfArgs),
    Downloads(DownloadsArgs),
}

impl Operation {
    /// Short stable name, used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Navigate(_) => "navigate",
            Operation::Screenshot(_) => "screenshot",
            Operation::Scrape(_) => "scrape",
            Operation::Click(_) => "click",
            Operation::Type(_) => "type",
            Operation::Evaluate(_) => "evaluate",
            Operation::Snapshot(_) => "snapshot",
            Operation::Hover(_) => "hover",
            Operation::SelectOption(_) => "select_option",
            Operation::PressKey(_) => "press_key",
            Operation::Scroll(_) => "scroll",
            Operation::FillForm(_) => "fill_form",
            Operation::UploadFile(_) => "upload_file",
            Operation::WaitFor(_) => "wait_for",
            Operation::Tabs(_) => "tabs",
            Operation::Cookies(_) => "cookies",
            Operation::StorageState(_) => "storage_state",
            Operation::Emulate(_) => "emulate",
            Operation::HandleDialog(_) => "handle_dialog",
            Operation::ConsoleMessages(_) => "console_messages",
            Operation::NetworkRequests(_) => "network_requests",
            Operation::Pdf(_) => "pdf",
            Operation::Downloads(_) => "downloads",
        }
    }

    /// The operation a tool call asks for, from the tool's name and arguments
    /// (the names are [`Operation::name`]'s); `None` for a tool that is not an
    /// operation. A failure names the offending field, which serde's tagged
    /// enum parsing would lose, so each variant's arguments are parsed alone.
    pub fn from_tool(tool: &str, args: serde_json::Value) -> Option<Result<Operation, ArgsError>> {
        fn parse<T: serde::de::DeserializeOwned>(
            args: serde_json::Value,
            variant: fn(T) -> Operation,
        ) -> Result<Operation, ArgsError> {
            serde_path_to_error::deserialize(args)
                .map(variant)
                .map_err(ArgsError::from)
        }
        Some(match tool {
            "navigate" => parse(args, Operation::Navigate),
            "screenshot" => parse(args, Operation::Screenshot),
            "scrape" => parse(args, Operation::Scrape),
            "click" => parse(args, Operation::Click),
            "type" => parse(args, Operation::Type),
            "evaluate" => parse(args, Operation::Evaluate),
            "snapshot" => parse(args, Operation::Snapshot),
            "hover" => parse(args, Operation::Hover),
            "select_option" => parse(args, Operation::SelectOption),
            "press_key" => parse(args, Operation::PressKey),
            "scroll" => parse(args, Operation::Scroll),
            "fill_form" => parse(args, Operation::FillForm),
            "upload_file" => parse(args, Operation::UploadFile),
            "wait_for" => parse(args, Operation::WaitFor),
            "tabs" => parse(args, Operation::Tabs),
            "cookies" => parse(args, Operation::Cookies),
            "storage_state" => parse(args, Operation::StorageState),
            "emulate" => parse(args, Operation::Emulate),
            "handle_dialog" => parse(args, Operation::HandleDialog),
            "console_messages" => parse(args, Operation::ConsoleMessages),
            "network_requests" => parse(args, Operation::NetworkRequests),
            "pdf" => parse(args, Operation::Pdf),
            "downloads" => parse(args, Operation::Downloads),
            _ => return None,
        })
    }

    /// Whether this call asked for (`Some(true)`) or against (`Some(false)`)
    /// seeing what its action changed; `None` leaves it to the node.
    pub fn changes(&self) -> Option<bool> {
        match self {
            Operation::Navigate(a) => a.changes,
            Operation::Click(a) => a.changes,
            Operation::Type(a) => a.changes,
            Operation::PressKey(a) => a.changes,
            Operation::SelectOption(a) => a.changes,
            Operation::FillForm(a) => a.changes,
            Operation::Hover(a) => a.changes,
            Operation::Scroll(a) => a.changes,
            _ => None,
        }
    }

    /// The URL this operation loads before acting, if any.
    pub fn url(&self) -> Option<&str> {
        match self {
            Operation::Navigate(a) => a.url.as_deref(),
            Operation::Screenshot(a) => a.url.as_deref(),
            Operation::Scrape(a) => a.url.as_deref(),
            Operation::Pdf(a) => a.url.as_deref(),
            _ => None,
        }
    }

    /// Checks arguments that the schema alone cannot express, before any browser
    /// work starts, so a bad call fails fast and loses nothing.
    pub fn validate(&self) -> Result<(), JobError> {
        if let Some(url) = self.url() {
            check_navigation_url(url)?;
        }
        match self {
            Operation::Navigate(a) => {
                match (a.action.unwrap_or_default(), &a.url) {
                    (NavAction::Goto, None) => {
                        return Err(JobError::invalid_argument(
                            "url is required (or pass action \"back\", \"forward\" or \"reload\")",
                        ));
                    }
                    (NavAction::Goto, Some(_)) | (_, None) => {}
                    (_, Some(_)) => {
                        return Err(JobError::invalid_argument(
                            "url applies to action=\"goto\" only",
                        ));
                    }
                }
                check_timeout(a.timeout_ms)
            }
            Operation::Screenshot(a) => {
                if let Some(q) = a.quality {
                    if !(1..=100).contains(&q) {
                        return Err(JobError::invalid_argument(format!(
                            "quality must be between 1 and 100, got {q}"
                        )));
                    }
                    if a.format.unwrap_or_default() == ImageFormat::Png {
                        return Err(JobError::invalid_argument(
                            "quality applies to JPEG only: pass format=\"jpeg\" or drop quality",
                        ));
                    }
                }
                if let Some(w) = a.max_width
                    && !(16..=8192).contains(&w)
                {
                    return Err(JobError::invalid_argument(format!(
                        "max_width must be between 16 and 8192 pixels, got {w}"
                    )));
                }
                if a.full_page == Some(true) && a.selector.is_some() {
                    return Err(JobError::invalid_argument(
                        "full_page and selector cannot be combined: pick one",
                    ));
                }
                check_optional_selector(a.selector.as_deref())
            }
            Operation::Scrape(a) => check_max_chars(a.max_chars),
            Operation::Click(a) => a.target().map(drop),
            Operation::Type(a) => a.target().map(drop),
            Operation::Hover(a) => target(&a.element, &a.selector).map(drop),
            Operation::SelectOption(a) => {
                target(&a.element, &a.selector)?;
                if a.values.is_empty() {
                    return Err(JobError::invalid_argument(
                        "values is empty: pass the option values or labels to select",
                    ));
                }
                Ok(())
            }
            Operation::PressKey(a) => parse_key_combo(&a.key).map(drop),
            Operation::Scroll(a) => match (&a.element, &a.selector) {
                (None, None) => match a.amount {
                    Some(0) => Err(JobError::invalid_argument("amount must be at least 1")),
                    Some(n) if n > 100_000 => Err(JobError::invalid_argument(format!(
                        "amount must be at most 100000 pixels, got {n}"
                    ))),
                    _ => Ok(()),
                },
                _ => target(&a.element, &a.selector).map(drop),
            },
            Operation::FillForm(a) => {
                if a.fields.is_empty() {
                    return Err(JobError::invalid_argument("fields is empty"));
                }
                if a.fields.len() > MAX_FORM_FIELDS {
                    return Err(JobError::invalid_argument(format!(
                        "at most {MAX_FORM_FIELDS} fields per call, got {}",
                        a.fields.len()
                    )));
                }
                a.fields
                    .iter()
                    .try_for_each(|f| target(&f.element, &f.selector).map(drop))
            }
            Operation::UploadFile(a) => {
                target(&a.element, &a.selector)?;
                if a.paths.is_empty() {
                    return Err(JobError::invalid_argument("paths is empty"));
                }
                Ok(())
            }
            Operation::WaitFor(a) => {
                a.condition()?;
                check_timeout(a.timeout_ms)
            }
            Operation::Snapshot(a) => a.validate(),
            Operation::Tabs(a) => a.validate(),
            Operation::Cookies(a) => a.validate(),
            Operation::StorageState(a) => a.validate(),
            Operation::Emulate(a) => a.validate(),
            Operation::HandleDialog(_) => Ok(()),
            Operation::ConsoleMessages(a) => check_max_entries(a.max_entries),
            Operation::NetworkRequests(a) => check_max_entries(a.max_entries),
            Operation::Pdf(_) | Operation::Downloads(_) => Ok(()),
            Operation::Evaluate(a) => {
                if a.expression.trim().is_empty() {
                    return Err(JobError::invalid_argument("expression is empty"));
                }
                check_max_chars(a.max_chars)
            }
        }
    }
}

fn check_timeout(timeout_ms: Option<u64>) -> Result<(), JobError> {
    match timeout_ms {
        Some(0) => Err(JobError::invalid_argument("timeout_ms must be at least 1")),
        Some(t) if t > MAX_TIMEOUT_MS => Err(JobError::invalid_argument(format!(
            "timeout_ms must be at most {MAX_TIMEOUT_MS} (5 minutes), got {t}"
        ))),
        _ => Ok(()),
    }
}

fn check_max_chars(max_chars: Option<usize>) -> Result<(), JobError> {
    match max_chars {
        Some(0) => Err(JobError::invalid_argument("max_chars must be at least 1")),
        Some(n) if n > MAX_MAX_CHARS => Err(JobError::invalid_argument(format!(
            "max_chars must be at most {MAX_MAX_CHARS}, got {n}"
        ))),
        _ => Ok(()),
    }
}

fn target(element: &Option<String>, selector: &Option<String>) -> Result<ElementTarget, JobError> {
    ElementTarget::from_args(element.as_deref(), selector.as_deref())
}

/// Which way `navigate` moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NavAction {
    /// Open `url` (default).
    #[default]
    Goto,
    /// Go back one page in the tab's history.
    Back,
    /// Go forward one page in the tab's history.
    Forward,
    /// Reload the current page.
    Reload,
}

/// Which page-load milestone `navigate` waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    /// The content is ready: the HTML is parsed, the requests its scripts made for
    /// data (and same-site scripts) are answered, and the page stopped changing;
    /// images, fonts and frames may still be loading. Bounded by [`SETTLE_MAX_MS`].
    #[default]
    Ready,
    /// The `load` event: the document and its images, styles and scripts are loaded.
    Load,
    /// `DOMContentLoaded`: the HTML is parsed; fastest, images may still be loading.
    Domcontentloaded,
    /// No network activity for 500 ms after load; for pages that fetch data with JS.
    Networkidle,
}

// Optional fields are `Option<T>` in Rust but plain `T` in the schema
// (`schemars(with)`): absent means "use the default", and a single `type` keeps the
// schema portable to clients that reject `["integer", "null"]`.

/// Open a URL in the session's tab, or go back, forward or reload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NavigateArgs {
    /// http(s) URL to open (for action goto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    /// Default goto (open url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "NavAction")]
    pub action: Option<NavAction>,
    /// Default ready: content done, images may still load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "WaitUntil")]
    pub wait_until: Option<WaitUntil>,
    /// Default 30000, max 300000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub timeout_ms: Option<u64>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Image encoding for screenshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Lossless; best for text and UI.
    #[default]
    Png,
    /// Smaller; best for photos and large pages.
    Jpeg,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }
}

/// Capture the page as an image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenshotArgs {
    /// Load this URL first (else the current page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    /// The whole page (up to 16384 px high).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub full_page: Option<bool>,
    /// Only this element (CSS selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Default png.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ImageFormat")]
    pub format: Option<ImageFormat>,
    /// JPEG quality 1-100 (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u8")]
    pub quality: Option<u8>,
    /// Downscale to this width (16-8192 px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub max_width: Option<u32>,
}

/// What `scrape` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeFormat {
    /// Markdown: headings, links and lists kept; the cheapest readable form.
    #[default]
    Markdown,
    /// Plain text without markup.
    Text,
    /// Raw HTML of the page (or of its main content).
    Html,
    /// One line per link: text and absolute URL.
    Links,
}

/// Read the page's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrapeArgs {
    /// Load this URL first (else the current page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    /// Default markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ScrapeFormat")]
    pub format: Option<ScrapeFormat>,
    /// Main content only (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub main_content: Option<bool>,
    /// Characters at most (default 20000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_chars: Option<usize>,
    /// Load everything; wait for load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub full: Option<bool>,
}

/// Click an element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickArgs {
    /// Ref from snapshot, e.g. "e12".
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Double-click.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub double: Option<bool>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

impl ClickArgs {
    pub fn target(&self) -> Result<ElementTarget, JobError> {
        target(&self.element, &self.selector)
    }
}

impl TypeArgs {
    pub fn target(&self) -> Result<ElementTarget, JobError> {
        target(&self.element, &self.selector)
    }
}

/// Type text into an input, textarea or contenteditable element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeArgs {
    /// Field ref from snapshot.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Text to append to the field.
    pub text: String,
    /// Press Enter after typing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub submit: Option<bool>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Run JavaScript in the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateArgs {
    /// e.g. `document.title`; its value must be JSON-serialisable.
    pub expression: String,
    /// Characters at most (default 50000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_chars: Option<usize>,
}

/// `evaluate`'s result cap when the caller gives none.
pub const DEFAULT_EVALUATE_CHARS: usize = 50_000;

/// Most URLs one `batch_scrape` call may carry unless the server says otherwise
/// (`--max-batch-urls`).
pub const MAX_BATCH_URLS: usize = 1000;
/// Per-URL character cap in a batch when the caller gives none.
pub const DEFAULT_BATCH_MAX_CHARS: usize = 4_000;

/// Default bound on the text of one tool result, in characters: room for the
/// largest batch at default settings (1000 URLs of 4000 characters).
pub const DEFAULT_MAX_OUTPUT_CHARS: usize = 5_000_000;
/// Most URLs of one batch in flight at once.
pub const MAX_BATCH_CONCURRENCY: usize = 64;

/// Read many pages in one call, spread over the farm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchScrapeArgs {
    /// http(s) URLs (1 to 1000).
    pub urls: Vec<String>,
    /// Default markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ScrapeFormat")]
    pub format: Option<ScrapeFormat>,
    /// Main content only (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub main_content: Option<bool>,
    /// Per page (default 4000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_chars: Option<usize>,
    /// Pages at once (default 8, max 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub concurrency: Option<usize>,
    /// Load everything; wait for load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub full: Option<bool>,
}

impl BatchScrapeArgs {
    /// Checks the batch as a whole against the server's `max_urls`; each URL is
    /// checked again as its own job, so one bad URL fails alone instead of failing
    /// the batch.
    pub fn validate(&self, max_urls: usize) -> Result<(), JobError> {
        match self.urls.len() {
            0 => Err(JobError::invalid_argument(
                "urls is empty: pass at least one URL",
            )),
            n if n > max_urls => Err(JobError::invalid_argument(format!(
                "{n} URLs is more than the {max_urls} one batch may carry on this server; \
                 split it"
            ))),
            _ => match self.concurrency {
                Some(0) => Err(JobError::invalid_argument("concurrency must be at least 1")),
                Some(c) if c > MAX_BATCH_CONCURRENCY => Err(JobError::invalid_argument(format!(
                    "concurrency must be at most {MAX_BATCH_CONCURRENCY}, got {c}"
                ))),
                _ => Operation::Scrape(ScrapeArgs {
                    max_chars: self.max_chars,
                    ..Default::default()
                })
                .validate(),
            },
        }
    }
}

/// Show the farm's nodes and their health.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FarmStatusArgs {}

/// End a browser session (which one is the `session` argument's, added by the
/// MCP layer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseSessionArgs {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_round_trips_as_tagged_json() {
        let op = Operation::Navigate(NavigateArgs {
            url: Some("http://127.0.0.1/".into()),
            wait_until: Some(WaitUntil::Networkidle),
            ..Default::default()
        });
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["op"], "navigate");
        assert_eq!(json["args"]["wait_until"], "networkidle");
        let back: Operation = serde_json::from_value(json).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn optional_arguments_have_one_type_and_are_not_required() {
        let schema = serde_json::to_value(schemars::schema_for!(ScrapeArgs)).unwrap();
        assert_eq!(schema["properties"]["max_chars"]["type"], "integer");
        assert_eq!(schema["properties"]["url"]["type"], "string");
        assert!(schema.get("required").is_none(), "{schema}");
    }

    #[test]
    fn unknown_argument_names_are_rejected() {
        let err =
            serde_json::from_str::<NavigateArgs>(r#"{"url":"http://a/","timeout":5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `timeout`"), "{err}");
    }

    #[test]
    fn out_of_range_arguments_fail_validation() {
        let shot = |f: fn(&mut ScreenshotArgs)| {
            let mut a = ScreenshotArgs::default();
            f(&mut a);
            Operation::Screenshot(a).validate()
        };
        assert!(shot(|_| {}).is_ok());
        assert!(shot(|a| a.max_width = Some(4)).is_err());
        assert!(
            shot(|a| a.quality = Some(50)).is_err(),
            "quality needs jpeg"
        );
        assert!(
            shot(|a| {
                a.format = Some(ImageFormat::Jpeg);
                a.quality = Some(101);
            })
            .is_err()
        );
        assert!(shot(|a| a.url = Some("file:///etc/passwd".into())).is_err());
        let nav = |t| {
            Operation::Navigate(NavigateArgs {
                url: Some("http://a/".into()),
                timeout_ms: Some(t),
                ..Default::default()
            })
            .validate()
        };
        assert!(nav(0).is_err());
        assert!(nav(MAX_TIMEOUT_MS + 1).is_err());
        assert!(nav(1000).is_ok());
    }
}
