//! A downstream fed through a `DeliveryStream` (no actix message per record) answers per
//! record under the same routing rules as a `Handler<Delivery>`; its stream ends when the
//! consumer stops; and when its actor stops, the consumer stalls and nothing it held or
//! would have got is lost: the next member of the group reads it.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use gig_tests::*;
use tokio::sync::oneshot;

/// Acks even offsets, nacks odd ones; or, with `stop_at_first`, stops at its first
/// delivery, leaving it and everything queued unanswered.
struct StreamWorker {
    stop_at_first: bool,
    ended: Option<oneshot::Sender<()>>,
}

impl Actor for StreamWorker {
    type Context = Context<Self>;
}

impl StreamHandler<Delivery> for StreamWorker {
    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        if self.stop_at_first {
            drop(delivery);
            ctx.stop();
        } else if delivery.record.offset() % 2 == 0 {
            delivery.ack();
        } else {
            delivery.nack("odd");
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }
}

/// What [`start`] started.
struct Run {
    /// Kept for the test's length: the embedded broker ends with it.
    broker: Broker,
    consumer: Addr<ConsumerActor>,
    ledger: Ledger,
    topic: String,
    group: String,
    ended: oneshot::Receiver<()>,
}

/// A consumer of 200 records on 2 partitions, through a stream to a `StreamWorker`; with
/// the ledger it hands over to, its topic and group, and the signal of the stream's end.
async fn start(stop_at_first: bool) -> Run {
    let broker = broker();
    let topic = topic(&broker, "stream", 2).await;
    produce(&broker, &topic, 2, 0, 200).await;
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let (ended_tx, ended) = oneshot::channel();
    let (deliveries, stream) = delivery_stream();
    StreamWorker::create(|ctx| {
        stream.attach(ctx);
        StreamWorker {
            stop_at_first,
            ended: Some(ended_tx),
        }
    });
    let group = unique("stream-group");
    let consumer = ConsumerActor::builder(group_config(&broker, &topic, &group))
        .stream_downstream(deliveries)
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .unwrap();
    Run {
        broker,
        consumer,
        ledger,
        topic,
        group,
        ended,
    }
}

#[actix::test]
async fn streamed_records_are_answered_one_by_one_and_the_stream_ends_at_stop() {
    let Run {
        broker: _broker,
        consumer,
        ledger,
        ended,
        ..
    } = start(false).await;
    ledger.wait_for(200, Duration::from_secs(30)).await;
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(ledger.acked().len(), 100);
    assert!(ledger.acked().iter().all(|e| e.offset % 2 == 0));
    assert!(ledger
        .no_acked()
        .iter()
        .all(|e| e.offset % 2 == 1 && e.reason.as_deref() == Some("nacked: odd")));
    assert!(ledger.counts().values().all(|&n| n == 1));
    let topic = &stats.partitions[0].topic;
    assert_eq!(stats.committed(topic, 0), Some(100));
    assert_eq!(stats.committed(topic, 1), Some(100));
    tokio::time::timeout(Duration::from_secs(30), ended)
        .await
        .expect("the stream ends once the consumer has stopped")
        .expect("finished() was called");
}

#[actix::test]
async fn a_stopped_stream_actor_stalls_the_consumer_and_the_next_member_reads_its_records() {
    let Run {
        broker,
        consumer,
        ledger,
        topic,
        group,
        ..
    } = start(true).await;
    let health = health_until(&consumer, Duration::from_secs(60), |h| !h.live).await;
    let reason = health.reason.unwrap_or_default();
    assert!(reason.contains("downstream actor is gone"), "{reason}");
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert!(ledger.entries().is_empty(), "nothing handed over");
    assert_eq!(stats.no_acked(), 0, "{stats:?}");
    // Nothing past where the group started: the crash-loop guard commits its first marker
    // there before any delivery.
    assert!(
        stats
            .partitions
            .iter()
            .all(|p| p.committed.unwrap_or(0) == 0),
        "{stats:?}"
    );

    // The next member of the group reads all of them.
    let next = group_config(&broker, &topic, &group);
    let (downstream, _) = Scripted::new(|_| Action::Ack);
    let consumer = ledger.consumer(next, downstream.start().recipient());
    ledger.wait_for(200, Duration::from_secs(60)).await;
    assert!(ledger.counts().values().all(|&n| n == 1));
    consumer.send(Stop).await.unwrap().unwrap();
}
