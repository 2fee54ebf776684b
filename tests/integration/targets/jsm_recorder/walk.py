"""Assert the statuses a change went through on the JSM simulator, oldest first, read from the Service Management
request's status history (GET /rest/servicedeskapi/request/KEY/status, newest first), as the admin.

python walk.py URL CA_FILE AUTHORIZATION KEY 'Open,Awaiting implementation,Implementing,Review,Failed'
"""

import json
import ssl
import sys
import urllib.request

URL, CA, AUTHORIZATION, KEY, EXPECTED = sys.argv[1:6]
request = urllib.request.Request(f"{URL}/rest/servicedeskapi/request/{KEY}/status?limit=50",
                                 headers={"Authorization": AUTHORIZATION, "Accept": "application/json"})
with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=CA), timeout=30) as answer:
    walked = [entry["status"] for entry in reversed(json.load(answer)["values"])]
if walked != EXPECTED.split(","):
    sys.exit(f"{KEY} went through {walked}, expected {EXPECTED.split(',')}")
print(f"{KEY}: {' -> '.join(walked)}")
