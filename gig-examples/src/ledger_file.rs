//! The ledger file a worker or service process writes: one line per record it handed over,
//! and lines for its confirmed commits and rebalances, read back by the reliability checker
//! (`tests/src/checker/`). Each line is a [`LedgerLine`]; the format is in
//! [`crate::worker`]'s docs.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use gig_actors::prelude::*;

use crate::eos::{FailureRouter, Transformer};
use crate::ledger_line::{key_field, CommitSeen, LedgerLine, RebalanceSeen, RecordLine};

/// Wall-clock microseconds since the Unix epoch: comparable across the worker processes
/// of one machine, which is what the reliability checker compares.
pub fn wall_us() -> u64 {
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
pub type Times = Arc<Mutex<HashMap<(i32, i64), (u64, Option<u64>)>>>;

/// The actors a `--split` ledger hands each batch on to, once it is written down.
pub struct Onward {
    /// Takes each acked batch on.
    pub transformer: Addr<Transformer>,
    /// Takes each no-acked batch on.
    pub router: Addr<FailureRouter>,
}

/// The ledger file, appended one whole batch at a time. A batch whose write fails (a full
/// disk) is cut off again before the hand-over is refused, so the batch Gig offers again
/// appears once: through a `BufWriter`, the failed batch stayed buffered and was written
/// with its retry, the same lines twice (the second copy without times), which the checker
/// counted as duplicates.
pub trait LedgerFile: Write {
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
pub struct FileLedger<F = File> {
    file: Appender<F>,
    pid: u32,
    times: Times,
    onward: Option<Onward>,
}

impl FileLedger {
    /// Appends to the ledger at `path` (made if missing); `onward` takes each batch on
    /// once written. Returns it with the times the downstream records.
    pub fn open(path: &str, onward: Option<Onward>) -> Result<(FileLedger, Times), String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open ledger {path}: {e}"))?;
        let len = file
            .metadata()
            .map_err(|e| format!("cannot read ledger {path}: {e}"))?
            .len();
        let times = Times::default();
        let ledger = FileLedger {
            file: Appender { file, len },
            pid: std::process::id(),
            times: times.clone(),
            onward,
        };
        Ok((ledger, times))
    }
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
        let line = LedgerLine::Record(RecordLine {
            partition: at.0,
            offset: at.1,
            process: self.pid,
            outcome: outcome.to_string(),
            key: r.key().map(|k| key_field(Some(k))),
            start_us: start,
            end_us: end,
        });
        let _ = writeln!(text, "{line}");
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

fn outcome(reason: &NoAckReason) -> (&'static str, Option<Instant>) {
    match reason {
        NoAckReason::Nacked(_) => ("nack", None),
        NoAckReason::TimedOut { deadline, .. } => ("timeout", Some(*deadline)),
        NoAckReason::Undecodable(_) => ("undecodable", None),
        NoAckReason::Dropped => ("dropped", None),
        NoAckReason::Panicked { .. } => ("panicked", None),
        NoAckReason::Crashed { .. } => ("crashed", None),
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
pub struct Reported(Vec<(i32, i64)>, Option<u64>);

impl Message for Reported {
    type Result = ();
}

impl Handler<Reported> for FileLedger {
    type Result = ();
    fn handle(&mut self, m: Reported, _: &mut Context<Self>) {
        use std::fmt::Write as _;
        let at = wall_us();
        let mut text = String::new();
        for &(partition, offset) in &m.0 {
            let commit = LedgerLine::Commit(CommitSeen {
                partition,
                offset,
                process: self.pid,
                at_us: at,
            });
            let _ = writeln!(text, "{commit}");
        }
        if let Some(rebalances) = m.1 {
            let rebalance = LedgerLine::Rebalance(RebalanceSeen {
                process: self.pid,
                at_us: at,
                rebalances,
            });
            let _ = writeln!(text, "{rebalance}");
        }
        if let Err(e) = self.file.append(&text) {
            eprintln!("worker: ledger write failed: {e}");
        }
    }
}

/// What `stats` shows beyond what was logged: newer commits and more rebalances. `None`
/// when nothing is new.
pub fn news(stats: &Stats, logged: &mut (BTreeMap<i32, i64>, u64)) -> Option<Reported> {
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
