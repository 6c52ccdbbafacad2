//! The `service` example as a deployed process: configured from the environment, probed
//! over HTTP, stopped by SIGTERM mid-stream with a final commit (exit 0, nothing lost,
//! nothing handed over twice), and at once by a second signal (nothing lost).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gig_actors::testkit::Broker;
use gig_core::config_env::variable;
use gig_tests::checker::{check, Follower, Ledgers, Produced};
use gig_tests::secure::Secure;
use gig_tests::*;

/// A running service process, the address of its probes, and its stdout's lines.
struct Service {
    child: Child,
    probes: String,
    lines: mpsc::Receiver<String>,
}

/// The service binary with only `PATH` of this process's environment, logging at `warn`.
fn service_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gig-service"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

impl Service {
    /// Starts the service on `topic` in `group`, with `extra` environment variables.
    fn start(broker: &Broker, topic: &str, group: &str, extra: &[(&str, &str)]) -> Service {
        let mut command = service_command();
        command
            .env("GIG_BROKERS", broker.bootstrap_servers())
            .env("GIG_GROUP_ID", group)
            .env("GIG_TOPICS", topic)
            .env("SERVICE_PROBES", "127.0.0.1:0")
            .stdout(Stdio::piped());
        // The suite's group settings, as librdkafka properties through the environment.
        for (key, value) in config(broker, topic).properties() {
            command.env(variable("GIG_", key), value);
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        Service::spawn(command)
    }

    /// Starts `command` (the service), reads its stdout's lines on a thread of their own,
    /// and the probes' address from the first.
    fn spawn(mut command: Command) -> Service {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the service");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = Service {
            child,
            probes: String::new(),
            lines,
        };
        let first = service.line(FIRST_JOIN);
        service.probes = first["probes"]
            .as_str()
            .expect("the probes' address")
            .to_string();
        service
    }

