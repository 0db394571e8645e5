//! One Chromium process: launching it with the flags this
//! machine class needs, driving its CDP event loop, and closing it without leaving a
//! process or a profile directory behind.
//!
//! A process knows its health, its wear (contexts opened, for recycling) and its
//! profile directory; what runs in it is the context layer's business, which may
//! park one value in it between leases ([`ChromeProcess::park`]).

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::viewport::Viewport;
use futures::StreamExt;
use tokio::task::JoinHandle;

use super::gate::Gate;
use super::locate::CHROME_CANDIDATES;
use super::os;

/// Why Chromium could not be found or started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "no Chromium found (looked on PATH for {} and in {}); {} or pass \
         --chrome /path/to/chromium (env BROWSERFARM_CHROME)",
        CHROME_CANDIDATES.join(", "),
        super::locate::INSTALL_PLACES,
        super::locate::INSTALL_HINT
    )]
    ChromeNotFound,
    #[error("{0} is not an executable file; check --chrome / BROWSERFARM_CHROME")]
    ChromeNotExecutable(PathBuf),
    #[error("invalid Chromium configuration: {0}")]
    Config(String),
    #[error("Chromium ({executable}) failed to start: {reason}")]
    Launch { executable: PathBuf, reason: String },
    #[error("cannot prepare the Chromium profile directory {path}: {source}")]
    ProfileDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// chromiumoxide's default flags (0.9), which we pass ourselves so that
/// `disable-popup-blocking` can be left out: with Chromium's popup blocker on, a
/// page cannot open windows from script without a user gesture (a popup storm).
/// Keep in step with `DEFAULT_ARGS` in chromiumoxide's `browser/config.rs` when
/// upgrading it.
const DEFAULT_ARGS: &[&str] = &[
    "disable-background-networking",
    "enable-features=NetworkService,NetworkServiceInProcess",
    "disable-background-timer-throttling",
    "disable-backgrounding-occluded-windows",
    "disable-breakpad",
    "disable-client-side-phishing-detection",
    "disable-component-extensions-with-background-pages",
    "disable-default-apps",
    "disable-dev-shm-usage",
    // One list: Chromium honours only the last `--disable-features`. Since
    // Chromium 156 each browser window (one per context here) loads its
    // omnibox popup, plain and "AI mode", as WebUI pages in a renderer of
    // their own, which doubled the renderers and the memory of every idle
    // session; nobody opens an address bar in headless automation, and
    // Chromium falls back to its native popup (measured: 2.1 renderers and 63
    // MiB PSS per context at 24 contexts, 1.0 and 24 MiB without them).
    "disable-features=TranslateUI,WebUIOmniboxPopup,WebUIOmniboxAimPopup",
    "disable-hang-monitor",
    "disable-ipc-flooding-protection",
    "disable-prompt-on-repost",
    "disable-renderer-backgrounding",
    "disable-sync",
    "force-color-profile=srgb",
    "metrics-recording-only",
    "no-first-run",
    "enable-automation",
    "password-store=basic",
    "use-mock-keychain",
    "enable-blink-features=IdleDetection",
    "lang=en_US",
];

/// Flags added to chromiumoxide's defaults. Names go without leading dashes:
/// chromiumoxide adds them (a `--flag` here would become `----flag`, silently
/// ignored by Chromium).
const EXTRA_ARGS: &[&str] = &[
    "disable-gpu",
    "disable-component-update",
    "disable-quic",
    "no-default-browser-check",
    "disable-domain-reliability",
    "disable-print-preview",
    // Chromium otherwise phones home for variations, safe-browsing lists and
    // optimisation hints; on a closed network each attempt fails slowly.
    "disable-field-trial-config",
    "no-pings",
    // Every job opens its own tab in a context of its own; the tab Chromium
    // would open at start only competes with the first of them for the CPU
    // (measured: ~300 ms of a ~1 s cold start on two cores).
    "no-startup-window",
];

/// chromiumoxide's own request timeout. It also bounds how long it waits for a
/// navigation to reach `load`, so it must exceed the longest navigation deadline a
/// caller may ask for; our own, shorter deadlines wrap every call.
const CHROMIUMOXIDE_REQUEST_TIMEOUT: Duration =
    Duration::from_millis(browserfarm_protocol::MAX_TIMEOUT_MS + 10_000);

/// Two stalled calls (see [`ChromeProcess::stalled`]) this close together mean
/// the browser, not the page, is at fault.
const STALL_WINDOW: Duration = Duration::from_secs(60);

/// How often the CDP pump checks that its Chromium process still exists.
const PROCESS_CHECK_PERIOD: Duration = Duration::from_secs(1);

