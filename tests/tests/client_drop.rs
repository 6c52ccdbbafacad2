//! Gig's Kafka clients end their threads when they go, on every path: after `Stop`
//! answers, no thread of that consumer runs; and a consumer, a transactional consumer and a
//! producer dropped with their actix system, never stopped, leave no thread behind once
//! the drop returns. A process may then exit at once: exiting while a librdkafka thread is
//! in a TLS call crashed it (OpenSSL's exit-time cleanup; `service.rs` runs those exits).
//! librdkafka names its threads `rdk:…`, Gig `gig-…`.
//!
//! One test in this binary: it counts the process's threads, which another test's clients
//! would add to.

use actix::prelude::*;
use gig_actors::dead_letter::DeadLetterSink;
use gig_actors::prelude::*;
use gig_tests::*;

/// The names of this process's threads that belong to a Kafka client: librdkafka's
/// (`rdk:main`, `rdk:broker1`, …) and Gig's (`gig-poller`, `gig-committer`, `gig-query`).
fn client_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let comm = task.unwrap().path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            let name = name.trim();
            if name.starts_with("rdk:") || name.starts_with("gig-") {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    names
}

fn gig_threads() -> Vec<String> {
    let mut names = client_threads();
    names.retain(|n| n.starts_with("gig-"));
    names
}

#[test]
fn clients_leave_no_thread_behind_after_stop_or_when_dropped_unstopped() {
    let broker = broker();
    let system = System::new();
    system.block_on(async {
        let topic = topic(&broker, "client-drop", 2).await;
        produce(&broker, &topic, 2, 0, 100).await;

        // Stopped: once `Stop` answers, the consumer's threads are gone.
        let ledger = Ledger::default();
        let (downstream, _) = Scripted::new(|_| Action::Ack);
        let consumer = ledger.consumer(config(&broker, &topic), downstream.start().recipient());
        ledger.wait_for(100, FIRST_JOIN).await;
        assert!(!gig_threads().is_empty(), "a running consumer has threads");
        consumer.send(Stop).await.unwrap().unwrap();
        assert_eq!(gig_threads(), Vec::<String>::new(), "after Stop");

        // Never stopped: a consumer reading, a transactional one and a producer, all alive
        // when the system goes.
        let ledger = Ledger::default();
        let (downstream, _) = Scripted::new(|_| Action::Ack);
        let _reading = ledger.consumer(config(&broker, &topic), downstream.start().recipient());
        let (downstream, _) = Scripted::new(|_| Action::Ack);
        let transactional = config(&broker, &topic).transactional(unique("client-drop-txn"));
        let _transactional =
            Ledger::default().consumer(transactional, downstream.start().recipient());
        let producer = GigProducer::new(&broker.bootstrap_servers()).unwrap();
        let _letters = DeadLetterSink::new(producer).start();
        ledger.wait_for(1, FIRST_JOIN).await;
    });
    let running = client_threads();
    assert!(running.iter().any(|n| n == "gig-poller"), "{running:?}");
    drop(system);
    drop(broker);
    let left = client_threads();
    report(&format!(
        "client threads before the system was dropped: {}; after: {left:?}",
        running.len()
    ));
    assert_eq!(left, Vec::<String>::new(), "threads left after the drop");
}
