//! The soak's report: one line on stdout, `--json`'s line (a [`Soak`]) and `--plot`'s picture
//! of RSS over the soak.

use std::collections::BTreeMap;

use gig_actors::prelude::Stats;
use serde::Serialize;

use super::{Sample, Watched, ACK_TIMEOUT};
use crate::settings::fail;

/// How the soak was run.
pub(super) struct Setup {
    pub(super) seconds: u64,
    pub(super) rate: u64,
    pub(super) partitions: i32,
    pub(super) broker: &'static str,
}

/// What the soak's end found.
pub(super) struct Ending<'a> {
    pub(super) produced: u64,
    pub(super) sent: u64,
    pub(super) failed: u64,
    pub(super) stats: &'a Stats,
    pub(super) committed: i64,
    pub(super) caught_up: bool,
    pub(super) lag: BTreeMap<i32, i64>,
    pub(super) lost: u64,
    pub(super) duplicates: u64,
    pub(super) strangers: u64,
    pub(super) ledger: Option<String>,
}

/// The soak's figures: `--json` prints them as one line.
#[derive(Serialize)]
pub(super) struct Soak {
    soak_seconds: u64,
    duration_s: f64,
    rate: u64,
    partitions: i32,
    broker: &'static str,
    ack_timeout_ms: u64,
    produced: u64,
    sent: u64,
    produce_failures: u64,
    handed_over: u64,
    acked: u64,
    no_acked: u64,
    nacked: u64,
    timed_out: u64,
    dropped: u64,
    late_answers: u64,
    unknown_answers: u64,
    commits: u64,
    commit_failures: u64,
    committed: i64,
    caught_up: bool,
    lag: i64,
    lag_by_partition: BTreeMap<i32, i64>,
    rss_mb_minute_1: f64,
    rss_mb_end: f64,
    rss_growth_pct: f64,
    peak_rss_mb: f64,
    heap_in_use_mb_minute_1: Option<f64>,
    heap_in_use_mb_end: Option<f64>,
    heap_free_mb_minute_1: Option<f64>,
    heap_free_mb_end: Option<f64>,
    lost: u64,
    duplicates: u64,
    strangers: u64,
    allocs_per_record: f64,
    ledger: Option<String>,
    /// (seconds, MB), rounded.
    rss_samples: Vec<[f64; 2]>,
    /// The RSS samples as taken, the one at minute 1 and the last, for the line and the plot.
    #[serde(skip)]
    samples: Vec<Sample>,
    #[serde(skip)]
    first: Sample,
    #[serde(skip)]
    end: Sample,
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl Soak {
    pub(super) fn new(setup: Setup, watched: &Watched, ending: Ending<'_>) -> Soak {
        let samples = &watched.samples;
        // RSS at minute 1 (the first sample from 60 s on; the first one in a shorter soak).
        let first = samples
            .iter()
            .find(|s| s.0 >= 59.5)
            .or(samples.first())
            .copied()
            .unwrap_or((0.0, 0.0));
        let end = samples.last().copied().unwrap_or((0.0, 0.0));
        // The heap at the same two moments: (in use, free) MB.
        let heap_at = |t: f64| {
            watched
                .heap
                .iter()
                .flatten()
                .find(|h| h.0 == t)
                .map(|h| (h.1, h.2))
        };
        let (heap_first, heap_end) = (heap_at(first.0), heap_at(end.0));
        let growth = if first.1 > 0.0 {
            (end.1 - first.1) / first.1 * 100.0
        } else {
            0.0
        };
        let stats = ending.stats;
        Soak {
            soak_seconds: setup.seconds,
            duration_s: round1(end.0),
            rate: setup.rate,
            partitions: setup.partitions,
            broker: setup.broker,
            ack_timeout_ms: ACK_TIMEOUT.as_millis() as u64,
            produced: ending.produced,
            sent: ending.sent,
            produce_failures: ending.failed,
            handed_over: stats.handed_over,
            acked: stats.acked,
            no_acked: stats.no_acked(),
            nacked: stats.nacked,
            timed_out: stats.timed_out,
            dropped: stats.dropped,
            late_answers: stats.late_answers,
            unknown_answers: stats.unknown_answers,
            commits: stats.commits,
            commit_failures: stats.commit_failures,
            committed: ending.committed,
            caught_up: ending.caught_up,
            lag: ending.lag.values().sum(),
            lag_by_partition: ending.lag,
            rss_mb_minute_1: round1(first.1),
            rss_mb_end: round1(end.1),
            rss_growth_pct: round2(growth),
            peak_rss_mb: round1(watched.peak_rss_mb),
            heap_in_use_mb_minute_1: heap_first.map(|h| round1(h.0)),
            heap_in_use_mb_end: heap_end.map(|h| round1(h.0)),
            heap_free_mb_minute_1: heap_first.map(|h| round1(h.1)),
            heap_free_mb_end: heap_end.map(|h| round1(h.1)),
            lost: ending.lost,
            duplicates: ending.duplicates,
            strangers: ending.strangers,
            allocs_per_record: round2(watched.allocs as f64 / ending.produced.max(1) as f64),
            ledger: ending.ledger,
            rss_samples: samples.iter().map(|s| [s.0.round(), round1(s.1)]).collect(),
            samples: samples.clone(),
            first,
            end,
        }
    }

    /// The line on stdout, and a warning if the soak was not clean.
    pub(super) fn print(&self) {
        let (first, end) = (self.first, self.end);
        let heap = |h: Option<f64>| h.map_or("-".to_string(), |h| format!("{h:.1}"));
        println!(
            "soak: {}s at {} records/s, {} partitions: produced {} ({} failed), \
             handed over {} (acked {}, no-acked {}: nacked {}, timed out {}, dropped {}), \
             late answers {}, commits {}, committed {}, lag at the end {} {:?}, \
             RSS {:.1} MB at {:.0}s, {:.1} MB at the end ({:+.2}%), peak {:.1} MB, \
             heap in use {} MB at {:.0}s, {} MB at the end, \
             lost {}, duplicates {}, allocations per record {:.2}",
            self.soak_seconds,
            self.rate,
            self.partitions,
            self.produced,
            self.produce_failures,
            self.handed_over,
            self.acked,
            self.no_acked,
            self.nacked,
            self.timed_out,
            self.dropped,
            self.late_answers,
            self.commits,
            self.committed,
            self.lag,
            self.lag_by_partition,
            first.1,
            first.0,
            end.1,
            self.rss_growth_pct,
            self.peak_rss_mb,
            heap(self.heap_in_use_mb_minute_1),
            first.0,
            heap(self.heap_in_use_mb_end),
            self.lost,
            self.duplicates,
            self.allocs_per_record,
        );
        if !self.caught_up || self.lag != 0 || self.lost != 0 {
            eprintln!(
                "soak: NOT CLEAN: caught up {}, lag {}, lost {}",
                self.caught_up, self.lag, self.lost
            );
        }
    }

    /// `--json`: the figures as one line.
    pub(super) fn print_json(&self) {
        match serde_json::to_string(self) {
            Ok(line) => println!("{line}"),
            Err(e) => fail(&format!("--json: {e}")),
        }
    }

    /// `--plot`: RSS over the soak.
    pub(super) fn draw(&self, path: &str) {
        let title = format!(
            "gig-bench --soak {}: {} records/s, {} partitions, {} broker",
            self.soak_seconds, self.rate, self.partitions, self.broker
        );
        match draw(path, &self.samples, self.first, self.end, &title) {
            Ok(()) => eprintln!("plot: {path}"),
            Err(e) => fail(&format!("--plot {path}: {e}")),
        }
    }
}

/// `--plot`: RSS over the soak, with the minute-1 level and 5% above it.
fn draw(
    path: &str,
    samples: &[Sample],
    first: Sample,
    end: Sample,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let minutes = |t: f64| t / 60.0;
    let last = samples.last().map_or(1.0, |s| minutes(s.0)).max(0.1);
    let top = samples.iter().map(|s| s.1).fold(first.1 * 1.06, f64::max) * 1.1;
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..last * 1.02, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("RSS (MB)")
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (minutes(s.0), s.1)),
            blue.stroke_width(2),
        ))?
        .label(format!(
            "RSS: {:.1} MB at minute {:.0}, {:.1} MB at the end ({:+.2}%)",
            first.1,
            minutes(first.0),
            end.1,
            (end.1 - first.1) / first.1.max(f64::MIN_POSITIVE) * 100.0
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(
            [(0.0, first.1 * 1.05), (last * 1.02, first.1 * 1.05)],
            grey.stroke_width(1),
        ))?
        .label("5% above minute 1")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
