//! Golden-path templates: Backstage `Template` entities (`scaffolder.backstage.io/v1beta3`,
//! <https://backstage.io/docs/features/software-templates/writing-templates>) read from the
//! catalog, their `spec.parameters` turned into a form model that the Slack modal and the shell
//! both present, and the validation rules both apply. No Slack types here.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::EntityRef;
use crate::exec::Execution;

/// Validated parameter values, by parameter name: strings, numbers, booleans or arrays of strings.
pub type Values = BTreeMap<String, Value>;

/// Problems with submitted values, by parameter name: one specific message each.
pub type FieldErrors = BTreeMap<String, String>;

/// A value as it arrives from a form or a prompt, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// One text (a text input, a selected option's value, a number as typed).
    Text(String),
    /// Several selected option values (multi-select, checkboxes).
    Many(Vec<String>),
}

/// A template as idp can run it.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `template:<namespace>/<name>`.
    pub entity_ref: EntityRef,
    /// `metadata.title`, or the name.
    pub title: String,
    /// `metadata.description`.
    pub description: Option<String>,
    /// `metadata.tags`.
    pub tags: Vec<String>,
    /// `spec.owner`.
    pub owner: Option<EntityRef>,
    /// `spec.type` (`service`, `website`…).
    pub spec_type: Option<String>,
    /// The steps of `spec.parameters` (one object is one step).
    pub steps: Vec<Step>,
    /// Where it runs; `None` when neither an annotation nor the config says.
    pub execution: Option<Execution>,
    /// Fields the Slack form cannot express, with why (optional ones are left out of the form).
    pub unsupported: Vec<FieldProblem>,
    /// Why the template cannot be run from Slack at all (a required field that cannot be
    /// expressed, no execution backend); `None` when it can.
    pub not_runnable: Option<String>,
}

/// One step (page) of a template's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The step's `title`, or "Step N".
    pub title: String,
    /// The step's `description`.
    pub description: Option<String>,
    /// Its fields in declaration order.
    pub fields: Vec<Field>,
}

/// One parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name (`name`, `owner`…): the key of its value.
    pub name: String,
    /// `title`, or the name.
    pub title: String,
    /// `description`, shown as the input's hint.
    pub description: Option<String>,
    /// Listed in the step's `required`.
    pub required: bool,
    /// What kind of input it is.
    pub kind: FieldKind,
    /// `default`.
    pub default: Option<Value>,
    /// A value that cannot be changed from the form: `const`, `ui:readonly` with a default, or
    /// set by the `[compliance]` config.
    pub fixed: Option<Value>,
}

/// The input a field becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// `type: string`.
    Text {
        /// `ui:widget: textarea`.
        multiline: bool,
        /// `pattern` (JSON Schema regex, anchored by idp).
        pattern: Option<String>,
        /// `minLength`.
        min_length: Option<u64>,
        /// `maxLength`.
        max_length: Option<u64>,
    },
    /// `type: number` or `integer`.
    Number {
        /// `integer`.
        integer: bool,
        /// `minimum`.
        minimum: Option<f64>,
        /// `maximum`.
        maximum: Option<f64>,
    },
    /// `type: boolean`.
    Boolean,
    /// `enum` (with `enumNames` as labels).
    Choice {
        /// (value, label) pairs.
        options: Vec<(String, String)>,
        /// `ui:widget: radio`.
        radio: bool,
    },
    /// `type: array` with `items.enum`.
    MultiChoice {
        /// (value, label) pairs.
        options: Vec<(String, String)>,
    },
    /// `ui:field: OwnerPicker` or `EntityPicker`: an entity ref chosen from the catalog.
    EntityPicker {
        /// OwnerPicker (groups and users) rather than EntityPicker.
        owner: bool,
        /// Allowed kinds from `ui:options.catalogFilter` / `allowedKinds` (lower case); empty = any.
        kinds: Vec<String>,
        /// Other `catalogFilter` conditions: field path → allowed values.
        filter: Vec<(String, Vec<String>)>,
    },
}

/// A parameter the form cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The parameter name.
    pub field: String,
    /// Whether the template requires it.
    pub required: bool,
    /// Why it cannot be expressed (`ui:field: RepoUrlPicker is not supported`…).
    pub reason: String,
}
