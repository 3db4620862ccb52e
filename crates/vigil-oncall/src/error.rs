//! Errors: every validation problem names the field at fault (`layers[1].rotation`) and says
//! what to write instead; query errors say how to ask again.

use jiff::Timestamp;

/// One problem in a schedule as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A required text is blank.
    #[error("{field}: must not be empty; {hint}")]
    Empty {
        /// The field at fault.
        field: String,
        /// What to write.
        hint: &'static str,
    },
    /// The schedule has no layer.
    #[error(
        "{field}: a schedule needs at least one layer; add one with people, rotation and start"
    )]
    NoLayers {
        /// The field at fault (`layers`).
        field: String,
    },
    /// A zone name is not in the IANA database.
    #[error("{field}: unknown time zone {name:?}; {}", match suggestion {
        Some(s) => format!("did you mean {s}?"),
        None => "write an IANA name such as Europe/Berlin, America/New_York or UTC".to_owned(),
    })]
    UnknownTimeZone {
        /// The field at fault.
        field: String,
        /// The name as written.
        name: String,
        /// The closest known name, when one is close.
        suggestion: Option<String>,
    },
    /// A layer's rotation has nobody in it.
    #[error("{field}: the rotation is empty; list at least one person")]
    EmptyRotation {
        /// The field at fault.
        field: String,
    },
    /// A shift length is zero, negative, not whole minutes, or longer than a year.
    #[error("{field}: shift length {length} {reason}; write a length such as 12h, 8h or 2d")]
    BadShiftLength {
        /// The field at fault.
        field: String,
        /// The length as read.
        length: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A person is not in the directory the schedule was checked against.
    #[error("{field}: unknown person {name:?}; add them to the people list first or fix the name")]
    UnknownPerson {
        /// The field at fault.
        field: String,
        /// The name as written.
        name: String,
    },
    /// A restriction window contains no time.
    #[error("{field}: the window is empty ({reason}); {hint}")]
    EmptyWindow {
        /// The field at fault.
        field: String,
        /// Why it is empty.
        reason: String,
        /// What to write instead.
        hint: &'static str,
    },
    /// An end that is not after its start.
    #[error("{field}: ends at {end}, which is not after its start {start}; give a later end")]
    EndNotAfterStart {
        /// The field at fault (the end).
        field: String,
        /// The start, as written.
        start: String,
        /// The end, as written.
        end: String,
    },
    /// A time, length or time of day that cannot be read.
    #[error("{field}: {error}")]
    Unreadable {
        /// The field at fault.
        field: String,
        /// Why, with what to write.
        error: String,
    },
    /// A name given twice where each must be different.
    #[error("{field}: {name:?} is {what}; {hint}")]
    Duplicate {
        /// The field at fault (the second one).
        field: String,
        /// The name.
        name: String,
        /// Where it was given already.
        what: String,
        /// What to do.
        hint: &'static str,
    },
    /// A layer's start in a named zone that is not the layer's own `time_zone`.
    #[error(
        "{field}: is written in {start_zone} but the layer's time_zone is {layer_zone}; a layer follows one zone's clock: write the start without a zone, or give the layer time_zone: {start_zone}"
    )]
    ZoneConflict {
        /// The field at fault (the start).
        field: String,
        /// The start's zone.
        start_zone: String,
        /// The layer's zone.
        layer_zone: String,
    },
    /// A time that cannot be placed on the time line.
    #[error("{field}: {value} {reason}; give a time between the years 1 and 9999")]
    OutOfRange {
        /// The field at fault.
        field: String,
        /// The time as written.
        value: String,
        /// What went wrong.
        reason: String,
    },
}

impl ScheduleError {
    /// The field at fault, as a path such as `layers[1].people[2]`.
    pub fn field(&self) -> &str {
        match self {
            ScheduleError::Empty { field, .. }
            | ScheduleError::NoLayers { field }
            | ScheduleError::UnknownTimeZone { field, .. }
            | ScheduleError::EmptyRotation { field }
            | ScheduleError::BadShiftLength { field, .. }
            | ScheduleError::UnknownPerson { field, .. }
            | ScheduleError::EmptyWindow { field, .. }
            | ScheduleError::EndNotAfterStart { field, .. }
            | ScheduleError::Unreadable { field, .. }
            | ScheduleError::Duplicate { field, .. }
            | ScheduleError::ZoneConflict { field, .. }
            | ScheduleError::OutOfRange { field, .. } => field,
        }
    }
}

/// A schedule that failed validation, with every problem found (not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {schedule:?} is invalid: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidSchedule {
    /// The schedule's name as written.
    pub schedule: String,
    /// Every problem, in document order.
    pub errors: Vec<ScheduleError>,
}

/// Why a timeline query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `to` is not after `from`.
    #[error("the range from {from} to {to} is empty; give a `to` after `from`")]
    Empty {
        /// The start asked for.
        from: Timestamp,
        /// The end asked for.
        to: Timestamp,
    },
    /// The range is longer than a query may cover.
    #[error(
        "the range from {from} to {to} is longer than {max_days} days; ask for at most {max_days} days at a time"
    )]
    TooLong {
        /// The start asked for.
        from: Timestamp,
        /// The end asked for.
        to: Timestamp,
        /// The longest range allowed, in days.
        max_days: i64,
    },
    /// The range would produce more shifts than a query may compute.
    #[error(
        "the range would produce about {estimated} shifts, more than the {max} allowed; ask for a shorter range"
    )]
    TooManyShifts {
        /// The estimated number of shifts and windows.
        estimated: u64,
        /// The most allowed.
        max: u64,
    },
}
