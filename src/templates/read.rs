//! Templates from the catalog: one entity into a [`Template`], every Template of a snapshot, and
//! finding one by what a person typed.

use super::{FieldKind, MAX_STEP_FIELDS, Template, TemplateDefaults, execution, schema};
use crate::catalog::{DEFAULT_NAMESPACE, Entity, EntityRef, NameQuery, Snapshot};

/// The annotation that names the parameter holding the new component's name.
pub const NAME_PARAMETER_ANNOTATION: &str = "idp.dev/name-parameter";

/// Why [`find`] found no single template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateLookupError {
    /// Nothing matched; close template names, best first.
    #[error("no template named `{name}`{}", did_you_mean(.suggestions))]
    NotFound {
        /// What was asked for.
        name: String,
        /// Up to 3 close template names.
        suggestions: Vec<String>,
    },
    /// Several templates matched (same name in several namespaces, or a shared title).
    #[error("`{name}` matches several templates: {}; use the full ref", .candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        name: String,
        /// The matching templates' refs (`template:team-a/x`).
        candidates: Vec<String>,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(", "))
    }
}

fn is_template(entity: &Entity) -> bool {
    entity.entity_ref.kind.eq_ignore_ascii_case("template")
}

impl Template {
    /// Reads a Template entity: metadata, `spec.parameters` (with `defaults.compliance.fixed`
    /// pinning the fields it names), the execution backend, and the name and owner fields.
    /// Never fails: what cannot be used is in [`Template::unsupported`] and
    /// [`Template::not_runnable`].
    pub fn from_entity(entity: &Entity, snapshot: &Snapshot, defaults: &TemplateDefaults) -> Self {
        let spec = entity.template_spec();
        let mut params = schema::read(spec, &defaults.compliance.fixed);
        let mut blocking: Vec<String> = params
            .problems
            .iter()
            .filter(|p| p.required)
            .map(|p| format!("required field `{}`: {}", p.field, p.reason))
            .collect();
        for (i, step) in params.steps.iter().enumerate() {
            if step.fields.len() > MAX_STEP_FIELDS {
                blocking.push(format!(
                    "step {} has {} fields; a Slack form holds at most {MAX_STEP_FIELDS}",
                    i + 1,
                    step.fields.len()
                ));
            }
        }
        let execution = match execution::of(entity, defaults.execution.as_ref()) {
            Ok(e) => Some(e),
            Err(reason) => {
                blocking.push(reason);
                None
            }
        };

        let all = || params.steps.iter().flat_map(|s| s.fields.iter());
        let name_field = match entity.annotation(NAME_PARAMETER_ANNOTATION) {
            Some(name) => match all().find(|f| f.name == name) {
                Some(f) => Some(f.name.clone()),
                None => {
                    blocking.push(format!(
                        "{NAME_PARAMETER_ANNOTATION} names `{name}`, which is not a field the form can show"
                    ));
                    None
                }
            },
            None => ["name", "component_id"]
                .iter()
                .find_map(|n| all().find(|f| f.name == *n))
                .map(|f| f.name.clone()),
        };
        if name_field.is_none() && entity.annotation(NAME_PARAMETER_ANNOTATION).is_none() {
            blocking.push(format!(
                "no name field the form can show: add a `name` or `component_id` parameter, or name one with {NAME_PARAMETER_ANNOTATION}"
            ));
        }
        let owner_field = all()
            .find(|f| matches!(f.kind, FieldKind::EntityPicker { owner: true, .. }))
            .or_else(|| all().find(|f| f.name == "owner"))
            .map(|f| f.name.clone());
        if owner_field.is_none() {
            blocking.push(
                "no owner field the form can show: add an OwnerPicker parameter or one called `owner`".to_owned(),
            );
        }
        for field in params.steps.iter_mut().flat_map(|s| s.fields.iter_mut()) {
            let is_owner = owner_field.as_deref() == Some(field.name.as_str());
            if name_field.as_deref() == Some(field.name.as_str()) || is_owner {
                field.required = true;
            }
            // idp must know the owner as a catalog entity to decide who may create for it.
            if is_owner
                && field.fixed.is_none()
                && matches!(field.kind, FieldKind::Text { pattern: None, .. })
            {
                field.kind = FieldKind::EntityPicker {
                    owner: true,
                    kinds: vec!["group".to_owned(), "user".to_owned()],
                    filter: Vec::new(),
                };
            }
        }

        let owner = spec
            .and_then(|s| s.get("owner"))
            .and_then(serde_json::Value::as_str)
            .and_then(|o| EntityRef::parse(o, Some("Group"), &entity.entity_ref.namespace).ok())
            .or_else(|| {
                snapshot
                    .get(&entity.entity_ref)
                    .and_then(|i| snapshot.owner_of(i))
            });
        Template {
            entity_ref: entity.entity_ref.clone(),
            title: entity.title().unwrap_or(&entity.entity_ref.name).to_owned(),
            description: entity.description().map(str::to_owned),
            tags: entity.tags().map(str::to_owned).collect(),
            owner,
            spec_type: entity.spec_type().map(str::to_owned),
            steps: params.steps,
            execution,
            unsupported: params.problems,
            not_runnable: (!blocking.is_empty()).then(|| blocking.join("; ")),
            name_field,
            owner_field,
        }
    }
}

