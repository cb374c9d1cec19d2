//! Keeping the order in which a Template declares its parameters.
//!
//! Entities are held as JSON objects whose keys are sorted, so the order of a step's
//! `properties` (the order Backstage's form shows them in) would be lost at the first parse.
//! [`record_parameter_order`] reads that order from the YAML text once, at ingestion, and writes
//! it into the document as the step's `ui:order`, the react-jsonschema-form key that Backstage
//! itself uses to order a step's fields
//! (<https://rjsf-team.github.io/react-jsonschema-form/docs/json-schema/objects#specifying-property-order>).
//! A step that already has a `ui:order` keeps its own.

use std::fmt;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The keys of a mapping in the order the text gives them; the values are skipped.
struct KeyOrder(Vec<String>);

impl<'de> Deserialize<'de> for KeyOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeyOrder;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyOrder, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(KeyOrder(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// One step of `spec.parameters`: only its property names matter here.
#[derive(Deserialize)]
struct StepKeys {
    properties: Option<KeyOrder>,
}

/// `spec.parameters`: one step, or a list of steps. Anything else (a `$yaml` reference, a
/// malformed step) is read as nothing.
#[derive(Deserialize)]
#[serde(untagged)]
enum Parameters {
    Many(Vec<Option<StepKeys>>),
    One(StepKeys),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct SpecKeys {
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct DocKeys {
    spec: Option<SpecKeys>,
}

/// Adds `ui:order` (the property names as the YAML declares them) to every step of a Template
/// document's `spec.parameters` that has `properties` and no `ui:order`. `yaml` is the text the
/// document was parsed from. Other kinds, and text that cannot be read again, are left alone.
pub fn record_parameter_order(yaml: &str, doc: &mut Value) {
    let is_template = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case("template"));
    if !is_template {
        return;
    }
    let Ok(DocKeys {
        spec: Some(SpecKeys {
            parameters: Some(parameters),
        }),
    }) = serde_saphyr::from_str::<DocKeys>(yaml)
    else {
        return;
    };
    let orders: Vec<Option<Vec<String>>> = match parameters {
        Parameters::One(step) => vec![step.properties.map(|k| k.0)],
        Parameters::Many(steps) => steps
            .into_iter()
            .map(|s| s.and_then(|s| s.properties).map(|k| k.0))
            .collect(),
        Parameters::Other(_) => return,
    };
    let Some(params) = doc.pointer_mut("/spec/parameters") else {
        return;
    };
    let steps: Vec<&mut Value> = match params {
        Value::Array(steps) => steps.iter_mut().collect(),
        one @ Value::Object(_) => vec![one],
        _ => return,
    };
    for (step, order) in steps.into_iter().zip(orders) {
        if let (Value::Object(step), Some(order)) = (step, order)
            && !step.contains_key("ui:order")
            && order.len() > 1
        {
            step.insert(
                "ui:order".to_owned(),
                Value::Array(order.into_iter().map(Value::String).collect()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_declared_order_of_each_step_is_recorded_once() {
        let yaml = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  parameters:\n    - properties:\n        zeta: {type: string}\n        alpha: {type: string}\n        mid: {type: string}\n    - ui:order: [b, a]\n      properties:\n        a: {type: string}\n        b: {type: string}\n";
        let mut doc: Value = serde_saphyr::from_str(yaml).expect("yaml");
        record_parameter_order(yaml, &mut doc);
        assert_eq!(
            doc.pointer("/spec/parameters/0/ui:order"),
            Some(&json!(["zeta", "alpha", "mid"]))
        );
        assert_eq!(
            doc.pointer("/spec/parameters/1/ui:order"),
            Some(&json!(["b", "a"])),
            "a step's own order wins"
        );
    }

    #[test]
    fn one_step_as_an_object_and_other_kinds() {
        let yaml = "kind: Template\nspec:\n  parameters:\n    properties:\n      b: {type: string}\n      a: {type: string}\n";
        let mut doc: Value = serde_saphyr::from_str(yaml).expect("yaml");
        record_parameter_order(yaml, &mut doc);
        assert_eq!(
            doc.pointer("/spec/parameters/ui:order"),
            Some(&json!(["b", "a"]))
        );
        let yaml =
            "kind: Component\nspec:\n  parameters:\n    properties:\n      b: {}\n      a: {}\n";
        let mut doc: Value = serde_saphyr::from_str(yaml).expect("yaml");
        let before = doc.clone();
        record_parameter_order(yaml, &mut doc);
        assert_eq!(doc, before);
    }
}
