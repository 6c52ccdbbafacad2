//! The actors of the Gig phases: the downstream that acks (or holds) each delivery, and the
//! AckedActor / NoAckedActor that counts outcomes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use gig_actors::prelude::*;
use tokio::sync::oneshot;

/// Acks each record (or, `silent`, never answers), counting deliveries.
pub(crate) struct Down {
    silent: bool,
    delivered: Arc<AtomicU64>,
    /// Records the outcome actor has accepted so far.
    settled: Arc<AtomicU64>,
    /// Silent: the deliveries kept unanswered (a dropped one would go to the NoAckedActor at
    /// once, as dropped, not at its deadline), each with the count of records delivered up
    /// to it. Records time out in delivery order, so one is let go once the outcome actor
    /// has accepted that many.
    held: std::collections::VecDeque<(u64, Held)>,
}

#[allow(dead_code)] // Kept, never read: holding them is the point.
enum Held {
    One(Delivery),
    Batch(DeliveryBatch),
}

impl Down {
    /// A downstream that acks everything, or with `holds` > 0 a silent one, with room for
    /// that many held deliveries.
    pub(crate) fn new(holds: usize, delivered: Arc<AtomicU64>, settled: Arc<AtomicU64>) -> Self {
        Down {
            silent: holds > 0,
            delivered,
            settled,
            held: std::collections::VecDeque::with_capacity(holds),
        }
    }

    /// One delivery, by message or from the stream: acked, or held when silent.
    fn take(&mut self, d: Delivery) {
        let up_to = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if self.silent {
            self.hold(up_to, Held::One(d));
        } else {
            d.ack();
        }
    }

    fn hold(&mut self, up_to: u64, held: Held) {
        let settled = self.settled.load(Ordering::Relaxed);
        while self.held.front().is_some_and(|(n, _)| *n <= settled) {
            self.held.pop_front();
        }
        self.held.push_back((up_to, held));
    }
}

impl Actor for Down {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Down {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        self.take(d);
    }
}

impl StreamHandler<Delivery> for Down {
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        self.take(d);
    }
}

impl Handler<DeliveryBatch> for Down {
    type Result = ();
    fn handle(&mut self, b: DeliveryBatch, _: &mut Context<Self>) {
        let n = b.records().len() as u64;
        let up_to = self.delivered.fetch_add(n, Ordering::Relaxed) + n;
        if self.silent {
            self.hold(up_to, Held::Batch(b));
        } else {
            b.ack_all();
        }
    }
}

/// Counts outcomes; answers `done` when `expected` records were handed over. For timed-out
/// records it keeps how late each reached it past its deadline. As a transactional
/// AckedActor it answers with a copy of each record to `output`, if set.
pub(crate) struct Outcomes {
    pub(crate) expected: u64,
    pub(crate) seen: u64,
    pub(crate) output: Option<String>,
    /// `seen`, for the downstream.
    pub(crate) settled: Arc<AtomicU64>,
    pub(crate) late_ms: Vec<f32>,
    pub(crate) done: Option<oneshot::Sender<Vec<f32>>>,
}

impl Outcomes {
    fn saw(&mut self, n: usize) {
        self.seen += n as u64;
        self.settled.store(self.seen, Ordering::Relaxed);
        if self.seen >= self.expected {
            if let Some(done) = self.done.take() {
                let _ = done.send(std::mem::take(&mut self.late_ms));
            }
        }
    }
}

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        let touched: usize = m
            .records
            .iter()
            .map(|r| r.payload().map_or(0, <[u8]>::len))
            .sum();
        std::hint::black_box(touched);
        self.saw(m.records.len());
        Ok(())
    }
}

impl Handler<AckedTx> for Outcomes {
    type Result = Result<Outputs, HandOverError>;
    fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
        self.saw(m.records.len());
        let Some(topic) = &self.output else {
            return Ok(Outputs::new());
        };
        let copy = |r: &Record| ProducerRecord::new(topic, r.payload().unwrap_or_default());
        Ok(m.records.iter().map(|r| (r, copy(r))).collect())
    }
}

impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        for r in &m.records {
            if let NoAckReason::TimedOut { deadline, .. } = r.reason {
                let late = now.saturating_duration_since(deadline);
                self.late_ms.push(late.as_secs_f32() * 1000.0);
            }
        }
        self.saw(m.records.len());
        Ok(())
    }
}
