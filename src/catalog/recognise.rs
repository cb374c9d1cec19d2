//! Which catalog entities a piece of pasted text is about: the "Who owns this?" message shortcut
//! and `owner <what people paste>`. Pure and IO-free: text in, snapshot indices out, each with the
//! clue that led to it.
//!
//! What is recognised, strongest first:
//! - repository URLs (`https://github.com/<org>/<repo>` with any `/tree/…`, `/blob/…`,
//!   `/actions/runs/…`, `/pull/…` tail, a `.git` suffix, `git@github.com:org/repo.git`,
//!   `ssh://git@…`), matched against Backstage's `github.com/project-slug`,
//!   `backstage.io/source-location` and `backstage.io/managed-by-location` annotations;
//! - URLs that an entity lists in `metadata.links` (a dashboard, a CI pipeline), matched by the
//!   longest link that is a prefix of the URL once both are normalised;
//! - hostnames (`checkout-api.prod.acme.internal`) whose whole name or first label is an entity
//!   name;
//! - words that are the `metadata.name` of a Component, API, Resource or System
//!   (`checkout-api`), or that hold one as a dash-delimited run (`checkout-api-7d9f8b6c5-x2x4z`).
//!
//! Everything is compared in ASCII lower case. The lookup tables are built once per snapshot
//! ([`Snapshot::recognise_index`]), so recognising a message costs a few hash lookups per word.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::entity_ref::EntityRef;
use super::snapshot::{RelationType, Snapshot};

/// Characters of a message read; the rest is ignored and [`Recognised::truncated`] is set.
pub const MAX_CHARS: usize = 40_000;
/// URLs and words looked up per message; past this [`Recognised::truncated`] is set.
pub const MAX_TOKENS: usize = 10_000;
/// Most entities returned in [`Recognised::found`].
pub const MAX_FOUND: usize = 25;
/// Most clues listed in [`Recognised::looked_for`].
pub const MAX_LOOKED_FOR: usize = 50;
/// A link URL that more entities than this list identifies none of them (a team's shared on-call
/// schedule, a company wiki): it is not matched.
pub const MAX_SHARED_LINK: usize = 3;
/// Dash- or underscore-delimited parts of a word searched for a contained name.
const MAX_PARTS: usize = 12;

/// The annotation naming a GitHub repository as `<org>/<repo>`.
pub const PROJECT_SLUG: &str = "github.com/project-slug";
/// The annotation naming where an entity's source lives, `url:<repository URL>`.
pub const SOURCE_LOCATION: &str = "backstage.io/source-location";
/// The annotation naming the descriptor file an entity was read from, `url:<file URL>`.
pub const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";

/// Kinds a bare name, hostname or channel name may refer to: the kinds that have an owner and
/// that people name in messages.
const OWNED_KINDS: [&str; 4] = ["component", "api", "resource", "system"];

/// Something the recogniser read in the text and looked up, in normalised form (ASCII lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Clue {
    /// A repository, `<host>/<org>/<repo>` without scheme, `.git` or tail, e.g.
    /// `github.com/acme/checkout`. Looked up in `github.com/project-slug`,
    /// `backstage.io/source-location` and `backstage.io/managed-by-location`, and as a link.
    Repo(String),
    /// Any other URL, `<host>/<path>` without scheme, `www.`, query, fragment or trailing slash,
    /// e.g. `grafana.acme.com/d/checkout-api/overview`. Looked up in `metadata.links[].url`
    /// and as a repository location.
    Link(String),
    /// A hostname, e.g. `checkout-api.prod.acme.internal`: its whole name or its first label
    /// looked up as an entity name.
    Hostname(String),
    /// A word looked up as a `metadata.name`, e.g. `checkout-api`.
    Name(String),
}

impl Clue {
    /// The clue's text, e.g. `github.com/acme/checkout`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Repo(s) | Self::Link(s) | Self::Hostname(s) | Self::Name(s) => s,
        }
    }
}

