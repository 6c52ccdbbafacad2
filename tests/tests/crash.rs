//! A consumer process SIGKILLed at random points and restarted loses nothing; only
//! records it had handed over at or past its last commit are handed over again.

use std::time::Duration;

use gig_examples::chaos::{crash_run, WorkerCommand};
use gig_tests::*;

#[actix::test]
async fn sigkilled_consumers_lose_nothing_and_repeat_only_uncommitted_records() {
    let broker = broker();
    let partitions = 4;
    let records = 20_000u64;
    let topic = topic(&broker, "crash", partitions).await;
    produce(&broker, &topic, partitions, 0, records as usize).await;
    let dir = std::env::temp_dir().join(unique("gig-crash"));
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = WorkerCommand {
        program: env!("CARGO_BIN_EXE_gig-worker").into(),
        prefix: Vec::new(),
        brokers: broker.bootstrap_servers(),
        topic,
        group: unique("crash-group"),
        session_timeout_ms: 3000,
        group_protocol: group_protocol(),
        options: Vec::new(),
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(400),
        crash_run(&cmd, records, 3, 7, &dir),
    )
    .await
    .expect("crash run finished")
    .expect("crash run");
    report(&format!("crash [{:?}]: {summary}", backend()));
    assert_eq!(summary.lost, 0, "{summary}");
    assert!(summary.duplicates_within_bound, "{summary}");
    assert_eq!(summary.kills, 3);
    let _ = std::fs::remove_dir_all(&dir);
}
