//! Building a consumer: its config, its downstream, and its outcome actors.

use actix::prelude::*;
use gig_core::{ConsumerConfig, RestartPolicy, Role};
use serde::de::DeserializeOwned;

use super::assignment::Rebalanced;
use super::ConsumerActor;
use crate::client::Client;
use crate::delivery::{Delivery, DeliveryBatch};
use crate::delivery_stream::DeliverySender;
use crate::downstream::Downstream;
use crate::driver::Wiring;
use crate::error::GigError;
use crate::outcome::{
    Acked, AckedRecipient, AckedTx, NoAcked, NoAckedRecipient, NoAckedTx, OutcomeActors,
};
use crate::rehearsal::Rehearsal;
use crate::supervisor::downstream::SupervisedDownstream;
use crate::supervisor::outcome::OutcomeActor;
use crate::supervisor::Place;
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
    restarts: RestartPolicy,
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
            restarts: RestartPolicy::default(),
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

    /// Delivers records one at a time to actors Gig starts with `factory`, on the
    /// consumer's arbiter, and starts again when one dies (a handler panicked, or it
    /// stopped), under the [`restart_policy`](Self::restart_policy). A panic costs the
    /// record whose [`Delivery`] was being handled: it goes to the NoAckedActor as
    /// [`NoAckReason::Panicked`](gig_core::NoAckReason::Panicked). The deliveries the dead
    /// instance had not taken wait in Gig's mailbox for the next; those it had taken and
    /// not answered are delivered to the next again. Ack clocks stop while no instance runs.
    ///
    /// ```no_run
    /// # use actix::prelude::*;
    /// # use gig_actors::prelude::*;
    /// struct Worker { seen: u64 }
    /// impl Actor for Worker { type Context = Context<Self>; }
    /// impl Handler<Delivery> for Worker {
    ///     type Result = ();
    ///     fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
    ///         self.seen += 1;
    ///         d.ack();
    ///     }
    /// }
    /// # fn wire(builder: ConsumerBuilder) -> ConsumerBuilder {
    /// builder.downstream_factory(|| Worker { seen: 0 })
    /// # }
    /// ```
    pub fn downstream_factory<A, F>(self, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<Delivery>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.supervised_downstream(SupervisedDownstream::records(Place::Here, factory))
    }

    /// Like [`downstream_factory`](Self::downstream_factory), with the actors started on
    /// `arbiter` (their own thread) rather than the consumer's.
    pub fn downstream_factory_on<A, F>(self, arbiter: &ArbiterHandle, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<Delivery>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let place = Place::On(arbiter.clone());
        self.supervised_downstream(SupervisedDownstream::records(place, factory))
    }

    /// Delivers records in batches of at most `max` to actors Gig starts with `factory`
    /// and starts again when one dies. A batch a handler panicked on is delivered again to
    /// the next instance a record at a time, so that a panic costs the one record it
    /// happens on again.
    pub fn batch_downstream_factory<A, F>(self, factory: F, max: usize) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<DeliveryBatch>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let downstream = SupervisedDownstream::batches(Place::Here, factory, max.max(1));
        self.supervised_downstream(downstream)
    }

    fn supervised_downstream(mut self, downstream: SupervisedDownstream) -> Self {
        self.downstream = Some(Downstream::Supervised(downstream));
        self
    }

    /// The actor that receives acked records.
    pub fn acked(mut self, recipient: Recipient<Acked>) -> Self {
        self.acked = Some(AckedRecipient::Accepts(OutcomeActor::Fixed(recipient)));
        self
    }

    /// The actor that receives nacked, timed-out, dropped and undeliverable records.
    pub fn no_acked(mut self, recipient: Recipient<NoAcked>) -> Self {
        self.no_acked = Some(NoAckedRecipient::Accepts(OutcomeActor::Fixed(recipient)));
        self
    }

    /// The AckedActor, started by Gig with `factory` on the consumer's arbiter and started
    /// again when it dies, under the [`restart_policy`](Self::restart_policy). The batches
    /// offered to an instance that died are offered to the next a record at a time; a
    /// record it dies on alone goes to the NoAckedActor as
    /// [`NoAckReason::Panicked`](gig_core::NoAckReason::Panicked).
    pub fn acked_factory<A, F>(mut self, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<Acked>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let actor = OutcomeActor::supervised(Role::Acked, Place::Here, factory);
        self.acked = Some(AckedRecipient::Accepts(actor));
        self
    }

    /// The NoAckedActor, started from `factory` and started again when it dies, like
    /// [`acked_factory`](Self::acked_factory). A record it dies on alone is set aside:
    /// nothing is committed past it, the consumer stops fetching, and
    /// [`Health`](crate::Health) names it.
    pub fn no_acked_factory<A, F>(mut self, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<NoAcked>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let actor = OutcomeActor::supervised(Role::NoAcked, Place::Here, factory);
        self.no_acked = Some(NoAckedRecipient::Accepts(actor));
        self
    }

    /// The actor that receives acked records and answers with records to produce
    /// ([`AckedTx`]), for a transactional consumer: Gig produces them in the transaction
    /// that commits their sources (consume, transform, produce).
    pub fn acked_tx(mut self, recipient: Recipient<AckedTx>) -> Self {
        self.acked = Some(AckedRecipient::Produces(OutcomeActor::Fixed(recipient)));
        self
    }

    /// The actor that receives records that were not acked and answers with records to
    /// produce ([`NoAckedTx`]: dead-letter or retry copies), for a transactional consumer.
    pub fn no_acked_tx(mut self, recipient: Recipient<NoAckedTx>) -> Self {
        self.no_acked = Some(NoAckedRecipient::Produces(OutcomeActor::Fixed(recipient)));
        self
    }

    /// [`acked_tx`](Self::acked_tx) with the actor started from `factory` and started
    /// again when it dies, as [`acked_factory`](Self::acked_factory) does.
    pub fn acked_tx_factory<A, F>(mut self, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<AckedTx>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let actor = OutcomeActor::supervised(Role::Acked, Place::Here, factory);
        self.acked = Some(AckedRecipient::Produces(actor));
        self
    }

    /// [`no_acked_tx`](Self::no_acked_tx) with the actor started from `factory` and
    /// started again when it dies, as [`no_acked_factory`](Self::no_acked_factory) does.
    pub fn no_acked_tx_factory<A, F>(mut self, factory: F) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<NoAckedTx>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let actor = OutcomeActor::supervised(Role::NoAcked, Place::Here, factory);
        self.no_acked = Some(NoAckedRecipient::Produces(actor));
        self
    }

    /// How the actors given as factories are started again when they die: the back-off,
    /// and how many deaths within a window make Gig give up (the consumer then stops
    /// fetching and is not live). [`RestartPolicy::default`] otherwise.
    pub fn restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.restarts = policy;
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
        let outcomes = OutcomeActors {
            acked: self.acked.ok_or(GigError::Missing("an acked actor"))?,
            no_acked: self.no_acked.ok_or(GigError::Missing("a no-acked actor"))?,
        };
        let wiring = Wiring {
            downstream: self.downstream.ok_or(GigError::Missing("a downstream"))?,
            outcomes,
            restarts: self.restarts,
        };
        let produces = wiring.outcomes.acked.produces() || wiring.outcomes.no_acked.produces();
        if produces && self.config.transactional_settings().is_none() {
            return Err(GigError::NotTransactional);
        }
        Ok((self.config, wiring, self.rebalance_listener))
    }

    /// Validates the config and creates the Kafka client, without starting the actor.
    pub fn build(self) -> Result<ConsumerActor, GigError> {
        let (config, wiring, listener) = self.wiring()?;
        let client = Client::new(&config)?;
        let mut actor = ConsumerActor::new(config, wiring, client)?;
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
        Rehearsal::wired(&config, wiring)
    }
}
