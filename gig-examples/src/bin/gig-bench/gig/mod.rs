//! The Gig phases: gig-ack, gig-stream, gig-batch, gig-silent, gig-txn and gig-txn-out,
//! one `ConsumerActor` each over the same records as raw; and the memory phase.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use gig_actors::prelude::*;
use tokio::sync::oneshot;

use crate::args::Phase;
use crate::meter::{peak_rss_mb, reset_peak_rss, Meter, Progress};
use crate::plot;
use crate::produce::{feeder, finish_feed};
use crate::run::{percentiles, Run};
use crate::settings::{
    consumer_tuning, embedded, env_properties, fail, unique, Settings, SILENT_TIMEOUT,
};
use crate::topics::create_topic;

pub(crate) mod actix_cost;
pub(crate) mod actors;
pub(crate) mod memory;

use actors::{Down, Outcomes};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Ack,
    /// Ack, delivered through a `DeliveryStream`.
    Stream,
    Batch,
    Silent,
    /// Ack, committed in transactions.
    Txn,
    /// Ack, with one output per record, committed in transactions.
    TxnOut,
}

impl Mode {
    /// The mode of a Gig phase; `None` for the others.
    pub(crate) fn of(phase: Phase) -> Option<Mode> {
        match phase {
            Phase::Raw | Phase::Java | Phase::RawTxnOut => None,
            Phase::GigAck => Some(Mode::Ack),
            Phase::GigStream => Some(Mode::Stream),
            Phase::GigBatch => Some(Mode::Batch),
            Phase::GigSilent => Some(Mode::Silent),
            Phase::GigTxn => Some(Mode::Txn),
            Phase::GigTxnOut => Some(Mode::TxnOut),
        }
    }
}

pub(crate) async fn gig_run(
    brokers: &str,
    topic: &str,
    partitions: i32,
    s: &Settings,
    mode: Mode,
    label: String,
) -> Run {
    let delivered = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = oneshot::channel();
    let settled = Arc::new(AtomicU64::new(0));
    let output = (mode == Mode::TxnOut).then(|| format!("{topic}.out"));
    // The embedded broker creates a topic on first use.
    if let Some(output) = output.as_ref().filter(|_| !embedded()) {
        create_topic(brokers, output, partitions).await;
    }
    let outcomes = Outcomes {
        expected: s.records,
        seen: 0,
        output,
        settled: settled.clone(),
        // Allocated up front, as the downstream's queue is: growing either would stall
        // the thread the consumer shares with them, and show as lateness of Gig's.
        late_ms: Vec::with_capacity(if mode == Mode::Silent {
            s.records as usize
        } else {
            0
        }),
        done: Some(done_tx),
    }
    .start();
    let holds = if mode == Mode::Silent {
        s.silent_in_flight
    } else {
        0
    };
    let down = Down::new(holds, delivered.clone(), settled);
    let (down, stream) = if mode == Mode::Stream {
        let (sender, stream) = delivery_stream();
        let down = Down::create(|ctx| {
            stream.attach(ctx);
            down
        });
        (down, Some(sender))
    } else {
        (down.start(), None)
    };
    let mut config =
        ConsumerConfig::new(brokers, format!("bench-gig-{}", unique())).headers(s.headers);
    for (key, value) in consumer_tuning() {
        config = config.property(&key, &value);
    }
    if let Some(nice) = s.poll_thread_nice {
        config = config.poll_thread_nice(nice);
    }
    config = config.key_ordering(s.key_ordering);
    // GIGCI_BENCH_MAX_DELIVERIES=0 turns the crash-loop guard off, to measure what it costs.
    if let Ok(max) = std::env::var("GIGCI_BENCH_MAX_DELIVERIES") {
        let max = max
            .parse()
            .unwrap_or_else(|_| fail("GIGCI_BENCH_MAX_DELIVERIES: a number"));
        config = config.max_deliveries(max);
    }
    if mode == Mode::Silent {
        config = config
            .ack_timeout(SILENT_TIMEOUT)
            .max_in_flight(s.silent_in_flight);
    }
    let transactional = matches!(mode, Mode::Txn | Mode::TxnOut);
    if transactional {
        // GIGCI_BENCH_TXN_PRODUCER ("key=value,...") adds properties to Gig's transactional
        // producer.
        let mut settings = Transactional::new(format!("bench-txn-{}", unique()));
        for (key, value) in env_properties("GIGCI_BENCH_TXN_PRODUCER") {
            settings = settings.property(key, value);
        }
        config = config.transactional(settings);
    }
    let builder = ConsumerActor::builder(config).no_acked(outcomes.clone().recipient());
    let builder = match transactional {
        true => builder.acked_tx(outcomes.recipient()),
        false => builder.acked(outcomes.recipient()),
    };
    let builder = match (mode, stream) {
        (_, Some(deliveries)) => builder.stream_downstream(deliveries),
        (Mode::Batch, None) => builder.batch_downstream(down.recipient(), 1000),
        _ => builder.downstream(down.recipient()),
    };
    let consumer = builder
        .start()
        .unwrap_or_else(|e| fail(&format!("consumer: {e}")));
    let starts: Vec<PartitionStart> = (0..partitions)
        .map(|partition| PartitionStart {
            topic: topic.to_string(),
            partition,
            offset: Some(0),
        })
        .collect();

    reset_peak_rss();
    let feed = feeder(brokers, topic, partitions, s, &delivered);
    let meter = Meter::start();
    consumer
        .send(Assign(starts))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("assign failed"));
    let mut progress = Progress::new(label, s.records, delivered.clone());
    let mut done_rx = done_rx;
    let late = loop {
        tokio::select! {
            late = &mut done_rx => break late.unwrap_or_default(),
            _ = tokio::time::sleep(Duration::from_millis(250)) => progress.tick(),
        }
    };
    if let Err(e) = consumer
        .send(Commit)
        .await
        .unwrap_or(Err(GigError::Stopped))
    {
        fail(&format!("final commit: {e}"));
    }
    let measured = meter.read();
    let peak = peak_rss_mb();
    finish_feed(feed);
    let stats = consumer
        .send(Stop)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| fail("stop failed"));
    let committed: i64 = (0..partitions)
        .map(|p| stats.committed(topic, p).unwrap_or(0))
        .sum();
    if committed as u64 != s.records {
        fail(&format!("committed {committed} of {} records", s.records));
    }
    Run {
        peak_rss_mb: peak,
        late_quantiles: match mode {
            Mode::Silent => plot::quantiles(&late),
            _ => Vec::new(),
        },
        late_ms: (mode == Mode::Silent).then(|| percentiles(late)),
        ..Run::measured(measured)
    }
}
