//! A self-contained world for the demo and the end-to-end tests: both sandboxes, a set of
//! tenants known to both, the configuration that points checkbridge at them, and
//! invitations seeded per scenario with the PageUp status each should end in.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sandbox::common::bind_local;
use sandbox::idp::{self as idp_sb, IdpClient, IdpSandbox, IdpUser};
use sandbox::pageup::{
    self as pageup_sb, ClientSpec as PageUpClientSpec, GenerateOptions, PageUpConfig, PageUpSandbox,
};
use sandbox::theary::{
    self as theary_sb, ClientSpec as ThearyClientSpec, SandboxConfig, ThearySandbox,
};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use checkbridge::config::Config;

/// How a seeded check should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Every search verified.
    Clean,
    /// Employment verified with a discrepancy.
    Discrepancy,
    /// Candidate last name and national id missing: cannot be ordered.
    MissingFields,
    /// Theary escalates the employment search to a person (action required).
    ActionRequired,
    /// Theary never finishes; the order is cancelled at Theary.
    Cancelled,
    /// Employment, education and a criminal check (package [`CRIMINAL_PACKAGE`]), all clear.
    /// Not in [`Scenario::ALL`]: it completes only where Theary runs criminal checks
    /// ([`ThearyRules::Seed`]); elsewhere it fails at once, naming the criminal check.
    Criminal,
}

/// The lab's package code for employment + education + criminal.
pub const CRIMINAL_PACKAGE: &str = "FULL-CRIM";

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Clean,
        Scenario::Discrepancy,
        Scenario::MissingFields,
        Scenario::ActionRequired,
        Scenario::Cancelled,
    ];

    /// PageUp's final status for this scenario.
    pub fn expected_status(self) -> &'static str {
        match self {
            Scenario::Clean
            | Scenario::Discrepancy
            | Scenario::ActionRequired
            | Scenario::Criminal => "completed",
            Scenario::MissingFields => "failed",
            Scenario::Cancelled => "cancelled",
        }
    }

    /// The overall result PageUp should show, for completed scenarios.
    pub fn expected_overall(self) -> Option<&'static str> {
        match self {
            Scenario::Clean | Scenario::Criminal => Some("pass"),
            Scenario::Discrepancy | Scenario::ActionRequired => Some("review"),
            Scenario::MissingFields | Scenario::Cancelled => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Clean => "clean pass",
            Scenario::Discrepancy => "discrepancy",
            Scenario::MissingFields => "missing fields",
            Scenario::ActionRequired => "action required",
            Scenario::Cancelled => "cancelled",
            Scenario::Criminal => "criminal check",
        }
    }

    /// A realistic invitation for this scenario (`index` varies the person).
    pub fn invitation(self, index: usize) -> Value {
        let mut inv = pageup_sb::generated_invitation(
            "0",
            index,
            &GenerateOptions {
                document_bytes: 0,
                seed: Some(7_000 + index as u64),
                ..GenerateOptions::default()
            },
        );
        if let Some(obj) = inv.as_object_mut() {
            obj.remove("id");
        }
        // The Theary sandbox picks outcomes by keywords in the employer's name.
        let employer = match self {
            Scenario::Clean | Scenario::MissingFields | Scenario::Criminal => "Northwind Traders",
            Scenario::Discrepancy => "Discrepancy Logistics",
            Scenario::ActionRequired => "Escalate Health Partners",
            Scenario::Cancelled => "Stall Manufacturing",
        };
        inv["employmentHistory"] = json!([{
            "employerName": employer, "position": "Analyst", "location": "Austin, TX",
            "startDate": "2019-02-01", "endDate": "2024-06-28"
        }]);
        inv["educationHistory"] = json!([{
            "institutionName": "Ohio State University", "qualification": "BS Computer Science",
            "fieldOfStudy": "Computer Science", "graduationDate": "2018-05-15"
        }]);
        if self == Scenario::Cancelled {
            // Only the stalled employment search, so the order stays open until cancelled.
            inv["checkTypes"] = json!(["EMPLOYMENT"]);
        }
        if self == Scenario::Criminal {
            inv["packageCode"] = json!(CRIMINAL_PACKAGE);
        }
        if self == Scenario::MissingFields {
            inv["candidate"]["lastName"] = Value::Null;
            inv["candidate"]["nationalId"] = Value::Null;
        }
        inv
    }
}

/// PageUp statuses a check ends in.
pub const FINAL_STATUSES: &[&str] = &["completed", "failed", "cancelled", "expired"];

