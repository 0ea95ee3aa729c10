"""Shared bits of the Streamlit pages: settings, cached loading, the error boundary, result display.

Pages stay thin: widgets -> a call into ``core`` (often through a cached wrapper here) -> display.
Nothing here holds model or MIDI logic either; it caches and shows what ``core`` returns.
"""

from app_ui.settings import demo_mode, run_roots, upload_limit_mb
from app_ui.errors import action, explain, page_guard

__all__ = ["action", "demo_mode", "explain", "page_guard", "run_roots", "upload_limit_mb"]
