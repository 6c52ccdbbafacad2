//! The pipeline driven by hand: no actix, no broker, no clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::record::keyed_record as record;
use crate::record::{Header, RecordData};

fn config() -> ConsumerConfig {
    ConsumerConfig::new("b", "g").ack_timeout(Duration::from_secs(3))
}

fn offsets(outbound: &[Outbound]) -> Vec<i64> {
    outbound.iter().map(|o| o.record.offset()).collect()
}

/// Hands over everything routed so far, as an outcome actor that accepts would.
fn accept_all(pipeline: &mut Pipeline) -> Vec<OutcomeBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = pipeline.poll_handover() {
        pipeline.handle_accepted(&batch);
        batches.push(batch);
    }
    batches
}

#[test]
fn a_record_goes_from_fetch_to_commit() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config().commit_every(2)).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
    let out = pipeline.poll_outbound();
    assert_eq!(offsets(&out), [0, 1]);
    assert_eq!(out[0].deadline, t0 + Duration::from_secs(3));
    assert!(
        pipeline.poll_outbound().is_empty(),
        "each record is given once"
    );

    pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
    pipeline.handle_answer(out[0].token, Verdict::Nack("bad".into()), t0);
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    let batches = accept_all(&mut pipeline);
    assert_eq!(batches.len(), 2, "one acked, one no-acked batch");
    let counters = pipeline.counters();
    assert_eq!((counters.acked, counters.nacked), (1, 1));
    assert_eq!((counters.late_answers, counters.handed_over), (1, 2));
    let commit = pipeline.poll_commit(t0).expect("commit_every reached");
    assert_eq!(commit.offsets()[0].offset, 2);
    assert_eq!(pipeline.poll_commit(t0), None);
}

#[test]
fn a_dropped_delivery_is_no_acked_at_once_and_a_later_drop_changes_nothing() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
    let out = pipeline.poll_outbound();
    pipeline.handle_dropped(out[0].token, t0);
    pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
    pipeline.handle_dropped(out[1].token, t0);
    let batches = accept_all(&mut pipeline);
    let OutcomeBatch::NoAcked(_, no_acked) = &batches[1] else {
        panic!("{batches:?}");
    };
    assert_eq!(no_acked[0].reason, NoAckReason::Dropped);
    assert_eq!(pipeline.counters().dropped, 1);
    assert_eq!(pipeline.counters().no_acked(), 1);
    assert_eq!(
        pipeline.counters().late_answers,
        0,
        "a drop is not an answer"
    );
}

#[test]
fn with_key_ordering_the_next_of_a_key_goes_once_the_previous_has_an_outcome() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config().key_ordering(true)).unwrap();
    let fetched = vec![
        record(0, 0, Some("a")),
        record(0, 1, Some("a")),
        record(0, 2, Some("b")),
        record(0, 3, Some("a")),
    ];
    pipeline.handle_fetched(fetched, t0);
    let out = pipeline.poll_outbound();
    assert_eq!(offsets(&out), [0, 2]);
    assert_eq!(pipeline.queued_by_key(), 2);

    let t1 = t0 + Duration::from_secs(1);
    pipeline.handle_answer(out[0].token, Verdict::Ack, t1);
    let next = pipeline.poll_outbound();
    assert_eq!(offsets(&next), [1]);
    assert_eq!(
        next[0].deadline,
        t1 + Duration::from_secs(3),
        "its clock starts now"
    );
    // Undeliverable: the one after it follows at once.
    pipeline.handle_undeliverable(next[0].token, NoAckReason::Undecodable("x".into()), t1);
    assert_eq!(offsets(&pipeline.poll_outbound()), [3]);
    assert_eq!(pipeline.counters().undecodable, 1);
    assert_eq!(pipeline.queued_by_key(), 0);
}

