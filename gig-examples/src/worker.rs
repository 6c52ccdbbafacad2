//! One Gig consumer process, for multi-process, crash and chaos runs.
//!
//! ```text
//! WORKER --brokers B --topic T --group G --ledger FILE --id N [--session-timeout-ms MS]
//!        [--group-protocol classic|consumer] [--key-ordering] [--work-ms MS]
//!        [--ack-timeout-ms MS] [--commit-interval-ms MS] [--max-uncommitted N]
//!        [--split [--output TOPIC]]
//!        [--transactional-id ID]
//! ```
//!
//! Acks every record, `--work-ms` after it reached the downstream (at once by default);
//! `--key-ordering` turns on Gig's key ordering. Its Acked/NoAcked handler appends one line
//! per record to FILE and flushes before accepting, so the file holds every record this
//! process handed over, even after SIGKILL:
//!
//! ```text
//! PARTITION OFFSET PID OUTCOME KEY START_US END_US
//! ```
//!
//! OUTCOME is `ack`, `nack`, `timeout`, `gone`, `undecodable` or `dropped`. KEY is the record's key
//! (`-` for none; `0x…` in hex unless it is printable ASCII without spaces). START_US and
//! END_US are wall-clock microseconds since the Unix epoch: when the downstream got the
//! record and when it answered it (for a timed-out record, its deadline; `-` if unknown).
//! Whenever the consumer reports a newly confirmed commit, the file gets
//! `C PARTITION OFFSET PID AT_US`, and whenever it reports another assignment (a rebalance;
//! seen within about 50 ms), `R PID AT_US REBALANCES`. Readers that need only
//! `partition offset` take the first two fields of the record lines
//! ([`crate::chaos::read_ledger`]).
//!
//! With `--split`, records `v{i}` with `i % 20` of 0 or 1 (10%) are nacked to the
//! dead-letter topic `T.dlq`, those with 2 (5%) to the retry topic `T.retry.1`, and every
//! acked record is transformed to the output topic (`T.out` unless `--output` says
//! otherwise): see [`crate::eos`]. With `--transactional-id` the consumer is transactional
//! and those records are produced in the transactions that commit their sources; without
//! it they are produced, then accepted (at-least-once). Give every incarnation of one
//! worker the same transactional id: a restarted one fences the one it replaces and aborts
//! what that one left open.
//!
//! `GIG_RDKAFKA_DEBUG` (e.g. `cgrp,fetch`) turns on librdkafka's debug contexts; with
//! `RUST_LOG=librdkafka=debug` their lines go to stderr. Prints a JSON status line on stdout
//! whenever its assignment or committed offsets change. Closing stdin stops it cleanly (final commit, exit 0).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use gig_actors::prelude::*;
use serde_json::json;

use crate::eos::{FailureRouter, Transformer, RETRY};

/// Delay of the retry topic in `--split` runs (nothing reads it back before it is due).
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Wall-clock microseconds since the Unix epoch: comparable across the worker processes
/// of one machine, which is what the reliability checker compares.
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The wall-clock time of an `Instant` in the past (a deadline that has passed).
fn wall_us_at(at: Instant) -> u64 {
    let ago = Instant::now().saturating_duration_since(at);
    wall_us().saturating_sub(ago.as_micros() as u64)
}

/// When each record of this process reached the downstream and when it was answered,
/// kept until the ledger writes its line.
type Times = Arc<Mutex<HashMap<(i32, i64), (u64, Option<u64>)>>>;

/// The downstream: answers every record `delay` after it arrived; acks it, or with
/// `split` nacks 10% to the dead-letter topic and 5% to the retry topic.
struct Work {
    delay: Duration,
    split: bool,
    times: Times,
}

