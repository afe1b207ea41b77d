use std::path::{Path, PathBuf};

use super::*;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkbridge.example.toml")
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), env(vars))
}

fn key_of(err: ConfigError) -> String {
    match err {
        ConfigError::Invalid { key, .. } => key,
        other => panic!("expected an invalid key, got {other}"),
    }
}

const MINIMAL: &str = r#"
[service]
public_base_url = "https://cb.example.com"
[tenants.acme.pageup]
tenant_id = 218
env = "uat"
dc = "dc2"
client_id = "c"
client_secret = "s"
[tenants.acme.theary]
client_id = "t"
client_secret = "ts"
"#;

#[test]
fn the_example_config_loads_and_is_valid() {
    let config = Config::load(Some(&example()), Vec::new()).unwrap();
    let acme = &config.tenants["acme"];
    assert_eq!(acme.checks.packages["EMP"], vec!["EMPLOYMENT"]);
    assert_eq!(acme.theary_config().api_base, theary::SANDBOX_API);
    let pageup = acme.pageup_tenant();
    assert_eq!(
        pageup.list_url().unwrap().as_str(),
        "https://apiuat.dc2.pageuppeople.com/v3/218/backgroundcheck?provider=bg"
    );
    let summary = config.summary();
    assert!(summary.contains("tenant acme (Acme Corp)"), "{summary}");
    for text in [summary, format!("{config:?}")] {
        assert!(
            !text.contains("set-me-through"),
            "a secret was printed: {text}"
        );
    }
}

#[test]
fn defaults_alone_are_valid() {
    let config = Config::load(None, Vec::new()).unwrap();
    assert!(config.tenants.is_empty());
    assert_eq!(config.service.database_url, "sqlite://checkbridge.db");
    assert!(config.service.roles.poller);
}

#[test]
fn environment_overrides_the_file_and_takes_strings_for_any_type() {
    let config = load_text(
        MINIMAL,
        &[
            (
                "CHECKBRIDGE_TENANTS__ACME__PAGEUP__CLIENT_SECRET",
                "from-env",
            ),
            ("CHECKBRIDGE_TENANTS__ACME__POLL_INTERVAL_SECS", "30"),
            ("CHECKBRIDGE_SERVICE__ROLES__POLLER", "false"),
            (
                "CHECKBRIDGE_TENANTS__ACME__CHECKS__DEFAULT_SEARCH_TYPES",
                "employment",
            ),
            (
                "CHECKBRIDGE_TENANTS__ACME__CHECKS__REPORT_TYPES__EDUCATION",
                "Degree check",
            ),
            (
                "CHECKBRIDGE_TENANTS__ACME__RESULTS__OUTCOMES__NO_RECORD",
                "review",
            ),
            ("CHECKBRIDGE_CONFIG", "/not/a/key"),
            ("OTHER__THING", "ignored"),
        ],
    )
    .unwrap();
    let acme = &config.tenants["acme"];
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&acme.pageup.client_secret),
        "from-env"
    );
    assert_eq!(acme.poll_interval_secs, 30);
    assert_eq!(acme.checks.default_search_types, vec!["EMPLOYMENT"]);
    assert_eq!(
        acme.checks.report_types["EDUCATION"], "Degree check",
        "codes set from the environment are upper-cased"
    );
    assert_eq!(acme.results.outcomes["NO_RECORD"], "review");
    assert_eq!(
        acme.pageup.tenant_id, "218",
        "a number in TOML is taken as the id's text"
    );
    assert!(!config.service.roles.poller);
    // A whole tenant can come from the environment alone.
    let vars: Vec<(String, String)> = [
        ("PAGEUP__TENANT_ID", "9"),
        ("PAGEUP__ENV", "live"),
        ("PAGEUP__DC", "dc4"),
        ("PAGEUP__CLIENT_ID", "c"),
        ("PAGEUP__CLIENT_SECRET", "s"),
        ("THEARY__CLIENT_ID", "t"),
        ("THEARY__CLIENT_SECRET", "u"),
    ]
    .iter()
    .map(|(k, v)| (format!("CHECKBRIDGE_TENANTS__BETA__{k}"), (*v).to_owned()))
    .collect();
    let config = Config::load(None, vars).unwrap();
    assert_eq!(
        config.tenants["beta"]
            .pageup_tenant()
            .token_url()
            .unwrap()
            .as_str(),
        "https://login.dc4.pageuppeople.com/connect/token"
    );
}

