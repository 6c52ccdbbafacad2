//! The crash-loop guard's part of the pipeline, driven by hand.
use std::time::Duration;

use std::sync::Arc;
use std::time::Instant;

use super::*;
use super::{CommitPlan, OutcomeBatch};
use crate::ack_book::{CommitOffset, Partition};
use crate::config::ConsumerConfig;
use crate::crash_marker::Marker;
use crate::outcome::NoAckReason;
use crate::outcome::Verdict;
use crate::record::keyed_record as record;

fn pipeline() -> Pipeline {
    let config = ConsumerConfig::new("b", "g")
        .ack_timeout(Duration::from_secs(3))
        .max_in_flight(10)
        .commit_every(10);
    Pipeline::new(&config).unwrap()
}

fn partition() -> Partition {
    (Arc::from("t"), 0)
}

fn fetch(p: &mut Pipeline, offsets: std::ops::Range<i64>, now: Instant) -> Vec<i64> {
    p.handle_fetched(offsets.map(|o| record(0, o, None)).collect(), now);
    delivered(p, now)
}

/// The offsets the guard lets go now.
fn delivered(p: &mut Pipeline, now: Instant) -> Vec<i64> {
    p.poll_guards(now);
    p.poll_outbound()
        .iter()
        .map(|o| o.record.offset())
        .collect()
}

fn commit(p: &mut Pipeline) -> Vec<CommitOffset> {
    match p.take_commit() {
        Some(CommitPlan::Offsets(offsets)) => offsets,
        other => panic!("expected offsets, got {other:?}"),
    }
}

fn marker(until: i64, deliveries: Option<u32>) -> Option<Marker> {
    Some(Marker {
        until,
        deliveries,
        group_end: None,
    })
}

fn counted(until: i64, deliveries: u32, group_end: i64) -> Option<Marker> {
    Some(Marker {
        until,
        deliveries: Some(deliveries),
        group_end: Some(group_end),
    })
}

fn offsets_of(out: &[Outbound]) -> Vec<(i32, i64)> {
    let mut out: Vec<(i32, i64)> = out
        .iter()
        .map(|o| (o.record.partition(), o.record.offset()))
        .collect();
    out.sort();
    out
}

/// Acks and hands over every record delivered so far.
fn resolve(p: &mut Pipeline, delivered: &[Outbound], now: Instant) {
    for o in delivered {
        p.handle_answer(o.token, Verdict::Ack, now);
    }
    while let Some(batch) = p.poll_handover() {
        p.handle_accepted(&batch);
    }
}

#[test]
fn records_wait_for_a_marker_that_covers_them_and_the_next_is_asked_for_two_windows_early() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let assignment = p.handle_assigned(&[partition()]).unwrap();
    assert!(fetch(&mut p, 100..103, t0).is_empty(), "unknown: held");
    p.handle_committed_state(&partition(), assignment, Some(100), None, None);
    assert!(fetch(&mut p, 103..104, t0).is_empty(), "no marker yet");
    assert!(p.guard_wants_commit());
    let offsets = commit(&mut p);
    assert_eq!(offsets.len(), 1);
    assert_eq!(
        (offsets[0].offset, offsets[0].marker),
        (100, marker(144, None))
    );
    assert!(!p.guard_wants_commit(), "on its way");
    p.handle_committed(&offsets);
    assert_eq!(
        delivered(&mut p, t0),
        [100, 101, 102, 103],
        "in offset order"
    );
    // Below the marker, records are delivered as they come; two windows before it, the
    // next marker is asked for, four windows past what was fetched.
    assert_eq!(fetch(&mut p, 104..124, t0), (104..124).collect::<Vec<_>>());
    assert!(!p.guard_wants_commit());
    assert_eq!(fetch(&mut p, 124..125, t0), [124]);
    assert!(p.guard_wants_commit());
    let first = commit(&mut p);
    assert_eq!(first[0].marker, marker(165, None));
    // And again while that one is on its way: deliveries go on below the confirmed one.
    assert_eq!(fetch(&mut p, 125..144, t0), (125..144).collect::<Vec<_>>());
    assert!(
        !p.guard_wants_commit(),
        "not yet two windows before the last asked for"
    );
    assert_eq!(
        fetch(&mut p, 144..146, t0),
        Vec::<i64>::new(),
        "past the confirmed one"
    );
    assert!(p.guard_wants_commit());
    let second = commit(&mut p);
    assert_eq!(second[0].marker, marker(186, None));
    // The first's answer lets the held ones go; the second's is still awaited.
    p.handle_committed(&first);
    assert_eq!(delivered(&mut p, t0), [144, 145]);
    assert!(!p.guard_wants_commit(), "the second is on its way");
}

