//! Helpers shared by Gig's example and benchmark binaries.

pub mod chaos;
pub mod worker;

/// The value of `--NAME VALUE` or `--NAME=VALUE` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_string());
        }
    }
    None
}

/// Whether `--NAME` is on the command line.
pub fn flag(name: &str) -> bool {
    let flag = format!("--{name}");
    std::env::args().skip(1).any(|a| a == flag)
}

/// A numeric `--NAME`, or `default`; exits with a message on a value that is not a number.
pub fn num_arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    match arg(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("--{name}: '{v}' is not a number");
            std::process::exit(2)
        }),
    }
}

/// The broker to use: `--brokers`, else the env var `GIG_BROKERS`, else none (embedded).
pub fn brokers() -> Option<String> {
    arg("brokers").or_else(|| std::env::var("GIG_BROKERS").ok())
}

/// Logs through env_logger, at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    init_logging_at("info");
}

/// Logs through env_logger, at `level` unless `RUST_LOG` says otherwise.
pub fn init_logging_at(level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
}
