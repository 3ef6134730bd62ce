"""Deterministic demo company: ERP, bank and CRM files for a small B2B SaaS company.

``generate(out_dir, as_of=..., seed=42, scale=1)`` writes, under ``out_dir``::

    company.json
    erp/accounts.csv  erp/journal_lines.csv  erp/invoices.csv  erp/bills.csv  erp/payments.csv
    bank/bank_accounts.csv  bank/transactions.csv  bank/balances.csv
    crm/opportunities.csv   (canonical columns + a trailing internal ``updated_at``)
    budget.csv              (the budget: per revenue / expense account and month, plus net_burn per month)

Every CSV has a header row with exactly the canonical column names (warehouse/sql/schema/canonical.sql
order), values as text, empty field = null, money as plain decimal strings with two decimals, dates ISO.

The same (as_of, seed, scale) always gives byte-identical files: one ``random.Random(seed)``, amounts
drawn as integer cents, no clock, no global random state, no set/dict-order dependence.

How it is built: a plan phase draws the customers, their contracts (and the CRM deals behind them),
the vendors' bill calendar and the company's fixed calendar (payroll, loan, funding, fees, depreciation);
then a day-by-day loop from the opening date to ``as_of`` runs the scheduled events. Posting an entry
writes its journal lines at once (so ``journal_lines.csv`` comes out sorted by posted_date, entry_id,
line_no with chronological entry ids) and schedules the bank line of every cash line at its bank date;
each day's bank lines are then written (sorted by booked_date, txn_id). Documents, payments and
balances are kept in memory and written at the end. See ``generate`` for the volume per scale.
"""

from __future__ import annotations

import csv
import json
import random
from calendar import monthrange
from datetime import date
from pathlib import Path

from connectors.periods import add_months
from connectors.records import CANONICAL

CURRENCY = "USD"
COMPANY_NAME = "Demo Co"

# ----------------------------------------------------------------------------------------------------
# Column orders: the canonical tables' (canonical.sql, read by connectors/records.py); each writer
# below yields its row values in this order
# ----------------------------------------------------------------------------------------------------
ACCOUNT_COLUMNS = CANONICAL["erp_accounts"]
JOURNAL_COLUMNS = CANONICAL["erp_journal_lines"]
INVOICE_COLUMNS = CANONICAL["erp_invoices"]
BILL_COLUMNS = CANONICAL["erp_bills"]
PAYMENT_COLUMNS = CANONICAL["erp_payments"]
BANK_ACCOUNT_COLUMNS = CANONICAL["bank_accounts"]
BANK_TRANSACTION_COLUMNS = CANONICAL["bank_transactions"]
BANK_BALANCE_COLUMNS = CANONICAL["bank_balances"]
BUDGET_COLUMNS = CANONICAL["budgets"]
# the CRM file carries one more, internal column (the server's updated_since filter reads it)
OPPORTUNITY_COLUMNS = (*CANONICAL["crm_opportunities"], "updated_at")
# the budget is drawn from its own generator (seed-derived), so the other files stay as they were
BUDGET_SEED_SALT = 0xB0D6E7
NON_CASH_EXPENSES = ("6800", "6850")  # depreciation, bad debt: left out of the planned net burn

# ----------------------------------------------------------------------------------------------------
# Chart of accounts
# ----------------------------------------------------------------------------------------------------
ACCOUNTS = (
    # account_id, name, type, subtype, parent_id
    ("1000", "Assets", "asset", None, None),
    ("1110", "Operating Account", "asset", "cash", "1000"),
    ("1120", "Payroll Account", "asset", "cash", "1000"),
    ("1200", "Accounts Receivable", "asset", "ar", "1000"),
    ("1500", "Property and Equipment", "asset", None, "1000"),
    ("1510", "Computer Equipment", "asset", "fixed_asset", "1500"),
    ("1590", "Accumulated Depreciation", "asset", "accumulated_depreciation", "1500"),
    ("2000", "Liabilities", "liability", None, None),
    ("2100", "Accounts Payable", "liability", "ap", "2000"),
    ("2200", "Accrued Liabilities", "liability", "accrued", "2000"),
    ("2500", "Term Loan", "liability", "debt", "2000"),
    ("3000", "Equity", "equity", None, None),
    ("3100", "Share Capital", "equity", "share_capital", "3000"),
    ("3200", "Retained Earnings", "equity", "retained_earnings", "3000"),
    ("4000", "Revenue", "revenue", None, None),
    ("4100", "Subscription Revenue", "revenue", "subscription", "4000"),
    ("4150", "Support Revenue", "revenue", "support", "4000"),
    ("4200", "Professional Services Revenue", "revenue", "services", "4000"),
    ("4300", "Hardware Revenue", "revenue", "hardware", "4000"),
    ("5000", "Cost of Revenue", "expense", "cogs", None),
    ("5100", "Hosting and Infrastructure", "expense", "cogs", "5000"),
    ("5200", "Hardware Cost", "expense", "cogs", "5000"),
    ("5300", "Contractor Delivery", "expense", "cogs", "5000"),
    ("6000", "Operating Expenses", "expense", None, None),
    ("6100", "Salaries and Wages", "expense", "payroll", "6000"),
    ("6110", "Payroll Taxes and Benefits", "expense", "payroll", "6000"),
    ("6200", "Rent and Facilities", "expense", "facilities", "6000"),
    ("6300", "Software and Subscriptions", "expense", "software", "6000"),
    ("6400", "Marketing and Advertising", "expense", "marketing", "6000"),
    ("6500", "Travel and Entertainment", "expense", "travel", "6000"),
    ("6600", "Professional Fees", "expense", "professional_fees", "6000"),
    ("6700", "Bank Fees", "expense", "bank_fees", "6000"),
    ("6800", "Depreciation", "expense", "depreciation", "6000"),
    ("6850", "Bad Debt Expense", "expense", "bad_debt", "6000"),
    ("6900", "Interest Expense", "expense", "interest", "6000"),
)
CASH_OPERATING, CASH_PAYROLL = "1110", "1120"
AR, AP, ACCRUED, LOAN = "1200", "2100", "2200", "2500"
SHARE_CAPITAL, RETAINED = "3100", "3200"
EQUIPMENT, ACCUM_DEP = "1510", "1590"
REV_SUB, REV_SUPPORT, REV_SERVICES, REV_HARDWARE = "4100", "4150", "4200", "4300"
SALARIES, PAYROLL_TAXES, BANK_FEES, DEPRECIATION, BAD_DEBT, INTEREST = (
    "6100",
    "6110",
    "6700",
    "6800",
    "6850",
    "6900",
)

# bank account id, name, gl account
BANK_ACCOUNTS = (
    ("BA-001", "Operating Account ••4821", CASH_OPERATING),
    ("BA-002", "Payroll Account ••7730", CASH_PAYROLL),
)
CASH_TO_BANK = {gl: i for i, (_, _, gl) in enumerate(BANK_ACCOUNTS)}