/// Where a PageUp status stands in a check's life: pending < queued < new < inprogress <
/// final.
pub fn status_rank(status: &str) -> usize {
    match status {
        "pending" => 0,
        "queued" => 1,
        "new" => 2,
        "inprogress" => 3,
        _ => 4,
    }
}

/// Whether a check's PageUp history (the statuses PUT, in order) is orderly: claimed first,
/// never backwards.
pub fn orderly(statuses: &[&str]) -> bool {
    statuses.first() == Some(&"queued")
        && statuses
            .windows(2)
            .all(|w| status_rank(w[0]) <= status_rank(w[1]))
}

/// What of an invitation must never be stored or logged in clear: the national id (with
/// and without dashes), date of birth, email, phone, and the name as it appears in JSON.
pub fn pii_needles(invitation: &Value) -> Vec<String> {
    let c = &invitation["candidate"];
    let mut out = Vec::new();
    for key in ["nationalId", "dateOfBirth", "email", "phone"] {
        if let Some(v) = c[key].as_str() {
            out.push(v.to_owned());
            if key == "nationalId" {
                out.push(v.replace('-', ""));
            }
        }
    }
    if let (Some(first), Some(last)) = (c["firstName"].as_str(), c["lastName"].as_str()) {
        out.push(format!("{first}\",\"lastName\":\"{last}"));
    }
    out
}

fn sso_secret(key: &str) -> String {
    format!("{key}-sso-secret-0123456789")
}

fn sso_credentials(key: &str) -> (String, String) {
    (
        format!("recruiter@{key}.example"),
        format!("{key}-recruiter-password"),
    )
}

/// One tenant of the lab, known to both sandboxes.
#[derive(Debug, Clone)]
pub struct LabTenant {
    pub key: String,
    pub name: String,
    /// PageUp's tenant id (also the sandbox's tenant).
    pub pageup_id: String,
    pub pageup: PageUpClientSpec,
    pub theary: ThearyClientSpec,
}

/// Settings of a lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// (key, display name) of each tenant.
    pub tenants: Vec<(String, String)>,
    /// Time between a Theary search's stages.
    pub theary_step: Duration,
    pub poll_interval_secs: u64,
    pub reconcile_after_secs: u64,
    /// PageUp's fuzzy serializer (shuffled properties, extra GUID fields).
    pub fuzz: bool,
    /// Which Theary rules the sandbox follows; in `Seed` the tenants' accounts run criminal
    /// checks (`theary.criminal = true`).
    pub theary_rules: ThearyRules,
    /// Tenants whose readers sign in through the identity-provider sandbox (started only
    /// when there are some): each gets a client there, a recruiter ([`Lab::sso_user`]) and
    /// a `[tenants.KEY.sso]` section allowing `KEY.example` addresses in group `recruiters`.
    pub sso_tenants: Vec<String>,
    /// `sso.timeout_secs` of those tenants.
    pub sso_timeout_secs: u64,
    /// With a shape, the PageUp sandbox lists invitations in it and every tenant reads them
    /// through the matching built-in intake profile; without, invitations are in the assumed
    /// schema and read directly (no `[tenants.T.intake]`).
    pub intake: Option<pageup_sb::InvitationShape>,
}

/// The group the lab's SSO tenants require.
pub const SSO_GROUP: &str = "recruiters";

/// Which of Theary's documents the sandbox follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThearyRules {
    /// The newer public docs: EMPLOYMENT and EDUCATION only.
    #[default]
    Current,
    /// The Create Order document the project started from: CRIMINAL searches accepted,
    /// with `criminalCheck.jurisdictions` required.
    Seed,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            tenants: vec![
                ("acme".into(), "Acme Corp".into()),
                ("globex".into(), "Globex".into()),
                ("initech".into(), "Initech".into()),
            ],
            theary_step: Duration::from_millis(300),
            poll_interval_secs: 5,
            reconcile_after_secs: 2,
            fuzz: true,
            theary_rules: ThearyRules::Current,
            sso_tenants: Vec::new(),
            sso_timeout_secs: 5,
            intake: None,
        }
    }
}

/// Both sandboxes, their tenants, and a listener reserved for checkbridge (so its public
/// URL is known before it starts: Theary is told where to send webhooks in each order).
#[derive(Debug)]
pub struct Lab {
    pub pageup: PageUpSandbox,
    pub theary: ThearySandbox,
    /// The identity provider of the [`LabOptions::sso_tenants`] (None when there are none).
    pub idp: Option<IdpSandbox>,
    pub tenants: Vec<LabTenant>,
    pub options: LabOptions,
    /// checkbridge's address.
    pub service_addr: std::net::SocketAddr,
    /// The master key checkbridge runs with (`id:base64`), made for this lab.
    pub master_key: secrecy::SecretString,
    listener: Option<TcpListener>,
}

