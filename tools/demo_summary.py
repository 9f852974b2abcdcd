"""Print where the demo's report and e-mail are, and fail if either is missing."""
import email
import json
import sys
from email import policy
from pathlib import Path

output, maildir = Path(sys.argv[1]), Path(sys.argv[2])
manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
mails = sorted(maildir.glob("*.eml"))
if not mails:
    sys.exit(f"No e-mail reached the SMTP sink ({maildir})")
message = email.message_from_bytes(mails[-1].read_bytes(), policy=policy.default)
attachments = [part.get_filename() for part in message.iter_attachments()]
submitted = sum(1 for unit in manifest["units"] if unit["status"] == "submitted")
print()
print(f"季度 / quarter:           {manifest['quarter']}")
print(f"报送单位 / submitted:     {submitted}/{len(manifest['units'])}")
print(f"汇总报表 / report:        {output.parent / manifest['report']}")
print(f"清单 / manifest:          {output / 'manifest.json'}")
print(f"邮件 / e-mail received:   {mails[-1]}")
print(f"  主题 / subject:         {message['subject']}")
print(f"  收件人 / to:            {message['to']}")
print(f"  附件 / attachment:      {', '.join(attachments)}")
