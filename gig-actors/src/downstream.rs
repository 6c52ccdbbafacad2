//! Where deliveries go: the user's downstream actor, in one of four shapes.

use std::sync::Arc;
use std::time::Instant;

use actix::Recipient;
use gig_core::{NoAckReason, Outbound, Token};

use crate::answers::AnswerQueue;
use crate::delivery::{AckHandle, Delivery, DeliveryBatch};
use crate::delivery_stream::DeliverySender;
use crate::supervisor::downstream::SupervisedDownstream;
use crate::typed::Decoding;

/// The downstream actor, as the builder was given it.
pub(crate) enum Downstream {
    /// Started from a factory, and started again when it dies.
    Supervised(SupervisedDownstream),
    /// One [`Delivery`] message per record.
    Records(Recipient<Delivery>),
    /// One [`Delivery`] per record, through a stream the downstream actor handles.
    Stream(DeliverySender),
    /// [`DeliveryBatch`]es of at most `max` records.
    Batches {
        recipient: Recipient<DeliveryBatch>,
        max: usize,
    },
    /// Each payload decoded, as a [`Typed`](crate::Typed) value.
    Decoded(Box<dyn Decoding>),
}

impl Downstream {
    /// Whether it can take deliveries: an actor given by address is gone for good once its
    /// mailbox closed; one Gig supervises keeps its mailbox across instances.
    pub(crate) fn connected(&self) -> bool {
        match self {
            Downstream::Supervised(_) => true,
            Downstream::Records(r) => r.connected(),
            Downstream::Stream(sender) => sender.connected(),
            Downstream::Batches { recipient, .. } => recipient.connected(),
            Downstream::Decoded(decoding) => decoding.connected(),
        }
    }

    /// Sends records to the downstream, each with a handle that answers into `answers`,
    /// leaving `outbound` empty. Returns the records that could not be delivered, and why
    /// (a payload that does not decode): the pipeline routes them. A downstream whose
    /// mailbox closed meanwhile drops what is sent: each dropped delivery answers so.
    pub(crate) fn send(
        &self,
        outbound: &mut Vec<Outbound>,
        answers: &Arc<AnswerQueue>,
    ) -> Vec<(Token, NoAckReason)> {
        if let Downstream::Supervised(supervised) = self {
            supervised.send(outbound);
            return Vec::new();
        }
        let outbound = outbound.drain(..);
        let handle = |o: &Outbound| AckHandle::new(&o.record, o.token, o.deadline, answers.clone());
        let delivery = |o: Outbound| {
            let handle = handle(&o);
            Delivery::new(o.record, handle)
        };
        match self {
            Downstream::Supervised(_) => Vec::new(),
            Downstream::Records(recipient) => {
                outbound.for_each(|o| recipient.do_send(delivery(o)));
                Vec::new()
            }
            Downstream::Stream(sender) => {
                sender.send_all(outbound.map(delivery));
                Vec::new()
            }
            Downstream::Batches { recipient, max } => {
                let mut outbound = outbound.peekable();
                while outbound.peek().is_some() {
                    let size = outbound.len().min(*max);
                    let (mut tokens, mut records) =
                        (Vec::with_capacity(size), Vec::with_capacity(size));
                    // A batch is due when its earliest record is.
                    let mut due: Option<Instant> = None;
                    for o in outbound.by_ref().take(*max) {
                        due = Some(due.map_or(o.deadline, |d| d.min(o.deadline)));
                        tokens.push(o.token);
                        records.push(o.record);
                    }
                    if let Some(due) = due {
                        let batch = DeliveryBatch::new(records, tokens, due, answers.clone());
                        recipient.do_send(batch);
                    }
                }
                Vec::new()
            }
            Downstream::Decoded(decoding) => outbound
                .filter_map(|o| {
                    let handle = handle(&o);
                    let why = decoding.deliver(o.record, handle).err()?;
                    Some((o.token, NoAckReason::Undecodable(why)))
                })
                .collect(),
        }
    }
}
