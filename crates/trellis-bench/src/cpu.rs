//! CPU time by process while an operation runs, read from `/proc` (Linux): PostgreSQL's processes (by
//! name: a PostgreSQL on this machine), the server and this load generator. Divided by the requests
//! served, it says where each request's time went on the shared cores, so a ratio that moves can be
//! traced to the side that moved. Elsewhere (no `/proc`) nothing is reported.

use std::fs;

/// Clock ticks a second of `utime` and `stime` (`USER_HZ`, 100 on every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// Cumulative CPU ticks at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    postgres: u64,
    server: u64,
    bench: u64,
}

/// Milliseconds of CPU per request, by process.
#[derive(Clone, Copy, Debug)]
pub struct PerRequest {
    /// Every PostgreSQL process (backends, WAL writer, checkpointer, autovacuum).
    pub postgres: f64,
    /// The server (`None` for a raw-SQL baseline, which has none).
    pub server: Option<f64>,
    /// This process: the load generator, and for a baseline its SQL client too.
    pub bench: f64,
}

/// The ticks so far of PostgreSQL's processes, the server `server` and this process.
pub fn sample(server: Option<u32>) -> Option<Sample> {
    let own = std::process::id();
    let mut s = Sample { postgres: 0, server: 0, bench: 0 };
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((name, ticks)) = parse_stat(&stat) else { continue };
        if pid == own {
            s.bench += ticks;
        } else if Some(pid) == server {
            s.server += ticks;
        } else if name == "postgres" {
            s.postgres += ticks;
        }
    }
    Some(s)
}

/// A process's name and its user plus system ticks, from its `/proc/<pid>/stat` line.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state, ppid, …; utime and stime are the 14th and 15th fields of the whole line.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((stat.get(open + 1..close)?, ticks))
}

impl Sample {
    /// The CPU spent from `self` to `later`, per request of `requests`; `with_server`: whether a server
    /// served them.
    pub fn per_request(&self, later: &Sample, requests: u64, with_server: bool) -> Option<PerRequest> {
        if requests == 0 {
            return None;
        }
        let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / TICKS_PER_SECOND * 1000.0 / requests as f64;
        Some(PerRequest {
            postgres: ms(self.postgres, later.postgres),
            server: with_server.then(|| ms(self.server, later.server)),
            bench: ms(self.bench, later.bench),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_name_and_user_plus_system_ticks_even_with_spaces_in_the_name() {
        let line = "4242 (postgres: wal writer) S 1 4242 4242 0 -1 4194368 120 0 0 0 37 5 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(line), Some(("postgres: wal writer", 42)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_time_between_two_samples_is_shared_over_the_requests() {
        let before = Sample { postgres: 100, server: 50, bench: 10 };
        let after = Sample { postgres: 300, server: 150, bench: 30 };
        let spent = before.per_request(&after, 1000, true).unwrap();
        assert_eq!((spent.postgres, spent.server, spent.bench), (2.0, Some(1.0), 0.2));
        assert!(before.per_request(&after, 0, true).is_none());
        assert_eq!(before.per_request(&after, 1000, false).unwrap().server, None);
    }
}