/// How to launch each Chromium.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub executable: PathBuf,
    pub viewport: (u32, u32),
    pub launch_timeout: Duration,
    /// Disable Chromium's sandbox even when not root (containers without user
    /// namespaces need it). As root it is always disabled: Chromium insists.
    pub no_sandbox: bool,
    /// Let pages open popups without a user gesture (Chromium's popup blocker off).
    pub popups: bool,
    /// Send every request through this HTTP proxy (the pool's egress proxy),
    /// loopback included.
    pub proxy: Option<std::net::SocketAddr>,
}

/// Why a browser-level command failed.
#[derive(Debug)]
pub(crate) enum BrowserCallError {
    /// Chromium answered with an error.
    Refused(String),
    /// No answer within the deadline.
    Timeout,
}

impl std::fmt::Display for BrowserCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrowserCallError::Refused(e) => write!(f, "{e}"),
            BrowserCallError::Timeout => write!(f, "Chromium did not answer in time"),
        }
    }
}

/// A running Chromium and the task that pumps its CDP connection.
pub struct ChromeProcess {
    browser: Option<Browser>,
    handler: JoinHandle<()>,
    connected: Arc<AtomicBool>,
    broken: AtomicBool,
    user_data_dir: PathBuf,
    pid: Option<u32>,
    /// What a higher layer keeps in the process between leases (the one-off
    /// jobs' warm context): dropped with the process, so it never outlives it.
    parked: std::sync::Mutex<Option<Box<dyn Any + Send>>>,
    /// When a call last timed out while its tab still answered scripts.
    last_stall: std::sync::Mutex<Option<std::time::Instant>>,
    /// Browser contexts opened in this process (the pool retires it after
    /// `max_leases`).
    contexts_opened: AtomicUsize,
    /// The server's host policy, enforced in every tab of this process.
    pub(crate) gate: Option<Arc<Gate>>,
}

impl ChromeProcess {
    /// Launches Chromium with a fresh profile in `user_data_dir`.
    pub async fn launch(opts: &LaunchOptions, user_data_dir: PathBuf) -> Result<Self, LaunchError> {
        let (width, height) = opts.viewport;
        let mut builder = BrowserConfig::builder()
            .chrome_executable(&opts.executable)
            .user_data_dir(&user_data_dir)
            .window_size(width, height)
            .viewport(Viewport {
                width,
                height,
                device_scale_factor: Some(1.0),
                emulating_mobile: false,
                is_landscape: false,
                has_touch: false,
            })
            .launch_timeout(opts.launch_timeout)
            .request_timeout(CHROMIUMOXIDE_REQUEST_TIMEOUT)
            .disable_default_args()
            .args(DEFAULT_ARGS.iter().copied())
            .args(EXTRA_ARGS.iter().copied());
        if opts.popups {
            builder = builder.arg("disable-popup-blocking");
        }
        if let Some(proxy) = opts.proxy {
            // `<-loopback>` drops Chromium's implicit bypass of localhost and
            // 127.0.0.1, which the policy must see too.
            builder = builder
                .arg(format!("proxy-server=http://{proxy}"))
                .arg("proxy-bypass-list=<-loopback>")
                // WebRTC would otherwise send UDP past the proxy.
                .arg("force-webrtc-ip-handling-policy=disable_non_proxied_udp");
        }
        if opts.no_sandbox || os::running_as_root() {
            builder = builder.no_sandbox();
        }
        let config = builder.build().map_err(LaunchError::Config)?;
        let (mut browser, mut handler) =
            Browser::launch(config)
                .await
                .map_err(|e| LaunchError::Launch {
                    executable: opts.executable.clone(),
                    reason: e.to_string(),
                })?;
        let pid = browser.get_mut_child().and_then(|c| c.inner.id());
        let connected = Arc::new(AtomicBool::new(true));
        let flag = connected.clone();
        let handler = tokio::spawn(async move {
            // chromiumoxide's handler neither ends nor fails pending commands when
            // the socket closes, so we watch for it: a connection error, or the
            // process gone (checked every second), ends the loop. Dropping the
            // handler then fails every pending command of this browser at once.
            let mut check = tokio::time::interval(PROCESS_CHECK_PERIOD);
            loop {
                tokio::select! {
                    event = handler.next() => match event {
                        None => break,
                        Some(Err(CdpError::Ws(e))) => {
                            tracing::debug!(error = %e, "Chromium connection lost");
                            break;
                        }
                        Some(Err(e)) => tracing::trace!(error = %e, "cdp handler"),
                        Some(Ok(())) => {}
                    },
                    _ = check.tick() => {
                        if pid.is_some_and(|p| !os::alive(p)) {
                            tracing::debug!(pid, "Chromium process exited");
                            break;
                        }
                    }
                }
            }
            flag.store(false, Ordering::Release);
        });
        Ok(ChromeProcess {
            browser: Some(browser),
            handler,
            connected,
            broken: AtomicBool::new(false),
            user_data_dir,
            pid,
            parked: Default::default(),
            contexts_opened: Default::default(),
            last_stall: Default::default(),
            gate: None,
        })
    }

