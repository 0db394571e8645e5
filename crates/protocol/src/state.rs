//! Arguments and results of the tools that manage a session's state rather than
//! one element: tabs, cookies and storage, emulation, dialogs, the page's console
//! and network logs, PDF printing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{JobError, check_navigation_url};

/// Most tabs one session may hold unless the server says otherwise (`--max-tabs`).
pub const MAX_TABS: usize = 16;
/// Log entries returned when the caller gives no `max_entries`.
pub const DEFAULT_LOG_ENTRIES: usize = 50;
/// Most log entries one call may return.
pub const MAX_LOG_ENTRIES: usize = 1_000;

/// What `tabs` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TabAction {
    /// List the session's tabs (default).
    #[default]
    List,
    /// Open a new tab (optionally at `url`) and make it the current one.
    New,
    /// Make tab `index` the current one.
    Select,
    /// Close tab `index` (default: the current one).
    Close,
}

/// List, open, switch or close the session's tabs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TabsArgs {
    /// Default list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "TabAction")]
    pub action: Option<TabAction>,
    /// For select and close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub index: Option<usize>,
    /// For new: open this URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
}

impl TabsArgs {
    pub fn validate(&self) -> Result<(), JobError> {
        let action = self.action.unwrap_or_default();
        if self.url.is_some() && action != TabAction::New {
            return Err(JobError::invalid_argument(
                "url applies to action=\"new\" only",
            ));
        }
        if let Some(url) = &self.url {
            check_navigation_url(url)?;
        }
        if action == TabAction::Select && self.index.is_none() {
            return Err(JobError::invalid_argument(
                "action=\"select\" needs index (call tabs to list them)",
            ));
        }
        if self.index.is_some() && matches!(action, TabAction::List | TabAction::New) {
            return Err(JobError::invalid_argument(
                "index applies to select and close only",
            ));
        }
        Ok(())
    }
}

/// One of the session's tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TabInfo {
    pub index: usize,
    pub url: String,
    pub title: String,
    /// Whether tools act on this tab.
    pub current: bool,
}

/// A browser cookie, as read, set, exported and imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// e.g. "example.com".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub domain: Option<String>,
    /// Or the cookie's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    /// Default "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub path: Option<String>,
    /// Unix seconds (absent: a session cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "f64")]
    pub expires: Option<f64>,
    /// Hidden from page scripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub http_only: Option<bool>,
    /// Sent over https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub secure: Option<bool>,
    /// "Strict", "Lax" or "None".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub same_site: Option<String>,
}

impl Cookie {
    fn validate(&self) -> Result<(), JobError> {
        if self.name.is_empty() {
            return Err(JobError::invalid_argument("a cookie needs a name"));
        }
        match (&self.domain, &self.url) {
            (None, None) => Err(JobError::invalid_argument(format!(
                "cookie '{}' needs domain or url",
                self.name
            ))),
            (_, Some(url)) => check_navigation_url(url).map(drop),
            _ => Ok(()),
        }?;
        match self.same_site.as_deref() {
            None | Some("Strict" | "Lax" | "None") => Ok(()),
            Some(other) => Err(JobError::invalid_argument(format!(
                "same_site must be \"Strict\", \"Lax\" or \"None\", got \"{other}\""
            ))),
        }
    }
}

/// What `cookies` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CookieAction {
    /// List the session's cookies (default).
    #[default]
    Get,
    /// Add or replace `cookies`.
    Set,
    /// Delete all of the session's cookies (or those of `domain`).
    Clear,
}

/// Read, set or clear the session's cookies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookiesArgs {
    /// Default get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "CookieAction")]
    pub action: Option<CookieAction>,
    /// For set: the cookies to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Cookie>")]
    pub cookies: Option<Vec<Cookie>>,
    /// For get and clear: only cookies sent to this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub domain: Option<String>,
}

impl CookiesArgs {
    pub fn validate(&self) -> Result<(), JobError> {
        match (self.action.unwrap_or_default(), &self.cookies) {
            (CookieAction::Set, None) => Err(JobError::invalid_argument(
                "action=\"set\" needs cookies: [{name, value, domain or url}]",
            )),
            (CookieAction::Set, Some(c)) => c.iter().try_for_each(Cookie::validate),
            (_, Some(_)) => Err(JobError::invalid_argument(
                "cookies applies to action=\"set\" only",
            )),
            _ => Ok(()),
        }
    }
}

/// Whether a cookie of `cookie_domain` is sent to `host` (RFC 6265 domain match,
/// leading dot ignored).
pub fn cookie_domain_matches(cookie_domain: &str, host: &str) -> bool {
    let d = cookie_domain.trim_start_matches('.').to_ascii_lowercase();
    let h = host.trim_start_matches('.').to_ascii_lowercase();
    h == d || h.ends_with(&format!(".{d}"))
}

