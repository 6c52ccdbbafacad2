//! Per-record deliveries without a message per record: a stream the downstream actor
//! attaches to its context and handles with `StreamHandler<Delivery>`.
//!
//! actix allocates an envelope and a mailbox node for every message it sends, so one
//! [`Delivery`] message per record costs two allocations, whatever else is saved. Here the
//! consumer appends a fetched batch's deliveries to a queue shared with the stream, under
//! one lock, and the stream hands them to the actor one by one; the queue keeps its
//! capacity, so steady traffic allocates nothing per record. The actor handles each record
//! exactly as a `Handler<Delivery>` would, answering with the same [`Delivery`] methods.
//!
//! [`DeliveryStream::attach`] hands the actor everything queued each time its context is
//! polled, as actix does with a mailbox. (actix's own `ctx.add_stream` yields after 16
//! items; the answers of 16 records would then make a hand-over of their own, and a
//! hand-over costs several allocations.)
//!
//! ```no_run
//! use actix::prelude::*;
//! use gig_actors::prelude::*;
//!
//! struct Worker;
//! impl Actor for Worker { type Context = Context<Self>; }
//! impl StreamHandler<Delivery> for Worker {
//!     fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
//!         delivery.ack();
//!     }
//!     // The stream ends when the consumer stops; by default the actor stops then too.
//!     fn finished(&mut self, _: &mut Context<Self>) {}
//! }
//!
//! # fn wire(acked: Recipient<Acked>, no_acked: Recipient<NoAcked>) -> Result<(), GigError> {
//! let (deliveries, stream) = delivery_stream();
//! Worker::create(|ctx| {
//!     stream.attach(ctx);
//!     Worker
//! });
//! let config = ConsumerConfig::new("127.0.0.1:9092", "billing").topics(["orders"]);
//! let consumer = ConsumerActor::builder(config)
//!     .stream_downstream(deliveries)
//!     .acked(acked)
//!     .no_acked(no_acked)
//!     .start()?;
//! # Ok(()) }
//! ```
//!
//! Like a mailbox, the queue is bounded by `max_in_flight`, not by itself. When the stream
//! is dropped (its actor stopped or panicked), the consumer treats its downstream as gone
//! for good, as for any downstream given as an address: its records stay unanswered and
//! uncommitted, fetching stops, and [`Health`](crate::Health) is not live. To have Gig
//! start the downstream again instead, give it as a factory
//! ([`ConsumerBuilder::downstream_factory`](crate::ConsumerBuilder::downstream_factory)).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use actix::fut::ActorFuture;
use actix::{Actor, AsyncContext, SpawnHandle, StreamHandler};

use crate::delivery::Delivery;

/// Makes a connected pair: the [`DeliverySender`] goes to
/// [`ConsumerBuilder::stream_downstream`](crate::ConsumerBuilder::stream_downstream), the
/// [`DeliveryStream`] to the downstream actor ([`DeliveryStream::attach`]).
pub fn delivery_stream() -> (DeliverySender, DeliveryStream) {
    let (sender, receiver) = channel();
    (DeliverySender(sender), DeliveryStream(receiver))
}

/// The consumer's end of a [`delivery_stream`](fn@delivery_stream).
#[derive(Debug)]
pub struct DeliverySender(Sender<Delivery>);

impl DeliverySender {
    /// Queues `deliveries` in order, under one lock, and wakes the stream.
    pub(crate) fn send_all(&self, deliveries: impl Iterator<Item = Delivery>) {
        self.0.send_all(deliveries);
    }

    /// Whether the stream is still there to take deliveries.
    pub(crate) fn connected(&self) -> bool {
        self.0.connected()
    }
}

/// The downstream actor's end of a [`delivery_stream`](fn@delivery_stream): [`attach`](Self::attach) it to the
/// actor's context and handle [`Delivery`] with `StreamHandler`. It ends once the consumer
/// has stopped and every queued delivery was taken.
#[derive(Debug)]
#[must_use = "a DeliveryStream must be attached to the downstream actor's context"]
pub struct DeliveryStream(Receiver<Delivery>);

impl DeliveryStream {
    /// Feeds the stream's deliveries to `ctx`'s actor, through its
    /// `StreamHandler<Delivery>`: `started` first, then `handle` for each delivery, all
    /// those queued each time the context is polled, then `finished` once the stream ends
    /// (by default that stops the actor). Call it from `Actor::create`, `started` or a
    /// handler.
    pub fn attach<A>(self, ctx: &mut actix::Context<A>) -> SpawnHandle
    where
        A: Actor<Context = actix::Context<A>> + StreamHandler<Delivery>,
    {
        ctx.spawn(Attached {
            receiver: self.0,
            started: false,
        })
    }
}

/// A [`DeliveryStream`] attached to an actor: the future its context polls.
struct Attached {
    receiver: Receiver<Delivery>,
    started: bool,
}

