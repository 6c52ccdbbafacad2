//! A service process (the `gig-service` binary) for tests/service.rs: started with its
//! environment, its stdout's lines read on a thread, its probes asked over HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use gig_actors::testkit::Broker;
use gig_core::config_env::variable;
use gig_tests::child::ChildProcess;
use gig_tests::*;

/// A running service process and the address of its probes.
pub struct Service {
    pub process: ChildProcess,
    pub probes: String,
}

/// The service binary with only `PATH` of this process's environment, logging at `warn`.
pub fn service_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gig-service"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

impl Service {
    /// Starts the service on `topic` in `group`, with `extra` environment variables.
    pub fn start(broker: &Broker, topic: &str, group: &str, extra: &[(&str, &str)]) -> Service {
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

    /// Starts `command` (the service) and reads the probes' address from its first line.
    pub fn spawn(command: Command) -> Service {
        let process = ChildProcess::spawn(command);
        let first = process.line(FIRST_JOIN);
        let probes = first["probes"]
            .as_str()
            .expect("the probes' address")
            .to_string();
        Service { process, probes }
    }

    /// The next JSON line the service prints (within `within`).
    pub fn line(&self, within: Duration) -> serde_json::Value {
        self.process.line(within)
    }

    /// `GET path`: the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
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
    pub async fn until(&self, path: &str, status: u16, within: Duration) -> String {
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

    pub fn signal(&self, name: &str) {
        self.process.signal(name);
    }

    /// Waits for the process to exit (within `within`).
    pub async fn exit(self, within: Duration) -> ExitStatus {
        self.exit_with_last_line(within).await.0
    }

    /// Waits for the process to exit (within `within`); its status and the last line it
    /// printed.
    pub async fn exit_with_last_line(self, within: Duration) -> (ExitStatus, String) {
        let (status, last, _) = self.exit_with_output(within).await;
        (status, last)
    }

    /// Waits for the process to exit (within `within`); its status, the last line it printed
    /// and its standard error, when that was piped.
    pub async fn exit_with_output(self, within: Duration) -> (ExitStatus, String, String) {
        let exited = self.process.exit(within).await;
        (exited.status, exited.last, exited.stderr)
    }
}