#[test]
fn a_silent_record_times_out_at_its_deadline_and_the_timeout_says_when_to_call_back() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None)], t0);
    let out = pipeline.poll_outbound();
    let deadline = out[0].deadline;
    assert_eq!(pipeline.poll_timeout(), Some(deadline));
    pipeline.handle_timeout(deadline - Duration::from_millis(1));
    assert!(!pipeline.has_outcomes());
    pipeline.handle_timeout(deadline);
    assert_eq!(pipeline.counters().timed_out, 1);
    let Some(OutcomeBatch::NoAcked(_, records)) = pipeline.poll_handover() else {
        panic!("a no-acked batch");
    };
    assert_eq!(records[0].reason.to_string(), "timed out after 3000 ms");
    assert_eq!(pipeline.poll_timeout(), None);
}

#[test]
fn a_refused_batch_backs_off_doubling_until_one_is_accepted() {
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let t0 = Instant::now();
    let empty = || OutcomeBatch::Acked(Vec::new(), Vec::new());
    let refuse = |pipeline: &mut Pipeline| {
        let due = pipeline.handle_refused(empty(), t0);
        due.duration_since(t0).as_millis()
    };
    let delays: Vec<u128> = (0..8).map(|_| refuse(&mut pipeline)).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    pipeline.handle_accepted(&empty());
    assert_eq!(refuse(&mut pipeline), 100);
    assert_eq!(pipeline.counters().handover_failures, 9);
}

#[test]
fn a_revocation_releases_its_partitions_once_resolved_or_at_its_time_limit() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None), record(1, 0, None)], t0);
    let out = pipeline.poll_outbound();
    let id = pipeline.handle_revoking(vec![(Arc::from("t"), 0)], t0);
    assert_eq!(pipeline.poll_released(t0), None, "offset 0 is unresolved");
    assert_eq!(pipeline.poll_timeout(), Some(out[0].deadline));
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    let (released, offsets) = pipeline.poll_released(t0).unwrap();
    assert_eq!((released, offsets.offsets()[0].offset), (id, 1));
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    assert_eq!(
        pipeline.counters().unknown_answers,
        1,
        "its partition is gone"
    );

    // Partition 1 is never answered: released at the time limit, uncommitted.
    pipeline.handle_revoking(vec![(Arc::from("t"), 1)], t0);
    let limit = t0 + config().revocation_wait();
    assert_eq!(
        pipeline.poll_released(limit - Duration::from_millis(1)),
        None
    );
    let (_, offsets) = pipeline.poll_released(limit).unwrap();
    assert!(offsets.is_empty());
    assert!(matches!(offsets, CommitPlan::Offsets(_)));
    assert_eq!(pipeline.unresolved(), 0);
}

