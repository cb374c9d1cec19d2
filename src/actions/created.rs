//! Putting what a finished template run created into the catalog: the descriptor the backend
//! sent, the `catalog-info.yaml` at the location it named, or (when it sent neither) a descriptor
//! idp writes from the run's inputs. The compliance controls and labels are recorded on the new
//! Component either way. Each run is its own catalog source (`runs/<run id>`), so applying it
//! twice changes nothing.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::run::Run;
use crate::catalog::CatalogService;
use crate::catalog::ingest::{SourceRead, read_descriptor_text};

/// Largest descriptor fetched from a location, in bytes.
pub const MAX_DESCRIPTOR_BYTES: usize = 256 * 1024;

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

async fn fetch(http: &reqwest::Client, location: &str) -> Result<String, CreatedError> {
    let err = |reason: String| CreatedError::Fetch {
        location: location.to_owned(),
        reason,
    };
    if !(location.starts_with("https://") || location.starts_with("http://")) {
        return Err(err("only http(s) locations are read".to_owned()));
    }
    let response = http
        .get(location)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| err(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(err(format!("HTTP {}", response.status().as_u16())));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DESCRIPTOR_BYTES as u64)
    {
        return Err(err(format!("larger than {MAX_DESCRIPTOR_BYTES} bytes")));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| err(e.without_url().to_string()))?;
    if bytes.len() > MAX_DESCRIPTOR_BYTES {
        return Err(err(format!("larger than {MAX_DESCRIPTOR_BYTES} bytes")));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| err("not UTF-8 text".to_owned()))
}

/// Stores the new entity (or entities) of a finished run and refreshes the snapshot. Returns the
/// new Component's ref key.
///
/// # Errors
/// [`CreatedError`]; the run's success stands either way.
pub async fn register(
    catalog: &CatalogService,
    http: &reqwest::Client,
    run: &Run,
    descriptor: Option<&str>,
    location: Option<&str>,
) -> Result<String, CreatedError> {
    let source = source_of(run);
    let text = match (descriptor, location) {
        (Some(d), _) if !d.trim().is_empty() => d.to_owned(),
        (_, Some(l)) if !l.trim().is_empty() => fetch(http, l).await?,
        _ => descriptor_from_inputs(run).to_string(),
    };
    let mut read: SourceRead = read_descriptor_text(&source, &text);
    if read.entities.is_empty() {
        let why = read
            .problems
            .first()
            .map_or_else(|| "it is empty".to_owned(), ToString::to_string);
        return Err(CreatedError::Invalid(why));
    }
    for problem in &read.problems {
        tracing::warn!(run = %run.id, %problem, "part of a run's descriptor was skipped");
    }
    let mut created = None;
    for entity in &mut read.entities {
        if !entity.entity_ref.kind.eq_ignore_ascii_case("component") {
            continue;
        }
        let Ok(mut doc) = serde_json::from_str::<Value>(&entity.body) else {
            continue;
        };
        stamp(&mut doc, run);
        entity.body = doc.to_string();
        entity.hash = hex::encode(Sha256::digest(entity.body.as_bytes()));
        if created.is_none() || run.subject.as_deref() == Some(entity.entity_ref.name.as_str()) {
            created = Some(entity.entity_ref.key());
        }
    }
    let created = created.unwrap_or_else(|| read.entities[0].entity_ref.key());
    catalog
        .apply_read(&read)
        .await
        .map_err(|e| CreatedError::Store(e.to_string()))?;
    Ok(created)
}
