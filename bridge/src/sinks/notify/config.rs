//! `notify:` → the digest board and its notifiers (SNS, Slack, Teams, webhook URLs from their
//! resolved references), and the `notify-owner` sink. Registered first: escalations and window
//! notices post to the same board.

use std::sync::Arc;
use std::time::Duration;

use patchplane_integrations::notify::{
    SlackNotifier, SnsNotifier, TeamsNotifier, Topics, WebhookConfig as Hook, WebhookUrl, aws_sdk_sns,
};

use super::{DigestBoard, DigestSender, NotifySink, Notifying};
use crate::config::{Action, NotifyConfig};
use crate::sinks::Builder;
use crate::start::{Resolved, StartError};

/// Builds the board and registers `notify-owner`, when the file has `notify:`.
pub fn register(b: &mut Builder<'_>) -> Result<(), StartError> {
    let Some(n) = b.cfg.notify.as_ref().filter(|_| b.wants(Action::NotifyOwner)) else {
        return Ok(());
    };
    let period = Duration::from_secs(60 * n.digest_minutes);
    let board = Arc::new(DigestBoard::new(period, notifiers(n, b.resolved, b.sdk)?));
    b.board = Some((board.clone(), period));
    let sink = NotifySink::new(board, b.default_owner(), period);
    b.sinks = std::mem::take(&mut b.sinks).with(Action::NotifyOwner, Arc::new(sink));
    Ok(())
}

/// The notifiers `notify:` names.
fn notifiers(
    n: &NotifyConfig,
    resolved: &Resolved,
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<Arc<dyn DigestSender>>, StartError> {
    let mut out: Vec<Arc<dyn DigestSender>> = Vec::new();
    if let Some(s) = &n.sns {
        let topic = resolved.get("notify.sns.topic_arn")?.to_owned();
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            Topics::new(topic, s.owner_topics.clone()),
        );
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    if n.slack.is_some() {
        let url = WebhookUrl::new(resolved.get("notify.slack.url")?.to_owned());
        let notifier = SlackNotifier::new(Hook::new("slack", url)).map_err(StartError::Notifier)?;
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    if n.teams.is_some() {
        let url = WebhookUrl::new(resolved.get("notify.teams.url")?.to_owned());
        let notifier = TeamsNotifier::new(Hook::new("teams", url)).map_err(StartError::Notifier)?;
        out.push(Arc::new(Notifying(Box::new(notifier))));
    }
    Ok(out)
}
