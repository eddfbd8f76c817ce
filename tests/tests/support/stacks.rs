//! Creating a stack in moto, shared by the tests that deploy rendered templates (each includes this
//! file with `#[path]`; a folder below `tests/tests/` is not a test target of its own).

use aws_sdk_cloudformation::types::{Capability, StackStatus};

/// Creates stack `name` from `body` and waits for nothing (moto creates at once); panics unless it
/// is `CREATE_COMPLETE`; returns its outputs as (key, value).
pub async fn create_stack(cfn: &aws_sdk_cloudformation::Client, name: &str, body: &str) -> Vec<(String, String)> {
    cfn.create_stack()
        .stack_name(name)
        .template_body(body)
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create {name}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        });
    let stack = cfn.describe_stacks().stack_name(name).send().await.expect("describe");
    let stack = &stack.stacks()[0];
    assert_eq!(
        stack.stack_status(),
        Some(&StackStatus::CreateComplete),
        "{name}: {:?}",
        stack.stack_status_reason()
    );
    stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
