//! Synthetic Backstage catalog for benchmarks and load tests.
//!
//! [`generate`] writes a made-up but plausible online-shop catalog of any
//! size: one department group with its teams, three users per group, one
//! domain, systems, APIs, resources and the requested number of components.
//! Every file holds at most [`MAX_DOCS_PER_FILE`] YAML documents, and an
//! `all.yaml` Location lists every other file, so a loader can be pointed
//! at that one entry file exactly as with a hand-written catalog.
//!
//! The output depends only on the requested component count: the random
//! choices come from a fixed-seed [`StdRng`], so two runs with the same
//! count write byte-identical files.
//!
//! Shape, for `n` components (`n` is raised to at least 1):
//!
//! | kind      | count                          | names                              |
//! |-----------|--------------------------------|------------------------------------|
//! | Group     | `ceil(n / 25)` teams + 1       | `payments-platform`, …, `engineering` |
//! | User      | 3 per group                    | `first.last`, `first.last7`        |
//! | Domain    | 1                              | `commerce`                         |
//! | System    | `ceil(n / 50)`                 | `payments`, `storefront`, …        |
//! | API       | `ceil(n / 10)`                 | `checkout-rest`, `<component>-grpc` |
//! | Resource  | 3 per system                   | `<system>-db`, `-queue`, `-assets` |
//! | Component | `n`                            | `checkout-api`, `fraud-scoring`, … |
//!
//! Component `checkout-api` (a production service owned by
//! `payments-platform` in system `payments`) is always the first component.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Most YAML documents (entities) written into one file; a kind with more
/// entities than this is split over `kind-0001.yaml`, `kind-0002.yaml`, ….
pub const MAX_DOCS_PER_FILE: usize = 1_000;

/// Components per team: each team owns a contiguous block of this many.
const COMPONENTS_PER_TEAM: usize = 25;
/// Components per system; always twice [`COMPONENTS_PER_TEAM`], so every
/// system is owned by exactly one or two teams.
const COMPONENTS_PER_SYSTEM: usize = 50;
/// Components per API: component `10 * j` provides API `j`.
const COMPONENTS_PER_API: usize = 10;
/// Users written for every group, the department included.
const USERS_PER_GROUP: usize = 3;
/// Seed of the random choices (lifecycles, tags, dependencies, …).
const SEED: u64 = 0x1D9_5EED;

const API_VERSION: &str = "backstage.io/v1alpha1";
const DEPARTMENT: &str = "engineering";
const DOMAIN: &str = "commerce";
const ORG: &str = "acme-shop";

/// Hand-picked first components (name, description), so that the
/// well-known entities of the demo catalog also exist in every synthetic one.
const FIXED_COMPONENTS: [(&str, &str); 3] = [
    (
        "checkout-api",
        "Turns a cart into a paid order, taking the card payment and running fraud checks on the way.",
    ),
    (
        "fraud-scoring",
        "Scores every payment attempt for fraud risk and blocks the riskiest ones.",
    ),
    (
        "payment-gateway",
        "Talks to the card acquirers and records every payment attempt.",
    ),
];

/// Name parts that [`title_case`] spells in their usual form, not just
/// with a capital first letter.
const SPECIAL_WORDS: [(&str, &str); 8] = [
    ("api", "API"),
    ("bff", "BFF"),
    ("grpc", "gRPC"),
    ("rest", "REST"),
    ("sdk", "SDK"),
    ("seo", "SEO"),
    ("sms", "SMS"),
    ("ui", "UI"),
];

/// First part of generated component names. Deliberately free of
/// `checkout`, `fraud` and `payment` so no name collides with
/// [`FIXED_COMPONENTS`].
const COMPONENT_AREAS: [&str; 40] = [
    "cart",
    "catalog",
    "pricing",
    "inventory",
    "search",
    "review",
    "loyalty",
    "promo",
    "tax",
    "shipping",
    "returns",
    "invoice",
    "ledger",
    "wallet",
    "giftcard",
    "notification",
    "email",
    "sms",
    "recommendation",
    "wishlist",
    "warehouse",
    "delivery",
    "courier",
    "label",
    "address",
    "profile",
    "session",
    "consent",
    "audit",
    "report",
    "media",
    "image",
    "content",
    "seo",
    "affiliate",
    "marketplace",
    "vendor",
    "subscription",
    "refund",
    "currency",
];