    /// The CDP client. Present for the whole time the process is in the pool.
    pub fn browser(&self) -> &Browser {
        self.browser
            .as_ref()
            .expect("browser is only taken when the process leaves the pool")
    }

    /// False once the CDP connection dropped (Chromium exited or crashed) or the
    /// process was marked broken after a hang.
    pub fn is_healthy(&self) -> bool {
        self.connected.load(Ordering::Acquire) && !self.broken.load(Ordering::Acquire)
    }

    /// Marks the process unusable; the pool replaces it instead of leasing it again.
    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// Records a call that timed out while its tab still answered scripts; true
    /// when another did within [`STALL_WINDOW`], i.e. the process is sick.
    pub(crate) fn stalled(&self) -> bool {
        let now = std::time::Instant::now();
        let previous = self
            .last_stall
            .lock()
            .expect("stall clock poisoned")
            .replace(now);
        previous.is_some_and(|then| now - then < STALL_WINDOW)
    }

    /// Operating-system process id, for diagnostics and fault-injection tests.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Runs a browser-level command (contexts, cookies, downloads, targets) under
    /// `deadline`; the tab layer's `Tab::exec` is its twin for tab-level commands.
    pub(crate) async fn exec<C: chromiumoxide::types::Command>(
        &self,
        deadline: std::time::Duration,
        cmd: C,
    ) -> Result<C::Response, BrowserCallError> {
        match tokio::time::timeout(deadline, self.browser().execute(cmd)).await {
            Ok(Ok(reply)) => Ok(reply.result),
            Ok(Err(e)) => Err(BrowserCallError::Refused(e.to_string())),
            Err(_) => Err(BrowserCallError::Timeout),
        }
    }

    /// The process's profile directory, deleted when it closes: what is kept
    /// in it cannot outlive the process.
    pub(crate) fn profile_dir(&self) -> &Path {
        &self.user_data_dir
    }

    /// Counts one more browser context opened in this process; the pool
    /// retires it once `max_leases` have been.
    pub(crate) fn count_context(&self) {
        self.contexts_opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Browser contexts opened in this process so far.
    pub(crate) fn contexts_opened(&self) -> usize {
        self.contexts_opened.load(Ordering::Relaxed)
    }

    /// Keeps `value` in the process until [`ChromeProcess::unpark`] takes it or
    /// the process closes, replacing what was parked before.
    pub(crate) fn park<T: Any + Send>(&self, value: T) {
        *self.parked.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(value));
    }

    /// Takes the value parked in the process, if it is a `T`.
    pub(crate) fn unpark<T: Any + Send>(&self) -> Option<T> {
        let mut slot = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }

    /// Takes the parts needed to close the process, leaving `self` inert.
    pub(crate) fn take_for_close(&mut self) -> Option<Closing> {
        self.browser.take().map(|browser| Closing {
            browser,
            handler: self.handler.abort_handle(),
            user_data_dir: self.user_data_dir.clone(),
        })
    }
}

impl Drop for ChromeProcess {
    /// Last resort for a process dropped without [`Closing::close`] (e.g. a lease
    /// still held when the runtime stops): chromiumoxide would only schedule a
    /// kill on a runtime that may be gone, so kill it now.
    fn drop(&mut self) {
        if self.browser.is_some()
            && let Some(pid) = self.pid
        {
            os::kill(pid);
        }
    }
}

/// A process on its way out; see [`Closing::close`].
pub(crate) struct Closing {
    browser: Browser,
    handler: tokio::task::AbortHandle,
    user_data_dir: PathBuf,
}

impl Closing {
    /// Asks Chromium to quit, waits a bounded time, kills it if it will not, reaps
    /// it, and removes its profile directory.
    pub(crate) async fn close(mut self) {
        const POLITE: Duration = Duration::from_secs(2);
        const EXIT_WAIT: Duration = Duration::from_secs(3);
        let _ = tokio::time::timeout(POLITE, self.browser.close()).await;
        let exited = matches!(
            tokio::time::timeout(EXIT_WAIT, self.browser.wait()).await,
            Ok(Ok(Some(_)))
        );
        if !exited {
            let _ = self.browser.kill().await;
            let _ = tokio::time::timeout(EXIT_WAIT, self.browser.wait()).await;
        }
        self.handler.abort();
        remove_profile(self.user_data_dir).await;
    }
}

/// Removes a Chromium profile directory. Chromium's helpers (zygote, utility
/// processes) may still write to it for a moment after the browser process
/// exits, so a removal can race a new file in: it is tried again briefly.
pub(crate) async fn remove_profile(dir: PathBuf) {
    for _ in 0..20 {
        let at = dir.clone();
        let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&at) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        })
        .await
        .unwrap_or(false);
        if removed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!(dir = %dir.display(), "could not remove a Chromium profile");
}