/// A config text, the variables set, and the key the error must name.
type Case = (String, Vec<(&'static str, &'static str)>, &'static str);

#[test]
fn errors_name_the_key() {
    let cases: Vec<Case> = vec![
        (
            MINIMAL.replace("client_id = \"c\"", "clinet_id = \"c\""),
            vec![],
            "tenants.acme.pageup.clinet_id",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_TENANTS__ACME__PAGEUP__ENV", "prod")],
            "tenants.acme.pageup.env",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_TENANTS__ACME__POLL_INTERVAL_SECS", "soon")],
            "tenants.acme.poll_interval_secs",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_TENANTS__ACME__POLL_INTERVAL_SECS", "1")],
            "tenants.acme.poll_interval_secs",
        ),
        (
            MINIMAL.to_owned(),
            vec![(
                "CHECKBRIDGE_SERVICE__PUBLIC_BASE_URL",
                "http://cb.example.com",
            )],
            "service.public_base_url",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_SERVICE__DATABASE_URL", "mysql://x")],
            "service.database_url",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_SERVICE__LISTEN", "everywhere")],
            "service.listen",
        ),
        (
            MINIMAL.to_owned(),
            vec![(
                "CHECKBRIDGE_TENANTS__ACME__BUSINESS__POSITION_LEVEL",
                "JUNIOR",
            )],
            "tenants.acme.business.position_level",
        ),
        (
            MINIMAL.to_owned(),
            vec![(
                "CHECKBRIDGE_TENANTS__ACME__CHECKS__PACKAGES__NCC001",
                "REFERENCE",
            )],
            "tenants.acme.checks.packages.NCC001",
        ),
        (
            MINIMAL.to_owned(),
            vec![(
                "CHECKBRIDGE_TENANTS__ACME__FIELDS__CANDIDATE.SHOE_SIZE",
                "/x",
            )],
            "tenants.acme.fields.candidate.shoe_size",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_TENANTS__ACME__PAGEUP__LIST_URL", "not a url")],
            "tenants.acme.pageup.list_url",
        ),
        (
            MINIMAL.to_owned(),
            vec![("CHECKBRIDGE_TENANTS__ACME__THEARY__API_BASE", "ftp://x")],
            "tenants.acme.theary.api_base",
        ),
        (
            MINIMAL.replace("[tenants.acme", "[tenants.Acme"),
            vec![],
            "tenants.Acme",
        ),
        (
            format!("{MINIMAL}\n[tenants.acme.checks.report_types]\nEMPLOYMENT = \"\"\n"),
            vec![],
            "tenants.acme.checks.report_types.EMPLOYMENT",
        ),
    ];
    for (text, vars, expected) in cases {
        let err = load_text(&text, &vars).unwrap_err();
        let message = err.to_string();
        assert_eq!(key_of(err), expected, "{vars:?}: {message}");
    }
}

/// The checks each section makes of itself, beyond what its types refuse.
#[test]
fn each_sections_own_checks_name_the_key() {
    let cases = [
        (
            "CHECKBRIDGE_SERVICE__CONCURRENCY",
            "0",
            "service.concurrency",
        ),
        (
            "CHECKBRIDGE_SERVICE__RECONCILE_AFTER_SECS",
            "0",
            "service.reconcile_after_secs",
        ),
        (
            "CHECKBRIDGE_SERVICE__ROLES__POLLER",
            "maybe",
            "service.roles.poller",
        ),
        (
            "CHECKBRIDGE_HEALTH__WINDOW_HOURS",
            "0",
            "health.window_hours",
        ),
        (
            "CHECKBRIDGE_HEALTH__FAILURE_PERCENT",
            "101",
            "health.failure_percent",
        ),
        (
            "CHECKBRIDGE_ALERTS__WEBHOOK_URL",
            "ftp://x",
            "alerts.webhook_url",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__RETENTION__RECORDS_DAYS",
            "1",
            "tenants.acme.retention.records_days",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__RESULTS__SEVERITY",
            " , ",
            "tenants.acme.results.severity",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__FIELDS__JOB.TITLE",
            "job/title",
            "tenants.acme.fields.job.title",
        ),
    ];
    for (var, value, expected) in cases {
        let err = load_text(MINIMAL, &[(var, value)]).unwrap_err();
        let message = err.to_string();
        assert_eq!(key_of(err), expected, "{var}={value:?}: {message}");
    }
}

#[test]
fn the_same_pageup_tenant_cannot_be_configured_twice() {
    let twice = format!(
        "{MINIMAL}{}",
        MINIMAL
            .replace(
                "[service]\npublic_base_url = \"https://cb.example.com\"\n",
                ""
            )
            .replace("tenants.acme", "tenants.acme_again")
    );
    let err = load_text(&twice, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("already configured as tenants.acme"),
        "{err}"
    );
}

#[test]
fn unreadable_and_malformed_files_are_reported_with_their_path() {
    let err = Config::load(Some(Path::new("/no/such/checkbridge.toml")), Vec::new()).unwrap_err();
    assert!(
        matches!(err, ConfigError::Read { .. })
            && err.to_string().contains("/no/such/checkbridge.toml")
    );
    let err = load_text("[service\npublic_base_url = 1", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Toml { .. }), "{err}");
}

