//! Putting what a finished template run created into the catalog: the descriptor the backend
//! sent, the `catalog-info.yaml` at the location it named, or (when it sent neither) a descriptor
//! idp writes from the run's inputs. The compliance controls and labels are recorded on the new
//! Component either way. Each run is its own catalog source (`runs/<run id>`), so applying it
//! twice changes nothing.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::run::Run;
use crate::catalog::fetch::DescriptorFetcher;
use crate::catalog::ingest::{SourceRead, read_descriptor_text};
use crate::catalog::{CatalogService, EntityRef};

/// Largest descriptor fetched from a location, in bytes (see [`crate::catalog::fetch`]).
pub use crate::catalog::fetch::MAX_DESCRIPTOR_BYTES;

/// Annotation listing the controls a compliance rule required, comma-separated.
pub const CONTROLS_ANNOTATION: &str = "idp.dev/controls";
/// Annotation naming the run that created the entity.
pub const RUN_ANNOTATION: &str = "idp.dev/created-by-run";
/// Annotation naming the template that created the entity.
pub const TEMPLATE_ANNOTATION: &str = "idp.dev/template";

/// Why the new entity is not in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CreatedError {
    /// The location could not be read.
    #[error("{location} could not be read: {reason}")]
    Fetch {
        /// The URL.
        location: String,
        /// Why.
        reason: String,
    },
    /// The descriptor held no valid entity.
    #[error("the descriptor holds no valid entity: {0}")]
    Invalid(String),
    /// The store refused it.
    #[error("the catalog could not store it: {0}")]
    Store(String),
}

/// The source name of a run's entities.
pub fn source_of(run: &Run) -> String {
    format!("runs/{}", run.id)
}

/// A descriptor for the new component written from the run's inputs.
pub fn descriptor_from_inputs(run: &Run) -> Value {
    let name = run.subject.clone().unwrap_or_else(|| run.id.clone());
    let input = |k: &str| run.inputs.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut spec = json!({
        "type": input("type").unwrap_or_else(|| "service".to_owned()),
        "lifecycle": "experimental",
        "owner": run.target.clone().unwrap_or_default(),
    });
    if let Some(system) = input("system") {
        spec["system"] = json!(system);
    }
    let mut metadata = json!({ "name": name });
    if let Some(d) = input("description") {
        metadata["description"] = json!(d);
    }
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": metadata,
        "spec": spec,
    })
}

/// Adds the run's controls, labels and provenance to a Component document.
fn stamp(doc: &mut Value, run: &Run) {
    let Some(metadata) = doc.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(RUN_ANNOTATION.to_owned(), json!(run.id));
        if let Some(t) = &run.template {
            a.insert(TEMPLATE_ANNOTATION.to_owned(), json!(t));
        }
        if !run.controls.controls.is_empty() {
            a.insert(
                CONTROLS_ANNOTATION.to_owned(),
                json!(run.controls.controls.join(",")),
            );
        }
    }
    if !run.controls.labels.is_empty() {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            for (k, v) in &run.controls.labels {
                l.insert(k.clone(), json!(v));
            }
        }
    }
}

/// What [`register`] stored, and what it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The new Component's ref key.
    pub entity: String,
    /// Why the backend's descriptor was not used as sent (each a sentence for the run's steps).
    pub notes: Vec<String>,
}

