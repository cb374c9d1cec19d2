//! The in-memory catalog: every entity with its relations in both directions, indexed for the
//! lookups the commands make. Built from the store after each sync and swapped in atomically, so a
//! lookup never touches the database.
//!
//! Relations follow Backstage's well-known relations
//! (<https://backstage.io/docs/features/software-catalog/well-known-relations>).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::entity::Entity;
use super::entity_ref::EntityRef;
use super::recognise::RecogniseIndex;

/// A Backstage relation type. Each is derived from a spec field and recorded on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationType {
    /// `spec.owner`: this entity is owned by the target.
    OwnedBy,
    /// Inverse of [`RelationType::OwnedBy`].
    OwnerOf,
    /// `spec.memberOf` / `spec.members`: this user is a member of the target group.
    MemberOf,
    /// Inverse of [`RelationType::MemberOf`].
    HasMember,
    /// `spec.children` / `spec.parent`: this group is the parent of the target.
    ParentOf,
    /// Inverse of [`RelationType::ParentOf`].
    ChildOf,
    /// `spec.system`, `spec.domain`, `spec.subcomponentOf`: this entity is part of the target.
    PartOf,
    /// Inverse of [`RelationType::PartOf`].
    HasPart,
    /// `spec.dependsOn`: this entity depends on the target.
    DependsOn,
    /// Inverse of [`RelationType::DependsOn`].
    DependencyOf,
    /// `spec.providesApis`: this component provides the target API.
    ProvidesApi,
    /// Inverse of [`RelationType::ProvidesApi`].
    ApiProvidedBy,
    /// `spec.consumesApis`: this component consumes the target API.
    ConsumesApi,
    /// Inverse of [`RelationType::ConsumesApi`].
    ApiConsumedBy,
}

impl RelationType {
    /// Backstage's camel-case name, e.g. `ownedBy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnedBy => "ownedBy",
            Self::OwnerOf => "ownerOf",
            Self::MemberOf => "memberOf",
            Self::HasMember => "hasMember",
            Self::ParentOf => "parentOf",
            Self::ChildOf => "childOf",
            Self::PartOf => "partOf",
            Self::HasPart => "hasPart",
            Self::DependsOn => "dependsOn",
            Self::DependencyOf => "dependencyOf",
            Self::ProvidesApi => "providesApi",
            Self::ApiProvidedBy => "apiProvidedBy",
            Self::ConsumesApi => "consumesApi",
            Self::ApiConsumedBy => "apiConsumedBy",
        }
    }

    fn inverse(self) -> Self {
        match self {
            Self::OwnedBy => Self::OwnerOf,
            Self::OwnerOf => Self::OwnedBy,
            Self::MemberOf => Self::HasMember,
            Self::HasMember => Self::MemberOf,
            Self::ParentOf => Self::ChildOf,
            Self::ChildOf => Self::ParentOf,
            Self::PartOf => Self::HasPart,
            Self::HasPart => Self::PartOf,
            Self::DependsOn => Self::DependencyOf,
            Self::DependencyOf => Self::DependsOn,
            Self::ProvidesApi => Self::ApiProvidedBy,
            Self::ApiProvidedBy => Self::ProvidesApi,
            Self::ConsumesApi => Self::ApiConsumedBy,
            Self::ApiConsumedBy => Self::ConsumesApi,
        }
    }
}

/// The other end of a relation: an entity of the catalog, or a ref that names none (kept and shown
/// as unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Index into [`Snapshot::entities`].
    Resolved(u32),
    /// A ref to an entity that does not exist.
    Unresolved(Box<EntityRef>),
}

/// One relation of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The relation type, from this entity's side.
    pub relation: RelationType,
    /// The other end.
    pub target: Target,
}

/// An entity of the snapshot together with its relations.
#[derive(Debug, Clone)]
pub struct Node {
    /// The entity.
    pub entity: Entity,
    /// Relations from this entity's side, sorted by type.
    pub relations: Vec<Relation>,
}

/// The result of looking a name up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one entity matched.
    Found(u32),
    /// Several entities matched (same name in several namespaces or kinds): their indices.
    Ambiguous(Vec<u32>),
    /// Nothing matched: up to 3 close names, best first.
    NotFound(Vec<String>),
}