/// The `--split` answer for a record `v{i}`, by its number: `None` to ack.
fn split_nack(record: &Record) -> Option<&'static str> {
    let seq = record
        .payload_str()
        .and_then(|p| p.get(1..)?.parse::<u64>().ok());
    match seq.map(|i| i % 20) {
        Some(0 | 1) => Some("bad record"),
        Some(2) => Some(RETRY),
        _ => None,
    }
}

impl Actor for Work {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Work {
    type Result = ();
    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        let at = (d.record.partition(), d.record.offset());
        let start = wall_us();
        let nack = if self.split {
            split_nack(&d.record)
        } else {
            None
        };
        if self.delay.is_zero() {
            if let Ok(mut times) = self.times.lock() {
                times.insert(at, (start, Some(wall_us())));
            }
            match nack {
                Some(why) => d.nack(why),
                None => d.ack(),
            }
            return;
        }
        if let Ok(mut times) = self.times.lock() {
            times.insert(at, (start, None));
        }
        let (_, handle) = d.into_parts();
        let times = self.times.clone();
        ctx.run_later(self.delay, move |_, _| {
            if let Some(t) = times.lock().ok().as_mut().and_then(|t| t.get_mut(&at)) {
                t.1 = Some(wall_us());
            }
            match nack {
                Some(why) => handle.nack(why),
                None => handle.ack(),
            }
        });
    }
}

/// The actors a `--split` ledger hands each batch on to, once it is written down.
struct Onward {
    transformer: Addr<Transformer>,
    router: Addr<FailureRouter>,
}

/// The ledger file, appended one whole batch at a time. A batch whose write fails (a full
/// disk) is cut off again before the hand-over is refused, so the batch Gig offers again
/// appears once: through a `BufWriter`, the failed batch stayed buffered and was written
/// with its retry, the same lines twice (the second copy without times), which the checker
/// counted as duplicates.
trait LedgerFile: Write {
    /// Cuts the file back to `len` bytes.
    fn cut(&mut self, len: u64) -> std::io::Result<()>;
}

impl LedgerFile for File {
    fn cut(&mut self, len: u64) -> std::io::Result<()> {
        // Opened for appending: the next write goes to the new end.
        self.set_len(len)
    }
}

struct Appender<F> {
    file: F,
    /// The length of what was written whole.
    len: u64,
}

impl<F: LedgerFile> Appender<F> {
    fn append(&mut self, text: &str) -> std::io::Result<()> {
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush());
        match written {
            Ok(()) => {
                self.len += text.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.cut(self.len) {
                    eprintln!("worker: cannot cut the ledger back after a failed write: {cut}");
                }
                Err(e)
            }
        }
    }
}

/// Appends every accepted record, and every confirmed commit, to the ledger file, and with
/// `--split` hands each batch on.
struct FileLedger<F = File> {
    file: Appender<F>,
    pid: u32,
    times: Times,
    onward: Option<Onward>,
}

impl<F: LedgerFile> FileLedger<F> {
    fn line(&self, text: &mut String, r: &Record, outcome: &str, deadline: Option<Instant>) {
        use std::fmt::Write as _;
        let at = (r.partition(), r.offset());
        let (start, end) = self
            .times
            .lock()
            .ok()
            .and_then(|t| t.get(&at).copied())
            .map_or((None, None), |(start, end)| (Some(start), end));
        // A timed-out record frees its key at its deadline, whenever the downstream answers.
        let end = deadline.map(wall_us_at).or(end);
        let _ = writeln!(
            text,
            "{} {} {} {outcome} {} {} {}",
            at.0,
            at.1,
            self.pid,
            key_text(r.key()),
            or_dash(start),
            or_dash(end)
        );
    }

