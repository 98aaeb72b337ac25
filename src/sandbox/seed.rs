//! Seeding: the topology's networks (VPCs, VPC networks, VNets with their CIDRs, default
//! route tables, security groups/NSGs, subnets) are put into the world at start, so that a
//! topology can be applied to the sandbox unchanged.

use crate::cloud::Cloud;
use crate::sandbox::{aws, azure, gcp, world::World};
use crate::topology::Topology;

pub fn seed_topology(world: &mut World, topology: &Topology) {
    for net in &topology.networks {
        match net.cloud {
            Cloud::Aws => aws::seed(world, net),
            Cloud::Gcp => gcp::seed(world, net),
            Cloud::Azure => azure::seed(world, net),
        }
    }
}