#[test]
fn plain_http_is_only_for_this_machine_read_as_an_address() {
    let with_base = |url: &str| {
        MINIMAL.replace(
            "public_base_url = \"https://cb.example.com\"",
            &format!("public_base_url = \"{url}\""),
        )
    };
    for ok in [
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://127.0.0.1:8080",
        "http://127.10.20.30",
        "http://[::1]:8080",
        "https://127.attacker.example",
    ] {
        assert!(load_text(&with_base(ok), &[]).is_ok(), "{ok}");
    }
    for bad in [
        "http://127.attacker.example",
        "http://localhost.attacker.example",
        "http://128.0.0.1",
        "http://[::2]",
        "http://cb.example.com",
    ] {
        let err = load_text(&with_base(bad), &[]).unwrap_err();
        println!("{bad}: {err}");
        assert_eq!(key_of(err), "service.public_base_url", "{bad}");
    }
}

#[test]
fn every_outbound_url_is_https_unless_loopback() {
    let cases = [
        (
            "CHECKBRIDGE_TENANTS__ACME__PAGEUP__TOKEN_URL",
            "http://login.pageup.example/connect/token",
            "tenants.acme.pageup.token_url",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__PAGEUP__LIST_URL",
            "http://api.pageup.example/{tenant}/checks",
            "tenants.acme.pageup.list_url",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__PAGEUP__UPDATE_URL",
            "http://127.attacker.example/{tenant}/checks/{id}",
            "tenants.acme.pageup.update_url",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__THEARY__AUTH_URL",
            "http://auth.theary.example",
            "tenants.acme.theary.auth_url",
        ),
        (
            "CHECKBRIDGE_TENANTS__ACME__THEARY__API_BASE",
            "http://api.theary.example",
            "tenants.acme.theary.api_base",
        ),
        (
            "CHECKBRIDGE_ALERTS__WEBHOOK_URL",
            "http://hooks.example/T000/B000/secret-part",
            "alerts.webhook_url",
        ),
    ];
    for (var, url, key) in cases {
        let err = load_text(MINIMAL, &[(var, url)]).unwrap_err();
        let text = err.to_string();
        println!("{var}={url}: {text}");
        assert!(!text.contains("secret-part"), "{text}");
        assert_eq!(key_of(err), key);
        // The same on this machine is fine (the sandboxes, a local proxy).
        let local = url
            .split_once("://")
            .map(|(s, rest)| {
                let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
                format!("{s}://127.0.0.1:9/{path}")
            })
            .unwrap();
        assert!(load_text(MINIMAL, &[(var, &local)]).is_ok(), "{local}");
    }
}

