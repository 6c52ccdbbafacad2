//! A downstream fed through a `DeliveryStream` (no actix message per record) answers per
//! record under the same routing rules as a `Handler<Delivery>`; its stream ends when the
//! consumer stops; and when its actor stops, nothing it held or would have got is lost.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
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

/// 200 records on 2 partitions, consumed through a stream; returns the ledger once every
/// record reached an outcome actor, the consumer's stats, and the signal of the stream's end.
async fn run(stop_at_first: bool) -> (Ledger, Stats, oneshot::Receiver<()>) {
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
    let consumer = ConsumerActor::builder(config(&broker, &topic))
        .stream_downstream(deliveries)
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .unwrap();
    ledger.wait_for(200, Duration::from_secs(30)).await;
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    (ledger, stats, ended)
}

#[actix::test]
async fn streamed_records_are_answered_one_by_one_and_the_stream_ends_at_stop() {
    let (ledger, stats, ended) = run(false).await;
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
async fn records_of_a_stopped_stream_actor_go_to_no_acked_none_lost() {
    let (ledger, stats, _) = run(true).await;
    assert!(ledger.acked().is_empty());
    let no_acked = ledger.no_acked();
    assert_eq!(no_acked.len(), 200);
    assert!(ledger.counts().values().all(|&n| n == 1));
    // Queued when the actor stopped: dropped with its stream; sent later: the downstream
    // was gone. Neither waits for its deadline.
    assert!(
        no_acked.iter().all(|e| matches!(
            e.reason.as_deref(),
            Some("dropped unanswered" | "downstream gone")
        )),
        "{:?}",
        no_acked.iter().map(|e| &e.reason).collect::<Vec<_>>()
    );
    assert_eq!(stats.timed_out, 0);
}