impl fmt::Display for Clue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which field of the entity the clue matched, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Matched {
    /// The repository is the entity's `github.com/project-slug` (`<org>/<repo>`).
    ProjectSlug,
    /// The URL lies in the repository of the entity's `backstage.io/source-location`
    /// (`url:https://github.com/org/repo/tree/main/`).
    SourceLocation,
    /// One of the entity's `metadata.links[].url` is a prefix of the URL.
    Link,
    /// The URL lies in the repository of the entity's `backstage.io/managed-by-location`
    /// (`url:https://github.com/org/repo/blob/main/catalog-info.yaml`).
    ManagedByLocation,
    /// The clue (a word, a hostname or its first label) is the entity's `metadata.name`.
    Name,
    /// A dash- or underscore-delimited run of the clue is the entity's `metadata.name`
    /// (`checkout-api` in `checkout-api-7d9f8b6c5-x2x4z`).
    NameWithin,
}

/// One entity the text refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognition {
    /// Index into [`Snapshot::entities`].
    pub entity: u32,
    /// The clue that led to it (the first, strongest one when several did).
    pub because: Clue,
    /// Which field of the entity the clue matched.
    pub matched: Matched,
}

/// What [`recognise`] found in a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recognised {
    /// The entities the text refers to, best first (repository, then link, then name matches;
    /// among equals, in the order the text mentions them), each once; at most [`MAX_FOUND`].
    pub found: Vec<Recognition>,
    /// What was looked for, in text order, each once, at most [`MAX_LOOKED_FOR`]: every URL and
    /// hostname, and every word shaped like a name (with a `-` or `_`). Plain prose words are
    /// tried too but not listed.
    pub looked_for: Vec<Clue>,
    /// True when the text was longer than [`MAX_CHARS`] characters or [`MAX_TOKENS`] tokens and
    /// its tail was not read.
    pub truncated: bool,
}

/// How a repository location annotation was found on an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Located {
    Source,
    ManagedBy,
}

/// The lookup tables of [`recognise`] for one snapshot: GitHub slugs (`org/repo`), repository
/// roots of source and managed-by locations (`host/org/repo`) and link URLs (`host/path`), all
/// normalised to ASCII lower case. Names are looked up in the snapshot's own name index.
#[derive(Default)]
pub struct RecogniseIndex {
    slugs: HashMap<Box<str>, Vec<u32>>,
    located: HashMap<Box<str>, Vec<(u32, Located)>>,
    links: HashMap<Box<str>, Vec<u32>>,
}

impl fmt::Debug for RecogniseIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecogniseIndex")
            .field("slugs", &self.slugs.len())
            .field("located", &self.located.len())
            .field("links", &self.links.len())
            .finish()
    }
}

impl RecogniseIndex {
    /// Reads every entity's annotations and links. Users and Locations are left out: a pasted
    /// URL is about the things people own, not about a person or a catalog file.
    pub fn build(snapshot: &Snapshot) -> Self {
        let mut index = Self::default();
        for (i, node) in snapshot.entities().iter().enumerate() {
            let i = i as u32;
            let e = &node.entity;
            let kind = &e.entity_ref.kind;
            if kind.eq_ignore_ascii_case("user") || kind.eq_ignore_ascii_case("location") {
                continue;
            }
            if let Some(slug) = e.annotation(PROJECT_SLUG).and_then(normalise_slug) {
                push_once(index.slugs.entry(slug.into()).or_default(), i);
            }
            for (key, how) in [
                (SOURCE_LOCATION, Located::Source),
                (MANAGED_BY_LOCATION, Located::ManagedBy),
            ] {
                if let Some(root) = e.annotation(key).and_then(location_root) {
                    let v = index.located.entry(root.into()).or_default();
                    if !v.contains(&(i, how)) {
                        v.push((i, how));
                    }
                }
            }
            for link in e.links() {
                if let Some(url) = normalise_url(link.url) {
                    push_once(index.links.entry(url.into()).or_default(), i);
                }
            }
        }
        index.slugs.shrink_to_fit();
        index.located.shrink_to_fit();
        index.links.shrink_to_fit();
        index
    }
}

fn push_once(v: &mut Vec<u32>, i: u32) {
    if v.last() != Some(&i) {
        v.push(i);
    }
}

/// `org/repo` from a `github.com/project-slug` value; `None` unless it has exactly two parts.
fn normalise_slug(slug: &str) -> Option<String> {
    let slug = slug.trim().trim_matches('/');
    let (org, repo) = slug.split_once('/')?;
    let repo = strip_git(repo);
    if org.is_empty() || repo.is_empty() || repo.contains('/') {
        return None;
    }
    Some(format!("{org}/{repo}").to_ascii_lowercase())
}

