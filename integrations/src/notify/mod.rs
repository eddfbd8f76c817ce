//! Owner notifications: one [`Digest`] (a title, a summary line, items such as nodes with their
//! status, links, and an idempotency key) delivered through a [`Notifier`]: SNS ([`SnsNotifier`]),
//! Slack incoming webhooks ([`SlackNotifier`]) or Microsoft Teams Workflows webhooks
//! ([`TeamsNotifier`]). DESIGN §6, "Chat".
//!
//! The payloads are built by pure functions ([`payloads`], [`sns_message`], [`slack_payload`],
//! [`teams_payload`]) so the bridge can unit-test what it sends without a network. Each fits its
//! service's limits ([`limits`]) by truncating, never by failing: a subject is cut on a character
//! boundary with an ellipsis, an item list ends in "… and N more".
//!
//! Idempotency: every send carries the digest's key: an SNS message attribute, a line of the
//! Slack context and of the Teams card, and an `Idempotency-Key` header on webhook POSTs, so a
//! human or a receiver can drop the copy an at-least-once redelivery produces.
//!
//! Failures are [`Failure`]s classified where they arise: throttling (Slack 429 with
//! `Retry-After`, Teams throttling reported in a 200 body, SNS `Throttling`), 5xx and transport
//! errors are retryable; Slack's plain-text refusals (`invalid_payload`, `channel_not_found`,
//! `no_service`, …) and other 4xx are not. Webhook URLs are secrets ([`WebhookUrl`]): they are
//! never in `Debug` output, logs or error messages, which name the notifier instead
//! (``slack webhook `team-data` ``).

use std::future::Future;
use std::pin::Pin;

use crate::retry::Failure;

mod payload;
mod sns;
mod webhook;

pub use payload::{Payloads, SnsMessage, limits, payloads, slack_payload, sns_message, teams_payload, truncate_chars};
pub use sns::{SnsNotifier, Topics, aws_sdk_sns};
pub use webhook::{
    Slack, SlackNotifier, Teams, TeamsNotifier, WebhookConfig, WebhookNotifier, WebhookService, WebhookUrl,
};

/// One owner notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    /// Who it is for: the SNS `owner` attribute subscribers filter on, and the key of the
    /// per-owner topic map.
    pub owner: String,
    /// One line: the SNS subject, the Slack header, the Teams card title.
    pub title: String,
    /// A summary line under the title.
    pub summary: String,
    /// The items (nodes with their status, findings, …), in the order to show them.
    pub items: Vec<Item>,
    /// Links for the whole digest (a report, a dashboard).
    pub links: Vec<Link>,
    /// Stable across redeliveries of the same digest, so receivers can drop duplicates.
    pub idempotency_key: String,
}

/// One line of a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    /// What it is about, e.g. a node (`i-0abc…`, a host name).
    pub name: String,
    /// Its status, e.g. `NON_COMPLIANT`, `Failed`, `3 critical`.
    pub status: String,
    /// More detail, or empty.
    pub detail: String,
    /// A link for this item (http or https; anything else is shown as text), if any.
    pub url: Option<String>,
}

/// A labelled link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// What the reader sees.
    pub label: String,
    /// Where it goes (http or https; anything else is shown as text).
    pub url: String,
}

/// What [`Notifier::send`] returns: a boxed future, so `dyn Notifier` works.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// Delivers a digest somewhere. Object-safe: the bridge holds `Box<dyn Notifier>` per owner.
pub trait Notifier: Send + Sync {
    /// A name for logs and errors, e.g. ``slack webhook `team-data` ``; never a secret.
    fn name(&self) -> &str;

    /// Delivers `digest` once (with the notifier's own retries). `Err` is classified: retry the
    /// message when [`Failure::is_retryable`], reject it otherwise.
    fn send<'a>(&'a self, digest: &'a Digest) -> SendFuture<'a>;
}
