//! The transactional mode driven by hand: which outputs go in which transaction, one
//! transaction at a time, an abort that rewinds, a fenced producer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::ack_book::CommitOffset;
use crate::producer_record::ProducerRecord;
use crate::record::keyed_record as record;

fn config() -> ConsumerConfig {
    ConsumerConfig::new("b", "g")
        .ack_timeout(Duration::from_secs(3))
        .transactional("tx")
}

fn out(source: &Record) -> ProducerRecord {
    ProducerRecord::new("out", format!("{}@{}", source.partition(), source.offset()))
}

fn payloads(txn: &Transaction) -> Vec<String> {
    let text = |r: &ProducerRecord| String::from_utf8(r.payload.clone().unwrap()).unwrap();
    txn.outputs.iter().map(text).collect()
}

fn offset(partition: i32, offset: i64) -> CommitOffset {
    CommitOffset {
        topic: Arc::from("t"),
        partition,
        offset,
        marker: None,
    }
}

/// Fetches `offsets` of partition `p` and returns what to deliver.
fn fetch(
    pipeline: &mut Pipeline,
    p: i32,
    offsets: std::ops::Range<i64>,
    now: Instant,
) -> Vec<Outbound> {
    let records = offsets.map(|o| record(p, o, None)).collect();
    pipeline.handle_fetched(records, now);
    pipeline.poll_outbound()
}

/// Acks `outbound` and hands everything over, each record asking for one output.
fn ack_with_outputs<'a>(
    pipeline: &mut Pipeline,
    outbound: impl IntoIterator<Item = &'a Outbound>,
    now: Instant,
) {
    for o in outbound {
        pipeline.handle_answer(o.token, Verdict::Ack, now);
    }
    while let Some(batch) = pipeline.poll_handover() {
        let OutcomeBatch::Acked(tokens, records) = &batch else {
            panic!("{batch:?}");
        };
        let outputs = tokens
            .iter()
            .zip(records)
            .map(|(t, r)| (*t, out(r)))
            .collect();
        pipeline.handle_accepted_with(&batch, outputs);
    }
}

fn transaction(plan: Option<CommitPlan>) -> Transaction {
    match plan {
        Some(CommitPlan::Transaction(txn)) => txn,
        other => panic!("no transaction: {other:?}"),
    }
}

#[test]
fn an_output_goes_in_the_transaction_that_commits_its_source() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let delivered = fetch(&mut pipeline, 0, 0..3, t0);
    ack_with_outputs(&mut pipeline, [&delivered[0], &delivered[2]], t0);
    let first = transaction(pipeline.take_commit());
    assert_eq!(first.offsets, [offset(0, 1)]);
    assert_eq!(
        payloads(&first),
        ["0@0"],
        "offset 2 waits behind the unanswered 1"
    );
    assert_eq!(
        first.rewind,
        [offset(0, 0)],
        "before any commit: the first record"
    );
    assert_eq!(pipeline.take_commit(), None, "one transaction at a time");

    pipeline.handle_transaction(first, TransactionResult::Committed);
    assert_eq!(pipeline.committed().get(&(Arc::from("t"), 0)), Some(&1));
    ack_with_outputs(&mut pipeline, &delivered[1..2], t0);
    let second = transaction(pipeline.take_commit());
    assert_eq!(second.offsets, [offset(0, 3)]);
    assert_eq!(payloads(&second), ["0@1", "0@2"], "in offset order");
    assert_eq!(second.rewind, [offset(0, 1)], "the last commit");
    pipeline.handle_transaction(second, TransactionResult::Committed);
    let counters = pipeline.counters();
    assert_eq!((counters.transactions, counters.outputs_committed), (2, 3));
    assert_eq!(pipeline.take_commit(), None, "nothing moved");
}

