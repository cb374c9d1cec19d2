//! Authorization: the one place that decides whether a caller may perform an action. Every entry
//! point (Slack, shell, API) asks here before a handler runs. Deny by default: an action the policy
//! does not name is refused.
//!
//! This first policy knows one readable action, `catalog.read`, open to every caller including
//! guests (people with no catalog User), because the catalog is the company's shared map. Roles,
//! on-call conditions and approvals extend [`Policy`] without changing its callers.

use crate::catalog::EntityRef;

/// An action a command needs, as named in `commands/*.toml` (`permission = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read catalog entities (`catalog.read`).
    CatalogRead,
    /// Needs no permission (`none`): help.
    Public,
}

impl Action {
    /// Reads an action name from a command file.
    ///
    /// # Errors
    /// The unknown name, so `idp check` can report it.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "catalog.read" => Ok(Self::CatalogRead),
            "none" => Ok(Self::Public),
            other => Err(format!(
                "unknown permission `{other}` (known: catalog.read, none)"
            )),
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A Slack slash command or interaction.
    Slack {
        /// Workspace id (`T…`), or the enterprise id for org-wide installs.
        team_id: String,
        /// User id (`U…` or, on Enterprise Grid, `W…`).
        user_id: String,
        /// Channel id where the command was typed.
        channel_id: String,
    },
    /// The local shell on the operator's machine.
    Shell,
}

/// Who is asking: where from, and the catalog User they map to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Where the request came from.
    pub origin: Origin,
    /// The catalog User, or `None` for a guest.
    pub user: Option<EntityRef>,
}

impl Caller {
    /// A caller with no catalog identity.
    pub fn guest(origin: Origin) -> Self {
        Self { origin, user: None }
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, with a reason fit for the user.
    Deny(String),
}

/// The authorization policy. Today: which actions are open to everyone.
#[derive(Debug, Clone)]
pub struct Policy {
    open_actions: Vec<Action>,
}

impl Default for Policy {
    /// Reading the catalog and help are open to everyone; everything else is denied.
    fn default() -> Self {
        Self {
            open_actions: vec![Action::CatalogRead, Action::Public],
        }
    }
}

impl Policy {
    /// A policy that allows nothing (useful to prove deny-by-default).
    pub fn deny_all() -> Self {
        Self {
            open_actions: Vec::new(),
        }
    }

    /// Decides whether `caller` may perform `action`.
    pub fn decide(&self, caller: &Caller, action: Action) -> Decision {
        if self.open_actions.contains(&action) {
            return Decision::Allow;
        }
        let who = caller
            .user
            .as_ref()
            .map_or_else(|| "guests".to_owned(), EntityRef::short);
        Decision::Deny(format!("the policy does not allow {who} to do this"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_actions_are_denied_and_reads_are_open() {
        let guest = Caller::guest(Origin::Shell);
        assert_eq!(
            Policy::default().decide(&guest, Action::CatalogRead),
            Decision::Allow
        );
        assert!(matches!(
            Policy::deny_all().decide(&guest, Action::CatalogRead),
            Decision::Deny(_)
        ));
        assert!(Action::parse("rollback").is_err());
    }
}
