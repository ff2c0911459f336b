//! The drill's timeline picture: successes per second by region, failures,
//! and the moment of the fault.

use std::collections::BTreeSet;
use std::path::Path;

use plotters::prelude::*;

use super::report::Report;

const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn draw(path: &Path, r: &Report) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let seconds = r.timeline.len().max(1) as u64;
    let peak = r
        .timeline
        .iter()
        .map(|s| s.ok_by_region.values().sum::<u64>().max(s.failed))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "DR drill: fault '{}'  lost {}  duplicates {}  failed {}  RTO {}",
                r.fault,
                r.lost_turns,
                r.duplicate_replies,
                r.requests_failed,
                r.rto_first_success_secs
                    .map(|s| format!("{s:.2} s"))
                    .unwrap_or_else(|| "-".into())
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0u64..seconds, 0u64..(peak + peak / 5 + 1))?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("requests per second")
        .draw()?;
    let regions: BTreeSet<&String> = r
        .timeline
        .iter()
        .flat_map(|s| s.ok_by_region.keys())
        .collect();
    for (i, region) in regions.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                r.timeline
                    .iter()
                    .map(|s| (s.second, *s.ok_by_region.get(*region).unwrap_or(&0))),
                color.stroke_width(2),
            ))?
            .label(format!("ok via {region}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(LineSeries::new(
            r.timeline.iter().map(|s| (s.second, s.failed)),
            RED.stroke_width(2),
        ))?
        .label("failed")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
    if let Some(t) = r.fault_at_secs {
        let x = t.round() as u64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, 0), (x, peak + peak / 5)],
                BLACK.stroke_width(1),
            )))?
            .label(format!("fault at {t:.1} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