#[test]
fn a_revocation_ends_within_the_rebalance_timeout_and_hands_over_nothing_after() {
    // The case: a 40 s ack timeout, a 10 s rebalance timeout; the revocation waits
    // 6.5 s (10 s less 3 s and a 500 ms heartbeat), not the 45 s the records could take.
    let config = config()
        .ack_timeout(Duration::from_secs(40))
        .property("max.poll.interval.ms", "10000")
        .property("heartbeat.interval.ms", "500");
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config).unwrap();
    let p0 = (0..4).map(|o| record(0, o, None)).collect();
    pipeline.handle_fetched(p0, t0);
    pipeline.handle_fetched(vec![record(1, 0, None)], t0);
    let out = pipeline.poll_outbound();
    // Offset 0 is acked and handed over; 1 acked and 2 nacked, both routed and waiting for
    // their hand-over; 3 is never answered; partition 1's record is acked and stays.
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    let refused = {
        pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
        pipeline.poll_handover().expect("offset 1's batch")
    };
    let due = pipeline.handle_refused(refused, t0);
    assert_eq!(due, t0 + Duration::from_millis(100));
    pipeline.handle_answer(out[2].token, Verdict::Nack("no".into()), t0);
    pipeline.handle_answer(out[4].token, Verdict::Ack, t0);

    let id = pipeline.handle_revoking(vec![(Arc::from("t"), 0)], t0);
    let limit = t0 + Duration::from_millis(6500);
    assert_eq!(
        pipeline.poll_timeout(),
        Some(due),
        "the refused batch's retry"
    );
    let offered = pipeline
        .poll_retry(due)
        .expect("offered again, unanswered yet");
    assert_eq!(
        pipeline.poll_timeout(),
        Some(limit),
        "before any record's deadline"
    );
    assert_eq!(
        pipeline.poll_released(limit - Duration::from_millis(1)),
        None
    );
    let (released, plan) = pipeline.poll_released(limit).unwrap();
    assert_eq!(released, id);
    assert_eq!(
        plan.offsets()[0].offset,
        1,
        "what was handed over is committed"
    );
    assert_eq!(pipeline.counters().left_to_next_owner, 3);
    // Nothing of partition 0 is handed over any more: not the nacked record waiting for
    // its hand-over, not the refused batch, not the silent record (never no-acked).
    let batches = accept_all(&mut pipeline);
    let handed: Vec<_> = batches.iter().flat_map(|b| b.tokens()).collect();
    assert_eq!(handed, [&out[4].token], "partition 1's record only");
    let due = pipeline.handle_refused(offered, limit);
    assert!(pipeline.poll_retry(due).is_none(), "not the refused batch");
    pipeline.handle_timeout(t0 + Duration::from_secs(40));
    assert!(pipeline.poll_handover().is_none());
    assert_eq!(pipeline.counters().timed_out, 0);
    pipeline.handle_answer(out[3].token, Verdict::Ack, limit);
    assert_eq!(
        pipeline.counters().unknown_answers,
        1,
        "a late answer is counted"
    );
}

#[test]
fn a_refused_batch_is_offered_again_while_its_partition_is_held() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None), record(1, 0, None)], t0);
    let out = pipeline.poll_outbound();
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
    let batch = pipeline.poll_handover().unwrap();
    let due = pipeline.handle_refused(batch, t0);
    let batch = pipeline.poll_retry(due).expect("both partitions held");
    assert_eq!(batch.tokens().len(), 2);
    let due = pipeline.handle_refused(batch, due);
    pipeline.handle_revoking(vec![(Arc::from("t"), 0)], t0);
    let released = t0 + config().revocation_wait();
    assert!(pipeline.poll_released(released).is_some());
    let batch = pipeline.poll_retry(due).expect("partition 1 is held");
    assert_eq!(batch.tokens(), [out[1].token]);
}

#[test]
fn a_stop_discards_later_records_and_gives_the_final_offsets_once() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None)], t0);
    let out = pipeline.poll_outbound();
    pipeline.handle_stop(t0);
    pipeline.handle_fetched(vec![record(0, 1, None)], t0);
    assert_eq!(pipeline.counters().discarded, 1);
    assert_eq!(pipeline.poll_stop(t0), None, "offset 0 is unresolved");
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    let last = pipeline.poll_stop(t0).unwrap();
    assert_eq!(last.offsets()[0].offset, 1);
    assert_eq!(pipeline.poll_stop(t0), None, "given once");
    assert_eq!(
        pipeline.take_commit(),
        None,
        "nothing is committed after the final offsets"
    );
}

#[test]
fn confirmed_commits_are_known_and_failed_ones_offered_again() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    pipeline.handle_fetched(vec![record(0, 0, None)], t0);
    let out = pipeline.poll_outbound();
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    let plan = pipeline.take_commit().unwrap();
    let offsets = plan.offsets().to_vec();
    assert_eq!(pipeline.uncommitted(), offsets);
    pipeline.handle_commit_failed(&offsets, t0);
    assert_eq!(pipeline.take_commit(), Some(plan), "offered again");
    pipeline.handle_committed(&offsets);
    assert!(pipeline.is_committed(&offsets));
    assert!(pipeline.uncommitted().is_empty());
    assert_eq!(pipeline.counters().commit_failures, 1);
}

