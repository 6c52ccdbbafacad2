use super::*;
use crate::record::test_record;
use std::time::Duration;

fn book_with(offsets: &[i64], deadline: Instant) -> (PartitionBook, Vec<u64>) {
    let topic: Arc<str> = Arc::from("t");
    let mut book = PartitionBook::new(topic.clone(), 0);
    let seqs = offsets
        .iter()
        .map(|&o| book.track(test_record(&topic, 0, o), deadline).unwrap())
        .collect();
    (book, seqs)
}

#[test]
fn out_of_order_hand_over_never_passes_an_unresolved_record() {
    let now = Instant::now();
    let (mut book, s) = book_with(&[7, 8, 9, 10], now);
    for &seq in &s[1..] {
        book.route(seq).unwrap();
        assert!(!book.handed_over(seq), "offset 7 is unresolved");
    }
    assert_eq!(book.committable(), None);
    assert_eq!(book.tracked(), 4);
    book.route(s[0]).unwrap();
    assert!(book.handed_over(s[0]));
    assert_eq!(
        book.committable(),
        Some(11),
        "jumps past every handed-over record"
    );
    assert_eq!(book.tracked(), 0);
    assert_eq!(book.unresolved(), 0);
}

#[test]
fn offset_gaps_commit_one_past_the_last_handed_over() {
    let now = Instant::now();
    let (mut book, s) = book_with(&[3, 5, 9], now);
    book.route(s[0]).unwrap();
    book.handed_over(s[0]);
    assert_eq!(book.committable(), Some(4));
    book.route(s[1]).unwrap();
    book.handed_over(s[1]);
    assert_eq!(book.committable(), Some(6));
}

#[test]
fn a_record_is_routed_once() {
    let (mut book, s) = book_with(&[0], Instant::now());
    assert!(book.route(s[0]).is_some());
    assert!(book.route(s[0]).is_none(), "second ack is late");
    assert_eq!(book.state(s[0]), Some(RecordState::Routed));
}

#[test]
fn refetched_offsets_are_not_tracked_twice() {
    let (mut book, _) = book_with(&[0, 1], Instant::now());
    let topic = book.topic().clone();
    assert!(book
        .track(test_record(&topic, 0, 1), Instant::now())
        .is_none());
    assert!(book
        .track(test_record(&topic, 0, 2), Instant::now())
        .is_some());
}

#[test]
fn expiry_takes_only_due_waiting_records_in_order() {
    let t0 = Instant::now();
    let topic: Arc<str> = Arc::from("t");
    let mut book = PartitionBook::new(topic.clone(), 0);
    let ms = Duration::from_millis;
    let s0 = book.track(test_record(&topic, 0, 0), t0 + ms(10)).unwrap();
    let s1 = book.track(test_record(&topic, 0, 1), t0 + ms(20)).unwrap();
    let _s2 = book.track(test_record(&topic, 0, 2), t0 + ms(30)).unwrap();
    book.route(s1).unwrap(); // acked before its deadline
    assert_eq!(book.next_deadline(), Some(t0 + ms(10)));

    let mut expired = Vec::new();
    book.expire(t0 + ms(25), &mut expired);
    let offsets: Vec<i64> = expired.iter().map(|(_, r, _)| r.offset()).collect();
    assert_eq!(offsets, vec![0], "1 was acked, 2 is not due");
    assert_eq!(expired[0].0, s0);
    assert_eq!(
        expired[0].2,
        t0 + ms(10),
        "each carries the deadline it missed"
    );
    assert_eq!(book.next_deadline(), Some(t0 + ms(30)));
    book.expire(t0 + ms(30), &mut expired);
    assert_eq!(expired.len(), 2);
    assert_eq!(book.next_deadline(), None);
}

