//! The rules the server holds request bodies to that a JSON Schema can say — a required text
//! not blank, the longest texts, the form of a technique id, a patch that changes something —
//! written into the OpenAPI document's schemas ([`document_limits`]) from the constants the
//! domain and the store check them with, so the document cannot state other limits than the
//! server's. The server counts a text's characters once it is trimmed: `maxLength` is exact
//! for a text without spaces around it.

use utoipa::openapi::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayItems, Object, Schema};
use vigil_core::incident::{MAX_NAME, MAX_TEXT, MAX_TITLE};
use vigil_core::{MAX_REASON, Technique};

/// What a text must be.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// It must hold more than spaces (`minLength: 1`, `pattern: \S`).
    pub required: bool,
    /// At most this many characters.
    pub max: Option<usize>,
    /// Its form, as a regular expression (`pattern`), from the parser that reads it.
    pub pattern: Option<fn() -> String>,
}

/// A required text of at most `max` characters.
const fn required(max: usize) -> Text {
    Text {
        required: true,
        max: Some(max),
        pattern: None,
    }
}

/// An optional text (it may be empty) of at most `max` characters.
const fn at_most(max: usize) -> Text {
    Text {
        required: false,
        max: Some(max),
        pattern: None,
    }
}

/// A technique id, `T1059` or `T1059.001`.
const TECHNIQUE: Text = Text {
    required: true,
    max: None,
    pattern: Some(Technique::pattern),
};

/// Where a rule applies: the property itself, or each entry of the list it is.
#[derive(Debug, Clone, Copy)]
pub enum At {
    /// The property's value.
    Value,
    /// Each entry of the property's list.
    Each,
}

/// Every (schema, property, where, rule) the document states.
pub const TEXTS: &[(&str, &str, At, Text)] = &[
    ("NewIncident", "title", At::Value, required(MAX_TITLE)),
    ("NewIncident", "summary", At::Value, required(MAX_TEXT)),
    (
        "NewIncident",
        "severity_reason",
        At::Value,
        at_most(MAX_REASON),
    ),
    ("NewIncident", "techniques", At::Each, TECHNIQUE),
    ("NewIncident", "services", At::Each, required(MAX_NAME)),
    ("NewIncident", "tenants", At::Each, required(MAX_NAME)),
    ("IncidentPatch", "title", At::Value, required(MAX_TITLE)),
    ("IncidentPatch", "summary", At::Value, required(MAX_TEXT)),
    ("IncidentPatch", "root_cause", At::Value, required(MAX_TEXT)),
    ("IncidentPatch", "techniques", At::Each, TECHNIQUE),
    ("IncidentPatch", "services", At::Each, required(MAX_NAME)),
    ("IncidentPatch", "tenants", At::Each, required(MAX_NAME)),
    ("NewNextStep", "text", At::Value, required(MAX_TEXT)),
    (
        "NewIndicator",
        "value",
        At::Value,
        Text {
            required: true,
            max: None,
            pattern: None,
        },
    ),
    ("ChangeSeverity", "reason", At::Value, required(MAX_REASON)),
    ("ChangePhase", "reason", At::Value, at_most(MAX_REASON)),
    ("ChangePhase", "root_cause", At::Value, required(MAX_TEXT)),
    (
        "CorrectTimestamp",
        "reason",
        At::Value,
        required(MAX_REASON),
    ),
    ("NewPostMortem", "summary", At::Value, required(MAX_TEXT)),
    ("NewPostMortem", "root_cause", At::Value, required(MAX_TEXT)),
    ("NewPostMortem", "went_well", At::Each, required(MAX_TEXT)),
    ("NewPostMortem", "went_badly", At::Each, required(MAX_TEXT)),
    (
        "ContributingFactor",
        "description",
        At::Value,
        required(MAX_TEXT),
    ),
    ("Participant", "name", At::Value, required(MAX_NAME)),
    (
        "DetectionImprovement",
        "description",
        At::Value,
        required(MAX_TEXT),
    ),
    ("NewFinding", "title", At::Value, required(MAX_TITLE)),
    ("NewFinding", "description", At::Value, at_most(MAX_TEXT)),
    ("NewFinding", "team", At::Value, required(MAX_NAME)),
    ("NewFinding", "assignee", At::Value, at_most(MAX_NAME)),
    ("NewFinding", "ticket", At::Value, at_most(MAX_NAME)),
    ("FindingUpdate", "title", At::Value, required(MAX_TITLE)),
    ("FindingUpdate", "team", At::Value, required(MAX_NAME)),
    ("FindingUpdate", "note", At::Value, at_most(MAX_REASON)),
    ("AddAction", "text", At::Value, required(MAX_TEXT)),
    (
        "AddCustody",
        "action",
        At::Value,
        Text {
            required: true,
            max: None,
            pattern: None,
        },
    ),
    ("AddCustody", "reason", At::Value, required(MAX_REASON)),
    (
        "CreateToken",
        "name",
        At::Value,
        required(vigil_core::actors::MAX_TOKEN_NAME),
    ),
    (
        "ExternalAlert",
        "title",
        At::Value,
        required(vigil_core::alert::MAX_TITLE),
    ),
    (
        "ExternalAlert",
        "service",
        At::Value,
        required(vigil_core::alert::MAX_SERVICE),
    ),
];

/// Request bodies refused when they hold no member at all (`minProperties: 1`): a patch that
/// changes nothing.
pub const NOT_EMPTY: &[&str] = &["IncidentPatch", "FindingUpdate"];

/// Writes [`TEXTS`] and [`NOT_EMPTY`] into the document's schemas.
///
/// # Panics
/// When a schema or property of the tables is not in the document, or not a text (or a list
/// of texts, for [`At::Each`]): every test that builds the router fails, so a renamed field
/// cannot leave its rule behind.
pub fn document_limits(doc: &mut OpenApi) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the document has components")
        .schemas;
    for (name, property, at, text) in TEXTS {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(*name) else {
            panic!("limits: no object schema {name} in the document");
        };
        let Some(value) = object.properties.get_mut(*property) else {
            panic!("limits: {name} has no property {property}");
        };
        let target = match at {
            At::Value => string(value),
            At::Each => match value {
                RefOr::T(Schema::Array(array)) => match &mut array.items {
                    ArrayItems::RefOrSchema(items) => string(items),
                    ArrayItems::False => None,
                },
                _ => None,
            },
        };
        let Some(target) = target else {
            panic!("limits: {name}.{property} is not a text (or a list of texts)");
        };
        if text.required {
            target.min_length = Some(1);
            // A pattern of its own says more than `\S`.
            target.pattern = Some(r"\S".to_owned());
        }
        target.max_length = text.max;
        if let Some(pattern) = text.pattern {
            target.pattern = Some(pattern());
        }
    }
    for name in NOT_EMPTY {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(*name) else {
            panic!("limits: no object schema {name} in the document");
        };
        object.min_properties = Some(1);
    }
}

/// The text schema `value` is (a string, maybe also `null`).
fn string(value: &mut RefOr<Schema>) -> Option<&mut Object> {
    use utoipa::openapi::schema::{SchemaType, Type};
    match value {
        RefOr::T(Schema::Object(object)) => {
            let text = match &object.schema_type {
                SchemaType::Type(Type::String) => true,
                SchemaType::Array(types) => types.contains(&Type::String),
                _ => false,
            };
            text.then_some(object)
        }
        _ => None,
    }
}
