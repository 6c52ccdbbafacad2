//! Building a consumer: its config, its downstream, and its outcome actors.

use actix::prelude::*;
use gig_core::ConsumerConfig;
use serde::de::DeserializeOwned;

use super::assignment::Rebalanced;
use super::ConsumerActor;
use crate::client::Client;
use crate::delivery::{Delivery, DeliveryBatch};
use crate::delivery_stream::DeliverySender;
use crate::downstream::Downstream;
use crate::driver::Wiring;
use crate::error::GigError;
use crate::outcome::{Acked, AckedRecipient, AckedTx, NoAcked, NoAckedRecipient, NoAckedTx};
use crate::rehearsal::Rehearsal;
use crate::typed::{Json, Typed};

/// Builds a [`ConsumerActor`]: its config, its downstream, and its outcome actors.
///
/// ```no_run
/// # use actix::prelude::*;
/// # use gig_actors::prelude::*;
/// # fn wire(down: Recipient<Delivery>, acked: Recipient<Acked>, no_acked: Recipient<NoAcked>) -> Result<(), GigError> {
/// let config = ConsumerConfig::new("127.0.0.1:9092", "billing").topics(["orders"]);
/// let consumer: Addr<ConsumerActor> = ConsumerActor::builder(config)
///     .downstream(down)
///     .acked(acked)
///     .no_acked(no_acked)
///     .start()?;
/// # Ok(()) }
/// ```
pub struct ConsumerBuilder {
    config: ConsumerConfig,
    downstream: Option<Downstream>,
    acked: Option<AckedRecipient>,
    no_acked: Option<NoAckedRecipient>,
    rebalance_listener: Option<Recipient<Rebalanced>>,
}

impl ConsumerActor {
    /// Starts building a consumer with this config.
    pub fn builder(config: ConsumerConfig) -> ConsumerBuilder {
        ConsumerBuilder {
            config,
            downstream: None,
            acked: None,
            no_acked: None,
            rebalance_listener: None,
        }
    }
}

impl ConsumerBuilder {
    /// Delivers records one at a time to an actor that handles [`Delivery`].
    pub fn downstream(mut self, recipient: Recipient<Delivery>) -> Self {
        self.downstream = Some(Downstream::Records(recipient));
        self
    }

    /// Delivers records one at a time through a [`DeliveryStream`](crate::DeliveryStream)
    /// that an actor adds to its context and handles with `StreamHandler<Delivery>`: no
    /// message, hence no actix allocation, per record (see [`delivery_stream`](mod@crate::delivery_stream)).
    pub fn stream_downstream(mut self, deliveries: DeliverySender) -> Self {
        self.downstream = Some(Downstream::Stream(deliveries));
        self
    }

    /// Delivers records in batches of at most `max` to an actor that handles
    /// [`DeliveryBatch`].
    pub fn batch_downstream(mut self, recipient: Recipient<DeliveryBatch>, max: usize) -> Self {
        self.downstream = Some(Downstream::Batches {
            recipient,
            max: max.max(1),
        });
        self
    }

    /// Delivers each record's payload decoded from JSON as a [`Typed<T>`] to an actor
    /// that handles it. Records that do not decode go to the NoAckedActor at once as
    /// [`NoAckReason::Undecodable`](gig_core::NoAckReason::Undecodable), with the
    /// serde_json error; see [`crate::typed`].
    pub fn json_downstream<T>(mut self, recipient: Recipient<Typed<T>>) -> Self
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.downstream = Some(Downstream::Decoded(Box::new(Json { recipient })));
        self
    }

    /// The actor that receives acked records.
    pub fn acked(mut self, recipient: Recipient<Acked>) -> Self {
        self.acked = Some(AckedRecipient::Accepts(recipient));
        self
    }

    /// The actor that receives nacked, timed-out, dropped and undeliverable records.
    pub fn no_acked(mut self, recipient: Recipient<NoAcked>) -> Self {
        self.no_acked = Some(NoAckedRecipient::Accepts(recipient));
        self
    }

    /// The actor that receives acked records and answers with records to produce
    /// ([`AckedTx`]), for a transactional consumer: Gig produces them in the transaction
    /// that commits their sources (consume, transform, produce).
    pub fn acked_tx(mut self, recipient: Recipient<AckedTx>) -> Self {
        self.acked = Some(AckedRecipient::Produces(recipient));
        self
    }

    /// The actor that receives records that were not acked and answers with records to
    /// produce ([`NoAckedTx`]: dead-letter or retry copies), for a transactional consumer.
    pub fn no_acked_tx(mut self, recipient: Recipient<NoAckedTx>) -> Self {
        self.no_acked = Some(NoAckedRecipient::Produces(recipient));
        self
    }

    /// An actor told of each assignment and revocation ([`Rebalanced`]), after Gig has
    /// handled it. Optional; the rehearsal has no group and tells it nothing.
    ///
    /// ```no_run
    /// # use actix::prelude::*;
    /// # use gig_actors::prelude::*;
    /// struct Watcher;
    /// impl Actor for Watcher { type Context = Context<Self>; }
    /// impl Handler<Rebalanced> for Watcher {
    ///     type Result = ();
    ///     fn handle(&mut self, change: Rebalanced, _: &mut Context<Self>) {
    ///         match change {
    ///             Rebalanced::Assigned(p) => println!("now reading {p:?}"),
    ///             Rebalanced::Revoked(p) => println!("handed back {p:?}"),
    ///             _ => {}
    ///         }
    ///     }
    /// }
    /// # fn wire(builder: ConsumerBuilder) -> ConsumerBuilder {
    /// builder.rebalance_listener(Watcher.start().recipient())
    /// # }
    /// ```
    pub fn rebalance_listener(mut self, recipient: Recipient<Rebalanced>) -> Self {
        self.rebalance_listener = Some(recipient);
        self
    }

    /// The validated config and the actors, or what is wrong or missing.
    #[allow(clippy::type_complexity)]
    fn wiring(self) -> Result<(ConsumerConfig, Wiring, Option<Recipient<Rebalanced>>), GigError> {
        self.config.validate()?;
        let wiring = Wiring {
            downstream: self.downstream.ok_or(GigError::Missing("a downstream"))?,
            acked: self.acked.ok_or(GigError::Missing("an acked actor"))?,
            no_acked: self.no_acked.ok_or(GigError::Missing("a no-acked actor"))?,
        };
        let produces = wiring.acked.produces() || wiring.no_acked.produces();
        if produces && self.config.transactional.is_none() {
            return Err(GigError::NotTransactional);
        }
        Ok((self.config, wiring, self.rebalance_listener))
    }

    /// Validates the config and creates the Kafka client, without starting the actor.
    pub fn build(self) -> Result<ConsumerActor, GigError> {
        let (config, wiring, listener) = self.wiring()?;
        let client = Client::new(&config)?;
        let mut actor = ConsumerActor::new(config, wiring, client);
        actor.rebalance_listener = listener;
        Ok(actor)
    }

    /// Builds and starts the actor on the current arbiter.
    pub fn start(self) -> Result<Addr<ConsumerActor>, GigError> {
        Ok(self.build()?.start())
    }

    /// A [`Rehearsal`] of this consumer: the same routing, deadlines, key ordering, batch
    /// or typed downstream and hand-over, fed by you instead of Kafka, on tokio's clock.
    pub fn rehearsal(self) -> Result<Rehearsal, GigError> {
        let (config, wiring, _) = self.wiring()?;
        Ok(Rehearsal::wired(&config, wiring))
    }
}
