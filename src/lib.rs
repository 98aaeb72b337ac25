//! peerctl: connect private networks across AWS, GCP and Azure.
//!
//! The library holds everything but the command line: the topology model (`topology`), the
//! pure planner (`plan`), the state document (`state`) and the sandbox (`sandbox`).
//! See docs/ARCHITECTURE.md for the module map and the rules between modules.

pub mod cloud;
pub mod engine;
pub mod plan;
pub mod providers;
pub mod sandbox;
pub mod state;
pub mod topology;
pub mod verify;