/// A name as a user typed it: optional kind and namespace, then a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameQuery {
    /// The kind, if the user gave one (`component:checkout-api`).
    pub kind: Option<String>,
    /// The namespace, if the user gave one (`payments/checkout-api`).
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl NameQuery {
    /// Reads `[kind:][namespace/]name`. Never fails: odd input becomes a name that matches nothing.
    pub fn parse(text: &str) -> Self {
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) if !k.is_empty() && !r.is_empty() => (Some(k.to_owned()), r),
            _ => (None, text),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() => (Some(ns.to_owned()), n),
            _ => (None, rest),
        };
        Self {
            kind,
            namespace,
            name: name.to_owned(),
        }
    }
}

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Index into [`Snapshot::entities`].
    pub index: u32,
    /// Relevance; higher is better.
    pub score: u32,
}

/// The catalog held in memory.
#[derive(Debug, Default)]
pub struct Snapshot {
    nodes: Vec<Node>,
    by_name: HashMap<String, Vec<u32>>,
    by_email: HashMap<String, u32>,
    /// What [`super::recognise::recognise`] looks pasted text up in, built on first use.
    recognise: OnceLock<RecogniseIndex>,
    /// The store generation this snapshot was built from.
    pub generation: i64,
}

impl Snapshot {
    /// Builds the snapshot and derives every relation in both directions. The entities' relation
    /// fields ([`Entity::refs`]) are consumed: afterwards the relations are the one source.
    pub fn build(entities: Vec<Entity>, generation: i64) -> Self {
        let mut nodes: Vec<Node> = Vec::with_capacity(entities.len());
        let mut edges: Vec<(u32, RelationType, EntityRef)> = Vec::new();
        for (i, mut entity) in entities.into_iter().enumerate() {
            let i = i as u32;
            let mut add = |rel: RelationType, target: EntityRef| edges.push((i, rel, target));
            if let Some(refs) = entity.refs.take() {
                let refs = *refs;
                if let Some(owner) = refs.owner {
                    add(RelationType::OwnedBy, owner);
                }
                for r in [refs.system, refs.domain, refs.subcomponent_of]
                    .into_iter()
                    .flatten()
                {
                    add(RelationType::PartOf, r);
                }
                if let Some(parent) = refs.parent {
                    add(RelationType::ChildOf, parent);
                }
                let lists = [
                    (RelationType::ParentOf, refs.children),
                    (RelationType::MemberOf, refs.member_of),
                    (RelationType::HasMember, refs.members),
                    (RelationType::ProvidesApi, refs.provides_apis),
                    (RelationType::ConsumesApi, refs.consumes_apis),
                    (RelationType::DependsOn, refs.depends_on),
                    (RelationType::DependencyOf, refs.dependency_of),
                ];
                for (rel, list) in lists {
                    for r in list {
                        add(rel, r);
                    }
                }
            }
            nodes.push(Node {
                entity,
                relations: Vec::new(),
            });
        }
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::with_capacity(nodes.len());
        let mut by_email = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            let i = i as u32;
            by_name
                .entry(node.entity.entity_ref.name.to_ascii_lowercase())
                .or_default()
                .push(i);
            if node.entity.entity_ref.kind.eq_ignore_ascii_case("user")
                && let Some(email) = &node.entity.profile().email
            {
                // Two users with one email identify nobody: matching would be a guess.
                by_email
                    .entry(email.to_ascii_lowercase())
                    .and_modify(|seen| *seen = u32::MAX)
                    .or_insert(i);
            }
        }
        let find = |by_name: &HashMap<String, Vec<u32>>, nodes: &[Node], r: &EntityRef| {
            by_name.get(&r.name.to_ascii_lowercase()).and_then(|v| {
                v.iter()
                    .copied()
                    .find(|&i| nodes[i as usize].entity.entity_ref.same_as(r))
            })
        };
        for (from, rel, target) in edges {
            match find(&by_name, &nodes, &target) {
                Some(to) => {
                    push_unique(
                        &mut nodes[from as usize].relations,
                        rel,
                        Target::Resolved(to),
                    );
                    push_unique(
                        &mut nodes[to as usize].relations,
                        rel.inverse(),
                        Target::Resolved(from),
                    );
                }
                None => nodes[from as usize].relations.push(Relation {
                    relation: rel,
                    target: Target::Unresolved(Box::new(target)),
                }),
            }
        }
        for node in &mut nodes {
            node.relations.sort_by_key(|r| r.relation);
            node.relations.shrink_to_fit();
        }
        by_name.shrink_to_fit();
        Self {
            nodes,
            by_name,
            by_email,
            recognise: OnceLock::new(),
            generation,
        }
    }

    /// The indices of every entity named `name` (any kind or namespace); `name` must already be
    /// ASCII lower case. Empty when none is.
    pub fn named(&self, name: &str) -> &[u32] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The index [`super::recognise::recognise`] uses (repository slugs, source locations, link
    /// URLs), built on the first call and kept for the snapshot's life. Calling it once after a
    /// sync keeps the build (a few milliseconds for 10,000 components) off the first request.
    pub fn recognise_index(&self) -> &RecogniseIndex {
        self.recognise.get_or_init(|| RecogniseIndex::build(self))
    }

    /// All nodes, in a stable order (the store's order).
    pub fn entities(&self) -> &[Node] {
        &self.nodes
    }

    /// The node at an index from a [`Lookup`], a [`Target`] or a [`SearchHit`].
    pub fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    /// How many entities the snapshot holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The entity with exactly this ref.
    pub fn get(&self, entity_ref: &EntityRef) -> Option<u32> {
        self.by_name
            .get(&entity_ref.name.to_ascii_lowercase())?
            .iter()
            .copied()
            .find(|&i| self.node(i).entity.entity_ref.same_as(entity_ref))
    }

    /// The owner of an entity (`spec.owner`), resolved or not.
    pub fn owner_of(&self, index: u32) -> Option<EntityRef> {
        self.related(index, RelationType::OwnedBy)
            .next()
            .map(|t| self.target_ref(t))
    }

    /// The name of an entity's owner, without allocating.
    pub fn owner_name(&self, index: u32) -> Option<&str> {
        self.related(index, RelationType::OwnedBy)
            .next()
            .map(|t| match t {
                Target::Resolved(i) => self.node(*i).entity.entity_ref.name.as_str(),
                Target::Unresolved(r) => r.name.as_str(),
            })
    }

    /// The system an entity is part of (`spec.system`), resolved or not.
    pub fn system_of(&self, index: u32) -> Option<EntityRef> {
        self.related(index, RelationType::PartOf)
            .map(|t| self.target_ref(t))
            .find(|r| r.kind.eq_ignore_ascii_case("system"))
    }

    /// The User whose `spec.profile().email` is this address (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<u32> {
        self.by_email
            .get(&email.to_ascii_lowercase())
            .copied()
            .filter(|&i| i != u32::MAX)
    }

    /// Counts of entities per kind, sorted by kind name (lower case).
    pub fn count_by_kind(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for n in &self.nodes {
            *counts
                .entry(n.entity.entity_ref.kind.to_ascii_lowercase())
                .or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort();
        v
    }

    /// Looks up a name among the given kinds (case-insensitive; `kinds` lower-case). A kind or
    /// namespace in the query narrows the match; without a namespace every namespace is searched,
    /// so a name present in several namespaces or kinds is [`Lookup::Ambiguous`].
    pub fn lookup(&self, query: &NameQuery, kinds: &[&str]) -> Lookup {
        let name = query.name.to_ascii_lowercase();
        let kind_ok = |n: &Node| {
            let k = n.entity.entity_ref.kind.to_ascii_lowercase();
            match &query.kind {
                Some(q) => q.eq_ignore_ascii_case(&k),
                None => kinds.is_empty() || kinds.contains(&k.as_str()),
            }
        };
        let ns_ok = |n: &Node| {
            query
                .namespace
                .as_ref()
                .is_none_or(|ns| ns.eq_ignore_ascii_case(&n.entity.entity_ref.namespace))
        };
        let matches: Vec<u32> = self
            .by_name
            .get(&name)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&i| kind_ok(self.node(i)) && ns_ok(self.node(i)))
                    .collect()
            })
            .unwrap_or_default();
        match matches.len() {
            0 => Lookup::NotFound(self.suggest(&name, kinds, query.kind.as_deref())),
            1 => Lookup::Found(matches[0]),
            _ => Lookup::Ambiguous(matches),
        }
    }

    /// Up to 3 names of the given kinds that are close to `name` (Jaro-Winkler ≥ 0.8, or a
    /// substring match), best first, without duplicates.
    pub fn suggest(&self, name: &str, kinds: &[&str], kind: Option<&str>) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        let mut scored: Vec<(f64, &str)> = Vec::new();
        for (candidate, indices) in &self.by_name {
            let kind_ok = indices.iter().any(|&i| {
                let k = self.node(i).entity.entity_ref.kind.to_ascii_lowercase();
                match kind {
                    Some(q) => q.eq_ignore_ascii_case(&k),
                    None => kinds.is_empty() || kinds.contains(&k.as_str()),
                }
            });
            if !kind_ok {
                continue;
            }
            let mut score = strsim::jaro_winkler(&name, candidate);
            if name.len() >= 3 && (candidate.contains(&name) || name.contains(candidate.as_str())) {
                score = score.max(0.85);
            }
            if score >= 0.8 {
                scored.push((score, candidate));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(3)
            .map(|(_, n)| self.display_name_for(n))
            .collect()
    }

    fn display_name_for(&self, lower: &str) -> String {
        self.by_name
            .get(lower)
            .and_then(|v| v.first())
            .map(|&i| self.node(i).entity.entity_ref.name.clone())
            .unwrap_or_else(|| lower.to_owned())
    }

    /// Ranks entities against the words (all must match somewhere). Returns the best `limit` hits
    /// and the total number of matches. Weights: exact name 100, name contains 40, title 25, tag
    /// 20, type or owner 15, description 5.
    pub fn search(&self, words: &[String], limit: usize) -> (Vec<SearchHit>, usize) {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return (Vec::new(), 0);
        }
        let mut hits = Vec::new();
        let mut text = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            search_text(&node.entity, self.owner_name(i as u32), &mut text);
            if !words.iter().all(|w| text.contains(w.as_str())) {
                continue;
            }
            let e = &node.entity;
            let name = e.entity_ref.name.to_lowercase();
            let mut score = 0u32;
            for w in &words {
                if name == *w {
                    score += 100;
                } else if name.contains(w.as_str()) {
                    score += 40;
                }
                if e.title()
                    .is_some_and(|t| t.to_lowercase().contains(w.as_str()))
                {
                    score += 25;
                }
                if e.tags().any(|t| t.to_lowercase() == *w) {
                    score += 20;
                }
                if e.spec_type().is_some_and(|t| t.to_lowercase() == *w)
                    || self
                        .owner_name(i as u32)
                        .is_some_and(|o| o.to_lowercase() == *w)
                {
                    score += 15;
                }
                if e.description()
                    .is_some_and(|d| d.to_lowercase().contains(w.as_str()))
                {
                    score += 5;
                }
            }
            // Components first among equals: they are what people search for most.
            if e.entity_ref.kind.eq_ignore_ascii_case("component") {
                score += 1;
            }
            hits.push(SearchHit {
                index: i as u32,
                score,
            });
        }
        let total = hits.len();
        hits.sort_by(|a, b| {
            b.score.cmp(&a.score).then_with(|| {
                self.node(a.index)
                    .entity
                    .entity_ref
                    .name
                    .cmp(&self.node(b.index).entity.entity_ref.name)
            })
        });
        hits.truncate(limit);
        (hits, total)
    }

    /// The targets of one relation type from an entity, resolved ones as indices.
    pub fn related(&self, index: u32, relation: RelationType) -> impl Iterator<Item = &Target> {
        self.node(index)
            .relations
            .iter()
            .filter(move |r| r.relation == relation)
            .map(|r| &r.target)
    }

    /// The resolved targets of one relation type from an entity, as indices; unresolved refs are
    /// left out.
    pub fn related_indices(
        &self,
        index: u32,
        relation: RelationType,
    ) -> impl Iterator<Item = u32> + '_ {
        self.related(index, relation).filter_map(|t| match t {
            Target::Resolved(i) => Some(*i),
            Target::Unresolved(_) => None,
        })
    }

    /// The display form of a target: the entity's name (with kind and namespace when needed), or
    /// the unresolved ref.
    pub fn target_ref(&self, target: &Target) -> EntityRef {
        match target {
            Target::Resolved(i) => self.node(*i).entity.entity_ref.clone(),
            Target::Unresolved(r) => (**r).clone(),
        }
    }
}

/// Lower-cased `name title description tags type owner` of an entity, into a reused buffer.
fn search_text(e: &Entity, owner: Option<&str>, out: &mut String) {
    out.clear();
    for part in [Some(e.entity_ref.name.as_str()), e.title(), e.description()]
        .into_iter()
        .flatten()
        .chain(e.tags())
        .chain(e.spec_type())
        .chain(owner)
    {
        for c in part.chars() {
            out.extend(c.to_lowercase());
        }
        out.push(' ');
    }
}

fn push_unique(relations: &mut Vec<Relation>, relation: RelationType, target: Target) {
    if !relations
        .iter()
        .any(|r| r.relation == relation && r.target == target)
    {
        relations.push(Relation { relation, target });
    }
}
