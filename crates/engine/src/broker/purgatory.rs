//! Requests a broker holds until something happens or their time runs out (Kafka's
//! `DelayedOperationPurgatory`): acks=all produces waiting for the high watermark, fetches
//! waiting for `fetch.min.bytes`, and the coordinator's writes to `__consumer_offsets`
//! waiting to be replicated. Each waits under an id its expiry timer carries; what wakes
//! them, and how they are answered, is the broker's.
//!
//! Waiting requests live in memory only: a crash forgets them (`clear`).

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Purgatory<T> {
    waiting: BTreeMap<u64, T>,
}

impl<T> Default for Purgatory<T> {
    fn default() -> Self {
        Purgatory {
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> Purgatory<T> {
    /// Holds `request` until it is taken, under `id` (unique per broker).
    pub(super) fn hold(&mut self, id: u64, request: T) {
        let previous = self.waiting.insert(id, request);
        assert!(previous.is_none(), "purgatory id {id} used twice");
    }

    /// The request waiting under `id`, taken out (its expiry, or completion).
    pub(super) fn take(&mut self, id: u64) -> Option<T> {
        self.waiting.remove(&id)
    }

    /// Takes out, in the order they came, the requests `done` says are complete; `done` may
    /// update a request that stays (a produce waiting on several partitions).
    pub(super) fn take_done(&mut self, mut done: impl FnMut(&mut T) -> bool) -> Vec<T> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let ids: Vec<u64> = self
            .waiting
            .iter_mut()
            .filter_map(|(&id, request)| done(request).then_some(id))
            .collect();
        ids.into_iter()
            .map(|id| self.waiting.remove(&id).expect("just seen"))
            .collect()
    }

    /// The ids of the requests `waits` picks, in the order they came: for completions that
    /// must be checked one at a time, because answering one changes what the next sees.
    pub(super) fn ids(&self, waits: impl Fn(&T) -> bool) -> Vec<u64> {
        self.waiting
            .iter()
            .filter(|(_, request)| waits(request))
            .map(|(&id, _)| id)
            .collect()
    }

    pub(super) fn get(&self, id: u64) -> Option<&T> {
        self.waiting.get(&id)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The process died.
    pub(super) fn clear(&mut self) {
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_requests_leave_in_arrival_order_and_the_rest_stay_updated() {
        let mut p = Purgatory::default();
        for (id, waits_for) in [(7, 2), (3, 1), (5, 3)] {
            p.hold(id, waits_for);
        }
        // One event: each request waits for one thing fewer.
        let done = p.take_done(|left| {
            *left -= 1;
            *left == 0
        });
        assert_eq!(done, vec![0]);
        assert_eq!(p.ids(|_| true), vec![5, 7]);
        assert_eq!(p.get(5), Some(&2));
        assert_eq!(p.take(7), Some(1));
        assert_eq!(p.take(7), None);
        p.clear();
        assert!(p.is_empty());
    }
}