#[test]
fn a_sources_outputs_keep_their_order_and_sources_go_in_offset_order() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let delivered = fetch(&mut pipeline, 0, 0..3, t0);
    for o in delivered.iter().rev() {
        pipeline.handle_answer(o.token, Verdict::Ack, t0);
        // One hand-over per answer: the sources are accepted 2, 1, 0.
        while let Some(batch) = pipeline.poll_handover() {
            let OutcomeBatch::Acked(tokens, records) = &batch else {
                panic!("{batch:?}");
            };
            let outputs = tokens
                .iter()
                .zip(records)
                .flat_map(|(t, r)| {
                    let at = format!("{}@{}", r.partition(), r.offset());
                    ["a", "b"].map(|n| (*t, ProducerRecord::new("out", format!("{at}{n}"))))
                })
                .collect();
            pipeline.handle_accepted_with(&batch, outputs);
        }
    }
    let txn = transaction(pipeline.take_commit());
    assert_eq!(
        payloads(&txn),
        ["0@0a", "0@0b", "0@1a", "0@1b", "0@2a", "0@2b"]
    );
}

#[test]
fn an_aborted_transaction_reads_its_partitions_again_from_their_last_commit() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0, t0);
    let first = transaction(pipeline.take_commit());
    pipeline.handle_transaction(first, TransactionResult::Committed);

    let p0 = fetch(&mut pipeline, 0, 2..5, t0);
    let p1 = fetch(&mut pipeline, 1, 0..1, t0);
    ack_with_outputs(&mut pipeline, &p0[..2], t0);
    let doomed = transaction(pipeline.take_commit());
    assert_eq!(doomed.offsets, [offset(0, 4)]);
    assert_eq!(doomed.rewind, [offset(0, 2)]);
    pipeline.handle_transaction(doomed, TransactionResult::Aborted);
    assert_eq!(pipeline.counters().transactions_aborted, 1);
    assert_eq!(
        pipeline.unresolved(),
        1,
        "partition 0 forgotten; 1/0 still waits"
    );

    // What was in flight of partition 0 changes nothing; what is fetched of it before the
    // rewind is done was fetched from before the rewind, and is dropped.
    pipeline.handle_answer(p0[2].token, Verdict::Ack, t0);
    assert_eq!(pipeline.counters().unknown_answers, 1);
    assert_eq!(pipeline.poll_rewind(), [offset(0, 2)]);
    assert!(pipeline.poll_rewind().is_empty(), "requested once");
    assert!(fetch(&mut pipeline, 0, 5..6, t0).is_empty());
    pipeline.handle_rewound(&[(Arc::from("t"), 0)], false);
    assert_eq!(
        pipeline.poll_rewind(),
        [offset(0, 2)],
        "not done: asked again"
    );
    pipeline.handle_rewound(&[(Arc::from("t"), 0)], true);

    // Read again from its last commit; the other partition never stopped.
    let again = fetch(&mut pipeline, 0, 2..5, t0);
    assert_eq!(again.len(), 3);
    ack_with_outputs(&mut pipeline, &again, t0);
    ack_with_outputs(&mut pipeline, &p1, t0);
    let retried = transaction(pipeline.take_commit());
    let mut offsets = retried.offsets.clone();
    offsets.sort_by_key(|o| o.partition);
    assert_eq!(offsets, [offset(0, 5), offset(1, 1)]);
    let mut made = payloads(&retried);
    made.sort();
    assert_eq!(made, ["0@2", "0@3", "0@4", "1@0"], "each output once");
}

#[test]
fn outputs_of_a_rewound_source_accepted_late_are_dropped() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0[..1], t0);
    pipeline.handle_answer(p0[1].token, Verdict::Ack, t0);
    let late = pipeline.poll_handover().unwrap();
    let doomed = transaction(pipeline.take_commit());
    pipeline.handle_transaction(doomed, TransactionResult::Aborted);
    let OutcomeBatch::Acked(tokens, records) = &late else {
        panic!("{late:?}");
    };
    pipeline.handle_accepted_with(&late, vec![(tokens[0], out(&records[0]))]);
    assert_eq!(
        pipeline.counters().outputs,
        1,
        "only the first, before the abort"
    );
    pipeline.handle_rewound(&[(Arc::from("t"), 0)], true);
    assert_eq!(
        pipeline.take_commit(),
        None,
        "nothing held for the rewound partition"
    );
}

