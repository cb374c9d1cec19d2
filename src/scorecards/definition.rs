//! Compiled scorecard definitions: what [`super::parse`] makes of the scorecards file. Every
//! regular expression is compiled and every failure text written once, when the file is read, so
//! evaluation ([`super::evaluate`]) neither compiles nor formats in its loop over entities.
//!
//! The file format is described in [`super`] and shown, commented, in the repository's
//! `scorecards.yaml`.

use std::sync::Arc;

use regex::Regex;

use crate::catalog::{EntityRef, RelationType, Snapshot, Target};

/// A problem in a scorecards file: file, 1-based line when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct DefinitionError {
    /// The file, as configured.
    pub file: String,
    /// 1-based line of the item at fault.
    pub line: Option<u64>,
    /// What is wrong, naming the scorecard, check or level.
    pub message: String,
}

/// Every problem found in a scorecards file, in file order (at least one). Syntax and shape
/// errors (YAML syntax, an unknown key, a wrong type) stop reading at the first; the others (ids,
/// weights, patterns, levels, fixes) are all collected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

/// All scorecards of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Scorecards {
    /// The file they were read from, as configured (empty for [`Scorecards::default`]).
    pub file: String,
    /// The scorecards, in file order; ids are unique.
    pub scorecards: Vec<Arc<Scorecard>>,
}

impl Scorecards {
    /// The scorecard with this id (exact match).
    pub fn get(&self, id: &str) -> Option<&Arc<Scorecard>> {
        self.scorecards.iter().find(|s| s.id == id)
    }

    /// Every template a fix hint names: (line of the check, scorecard id, check id, template ref).
    /// `idp check` warns about the ones missing from the catalog.
    pub fn template_refs(&self) -> Vec<(u64, &str, &str, &EntityRef)> {
        let mut out = Vec::new();
        for card in &self.scorecards {
            for check in &card.checks {
                if let Some(Fix {
                    link: Some(FixLink::Template(r)),
                    ..
                }) = &check.fix
                {
                    out.push((check.line, card.id.as_str(), check.id.as_str(), r));
                }
            }
        }
        out
    }
}

/// One scorecard: which entities it applies to, its checks and its levels.
#[derive(Debug, Clone)]
pub struct Scorecard {
    /// Unique id (`production-readiness`): the key of its stored history.
    pub id: String,
    /// Title shown to people.
    pub title: String,
    /// Optional longer text.
    pub description: Option<String>,
    /// Which entities it scores.
    pub applies_to: AppliesTo,
    /// The checks, in file order; ids are unique within the scorecard.
    pub checks: Vec<Check>,
    /// The levels, lowest first. Cumulative: an entity reaches a level when the checks of that
    /// level and of every level before it pass.
    pub levels: Vec<Level>,
    /// Sum of the checks' weights (positive).
    pub total_weight: f64,
    /// Line where the scorecard starts.
    pub line: u64,
    /// Whether a check needs the entity's ref key (deploy checks look the history up by it).
    pub(super) needs_key: bool,
}

impl Scorecard {
    /// The position of the check with this id in [`Self::checks`].
    pub fn check_index(&self, id: &str) -> Option<usize> {
        self.checks.iter().position(|c| c.id == id)
    }
}

/// A check of a scorecard.
#[derive(Debug, Clone)]
pub struct Check {
    /// Unique within its scorecard (`has-runbook`).
    pub id: String,
    /// Title shown to people ("Runbook linked").
    pub title: String,
    /// Its weight in the score, a positive number.
    pub weight: f64,
    /// How to make it pass.
    pub fix: Option<Fix>,
    /// Line where the check starts.
    pub line: u64,
    /// What it tests.
    pub rule: Rule,
}

/// How to fix a failing check: a text, and a link or a golden-path template that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// What to do, as plain text (escape it before it goes into mrkdwn).
    pub text: String,
    /// Where to go, or what to run.
    pub link: Option<FixLink>,
}

/// Where a fix hint points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixLink {
    /// A documentation page (`http` or `https`).
    Url(String),
    /// A Template entity of the catalog to run (`/idp new-service <name>`, the golden-path modal).
    Template(EntityRef),
}

