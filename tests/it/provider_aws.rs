//! Provider tests against the sandbox (placeholder).
