//! How long a record has waited for its answer: data for a driver's ack-latency metric
//! (the pipeline itself keeps no timings and records no metrics).

use std::time::{Duration, Instant};

use super::Pipeline;
use crate::ack_book::Token;

impl Pipeline {
    /// How long the record named by `token` has waited for its answer: from its delivery
    /// (when its ack clock started) to `now`. `None` once it has an outcome, or if its
    /// partition was released. Call it before [`handle_answer`](Self::handle_answer).
    pub fn waited(&self, token: Token, now: Instant) -> Option<Duration> {
        let (record, deadline) = self.book.waiting(token)?;
        // The clock started at `deadline - timeout`; the timeout is the record's own when a
        // header gives one, as when it was tracked.
        let delivered = deadline.checked_sub(self.config.ack_timeout_of(record))?;
        Some(self.clock.at(now).saturating_duration_since(delivered))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::ConsumerConfig;
    use crate::outcome::Verdict;
    use crate::record::keyed_record as record;

    #[test]
    fn a_record_has_waited_from_its_delivery_until_it_is_answered() {
        let config = ConsumerConfig::new("b", "g").ack_timeout(Duration::from_secs(3));
        let mut pipeline = Pipeline::new(&config).unwrap();
        let t0 = Instant::now();
        pipeline.handle_fetched(vec![record(0, 0, None)], t0);
        let token = pipeline.poll_outbound()[0].token;
        let later = t0 + Duration::from_millis(250);
        assert_eq!(
            pipeline.waited(token, later),
            Some(Duration::from_millis(250))
        );
        pipeline.handle_answer(token, Verdict::Ack, later);
        assert_eq!(
            pipeline.waited(token, later),
            None,
            "answered: no longer waiting"
        );
    }
}
