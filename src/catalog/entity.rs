//! The entity model of the Backstage descriptor format
//! (<https://backstage.io/docs/features/software-catalog/descriptor-format>), reduced to the fields
//! idp reads, plus the validation rules Backstage applies to every document.
//!
//! The whole document is kept as JSON in the store; [`Entity`] is the compact, typed view that the
//! in-memory snapshot holds.

use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::entity_ref::{DEFAULT_NAMESPACE, EntityRef};

/// One link from `metadata.links`: `{url, title?, icon?, type?}`, borrowed from its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Link<'a> {
    /// The target URL as written in the descriptor (not yet checked for scheme).
    pub url: &'a str,
    /// The human title, if any.
    pub title: Option<&'a str>,
    /// The link type (`runbook`, `dashboard`…), if any.
    pub link_type: Option<&'a str>,
}

/// `spec.profile` of a Group or User, borrowed from its entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile<'a> {
    /// `spec.profile.displayName`.
    pub display_name: Option<&'a str>,
    /// `spec.profile.email`.
    pub email: Option<&'a str>,
}

/// Slot of each single-valued text field in [`Packed`].
const TITLE: usize = 0;
const DESCRIPTION: usize = 1;
const SPEC_TYPE: usize = 2;
const LIFECYCLE: usize = 3;
const DISPLAY_NAME: usize = 4;
const EMAIL: usize = 5;
const FIXED: usize = 6;

/// The free text of an entity packed into one allocation with one table of spans: a catalog of
/// 100,000 entities would otherwise hold some two million small strings. Layout of the spans:
/// the six fixed fields above, then the tags, then three per link (url, title, type), then one
/// per annotation value, then one per label value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Packed {
    text: Box<str>,
    /// (start, length) into `text`; `u32::MAX` start means absent.
    spans: Box<[(u32, u32)]>,
    tags: u16,
    links: u16,
    /// How many of the entity's keys (after the annotation keys) are label keys.
    labels: u16,
}

#[derive(Default)]
struct PackedBuilder {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl PackedBuilder {
    fn push(&mut self, value: Option<&str>) {
        match value {
            Some(v) if self.text.len() + v.len() < u32::MAX as usize => {
                self.spans.push((self.text.len() as u32, v.len() as u32));
                self.text.push_str(v);
            }
            _ => self.spans.push((u32::MAX, 0)),
        }
    }

    fn finish(self, tags: usize, links: usize, labels: usize) -> Packed {
        Packed {
            text: self.text.into_boxed_str(),
            spans: self.spans.into_boxed_slice(),
            tags: u16::try_from(tags).unwrap_or(u16::MAX),
            links: u16::try_from(links).unwrap_or(u16::MAX),
            labels: u16::try_from(labels).unwrap_or(u16::MAX),
        }
    }
}

impl Packed {
    fn get(&self, slot: usize) -> Option<&str> {
        let &(start, len) = self.spans.get(slot)?;
        if start == u32::MAX {
            return None;
        }
        self.text.get(start as usize..(start + len) as usize)
    }
}

/// The relation fields of a spec, as written (refs already completed with Backstage's defaults).
/// The snapshot turns them into relations in both directions and then drops them, so they cost
/// memory only while a snapshot is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecRefs {
    /// `spec.owner`, resolved against the defaults (kind Group, this entity's namespace).
    pub owner: Option<EntityRef>,
    /// `spec.system` (kind System).
    pub system: Option<EntityRef>,
    /// `spec.domain` (kind Domain).
    pub domain: Option<EntityRef>,
    /// `spec.parent` of a Group (kind Group).
    pub parent: Option<EntityRef>,
    /// `spec.children` of a Group (kind Group).
    pub children: Vec<EntityRef>,
    /// `spec.memberOf` of a User (kind Group).
    pub member_of: Vec<EntityRef>,
    /// `spec.members` of a Group (kind User).
    pub members: Vec<EntityRef>,
    /// `spec.subcomponentOf` of a Component (kind Component).
    pub subcomponent_of: Option<EntityRef>,
    /// `spec.providesApis` (kind API).
    pub provides_apis: Vec<EntityRef>,
    /// `spec.consumesApis` (kind API).
    pub consumes_apis: Vec<EntityRef>,
    /// `spec.dependsOn` (kind required in the ref; Component assumed when absent).
    pub depends_on: Vec<EntityRef>,
    /// `spec.dependencyOf`.
    pub dependency_of: Vec<EntityRef>,
}

