//! `help [command]`: the command list, or one command's usage. Needs no permission.

use super::{Handled, Outcome};
use crate::authz::Action;
use crate::command::spec;

/// Answers `help`: the list, one command's usage, or close names for an unknown topic.
pub fn handle(topic: Option<&str>) -> Handled {
    let outcome = match topic {
        None => Outcome::Help(None),
        Some(topic) => match spec::find(topic) {
            Some(s) => Outcome::Help(Some(s)),
            None => Outcome::HelpUnknown {
                topic: topic.to_owned(),
                suggestions: crate::command::suggest_command(topic),
            },
        },
    };
    Handled::plain(outcome, Action::Public)
}
