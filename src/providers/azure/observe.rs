//! verify's reads on AZURE: not written yet. Every observation records one read error, so
//! verify reports this cloud as unreadable (exit 1) rather than judging it from nothing.

use crate::providers::{ObserveRequest, ProviderError};
use crate::verify::snapshot::{CloudSnapshot, ReadError};

/// The snapshot of a cloud whose observation is not implemented.
pub(super) fn observe_all(req: &ObserveRequest) -> Result<CloudSnapshot, ProviderError> {
    Ok(CloudSnapshot {
        errors: vec![ReadError {
            scope: format!("azure ({} resources)", req.resources.len()),
            what: "observe".into(),
            message: "verify cannot read this cloud yet (observation not implemented)".into(),
        }],
        ..CloudSnapshot::default()
    })
}
