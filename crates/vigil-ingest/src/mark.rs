//! How far the stored events have their detections recorded: the mark the log store keeps so
//! that, after a crash between storing a batch and recording what it matched, the events left
//! without detections are matched again (see [`crate::DetectionRecovery`]).
//!
//! Batches are stored and recorded concurrently, so the mark is the lowest id any batch still
//! in flight may have been given, or the store's next id when none is: a batch takes a
//! [`Ticket`] before it is appended (its ids are then at least the ticket's floor) and gives
//! it back once its detections are recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;

use vigil_logs::EventStore;

/// The batches between their append and the recording of their detections, by floor.
#[derive(Debug, Default)]
pub(crate) struct DetectionMark {
    /// Floor → how many tickets hold it.
    in_flight: Mutex<BTreeMap<u64, usize>>,
}

/// A batch's claim that the events from `floor` on may still lack their detections. Given
/// back with [`DetectionMark::release`] once they are recorded; a ticket dropped without that
/// (the recording failed, the worker panicked) holds the mark until the next start, whose
/// recovery matches those events again, and says so in the log.
#[derive(Debug)]
#[must_use = "a ticket holds the detection mark back until it is released"]
pub(crate) struct Ticket {
    floor: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        tracing::warn!(
            from_id = self.floor,
            "a batch's detections were not recorded; its events are matched again at the next start, and the log store keeps its journal from this id until then"
        );
    }
}

impl DetectionMark {
    /// A ticket for a batch about to be appended: every id the store gives it is at least the
    /// store's next id now.
    pub fn enter(&self, events: &dyn EventStore) -> Ticket {
        let mut in_flight = self.lock();
        let floor = events.next_id();
        *in_flight.entry(floor).or_default() += 1;
        Ticket { floor }
    }

    /// A ticket holding the mark at `floor` (the events a recovery has yet to match).
    pub fn enter_at(&self, floor: u64) -> Ticket {
        *self.lock().entry(floor).or_default() += 1;
        Ticket { floor }
    }

    /// Gives a ticket back: its batch's detections are recorded.
    pub fn release(&self, ticket: Ticket) {
        let floor = ticket.floor;
        // Given back, not dropped: nothing to warn about.
        std::mem::forget(ticket);
        let mut in_flight = self.lock();
        if let Some(count) = in_flight.get_mut(&floor) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&floor);
            }
        }
    }

    /// Every stored event below this id has its detections recorded. The store's next id is
    /// read before the tickets: a batch that takes one after that read gets ids above it.
    pub fn below(&self, events: &dyn EventStore) -> u64 {
        let next = events.next_id();
        let in_flight = self.lock();
        in_flight
            .keys()
            .next()
            .map_or(next, |floor| next.min(*floor))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, usize>> {
        // The map stays consistent whatever panicked while holding it (each change is one step).
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_stays_at_the_lowest_floor_in_flight() {
        let mark = DetectionMark::default();
        let a = mark.enter_at(10);
        let b = mark.enter_at(10);
        let c = mark.enter_at(25);
        let held = |mark: &DetectionMark| mark.lock().keys().next().copied();
        assert_eq!(held(&mark), Some(10));
        mark.release(a);
        assert_eq!(held(&mark), Some(10), "a second ticket still holds 10");
        mark.release(b);
        assert_eq!(held(&mark), Some(25));
        mark.release(c);
        assert_eq!(held(&mark), None);
    }
}
