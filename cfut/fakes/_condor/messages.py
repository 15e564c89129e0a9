"""HTCondor's own words, verbatim, in one place: everything FakeCondor's tools print that is not an ad.

From the reference (``htcondor-cli.md``) and, where it is silent, the tools' format strings
(``src/condor_q.V6/queue.cpp``, ``src/condor_tools/history.cpp``, ``src/condor_rm.V6/rm.cpp``);
``{name}`` fields are filled with ``str.format``. docs/fidelity.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# -- what a busy or unreachable schedd makes each tool print (fail_next): (stdout, stderr); exit 1
TRANSIENT_FAILURES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "condor_submit": ("Submitting job(s)", "\nERROR: Failed to connect to local queue manager\n"
                      "CEDAR:6001:Failed to connect to <127.0.0.1:9618>\n"),
    "condor_q": ("", "\n-- Failed to fetch ads from: <127.0.0.1:9618> : localhost\n"
                 "CEDAR:6001:Failed to connect to <127.0.0.1:9618>\n"),
    "condor_history": ("", "Error opening history file /var/lib/condor/spool/history: "
                       "Resource temporarily unavailable\n"),
    "condor_rm": ("", "\nERROR: Failed to connect to local queue manager\n"),
    # printNoCollectorContact (condor_utils/print_wrapped_text.cpp callers), its first line: the
    # advice that follows it on a real pool is left out
    "condor_status": ("", "Error: Couldn't contact the condor_collector on localhost.\n"),
})

# -- condor_submit (reference 1.1, 1.2)
SUBMITTING = "Submitting job(s)"
SUBMITTED_CLUSTER = "{count} job(s) submitted to cluster {cluster}.\n"
OPEN_FAILED = "\nERROR: Failed to open command file ({path}) ({reason})\n"
NO_QUEUE = '\nERROR: "{name}" doesn\'t contain any "queue" commands -- no jobs queued\n'
#: Every queue statement queued nothing (``queue 0``): a warning only, not printed with -terse.
EMPTY_QUEUES = '\nWARNING: "{name}" has only empty "queue" commands -- no jobs queued\n'
SUBMIT_ERROR = "\nERROR: {message}\n"
PARSE_FAILED_AT = "\nERROR: Failed to parse command file (line {line}).\n"
HELD_AT_SUBMIT = "submitted on hold at user's request"

# -- condor_q (queue.cpp)
Q_UNRECOGNIZED = "Error: unrecognized argument {arg}\n"
Q_CONSTRAINT_MISSING = "Error: -constraint requires another parameter\n"
Q_FORMAT_MISSING = "Error: -format requires format and attribute parameters\n"
Q_AUTOFORMAT_MISSING = "Error: -autoformat requires at least one attribute parameter\n"
Q_LIMIT_MISSING = "Error: -limit requires the max number of results as an argument.\n"
Q_LIMIT_NOT_A_NUMBER = "Error: Unable to convert ({value}) to a number for -limit.\n"
Q_LIMIT_NOT_VALID = "Error: {value} is not a valid for -limit.\n"
XML_AND_JSON = "Error: Cannot print as both XML and JSON\n"
CONSTRAINT_PARSE_ERROR = '\n-- Parse error in constraint expression "{expr}"\n'

# -- condor_history (history.cpp)
H_UNKNOWN = "Error: Unknown argument {arg}\n"
H_CONSTRAINT_MISSING = "Error: Argument {arg} requires another parameter\n"
H_FORMAT_MISSING = ("Error: Argument -format requires a spec and classad attribute name as parameters.\n"
                    "\t\te.g. condor_history -format '%d' ClusterId\n")
H_AUTOFORMAT_MISSING = ("Error: Argument {arg} requires at least one attribute parameter\n"
                        "\t\te.g. condor_history {arg} ClusterId\n")
H_MATCH_MISSING = "Error: Argument -match requires a number value as a parameter.\n"

# -- condor_rm (rm.cpp; reference 4)
RM_REQUIRES_ARGUMENT = "condor_rm: {arg} requires another argument\n"
RM_UNRECOGNIZED = "Unrecognized option: {arg}\n"
RM_NO_JOBS_SPECIFIED = "You did not specify any jobs\n"
RM_MIX_ALL = "condor_rm: can't mix -all with other constraints\n"
RM_USAGE = (
    "Usage: condor_rm [options] [constraints]\n"
    " where [options] is zero or more of:\n"
    "  -help               Display this message and exit\n"
    "  -version            Display version information and exit\n"
    "  -long               Display full result classad\n"
    "  -totals             Display success/failure totals\n"
    "  -debug              Display debugging information while running\n"
    "  -name schedd_name   Connect to the given schedd\n"
    "  -pool hostname      Use the given central manager to find daemons\n"
    "  -addr <ip:port>     Connect directly to the given \"sinful string\"\n"
    "  -reason reason      Use the given RemoveReason\n"
    "  -forcex             Force the immediate local removal of jobs in the X state\n"
    "                      (only affects jobs already being removed)\n"
    " and where [constraints] is one of:\n"
    "  cluster.proc        remove the given job\n"
    "  cluster             remove the given cluster of jobs\n"
    "  user                remove all jobs owned by user\n"
    "  -constraint expr    remove all jobs matching the boolean expression\n"
    "  -all                remove all jobs (cannot be used with other constraints)\n"
)
RM_NO_JOBS_IN_QUEUE = "condor_rm:0:There are no jobs in the queue\n"
RM_MARKED = "Job {job} marked for removal"
RM_NOT_FOUND = "Job {job} not found"
RM_ALREADY_MARKED = "Job {job} already marked for removal"
RM_CLUSTER_MARKED = "All jobs in cluster {cluster} have been marked for removal"
RM_CLUSTER_NOT_FOUND = "Couldn't find/remove all jobs in cluster {cluster}"
RM_ALL_MARKED = "All jobs have been marked for removal"
RM_CONSTRAINT_MARKED = "All jobs matching constraint ({expr}) have been marked for removal"
RM_COULD_NOT_REMOVE = "\nCouldn't find/remove {what}\n"
REMOVE_REASON = "via condor_rm (by user {user})"
HOLD_REASON = "via condor_hold (by user {user})"
RELEASE_REASON = "via condor_release (by user {user})"
