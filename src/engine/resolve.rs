//! Turning a planned (or recorded) resource into what a provider receives: references
//! replaced by the outputs they name, secret pointers by the secrets.

use crate::plan::resource::{Kind, Value};
use crate::providers::{Attr, Attrs, Desired, Outputs};
use crate::state::Secret;
use std::collections::BTreeMap;

/// The provider's view of one resource. `outputs(address)` gives the known outputs of another
/// resource; `secrets` the pre-shared keys by key. Unknown references become
/// [`Attr::Unknown`].
#[allow(clippy::too_many_arguments)]
pub fn desired(
    topology: &str,
    address: &str,
    kind: Kind,
    name: &str,
    region: &str,
    attributes: &BTreeMap<String, Value>,
    outputs: &dyn Fn(&str) -> Option<Outputs>,
    secrets: &BTreeMap<String, Secret>,
) -> Desired {
    let out = |r: &str, o: &str| outputs(r).and_then(|m| m.get(o).cloned());
    let sec = |k: &str| secrets.get(k).cloned();
    Desired {
        address: address.to_string(),
        kind,
        name: name.to_string(),
        region: region.to_string(),
        topology: topology.to_string(),
        attrs: Attrs(
            attributes
                .iter()
                .map(|(k, v)| (k.clone(), Attr::resolve(v, &out, &sec)))
                .collect(),
        ),
    }
}
