//! Owner notifications end to end: the Slack and Teams notifiers against the local webhook
//! receiver (payload shapes, the `Idempotency-Key` header, retries on 503 and on 429 with
//! `Retry-After`, Teams throttling reported in a 200 body, a permanent `invalid_payload`, pacing,
//! and the webhook URL never appearing in an error or in `Debug`), and the SNS notifier against
//! moto (a shared topic whose SQS subscriptions filter on `owner`, one with raw delivery; a topic
//! per owner with a default; an unknown topic).
//!
//! What these tests do not cover, because the receiver and moto 5.2.5 do not do it:
//! - Real Slack and Teams: the receiver answers what their documentation and issue trackers say
//!   they answer; it does not render blocks or cards, so a block Slack would refuse as
//!   `invalid_blocks`, or a card Teams would show as "couldn't be displayed", passes here. The
//!   limits are checked as data by the unit tests in `integrations::notify`.
//! - moto's SNS checks a subject only for length (> 100 characters), not for line breaks or
//!   control characters; it counts the message limit in characters, without the attributes; it
//!   never throttles, never fails with 5xx or KMS errors, does not check the SQS queue policy
//!   that real SNS needs to deliver to a queue, and has no delivery retries or subscription
//!   dead-letter queues. The SDK's own retries are therefore not exercised either.

use std::time::{Duration, Instant};

use patchplane_e2e::Moto;
use patchplane_e2e::webhook::{Answer, Receiver};
use patchplane_integrations::notify::aws_sdk_sns;
use patchplane_integrations::notify::{
    Digest, Item, Link, Notifier, SlackNotifier, SnsNotifier, TeamsNotifier, Topics, WebhookConfig, WebhookUrl,
    slack_payload, sns_message, teams_payload,
};
use patchplane_integrations::retry::RetryPolicy;
use serde_json::Value as Json;

/// The secret part of every test webhook URL: it must never show up in errors or `Debug`.
const TOKEN: &str = "xoxTOKENs3cr3t0123456789";
const PATH: &str = "/services/T0WORKSPACE/B0CHANNEL/xoxTOKENs3cr3t0123456789";

fn digest(owner: &str, items: usize) -> Digest {
    Digest {
        owner: owner.into(),
        title: format!(
            "Patch window mw-0123 for {owner} in 111111111111/eu-west-1 finished with failures on several nodes, see the items below"
        ),
        summary: format!("{items} nodes failed to patch"),
        items: (0..items)
            .map(|n| Item {
                name: format!("i-{n:017x}"),
                status: "Failed".into(),
                detail: "exit code 1".into(),
                url: Some(format!("https://console.aws.amazon.com/ec2/instance/{n}")),
            })
            .collect(),
        links: vec![Link {
            label: "Compliance report".into(),
            url: "https://reports.example.com/compliance".into(),
        }],
        idempotency_key: format!("111111111111/eu-west-1/mw-0123/exec-9/{owner}"),
    }
}

fn config(r: &Receiver, name: &str) -> WebhookConfig {
    WebhookConfig {
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(3),
        },
        min_interval: Duration::ZERO,
        ..WebhookConfig::new(name, WebhookUrl::new(r.url(PATH)))
    }
}

fn slack(r: &Receiver) -> SlackNotifier {
    SlackNotifier::new(config(r, "team-data")).expect("slack notifier")
}

fn teams(r: &Receiver) -> TeamsNotifier {
    r.answer(Answer::new(202, ""));
    TeamsNotifier::new(config(r, "team-data")).expect("teams notifier")
}

