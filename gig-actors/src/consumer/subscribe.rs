//! What the consumer reads: `Subscribe` (the group assigns the partitions), `Assign`
//! (partitions chosen by hand), `Unsubscribe`.

use std::sync::Arc;

use actix::prelude::*;
use gig_core::ConfigError;
use log::info;
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::ConsumerActor;
use crate::error::GigError;

/// Subscribes to topics; the group assigns the partitions. Replaces any subscription.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Subscribe(pub Vec<String>);

impl Subscribe {
    /// Subscribe to these topics.
    pub fn to<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Subscribe(topics.into_iter().map(Into::into).collect())
    }
}

/// One partition to read, from its committed offset or from a given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStart {
    /// The topic of the partition.
    pub topic: String,
    /// The partition within its topic.
    pub partition: i32,
    /// Offset to start at; `None` for the group's committed offset (or the reset policy).
    pub offset: Option<i64>,
}

/// Assigns partitions manually (no group rebalancing). Replaces any assignment.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Assign(pub Vec<PartitionStart>);

/// Leaves the subscription. In-flight records of the revoked partitions are resolved
/// (acked, or no-acked at their deadline) and committed before the partitions are released.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), GigError>")]
pub struct Unsubscribe;

impl ConsumerActor {
    /// Refuses a request once a stop has begun.
    pub(super) fn running(&self) -> Result<(), GigError> {
        match self.driver.pipeline.is_stopping() {
            true => Err(GigError::Stopped),
            false => Ok(()),
        }
    }

    pub(super) fn subscribe(&self, topics: &[&str]) -> Result<(), GigError> {
        self.client
            .kafka()?
            .subscribe(topics)
            .map_err(GigError::kafka("subscribe"))?;
        info!("subscribed to {}", topics.join(", "));
        Ok(())
    }
}

impl Handler<Subscribe> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        self.running()?;
        if msg.0.is_empty() || msg.0.iter().any(String::is_empty) {
            return Err(ConfigError::EmptyTopic.into());
        }
        let topics: Vec<&str> = msg.0.iter().map(String::as_str).collect();
        self.subscribe(&topics)
    }
}

impl Handler<Assign> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, msg: Assign, ctx: &mut Context<Self>) -> Self::Result {
        self.running()?;
        let mut tpl = TopicPartitionList::new();
        for p in &msg.0 {
            if p.topic.is_empty() {
                return Err(ConfigError::EmptyTopic.into());
            }
            let offset = p.offset.map_or(Offset::Stored, Offset::Offset);
            tpl.add_partition_offset(&p.topic, p.partition, offset)
                .map_err(GigError::kafka("assign"))?;
        }
        self.client.assign(&tpl)?;
        info!("assigned {} partition(s) manually", msg.0.len());
        let partitions: Vec<_> = msg
            .0
            .iter()
            .map(|p| (Arc::from(p.topic.as_str()), p.partition))
            .collect();
        self.guard_assigned(&partitions, ctx);
        self.answer_assignment_waiters();
        Ok(())
    }
}

impl Handler<Unsubscribe> for ConsumerActor {
    type Result = Result<(), GigError>;

    fn handle(&mut self, _: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        self.running()?;
        self.client.kafka()?.unsubscribe();
        info!("unsubscribed; revoked partitions are resolved and committed before release");
        Ok(())
    }
}
