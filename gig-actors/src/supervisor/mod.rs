//! Supervision: the user's actors started from factories, started again when they die.
//!
//! A downstream or outcome actor given to the builder as a factory is started by Gig
//! ([`instance::start`]), on the consumer's arbiter or on one the user names ([`Place`]),
//! with its task watched: when the task ends, by a panic in a handler or by a stop, the
//! consumer gets [`Died`] with the panic's message, and starts a new instance once the
//! pipeline's back-off says so (`gig_core::Supervision`).
//!
//! - [`mailbox`]: the supervised downstream's mailbox. It is Gig's, not actix's, so it
//!   outlives an instance: what the dead one had not taken goes to the next, and Gig knows
//!   which delivery a handler panicked on.
//! - [`outcome`]: a supervised Acked or NoAcked actor: its current address, and how a
//!   hand-over in flight learns that the instance it was offered to died, and how.

pub(crate) mod downstream;
pub(crate) mod instance;
pub(crate) mod mailbox;
pub(crate) mod outcome;

use actix::{ArbiterHandle, Message};
use gig_core::Role;

/// Where Gig starts an actor from its factory.
#[derive(Clone, Default)]
pub(crate) enum Place {
    /// On the consumer's arbiter.
    #[default]
    Here,
    /// On this arbiter.
    On(ArbiterHandle),
}

/// An instance of `role` ended: `why` is the panic's message, or says it stopped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Died {
    pub(crate) role: Role,
    /// Which instance: a report about an earlier one than the current is stale.
    pub(crate) generation: u64,
    pub(crate) why: String,
}
