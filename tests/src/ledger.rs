//! The [`Ledger`]: an Acked and NoAcked actor that records every record it accepts, and
//! what tests ask of it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::WeakAddr;
use gig_actors::prelude::*;
use tokio::sync::watch;

use crate::broker::FIRST_JOIN;

/// What the ledger saw of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the record was read: topic, partition and offset.
    pub topic: String,
    /// See `topic`.
    pub partition: i32,
    /// See `topic`.
    pub offset: i64,
    /// The payload as UTF-8 text (empty when it is not).
    pub payload: String,
    /// `None` when acked; the reason's text when no-acked.
    pub reason: Option<String>,
    /// When the ledger accepted it.
    pub at: Instant,
}

/// An Acked *and* NoAcked actor that records every record it accepts.
#[derive(Clone)]
pub struct Ledger {
    entries: Arc<Mutex<Vec<Entry>>>,
    count: Arc<watch::Sender<usize>>,
    /// Consumers started by [`Ledger::consumer`], whose stats a failed wait reports.
    consumers: Arc<Mutex<Vec<WeakAddr<ConsumerActor>>>>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            entries: Arc::default(),
            count: Arc::new(watch::channel(0).0),
            consumers: Arc::default(),
        }
    }
}

impl Ledger {
    fn push(&self, record: &Record, reason: Option<String>) {
        let mut entries = self.entries.lock().unwrap();
        entries.push(Entry {
            topic: record.topic().to_string(),
            partition: record.partition(),
            offset: record.offset(),
            payload: record.payload_str().unwrap_or_default().to_string(),
            reason,
            at: Instant::now(),
        });
        self.count.send_replace(entries.len());
    }

    /// Everything accepted so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }

    /// The number of entries, as it changes: for a wait on several ledgers at once.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    /// Acked entries.
    pub fn acked(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.reason.is_none())
            .collect()
    }

    /// No-acked entries.
    pub fn no_acked(&self) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.reason.is_some())
            .collect()
    }

    /// Waits until at least `n` records were accepted; panics after `timeout`, with the
    /// stats of the consumers this ledger started (did they join, fetch, hand over?). A
    /// group's join can take longer than the test's timeout on the embedded broker (see
    /// [`FIRST_JOIN`]): while a consumer of this ledger is still unassigned, the timeout runs
    /// again from when it is assigned, up to `FIRST_JOIN` in all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) {
        let started = Instant::now();
        let mut rx = self.count.subscribe();
        loop {
            let waited = tokio::time::timeout(timeout, rx.wait_for(|&c| c >= n)).await;
            if waited.is_ok() {
                return;
            }
            if started.elapsed() >= FIRST_JOIN || !self.waited_for_a_join(started).await {
                break;
            }
        }
        let consumers = self.consumers.lock().unwrap().clone();
        let mut why = String::new();
        for consumer in consumers.iter().filter_map(WeakAddr::upgrade) {
            let stats = tokio::time::timeout(Duration::from_secs(5), consumer.send(GetStats));
            why.push_str(&format!("\n  consumer: {:?}", stats.await));
        }
        panic!(
            "waited {timeout:?} for {n} records, ledger has {}{why}",
            *self.count.borrow()
        );
    }

    /// Whether a consumer of this ledger was unassigned; if so, waits until it is assigned
    /// (or until [`FIRST_JOIN`] after `started`).
    async fn waited_for_a_join(&self, started: Instant) -> bool {
        let consumers = self.consumers.lock().unwrap().clone();
        let mut waited = false;
        for consumer in consumers.iter().filter_map(WeakAddr::upgrade) {
            let left = FIRST_JOIN.saturating_sub(started.elapsed());
            let unassigned =
                matches!(consumer.send(GetStats).await, Ok(s) if s.assignment.is_empty());
            if unassigned && !left.is_zero() {
                waited = true;
                // Answered at the assignment; a timeout or a stopped consumer ends the wait too.
                let _ = consumer.send(WaitForAssignment::within(left)).await;
            }
        }
        if waited {
            eprintln!(
                "a consumer was still joining its group {:?} after the wait began",
                started.elapsed()
            );
        }
        waited
    }

    /// Waits until `ok` holds for the entries accepted so far; panics after `timeout`.
    pub async fn wait_until(&self, timeout: Duration, ok: impl Fn(&[Entry]) -> bool) {
        let mut rx = self.count.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                if ok(&self.entries()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The ledger holds the sender: this cannot happen while it lives.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "waited {timeout:?}; the condition never held; ledger has {} entries",
            self.entries().len()
        );
    }

    /// How many times each (topic, partition, offset) was accepted.
    pub fn counts(&self) -> BTreeMap<(String, i32, i64), usize> {
        let mut counts = BTreeMap::new();
        for e in self.entries() {
            *counts.entry((e.topic, e.partition, e.offset)).or_default() += 1;
        }
        counts
    }

    /// Starts the ledger as an actor and returns it as both outcome actors.
    pub fn start(&self) -> (Recipient<Acked>, Recipient<NoAcked>) {
        let addr = LedgerActor(self.clone()).start();
        (addr.clone().recipient(), addr.recipient())
    }

    /// Starts a consumer with `config` that delivers to `downstream` and hands every
    /// outcome to this ledger.
    pub fn consumer(
        &self,
        config: ConsumerConfig,
        downstream: Recipient<Delivery>,
    ) -> Addr<ConsumerActor> {
        let (acked, no_acked) = self.start();
        let consumer = ConsumerActor::builder(config)
            .downstream(downstream)
            .acked(acked)
            .no_acked(no_acked)
            .start()
            .expect("start a consumer");
        self.consumers.lock().unwrap().push(consumer.downgrade());
        consumer
    }
}

struct LedgerActor(Ledger);

impl Actor for LedgerActor {
    type Context = Context<Self>;
}

impl Handler<Acked> for LedgerActor {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: Acked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            self.0.push(r, None);
        }
        Ok(())
    }
}

impl Handler<NoAcked> for LedgerActor {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            self.0.push(&r.record, Some(r.reason.to_string()));
        }
        Ok(())
    }
}

/// The produced records the ledger never accepted, as `(partition, offset)`.
pub fn lost(ledger: &Ledger, topic: &str, produced: &[Delivered]) -> Vec<(i32, i64)> {
    let counts = ledger.counts();
    produced
        .iter()
        .filter(|d| !counts.contains_key(&(topic.to_string(), d.partition, d.offset)))
        .map(|d| (d.partition, d.offset))
        .collect()
}

/// One past the highest produced offset of each partition: where its commit must reach.
pub fn ends(produced: &[Delivered]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for d in produced {
        let end = ends.entry(d.partition).or_insert(0);
        *end = (*end).max(d.offset + 1);
    }
    ends
}
