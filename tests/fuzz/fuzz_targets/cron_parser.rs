//! Any text as an EventBridge/SSM cron expression: parsing never panics, and what parses prints
//! back to an expression that parses to the same schedule, whose next dates can be listed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patchplane::cron::Cron;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = Cron::parse(text) {
        assert_eq!(Cron::parse(c.as_str()).expect("printed form parses"), c);
        let start = jiff::civil::date(2026, 1, 1);
        let _ = c.dates_from(start, 5, 400);
    }
});