#[test]
fn custom_deadlines_expire_at_their_own_time_among_default_ones() {
    let t0 = Instant::now();
    let ms = |n| Duration::from_millis(n);
    let topic: Arc<str> = Arc::from("t");
    let mut book = PartitionBook::new(topic.clone(), 0);
    let d0 = book.track(test_record(&topic, 0, 0), t0 + ms(10)).unwrap();
    let long = book
        .track_custom(test_record(&topic, 0, 1), t0 + ms(100))
        .unwrap();
    let short = book
        .track_custom(test_record(&topic, 0, 2), t0 + ms(1))
        .unwrap();
    let d3 = book.track(test_record(&topic, 0, 3), t0 + ms(20)).unwrap();
    let acked = book
        .track_custom(test_record(&topic, 0, 4), t0 + ms(5))
        .unwrap();
    assert_eq!(book.next_deadline(), Some(t0 + ms(1)));

    book.route(acked).unwrap();
    let mut expired = Vec::new();
    book.expire(t0 + ms(20), &mut expired);
    let seqs: Vec<u64> = expired.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(
        seqs,
        vec![d0, d3, short],
        "due ones only; the acked one is not"
    );
    assert_eq!(
        book.next_deadline(),
        Some(t0 + ms(100)),
        "the long one waits"
    );

    // The watermark still stops at the long-timeout record until it is handed over.
    for seq in [d0, short, d3, acked] {
        book.handed_over(seq);
    }
    assert_eq!(book.committable(), Some(1));
    expired.clear();
    book.expire(t0 + ms(100), &mut expired);
    assert_eq!(expired.len(), 1);
    assert!(book.handed_over(long));
    assert_eq!(book.committable(), Some(5));
    assert_eq!(book.next_deadline(), None);
}

#[test]
fn a_deferred_record_holds_the_watermark_and_times_out_only_once_started() {
    let t0 = Instant::now();
    let ms = |n| Duration::from_millis(n);
    let topic: Arc<str> = Arc::from("t");
    let mut book = PartitionBook::new(topic.clone(), 0);
    let first = book.track(test_record(&topic, 0, 0), t0).unwrap();
    let deferred = book.track_deferred(test_record(&topic, 0, 1), t0).unwrap();
    let mut expired = Vec::new();
    book.expire(t0 + ms(1_000), &mut expired);
    assert_eq!(expired.len(), 1, "only the started one");
    assert!(book.handed_over(first));
    assert_eq!(
        book.committable(),
        Some(1),
        "the deferred record holds offset 1"
    );
    assert_eq!(book.next_deadline(), None);

    assert!(book.start_deadline(deferred, t0 + ms(50)));
    assert_eq!(book.next_deadline(), Some(t0 + ms(50)));
    expired.clear();
    book.expire(t0 + ms(50), &mut expired);
    assert_eq!(expired.len(), 1);
    assert!(!book.start_deadline(deferred, t0), "no longer waiting");
}

#[test]
fn a_book_restarts_from_its_last_commit_or_its_first_record() {
    let t0 = Instant::now();
    let (mut book, seqs) = book_with(&[5, 6, 7], t0);
    assert_eq!(book.restart_offset(), Some(5));
    assert_eq!(book.offset_of(seqs[1]), Some(6));
    book.route(seqs[0]);
    book.handed_over(seqs[0]);
    assert_eq!(book.offset_of(seqs[0]), None, "forgotten once committable");
    assert_eq!(book.take_commit(), Some(6));
    assert_eq!(book.restart_offset(), Some(5), "requested is not committed");
    book.commit_confirmed(6);
    assert_eq!(book.restart_offset(), Some(6));
}

#[test]
fn a_failed_commit_is_offered_again() {
    let (mut book, s) = book_with(&[0], Instant::now());
    book.route(s[0]).unwrap();
    book.handed_over(s[0]);
    assert_eq!(book.take_commit(), Some(1));
    assert_eq!(book.take_commit(), None, "already requested");
    book.commit_failed(1);
    assert_eq!(book.take_commit(), Some(1), "offered again after a failure");
    book.commit_confirmed(1);
    assert_eq!(book.committed(), Some(1));
}
