//! The pool's settings: plain data every layer reads, each field a documented
//! CLI flag and environment variable of the binary. It sits at the bottom so
//! that any layer may read it; it only holds values and knows no other module
//! but the memory figures its defaults come from ([`super::capacity`]).

use std::path::PathBuf;
use std::time::Duration;

use super::capacity;
use super::gate::Gate;

/// Default screenshot budget: about 1 MB, which a 1280×720 PNG of an ordinary
/// page stays well under, and which keeps a full-page capture from flooding an
/// agent's context.
pub const DEFAULT_SCREENSHOT_MAX_BYTES: usize = 1_000_000;

/// Default cap on one downloaded file.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 20_000_000;

/// Pool settings. Every field is a documented CLI flag / env var in the binary.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Chromium executable; `None` searches `PATH`.
    pub chrome: Option<PathBuf>,
    /// Processes kept running even when idle (started in the background at start).
    pub min_browsers: usize,
    /// Most processes at once (sessions and one-off jobs together).
    pub max_browsers: usize,
    /// Most sessions (incognito contexts) packed into one process.
    pub sessions_per_browser: usize,
    /// Most sessions open at once (and never more than `max_browsers` times
    /// `sessions_per_browser`); see [`capacity`] for the default.
    pub max_sessions: usize,
    /// Free memory, in bytes, below which new sessions are refused (0: never).
    pub min_free_memory: u64,
    /// A process is replaced after opening this many browser contexts (sessions).
    pub max_leases: usize,
    /// Idle processes beyond `min_browsers` are closed after this long unused.
    pub idle_timeout: Duration,
    /// How long a caller waits for a free process before getting an error.
    pub acquire_timeout: Duration,
    /// How long Chromium may take to start.
    pub launch_timeout: Duration,
    /// Deadline for any single CDP command.
    pub cdp_timeout: Duration,
    /// Page-load deadline when a call gives no `timeout_ms`.
    pub navigation_timeout: Duration,
    /// How long `evaluate` may run before V8 terminates the script.
    pub script_timeout: Duration,
    /// Viewport in CSS pixels, width × height.
    pub viewport: (u32, u32),
    /// Run Chromium without its sandbox even when not root.
    pub no_sandbox: bool,
    /// Directory `upload_file` may take files from; `None` turns uploads off.
    pub upload_dir: Option<PathBuf>,
    /// Largest screenshot returned, in bytes; larger captures are re-encoded as
    /// JPEG and scaled down until they fit.
    pub screenshot_max_bytes: usize,
    /// Let sessions' pages download files (saved per session, capped at
    /// `max_download_bytes` each); off refuses downloads and tells the agent.
    pub downloads: bool,
    /// Largest file a download may grow to before it is cancelled.
    pub max_download_bytes: u64,
    /// Reads load the whole page and wait for `load`, as screenshots do. Off
    /// (default), one-off reads skip images, media, fonts and subframes, and
    /// reads return once the content is ready (see `WaitUntil::Ready`).
    pub full_reads: bool,
    /// Action results (click, type, press_key, select_option, fill_form,
    /// hover, scroll, history moves) carry what the action changed on the page.
    pub show_changes: bool,
    /// Hosts pages may reach; `None` lets them reach any.
    pub gate: Option<std::sync::Arc<Gate>>,
    /// Let pages open popups: script-opened windows are allowed, and popups
    /// become tabs of the session. Off, Chromium's popup blocker stops script
    /// popups and a popup a click opens is closed at once (the agent is told).
    pub popups: bool,
    /// Most tabs one session may hold.
    pub max_tabs: usize,
}

impl Default for PoolConfig {
    /// Limits sized for this machine's memory (see [`capacity`]).
    fn default() -> Self {
        let memory = capacity::Memory::read();
        let max_sessions = capacity::default_max_sessions(memory);
        PoolConfig {
            chrome: None,
            min_browsers: 1,
            max_browsers: default_max_browsers(max_sessions, DEFAULT_SESSIONS_PER_BROWSER),
            sessions_per_browser: DEFAULT_SESSIONS_PER_BROWSER,
            max_sessions,
            min_free_memory: capacity::default_reserve(memory),
            max_leases: 100,
            idle_timeout: Duration::from_secs(300),
            acquire_timeout: Duration::from_secs(30),
            launch_timeout: Duration::from_secs(20),
            cdp_timeout: Duration::from_secs(10),
            navigation_timeout: Duration::from_millis(browserfarm_protocol::DEFAULT_TIMEOUT_MS),
            script_timeout: Duration::from_secs(10),
            viewport: (1280, 720),
            no_sandbox: false,
            upload_dir: None,
            screenshot_max_bytes: DEFAULT_SCREENSHOT_MAX_BYTES,
            downloads: false,
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            full_reads: false,
            show_changes: true,
            gate: None,
            popups: false,
            max_tabs: browserfarm_protocol::MAX_TABS,
        }
    }
}

/// Default for [`PoolConfig::sessions_per_browser`]: 16 sessions of simple pages
/// cost a process far less than 16 processes, and a crash or hang of one
/// process still ends only a sixteenth of a full pool's sessions.
pub const DEFAULT_SESSIONS_PER_BROWSER: usize = 16;

/// Default for [`PoolConfig::max_browsers`]: enough processes for
/// `max_sessions` sessions, `per_browser` in each, and at least two, so one-off
/// jobs have a process while sessions fill another. Processes start only when
/// needed, so a high limit costs nothing while idle.
pub fn default_max_browsers(max_sessions: usize, per_browser: usize) -> usize {
    max_sessions.div_ceil(per_browser.max(1)).clamp(2, 256)
}
