//! Sinks: where an action for a decoded event is delivered, each reporting an [`Outcome`].
//!
//! The route decides actions; a sink only delivers. [`Sinks`] is the dispatcher: one sink per
//! [`Action`], registered when the bridge starts, so a new kind of delivery (a vulnerability
//! ticket, an owner notification) is a new [`ActionSink`] and one registration, not a new match
//! arm in an existing sink. An action routed to no registered sink is a configuration the bridge
//! cannot honour: [`Outcome::Reject`], never a silent success.
//!
//! One folder per sink, each with its `config.rs` (its section of `bridge.yaml`, resolved, into
//! the sink) and one line in [`build`]'s registry; the rule of which section an action needs
//! lives once, in [`crate::config::Action::needs`]:
//! - [`common`]: what every sink uses (the clock, an event's time and summary, a failure as an
//!   outcome), below them all so no two sinks import each other.
//! - [`notify`]: owner notifications grouped into digests, sent to SNS, Slack or Teams
//!   (`notify-owner`); the digest board the others post to.
//! - [`servicenow`]: incidents, resolutions, vulnerability tickets and the escalation sweep
//!   (`incident`, `resolve`, `inspector-ticket`, `escalate`), idempotent by correlation key; the
//!   ticket lifecycle.
//! - [`window_notices`]: notices before install windows and summaries after them, per owner
//!   (`window-notices`).
//! - [`exception_notices`]: notices to an exception's approver and its nodes' owners before it
//!   expires and on its last day (`exception-notices`).
//! - [`last_patched`]: a node's last-patched tag, set after its successful install
//!   (`tag-last-patched`).
//! - [`DryRun`]: delivers nothing; `replay --dry-run` prints what would have been done.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::config::BridgeConfig;
use crate::decode::Decoded;
use crate::enrich::Context;
use crate::outcome::Outcome;
use crate::route::Action;
use crate::start::{Resolved, StartError};
use crate::windows::NextWindow;

pub mod common;
pub mod exception_notices;
pub mod last_patched;
pub mod notify;
pub mod servicenow;
pub mod window_notices;

pub use servicenow::{Assignment, ServiceNowSink};

pub use common::Clock;

/// A boxed delivery, so sinks of different types sit in one dispatcher.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// What the pipeline delivers through: an action for an event.
pub trait Sink {
    /// Delivers `action` for `d`, enriched with `ctx`.
    fn deliver(&self, d: &Decoded, ctx: &Context, action: Action) -> impl Future<Output = Outcome> + Send;
}

/// One kind of delivery, registered for one or more actions in [`Sinks`].
pub trait ActionSink: Send + Sync {
    /// Delivers `d`, enriched with `ctx`.
    fn deliver<'a>(&'a self, d: &'a Decoded, ctx: &'a Context) -> Delivery<'a>;
}

/// A single sink delivers whatever it is given (tests and replays use one sink for every action).
impl<T: ActionSink> Sink for T {
    async fn deliver(&self, d: &Decoded, ctx: &Context, _: Action) -> Outcome {
        ActionSink::deliver(self, d, ctx).await
    }
}

/// The dispatcher: one sink per action.
#[derive(Default, Clone)]
pub struct Sinks {
    by_action: BTreeMap<Action, Arc<dyn ActionSink>>,
}

impl Sinks {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `sink` for `action` (replacing any earlier one).
    pub fn with(mut self, action: Action, sink: Arc<dyn ActionSink>) -> Self {
        self.by_action.insert(action, sink);
        self
    }

    /// The actions something delivers.
    pub fn actions(&self) -> Vec<Action> {
        self.by_action.keys().copied().collect()
    }
}

impl Sink for Sinks {
    fn deliver(&self, d: &Decoded, ctx: &Context, action: Action) -> impl Future<Output = Outcome> + Send {
        let sink = self.by_action.get(&action).cloned();
        async move {
            match sink {
                Some(s) => s.deliver(d, ctx).await,
                // `check` compares the routed actions with the registered sinks at start-up;
                // reaching this is a configuration the bridge cannot honour, so retrying would
                // not help.
                None => Outcome::Reject(format!("no sink delivers `{action:?}` in this bridge")),
            }
        }
    }
}

