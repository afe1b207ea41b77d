//! The null integrator: the loop a provider would write by hand instead of checkbridge, with
//! no database and no crash safety. Per tenant: GET pending, PUT `queued` for the page's
//! checks together, and for each claimed check POST its Theary order and PUT `new` with the
//! order's reference, as soon as it is claimed. It uses the same API clients, connection
//! pool and mapping as the service, so the difference between the two is what durability
//! costs.

use std::sync::Arc;

use anyhow::Context as _;
use outbound::{HttpSettings, RetryPolicy};
use pageup::wire::{CheckStatus, StatusDocument};
use pageup::{Limits, PageUpClient};
use theary::ThearyClient;

use checkbridge::config::{Config, TenantConfig};
use checkbridge::domain::ids::TenantKey;
use checkbridge::domain::mapping::{build_order, search_types, OrderContext};

struct Clients {
    pageup: PageUpClient,
    theary: ThearyClient,
    public_base_url: String,
}

/// Drains every tenant of `config` once (each GET until a page comes back short).
pub async fn drain(config: &Config) -> anyhow::Result<()> {
    let http = outbound::http_client(&HttpSettings::default())?;
    let clients = Arc::new(Clients {
        pageup: PageUpClient::with_http(http.clone(), RetryPolicy::default(), Limits::default()),
        theary: ThearyClient::with_http(http, RetryPolicy::default()),
        public_base_url: config.service.public_base_url.clone(),
    });
    let mut tenants = tokio::task::JoinSet::new();
    for (key, cfg) in &config.tenants {
        let (clients, key, cfg) = (clients.clone(), TenantKey::new(key.clone()), cfg.clone());
        tenants.spawn(async move { drain_tenant(clients, key, Arc::new(cfg)).await });
    }
    while let Some(done) = tenants.join_next().await {
        done.context("a tenant's drain panicked")??;
    }
    Ok(())
}

async fn drain_tenant(
    clients: Arc<Clients>,
    key: TenantKey,
    cfg: Arc<TenantConfig>,
) -> anyhow::Result<()> {
    let pageup = cfg.pageup_tenant();
    let mut orders = tokio::task::JoinSet::new();
    loop {
        let page = clients
            .pageup
            .list_pending(&pageup)
            .await
            .context("GET pending")?;
        let full = page.len() >= checkbridge::sync::PAGE_SIZE;
        let claims = page.into_iter().map(|inv| {
            let clients = clients.clone();
            let pageup = &pageup;
            async move {
                let id = inv.id.clone().unwrap_or_default();
                clients
                    .pageup
                    .update_status(pageup, &id, &StatusDocument::new(CheckStatus::Queued))
                    .await
                    .context("PUT queued")?;
                Ok::<_, anyhow::Error>((id, inv))
            }
        });
        for claimed in futures::future::join_all(claims).await {
            let (id, inv) = claimed?;
            let (clients, key, cfg) = (clients.clone(), key.clone(), cfg.clone());
            orders.spawn(async move { order(clients, key, cfg, id, inv).await });
        }
        if !full {
            break;
        }
    }
    while let Some(done) = orders.join_next().await {
        done.context("an order panicked")??;
    }
    Ok(())
}

async fn order(
    clients: Arc<Clients>,
    key: TenantKey,
    cfg: Arc<TenantConfig>,
    id: String,
    inv: pageup::wire::Invitation,
) -> anyhow::Result<()> {
    let body = order_body(&key, &cfg, &clients.public_base_url, &id, &inv)?;
    let created = clients
        .theary
        .create_order_json(&cfg.theary_config(), body)
        .await
        .context("POST order")?;
    let mut doc = StatusDocument::new(CheckStatus::New);
    doc.reference_number = created.verification_order_id;
    clients
        .pageup
        .update_status(&cfg.pageup_tenant(), &id, &doc)
        .await
        .context("PUT new")?;
    Ok(())
}

/// The order's JSON, built by the service's own mapping.
fn order_body(
    key: &TenantKey,
    cfg: &TenantConfig,
    public_base_url: &str,
    id: &str,
    inv: &pageup::wire::Invitation,
) -> anyhow::Result<Vec<u8>> {
    let types = search_types(inv, cfg);
    let today = checkbridge::time::rfc3339(checkbridge::time::now_ms());
    let key_of = |ty: &theary::wire::SearchType| {
        let i = types.iter().position(|t| t == ty).unwrap_or(0);
        format!("{id}-{i}")
    };
    let ctx = OrderContext {
        tenant_key: key,
        public_base_url,
        webhook_secret: "null-integrator-webhook-secret",
        search_key: &key_of,
        today: today.get(..10).unwrap_or_default(),
    };
    let built = build_order(inv, cfg, &ctx)
        .map_err(|m| anyhow::anyhow!("check {id}: {}", m.reason_for_fail()))?;
    Ok(serde_json::to_vec(&built)?)
}
