//! The pages' charts as numbers for SVG: pure functions from data to shapes, drawn by the
//! templates in a fixed `viewBox` that CSS scales to the page.

use std::collections::BTreeMap;

/// Width of every chart's `viewBox`; heights vary.
pub const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 110.0;

/// One column of a per-minute chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub count: i64,
    pub minute: String,
}

/// Counts per minute over the `minutes` minutes before `now`, one column each (empty minutes
/// included), scaled to the busiest; `height` is the drawing's.
pub fn per_minute(
    counts: &[(i64, i64)],
    now: i64,
    minutes: i64,
    height: f64,
) -> (Vec<Column>, i64) {
    let first = (now / 60_000 - minutes + 1) * 60_000;
    let by_minute: BTreeMap<i64, i64> = counts.iter().copied().collect();
    let max = by_minute.values().copied().max().unwrap_or(0).max(1);
    let w = WIDTH / minutes as f64;
    let cols = (0..minutes)
        .map(|i| {
            let minute = first + i * 60_000;
            let count = by_minute.get(&minute).copied().unwrap_or(0);
            let h = (count as f64 / max as f64) * (height - 14.0);
            Column {
                x: i as f64 * w,
                y: height - 14.0 - h,
                w: (w - 2.0).max(1.0),
                h,
                count,
                minute: crate::clock::rfc3339(minute)[11..16].to_string(),
            }
        })
        .collect();
    (cols, max)
}

/// A line over time: its SVG path and the times at its ends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    pub path: String,
    pub points: usize,
}

/// `points` (time in ms, value in `0..=max`) as a path across `WIDTH` × `height`.
pub fn line(points: &[(i64, f64)], max: f64, height: f64) -> Line {
    if points.is_empty() {
        return Line::default();
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let span = (t1 - t0).max(1) as f64;
    let mut path = String::new();
    for (i, (t, v)) in points.iter().enumerate() {
        let x = if t1 == t0 {
            WIDTH / 2.0
        } else {
            (*t - t0) as f64 / span * WIDTH
        };
        let y = height - (v / max).clamp(0.0, 1.0) * height;
        path.push_str(&format!("{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" }));
    }
    Line {
        path,
        points: points.len(),
    }
}

/// One stream's receiving interval, as drawn and as scripts read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub w: f64,
    pub uid: String,
    pub kind: String,
    /// Milliseconds, empty when unknown.
    pub from: String,
    /// Milliseconds, empty while still receiving.
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub y: f64,
    pub bars: Vec<Bar>,
}

/// A moment marked across every row (a slice start, an error).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub at_ms: i64,
    pub title: String,
}

/// The stream timeline: one row per (uid, audio/video), bars on a shared time axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub height: f64,
    pub rows: Vec<Row>,
    pub slices: Vec<Mark>,
    pub errors: Vec<Mark>,
    pub start: String,
    pub end: String,
    pub label_w: f64,
}

pub const ROW_H: f64 = 26.0;

/// One interval: uid, kind, from and to (ms; `to` none while receiving).
pub type Interval = (String, String, Option<i64>, Option<i64>);

/// Lay out `intervals` between their earliest and latest moment (an open interval runs to
/// `open_until`), with `slices` and `errors` (ms, title) marked on the same axis.
pub fn timeline(
    intervals: &[Interval],
    slices: &[(i64, String)],
    errors: &[(i64, String)],
    open_until: i64,
) -> Timeline {
    let times = intervals
        .iter()
        .flat_map(|(_, _, f, t)| [*f, *t])
        .flatten()
        .chain(slices.iter().map(|s| s.0))
        .chain(errors.iter().map(|e| e.0));
    let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if lo > hi {
        return Timeline {
            label_w: LABEL_W,
            ..Default::default()
        };
    }
    let hi = if intervals.iter().any(|i| i.3.is_none()) {
        hi.max(open_until)
    } else {
        hi
    };
    let span = (hi - lo).max(1) as f64;
    let plot = WIDTH - LABEL_W;
    let x = |t: i64| LABEL_W + (t - lo) as f64 / span * plot;
    let mut rows: Vec<Row> = Vec::new();
    for (uid, kind, from, to) in intervals {
        let label = format!("{uid} {kind}");
        let i = match rows.iter().position(|r| r.label == label) {
            Some(i) => i,
            None => {
                rows.push(Row {
                    label,
                    y: rows.len() as f64 * ROW_H,
                    bars: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let (x0, x1) = (x(from.unwrap_or(lo)), x(to.unwrap_or(hi)));
        rows[i].bars.push(Bar {
            x: x0,
            w: (x1 - x0).max(2.0),
            uid: uid.clone(),
            kind: kind.clone(),
            from: from.map_or_else(String::new, |v| v.to_string()),
            to: to.map_or_else(String::new, |v| v.to_string()),
        });
    }
    let marks = |list: &[(i64, String)]| {
        list.iter()
            .map(|(t, title)| Mark {
                x: x(*t),
                at_ms: *t,
                title: title.clone(),
            })
            .collect()
    };
    Timeline {
        height: (rows.len().max(1) as f64) * ROW_H + 18.0,
        rows,
        slices: marks(slices),
        errors: marks(errors),
        start: crate::clock::rfc3339(lo),
        end: crate::clock::rfc3339(hi),
        label_w: LABEL_W,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interval_is_one_bar_on_its_streams_row() {
        let iv = |uid: &str, kind: &str, f: Option<i64>, t: Option<i64>| {
            (uid.to_string(), kind.to_string(), f, t)
        };
        let t = timeline(
            &[
                iv("1", "audio", Some(1_000), Some(2_000)),
                iv("1", "audio", Some(3_000), None),
                iv("2", "video", Some(1_500), Some(5_000)),
            ],
            &[(1_000, "slice".into())],
            &[(4_000, "error".into())],
            6_000,
        );
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].bars.len(), 2);
        assert_eq!(t.rows[0].bars[1].to, "");
        assert_eq!(t.rows[1].bars[0].from, "1500");
        // The axis runs from the first moment to the open interval's end.
        assert_eq!(t.rows[0].bars[0].x, LABEL_W);
        let last = &t.rows[0].bars[1];
        assert!((last.x + last.w - WIDTH).abs() < 0.01);
        assert!((t.errors[0].x - (LABEL_W + 0.6 * (WIDTH - LABEL_W))).abs() < 0.01);
    }

    #[test]
    fn per_minute_has_a_column_for_every_minute_scaled_to_the_busiest() {
        let now = 10 * 60_000 + 5_000;
        let (cols, max) = per_minute(&[(9 * 60_000, 4), (10 * 60_000, 2)], now, 3, 114.0);
        assert_eq!(max, 4);
        assert_eq!(cols.iter().map(|c| c.count).collect::<Vec<_>>(), [0, 4, 2]);
        assert_eq!(cols[1].h, 100.0);
        assert_eq!(cols[2].h, 50.0);
    }

    #[test]
    fn a_line_spans_the_width_and_clamps_its_values() {
        let l = line(&[(0, 0.0), (50, 50.0), (100, 150.0)], 100.0, 100.0);
        assert_eq!(l.path, "M0.0 100.0 L500.0 50.0 L1000.0 0.0");
        assert_eq!(line(&[], 1.0, 1.0), Line::default());
    }
}