impl Lab {
    /// Starts both sandboxes on free ports and registers the tenants in each.
    pub async fn start(options: LabOptions) -> anyhow::Result<Lab> {
        let pageup = pageup_sb::spawn(PageUpConfig {
            fuzz: options.fuzz,
            shape: options.intake.unwrap_or_default(),
            ..PageUpConfig::default()
        })
        .await
        .context("starting the PageUp sandbox")?;
        let theary = theary_sb::spawn(SandboxConfig {
            step: options.theary_step,
            retry_base: Duration::from_millis(200),
            delivery_timeout: Duration::from_secs(5),
            seed: Some(11),
            legacy_criminal: options.theary_rules == ThearyRules::Seed,
            ..SandboxConfig::default()
        })
        .await
        .context("starting the Theary sandbox")?;
        // Outcomes are chosen by keyword; the names the scenarios use for a clean result
        // are pinned to VERIFIED (the sandbox picks at random for names it has no rule for).
        for keyword in ["Northwind Traders", "Ohio State University"] {
            theary.state.add_rule(theary_sb::ScenarioRule {
                keyword: keyword.to_owned(),
                search_type: None,
                outcome: theary_sb::Outcome::Completed {
                    outcome: "VERIFIED".to_owned(),
                    discrepancy: false,
                },
            });
        }
        let mut tenants = Vec::new();
        for (i, (key, name)) in options.tenants.iter().enumerate() {
            let pageup_id = format!("{}", 1001 + i);
            let p = PageUpClientSpec::full(
                &pageup_id,
                &format!("{key}-pageup"),
                &format!("{key}-pageup-secret-0123456789"),
            );
            pageup.state.add_client(p.clone());
            let t = ThearyClientSpec {
                tenant: key.clone(),
                client_id: format!("{key}-theary"),
                client_secret: format!("{key}-theary-secret-0123456789"),
                audience: theary::SANDBOX_AUDIENCE.to_owned(),
            };
            theary.state.add_client(t.clone());
            tenants.push(LabTenant {
                key: key.clone(),
                name: name.clone(),
                pageup_id,
                pageup: p,
                theary: t,
            });
        }
        let listener = bind_local(0)
            .await
            .context("reserving checkbridge's port")?;
        let service_addr = listener.local_addr()?;
        let idp = if options.sso_tenants.is_empty() {
            None
        } else {
            let idp = idp_sb::spawn()
                .await
                .context("starting the identity-provider sandbox")?;
            for key in &options.sso_tenants {
                idp.state.add_client(IdpClient {
                    client_id: format!("{key}-sso"),
                    client_secret: sso_secret(key),
                    redirect_uris: vec![format!("http://{service_addr}/sso/{key}/callback")],
                });
                let (user, password) = sso_credentials(key);
                idp.state
                    .add_user(IdpUser::new(&user, &password, &[SSO_GROUP]));
            }
            Some(idp)
        };
        Ok(Lab {
            pageup,
            theary,
            idp,
            tenants,
            options,
            service_addr,
            master_key: format!(
                "lab:{}",
                checkbridge::crypto::Key::random().to_base64().as_str()
            )
            .into(),
            listener: Some(listener),
        })
    }