    /// Writes the batch whole; only then are its records' times forgotten, so that a
    /// refused batch offered again is written with them.
    fn append<'a>(
        &mut self,
        records: impl Iterator<Item = (&'a Record, &'static str, Option<Instant>)>,
    ) -> Result<(), HandOverError> {
        let mut text = String::new();
        let mut written = Vec::new();
        for (r, outcome, deadline) in records {
            self.line(&mut text, r, outcome, deadline);
            written.push((r.partition(), r.offset()));
        }
        self.file.append(&text).map_err(io)?;
        if let Ok(mut times) = self.times.lock() {
            for at in &written {
                times.remove(at);
            }
        }
        Ok(())
    }

    fn onward(&self) -> Result<&Onward, HandOverError> {
        self.onward
            .as_ref()
            .ok_or_else(|| HandOverError("not a --split worker".to_string()))
    }

    fn append_acked(&mut self, records: &[Record]) -> Result<(), HandOverError> {
        self.append(records.iter().map(|r| (r, "ack", None)))
    }

    fn append_no_acked(&mut self, records: &[NoAckedRecord]) -> Result<(), HandOverError> {
        self.append(records.iter().map(|r| {
            let (outcome, deadline) = outcome(&r.reason);
            (&r.record, outcome, deadline)
        }))
    }
}

