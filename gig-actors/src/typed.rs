//! Typed records: a downstream that asks for `T: DeserializeOwned` instead of bytes.
//!
//! Gig decodes each payload as JSON before delivery. A record that does not decode (not
//! JSON, wrong shape, not UTF-8, empty or null) never reaches the downstream: it goes to
//! the NoAckedActor at once with [`NoAckReason::Undecodable`](gig_core::NoAckReason) and the
//! serde_json error as its reason, and is committed like any other outcome.
//!
//! ```no_run
//! # use actix::prelude::*;
//! # use gig_actors::prelude::*;
//! #[derive(serde::Deserialize)]
//! struct Order { id: u64 }
//!
//! struct Billing;
//! impl Actor for Billing { type Context = Context<Self>; }
//! impl Handler<Typed<Order>> for Billing {
//!     type Result = ();
//!     fn handle(&mut self, order: Typed<Order>, _: &mut Context<Self>) {
//!         if order.value.id > 0 { order.ack() } else { order.nack("id 0") }
//!     }
//! }
//! # fn wire(config: ConsumerConfig, acked: Recipient<Acked>, no_acked: Recipient<NoAcked>) -> Result<(), GigError> {
//! ConsumerActor::builder(config)
//!     .json_downstream(Billing.start().recipient())
//!     .acked(acked)
//!     .no_acked(no_acked)
//!     .start()?;
//! # Ok(()) }
//! ```

use std::time::Instant;

use actix::{Message, Recipient};
use gig_core::Record;
use serde::de::DeserializeOwned;

use crate::delivery::AckHandle;

/// One decoded record for a typed downstream.
pub struct Typed<T> {
    /// The decoded payload.
    pub value: T,
    /// The record it came from (key, headers, offset, raw payload).
    pub record: Record,
    handle: AckHandle,
}

impl<T: 'static> Message for Typed<T> {
    type Result = ();
}

impl<T> Typed<T> {
    /// When the record times out if not answered.
    pub fn deadline(&self) -> Instant {
        self.handle.deadline()
    }

    /// Acks the record: it goes to the AckedActor.
    pub fn ack(self) {
        self.handle.ack();
    }

    /// Nacks the record with a reason: it goes to the NoAckedActor.
    pub fn nack(self, reason: impl Into<String>) {
        self.handle.nack(reason);
    }

    /// Splits the delivery, to answer later with the handle.
    pub fn into_parts(self) -> (T, Record, AckHandle) {
        (self.value, self.record, self.handle)
    }
}

/// A downstream behind a decoder, with its type erased so the consumer can hold it.
pub(crate) trait Decoding {
    /// Whether the downstream actor is still running.
    fn connected(&self) -> bool;
    /// Decodes and delivers; on a decode failure, gives up the handle (Gig routes the
    /// record itself), returns the error and delivers nothing.
    fn deliver(&self, record: Record, handle: AckHandle) -> Result<(), String>;
}

/// A downstream of `Typed<T>` fed with JSON payloads.
pub(crate) struct Json<T: Send + 'static> {
    pub(crate) recipient: Recipient<Typed<T>>,
}

impl<T: DeserializeOwned + Send + 'static> Decoding for Json<T> {
    fn connected(&self) -> bool {
        self.recipient.connected()
    }

    fn deliver(&self, record: Record, handle: AckHandle) -> Result<(), String> {
        let decoded = match record.payload() {
            None => Err("null payload".to_string()),
            Some(payload) => serde_json::from_slice::<T>(payload).map_err(|e| e.to_string()),
        };
        match decoded {
            Ok(value) => {
                self.recipient.do_send(Typed {
                    value,
                    record,
                    handle,
                });
                Ok(())
            }
            Err(why) => {
                handle.disarm();
                Err(why)
            }
        }
    }
}
