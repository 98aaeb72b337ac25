//! verify's Azure observation against the sandbox.