fn or_dash(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A key as one whitespace-free ledger field.
fn key_text(key: Option<&[u8]>) -> String {
    match key {
        None => "-".to_string(),
        Some(k)
            if !k.is_empty()
                && k != b"-"
                && !k.starts_with(b"0x")
                && k.iter().all(u8::is_ascii_graphic) =>
        {
            String::from_utf8_lossy(k).into_owned()
        }
        Some(k) => {
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
    }
}

fn outcome(reason: &NoAckReason) -> (&'static str, Option<Instant>) {
    match reason {
        NoAckReason::Nacked(_) => ("nack", None),
        NoAckReason::TimedOut { deadline, .. } => ("timeout", Some(*deadline)),
        NoAckReason::DownstreamGone => ("gone", None),
        NoAckReason::Undecodable(_) => ("undecodable", None),
        NoAckReason::Dropped => ("dropped", None),
        // A reason added to Gig later: still one field.
        _ => ("other", None),
    }
}

fn io(e: std::io::Error) -> HandOverError {
    HandOverError(format!("ledger write failed: {e}"))
}

fn unreachable(e: MailboxError) -> HandOverError {
    HandOverError(format!("outcome actor unreachable: {e}"))
}

impl Actor for FileLedger {
    type Context = Context<Self>;
}
impl Handler<Acked> for FileLedger {
    type Result = ResponseFuture<Result<(), HandOverError>>;
    fn handle(&mut self, m: Acked, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.append_acked(&m.records) {
            return Box::pin(async move { Err(e) });
        }
        let Some(onward) = &self.onward else {
            return Box::pin(async { Ok(()) });
        };
        let written = onward.transformer.send(m);
        Box::pin(async move { written.await.map_err(unreachable)? })
    }
}

impl Handler<NoAcked> for FileLedger {
    type Result = ResponseFuture<Result<(), HandOverError>>;
    fn handle(&mut self, m: NoAcked, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.append_no_acked(&m.records) {
            return Box::pin(async move { Err(e) });
        }
        let Some(onward) = &self.onward else {
            return Box::pin(async { Ok(()) });
        };
        let written = onward.router.send(m);
        Box::pin(async move { written.await.map_err(unreachable)? })
    }
}

impl Handler<AckedTx> for FileLedger {
    type Result = ResponseFuture<Result<Outputs, HandOverError>>;
    fn handle(&mut self, m: AckedTx, _: &mut Context<Self>) -> Self::Result {
        let made = self
            .append_acked(&m.records)
            .and_then(|()| Ok(self.onward()?.transformer.send(m)));
        Box::pin(async move { made?.await.map_err(unreachable)? })
    }
}

impl Handler<NoAckedTx> for FileLedger {
    type Result = ResponseFuture<Result<Outputs, HandOverError>>;
    fn handle(&mut self, m: NoAckedTx, _: &mut Context<Self>) -> Self::Result {
        let made = self
            .append_no_acked(&m.records)
            .and_then(|()| Ok(self.onward()?.router.send(m)));
        Box::pin(async move { made?.await.map_err(unreachable)? })
    }
}

/// What the consumer reported since the last look: commits it confirmed, as
/// `(partition, offset)`, and its rebalance count if that grew.
struct Reported(Vec<(i32, i64)>, Option<u64>);

impl Message for Reported {
    type Result = ();
}

impl Handler<Reported> for FileLedger {
    type Result = ();
    fn handle(&mut self, m: Reported, _: &mut Context<Self>) {
        use std::fmt::Write as _;
        let at = wall_us();
        let mut text = String::new();
        for (p, o) in &m.0 {
            let _ = writeln!(text, "C {p} {o} {} {at}", self.pid);
        }
        if let Some(n) = m.1 {
            let _ = writeln!(text, "R {} {at} {n}", self.pid);
        }
        if let Err(e) = self.file.append(&text) {
            eprintln!("worker: ledger write failed: {e}");
        }
    }
}

/// What `stats` shows beyond what was logged: newer commits and more rebalances. `None`
/// when nothing is new.
fn news(stats: &Stats, logged: &mut (BTreeMap<i32, i64>, u64)) -> Option<Reported> {
    let mut commits = Vec::new();
    for p in &stats.partitions {
        let Some(c) = p.committed else { continue };
        let last = logged.0.entry(p.partition).or_insert(i64::MIN);
        if c > *last {
            *last = c;
            commits.push((p.partition, c));
        }
    }
    let rebalanced = (stats.rebalances > logged.1).then_some(stats.rebalances);
    logged.1 = stats.rebalances;
    (!commits.is_empty() || rebalanced.is_some()).then_some(Reported(commits, rebalanced))
}

fn arg(name: &str) -> String {
    crate::arg(name).unwrap_or_else(|| {
        eprintln!("worker: --{name} is required");
        std::process::exit(2)
    })
}

fn status(id: &str, stats: &Stats) -> String {
    let committed: Vec<_> = stats
        .partitions
        .iter()
        .filter_map(|p| p.committed.map(|c| json!([p.partition, c])))
        .collect();
    json!({
        "id": id,
        "pid": std::process::id(),
        "assignment": stats.assignment,
        "committed": committed
    })
    .to_string()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (brokers, topic, group, path, id) = (
        arg("brokers"),
        arg("topic"),
        arg("group"),
        arg("ledger"),
        arg("id"),
    );
    let transactional_id = crate::arg("transactional-id");
    let split = crate::flag("split");
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open ledger {path}: {e}"))?;
    let onward = match (split, &transactional_id) {
        (false, _) => None,
        (true, id) => {
            let output = crate::arg("output").unwrap_or_else(|| format!("{topic}.out"));
            let (transformer, router) = match id {
                Some(_) => (
                    Transformer::transactional(output),
                    FailureRouter::transactional(RETRY_DELAY),
                ),
                None => {
                    let producer = GigProducer::new(&brokers)?;
                    (
                        Transformer::producing(output, producer.clone()),
                        FailureRouter::producing(producer, RETRY_DELAY),
                    )
                }
            };
            Some(Onward {
                transformer: transformer.start(),
                router: router.start(),
            })
        }
    };
    let times = Times::default();
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read ledger {path}: {e}"))?
        .len();
    let ledger = FileLedger {
        file: Appender { file, len },
        pid: std::process::id(),
        times: times.clone(),
        onward,
    }
    .start();
    let mut config = ConsumerConfig::new(&brokers, group)
        .topics([topic])
        .commit_interval(Duration::from_millis(crate::num_arg(
            "commit-interval-ms",
            200,
        )))
        .key_ordering(crate::flag("key-ordering"));
    // librdkafka's debug contexts (e.g. `cgrp`), as in the test suite; its log goes to stderr.
    if let Ok(contexts) = std::env::var("GIG_RDKAFKA_DEBUG") {
        config = config.property("debug", contexts);
    }
    if crate::arg("ack-timeout-ms").is_some() {
        config = config.ack_timeout(Duration::from_millis(crate::num_arg("ack-timeout-ms", 0)));
    }
    if crate::arg("max-uncommitted").is_some() {
        config = config.max_uncommitted(crate::num_arg("max-uncommitted", 0));
    }
    let mut config = crate::quick_group(
        config,
        &crate::group_protocol(),
        crate::num_arg("session-timeout-ms", 6000u64),
    );
    if let Some(id) = &transactional_id {
        config = config.transactional(id.as_str());
    }
    let work = Work {
        delay: Duration::from_millis(crate::num_arg("work-ms", 0)),
        split,
        times,
    };
    let builder = ConsumerActor::builder(config).downstream(work.start().recipient());
    let consumer = match transactional_id {
        Some(_) => builder
            .acked_tx(ledger.clone().recipient())
            .no_acked_tx(ledger.clone().recipient()),
        None => builder
            .acked(ledger.clone().recipient())
            .no_acked(ledger.clone().recipient()),
    }
    .start()?;

    let (closed_tx, mut closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        let _ = closed_tx.send(());
    });
    let mut last = String::new();
    let mut logged = (BTreeMap::new(), 0);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let stats = consumer.send(GetStats).await?;
        if let Some(news) = news(&stats, &mut logged) {
            let _ = ledger.send(news).await;
        }
        let line = status(&id, &stats);
        if line != last {
            println!("{line}");
            let _ = std::io::stdout().flush();
            last = line;
        }
    }
    let stats = consumer.send(Stop).await??;
    if let Some(news) = news(&stats, &mut logged) {
        let _ = ledger.send(news).await;
    }
    println!("{}", status(&id, &stats));
    Ok(())
}

