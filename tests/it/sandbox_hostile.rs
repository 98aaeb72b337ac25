//! hostile requests to the sandbox: bounded, answered in each cloud's format, the server stays up.
