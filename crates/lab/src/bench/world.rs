//! The bench's world: both sandboxes in a child process (their CPU and memory are not
//! ours), tenants registered over the sandboxes' admin APIs, and checkbridge's
//! configuration for them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use futures::StreamExt as _;
use sandbox::pageup::{CheckTiming, ClientSpec as PageUpClientSpec, PageUpConfig};
use sandbox::theary::{ClientSpec as ThearyClientSpec, SandboxConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

use checkbridge::config::Config;

/// `checkbridge bench-sandboxes` (hidden): the bench's child process.
#[derive(Debug, Args)]
pub struct SandboxesArgs {
    /// Latency added to every API request of both sandboxes.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Theary advances searches by itself every this many milliseconds (0: never, so no
    /// webhooks are sent).
    #[arg(long, default_value_t = 0)]
    pub theary_step_ms: u64,
    /// Lifetime of PageUp tokens, in seconds.
    #[arg(long, default_value_t = 300)]
    pub pageup_token_secs: u64,
}

/// Where the child's sandboxes listen, printed as one JSON line on its standard output.
#[derive(Debug, Serialize, Deserialize)]
struct Addresses {
    pageup: String,
    theary: String,
}

/// Runs both sandboxes until standard input closes (the parent exited or dropped us).
pub async fn sandboxes_main(args: SandboxesArgs) -> anyhow::Result<()> {
    let pageup = sandbox::pageup::spawn(PageUpConfig {
        token_lifetime: Duration::from_secs(args.pageup_token_secs.max(1)),
        ..PageUpConfig::default()
    })
    .await
    .context("starting the PageUp sandbox")?;
    let theary = sandbox::theary::spawn(SandboxConfig {
        step: Duration::from_millis(args.theary_step_ms.max(1)),
        auto_run: args.theary_step_ms > 0,
        retry_base: Duration::from_millis(500),
        seed: Some(17),
        ..SandboxConfig::default()
    })
    .await
    .context("starting the Theary sandbox")?;
    let latency = Duration::from_millis(args.latency_ms);
    pageup.state.faults().set_base_latency(latency);
    theary.state.faults().set_base_latency(latency);
    let line = serde_json::to_string(&Addresses {
        pageup: pageup.base_url(),
        theary: theary.base_url(),
    })?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}

/// One bench tenant, known to both sandboxes.
#[derive(Debug, Clone)]
pub struct BenchTenant {
    pub key: String,
    /// PageUp's tenant id.
    pub pageup_id: String,
    pub pageup: PageUpClientSpec,
    pub theary: ThearyClientSpec,
}

/// `count` tenants named `t00001`...
pub fn tenants(count: usize) -> Vec<BenchTenant> {
    (0..count)
        .map(|i| {
            let key = format!("t{:05}", i + 1);
            let pageup_id = format!("{}", 100_001 + i);
            BenchTenant {
                pageup: PageUpClientSpec::full(
                    &pageup_id,
                    &format!("{key}-pageup"),
                    &format!("{key}-pageup-secret-0123456789"),
                ),
                theary: ThearyClientSpec {
                    tenant: key.clone(),
                    client_id: format!("{key}-theary"),
                    client_secret: format!("{key}-theary-secret-0123456789"),
                    audience: theary::SANDBOX_AUDIENCE.to_owned(),
                },
                key,
                pageup_id,
            }
        })
        .collect()
}

/// The sandboxes' child process and a client for their admin APIs.
#[derive(Debug)]
pub struct Sandboxes {
    child: tokio::process::Child,
    pub pageup: String,
    pub theary: String,
    http: reqwest::Client,
}

/// How to start the sandboxes.
#[derive(Debug, Clone, Copy)]
pub struct SandboxOptions {
    pub latency_ms: u64,
    pub theary_step_ms: u64,
    pub pageup_token_secs: u64,
}

impl Sandboxes {
    pub async fn start(opts: SandboxOptions) -> anyhow::Result<Sandboxes> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("bench-sandboxes")
            .arg("--latency-ms")
            .arg(opts.latency_ms.to_string())
            .arg("--theary-step-ms")
            .arg(opts.theary_step_ms.to_string())
            .arg("--pageup-token-secs")
            .arg(opts.pageup_token_secs.to_string())
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the sandboxes' process")?;
        let stdout = child
            .stdout
            .take()
            .context("no stdout from the sandboxes")?;
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .context("the sandboxes did not start within 30 s")??;
        let addrs: Addresses = serde_json::from_str(line.trim())
            .with_context(|| format!("the sandboxes printed {line:?}"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Sandboxes {
            child,
            pageup: addrs.pageup,
            theary: addrs.theary,
            http,
        })
    }

    /// The base URLs of PageUp and Theary, for [`config`].
    pub fn urls(&self) -> (&str, &str) {
        (&self.pageup, &self.theary)
    }

    async fn post(
        &self,
        url: String,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let r = self.http.post(&url).json(&body).send().await?;
        let status = r.status();
        let text = r.text().await?;
        anyhow::ensure!(status.is_success(), "{url}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: String) -> anyhow::Result<T> {
        let r = self.http.get(&url).send().await?;
        let status = r.status();
        anyhow::ensure!(status.is_success(), "{url}: {status}");
        Ok(r.json().await?)
    }

    /// Registers every tenant's credentials in both sandboxes.
    /// Starts the sandboxes with `count` tenants known to both.
    pub async fn with_tenants(
        opts: SandboxOptions,
        count: usize,
    ) -> anyhow::Result<(Sandboxes, Vec<BenchTenant>)> {
        let sb = Sandboxes::start(opts).await?;
        let tenants = tenants(count);
        sb.add_tenants(&tenants).await?;
        Ok((sb, tenants))
    }

    pub async fn add_tenants(&self, tenants: &[BenchTenant]) -> anyhow::Result<()> {
        let calls = tenants.iter().flat_map(|t| {
            [
                (
                    format!("{}/__admin/clients", self.pageup),
                    serde_json::to_value(&t.pageup),
                ),
                (
                    format!("{}/__admin/clients", self.theary),
                    serde_json::to_value(&t.theary),
                ),
            ]
        });
        let results: Vec<anyhow::Result<serde_json::Value>> = futures::stream::iter(calls)
            .map(|(url, body)| async move { self.post(url, body?).await })
            .buffer_unordered(32)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(())
    }

    /// Seeds `count` generated pending invitations for a tenant (resumes of
    /// `document_bytes`). Returns their ids.
    pub async fn seed(
        &self,
        tenant: &BenchTenant,
        count: usize,
        document_bytes: usize,
        seed: u64,
    ) -> anyhow::Result<Vec<String>> {
        let v = self
            .post(
                format!(
                    "{}/__admin/tenants/{}/invitations/generate",
                    self.pageup, tenant.pageup_id
                ),
                json!({ "count": count, "document_bytes": document_bytes, "seed": seed, "orderable": true }),
            )
            .await?;
        Ok(serde_json::from_value::<Vec<String>>(v["ids"].clone()).unwrap_or_default())
    }

    /// Every check's seeding, first `queued` and first `new` times.
    pub async fn timings(&self) -> anyhow::Result<Vec<CheckTiming>> {
        self.get(format!("{}/__admin/timings", self.pageup)).await
    }

    /// Per PageUp tenant, how many checks reached `queued` and `new` (cheap to poll).
    pub async fn progress(
        &self,
    ) -> anyhow::Result<std::collections::HashMap<String, sandbox::pageup::Progress>> {
        self.get(format!("{}/__admin/progress", self.pageup)).await
    }

    /// Requests received per route by PageUp (`pageup`) or Theary.
    pub async fn counts(&self, pageup: bool) -> anyhow::Result<BTreeMap<String, u64>> {
        let base = if pageup { &self.pageup } else { &self.theary };
        self.get(format!("{base}/__admin/counts")).await
    }

    /// Stops the child.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// Settings of the service under test.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Only the HTTP role (the webhook receiver): no polling, ordering or pushing.
    pub http_only: bool,
    pub poll_interval_secs: u64,
    pub concurrency: usize,
    pub reconcile_after_secs: u64,
}

/// checkbridge's configuration for the bench tenants.
pub fn config(
    (pageup, theary): (&str, &str),
    tenants: &[BenchTenant],
    addr: std::net::SocketAddr,
    database_url: &str,
    opts: &ServiceOptions,
) -> anyhow::Result<Config> {
    let master_key = format!(
        "bench:{}",
        checkbridge::crypto::Key::random().to_base64().as_str()
    );
    let mut out = format!(
        "[service]\npublic_base_url = \"http://{addr}\"\nlisten = \"{addr}\"\ndatabase_url = \"{database_url}\"\n\
         instance_id = \"bench\"\nreconcile_after_secs = {reconcile}\nconcurrency = {concurrency}\nmaster_key = \"{master_key}\"\n\n",
        reconcile = opts.reconcile_after_secs,
        concurrency = opts.concurrency,
    );
    if opts.http_only {
        out.push_str(
            "[service.roles]\npoller = false\norderer = false\npusher = false\nreconciler = false\n\
             purger = false\nmonitor = false\nhttp = true\n\n",
        );
    }
    for t in tenants {
        out.push_str(&format!(
            "[tenants.{key}]\nname = \"{key}\"\npoll_interval_secs = {poll}\n\n\
             [tenants.{key}.pageup]\ntenant_id = \"{tid}\"\nenv = \"uat\"\ndc = \"dc2\"\n\
             client_id = \"{pid}\"\nclient_secret = \"{psecret}\"\n\
             token_url = \"{pageup}/connect/token\"\nlist_url = \"{pageup}/v3/{{tenant}}/backgroundcheck\"\n\
             update_url = \"{pageup}/v3/{{tenant}}/backgroundcheck/{{id}}\"\n\n\
             [tenants.{key}.theary]\nenvironment = \"sandbox\"\nauth_url = \"{theary}\"\naudience = \"{aud}\"\n\
             api_base = \"{theary}\"\nclient_id = \"{tcid}\"\nclient_secret = \"{tsecret}\"\n\n\
             [tenants.{key}.business]\nentity_name = \"{key}\"\nposition_level = \"STANDARD\"\n\n",
            key = t.key,
            poll = opts.poll_interval_secs,
            tid = t.pageup_id,
            pid = t.pageup.client_id,
            psecret = t.pageup.client_secret,
            pageup = pageup,
            theary = theary,
            aud = t.theary.audience,
            tcid = t.theary.client_id,
            tsecret = t.theary.client_secret,
        ));
    }
    Ok(Config::load_str(
        &out,
        Path::new("(bench)"),
        std::iter::empty(),
    )?)
}

/// A temporary SQLite database, or the one asked for.
pub struct Database {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// On PostgreSQL: the server's URL and the database made for this run, dropped after.
    made: Option<(String, String)>,
}

impl Database {
    /// A temporary SQLite file, or, given a PostgreSQL URL, a fresh database on that server
    /// (so runs never see each other's rows); call [`Database::finish`] to drop it.
    pub async fn new(asked: Option<&str>) -> anyhow::Result<Database> {
        match asked {
            Some(url) if url.starts_with("postgres") => {
                sqlx::any::install_default_drivers();
                let name = format!("cb_bench_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::AnyPool::connect(url)
                    .await
                    .context("connecting to PostgreSQL")?;
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .context("creating the benchmark's database")?;
                admin.close().await;
                let mut fresh = url::Url::parse(url).context("reading the database URL")?;
                fresh.set_path(&name);
                Ok(Database {
                    url: fresh.to_string(),
                    _dir: None,
                    made: Some((url.to_owned(), name)),
                })
            }
            Some(url) => Ok(Database {
                url: url.to_owned(),
                _dir: None,
                made: None,
            }),
            None => {
                let dir = tempfile::tempdir().context("making a temporary directory")?;
                Ok(Database {
                    url: format!("sqlite://{}/bench.db", dir.path().display()),
                    _dir: Some(dir),
                    made: None,
                })
            }
        }
    }

    /// Drops the database made for this run, if one was.
    pub async fn finish(self) {
        if let Some((server, name)) = &self.made {
            let dropped = async {
                let admin = sqlx::AnyPool::connect(server).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok::<_, sqlx::Error>(())
            };
            if let Err(e) = dropped.await {
                tracing::warn!(database = %name, error = %e, "the benchmark's database was not dropped");
            }
        }
    }
}

/// The service ready to start: its configuration, store and listening socket.
pub struct Prepared {
    config: checkbridge::config::Config,
    store: checkbridge::store::Store,
    listener: tokio::net::TcpListener,
}

/// Configures the service for `tenants` against `sb` on `db`, and opens its store and
/// socket (port 0), without starting it.
pub async fn prepare(
    sb: &Sandboxes,
    tenants: &[BenchTenant],
    db: &Database,
    options: &ServiceOptions,
) -> anyhow::Result<Prepared> {
    let listener = sandbox::common::bind_local(0).await?;
    let addr = listener.local_addr()?;
    let config = config(sb.urls(), tenants, addr, &db.url, options)?;
    let store = checkbridge::store::Store::connect(&db.url)
        .await
        .context("opening the store")?;
    Ok(Prepared {
        config,
        store,
        listener,
    })
}

impl Prepared {
    /// Starts the service.
    pub async fn start(self) -> anyhow::Result<checkbridge::service::Running> {
        checkbridge::service::start_on(&self.config, self.store, Some(self.listener)).await
    }
}

/// Waits until PageUp shows `total` checks `new` (polling every `every`, for at most
/// `deadline`), stops the service and the sandboxes, and returns every check's timings.
pub async fn wait_all_new(
    sb: Sandboxes,
    running: checkbridge::service::Running,
    total: usize,
    deadline: Duration,
    every: Duration,
) -> anyhow::Result<Vec<CheckTiming>> {
    // The progress counters, not the timings: walking every check under the sandbox's lock
    // ten times a second would slow the API being measured.
    let result = wait_until("every check new in PageUp", deadline, every, || async {
        let new: u64 = sb.progress().await?.values().map(|p| p.new).sum();
        Ok(new >= total as u64)
    })
    .await;
    running.stop().await;
    result?;
    let timings = sb.timings().await?;
    sb.stop().await;
    Ok(timings)
}

/// [`wait_all_new`] for the checks of the PageUp tenants in `tenants` only (other tenants
/// of the same sandboxes are someone else's).
pub async fn wait_all_new_of(
    sb: Sandboxes,
    running: checkbridge::service::Running,
    tenants: &std::collections::HashSet<String>,
    total: usize,
    deadline: Duration,
    every: Duration,
) -> anyhow::Result<Vec<CheckTiming>> {
    let ours = |all: Vec<CheckTiming>| -> Vec<CheckTiming> {
        all.into_iter()
            .filter(|t| tenants.contains(&t.tenant))
            .collect()
    };
    let result = wait_until("every check new in PageUp", deadline, every, || async {
        let new: u64 = sb
            .progress()
            .await?
            .iter()
            .filter(|(tenant, _)| tenants.contains(*tenant))
            .map(|(_, p)| p.new)
            .sum();
        Ok(new >= total as u64)
    })
    .await;
    running.stop().await;
    result?;
    let timings = ours(sb.timings().await?);
    sb.stop().await;
    Ok(timings)
}

/// Polls `probe` every `every` until it says done or `deadline` passes.
pub async fn wait_until<F, Fut>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut probe: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if probe().await? {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < until,
            "{what}: not done after {} s",
            deadline.as_secs()
        );
        tokio::time::sleep(every).await;
    }
}

/// The `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