/// Runs the worker with the process's arguments; exits 1 on error.
pub fn main() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    if let Err(e) = System::new().block_on(run()) {
        eprintln!("worker: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::RecordData;

    /// A ledger file whose next write fails once (a full disk) after `fail_after` bytes.
    #[derive(Default)]
    struct Flaky {
        bytes: Vec<u8>,
        fail_after: Option<usize>,
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(n) = self.fail_after.take() {
                self.bytes.extend_from_slice(&buf[..n.min(buf.len())]);
                return Err(std::io::Error::other("no space left on device"));
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LedgerFile for Flaky {
        fn cut(&mut self, len: u64) -> std::io::Result<()> {
            self.bytes.truncate(len as usize);
            Ok(())
        }
    }

    fn record(offset: i64) -> Record {
        Record::new(RecordData {
            topic: Arc::from("t"),
            partition: 2,
            offset,
            key: Some(b"k".to_vec()),
            payload: None,
            headers: Vec::new(),
            timestamp_ms: None,
        })
    }

    #[test]
    fn a_batch_refused_after_a_failed_write_is_written_once_with_its_times() {
        let times = Times::default();
        let mut ledger = FileLedger {
            file: Appender {
                file: Flaky::default(),
                len: 0,
            },
            pid: 7,
            times: times.clone(),
            onward: None,
        };
        ledger.append_acked(&[record(1)]).unwrap();
        let batch = [record(2), record(3)];
        for r in &batch {
            times
                .lock()
                .unwrap()
                .insert((2, r.offset()), (10, Some(20)));
        }
        ledger.file.file.fail_after = Some(5);
        assert!(ledger.append_acked(&batch).is_err());
        // Gig offers the refused batch again.
        ledger.append_acked(&batch).unwrap();

        let text = String::from_utf8(ledger.file.file.bytes.clone()).unwrap();
        assert_eq!(
            text,
            "2 1 7 ack k - -\n2 2 7 ack k 10 20\n2 3 7 ack k 10 20\n"
        );
        assert!(times.lock().unwrap().is_empty());
    }
}
