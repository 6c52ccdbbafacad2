use super::*;
use crate::config::ConsumerConfig;
use crate::outcome::Verdict;
use crate::record::keyed_record as record;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pipeline() -> Pipeline {
    let config = ConsumerConfig::new("b", "g").ack_timeout(ms(1000));
    let mut pipeline = Pipeline::new(&config).unwrap();
    pipeline.supervise(Role::Downstream, RestartPolicy::default());
    pipeline.supervise(Role::Acked, RestartPolicy::default());
    pipeline.supervise(Role::NoAcked, RestartPolicy::default());
    pipeline
}

#[test]
fn ack_clocks_stand_still_while_the_downstream_is_down() {
    let mut p = pipeline();
    let t0 = Instant::now();
    p.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
    let out = p.poll_outbound();
    assert_eq!(out[0].deadline, t0 + ms(1000));
    p.handle_died(Role::Downstream, "boom".into(), t0 + ms(500));
    assert_eq!(p.poll_timeout(), Some(t0 + ms(600)), "only the restart");
    p.handle_timeout(t0 + ms(5000));
    assert_eq!(p.counters().timed_out, 0, "no clock runs while it is down");
    assert_eq!(p.poll_restart(t0 + ms(5500)), Some(Role::Downstream));
    // Down for 5 s: the deadlines moved by as much.
    assert_eq!(p.poll_timeout(), Some(t0 + ms(6000)));
    let again = p.redeliver(out[1].token).unwrap();
    assert_eq!(again.deadline, t0 + ms(6000));
    assert_eq!(p.counters().redelivered, 1);
    p.handle_timeout(t0 + ms(5999));
    assert_eq!(p.counters().timed_out, 0);
    p.handle_timeout(t0 + ms(6000));
    assert_eq!(p.counters().timed_out, 2);
}

#[test]
fn the_record_a_handler_panicked_on_goes_to_no_acked_as_panicked() {
    let mut p = pipeline();
    let t0 = Instant::now();
    p.handle_fetched(vec![record(0, 0, None)], t0);
    let token = p.poll_outbound()[0].token;
    p.handle_panicked(token, "boom".into(), t0);
    p.handle_answer(token, Verdict::Ack, t0);
    assert_eq!(p.counters().panicked, 1);
    assert_eq!(p.counters().late_answers, 1);
    let Some(OutcomeBatch::NoAcked(_, records)) = p.poll_handover() else {
        panic!("a no-acked hand-over");
    };
    let reason = NoAckReason::Panicked {
        message: "boom".into(),
    };
    assert_eq!(records[0].reason, reason);
    assert!(p.redeliver(token).is_none(), "it has an outcome");
}

/// Hands over what is pending, as an outcome actor that died on record `dies_on` would.
fn acked_batch(p: &mut Pipeline, t0: Instant, n: i64) -> OutcomeBatch {
    let records = (0..n).map(|o| record(0, o, None)).collect();
    p.handle_fetched(records, t0);
    for o in p.poll_outbound() {
        p.handle_answer(o.token, Verdict::Ack, t0);
    }
    p.poll_handover().unwrap()
}

#[test]
fn an_acked_batch_lost_with_its_actor_is_offered_again_one_record_at_a_time() {
    let mut p = pipeline();
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, t0, 3);
    assert_eq!(batch.tokens().len(), 3);
    p.handle_died(Role::Acked, "boom on 1".into(), t0);
    p.handle_handover_lost(batch, "boom on 1");
    assert!(p.poll_handover().is_none(), "nothing while it restarts");
    assert_eq!(p.poll_restart(t0 + ms(100)), Some(Role::Acked));
    let first = p.poll_handover().unwrap();
    assert_eq!(first.tokens().len(), 1);
    assert!(p.poll_handover().is_none(), "one suspect at a time");
    p.handle_accepted(&first);
    let second = p.poll_handover().unwrap();
    // The actor dies on the second record alone: it goes to no-acked as panicked.
    p.handle_died(Role::Acked, "boom on 1".into(), t0 + ms(200));
    p.handle_handover_lost(second, "boom on 1");
    assert_eq!(p.counters().panicked, 1);
    assert_eq!(p.poll_restart(t0 + ms(400)), Some(Role::Acked));
    let mut kinds = Vec::new();
    while let Some(batch) = p.poll_handover() {
        kinds.push((batch.role(), batch.tokens().len()));
        p.handle_accepted(&batch);
    }
    assert_eq!(kinds, [(Role::Acked, 1), (Role::NoAcked, 1)]);
    assert_eq!(p.counters().handed_over, 3);
    assert!(p.stall(t0).is_none());
}

#[test]
fn a_no_acked_record_its_actor_dies_on_alone_is_set_aside_and_stalls_the_consumer() {
    let mut p = pipeline();
    let t0 = Instant::now();
    p.handle_fetched(vec![record(0, 0, None), record(0, 1, None)], t0);
    for o in p.poll_outbound() {
        p.handle_answer(o.token, Verdict::Nack("bad".into()), t0);
    }
    let batch = p.poll_handover().unwrap();
    p.handle_died(Role::NoAcked, "boom".into(), t0);
    p.handle_handover_lost(batch, "boom");
    p.poll_restart(t0 + ms(100));
    let first = p.poll_handover().unwrap();
    p.handle_died(Role::NoAcked, "boom".into(), t0 + ms(100));
    p.handle_handover_lost(first, "boom");
    assert_eq!(p.stuck().len(), 1);
    assert_eq!(p.stuck()[0].offset, 0);
    assert!(p.must_pause());
    let stall = p.stall(t0).unwrap();
    assert!(stall.contains("/0@0 alone (boom)"), "{stall}");
    p.poll_restart(t0 + ms(400));
    let second = p.poll_handover().unwrap();
    p.handle_accepted(&second);
    assert!(
        p.take_commit().is_none(),
        "nothing committed past the stuck record"
    );
}

#[test]
fn hand_overs_refused_past_the_limit_stall_the_consumer_until_one_is_accepted() {
    let mut p = pipeline();
    let t0 = Instant::now();
    let batch = acked_batch(&mut p, t0, 1);
    let due = p.handle_refused(batch, t0);
    let limit = p.config.handover_refused_limit;
    assert!(p.stall(t0 + limit - ms(1)).is_none());
    let stall = p.stall(t0 + limit).unwrap();
    assert!(stall.contains("acked actor has refused"), "{stall}");
    let batch = p.poll_retry(due).unwrap();
    p.handle_accepted(&batch);
    assert!(p.stall(t0 + limit).is_none());
}
