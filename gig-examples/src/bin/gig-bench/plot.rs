//! `--plot FILE.svg`: the run as a picture. Top, records per second per phase, one bar per
//! partition count, with its ratio to raw; bottom, how late the silent phase's records
//! reached the NoAckedActor past their deadline, as a distribution (percentile against
//! lateness). SVG only, so plotters needs no font or image libraries.

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::run::Run;

/// Percentiles 0, 1, …, 100 of the lateness of one silent run, in ms.
pub fn quantiles(late: &[f32]) -> Vec<f64> {
    if late.is_empty() {
        return Vec::new();
    }
    let mut sorted = late.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64;
    (0..=100).map(|p| at(p as f64 / 100.0)).collect()
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Draws `table` (per partition count, per phase, the median run) to `path`.
pub fn draw(
    path: &str,
    table: &BTreeMap<i32, BTreeMap<&str, Run>>,
    records: u64,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let rps = |r: &Run| records as f64 / r.secs;
    let mut phases: Vec<&str> = Vec::new();
    for runs in table.values() {
        for &phase in runs.keys() {
            if !phases.contains(&phase) {
                phases.push(phase);
            }
        }
    }
    // raw first, as the reference.
    phases.sort_by_key(|&p| (p != "raw", p));
    let top_rps = table
        .values()
        .flat_map(|runs| runs.values().map(rps))
        .fold(0.0, f64::max);

    let root = SVGBackend::new(path, (960, 820)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(470);

    let mut bars = ChartBuilder::on(&upper)
        .caption(
            format!("{title}: records/s, median run"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..phases.len() as f64, 0f64..top_rps * 1.15)?;
    bars.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("records/s")
        .y_label_formatter(&|v| format!("{:.1} M", v / 1e6))
        .draw()?;
    let width = 0.8 / table.len().max(1) as f64;
    for (j, (partitions, runs)) in table.iter().enumerate() {
        let colour = COLOURS[j % COLOURS.len()];
        let raw = runs.get("raw").map(rps);
        let mut rects = Vec::new();
        let mut labels = Vec::new();
        for (i, phase) in phases.iter().enumerate() {
            let Some(run) = runs.get(phase) else { continue };
            let x0 = i as f64 + 0.1 + j as f64 * width;
            let value = rps(run);
            rects.push(Rectangle::new(
                [(x0, 0.0), (x0 + width, value)],
                colour.filled(),
            ));
            if let Some(raw) = raw {
                let ratio = format!("{:.2}x", value / raw);
                labels.push(Text::new(ratio, (x0, value * 1.02), ("sans-serif", 12)));
            }
        }
        bars.draw_series(rects)?
            .label(format!("{partitions} partition(s)"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        bars.draw_series(labels)?;
    }
    bars.draw_series(phases.iter().enumerate().map(|(i, phase)| {
        EmptyElement::at((i as f64 + 0.5, 0.0))
            + Text::new(phase.to_string(), (-30, 6), ("sans-serif", 14))
    }))?;
    bars.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;

    let silent: Vec<(i32, &Vec<f64>)> = table
        .iter()
        .filter_map(|(p, runs)| runs.get("gig-silent").map(|r| (*p, &r.late_quantiles)))
        .filter(|(_, q)| !q.is_empty())
        .collect();
    let top_late = silent
        .iter()
        .flat_map(|(_, q)| q.iter().copied())
        .fold(1.0, f64::max);
    let mut late = ChartBuilder::on(&lower)
        .caption(
            "gig-silent: how late each record reached the NoAckedActor past its deadline",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..top_late * 1.05, 0f64..100.0)?;
    late.configure_mesh()
        .x_desc("lateness (ms)")
        .y_desc("records at most this late (%)")
        .draw()?;
    for (j, (partitions, quantiles)) in silent.into_iter().enumerate() {
        let colour = COLOURS[j % COLOURS.len()];
        let points = quantiles.iter().enumerate().map(|(p, &ms)| (ms, p as f64));
        late.draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!("{partitions} partition(s)"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    late.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