#[tokio::test]
async fn slack_gets_text_blocks_and_the_idempotency_key() {
    let r = Receiver::start();
    let n = slack(&r);
    let d = digest("team-data", 3);
    n.send(&d).await.expect("delivered");
    let got = r.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", PATH));
    assert_eq!(req.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(req.header("idempotency-key"), Some(d.idempotency_key.as_str()));
    let body = req.json.as_ref().expect("json body");
    assert_eq!(
        body,
        &slack_payload(&d),
        "what the bridge can unit-test is what is sent"
    );
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("3 nodes failed to patch"))
    );
    let blocks = body["blocks"].as_array().expect("blocks");
    let kinds: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(kinds, ["header", "section", "section", "section", "context"]);
    assert_eq!(blocks[2]["text"]["text"].as_str().map(|t| t.lines().count()), Some(3));
    let context = blocks[4]["elements"][0]["text"].as_str().unwrap_or_default();
    assert!(context.contains(&d.idempotency_key), "{context}");
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_and_202_is_success() {
    let r = Receiver::start();
    let n = teams(&r);
    let d = digest("team-data", 2);
    n.send(&d).await.expect("delivered");
    let got = r.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("idempotency-key"), Some(d.idempotency_key.as_str()));
    let body = got[0].json.clone().expect("json body");
    assert_eq!(body, teams_payload(&d));
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.4"))
    );
    assert_eq!(card["body"][0]["type"], "TextBlock");
    assert_eq!(card["body"][2]["type"], "FactSet");
    assert_eq!(card["body"][2]["facts"].as_array().map(Vec::len), Some(2));
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["url"], "https://reports.example.com/compliance");
    let footer = card["body"].as_array().and_then(|b| b.last()).expect("footer");
    assert!(footer["text"].as_str().is_some_and(|t| t.contains(&d.idempotency_key)));
}

#[tokio::test]
async fn a_503_is_retried_with_the_same_body_and_key() {
    let r = Receiver::start();
    r.fail(2, 503);
    let d = digest("team-data", 1);
    slack(&r).send(&d).await.expect("delivered on the third attempt");
    let got = r.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|q| q.body == got[0].body));
    assert!(
        got.iter()
            .all(|q| q.header("idempotency-key") == Some(d.idempotency_key.as_str()))
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let r = Receiver::start();
    r.fail_with(1, Answer::new(429, "rate_limited").retry_after(1));
    let started = Instant::now();
    slack(&r)
        .send(&digest("team-data", 1))
        .await
        .expect("delivered after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(r.received().len(), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_the_failure_stays_retryable() {
    let r = Receiver::start();
    r.fail(10, 503);
    let f = slack(&r)
        .send(&digest("team-data", 1))
        .await
        .expect_err("503 throughout");
    assert!(f.is_retryable());
    assert_eq!(f.status, Some(503));
    assert_eq!(r.received().len(), 3, "the policy's three attempts");
}

#[tokio::test]
async fn invalid_payload_is_permanent_and_not_retried() {
    let r = Receiver::start();
    r.slack_error(400, "invalid_payload");
    let f = slack(&r).send(&digest("team-data", 1)).await.expect_err("refused");
    assert!(!f.is_retryable());
    assert_eq!(f.status, Some(400));
    assert_eq!(f.to_string(), "HTTP 400: slack webhook `team-data`: invalid_payload");
    assert_eq!(r.received().len(), 1);
}

#[tokio::test]
async fn teams_throttling_in_a_200_body_is_retried() {
    let r = Receiver::start();
    let n = teams(&r);
    r.fail_with(
        1,
        Answer::new(
            200,
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=x",
        ),
    );
    r.fail_with(1, Answer::new(429, "").retry_after(0));
    n.send(&digest("team-data", 1))
        .await
        .expect("delivered on the third attempt");
    assert_eq!(r.received().len(), 3);
}

#[tokio::test]
async fn sends_through_one_webhook_are_paced() {
    let r = Receiver::start();
    let n = SlackNotifier::new(WebhookConfig {
        min_interval: Duration::from_millis(400),
        ..config(&r, "team-data")
    })
    .expect("notifier");
    let started = Instant::now();
    let (a, b) = (digest("team-data", 1), digest("team-ops", 1));
    let (ra, rb) = tokio::join!(n.send(&a), n.send(&b));
    ra.and(rb).expect("both delivered");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.received().len(), 2);
}

