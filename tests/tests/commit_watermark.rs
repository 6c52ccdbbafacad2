//! Out-of-order acks never commit past a record whose outcome is not handed over; once it
//! is, the commit jumps past every handed-over record behind it.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
async fn out_of_order_acks_commit_the_right_watermark() {
    let broker = broker();
    let topic = topic(&broker, "watermark", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;

    let ledger = Ledger::default();
    // Offset 3 is held; all others are acked at once, so 4..9 are acked before it.
    let (downstream, _) = Scripted::new(|r| {
        if r.offset() == 3 {
            Action::Hold
        } else {
            Action::Ack
        }
    });
    let downstream = downstream.start();
    let config = config(&broker, &topic)
        .ack_timeout(Duration::from_secs(60))
        .commit_interval(Duration::from_millis(50));
    let consumer = ledger.consumer(config, downstream.clone().recipient());

    ledger.wait_for(9, Duration::from_secs(30)).await;
    // 0..2 are handed over and committed; 4..9 are handed over but wait behind 3.
    let stats = stats_until(&consumer, Duration::from_secs(10), |s| {
        s.committed(&topic, 0) == Some(3)
    })
    .await;
    let p = &stats.partitions[0];
    assert_eq!(p.committable, Some(3), "never past the held offset 3");
    assert_eq!(p.in_flight, 1);

    assert_eq!(downstream.send(Release(Verdict::Ack)).await.unwrap(), 1);
    let stats = stats_until(&consumer, Duration::from_secs(10), |s| {
        s.committed(&topic, 0) == Some(10)
    })
    .await;
    assert_eq!(
        stats.partitions[0].committable,
        Some(10),
        "jumped past 4..9 at once"
    );
    assert_eq!(ledger.entries().len(), 10);
    consumer.send(Stop).await.unwrap().unwrap();
}

#[actix::test]
async fn a_refusing_acked_actor_holds_the_commit_until_it_accepts() {
    let broker = broker();
    let topic = topic(&broker, "refuse", 1).await;
    produce(&broker, &topic, 1, 0, 5).await;

    let ledger = Ledger::default();
    let (_, no_acked) = ledger.start();
    let refusing = Refusing {
        refusals: 2,
        ledger: ledger.clone(),
    }
    .start();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let config = config(&broker, &topic).commit_interval(Duration::from_millis(50));
    let consumer = ConsumerActor::builder(config)
        .downstream(downstream.start().recipient())
        .acked(refusing.recipient())
        .no_acked(no_acked)
        .start()
        .unwrap();

    ledger.wait_for(5, Duration::from_secs(30)).await;
    let stats = stats_until(&consumer, Duration::from_secs(10), |s| {
        s.committed(&topic, 0) == Some(5)
    })
    .await;
    assert!(stats.handover_failures >= 2, "{stats:?}");
    assert!(ledger.counts().values().all(|&n| n == 1));
    consumer.send(Stop).await.unwrap().unwrap();
}

/// Refuses its first `refusals` batches, then accepts into the ledger.
struct Refusing {
    refusals: usize,
    ledger: Ledger,
}

impl Actor for Refusing {
    type Context = Context<Self>;
}

impl Handler<Acked> for Refusing {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: Acked, ctx: &mut Context<Self>) -> Self::Result {
        if self.refusals > 0 {
            self.refusals -= 1;
            return Err(HandOverError("database unavailable".into()));
        }
        let (acked, _) = self.ledger.start();
        ctx.wait(actix::fut::wrap_future(async move {
            let _ = acked.send(msg).await;
        }));
        Ok(())
    }
}

#[actix::test]
async fn commit_commits_what_is_resolved_now_and_answers_when_confirmed() {
    let broker = broker();
    let topic = topic(&broker, "commit-now", 2).await;
    produce(&broker, &topic, 2, 0, 50).await;

    let ledger = Ledger::default();
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    // Neither the interval nor the count would commit during this test, nor the crash-loop
    // guard's markers (whose commits carry what was handed over too).
    let config = config(&broker, &topic)
        .commit_interval(Duration::from_secs(3600))
        .commit_every(1_000_000)
        .max_deliveries(0);
    let consumer = ledger.consumer(config, downstream.start().recipient());
    ledger.wait_for(50, Duration::from_secs(30)).await;
    let before = consumer.send(GetStats).await.unwrap();
    assert_eq!(before.committed(&topic, 0), None, "nothing committed yet");
    consumer.send(Commit).await.unwrap().unwrap();
    let after = consumer.send(GetStats).await.unwrap();
    assert_eq!(after.committed(&topic, 0), Some(25));
    assert_eq!(after.committed(&topic, 1), Some(25));
    consumer.send(Stop).await.unwrap().unwrap();
}
