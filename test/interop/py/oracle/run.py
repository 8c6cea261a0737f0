# Every SyncManager type's operations, one process (argv: address authkey [section ...]).
from __future__ import print_function
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ops_queue, ops_sync, ops_list, ops_dict, ops_misc, ops_values, ops_arity

harness.main(ops_queue.SECTIONS + ops_sync.SECTIONS + ops_list.SECTIONS + ops_dict.SECTIONS + ops_misc.SECTIONS + ops_values.SECTIONS + ops_arity.SECTIONS)
