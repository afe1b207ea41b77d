//! The release-form upload, emulated locally: `GET /files/release-form/generate-upload-url`
//! answers `{signedUrl, fileUri}` as Theary does, but the signed URL points back at this
//! sandbox (`/__storage/<bucket>/tenants/<tenant>/releaseForms/<uuid>.pdf`) instead of Google
//! Cloud Storage. A `PUT` there with `Content-Type: application/pdf` stores the PDF while the
//! URL is valid (15 minutes by default, [`SandboxConfig::upload_url_lifetime`]); an expired
//! or altered URL, another content type, a body that is not a PDF or one over 10 MB is refused
//! in Cloud Storage's XML error shape. The uploaded file's `gs://` URI is then accepted as an
//! order's `applicant.signedReleaseFileUrl`, like any other.
//!
//! [`SandboxConfig::upload_url_lifetime`]: super::SandboxConfig

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::auth::Tenant;
use super::state::ThearyState;

/// The bucket Theary's example names.
pub const BUCKET: &str = "verification-api-storage";
/// The largest release form Theary takes.
pub const MAX_RELEASE_BYTES: usize = 10 * 1024 * 1024;

const GOOG_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// The MAC over what an upload URL grants: a `PUT` of this object, issued then, for so long.
fn url_mac(state: &ThearyState, object: &str, date: &str, expires: u64) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.key[..]).ok()?;
    mac.update(format!("PUT\n/{BUCKET}/{object}\n{date}\n{expires}").as_bytes());
    Some(mac)
}

fn sign(state: &ThearyState, object: &str, date: &str, expires: u64) -> String {
    url_mac(state, object, date, expires)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

pub(super) async fn generate_upload_url(
    State(state): State<ThearyState>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let object = format!("tenants/{tenant}/releaseForms/{}.pdf", uuid::Uuid::new_v4());
    let now = time::OffsetDateTime::now_utc();
    let date = now.format(GOOG_DATE).unwrap_or_default();
    let expires = state.config.upload_url_lifetime.as_secs();
    let signature = sign(&state, &object, &date, expires);
    let signed_url = format!(
        "http://{host}/__storage/{BUCKET}/{object}?X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Date={date}&X-Goog-Expires={expires}&X-Goog-SignedHeaders=content-type%3Bhost&X-Goog-Signature={signature}"
    );
    Json(json!({ "signedUrl": signed_url, "fileUri": format!("gs://{BUCKET}/{object}") }))
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct Signed {
    #[serde(rename = "X-Goog-Date")]
    date: Option<String>,
    #[serde(rename = "X-Goog-Expires")]
    expires: Option<u64>,
    #[serde(rename = "X-Goog-Signature")]
    signature: Option<String>,
}

/// Cloud Storage's error shape.
fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        format!("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"),
    )
        .into_response()
}

pub(super) async fn put_object(
    State(state): State<ThearyState>,
    Path((bucket, object)): Path<(String, String)>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(date), Some(expires), Some(signature)) = (q.date, q.expires, q.signature) else {
        return storage_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Anonymous caller does not have storage.objects.create access; use a signed URL from generate-upload-url",
        );
    };
    let genuine = bucket == BUCKET
        && hex::decode(&signature).ok().is_some_and(|given| {
            url_mac(&state, &object, &date, expires)
                .is_some_and(|mac| mac.verify_slice(&given).is_ok())
        });
    if !genuine {
        return storage_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let issued = time::PrimitiveDateTime::parse(&date, GOOG_DATE).map(|d| d.assume_utc());
    let expired = match issued {
        Ok(at) => {
            time::OffsetDateTime::now_utc()
                >= at + time::Duration::seconds(i64::try_from(expires).unwrap_or(i64::MAX))
        }
        Err(_) => true,
    };
    if expired {
        return storage_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The provided token has expired: ask generate-upload-url for a new one.",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.eq_ignore_ascii_case("application/pdf") {
        return storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The release form must be uploaded with Content-Type: application/pdf.",
        );
    }
    if body.len() > MAX_RELEASE_BYTES {
        return storage_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "EntityTooLarge",
            "The release form must be at most 10 MB.",
        );
    }
    if !body.starts_with(b"%PDF") {
        return storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The release form must be a PDF (the body does not start with %PDF).",
        );
    }
    state.store_release_form(format!("gs://{BUCKET}/{object}"), body.len());
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signed_string_names_bucket_object_date_and_lifetime() {
        let state = super::ThearyState::new(Default::default());
        let a = super::sign(
            &state,
            "tenants/a/releaseForms/x.pdf",
            "20260101T000000Z",
            900,
        );
        let b = super::sign(
            &state,
            "tenants/b/releaseForms/x.pdf",
            "20260101T000000Z",
            900,
        );
        let c = super::sign(
            &state,
            "tenants/a/releaseForms/x.pdf",
            "20260101T000000Z",
            901,
        );
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }
}