#[test]
fn a_secret_of_the_wrong_type_is_not_echoed() {
    for (from, to, key) in [
        (
            "client_secret = \"s\"",
            "client_secret = 98765432123",
            "tenants.acme.pageup.client_secret",
        ),
        (
            "client_secret = \"ts\"",
            "client_secret = 98765432123",
            "tenants.acme.theary.client_secret",
        ),
    ] {
        let text = MINIMAL.replace(from, to);
        let err = load_text(&text, &[]).unwrap_err();
        let shown = err.to_string();
        println!("{shown}");
        assert!(!shown.contains("98765432123"), "{shown}");
        assert_eq!(key_of(err), key);
    }
    let text = format!("{MINIMAL}[http]\nmetrics_token = 12345678901234567890\n");
    let err = load_text(&text, &[]).unwrap_err();
    assert!(!err.to_string().contains("12345678901234567890"), "{err}");
}

#[test]
fn the_missing_file_error_says_the_os_reason_once() {
    let err = Config::load(Some(Path::new("/no/such/checkbridge.toml")), Vec::new()).unwrap_err();
    let shown = format!("{:#}", anyhow::Error::from(err));
    println!("{shown}");
    assert_eq!(shown.matches("No such file").count(), 1, "{shown}");
    assert!(shown.contains("/no/such/checkbridge.toml"));
}

#[test]
fn serves_checks_include_the_master_key() {
    let config = load_text(MINIMAL, &[]).unwrap();
    assert_eq!(
        key_of(config.check_for_serve().unwrap_err()),
        "service.master_key"
    );
    let config = load_text(
        MINIMAL,
        &[("CHECKBRIDGE_SERVICE__MASTER_KEY", "k1:definitely-not-a-key")],
    )
    .unwrap();
    let err = config.check_for_serve().unwrap_err();
    assert!(!err.to_string().contains("definitely-not-a-key"), "{err}");
    assert_eq!(key_of(err), "service.master_key");
    let key = format!("k1:{}", crate::crypto::Key::random().to_base64().as_str());
    let config = load_text(MINIMAL, &[("CHECKBRIDGE_SERVICE__MASTER_KEY", &key)]).unwrap();
    assert!(config.check_for_serve().is_ok());
}

#[test]
fn http_limits_are_checked() {
    for (var, value, key) in [
        (
            "CHECKBRIDGE_HTTP__MAX_HEADER_BYTES",
            "4096",
            "http.max_header_bytes",
        ),
        (
            "CHECKBRIDGE_HTTP__HEADER_TIMEOUT_SECS",
            "0",
            "http.header_timeout_secs",
        ),
        (
            "CHECKBRIDGE_HTTP__MAX_CONNECTIONS",
            "0",
            "http.max_connections",
        ),
        (
            "CHECKBRIDGE_HTTP__METRICS_TOKEN",
            "short",
            "http.metrics_token",
        ),
    ] {
        let err = load_text(MINIMAL, &[(var, value)]).unwrap_err();
        assert!(!err.to_string().contains("short"), "{err}");
        assert_eq!(key_of(err), key);
    }
    let c = load_text(MINIMAL, &[("CHECKBRIDGE_HTTP__BODY_TIMEOUT_SECS", "5")]).unwrap();
    assert_eq!(c.http.body_timeout_secs, 5);
}

