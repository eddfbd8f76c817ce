"""moto's server application behind waitress, which keeps HTTP/1.1 connections alive as AWS
endpoints do; moto's own server (werkzeug) closes every connection, which would charge a TCP
connect to every call of whatever is measured against it (the bridge CPU benchmark). SQS deletes
remove in place under the queue's lock, as in `moto_server.py` (`moto_sqs_lock.py`).

usage: moto_keepalive.py PORT
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto_sqs_lock  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress import serve

moto_sqs_lock.apply()

# Enough threads for the bridge's eight 20-second long polls and everything else at once.
serve(DomainDispatcherApplication(create_backend_app), host="127.0.0.1", port=int(sys.argv[1]),
      threads=32, channel_timeout=60, _quiet=True)
