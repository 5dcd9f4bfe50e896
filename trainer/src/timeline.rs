//! `sermo predict --timeline`: emotion over the length of a recording, as text, JSON and a
//! chart (time across, the probabilities of each window stacked in one band per emotion,
//! windows without voice shown as such).

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use serde::Serialize;
use sermo_model::Moment;

use crate::plots::{FAMILY, err, register_font};

/// One line of `--timeline --json`: the file, the hop and every window's classification.
#[derive(Serialize)]
pub struct FileTimeline<'a> {
    pub file: String,
    pub hop: f64,
    pub timeline: &'a [Moment],
}

/// The timeline as text: one line per window.
pub fn print(file: &str, moments: &[Moment], labels: &[String]) {
    println!("{file}");
    print!("  {:>7} {:>7}  {:<10}", "start", "end", "label");
    for l in labels {
        print!(" {:>9}", l.chars().take(9).collect::<String>());
    }
    println!();
    for m in moments {
        print!(
            "  {:>7.2} {:>7.2}  {:<10}",
            m.span.start_s,
            m.span.end_s,
            m.prediction.label.as_deref().unwrap_or("(silence)")
        );
        for p in &m.prediction.probabilities {
            print!(" {p:>9.4}");
        }
        println!();
    }
}

/// A colour per emotion, by name so that a model with fewer labels keeps the others' colours;
/// other names take colours in order.
fn colour(label: &str, index: usize) -> RGBColor {
    match label {
        "neutral" => RGBColor(150, 150, 150),
        "calm" => RGBColor(120, 190, 230),
        "happy" => RGBColor(240, 200, 40),
        "sad" => RGBColor(40, 90, 200),
        "angry" => RGBColor(215, 40, 40),
        "fearful" => RGBColor(140, 70, 170),
        "disgust" => RGBColor(60, 150, 60),
        "surprised" => RGBColor(245, 130, 30),
        _ => {
            let (r, g, b) = Palette99::pick(index).to_rgba().rgb();
            RGBColor(r, g, b)
        }
    }
}

/// The chart: time across; each window a column holding its probabilities stacked in label
/// order (a window without voice a grey column), the columns meeting halfway between window
/// centres, the first reaching back to 0 s and the last on to the end; the legend beside it.
pub fn chart(path: &Path, title: &str, moments: &[Moment], labels: &[String]) -> Result<()> {
    register_font();
    let duration = moments
        .iter()
        .map(|m| m.span.end_s)
        .fold(0.0f64, f64::max)
        .max(0.1);
    let root = BitMapBackend::new(path, (1100, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (plot, legend) = root.split_horizontally(960);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..duration, 0f64..1f64)
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("probability")
        .label_style((FAMILY, 13))
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(err(path))?;
    let centres: Vec<f64> = moments
        .iter()
        .map(|m| (m.span.start_s + m.span.end_s) / 2.0)
        .collect();
    let edge = |i: usize| match i {
        0 => 0.0,
        i if i == centres.len() => duration,
        i => (centres[i - 1] + centres[i]) / 2.0,
    };
    let silent = RGBColor(225, 225, 225);
    for (i, m) in moments.iter().enumerate() {
        let (x0, x1) = (edge(i), edge(i + 1));
        if !m.prediction.voiced {
            chart
                .draw_series([Rectangle::new([(x0, 0.0), (x1, 1.0)], silent.filled())])
                .map_err(err(path))?;
            continue;
        }
        let mut bottom = 0.0f64;
        let bands = m
            .prediction
            .probabilities
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let top = (bottom + f64::from(p)).min(1.0);
                let name = labels.get(k).map_or("", String::as_str);
                let band = Rectangle::new([(x0, bottom), (x1, top)], colour(name, k).filled());
                bottom = top;
                band
            });
        chart.draw_series(bands).map_err(err(path))?;
    }
    let entries = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), colour(l, i)))
        .chain([("no voice", silent)]);
    for (row, (name, fill)) in entries.enumerate() {
        let y = 50 + 22 * row as i32;
        legend
            .draw(&Rectangle::new([(8, y), (22, y + 14)], fill.filled()))
            .map_err(err(path))?;
        legend
            .draw(&Text::new(
                name.to_string(),
                (30, y),
                (FAMILY, 14).into_font().color(&BLACK),
            ))
            .map_err(err(path))?;
    }
    root.present().map_err(err(path))?;
    Ok(())
}
