//! Gig's defaults for settings a JSON config leaves out (serde's `default`).

use std::time::Duration;
pub fn ack_timeout() -> Duration {
    Duration::from_secs(3)
}
pub fn headers() -> bool {
    true
}
pub fn max_in_flight() -> usize {
    10_000
}
pub fn poll_thread_nice() -> u8 {
    0
}
pub fn commit_interval() -> Duration {
    Duration::from_secs(1)
}
pub fn commit_every() -> usize {
    10_000
}
pub fn handover_batch() -> usize {
    1_000
}
pub fn handover_refused_limit() -> Duration {
    Duration::from_secs(30)
}
pub fn max_deliveries() -> u32 {
    5
}
