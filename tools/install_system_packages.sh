#!/usr/bin/env bash
# Debian packages the tests use: PostgreSQL and Redis (integration runs), Chromium (browser
# tests), LibreOffice Calc + poppler + CJK fonts (report rendering),
# LibreOffice Writer (legacy .doc/.wps forms converted to .docx, wcreport.intake.doc_reader), Dovecot (a private IMAP server
# for the mailbox tests, started by wcreport_testing.dovecot), Tesseract with Simplified Chinese
# (OCR of stamped copies, wcreport.intake.stamped). Skips what is already there.
set -euo pipefail
PACKAGES=(postgresql redis-server chromium chromium-driver libreoffice-calc-nogui libreoffice-writer-nogui poppler-utils fonts-noto-cjk dovecot-imapd tesseract-ocr tesseract-ocr-chi-sim python3-uno libreoffice-script-provider-python fonts-crosextra-carlito)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
