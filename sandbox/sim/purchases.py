"""What simulated customers buy: a customer, an address and 1–3 catalog lines, drawn from a seed.

Provider-neutral (the fields of ``ChannelOrder``); each channel renders them in its own
shape. The same seed always gives the same purchase, so tests can compare two shops.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

# (product_id, variant_id, sku, title, variant_title, price, grams)
CATALOG: tuple[tuple[int, int, str, str, str, str, int], ...] = (
    (7981234501, 43810000101, "ZP-LED-STRIP-5M", "LED Strip Lights 5m", "RGB", "18.99", 240),
    (7981234502, 43810000102, "ZP-PHONE-CASE-BLK", "Shockproof Phone Case", "Black", "9.99", 60),
    (7981234502, 43810000103, "ZP-PHONE-CASE-CLR", "Shockproof Phone Case", "Clear", "9.99", 60),
    (7981234503, 43810000104, "ZP-MASSAGE-GUN", "Mini Massage Gun", "Grey", "39.90", 650),
    (7981234504, 43810000105, "ZP-PET-BRUSH", "Self-Cleaning Pet Brush", "Default Title", "14.50", 180),
    (7981234505, 43810000106, "ZP-WATER-BTL-1L", "Insulated Water Bottle 1L", "Sage", "22.00", 420),
    (7981234506, 43810000107, "ZP-RING-LIGHT-10", "Ring Light 10in with Stand", "Default Title", "27.95", 900),
    (7981234507, 43810000108, "ZP-EARBUDS-TWS", "Wireless Earbuds", "White", "24.99", 120),
    (7981234508, 43810000109, "ZP-YOGA-MAT-6MM", "Yoga Mat 6mm", "Purple", "19.90", 1100),
    (7981234509, 43810000110, "ZP-CAR-MOUNT-MAG", "Magnetic Car Phone Mount", "Default Title", "11.99", 90),
    (7981234510, 43810000111, "ZP-SUNSET-LAMP", "Sunset Projection Lamp", "Default Title", "16.80", 300),
    (7981234511, 43810000112, "ZP-BACKPACK-ATB", "Anti-Theft Backpack", "Navy", "34.50", 850),
    (7981234512, 43810000113, "ZP-POSTURE-BELT-M", "Posture Corrector", "M", "12.90", 150),
    (7981234512, 43810000114, "ZP-POSTURE-BELT-L", "Posture Corrector", "L", "12.90", 160),
)

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo", "Chloe", "Amir",
    "Hannah", "Jonas", "Léa", "Yuki", "Priya", "Diego", "Fatima", "Oskar", "Grace", "Tariq", "Zoe", "Ivan",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "García", "Müller", "Martin", "Nguyen", "Brown", "Rossi", "Kowalski", "Dubois",
    "Silva", "Tanaka", "Williams", "Jones", "Schmidt", "Patel", "O'Brien", "Jensen", "Novak", "Taylor",
)  # fmt: skip
STREETS = ("Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road", "Elm Street", "Hill Crest")
EMAIL_DOMAINS = ("example.com", "mail.example.net", "example.org")

# (city, province, province_code, zip pattern, country, country_code, phone prefix)
PLACES: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Louisville", "Kentucky", "KY", "402##", "United States", "US", "+1502"),
    ("Austin", "Texas", "TX", "787##", "United States", "US", "+1512"),
    ("Portland", "Oregon", "OR", "972##", "United States", "US", "+1503"),
    ("Columbus", "Ohio", "OH", "432##", "United States", "US", "+1614"),
    ("Tampa", "Florida", "FL", "336##", "United States", "US", "+1813"),
    ("Denver", "Colorado", "CO", "802##", "United States", "US", "+1303"),
    ("Toronto", "Ontario", "ON", "M5V #A#", "Canada", "CA", "+1416"),
    ("Manchester", "", "", "M1 #AA", "United Kingdom", "GB", "+44161"),
    ("Berlin", "", "", "101##", "Germany", "DE", "+4930"),
    ("Melbourne", "Victoria", "VIC", "30##", "Australia", "AU", "+6139"),
)

SHIPPING_FLAT = Decimal("4.99")
FREE_SHIPPING_FROM = Decimal("50.00")


@dataclass(frozen=True)
class PurchaseLine:
    product_id: int
    variant_id: int
    sku: str
    title: str
    variant_title: str
    quantity: int
    price: str
    grams: int


@dataclass(frozen=True)
class Purchase:
    customer: dict[str, str]  # name, first_name, last_name, email, phone
    address: dict[str, str]  # address1, address2, city, province, province_code, zip, country, country_code
    lines: tuple[PurchaseLine, ...]
    currency: str
    subtotal: Decimal
    shipping: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping


# Letters a postcode may use wherever one is drawn: Canada's never has D F I O Q U, a British
# inward code never C I K M O V. Drawn from the old alphabet and mapped onto these, so a seed's
# random stream (and every later draw of its purchase) stays what it was.
DRAWN_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
POSTCODE_LETTERS = "ABEGHJLNPRSTWXYZ"


def _fill(pattern: str, rng: random.Random) -> str:
    def letter() -> str:
        return POSTCODE_LETTERS[DRAWN_LETTERS.index(rng.choice(DRAWN_LETTERS)) % len(POSTCODE_LETTERS)]

    return "".join(str(rng.randrange(10)) if c == "#" else letter() if c == "A" else c for c in pattern)


def purchase_draw(seed: int | str) -> Purchase:
    """One customer purchase, fully determined by ``seed``."""
    rng = random.Random(f"purchase:{seed}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, province, province_code, zip_pattern, country, country_code, phone_prefix = rng.choice(PLACES)
    digits = [str(rng.randrange(10)) for _ in range(7)]
    if phone_prefix.startswith("+1"):  # a North American exchange starts with 2-9
        digits[0] = str(2 + int(digits[0]) % 8)
    phone = phone_prefix + "".join(digits)  # a valid number of its country (phonenumbers)
    email_user = f"{first}.{last}".lower().replace("'", "").replace("é", "e").replace("í", "i").replace("ü", "u")
    customer = {
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "email": f"{email_user}{rng.randrange(100)}@{rng.choice(EMAIL_DOMAINS)}",
        "phone": phone,
    }
    address = {
        "address1": f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}",
        "address2": rng.choice(("", "", "", f"Apt {rng.randrange(1, 40)}")),
        "city": city,
        "province": province,
        "province_code": province_code,
        "zip": _fill(zip_pattern, rng),
        "country": country,
        "country_code": country_code,
        "phone": phone,
    }
    picks = rng.sample(CATALOG, k=rng.choice((1, 1, 1, 2, 2, 3)))
    lines = tuple(
        PurchaseLine(
            product_id=product_id,
            variant_id=variant_id,
            sku=sku,
            title=title,
            variant_title=variant_title,
            quantity=rng.choice((1, 1, 1, 2, 3)),
            price=price,
            grams=grams,
        )
        for product_id, variant_id, sku, title, variant_title, price, grams in picks
    )
    subtotal = sum((Decimal(line.price) * line.quantity for line in lines), Decimal("0.00"))
    shipping = Decimal("0.00") if subtotal >= FREE_SHIPPING_FROM else SHIPPING_FLAT
    return Purchase(
        customer=customer, address=address, lines=lines, currency="USD", subtotal=subtotal, shipping=shipping
    )