# ----------------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------------
NAME_FIRST = (
    "Acme",
    "Blue Harbor",
    "Summit",
    "Northwind",
    "Redwood",
    "Silverline",
    "Ironbridge",
    "Brightpath",
    "Cedar",
    "Pinnacle",
    "Granite",
    "Lakeside",
    "Horizon",
    "Evergreen",
    "Crescent",
    "Atlas",
    "Beacon",
    "Keystone",
    "Riverbend",
    "Sterling",
    "Oakridge",
    "Clearwater",
    "Highland",
    "Meridian",
    "Polaris",
    "Bluestone",
    "Fairview",
    "Westbrook",
    "Golden Gate",
    "Harborview",
    "Maple",
    "Sunrise",
    "Trident",
    "Vanguard",
    "Willow",
    "Copperfield",
    "Falcon",
    "Orion",
    "Sequoia",
    "Tidewater",
    "Aspen",
    "Bayside",
    "Cobalt",
    "Driftwood",
    "Emerald",
    "Frontier",
    "Glacier",
    "Hawthorne",
)
NAME_SECOND = (
    "Analytics",
    "Logistics",
    "Health",
    "Foods",
    "Manufacturing",
    "Energy",
    "Retail",
    "Labs",
    "Robotics",
    "Media",
    "Financial",
    "Software",
    "Systems",
    "Biotech",
    "Construction",
    "Hospitality",
    "Freight",
    "Dental",
    "Insurance",
    "Capital",
    "Networks",
    "Solar",
    "Pharma",
    "Outdoor",
    "Apparel",
    "Marine",
    "Aerospace",
    "Education",
    "Realty",
    "Consulting",
    "Brewing",
    "Diagnostics",
    "Packaging",
    "Telecom",
    "Agritech",
    "Mobility",
)
NAME_SUFFIX = ("Inc", "LLC", "Corp", "Co", "Group", "Ltd", "Holdings", "Partners")

OWNERS = ("Alex Morgan", "Priya Shah", "Jordan Lee", "Maria Gonzalez", "Sam Carter", "Noah Kim")
MODULES = ("Core Platform", "Analytics", "Integrations", "Automation", "Compliance", "Mobile Workforce", "API Access")
DEPARTMENTS = (
    ("Engineering", 17_000_000),
    ("Sales and Marketing", 9_500_000),
    ("Customer Success", 4_500_000),
    ("General and Administrative", 5_000_000),
)

# segment: weight, module price range ($), modules (min, max), seats range, services range ($100s),
# hardware units range
SEGMENTS = (
    ("SMB", 55, (200, 800), (2, 4), (5, 40), (20, 80), (2, 10)),
    ("Mid-Market", 35, (1000, 4000), (2, 5), (20, 150), (80, 300), (5, 40)),
    ("Enterprise", 10, (4000, 12000), (3, 6), (100, 600), (300, 900), (20, 120)),
)
# payment delay after the due date (days): low, high, weight
PAY_PROFILES = ((-12, 0, 20), (0, 10, 42), (8, 40, 33), (30, 75, 5))
RECEIPT_METHODS = ("ACH CREDIT", "ACH CREDIT", "WIRE IN", "CHECK DEPOSIT")

# Vendor templates: name, noun for generated clones, cadence, day(s), base monthly amount ($),
# payment terms (days), lines [(description, account, share %)]. cadence: "m" monthly, "2m" twice a
# month (days d1, d2), ("p", x) monthly with probability x, "q" quarterly (Jan/Apr/Jul/Oct).
VENDORS = (
    (
        "Amazon Web Services",
        "Cloud Services",
        "m",
        (3,),
        38_000,
        30,
        (
            ("EC2 compute", "5100", 55),
            ("S3 and EBS storage", "5100", 20),
            ("Data transfer", "5100", 15),
            ("Business support plan", "5100", 10),
        ),
    ),
    (
        "Google Cloud Platform",
        "Cloud",
        "m",
        (5,),
        9_000,
        30,
        (
            ("Compute Engine", "5100", 50),
            ("BigQuery", "5100", 30),
            ("Cloud Storage", "5100", 12),
            ("Network egress", "5100", 8),
        ),
    ),
    (
        "Datadog",
        "Monitoring",
        "m",
        (7,),
        6_500,
        30,
        (("Infrastructure monitoring", "5100", 70), ("APM seats - engineering", "6300", 30)),
    ),
    (
        "Dell Technologies",
        "Hardware",
        ("p", 0.45),
        (12,),
        24_000,
        45,
        (("Edge gateway units", "5200", 85), ("Freight and handling", "5200", 15)),
    ),
    ("Arrow Electronics", "Components", ("p", 0.35), (20,), 11_000, 30, (("Sensor modules", "5200", 100),)),
    ("Toptal", "Talent", "2m", (1, 16), 9_500, 15, (("Contract developers - customer delivery", "5300", 100),)),
    (
        "Andela",
        "Engineering Services",
        "m",
        (25,),
        12_000,
        30,
        (("Implementation contractors", "5300", 80), ("Contractor onboarding", "5300", 20)),
    ),
    (
        "Harbor Point Properties LLC",
        "Properties",
        "m",
        (1,),
        24_000,
        5,
        (("Office rent", "6200", 88), ("Common area maintenance", "6200", 12)),
    ),
    ("City Power & Light", "Utilities", "m", (9,), 1_900, 20, (("Electricity", "6200", 100),)),
    (
        "Salesforce",
        "CRM Software",
        "m",
        (2,),
        7_800,
        30,
        (("Sales Cloud licenses", "6300", 75), ("Service Cloud licenses", "6300", 25)),
    ),
    ("Slack Technologies", "Collaboration", "m", (4,), 1_600, 30, (("Slack Business+", "6300", 100),)),
    ("Atlassian", "Dev Tools", "m", (6,), 2_400, 30, (("Jira Software", "6300", 60), ("Confluence", "6300", 40))),
    ("GitHub", "Code Hosting", "m", (8,), 1_300, 30, (("GitHub Enterprise seats", "6300", 100),)),
    ("Zoom Video Communications", "Video", "m", (10,), 700, 30, (("Zoom Business", "6300", 100),)),
    (
        "Google Ads",
        "Advertising",
        "2m",
        (14, 28),
        11_000,
        15,
        (("Search campaigns", "6400", 60), ("Display campaigns", "6400", 25), ("YouTube campaigns", "6400", 15)),
    ),
    ("LinkedIn Marketing Solutions", "Media", "m", (18,), 7_500, 30, (("Sponsored content", "6400", 100),)),
    (
        "HubSpot",
        "Marketing Software",
        "m",
        (11,),
        4_200,
        30,
        (("Marketing Hub Professional", "6400", 80), ("Sales Hub seats", "6300", 20)),
    ),
    (
        "Brightline Events",
        "Events",
        ("p", 0.2),
        (22,),
        18_000,
        30,
        (("Trade show booth", "6400", 70), ("Event sponsorship", "6400", 30)),
    ),
    ("Delta Air Lines", "Travel", ("p", 0.6), (15,), 5_200, 15, (("Airfare", "6500", 100),)),
    (
        "Marriott International",
        "Hotels",
        ("p", 0.5),
        (19,),
        3_600,
        15,
        (("Lodging", "6500", 85), ("Meals", "6500", 15)),
    ),
    (
        "Navan",
        "Travel Management",
        "m",
        (27,),
        4_800,
        30,
        (("Travel bookings", "6500", 80), ("Booking fees", "6500", 20)),
    ),
    (
        "Cooley LLP",
        "Legal LLP",
        ("p", 0.35),
        (21,),
        14_000,
        30,
        (("Legal services - commercial contracts", "6600", 70), ("Legal services - employment", "6600", 30)),
    ),
    (
        "KPMG LLP",
        "Advisory LLP",
        "q",
        (23,),
        22_000,
        30,
        (("Audit services", "6600", 70), ("Tax advisory", "6600", 30)),
    ),
    ("Apple Inc.", "Computers", ("p", 0.3), (13,), 9_800, 30, (("MacBook Pro laptops", EQUIPMENT, 100),)),
    ("Staples Business Advantage", "Office Supply", "m", (16,), 900, 30, (("Office supplies", "6200", 100),)),
    ("American Express", "Card Services", "m", (24,), 0, 20, ()),  # statement: lines drawn from CARD_LINES
)
CARD_LINES = (
    ("Uber - ground transport", "6500", 40, 900),
    ("United Airlines - airfare", "6500", 300, 2400),
    ("Hilton - lodging", "6500", 200, 1800),
    ("DoorDash - team meals", "6500", 60, 700),
    ("Figma - design seats", "6300", 150, 600),
    ("Notion - workspace", "6300", 80, 400),
    ("1Password - business", "6300", 60, 250),
    ("Meta Ads", "6400", 500, 4000),
    ("Canva Pro", "6400", 30, 120),
    ("FedEx - shipping", "6200", 40, 600),
    ("Amazon Business - office supplies", "6200", 50, 900),
    ("WeWork On Demand - meeting rooms", "6200", 100, 800),
    ("Coursera for Teams - training", "6600", 200, 1500),
    ("Twilio - SMS notifications", "5100", 300, 2500),
    ("Cloudflare - CDN", "5100", 200, 900),
    ("Starbucks - client meetings", "6500", 20, 150),
)
HOSTING_TEMPLATES = (0, 1)  # vendor credits come from cloud providers

