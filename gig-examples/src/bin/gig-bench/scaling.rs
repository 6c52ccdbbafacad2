//! `--scaling`: what a record costs as the work grows. CPU time per record (the whole
//! process, every thread: user + system) of raw rdkafka and of gig-ack at each of
//! `--scale-partitions` (1, 16, 128, 512), and of gig-ack with key ordering at each of
//! `--scale-keys` distinct keys (1, 1,000, 100,000; one partition). CPU time, unlike
//! records per second, does not depend on how many cores were free; the median of
//! `--repeat` runs is reported. External brokers only: the records are produced first.
//!
//! The goals: at 512 partitions at most 1.3× the cost at 1, and at 100,000 keys at
//! most 1.3× the cost at 1,000.

use std::collections::BTreeMap;

use gig_actors::testkit::Broker;
use plotters::prelude::*;
use serde::Serialize;

use crate::args::Args;
use crate::gig::{gig_run, Mode};
use crate::produce::produce;
use crate::raw::raw_run;
use crate::run::Run;
use crate::settings::{fail, unique, Settings};
use crate::topics::{create_topic, delete_topic};

/// One measured point: its median run's CPU µs per record and records per second.
#[derive(Clone, Copy, Debug)]
struct Point {
    cpu_us: f64,
    rps: f64,
}

impl Point {
    fn of(runs: &mut [Run], records: u64) -> Point {
        runs.sort_by(|a, b| a.cpu_secs.total_cmp(&b.cpu_secs));
        let run = &runs[runs.len() / 2];
        Point {
            cpu_us: run.cpu_secs * 1e6 / records as f64,
            rps: records as f64 / run.secs,
        }
    }
}

pub(crate) async fn run(broker: &Broker, s: &Settings, args: &Args) {
    if broker.embedded().is_some() {
        fail("--scaling needs an external broker (--brokers): its records are produced first");
    }
    let brokers = broker.bootstrap_servers();
    let partition_counts = &args.scale_partitions;
    let key_counts = &args.scale_keys;
    let mut by_partitions: BTreeMap<i32, (Point, Point)> = BTreeMap::new();
    for &partitions in partition_counts {
        let topic = format!("bench-scale-{partitions}p-{}", unique());
        create_topic(&brokers, &topic, partitions).await;
        eprintln!("producing {} records to {topic}", s.records);
        produce(&brokers, &topic, partitions, s.records, s.size, None, None);
        let (mut raw, mut gig) = (Vec::new(), Vec::new());
        for r in 0..s.repeat {
            let label = |phase: &str| format!("{phase} p={partitions} run {}/{}", r + 1, s.repeat);
            raw.push(raw_run(&brokers, &topic, partitions, s, label("raw")));
            gig.push(gig_run(&brokers, &topic, partitions, s, Mode::Ack, label("gig-ack")).await);
        }
        let point = (
            Point::of(&mut raw, s.records),
            Point::of(&mut gig, s.records),
        );
        eprintln!(
            "  {partitions} partition(s): raw {:.3} µs/record, gig-ack {:.3} µs/record",
            point.0.cpu_us, point.1.cpu_us
        );
        by_partitions.insert(partitions, point);
        delete_topic(&brokers, &topic).await;
    }
    let mut by_keys: BTreeMap<u64, Point> = BTreeMap::new();
    let keyed = Settings {
        key_ordering: true,
        ..s.clone()
    };
    for &keys in key_counts {
        let topic = format!("bench-scale-{keys}k-{}", unique());
        create_topic(&brokers, &topic, 1).await;
        eprintln!(
            "producing {} records with {keys} keys to {topic}",
            s.records
        );
        produce(&brokers, &topic, 1, s.records, s.size, Some(keys), None);
        let mut gig = Vec::new();
        for r in 0..s.repeat {
            let label = format!("gig-ack keyed k={keys} run {}/{}", r + 1, s.repeat);
            gig.push(gig_run(&brokers, &topic, 1, &keyed, Mode::Ack, label).await);
        }
        let point = Point::of(&mut gig, s.records);
        eprintln!(
            "  {keys} key(s): gig-ack keyed {:.3} µs/record",
            point.cpu_us
        );
        by_keys.insert(keys, point);
        delete_topic(&brokers, &topic).await;
    }
    report(broker, s, args, &by_partitions, &by_keys);
}

/// `--json`: the sweep as one line (fields in the keys' alphabetical order).
#[derive(Serialize)]
struct Line {
    broker: &'static str,
    ratio_most_keys_to_1000: Option<f64>,
    ratio_most_partitions_to_one: Option<f64>,
    records: u64,
    scaling_keys: BTreeMap<String, KeysPoint>,
    scaling_partitions: BTreeMap<String, PartitionsPoint>,
    size: usize,
}

/// One partition count of the sweep.
#[derive(Serialize)]
struct PartitionsPoint {
    gig_cpu_us_per_record: f64,
    gig_rps: f64,
    gig_to_one_partition: f64,
    raw_cpu_us_per_record: f64,
    raw_rps: f64,
}

/// One key count of the sweep (one partition, key ordering).
#[derive(Serialize)]
struct KeysPoint {
    gig_cpu_us_per_record: f64,
    gig_rps: f64,
    to_1000_keys: Option<f64>,
}

