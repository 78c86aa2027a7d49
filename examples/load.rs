//! A load run: many signed and verified calls at a time against the embedded sandbox, through the one
//! send pipeline (default retry policy), reporting throughput, latency percentiles and peak RSS.
//!
//! ```text
//! cargo run --release --example load --features mock -- [REQUESTS] [IN_FLIGHT]   # default 100000 256
//! ```
//!
//! Client and sandbox share this process (and its 2 cores here), so the figures are for both; peak RSS
//! is the process's high-water mark (`VmHWM`, Linux).

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::json;
use wechatpay::mock::MockServer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let in_flight: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(256);

    let server = MockServer::start()?;
    let client = server.client()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let started = Instant::now();
    let results: Vec<(Duration, bool)> = rt.block_on(async {
        futures::stream::iter(0..requests)
            .map(|_| {
                let call = client["v3/marketing/busifavor/stocks/{stock_id}"].get_async(json!({"stock_id": "100088"}));
                async move {
                    let t = Instant::now();
                    let ok = call.await.is_ok();
                    (t.elapsed(), ok)
                }
            })
            .buffer_unordered(in_flight)
            .collect()
            .await
    });
    let elapsed = started.elapsed();

    let failed = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("requests      {requests} ({in_flight} in flight), {failed} failed");
    println!("elapsed       {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput    {:.0} requests/s",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency       p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO))
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS      {:.1} MiB (client and sandbox)", kib as f64 / 1024.0),
        None => println!("peak RSS      unknown (needs /proc/self/status)"),
    }
    if failed > 0 {
        return Err(format!("{failed} calls failed").into());
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `VmHWM` from `/proc/self/status`, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
