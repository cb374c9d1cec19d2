//! Reading a scorecards file (YAML, format in [`super`]) into [`Scorecards`], with the file and
//! line of every problem. The YAML is read with `serde-saphyr` (as `policy.yaml` is), whose
//! `Spanned` values carry the lines the checks below report.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use regex::RegexBuilder;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::definition::{
    AppliesTo, Check, DefinitionError, DefinitionErrors, FIELD_PATHS, Field, Fix, FixLink, Level,
    RELATION_WORDS, RelationKind, Rule, Scorecard, Scorecards, ValueTest,
};
use crate::catalog::{DEFAULT_NAMESPACE, EntityRef};

/// Largest compiled size of one `matches` pattern: a pattern is written by an operator, but a
/// runaway one must not cost every evaluation megabytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How deep `all_of` / `any_of` may nest.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    scorecards: Vec<Spanned<ScorecardSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

fn list(v: Option<OneOrMany>) -> Vec<String> {
    v.map(OneOrMany::into_vec)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppliesSpec {
    #[serde(default)]
    kind: Option<OneOrMany>,
    #[serde(default, rename = "type")]
    spec_type: Option<OneOrMany>,
    #[serde(default)]
    lifecycle: Option<OneOrMany>,
    #[serde(default)]
    namespace: Option<OneOrMany>,
    #[serde(default)]
    system: Option<OneOrMany>,
    #[serde(default)]
    tags: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorecardSpec {
    id: Option<Spanned<String>>,
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    applies_to: AppliesSpec,
    #[serde(default)]
    checks: Vec<Spanned<CheckSpec>>,
    #[serde(default)]
    levels: Vec<Spanned<LevelSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelSpec {
    name: Option<String>,
    #[serde(default)]
    checks: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixSpec {
    text: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    template: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpec {
    key: Option<String>,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    matches: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    path: Option<String>,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    matches: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "type")]
    link_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploySpec {
    days: Option<i64>,
    #[serde(default)]
    environment: Option<String>,
}

/// A check as written; top-level checks carry `id`, `title`, `weight` and maybe `fix`, parts of an
/// `all_of` / `any_of` carry a rule and at most a `title`. Exactly one rule key is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSpec {
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    fix: Option<FixSpec>,
    #[serde(default)]
    annotation: Option<KeySpec>,
    #[serde(default)]
    label: Option<KeySpec>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    link: Option<LinkSpec>,
    #[serde(default)]
    field: Option<FieldSpec>,
    #[serde(default)]
    relation: Option<String>,
    #[serde(default)]
    on_call: Option<String>,
    #[serde(default)]
    deployed_within: Option<DeploySpec>,
    #[serde(default)]
    all_of: Option<Vec<Spanned<CheckSpec>>>,
    #[serde(default)]
    any_of: Option<Vec<Spanned<CheckSpec>>>,
}

/// The rule keys, for messages.
const RULE_KEYS: &str =
    "annotation, label, tag, link, field, relation, on_call, deployed_within, all_of, any_of";

impl CheckSpec {
    /// The rule keys set, in declaration order.
    fn rule_keys(&self) -> Vec<&'static str> {
        [
            ("annotation", self.annotation.is_some()),
            ("label", self.label.is_some()),
            ("tag", self.tag.is_some()),
            ("link", self.link.is_some()),
            ("field", self.field.is_some()),
            ("relation", self.relation.is_some()),
            ("on_call", self.on_call.is_some()),
            ("deployed_within", self.deployed_within.is_some()),
            ("all_of", self.all_of.is_some()),
            ("any_of", self.any_of.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// Collects problems with the file's name.
struct Problems<'a> {
    file: &'a str,
    found: Vec<DefinitionError>,
}

impl Problems<'_> {
    fn add(&mut self, line: u64, message: String) {
        self.found.push(DefinitionError {
            file: self.file.to_owned(),
            line: (line > 0).then_some(line),
            message,
        });
    }
}

/// The text of a `serde-saphyr` error without its `error: line L column C:` prefix and source
/// excerpt: the line is reported on its own.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let first = e.to_string();
    let first = first.lines().next().unwrap_or("unreadable").to_owned();
    let rest = first.strip_prefix("error: ").unwrap_or(&first);
    match rest.split_once(": ") {
        Some((at, message)) if at.starts_with("line ") && at.contains(" column ") => {
            message.to_owned()
        }
        _ => rest.to_owned(),
    }
}

/// Reads scorecards from YAML text; `file` names it in errors.
///
/// # Errors
/// [`DefinitionErrors`]: a syntax or shape error (unknown key, wrong type) alone, else every
/// problem found: missing or duplicate ids, missing or non-positive weights, a check with no rule
/// or two, unknown relation or field, bad regex, a level naming an unknown check, a fix without
/// text or with both a URL and a template, a malformed URL or template ref.
pub fn from_yaml(text: &str, file: &str) -> Result<Scorecards, DefinitionErrors> {
    let mut problems = Problems {
        file,
        found: Vec::new(),
    };
    let spec: FileSpec = match serde_saphyr::from_str::<Option<FileSpec>>(text) {
        Ok(spec) => spec.unwrap_or(FileSpec {
            scorecards: Vec::new(),
        }),
        Err(e) => {
            problems.add(e.location().map_or(0, |l| l.line()), yaml_message(&e));
            return Err(DefinitionErrors(problems.found));
        }
    };
    let mut ids = HashMap::new();
    let mut scorecards = Vec::new();
    for card in spec.scorecards {
        let line = card.referenced.line();
        if let Some(card) = compile_scorecard(card.value, line, &mut ids, &mut problems) {
            scorecards.push(Arc::new(card));
        }
    }
    if problems.found.is_empty() {
        Ok(Scorecards {
            file: file.to_owned(),
            scorecards,
        })
    } else {
        Err(DefinitionErrors(problems.found))
    }
}

/// Reads a scorecards file.
///
/// # Errors
/// [`DefinitionErrors`] naming the file (and lines); an unreadable file is one error without a
/// line.
pub fn load(path: &Path) -> Result<Scorecards, DefinitionErrors> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        DefinitionErrors(vec![DefinitionError {
            file: shown.clone(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    from_yaml(&text, &shown)
}

fn compile_scorecard(
    spec: ScorecardSpec,
    line: u64,
    ids: &mut HashMap<String, u64>,
    problems: &mut Problems<'_>,
) -> Option<Scorecard> {
    let before = problems.found.len();
    let id = unique_id(spec.id.as_ref(), line, "scorecard", "", ids, problems);
    let title = match spec.title.map(|t| t.trim().to_owned()) {
        Some(t) if !t.is_empty() => t,
        _ => {
            problems.add(line, format!("scorecard `{id}` needs a `title`"));
            String::new()
        }
    };
    if spec.checks.is_empty() {
        problems.add(line, format!("scorecard `{id}` has no checks"));
    }
    let mut check_ids: HashMap<String, u64> = HashMap::new();
    let mut checks = Vec::new();
    for c in spec.checks {
        let at = c.referenced.line();
        if let Some(check) = compile_check(c.value, at, &id, &mut check_ids, problems) {
            checks.push(check);
        }
    }
    let mut levels: Vec<Level> = Vec::new();
    for l in spec.levels {
        let at = l.referenced.line();
        let name = match l.value.name.map(|n| n.trim().to_owned()) {
            Some(n) if !n.is_empty() => n,
            _ => {
                problems.add(at, format!("scorecard `{id}`: a level needs a `name`"));
                continue;
            }
        };
        if let Some(first) = levels.iter().find(|x| x.name.eq_ignore_ascii_case(&name)) {
            problems.add(
                at,
                format!(
                    "scorecard `{id}`: level `{name}` is defined twice (first on line {})",
                    first.line
                ),
            );
            continue;
        }
        if l.value.checks.is_empty() {
            problems.add(
                at,
                format!("scorecard `{id}`: level `{name}` names no checks"),
            );
        }
        let mut positions = BTreeSet::new();
        for c in &l.value.checks {
            match checks.iter().position(|x: &Check| x.id == c.value) {
                Some(p) => {
                    positions.insert(p);
                }
                None if check_ids.contains_key(&c.value) => {} // reported with the check
                None => problems.add(
                    c.referenced.line(),
                    format!(
                        "scorecard `{id}`: level `{name}` names unknown check `{}`",
                        c.value
                    ),
                ),
            }
        }
        levels.push(Level {
            name,
            checks: positions.into_iter().collect(),
            line: at,
        });
    }
    if problems.found.len() > before {
        return None;
    }
    let total_weight = checks.iter().map(|c| c.weight).sum();
    let needs_key = checks.iter().any(|c| c.rule.reads_deploys());
    Some(Scorecard {
        id,
        title,
        description: spec.description.filter(|d| !d.trim().is_empty()),
        applies_to: AppliesTo {
            kinds: list(spec.applies_to.kind),
            types: list(spec.applies_to.spec_type),
            lifecycles: list(spec.applies_to.lifecycle),
            namespaces: list(spec.applies_to.namespace),
            systems: list(spec.applies_to.system),
            tags: list(spec.applies_to.tags),
        },
        checks,
        levels,
        total_weight,
        line,
        needs_key,
    })
}

/// Ids are what the store and commands key on: letters, digits, `-`, `_` and `.`, at most 100.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The id of a scorecard or check (`what`), checked: present, well-formed, not used before
/// (`ids`: id → line). `context` starts the messages (`scorecard `x`: `).
fn unique_id(
    id: Option<&Spanned<String>>,
    line: u64,
    what: &str,
    context: &str,
    ids: &mut HashMap<String, u64>,
    problems: &mut Problems<'_>,
) -> String {
    let Some(id) = id else {
        problems.add(line, format!("{context}a {what} needs an `id`"));
        return String::new();
    };
    let at = id.referenced.line();
    if !valid_id(&id.value) {
        problems.add(
            at,
            format!(
                "{context}{what} id `{}` must be 1 to 100 letters, digits, `-`, `_` or `.`",
                id.value
            ),
        );
    } else if let Some(first) = ids.get(&id.value) {
        problems.add(
            at,
            format!(
                "{context}{what} id `{}` is used twice (first on line {first})",
                id.value
            ),
        );
    } else {
        ids.insert(id.value.clone(), at);
    }
    id.value.clone()
}

fn compile_check(
    spec: CheckSpec,
    line: u64,
    card: &str,
    ids: &mut HashMap<String, u64>,
    problems: &mut Problems<'_>,
) -> Option<Check> {
    let before = problems.found.len();
    let context = format!("scorecard `{card}`: ");
    let id = unique_id(spec.id.as_ref(), line, "check", &context, ids, problems);
    let what = format!("scorecard `{card}`, check `{id}`");
    let title = match spec.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => {
            problems.add(line, format!("{what}: needs a `title`"));
            String::new()
        }
    };
    let weight = match spec.weight {
        None => {
            problems.add(
                line,
                format!("{what}: needs a `weight` (a positive number)"),
            );
            0.0
        }
        Some(w) if !w.is_finite() || w <= 0.0 => {
            problems.add(line, format!("{what}: weight {w} is not a positive number"));
            0.0
        }
        Some(w) => w,
    };
    let fix = spec
        .fix
        .as_ref()
        .and_then(|f| compile_fix(f, line, &what, problems));
    let rule = compile_rule(&spec, line, &what, 0, problems);
    if problems.found.len() > before {
        return None;
    }
    Some(Check {
        id,
        title,
        weight,
        fix,
        line,
        rule: rule?,
    })
}

fn compile_fix(spec: &FixSpec, line: u64, what: &str, problems: &mut Problems<'_>) -> Option<Fix> {
    let text = match spec.text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => {
            problems.add(line, format!("{what}: `fix` needs a `text`"));
            return None;
        }
    };
    let link = match (&spec.url, &spec.template) {
        (Some(_), Some(_)) => {
            problems.add(
                line,
                format!("{what}: `fix` takes a `url` or a `template`, not both"),
            );
            return None;
        }
        (Some(u), None) => match url::Url::parse(u.trim()) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                Some(FixLink::Url(u.trim().to_owned()))
            }
            _ => {
                problems.add(line, format!("{what}: fix url `{u}` is not an http(s) URL"));
                return None;
            }
        },
        (None, Some(t)) => match EntityRef::parse(t, Some("Template"), DEFAULT_NAMESPACE) {
            Ok(r) if r.kind.eq_ignore_ascii_case("template") => Some(FixLink::Template(r)),
            Ok(r) => {
                problems.add(
                    line,
                    format!("{what}: fix template `{t}` is a {}, not a Template", r.kind),
                );
                return None;
            }
            Err(e) => {
                problems.add(line, format!("{what}: fix template `{t}`: {e}"));
                return None;
            }
        },
        (None, None) => None,
    };
    Some(Fix { text, link })
}

fn value_test(
    equals: Option<&String>,
    matches: Option<&String>,
    line: u64,
    what: &str,
    problems: &mut Problems<'_>,
) -> Option<ValueTest> {
    match (equals, matches) {
        (Some(_), Some(_)) => {
            problems.add(
                line,
                format!("{what}: give `equals` or `matches`, not both"),
            );
            None
        }
        (Some(v), None) => Some(ValueTest::Equals(v.trim().to_owned())),
        (None, Some(p)) => match RegexBuilder::new(p).size_limit(REGEX_SIZE_LIMIT).build() {
            Ok(re) => Some(ValueTest::Matches(re)),
            Err(e) => {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or("").trim().to_owned();
                problems.add(
                    line,
                    format!("{what}: `matches` is not a valid regular expression: {first}"),
                );
                None
            }
        },
        (None, None) => Some(ValueTest::Exists),
    }
}

fn reasons(subject: &str, test: &ValueTest) -> (Arc<str>, Arc<str>) {
    let missing: Arc<str> = Arc::from(format!("no {subject}"));
    let wrong: Arc<str> = match test {
        ValueTest::Exists => Arc::from(format!("{subject} is blank")),
        ValueTest::Equals(v) => Arc::from(format!("{subject} is not `{v}`")),
        ValueTest::Matches(re) => Arc::from(format!("{subject} does not match `{}`", re.as_str())),
    };
    (missing, wrong)
}

fn compile_rule(
    spec: &CheckSpec,
    line: u64,
    what: &str,
    depth: usize,
    problems: &mut Problems<'_>,
) -> Option<Rule> {
    let keys = spec.rule_keys();
    match keys.as_slice() {
        [] => {
            problems.add(
                line,
                format!("{what}: says nothing to check; give one of {RULE_KEYS}"),
            );
            return None;
        }
        [_] => {}
        many => {
            problems.add(
                line,
                format!(
                    "{what}: has several rules ({}); give exactly one, or combine them with all_of / any_of",
                    many.join(", ")
                ),
            );
            return None;
        }
    }
    for (word, keyed, label) in [
        ("annotation", &spec.annotation, false),
        ("label", &spec.label, true),
    ] {
        let Some(a) = keyed else { continue };
        let Some(key) = a.key.as_deref().map(str::trim).filter(|k| !k.is_empty()) else {
            problems.add(line, format!("{what}: `{word}` needs a `key`"));
            return None;
        };
        let test = value_test(a.equals.as_ref(), a.matches.as_ref(), line, what, problems)?;
        let (missing, wrong) = reasons(&format!("`{key}` {word}"), &test);
        let key = key.to_owned();
        return Some(if label {
            Rule::Label {
                key,
                test,
                missing,
                wrong,
            }
        } else {
            Rule::Annotation {
                key,
                test,
                missing,
                wrong,
            }
        });
    }
    if let Some(tag) = &spec.tag {
        let tag = tag.trim();
        if tag.is_empty() {
            problems.add(line, format!("{what}: `tag` is empty"));
            return None;
        }
        return Some(Rule::Tag {
            tag: tag.to_owned(),
            missing: Arc::from(format!("no `{tag}` tag")),
        });
    }
    if let Some(l) = &spec.link {
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let (title, link_type) = (clean(&l.title), clean(&l.link_type));
        let missing = match (&title, &link_type) {
            (None, None) => {
                problems.add(line, format!("{what}: `link` needs a `title` or a `type`"));
                return None;
            }
            (Some(t), None) => format!("no link titled `{t}`"),
            (None, Some(k)) => format!("no link of type `{k}`"),
            (Some(t), Some(k)) => format!("no link titled `{t}` of type `{k}`"),
        };
        return Some(Rule::Link {
            title,
            link_type,
            missing: Arc::from(missing),
        });
    }
    if let Some(f) = &spec.field {
        let Some(path) = f.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
            problems.add(line, format!("{what}: `field` needs a `path`"));
            return None;
        };
        let Some(field) = Field::parse(path) else {
            problems.add(
                line,
                format!("{what}: unknown field `{path}`; known fields: {FIELD_PATHS}"),
            );
            return None;
        };
        let test = value_test(f.equals.as_ref(), f.matches.as_ref(), line, what, problems)?;
        let (missing, wrong) = reasons(&format!("`{path}`"), &test);
        return Some(Rule::Field {
            field,
            test,
            missing,
            wrong,
        });
    }
    if let Some(word) = &spec.relation {
        let Some(kind) = RelationKind::parse(word) else {
            problems.add(
                line,
                format!("{what}: unknown relation `{word}`; known: {RELATION_WORDS}"),
            );
            return None;
        };
        let missing = match kind {
            RelationKind::Owner => "no owner (`spec.owner`)".to_owned(),
            RelationKind::System => "not part of a system (`spec.system`)".to_owned(),
            RelationKind::Domain => "not part of a domain (`spec.domain`)".to_owned(),
            RelationKind::ProvidesApi => "provides no API (`spec.providesApis`)".to_owned(),
            RelationKind::ConsumesApi => "consumes no API (`spec.consumesApis`)".to_owned(),
            RelationKind::DependsOn => "no dependencies (`spec.dependsOn`)".to_owned(),
        };
        return Some(Rule::Relation {
            kind,
            missing: Arc::from(missing),
        });
    }
    if let Some(word) = &spec.on_call {
        if word.trim() != "resolvable" {
            problems.add(
                line,
                format!("{what}: `on_call` takes `resolvable`, not `{word}`"),
            );
            return None;
        }
        return Some(Rule::OnCall);
    }
    if let Some(d) = &spec.deployed_within {
        let days = match d.days {
            Some(days) if (1..=3650).contains(&days) => days as u32,
            Some(days) => {
                problems.add(
                    line,
                    format!("{what}: `deployed_within.days` must be 1 to 3650, not {days}"),
                );
                return None;
            }
            None => {
                problems.add(line, format!("{what}: `deployed_within` needs `days`"));
                return None;
            }
        };
        let environment = d
            .environment
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_ascii_lowercase);
        let never = match &environment {
            Some(env) => format!("no successful deploy to {env} recorded"),
            None => "no successful deploy recorded".to_owned(),
        };
        return Some(Rule::DeployedWithin {
            days,
            environment,
            never: Arc::from(never),
        });
    }
    let (parts_spec, any) = match (&spec.all_of, &spec.any_of) {
        (Some(p), _) => (p, false),
        (None, Some(p)) => (p, true),
        (None, None) => return None,
    };
    let word = if any { "any_of" } else { "all_of" };
    if depth + 1 >= MAX_DEPTH {
        problems.add(
            line,
            format!("{what}: `{word}` nests more than {MAX_DEPTH} levels deep"),
        );
        return None;
    }
    if parts_spec.is_empty() {
        problems.add(line, format!("{what}: `{word}` is empty"));
        return None;
    }
    let mut parts = Vec::new();
    let mut titles = Vec::new();
    for part in parts_spec {
        let at = part.referenced.line();
        let p = &part.value;
        if p.id.is_some() || p.weight.is_some() || p.fix.is_some() {
            problems.add(
                at,
                format!(
                    "{what}: a part of `{word}` takes no `id`, `weight` or `fix` (they belong to the check)"
                ),
            );
            continue;
        }
        if let Some(rule) = compile_rule(p, at, what, depth + 1, problems) {
            titles.push(
                p.title
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map_or_else(|| rule_reason(&rule), str::to_owned),
            );
            parts.push(rule);
        }
    }
    if parts.len() != parts_spec.len() {
        return None;
    }
    Some(if any {
        Rule::AnyOf {
            parts,
            none: Arc::from(format!("none of: {}", titles.join("; "))),
        }
    } else {
        Rule::AllOf(parts)
    })
}

