"""Reads an iCalendar feed on stdin with the `icalendar` library (not patchplane's code) and
prints its events as JSON: uid, start and end (UTC, ISO 8601), summary, description, categories."""
import json
import sys
from datetime import timezone

import icalendar

cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk("VEVENT"):
    cats = ev.get("CATEGORIES")
    cats = cats.cats if cats is not None and hasattr(cats, "cats") else []
    out.append({
        "uid": str(ev.get("UID")),
        "start": ev.decoded("DTSTART").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": ev.decoded("DTEND").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": str(ev.get("SUMMARY")),
        "description": str(ev.get("DESCRIPTION")),
        "location": str(ev.get("LOCATION")),
        "categories": [str(c) for c in cats],
    })
json.dump({"version": str(cal.get("VERSION")), "prodid": str(cal.get("PRODID")), "events": out}, sys.stdout)