/// A level (bronze, silver, gold…): the checks that must pass, besides those of the levels before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Its name.
    pub name: String,
    /// Positions in [`Scorecard::checks`].
    pub checks: Vec<usize>,
    /// Line where the level starts.
    pub line: u64,
}

/// Which entities a scorecard applies to. Each filter is a list of accepted values (compared
/// case-insensitively); an empty list accepts everything, and an entity must pass every filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliesTo {
    /// Entity kinds (`Component`).
    pub kinds: Vec<String>,
    /// `spec.type` values (`service`, `website`).
    pub types: Vec<String>,
    /// `spec.lifecycle` values.
    pub lifecycles: Vec<String>,
    /// Namespaces.
    pub namespaces: Vec<String>,
    /// Systems (by name) the entity is part of.
    pub systems: Vec<String>,
    /// Tags: the entity carries at least one of them.
    pub tags: Vec<String>,
}

fn any_eq(accepted: &[String], value: Option<&str>) -> bool {
    accepted.is_empty() || value.is_some_and(|v| accepted.iter().any(|a| a.eq_ignore_ascii_case(v)))
}

impl AppliesTo {
    /// Whether the entity at `index` of `snapshot` is scored. Allocates nothing.
    pub fn matches(&self, snapshot: &Snapshot, index: u32) -> bool {
        let e = &snapshot.node(index).entity;
        any_eq(&self.kinds, Some(&e.entity_ref.kind))
            && any_eq(&self.types, e.spec_type())
            && any_eq(&self.lifecycles, e.lifecycle())
            && any_eq(&self.namespaces, Some(&e.entity_ref.namespace))
            && (self.tags.is_empty()
                || e.tags()
                    .any(|t| self.tags.iter().any(|a| a.eq_ignore_ascii_case(t))))
            && (self.systems.is_empty()
                || snapshot
                    .related(index, RelationType::PartOf)
                    .filter_map(|t| target_of_kind(snapshot, t, "system"))
                    .any(|r| self.systems.iter().any(|s| s.eq_ignore_ascii_case(&r.name))))
    }
}

/// The ref of a relation target when it is of `kind`, without cloning.
pub(super) fn target_of_kind<'a>(
    snapshot: &'a Snapshot,
    target: &'a Target,
    kind: &str,
) -> Option<&'a EntityRef> {
    let r = match target {
        Target::Resolved(i) => &snapshot.node(*i).entity.entity_ref,
        Target::Unresolved(r) => r,
    };
    r.kind.eq_ignore_ascii_case(kind).then_some(r)
}

/// What a value must be.
#[derive(Debug, Clone)]
pub enum ValueTest {
    /// Present and not blank.
    Exists,
    /// Equal to this, ignoring ASCII case and surrounding white space.
    Equals(String),
    /// Matched somewhere by this regular expression (Rust `regex` syntax; anchor it with `^…$`
    /// to match the whole value).
    Matches(Regex),
}

impl ValueTest {
    /// Whether `value` passes.
    pub fn test(&self, value: &str) -> bool {
        match self {
            Self::Exists => !value.trim().is_empty(),
            Self::Equals(want) => value.trim().eq_ignore_ascii_case(want),
            Self::Matches(re) => re.is_match(value),
        }
    }
}

/// An entity field a `field` check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `kind`.
    Kind,
    /// `metadata.name`.
    Name,
    /// `metadata.namespace`.
    Namespace,
    /// `metadata.title`.
    Title,
    /// `metadata.description`.
    Description,
    /// `metadata.annotations.<key>`.
    Annotation(String),
    /// `metadata.labels.<key>`.
    Label(String),
    /// `spec.type`.
    Type,
    /// `spec.lifecycle`.
    Lifecycle,
    /// `spec.owner`: the owner's name, or `namespace/name` (resolved or not).
    Owner,
    /// `spec.system`: the system's name, or `namespace/name`.
    System,
    /// `spec.domain`: the domain's name, or `namespace/name`.
    Domain,
}

/// The paths a `field` check accepts, for error messages.
pub const FIELD_PATHS: &str = "kind, metadata.name, metadata.namespace, metadata.title, \
    metadata.description, metadata.annotations.<key>, metadata.labels.<key>, spec.type, \
    spec.lifecycle, spec.owner, spec.system, spec.domain";

