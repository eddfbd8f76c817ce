//! Metrics, two ways: Prometheus text for `/metrics`, and CloudWatch embedded-metric-format (EMF)
//! lines on stdout, which CloudWatch Logs turns into metrics with no agent and no API call (the
//! ECS `awslogs` driver ships stdout as log events).
//!
//! The counters are the pipeline's [`Counters`]: received, delivered, retried, rejected, unknown,
//! released, and the latency from receive to the message's fate.

use std::time::Duration;

/// What happened to messages, for metrics and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// `ReceiveMessage` calls answered, empty ones included: messages per receive is what one
    /// SQS call is spread over.
    pub receives: u64,
    /// Messages received.
    pub received: u64,
    /// Deleted after every action delivered (or nothing to do).
    pub delivered: u64,
    /// Left for a retry.
    pub retried: u64,
    /// Released towards the dead-letter queue.
    pub rejected: u64,
    /// Decoded to an event patchplane does not handle (deleted).
    pub unknown: u64,
    /// Decoded, but no rule routes it (a finding on an image, a MEDIUM finding's rule missing…):
    /// acknowledged and counted.
    pub unrouted: u64,
    /// Owner digests sent.
    pub digests_sent: u64,
    /// Messages in flight now, waiting for their digest (a gauge).
    pub parked: u64,
    /// Digests that held a redelivered message: possibly a re-send after a crash.
    pub digests_redelivered: u64,
    /// Released unfinished at shutdown.
    pub released: u64,
    /// Time from receive to the message's fate (delete, retry, reject).
    pub latency: Latency,
}

/// Upper bounds (ms) of the latency buckets; a last bucket holds the rest.
pub const LATENCY_BOUNDS_MS: [u64; 9] = [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/// A latency histogram.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Latency {
    /// Observations.
    pub count: u64,
    /// Their sum, in milliseconds.
    pub sum_ms: u64,
    /// Observations per bucket (not cumulative): `[i]` ≤ `LATENCY_BOUNDS_MS[i]`, the last above all.
    pub buckets: [u64; 10],
}

impl Latency {
    /// Records one observation.
    pub fn observe(&mut self, d: Duration) {
        let ms = d.as_millis().min(u64::MAX as u128) as u64;
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.buckets[i] += 1;
    }
}

/// Prometheus text exposition (version 0.0.4) of `c`.
pub fn prometheus(c: &Counters, ready: bool) -> String {
    let mut out = String::new();
    let counter = |out: &mut String, name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP patchplane_bridge_{name} {help}\n# TYPE patchplane_bridge_{name} counter\npatchplane_bridge_{name} {v}\n"
        ));
    };
    counter(
        &mut out,
        "receives_total",
        "ReceiveMessage calls answered, empty ones included.",
        c.receives,
    );
    counter(
        &mut out,
        "messages_received_total",
        "Messages received from SQS.",
        c.received,
    );
    counter(
        &mut out,
        "messages_delivered_total",
        "Messages deleted after every action delivered.",
        c.delivered,
    );
    counter(
        &mut out,
        "messages_retried_total",
        "Messages left for a retry.",
        c.retried,
    );
    counter(
        &mut out,
        "messages_rejected_total",
        "Messages released towards the dead-letter queue.",
        c.rejected,
    );
    counter(
        &mut out,
        "messages_unknown_total",
        "Events of a kind patchplane does not handle.",
        c.unknown,
    );
    out.push_str(&format!(
        "# HELP patchplane_bridge_messages_parked Messages in flight waiting for their digest.\n# TYPE patchplane_bridge_messages_parked gauge\npatchplane_bridge_messages_parked {}\n",
        c.parked
    ));
    counter(
        &mut out,
        "digests_sent_total",
        "Owner notification digests sent.",
        c.digests_sent,
    );
    counter(
        &mut out,
        "digests_redelivered_total",
        "Digests holding a redelivered message (a re-send after a crash is possible).",
        c.digests_redelivered,
    );
    counter(
        &mut out,
        "messages_unrouted_total",
        "Events no rule routes to an action (acknowledged).",
        c.unrouted,
    );
    counter(
        &mut out,
        "messages_released_total",
        "Messages released unfinished at shutdown.",
        c.released,
    );
    out.push_str("# HELP patchplane_bridge_latency_seconds Receive to delete, retry or reject.\n");
    out.push_str("# TYPE patchplane_bridge_latency_seconds histogram\n");
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BOUNDS_MS.iter().enumerate() {
        cumulative += c.latency.buckets[i];
        out.push_str(&format!(
            "patchplane_bridge_latency_seconds_bucket{{le=\"{}\"}} {cumulative}\n",
            *bound as f64 / 1000.0
        ));
    }
    out.push_str(&format!(
        "patchplane_bridge_latency_seconds_bucket{{le=\"+Inf\"}} {}\npatchplane_bridge_latency_seconds_sum {}\npatchplane_bridge_latency_seconds_count {}\n",
        c.latency.count,
        c.latency.sum_ms as f64 / 1000.0,
        c.latency.count
    ));
    out.push_str(&format!(
        "# HELP patchplane_bridge_ready 1 when receiving.\n# TYPE patchplane_bridge_ready gauge\npatchplane_bridge_ready {}\n",
        u8::from(ready)
    ));
    out
}

