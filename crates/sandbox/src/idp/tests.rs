use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::*;

const REDIRECT: &str = "http://127.0.0.1:9/sso/acme/callback";
const VERIFIER: &str = "a-pkce-verifier-of-at-least-forty-three-characters-long";

async fn sandbox() -> IdpSandbox {
    let sb = spawn().await.unwrap();
    sb.state.add_client(IdpClient {
        client_id: "cb".into(),
        client_secret: "cb-secret".into(),
        redirect_uris: vec![REDIRECT.into()],
    });
    sb.state.add_user(IdpUser::new(
        "dana@acme.example",
        "pw-dana",
        &["recruiters"],
    ));
    sb
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(sha2_256(VERIFIER.as_bytes()))
}

/// Signs dana in through the form; the code from the redirect.
async fn code(sb: &IdpSandbox) -> String {
    let r = http()
        .post(format!("{}/authorize", sb.base_url()))
        .form(&[
            ("response_type", "code"),
            ("client_id", "cb"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", &challenge()),
            ("code_challenge_method", "S256"),
            ("username", "dana@acme.example"),
            ("password", "pw-dana"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to.as_str().starts_with(REDIRECT));
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-1");
    q["code"].clone()
}

async fn exchange(sb: &IdpSandbox, code: &str, verifier: &str, secret: &str) -> reqwest::Response {
    http()
        .post(format!("{}/token", sb.base_url()))
        .basic_auth("cb", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

fn claims(
    id_token: &str,
    sb: &IdpSandbox,
    jwk: &serde_json::Value,
) -> Result<serde_json::Value, jsonwebtoken::errors::Error> {
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["cb"]);
    v.set_issuer(&[sb.state.issuer()]);
    v.leeway = 0;
    jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &v).map(|d| d.claims)
}

async fn jwk(sb: &IdpSandbox) -> serde_json::Value {
    let keys: serde_json::Value = http()
        .get(format!("{}/jwks", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    keys["keys"][0].clone()
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_the_issuer() {
    let sb = sandbox().await;
    let d: serde_json::Value = http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], sb.base_url());
    assert_eq!(d["jwks_uri"], format!("{}/jwks", sb.base_url()));
    assert_eq!(d["code_challenge_methods_supported"][0], "S256");
    assert_eq!(jwk(&sb).await["kid"], sb.state.kid());
}

#[tokio::test]
async fn a_code_is_exchanged_once_for_a_signed_id_token() {
    let sb = sandbox().await;
    let page = http()
        .get(format!(
            "{}/authorize?response_type=code&client_id=cb&redirect_uri={}&scope=openid&state=x&code_challenge=c&code_challenge_method=S256",
            sb.base_url(),
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("idp-username"));

    let code = code(&sb).await;
    let r = exchange(&sb, &code, VERIFIER, "cb-secret").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let c = claims(body["id_token"].as_str().unwrap(), &sb, &jwk(&sb).await).unwrap();
    assert_eq!(c["email"], "dana@acme.example");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["groups"][0], "recruiters");
    let again = exchange(&sb, &code, VERIFIER, "cb-secret").await;
    assert_eq!(again.status(), 400, "a code is used once");
}

#[tokio::test]
async fn the_token_endpoint_checks_the_secret_the_verifier_and_the_client() {
    let sb = sandbox().await;
    let c = code(&sb).await;
    assert_eq!(exchange(&sb, &c, VERIFIER, "wrong").await.status(), 401);
    let c = code(&sb).await;
    let r = exchange(
        &sb,
        &c,
        "another-verifier-another-verifier-another-verifier",
        "cb-secret",
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // An unregistered redirect URI is answered at the provider, never redirected to.
    let r = http()
        .get(format!(
            "{}/authorize?response_type=code&client_id=cb&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // A wrong password shows the form again.
    let r = http()
        .post(format!("{}/authorize", sb.base_url()))
        .form(&[
            ("response_type", "code"),
            ("client_id", "cb"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("username", "dana@acme.example"),
            ("password", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn faults_make_tokens_wrong_in_the_way_asked() {
    let sb = sandbox().await;
    let key = jwk(&sb).await;
    for (fault, wrong) in [
        (
            IdpFault::WrongAudience,
            jsonwebtoken::errors::ErrorKind::InvalidAudience,
        ),
        (
            IdpFault::Expired,
            jsonwebtoken::errors::ErrorKind::ExpiredSignature,
        ),
        (
            IdpFault::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidSignature,
        ),
    ] {
        sb.state.set_fault(Some(fault));
        let c = code(&sb).await;
        let body: serde_json::Value = exchange(&sb, &c, VERIFIER, "cb-secret")
            .await
            .json()
            .await
            .unwrap();
        let err = claims(body["id_token"].as_str().unwrap(), &sb, &key).unwrap_err();
        assert_eq!(*err.kind(), wrong, "{fault:?}");
    }
    sb.state.set_fault(Some(IdpFault::Down));
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        http().get(format!("{}/jwks", sb.base_url())).send(),
    )
    .await;
    assert!(hung.is_err(), "a provider that is down does not answer");
    sb.state.set_fault(None);
    assert_eq!(
        http()
            .get(format!("{}/jwks", sb.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let old = sb.state.kid();
    sb.state.rotate_key().unwrap();
    assert_ne!(jwk(&sb).await["kid"], old);
}