/// Second part of generated component names, with the component type the
/// word implies.
const COMPONENT_ROLES: [(&str, &str); 22] = [
    ("service", "service"),
    ("api", "service"),
    ("worker", "service"),
    ("sync", "service"),
    ("gateway", "service"),
    ("web", "website"),
    ("engine", "service"),
    ("store", "service"),
    ("indexer", "service"),
    ("scheduler", "service"),
    ("adapter", "service"),
    ("exporter", "service"),
    ("importer", "service"),
    ("processor", "service"),
    ("bff", "service"),
    ("cache", "service"),
    ("router", "service"),
    ("portal", "website"),
    ("ui", "website"),
    ("lib", "library"),
    ("sdk", "library"),
    ("client", "library"),
];

/// Names of systems after the first (`payments`).
const SYSTEM_NAMES: [&str; 16] = [
    "storefront",
    "fulfilment",
    "identity",
    "search",
    "marketing",
    "logistics",
    "finance",
    "loyalty",
    "marketplace",
    "customer-care",
    "analytics",
    "media",
    "notifications",
    "pricing",
    "inventory",
    "partner-hub",
];

/// The two team-name suffixes of a system, picked by system index, so that
/// system 0 (`payments`) yields team 0 `payments-platform`.
const TEAM_SUFFIXES: [(&str, &str); 3] =
    [("platform", "core"), ("web", "services"), ("data", "ops")];

const FIRST_NAMES: [&str; 24] = [
    "ada", "bruno", "chiara", "dmitri", "esme", "farid", "greta", "hugo", "ines", "jamal", "kaia",
    "leon", "maren", "nikhil", "olga", "pablo", "quinn", "rosa", "stefan", "tamar", "umar",
    "vesna", "wren", "yusuf",
];

const LAST_NAMES: [&str; 24] = [
    "abara",
    "bergstrom",
    "castell",
    "dunmore",
    "eklund",
    "fontaine",
    "gallo",
    "hartmann",
    "iwasaki",
    "jovanovic",
    "kessler",
    "lindgren",
    "moreno",
    "novak",
    "oduya",
    "petrov",
    "quist",
    "rahman",
    "sandoval",
    "takeda",
    "ulloa",
    "varga",
    "whitlock",
    "zeller",
];

const VERBS: [&str; 10] = [
    "Handles",
    "Computes",
    "Serves",
    "Stores",
    "Syncs",
    "Publishes",
    "Validates",
    "Schedules",
    "Aggregates",
    "Exposes",
];

const OBJECTS: [&str; 16] = [
    "customer carts",
    "price quotes",
    "stock levels",
    "shipping labels",
    "gift cards",
    "loyalty points",
    "tax rates",
    "product reviews",
    "delivery slots",
    "promotion codes",
    "search suggestions",
    "refund requests",
    "invoice documents",
    "warehouse transfers",
    "email receipts",
    "fraud signals",
];

const LANGUAGES: [&str; 7] = [
    "java",
    "go",
    "kotlin",
    "python",
    "typescript",
    "rust",
    "php",
];

const EXTRA_TAGS: [&str; 8] = [
    "postgres",
    "kafka",
    "redis",
    "grpc",
    "rest",
    "pci",
    "customer-facing",
    "batch",
];

const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

/// What [`generate`] wrote: the number of files and of entities per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenerateReport {
    /// YAML files written, `all.yaml` included.
    pub files: usize,
    /// Group entities: the teams plus their parent department.
    pub groups: usize,
    /// User entities, three per group.
    pub users: usize,
    /// System entities (the single Domain entity is not counted anywhere).
    pub systems: usize,
    /// API entities.
    pub apis: usize,
    /// Component entities; the requested count, but at least 1.
    pub components: usize,
    /// Resource entities, three per system.
    pub resources: usize,
}