#[test]
fn a_failed_commit_is_retried_soon_then_less_often_until_one_succeeds() {
    let config = config().commit_interval(Duration::from_millis(300));
    let mut pipeline = Pipeline::new(&config).unwrap();
    let t0 = Instant::now();
    pipeline.handle_fetched(vec![record(0, 0, None)], t0);
    let out = pipeline.poll_outbound();
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    let offsets = pipeline.take_commit().unwrap().offsets().to_vec();
    let wait = |retry: Option<Instant>| retry.unwrap().duration_since(t0).as_millis();
    let waits: Vec<u128> = (0..5)
        .map(|_| wait(pipeline.handle_commit_failed(&offsets, t0)))
        .collect();
    assert_eq!(
        waits,
        [50, 100, 200, 300, 300],
        "doubling up to the commit period"
    );
    pipeline.handle_committed(&offsets);
    assert_eq!(
        wait(pipeline.handle_commit_failed(&offsets, t0)),
        50,
        "soon again after a success"
    );
}

#[test]
fn in_flight_and_unconfirmed_records_past_max_uncommitted_ask_for_a_commit() {
    let config = config().max_uncommitted(3);
    let mut pipeline = Pipeline::new(&config).unwrap();
    let t0 = Instant::now();
    pipeline.handle_fetched((0..3).map(|o| record(0, o, None)).collect(), t0);
    let out = pipeline.poll_outbound();
    assert!(
        !pipeline.over_uncommitted(),
        "3 in flight, none handed over"
    );
    pipeline.handle_answer(out[0].token, Verdict::Ack, t0);
    pipeline.handle_answer(out[1].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    assert_eq!(pipeline.unconfirmed(), 2);
    assert!(
        pipeline.over_uncommitted(),
        "2 handed over + 1 in flight, limit 3"
    );
    pipeline.handle_answer(out[2].token, Verdict::Ack, t0);
    accept_all(&mut pipeline);
    assert!(pipeline.over_uncommitted(), "3 handed over, none confirmed");
    let plan = pipeline.take_commit().unwrap();
    assert!(pipeline.over_uncommitted(), "requested is not confirmed");
    pipeline.handle_committed(plan.offsets());
    assert!(!pipeline.over_uncommitted());
    assert!(
        !Pipeline::new(&super::tests::config())
            .unwrap()
            .over_uncommitted(),
        "no limit by default"
    );
}

#[test]
fn a_call_back_already_set_stands_until_an_earlier_deadline_comes() {
    let t0 = Instant::now();
    let config = config().ack_timeout_header("gig.timeout", Duration::from_secs(60));
    let mut pipeline = Pipeline::new(&config).unwrap();
    pipeline.handle_fetched((0..64).map(|p| record(p, 0, None)).collect(), t0);
    let armed = pipeline.poll_timeout();
    assert_eq!(armed, Some(t0 + Duration::from_secs(3)));
    // Later records of any partition have later deadlines: the call-back stands, and no
    // partition is looked at.
    let t1 = t0 + Duration::from_millis(10);
    pipeline.handle_fetched(vec![record(7, 1, None), record(40, 1, None)], t1);
    assert_eq!(pipeline.poll_timeout_before(armed), None);
    // One with a shorter timeout of its own comes first: the driver is told.
    let short = RecordData {
        topic: Arc::from("t"),
        partition: 9,
        offset: 1,
        key: None,
        payload: None,
        headers: vec![Header {
            key: "gig.timeout".into(),
            value: Some(b"100".to_vec()),
        }],
        timestamp_ms: None,
    };
    pipeline.handle_fetched(vec![Record::new(short)], t1);
    let sooner = t1 + Duration::from_millis(100);
    assert_eq!(pipeline.poll_timeout_before(armed), Some(sooner));
    assert_eq!(pipeline.poll_timeout_before(Some(sooner)), None);
    // Without a call-back set, every partition is looked at.
    assert_eq!(pipeline.poll_timeout_before(None), Some(sooner));
}
