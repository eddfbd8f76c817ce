"""moto's own server (`moto_server`, werkzeug, one thread per request), with its SQS deletes
made safe against concurrent sends and its receives linear in the queue (`moto_sqs_lock.py`).
Every test's moto starts here.

usage: moto_server.py -H HOST -p PORT
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto_sqs_lock  # noqa: E402
from moto.server import main  # noqa: E402
from moto.sqs.models import Queue, SQSBackend  # noqa: E402

moto_sqs_lock.apply()
# Read back from moto's class, so the line says what is installed, not what was meant.
print(f"moto_server.py: Queue.delete_message is {Queue.delete_message.__module__}.{Queue.delete_message.__name__}", flush=True)
retention = SQSBackend.is_message_valid_based_on_retention_period
print(f"moto_server.py: SQSBackend.is_message_valid_based_on_retention_period is {retention.__module__}.{retention.__name__}", flush=True)
main(sys.argv[1:])
