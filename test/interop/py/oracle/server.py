# CPython's own SyncManager server, the oracle of the differential tests (argv: address authkey).
# address is a Unix socket path; prints "ready" once listening, serves until killed.
from __future__ import print_function
import sys
from multiprocessing.managers import SyncManager

server = SyncManager(address=sys.argv[1], authkey=sys.argv[2].encode('ascii')).get_server()
print('ready', sys.argv[1])
sys.stdout.flush()
server.serve_forever()