/// Writes a synthetic Backstage catalog with `components` Components (at
/// least 1, since `checkout-api` is always present) into the directory
/// `out`, creating it and its parents if needed.
///
/// Files are named `groups-0001.yaml`, `users-0001.yaml`,
/// `systems-0001.yaml` (the Domain and the Systems), `apis-0001.yaml`,
/// `resources-0001.yaml` and `components-0001.yaml` onwards, each holding
/// at most [`MAX_DOCS_PER_FILE`] documents, plus `all.yaml`, a Location
/// whose `spec.targets` are `./<file>` for every other file. Existing files
/// of those names are overwritten; other files in `out` are left alone.
///
/// The result is deterministic for a given `components`. Roughly 1.2 KB is
/// written per component, so 100,000 components take about 120 MB.
///
/// # Errors
///
/// Any I/O error from creating the directory or creating, writing or
/// flushing a file; files written before the error are left in place.
pub fn generate(components: usize, out: &Path) -> io::Result<GenerateReport> {
    fs::create_dir_all(out)?;
    let plan = Plan::new(components);
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut files = Vec::new();

    let groups = write_groups(&plan, out, &mut files)?;
    let users = write_users(&plan, out, &mut files)?;
    write_systems(&plan, out, &mut files)?;
    write_apis(&plan, out, &mut files)?;
    let resources = write_resources(&plan, out, &mut files)?;
    write_components(&plan, &mut rng, out, &mut files)?;
    write_location(out, &files)?;

    Ok(GenerateReport {
        files: files.len() + 1,
        groups,
        users,
        systems: plan.systems,
        apis: plan.apis,
        components: plan.components,
        resources,
    })
}

/// Entity counts and the naming rules that tie the kinds together.
struct Plan {
    components: usize,
    teams: usize,
    systems: usize,
    apis: usize,
}

impl Plan {
    fn new(components: usize) -> Self {
        let components = components.max(1);
        Self {
            components,
            teams: components.div_ceil(COMPONENTS_PER_TEAM),
            systems: components.div_ceil(COMPONENTS_PER_SYSTEM),
            apis: components.div_ceil(COMPONENTS_PER_API),
        }
    }

    fn system_name(s: usize) -> String {
        if s == 0 {
            return "payments".to_owned();
        }
        let k = s - 1;
        let base = SYSTEM_NAMES[k % SYSTEM_NAMES.len()];
        match k / SYSTEM_NAMES.len() {
            0 => base.to_owned(),
            round => format!("{base}-{}", round + 1),
        }
    }

    fn team_name(t: usize) -> String {
        let s = t / 2;
        let (even, odd) = TEAM_SUFFIXES[s % TEAM_SUFFIXES.len()];
        let suffix = if t.is_multiple_of(2) { even } else { odd };
        format!("{}-{suffix}", Self::system_name(s))
    }

    fn team_of(component: usize) -> usize {
        component / COMPONENTS_PER_TEAM
    }

    fn system_of(component: usize) -> usize {
        component / COMPONENTS_PER_SYSTEM
    }

    /// Name and implied `spec.type` of component `i`.
    fn component(i: usize) -> (String, &'static str) {
        if let Some((name, _)) = FIXED_COMPONENTS.get(i) {
            return ((*name).to_owned(), "service");
        }
        let k = i - FIXED_COMPONENTS.len();
        let area = COMPONENT_AREAS[k % COMPONENT_AREAS.len()];
        let combos = COMPONENT_AREAS.len() * COMPONENT_ROLES.len();
        let (role, kind) = COMPONENT_ROLES[(k / COMPONENT_AREAS.len()) % COMPONENT_ROLES.len()];
        let name = match k / combos {
            0 => format!("{area}-{role}"),
            round => format!("{area}-{role}-{}", round + 1),
        };
        (name, kind)
    }

    fn component_name(i: usize) -> String {
        Self::component(i).0
    }

    /// Index of the component that provides API `j`.
    fn api_provider(j: usize) -> usize {
        j * COMPONENTS_PER_API
    }

    /// API `j`, if component `i` provides one.
    fn api_provided_by(&self, i: usize) -> Option<usize> {
        (i.is_multiple_of(COMPONENTS_PER_API) && i / COMPONENTS_PER_API < self.apis)
            .then_some(i / COMPONENTS_PER_API)
    }

