//! The Trellis binary: `serve`, `worker`, `migrate`, `seed`, `admin` and `export-schema`.
//!
//! # Layout
//! - [`settings`]: every flag and its `TRELLIS_*` environment variable (documented in `.env.example`).
//! - [`import`]: Open Referral UK import.
//! - [`demo`]: a believable locality for `seed --demo` and `serve --demo`.
//! - [`commands`]: what each subcommand does.

mod commands;
mod demo;
mod import;
mod settings;
mod worker;

use clap::Parser;

/// mimalloc rather than glibc's malloc: under 32 concurrent requests glibc's allocator took a fifth of the
/// server's CPU (see `docs/benchmarks.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = settings::Cli::parse();
    settings::init_logging(cli.global.log_format);
    commands::run(cli).await
}
