//! Golden-path templates: Backstage `Template` entities (`scaffolder.backstage.io/v1beta3`,
//! <https://backstage.io/docs/features/software-templates/writing-templates>) read from the
//! catalog, their `spec.parameters` turned into a form model that the Slack modal and the shell
//! both present, and the validation rules both apply. No Slack types here.
//!
//! - [`Template::from_entity`], [`load`], [`find`]: templates from the catalog snapshot.
//! - [`validate_step`], [`validate_all`]: the rules a submission must pass.
//! - [`compliance`]: controls and labels required by the `[compliance]` config.
//! - [`picker`]: which catalog entities an entity-picker field accepts, and searching them.
//!
//! Limits: a form front end must be able to show every field idp accepts, so fields beyond the
//! smallest front end's limits (Slack's Block Kit: [`MAX_OPTIONS`], [`MAX_OPTION_VALUE`],
//! [`MAX_FIELD_NAME`], [`MAX_TEXT`], [`MAX_STEP_FIELDS`]) are reported as unsupported here rather
//! than failing later in Slack.

pub mod compliance;
mod execution;
pub mod picker;
mod read;
mod schema;
mod validate;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::EntityRef;
use crate::exec::Execution;

pub use compliance::{ComplianceConfig, ComplianceRule, Controls};
pub use execution::{EXECUTION_ANNOTATION, GITHUB_WORKFLOW_ANNOTATION, parse_github_workflow};
pub use read::{NAME_PARAMETER_ANNOTATION, TemplateLookupError, find, load};
pub use validate::{raw_from_value, validate_all, validate_step};

/// Most choices in one `enum` (a Slack `static_select` holds at most 100 options).
pub const MAX_OPTIONS: usize = 100;
/// Most characters in one choice's value (Slack's option `value` limit).
pub const MAX_OPTION_VALUE: usize = 150;
/// Most characters in a parameter name (it becomes Slack's `block_id`, at most 255).
pub const MAX_FIELD_NAME: usize = 255;
/// Most characters a text field can take (Slack's `plain_text_input` limit).
pub const MAX_TEXT: usize = 3000;
/// Most fields in one step (Slack's modal holds 100 blocks; a few are idp's own).
pub const MAX_STEP_FIELDS: usize = 95;

/// A number as idp shows it and a form takes it: whole numbers without a decimal point (`2`,
/// not `2.0`), others as Rust prints them.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// What the deployment adds to every template: the execution backend for templates that name
/// none, and the `[compliance]` rules (whose `fixed` values pin fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateDefaults {
    /// The backend for templates without an `idp.dev/execution` annotation.
    pub execution: Option<Execution>,
    /// The `[compliance]` section of `idp.toml`.
    pub compliance: ComplianceConfig,
}

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
    /// The parameter that names the new component: the `idp.dev/name-parameter` annotation, else
    /// a field called `name` or `component_id`. idp treats it as required.
    pub name_field: Option<String>,
    /// The parameter that names the new component's owner: the OwnerPicker field, else a field
    /// called `owner`. idp treats it as required (authorization decides on it).
    pub owner_field: Option<String>,
}

impl Template {
    /// Whether it can be run from Slack ([`Template::not_runnable`] is `None`).
    pub fn is_runnable(&self) -> bool {
        self.not_runnable.is_none()
    }

    /// Every field of every step, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.steps.iter().flat_map(|s| s.fields.iter())
    }

    /// The field with this parameter name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields().find(|f| f.name == name)
    }

    /// The field that names the new component (see [`Template::name_field`]).
    pub fn name_field(&self) -> Option<&Field> {
        self.name_field.as_deref().and_then(|n| self.field(n))
    }

    /// The field that names the new component's owner (see [`Template::owner_field`]).
    pub fn owner_field(&self) -> Option<&Field> {
        self.owner_field.as_deref().and_then(|n| self.field(n))
    }
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
    /// Whether [`Field::fixed`] comes from the `[compliance]` config rather than the template.
    pub fixed_by_policy: bool,
    /// `ui:placeholder`: sample text shown in an empty input.
    pub placeholder: Option<String>,
}

impl Field {
    /// Whether the form may leave it empty. A boolean is never "missing" (unticked is `false`),
    /// and a fixed field is never asked for.
    pub fn optional(&self) -> bool {
        !self.required || matches!(self.kind, FieldKind::Boolean) || self.fixed.is_some()
    }
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
        /// Other `catalogFilter` conditions: field path (`spec.type`, `metadata.tags`,
        /// `metadata.annotations.<key>`…) → allowed values, compared case-insensitively; an
        /// empty list means the field must exist (`{exists: true}`). See [`picker`].
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
