//! Starting one instance of a user's actor and learning how its task ended.

use std::any::Any;

use actix::dev::channel;
use actix::{Actor, Addr, Context};
use tokio::task::{JoinError, JoinHandle};

use super::Place;

/// Starts an actor that `make` builds (it may first attach things to the context) on
/// `place`, and calls `ended` with how its task ended: `None` when it stopped, the panic's
/// message when a handler panicked. actix runs each actor as a task, and tokio's task
/// catches a panic in it: the task's result is the only place the message is kept.
pub(crate) fn start<A, M, E>(place: &Place, make: M, ended: E) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    M: FnOnce(&mut Context<A>) -> A + Send + 'static,
    E: FnOnce(Option<String>) + Send + 'static,
{
    let (sender, receiver) = channel::channel(16);
    let run = async move {
        let task = spawn(receiver, make);
        ended(task.await.err().map(panic_message));
    };
    match place {
        Place::Here => drop(actix::spawn(run)),
        Place::On(arbiter) => {
            arbiter.spawn(run);
        }
    }
    Addr::new(sender)
}

/// Builds the actor and runs it as a task of the current arbiter.
fn spawn<A, M>(receiver: channel::AddressReceiver<A>, make: M) -> JoinHandle<()>
where
    A: Actor<Context = Context<A>>,
    M: FnOnce(&mut Context<A>) -> A,
{
    let mut ctx = Context::with_receiver(receiver);
    let actor = make(&mut ctx);
    actix::spawn(ctx.into_future(actor))
}

/// A panic's message: its payload when that is text.
fn panic_message(error: JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => text_of(payload.as_ref()),
        Err(_) => "its task was cancelled (its arbiter stopped)".to_string(),
    }
}

fn text_of(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic whose payload is not text".to_string()
    }
}
