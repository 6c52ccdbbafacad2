//! Retries driven with `now`: a refused batch, a batch whose actor is restarting, a failed
//! commit; each comes back at its time, never before, and `poll_timeout` says when.

use std::sync::Arc;

use super::*;
use crate::config::ConsumerConfig;
use crate::outcome::Verdict;
use crate::record::keyed_record as record;
use crate::supervision::{RestartPolicy, Role};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pipeline(config: ConsumerConfig) -> Pipeline {
    Pipeline::new(&config.ack_timeout(Duration::from_secs(3))).unwrap()
}

/// Acks one record of each of `partitions` at `now` and takes their batch.
fn acked_batch(p: &mut Pipeline, partitions: std::ops::Range<i32>, now: Instant) -> OutcomeBatch {
    p.handle_fetched(partitions.map(|n| record(n, 0, None)).collect(), now);
    for o in p.poll_outbound() {
        p.handle_answer(o.token, Verdict::Ack, now);
    }
    p.poll_handover().expect("a batch")
}

fn first_token(batch: &OutcomeBatch) -> Token {
    batch.tokens()[0]
}

#[test]
fn a_refused_batch_is_offered_again_exactly_at_its_due_time_and_not_before() {
    let mut p = pipeline(ConsumerConfig::new("b", "g"));
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, 0..2, t0);
    let tokens = batch.tokens().to_vec();
    let due = p.handle_refused(batch, t0);
    assert_eq!(due, t0 + ms(100));
    assert_eq!(p.poll_timeout(), Some(due), "the retry, before no deadline");
    assert!(
        p.poll_handover().is_none(),
        "a refused batch is no new work"
    );
    assert!(p.poll_retry(due - ms(1)).is_none(), "not before its time");
    let again = p.poll_retry(due).expect("at its time");
    assert_eq!(again.tokens(), tokens, "the same records");
    assert!(p.poll_retry(due + ms(1000)).is_none(), "given once");
    assert_eq!(p.poll_timeout(), None);
    // Refused again: twice the wait, counted from the second refusal.
    let due = p.handle_refused(again, due);
    assert_eq!(due, t0 + ms(300));
    let batch = p.poll_retry(due).unwrap();
    p.handle_accepted(&batch);
    assert_eq!(p.counters().handover_failures, 2);
    assert_eq!(p.counters().handed_over, 2);
}

#[test]
fn refused_batches_come_back_in_the_order_of_their_due_times() {
    let mut p = pipeline(ConsumerConfig::new("b", "g").handover_batch(1));
    let t0 = Instant::now();
    let a = acked_batch(&mut p, 0..3, t0);
    let (b, c) = (p.poll_handover().unwrap(), p.poll_handover().unwrap());
    let (ta, tb, tc) = (first_token(&a), first_token(&b), first_token(&c));
    assert_eq!(p.handle_refused(a, t0), t0 + ms(100));
    assert_eq!(p.handle_refused(b, t0), t0 + ms(200));
    // An accepted batch starts the back-off over: c, refused later, is due before b.
    p.handle_accepted(&OutcomeBatch::Acked(Vec::new(), Vec::new()));
    assert_eq!(p.handle_refused(c, t0 + ms(50)), t0 + ms(150));
    assert_eq!(p.poll_timeout(), Some(t0 + ms(100)));
    let order: Vec<Token> = std::iter::from_fn(|| p.poll_retry(t0 + ms(200)))
        .map(|batch| first_token(&batch))
        .collect();
    assert_eq!(order, [ta, tc, tb]);
}

#[test]
fn a_refused_batch_loses_the_records_of_partitions_released_meanwhile() {
    let mut p = pipeline(ConsumerConfig::new("b", "g"));
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, 0..1, t0);
    let due = p.handle_refused(batch, t0);
    p.handle_revoking(vec![(Arc::from("t"), 0)], t0);
    // Released at its time limit: the refused records were never accepted.
    let limit = t0 + ConsumerConfig::new("b", "g").revocation_wait();
    assert!(limit > due && p.poll_released(limit).is_some());
    assert_eq!(p.poll_timeout(), Some(due), "the timer still comes");
    assert!(p.poll_retry(limit).is_none(), "nothing left to offer");
    assert_eq!(p.poll_timeout(), None, "and the batch is gone");
}

