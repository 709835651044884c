#!/bin/sh
# Make sure Debian's Chromium and a CJK font are installed (for the browser tests).
# Idempotent: does nothing (quickly) when both are present. Needs root (or sudo) and apt-get.
set -eu

have_font() {
    command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wqy" && return 0
    [ -d /usr/share/fonts/truetype/wqy ]
}

if [ -x /usr/bin/chromium ] && have_font; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-browser: /usr/bin/chromium is missing and apt-get is not available;" \
         "install Chromium and a CJK font (fonts-wqy-microhei) by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure-browser: need root to run apt-get (run: sudo $0)" >&2
        exit 1
    fi
fi

echo "ensure-browser: installing chromium and fonts-wqy-microhei with apt-get…" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null

if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-browser: apt-get finished but /usr/bin/chromium is still missing" >&2
    exit 1
fi
echo "ensure-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed" >&2