impl Field {
    /// Reads a dotted path (see [`FIELD_PATHS`]).
    pub fn parse(path: &str) -> Option<Self> {
        let path = path.trim();
        if let Some(key) = path.strip_prefix("metadata.annotations.") {
            return (!key.is_empty()).then(|| Self::Annotation(key.to_owned()));
        }
        if let Some(key) = path.strip_prefix("metadata.labels.") {
            return (!key.is_empty()).then(|| Self::Label(key.to_owned()));
        }
        Some(match path {
            "kind" => Self::Kind,
            "metadata.name" => Self::Name,
            "metadata.namespace" => Self::Namespace,
            "metadata.title" => Self::Title,
            "metadata.description" => Self::Description,
            "spec.type" => Self::Type,
            "spec.lifecycle" => Self::Lifecycle,
            "spec.owner" => Self::Owner,
            "spec.system" => Self::System,
            "spec.domain" => Self::Domain,
            _ => return None,
        })
    }

    /// The entity's value of this field, borrowed (refs: the target's name; an `Equals` test also
    /// accepts `namespace/name`, see [`super::evaluate`]).
    pub(super) fn value<'a>(&self, snapshot: &'a Snapshot, index: u32) -> Option<FieldValue<'a>> {
        let e = &snapshot.node(index).entity;
        let plain = |v: Option<&'a str>| v.map(FieldValue::Text);
        match self {
            Self::Kind => plain(Some(&e.entity_ref.kind)),
            Self::Name => plain(Some(&e.entity_ref.name)),
            Self::Namespace => plain(Some(&e.entity_ref.namespace)),
            Self::Title => plain(e.title()),
            Self::Description => plain(e.description()),
            Self::Annotation(k) => plain(e.annotation(k)),
            Self::Label(k) => plain(e.label(k)),
            Self::Type => plain(e.spec_type()),
            Self::Lifecycle => plain(e.lifecycle()),
            Self::Owner => snapshot
                .related(index, RelationType::OwnedBy)
                .next()
                .map(|t| FieldValue::Ref(snapshot_ref(snapshot, t))),
            Self::System | Self::Domain => {
                let kind = if *self == Self::System {
                    "system"
                } else {
                    "domain"
                };
                snapshot
                    .related(index, RelationType::PartOf)
                    .find_map(|t| target_of_kind(snapshot, t, kind))
                    .map(FieldValue::Ref)
            }
        }
    }
}

fn snapshot_ref<'a>(snapshot: &'a Snapshot, target: &'a Target) -> &'a EntityRef {
    match target {
        Target::Resolved(i) => &snapshot.node(*i).entity.entity_ref,
        Target::Unresolved(r) => r,
    }
}

/// A field's value as a check sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum FieldValue<'a> {
    /// A text field.
    Text(&'a str),
    /// A relation field (owner, system, domain).
    Ref(&'a EntityRef),
}

/// The relations a `relation` check can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// `spec.owner` names a Group of the catalog.
    Owner,
    /// `spec.system` names a System of the catalog.
    System,
    /// `spec.domain` names a Domain of the catalog.
    Domain,
    /// At least one API is provided, and every provided API is in the catalog.
    ProvidesApi,
    /// At least one API is consumed, and every consumed API is in the catalog.
    ConsumesApi,
    /// At least one dependency, and every dependency is in the catalog.
    DependsOn,
}

/// The words a `relation` check accepts, for error messages.
pub const RELATION_WORDS: &str = "owner, system, domain, provides_api, consumes_api, depends_on";

