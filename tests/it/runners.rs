//! per-cloud runners sharing one state document.