    /// The next JSON line the service prints (within `within`).
    fn line(&self, within: Duration) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no line from the service within {within:?}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the service's line {line:?}: {e}"))
    }

    /// `GET path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.probes).expect("connect to the probes");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: probes\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_string())
    }

    /// Asks `path` until it answers `status` (within `within`); returns the body.
    async fn until(&self, path: &str, status: u16, within: Duration) -> String {
        let start = Instant::now();
        loop {
            let (got, body) = self.get(path);
            if got == status {
                return body;
            }
            assert!(
                start.elapsed() < within,
                "{path}: {got} {body} after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {name} {pid}");
    }

    /// Waits for the process to exit (within `within`).
    async fn exit(self, within: Duration) -> ExitStatus {
        self.exit_with_last_line(within).await.0
    }

    /// Waits for the process to exit (within `within`); its status and the last line it
    /// printed.
    async fn exit_with_last_line(self, within: Duration) -> (ExitStatus, String) {
        let (status, last, _) = self.exit_with_output(within).await;
        (status, last)
    }

    /// Waits for the process to exit (within `within`); its status, the last line it printed
    /// and its standard error, when that was piped.
    async fn exit_with_output(mut self, within: Duration) -> (ExitStatus, String, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut piped) = self.child.stderr.take() {
                    piped.read_to_string(&mut stderr).unwrap();
                }
                // The reader thread ends at the end of stdout, now that the process is gone.
                let rest: Vec<String> = self.lines.iter().collect();
                let last = rest.last().cloned().unwrap_or_default();
                return (status, last, stderr);
            }
            assert!(start.elapsed() < within, "still running after {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Waits until the ledgers hold `n` distinct records.
async fn handed_over(ledgers: &[&Path], n: usize, within: Duration) {
    let mut follower = Follower::default();
    for path in ledgers {
        follower.watch(path);
    }
    let start = Instant::now();
    while follower.poll() < n {
        assert!(
            start.elapsed() < within,
            "{} of {n} after {within:?}",
            follower.unique()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ledger_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.ledger"))
}

fn produced_of(deliveries: &[gig_actors::Delivered], from: usize) -> Vec<Produced> {
    deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| Produced {
            partition: d.partition,
            offset: d.offset,
            key: Some(format!("k{}", from + i)),
        })
        .collect()
}

fn checked(ledgers: &[PathBuf], produced: &[Produced]) -> gig_tests::checker::Report {
    let found = check(produced, &Ledgers::read(ledgers), false);
    report(&format!("service [{:?}]: {found}", backend()));
    found
}

#[actix::test]
async fn sigterm_mid_stream_drains_commits_and_exits_zero_with_nothing_lost() {
    let broker = broker();
    let topic = topic(&broker, "service", 2).await;
    let group = unique("service-group");
    let dir = std::env::temp_dir().join(unique("gig-service"));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (ledger_path(&dir, "first"), ledger_path(&dir, "second"));
    let mut delivered = produce(&broker, &topic, 2, 0, 2_000).await;

    // Each record takes 20 ms and at most 50 are in flight (about 2,500 records/s), so
    // records are in flight when the signal comes.
    let service = Service::start(
        &broker,
        &topic,
        &group,
        &[
            ("SERVICE_WORK_MS", "20"),
            ("GIG_MAX_IN_FLIGHT", "50"),
            ("SERVICE_LEDGER", first.to_str().unwrap()),
        ],
    );
    assert_eq!(service.get("/health/live").0, 200);
    let ready = service.until("/health/ready", 200, FIRST_JOIN).await;
    report(&format!("/health/ready: 200 {}", ready.trim()));
    let (status, metrics) = service.get("/metrics");
    assert!(
        status == 200 && metrics.contains("gig_in_flight"),
        "{status}"
    );
    assert_eq!(service.get("/nothing").0, 404);

    // Mid-stream: more records arrive while it works; the signal comes in the middle.
    delivered.extend(produce(&broker, &topic, 2, 2_000, 2_000).await);
    handed_over(&[&first], 1_000, Duration::from_secs(60)).await;
    service.signal("TERM");
    let status = service.exit(Duration::from_secs(60)).await;
    assert!(status.success(), "SIGTERM: {status}");
    report(&format!("SIGTERM mid-stream: {status}"));

    // A second instance in the same group reads on from the final commit.
    let service = Service::start(
        &broker,
        &topic,
        &group,
        &[("SERVICE_LEDGER", second.to_str().unwrap())],
    );
    handed_over(&[&first, &second], delivered.len(), Duration::from_secs(90)).await;
    service.signal("TERM");
    assert!(service.exit(Duration::from_secs(60)).await.success());

    let found = checked(&[first, second], &produced_of(&delivered, 0));
    assert!(found.clean(), "{found}");
    assert_eq!((found.lost, found.duplicates), (0, 0), "{found}");
    // On Apache Kafka, its own kafka-consumer-groups judges the commits too.
    if backend() == Backend::Kafka {
        require_kafka_tools("the LAG check");
        report_lag(&group);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `gig_in_flight` gauge in a `/metrics` page (published every second).
fn in_flight(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("gig_in_flight{"))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

/// Kafka's own kafka-consumer-groups: LAG 0 on every partition of `group`.
fn report_lag(group: &str) {
    let out = kafka_tool(&["check-lag", &format!("^{group}$")]);
    report(&out);
}

#[actix::test]
async fn a_second_signal_exits_at_once_and_nothing_is_lost() {
    let broker = broker();
    let topic = topic(&broker, "service-twice", 1).await;
    let group = unique("service-twice-group");
    let dir = std::env::temp_dir().join(unique("gig-service-twice"));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (ledger_path(&dir, "first"), ledger_path(&dir, "second"));
    let delivered = produce(&broker, &topic, 1, 0, 200).await;
    // Slow work and a long ack timeout: the drain after SIGTERM would take 30 s.
    let service = Service::start(
        &broker,
        &topic,
        &group,
        &[
            ("SERVICE_WORK_MS", "20000"),
            ("GIG_ACK_TIMEOUT_MS", "25000"),
            ("SERVICE_LEDGER", first.to_str().unwrap()),
        ],
    );
    // Records reach the downstream; none is answered for 20 s.
    let start = Instant::now();
    while in_flight(&service.get("/metrics").1).unwrap_or(0.0) < 1.0 {
        assert!(start.elapsed() < FIRST_JOIN, "nothing in flight");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    service.signal("TERM");
    // The drain has begun, and the second signal's watch with it.
    let stopping = service.line(Duration::from_secs(10));
    assert_eq!(stopping["stopping"], "Terminate", "{stopping}");
    let asked = Instant::now();
    service.signal("TERM");
    let status = service.exit(Duration::from_secs(10)).await;
    report(&format!(
        "second SIGTERM: {status} after {:?}",
        asked.elapsed()
    ));
    assert_eq!(status.code(), Some(143), "{status}");

    let service = Service::start(
        &broker,
        &topic,
        &group,
        &[("SERVICE_LEDGER", second.to_str().unwrap())],
    );
    handed_over(&[&first, &second], delivered.len(), Duration::from_secs(90)).await;
    service.signal("TERM");
    assert!(service.exit(Duration::from_secs(60)).await.success());
    let found = checked(&[first, second], &produced_of(&delivered, 0));
    assert!(found.clean(), "{found}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix::test]
async fn the_readiness_probe_says_in_its_body_what_its_status_says_from_start_to_ready() {
    let broker = broker();
    let topic = topic(&broker, "service-ready", 2).await;
    produce(&broker, &topic, 2, 0, 400).await;
    // 20 records in flight at 50 ms each: catching up on 400 takes about a second, a
    // second in which the consumer holds its partitions and is not ready yet.
    let service = Service::start(
        &broker,
        &topic,
        &unique("service-ready-group"),
        &[("SERVICE_WORK_MS", "50"), ("GIG_MAX_IN_FLIGHT", "20")],
    );
    let started = Instant::now();
    let (mut answers, mut holding_not_caught_up) = (0, 0);
    loop {
        let (status, body) = service.get("/health/ready");
        answers += 1;
        let report: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("answer {answers}: {status} {body:?}: {e}"));
        assert_eq!(
            status == 200,
            report["ready"] == true,
            "answer {answers} after {:?}: status {status}, body {body}",
            started.elapsed()
        );
        if status == 200 {
            assert!(report["reason"].is_null(), "{body}");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(report["reason"].is_string(), "a 503 says why: {body}");
        if report["live"] == true && report["assigned"].as_u64() > Some(0) {
            holding_not_caught_up += 1;
        }
        assert!(started.elapsed() < FIRST_JOIN, "not ready: {body}");
        // The probes are what is tested: asked as often as a person could watch them.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    report(&format!(
        "/health/ready: {answers} answers in {:?}, every status as its body said; {holding_not_caught_up} while holding partitions and catching up",
        started.elapsed()
    ));
    assert!(
        holding_not_caught_up > 0,
        "the window in which the status and the body disagreed was not seen"
    );
    let (status, body) = service.get("/health/live");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""live":true"#), "{body}");
    service.signal("TERM");
    assert!(service.exit(Duration::from_secs(30)).await.success());
}

#[actix::test]
async fn the_probes_say_not_live_while_a_partition_cannot_be_read() {
    let broker = broker();
    let topic = topic(&broker, "service-stuck", 1).await;
    produce(&broker, &topic, 1, 0, 10).await;
    let service = Service::start(
        &broker,
        &topic,
        &unique("service-stuck-group"),
        &[("GIG_KAFKA_AUTO_OFFSET_RESET", "error")],
    );
    let live = service.until("/health/live", 503, FIRST_JOIN).await;
    report(&format!("/health/live: 503 {}", live.trim()));
    let body: serde_json::Value = serde_json::from_str(&live).unwrap();
    assert_eq!(body["faults"][0]["kind"], "offset_out_of_range");
    assert!(body["reason"]
        .as_str()
        .unwrap()
        .contains(&format!("{topic}/0")));
    let (ready, _) = service.get("/health/ready");
    assert_eq!(ready, 503);
    // The gauges are published every second.
    let open_fault = |metrics: &str| {
        metrics.lines().any(|l| {
            l.starts_with("gig_faults{") && l.contains("offset_out_of_range") && l.ends_with(" 1")
        })
    };
    let start = Instant::now();
    loop {
        let (_, metrics) = service.get("/metrics");
        if open_fault(&metrics) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no open fault in:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // It could not read: it says so in its last line and its exit status.
    service.signal("TERM");
    let (status, last) = service.exit_with_last_line(Duration::from_secs(30)).await;
    report(&format!(
        "SIGTERM while a partition cannot be read: {status}, {last}"
    ));
    assert_eq!(status.code(), Some(1), "{status}");
    assert!(
        last.contains(&format!("offset_out_of_range error on {topic}/0")),
        "{last}"
    );
}

/// How many times an exit path is run: before the fix, 4 runs in 20 crashed.
const FAILING_RUNS: usize = 50;

/// The service's environment for the secured node: a group of its own, logged in as the
/// admin with SCRAM over TLS.
fn secure_vars(secure: &Secure) -> Vec<(String, String)> {
    let mut vars = vec![
        (
            "GIG_BROKERS".to_string(),
            secure.sasl_bootstrap().to_string(),
        ),
        ("GIG_GROUP_ID".to_string(), unique("service-exit")),
        ("GIG_TOPICS".to_string(), unique("never-read")),
    ];
    for (key, value) in secure.scram(&secure.admin()) {
        vars.push((variable("GIG_", &key), value));
    }
    vars
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn a_consumer_that_cannot_be_made_beside_a_dead_letter_producer_exits_1_every_time() {
    // The crash needed TLS: OpenSSL's exit-time cleanup ran while the dead-letter
    // producer's thread was in its handshake with the secured node.
    let secure = Secure::from_env();
    let mut vars = secure_vars(&secure);
    vars.push(("SERVICE_DEAD_LETTERS".to_string(), unique("letters")));
    // The consumer's own setting, not the producer's: the consumer fails to build once the
    // dead-letter producer is connecting.
    vars.push((
        "GIG_KAFKA_SESSION_TIMEOUT_MS".to_string(),
        "soon".to_string(),
    ));
    let mut exits = std::collections::BTreeMap::new();
    for run in 0..FAILING_RUNS {
        let out = service_command().envs(vars.clone()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        *exits.entry(out.status.to_string()).or_insert(0) += 1;
        assert_eq!(
            out.status.code(),
            Some(1),
            "run {run}: {} ({exits:?} so far)\n{stderr}",
            out.status
        );
        assert!(
            stderr.contains("(environment variable GIG_KAFKA_SESSION_TIMEOUT_MS)"),
            "run {run}: {stderr}"
        );
    }
    report(&format!(
        "a consumer that cannot be made beside a dead-letter producer, {FAILING_RUNS} runs: {exits:?}"
    ));
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn clients_dropped_without_a_stop_let_the_process_exit_0_every_time() {
    let secure = Secure::from_env();
    let vars = secure_vars(&secure);
    let mut exits = std::collections::BTreeMap::new();
    for run in 0..FAILING_RUNS {
        // 0 to 24 ms after the clients were made: connecting, in the TLS handshake,
        // logging in, joining.
        let after = (run % 25).to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_gig-drop"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars.clone())
            .env("DROP_AFTER_MS", &after)
            .output()
            .unwrap();
        *exits.entry(out.status.to_string()).or_insert(0) += 1;
        assert!(
            out.status.success(),
            "run {run} (dropped after {after} ms): {} ({exits:?} so far)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    report(&format!(
        "a consumer and a producer dropped with their system, no Stop, {FAILING_RUNS} runs: {exits:?}"
    ));
}

#[actix::test]
#[cfg_attr(
    not(gig_secure),
    ignore = "needs the secured Kafka node: GIGCI_TEST_SECURE_ENV (.ci/kafka.sh start-secure, secure-env)"
)]
async fn a_refused_login_is_one_error_line_per_client_and_a_sigterm_then_exits_1() {
    let secure = Secure::from_env();
    let password = variable("GIG_", "sasl.password");
    let mut vars = secure_vars(&secure);
    vars.retain(|(k, _)| *k != password);
    vars.push((password, unique("not-the-password")));
    vars.push(("SERVICE_DEAD_LETTERS".to_string(), unique("letters")));
    vars.push(("SERVICE_PROBES".to_string(), "127.0.0.1:0".to_string()));
    // The default log level (info), as a deployed service runs.
    let mut command = service_command();
    command
        .env_remove("RUST_LOG")
        .envs(vars)
        .stderr(Stdio::piped());
    let service = Service::spawn(command);
    // Until librdkafka has tried to log in twice: its repeats would be logged by then.
    let started = Instant::now();
    loop {
        let (status, body) = service.get("/health/live");
        let report: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status == 503 && report["faults"][0]["count"].as_u64() >= Some(2) {
            assert_eq!(report["faults"][0]["kind"], "authentication", "{body}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    service.signal("TERM");
    let (status, last, stderr) = service.exit_with_output(Duration::from_secs(30)).await;
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(" WARN ")).collect();
    report(&format!(
        "a refused login for {:?}: {} error line(s), {} warning(s), then SIGTERM: {status}, {last}\n{}",
        started.elapsed(),
        errors.len(),
        warnings.len(),
        errors.join("\n")
    ));
    // One line for the consumer's fault and one for the dead-letter producer's, each Gig's
    // own; librdkafka's and rdkafka's lines for them are at debug.
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(
        errors[..]
            .iter()
            .any(|l| l.contains("cannot read: authentication error on the client")),
        "{stderr}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("cannot produce: authentication error")),
        "{stderr}"
    );
    assert!(
        errors.iter().all(|l| l.contains("gig_actors::")),
        "{stderr}"
    );
    assert!(
        warnings
            .iter()
            .all(|l| l.contains("gig_actors::service::signals")),
        "{stderr}"
    );
    assert_eq!(status.code(), Some(1), "{status}");
    assert!(
        last.contains("authentication error on the client"),
        "{last}"
    );
}
