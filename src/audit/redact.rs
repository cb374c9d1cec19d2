//! Defensive redaction of credentials that should never have reached an audit entry.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// The marker that replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-`, `xoxe-`, app-level
/// `xapp-`), `Bearer` credentials, idp API tokens and Slack webhook URLs.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
          \b(?P<slack>xox[abposre]|xapp)-[A-Za-z0-9-]+
        | \b(?P<bearer>(?i:bearer))\s+\S+
        | \b(?P<idp>idp)_[A-Za-z0-9]+_[A-Za-z0-9]{16,}
        | (?P<hook>https?://hooks\.slack(?:-gov)?\.com/)[^\s\x22'<>]+
        ",
    )
    .expect("the redaction pattern compiles")
});

/// `s` with every token-looking part replaced: `xoxb-[redacted]`, `Bearer [redacted]`,
/// `idp_[redacted]`, `https://hooks.slack.com/[redacted]`. Borrowed when nothing matched.
pub fn redact(s: &str) -> Cow<'_, str> {
    SECRET.replace_all(s, |c: &Captures<'_>| {
        if let Some(kind) = c.name("slack") {
            format!("{}-{REDACTED}", kind.as_str())
        } else if let Some(word) = c.name("bearer") {
            format!("{} {REDACTED}", word.as_str())
        } else if c.name("idp").is_some() {
            format!("idp_{REDACTED}")
        } else if let Some(base) = c.name("hook") {
            format!("{}{REDACTED}", base.as_str())
        } else {
            REDACTED.to_owned()
        }
    })
}

/// Redacts every string in a JSON value, object keys included.
pub fn redact_value(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(map) => {
            let needs_rekey = map.keys().any(|k| matches!(redact(k), Cow::Owned(_)));
            if needs_rekey {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    redact_value(&mut v);
                    map.insert(redact(&k).into_owned(), v);
                }
            } else {
                map.values_mut().for_each(redact_value);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_looking_strings_are_redacted_and_others_left_alone() {
        let cases = [
            ("use xoxb-1234-5678-abcdEFGH now", "use xoxb-[redacted] now"),
            ("xoxp-1-2-3", "xoxp-[redacted]"),
            ("xapp-1-A0-123-abc", "xapp-[redacted]"),
            (
                "Authorization: Bearer abc.def.ghi",
                "Authorization: Bearer [redacted]",
            ),
            (
                "key idp_0123456789abcdef_00112233445566778899aabbccddeeff",
                "key idp_[redacted]",
            ),
            (
                "<https://hooks.slack.com/services/T0/B0/XyZ>",
                "<https://hooks.slack.com/[redacted]>",
            ),
            (
                "rollback checkout-api production",
                "rollback checkout-api production",
            ),
            ("the xoxo club", "the xoxo club"),
            ("bearer", "bearer"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn json_values_are_redacted_in_keys_and_nested_values() {
        let mut v = serde_json::json!({"text": ["a", {"xoxb-1-2": "Bearer x"}], "n": 1});
        redact_value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"text": ["a", {"xoxb-[redacted]": "Bearer [redacted]"}], "n": 1})
        );
    }
}
