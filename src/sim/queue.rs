//! The event queue: pending deliveries and timers in (time, insertion order) order, so
//! simultaneous events always run in the same order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::core::Instant;

/// An item due at `at`; `seq` breaks ties by insertion order.
#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A min-queue of items by due time, first-in first-out among equal times.
#[derive(Debug)]
pub(crate) struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T> EventQueue<T> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn push(&mut self, at: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { at, seq, item });
    }

    /// When the earliest item is due.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// The earliest item, without removing it.
    pub(crate) fn peek(&self) -> Option<(Instant, &T)> {
        self.heap.peek().map(|e| (e.at, &e.item))
    }

    pub(crate) fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap.pop().map(|e| (e.at, e.item))
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_insertion_order() {
        let mut q = EventQueue::new();
        let t = |n| Instant::from_nanos(n);
        q.push(t(5), "late");
        q.push(t(1), "first");
        q.push(t(3), "tie-a");
        q.push(t(3), "tie-b");
        q.push(t(3), "tie-c");
        assert_eq!(q.peek_time(), Some(t(1)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, x)| x)).collect();
        assert_eq!(order, ["first", "tie-a", "tie-b", "tie-c", "late"]);
        assert_eq!(q.len(), 0);
    }
}
