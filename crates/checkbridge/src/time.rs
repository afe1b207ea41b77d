//! Time as the service keeps it: milliseconds since the Unix epoch (UTC) in the store and in
//! every computation, turned into text only at the edges. Shared by the service and the CLI,
//! so a window like `7d` means the same on the operator page and on the command line.

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A time in milliseconds since the epoch as RFC 3339 (UTC); empty if out of range.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A time as people read it on a page: `2026-11-20 09:14 UTC`; empty if out of range.
pub fn minutes_utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A window back from now written as a count and a unit (`30m`, `24h`, `7d`), in
/// milliseconds. None for anything else, zero or negative counts, and overflow.
pub fn parse_window(text: &str) -> Option<i64> {
    let text = text.trim();
    // Split before the last character, not the last byte: `1é` must be refused, not
    // sliced inside a character (which panics).
    let (at, _) = text.char_indices().next_back()?;
    let (n, unit) = text.split_at(at);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_counts_of_minutes_hours_or_days() {
        assert_eq!(parse_window("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_window("30m"), Some(1_800_000));
        assert_eq!(parse_window(" 24h "), Some(86_400_000));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "-1h",
            "7w",
            "x7d",
            "1.5h",
            "99999999999999999d",
            "1é",
            "é",
            "7дн",
            "1\u{1F600}",
        ] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(minutes_utc(90_000), "1970-01-01 00:01 UTC");
    }
}
