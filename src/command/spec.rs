//! The command registry, read from the declarative files in `commands/` (one TOML file per
//! subcommand), which are compiled into the binary. Help text, the parser and the `/idp` entry of
//! `manifest.yml` all come from these files; tests keep them in agreement.

use std::sync::LazyLock;

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentSpec {
    /// The argument's name, as shown in `usage`.
    pub name: String,
    /// Whether the command needs it.
    #[serde(default)]
    pub required: bool,
    /// Whether it takes the rest of the text (several words).
    #[serde(default)]
    pub rest: bool,
    /// One line of help.
    pub help: String,
}

/// One subcommand of `/idp`, as declared in `commands/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The subcommand, e.g. `owner`.
    pub name: String,
    /// Other names that reach it, e.g. `info` for `service`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line saying what it does.
    pub summary: String,
    /// The usage line, without `/idp`.
    pub usage: String,
    /// The authorization action it needs (`catalog.read`), or `none`.
    pub permission: String,
    /// Its arguments, in order.
    #[serde(default)]
    pub arguments: Vec<ArgumentSpec>,
    /// Example invocations, without `/idp`.
    #[serde(default)]
    pub examples: Vec<String>,
}

/// The files of `commands/`, compiled in. The order is the order `help` lists them in.
pub const COMMAND_FILES: &[(&str, &str)] = &[
    ("owner.toml", include_str!("../../commands/owner.toml")),
    ("service.toml", include_str!("../../commands/service.toml")),
    ("deploys.toml", include_str!("../../commands/deploys.toml")),
    ("search.toml", include_str!("../../commands/search.toml")),
    ("team.toml", include_str!("../../commands/team.toml")),
    ("oncall.toml", include_str!("../../commands/oncall.toml")),
    ("whoami.toml", include_str!("../../commands/whoami.toml")),
    ("can.toml", include_str!("../../commands/can.toml")),
    ("audit.toml", include_str!("../../commands/audit.toml")),
    (
        "templates.toml",
        include_str!("../../commands/templates.toml"),
    ),
    (
        "new-service.toml",
        include_str!("../../commands/new-service.toml"),
    ),
    (
        "rollback.toml",
        include_str!("../../commands/rollback.toml"),
    ),
    ("digest.toml", include_str!("../../commands/digest.toml")),
    (
        "scorecard.toml",
        include_str!("../../commands/scorecard.toml"),
    ),
    ("help.toml", include_str!("../../commands/help.toml")),
];

/// Why a command file is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not valid TOML or not the expected shape.
    #[error("{file}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// The TOML error.
        reason: String,
    },
    /// The file name does not match the `name` inside it.
    #[error("{file}: declares `name = \"{name}\"`; the file must be called {name}.toml")]
    NameMismatch {
        /// The file.
        file: String,
        /// The declared name.
        name: String,
    },
    /// Two commands claim the same name or alias.
    #[error("{file}: `{word}` is already a name or alias of `{other}`")]
    Duplicate {
        /// The file.
        file: String,
        /// The clashing word.
        word: String,
        /// The command that has it.
        other: String,
    },
    /// The usage line does not start with the command name.
    #[error("{file}: usage `{usage}` must start with the command name")]
    BadUsage {
        /// The file.
        file: String,
        /// The usage line.
        usage: String,
    },
}

/// Reads and checks a set of command files `(file name, contents)`.
///
/// # Errors
/// Every [`SpecError`] found (not just the first).
pub fn load_specs(files: &[(&str, &str)]) -> Result<Vec<CommandSpec>, Vec<SpecError>> {
    let mut specs: Vec<CommandSpec> = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in files {
        let spec: CommandSpec = match toml::from_str(text) {
            Ok(spec) => spec,
            Err(e) => {
                errors.push(SpecError::Unreadable {
                    file: (*file).to_owned(),
                    reason: e.message().to_owned(),
                });
                continue;
            }
        };
        if file.trim_end_matches(".toml") != spec.name {
            errors.push(SpecError::NameMismatch {
                file: (*file).to_owned(),
                name: spec.name.clone(),
            });
        }
        if spec.usage.split_whitespace().next() != Some(spec.name.as_str()) {
            errors.push(SpecError::BadUsage {
                file: (*file).to_owned(),
                usage: spec.usage.clone(),
            });
        }
        for word in std::iter::once(&spec.name).chain(&spec.aliases) {
            if let Some(other) = specs
                .iter()
                .find(|s| s.name == *word || s.aliases.contains(word))
            {
                errors.push(SpecError::Duplicate {
                    file: (*file).to_owned(),
                    word: word.clone(),
                    other: other.name.clone(),
                });
            }
        }
        specs.push(spec);
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

/// The compiled-in registry. The files are checked by a test, so a broken file fails the build's
/// tests rather than the running bot; if one still slips through, it is left out, never a panic.
pub static REGISTRY: LazyLock<Vec<CommandSpec>> = LazyLock::new(|| {
    load_specs(COMMAND_FILES).unwrap_or_else(|_| {
        COMMAND_FILES
            .iter()
            .filter_map(|(_, text)| toml::from_str(text).ok())
            .collect()
    })
});

/// The spec whose name or alias is `word` (case-insensitive).
pub fn find(word: &str) -> Option<&'static CommandSpec> {
    REGISTRY.iter().find(|s| {
        s.name.eq_ignore_ascii_case(word) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(word))
    })
}

/// The spec of a command by its canonical name.
pub fn by_name(name: &str) -> Option<&'static CommandSpec> {
    REGISTRY.iter().find(|s| s.name == name)
}