    /// `spec.type` of API `j`: mostly OpenAPI, some gRPC and AsyncAPI.
    fn api_type(j: usize) -> &'static str {
        match j % 5 {
            3 => "grpc",
            4 => "asyncapi",
            _ => "openapi",
        }
    }

    fn api_name(j: usize) -> String {
        if j == 0 {
            return "checkout-rest".to_owned();
        }
        let suffix = match Self::api_type(j) {
            "grpc" => "grpc",
            "asyncapi" => "events",
            _ => "rest",
        };
        format!("{}-{suffix}", Self::component_name(Self::api_provider(j)))
    }

    fn user_name(u: usize) -> String {
        let first = FIRST_NAMES[u % FIRST_NAMES.len()];
        let last = LAST_NAMES[(u / FIRST_NAMES.len()) % LAST_NAMES.len()];
        match u / (FIRST_NAMES.len() * LAST_NAMES.len()) {
            0 => format!("{first}.{last}"),
            round => format!("{first}.{last}{}", round + 1),
        }
    }
}

/// `payments-platform` → `Payments Platform`; `ada.moreno` → `Ada Moreno`;
/// `checkout-api` → `Checkout API`; `cart-api-grpc` → `Cart API gRPC`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (n, word) in name.split(['-', '.']).enumerate() {
        if n > 0 {
            out.push(' ');
        }
        if let Some((_, spelled)) = SPECIAL_WORDS.iter().find(|(w, _)| *w == word) {
            out.push_str(spelled);
            continue;
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Writes the documents of one kind, opening `prefix-0001.yaml`,
/// `prefix-0002.yaml`, … as each fills up with [`MAX_DOCS_PER_FILE`].
struct ChunkedWriter<'a> {
    dir: &'a Path,
    prefix: &'static str,
    files: &'a mut Vec<String>,
    current: Option<BufWriter<File>>,
    docs_in_file: usize,
    files_opened: usize,
}

impl<'a> ChunkedWriter<'a> {
    fn new(dir: &'a Path, prefix: &'static str, files: &'a mut Vec<String>) -> Self {
        Self {
            dir,
            prefix,
            files,
            current: None,
            docs_in_file: 0,
            files_opened: 0,
        }
    }

    /// Starts a new document (`---`) and returns the writer to fill it.
    fn doc(&mut self) -> io::Result<&mut BufWriter<File>> {
        if self.current.is_none() || self.docs_in_file == MAX_DOCS_PER_FILE {
            self.finish_file()?;
            self.files_opened += 1;
            let file_name = format!("{}-{:04}.yaml", self.prefix, self.files_opened);
            let mut w =
                BufWriter::with_capacity(256 * 1024, File::create(self.dir.join(&file_name))?);
            writeln!(
                w,
                "# Synthetic catalog written by idp's generator; edits are overwritten."
            )?;
            self.files.push(file_name);
            self.current = Some(w);
            self.docs_in_file = 0;
        }
        self.docs_in_file += 1;
        match self.current.as_mut() {
            Some(w) => {
                w.write_all(b"---\n")?;
                Ok(w)
            }
            None => Err(io::Error::other("catalog generator: no open file")),
        }
    }

    fn finish_file(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.current.take() {
            w.flush()?;
        }
        Ok(())
    }
}

/// Writes `apiVersion`, `kind` and `metadata` with name, optional title
/// and description.
fn write_head(
    w: &mut impl Write,
    kind: &str,
    name: &str,
    title: Option<&str>,
    description: &str,
) -> io::Result<()> {
    writeln!(w, "apiVersion: {API_VERSION}\nkind: {kind}\nmetadata:")?;
    writeln!(w, "  name: {name}")?;
    if let Some(title) = title {
        writeln!(w, "  title: {title}")?;
    }
    writeln!(w, "  description: {description}")
}

