//! Environment names as people type them: `prod` and `production` are one environment, and so
//! are `stg`, `stage` and `staging`. Deploy events keep the name their sender used; a request
//! naming an environment is matched against the names the history actually holds.

/// Each canonical environment and the other names it goes by (all lower-case).
const ALIASES: &[(&str, &[&str])] = &[
    ("production", &["prod", "prd", "live"]),
    ("staging", &["stage", "stg"]),
    ("development", &["dev", "develop"]),
    ("qa", &["quality-assurance"]),
    ("test", &["testing", "tst"]),
    ("uat", &["user-acceptance"]),
    ("sandbox", &["sbx"]),
];

/// The canonical name of an environment: `prod` → `production`, `stg` → `staging`; a name
/// outside the table comes back lower-cased and trimmed.
pub fn canonical(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(canon, aliases)| *canon == name || aliases.contains(&name.as_str()))
        .map_or(name, |(canon, _)| (*canon).to_owned())
}

/// Whether `name` is a known environment name or alias (`prod`, `staging`, `dev`…).
pub fn is_known(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    ALIASES
        .iter()
        .any(|(canon, aliases)| *canon == name || aliases.contains(&name.as_str()))
}

/// Whether two names stand for the same environment (`prod` and `Production` do).
pub fn same(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

/// The name to look `asked` up under, given the environment names a service's history uses:
/// the exact name when the history has it, else the history's name for the same environment
/// (`prod` finds `production` and the other way round), else `asked` lower-cased.
pub fn in_history<'a>(asked: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let lowered = asked.trim().to_ascii_lowercase();
    let known: Vec<&str> = known.into_iter().collect();
    if let Some(exact) = known.iter().find(|k| k.eq_ignore_ascii_case(&lowered)) {
        return (*exact).to_owned();
    }
    known
        .iter()
        .find(|k| same(k, &lowered))
        .map_or(lowered, |k| (*k).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_names_its_canonical_environment() {
        for (asked, want) in [
            ("prod", "production"),
            ("PRD", "production"),
            ("production", "production"),
            ("live", "production"),
            ("stg", "staging"),
            ("stage", "staging"),
            ("Staging", "staging"),
            ("dev", "development"),
            ("development", "development"),
            ("qa", "qa"),
            ("testing", "test"),
            (" eu-west ", "eu-west"),
        ] {
            assert_eq!(canonical(asked), want, "{asked}");
        }
    }

    #[test]
    fn a_name_is_looked_up_as_the_history_spells_it() {
        assert_eq!(in_history("prod", ["staging", "production"]), "production");
        assert_eq!(in_history("production", ["prod", "stg"]), "prod");
        assert_eq!(in_history("stage", ["prod", "stg"]), "stg");
        assert_eq!(in_history("Dev", ["development"]), "development");
    }

    #[test]
    fn the_exact_name_wins_over_an_alias_when_the_history_has_both() {
        assert_eq!(in_history("prod", ["production", "prod"]), "prod");
        assert_eq!(
            in_history("PRODUCTION", ["production", "prod"]),
            "production"
        );
    }

    #[test]
    fn a_name_the_history_lacks_is_kept_lower_cased() {
        assert_eq!(in_history("Prod", Vec::<&str>::new()), "prod");
        assert_eq!(in_history("eu-west", ["production"]), "eu-west");
    }

    #[test]
    fn different_environments_are_not_the_same() {
        assert!(same("prod", "Production"));
        assert!(!same("prod", "staging"));
        assert!(!same("qa", "test"));
    }
}
