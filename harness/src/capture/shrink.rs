//! Delta debugging (Zeller's ddmin): the smallest sub-sequence of a failing input that still
//! fails, found by trying complements of ever smaller chunks. Used by `kazasu replay --minimize`
//! over a trace's commands and events.

/// Shrinks `items` to a 1-minimal sub-sequence for which `fails` still holds: removing any single
/// remaining item makes it pass. `fails(items)` must hold to begin with. Returns the items kept,
/// in their original order, and how many times `fails` was called.
pub fn ddmin<T: Clone>(items: &[T], mut fails: impl FnMut(&[T]) -> bool) -> (Vec<T>, usize) {
    let mut calls = 0usize;
    let mut test = |v: &[T]| {
        calls += 1;
        fails(v)
    };
    let mut current: Vec<T> = items.to_vec();
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(n);
        let chunks: Vec<std::ops::Range<usize>> = (0..current.len())
            .step_by(chunk)
            .map(|s| s..(s + chunk).min(current.len()))
            .collect();
        let mut reduced = false;
        // A chunk alone that fails.
        for r in &chunks {
            let subset = current[r.clone()].to_vec();
            if subset.len() < current.len() && test(&subset) {
                current = subset;
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && chunks.len() > 2 {
            // The complement of a chunk that fails.
            for r in &chunks {
                let complement: Vec<T> = current[..r.start]
                    .iter()
                    .chain(&current[r.end..])
                    .cloned()
                    .collect();
                if test(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    // A final pass for single items (1-minimality when the loop ended on n = len).
    let mut i = 0;
    while current.len() > 1 && i < current.len() {
        let without: Vec<T> = current[..i]
            .iter()
            .chain(&current[i + 1..])
            .cloned()
            .collect();
        if test(&without) {
            current = without;
        } else {
            i += 1;
        }
    }
    (current, calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_one_culprit() {
        let items: Vec<u32> = (0..100).collect();
        let (kept, calls) = ddmin(&items, |v| v.contains(&42));
        assert_eq!(kept, [42]);
        assert!(calls < 40, "{calls} calls");
    }

    proptest! {
        /// When failure needs a set of items together, ddmin keeps exactly that set, in order.
        #[test]
        fn keeps_exactly_what_the_failure_needs(len in 1usize..60, picks in proptest::collection::btree_set(0usize..60, 1..5)) {
            let items: Vec<usize> = (0..len).collect();
            let needed: Vec<usize> = picks.into_iter().filter(|p| *p < len).collect();
            prop_assume!(!needed.is_empty());
            let (kept, _) = ddmin(&items, |v| needed.iter().all(|n| v.contains(n)));
            prop_assert_eq!(kept, needed);
        }

        /// Whatever the predicate, the result still fails and is 1-minimal.
        #[test]
        fn the_result_fails_and_is_one_minimal(items in proptest::collection::vec(0u8..8, 1..40), k in 1usize..4) {
            // Fails when at least k items are 7s and the first item kept is even.
            let fails = |v: &[u8]| v.iter().filter(|x| **x == 7).count() >= k.min(1) && v.first().is_some_and(|f| f % 2 == 0 || *f == 7);
            prop_assume!(fails(&items));
            let (kept, _) = ddmin(&items, fails);
            prop_assert!(fails(&kept));
            for i in 0..kept.len() {
                let mut without = kept.clone();
                without.remove(i);
                prop_assert!(!fails(&without), "removing item {} still fails: {:?}", i, kept);
            }
        }
    }
}
