//! `checkbridge sandbox [pageup|theary|idp|mail]`: the emulators as a standalone program, for
//! integrators who want to work offline. Prints a quick start (credentials, URLs, curl
//! commands that work as printed) and serves until Ctrl-C.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sandbox::common::bind_local;
use sandbox::{idp, mail, pageup, theary};

/// Which emulator to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// PageUp's Background Check API (login server, GET pending, PUT status).
    Pageup,
    /// Theary's background-check API (auth server, orders, verification engine, webhooks).
    Theary,
    /// An OpenID Connect identity provider (discovery, JWKS, a sign-in form, token
    /// endpoint) for a tenant's single sign-on.
    Idp,
    /// An SMTP server that keeps what it receives and lists it over HTTP (the candidate
    /// invitations).
    Mail,
}

/// Which of Theary's documents the Theary sandbox follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ThearyRules {
    /// The newer public docs: EMPLOYMENT and EDUCATION only; CRIMINAL and criminalCheck are
    /// refused with 400.
    #[default]
    Current,
    /// The Create Order document: CRIMINAL searches accepted (with
    /// `criminalCheck.jurisdictions` required, answered with that document's message when
    /// missing) and run to outcomes.
    Seed,
}

/// The shape the PageUp sandbox lists invitations in (each matches a built-in intake profile
/// of the same name, `[tenants.T.intake] profile = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PageUpShape {
    /// checkbridge's assumed schema.
    #[default]
    Assumed,
    /// A `BackgroundCheckRequest` object, as a PageUp peer's field table implies.
    Backgroundcheckrequest,
}

impl ThearyRules {
    /// Whether the sandbox accepts criminal checks under these rules.
    pub fn criminal(self) -> bool {
        self == ThearyRules::Seed
    }
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Run only this emulator.
    #[arg(value_enum)]
    pub which: Option<Which>,
    /// Port for the PageUp sandbox (0 picks a free one).
    #[arg(long, default_value_t = 8801)]
    pub pageup_port: u16,
    /// Port for the Theary sandbox (0 picks a free one).
    #[arg(long, default_value_t = 8802)]
    pub theary_port: u16,
    /// Tenant created in both sandboxes.
    #[arg(long, default_value = "218")]
    pub tenant: String,
    /// Pending invitations seeded in the PageUp sandbox at start.
    #[arg(long, default_value_t = 7)]
    pub seed_invitations: usize,
    /// Size of the resume attached to each seeded invitation, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub resume_bytes: usize,
    /// Seconds between stages of a Theary verification (contact plan, outreach, outcome).
    #[arg(long, default_value_t = 5)]
    pub step_secs: u64,
    /// URL that Theary's quick start should point its webhooks at.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Which of Theary's documents the Theary sandbox follows.
    #[arg(long, value_enum, default_value_t = ThearyRules::Current)]
    pub theary_rules: ThearyRules,
    /// Port for the identity-provider sandbox (0 picks a free one).
    #[arg(long, default_value_t = 8803)]
    pub idp_port: u16,
    /// The client (relying party) registered at the identity provider.
    #[arg(long, default_value = "checkbridge-demo")]
    pub idp_client_id: String,
    #[arg(long, default_value = "demo-secret-idp")]
    pub idp_client_secret: String,
    /// Redirect URIs the client may use (repeat for several).
    #[arg(long, default_value = "http://127.0.0.1:8080/sso/acme/callback")]
    pub idp_redirect_uri: Vec<String>,
    /// Users who can sign in, as `email:password[:group,group...]` (repeat for several).
    #[arg(
        long,
        default_value = "recruiter@acme.example:demo-password-idp:recruiters"
    )]
    pub idp_user: Vec<String>,
    /// The shape the PageUp sandbox lists invitations in.
    #[arg(long, value_enum, default_value_t = PageUpShape::Assumed)]
    pub pageup_shape: PageUpShape,
    /// SMTP port of the mail sandbox (0 picks a free one).
    #[arg(long, default_value_t = 8825)]
    pub mail_smtp_port: u16,
    /// HTTP port of the mail sandbox's message listing (0 picks a free one).
    #[arg(long, default_value_t = 8804)]
    pub mail_http_port: u16,
    /// The user the mail sandbox accepts over SMTP AUTH, as `user:password` (empty: no AUTH).
    #[arg(long, default_value = "checkbridge:demo-password-mail")]
    pub mail_user: Option<String>,
    /// Offer STARTTLS with a self-signed certificate (AUTH then only over TLS).
    #[arg(long)]
    pub mail_starttls: bool,
}

