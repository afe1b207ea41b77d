//! A tenant's error log as PageUp support asks for it: time, tenant, operation, HTTP
//! status, the partner's message, our correlation id and the check. Never secrets or
//! candidate data (the log holds none).

use crate::store::ErrorEntry;

/// How the export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, with `time` as RFC 3339.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The entries in `format`, one per line (CSV with a header).
pub fn render(entries: &[ErrorEntry], format: Format) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    match format {
        Format::Jsonl => {
            for e in entries {
                let mut v = serde_json::to_value(e)?;
                v["time"] = serde_json::Value::String(crate::time::rfc3339(e.at));
                out.push_str(&serde_json::to_string(&v)?);
                out.push('\n');
            }
        }
        Format::Csv => {
            out.push_str("time,tenant,operation,http_status,message,correlation_id,check_id\n");
            for e in entries {
                let fields = [
                    crate::time::rfc3339(e.at),
                    e.tenant.to_string(),
                    e.operation.clone(),
                    e.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    e.message.clone(),
                    e.correlation.clone(),
                    e.check_id
                        .as_ref()
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                ];
                out.push_str(
                    &fields
                        .iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_lines_are_written_carefully() {
        let e = ErrorEntry {
            at: 0,
            tenant: "acme".into(),
            operation: "pageup.update".into(),
            http_status: Some(400),
            message: "Status 'x' is not valid, \"really\"".into(),
            correlation: "c-1".into(),
            check_id: Some("c-1".into()),
        };
        let csv = render(std::slice::from_ref(&e), Format::Csv).unwrap();
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "1970-01-01T00:00:00Z,acme,pageup.update,400,\"Status 'x' is not valid, \"\"really\"\"\",c-1,c-1"
        );
        let jsonl = render(&[e], Format::Jsonl).unwrap();
        let v: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
        assert_eq!(
            (v["time"].as_str(), v["http_status"].as_i64()),
            (Some("1970-01-01T00:00:00Z"), Some(400))
        );
    }
}
