//! Errors as they are logged: with their whole cause chain, once, where they are handled.
//! (HTTP answers say nothing of a cause; see `http::ApiError`.)

/// An error with its sources, for logs (never carries request bodies).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