/// One origin's `localStorage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginStorage {
    /// e.g. "https://example.com".
    pub origin: String,
    /// `[name, value]` pairs.
    pub local_storage: Vec<(String, String)>,
}

/// A session's login state: its cookies and the localStorage of its tabs' origins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageState {
    pub cookies: Vec<Cookie>,
    #[serde(default)]
    pub origins: Vec<OriginStorage>,
}

/// What `storage_state` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageAction {
    /// Return the session's cookies and localStorage as JSON (default).
    #[default]
    Export,
    /// Load a state exported earlier into this session.
    Import,
}

/// Export the session's login state, or import one exported earlier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageStateArgs {
    /// Default export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "StorageAction")]
    pub action: Option<StorageAction>,
    /// For import: the object an export returned.
    // Listed as a plain object: the agent passes back what export gave it, and
    // the full shape would cost a kilobyte of every tool list; the import
    // still parses it as a `StorageState` and names a wrong field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub state: Option<StorageState>,
}

impl StorageStateArgs {
    pub fn validate(&self) -> Result<(), JobError> {
        match (self.action.unwrap_or_default(), &self.state) {
            (StorageAction::Import, None) => Err(JobError::invalid_argument(
                "action=\"import\" needs state (the object storage_state export returned)",
            )),
            (StorageAction::Import, Some(s)) => {
                s.cookies.iter().try_for_each(Cookie::validate)?;
                s.origins
                    .iter()
                    .try_for_each(|o| check_navigation_url(&o.origin).map(drop))
            }
            (StorageAction::Export, Some(_)) => Err(JobError::invalid_argument(
                "state applies to action=\"import\" only",
            )),
            _ => Ok(()),
        }
    }
}

/// Preferred colour scheme to emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ColorScheme {
    Light,
    Dark,
    NoPreference,
}

/// A device preset for `emulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    /// 1280×720 desktop (the default viewport).
    Desktop,
    /// iPhone 15: 393×852, 3× pixels, touch, mobile Safari user agent.
    #[serde(rename = "iphone-15")]
    Iphone15,
    /// Pixel 7: 412×915, 2.625× pixels, touch, mobile Chrome user agent.
    #[serde(rename = "pixel-7")]
    Pixel7,
    /// iPad: 820×1180, 2× pixels, touch.
    Ipad,
}

/// Viewport size in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
}

/// Emulate a device, viewport, user agent, colour scheme or locale in this
/// session (all its tabs, including ones opened later).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmulateArgs {
    /// A device preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Device")]
    pub device: Option<Device>,
    /// CSS pixels (over the device's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Viewport")]
    pub viewport: Option<Viewport>,
    /// Over the device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub user_agent: Option<String>,
    /// prefers-color-scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ColorScheme")]
    pub color_scheme: Option<ColorScheme>,
    /// e.g. "de-DE".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub locale: Option<String>,
    /// Clear all emulation first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub reset: Option<bool>,
}

impl EmulateArgs {
    pub fn validate(&self) -> Result<(), JobError> {
        if let Some(v) = self.viewport
            && (!(100..=4096).contains(&v.width) || !(100..=4096).contains(&v.height))
        {
            return Err(JobError::invalid_argument(format!(
                "viewport must be between 100×100 and 4096×4096, got {}×{}",
                v.width, v.height
            )));
        }
        if let Some(l) = &self.locale
            && (l.is_empty()
                || l.len() > 35
                || !l
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(JobError::invalid_argument(format!(
                "locale must look like \"en-US\", got \"{l}\""
            )));
        }
        if self.user_agent.as_deref().is_some_and(|ua| ua.len() > 1024) {
            return Err(JobError::invalid_argument("user_agent is longer than 1024"));
        }
        let nothing = self.device.is_none()
            && self.viewport.is_none()
            && self.user_agent.is_none()
            && self.color_scheme.is_none()
            && self.locale.is_none()
            && self.reset != Some(true);
        if nothing {
            return Err(JobError::invalid_argument(
                "pass at least one of device, viewport, user_agent, color_scheme, locale or reset",
            ));
        }
        Ok(())
    }

    /// Layers `self` over what was emulated before (`reset` starts from nothing).
    pub fn merged_over(&self, before: &EmulateArgs) -> EmulateArgs {
        let base = if self.reset == Some(true) {
            EmulateArgs::default()
        } else {
            before.clone()
        };
        EmulateArgs {
            device: self.device.or(base.device),
            viewport: self.viewport.or(base.viewport),
            user_agent: self.user_agent.clone().or(base.user_agent),
            color_scheme: self.color_scheme.or(base.color_scheme),
            locale: self.locale.clone().or(base.locale),
            reset: None,
        }
    }
}

