//! The apply timeline as an SVG: per cloud, resources in flight (dashed) and done (solid) over
//! wall time, and the observed critical path as bars along the bottom.
//!
//! Written by hand rather than with plotters: the picture is a handful of polylines, bars and
//! labels, and plotters lays text out through a font backend (`ttf` pulls font-kit with the
//! system's fontconfig and FreeType) that a CI machine without those libraries cannot build.

use std::collections::BTreeMap;
use std::fmt::Write;

/// One resource of the apply as the JSON events told it.
pub struct Span {
    pub address: String,
    pub cloud: String,
    pub start: f64,
    pub end: f64,
}

const W: f64 = 960.0;
const H: f64 = 460.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
/// Height of the count chart; the critical-path band sits below it.
const CHART: f64 = 260.0;

fn colour(cloud: &str) -> &'static str {
    match cloud {
        "aws" => "#e68a00",
        "gcp" => "#188038",
        _ => "#0067b8",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Per cloud: changes of the in-flight count, changes of the done count, resources.
type Counts = (Vec<(f64, i64)>, Vec<(f64, i64)>, usize);

/// Step function of a count over time, as polyline points.
fn steps(mut changes: Vec<(f64, i64)>, x: &dyn Fn(f64) -> f64, y: &dyn Fn(f64) -> f64) -> String {
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut pts = format!("{:.1},{:.1}", x(0.0), y(0.0));
    let mut n = 0i64;
    for (t, d) in changes {
        let _ = write!(pts, " {:.1},{:.1}", x(t), y(n as f64));
        n += d;
        let _ = write!(pts, " {:.1},{:.1}", x(t), y(n as f64));
    }
    pts
}

/// The SVG document: `spans` of one apply, `critical` the addresses on its critical path (in
/// order), `title` above the chart.
pub fn svg(title: &str, spans: &[Span], critical: &[String]) -> String {
    let t_max = spans.iter().map(|s| s.end).fold(0.1, f64::max);
    let mut clouds: BTreeMap<&str, Counts> = BTreeMap::new();
    for s in spans {
        let c = clouds.entry(s.cloud.as_str()).or_default();
        c.0.push((s.start, 1));
        c.0.push((s.end, -1));
        c.1.push((s.end, 1));
        c.2 += 1;
    }
    let n_max = clouds.values().map(|c| c.2).max().unwrap_or(1) as f64;
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * t / t_max;
    let y = |n: f64| TOP + CHART - CHART * n / n_max;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"22\" font-size=\"15\">{}</text>\n",
        esc(title)
    );
    // Axes and ticks.
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#555\"/><line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#555\"/>",
        TOP + CHART,
        W - RIGHT,
        TOP + CHART,
        TOP + CHART
    );
    let step = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        .into_iter()
        .find(|st| t_max / st <= 12.0)
        .unwrap_or(100.0);
    let mut t = 0.0;
    while t <= t_max + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#eee\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{t:.1} s</text>",
            x(t),
            TOP,
            TOP + CHART,
            TOP + CHART + 16.0
        );
        t += step;
    }
    for k in 0..=4 {
        let n = n_max * f64::from(k) / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{n:.0}</text>",
            LEFT - 6.0,
            y(n) + 4.0
        );
    }
    // Per cloud: in flight dashed, done solid.
    let mut legend = LEFT + 10.0;
    for (cloud, (flight, done, total)) in &clouds {
        let c = colour(cloud);
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            steps(done.clone(), &x, &y)
        );
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" points=\"{}\"/>",
            steps(flight.clone(), &x, &y)
        );
        let _ = writeln!(
            s,
            "<line x1=\"{legend}\" y1=\"38\" x2=\"{}\" y2=\"38\" stroke=\"{c}\" stroke-width=\"2\"/><text x=\"{}\" y=\"42\">{} done ({total})</text>",
            legend + 20.0,
            legend + 24.0,
            esc(cloud)
        );
        legend += 130.0;
    }
    let _ = writeln!(
        s,
        "<line x1=\"{legend}\" y1=\"38\" x2=\"{}\" y2=\"38\" stroke=\"#555\" stroke-dasharray=\"5,3\"/><text x=\"{}\" y=\"42\">in flight</text>",
        legend + 20.0,
        legend + 24.0
    );
    // The critical path: one bar per resource, labelled with its address.
    let band = TOP + CHART + 34.0;
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"{band}\">critical path (each resource waited for the one before it)</text>"
    );
    let row = (H - band - 14.0) / critical.len().max(1) as f64;
    for (i, a) in critical.iter().enumerate() {
        let Some(sp) = spans.iter().find(|s| &s.address == a) else {
            continue;
        };
        let top = band + 8.0 + row * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#cf222e\" opacity=\"0.85\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            x(sp.start),
            (x(sp.end) - x(sp.start)).max(1.5),
            (row - 3.0).max(2.0),
            x(sp.end) + 4.0,
            top + row - 4.0,
            esc(a)
        );
    }
    s.push_str("</svg>\n");
    s
}
