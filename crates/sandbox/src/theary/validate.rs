//! Create-order validation as Theary documents it, with class-validator style messages. Every
//! problem is collected, so one 400 lists them all.

use serde_json::{Map, Value};

/// Event types a webhook target may subscribe to.
pub const EVENTS: [&str; 3] = [
    "verification.completed",
    "verification.action_required",
    "verification.notification",
];

pub struct Rules {
    pub legacy_criminal: bool,
    pub allow_http_loopback: bool,
}

struct V<'a> {
    rules: &'a Rules,
    problems: Vec<String>,
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

fn is_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b.iter().enumerate().all(|(i, c)| {
            if i == 3 || i == 6 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(' ')
        }
        _ => false,
    }
}

/// `path.key`, or the bare `key` at the top of a message's path.
fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl V<'_> {
    fn push(&mut self, m: String) {
        self.problems.push(m);
    }

    fn obj<'v>(
        &mut self,
        parent: &'v Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        match parent.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.push(format!("{path} should not be empty"));
                }
                None
            }
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                self.push(format!("{path} must be an object"));
                None
            }
        }
    }

    fn string<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<&'v str> {
        match o.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.push(format!("{} should not be empty", at(path, key)));
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                if required {
                    self.push(format!("{} should not be empty", at(path, key)));
                }
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.push(format!("{} must be a string", at(path, key)));
                None
            }
        }
    }

    fn date(&mut self, o: &Map<String, Value>, key: &str, path: &str, required: bool) {
        if let Some(s) = self.string(o, key, path, required) {
            if !is_date(s) {
                self.push(format!(
                    "{} must be a valid date in YYYY-MM-DD format",
                    at(path, key)
                ));
            }
        }
    }

    fn email(&mut self, o: &Map<String, Value>, key: &str, path: &str) {
        if let Some(s) = self.string(o, key, path, false) {
            if !is_email(s) {
                self.push(format!("{} must be an email", at(path, key)));
            }
        }
    }

    fn two_letters(&mut self, o: &Map<String, Value>, key: &str, path: &str, required: bool) {
        if let Some(s) = self.string(o, key, path, required) {
            if s.chars().count() != 2 {
                self.push(format!("{} must be exactly 2 characters", at(path, key)));
            }
        }
    }

    fn array<'v>(&mut self, o: &'v Map<String, Value>, key: &str, path: &str) -> &'v [Value] {
        match o.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.push(format!("{} must be an array", at(path, key)));
                &[]
            }
        }
    }

    fn url(&mut self, url: &str, path: &str) {
        let ok = match url::Url::parse(url) {
            Ok(u) if u.scheme() == "https" && u.host().is_some() => true,
            Ok(u) if u.scheme() == "http" && self.rules.allow_http_loopback => {
                matches!(u.host_str(), Some("localhost") | Some("[::1]"))
                    || u.host_str().is_some_and(|h| h.starts_with("127."))
            }
            _ => false,
        };
        if !ok {
            self.push(format!("{path} must be a valid HTTPS URL"));
        }
    }

    fn applicant(&mut self, body: &Map<String, Value>) {
        let Some(a) = self.obj(body, "applicant", "applicant", true) else {
            return;
        };
        let p = "applicant";
        self.string(a, "firstName", p, true);
        self.string(a, "lastName", p, true);
        if let Some(ssn) = self.string(a, "ssn", p, true) {
            if !is_ssn(ssn) {
                self.push("applicant.ssn must match XXX-XX-XXXX format".to_owned());
            }
        }
        self.date(a, "birthday", p, false);
        self.string(a, "phone", p, false);
        self.email(a, "email", p);
        if let Some(release) = self.string(a, "signedReleaseFileUrl", p, false) {
            let is_url = release.starts_with("https://") || release.starts_with("http://");
            if is_url {
                self.url(release, "applicant.signedReleaseFileUrl");
            } else if !release.starts_with("gs://") {
                let b64 = release.split_once(";base64,").map_or(release, |(_, b)| b);
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                    Ok(bytes) if bytes.starts_with(b"%PDF") && bytes.len() <= 10 * 1024 * 1024 => {}
                    Ok(bytes) if bytes.len() > 10 * 1024 * 1024 => {
                        self.push("applicant.signedReleaseFileUrl must be a PDF of at most 10 MB".to_owned())
                    }
                    _ => self.push(
                        "applicant.signedReleaseFileUrl must be an HTTPS URL, a gs:// URI or a base64-encoded PDF".to_owned(),
                    ),
                }
            }
        }
        let addresses = self.array(a, "addresses", p);
        let mut current = 0;
        for (i, addr) in addresses.iter().enumerate() {
            let path = format!("applicant.addresses.{i}");
            let Some(o) = addr.as_object() else {
                self.push(format!("{path} must be an object"));
                continue;
            };
            for key in ["addressType", "addressLine1", "addressCity"] {
                self.string(o, key, &path, true);
            }
            self.two_letters(o, "addressState", &path, true);
            if let Some(zip) = self.string(o, "addressZipCode", &path, true) {
                if zip.chars().count() > 10 {
                    self.push(format!(
                        "{path}.addressZipCode must be shorter than or equal to 10 characters"
                    ));
                }
            }
            self.two_letters(o, "addressCountry", &path, false);
            self.date(o, "startDate", &path, true);
            self.date(o, "endDate", &path, false);
            if o.get("endDate").is_none_or(Value::is_null) {
                current += 1;
            }
        }
        if !addresses.is_empty() && current != 1 {
            self.push(
                "applicant.addresses must have exactly one current address (endDate null)"
                    .to_owned(),
            );
        }
        for (i, alias) in self.array(a, "applicantAlias", p).iter().enumerate() {
            let path = format!("applicant.applicantAlias.{i}");
            match alias.as_object() {
                Some(o) => {
                    self.string(o, "firstName", &path, true);
                    self.string(o, "lastName", &path, true);
                }
                None => self.push(format!("{path} must be an object")),
            }
        }
    }

    fn business(&mut self, body: &Map<String, Value>) {
        let Some(b) = self.obj(body, "businessContext", "businessContext", true) else {
            return;
        };
        // Theary reports these without the `businessContext.` prefix
        // ("entityName should not be empty", "proposedSalary must be a number").
        let p = "";
        self.string(b, "entityName", p, true);
        self.string(b, "appliedJobTitle", p, true);
        self.string(b, "worksiteCity", p, true);
        self.two_letters(b, "worksiteState", p, true);
        match b.get("proposedSalary") {
            None | Some(Value::Null) => self.push("proposedSalary should not be empty".to_owned()),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|v| v < 0.0) => {
                self.push("proposedSalary must not be less than 0".to_owned())
            }
            Some(Value::Number(_)) => {}
            Some(_) => self.push("proposedSalary must be a number".to_owned()),
        }
        if let Some(level) = self.string(b, "positionLevel", p, false) {
            if !["EXECUTIVE", "STANDARD", "SENSITIVE"].contains(&level) {
                self.push("positionLevel must be one of the following values: EXECUTIVE, STANDARD, SENSITIVE".to_owned());
            }
        }
        if b.get("securityClearanceRequired")
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            self.push("securityClearanceRequired must be a boolean value".to_owned());
        }
        self.string(b, "industrySector", p, false);
    }

    fn searches(&mut self, body: &Map<String, Value>) {
        let allowed: &[&str] = if self.rules.legacy_criminal {
            &["EMPLOYMENT", "EDUCATION", "CRIMINAL"]
        } else {
            &["EMPLOYMENT", "EDUCATION"]
        };
        let searches = match body.get("searchTypes") {
            Some(Value::Array(a)) if !a.is_empty() => a.as_slice(),
            Some(Value::Array(_)) => {
                self.push("searchTypes must contain at least 1 elements".to_owned());
                &[]
            }
            None | Some(Value::Null) => {
                self.push("searchTypes should not be empty".to_owned());
                &[]
            }
            Some(_) => {
                self.push("searchTypes must be an array".to_owned());
                &[]
            }
        };
        let mut criminal = false;
        for (i, s) in searches.iter().enumerate() {
            let path = format!("searchTypes.{i}");
            let Some(o) = s.as_object() else {
                self.push(format!("{path} must be an object"));
                continue;
            };
            if let Some(t) = self.string(o, "searchType", &path, true) {
                if matches!(t, "CRIMINAL" | "REFERENCE") && !allowed.contains(&t) {
                    self.push(format!("{path}.searchType {t} is not accepted: CRIMINAL, REFERENCE, criminalCheck and history.criminal are not supported"));
                } else if !allowed.contains(&t) {
                    self.push(format!(
                        "{path}.searchType must be one of the following values: {}",
                        allowed.join(", ")
                    ));
                }
                criminal |= t == "CRIMINAL";
            }
            self.string(o, "externalSearchId", &path, false);
            self.string(o, "questionnaireUrl", &path, false);
            self.string(o, "questionnaireAccessCode", &path, false);
            let cfg_path = format!("{path}.searchConfig");
            if let Some(cfg) = self.obj(o, "searchConfig", &cfg_path, false) {
                self.search_config(cfg, &cfg_path);
            }
        }
        if let Some(cfg) = self.obj(body, "defaultSearchConfig", "defaultSearchConfig", false) {
            self.search_config(cfg, "defaultSearchConfig");
        }
        let check = body.get("criminalCheck").filter(|v| !v.is_null());
        if self.rules.legacy_criminal {
            let jurisdictions = check
                .and_then(|c| c.get("jurisdictions"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if criminal && !jurisdictions {
                self.push("Criminal check jurisdictions are required when requesting criminal background checks".to_owned());
            }
            // The jurisdiction's shape was never published: the sandbox takes any object
            // that says something, and refuses what cannot be one.
            let listed = check
                .and_then(|c| c.get("jurisdictions"))
                .and_then(Value::as_array);
            for (i, j) in listed.into_iter().flatten().enumerate() {
                if j.as_object().is_none_or(|o| o.is_empty()) {
                    self.push(format!(
                        "criminalCheck.jurisdictions.{i} must be a non-empty object"
                    ));
                }
            }
            if let Some(state) = check.and_then(|c| c.get("worksiteState")) {
                if state.as_str().is_none_or(|s| s.len() != 2) {
                    self.push(
                        "criminalCheck.worksiteState must be a two-letter state code".to_owned(),
                    );
                }
            }
        } else if check.is_some() {
            self.push("criminalCheck is not accepted: CRIMINAL, REFERENCE, criminalCheck and history.criminal are not supported".to_owned());
        }
    }

    fn history(&mut self, body: &Map<String, Value>) {
        let Some(h) = self.obj(body, "history", "history", false) else {
            return;
        };
        for (i, e) in self.array(h, "employment", "history").iter().enumerate() {
            let path = format!("history.employment.{i}");
            let Some(o) = e.as_object() else {
                self.push(format!("{path} must be an object"));
                continue;
            };
            self.string(o, "employerName", &path, true);
            self.string(o, "position", &path, true);
            self.string(o, "employerLocation", &path, false);
            self.email(o, "employerEmail", &path);
            self.string(o, "employerPhone", &path, false);
            self.date(o, "startDate", &path, false);
            self.date(o, "endDate", &path, false);
        }
        for (i, e) in self.array(h, "education", "history").iter().enumerate() {
            let path = format!("history.education.{i}");
            let Some(o) = e.as_object() else {
                self.push(format!("{path} must be an object"));
                continue;
            };
            for key in ["institutionName", "qualification", "fieldOfStudy"] {
                self.string(o, key, &path, true);
            }
            self.date(o, "graduationDate", &path, true);
            self.email(o, "institutionContactEmail", &path);
            self.string(o, "institutionContactPhone", &path, false);
        }
        if h.get("criminal").is_some_and(|v| !v.is_null()) && !self.rules.legacy_criminal {
            self.push("history.criminal is not accepted: CRIMINAL, REFERENCE, criminalCheck and history.criminal are not supported".to_owned());
        }
    }

    fn endpoints(&mut self, v: &Value, path: &str, fallback: bool) {
        match v {
            Value::String(url) => self.url(url, path),
            Value::Object(t) => self.target(t, path, fallback),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_object() {
                        Some(t) => self.target(t, &format!("{path}.{i}"), fallback),
                        None => self.push(format!("{path}.{i} must be a webhook target object")),
                    }
                }
            }
            _ => self.push(format!(
                "{path} must be a URL, a webhook target or a list of targets"
            )),
        }
    }

    fn target(&mut self, t: &Map<String, Value>, path: &str, fallback: bool) {
        match t.get("url").and_then(Value::as_str) {
            Some(url) => self.url(url, &format!("{path}.url")),
            None => self.push(format!("{path}.url should not be empty")),
        }
        if let Some(events) = t.get("events").filter(|v| !v.is_null()) {
            let ok = events.as_array().is_some_and(|a| {
                a.iter()
                    .all(|e| e.as_str().is_some_and(|e| EVENTS.contains(&e)))
            });
            if !ok {
                self.push(format!(
                    "{path}.events must contain only: {}",
                    EVENTS.join(", ")
                ));
            }
        }
        if let Some(types) = t.get("searchTypes").filter(|v| !v.is_null()) {
            let ok = fallback
                && types.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|e| matches!(e.as_str(), Some("EMPLOYMENT" | "EDUCATION")))
                });
            if !ok {
                self.push(format!("{path}.searchTypes must contain only: EMPLOYMENT, EDUCATION (fallback targets only)"));
            }
        }
        if let Some(auth) = t.get("basicAuth").filter(|v| !v.is_null()) {
            let ok = auth.get("username").and_then(Value::as_str).is_some()
                && auth.get("password").and_then(Value::as_str).is_some();
            if !ok {
                self.push(format!(
                    "{path}.basicAuth must have a username and a password"
                ));
            }
        }
        if t.get("headers").is_some_and(|h| {
            !h.is_null()
                && !h
                    .as_object()
                    .is_some_and(|m| m.values().all(Value::is_string))
        }) {
            self.push(format!("{path}.headers must be an object of strings"));
        }
    }

    /// A list of strings of at most `max` entries; `None` when absent.
    fn strings(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        path: &str,
        max: usize,
    ) -> Option<Vec<String>> {
        let v = o.get(key).filter(|v| !v.is_null())?;
        let p = at(path, key);
        match v.as_array() {
            Some(a) if a.iter().all(Value::is_string) => {
                if a.len() > max {
                    self.push(format!("{p} must contain no more than {max} elements"));
                }
                Some(
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect(),
                )
            }
            _ => {
                self.push(format!("{p} must be an array of strings"));
                None
            }
        }
    }

    fn boolean(&mut self, o: &Map<String, Value>, key: &str, path: &str) {
        if o.get(key).is_some_and(|v| !v.is_null() && !v.is_boolean()) {
            self.push(format!("{} must be a boolean value", at(path, key)));
        }
    }

    /// A whole number of at least 1, when present.
    fn minutes(&mut self, o: &Map<String, Value>, key: &str, path: &str) {
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_f64().is_some_and(|v| v >= 1.0) => {}
            Some(Value::Number(_)) => {
                self.push(format!("{} must not be less than 1", at(path, key)))
            }
            Some(_) => self.push(format!("{} must be a number", at(path, key))),
        }
    }

    /// `SearchConfigDto` (a search's `searchConfig` or the order's `defaultSearchConfig`),
    /// by the rules of Theary's search-config reference. Only the webhook override changes
    /// what the sandbox does; the other sections are checked, then have no effect.
    fn search_config(&mut self, cfg: &Map<String, Value>, path: &str) {
        if let Some(ban) = self.strings(cfg, "thirdPartyBan", path, 50) {
            if ban.iter().any(|c| c.trim().eq_ignore_ascii_case("UNKNOWN")) {
                self.push(format!("{path}.thirdPartyBan must not contain UNKNOWN"));
            }
        }
        let channels_path = format!("{path}.channels");
        if let Some(ch) = self.obj(cfg, "channels", &channels_path, false) {
            for key in ["email", "voice", "fax"] {
                self.boolean(ch, key, &channels_path);
            }
            if let Some(p) = self.string(ch, "preferredChannel", &channels_path, false) {
                if !["EMAIL", "VOICE", "FAX"].contains(&p) {
                    self.push(format!("{channels_path}.preferredChannel must be one of the following values: EMAIL, VOICE, FAX"));
                }
            }
            let blocked = self.strings(ch, "blockedDestinations", &channels_path, 100);
            let allowed = self.strings(ch, "allowedDestinations", &channels_path, 100);
            if blocked.is_some_and(|b| !b.is_empty()) && allowed.is_some_and(|a| !a.is_empty()) {
                self.push(format!("{channels_path}.blockedDestinations and allowedDestinations cannot both be set"));
            }
        }
        let timing_path = format!("{path}.timing");
        if let Some(t) = self.obj(cfg, "timing", &timing_path, false) {
            self.minutes(t, "searchSlaMinutes", &timing_path);
            self.minutes(t, "outboundWindowMinutes", &timing_path);
            let hours_path = format!("{timing_path}.businessHours");
            if let Some(h) = self.obj(t, "businessHours", &hours_path, false) {
                self.string(h, "timezone", &hours_path, false);
                let hhmm = |s: &str| {
                    let b = s.as_bytes();
                    b.len() == 5
                        && b[2] == b':'
                        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
                        && s[3..].parse::<u8>().is_ok_and(|m| m < 60)
                };
                let mut times = Vec::new();
                for key in ["startTime", "endTime"] {
                    if let Some(v) = self.string(h, key, &hours_path, false) {
                        if hhmm(v) {
                            times.push(v.to_owned());
                        } else {
                            self.push(format!("{hours_path}.{key} must be in HH:mm format"));
                        }
                    }
                }
                if let [start, end] = times.as_slice() {
                    if start >= end {
                        self.push(format!("{hours_path}.startTime must be before endTime"));
                    }
                }
                if let Some(days) = h.get("allowedDays").filter(|v| !v.is_null()) {
                    let ok = days
                        .as_array()
                        .is_some_and(|a| a.iter().all(|d| d.as_u64().is_some_and(|d| d <= 7)));
                    if !ok {
                        self.push(format!(
                            "{hours_path}.allowedDays must be an array of day numbers"
                        ));
                    }
                }
            }
        }
        let outbound_path = format!("{path}.outbound");
        let mut hints = 0;
        if let Some(o) = self.obj(cfg, "outbound", &outbound_path, false) {
            let list = self.array(o, "contactHints", &outbound_path);
            hints = list.len();
            for (i, hint) in list.iter().enumerate() {
                let hp = format!("{outbound_path}.contactHints.{i}");
                let has = |k: &str| {
                    hint.get(k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.trim().is_empty())
                };
                if !hint.is_object() {
                    self.push(format!("{hp} must be an object"));
                } else if !["email", "phone", "fax", "thirdPartyVendor"]
                    .iter()
                    .any(|k| has(k))
                {
                    self.push(format!(
                        "{hp} must have at least one of email, phone, fax or thirdPartyVendor"
                    ));
                }
            }
        }
        let research_path = format!("{path}.research");
        if let Some(r) = self.obj(cfg, "research", &research_path, false) {
            self.boolean(r, "skipResearch", &research_path);
            if r.get("skipResearch") == Some(&Value::Bool(true)) && hints == 0 {
                self.push(format!("{research_path}.skipResearch requires at least one outbound.contactHints entry"));
            }
        }
        self.obj(cfg, "inbound", &format!("{path}.inbound"), false);
        let escalation_path = format!("{path}.escalation");
        if let Some(e) = self.obj(cfg, "escalation", &escalation_path, false) {
            self.boolean(e, "disableThirdPartyEvent", &escalation_path);
        }
        let qa_path = format!("{path}.qaDestinations");
        if let Some(q) = self.obj(cfg, "qaDestinations", &qa_path, false) {
            for key in ["email", "phone", "fax"] {
                self.string(q, key, &qa_path, false);
            }
        }
        let notifications_path = format!("{path}.notifications");
        if let Some(n) = self.obj(cfg, "notifications", &notifications_path, false) {
            let np = format!("{notifications_path}.webhookOverride");
            if let Some(w) = self.obj(n, "webhookOverride", &np, false) {
                self.webhook(w, &np);
            }
        }
    }

    fn webhook(&mut self, w: &Map<String, Value>, path: &str) {
        if w.get("enabled")
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            self.push(format!("{path}.enabled must be a boolean value"));
        }
        self.string(w, "secret", path, false);
        match w.get("retryAttempts") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v < 0.0 => {
                    self.push(format!("{path}.retryAttempts must not be less than 0"))
                }
                Some(v) if v > 10.0 => {
                    self.push(format!("{path}.retryAttempts must not be greater than 10"))
                }
                _ => {}
            },
            Some(_) => self.push(format!("{path}.retryAttempts must be a number")),
        }
        if let Some(c) = self.obj(
            w,
            "closeoutEndpoints",
            &format!("{path}.closeoutEndpoints"),
            false,
        ) {
            for (k, v) in c {
                let p = format!("{path}.closeoutEndpoints.{k}");
                if !matches!(k.as_str(), "EMPLOYMENT" | "EDUCATION" | "CRIMINAL") {
                    self.push(format!("{p} is not a search type"));
                }
                self.endpoints(v, &p, false);
            }
        }
        if let Some(f) = w.get("fallbackEndpoint").filter(|v| !v.is_null()) {
            self.endpoints(f, &format!("{path}.fallbackEndpoint"), true);
        }
    }
}

/// Every problem with a tenant-level webhook configuration (a `webhookConfig` object).
pub fn validate_webhook(config: &Value, rules: &Rules) -> Vec<String> {
    let mut v = V {
        rules,
        problems: Vec::new(),
    };
    match config.as_object() {
        Some(w) => v.webhook(w, "webhookConfig"),
        None => v.push("webhookConfig must be an object".to_owned()),
    }
    v.problems
}

/// Every problem with a create-order body (empty when valid).
pub fn validate(body: &Value, rules: &Rules) -> Vec<String> {
    let mut v = V {
        rules,
        problems: Vec::new(),
    };
    let Some(obj) = body.as_object() else {
        return vec!["Validation failed: the body must be a JSON object".to_owned()];
    };
    v.applicant(obj);
    v.business(obj);
    v.searches(obj);
    v.history(obj);
    if let Some(w) = v.obj(obj, "webhookConfig", "webhookConfig", false) {
        v.webhook(w, "webhookConfig");
    }
    v.problems
}
