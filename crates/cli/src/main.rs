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
