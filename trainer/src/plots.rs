//! PNG plots of a run (plotters, with a bundled font so they render on any machine).

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::{EpochRecord, RobustnessReport};

/// DejaVu Sans Mono (Bitstream Vera licence, see assets/DejaVuSansMono.LICENSE).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
pub const FAMILY: &str = "sans-serif";

pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A failure leaves text unrendered; the plot itself is still written.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

pub fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("drawing {}: {e}", path.display())
}

/// Loss and accuracy per epoch, train and validation.
pub fn curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (left, right) = root.split_horizontally(550);
    let epochs = history.len().max(2) as f64;
    let max_loss = history
        .iter()
        .flat_map(|r| [r.train_loss, r.valid_loss])
        .fold(0.1f64, f64::max);
    let series = |area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
                  title: &str,
                  ymax: f64,
                  pick: &dyn Fn(&EpochRecord) -> (f64, f64)|
     -> Result<()> {
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(1f64..epochs, 0f64..ymax)
            .map_err(err(path))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .label_style((FAMILY, 13))
            .draw()
            .map_err(err(path))?;
        let train: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, pick(r).0))
            .collect();
        let valid: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, pick(r).1))
            .collect();
        chart
            .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))
            .map_err(err(path))?
            .label("train")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
        chart
            .draw_series(LineSeries::new(valid, RED.stroke_width(2)))
            .map_err(err(path))?
            .label("valid")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
        chart
            .configure_series_labels()
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err(path))?;
        Ok(())
    };
    series(&left, "loss", max_loss * 1.05, &|r| {
        (r.train_loss, r.valid_loss)
    })?;
    series(&right, "accuracy", 1.0, &|r| {
        (r.train_accuracy, r.valid_accuracy)
    })?;
    root.present().map_err(err(path))?;
    Ok(())
}

/// The normalised confusion matrix as a heat map with the values written in.
pub fn confusion(path: &Path, labels: &[String], matrix: &[Vec<f64>], title: &str) -> Result<()> {
    register_font();
    let k = labels.len();
    let cell = 70i32;
    let (ox, oy) = (110i32, 60i32);
    let size = (
        ox as u32 + cell as u32 * k as u32 + 20,
        oy as u32 + cell as u32 * k as u32 + 70,
    );
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let text = |s: &str, x: i32, y: i32, size: u32, color: &RGBColor| {
        root.draw(&Text::new(
            s.to_string(),
            (x, y),
            (FAMILY, size).into_font().color(color),
        ))
    };
    text(title, 10, 10, 18, &BLACK).map_err(err(path))?;
    for (i, row) in matrix.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let (x, y) = (ox + j as i32 * cell, oy + i as i32 * cell);
            let shade = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
            let fill = RGBColor(shade, shade, 255);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                fill.filled(),
            ))
            .map_err(err(path))?;
            let color = if v > 0.5 { WHITE } else { BLACK };
            text(&format!("{:.2}", v), x + 18, y + 26, 15, &color).map_err(err(path))?;
        }
        text(&labels[i], 8, oy + i as i32 * cell + 26, 14, &BLACK).map_err(err(path))?;
    }
    for (j, label) in labels.iter().enumerate() {
        let short: String = label.chars().take(8).collect();
        text(
            &short,
            ox + j as i32 * cell + 4,
            oy + k as i32 * cell + 8,
            13,
            &BLACK,
        )
        .map_err(err(path))?;
    }
    text(
        "rows: true emotion, columns: predicted",
        ox,
        oy + k as i32 * cell + 36,
        14,
        &BLACK,
    )
    .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
}

/// The normalised confusion matrix as a text table.
pub fn confusion_table(labels: &[String], matrix: &[Vec<f64>]) -> String {
    let mut out = format!("{:>10}", "");
    for l in labels {
        out += &format!(" {:>9}", l.chars().take(9).collect::<String>());
    }
    out.push('\n');
    for (l, row) in labels.iter().zip(matrix) {
        out += &format!("{l:>10}");
        for v in row {
            out += &format!(" {v:>9.2}");
        }
        out.push('\n');
    }
    out
}

/// Accuracy under each robustness condition as horizontal bars, with the clean accuracy and the
/// "10 points below clean" line drawn across.
pub fn robustness(path: &Path, report: &RobustnessReport) -> Result<()> {
    register_font();
    let n = report.conditions.len();
    let height = 90 + 26 * n as u32;
    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let names: Vec<String> = report.conditions.iter().map(|c| c.name.clone()).collect();
    let title = format!(
        "{} on {} {} ({} clips): accuracy per condition",
        report.model_name, report.protocol, report.split, report.clips
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 17))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(170)
        .build_cartesian_2d(0f64..100f64, (0..n as i32).into_segmented())
        .map_err(err(path))?;
    // Row 0 is drawn at the top: clean first, the shifts below it in report order.
    let row = |i: usize| (n - 1 - i) as i32;
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(y) | SegmentValue::Exact(y) => usize::try_from(n as i32 - 1 - *y)
            .ok()
            .and_then(|i| names.get(i).cloned())
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label)
        .x_desc("accuracy, %")
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err(path))?;
    let clean = report
        .conditions
        .first()
        .map_or(0.0, |c| 100.0 * c.accuracy);
    chart
        .draw_series(report.conditions.iter().enumerate().map(|(i, c)| {
            let acc = 100.0 * c.accuracy;
            let color = if c.delta_points < -10.0 {
                RGBColor(214, 96, 77)
            } else {
                RGBColor(67, 147, 195)
            };
            let y = row(i);
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(y)),
                    (acc, SegmentValue::Exact(y + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(err(path))?;
    for (x, style, what) in [
        (clean, BLACK.stroke_width(2), "clean"),
        (clean - 10.0, BLACK.stroke_width(1), "clean - 10"),
    ] {
        if x <= 0.0 {
            continue;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (x, SegmentValue::Exact(0)),
                    (x, SegmentValue::Exact(n as i32)),
                ],
                style,
            )))
            .map_err(err(path))?
            .label(format!("{what}: {x:.1} %"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, 13))
        .draw()
        .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
}
