//! Stable sorting through one instantiation of the standard library's sort.
//!
//! `slice::sort_by` is generic over the element and the comparison, so every call site (and
//! every `collect` into a `BTreeMap` or `BTreeSet`, which sorts its input) compiles a copy of
//! the driftsort machinery: about 4 KB of wasm each, a hundred kilobytes over the page. These
//! helpers sort positions (`usize`) with a comparison passed as `&mut dyn FnMut`, so the
//! machinery exists once, then move the elements into place. The result is exactly
//! `slice::sort_by`'s: stable, so equal elements keep their order (the engine's determinism
//! relies on it). The cost is one indirect call per comparison and a `Vec<usize>`, nothing on
//! the slices the engine sorts (members, batches, brokers, events).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// `v.sort_by(cmp)`, stable.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..v.len()).collect();
    sort_positions(&mut order, &mut |a, b| cmp(&v[a], &v[b]));
    permute(v, &mut order);
}

/// `v.sort_by_key(key)`, stable.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// `v.sort()`, stable.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// `iter.collect::<BTreeMap<_, _>>()` without the sort `FromIterator` compiles per type: a
/// later pair replaces an earlier one with the same key, as there.
pub fn map<K: Ord, V>(iter: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    for (k, v) in iter {
        map.insert(k, v);
    }
    map
}

/// `iter.collect::<BTreeSet<_>>()`, likewise.
pub fn set<T: Ord>(iter: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    for t in iter {
        set.insert(t);
    }
    set
}

/// The one instantiation of the standard sort.
#[inline(never)]
fn sort_positions(order: &mut [usize], cmp: &mut dyn FnMut(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| cmp(a, b));
}

/// Puts the element at `order[k]` at position `k`, following each cycle of the permutation
/// with swaps (the element that started the cycle travels along until its place comes up).
/// `order` is spent: a visited position is marked `usize::MAX`.
fn permute<T>(v: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        if order[start] == usize::MAX {
            continue;
        }
        let mut k = start;
        loop {
            let from = order[k];
            order[k] = usize::MAX;
            if from == start {
                break;
            }
            v.swap(k, from);
            k = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Prng;

    /// Against the standard sort on many shapes: stability shows because only the key is
    /// compared while the whole pair is checked.
    #[test]
    fn the_same_order_as_the_standard_stable_sort() {
        let mut rng = Prng::new(7);
        for len in 0..200usize {
            let range = 1 + rng.below(10) as u32;
            let v: Vec<(u32, usize)> = (0..len)
                .map(|i| (rng.below(u64::from(range)) as u32, i))
                .collect();
            let mut ours = v.clone();
            sort_by_key(&mut ours, |p| p.0);
            let mut std = v.clone();
            std.sort_by_key(|p| p.0);
            assert_eq!(ours, std, "len {len}");
            let mut ours = v.clone();
            let odd_first_descending =
                |a: &(u32, usize), b: &(u32, usize)| (b.0 % 2).cmp(&(a.0 % 2)).then(b.0.cmp(&a.0));
            sort_by(&mut ours, odd_first_descending);
            let mut std = v;
            std.sort_by(odd_first_descending);
            assert_eq!(ours, std, "len {len}, odd first, descending");
        }
    }

    #[test]
    fn map_keeps_the_last_value_of_a_key_as_collect_does() {
        let pairs = [(2, "a"), (1, "b"), (2, "c")];
        let collected: BTreeMap<_, _> = pairs.into_iter().collect();
        assert_eq!(map(pairs), collected);
        assert_eq!(map(pairs)[&2], "c");
        assert_eq!(set([3, 1, 3, 2]), BTreeSet::from([1, 2, 3]));
    }
}
