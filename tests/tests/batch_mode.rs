//! Batch mode: the downstream receives records in batches and answers per record or for
//! the whole batch, under the same timeout and routing rules.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

/// How the batch downstream answers.
#[derive(Clone, Copy)]
enum Mode {
    AckAll,
    /// Nack odd offsets, ack even ones, in one message.
    EachOddNacked,
    /// Answer nothing: keep each batch unanswered.
    Silent,
}

struct BatchWorker {
    mode: Mode,
    max_seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    unanswered: Vec<DeliveryBatch>,
}

impl Actor for BatchWorker {
    type Context = Context<Self>;
}

impl Handler<DeliveryBatch> for BatchWorker {
    type Result = ();
    fn handle(&mut self, batch: DeliveryBatch, _: &mut Context<Self>) {
        self.max_seen
            .fetch_max(batch.records().len(), std::sync::atomic::Ordering::SeqCst);
        match self.mode {
            Mode::AckAll => batch.ack_all(),
            Mode::EachOddNacked => batch.answer_each(|r| {
                Some(if r.offset() % 2 == 1 {
                    Verdict::Nack("odd".into())
                } else {
                    Verdict::Ack
                })
            }),
            Mode::Silent => self.unanswered.push(batch),
        }
    }
}

async fn run(mode: Mode, timeout: Duration) -> (Ledger, Stats, usize) {
    let broker = broker();
    let topic = topic(&broker, "batch", 2).await;
    produce(&broker, &topic, 2, 0, 200).await;
    let ledger = Ledger::default();
    let (acked, no_acked) = ledger.start();
    let max_seen = std::sync::Arc::default();
    let worker = BatchWorker {
        mode,
        max_seen: std::sync::Arc::clone(&max_seen),
        unanswered: Vec::new(),
    }
    .start();
    let consumer = ConsumerActor::builder(config(&broker, &topic).ack_timeout(timeout))
        .batch_downstream(worker.recipient(), 16)
        .acked(acked)
        .no_acked(no_acked)
        .start()
        .unwrap();
    ledger.wait_for(200, Duration::from_secs(30)).await;
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    (
        ledger,
        stats,
        max_seen.load(std::sync::atomic::Ordering::SeqCst),
    )
}

#[actix::test]
async fn a_whole_batch_acked_with_one_message_reaches_acked() {
    let (ledger, stats, max_seen) = run(Mode::AckAll, Duration::from_secs(60)).await;
    assert_eq!(ledger.acked().len(), 200);
    assert!(
        max_seen > 1 && max_seen <= 16,
        "batches of at most 16, got {max_seen}"
    );
    assert_eq!(stats.committed(&stats.partitions[0].topic, 0), Some(100));
}

#[actix::test]
async fn per_record_answers_in_a_batch_route_each_record() {
    let (ledger, stats, _) = run(Mode::EachOddNacked, Duration::from_secs(60)).await;
    assert_eq!(ledger.acked().len(), 100);
    assert!(ledger
        .no_acked()
        .iter()
        .all(|e| e.offset % 2 == 1 && e.reason.as_deref() == Some("nacked: odd")));
    assert_eq!(stats.nacked, 100);
}

#[actix::test]
async fn a_silent_batch_times_out_record_by_record() {
    let (ledger, stats, _) = run(Mode::Silent, Duration::from_millis(300)).await;
    assert_eq!(ledger.no_acked().len(), 200);
    assert_eq!(stats.timed_out, 200);
    assert!(ledger.counts().values().all(|&n| n == 1));
}
