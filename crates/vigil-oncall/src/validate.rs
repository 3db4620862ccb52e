//! `Schedule::validate`: from the schedule as written to a [`ValidSchedule`] whose zones are
//! resolved, times placed on the time line and every rule checked. Every problem is reported at
//! once, each naming its field.

use std::collections::{BTreeSet, HashSet};

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::{InvalidSchedule, ScheduleError};
use crate::model::{Day, Layer, Override, Restriction, Schedule, TimePoint, Written};
use crate::zone::{local_to_timestamp, suggest_time_zone, time_zone};

/// The shortest shift a rotation may have.
pub const MIN_SHIFT: SignedDuration = SignedDuration::from_mins(1);
/// The longest shift a rotation may have (365 local days).
pub const MAX_SHIFT: SignedDuration = SignedDuration::from_hours(365 * 24);

/// A schedule that passed [`Schedule::validate`]: the only input the queries accept.
///
/// Invariants: every zone is a known IANA zone; every layer has at least one person, a shift
/// length of whole minutes from 1 minute to 365 days, non-empty restriction windows and an end
/// after its start; every override ends after it starts; every person is known.
#[derive(Debug, Clone)]
pub struct ValidSchedule {
    pub(crate) spec: Schedule,
    pub(crate) zone: TimeZone,
    pub(crate) layers: Vec<ValidLayer>,
    pub(crate) overrides: Vec<ValidOverride>,
}

#[derive(Debug, Clone)]
pub(crate) struct ValidLayer {
    pub(crate) people: Vec<String>,
    pub(crate) zone: TimeZone,
    /// The first handoff, local and as an instant.
    pub(crate) start: DateTime,
    pub(crate) start_at: Timestamp,
    pub(crate) end_at: Option<Timestamp>,
    /// The shift length in seconds of local wall-clock time.
    pub(crate) step_secs: i64,
    /// Empty when the layer is unrestricted.
    pub(crate) windows: Vec<Window>,
}

/// A restriction window: opens at `from_min` past local midnight on each day in `days` and
/// stays open `len_min` minutes of local wall-clock time (1 to 1440).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) days: [bool; 7],
    pub(crate) from_min: i64,
    pub(crate) len_min: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ValidOverride {
    pub(crate) person: String,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
}

impl ValidSchedule {
    /// The schedule as written.
    pub fn schedule(&self) -> &Schedule {
        &self.spec
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The schedule's zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// Everyone named in a layer or an override, sorted.
    pub fn people(&self) -> BTreeSet<&str> {
        let layers = self.layers.iter().flat_map(|l| l.people.iter());
        let overrides = self.overrides.iter().map(|o| &o.person);
        layers.chain(overrides).map(String::as_str).collect()
    }

    /// Reads a time as the schedule's zone would: an instant as is, a zoned or local
    /// wall-clock time by the handoff rule (local times in the schedule's zone).
    pub fn resolve(&self, at: &TimePoint) -> Result<Timestamp, ScheduleError> {
        resolve_point("at", at, &self.zone)
    }
}

impl Schedule {
    /// Checks every rule and returns the schedule ready for queries, or every problem found.
    ///
    /// `known_people` is the directory of people who may be on call; names are compared
    /// exactly. Overlapping layers are allowed (the later one wins); overlapping overrides too.
    pub fn validate<I, S>(&self, known_people: I) -> Result<ValidSchedule, InvalidSchedule>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let known: HashSet<String> = known_people
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect();
        let mut errors = Vec::new();

        if self.name.trim().is_empty() {
            errors.push(ScheduleError::Empty {
                field: "name".into(),
                hint: "give the schedule a short name such as secops-primary",
            });
        }
        let zone = check_zone("time_zone", &self.time_zone, &mut errors);
        if self.layers.is_empty() {
            errors.push(ScheduleError::NoLayers {
                field: "layers".into(),
            });
        }
        let mut names = HashSet::new();
        let layers: Vec<Option<ValidLayer>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                // Answers name the layer that put someone on call: two of one name are one.
                if let Some(name) = &l.name
                    && !names.insert(name.as_str())
                {
                    errors.push(ScheduleError::Duplicate {
                        field: format!("layers[{i}].name"),
                        name: name.clone(),
                        what: "the name of an earlier layer of this schedule".into(),
                        hint: "give each layer its own name",
                    });
                }
                check_layer(
                    &format!("layers[{i}]"),
                    l,
                    zone.as_ref(),
                    &known,
                    &mut errors,
                )
            })
            .collect();
        let overrides: Vec<Option<ValidOverride>> = self
            .overrides
            .iter()
            .enumerate()
            .map(|(i, o)| {
                check_override(
                    &format!("overrides[{i}]"),
                    o,
                    zone.as_ref(),
                    &known,
                    &mut errors,
                )
            })
            .collect();

        match zone {
            Some(zone) if errors.is_empty() => Ok(ValidSchedule {
                spec: self.clone(),
                zone,
                layers: layers.into_iter().flatten().collect(),
                overrides: overrides.into_iter().flatten().collect(),
            }),
            _ => Err(InvalidSchedule {
                schedule: self.name.clone(),
                errors,
            }),
        }
    }
}

