//! The email worker: drains the outbox and runs the offer timers.

use crate::settings::{GlobalArgs, WorkerArgs};

/// Runs the worker until `shutdown` resolves.
pub async fn run(
    global: &GlobalArgs,
    args: WorkerArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _store = crate::commands::open(global).await?;
    let _ = args;
    shutdown.await;
    Ok(())
}
