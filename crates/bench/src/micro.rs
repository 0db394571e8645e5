//! Micro-benchmarks of the hot paths that are ours rather than Chromium's:
//! HTML → markdown of the corpus pages, the circuit breaker's permit round trip
//! and the gateway queue's admit/release. Each is run for a fixed number of
//! iterations after a warm-up; the table gives the mean and p99 per operation.

use std::time::Instant;

use browserfarm_gateway::{Admission, Breaker, BreakerConfig, QueueConfig};
use browserfarm_protocol::{Priority, ScrapeFormat};

use crate::corpus;

struct Stat {
    name: String,
    iterations: usize,
    mean_us: f64,
    p99_us: f64,
    note: String,
}

fn time(name: &str, iterations: usize, note: String, mut op: impl FnMut()) -> Stat {
    for _ in 0..iterations.div_ceil(10) {
        op();
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        op();
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    Stat {
        name: name.to_owned(),
        iterations,
        mean_us: samples.iter().sum::<f64>() / iterations as f64,
        p99_us: samples[(iterations - 1) * 99 / 100],
        note,
    }
}

pub async fn run() {
    let mut stats = Vec::new();
    for (page, html) in [
        ("article", corpus::article()),
        ("listing (200 items)", corpus::listing()),
        ("table (2,000 rows)", corpus::table()),
    ] {
        for (mode, main) in [("main content", true), ("full page", false)] {
            let out = browserfarm_browser::convert_html(
                &html,
                "http://127.0.0.1/page",
                ScrapeFormat::Markdown,
                main,
            );
            let note = format!(
                "{} kB HTML → {} kB markdown",
                html.len() / 1024,
                out.len() / 1024
            );
            stats.push(time(
                &format!("HTML → markdown, {page}, {mode}"),
                50,
                note,
                || {
                    std::hint::black_box(browserfarm_browser::convert_html(
                        &html,
                        "http://127.0.0.1/page",
                        ScrapeFormat::Markdown,
                        main,
                    ));
                },
            ));
        }
    }

    let breaker = Breaker::new("bench", BreakerConfig::default());
    stats.push(time(
        "breaker acquire + success",
        200_000,
        String::new(),
        || {
            if let Some(permit) = breaker.acquire() {
                permit.success();
            }
        },
    ));

    let admission = Admission::new(QueueConfig::default());
    admission.set_capacity(64);
    let mut samples = Vec::with_capacity(100_000);
    for i in 0..110_000 {
        let started = Instant::now();
        let slot = admission
            .admit(Priority::Normal)
            .await
            .expect("a free slot");
        drop(slot);
        if i >= 10_000 {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(f64::total_cmp);
    stats.push(Stat {
        name: "gateway queue admit + release (free slot)".into(),
        iterations: samples.len(),
        mean_us: samples.iter().sum::<f64>() / samples.len() as f64,
        p99_us: samples[(samples.len() - 1) * 99 / 100],
        note: String::new(),
    });

    println!("| operation | iterations | mean µs | p99 µs | note |");
    println!("|---|---:|---:|---:|---|");
    for s in stats {
        println!(
            "| {} | {} | {:.2} | {:.2} | {} |",
            s.name, s.iterations, s.mean_us, s.p99_us, s.note
        );
    }
    println!(
        "\nGateway dispatch against stub nodes: `cargo run --release -p browserfarm-gateway --example dispatch`."
    );
}