#[test]
fn a_batch_whose_actor_is_restarting_waits_for_the_restart_and_at_least_10_ms() {
    let mut p = pipeline(ConsumerConfig::new("b", "g"));
    p.supervise(Role::Acked, RestartPolicy::default());
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, 0..1, t0);
    // No restart pending: 10 ms.
    let due = p.handle_not_running(batch, t0);
    assert_eq!(due, t0 + ms(10));
    let batch = p.poll_retry(due).unwrap();
    // A restart 100 ms away: then.
    p.handle_died(Role::Acked, "boom".into(), t0);
    let restart = p.supervision().next_restart().unwrap();
    assert_eq!(restart, t0 + ms(100));
    assert_eq!(p.handle_not_running(batch, t0), restart);
    assert!(p.poll_retry(restart - ms(1)).is_none());
    let batch = p.poll_retry(restart).unwrap();
    // The restart almost due: still 10 ms.
    assert_eq!(
        p.handle_not_running(batch, restart - ms(5)),
        restart + ms(5)
    );
    assert_eq!(p.counters().handover_failures, 0, "no refusal");
    // Nor does it move the back-off.
    let batch = p.poll_retry(restart + ms(5)).unwrap();
    assert_eq!(p.handle_refused(batch, t0), t0 + ms(100));
}

#[test]
fn a_failed_commit_is_retried_at_its_time_and_no_commit_goes_before() {
    let config = ConsumerConfig::new("b", "g").commit_every(1);
    let mut p = pipeline(config);
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, 0..1, t0);
    p.handle_accepted(&batch);
    let plan = p.poll_commit(t0).expect("commit_every reached");
    let retry = p.handle_commit_failed(plan.offsets(), t0).unwrap();
    assert_eq!(retry, t0 + ms(50));
    assert_eq!(p.poll_timeout(), Some(retry));
    // Another record handed over reaches commit_every again: it waits for the retry.
    let batch = acked_batch(&mut p, 1..2, t0);
    p.handle_accepted(&batch);
    assert_eq!(p.poll_commit(retry - ms(1)), None, "not before its time");
    assert!(!p.guard_wants_commit(), "nor for the crash-loop guard");
    let again = p.poll_commit(retry).expect("the retry");
    assert_eq!(
        again.offsets().len(),
        2,
        "the failed offset and the new one"
    );
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(p.poll_commit(retry), None, "given once");
    // Failing again: twice the wait.
    let retry = p.handle_commit_failed(again.offsets(), retry).unwrap();
    assert_eq!(retry, t0 + ms(150));
    // A commit taken meanwhile (the commit period, a `Commit` request) is the retry.
    assert_eq!(p.take_commit(), Some(again));
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn after_the_final_commit_a_failure_is_not_retried() {
    let mut p = pipeline(ConsumerConfig::new("b", "g"));
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, 0..1, t0);
    p.handle_accepted(&batch);
    p.handle_stop(t0);
    let last = p.poll_stop(t0).expect("the final commit");
    assert_eq!(p.handle_commit_failed(last.offsets(), t0), None);
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(p.counters().commit_failures, 1);
}

#[test]
fn the_timeout_is_the_earliest_of_an_ack_deadline_a_hand_over_retry_and_a_commit_retry() {
    let mut p = pipeline(ConsumerConfig::new("b", "g"));
    let t0 = Instant::now();
    // A commit retry at 50 ms, a refused batch at 100 ms, a silent record at 3 s.
    let batch = acked_batch(&mut p, 0..1, t0);
    p.handle_accepted(&batch);
    let plan = p.take_commit().unwrap();
    let refused = acked_batch(&mut p, 1..2, t0);
    p.handle_fetched(vec![record(2, 0, None)], t0);
    let silent = p.poll_outbound()[0].deadline;
    assert_eq!(silent, t0 + Duration::from_secs(3));
    let armed = p.poll_timeout();
    assert_eq!(armed, Some(silent));
    let handover_retry = p.handle_refused(refused, t0);
    assert_eq!(p.poll_timeout_before(armed), Some(handover_retry), "sooner");
    let commit_retry = p.handle_commit_failed(plan.offsets(), t0).unwrap();
    assert_eq!(
        p.poll_timeout_before(Some(handover_retry)),
        Some(commit_retry)
    );
    assert_eq!(p.poll_timeout_before(Some(commit_retry)), None, "it stands");
    assert_eq!(p.poll_timeout(), Some(t0 + ms(50)));
    assert!(p.poll_commit(commit_retry).is_some());
    assert_eq!(p.poll_timeout(), Some(t0 + ms(100)));
    let batch = p.poll_retry(handover_retry).unwrap();
    p.handle_accepted(&batch);
    assert_eq!(p.poll_timeout(), Some(silent));
}
