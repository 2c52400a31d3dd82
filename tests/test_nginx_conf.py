"""Reading log_format and access_log directives from real nginx configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from logtrace.errors import FormatError, NotFoundError
from logtrace.log_format.grammar import Escape
from logtrace.log_format.nginx_conf import read_nginx_conf
from tests.conftest import CORPUS


def test_corpus_config_formats_and_access_logs() -> None:
    conf = read_nginx_conf(str(CORPUS / "nginx.conf"))
    assert set(conf.formats) == {"combined", "trace", "jsonl", "raw"}
    assert conf.formats["jsonl"].escape is Escape.JSON
    assert conf.formats["raw"].escape is Escape.NONE
    assert conf.formats["trace"].text.startswith(
        '$remote_addr - $remote_user [$time_local] "$request" '
    )
    assert conf.formats["trace"].text.endswith("bbs=${body_bytes_sent}B")
    assert [(a.path, a.format_name) for a in conf.access_logs][:2] == [
        ("logs/combined.log", "combined"),
        ("logs/trace.log", "trace"),
    ]


@pytest.mark.parametrize(
    ("log", "fmt"),
    [
        ("trace.log", "trace"),
        ("json.log.1", "jsonl"),
        ("/x/raw.log.2.gz", "raw"),
        ("other.log", None),
    ],
)
def test_a_file_is_matched_to_the_format_of_the_access_log_writing_it(
    log: str, fmt: str | None
) -> None:
    conf = read_nginx_conf(str(CORPUS / "nginx.conf"))
    found = conf.format_for_log(log)
    assert (found.name if found else None) == fmt


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_include_globs_comments_and_name_lookup_ignoring_case(tmp_path: Path) -> None:
    write(tmp_path, "conf.d/a.conf", "log_format Main '$status';  # a comment\n")
    write(tmp_path, "conf.d/b.conf", "log_format other escape=json '{\"s\":$status}';\n")
    main = write(
        tmp_path,
        "nginx.conf",
        "http {\n  # log_format commented '$nope';\n  include conf.d/*.conf;\n"
        "  server { access_log /var/log/x.log MAIN buffer=32k; access_log off;\n"
        "           access_log syslog:server=127.0.0.1 main; access_log /var/log/y.log; }\n}\n",
    )
    conf = read_nginx_conf(str(main))
    assert set(conf.formats) == {"combined", "Main", "other"}
    assert conf.format("MAIN").text == "$status"
    assert [(a.path, a.format_name) for a in conf.access_logs] == [
        ("/var/log/x.log", "MAIN"),
        ("/var/log/y.log", "combined"),
    ]
    assert conf.format_for_log("x.log") is not None


def test_multiline_format_with_mixed_quotes(tmp_path: Path) -> None:
    main = write(
        tmp_path,
        "nginx.conf",
        "http {\n log_format m '$remote_addr \"$request\" '\n"
        "                 \"'$http_referer' \"\n   '$status';\n}\n",
    )
    assert (
        read_nginx_conf(str(main)).format("m").text
        == "$remote_addr \"$request\" '$http_referer' $status"
    )


def test_duplicate_name_keeps_the_first_and_combined_cannot_be_redefined(tmp_path: Path) -> None:
    first = write(tmp_path, "a.conf", "log_format x '$status'; log_format x '$msec';")
    assert read_nginx_conf(str(first)).format("x").text == "$status"
    bad = write(tmp_path, "b.conf", "log_format combined '$status';")
    with pytest.raises(FormatError, match='duplicate "log_format" name "combined"'):
        read_nginx_conf(str(bad))


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "c.conf", "\n\nlog_format x '${status';\n")
    with pytest.raises(FormatError, match=r"c.conf:3: log_format x"):
        read_nginx_conf(str(bad))
    with pytest.raises(NotFoundError):
        read_nginx_conf(str(CORPUS / "nginx.conf")).format("nope")


ROUTING = """
http {
    log_format trace '$remote_addr [$time_local] "$request" $status $request_time '
                     '$http_x_request_id';
    access_log /var/log/nginx/all.log trace;
    include servers/*.conf;
    server {
        listen 81;
        location /a/ { proxy_pass http://b/; }
    }
}
"""
PROXY_SERVER = """
server {
    access_log /var/log/nginx/proxy.access.log trace;
    location /users-svc/ { proxy_pass http://users/; }
    location = /exact/ { proxy_pass http://orders/api/; }
    location /keep/ { proxy_pass http://keep; }
    location /legacy/ { rewrite ^/legacy/(.*)$ /new/$1 break; proxy_pass http://new; }
    location /old/ { rewrite ^/old/(.*)$ /new/$1 permanent; }
    location ~ ^/re/ { proxy_pass http://x/y/; }
    location /var/ { proxy_pass http://$host/z/; }
}
"""


def test_locations_that_rewrite_paths_are_read_with_the_logs_their_server_writes(
    tmp_path: Path,
) -> None:
    (tmp_path / "servers").mkdir()
    (tmp_path / "nginx.conf").write_text(ROUTING)
    (tmp_path / "servers" / "proxy.conf").write_text(PROXY_SERVER)
    config = read_nginx_conf(str(tmp_path / "nginx.conf"))
    found = {(r.prefix, r.replacement, r.access_logs) for r in config.rewrites}
    proxy = ("/var/log/nginx/proxy.access.log",)
    assert found == {
        ("/users-svc", "", proxy),  # the location's prefix replaced by proxy_pass's URI
        ("/exact", "/api", proxy),
        ("/legacy", "/new", proxy),  # rewrite ... break
        ("/a", "", ("/var/log/nginx/all.log",)),  # a server without access_log inherits
    }
    # no URI part, redirects, regex locations and variables change no path we can know
    assert [r.prefix for r in config.rewrites_for_log("logs/proxy.access.log.2.gz")] == [
        "/users-svc",
        "/exact",
        "/legacy",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "events {}\nhttp {\n}\nworker_processes\n  4\n\n",
        "events {}\nworker_processes 4",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
    ],
)
def test_a_directive_left_open_at_the_end_is_an_error_where_nginx_says(
    tmp_path: Path, text: str
) -> None:
    """A file whose last directive has no ';' (not an nginx.conf at all: /etc/passwd) is
    an error at the line ``nginx -t`` names, not a configuration of nothing."""
    import re
    import subprocess

    from tests.conftest import need_nginx

    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    with pytest.raises(FormatError, match="unexpected end of file") as caught:
        read_nginx_conf(str(conf))
    ours = int(caught.value.message.split(":")[1])
    need_nginx()
    nginx = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-e", "stderr"],
        capture_output=True, text=True, timeout=30, check=False, env={"PATH": "/usr/sbin:/usr/bin"},
    )  # fmt: skip
    found = re.search(r"unexpected end of file.* in .*:(\d+)", nginx.stderr)
    assert found is not None, nginx.stderr
    assert ours == int(found[1])
