//! Which of the suite's tests can run where they are built, from the environment the tests
//! read at run time (tests/src/broker.rs). A test that cannot run here carries
//! `#[cfg_attr(not(...), ignore = "why")]`, so `cargo test` reports it as ignored, with its
//! reason, instead of counting a test that returned early as passed. Under `cargo test` the
//! build and the run see the same environment; a test binary run by hand with another one
//! panics (`backend()` checks it).
//!
//! - `gig_backend = "embedded" | "kafka" | "tansu"`: `GIGCI_TEST_BROKERS` (unset: the embedded
//!   broker) and `GIGCI_TEST_BROKER_KIND` (`tansu`, else Kafka).
//! - `gig_cluster`: `GIGCI_TEST_CLUSTER` names a 3-node Kafka cluster.
//! - `gig_secure`: `GIGCI_TEST_SECURE_ENV` names the secured Kafka node's settings.
//! - `gig_kafka_control`: the suite may kill the Kafka nodes `.ci/kafka.sh` started
//!   (`GIGCI_TEST_KAFKA_CONTROL=0` forbids it).
//! - `gig_valgrind`: `valgrind` runs.
//!
//! Each change of these variables rebuilds this crate's test binaries (under a minute),
//! not their dependencies; `.ci/run` orders its runs to change them rarely.

use std::process::Command;

fn var(name: &str) -> Option<String> {
    println!("cargo::rerun-if-env-changed={name}");
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gig_backend, values(\"embedded\", \"kafka\", \"tansu\"))");
    for flag in [
        "gig_cluster",
        "gig_secure",
        "gig_kafka_control",
        "gig_valgrind",
    ] {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    let kind = var("GIGCI_TEST_BROKER_KIND");
    let backend = match (var("GIGCI_TEST_BROKERS"), kind.as_deref()) {
        (None, _) => "embedded",
        (Some(_), Some("tansu")) => "tansu",
        (Some(_), _) => "kafka",
    };
    println!("cargo::rustc-cfg=gig_backend=\"{backend}\"");
    println!("cargo::rustc-env=GIGCI_TEST_BUILT_FOR={backend}");
    let flags = [
        ("gig_cluster", var("GIGCI_TEST_CLUSTER").is_some()),
        ("gig_secure", var("GIGCI_TEST_SECURE_ENV").is_some()),
        (
            "gig_kafka_control",
            var("GIGCI_TEST_KAFKA_CONTROL").as_deref() != Some("0"),
        ),
        ("gig_valgrind", valgrind()),
    ];
    for (flag, on) in flags {
        if on {
            println!("cargo::rustc-cfg={flag}");
        }
    }
}

fn valgrind() -> bool {
    // Installing valgrind changes nothing cargo watches; a new PATH at least is noticed.
    println!("cargo::rerun-if-env-changed=PATH");
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}