    /// checkbridge's configuration for this lab, as TOML.
    pub fn config_toml(&self, database_url: &str) -> String {
        let mut out = format!(
            "[service]\npublic_base_url = \"http://{addr}\"\nlisten = \"{addr}\"\ndatabase_url = \"{database_url}\"\n\
             instance_id = \"lab\"\nreconcile_after_secs = {reconcile}\nmaster_key = \"{master_key}\"\n\n\
             [http]\nmetrics_token = \"{metrics_token}\"\n\n",
            metrics_token = crate::METRICS_TOKEN,
            addr = self.service_addr,
            reconcile = self.options.reconcile_after_secs,
            master_key = secrecy::ExposeSecret::expose_secret(&self.master_key),
        );
        for t in &self.tenants {
            out.push_str(&format!(
                "[tenants.{key}]\nname = \"{name}\"\npoll_interval_secs = {poll}\n\n\
                 [tenants.{key}.pageup]\ntenant_id = \"{tid}\"\nenv = \"uat\"\ndc = \"dc2\"\n\
                 client_id = \"{pid}\"\nclient_secret = \"{psecret}\"\n\
                 token_url = \"{token}\"\nlist_url = \"{list}\"\nupdate_url = \"{update}\"\n\n\
                 [tenants.{key}.theary]\nenvironment = \"sandbox\"\nauth_url = \"{auth}\"\naudience = \"{aud}\"\n\
                 api_base = \"{api}\"\nclient_id = \"{tcid}\"\nclient_secret = \"{tsecret}\"\ncriminal = {criminal}\n\n\
                 [tenants.{key}.business]\nentity_name = \"{name}\"\nposition_level = \"STANDARD\"\n\n\
                 [tenants.{key}.checks.packages]\n{crim_package} = [\"EMPLOYMENT\", \"EDUCATION\", \"CRIMINAL\"]\n\n",
                criminal = self.options.theary_rules == ThearyRules::Seed,
                crim_package = CRIMINAL_PACKAGE,
                key = t.key,
                name = t.name,
                poll = self.options.poll_interval_secs,
                tid = t.pageup_id,
                pid = t.pageup.client_id,
                psecret = t.pageup.client_secret,
                token = self.pageup.token_url(),
                list = self.pageup.list_url_template(),
                update = self.pageup.update_url_template(),
                auth = self.theary.auth_url(),
                aud = t.theary.audience,
                api = self.theary.api_base(),
                tcid = t.theary.client_id,
                tsecret = t.theary.client_secret,
            ));
            if let Some(idp) = self
                .idp
                .as_ref()
                .filter(|_| self.options.sso_tenants.contains(&t.key))
            {
                out.push_str(&format!(
                    "[tenants.{key}.sso]\nissuer = \"{issuer}\"\nclient_id = \"{key}-sso\"\n\
                     client_secret = \"{secret}\"\nallowed_domains = [\"{key}.example\"]\n\
                     required_group = \"{SSO_GROUP}\"\ntimeout_secs = {timeout}\n\n",
                    key = t.key,
                    issuer = idp.base_url(),
                    secret = sso_secret(&t.key),
                    timeout = self.options.sso_timeout_secs,
                ));
            }
            if let Some(shape) = self.options.intake {
                out.push_str(&format!(
                    "[tenants.{key}.intake]\nprofile = \"{profile}\"\n\n",
                    key = t.key,
                    profile = shape.profile()
                ));
            }
        }
        out
    }

    /// The user name and password of the recruiter of SSO tenant `key` at the
    /// identity-provider sandbox.
    pub fn sso_user(&self, key: &str) -> (String, String) {
        sso_credentials(key)
    }

    /// The configuration, loaded and validated as `serve` would.
    pub fn config(&self, database_url: &str) -> anyhow::Result<Config> {
        Ok(Config::load_str(
            &self.config_toml(database_url),
            Path::new("(lab)"),
            std::iter::empty(),
        )?)
    }

    /// The reserved listener, for running checkbridge in this process. `None` once taken,
    /// or when the lab is for a checkbridge process of its own (drop it with `release`).
    pub fn take_listener(&mut self) -> Option<TcpListener> {
        self.listener.take()
    }

    /// Frees the reserved port so a separate checkbridge process can bind it.
    pub fn release_port(&mut self) {
        self.listener = None;
    }

    /// The tenant with this key.
    pub fn tenant(&self, key: &str) -> Option<&LabTenant> {
        self.tenants.iter().find(|t| t.key == key)
    }

    /// Seeds one pending invitation for `scenario`. Returns PageUp's check id.
    pub fn seed(&self, tenant: &str, scenario: Scenario, index: usize) -> Option<String> {
        let t = self.tenant(tenant)?;
        Some(
            self.pageup
                .state
                .seed(&t.pageup_id, scenario.invitation(index)),
        )
    }

    /// PageUp's view of a check (status and last document).
    pub fn pageup_check(&self, tenant: &str, id: &str) -> Option<sandbox::pageup::CheckView> {
        let t = self.tenant(tenant)?;
        self.pageup.state.check(&t.pageup_id, id)
    }

    /// Cancels an order at Theary, as the provider's staff would.
    pub async fn cancel_at_theary(&self, tenant: &str, reference: &str) -> anyhow::Result<()> {
        let t = self.tenant(tenant).context("no such lab tenant")?;
        let client = theary::ThearyClient::new(outbound::RetryPolicy::default())?;
        let cfg = theary::ThearyConfig {
            auth_url: self.theary.auth_url(),
            audience: t.theary.audience.clone(),
            api_base: self.theary.api_base(),
            client_id: t.theary.client_id.clone(),
            client_secret: t.theary.client_secret.clone().into(),
        };
        client.cancel_order(&cfg, reference).await?;
        Ok(())
    }
}
