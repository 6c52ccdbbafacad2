//! The 2018 experiment that motivated Gig.
//!
//! Consumer 1's downstream never acks. `value1` is delivered to it; consumer 2 joins the
//! same group; consumer 1 unsubscribes; `value2` is produced. The classic actor connector
//! re-sends `value1` again and again and stalls the partition. Gig instead hands `value1`
//! to the NoAckedActor when its ack timeout passes, exactly once, and `value2` flows to
//! consumer 2: no partition stalls.
//!
//! ```text
//! cargo run -p gig-examples --bin seed_scenario        # embedded broker
//! cargo run -p gig-examples --bin seed_scenario -- --brokers 127.0.0.1:9092
//! ```

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use gig_actors::prelude::*;
use gig_actors::testkit::Broker;
use log::info;
use tokio::sync::watch;

const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// What happened, in order: "who: what".
#[derive(Clone)]
struct Journal {
    lines: Arc<Mutex<Vec<String>>>,
    changed: Arc<watch::Sender<usize>>,
}

impl Journal {
    fn new() -> Self {
        Journal {
            lines: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn note(&self, line: String) {
        info!("{line}");
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.push(line);
        self.changed.send_replace(lines.len());
    }

    fn count(&self, needle: &str) -> usize {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    async fn wait_for(&self, needle: &str) {
        let mut rx = self.changed.subscribe();
        let _ = rx.wait_for(|_| self.count(needle) > 0).await;
    }
}

/// A downstream that logs each delivery and acks it, or (`silent`) never answers: it keeps
/// the delivery, which then times out.
struct Downstream {
    name: &'static str,
    silent: bool,
    journal: Journal,
    unanswered: Vec<Delivery>,
}

impl Actor for Downstream {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Downstream {
    type Result = ();
    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let value = d.record.payload_str().unwrap_or("?").to_string();
        if self.silent {
            self.journal.note(format!(
                "{}: received {value}, will never ack it",
                self.name
            ));
            self.unanswered.push(d);
        } else {
            self.journal
                .note(format!("{}: received {value}, acks it", self.name));
            d.ack();
        }
    }
}

/// Logs what reaches the outcome actors.
struct Outcomes {
    journal: Journal,
}

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Handler<Acked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: Acked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            self.journal.note(format!(
                "AckedActor: {} ({r})",
                r.payload_str().unwrap_or("?")
            ));
        }
        Ok(())
    }
}

impl Handler<NoAcked> for Outcomes {
    type Result = Result<(), HandOverError>;
    fn handle(&mut self, msg: NoAcked, _: &mut Context<Self>) -> Self::Result {
        for r in &msg.records {
            let value = r.record.payload_str().unwrap_or("?");
            self.journal.note(format!(
                "NoAckedActor: {value} ({}, {})",
                r.record, r.reason
            ));
        }
        Ok(())
    }
}

fn consumer(
    protocol: &str,
    name: &'static str,
    silent: bool,
    brokers: &str,
    topic: &str,
    group: &str,
    journal: &Journal,
) -> Result<Addr<ConsumerActor>, GigError> {
    let outcomes = Outcomes {
        journal: journal.clone(),
    }
    .start();
    let downstream = Downstream {
        name,
        silent,
        journal: journal.clone(),
        unanswered: Vec::new(),
    }
    .start();
    let config = gig_examples::quick_group(
        ConsumerConfig::new(brokers, group)
            .topics([topic])
            .ack_timeout(ACK_TIMEOUT),
        protocol,
        6000,
    );
    ConsumerActor::builder(config)
        .downstream(downstream.recipient())
        .acked(outcomes.clone().recipient())
        .no_acked(outcomes.recipient())
        .start()
}

async fn run(args: Args) -> Result<String, GigError> {
    let protocol = args.protocol.group_protocol.as_str();
    let broker = Broker::external_or_embedded(args.broker.brokers)?;
    let brokers = broker.bootstrap_servers();
    info!("broker: {brokers} ({})", broker.kind());
    let topic = gig_examples::run_topic("seed-scenario", &broker);
    broker.create_topic(&topic, 1).await?;
    let producer = GigProducer::new(&brokers)?;
    let group = format!("seed-{}", std::process::id());
    let journal = Journal::new();
    let started = Instant::now();

    let c1 = consumer(
        protocol,
        "consumer1",
        true,
        &brokers,
        &topic,
        &group,
        &journal,
    )?;
    producer
        .send(ProducerRecord::new(topic.as_str(), "value1"))
        .await?;
    journal.wait_for("consumer1: received value1").await;

    info!("consumer2 joins the group");
    let c2 = consumer(
        protocol,
        "consumer2",
        false,
        &brokers,
        &topic,
        &group,
        &journal,
    )?;
    // Under the classic protocol a joining member's first rebalance says it is in the
    // group. Under KIP-848 a member given no partitions sees no rebalance at all; it gets
    // the partition once consumer1 lets go of it.
    if !protocol.eq_ignore_ascii_case("consumer") {
        gig_examples::wait_until(&c2, |s| s.rebalances > 0).await?;
        info!("consumer2 is in the group");
    }
    info!("consumer1 unsubscribes");
    c1.send(Unsubscribe).await??;
    journal.wait_for("NoAckedActor: value1").await;

    producer
        .send(ProducerRecord::new(topic.as_str(), "value2"))
        .await?;
    journal.wait_for("AckedActor: value2").await;
    let took = started.elapsed();

    let s1 = c1.send(Stop).await??;
    let s2 = c2.send(Stop).await??;
    let committed = s1.committed(&topic, 0).max(s2.committed(&topic, 0));
    Ok(format!(
        "value1: delivered {}x, no-acked {}x (timed out, not re-sent); value2: acked {}x by consumer2; \
         partition {topic}/0 committed at {}; no stall: value2 handed over {:.1}s after start",
        journal.count(": received value1"),
        journal.count("NoAckedActor: value1"),
        journal.count("AckedActor: value2"),
        committed.map_or("none".to_string(), |c| c.to_string()),
        took.as_secs_f64(),
    ))
}

/// The 2018 experiment that motivated Gig: a record its downstream never acks times out to
/// the NoAckedActor once, and the partition does not stall.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
    #[command(flatten)]
    protocol: gig_examples::ProtocolArgs,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    gig_examples::init_logging();
    match gig_examples::block_on(run(args)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_scenario failed: {e}");
            ExitCode::FAILURE
        }
    }
}
