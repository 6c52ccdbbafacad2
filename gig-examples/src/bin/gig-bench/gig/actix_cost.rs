//! What actix itself allocates per message, so that per-record counts can be split into
//! actix's and Gig's own.

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::counting;

/// One message to an actor on this thread, to count what actix allocates per message.
#[derive(Message)]
#[rtype(result = "()")]
struct Ping;

struct Pinged {
    left: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Pinged {
    type Context = Context<Self>;
}

impl Handler<Ping> for Pinged {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {
        self.left -= 1;
        if self.left == 0 {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// Heap allocations actix makes per `do_send` through a `Recipient` (as Gig sends each
/// `Delivery`) to an actor on the same thread: its envelope and its mailbox queue node.
/// Measured, so that per-record counts can be split into actix's and Gig's own.
pub(crate) async fn actix_allocs_per_message() -> f64 {
    const N: u64 = 100_000;
    let (tx, rx) = oneshot::channel();
    let recipient = Pinged {
        left: N,
        done: Some(tx),
    }
    .start()
    .recipient::<Ping>();
    let before = counting::allocations();
    for _ in 0..N {
        recipient.do_send(Ping);
    }
    let _ = rx.await;
    (counting::allocations() - before) as f64 / N as f64
}
