//! moto's SQS, made safe for the suites that send while consumers delete (RELIABILITY.md, the
//! long chaos run's wrong final state).
//!
//! moto 5.2.5 runs each request on its own thread; `Queue.delete_message` rebuilds the message
//! list without the lock `add_message` takes, so two overlapping deletes can drop a message sent
//! between them: it is never received by anyone. `tests/scripts/moto_sqs_lock.py` makes a delete
//! remove its message in place, under the queue's lock, instead of replacing the list (ADR 022),
//! and every `Moto::start` server loads it. These tests measure the loss in moto's own code with
//! and without the patch (an independent count: the messages left in the queue against those
//! sent), play the losing interleaving deterministically, check that a receive's retention check
//! reads one number instead of counting the whole queue nine times (moto's receive was quadratic
//! in the queue's depth), and check that the servers the suites start carry the patch. What moto
//! skips: nothing here is SQS; it is moto's own queue object, driven by threads in one process as
//! its server drives it.

use std::process::Command;

use patchplane_e2e::{Moto, root, venv_tool};

#[test]
fn a_message_sent_while_two_deletes_overlap_is_kept_under_the_queue_lock() {
    let out = Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts/moto_sqs_race.py"))
        .args(["1", "600", "300"])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    let lost = |mode: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(mode) && l.contains(": round "))
            .and_then(|l| l.rsplit("lost ").next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no line for {mode:?} in {text}"))
    };
    // moto as released loses some now and then (1 to 5 of 300–600 in the runs RELIABILITY.md
    // lists); it is printed, not asserted: a later moto may fix it.
    let _ = lost("moto as it is");
    assert_eq!(lost("deletes under the queue's lock"), 0, "{text}");
    // Deterministic, where the loss is not. The interleaving that loses a message, played in
    // one thread: while A's delete passes over the queue, B's delete runs whole and a message is
    // sent. Without the patch the message is gone (and B is back); with it only it is queued.
    assert!(
        text.contains("moto as it is: a message sent between two overlapping deletes is kept: False"),
        "{text}"
    );
    assert!(
        text.contains("deletes under the queue's lock: a message sent between two overlapping deletes is kept: True"),
        "{text}"
    );
    // And a delete started while another thread holds the queue's lock waits for it (without
    // the patch it does not): deletes and sends take turns on the list.
    assert!(
        text.contains("moto as it is: a delete waits for the queue's lock: False"),
        "{text}"
    );
    assert!(
        text.contains("deletes under the queue's lock: a delete waits for the queue's lock: True"),
        "{text}"
    );
    // Receives check retention by reading one number, not by building every queue attribute
    // (three counts over the whole queue each) three times per message; the answer is moto's: a
    // fresh message is received, one past the retention period is not.
    let retention = |mode: &str| -> (u64, String) {
        let line = text
            .lines()
            .find(|l| l.starts_with(mode) && l.contains(": retention: "))
            .unwrap_or_else(|| panic!("no retention line for {mode:?} in {text}"));
        let builds = line
            .split("sent and received ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no build count in {line}"));
        (builds, line.rsplit("received ").next().unwrap_or_default().to_owned())
    };
    let (before, past_before) = retention("moto as it is");
    let (after, past_after) = retention("deletes under the queue's lock");
    assert!(before >= after + 3, "{text}");
    let fresh = text
        .lines()
        .filter(|l| l.contains(": retention: ") && l.contains("a fresh message received True"))
        .count();
    assert_eq!(fresh, 2, "{text}");
    assert_eq!(
        (past_before.as_str(), past_after.as_str()),
        ("False", "False"),
        "{text}"
    );
}

#[test]
fn every_moto_the_suites_start_runs_its_deletes_under_the_lock() {
    let moto = Moto::start();
    // The launcher prints moto's installed delete before it serves; moto answering means the
    // line is there.
    let log = std::fs::read_to_string(&moto.log).expect("moto log");
    assert!(
        log.contains("Queue.delete_message is moto_sqs_lock._delete_message"),
        "moto was not started through tests/scripts/moto_server.py: {log}"
    );
    assert!(
        log.contains(
            "SQSBackend.is_message_valid_based_on_retention_period is \
             moto_sqs_lock._is_message_valid_based_on_retention_period"
        ),
        "{log}"
    );
}