/// Every way a send can fail, formatted every way: no URL, path or token.
#[tokio::test]
async fn the_webhook_url_never_appears_in_errors_or_debug() {
    let r = Receiver::start();
    let url = r.url(PATH);
    let assert_clean = |what: &str, text: &str| {
        for secret in [url.as_str(), PATH, TOKEN, "B0CHANNEL", "T0WORKSPACE"] {
            assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
        }
    };
    let n = slack(&r);
    let t = TeamsNotifier::new(config(&r, "team-ops")).expect("teams");
    assert_clean("Debug of the Slack notifier", &format!("{n:?}"));
    assert_clean("Debug of the Teams notifier", &format!("{t:?}"));
    assert_clean("Debug of the config", &format!("{:?}", config(&r, "team-data")));
    assert_eq!(n.name(), "slack webhook `team-data`");
    assert_eq!(t.name(), "teams webhook `team-ops`");
    let d = digest("team-data", 1);

    // A plain-text refusal; then an answer that echoes the URL back.
    r.slack_error(404, "no_service");
    let f = n.send(&d).await.expect_err("no_service");
    assert!(!f.is_retryable() && f.message.contains("slack webhook `team-data`: no_service"));
    assert_clean("no_service", &format!("{f} {f:?}"));
    r.answer(Answer::new(
        400,
        &format!("bad request to {url} ({PATH}, token {TOKEN})"),
    ));
    for f in [n.send(&d).await, t.send(&d).await] {
        let f = f.expect_err("refused");
        assert!(f.message.contains("<redacted>"), "{f}");
        assert_clean("an echoing body", &format!("{f} {f:?}"));
    }

    // A timeout (the receiver answers after the client gave up).
    r.answer(Answer::new(200, "ok"));
    r.slow(Duration::from_millis(800));
    let impatient = SlackNotifier::new(WebhookConfig {
        timeout: Duration::from_millis(200),
        retry: RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        ..config(&r, "team-data")
    })
    .expect("notifier");
    let f = impatient.send(&d).await.expect_err("timed out");
    assert!(f.is_retryable() && f.status.is_none(), "{f:?}");
    assert!(f.message.starts_with("slack webhook `team-data`: timed out"), "{f}");
    assert_clean("a timeout", &format!("{f} {f:?}"));

    // Nothing listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let gone_url = format!("http://127.0.0.1:{port}{PATH}");
    let gone = TeamsNotifier::new(WebhookConfig {
        url: WebhookUrl::new(gone_url.clone()),
        retry: RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        ..config(&r, "team-ops")
    })
    .expect("notifier");
    let f = gone.send(&d).await.expect_err("refused connection");
    assert!(
        f.is_retryable() && f.message.starts_with("teams webhook `team-ops`: cannot connect"),
        "{f}"
    );
    assert_clean("a refused connection", &format!("{f} {f:?} {gone:?}"));
    assert!(!format!("{f}").contains(&gone_url));
}

// ---------------------------------------------------------------------------------------------
// SNS against moto

async fn sns_and_sqs(moto: &Moto) -> (aws_sdk_sns::Client, aws_sdk_sqs::Client) {
    let cfg = moto.sdk_config("us-east-1").await;
    (aws_sdk_sns::Client::new(&cfg), aws_sdk_sqs::Client::new(&cfg))
}

async fn topic(sns: &aws_sdk_sns::Client, name: &str) -> String {
    let out = sns.create_topic().name(name).send().await.expect("create topic");
    out.topic_arn().expect("topic arn").to_owned()
}

/// A queue subscribed to `topic`, with a filter policy on `owner` when given; returns its URL.
async fn subscribed_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    name: &str,
    owner: Option<&str>,
    raw: bool,
) -> String {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .expect("queue arn");
    let mut sub = sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(arn)
        .return_subscription_arn(true);
    if let Some(o) = owner {
        sub = sub.attributes("FilterPolicy", serde_json::json!({ "owner": [o] }).to_string());
    }
    if raw {
        sub = sub.attributes("RawMessageDelivery", "true");
    }
    sub.send().await.expect("subscribe");
    url
}