#[test]
fn single_sign_on_is_checked_and_its_secret_comes_from_the_environment() {
    let sso = "[tenants.acme.sso]\nissuer = \"https://login.acme.example\"\nclient_id = \"cb\"\n";
    let secret = [(
        "CHECKBRIDGE_TENANTS__ACME__SSO__CLIENT_SECRET",
        "sso-secret-from-env",
    )];
    let ok = load_text(
        &format!("{MINIMAL}{sso}allowed_domains = [\"@Acme.Example\"]\n"),
        &secret,
    )
    .unwrap();
    let s = ok.tenants["acme"].sso.as_ref().unwrap();
    assert_eq!(s.allowed_domains, ["acme.example"]);
    assert_eq!(
        (s.username_claim.as_str(), s.groups_claim.as_str()),
        ("email", "groups")
    );
    assert_eq!(s.scopes, ["openid", "email", "profile"]);
    assert!(s.password_sign_in);
    assert!(!format!("{ok:?}").contains("sso-secret-from-env"));
    for (extra, vars, key) in [
        (
            "allowed_domains = [\"acme.example\"]\n",
            &[][..],
            "tenants.acme.sso.client_secret",
        ),
        ("", &secret[..], "tenants.acme.sso.allowed_domains"),
        (
            "allowed_domains = [\"not a domain\"]\n",
            &secret[..],
            "tenants.acme.sso.allowed_domains",
        ),
        (
            "required_group = \"r\"\nscopes = [\"email\"]\n",
            &secret[..],
            "tenants.acme.sso.scopes",
        ),
        (
            "required_group = \"r\"\ntimeout_secs = 0\n",
            &secret[..],
            "tenants.acme.sso.timeout_secs",
        ),
        (
            "required_group = \"r\"\nsign_in_timeout_secs = 1\n",
            &secret[..],
            "tenants.acme.sso.sign_in_timeout_secs",
        ),
    ] {
        let err = load_text(&format!("{MINIMAL}{sso}{extra}"), vars);
        match err {
            // A missing secret is named by the section's deserializer: key and field.
            Err(ConfigError::Invalid { key: k, why }) => assert!(
                k == key
                    || format!(
                        "{k}.{}",
                        why.trim_start_matches("missing field ").trim_matches('`')
                    ) == key,
                "{extra}: {k}: {why}"
            ),
            Err(e) if key.ends_with("client_secret") => {
                assert!(e.to_string().contains("client_secret"), "{e}")
            }
            other => panic!("{extra}: {other:?}"),
        }
    }
    let plain = load_text(
        &format!("{MINIMAL}[tenants.acme.sso]\nissuer = \"http://idp.example\"\nclient_id = \"cb\"\nrequired_group = \"r\"\n"),
        &secret,
    );
    assert_eq!(key_of(plain.unwrap_err()), "tenants.acme.sso.issuer");
}

#[test]
fn an_intake_mapping_compiles_at_load_and_its_errors_name_tenant_file_and_place() {
    let with = |extra: &str| format!("{MINIMAL}[tenants.acme.intake]\n{extra}\n");
    let config = load_text(&with("profile = \"backgroundcheckrequest\""), &[]).unwrap();
    let mapping = config.tenants["acme"].mapping.as_ref().unwrap();
    assert_eq!(mapping.origin.to_string(), "profile backgroundcheckrequest");
    // Set through the environment, like any key.
    let config = load_text(
        MINIMAL,
        &[("CHECKBRIDGE_TENANTS__ACME__INTAKE__PROFILE", "assumed")],
    )
    .unwrap();
    assert!(config.tenants["acme"].mapping.is_some());
    assert!(load_text(MINIMAL, &[]).unwrap().tenants["acme"]
        .mapping
        .is_none());

    let err = load_text(&with("profile = \"bcr\""), &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "config key tenants.acme.intake.profile: \"bcr\" is not a built-in profile; known: assumed, backgroundcheckrequest"
    );
    let err = load_text(&with("program = '{id: .a,'"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config key tenants.acme.intake.program: inline program does not compile: line 1, column "),
        "{err}"
    );

    // A file is found next to the configuration file, and its errors name it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acme.jq"),
        "# acme\n{id: .ref,\n  candidate: ( }\n",
    )
    .unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, with("mapping = \"acme.jq\"")).unwrap();
    let err = Config::load(Some(&path), Vec::new())
        .unwrap_err()
        .to_string();
    let file = dir.path().join("acme.jq");
    assert!(
        err.starts_with(&format!(
            "config key tenants.acme.intake.mapping: mapping file {} does not compile: line 3, column ",
            file.display()
        )),
        "{err}"
    );
    std::fs::write(dir.path().join("acme.jq"), "{id: .ref}\n").unwrap();
    let config = Config::load(Some(&path), Vec::new()).unwrap();
    assert!(config.tenants["acme"].mapping.is_some());
    let err = load_text(&with("mapping = \"x.jq\"\nprofile = \"assumed\""), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("name one of profile, mapping or program"),
        "{err}"
    );
}