fn write_groups(plan: &Plan, out: &Path, files: &mut Vec<String>) -> io::Result<usize> {
    let mut cw = ChunkedWriter::new(out, "groups", files);
    {
        let w = cw.doc()?;
        write_head(
            w,
            "Group",
            DEPARTMENT,
            Some("Engineering"),
            "All product and platform engineering teams.",
        )?;
        writeln!(w, "spec:\n  type: department\n  profile:")?;
        writeln!(
            w,
            "    displayName: Engineering\n    email: {DEPARTMENT}@example.com"
        )?;
        writeln!(w, "  children:")?;
        for t in 0..plan.teams {
            writeln!(w, "    - {}", Plan::team_name(t))?;
        }
    }
    for t in 0..plan.teams {
        let name = Plan::team_name(t);
        let system = Plan::system_name(t / 2);
        let w = cw.doc()?;
        write_head(
            w,
            "Group",
            &name,
            None,
            &format!("Builds and runs part of the {system} system."),
        )?;
        writeln!(w, "spec:\n  type: team\n  profile:")?;
        writeln!(
            w,
            "    displayName: {}\n    email: {name}@example.com",
            title_case(&name)
        )?;
        writeln!(w, "  parent: {DEPARTMENT}\n  children: []")?;
    }
    cw.finish_file()?;
    Ok(plan.teams + 1)
}

fn write_users(plan: &Plan, out: &Path, files: &mut Vec<String>) -> io::Result<usize> {
    let mut cw = ChunkedWriter::new(out, "users", files);
    let groups = plan.teams + 1;
    for g in 0..groups {
        let group = if g < plan.teams {
            Plan::team_name(g)
        } else {
            DEPARTMENT.to_owned()
        };
        for m in 0..USERS_PER_GROUP {
            let name = Plan::user_name(g * USERS_PER_GROUP + m);
            let w = cw.doc()?;
            writeln!(
                w,
                "apiVersion: {API_VERSION}\nkind: User\nmetadata:\n  name: {name}"
            )?;
            writeln!(
                w,
                "spec:\n  profile:\n    displayName: {}",
                title_case(&name)
            )?;
            writeln!(w, "    email: {name}@example.com\n  memberOf: [{group}]")?;
        }
    }
    cw.finish_file()?;
    Ok(groups * USERS_PER_GROUP)
}

fn write_systems(plan: &Plan, out: &Path, files: &mut Vec<String>) -> io::Result<()> {
    let mut cw = ChunkedWriter::new(out, "systems", files);
    {
        let w = cw.doc()?;
        write_head(
            w,
            "Domain",
            DOMAIN,
            Some("Commerce"),
            "Everything a shopper touches, from browsing to delivery.",
        )?;
        writeln!(w, "spec:\n  owner: {DEPARTMENT}")?;
    }
    for s in 0..plan.systems {
        let name = Plan::system_name(s);
        let w = cw.doc()?;
        let description = format!("The {name} part of the online shop.");
        write_head(w, "System", &name, Some(&title_case(&name)), &description)?;
        writeln!(
            w,
            "spec:\n  owner: {}\n  domain: {DOMAIN}",
            Plan::team_name(2 * s)
        )?;
    }
    cw.finish_file()
}

fn write_apis(plan: &Plan, out: &Path, files: &mut Vec<String>) -> io::Result<()> {
    let mut cw = ChunkedWriter::new(out, "apis", files);
    for j in 0..plan.apis {
        let name = Plan::api_name(j);
        let provider = Plan::api_provider(j);
        let kind = Plan::api_type(j);
        let title = title_case(&name);
        let w = cw.doc()?;
        let description = format!(
            "Interface of {} for other teams.",
            Plan::component_name(provider)
        );
        write_head(w, "API", &name, Some(&title), &description)?;
        writeln!(w, "spec:\n  type: {kind}\n  lifecycle: production")?;
        writeln!(w, "  owner: {}", Plan::team_name(Plan::team_of(provider)))?;
        writeln!(
            w,
            "  system: {}",
            Plan::system_name(Plan::system_of(provider))
        )?;
        writeln!(w, "  definition: |")?;
        match kind {
            "grpc" => {
                let service: String = title_case(&Plan::component_name(provider))
                    .split(' ')
                    .collect();
                writeln!(w, "    syntax = \"proto3\";\n    package acme.v1;")?;
                writeln!(
                    w,
                    "    service {service} {{\n      rpc Get(GetRequest) returns (GetReply);\n    }}"
                )?;
                writeln!(w, "    message GetRequest {{\n      string id = 1;\n    }}")?;
                writeln!(
                    w,
                    "    message GetReply {{\n      string id = 1;\n      string body = 2;\n    }}"
                )?;
            }
            "asyncapi" => {
                writeln!(
                    w,
                    "    asyncapi: 2.6.0\n    info:\n      title: {title}\n      version: 1.0.0"
                )?;
                writeln!(
                    w,
                    "    channels:\n      {name}.v1:\n        subscribe:\n          message:"
                )?;
                writeln!(
                    w,
                    "            payload:\n              type: object\n              properties:"
                )?;
                writeln!(w, "                id:\n                  type: string")?;
            }
            _ => {
                writeln!(
                    w,
                    "    openapi: 3.0.3\n    info:\n      title: {title}\n      version: 1.0.0"
                )?;
                writeln!(
                    w,
                    "    paths:\n      /items/{{id}}:\n        get:\n          parameters:"
                )?;
                writeln!(
                    w,
                    "            - name: id\n              in: path\n              required: true"
                )?;
                writeln!(w, "              schema:\n                type: string")?;
                writeln!(
                    w,
                    "          responses:\n            \"200\":\n              description: The item"
                )?;
            }
        }
    }
    cw.finish_file()
}