fn strip_git(segment: &str) -> &str {
    match segment.len().checked_sub(4) {
        Some(at) if segment.is_char_boundary(at) && segment[at..].eq_ignore_ascii_case(".git") => {
            &segment[..at]
        }
        _ => segment,
    }
}

/// Hosts whose URLs name a repository in their first two path segments.
fn github_like(host: &str) -> bool {
    host == "github.com" || host.starts_with("github.")
}

/// A URL as `host/seg/seg…`: scheme, user, `www.`, query, fragment, trailing slash and `.git`
/// suffixes removed, ASCII lower case. Accepts `https://…`, `ssh://git@…`, scp-like
/// `git@host:org/repo.git`, a `url:` location prefix, and a bare `host/path`. `None` when no host
/// is left.
pub fn normalise_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("url:").unwrap_or(raw);
    let raw = raw.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match raw.find("://") {
        Some(at) => {
            let rest = &raw[at + 3..];
            rest.split_once('/').unwrap_or((rest, ""))
        }
        None => match raw.split_once(':') {
            // scp-like `git@github.com:org/repo.git`
            Some((user_host, path)) if user_host.contains('@') && !user_host.contains('/') => {
                (user_host, path)
            }
            _ => raw.split_once('/').unwrap_or((raw, "")),
        },
    };
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return None;
    }
    let mut out = String::with_capacity(host.len() + path.len() + 1);
    out.push_str(host);
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(strip_git(segment));
    }
    out.make_ascii_lowercase();
    Some(out)
}

/// The repository root of a location annotation (`url:https://github.com/org/repo/tree/main/`):
/// `host/org/repo` on GitHub; elsewhere the path before a `-`, `tree`, `blob` or `src` segment
/// (GitLab, Bitbucket). `None` for `file:` locations and for a bare host.
fn location_root(value: &str) -> Option<String> {
    let value = value.trim();
    if !value.starts_with("url:") && !value.contains("://") {
        return None;
    }
    let url = normalise_url(value)?;
    let mut segments = url.split('/');
    let host = segments.next()?;
    let keep = if github_like(host) {
        2
    } else {
        segments
            .position(|s| matches!(s, "-" | "tree" | "blob" | "src"))
            .unwrap_or(usize::MAX)
    };
    let root = prefix_with_segments(&url, keep);
    root.contains('/').then(|| root.to_owned())
}

/// `url` cut after its host and at most `segments` path segments.
fn prefix_with_segments(url: &str, segments: usize) -> &str {
    let mut end = url.find('/').unwrap_or(url.len());
    for _ in 0..segments {
        if end >= url.len() {
            break;
        }
        end = url[end + 1..]
            .find('/')
            .map_or(url.len(), |at| end + 1 + at);
    }
    &url[..end]
}

/// Every prefix of a normalised URL that ends at a segment boundary, longest first, down to the
/// host alone.
fn url_prefixes(url: &str) -> impl Iterator<Item = &str> {
    std::iter::once(url).chain(url.rmatch_indices('/').map(|(at, _)| &url[..at]))
}

/// Reads `text` (a Slack message: `<url|label>` links, `<@U…>` mentions, `<#C…|name>` channels,
/// `&amp; &lt; &gt;` escapes) and returns the entities it refers to, best first, each with its
/// clue, and what it looked for. Reads at most [`MAX_CHARS`] characters and [`MAX_TOKENS`] tokens.
pub fn recognise(snapshot: &Snapshot, text: &str) -> Recognised {
    let (text, mut truncated) = match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) if text.len() > MAX_CHARS => (&text[..at], true),
        _ => (text, false),
    };
    let mut scan = Scan {
        snapshot,
        index: snapshot.recognise_index(),
        found: HashMap::new(),
        looked_for: Vec::new(),
        listed: HashSet::new(),
        tokens: 0,
        lower: String::new(),
    };
    let mut rest = text;
    while !rest.is_empty() && !scan.exhausted() {
        let (before, markup, after) = match rest.find('<') {
            Some(open) => match rest[open..].find('>') {
                Some(len) => (
                    &rest[..open],
                    Some(&rest[open + 1..open + len]),
                    &rest[open + len + 1..],
                ),
                None => (rest, None, ""),
            },
            None => (rest, None, ""),
        };
        scan.prose(&unescape(before));
        if let Some(markup) = markup {
            scan.markup(markup);
        }
        rest = after;
    }
    truncated |= scan.exhausted();
    let mut found: Vec<(Rank, Recognition)> = scan.found.into_values().collect();
    found.sort_by_key(|a| a.0);
    found.truncate(MAX_FOUND);
    Recognised {
        found: found.into_iter().map(|(_, r)| r).collect(),
        looked_for: scan.looked_for,
        truncated,
    }
}