/// Every message in the queue now (bodies and SQS message attributes).
async fn drain(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        let got = out.messages().to_vec();
        if got.is_empty() {
            return all;
        }
        for m in &got {
            if let Some(h) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(h)
                    .send()
                    .await
                    .expect("delete");
            }
        }
        all.extend(got);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_shared_topic_subscribers_filter_on_owner() {
    let moto = Moto::start();
    let (sns, sqs) = sns_and_sqs(&moto).await;
    let arn = topic(&sns, "patch-owners").await;
    // team-a reads the SNS envelope (Subject and MessageAttributes in the JSON body); team-b
    // has raw delivery (the message as the body, attributes as SQS message attributes).
    let qa = subscribed_queue(&sns, &sqs, &arn, "owner-team-a", Some("team-a"), false).await;
    let qb = subscribed_queue(&sns, &sqs, &arn, "owner-team-b", Some("team-b"), true).await;
    let n = SnsNotifier::new(sns.clone(), Topics::Shared(arn.clone()));
    assert_eq!(n.name(), format!("sns topic `{arn}`"));

    let (da, db, dc) = (digest("team-a", 3), digest("team-b", 2), digest("team-c", 1));
    for d in [&da, &db, &dc] {
        n.send(d).await.expect("published");
    }

    let a = drain(&sqs, &qa).await;
    assert_eq!(a.len(), 1, "team-a gets only its own digest");
    let envelope: Json = serde_json::from_str(a[0].body().unwrap_or_default()).expect("SNS envelope");
    let subject = envelope["Subject"].as_str().expect("subject");
    assert!(
        da.title.chars().count() > 100 && subject.chars().count() <= 100,
        "{subject}"
    );
    assert!(subject.ends_with('…') && da.title.starts_with(subject.trim_end_matches('…')));
    assert_eq!(subject, sns_message(&da).subject);
    assert_eq!(envelope["Message"], sns_message(&da).message);
    assert_eq!(envelope["TopicArn"], arn.as_str());
    assert_eq!(envelope["MessageAttributes"]["owner"]["Type"], "String");
    assert_eq!(envelope["MessageAttributes"]["owner"]["Value"], "team-a");
    assert_eq!(
        envelope["MessageAttributes"]["idempotency_key"]["Value"],
        da.idempotency_key.as_str()
    );

    let b = drain(&sqs, &qb).await;
    assert_eq!(b.len(), 1, "team-b gets only its own digest");
    assert_eq!(b[0].body(), Some(sns_message(&db).message.as_str()));
    let attrs = b[0].message_attributes().expect("raw delivery keeps the attributes");
    assert_eq!(attrs["owner"].string_value(), Some("team-b"));
    assert_eq!(attrs["owner"].data_type(), "String");
    assert_eq!(
        attrs["idempotency_key"].string_value(),
        Some(db.idempotency_key.as_str())
    );
    assert!(
        b[0].body()
            .is_some_and(|m| m.contains("Items (2):") && m.contains(&db.idempotency_key))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_topic_per_owner_with_a_default() {
    let moto = Moto::start();
    let (sns, sqs) = sns_and_sqs(&moto).await;
    let (ta, td) = (topic(&sns, "owner-team-a").await, topic(&sns, "owners-default").await);
    let qa = subscribed_queue(&sns, &sqs, &ta, "team-a", None, true).await;
    let qd = subscribed_queue(&sns, &sqs, &td, "default", None, true).await;
    let n = SnsNotifier::new(
        sns,
        Topics::PerOwner {
            owners: [("team-a".to_owned(), ta)].into(),
            default: td,
        },
    );
    n.send(&digest("team-a", 1)).await.expect("published");
    n.send(&digest("team-z", 1)).await.expect("published");
    let owners = |ms: Vec<aws_sdk_sqs::types::Message>| -> Vec<String> {
        ms.iter()
            .filter_map(|m| m.message_attributes()?.get("owner")?.string_value().map(str::to_owned))
            .collect()
    };
    assert_eq!(owners(drain(&sqs, &qa).await), ["team-a"]);
    assert_eq!(owners(drain(&sqs, &qd).await), ["team-z"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_unknown_topic_is_a_permanent_one_line_error() {
    let moto = Moto::start();
    let (sns, _) = sns_and_sqs(&moto).await;
    let arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic";
    let f = SnsNotifier::new(sns, Topics::Shared(arn.into()))
        .send(&digest("team-a", 1))
        .await
        .expect_err("no such topic");
    assert!(!f.is_retryable(), "{f:?}");
    let text = f.to_string();
    assert!(
        text.starts_with(&format!(
            "HTTP 404: sns topic `{arn}`: service error: NotFoundException"
        )),
        "{text}"
    );
    assert!(
        text.contains("(request id ") && !text.contains('\n') && !text.contains("headers"),
        "{text}"
    );
}
