//! the etcd state backend, the CAS loop and secrets encrypted at rest, against a real etcd.