/// Replaces Slack's three HTML escapes.
fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('&') {
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
            .into()
    } else {
        text.into()
    }
}

/// Ordering of a recognition: strength of the match, then where in the text, then kind, then
/// snapshot order.
type Rank = (u8, usize, u8, u32);

/// A kind's place when several entities tie: the kinds people ask about most first.
fn kind_rank(kind: &str) -> u8 {
    const ORDER: [&str; 7] = [
        "component",
        "api",
        "resource",
        "system",
        "domain",
        "group",
        "template",
    ];
    ORDER
        .iter()
        .position(|k| k.eq_ignore_ascii_case(kind))
        .unwrap_or(ORDER.len()) as u8
}

struct Scan<'a> {
    snapshot: &'a Snapshot,
    index: &'a RecogniseIndex,
    found: HashMap<u32, (Rank, Recognition)>,
    looked_for: Vec<Clue>,
    listed: HashSet<Clue>,
    tokens: usize,
    /// Reused lower-case buffer for words.
    lower: String,
}

impl Scan<'_> {
    fn exhausted(&self) -> bool {
        self.tokens >= MAX_TOKENS
    }

    /// Counts one token and says whether the budget allows reading it.
    fn take_token(&mut self) -> bool {
        if self.exhausted() {
            return false;
        }
        self.tokens += 1;
        true
    }

    fn look(&mut self, clue: &Clue) {
        if self.looked_for.len() < MAX_LOOKED_FOR && self.listed.insert(clue.clone()) {
            self.looked_for.push(clue.clone());
        }
    }

    fn add(&mut self, entity: u32, clue: &Clue, matched: Matched, strength: u8) {
        let kind = kind_rank(&self.snapshot.node(entity).entity.entity_ref.kind);
        let rank = (strength, self.tokens, kind, entity);
        match self.found.get(&entity) {
            Some((old, _)) if *old <= rank => {}
            _ => {
                let r = Recognition {
                    entity,
                    because: clue.clone(),
                    matched,
                };
                self.found.insert(entity, (rank, r));
            }
        }
    }

    /// The inside of a `<…>`: a mention or special (skipped), a channel (its name read as
    /// prose), or a link with an optional label (the URL looked up, the label read as prose).
    fn markup(&mut self, markup: &str) {
        let (target, label) = markup.split_once('|').unwrap_or((markup, ""));
        if target.starts_with('@') || target.starts_with('!') {
            return;
        }
        if !target.starts_with('#') && !target.starts_with("mailto:") {
            self.url(&unescape(target));
        }
        self.prose(&unescape(label));
    }

    /// Plain text: URLs where it has them, then hostnames and words.
    fn prose(&mut self, text: &str) {
        let chunks = text
            .split(|c: char| c.is_whitespace() || "\"'`()[]{}<>,;|*~".contains(c) || !c.is_ascii());
        for chunk in chunks.filter(|c| !c.is_empty()) {
            if self.exhausted() {
                return;
            }
            match url_start(chunk) {
                Some(at) => {
                    self.words(&chunk[..at]);
                    let url = chunk[at..].trim_end_matches(['.', ',', ':', '!', '?']);
                    self.url(url);
                }
                None => self.words(chunk),
            }
        }
    }

    fn url(&mut self, raw: &str) {
        if !self.take_token() {
            return;
        }
        let Some(url) = normalise_url(raw) else {
            return;
        };
        let host = url.split('/').next().unwrap_or_default();
        let repo = github_like(host).then(|| prefix_with_segments(&url, 2));
        let clue = match repo {
            Some(repo) if repo.matches('/').count() == 2 => Clue::Repo(repo.to_owned()),
            _ => Clue::Link(url.clone()),
        };
        self.look(&clue);
        let index = self.index;
        let mut hit = false;
        if let Clue::Repo(repo) = &clue {
            let slug = &repo[host.len() + 1..];
            for &i in index.slugs.get(slug).map_or(&[][..], Vec::as_slice) {
                self.add(i, &clue, Matched::ProjectSlug, 0);
                hit = true;
            }
        }
        if let Some(located) = url_prefixes(&url)
            .filter(|p| p.contains('/'))
            .find_map(|p| index.located.get(p))
        {
            for &(i, how) in located {
                match how {
                    Located::Source => self.add(i, &clue, Matched::SourceLocation, 1),
                    Located::ManagedBy => self.add(i, &clue, Matched::ManagedByLocation, 3),
                }
            }
            hit = true;
        }
        if let Some(linked) = url_prefixes(&url).find_map(|p| index.links.get(p)) {
            // A link many entities share is known but identifies none of them.
            if linked.len() <= MAX_SHARED_LINK {
                for &i in linked {
                    self.add(i, &clue, Matched::Link, 2);
                }
            }
            hit = true;
        }
        if !hit {
            // Nothing links this URL: perhaps its host or a path segment names a service
            // (`checkout-api.prod.acme.internal`, `argocd…/applications/checkout-api-prod`).
            if !matches!(clue, Clue::Repo(_)) {
                self.hostname(host);
            }
            for segment in url.split('/').skip(1) {
                self.words(segment);
            }
        }
    }

    /// A chunk of text without a URL: split into hostnames and words.
    fn words(&mut self, chunk: &str) {
        let tokens = chunk
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .map(|t| t.trim_matches(['.', '-', '_']))
            .filter(|t| !t.is_empty());
        for token in tokens {
            if token.contains('.') {
                self.dotted(token);
            } else {
                self.word(token);
            }
        }
    }

    /// A token with dots: an entity name with dots, a hostname, or words joined by dots (a Java
    /// class, a file name, a version).
    fn dotted(&mut self, token: &str) {
        if !self.take_token() {
            return;
        }
        set_lower(&mut self.lower, token);
        let lower = std::mem::take(&mut self.lower);
        let named = self.exact(&lower, &Clue::Name(lower.clone()), 4);
        let is_host = token.bytes().all(|b| !b.is_ascii_uppercase()) && is_hostname(&lower);
        self.lower = lower;
        if named {
            return;
        }
        if is_host {
            let host = self.lower.clone();
            self.hostname(&host);
        } else {
            for label in token.split('.') {
                self.word(label);
            }
        }
    }

    /// A hostname: its whole name, else its first label, else a run within the first label.
    fn hostname(&mut self, host: &str) {
        let host = host.split(':').next().unwrap_or_default();
        if !is_hostname(host) {
            return;
        }
        let clue = Clue::Hostname(host.to_owned());
        self.look(&clue);
        if self.exact(host, &clue, 5) {
            return;
        }
        let first = host.split('.').next().unwrap_or_default();
        if eligible(first) && !self.exact(first, &clue, 5) {
            self.within(first, &clue);
        }
    }

    /// One word: an exact name, else (for a word with `-` or `_`) a name within it.
    fn word(&mut self, word: &str) {
        let word = word.trim_matches(['-', '_']);
        if word.is_empty() || !self.take_token() {
            return;
        }
        set_lower(&mut self.lower, word);
        if !eligible(&self.lower) {
            return;
        }
        let lower = std::mem::take(&mut self.lower);
        let shaped = lower.contains(['-', '_']);
        let clue = Clue::Name(lower.clone());
        if shaped {
            self.look(&clue);
        }
        if !self.exact(&lower, &clue, if shaped { 4 } else { 6 }) && shaped {
            self.within(&lower, &clue);
        }
        self.lower = lower;
    }

    /// Entities of an owned kind named exactly `name` (lower case), added at `strength`.
    fn exact(&mut self, name: &str, clue: &Clue, strength: u8) -> bool {
        let snapshot = self.snapshot;
        let mut hit = false;
        for i in owned_named(snapshot, name) {
            self.add(i, clue, Matched::Name, strength);
            hit = true;
        }
        hit
    }

    /// Entities named by the longest dash-delimited run of at least two parts inside `word`.
    fn within(&mut self, word: &str, clue: &Clue) {
        let snapshot = self.snapshot;
        if let Some(run) = longest_named_run(snapshot, word, 2) {
            for i in owned_named(snapshot, run) {
                self.add(i, clue, Matched::NameWithin, 7);
            }
        }
    }
}