fn mail_section(body: &str) -> String {
    format!("{MINIMAL}\n[mail]\nfrom = \"Acme Checks <checks@acme.example>\"\n{body}\n")
}

#[test]
fn mail_defaults_to_starttls_on_587_and_reads_the_password_from_the_environment() {
    let config = load_text(
        &mail_section("host = \"smtp.example.com\"\nusername = \"mailer\""),
        &[("CHECKBRIDGE_MAIL__PASSWORD", "pw-from-env-123")],
    )
    .unwrap();
    let settings = config.mail.as_ref().unwrap().settings().unwrap();
    assert_eq!(settings.tls, MailTls::Starttls);
    assert_eq!(settings.port, 587);
    assert_eq!(settings.from.email.to_string(), "checks@acme.example");
    assert_eq!(settings.timeout.as_secs(), 30);
    let (user, password) = settings.credentials.as_ref().unwrap();
    assert_eq!(user, "mailer");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(password),
        "pw-from-env-123"
    );
    for text in [
        format!("{config:?}"),
        format!("{settings:?}"),
        config.summary(),
    ] {
        assert!(
            !text.contains("pw-from-env-123"),
            "the password was printed: {text}"
        );
    }
    assert!(config
        .summary()
        .contains("mail: via smtp.example.com:587 (starttls)"));
}

#[test]
fn mail_smtp_urls_choose_tls_and_port() {
    let config = load_text(
        &mail_section("smtp_url = \"smtps://smtp.example.com\""),
        &[],
    )
    .unwrap();
    let s = config.mail.unwrap().settings().unwrap();
    assert_eq!((s.tls, s.port), (MailTls::Tls, 465));
    let config = load_text(
        &mail_section("smtp_url = \"smtp://127.0.0.1:2525\"\ntls = \"none\""),
        &[],
    )
    .unwrap();
    let s = config.mail.unwrap().settings().unwrap();
    assert_eq!(
        (s.tls, s.port, s.host.as_str()),
        (MailTls::None, 2525, "127.0.0.1")
    );
    let config = load_text(
        &mail_section("host = \"::1\"\ntls = \"none\""),
        &[("CHECKBRIDGE_MAIL__PORT", "2526")],
    )
    .unwrap();
    assert_eq!(config.mail.unwrap().settings().unwrap().port, 2526);
}

