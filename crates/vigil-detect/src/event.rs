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

    /// Appends to `out` a lowercased text in which the lowercased text of every string,
    /// boolean and integer value [`Event::for_each_value`] gives occurs whole, as it is or as
    /// the inside of a JSON string writes it (`"`, `\` and the control characters with a
    /// short escape escaped, every other character as it is). Values may run together, and
    /// the text may hold more, such as keys; other numbers may be spelled differently, so the
    /// engine does not use it to look for needles made of digits. The engine searches it for
    /// keyword needles, in both spellings, before testing values one by one: an event kept as
    /// text (JSON) gives it with one copy of the text instead of a walk over its values.
    ///
    /// Returns false, with `out` unchanged, when the event cannot (the default): the engine
    /// then joins the values itself.
    fn keyword_text(&self, out: &mut String) -> bool {
        let _ = out;
        false
    }

    /// Whether the event is a Windows event-log record even though it may lack a `Channel`
    /// (forwarded-event bookmarks have none): such a record is offered the rules for Windows
    /// without a channel, never the rules for other products.
    fn is_windows_record(&self) -> bool {
        false
    }

    /// The event as a flat table, in one pass: calls [`FieldSink::field`] for every field node
    /// under each name a rule could give it, in the order [`Event::field_values`] resolves
    /// names (when several nodes answer to one name, the first one given wins), and
    /// [`FieldSink::value`] for each of the values of a node the sink asked for. A name with a
    /// `.` that no node answers to is looked up with [`Event::field_values`] as a path when a
    /// node answers to its first part (`user` for `user.name`), and is absent otherwise: an
    /// implementation gives every node a path can begin with.
    ///
    /// Returns false when the event does not support it (the default): the engine then looks
    /// each field up by name.
    fn for_each_field(&self, sink: &mut dyn FieldSink) -> bool {
        let _ = sink;
        false
    }
}

/// Receives the fields of an event from [`Event::for_each_field`].
pub trait FieldSink {
    /// A field node that answers to `name`. Returns true when the sink wants its values (a
    /// rule names the field and no earlier node gave it); the values follow with
    /// [`FieldSink::value`] before the next call to `field`.
    fn field(&mut self, name: &str) -> bool;

    /// One value of the field node accepted last.
    fn value(&mut self, value: &FieldValue<'_>);
}

/// An event seen through a field mapping: rules name a field as Sigma does (`cs-uri-query`), the
/// event holds it under its own path (`url.query`). What a Sigma backend's pipeline does when
/// it converts rules, done here on the event so the rules stay as written. Names the mapping
/// does not list, and listed names the event does not hold where the mapping says, are looked
/// up as they are.
pub struct MappedEvent<'a> {
    event: &'a dyn Event,
    fields: &'a FieldMapping,
}

/// Sigma field name → the event's own path for it.
pub type FieldMapping = std::collections::HashMap<String, String>;

impl<'a> MappedEvent<'a> {
    /// `event` with the rules' field names resolved through `fields`.
    pub fn new(event: &'a dyn Event, fields: &'a FieldMapping) -> Self {
        MappedEvent { event, fields }
    }
}

impl Event for MappedEvent<'_> {
    /// A listed name the event does not hold under its mapped path is read under its own name
    /// too: a service's mapping is written for its JSON logs (`cs-uri-query` → `url.query`),
    /// and the web server lines it sends beside them hold the field as the web rules name it.
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        match self.fields.get(field) {
            Some(path) => {
                self.event.field_values(path, visit) || self.event.field_values(field, visit)
            }
            None => self.event.field_values(field, visit),
        }
    }

    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        self.event.for_each_value(visit)
    }

    fn keyword_text(&self, out: &mut String) -> bool {
        self.event.keyword_text(out)
    }

    fn is_windows_record(&self) -> bool {
        self.event.is_windows_record()
    }

    // `for_each_field` stays the default (not supported): the one-pass table gives fields
    // under the event's own names, so mapped names are looked up one by one instead.
}
