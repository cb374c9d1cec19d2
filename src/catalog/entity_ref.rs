//! Entity references, `[kind:][namespace/]name`, as the Backstage descriptor format defines them
//! (<https://backstage.io/docs/features/software-catalog/references>).

use std::fmt;

/// The namespace an entity lives in when its descriptor names none (Backstage's `default`).
pub const DEFAULT_NAMESPACE: &str = "default";

/// A fully qualified reference to a catalog entity: kind, namespace and name, each kept as written
/// (for display) and compared case-insensitively through [`EntityRef::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct EntityRef {
    /// The entity kind as written, e.g. `Component`.
    pub kind: String,
    /// The namespace as written, e.g. `default`.
    pub namespace: String,
    /// The `metadata.name`, e.g. `checkout-api`.
    pub name: String,
}

/// Why a string could not be read as an entity ref.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The string was empty or only whitespace.
    #[error("the entity ref is empty")]
    Empty,
    /// The string had no kind and the context gave no default kind.
    #[error("`{0}` names no kind and none can be assumed here")]
    MissingKind(String),
    /// One of the parts was empty, e.g. `component:` or `/name`.
    #[error("`{0}` has an empty kind, namespace or name")]
    EmptyPart(String),
}

impl EntityRef {
    /// Builds a ref from its three parts.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `[kind:][namespace/]name`, filling a missing kind with `default_kind` and a missing
    /// namespace with `default_namespace`, as Backstage does for relation fields (for example
    /// `spec.owner` defaults to kind `Group` and to the referring entity's namespace).
    ///
    /// # Errors
    /// [`RefError`] when the text is empty, a part is empty, or no kind is given or assumed.
    pub fn parse(
        text: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RefError::Empty);
        }
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (Some(kind), rest),
            None => (None, text),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, rest),
        };
        if kind.is_some_and(str::is_empty)
            || namespace.is_some_and(str::is_empty)
            || name.is_empty()
        {
            return Err(RefError::EmptyPart(text.to_owned()));
        }
        let kind = kind
            .or(default_kind)
            .ok_or_else(|| RefError::MissingKind(text.to_owned()))?;
        Ok(Self::new(
            kind,
            namespace.unwrap_or(default_namespace),
            name,
        ))
    }

    /// The lower-cased `kind:namespace/name` used as the identity of an entity everywhere
    /// (store primary key, snapshot index): refs are compared case-insensitively.
    pub fn key(&self) -> String {
        let mut key =
            String::with_capacity(self.kind.len() + self.namespace.len() + self.name.len() + 2);
        self.write_key(&mut key);
        key
    }

    /// Writes [`Self::key`] into `out` (cleared first), so a loop can reuse one buffer.
    pub fn write_key(&self, out: &mut String) {
        out.clear();
        for (part, sep) in [
            (&self.kind, Some(':')),
            (&self.namespace, Some('/')),
            (&self.name, None),
        ] {
            out.extend(part.chars().map(|c| c.to_ascii_lowercase()));
            if let Some(sep) = sep {
                out.push(sep);
            }
        }
    }

    /// Whether two refs name the same entity (case-insensitive, no allocation).
    pub fn same_as(&self, other: &EntityRef) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.namespace.eq_ignore_ascii_case(&other.namespace)
            && self.kind.eq_ignore_ascii_case(&other.kind)
    }

    /// The ref as people write it: the namespace is left out when it is `default`
    /// (`component:checkout-api`, `group:payments/platform`).
    pub fn short(&self) -> String {
        if self.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE) {
            format!("{}:{}", self.kind.to_ascii_lowercase(), self.name)
        } else {
            format!(
                "{}:{}/{}",
                self.kind.to_ascii_lowercase(),
                self.namespace,
                self.name
            )
        }
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.kind.to_ascii_lowercase(),
            self.namespace,
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_kind_and_namespace() {
        let r = EntityRef::parse("payments-platform", Some("Group"), "shop").expect("valid");
        assert_eq!(r.key(), "group:shop/payments-platform");
        let r = EntityRef::parse("user:default/Jane.Doe", Some("Group"), "shop").expect("valid");
        assert_eq!(r.key(), "user:default/jane.doe");
        assert_eq!(r.short(), "user:Jane.Doe");
    }

    #[test]
    fn empty_parts_and_missing_kind_are_errors() {
        assert_eq!(
            EntityRef::parse("  ", None, "default"),
            Err(RefError::Empty)
        );
        assert!(matches!(
            EntityRef::parse("component:", None, "default"),
            Err(RefError::EmptyPart(_))
        ));
        assert!(matches!(
            EntityRef::parse("x", None, "default"),
            Err(RefError::MissingKind(_))
        ));
    }
}
