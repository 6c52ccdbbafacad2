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
use gig_examples::{arg, num_arg};

fn main() {
    gig_examples::init_logging_at("warn");
    let fail = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("metrics failed: {e}");
        std::process::exit(1)
    };
    let port = num_arg("metrics-port", DEFAULT_PORT);
    let addr = metrics_demo::serve_metrics(port).unwrap_or_else(|e| fail(&e));
    println!("serving http://{addr}/metrics");
    let broker = Broker::external_or_embedded(gig_examples::brokers()).unwrap_or_else(|e| fail(&e));
    let options = Options {
        records: num_arg("records", 1000),
        topic: gig_examples::run_topic("metrics-demo", &broker),
        group: format!("metrics-demo-{}", std::process::id()),
        group_protocol: gig_examples::group_protocol(),
    };
    let system = actix::System::new();
    let result = system.block_on(async {
        let (summary, consumer) = metrics_demo::run(&broker, &options).await?;
        println!("{summary}");
        match arg("serve-ms") {
            Some(ms) => {
                let ms = ms.parse().unwrap_or(0);
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