/// The failure text a rule gives when nothing is there (for `any_of`'s summary).
fn rule_reason(rule: &Rule) -> String {
    match rule {
        Rule::Annotation { missing, .. }
        | Rule::Label { missing, .. }
        | Rule::Tag { missing, .. }
        | Rule::Link { missing, .. }
        | Rule::Field { missing, .. }
        | Rule::Relation { missing, .. } => missing.to_string(),
        Rule::OnCall => "on-call not resolvable".to_owned(),
        Rule::DeployedWithin {
            days, environment, ..
        } => match environment {
            Some(env) => format!("no successful deploy to {env} in {days} days"),
            None => format!("no successful deploy in {days} days"),
        },
        Rule::AllOf(parts) => parts
            .iter()
            .map(rule_reason)
            .collect::<Vec<_>>()
            .join(" or "),
        Rule::AnyOf { none, .. } => none.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<(Option<u64>, String)> {
        match from_yaml(yaml, "scorecards.yaml") {
            Ok(_) => Vec::new(),
            Err(DefinitionErrors(found)) => {
                assert!(found.iter().all(|e| e.file == "scorecards.yaml"));
                found.into_iter().map(|e| (e.line, e.message)).collect()
            }
        }
    }

    fn one_error(yaml: &str) -> (Option<u64>, String) {
        let found = errors(yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap_or_default()
    }

    const GOOD: &str = "\
scorecards:
  - id: ready
    title: Ready
    applies_to: { kind: Component, type: [service, website] }
    checks:
      - id: owner
        title: Owned
        weight: 2
        relation: owner
      - id: runbook
        title: Runbook
        weight: 1.5
        any_of:
          - link: { type: runbook }
          - title: a link titled Runbook
            link: { title: Runbook }
        fix: { text: Add one., template: backend-service }
    levels:
      - name: bronze
        checks: [owner]
      - name: silver
        checks: [runbook]
";

    #[test]
    fn a_good_file_compiles_with_levels_weights_and_fixes() {
        let s = from_yaml(GOOD, "scorecards.yaml").expect("valid");
        let card = s.get("ready").expect("the scorecard");
        assert_eq!(card.total_weight, 3.5);
        assert_eq!(card.applies_to.types, ["service", "website"]);
        assert_eq!(card.levels[1].checks, [1]);
        assert_eq!(card.checks[1].line, 10);
        assert_eq!(card.checks[1].rule.kind(), "any_of");
        let refs = s.template_refs();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].3.key(), "template:default/backend-service");
        assert!(
            from_yaml("", "x.yaml")
                .expect("empty is valid")
                .scorecards
                .is_empty()
        );
    }

    #[test]
    fn shape_errors_name_the_line_and_the_key() {
        let (line, message) = one_error(&GOOD.replace("relation: owner", "relashun: owner"));
        assert_eq!(line, Some(9));
        assert!(message.starts_with("unknown field `relashun`"), "{message}");
        let (line, message) = one_error(&GOOD.replace("weight: 2", "weight: heavy"));
        assert_eq!(line, Some(8));
        assert!(message.contains("floating point"), "{message}");
        let (line, message) = one_error("scorecards:\n  - id: [\n");
        assert!(line.is_some(), "{message}");
    }

    #[test]
    fn several_problems_are_reported_together_each_with_its_line() {
        let yaml = "\
scorecards:
  - id: ready
    title: Ready
    checks:
      - id: a
        title: A
        weight: -1
        tag: x
      - id: a
        title: A again
        weight: 1
        tag: y
      - id: b
        title: B
        annotation: { key: k, matches: '(' }
      - id: c
        title: C
        weight: 1
        relation: sibling
      - id: d
        title: D
        weight: 1
      - id: e
        title: E
        weight: 1
        tag: t
        link: { title: x }
      - id: f
        title: F
        weight: 1
        field: { path: spec.colour }
      - id: g
        title: G
        weight: 1
        tag: t
        fix: { text: x, url: 'ftp://example.com' }
    levels:
      - name: gold
        checks: [a, nope]
  - id: ready
    title: Again
    checks:
      - { id: z, title: Z, weight: 0, on_call: maybe }
";
        let found = errors(yaml);
        let want: &[(u64, &str)] = &[
            (5, "weight -1 is not a positive number"),
            (9, "check id `a` is used twice (first on line 5)"),
            (13, "check `b`: needs a `weight`"),
            (13, "`matches` is not a valid regular expression"),
            (16, "unknown relation `sibling`"),
            (20, "says nothing to check"),
            (23, "has several rules (tag, link)"),
            (28, "unknown field `spec.colour`"),
            (32, "fix url `ftp://example.com` is not an http(s) URL"),
            (39, "level `gold` names unknown check `nope`"),
            (40, "scorecard id `ready` is used twice (first on line 2)"),
            (43, "weight 0 is not a positive number"),
            (43, "`on_call` takes `resolvable`, not `maybe`"),
        ];
        for (line, text) in want {
            assert!(
                found
                    .iter()
                    .any(|(l, m)| *l == Some(*line) && m.contains(text)),
                "no `{text}` on line {line} in {found:#?}"
            );
        }
        assert_eq!(found.len(), want.len(), "{found:#?}");
    }

    #[test]
    fn nested_parts_take_no_weight_and_levels_need_names() {
        let yaml = "\
scorecards:
  - id: s
    title: S
    checks:
      - id: x
        title: X
        weight: 1
        all_of:
          - tag: a
          - tag: b
            weight: 3
    levels:
      - checks: [x]
";
        let found = errors(yaml);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, Some(10));
        assert!(found[0].1.contains("takes no `id`, `weight` or `fix`"));
        assert_eq!(found[1].0, Some(13));
        assert!(found[1].1.contains("a level needs a `name`"));
    }

    #[test]
    fn the_repository_demo_file_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scorecards.yaml");
        let s = load(&path).expect("the demo scorecards file is valid");
        let card = s.get("production-readiness").expect("production readiness");
        let ids: Vec<&str> = card.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["owner", "on-call", "runbook", "alerts", "slo", "tracing"]
        );
        let levels: Vec<&str> = card.levels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(levels, ["bronze", "silver", "gold"]);
    }

    #[test]
    fn a_missing_file_is_one_error_without_a_line() {
        let e = load(std::path::Path::new("/nonexistent/scorecards.yaml")).expect_err("missing");
        assert_eq!(e.0.len(), 1);
        assert!(
            e.to_string()
                .starts_with("/nonexistent/scorecards.yaml: cannot read the file")
        );
    }
}
