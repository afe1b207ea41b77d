//! `checkbridge bench SCENARIO`: how close checkbridge comes to the limits of its job,
//! measured side by side in one run.
//!
//! Both sandboxes run in a child process (`checkbridge bench-sandboxes`), so their CPU is
//! not counted as ours; the service runs in this process on the real code (`service`,
//! `sync`, the webhook receiver, the store). Each scenario prints a table: figure, bound or
//! baseline, ratio, goal, pass or miss; `--json` prints the same for machines. `all` runs
//! each scenario in a process of its own, so memory figures do not mix.

mod drain;
mod latency;
mod null;
mod proc;
mod resume;
mod tenants;
mod webhooks;
mod world;

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;

pub use world::{sandboxes_main, SandboxesArgs};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// `full` is the size the goals are set for; `tiny` runs in seconds (CI uses it to keep
    /// the benchmark working; its figures mean little).
    #[arg(long, value_enum, default_value_t = Size::Full)]
    pub size: Size,
    /// Latency added by the sandboxes to every API request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// Database for the service (default: a temporary SQLite file). A PostgreSQL URL names
    /// the server: each scenario runs in a fresh database there, dropped after. `webhooks`
    /// always uses SQLite, as its goal is stated for SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Print JSON (one object per scenario) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// `drain`: also print where the time went, stage by stage (when each check was listed,
    /// recorded, claimed, ordered and shown `new`, and the waits between).
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// 10,000 pending checks over 100 tenants: time to claim all and to order all, against
    /// the bound of PageUp's 5-per-GET paging.
    Drain,
    /// 10,000 tenants polled every 60 s: CPU, memory, and request rate against the expected.
    Tenants,
    /// 50,000 signed webhook events over 64 connections, against inserting the same rows
    /// straight into the store.
    Webhooks,
    /// One GET of 5 invitations with 20 MB resumes each: peak memory against payload size.
    Resume,
    /// 50 new checks a second over 20 tenants: pending-to-queued and pending-to-new
    /// latency, against poll interval plus round trips.
    Latency,
    /// Every scenario, each in a process of its own.
    All,
}

impl Scenario {
    const EACH: [Scenario; 5] = [
        Scenario::Drain,
        Scenario::Tenants,
        Scenario::Webhooks,
        Scenario::Resume,
        Scenario::Latency,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Drain => "drain",
            Scenario::Tenants => "tenants",
            Scenario::Webhooks => "webhooks",
            Scenario::Resume => "resume",
            Scenario::Latency => "latency",
            Scenario::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Tiny,
    Full,
}

impl Size {
    fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Full => "full",
        }
    }
}

/// How a figure is judged against its goal.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Goal {
    /// `ratio` (bound / measured, or measured / baseline) at least this.
    RatioAtLeast { min: f64 },
    /// `ratio` (measured / bound) at most this.
    RatioAtMost { max: f64 },
    /// The value at most this.
    AtMost { max: f64 },
    /// The value at least this.
    AtLeast { min: f64 },
    /// The value within this fraction of the bound, either way.
    Within { fraction: f64 },
    /// Reported, not judged.
    None,
}

impl Goal {
    fn describe(&self, unit: &str) -> String {
        match *self {
            Goal::RatioAtLeast { min } => format!("ratio >= {min}"),
            Goal::RatioAtMost { max } => format!("ratio <= {max}"),
            Goal::AtMost { max } => format!("<= {} {unit}", fmt_num(max)),
            Goal::AtLeast { min } => format!(">= {} {unit}", fmt_num(min)),
            Goal::Within { fraction } => format!("within {}%", fmt_num(fraction * 100.0)),
            Goal::None => "-".to_owned(),
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// The bound or baseline it is compared with, and what that is.
    pub bound: Option<f64>,
    pub bound_label: String,
    pub ratio: Option<f64>,
    pub goal: Goal,
    pub goal_text: String,
    /// `None` when there is no goal.
    pub pass: Option<bool>,
}

impl Figure {
    /// A figure with no goal.
    pub fn info(name: &str, value: f64, unit: &str) -> Figure {
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            bound: None,
            bound_label: String::new(),
            ratio: None,
            goal: Goal::None,
            goal_text: "-".to_owned(),
            pass: None,
        }
    }

    /// A figure judged by `goal`. `ratio` is computed the way the goal reads:
    /// `bound / value` for times against a lower bound (`RatioAtLeast` with `inverse`),
    /// `value / bound` otherwise.
    pub fn judged(
        name: &str,
        value: f64,
        unit: &str,
        bound: Option<(f64, &str)>,
        inverse: bool,
        goal: Goal,
    ) -> Figure {
        let ratio = bound.and_then(|(b, _)| {
            let r = if inverse { b / value } else { value / b };
            r.is_finite().then_some(r)
        });
        let pass = match goal {
            Goal::RatioAtLeast { min } => Some(ratio.is_some_and(|r| r >= min)),
            Goal::RatioAtMost { max } => Some(ratio.is_some_and(|r| r <= max)),
            Goal::AtMost { max } => Some(value <= max),
            Goal::AtLeast { min } => Some(value >= min),
            Goal::Within { fraction } => Some(ratio.is_some_and(|r| (r - 1.0).abs() <= fraction)),
            Goal::None => None,
        };
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            bound: bound.map(|(b, _)| b),
            bound_label: bound.map(|(_, l)| l.to_owned()).unwrap_or_default(),
            ratio,
            goal_text: goal.describe(unit),
            goal,
            pass,
        }
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub size: String,
    /// What it ran with (counts, latency, intervals), for the record.
    pub setup: Vec<(String, String)>,
    pub figures: Vec<Figure>,
    /// How the bound was derived and anything worth knowing about the run.
    pub notes: Vec<String>,
    /// `--explain`: the time between stages, over every check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<StageRow>,
    pub seconds: f64,
}

impl Report {
    fn new(scenario: Scenario, size: Size) -> Report {
        Report {
            scenario: scenario.name().to_owned(),
            size: size.name().to_owned(),
            setup: Vec::new(),
            figures: Vec::new(),
            notes: Vec::new(),
            breakdown: Vec::new(),
            seconds: 0.0,
        }
    }