/// Where a URL starts in a chunk of prose: at `scheme://`, at `git@`, or at a bare `github.com/`.
fn url_start(chunk: &str) -> Option<usize> {
    if let Some(at) = chunk.find("://") {
        let start = chunk[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |p| p + 1);
        return (start < at).then_some(start);
    }
    let lower_starts = |prefix: &str| {
        chunk
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    (lower_starts("git@") || lower_starts("github.com/")).then_some(0)
}

fn set_lower(buf: &mut String, text: &str) {
    buf.clear();
    buf.push_str(text);
    buf.make_ascii_lowercase();
}

/// `a.b[.c…]` of DNS labels whose last label is alphabetic (so not a version or an address).
fn is_hostname(name: &str) -> bool {
    let mut labels = name.split('.');
    let count = labels.clone().count();
    count >= 2
        && labels
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Whether a lower-case word may name an entity: not a stopword, not a number, and either shaped
/// like an identifier (a `-` or `_`) or at least four characters long.
fn eligible(word: &str) -> bool {
    !word.bytes().all(|b| b.is_ascii_digit())
        && (word.contains(['-', '_']) || word.len() >= 4)
        && STOPWORDS.binary_search(&word).is_err()
}

/// The entities of an owned kind named `name` (lower case), in snapshot order.
fn owned_named<'a>(snapshot: &'a Snapshot, name: &str) -> impl Iterator<Item = u32> + 'a {
    snapshot.named(name).iter().copied().filter(|&i| {
        let kind = &snapshot.node(i).entity.entity_ref.kind;
        OWNED_KINDS.iter().any(|k| k.eq_ignore_ascii_case(kind))
    })
}

