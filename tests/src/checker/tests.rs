//! The checker on hand-written ledgers.

use std::collections::BTreeSet;

use super::*;

/// `(partition, offset, key)` records as produced.
fn produced(records: &[(i32, i64, &str)]) -> Vec<Produced> {
    records
        .iter()
        .map(|&(partition, offset, key)| Produced {
            partition,
            offset,
            key: Some(key.to_string()),
        })
        .collect()
}

/// Key `k` on partition 0, offsets 0..n.
fn one_key(n: i64) -> Vec<Produced> {
    produced(&(0..n).map(|o| (0, o, "k")).collect::<Vec<_>>())
}

/// A ledger line: partition 0, key `k`, delivered at `start` for 10 µs.
fn line(offset: i64, process: u32, start: u64) -> String {
    format!("0 {offset} {process} ack k {start} {}\n", start + 10)
}

fn run(produced: &[Produced], text: &str) -> Report {
    check(produced, &Ledgers::parse(text), true)
}

#[test]
fn a_clean_run_with_a_rewind_after_a_restart_passes() {
    // Process 1 reads 0..3 and commits 2; it dies; process 2 starts at the commit.
    let text = [
        line(0, 1, 100),
        line(1, 1, 200),
        "C 0 2 1 250\n".to_string(),
        line(2, 1, 300),
        line(2, 2, 1000),
        line(3, 2, 1100),
    ]
    .concat();
    let report = run(&one_key(4), &text);
    assert!(report.clean(), "{report} {:?}", report.examples);
    assert_eq!((report.duplicates, report.rewinds), (1, 1));
    assert_eq!(report.processes, 2);
    assert_eq!(
        report.to_string(),
        "records=4 handed_over=5 processes=2 rewinds=1 lost=0 poll_skips=0 \
         order_violations=0 serial_violations=0 reprocessed_after_commit=0 duplicates=1"
    );
}

#[test]
fn a_record_no_one_handed_over_is_lost() {
    let text = [line(0, 1, 100), line(1, 1, 200)].concat();
    let report = run(&one_key(3), &text);
    assert_eq!(report.lost, 1, "{:?}", report.examples);
    assert!(report.examples[0].contains("lost 0/2"));
}

#[test]
fn a_jump_over_offsets_no_one_else_read_then_committed_is_a_poll_skip() {
    let commit = "C 0 3 1 400\n".to_string();
    let skipped = [line(0, 1, 100), line(2, 1, 300), commit.clone()].concat();
    let report = run(&one_key(3), &skipped);
    assert_eq!(report.poll_skips, 1, "{:?}", report.examples);
    // 1 was read by process 2 while process 1 was away from the partition: no skip.
    let covered = [
        line(0, 1, 100),
        line(1, 2, 200),
        line(2, 1, 300),
        commit.clone(),
    ];
    assert_eq!(run(&one_key(3), &covered.concat()).poll_skips, 0);
    // Read by process 2, but only later: process 1 still skipped it.
    let later = [line(0, 1, 100), line(2, 1, 300), commit, line(1, 2, 900)];
    assert_eq!(run(&one_key(3), &later.concat()).poll_skips, 1);
    // Still in flight when process 1 died (never committed past): read again, no skip.
    let in_flight = [
        line(0, 1, 100),
        "C 0 1 1 150\n".into(),
        line(2, 1, 300),
        line(1, 2, 900),
    ];
    assert_eq!(run(&one_key(3), &in_flight.concat()).poll_skips, 0);
}

#[test]
fn a_gap_or_an_unexplained_step_back_is_an_order_violation() {
    let gap = [line(0, 1, 100), line(2, 1, 200), line(1, 1, 300)].concat();
    assert!(run(&one_key(3), &gap).order_violations >= 1);
    // The same process goes back with no rebalance around: a violation …
    let back = [
        line(0, 1, 100),
        line(1, 1, 200),
        line(0, 1, 300),
        line(1, 1, 400),
    ]
    .concat();
    let report = run(&one_key(2), &back);
    assert_eq!(report.order_violations, 1, "{:?}", report.examples);
    // … unless the process reported a rebalance in between: a rewind.
    let rebalanced = [
        &back[..back.find("0 0 1 ack k 300").unwrap()],
        "R 1 290 2\n",
    ];
    let rebalanced = [rebalanced.concat(), line(0, 1, 300), line(1, 1, 400)].concat();
    let report = run(&one_key(2), &rebalanced);
    assert_eq!((report.order_violations, report.rewinds), (0, 1));
    // A rebalance before the first delivery, or another process's, explains nothing.
    let early = ["R 1 50 1\nR 2 250 1\n", &back].concat();
    assert_eq!(run(&one_key(2), &early).order_violations, 1);
    // A rewind must go on in order: 0, 1, 0, 2 skips 1 after the rewind.
    let bad_replay = [
        line(0, 1, 100),
        line(1, 1, 200),
        line(0, 2, 300),
        line(2, 2, 400),
    ];
    let report = run(&one_key(3), &bad_replay.concat());
    assert_eq!(report.order_violations, 1, "{:?}", report.examples);
}

#[test]
fn a_key_at_two_downstreams_at_once_is_a_serial_violation() {
    // Process 2 gets offset 1 while process 1 still works on offset 0 (100..110 µs).
    let text = [line(0, 1, 100), line(1, 2, 105)].concat();
    let report = run(&one_key(2), &text);
    assert_eq!(report.serial_violations, 1, "{:?}", report.examples);
    // Other keys may overlap.
    let two_keys = produced(&[(0, 0, "a"), (0, 1, "b")]);
    let text = "0 0 1 ack a 100 110\n0 1 2 ack b 105 115\n";
    assert_eq!(run(&two_keys, text).serial_violations, 0);
    // Without key ordering nothing is checked for it.
    let unordered = check(
        &one_key(2),
        &Ledgers::parse(&[line(0, 1, 100), line(1, 2, 105)].concat()),
        false,
    );
    assert_eq!(unordered.serial_violations, 0);
}

#[test]
fn a_record_delivered_after_a_commit_past_it_is_reprocessed_after_commit() {
    // Process 1 committed 2 (seen at 250 µs); process 2 then reads 1 again.
    let text = [
        line(0, 1, 100),
        line(1, 1, 200),
        "C 0 2 1 250\n".to_string(),
        line(1, 2, 400),
    ]
    .concat();
    let report = run(&one_key(2), &text);
    assert_eq!(report.reprocessed_after_commit, 1, "{:?}", report.examples);
    assert_eq!(report.duplicates, 1);
}

#[test]
fn old_two_field_lines_and_a_torn_last_line_are_read() {
    let ledgers = Ledgers::parse("0 0\n0 1\nC 0 2 7 99\n0 2 7 ack k 1");
    assert_eq!(ledgers.hand_overs.len(), 2);
    assert_eq!(ledgers.hand_overs[1].outcome, "ack");
    assert_eq!(ledgers.commits.len(), 1);
    let ledgers = Ledgers::parse(&[line(0, 7, 100), line(1, 7, 200)].concat());
    assert_eq!(ledgers.uncommitted_tail(7).len(), 2);
    let ledgers =
        Ledgers::parse(&[line(0, 7, 100), "C 0 1 7 150\n".into(), line(1, 7, 200)].concat());
    assert_eq!(ledgers.uncommitted_tail(7), BTreeSet::from([(0, 1)]));
}
