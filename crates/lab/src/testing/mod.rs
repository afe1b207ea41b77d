//! What tests share: [`TestApp`] (one test's world: sandboxes, a database of its own and the
//! service on port 0, with an owed-work check at the end), [`TestDb`], waiting with a
//! deadline, a PDF's text as `pdftotext` extracts it, and scanning raw storage for what must never be there.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly, with the reason"
)]

mod alerts;
mod app;
mod db;
mod locker;
mod pdf;
mod promtool;
mod proxy;
mod scan;
mod wait;

pub use alerts::{alert_receiver, Alerts};
pub use app::{spawn_app, TestApp, FINISH};
pub use db::TestDb;
pub use locker::SqliteLocker;
pub use pdf::pdf_text;
pub use promtool::{promtool_check_metrics, promtool_check_rules};
pub use proxy::TcpProxy;
pub use scan::{found_in_raw_database, order_secret};
pub use wait::{eventually, until_changed};
