"""moto 5.2.5's SQS loses messages under concurrent requests; `apply()` closes the hole.

moto's server runs each request on its own thread. `Queue.add_message` appends under the queue's
lock, but `Queue.delete_message` rebuilds the message list without it: it copies every message
but the deleted one into a new list, then assigns the new list. When two deletes overlap, the
later one can assign a list it copied before a send appended to the list the earlier one had
installed: the sent message is gone, never received by anyone, and SQS would never do that.
A consumer that deletes while a producer sends (the chaos suite: three bridges and a sender)
loses a message now and then through no fault of its own (RELIABILITY.md; measured by
`moto_sqs_race.py`).

`apply()` replaces `delete_message` with one that never replaces the list: it finds the messages
that had the receipt handle (moto's own test, `had_receipt_handle`) by reading the list, then
removes them from that same list in place, under the queue's lock (moto's own reentrant
condition), so a delete and a send take turns on the list and nothing is copied. Reading needs no
lock: a message appended meanwhile is not the one being deleted. The slow part, the pass over
every queued message, stays outside the lock: the first version ran moto's whole delete under
it, and with thousands of messages queued the long chaos run's sends waited so long behind the
deletes that it ran for hours (ADR 022). What a caller sees is moto's: a handle already deleted
is accepted again, a handle no message ever had raises `ReceiptHandleIsInvalid`.

`apply()` also makes receives linear again. For every message it hands out, moto's receive checks
the queue's retention period through `get_queue_attributes(queue, ["MessageRetentionPeriod"])`,
which builds every attribute of the queue three times, each build counting the visible, delayed
and in-flight messages with two clock reads per message: nine passes over the whole queue per
message received. With thousands queued that was nearly all of moto's CPU in the long chaos run
(`py-spy`: 95% of samples under `Queue.attributes`), and a receive slowed as the queue grew. The
patch reads the same number from the queue (`Queue.message_retention_period`, the field that
attribute is built from) and applies moto's own test: a message is received while its sent time
plus the retention period is after now.
"""

from moto.core.utils import unix_time
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Queue, SQSBackend


def _delete_message(self, receipt_handle):
    if receipt_handle in self.deleted_messages:
        # Already deleted: moto accepts it again, as SQS does.
        return
    found = [m for m in list(self._messages) if m.had_receipt_handle(receipt_handle)]
    if not found:
        raise ReceiptHandleIsInvalid()
    with self._messages_lock:
        for message in found:
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            try:
                self._messages.remove(message)
            except ValueError:
                # A delete of the same handle that overlapped this one removed it first.
                pass


def _is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_period = self.get_queue(queue_name).message_retention_period
    return retention_period + message.sent_timestamp / 1000 > unix_time()


def apply():
    """Makes every queue's deletes remove in place under the queue's lock, and the retention check
    of a receive read one number (idempotent)."""
    if Queue.delete_message is not _delete_message:
        Queue.delete_message = _delete_message
    if SQSBackend.is_message_valid_based_on_retention_period is not _is_message_valid_based_on_retention_period:
        SQSBackend.is_message_valid_based_on_retention_period = _is_message_valid_based_on_retention_period