    fn setup(&mut self, key: &str, value: impl ToString) {
        self.setup.push((key.to_owned(), value.to_string()));
    }

    /// Every judged figure met its goal.
    pub fn passed(&self) -> bool {
        self.figures.iter().all(|f| f.pass != Some(false))
    }

    /// The report as a table for people.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "figure".to_owned(),
            "measured".to_owned(),
            "bound or baseline".to_owned(),
            "ratio".to_owned(),
            "goal".to_owned(),
            "result".to_owned(),
        ]];
        for f in &self.figures {
            rows.push([
                f.name.clone(),
                format!("{} {}", fmt_num(f.value), f.unit),
                match f.bound {
                    Some(b) => format!("{} {} ({})", fmt_num(b), f.unit, f.bound_label),
                    None => "-".to_owned(),
                },
                f.ratio
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "-".into()),
                f.goal_text.clone(),
                match f.pass {
                    Some(true) => "pass".to_owned(),
                    Some(false) => "MISS".to_owned(),
                    None => "-".to_owned(),
                },
            ]);
        }
        let widths: Vec<usize> = (0..6)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = format!(
            "== bench {} ({}) in {:.1} s: {}\n",
            self.scenario,
            self.size,
            self.seconds,
            self.setup
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (i, row) in rows.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
            if i == 0 {
                out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 10));
                out.push('\n');
            }
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        if !self.breakdown.is_empty() {
            out.push_str(&breakdown_table(&self.breakdown));
        }
        out
    }
}

/// One step between two stages of a check's way, over every check of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// `from -> to`.
    pub step: String,
    pub checks: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// When the last check reached `to`, from the start of the run.
    pub last_at_s: f64,
}

fn breakdown_table(rows: &[StageRow]) -> String {
    let mut table = vec![[
        "step".to_owned(),
        "checks".to_owned(),
        "p50 ms".to_owned(),
        "p99 ms".to_owned(),
        "max ms".to_owned(),
        "last reached at".to_owned(),
    ]];
    for r in rows {
        table.push([
            r.step.clone(),
            r.checks.to_string(),
            fmt_num(r.p50_ms),
            fmt_num(r.p99_ms),
            fmt_num(r.max_ms),
            format!("{} s", fmt_num(r.last_at_s)),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("  where the time went (per check, between stages):\n");
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str("    ");
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A number with sensible precision for a table.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The added latency `bench all` also runs the drain at: about a round trip between
/// PageUp's Sydney data centre and a service hosted in the US.
pub const OCEAN_MS: u64 = 200;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.scenario == Scenario::All {
        return run_all(&args).await;
    }
    let started = std::time::Instant::now();
    let mut report = Report::new(args.scenario, args.size);
    report.setup("added latency", format!("{} ms", args.latency_ms));
    match args.scenario {
        Scenario::Drain => drain::run(&args, &mut report).await?,
        Scenario::Tenants => tenants::run(&args, &mut report).await?,
        Scenario::Webhooks => webhooks::run(&args, &mut report).await?,
        Scenario::Resume => resume::run(&args, &mut report).await?,
        Scenario::Latency => latency::run(&args, &mut report).await?,
        Scenario::All => {}
    }
    report.seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", report.table())?;
    }
    Ok(())
}

/// Runs each scenario in a child process of this executable and prints what each printed.
async fn run_all(args: &BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding this executable")?;
    // The drain runs twice: at the chosen latency, and at an ocean's round trip (a PageUp
    // data centre in Sydney seen from a service in the US), where the goals differ.
    let mut runs: Vec<(Scenario, u64)> = Vec::new();
    for scenario in Scenario::EACH {
        runs.push((scenario, args.latency_ms));
        if scenario == Scenario::Drain && args.latency_ms != OCEAN_MS {
            runs.push((scenario, OCEAN_MS));
        }
    }
    for (scenario, latency_ms) in runs {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.arg("bench")
            .arg(scenario.name())
            .arg("--size")
            .arg(args.size.name())
            .arg("--latency-ms")
            .arg(latency_ms.to_string())
            .stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = &args.database_url {
            cmd.arg("--database-url").arg(url);
        }
        if args.json {
            cmd.arg("--json");
        }
        if args.explain {
            cmd.arg("--explain");
        }
        let status = cmd
            .status()
            .await
            .with_context(|| format!("running bench {}", scenario.name()))?;
        anyhow::ensure!(
            status.success(),
            "bench {} failed ({status})",
            scenario.name()
        );
    }
    Ok(())
}
