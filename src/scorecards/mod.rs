//! Scorecards: named checks over catalog entities, a weighted score and levels, evaluated when
//! the catalog or the deploy history changes, with a stored history so digests can say what
//! changed. No Slack types here.
//!
//! - [`parse`]: the scorecards file (named by `[scorecards] file` in `idp.toml`) → [`Scorecards`],
//!   with file and line for every problem;
//! - [`definition`]: the compiled scorecards, checks, rules, levels and fix hints;
//! - [`evaluate`]: a pure function of the snapshot and [`Facts`] → [`ScorecardResults`];
//! - [`scorer`]: [`Scorer`], which re-evaluates on change, records to the store
//!   (`Store::record_evaluation`, `Store::changes_since`) and keeps the latest results.
//!
//! # The file
//!
//! ```yaml
//! scorecards:
//!   - id: production-readiness          # unique; letters, digits, - _ .
//!     title: Production readiness
//!     description: What every service in production needs.   # optional
//!     applies_to:                       # optional filters, each a value or a list (any of)
//!       kind: Component
//!       type: [service, website]
//!       lifecycle: production
//!       # namespace, system (by name), tags (has at least one)
//!     checks:
//!       - id: runbook                   # unique in the scorecard
//!         title: Runbook linked
//!         weight: 2                     # a positive number
//!         link: { type: runbook }       # exactly one rule, see below
//!         fix:                          # optional: text, plus a url or a template
//!           text: Add a link of type `runbook` to metadata.links.
//!           url: https://docs.example.com/runbooks
//!           # template: backend-service   (a Template entity ref: the golden path to run)
//!     levels:                           # optional, lowest first; cumulative
//!       - name: bronze
//!         checks: [runbook]
//! ```
//!
//! Rules (one per check):
//!
//! | rule | passes when |
//! | --- | --- |
//! | `annotation: {key: K}` | annotation `K` is present and not blank |
//! | `annotation: {key: K, equals: V}` | its value is `V` (ASCII case and surrounding blanks ignored) |
//! | `annotation: {key: K, matches: RE}` | `RE` (Rust regex) matches somewhere in its value |
//! | `label: {key, equals \| matches}` | the same for `metadata.labels` |
//! | `tag: T` | the entity carries tag `T` (case-insensitive) |
//! | `link: {title: T, type: Y}` | a link has that title and/or type (case-insensitive) |
//! | `field: {path: P, equals \| matches}` | field `P` is set / equal / matching: `kind`, `metadata.name`, `metadata.namespace`, `metadata.title`, `metadata.description`, `metadata.annotations.<key>`, `metadata.labels.<key>`, `spec.type`, `spec.lifecycle`, `spec.owner`, `spec.system`, `spec.domain` (refs compare by `name` or `namespace/name`) |
//! | `relation: owner \| system \| domain` | that relation exists and names a Group / System / Domain of the catalog |
//! | `relation: provides_api \| consumes_api \| depends_on` | at least one, and every one is in the catalog |
//! | `on_call: resolvable` | a `pagerduty.com/service-id` annotation, or a rotation in `idp.toml` for the owner (no network call) |
//! | `deployed_within: {days: N, environment: E}` | a successful deploy (to `E`, or anywhere) in the last `N` days |
//! | `all_of: [rules]` / `any_of: [rules]` | every / at least one part passes (parts take a rule and an optional `title`) |
//!
//! Score and level are defined in [`evaluate`].
//!
//! - [`report`]: what `/idp scorecard` and the digest show, from the latest results;
//! - [`history`]: [`ScoreHistory`], the stored history a digest reads (what changed since a time);
//! - [`source`]: [`source::ScorerDigests`], the scheduler's digest source.
//!
//! Digests:
//!
//! - [`schedule`]: when a digest is due (natural schedules or cron, time zones, daylight saving).
//! - [`subscription`]: a channel's subscription to a group's digest, and its posts per period.
//! - [`scheduler`]: the task that posts each due period exactly once across replicas.

pub mod definition;
pub mod evaluate;
pub mod history;
pub mod parse;
pub mod report;
pub mod schedule;
pub mod scheduler;
pub mod scorer;
pub mod source;
pub mod subscription;

pub use definition::{
    AppliesTo, Check, DefinitionError, DefinitionErrors, Fix, FixLink, Level, Rule, Scorecard,
    Scorecards, ValueTest,
};
pub use evaluate::{
    CheckOutcome, EntityResult, EntityScore, Facts, ScorecardResults, evaluate, evaluate_all,
};
pub use history::ScoreHistory;
pub use parse::{from_yaml, load};
pub use scorer::{Latest, Scorer, ScorerError, ScorerOptions};
