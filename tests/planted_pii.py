"""Personal data planted into real Stack Exchange pairs, in the formats forum posts write it,
seeded so every run sees the same set; shared by tests/lib/test_pii.py and bench/pii.py.

Phone numbers come from libphonenumber's own example numbers for many countries, written
in international, E.164 and (for the US) national forms, with the separators people use.
Card numbers are the networks' published test numbers and Luhn-valid numbers with real
prefixes; IBANs are the registry's example accounts; the rest are written here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import phonenumbers

from webinstruct.lib.math_spans import math_spans

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
REGIONS = ["US", "GB", "DE", "FR", "IN", "BR", "AU", "JP", "ES", "IT", "NL", "CA", "MX", "ZA", "SE", "PL", "CH", "NG", "KR", "SG"]
EMAILS = ["john.doe@example.com", "j_smith+forum@mail.co.uk", "ALICE@Example.ORG", "bob-92@sub.domain.io", "m.rossi@uni.it",
          "first.last@students.univ-paris.fr", "x1234@gmail.com", "admin@mathforum.net", "li.wei@tsinghua.edu.cn",
          "o'neil@example.ie".replace("'", ""), "user_name@my-company.de", "k@a.co"]
CARDS = ["4111 1111 1111 1111", "4012888888881881", "5555 5555 5555 4444", "5105-1051-0510-5100", "3782 822463 10005",
         "371449635398431", "6011 1111 1111 1117", "6011-0009-9013-9424", "3530 1113 3330 0000", "4242424242424242",
         "2223 0031 2200 3222", "4000 0566 5566 5556"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606",
         "NL91ABNA0417164300", "ES9121000418450200051332", "IT60 X054 2811 1010 0000 0123 456", "CH9300762011623852957",
         "BE68539007547034", "AT611904300234573201", "SE4550000000058398257466", "PL61 1090 1014 0000 0712 1981 2874"]
IPS = ["192.168.1.20", "10.0.0.1", "8.8.8.8", "172.16.254.1", "203.0.113.7", "2001:db8::ff00:42:8329",
       "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "127.0.0.1", "198.51.100.23"]
SECRETS = ["https://alice:hunter2@git.example.com/repo.git", "https://api.example.com/v1/items?access_token=abcd1234efgh5678",
           "http://example.org/data?user=bob&api_key=XYZ987654321", "AKIAIOSFODNN7EXAMPLE",
           "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "https://site.example/reset?token=9f8e7d6c5b4a3210",
           "ftp://deploy:S3cr3t!@ftp.example.net/", "https://example.com/s3/file?X-Amz-Signature=0123456789abcdef0123",
           "sk-" + "Zx9" * 12, "https://hooks.example.com/call?sig=QWERTYUIOP1234"]
TEMPLATES = ["You can reach me at {} if anything is unclear.", "(contact: {})", "My details: {}.", "Send the files to {} please",
             "{}", "EDIT: moved, see {}", "Thanks! -- {}"]
PHONE_TEMPLATES = ["Call me at {}.", "phone: {}", "You can reach me on {} after 6pm.", "Tel. {}", "WhatsApp {}", "{} (mobile)",
                   "my number is {}"]


def phones(rng: random.Random) -> list[str]:
    out = []
    for region in REGIONS:
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) or \
            phonenumbers.example_number(region)
        out.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
        out.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    us = phonenumbers.parse("+1 650 253 0000")
    national = phonenumbers.format_number(us, phonenumbers.PhoneNumberFormat.NATIONAL)  # (650) 253-0000
    out += [national, "650-253-0000", "650.253.0000", "650 253 0000", "+1 (650) 253-0000", "1-650-253-0000", "6502530000"]
    rng.shuffle(out)
    return out


def planted(n_pairs: int = 700, seed: int = 0) -> list[dict]:
    """One planted value per item: {type, value, question, answer, field} built on real pairs."""
    rng = random.Random(seed)
    pairs = [json.loads(line) for line in open(DATA / "qa" / "stackmathqa_700.jsonl", encoding="utf-8")][:n_pairs]
    values = [("EMAIL", v) for v in EMAILS] + [("PHONE", v) for v in phones(rng)] + [("CREDIT_CARD", v) for v in CARDS] + \
        [("IBAN", v) for v in IBANS] + [("IP_ADDRESS", v) for v in IPS] + [("SECRET", v) for v in SECRETS]
    out = []
    for i, (kind, value) in enumerate(values * 3):  # each value three times, in different pairs and sentences
        pair = pairs[(i * 7919) % len(pairs)]
        template = rng.choice(PHONE_TEMPLATES if kind == "PHONE" and value.isdigit() else TEMPLATES + PHONE_TEMPLATES * (kind == "PHONE"))
        sentence = template.format(value)
        field = rng.choice(["question", "answer"])
        text = pair["Q"] if field == "question" else pair["A"]
        # at a line start outside any formula, where a post would put it
        starts = [0] + [j + 1 for j, c in enumerate(text) if c == "\n"]
        spans = math_spans(text)
        starts = [j for j in starts if not any(a < j < b for a, b in spans)] or [0]
        cut = rng.choice([starts[0], starts[len(starts) // 2], starts[-1]])
        text = text[:cut] + sentence + "\n" + text[cut:]
        out.append({"type": kind, "value": value, "field": field, "question": text if field == "question" else pair["Q"],
                    "answer": text if field == "answer" else pair["A"]})
    return out
