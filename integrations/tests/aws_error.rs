//! [`aws_error::describe`] on the errors a real SDK client produces (not hand-built ones): no
//! region, no credentials, an endpoint nothing listens on. Nothing leaves the machine.

use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use patchplane_integrations::aws_error::{Kind, describe, kind};

const UNREACHABLE: &str = "http://127.0.0.1:9";

fn config() -> aws_sdk_sns::config::Builder {
    aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
}

fn credentials() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
}

async fn publish(conf: aws_sdk_sns::Config) -> (Kind, String) {
    let e = aws_sdk_sns::Client::from_conf(conf)
        .publish()
        .topic_arn("arn:aws:sns:eu-west-1:111111111111:t")
        .message("m")
        .send()
        .await
        .expect_err("cannot succeed");
    (kind(&e), describe("Publish", Some(UNREACHABLE), &e))
}

fn clean(line: &str) {
    for noise in ["{", "DispatchFailure(", "ConnectorError", "smithy-rs", "\n"] {
        assert!(!line.contains(noise), "`{noise}` in: {line}");
    }
}

#[tokio::test]
async fn real_sdk_errors_read_as_one_line() {
    let (k, line) = publish(config().credentials_provider(credentials()).build()).await;
    assert_eq!(k, Kind::NoRegion, "{line}");
    assert!(line.starts_with("Publish: no AWS region; set AWS_REGION"), "{line}");
    clean(&line);

    let (k, line) = publish(config().region(Region::new("eu-west-1")).build()).await;
    assert_eq!(k, Kind::NoCredentials, "{line}");
    assert!(
        line.starts_with("Publish: no AWS credentials; set AWS_ACCESS_KEY_ID"),
        "{line}"
    );
    clean(&line);

    let (k, line) = publish(
        config()
            .region(Region::new("eu-west-1"))
            .credentials_provider(credentials())
            .endpoint_url(UNREACHABLE)
            .build(),
    )
    .await;
    assert_eq!(k, Kind::Unreachable, "{line}");
    assert!(
        line.starts_with("Publish: cannot reach http://127.0.0.1:9 (") && line.contains("Connection refused"),
        "{line}"
    );
    assert!(line.ends_with("check the network, proxy or --endpoint-url"), "{line}");
    clean(&line);
}
