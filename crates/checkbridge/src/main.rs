//! The `checkbridge` executable: parses the command line, sets up logging, and hands over to
//! the library. Every role lives in the library so tests can run it in-process.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = checkbridge::cli::Cli::parse();
    checkbridge::telemetry::init(cli.log_format);
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