STAGE_PROBABILITY = {
    "prospecting": 10,
    "qualification": 25,
    "proposal": 50,
    "negotiation": 75,
    "closed_won": 100,
    "closed_lost": 0,
}
OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")


# ----------------------------------------------------------------------------------------------------
# Small helpers (dates are proleptic ordinals; money is integer cents)
# ----------------------------------------------------------------------------------------------------
def _money(cents: int) -> str:
    if cents < 0:
        cents = -cents
        return f"-{cents // 100}.{cents % 100:02d}"
    return f"{cents // 100}.{cents % 100:02d}"


def _ord(y: int, m: int, d: int) -> int:
    return date(y, m, min(d, monthrange(y, m)[1])).toordinal()


def _weekday(o: int) -> int:
    return (o - 1) % 7  # ordinal 1 (0001-01-01) is a Monday


def _roll(o: int) -> int:
    """The first business day (Mon-Fri) on or after ``o``."""
    while _weekday(o) >= 5:
        o += 1
    return o


def _last_business_day(y: int, m: int) -> int:
    o = _ord(y, m, 31)
    while _weekday(o) >= 5:
        o -= 1
    return o


def _id_width(base: int, per_scale: int, scale: int) -> int:
    """Zero-padding wide enough that ids sort as text (upper bound on the count)."""
    return max(base, len(str(per_scale * scale)))


class _Customer:
    __slots__ = (
        "idx",
        "id",
        "name",
        "segment",
        "bday",
        "profile",
        "method",
        "batch",
        "dead_from",
        "contracts",
        "held",
        "last_lines",
        "has_invoice",
        "_start",
    )


class _Contract:
    __slots__ = ("start", "bills", "regular", "hardware", "services", "amount", "close", "end")