fn check_zone(field: &str, name: &str, errors: &mut Vec<ScheduleError>) -> Option<TimeZone> {
    let zone = time_zone(name);
    if zone.is_none() {
        errors.push(ScheduleError::UnknownTimeZone {
            field: field.to_owned(),
            name: name.to_owned(),
            suggestion: suggest_time_zone(name),
        });
    }
    zone
}

fn check_person(
    field: String,
    name: &str,
    known: &HashSet<String>,
    errors: &mut Vec<ScheduleError>,
) {
    if !known.contains(name) {
        errors.push(ScheduleError::UnknownPerson {
            field,
            name: name.to_owned(),
        });
    }
}

/// The value of a field, or its problem recorded.
fn read<'a, T>(
    field: impl FnOnce() -> String,
    value: &'a Written<T>,
    errors: &mut Vec<ScheduleError>,
) -> Option<&'a T> {
    match value {
        Written::Read(v) => Some(v),
        Written::Unreadable { error, .. } => {
            errors.push(ScheduleError::Unreadable {
                field: field(),
                error: error.clone(),
            });
            None
        }
    }
}

fn check_layer(
    field: &str,
    layer: &Layer,
    schedule_zone: Option<&TimeZone>,
    known: &HashSet<String>,
    errors: &mut Vec<ScheduleError>,
) -> Option<ValidLayer> {
    let before = errors.len();
    let own = layer.time_zone.as_ref().map(|name| {
        (
            name,
            check_zone(&format!("{field}.time_zone"), name, errors),
        )
    });
    if layer.people.is_empty() {
        errors.push(ScheduleError::EmptyRotation {
            field: format!("{field}.people"),
        });
    }
    for (i, p) in layer.people.iter().enumerate() {
        check_person(format!("{field}.people[{i}]"), p, known, errors);
    }

    let mut step_secs = 0;
    if let Some(rotation) = read(|| format!("{field}.rotation"), &layer.rotation, errors) {
        let length = rotation.shift_length();
        let bad_length = |reason| ScheduleError::BadShiftLength {
            field: format!("{field}.rotation"),
            length: rotation.to_string(),
            reason,
        };
        if length.is_zero() {
            errors.push(bad_length("is zero"));
        } else if length.is_negative() {
            errors.push(bad_length("is negative"));
        } else if length < MIN_SHIFT || length.subsec_nanos() != 0 || length.as_secs() % 60 != 0 {
            errors.push(bad_length("is not a whole number of minutes"));
        } else if length > MAX_SHIFT {
            errors.push(bad_length("is longer than 365 days"));
        }
        step_secs = length.as_secs();
    }

    let windows: Vec<Window> = layer
        .restrictions
        .iter()
        .enumerate()
        .filter_map(|(i, r)| check_restriction(&format!("{field}.restrictions[{i}]"), r, errors))
        .collect();

    // The zone the layer's clock follows: a start written in a named zone makes that zone the
    // layer's (it says where the handoff's time of day is meant), unless the layer names
    // another; else the layer's own zone, else the schedule's.
    let start = read(|| format!("{field}.start"), &layer.start, errors);
    let zone = match (start, &own) {
        (
            Some(TimePoint::Zoned {
                time_zone: name, ..
            }),
            own,
        ) => {
            let start_zone = check_zone(&format!("{field}.start"), name, errors);
            match (start_zone, own) {
                (Some(z), Some((own_name, Some(own_zone))))
                    if z.iana_name() != own_zone.iana_name() =>
                {
                    errors.push(ScheduleError::ZoneConflict {
                        field: format!("{field}.start"),
                        start_zone: z.iana_name().unwrap_or(name).to_owned(),
                        layer_zone: own_zone.iana_name().unwrap_or(own_name).to_owned(),
                    });
                    None
                }
                (z, _) => z,
            }
        }
        (_, Some((_, z))) => z.clone(),
        (_, None) => schedule_zone.cloned(),
    };
    let end = layer
        .end
        .as_ref()
        .and_then(|e| read(|| format!("{field}.end"), e, errors));

    let start = start?;
    // Without a zone (its problem is reported already) the times are placed in UTC, so that
    // the other problems are still found.
    let (zone, unknown_zone) = match zone {
        Some(z) => (z, false),
        None => (TimeZone::UTC, true),
    };
    // Leave room for a year of shifts either side, so handoff arithmetic stays in range.
    let room = SignedDuration::from_hours(2 * 366 * 24);
    let local = match start {
        TimePoint::Local(local) | TimePoint::Zoned { local, .. } => *local,
        // The first handoff is the instant; its local time of day in the layer's zone is
        // that of every later one.
        TimePoint::Instant(t) => zone.to_datetime(*t),
    };
    let fits = local.checked_sub(room).is_ok() && local.checked_add(room).is_ok();
    let start_at = local_to_timestamp(&zone, local).filter(|_| fits);
    if start_at.is_none() {
        errors.push(ScheduleError::OutOfRange {
            field: format!("{field}.start"),
            value: start.to_string(),
            reason: "is too close to the edge of the calendar".into(),
        });
    }
    let end_at = end.and_then(|e| {
        resolve_point(&format!("{field}.end"), e, &zone)
            .map_err(|e| errors.push(e))
            .ok()
    });
    if let (Some(s), Some(e), Some(end)) = (start_at, end_at, end)
        && e <= s
    {
        errors.push(ScheduleError::EndNotAfterStart {
            field: format!("{field}.end"),
            start: start.to_string(),
            end: end.to_string(),
        });
    }
    if errors.len() > before || unknown_zone {
        return None;
    }
    Some(ValidLayer {
        people: layer.people.clone(),
        zone,
        start: local,
        start_at: start_at?,
        end_at,
        step_secs,
        windows,
    })
}

