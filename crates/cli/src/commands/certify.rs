//! `checkbridge certify --tenant T [--check PAGEUP_ID] [--env uat|live]`: the guide's
//! go-live validation as numbered steps (`checkbridge::admin::certify`), printed as they
//! end, then a sign-off report (HTML and PDF) written and the run recorded.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use checkbridge::admin::certify::{self, Options, ServiceMode, Step};
use checkbridge::admin::certify_report;
use checkbridge::config::{Config, PageUpEnv};
use checkbridge::domain::ids::TenantKey;
use checkbridge::store::Store;

/// The PageUp environment certified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    Uat,
    Live,
}

#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// TOML file (see checkbridge.example.toml); CHECKBRIDGE_* variables override it.
    #[arg(long, env = "CHECKBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The tenant to certify.
    #[arg(long)]
    pub tenant: String,
    /// PageUp's id of a test check to run through (in UAT it is reset to pending first;
    /// in live it must be pending). Without it only the connection steps run, and the
    /// tenant is not certified.
    #[arg(long)]
    pub check: Option<String>,
    /// The environment certified; default: the tenant's `pageup.env`.
    #[arg(long, value_enum)]
    pub env: Option<Env>,
    /// Watch a service already running on this database (serving service.public_base_url)
    /// instead of starting one in this process.
    #[arg(long)]
    pub service_running: bool,
    /// Seconds the test check may take from its claim to `completed`.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// Where to write the sign-off report (HTML and PDF).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Print the certification as one JSON document instead of the steps.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: CertifyArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let key = TenantKey::from(args.tenant.as_str());
    if !config.tenants.contains_key(key.as_str()) {
        anyhow::bail!("tenant {key:?} is not configured (tenants.{key})");
    }
    if args.check.is_some() && !args.service_running {
        // The service started here needs what `serve` needs.
        config.check_for_serve()?;
    }
    let store = Store::connect(&config.service.database_url)
        .await
        .context("opening the database")?;
    let options = Options {
        env: args.env.map(|e| match e {
            Env::Uat => PageUpEnv::Uat,
            Env::Live => PageUpEnv::Live,
        }),
        check: args.check.clone(),
        service: if args.service_running {
            ServiceMode::Running
        } else {
            ServiceMode::InProcess(None)
        },
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        ..Options::default()
    };
    let json = args.json;
    let mut print = |s: &Step| {
        if json {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:>2}. {}  {}: {}",
            s.number,
            s.outcome.label(),
            s.name,
            s.detail
        );
        if let Some(fix) = &s.fix {
            let _ = writeln!(out, "        fix: {fix}");
        }
    };
    let cert = certify::run(&config, &store, &key, options, &mut print).await?;
    let (html_path, pdf_path) = write_report(&args.out, &cert)?;
    let html = std::fs::read_to_string(&html_path)?;
    certify::record(&store, &cert, &certify_report::digest(&html)).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&cert)?;
        v["report_html"] = html_path.display().to_string().into();
        v["report_pdf"] = pdf_path.display().to_string().into();
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{}", certify_report::verdict(&cert))?;
        writeln!(
            out,
            "sign-off report: {} and {}",
            html_path.display(),
            pdf_path.display()
        )?;
    }
    if cert.outcome == "fail" {
        anyhow::bail!("tenant {key} is not certified for PageUp {}", cert.env);
    }
    Ok(())
}

/// Writes the HTML and PDF reports into `dir`; their paths.
fn write_report(
    dir: &std::path::Path,
    cert: &certify::Certificate,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = checkbridge::time::rfc3339(cert.finished_at)
        .replace([':', '-'], "")
        .chars()
        .take(15)
        .collect::<String>();
    let stem = format!("certification-{}-{}-{stamp}Z", cert.tenant, cert.env);
    let html_path = dir.join(format!("{stem}.html"));
    let pdf_path = dir.join(format!("{stem}.pdf"));
    std::fs::write(&html_path, certify_report::html(cert))
        .with_context(|| format!("writing {}", html_path.display()))?;
    let pdf = certify_report::pdf(cert).map_err(|e| anyhow::anyhow!("writing the PDF: {e}"))?;
    std::fs::write(&pdf_path, pdf).with_context(|| format!("writing {}", pdf_path.display()))?;
    Ok((html_path, pdf_path))
}