impl SpecRefs {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A validated catalog entity: identity, metadata and the spec fields idp uses. Kept compact,
/// because the snapshot holds every entity of the catalog in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// `apiVersion`, e.g. `backstage.io/v1alpha1`.
    pub api_version: Arc<str>,
    /// Kind, namespace and name.
    pub entity_ref: EntityRef,
    /// Title, description, type, lifecycle, profile, tags, links and annotation values.
    packed: Packed,
    /// Annotation keys, sorted, then label keys, sorted (`packed.labels` of them); values are in
    /// `packed` in the same order. Keys are shared.
    annotation_keys: Box<[Arc<str>]>,
    /// The relation fields (owner, system, dependencies…); `None` when there are none. The
    /// snapshot takes them and keeps them as relations (see `Snapshot::owner_of`).
    pub refs: Option<Box<SpecRefs>>,
    /// The whole `spec` of a `kind: Template` (its parameters drive the forms of
    /// [`crate::templates`]); `None` for every other kind, which costs them one null pointer.
    spec: Option<Arc<Value>>,
}

/// Shares one allocation per distinct string among entities (annotation keys, API versions):
/// thousands of entities carry the same few keys.
fn intern(text: &str) -> Arc<str> {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static POOL: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(|| Mutex::new(HashSet::new()));
    let Ok(mut pool) = POOL.lock() else {
        return Arc::from(text);
    };
    if let Some(shared) = pool.get(text) {
        return shared.clone();
    }
    if pool.len() > 50_000 {
        // Unbounded distinct keys would make the pool a leak; past this size, stop sharing.
        return Arc::from(text);
    }
    let shared: Arc<str> = Arc::from(text);
    pool.insert(shared.clone());
    shared
}

/// Why a document is not a valid entity. Each message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    /// The document is not a mapping.
    #[error("the document is not a mapping (found {0})")]
    NotAMapping(&'static str),
    /// A required field is absent or empty.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A field has the wrong YAML type.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// Dotted path of the field.
        field: &'static str,
        /// What was expected, e.g. "a string".
        expected: &'static str,
    },
    /// A templating placeholder such as `${{ values.name }}` where a literal is required: the file
    /// is a scaffolder skeleton, not a descriptor.
    #[error(
        "`{field}` holds a templating placeholder `{value}`: this looks like a template skeleton, not a descriptor"
    )]
    Placeholder {
        /// Dotted path of the field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A name, namespace, kind or apiVersion breaks Backstage's character or length rules.
    #[error("`{field}` value `{value}` is invalid: {rule}")]
    Invalid {
        /// Dotted path of the field.
        field: &'static str,
        /// The offending value.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A relation field holds a ref that cannot be parsed.
    #[error("`{field}` holds an unreadable entity ref: {reason}")]
    BadRef {
        /// Dotted path of the field.
        field: &'static str,
        /// Why the ref is unreadable.
        reason: String,
    },
}

static NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("static regex")
});
static NAMESPACE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").expect("static regex"));
static KIND_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9]*$").expect("static regex"));
static API_VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]+$").expect("static regex")
});

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn has_placeholder(s: &str) -> bool {
    s.contains("${{") || s.contains("{{")
}

fn opt_str(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<String>, EntityError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // YAML readily turns `version: 1.10` or `type: 2` into numbers or booleans; keep them as text.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(EntityError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn str_list(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Vec<String>, EntityError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(EntityError::WrongType {
                    field,
                    expected: "a list of strings",
                }),
            })
            .collect(),
        Some(_) => Err(EntityError::WrongType {
            field,
            expected: "a list of strings",
        }),
    }
}

fn parse_ref(
    text: &str,
    field: &'static str,
    kind: Option<&str>,
    ns: &str,
) -> Result<EntityRef, EntityError> {
    EntityRef::parse(text, kind, ns).map_err(|e| EntityError::BadRef {
        field,
        reason: e.to_string(),
    })
}

