//! What operators do to a running deployment, as library calls: add the people who read
//! reports, export a tenant's error log, list, retry and cancel checks, make API tokens. The `checkbridge` commands call these, and so can
//! any other front end, so each rule (a password's length, the export's columns) is kept
//! once.

pub mod certify;
pub mod certify_report;
pub mod checks;
pub mod errorlog;
pub mod recover;
pub mod tokens;
pub mod users;
