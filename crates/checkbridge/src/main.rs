//! The `checkbridge` executable: parses the command line, sets up logging, and hands over to
//! the library. Every role lives in the library so tests can run it in-process.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = checkbridge::cli::Cli::parse();
    // The demo and the bench show their own progress; their log keeps to warnings unless
    // RUST_LOG says more.
    let default_filter = match cli.command {
        checkbridge::cli::Command::Demo(_)
        | checkbridge::cli::Command::Bench(_)
        | checkbridge::cli::Command::BenchSandboxes(_) => "warn",
        _ => "info",
    };
    checkbridge::telemetry::init(cli.log_format, default_filter);
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
    match runtime.block_on(checkbridge::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