fn one_ref(
    spec: &Map<String, Value>,
    key: &str,
    field: &'static str,
    kind: Option<&str>,
    ns: &str,
) -> Result<Option<EntityRef>, EntityError> {
    opt_str(spec, key, field)?
        .map(|s| parse_ref(&s, field, kind, ns))
        .transpose()
}

fn ref_list(
    spec: &Map<String, Value>,
    key: &str,
    field: &'static str,
    kind: Option<&str>,
    ns: &str,
) -> Result<Vec<EntityRef>, EntityError> {
    str_list(spec, key, field)?
        .iter()
        .map(|s| parse_ref(s, field, kind, ns))
        .collect()
}

/// A mapping of text values (`metadata.annotations`, `metadata.labels`) with interned keys;
/// numbers and booleans are kept as text, other values are dropped.
fn text_map(
    metadata: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Vec<(Arc<str>, String)>, EntityError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((intern(k), s.clone())),
                Value::Number(n) => Some((intern(k), n.to_string())),
                Value::Bool(b) => Some((intern(k), b.to_string())),
                _ => None,
            })
            .collect()),
        Some(_) => Err(EntityError::WrongType {
            field,
            expected: "a mapping",
        }),
    }
}

/// The spec fields each core kind must carry, per Backstage's kind schemas.
fn required_spec_fields(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind.to_ascii_lowercase().as_str() {
        "component" => &[
            ("type", "spec.type"),
            ("lifecycle", "spec.lifecycle"),
            ("owner", "spec.owner"),
        ],
        "api" => &[
            ("type", "spec.type"),
            ("lifecycle", "spec.lifecycle"),
            ("owner", "spec.owner"),
            ("definition", "spec.definition"),
        ],
        "resource" => &[("type", "spec.type"), ("owner", "spec.owner")],
        "system" | "domain" => &[("owner", "spec.owner")],
        "group" => &[("type", "spec.type")],
        _ => &[],
    }
}

