//! The soak's producer: a thread writing a steady rate of records, noting from its delivery
//! reports where each landed.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};

use crate::produce::send_waiting;
use crate::settings::fail;

/// Where the producer's records landed, from its delivery reports.
pub(crate) struct Landed {
    /// `PARTITION OFFSET KEY` per record, with `--soak-ledger`.
    pub(crate) list: Option<Mutex<BufWriter<File>>>,
    /// Per partition, one past the highest offset delivered.
    pub(crate) ends: Vec<AtomicI64>,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
}

struct Reports(Arc<Landed>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let (partition, offset) = (m.partition(), m.offset());
                if let Some(end) = self.0.ends.get(partition as usize) {
                    end.fetch_max(offset + 1, Ordering::Relaxed);
                }
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(list) = &self.0.list {
                    let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                    if let Ok(mut list) = list.lock() {
                        let _ = writeln!(list, "{partition} {offset} {key}");
                    }
                }
            }
            Err((e, _)) => {
                if self.0.failed.fetch_add(1, Ordering::Relaxed) < 10 {
                    eprintln!("soak: a record was not produced: {e}");
                }
            }
        }
    }
}

/// Produces `rate` records a second until `stop`; returns how many it sent.
pub(crate) fn produce_steadily(
    brokers: &str,
    topic: &str,
    partitions: i32,
    rate: u64,
    landed: Arc<Landed>,
    stop: &AtomicBool,
) -> u64 {
    let producer: BaseProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create_with_context(Reports(landed))
        .unwrap_or_else(|e| fail(&format!("soak producer: {e}")));
    let (mut key, mut payload) = (String::new(), String::new());
    let start = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while i < due {
            use std::fmt::Write as _;
            key.clear();
            payload.clear();
            let _ = write!(key, "k{i}");
            let _ = write!(payload, "v{i}");
            let record = BaseRecord::to(topic)
                .key(key.as_str())
                .payload(payload.as_str())
                .partition((i % partitions as u64) as i32);
            send_waiting(&producer, record, Duration::from_millis(5));
            i += 1;
        }
        // Serves every delivery report that comes within 2 ms: with a zero timeout `poll`
        // serves one event (one batch), and the reports would queue up.
        producer.poll(Duration::from_millis(2));
    }
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        fail(&format!("soak producer flush: {e}"));
    }
    i
}
