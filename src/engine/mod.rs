//! The engine: executes a plan's changes against providers. It walks the resource graph,
//! starting each resource the moment its dependencies are done and the outputs it references
//! are known, records every finished resource in state, and stops cleanly on failure or
//! cancellation. It knows clouds only through [`crate::providers::Provider`].

pub mod resolve;

pub use resolve::desired;