impl RelationKind {
    /// Reads a word of [`RELATION_WORDS`].
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word.trim() {
            "owner" => Self::Owner,
            "system" => Self::System,
            "domain" => Self::Domain,
            "provides_api" => Self::ProvidesApi,
            "consumes_api" => Self::ConsumesApi,
            "depends_on" => Self::DependsOn,
            _ => return None,
        })
    }

    /// The relation type it follows and the kind its targets must have (`None`: any kind).
    pub(super) fn relation(self) -> (RelationType, Option<&'static str>) {
        match self {
            Self::Owner => (RelationType::OwnedBy, Some("group")),
            Self::System => (RelationType::PartOf, Some("system")),
            Self::Domain => (RelationType::PartOf, Some("domain")),
            Self::ProvidesApi => (RelationType::ProvidesApi, Some("api")),
            Self::ConsumesApi => (RelationType::ConsumesApi, Some("api")),
            Self::DependsOn => (RelationType::DependsOn, None),
        }
    }

    /// The descriptor field it reads, for reasons.
    pub(super) fn spec_field(self) -> &'static str {
        match self {
            Self::Owner => "spec.owner",
            Self::System => "spec.system",
            Self::Domain => "spec.domain",
            Self::ProvidesApi => "spec.providesApis",
            Self::ConsumesApi => "spec.consumesApis",
            Self::DependsOn => "spec.dependsOn",
        }
    }
}

/// What a check (or a part of an `all_of` / `any_of`) tests, with its failure texts written
/// once. Reasons are short sentences without a final period.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `annotation: {key, equals | matches}`.
    Annotation {
        /// The annotation key.
        key: String,
        /// What its value must be.
        test: ValueTest,
        /// Reason when it is absent.
        missing: Arc<str>,
        /// Reason when its value fails the test.
        wrong: Arc<str>,
    },
    /// `label: {key, equals | matches}`.
    Label {
        /// The label key.
        key: String,
        /// What its value must be.
        test: ValueTest,
        /// Reason when it is absent.
        missing: Arc<str>,
        /// Reason when its value fails the test.
        wrong: Arc<str>,
    },
    /// `tag: <tag>`: the entity carries the tag (case-insensitive).
    Tag {
        /// The tag.
        tag: String,
        /// Reason when it does not.
        missing: Arc<str>,
    },
    /// `link: {title, type}`: a link whose title and/or type equal these (case-insensitive).
    Link {
        /// The title wanted, if any.
        title: Option<String>,
        /// The type wanted, if any.
        link_type: Option<String>,
        /// Reason when no link fits.
        missing: Arc<str>,
    },
    /// `field: {path, equals | matches}`.
    Field {
        /// The field.
        field: Field,
        /// What its value must be.
        test: ValueTest,
        /// Reason when it is absent.
        missing: Arc<str>,
        /// Reason when its value fails the test.
        wrong: Arc<str>,
    },
    /// `relation: <kind>`: the relation exists and resolves to an entity of the right kind.
    Relation {
        /// Which relation.
        kind: RelationKind,
        /// Reason when there is none.
        missing: Arc<str>,
    },
    /// `on_call: resolvable`: PagerDuty service id or a rotation of the owner
    /// ([`crate::oncall::OnCallService::route`]).
    OnCall,
    /// `deployed_within: {days, environment}`: a successful deploy in the last `days` days.
    DeployedWithin {
        /// How recent, in days (at least 1).
        days: u32,
        /// The environment (lower-case); any when absent.
        environment: Option<String>,
        /// Reason when none is recorded at all.
        never: Arc<str>,
    },
    /// `all_of: [...]`: every part passes; the reason is the first failing part's.
    AllOf(Vec<Rule>),
    /// `any_of: [...]`: at least one part passes.
    AnyOf {
        /// The parts.
        parts: Vec<Rule>,
        /// Reason when none passes.
        none: Arc<str>,
    },
}

impl Rule {
    /// The rule's kind as written in the file (`annotation`, `any_of`…).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Annotation { .. } => "annotation",
            Self::Label { .. } => "label",
            Self::Tag { .. } => "tag",
            Self::Link { .. } => "link",
            Self::Field { .. } => "field",
            Self::Relation { .. } => "relation",
            Self::OnCall => "on_call",
            Self::DeployedWithin { .. } => "deployed_within",
            Self::AllOf(_) => "all_of",
            Self::AnyOf { .. } => "any_of",
        }
    }

    /// Whether this rule, or a part of it, reads the deploy history.
    pub(super) fn reads_deploys(&self) -> bool {
        match self {
            Self::DeployedWithin { .. } => true,
            Self::AllOf(parts) | Self::AnyOf { parts, .. } => parts.iter().any(Self::reads_deploys),
            _ => false,
        }
    }
}
