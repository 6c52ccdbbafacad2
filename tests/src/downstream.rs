//! A scripted downstream, the one way the suite starts a consumer on it, and waiting on a
//! consumer's stats.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;

use crate::ledger::Ledger;

/// What the scripted downstream does with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ack at once.
    Ack,
    /// Nack at once with this reason.
    Nack(String),
    /// Drop it unanswered: it goes to the NoAckedActor as dropped, at once.
    Ignore,
    /// Keep the handle until [`Release`]: a silent downstream, whose records time out.
    Hold,
}

/// A downstream whose answer per record is a function of the record. It records every
/// delivery, so tests can check that nothing was delivered twice.
pub struct Scripted {
    script: Box<dyn Fn(&Record) -> Action>,
    delivered: Arc<Mutex<Vec<Record>>>,
    held: Vec<AckHandle>,
}

impl Scripted {
    /// A downstream following `script`; returns it and its delivery log.
    pub fn new(script: impl Fn(&Record) -> Action + 'static) -> (Self, Arc<Mutex<Vec<Record>>>) {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let me = Scripted {
            script: Box::new(script),
            delivered: delivered.clone(),
            held: Vec::new(),
        };
        (me, delivered)
    }
}

impl Actor for Scripted {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Scripted {
    type Result = ();
    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        self.delivered.lock().unwrap().push(delivery.record.clone());
        match (self.script)(&delivery.record) {
            Action::Ack => delivery.ack(),
            Action::Nack(why) => delivery.nack(why),
            Action::Ignore => {}
            Action::Hold => self.held.push(delivery.into_parts().1),
        }
    }
}

/// Answers every held record with this verdict; returns how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Release(pub Verdict);

impl Handler<Release> for Scripted {
    type Result = usize;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> usize {
        let n = self.held.len();
        for handle in self.held.drain(..) {
            handle.answer(msg.0.clone());
        }
        n
    }
}

/// Polls the consumer's stats until `ok` holds; panics after `timeout`. For conditions that
/// only the consumer knows (a commit confirmed by the broker), where no event reaches the
/// test.
pub async fn stats_until(
    consumer: &Addr<ConsumerActor>,
    timeout: Duration,
    ok: impl Fn(&Stats) -> bool,
) -> Stats {
    ask_until(consumer, GetStats, timeout, ok).await
}

/// Polls the consumer's [`Health`] until `ok` holds; panics after `timeout`.
pub async fn health_until(
    consumer: &Addr<ConsumerActor>,
    timeout: Duration,
    ok: impl Fn(&HealthReport) -> bool,
) -> HealthReport {
    ask_until(consumer, Health, timeout, ok).await
}

/// Asks the consumer `question` every 20 ms until `ok` holds of the answer; panics after
/// `timeout`.
async fn ask_until<Q, A>(
    consumer: &Addr<ConsumerActor>,
    question: Q,
    timeout: Duration,
    ok: impl Fn(&A) -> bool,
) -> A
where
    Q: Message<Result = A> + Copy + Send + 'static,
    A: std::fmt::Debug + Send + 'static,
    ConsumerActor: Handler<Q>,
{
    let until = Instant::now() + timeout;
    loop {
        let answer = consumer.send(question).await.expect("consumer alive");
        if ok(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < until,
            "never matched within {timeout:?}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the scripted downstream got `n` deliveries (its log is the only witness);
/// panics after `timeout`.
pub async fn delivered_until(delivered: &Mutex<Vec<Record>>, n: usize, timeout: Duration) {
    let until = Instant::now() + timeout;
    while delivered.lock().unwrap().len() < n {
        assert!(
            Instant::now() < until,
            "fewer than {n} deliveries within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A consumer started by [`start`].
pub struct Started {
    /// The consumer.
    pub consumer: Addr<ConsumerActor>,
    /// Its scripted downstream.
    pub downstream: Addr<Scripted>,
    /// Every record delivered to the downstream, in delivery order.
    pub delivered: Arc<Mutex<Vec<Record>>>,
}

/// Starts a consumer on `config` whose downstream follows `script` and which hands every
/// outcome to `ledger`.
pub fn start(
    ledger: &Ledger,
    config: ConsumerConfig,
    script: impl Fn(&Record) -> Action + 'static,
) -> Started {
    let (downstream, delivered) = Scripted::new(script);
    let downstream = downstream.start();
    let consumer = ledger.consumer(config, downstream.clone().recipient());
    Started {
        consumer,
        downstream,
        delivered,
    }
}

/// Notes when it is dropped: put first among an actor's fields, it tells when the actor
/// died (a panic unwinding it, or a stop).
#[derive(Clone, Default)]
pub struct Death(Arc<Mutex<Option<Instant>>>);

impl Death {
    /// When it was dropped; panics if it was not.
    pub fn at(&self) -> Instant {
        self.0.lock().unwrap().expect("dropped")
    }
}

impl Drop for Death {
    fn drop(&mut self) {
        if let Ok(mut at) = self.0.lock() {
            at.get_or_insert_with(Instant::now);
        }
    }
}