class _Generator:
    def __init__(
        self, out_dir: Path, as_of: date, seed: int, scale: int, currency: str = CURRENCY, name: str = COMPANY_NAME
    ) -> None:
        self.currency, self.name = currency, name  # a group's demo entities differ (issue 22)
        if scale < 1:
            raise ValueError("scale must be >= 1")
        self.out = Path(out_dir)
        self.as_of = as_of
        self.A = as_of.toordinal()
        self.seed = seed
        self.scale = scale
        self.rng = random.Random(seed)
        y, m = add_months(as_of.year, as_of.month, -24)
        self.p0 = (y, m)
        self.first_period = f"{y:04d}-{m:02d}"
        self.D0 = date(y, m, 1).toordinal() - 1  # opening entry date: the day before first_period
        # months of the data: index 0 = first_period ... 24 = the open (as_of) month
        self.months = [add_months(y, m, k) for k in range(25)]
        self.month_ends = {_ord(yy, mm, 31) for yy, mm in self.months} | {self.D0}

        self.sched: dict[int, list] = {}
        self.bank_sched: dict[int, list] = {}
        self._dates: dict[int, str] = {}

        self.w_entry = _id_width(6, 12_000, scale)
        self.w_txn = _id_width(6, 8_000, scale)
        self.w_inv = _id_width(5, 4_000, scale)
        self.w_bill = _id_width(5, 2_000, scale)
        self.w_pay = _id_width(5, 6_000, scale)
        self.n_entry = self.n_txn = self.n_inv = self.n_cn = self.n_bill = self.n_vcn = self.n_pay = 0
        self.n_journal_lines = 0
        # actual P&L per (period, account) in cents, debit-positive, for the budget written at the end
        self.pl_types = {a: t for a, _, t, _, _ in ACCOUNTS if t in ("revenue", "expense")}
        self.pl: dict[tuple[str, str], int] = {}

        # documents: [id, party_id, party_name, issue, due, total, applied, status, doc_type, voided]
        self.invoices: list[list] = []
        self.bills: list[list] = []
        self.payments: list[tuple] = []
        self.balances: list[list[tuple]] = [[] for _ in BANK_ACCOUNTS]
        self.bank_running = [0 for _ in BANK_ACCOUNTS]
        self.equipment = 0
        self.active: list[_Customer] = []  # customers with at least one invoice, in order of the first

    # ------------------------------------------------------------------------------------------------
    def ds(self, o: int) -> str:
        s = self._dates.get(o)
        if s is None:
            s = self._dates[o] = date.fromordinal(o).isoformat()
        return s

    def at(self, o: int, *event) -> None:
        """Schedule an event (a bound method and its arguments) for day ``o`` if it is not after as_of."""
        if o > self.A:
            return
        assert o >= self.today, "events are scheduled forward only"
        self.sched.setdefault(o, []).append(event)

    def post(self, o: int, lines, *, lag: int = 0, bank: bool = True, bdesc: str | None = None) -> str:
        """Write one journal entry; lines = (account, signed cents debit-positive, description,
        customer_id, vendor_id, document_id). Every cash line gets its bank line ``lag`` days later
        (rolled to a business day) unless ``bank`` is false."""
        self.n_entry += 1
        eid = f"JE-{self.n_entry:0{self.w_entry}d}"
        d = self.ds(o)
        rows = self.jrows
        total = 0
        line_no = 0
        for acct, c, desc, cust, vend, doc in lines:
            assert c != 0
            line_no += 1
            total += c
            if acct in self.pl_types:
                key = (d[:7], acct)
                self.pl[key] = self.pl.get(key, 0) + c
            if c > 0:
                rows.append((eid, line_no, d, acct, _money(c), "0.00", self.currency, "", desc, cust, vend, doc))
            else:
                rows.append((eid, line_no, d, acct, "0.00", _money(-c), self.currency, "", desc, cust, vend, doc))
            if bank:
                b = CASH_TO_BANK.get(acct)
                if b is not None:
                    bo = _roll(o + lag)
                    if bo <= self.A:
                        self.bank_sched.setdefault(bo, []).append((b, c, bdesc or desc, doc or eid))
        assert total == 0, f"unbalanced entry {eid}"
        self.n_journal_lines += line_no
        return eid

    # ------------------------------------------------------------------------------------------------
    # Plan
    # ------------------------------------------------------------------------------------------------
    def _names(self, n: int) -> list[str]:
        pool = [f"{a} {b} {c}" for a in NAME_FIRST for b in NAME_SECOND for c in NAME_SUFFIX]
        self.rng.shuffle(pool)
        if n <= len(pool):
            return pool[:n]
        return [pool[i % len(pool)] + ("" if i < len(pool) else f" {i // len(pool) + 1}") for i in range(n)]

    def _pick_segment(self):
        r = self.rng.randrange(100)
        for seg in SEGMENTS:
            if r < seg[1]:
                return seg
            r -= seg[1]
        return SEGMENTS[-1]

    def _contract_lines(self, seg):
        rng = self.rng
        _, _, (plo, phi), (mlo, mhi), (slo, shi), (vlo, vhi), (hlo, hhi) = seg
        k = rng.randint(mlo, mhi)
        modules = [MODULES[0]] + rng.sample(MODULES[1:], k - 1)
        regular = [(REV_SUB, rng.randint(plo // 5, phi // 5) * 500, f"{mod} subscription") for mod in modules]
        if rng.random() < 0.7:
            seats = rng.randint(slo, shi)
            regular.append((REV_SUB, seats * rng.randint(12, 45) * 100, f"Additional user seats ({seats})"))
        if rng.random() < 0.5:
            base = sum(c for _, c, _ in regular)
            regular.append((REV_SUPPORT, base * 15 // 100, "Premium support"))
        hardware = []
        if rng.random() < 0.2:
            units = rng.randint(hlo, hhi)
            hardware = [
                (REV_HARDWARE, units * rng.randint(180, 450) * 100, f"Edge gateway devices ({units} units)"),
                (REV_HARDWARE, rng.randint(5, 30) * 10_000, "Device provisioning"),
            ]
        services = []
        if rng.random() < 0.55:
            total = rng.randint(vlo, vhi) * 10_000
            first = total // 2
            a = first * 70 // 100
            b = (total - first) * 80 // 100
            services = [
                [(REV_SERVICES, a, "Implementation services - kickoff"), (REV_SERVICES, first - a, "Data migration")],
                [
                    (REV_SERVICES, b, "Implementation services - go-live"),
                    (REV_SERVICES, total - first - b, "Administrator training"),
                ],
            ]
        return regular, hardware, services

    def _make_contract(self, start_ym, bday, regular, hardware, services, close) -> _Contract:
        c = _Contract()
        y, m = start_ym
        c.bills = [_ord(*add_months(y, m, k), bday) for k in range(12)]
        c.start = c.bills[0]
        c.end = _ord(*add_months(y, m, 12), bday)
        c.regular, c.hardware, c.services = regular, hardware, services
        c.amount = (
            12 * sum(x for _, x, _ in regular)
            + sum(x for _, x, _ in hardware)
            + sum(x for ms in services for _, x, _ in ms)
        )
        c.close = close
        return c

    def _opp(self, close, cust, stage, amount, updated):
        self.opps.append(
            (
                close,
                cust.id if cust else None,
                cust.name if cust else None,
                stage,
                amount,
                self.rng.choice(OWNERS),
                min(updated, self.A),
            )
        )

    def _plan_customers(self) -> None:
        rng, A = self.rng, self.A
        n = 60 * self.scale
        names = self._names(int(n * 2.3) + 10)
        self.prospect_names = names[n:]
        n_existing = round(n * 0.7)
        starts = []
        for i in range(n):
            if i < n_existing:
                mi = rng.randint(-11, -1)
            else:
                mi = max(rng.randint(0, 23), rng.randint(0, 23))  # acquisitions accelerate
            starts.append((mi, rng.randint(1, 28)))
        starts.sort()
        width = _id_width(4, 60, self.scale)
        custs = []
        for i, (mi, bday) in enumerate(starts):
            c = _Customer()
            c.idx = i
            c.id = f"C{i + 1:0{width}d}"
            c.name = names[i]
            c.segment = self._pick_segment()
            c.bday = bday
            r = rng.randrange(100)
            for lo, hi, wgt in PAY_PROFILES:
                if r < wgt:
                    c.profile = (lo, hi)
                    break
                r -= wgt
            c.method = rng.choice(RECEIPT_METHODS)
            c.batch = False
            c.dead_from = None
            c.contracts = []
            c.held = None
            c.last_lines = None
            c.has_invoice = False
            c._start = (mi, bday)
            custs.append(c)
        existing = [c for c in custs[:n_existing] if c.segment[0] != "Enterprise"]
        for c in rng.sample(existing, max(2, round(n * 0.03))):  # small customers who stop paying
            c.dead_from = A - rng.randint(150, 270)
        others = [c for c in custs if c.dead_from is None]
        for c in rng.sample(others, max(2, round(n * 0.05))):
            c.batch = True
        self.custs = custs

        # contracts and the CRM deals behind them
        for c in custs:
            mi, bday = c._start
            ym = add_months(*self.p0, mi)
            regular, hardware, services = self._contract_lines(c.segment)
            start = _ord(*ym, bday)
            close = start - rng.randint(3, 28)
            con = self._make_contract(ym, bday, regular, hardware, services, close)
            self._opp(close, c, "closed_won", con.amount, close + rng.randint(0, 3))
            c.contracts.append(con)
            while True:
                last = c.contracts[-1]
                close = last.end - rng.randint(5, 25)
                uplift = rng.randint(0, 7)
                regular = [(a, x * (100 + uplift) // 100, d) for a, x, d in last.regular]
                end_date = date.fromordinal(last.end)
                ym = (end_date.year, end_date.month)
                nxt = self._make_contract(ym, c.bday, regular, [], [], close)
                if c.dead_from is not None and last.end >= c.dead_from + 60:
                    # stops paying at dead_from, is suspended 95 days later (no more invoices): lost
                    close = min(close, c.dead_from + 95 + rng.randint(0, 10))
                    self._opp(close, c, "closed_lost", nxt.amount, close + rng.randint(0, 5))
                    break
                if close > A:
                    if close <= A + 120:
                        stage = "negotiation" if close <= A + 30 else "proposal"
                        self._opp(close, c, stage, nxt.amount, A - rng.randint(0, 20))
                    break
                if c.dead_from is None and rng.random() < 0.08:  # churn
                    self._opp(close, c, "closed_lost", nxt.amount, close + rng.randint(0, 5))
                    break
                self._opp(close, c, "closed_won", nxt.amount, close + rng.randint(0, 3))
                c.contracts.append(nxt)
            del c._start

        # the first invoicing event of every customer (the following ones chain at run time)
        for c in custs:
            for k, con in enumerate(c.contracts):
                for m, o in enumerate(con.bills):
                    if o > self.D0:
                        self.at(o, self.ev_subscription, c, k, m)
                        break
                else:
                    continue
                break
            for k, con in enumerate(c.contracts):
                if con.services and con.start > self.D0:
                    self.at(con.start + rng.randint(0, 5), self.ev_services, c, k, 0)
                    self.at(con.start + rng.randint(35, 60), self.ev_services, c, k, 1)

    def _plan_prospects(self) -> None:
        rng, A = self.rng, self.A
        n = len(self.custs)
        names = iter(self.prospect_names)

        def amount():
            seg = self._pick_segment()
            return {
                "SMB": rng.randint(60, 300),
                "Mid-Market": rng.randint(300, 1200),
                "Enterprise": rng.randint(1200, 4000),
            }[seg[0]] * 10_000

        for _ in range(round(n * 0.35)):  # lost new business
            close = rng.randint(self.D0 - 60, A - 1)
            self.opps.append(
                (
                    close,
                    None,
                    next(names),
                    "closed_lost",
                    amount(),
                    rng.choice(OWNERS),
                    min(A, close + rng.randint(0, 5)),
                )
            )
        active = [
            c for c in self.custs if c.dead_from is None and c.contracts[-1].end > A and c.contracts[-1].start <= A
        ]
        expansions = rng.sample(active, min(len(active), round(n * 0.12)))
        for c in expansions:
            close = A + rng.randint(10, 150)
            stage = rng.choice(("qualification", "proposal", "negotiation"))
            self._opp(
                close,
                c,
                stage,
                c.contracts[-1].amount * rng.randint(10, 40) // 100 // 100 * 100,
                A - rng.randint(0, 40),
            )
        for _ in range(round(n * 0.45)):  # open new business
            close = A + rng.randint(5, 180)
            stage = rng.choice(OPEN_STAGES)
            self.opps.append((close, None, next(names), stage, amount(), rng.choice(OWNERS), A - rng.randint(0, 45)))

    def _plan_vendors(self) -> None:
        rng = self.rng
        n = len(VENDORS) * self.scale
        width = _id_width(3, len(VENDORS), self.scale)
        clone_names = [f"{a} {t[1]}" for t in VENDORS for a in NAME_FIRST]
        rng.shuffle(clone_names)
        self.vendors = []
        for i in range(n):
            t = i % len(VENDORS)
            tpl = VENDORS[t]
            if i < len(VENDORS):
                name, shift = tpl[0], 0
            else:
                name = clone_names[(i - len(VENDORS)) % len(clone_names)]
                name = name if i - len(VENDORS) < len(clone_names) else f"{name} {i}"
                shift = rng.randint(-3, 3)
            self.vendors.append((f"V{i + 1:0{width}d}", name, tpl))
            cadence, days = tpl[2], tpl[3]
            for mi, (y, m) in enumerate(self.months):
                if cadence == "q" and m not in (1, 4, 7, 10):
                    continue
                if isinstance(cadence, tuple) and rng.random() >= cadence[1]:
                    continue
                for d in days:
                    o = _ord(y, m, min(28, max(1, d + shift)))
                    if self.D0 < o:
                        self.at(o, self.ev_bill, i, mi)

    def _plan_company(self) -> None:
        rng, A, s = self.rng, self.A, self.scale
        y0, m0 = self.p0
        # opening position, the day before first_period
        cash_op, cash_pay = 5_200_000_00 * s, 250_000_00 * s
        equip, accum = 180_000_00 * s, 60_000_00 * s
        capital = 9_000_000_00 * s
        deficit = capital - cash_op - cash_pay - equip + accum
        self.equipment = equip
        self.at(
            self.D0,
            self.ev_opening,
            [
                (CASH_OPERATING, cash_op, "Opening balance - operating account", None, None, None),
                (CASH_PAYROLL, cash_pay, "Opening balance - payroll account", None, None, None),
                (EQUIPMENT, equip, "Opening balance - computer equipment", None, None, None),
                (ACCUM_DEP, -accum, "Opening balance - accumulated depreciation", None, None, None),
                (RETAINED, deficit, "Opening balance - accumulated deficit", None, None, None),
                (SHARE_CAPITAL, -capital, "Opening balance - share capital (seed and Series A)", None, None, None),
            ],
        )

        # payroll: semi-monthly (the 15th and the last business day; a 15th on a weekend is paid the
        # business day before), funded by a transfer from the operating account two business days
        # before; withholdings and employer taxes are accrued and remitted three business days later
        for mi, (y, m) in enumerate(self.months):
            period = f"{y:04d}-{m:02d}"
            mid = _ord(y, m, 15)
            while _weekday(mid) >= 5:
                mid -= 1
            for run, payday in ((f"{period} (1-15)", mid), (f"{period} (16-end)", _last_business_day(y, m))):
                gross_lines = []
                for dept, base in DEPARTMENTS:
                    g = base * s // 2 * (1000 + 15 * mi) // 1000 * rng.randint(980, 1020) // 1000
                    gross_lines.append((dept, g, g * 11 // 100))
                gross = sum(g for _, g, _ in gross_lines)
                withheld = gross * 24 // 100
                net = gross - withheld
                accrued = withheld + sum(e for _, _, e in gross_lines)
                transfer = -(-(net + accrued) // 1_000_000) * 1_000_000
                t_day = payday - 2
                while _weekday(t_day) >= 5:
                    t_day -= 1
                self.at(t_day, self.ev_transfer, transfer, run)
                self.at(payday, self.ev_payroll, gross_lines, net, accrued, run)
                remit = payday + 3
                while _weekday(remit) >= 5:
                    remit += 1
                self.at(remit, self.ev_payroll_taxes, accrued, run)
            ny, nm = add_months(y, m, 1)
            payday = _last_business_day(y, m)
            # month-end depreciation (runs after the month's equipment bills)
            self.at(_ord(y, m, 31), self.ev_depreciation, f"{y:04d}-{m:02d}")
            # bank fees: charged on the last business day, booked the same day or on the 1st-3rd
            if payday <= A:
                for b, (bank_id, _, gl) in enumerate(BANK_ACCOUNTS):
                    fee = (rng.randint(4500, 12500) if b == 0 else rng.randint(2500, 4000)) * s
                    ref = f"FEE-{bank_id}-{y:04d}{m:02d}"
                    self.bank_sched.setdefault(payday, []).append((b, -fee, "MONTHLY SERVICE FEE", ref))
                    if rng.random() < 0.7:
                        book = payday
                    else:
                        first = _ord(ny, nm, 1)
                        book = rng.choice([o for o in (first, first + 1, first + 2) if o - payday <= 5])
                    self.at(book, self.ev_fee, gl, fee, ref, f"{y:04d}-{m:02d}")

        # term loan drawn in month 7, repaid monthly over 36 months (9 % a year)
        principal_total = 1_500_000_00 * s
        y, m = self.months[7]
        self.at(_roll(_ord(y, m, 15)), self.ev_loan_draw, principal_total)
        balance = principal_total
        installment = principal_total // 36
        for mi in range(8, 25):
            y, m = self.months[mi]
            interest = (balance * 9 + 600) // 1200
            self.at(_roll(_ord(y, m, 15)), self.ev_loan_payment, installment, interest, f"{y:04d}-{m:02d}")
            balance -= installment
        # an equity top-up in month 15
        y, m = self.months[15]
        self.at(_roll(_ord(y, m, 10)), self.ev_equity, 3_000_000_00 * s)

    def _plan_exceptions(self) -> None:
        """Duplicate invoices voided later, draft invoices, a vendor credit, a voided bill."""
        rng, A, s = self.rng, self.A, self.scale
        lo = self.D0 + 60
        for _ in range(2 * s):
            self.at(rng.randint(lo, A - 10), self.ev_duplicate_invoice)
        for _ in range(2 * s):
            self.at(rng.randint(A - 6, A), self.ev_draft_invoice)
        for _ in range(s):
            self.at(rng.randint(lo, A - 40), self.ev_vendor_credit)
            self.at(rng.randint(lo, A - 20), self.ev_duplicate_bill)

    # ------------------------------------------------------------------------------------------------
    # Events
    # ------------------------------------------------------------------------------------------------
    def ev_opening(self, o, lines):
        self.post(o, lines, bdesc="OPENING BALANCE")

    def _issue_invoice(self, o, c: _Customer, lines, *, status="open") -> int:
        self.n_inv += 1
        inv_id = f"INV-{self.n_inv:0{self.w_inv}d}"
        total = sum(x for _, x, _ in lines)
        idx = len(self.invoices)
        self.invoices.append([inv_id, c.id, c.name, self.ds(o), self.ds(o + 30), total, 0, status, "invoice", None])
        if status != "draft":
            entry = [(AR, total, f"Invoice {inv_id} - {c.name}", c.id, None, inv_id)]
            entry += [(a, -x, d, c.id, None, inv_id) for a, x, d in lines]
            self.post(o, entry)
            if not c.has_invoice:
                c.has_invoice = True
                self.active.append(c)
            c.last_lines = lines
        return idx

    def _plan_receipt(self, o, c: _Customer, idx: int, *, has_next: bool, allow_batch: bool) -> None:
        if c.dead_from is not None and o >= c.dead_from:
            return
        lo, hi = c.profile
        pay = _roll(max(o + 1, o + 30 + self.rng.randint(lo, hi)))
        if allow_batch and c.batch:
            if c.held is None and has_next:
                c.held = idx
                return
            if c.held is not None:
                ids = (c.held, idx)
                c.held = None
                self.at(pay, self.ev_receipt, c, ids)
                return
        self.at(pay, self.ev_receipt, c, (idx,))

    def ev_subscription(self, o, c: _Customer, k: int, m: int):
        if c.dead_from is not None and o > c.dead_from + 95:
            return  # suspended for non-payment
        con = c.contracts[k]
        lines = con.regular + con.hardware if m == 0 else con.regular
        idx = self._issue_invoice(o, c, lines)
        # the next invoice
        if m < 11:
            nxt = (con.bills[m + 1], k, m + 1)
        elif k + 1 < len(c.contracts):
            nxt = (c.contracts[k + 1].bills[0], k + 1, 0)
        else:
            nxt = None
        if nxt is not None:
            self.at(nxt[0], self.ev_subscription, c, nxt[1], nxt[2])
        self._plan_receipt(o, c, idx, has_next=nxt is not None and nxt[0] <= self.A, allow_batch=True)
        if c.dead_from is None and self.rng.random() < 0.02:
            self.at(o + self.rng.randint(3, 20), self.ev_credit_note, c, idx, con.regular[0][1])

    def ev_services(self, o, c: _Customer, k: int, milestone: int):
        idx = self._issue_invoice(o, c, c.contracts[k].services[milestone])
        self._plan_receipt(o, c, idx, has_next=False, allow_batch=False)

    def ev_credit_note(self, o, c: _Customer, idx: int, base: int):
        amount = max(100, base * self.rng.randint(10, 50) // 100 // 100 * 100)
        self.n_cn += 1
        cn_id = f"CN-{self.n_cn:0{self.w_bill}d}"
        ref = self.invoices[idx][0]
        self.invoices.append(
            [cn_id, c.id, c.name, self.ds(o), self.ds(o + 30), -amount, 0, "open", "credit_note", None]
        )
        self.post(
            o,
            [
                (REV_SUB, amount, f"Service credit on {ref}", c.id, None, cn_id),
                (AR, -amount, f"Credit note {cn_id} - {c.name}", c.id, None, cn_id),
            ],
        )

    def ev_receipt(self, o, c: _Customer, ids: tuple[int, ...]):
        rng = self.rng
        self.n_pay += 1
        pay_id = f"PAY-{self.n_pay:0{self.w_pay}d}"
        d = self.ds(o)
        docs = [self.invoices[i] for i in ids]
        total = sum(doc[5] - doc[6] for doc in docs)
        short = 0
        if len(ids) == 1 and rng.random() < 0.012 and total > 10_000:
            short = rng.randint(500, 4000)  # customer deducted fees: written off
        doc_of_cash = docs[0][0] if len(ids) == 1 else None
        lines = [(CASH_OPERATING, total - short, f"Receipt {pay_id} - {c.name}", c.id, None, doc_of_cash)]
        if short:
            lines.append((BAD_DEBT, short, f"Short payment written off on {docs[0][0]}", c.id, None, docs[0][0]))
        line_no = 0
        for doc in docs:
            open_amount = doc[5] - doc[6]
            lines.append((AR, -open_amount, f"Payment {pay_id} on {doc[0]}", c.id, None, doc[0]))
            paid = open_amount - short
            line_no += 1
            self.payments.append((pay_id, line_no, doc[0], d, _money(paid), self.currency, "payment"))
            if short:
                line_no += 1
                self.payments.append((pay_id, line_no, doc[0], d, _money(short), self.currency, "write_off"))
            doc[6] += open_amount
        self.post(o, lines, lag=rng.randint(0, 2), bdesc=f"{c.method} {c.name.upper()}")

    def ev_duplicate_invoice(self, o):
        candidates = [c for c in self.active if c.dead_from is None]
        if not candidates:
            return
        c = self.rng.choice(candidates)
        idx = self._issue_invoice(o, c, c.last_lines)
        self.at(o + self.rng.randint(1, 7), self.ev_void_invoice, c, idx, c.last_lines)

    def ev_void_invoice(self, o, c: _Customer, idx: int, lines):
        doc = self.invoices[idx]
        doc[7], doc[9] = "void", self.ds(o)
        entry = [(AR, -doc[5], f"Void invoice {doc[0]} (issued in error)", c.id, None, doc[0])]
        entry += [(a, x, f"Void {doc[0]}: {d}", c.id, None, doc[0]) for a, x, d in lines]
        self.post(o, entry)

    def ev_draft_invoice(self, o):
        candidates = [c for c in self.active if c.dead_from is None]
        if candidates:
            c = self.rng.choice(candidates)
            self._issue_invoice(o, c, c.last_lines, status="draft")

    def _bill_lines(self, tpl, mi: int):
        rng = self.rng
        if tpl[1] == "Card Services":
            return [
                (acct, rng.randint(lo, hi) * 100 + rng.randint(0, 99), desc)
                for desc, acct, lo, hi in rng.sample(CARD_LINES, rng.randint(9, 15))
            ]
        base = tpl[4] * 100 * (1000 + 12 * mi) // 1000
        if tpl[1] == "Properties":  # rent: fixed, +3 % after a year
            total = tpl[4] * 100 * (103 if mi >= 12 else 100) // 100
        else:
            total = base * rng.randint(85, 115) // 100
        lines, left = [], total
        for j, (desc, acct, share) in enumerate(tpl[6]):
            x = left if j == len(tpl[6]) - 1 else total * share // 100
            left -= x
            lines.append((acct, x, desc))
        return lines

    def _issue_bill(self, o, vi: int, lines, *, terms: int, status="open") -> int:
        vid, vname, _ = self.vendors[vi]
        self.n_bill += 1
        bill_id = f"BILL-{self.n_bill:0{self.w_bill}d}"
        total = sum(x for _, x, _ in lines)
        idx = len(self.bills)
        self.bills.append([bill_id, vid, vname, self.ds(o), self.ds(o + terms), total, 0, status, "invoice", None])
        entry = [(a, x, d, None, vid, bill_id) for a, x, d in lines]
        entry.append((AP, -total, f"Bill {bill_id} - {vname}", None, vid, bill_id))
        self.post(o, entry)
        for a, x, _ in lines:
            if a == EQUIPMENT:
                self.equipment += x
        return idx

    def ev_bill(self, o, vi: int, mi: int):
        tpl = self.vendors[vi][2]
        lines = self._bill_lines(tpl, mi)
        idx = self._issue_bill(o, vi, lines, terms=tpl[5])
        self.last_bill = (vi, lines, tpl[5])
        if self.rng.random() < 0.015:
            return  # disputed: never paid
        pay = _roll(max(o + 1, o + tpl[5] + self.rng.randint(-6, 5)))
        self.at(pay, self.ev_bill_payment, idx)

    def ev_bill_payment(self, o, idx: int):
        doc = self.bills[idx]
        self.n_pay += 1
        pay_id = f"PAY-{self.n_pay:0{self.w_pay}d}"
        amount = doc[5] - doc[6]
        doc[6] += amount
        self.payments.append((pay_id, 1, doc[0], self.ds(o), _money(amount), self.currency, "payment"))
        self.post(
            o,
            [
                (AP, amount, f"Payment {pay_id} on {doc[0]}", None, doc[1], doc[0]),
                (CASH_OPERATING, -amount, f"Payment {pay_id} - {doc[2]}", None, doc[1], doc[0]),
            ],
            lag=self.rng.randint(1, 3),
            bdesc=f"ACH DEBIT {doc[2].upper()}",
        )

    def ev_vendor_credit(self, o):
        rng = self.rng
        choices = [i for i, v in enumerate(self.vendors) if VENDORS.index(v[2]) in HOSTING_TEMPLATES]
        vi = rng.choice(choices)
        vid, vname, _ = self.vendors[vi]
        amount = rng.randint(5, 40) * 10_000
        self.n_vcn += 1
        vcn_id = f"VCN-{self.n_vcn:0{self.w_bill}d}"
        self.bills.append([vcn_id, vid, vname, self.ds(o), self.ds(o + 30), -amount, 0, "open", "credit_note", None])
        self.post(
            o,
            [
                (AP, amount, f"Vendor credit {vcn_id} - {vname}", None, vid, vcn_id),
                ("5100", -amount, "Service level credit", None, vid, vcn_id),
            ],
        )

    def ev_duplicate_bill(self, o):
        if getattr(self, "last_bill", None) is None:
            return
        vi, lines, terms = self.last_bill
        idx = self._issue_bill(o, vi, lines, terms=terms)
        self.at(o + self.rng.randint(2, 10), self.ev_void_bill, idx, lines)

    def ev_void_bill(self, o, idx: int, lines):
        doc = self.bills[idx]
        doc[7], doc[9] = "void", self.ds(o)
        entry = [(a, -x, f"Void {doc[0]}: {d}", None, doc[1], doc[0]) for a, x, d in lines]
        entry.append((AP, doc[5], f"Void bill {doc[0]} (entered twice)", None, doc[1], doc[0]))
        self.post(o, entry)
        for a, x, _ in lines:
            if a == EQUIPMENT:
                self.equipment -= x

    def ev_transfer(self, o, amount: int, run: str):
        self.post(
            o,
            [
                (CASH_PAYROLL, amount, f"Transfer from operating account - payroll {run}", None, None, None),
                (CASH_OPERATING, -amount, f"Transfer to payroll account - payroll {run}", None, None, None),
            ],
            bdesc="BOOK TRANSFER OPERATING ••4821 TO PAYROLL ••7730",
        )

    def ev_payroll(self, o, gross_lines, net: int, accrued: int, run: str):
        lines = [(SALARIES, g, f"Salaries {run} - {dept}", None, None, None) for dept, g, _ in gross_lines]
        lines += [
            (PAYROLL_TAXES, e, f"Employer taxes and benefits {run} - {dept}", None, None, None)
            for dept, _, e in gross_lines
        ]
        lines.append((CASH_PAYROLL, -net, f"Net pay {run}", None, None, None))
        lines.append((ACCRUED, -accrued, f"Payroll withholdings and employer taxes {run}", None, None, None))
        self.post(o, lines, bdesc="PAYROLL DIRECT DEPOSIT")

    def ev_payroll_taxes(self, o, accrued: int, run: str):
        self.post(
            o,
            [
                (ACCRUED, accrued, f"Payroll tax remittance {run}", None, None, None),
                (CASH_PAYROLL, -accrued, f"Payroll tax remittance {run}", None, None, None),
            ],
            lag=self.rng.randint(0, 1),
            bdesc="IRS EFTPS TAX PAYMENT",
        )

    def ev_depreciation(self, o, period: str):
        amount = self.equipment // 36
        self.post(
            o,
            [
                (DEPRECIATION, amount, f"Depreciation {period}", None, None, None),
                (ACCUM_DEP, -amount, f"Depreciation {period}", None, None, None),
            ],
        )

    def ev_fee(self, o, gl: str, fee: int, ref: str, period: str):
        self.post(
            o,
            [
                (BANK_FEES, fee, f"Bank service fee {period}", None, None, ref),
                (gl, -fee, f"Bank service fee {period}", None, None, ref),
            ],
            bank=False,
        )

    def ev_loan_draw(self, o, amount: int):
        self.post(
            o,
            [
                (CASH_OPERATING, amount, "Term loan drawdown - Harborline Bank", None, None, None),
                (LOAN, -amount, "Term loan drawdown - Harborline Bank", None, None, None),
            ],
            bdesc="LOAN PROCEEDS HARBORLINE BANK",
        )

    def ev_loan_payment(self, o, principal: int, interest: int, period: str):
        self.post(
            o,
            [
                (LOAN, principal, f"Term loan principal {period}", None, None, None),
                (INTEREST, interest, f"Term loan interest {period}", None, None, None),
                (CASH_OPERATING, -(principal + interest), f"Term loan installment {period}", None, None, None),
            ],
            bdesc="LOAN PAYMENT HARBORLINE BANK",
        )

    def ev_equity(self, o, amount: int):
        self.post(
            o,
            [
                (CASH_OPERATING, amount, "Series A extension - Foundry Ventures", None, None, None),
                (SHARE_CAPITAL, -amount, "Series A extension - Foundry Ventures", None, None, None),
            ],
            bdesc="INCOMING WIRE FOUNDRY VENTURES",
        )

    # ------------------------------------------------------------------------------------------------
    # Run
    # ------------------------------------------------------------------------------------------------
    def run(self) -> dict:
        self.today = self.D0
        self.opps: list[tuple] = []
        self._plan_company()
        self._plan_customers()
        self._plan_prospects()
        self._plan_vendors()
        self._plan_exceptions()

        out = self.out
        for sub in ("erp", "bank", "crm"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}

        bank_ids = [b[0] for b in BANK_ACCOUNTS]
        with (
            open(out / "erp" / "journal_lines.csv", "w", newline="", encoding="utf-8") as jf,
            open(out / "bank" / "transactions.csv", "w", newline="", encoding="utf-8") as bf,
        ):
            jw = csv.writer(jf, lineterminator="\n")
            bw = csv.writer(bf, lineterminator="\n")
            jw.writerow(JOURNAL_COLUMNS)
            bw.writerow(BANK_TRANSACTION_COLUMNS)
            self.jrows = []
            for o in range(self.D0, self.A + 1):
                self.today = o
                while True:
                    events = self.sched.pop(o, None)
                    if not events:
                        break
                    for event in events:
                        event[0](o, *event[1:])
                jw.writerows(self.jrows)
                self.jrows.clear()
                lines = self.bank_sched.pop(o, None)
                if lines:
                    d = self.ds(o)
                    rows = []
                    running = self.bank_running
                    for b, c, desc, ref in lines:
                        self.n_txn += 1
                        running[b] += c
                        rows.append((f"TXN-{self.n_txn:0{self.w_txn}d}", bank_ids[b], d, _money(c), desc, ref))
                    bw.writerows(rows)
                if o in self.month_ends or o == self.A:
                    for b in range(len(BANK_ACCOUNTS)):
                        self.balances[b].append((bank_ids[b], self.ds(o), _money(self.bank_running[b])))
            assert not self.sched and not self.bank_sched
        counts["erp/journal_lines.csv"] = self.n_journal_lines
        counts["bank/transactions.csv"] = self.n_txn

        def write(rel, header, rows):
            with open(out / rel, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(header)
                n = 0
                for row in rows:
                    w.writerow(row)
                    n += 1
            counts[rel] = n

        write("erp/accounts.csv", ACCOUNT_COLUMNS, ((a, n, t, st, self.currency, p) for a, n, t, st, p in ACCOUNTS))
        write("erp/invoices.csv", INVOICE_COLUMNS, self._document_rows(self.invoices))
        write("erp/bills.csv", BILL_COLUMNS, self._document_rows(self.bills))
        write("erp/payments.csv", PAYMENT_COLUMNS, self.payments)
        write(
            "bank/bank_accounts.csv",
            BANK_ACCOUNT_COLUMNS,
            ((bid, name, self.currency, gl) for bid, name, gl in BANK_ACCOUNTS),
        )
        write("bank/balances.csv", BANK_BALANCE_COLUMNS, (row for rows in self.balances for row in rows))
        write("crm/opportunities.csv", OPPORTUNITY_COLUMNS, self._opportunity_rows())
        write("budget.csv", BUDGET_COLUMNS, self._budget_rows())

        company = {
            "name": self.name,
            "currency": self.currency,
            "fiscal_year_start_month": 1,
            "timezone": "UTC",
            "first_period": self.first_period,
            "as_of": self.as_of.isoformat(),
            "seed": self.seed,
            "scale": self.scale,
        }
        (out / "company.json").write_text(json.dumps(company, indent=2) + "\n", encoding="utf-8")
        return {**company, "counts": counts}

    def _document_rows(self, docs):
        for doc_id, party, name, issue, due, total, applied, status, doc_type, voided in docs:
            balance = total - applied
            if status == "open" and balance == 0:
                status = "paid"
            yield (
                doc_id,
                party,
                name,
                issue,
                due,
                _money(total),
                _money(balance),
                self.currency,
                status,
                doc_type,
                voided,
            )

    def _budget_rows(self):
        """The plan a finance team would have drawn up: per revenue and expense account and month (the
        open month too), the mean of the account's three months before (its first month: the month
        itself), revenue planned 4% up and costs 2% down, each month off by up to ±8% more, rounded to
        whole hundreds of dollars; and per month a net_burn KPI (planned cash costs minus planned
        revenue). Accounts with no postings get no budget line. Its own random stream (from the seed)."""
        rng = random.Random(self.seed ^ BUDGET_SEED_SALT)
        periods = [f"{y:04d}-{m:02d}" for y, m in self.months]
        accounts = sorted({a for _, a in self.pl})
        for k, period in enumerate(periods):
            burn = 0
            for acct in accounts:
                normal = -1 if self.pl_types[acct] == "revenue" else 1
                history = [normal * self.pl.get((p, acct), 0) for p in periods[max(0, k - 3) : k]] or [
                    normal * self.pl.get((period, acct), 0)
                ]
                base = sum(history) // len(history)
                plan = 104 if normal < 0 else 98
                cents = base * (plan * 100 + rng.randint(-800, 800)) // 10_000
                cents = (cents + 5_000) // 10_000 * 10_000  # whole hundreds of dollars
                if cents <= 0:
                    continue
                burn += -cents if normal < 0 else (0 if acct in NON_CASH_EXPENSES else cents)
                yield (period, acct, "", _money(cents), self.currency)
            yield (period, "", "net_burn", _money(burn), self.currency)

    def _opportunity_rows(self):
        width = _id_width(5, 200, self.scale)
        opps = sorted(self.opps, key=lambda x: (x[0], x[2] or "", x[1] or "", x[3], x[4]))
        for i, (close, cid, cname, stage, amount, owner, updated) in enumerate(opps, 1):
            won = stage == "closed_won"
            closed = stage in ("closed_won", "closed_lost")
            yield (
                f"OPP-{i:0{width}d}",
                cid,
                cname,
                stage,
                _money(amount),
                self.currency,
                self.ds(close),
                f"{STAGE_PROBABILITY[stage]}.00",
                owner,
                "true" if won else "false",
                "true" if closed else "false",
                self.ds(updated),
            )


def generate(
    out_dir: Path,
    *,
    as_of: date,
    seed: int = 42,
    scale: int = 1,
    currency: str = CURRENCY,
    name: str = COMPANY_NAME,
) -> dict:
    """Write the demo company under ``out_dir`` and return a summary.

    The data covers ``first_period`` (as_of's month - 24) to ``as_of``: 24 ended months and the open
    month up to and including as_of, after an opening entry dated the day before first_period.
    Volume: 60*scale customers, 26*scale vendors, ~3.5x customers opportunities; scale 1 gives
    ~11.5-13k journal lines (depending on the seed), scale 100 ~1.1M (about 9 s).

    Returns the content of ``company.json`` (name, currency, fiscal_year_start_month, timezone,
    first_period, as_of as ISO text, seed, scale) plus ``counts``: data rows written per file
    (relative path -> rows, header excluded). ``currency`` and ``name``: the company's (every record is in
    that currency), so a group's demo entities differ.
    """
    return _Generator(Path(out_dir), as_of, seed, scale, currency, name).run()