/// Starts the chosen sandboxes and serves until Ctrl-C.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let mut out = String::new();
    let mut servers = Vec::new();

    if matches!(args.which, None | Some(Which::Pageup)) {
        let listener = bind_local(args.pageup_port)
            .await
            .with_context(|| format!("binding the PageUp sandbox to port {}", args.pageup_port))?;
        let shape = match args.pageup_shape {
            PageUpShape::Assumed => pageup::InvitationShape::Assumed,
            PageUpShape::Backgroundcheckrequest => pageup::InvitationShape::BackgroundCheckRequest,
        };
        let config = pageup::PageUpConfig {
            shape,
            ..pageup::PageUpConfig::default()
        };
        let sb = pageup::spawn_on(listener, config)
            .await
            .context("starting the PageUp sandbox")?;
        let client =
            pageup::ClientSpec::full(&args.tenant, "checkbridge-demo", "demo-secret-pageup");
        sb.state.add_client(client.clone());
        let opts = pageup::GenerateOptions {
            document_bytes: args.resume_bytes,
            ..Default::default()
        };
        sb.state
            .seed_generated(&args.tenant, args.seed_invitations, &opts);
        out.push_str(&sb.quickstart(&client));
        out.push('\n');
        servers.push(Running::PageUp(sb));
    }

    if matches!(args.which, None | Some(Which::Theary)) {
        let listener = bind_local(args.theary_port)
            .await
            .with_context(|| format!("binding the Theary sandbox to port {}", args.theary_port))?;
        let config = theary::SandboxConfig {
            step: Duration::from_secs(args.step_secs.max(1)),
            legacy_criminal: args.theary_rules.criminal(),
            ..Default::default()
        };
        let sb = theary::spawn_on(listener, config)
            .await
            .context("starting the Theary sandbox")?;
        let client = theary::ClientSpec {
            tenant: args.tenant.clone(),
            client_id: "checkbridge-demo".to_owned(),
            client_secret: "demo-secret-theary".to_owned(),
            audience: "https://empv-auth-dev.theary.ai".to_owned(),
        };
        sb.state.add_client(client.clone());
        out.push_str(&sb.quickstart(&client, args.webhook_url.as_deref()));
        out.push('\n');
        servers.push(Running::Theary(sb));
    }

    if matches!(args.which, None | Some(Which::Idp)) {
        let listener = bind_local(args.idp_port)
            .await
            .with_context(|| format!("binding the IdP sandbox to port {}", args.idp_port))?;
        let sb = idp::spawn_on(listener)
            .await
            .context("starting the identity-provider sandbox")?;
        sb.state.add_client(idp::IdpClient {
            client_id: args.idp_client_id.clone(),
            client_secret: args.idp_client_secret.clone(),
            redirect_uris: args.idp_redirect_uri.clone(),
        });
        for spec in &args.idp_user {
            let mut parts = spec.splitn(3, ':');
            let (Some(email), Some(password)) = (parts.next(), parts.next()) else {
                anyhow::bail!("--idp-user {spec:?}: expected email:password[:group,group...]");
            };
            let groups: Vec<&str> = parts
                .next()
                .map(|g| g.split(',').filter(|g| !g.is_empty()).collect())
                .unwrap_or_default();
            sb.state
                .add_user(idp::IdpUser::new(email, password, &groups));
        }
        out.push_str(&sb.quickstart());
        out.push_str(&format!(
            "\n# checkbridge's [tenants.acme.sso] for it:\n\
             # issuer = \"{}\"\n# client_id = \"{}\"\n\
             # client_secret: CHECKBRIDGE_TENANTS__ACME__SSO__CLIENT_SECRET={}\n\
             # allowed_domains = [\"acme.example\"]\n",
            sb.base_url(),
            args.idp_client_id,
            args.idp_client_secret
        ));
        out.push('\n');
        servers.push(Running::Idp(sb));
    }

    if matches!(args.which, None | Some(Which::Mail)) {
        let smtp = bind_local(args.mail_smtp_port).await.with_context(|| {
            format!(
                "binding the mail sandbox's SMTP to port {}",
                args.mail_smtp_port
            )
        })?;
        let http = bind_local(args.mail_http_port).await.with_context(|| {
            format!(
                "binding the mail sandbox's HTTP to port {}",
                args.mail_http_port
            )
        })?;
        let users = match args.mail_user.as_deref().filter(|u| !u.is_empty()) {
            None => Vec::new(),
            Some(spec) => {
                let Some((user, password)) = spec.split_once(':') else {
                    anyhow::bail!("--mail-user: expected user:password");
                };
                vec![(user.to_owned(), password.to_owned())]
            }
        };
        let sb = mail::spawn_on(
            smtp,
            http,
            mail::MailConfig {
                users,
                starttls: args.mail_starttls,
                ..Default::default()
            },
        )
        .await
        .context("starting the mail sandbox")?;
        out.push_str(&sb.quickstart());
        out.push('\n');
        servers.push(Running::Mail(sb));
    }

    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .context("writing the quick start")?;
    stdout
        .write_all(b"Press Ctrl-C to stop.\n")
        .context("writing the quick start")?;
    stdout.flush().context("writing the quick start")?;
    drop(stdout);

    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    for server in servers {
        match server {
            Running::PageUp(sb) => sb.server.stop().await,
            Running::Theary(sb) => sb.server.stop().await,
            Running::Idp(sb) => sb.server.stop().await,
            Running::Mail(sb) => sb.stop().await,
        }
    }
    Ok(())
}

enum Running {
    PageUp(pageup::PageUpSandbox),
    Theary(theary::ThearySandbox),
    Idp(idp::IdpSandbox),
    Mail(mail::MailSandbox),
}