fn write_resources(plan: &Plan, out: &Path, files: &mut Vec<String>) -> io::Result<usize> {
    const KINDS: [(&str, &str, &str); 3] = [
        ("db", "database", "PostgreSQL cluster"),
        ("queue", "queue", "Kafka topic"),
        ("assets", "bucket", "Object storage bucket"),
    ];
    let mut cw = ChunkedWriter::new(out, "resources", files);
    for s in 0..plan.systems {
        let system = Plan::system_name(s);
        let owner = Plan::team_name(2 * s);
        for (suffix, kind, what) in KINDS {
            let w = cw.doc()?;
            let description = format!("{what} of the {system} system.");
            write_head(
                w,
                "Resource",
                &format!("{system}-{suffix}"),
                None,
                &description,
            )?;
            writeln!(
                w,
                "spec:\n  type: {kind}\n  owner: {owner}\n  system: {system}"
            )?;
        }
    }
    cw.finish_file()?;
    Ok(plan.systems * KINDS.len())
}

fn write_components(
    plan: &Plan,
    rng: &mut StdRng,
    out: &Path,
    files: &mut Vec<String>,
) -> io::Result<()> {
    let mut cw = ChunkedWriter::new(out, "components", files);
    let mut tags: Vec<&str> = Vec::with_capacity(4);
    for i in 0..plan.components {
        let (name, kind) = Plan::component(i);
        let team = Plan::team_name(Plan::team_of(i));
        let s = Plan::system_of(i);
        let system = Plan::system_name(s);
        let is_checkout = i == 0;

        let lifecycle = match rng.random_range(0..100) {
            _ if is_checkout => "production",
            0..75 => "production",
            75..92 => "experimental",
            _ => "deprecated",
        };
        tags.clear();
        tags.push(LANGUAGES[rng.random_range(0..LANGUAGES.len())]);
        for _ in 0..rng.random_range(1..=2) {
            let tag = EXTRA_TAGS[rng.random_range(0..EXTRA_TAGS.len())];
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let description = match FIXED_COMPONENTS.get(i) {
            Some((_, fixed)) => (*fixed).to_owned(),
            None => format!(
                "{} {} for the {system} system. Runs in {}.",
                VERBS[rng.random_range(0..VERBS.len())],
                OBJECTS[rng.random_range(0..OBJECTS.len())],
                REGIONS[rng.random_range(0..REGIONS.len())],
            ),
        };
        let title = (is_checkout || rng.random_bool(0.3)).then(|| title_case(&name));

        let w = cw.doc()?;
        write_head(w, "Component", &name, title.as_deref(), &description)?;
        writeln!(w, "  tags: [{}]", tags.join(", "))?;
        writeln!(w, "  links:")?;
        writeln!(
            w,
            "    - url: https://runbooks.example.com/{name}\n      title: Runbook\n      icon: docs"
        )?;
        writeln!(
            w,
            "    - url: https://grafana.example.com/d/{name}\n      title: Dashboard (Grafana)\n      icon: dashboard"
        )?;
        writeln!(
            w,
            "    - url: https://{ORG}.pagerduty.com/schedules/{team}\n      title: On-call\n      icon: warning"
        )?;
        writeln!(w, "  annotations:")?;
        writeln!(w, "    github.com/project-slug: {ORG}/{name}")?;
        writeln!(w, "    backstage.io/techdocs-ref: dir:.")?;
        if rng.random_bool(0.5) {
            writeln!(
                w,
                "    backstage.io/source-location: url:https://github.com/{ORG}/{name}"
            )?;
        }
        // Libraries are neither paged for nor deployed.
        if kind != "library" {
            w.write_all(b"    pagerduty.com/service-id: P")?;
            for _ in 0..6 {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.random_range(0..36)];
                w.write_all(&[c])?;
            }
            writeln!(w, "\n    argocd/app-name: {name}-prod")?;
        }
        writeln!(
            w,
            "spec:\n  type: {kind}\n  lifecycle: {lifecycle}\n  owner: {team}\n  system: {system}"
        )?;

        let provided = plan.api_provided_by(i);
        if let Some(j) = provided {
            writeln!(w, "  providesApis:\n    - {}", Plan::api_name(j))?;
        }
        let consumed = if plan.apis > 1 {
            rng.random_range(0..=2)
        } else {
            0
        };
        let mut wrote_header = false;
        let mut last = None;
        for _ in 0..consumed {
            let j = rng.random_range(0..plan.apis);
            if Some(j) == provided || Some(j) == last {
                continue;
            }
            last = Some(j);
            if !wrote_header {
                writeln!(w, "  consumesApis:")?;
                wrote_header = true;
            }
            writeln!(w, "    - {}", Plan::api_name(j))?;
        }

        // Dependencies stay inside the component's own system.
        let block_start = s * COMPONENTS_PER_SYSTEM;
        let block_end = (block_start + COMPONENTS_PER_SYSTEM).min(plan.components);
        let needs_db = is_checkout || (kind == "service" && rng.random_bool(0.6));
        let peer = if is_checkout {
            (plan.components > 1).then_some(1)
        } else if block_end - block_start > 1 && rng.random_bool(0.5) {
            let p = rng.random_range(block_start..block_end - 1);
            Some(if p >= i { p + 1 } else { p })
        } else {
            None
        };
        if needs_db || peer.is_some() {
            writeln!(w, "  dependsOn:")?;
            if needs_db {
                writeln!(w, "    - resource:{system}-db")?;
            }
            if let Some(p) = peer {
                writeln!(w, "    - component:{}", Plan::component_name(p))?;
            }
        }
    }
    cw.finish_file()
}