impl<A> ActorFuture<A> for Attached
where
    A: Actor<Context = actix::Context<A>> + StreamHandler<Delivery>,
{
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut actix::Context<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            <A as StreamHandler<Delivery>>::started(act, ctx);
        }
        loop {
            match this.receiver.poll_next(task) {
                Poll::Ready(Some(delivery)) => {
                    <A as StreamHandler<Delivery>>::handle(act, delivery, ctx);
                    // The handler made the actor wait for a future (`ctx.wait`): actix
                    // polls this again once that is done.
                    if ctx.waiting() {
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => {
                    <A as StreamHandler<Delivery>>::finished(act, ctx);
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// What both ends share.
#[derive(Debug)]
struct Shared<T> {
    queue: VecDeque<T>,
    /// The stream, waiting for the queue to fill.
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

/// A single-producer, single-consumer queue whose sender appends many items per lock and
/// whose receiver takes them all per lock.
fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(Shared {
        queue: VecDeque::new(),
        waker: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    let receiver = Receiver {
        shared: shared.clone(),
        taken: VecDeque::new(),
    };
    (Sender { shared }, receiver)
}

/// A poisoned lock means a panic while it was held; the queue itself is always whole.
fn lock<T>(shared: &Mutex<Shared<T>>) -> MutexGuard<'_, Shared<T>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Sender<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

impl<T> Sender<T> {
    fn send_all(&self, items: impl Iterator<Item = T>) {
        let waker = {
            let mut shared = lock(&self.shared);
            if shared.receiver_gone {
                // Nothing will take them: dropped (outside the lock).
                drop(shared);
                items.for_each(drop);
                return;
            }
            shared.queue.extend(items);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn connected(&self) -> bool {
        !lock(&self.shared).receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = lock(&self.shared);
            shared.sender_gone = true;
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[derive(Debug)]
struct Receiver<T> {
    shared: Arc<Mutex<Shared<T>>>,
    /// Items taken from the shared queue in one go, handed out one by one. Swapped with
    /// the shared queue, so the two buffers circulate and keep their capacity.
    taken: VecDeque<T>,
}

impl<T> Receiver<T> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(item) = self.taken.pop_front() {
            return Poll::Ready(Some(item));
        }
        let mut shared = lock(&self.shared);
        std::mem::swap(&mut self.taken, &mut shared.queue);
        if let Some(item) = self.taken.pop_front() {
            return Poll::Ready(Some(item));
        }
        if shared.sender_gone {
            return Poll::Ready(None);
        }
        if !shared
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            shared.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let queued = {
            let mut shared = lock(&self.shared);
            shared.receiver_gone = true;
            shared.waker = None;
            std::mem::take(&mut shared.queue)
        };
        // Dropped outside the lock: a dropped delivery answers as dropped.
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll<T>(receiver: &mut Receiver<T>, waker: &Arc<CountingWaker>) -> Poll<Option<T>> {
        let waker = Waker::from(waker.clone());
        receiver.poll_next(&mut Context::from_waker(&waker))
    }

    #[test]
    fn items_come_out_in_order_and_a_waiting_receiver_is_woken_once_per_send() {
        let (sender, mut receiver) = channel();
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        sender.send_all(0..3);
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        sender.send_all(3..5);
        // Not waiting any more: no second wake-up.
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        let got: Vec<_> = (0..5).map(|_| poll(&mut receiver, &waker)).collect();
        assert_eq!(
            got,
            (0..5).map(|i| Poll::Ready(Some(i))).collect::<Vec<_>>()
        );
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
    }

    #[test]
    fn the_stream_ends_after_the_sender_is_gone_and_the_queue_is_empty() {
        let (sender, mut receiver) = channel();
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        sender.send_all([7].into_iter());
        drop(sender);
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Some(7)));
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(None));
    }

    #[test]
    fn a_dropped_receiver_drops_what_was_queued_and_what_comes_after() {
        let item = Arc::new(());
        let (sender, receiver) = channel();
        sender.send_all([item.clone(), item.clone()].into_iter());
        assert!(sender.connected());
        drop(receiver);
        assert!(!sender.connected());
        assert_eq!(Arc::strong_count(&item), 1, "queued items dropped");
        sender.send_all([item.clone()].into_iter());
        assert_eq!(Arc::strong_count(&item), 1, "later items dropped");
    }

    #[test]
    fn steady_traffic_reuses_the_queues() {
        let (sender, mut receiver) = channel();
        let waker = Arc::new(CountingWaker::default());
        for round in 0..3 {
            sender.send_all(0..1000);
            for i in 0..1000 {
                assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Some(i)), "{round}");
            }
            assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        }
        // The drained buffer went back to the sender's side: the next send has room.
        assert!(lock(&receiver.shared).queue.capacity() >= 1000);
    }
}
