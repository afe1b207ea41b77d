//! Theary's enumerations as *open* enums: the documented values as variants, anything else
//! kept verbatim in `Other`. Theary's docs disagree between versions (outcomes especially),
//! so an unknown value must be carried through, never rejected.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value not documented when this was written, kept as sent.
            Other(String),
        }

        impl $name {
            /// Every documented value.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }

            /// Parses the wire spelling (case-insensitive); unknown values become `Other`.
            pub fn parse(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($text) { return $name::$variant; })+
                $name::Other(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }
    };
}

open_enum!(
    /// What a search verifies.
    SearchType { Employment = "EMPLOYMENT", Education = "EDUCATION", Criminal = "CRIMINAL" }
);

open_enum!(
    /// `verificationResult.outcome`. The docs list VERIFIED, NO_RECORD, WRONG_ORG and
    /// THIRD_PARTY; the official quick start's types add UNVERIFIED and UNABLE_TO_VERIFY.
    Outcome {
        Verified = "VERIFIED",
        NoRecord = "NO_RECORD",
        WrongOrg = "WRONG_ORG",
        ThirdParty = "THIRD_PARTY",
        Unverified = "UNVERIFIED",
        UnableToVerify = "UNABLE_TO_VERIFY",
    }
);

open_enum!(
    /// Why a search needs action (`verification.action_required`).
    ReasonCode {
        ThirdPartyRecord = "THIRD_PARTY_RECORD",
        UpstreamIssue = "UPSTREAM_ISSUE",
        SystemFailure = "SYSTEM_FAILURE",
        SlaReached = "SLA_REACHED",
        HumanEscalation = "HUMAN_ESCALATION",
        PrimaryEducation = "PRIMARY_EDUCATION",
        InternationalEducation = "INTERNATIONAL_EDUCATION",
        OtherReason = "OTHER",
    }
);

open_enum!(
    /// Kind of progress in a `verification.notification`.
    NotificationType {
        ContactPlan = "CONTACT_PLAN",
        OutboundAttempt = "OUTBOUND_ATTEMPT",
        InboundMessage = "INBOUND_MESSAGE",
        InboundReceivedDetail = "INBOUND_RECEIVED_DETAIL",
        ThirdPartyRecord = "THIRD_PARTY_RECORD",
        AdditionalResearchNote = "ADDITIONAL_RESEARCH_NOTE",
        AgentIntervention = "AGENT_INTERVENTION",
    }
);

open_enum!(
    /// Webhook event types.
    EventType {
        Completed = "verification.completed",
        ActionRequired = "verification.action_required",
        Notification = "verification.notification",
    }
);

open_enum!(
    /// Channel a verification used.
    Channel { Email = "EMAIL", Voice = "VOICE", Fax = "FAX", Json = "JSON" }
);

open_enum!(
    /// A search's status in `GET .../searches`.
    SearchStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        ActionRequired = "ACTION_REQUIRED",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        Reassigned = "REASSIGNED",
    }
);

open_enum!(
    /// An order's status.
    OrderStatus {
        Pending = "pending",
        InProgress = "in_progress",
        Completed = "completed",
        Cancelled = "cancelled",
        Failed = "failed",
        Deleted = "deleted",
    }
);

open_enum!(
    /// `businessContext.positionLevel`.
    PositionLevel { Executive = "EXECUTIVE", Standard = "STANDARD", Sensitive = "SENSITIVE" }
);
