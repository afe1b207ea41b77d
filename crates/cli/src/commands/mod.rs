//! One module per subcommand.

pub mod admin;
pub mod backup;
pub mod certify;
pub mod config;
pub mod demo;
pub mod keys;
pub mod logs;
pub mod mapping;
pub mod migrate;
pub mod retention;
pub mod sandbox;
pub mod serve;
pub mod tokens;
pub mod users;
