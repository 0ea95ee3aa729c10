"""Room mode (``make room``): the address phones open, the presenter link, the join code.

:func:`prepare` turns ``python -m app_ui.serve --room``'s options into the server's: every
interface (Streamlit's own wildcard, IPv4 and IPv6), the machine's LAN address read from its
interfaces (``SIOCGIFADDR`` on each: nothing is sent anywhere) given to Streamlit as
``browser.serverAddress`` (so it prints that address and looks up no external one), and the
presenter key kept in this process only (``app_ui.rights``). It prints the audience address,
a QR code of it and the presenter link. Home shows the presenter the same QR code, large
(:func:`join_code_png`, drawn by ``segno`` on the server: no network, no CDN).
"""

from __future__ import annotations

import fcntl
import io
import ipaddress
import os
import secrets
import socket
import struct
import sys
from pathlib import Path
from urllib.parse import quote

SIOCGIFFLAGS, SIOCGIFADDR = 0x8913, 0x8915
IFF_UP, IFF_LOOPBACK = 0x1, 0x8
ROOM_URL = "COMPOSER_ROOM_URL"   # the audience address, for Home's join code
DEFAULT_PORT = 8501


def interface_addresses() -> list[tuple[str, str]]:
    """``(interface, IPv4 address)`` of every interface that is up, loopback excluded."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a handle for ioctl: never sends
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack("H", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request)[16:18])[0]
                if not flags & IFF_UP or flags & IFF_LOOPBACK:
                    continue
                address = socket.inet_ntoa(fcntl.ioctl(s.fileno(), SIOCGIFADDR, request)[20:24])
            except OSError:  # no IPv4 address on this interface
                continue
            found.append((name, address))
    return found


def lan_address() -> str | None:
    """The address phones on the same network reach this machine at: a private (LAN) address
    first, else any other that is not loopback or link-local; ``None`` with no network."""
    ranked = []
    for name, address in interface_addresses():
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
            continue
        ranked.append((not ip.is_private, name.startswith(("docker", "br-", "veth", "virbr")), address))
    return min(ranked)[2] if ranked else None


def audience_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


def presenter_link(url: str, key: str) -> str:
    return f"{url}?key={quote(key, safe='')}"


def join_code_png(url: str, scale: int = 12) -> bytes:
    """A QR code of ``url`` as PNG, ``scale`` pixels a module (about 400 px for a LAN address)."""
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _private_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def prepare(argv: list[str], out=None) -> list[str]:
    """Room mode for this server process; returns the Streamlit options to serve it with."""
    from app_ui import rights
    from core.paths import data_dir

    out = out or sys.stdout
    given = os.environ.pop("COMPOSER_PRESENTER_KEY", "").strip()   # not inherited by jobs
    key = given or secrets.token_urlsafe(16)
    rights.set_presenter_key(key)
    os.environ["COMPOSER_ROOM"] = "1"
    port = int(_option(argv, "--server.port") or DEFAULT_PORT)
    host = lan_address()
    extra = []
    if _option(argv, "--browser.serverAddress") is None:
        extra = ["--browser.serverAddress", host or "localhost"]
    url = audience_url(_option(argv, "--browser.serverAddress") or host or "localhost", port)
    os.environ[ROOM_URL] = url
    print(f"\n  Composer Studio, room mode: every interface, port {port}", file=out)
    if host is None:
        print("  No network found (only loopback): phones cannot reach this machine yet.", file=out)
    print(f"  Audience (phones, the projector): {url}", file=out)
    if given:
        print(f"  Presenter: {url}?key=<COMPOSER_PRESENTER_KEY>", file=out)
    elif getattr(out, "isatty", lambda: False)():
        print(f"  Presenter (keep it to yourself): {presenter_link(url, key)}", file=out)
    else:  # output going to a file: the key stays out of it
        link_file = data_dir() / "presenter-link.txt"
        _private_file(link_file, presenter_link(url, key))
        print(f"  Presenter link: in {link_file} (readable by you only)", file=out)
    try:
        import segno

        segno.make(url, error="m").terminal(out=out, compact=True)
    except Exception:  # the QR code in the terminal is a convenience; Home shows it too
        pass
    out.flush()
    return [*extra, *argv]


def show_join_code() -> None:
    """Home, for the presenter in room mode: the audience address as a QR code, large."""
    import streamlit as st

    url = os.environ.get(ROOM_URL)
    if not url:
        return
    with st.container(border=True):
        code, words = st.columns([2, 3], vertical_alignment="center")
        code.image(join_code_png(url), width=440, caption="Scan to join")
        words.markdown(f"### Join on your phone\n## `{url}`\nScan the code or type the address: "
                       "compose, and follow the training live. (Phones do not show this box.)")