/// Whether a read entity is the run's new Component, owned by the team the run was authorized
/// for; otherwise why not.
fn accept(entity: &crate::catalog::ReadEntity, run: &Run) -> Result<(), String> {
    let r = &entity.entity_ref;
    let key = r.key();
    if !r.kind.eq_ignore_ascii_case("component") {
        return Err(format!("{key} is not a Component"));
    }
    if run
        .subject
        .as_deref()
        .is_some_and(|s| !s.eq_ignore_ascii_case(&r.name))
    {
        return Err(format!(
            "{key} is not the component this run creates ({})",
            run.subject.as_deref().unwrap_or_default()
        ));
    }
    let doc: Value = serde_json::from_str(&entity.body).unwrap_or(Value::Null);
    let owner = doc
        .pointer("/spec/owner")
        .and_then(Value::as_str)
        .and_then(|o| EntityRef::parse(o, Some("group"), &r.namespace).ok());
    let target = run
        .target
        .as_deref()
        .and_then(|t| EntityRef::parse(t, Some("group"), "default").ok());
    match (owner, target) {
        (Some(o), Some(t)) if o.same_as(&t) => Ok(()),
        (o, t) => Err(format!(
            "{key} names owner {} but the run was allowed for {}",
            o.map_or_else(|| "nobody".to_owned(), |o| o.key()),
            t.map_or_else(|| "nobody".to_owned(), |t| t.key())
        )),
    }
}

/// Stores the new Component of a finished run and refreshes the snapshot. Only the Component the
/// run was authorized to create is taken from a backend's descriptor or location (a backend can
/// never add groups, users or other entities this way); when the backend sent nothing usable,
/// idp writes the descriptor from the run's inputs, and says why in [`Registered::notes`].
///
/// # Errors
/// [`CreatedError::Store`] when the catalog cannot store it; the run's success stands either way.
pub async fn register(
    catalog: &CatalogService,
    fetcher: &dyn DescriptorFetcher,
    run: &Run,
    descriptor: Option<&str>,
    location: Option<&str>,
) -> Result<Registered, CreatedError> {
    let source = source_of(run);
    let mut notes = Vec::new();
    let sent = match (descriptor, location) {
        (Some(d), _) if !d.trim().is_empty() => Some(d.to_owned()),
        (_, Some(l)) if !l.trim().is_empty() => match fetcher.fetch(l).await {
            Ok(text) => Some(text),
            Err(e) => {
                let e = CreatedError::Fetch {
                    location: l.to_owned(),
                    reason: e.0,
                };
                notes.push(format!("The backend's location was not used: {e}"));
                None
            }
        },
        _ => None,
    };
    let mut read: Option<SourceRead> = None;
    if let Some(text) = sent {
        let mut candidate = read_descriptor_text(&source, &text);
        for problem in &candidate.problems {
            notes.push(format!(
                "Part of the backend's descriptor was skipped: {problem}"
            ));
        }
        let mut kept = Vec::new();
        for entity in std::mem::take(&mut candidate.entities) {
            match accept(&entity, run) {
                Ok(()) if kept.is_empty() => kept.push(entity),
                Ok(()) => {}
                Err(why) => notes.push(format!("Left out of the catalog: {why}")),
            }
        }
        if kept.is_empty() {
            notes.push(
                "The backend's descriptor held no usable component; idp wrote one from the inputs"
                    .to_owned(),
            );
        } else {
            candidate.entities = kept;
            candidate.problems.clear();
            read = Some(candidate);
        }
    }
    let mut read = match read {
        Some(r) => r,
        None => read_descriptor_text(&source, &descriptor_from_inputs(run).to_string()),
    };
    let Some(entity) = read.entities.first_mut() else {
        let why = read
            .problems
            .first()
            .map_or_else(|| "it is empty".to_owned(), ToString::to_string);
        return Err(CreatedError::Invalid(why));
    };
    if let Ok(mut doc) = serde_json::from_str::<Value>(&entity.body) {
        stamp(&mut doc, run);
        entity.body = doc.to_string();
        entity.hash = hex::encode(Sha256::digest(entity.body.as_bytes()));
    }
    let created = entity.entity_ref.key();
    for note in &notes {
        tracing::warn!(run = %run.id, note = %note, "a finished run's descriptor was not used as sent");
    }
    catalog
        .apply_read(&read)
        .await
        .map_err(|e| CreatedError::Store(e.to_string()))?;
    Ok(Registered {
        entity: created,
        notes,
    })
}