/// Counters since `before` (for one EMF interval).
pub fn delta(now: &Counters, before: &Counters) -> Counters {
    let mut d = Counters {
        receives: now.receives.saturating_sub(before.receives),
        received: now.received.saturating_sub(before.received),
        delivered: now.delivered.saturating_sub(before.delivered),
        retried: now.retried.saturating_sub(before.retried),
        rejected: now.rejected.saturating_sub(before.rejected),
        unknown: now.unknown.saturating_sub(before.unknown),
        unrouted: now.unrouted.saturating_sub(before.unrouted),
        digests_sent: now.digests_sent.saturating_sub(before.digests_sent),
        parked: now.parked,
        digests_redelivered: now.digests_redelivered.saturating_sub(before.digests_redelivered),
        released: now.released.saturating_sub(before.released),
        latency: now.latency.clone(),
    };
    d.latency.count = now.latency.count.saturating_sub(before.latency.count);
    d.latency.sum_ms = now.latency.sum_ms.saturating_sub(before.latency.sum_ms);
    for (b, p) in d.latency.buckets.iter_mut().zip(before.latency.buckets) {
        *b = b.saturating_sub(p);
    }
    d
}

/// One EMF document for an interval's counters `d`, at `timestamp_ms`.
pub fn emf(d: &Counters, namespace: &str, timestamp_ms: u128) -> String {
    let metric = |name: &str, unit: &str| serde_json::json!({ "Name": name, "Unit": unit });
    let avg = if d.latency.count == 0 {
        0.0
    } else {
        d.latency.sum_ms as f64 / d.latency.count as f64
    };
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Service"]],
                "Metrics": [
                    metric("Received", "Count"),
                    metric("Delivered", "Count"),
                    metric("Retried", "Count"),
                    metric("Rejected", "Count"),
                    metric("Unknown", "Count"),
                    metric("Unrouted", "Count"),
                    metric("DigestsSent", "Count"),
                    metric("DigestsRedelivered", "Count"),
                    metric("Released", "Count"),
                    metric("LatencyAverage", "Milliseconds"),
                ],
            }],
        },
        "Service": "patchplane-bridge",
        "Received": d.received,
        "Delivered": d.delivered,
        "Retried": d.retried,
        "Rejected": d.rejected,
        "Unknown": d.unknown,
        "Unrouted": d.unrouted,
        "DigestsSent": d.digests_sent,
        "DigestsRedelivered": d.digests_redelivered,
        "Released": d.released,
        "LatencyAverage": avg,
    })
    .to_string()
}

/// Prints an EMF line with the counters' change every `every` until `stop` turns true.
pub async fn emf_ticker(
    counters: impl Fn() -> Counters,
    namespace: String,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut before = counters();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let now = counters();
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        println!("{}", emf(&delta(&now, &before), &namespace, ms));
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample() -> Counters {
        let mut c = Counters {
            received: 12,
            delivered: 9,
            retried: 2,
            rejected: 1,
            ..Counters::default()
        };
        for ms in [5, 40, 40, 3_000, 20_000] {
            c.latency.observe(Duration::from_millis(ms));
        }
        c
    }

    #[test]
    fn prometheus_buckets_are_cumulative_and_end_at_the_count() {
        let text = prometheus(&sample(), true);
        assert!(
            text.contains("patchplane_bridge_messages_received_total 12\n"),
            "{text}"
        );
        assert!(
            text.contains("patchplane_bridge_latency_seconds_bucket{le=\"0.01\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("patchplane_bridge_latency_seconds_bucket{le=\"0.05\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("patchplane_bridge_latency_seconds_bucket{le=\"5\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("patchplane_bridge_latency_seconds_bucket{le=\"+Inf\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("patchplane_bridge_latency_seconds_sum 23.085\n"),
            "{text}"
        );
        assert!(text.contains("patchplane_bridge_ready 1\n"), "{text}");
    }

    #[test]
    fn emf_carries_the_interval_not_the_total() {
        let before = sample();
        let mut now = sample();
        now.received += 3;
        now.delivered += 3;
        now.latency.observe(Duration::from_millis(30));
        let line = emf(&delta(&now, &before), "patchplane/bridge", 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON document");
        assert_eq!(v["Received"], 3);
        assert_eq!(v["Rejected"], 0);
        assert_eq!(v["LatencyAverage"], 30.0);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "patchplane/bridge");
        // Every metric named in the directive is a member of the document (the EMF rule).
        for m in v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
        {
            let name = m["Name"].as_str().expect("name");
            assert!(v.get(name).is_some_and(|x| x.is_number()), "{name}");
        }
        assert_eq!(v["Service"], "patchplane-bridge", "the dimension has a value");
        assert!(!line.contains('\n'), "one line");
    }
}
