//! The tab layer: one tab and every command sent to it. `cdp.rs` runs each
//! CDP command under a deadline and classifies failures ([`cdp::OpError`],
//! [`cdp::Fault`]); `watch.rs` is the task per tab answering dialogs and
//! keeping bounded console and network rings; `refs.rs` holds the snapshot
//! refs of a tab; `handle.rs` is a tab as a context holds it ([`TabHandle`]);
//! `context.rs` is a browser context as tab-level code sees it
//! ([`ContextRef`]).
//!
//! **Layer rule:** builds on the process layer only. It knows a tab and the
//! process and context id it lives in, never what an operation does with it
//! nor how contexts are shared (sessions, one-off hosts, the spare).

pub(crate) mod cdp;
pub(crate) mod context;
pub(crate) mod handle;
pub(crate) mod refs;
pub(crate) mod watch;

pub(crate) use cdp::{Fault, OpError, OpResult, Tab};
pub(crate) use context::ContextRef;
pub(crate) use handle::TabHandle;
pub(crate) use refs::{Outline, RefMap};
