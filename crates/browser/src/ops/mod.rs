//! The operations: what each tool does to a tab. Reading (`navigate.rs`,
//! `settle.rs` for when content is ready, `scrape.rs` with the pure conversion
//! in `extract.rs`, `snapshot.rs`,
//! `screenshot.rs`, `pdf.rs`, `wait.rs`), acting with real input events
//! (`interact.rs`, and `act.rs`, which reports each action as an
//! [`browserfarm_protocol::Effect`]), what an action changed on the page
//! (`changes.rs`) and what a new page shares with the one before (`shared.rs`),
//! what the tab's watcher collected
//! (`watched.rs`), the caller's JavaScript (`evaluate.rs`), emulation
//! (`emulate.rs`), a context's cookies and storage (`storage.rs`), and where
//! uploads may come from (`upload.rs`).
//!
//! **Layer rule:** an operation acts on the tab layer's [`crate::tab::Tab`]
//! (and, for the cookie jar, its [`crate::tab::ContextRef`]) and returns
//! protocol types. It never names processes, contexts or sessions: who holds
//! the tab, and what happens when Chromium fails, is decided above. Results
//! carry facts, never sentences for the agent; the MCP layer words them.

pub(crate) mod act;
pub(crate) mod changes;
pub(crate) mod emulate;
pub(crate) mod evaluate;
pub(crate) mod extract;
pub(crate) mod interact;
pub(crate) mod navigate;
pub(crate) mod pdf;
pub(crate) mod scrape;
pub(crate) mod screenshot;
pub(crate) mod settle;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub(crate) mod storage;
pub(crate) mod upload;
pub(crate) mod wait;
pub(crate) mod watched;
