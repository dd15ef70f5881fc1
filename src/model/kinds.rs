//! The `spec` of every kind, one file per kind (or per pair of closely related kinds).
//!
//! ```text
//!  fleet ── cluster ──┬── addon
//!                     ├── compute   (NodeGroup, FargateProfile)
//!                     ├── access    (AccessEntry, PodIdentityAssociation)
//!                     ├── nodepool ── nodeclass   (Auto Mode, native groups)
//!                     └── classes   (StorageClass, IngressClass, IngressClassParams)
//! ```
//!
//! The JSON Schemas are generated from these types; moving a type between files does not
//! change them (definitions are named by type, not by path).

use std::collections::BTreeMap;

mod access;
mod addon;
mod classes;
mod cluster;
mod compute;
mod fields;
mod fleet;
mod nodeclass;
mod nodepool;
mod notify;

pub use access::*;
pub use addon::*;
pub use classes::*;
pub use cluster::*;
pub use compute::*;
pub use fields::*;
pub use fleet::*;
pub use nodeclass::*;
pub use nodepool::*;
pub use notify::*;

/// Tags: at most 50 per resource on AWS.
pub type Tags = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}
