//! Knowing where a consumer stands without counting records yourself: `WaitForAssignment`
//! answers once partitions are assigned, `CaughtUp` once every record up to the partitions'
//! ends (when it was asked) is handed over and committed; the rebalance listener hears of
//! assignments and revocations; `Inspect` asks the client read-only questions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

const WAIT: Duration = Duration::from_secs(30);

#[actix::test]
async fn caught_up_answers_once_every_record_up_to_the_ends_is_handed_over_and_committed() {
    let broker = broker();
    let topic = topic(&broker, "caught-up", 3).await;
    produce(&broker, &topic, 3, 0, 90).await;
    let ledger = Ledger::default();
    // Every tenth record is never answered: it reaches NoAcked at its deadline, and the
    // consumer is caught up only once it has.
    let config = config(&broker, &topic).ack_timeout(Duration::from_millis(500));
    let consumer = start(&ledger, config, |r| match r.offset() % 10 {
        0 => Action::Hold,
        _ => Action::Ack,
    })
    .consumer;

    let assigned = consumer
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    assert!(!assigned.is_empty());
    let stats = consumer
        .send(CaughtUp::within(WAIT))
        .await
        .unwrap()
        .expect("caught up");
    // Nothing was counted by the test: the consumer knew where the ends were.
    assert_eq!(
        ledger.entries().len(),
        90,
        "all handed over when it answers"
    );
    assert_eq!((stats.acked, stats.timed_out), (81, 9));
    for p in 0..3 {
        assert_eq!(stats.committed(&topic, p), Some(30), "{stats:?}");
    }

    // Caught up again at once: nothing new.
    let again = consumer
        .send(CaughtUp::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.handed_over, 90);
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn a_restarted_member_is_caught_up_at_once_when_its_group_committed_the_ends() {
    let broker = broker();
    let topic = topic(&broker, "caught-up-restart", 2).await;
    let group = unique("caught-up-group");
    produce(&broker, &topic, 2, 0, 20).await;
    let ledger = Ledger::default();
    let first = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    first
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    first.send(CaughtUp::within(WAIT)).await.unwrap().unwrap();
    first.send(Stop).await.unwrap().unwrap();

    let second = start(&ledger, group_config(&broker, &topic, &group), |_| {
        Action::Ack
    })
    .consumer;
    second
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    let stats = second.send(CaughtUp::within(WAIT)).await.unwrap().unwrap();
    assert_eq!(stats.received, 0, "the group had committed every record");
    assert_eq!(ledger.entries().len(), 20);
    second.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn caught_up_says_why_it_cannot_answer() {
    let broker = broker();
    let topic = topic(&broker, "caught-up-errors", 1).await;
    produce(&broker, &topic, 1, 0, 3).await;
    let ledger = Ledger::default();
    // No topics yet: nothing is assigned.
    let mut idle = config(&broker, &topic);
    idle = idle.topics(Vec::<String>::new());
    let Started {
        consumer,
        downstream,
        ..
    } = start(&ledger, idle.ack_timeout(Duration::from_secs(60)), |_| {
        Action::Hold
    });
    let early = consumer.send(CaughtUp::within(WAIT)).await.unwrap();
    assert!(matches!(early, Err(GigError::NoAssignment)), "{early:?}");
    let none = consumer
        .send(WaitForAssignment::within(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(matches!(none, Err(GigError::Timeout { .. })), "{none:?}");

    // A held record keeps it from catching up: a typed timeout, not a hang.
    consumer
        .send(Subscribe::to([&topic]))
        .await
        .unwrap()
        .unwrap();
    consumer
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    let held = consumer
        .send(CaughtUp::within(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(matches!(held, Err(GigError::Timeout { .. })), "{held:?}");
    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 3);
    let stats = consumer
        .send(CaughtUp::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(3));
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn wait_for_assignment_answers_a_manual_assignment() {
    let broker = broker();
    let topic = topic(&broker, "wait-assign", 2).await;
    let ledger = Ledger::default();
    let mut manual = config(&broker, &topic);
    manual = manual.topics(Vec::<String>::new());
    let consumer = start(&ledger, manual, |_| Action::Ack).consumer;
    let waiting = consumer.send(WaitForAssignment::within(WAIT));
    let start = |partition| PartitionStart {
        topic: topic.clone(),
        partition,
        offset: None,
    };
    let assign = Assign(vec![start(0), start(1)]);
    consumer.send(assign).await.unwrap().unwrap();
    let mut assigned = waiting.await.unwrap().unwrap();
    assigned.sort();
    assert_eq!(assigned, [format!("{topic}/0"), format!("{topic}/1")]);
    consumer.send(Stop).await.unwrap().unwrap();
}

/// Keeps what the rebalance listener hears.
struct Listener(Arc<Mutex<Vec<Rebalanced>>>);
impl Actor for Listener {
    type Context = Context<Self>;
}
impl Handler<Rebalanced> for Listener {
    type Result = ();
    fn handle(&mut self, change: Rebalanced, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(change);
    }
}

#[actix::test]
async fn the_rebalance_listener_hears_assignments_and_revocations_after_gig() {
    let broker = broker();
    let topic = topic(&broker, "listener", 2).await;
    produce(&broker, &topic, 2, 0, 10).await;
    let ledger = Ledger::default();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (acked, no_acked) = ledger.start();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .downstream(downstream.start().recipient())
        .acked(acked)
        .no_acked(no_acked)
        .rebalance_listener(Listener(heard.clone()).start().recipient())
        .start()
        .unwrap();
    consumer
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    consumer
        .send(CaughtUp::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    consumer.send(Unsubscribe).await.unwrap().unwrap();
    let all = vec![(topic.clone(), 0), (topic.clone(), 1)];
    let revoked = tokio::time::timeout(WAIT, async {
        loop {
            let seen = heard.lock().unwrap().clone();
            if let Some(Rebalanced::Revoked(mut partitions)) = seen.last().cloned() {
                partitions.sort();
                return (seen, partitions);
            }
            // The listener is told from the consumer's thread; nothing to await on here.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let (seen, partitions) = revoked.expect("a revocation within 30 s");
    assert_eq!(partitions, all);
    let mut assigned: Vec<(String, i32)> = seen
        .iter()
        .filter_map(|c| match c {
            Rebalanced::Assigned(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assigned.sort();
    assert_eq!(assigned, all, "heard: {seen:?}");
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn inspect_asks_the_client_read_only_questions() {
    let broker = broker();
    let topic = topic(&broker, "inspect", 1).await;
    produce(&broker, &topic, 1, 0, 7).await;
    let ledger = Ledger::default();
    let consumer = start(&ledger, config(&broker, &topic), |_| Action::Ack).consumer;
    consumer
        .send(WaitForAssignment::within(WAIT))
        .await
        .unwrap()
        .unwrap();
    let t = topic.clone();
    let watermarks = consumer
        .send(Inspect::new(move |kafka| {
            kafka.fetch_watermarks(&t, 0, Duration::from_secs(10))
        }))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(watermarks, (0, 7));
    let assignment = consumer
        .send(Inspect::new(|kafka| kafka.assignment().map(|a| a.count())))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(assignment, 1);
    consumer.send(Stop).await.unwrap().unwrap();
}
