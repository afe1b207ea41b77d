//! The `checkbridge` executable: parses the command line, sets up logging, and hands each
//! subcommand to its module in [`commands`]. The service itself lives in the `checkbridge`
//! library and the demo, test and benchmark world in `checkbridge-lab`, so tests run both
//! in-process; this crate is only the shell around them.

use clap::Parser;

mod cli;
mod commands;
mod telemetry;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // The demo and the bench show their own progress; their log keeps to warnings unless
    // RUST_LOG says more.
    let default_filter = match cli.command {
        cli::Command::Demo(_) | cli::Command::Bench(_) | cli::Command::BenchSandboxes(_) => "warn",
        _ => "info",
    };
    telemetry::init(cli.log_format, default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Completions of the SQLite writer's statements arrive from its own thread, through
        // the runtime's global queue; under a backlog every worker has hundreds of tasks of
        // its own, and the writer (which holds SQLite's one write lock) waited behind them at
        // each statement. Looking at the global queue every few ticks took the drain at
        // 200 ms from 35.5 s to 27.4 s (BENCHMARKS.md, drain).
        .global_queue_interval(4)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