#[test]
fn after_a_crash_records_go_a_group_at_a_time_each_group_counted_before_it_goes() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let assignment = p.handle_assigned(&[partition()]).unwrap();
    let metadata = Some("gig1 h=102");
    p.handle_committed_state(&partition(), assignment, Some(100), metadata, None);
    assert!(fetch(&mut p, 100..104, t0).is_empty());
    // The records below the marker go as one group, delivered once already.
    let offsets = commit(&mut p);
    assert_eq!(
        (offsets[0].offset, offsets[0].marker),
        (100, counted(102, 2, 102))
    );
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    let group = p.poll_outbound();
    assert_eq!(offsets_of(&group), [(0, 100), (0, 101)]);
    p.poll_guards(t0);
    assert!(p.poll_outbound().is_empty(), "the rest waits for the group");
    resolve(&mut p, &group, t0);
    // Past the marker: a normal marker, then the rest flows.
    p.poll_guards(t0);
    let offsets = commit(&mut p);
    assert_eq!(
        (offsets[0].offset, offsets[0].marker),
        (102, marker(144, None))
    );
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    assert_eq!(offsets_of(&p.poll_outbound()), [(0, 102), (0, 103)]);
}

#[test]
fn a_group_processes_died_in_goes_a_record_at_a_time() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let assignment = p.handle_assigned(&[partition()]).unwrap();
    // Delivered 3 times as a group: with 5 at most, its records go alone from now.
    let metadata = Some("gig1 h=103 n=3 e=103");
    p.handle_committed_state(&partition(), assignment, Some(100), metadata, None);
    assert!(fetch(&mut p, 100..104, t0).is_empty());
    for offset in 100..103 {
        let offsets = commit(&mut p);
        let at = (offsets[0].offset, offsets[0].marker);
        assert_eq!(at, (offset, counted(103, 4, offset + 1)));
        p.handle_committed(&offsets);
        p.poll_guards(t0);
        let one = p.poll_outbound();
        assert_eq!(offsets_of(&one), [(0, offset)], "one at a time");
        resolve(&mut p, &one, t0);
        p.poll_guards(t0);
    }
}

#[test]
fn a_record_processes_died_on_max_deliveries_times_goes_to_no_acked_as_crashed() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let assignment = p.handle_assigned(&[partition()]).unwrap();
    let metadata = Some("gig1 h=9 n=5 e=8");
    p.handle_committed_state(&partition(), assignment, Some(7), metadata, None);
    assert!(fetch(&mut p, 7..9, t0).is_empty(), "never delivered again");
    let batch = p.poll_handover().unwrap();
    let OutcomeBatch::NoAcked(_, records) = &batch else {
        panic!("a no-acked hand-over: {batch:?}");
    };
    assert_eq!(records[0].record.offset(), 7);
    assert_eq!(records[0].reason, NoAckReason::Crashed { deliveries: 5 });
    assert_eq!(p.counters().crashed, 1);
    p.handle_accepted(&batch);
    p.poll_guards(t0);
    // The next record starts a group of its own.
    let offsets = commit(&mut p);
    assert_eq!(
        (offsets[0].offset, offsets[0].marker),
        (8, counted(9, 2, 9))
    );
}

#[test]
fn a_released_partition_is_committed_without_its_marker() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let assignment = p.handle_assigned(&[partition()]).unwrap();
    p.handle_committed_state(&partition(), assignment, Some(50), None, None);
    fetch(&mut p, 50..52, t0);
    let offsets = commit(&mut p);
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    assert_eq!(p.poll_outbound().len(), 2);
    let id = p.handle_revoking(vec![partition()], t0);
    let (released, plan) = p.poll_released(t0 + Duration::from_secs(60)).unwrap();
    assert_eq!(released, id);
    let offsets = plan.offsets().to_vec();
    assert_eq!(offsets.len(), 1);
    assert_eq!(
        (offsets[0].offset, offsets[0].marker),
        (50, None),
        "cleared where it was"
    );
}

