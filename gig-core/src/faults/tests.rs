use super::*;

fn partition(topic: &str, p: i32) -> FaultScope {
    FaultScope::of(Some(topic), p)
}

#[test]
fn a_codec_fault_stays_until_its_partition_reads_and_names_it() {
    let start = Instant::now();
    let mut book = FaultBook::new();
    let text = "Decompression (codec 0x4) of message at 0 of 109 bytes failed";
    assert!(book.handle_error(partition("zstd", 0), FaultKind::Codec, text, start));
    let later = start + Duration::from_secs(3);
    assert!(!book.handle_error(partition("zstd", 0), FaultKind::Codec, text, later));
    book.handle_progress("zstd", 1);
    book.handle_progress("other", 0);
    book.handle_assigned(["zstd"]);
    let faults = book.faults(later);
    assert_eq!(
        faults.len(),
        1,
        "another partition's progress clears nothing"
    );
    let fault = &faults[0];
    assert_eq!(
        (fault.topic.as_deref(), fault.partition),
        (Some("zstd"), Some(0))
    );
    assert_eq!(
        (fault.kind, fault.count, fault.for_ms),
        (FaultKind::Codec, 2, 3000)
    );
    assert!(fault.to_string().contains("codec error on zstd/0"));
    assert!(book.blocks("zstd", 0) && !book.blocks("zstd", 1));
    book.handle_progress("zstd", 0);
    assert!(!book.is_blocked());
    assert_eq!(book.totals()[&FaultKind::Codec], 2);
}

#[test]
fn passing_errors_are_counted_not_kept() {
    let now = Instant::now();
    let mut book = FaultBook::new();
    for kind in [
        FaultKind::Transport,
        FaultKind::UnknownTopic,
        FaultKind::Other,
    ] {
        assert!(!book.handle_error(FaultScope::Client, kind, "x", now));
    }
    assert!(!book.is_blocked());
    assert_eq!(book.totals().values().sum::<u64>(), 3);
}

#[test]
fn an_assignment_clears_client_and_topic_faults_but_not_a_fatal_one() {
    let now = Instant::now();
    let mut book = FaultBook::new();
    book.handle_error(FaultScope::Client, FaultKind::Authentication, "denied", now);
    book.handle_error(
        FaultScope::of(Some("a"), -1),
        FaultKind::Authorization,
        "a",
        now,
    );
    book.handle_error(
        FaultScope::of(Some("b"), -1),
        FaultKind::Authorization,
        "b",
        now,
    );
    book.handle_assigned(["a"]);
    let left: Vec<_> = book.faults(now).into_iter().map(|f| f.topic).collect();
    assert_eq!(left, vec![Some("b".to_string())]);
    book.handle_error(FaultScope::Client, FaultKind::Fatal, "fenced", now);
    book.handle_assigned(["b"]);
    book.handle_progress("b", 0);
    let left = book.faults(now);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, FaultKind::Fatal);
}

#[test]
fn a_producer_fault_stays_through_reads_until_a_transaction_commits() {
    let now = Instant::now();
    let mut book = FaultBook::new();
    let denied = "Transactional Id authorization failed";
    book.handle_error(
        FaultScope::Transactions,
        FaultKind::Authorization,
        denied,
        now,
    );
    book.handle_progress("t", 0);
    book.handle_assigned(["t"]);
    let faults = book.faults(now);
    assert_eq!(faults[0].on, "the transactional producer");
    assert!(faults[0].to_string().contains(denied));
    book.handle_transaction_committed();
    assert!(!book.is_blocked());
}

#[test]
fn a_topic_fault_clears_when_any_of_its_partitions_reads() {
    let now = Instant::now();
    let mut book = FaultBook::new();
    book.handle_error(
        FaultScope::of(Some("t"), -1),
        FaultKind::Authorization,
        "no",
        now,
    );
    assert!(book.blocks("t", 3));
    book.handle_progress("t", 3);
    assert!(!book.is_blocked());
}
