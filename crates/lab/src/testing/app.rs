//! `TestApp`: one test's world. Both sandboxes on free ports with the lab's tenants, a
//! database of the test's own, and checkbridge on port 0, started in-process on the real
//! code (`service::start_on`). A test seeds what it needs, starts the service (or drives an
//! [`Engine`] step by step), asserts, and calls [`TestApp::finish`], which checks that no
//! work is left owed before it stops everything and drops the database.

use std::time::Duration;

use checkbridge::config::Config;
use checkbridge::service::Running;
use checkbridge::store::{Owed, Store};
use checkbridge::sync::Engine;
use sandbox::pageup::CheckView;

use super::db::TestDb;
use super::wait::{eventually, until_changed};
use crate::{Lab, LabOptions, FINAL_STATUSES};

/// How long a test waits, at most, for a check to reach a final PageUp status.
pub const FINISH: Duration = Duration::from_secs(60);

/// One test's world (see the module docs).
pub struct TestApp {
    pub lab: Lab,
    pub store: Store,
    db: Option<TestDb>,
    service: Option<Running>,
}

/// Both sandboxes, the default lab tenants, a fresh SQLite database and the service
/// running: the common case.
pub async fn spawn_app() -> TestApp {
    let mut app = TestApp::prepare(TestDb::sqlite(), LabOptions::default()).await;
    app.start().await;
    app
}

impl TestApp {
    /// Both sandboxes and the store on `db`; the service is not started, so a test can seed
    /// invitations, set faults or change the configuration first.
    pub async fn prepare(db: TestDb, options: LabOptions) -> TestApp {
        let lab = Lab::start(options).await.expect("the lab starts");
        let store = Store::connect(&db.url)
            .await
            .expect("the test database opens");
        TestApp {
            lab,
            store,
            db: Some(db),
            service: None,
        }
    }

    /// The configuration the lab gives the service, on this test's database.
    pub fn config(&self) -> Config {
        self.lab
            .config(&self.db().url)
            .expect("the lab's configuration loads")
    }

    /// The test's database.
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("the database is kept until finish")
    }

    /// Starts the service with the lab's configuration.
    pub async fn start(&mut self) {
        let config = self.config();
        self.start_with(&config).await;
    }

    /// Starts the service with `config` (the lab's, changed by the test). The first start
    /// takes the port the lab reserved (the one Theary is told to deliver webhooks to); a
    /// restart after [`TestApp::stop_service`] binds it again.
    pub async fn start_with(&mut self, config: &Config) {
        assert!(self.service.is_none(), "the service is already running");
        let listener = match self.lab.take_listener() {
            Some(l) => Some(l),
            None => Some(
                tokio::net::TcpListener::bind(self.lab.service_addr)
                    .await
                    .expect("the service's port binds again"),
            ),
        };
        let running = checkbridge::service::start_on(config, self.store.clone(), listener)
            .await
            .expect("the service starts");
        self.service = Some(running);
    }

    /// Stops the service (the loops finish their step); the sandboxes and the database stay,
    /// so the test can start it again.
    pub async fn stop_service(&mut self) {
        if let Some(r) = self.service.take() {
            r.stop().await;
        }
    }

    /// The running service.
    pub fn running(&self) -> &Running {
        self.service.as_ref().expect("the service is running")
    }

    /// The running service's pipeline.
    pub fn engine(&self) -> &Engine {
        &self.running().engine
    }

    /// A pipeline on this test's store that runs no loops, prepared as `serve` prepares
    /// one: for tests that drive the poller, orderer, pusher or monitor step by step.
    pub async fn engine_only(&self, config: &Config) -> Engine {
        let engine = Engine::new(config, self.store.clone()).expect("the pipeline builds");
        engine.start().await.expect("the store is prepared");
        engine
    }

    /// `http://host:port` of the service.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.lab.service_addr)
    }

    /// Seeds a pending invitation for `scenario` (see [`crate::Scenario`]); PageUp's id.
    pub fn seed(&self, tenant: &str, scenario: crate::Scenario, index: usize) -> String {
        self.lab
            .seed(tenant, scenario, index)
            .expect("the lab knows the tenant")
    }

    /// Waits until PageUp shows the check in a final status, and returns PageUp's view.
    pub async fn final_view(&self, tenant: &str, pageup_id: &str) -> CheckView {
        until_changed(
            FINISH,
            &format!("{tenant}/{pageup_id} to reach a final status"),
            &mut [self.lab.pageup.state.changes()],
            || async {
                let v = self.lab.pageup_check(tenant, pageup_id)?;
                FINAL_STATUSES.contains(&v.status.as_str()).then_some(v)
            },
        )
        .await
    }

    /// Waits until PageUp shows the check in `status`, and returns PageUp's view.
    pub async fn view_in(&self, tenant: &str, pageup_id: &str, status: &str) -> CheckView {
        until_changed(
            FINISH,
            &format!("{tenant}/{pageup_id} to be {status}"),
            &mut [self.lab.pageup.state.changes()],
            || async {
                let v = self.lab.pageup_check(tenant, pageup_id)?;
                (v.status == status).then_some(v)
            },
        )
        .await
    }

    /// Re-checks `probe` until it returns `Some` (or fails the test after `timeout`), looking
    /// again whenever either sandbox changes.
    pub async fn wait_for<T, F, Fut>(&self, timeout: Duration, what: &str, probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let mut signals = [
            self.lab.pageup.state.changes(),
            self.lab.theary.state.changes(),
        ];
        until_changed(timeout, what, &mut signals, probe).await
    }

    /// Waits until no order and no PageUp update is owed, and returns what is still open
    /// (searches waiting at Theary may be, by the test's design).
    pub async fn settled(&self) -> Owed {
        eventually(
            Duration::from_secs(20),
            "no order and no PageUp update owed",
            || async {
                let owed = self.store.owed(None).await.expect("the store answers");
                (owed.orders == 0 && owed.pushes == 0).then_some(owed)
            },
        )
        .await
    }

    /// The end of a test: asserts that no order and no PageUp update is left owed, stops
    /// the service, and drops the database.
    pub async fn finish(mut self) {
        self.settled().await;
        self.stop_service().await;
        if let Some(db) = self.db.take() {
            db.drop_now().await;
        }
    }

    /// The end of a test that leaves work owed on purpose (say why at the call site): stops
    /// the service and drops the database without the owed-work assertion.
    pub async fn finish_owing(mut self) {
        self.stop_service().await;
        if let Some(db) = self.db.take() {
            db.drop_now().await;
        }
    }
}
