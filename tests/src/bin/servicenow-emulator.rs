//! The ServiceNow Table API emulator as a program, for running the bridge by hand:
//!
//! ```text
//! SERVICENOW_PASSWORD=… servicenow-emulator [--port 8081]
//! ```
//!
//! It listens on 127.0.0.1 only and accepts basic auth as `patchplane` and OAuth client
//! credentials as client `patchplane`, both with the secret in `SERVICENOW_PASSWORD`. Query it as
//! you would ServiceNow: `GET /api/now/table/incident?sysparm_query=active=true`.

use patchplane_e2e::servicenow::Emulator;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port: u16 = 8081;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().map(|v| v.parse::<u16>())) {
            ("--port", Some(Ok(p))) => port = p,
            _ => {
                eprintln!("usage: SERVICENOW_PASSWORD=… servicenow-emulator [--port PORT]");
                std::process::exit(2);
            }
        }
    }
    let Some(secret) = std::env::var("SERVICENOW_PASSWORD").ok().filter(|s| !s.is_empty()) else {
        eprintln!("error: set SERVICENOW_PASSWORD (the secret the emulator accepts)");
        std::process::exit(2);
    };
    let snow = Emulator::start_on(port, "patchplane", &secret, "patchplane", &secret);
    println!(
        "ServiceNow emulator on {} (basic user `patchplane`; Ctrl-C stops it)",
        snow.url
    );
    loop {
        std::thread::park();
    }
}
