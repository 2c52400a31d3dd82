"""The nginx log formats the variants write, and the time zones hosts run in."""

from __future__ import annotations

from topology.model import NginxLog

COMBINED_FORMAT = (
    "$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)
# The edge format users have (logtrace's `trace` preset): no $msec, so an edge span's
# start is known to ±1 s.
EDGE_TRACE_FORMAT = COMBINED_FORMAT + " $request_time $upstream_response_time $request_id"
# The precise edge format: exact start times and per-attempt upstream lists.
EDGE_TIMING_FORMAT = (
    COMBINED_FORMAT + " rt=$request_time msec=$msec rid=$request_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time" '
    'uct="$upstream_connect_time" uht="$upstream_header_time"'
)
MESH_FORMAT = (
    '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
    "rt=$request_time msec=$msec xrid=$http_x_request_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"'
)
# An internal proxy written like the edge's `trace`, knowing the id from the header.
PROXY_TRACE_FORMAT = COMBINED_FORMAT + " $request_time $upstream_response_time $http_x_request_id"
# The mesh without $msec: whole-second timestamps at the internal hop too.
COARSE_MESH_FORMAT = (
    '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
    "rt=$request_time xrid=$http_x_request_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"'
)
EDGE_CORRELATION_FORMAT = (
    COMBINED_FORMAT + " rt=$request_time urt=$upstream_response_time cid=$correlation_id"
)
MESH_CORRELATION_FORMAT = (
    '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
    "rt=$request_time msec=$msec cid=$http_x_correlation_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"'
)
# The edge log of the verified traceparent config (shared/reference, tracing §5.3).
EDGE_TRACEPARENT_FORMAT = (
    '{"ts":"$msec","rt":"$request_time","req_id":"$request_id",'
    '"trace_id":"$trace_id","span_id":"$ngx_span_id","parent_span_id":"$parent_span_id",'
    '"in_traceparent":"$http_traceparent","in_x_request_id":"$http_x_request_id",'
    '"method":"$request_method","uri":"$uri","status":$status,"upstream":"$upstream_addr",'
    '"urt":"$upstream_response_time","uct":"$upstream_connect_time",'
    '"uht":"$upstream_header_time"}'
)
MESH_TRACEPARENT_FORMAT = (
    '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
    'rt=$request_time msec=$msec traceparent="$http_traceparent" '
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"'
)

EDGE_FORMATS: dict[str, str] = {"trace": EDGE_TRACE_FORMAT, "timing": EDGE_TIMING_FORMAT}

EDGE_TRACE = NginxLog("trace", EDGE_TRACE_FORMAT)
EDGE_TIMING = NginxLog("timing", EDGE_TIMING_FORMAT)
MESH = NginxLog("mesh", MESH_FORMAT)
COARSE_MESH = NginxLog("mesh", COARSE_MESH_FORMAT)
PROXY_TRACE = NginxLog("trace", PROXY_TRACE_FORMAT)
EDGE_CORRELATION = NginxLog("main", EDGE_CORRELATION_FORMAT)
MESH_CORRELATION = NginxLog("mesh", MESH_CORRELATION_FORMAT)
EDGE_TRACEPARENT = NginxLog("trace", EDGE_TRACEPARENT_FORMAT, escape_json=True)
MESH_TRACEPARENT = NginxLog("mesh", MESH_TRACEPARENT_FORMAT)

NGINX_TZ = "America/St_Johns"  # a -03:30 offset, so time-zone handling is exercised
APP_TZ = "UTC"
