//! The context layer: browser contexts and who holds them. A session's hold
//! on its context and tabs (`live.rs`: opening, tabs, closing; `recover.rs`:
//! what a fault cost), which process a session's context goes into
//! (`packing.rs`), the context opened ahead for the next session (`spare.rs`),
//! one-off jobs on shared hosts (`oneoff.rs`) and the scratch context they
//! park in a process (`scratch.rs`), a session's downloads (`downloads.rs`),
//! its tabs and popups (`tabs.rs`), and the public [`Pool`] holding the
//! process pool with these books (`pool.rs`).
//!
//! **Layer rule:** builds on processes, tabs and operations; it never names
//! the dispatcher (`jobs.rs`) or the public `Session`, which run operations on
//! the contexts handed out here.

pub(crate) mod downloads;
pub(crate) mod live;
pub(crate) mod oneoff;
pub(crate) mod packing;
pub(crate) mod pool;
pub(crate) mod recover;
pub(crate) mod scratch;
pub(crate) mod spare;
pub(crate) mod tabs;

pub use pool::{Pool, SessionOccupancy};