#[test]
fn a_transaction_that_did_not_start_is_offered_again_with_what_came_since() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0[..1], t0);
    let unstarted = transaction(pipeline.take_commit());
    pipeline.handle_transaction(unstarted, TransactionResult::NotStarted);
    ack_with_outputs(&mut pipeline, &p0[1..], t0);
    let again = transaction(pipeline.take_commit());
    assert_eq!(again.offsets, [offset(0, 2)]);
    assert_eq!(payloads(&again), ["0@0", "0@1"]);
    assert_eq!(again.rewind, [offset(0, 0)]);
    assert_eq!(pipeline.counters().commit_failures, 1);
}

#[test]
fn a_fenced_producer_stops_delivery_hand_over_and_commits() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0[..1], t0);
    let txn = transaction(pipeline.take_commit());
    pipeline.handle_transaction(txn, TransactionResult::Fenced);
    assert!(pipeline.is_fenced());
    pipeline.handle_answer(p0[1].token, Verdict::Ack, t0);
    assert!(!pipeline.has_outcomes() && pipeline.poll_handover().is_none());
    assert!(fetch(&mut pipeline, 0, 2..3, t0).is_empty());
    assert_eq!(pipeline.take_commit(), None);
    pipeline.handle_stop(t0);
    let last = pipeline.poll_stop(t0).unwrap();
    assert!(
        last.is_empty(),
        "a zombie commits nothing, and does not wait: {last:?}"
    );
}

#[test]
fn a_revocation_waits_for_the_transaction_in_flight_then_commits_its_partitions_in_one() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..1, t0);
    let p1 = fetch(&mut pipeline, 1, 0..1, t0);
    ack_with_outputs(&mut pipeline, &p0, t0);
    let in_flight = transaction(pipeline.take_commit());
    ack_with_outputs(&mut pipeline, &p1, t0);
    let id = pipeline.handle_revoking(vec![(Arc::from("t"), 1)], t0);
    assert_eq!(
        pipeline.poll_released(t0),
        None,
        "a transaction is in flight"
    );
    pipeline.handle_transaction(in_flight, TransactionResult::Committed);
    let (released, plan) = pipeline.poll_released(t0).unwrap();
    assert_eq!(released, id);
    let txn = transaction(Some(plan));
    assert_eq!(txn.offsets, [offset(1, 1)]);
    assert_eq!(payloads(&txn), ["1@0"]);
    assert!(pipeline.in_transaction());
    pipeline.handle_transaction(txn, TransactionResult::Aborted);
    assert_eq!(
        pipeline.counters().rewinds,
        0,
        "released: its next owner reads it again"
    );
    assert!(pipeline.poll_rewind().is_empty());
}

#[test]
fn past_its_time_limit_a_revocation_with_a_transaction_in_flight_commits_nothing() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0[..1], t0);
    let _in_flight = transaction(pipeline.take_commit());
    ack_with_outputs(&mut pipeline, &p0[1..], t0);
    pipeline.handle_revoking(vec![(Arc::from("t"), 0)], t0);
    let (_, plan) = pipeline
        .poll_released(t0 + config().revocation_wait())
        .unwrap();
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn a_stop_waits_for_the_transaction_in_flight_then_commits_the_rest_in_one() {
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&config()).unwrap();
    let p0 = fetch(&mut pipeline, 0, 0..2, t0);
    ack_with_outputs(&mut pipeline, &p0[..1], t0);
    let in_flight = transaction(pipeline.take_commit());
    ack_with_outputs(&mut pipeline, &p0[1..], t0);
    pipeline.handle_stop(t0);
    assert_eq!(pipeline.poll_stop(t0), None);
    pipeline.handle_transaction(in_flight, TransactionResult::Committed);
    let last = transaction(pipeline.poll_stop(t0));
    assert_eq!(last.offsets, [offset(0, 2)]);
    assert_eq!(payloads(&last), ["0@1"]);
    pipeline.handle_transaction(last, TransactionResult::Committed);
    assert_eq!(pipeline.counters().transactions, 2);
}
