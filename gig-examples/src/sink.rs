//! An outcome actor for examples whose outcomes are counted elsewhere (in `Stats`).

use actix::prelude::*;
use gig_actors::prelude::*;

/// Accepts every Acked and NoAcked batch and keeps nothing.
pub struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Acked> for Sink {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, _: Acked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

impl Handler<NoAcked> for Sink {
    type Result = Result<(), HandOverError>;

    fn handle(&mut self, _: NoAcked, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}