#[test]
fn bad_mail_settings_are_refused_naming_the_key() {
    for (body, key) in [
        ("host = \"smtp.example.com\"\ntls = \"ssl\"", "mail.tls"),
        ("host = \"smtp.example.com\"\ntls = \"none\"", "mail.tls"),
        (
            "host = \"127.attacker.example\"\ntls = \"none\"",
            "mail.tls",
        ),
        (
            "smtp_url = \"smtp://smtp.example.com\"\ntls = \"none\"",
            "mail.tls",
        ),
        (
            "smtp_url = \"smtps://smtp.example.com\"\ntls = \"starttls\"",
            "mail.tls",
        ),
        (
            "smtp_url = \"smtp://smtp.example.com\"\ntls = \"tls\"",
            "mail.tls",
        ),
        ("smtp_url = \"http://smtp.example.com\"", "mail.smtp_url"),
        (
            "smtp_url = \"smtp://u:hunter2@smtp.example.com\"",
            "mail.smtp_url",
        ),
        (
            "smtp_url = \"smtp://a.example\"\nhost = \"b.example\"",
            "mail.host",
        ),
        ("port = 25", "mail.host"),
        ("host = \"smtp.example.com\"\nport = 70000", "mail.port"),
        ("host = \"smtp.example.com\"\nport = 0", "mail.port"),
        (
            "host = \"smtp.example.com\"\nusername = \"u\"",
            "mail.password",
        ),
        (
            "host = \"smtp.example.com\"\npassword = \"p\"",
            "mail.username",
        ),
        (
            "host = \"smtp.example.com\"\ntimeout_secs = 0",
            "mail.timeout_secs",
        ),
        ("host = \"smtp.example.com\"\nsurprise = 1", "mail.surprise"),
    ] {
        let err = load_text(&mail_section(body), &[]).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(key_of(err), key, "{body}");
    }
    let no_from = format!("{MINIMAL}\n[mail]\nhost = \"smtp.example.com\"\n");
    assert_eq!(key_of(load_text(&no_from, &[]).unwrap_err()), "mail.from");
    let bad_from =
        format!("{MINIMAL}\n[mail]\nhost = \"smtp.example.com\"\nfrom = \"not an address\"\n");
    assert_eq!(key_of(load_text(&bad_from, &[]).unwrap_err()), "mail.from");
    // An unquoted number as the password: refused without echoing it.
    let err = load_text(
        &mail_section("host = \"smtp.example.com\"\nusername = \"u\"\npassword = 987654321"),
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("987654321"), "{err}");
}

#[test]
fn the_candidate_section_has_defaults_reads_the_environment_and_names_bad_keys() {
    use crate::config::CandidateIntake;
    let config = load_text(MINIMAL, &[]).unwrap();
    let c = &config.tenants["acme"].candidate;
    assert_eq!(c.intake, CandidateIntake::WhenNeeded);
    assert_eq!(
        (c.address_years, c.reminder_days.clone(), c.expiry_days),
        (7, vec![2, 5], 7)
    );
    assert!(c.templates.is_none());

    let text =
        format!("{MINIMAL}[tenants.acme.candidate]\nintake = \"always\"\ntemplates = \"legal\"\n");
    let config = load_text(
        &text,
        &[(
            "CHECKBRIDGE_TENANTS__ACME__CANDIDATE__REMINDER_DAYS",
            "1, 3",
        )],
    )
    .unwrap();
    let c = &config.tenants["acme"].candidate;
    assert_eq!(c.intake, CandidateIntake::Always);
    assert_eq!(c.reminder_days, vec![1, 3]);
    let dir = c.templates.as_ref().unwrap();
    assert!(dir.is_absolute() && dir.ends_with("legal"), "{dir:?}");

    for (body, key) in [
        ("intake = \"sometimes\"", "tenants.acme.candidate.intake"),
        ("address_years = 0", "tenants.acme.candidate.address_years"),
        ("expiry_days = 0", "tenants.acme.candidate.expiry_days"),
        (
            "reminder_days = [5, 2]",
            "tenants.acme.candidate.reminder_days",
        ),
        (
            "reminder_days = [0]",
            "tenants.acme.candidate.reminder_days",
        ),
        (
            "expiry_days = 3\nreminder_days = [2, 5]",
            "tenants.acme.candidate.reminder_days",
        ),
    ] {
        let text = format!("{MINIMAL}[tenants.acme.candidate]\n{body}\n");
        let err = load_text(&text, &[]).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(key), "{body}: {shown}");
    }
}
