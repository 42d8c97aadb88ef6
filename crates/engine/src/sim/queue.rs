//! The future events, in (time, class, sequence) order, in a heap of small keys over a slab
//! of the events themselves.

use super::*;

/// An event's place in the queue: the heap orders these small keys, while the events
/// themselves (a message can be large) stay put in [`Queue::slots`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Scheduled {
    at: Instant,
    /// Commands run first at their instant, whenever they were scheduled: a command a UI
    /// schedules live then lands exactly where the same command from a scenario file does,
    /// so an exported run replays to the same digest.
    class: u8,
    seq: u64,
    slot: u32,
}

/// The future events, in (time, class, sequence) order.
#[derive(Clone, Debug, Default)]
pub(super) struct Queue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    slots: Vec<Option<Event>>,
    free: Vec<u32>,
}

impl Queue {
    pub(super) fn push(&mut self, at: Instant, seq: u64, event: Event) {
        let class = match event {
            Event::Command(_) => 0,
            _ => 1,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Reverse(Scheduled {
            at,
            class,
            seq,
            slot,
        }));
    }

    pub(super) fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    pub(super) fn pop(&mut self) -> Option<(Instant, Event)> {
        let Reverse(next) = self.heap.pop()?;
        let event = self.slots[next.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(next.slot);
        Some((next.at, event))
    }

    /// Removes the commands due at `from` or later; other events stay in their order.
    pub(super) fn drop_commands_from(&mut self, from: Instant) {
        let slots = &mut self.slots;
        let free = &mut self.free;
        self.heap.retain(|Reverse(s)| {
            let command = matches!(slots[s.slot as usize], Some(Event::Command(_)));
            if command && s.at >= from {
                slots[s.slot as usize] = None;
                free.push(s.slot);
                return false;
            }
            true
        });
    }
}