fn check_restriction(
    field: &str,
    r: &Restriction,
    errors: &mut Vec<ScheduleError>,
) -> Option<Window> {
    let hint = "give at least one day and a `to` different from `from`, e.g. from 09:00 to 17:00; \
                for a whole day write from 00:00 to 24:00";
    let before = errors.len();
    if r.days.is_empty() {
        errors.push(ScheduleError::EmptyWindow {
            field: format!("{field}.days"),
            reason: "no days listed".into(),
            hint,
        });
    }
    let from = read(|| format!("{field}.from"), &r.from, errors);
    let to = read(|| format!("{field}.to"), &r.to, errors);
    let (Some(from_time), Some(to)) = (from, to) else {
        return None;
    };
    let from = i64::from(from_time.minutes());
    let to = i64::from(to.minutes());
    if from == 24 * 60 {
        errors.push(ScheduleError::EmptyWindow {
            field: format!("{field}.from"),
            reason: "it opens at 24:00, the end of the day".into(),
            hint,
        });
    } else if from == to {
        errors.push(ScheduleError::EmptyWindow {
            field: field.to_owned(),
            reason: format!("it opens and closes at {from_time}"),
            hint,
        });
    }
    if errors.len() > before {
        return None;
    }
    let mut days = [false; 7];
    for d in &r.days {
        days[*d as usize] = true;
    }
    let len_min = if to > from {
        to - from
    } else {
        24 * 60 - from + to
    };
    Some(Window {
        days,
        from_min: from,
        len_min,
    })
}

impl Window {
    pub(crate) fn opens_on(&self, day: Day) -> bool {
        self.days[day as usize]
    }
}

fn resolve_point(
    field: &str,
    point: &TimePoint,
    default_zone: &TimeZone,
) -> Result<Timestamp, ScheduleError> {
    let (local, zone) = match point {
        TimePoint::Instant(t) => return Ok(*t),
        TimePoint::Zoned {
            local,
            time_zone: name,
        } => {
            let zone = time_zone(name).ok_or_else(|| ScheduleError::UnknownTimeZone {
                field: field.to_owned(),
                name: name.clone(),
                suggestion: suggest_time_zone(name),
            })?;
            (*local, zone)
        }
        TimePoint::Local(local) => (*local, default_zone.clone()),
    };
    local_to_timestamp(&zone, local).ok_or_else(|| ScheduleError::OutOfRange {
        field: field.to_owned(),
        value: point.to_string(),
        reason: "cannot be placed on the time line".into(),
    })
}

fn check_override(
    field: &str,
    o: &Override,
    schedule_zone: Option<&TimeZone>,
    known: &HashSet<String>,
    errors: &mut Vec<ScheduleError>,
) -> Option<ValidOverride> {
    let before = errors.len();
    check_person(format!("{field}.person"), &o.person, known, errors);
    // Without a schedule zone (already reported) local times cannot be read; read them as UTC
    // so the other problems are still found.
    let zone = schedule_zone.cloned().unwrap_or(TimeZone::UTC);
    let mut resolve = |name: &str, p: &Written<TimePoint>| {
        let field = format!("{field}.{name}");
        let p = read(|| field.clone(), p, errors)?;
        resolve_point(&field, p, &zone)
            .map_err(|e| errors.push(e))
            .ok()
    };
    let start = resolve("start", &o.start);
    let end = resolve("end", &o.end);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.push(ScheduleError::EndNotAfterStart {
            field: format!("{field}.end"),
            start: o.start.to_string(),
            end: o.end.to_string(),
        });
    }
    if errors.len() > before {
        return None;
    }
    Some(ValidOverride {
        person: o.person.clone(),
        start: start?,
        end: end?,
    })
}
