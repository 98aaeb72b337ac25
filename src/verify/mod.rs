//! verify: proves every link works in both directions, and names the cause when it does not.
//! Observe, then judge: the providers read the clouds into a plain [`snapshot::Snapshot`]
//! (read-only, batched per scope and kind), [`judge::judge`] turns it into findings (pure), and
//! [`render`] prints them (pure).

pub mod judge;
pub mod render;
pub mod snapshot;

pub use judge::{judge, Check, Options, Report, Verdict};
pub use snapshot::Snapshot;
