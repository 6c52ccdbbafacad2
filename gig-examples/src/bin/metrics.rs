//! Gig's metrics, served for Prometheus at `http://127.0.0.1:9464/metrics`.
//!
//! Installs `metrics-exporter-prometheus` as the recorder, then consumes 1,000 records on
//! the embedded broker (or `--brokers HOST:PORT`): most acked, every tenth nacked, every
//! 25th answered only after its deadline (timed out, then a late answer). Prints the
//! consumer's summary, then keeps consuming and serving until Ctrl-C (or for
//! `--serve-ms`). `--metrics-port` (default 9464; 0 picks a free port) and `--records`
//! change the defaults.
//!
//! ```text
//! cargo run -p gig-examples --bin metrics
//! curl -s http://127.0.0.1:9464/metrics | grep ^gig_
//! ```

use std::time::Duration;

use gig_actors::testkit::Broker;
use gig_actors::Stop;
use gig_examples::metrics_demo::{self, Options, DEFAULT_PORT};

/// Gig's metrics, served for Prometheus: consumes records on the embedded broker (or
/// `--brokers`), prints the consumer's summary, then serves until Ctrl-C or `--serve-ms`.
#[derive(clap::Parser)]
struct Args {
    #[command(flatten)]
    broker: gig_examples::BrokerArgs,
    #[command(flatten)]
    protocol: gig_examples::ProtocolArgs,
    /// The port to serve `/metrics` on, on 127.0.0.1; 0 picks a free port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    metrics_port: u16,
    /// How many records to produce and consume.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Serve this many milliseconds after the summary, then stop; without it, until Ctrl-C.
    #[arg(long)]
    serve_ms: Option<u64>,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    gig_examples::init_logging_at("warn");
    let fail = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("metrics failed: {e}");
        std::process::exit(1)
    };
    let port = args.metrics_port;
    let addr = metrics_demo::serve_metrics(port).unwrap_or_else(|e| fail(&e));
    println!("serving http://{addr}/metrics");
    let broker = Broker::external_or_embedded(args.broker.brokers).unwrap_or_else(|e| fail(&e));
    let options = Options {
        records: args.records,
        topic: gig_examples::run_topic("metrics-demo", &broker),
        group: format!("metrics-demo-{}", std::process::id()),
        group_protocol: args.protocol.group_protocol,
    };
    let system = actix::System::new();
    let result = system.block_on(async {
        let (summary, consumer) = metrics_demo::run(&broker, &options).await?;
        println!("{summary}");
        match args.serve_ms {
            Some(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            None => {
                println!("serving until Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        consumer.send(Stop).await?.map(|_| ())
    });
    drop(system);
    drop(broker);
    if let Err(e) = result {
        fail(&e);
    }
}