/// The longest run of at least `min_parts` consecutive `-`/`_`-delimited parts of `word` (lower
/// case) that is the name of an entity of an owned kind; leftmost among equally long runs. A run
/// of one part must be [`eligible`] on its own.
fn longest_named_run<'w>(snapshot: &Snapshot, word: &'w str, min_parts: usize) -> Option<&'w str> {
    // Part i spans bounds[i]..bounds[i + 1] - 1 (the separator after it excluded).
    let mut bounds: Vec<usize> = std::iter::once(0)
        .chain(word.match_indices(['-', '_']).map(|(at, _)| at + 1))
        .collect();
    bounds.push(word.len() + 1);
    let parts = bounds.len() - 1;
    if parts > MAX_PARTS {
        return None;
    }
    for len in (min_parts.max(1)..=parts).rev() {
        for start in 0..=parts - len {
            let run = &word[bounds[start]..bounds[start + len] - 1];
            if run.is_empty() || (len == 1 && !eligible(run)) {
                continue;
            }
            if owned_named(snapshot, run).next().is_some() {
                return Some(run);
            }
        }
    }
    None
}

/// Words that never name an entity on their own, however the catalog is named: common English,
/// log and CI vocabulary, and usual hostname labels. Sorted, for binary search.
const STOPWORDS: &[&str] = &[
    "about",
    "after",
    "again",
    "alert",
    "alerts",
    "also",
    "amazonaws",
    "been",
    "before",
    "being",
    "build",
    "builds",
    "call",
    "calls",
    "cannot",
    "caused",
    "channel",
    "check",
    "checks",
    "code",
    "config",
    "could",
    "daily",
    "data",
    "debug",
    "deploy",
    "deploys",
    "does",
    "done",
    "down",
    "error",
    "errors",
    "event",
    "events",
    "exception",
    "failed",
    "failing",
    "fails",
    "failure",
    "false",
    "fatal",
    "file",
    "from",
    "have",
    "help",
    "here",
    "host",
    "http",
    "https",
    "incident",
    "info",
    "into",
    "issue",
    "java",
    "just",
    "line",
    "local",
    "localhost",
    "main",
    "master",
    "message",
    "more",
    "need",
    "null",
    "only",
    "please",
    "prod",
    "production",
    "request",
    "response",
    "retry",
    "running",
    "same",
    "service",
    "should",
    "since",
    "some",
    "staging",
    "still",
    "team",
    "test",
    "tests",
    "than",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "thread",
    "time",
    "timeout",
    "trace",
    "true",
    "user",
    "users",
    "very",
    "warn",
    "warning",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "will",
    "with",
    "without",
    "would",
    "yaml",
    "your",
];

