//! A tenant configuration for domain tests.

use crate::config::{Config, TenantConfig};

pub fn tenant() -> TenantConfig {
    let vars = [
        ("PAGEUP__TENANT_ID", "218"),
        ("PAGEUP__ENV", "uat"),
        ("PAGEUP__DC", "dc2"),
        ("PAGEUP__CLIENT_ID", "c"),
        ("PAGEUP__CLIENT_SECRET", "s"),
        ("THEARY__CLIENT_ID", "t"),
        ("THEARY__CLIENT_SECRET", "u"),
        ("BUSINESS__ENTITY_NAME", "Acme Corp"),
        ("BUSINESS__POSITION_LEVEL", "STANDARD"),
        ("CHECKS__PACKAGES__EMP", "EMPLOYMENT"),
        ("CHECKS__PACKAGES__EDU", "EDUCATION"),
    ]
    .iter()
    .map(|(k, v)| (format!("CHECKBRIDGE_TENANTS__ACME__{k}"), (*v).to_owned()));
    let mut config = Config::load(None, vars).unwrap_or_else(|e| panic!("test config: {e}"));
    config
        .tenants
        .remove("acme")
        .unwrap_or_else(|| panic!("test tenant missing"))
}