impl Entity {
    /// Validates one parsed document and reads it into an [`Entity`].
    ///
    /// Rules (Backstage's): `apiVersion` is `group/version`; `kind` is alphanumeric starting with a
    /// letter; `metadata.name` is 1–63 characters of `[A-Za-z0-9-_.]` starting and ending with an
    /// alphanumeric; `metadata.namespace` is a DNS label; the core kinds carry their required spec
    /// fields; relation fields hold readable refs.
    ///
    /// # Errors
    /// The first [`EntityError`] found.
    pub fn from_document(doc: &Value) -> Result<Self, EntityError> {
        let root = doc
            .as_object()
            .ok_or_else(|| EntityError::NotAMapping(type_name(doc)))?;
        let api_version = match root.get("apiVersion") {
            None | Some(Value::Null) => return Err(EntityError::Missing("apiVersion")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "apiVersion",
                    expected: "a string",
                });
            }
        };
        if has_placeholder(&api_version) {
            return Err(EntityError::Placeholder {
                field: "apiVersion",
                value: api_version,
            });
        }
        if !API_VERSION_RE.is_match(&api_version) || api_version.len() > 253 {
            return Err(EntityError::Invalid {
                field: "apiVersion",
                value: api_version,
                rule: "must look like `backstage.io/v1alpha1` (group/version)",
            });
        }
        let kind = match root.get("kind") {
            None | Some(Value::Null) => return Err(EntityError::Missing("kind")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "kind",
                    expected: "a string",
                });
            }
        };
        if has_placeholder(&kind) {
            return Err(EntityError::Placeholder {
                field: "kind",
                value: kind,
            });
        }
        if !KIND_RE.is_match(&kind) || kind.len() > 63 {
            return Err(EntityError::Invalid {
                field: "kind",
                value: kind,
                rule: "must be letters and digits, starting with a letter, at most 63 characters",
            });
        }
        let metadata = match root.get("metadata") {
            None | Some(Value::Null) => return Err(EntityError::Missing("metadata")),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "metadata",
                    expected: "a mapping",
                });
            }
        };
        let name = match metadata.get("name") {
            None | Some(Value::Null) => return Err(EntityError::Missing("metadata.name")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "metadata.name",
                    expected: "a string",
                });
            }
        };
        if has_placeholder(&name) {
            return Err(EntityError::Placeholder {
                field: "metadata.name",
                value: name,
            });
        }
        if name.len() > 63 || !NAME_RE.is_match(&name) {
            return Err(EntityError::Invalid {
                field: "metadata.name",
                value: name,
                rule: "must be 1-63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            });
        }
        let namespace = opt_str(metadata, "namespace", "metadata.namespace")?
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        if has_placeholder(&namespace) {
            return Err(EntityError::Placeholder {
                field: "metadata.namespace",
                value: namespace,
            });
        }
        if namespace.len() > 63 || !NAMESPACE_RE.is_match(&namespace) {
            return Err(EntityError::Invalid {
                field: "metadata.namespace",
                value: namespace,
                rule: "must be a DNS label: 1-63 lower-case letters, digits and single `-`",
            });
        }

        let empty = Map::new();
        let spec = match root.get("spec") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "spec",
                    expected: "a mapping",
                });
            }
        };
        for (key, field) in required_spec_fields(&kind) {
            match spec.get(*key) {
                None | Some(Value::Null) => return Err(EntityError::Missing(field)),
                Some(Value::String(s)) if s.trim().is_empty() => {
                    return Err(EntityError::Missing(field));
                }
                _ => {}
            }
        }
        if kind.eq_ignore_ascii_case("group")
            && !matches!(spec.get("children"), Some(Value::Array(_)))
        {
            return Err(EntityError::Missing("spec.children"));
        }

        let tags = str_list(metadata, "tags", "metadata.tags")?;
        let links = match metadata.get("links") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let m = item.as_object()?;
                    Some(Link {
                        url: m.get("url")?.as_str()?,
                        title: m.get("title").and_then(Value::as_str),
                        link_type: m.get("type").and_then(Value::as_str),
                    })
                })
                .collect(),
            Some(_) => {
                return Err(EntityError::WrongType {
                    field: "metadata.links",
                    expected: "a list",
                });
            }
        };
        let mut annotations = text_map(metadata, "annotations", "metadata.annotations")?;
        annotations.sort();
        let mut labels = text_map(metadata, "labels", "metadata.labels")?;
        labels.sort();
        // More keys than the span table can count are dropped rather than misread.
        labels.truncate(usize::from(u16::MAX));

        let profile = match spec.get("profile") {
            Some(Value::Object(p)) => Profile {
                display_name: p.get("displayName").and_then(Value::as_str),
                email: p.get("email").and_then(Value::as_str),
            },
            _ => Profile::default(),
        };
        let ns = namespace.as_str();
        let refs = SpecRefs {
            owner: one_ref(spec, "owner", "spec.owner", Some("Group"), ns)?,
            system: one_ref(spec, "system", "spec.system", Some("System"), ns)?,
            domain: one_ref(spec, "domain", "spec.domain", Some("Domain"), ns)?,
            parent: one_ref(spec, "parent", "spec.parent", Some("Group"), ns)?,
            children: ref_list(spec, "children", "spec.children", Some("Group"), ns)?,
            member_of: ref_list(spec, "memberOf", "spec.memberOf", Some("Group"), ns)?,
            members: ref_list(spec, "members", "spec.members", Some("User"), ns)?,
            subcomponent_of: one_ref(
                spec,
                "subcomponentOf",
                "spec.subcomponentOf",
                Some("Component"),
                ns,
            )?,
            provides_apis: ref_list(spec, "providesApis", "spec.providesApis", Some("API"), ns)?,
            consumes_apis: ref_list(spec, "consumesApis", "spec.consumesApis", Some("API"), ns)?,
            depends_on: ref_list(spec, "dependsOn", "spec.dependsOn", Some("Component"), ns)?,
            dependency_of: ref_list(
                spec,
                "dependencyOf",
                "spec.dependencyOf",
                Some("Component"),
                ns,
            )?,
        };
        let title = opt_str(metadata, "title", "metadata.title")?;
        let description = opt_str(metadata, "description", "metadata.description")?;
        let spec_type = opt_str(spec, "type", "spec.type")?;
        let lifecycle = opt_str(spec, "lifecycle", "spec.lifecycle")?;
        let mut packed = PackedBuilder::default();
        for field in [&title, &description, &spec_type, &lifecycle] {
            packed.push(field.as_deref());
        }
        packed.push(profile.display_name);
        packed.push(profile.email);
        for t in &tags {
            packed.push(Some(t));
        }
        for l in &links {
            packed.push(Some(l.url));
            packed.push(l.title);
            packed.push(l.link_type);
        }
        for (_, v) in &annotations {
            packed.push(Some(v));
        }
        for (_, v) in &labels {
            packed.push(Some(v));
        }
        let template_spec = (kind.eq_ignore_ascii_case("template") && !spec.is_empty())
            .then(|| Arc::new(Value::Object(spec.clone())));
        Ok(Self {
            spec: template_spec,
            packed: packed.finish(tags.len(), links.len(), labels.len()),
            annotation_keys: annotations
                .into_iter()
                .chain(labels)
                .map(|(k, _)| k)
                .collect(),
            refs: (!refs.is_empty()).then(|| Box::new(refs)),
            entity_ref: EntityRef::new(kind, namespace, name),
            api_version: intern(&api_version),
        })
    }

    /// `metadata.title`.
    pub fn title(&self) -> Option<&str> {
        self.packed.get(TITLE)
    }

    /// `metadata.description`.
    pub fn description(&self) -> Option<&str> {
        self.packed.get(DESCRIPTION)
    }

    /// `spec.type`.
    pub fn spec_type(&self) -> Option<&str> {
        self.packed.get(SPEC_TYPE)
    }

    /// `spec.lifecycle`.
    pub fn lifecycle(&self) -> Option<&str> {
        self.packed.get(LIFECYCLE)
    }

    /// `spec.profile` of a Group or User.
    pub fn profile(&self) -> Profile<'_> {
        Profile {
            display_name: self.packed.get(DISPLAY_NAME),
            email: self.packed.get(EMAIL),
        }
    }

    /// `metadata.tags`, in order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (FIXED..FIXED + usize::from(self.packed.tags)).map(|i| self.packed.get(i).unwrap_or(""))
    }

    /// `metadata.links`, in order (links without a `url` are dropped when read).
    pub fn links(&self) -> impl ExactSizeIterator<Item = Link<'_>> + '_ {
        let first = FIXED + usize::from(self.packed.tags);
        (0..usize::from(self.packed.links)).map(move |i| {
            let at = first + 3 * i;
            Link {
                url: self.packed.get(at).unwrap_or(""),
                title: self.packed.get(at + 1),
                link_type: self.packed.get(at + 2),
            }
        })
    }

    /// The annotation keys (sorted), the label keys (sorted), and the span slot of the first
    /// annotation value; label values follow the annotation values.
    fn keyed(&self) -> (&[Arc<str>], &[Arc<str>], usize) {
        let first = FIXED + usize::from(self.packed.tags) + 3 * usize::from(self.packed.links);
        let split = self
            .annotation_keys
            .len()
            .saturating_sub(usize::from(self.packed.labels));
        let (annotations, labels) = self.annotation_keys.split_at(split);
        (annotations, labels, first)
    }

    /// `metadata.annotations`, sorted by key.
    pub fn annotations(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let (keys, _, first) = self.keyed();
        keys.iter()
            .enumerate()
            .map(move |(i, k)| (k.as_ref(), self.packed.get(first + i).unwrap_or("")))
    }

    /// The value of an annotation, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        let (keys, _, first) = self.keyed();
        keys.binary_search_by(|k| k.as_ref().cmp(key))
            .ok()
            .and_then(|i| self.packed.get(first + i))
    }

    /// `metadata.labels`, sorted by key.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let (annotations, keys, first) = self.keyed();
        let first = first + annotations.len();
        keys.iter()
            .enumerate()
            .map(move |(i, k)| (k.as_ref(), self.packed.get(first + i).unwrap_or("")))
    }

    /// The value of a label, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        let (annotations, keys, first) = self.keyed();
        keys.binary_search_by(|k| k.as_ref().cmp(key))
            .ok()
            .and_then(|i| self.packed.get(first + annotations.len() + i))
    }

    /// The `spec` of a Template entity (`scaffolder.backstage.io/v1beta3`: `parameters`, `steps`,
    /// `owner`, `type`…) as written; `None` for other kinds and for a Template without a spec.
    pub fn template_spec(&self) -> Option<&Value> {
        self.spec.as_deref()
    }

    /// The entity's display title: `metadata.title`, else `spec.profile.displayName`, else the name.
    pub fn display_name(&self) -> &str {
        self.title()
            .or(self.packed.get(DISPLAY_NAME))
            .unwrap_or(&self.entity_ref.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_component_reads_with_backstage_defaults() {
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "checkout-api", "namespace": "shop"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "payments-platform",
                     "dependsOn": ["resource:payments-db"], "providesApis": ["checkout"]}});
        let e = Entity::from_document(&doc).expect("valid");
        assert_eq!(
            e.refs
                .as_ref()
                .and_then(|r| r.owner.as_ref())
                .map(EntityRef::key)
                .as_deref(),
            Some("group:shop/payments-platform")
        );
        let refs = e.refs.as_ref().expect("relation fields");
        assert_eq!(refs.depends_on[0].key(), "resource:shop/payments-db");
        assert_eq!(refs.provides_apis[0].key(), "api:shop/checkout");
    }

    #[test]
    fn labels_are_kept_apart_from_annotations() {
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "a", "labels": {"tier": "1", "team": "x", "critical": true},
                         "annotations": {"tier": "annotation", "z/last": "z"}},
            "spec": {"type": "service", "lifecycle": "production", "owner": "g"}});
        let e = Entity::from_document(&doc).expect("valid");
        assert_eq!(e.label("tier"), Some("1"));
        assert_eq!(e.label("critical"), Some("true"));
        assert_eq!(e.label("z/last"), None);
        assert_eq!(e.annotation("tier"), Some("annotation"));
        assert_eq!(e.annotation("team"), None);
        assert_eq!(
            e.labels().collect::<Vec<_>>(),
            [("critical", "true"), ("team", "x"), ("tier", "1")]
        );
        assert_eq!(
            e.annotations().collect::<Vec<_>>(),
            [("tier", "annotation"), ("z/last", "z")]
        );
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "a", "labels": ["tier"]},
            "spec": {"type": "service", "lifecycle": "production", "owner": "g"}});
        assert!(matches!(
            Entity::from_document(&doc),
            Err(EntityError::WrongType {
                field: "metadata.labels",
                ..
            })
        ));
    }

    #[test]
    fn a_template_keeps_its_spec_and_other_kinds_keep_none() {
        let doc = json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
            "metadata": {"name": "backend-service"},
            "spec": {"owner": "platform", "type": "service",
                     "parameters": [{"properties": {"name": {"type": "string"}}}],
                     "steps": [{"id": "x", "action": "fetch:template",
                                "input": {"name": "${{ parameters.name }}"}}]}});
        let e = Entity::from_document(&doc).expect("a v1beta3 Template is valid");
        assert_eq!(
            e.template_spec()
                .and_then(|s| s.pointer("/parameters/0/properties/name/type")),
            Some(&json!("string"))
        );
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "System",
            "metadata": {"name": "payments"}, "spec": {"owner": "platform"}});
        let e = Entity::from_document(&doc).expect("valid");
        assert_eq!(e.template_spec(), None);
    }

    #[test]
    fn placeholders_bad_names_and_missing_fields_are_specific() {
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "${{ values.name }}"}, "spec": {}});
        assert!(matches!(
            Entity::from_document(&doc),
            Err(EntityError::Placeholder { .. })
        ));
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "-bad"}});
        assert!(matches!(
            Entity::from_document(&doc),
            Err(EntityError::Invalid {
                field: "metadata.name",
                ..
            })
        ));
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "ok"},
            "spec": {"type": "service", "owner": "x"}});
        assert_eq!(
            Entity::from_document(&doc),
            Err(EntityError::Missing("spec.lifecycle"))
        );
        let doc = json!({"kind": "Component", "metadata": {"name": "ok"}});
        assert_eq!(
            Entity::from_document(&doc),
            Err(EntityError::Missing("apiVersion"))
        );
        let doc = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "ok", "namespace": "Bad_NS"},
            "spec": {"type": "team", "children": []}});
        assert!(matches!(
            Entity::from_document(&doc),
            Err(EntityError::Invalid {
                field: "metadata.namespace",
                ..
            })
        ));
    }
}
