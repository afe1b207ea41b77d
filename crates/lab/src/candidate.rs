//! A candidate at a keyboard, for the demo: reads the invitation mails the mail sandbox
//! received and fills the candidate form over real HTTP, step by step, as a browser without
//! JavaScript posts it (with the form's CSRF cookie).

use anyhow::Context as _;
use serde_json::Value;

/// What the candidate types.
#[derive(Debug, Clone)]
pub struct Answers {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
    pub ssn: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    /// `YYYY-MM` the candidate moved in.
    pub since: String,
    pub employer: String,
    pub position: String,
    /// `YYYY-MM` the job began (still there).
    pub started: String,
}

impl Answers {
    /// Plausible answers for person `index` named `first last` (SSNs the SSA could issue).
    pub fn for_person(first: &str, last: &str, index: usize) -> Answers {
        Answers {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            date_of_birth: format!("19{}-0{}-1{}", 70 + index % 25, 1 + index % 9, index % 10),
            ssn: format!(
                "{:03}-{:02}-{:04}",
                201 + index % 500,
                10 + index % 80,
                1000 + index
            ),
            street: format!("{} Elm Street", 10 + index),
            city: "Austin".into(),
            state: "TX".into(),
            zip: "73301".into(),
            since: "2014-06".into(),
            employer: "Northwind Traders".into(),
            position: "Analyst".into(),
            started: "2019-02".into(),
        }
    }
}

/// The service's `[mail]` for a mail sandbox listening for SMTP on `smtp` (on this machine,
/// so without TLS), with AUTH as `(user, password)` when given.
pub fn mail_config(
    smtp: std::net::SocketAddr,
    auth: Option<(&str, &str)>,
) -> checkbridge::config::MailConfig {
    checkbridge::config::MailConfig {
        smtp_url: None,
        host: Some(smtp.ip().to_string()),
        port: Some(u64::from(smtp.port())),
        tls: Some(checkbridge::config::MailTls::None),
        username: auth.map(|(u, _)| u.to_owned()),
        password: auth.map(|(_, p)| p.to_owned().into()),
        from: Some("Background checks <checks@checkbridge.example>".into()),
        timeout_secs: 10,
    }
}

/// An HTTP client as a candidate's browser without JavaScript: redirects are followed by
/// hand (each step answers 303 to the next).
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// The candidate-form links in the mails the mail sandbox at `mail_base` holds, with the
/// address each went to (the first mail per address).
pub async fn invitation_links(
    http: &reqwest::Client,
    mail_base: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let list: Vec<Value> = http
        .get(format!("{mail_base}/messages"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut out: Vec<(String, String)> = Vec::new();
    for m in list {
        let to = m["to"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .or_else(|| m["to"].as_str())
            .unwrap_or("")
            .to_owned();
        let link = m["text"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .find(|w| w.contains("/candidate/"))
            .map(str::to_owned);
        if let Some(link) = link {
            if !out.iter().any(|(t, _)| t == &to) {
                out.push((to, link));
            }
        }
    }
    Ok(out)
}

struct Visit<'a> {
    http: &'a reqwest::Client,
    base: String,
    csrf: String,
}

impl Visit<'_> {
    async fn get(&mut self, path: &str) -> anyhow::Result<()> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await?;
        if let Some(c) = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("cb_candidate_csrf="))
        {
            self.csrf = c.split(';').next().unwrap_or("").to_owned();
        }
        anyhow::ensure!(
            r.status().is_success() || r.status().is_redirection(),
            "GET {path} answered {}",
            r.status()
        );
        Ok(())
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<u16> {
        let mut form = fields.to_vec();
        form.push(("csrf", &self.csrf));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                reqwest::header::COOKIE,
                format!("cb_candidate_csrf={}", self.csrf),
            )
            .form(&form)
            .send()
            .await?;
        Ok(r.status().as_u16())
    }
}

/// Fills the form behind `link` with `a`, through to the e-signature.
pub async fn fill(http: &reqwest::Client, link: &str, a: &Answers) -> anyhow::Result<()> {
    let url = url::Url::parse(link).context("the mailed link")?;
    let base = format!(
        "{}://{}",
        url.scheme(),
        url.host_str()
            .zip(url.port_or_known_default())
            .map(|(h, p)| format!("{h}:{p}"))
            .unwrap_or_default()
    );
    let path = url.path().to_owned();
    let mut v = Visit {
        http,
        base,
        csrf: String::new(),
    };
    let step = |s: &str| format!("{path}/{s}");
    let signature = format!("{} {}", a.first_name, a.last_name);
    let steps: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "personal",
            vec![
                ("first_name", &a.first_name),
                ("last_name", &a.last_name),
                ("date_of_birth", &a.date_of_birth),
                ("ssn", &a.ssn),
                ("ssn_confirm", &a.ssn),
            ],
        ),
        (
            "addresses",
            vec![
                ("addr_rows", "1"),
                ("addr_0_street", &a.street),
                ("addr_0_city", &a.city),
                ("addr_0_state", &a.state),
                ("addr_0_zip", &a.zip),
                ("addr_0_from", &a.since),
                ("current", "0"),
            ],
        ),
        (
            "history",
            vec![
                ("emp_rows", "1"),
                ("emp_0_employer", &a.employer),
                ("emp_0_position", &a.position),
                ("emp_0_city", &a.city),
                ("emp_0_state", &a.state),
                ("emp_0_start", &a.started),
                ("emp_0_current", "yes"),
                ("edu_rows", "1"),
            ],
        ),
        ("disclosure", vec![("acknowledge", "yes")]),
        (
            "authorization",
            vec![("signature", &signature), ("consent", "yes")],
        ),
    ];
    for (name, fields) in steps {
        v.get(&step(name)).await?;
        let status = v.post(&step(name), &fields).await?;
        anyhow::ensure!(
            status == 303 || (name == "authorization" && status == 200),
            "the {name} step answered {status}"
        );
    }
    Ok(())
}
