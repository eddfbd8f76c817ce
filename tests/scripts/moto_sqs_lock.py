"""moto 5.2.5's SQS loses messages under concurrent requests; `apply()` closes the hole.

moto's server runs each request on its own thread. `Queue.add_message` appends under the queue's
lock, but `Queue.delete_message` rebuilds the message list without it: it copies every message
but the deleted one into a new list, then assigns the new list. When two deletes overlap, the
later one can assign a list it copied before a send appended to the list the earlier one had
installed: the sent message is gone, never received by anyone, and SQS would never do that.
A consumer that deletes while a producer sends (the chaos suite: three bridges and a sender)
loses a message now and then through no fault of its own (RELIABILITY.md; measured by
`moto_sqs_race.py`). `apply()` runs `delete_message` under the queue's lock, so deletes and sends
take turns. Nothing else changes: the lock is moto's own (a reentrant condition).
"""

from moto.sqs.models import Queue

_unsafe_delete = Queue.delete_message


def _delete_message(self, receipt_handle):
    with self._messages_lock:
        return _unsafe_delete(self, receipt_handle)


def apply():
    """Makes every queue's deletes take the queue's lock (idempotent)."""
    if Queue.delete_message is not _delete_message:
        Queue.delete_message = _delete_message