fn write_location(out: &Path, files: &[String]) -> io::Result<()> {
    let mut w = BufWriter::new(File::create(out.join("all.yaml"))?);
    writeln!(
        w,
        "# Entry point of the synthetic catalog: lists every other file."
    )?;
    writeln!(
        w,
        "apiVersion: {API_VERSION}\nkind: Location\nmetadata:\n  name: synthetic-catalog"
    )?;
    writeln!(
        w,
        "  description: Generated catalog for benchmarks.\nspec:\n  targets:"
    )?;
    for file in files {
        writeln!(w, "    - ./{file}")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_small_catalog_with_checkout_api() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let report = generate(50, dir.path())?;

        // groups, users, systems, apis, resources, components + all.yaml
        assert_eq!(report.files, 7);
        assert_eq!(fs::read_dir(dir.path())?.count(), report.files);
        assert_eq!(report.components, 50);
        assert_eq!(report.groups, 3);
        assert_eq!(report.users, 9);

        let components = fs::read_to_string(dir.path().join("components-0001.yaml"))?;
        assert!(components.contains("  name: checkout-api\n"));
        assert_eq!(components.matches("kind: Component").count(), 50);
        let groups = fs::read_to_string(dir.path().join("groups-0001.yaml"))?;
        assert!(groups.contains("  name: payments-platform\n"));
        let all = fs::read_to_string(dir.path().join("all.yaml"))?;
        assert!(all.contains("- ./components-0001.yaml"));
        Ok(())
    }
}
