//! The bottom layer: Chromium processes. Finding Chromium (`locate.rs`),
//! launching it (`chrome.rs`), the deadpool of processes and its [`Lease`]
//! (`pool.rs`), cleaning up after a dead owner (`reap.rs`), what differs between
//! operating systems (`os/`), the host policy (`gate.rs`) with
//! its optional ad and tracker lists (`blocklist.rs`) and the egress proxy that
//! enforces it per connection (`egress.rs`), the
//! memory-derived limits (`capacity.rs`), and the settings every layer reads
//! (`config.rs`).
//!
//! **Layer rule:** knows processes, not what runs in them. Nothing here names
//! the tab, operation or context layers: no sessions, scratch contexts, spares
//! or one-off hosts (a process only counts the contexts it opened, its wear;
//! `capacity.rs` only does the arithmetic of the session limit). A higher layer
//! that needs something per process keeps it itself or parks it in the process
//! ([`ChromeProcess::park`]), which drops it with the process.

pub(crate) mod blocklist;
pub(crate) mod capacity;
pub(crate) mod chrome;
pub(crate) mod config;
pub(crate) mod egress;
pub(crate) mod gate;
pub(crate) mod locate;
pub(crate) mod os;
pub(crate) mod pool;
pub(crate) mod reap;

pub use blocklist::{BlockList, BlockListError};
pub(crate) use chrome::ChromeProcess;
pub use chrome::LaunchError;
pub use config::{
    DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_SCREENSHOT_MAX_BYTES, DEFAULT_SESSIONS_PER_BROWSER,
    PoolConfig, default_max_browsers,
};
pub use gate::{Gate, Resolver};
pub use locate::{CHROME_CANDIDATES, find_chrome};
pub(crate) use pool::ProcessPool;
pub use pool::{Lease, PoolStatus};