/// Every Template entity of the snapshot, read with `defaults`, sorted by ref.
pub fn load(snapshot: &Snapshot, defaults: &TemplateDefaults) -> Vec<Template> {
    let mut out: Vec<Template> = snapshot
        .entities()
        .iter()
        .filter(|n| is_template(&n.entity))
        .map(|n| Template::from_entity(&n.entity, snapshot, defaults))
        .collect();
    out.sort_by_key(|t| t.entity_ref.key());
    out
}

/// Whether `query` names this Template entity: its title, or its name or ref
/// (`template:default/x`, `default/x`, `template:x`), ignoring case.
fn names(entity: &Entity, query: &str, parsed: &NameQuery) -> bool {
    let r = &entity.entity_ref;
    entity
        .title()
        .is_some_and(|t| t.to_lowercase() == query.to_lowercase())
        || (r.name.eq_ignore_ascii_case(&parsed.name)
            && parsed
                .kind
                .as_ref()
                .is_none_or(|k| k.eq_ignore_ascii_case(&r.kind))
            && parsed
                .namespace
                .as_ref()
                .is_none_or(|ns| ns.eq_ignore_ascii_case(&r.namespace)))
}

/// The one template a person means by `name` (its name, title or ref, any case).
///
/// # Errors
/// [`TemplateLookupError::NotFound`] with close names, or [`TemplateLookupError::Ambiguous`] with
/// the candidates' refs.
pub fn find(
    snapshot: &Snapshot,
    defaults: &TemplateDefaults,
    name: &str,
) -> Result<Template, TemplateLookupError> {
    let query = name.trim();
    let parsed = NameQuery::parse(query);
    let mut found: Vec<u32> = (0..snapshot.len() as u32)
        .filter(|&i| is_template(&snapshot.node(i).entity))
        .filter(|&i| names(&snapshot.node(i).entity, query, &parsed))
        .collect();
    // Asked for without a namespace, the one in the default namespace wins (as entity refs
    // default to it); otherwise several matches are ambiguous.
    if found.len() > 1 && parsed.namespace.is_none() {
        let exact: Vec<u32> = found
            .iter()
            .copied()
            .filter(|&i| {
                let r = &snapshot.node(i).entity.entity_ref;
                r.name.eq_ignore_ascii_case(&parsed.name)
                    && r.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE)
            })
            .collect();
        if exact.len() == 1 {
            found = exact;
        }
    }
    match found.as_slice() {
        [one] => Ok(Template::from_entity(
            &snapshot.node(*one).entity,
            snapshot,
            defaults,
        )),
        [] => Err(TemplateLookupError::NotFound {
            name: query.to_owned(),
            suggestions: snapshot.suggest(&parsed.name, &["template"], None),
        }),
        several => {
            let mut candidates: Vec<String> = several
                .iter()
                .map(|&i| snapshot.node(i).entity.entity_ref.short())
                .collect();
            candidates.sort();
            Err(TemplateLookupError::Ambiguous {
                name: query.to_owned(),
                candidates,
            })
        }
    }
}
