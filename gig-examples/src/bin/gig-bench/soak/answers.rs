//! The soak's downstream: it answers each record by its number `i` (`i % 20`): 17 in 20
//! acked, 1 nacked, 1 never answered (held past its deadline, then dropped), 1 answered late.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_examples::ledger_file::{wall_us, Times};

/// How long after its deadline a late record is answered.
const LATE_BY: Duration = Duration::from_millis(200);
/// How long after its deadline a silent record's delivery is dropped (Gig has routed it by
/// then, and ignores the drop).
const SILENT_HELD: Duration = Duration::from_secs(1);

/// What the downstream does with record `i`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ack,
    Nack,
    Silent,
    Late,
}

fn answer_for(i: u64) -> Answer {
    match i % 20 {
        17 => Answer::Nack,
        18 => Answer::Silent,
        19 => Answer::Late,
        _ => Answer::Ack,
    }
}

// ---- the downstream ----

/// Answers each record by its number; holds the silent and late ones until they are due.
pub(crate) struct Answers {
    /// When each record reached it and was answered, for the ledger file.
    times: Option<Times>,
    /// Late records, with when to answer them (in delivery order, so in time order).
    late: VecDeque<(Instant, AckHandle)>,
    /// Silent records, with when to let their deliveries go.
    silent: VecDeque<(Instant, AckHandle)>,
    /// Records whose payload is not `v{i}` (acked): none expected.
    strangers: u64,
}

impl Answers {
    /// A downstream noting each record's times in `times` (the ledger file's), if given.
    pub(crate) fn new(times: Option<Times>) -> Self {
        Answers {
            times,
            late: VecDeque::new(),
            silent: VecDeque::new(),
            strangers: 0,
        }
    }

    fn note(&self, at: (i32, i64), start: u64, end: Option<u64>) {
        if let Some(times) = &self.times {
            if let Ok(mut times) = times.lock() {
                times.insert(at, (start, end));
            }
        }
    }

    /// Answers the late records that are due and lets the silent ones go.
    fn tick(&mut self) {
        let now = Instant::now();
        while self.late.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, handle)) = self.late.pop_front() {
                handle.ack();
            }
        }
        while self.silent.front().is_some_and(|(due, _)| *due <= now) {
            self.silent.pop_front();
        }
    }
}

impl Actor for Answers {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_millis(20), |me, _| me.tick());
    }
}

impl Handler<Delivery> for Answers {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let at = (d.record.partition(), d.record.offset());
        let start = wall_us();
        let number = d
            .record
            .payload_str()
            .and_then(|p| p.strip_prefix('v')?.parse::<u64>().ok());
        let Some(i) = number else {
            self.strangers += 1;
            self.note(at, start, Some(wall_us()));
            d.ack();
            return;
        };
        let deadline = d.deadline();
        match answer_for(i) {
            Answer::Ack => {
                self.note(at, start, Some(wall_us()));
                d.ack();
            }
            Answer::Nack => {
                self.note(at, start, Some(wall_us()));
                d.nack("soak: every 20th record");
            }
            // The ledger writes a timed-out record's deadline as its end.
            Answer::Silent => {
                self.note(at, start, None);
                let (_, handle) = d.into_parts();
                self.silent.push_back((deadline + SILENT_HELD, handle));
            }
            Answer::Late => {
                self.note(at, start, None);
                let (_, handle) = d.into_parts();
                self.late.push_back((deadline + LATE_BY, handle));
            }
        }
    }
}

/// The downstream's count of records that were not `v{i}`.
#[derive(Message)]
#[rtype(result = "u64")]
pub(crate) struct Strangers;

impl Handler<Strangers> for Answers {
    type Result = u64;
    fn handle(&mut self, _: Strangers, _: &mut Context<Self>) -> u64 {
        self.strangers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_by_number() {
        let counts = (0..20).fold([0; 4], |mut c, i| {
            c[answer_for(i) as usize] += 1;
            c
        });
        assert_eq!(counts, [17, 1, 1, 1]);
    }
}
