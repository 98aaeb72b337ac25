//! property tests of the topology decoder and the sandbox's request parsing (bounded here; PEERCTL_FUZZ_CASES for a longer run).
