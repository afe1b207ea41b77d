//! Webhook events. Theary sends one event per search: `{"event", "occurredAt", "data"}`.
//! Events are parsed only from a body whose signature was verified
//! ([`crate::signature::VerifiedBody`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Channel, EventType, NotificationType, Outcome, ReasonCode, SearchType};

/// The envelope as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub event: EventType,
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub data: Value,
}

/// A parsed event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Completed(CompletedData),
    ActionRequired(ActionRequiredData),
    Notification(NotificationData),
    /// An event type not known here; its search id is still read when present.
    Unknown {
        event: String,
        search_id: Option<String>,
        data: Value,
    },
}

/// A webhook event with its envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub occurred_at: Option<String>,
    pub event: Event,
}

impl WebhookEvent {
    /// The search this event is about.
    pub fn search_id(&self) -> Option<&str> {
        match &self.event {
            Event::Completed(d) => Some(&d.search_id),
            Event::ActionRequired(d) => Some(&d.search_id),
            Event::Notification(d) => Some(&d.search_id),
            Event::Unknown { search_id, .. } => search_id.as_deref(),
        }
    }

    /// Our correlation id for the search, if Theary echoed it.
    pub fn external_search_id(&self) -> Option<&str> {
        match &self.event {
            Event::Completed(d) => d.external_search_id.as_deref(),
            Event::ActionRequired(d) => d.external_search_id.as_deref(),
            Event::Notification(d) => d.external_search_id.as_deref(),
            Event::Unknown { .. } => None,
        }
    }

    /// The event type.
    pub fn event_type(&self) -> EventType {
        match &self.event {
            Event::Completed(_) => EventType::Completed,
            Event::ActionRequired(_) => EventType::ActionRequired,
            Event::Notification(_) => EventType::Notification,
            Event::Unknown { event, .. } => EventType::Other(event.clone()),
        }
    }

    pub(crate) fn from_envelope(env: Envelope) -> Result<Self, serde_json::Error> {
        let event = match env.event {
            EventType::Completed => Event::Completed(serde_json::from_value(env.data)?),
            EventType::ActionRequired => Event::ActionRequired(serde_json::from_value(env.data)?),
            EventType::Notification => Event::Notification(serde_json::from_value(env.data)?),
            EventType::Other(event) => {
                let search_id = env
                    .data
                    .get("searchId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Event::Unknown {
                    event,
                    search_id,
                    data: env.data,
                }
            }
        };
        Ok(WebhookEvent {
            occurred_at: env.occurred_at,
            event,
        })
    }
}

/// `verification.completed` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletedData {
    pub search_id: String,
    #[serde(default)]
    pub verification_id: Option<String>,
    #[serde(default)]
    pub external_search_id: Option<String>,
    #[serde(default)]
    pub search_type: Option<SearchType>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub verification_result: Option<VerificationResult>,
    /// Education accreditation (shape not fully published).
    #[serde(default)]
    pub accreditation: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The result of a search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationResult {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub discrepancy: Option<bool>,
    /// `provided*` and `verified*` fields, verifier name and position.
    #[serde(default)]
    pub employment_verification: Option<BTreeMap<String, Value>>,
    /// Field names not published; kept as sent.
    #[serde(default)]
    pub education_verification: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `verification.action_required` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequiredData {
    pub search_id: String,
    #[serde(default)]
    pub verification_id: Option<String>,
    #[serde(default)]
    pub external_search_id: Option<String>,
    #[serde(default)]
    pub search_type: Option<SearchType>,
    #[serde(default)]
    pub reason_code: Option<ReasonCode>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub contact: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub accreditation: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `verification.notification` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationData {
    pub search_id: String,
    #[serde(default)]
    pub external_search_id: Option<String>,
    #[serde(default)]
    pub verification_id: Option<String>,
    #[serde(default)]
    pub search_type: Option<SearchType>,
    #[serde(default)]
    pub notification_type: Option<NotificationType>,
    #[serde(default)]
    pub contact_plan: Option<Vec<Value>>,
    #[serde(default)]
    pub outbound_attempt: Option<Value>,
    #[serde(default)]
    pub inbound_metadata: Option<Value>,
    #[serde(default)]
    pub classification: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
