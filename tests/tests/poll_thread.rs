//! The poll thread runs `poll_thread_nice` steps below the consumer actor's thread (Linux):
//! alike by default, lower when configured, so that a machine short of CPU serves deadlines
//! first.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;

/// The process's threads named `name`, by thread id.
fn threads_named(name: &str) -> BTreeSet<u32> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (comm.trim() == name).then(|| task.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// A thread's nice value, from its `stat` file (field 19).
fn nice_in(stat_file: &str) -> i64 {
    let stat = std::fs::read_to_string(stat_file).expect("stat");
    // The thread's name may hold spaces: count fields after its closing parenthesis,
    // where field 3 (the state) starts.
    let after_name = &stat[stat.rfind(')').expect("stat has a name") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[19 - 3].parse().expect("nice is a number")
}

/// Starts a consumer with `nice` (or the default) and returns its poll thread's nice
/// value relative to this thread's, which runs the actors; stops the consumer.
async fn poll_thread_nice(broker: &Broker, topic: &str, nice: Option<u8>) -> i64 {
    let before = threads_named("gig-poller");
    let mut config = config(broker, topic);
    if let Some(nice) = nice {
        config = config.poll_thread_nice(nice);
    }
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let ledger = Ledger::default();
    let consumer = ledger.consumer(config, downstream.start().recipient());
    consumer
        .send(WaitForAssignment::within(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    // The poll thread lowers its priority as it starts, before it polls for the
    // assignment just awaited.
    let new: Vec<u32> = threads_named("gig-poller")
        .difference(&before)
        .copied()
        .collect();
    assert_eq!(new.len(), 1, "one new poll thread: {new:?}");
    let poller = nice_in(&format!("/proc/self/task/{}/stat", new[0]));
    let relative = poller - nice_in("/proc/thread-self/stat");
    consumer.send(Stop).await.unwrap().unwrap();
    relative
}

#[actix::test]
async fn the_poll_thread_runs_below_the_actor_thread_by_poll_thread_nice() {
    let broker = broker();
    let topic = topic(&broker, "poll-nice", 1).await;
    // Linux caps a nice value at 19: a test run under `nice -n 10` sees the poll thread
    // lowered by at most 9.
    let room = 19 - nice_in("/proc/thread-self/stat");
    assert_eq!(poll_thread_nice(&broker, &topic, None).await, 0);
    assert_eq!(
        poll_thread_nice(&broker, &topic, Some(3)).await,
        3.min(room)
    );
    assert_eq!(
        poll_thread_nice(&broker, &topic, Some(10)).await,
        10.min(room)
    );
}
