//! The view of a decoded event that the engine matches against.
//!
//! Decoders (in `vigil-events`) implement [`Event`]; the engine never sees bytes or files.

use std::borrow::Cow;

/// One value of an event field, borrowed from the decoded event where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
}

/// A decoded event the engine can look fields up in without building maps per event.
pub trait Event {
    /// Calls `visit` with every value of the field a rule names `field` (several when the
    /// field holds a list); returns false when the event has no such field.
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool;

    /// Calls `visit` with every scalar value in the event, for keyword (field-less) searches.
    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>));

    /// Whether the event is a Windows event-log record even though it may lack a `Channel`
    /// (forwarded-event bookmarks have none): such a record is offered the rules for Windows
    /// without a channel, never the rules for other products.
    fn is_windows_record(&self) -> bool {
        false
    }
}
