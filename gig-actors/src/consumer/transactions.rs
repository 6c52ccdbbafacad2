//! The transactional mode's outcomes: a transaction committed, not begun, aborted (its
//! partitions are read again from their last commit), or a fenced producer (the consumer
//! stops handing over, leaves its group, and says so in `Stats`).

use actix::prelude::*;
use gig_core::{Transaction, TransactionResult};
use log::{debug, error, warn};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;

use super::ConsumerActor;
use crate::client::commit::result::CommitResult;
use crate::client::rewind::Rewound;
use crate::error::GigError;

impl ConsumerActor {
    /// A transaction ended (on the commit thread, for a revocation, or at a stop).
    pub(super) fn transaction_ended(&mut self, txn: Transaction, result: CommitResult) {
        if let Some(why) = result.error() {
            self.last_transaction_error = Some(why);
        }
        let pipeline = &mut self.driver.pipeline;
        match result {
            CommitResult::Done => {
                self.client.shared().errors.transaction_committed();
                let pipeline = &mut self.driver.pipeline;
                pipeline.handle_transaction(txn, TransactionResult::Committed);
                self.answer_commit_waiters();
            }
            CommitResult::NoGroup => {
                debug!("no transaction yet: the consumer is not in a group");
                pipeline.handle_transaction(txn, TransactionResult::NotStarted);
            }
            CommitResult::Failed(e) => {
                warn!("the transaction did not begin ({e}); it is offered again");
                pipeline.handle_transaction(txn, TransactionResult::NotStarted);
                self.producer_failed(&e, false);
            }
            CommitResult::Aborted(e) => {
                warn!("transaction aborted ({e}); its partitions are read again from their last commit");
                pipeline.handle_transaction(txn, TransactionResult::Aborted);
                for waiter in self.commit_waiters.drain(..) {
                    let source = e.clone();
                    let _ = waiter
                        .reply
                        .send(Err(GigError::TransactionAborted { source }));
                }
                self.request_rewinds();
            }
            CommitResult::Fenced(e) => {
                pipeline.handle_transaction(txn, TransactionResult::Fenced);
                self.producer_failed(&e, true);
                self.fence(e);
            }
        }
        self.publish_in_flight();
    }

    /// Sends the poll thread the partitions to read again.
    pub(super) fn request_rewinds(&mut self) {
        let targets = self.driver.pipeline.poll_rewind();
        if !targets.is_empty() && !self.client.rewind(targets) {
            debug!("the poll thread has exited; no rewind");
        }
    }

    /// The producer is fenced: stop fetching, delivering and handing over, and leave the
    /// group so that its partitions go to a member that can commit them.
    fn fence(&mut self, e: KafkaError) {
        let id = self
            .client
            .transactional_id()
            .unwrap_or_default()
            .to_string();
        error!(
            "transactional producer {id} is fenced ({e}): another producer has its transactional id, so this consumer is a zombie. It stops handing over and leaves its group; what it did not commit is read again there"
        );
        for waiter in self.commit_waiters.drain(..) {
            let fenced = GigError::Fenced {
                id: id.clone(),
                source: e.clone(),
            };
            let _ = waiter.reply.send(Err(fenced));
        }
        self.fenced = Some(e);
        self.client.halt();
        if let Ok(kafka) = self.client.kafka() {
            kafka.unsubscribe();
        }
    }

    /// The transactional id and the error, once the producer is fenced.
    pub(super) fn fenced_by(&self) -> Option<(String, KafkaError)> {
        let source = self.fenced.clone()?;
        let id = self
            .client
            .transactional_id()
            .unwrap_or_default()
            .to_string();
        Some((id, source))
    }
}

impl Handler<Rewound> for ConsumerActor {
    type Result = ();

    fn handle(&mut self, Rewound { partitions, done }: Rewound, _: &mut Context<Self>) {
        self.driver.pipeline.handle_rewound(&partitions, done);
    }
}
