//! The load harness: a fixed number of concurrent clients each running one operation in a closed loop for
//! a fixed time, and the latency summary of what they measured.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One operation: given the client number and its iteration, do one request and say whether it succeeded.
/// `Ok(false)` means the operation has run out of work (for example, no unanswered offer is left).
pub type Operation =
    Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = anyhow::Result<bool>> + Send>> + Send + Sync>;

/// What one operation measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The operation's name.
    pub name: String,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Wall time the clients ran.
    pub seconds: f64,
    /// Latency percentiles of successful requests, in milliseconds: p50, p95, p99.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Whether the clients ran out of work before the time was up.
    pub exhausted: bool,
}

impl Measured {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.ok as f64 / self.seconds } else { 0.0 }
    }
}

/// Runs `op` on `clients` concurrent clients for `duration`.
pub async fn run(name: &str, clients: usize, duration: Duration, op: Operation) -> Measured {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut exhausted = false;
            let mut iteration = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match op(client, iteration).await {
                    Ok(true) => latencies.push(t.elapsed()),
                    Ok(false) => {
                        exhausted = true;
                        break;
                    }
                    Err(e) => {
                        errors += 1;
                        if first_error.is_none() {
                            first_error = Some(format!("{e:#}"));
                        }
                    }
                }
                iteration += 1;
            }
            (latencies, errors, first_error, exhausted)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut exhausted = false;
    for task in tasks {
        match task.await {
            Ok((l, e, f, x)) => {
                latencies.extend(l);
                errors += e;
                first_error = first_error.or(f);
                exhausted |= x;
            }
            Err(e) => {
                errors += 1;
                first_error = first_error.or(Some(format!("client task failed: {e}")));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Measured {
        name: name.to_owned(),
        ok: latencies.len() as u64,
        errors,
        first_error,
        seconds,
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        exhausted,
    }
}
