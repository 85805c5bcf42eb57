//! Stacked bar charts of attempt outcomes over time, laid out here and drawn
//! as inline SVG by the template (no script, no external asset).

use serde::Serialize;

use crate::message::AttemptResult;

/// The outcomes drawn, bottom to top, with their CSS class ('unknown', an
/// attempt cut short, is not drawn).
pub const SERIES: [(AttemptResult, &str); 3] = [
    (AttemptResult::Sent, "sent"),
    (AttemptResult::Retry, "retried"),
    (AttemptResult::Failed, "failed"),
];

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 20.0;

#[derive(Debug, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub class: &'static str,
    pub title: String,
}

#[derive(Debug, Serialize)]
pub struct Label {
    pub x: f64,
    pub text: String,
}

/// A laid-out chart.
#[derive(Debug, Default, Serialize)]
pub struct Chart {
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub plot_bottom: f64,
    pub left: f64,
    pub max: i64,
    pub rects: Vec<Rect>,
    pub labels: Vec<Label>,
    /// The same numbers as a table, for screen readers and without SVG.
    pub rows: Vec<(String, [i64; 3])>,
}

/// `buckets`: (label, [sent, retried, failed]) oldest first; every
/// `label_every`-th bucket gets an axis label.
pub fn stacked(title: &str, buckets: &[(String, [i64; 3])], label_every: usize) -> Chart {
    let max = buckets
        .iter()
        .map(|(_, v)| v.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_height = HEIGHT - BOTTOM - 10.0;
    let slot = (WIDTH - LEFT) / buckets.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let mut rects = Vec::new();
    let mut labels = Vec::new();
    for (i, (label, values)) in buckets.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let mut top = HEIGHT - BOTTOM;
        for (value, (_, name)) in values.iter().zip(SERIES) {
            if *value == 0 {
                continue;
            }
            let h = (*value as f64 / max as f64 * plot_height).max(1.0);
            top -= h;
            rects.push(Rect {
                x: round(x),
                y: round(top),
                w: round(bar),
                h: round(h),
                class: name,
                title: format!("{label}: {value} {name}"),
            });
        }
        if label_every > 0 && i % label_every == 0 {
            labels.push(Label {
                x: round(x),
                text: label.clone(),
            });
        }
    }
    Chart {
        title: title.to_owned(),
        width: WIDTH,
        height: HEIGHT,
        plot_bottom: HEIGHT - BOTTOM,
        left: LEFT,
        max,
        rects,
        labels,
        rows: buckets.to_vec(),
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_and_scale_to_the_tallest() {
        let chart = stacked(
            "t",
            &[
                ("a".into(), [2, 1, 1]),
                ("b".into(), [0, 0, 0]),
                ("c".into(), [4, 0, 0]),
            ],
            1,
        );
        assert_eq!(chart.max, 4);
        assert_eq!(chart.rects.len(), 4, "zero values draw nothing");
        let tallest = chart.rects.last().unwrap();
        assert!((tallest.h - (HEIGHT - BOTTOM - 10.0)).abs() < 0.2);
        assert_eq!(chart.labels.len(), 3);
    }
}