fn report(
    broker: &Broker,
    s: &Settings,
    args: &Args,
    by_partitions: &BTreeMap<i32, (Point, Point)>,
    by_keys: &BTreeMap<u64, Point>,
) {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    println!();
    println!(
        "scaling on {} ({}): {} records of {} B per point, median of {} by CPU time",
        broker.bootstrap_servers(),
        broker.kind(),
        s.records,
        s.size,
        s.repeat
    );
    println!(
        "{:>10} {:>13} {:>13} {:>12} {:>12} {:>14}",
        "partitions", "raw µs/rec", "gig µs/rec", "raw rec/s", "gig rec/s", "gig x 1 part."
    );
    let gig_one = by_partitions.values().next().map(|p| p.1.cpu_us);
    let mut partitions_json = BTreeMap::new();
    for (partitions, (raw, gig)) in by_partitions {
        let growth = gig_one.map_or(1.0, |one| gig.cpu_us / one);
        println!(
            "{partitions:>10} {:>13.3} {:>13.3} {:>12.0} {:>12.0} {growth:>14.2}",
            raw.cpu_us, gig.cpu_us, raw.rps, gig.rps
        );
        partitions_json.insert(
            partitions.to_string(),
            PartitionsPoint {
                gig_cpu_us_per_record: round(gig.cpu_us),
                gig_rps: gig.rps.round(),
                gig_to_one_partition: round(growth),
                raw_cpu_us_per_record: round(raw.cpu_us),
                raw_rps: raw.rps.round(),
            },
        );
    }
    println!(
        "{:>10} {:>13} {:>12} {:>14}",
        "keys", "gig µs/rec", "gig rec/s", "x 1,000 keys"
    );
    let thousand = by_keys.get(&1000).map(|p| p.cpu_us);
    let mut keys_json = BTreeMap::new();
    for (keys, point) in by_keys {
        let growth = thousand.map(|t| point.cpu_us / t);
        println!(
            "{keys:>10} {:>13.3} {:>12.0} {:>14}",
            point.cpu_us,
            point.rps,
            growth.map_or("-".to_string(), |g| format!("{g:.2}"))
        );
        keys_json.insert(
            keys.to_string(),
            KeysPoint {
                gig_cpu_us_per_record: round(point.cpu_us),
                gig_rps: point.rps.round(),
                to_1000_keys: growth.map(round),
            },
        );
    }
    let most = by_partitions.values().next_back().map(|p| p.1.cpu_us);
    let keys_most = by_keys.values().next_back().map(|p| p.cpu_us);
    if args.json {
        let line = Line {
            broker: broker.kind(),
            ratio_most_keys_to_1000: thousand.zip(keys_most).map(|(t, most)| round(most / t)),
            ratio_most_partitions_to_one: gig_one.zip(most).map(|(one, most)| round(most / one)),
            records: s.records,
            scaling_keys: keys_json,
            scaling_partitions: partitions_json,
            size: s.size,
        };
        match serde_json::to_string(&line) {
            Ok(line) => println!("{line}"),
            Err(e) => fail(&format!("--json: {e}")),
        }
    }
    if let Some(path) = &args.plot {
        match draw(path, by_partitions, by_keys) {
            Ok(()) => eprintln!("plot: {path}"),
            Err(e) => fail(&format!("--plot {path}: {e}")),
        }
    }
}

/// A line: its label, its colour, its points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// CPU µs per record against partitions (raw and gig-ack) and against keys (gig-ack with
/// key ordering), both on a log scale of the count.
fn draw(
    path: &str,
    by_partitions: &BTreeMap<i32, (Point, Point)>,
    by_keys: &BTreeMap<u64, Point>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(380);
    let top = by_partitions
        .values()
        .flat_map(|(r, g)| [r.cpu_us, g.cpu_us])
        .chain(by_keys.values().map(|p| p.cpu_us))
        .fold(0.1, f64::max)
        * 1.2;
    let log = |n: f64| n.max(1.0).log10();
    let (raw_colour, gig_colour) = (RGBColor(31, 119, 180), RGBColor(255, 127, 14));
    let panels: [(&_, &str, &str, Vec<Series>); 2] = [
        (
            &upper,
            "CPU time per record against partitions",
            "partitions (log scale)",
            vec![
                (
                    "raw rdkafka",
                    raw_colour,
                    by_partitions
                        .iter()
                        .map(|(p, (r, _))| (log(*p as f64), r.cpu_us))
                        .collect(),
                ),
                (
                    "gig-ack",
                    gig_colour,
                    by_partitions
                        .iter()
                        .map(|(p, (_, g))| (log(*p as f64), g.cpu_us))
                        .collect(),
                ),
            ],
        ),
        (
            &lower,
            "CPU time per record against distinct keys (key ordering, 1 partition)",
            "distinct keys (log scale)",
            vec![(
                "gig-ack, key ordering",
                gig_colour,
                by_keys
                    .iter()
                    .map(|(k, p)| (log(*k as f64), p.cpu_us))
                    .collect(),
            )],
        ),
    ];
    for (area, caption, x_desc, series) in panels {
        let right = series
            .iter()
            .flat_map(|(_, _, points)| points.iter().map(|p| p.0))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.1f64..right + 0.2, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("CPU µs per record")
            .x_label_formatter(&|v| format!("{:.0}", 10f64.powf(*v)))
            .draw()?;
        for (label, colour, points) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
