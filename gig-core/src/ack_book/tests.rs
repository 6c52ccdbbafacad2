use super::*;
use crate::record::test_record;
use std::time::Duration;

#[test]
fn ack_routes_once_then_late() {
    let topic: Arc<str> = Arc::from("t");
    let mut book = AckBook::new();
    let now = Instant::now();
    let t = book.track(test_record(&topic, 0, 0), now).unwrap();
    assert!(matches!(book.route(t), AckResult::Routed(r) if r.offset() == 0));
    assert!(matches!(book.route(t), AckResult::Late));
    assert_eq!(book.unresolved(), 1, "routed is not yet handed over");
    assert!(book.handed_over(t));
    assert_eq!(book.unresolved(), 0);
    assert_eq!(book.tracked(), 0);
}

#[test]
fn tokens_of_a_revoked_partition_never_touch_its_next_assignment() {
    let topic: Arc<str> = Arc::from("t");
    let mut book = AckBook::new();
    let now = Instant::now();
    let old = book.track(test_record(&topic, 3, 0), now).unwrap();
    let removed = book.remove("t", 3).unwrap();
    assert_eq!(removed.unresolved(), 1);
    assert_eq!(book.unresolved(), 0);
    // Reassigned: the same slot is reused with a new epoch.
    let new = book.track(test_record(&topic, 3, 0), now).unwrap();
    assert!(matches!(book.route(old), AckResult::Unknown));
    assert!(matches!(book.route(new), AckResult::Routed(_)));
}

#[test]
fn commits_are_per_partition_and_only_when_moved() {
    let topic: Arc<str> = Arc::from("t");
    let mut book = AckBook::new();
    let now = Instant::now();
    let a = book.track(test_record(&topic, 0, 5), now).unwrap();
    let b = book.track(test_record(&topic, 1, 9), now).unwrap();
    for t in [a, b] {
        book.route(t);
        book.handed_over(t);
    }
    let mut offsets = book.offsets_to_commit();
    offsets.sort_by_key(|c| c.partition);
    let got: Vec<(i32, i64)> = offsets.iter().map(|c| (c.partition, c.offset)).collect();
    assert_eq!(got, vec![(0, 6), (1, 10)]);
    assert!(book.offsets_to_commit().is_empty());
}

#[test]
fn expiry_spans_partitions() {
    let topic: Arc<str> = Arc::from("t");
    let mut book = AckBook::new();
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    book.track(test_record(&topic, 0, 0), t0 + ms(5)).unwrap();
    book.track(test_record(&topic, 1, 0), t0 + ms(1)).unwrap();
    assert_eq!(book.next_deadline(), Some(t0 + ms(1)));
    let expired = book.expire(t0 + ms(5));
    assert_eq!(expired.len(), 2);
    assert_eq!(book.next_deadline(), None);
    assert_eq!(
        book.unresolved(),
        2,
        "expired records still await hand-over"
    );
}

/// The invariants of DESIGN.md, checked over a pseudo-random schedule of acks, nacks,
/// expiries and hand-overs: every record leaves exactly once, and the committable
/// offset never passes a record that was not handed over.
#[test]
fn invariants_hold_under_a_random_schedule() {
    let topic: Arc<str> = Arc::from("t");
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut book = AckBook::new();
    let t0 = Instant::now();
    let mut waiting: Vec<(Token, i64)> = Vec::new();
    let mut routed: Vec<(Token, i64)> = Vec::new();
    let mut handed = std::collections::BTreeSet::new();
    let mut left = std::collections::HashMap::new();
    let mut tracked_offsets = std::collections::BTreeSet::new();
    for step in 0..20_000u64 {
        let now = t0 + Duration::from_millis(step);
        match next() % 5 {
            0 | 1 => {
                let offset = step as i64;
                let deadline = now + Duration::from_millis(50);
                let t = book
                    .track(test_record(&topic, 0, offset), deadline)
                    .unwrap();
                waiting.push((t, offset));
                tracked_offsets.insert(offset);
            }
            2 if !waiting.is_empty() => {
                let i = (next() as usize) % waiting.len();
                let (t, o) = waiting.swap_remove(i);
                if let AckResult::Routed(_) = book.route(t) {
                    *left.entry(o).or_insert(0) += 1;
                    routed.push((t, o));
                }
            }
            3 => {
                for (t, r, _) in book.expire(now) {
                    *left.entry(r.offset()).or_insert(0) += 1;
                    routed.push((t, r.offset()));
                }
            }
            _ if !routed.is_empty() => {
                let i = (next() as usize) % routed.len();
                let (t, o) = routed.swap_remove(i);
                book.handed_over(t);
                handed.insert(o);
            }
            _ => {}
        }
        if step % 97 != 0 {
            continue;
        }
        if let Some(c) = book.partition("t", 0).and_then(|b| b.committable()) {
            let all_below_handed = tracked_offsets.range(..c).all(|o| handed.contains(o));
            assert!(
                all_below_handed,
                "committable {c} passed an unresolved record"
            );
        }
    }
    assert!(
        left.values().all(|&n| n == 1),
        "a record left the book twice"
    );
}
