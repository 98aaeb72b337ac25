//! The one integration-test binary (every file in tests/ would otherwise link all three SDKs
//! on its own). One module per area.

mod common;

mod apply;
mod reliability;
mod runners;
mod state_etcd;
mod verify;
mod verify_azure;
mod verify_gcp;
mod verify_truth;

mod cli;
mod fuzz;
mod plan_golden;
mod plan_props;
mod provider_aws;
mod provider_azure;
mod provider_gcp;
mod topology_hostile;
mod topology_validation;

mod sandbox_aws;
mod sandbox_azure;
mod sandbox_cli;
mod sandbox_core;
mod sandbox_gcp;
mod sandbox_hostile;
mod sandbox_physics;
