//! What Theary returns: create response, orders, searches, cancel.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Channel, OrderStatus, Outcome, SearchStatus, SearchType};

/// `POST /orders` answer. Ids are kept exactly as sent (`ord_...`/`search_...` or bare).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderResponse {
    pub verification_order_id: String,
    #[serde(default)]
    pub search_ids: Vec<String>,
}

/// An order as `GET /orders/{id}` (and the list) show it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Order {
    pub id: String,
    pub status: Option<OrderStatus>,
    pub applicant: Option<OrderApplicant>,
    pub entity_name: Option<String>,
    pub job_title: Option<String>,
    pub search_types: Vec<Value>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub completed_at: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The applicant as an order read shows it (SSN masked). `Debug` redacts.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderApplicant {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub ssn: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for OrderApplicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrderApplicant(<redacted>)")
    }
}

/// `GET /orders?page=&limit=`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OrderList {
    pub data: Vec<Order>,
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pagination {
    pub page: u64,
    pub limit: u64,
    pub total: u64,
    pub total_pages: u64,
    pub has_next: Option<bool>,
    pub has_prev: Option<bool>,
}

/// One search (`GET /orders/{id}/searches[/{searchId}]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Search {
    pub id: String,
    pub order_id: Option<String>,
    pub applicant_id: Option<String>,
    pub external_search_id: Option<String>,
    pub search_type: Option<SearchType>,
    pub search_status: Option<SearchStatus>,
    pub search_title: Option<String>,
    pub entity_name: Option<String>,
    pub entity_location: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub additional_comments: Option<String>,
    pub questionnaire_url: Option<String>,
    pub questionnaire_access_code: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    #[serde(deserialize_with = "null_vec")]
    pub verification_result: Vec<SearchResult>,
    #[serde(deserialize_with = "null_vec")]
    pub activity: Vec<Activity>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn null_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A result recorded on a search.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchResult {
    pub id: Option<String>,
    pub outcome: Option<Outcome>,
    pub result_details: Option<Value>,
    pub submitted_at: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One step of a search's activity timeline.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Activity {
    pub id: Option<String>,
    pub activity_type: Option<String>,
    pub channel: Option<Channel>,
    pub channel_value: Option<String>,
    pub description: Option<String>,
    pub created_at: Option<String>,
}

/// `GET /orders/{id}/searches`: documented as `{"searches": [...]}`, shown as a bare array.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchList(pub Vec<Search>);

impl<'de> Deserialize<'de> for SearchList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Bare(Vec<Search>),
            Wrapped { searches: Vec<Search> },
        }
        Ok(match Shape::deserialize(d)? {
            Shape::Bare(v) | Shape::Wrapped { searches: v } => SearchList(v),
        })
    }
}

/// `DELETE /orders/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CancelResponse {
    pub order_id: String,
    pub status: Option<OrderStatus>,
    pub deleted_at: Option<String>,
    pub affected_searches: Option<u64>,
}

/// `GET /files/release-form/generate-upload-url`: where to `PUT` a signed release PDF (valid
/// for 15 minutes), and the `gs://` URI the uploaded file then has. `Debug` leaves out the
/// signed URL's query, which grants write access while it lasts.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReleaseFormUpload {
    pub signed_url: String,
    pub file_uri: String,
}

impl std::fmt::Debug for ReleaseFormUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = self.signed_url.split('?').next().unwrap_or_default();
        f.debug_struct("ReleaseFormUpload")
            .field("signed_url", &format_args!("{base}?<signature redacted>"))
            .field("file_uri", &self.file_uri)
            .finish()
    }
}
