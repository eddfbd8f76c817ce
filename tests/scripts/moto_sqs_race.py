"""Measures the message loss `moto_sqs_lock.py` closes, in moto's own SQS code, in one process.

A queue holds PRE received messages. Two threads delete them (as two requests of moto's threaded
server would) while a third sends NEW messages. Then it counts the sent messages that are gone
from the queue though nobody deleted them: first with moto as it is, then with the patch (a
delete removes its message in place, under the queue's lock). SQS loses none.

usage: moto_sqs_race.py [ROUNDS [PRE NEW]]   (prints, for each mode, three deterministic probes:
whether a delete waits for the lock, how a receive checks retention, and whether a message sent
between two overlapping deletes is kept; then one line per round with its time)
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto_sqs_lock  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402


def delete_waits_for_the_lock() -> bool:
    """Whether a delete waits while another thread holds the queue's lock (deterministic)."""
    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("lock-check")
    backend.send_message("lock-check", "m")
    handle = backend.receive_message("lock-check", 1, 0, 60)[0].receipt_handle
    deleted = threading.Event()
    with queue._messages_lock:
        t = threading.Thread(target=lambda: (backend.delete_message("lock-check", handle), deleted.set()))
        t.start()
        waited = not deleted.wait(0.5)
    t.join()
    backend.delete_queue("lock-check")
    return waited


def kept_between_overlapping_deletes() -> bool:
    """Whether a message sent between two overlapping deletes stays queued (deterministic).

    One thread plays the interleaving the race needs: while the delete of A passes over the
    queue, the delete of B runs whole and a message is sent, then A's delete ends.
    """
    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("overlap-check")
    backend.send_message("overlap-check", "a")
    backend.send_message("overlap-check", "b")
    received = backend.receive_message("overlap-check", 2, 0, 60)
    ha, hb = (m.receipt_handle for m in received)
    a, b = queue._messages
    fired = []
    own = b.had_receipt_handle

    def meanwhile(handle):
        # Called on B while A's delete passes over the list, the first time only.
        if handle == ha and not fired:
            fired.append(True)
            backend.delete_message("overlap-check", hb)
            backend.send_message("overlap-check", "sent-between")
        return own(handle)

    b.had_receipt_handle = meanwhile
    backend.delete_message("overlap-check", ha)
    bodies = sorted(m.body for m in queue._messages)
    backend.delete_queue("overlap-check")
    return bool(fired) and bodies == ["sent-between"]


def retention_probe() -> str:
    """How a receive checks retention: the queue-attribute builds for one message sent and
    received, and whether a fresh message and one past the retention period are received
    (deterministic)."""
    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("retention-check", MessageRetentionPeriod="60")
    builds = []
    cls = type(queue)
    own = cls.attributes
    cls.attributes = property(lambda q: (builds.append(1), own.fget(q))[1])
    try:
        backend.send_message("retention-check", "fresh")
        fresh = [m.body for m in backend.receive_message("retention-check", 1, 0, 60)]
        per_message = len(builds)
        old = backend.send_message("retention-check", "old")
        old.sent_timestamp -= 61_000
        past = [m.body for m in backend.receive_message("retention-check", 1, 0, 60)]
    finally:
        cls.attributes = own
        backend.delete_queue("retention-check")
    return (
        f"attribute builds for one message sent and received {per_message}, "
        f"a fresh message received {fresh == ['fresh']}, a message past retention received {past == ['old']}"
    )


def round_(name: str, pre: int, new: int) -> tuple[int, float]:
    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue(name)
    for i in range(pre):
        backend.send_message(name, f"pre{i}")
    # Received, as a receive leaves them (moto's own receive copies every message: slow).
    for m in list(queue._messages):
        m.mark_received(visibility_timeout=3600)
    handles = [m.receipt_handle for m in queue._messages]
    sent, done, t0 = [], threading.Event(), time.monotonic()

    def sender():
        for i in range(new):
            backend.send_message(name, f"new{i}")
            sent.append(f"new{i}")
            time.sleep(0.001)
        done.set()

    def deleter(hs):
        for h in hs:
            if done.is_set():
                return
            backend.delete_message(name, h)

    threads = [
        threading.Thread(target=sender),
        threading.Thread(target=deleter, args=(handles[0::2],)),
        threading.Thread(target=deleter, args=(handles[1::2],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    present = {m.body for m in queue._messages}
    backend.delete_queue(name)
    return sum(1 for s in sent if s not in present), time.monotonic() - t0


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    pre, new = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1500, 600)
    # Switch threads as often as the interpreter can, so requests interleave as under load.
    sys.setswitchinterval(1e-6)
    for mode in ["moto as it is", "deletes under the queue's lock"]:
        if mode != "moto as it is":
            moto_sqs_lock.apply()
        print(f"{mode}: a delete waits for the queue's lock: {delete_waits_for_the_lock()}", flush=True)
        print(f"{mode}: retention: {retention_probe()}", flush=True)
        kept = kept_between_overlapping_deletes()
        print(f"{mode}: a message sent between two overlapping deletes is kept: {kept}", flush=True)
        for r in range(rounds):
            lost, took = round_(f"race-{r}-{len(mode)}", pre, new)
            print(
                f"{mode}: round {r + 1}: sent {new} while two threads deleted {pre} in {took:.2f} s: lost {lost}",
                flush=True,
            )


if __name__ == "__main__":
    main()
