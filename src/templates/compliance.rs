//! Compliance built into the golden path: `[compliance]` in `idp.toml` pins some inputs and maps
//! parameter values to the controls and labels the new service must carry.
//!
//! ```toml
//! [compliance]
//! fixed = { costCenter = "cc-1234" }   # always this value; the form shows it, nobody edits it
//!
//! [[compliance.rules]]
//! parameter = "dataClassification"
//! equals = "pii"                        # or any_of = ["pii", "pci"]
//! controls = ["encrypt_at_rest", "private_network_only", "access_logging", "secrets_manager"]
//! labels = { "data-classification" = "pii" }
//! ```
//!
//! Label keys follow Kubernetes' label syntax
//! (<https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set>),
//! so they can be applied to the workloads as they are.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::Values;

/// `[compliance]` in `idp.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Non-negotiable inputs, by parameter name: a template field of that name always takes this
    /// value and the form shows it without an input.
    #[serde(default)]
    pub fixed: BTreeMap<String, Value>,
    /// Rules, applied in order (a later rule's label wins over an earlier one's).
    #[serde(default)]
    pub rules: Vec<ComplianceRule>,
}

/// `[[compliance.rules]]`: when a parameter has a value, the new service needs these controls
/// and labels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceRule {
    /// The parameter name (`dataClassification`).
    pub parameter: String,
    /// The value that triggers the rule.
    #[serde(default)]
    pub equals: Option<Value>,
    /// Values any of which triggers the rule (instead of `equals`).
    #[serde(default)]
    pub any_of: Vec<Value>,
    /// Controls required (`encrypt_at_rest`…).
    #[serde(default)]
    pub controls: Vec<String>,
    /// Labels required, key → value.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What the compliance rules require of one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controls {
    /// Required controls, sorted, each once.
    pub controls: Vec<String>,
    /// Required labels.
    pub labels: BTreeMap<String, String>,
}

/// A Kubernetes label name: 1–63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
static LABEL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$").expect("static regex")
});
/// A DNS subdomain (a label key's optional prefix), at most 253 characters.
static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("static regex")
});

/// Whether `key` is a valid Kubernetes label key: `[prefix/]name`.
pub fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253 && DNS_SUBDOMAIN.is_match(prefix) && LABEL_NAME.is_match(name)
        }
        None => LABEL_NAME.is_match(key),
    }
}

/// Whether `value` is a valid Kubernetes label value (empty, or a label name).
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || LABEL_NAME.is_match(value)
}

/// Whether a submitted value equals an expected one: the same JSON, the same text (`"3"` and
/// `3`), or, for a list, any of its items.
fn matches(actual: &Value, expected: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match actual {
        Value::Array(items) => items.iter().any(|i| matches(i, expected)),
        _ => actual == expected || (text(actual).is_some() && text(actual) == text(expected)),
    }
}

impl ComplianceRule {
    /// Whether the rule applies to these values.
    pub fn applies(&self, values: &Values) -> bool {
        let Some(actual) = values.get(&self.parameter) else {
            return false;
        };
        self.equals
            .iter()
            .chain(&self.any_of)
            .any(|e| matches(actual, e))
    }
}

impl ComplianceConfig {
    /// The controls and labels the rules require for these values.
    pub fn evaluate(&self, values: &Values) -> Controls {
        let mut out = Controls::default();
        for rule in self.rules.iter().filter(|r| r.applies(values)) {
            out.controls.extend(rule.controls.iter().cloned());
            out.labels
                .extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out.controls.sort();
        out.controls.dedup();
        out
    }

    /// Problems with the section, one line each naming the rule (`compliance.rules[2]`, 1-based)
    /// or the key: a rule that names no parameter, matches no value or requires nothing, empty
    /// control names, label keys or values Kubernetes would refuse, fixed values that are not
    /// text, numbers, booleans or lists of text.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in &self.fixed {
            let scalar =
                |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
            let ok = match value {
                Value::Array(items) => items.iter().all(|i| i.is_string()),
                other => scalar(other),
            };
            if name.trim().is_empty() {
                problems.push("compliance.fixed: a parameter name is empty".to_owned());
            }
            if !ok {
                problems.push(format!(
                    "compliance.fixed.{name}: must be text, a number, true/false or a list of texts"
                ));
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("compliance.rules[{}]", i + 1);
            if rule.parameter.trim().is_empty() {
                problems.push(format!(
                    "{at}: `parameter` is empty: the rule refers to nothing"
                ));
            }
            match (&rule.equals, rule.any_of.is_empty()) {
                (None, true) => {
                    problems.push(format!(
                        "{at}: give `equals` or `any_of`: the rule matches no value"
                    ));
                }
                (Some(_), false) => {
                    problems.push(format!("{at}: give `equals` or `any_of`, not both"));
                }
                _ => {}
            }
            if rule.controls.is_empty() && rule.labels.is_empty() {
                problems.push(format!(
                    "{at}: `controls` and `labels` are empty: the rule requires nothing"
                ));
            }
            if rule.controls.iter().any(|c| c.trim().is_empty()) {
                problems.push(format!("{at}: a control name is empty"));
            }
            for (key, value) in &rule.labels {
                if !is_label_key(key) {
                    problems.push(format!(
                        "{at}: label key `{key}` is not a valid Kubernetes label key ([prefix/]name, name 1-63 characters of letters, digits, `-`, `_`, `.`)"
                    ));
                }
                if !is_label_value(value) {
                    problems.push(format!(
                        "{at}: label `{key}` value `{value}` is not a valid Kubernetes label value (at most 63 characters of letters, digits, `-`, `_`, `.`)"
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> ComplianceConfig {
        toml::from_str(
            r#"
            fixed = { costCenter = "cc-1234" }
            [[rules]]
            parameter = "dataClassification"
            equals = "pii"
            controls = ["secrets_manager", "encrypt_at_rest", "access_logging"]
            labels = { "data-classification" = "pii" }
            [[rules]]
            parameter = "features"
            any_of = ["payments", "pii"]
            controls = ["encrypt_at_rest", "pci_scope"]
            "#,
        )
        .expect("valid config")
    }

    #[test]
    fn rules_add_sorted_unique_controls_and_labels() {
        let values = Values::from([
            ("dataClassification".to_owned(), json!("pii")),
            ("features".to_owned(), json!(["payments", "search"])),
        ]);
        let c = config().evaluate(&values);
        assert_eq!(
            c.controls,
            [
                "access_logging",
                "encrypt_at_rest",
                "pci_scope",
                "secrets_manager"
            ]
        );
        assert_eq!(
            c.labels.get("data-classification").map(String::as_str),
            Some("pii")
        );
        let none = config().evaluate(&Values::from([(
            "dataClassification".to_owned(),
            json!("public"),
        )]));
        assert_eq!(none, Controls::default());
        assert!(config().validate().is_empty(), "{:?}", config().validate());
    }

    #[test]
    fn bad_rules_are_reported_one_line_each() {
        let config: ComplianceConfig = toml::from_str(
            r#"
            [[rules]]
            parameter = ""
            controls = []
            labels = { "Bad Key" = "ok", "acme.io/tier" = "not ok!" }
            "#,
        )
        .expect("parses");
        let problems = config.validate();
        for needle in [
            "refers to nothing",
            "matches no value",
            "label key `Bad Key`",
            "value `not ok!`",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{needle}: {problems:?}"
            );
        }
        assert!(is_label_key("app.kubernetes.io/name") && !is_label_key("/x"));
    }
}
