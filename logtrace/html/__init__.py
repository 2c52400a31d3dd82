"""``logtrace report``: the analysis as one self-contained HTML page.

The page carries its data as one JSON document (the ``analyze --json`` report, the
insights and the slowest requests' traces) inside ``<script type="application/json">``,
and one inline script draws everything from it: tables, SVG charts and waterfalls. No
file, font or script is fetched; a Content-Security-Policy allows only that one script
and that one style sheet (by their hashes), so log text can never run as code.
"""

from logtrace.html.data import report_data
from logtrace.html.page import render_page

__all__ = ["render_page", "report_data"]
