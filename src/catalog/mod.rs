//! The software catalog: Backstage-format entities, their refs and relations, reading them from
//! descriptor files, and the in-memory snapshot that answers lookups.

pub mod entity;
pub mod entity_ref;
pub mod fetch;
pub mod field_order;
pub mod generate;
pub mod ingest;
pub mod recognise;
pub mod snapshot;

pub use entity::{Entity, EntityError, Link, Profile};
pub use entity_ref::{DEFAULT_NAMESPACE, EntityRef, RefError};
pub use ingest::{Problem, ReadEntity, SourceRead, read_source};
pub use recognise::{
    Clue, Matched, Recognised, Recognition, owned_by_person, recognise, service_from_channel_name,
};
pub use snapshot::{Lookup, NameQuery, RelationType, Snapshot, Target};
pub mod service;
pub use service::{CatalogService, SourceReport};
