//! Any bytes as an SQS message body: decoding never panics, and an event that decodes has a
//! correlation key and a kind (what the bridge's ticket and ack depend on).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patchplane_bridge::decode::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode(data) {
        assert!(!d.correlation_key().is_empty());
        assert!(!d.event.kind().is_empty());
    }
});
