//! Manual assignment from a given offset, which is also how a restarted consumer resumes
//! from a committed offset in the middle of a producer's batch.

use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_tests::*;

#[actix::test]
#[cfg_attr(
    gig_backend = "tansu",
    ignore = "tansu 0.6 fetch skips the stored batch that contains the fetch offset (docs/backends.md)"
)]
async fn assign_from_an_offset_inside_a_produced_batch_starts_there() {
    let broker = broker();
    let topic = topic(&broker, "assign", 1).await;
    // One pipelined send: the producer packs these into a few large batches.
    produce(&broker, &topic, 1, 0, 1000).await;

    let ledger = Ledger::default();
    let (downstream, delivered) = Scripted::new(|_| Action::Ack);
    let mut config = config(&broker, &topic);
    config = config.topics(Vec::<String>::new());
    let consumer = ledger.consumer(config, downstream.start().recipient());
    let start = PartitionStart {
        topic: topic.clone(),
        partition: 0,
        offset: Some(537),
    };
    consumer.send(Assign(vec![start])).await.unwrap().unwrap();
    ledger.wait_for(463, Duration::from_secs(30)).await;
    let offsets: Vec<i64> = delivered
        .lock()
        .unwrap()
        .iter()
        .map(Record::offset)
        .collect();
    assert_eq!(offsets, (537..1000).collect::<Vec<_>>());
    let stats = consumer.send(Stop).await.unwrap().unwrap();
    assert_eq!(stats.committed(&topic, 0), Some(1000));
}