/// Answer the page's next JavaScript dialog (alert, confirm, prompt, beforeunload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandleDialogArgs {
    /// OK (true) or Cancel (false).
    pub accept: bool,
    /// Text to answer a prompt() with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub prompt_text: Option<String>,
}

/// Console severity, lowest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleLevel {
    Debug,
    Info,
    Warning,
    Error,
}

/// Read what the current tab logged to its console (and uncaught errors).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleMessagesArgs {
    /// This level and above (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ConsoleLevel")]
    pub level: Option<ConsoleLevel>,
    /// Only after this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub since: Option<u64>,
    /// Newest kept (default 50, max 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_entries: Option<usize>,
}

/// List the current tab's network requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkRequestsArgs {
    /// Only URLs containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub filter: Option<String>,
    /// Only failures and HTTP errors (400 and up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub failed_only: Option<bool>,
    /// Only after this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub since: Option<u64>,
    /// Newest kept (default 50, max 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_entries: Option<usize>,
}

pub(crate) fn check_max_entries(n: Option<usize>) -> Result<(), JobError> {
    match n {
        Some(0) => Err(JobError::invalid_argument("max_entries must be at least 1")),
        Some(n) if n > MAX_LOG_ENTRIES => Err(JobError::invalid_argument(format!(
            "max_entries must be at most {MAX_LOG_ENTRIES}, got {n}"
        ))),
        _ => Ok(()),
    }
}

/// One console message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConsoleEntry {
    pub id: u64,
    pub level: ConsoleLevel,
    pub text: String,
    /// Script URL and line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One network request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestEntry {
    pub id: u64,
    pub method: String,
    pub url: String,
    /// Resource type: Document, Script, XHR, Fetch, Image…
    pub resource: String,
    /// HTTP status, once a response arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed (net::ERR_…), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl RequestEntry {
    pub fn failed(&self) -> bool {
        self.failure.is_some() || self.status.is_some_and(|s| s >= 400)
    }
}

/// List the files this session's pages downloaded, or read one back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadsArgs {
    /// Return this one as a file; omit to list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub index: Option<usize>,
}

/// One file a page downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadInfo {
    pub index: usize,
    /// The file name the site suggested.
    pub name: String,
    pub url: String,
    /// "in progress", "completed", "canceled" or "too large".
    pub state: String,
    /// Bytes received so far.
    pub bytes: u64,
}

/// A file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileData {
    pub name: String,
    pub mime_type: String,
    pub data_base64: String,
    pub bytes: u64,
}

/// Paper size for `pdf`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaperFormat {
    #[default]
    A4,
    Letter,
    Legal,
}

impl PaperFormat {
    /// Width and height in inches.
    pub fn inches(self) -> (f64, f64) {
        match self {
            PaperFormat::A4 => (8.27, 11.69),
            PaperFormat::Letter => (8.5, 11.0),
            PaperFormat::Legal => (8.5, 14.0),
        }
    }
}

/// Print the current page (or `url`) to PDF.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PdfArgs {
    /// Load this URL first (else the current page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    /// Landscape orientation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub landscape: Option<bool>,
    /// Default a4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "PaperFormat")]
    pub format: Option<PaperFormat>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_domains_match_hosts_and_subdomains_only() {
        assert!(cookie_domain_matches(".example.com", "example.com"));
        assert!(cookie_domain_matches("example.com", "www.example.com"));
        assert!(!cookie_domain_matches("example.com", "badexample.com"));
        assert!(!cookie_domain_matches("www.example.com", "example.com"));
    }

    #[test]
    fn emulation_layers_and_resets() {
        let dark = EmulateArgs {
            color_scheme: Some(ColorScheme::Dark),
            ..Default::default()
        };
        let phone = EmulateArgs {
            device: Some(Device::Pixel7),
            ..Default::default()
        };
        let both = phone.merged_over(&dark);
        assert_eq!(both.color_scheme, Some(ColorScheme::Dark));
        assert_eq!(both.device, Some(Device::Pixel7));
        let reset = EmulateArgs {
            reset: Some(true),
            ..Default::default()
        };
        assert_eq!(reset.merged_over(&both), EmulateArgs::default());
        assert!(EmulateArgs::default().validate().is_err());
    }

    #[test]
    fn state_arguments_are_checked() {
        let set = CookiesArgs {
            action: Some(CookieAction::Set),
            ..Default::default()
        };
        assert!(set.validate().is_err());
        let tabs = TabsArgs {
            action: Some(TabAction::Select),
            ..Default::default()
        };
        assert!(tabs.validate().is_err());
        let import = StorageStateArgs {
            action: Some(StorageAction::Import),
            state: Some(StorageState {
                cookies: vec![],
                origins: vec![OriginStorage {
                    origin: "file:///etc".into(),
                    local_storage: vec![],
                }],
            }),
        };
        assert!(import.validate().is_err());
    }
}
