//! Starting the real binary: mail fails closed. Without an SMTP host, `trellis serve` and `trellis worker`
//! refuse to start with a message that says what to set, unless `serve --demo` or `--mail-to-files DIR`
//! says that emails going to files is what is wanted. And the operator's command that counts the report
//! rollups again after a bulk load.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use trellis_tests::maildev::free_port;

/// A folder of its own, with an SQLite database in it.
fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-startup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `trellis ARGS` in `dir`, with no `TRELLIS_*` variable but the database's and `env`.
fn trellis(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRELLIS_") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(dir)
        .args(args)
        .env("TRELLIS_DATABASE_URL", format!("sqlite://{}/trellis.db?mode=rwc", dir.display()))
        .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits up to `limit` for `child` to exit by itself; kills it otherwise. Its output, and whether it
/// exited by itself.
fn finish(mut child: Child, limit: Duration) -> (Output, bool) {
    let deadline = Instant::now() + limit;
    let exited = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (child.wait_with_output().unwrap(), exited)
}

/// Whether `trellis serve` on `bind` answers `/readyz` within 60 s.
fn ready(bind: &str, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(bind) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn serve_without_an_smtp_host_refuses_to_start_and_says_what_to_set() {
    let dir = folder();
    let bind = format!("127.0.0.1:{}", free_port());
    let child = trellis(&dir, &["serve", "--bind", &bind], &[]).spawn().unwrap();
    let (output, exited) = finish(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(exited, "serve started with nowhere to send email:\n{stderr}");
    assert!(!output.status.success());
    assert!(stderr.contains("no SMTP host is set") && stderr.contains("TRELLIS_SMTP_HOST"), "{stderr}");
    assert!(stderr.contains("--mail-to-files") && stderr.contains("--demo"), "it says the ways out: {stderr}");
    assert!(!dir.join("outbox").exists(), "no outbox folder was made");

    let worker = trellis(&dir, &["worker"], &[]).spawn().unwrap();
    let (output, exited) = finish(worker, Duration::from_secs(30));
    assert!(exited && !output.status.success(), "the worker refuses too");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no SMTP host is set"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_writes_emails_to_files_only_when_told_to_or_for_the_demo() {
    let dir = folder();
    let mail = dir.join("mail");
    let bind = format!("127.0.0.1:{}", free_port());
    let mail_dir = mail.to_str().unwrap().to_owned();
    let mut to_files =
        trellis(&dir, &["serve", "--bind", &bind], &[("TRELLIS_MAIL_TO_FILES", &mail_dir)]).spawn().unwrap();
    let started = ready(&bind, &mut to_files);
    let (output, _) = finish(to_files, Duration::ZERO);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(started, "serve with TRELLIS_MAIL_TO_FILES did not start:\n{stderr}");
    assert!(stderr.contains("emails are written as .eml files"), "it warns that mail reaches nobody: {stderr}");

    let bind = format!("127.0.0.1:{}", free_port());
    let mut demo = trellis(&dir, &["serve", "--demo", "--bind", &bind], &[]).spawn().unwrap();
    let started = ready(&bind, &mut demo);
    let (output, _) = finish(demo, Duration::ZERO);
    assert!(started, "serve --demo did not start:\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let links: std::collections::BTreeSet<&str> =
        stdout.split_whitespace().filter(|w| w.contains("/sign-in/tsi_")).collect();
    assert_eq!(links.len(), 5, "a sign-in link for each demo user: {stdout}");

    let both =
        trellis(&dir, &["serve", "--bind", &bind, "--smtp-host", "127.0.0.1"], &[("TRELLIS_MAIL_TO_FILES", &mail_dir)])
            .spawn()
            .unwrap();
    let (output, exited) = finish(both, Duration::from_secs(30));
    assert!(exited && !output.status.success(), "an SMTP host and files at once is refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("choose one"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_runs_its_worker_on_its_own_store_so_one_in_memory_database_serves_both() {
    // With `sqlite::memory:` each connection is a database of its own, so a worker that opened a store (a
    // pool) of its own would find an empty outbox. The demo's offers queue emails; serve's worker must send
    // them, as .eml files in the demo's `outbox` folder.
    let dir = folder();
    let bind = format!("127.0.0.1:{}", free_port());
    let mut demo = trellis(&dir, &["serve", "--demo", "--bind", &bind], &[("TRELLIS_DATABASE_URL", "sqlite::memory:")])
        .spawn()
        .unwrap();
    let started = ready(&bind, &mut demo);
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("outbox"))
            .map(|entries| {
                entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()
            })
            .unwrap_or(0)
    };
    while started && sent(&dir) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let emails = sent(&dir);
    let (output, _) = finish(demo, Duration::ZERO);
    assert!(started, "serve --demo did not start:\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(emails > 0, "the worker sent none of the demo's emails:\n{}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The report sums, as `span|need|bucket|figure|key|num|n` lines in key order.
async fn report_sums(url: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.unwrap();
    let sql = "SELECT span, need, CAST(bucket AS TEXT), figure, key, num, n FROM report_rollups WHERE n <> 0 \
               ORDER BY span, need, bucket, figure, key, num";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let line = |r: &sea_orm::QueryResult| -> String {
        let text = |i| r.try_get_by_index::<String>(i).unwrap();
        let num = |i| r.try_get_by_index::<i64>(i).unwrap();
        format!("{}|{}|{}|{}|{}|{}|{}", text(0), text(1), text(2), text(3), text(4), num(5), num(6))
    };
    rows.iter().map(line).collect()
}

#[tokio::test]
async fn admin_rebuild_report_rollups_counts_lost_report_sums_again_from_the_records() {
    let dir = folder();
    let url = format!("sqlite://{}/trellis.db?mode=rwc", dir.display());
    let seeded = trellis(&dir, &["seed", "--demo"], &[]).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let kept = report_sums(&url).await;
    assert!(kept.iter().any(|l| l.contains("|status|")), "the demo's referrals are counted: {kept:?}");
    // A bulk load that bypassed the triggers would leave the sums short: here they are simply lost.
    {
        use sea_orm::{ConnectionTrait, Database};
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared("DELETE FROM report_rollups").await.unwrap();
    }
    assert!(report_sums(&url).await.is_empty());
    let rebuilt = trellis(&dir, &["admin", "rebuild-report-rollups"], &[]).output().unwrap();
    let stdout = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert!(stdout.contains("Counted the report rollups again"), "{stdout}");
    assert_eq!(report_sums(&url).await, kept, "the same sums as the triggers kept");
    let _ = std::fs::remove_dir_all(&dir);
}