#[test]
fn careful_partitions_go_side_by_side_while_the_others_flow() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let (a, b, c) = (
        (Arc::from("t"), 0),
        (Arc::from("t"), 1),
        (Arc::from("t"), 2),
    );
    let assignment = p
        .handle_assigned(&[a.clone(), b.clone(), c.clone()])
        .unwrap();
    p.handle_committed_state(&a, assignment, Some(0), Some("gig1 h=2"), None);
    p.handle_committed_state(&b, assignment, Some(0), Some("gig1 h=1"), None);
    p.handle_committed_state(&c, assignment, Some(0), None, None);
    let records = (0..2).flat_map(|o| (0..3).map(move |part| record(part, o, None)));
    p.handle_fetched(records.collect(), t0);
    p.poll_guards(t0);
    let offsets = commit(&mut p);
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    let out = offsets_of(&p.poll_outbound());
    let expected = [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)];
    assert_eq!(out, expected, "a group each; the rest flows");
}

#[test]
fn a_records_last_delivery_goes_alone_in_the_whole_consumer() {
    let (mut p, t0) = (pipeline(), Instant::now());
    let (a, c) = ((Arc::from("t"), 0), (Arc::from("t"), 2));
    let assignment = p.handle_assigned(&[a.clone(), c.clone()]).unwrap();
    p.handle_committed_state(&c, assignment, Some(0), None, None);
    let records = (0..2).map(|o| record(2, o, None)).collect();
    p.handle_fetched(records, t0);
    p.poll_guards(t0);
    let offsets = commit(&mut p);
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    let flowing = p.poll_outbound();
    assert_eq!(flowing.len(), 2, "partition 2 flows");
    // Partition 0's record was delivered 4 times: its fifth goes alone, once partition 2's
    // records are resolved; partition 2 waits meanwhile.
    p.handle_committed_state(&a, assignment, Some(0), Some("gig1 h=1 n=4 e=1"), None);
    p.handle_fetched(vec![record(0, 0, None)], t0);
    p.poll_guards(t0);
    p.handle_fetched(vec![record(2, 2, None)], t0);
    p.poll_guards(t0);
    assert!(p.take_commit().is_none_or(|plan| plan
        .offsets()
        .iter()
        .all(|c| c.marker.is_none_or(|m| m.deliveries.is_none()))));
    assert_eq!(p.held_back(), std::slice::from_ref(&c));
    resolve(&mut p, &flowing, t0);
    p.poll_guards(t0);
    let offsets = commit(&mut p);
    let counted = offsets.iter().find(|c| c.partition == 0).unwrap();
    assert_eq!(
        (counted.offset, counted.marker),
        (0, self::counted(1, 5, 1))
    );
    p.handle_committed(&offsets);
    p.poll_guards(t0);
    let alone = p.poll_outbound();
    let alone_at: Vec<(i32, i64)> = alone
        .iter()
        .map(|o| (o.record.partition(), o.record.offset()))
        .collect();
    assert_eq!(alone_at, [(0, 0)], "alone");
    resolve(&mut p, &alone, t0);
    p.poll_guards(t0);
    assert!(p.held_back().is_empty());
    let rest: Vec<(i32, i64)> = p
        .poll_outbound()
        .iter()
        .map(|o| (o.record.partition(), o.record.offset()))
        .collect();
    assert_eq!(rest, [(2, 2)], "partition 2 flows again");
}

#[test]
fn with_max_deliveries_0_there_is_no_guard() {
    let config = ConsumerConfig::new("b", "g").max_deliveries(0);
    let mut p = Pipeline::new(&config).unwrap();
    assert_eq!(p.handle_assigned(&[partition()]), None);
    assert_eq!(fetch(&mut p, 0..2, Instant::now()), [0, 1]);
    assert!(!p.guard_wants_commit());
}