/// What the person owns for `owner @person`: the entities owned by each group the user is a
/// member of (`spec.memberOf` / a group's `spec.members`), and those owned by the user directly
/// (`spec.owner: user:…`). Parent groups are not followed. Sorted by kind (components first) and
/// name, each once; empty when the user is not in the catalog.
pub fn owned_by_person(snapshot: &Snapshot, user: &EntityRef) -> Vec<u32> {
    let Some(me) = snapshot.get(user) else {
        return Vec::new();
    };
    let owners = std::iter::once(me).chain(snapshot.related_indices(me, RelationType::MemberOf));
    let mut owned: Vec<u32> = owners
        .flat_map(|o| snapshot.related_indices(o, RelationType::OwnerOf))
        .collect();
    let key = |i: &u32| {
        let r = &snapshot.node(*i).entity.entity_ref;
        (kind_rank(&r.kind), r.name.to_ascii_lowercase(), *i)
    };
    owned.sort_by_cached_key(key);
    owned.dedup();
    owned
}

/// The service a channel is named after, for `owner #channel`: the entity of an owned kind
/// (Component first, then API, Resource, System) whose name is the longest dash-delimited run of
/// the channel name (`checkout-api`, `inc-42-checkout-api`, `team-checkout-api-alerts` all give
/// `checkout-api`). A leading `#` is ignored; a one-part run must be four characters or more and
/// not a common word. `None` when no run names one.
pub fn service_from_channel_name(snapshot: &Snapshot, channel_name: &str) -> Option<u32> {
    let name = channel_name
        .trim()
        .trim_start_matches('#')
        .to_ascii_lowercase();
    let run = longest_named_run(snapshot, &name, 1)?;
    owned_named(snapshot, run)
        .min_by_key(|&i| (kind_rank(&snapshot.node(i).entity.entity_ref.kind), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_lower_case_and_unique() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            STOPWORDS
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase()))
        );
    }

    #[test]
    fn urls_normalise_to_host_and_path() {
        let cases = [
            (
                "https://github.com/Acme/Checkout/tree/main/",
                "github.com/acme/checkout/tree/main",
            ),
            (
                "git@github.com:acme/checkout.git",
                "github.com/acme/checkout",
            ),
            (
                "ssh://git@github.com/acme/checkout.git",
                "github.com/acme/checkout",
            ),
            (
                "url:https://www.example.com/d/x?orgId=1#panel",
                "example.com/d/x",
            ),
            ("github.com/acme/checkout", "github.com/acme/checkout"),
            ("http://host:8080/a//b/", "host:8080/a/b"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise_url(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(normalise_url("https:///nothing"), None);
    }

    #[test]
    fn location_roots_stop_at_the_repository() {
        let cases = [
            (
                "url:https://github.com/org/repo/tree/main/",
                Some("github.com/org/repo"),
            ),
            (
                "url:https://github.com/org/repo/blob/main/catalog-info.yaml",
                Some("github.com/org/repo"),
            ),
            (
                "url:https://git.example.com/group/sub/repo/-/blob/master/",
                Some("git.example.com/group/sub/repo"),
            ),
            ("file:../catalog-info.yaml", None),
            ("url:https://example.com/", None),
        ];
        for (raw, want) in cases {
            assert_eq!(location_root(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn hostnames_need_an_alphabetic_last_label() {
        assert!(is_hostname("checkout-api.prod.acme.internal"));
        assert!(!is_hostname("1.2.3"));
        assert!(!is_hostname("10.0.0.1"));
        assert!(!is_hostname("checkout"));
        assert!(!is_hostname("a..b"));
    }

    #[test]
    fn url_starts_are_found_inside_chunks() {
        assert_eq!(url_start("url=https://x.y/z"), Some(4));
        assert_eq!(url_start("git@github.com:a/b.git"), Some(0));
        assert_eq!(url_start("GitHub.com/a/b"), Some(0));
        assert_eq!(url_start("checkout-api"), None);
        assert_eq!(url_start("://x"), None);
    }
}