/// What each sink's `config.rs` builds from (the checked file, its references resolved, AWS,
/// the clock, next windows) and what sinks share once built (the digest board).
pub struct Builder<'a> {
    /// The checked configuration.
    pub cfg: &'a BridgeConfig,
    /// Its references, resolved in one pass ([`crate::start::Resolved`]).
    pub resolved: &'a Resolved,
    /// AWS.
    pub sdk: &'a SdkConfig,
    /// The time (tests set it).
    pub clock: Clock,
    /// Next install windows for tickets, when `schedule:` has any.
    pub windows: Option<Arc<dyn NextWindow>>,
    /// The digest board and its period, once `notify` built it: escalations and window notices
    /// post to it.
    pub board: Option<(Arc<notify::DigestBoard>, std::time::Duration)>,
    /// The sinks registered so far.
    pub sinks: Sinks,
}

impl Builder<'_> {
    /// Whether the file has the section `action` needs ([`crate::config::Action::needs`], the
    /// one rule): a sink registers its action only then.
    pub fn wants(&self, action: Action) -> bool {
        self.cfg.deliverable().contains(&action)
    }

    /// The owner of what no step of the owner chain knows: the default assignment group.
    pub fn default_owner(&self) -> String {
        self.cfg
            .servicenow
            .assignment_group
            .clone()
            .unwrap_or_else(|| "unassigned".into())
    }
}

/// The registry: one line per sink folder, in the order they build (the digest board first:
/// the ServiceNow escalation and window notices post to it). A new sink is a folder with its
/// `config.rs` and one line here.
fn register_all(b: &mut Builder<'_>) -> Result<(), StartError> {
    notify::config::register(b)?;
    servicenow::config::register(b)?;
    window_notices::config::register(b)?;
    exception_notices::config::register(b)?;
    last_patched::config::register(b)?;
    Ok(())
}

/// Every sink `bridge.yaml` configures, and the digest board when there is one; fails when a
/// routed action has no sink.
pub fn build(
    cfg: &BridgeConfig,
    resolved: &Resolved,
    sdk: &SdkConfig,
    windows: Option<Arc<dyn NextWindow>>,
    clock: Clock,
) -> Result<(Sinks, Option<Arc<notify::DigestBoard>>), StartError> {
    let mut b = Builder {
        cfg,
        resolved,
        sdk,
        clock,
        windows,
        board: None,
        sinks: Sinks::new(),
    };
    register_all(&mut b)?;
    let have = b.sinks.actions();
    for rule in cfg.rules() {
        if let Some(action) = rule.actions.iter().find(|a| !have.contains(a)) {
            return Err(StartError::NoSink { action: *action });
        }
    }
    Ok((b.sinks, b.board.map(|(board, _)| board)))
}

/// Delivers nothing and reports success: `replay --dry-run` prints what would have been done.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

impl ActionSink for DryRun {
    fn deliver<'a>(&'a self, _: &'a Decoded, _: &'a Context) -> Delivery<'a> {
        Box::pin(async { Outcome::Delivered })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    impl ActionSink for Counting {
        fn deliver<'a>(&'a self, _: &'a Decoded, _: &'a Context) -> Delivery<'a> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Box::pin(async { Outcome::Delivered })
        }
    }

    fn event() -> Decoded {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/events/ssm-compliance-patch-non-compliant.json"
        ))
        .expect("fixture");
        crate::decode::decode(text.as_bytes()).expect("decodes")
    }

    #[tokio::test]
    async fn each_action_reaches_its_own_sink_and_an_unregistered_one_is_rejected() {
        let (incidents, tickets) = (
            Arc::new(Counting(AtomicUsize::new(0))),
            Arc::new(Counting(AtomicUsize::new(0))),
        );
        let sinks = Sinks::new()
            .with(Action::Incident, incidents.clone())
            .with(Action::InspectorTicket, tickets.clone());
        let (d, ctx) = (event(), Context::default());
        assert_eq!(
            Sink::deliver(&sinks, &d, &ctx, Action::Incident).await,
            Outcome::Delivered
        );
        assert_eq!(
            Sink::deliver(&sinks, &d, &ctx, Action::Incident).await,
            Outcome::Delivered
        );
        assert_eq!(
            Sink::deliver(&sinks, &d, &ctx, Action::InspectorTicket).await,
            Outcome::Delivered
        );
        assert_eq!(
            (incidents.0.load(Ordering::Relaxed), tickets.0.load(Ordering::Relaxed)),
            (2, 1)
        );
        match Sink::deliver(&sinks, &d, &ctx, Action::NotifyOwner).await {
            Outcome::Reject(r) => assert!(r.contains("NotifyOwner"), "{r}"),
            o => panic!("an action without a sink must be rejected, got {o:?}"),
        }
        assert_eq!(sinks.actions(), vec![Action::Incident, Action::InspectorTicket]);
    }
}
